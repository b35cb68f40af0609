-- Alerting (docs/alerts.md): rules that watch what the feeds and the
-- professionals record, subscriptions, and alerts that recipients see only
-- for patients they may see.  A NOTIFY on channel scr_alert carries the
-- alert id and nothing else.

-- Which coded entries are which events (shipped: SNOMED CT admission and
-- emergency department attendance; operators may add codes).
CREATE TABLE scr.alert_event_code (
    event_type  text NOT NULL CHECK (event_type IN ('admission', 'ae_attendance')),
    code        text NOT NULL,
    shipped     boolean NOT NULL DEFAULT false,
    PRIMARY KEY (code, event_type)
);
INSERT INTO scr.alert_event_code VALUES ('admission', '32485007', true), ('ae_attendance', '50849002', true);
COMMENT ON TABLE scr.alert_event_code IS 'encounter codes that are admissions or A&E attendances, for alert rules';

-- The shipped rules.  What each does is fixed in scr._alert_event; the
-- area turns rules off or changes their fold window in
-- scr.alert_rule_setting.
CREATE TABLE scr.alert_rule (
    rule_id     text PRIMARY KEY,
    event_type  text NOT NULL,
    description text NOT NULL,
    fold_window interval NOT NULL
);
INSERT INTO scr.alert_rule VALUES
    ('end_of_life_admission', 'admission',
     'a patient with an active End of Life plan or preferences is admitted: alert the key worker and the GP practice', '1 hour'),
    ('end_of_life_ae', 'ae_attendance',
     'a patient with an active End of Life plan or preferences attends A&E: alert the key worker and the GP practice', '1 hour'),
    ('safeguarding', 'safeguarding_alert',
     'a safeguarding alert is recorded: alert the social care organisations caring for the patient', '1 hour'),
    ('death', 'death',
     'a death is recorded: close open care plans and tasks, alert everyone involved', '1 day'),
    ('task_overdue', 'task_overdue',
     'a task is past its due date: alert its assignee', '1 day');
COMMENT ON TABLE scr.alert_rule IS 'the shipped alert rules (read-only; see scr.alert_rule_setting)';

CREATE TABLE scr.alert_rule_setting (
    rule_id     text PRIMARY KEY REFERENCES scr.alert_rule,
    active      boolean NOT NULL DEFAULT true,
    fold_window interval CHECK (fold_window >= interval '0')
);
COMMENT ON TABLE scr.alert_rule_setting IS 'the area''s changes to the shipped alert rules: off, or another fold window';

CREATE TABLE scr.alert_subscription (
    subscription_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    professional_id text REFERENCES scr.professional ON DELETE CASCADE,
    team_id         text REFERENCES scr.team ON DELETE CASCADE,
    scope           text NOT NULL CHECK (scope IN ('patient', 'caseload', 'care_plan')),
    patient_id      bigint REFERENCES scr.patient,
    care_plan_id    bigint REFERENCES scr.care_plan (care_plan_id) ON DELETE CASCADE,
    event_types     text[] NOT NULL CHECK (cardinality(event_types) > 0 AND event_types <@ ARRAY[
                        'admission', 'ae_attendance', 'safeguarding_alert', 'death', 'task_overdue']),
    created_at      timestamptz NOT NULL DEFAULT statement_timestamp(),
    created_by      text NOT NULL,
    CHECK (num_nonnulls(professional_id, team_id) = 1),
    CHECK ((scope = 'patient') = (patient_id IS NOT NULL)),
    CHECK ((scope = 'care_plan') = (care_plan_id IS NOT NULL))
);
CREATE INDEX alert_subscription_patient_idx ON scr.alert_subscription (patient_id) WHERE patient_id IS NOT NULL;
COMMENT ON TABLE scr.alert_subscription IS
    'a professional or team subscribed to a patient, their caseload or a care plan, for event types';

