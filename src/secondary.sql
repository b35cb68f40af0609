-- Reporting and secondary use: consent-filtered reporting for running
-- services; pseudonymised, de-identified views for research and planning
-- that leave out patients who opted out (src/access_policy.c, src/pseudonym.c).

DO $roles$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'scr_reporting') THEN
        CREATE ROLE scr_reporting NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'scr_secondary_use') THEN
        CREATE ROLE scr_secondary_use NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'scr_privacy_officer') THEN
        CREATE ROLE scr_privacy_officer NOLOGIN;
    END IF;
END
$roles$;
COMMENT ON ROLE scr_reporting IS 'scr: reporting tools for running services; consent-filtered';
COMMENT ON ROLE scr_secondary_use IS 'scr: research and planning; pseudonymised views only, opt-outs honoured';
COMMENT ON ROLE scr_privacy_officer IS 'scr: privacy officers; alerts and (later) access reports';

-- National Data Opt-out and Type 1 objections: they limit secondary use
-- only, never direct care.
CREATE TABLE scr.patient_opt_out (
    patient_id              bigint PRIMARY KEY REFERENCES scr.patient,
    national_data_opt_out   boolean NOT NULL,
    type1_objection         boolean NOT NULL,
    source_code             text NOT NULL,
    updated_at              timestamptz NOT NULL DEFAULT statement_timestamp()
);
COMMENT ON TABLE scr.patient_opt_out IS 'National Data Opt-out and Type 1 objection flags (secondary use only)';

-- The key of the pseudonyms: the oldest row.  One is made at install and
-- kept by pg_dump; on restore the install makes a new one, but the restored
-- (older) one stays in use, so pseudonyms survive a dump and restore.
CREATE TABLE scr.pseudonym_key (
    created_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    secret      bytea NOT NULL CHECK (length(secret) >= 32)
);
CREATE FUNCTION scr._random_key() RETURNS bytea
    AS 'MODULE_PATHNAME', 'random_key' LANGUAGE C VOLATILE STRICT;
INSERT INTO scr.pseudonym_key (secret) VALUES (scr._random_key());
CREATE FUNCTION scr.pseudonym(patient_id bigint, key bytea) RETURNS text
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

REVOKE ALL ON scr.patient_opt_out, scr.pseudonym_key FROM PUBLIC;
REVOKE ALL ON FUNCTION scr._random_key(), scr.pseudonym(bigint, bytea) FROM PUBLIC;
ALTER TABLE scr.patient_opt_out ENABLE ROW LEVEL SECURITY;
ALTER TABLE scr.patient_opt_out FORCE ROW LEVEL SECURITY;
ALTER TABLE scr.pseudonym_key ENABLE ROW LEVEL SECURITY;
ALTER TABLE scr.pseudonym_key FORCE ROW LEVEL SECURITY;
-- The flags and the key are dumped.
SELECT pg_catalog.pg_extension_config_dump('scr.patient_opt_out', '');
SELECT pg_catalog.pg_extension_config_dump('scr.pseudonym_key', '');

-- A feed records a patient's opt-out flags (GP systems hold Type 1; the
-- National Data Opt-out comes from the national service).
CREATE FUNCTION scr.record_opt_out(source text, local_id text, national_data_opt_out boolean,
                                   type1_objection boolean) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, scr, pg_temp AS $$
DECLARE
    patient bigint;
BEGIN
    PERFORM scr._feed_check_source(source);
    IF national_data_opt_out IS NULL OR type1_objection IS NULL THEN
        RAISE EXCEPTION 'opt-out flags must be true or false, not null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT scr.current_patient_id(si.patient_id) INTO patient FROM scr.source_identifier si
    WHERE si.source_code = source AND si.local_id = scr._feed_local_id(record_opt_out.local_id);
    IF patient IS NULL THEN
        RAISE EXCEPTION 'source "%" has sent no person with local id "%"', source, local_id
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO scr.patient_opt_out AS o (patient_id, national_data_opt_out, type1_objection, source_code)
    VALUES (patient, record_opt_out.national_data_opt_out, record_opt_out.type1_objection, source)
    ON CONFLICT (patient_id) DO UPDATE
    SET national_data_opt_out = excluded.national_data_opt_out,
        type1_objection = excluded.type1_objection, source_code = excluded.source_code,
        updated_at = statement_timestamp();
