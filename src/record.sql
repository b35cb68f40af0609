-- The shared record: organisations, feeds, the master patient index, source
-- identifiers, and clinical and care entries with their history.
--
-- Every patient-data table carries patient_id in its primary key beside a
-- surrogate id (never the NHS number), so that a sharding engine could
-- distribute and colocate by patient.  Row-level security is enabled and
-- forced on every patient-data table; the only policies are the read
-- policies of src/access_policy.sql, for an acting professional.  No policy,
-- no rows: fail closed.
--
-- Every table is marked with pg_extension_config_dump so that pg_dump keeps
-- its rows: an extension's tables are otherwise left out of a dump.

-- Roles.  Roles are cluster-wide, so they are made only if missing and are
-- not members of the extension.
DO $roles$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'scr_feed') THEN
        CREATE ROLE scr_feed NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'scr_admin') THEN
        CREATE ROLE scr_admin NOLOGIN;
    END IF;
END
$roles$;
COMMENT ON ROLE scr_feed IS 'scr: feed loaders; may call the feed functions for the sources they are bound to';
COMMENT ON ROLE scr_admin IS 'scr: operators; manage organisations, sources, feed bindings and the dead-letter queue';

-- Reference data -----------------------------------------------------------

CREATE TABLE scr.organisation (
    ods_code    text PRIMARY KEY
                CHECK (ods_code ~ '^[A-Z0-9]{3,12}$'),
    name        text NOT NULL CHECK (name <> ''),
    kind        text NOT NULL DEFAULT 'other'
                CHECK (kind IN ('gp_practice', 'nhs_trust', 'local_authority',
                                'independent_provider', 'commissioner', 'other')),
    active      boolean NOT NULL DEFAULT true
);
COMMENT ON TABLE scr.organisation IS 'Organisations that send to or read the record, by ODS code';

CREATE TABLE scr.source_system (
    source_code text PRIMARY KEY
                CHECK (source_code ~ '^[A-Za-z0-9_.:-]{1,64}$'),
    ods_code    text NOT NULL REFERENCES scr.organisation,
    kind        text NOT NULL
                CHECK (kind IN ('gp', 'acute', 'community', 'mental_health',
                                'social_care', 'other')),
    active      boolean NOT NULL DEFAULT true,
    trust_rank  integer CHECK (trust_rank > 0),
    description text
);
COMMENT ON TABLE scr.source_system IS 'A feed: one system of one organisation that sends data to the record';
COMMENT ON COLUMN scr.source_system.trust_rank IS 'Survivorship: when sources disagree about a demographic field the lowest rank wins; NULL means the default for the kind (scr.default_trust_rank)';

-- Survivorship default: GP records (traced against PDS at registration) are
-- trusted first, then acute, mental health, community, social care, other.
-- (Not STRICT, so that it is inlined into the queries that call it.)
CREATE FUNCTION scr.default_trust_rank(kind text) RETURNS integer
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN CASE kind WHEN 'gp' THEN 10 WHEN 'acute' THEN 20 WHEN 'mental_health' THEN 30
                     WHEN 'community' THEN 40 WHEN 'social_care' THEN 50 ELSE 60 END;

-- Which login roles may write for which source.
CREATE TABLE scr.feed_binding (
    role_name   name NOT NULL,
    source_code text NOT NULL REFERENCES scr.source_system ON DELETE CASCADE,
    PRIMARY KEY (role_name, source_code)
);
COMMENT ON TABLE scr.feed_binding IS 'A feed login (or a role it is a member of) may write only for the sources bound to it';

-- NHS Data Dictionary: NHS NUMBER STATUS INDICATOR CODE.
CREATE TABLE scr.nhs_number_status (
    code        text PRIMARY KEY CHECK (code ~ '^0[1-8]$'),
    meaning     text NOT NULL
);
INSERT INTO scr.nhs_number_status VALUES
    ('01', 'Number present and verified'),
    ('02', 'Number present but not traced'),
    ('03', 'Trace required'),
    ('04', 'Trace attempted - No match or multiple match found'),
    ('05', 'Trace needs to be resolved - (NHS Number or patient detail conflict)'),
    ('06', 'Trace in progress'),
    ('07', 'Number not present and trace not required'),
    ('08', 'Trace postponed (baby under six weeks old)');