CREATE TABLE scr.alert (
    patient_id              bigint NOT NULL REFERENCES scr.patient,
    alert_id                bigint GENERATED ALWAYS AS IDENTITY,
    event_type              text NOT NULL,
    rule_id                 text REFERENCES scr.alert_rule,
    subscription_id         bigint,
    recipient_professional  text REFERENCES scr.professional,
    recipient_ods           text REFERENCES scr.organisation,
    summary                 text NOT NULL,
    entry_id                bigint,
    care_plan_id            bigint,
    task_id                 bigint,
    status                  text NOT NULL DEFAULT 'new' CHECK (status IN ('new', 'acknowledged', 'dismissed')),
    occurrences             integer NOT NULL DEFAULT 1,
    raised_at               timestamptz NOT NULL DEFAULT statement_timestamp(),
    last_raised_at          timestamptz NOT NULL DEFAULT statement_timestamp(),
    notified_at             timestamptz,
    status_changed_at       timestamptz,
    status_changed_by       text,
    PRIMARY KEY (patient_id, alert_id),
    UNIQUE (alert_id),
    CHECK (num_nonnulls(recipient_professional, recipient_ods) = 1)
);
-- One new alert per patient, event and recipient: repeats fold into it.
CREATE UNIQUE INDEX alert_fold_idx ON scr.alert (patient_id, event_type, (coalesce(recipient_professional, '')),
                                                 (coalesce(recipient_ods, ''))) WHERE status = 'new';
CREATE INDEX alert_professional_idx ON scr.alert (recipient_professional, status) WHERE recipient_professional IS NOT NULL;
CREATE INDEX alert_ods_idx ON scr.alert (recipient_ods, status) WHERE recipient_ods IS NOT NULL;
COMMENT ON TABLE scr.alert IS 'alerts for professionals and organisations: new, acknowledged, dismissed; repeats folded';

