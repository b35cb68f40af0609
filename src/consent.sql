-- Consent directives and break-glass (the rules are applied in
-- src/access_policy.c).

-- Directives shaped like FHIR Consent provisions.  A deny with no actor and
-- no data class is the patient's objection to the shared record (dissent):
-- their content is hidden from everyone, their identity stays visible so
-- the objection itself is enforced.  A permit naming an actor is permission
-- to view (it counts as a relationship); a permit naming a sealed category
-- unseals it for that actor.  Deny overrides permit.  The actor is one
-- professional, organisation, team or job role.  A permission to view
-- "once" counts only from the first context its professional opens on the
-- patient, and only for that context's life (used_at says when).
CREATE TABLE scr.consent_directive (
    patient_id          bigint NOT NULL REFERENCES scr.patient,
    directive_id        bigint GENERATED ALWAYS AS IDENTITY,
    provision           text NOT NULL CHECK (provision IN ('permit', 'deny')),
    actor_professional  text REFERENCES scr.professional,
    actor_ods           text REFERENCES scr.organisation,
    actor_team          text REFERENCES scr.team,
    actor_job_role      text REFERENCES scr.job_role,
    purpose             text,
    entry_kind          text,
    sensitivity_category text,
    valid_from          timestamptz NOT NULL DEFAULT statement_timestamp(),
    valid_to            timestamptz,
    once                boolean NOT NULL DEFAULT false,
    used_at             timestamptz,
    status              text NOT NULL DEFAULT 'active'
                        CHECK (status IN ('active', 'inactive', 'entered-in-error')),
    recorded_by         text NOT NULL,
    recorded_at         timestamptz NOT NULL DEFAULT statement_timestamp(),
    PRIMARY KEY (patient_id, directive_id),
    CHECK (num_nonnulls(actor_professional, actor_ods, actor_team, actor_job_role) <= 1),
    CHECK (valid_to IS NULL OR valid_to > valid_from),
    CHECK (provision = 'deny' OR num_nonnulls(actor_professional, actor_ods, actor_team, actor_job_role) = 1),
    CHECK (NOT once OR (provision = 'permit' AND entry_kind IS NULL AND sensitivity_category IS NULL)),
    CHECK (used_at IS NULL OR once)
);
CREATE INDEX consent_directive_actor_idx ON scr.consent_directive (actor_professional, actor_ods)
    WHERE status = 'active';
COMMENT ON TABLE scr.consent_directive IS
    'Consent provisions per patient: dissent, denials, permission to view, unsealing; deny overrides permit';

-- Whether a directive names this professional as its actor: themselves,
-- their organisation, a team they belong to, or the job role of their role
-- profile.  Used by the access cache (src/access_policy.c) and by
-- scr._use_view_once, so both read "names the actor" alike.
CREATE FUNCTION scr._directive_names_actor(d scr.consent_directive, p_professional text, p_ods text,
                                           p_role_profile text) RETURNS boolean
LANGUAGE sql STABLE
RETURN d.actor_professional = p_professional OR d.actor_ods = p_ods
    OR d.actor_team IN (SELECT m.team_id FROM scr.team_member m WHERE m.professional_id = p_professional)
    OR d.actor_job_role = (SELECT rp.job_role FROM scr.role_profile rp WHERE rp.role_profile_id = p_role_profile);

