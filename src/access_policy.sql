-- Row-level security on every patient-data table (src/access_policy.c).

CREATE FUNCTION scr.may_read_patient(patient_id bigint) RETURNS boolean
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE PARALLEL RESTRICTED;
COMMENT ON FUNCTION scr.may_read_patient(bigint) IS
    'policy: the acting professional may see this patient''s demographics (relationship, direct-care purpose, activity)';
CREATE FUNCTION scr.may_read_entry(patient_id bigint, kind text, sensitivity "char",
                                   category text, ods_code text) RETURNS boolean
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE PARALLEL RESTRICTED;
COMMENT ON FUNCTION scr.may_read_entry(bigint, text, "char", text, text) IS
    'policy: the acting professional may see this entry (relationship, purpose, kind and sensitivity allowed, sealed categories only to their author)';

-- Dropping the access cache when what it was built from changes.
CREATE FUNCTION scr.access_invalidate() RETURNS trigger
    AS 'MODULE_PATHNAME' LANGUAGE C;
CREATE TRIGGER access_invalidate AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON scr.relationship
    FOR EACH STATEMENT EXECUTE FUNCTION scr.access_invalidate();
CREATE TRIGGER access_invalidate AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON scr.role_profile
    FOR EACH STATEMENT EXECUTE FUNCTION scr.access_invalidate();
CREATE TRIGGER access_invalidate AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON scr.professional
    FOR EACH STATEMENT EXECUTE FUNCTION scr.access_invalidate();
CREATE TRIGGER access_invalidate AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON scr.job_role_activity
    FOR EACH STATEMENT EXECUTE FUNCTION scr.access_invalidate();
CREATE TRIGGER access_invalidate AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON scr.activity_access
    FOR EACH STATEMENT EXECUTE FUNCTION scr.access_invalidate();
CREATE TRIGGER access_invalidate AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON scr.team_member
    FOR EACH STATEMENT EXECUTE FUNCTION scr.access_invalidate();
CREATE TRIGGER access_invalidate AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON scr.sensitivity_category
    FOR EACH STATEMENT EXECUTE FUNCTION scr.access_invalidate();
CREATE TRIGGER access_invalidate AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON scr.patient_merge
    FOR EACH STATEMENT EXECUTE FUNCTION scr.access_invalidate();

-- Policies: reading only (every write goes through the SECURITY DEFINER
-- feed functions).  A role with no policy for a command gets no rows.
CREATE POLICY read_patient ON scr.patient FOR SELECT TO scr_clinical_gateway
    USING (scr.may_read_patient(patient_id));
CREATE POLICY read_nhs_number ON scr.patient_nhs_number FOR SELECT TO scr_clinical_gateway
    USING (scr.may_read_patient(patient_id));
CREATE POLICY read_source_identifier ON scr.source_identifier FOR SELECT TO scr_clinical_gateway
    USING (scr.may_read_patient(patient_id));
CREATE POLICY read_relationship ON scr.relationship FOR SELECT TO scr_clinical_gateway
    USING (scr.may_read_patient(patient_id));
CREATE POLICY read_entry ON scr.entry FOR SELECT TO scr_clinical_gateway
    USING (scr.may_read_entry(patient_id, kind, sensitivity, sensitivity_category, ods_code));
-- An old version is shown only if its entry, as it stands now, may be seen
-- too: a label added later (an entry resent as sealed) covers its history.
-- (The subquery reads scr.entry under the reader's own policy.)
CREATE POLICY read_entry_history ON scr.entry_history FOR SELECT TO scr_clinical_gateway
    USING (scr.may_read_entry(patient_id, kind, sensitivity, sensitivity_category, ods_code)
           AND EXISTS (SELECT FROM scr.entry e
                       WHERE e.patient_id = entry_history.patient_id
                         AND e.entry_id = entry_history.entry_id));
GRANT SELECT ON scr.patient, scr.patient_nhs_number, scr.source_identifier, scr.relationship,
    scr.entry, scr.entry_history TO scr_clinical_gateway;
REVOKE ALL ON FUNCTION scr.access_invalidate() FROM PUBLIC;
