-- Views for clinicians' systems: every one is security_invoker, so the
-- caller's row-level policies apply (a view owned by the extension's owner
-- would otherwise read as its owner).

-- The current record: entered-in-error left out.  patient_id is the record
-- the entry was sent for (indexed: fetch by it); scr.patient_entries(id)
-- fetches a patient's whole record, merged records included, through the
-- index.  No joins: a one-patient fetch through the view costs what the
-- table does (bench/access), so the organisation's name and the merged
-- patient are for the caller to look up (scr.organisation, scr.merge_group).
CREATE VIEW scr.clinical_entry WITH (security_invoker = true) AS
SELECT e.patient_id, e.entry_id, e.kind, e.code_system, e.code, e.display, e.status,
       e.effective_start, e.effective_end, e.author, e.source_code, e.ods_code, e.source_ref,
       e.source_timestamp, e.received_at, e.sensitivity, e.sensitivity_category, e.payload,
       e.version
FROM scr.entry e
WHERE e.status <> 'entered-in-error';
COMMENT ON VIEW scr.clinical_entry IS 'The current record for clinicians'' systems (policies apply)';

CREATE VIEW scr.problems WITH (security_invoker = true) AS
    SELECT * FROM scr.clinical_entry WHERE kind = 'problem';
CREATE VIEW scr.medications WITH (security_invoker = true) AS
    SELECT * FROM scr.clinical_entry WHERE kind = 'medication';
CREATE VIEW scr.allergies WITH (security_invoker = true) AS
    SELECT * FROM scr.clinical_entry WHERE kind = 'allergy';
CREATE VIEW scr.encounters WITH (security_invoker = true) AS
    SELECT * FROM scr.clinical_entry WHERE kind = 'encounter';
CREATE VIEW scr.observations WITH (security_invoker = true) AS
    SELECT * FROM scr.clinical_entry WHERE kind = 'observation';
CREATE VIEW scr.procedures WITH (security_invoker = true) AS
    SELECT * FROM scr.clinical_entry WHERE kind = 'procedure';
CREATE VIEW scr.documents WITH (security_invoker = true) AS
    SELECT * FROM scr.clinical_entry WHERE kind = 'document';
CREATE VIEW scr.alerts WITH (security_invoker = true) AS
    SELECT * FROM scr.clinical_entry WHERE kind = 'alert';
CREATE VIEW scr.social_care_assessments WITH (security_invoker = true) AS
    SELECT * FROM scr.clinical_entry WHERE kind = 'social_care_assessment';
CREATE VIEW scr.end_of_life_preferences WITH (security_invoker = true) AS
    SELECT * FROM scr.clinical_entry WHERE kind = 'end_of_life';
CREATE VIEW scr.care_plans WITH (security_invoker = true) AS
    SELECT * FROM scr.clinical_entry WHERE kind = 'care_plan';

-- The patient and every record merged with it (ids only).
CREATE FUNCTION scr.merge_group(patient_id bigint) RETURNS bigint[]
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, scr, pg_temp AS $$
DECLARE
    root bigint := scr.current_patient_id(merge_group.patient_id);
BEGIN
    -- Only for a patient the caller may see: ids reveal merges too.
    IF root IS NULL OR NOT scr.may_read_patient(root) THEN
        RETURN '{}'::bigint[];
    END IF;
    RETURN root || ARRAY(SELECT p.patient_id FROM scr.patient p WHERE p.merged_into = root);
END
$$;
COMMENT ON FUNCTION scr.merge_group(bigint) IS
    'the patient a record has become and every record merged into it (ids only; empty unless the caller may see the patient)';

-- One patient's current record, newest first: what a clinician's system
-- shows on opening a patient.  The caller's policies apply.
CREATE FUNCTION scr.patient_entries(patient_id bigint) RETURNS SETOF scr.clinical_entry
LANGUAGE sql STABLE SET search_path = pg_catalog, scr, pg_temp AS $$
    SELECT * FROM scr.clinical_entry c
    WHERE c.patient_id = ANY (scr.merge_group(patient_entries.patient_id))
    ORDER BY c.effective_start DESC NULLS LAST, c.entry_id
$$;
COMMENT ON FUNCTION scr.patient_entries(bigint) IS
    'a patient''s current record with merged records, newest first (policies apply)';
