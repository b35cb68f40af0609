-- CREATE EXTENSION in a fresh database: it refuses a schema scr that
-- someone else owns or that already holds objects, and installs cleanly
-- otherwise.
CREATE DATABASE regress_scr_install;
\c regress_scr_install
CREATE ROLE regress_squatter;
CREATE SCHEMA scr AUTHORIZATION regress_squatter;
\set ON_ERROR_STOP 0
CREATE EXTENSION scr;
\set ON_ERROR_STOP 1
DROP SCHEMA scr;
CREATE SCHEMA scr;
CREATE FUNCTION scr.ingest_person(text, text, jsonb) RETURNS bigint LANGUAGE sql AS 'SELECT 0::bigint';
\set ON_ERROR_STOP 0
CREATE EXTENSION scr;
\set ON_ERROR_STOP 1
DROP SCHEMA scr CASCADE;
-- An empty schema with CREATE granted to another role is refused too.
CREATE SCHEMA scr;
GRANT CREATE ON SCHEMA scr TO regress_squatter;
\set ON_ERROR_STOP 0
CREATE EXTENSION scr;
\set ON_ERROR_STOP 1
DROP SCHEMA scr;
CREATE EXTENSION scr;
SELECT extname, extversion, extrelocatable, extnamespace::regnamespace FROM pg_extension WHERE extname = 'scr';
SELECT count(*) > 0 AS has_objects FROM pg_proc WHERE pronamespace = 'scr'::regnamespace;
-- A second database in the same cluster installs too (the roles exist already).
CREATE DATABASE regress_scr_install2;
\c regress_scr_install2
CREATE EXTENSION scr;
\c regress_scr_install
DROP EXTENSION scr;
\c postgres
DROP DATABASE regress_scr_install;
DROP DATABASE regress_scr_install2;
DROP ROLE regress_squatter;
