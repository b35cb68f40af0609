-- scr demo: a synthetic area's feeds loaded, linked, and read.
-- (Run by `make demo` against a throwaway cluster; every result is real.)
--
--   1. NHS numbers are a type
--   2. A synthetic area: 10,000 people, seven sources, loaded through the feeds
--   3. The record: patients, linkage, entries, sensitive content
--   4. Reading as different professionals: context tokens and row-level security
--   5. Consent, break-glass, reporting and secondary use
--   6. A dead letter and its replay
--   7. Versions: corrections, late arrivals, entered-in-error, the record as of a time
--   8. One patient's combined record, with provenance
--   9. A merge (HL7 A40) and its unmerge
--  10. The audit: reads, writes, refusals, the hash chain, privacy-officer reports
--  11. Care plans, End of Life preferences and alerts

\set QUIET on
\set ECHO none
\pset footer off
\pset null '-'
\set VERBOSITY default
\set SHOW_CONTEXT never
SET datestyle = ISO;
SET timezone = 'Europe/London';
\set ECHO queries

\echo '-- scr demo: a synthetic area''s feeds loaded, linked, and read.'
\echo '-- Each statement is printed with its real output.'

\echo
\echo '==== 1. NHS numbers are a type ===================================='
\echo

\echo '-- Every spelling the NHS uses is accepted and stored as ten canonical'
\echo '-- digits; the display form is 3-3-4.'
SELECT '943 476 5919'::scr.nhs_number AS stored,
       scr.nhs_number_display('943-476-5919') AS displayed;

\echo '-- A wrong number is refused with SQLSTATE 22P02 and the reason.'
\set ON_ERROR_STOP 0
SELECT '943 476 5918'::scr.nhs_number;
\set ON_ERROR_STOP 1

\echo
\echo '-- A feed''s column of raw numbers can be screened without raising.'
SELECT raw, scr.nhs_number_problem(raw) AS problem
FROM (VALUES ('943 476 5919'), ('94347659'), ('4010232170'), ('0000000000')) AS feed(raw);

\echo
\echo '==== 2. A synthetic area, loaded through the feeds ================='
\echo

\echo '-- test/synthetic/generate.sql makes schema "synthetic": the truth (one row'
\echo '-- per real person), each source''s noisy view of the people it knows'
\echo '-- (nicknames, typos, missing or mistyped NHS numbers, swapped birth day and'
\echo '-- month, twins, fathers and sons with one name) and the feed messages each'
\echo '-- source sends.  It also registers the area''s organisations and sources.'
\echo '-- (It is a long script: its statements and output are not shown.)'
\set people 10000
\set seed 0.42
\set ECHO none
\o /dev/null
SET client_min_messages = warning;
\ir ../test/synthetic/generate.sql
RESET client_min_messages;
\o
\set ECHO queries
SELECT (SELECT count(*) FROM synthetic.person) AS people,
       (SELECT count(*) FROM synthetic.record) AS source_records,
       (SELECT count(*) FROM synthetic.message WHERE message ->> 'type' = 'person') AS person_messages,
       (SELECT count(*) FROM synthetic.message WHERE message ->> 'type' = 'entry') AS entry_messages;

\echo '-- The area''s sources: one system of one organisation each.'
SELECT s.source_code, s.kind, o.ods_code, o.name AS organisation
FROM scr.source_system s JOIN scr.organisation o USING (ods_code)
ORDER BY scr.default_trust_rank(s.kind), s.source_code;

\echo '-- What a feed sends: a person (demographics under the source''s local id),'
\echo '-- then entries for that local id.  Here, the hospital''s first of each.'
SELECT seq, jsonb_pretty(message) AS message
FROM synthetic.message
WHERE source_code = 'acute_pas'
  AND seq IN (1, (SELECT min(seq) FROM synthetic.message
                  WHERE source_code = 'acute_pas' AND message ->> 'type' = 'entry'))
ORDER BY seq;

\echo '-- test/synthetic/load.sql makes one feed login per source (feed_gp_canal,'
\echo '-- feed_acute_pas, ...: members of scr_feed, each bound to its source in'
\echo '-- scr.feed_binding) and loads every source''s messages, GP practices first,'
\echo '-- as that source''s login:'
\echo '--     SET ROLE feed_acute_pas;'
\echo '--     SELECT sum(loaded), sum(unchanged), sum(rejected)'
\echo '--     FROM <the source''s messages in chunks of 1,000> c,'
\echo '--          scr.ingest_batch(''acute_pas'', c.messages);'
\echo '-- This is the slow step of the demo.  What each source''s batches returned:'
\set ECHO none
\ir ../test/synthetic/load.sql
\set ECHO queries
SELECT role_name, source_code FROM scr.feed_binding ORDER BY source_code;

\echo
\echo '==== 3. The record ================================================='
\echo

\echo '-- Read as the superuser, who bypasses row-level security: the whole'
\echo '-- record.  Sections 4 and 5 read it as care professionals and other roles'
\echo '-- do; the sections after them are the superuser''s again.'

\echo '-- People in the area, the patients the record made of them, and what it holds.'
SELECT (SELECT count(*) FROM synthetic.person) AS people,
       (SELECT count(*) FROM scr.patient) AS patients,
       (SELECT count(*) FROM scr.source_identifier) AS source_identifiers,
       (SELECT count(*) FROM scr.patient_nhs_number) AS nhs_numbers,
       (SELECT count(*) FROM scr.entry) AS entries,
       (SELECT count(*) FROM scr.feed_error) AS dead_letters;

\echo '-- How each source''s people were linked: a valid NHS number with the same'
\echo '-- birth date finds the patient at once (the PDS cross-check); otherwise the'
\echo '-- probabilistic matcher weighs names, birth date, sex, postcode, address and'
\echo '-- number (docs/linkage.md).  The GP practices load first, so their people'
\echo '-- are mostly new.'
SELECT si.source_code,
       count(*) FILTER (WHERE link_method = 'nhs_number_and_birth_date') AS nhs_number_and_birth_date,
       count(*) FILTER (WHERE link_method = 'probabilistic') AS probabilistic,
       count(*) FILTER (WHERE link_method = 'new_patient') AS new_patient,
       count(*) FILTER (WHERE si.nhs_number IS NULL AND si.nhs_number_problem IS NULL) AS sent_no_number,
       count(*) FILTER (WHERE si.nhs_number_problem IS NOT NULL) AS sent_invalid_number
FROM scr.source_identifier si JOIN scr.source_system ss USING (source_code)
GROUP BY si.source_code, ss.kind
ORDER BY scr.default_trust_rank(ss.kind), si.source_code;

\echo '-- Checked against the synthetic truth: no patient mixes two people (twins,'
\echo '-- and fathers and sons sharing a name and address, are kept apart), and few'
\echo '-- people are split across patients -- mostly records sent with a number and'
\echo '-- a birth date one part off, which the rules send to review rather than link.'
WITH truth AS (
    SELECT scr.current_patient_id(si.patient_id) AS patient_id, r.person_id
    FROM scr.source_identifier si JOIN synthetic.record r USING (source_code, local_id)
)
SELECT (SELECT count(*) FROM (SELECT patient_id FROM truth GROUP BY 1
                              HAVING count(DISTINCT person_id) > 1) x) AS patients_mixing_people,
       (SELECT count(*) FROM (SELECT person_id FROM truth GROUP BY 1
                              HAVING count(DISTINCT patient_id) > 1) x) AS people_split,
       (SELECT count(*) FROM synthetic.person) AS people;