END
$$;
REVOKE ALL ON FUNCTION scr.record_opt_out(text, text, boolean, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION scr.record_opt_out(text, text, boolean, boolean) TO scr_feed;

CREATE TRIGGER access_invalidate AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON scr.patient_opt_out
    FOR EACH STATEMENT EXECUTE FUNCTION scr.access_invalidate();

-- Reporting: policies for scr_reporting on the record itself.
CREATE FUNCTION scr.may_report(patient_id bigint, sensitivity "char", category text) RETURNS boolean
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE PARALLEL RESTRICTED;
COMMENT ON FUNCTION scr.may_report(bigint, "char", text) IS
    'reporting policy: no dissenting patients, no very restricted entries, no sealed categories';
CREATE FUNCTION scr.may_use_secondary(patient_id bigint, category text) RETURNS boolean
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE PARALLEL RESTRICTED;
COMMENT ON FUNCTION scr.may_use_secondary(bigint, text) IS
    'secondary-use filter: no opted-out or dissenting patients, no sensitive categories';

CREATE POLICY report_patient ON scr.patient FOR SELECT TO scr_reporting
    USING (scr.may_report(patient_id, NULL, NULL));
CREATE POLICY report_entry ON scr.entry FOR SELECT TO scr_reporting
    USING (scr.may_report(patient_id, sensitivity, sensitivity_category));
GRANT SELECT ON scr.patient, scr.entry TO scr_reporting;

CREATE VIEW scr.report_entry WITH (security_invoker = true) AS
SELECT coalesce(p.merged_into, e.patient_id) AS patient_id, e.entry_id, e.kind, e.code_system,
       e.code, e.display, e.status, e.effective_start, e.effective_end, e.source_code,
       e.ods_code, e.sensitivity
FROM scr.entry e
JOIN scr.patient p ON p.patient_id = e.patient_id
WHERE e.status <> 'entered-in-error';
COMMENT ON VIEW scr.report_entry IS 'Consent-filtered record for reporting (policies of scr_reporting apply)';
GRANT SELECT ON scr.report_entry TO scr_reporting;

-- Secondary use: security-barrier views owned by the extension, the only
-- access scr_secondary_use has.  They carry no direct identifier (no NHS
-- number, name, address, exact dates or full postcode) and key each
-- patient by a pseudonym; they leave out opted-out and dissenting patients
-- and every entry in a sensitive category.
CREATE VIEW scr.research_patient WITH (security_barrier = true) AS
SELECT scr.pseudonym(p.patient_id, k.secret) AS pseudonym,
       extract(year FROM p.birth_date)::integer AS birth_year,
       p.sex,
       split_part(p.postcode, ' ', 1) AS postcode_district,
       p.gp_practice,
       extract(year FROM p.death_date)::integer AS death_year
FROM scr.patient p
CROSS JOIN (SELECT secret FROM scr.pseudonym_key ORDER BY created_at LIMIT 1) k
WHERE p.merged_into IS NULL AND scr.may_use_secondary(p.patient_id, NULL);
CREATE VIEW scr.research_entry WITH (security_barrier = true) AS
SELECT scr.pseudonym(coalesce(p.merged_into, e.patient_id), k.secret) AS pseudonym,
       e.kind, e.code_system, e.code, e.status,
       date_trunc('month', e.effective_start)::date AS effective_month,
       e.ods_code
FROM scr.entry e
JOIN scr.patient p ON p.patient_id = e.patient_id
CROSS JOIN (SELECT secret FROM scr.pseudonym_key ORDER BY created_at LIMIT 1) k
WHERE e.status <> 'entered-in-error' AND e.sensitivity <> 'V'
  AND scr.may_use_secondary(coalesce(p.merged_into, e.patient_id), e.sensitivity_category);
COMMENT ON VIEW scr.research_patient IS 'De-identified patients for secondary use, by pseudonym; opt-outs honoured';
COMMENT ON VIEW scr.research_entry IS 'De-identified entries for secondary use, by pseudonym; opt-outs and sensitive categories left out';
GRANT SELECT ON scr.research_patient, scr.research_entry TO scr_secondary_use;
REVOKE ALL ON FUNCTION scr.may_report(bigint, "char", text),
    scr.may_use_secondary(bigint, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION scr.may_report(bigint, "char", text) TO scr_reporting;
-- Functions in a view run with the reader's EXECUTE rights (tables with the
-- owner's): the researcher may call these, but without the key (which it
-- cannot read) a pseudonym cannot be recomputed or reversed.
GRANT EXECUTE ON FUNCTION scr.may_use_secondary(bigint, text), scr.pseudonym(bigint, bytea)
    TO scr_secondary_use;
