-- scr.nhs_number: input forms, every refusal reason, output, casts,
-- operators and helpers.
-- scr's operators live in schema scr: put it on the search path, as a
-- database using scr would (docs/install.md).
SET search_path = public, scr;
\set VERBOSITY default

-- Accepted spellings all give the canonical ten digits.
SELECT '9434765919'::scr.nhs_number AS plain,
       '943 476 5919'::scr.nhs_number AS spaced,
       '943-476-5919'::scr.nhs_number AS hyphenated,
       '  943 476 5919  '::scr.nhs_number AS padded;
-- Leading zeros are kept (Scottish CHI numbers start with 0).
SELECT '0101010001'::scr.nhs_number AS chi_style;

-- One refusal per reason: each is 22P02, names the value and says why.
\set ON_ERROR_STOP 0
SELECT ''::scr.nhs_number;                -- empty
SELECT '   '::scr.nhs_number;             -- only spaces
SELECT '943476591'::scr.nhs_number;       -- 9 digits
SELECT '94347659190'::scr.nhs_number;     -- 11 digits
SELECT '94347659l9'::scr.nhs_number;      -- a letter
SELECT '943.476.5919'::scr.nhs_number;    -- another separator
SELECT '+9434765919'::scr.nhs_number;     -- a sign
SELECT E'9434765919\t'::scr.nhs_number;   -- a tab is not a space
SELECT '９４３４７６５９１９'::scr.nhs_number;  -- Unicode fullwidth digits
SELECT '943 476-5919'::scr.nhs_number;    -- mixed separators
SELECT '943 476 591 9'::scr.nhs_number;   -- bad grouping
SELECT '9434 76 5919'::scr.nhs_number;    -- bad grouping
SELECT '943  476 5919'::scr.nhs_number;   -- doubled separator
SELECT '9434765918'::scr.nhs_number;      -- check digit mismatch
SELECT '4010232170'::scr.nhs_number;      -- remainder 10
SELECT '0000000000'::scr.nhs_number;      -- placeholder
SELECT '9999999999'::scr.nhs_number;      -- placeholder

-- The SQLSTATE is 22P02 for every one of them.
DO $$
DECLARE
    v text;
BEGIN
    FOREACH v IN ARRAY ARRAY['', '943476591', '94347659l9', '943 476-5919',
                             '943 476 591 9', '9434765918', '4010232170', '1111111111']
    LOOP
        BEGIN
            PERFORM v::scr.nhs_number;
            RAISE NOTICE '% accepted', quote_literal(v);
        EXCEPTION WHEN invalid_text_representation THEN
            NULL;
        END;
    END LOOP;
    RAISE NOTICE 'all refused with 22P02';
END $$;
\set ON_ERROR_STOP 1

-- Explaining without raising.
SELECT v AS input, scr.is_valid_nhs_number(v) AS valid, scr.nhs_number_problem(v) AS problem
FROM (VALUES ('9434765919'), ('943 476 5919'), (''), ('123'), ('94347659l9'),
             ('943 476-5919'), ('943 476 591 9'), ('9434765918'), ('4010232170'),
             ('5555555555'), ('９４３４７６５９１９')) AS t(v)
ORDER BY length(v), v;
-- A very long value is refused on its length, without raising.
SELECT scr.nhs_number_problem(repeat('9', 100000));
SELECT scr.nhs_number_problem(NULL) IS NULL AS null_in_null_out,
       scr.is_valid_nhs_number(NULL) IS NULL AS null_in_null_out_too;

-- Display: NHS 3-3-4.
SELECT scr.nhs_number_display('9434765919');
SELECT scr.nhs_number_display('0101010001');

-- Casts: text both ways, bigint both ways (from bigint validates).
SELECT '9434765919'::scr.nhs_number::text AS to_text,
       '9434765919'::text::scr.nhs_number AS from_text,
       '9434765919'::scr.nhs_number::bigint AS to_bigint,
       9434765919::bigint::scr.nhs_number AS from_bigint,
       101010001::bigint::scr.nhs_number AS leading_zero;