\echo '-- The link review queue: what linkage would not decide alone, and why.'
SELECT reason, status, count(*) AS pairs
FROM scr.link_review GROUP BY reason, status ORDER BY pairs DESC, reason;

\echo '-- Entries by kind (each kind''s payload is shaped as a FHIR resource).'
SELECT e.kind, k.fhir_resource_type, count(*) AS entries
FROM scr.entry e JOIN scr.entry_kind k USING (kind)
GROUP BY e.kind, k.fhir_resource_type
ORDER BY entries DESC, e.kind;

\echo '-- Entries by source, with the organisation that is their provenance.'
SELECT e.source_code, o.name AS organisation, count(*) AS entries,
       count(DISTINCT e.patient_id) AS patients
FROM scr.entry e JOIN scr.organisation o USING (ods_code)
GROUP BY e.source_code, o.name
ORDER BY entries DESC, e.source_code;

\echo '-- Sensitive entries: HL7 confidentiality (N normal, R restricted, V very'
\echo '-- restricted) and a category.  A sealed category is visible only to the'
\echo '-- organisation that wrote the entry (section 4).'
SELECT e.sensitivity, e.sensitivity_category AS category, c.sealed,
       count(*) AS entries, count(DISTINCT e.patient_id) AS patients
FROM scr.entry e LEFT JOIN scr.sensitivity_category c ON c.category = e.sensitivity_category
GROUP BY 1, 2, 3
ORDER BY 1, 2;

\echo
\echo '==== 4. Reading as different professionals ========================='
\echo

\echo '-- The patient this demo follows from here on: the first (by id) known to'
\echo '-- a GP practice, the hospital and mental health services whose sources'
\echo '-- disagree about a name or postcode.'
SELECT si.patient_id AS show_patient
FROM scr.source_identifier si JOIN scr.source_system ss USING (source_code)
GROUP BY si.patient_id
HAVING bool_or(ss.kind = 'gp') AND bool_or(ss.kind = 'acute') AND bool_or(ss.kind = 'mental_health')
   AND (count(DISTINCT si.given_name) > 1 OR count(DISTINCT si.family_name) > 1
        OR count(DISTINCT si.postcode) > 1)
ORDER BY si.patient_id LIMIT 1 \gset

\echo '-- Reading starts from a legitimate relationship with the patient.  The'
\echo '-- feeds made this patient''s: registration with the practice, admission to'
\echo '-- the hospital, referral to mental health services.'
SELECT r.ods_code, o.name AS organisation, r.kind, r.created_by
FROM scr.relationship r JOIN scr.organisation o USING (ods_code)
WHERE r.patient_id = :show_patient
ORDER BY r.ods_code;

\echo '-- Then the professional''s job role (a national RBAC R-code) carries'
\echo '-- activities (B-codes), and each activity lets its holder read some entry'
\echo '-- kinds up to a sensitivity (N < R < V).  The reading activities shipped:'
SELECT a.activity, a.name,
       CASE WHEN count(aa.kind) = (SELECT count(*) FROM scr.entry_kind) THEN 'every kind'
            ELSE coalesce(string_agg(aa.kind, ', ' ORDER BY aa.kind), '(demographics only)') END AS kinds,
       max(aa.max_sensitivity) AS up_to
FROM scr.activity a LEFT JOIN scr.activity_access aa USING (activity)
WHERE a.activity IN ('B1001', 'B0264', 'B0370', 'B1002')
GROUP BY a.activity, a.name
ORDER BY a.activity;

\echo '-- Seven professionals, each with one role profile (professional x'
\echo '-- organisation x job role); one works for a trust outside the area.'
INSERT INTO scr.organisation (ods_code, name, kind)
VALUES ('RZZ', 'Out of Area NHS Trust', 'nhs_trust');
INSERT INTO scr.professional (professional_id, name) VALUES
    ('dr_patel', 'Dr Asha Patel'), ('rec_lee', 'Sam Lee'), ('dr_obi', 'Dr Ngozi Obi'),
    ('nurse_hill', 'Jo Hill'), ('sw_cole', 'Pat Cole'), ('dr_rahman', 'Dr Amir Rahman'),
    ('dr_far', 'Dr Kim Far');
INSERT INTO scr.role_profile (role_profile_id, professional_id, ods_code, job_role) VALUES
    ('dr_patel.B86001', 'dr_patel', 'B86001', 'R8000'),
    ('rec_lee.B86001', 'rec_lee', 'B86001', 'R8010'),
    ('dr_obi.B86003', 'dr_obi', 'B86003', 'R8000'),
    ('nurse_hill.RR8', 'nurse_hill', 'RR8', 'R8001'),
    ('sw_cole.LA123', 'sw_cole', 'LA123', 'R8004'),
    ('dr_rahman.RGD', 'dr_rahman', 'RGD', 'R8003'),
    ('dr_far.RZZ', 'dr_far', 'RZZ', 'R8000');
SELECT rp.role_profile_id, p.name, rp.job_role, j.name AS job_role_name,
       string_agg(jra.activity, ' ' ORDER BY jra.activity) AS activities
FROM scr.role_profile rp
JOIN scr.professional p USING (professional_id)
JOIN scr.job_role j USING (job_role)
JOIN scr.job_role_activity jra USING (job_role)
GROUP BY rp.role_profile_id, p.name, rp.job_role, j.name
ORDER BY rp.ods_code, rp.job_role;

\echo '-- Professionals read through their clinical systems, which reach the'
\echo '-- record through a gateway: a login in scr_clinical_gateway.  For each'
\echo '-- transaction the gateway opens a context with a token that the trusted'
\echo '-- calling system signed with a key the database holds (HMAC-SHA256),'
\echo '-- naming the professional, role profile, organisation and purpose of use.'
\echo '-- Here the database signs them itself, as the superuser (only the'
\echo '-- superuser may), and psql keeps them in variables: a token is a bearer'
\echo '-- credential, so it is never printed.'
INSERT INTO scr.context_key (key_id, secret)
VALUES ('demo', decode(md5(gen_random_uuid()::text) || md5(gen_random_uuid()::text), 'hex'));
CREATE ROLE demo_gateway LOGIN IN ROLE scr_clinical_gateway;
SELECT scr.mint_context_token('demo', 'dr_patel', 'dr_patel.B86001', 'B86001', 'TREAT') AS t_dr_patel,
       scr.mint_context_token('demo', 'rec_lee', 'rec_lee.B86001', 'B86001', 'TREAT') AS t_rec_lee,
       scr.mint_context_token('demo', 'dr_obi', 'dr_obi.B86003', 'B86003', 'TREAT') AS t_dr_obi,
       scr.mint_context_token('demo', 'nurse_hill', 'nurse_hill.RR8', 'RR8', 'TREAT') AS t_nurse_hill,
       scr.mint_context_token('demo', 'sw_cole', 'sw_cole.LA123', 'LA123', 'TREAT') AS t_sw_cole,
       scr.mint_context_token('demo', 'dr_rahman', 'dr_rahman.RGD', 'RGD', 'TREAT') AS t_dr_rahman,
       scr.mint_context_token('demo', 'dr_far', 'dr_far.RZZ', 'RZZ', 'TREAT') AS t_dr_far,
       scr.mint_context_token('demo', 'dr_obi', 'dr_obi.B86003', 'B86003', 'POPHLTH') AS t_dr_obi_research,
       scr.mint_context_token('demo', 'dr_obi', 'dr_obi.B86003', 'B86003', 'TREAT') AS t_dr_obi_2 \gset

