/*
 * audit_seal.c
 *		The hash chain over audit events: sealing and verifying it.
 *
 * Events are inserted by many transactions at once, and commit in another
 * order than their ids, so the chain cannot follow ids as they are handed
 * out without a global lock on every insert.  Instead each event records
 * the transaction that inserted it (inserted_xact) and the cluster it was
 * inserted in (inserted_system, the system identifier).  A seal covers
 * every event of one cluster whose transaction lies in [xact_lo, xact_hi),
 * where xact_hi is the oldest transaction still running when the seal was
 * made: every transaction below it has ended, so no event can join the
 * range later.  The next seal starts where this one ended.  Within a seal
 * events are hashed in (inserted_xact, audit_event_id) order, one canonical
 * line each (scr.audit_event_canonical), and the seal's hash chains the
 * previous seal's hash with that digest and the seal's own range.
 *
 * A cluster restored from a dump has another system identifier and starts
 * its transaction numbers again: its events get seals of their own, and
 * events of the old cluster that were not sealed before the dump are
 * sealed once, in an open-ended seal, by the first seal on the new one.
 *
 * scr.verify_audit() walks the seals in order and reports the first that
 * does not hold: a seal changed or removed, an event changed, removed or
 * added inside a sealed range.
 */
#include "postgres.h"

#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_type.h"
#include "common/cryptohash.h"
#include "common/hashfn.h"
#include "common/sha2.h"
#include "miscadmin.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"

#include "scr.h"

static int64
audit_origin(void)
{
	return (int64) hash_uint32_extended(MyDatabaseId, GetSystemIdentifier());
}

/* The digest of one seal's events, and how many there were. */
typedef struct SealDigest
{
	int64		count;
	uint8		hash[PG_SHA256_DIGEST_LENGTH];
} SealDigest;

/*
 * Hash the canonical lines of the events of one cluster whose transaction
 * lies in [lo, hi) (hi NULL: no upper bound), in the chain's order.  A seal
 * reads with a fresh snapshot (fresh): the caller's statement snapshot was
 * taken before the seal lock and the horizon, and would miss transactions
 * that committed in between below the horizon.
 */
static void
digest_range(int64 system, const char *lo, const char *hi, bool fresh, SealDigest *out)
{
	Oid			types[3] = {INT8OID, TEXTOID, TEXTOID};
	Datum		values[3];
	char		nulls[3] = {' ', ' ', hi ? ' ' : 'n'};
	Portal		portal;
	pg_cryptohash_ctx *ctx = pg_cryptohash_create(PG_SHA256);

	if (pg_cryptohash_init(ctx) < 0)
		elog(ERROR, "could not start a SHA-256 digest");
	values[0] = Int64GetDatum(system);
	values[1] = CStringGetTextDatum(lo);
	values[2] = hi ? CStringGetTextDatum(hi) : (Datum) 0;
	portal = SPI_cursor_open_with_args(NULL,
									   "SELECT scr.audit_event_canonical(e) FROM scr.audit_event e"
									   " WHERE e.inserted_system = $1 AND e.inserted_xact >= $2::pg_catalog.xid8"
									   " AND ($3 IS NULL OR e.inserted_xact < $3::pg_catalog.xid8)"
									   " ORDER BY e.inserted_xact, e.audit_event_id",
									   3, types, values, nulls, !fresh, 0);
	out->count = 0;
	for (;;)
	{
		uint64		i;

		SPI_cursor_fetch(portal, true, 1000);
		if (SPI_processed == 0)
			break;
		for (i = 0; i < SPI_processed; i++)
		{
			char	   *line = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);

			if (pg_cryptohash_update(ctx, (uint8 *) line, strlen(line)) < 0 ||
				pg_cryptohash_update(ctx, (const uint8 *) "\n", 1) < 0)
				elog(ERROR, "could not update a SHA-256 digest");
			pfree(line);
			out->count++;
		}
		SPI_freetuptable(SPI_tuptable);
	}
	SPI_cursor_close(portal);
	if (pg_cryptohash_final(ctx, out->hash, sizeof(out->hash)) < 0)
		elog(ERROR, "could not finish a SHA-256 digest");
	pg_cryptohash_free(ctx);
}

static bytea *
digest_bytea(const SealDigest *d)
{
	bytea	   *b = palloc(VARHDRSZ + PG_SHA256_DIGEST_LENGTH);

	SET_VARSIZE(b, VARHDRSZ + PG_SHA256_DIGEST_LENGTH);
	memcpy(VARDATA(b), d->hash, PG_SHA256_DIGEST_LENGTH);
	return b;
}

