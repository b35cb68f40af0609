-- The acting professional (src/access_context.c).

CREATE FUNCTION scr.open_context(token text, session_scope boolean DEFAULT false) RETURNS void
    AS 'MODULE_PATHNAME' LANGUAGE C VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, scr, pg_temp;
COMMENT ON FUNCTION scr.open_context(text, boolean) IS
    'verify a signed context token and act as its professional, for this transaction or (session_scope) this session';

CREATE FUNCTION scr.open_login_context(session_scope boolean DEFAULT false) RETURNS void
    AS 'MODULE_PATHNAME' LANGUAGE C VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, scr, pg_temp;
COMMENT ON FUNCTION scr.open_login_context(boolean) IS
    'act as the role profile this login is mapped to in scr.login_role_profile';

CREATE FUNCTION scr.close_context() RETURNS void
    AS 'MODULE_PATHNAME' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION scr.close_context() IS 'forget the acting professional now';

CREATE FUNCTION scr.context_professional() RETURNS text
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE LEAKPROOF PARALLEL RESTRICTED;
CREATE FUNCTION scr.context_role_profile() RETURNS text
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE LEAKPROOF PARALLEL RESTRICTED;
CREATE FUNCTION scr.context_organisation() RETURNS text
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE LEAKPROOF PARALLEL RESTRICTED;
CREATE FUNCTION scr.context_purpose() RETURNS text
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE LEAKPROOF PARALLEL RESTRICTED;
CREATE FUNCTION scr.context_source() RETURNS text
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE LEAKPROOF PARALLEL RESTRICTED;
CREATE FUNCTION scr.context_patient() RETURNS bigint
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE LEAKPROOF PARALLEL RESTRICTED;
CREATE FUNCTION scr.context_is_session() RETURNS boolean
    AS 'MODULE_PATHNAME' LANGUAGE C STABLE LEAKPROOF PARALLEL RESTRICTED;

CREATE FUNCTION scr.mint_context_token(key_id text, professional text, role_profile text,
                                       organisation text, purpose text,
                                       patient bigint DEFAULT NULL, lifetime integer DEFAULT 300)
RETURNS text
    AS 'MODULE_PATHNAME' LANGUAGE C VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, scr, pg_temp;
COMMENT ON FUNCTION scr.mint_context_token(text, text, text, text, text, bigint, integer) IS
    'sign a context token with a key the database holds (for trusted callers only)';

REVOKE ALL ON FUNCTION scr.open_context(text, boolean), scr.open_login_context(boolean),
    scr.mint_context_token(text, text, text, text, text, bigint, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION scr.open_context(text, boolean) TO scr_clinical_gateway;
-- Any login may ask to act as the role profile it is mapped to; the mapping
-- (scr.login_role_profile, kept by operators) decides.
GRANT EXECUTE ON FUNCTION scr.open_login_context(boolean) TO PUBLIC;
