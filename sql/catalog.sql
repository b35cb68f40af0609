-- The inventory of everything scr creates and who may use it.  Any new
-- object, grant or marking shows up here and must be read as a reviewer.
SET search_path = public, scr;

-- Tables and views: kind, row-level security, and the roles with any
-- privilege other than the owner.
SELECT c.relname,
       CASE c.relkind WHEN 'r' THEN 'table' WHEN 'v' THEN 'view' WHEN 'S' THEN 'sequence' END AS kind,
       CASE WHEN c.relkind = 'r' THEN c.relrowsecurity::text || '/' || c.relforcerowsecurity::text END AS rls_forced,
       coalesce((SELECT string_agg(g, '; ' ORDER BY g) FROM (
           SELECT CASE a.grantee WHEN 0 THEN 'PUBLIC' ELSE a.grantee::regrole::text END || ':'
                  || string_agg(DISTINCT a.privilege_type, ',' ORDER BY a.privilege_type) AS g
           FROM aclexplode(c.relacl) a WHERE a.grantee <> c.relowner GROUP BY a.grantee) x), '') AS granted
FROM pg_class c
WHERE c.relnamespace = 'scr'::regnamespace AND c.relkind IN ('r', 'v')
ORDER BY kind, c.relname;

-- Policies: table, command, roles.
SELECT tablename, policyname, cmd, roles FROM pg_policies WHERE schemaname = 'scr'
ORDER BY tablename, policyname;

-- Functions: markings and who may execute them (beyond the owner).
SELECT p.oid::regprocedure AS function,
       p.provolatile AS vol, p.proparallel AS par, p.proleakproof AS leakproof,
       p.prosecdef AS definer,
       coalesce((SELECT string_agg(CASE a.grantee WHEN 0 THEN 'PUBLIC' ELSE a.grantee::regrole::text END, ', '
                                   ORDER BY 1)
                 FROM aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
                 WHERE a.grantee <> p.proowner), '') AS execute
FROM pg_proc p
WHERE p.pronamespace = 'scr'::regnamespace
ORDER BY p.proname, p.oid::regprocedure::text;

-- Every LEAKPROOF function cannot raise on any value of its type: each is
-- called on the extremes without error (SECURITY-TESTS item 10).
SELECT scr.nhs_number_eq(a, b), scr.nhs_number_ne(a, b), scr.nhs_number_lt(a, b),
       scr.nhs_number_le(a, b), scr.nhs_number_gt(a, b), scr.nhs_number_ge(a, b),
       scr.nhs_number_cmp(a, b), scr.nhs_number_hash(a) IS NOT NULL AS h,
       scr.nhs_number_hash_extended(a, -1) IS NOT NULL AS hx, scr.nhs_number_to_bigint(a) > 0 AS b
FROM (VALUES ('0000000116'::scr.nhs_number, '9999999980'::scr.nhs_number),
             ('9999999980', '0000000116')) AS t(a, b);
SELECT scr.context_professional(), scr.context_role_profile(), scr.context_organisation(),
       scr.context_purpose(), scr.context_source(), scr.context_patient(), scr.context_is_session();
