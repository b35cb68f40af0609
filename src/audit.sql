-- The audit trail (docs/audit.md).  This file: the events table and the
-- audit of writes (src/audit_trigger.c).  Reads: src/audit_read.c and
-- audit_queue.c; the hash chain: audit_seal.c; reports: audit_reports.sql.

-- This database's origin (the cluster's system identifier and the
-- database): events remember where they were inserted, so a restored or
-- copied database seals its own (src/audit_seal.c).
CREATE FUNCTION scr.audit_system_identifier() RETURNS bigint
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION scr.audit_system_identifier() IS
    'this database''s audit origin (a hash of the cluster''s system identifier and the database), recorded on every audit event';

-- One event per patient per statement (or per refusal), shaped after FHIR AuditEvent: when,
-- what action (C create, R read, U update, D delete, E execute), on what,
-- for which patient, by whom (the acting professional, role profile,
-- organisation and purpose when a context is open; always the calling
-- role), from where, in which transaction and statement.  Partitioned by
-- month.
CREATE TABLE scr.audit_event (
    audit_event_id      bigint GENERATED ALWAYS AS IDENTITY,
    recorded_at         timestamptz NOT NULL DEFAULT clock_timestamp(),
    action              text NOT NULL CHECK (action IN ('C', 'R', 'U', 'D', 'E')),
    event_type          text NOT NULL,
    outcome             smallint NOT NULL DEFAULT 0 CHECK (outcome IN (0, 4, 8, 12)),
    outcome_reason      text,
    professional_id     text,
    role_profile_id     text,
    ods_code            text,
    purpose             text,
    caller              name NOT NULL,
    patient_id          bigint,
    object_table        text NOT NULL,
    row_count           bigint NOT NULL,
    entry_ids           bigint[],
    client_addr         inet,
    application_name    text,
    txid                bigint,
    statement_hash      text,
    break_glass_id      bigint,
    inserted_xact       xid8 NOT NULL DEFAULT pg_catalog.pg_current_xact_id(),
    inserted_system     bigint NOT NULL DEFAULT scr.audit_system_identifier(),
    PRIMARY KEY (recorded_at, audit_event_id)
) PARTITION BY RANGE (recorded_at);
CREATE INDEX audit_event_patient_idx ON scr.audit_event (patient_id, recorded_at);
CREATE INDEX audit_event_seal_idx ON scr.audit_event (inserted_system, inserted_xact);
CREATE INDEX audit_event_break_glass_idx ON scr.audit_event (break_glass_id) WHERE break_glass_id IS NOT NULL;
COMMENT ON TABLE scr.audit_event IS
    'Audit events (append-only): who read or wrote which patient''s data, when, from where, with what outcome';
CREATE TABLE scr.audit_event_default PARTITION OF scr.audit_event DEFAULT;

CREATE FUNCTION scr.audit_refuse_change() RETURNS trigger
    AS 'MODULE_PATHNAME' LANGUAGE C;
CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON scr.audit_event
    FOR EACH ROW EXECUTE FUNCTION scr.audit_refuse_change();
CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON scr.audit_event
    FOR EACH STATEMENT EXECUTE FUNCTION scr.audit_refuse_change();
CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON scr.audit_event_default
    FOR EACH STATEMENT EXECUTE FUNCTION scr.audit_refuse_change();

-- Monthly partitions, made ahead by a maintenance job: run it right after
-- CREATE EXTENSION and then monthly.  Events recorded in a month before its
-- partition exists stay in the default partition, and that month gets no
-- partition of its own.  The partitions are ordinary tables attached to the
-- extension's, so pg_dump keeps them whole.  Each refuses TRUNCATE itself
-- (a statement trigger on the parent does not cover a partition truncated
-- by name).  Returns how many were made.
CREATE FUNCTION scr.audit_create_partitions(months_ahead integer DEFAULT 3) RETURNS integer
LANGUAGE plpgsql SET search_path = pg_catalog, scr, pg_temp AS $$
DECLARE
    m date;
    name text;
    made integer := 0;
BEGIN
    IF months_ahead IS NULL OR months_ahead < 0 OR months_ahead > 60 THEN
        RAISE EXCEPTION 'months_ahead must be between 0 and 60' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR m IN SELECT generate_series(date_trunc('month', statement_timestamp())::date,
                                    (date_trunc('month', statement_timestamp()) + make_interval(months => months_ahead))::date,
                                    interval '1 month')::date LOOP
        name := 'audit_event_' || to_char(m, 'YYYY_MM');
        CONTINUE WHEN to_regclass('scr.' || name) IS NOT NULL;
        -- A month whose events already went to the default partition keeps
        -- them there (audit rows are never moved or rewritten).
        CONTINUE WHEN EXISTS (SELECT FROM scr.audit_event_default d
                              WHERE d.recorded_at >= m AND d.recorded_at < m + interval '1 month');
        EXECUTE format('CREATE TABLE scr.%I PARTITION OF scr.audit_event FOR VALUES FROM (%L) TO (%L)',
                       name, m, (m + interval '1 month')::date);
        EXECUTE format('CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON scr.%I '
                       'FOR EACH STATEMENT EXECUTE FUNCTION scr.audit_refuse_change()', name);
        EXECUTE format('REVOKE ALL ON scr.%I FROM PUBLIC', name);
        made := made + 1;
    END LOOP;
    RETURN made;
END
$$;
COMMENT ON FUNCTION scr.audit_create_partitions(integer) IS
    'make the monthly audit partitions from this month to months_ahead ahead; run monthly';

CREATE FUNCTION scr.audit_write() RETURNS trigger
    AS 'MODULE_PATHNAME' LANGUAGE C;

-- Every table that holds patient data or decides who may see it.
DO $triggers$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['patient', 'patient_nhs_number', 'patient_link_key', 'source_identifier',
                             'patient_merge', 'entry', 'entry_history', 'relationship',
                             'consent_directive', 'break_glass', 'patient_opt_out', 'role_profile',
                             'login_role_profile', 'professional', 'organisation_sharing',
                             'link_review', 'link_decision'] LOOP
        EXECUTE format('CREATE TRIGGER audit_insert AFTER INSERT ON scr.%I REFERENCING NEW TABLE AS audit_rows '
                       'FOR EACH STATEMENT EXECUTE FUNCTION scr.audit_write(''C'', ''audit_rows'')', t);
        EXECUTE format('CREATE TRIGGER audit_update AFTER UPDATE ON scr.%I REFERENCING NEW TABLE AS audit_rows '
                       'FOR EACH STATEMENT EXECUTE FUNCTION scr.audit_write(''U'', ''audit_rows'')', t);
        EXECUTE format('CREATE TRIGGER audit_delete AFTER DELETE ON scr.%I REFERENCING OLD TABLE AS audit_rows '
                       'FOR EACH STATEMENT EXECUTE FUNCTION scr.audit_write(''D'', ''audit_rows'')', t);
    END LOOP;
END
$triggers$;

REVOKE ALL ON scr.audit_event, scr.audit_event_default FROM PUBLIC;
REVOKE ALL ON FUNCTION scr.audit_write(), scr.audit_refuse_change(),
    scr.audit_create_partitions(integer) FROM PUBLIC;
GRANT SELECT ON scr.audit_event TO scr_privacy_officer;
SELECT pg_catalog.pg_extension_config_dump('scr.audit_event_default', '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('scr.audit_event', 'audit_event_id'), '');
