-- The audit hash chain: seals cover every finished transaction's events;
-- scr.verify_audit() finds each kind of tampering a superuser (the one role
-- the append-only triggers cannot stop) might try.
SET search_path = public, scr;
\set SHOW_CONTEXT never
SELECT scr.audit_flush('30 seconds') AS flushed;
SELECT scr.audit_seal() >= 0 AS sealed;
SELECT verified, seals_checked > 0 AS has_seals, events_checked > 0 AS has_events, unsealed_events,
       broken_seal, problem FROM scr.verify_audit();
SELECT h.seal_id = (SELECT max(seal_id) FROM scr.audit_seal) AS head_is_newest, length(h.seal_hash) AS hex_length,
       h.events_sealed = (SELECT count(*) FROM scr.audit_event) AS head_covers_all
FROM scr.audit_head() h;

-- A sealed event to tamper with, and the seal that covers it.
SELECT e.audit_event_id AS victim, e.caller AS victim_caller FROM scr.audit_event e
ORDER BY e.audit_event_id LIMIT 1 OFFSET 3 \gset
SELECT s.seal_id AS victim_seal FROM scr.audit_seal s, scr.audit_event e
WHERE e.audit_event_id = :victim AND e.inserted_system = s.system_identifier
  AND e.inserted_xact >= s.xact_lo AND (s.xact_hi IS NULL OR e.inserted_xact < s.xact_hi) \gset
CREATE TEMP TABLE saved AS SELECT * FROM scr.audit_event WHERE audit_event_id = :victim;

-- Triggers off (superuser only), then each tampering and its repair.
SET session_replication_role = replica;
-- 1. An event changed.
UPDATE scr.audit_event SET caller = 'someone else' WHERE audit_event_id = :victim;
SELECT verified, broken_seal = :victim_seal AS right_seal, regexp_replace(problem, '\d+', 'N', 'g') AS problem
FROM scr.verify_audit();
UPDATE scr.audit_event SET caller = :'victim_caller' WHERE audit_event_id = :victim;
SELECT verified FROM scr.verify_audit();
-- 2. An event removed.
DELETE FROM scr.audit_event WHERE audit_event_id = :victim;
SELECT verified, broken_seal = :victim_seal AS right_seal, regexp_replace(problem, '\d+', 'N', 'g') AS problem
FROM scr.verify_audit();
INSERT INTO scr.audit_event OVERRIDING SYSTEM VALUE SELECT * FROM saved;
SELECT verified FROM scr.verify_audit();
-- 3. An event slipped into a sealed range.
INSERT INTO scr.audit_event (action, event_type, caller, object_table, row_count, inserted_xact, inserted_system)
SELECT 'R', 'read', 'nobody', 'entry', 1, inserted_xact, inserted_system FROM saved;
SELECT verified, broken_seal = :victim_seal AS right_seal, regexp_replace(problem, '\d+', 'N', 'g') AS problem
FROM scr.verify_audit();
DELETE FROM scr.audit_event WHERE caller = 'nobody';
SELECT verified FROM scr.verify_audit();
-- 4. A seal changed, or removed.
CREATE TEMP TABLE saved_seal AS SELECT * FROM scr.audit_seal WHERE seal_id = :victim_seal;
UPDATE scr.audit_seal SET event_count = event_count + 1 WHERE seal_id = :victim_seal;
SELECT verified, broken_seal = :victim_seal AS right_seal, regexp_replace(problem, '\d+', 'N', 'g') AS problem
FROM scr.verify_audit();
DELETE FROM scr.audit_seal WHERE seal_id = :victim_seal;
INSERT INTO scr.audit_seal OVERRIDING SYSTEM VALUE SELECT * FROM saved_seal;
SELECT verified FROM scr.verify_audit();
-- (The first seal: the chain then starts at one whose prev_hash is set.)
CREATE TEMP TABLE first_seal AS SELECT * FROM scr.audit_seal ORDER BY seal_id LIMIT 1;
DELETE FROM scr.audit_seal WHERE seal_id = (SELECT seal_id FROM first_seal);
SELECT verified, regexp_replace(problem, '\d+', 'N', 'g') AS problem FROM scr.verify_audit();
INSERT INTO scr.audit_seal OVERRIDING SYSTEM VALUE SELECT * FROM first_seal;
SELECT verified FROM scr.verify_audit();
RESET session_replication_role;

-- Seals are append-only like events.
\set ON_ERROR_STOP 0
\set VERBOSITY terse
UPDATE scr.audit_seal SET event_count = 1;
DELETE FROM scr.audit_seal;
TRUNCATE scr.audit_seal;
\set VERBOSITY default
\set ON_ERROR_STOP 1

-- Who may verify: privacy officers; not feeds or gateways.  Operators may
-- read the head to anchor it, not the events.
CREATE ROLE regress_chain_officer LOGIN IN ROLE scr_privacy_officer;
CREATE ROLE regress_chain_admin LOGIN IN ROLE scr_admin;
CREATE ROLE regress_chain_gw LOGIN IN ROLE scr_clinical_gateway;
SET ROLE regress_chain_officer;
SELECT verified IS NOT NULL AS officer_verifies FROM scr.verify_audit();
SET ROLE regress_chain_admin;
SELECT seal_id IS NOT NULL AS admin_reads_head FROM scr.audit_head();
\set ON_ERROR_STOP 0
SELECT * FROM scr.verify_audit();
SELECT scr.audit_seal();
SET ROLE regress_chain_gw;
SELECT * FROM scr.audit_head();
SELECT count(*) FROM scr.audit_seal;
\set ON_ERROR_STOP 1
RESET ROLE;
-- No application role can disable the triggers, drop, or write (they own
-- nothing): each shipped role tries.
CREATE FUNCTION pg_temp.tries(who text, sql text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('SET LOCAL ROLE %I', who);
    EXECUTE sql;
    RETURN 'ALLOWED';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE;
END
$$;
SELECT r.who, c.what, pg_temp.tries(r.who, c.sql) AS result
FROM unnest(ARRAY['scr_feed', 'scr_clinical_gateway', 'scr_reporting', 'scr_secondary_use',
                  'scr_privacy_officer', 'scr_admin']) AS r(who),
     (VALUES ('disable trigger', 'ALTER TABLE scr.audit_event DISABLE TRIGGER ALL'),
             ('drop seals', 'DROP TABLE scr.audit_seal'),
             ('insert event', 'INSERT INTO scr.audit_event (action, event_type, caller, object_table, row_count) VALUES (''R'', ''read'', ''x'', ''x'', 1)'),
             ('insert seal', 'INSERT INTO scr.audit_seal (system_identifier, xact_lo, event_count, events_hash, seal_hash) VALUES (1, ''0'', 1, ''\x'', ''\x'')'),
             ('delete events', 'DELETE FROM scr.audit_event')) AS c(what, sql)
ORDER BY 1, 2;
-- Sealing needs READ COMMITTED: a repeatable-read snapshot could miss
-- transactions that ended before the seal.
BEGIN ISOLATION LEVEL REPEATABLE READ;
\set ON_ERROR_STOP 0
SELECT scr.audit_seal();
\set ON_ERROR_STOP 1
ROLLBACK;
DROP ROLE regress_chain_officer, regress_chain_admin, regress_chain_gw;