-- Entry kinds and the FHIR R4 resource each payload is shaped as.
CREATE TABLE scr.entry_kind (
    kind                text PRIMARY KEY,
    fhir_resource_type  text NOT NULL,
    description         text NOT NULL
);
INSERT INTO scr.entry_kind VALUES
    ('encounter', 'Encounter', 'Contacts, admissions, attendances, discharges'),
    ('problem', 'Condition', 'Problems and diagnoses'),
    ('medication', 'MedicationStatement', 'Medications'),
    ('allergy', 'AllergyIntolerance', 'Allergies and adverse reactions'),
    ('observation', 'Observation', 'Observations and results'),
    ('procedure', 'Procedure', 'Procedures'),
    ('document', 'DocumentReference', 'Letters, discharge summaries and other documents'),
    ('alert', 'Flag', 'Alerts and risks'),
    ('social_care_assessment', 'QuestionnaireResponse', 'Social care assessments'),
    ('end_of_life', 'Consent', 'End of Life preferences (EPaCCS)'),
    ('care_plan', 'CarePlan', 'Care plan summaries');

-- Sensitive categories an entry may carry.  sealed: legally restricted
-- content, visible only to its authoring organisation by default (the
-- access-control layer enforces it).
CREATE TABLE scr.sensitivity_category (
    category    text PRIMARY KEY,
    description text NOT NULL,
    sealed      boolean NOT NULL DEFAULT false
);
INSERT INTO scr.sensitivity_category VALUES
    ('sexual_health', 'Sexual health', false),
    ('hiv_sti', 'HIV and sexually transmitted infections', true),
    ('ivf_fertility', 'IVF and fertility treatment (HFEA)', true),
    ('termination', 'Termination of pregnancy', true),
    ('gender_reassignment', 'Gender reassignment', true),
    ('safeguarding', 'Safeguarding', false),
    ('mental_health', 'Mental health', false),
    ('substance_misuse', 'Drug and alcohol misuse', false),
    ('genetic', 'Genetic information', false);

-- The master patient index ---------------------------------------------------

CREATE TABLE scr.patient (
    patient_id          bigint GENERATED ALWAYS AS IDENTITY,
    nhs_number          scr.nhs_number,
    nhs_number_status   text REFERENCES scr.nhs_number_status,
    given_name          text,
    family_name         text,
    birth_date          date,
    sex                 text CHECK (sex IN ('male', 'female', 'other', 'unknown')),
    postcode            text,
    address             text,
    death_date          date,
    gp_practice         text,
    merged_into         bigint,
    created_at          timestamptz NOT NULL DEFAULT statement_timestamp(),
    updated_at          timestamptz NOT NULL DEFAULT statement_timestamp(),
    PRIMARY KEY (patient_id),
    CHECK (merged_into IS DISTINCT FROM patient_id),
    CHECK (death_date IS NULL OR birth_date IS NULL OR death_date >= birth_date)
);
CREATE INDEX patient_nhs_number_idx ON scr.patient (nhs_number);
CREATE INDEX patient_merged_into_idx ON scr.patient (merged_into) WHERE merged_into IS NOT NULL;
COMMENT ON TABLE scr.patient IS 'Master patient index: one row per person, with the golden demographic record';
COMMENT ON COLUMN scr.patient.merged_into IS 'When this record was found to be the same person as another, the surviving patient';

CREATE TABLE scr.patient_nhs_number (
    patient_id      bigint NOT NULL REFERENCES scr.patient,
    nhs_number_id   bigint GENERATED ALWAYS AS IDENTITY,
    nhs_number      scr.nhs_number NOT NULL,
    status          text REFERENCES scr.nhs_number_status,
    source_code     text NOT NULL REFERENCES scr.source_system,
    first_seen      timestamptz NOT NULL DEFAULT statement_timestamp(),
    last_seen       timestamptz NOT NULL DEFAULT statement_timestamp(),
    PRIMARY KEY (patient_id, nhs_number_id),
    UNIQUE (patient_id, nhs_number)
);
CREATE INDEX patient_nhs_number_number_idx ON scr.patient_nhs_number (nhs_number);
COMMENT ON TABLE scr.patient_nhs_number IS 'Every NHS number a patient has been known by (numbers are re-issued after adoption and gender reassignment)';

