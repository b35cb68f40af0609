-- scr install script, assembled by the Makefile from the SQL pieces in src/.
-- Every object lives in schema scr, which CREATE EXTENSION creates.

\echo Use "CREATE EXTENSION scr" to load this file. \quit

COMMENT ON SCHEMA scr IS 'scr: the shared care record';
REVOKE ALL ON SCHEMA scr FROM PUBLIC;
GRANT USAGE ON SCHEMA scr TO PUBLIC;
