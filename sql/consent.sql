-- Consent directives and break-glass, applied by the row-level policies.
SET search_path = public, scr;
\set SHOW_CONTEXT never
SET scr.allow_test_nhs_numbers = on;

INSERT INTO scr.organisation (ods_code, name, kind) VALUES
    ('CGP', 'Consent Practice', 'gp_practice'), ('CED', 'Consent ED', 'nhs_trust'),
    ('CSH', 'Consent Sexual Health', 'nhs_trust');
INSERT INTO scr.source_system (source_code, ods_code, kind) VALUES
    ('cgp', 'CGP', 'gp'), ('csh', 'CSH', 'other');
INSERT INTO scr.feed_binding VALUES (current_user, 'cgp'), (current_user, 'csh');
SELECT scr.ingest_person('cgp', 'dee', '{"given_name": "Dee", "nhs_number": "9990000026", "birth_date": "1960-01-01"}') AS dee \gset
SELECT scr.ingest_person('csh', 's-dee', '{"nhs_number": "9990000026", "birth_date": "1960-01-01"}') = :dee AS linked;
SELECT scr.ingest_person('cgp', 'eli', '{"given_name": "Eli"}') AS eli \gset
SELECT loaded FROM scr.ingest_batch('cgp', '[
 {"type": "entry", "local_id": "dee", "entry": {"kind": "problem", "source_ref": "d1", "source_timestamp": "2024-01-01", "status": "active", "display": "Asthma"}},
 {"type": "entry", "local_id": "dee", "entry": {"kind": "medication", "source_ref": "d2", "source_timestamp": "2024-01-01", "status": "active", "display": "Salbutamol"}},
 {"type": "entry", "local_id": "eli", "entry": {"kind": "problem", "source_ref": "e1", "source_timestamp": "2024-01-01", "status": "active", "display": "Gout"}}]');
SELECT loaded FROM scr.ingest_batch('csh', '[{"type": "entry", "local_id": "s-dee", "entry": {"kind": "observation", "source_ref": "s1", "source_timestamp": "2024-01-01", "status": "final", "display": "Chlamydia test", "sensitivity": "R", "sensitivity_category": "hiv_sti"}}]');

INSERT INTO scr.professional (professional_id, name) VALUES
    ('c_gp', 'Dr Practice'), ('c_ed', 'Dr Emergency'), ('c_clerk', 'Clerk'), ('c_po', 'Privacy Officer');
INSERT INTO scr.role_profile VALUES
    ('rp_c_gp', 'c_gp', 'CGP', 'R8000'), ('rp_c_ed', 'c_ed', 'CED', 'R8000'),
    ('rp_c_clerk', 'c_clerk', 'CED', 'R8008');
-- The ED doctor may also override dissent under a legal basis (B0082).
INSERT INTO scr.job_role VALUES ('R9999', 'Emergency Consultant With Legal Override');
INSERT INTO scr.job_role_activity SELECT 'R9999', activity FROM scr.job_role_activity WHERE job_role = 'R8000';
INSERT INTO scr.job_role_activity VALUES ('R9999', 'B0082'), ('R8000', 'B0015');
INSERT INTO scr.role_profile VALUES ('rp_c_ed_legal', 'c_ed', 'CED', 'R9999');
INSERT INTO scr.context_key (key_id, secret) VALUES ('cgw', decode(repeat('17', 32), 'hex'));
CREATE ROLE regress_consent_gw LOGIN IN ROLE scr_clinical_gateway;

-- sees(token): what one acting professional sees, and whatever else q does.
CREATE FUNCTION public.csees(token text, q text DEFAULT NULL) RETURNS TABLE (patients text, entries text, result text)
LANGUAGE plpgsql AS $$
DECLARE r text;
BEGIN
    PERFORM scr.open_context(token);
    IF q IS NOT NULL THEN
        BEGIN
            EXECUTE q INTO r;
        EXCEPTION WHEN OTHERS THEN
            r := SQLSTATE || ' ' || SQLERRM;
        END;
    END IF;
    RETURN QUERY SELECT
        (SELECT coalesce(string_agg(given_name, ', ' ORDER BY given_name), '-') FROM scr.patient
         WHERE patient_id IN (SELECT patient_id FROM scr.source_identifier WHERE source_code IN ('cgp', 'csh'))),
        (SELECT coalesce(string_agg(display, ', ' ORDER BY display), '-') FROM scr.entry
         WHERE source_code IN ('cgp', 'csh')),
        r;
