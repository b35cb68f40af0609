-- Auditing reads and refusals (src/audit_read.c).  The capture itself needs
-- no SQL: the access decision notes each patient it lets through.

-- A refused access, recorded outside the refusing transaction (outcome 4)
-- before the refusal is raised.  For scr's own SECURITY DEFINER functions.
CREATE FUNCTION scr.audit_refusal(patient_id bigint, object text, reason text) RETURNS void
    AS 'MODULE_PATHNAME', 'audit_refusal_sql' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION scr.audit_refusal(bigint, text, text) IS
    'internal: record a refused access (outcome 4) that survives the refusal''s error';
REVOKE ALL ON FUNCTION scr.audit_refusal(bigint, text, text) FROM PUBLIC;
