-- End of Life preferences, after the EPaCCS core content (docs/care_plans.md):
-- one current record per patient, every version kept in scr.care_version,
-- read like the end_of_life entry kind, exportable as FHIR-shaped jsonb.

CREATE TABLE scr.end_of_life_record (
    patient_id                  bigint PRIMARY KEY REFERENCES scr.patient,
    preferred_place_of_care     text CHECK (preferred_place_of_care IN ('home', 'care_home', 'hospice', 'hospital', 'other', 'not_stated')),
    preferred_place_of_death    text CHECK (preferred_place_of_death IN ('home', 'care_home', 'hospice', 'hospital', 'other', 'not_stated')),
    cpr_decision                text CHECK (cpr_decision IN ('dnacpr', 'attempt_cpr', 'not_discussed')),
    cpr_decision_date           date,
    cpr_documented_at           text CHECK (length(cpr_documented_at) <= 200),
    cpr_review_date             date,
    advance_decision            boolean,
    advance_decision_details    text CHECK (length(advance_decision_details) <= 2000),
    lasting_power_of_attorney   boolean,
    attorney_details            text CHECK (length(attorney_details) <= 500),
    key_worker                  text REFERENCES scr.professional,
    anticipatory_medicines      boolean,
    anticipatory_medicines_date date,
    carer_details               text CHECK (length(carer_details) <= 500),
    prognosis_awareness         text CHECK (prognosis_awareness IN ('patient_aware', 'patient_not_aware', 'family_aware', 'not_discussed')),
    ods_code                    text NOT NULL,
    version                     integer NOT NULL DEFAULT 1,
    recorded_at                 timestamptz NOT NULL DEFAULT statement_timestamp(),
    recorded_by                 text NOT NULL,
    CHECK (cpr_decision IS DISTINCT FROM 'dnacpr' OR cpr_decision_date IS NOT NULL)
);
COMMENT ON TABLE scr.end_of_life_record IS
    'End of Life preferences (EPaCCS core content): one current record per patient; versions in scr.care_version';
ALTER TABLE scr.care_version DROP CONSTRAINT care_version_record_kind_check;
ALTER TABLE scr.care_version ADD CHECK (record_kind IN ('care_plan', 'care_task', 'end_of_life'));

-- Record or change a patient's End of Life preferences.  preferences holds
-- any of the columns above (by name); a key given as null clears it, a key
-- not given keeps its value.  Returns the new version.
CREATE FUNCTION scr.record_end_of_life(patient_id bigint, preferences jsonb)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, scr, pg_temp AS $$
DECLARE
    root bigint := scr.current_patient_id(record_end_of_life.patient_id);
    allowed text[] := ARRAY['preferred_place_of_care', 'preferred_place_of_death', 'cpr_decision',
                            'cpr_decision_date', 'cpr_documented_at', 'cpr_review_date', 'advance_decision',
                            'advance_decision_details', 'lasting_power_of_attorney', 'attorney_details',
                            'key_worker', 'anticipatory_medicines', 'anticipatory_medicines_date',
                            'carer_details', 'prognosis_awareness'];
    unknown text;
    cur scr.end_of_life_record;
    merged jsonb;
