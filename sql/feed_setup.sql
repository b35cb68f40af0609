-- Shared fixtures for the feed tests: organisations, sources, feed logins.
-- (Roles are cluster-wide: feed_teardown drops them.)
SET search_path = public, scr;
INSERT INTO scr.organisation (ods_code, name, kind) VALUES
    ('A81001', 'Riverside Surgery', 'gp_practice'),
    ('RX1', 'County Hospitals NHS Trust', 'nhs_trust'),
    ('LA1', 'County Council', 'local_authority');
INSERT INTO scr.source_system (source_code, ods_code, kind, description) VALUES
    ('gp_riverside', 'A81001', 'gp', 'GP clinical system'),
    ('acute_pas', 'RX1', 'acute', 'Hospital patient administration system'),
    ('council_care', 'LA1', 'social_care', 'Adult social care case management');
CREATE ROLE regress_feed_gp LOGIN IN ROLE scr_feed;
CREATE ROLE regress_feed_acute LOGIN IN ROLE scr_feed;
CREATE ROLE regress_feed_unbound LOGIN IN ROLE scr_feed;
CREATE ROLE regress_admin LOGIN IN ROLE scr_admin;
CREATE ROLE regress_nobody LOGIN;
INSERT INTO scr.feed_binding (role_name, source_code) VALUES
    ('regress_feed_gp', 'gp_riverside'),
    ('regress_feed_acute', 'acute_pas'),
    ('regress_feed_acute', 'council_care');

-- refused(q): run q and say how it was refused (SQLSTATE, message, detail),
-- so tests show the SQLSTATE of every refusal.
CREATE FUNCTION public.refused(q text) RETURNS text LANGUAGE plpgsql AS $f$
DECLARE
    st text; msg text; det text;
BEGIN
    EXECUTE q;
    RETURN 'accepted';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL;
    RETURN st || ' ' || msg || coalesce(' (' || nullif(det, '') || ')', '');
END
$f$;
