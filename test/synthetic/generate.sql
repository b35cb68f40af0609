-- Synthetic area generator: people, the sources that know them, and the feed
-- messages each source sends, with the noise real feeds have.
--
-- Usage (psql, in a database with scr installed):
--   \set people 10000
--   \set seed 0.42
--   \i test/synthetic/generate.sql
-- Makes schema synthetic with:
--   synthetic.person   the truth: one row per real person
--   synthetic.record   each source's view of a person (local id, noisy demographics,
--                      and in column noise the noise applied)
--   synthetic.message  feed messages in load order: (source_code, seq, message jsonb)
-- and registers the area's organisations and sources in scr.  Deterministic
-- for a given seed.  NHS numbers are from the 999 test range, so the loader
-- must SET scr.allow_test_nhs_numbers = on.
--
-- Noise (per source record; GP records are clean): nicknames, typos in
-- family names (5%) and given names (3%), missing NHS numbers, transposed
-- birth day and month (2% where the day is 12 or less), a birth date with
-- the day or the year one off (1%), moved house, married surnames, given and
-- family name fields swapped (1%), case and spacing (5%: UPPER, lower, or
-- leading and doubled spaces in names, address and postcode); and traps
-- for linkage: twins (same surname, birth date and address, other given
-- name), fathers and sons sharing a name and address, and a valid NHS number
-- that belongs to someone else (0.5%: the next person's).
-- synthetic.record.noise lists what was done to each record.

\if :{?people}
\else
\set people 10000
\endif
\if :{?seed}
\else
\set seed 0.42
\endif

DROP SCHEMA IF EXISTS synthetic CASCADE;
CREATE SCHEMA synthetic;
SELECT setseed(:seed);

-- Name pools, UK names of many origins, with nicknames.
CREATE TABLE synthetic.given_name (name text, sex text, nickname text);
INSERT INTO synthetic.given_name VALUES
    ('William', 'male', 'Bill'), ('James', 'male', 'Jim'), ('Robert', 'male', 'Bob'),
    ('Thomas', 'male', 'Tom'), ('Richard', 'male', 'Dick'), ('Edward', 'male', 'Ted'),
    ('Mohammed', 'male', 'Muhammad'), ('Harjit', 'male', NULL), ('Oluwaseun', 'male', 'Seun'),
    ('Piotr', 'male', NULL), ('Daniel', 'male', 'Dan'), ('Christopher', 'male', 'Chris'),
    ('Joseph', 'male', 'Joe'), ('Anthony', 'male', 'Tony'), ('Ahmed', 'male', 'Ahmad'),
    ('Margaret', 'female', 'Peggy'), ('Elizabeth', 'female', 'Liz'), ('Catherine', 'female', 'Kate'),
    ('Susan', 'female', 'Sue'), ('Jennifer', 'female', 'Jenny'), ('Patricia', 'female', 'Pat'),
    ('Aisha', 'female', 'Ayesha'), ('Priya', 'female', NULL), ('Chiamaka', 'female', 'Amaka'),
    ('Agnieszka', 'female', 'Aga'), ('Sarah', 'female', 'Sara'), ('Rebecca', 'female', 'Becky'),
    ('Siobhan', 'female', NULL), ('Fatima', 'female', 'Fatimah'), ('Olivia', 'female', 'Liv');

CREATE TABLE synthetic.family_name (name text, weight integer);
INSERT INTO synthetic.family_name VALUES
    ('Smith', 40), ('Jones', 30), ('Taylor', 20), ('Brown', 20), ('Williams', 18),
    ('Wilson', 15), ('Johnson', 14), ('Davies', 14), ('Patel', 14), ('Khan', 12),
    ('Wright', 10), ('Thompson', 10), ('Evans', 10), ('Walker', 9), ('White', 9),
    ('Roberts', 8), ('Green', 8), ('Hall', 8), ('Singh', 8), ('Ahmed', 7),
    ('Hussain', 6), ('Nowak', 4), ('Kowalski', 3), ('Okafor', 3), ('Adeyemi', 3),
    ('O''Brien', 4), ('McDonald', 4), ('MacLeod', 2), ('Smith-Jones', 1), ('Featherstonehaugh', 1),
    ('Ng', 2), ('Chen', 3), ('Murphy', 5), ('Kelly', 5), ('Begum', 6);

CREATE TABLE synthetic.street (name text);
INSERT INTO synthetic.street VALUES ('High Street'), ('Station Road'), ('Church Lane'),
    ('Park Avenue'), ('Mill Road'), ('Victoria Street'), ('Queens Road'), ('Manor Way'),
    ('Chapel Street'), ('Grange Road'), ('Oak Close'), ('Springfield Drive');

CREATE TABLE synthetic.town (name text, outward text[]);
INSERT INTO synthetic.town VALUES
    ('Leeds', ARRAY['LS1', 'LS2', 'LS6', 'LS8', 'LS11']),
    ('Bradford', ARRAY['BD1', 'BD3', 'BD7']),
    ('Wakefield', ARRAY['WF1', 'WF2']),
    ('Harrogate', ARRAY['HG1', 'HG2']);

-- A valid NHS number from the 999 test range for person i (deterministic).
CREATE FUNCTION synthetic.nhs_number_for(i bigint) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    WITH candidates AS (
        SELECT c, (999000000 + ((i * 7919 + k) % 1000000))::bigint AS nine
        FROM generate_series(0, 20) AS k, LATERAL (SELECT k AS c) x
    ), checked AS (
        SELECT c, nine,
               (11 - (SELECT sum(substr(nine::text, d, 1)::int * (11 - d)) FROM generate_series(1, 9) d) % 11) % 11 AS check_digit
        FROM candidates
    )
    SELECT nine::text || check_digit FROM checked
    WHERE check_digit < 10 AND (nine * 10 + check_digit) % 1111111111 <> 0
    ORDER BY c LIMIT 1
$$;

-- A one-character typo: a letter changed, dropped or doubled.
CREATE FUNCTION synthetic.typo(s text, r double precision) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN length(s) < 3 THEN s
        WHEN r < 0.33 THEN overlay(s placing chr(97 + (floor(r * 1000)::int % 26)) from 2 + (floor(r * 100)::int % (length(s) - 1)) for 1)
        WHEN r < 0.66 THEN overlay(s placing '' from 2 + (floor(r * 100)::int % (length(s) - 1)) for 1)
        ELSE overlay(s placing substr(s, 2, 1) || substr(s, 2, 1) from 2 for 1)
    END
$$;

-- A uniform draw in [0, 1) from a text key: for noise that must not move
-- the random() sequence.  Keys include the seed.
CREATE FUNCTION synthetic.uniform(key text) RETURNS double precision
LANGUAGE sql IMMUTABLE AS $$
    SELECT ('x' || substr(md5(key), 1, 8))::bit(32)::bigint / 4294967296.0
$$;

-- Case and spacing noise on a name: UPPER, lower, or a leading space and a
-- doubled space inside (given name) or after it (family name).
CREATE FUNCTION synthetic.case_noise(s text, how text, is_given boolean) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE how
        WHEN 'upper_case' THEN upper(s)
        WHEN 'lower_case' THEN lower(s)
        WHEN 'spacing' THEN CASE WHEN is_given THEN ' ' || replace(s, ' ', '  ') ELSE replace(s, ' ', '  ') || '  ' END
        ELSE s
    END
$$;

-- Organisations and sources of the area.
INSERT INTO scr.organisation (ods_code, name, kind) VALUES
    ('B86001', 'Riverside Medical Practice', 'gp_practice'),
    ('B86002', 'Hillside Surgery', 'gp_practice'),
    ('B86003', 'Canal Street Health Centre', 'gp_practice'),
    ('RR8', 'County Teaching Hospitals NHS Trust', 'nhs_trust'),
    ('RY6', 'County Community Health Services NHS Trust', 'nhs_trust'),
    ('RGD', 'County Mental Health NHS Foundation Trust', 'nhs_trust'),
    ('LA123', 'County Council Adult Social Care', 'local_authority')
ON CONFLICT DO NOTHING;
INSERT INTO scr.source_system (source_code, ods_code, kind, description) VALUES
    ('gp_riverside', 'B86001', 'gp', 'Riverside Medical Practice clinical system'),
    ('gp_hillside', 'B86002', 'gp', 'Hillside Surgery clinical system'),
    ('gp_canal', 'B86003', 'gp', 'Canal Street Health Centre clinical system'),
    ('acute_pas', 'RR8', 'acute', 'Hospital PAS and EPR'),
    ('community_ehr', 'RY6', 'community', 'Community services record'),
    ('mh_ehr', 'RGD', 'mental_health', 'Mental health record'),
    ('council_care', 'LA123', 'social_care', 'Adult social care case management')
ON CONFLICT DO NOTHING;

-- The truth: people of the area.  Twins and father-son pairs share a
-- household on purpose.
CREATE TABLE synthetic.person AS
WITH base AS (
    SELECT i AS person_id, random() AS r1, random() AS r2, random() AS r3, random() AS r4,
           random() AS r5, random() AS r6
    FROM generate_series(1, :people) AS i
)
SELECT b.person_id,
       synthetic.nhs_number_for(b.person_id) AS nhs_number,
       g.name AS given_name, g.nickname, g.sex,
       f.name AS family_name,
       (date '1925-01-01' + (b.r3 * 35000)::int) AS birth_date,
       (1 + floor(b.r4 * 180))::int || ' ' || s.name AS street,
       t.name AS town,
       t.outward[1 + floor(b.r5 * array_length(t.outward, 1))::int] || ' '
           || (1 + floor(b.r6 * 9))::int   -- inward letters are never C, I, K, M, O or V
           || substr('ABDEFGHJLNPQRSTUWXYZ', 1 + (b.person_id % 20)::int, 1)
           || substr('ABDEFGHJLNPQRSTUWXYZ', 1 + ((b.person_id / 20) % 20)::int, 1) AS postcode,
       (ARRAY['gp_riverside', 'gp_hillside', 'gp_canal'])[1 + (b.person_id % 3)::int] AS gp_source,
       NULL::bigint AS household_of,
       NULL::text AS relation
FROM base b
CROSS JOIN LATERAL (SELECT * FROM synthetic.given_name ORDER BY name OFFSET floor(b.r1 * 30)::int LIMIT 1) g
CROSS JOIN LATERAL (SELECT name FROM (SELECT name, sum(weight) OVER (ORDER BY name) AS upto,
                                             sum(weight) OVER () AS total FROM synthetic.family_name) w
                    WHERE upto >= b.r2 * total ORDER BY upto LIMIT 1) f
CROSS JOIN LATERAL (SELECT name FROM synthetic.street ORDER BY name OFFSET (b.person_id % 12) LIMIT 1) s
CROSS JOIN LATERAL (SELECT * FROM synthetic.town ORDER BY name OFFSET (b.person_id % 4) LIMIT 1) t;
ALTER TABLE synthetic.person ADD PRIMARY KEY (person_id);

-- Every 200th person has a twin (the next person): same family name, birth
-- date, address and GP, another given name of the same sex.
UPDATE synthetic.person t
SET family_name = p.family_name, birth_date = p.birth_date, street = p.street, town = p.town,
    postcode = p.postcode, gp_source = p.gp_source, household_of = p.person_id, relation = 'twin',
    given_name = CASE WHEN t.given_name = p.given_name THEN t.given_name || 'a' ELSE t.given_name END
FROM synthetic.person p
WHERE t.person_id = p.person_id + 1 AND p.person_id % 200 = 0;
-- Every 200th + 100 person has a son of the same name at the same address,
-- born 25-35 years later.
UPDATE synthetic.person s
SET given_name = p.given_name, nickname = p.nickname, sex = p.sex, family_name = p.family_name,
    birth_date = least(p.birth_date + (9000 + (s.person_id % 3650))::int, date '2020-01-01'),
    street = p.street, town = p.town, postcode = p.postcode, gp_source = p.gp_source,
    household_of = p.person_id, relation = 'son'
FROM synthetic.person p
WHERE s.person_id = p.person_id + 1 AND p.person_id % 200 = 100;

-- Each source's view of each person it knows, with noise.  The noise added
-- after the first version (given-name typos, swapped name fields, case and
-- spacing, another person's NHS number, a birth date one day or year off) is
-- drawn from synthetic.uniform, not random(), so that the random() sequence,
-- and with it every source record and entry, is the same as before.
CREATE TABLE synthetic.record AS
WITH knows AS (
    SELECT p.*, src.source_code, src.kind, random() AS rn1, random() AS rn2, random() AS rn3,
           random() AS rn4, random() AS rn5, random() AS rn6
    FROM synthetic.person p
    CROSS JOIN LATERAL (VALUES (p.gp_source, 'gp', 1.0), ('acute_pas', 'acute', 0.6),
                               ('community_ehr', 'community', 0.25), ('mh_ehr', 'mental_health', 0.08),
                               ('council_care', 'social_care', 0.10)) AS src(source_code, kind, share)
    WHERE src.kind = 'gp' OR random() < src.share
), drawn AS (
    -- Draws for the later traps, per record; GP records stay clean.
    SELECT k.*,
           k.kind <> 'gp' AND synthetic.uniform(:'seed' || '/' || k.person_id || '/' || k.source_code || '/nhs') < 0.005 AS other_nhs,
           k.kind <> 'gp' AND synthetic.uniform(:'seed' || '/' || k.person_id || '/' || k.source_code || '/typo') < 0.03 AS given_typo,
           synthetic.uniform(:'seed' || '/' || k.person_id || '/' || k.source_code || '/typo-kind') AS typo_r,
           k.kind <> 'gp' AND synthetic.uniform(:'seed' || '/' || k.person_id || '/' || k.source_code || '/swap') < 0.01 AS swapped,
           CASE WHEN k.kind <> 'gp' AND synthetic.uniform(:'seed' || '/' || k.person_id || '/' || k.source_code || '/case') < 0.05
                THEN (ARRAY['upper_case', 'lower_case', 'spacing'])[1 + floor(3 * synthetic.uniform(
                         :'seed' || '/' || k.person_id || '/' || k.source_code || '/case-kind'))::int] END AS case_noise,
           k.kind <> 'gp' AND synthetic.uniform(:'seed' || '/' || k.person_id || '/' || k.source_code || '/dob') < 0.01 AS dob_off,
           synthetic.uniform(:'seed' || '/' || k.person_id || '/' || k.source_code || '/dob-kind') AS dob_r
    FROM knows k
), noisy AS (
    SELECT person_id, source_code, kind,
           upper(left(source_code, 2)) || lpad((person_id * 37 % 1000003)::text, 7, '0') AS local_id,
           -- GP records are traced against PDS; others miss or garble numbers,
           -- or carry the valid number of someone else (the next person).
           CASE WHEN kind = 'gp' THEN nhs_number
                WHEN other_nhs THEN synthetic.nhs_number_for(person_id % :people + 1)
                WHEN rn1 < CASE kind WHEN 'social_care' THEN 0.30 ELSE 0.06 END THEN NULL
                WHEN rn1 < CASE kind WHEN 'social_care' THEN 0.31 ELSE 0.07 END
                    THEN left(nhs_number, 9) || ((right(nhs_number, 1)::int + 1) % 10)   -- a mistyped digit
                ELSE nhs_number END AS nhs_number,
           nhs_number AS true_nhs_number,
           CASE WHEN kind = 'gp' THEN '01' ELSE '02' END AS nhs_number_status,
           CASE WHEN kind <> 'gp' AND nickname IS NOT NULL AND rn2 < 0.12 THEN nickname ELSE given_name END AS given0,
           given_name AS true_given_name,
           CASE WHEN kind <> 'gp' AND rn3 < 0.05 THEN synthetic.typo(family_name, rn3 * 20)
                WHEN kind <> 'gp' AND sex = 'female' AND rn3 > 0.98 THEN 'Married-' || family_name
                ELSE family_name END AS family0,
           family_name AS true_family_name,
           CASE WHEN kind <> 'gp' AND rn4 < 0.02 AND extract(day FROM birth_date) <= 12
                    THEN make_date(extract(year FROM birth_date)::int, extract(day FROM birth_date)::int,
                                   extract(month FROM birth_date)::int)
                -- One component off: the day (within its month) or the year.
                WHEN dob_off AND (dob_r < 0.5 OR (extract(month FROM birth_date) = 2 AND extract(day FROM birth_date) = 29))
                    THEN birth_date + CASE WHEN extract(day FROM birth_date) = 1 THEN 1
                                           WHEN extract(month FROM birth_date + 1) <> extract(month FROM birth_date) THEN -1
                                           WHEN dob_r < 0.25 THEN -1 ELSE 1 END
                WHEN dob_off
                    THEN make_date(extract(year FROM birth_date)::int + CASE WHEN dob_r < 0.75 THEN -1 ELSE 1 END,
                                   extract(month FROM birth_date)::int, extract(day FROM birth_date)::int)
                ELSE birth_date END AS birth_date,
           birth_date AS true_birth_date,
           sex,
           CASE WHEN kind <> 'gp' AND rn5 < 0.04 THEN 'LS9 ' || (1 + person_id % 9) || 'ZZ' ELSE postcode END AS postcode0,
           CASE WHEN kind <> 'gp' AND rn5 < 0.04 THEN '1 New Build Close, Leeds' ELSE street || ', ' || town END AS address0,
           CASE WHEN kind = 'gp' THEN (SELECT ods_code FROM scr.source_system WHERE source_code = gp_source) END AS gp_practice,
           rn6, rn5, given_typo, typo_r, swapped, case_noise
    FROM drawn
), named AS (
    SELECT n.*,
           CASE WHEN given_typo THEN synthetic.typo(given0, typo_r) ELSE given0 END AS given1
    FROM noisy n
)
SELECT person_id, source_code, kind, local_id, nhs_number, nhs_number_status,
       synthetic.case_noise(CASE WHEN swapped THEN family0 ELSE given1 END, case_noise, true) AS given_name,
       synthetic.case_noise(CASE WHEN swapped THEN given1 ELSE family0 END, case_noise, false) AS family_name,
       birth_date, sex,
       CASE case_noise WHEN 'lower_case' THEN lower(postcode0)
                       WHEN 'spacing' THEN replace(postcode0, ' ', '  ') ELSE postcode0 END AS postcode,
       CASE case_noise WHEN 'upper_case' THEN upper(address0) WHEN 'lower_case' THEN lower(address0)
                       WHEN 'spacing' THEN replace(address0, ' ', '  ') ELSE address0 END AS address,
       gp_practice, rn6,
       -- What was done to this record (empty for a clean one).
       array_remove(ARRAY[
           CASE WHEN nhs_number IS NULL THEN 'no_nhs_number'
                WHEN nhs_number <> true_nhs_number AND left(nhs_number, 9) = left(true_nhs_number, 9) THEN 'mistyped_nhs_number'
                WHEN nhs_number <> true_nhs_number THEN 'other_persons_nhs_number' END,
           CASE WHEN given0 <> true_given_name THEN 'nickname' END,
           CASE WHEN given1 <> given0 THEN 'given_name_typo' END,
           CASE WHEN family0 LIKE 'Married-%' THEN 'married_name'
                WHEN family0 <> true_family_name THEN 'family_name_typo' END,
           CASE WHEN swapped THEN 'names_swapped' END,
           case_noise,
           CASE WHEN birth_date <> true_birth_date AND extract(year FROM birth_date) = extract(year FROM true_birth_date)
                     AND extract(month FROM birth_date) = extract(day FROM true_birth_date)
                     AND extract(day FROM birth_date) = extract(month FROM true_birth_date)
                THEN 'birth_day_month_swapped'
                WHEN birth_date <> true_birth_date THEN 'birth_date_off_by_one' END,
           CASE WHEN kind <> 'gp' AND rn5 < 0.04 THEN 'moved' END], NULL) AS noise
FROM named;
COMMENT ON COLUMN synthetic.record.noise IS
    'the noise and traps applied to this record: no_nhs_number, mistyped_nhs_number, other_persons_nhs_number, nickname, given_name_typo, married_name, family_name_typo, names_swapped, upper_case, lower_case, spacing, birth_day_month_swapped, birth_date_off_by_one, moved';

-- What each kind of source sends about a person it knows: kind, code,
-- display, status, sensitivity; drawn per record.
CREATE TABLE synthetic.content (source_kind text, kind text, code text, display text,
                                status text, sensitivity text, category text, weight int);
INSERT INTO synthetic.content VALUES
    ('gp', 'problem', '44054006', 'Type 2 diabetes mellitus', 'active', 'N', NULL, 5),
    ('gp', 'problem', '38341003', 'Hypertensive disorder', 'active', 'N', NULL, 6),
    ('gp', 'problem', '195967001', 'Asthma', 'active', 'N', NULL, 4),
    ('gp', 'problem', '35489007', 'Depressive disorder', 'active', 'R', 'mental_health', 2),
    ('gp', 'medication', '376988009', 'Levothyroxine 50microgram tablets', 'active', 'N', NULL, 4),
    ('gp', 'medication', '317896006', 'Simvastatin 40mg tablets', 'active', 'N', NULL, 6),
    ('gp', 'medication', '325072002', 'Metformin 500mg tablets', 'active', 'N', NULL, 5),
    ('gp', 'medication', '318135005', 'Amlodipine 5mg tablets', 'active', 'N', NULL, 5),
    ('gp', 'allergy', '91936005', 'Allergy to penicillin', 'active', 'N', NULL, 3),
    ('gp', 'observation', '271649006', 'Systolic blood pressure', 'final', 'N', NULL, 8),
    ('gp', 'observation', '27113001', 'Body weight', 'final', 'N', NULL, 6),
    ('gp', 'observation', '43396009', 'Haemoglobin A1c level', 'final', 'N', NULL, 4),
    ('gp', 'observation', '165816005', 'HIV antibody test', 'final', 'V', 'hiv_sti', 1),
    ('gp', 'alert', '225915006', 'Lives alone', 'active', 'N', NULL, 1),
    ('acute', 'encounter', '50849002', 'Emergency department attendance', 'finished', 'N', NULL, 6),
    ('acute', 'encounter', '32485007', 'Hospital admission', 'finished', 'N', NULL, 3),
    ('acute', 'procedure', '80146002', 'Appendicectomy', 'completed', 'N', NULL, 1),
    ('acute', 'procedure', '73761001', 'Colonoscopy', 'completed', 'N', NULL, 1),
    ('acute', 'document', '373942005', 'Discharge summary', 'current', 'N', NULL, 3),
    ('acute', 'observation', '26604007', 'Full blood count', 'final', 'N', NULL, 5),
    ('acute', 'document', '371531000', 'Outpatient letter', 'current', 'N', NULL, 3),
    ('community', 'encounter', '185389009', 'District nurse visit', 'finished', 'N', NULL, 6),
    ('community', 'care_plan', '736366004', 'Long term condition care plan', 'active', 'N', NULL, 2),
    ('community', 'observation', '225338004', 'Wound assessment', 'final', 'N', NULL, 3),
    ('mental_health', 'encounter', '185389009', 'Community mental health team contact', 'finished', 'R', 'mental_health', 4),
    ('mental_health', 'problem', '58214004', 'Schizophrenia', 'active', 'R', 'mental_health', 1),
    ('mental_health', 'care_plan', '773130005', 'Mental health crisis plan', 'active', 'R', 'mental_health', 1),
    ('social_care', 'social_care_assessment', '710915002', 'Care Act needs assessment', 'completed', 'N', NULL, 3),
    ('social_care', 'care_plan', '736353004', 'Care and support plan', 'active', 'N', NULL, 2),
    ('social_care', 'alert', '225338005', 'Safeguarding concern', 'active', 'R', 'safeguarding', 1);

-- Entries per record: GP ~12, acute ~6, community ~5, mental health ~5,
-- social care ~4 (about 19 a person); plus End of Life preferences for the very old.
CREATE TABLE synthetic.entry AS
WITH counts AS (
    SELECT r.*, CASE kind WHEN 'gp' THEN 10 WHEN 'acute' THEN 4 WHEN 'community' THEN 3
                          WHEN 'mental_health' THEN 3 ELSE 2 END + floor(rn6 * 6)::int AS n
    FROM synthetic.record r
), picks AS (
    SELECT c.person_id, c.source_code, c.kind AS source_kind, c.local_id, k, random() AS pick, random() AS r2
    FROM counts c, generate_series(1, c.n) AS k
), weighted AS (
    SELECT *, sum(weight) OVER (PARTITION BY source_kind ORDER BY kind, code, display) AS upto,
              sum(weight) OVER (PARTITION BY source_kind) AS total
    FROM synthetic.content
)
SELECT p.person_id, p.source_code, p.local_id,
       p.source_code || '-' || p.local_id || '-' || p.k AS source_ref,
       w.kind, w.code, w.display, w.status, w.sensitivity, w.category,
       timestamptz '2015-01-01 00:00Z' + (p.r2 * 3500) * interval '1 day' AS effective_start
FROM picks p
CROSS JOIN LATERAL (SELECT * FROM weighted w WHERE w.source_kind = p.source_kind
                    AND w.upto >= p.pick * w.total ORDER BY w.upto LIMIT 1) w;
INSERT INTO synthetic.entry
SELECT r.person_id, r.source_code, r.local_id, r.source_code || '-' || r.local_id || '-eol',
       'end_of_life', '713058002', 'End of life care preferences', 'active', 'N', NULL,
       timestamptz '2024-06-01 00:00Z'
FROM synthetic.record r JOIN synthetic.person p USING (person_id)
WHERE r.kind = 'gp' AND p.birth_date < date '1935-01-01';

-- Feed messages in load order: each source sends its people, then their
-- entries, shaped as the feed functions take them.
CREATE TABLE synthetic.message AS
SELECT source_code, row_number() OVER (PARTITION BY source_code ORDER BY ord, local_id, sub) AS seq, message
FROM (
    SELECT source_code, 1 AS ord, local_id, '' AS sub,
           jsonb_build_object('type', 'person', 'local_id', local_id, 'demographics',
               jsonb_strip_nulls(jsonb_build_object(
                   'nhs_number', nhs_number, 'nhs_number_status', CASE WHEN nhs_number IS NOT NULL THEN nhs_number_status END,
                   'given_name', given_name, 'family_name', family_name,
                   'birth_date', to_char(birth_date, 'YYYY-MM-DD'), 'sex', sex,
                   'postcode', postcode, 'address', address, 'gp_practice', gp_practice))) AS message
    FROM synthetic.record
    UNION ALL
    SELECT source_code, 2, local_id, source_ref,
           jsonb_build_object('type', 'entry', 'local_id', local_id, 'entry',
               jsonb_strip_nulls(jsonb_build_object(
                   'kind', e.kind, 'source_ref', source_ref,
                   'source_timestamp', to_char(effective_start + interval '2 hours', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
                   'status', status, 'code_system', 'http://snomed.info/sct', 'code', code,
                   'display', display,
                   'effective_start', to_char(effective_start, 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
                   'sensitivity', sensitivity, 'sensitivity_category', category,
                   'payload', jsonb_build_object('resourceType', k.fhir_resource_type,
                       'code', jsonb_build_object('coding', jsonb_build_array(jsonb_build_object(
                           'system', 'http://snomed.info/sct', 'code', code, 'display', display))))))) 
    FROM synthetic.entry e JOIN scr.entry_kind k ON k.kind = e.kind
) m;
CREATE INDEX ON synthetic.message (source_code, seq);

SELECT (SELECT count(*) FROM synthetic.person) AS people,
       (SELECT count(*) FROM synthetic.record) AS source_records,
       (SELECT count(*) FROM synthetic.entry) AS entries,
       (SELECT count(*) FROM synthetic.message) AS messages;