\echo '-- What a professional sees, counted by a function any caller can run: it'
\echo '-- opens the token''s context and counts the rows row-level security lets'
\echo '-- through (it is SECURITY INVOKER: the policies are the caller''s).'
CREATE FUNCTION public.demo_sees(token text, patient bigint)
RETURNS TABLE (purpose text, patients bigint, entries bigint, restricted bigint,
               very_restricted bigint, by_kind jsonb, this_patient text)
LANGUAGE plpgsql AS $$
BEGIN
    IF token IS NOT NULL THEN
        PERFORM scr.open_context(token);
    END IF;
    RETURN QUERY SELECT
        scr.context_purpose(),
        (SELECT count(*) FROM scr.patient),
        coalesce(sum(k.n), 0)::bigint, coalesce(sum(k.r), 0)::bigint, coalesce(sum(k.v), 0)::bigint,
        coalesce(jsonb_object_agg(k.kind, k.n) FILTER (WHERE k.kind IS NOT NULL), '{}'),
        CASE WHEN NOT EXISTS (SELECT FROM scr.patient p WHERE p.patient_id = patient) THEN 'not seen'
             ELSE (SELECT coalesce(string_agg(x.kind || ' ' || x.n, ', ' ORDER BY x.kind), 'identity only')
                   FROM (SELECT e.kind, count(*) AS n FROM scr.entry e
                         WHERE e.patient_id = patient GROUP BY e.kind) x) END
    FROM (SELECT e.kind, count(*) AS n,
                 count(*) FILTER (WHERE e.sensitivity = 'R') AS r,
                 count(*) FILTER (WHERE e.sensitivity = 'V') AS v
          FROM scr.entry e GROUP BY e.kind) k;
END $$;
\echo '-- The whole record, as the superuser sees it (no context: superusers'
\echo '-- bypass row-level security).'
SELECT purpose, patients, entries, restricted, very_restricted, this_patient
FROM public.demo_sees(NULL, :show_patient);

