-- Indexes, sorting and joins on scr.nhs_number, including under row-level
-- security (the comparison operators are LEAKPROOF).
-- scr's operators live in schema scr: put it on the search path, as a
-- database using scr would (docs/install.md).
SET search_path = public, scr;
CREATE TABLE people (id integer PRIMARY KEY, nhs scr.nhs_number NOT NULL);
INSERT INTO people
SELECT i, (n * 10 + scr_check)::bigint::scr.nhs_number
FROM generate_series(1, 2000) AS i,
     LATERAL (SELECT 400000000::bigint + i * 7919 AS n) AS base,
     LATERAL (SELECT (11 - (sum(substr(n::text, k, 1)::int * (11 - k)) % 11)) % 11 AS scr_check
              FROM generate_series(1, 9) AS k) AS c
WHERE scr_check < 10;
SELECT count(*) > 1500 AS enough_rows FROM people;
CREATE INDEX people_nhs_btree ON people (nhs);
ANALYZE people;

SET enable_seqscan = off;
SET enable_bitmapscan = off;
-- btree equality and range
EXPLAIN (COSTS OFF) SELECT id FROM people WHERE nhs = '400 007 9190';
SELECT id FROM people WHERE nhs = '400 007 9190';
EXPLAIN (COSTS OFF) SELECT id FROM people WHERE nhs BETWEEN '4000079190' AND '4000237578';
SELECT count(*) FROM people WHERE nhs BETWEEN '4000079190' AND '4000237578';
-- hash equality
CREATE INDEX people_nhs_hash ON people USING hash (nhs);
DROP INDEX people_nhs_btree;
EXPLAIN (COSTS OFF) SELECT id FROM people WHERE nhs = '4000079190';
SELECT id FROM people WHERE nhs = '4000079190';
CREATE INDEX people_nhs_btree ON people (nhs);
RESET enable_seqscan;
RESET enable_bitmapscan;

-- Sorting agrees with the bigint order.
SELECT count(*) AS out_of_order
FROM (SELECT nhs, lag(nhs) OVER (ORDER BY nhs) AS prev FROM people) s
WHERE prev::bigint >= nhs::bigint;
SELECT nhs FROM people ORDER BY nhs DESC LIMIT 3;

-- Hash join and merge join give the same answer.
CREATE TABLE visits (nhs scr.nhs_number);
INSERT INTO visits SELECT nhs FROM people WHERE id % 3 = 0;
ANALYZE visits;
SET enable_mergejoin = off; SET enable_nestloop = off;
EXPLAIN (COSTS OFF) SELECT count(*) FROM people p JOIN visits v ON p.nhs = v.nhs;
SELECT count(*) FROM people p JOIN visits v ON p.nhs = v.nhs;
RESET enable_mergejoin; SET enable_hashjoin = off;
EXPLAIN (COSTS OFF) SELECT count(*) FROM people p JOIN visits v ON p.nhs = v.nhs;
SELECT count(*) FROM people p JOIN visits v ON p.nhs = v.nhs;
RESET enable_hashjoin; RESET enable_nestloop;
-- Hash aggregation and DISTINCT.
SELECT count(DISTINCT nhs) = count(*) AS all_distinct FROM people;

-- A unique index treats every spelling of one number as the same value.
CREATE UNIQUE INDEX people_nhs_unique ON people (nhs);
\set ON_ERROR_STOP 0
INSERT INTO people VALUES (100000, '400-007-9190');
\set ON_ERROR_STOP 1

-- Under row-level security a non-owner's lookup still uses the index.
CREATE ROLE scr_test_reader;
GRANT USAGE ON SCHEMA scr TO scr_test_reader;
GRANT SELECT ON people TO scr_test_reader;
ALTER TABLE people ENABLE ROW LEVEL SECURITY;
CREATE POLICY even_only ON people FOR SELECT USING (id % 2 = 0);
SET ROLE scr_test_reader;
SET enable_seqscan = off; SET enable_bitmapscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM people WHERE nhs = '4000158384';
SELECT id FROM people WHERE nhs = '4000158384';   -- even id: visible
SELECT id FROM people WHERE nhs = '4000237578';   -- odd id: hidden
RESET enable_seqscan; RESET enable_bitmapscan;
RESET ROLE;
REVOKE USAGE ON SCHEMA scr FROM scr_test_reader;
DROP TABLE people, visits;
DROP ROLE scr_test_reader;
