-- Authority: professionals, role profiles, job roles and the activities
-- they carry, legitimate relationships, and the keys that sign context
-- tokens (src/access_context.c reads them).

DO $roles$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'scr_clinical_gateway') THEN
        CREATE ROLE scr_clinical_gateway NOLOGIN;
    END IF;
END
$roles$;
COMMENT ON ROLE scr_clinical_gateway IS
    'scr: the care professionals'' systems; open a context with a signed token, then read';

CREATE TABLE scr.professional (
    professional_id text PRIMARY KEY CHECK (professional_id ~ '^[A-Za-z0-9_.:-]{1,64}$'),
    name            text NOT NULL CHECK (name <> ''),
    active          boolean NOT NULL DEFAULT true
);
COMMENT ON TABLE scr.professional IS 'Care professionals (e.g. by their national user id)';

-- National RBAC: job roles (R-codes) and activities (B-codes).
CREATE TABLE scr.activity (
    activity    text PRIMARY KEY,
    name        text NOT NULL
);
INSERT INTO scr.activity VALUES
    ('B0264', 'View summary record'),
    ('B0370', 'View detailed record'),
    ('B0168', 'Emergency access (break-glass)'),
    ('B0082', 'Legal override of patient consent'),
    ('B0015', 'Record consent'),
    ('B0380', 'Manage care plans'),
    ('B0011', 'Privacy officer'),
    ('B1001', 'View demographics'),
    ('B1002', 'View social care record');

CREATE TABLE scr.job_role (
    job_role    text PRIMARY KEY,
    name        text NOT NULL
);
INSERT INTO scr.job_role VALUES
    ('R8000', 'Clinical Practitioner Access Role'),
    ('R8001', 'Nurse Access Role'),
    ('R8003', 'Health Professional Access Role'),
    ('R8008', 'Admin/Clinical Support Access Role'),
    ('R8010', 'Receptionist Access Role'),
    ('R8004', 'Social Worker'),
    ('R8015', 'Privacy Officer');

CREATE TABLE scr.job_role_activity (
    job_role    text NOT NULL REFERENCES scr.job_role ON DELETE CASCADE,
    activity    text NOT NULL REFERENCES scr.activity ON DELETE CASCADE,
    PRIMARY KEY (job_role, activity)
);
INSERT INTO scr.job_role_activity VALUES
    ('R8000', 'B0264'), ('R8000', 'B0370'), ('R8000', 'B0168'), ('R8000', 'B0380'), ('R8000', 'B1001'),
    ('R8001', 'B0264'), ('R8001', 'B0370'), ('R8001', 'B0168'), ('R8001', 'B0380'), ('R8001', 'B1001'),
    ('R8003', 'B0264'), ('R8003', 'B0370'), ('R8003', 'B1001'),
    ('R8008', 'B0264'), ('R8008', 'B1001'),
    ('R8010', 'B1001'),
    ('R8004', 'B0264'), ('R8004', 'B1002'), ('R8004', 'B0380'), ('R8004', 'B1001'),
    ('R8015', 'B0011'), ('R8015', 'B1001');

-- What each activity lets its holder read: entry kinds, up to a
-- sensitivity label (N < R < V).
CREATE TABLE scr.activity_access (
    activity        text NOT NULL REFERENCES scr.activity ON DELETE CASCADE,
    kind            text NOT NULL,
    max_sensitivity "char" NOT NULL DEFAULT 'R' CHECK (max_sensitivity IN ('N', 'R', 'V')),
    PRIMARY KEY (activity, kind)
);
INSERT INTO scr.activity_access (activity, kind, max_sensitivity)
SELECT 'B0264', kind, 'N' FROM (VALUES ('problem'), ('medication'), ('allergy'), ('alert'),
                                       ('end_of_life'), ('care_plan')) k(kind)
UNION ALL
SELECT 'B0370', kind, 'R' FROM (VALUES ('encounter'), ('problem'), ('medication'), ('allergy'),
                                       ('observation'), ('procedure'), ('document'), ('alert'),
                                       ('social_care_assessment'), ('end_of_life'),
                                       ('care_plan')) k(kind)
