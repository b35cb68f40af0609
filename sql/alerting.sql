-- Alerting: the shipped rules (End of Life patient admitted or at A&E, a
-- safeguarding alert, a death, an overdue task), subscriptions, folding of
-- repeats, what each recipient sees, acknowledging and dismissing.
SET search_path = public, scr;
\set SHOW_CONTEXT never
SET scr.allow_test_nhs_numbers = on;

INSERT INTO scr.organisation (ods_code, name, kind) VALUES
    ('NGP', 'Alert Practice', 'gp_practice'), ('NSC', 'Alert Council', 'local_authority'), ('NXH', 'Alert Hospital', 'nhs_trust');
INSERT INTO scr.source_system (source_code, ods_code, kind) VALUES ('ngp', 'NGP', 'gp'), ('nsc', 'NSC', 'social_care'), ('nxh', 'NXH', 'acute');
INSERT INTO scr.feed_binding VALUES (current_user, 'ngp'), (current_user, 'nsc'), (current_user, 'nxh');
-- Eve: registered at the practice, known to the council and the hospital.
-- Fin: the practice's too, with no End of Life plan.
SELECT scr.ingest_person('ngp', 'eve', '{"given_name": "Eve", "family_name": "Alerted", "nhs_number": "9990007004", "birth_date": "1930-05-05", "gp_practice": "NGP"}') AS eve \gset
SELECT scr.ingest_person('nsc', 'eve-sc', '{"given_name": "Eve", "family_name": "Alerted", "nhs_number": "9990007004", "birth_date": "1930-05-05"}') = :eve AS same_at_council;
SELECT scr.ingest_person('nxh', 'eve-h', '{"given_name": "Eve", "family_name": "Alerted", "nhs_number": "9990007004", "birth_date": "1930-05-05"}') = :eve AS same_at_hospital;
SELECT scr.ingest_person('ngp', 'fin', '{"given_name": "Fin", "family_name": "Quiet", "gp_practice": "NGP"}') AS fin \gset
SELECT scr.ingest_person('nxh', 'fin-h', '{"given_name": "Fin", "family_name": "Quiet"}') AS fin_h \gset
INSERT INTO scr.professional (professional_id, name) VALUES ('n_gp', 'Dr Alert'), ('n_sw', 'Worker Alert'), ('n_ed', 'Dr Emergency');
INSERT INTO scr.role_profile VALUES ('rp_n_gp', 'n_gp', 'NGP', 'R8000'), ('rp_n_sw', 'n_sw', 'NSC', 'R8004'), ('rp_n_ed', 'n_ed', 'NXH', 'R8000');
INSERT INTO scr.team VALUES ('nsc_team', 'NSC', 'Council team');
INSERT INTO scr.team_member VALUES ('nsc_team', 'n_sw');
INSERT INTO scr.context_key (key_id, secret) VALUES ('ngw', decode(repeat('4e', 32), 'hex'));
CREATE ROLE regress_alert_gw LOGIN IN ROLE scr_clinical_gateway;
CREATE FUNCTION public.alert_as(who text) RETURNS void LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
    rp scr.role_profile;
BEGIN
    SELECT * INTO rp FROM scr.role_profile WHERE professional_id = who;
    PERFORM scr.open_context(scr.mint_context_token('ngw', who, rp.role_profile_id, rp.ods_code, 'TREAT', NULL, 600));