\echo
\echo '-- Now as the gateway.'
\set demo_superuser :USER
\c - demo_gateway
SELECT current_user, pg_has_role('scr_clinical_gateway', 'member') AS in_gateway_role,
       (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS superuser;

\echo '-- The gateway keeps the tokens it was handed in a temporary table.  (This'
\echo '-- statement is shown as written, with psql variables: echoed after'
\echo '-- substitution it would print the tokens.)'
\echo 'CREATE TEMP TABLE demo_token (n, who, token) AS VALUES'
\echo '    (1, ''dr_patel'', :''t_dr_patel''), (2, ''rec_lee'', :''t_rec_lee''), ...;'
\set ECHO none
CREATE TEMP TABLE demo_token (n, who, token) AS VALUES
    (1, 'dr_patel', :'t_dr_patel'), (2, 'rec_lee', :'t_rec_lee'), (3, 'dr_obi', :'t_dr_obi'),
    (4, 'nurse_hill', :'t_nurse_hill'), (5, 'sw_cole', :'t_sw_cole'),
    (6, 'dr_rahman', :'t_dr_rahman'), (7, 'dr_far', :'t_dr_far'),
    (8, 'dr_obi for research', :'t_dr_obi_research'), (9, 'dr_obi again', :'t_dr_obi_2');
\set ECHO queries

\echo
\echo '-- With no context open, the gateway sees nothing at all.'
SELECT (SELECT count(*) FROM scr.patient) AS patients,
       (SELECT count(*) FROM scr.entry) AS entries,
       (SELECT count(*) FROM scr.source_identifier) AS source_identifiers,
       (SELECT count(*) FROM scr.relationship) AS relationships;

\echo '-- One transaction as Dr Obi, a GP at the patient''s practice.'
BEGIN;
SELECT scr.open_context(token) FROM demo_token WHERE who = 'dr_obi again';
SELECT scr.context_professional() AS professional, scr.context_role_profile() AS role_profile,
       scr.context_organisation() AS organisation, scr.context_purpose() AS purpose;
SELECT patient_id, given_name, family_name, birth_date, gp_practice
FROM scr.patient WHERE patient_id = :show_patient;
\echo '-- Restricted (R) entries are within a GP''s detailed-record activity: the'
\echo '-- mental health services'' entries show alongside the practice''s own.'
SELECT e.kind, e.sensitivity AS sens, e.sensitivity_category AS category, e.ods_code,
       count(*) AS entries
FROM scr.entry e WHERE e.patient_id = :show_patient
GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 4;
COMMIT;
\echo '-- The context ended with the transaction: nothing again.'
SELECT scr.context_professional() AS professional,
       (SELECT count(*) FROM scr.patient) AS patients, (SELECT count(*) FROM scr.entry) AS entries;
\echo '-- A token opens one context only: used again, it is refused.'
\set ON_ERROR_STOP 0
SELECT scr.open_context(token) FROM demo_token WHERE who = 'dr_obi again';
\set ON_ERROR_STOP 1

\echo
\echo '-- Each professional in turn: each row opens that professional''s context'
\echo '-- and counts what they see (kept in a temporary table to show two ways).'
CREATE TEMP TABLE seen AS
SELECT t.n, t.who, s.*
FROM demo_token t CROSS JOIN LATERAL public.demo_sees(t.token, :show_patient) s
WHERE t.who <> 'dr_obi again';
\echo '-- Patients and entries in the whole area, how many of those entries are'
\echo '-- restricted (R) or very restricted (V), and what of this patient.'
SELECT who, purpose, patients, entries, restricted, very_restricted, this_patient
FROM seen ORDER BY n;
\echo '-- The area''s entries each sees, by kind (pivoted by psql''s \\crosstabview;'
\echo '-- blank: none; rec_lee, dr_far and the research purpose see none at all).'
SELECT s.n, s.who, k.kind, k.entries::int AS entries
FROM seen s, jsonb_each(s.by_kind) AS k(kind, entries)
ORDER BY k.kind, s.n \crosstabview kind who entries n

\echo '-- dr_patel and rec_lee see Riverside''s patients, not this one (registered'
\echo '-- at Canal Street); the receptionist only their identities.  The nurse sees'
\echo '-- the hospital''s patients and the mental health clinician the trust''s'
\echo '-- referrals, with every source''s entries.  The social worker sees the'
\echo '-- council''s clients, social care kinds up to R and summary kinds at N.'
\echo '-- The out-of-area doctor has no relationship with anyone, and a purpose'
\echo '-- that is not direct care (POPHLTH, population health) opens nothing.'
\echo
\echo '-- No one saw a V entry: no shipped activity reads above R.  The V entries'
\echo '-- are the practices'' HIV results, in a sealed category (hiv_sti): only the'
\echo '-- organisation that wrote one may see it.  To show sealing at work, back'
\echo '-- as the superuser: Riverside''s HIV results, and those of patients the'
\echo '-- hospital treats; then an operator lets the detailed record (B0370) read'
\echo '-- observations up to V.'
\c - :demo_superuser
\set ECHO none
SET datestyle = ISO;
SET timezone = 'Europe/London';
SET scr.allow_test_nhs_numbers = on;
\set ECHO queries
SELECT count(*) FILTER (WHERE e.ods_code = 'B86001') AS riverside_hiv_results,
       count(*) FILTER (WHERE EXISTS (SELECT FROM scr.relationship r
                                      WHERE r.patient_id = e.patient_id AND r.ods_code = 'RR8'))
           AS hiv_results_of_hospital_patients
FROM scr.entry e WHERE e.sensitivity_category = 'hiv_sti';
UPDATE scr.activity_access SET max_sensitivity = 'V' WHERE activity = 'B0370' AND kind = 'observation';
SELECT scr.mint_context_token('demo', 'dr_patel', 'dr_patel.B86001', 'B86001', 'TREAT') AS t_dr_patel,
       scr.mint_context_token('demo', 'nurse_hill', 'nurse_hill.RR8', 'RR8', 'TREAT') AS t_nurse_hill \gset
\c - demo_gateway
\echo '-- The practice''s doctor now sees the practice''s own HIV results; the'
\echo '-- hospital nurse, whose role now reads V too, still sees none: sealed.'
\echo 'CREATE TEMP TABLE demo_token (n, who, token) AS VALUES'
\echo '    (1, ''dr_patel'', :''t_dr_patel''), (2, ''nurse_hill'', :''t_nurse_hill'');'
\set ECHO none
CREATE TEMP TABLE demo_token (n, who, token) AS VALUES
    (1, 'dr_patel', :'t_dr_patel'), (2, 'nurse_hill', :'t_nurse_hill');
\set ECHO queries
SELECT t.who, s.patients, s.entries, s.restricted, s.very_restricted, (s.by_kind -> 'observation')::int AS observations
FROM demo_token t CROSS JOIN LATERAL public.demo_sees(t.token, :show_patient) s
ORDER BY t.n;

\echo '-- Back to the superuser; the operator''s change is undone.'
\c - :demo_superuser
\set ECHO none
SET datestyle = ISO;
SET timezone = 'Europe/London';
SET scr.allow_test_nhs_numbers = on;
\set ECHO queries
UPDATE scr.activity_access SET max_sensitivity = 'R' WHERE activity = 'B0370' AND kind = 'observation';

\echo
\echo '-- Access ends with the episode of care.  The hospital discharges the'
\echo '-- patient: its feed login sends the end of the admission (HL7 A03).'
SELECT si.local_id AS acute_local_id FROM scr.source_identifier si
WHERE si.source_code = 'acute_pas' AND si.patient_id = :show_patient
ORDER BY si.local_id LIMIT 1 \gset
SET ROLE feed_acute_pas;
SELECT scr.end_care_relationship('acute_pas', :'acute_local_id') AS relationships_ended;
RESET ROLE;
SELECT r.ods_code, r.kind, r.valid_to IS NOT NULL AS ended
FROM scr.relationship r WHERE r.patient_id = :show_patient ORDER BY r.ods_code;
SELECT scr.mint_context_token('demo', 'nurse_hill', 'nurse_hill.RR8', 'RR8', 'TREAT') AS t_nurse_discharged,
       scr.mint_context_token('demo', 'nurse_hill', 'nurse_hill.RR8', 'RR8', 'TREAT') AS t_nurse_readmitted \gset
\echo '-- The hospital nurse no longer finds the patient (the query is shown'
\echo '-- without its token).'
\echo 'SELECT this_patient FROM public.demo_sees(<token>, :show_patient);'
\c - demo_gateway
\set ECHO none
SELECT this_patient FROM public.demo_sees(:'t_nurse_discharged', :show_patient);
\set ECHO queries
\c - :demo_superuser
\echo '-- A later readmission (HL7 A01) opens a new admission, and she sees the'
\echo '-- record again.'
SET ROLE feed_acute_pas;
SELECT scr.start_care_relationship('acute_pas', :'acute_local_id') IS NOT NULL AS readmitted;
RESET ROLE;
\echo 'SELECT this_patient FROM public.demo_sees(<token>, :show_patient);'
\c - demo_gateway
\set ECHO none
SELECT this_patient FROM public.demo_sees(:'t_nurse_readmitted', :show_patient);
\set ECHO queries
\c - :demo_superuser
\set ECHO none
SET datestyle = ISO;
SET timezone = 'Europe/London';
SET scr.allow_test_nhs_numbers = on;
\set ECHO queries

\echo
\echo '==== 5. Consent, break-glass, reporting and secondary use =========='
\echo

\echo '-- Another patient of Dr Obi''s practice: the first with a sexual health'
\echo '-- result (very restricted, V, and sealed).'
SELECT min(e.patient_id) AS cp FROM scr.entry e JOIN scr.patient p USING (patient_id)
WHERE p.gp_practice = 'B86003' AND e.sensitivity_category = 'hiv_sti' \gset
\echo '-- Recording consent needs activity B0015, which no shipped job role holds:'
\echo '-- the superuser grants it to R8000 for this section.  Then logins, and'
\echo '-- tokens the gateway keeps in a temporary table, as in section 4.'
INSERT INTO scr.job_role_activity (job_role, activity) VALUES ('R8000', 'B0015');
CREATE ROLE demo_privacy LOGIN IN ROLE scr_privacy_officer;
CREATE ROLE demo_reporter LOGIN IN ROLE scr_reporting;
CREATE ROLE demo_researcher LOGIN IN ROLE scr_secondary_use;
SELECT scr.mint_context_token('demo', 'dr_obi', 'dr_obi.B86003', 'B86003', 'TREAT') AS t5_obi_1,
       scr.mint_context_token('demo', 'dr_obi', 'dr_obi.B86003', 'B86003', 'TREAT') AS t5_obi_2,
       scr.mint_context_token('demo', 'dr_far', 'dr_far.RZZ', 'RZZ', 'ETREAT') AS t5_far_1,
       scr.mint_context_token('demo', 'dr_far', 'dr_far.RZZ', 'RZZ', 'ETREAT') AS t5_far_2,
       scr.mint_context_token('demo', 'dr_obi', 'dr_obi.B86003', 'B86003', 'TREAT') AS t5_obi_3,
       scr.mint_context_token('demo', 'dr_rahman', 'dr_rahman.RGD', 'RGD', 'TREAT') AS t5_rahman_1,
       scr.mint_context_token('demo', 'dr_rahman', 'dr_rahman.RGD', 'RGD', 'TREAT', :cp) AS t5_rahman_2 \gset
\c - demo_gateway
\set ECHO none
CREATE TEMP TABLE demo_token (who, token) AS VALUES
    ('dr_obi 1', :'t5_obi_1'), ('dr_obi 2', :'t5_obi_2'),
    ('dr_far 1', :'t5_far_1'), ('dr_far 2', :'t5_far_2');
\set ECHO queries

\echo '-- Dr Obi opens the patient: scr.patient_entries (the record, newest first)'
\echo '-- and scr.patient_summary (visible by kind; withheld counted by reason).'
\echo '-- The practice''s V result is beyond any shipped role.'
BEGIN;
SELECT scr.open_context(token) FROM demo_token WHERE who = 'dr_obi 1' \gset
SELECT effective_start::date AS effective, kind, display, ods_code, sensitivity AS sens
FROM scr.patient_entries(:cp) LIMIT 3;
SELECT * FROM scr.patient_summary(:cp);
\echo '-- The patient objects to sharing: Dr Obi records the dissent.  Content is'
\echo '-- hidden from everyone; the identity stays, so the objection is honoured.'
SELECT scr.record_consent(:cp, 'deny') AS dissent \gset
SELECT patient_id, given_name, family_name, birth_date, gp_practice,
       (SELECT count(*) FROM scr.patient_entries(:cp)) AS entries
FROM scr.patient WHERE patient_id = :cp;
SELECT * FROM scr.patient_summary(:cp);
COMMIT;

\echo '-- Dr Far, an ED doctor at the out-of-area trust with no relationship,'
\echo '-- breaks the glass: coded reason, reason in words, minutes.  That opens the'
\echo '-- patient, not past the dissent: only legal override (B0082) may, and no'
\echo '-- shipped role holds it.'
BEGIN;
SELECT scr.open_context(token) FROM demo_token WHERE who = 'dr_far 1' \gset
SELECT scr.break_glass(:cp, 'emergency', 'Unconscious in resus, no history available', 30)
       - statement_timestamp() AS granted_for;
SELECT sum(visible) AS visible, sum(withheld) AS withheld,
       sum(substring(withheld_reasons FROM 'consent (\d+)')::int) AS for_consent
FROM scr.patient_summary(:cp);
SAVEPOINT override;
\set ON_ERROR_STOP 0
SELECT scr.break_glass(:cp, 'emergency', 'Unconscious in resus', 30, override_dissent => true);
\set ON_ERROR_STOP 1
ROLLBACK TO override;
COMMIT;

\echo '-- A privacy officer''s login sees the alert raised (the refused override'
\echo '-- is in the audit: section 10).'
\c - demo_privacy
SELECT kind, professional_id, ods_code, detail FROM scr.privacy_alert WHERE patient_id = :cp;

\echo '-- The patient withdraws the dissent.  Dr Obi sees the record again, and so'
\echo '-- does Dr Far while the break-glass lasts.'
\c - demo_gateway
\set ECHO none
CREATE TEMP TABLE demo_token (who, token) AS VALUES ('dr_obi 2', :'t5_obi_2'), ('dr_far 2', :'t5_far_2'),
    ('dr_obi 3', :'t5_obi_3'), ('dr_rahman 1', :'t5_rahman_1'), ('dr_rahman 2', :'t5_rahman_2');
\set ECHO queries
BEGIN;
SELECT scr.open_context(token) FROM demo_token WHERE who = 'dr_obi 2' \gset
SELECT scr.withdraw_consent(:cp, :dissent) \gset
SELECT count(*) AS entries FROM scr.patient_entries(:cp);
COMMIT;
BEGIN;
SELECT scr.open_context(token) FROM demo_token WHERE who = 'dr_far 2' \gset
SELECT sum(visible) AS visible, sum(withheld) AS withheld,
       sum(substring(withheld_reasons FROM 'consent (\d+)')::int) AS for_consent
FROM scr.patient_summary(:cp);
COMMIT;

\echo '-- Permission to view once: the patient lets Dr Rahman, a consultant at'
\echo '-- another trust with no relationship, see the record once.  It counts from'
\echo '-- the first context he opens on the patient (the token names the patient),'
\echo '-- for that context''s life, and never again.  A directive''s actor may also'
\echo '-- be a team or a job role.'
BEGIN;
SELECT scr.open_context(token) FROM demo_token WHERE who = 'dr_obi 3' \gset
SELECT scr.record_consent(:cp, 'permit', actor_professional => 'dr_rahman', once => true) AS view_once \gset
COMMIT;
BEGIN;
SELECT scr.open_context(token) FROM demo_token WHERE who = 'dr_rahman 1' \gset
SELECT count(*) AS entries_before_opening FROM scr.clinical_entry WHERE patient_id = :cp;
COMMIT;
BEGIN;
SELECT scr.open_context(token) FROM demo_token WHERE who = 'dr_rahman 2' \gset
SELECT count(*) AS entries_once_opened FROM scr.clinical_entry WHERE patient_id = :cp;
COMMIT;

\echo
\echo '-- The National Data Opt-out and Type 1 objections limit secondary use,'
\echo '-- never direct care.  Canal Street''s feed login records three patients'' flags.'
\c - :demo_superuser
\set ECHO none
SET datestyle = ISO;
SET timezone = 'Europe/London';
SET scr.allow_test_nhs_numbers = on;
\set ECHO queries
DELETE FROM scr.job_role_activity WHERE job_role = 'R8000' AND activity = 'B0015';
SELECT string_agg(quote_literal(local_id), ', ' ORDER BY local_id) AS opt_out_ids FROM (SELECT local_id
FROM scr.source_identifier WHERE source_code = 'gp_canal' ORDER BY local_id LIMIT 3) x \gset
SET ROLE feed_gp_canal;
SELECT o.local_id, o.national_data_opt_out, o.type1_objection
FROM unnest(ARRAY[:opt_out_ids], ARRAY[true, false, true], ARRAY[false, true, true])
         AS o(local_id, national_data_opt_out, type1_objection),
     scr.record_opt_out('gp_canal', o.local_id, o.national_data_opt_out, o.type1_objection);
RESET ROLE;

\echo '-- A reporting login (scr_reporting) reads the record consent-filtered (no'
\echo '-- dissenters, no V, nothing sealed); opt-outs do not apply.  Canal Street:'
\c - demo_reporter
SELECT count(DISTINCT p.patient_id) AS patients, count(e.entry_id) AS entries
FROM scr.patient p LEFT JOIN scr.report_entry e USING (patient_id)
WHERE p.gp_practice = 'B86003' AND p.merged_into IS NULL;

\echo '-- A research login (scr_secondary_use) reads pseudonymised views without'
\echo '-- identifiers, never the record; opted-out patients and sensitive categories'
\echo '-- are left out.  (Pseudonyms change with the key: only lengths are shown.)'
\c - demo_researcher
SELECT * FROM scr.research_patient LIMIT 0;
SELECT count(*) AS patients, count(DISTINCT p.pseudonym) AS pseudonyms,
       min(length(p.pseudonym)) AS pseudonym_length, sum(e.n) AS entries
FROM scr.research_patient p LEFT JOIN (SELECT pseudonym, count(*) AS n FROM scr.research_entry
                                       GROUP BY 1) e USING (pseudonym)
WHERE p.gp_practice = 'B86003';
\set ON_ERROR_STOP 0
SELECT count(*) FROM scr.patient;
\set ON_ERROR_STOP 1

\c - :demo_superuser
\set ECHO none
SET datestyle = ISO;
SET timezone = 'Europe/London';
SET scr.allow_test_nhs_numbers = on;
\set ECHO queries

\echo
\echo '==== 6. A dead letter and its replay ==============================='
\echo

\echo '-- Someone the hospital has never sent: the first person (by id) known only'
\echo '-- to their GP.  Their GP record is already in scr.'
CREATE TEMP TABLE demo_pick AS
SELECT p.person_id, p.nhs_number, p.given_name, p.family_name, p.birth_date, p.sex,
       p.postcode, r.source_code AS gp_source, r.local_id AS gp_local_id
FROM synthetic.person p JOIN synthetic.record r ON r.person_id = p.person_id AND r.kind = 'gp'
WHERE p.relation IS NULL
  AND NOT EXISTS (SELECT FROM synthetic.record x WHERE x.person_id = p.person_id AND x.kind <> 'gp')
ORDER BY p.person_id LIMIT 1;
SELECT * FROM demo_pick;
SELECT * FROM demo_pick \gset ed_

\echo
\echo '-- The hospital''s ED system sends an attendance for hospital number'
\echo '-- AC-ED-0001 before its PAS has sent the person.  The batch does not fail:'
\echo '-- the message is rejected and kept as a dead letter.'
SET ROLE feed_acute_pas;
SELECT * FROM scr.ingest_batch('acute_pas', '[
  {"type": "entry", "local_id": "AC-ED-0001",
   "entry": {"kind": "encounter", "source_ref": "ED-2024-0001",
             "source_timestamp": "2024-05-01T11:30:00Z", "status": "finished",
             "code_system": "http://snomed.info/sct", "code": "50849002",
             "display": "Emergency department attendance",
             "effective_start": "2024-05-01T09:10:00Z", "effective_end": "2024-05-01T11:30:00Z"}}
]');
RESET ROLE;

\echo
\echo '-- A feed login writes only for the sources bound to it.'
SET ROLE feed_mh_ehr;
\set ON_ERROR_STOP 0
SELECT scr.ingest_person('acute_pas', 'AC-ED-0001', '{"family_name": "Nobody"}');
\set ON_ERROR_STOP 1
RESET ROLE;

\echo
\echo '-- Operators are members of scr_admin: they read the dead-letter queue and'
\echo '-- replay from it.'
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'demo_operator') THEN
        CREATE ROLE demo_operator LOGIN IN ROLE scr_admin;
    END IF;