UNION ALL
SELECT 'B1002', kind, 'R' FROM (VALUES ('social_care_assessment'), ('care_plan'), ('alert'),
                                       ('end_of_life')) k(kind);

CREATE TABLE scr.role_profile (
    role_profile_id text PRIMARY KEY CHECK (role_profile_id ~ '^[A-Za-z0-9_.:-]{1,64}$'),
    professional_id text NOT NULL REFERENCES scr.professional,
    ods_code        text NOT NULL REFERENCES scr.organisation,
    job_role        text NOT NULL REFERENCES scr.job_role,
    active          boolean NOT NULL DEFAULT true
);
CREATE INDEX role_profile_professional_idx ON scr.role_profile (professional_id);
COMMENT ON TABLE scr.role_profile IS 'A professional working in one organisation in one job role';

-- Teams within organisations: a care task can be assigned to one, a consent
-- directive can name one.  Configuration.
CREATE TABLE scr.team (
    team_id     text PRIMARY KEY CHECK (team_id ~ '^[A-Za-z0-9_.:-]{1,64}$'),
    ods_code    text NOT NULL REFERENCES scr.organisation,
    name        text NOT NULL CHECK (name <> '')
);
CREATE TABLE scr.team_member (
    team_id         text NOT NULL REFERENCES scr.team ON DELETE CASCADE,
    professional_id text NOT NULL REFERENCES scr.professional ON DELETE CASCADE,
    PRIMARY KEY (team_id, professional_id)
);
COMMENT ON TABLE scr.team IS 'Teams within organisations (a community nursing team, a social care team)';
COMMENT ON TABLE scr.team_member IS 'Which professionals belong to which team';
CREATE INDEX team_member_professional_idx ON scr.team_member (professional_id);

-- A database login that acts as one role profile (psql users, reporting
-- tools): no token needed.
CREATE TABLE scr.login_role_profile (
    role_name       name PRIMARY KEY,
    role_profile_id text NOT NULL REFERENCES scr.role_profile ON DELETE CASCADE
);

-- Legitimate relationships between a professional or an organisation and a
-- patient.
CREATE TABLE scr.relationship (
    patient_id      bigint NOT NULL REFERENCES scr.patient,
    relationship_id bigint GENERATED ALWAYS AS IDENTITY,
    professional_id text REFERENCES scr.professional,
    ods_code        text REFERENCES scr.organisation,
    kind            text NOT NULL CHECK (kind IN ('registration', 'referral', 'admission',
                                                  'self_claimed', 'colleague_granted',
                                                  'patient_consent')),
    valid_from      timestamptz NOT NULL DEFAULT statement_timestamp(),
    valid_to        timestamptz,
    created_by      name NOT NULL DEFAULT current_user,
    PRIMARY KEY (patient_id, relationship_id),
    CHECK (num_nonnulls(professional_id, ods_code) = 1),
    CHECK (valid_to IS NULL OR valid_to > valid_from)
);
CREATE INDEX relationship_professional_idx ON scr.relationship (professional_id, patient_id)
    WHERE professional_id IS NOT NULL;
CREATE INDEX relationship_organisation_idx ON scr.relationship (ods_code, patient_id)
    WHERE ods_code IS NOT NULL;
COMMENT ON TABLE scr.relationship IS 'Legitimate relationships: who may see a patient''s record, why and when';

-- Keys that sign context tokens.  Readable by no role but the owner: the
-- SECURITY DEFINER context functions read them.
CREATE TABLE scr.context_key (
    key_id      text PRIMARY KEY CHECK (key_id ~ '^[A-Za-z0-9_-]{1,32}$'),
    secret      bytea NOT NULL CHECK (length(secret) >= 32),
    active      boolean NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL DEFAULT statement_timestamp()
);
COMMENT ON TABLE scr.context_key IS 'HMAC-SHA256 keys of the trusted calling systems; two may be active while one is rotated';

