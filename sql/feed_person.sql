-- scr.ingest_person: validation, linking on NHS number and birth date, the
-- golden record and its survivorship, NHS number history, and refusals.
SET search_path = public, scr;
SET datestyle = ISO;
\set SHOW_CONTEXT never

-- The 999 test range is refused unless a superuser allows it.
SET ROLE regress_feed_gp;
SELECT scr.ingest_person('gp_riverside', 'G1',
    '{"nhs_number": "999 000 0018", "birth_date": "1950-02-03"}');
-- ...and a feed login cannot allow it itself.
SET scr.allow_test_nhs_numbers = on;
RESET ROLE;
SET scr.allow_test_nhs_numbers = on;

-- A person from the GP, then the same person from the hospital: the valid
-- NHS number and the same birth date link them to one patient.
SET ROLE regress_feed_gp;
SELECT scr.ingest_person('gp_riverside', 'G1', '{
    "nhs_number": "943 476 5919", "nhs_number_status": "01",
    "given_name": "Anne", "family_name": "Smith", "birth_date": "1950-02-03",
    "sex": "female", "postcode": "ls1  4ab", "address": ["1 High Street", "Leeds"],
    "gp_practice": "a81001"}') AS anne;
SET ROLE regress_feed_acute;
SELECT scr.ingest_person('acute_pas', 'H1', '{
    "nhs_number": "9434765919", "given_name": "Annie", "family_name": "Smith",
    "birth_date": "1950-02-03", "sex": "female", "postcode": "LS2 9XX",
    "address": "2 New Road, Leeds"}') AS anne_again;
RESET ROLE;
SELECT source_code, local_id, patient_id, link_method FROM scr.source_identifier ORDER BY 1, 2;
-- Survivorship: names and birth date from the GP (lowest trust rank),
-- address and postcode from the most recent sender.
SELECT patient_id, nhs_number, nhs_number_status, given_name, family_name, birth_date, sex,
       postcode, address, gp_practice
FROM scr.patient ORDER BY patient_id;

-- Same NHS number, another birth date: not linked (a new patient).
SET ROLE regress_feed_acute;
SELECT scr.ingest_person('acute_pas', 'H2',
    '{"nhs_number": "9434765919", "given_name": "Anne", "family_name": "Smith", "birth_date": "1951-02-03"}') AS other_patient;
-- No NHS number: a new patient.
SELECT scr.ingest_person('acute_pas', 'H3',
    '{"given_name": "Bob", "family_name": "Jones", "birth_date": "1960-05-06"}') AS bob;
-- An invalid NHS number is kept as received and flagged, never used to link:
-- this record links to Anne by its names and birth date alone (the 1951
-- Anne with her number stays a question for linkage review).
SELECT scr.ingest_person('acute_pas', 'H4',
    '{"nhs_number": "943 476 5918", "given_name": "Anne", "family_name": "Smith", "birth_date": "1950-02-03"}') AS by_demographics;
RESET ROLE;
SELECT local_id, patient_id, link_method, nhs_number, nhs_number_received, nhs_number_problem
FROM scr.source_identifier WHERE source_code = 'acute_pas' ORDER BY local_id;

-- Resending updates the source's demographics and the golden record.
SET ROLE regress_feed_acute;
SELECT scr.ingest_person('acute_pas', 'H3',
    '{"given_name": "Robert", "family_name": "Jones", "birth_date": "1960-05-06", "death_date": "2024-03-01"}') AS bob_again;
RESET ROLE;
SELECT given_name, death_date FROM scr.patient WHERE patient_id = 3;

-- A re-issued NHS number (e.g. after adoption) keeps the old one in history.
SET ROLE regress_feed_gp;
SELECT scr.ingest_person('gp_riverside', 'G1', '{
    "nhs_number": "401 023 2137", "nhs_number_status": "01", "given_name": "Anne",
    "family_name": "Smith", "birth_date": "1950-02-03", "sex": "female"}') AS anne;
RESET ROLE;
SELECT nhs_number, nhs_number_status FROM scr.patient WHERE patient_id = 1;
SELECT nhs_number, status, source_code FROM scr.patient_nhs_number WHERE patient_id = 1 ORDER BY nhs_number;

