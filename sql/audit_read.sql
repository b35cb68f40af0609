-- Auditing reads and refusals: one event per patient per statement, written
-- by the audit worker outside the reader's transaction, so rollbacks,
-- errors and READ ONLY transactions keep them.
SET search_path = public, scr;
\set SHOW_CONTEXT never
SET scr.allow_test_nhs_numbers = on;

INSERT INTO scr.organisation (ods_code, name, kind) VALUES ('QRP', 'Read Practice', 'gp_practice'), ('QRH', 'Read Hospital', 'nhs_trust');
INSERT INTO scr.source_system (source_code, ods_code, kind) VALUES ('qrp', 'QRP', 'gp'), ('qrh', 'QRH', 'acute');
INSERT INTO scr.feed_binding VALUES (current_user, 'qrp'), (current_user, 'qrh');
SELECT scr.ingest_person('qrp', 'ann', '{"given_name": "Ann", "family_name": "Reade"}') AS ann \gset
SELECT scr.ingest_person('qrp', 'bob', '{"given_name": "Bob", "family_name": "Reade"}') AS bob \gset
SELECT scr.ingest_person('qrh', 'cyd', '{"given_name": "Cyd", "family_name": "Elsewhere"}') AS cyd \gset
SELECT loaded FROM scr.ingest_batch('qrp', '[
 {"type": "entry", "local_id": "ann", "entry": {"kind": "problem", "source_ref": "a1", "source_timestamp": "2024-01-01", "status": "active", "display": "Ann problem 1"}},
 {"type": "entry", "local_id": "ann", "entry": {"kind": "problem", "source_ref": "a2", "source_timestamp": "2024-01-02", "status": "active", "display": "Ann problem 2"}},
 {"type": "entry", "local_id": "bob", "entry": {"kind": "medication", "source_ref": "b1", "source_timestamp": "2024-01-01", "status": "active", "display": "Bob medication"}}]');
-- Dee has one entry of every kind.
SELECT scr.ingest_person('qrp', 'dee', '{"given_name": "Dee", "family_name": "Reade"}') AS dee \gset
SELECT loaded FROM scr.ingest_batch('qrp', (
    SELECT jsonb_agg(jsonb_build_object('type', 'entry', 'local_id', 'dee', 'entry',
                     jsonb_build_object('kind', k.kind, 'source_ref', 'd-' || k.kind, 'display', 'Dee ' || k.kind,
                                        'source_timestamp', '2024-01-01', 'status', 'active')))
    FROM scr.entry_kind k));
SELECT loaded FROM scr.ingest_batch('qrh', '[{"type": "entry", "local_id": "cyd", "entry": {"kind": "problem", "source_ref": "c1", "source_timestamp": "2024-01-01", "status": "active", "display": "Cyd problem"}}]');
INSERT INTO scr.professional (professional_id, name) VALUES ('q_gp', 'Dr Read'), ('q_rec', 'Read Receptionist');
INSERT INTO scr.role_profile VALUES ('rp_q_gp', 'q_gp', 'QRP', 'R8000'), ('rp_q_rec', 'q_rec', 'QRP', 'R8008');
INSERT INTO scr.context_key (key_id, secret) VALUES ('qgw', decode(repeat('5a', 32), 'hex'));
CREATE ROLE regress_read_gw LOGIN IN ROLE scr_clinical_gateway;
SELECT scr.mint_context_token('qgw', 'q_gp', 'rp_q_gp', 'QRP', 'TREAT', NULL, 600) AS t1,
       scr.mint_context_token('qgw', 'q_gp', 'rp_q_gp', 'QRP', 'TREAT', NULL, 600) AS t2,
       scr.mint_context_token('qgw', 'q_gp', 'rp_q_gp', 'QRP', 'TREAT', NULL, 600) AS t3,
       scr.mint_context_token('qgw', 'q_gp', 'rp_q_gp', 'QRP', 'TREAT', NULL, 600) AS t4,
       scr.mint_context_token('qgw', 'q_gp', 'rp_q_gp', 'QRP', 'TREAT', NULL, 600) AS t5,
       scr.mint_context_token('qgw', 'q_gp', 'rp_q_gp', 'QRP', 'ETREAT', NULL, 600) AS t6,
       scr.mint_context_token('qgw', 'q_gp', 'rp_q_gp', 'QRP', 'TREAT', NULL, 600) AS t7,
       scr.mint_context_token('qgw', 'q_rec', 'rp_q_rec', 'QRP', 'TREAT', NULL, 600) AS rec \gset
SELECT scr.audit_flush('30 seconds') AS flushed \gset
SELECT coalesce(max(audit_event_id), 0) AS before FROM scr.audit_event \gset