REVOKE ALL ON FUNCTION scr.merge_group(bigint), scr.patient_entries(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION scr.merge_group(bigint), scr.patient_entries(bigint) TO scr_clinical_gateway;

GRANT SELECT ON scr.clinical_entry, scr.problems, scr.medications, scr.allergies, scr.encounters,
    scr.observations, scr.procedures, scr.documents, scr.alerts, scr.social_care_assessments,
    scr.end_of_life_preferences, scr.care_plans TO scr_clinical_gateway;

CREATE FUNCTION scr.entry_withheld_reason(patient_id bigint, kind text, sensitivity "char",
                                          category text, ods_code text) RETURNS text
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE PARALLEL RESTRICTED;
REVOKE ALL ON FUNCTION scr.entry_withheld_reason(bigint, text, "char", text, text) FROM PUBLIC;

-- One patient's summary for the acting professional: what they may see,
-- counted by kind, and how many entries are withheld from them and why
-- (reason class and count only, never content).  SECURITY DEFINER to count
-- what the caller cannot see; it answers only for a patient the caller may
-- see.
CREATE FUNCTION scr.patient_summary(patient_id bigint)
RETURNS TABLE (kind text, visible bigint, withheld bigint, withheld_reasons text, detail text)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, scr, pg_temp AS $$
DECLARE
    root bigint := scr.current_patient_id(patient_summary.patient_id);
BEGIN
    IF root IS NULL OR NOT scr.may_read_patient(root) THEN
        PERFORM scr.audit_refusal(patient_summary.patient_id, 'patient_summary', 'no legitimate relationship');
        RAISE EXCEPTION 'no legitimate relationship with patient %', patient_summary.patient_id
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    -- End of Life preferences first, in words, where the caller may see
    -- them (like an end_of_life entry); counted as withheld where not.
    RETURN QUERY
    SELECT 'end_of_life_record'::text,
           (w.reason IS NULL)::int::bigint, (w.reason IS NOT NULL)::int::bigint, w.reason || ' 1',
           CASE WHEN w.reason IS NULL THEN concat_ws('; ',
               CASE r.cpr_decision WHEN 'dnacpr' THEN 'DNACPR since ' || to_char(r.cpr_decision_date, 'YYYY-MM-DD')
                                   WHEN 'attempt_cpr' THEN 'for CPR' END,
               'preferred place of care: ' || r.preferred_place_of_care,
               'preferred place of death: ' || r.preferred_place_of_death,
               'key worker: ' || r.key_worker,
               CASE WHEN r.advance_decision THEN 'advance decision to refuse treatment' END,
               CASE WHEN r.lasting_power_of_attorney THEN 'lasting power of attorney' END,
               CASE WHEN r.anticipatory_medicines THEN 'anticipatory medicines issued' END) END
    FROM scr.end_of_life_record r
    CROSS JOIN LATERAL (SELECT scr.entry_withheld_reason(r.patient_id, 'end_of_life', 'N', NULL, r.ods_code)
                               AS reason) w
    WHERE r.patient_id = root;
    RETURN QUERY
    WITH judged AS (
        SELECT e.kind, scr.entry_withheld_reason(e.patient_id, e.kind, e.sensitivity,
                                                 e.sensitivity_category, e.ods_code) AS reason
        FROM scr.entry e
        JOIN scr.patient p ON p.patient_id = e.patient_id
        WHERE coalesce(p.merged_into, p.patient_id) = root AND e.status <> 'entered-in-error'
    )
    SELECT k.kind, count(j.kind) FILTER (WHERE j.reason IS NULL),
           count(j.kind) FILTER (WHERE j.reason IS NOT NULL),
           (SELECT string_agg(r || ' ' || n, ', ' ORDER BY r)
            FROM (SELECT j2.reason AS r, count(*) AS n FROM judged j2
                  WHERE j2.kind = k.kind AND j2.reason IS NOT NULL GROUP BY 1) x),
           NULL::text
    FROM scr.entry_kind k
    LEFT JOIN judged j ON j.kind = k.kind
    GROUP BY k.kind
    HAVING count(j.kind) > 0
    ORDER BY k.kind;
END
$$;
COMMENT ON FUNCTION scr.patient_summary(bigint) IS
    'what the acting professional may see of a patient: End of Life preferences first (in words), then by kind, with withheld counts by reason class';
REVOKE ALL ON FUNCTION scr.patient_summary(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION scr.patient_summary(bigint) TO scr_clinical_gateway;
