-- Relationships professionals create themselves, and finding a patient to
-- open (the rules are applied in src/access_policy.c).

-- Sharing in and out per organisation: an organisation that does not share
-- out keeps its entries from every other organisation; one that does not
-- read in sees only its own.  Both default to sharing.
CREATE TABLE scr.organisation_sharing (
    ods_code    text PRIMARY KEY REFERENCES scr.organisation,
    shares_out  boolean NOT NULL DEFAULT true,
    reads_in    boolean NOT NULL DEFAULT true
);
COMMENT ON TABLE scr.organisation_sharing IS
    'Per-organisation sharing agreements: shares_out (others may read its entries), reads_in (it may read others'')';
REVOKE ALL ON scr.organisation_sharing FROM PUBLIC;
GRANT SELECT ON scr.organisation_sharing TO PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON scr.organisation_sharing TO scr_admin;
SELECT pg_catalog.pg_extension_config_dump('scr.organisation_sharing', '');
CREATE TRIGGER access_invalidate AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON scr.organisation_sharing
    FOR EACH STATEMENT EXECUTE FUNCTION scr.access_invalidate();

-- Find the patient an NHS number names, to open their record: the patient
-- id only (and only if the number is current for exactly one patient), for
-- an acting professional.  Seeing anything more needs a relationship.
CREATE FUNCTION scr.find_patient(nhs_number scr.nhs_number) RETURNS bigint
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, scr, pg_temp AS $$
DECLARE
    found bigint[];
BEGIN
    IF scr.context_professional() IS NULL THEN
        RAISE EXCEPTION 'no acting professional' USING ERRCODE = 'insufficient_privilege',
            HINT = 'Open a context with scr.open_context first.';
    END IF;
    SELECT array_agg(DISTINCT coalesce(p.merged_into, p.patient_id)) INTO found
    FROM scr.patient p WHERE p.nhs_number OPERATOR(scr.=) find_patient.nhs_number;
    IF array_length(found, 1) > 1 THEN
        RAISE EXCEPTION 'NHS number % is held by more than one patient', find_patient.nhs_number
            USING ERRCODE = 'cardinality_violation',
                  HINT = 'The patient index needs linkage review before this record can be opened.';
    END IF;
    RETURN found[1];
END
$$;
COMMENT ON FUNCTION scr.find_patient(scr.nhs_number) IS
    'the patient an NHS number names (id only), for an acting professional';

-- A professional claims a relationship they have (e.g. a patient walked in):
-- allowed, for a limited period, and alerted to the privacy officers.
CREATE FUNCTION scr.claim_relationship(patient_id bigint, reason text, days integer DEFAULT 30)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, scr, pg_temp AS $$
DECLARE
    id bigint;
BEGIN
    IF scr.context_professional() IS NULL THEN
        RAISE EXCEPTION 'no acting professional' USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF reason IS NULL OR btrim(reason) = '' OR length(reason) > 1000 OR reason ~ '[[:cntrl:]]' THEN
        RAISE EXCEPTION 'a reason of at most 1000 printable characters is required'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF days IS NULL OR days < 1 OR days > 365 THEN
        RAISE EXCEPTION 'a self-claimed relationship lasts 1 to 365 days'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NOT EXISTS (SELECT FROM scr.patient p WHERE p.patient_id = claim_relationship.patient_id) THEN
        RAISE EXCEPTION 'no such patient' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO scr.relationship (patient_id, professional_id, kind, valid_to, created_by)
    VALUES (scr.current_patient_id(claim_relationship.patient_id), scr.context_professional(),
            'self_claimed', statement_timestamp() + make_interval(days => claim_relationship.days),
            scr.context_professional())
    RETURNING relationship_id INTO id;
    INSERT INTO scr.privacy_alert (patient_id, kind, professional_id, role_profile_id, ods_code, detail)
    VALUES (scr.current_patient_id(claim_relationship.patient_id), 'self_claimed',
            scr.context_professional(), scr.context_role_profile(), scr.context_organisation(),
            btrim(reason));
    RETURN id;
END
$$;
COMMENT ON FUNCTION scr.claim_relationship(bigint, text, integer) IS
    'claim a legitimate relationship with a patient (alerted to privacy officers)';

-- A professional with a relationship grants one to a colleague.
CREATE FUNCTION scr.grant_relationship(patient_id bigint, to_professional text, days integer DEFAULT 30)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, scr, pg_temp AS $$
DECLARE
    id bigint;
BEGIN
    IF scr.context_professional() IS NULL OR NOT scr.may_read_patient(grant_relationship.patient_id) THEN
        RAISE EXCEPTION 'only a professional with a relationship may grant one'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF NOT EXISTS (SELECT FROM scr.professional p WHERE p.professional_id = to_professional AND p.active) THEN
        RAISE EXCEPTION 'unknown professional "%"', to_professional USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF days IS NULL OR days < 1 OR days > 365 THEN
        RAISE EXCEPTION 'a granted relationship lasts 1 to 365 days' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO scr.relationship (patient_id, professional_id, kind, valid_to, created_by)
    VALUES (scr.current_patient_id(grant_relationship.patient_id), to_professional, 'colleague_granted',
            statement_timestamp() + make_interval(days => grant_relationship.days),
            scr.context_professional())
    RETURNING relationship_id INTO id;
    RETURN id;
END
$$;
COMMENT ON FUNCTION scr.grant_relationship(bigint, text, integer) IS
    'a professional with a relationship grants one to a colleague for a period';

REVOKE ALL ON FUNCTION scr.find_patient(scr.nhs_number), scr.claim_relationship(bigint, text, integer),
    scr.grant_relationship(bigint, text, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION scr.find_patient(scr.nhs_number), scr.claim_relationship(bigint, text, integer),
    scr.grant_relationship(bigint, text, integer) TO scr_clinical_gateway;
GRANT SELECT ON scr.privacy_alert TO scr_privacy_officer;
CREATE POLICY privacy_officer_alerts ON scr.privacy_alert FOR SELECT TO scr_privacy_officer USING (true);
