-- Auditing writes: one event per patient per statement, naming the actor;
-- the audit table is append-only.
SET search_path = public, scr;
\set SHOW_CONTEXT never
SET scr.allow_test_nhs_numbers = on;
-- (Earlier tests' events for this month are already in the default
-- partition, so this month may stay there; next month gets its own.)
SELECT scr.audit_create_partitions(1) > 0 AS partitions_made;
SELECT scr.audit_create_partitions(1) AS again_none;

INSERT INTO scr.organisation (ods_code, name, kind) VALUES ('WGP', 'Audit Practice', 'gp_practice');
INSERT INTO scr.source_system (source_code, ods_code, kind) VALUES ('wgp', 'WGP', 'gp');
CREATE ROLE regress_audit_feed LOGIN IN ROLE scr_feed;
INSERT INTO scr.feed_binding VALUES ('regress_audit_feed', 'wgp');
SELECT scr.audit_flush('30 seconds') AS flushed \gset
SELECT coalesce(max(audit_event_id), 0) AS before FROM scr.audit_event \gset

SET ROLE regress_audit_feed;
SELECT scr.ingest_person('wgp', 'wil', '{"given_name": "Wil", "nhs_number": "9990000050", "birth_date": "1944-04-04"}') AS wil \gset
SELECT scr.ingest_person('wgp', 'xan', '{"given_name": "Xan"}') AS xan \gset
SELECT loaded FROM scr.ingest_batch('wgp', '[
 {"type": "entry", "local_id": "wil", "entry": {"kind": "problem", "source_ref": "w1", "source_timestamp": "2024-01-01", "status": "active"}},
 {"type": "entry", "local_id": "wil", "entry": {"kind": "problem", "source_ref": "w2", "source_timestamp": "2024-01-01", "status": "active"}},
 {"type": "entry", "local_id": "xan", "entry": {"kind": "problem", "source_ref": "x1", "source_timestamp": "2024-01-01", "status": "active"}}]');
SELECT scr.ingest_entry('wgp', 'wil', '{"kind": "problem", "source_ref": "w1", "source_timestamp": "2024-02-01", "status": "resolved"}') IS NOT NULL AS corrected;
RESET ROLE;

-- What was written, per table and patient: the batch is one event per
-- patient with the entry ids; the correction an update and a history row.
SELECT object_table, action, CASE patient_id WHEN :wil THEN 'wil' WHEN :xan THEN 'xan' END AS patient,
       row_count, cardinality(entry_ids) AS entry_ids, caller, professional_id IS NULL AS no_professional,
       outcome, event_type, txid IS NOT NULL AS has_txid, length(statement_hash) AS hash_length
FROM scr.audit_event
WHERE audit_event_id > :before AND object_table IN ('entry', 'entry_history', 'source_identifier', 'patient')
ORDER BY object_table, action, patient, row_count;

-- Append-only: nobody changes or removes an audit row, not even the owner.
-- (Terse errors: the partition named in the detail depends on the month.)
\set ON_ERROR_STOP 0
\set VERBOSITY terse
UPDATE scr.audit_event SET caller = 'someone else' WHERE audit_event_id > :before;
DELETE FROM scr.audit_event WHERE audit_event_id > :before;
TRUNCATE scr.audit_event;
TRUNCATE scr.audit_event_default;
\set VERBOSITY default
SELECT format('TRUNCATE scr.%I', c.relname) AS trunc FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
WHERE i.inhparent = 'scr.audit_event'::regclass AND c.relname <> 'audit_event_default' ORDER BY 1 DESC LIMIT 1 \gset
\set VERBOSITY terse
:trunc;
\set VERBOSITY default
SET ROLE regress_audit_feed;
SELECT count(*) FROM scr.audit_event;
INSERT INTO scr.audit_event (action, event_type, caller, object_table, row_count) VALUES ('C', 'forged', 'x', 'entry', 1);
RESET ROLE;
\set ON_ERROR_STOP 1
SELECT count(*) > 0 AS events_intact FROM scr.audit_event WHERE audit_event_id > :before;

-- Privacy officers read the events.
CREATE ROLE regress_auditor LOGIN IN ROLE scr_privacy_officer;
SET ROLE regress_auditor;
SELECT count(*) > 0 AS officer_reads FROM scr.audit_event WHERE patient_id = :wil;
RESET ROLE;
DELETE FROM scr.feed_binding WHERE role_name = 'regress_audit_feed';
DROP ROLE regress_audit_feed, regress_auditor;
