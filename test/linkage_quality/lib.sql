-- Helpers of the linkage quality program (test/linkage_quality/run), made in
-- its own throwaway database after CREATE EXTENSION scr.  Run as a superuser.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;

CREATE SCHEMA lq;

-- Every record of the data set, with its truth (entity: records with the
-- same entity are the same person) and the person message it is sent as.
CREATE TABLE lq.record (
    source_code text NOT NULL,
    local_id    text NOT NULL,
    entity      text NOT NULL,
    ord         bigint NOT NULL,     -- load order within the source
    message     jsonb NOT NULL,      -- {"type": "person", "local_id": ..., "demographics": ...}
    noise       text[],              -- synthetic area only: what was done to the record
    PRIMARY KEY (source_code, local_id)
);

-- What each source's load returned.
CREATE TABLE lq.load_result (
    source_code text PRIMARY KEY,
    loaded      bigint,
    unchanged   bigint,
    rejected    bigint,
    seconds     numeric
);

-- Register a source (and an organisation for it) and bind the current
-- login to it, the way test/synthetic/generate.sql and load.sql do.
CREATE FUNCTION lq.register_source(p_source text, p_ods text, p_name text) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO scr.organisation (ods_code, name, kind) VALUES (p_ods, p_name, 'other')
    ON CONFLICT DO NOTHING;
    INSERT INTO scr.source_system (source_code, ods_code, kind, description)
    VALUES (p_source, p_ods, 'other', p_name)
    ON CONFLICT DO NOTHING;
$$;

-- Load one source's records through scr.ingest_batch, in order, in batches.
-- A message the feed rejects is dead-lettered (scr.feed_error) and counted;
-- its record has no source_identifier row and counts as a singleton.
CREATE FUNCTION lq.load(p_source text, p_batch integer DEFAULT 500) RETURNS lq.load_result
LANGUAGE plpgsql AS $$
DECLARE
    c record;
    b record;
    res lq.load_result;
    t0 timestamptz := clock_timestamp();
BEGIN
    INSERT INTO scr.feed_binding (role_name, source_code) VALUES (current_user, p_source)
    ON CONFLICT DO NOTHING;
    res := ROW(p_source, 0, 0, 0, 0);
    FOR c IN SELECT (rn - 1) / p_batch AS chunk, jsonb_agg(message ORDER BY rn) AS messages
             FROM (SELECT message, row_number() OVER (ORDER BY ord, local_id) AS rn
                   FROM lq.record WHERE source_code = p_source) r
             GROUP BY 1 ORDER BY 1 LOOP
        b := scr.ingest_batch(p_source, c.messages);
        res.loaded := res.loaded + b.loaded;
        res.unchanged := res.unchanged + b.unchanged;
        res.rejected := res.rejected + b.rejected;
    END LOOP;
    res.seconds := round(extract(epoch FROM clock_timestamp() - t0)::numeric, 1);
    INSERT INTO lq.load_result SELECT res.*
    ON CONFLICT (source_code) DO UPDATE SET loaded = excluded.loaded, unchanged = excluded.unchanged,
        rejected = excluded.rejected, seconds = excluded.seconds;
    RETURN res;
END
$$;

-- Pairwise counts for a clustering against the truth, without enumerating
-- pairs: a cluster of n records holds n(n-1)/2 pairs.
--   true_pairs       pairs of records of the same entity
--   predicted_pairs  pairs of records in the same predicted cluster
--   both_pairs       pairs in the same entity and the same predicted cluster
CREATE FUNCTION lq.pair_counts(entity text[], predicted text[],
                               OUT records bigint, OUT true_pairs numeric,
                               OUT predicted_pairs numeric, OUT both_pairs numeric)
