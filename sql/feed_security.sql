-- The feed layer's defences: privileges, SECURITY DEFINER hygiene, row-level
-- security failing closed, search_path hijacks, the reserved scr.* prefix.
SET search_path = public, scr;
\set SHOW_CONTEXT never

-- Every SECURITY DEFINER function in scr pins its search_path and is not
-- executable by PUBLIC, but for scr.open_login_context, which any login may
-- call to act as the role profile an operator mapped it to.
SELECT p.oid::regprocedure AS definer_function,
       coalesce(array_to_string(p.proconfig, ','), '') LIKE '%search_path=pg_catalog, scr, pg_temp%' AS pinned,
       has_function_privilege('public', p.oid, 'EXECUTE') AS public_can_execute
FROM pg_proc p
WHERE p.pronamespace = 'scr'::regnamespace AND p.prosecdef
ORDER BY p.oid::regprocedure::text;
-- Which roles may run each one.
SELECT p.proname,
       string_agg(DISTINCT CASE a.grantee WHEN 0 THEN 'PUBLIC' ELSE a.grantee::regrole::text END, ', ') AS granted_to
FROM pg_proc p, aclexplode(p.proacl) a
WHERE p.pronamespace = 'scr'::regnamespace AND p.prosecdef AND a.privilege_type = 'EXECUTE'
  AND a.grantee <> p.proowner
GROUP BY p.proname ORDER BY 1;
-- Internal functions (scr._*) are callable by nobody but their owner.
SELECT count(*) AS internal_functions_with_grants
FROM pg_proc p, aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
WHERE p.pronamespace = 'scr'::regnamespace AND p.proname LIKE '\_%'
  AND a.grantee <> p.proowner;

-- Every patient-data table has row-level security enabled and forced, and
-- patient_id in its primary key.
SELECT c.relname, c.relrowsecurity AS rls, c.relforcerowsecurity AS forced,
       (SELECT string_agg(a.attname, ', ' ORDER BY k.n)
        FROM pg_constraint pk
        CROSS JOIN LATERAL unnest(pk.conkey) WITH ORDINALITY AS k(attnum, n)
        JOIN pg_attribute a ON a.attrelid = pk.conrelid AND a.attnum = k.attnum
        WHERE pk.conrelid = c.oid AND pk.contype = 'p') AS primary_key
FROM pg_class c
WHERE c.relnamespace = 'scr'::regnamespace AND c.relkind = 'r'
  AND EXISTS (SELECT FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'patient_id')
ORDER BY 1;
-- No table in scr can be written by PUBLIC.
SELECT count(*) AS public_writable
FROM pg_class c
WHERE c.relnamespace = 'scr'::regnamespace AND c.relkind = 'r'
  AND (has_table_privilege('public', c.oid, 'INSERT') OR has_table_privilege('public', c.oid, 'UPDATE')
       OR has_table_privilege('public', c.oid, 'DELETE') OR has_table_privilege('public', c.oid, 'TRUNCATE'));
-- Every table's rows are kept by pg_dump, but for read-only reference tables
-- that the install script fills: NHS number status codes, the linkage
-- blocking rules and default match weights, the care task workflow and the
-- shipped working hours.
SELECT c.relname AS not_dumped
FROM pg_class c
WHERE c.relnamespace = 'scr'::regnamespace AND c.relkind IN ('r', 'S')
  AND c.oid <> ALL ((SELECT extconfig FROM pg_extension WHERE extname = 'scr')::oid[])
ORDER BY 1;

-- A feed login cannot read or write the tables directly.
\set ON_ERROR_STOP 0
SET ROLE regress_feed_gp;
SELECT count(*) FROM scr.patient;
INSERT INTO scr.entry (patient_id, kind, status, source_code, ods_code, source_ref, source_timestamp, payload)
VALUES (1, 'problem', 'active', 'gp_riverside', 'A81001', 'direct', now(), '{}');
COPY scr.entry (source_ref) FROM stdin;
\.
INSERT INTO scr.feed_binding VALUES ('regress_feed_gp', 'acute_pas');
UPDATE scr.source_system SET active = true;
RESET ROLE;
-- Logged in as a feed, it cannot reach another identity.
\c - regress_feed_gp
SET ROLE postgres;
SET ROLE regress_feed_acute;
SET SESSION AUTHORIZATION postgres;
SELECT current_user, session_user;
\c - postgres
\set ON_ERROR_STOP 1
SET search_path = public, scr;

-- Even the table owner, without superuser, sees no patient rows: FORCE RLS
-- with no policy fails closed.
CREATE ROLE regress_owner_like NOLOGIN;
CREATE TABLE regress_forced (patient_id bigint);
INSERT INTO regress_forced VALUES (1);
ALTER TABLE regress_forced ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
ALTER TABLE regress_forced OWNER TO regress_owner_like;
SET ROLE regress_owner_like;
SELECT count(*) AS owner_sees FROM regress_forced;
RESET ROLE;
DROP TABLE regress_forced;
DROP ROLE regress_owner_like;

-- search_path hijack: objects named like scr's in public and pg_temp do not
-- change what the feed functions do.
CREATE FUNCTION public.nhs_number_problem(text) RETURNS text LANGUAGE sql AS $$ SELECT NULL::text $$;
CREATE FUNCTION public.jsonb_typeof(jsonb) RETURNS text LANGUAGE sql AS $$ SELECT 'object'::text $$;
CREATE FUNCTION pg_temp.btrim(text) RETURNS text LANGUAGE sql AS $$ SELECT 'hijacked'::text $$;
CREATE TABLE public.patient (patient_id bigint);
SET ROLE regress_feed_gp;
SET search_path = pg_temp, public, scr;
SELECT refused($q$SELECT scr.ingest_person('gp_riverside', 'HJ', '[1]')$q$);
SELECT scr.ingest_person('gp_riverside', 'HJ', '{"nhs_number": "943 476 5918", "given_name": "  Hal  "}') IS NOT NULL AS sent;
RESET ROLE;
SET search_path = public, scr;
SELECT given_name, nhs_number_problem IS NOT NULL AS problem_found
FROM scr.source_identifier WHERE local_id = 'HJ';
SELECT count(*) AS public_patient_untouched FROM public.patient;
DROP FUNCTION public.nhs_number_problem(text), public.jsonb_typeof(jsonb);
DROP TABLE public.patient;

-- The scr.* setting prefix is reserved: no client invents a setting, and
-- the real ones are superuser-only.
\set ON_ERROR_STOP 0
SET scr.professional = 'someone';
SELECT set_config('scr.role_profile', 'admin', false);
SET ROLE regress_feed_gp;
SET scr.max_message_size = '1GB';
RESET ROLE;
\set ON_ERROR_STOP 1
SELECT name, setting, unit, context FROM pg_settings WHERE name LIKE 'scr.%' ORDER BY name;
