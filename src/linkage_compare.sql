-- Normalisers and comparators for patient linkage (src/linkage_compare.c).

CREATE FUNCTION scr.normalise_name(name text) RETURNS text
    AS 'MODULE_PATHNAME', 'normalise_name_sql' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION scr.normalise_name(text) IS
    'name for comparison: lower-case ASCII, accents folded, apostrophes dropped, punctuation to spaces, titles dropped, Mac/Mc alike';
CREATE FUNCTION scr.normalise_postcode(postcode text) RETURNS text
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION scr.normalise_postcode(text) IS
    'a UK postcode as "OUTWARD INWARD", or NULL when the text is not a UK postcode';
CREATE FUNCTION scr.postcode_outward(postcode text) RETURNS text
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION scr.postcode_outward(text) IS 'the outward code (district) of a UK postcode, or NULL';
CREATE FUNCTION scr.jaro_winkler(a text, b text) RETURNS double precision
    AS 'MODULE_PATHNAME', 'jaro_winkler_sql' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION scr.jaro_winkler(text, text) IS 'Jaro-Winkler similarity, 0 to 1 (bytes; normalise names first)';
CREATE FUNCTION scr.damerau_levenshtein(a text, b text) RETURNS integer
    AS 'MODULE_PATHNAME', 'damerau_levenshtein_sql' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION scr.damerau_levenshtein(text, text) IS
    'edit distance counting adjacent transpositions as one edit (optimal string alignment; first 256 bytes)';
CREATE FUNCTION scr.phonetic(name text) RETURNS text
    AS 'MODULE_PATHNAME', 'phonetic_sql' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION scr.phonetic(text) IS
    'phonetic key of a name after Caverphone 2 (ten characters), for blocking and comparison';
CREATE FUNCTION scr.normalise_address(address text) RETURNS text
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION scr.normalise_address(text) IS
    'address for comparison: lower-case ASCII words and numbers, street-type abbreviations written out; NULL when empty';
CREATE FUNCTION scr.postcode_key(postcode text) RETURNS text
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION scr.postcode_key(text) IS
    'postcode for comparison: a UK postcode as "OUTWARD INWARD", any other as its letters and digits';