END $$;
SET ROLE demo_operator;
\x on
SELECT feed_error_id, source_code, message_type, local_id, sqlstate, error, hint, submitted_by,
       message #>> '{entry,source_ref}' AS source_ref
FROM scr.feed_error WHERE replayed_at IS NULL;
\x off
SELECT feed_error_id AS dead_letter FROM scr.feed_error
WHERE source_code = 'acute_pas' AND local_id = 'AC-ED-0001' AND replayed_at IS NULL \gset

\echo
\echo '-- Replayed too early, it fails again and stays open (replay_result says why).'
SELECT scr.replay_feed_error(:dead_letter) AS outcome;
RESET ROLE;

\echo
\echo '-- The hospital sends the person.  A valid NHS number with the same birth'
\echo '-- date links them to the patient their GP sent.'
SET ROLE feed_acute_pas;
SELECT scr.ingest_person('acute_pas', 'AC-ED-0001', jsonb_build_object(
           'nhs_number', :'ed_nhs_number', 'nhs_number_status', '02',
           'given_name', :'ed_given_name', 'family_name', :'ed_family_name',
           'birth_date', :'ed_birth_date', 'sex', :'ed_sex', 'postcode', :'ed_postcode'))
       AS patient_id \gset ed_
RESET ROLE;
SELECT si.patient_id, si.source_code, si.local_id, si.link_method, si.nhs_number,
       si.given_name, si.family_name, si.birth_date
