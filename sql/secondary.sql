-- Reporting and secondary use: consent-filtered reporting, pseudonymised
-- research views, National Data Opt-out and Type 1 objections.
SET search_path = public, scr;
\set SHOW_CONTEXT never
SET scr.allow_test_nhs_numbers = on;

INSERT INTO scr.organisation (ods_code, name, kind) VALUES ('SGP', 'Secondary Practice', 'gp_practice');
INSERT INTO scr.source_system (source_code, ods_code, kind) VALUES ('sgp', 'SGP', 'gp');
INSERT INTO scr.feed_binding VALUES (current_user, 'sgp');
SELECT scr.ingest_person('sgp', 'fay', '{"given_name": "Fay", "nhs_number": "9990000034", "birth_date": "1971-03-04", "postcode": "LS6 2AB", "sex": "female", "gp_practice": "SGP"}') AS fay \gset
SELECT scr.ingest_person('sgp', 'gus', '{"given_name": "Gus", "birth_date": "1980-01-01"}') AS gus \gset
SELECT scr.ingest_person('sgp', 'hal', '{"given_name": "Hal", "birth_date": "1990-01-01"}') AS hal \gset
SELECT scr.ingest_person('sgp', 'ivy', '{"given_name": "Ivy", "birth_date": "2000-01-01"}') AS ivy \gset
SELECT loaded FROM scr.ingest_batch('sgp', '[
 {"type": "entry", "local_id": "fay", "entry": {"kind": "problem", "source_ref": "f1", "source_timestamp": "2024-01-01", "status": "active", "display": "Asthma", "code": "195967001", "effective_start": "2023-06-15"}},
 {"type": "entry", "local_id": "fay", "entry": {"kind": "problem", "source_ref": "f2", "source_timestamp": "2024-01-01", "status": "active", "display": "Depression", "code": "SECRET-MH", "sensitivity": "R", "sensitivity_category": "mental_health"}},
 {"type": "entry", "local_id": "fay", "entry": {"kind": "observation", "source_ref": "f3", "source_timestamp": "2024-01-01", "status": "final", "display": "HIV test", "code": "SECRET-HIV", "sensitivity": "R", "sensitivity_category": "hiv_sti"}},
 {"type": "entry", "local_id": "fay", "entry": {"kind": "alert", "source_ref": "f4", "source_timestamp": "2024-01-01", "status": "active", "display": "Violent patient", "code": "SECRET-V", "sensitivity": "V"}},
 {"type": "entry", "local_id": "gus", "entry": {"kind": "problem", "source_ref": "g1", "source_timestamp": "2024-01-01", "status": "active", "display": "Gout"}},
 {"type": "entry", "local_id": "hal", "entry": {"kind": "problem", "source_ref": "h1", "source_timestamp": "2024-01-01", "status": "active", "display": "Hay fever"}},
 {"type": "entry", "local_id": "ivy", "entry": {"kind": "problem", "source_ref": "i1", "source_timestamp": "2024-01-01", "status": "active", "display": "Ivy rash"}}]');

-- Opt-outs from the feed; a NULL flag is refused, not read as "no".
SELECT scr.record_opt_out('sgp', 'gus', true, false);
SELECT scr.record_opt_out('sgp', 'ivy', false, true);
\set ON_ERROR_STOP 0
SELECT scr.record_opt_out('sgp', 'fay', NULL, false);
\set ON_ERROR_STOP 1
-- Hal objects to the shared record.
INSERT INTO scr.consent_directive (patient_id, provision, recorded_by) VALUES (:hal, 'deny', 'test');

CREATE ROLE regress_reporter LOGIN IN ROLE scr_reporting;
CREATE ROLE regress_researcher LOGIN IN ROLE scr_secondary_use;

-- Reporting: no dissenting patient, no V entry, no sealed category; opt-outs
-- do not apply (running services is not secondary use).
\c - regress_reporter
SET search_path = public, scr;
SELECT p.given_name, string_agg(e.display, ', ' ORDER BY e.display) AS entries
FROM scr.report_entry e JOIN scr.patient p USING (patient_id)
WHERE e.source_code = 'sgp' GROUP BY 1 ORDER BY 1;

-- Secondary use: pseudonyms, no identifiers, opted-out and dissenting
-- patients and sensitive categories left out.
\c - regress_researcher
SET search_path = public, scr;
SELECT length(pseudonym) AS pseudonym_length, birth_year, sex, postcode_district, gp_practice
FROM scr.research_patient WHERE gp_practice = 'SGP';
SELECT p.pseudonym = e.pseudonym AS same_pseudonym, e.kind, e.code, e.effective_month
FROM scr.research_entry e JOIN scr.research_patient p USING (pseudonym)
WHERE p.gp_practice = 'SGP' ORDER BY e.code NULLS LAST;
SELECT count(DISTINCT pseudonym) = count(*) AS distinct_pseudonyms FROM scr.research_patient;
-- Nothing else is reachable.
\set ON_ERROR_STOP 0
SELECT count(*) FROM scr.patient;
SELECT count(*) FROM scr.entry;
SELECT count(*) FROM scr.pseudonym_key;
SELECT count(*) FROM scr.patient_opt_out;
\set ON_ERROR_STOP 1
\c - postgres
-- A function in a researcher's WHERE never sees a row the view leaves out
-- (security barrier): it would report any of Fay's hidden entries.
CREATE FUNCTION public.peek_code(c text) RETURNS boolean LANGUAGE plpgsql COST 0.0001 AS
$$ BEGIN IF c LIKE 'SECRET%' THEN RAISE NOTICE 'saw %', c; END IF; RETURN true; END $$;
\c - regress_researcher
SELECT count(*) > 0 AS some_rows FROM scr.research_entry WHERE public.peek_code(code);
\c - postgres

-- Direct care is unaffected by the National Data Opt-out.
SET search_path = public, scr;
INSERT INTO scr.professional (professional_id, name) VALUES ('s_gp', 'Dr Secondary');
INSERT INTO scr.role_profile VALUES ('rp_s_gp', 's_gp', 'SGP', 'R8000');
INSERT INTO scr.context_key (key_id, secret) VALUES ('sgw', decode(repeat('21', 32), 'hex'));
CREATE ROLE regress_sgw LOGIN IN ROLE scr_clinical_gateway;
SELECT scr.mint_context_token('sgw', 's_gp', 'rp_s_gp', 'SGP', 'TREAT') AS tok \gset
\c - regress_sgw
BEGIN;
SELECT scr.open_context(:'tok');
SELECT display FROM scr.entry WHERE source_code = 'sgp' AND patient_id IN (:gus, :ivy) ORDER BY 1;
COMMIT;
\c - postgres
DROP FUNCTION public.peek_code(text);
DROP ROLE regress_reporter, regress_researcher, regress_sgw;
