-- Every public example in ../shared/data/nhs_number_vectors.tsv gets the
-- verdict it is published with, through the type and through the helpers.
CREATE TEMP TABLE vectors (input text, verdict text, reason text, source text);
\copy vectors FROM '../shared/data/nhs_number_vectors.tsv' (FORMAT text, HEADER true)
SELECT count(*) AS vectors, count(*) FILTER (WHERE verdict = 'valid') AS valid FROM vectors;

-- The type's input agrees with every verdict.
CREATE FUNCTION pg_temp.accepts(v text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    PERFORM v::scr.nhs_number;
    RETURN true;
EXCEPTION WHEN invalid_text_representation THEN
    RETURN false;
END $$;

SELECT input, verdict, reason
FROM vectors
WHERE pg_temp.accepts(input) <> (verdict = 'valid')
   OR scr.is_valid_nhs_number(input) <> (verdict = 'valid')
   OR (scr.nhs_number_problem(input) IS NULL) <> (verdict = 'valid');

-- The published reason beside ours, for each refusal.
SELECT input, reason AS published, scr.nhs_number_problem(input) AS ours
FROM vectors
WHERE verdict = 'invalid'
ORDER BY reason, input;
