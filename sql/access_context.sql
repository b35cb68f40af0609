-- The acting professional: signed context tokens, login mapping, scope, and
-- every way a token can be wrong.
SET search_path = public, scr;
\set SHOW_CONTEXT never
CREATE EXTENSION IF NOT EXISTS pgcrypto;

INSERT INTO scr.organisation (ods_code, name, kind) VALUES ('B86001', 'Riverside Medical Practice', 'gp_practice');
INSERT INTO scr.professional (professional_id, name, active) VALUES
    ('P001', 'Dr Asha Patel', true), ('P002', 'Nurse Sam Lee', true), ('P003', 'Dr Left Ages', false);
INSERT INTO scr.role_profile VALUES ('RP001', 'P001', 'B86001', 'R8000'),
                                    ('RP002', 'P002', 'B86001', 'R8001'),
                                    ('RP003', 'P003', 'B86001', 'R8000');
INSERT INTO scr.context_key (key_id, secret) VALUES
    ('gw1', decode(repeat('ab', 32), 'hex')),
    ('gw2', decode(repeat('cd', 32), 'hex'));
INSERT INTO scr.context_key (key_id, secret, active) VALUES ('old', decode(repeat('ef', 32), 'hex'), false);

-- ctx_token(kid, secret, claims): what a calling system does, in SQL.
-- (Helpers live in public, not pg_temp: DISCARD ALL drops temporary objects.)
CREATE FUNCTION public.ctx_b64url(b bytea) RETURNS text LANGUAGE sql IMMUTABLE AS
$$ SELECT translate(encode(b, 'base64'), E'+/=\n', '-_') $$;
CREATE FUNCTION public.ctx_token(kid text, secret bytea, claims jsonb) RETURNS text LANGUAGE sql AS $$
    SELECT head || '.' || public.ctx_b64url(hmac(convert_to(head, 'UTF8'), secret, 'sha256'))
    FROM (SELECT 'scr1.' || kid || '.' || public.ctx_b64url(convert_to(claims::text, 'UTF8')) AS head) h
$$;
CREATE FUNCTION public.ctx_claims(nonce text, iat_offset int DEFAULT 0, lifetime int DEFAULT 300,
                               sub text DEFAULT 'P001', rp text DEFAULT 'RP001', pou text DEFAULT 'TREAT')
RETURNS jsonb LANGUAGE sql AS $$
    SELECT jsonb_build_object('sub', sub, 'rp', rp, 'org', 'B86001', 'pou', pou,
                              'iat', extract(epoch FROM statement_timestamp())::bigint + iat_offset,
                              'exp', extract(epoch FROM statement_timestamp())::bigint + iat_offset + lifetime,
                              'nonce', nonce)
$$;
-- refused(q): how q was refused.
CREATE FUNCTION public.ctx_refused(q text) RETURNS text LANGUAGE plpgsql AS $f$
DECLARE st text; msg text;
BEGIN
    EXECUTE q;
    RETURN 'accepted';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
    RETURN st || ' ' || msg;
END $f$;

-- No context: every field is NULL.
SELECT scr.context_professional(), scr.context_role_profile(), scr.context_organisation(),
       scr.context_purpose(), scr.context_patient(), scr.context_is_session();

-- A good token opens a context for the transaction only.
BEGIN;
SELECT scr.open_context(public.ctx_token('gw1', decode(repeat('ab', 32), 'hex'), public.ctx_claims('n1')));
SELECT scr.context_professional(), scr.context_role_profile(), scr.context_organisation(),
       scr.context_purpose(), scr.context_patient(), scr.context_is_session(), scr.context_source();
COMMIT;
SELECT scr.context_professional() AS after_commit;
-- ... and ends on ROLLBACK too.
BEGIN;
SELECT scr.open_context(public.ctx_token('gw2', decode(repeat('cd', 32), 'hex'), public.ctx_claims('n2') || '{"pat": 42}'));
SELECT scr.context_professional(), scr.context_patient();
ROLLBACK;
SELECT scr.context_professional() AS after_rollback;

-- Session scope lasts across transactions until closed, DISCARD ALL or RESET ALL.
SELECT scr.open_context(public.ctx_token('gw1', decode(repeat('ab', 32), 'hex'), public.ctx_claims('n3')), true);
SELECT scr.context_professional() AS next_transaction, scr.context_is_session();
SELECT scr.close_context();
SELECT scr.context_professional() AS after_close;
SELECT scr.open_context(public.ctx_token('gw1', decode(repeat('ab', 32), 'hex'), public.ctx_claims('n4')), true);
DISCARD ALL;
SELECT scr.context_professional() AS after_discard_all;
SET search_path = public, scr;
SELECT scr.open_context(public.ctx_token('gw1', decode(repeat('ab', 32), 'hex'), public.ctx_claims('n5')), true);
RESET ALL;
SELECT scr.context_professional() AS after_reset_all;
SET search_path = public, scr;

-- The mint helper makes tokens open_context accepts.
BEGIN;
SELECT scr.open_context(scr.mint_context_token('gw2', 'P002', 'RP002', 'B86001', 'ETREAT', 7, 60));
SELECT scr.context_professional(), scr.context_purpose(), scr.context_patient();
COMMIT;

