-- Row-level security: what each acting professional sees, decided in C.
SET search_path = public, scr;
SET datestyle = ISO;
\set SHOW_CONTEXT never
SET scr.allow_test_nhs_numbers = on;

-- An area: a GP practice, a hospital, a sexual health clinic, a council.
INSERT INTO scr.organisation (ods_code, name, kind) VALUES
    ('GP1', 'Riverside Practice', 'gp_practice'), ('HOSP', 'County Hospital', 'nhs_trust'),
    ('GUM', 'Sexual Health Clinic', 'nhs_trust'), ('LA9', 'County Council', 'local_authority'),
    ('FAR', 'Far Away Trust', 'nhs_trust');
INSERT INTO scr.source_system (source_code, ods_code, kind) VALUES
    ('gp', 'GP1', 'gp'), ('hosp', 'HOSP', 'acute'), ('gum', 'GUM', 'other'), ('la', 'LA9', 'social_care');
INSERT INTO scr.feed_binding SELECT current_user, source_code FROM scr.source_system
    WHERE source_code IN ('gp', 'hosp', 'gum', 'la');

-- Ann is registered at the practice and attended hospital; Bob only at the
-- practice; Cy only at the council.
SELECT scr.ingest_person('gp', 'ann', '{"nhs_number": "9990000018", "given_name": "Ann", "family_name": "Ash", "birth_date": "1950-01-01", "gp_practice": "GP1"}') AS ann \gset
SELECT scr.ingest_person('hosp', 'h-ann', '{"nhs_number": "9990000018", "birth_date": "1950-01-01"}') = :ann AS linked;
SELECT scr.ingest_person('gum', 'g-ann', '{"nhs_number": "9990000018", "birth_date": "1950-01-01"}') = :ann AS linked;
SELECT scr.ingest_person('gp', 'bob', '{"given_name": "Bob", "family_name": "Birch"}') AS bob \gset
SELECT scr.ingest_person('la', 'cy', '{"given_name": "Cy", "family_name": "Cole"}') AS cy \gset
SELECT * FROM scr.ingest_batch('gp', '[
 {"type": "entry", "local_id": "ann", "entry": {"kind": "problem", "source_ref": "a1", "source_timestamp": "2024-01-01", "status": "active", "display": "Diabetes"}},
 {"type": "entry", "local_id": "ann", "entry": {"kind": "observation", "source_ref": "a2", "source_timestamp": "2024-01-01", "status": "final", "display": "HbA1c"}},
 {"type": "entry", "local_id": "ann", "entry": {"kind": "problem", "source_ref": "a3", "source_timestamp": "2024-01-01", "status": "active", "display": "Depression", "sensitivity": "R", "sensitivity_category": "mental_health"}},
 {"type": "entry", "local_id": "ann", "entry": {"kind": "alert", "source_ref": "a4", "source_timestamp": "2024-01-01", "status": "active", "display": "Domestic abuse risk", "sensitivity": "V", "sensitivity_category": "safeguarding"}},
 {"type": "entry", "local_id": "bob", "entry": {"kind": "medication", "source_ref": "b1", "source_timestamp": "2024-01-01", "status": "active", "display": "Metformin"}}
]');
SELECT * FROM scr.ingest_batch('hosp', '[{"type": "entry", "local_id": "h-ann", "entry": {"kind": "encounter", "source_ref": "h1", "source_timestamp": "2024-02-01", "status": "finished", "display": "A&E attendance"}}]');
SELECT * FROM scr.ingest_batch('gum', '[{"type": "entry", "local_id": "g-ann", "entry": {"kind": "observation", "source_ref": "g1", "source_timestamp": "2024-03-01", "status": "final", "display": "HIV test", "sensitivity": "R", "sensitivity_category": "hiv_sti"}}]');
SELECT * FROM scr.ingest_batch('la', '[{"type": "entry", "local_id": "cy", "entry": {"kind": "social_care_assessment", "source_ref": "c1", "source_timestamp": "2024-03-01", "status": "completed", "display": "Care Act assessment"}}]');

-- Feeds made the relationships.
SELECT p.given_name, r.ods_code, r.kind FROM scr.relationship r JOIN scr.patient p USING (patient_id)
WHERE r.ods_code IN ('GP1', 'HOSP', 'GUM', 'LA9')
ORDER BY 1, 2;

-- Professionals and their role profiles.
INSERT INTO scr.professional (professional_id, name) VALUES
    ('dr_gp', 'Dr Green'), ('rec_gp', 'Rita Reception'), ('nurse_hosp', 'Nurse Hill'),
    ('sw_la', 'Sam Social'), ('dr_far', 'Dr Far'), ('dr_gum', 'Dr Gum');
INSERT INTO scr.role_profile VALUES
    ('rp_dr_gp', 'dr_gp', 'GP1', 'R8000'), ('rp_rec_gp', 'rec_gp', 'GP1', 'R8010'),
    ('rp_nurse_hosp', 'nurse_hosp', 'HOSP', 'R8001'), ('rp_sw_la', 'sw_la', 'LA9', 'R8004'),
    ('rp_dr_far', 'dr_far', 'FAR', 'R8000'), ('rp_dr_gum', 'dr_gum', 'GUM', 'R8000');