-- The deterministic link: a valid NHS number with a birth date names one
-- patient (the PDS cross-check).  Its unique key is also what makes two
-- feeds sending one new person at once agree on one patient: the second
-- waits for the first's row and links to it.
CREATE TABLE scr.patient_link_key (
    patient_id      bigint NOT NULL REFERENCES scr.patient,
    nhs_number      scr.nhs_number NOT NULL,
    birth_date      date NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT statement_timestamp(),
    PRIMARY KEY (patient_id, nhs_number, birth_date),
    UNIQUE (nhs_number, birth_date)
);
COMMENT ON TABLE scr.patient_link_key IS 'NHS number and birth date pairs and the patient each names: the deterministic link';

CREATE TABLE scr.source_identifier (
    patient_id          bigint NOT NULL REFERENCES scr.patient,
    source_identifier_id bigint GENERATED ALWAYS AS IDENTITY,
    source_code         text NOT NULL REFERENCES scr.source_system,
    local_id            text NOT NULL CHECK (local_id <> '' AND length(local_id) <= 128),
    link_method         text NOT NULL
                        CHECK (link_method IN ('nhs_number_and_birth_date', 'new_patient',
                                               'probabilistic', 'manual', 'merge')),
    linked_at           timestamptz NOT NULL DEFAULT statement_timestamp(),
    -- The latest demographics this source sent for this person, as received
    -- and as parsed: the input to linkage.
    demographics        jsonb NOT NULL,
    nhs_number          scr.nhs_number,
    nhs_number_received text,
    nhs_number_problem  text,
    nhs_number_status   text REFERENCES scr.nhs_number_status,
    given_name          text,
    family_name         text,
    birth_date          date,
    sex                 text,
    postcode            text,
    address             text,
    death_date          date,
    gp_practice         text,
    received_at         timestamptz NOT NULL DEFAULT statement_timestamp(),
    PRIMARY KEY (patient_id, source_identifier_id),
    UNIQUE (source_code, local_id)
);
COMMENT ON TABLE scr.source_identifier IS 'A person as known to one source system (source + local id), linked to a patient';
COMMENT ON COLUMN scr.source_identifier.nhs_number_problem IS 'Why the received NHS number was not valid; such a number is kept but never used to link';

-- Merges of patients (HL7 A40 shape) and their reversal.
CREATE TABLE scr.patient_merge (
    patient_id      bigint NOT NULL REFERENCES scr.patient,   -- the patient merged away
    merge_id        bigint GENERATED ALWAYS AS IDENTITY,
    into_patient_id bigint NOT NULL REFERENCES scr.patient,
    source_code     text REFERENCES scr.source_system,
    from_local_id   text,
    to_local_id     text,
    merged_at       timestamptz NOT NULL DEFAULT statement_timestamp(),
    merged_by       name NOT NULL,
    unmerged_at     timestamptz,
    unmerged_by     name,
    PRIMARY KEY (patient_id, merge_id)
);
COMMENT ON TABLE scr.patient_merge IS 'Merge log: which patient was merged into which, by whom, and whether it was undone';

-- Clinical and care content --------------------------------------------------

