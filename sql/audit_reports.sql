-- Privacy officers' reports over the audit trail, and an event as a FHIR
-- AuditEvent.
SET search_path = public, scr;
\set SHOW_CONTEXT never
SET scr.allow_test_nhs_numbers = on;

INSERT INTO scr.organisation (ods_code, name, kind) VALUES ('PGP', 'Officer Practice', 'gp_practice'), ('PXH', 'Officer Hospital', 'nhs_trust');
INSERT INTO scr.source_system (source_code, ods_code, kind) VALUES ('pgp', 'PGP', 'gp'), ('pxh', 'PXH', 'acute');
INSERT INTO scr.feed_binding VALUES (current_user, 'pgp'), (current_user, 'pxh');
-- Dee is registered at the practice and lives at the GP's address; Eve
-- and Fay are known only to the hospital.
SELECT scr.ingest_person('pgp', 'dee', '{"given_name": "Dee", "family_name": "Watcher", "postcode": "LS1 4AP"}') AS dee \gset
SELECT scr.ingest_person('pxh', 'eve', '{"given_name": "Eve", "family_name": "Stranger"}') AS eve \gset
SELECT scr.ingest_person('pxh', 'fay', '{"given_name": "Fay", "family_name": "Other"}') AS fay \gset
SELECT loaded FROM scr.ingest_batch('pgp', '[{"type": "entry", "local_id": "dee", "entry": {"kind": "problem", "source_ref": "d1", "source_timestamp": "2024-01-01", "status": "active"}}]');
SELECT loaded FROM scr.ingest_batch('pxh', '[
 {"type": "entry", "local_id": "eve", "entry": {"kind": "problem", "source_ref": "e1", "source_timestamp": "2024-01-01", "status": "active"}},
 {"type": "entry", "local_id": "fay", "entry": {"kind": "problem", "source_ref": "f1", "source_timestamp": "2024-01-01", "status": "active"}}]');
INSERT INTO scr.professional (professional_id, name, family_name, home_postcode)
VALUES ('o_gp', 'Dr Olive Watcher', 'Watcher', 'ls14ap');
INSERT INTO scr.role_profile VALUES ('rp_o_gp', 'o_gp', 'PGP', 'R8000');
INSERT INTO scr.context_key (key_id, secret) VALUES ('ogw', decode(repeat('6b', 32), 'hex'));
CREATE ROLE regress_report_gw LOGIN IN ROLE scr_clinical_gateway;
CREATE ROLE regress_report_officer LOGIN IN ROLE scr_privacy_officer;
SELECT scr.mint_context_token('ogw', 'o_gp', 'rp_o_gp', 'PGP', 'TREAT', NULL, 600) AS t1,
       scr.mint_context_token('ogw', 'o_gp', 'rp_o_gp', 'PGP', 'ETREAT', NULL, 600) AS t2,
       scr.mint_context_token('ogw', 'o_gp', 'rp_o_gp', 'PGP', 'TREAT', NULL, 600) AS t3 \gset
-- The area's working hours, for now: one second a day, so every read is
-- out of hours.
INSERT INTO scr.working_hours (isodow, opens, closes) SELECT d, '00:00', '00:00:01' FROM generate_series(1, 7) d;

\c - regress_report_gw
SET search_path = public, scr;
-- Dee (registered), Eve under break-glass, Fay under a self-claimed relationship.
BEGIN;
SELECT scr.open_context(:'t1');
SELECT count(*) AS dee_entries FROM scr.entry WHERE patient_id = :dee;
COMMIT;
BEGIN;
SELECT scr.open_context(:'t2');
SELECT scr.break_glass(:eve, 'emergency', 'brought in unconscious') > now() AS granted;
SELECT count(*) AS eve_entries FROM scr.entry WHERE patient_id = :eve;
COMMIT;
BEGIN;
SELECT scr.open_context(:'t3');
SELECT scr.claim_relationship(:fay, 'walked in to the practice', 7) IS NOT NULL AS claimed;
SELECT count(*) AS fay_entries FROM scr.entry WHERE patient_id = :fay;
COMMIT;
\c - postgres
SET search_path = public, scr;
SELECT scr.audit_flush('30 seconds') AS flushed;