INSERT INTO scr.context_key (key_id, secret) VALUES ('gw', decode(repeat('42', 32), 'hex'));
CREATE ROLE regress_gateway LOGIN IN ROLE scr_clinical_gateway;

-- What one acting professional sees: a token per professional.
CREATE FUNCTION public.sees(token text) RETURNS TABLE (patients text, entries text)
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM scr.open_context(token);
    RETURN QUERY SELECT
        (SELECT coalesce(string_agg(given_name, ', ' ORDER BY given_name), '-') FROM scr.patient),
        (SELECT coalesce(string_agg(display, ', ' ORDER BY display), '-') FROM scr.entry);
END $$;
GRANT EXECUTE ON FUNCTION public.sees(text) TO regress_gateway;
SELECT scr.mint_context_token('gw', 'dr_gp', 'rp_dr_gp', 'GP1', 'TREAT') AS t_dr_gp,
       scr.mint_context_token('gw', 'rec_gp', 'rp_rec_gp', 'GP1', 'TREAT') AS t_rec_gp,
       scr.mint_context_token('gw', 'nurse_hosp', 'rp_nurse_hosp', 'HOSP', 'TREAT') AS t_nurse_hosp,
       scr.mint_context_token('gw', 'sw_la', 'rp_sw_la', 'LA9', 'TREAT') AS t_sw_la,
       scr.mint_context_token('gw', 'dr_far', 'rp_dr_far', 'FAR', 'TREAT') AS t_dr_far,
       scr.mint_context_token('gw', 'dr_gum', 'rp_dr_gum', 'GUM', 'TREAT') AS t_dr_gum,
       scr.mint_context_token('gw', 'dr_gp', 'rp_dr_gp', 'GP1', 'POPHLTH') AS t_dr_gp_research,
       scr.mint_context_token('gw', 'dr_far', 'rp_dr_far', 'FAR', 'TREAT') AS t_dr_far2,
       scr.mint_context_token('gw', 'dr_gp', 'rp_dr_gp', 'GP1', 'TREAT') AS t_dr_gp2,
       scr.mint_context_token('gw', 'dr_gp', 'rp_dr_gp', 'GP1', 'TREAT') AS t_dr_gp3,
       scr.mint_context_token('gw', 'nurse_hosp', 'rp_nurse_hosp', 'HOSP', 'TREAT') AS t_nurse_hosp2,
       scr.mint_context_token('gw', 'dr_gum', 'rp_dr_gum', 'GUM', 'TREAT') AS t_dr_gum2,
       scr.mint_context_token('gw', 'dr_gp', 'rp_dr_gp', 'GP1', 'TREAT') AS t_dr_gp4,
       scr.mint_context_token('gw', 'dr_gp', 'rp_dr_gp', 'GP1', 'TREAT', :bob) AS t_dr_gp_bob,
       scr.mint_context_token('gw', 'dr_gp', 'rp_dr_gp', 'GP1', 'TREAT', NULL, 2) AS t_dr_gp_short,
       scr.mint_context_token('gw', 'dr_gp', 'rp_dr_gp', 'GP1', 'TREAT') AS t_dr_gp6 \gset

\c - regress_gateway
SET search_path = public, scr;
-- No context: no rows, from every table.
SELECT (SELECT count(*) FROM scr.patient) AS patients, (SELECT count(*) FROM scr.entry) AS entries,
       (SELECT count(*) FROM scr.source_identifier) AS identifiers,
       (SELECT count(*) FROM scr.relationship) AS relationships;
-- The practice's doctor: the practice's patients, clinical content up to R
-- (not the V safeguarding alert), not the clinic's sealed HIV result.
SELECT 'dr_gp' AS who, * FROM public.sees(:'t_dr_gp');
-- The receptionist: demographics, no clinical content.
SELECT 'rec_gp' AS who, * FROM public.sees(:'t_rec_gp');
-- The hospital nurse: Ann (admitted), all her content the nurse's role
-- allows, from every source; not Bob.
SELECT 'nurse_hosp' AS who, * FROM public.sees(:'t_nurse_hosp');
-- The social worker: Cy, social care content only.
SELECT 'sw_la' AS who, * FROM public.sees(:'t_sw_la');
-- A doctor with no relationship sees nobody.
SELECT 'dr_far' AS who, * FROM public.sees(:'t_dr_far');
-- The clinic sees its own sealed result.
SELECT 'dr_gum' AS who, * FROM public.sees(:'t_dr_gum');
-- A purpose that is not direct care sees nothing here.
SELECT 'dr_gp for research' AS who, * FROM public.sees(:'t_dr_gp_research');

-- The context ended with each transaction: nothing now.
SELECT count(*) AS after_transactions FROM scr.entry;

