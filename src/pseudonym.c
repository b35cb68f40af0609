/*
 * pseudonym.c
 *		Stable pseudonyms for secondary use: a keyed HMAC of the patient id.
 *
 * The key lives in scr.pseudonym_key, readable by no application role; it is
 * made at install and kept by pg_dump, so pseudonyms survive a restore.
 * Without the key a pseudonym cannot be linked back to a patient.
 */
#include "postgres.h"

#include "common/hmac.h"
#include "common/sha2.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "scr.h"

/*
 * scr._random_key() returns bytea: 32 bytes from the strong random source,
 * for the install script.
 */
PG_FUNCTION_INFO_V1(random_key);
Datum
random_key(PG_FUNCTION_ARGS)
{
	bytea	   *result = palloc(VARHDRSZ + 32);

	SET_VARSIZE(result, VARHDRSZ + 32);
	if (!pg_strong_random(VARDATA(result), 32))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not generate random bytes")));
	PG_RETURN_BYTEA_P(result);
}

/*
 * scr.pseudonym(patient_id bigint, key bytea) returns text: 32 hex digits
 * of HMAC-SHA256(key, patient id).  The secondary-use views pass the key
 * from scr.pseudonym_key; they run as its owner.
 */
PG_FUNCTION_INFO_V1(pseudonym);
Datum
pseudonym(PG_FUNCTION_ARGS)
{
	int64		patient_id = PG_GETARG_INT64(0);
	bytea	   *key = PG_GETARG_BYTEA_PP(1);
	char		id[32];
	uint8		mac[PG_SHA256_DIGEST_LENGTH];
	char		hex[33];
	pg_hmac_ctx *ctx;
	int			i;

	snprintf(id, sizeof(id), INT64_FORMAT, patient_id);
	ctx = pg_hmac_create(PG_SHA256);
	if (ctx == NULL ||
		pg_hmac_init(ctx, (uint8 *) VARDATA_ANY(key), VARSIZE_ANY_EXHDR(key)) < 0 ||
		pg_hmac_update(ctx, (uint8 *) id, strlen(id)) < 0 ||
		pg_hmac_final(ctx, mac, sizeof(mac)) < 0)
	{
		if (ctx)
			pg_hmac_free(ctx);
		elog(ERROR, "could not compute HMAC-SHA256");
	}
	pg_hmac_free(ctx);
	for (i = 0; i < 16; i++)
		snprintf(hex + 2 * i, 3, "%02x", mac[i]);
	PG_RETURN_TEXT_P(cstring_to_text(hex));
}
