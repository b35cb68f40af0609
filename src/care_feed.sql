-- Care plans and tasks from feeds (docs/care_plans.md#from-feeds): a
-- source system that keeps plans or tasks of its own (a hospice's EPR, a
-- council's case management) sends them under its own references; they
-- are owned by (or set by) the source's organisation, versioned and
-- audited like those professionals write.

ALTER TABLE scr.care_plan ADD COLUMN source_code text REFERENCES scr.source_system,
                          ADD COLUMN source_ref text CHECK (length(source_ref) <= 128);
ALTER TABLE scr.care_task ADD COLUMN source_code text REFERENCES scr.source_system,
                          ADD COLUMN source_ref text CHECK (length(source_ref) <= 128);
CREATE UNIQUE INDEX care_plan_source_ref_idx ON scr.care_plan (source_code, source_ref) WHERE source_code IS NOT NULL;
CREATE UNIQUE INDEX care_task_source_ref_idx ON scr.care_task (source_code, source_ref) WHERE source_code IS NOT NULL;

-- A field of a care message as text (NULL when absent), refusing a value
-- that is not a string.
CREATE FUNCTION scr._care_text(p_message jsonb, p_key text) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF NOT p_message ? p_key OR jsonb_typeof(p_message -> p_key) = 'null' THEN
        RETURN NULL;
    END IF;
    IF jsonb_typeof(p_message -> p_key) <> 'string' THEN
        RAISE EXCEPTION 'care message key "%" must be a string', p_key USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN p_message ->> p_key;
END
$$;

CREATE FUNCTION scr._care_date(p_message jsonb, p_key text) RETURNS date
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN scr._care_text(p_message, p_key)::date;
EXCEPTION WHEN invalid_datetime_format OR datetime_field_overflow THEN
    RAISE EXCEPTION 'care message key "%" is not a date: "%"', p_key, p_message ->> p_key
        USING ERRCODE = 'invalid_parameter_value';
END
$$;

-- Send a care plan for a person the source has sent: created the first
-- time its source_ref is seen, changed after (the keys sent replace what
-- was there).  Returns the plan's id.
CREATE FUNCTION scr.ingest_care_plan(source text, local_id text, plan jsonb)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, scr, pg_temp AS $$
DECLARE
    ods text := scr._feed_check_source(source);
    target record;
    ref text;
    by_role text := (SELECT rolname FROM pg_roles WHERE oid = scr.feed_caller());
    p scr.care_plan;
BEGIN
    PERFORM scr._feed_check_message('care plan', plan,
        ARRAY['source_ref', 'category', 'title', 'description', 'status', 'key_worker', 'review_date']);
    ref := scr._care_text(plan, 'source_ref');
    IF ref IS NULL OR btrim(ref) = '' THEN
        RAISE EXCEPTION 'a care plan message needs a source_ref' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    target := scr._feed_care_target(source, local_id);
    BEGIN
        SELECT * INTO p FROM scr.care_plan c WHERE c.source_code = source AND c.source_ref = ref FOR UPDATE;
        IF NOT FOUND THEN
            INSERT INTO scr.care_plan AS c (patient_id, category, title, description, status, ods_code, key_worker,
                                            review_date, created_by, updated_by, source_code, source_ref)
            VALUES (target.patient_id, scr._care_text(plan, 'category'), scr._care_text(plan, 'title'),
                    scr._care_text(plan, 'description'), coalesce(scr._care_text(plan, 'status'), 'active'), ods,
                    scr._care_text(plan, 'key_worker'), scr._care_date(plan, 'review_date'), by_role, by_role,
                    source, ref)
            RETURNING c.* INTO p;
        ELSE
            UPDATE scr.care_plan c
            SET category = CASE WHEN plan ? 'category' THEN scr._care_text(plan, 'category') ELSE c.category END,
                title = CASE WHEN plan ? 'title' THEN scr._care_text(plan, 'title') ELSE c.title END,
                description = CASE WHEN plan ? 'description' THEN scr._care_text(plan, 'description') ELSE c.description END,
                status = CASE WHEN plan ? 'status' THEN scr._care_text(plan, 'status') ELSE c.status END,
                key_worker = CASE WHEN plan ? 'key_worker' THEN scr._care_text(plan, 'key_worker') ELSE c.key_worker END,
                review_date = CASE WHEN plan ? 'review_date' THEN scr._care_date(plan, 'review_date') ELSE c.review_date END,
                patient_id = c.patient_id, version = c.version + 1,
                updated_at = statement_timestamp(), updated_by = by_role
            WHERE c.patient_id = p.patient_id AND c.care_plan_id = p.care_plan_id
            RETURNING c.* INTO p;
        END IF;
    EXCEPTION WHEN not_null_violation OR check_violation OR foreign_key_violation THEN
        RAISE EXCEPTION 'care plan refused: %', SQLERRM USING ERRCODE = 'invalid_parameter_value',
            HINT = 'A new plan needs a category (scr.care_plan_category) and a title; status is draft, active, on-hold, completed or revoked; key_worker a professional id.';
    END;
    PERFORM scr._care_version('care_plan', p.patient_id, p.care_plan_id, p.version, to_jsonb(p));
    RETURN p.care_plan_id;
END
$$;
COMMENT ON FUNCTION scr.ingest_care_plan(text, text, jsonb) IS
    'feed: create or change a care plan under the source''s reference, owned by the source''s organisation; returns its id';

-- Send a task: assigned to one of to_ods, to_team, to_professional when
-- created; its status is the source system's (the source runs its own
-- workflow), each change a new version.
CREATE FUNCTION scr.ingest_care_task(source text, local_id text, task jsonb)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, scr, pg_temp AS $$
DECLARE
    ods text := scr._feed_check_source(source);
    target record;
    ref text;
    plan_id bigint;
    by_role text := (SELECT rolname FROM pg_roles WHERE oid = scr.feed_caller());
    t scr.care_task;
BEGIN
    PERFORM scr._feed_check_message('care task', task,
        ARRAY['source_ref', 'description', 'due_date', 'to_ods', 'to_team', 'to_professional', 'care_plan_ref',
              'status', 'status_reason']);
    ref := scr._care_text(task, 'source_ref');
    IF ref IS NULL OR btrim(ref) = '' THEN
        RAISE EXCEPTION 'a care task message needs a source_ref' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    target := scr._feed_care_target(source, local_id);
    IF task ? 'care_plan_ref' THEN
        SELECT c.care_plan_id INTO plan_id FROM scr.care_plan c
        WHERE c.source_code = source AND c.source_ref = scr._care_text(task, 'care_plan_ref')
          AND c.patient_id = target.patient_id;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'source "%" has sent no care plan "%" for this person', source, task ->> 'care_plan_ref'
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
    END IF;
    BEGIN
        SELECT * INTO t FROM scr.care_task c WHERE c.source_code = source AND c.source_ref = ref FOR UPDATE;
        IF NOT FOUND THEN
            INSERT INTO scr.care_task AS c (patient_id, care_plan_id, description, assigned_ods, assigned_team,
                                            assigned_professional, due_date, status, status_reason, ods_code,
                                            created_by, updated_by, source_code, source_ref)
            VALUES (target.patient_id, plan_id, scr._care_text(task, 'description'), scr._care_text(task, 'to_ods'),
                    scr._care_text(task, 'to_team'), scr._care_text(task, 'to_professional'),
                    scr._care_date(task, 'due_date'), coalesce(scr._care_text(task, 'status'), 'open'),
                    scr._care_text(task, 'status_reason'), ods, by_role, by_role, source, ref)
            RETURNING c.* INTO t;
        ELSE
            IF task ?| ARRAY['to_ods', 'to_team', 'to_professional'] THEN
                RAISE EXCEPTION 'a task''s assignee is set when it is created' USING ERRCODE = 'invalid_parameter_value';
            END IF;
            UPDATE scr.care_task c
            SET description = CASE WHEN task ? 'description' THEN scr._care_text(task, 'description') ELSE c.description END,
                due_date = CASE WHEN task ? 'due_date' THEN scr._care_date(task, 'due_date') ELSE c.due_date END,
                care_plan_id = coalesce(plan_id, c.care_plan_id),
                status = coalesce(scr._care_text(task, 'status'), c.status),
                status_reason = CASE WHEN task ? 'status_reason' THEN scr._care_text(task, 'status_reason') ELSE c.status_reason END,
                version = c.version + 1, updated_at = statement_timestamp(), updated_by = by_role
            WHERE c.patient_id = t.patient_id AND c.task_id = t.task_id
            RETURNING c.* INTO t;
        END IF;
    EXCEPTION WHEN not_null_violation OR check_violation OR foreign_key_violation THEN
        RAISE EXCEPTION 'care task refused: %', SQLERRM USING ERRCODE = 'invalid_parameter_value',
            HINT = 'A new task needs a description and exactly one of to_ods, to_team, to_professional; a declined or cancelled task needs a status_reason.';
    END;
    PERFORM scr._care_version('care_task', t.patient_id, t.task_id, t.version, to_jsonb(t));
    RETURN t.task_id;
END
$$;
COMMENT ON FUNCTION scr.ingest_care_task(text, text, jsonb) IS
    'feed: create or change a care task under the source''s reference, set by the source''s organisation; returns its id';

REVOKE ALL ON FUNCTION scr._care_text(jsonb, text), scr._care_date(jsonb, text),
    scr.ingest_care_plan(text, text, jsonb), scr.ingest_care_task(text, text, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION scr.ingest_care_plan(text, text, jsonb), scr.ingest_care_task(text, text, jsonb) TO scr_feed;