\set ON_ERROR_STOP 0
SELECT 9434765918::bigint::scr.nhs_number;   -- check digit
SELECT 4444444444::bigint::scr.nhs_number;   -- placeholder
SELECT (-1)::bigint::scr.nhs_number;         -- out of range
SELECT 10000000000::bigint::scr.nhs_number;  -- out of range
\set ON_ERROR_STOP 1

-- Operators.
SELECT a, b, a = b AS eq, a <> b AS ne, a < b AS lt, a <= b AS le, a > b AS gt, a >= b AS ge
FROM (VALUES ('9434765919'::scr.nhs_number, '943 476 5919'::scr.nhs_number),
             ('4010232137', '9434765919'),
             ('9876543210', '4010232137')) AS t(a, b);

-- Without scr on the search path the operators are reached by name.
SET search_path = public;
SELECT '9434765919'::scr.nhs_number OPERATOR(scr.=) '943-476-5919'::scr.nhs_number AS qualified_eq;
SET search_path = public, scr;

-- Issuing ranges (guidance only).
SELECT n, scr.nhs_number_range(n::scr.nhs_number)
FROM (VALUES ('0101010001'), ('3200000015'), ('4010232137'), ('6000000006'),
             ('9434765919'), ('9990000018'), ('3120000000'), ('8000000008'), ('5000000005'), ('0000000116')) AS t(n)
ORDER BY n;

-- Random numbers are valid and land in the range asked for.
SELECT count(*) AS numbers,
       count(*) FILTER (WHERE scr.nhs_number_range(n) = 'test') AS in_test_range,
       count(DISTINCT n) > 990 AS mostly_distinct
FROM (SELECT scr.random_nhs_number() AS n FROM generate_series(1, 1000)) s;
SELECT count(*) FILTER (WHERE scr.nhs_number_range(n) = 'england_wales_iom') AS england_wales_iom,
       count(*) FILTER (WHERE scr.is_valid_nhs_number(n::text)) AS valid
FROM (SELECT scr.random_nhs_number(false) AS n FROM generate_series(1, 1000)) s;

-- Binary send/receive: an int8 on the wire, checked on the way in.
SELECT scr.nhs_number_send('9434765919');
SELECT current_setting('data_directory') || '/scr_nhs_bin.copy' AS copyfile \gset
CREATE TABLE nhs_bin (n scr.nhs_number);
INSERT INTO nhs_bin VALUES ('9434765919'), ('0101010001'), (NULL);
COPY nhs_bin TO :'copyfile' (FORMAT binary);
CREATE TABLE nhs_bin_back (n scr.nhs_number);
COPY nhs_bin_back FROM :'copyfile' (FORMAT binary);
SELECT n FROM nhs_bin_back ORDER BY n NULLS LAST;
-- An invalid number in the same binary shape is refused.
CREATE TABLE bigint_bin (n bigint);
INSERT INTO bigint_bin VALUES (9434765918);
COPY bigint_bin TO :'copyfile' (FORMAT binary);
\set ON_ERROR_STOP 0
COPY nhs_bin_back FROM :'copyfile' (FORMAT binary);
\set ON_ERROR_STOP 1
-- Text COPY round trip; spaced input is stored canonically.
CREATE TABLE nhs_text (n scr.nhs_number);
COPY nhs_text FROM stdin;
943 476 5919
943-476-5919
\N
\.
COPY nhs_text TO stdout;

-- Markings are true: comparison and hash functions LEAKPROOF, all immutable
-- except random_nhs_number.
SELECT p.proname, p.provolatile, p.proleakproof, p.proisstrict, p.proparallel
FROM pg_proc p
WHERE p.pronamespace = 'scr'::regnamespace
  AND (p.proname LIKE 'nhs_number%' OR p.proname IN ('is_valid_nhs_number', 'random_nhs_number'))
ORDER BY p.proname, p.pronargs;

DROP TABLE nhs_bin, nhs_bin_back, bigint_bin, nhs_text;