LANGUAGE sql IMMUTABLE AS $$
    WITH r AS (SELECT * FROM unnest(entity, predicted) AS u(e, p))
    SELECT (SELECT count(*) FROM r),
           (SELECT coalesce(sum(n * (n - 1) / 2), 0) FROM (SELECT count(*)::numeric AS n FROM r GROUP BY e) x),
           (SELECT coalesce(sum(n * (n - 1) / 2), 0) FROM (SELECT count(*)::numeric AS n FROM r GROUP BY p) x),
           (SELECT coalesce(sum(n * (n - 1) / 2), 0) FROM (SELECT count(*)::numeric AS n FROM r GROUP BY e, p) x)
$$;

-- Open rows in the link review queue, or NULL when there is no queue yet.
CREATE FUNCTION lq.review_open() RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    n bigint;
BEGIN
    IF to_regclass('scr.link_review') IS NULL THEN
        RETURN NULL;
    END IF;
    EXECUTE 'SELECT count(*) FROM scr.link_review WHERE status = ''open''' INTO n;
    RETURN n;
EXCEPTION WHEN undefined_column THEN
    RETURN NULL;
END
$$;

-- Each record's predicted cluster: by the linker (the patient its
-- source_identifier row belongs to now), or by the NHS number baseline
-- (records sending one valid NHS number).  A record with no row (rejected),
-- or without a valid number for the baseline, is a cluster of its own.
CREATE FUNCTION lq.predicted(p_method text)
RETURNS TABLE (source_code text, local_id text, entity text, predicted text)
LANGUAGE sql STABLE AS $$
    SELECT r.source_code, r.local_id, r.entity,
           CASE p_method
               WHEN 'linker' THEN 'p' || scr.current_patient_id(si.patient_id)
               WHEN 'nhs_number' THEN 'n' || si.nhs_number::text
           END      -- NULL: a singleton (lq.result gives it a cluster of its own)
    FROM lq.record r LEFT JOIN scr.source_identifier si USING (source_code, local_id)
$$;

-- One result line, '|'-separated, for the run script:
-- RESULT|label|precision|recall|f1|records|true pairs|predicted pairs|review queue|rejected
CREATE FUNCTION lq.result(p_label text, p_method text) RETURNS text
LANGUAGE sql STABLE AS $$
    WITH c AS (
        SELECT (lq.pair_counts(array_agg(entity), array_agg(coalesce(predicted, 's:' || source_code || '/' || local_id)))).*
        FROM lq.predicted(p_method)
    )
    SELECT concat_ws('|', 'RESULT', p_label,
        to_char(CASE WHEN predicted_pairs = 0 THEN 1 ELSE both_pairs / predicted_pairs END, 'FM0.0000'),
        to_char(CASE WHEN true_pairs = 0 THEN 1 ELSE both_pairs / true_pairs END, 'FM0.0000'),
        to_char(CASE WHEN both_pairs = 0 THEN 0
                     ELSE 2 * both_pairs / (predicted_pairs + true_pairs) END, 'FM0.0000'),
        records, true_pairs::bigint, predicted_pairs::bigint,
        coalesce(lq.review_open()::text, 'n/a'),
        (SELECT coalesce(sum(rejected), 0) FROM lq.load_result))
    FROM c
$$;

-- Load every source of lq.record, GP sources first (as test/synthetic/load.sql
-- does), then the others by name.
CREATE FUNCTION lq.load_all(p_batch integer DEFAULT 500) RETURNS SETOF lq.load_result
LANGUAGE plpgsql AS $$
DECLARE
    s record;
BEGIN
    FOR s IN SELECT DISTINCT r.source_code, ss.kind = 'gp' AS gp
             FROM lq.record r JOIN scr.source_system ss USING (source_code)
             ORDER BY 2 DESC, 1 LOOP
        RETURN NEXT lq.load(s.source_code, p_batch);
    END LOOP;
END
$$;

-- The feed's reasons for rejecting records, for the report.
CREATE FUNCTION lq.rejections() RETURNS SETOF text
LANGUAGE sql STABLE AS $$
    SELECT 'INFO|rejected: ' || sqlstate || ' ' || error || '|' || count(*)
    FROM scr.feed_error GROUP BY sqlstate, error ORDER BY count(*) DESC, error LIMIT 10
$$;