BEGIN
    PERFORM scr._care_check(root, 'record_end_of_life');
    IF preferences IS NULL OR jsonb_typeof(preferences) <> 'object' THEN
        RAISE EXCEPTION 'preferences must be a JSON object' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT string_agg(k, ', ' ORDER BY k) INTO unknown
    FROM jsonb_object_keys(preferences) k WHERE k <> ALL (allowed);
    IF unknown IS NOT NULL THEN
        RAISE EXCEPTION 'unknown End of Life field(s): %', unknown USING ERRCODE = 'invalid_parameter_value',
            HINT = 'Fields: ' || array_to_string(allowed, ', ') || '.';
    END IF;
    SELECT * INTO cur FROM scr.end_of_life_record r WHERE r.patient_id = root FOR UPDATE;
    merged := coalesce(to_jsonb(cur), '{}'::jsonb) || preferences
              || jsonb_build_object('patient_id', root, 'ods_code', scr.context_organisation(),
                                    'version', coalesce(cur.version, 0) + 1,
                                    'recorded_at', statement_timestamp(),
                                    'recorded_by', scr.context_professional());
    BEGIN
        cur := jsonb_populate_record(NULL::scr.end_of_life_record, merged);
    EXCEPTION WHEN invalid_text_representation OR invalid_datetime_format OR datetime_field_overflow THEN
        RAISE EXCEPTION 'an End of Life field has a value of the wrong type: %', SQLERRM
            USING ERRCODE = 'invalid_parameter_value';
    END;
    BEGIN
        INSERT INTO scr.end_of_life_record SELECT cur.*
        ON CONFLICT ON CONSTRAINT end_of_life_record_pkey DO UPDATE
        SET preferred_place_of_care = excluded.preferred_place_of_care,
            preferred_place_of_death = excluded.preferred_place_of_death,
            cpr_decision = excluded.cpr_decision, cpr_decision_date = excluded.cpr_decision_date,
            cpr_documented_at = excluded.cpr_documented_at, cpr_review_date = excluded.cpr_review_date,
            advance_decision = excluded.advance_decision, advance_decision_details = excluded.advance_decision_details,
            lasting_power_of_attorney = excluded.lasting_power_of_attorney, attorney_details = excluded.attorney_details,
            key_worker = excluded.key_worker, anticipatory_medicines = excluded.anticipatory_medicines,
            anticipatory_medicines_date = excluded.anticipatory_medicines_date, carer_details = excluded.carer_details,
            prognosis_awareness = excluded.prognosis_awareness, ods_code = excluded.ods_code,
            version = excluded.version, recorded_at = excluded.recorded_at, recorded_by = excluded.recorded_by;
    EXCEPTION WHEN check_violation OR foreign_key_violation THEN
        RAISE EXCEPTION 'End of Life preferences refused: %', SQLERRM USING ERRCODE = 'invalid_parameter_value',
            HINT = 'A DNACPR decision needs its date; places, decisions and awareness take the documented codes; a key worker is a professional id.';
    END;
    PERFORM scr._care_version('end_of_life', root, root, cur.version, to_jsonb(cur));
    RETURN cur.version;
END
$$;
COMMENT ON FUNCTION scr.record_end_of_life(bigint, jsonb) IS
    'record or change a patient''s End of Life preferences (needs B0380 and a relationship); returns the new version';

-- The current record as FHIR-shaped jsonb: a collection Bundle of a
-- Consent (the CPR decision), Observations (preferred places, prognosis
-- awareness, anticipatory medicines), a Consent for an advance decision, a
-- RelatedPerson for the attorney and the carer, and the key worker as a
-- CareTeam.  Policies apply: NULL when the caller may not see it.
CREATE FUNCTION scr.end_of_life_fhir(patient_id bigint) RETURNS jsonb
LANGUAGE sql STABLE SET search_path = pg_catalog, scr, pg_temp AS $$
SELECT jsonb_build_object(
    'resourceType', 'Bundle', 'type', 'collection',
    'meta', jsonb_build_object('versionId', r.version::text, 'lastUpdated', r.recorded_at,
                               'source', r.ods_code),
    'entry', (SELECT coalesce(jsonb_agg(jsonb_build_object('resource', res)), '[]'::jsonb) FROM (VALUES
        (CASE WHEN r.cpr_decision IS NOT NULL THEN jsonb_strip_nulls(jsonb_build_object(
            'resourceType', 'Consent', 'status', 'active',
            'scope', jsonb_build_object('text', 'Cardiopulmonary resuscitation decision'),
            'category', jsonb_build_array(jsonb_build_object('text', 'CPR decision')),
            'patient', jsonb_build_object('reference', 'Patient/' || r.patient_id),
            'dateTime', r.cpr_decision_date,
            'provision', jsonb_build_object('type', CASE r.cpr_decision WHEN 'dnacpr' THEN 'deny'
                                                                  WHEN 'attempt_cpr' THEN 'permit' END,
                                            'code', jsonb_build_array(jsonb_build_object('text', r.cpr_decision))),
            'extension', jsonb_build_array(jsonb_build_object('url', 'documentedAt', 'valueString', r.cpr_documented_at),
                                           jsonb_build_object('url', 'reviewDate', 'valueDate', r.cpr_review_date)))) END),
        (CASE WHEN r.preferred_place_of_care IS NOT NULL THEN jsonb_build_object(
            'resourceType', 'Observation', 'status', 'final',
            'code', jsonb_build_object('text', 'Preferred place of care'),
            'subject', jsonb_build_object('reference', 'Patient/' || r.patient_id),
            'valueString', r.preferred_place_of_care) END),
        (CASE WHEN r.preferred_place_of_death IS NOT NULL THEN jsonb_build_object(
            'resourceType', 'Observation', 'status', 'final',
            'code', jsonb_build_object('text', 'Preferred place of death'),
            'subject', jsonb_build_object('reference', 'Patient/' || r.patient_id),
            'valueString', r.preferred_place_of_death) END),
        (CASE WHEN r.prognosis_awareness IS NOT NULL THEN jsonb_build_object(
            'resourceType', 'Observation', 'status', 'final',
            'code', jsonb_build_object('text', 'Awareness of prognosis'),
            'subject', jsonb_build_object('reference', 'Patient/' || r.patient_id),
            'valueString', r.prognosis_awareness) END),
        (CASE WHEN r.anticipatory_medicines IS NOT NULL THEN jsonb_strip_nulls(jsonb_build_object(
            'resourceType', 'Observation', 'status', 'final',
            'code', jsonb_build_object('text', 'Anticipatory medicines issued'),
            'subject', jsonb_build_object('reference', 'Patient/' || r.patient_id),
            'valueBoolean', r.anticipatory_medicines, 'effectiveDateTime', r.anticipatory_medicines_date)) END),
        (CASE WHEN r.advance_decision THEN jsonb_strip_nulls(jsonb_build_object(
            'resourceType', 'Consent', 'status', 'active',
            'scope', jsonb_build_object('text', 'Advance decision to refuse treatment'),
            'patient', jsonb_build_object('reference', 'Patient/' || r.patient_id),
            'provision', jsonb_build_object('type', 'deny'),
            'policyRule', jsonb_build_object('text', r.advance_decision_details))) END),
        (CASE WHEN r.lasting_power_of_attorney THEN jsonb_strip_nulls(jsonb_build_object(
            'resourceType', 'RelatedPerson',
            'patient', jsonb_build_object('reference', 'Patient/' || r.patient_id),
            'relationship', jsonb_build_array(jsonb_build_object('text', 'Lasting power of attorney (health and welfare)')),
            'name', jsonb_build_array(jsonb_build_object('text', r.attorney_details)))) END),
        (CASE WHEN r.carer_details IS NOT NULL THEN jsonb_build_object(
            'resourceType', 'RelatedPerson',
            'patient', jsonb_build_object('reference', 'Patient/' || r.patient_id),
            'relationship', jsonb_build_array(jsonb_build_object('text', 'Carer')),
            'name', jsonb_build_array(jsonb_build_object('text', r.carer_details))) END),
        (CASE WHEN r.key_worker IS NOT NULL THEN jsonb_build_object(
            'resourceType', 'CareTeam', 'status', 'active', 'name', 'End of Life key worker',
            'subject', jsonb_build_object('reference', 'Patient/' || r.patient_id),
            'participant', jsonb_build_array(jsonb_build_object(
                'role', jsonb_build_array(jsonb_build_object('text', 'Key worker')),
                'member', jsonb_build_object('identifier', jsonb_build_object('value', r.key_worker))))) END)
    ) v(res) WHERE res IS NOT NULL))
