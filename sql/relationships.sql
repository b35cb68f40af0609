-- Finding a patient, self-claimed and colleague-granted relationships, and
-- per-organisation sharing agreements.
SET search_path = public, scr;
\set SHOW_CONTEXT never
SET scr.allow_test_nhs_numbers = on;

INSERT INTO scr.organisation (ods_code, name, kind) VALUES
    ('RGP', 'Rel Practice', 'gp_practice'), ('RWI', 'Walk-in Centre', 'nhs_trust'),
    ('RPR', 'Private Clinic', 'independent_provider');
INSERT INTO scr.source_system (source_code, ods_code, kind) VALUES ('rgp', 'RGP', 'gp'), ('rpr', 'RPR', 'other');
INSERT INTO scr.feed_binding VALUES (current_user, 'rgp'), (current_user, 'rpr');
SELECT scr.ingest_person('rgp', 'jo', '{"given_name": "Jo", "nhs_number": "9990000042", "birth_date": "1955-05-05"}') AS jo \gset
SELECT scr.ingest_person('rpr', 'p-jo', '{"nhs_number": "9990000042", "birth_date": "1955-05-05"}') = :jo AS linked;
SELECT loaded FROM scr.ingest_batch('rgp', '[{"type": "entry", "local_id": "jo", "entry": {"kind": "problem", "source_ref": "j1", "source_timestamp": "2024-01-01", "status": "active", "display": "Angina"}}]');
SELECT loaded FROM scr.ingest_batch('rpr', '[{"type": "entry", "local_id": "p-jo", "entry": {"kind": "procedure", "source_ref": "p1", "source_timestamp": "2024-01-01", "status": "completed", "display": "Private knee operation"}}]');
INSERT INTO scr.professional (professional_id, name) VALUES ('r_wi', 'Nurse Walk-in'), ('r_gp', 'Dr Rel'), ('r_col', 'Dr Colleague');
INSERT INTO scr.role_profile VALUES ('rp_r_wi', 'r_wi', 'RWI', 'R8001'), ('rp_r_gp', 'r_gp', 'RGP', 'R8000'),
    ('rp_r_col', 'r_col', 'RWI', 'R8000');
INSERT INTO scr.context_key (key_id, secret) VALUES ('rgw', decode(repeat('33', 32), 'hex'));
CREATE ROLE regress_rel_gw LOGIN IN ROLE scr_clinical_gateway;
CREATE ROLE regress_po LOGIN IN ROLE scr_privacy_officer;
SELECT scr.mint_context_token('rgw', 'r_wi', 'rp_r_wi', 'RWI', 'TREAT') AS wi1,
       scr.mint_context_token('rgw', 'r_wi', 'rp_r_wi', 'RWI', 'TREAT') AS wi2,
       scr.mint_context_token('rgw', 'r_gp', 'rp_r_gp', 'RGP', 'TREAT') AS gp1,
       scr.mint_context_token('rgw', 'r_gp', 'rp_r_gp', 'RGP', 'TREAT') AS gp2,
       scr.mint_context_token('rgw', 'r_col', 'rp_r_col', 'RWI', 'TREAT') AS col1,
       scr.mint_context_token('rgw', 'r_gp', 'rp_r_gp', 'RGP', 'TREAT') AS gp3,
       scr.mint_context_token('rgw', 'r_wi', 'rp_r_wi', 'RWI', 'TREAT', NULL, 2) AS wi_short \gset

\c - regress_rel_gw
SET search_path = public, scr;
-- A walk-in centre nurse finds Jo by NHS number (the id only), sees nothing
-- yet, claims a relationship (with a reason), and then sees her record.
BEGIN;
SELECT scr.open_context(:'wi1');
SELECT scr.find_patient('999 000 0042') = :jo AS found;
SELECT count(*) AS before_claim FROM scr.entry WHERE patient_id = :jo;
SAVEPOINT s;
\set VERBOSITY sqlstate
SELECT scr.claim_relationship(:jo, '   ');
ROLLBACK TO s;
SELECT scr.claim_relationship(:jo, 'walked in with chest pain', 7) IS NOT NULL AS claimed;
\set VERBOSITY default
SELECT display FROM scr.entry WHERE patient_id = :jo ORDER BY 1;
COMMIT;
-- Unknown numbers find nobody.
BEGIN;
SELECT scr.open_context(:'wi2');
SELECT scr.find_patient('999 000 0050') IS NULL AS nobody;
COMMIT;
-- Without a context, no search.
\set ON_ERROR_STOP 0
SELECT scr.find_patient('999 000 0042');
\set ON_ERROR_STOP 1

-- The GP grants a colleague at the walk-in centre a relationship.
BEGIN;
SELECT scr.open_context(:'gp1');
SELECT scr.grant_relationship(:jo, 'r_col', 14) IS NOT NULL AS granted;
COMMIT;
BEGIN;
SELECT scr.open_context(:'col1');
SELECT display FROM scr.entry WHERE patient_id = :jo ORDER BY 1;
COMMIT;

