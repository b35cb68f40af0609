-- scr demo: what the extension does so far.
-- (Run by `make demo` against a throwaway cluster; every result is real.)

\pset footer off
\set VERBOSITY default

-- 1. NHS numbers are a type.  Every spelling the NHS uses is accepted and
--    stored as ten canonical digits; the display form is 3-3-4.
SELECT '943 476 5919'::scr.nhs_number AS stored,
       scr.nhs_number_display('9434765919') AS displayed,
       scr.nhs_number_range('9434765919') AS issuing_range;

-- 2. A wrong number is refused with SQLSTATE 22P02 and the reason.
\set ON_ERROR_STOP 0
SELECT '943 476 5918'::scr.nhs_number;
SELECT '1111111111'::scr.nhs_number;
\set ON_ERROR_STOP 1

-- 3. A feed's column of raw numbers can be screened without raising.
SELECT raw, scr.is_valid_nhs_number(raw) AS ok, scr.nhs_number_problem(raw) AS problem
FROM (VALUES ('9434765919'), ('943-476-5919'), ('943 476-5919'),
             ('94347659'), ('4010232170'), ('0000000000')) AS feed(raw);

-- 4. Synthetic patients get valid numbers from the 999 test range.
CREATE TABLE demo_patient (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    nhs_number scr.nhs_number NOT NULL UNIQUE
);
INSERT INTO demo_patient (nhs_number)
SELECT DISTINCT scr.random_nhs_number() FROM generate_series(1, 100000);
SELECT count(*) AS patients,
       count(*) FILTER (WHERE scr.nhs_number_range(nhs_number) = 'test') AS in_test_range
FROM demo_patient;

-- 5. Lookups by any spelling use the index.
SELECT nhs_number AS wanted FROM demo_patient ORDER BY id LIMIT 1 \gset
SELECT scr.nhs_number_display(:'wanted') AS ask_for \gset
EXPLAIN (COSTS OFF) SELECT id FROM demo_patient WHERE nhs_number = :'ask_for';
SELECT id, nhs_number FROM demo_patient WHERE nhs_number = :'ask_for';

-- 6. A duplicate spelled differently is still a duplicate.
\set ON_ERROR_STOP 0
INSERT INTO demo_patient (nhs_number) VALUES (:'ask_for');
\set ON_ERROR_STOP 1

DROP TABLE demo_patient;
