-- Multi-agency care plans and tasks (docs/care_plans.md): patient data,
-- read under the clinicians' policies, written through functions by an
-- acting professional whose role manages care plans (B0380), versioned and
-- audited.


CREATE TABLE scr.care_plan_category (
    category    text PRIMARY KEY,
    name        text NOT NULL
);
INSERT INTO scr.care_plan_category VALUES
    ('end_of_life', 'End of Life'), ('frailty', 'Frailty'),
    ('long_term_condition', 'Long-term condition'), ('mental_health_crisis', 'Mental health crisis'),
    ('safeguarding', 'Safeguarding'), ('discharge', 'Discharge'), ('other', 'Other');
COMMENT ON TABLE scr.care_plan_category IS 'Care plan categories (editable)';

CREATE TABLE scr.care_plan (
    patient_id      bigint NOT NULL REFERENCES scr.patient,
    care_plan_id    bigint GENERATED ALWAYS AS IDENTITY,
    category        text NOT NULL REFERENCES scr.care_plan_category,
    title           text NOT NULL CHECK (title <> '' AND length(title) <= 200),
    description     text CHECK (length(description) <= 10000),
    status          text NOT NULL DEFAULT 'active'
                    CHECK (status IN ('draft', 'active', 'on-hold', 'completed', 'revoked')),
    ods_code        text NOT NULL REFERENCES scr.organisation,   -- the owning organisation
    key_worker      text REFERENCES scr.professional,
    review_date     date,
    sensitivity     "char" NOT NULL DEFAULT 'N' CHECK (sensitivity IN ('N', 'R', 'V')),
    version         integer NOT NULL DEFAULT 1,
    created_at      timestamptz NOT NULL DEFAULT statement_timestamp(),
    created_by      text NOT NULL,
    updated_at      timestamptz NOT NULL DEFAULT statement_timestamp(),
    updated_by      text NOT NULL,
    PRIMARY KEY (patient_id, care_plan_id),
    UNIQUE (care_plan_id)
);
COMMENT ON TABLE scr.care_plan IS 'Care plans: one per patient per purpose, owned by an organisation, with a key worker';

CREATE TABLE scr.care_plan_goal (
    patient_id      bigint NOT NULL,
    goal_id         bigint GENERATED ALWAYS AS IDENTITY,
    care_plan_id    bigint NOT NULL,
    description     text NOT NULL CHECK (description <> '' AND length(description) <= 2000),
    status          text NOT NULL DEFAULT 'active' CHECK (status IN ('proposed', 'active', 'achieved', 'cancelled')),
    target_date     date,
    ods_code        text NOT NULL,
    professional_id text NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT statement_timestamp(),
    PRIMARY KEY (patient_id, goal_id),
    FOREIGN KEY (patient_id, care_plan_id) REFERENCES scr.care_plan
);

-- What each organisation adds to a plan, attributed.
CREATE TABLE scr.care_plan_contribution (
    patient_id      bigint NOT NULL,
    contribution_id bigint GENERATED ALWAYS AS IDENTITY,
    care_plan_id    bigint NOT NULL,
    content         text NOT NULL CHECK (content <> '' AND length(content) <= 10000),
    ods_code        text NOT NULL,
    professional_id text NOT NULL,
    role_profile_id text NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT statement_timestamp(),
    PRIMARY KEY (patient_id, contribution_id),
    FOREIGN KEY (patient_id, care_plan_id) REFERENCES scr.care_plan
);

