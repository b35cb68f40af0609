-- The synthetic area's person messages as lq.record (after lib.sql and
-- test/synthetic/generate.sql in the same database).  Truth: person_id.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;

INSERT INTO lq.record (source_code, local_id, entity, ord, message, noise)
SELECT m.source_code, m.message ->> 'local_id', r.person_id::text, m.seq, m.message, r.noise
FROM synthetic.message m
JOIN synthetic.record r ON r.source_code = m.source_code AND r.local_id = m.message ->> 'local_id'
WHERE m.message ->> 'type' = 'person';

DO $$
BEGIN
    IF (SELECT count(*) FROM lq.record) <> (SELECT count(*) FROM synthetic.record) THEN
        RAISE EXCEPTION 'synthetic area: % person messages for % source records',
            (SELECT count(*) FROM lq.record), (SELECT count(*) FROM synthetic.record);
    END IF;
END $$;

-- Where the linker goes wrong, by the noise on the record: how many records
-- with each kind of noise are not on their person's GP record's patient
-- (split), and how many are on a patient holding another person too (mixed).
CREATE FUNCTION lq.uk_diagnostics() RETURNS SETOF text
LANGUAGE sql STABLE AS $$
    WITH p AS (
        SELECT l.*, r.noise, ss.kind,
               coalesce(l.predicted, 's:' || l.source_code || '/' || l.local_id) AS cluster
        FROM lq.predicted('linker') l
        JOIN lq.record r USING (source_code, local_id)
        JOIN scr.source_system ss USING (source_code)
    ), gp AS (
        SELECT entity, min(cluster) AS gp_cluster FROM p WHERE kind = 'gp' GROUP BY entity
    ), mixed AS (
        SELECT cluster FROM p GROUP BY cluster HAVING count(DISTINCT entity) > 1
    ), judged AS (
        SELECT p.*, p.cluster IS DISTINCT FROM gp.gp_cluster AS split,
               p.cluster IN (SELECT cluster FROM mixed) AS is_mixed
        FROM p LEFT JOIN gp USING (entity)
        WHERE p.kind <> 'gp'
    )
    SELECT format('INFO|non-GP records with %s: %s, split from their GP record %s, on a mixed patient %s',
                  tag, count(*), count(*) FILTER (WHERE split), count(*) FILTER (WHERE is_mixed))
    FROM judged, unnest(CASE WHEN noise = '{}' THEN ARRAY['no noise'] ELSE noise END) AS tag
    GROUP BY tag ORDER BY tag
$$;

-- The classic false matches: twins, and fathers and sons with one name, put
-- on one patient.
CREATE FUNCTION lq.uk_households() RETURNS SETOF text
LANGUAGE sql STABLE AS $$
    WITH p AS (
        SELECT l.entity::bigint AS person_id, coalesce(l.predicted, 's:' || l.source_code || '/' || l.local_id) AS cluster
        FROM lq.predicted('linker') l
    )
    SELECT format('INFO|%s pairs: %s, on one patient: %s', s.relation, count(DISTINCT s.person_id),
                  count(DISTINCT s.person_id) FILTER (WHERE EXISTS (
                      SELECT FROM p a JOIN p b USING (cluster)
                      WHERE a.person_id = s.person_id AND b.person_id = s.household_of)))
    FROM synthetic.person s WHERE s.relation IS NOT NULL GROUP BY s.relation ORDER BY s.relation
$$;
