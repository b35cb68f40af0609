/*
 * access_context.c
 *		The acting professional: who is asking, in which role profile,
 *		organisation and purpose, held in backend memory.
 *
 * A care professional's system opens a context with scr.open_context(token):
 * the token is signed with HMAC-SHA256 by the trusted calling system, with a
 * key the database holds in scr.context_key.  Or a login mapped in
 * scr.login_role_profile acts as its role profile with no token.  Either
 * way the context lives in this backend's memory, never in a setting a
 * client can SET.
 *
 * Scope: the transaction by default (safe behind transaction-pooling
 * connection poolers: the next transaction on the connection starts with no
 * identity); the session only when asked, and then cleared by
 * scr.close_context(), DISCARD ALL and RESET ALL.
 *
 * Token format (documented in docs/security.md):
 *   scr1.<kid>.<claims>.<mac>
 * kid names the key in scr.context_key; claims is base64url (no padding) of
 * a JSON object with keys sub, rp, org, pou, iat, exp, nonce and optionally
 * pat; mac is base64url of HMAC-SHA256(key, "scr1.<kid>.<claims>").  The
 * signature is checked before the claims are parsed: nothing unsigned is
 * ever interpreted.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "common/base64.h"
#include "common/hmac.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "tcop/utility.h"
#include "common/sha2.h"
#include "datatype/timestamp.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "scr.h"

/* The context of this backend; valid when active. */
typedef struct ActingContext
{
	bool		active;
	bool		session_scope;
	char		professional_id[65];
	char		role_profile_id[65];
	char		ods_code[13];
	char		purpose[17];
	int64		patient_id;		/* 0: none in context */
	char		source[8];		/* "token" or "login" */
	TimestampTz expires;		/* the token's exp; DT_NOEND for a login */
	SubTransactionId opened_in;	/* undone if this subtransaction aborts */
} ActingContext;

static ActingContext acting = {0};

/* Longest token accepted; real ones are a few hundred bytes. */
#define MAX_TOKEN_LENGTH 4096

/* scr.context_max_lifetime: the longest exp - iat accepted, seconds. */
int			scr_context_max_lifetime = 3600;

/* scr.break_glass_max_minutes: the longest break-glass grant. */
int			scr_break_glass_max_minutes = 120;

static ProcessUtility_hook_type prev_process_utility = NULL;

/* Bumped whenever the acting context changes, so caches can compare one number. */
static uint64 context_version = 1;

static void
context_clear(void)
{
	memset(&acting, 0, sizeof(acting));
	context_version++;
}

/* A transaction-scoped context ends with its transaction, whatever the outcome. */
static void
context_xact_callback(XactEvent event, void *arg pg_attribute_unused())
{
	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PREPARE:
			if (acting.active && !acting.session_scope)
				context_clear();
			break;
		default:
			break;
	}
}

/* A context opened in a subtransaction that rolls back is not open. */
static void
context_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
						 SubTransactionId parentSubid pg_attribute_unused(),
						 void *arg pg_attribute_unused())
{
	if (event == SUBXACT_EVENT_ABORT_SUB && acting.active && acting.opened_in == mySubid)
		context_clear();
}

/*
 * DISCARD ALL and RESET ALL reset a pooled session; they must take the
 * acting professional with them.  Chains to the previous hook.
 */
static void
context_process_utility(PlannedStmt *pstmt, const char *queryString, bool readOnlyTree,
						ProcessUtilityContext context, ParamListInfo params,
						QueryEnvironment *queryEnv, DestReceiver *dest, QueryCompletion *qc)
{
	Node	   *stmt = pstmt->utilityStmt;

	if ((IsA(stmt, DiscardStmt) && ((DiscardStmt *) stmt)->target == DISCARD_ALL) ||
		(IsA(stmt, VariableSetStmt) && ((VariableSetStmt *) stmt)->kind == VAR_RESET_ALL))
		context_clear();

	if (prev_process_utility)
		prev_process_utility(pstmt, queryString, readOnlyTree, context, params,
							 queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context, params,
								queryEnv, dest, qc);
}