END
$$;
GRANT EXECUTE ON FUNCTION public.alert_as(text) TO regress_alert_gw;
-- Alerts as they stand (a superuser's view): who gets what.
CREATE FUNCTION public.alerts_now() RETURNS TABLE (event_type text, rule_id text, recipient text, status text,
                                                   occurrences integer, summary text, notified boolean)
LANGUAGE sql AS $$
    SELECT a.event_type, coalesce(a.rule_id, 'subscription'), coalesce(a.recipient_professional, a.recipient_ods),
           a.status, a.occurrences, a.summary, a.notified_at IS NOT NULL
    FROM scr.alert a WHERE a.patient_id IN (SELECT patient_id FROM scr.patient WHERE family_name IN ('Alerted', 'Quiet'))
    ORDER BY a.alert_id
$$;

\c - regress_alert_gw
SET search_path = public, scr;
-- The GP starts an End of Life plan (key worker: herself); the social
-- worker subscribes to admissions of her caseload; a task for the council
-- team is already overdue.
BEGIN;
SELECT alert_as('n_gp');
SELECT scr.create_care_plan(:eve, 'end_of_life', 'Last months at home', key_worker => 'n_gp') AS plan \gset
SELECT scr.assign_task(:eve, 'Review the care package', current_date - 1, to_team => 'nsc_team') AS task \gset
COMMIT;
BEGIN;
SELECT alert_as('n_sw');
SELECT scr.subscribe_alerts('caseload', '{admission}') > 0 AS subscribed;
SELECT scope, event_types, professional_id FROM scr.my_alert_subscription;
\set ON_ERROR_STOP 0
SAVEPOINT s;
SELECT scr.subscribe_alerts('patient', '{death}', patient_id => :fin);
ROLLBACK TO s;
SELECT scr.subscribe_alerts('caseload', '{birthday}');
ROLLBACK TO s;
\set ON_ERROR_STOP 1
COMMIT;
\c - postgres
SET search_path = public, scr;

-- 1. Eve is admitted (the hospital's feed): her key worker, her practice
-- and the subscribed social worker are alerted.  Fin's admission raises
-- nothing: no End of Life plan.
SELECT loaded FROM scr.ingest_batch('nxh', '[
 {"type": "entry", "local_id": "eve-h", "entry": {"kind": "encounter", "source_ref": "adm1", "source_timestamp": "2024-06-01", "status": "in-progress", "code": "32485007", "display": "Hospital admission"}},
 {"type": "entry", "local_id": "fin-h", "entry": {"kind": "encounter", "source_ref": "adm2", "source_timestamp": "2024-06-01", "status": "in-progress", "code": "32485007", "display": "Hospital admission"}}]');
SELECT * FROM alerts_now();
-- 2. A second admission message folds into the same alerts (no new
-- notice); an A&E attendance is a new event.
SELECT loaded FROM scr.ingest_batch('nxh', '[
 {"type": "entry", "local_id": "eve-h", "entry": {"kind": "encounter", "source_ref": "adm3", "source_timestamp": "2024-06-02", "status": "in-progress", "code": "32485007", "display": "Hospital admission"}},
 {"type": "entry", "local_id": "eve-h", "entry": {"kind": "encounter", "source_ref": "ae1", "source_timestamp": "2024-06-03", "status": "finished", "code": "50849002", "display": "Emergency department attendance"}}]');
SELECT event_type, recipient, occurrences FROM alerts_now() ORDER BY 1, 2;
-- 3. A safeguarding alert: the council (a social care organisation with a
-- relationship) is told.
SELECT loaded FROM scr.ingest_batch('ngp', '[
 {"type": "entry", "local_id": "eve", "entry": {"kind": "alert", "source_ref": "sg1", "source_timestamp": "2024-06-04", "status": "active", "display": "Safeguarding concern", "sensitivity_category": "safeguarding"}}]');
SELECT event_type, rule_id, recipient, summary FROM alerts_now() WHERE event_type = 'safeguarding_alert';
-- 4. The overdue task: its team's member is alerted; a second run folds.
SELECT scr.raise_overdue_task_alerts() >= 1 AS raised;
SELECT scr.raise_overdue_task_alerts() AS renotified;
SELECT event_type, recipient, occurrences, summary LIKE 'Task overdue since %: Review the care package' AS summary_ok
FROM alerts_now() WHERE event_type = 'task_overdue';

-- 5. What each professional sees, and acknowledging and dismissing.
\c - regress_alert_gw
SET search_path = public, scr;
BEGIN;
SELECT alert_as('n_gp');
SELECT event_type, summary, status, occurrences, for_organisation FROM scr.my_alert ORDER BY event_type, for_organisation;
SELECT recipient, event_type, new, acknowledged, occurrences FROM scr.alert_digest ORDER BY 1, 2;
SELECT alert_id AS gp_admission FROM scr.my_alert WHERE event_type = 'admission' AND NOT for_organisation \gset
SELECT scr.set_alert_status(:gp_admission, 'acknowledged');
SELECT scr.set_alert_status(:gp_admission, 'dismissed');
\set ON_ERROR_STOP 0
\set VERBOSITY terse
SAVEPOINT s;
SELECT scr.set_alert_status(:gp_admission, 'dismissed');
ROLLBACK TO s;
SELECT scr.set_alert_status(:gp_admission, 'read');
ROLLBACK TO s;
\set VERBOSITY default
\set ON_ERROR_STOP 1
SELECT count(*) AS gp_alerts_left FROM scr.my_alert;
COMMIT;
BEGIN;
SELECT alert_as('n_ed');
-- The ED doctor may see Eve but is no recipient: nothing.
SELECT count(*) AS ed_alerts FROM scr.my_alert;
\set ON_ERROR_STOP 0
SELECT scr.set_alert_status(:gp_admission, 'dismissed');
\set ON_ERROR_STOP 1
ROLLBACK;
BEGIN;
SELECT alert_as('n_sw');
SELECT event_type, status FROM scr.my_alert ORDER BY event_type;
COMMIT;
-- No context: no alerts.
SELECT count(*) AS without_context FROM scr.alert;
\c - postgres
SET search_path = public, scr;

SET scr.allow_test_nhs_numbers = on;
-- 6. Eve dies (her practice's feed): everyone involved is told, her plan is
-- completed and the open task cancelled, each with a new version.
SELECT scr.ingest_person('ngp', 'eve', '{"given_name": "Eve", "family_name": "Alerted", "nhs_number": "9990007004", "birth_date": "1930-05-05", "gp_practice": "NGP", "death_date": "2024-06-10"}') = :eve AS same_patient;
SELECT event_type, recipient, summary FROM alerts_now() WHERE event_type = 'death' ORDER BY recipient;
SELECT status, version, updated_by FROM scr.care_plan WHERE care_plan_id = :plan;
SELECT status, status_reason, version FROM scr.care_task WHERE task_id = :task;
SELECT record_kind, version, changed_by FROM scr.care_version WHERE changed_by = 'death recorded' ORDER BY record_kind;

-- 7. A rule the area turned off raises nothing.
INSERT INTO scr.alert_rule_setting (rule_id, active) VALUES ('safeguarding', false);
SELECT loaded FROM scr.ingest_batch('ngp', '[
 {"type": "entry", "local_id": "fin", "entry": {"kind": "alert", "source_ref": "sg2", "source_timestamp": "2024-06-04", "status": "active", "display": "Safeguarding concern", "sensitivity_category": "safeguarding"}}]');
SELECT count(*) AS fin_safeguarding_alerts FROM scr.alert WHERE patient_id = :fin;
DELETE FROM scr.alert_rule_setting;

-- Clients cannot write alerts or run the overdue job.
SET ROLE regress_alert_gw;
\set ON_ERROR_STOP 0
INSERT INTO scr.alert (patient_id, event_type, recipient_ods, summary) VALUES (:eve, 'death', 'NGP', 'forged');
UPDATE scr.alert SET status = 'dismissed';
SELECT scr.raise_overdue_task_alerts();
SELECT count(*) FROM scr.alert_subscription;
\set ON_ERROR_STOP 1
RESET ROLE;
DELETE FROM scr.feed_binding WHERE source_code IN ('ngp', 'nsc', 'nxh');
DROP FUNCTION public.alert_as(text);
DROP FUNCTION public.alerts_now();
DROP ROLE regress_alert_gw;