-- Every bad token is refused with 28000 and the reason, never echoing it.
SELECT public.ctx_refused(q) FROM (VALUES
    ('SELECT scr.open_context(NULL)'),
    ('SELECT scr.open_context('''')'),
    ('SELECT scr.open_context(repeat(''x'', 5000))'),
    ('SELECT scr.open_context(''eyJhbGciOiJIUzI1NiJ9.e30.abc'')'),
    ('SELECT scr.open_context(''scr1.gw1.abc'')'),
    ('SELECT scr.open_context(''scr1.gw1.abc.def.ghi'')'),
    ('SELECT scr.open_context(''scr1.gw1.e30.short'')')
) AS t(q);
-- Signed wrongly, altered, replayed, expired, early, too long-lived, by a
-- retired or unknown key, for a role profile not the professional's.
SELECT public.ctx_token('gw1', decode(repeat('ab', 32), 'hex'), public.ctx_claims('n6')) AS good \gset
SELECT public.ctx_refused(format('SELECT scr.open_context(%L)', q)) FROM (VALUES
    (public.ctx_token('gw1', decode(repeat('00', 32), 'hex'), public.ctx_claims('n7'))),
    (regexp_replace(:'good', '\.[^.]+$', '') || '.' || public.ctx_b64url(hmac('x'::bytea, 'y'::bytea, 'sha256'))),
    (public.ctx_token('gw1', decode(repeat('ab', 32), 'hex'), public.ctx_claims('n1'))),
    (public.ctx_token('gw1', decode(repeat('ab', 32), 'hex'), public.ctx_claims('n8', -400))),
    (public.ctx_token('gw1', decode(repeat('ab', 32), 'hex'), public.ctx_claims('n9', 3600))),
    (public.ctx_token('gw1', decode(repeat('ab', 32), 'hex'), public.ctx_claims('n10', 0, 7200))),
    (public.ctx_token('old', decode(repeat('ef', 32), 'hex'), public.ctx_claims('n11'))),
    (public.ctx_token('nokey', decode(repeat('ab', 32), 'hex'), public.ctx_claims('n12'))),
    (public.ctx_token('gw1', decode(repeat('ab', 32), 'hex'), public.ctx_claims('n13', 0, 300, 'P002', 'RP001'))),
    (public.ctx_token('gw1', decode(repeat('ab', 32), 'hex'), public.ctx_claims('n14', 0, 300, 'P003', 'RP003'))),
    (public.ctx_token('gw1', decode(repeat('ab', 32), 'hex'), public.ctx_claims('n15', 0, 300, 'P001', 'RP001', 'MARKETING'))),
    (public.ctx_token('gw1', decode(repeat('ab', 32), 'hex'), public.ctx_claims('n16') - 'nonce')),
    (public.ctx_token('gw1', decode(repeat('ab', 32), 'hex'), public.ctx_claims('n17') || '{"pat": -1}')),
    (public.ctx_token('gw1', decode(repeat('ab', 32), 'hex'), public.ctx_claims('n18') || '{"sub": ""}'))
) AS t(q);
-- The altered token differs from the good one only in its signature; the
-- good one still opens (its nonce was not spent by the refusals).
BEGIN;
SELECT scr.open_context(:'good');
SELECT scr.context_professional();
COMMIT;
-- A refused token leaves no context behind.
SELECT scr.context_professional() AS after_refusals;

-- A context opened in a subtransaction that rolls back is not open.
BEGIN;
SAVEPOINT s;
SELECT scr.open_context(public.ctx_token('gw1', decode(repeat('ab', 32), 'hex'), public.ctx_claims('n20')));
ROLLBACK TO SAVEPOINT s;
SELECT scr.context_professional() AS after_rollback_to_savepoint;
COMMIT;
-- A refused token takes an earlier session context with it: fail closed.
SELECT scr.open_context(public.ctx_token('gw1', decode(repeat('ab', 32), 'hex'), public.ctx_claims('n21')), true);
SELECT scr.context_professional() AS session_open;
SELECT public.ctx_refused('SELECT scr.open_context(''scr1.gw1.e30.x'')');
SELECT scr.context_professional() AS after_refused_token;

-- A login mapped to a role profile acts as it without a token.
CREATE ROLE regress_clinician LOGIN;
INSERT INTO scr.login_role_profile VALUES ('regress_clinician', 'RP002');
CREATE ROLE regress_unmapped LOGIN;
\c - regress_clinician
BEGIN;
SELECT scr.open_login_context();
SELECT scr.context_professional(), scr.context_role_profile(), scr.context_source();
COMMIT;
-- The calling systems' functions and the keys are out of its reach.
\set ON_ERROR_STOP 0
SELECT scr.open_context('scr1.gw1.e30.x');
SELECT scr.mint_context_token('gw1', 'P001', 'RP001', 'B86001', 'TREAT');
SELECT count(*) FROM scr.context_key;
SET scr.context_max_lifetime = 86400;
\c - regress_unmapped
SELECT scr.open_login_context();
\set ON_ERROR_STOP 1
\c - postgres
DROP ROLE regress_clinician, regress_unmapped;
DROP FUNCTION public.ctx_b64url(bytea), public.ctx_token(text, bytea, jsonb),
    public.ctx_claims(text, int, int, text, text, text), public.ctx_refused(text);
