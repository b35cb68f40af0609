-- Attacks on the access rules that need time or merges (SECURITY-TESTS
-- items 24, 26 and 27).
SET search_path = public, scr;
\set SHOW_CONTEXT never
SET scr.allow_test_nhs_numbers = on;

INSERT INTO scr.organisation (ods_code, name, kind) VALUES ('AGP', 'Attack Practice', 'gp_practice'), ('AED', 'Attack ED', 'nhs_trust');
INSERT INTO scr.source_system (source_code, ods_code, kind) VALUES ('agp', 'AGP', 'gp'), ('aed', 'AED', 'acute');
INSERT INTO scr.feed_binding VALUES (current_user, 'agp'), (current_user, 'aed');
SELECT scr.ingest_person('agp', 'una', '{"given_name": "Una"}') AS una \gset
SELECT scr.ingest_person('aed', 'vic', '{"given_name": "Vic"}') AS vic \gset
SELECT loaded FROM scr.ingest_batch('agp', '[
 {"type": "entry", "local_id": "una", "entry": {"kind": "problem", "source_ref": "u1", "source_timestamp": "2024-01-01", "status": "active", "display": "Una problem 1"}},
 {"type": "entry", "local_id": "una", "entry": {"kind": "problem", "source_ref": "u2", "source_timestamp": "2024-01-02", "status": "active", "display": "Una problem 2"}},
 {"type": "entry", "local_id": "una", "entry": {"kind": "problem", "source_ref": "u3", "source_timestamp": "2024-01-03", "status": "active", "display": "Una problem 3"}}]');
SELECT loaded FROM scr.ingest_batch('aed', '[{"type": "entry", "local_id": "vic", "entry": {"kind": "problem", "source_ref": "v1", "source_timestamp": "2024-01-01", "status": "active", "display": "Vic problem"}}]');
INSERT INTO scr.professional (professional_id, name) VALUES ('a_ed', 'Dr Attack ED'), ('a_gp', 'Dr Attack GP');
INSERT INTO scr.role_profile VALUES ('rp_a_ed', 'a_ed', 'AED', 'R8000'), ('rp_a_gp', 'a_gp', 'AGP', 'R8000');
INSERT INTO scr.context_key (key_id, secret) VALUES ('agw', decode(repeat('77', 32), 'hex'));
CREATE ROLE regress_attack_gw LOGIN IN ROLE scr_clinical_gateway;
-- A break-glass grant that ends two seconds from now (as if it had been
-- granted earlier), for the ED doctor on Una.
INSERT INTO scr.break_glass (patient_id, professional_id, role_profile_id, ods_code, reason_code,
                             reason_text, expires_at)
VALUES (:una, 'a_ed', 'rp_a_ed', 'AED', 'emergency', 'test', statement_timestamp() + interval '2 seconds');
SELECT scr.mint_context_token('agw', 'a_ed', 'rp_a_ed', 'AED', 'ETREAT', NULL, 600) AS ed1,
       scr.mint_context_token('agw', 'a_gp', 'rp_a_gp', 'AGP', 'TREAT', NULL, 600) AS gp1,
       scr.mint_context_token('agw', 'a_ed', 'rp_a_ed', 'AED', 'ETREAT', NULL, 600) AS ed2 \gset

\c - regress_attack_gw
SET search_path = public, scr;
-- 24: expiry is checked against statement time, not transaction start: in
-- one transaction, a prepared statement and a cursor made before the grant
-- ends see nothing of Una's after it ends.  (Rows a cursor had already read
-- before then -- a sort reads all of them at the first fetch -- are still
-- delivered; this cursor reads as it goes.)
BEGIN;
SELECT scr.open_context(:'ed1');
PREPARE una_entries AS SELECT count(*) FROM scr.entry WHERE patient_id = $1;
EXECUTE una_entries(:una);
DECLARE una_cursor CURSOR FOR SELECT display FROM scr.entry WHERE patient_id = :una;
FETCH 1 FROM una_cursor;
SELECT pg_sleep(2.5);
EXECUTE una_entries(:una);
FETCH ALL FROM una_cursor;
SELECT count(*) AS entries_after_expiry FROM scr.entry WHERE patient_id = :una;
COMMIT;

-- 26: aggregates, counts, joins from other tables and pagination reveal
-- nothing hidden: the ED doctor sees only Vic's (admitted) record.
BEGIN;
SELECT scr.open_context(:'ed2');
SELECT count(*) AS all_entries, count(DISTINCT patient_id) AS patients,
       string_agg(display, ', ' ORDER BY display) AS displays FROM scr.entry;
SELECT count(*) AS via_join FROM scr.source_identifier si JOIN scr.entry e USING (patient_id);
SELECT display FROM scr.entry ORDER BY entry_id LIMIT 1 OFFSET 0;
SELECT display FROM scr.entry ORDER BY entry_id LIMIT 1 OFFSET 1;
SELECT max(effective_start) IS NULL AS no_hidden_dates, sum(length(display)) AS chars FROM scr.entry;
COMMIT;
\c - postgres

-- 27: a merge never widens access.  Una objects (dissent); Vic's record is
-- found to be Una's (merged into Una): the GP, who may see Una, sees none
-- of Vic's content either; the ED doctor, related to Vic, sees none of
-- Una's.
INSERT INTO scr.consent_directive (patient_id, provision, recorded_by) VALUES (:una, 'deny', 'test');
SELECT scr.mint_context_token('agw', 'a_gp', 'rp_a_gp', 'AGP', 'TREAT', NULL, 600) AS gp2,
       scr.mint_context_token('agw', 'a_ed', 'rp_a_ed', 'AED', 'ETREAT', NULL, 600) AS ed3 \gset
-- Merge Vic's hospital record into Una (as linkage would, across sources).
UPDATE scr.patient SET merged_into = :una WHERE patient_id = :vic;
INSERT INTO scr.patient_merge (patient_id, into_patient_id, source_code, merged_by) VALUES (:vic, :una, 'aed', 'test');
\c - regress_attack_gw
SET search_path = public, scr;
BEGIN;
SELECT scr.open_context(:'gp2');
SELECT count(*) AS gp_sees_merged_content FROM scr.entry WHERE patient_id IN (:una, :vic);
COMMIT;
BEGIN;
SELECT scr.open_context(:'ed3');
SELECT count(*) AS ed_sees_merged_content FROM scr.entry WHERE patient_id IN (:una, :vic);
SELECT count(*) AS ed_sees_identity FROM scr.patient WHERE patient_id IN (:una, :vic);
COMMIT;
\c - postgres
DROP ROLE regress_attack_gw;
