-- Read one FEBRL data set (the CSV on standard input) into lq.record as the
-- person messages of source :source.  Usage (after lib.sql):
--   psql -v source=febrl_1 -f febrl.sql < dataset1.csv
-- Columns: rec_id, given_name, surname, street_number, address_1,
-- address_2, suburb, postcode, state, date_of_birth (YYYYMMDD), soc_sec_id;
-- values separated by ', ', blanks missing.  Truth: rec-N-org and
-- rec-N-dup-K are person N.  soc_sec_id is not sent (it is no NHS number).
\set ON_ERROR_STOP 1
SET client_min_messages = warning;

CREATE TEMP TABLE febrl_line (n bigint GENERATED ALWAYS AS IDENTITY, line text);
\copy febrl_line (line) FROM pstdin WITH (FORMAT text, DELIMITER E'\x01')
DELETE FROM febrl_line WHERE line LIKE 'rec_id,%';

-- YYYYMMDD as an ISO date, or NULL when it is not a real date between 1850
-- and today (what the feed accepts).
CREATE FUNCTION pg_temp.iso_date(t text) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    y int;
    m int;
    d int;
    v date;
BEGIN
    IF t IS NULL OR t !~ '^\d{8}$' THEN
        RETURN NULL;
    END IF;
    y := substr(t, 1, 4)::int;
    m := substr(t, 5, 2)::int;
    d := substr(t, 7, 2)::int;
    IF y < 1850 OR m NOT BETWEEN 1 AND 12 OR d NOT BETWEEN 1 AND 31 THEN
        RETURN NULL;
    END IF;
    v := make_date(y, m, 1) + (d - 1);
    IF extract(month FROM v) <> m OR v > current_date THEN
        RETURN NULL;
    END IF;
    RETURN to_char(v, 'YYYY-MM-DD');
END
$$;

CREATE TEMP TABLE febrl AS
SELECT n, f[1] AS rec_id, f[2] AS given_name, f[3] AS surname, f[4] AS street_number,
       f[5] AS address_1, f[6] AS address_2, f[7] AS suburb, f[8] AS postcode, f[9] AS state,
       f[10] AS date_of_birth, cardinality(f) AS fields
FROM (SELECT n, ARRAY(SELECT nullif(btrim(v), '') FROM unnest(string_to_array(line, ',')) WITH ORDINALITY AS u(v, i)
                      ORDER BY i) AS f
      FROM febrl_line) s;

DO $$
BEGIN
    IF EXISTS (SELECT FROM febrl WHERE fields <> 11 OR rec_id !~ '^rec-\d+-(org|dup-\d+)$') THEN
        RAISE EXCEPTION 'FEBRL file: % lines without 11 fields or a rec-N-org / rec-N-dup-K id',
            (SELECT count(*) FROM febrl WHERE fields <> 11 OR rec_id !~ '^rec-\d+-(org|dup-\d+)$');
    END IF;
END $$;

SELECT lq.register_source(:'source', upper(replace(:'source', '_', '')), 'FEBRL test data ' || :'source');

INSERT INTO lq.record (source_code, local_id, entity, ord, message)
SELECT :'source', rec_id, substring(rec_id FROM '^rec-(\d+)-'), n,
       jsonb_build_object('type', 'person', 'local_id', rec_id, 'demographics',
           jsonb_strip_nulls(jsonb_build_object(
               'given_name', given_name,
               'family_name', surname,
               'birth_date', pg_temp.iso_date(date_of_birth),
               'address', nullif(concat_ws(', ', street_number, address_1, address_2, suburb, state), ''),
               'postcode', postcode)))
FROM febrl;

-- For the report: birth dates present but not sent.
SELECT format('INFO|birth dates: %s blank, %s not a real date (not sent)',
              count(*) FILTER (WHERE date_of_birth IS NULL),
              count(*) FILTER (WHERE date_of_birth IS NOT NULL AND pg_temp.iso_date(date_of_birth) IS NULL))
FROM febrl;