void
access_context_init(void)
{
	DefineCustomIntVariable("scr.context_max_lifetime",
							"Longest lifetime (exp - iat) of a context token that is accepted.",
							NULL,
							&scr_context_max_lifetime,
							3600, 60, 86400,
							PGC_SUSET, GUC_UNIT_S,
							NULL, NULL, NULL);
	DefineCustomIntVariable("scr.break_glass_max_minutes",
							"Longest emergency (break-glass) access a professional is granted, in minutes.",
							"Longer requests are cut to this.",
							&scr_break_glass_max_minutes,
							120, 1, 1440,
							PGC_SUSET, GUC_UNIT_MIN,
							NULL, NULL, NULL);
	RegisterXactCallback(context_xact_callback, NULL);
	RegisterSubXactCallback(context_subxact_callback, NULL);
	prev_process_utility = ProcessUtility_hook;
	ProcessUtility_hook = context_process_utility;
}

/*
 * Refuse a token.  The message says why but never echoes the token (it
 * would reach the server log and the client).  The refusal is audited
 * first, outside this transaction.
 */
static void pg_attribute_noreturn()
token_refused(const char *why)
{
	audit_refusal(0, "context", psprintf("context token refused: %s", why));
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
			 errmsg("context token refused: %s", why)));
}

/* base64url without padding to bytes; returns length or -1. */
static int
base64url_decode(const char *src, int len, char *dst, int dstlen)
{
	char	   *std;
	int			padded = len + (4 - len % 4) % 4;
	int			i;

	if (len % 4 == 1)
		return -1;
	std = palloc(padded + 1);
	for (i = 0; i < len; i++)
	{
		char		c = src[i];

		if (c == '-')
			c = '+';
		else if (c == '_')
			c = '/';
		else if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
			return -1;
		std[i] = c;
	}
	for (; i < padded; i++)
		std[i] = '=';
	std[padded] = '\0';
	if (pg_b64_dec_len(padded) > dstlen)
		return -1;
	return pg_b64_decode(std, padded, dst, dstlen);
}

/* bytes to base64url without padding. */
static char *
base64url_encode(const uint8 *src, int len)
{
	int			enclen = pg_b64_enc_len(len);
	char	   *dst = palloc(enclen + 1);
	int			n = pg_b64_encode((const char *) src, len, dst, enclen);
	int			i;

	if (n < 0)
		elog(ERROR, "could not encode base64");
	while (n > 0 && dst[n - 1] == '=')
		n--;
	dst[n] = '\0';
	for (i = 0; i < n; i++)
	{
		if (dst[i] == '+')
			dst[i] = '-';
		else if (dst[i] == '/')
			dst[i] = '_';
	}
	return dst;
}

static void
hmac_sha256(const uint8 *key, int keylen, const char *data, int datalen, uint8 *out)
{
	pg_hmac_ctx *ctx = pg_hmac_create(PG_SHA256);

	if (ctx == NULL ||
		pg_hmac_init(ctx, key, keylen) < 0 ||
		pg_hmac_update(ctx, (const uint8 *) data, datalen) < 0 ||
		pg_hmac_final(ctx, out, PG_SHA256_DIGEST_LENGTH) < 0)
	{
		if (ctx)
			pg_hmac_free(ctx);
		elog(ERROR, "could not compute HMAC-SHA256");
	}
	pg_hmac_free(ctx);
}

/* A string claim, or NULL. */
static char *
claim_text(Jsonb *claims, const char *key, int maxlen)
{
	JsonbValue *v = getKeyJsonValueFromContainer(&claims->root, key, strlen(key), NULL);

	if (v == NULL || v->type != jbvString || v->val.string.len == 0 ||
		v->val.string.len > maxlen)
		return NULL;
	return pnstrdup(v->val.string.val, v->val.string.len);
}

/* An integer claim (seconds since 1970), or -1. */
static int64
claim_int(Jsonb *claims, const char *key)
{
	JsonbValue *v = getKeyJsonValueFromContainer(&claims->root, key, strlen(key), NULL);
	char	   *s;
	int64		result;
	char	   *end;

	if (v == NULL || v->type != jbvNumeric)
		return -1;
	s = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v->val.numeric)));
	errno = 0;
	result = strtoll(s, &end, 10);
	if (*end != '\0' || errno != 0 || result < 0)
		return -1;
	return result;
}

