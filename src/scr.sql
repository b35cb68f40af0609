-- scr install script, assembled by the Makefile from the SQL pieces in src/.
-- Every object lives in schema scr, which CREATE EXTENSION creates.

\echo Use "CREATE EXTENSION scr" to load this file. \quit

-- CREATE EXTENSION adopts a schema scr that already exists.  Refuse one that
-- someone else owns or that already holds objects: its owner could plant
-- functions and operators beside scr's own.
DO $check$
BEGIN
    -- A superuser's schema is trusted (pg_restore recreates it first, owned
    -- by the superuser that made the dump).
    IF NOT (SELECT r.rolsuper FROM pg_catalog.pg_namespace n
            JOIN pg_catalog.pg_roles r ON r.oid = n.nspowner WHERE n.nspname = 'scr') THEN
        RAISE EXCEPTION 'schema scr exists and is owned by a role that is not a superuser'
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Drop the schema, or let the installing superuser own it, before CREATE EXTENSION scr.';
    END IF;
    IF EXISTS (SELECT FROM pg_catalog.pg_roles r
               WHERE NOT r.rolsuper AND pg_catalog.has_schema_privilege(r.oid, 'scr', 'CREATE')) THEN
        RAISE EXCEPTION 'schema scr exists and a role that is not a superuser may create objects in it'
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'REVOKE CREATE ON SCHEMA scr from every role before CREATE EXTENSION scr.';
    END IF;
    IF EXISTS (SELECT FROM pg_catalog.pg_class WHERE relnamespace = 'scr'::regnamespace)
       OR EXISTS (SELECT FROM pg_catalog.pg_proc WHERE pronamespace = 'scr'::regnamespace)
       OR EXISTS (SELECT FROM pg_catalog.pg_type WHERE typnamespace = 'scr'::regnamespace)
       OR EXISTS (SELECT FROM pg_catalog.pg_operator WHERE oprnamespace = 'scr'::regnamespace) THEN
        RAISE EXCEPTION 'schema scr already holds objects'
            USING ERRCODE = 'duplicate_schema',
                  HINT = 'CREATE EXTENSION scr needs an empty schema scr, or none.';
    END IF;
END
$check$;

COMMENT ON SCHEMA scr IS 'scr: the shared care record';
REVOKE ALL ON SCHEMA scr FROM PUBLIC;
GRANT USAGE ON SCHEMA scr TO PUBLIC;
