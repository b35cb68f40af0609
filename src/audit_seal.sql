-- The hash chain over audit events (src/audit_seal.c).

-- One seal: every event inserted in one origin (a database in a cluster:
-- system_identifier is scr.audit_system_identifier()) by a transaction in
-- [xact_lo, xact_hi) (xact_hi NULL: every later one, for the events an
-- earlier origin left unsealed), hashed in (inserted_xact, audit_event_id)
-- order, chained to the origin's seal before.
CREATE TABLE scr.audit_seal (
    seal_id             bigint GENERATED ALWAYS AS IDENTITY,
    sealed_at           timestamptz NOT NULL DEFAULT clock_timestamp(),
    system_identifier   bigint NOT NULL,
    xact_lo             xid8 NOT NULL,
    xact_hi             xid8,
    event_count         bigint NOT NULL CHECK (event_count > 0),
    events_hash         bytea NOT NULL,
    prev_hash           bytea,
    seal_hash           bytea NOT NULL,
    PRIMARY KEY (system_identifier, seal_id)
);
COMMENT ON TABLE scr.audit_seal IS
    'The audit hash chain (append-only): each seal covers the events of a range of transactions and chains to the seal before';
CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON scr.audit_seal
    FOR EACH ROW EXECUTE FUNCTION scr.audit_refuse_change();
CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON scr.audit_seal
    FOR EACH STATEMENT EXECUTE FUNCTION scr.audit_refuse_change();

-- One event as one line of text, the same whatever the session's
-- settings (time as epoch seconds, every text quoted, NULL as NULL).
CREATE FUNCTION scr.audit_event_canonical(e scr.audit_event) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
SELECT pg_catalog.format('%s|%s|%L|%L|%s|%L|%L|%L|%L|%L|%L|%L|%L|%s|%L|%L|%L|%L|%L|%L|%s|%s',
    e.audit_event_id, EXTRACT(epoch FROM e.recorded_at)::text, e.action, e.event_type,
    e.outcome, e.outcome_reason, e.professional_id, e.role_profile_id, e.ods_code, e.purpose,
    e.caller, e.patient_id, e.object_table, e.row_count, e.entry_ids, e.client_addr,
    e.application_name, e.txid, e.statement_hash, e.break_glass_id, e.inserted_xact,
    e.inserted_system)
$$;
COMMENT ON FUNCTION scr.audit_event_canonical(scr.audit_event) IS
    'the line of text an audit event contributes to its seal''s hash';

CREATE FUNCTION scr.audit_seal_hash(prev_hash bytea, events_hash bytea, system_identifier bigint,
                                    xact_lo xid8, xact_hi xid8, event_count bigint) RETURNS bytea
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
SELECT pg_catalog.sha256(coalesce(prev_hash, '\x'::bytea) || events_hash
       || pg_catalog.convert_to(pg_catalog.format('%s|%s|%s|%s', system_identifier, xact_lo,
                                                  coalesce(xact_hi::text, '-'), event_count), 'UTF8'))
$$;
COMMENT ON FUNCTION scr.audit_seal_hash(bytea, bytea, bigint, xid8, xid8, bigint) IS
    'a seal''s hash: SHA-256 of the previous seal''s hash, its events'' digest and its range';

CREATE FUNCTION scr.audit_seal() RETURNS bigint
    AS 'MODULE_PATHNAME' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION scr.audit_seal() IS
    'seal every audit event whose transaction has ended and no seal covers; returns how many (the audit worker runs it every second)';

CREATE FUNCTION scr.verify_audit(OUT verified boolean, OUT seals_checked bigint, OUT events_checked bigint,
                                 OUT unsealed_events bigint, OUT broken_seal bigint, OUT problem text)
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE;
COMMENT ON FUNCTION scr.verify_audit() IS
    'walk the audit hash chain; the first seal that does not hold and why, or verified';

-- The chain's head, to anchor outside the database (print it, mail it,
-- timestamp it): a later verify_audit() that still reaches this seal with
-- this hash proves nothing before it was changed.
CREATE FUNCTION scr.audit_head(OUT seal_id bigint, OUT sealed_at timestamptz, OUT seal_hash text,
                               OUT events_sealed bigint)
LANGUAGE sql STABLE AS $$
SELECT s.seal_id, s.sealed_at, pg_catalog.encode(s.seal_hash, 'hex'),
       (SELECT pg_catalog.sum(a.event_count)::bigint FROM scr.audit_seal a)
FROM scr.audit_seal s WHERE s.system_identifier = scr.audit_system_identifier()
ORDER BY s.seal_id DESC LIMIT 1
$$;
COMMENT ON FUNCTION scr.audit_head() IS
    'the newest seal of the audit hash chain: its id, time, hash (hex) and how many events the chain covers';

-- The end of every break-glass grant that has expired or was ended, as an
-- event (DICOM 110128-shaped), once.  The audit worker runs it.
CREATE FUNCTION scr.audit_break_glass_ends() RETURNS integer
LANGUAGE plpgsql SET search_path = pg_catalog, scr, pg_temp AS $$
DECLARE
    n integer;
BEGIN
    INSERT INTO scr.audit_event (action, event_type, outcome_reason, professional_id, role_profile_id,
                                 ods_code, purpose, caller, patient_id, object_table, row_count,
                                 break_glass_id)
    SELECT 'E', 'break-glass-end',
           CASE WHEN b.ended_at IS NOT NULL THEN 'ended by the professional' ELSE 'expired' END,
           b.professional_id, b.role_profile_id, b.ods_code, 'ETREAT', session_user, b.patient_id,
           'break_glass', 1, b.break_glass_id
    FROM scr.break_glass b
    WHERE b.expires_at <= clock_timestamp()
      AND NOT EXISTS (SELECT FROM scr.audit_event a
                      WHERE a.break_glass_id = b.break_glass_id AND a.event_type = 'break-glass-end');
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$$;
COMMENT ON FUNCTION scr.audit_break_glass_ends() IS
    'record the end of each break-glass grant that has expired or was ended (run by the audit worker)';

REVOKE ALL ON scr.audit_seal FROM PUBLIC;
REVOKE ALL ON FUNCTION scr.audit_seal(), scr.verify_audit(), scr.audit_head(),
    scr.audit_break_glass_ends() FROM PUBLIC;
-- The seals hold hashes and counts, no patient data: operators may read
-- them to anchor the head.  Verifying reads every event: privacy officers.
-- Sealing is the audit worker's (a superuser's) work.
GRANT SELECT ON scr.audit_seal TO scr_privacy_officer, scr_admin;
GRANT EXECUTE ON FUNCTION scr.audit_head() TO scr_privacy_officer, scr_admin;
GRANT EXECUTE ON FUNCTION scr.verify_audit() TO scr_privacy_officer;
SELECT pg_catalog.pg_extension_config_dump('scr.audit_seal', '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('scr.audit_seal', 'seal_id'), '');
