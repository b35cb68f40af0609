-- Multi-agency care plans and tasks: who may create and change them, the
-- task workflow and its refusals, versions, overdue work, what each role
-- reads, and the audit.
SET search_path = public, scr;
\set SHOW_CONTEXT never
SET scr.allow_test_nhs_numbers = on;

INSERT INTO scr.organisation (ods_code, name, kind) VALUES
    ('KGP', 'Care Practice', 'gp_practice'), ('KSC', 'Care Council', 'local_authority'),
    ('KXH', 'Care Hospital', 'nhs_trust');
INSERT INTO scr.source_system (source_code, ods_code, kind) VALUES ('kgp', 'KGP', 'gp'), ('ksc', 'KSC', 'social_care'), ('kxh', 'KXH', 'acute');
INSERT INTO scr.feed_binding VALUES (current_user, 'kgp'), (current_user, 'ksc'), (current_user, 'kxh');
-- Gil is known to the practice and the council; Hal only to the hospital.
SELECT scr.ingest_person('kgp', 'gil', '{"given_name": "Gil", "family_name": "Planner", "nhs_number": "9990000069", "birth_date": "1931-03-03"}') AS gil \gset
SELECT scr.ingest_person('ksc', 'gil-sc', '{"given_name": "Gil", "family_name": "Planner", "nhs_number": "9990000069", "birth_date": "1931-03-03"}') = :gil AS same_patient;
SELECT scr.ingest_person('kxh', 'hal', '{"given_name": "Hal", "family_name": "Elsewhere"}') AS hal \gset
INSERT INTO scr.professional (professional_id, name) VALUES
    ('k_gp', 'Dr Care'), ('k_sw', 'Social Worker Sam'), ('k_sw2', 'Social Worker Sue'), ('k_rec', 'Receptionist Rae');
INSERT INTO scr.role_profile VALUES ('rp_k_gp', 'k_gp', 'KGP', 'R8000'), ('rp_k_sw', 'k_sw', 'KSC', 'R8004'),
    ('rp_k_sw2', 'k_sw2', 'KSC', 'R8004'), ('rp_k_rec', 'k_rec', 'KGP', 'R8008');