-- A context opened on a patient (the token's "pat") uses one permission to
-- view "once" that names its professional for that patient (any record of
-- the merge group), for that purpose or any: from now until the context
-- expires, and never again.  Called by scr.open_context as the owner; the
-- directive's update drops every backend's access cache.  Returns the
-- directive used, if any.
CREATE FUNCTION scr._use_view_once(p_patient_id bigint, p_professional text, p_ods text,
                                   p_role_profile text, p_purpose text, p_until timestamptz)
RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, scr, pg_temp AS $$
DECLARE
    used bigint;
BEGIN
    UPDATE scr.consent_directive u
    SET used_at = statement_timestamp(), valid_to = least(coalesce(u.valid_to, p_until), p_until)
    WHERE (u.patient_id, u.directive_id) = (
        SELECT d.patient_id, d.directive_id
        FROM scr.consent_directive d
        JOIN scr.patient dp ON dp.patient_id = d.patient_id
        JOIN scr.patient pp ON coalesce(pp.merged_into, pp.patient_id) = coalesce(dp.merged_into, dp.patient_id)
        WHERE pp.patient_id = p_patient_id
          AND d.status = 'active' AND d.provision = 'permit' AND d.once AND d.used_at IS NULL
          AND scr._directive_names_actor(d, p_professional, p_ods, p_role_profile)
          AND (d.purpose IS NULL OR d.purpose = p_purpose)
          AND d.valid_from <= statement_timestamp()
          AND (d.valid_to IS NULL OR d.valid_to > statement_timestamp())
        ORDER BY d.directive_id
        LIMIT 1
        FOR UPDATE OF d)
      AND u.used_at IS NULL
    RETURNING u.directive_id INTO used;
    RETURN used;
END
$$;

-- Break-glass: emergency access to one patient for a limited time.
CREATE TABLE scr.break_glass (
    patient_id          bigint NOT NULL REFERENCES scr.patient,
    break_glass_id      bigint GENERATED ALWAYS AS IDENTITY,
    professional_id     text NOT NULL REFERENCES scr.professional,
    role_profile_id     text NOT NULL REFERENCES scr.role_profile,
    ods_code            text NOT NULL,
    reason_code         text NOT NULL,
    reason_text         text NOT NULL,
    overrides_dissent   boolean NOT NULL DEFAULT false,
    started_at          timestamptz NOT NULL DEFAULT statement_timestamp(),
    expires_at          timestamptz NOT NULL,
    ended_at            timestamptz,
    PRIMARY KEY (patient_id, break_glass_id)
);
CREATE INDEX break_glass_professional_idx ON scr.break_glass (professional_id, expires_at);

-- Reasons after the SCR access reasons.
CREATE TABLE scr.break_glass_reason (
    reason_code text PRIMARY KEY,
    meaning     text NOT NULL
);
INSERT INTO scr.break_glass_reason VALUES
    ('emergency', 'Emergency care: the patient cannot consent'),
    ('patient_consented', 'The patient has consented verbally'),
    ('duty_of_care', 'In the patient''s vital interests or a duty of care'),
    ('legal', 'A court order or other legal requirement'),
    ('public_interest', 'In the public interest (e.g. safeguarding)');

-- Alerts for privacy officers.
CREATE TABLE scr.privacy_alert (
    privacy_alert_id    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    patient_id          bigint,
    kind                text NOT NULL CHECK (kind IN ('break_glass', 'break_glass_refused',
                                                      'dissent_overridden', 'self_claimed')),
    professional_id     text,
    role_profile_id     text,
    ods_code            text,
    detail              text,
    raised_at           timestamptz NOT NULL DEFAULT statement_timestamp(),
    acknowledged_at     timestamptz
);

REVOKE ALL ON scr.consent_directive, scr.break_glass, scr.break_glass_reason,
    scr.privacy_alert FROM PUBLIC;
GRANT SELECT ON scr.break_glass_reason TO PUBLIC;
ALTER TABLE scr.consent_directive ENABLE ROW LEVEL SECURITY;
ALTER TABLE scr.consent_directive FORCE ROW LEVEL SECURITY;
ALTER TABLE scr.break_glass ENABLE ROW LEVEL SECURITY;
ALTER TABLE scr.break_glass FORCE ROW LEVEL SECURITY;
ALTER TABLE scr.privacy_alert ENABLE ROW LEVEL SECURITY;
ALTER TABLE scr.privacy_alert FORCE ROW LEVEL SECURITY;

DO $dump$
BEGIN
    PERFORM pg_catalog.pg_extension_config_dump('scr.break_glass_reason',
        format('WHERE reason_code NOT IN (%s)',
               (SELECT string_agg(quote_literal(reason_code), ', ') FROM scr.break_glass_reason)));
END
$dump$;
SELECT pg_catalog.pg_extension_config_dump('scr.consent_directive', '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('scr.consent_directive', 'directive_id'), '');
SELECT pg_catalog.pg_extension_config_dump('scr.break_glass', '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('scr.break_glass', 'break_glass_id'), '');
SELECT pg_catalog.pg_extension_config_dump('scr.privacy_alert', '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('scr.privacy_alert', 'privacy_alert_id'), '');

-- Whether the acting role profile holds an activity.
CREATE FUNCTION scr._context_has_activity(p_activity text) RETURNS boolean
LANGUAGE sql STABLE SET search_path = pg_catalog, scr, pg_temp AS $$
    SELECT EXISTS (SELECT FROM scr.role_profile rp
                   JOIN scr.job_role_activity jra ON jra.job_role = rp.job_role
                   WHERE rp.role_profile_id = scr.context_role_profile() AND rp.active
                     AND jra.activity = p_activity)
$$;

-- Record a consent directive for a patient, as a professional whose role
-- holds "record consent" (B0015).
CREATE FUNCTION scr.record_consent(patient_id bigint, provision text,
                                   actor_professional text DEFAULT NULL, actor_ods text DEFAULT NULL,
                                   purpose text DEFAULT NULL, entry_kind text DEFAULT NULL,
                                   sensitivity_category text DEFAULT NULL,
                                   valid_from timestamptz DEFAULT NULL, valid_to timestamptz DEFAULT NULL,
                                   actor_team text DEFAULT NULL, actor_job_role text DEFAULT NULL,
                                   once boolean DEFAULT false)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, scr, pg_temp AS $$
DECLARE
    id bigint;
BEGIN
    IF scr.context_professional() IS NULL THEN
        RAISE EXCEPTION 'no acting professional' USING ERRCODE = 'insufficient_privilege',
            HINT = 'Open a context with scr.open_context first.';
    END IF;
    IF NOT scr._context_has_activity('B0015') THEN
        RAISE EXCEPTION 'role profile "%" may not record consent', scr.context_role_profile()
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF NOT scr.may_read_patient(record_consent.patient_id) THEN
        PERFORM scr.audit_refusal(record_consent.patient_id, 'record_consent', 'no legitimate relationship');
        RAISE EXCEPTION 'no legitimate relationship with patient %', record_consent.patient_id
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    -- Only the forms the access rules apply are recorded (a directive that
    -- silently did nothing would mislead the patient and the clinician).
    IF provision IS NULL OR provision NOT IN ('permit', 'deny') THEN
        RAISE EXCEPTION 'provision must be permit or deny' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF record_consent.entry_kind IS NOT NULL
       AND NOT EXISTS (SELECT FROM scr.entry_kind k WHERE k.kind = record_consent.entry_kind) THEN
        RAISE EXCEPTION 'unknown entry kind "%"', record_consent.entry_kind USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF record_consent.sensitivity_category IS NOT NULL
       AND NOT EXISTS (SELECT FROM scr.sensitivity_category c
                       WHERE c.category = lower(record_consent.sensitivity_category)) THEN
        RAISE EXCEPTION 'unknown sensitivity category "%"', record_consent.sensitivity_category
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF record_consent.purpose IS NOT NULL
       AND record_consent.purpose NOT IN ('TREAT', 'ETREAT', 'COC', 'CAREMGT', 'PATRQT', 'POPHLTH',
                                          'HOPERAT', 'HPAYMT', 'HRESCH') THEN
        RAISE EXCEPTION 'unknown purpose of use "%"', record_consent.purpose
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF num_nonnulls(record_consent.actor_professional, record_consent.actor_ods,
                    record_consent.actor_team, record_consent.actor_job_role) > 1 THEN
        RAISE EXCEPTION 'a directive names at most one actor'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'The actor is a professional, an organisation, a team or a job role.';
    END IF;
    IF record_consent.actor_team IS NOT NULL
       AND NOT EXISTS (SELECT FROM scr.team t WHERE t.team_id = record_consent.actor_team) THEN
        RAISE EXCEPTION 'unknown team "%"', record_consent.actor_team USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF record_consent.actor_job_role IS NOT NULL
       AND NOT EXISTS (SELECT FROM scr.job_role j WHERE j.job_role = record_consent.actor_job_role) THEN
        RAISE EXCEPTION 'unknown job role "%"', record_consent.actor_job_role USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF provision = 'permit' AND (num_nonnulls(record_consent.actor_professional, record_consent.actor_ods,
                                              record_consent.actor_team, record_consent.actor_job_role) = 0
                                 OR record_consent.entry_kind IS NOT NULL) THEN
        RAISE EXCEPTION 'a permit names an actor, and at most a sensitivity category'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Permission to view names only the actor; unsealing names the actor and the category.';
    END IF;
    IF coalesce(record_consent.once, false)
       AND (provision <> 'permit' OR record_consent.sensitivity_category IS NOT NULL) THEN
        RAISE EXCEPTION '"once" is for permission to view only'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'A permission to view once names one actor, and may name a purpose and a period; never a kind or a category.';
    END IF;
    IF record_consent.valid_to IS NOT NULL
       AND record_consent.valid_to <= coalesce(record_consent.valid_from, statement_timestamp()) THEN
        RAISE EXCEPTION 'valid_to must be after valid_from' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO scr.consent_directive (patient_id, provision, actor_professional, actor_ods, actor_team,
                                       actor_job_role, purpose, entry_kind, sensitivity_category,
                                       valid_from, valid_to, once, recorded_by)
    VALUES (record_consent.patient_id, record_consent.provision, record_consent.actor_professional,
            record_consent.actor_ods, record_consent.actor_team, record_consent.actor_job_role,
            record_consent.purpose, record_consent.entry_kind,
            lower(record_consent.sensitivity_category),
            coalesce(record_consent.valid_from, statement_timestamp()), record_consent.valid_to,
            coalesce(record_consent.once, false), scr.context_professional())
    RETURNING directive_id INTO id;
    RETURN id;
END
$$;
COMMENT ON FUNCTION scr.record_consent(bigint, text, text, text, text, text, text, timestamptz, timestamptz, text, text, boolean) IS
    'record a consent directive (needs activity B0015 and a relationship); a deny with no actor and no data class is dissent';

CREATE FUNCTION scr.withdraw_consent(patient_id bigint, directive_id bigint) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, scr, pg_temp AS $$
BEGIN
    IF scr.context_professional() IS NULL OR NOT scr._context_has_activity('B0015') THEN
        RAISE EXCEPTION 'only a professional whose role records consent may withdraw a directive'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF NOT scr.may_read_patient(withdraw_consent.patient_id) THEN
        PERFORM scr.audit_refusal(withdraw_consent.patient_id, 'withdraw_consent', 'no legitimate relationship');
        RAISE EXCEPTION 'no legitimate relationship with patient %', withdraw_consent.patient_id
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    UPDATE scr.consent_directive d SET status = 'inactive'
    WHERE d.patient_id = withdraw_consent.patient_id AND d.directive_id = withdraw_consent.directive_id
      AND d.status = 'active';
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no active directive % for patient %', directive_id, patient_id
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
END
$$;

-- Break-glass: a professional whose role holds emergency access (B0168)
-- states a coded reason and a free-text reason and gets access to one
-- patient for a limited time.  Overriding the patient's dissent needs legal
-- override (B0082) as well, and is alerted separately.  Every use, and every
-- refusal, raises a privacy-officer alert.
CREATE FUNCTION scr.break_glass(patient_id bigint, reason_code text, reason_text text,
                                minutes integer DEFAULT NULL, override_dissent boolean DEFAULT false)
RETURNS timestamptz
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, scr, pg_temp AS $$
DECLARE
    cap integer := (extract(epoch FROM current_setting('scr.break_glass_max_minutes')::interval) / 60)::integer;
    granted integer;
    expires timestamptz;
    problem text;
    grant_id bigint;
BEGIN
    IF scr.context_professional() IS NULL THEN
        RAISE EXCEPTION 'no acting professional' USING ERRCODE = 'insufficient_privilege',
            HINT = 'Open a context with scr.open_context first.';
    END IF;
    -- The activity first: a role without emergency access learns nothing,
    -- not even whether the patient exists.
    IF NOT scr._context_has_activity('B0168') THEN
        problem := format('role profile "%s" has no emergency access', scr.context_role_profile());
    ELSIF NOT EXISTS (SELECT FROM scr.patient p WHERE p.patient_id = break_glass.patient_id) THEN
        problem := 'no such patient';
    ELSIF override_dissent AND NOT scr._context_has_activity('B0082') THEN
        problem := format('role profile "%s" may not override dissent', scr.context_role_profile());
    ELSIF reason_code IS NULL OR NOT EXISTS (SELECT FROM scr.break_glass_reason r WHERE r.reason_code = break_glass.reason_code) THEN
        problem := 'unknown reason code';
    ELSIF reason_text IS NULL OR btrim(reason_text) = '' THEN
        problem := 'a reason is required';
    ELSIF length(reason_text) > 1000 THEN
        problem := 'the reason is longer than 1000 characters';
    ELSIF reason_text ~ '[[:cntrl:]]' THEN
        problem := 'the reason contains control characters';
    ELSIF minutes IS NOT NULL AND minutes <= 0 THEN
        problem := 'the duration must be positive';
    END IF;
    IF problem IS NOT NULL THEN
        -- A refusal is an error: the audit event is written outside this
        -- transaction, so it stays.
        PERFORM scr.audit_refusal(break_glass.patient_id, 'break_glass', 'break-glass refused: ' || problem);
        RAISE EXCEPTION 'break-glass refused: %', problem USING ERRCODE = 'insufficient_privilege';
    END IF;
    granted := least(coalesce(minutes, cap), cap);
    expires := statement_timestamp() + make_interval(mins => granted);
    INSERT INTO scr.break_glass AS b (patient_id, professional_id, role_profile_id, ods_code, reason_code,
                                 reason_text, overrides_dissent, expires_at)
    VALUES (break_glass.patient_id, scr.context_professional(), scr.context_role_profile(),
            scr.context_organisation(), reason_code, btrim(reason_text), override_dissent, expires)
    RETURNING b.break_glass_id INTO grant_id;
    -- The start of emergency access (DICOM 110127-shaped); its end is
    -- recorded by scr.audit_break_glass_ends when it expires or is ended.
    INSERT INTO scr.audit_event (action, event_type, outcome_reason, professional_id, role_profile_id,
                                 ods_code, purpose, caller, patient_id, object_table, row_count,
                                 break_glass_id, client_addr, application_name, txid, statement_hash)
    VALUES ('E', 'break-glass-start', reason_code || ': ' || btrim(reason_text), scr.context_professional(),
            scr.context_role_profile(), scr.context_organisation(), scr.context_purpose(), session_user,
            break_glass.patient_id, 'break_glass', 1, grant_id, inet_client_addr(),
            current_setting('application_name'), txid_current(), md5(current_query()));
    INSERT INTO scr.privacy_alert (patient_id, kind, professional_id, role_profile_id, ods_code, detail)
    VALUES (break_glass.patient_id, CASE WHEN override_dissent THEN 'dissent_overridden' ELSE 'break_glass' END,
            scr.context_professional(), scr.context_role_profile(), scr.context_organisation(),
            format('%s: %s (%s minutes)', reason_code, btrim(reason_text), granted));
    RETURN expires;
END
$$;
COMMENT ON FUNCTION scr.break_glass(bigint, text, text, integer, boolean) IS
    'emergency access to one patient for a limited time (needs B0168; overriding dissent needs B0082); alerted';

CREATE FUNCTION scr.end_break_glass(patient_id bigint) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, scr, pg_temp AS $$
BEGIN
    UPDATE scr.break_glass b SET ended_at = statement_timestamp(), expires_at = statement_timestamp()
    WHERE b.patient_id = end_break_glass.patient_id AND b.professional_id = scr.context_professional()
      AND b.expires_at > statement_timestamp();
END
$$;

CREATE TRIGGER access_invalidate AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON scr.consent_directive
    FOR EACH STATEMENT EXECUTE FUNCTION scr.access_invalidate();
CREATE TRIGGER access_invalidate AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON scr.break_glass
    FOR EACH STATEMENT EXECUTE FUNCTION scr.access_invalidate();

REVOKE ALL ON FUNCTION scr._context_has_activity(text),
    scr._directive_names_actor(scr.consent_directive, text, text, text),
    scr._use_view_once(bigint, text, text, text, text, timestamptz),
    scr.record_consent(bigint, text, text, text, text, text, text, timestamptz, timestamptz, text, text, boolean),
    scr.withdraw_consent(bigint, bigint),
    scr.break_glass(bigint, text, text, integer, boolean), scr.end_break_glass(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    scr.record_consent(bigint, text, text, text, text, text, text, timestamptz, timestamptz, text, text, boolean),
    scr.withdraw_consent(bigint, bigint),
    scr.break_glass(bigint, text, text, integer, boolean), scr.end_break_glass(bigint)
    TO scr_clinical_gateway;