-- A function in WHERE that reports every row it is shown sees only the
-- permitted rows: the policy runs first (it is not leakproof-dependent).
\c - postgres
CREATE FUNCTION public.peek(d text) RETURNS boolean LANGUAGE plpgsql COST 0.0001 AS
$$ BEGIN RAISE NOTICE 'saw %', d; RETURN true; END $$;
\c - regress_gateway
SET search_path = public, scr;
BEGIN;
SELECT scr.open_context(:'t_dr_far2');
SELECT count(*) AS rows_returned FROM scr.entry WHERE public.peek(display);
COMMIT;
-- Error probes on hidden rows raise nothing: this divides by zero only on
-- the HIV result, hidden from the practice.
BEGIN;
SELECT scr.open_context(:'t_dr_gp2');
SELECT count(*) AS no_error FROM scr.entry
WHERE 1 / CASE WHEN display = 'HIV test' THEN 0 ELSE 1 END = 1;
COMMIT;

-- Parallel plans give the same rows as serial ones (the policy runs in the
-- leader: workers cannot see the context).
BEGIN;
SELECT scr.open_context(:'t_dr_gp3');
SET LOCAL parallel_setup_cost = 0;
SET LOCAL parallel_tuple_cost = 0;
SET LOCAL min_parallel_table_scan_size = 0;
SET LOCAL force_parallel_mode = on;
SELECT count(*) AS parallel, string_agg(display, ', ' ORDER BY display) FROM scr.entry;
SET LOCAL force_parallel_mode = off;
SET LOCAL max_parallel_workers_per_gather = 0;
SELECT count(*) AS serial, string_agg(display, ', ' ORDER BY display) FROM scr.entry;
COMMIT;

-- COPY ... TO goes through the same policy.
BEGIN;
SELECT scr.open_context(:'t_nurse_hosp2');
COPY (SELECT display FROM scr.entry ORDER BY display) TO STDOUT;
COPY scr.entry (display) TO STDOUT;
COMMIT;

-- A context that names a patient sees that patient only.
SELECT 'dr_gp with Bob in context' AS who, * FROM public.sees(:'t_dr_gp_bob');

-- However many categories are sealed, every one stays sealed (the list is
-- never cut short): 70 more sealed categories sorting before hiv_sti.
\c - postgres
INSERT INTO scr.sensitivity_category
SELECT 'aa' || lpad(i::text, 2, '0'), 'filler', true FROM generate_series(1, 70) i;
-- The clinic's doctor still sees its own HIV result; the practice's doctor
-- still does not.
\c - regress_gateway
SET search_path = public, scr;
SELECT 'dr_gum' AS who, entries LIKE '%HIV test%' AS sees_hiv FROM public.sees(:'t_dr_gum2');
SELECT 'dr_gp' AS who, entries LIKE '%HIV test%' AS sees_hiv FROM public.sees(:'t_dr_gp4');
\c - postgres
DELETE FROM scr.sensitivity_category WHERE description = 'filler';
\c - regress_gateway
SET search_path = public, scr;

-- A session context lasts no longer than its token.
SELECT scr.open_context(:'t_dr_gp_short', true);
SELECT count(*) AS patients_while_valid FROM scr.patient;
SELECT pg_sleep(2.5);
SELECT count(*) AS patients_after_expiry FROM scr.patient;
SELECT scr.close_context();

\c - postgres
-- A later version labelled sealed covers the entry's history too: the
-- practice sees neither the entry nor its old unlabelled version.
SELECT loaded FROM scr.ingest_batch('gp', '[{"type": "entry", "local_id": "ann", "entry": {"kind": "observation", "source_ref": "a9", "source_timestamp": "2024-05-01", "status": "final", "display": "Lab 901"}}]');
SELECT loaded FROM scr.ingest_batch('gp', '[{"type": "entry", "local_id": "ann", "entry": {"kind": "observation", "source_ref": "a9", "source_timestamp": "2024-05-02", "status": "final", "display": "Lab 901", "organisation": "GUM", "sensitivity_category": "hiv_sti"}}]');
\c - regress_gateway
SET search_path = public, scr;
BEGIN;
SELECT scr.open_context(:'t_dr_gp6');
SELECT (SELECT count(*) FROM scr.entry WHERE display = 'Lab 901') AS current_seen,
       (SELECT count(*) FROM scr.entry_history WHERE display = 'Lab 901') AS history_seen;
COMMIT;

-- Writes are not for the gateway: the feed functions are the only writers.
\set ON_ERROR_STOP 0
UPDATE scr.entry SET display = 'changed';
DELETE FROM scr.patient;
INSERT INTO scr.relationship (patient_id, professional_id, kind) VALUES (1, 'dr_far', 'self_claimed');
COPY scr.entry (display) FROM STDIN;
SELECT scr.ingest_person('gp', 'x', '{}');
\set ON_ERROR_STOP 1

\c - postgres
DROP FUNCTION public.sees(text), public.peek(text);
DROP ROLE regress_gateway;