\c - regress_read_gw
SET search_path = public, scr;
-- No context: no rows, so nothing to audit.
SELECT count(*) AS without_context FROM scr.entry;
-- 1. One statement over two patients: one event each, with its row count.
BEGIN;
SELECT scr.open_context(:'t1');
SELECT display FROM scr.clinical_entry WHERE patient_id IN (:ann, :bob) ORDER BY display;
-- 2. A view over one kind, and a function.
SELECT display FROM scr.problems WHERE patient_id = :bob;
SELECT count(*) AS ann_entries FROM scr.patient_entries(:ann);
COMMIT;
-- 3. A transaction that rolls back keeps its read.
BEGIN;
SELECT scr.open_context(:'t2');
SELECT display FROM scr.medications WHERE patient_id = :bob;
ROLLBACK;
-- 4. A statement that fails after reading keeps its read.
BEGIN;
SELECT scr.open_context(:'t3');
SELECT 1 / (count(*) - 2) AS fails FROM scr.entry WHERE patient_id = :ann;
ROLLBACK;
-- 5. A READ ONLY transaction, and COPY (a table and a query).  (Opening a
-- context records its token's nonce, so it comes first.)
BEGIN;
SELECT scr.open_context(:'t4');
SET TRANSACTION READ ONLY;
COPY (SELECT display FROM scr.entry WHERE patient_id = :bob) TO STDOUT;
COPY scr.entry (display) TO STDOUT;  -- every patient's rows, Dee's too
COMMIT;
-- 6. Refusals: a bad token, a patient without a relationship, break-glass
-- without the emergency-access activity.
\set ON_ERROR_STOP 0
SELECT scr.open_context('not-a-token');
BEGIN;
SELECT scr.open_context(:'t5');
SELECT * FROM scr.patient_summary(:cyd);
ROLLBACK;
BEGIN;
SELECT scr.open_context(:'rec');
SELECT scr.break_glass(:cyd, 'emergency', 'unconscious in the waiting room');
ROLLBACK;
\set ON_ERROR_STOP 1
-- 7. Every clinical view: one of Dee's entries of each kind, read through
-- the view for its kind; each statement's event names the view.
BEGIN;
SELECT scr.open_context(:'t7');
SELECT count(*) AS problems FROM scr.problems WHERE patient_id = :dee;
SELECT count(*) AS medications FROM scr.medications WHERE patient_id = :dee;
SELECT count(*) AS allergies FROM scr.allergies WHERE patient_id = :dee;
SELECT count(*) AS encounters FROM scr.encounters WHERE patient_id = :dee;
SELECT count(*) AS observations FROM scr.observations WHERE patient_id = :dee;
SELECT count(*) AS procedures FROM scr.procedures WHERE patient_id = :dee;
SELECT count(*) AS documents FROM scr.documents WHERE patient_id = :dee;
SELECT count(*) AS alerts FROM scr.alerts WHERE patient_id = :dee;
SELECT count(*) AS social_care_assessments FROM scr.social_care_assessments WHERE patient_id = :dee;
SELECT count(*) AS end_of_life_preferences FROM scr.end_of_life_preferences WHERE patient_id = :dee;
SELECT count(*) AS care_plans FROM scr.care_plans WHERE patient_id = :dee;
SELECT count(*) AS summary_kinds FROM scr.patient_summary(:dee);
COMMIT;
-- 8. Break-glass: its start and end are events, and what is read under it
-- is audited like any read.
BEGIN;
SELECT scr.open_context(:'t6');
SELECT scr.break_glass(:cyd, 'emergency', 'collapsed in clinic') > now() AS granted;
SELECT display FROM scr.entry WHERE patient_id = :cyd;
SELECT scr.end_break_glass(:cyd);
COMMIT;
\c - postgres
SET search_path = public, scr;

-- Everything queued is written by the worker.
SELECT scr.audit_flush('30 seconds') AS flushed;
SELECT event_type, action, outcome,
       CASE patient_id WHEN :ann THEN 'ann' WHEN :bob THEN 'bob' WHEN :cyd THEN 'cyd' WHEN :dee THEN 'dee' END AS patient,
       object_table, row_count, professional_id, role_profile_id, purpose, caller, outcome_reason,
       txid IS NULL AS no_txid, length(statement_hash) AS hash_length
FROM scr.audit_event
WHERE audit_event_id > :before AND event_type IN ('read', 'refused')
ORDER BY recorded_at, patient;

-- The grant's start (in the granting transaction) and its end (recorded by
-- the audit worker, or here, once).
SELECT scr.audit_break_glass_ends() >= 0 AS ends_recorded;
SELECT event_type, action, professional_id, outcome_reason, break_glass_id IS NOT NULL AS names_grant,
       CASE patient_id WHEN :cyd THEN 'cyd' END AS patient
FROM scr.audit_event
WHERE audit_event_id > :before AND event_type LIKE 'break-glass%' AND patient_id = :cyd
ORDER BY audit_event_id;
SELECT scr.audit_break_glass_ends() AS ends_recorded_again;

-- The reads' events came from the worker's transactions, not the readers'.
SELECT count(DISTINCT inserted_xact) > 0 AS written_by_worker,
       bool_and(txid IS NULL OR txid::text::xid8 <> inserted_xact) AS not_in_reader_xact
FROM scr.audit_event WHERE audit_event_id > :before AND event_type = 'read';

-- A client cannot write its own events or see the queue.
\c - regress_read_gw
\set ON_ERROR_STOP 0
SELECT scr.audit_refusal(NULL, 'x', 'forged');
SELECT * FROM scr.audit_queue_status();
SELECT scr.audit_flush('1 second');
\set ON_ERROR_STOP 1
\c - postgres
SELECT queued, capacity FROM scr.audit_queue_status()
WHERE database_oid = (SELECT oid FROM pg_database WHERE datname = current_database());

DELETE FROM scr.feed_binding WHERE source_code IN ('qrp', 'qrh');
DROP ROLE regress_read_gw;
