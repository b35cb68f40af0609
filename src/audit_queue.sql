-- The queue that carries audit events out of the reading transaction, and
-- its background worker (src/audit_queue.c).

CREATE FUNCTION scr.audit_flush(timeout interval DEFAULT '10 seconds') RETURNS boolean
    AS 'MODULE_PATHNAME' LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION scr.audit_flush(interval) IS
    'wait until every audit event this database has queued so far is written; false if the timeout passes first';

CREATE FUNCTION scr.audit_queue_status(OUT database_oid oid, OUT queued bigint, OUT written bigint,
                                       OUT capacity integer, OUT worker_pid integer)
RETURNS SETOF record
    AS 'MODULE_PATHNAME' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION scr.audit_queue_status() IS
    'each database''s audit queue: events waiting, events written since the queue was claimed, capacity, and the writer''s pid';

REVOKE ALL ON FUNCTION scr.audit_flush(interval), scr.audit_queue_status() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION scr.audit_flush(interval), scr.audit_queue_status() TO scr_admin, scr_privacy_officer;