-- No foreign keys on purpose: entries are written only by the feed
-- functions, which resolve the patient, kind, source, organisation and
-- category against their tables first; a foreign key would add a lookup per
-- row per key to the hottest write path (measured: the batch feed path took
-- 1.75 times as long with them).  Reference rows cannot be deleted by
-- scr_admin (deactivate a source instead).
CREATE TABLE scr.entry (
    patient_id          bigint NOT NULL,
    entry_id            bigint GENERATED ALWAYS AS IDENTITY,
    kind                text NOT NULL,
    code_system         text,
    code                text,
    display             text,
    status              text NOT NULL,
    effective_start     timestamptz,
    effective_end       timestamptz,
    author              text,
    source_code         text NOT NULL,
    ods_code            text NOT NULL,
    source_ref          text NOT NULL,
    source_timestamp    timestamptz NOT NULL,
    received_at         timestamptz NOT NULL DEFAULT statement_timestamp(),
    sensitivity         "char" NOT NULL DEFAULT 'N' CHECK (sensitivity IN ('N', 'R', 'V')),
    sensitivity_category text,
    payload             jsonb NOT NULL,
    version             integer NOT NULL DEFAULT 1,
    PRIMARY KEY (patient_id, entry_id),
    UNIQUE (source_code, source_ref),
    CHECK (effective_end IS NULL OR effective_start IS NULL OR effective_end >= effective_start)
);
CREATE INDEX entry_patient_kind_idx ON scr.entry (patient_id, kind, effective_start DESC);
COMMENT ON TABLE scr.entry IS 'Clinical and care content: the current version of each entry a source sent';
COMMENT ON COLUMN scr.entry.received_at IS 'When this version entered the record';
COMMENT ON COLUMN scr.entry.sensitivity IS 'HL7 confidentiality: N normal, R restricted, V very restricted';

-- Versions an entry no longer has: replaced by a newer one, or arrived late
-- (older than the current version: recorded, never current).
CREATE TABLE scr.entry_history (
    patient_id          bigint NOT NULL,
    entry_history_id    bigint GENERATED ALWAYS AS IDENTITY,
    entry_id            bigint NOT NULL,
    kind                text NOT NULL,
    code_system         text,
    code                text,
    display             text,
    status              text NOT NULL,
    effective_start     timestamptz,
    effective_end       timestamptz,
    author              text,
    source_code         text NOT NULL,
    ods_code            text NOT NULL,
    source_ref          text NOT NULL,
    source_timestamp    timestamptz NOT NULL,
    received_at         timestamptz NOT NULL,
    sensitivity         "char" NOT NULL,
    sensitivity_category text,
    payload             jsonb NOT NULL,
    version             integer NOT NULL,
    superseded_at       timestamptz NOT NULL,
    late                boolean NOT NULL DEFAULT false,
    PRIMARY KEY (patient_id, entry_history_id)
);
CREATE INDEX entry_history_entry_idx ON scr.entry_history (entry_id, superseded_at);
COMMENT ON TABLE scr.entry_history IS 'Every version of an entry that is no longer current: the record as it stood at any past time';
COMMENT ON COLUMN scr.entry_history.late IS 'Arrived after a newer version: kept, but never part of the record';

-- Dead letters ---------------------------------------------------------------

CREATE TABLE scr.feed_error (
    feed_error_id   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source_code     text NOT NULL,
    message_type    text NOT NULL CHECK (message_type IN ('person', 'entry', 'unknown')),
    local_id        text,
    message         jsonb,
    received_at     timestamptz NOT NULL DEFAULT statement_timestamp(),
    sqlstate        text NOT NULL,
    error           text NOT NULL,
    detail          text,
    hint            text,
    submitted_by    name NOT NULL,
    replayed_at     timestamptz,
    replay_result   text,
    corrected_message jsonb
);
CREATE INDEX feed_error_open_idx ON scr.feed_error (source_code, received_at) WHERE replayed_at IS NULL;
COMMENT ON TABLE scr.feed_error IS 'Dead-letter queue: every message a batch could not load, with why; replay with scr.replay_feed_error';
COMMENT ON COLUMN scr.feed_error.corrected_message IS 'The message as an operator corrected and replayed it (message keeps what the source sent)';

-- Privileges: nothing for PUBLIC; patient data fails closed under RLS.
REVOKE ALL ON scr.organisation, scr.source_system, scr.feed_binding,
    scr.nhs_number_status, scr.entry_kind, scr.sensitivity_category, scr.patient,
    scr.patient_nhs_number, scr.patient_link_key, scr.source_identifier, scr.patient_merge, scr.entry,
    scr.entry_history, scr.feed_error FROM PUBLIC;
GRANT SELECT ON scr.organisation, scr.source_system, scr.nhs_number_status, scr.entry_kind,
    scr.sensitivity_category TO PUBLIC;