SET ROLE regress_report_officer;
-- What Dee can be told: who looked at her record, when, where from, why.
SELECT organisation, professional, job_role, purpose, what, outcome
FROM scr.patient_access_report(:dee);
SELECT what, count(*) FROM scr.patient_access_report(:eve) GROUP BY what ORDER BY what;
SELECT CASE patient_id WHEN :eve THEN 'eve' END AS patient, professional, reason_code, reason, reason_text,
       overrides_dissent, reads_during
FROM scr.break_glass_report WHERE professional_id = 'o_gp';
SELECT CASE patient_id WHEN :fay THEN 'fay' END AS patient, professional, reason, reads_during
FROM scr.self_claimed_report WHERE professional_id = 'o_gp';
SELECT CASE patient_id WHEN :eve THEN 'eve' WHEN :fay THEN 'fay' WHEN :dee THEN 'dee' END AS patient,
       under_break_glass
FROM scr.access_without_relationship_report WHERE professional_id = 'o_gp' ORDER BY patient;
SELECT CASE patient_id WHEN :eve THEN 'eve' WHEN :fay THEN 'fay' WHEN :dee THEN 'dee' END AS patient, count(*)
FROM scr.same_name_or_address_report WHERE professional_id = 'o_gp' GROUP BY 1 ORDER BY 1;
SELECT same_family_name, same_address FROM scr.same_name_or_address_report WHERE professional_id = 'o_gp';
-- With one working second a day, all three patients' reads are out of hours.
SELECT count(DISTINCT patient_id) AS out_of_hours_patients
FROM scr.out_of_hours_report WHERE professional_id = 'o_gp';
RESET ROLE;
-- Without rows of the area's own, the shipped hours are in force again.
DELETE FROM scr.working_hours;
SELECT isodow, opens, closes, time_zone FROM scr.working_hours_in_force ORDER BY isodow;
SET ROLE regress_report_officer;

-- An event as a FHIR AuditEvent.
SELECT audit_event_id AS dee_read FROM scr.audit_access
WHERE professional_id = 'o_gp' AND patient_id = :dee AND event_type = 'read' \gset
SELECT f->>'resourceType' AS resource, f#>>'{type,code}' AS type, f#>>'{subtype,0,code}' AS subtype,
       f->>'action' AS action, f->>'outcome' AS outcome,
       f#>>'{purposeOfEvent,0,coding,0,code}' AS purpose,
       f#>>'{agent,0,who,identifier,value}' AS who, f#>>'{agent,0,role,0,coding,0,code}' AS role,
       f#>>'{entity,0,what,reference}' = 'Patient/' || :dee AS names_patient,
       f#>>'{entity,1,what,display}' AS object, f->>'recorded' ~ '^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$' AS recorded_iso
FROM scr.audit_event_fhir(:dee_read) f;
SELECT audit_event_id AS eve_start FROM scr.audit_access
WHERE professional_id = 'o_gp' AND patient_id = :eve AND event_type = 'break-glass-start' \gset
SELECT f#>>'{type,code}' AS type, f#>>'{subtype,0,code}' AS subtype, f->>'outcomeDesc' AS reason,
       jsonb_path_exists(f, 'strict $.**[*] ? (@ == null)') AS has_null_element
FROM scr.audit_event_fhir(:eve_start) f;
\set ON_ERROR_STOP 0
SELECT scr.audit_event_fhir(-1);
SELECT * FROM scr.patient_access_report(-1);
RESET ROLE;
-- Nobody else runs the reports.
SET ROLE regress_report_gw;
SELECT * FROM scr.patient_access_report(:dee);
SELECT count(*) FROM scr.break_glass_report;
SELECT scr.audit_event_fhir(:dee_read);
SELECT count(*) FROM scr.audit_access;
\set ON_ERROR_STOP 1
RESET ROLE;
DELETE FROM scr.feed_binding WHERE source_code IN ('pgp', 'pxh');
DROP ROLE regress_report_gw, regress_report_officer;