-- Nonces of accepted tokens, kept until the token expires: a token is
-- accepted once.
CREATE TABLE scr.context_nonce (
    nonce       text PRIMARY KEY,
    expires_at  timestamptz NOT NULL
);

REVOKE ALL ON scr.professional, scr.activity, scr.job_role, scr.job_role_activity,
    scr.activity_access, scr.role_profile, scr.login_role_profile, scr.relationship,
    scr.context_key, scr.context_nonce FROM PUBLIC;
GRANT SELECT ON scr.activity, scr.job_role, scr.job_role_activity, scr.activity_access TO PUBLIC;
GRANT SELECT, INSERT, UPDATE ON scr.professional, scr.role_profile, scr.job_role_activity,
    scr.activity_access TO scr_admin;
GRANT SELECT, INSERT, UPDATE, DELETE ON scr.login_role_profile TO scr_admin;
GRANT SELECT ON scr.team, scr.team_member TO scr_clinical_gateway, scr_admin;
GRANT INSERT, UPDATE, DELETE ON scr.team, scr.team_member TO scr_admin;
ALTER TABLE scr.relationship ENABLE ROW LEVEL SECURITY;
ALTER TABLE scr.relationship FORCE ROW LEVEL SECURITY;
ALTER TABLE scr.context_key ENABLE ROW LEVEL SECURITY;
ALTER TABLE scr.context_key FORCE ROW LEVEL SECURITY;

-- Shipped RBAC rows are made by this script, so a dump keeps only the rows
-- an operator added (filters listing the shipped rows, built here).
DO $dump$
BEGIN
    PERFORM pg_catalog.pg_extension_config_dump('scr.activity',
        format('WHERE activity NOT IN (%s)', (SELECT string_agg(quote_literal(activity), ', ') FROM scr.activity)));
    PERFORM pg_catalog.pg_extension_config_dump('scr.job_role',
        format('WHERE job_role NOT IN (%s)', (SELECT string_agg(quote_literal(job_role), ', ') FROM scr.job_role)));
    PERFORM pg_catalog.pg_extension_config_dump('scr.job_role_activity',
        format('WHERE (job_role, activity) NOT IN (%s)',
               (SELECT string_agg(format('(%L, %L)', job_role, activity), ', ') FROM scr.job_role_activity)));
    PERFORM pg_catalog.pg_extension_config_dump('scr.activity_access',
        format('WHERE (activity, kind) NOT IN (%s)',
               (SELECT string_agg(format('(%L, %L)', activity, kind), ', ') FROM scr.activity_access)));
END
$dump$;
SELECT pg_catalog.pg_extension_config_dump('scr.professional', '');
SELECT pg_catalog.pg_extension_config_dump('scr.role_profile', '');
-- Caller check for SECURITY DEFINER functions meant for one shipped role:
-- the session's user (the login, whatever role the function runs as) must
-- belong to it, or be a superuser.
CREATE FUNCTION scr._check_session_role(p_role name, p_function text, p_hint text) RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, scr, pg_temp AS $$
BEGIN
    IF NOT pg_has_role(session_user, p_role, 'MEMBER')
       AND NOT (SELECT rolsuper FROM pg_roles WHERE rolname = session_user) THEN
        RAISE EXCEPTION 'permission denied for %', p_function
            USING ERRCODE = 'insufficient_privilege', HINT = p_hint;
    END IF;
END
$$;
REVOKE ALL ON FUNCTION scr._check_session_role(name, text, text) FROM PUBLIC;

SELECT pg_catalog.pg_extension_config_dump('scr.team', '');
SELECT pg_catalog.pg_extension_config_dump('scr.team_member', '');
SELECT pg_catalog.pg_extension_config_dump('scr.login_role_profile', '');
SELECT pg_catalog.pg_extension_config_dump('scr.relationship', '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('scr.relationship', 'relationship_id'), '');
SELECT pg_catalog.pg_extension_config_dump('scr.context_key', '');
SELECT pg_catalog.pg_extension_config_dump('scr.context_nonce', '');
