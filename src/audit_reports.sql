-- Privacy officers' reports over the audit trail (docs/audit.md).  The
-- views run with their owner's rights (they join tables whose row-level
-- policies are for clinicians) and are granted to scr_privacy_officer only.

-- What a professional may optionally record about themselves so that
-- access to a relative's or a neighbour's record stands out.
ALTER TABLE scr.professional
    ADD COLUMN family_name text CHECK (length(family_name) <= 200),
    ADD COLUMN home_postcode text CHECK (length(home_postcode) <= 16),
    ADD COLUMN home_address text CHECK (length(home_address) <= 500);
COMMENT ON COLUMN scr.professional.family_name IS
    'optional: the professional''s family name, for the same-family-name access report';
COMMENT ON COLUMN scr.professional.home_postcode IS
    'optional: the professional''s home postcode, for the same-address access report';
COMMENT ON COLUMN scr.professional.home_address IS
    'optional: the professional''s home address, for the same-address access report';

-- Working hours, per ISO day of the week (1 Monday .. 7 Sunday), in the
-- area's time zone; a day without a row has none.  The area's own rows
-- (scr.working_hours, dumped) replace the shipped ones
-- (scr.working_hours_default) as soon as there is one.
CREATE TABLE scr.working_hours_default (
    isodow      smallint PRIMARY KEY CHECK (isodow BETWEEN 1 AND 7),
    opens       time NOT NULL,
    closes      time NOT NULL CHECK (closes > opens),
    time_zone   text NOT NULL DEFAULT 'Europe/London'
                CHECK (('2000-01-01 00:00+00'::timestamptz AT TIME ZONE time_zone) IS NOT NULL)
);
INSERT INTO scr.working_hours_default (isodow, opens, closes)
SELECT d, '08:00', '18:30' FROM generate_series(1, 5) d;
CREATE TABLE scr.working_hours (LIKE scr.working_hours_default INCLUDING ALL);
COMMENT ON TABLE scr.working_hours_default IS
    'shipped working hours (Monday to Friday 08:00-18:30, Europe/London), in force while scr.working_hours is empty';
COMMENT ON TABLE scr.working_hours IS
    'the area''s working hours per ISO weekday, for the out-of-hours access report; when it has rows they replace the shipped ones';
CREATE VIEW scr.working_hours_in_force AS
SELECT w.isodow, w.opens, w.closes, w.time_zone FROM scr.working_hours w
UNION ALL
SELECT d.isodow, d.opens, d.closes, d.time_zone FROM scr.working_hours_default d
WHERE NOT EXISTS (SELECT FROM scr.working_hours);
COMMENT ON VIEW scr.working_hours_in_force IS 'the working hours the out-of-hours report uses';

-- Accesses: events by an acting professional that showed or changed a
-- patient's record, or began emergency access.
CREATE VIEW scr.audit_access AS
SELECT e.audit_event_id, e.recorded_at, e.event_type, e.action, e.outcome, e.outcome_reason,
       e.professional_id, e.role_profile_id, e.ods_code, e.purpose, e.patient_id,
       coalesce(p.merged_into, e.patient_id) AS current_patient_id, e.object_table, e.row_count,
       e.break_glass_id
FROM scr.audit_event e
LEFT JOIN scr.patient p ON p.patient_id = e.patient_id
WHERE e.professional_id IS NOT NULL AND e.patient_id IS NOT NULL;
COMMENT ON VIEW scr.audit_access IS
    'privacy officers: every audited access by an acting professional to a patient (the patient as it now stands in current_patient_id)';

-- Who accessed a patient's record, in the shape a patient can be given:
-- when, which organisation, which professional in which role, why, and
-- what they did.  Merged records are included.
CREATE FUNCTION scr.patient_access_report(patient_id bigint, since timestamptz DEFAULT NULL)
RETURNS TABLE (accessed_at timestamptz, organisation text, professional text, job_role text,
               purpose text, what text, outcome text)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, scr, pg_temp AS $$
DECLARE
    root bigint;
BEGIN
    PERFORM scr._audit_check_officer('scr.patient_access_report');
    root := scr.current_patient_id(patient_access_report.patient_id);
    IF root IS NULL THEN
        RAISE EXCEPTION 'patient % does not exist', patient_access_report.patient_id
            USING ERRCODE = 'no_data_found';
    END IF;
    RETURN QUERY
    SELECT a.recorded_at, coalesce(o.name, a.ods_code), coalesce(pr.name, a.professional_id),
           coalesce(jr.name, rp.job_role), a.purpose,
           CASE a.event_type
               WHEN 'read' THEN 'viewed the record'
               WHEN 'write' THEN 'added to or changed the record'
               WHEN 'break-glass-start' THEN 'began emergency access'
               WHEN 'break-glass-end' THEN 'emergency access ended'
               WHEN 'refused' THEN 'was refused access'
               ELSE a.event_type
           END,
           CASE WHEN a.outcome = 0 THEN 'success' ELSE 'refused' END
    FROM scr.audit_access a
    LEFT JOIN scr.organisation o ON o.ods_code = a.ods_code
    LEFT JOIN scr.professional pr ON pr.professional_id = a.professional_id
    LEFT JOIN scr.role_profile rp ON rp.role_profile_id = a.role_profile_id
    LEFT JOIN scr.job_role jr ON jr.job_role = rp.job_role
    WHERE a.current_patient_id = root
      AND (since IS NULL OR a.recorded_at >= since)
    ORDER BY a.recorded_at, a.audit_event_id;