GRANT SELECT, INSERT, UPDATE ON scr.organisation, scr.source_system, scr.feed_binding,
    scr.entry_kind, scr.sensitivity_category TO scr_admin;
GRANT DELETE ON scr.feed_binding TO scr_admin;
GRANT SELECT ON scr.feed_error TO scr_admin;

ALTER TABLE scr.patient ENABLE ROW LEVEL SECURITY;
ALTER TABLE scr.patient FORCE ROW LEVEL SECURITY;
ALTER TABLE scr.patient_nhs_number ENABLE ROW LEVEL SECURITY;
ALTER TABLE scr.patient_nhs_number FORCE ROW LEVEL SECURITY;
ALTER TABLE scr.patient_link_key ENABLE ROW LEVEL SECURITY;
ALTER TABLE scr.patient_link_key FORCE ROW LEVEL SECURITY;
ALTER TABLE scr.source_identifier ENABLE ROW LEVEL SECURITY;
ALTER TABLE scr.source_identifier FORCE ROW LEVEL SECURITY;
ALTER TABLE scr.patient_merge ENABLE ROW LEVEL SECURITY;
ALTER TABLE scr.patient_merge FORCE ROW LEVEL SECURITY;
ALTER TABLE scr.entry ENABLE ROW LEVEL SECURITY;
ALTER TABLE scr.entry FORCE ROW LEVEL SECURITY;
ALTER TABLE scr.entry_history ENABLE ROW LEVEL SECURITY;
ALTER TABLE scr.entry_history FORCE ROW LEVEL SECURITY;
ALTER TABLE scr.feed_error ENABLE ROW LEVEL SECURITY;
ALTER TABLE scr.feed_error FORCE ROW LEVEL SECURITY;
-- Operators see the dead-letter queue (it holds patient data: admins only).
CREATE POLICY feed_error_admin ON scr.feed_error FOR SELECT TO scr_admin USING (true);

-- pg_dump keeps the rows of every table and the position of every sequence.
-- (One call per statement: each call rewrites the extension's catalog row.)
SELECT pg_catalog.pg_extension_config_dump('scr.organisation', '');
SELECT pg_catalog.pg_extension_config_dump('scr.source_system', '');
SELECT pg_catalog.pg_extension_config_dump('scr.feed_binding', '');
SELECT pg_catalog.pg_extension_config_dump('scr.patient', '');
SELECT pg_catalog.pg_extension_config_dump('scr.patient_nhs_number', '');
SELECT pg_catalog.pg_extension_config_dump('scr.patient_link_key', '');
SELECT pg_catalog.pg_extension_config_dump('scr.source_identifier', '');
SELECT pg_catalog.pg_extension_config_dump('scr.patient_merge', '');
SELECT pg_catalog.pg_extension_config_dump('scr.entry', '');
SELECT pg_catalog.pg_extension_config_dump('scr.entry_history', '');
SELECT pg_catalog.pg_extension_config_dump('scr.feed_error', '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('scr.patient', 'patient_id'), '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('scr.patient_nhs_number', 'nhs_number_id'), '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('scr.source_identifier', 'source_identifier_id'), '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('scr.patient_merge', 'merge_id'), '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('scr.entry', 'entry_id'), '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('scr.entry_history', 'entry_history_id'), '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('scr.feed_error', 'feed_error_id'), '');
-- Shipped reference rows are not dumped (the extension script makes them);
-- rows an operator adds are.
SELECT pg_catalog.pg_extension_config_dump('scr.entry_kind',
    $$WHERE kind NOT IN ('encounter', 'problem', 'medication', 'allergy', 'observation',
                        'procedure', 'document', 'alert', 'social_care_assessment',
                        'end_of_life', 'care_plan')$$);
SELECT pg_catalog.pg_extension_config_dump('scr.sensitivity_category',
    $$WHERE category NOT IN ('sexual_health', 'hiv_sti', 'ivf_fertility', 'termination',
                            'gender_reassignment', 'safeguarding', 'mental_health',
                            'substance_misuse', 'genetic')$$);
