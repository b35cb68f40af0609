-- Drop the cluster-wide roles feed_setup made.
DELETE FROM scr.feed_binding WHERE role_name LIKE 'regress_%';
DROP ROLE regress_feed_gp, regress_feed_acute, regress_feed_unbound, regress_admin, regress_nobody;
DROP FUNCTION public.refused(text);