-- The private clinic stops sharing out: the GP no longer sees its entry,
-- and the summary says why.
\c - postgres
INSERT INTO scr.organisation_sharing (ods_code, shares_out) VALUES ('RPR', false);
\c - regress_rel_gw
SET search_path = public, scr;
BEGIN;
SELECT scr.open_context(:'gp2');
SELECT display FROM scr.entry WHERE patient_id = :jo ORDER BY 1;
SELECT * FROM scr.patient_summary(:jo);
COMMIT;

-- An expired session context opens nothing: no search, no claim.
SELECT scr.open_context(:'wi_short', true);
SELECT scr.find_patient('999 000 0042') IS NOT NULL AS found_while_valid;
SELECT pg_sleep(2.5);
\set ON_ERROR_STOP 0
SELECT scr.find_patient('999 000 0042');
SELECT scr.claim_relationship(:jo, 'after expiry', 1);
\set ON_ERROR_STOP 1
SELECT scr.close_context();

-- Episodes of care: the practice's feed deregisters Jo.  The registration
-- ends, the GP no longer sees her, and a later demographics update from the
-- practice does not reopen it; a re-registration does.
\c - postgres
SET search_path = public, scr;
SET scr.allow_test_nhs_numbers = on;
SELECT scr.end_care_relationship('rgp', 'jo') AS ended,
       scr.end_care_relationship('rgp', 'jo') AS ended_again;
SELECT scr.ingest_person('rgp', 'jo', '{"given_name": "Jo", "nhs_number": "9990000042", "birth_date": "1955-05-05", "address": "new"}') = :jo AS same;
SELECT ods_code, kind, valid_to IS NOT NULL AS ended FROM scr.relationship
WHERE patient_id = :jo AND ods_code IS NOT NULL ORDER BY relationship_id;
\set VERBOSITY sqlstate
\set ON_ERROR_STOP 0
SELECT scr.end_care_relationship('rgp', 'nobody');
SELECT scr.start_care_relationship('rgp', '  ');
\set VERBOSITY default
SELECT scr.end_care_relationship('rpr', 'p-jo', '2000-01-01');
\set ON_ERROR_STOP 1
SELECT scr.mint_context_token('rgw', 'r_gp', 'rp_r_gp', 'RGP', 'TREAT') AS gp4,
       scr.mint_context_token('rgw', 'r_gp', 'rp_r_gp', 'RGP', 'TREAT') AS gp5 \gset
\c - regress_rel_gw
SET search_path = public, scr;
BEGIN;
SELECT scr.open_context(:'gp4');
SELECT count(*) AS gp_sees_after_deregistration FROM scr.entry WHERE patient_id = :jo;
COMMIT;
\c - postgres
SET search_path = public, scr;
SELECT scr.start_care_relationship('rgp', 'jo') = scr.start_care_relationship('rgp', 'jo') AS one_open;
SELECT ods_code, kind, valid_to IS NOT NULL AS ended FROM scr.relationship
WHERE patient_id = :jo AND ods_code = 'RGP' ORDER BY relationship_id;
\c - regress_rel_gw
SET search_path = public, scr;
BEGIN;
SELECT scr.open_context(:'gp5');
SELECT display FROM scr.entry WHERE patient_id = :jo ORDER BY 1;
COMMIT;
-- A wrong merge leaves no relationship with the wrong person: the clinic
-- merges Pam into Pat by mistake, the practice sends Pam meanwhile, and after
-- the unmerge the practice's registration is with Pam, not Pat.
\c - postgres
SET search_path = public, scr;
SET scr.allow_test_nhs_numbers = on;
SELECT scr.ingest_person('rpr', 'pat', '{"given_name": "Pat", "nhs_number": "9990000107", "birth_date": "1970-01-01"}') AS pat,
       scr.ingest_person('rpr', 'pam', '{"given_name": "Pam", "nhs_number": "9990000115", "birth_date": "1971-01-01"}') AS pam \gset
SELECT scr.merge_patients('rpr', 'pam', 'pat') = :pat AS merged;
SELECT scr.ingest_person('rgp', 'g-pam', '{"given_name": "Pam", "nhs_number": "9990000115", "birth_date": "1971-01-01"}') = :pat AS reads_as_survivor;
SELECT scr.unmerge_patients('rpr', 'pam') = :pam AS unmerged;
SELECT p.given_name, r.kind FROM scr.relationship r JOIN scr.patient p USING (patient_id)
WHERE r.ods_code = 'RGP' AND r.patient_id IN (:pat, :pam);
-- Ending an episode ends it for every record of a merged group.
SELECT scr.merge_patients('rpr', 'pam', 'pat') = :pat AS merged_again;
SELECT scr.end_care_relationship('rpr', 'pat') AS clinic_ended;
SELECT count(*) AS clinic_open FROM scr.relationship r
WHERE r.ods_code = 'RPR' AND r.patient_id IN (:pat, :pam) AND r.valid_to IS NULL;

-- Only feed roles may call them.
\c - regress_rel_gw
\set VERBOSITY sqlstate
\set ON_ERROR_STOP 0
SELECT scr.end_care_relationship('rgp', 'jo');
\set ON_ERROR_STOP 1
\set VERBOSITY default

-- Privacy officers see the self-claim alert.
\c - regress_po
SELECT kind, professional_id, detail FROM scr.privacy_alert WHERE professional_id LIKE 'r\_%' ORDER BY 1;
\c - postgres
DROP ROLE regress_rel_gw, regress_po;