-- Tasks: assigned to exactly one of an organisation, a team or a
-- professional, with a due date and a status workflow.
CREATE TABLE scr.care_task (
    patient_id      bigint NOT NULL REFERENCES scr.patient,
    task_id         bigint GENERATED ALWAYS AS IDENTITY,
    care_plan_id    bigint,
    description     text NOT NULL CHECK (description <> '' AND length(description) <= 2000),
    assigned_ods    text REFERENCES scr.organisation,
    assigned_team   text REFERENCES scr.team,
    assigned_professional text REFERENCES scr.professional,
    due_date        date,
    status          text NOT NULL DEFAULT 'open'
                    CHECK (status IN ('open', 'accepted', 'in-progress', 'done', 'declined', 'cancelled')),
    status_reason   text CHECK (length(status_reason) <= 1000),
    ods_code        text NOT NULL,    -- the organisation that set the task
    version         integer NOT NULL DEFAULT 1,
    created_at      timestamptz NOT NULL DEFAULT statement_timestamp(),
    created_by      text NOT NULL,
    updated_at      timestamptz NOT NULL DEFAULT statement_timestamp(),
    updated_by      text NOT NULL,
    PRIMARY KEY (patient_id, task_id),
    UNIQUE (task_id),
    FOREIGN KEY (patient_id, care_plan_id) REFERENCES scr.care_plan,
    CHECK (num_nonnulls(assigned_ods, assigned_team, assigned_professional) = 1),
    CHECK (status NOT IN ('declined', 'cancelled') OR status_reason IS NOT NULL)
);
CREATE INDEX care_task_professional_idx ON scr.care_task (assigned_professional, due_date) WHERE assigned_professional IS NOT NULL;
CREATE INDEX care_task_team_idx ON scr.care_task (assigned_team, due_date) WHERE assigned_team IS NOT NULL;
CREATE INDEX care_task_ods_idx ON scr.care_task (assigned_ods, due_date) WHERE assigned_ods IS NOT NULL;
COMMENT ON TABLE scr.care_task IS 'Tasks on a patient''s care, assigned to an organisation, team or professional';

-- Every version of every plan and task, as it was written.
CREATE TABLE scr.care_version (
    patient_id      bigint NOT NULL,
    care_version_id bigint GENERATED ALWAYS AS IDENTITY,
    record_kind     text NOT NULL CHECK (record_kind IN ('care_plan', 'care_task')),
    record_id       bigint NOT NULL,
    version         integer NOT NULL,
    data            jsonb NOT NULL,
    changed_at      timestamptz NOT NULL DEFAULT statement_timestamp(),
    changed_by      text NOT NULL,
    PRIMARY KEY (patient_id, care_version_id),
    UNIQUE (record_kind, record_id, version)
);
COMMENT ON TABLE scr.care_version IS 'Every version of every care plan and task (append-only)';

-- The task workflow: which status may follow which.
CREATE TABLE scr.care_task_transition (
    from_status text NOT NULL,
    to_status   text NOT NULL,
    by_whom     text NOT NULL CHECK (by_whom IN ('assignee', 'setter', 'either')),
    PRIMARY KEY (from_status, to_status)
);
INSERT INTO scr.care_task_transition VALUES
    ('open', 'accepted', 'assignee'), ('open', 'declined', 'assignee'), ('open', 'cancelled', 'setter'),
    ('accepted', 'in-progress', 'assignee'), ('accepted', 'done', 'assignee'),
    ('accepted', 'declined', 'assignee'), ('accepted', 'cancelled', 'setter'),
    ('in-progress', 'done', 'assignee'), ('in-progress', 'cancelled', 'setter');
COMMENT ON TABLE scr.care_task_transition IS
    'The task status workflow: allowed transitions and who may make each (the assignee, the organisation that set the task)';