FROM scr.source_identifier si WHERE si.patient_id = :ed_patient_id
ORDER BY si.source_identifier_id;

\echo '-- The operator replays the dead letter: now it loads.  The hospital''s feed'
\echo '-- login cannot replay (only scr_admin may).'
SET ROLE feed_acute_pas;
\set ON_ERROR_STOP 0
SELECT scr.replay_feed_error(:dead_letter);
\set ON_ERROR_STOP 1
SET ROLE demo_operator;
SELECT scr.replay_feed_error(:dead_letter) AS outcome;
SELECT feed_error_id, replayed_at IS NOT NULL AS replayed, replay_result
FROM scr.feed_error WHERE feed_error_id = :dead_letter;
RESET ROLE;
SELECT e.patient_id, e.kind, e.display, e.status, e.source_code, e.ods_code, e.version
FROM scr.entry e WHERE e.source_code = 'acute_pas' AND e.source_ref = 'ED-2024-0001';

\echo
\echo '==== 7. Versions =================================================='
\echo

\echo '-- Each entry is identified by its source''s reference (source_ref); its'
\echo '-- source_timestamp (when the source last changed it) orders versions.'
\echo '-- Moments are noted in a table so the record can be read as it stood then'
\echo '-- (their values change each run, so they are not printed).'
CREATE TEMP TABLE demo_moment (label text PRIMARY KEY, at timestamptz NOT NULL);
INSERT INTO demo_moment VALUES ('1 before', clock_timestamp());

\echo
\echo '-- First versions: a provisional diagnosis, and a glucose result.'
SET ROLE feed_acute_pas;
SELECT * FROM scr.ingest_batch('acute_pas', '[
  {"type": "entry", "local_id": "AC-ED-0001",
   "entry": {"kind": "problem", "source_ref": "DX-0001", "source_timestamp": "2024-05-01T12:00:00Z",
             "status": "provisional", "code_system": "http://snomed.info/sct", "code": "233604007",
             "display": "Pneumonia", "effective_start": "2024-05-01"}},
  {"type": "entry", "local_id": "AC-ED-0001",
   "entry": {"kind": "observation", "source_ref": "OBS-0001", "source_timestamp": "2024-05-01T12:05:00Z",
             "status": "final", "code_system": "http://snomed.info/sct", "code": "33747003",
             "display": "Blood glucose 21 mmol/L", "effective_start": "2024-05-01T10:40:00Z"}}
]');
RESET ROLE;
INSERT INTO demo_moment VALUES ('2 first versions', clock_timestamp());

\echo
\echo '-- Corrections: the diagnosis is confirmed (a newer source_timestamp'
\echo '-- supersedes), and the glucose result was another patient''s: it is marked'
\echo '-- entered-in-error.'
SET ROLE feed_acute_pas;
SELECT * FROM scr.ingest_batch('acute_pas', '[
  {"type": "entry", "local_id": "AC-ED-0001",
   "entry": {"kind": "problem", "source_ref": "DX-0001", "source_timestamp": "2024-05-03T09:00:00Z",
             "status": "confirmed", "code_system": "http://snomed.info/sct", "code": "385093006",
             "display": "Community acquired pneumonia", "effective_start": "2024-05-01"}},
  {"type": "entry", "local_id": "AC-ED-0001",
   "entry": {"kind": "observation", "source_ref": "OBS-0001", "source_timestamp": "2024-05-01T15:00:00Z",
             "status": "entered-in-error", "code_system": "http://snomed.info/sct", "code": "33747003",
             "display": "Blood glucose 21 mmol/L", "effective_start": "2024-05-01T10:40:00Z"}}
]');
RESET ROLE;
INSERT INTO demo_moment VALUES ('3 corrected', clock_timestamp());