END
$$;
COMMENT ON FUNCTION scr.patient_access_report(bigint, timestamptz) IS
    'privacy officers: who accessed a patient''s record (merged records included), in the shape a patient can be given';

-- Break-glass use: every grant, its reasons, how it ended, and how many
-- reads the professional made of the patient while it lasted.
CREATE VIEW scr.break_glass_report AS
SELECT b.break_glass_id, b.patient_id, b.professional_id, pr.name AS professional, b.role_profile_id,
       b.ods_code, b.reason_code, r.meaning AS reason, b.reason_text, b.overrides_dissent,
       b.started_at, b.expires_at, b.ended_at,
       (SELECT count(*) FROM scr.audit_event e
        WHERE e.event_type = 'read' AND e.patient_id = b.patient_id
          AND e.professional_id = b.professional_id
          AND e.recorded_at >= b.started_at AND e.recorded_at < b.expires_at) AS reads_during
FROM scr.break_glass b
LEFT JOIN scr.professional pr ON pr.professional_id = b.professional_id
LEFT JOIN scr.break_glass_reason r ON r.reason_code = b.reason_code;
COMMENT ON VIEW scr.break_glass_report IS
    'privacy officers: every break-glass grant with its reasons, its end and the reads made under it';

-- Self-claimed relationships, and how many reads each professional made of
-- the patient while the claim stood.
CREATE VIEW scr.self_claimed_report AS
SELECT rel.relationship_id, rel.patient_id, rel.professional_id, pr.name AS professional,
       rel.valid_from, rel.valid_to,
       (SELECT pa.detail FROM scr.privacy_alert pa
        WHERE pa.kind = 'self_claimed' AND pa.patient_id = rel.patient_id
          AND pa.professional_id = rel.professional_id
        ORDER BY abs(extract(epoch FROM pa.raised_at - rel.valid_from)) LIMIT 1) AS reason,
       (SELECT count(*) FROM scr.audit_event e
        WHERE e.event_type = 'read' AND e.patient_id = rel.patient_id
          AND e.professional_id = rel.professional_id
          AND e.recorded_at >= rel.valid_from
          AND (rel.valid_to IS NULL OR e.recorded_at < rel.valid_to)) AS reads_during
FROM scr.relationship rel
LEFT JOIN scr.professional pr ON pr.professional_id = rel.professional_id
WHERE rel.kind = 'self_claimed';
COMMENT ON VIEW scr.self_claimed_report IS
    'privacy officers: self-claimed relationships, their reasons and the reads made under them';