-- Raise (or fold) one alert for each recipient of an event.  recipients:
-- (professional, ods) pairs, one of them NULL.  Notifies scr_alert with the
-- alert id when the alert is new, or when its last notice is older than
-- the fold window.
CREATE FUNCTION scr._raise_alerts(p_patient bigint, p_event text, p_rule text, p_summary text,
                                  p_recipients text[], p_entry bigint DEFAULT NULL,
                                  p_plan bigint DEFAULT NULL, p_task bigint DEFAULT NULL,
                                  p_subscription bigint DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql SET search_path = pg_catalog, scr, pg_temp AS $$
DECLARE
    fold interval;
    -- This call's notice time: an alert whose notified_at is this was
    -- raised or re-announced by this call, not by an earlier one.
    now_ts timestamptz := clock_timestamp();
    raised integer := 0;
    r record;
BEGIN
    IF p_recipients IS NULL OR cardinality(p_recipients) = 0 THEN
        RETURN 0;
    END IF;
    IF p_rule IS NOT NULL THEN
        SELECT coalesce(s.fold_window, ar.fold_window) INTO fold
        FROM scr.alert_rule ar LEFT JOIN scr.alert_rule_setting s USING (rule_id)
        WHERE ar.rule_id = p_rule AND coalesce(s.active, true);
        IF NOT FOUND THEN
            RETURN 0;        -- the rule is off
        END IF;
    ELSE
        fold := interval '1 hour';
    END IF;
    FOR r IN
        WITH recipient AS (
            SELECT DISTINCT split_part(x, '|', 1) AS professional, split_part(x, '|', 2) AS ods
            FROM unnest(p_recipients) x WHERE x IS NOT NULL),
        upserted AS (
            INSERT INTO scr.alert AS a (patient_id, event_type, rule_id, subscription_id, recipient_professional,
                                        recipient_ods, summary, entry_id, care_plan_id, task_id, notified_at)
            SELECT p_patient, p_event, p_rule, p_subscription, nullif(rc.professional, ''), nullif(rc.ods, ''),
                   p_summary, p_entry, p_plan, p_task, now_ts
            FROM recipient rc
            WHERE (rc.professional <> '' AND EXISTS (SELECT FROM scr.professional pr WHERE pr.professional_id = rc.professional))
               OR (rc.professional = '' AND EXISTS (SELECT FROM scr.organisation o WHERE o.ods_code = rc.ods))
            ON CONFLICT (patient_id, event_type, (coalesce(recipient_professional, '')), (coalesce(recipient_ods, '')))
                WHERE status = 'new'
            DO UPDATE SET occurrences = a.occurrences + 1, last_raised_at = statement_timestamp(),
                          summary = excluded.summary,
                          notified_at = CASE WHEN a.notified_at IS NULL OR a.notified_at < now_ts - fold
                                             THEN now_ts ELSE a.notified_at END
            RETURNING a.alert_id, a.notified_at = now_ts AS notify)
        SELECT u.alert_id FROM upserted u WHERE u.notify
    LOOP
        PERFORM pg_notify('scr_alert', r.alert_id::text);
        raised := raised + 1;
    END LOOP;
    RETURN raised;
END
$$;

-- The professionals and organisations an event on a patient concerns,
-- as 'professional|ods' strings.
CREATE FUNCTION scr._alert_recipients(p_patient bigint, p_kinds text[]) RETURNS text[]
LANGUAGE sql STABLE SET search_path = pg_catalog, scr, pg_temp AS $$
    SELECT coalesce(array_agg(DISTINCT x), '{}') FROM (
        -- the key worker of an active End of Life plan, or of the preferences
        SELECT c.key_worker || '|' AS x FROM scr.care_plan c
        WHERE p_kinds && '{key_worker,involved}' AND c.patient_id = p_patient AND c.key_worker IS NOT NULL
          AND c.status = 'active' AND ('involved' = ANY (p_kinds) OR c.category = 'end_of_life')
        UNION ALL
        SELECT r.key_worker || '|' FROM scr.end_of_life_record r
        WHERE p_kinds && '{key_worker,involved}' AND r.patient_id = p_patient AND r.key_worker IS NOT NULL
        UNION ALL
        -- the registered GP practice
        SELECT '|' || p.gp_practice FROM scr.patient p
        WHERE p_kinds && '{gp_practice,involved}' AND p.patient_id = p_patient AND p.gp_practice IS NOT NULL
        UNION ALL
        -- social care organisations with a relationship in force
        SELECT '|' || rel.ods_code FROM scr.relationship rel JOIN scr.organisation o ON o.ods_code = rel.ods_code
        WHERE 'social_care' = ANY (p_kinds) AND rel.patient_id = p_patient AND o.kind = 'local_authority'
          AND rel.valid_from <= statement_timestamp() AND (rel.valid_to IS NULL OR rel.valid_to > statement_timestamp())
        UNION ALL
        -- owners of open plans, assignees of open tasks (teams as their members)
        SELECT '|' || c.ods_code FROM scr.care_plan c
        WHERE 'involved' = ANY (p_kinds) AND c.patient_id = p_patient AND c.status IN ('draft', 'active', 'on-hold')
        UNION ALL
        SELECT coalesce(t.assigned_professional, m.professional_id, '') || '|' || coalesce(t.assigned_ods, '')
        FROM scr.care_task t LEFT JOIN scr.team_member m ON m.team_id = t.assigned_team
        WHERE 'involved' = ANY (p_kinds) AND t.patient_id = p_patient AND t.status IN ('open', 'accepted', 'in-progress')
    ) s WHERE x IS NOT NULL AND x <> '|'
$$;

-- Subscribers to an event on a patient: to the patient, to a plan of
-- theirs, or to their caseload (a relationship of the professional or of
-- their organisation with the patient).  Teams as their members.
CREATE FUNCTION scr._alert_subscribers(p_patient bigint, p_event text)
RETURNS TABLE (subscription_id bigint, recipient text)
LANGUAGE sql STABLE SET search_path = pg_catalog, scr, pg_temp AS $$
    SELECT s.subscription_id, who.professional_id || '|'
    FROM scr.alert_subscription s
    CROSS JOIN LATERAL (SELECT s.professional_id WHERE s.professional_id IS NOT NULL
                        UNION ALL
                        SELECT m.professional_id FROM scr.team_member m WHERE m.team_id = s.team_id) who
    WHERE p_event = ANY (s.event_types)
      AND (s.patient_id = p_patient
           OR s.care_plan_id IN (SELECT c.care_plan_id FROM scr.care_plan c WHERE c.patient_id = p_patient)
           OR (s.scope = 'caseload' AND EXISTS (
                   SELECT FROM scr.relationship rel
                   WHERE rel.patient_id = p_patient
                     AND rel.valid_from <= statement_timestamp()
                     AND (rel.valid_to IS NULL OR rel.valid_to > statement_timestamp())
                     AND (rel.professional_id = who.professional_id
                          OR rel.ods_code IN (SELECT rp.ods_code FROM scr.role_profile rp
                                              WHERE rp.professional_id = who.professional_id AND rp.active)))))
$$;

-- One event on one patient: the rule's recipients and the subscribers.
CREATE FUNCTION scr._alert_event(p_patient bigint, p_event text, p_summary text, p_entry bigint DEFAULT NULL,
                                 p_task bigint DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql SET search_path = pg_catalog, scr, pg_temp AS $$
DECLARE
    patient bigint := scr.current_patient_id(p_patient);
    raised integer := 0;
    s record;
    t scr.care_task;
BEGIN
    IF p_event IN ('admission', 'ae_attendance') THEN
        IF EXISTS (SELECT FROM scr.care_plan c WHERE c.patient_id = patient AND c.category = 'end_of_life'
                   AND c.status = 'active')
           OR EXISTS (SELECT FROM scr.end_of_life_record r WHERE r.patient_id = patient) THEN
            raised := raised + scr._raise_alerts(patient, p_event,
                CASE p_event WHEN 'admission' THEN 'end_of_life_admission' ELSE 'end_of_life_ae' END, p_summary,
                scr._alert_recipients(patient, '{key_worker,gp_practice}'),
                p_entry);
        END IF;
    ELSIF p_event = 'safeguarding_alert' THEN
        raised := raised + scr._raise_alerts(patient, p_event, 'safeguarding', p_summary,
                                             scr._alert_recipients(patient, '{social_care}'), p_entry);
    ELSIF p_event = 'death' THEN
        -- Everyone involved first, while plans and tasks are open.
        raised := raised + scr._raise_alerts(patient, p_event, 'death', p_summary,
                                             scr._alert_recipients(patient, '{involved}'));
        IF EXISTS (SELECT FROM scr.alert_rule_setting st WHERE st.rule_id = 'death' AND NOT st.active) THEN
            NULL;        -- the rule is off: plans stay as they are
        ELSE
            PERFORM scr._close_care_on_death(patient);
        END IF;
    ELSIF p_event = 'task_overdue' THEN
        SELECT * INTO t FROM scr.care_task ct WHERE ct.task_id = p_task;
        raised := raised + scr._raise_alerts(patient, p_event, 'task_overdue', p_summary,
            ARRAY(SELECT coalesce(t.assigned_professional, m.professional_id, '') || '|' || coalesce(t.assigned_ods, '')
                  FROM (SELECT 1) one LEFT JOIN scr.team_member m ON m.team_id = t.assigned_team),
            NULL, t.care_plan_id, t.task_id);
    END IF;
    -- Subscribers (most areas have few subscriptions; none, no query).
    FOR s IN SELECT * FROM scr._alert_subscribers(patient, p_event)
             WHERE EXISTS (SELECT FROM scr.alert_subscription) LOOP
        raised := raised + scr._raise_alerts(patient, p_event, NULL, p_summary, ARRAY[s.recipient], p_entry,
                                             NULL, p_task, s.subscription_id);
    END LOOP;
    RETURN raised;
END
$$;

-- A death closes the patient's open plans (completed) and tasks
-- (cancelled), each versioned.
CREATE FUNCTION scr._close_care_on_death(p_patient bigint) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, scr, pg_temp AS $$
BEGIN
    WITH closed AS (
        UPDATE scr.care_plan c SET status = 'completed', version = c.version + 1,
               updated_at = statement_timestamp(), updated_by = 'death recorded'
        WHERE c.patient_id = p_patient AND c.status IN ('draft', 'active', 'on-hold')
        RETURNING c.*)
    INSERT INTO scr.care_version (patient_id, record_kind, record_id, version, data, changed_by)
    SELECT c.patient_id, 'care_plan', c.care_plan_id, c.version, to_jsonb(c) - 'patient_id', 'death recorded'
    FROM closed c;
    WITH closed AS (
        UPDATE scr.care_task t SET status = 'cancelled', status_reason = 'The patient died.',
               version = t.version + 1, updated_at = statement_timestamp(), updated_by = 'death recorded'
        WHERE t.patient_id = p_patient AND t.status IN ('open', 'accepted', 'in-progress')
        RETURNING t.*)
    INSERT INTO scr.care_version (patient_id, record_kind, record_id, version, data, changed_by)
    SELECT t.patient_id, 'care_task', t.task_id, t.version, to_jsonb(t) - 'patient_id', 'death recorded'
    FROM closed t;
END
$$;

-- What the feeds write: new entries (admissions, A&E attendances,
-- safeguarding alerts) and deaths.  Statement triggers: one set-based look
-- at a whole batch, and nothing more for entries no rule is about.
CREATE FUNCTION scr._alert_on_entries() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, scr, pg_temp AS $$
DECLARE
    e record;
    subscribed boolean := EXISTS (SELECT FROM scr.alert_subscription);
BEGIN
    -- Only events someone is to hear of: admissions and A&E attendances of
    -- End of Life patients, safeguarding alerts of patients a social care
    -- organisation knows (any of them, when there are subscriptions).
    FOR e IN
        SELECT n.patient_id, n.entry_id, c.event_type,
               format('%s: %s (%s)', CASE c.event_type WHEN 'admission' THEN 'Admitted'
                                                       ELSE 'Attended A&E' END,
                      coalesce(n.display, n.code), coalesce(o.name, n.ods_code)) AS summary
        FROM alert_new_entries n
        JOIN scr.alert_event_code c ON c.code = n.code
        JOIN scr.patient p ON p.patient_id = n.patient_id
        LEFT JOIN scr.organisation o ON o.ods_code = n.ods_code
        WHERE n.kind = 'encounter' AND n.status <> 'entered-in-error'
          AND (subscribed
               OR EXISTS (SELECT FROM scr.care_plan cp
                          WHERE cp.patient_id = coalesce(p.merged_into, p.patient_id)
                            AND cp.category = 'end_of_life' AND cp.status = 'active')
               OR EXISTS (SELECT FROM scr.end_of_life_record r
                          WHERE r.patient_id = coalesce(p.merged_into, p.patient_id)))
        UNION ALL
        SELECT n.patient_id, n.entry_id, 'safeguarding_alert',
               format('Safeguarding alert recorded by %s', coalesce(o.name, n.ods_code))
        FROM alert_new_entries n
        JOIN scr.patient p ON p.patient_id = n.patient_id
        LEFT JOIN scr.organisation o ON o.ods_code = n.ods_code
        WHERE n.kind = 'alert' AND n.sensitivity_category = 'safeguarding' AND n.status <> 'entered-in-error'
          AND (subscribed
               OR EXISTS (SELECT FROM scr.relationship rel JOIN scr.organisation la ON la.ods_code = rel.ods_code
                          WHERE rel.patient_id = coalesce(p.merged_into, p.patient_id)
                            AND la.kind = 'local_authority'))
    LOOP
        PERFORM scr._alert_event(e.patient_id, e.event_type, e.summary, e.entry_id);
    END LOOP;
    RETURN NULL;
END
$$;
CREATE TRIGGER alert_on_entries AFTER INSERT ON scr.entry REFERENCING NEW TABLE AS alert_new_entries
    FOR EACH STATEMENT EXECUTE FUNCTION scr._alert_on_entries();

CREATE FUNCTION scr._alert_on_death() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, scr, pg_temp AS $$
DECLARE
    d record;
BEGIN
    FOR d IN
        SELECT n.patient_id, n.death_date FROM alert_new_patients n JOIN alert_old_patients o USING (patient_id)
        WHERE o.death_date IS NULL AND n.death_date IS NOT NULL AND n.merged_into IS NULL
    LOOP
        PERFORM scr._alert_event(d.patient_id, 'death', format('Death recorded (%s)', to_char(d.death_date, 'YYYY-MM-DD')));
    END LOOP;
    RETURN NULL;
END
$$;
CREATE TRIGGER alert_on_death AFTER UPDATE ON scr.patient
    REFERENCING OLD TABLE AS alert_old_patients NEW TABLE AS alert_new_patients
    FOR EACH STATEMENT EXECUTE FUNCTION scr._alert_on_death();

-- Tasks past their due date: alert each assignee (folded while the alert
-- is new).  Run by a scheduler (pg_cron, cron) every few minutes; returns
-- how many alerts were raised or renewed.
CREATE FUNCTION scr.raise_overdue_task_alerts() RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, scr, pg_temp AS $$
DECLARE
    t record;
    raised integer := 0;
BEGIN
    PERFORM scr._check_session_role('scr_admin', 'scr.raise_overdue_task_alerts', 'Operators (scr_admin) schedule it.');
    FOR t IN SELECT ct.patient_id, ct.task_id, ct.description, ct.due_date FROM scr.care_task ct
             WHERE ct.status IN ('open', 'accepted', 'in-progress') AND ct.due_date < current_date LOOP
        raised := raised + scr._alert_event(t.patient_id, 'task_overdue',
                                            format('Task overdue since %s: %s', to_char(t.due_date, 'YYYY-MM-DD'), t.description),
                                            NULL, t.task_id);
    END LOOP;
    RETURN raised;
END
$$;

-- Subscribe the acting professional (or a team of theirs) to a patient,
-- their caseload or a care plan.
CREATE FUNCTION scr.subscribe_alerts(scope text, event_types text[], patient_id bigint DEFAULT NULL,
                                     care_plan_id bigint DEFAULT NULL, team_id text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, scr, pg_temp AS $$
DECLARE
    id bigint;
    plan_patient bigint;
BEGIN
    IF scr.context_professional() IS NULL THEN
        RAISE EXCEPTION 'no acting professional' USING ERRCODE = 'insufficient_privilege',
            HINT = 'Open a context with scr.open_context first.';
    END IF;
    IF team_id IS NOT NULL AND NOT EXISTS (SELECT FROM scr.team_member m WHERE m.team_id = subscribe_alerts.team_id
                                           AND m.professional_id = scr.context_professional()) THEN
        RAISE EXCEPTION 'only a member subscribes team "%"', team_id USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF scope = 'care_plan' THEN
        SELECT c.patient_id INTO plan_patient FROM scr.care_plan c WHERE c.care_plan_id = subscribe_alerts.care_plan_id;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'care plan % does not exist', care_plan_id USING ERRCODE = 'no_data_found';
        END IF;
    END IF;
    IF coalesce(subscribe_alerts.patient_id, plan_patient) IS NOT NULL
       AND NOT scr.may_read_patient(scr.current_patient_id(coalesce(subscribe_alerts.patient_id, plan_patient))) THEN
        PERFORM scr.audit_refusal(coalesce(subscribe_alerts.patient_id, plan_patient), 'subscribe_alerts',
                                  'no legitimate relationship');
        RAISE EXCEPTION 'no legitimate relationship with patient %', coalesce(subscribe_alerts.patient_id, plan_patient)
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    BEGIN
        INSERT INTO scr.alert_subscription AS s (professional_id, team_id, scope, patient_id, care_plan_id,
                                                 event_types, created_by)
        VALUES (CASE WHEN team_id IS NULL THEN scr.context_professional() END, team_id, scope,
                scr.current_patient_id(subscribe_alerts.patient_id), care_plan_id, event_types,
                scr.context_professional())
        RETURNING s.subscription_id INTO id;
    EXCEPTION WHEN check_violation OR not_null_violation THEN
        RAISE EXCEPTION 'subscription refused: %', SQLERRM USING ERRCODE = 'invalid_parameter_value',
            HINT = 'scope is patient (with patient_id), caseload, or care_plan (with care_plan_id); event types are admission, ae_attendance, safeguarding_alert, death, task_overdue.';
    END;
    RETURN id;
END
$$;

CREATE FUNCTION scr.unsubscribe_alerts(subscription_id bigint) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, scr, pg_temp AS $$
BEGIN
    DELETE FROM scr.alert_subscription s
    WHERE s.subscription_id = unsubscribe_alerts.subscription_id
      AND (s.professional_id = scr.context_professional()
           OR s.team_id IN (SELECT m.team_id FROM scr.team_member m WHERE m.professional_id = scr.context_professional()));
    RETURN FOUND;
END
$$;

-- A recipient acknowledges or dismisses an alert (new -> acknowledged ->
-- dismissed; new -> dismissed).  Only an alert the caller can see.
CREATE FUNCTION scr.set_alert_status(alert_id bigint, status text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, scr, pg_temp AS $$
DECLARE
    a scr.alert;
BEGIN
    IF set_alert_status.status IS NULL OR set_alert_status.status NOT IN ('acknowledged', 'dismissed') THEN
        RAISE EXCEPTION 'an alert is acknowledged or dismissed' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT * INTO a FROM scr.alert x WHERE x.alert_id = set_alert_status.alert_id FOR UPDATE;
    IF NOT FOUND OR scr.context_professional() IS NULL
       OR NOT (coalesce(a.recipient_professional = scr.context_professional(), false)
               OR coalesce(a.recipient_ods = scr.context_organisation(), false))
       OR NOT scr.may_read_patient(a.patient_id) THEN
        RAISE EXCEPTION 'no alert % for the acting professional', set_alert_status.alert_id
            USING ERRCODE = 'no_data_found';
    END IF;
    IF a.status = 'dismissed' OR (a.status = 'acknowledged' AND set_alert_status.status = 'acknowledged') THEN
        RAISE EXCEPTION 'alert % is already %', a.alert_id, a.status USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    UPDATE scr.alert x SET status = set_alert_status.status, status_changed_at = statement_timestamp(),
                           status_changed_by = scr.context_professional()
    WHERE x.patient_id = a.patient_id AND x.alert_id = a.alert_id;
END
$$;

-- Row-level security: a recipient (the professional, or anyone acting for
-- the organisation) sees an alert, and only for a patient they may see.
ALTER TABLE scr.alert ENABLE ROW LEVEL SECURITY;
ALTER TABLE scr.alert FORCE ROW LEVEL SECURITY;
CREATE POLICY read_alert ON scr.alert FOR SELECT TO scr_clinical_gateway
    USING ((recipient_professional = scr.context_professional() OR recipient_ods = scr.context_organisation())
           AND scr.may_read_patient(patient_id));
CREATE TRIGGER audit_insert AFTER INSERT ON scr.alert REFERENCING NEW TABLE AS audit_rows
    FOR EACH STATEMENT EXECUTE FUNCTION scr.audit_write('C', 'audit_rows');
CREATE TRIGGER audit_update AFTER UPDATE ON scr.alert REFERENCING NEW TABLE AS audit_rows
    FOR EACH STATEMENT EXECUTE FUNCTION scr.audit_write('U', 'audit_rows');

CREATE VIEW scr.my_alert WITH (security_invoker = true) AS
SELECT a.alert_id, a.patient_id, a.event_type, a.summary, a.status, a.occurrences, a.raised_at, a.last_raised_at,
       a.recipient_professional IS NULL AS for_organisation, a.care_plan_id, a.task_id, a.entry_id
FROM scr.alert a WHERE a.status <> 'dismissed';
COMMENT ON VIEW scr.my_alert IS 'the acting professional''s alerts (theirs and their organisation''s), not dismissed';
CREATE VIEW scr.alert_digest WITH (security_invoker = true) AS
SELECT coalesce(a.recipient_professional, a.recipient_ods) AS recipient, a.event_type,
       count(*) FILTER (WHERE a.status = 'new') AS new, count(*) FILTER (WHERE a.status = 'acknowledged') AS acknowledged,
       sum(a.occurrences) FILTER (WHERE a.status = 'new') AS occurrences, max(a.last_raised_at) AS latest
FROM scr.alert a WHERE a.status <> 'dismissed'
GROUP BY 1, 2;
COMMENT ON VIEW scr.alert_digest IS 'per recipient and event type: alerts new and acknowledged, repeats folded in, the latest';

CREATE VIEW scr.my_alert_subscription AS
SELECT s.subscription_id, s.professional_id, s.team_id, s.scope, s.patient_id, s.care_plan_id, s.event_types, s.created_at
FROM scr.alert_subscription s
WHERE s.professional_id = scr.context_professional()
   OR s.team_id IN (SELECT m.team_id FROM scr.team_member m WHERE m.professional_id = scr.context_professional());
COMMENT ON VIEW scr.my_alert_subscription IS 'the acting professional''s subscriptions and their teams''';

GRANT SELECT ON scr.alert, scr.my_alert, scr.alert_digest, scr.my_alert_subscription TO scr_clinical_gateway;
GRANT SELECT ON scr.alert_rule, scr.alert_event_code, scr.alert_rule_setting TO scr_clinical_gateway, scr_admin;
GRANT INSERT, UPDATE, DELETE ON scr.alert_rule_setting, scr.alert_event_code TO scr_admin;
REVOKE ALL ON scr.alert_subscription FROM PUBLIC;
-- Which patients a professional follows is patient data too: no role reads
-- the table directly (the functions and scr.my_alert_subscription do).
ALTER TABLE scr.alert_subscription ENABLE ROW LEVEL SECURITY;
ALTER TABLE scr.alert_subscription FORCE ROW LEVEL SECURITY;
REVOKE ALL ON FUNCTION scr._raise_alerts(bigint, text, text, text, text[], bigint, bigint, bigint, bigint),
    scr._alert_recipients(bigint, text[]), scr._alert_subscribers(bigint, text),
    scr._alert_event(bigint, text, text, bigint, bigint), scr._close_care_on_death(bigint),
    scr._alert_on_entries(), scr._alert_on_death(), scr.raise_overdue_task_alerts(),
    scr.subscribe_alerts(text, text[], bigint, bigint, text), scr.unsubscribe_alerts(bigint),
    scr.set_alert_status(bigint, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION scr.subscribe_alerts(text, text[], bigint, bigint, text), scr.unsubscribe_alerts(bigint),
    scr.set_alert_status(bigint, text) TO scr_clinical_gateway;
GRANT EXECUTE ON FUNCTION scr.raise_overdue_task_alerts() TO scr_admin;
COMMENT ON FUNCTION scr.subscribe_alerts(text, text[], bigint, bigint, text) IS
    'subscribe the acting professional (or a team of theirs) to a patient, their caseload or a care plan, for event types';
COMMENT ON FUNCTION scr.unsubscribe_alerts(bigint) IS 'end one of the acting professional''s (or their team''s) subscriptions';
COMMENT ON FUNCTION scr.set_alert_status(bigint, text) IS 'acknowledge or dismiss an alert the acting professional can see';
COMMENT ON FUNCTION scr.raise_overdue_task_alerts() IS 'operators'' scheduled job: alert the assignees of overdue tasks';

SELECT pg_catalog.pg_extension_config_dump('scr.alert_event_code', 'WHERE NOT shipped');
SELECT pg_catalog.pg_extension_config_dump('scr.alert_rule_setting', '');
SELECT pg_catalog.pg_extension_config_dump('scr.alert_subscription', '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('scr.alert_subscription', 'subscription_id'), '');
SELECT pg_catalog.pg_extension_config_dump('scr.alert', '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('scr.alert', 'alert_id'), '');