-- Refusals: each with its SQLSTATE, and nothing written.
SET ROLE regress_feed_gp;
SELECT refused(q) FROM (VALUES
    ($q$SELECT scr.ingest_person('acute_pas', 'X', '{}')$q$),
    ($q$SELECT scr.ingest_person('no_such_source', 'X', '{}')$q$),
    ($q$SELECT scr.ingest_person(NULL, 'X', '{}')$q$),
    ($q$SELECT scr.ingest_person('gp_riverside', NULL, '{}')$q$),
    ($q$SELECT scr.ingest_person('gp_riverside', '  ', '{}')$q$),
    ($q$SELECT scr.ingest_person('gp_riverside', 'X', NULL)$q$),
    ($q$SELECT scr.ingest_person('gp_riverside', 'X', '[1, 2]')$q$),
    ($q$SELECT scr.ingest_person('gp_riverside', 'X', '{"dob": "1950-01-01"}')$q$),
    ($q$SELECT scr.ingest_person('gp_riverside', 'X', '{"birth_date": 19500101}')$q$),
    ($q$SELECT scr.ingest_person('gp_riverside', 'X', '{"birth_date": "01/02/1950"}')$q$),
    ($q$SELECT scr.ingest_person('gp_riverside', 'X', '{"birth_date": "1950-02-30"}')$q$),
    ($q$SELECT scr.ingest_person('gp_riverside', 'X', '{"birth_date": "0000-01-01"}')$q$),
    ($q$SELECT scr.ingest_person('gp_riverside', 'X', '{"birth_date": "2999-01-01"}')$q$),
    ($q$SELECT scr.ingest_person('gp_riverside', 'X', '{"birth_date": "10000-01-01"}')$q$),
    ($q$SELECT scr.ingest_person('gp_riverside', 'X', '{"birth_date": "1950-01-01", "death_date": "1949-01-01"}')$q$),
    ($q$SELECT scr.ingest_person('gp_riverside', 'X', '{"sex": "F"}')$q$),
    ($q$SELECT scr.ingest_person('gp_riverside', 'X', '{"nhs_number_status": "09"}')$q$),
    ($q$SELECT scr.ingest_person('gp_riverside', 'X', '{"gp_practice": "A.1"}')$q$),
    ($q$SELECT scr.ingest_person('gp_riverside', 'X', '{"address": ["1 High St", 7]}')$q$),
    ($q$SELECT scr.ingest_person('gp_riverside', 'X', json_build_object('given_name', repeat('x', 201))::jsonb)$q$),
    ($q$SELECT scr.ingest_person('gp_riverside', repeat('x', 129), '{}')$q$)
) AS t(q);
RESET ROLE;
SET scr.max_message_size = '1kB';
SET ROLE regress_feed_gp;
SELECT refused($q$SELECT scr.ingest_person('gp_riverside', 'X', json_build_object('address', repeat('x ', 2000))::jsonb)$q$);
RESET ROLE;
RESET scr.max_message_size;
\set ON_ERROR_STOP 0
-- An inactive source is refused.
UPDATE scr.source_system SET active = false WHERE source_code = 'gp_riverside';
SET ROLE regress_feed_gp;
SELECT scr.ingest_person('gp_riverside', 'X', '{}');
RESET ROLE;
UPDATE scr.source_system SET active = true WHERE source_code = 'gp_riverside';
-- A role outside scr_feed cannot call the feed functions at all.
SET ROLE regress_nobody;
SELECT scr.ingest_person('gp_riverside', 'X', '{}');
RESET ROLE;
\set ON_ERROR_STOP 1
SELECT count(*) AS people_with_local_id_x FROM scr.source_identifier WHERE local_id = 'X';

-- Quotes, semicolons and dollar quotes in values are stored as data.
SET ROLE regress_feed_gp;
SELECT scr.ingest_person('gp_riverside', 'Q''; DROP TABLE scr.patient; --',
    '{"given_name": "O''Brien $$; DELETE FROM scr.entry; --", "family_name": "Robert''); DROP TABLE x;--"}') AS injected;
RESET ROLE;
SELECT local_id, given_name, family_name FROM scr.source_identifier WHERE local_id LIKE 'Q%';
SELECT count(*) AS patients_table_still_there FROM scr.patient;
