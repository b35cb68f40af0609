-- scr.nhs_number: the NHS number as a base type (src/nhs_number.c).

CREATE TYPE scr.nhs_number;

CREATE FUNCTION scr.nhs_number_in(cstring) RETURNS scr.nhs_number
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION scr.nhs_number_out(scr.nhs_number) RETURNS cstring
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION scr.nhs_number_recv(internal) RETURNS scr.nhs_number
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION scr.nhs_number_send(scr.nhs_number) RETURNS bytea
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE TYPE scr.nhs_number (
    INPUT = scr.nhs_number_in,
    OUTPUT = scr.nhs_number_out,
    RECEIVE = scr.nhs_number_recv,
    SEND = scr.nhs_number_send,
    INTERNALLENGTH = 8,
    PASSEDBYVALUE,
    ALIGNMENT = double,
    STORAGE = plain,
    CATEGORY = 'U'
);
COMMENT ON TYPE scr.nhs_number IS
    'NHS number: ten digits with a valid Modulus 11 check digit; output as ten digits';

-- Comparison.  Every stored value is valid, so these cannot fail: LEAKPROOF.
CREATE FUNCTION scr.nhs_number_eq(scr.nhs_number, scr.nhs_number) RETURNS boolean
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION scr.nhs_number_ne(scr.nhs_number, scr.nhs_number) RETURNS boolean
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION scr.nhs_number_lt(scr.nhs_number, scr.nhs_number) RETURNS boolean
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION scr.nhs_number_le(scr.nhs_number, scr.nhs_number) RETURNS boolean
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION scr.nhs_number_gt(scr.nhs_number, scr.nhs_number) RETURNS boolean
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION scr.nhs_number_ge(scr.nhs_number, scr.nhs_number) RETURNS boolean
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION scr.nhs_number_cmp(scr.nhs_number, scr.nhs_number) RETURNS integer
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION scr.nhs_number_sortsupport(internal) RETURNS void
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION scr.nhs_number_hash(scr.nhs_number) RETURNS integer
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION scr.nhs_number_hash_extended(scr.nhs_number, bigint) RETURNS bigint
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;

CREATE OPERATOR scr.= (
    LEFTARG = scr.nhs_number, RIGHTARG = scr.nhs_number,
    FUNCTION = scr.nhs_number_eq,
    COMMUTATOR = OPERATOR(scr.=), NEGATOR = OPERATOR(scr.<>),
    RESTRICT = eqsel, JOIN = eqjoinsel, HASHES, MERGES
);
CREATE OPERATOR scr.<> (
    LEFTARG = scr.nhs_number, RIGHTARG = scr.nhs_number,
    FUNCTION = scr.nhs_number_ne,
    COMMUTATOR = OPERATOR(scr.<>), NEGATOR = OPERATOR(scr.=),
    RESTRICT = neqsel, JOIN = neqjoinsel
);
CREATE OPERATOR scr.< (
    LEFTARG = scr.nhs_number, RIGHTARG = scr.nhs_number,
    FUNCTION = scr.nhs_number_lt,
    COMMUTATOR = OPERATOR(scr.>), NEGATOR = OPERATOR(scr.>=),
    RESTRICT = scalarltsel, JOIN = scalarltjoinsel
);
CREATE OPERATOR scr.<= (
    LEFTARG = scr.nhs_number, RIGHTARG = scr.nhs_number,
    FUNCTION = scr.nhs_number_le,
    COMMUTATOR = OPERATOR(scr.>=), NEGATOR = OPERATOR(scr.>),
    RESTRICT = scalarlesel, JOIN = scalarlejoinsel
);
CREATE OPERATOR scr.> (
    LEFTARG = scr.nhs_number, RIGHTARG = scr.nhs_number,
    FUNCTION = scr.nhs_number_gt,
    COMMUTATOR = OPERATOR(scr.<), NEGATOR = OPERATOR(scr.<=),
    RESTRICT = scalargtsel, JOIN = scalargtjoinsel
);
CREATE OPERATOR scr.>= (
    LEFTARG = scr.nhs_number, RIGHTARG = scr.nhs_number,
    FUNCTION = scr.nhs_number_ge,
    COMMUTATOR = OPERATOR(scr.<=), NEGATOR = OPERATOR(scr.<),
    RESTRICT = scalargesel, JOIN = scalargejoinsel
);

CREATE OPERATOR CLASS scr.nhs_number_ops
    DEFAULT FOR TYPE scr.nhs_number USING btree AS
        OPERATOR 1 scr.<,
        OPERATOR 2 scr.<=,
        OPERATOR 3 scr.=,
        OPERATOR 4 scr.>=,
        OPERATOR 5 scr.>,
        FUNCTION 1 scr.nhs_number_cmp(scr.nhs_number, scr.nhs_number),
        FUNCTION 2 scr.nhs_number_sortsupport(internal);

CREATE OPERATOR CLASS scr.nhs_number_hash_ops
    DEFAULT FOR TYPE scr.nhs_number USING hash AS
        OPERATOR 1 scr.=,
        FUNCTION 1 scr.nhs_number_hash(scr.nhs_number),
        FUNCTION 2 scr.nhs_number_hash_extended(scr.nhs_number, bigint);

-- Casts.  text casts are PostgreSQL's I/O conversions (text -> nhs_number
-- validates); bigint casts are explicit, and the one from bigint validates.
CREATE FUNCTION scr.nhs_number(bigint) RETURNS scr.nhs_number
    AS 'MODULE_PATHNAME', 'nhs_number_from_bigint' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION scr.nhs_number_to_bigint(scr.nhs_number) RETURNS bigint
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE CAST (bigint AS scr.nhs_number) WITH FUNCTION scr.nhs_number(bigint);
CREATE CAST (scr.nhs_number AS bigint) WITH FUNCTION scr.nhs_number_to_bigint(scr.nhs_number);

-- Helpers.
CREATE FUNCTION scr.nhs_number_display(scr.nhs_number) RETURNS text
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION scr.nhs_number_display(scr.nhs_number) IS
    'NHS number formatted 3-3-4 with spaces (NHS display standard)';

CREATE FUNCTION scr.nhs_number_problem(text) RETURNS text
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION scr.nhs_number_problem(text) IS
    'NULL when the text is a valid NHS number, else why not; never raises';

CREATE FUNCTION scr.is_valid_nhs_number(text) RETURNS boolean
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION scr.is_valid_nhs_number(text) IS
    'true when the text is a valid NHS number; never raises';

CREATE FUNCTION scr.nhs_number_range(scr.nhs_number) RETURNS text
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION scr.nhs_number_range(scr.nhs_number) IS
    'issuing range of the number (guidance, not validation): england_wales_iom, scotland_chi, northern_ireland_hc, test or unallocated';

CREATE FUNCTION scr.random_nhs_number(test_range boolean DEFAULT true) RETURNS scr.nhs_number
    AS 'MODULE_PATHNAME' LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION scr.random_nhs_number(boolean) IS
    'a valid random NHS number for synthetic data, from the 999 test range unless test_range is false';