-- The acting professional may manage this patient's care: a context, the
-- "manage care plans" activity (B0380) and a legitimate relationship.
-- Refusals are audited (so it is VOLATILE: it queues an event).
CREATE FUNCTION scr._care_check(p_patient bigint, p_function text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, scr, pg_temp AS $$
BEGIN
    IF scr.context_professional() IS NULL THEN
        RAISE EXCEPTION 'no acting professional' USING ERRCODE = 'insufficient_privilege',
            HINT = 'Open a context with scr.open_context first.';
    END IF;
    IF NOT scr._context_has_activity('B0380') THEN
        PERFORM scr.audit_refusal(p_patient, p_function, 'role may not manage care plans');
        RAISE EXCEPTION 'role profile "%" may not manage care plans', scr.context_role_profile()
            USING ERRCODE = 'insufficient_privilege', HINT = 'Care plans need activity B0380.';
    END IF;
    IF p_patient IS NULL OR NOT scr.may_read_patient(p_patient) THEN
        PERFORM scr.audit_refusal(p_patient, p_function, 'no legitimate relationship');
        RAISE EXCEPTION 'no legitimate relationship with patient %', p_patient
            USING ERRCODE = 'insufficient_privilege';
    END IF;
END
$$;

CREATE FUNCTION scr._care_version(p_kind text, p_patient bigint, p_id bigint, p_version integer, p_data jsonb)
RETURNS void LANGUAGE sql SET search_path = pg_catalog, scr, pg_temp AS $$
    INSERT INTO scr.care_version (patient_id, record_kind, record_id, version, data, changed_by)
    VALUES (p_patient, p_kind, p_id, p_version, p_data - 'patient_id',
            coalesce(scr.context_professional(), (SELECT r.rolname FROM pg_roles r WHERE r.oid = scr.feed_caller())));
$$;

CREATE FUNCTION scr.create_care_plan(patient_id bigint, category text, title text,
                                     description text DEFAULT NULL, key_worker text DEFAULT NULL,
                                     review_date date DEFAULT NULL, status text DEFAULT 'active')
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, scr, pg_temp AS $$
DECLARE
    root bigint := scr.current_patient_id(create_care_plan.patient_id);
    p scr.care_plan;
BEGIN
    PERFORM scr._care_check(root, 'create_care_plan');
    IF NOT EXISTS (SELECT FROM scr.care_plan_category c WHERE c.category = create_care_plan.category) THEN
        RAISE EXCEPTION 'unknown care plan category "%"', create_care_plan.category
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Categories are in scr.care_plan_category.';
    END IF;
    IF key_worker IS NOT NULL AND NOT EXISTS (SELECT FROM scr.professional pr WHERE pr.professional_id = key_worker) THEN
        RAISE EXCEPTION 'unknown professional "%"', key_worker USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO scr.care_plan AS cp (patient_id, category, title, description, status, ods_code, key_worker,
                                     review_date, created_by, updated_by)
    VALUES (root, category, title, description, coalesce(status, 'active'), scr.context_organisation(),
            key_worker, review_date, scr.context_professional(), scr.context_professional())
    RETURNING cp.* INTO p;
    PERFORM scr._care_version('care_plan', root, p.care_plan_id, 1, to_jsonb(p));
    RETURN p.care_plan_id;
END
$$;

-- Change a plan: any of status, key worker, review date, title,
-- description (NULL leaves it).  Only the owning organisation.
CREATE FUNCTION scr.update_care_plan(care_plan_id bigint, status text DEFAULT NULL, key_worker text DEFAULT NULL,
                                     review_date date DEFAULT NULL, title text DEFAULT NULL,
                                     description text DEFAULT NULL, expected_version integer DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, scr, pg_temp AS $$
DECLARE
    p scr.care_plan;
BEGIN
    SELECT * INTO p FROM scr.care_plan c WHERE c.care_plan_id = update_care_plan.care_plan_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'care plan % does not exist', update_care_plan.care_plan_id USING ERRCODE = 'no_data_found';
    END IF;
    PERFORM scr._care_check(p.patient_id, 'update_care_plan');
    IF p.ods_code IS DISTINCT FROM scr.context_organisation() THEN
        RAISE EXCEPTION 'only the owning organisation (%) changes care plan %', p.ods_code, p.care_plan_id
            USING ERRCODE = 'insufficient_privilege', HINT = 'Other organisations add contributions.';
    END IF;
    IF expected_version IS NOT NULL AND expected_version <> p.version THEN
        RAISE EXCEPTION 'care plan % is at version %, not %', p.care_plan_id, p.version, expected_version
            USING ERRCODE = 'serialization_failure', HINT = 'Read it again and reapply the change.';
    END IF;
    IF key_worker IS NOT NULL AND NOT EXISTS (SELECT FROM scr.professional pr WHERE pr.professional_id = key_worker) THEN
        RAISE EXCEPTION 'unknown professional "%"', key_worker USING ERRCODE = 'invalid_parameter_value';
    END IF;
    UPDATE scr.care_plan c
    SET status = coalesce(update_care_plan.status, c.status),
        key_worker = coalesce(update_care_plan.key_worker, c.key_worker),
        review_date = coalesce(update_care_plan.review_date, c.review_date),
        title = coalesce(update_care_plan.title, c.title),
        description = coalesce(update_care_plan.description, c.description),
        version = c.version + 1, updated_at = statement_timestamp(), updated_by = scr.context_professional()
    WHERE c.patient_id = p.patient_id AND c.care_plan_id = p.care_plan_id
    RETURNING c.* INTO p;
    PERFORM scr._care_version('care_plan', p.patient_id, p.care_plan_id, p.version, to_jsonb(p));
    RETURN p.version;
END
$$;

-- A plan the acting professional may add to (P0002 if there is none).
CREATE FUNCTION scr._care_plan_for(p_plan bigint, p_function text) RETURNS scr.care_plan
LANGUAGE plpgsql SET search_path = pg_catalog, scr, pg_temp AS $$
DECLARE
    p scr.care_plan;
BEGIN
    SELECT * INTO p FROM scr.care_plan c WHERE c.care_plan_id = p_plan;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'care plan % does not exist', p_plan USING ERRCODE = 'no_data_found';
    END IF;
    PERFORM scr._care_check(p.patient_id, p_function);
    RETURN p;
END
$$;

CREATE FUNCTION scr.add_care_plan_goal(care_plan_id bigint, description text, target_date date DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, scr, pg_temp AS $$
DECLARE
    p scr.care_plan := scr._care_plan_for(add_care_plan_goal.care_plan_id, 'add_care_plan_goal');
    id bigint;
BEGIN
    INSERT INTO scr.care_plan_goal AS g (patient_id, care_plan_id, description, target_date, ods_code, professional_id)
    VALUES (p.patient_id, p.care_plan_id, description, target_date, scr.context_organisation(), scr.context_professional())
    RETURNING g.goal_id INTO id;
    RETURN id;
END
$$;

-- Any organisation caring for the patient adds to a plan, attributed.
CREATE FUNCTION scr.add_care_plan_contribution(care_plan_id bigint, content text)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, scr, pg_temp AS $$
DECLARE
    p scr.care_plan := scr._care_plan_for(add_care_plan_contribution.care_plan_id, 'add_care_plan_contribution');
    id bigint;
BEGIN
    INSERT INTO scr.care_plan_contribution AS x (patient_id, care_plan_id, content, ods_code, professional_id, role_profile_id)
    VALUES (p.patient_id, p.care_plan_id, content, scr.context_organisation(), scr.context_professional(),
            scr.context_role_profile())
    RETURNING x.contribution_id INTO id;
    RETURN id;
END
$$;

-- Set a task for an organisation, a team or a professional (exactly one).
CREATE FUNCTION scr.assign_task(patient_id bigint, description text, due_date date DEFAULT NULL,
                                to_ods text DEFAULT NULL, to_team text DEFAULT NULL,
                                to_professional text DEFAULT NULL, care_plan_id bigint DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, scr, pg_temp AS $$
DECLARE
    root bigint := scr.current_patient_id(assign_task.patient_id);
    t scr.care_task;
BEGIN
    PERFORM scr._care_check(root, 'assign_task');
    IF num_nonnulls(to_ods, to_team, to_professional) <> 1 THEN
        RAISE EXCEPTION 'a task is assigned to exactly one of an organisation, a team or a professional'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF to_ods IS NOT NULL AND NOT EXISTS (SELECT FROM scr.organisation o WHERE o.ods_code = to_ods) THEN
        RAISE EXCEPTION 'unknown organisation "%"', to_ods USING ERRCODE = 'invalid_parameter_value';
    ELSIF to_team IS NOT NULL AND NOT EXISTS (SELECT FROM scr.team tm WHERE tm.team_id = to_team) THEN
        RAISE EXCEPTION 'unknown team "%"', to_team USING ERRCODE = 'invalid_parameter_value';
    ELSIF to_professional IS NOT NULL AND NOT EXISTS (SELECT FROM scr.professional pr WHERE pr.professional_id = to_professional) THEN
        RAISE EXCEPTION 'unknown professional "%"', to_professional USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF assign_task.care_plan_id IS NOT NULL AND NOT EXISTS (
           SELECT FROM scr.care_plan c WHERE c.care_plan_id = assign_task.care_plan_id AND c.patient_id = root) THEN
        RAISE EXCEPTION 'care plan % is not a plan of patient %', assign_task.care_plan_id, assign_task.patient_id
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO scr.care_task AS ct (patient_id, care_plan_id, description, assigned_ods, assigned_team,
                                     assigned_professional, due_date, ods_code, created_by, updated_by)
    VALUES (root, assign_task.care_plan_id, description, to_ods, to_team, to_professional, due_date,
            scr.context_organisation(), scr.context_professional(), scr.context_professional())
    RETURNING ct.* INTO t;
    PERFORM scr._care_version('care_task', root, t.task_id, 1, to_jsonb(t));
    RETURN t.task_id;
END
$$;

-- Whether the acting professional is the task's assignee: the professional,
-- a member of the team, or of the organisation assigned.
CREATE FUNCTION scr._is_task_assignee(t scr.care_task) RETURNS boolean
LANGUAGE sql STABLE SET search_path = pg_catalog, scr, pg_temp AS $$
    SELECT coalesce(t.assigned_professional = scr.context_professional(), false)
        OR coalesce(t.assigned_ods = scr.context_organisation(), false)
        OR EXISTS (SELECT FROM scr.team_member m
                   WHERE m.team_id = t.assigned_team AND m.professional_id = scr.context_professional())
$$;

-- Move a task along its workflow (scr.care_task_transition).  Declining
-- and cancelling need a reason.  With expected_version, a task changed by
-- someone else meanwhile is refused (40001) instead of overwritten.
CREATE FUNCTION scr.update_task(task_id bigint, status text, reason text DEFAULT NULL,
                                expected_version integer DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, scr, pg_temp AS $$
DECLARE
    t scr.care_task;
    rule scr.care_task_transition;
BEGIN
    -- The row lock orders two agencies changing one task at once.
    SELECT * INTO t FROM scr.care_task c WHERE c.task_id = update_task.task_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'task % does not exist', update_task.task_id USING ERRCODE = 'no_data_found';
    END IF;
    PERFORM scr._care_check(t.patient_id, 'update_task');
    IF expected_version IS NOT NULL AND expected_version <> t.version THEN
        RAISE EXCEPTION 'task % is at version % (%), not %', t.task_id, t.version, t.status, expected_version
            USING ERRCODE = 'serialization_failure', HINT = 'Read the task again before changing it.';
    END IF;
    SELECT * INTO rule FROM scr.care_task_transition r
    WHERE r.from_status = t.status AND r.to_status = update_task.status;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'a task cannot go from % to %', t.status, coalesce(update_task.status, 'NULL')
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = coalesce('From ' || t.status || ' it may go to: ' ||
                                    (SELECT string_agg(r.to_status, ', ' ORDER BY r.to_status)
                                     FROM scr.care_task_transition r WHERE r.from_status = t.status) || '.',
                                    'A ' || t.status || ' task is finished.');
    END IF;
    IF (rule.by_whom = 'assignee' AND NOT scr._is_task_assignee(t))
       OR (rule.by_whom = 'setter' AND t.ods_code IS DISTINCT FROM scr.context_organisation()) THEN
        RAISE EXCEPTION 'only the task''s % may make it %', CASE rule.by_whom WHEN 'assignee' THEN 'assignee'
                                                          ELSE 'setting organisation' END, update_task.status
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF update_task.status IN ('declined', 'cancelled') AND (reason IS NULL OR btrim(reason) = '') THEN
        RAISE EXCEPTION 'a reason is required to make a task %', update_task.status
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    UPDATE scr.care_task c
    SET status = update_task.status, status_reason = nullif(btrim(reason), ''),
        version = c.version + 1, updated_at = statement_timestamp(), updated_by = scr.context_professional()
    WHERE c.patient_id = t.patient_id AND c.task_id = t.task_id
    RETURNING c.* INTO t;
    PERFORM scr._care_version('care_task', t.patient_id, t.task_id, t.version, to_jsonb(t));
    RETURN t.version;
END
$$;

-- Overdue tasks the caller may see: past their due date and not finished.
CREATE VIEW scr.overdue_task WITH (security_invoker = true) AS
SELECT t.patient_id, t.task_id, t.care_plan_id, t.description, t.assigned_ods, t.assigned_team,
       t.assigned_professional, t.due_date, current_date - t.due_date AS days_overdue, t.status,
       t.ods_code AS set_by_ods
FROM scr.care_task t
WHERE t.status IN ('open', 'accepted', 'in-progress') AND t.due_date < current_date;
COMMENT ON VIEW scr.overdue_task IS
    'tasks past their due date and not finished, per assignee (organisation, team or professional); policies apply';

-- The acting professional's own work: tasks assigned to them, their teams
-- or their organisation.
CREATE VIEW scr.my_task WITH (security_invoker = true) AS
SELECT t.*, t.due_date < current_date AND t.status IN ('open', 'accepted', 'in-progress') AS overdue
FROM scr.care_task t
WHERE t.assigned_professional = scr.context_professional()
   OR t.assigned_ods = scr.context_organisation()
   OR t.assigned_team IN (SELECT m.team_id FROM scr.team_member m WHERE m.professional_id = scr.context_professional());
COMMENT ON VIEW scr.my_task IS
    'tasks for the acting professional, their teams or their organisation; policies apply';

-- Row-level security: the care record is read like the care_plan entry
-- kind (job role, consent by kind, sharing, seals as for entries).
DO $rls$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['care_plan', 'care_plan_goal', 'care_plan_contribution', 'care_task', 'care_version'] LOOP
        EXECUTE format('ALTER TABLE scr.%I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE scr.%I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE TRIGGER audit_insert AFTER INSERT ON scr.%I REFERENCING NEW TABLE AS audit_rows '
                       'FOR EACH STATEMENT EXECUTE FUNCTION scr.audit_write(''C'', ''audit_rows'')', t);
        EXECUTE format('CREATE TRIGGER audit_update AFTER UPDATE ON scr.%I REFERENCING NEW TABLE AS audit_rows '
                       'FOR EACH STATEMENT EXECUTE FUNCTION scr.audit_write(''U'', ''audit_rows'')', t);
        EXECUTE format('CREATE TRIGGER audit_delete AFTER DELETE ON scr.%I REFERENCING OLD TABLE AS audit_rows '
                       'FOR EACH STATEMENT EXECUTE FUNCTION scr.audit_write(''D'', ''audit_rows'')', t);
        EXECUTE format('GRANT SELECT ON scr.%I TO scr_clinical_gateway', t);
    END LOOP;
END
$rls$;
CREATE POLICY read_care_plan ON scr.care_plan FOR SELECT TO scr_clinical_gateway
    USING (scr.may_read_entry(patient_id, 'care_plan', sensitivity, NULL, ods_code));
CREATE POLICY read_care_plan_goal ON scr.care_plan_goal FOR SELECT TO scr_clinical_gateway
    USING (scr.may_read_entry(patient_id, 'care_plan', 'N', NULL, ods_code));
CREATE POLICY read_care_plan_contribution ON scr.care_plan_contribution FOR SELECT TO scr_clinical_gateway
    USING (scr.may_read_entry(patient_id, 'care_plan', 'N', NULL, ods_code));
CREATE POLICY read_care_task ON scr.care_task FOR SELECT TO scr_clinical_gateway
    USING (scr.may_read_entry(patient_id, 'care_plan', 'N', NULL, ods_code));
CREATE POLICY read_care_version ON scr.care_version FOR SELECT TO scr_clinical_gateway
    USING (scr.may_read_entry(patient_id, CASE record_kind WHEN 'end_of_life' THEN 'end_of_life' ELSE 'care_plan' END,
                              'N', NULL, coalesce(data->>'ods_code', '')));

GRANT SELECT ON scr.overdue_task, scr.my_task TO scr_clinical_gateway;
GRANT SELECT ON scr.care_plan_category, scr.care_task_transition TO scr_clinical_gateway, scr_admin;
GRANT INSERT, UPDATE, DELETE ON scr.care_plan_category TO scr_admin;
REVOKE ALL ON FUNCTION scr._care_check(bigint, text), scr._care_version(text, bigint, bigint, integer, jsonb),
    scr._care_plan_for(bigint, text),
    scr._is_task_assignee(scr.care_task),
    scr.create_care_plan(bigint, text, text, text, text, date, text),
    scr.update_care_plan(bigint, text, text, date, text, text, integer),
    scr.add_care_plan_goal(bigint, text, date), scr.add_care_plan_contribution(bigint, text),
    scr.assign_task(bigint, text, date, text, text, text, bigint),
    scr.update_task(bigint, text, text, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    scr.create_care_plan(bigint, text, text, text, text, date, text),
    scr.update_care_plan(bigint, text, text, date, text, text, integer),
    scr.add_care_plan_goal(bigint, text, date), scr.add_care_plan_contribution(bigint, text),
    scr.assign_task(bigint, text, date, text, text, text, bigint),
    scr.update_task(bigint, text, text, integer) TO scr_clinical_gateway;

COMMENT ON FUNCTION scr.create_care_plan(bigint, text, text, text, text, date, text) IS
    'start a care plan for a patient, owned by the acting organisation (needs B0380 and a relationship); returns its id';
COMMENT ON FUNCTION scr.update_care_plan(bigint, text, text, date, text, text, integer) IS
    'change a care plan (owning organisation only); returns the new version; 40001 if expected_version is stale';
COMMENT ON FUNCTION scr.add_care_plan_goal(bigint, text, date) IS 'add a goal to a care plan, attributed';
COMMENT ON FUNCTION scr.add_care_plan_contribution(bigint, text) IS
    'add an organisation''s contribution to a care plan, attributed';
COMMENT ON FUNCTION scr.assign_task(bigint, text, date, text, text, text, bigint) IS
    'set a task for an organisation, team or professional (exactly one); returns its id';
COMMENT ON FUNCTION scr.update_task(bigint, text, text, integer) IS
    'move a task along its workflow (scr.care_task_transition); returns the new version; 55000 for an illegal transition';

SELECT pg_catalog.pg_extension_config_dump('scr.care_plan_category',
    $$WHERE category NOT IN ('end_of_life', 'frailty', 'long_term_condition', 'mental_health_crisis',
                            'safeguarding', 'discharge', 'other')$$);
SELECT pg_catalog.pg_extension_config_dump('scr.care_plan', '');
SELECT pg_catalog.pg_extension_config_dump('scr.care_plan_goal', '');
SELECT pg_catalog.pg_extension_config_dump('scr.care_plan_contribution', '');
SELECT pg_catalog.pg_extension_config_dump('scr.care_task', '');
SELECT pg_catalog.pg_extension_config_dump('scr.care_version', '');
DO $seq$
DECLARE
    t text;
    c text;
BEGIN
    FOR t, c IN VALUES ('care_plan', 'care_plan_id'), ('care_plan_goal', 'goal_id'),
                       ('care_plan_contribution', 'contribution_id'), ('care_task', 'task_id'),
                       ('care_version', 'care_version_id') LOOP
        PERFORM pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('scr.' || t, c), '');
    END LOOP;
END
$seq$;
