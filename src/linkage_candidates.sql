-- The candidate search (src/linkage_candidates.c): an incoming person's
-- comparison keys, and the source records they find through the blocking
-- indexes of src/linkage.sql, compared, scored and resolved to their
-- surviving patient in C.
CREATE FUNCTION scr._link_keys(d scr.person_demographics) RETURNS scr.link_keys
AS 'MODULE_PATHNAME', 'link_keys' LANGUAGE C STABLE STRICT;
COMMENT ON FUNCTION scr._link_keys(scr.person_demographics) IS
    'linkage internals: a person''s comparison keys as the generated columns compute them, the first given name''s nicknames and the names'' frequencies';
REVOKE ALL ON FUNCTION scr._link_keys(scr.person_demographics) FROM PUBLIC;

CREATE FUNCTION scr._link_candidates(k scr.link_keys, p_self bigint, m double precision[],
                                     u double precision[], min_score double precision DEFAULT NULL)
RETURNS TABLE (patient_id bigint, source_identifier_id bigint, score double precision,
               levels smallint[])
AS 'MODULE_PATHNAME', 'link_candidates' LANGUAGE C STABLE ROWS 20;
COMMENT ON FUNCTION scr._link_candidates(scr.link_keys, bigint, double precision[], double precision[], double precision) IS
    'linkage internals: each patient the blocking rules in use find for a person, with its best record''s levels and match weight, best first; records below min_score are left out';
REVOKE ALL ON FUNCTION scr._link_candidates(scr.link_keys, bigint, double precision[], double precision[], double precision) FROM PUBLIC;
