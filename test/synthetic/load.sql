-- Load the synthetic area (made by generate.sql) through the feed functions:
-- one feed login per source, bound to its source, sending batches of
-- :batch_size messages.  Prints what each source's batches returned.
\if :{?batch_size}
\else
\set batch_size 1000
\endif

SET scr.allow_test_nhs_numbers = on;
DO $$
DECLARE
    s record;
BEGIN
    FOR s IN SELECT source_code FROM scr.source_system
             WHERE source_code IN (SELECT DISTINCT source_code FROM synthetic.message) LOOP
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'feed_' || s.source_code) THEN
            EXECUTE format('CREATE ROLE %I LOGIN IN ROLE scr_feed', 'feed_' || s.source_code);
        END IF;
        EXECUTE format('GRANT USAGE ON SCHEMA synthetic TO %I', 'feed_' || s.source_code);
        EXECUTE format('GRANT SELECT ON synthetic.message TO %I', 'feed_' || s.source_code);
        INSERT INTO scr.feed_binding VALUES ('feed_' || s.source_code, s.source_code)
        ON CONFLICT DO NOTHING;
    END LOOP;
END $$;

-- One statement per source, as that source's feed login.
SELECT format($f$SET ROLE %I;
SELECT %L AS source, sum(b.loaded) AS loaded, sum(b.unchanged) AS unchanged, sum(b.rejected) AS rejected
FROM (SELECT (seq - 1) / %s AS chunk, jsonb_agg(message ORDER BY seq) AS messages
      FROM synthetic.message WHERE source_code = %L GROUP BY 1 ORDER BY 1) c
CROSS JOIN LATERAL scr.ingest_batch(%L, c.messages) b;
RESET ROLE;$f$, 'feed_' || source_code, source_code, :batch_size, source_code, source_code)
FROM (SELECT DISTINCT source_code FROM synthetic.message) s
ORDER BY source_code LIKE 'gp%' DESC, source_code
\gexec