/* Seal one range if it holds events; returns how many it sealed. */
static int64
seal_range(int64 system, const char *lo, const char *hi)
{
	SealDigest	d;
	Oid			types[5] = {INT8OID, TEXTOID, TEXTOID, INT8OID, BYTEAOID};
	Datum		values[5];
	char		nulls[5] = {' ', ' ', hi ? ' ' : 'n', ' ', ' '};

	digest_range(system, lo, hi, true, &d);
	if (d.count == 0)
		return 0;
	values[0] = Int64GetDatum(system);
	values[1] = CStringGetTextDatum(lo);
	values[2] = hi ? CStringGetTextDatum(hi) : (Datum) 0;
	values[3] = Int64GetDatum(d.count);
	values[4] = PointerGetDatum(digest_bytea(&d));
	if (SPI_execute_with_args("INSERT INTO scr.audit_seal (system_identifier, xact_lo, xact_hi, event_count,"
							  " events_hash, prev_hash, seal_hash)"
							  " SELECT $1, $2::pg_catalog.xid8, $3::pg_catalog.xid8, $4, $5, prev.seal_hash,"
							  " scr.audit_seal_hash(prev.seal_hash, $5, $1, $2::pg_catalog.xid8, $3::pg_catalog.xid8, $4)"
							  " FROM (SELECT NULL) one"
							  " LEFT JOIN (SELECT s.seal_hash FROM scr.audit_seal s WHERE s.system_identifier = $1"
							  "            ORDER BY s.seal_id DESC LIMIT 1) prev ON true",
							  5, types, values, nulls, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not insert an audit seal");
	return d.count;
}

/* The first column of the first row of a query, as text, or NULL. */
static char *
spi_text(const char *sql, int64 system)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(system)};

	if (SPI_execute_with_args(sql, 1, types, values, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "scr: query failed: %s", sql);
	if (SPI_processed == 0)
		return NULL;
	return SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
}

/*
 * scr.audit_seal() returns bigint: seal every event whose transaction has
 * ended and that no seal covers yet; how many were sealed.  The audit
 * worker calls it every scr.audit_seal_interval; operators may too.
 */
PG_FUNCTION_INFO_V1(audit_seal);
Datum
audit_seal(PG_FUNCTION_ARGS)
{
	int64		system = audit_origin();
	int64		sealed = 0;
	char	   *horizon;
	char	   *lo;

	if (IsolationUsesXactSnapshot())
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("scr.audit_seal() must run in a READ COMMITTED transaction"),
				 errdetail("It must see every transaction that ended before it.")));
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	/* One sealer at a time; the lock is taken before the horizon is read. */
	if (SPI_execute("LOCK TABLE scr.audit_seal IN EXCLUSIVE MODE", false, 0) != SPI_OK_UTILITY)
		elog(ERROR, "could not lock scr.audit_seal");
	horizon = spi_text("SELECT pg_catalog.pg_snapshot_xmin(pg_catalog.pg_current_snapshot())::text"
					   " WHERE $1 IS NOT NULL", system);

	lo = spi_text("SELECT s.xact_hi::text FROM scr.audit_seal s WHERE s.system_identifier = $1"
				  " ORDER BY s.seal_id DESC LIMIT 1", system);
	sealed += seal_range(system, lo ? lo : "0", horizon);

	/*
	 * Events another origin left unsealed (this database was restored from
	 * its dump, or copied from it) are all there once loaded: each origin's
	 * are sealed once, in an open-ended seal after its last.  Checked on
	 * every seal, since a restore may load the seals before or after the
	 * events.
	 */
	{
		uint64		i;
		SPITupleTable *earlier;
		uint64		nearlier;

		if (SPI_execute_with_args("SELECT DISTINCT ON (s.system_identifier) s.system_identifier, s.xact_hi::text"
								  " FROM scr.audit_seal s WHERE s.system_identifier <> $1"
								  " ORDER BY s.system_identifier, s.seal_id DESC",
								  1, (Oid[]) {INT8OID}, (Datum[]) {Int64GetDatum(system)}, NULL, false, 0) != SPI_OK_SELECT)
			elog(ERROR, "could not read the audit seals");
		earlier = SPI_tuptable;
		nearlier = SPI_processed;
		for (i = 0; i < nearlier; i++)
		{
			bool		isnull;
			int64		other = DatumGetInt64(SPI_getbinval(earlier->vals[i], earlier->tupdesc, 1, &isnull));
			char	   *other_hi = SPI_getvalue(earlier->vals[i], earlier->tupdesc, 2);

			if (other_hi != NULL)
				sealed += seal_range(other, other_hi, NULL);
		}
	}
	SPI_finish();
	PG_RETURN_INT64(sealed);
}

/*
 * scr.verify_audit(): walk each origin's chain from its first seal and
 * report the first seal that does not hold, with the number of events checked and of
 * events not sealed yet.
 */