/*
 * Run a query with text parameters and return the first column of the first
 * row as a palloc'd string in the caller's context, or NULL.
 */
static char *
spi_lookup(const char *sql, int nargs, const char **args)
{
	Oid			types[4] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID};
	Datum		values[4];
	char		nulls[4];
	char	   *result = NULL;
	int			i;

	Assert(nargs <= 4);
	for (i = 0; i < nargs; i++)
	{
		values[i] = CStringGetTextDatum(args[i]);
		nulls[i] = ' ';
	}
	if (SPI_execute_with_args(sql, nargs, types, values, nulls, false, 1) < 0)
		elog(ERROR, "scr: context lookup failed");
	if (SPI_processed > 0)
	{
		char	   *v = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);

		if (v)
			result = MemoryContextStrdup(TopTransactionContext, v);
	}
	return result;
}

/* Check the role profile belongs to the professional at the organisation. */
static bool
role_profile_valid(const char *professional, const char *role_profile, const char *ods)
{
	const char *args[3] = {role_profile, professional, ods};

	return spi_lookup("SELECT 1 FROM scr.role_profile rp JOIN scr.professional p USING (professional_id) "
					  "WHERE rp.role_profile_id = $1 AND rp.professional_id = $2 AND rp.ods_code = $3 "
					  "AND rp.active AND p.active", 3, args) != NULL;
}

static const char *const purposes[] = {
	"TREAT", "ETREAT", "COC", "CAREMGT", "PATRQT", "POPHLTH", "HOPERAT", "HPAYMT", "HRESCH"
};

/*
 * scr.open_context(token text, session_scope boolean default false)
 *
 * Verify a signed token and make its professional the acting one.  SECURITY
 * DEFINER (it reads the keys); every refusal is 28000 and names the reason,
 * never the token.
 */