END $$;
GRANT EXECUTE ON FUNCTION public.csees(text, text) TO regress_consent_gw;
SELECT scr.mint_context_token('cgw', 'c_gp', 'rp_c_gp', 'CGP', 'TREAT', NULL, 600) AS gp1,
       scr.mint_context_token('cgw', 'c_gp', 'rp_c_gp', 'CGP', 'TREAT', NULL, 600) AS gp2,
       scr.mint_context_token('cgw', 'c_gp', 'rp_c_gp', 'CGP', 'TREAT', NULL, 600) AS gp3,
       scr.mint_context_token('cgw', 'c_gp', 'rp_c_gp', 'CGP', 'TREAT', NULL, 600) AS gp4,
       scr.mint_context_token('cgw', 'c_gp', 'rp_c_gp', 'CGP', 'TREAT', NULL, 600) AS gp5,
       scr.mint_context_token('cgw', 'c_ed', 'rp_c_ed', 'CED', 'ETREAT', NULL, 600) AS ed1,
       scr.mint_context_token('cgw', 'c_ed', 'rp_c_ed', 'CED', 'ETREAT', NULL, 600) AS ed2,
       scr.mint_context_token('cgw', 'c_ed', 'rp_c_ed', 'CED', 'ETREAT', NULL, 600) AS ed3,
       scr.mint_context_token('cgw', 'c_ed', 'rp_c_ed', 'CED', 'ETREAT', NULL, 600) AS ed4,
       scr.mint_context_token('cgw', 'c_ed', 'rp_c_ed_legal', 'CED', 'ETREAT', NULL, 600) AS edl1,
       scr.mint_context_token('cgw', 'c_ed', 'rp_c_ed_legal', 'CED', 'ETREAT', NULL, 600) AS edl2,
       scr.mint_context_token('cgw', 'c_clerk', 'rp_c_clerk', 'CED', 'ETREAT', NULL, 600) AS clerk1,
       scr.mint_context_token('cgw', 'c_gp', 'rp_c_gp', 'CGP', 'TREAT', NULL, 600) AS gp6,
       scr.mint_context_token('cgw', 'c_gp', 'rp_c_gp', 'CGP', 'TREAT', NULL, 600) AS gp7,
       scr.mint_context_token('cgw', 'c_ed', 'rp_c_ed', 'CED', 'ETREAT', NULL, 600) AS ed5,
       scr.mint_context_token('cgw', 'c_gp', 'rp_c_gp', 'CGP', 'TREAT', NULL, 600) AS gp8,
       scr.mint_context_token('cgw', 'c_gp', 'rp_c_gp', 'CGP', 'TREAT', NULL, 600) AS gp9,
       scr.mint_context_token('cgw', 'c_ed', 'rp_c_ed', 'CED', 'ETREAT', NULL, 600) AS ed6,
       scr.mint_context_token('cgw', 'c_gp', 'rp_c_gp', 'CGP', 'TREAT', NULL, 600) AS gp10,
       scr.mint_context_token('cgw', 'c_ed', 'rp_c_ed', 'CED', 'ETREAT', NULL, 600) AS ed7,
       scr.mint_context_token('cgw', 'c_clerk', 'rp_c_clerk', 'CED', 'ETREAT', NULL, 600) AS clerk2 \gset

\c - regress_consent_gw
SET search_path = public, scr;
-- Before any directive: the practice sees both patients but not the
-- clinic's sealed result; the ED doctor has no relationship.
SELECT 'gp' AS who, * FROM public.csees(:'gp1');
SELECT 'ed' AS who, * FROM public.csees(:'ed1');