FROM scr.end_of_life_record r
WHERE r.patient_id = ANY (scr.merge_group(end_of_life_fhir.patient_id))
$$;
COMMENT ON FUNCTION scr.end_of_life_fhir(bigint) IS
    'a patient''s End of Life preferences as a FHIR-shaped collection Bundle (policies apply; NULL if none visible)';

ALTER TABLE scr.end_of_life_record ENABLE ROW LEVEL SECURITY;
ALTER TABLE scr.end_of_life_record FORCE ROW LEVEL SECURITY;
CREATE POLICY read_end_of_life ON scr.end_of_life_record FOR SELECT TO scr_clinical_gateway
    USING (scr.may_read_entry(patient_id, 'end_of_life', 'N', NULL, ods_code));
CREATE TRIGGER audit_insert AFTER INSERT ON scr.end_of_life_record REFERENCING NEW TABLE AS audit_rows
    FOR EACH STATEMENT EXECUTE FUNCTION scr.audit_write('C', 'audit_rows');
CREATE TRIGGER audit_update AFTER UPDATE ON scr.end_of_life_record REFERENCING NEW TABLE AS audit_rows
    FOR EACH STATEMENT EXECUTE FUNCTION scr.audit_write('U', 'audit_rows');
CREATE TRIGGER audit_delete AFTER DELETE ON scr.end_of_life_record REFERENCING OLD TABLE AS audit_rows
    FOR EACH STATEMENT EXECUTE FUNCTION scr.audit_write('D', 'audit_rows');
GRANT SELECT ON scr.end_of_life_record TO scr_clinical_gateway;
REVOKE ALL ON FUNCTION scr.record_end_of_life(bigint, jsonb), scr.end_of_life_fhir(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION scr.record_end_of_life(bigint, jsonb), scr.end_of_life_fhir(bigint) TO scr_clinical_gateway;
SELECT pg_catalog.pg_extension_config_dump('scr.end_of_life_record', '');