\echo
\echo '-- A version from between the two arrives late (an interface queue was'
\echo '-- backed up): it is older than the current version, so it is kept in'
\echo '-- history and never becomes current.  (ingest_batch counts it as loaded.)'
\echo '-- The correction sent again is unchanged: resending is safe.'
SET ROLE feed_acute_pas;
SELECT * FROM scr.ingest_batch('acute_pas', '[
  {"type": "entry", "local_id": "AC-ED-0001",
   "entry": {"kind": "problem", "source_ref": "DX-0001", "source_timestamp": "2024-05-02T08:00:00Z",
             "status": "provisional", "code_system": "http://snomed.info/sct", "code": "233604007",
             "display": "Pneumonia, awaiting chest X-ray", "effective_start": "2024-05-01"}}
]');
SELECT * FROM scr.ingest_batch('acute_pas', '[
  {"type": "entry", "local_id": "AC-ED-0001",
   "entry": {"kind": "problem", "source_ref": "DX-0001", "source_timestamp": "2024-05-03T09:00:00Z",
             "status": "confirmed", "code_system": "http://snomed.info/sct", "code": "385093006",
             "display": "Community acquired pneumonia", "effective_start": "2024-05-01"}}
]');
RESET ROLE;
INSERT INTO demo_moment VALUES ('4 late version arrived', clock_timestamp());

\echo
\echo '-- The current versions (scr.entry); entered-in-error stays there, marked.'
SELECT source_ref, version, status, display, source_timestamp
FROM scr.entry WHERE source_code = 'acute_pas' AND source_ref IN ('DX-0001', 'OBS-0001')
ORDER BY source_ref;

\echo '-- Earlier versions and the late one (scr.entry_history).'
SELECT source_ref, version, status, display, source_timestamp, late
FROM scr.entry_history WHERE source_code = 'acute_pas' AND source_ref IN ('DX-0001', 'OBS-0001')
ORDER BY source_ref, source_timestamp;

\echo '-- scr.entries_as_of(patient, time): the record as it stood at each moment.'
\echo '-- Entered-in-error entries and late versions are never part of it.'
SELECT m.label AS as_of, e.source_ref, e.version, e.status, e.display
FROM demo_moment m
LEFT JOIN LATERAL (SELECT * FROM scr.entries_as_of(:ed_patient_id, m.at) x
                   WHERE x.source_ref IN ('DX-0001', 'OBS-0001')) e ON true
ORDER BY m.label, e.source_ref;

\echo
\echo '==== 8. One patient''s combined record =============================='
\echo

\echo '-- The patient section 4 read as different professionals, now read whole'
\echo '-- as the superuser.'
SELECT scr.nhs_number_display(nhs_number) AS show_nhs FROM scr.patient
WHERE patient_id = :show_patient \gset

\echo
\echo '-- The golden record, found by NHS number in its display form.  Each field'
\echo '-- comes from the most trusted source that sent one (GP first, then acute,'
\echo '-- mental health, community, social care); postcode and address from the'
\echo '-- most recent.  A verified number (status 01) beats an unverified one.'
\x on
SELECT patient_id, nhs_number, nhs_number_status, given_name, family_name, birth_date, sex,
       postcode, address, gp_practice, merged_into
FROM scr.patient WHERE nhs_number = :'show_nhs';
\x off

\echo '-- Which source said what: one source identifier per source''s record.'
SELECT si.source_code, si.local_id, si.link_method,
       coalesce(ss.trust_rank, scr.default_trust_rank(ss.kind)) AS rank,
       si.nhs_number, si.nhs_number_status AS status, si.given_name, si.family_name,
       si.birth_date, si.postcode, si.gp_practice
FROM scr.source_identifier si JOIN scr.source_system ss USING (source_code)
WHERE si.patient_id = :show_patient
ORDER BY rank, si.source_code;

\echo '-- Their entries, newest first, each with its provenance and sensitivity.'
SELECT e.effective_start::date AS effective, e.kind, e.display, e.status,
       e.source_code AS source, o.name AS organisation,
       e.sensitivity AS sens, e.sensitivity_category AS category
FROM scr.entry e JOIN scr.organisation o USING (ods_code)
WHERE e.patient_id = :show_patient
ORDER BY e.effective_start DESC, e.entry_id
LIMIT 30;

\echo
\echo '==== 9. A merge (HL7 A40) and its unmerge =========================='
\echo

\echo '-- The hospital''s ED registered this patient as an unknown arrival, without'
\echo '-- an NHS number, under a second hospital number: a second patient.'
SELECT local_id AS show_acute_local FROM scr.source_identifier
WHERE patient_id = :show_patient AND source_code = 'acute_pas' \gset
SELECT given_name AS show_given, family_name AS show_family, birth_date AS show_birth, sex AS show_sex
FROM scr.patient WHERE patient_id = :show_patient \gset
SET ROLE feed_acute_pas;
SELECT scr.ingest_person('acute_pas', 'AC-ED-0002', jsonb_build_object(
           'given_name', :'show_given', 'family_name', :'show_family',
           'birth_date', :'show_birth', 'sex', :'show_sex')) AS dup_patient \gset
SELECT * FROM scr.ingest_batch('acute_pas', '[
  {"type": "entry", "local_id": "AC-ED-0002",
   "entry": {"kind": "encounter", "source_ref": "ED-2024-0002",
             "source_timestamp": "2024-06-10T04:00:00Z", "status": "finished",
             "display": "Emergency department attendance",
             "effective_start": "2024-06-10T01:15:00Z"}}
]');
RESET ROLE;
SELECT patient_id, merged_into, given_name, family_name, nhs_number,
       (SELECT count(*) FROM scr.entries_as_of(p.patient_id, now())) AS entries
FROM scr.patient p WHERE patient_id IN (:show_patient, :dup_patient) ORDER BY patient_id;

\echo '-- The PAS finds the duplicate and sends A40: merge AC-ED-0002 into the'
\echo '-- patient''s hospital number.  The merge returns the survivor.  Rows never'
\echo '-- move: the duplicate points at the survivor, and reads go through it.'
SET ROLE feed_acute_pas;
SELECT scr.merge_patients('acute_pas', 'AC-ED-0002', :'show_acute_local') AS survivor;
\echo '-- A40 feeds send the same merge twice, sometimes inverted: nothing changes.'
SELECT scr.merge_patients('acute_pas', 'AC-ED-0002', :'show_acute_local') AS again,
       scr.merge_patients('acute_pas', :'show_acute_local', 'AC-ED-0002') AS inverted;
RESET ROLE;
SELECT patient_id, merged_into, scr.current_patient_id(patient_id) AS reads_as,
       (SELECT count(*) FROM scr.entries_as_of(p.patient_id, now())) AS entries
FROM scr.patient p WHERE patient_id IN (:show_patient, :dup_patient) ORDER BY patient_id;
\echo '-- The survivor''s record now includes the ED attendance, read by either id:'
\echo '-- scr.entries_as_of follows the merges in effect at the moment asked.'
SELECT e.source_ref, e.display, e.effective_start::date AS effective
FROM scr.entries_as_of(:show_patient, now()) e WHERE e.source_ref LIKE 'ED-%';
SELECT patient_id, into_patient_id, source_code, from_local_id, to_local_id, merged_by,
       unmerged_at IS NOT NULL AS undone
FROM scr.patient_merge ORDER BY merge_id;

\echo '-- It was not the same person after all: unmerge.  Unmerging again does'
\echo '-- nothing.'
SET ROLE feed_acute_pas;
SELECT scr.unmerge_patients('acute_pas', 'AC-ED-0002') AS unmerged;
SELECT scr.unmerge_patients('acute_pas', 'AC-ED-0002') AS again;
RESET ROLE;
SELECT patient_id, merged_into, scr.current_patient_id(patient_id) AS reads_as,
       (SELECT count(*) FROM scr.entries_as_of(p.patient_id, now())) AS entries