-- Break-glass: refused without a reason, with a bad duration, or for a
-- role without emergency access; each refusal says why.
SELECT 'ed' AS who, result FROM public.csees(:'ed2', format('SELECT scr.break_glass(%s, %L, %L)', :dee, 'emergency', '   '));
SELECT 'ed' AS who, result FROM public.csees(:'ed3', format('SELECT scr.break_glass(%s, %L, %L, 0)', :dee, 'emergency', 'unconscious in resus'));
SELECT 'clerk' AS who, result FROM public.csees(:'clerk1', format('SELECT scr.break_glass(%s, %L, %L)', :dee, 'emergency', 'asked to'));
SELECT 'ed' AS who, result FROM public.csees(:'ed4', format('SELECT scr.break_glass(%s, %L, %L)', :dee, 'whim', E'bad\ncode'));
-- Granted: the ED doctor sees Dee for the grant's time (capped).
SELECT 'ed' AS who, patients, entries, result IS NOT NULL AS granted
FROM public.csees(:'edl1', format('SELECT scr.break_glass(%s, %L, %L, 100000)', :dee, 'emergency', 'unconscious in resus'));

-- Dee objects to sharing (dissent), recorded by her GP: her content is
-- hidden from everyone, her identity stays.
SELECT 'gp' AS who, patients, entries, result IS NOT NULL AS recorded
FROM public.csees(:'gp2', format('SELECT scr.record_consent(%s, %L)', :dee, 'deny'));
SELECT 'gp' AS who, * FROM public.csees(:'gp3');
-- The patient summary says what is withheld and why, never what.
BEGIN;
SELECT scr.open_context(:'gp8');
SELECT * FROM scr.patient_summary(:dee);
SELECT kind, display, ods_code FROM scr.clinical_entry WHERE patient_id = :eli;
COMMIT;
-- The ED doctor's break-glass, still running, does not override dissent:
-- the stub only.
SELECT 'ed' AS who, * FROM public.csees(:'ed5');
-- A legal override does, and is alerted separately.
SELECT 'ed legal' AS who, patients, entries, result IS NOT NULL AS granted
FROM public.csees(:'edl2', format('SELECT scr.break_glass(%s, %L, %L, 30, true)', :dee, 'legal', 'court order 123'));
\c - postgres
SELECT kind, professional_id, detail FROM scr.privacy_alert ORDER BY privacy_alert_id;
SELECT reason_code, overrides_dissent, expires_at - started_at AS granted_for FROM scr.break_glass ORDER BY break_glass_id;
-- Withdrawing the dissent restores sharing.
SELECT directive_id AS dissent FROM scr.consent_directive WHERE patient_id = :dee AND provision = 'deny' \gset
\c - regress_consent_gw
SET search_path = public, scr;
SELECT 'gp' AS who, patients, entries, result FROM public.csees(:'gp4', format('SELECT scr.withdraw_consent(%s, %s)', :dee, :dissent));
-- Dee permits her GP to see her sexual health results: unsealed for them only.
SELECT 'gp' AS who, patients, entries, result IS NOT NULL AS recorded
FROM public.csees(:'gp5', format('SELECT scr.record_consent(%s, %L, actor_ods => %L, sensitivity_category => %L)', :dee, 'permit', 'CGP', 'hiv_sti'));
SELECT 'gp' AS who, * FROM public.csees(:'gp6');
-- The ED doctor (break-glass, no seal permit) is told the clinic's result
-- is sealed; the summary refuses a patient the caller may not see.
BEGIN;
SELECT scr.open_context(:'ed6');
SELECT * FROM scr.patient_summary(:dee);
SELECT display FROM scr.observations WHERE patient_id = :dee;
SAVEPOINT s;
\set VERBOSITY sqlstate
SELECT * FROM scr.patient_summary(:eli);
\set VERBOSITY default
ROLLBACK TO s;
COMMIT;
-- A denial of one kind hides only that kind.
SELECT 'gp' AS who, patients, entries, result IS NOT NULL AS recorded
FROM public.csees(:'gp7', format('SELECT scr.record_consent(%s, %L, entry_kind => %L)', :eli, 'deny', 'problem'));