INSERT INTO scr.team VALUES ('ksc_adults', 'KSC', 'Adult social care team');
INSERT INTO scr.team_member VALUES ('ksc_adults', 'k_sw');
INSERT INTO scr.context_key (key_id, secret) VALUES ('kgw', decode(repeat('3c', 32), 'hex'));
CREATE ROLE regress_care_gw LOGIN IN ROLE scr_clinical_gateway;
-- A context opener for the gateway: a fresh token each time (only this
-- test's superuser can mint; the gateway calls it).
CREATE FUNCTION public.care_as(who text) RETURNS void LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
    rp scr.role_profile;
    token text;
BEGIN
    SELECT * INTO rp FROM scr.role_profile WHERE professional_id = who;
    token := scr.mint_context_token('kgw', who, rp.role_profile_id, rp.ods_code, 'TREAT', NULL, 600);
    PERFORM scr.open_context(token);
END
$$;
GRANT EXECUTE ON FUNCTION public.care_as(text) TO regress_care_gw;
SELECT scr.audit_flush('30 seconds') AS flushed \gset
SELECT coalesce(max(audit_event_id), 0) AS before FROM scr.audit_event \gset

\c - regress_care_gw
SET search_path = public, scr;
-- 1. The GP starts an End of Life plan; the council contributes.
BEGIN;
SELECT care_as('k_gp');
SELECT scr.create_care_plan(:gil, 'end_of_life', 'Care in the last months of life',
                            key_worker => 'k_gp', review_date => '2025-06-01') AS plan \gset
SELECT scr.add_care_plan_goal(:plan, 'Stay at home with support', '2025-03-01') > 0 AS goal_added;
-- A task for the council's adult team, already overdue; one for the GP.
SELECT scr.assign_task(:gil, 'Assess for a care package', current_date - 2, to_team => 'ksc_adults', care_plan_id => :plan) AS task1 \gset
SELECT scr.assign_task(:gil, 'Review anticipatory medicines', current_date + 7, to_professional => 'k_gp', care_plan_id => :plan) AS task2 \gset
COMMIT;
BEGIN;
SELECT care_as('k_sw');
SELECT scr.add_care_plan_contribution(:plan, 'Carer visits twice a day from Monday') > 0 AS contributed;
SELECT category, title, status, ods_code, key_worker, review_date, version FROM scr.care_plan WHERE care_plan_id = :plan;
SELECT content, ods_code, professional_id FROM scr.care_plan_contribution WHERE care_plan_id = :plan;
SELECT description, ods_code, professional_id FROM scr.care_plan_goal WHERE care_plan_id = :plan;
-- Sam's work: the team's task, overdue.
SELECT task_id = :task1 AS team_task, description, status, overdue FROM scr.my_task ORDER BY task_id;
SELECT task_id = :task1 AS is_task1, assigned_team, days_overdue, status FROM scr.overdue_task;
-- 2. The workflow: accept, start, finish.
SELECT scr.update_task(:task1, 'accepted') AS version;
SELECT scr.update_task(:task1, 'in-progress') AS version;
SELECT scr.update_task(:task1, 'done') AS version;
COMMIT;

-- 3. Refusals.
\set ON_ERROR_STOP 0
BEGIN;
SELECT care_as('k_sw');
SAVEPOINT s;
-- A finished task stays finished (55000, and what was allowed).
SELECT scr.update_task(:task1, 'open');
ROLLBACK TO s;
\set VERBOSITY terse
SELECT scr.update_task(:task1, 'in-progress');
ROLLBACK TO s;
-- Not the assignee; not the owning organisation of the plan.
SELECT scr.update_task(:task2, 'accepted');
ROLLBACK TO s;
SELECT scr.update_care_plan(:plan, status => 'completed');
ROLLBACK TO s;
-- Only the setting organisation cancels.
SELECT scr.update_task(:task2, 'cancelled', 'no longer needed');
ROLLBACK TO s;
-- Bad input.
SELECT scr.create_care_plan(:gil, 'astrology', 'x');
ROLLBACK TO s;
SELECT scr.assign_task(:gil, 'x', to_team => 'ksc_adults', to_ods => 'KSC');
ROLLBACK TO s;
SELECT scr.assign_task(:gil, 'x', to_team => 'no_such_team');
ROLLBACK TO s;
SELECT scr.assign_task(:gil, 'x', to_ods => 'KSC', care_plan_id => -1);
ROLLBACK TO s;
SELECT scr.update_task(-1, 'accepted');
ROLLBACK TO s;
SELECT scr.update_task(:task2, NULL);
ROLLBACK TO s;
-- No relationship with Hal.
SELECT scr.create_care_plan(:hal, 'frailty', 'Frailty plan');
ROLLBACK;
BEGIN;
SELECT care_as('k_gp');
SAVEPOINT s;
-- Declining needs a reason; a stale version is refused (40001).
SELECT scr.update_task(:task2, 'declined');
ROLLBACK TO s;
SELECT scr.update_task(:task2, 'accepted', expected_version => 7);
ROLLBACK TO s;
COMMIT;
BEGIN;
-- A receptionist reads plans (summary record) but does not manage them.
SELECT care_as('k_rec');
SELECT count(*) AS plans_seen FROM scr.care_plan;
SELECT scr.create_care_plan(:gil, 'frailty', 'Frailty plan');
ROLLBACK;
\set VERBOSITY default
\set ON_ERROR_STOP 1

-- 4. The GP declines with a reason, then the plan moves on (owner only).
BEGIN;
SELECT care_as('k_gp');
SELECT scr.update_task(:task2, 'declined', 'Already reviewed at home visit') AS version;
SELECT scr.update_care_plan(:plan, review_date => '2025-09-01', expected_version => 1) AS version;
SELECT status, status_reason, version FROM scr.care_task WHERE task_id = :task2;
-- Every version is kept.
SELECT record_kind, version, data->>'status' AS status, changed_by
FROM scr.care_version WHERE record_id IN (:plan, :task1, :task2)
ORDER BY record_kind, record_id, version;
COMMIT;
-- 4b. The rest of the workflow: accepted straight to done; cancelled by
-- the setting organisation from open and from in-progress (with reasons).
BEGIN;
SELECT care_as('k_gp');
SELECT scr.assign_task(:gil, 'Deliver a hospital bed', current_date + 5, to_ods => 'KSC') AS task3 \gset
SELECT scr.assign_task(:gil, 'Weekly welfare call', current_date + 5, to_ods => 'KSC') AS task4 \gset
SELECT scr.assign_task(:gil, 'Order a commode', current_date + 5, to_ods => 'KSC') AS task5 \gset
SELECT scr.update_task(:task5, 'cancelled', 'Family bought one') AS version;
COMMIT;
BEGIN;
SELECT care_as('k_sw');
SELECT scr.update_task(:task3, 'accepted') AS version;
SELECT scr.update_task(:task3, 'done') AS version;
SELECT scr.update_task(:task4, 'accepted') AS version;
SELECT scr.update_task(:task4, 'in-progress') AS version;
COMMIT;
BEGIN;
SELECT care_as('k_gp');
SELECT scr.update_task(:task4, 'cancelled', 'Moved to the hospice') AS version;
SELECT description, status, status_reason, version FROM scr.care_task
WHERE task_id IN (:task3, :task4, :task5) ORDER BY task_id;
COMMIT;

-- 5. End of Life preferences: recorded, changed (a key left out keeps its
-- value), exported as FHIR; refusals.
BEGIN;
SELECT care_as('k_gp');
SELECT scr.record_end_of_life(:gil, '{"preferred_place_of_care": "home", "preferred_place_of_death": "home",
    "cpr_decision": "dnacpr", "cpr_decision_date": "2024-11-01", "cpr_documented_at": "ReSPECT form at home",
    "key_worker": "k_gp", "prognosis_awareness": "patient_aware", "lasting_power_of_attorney": true,
    "attorney_details": "Jo Planner (daughter)"}') AS version;
SELECT scr.record_end_of_life(:gil, '{"preferred_place_of_death": "hospice", "anticipatory_medicines": true,
    "anticipatory_medicines_date": "2024-11-20"}') AS version;
SELECT preferred_place_of_care, preferred_place_of_death, cpr_decision, cpr_decision_date, key_worker,
       anticipatory_medicines, version, ods_code, recorded_by
FROM scr.end_of_life_record WHERE patient_id = :gil;
SELECT e->'resource'->>'resourceType' AS resource, coalesce(e#>>'{resource,code,text}', e#>>'{resource,scope,text}',
       e#>>'{resource,relationship,0,text}', e#>>'{resource,name}') AS what,
       coalesce(e#>>'{resource,valueString}', e#>>'{resource,valueBoolean}', e#>>'{resource,provision,type}',
                e#>>'{resource,name,0,text}', e#>>'{resource,participant,0,member,identifier,value}') AS value
FROM jsonb_array_elements(scr.end_of_life_fhir(:gil)->'entry') e ORDER BY 1, 2;
SELECT scr.end_of_life_fhir(:gil)#>>'{meta,versionId}' AS fhir_version;
-- Shown first in the patient summary, in words.
SELECT kind, visible, withheld, detail FROM scr.patient_summary(:gil) LIMIT 2;
\set ON_ERROR_STOP 0
\set VERBOSITY terse
SAVEPOINT s;
SELECT scr.record_end_of_life(:gil, '{"favourite_colour": "blue"}');
ROLLBACK TO s;
SELECT scr.record_end_of_life(:gil, '{"cpr_decision": "maybe"}');
ROLLBACK TO s;
SELECT scr.record_end_of_life(:gil, '{"cpr_decision_date": "soon"}');
ROLLBACK TO s;
SELECT scr.record_end_of_life(:gil, '{"cpr_decision_date": null}');
ROLLBACK TO s;
SELECT scr.record_end_of_life(:gil, '[1, 2]');
ROLLBACK TO s;
SELECT scr.record_end_of_life(:hal, '{"preferred_place_of_care": "home"}');
ROLLBACK TO s;
\set VERBOSITY default
\set ON_ERROR_STOP 1
SELECT record_kind, version, data->>'preferred_place_of_death' AS place_of_death
FROM scr.care_version WHERE record_kind = 'end_of_life' ORDER BY version;
COMMIT;
-- Without a context: nothing.
SELECT count(*) AS without_context FROM scr.care_plan;
SELECT scr.end_of_life_fhir(:gil) IS NULL AS no_export_without_context;
\c - postgres
SET search_path = public, scr;

-- 6. From feeds: the council's case management sends its own plan and a
-- task under its references; a resend changes them; versions record the
-- feed login.
SELECT scr.ingest_care_plan('ksc', 'gil-sc', '{"source_ref": "CP-1", "category": "frailty", "title": "Falls prevention",
    "key_worker": "k_sw", "review_date": "2025-01-31"}') AS feed_plan \gset
SELECT scr.ingest_care_plan('ksc', 'gil-sc', '{"source_ref": "CP-1", "status": "on-hold"}') = :feed_plan AS same_plan;
SELECT scr.ingest_care_task('ksc', 'gil-sc', '{"source_ref": "T-1", "description": "Fit grab rails",
    "to_ods": "KSC", "care_plan_ref": "CP-1", "due_date": "2025-01-15"}') AS feed_task \gset
SELECT scr.ingest_care_task('ksc', 'gil-sc', '{"source_ref": "T-1", "status": "done"}') = :feed_task AS same_task;
SELECT c.category, c.title, c.status, c.ods_code, c.key_worker, c.version, c.source_code, c.source_ref
FROM scr.care_plan c WHERE c.care_plan_id = :feed_plan;
SELECT t.description, t.assigned_ods, t.status, t.version, t.care_plan_id = :feed_plan AS under_plan
FROM scr.care_task t WHERE t.task_id = :feed_task;
SELECT record_kind, version, data->>'status' AS status, changed_by FROM scr.care_version
WHERE (record_kind, record_id) IN (('care_plan', :feed_plan), ('care_task', :feed_task)) ORDER BY 1, 2;
\set ON_ERROR_STOP 0
\set VERBOSITY terse
SELECT scr.ingest_care_plan('ksc', 'gil-sc', '{"category": "frailty", "title": "No reference"}');
SELECT scr.ingest_care_plan('ksc', 'gil-sc', '{"source_ref": "CP-2", "title": "No category"}');
SELECT scr.ingest_care_plan('ksc', 'gil-sc', '{"source_ref": "CP-2", "category": "frailty", "title": "x", "colour": "red"}');
SELECT scr.ingest_care_plan('ksc', 'gil-sc', '{"source_ref": "CP-2", "category": "frailty", "title": "x", "review_date": "soon"}');
SELECT scr.ingest_care_plan('ksc', 'nobody', '{"source_ref": "CP-2", "category": "frailty", "title": "x"}');
SELECT scr.ingest_care_task('ksc', 'gil-sc', '{"source_ref": "T-1", "to_professional": "k_gp"}');
SELECT scr.ingest_care_task('ksc', 'gil-sc', '{"source_ref": "T-2", "description": "x", "to_ods": "KSC", "care_plan_ref": "CP-9"}');
SELECT scr.ingest_care_task('ksc', 'gil-sc', '{"source_ref": "T-2", "description": "x", "to_ods": "KSC", "status": "cancelled"}');
SELECT scr.ingest_care_task('ksc', 'gil-sc', '{"source_ref": "T-2", "description": "x"}');
SET ROLE regress_care_gw;
SELECT scr.ingest_care_plan('ksc', 'gil-sc', '{"source_ref": "CP-3", "category": "frailty", "title": "x"}');
RESET ROLE;
\set VERBOSITY default
\set ON_ERROR_STOP 1

-- 7. The audit: writes by professional, reads, and the receptionist's refusal.
SELECT scr.audit_flush('30 seconds') AS flushed;
SELECT event_type, object_table, professional_id, count(*) AS events
FROM scr.audit_event
WHERE audit_event_id > :before AND patient_id = :gil
  AND (object_table LIKE 'care%' OR event_type = 'refused' OR object_table LIKE '%care%')
GROUP BY 1, 2, 3 ORDER BY 1, 2, 3;
SELECT object_table, professional_id, outcome, outcome_reason FROM scr.audit_event
WHERE audit_event_id > :before AND event_type = 'refused' ORDER BY audit_event_id;

-- Nobody writes the tables directly.
SET ROLE regress_care_gw;
\set ON_ERROR_STOP 0
UPDATE scr.care_task SET status = 'done';
INSERT INTO scr.care_version (patient_id, record_kind, record_id, version, data, changed_by) VALUES (1, 'care_task', 1, 99, '{}', 'x');
\set ON_ERROR_STOP 1
RESET ROLE;
DELETE FROM scr.feed_binding WHERE source_code IN ('kgp', 'ksc', 'kxh');
DROP FUNCTION public.care_as(text);
DROP ROLE regress_care_gw;