FROM scr.patient p WHERE patient_id IN (:show_patient, :dup_patient) ORDER BY patient_id;
SELECT patient_id, into_patient_id, from_local_id, to_local_id, merged_by, unmerged_by,
       unmerged_at IS NOT NULL AS undone
FROM scr.patient_merge ORDER BY merge_id;

\echo ''
\echo '==== 10. The audit ================================================'
\echo '-- Every statement that read or wrote patient data left one event per'
\echo '-- patient, refusals too.  Reads (and refusals) went through a queue in'
\echo '-- shared memory to the audit worker, which wrote them outside the'
\echo '-- reader''s transaction: rolled-back and failed reads stay audited.  Wait'
\echo '-- for the queue, then seal the hash chain (the worker does both every'
\echo '-- second anyway).'
SELECT scr.audit_flush() AS queue_written, scr.audit_seal() >= 0 AS sealed;
SELECT event_type, action, outcome, count(*) AS events, count(DISTINCT patient_id) AS patients,
       count(DISTINCT professional_id) AS professionals
FROM scr.audit_event GROUP BY 1, 2, 3 ORDER BY 1, 2, 3;
\echo '-- Writes by table: the whole load above, and every change since.'
SELECT object_table, action, count(*) AS events, sum(row_count) AS rows_written,
       count(DISTINCT patient_id) AS patients, count(DISTINCT caller) AS callers
FROM scr.audit_event WHERE event_type = 'write' GROUP BY 1, 2 ORDER BY 1, 2;
\echo '-- The privacy officer: what the patient of section 5 may be told about who'
\echo '-- accessed their record, the break-glass use with its reasons, the'
\echo '-- refusals (including the dissent override Dr Far was refused), and the'
\echo '-- chain, verified, with its head to publish outside the database.'
\c - demo_privacy
SELECT organisation, professional, job_role, purpose, what, outcome
FROM scr.patient_access_report(:cp);
SELECT professional, reason_code, reason_text, overrides_dissent, reads_during
FROM scr.break_glass_report WHERE patient_id = :cp;
SELECT object_table AS refused, coalesce(professional_id, '-') AS professional, outcome_reason
FROM scr.audit_event WHERE event_type = 'refused' ORDER BY audit_event_id;
SELECT verified, seals_checked, events_checked, unsealed_events FROM scr.verify_audit();
SELECT seal_id, seal_hash, events_sealed FROM scr.audit_head();
\echo '-- One event as a FHIR AuditEvent.'
SELECT jsonb_pretty(scr.audit_event_fhir(min(audit_event_id)))
FROM scr.audit_event WHERE event_type = 'break-glass-start' AND patient_id = :cp;
\c - :demo_superuser

\echo '-- Nobody can rewrite it, the owner included.'
\set ON_ERROR_STOP 0
DELETE FROM scr.audit_event WHERE patient_id = :show_patient;
\set ON_ERROR_STOP 1
\echo ''
\echo '==== 11. Care plans, End of Life and alerts ========================='
\echo '-- A patient of Canal Street known to the hospital and the council.  Dr Obi'
\echo '-- starts an End of Life plan, records the patient''s preferences and sets'
\echo '-- the council a task (docs/care_plans.md).'
SELECT min(si.patient_id) AS eol FROM scr.source_identifier si
JOIN scr.source_identifier h ON h.patient_id = si.patient_id AND h.source_code = 'acute_pas'
JOIN scr.source_identifier c ON c.patient_id = si.patient_id AND c.source_code = 'council_care'
JOIN scr.patient p ON p.patient_id = si.patient_id
WHERE si.source_code = 'gp_canal' AND p.merged_into IS NULL AND p.death_date IS NULL AND p.patient_id <> :cp \gset
SELECT local_id AS eol_hospital_id FROM scr.source_identifier
WHERE patient_id = :eol AND source_code = 'acute_pas' ORDER BY local_id LIMIT 1 \gset
SELECT scr.mint_context_token('demo', 'dr_obi', 'dr_obi.B86003', 'B86003', 'TREAT') AS t11_obi_1,
       scr.mint_context_token('demo', 'dr_obi', 'dr_obi.B86003', 'B86003', 'TREAT') AS t11_obi_2,
       scr.mint_context_token('demo', 'sw_cole', 'sw_cole.LA123', 'LA123', 'TREAT') AS t11_cole \gset
\c - demo_gateway
BEGIN;
SELECT scr.open_context(:'t11_obi_1');
SELECT scr.create_care_plan(:eol, 'end_of_life', 'Care in the last months of life',
                            key_worker => 'dr_obi', review_date => current_date + 90) AS eol_plan \gset
SELECT scr.record_end_of_life(:eol, '{"preferred_place_of_care": "home", "preferred_place_of_death": "home",
    "cpr_decision": "dnacpr", "cpr_decision_date": "2024-11-01", "cpr_documented_at": "ReSPECT form at home",
    "key_worker": "dr_obi", "prognosis_awareness": "patient_aware"}') AS eol_version;
SELECT scr.assign_task(:eol, 'Arrange a package of care at home', current_date + 2,
                       to_ods => 'LA123', care_plan_id => :eol_plan) AS eol_task \gset
COMMIT;
\echo '-- The council''s social worker takes the task on.'
BEGIN;
SELECT scr.open_context(:'t11_cole');
SELECT description, status, due_date - current_date AS due_in_days FROM scr.my_task;
SELECT scr.update_task(:eol_task, 'accepted') AS task_version;
COMMIT;
\c - :demo_superuser
\echo '-- Then the hospital admits the patient (its feed): the End of Life rule'
\echo '-- alerts the key worker and the practice (docs/alerts.md).  A client'
\echo '-- LISTENing on scr_alert is sent each alert''s id, nothing more.'
SET ROLE feed_acute_pas;
SELECT loaded FROM scr.ingest_batch('acute_pas', jsonb_build_array(jsonb_build_object('type', 'entry',
    'local_id', :'eol_hospital_id', 'entry', jsonb_build_object('kind', 'encounter', 'source_ref', 'DEMO-ADM-1',
    'source_timestamp', now(), 'status', 'in-progress', 'code', '32485007', 'display', 'Hospital admission'))));
RESET ROLE;
\c - demo_gateway
BEGIN;
SELECT scr.open_context(:'t11_obi_2');
SELECT event_type, summary, status, for_organisation FROM scr.my_alert WHERE patient_id = :eol ORDER BY for_organisation;
\echo '-- The patient summary leads with the End of Life preferences, in words.'
SELECT kind, visible, detail FROM scr.patient_summary(:eol) LIMIT 1;
\echo '-- The same preferences as FHIR, for systems that take them that way.'
SELECT e#>>'{resource,resourceType}' AS resource,
       coalesce(e#>>'{resource,code,text}', e#>>'{resource,scope,text}', e#>>'{resource,name}') AS what,
       coalesce(e#>>'{resource,valueString}', e#>>'{resource,provision,type}',
                e#>>'{resource,participant,0,member,identifier,value}') AS value
FROM jsonb_array_elements(scr.end_of_life_fhir(:eol)->'entry') e;
COMMIT;
\c - :demo_superuser