PG_FUNCTION_INFO_V1(verify_audit);
Datum
verify_audit(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	Datum		result[6];
	bool		nulls[6] = {false, false, false, false, true, true};
	int64		seals = 0;
	int64		events = 0;
	int64		total;
	bytea	   *prev = NULL;
	int64		prev_system = 0;
	bool		have_system = false;
	char	   *problem = NULL;
	int64		broken = 0;
	Portal		portal;
	MemoryContext outer = CurrentMemoryContext;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	portal = SPI_cursor_open_with_args(NULL,
									   "SELECT s.seal_id, s.system_identifier, s.xact_lo::text, s.xact_hi::text,"
									   " s.event_count, s.events_hash, s.prev_hash,"
									   " s.seal_hash = scr.audit_seal_hash(s.prev_hash, s.events_hash, s.system_identifier,"
									   "   s.xact_lo, s.xact_hi, s.event_count) AS seal_holds,"
									   " s.seal_hash"
									   " FROM scr.audit_seal s ORDER BY s.system_identifier, s.seal_id",
									   0, NULL, NULL, NULL, true, 0);
	while (problem == NULL)
	{
		SPITupleTable *batch;
		uint64		nbatch;
		uint64		i;

		SPI_cursor_fetch(portal, true, 100);
		if (SPI_processed == 0)
			break;
		batch = SPI_tuptable;
		nbatch = SPI_processed;
		for (i = 0; i < nbatch && problem == NULL; i++)
		{
			HeapTuple	tup = batch->vals[i];
			TupleDesc	desc = batch->tupdesc;
			bool		isnull;
			bool		prev_null;
			int64		seal_id = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
			int64		system = DatumGetInt64(SPI_getbinval(tup, desc, 2, &isnull));
			char	   *lo = SPI_getvalue(tup, desc, 3);
			char	   *hi = SPI_getvalue(tup, desc, 4);
			int64		count = DatumGetInt64(SPI_getbinval(tup, desc, 5, &isnull));
			bytea	   *events_hash = DatumGetByteaPP(SPI_getbinval(tup, desc, 6, &isnull));
			Datum		prev_hash = SPI_getbinval(tup, desc, 7, &prev_null);
			bool		holds = DatumGetBool(SPI_getbinval(tup, desc, 8, &isnull));
			SealDigest	d;

			broken = seal_id;
			/* Each origin's seals are a chain of their own. */
			if (!have_system || system != prev_system)
			{
				prev = NULL;
				prev_system = system;
				have_system = true;
			}
			if (prev_null != (prev == NULL) ||
				(prev && !DatumGetBool(DirectFunctionCall2(byteaeq, prev_hash, PointerGetDatum(prev)))))
				problem = psprintf("seal %lld does not follow the seal before it: a seal was removed or changed",
								   (long long) seal_id);
			else if (isnull || !holds)
				problem = psprintf("seal %lld was changed", (long long) seal_id);
			else
			{
				MemoryContext cxt = MemoryContextSwitchTo(outer);

				prev = DatumGetByteaPCopy(SPI_getbinval(tup, desc, 9, &isnull));
				MemoryContextSwitchTo(cxt);
				digest_range(system, lo, hi, false, &d);
				if (d.count != count)
					problem = psprintf("seal %lld covered %lld events; %lld are there now",
									   (long long) seal_id, (long long) count, (long long) d.count);
				else if (VARSIZE_ANY_EXHDR(events_hash) != PG_SHA256_DIGEST_LENGTH ||
						 memcmp(VARDATA_ANY(events_hash), d.hash, PG_SHA256_DIGEST_LENGTH) != 0)
					problem = psprintf("an event sealed by seal %lld was changed", (long long) seal_id);
				else
				{
					seals++;
					events += count;
				}
			}
		}
		SPI_freetuptable(batch);
	}
	SPI_cursor_close(portal);

	if (SPI_execute("SELECT count(*) FROM scr.audit_event", true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not count the audit events");
	{
		bool		isnull;

		total = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	}
	if (problem)
		problem = MemoryContextStrdup(outer, problem);
	SPI_finish();

	result[0] = BoolGetDatum(problem == NULL);
	result[1] = Int64GetDatum(seals);
	result[2] = Int64GetDatum(events);
	result[3] = Int64GetDatum(problem ? 0 : total - events);
	nulls[3] = problem != NULL;
	if (problem)
	{
		nulls[4] = nulls[5] = false;
		result[4] = Int64GetDatum(broken);
		result[5] = CStringGetTextDatum(problem);
	}
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, result, nulls)));
}

/*
 * scr.audit_system_identifier(): this database in this cluster, for
 * inserted_system.  A database restored from a dump, or copied as a
 * template, into this or another cluster is another origin: its events are
 * sealed in a chain of their own, and those it brought with it keep theirs.
 */
PG_FUNCTION_INFO_V1(audit_system_identifier);
Datum
audit_system_identifier(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT64(audit_origin());
}