PG_FUNCTION_INFO_V1(open_context);
Datum
open_context(PG_FUNCTION_ARGS)
{
	text	   *token_text;
	char	   *token;
	int			len;
	char	   *dot1;
	char	   *dot2;
	char	   *payload;
	int			payload_len;
	char		mac[64];
	int			mac_len;
	uint8		expected[PG_SHA256_DIGEST_LENGTH];
	Jsonb	   *claims;
	char	   *kid,
			   *sub,
			   *rp,
			   *org,
			   *pou,
			   *nonce;
	int64		iat,
				exp,
				pat = 0,
				now_s;
	bool		session_scope = PG_ARGISNULL(1) ? false : PG_GETARG_BOOL(1);
	Datum		key_datum;
	bool		key_null;
	bytea	   *key;
	int			i;
	bool		purpose_known = false;

	/* Whatever happens next, the previous context is gone: fail closed. */
	context_clear();
	if (PG_ARGISNULL(0))
		token_refused("no token");
	token_text = PG_GETARG_TEXT_PP(0);
	len = VARSIZE_ANY_EXHDR(token_text);
	if (len == 0 || len > MAX_TOKEN_LENGTH)
		token_refused("malformed token");
	token = text_to_cstring(token_text);
	if (strncmp(token, "scr1.", 5) != 0)
		token_refused("unknown token format or algorithm");
	dot1 = strchr(token + 5, '.');
	if (dot1 == NULL)
		token_refused("malformed token");
	dot2 = strchr(dot1 + 1, '.');
	if (dot2 == NULL || strchr(dot2 + 1, '.') != NULL)
		token_refused("malformed token");
	kid = pnstrdup(token + 5, dot1 - (token + 5));
	if (kid[0] == '\0' || strlen(kid) > 32)
		token_refused("malformed key id");
	mac_len = base64url_decode(dot2 + 1, strlen(dot2 + 1), mac, sizeof(mac));
	if (mac_len != PG_SHA256_DIGEST_LENGTH)
		token_refused("malformed signature");

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	{
		Oid			argtypes[1] = {TEXTOID};
		Datum		args[1] = {CStringGetTextDatum(kid)};

		if (SPI_execute_with_args("SELECT secret FROM scr.context_key WHERE key_id = $1 AND active",
								  1, argtypes, args, NULL, true, 1) != SPI_OK_SELECT)
			elog(ERROR, "scr: key lookup failed");
		if (SPI_processed == 0)
			token_refused("unknown or retired key");
		key_datum = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &key_null);
		key = DatumGetByteaPP(key_datum);
		hmac_sha256((uint8 *) VARDATA_ANY(key), VARSIZE_ANY_EXHDR(key), token, dot2 - token, expected);
	}
	if (timingsafe_bcmp(expected, mac, PG_SHA256_DIGEST_LENGTH) != 0)
		token_refused("bad signature");

	/* Signed by a key we hold: the claims come from a trusted caller. */
	payload_len = dot2 - (dot1 + 1);
	payload = palloc(payload_len + 4);
	payload_len = base64url_decode(dot1 + 1, payload_len, payload, payload_len + 3);
	if (payload_len <= 0 || memchr(payload, '\0', payload_len) != NULL)
		token_refused("malformed claims");
	payload[payload_len] = '\0';
	claims = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(payload)));
	if (!JB_ROOT_IS_OBJECT(claims) || JB_ROOT_IS_SCALAR(claims))
		token_refused("malformed claims");

	/* Signed by a key we hold: now judge the claims. */
	sub = claim_text(claims, "sub", 64);
	rp = claim_text(claims, "rp", 64);
	org = claim_text(claims, "org", 12);
	pou = claim_text(claims, "pou", 16);
	nonce = claim_text(claims, "nonce", 128);
	iat = claim_int(claims, "iat");
	exp = claim_int(claims, "exp");
	if (getKeyJsonValueFromContainer(&claims->root, "pat", 3, NULL) != NULL)
	{
		pat = claim_int(claims, "pat");
		if (pat <= 0)
			token_refused("bad patient claim");
	}
	if (!sub || !rp || !org || !pou || !nonce || iat < 0 || exp < 0)
		token_refused("missing or malformed claims");
	for (i = 0; i < (int) lengthof(purposes); i++)
		purpose_known |= (strcmp(pou, purposes[i]) == 0);
	if (!purpose_known)
		token_refused("unknown purpose of use");

	now_s = (GetCurrentStatementStartTimestamp() / USECS_PER_SEC) +
		((POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY);
	if (exp <= now_s)
		token_refused("expired");
	if (iat > now_s + 60)
		token_refused("not yet valid");
	if (exp <= iat || exp - iat > scr_context_max_lifetime)
		token_refused("lifetime too long");

	if (!role_profile_valid(sub, rp, org))
		token_refused("unknown professional, role profile or organisation");

	/* A nonce is accepted once while its token could be live. */
	{
		Oid			argtypes[2] = {TEXTOID, TIMESTAMPTZOID};
		Datum		args[2];

		args[0] = CStringGetTextDatum(nonce);
		args[1] = TimestampTzGetDatum((TimestampTz) (exp - ((POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY)) * USECS_PER_SEC);
		if (SPI_execute_with_args("DELETE FROM scr.context_nonce WHERE expires_at < statement_timestamp() - interval '1 hour'",
								  0, NULL, NULL, NULL, false, 0) < 0 ||
			SPI_execute_with_args("INSERT INTO scr.context_nonce VALUES ($1, $2) ON CONFLICT DO NOTHING",
								  2, argtypes, args, NULL, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "scr: nonce check failed");
		if (SPI_processed == 0)
			token_refused("replayed");

		/* Opening a patient's record uses a permission to view it once. */
		if (pat > 0)
		{
			Oid			view_types[6] = {INT8OID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TIMESTAMPTZOID};
			Datum		view_args[6];

			view_args[0] = Int64GetDatum(pat);
			view_args[1] = CStringGetTextDatum(sub);
			view_args[2] = CStringGetTextDatum(org);
			view_args[3] = CStringGetTextDatum(rp);
			view_args[4] = CStringGetTextDatum(pou);
			view_args[5] = args[1];
			if (SPI_execute_with_args("SELECT scr._use_view_once($1, $2, $3, $4, $5, $6)",
									  6, view_types, view_args, NULL, false, 0) != SPI_OK_SELECT)
				elog(ERROR, "scr: permission to view once could not be checked");
		}
	}
	SPI_finish();

	context_clear();
	acting.active = true;
	acting.session_scope = session_scope;
	strlcpy(acting.professional_id, sub, sizeof(acting.professional_id));
	strlcpy(acting.role_profile_id, rp, sizeof(acting.role_profile_id));
	strlcpy(acting.ods_code, org, sizeof(acting.ods_code));
	strlcpy(acting.purpose, pou, sizeof(acting.purpose));
	strlcpy(acting.source, "token", sizeof(acting.source));
	acting.patient_id = pat;
	acting.expires = (TimestampTz) (exp - ((POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY)) * USECS_PER_SEC;
	acting.opened_in = GetCurrentSubTransactionId();
	PG_RETURN_VOID();
}

/*
 * scr.open_login_context(session_scope boolean default false): act as the
 * role profile the login is mapped to in scr.login_role_profile.
 */
PG_FUNCTION_INFO_V1(open_login_context);
Datum
open_login_context(PG_FUNCTION_ARGS)
{
	bool		session_scope = PG_ARGISNULL(0) ? false : PG_GETARG_BOOL(0);
	const char *login = GetUserNameFromId(GetSessionUserId(), false);
	const char *args[1] = {login};
	char	   *row;
	char	   *rp,
			   *professional,
			   *ods;

	context_clear();			/* fail closed, as open_context does */
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	row = spi_lookup("SELECT rp.role_profile_id || '|' || rp.professional_id || '|' || rp.ods_code "
					 "FROM scr.login_role_profile l JOIN scr.role_profile rp USING (role_profile_id) "
					 "JOIN scr.professional p USING (professional_id) "
					 "WHERE l.role_name = $1 AND rp.active AND p.active", 1, args);
	SPI_finish();
	if (row == NULL)
	{
		audit_refusal(0, "context", psprintf("login \"%s\" is not mapped to an active role profile", login));
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				 errmsg("login \"%s\" is not mapped to an active role profile", login),
				 errhint("An operator maps logins in scr.login_role_profile.")));
	}
	rp = row;
	professional = strchr(rp, '|');
	*professional++ = '\0';
	ods = strchr(professional, '|');
	*ods++ = '\0';

	context_clear();
	acting.active = true;
	acting.session_scope = session_scope;
	strlcpy(acting.professional_id, professional, sizeof(acting.professional_id));
	strlcpy(acting.role_profile_id, rp, sizeof(acting.role_profile_id));
	strlcpy(acting.ods_code, ods, sizeof(acting.ods_code));
	strlcpy(acting.purpose, "TREAT", sizeof(acting.purpose));
	strlcpy(acting.source, "login", sizeof(acting.source));
	acting.expires = DT_NOEND;
	acting.opened_in = GetCurrentSubTransactionId();
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(close_context);
Datum
close_context(PG_FUNCTION_ARGS)
{
	context_clear();
	PG_RETURN_VOID();
}

/*
 * Whether there is an acting context now: opened, and its token not expired
 * (a session-scoped context ends at its token's exp).
 */
static bool
context_live(void)
{
	return acting.active && GetCurrentStatementStartTimestamp() < acting.expires;
}

/*
 * The acting context's fields; NULL when there is none.  They cannot fail
 * and reveal nothing about any row: LEAKPROOF.
 */
#define CONTEXT_TEXT_FUNC(name, field) \
PG_FUNCTION_INFO_V1(name); \
Datum \
name(PG_FUNCTION_ARGS) \
{ \
	if (!context_live()) \
		PG_RETURN_NULL(); \
	PG_RETURN_TEXT_P(cstring_to_text(acting.field)); \
}

CONTEXT_TEXT_FUNC(context_professional, professional_id)
CONTEXT_TEXT_FUNC(context_role_profile, role_profile_id)
CONTEXT_TEXT_FUNC(context_organisation, ods_code)
CONTEXT_TEXT_FUNC(context_purpose, purpose)
CONTEXT_TEXT_FUNC(context_source, source)

PG_FUNCTION_INFO_V1(context_patient);
Datum
context_patient(PG_FUNCTION_ARGS)
{
	if (!context_live() || acting.patient_id == 0)
		PG_RETURN_NULL();
	PG_RETURN_INT64(acting.patient_id);
}

PG_FUNCTION_INFO_V1(context_is_session);
Datum
context_is_session(PG_FUNCTION_ARGS)
{
	if (!context_live())
		PG_RETURN_NULL();
	PG_RETURN_BOOL(acting.session_scope);
}

/*
 * scr.mint_context_token(key_id, professional, role_profile, organisation,
 * purpose, patient, lifetime) for trusted callers that let the database
 * sign (tests, demos, a gateway without its own HMAC library).
 */
PG_FUNCTION_INFO_V1(mint_context_token);
Datum
mint_context_token(PG_FUNCTION_ARGS)
{
	StringInfoData claims;
	StringInfoData token;
	uint8		mac[PG_SHA256_DIGEST_LENGTH];
	int64		now_s;
	int			lifetime;
	bool		key_null;
	bytea	   *key;
	Oid			argtypes[1] = {TEXTOID};
	Datum		args[1];
	uint8		nonce_bytes[16];
	int			i;

	for (i = 0; i < 5; i++)
		if (PG_ARGISNULL(i))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("key id, professional, role profile, organisation and purpose are required")));
	lifetime = PG_ARGISNULL(6) ? 300 : PG_GETARG_INT32(6);
	if (lifetime <= 0 || lifetime > scr_context_max_lifetime)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("lifetime must be between 1 and %d seconds", scr_context_max_lifetime)));
	if (!pg_strong_random(nonce_bytes, sizeof(nonce_bytes)))
		elog(ERROR, "could not generate a nonce");

	now_s = (GetCurrentStatementStartTimestamp() / USECS_PER_SEC) +
		((POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY);
	initStringInfo(&claims);
	appendStringInfoString(&claims, "{\"sub\": ");
	escape_json(&claims, text_to_cstring(PG_GETARG_TEXT_PP(1)));
	appendStringInfoString(&claims, ", \"rp\": ");
	escape_json(&claims, text_to_cstring(PG_GETARG_TEXT_PP(2)));
	appendStringInfoString(&claims, ", \"org\": ");
	escape_json(&claims, text_to_cstring(PG_GETARG_TEXT_PP(3)));
	appendStringInfoString(&claims, ", \"pou\": ");
	escape_json(&claims, text_to_cstring(PG_GETARG_TEXT_PP(4)));
	if (!PG_ARGISNULL(5))
		appendStringInfo(&claims, ", \"pat\": " INT64_FORMAT, PG_GETARG_INT64(5));
	appendStringInfo(&claims, ", \"iat\": " INT64_FORMAT ", \"exp\": " INT64_FORMAT ", \"nonce\": \"%s\"}",
					 now_s, now_s + lifetime, base64url_encode(nonce_bytes, sizeof(nonce_bytes)));

	initStringInfo(&token);
	appendStringInfo(&token, "scr1.%s.%s", text_to_cstring(PG_GETARG_TEXT_PP(0)),
					 base64url_encode((uint8 *) claims.data, claims.len));

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	args[0] = PG_GETARG_DATUM(0);
	if (SPI_execute_with_args("SELECT secret FROM scr.context_key WHERE key_id = $1 AND active",
							  1, argtypes, args, NULL, true, 1) != SPI_OK_SELECT || SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("no active context key \"%s\"", text_to_cstring(PG_GETARG_TEXT_PP(0)))));
	key = DatumGetByteaPP(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &key_null));
	hmac_sha256((uint8 *) VARDATA_ANY(key), VARSIZE_ANY_EXHDR(key), token.data, token.len, mac);
	SPI_finish();

	appendStringInfo(&token, ".%s", base64url_encode(mac, sizeof(mac)));
	PG_RETURN_TEXT_P(cstring_to_text(token.data));
}

/* The acting context's fields for other C code; NULL when there is none. */
const char *
access_context_professional(void)
{
	return context_live() ? acting.professional_id : NULL;
}

const char *
access_context_role_profile(void)
{
	return context_live() ? acting.role_profile_id : NULL;
}

const char *
access_context_organisation(void)
{
	return context_live() ? acting.ods_code : NULL;
}

const char *
access_context_purpose(void)
{
	return context_live() ? acting.purpose : NULL;
}

int64
access_context_patient_id(void)
{
	return context_live() ? acting.patient_id : 0;
}

uint64
access_context_version(void)
{
	return context_version;
}

TimestampTz
access_context_expires(void)
{
	return acting.active ? acting.expires : DT_NOBEGIN;
}