BEGIN;
SELECT scr.open_context(:'gp9');
SELECT * FROM scr.patient_summary(:eli);
SELECT count(*) AS eli_problems_visible FROM scr.problems WHERE patient_id = :eli;
COMMIT;

-- Directives the rules would not apply are refused, not stored.
SELECT 'gp' AS who, result FROM public.csees(:'gp10', format(
    'SELECT scr.record_consent(%s, %L, entry_kind => %L)', :eli, 'deny', 'Problems'));
\c - postgres
SELECT directive_id AS eli_denial FROM scr.consent_directive WHERE patient_id = :eli \gset
SELECT scr.mint_context_token('cgw', 'c_gp', 'rp_c_gp', 'CGP', 'TREAT', NULL, 600) AS gp11,
       scr.mint_context_token('cgw', 'c_gp', 'rp_c_gp', 'CGP', 'TREAT', NULL, 600) AS gp12 \gset
\c - regress_consent_gw
SET search_path = public, scr;
SELECT 'gp' AS who, result FROM public.csees(:'gp11', format(
    'SELECT scr.record_consent(%s, %L)', :eli, 'permit'));
SELECT 'gp' AS who, result FROM public.csees(:'gp12', format(
    'SELECT scr.record_consent(%s, %L, actor_ods => %L, entry_kind => %L)', :eli, 'permit', 'CED', 'problem'));
-- Withdrawing needs a relationship too: the ED doctor has none with Eli.
SELECT 'ed' AS who, result FROM public.csees(:'ed7', format('SELECT scr.withdraw_consent(%s, %s)', :eli, :eli_denial));
-- A role without emergency access learns nothing, not even whether a patient exists.
SELECT 'clerk' AS who, result FROM public.csees(:'clerk2', 'SELECT scr.break_glass(999999, ''emergency'', ''x'')');

-- Actors beyond a professional or an organisation: a team and a job role.
-- The ED doctor joins the acute team; a second ED doctor is in no team.
-- Eli's denial of her problems to everyone is withdrawn first.
\c - postgres
UPDATE scr.consent_directive SET status = 'inactive' WHERE patient_id = :eli AND provision = 'deny';
INSERT INTO scr.team VALUES ('ced_acute', 'CED', 'Acute medicine');
INSERT INTO scr.team_member VALUES ('ced_acute', 'c_ed');
INSERT INTO scr.professional (professional_id, name) VALUES ('c_ed2', 'Dr Locum');
INSERT INTO scr.role_profile VALUES ('rp_c_ed2', 'c_ed2', 'CED', 'R8000');
SELECT scr.mint_context_token('cgw', 'c_gp', 'rp_c_gp', 'CGP', 'TREAT', NULL, 600) AS gp13,
       scr.mint_context_token('cgw', 'c_gp', 'rp_c_gp', 'CGP', 'TREAT', NULL, 600) AS gp14,
       scr.mint_context_token('cgw', 'c_gp', 'rp_c_gp', 'CGP', 'TREAT', NULL, 600) AS gp15,
       scr.mint_context_token('cgw', 'c_gp', 'rp_c_gp', 'CGP', 'TREAT', NULL, 600) AS gp16,
       scr.mint_context_token('cgw', 'c_gp', 'rp_c_gp', 'CGP', 'TREAT', NULL, 600) AS gp17,
       scr.mint_context_token('cgw', 'c_gp', 'rp_c_gp', 'CGP', 'TREAT', NULL, 600) AS gp18,
       scr.mint_context_token('cgw', 'c_ed', 'rp_c_ed', 'CED', 'ETREAT', NULL, 600) AS ed8,
       scr.mint_context_token('cgw', 'c_ed', 'rp_c_ed', 'CED', 'ETREAT', NULL, 600) AS ed9,
       scr.mint_context_token('cgw', 'c_ed', 'rp_c_ed_legal', 'CED', 'ETREAT', NULL, 600) AS edl3,
       scr.mint_context_token('cgw', 'c_ed2', 'rp_c_ed2', 'CED', 'ETREAT', NULL, 600) AS locum1,
       scr.mint_context_token('cgw', 'c_ed2', 'rp_c_ed2', 'CED', 'ETREAT', :eli, 600) AS locum2,
       scr.mint_context_token('cgw', 'c_ed2', 'rp_c_ed2', 'CED', 'ETREAT', NULL, 600) AS locum3,
       scr.mint_context_token('cgw', 'c_ed2', 'rp_c_ed2', 'CED', 'ETREAT', :eli, 600) AS locum4 \gset