-- Reads by a professional with no relationship (theirs or their
-- organisation's) to the patient in force at the time: emergency access,
-- or a relationship ended or removed since.
CREATE VIEW scr.access_without_relationship_report AS
SELECT a.audit_event_id, a.recorded_at, a.professional_id, a.role_profile_id, a.ods_code, a.purpose,
       a.patient_id, a.current_patient_id, a.object_table, a.row_count,
       EXISTS (SELECT FROM scr.break_glass b
               WHERE b.patient_id = a.current_patient_id AND b.professional_id = a.professional_id
                 AND a.recorded_at >= b.started_at AND a.recorded_at < b.expires_at) AS under_break_glass
FROM scr.audit_access a
WHERE a.event_type = 'read'
  AND NOT EXISTS (SELECT FROM scr.relationship rel
                  JOIN scr.patient p ON p.patient_id = rel.patient_id
                  WHERE coalesce(p.merged_into, p.patient_id) = a.current_patient_id
                    AND (rel.professional_id = a.professional_id OR rel.ods_code = a.ods_code)
                    AND rel.valid_from <= a.recorded_at
                    AND (rel.valid_to IS NULL OR rel.valid_to > a.recorded_at));
COMMENT ON VIEW scr.access_without_relationship_report IS
    'privacy officers: reads with no relationship in force at the time (break-glass, or a relationship since ended)';

-- Reads outside working hours (scr.working_hours), in the area's time zone.
CREATE VIEW scr.out_of_hours_report AS
SELECT a.audit_event_id, a.recorded_at, a.professional_id, a.role_profile_id, a.ods_code, a.purpose,
       a.patient_id, a.current_patient_id, a.object_table, a.row_count
FROM scr.audit_access a
WHERE a.event_type = 'read'
  AND NOT EXISTS (SELECT FROM scr.working_hours_in_force w
                  WHERE w.isodow = extract(isodow FROM a.recorded_at AT TIME ZONE w.time_zone)
                    AND (a.recorded_at AT TIME ZONE w.time_zone)::time >= w.opens
                    AND (a.recorded_at AT TIME ZONE w.time_zone)::time < w.closes);
COMMENT ON VIEW scr.out_of_hours_report IS
    'privacy officers: reads outside working hours (scr.working_hours_in_force)';

-- Reads of patients who share the professional's family name or home
-- address (as the professional's record and any of the patient's source
-- records give them).
CREATE VIEW scr.same_name_or_address_report AS
SELECT a.audit_event_id, a.recorded_at, a.professional_id, pr.name AS professional, a.ods_code,
       a.patient_id, a.current_patient_id,
       bool_or(si.family_key = scr.normalise_name(pr.family_name)) AS same_family_name,
       bool_or(si.postcode_key = scr.postcode_key(pr.home_postcode)
               OR si.address_key = scr.normalise_address(pr.home_address)) AS same_address
FROM scr.audit_access a
JOIN scr.professional pr ON pr.professional_id = a.professional_id
JOIN scr.source_identifier si ON si.patient_id = a.patient_id
WHERE a.event_type = 'read'
  AND (si.family_key = scr.normalise_name(pr.family_name)
       OR si.postcode_key = scr.postcode_key(pr.home_postcode)
       OR si.address_key = scr.normalise_address(pr.home_address))
GROUP BY a.audit_event_id, a.recorded_at, a.professional_id, pr.name, a.ods_code, a.patient_id,
         a.current_patient_id;
COMMENT ON VIEW scr.same_name_or_address_report IS
    'privacy officers: reads of patients who share the professional''s family name or home address';

CREATE FUNCTION scr._audit_check_officer(p_function text) RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, scr, pg_temp AS $$
BEGIN
    PERFORM scr._check_session_role('scr_privacy_officer', p_function,
                                    'Audit reports are for privacy officers: members of scr_privacy_officer.');
END
$$;

-- A JSON array without its null elements (jsonb_strip_nulls keeps them).
CREATE FUNCTION scr._jsonb_array_compact(a jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(pg_catalog.jsonb_agg(x), '[]'::jsonb)
    FROM pg_catalog.jsonb_array_elements(a) x WHERE x <> 'null'::jsonb
$$;

-- One event as a FHIR R4 AuditEvent.  Type and subtype after DICOM (110110
-- patient record; 110127/110128 emergency override started/stopped),
-- purpose after HL7 v3 ActReason, the patient as the entity.
CREATE FUNCTION scr.audit_event_fhir(audit_event_id bigint) RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, scr, pg_temp AS $$
DECLARE
    e scr.audit_event;
BEGIN
    PERFORM scr._audit_check_officer('scr.audit_event_fhir');
    SELECT * INTO e FROM scr.audit_event a WHERE a.audit_event_id = audit_event_fhir.audit_event_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'audit event % does not exist', audit_event_fhir.audit_event_id
            USING ERRCODE = 'no_data_found';
    END IF;
    RETURN jsonb_strip_nulls(jsonb_build_object(
        'resourceType', 'AuditEvent',
        'id', e.audit_event_id::text,
        'type', CASE WHEN e.event_type IN ('read', 'write', 'refused', 'report', 'secondary-use')
                     THEN jsonb_build_object('system', 'http://dicom.nema.org/resources/ontology/DCM',
                                             'code', '110110', 'display', 'Patient Record')
                     ELSE jsonb_build_object('system', 'http://dicom.nema.org/resources/ontology/DCM',
                                             'code', '110113', 'display', 'Security Alert') END,
        'subtype', CASE e.event_type
                       WHEN 'break-glass-start' THEN jsonb_build_array(jsonb_build_object(
                           'system', 'http://dicom.nema.org/resources/ontology/DCM',
                           'code', '110127', 'display', 'Emergency Override Started'))
                       WHEN 'break-glass-end' THEN jsonb_build_array(jsonb_build_object(
                           'system', 'http://dicom.nema.org/resources/ontology/DCM',
                           'code', '110128', 'display', 'Emergency Override Stopped'))
                       ELSE jsonb_build_array(jsonb_build_object(
                           'system', 'https://scr.example/audit-event-type', 'code', e.event_type)) END,
        'action', e.action,
        'recorded', to_char(e.recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
        'outcome', e.outcome::text,
        'outcomeDesc', e.outcome_reason,
        'purposeOfEvent', CASE WHEN e.purpose IS NOT NULL THEN jsonb_build_array(jsonb_build_object(
            'coding', jsonb_build_array(jsonb_build_object(
                'system', 'http://terminology.hl7.org/CodeSystem/v3-ActReason', 'code', e.purpose)))) END,
        'agent', jsonb_build_array(
            jsonb_build_object(
                'type', jsonb_build_object('coding', jsonb_build_array(jsonb_build_object(
                    'system', 'http://terminology.hl7.org/CodeSystem/extra-security-role-type',
                    'code', 'humanuser'))),
                'who', CASE WHEN e.professional_id IS NOT NULL THEN jsonb_build_object(
                    'identifier', jsonb_build_object('system', 'https://scr.example/professional',
                                                     'value', e.professional_id)) END,
                'role', CASE WHEN e.role_profile_id IS NOT NULL THEN jsonb_build_array(jsonb_build_object(
                    'coding', jsonb_build_array(jsonb_build_object(
                        'system', 'https://scr.example/role-profile', 'code', e.role_profile_id)))) END,
                'altId', e.caller::text,
                'requestor', true,
                'network', CASE WHEN e.client_addr IS NOT NULL THEN jsonb_build_object(
                    'address', host(e.client_addr), 'type', '2') END),
            jsonb_build_object(
                'type', jsonb_build_object('coding', jsonb_build_array(jsonb_build_object(
                    'system', 'http://terminology.hl7.org/CodeSystem/extra-security-role-type',
                    'code', 'dataprocessor'))),
                'who', jsonb_build_object('display', coalesce(e.application_name, 'unknown application')),
                'requestor', false)),
        'source', jsonb_build_object(
            'site', e.ods_code,
            'observer', jsonb_build_object('display', 'scr shared care record')),
        'entity', scr._jsonb_array_compact(jsonb_build_array(
            CASE WHEN e.patient_id IS NOT NULL THEN jsonb_build_object(
                'what', jsonb_build_object('reference', 'Patient/' || e.patient_id),
                'type', jsonb_build_object('system', 'http://terminology.hl7.org/CodeSystem/audit-entity-type',
                                           'code', '1', 'display', 'Person')) END,
            jsonb_build_object(
                'what', jsonb_build_object('display', e.object_table),
                'type', jsonb_build_object('system', 'http://terminology.hl7.org/CodeSystem/audit-entity-type',
                                           'code', '2', 'display', 'System Object'),
                'detail', scr._jsonb_array_compact(jsonb_build_array(
                    jsonb_build_object('type', 'rows', 'valueString', e.row_count::text),
                    CASE WHEN e.entry_ids IS NOT NULL THEN jsonb_build_object(
                        'type', 'entry_ids', 'valueString', array_to_string(e.entry_ids, ',')) END,
                    CASE WHEN e.break_glass_id IS NOT NULL THEN jsonb_build_object(
                        'type', 'break_glass_id', 'valueString', e.break_glass_id::text) END,
                    CASE WHEN e.txid IS NOT NULL THEN jsonb_build_object(
                        'type', 'transaction', 'valueString', e.txid::text) END,
                    CASE WHEN e.statement_hash IS NOT NULL THEN jsonb_build_object(
                        'type', 'statement_md5', 'valueString', e.statement_hash) END))))))
    );
END
$$;
COMMENT ON FUNCTION scr.audit_event_fhir(bigint) IS
    'privacy officers: an audit event as a FHIR R4 AuditEvent (jsonb)';

REVOKE ALL ON scr.audit_access, scr.break_glass_report, scr.self_claimed_report,
    scr.access_without_relationship_report, scr.out_of_hours_report,
    scr.same_name_or_address_report, scr.working_hours, scr.working_hours_default,
    scr.working_hours_in_force FROM PUBLIC;
GRANT SELECT ON scr.audit_access, scr.break_glass_report, scr.self_claimed_report,
    scr.access_without_relationship_report, scr.out_of_hours_report,
    scr.same_name_or_address_report TO scr_privacy_officer;
GRANT SELECT ON scr.working_hours, scr.working_hours_default, scr.working_hours_in_force
    TO scr_privacy_officer, scr_admin;
GRANT INSERT, UPDATE, DELETE ON scr.working_hours TO scr_admin;
REVOKE ALL ON FUNCTION scr.patient_access_report(bigint, timestamptz), scr.audit_event_fhir(bigint),
    scr._audit_check_officer(text), scr._jsonb_array_compact(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION scr.patient_access_report(bigint, timestamptz), scr.audit_event_fhir(bigint)
    TO scr_privacy_officer;
SELECT pg_catalog.pg_extension_config_dump('scr.working_hours', '');