\c - regress_consent_gw
SET search_path = public, scr;
-- Eli permits the acute team to see her record: its member sees her, under
-- either of his role profiles; the locum, in no team, does not.
SELECT 'gp' AS who, result IS NOT NULL AS recorded FROM public.csees(:'gp13', format(
    'SELECT scr.record_consent(%s, %L, actor_team => %L)', :eli, 'permit', 'ced_acute'));
SELECT 'ed, team member' AS who, patients, entries FROM public.csees(:'ed8');
SELECT 'locum' AS who, patients, entries FROM public.csees(:'locum1');
-- She denies her problems to one job role: the same doctor, acting in that
-- role, no longer sees them; in his other role he still does.
SELECT 'gp' AS who, result IS NOT NULL AS recorded FROM public.csees(:'gp14', format(
    'SELECT scr.record_consent(%s, %L, actor_job_role => %L, entry_kind => %L)', :eli, 'deny', 'R9999', 'problem'));
SELECT 'ed, legal role' AS who, patients, entries FROM public.csees(:'edl3');
-- Permission to view once, for the locum: nothing until the locum opens
-- Eli's record (a context with her as the patient), then her record for
-- that context's life.
SELECT 'gp' AS who, result IS NOT NULL AS recorded FROM public.csees(:'gp15', format(
    'SELECT scr.record_consent(%s, %L, actor_professional => %L, once => true)', :eli, 'permit', 'c_ed2'));
SELECT 'locum, no patient opened' AS who, patients, entries FROM public.csees(:'locum3');
SELECT 'locum, Eli opened' AS who, patients, entries FROM public.csees(:'locum2');
\c - postgres
SELECT provision, actor_professional, once, used_at IS NOT NULL AS used,
       valid_to - used_at BETWEEN interval '9 minutes' AND interval '10 minutes' AS until_the_token_expires
FROM scr.consent_directive WHERE patient_id = :eli AND once;
-- Once that viewing is over, opening her record again gives nothing: the
-- permission is spent.
UPDATE scr.consent_directive SET valid_from = valid_from - interval '2 hours',
    used_at = used_at - interval '2 hours', valid_to = statement_timestamp() - interval '1 hour'
WHERE patient_id = :eli AND once;
-- Leaving the team ends the team's permission for him (from the next
-- statement, in every session: the access cache watches team membership).
DELETE FROM scr.team_member WHERE team_id = 'ced_acute' AND professional_id = 'c_ed';
\c - regress_consent_gw
SET search_path = public, scr;
SELECT 'locum, Eli opened again' AS who, patients, entries FROM public.csees(:'locum4');
SELECT 'ed, left the team' AS who, patients, entries FROM public.csees(:'ed9');
-- Refused: two actors; "once" on a denial or an unsealing; an unknown team.
SELECT 'gp' AS who, result FROM public.csees(:'gp16', format(
    'SELECT scr.record_consent(%s, %L, actor_ods => %L, actor_team => %L)', :eli, 'permit', 'CED', 'ced_acute'));
SELECT 'gp' AS who, result FROM public.csees(:'gp17', format(
    'SELECT scr.record_consent(%s, %L, once => true)', :eli, 'deny'));
BEGIN;
SELECT scr.open_context(:'gp18');
\set ON_ERROR_ROLLBACK on
\set ON_ERROR_STOP 0
SELECT scr.record_consent(:eli, 'permit', actor_professional => 'c_ed2', sensitivity_category => 'hiv_sti', once => true);
SELECT scr.record_consent(:eli, 'permit', actor_team => 'no_such_team');
\set ON_ERROR_STOP 1
\set ON_ERROR_ROLLBACK off
ROLLBACK;

\c - postgres
DROP FUNCTION public.csees(text, text);
DROP ROLE regress_consent_gw;
