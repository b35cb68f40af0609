/*
 * audit_queue.c
 *		The queue that carries audit events out of the transaction that made
 *		them, and the background worker that writes them.
 *
 * A read must stay audited when the reading transaction rolls back, fails
 * or is READ ONLY, so a reader cannot write its own events.  It puts them
 * in a ring in shared memory instead, one ring per database, and a
 * background worker connected to that database inserts them into
 * scr.audit_event in transactions of its own.  The worker is started on
 * demand (by the first event, or by a transaction that wrote events and
 * needs sealing) and leaves after scr.audit_worker_idle seconds without
 * work, so that DROP DATABASE is not held up for long.  While it runs it
 * also seals the hash chain (scr.audit_seal) and records the end of expired
 * break-glass grants.
 *
 * Full queue: a backend waits up to scr.audit_queue_wait for room, then
 * fails: the statement that read errors before more is read (fail closed).
 * Events are never dropped; ones that cannot be queued while a transaction
 * aborts go to the server log, whole.
 */
#include "postgres.h"

#include "access/xact.h"
#include "commands/dbcommands.h"
#include "commands/defrem.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/condition_variable.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "tcop/tcopprot.h"
#include "tcop/utility.h"
#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "scr.h"

/* How many databases can have events queued at once. */
#define AUDIT_QUEUE_DATABASES 8

/* Events the worker writes in one transaction. */
#define AUDIT_WRITE_BATCH 256

typedef enum
{
	WORKER_NONE,
	WORKER_STARTING,
	WORKER_RUNNING
} WorkerState;

/* One database's ring.  head and tail count events ever queued/written. */
typedef struct AuditQueue
{
	Oid			dboid;
	WorkerState worker_state;
	TimestampTz worker_started;
	int			worker_pid;
	Latch	   *worker_latch;
	uint64		head;
	uint64		tail;
	bool		seal_wanted;
	bool		leave_wanted;	/* DROP DATABASE and the like are waiting */
	ConditionVariable written;
} AuditQueue;

typedef struct AuditShared
{
	LWLock	   *lock;
	int			slots;			/* events per ring */
	AuditQueue	queues[AUDIT_QUEUE_DATABASES];
	AuditRecord records[FLEXIBLE_ARRAY_MEMBER];	/* slots per ring, ring by ring */
} AuditShared;

static AuditShared *audit_shared = NULL;

static AuditRecord *ring(AuditQueue *q);

/* scr.audit_queue_size: events each database's ring holds. */
static int	audit_queue_size = 4096;

/* scr.audit_queue_wait: how long a backend waits for room, ms. */
static int	audit_queue_wait = 10000;

/* scr.audit_worker_idle: seconds without work before the worker leaves. */
static int	audit_worker_idle = 2;

/* scr.audit_seal_interval: seconds between the worker's seals. */
static int	audit_seal_interval = 1;

/* How long the writer stays for events a running transaction keeps unsealed. */
#define AUDIT_WORKER_MAX_LINGER_MS 30000

static shmem_request_hook_type prev_shmem_request = NULL;
static ProcessUtility_hook_type prev_process_utility = NULL;
static shmem_startup_hook_type prev_shmem_startup = NULL;

/* This backend wrote audit rows in the current transaction. */
static bool wrote_events = false;

static volatile sig_atomic_t worker_stopping = false;

PGDLLEXPORT void audit_worker_main(Datum arg);

static Size
audit_shmem_size(void)
{
	return add_size(offsetof(AuditShared, records),
					mul_size(sizeof(AuditRecord),
							 mul_size(AUDIT_QUEUE_DATABASES, audit_queue_size)));
}

static void
audit_shmem_request(void)
{
	if (prev_shmem_request)
		prev_shmem_request();
	RequestAddinShmemSpace(audit_shmem_size());
	RequestNamedLWLockTranche("scr_audit_queue", 1);
}

/* An event that cannot be written goes to the server log, whole. */
void
audit_record_log(const AuditRecord *r)
{
	ereport(LOG,
			(errmsg("scr audit event not written to scr.audit_event: action %c, type %s, outcome %d, patient " INT64_FORMAT
					", object %s, rows " INT64_FORMAT ", professional %s, role profile %s, organisation %s,"
					" purpose %s, caller %s, client %s, application %s, transaction " UINT64_FORMAT
					", statement md5 %s, at %s, reason %s",
					r->action, r->event_type, r->outcome, r->patient_id, r->object_table,
					r->row_count, r->professional_id, r->role_profile_id, r->ods_code,
					r->purpose, r->caller, r->client_addr, r->application_name, r->txid,
					r->statement_hash, timestamptz_to_str(r->recorded_at), r->outcome_reason)));
}

/*
 * The postmaster is about to drop shared memory (shutdown, or
 * reinitialisation after a crash): every child has exited, so events still
 * queued will never be written.  They go to the log instead.
 */
static void
audit_log_unwritten(int code pg_attribute_unused(), Datum arg pg_attribute_unused())
{
	int			i;

	if (audit_shared == NULL)
		return;
	for (i = 0; i < AUDIT_QUEUE_DATABASES; i++)
	{
		AuditQueue *q = &audit_shared->queues[i];
		uint64		at;

		for (at = q->tail; at < q->head; at++)
			audit_record_log(&ring(q)[at % audit_shared->slots]);
	}
}

static void
audit_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup)
		prev_shmem_startup();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	audit_shared = ShmemInitStruct("scr audit queue", audit_shmem_size(), &found);
	if (!found)
	{
		int			i;

		memset(audit_shared, 0, offsetof(AuditShared, records));
		audit_shared->lock = &(GetNamedLWLockTranche("scr_audit_queue"))->lock;
		audit_shared->slots = audit_queue_size;
		for (i = 0; i < AUDIT_QUEUE_DATABASES; i++)
			ConditionVariableInit(&audit_shared->queues[i].written);
	}
	LWLockRelease(AddinShmemInitLock);
	if (!IsUnderPostmaster)
		on_shmem_exit(audit_log_unwritten, (Datum) 0);
}

/*
 * A transaction that wrote audit rows asks for a seal.  Before commit the
 * worker may be started (that can fail, and may here); after commit only
 * its latch is set.
 */
static void audit_queue_xact_callback(XactEvent event, void *arg);

/*
 * DROP DATABASE (and CREATE DATABASE from it as a template, or renaming it)
 * waits only five seconds for other sessions to leave the database, and
 * the audit writer may be one of them: ask it to leave now, and wait for it.
 */
static void
ask_writer_to_leave(const char *dbname)
{
	Oid			dboid = get_database_oid(dbname, true);
	TimestampTz deadline = GetCurrentTimestamp() + 10 * USECS_PER_SEC;
	AuditQueue *q = NULL;
	int			i;

	if (audit_shared == NULL || !OidIsValid(dboid) || dboid == MyDatabaseId)
		return;
	LWLockAcquire(audit_shared->lock, LW_EXCLUSIVE);
	for (i = 0; i < AUDIT_QUEUE_DATABASES; i++)
		if (audit_shared->queues[i].dboid == dboid && audit_shared->queues[i].worker_state != WORKER_NONE)
		{
			q = &audit_shared->queues[i];
			q->leave_wanted = true;
			if (q->worker_latch)
				SetLatch(q->worker_latch);
		}
	LWLockRelease(audit_shared->lock);
	while (q && q->worker_state != WORKER_NONE && GetCurrentTimestamp() < deadline)
		ConditionVariableTimedSleep(&q->written, 100, PG_WAIT_EXTENSION);
	ConditionVariableCancelSleep();
}

static void
audit_process_utility(PlannedStmt *pstmt, const char *queryString, bool readOnlyTree,
					  ProcessUtilityContext context, ParamListInfo params,
					  QueryEnvironment *queryEnv, DestReceiver *dest, QueryCompletion *qc)
{
	Node	   *stmt = pstmt->utilityStmt;

	if (IsA(stmt, DropdbStmt))
		ask_writer_to_leave(((DropdbStmt *) stmt)->dbname);
	else if (IsA(stmt, RenameStmt) && ((RenameStmt *) stmt)->renameType == OBJECT_DATABASE)
		ask_writer_to_leave(((RenameStmt *) stmt)->subname);
	else if (IsA(stmt, CreatedbStmt))
	{
		ListCell   *lc;

		foreach(lc, ((CreatedbStmt *) stmt)->options)
		{
			DefElem    *opt = lfirst_node(DefElem, lc);

			if (strcmp(opt->defname, "template") == 0 && opt->arg)
				ask_writer_to_leave(defGetString(opt));
		}
	}

	if (prev_process_utility)
		prev_process_utility(pstmt, queryString, readOnlyTree, context, params,
							 queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context, params,
								queryEnv, dest, qc);
}

void
audit_queue_init(void)
{
	DefineCustomIntVariable("scr.audit_queue_size",
							"Audit events each database's queue holds before readers wait.",
							NULL,
							&audit_queue_size,
							4096, 64, 1048576,
							PGC_POSTMASTER, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("scr.audit_queue_wait",
							"How long a statement waits for room in a full audit queue before it fails.",
							NULL,
							&audit_queue_wait,
							10000, 0, 600000,
							PGC_SUSET, GUC_UNIT_MS,
							NULL, NULL, NULL);
	DefineCustomIntVariable("scr.audit_worker_idle",
							"Seconds without work after which a database's audit worker exits.",
							NULL,
							&audit_worker_idle,
							2, 1, 4,
							PGC_SIGHUP, GUC_UNIT_S,
							NULL, NULL, NULL);
	DefineCustomIntVariable("scr.audit_seal_interval",
							"Seconds between the audit worker's seals of the hash chain.",
							NULL,
							&audit_seal_interval,
							1, 1, 3600,
							PGC_SIGHUP, GUC_UNIT_S,
							NULL, NULL, NULL);
	RegisterXactCallback(audit_queue_xact_callback, NULL);
	prev_process_utility = ProcessUtility_hook;
	ProcessUtility_hook = audit_process_utility;
	if (!process_shared_preload_libraries_in_progress)
		return;
	prev_shmem_request = shmem_request_hook;
	shmem_request_hook = audit_shmem_request;
	prev_shmem_startup = shmem_startup_hook;
	shmem_startup_hook = audit_shmem_startup;
}

/* Whether events can be queued at all (scr was preloaded). */
bool
audit_queue_available(void)
{
	return audit_shared != NULL;
}

static void
require_queue(void)
{
	if (audit_shared == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("scr cannot audit reads: it is not in shared_preload_libraries"),
				 errdetail("Patient data is not shown without an audit."),
				 errhint("Add scr to shared_preload_libraries and restart the server.")));
}

/*
 * The ring for this database, claimed if need be; NULL when every ring is
 * another database's.  Caller holds the lock.
 */
static AuditQueue *
find_queue(void)
{
	AuditQueue *free_queue = NULL;
	int			i;

	for (i = 0; i < AUDIT_QUEUE_DATABASES; i++)
	{
		AuditQueue *q = &audit_shared->queues[i];

		if (q->dboid == MyDatabaseId)
			return q;
		if (free_queue == NULL &&
			(q->dboid == InvalidOid ||
			 (q->worker_state == WORKER_NONE && q->head == q->tail)))
			free_queue = q;
	}
	if (free_queue)
	{
		free_queue->dboid = MyDatabaseId;
		free_queue->head = free_queue->tail = 0;
		free_queue->seal_wanted = false;
	}
	return free_queue;
}

/*
 * This database's ring, read without the lock (NULL if none): for fast
 * paths that only need an approximate answer and fall back to the locked
 * path when it is not the answer they hoped for.
 */
static AuditQueue *
peek_queue(void)
{
	int			i;

	for (i = 0; i < AUDIT_QUEUE_DATABASES; i++)
		if (audit_shared->queues[i].dboid == MyDatabaseId)
			return &audit_shared->queues[i];
	return NULL;
}

/* find_queue, or an error (the lock is released first). */
static AuditQueue *
my_queue(void)
{
	AuditQueue *q = find_queue();

	if (q == NULL)
	{
		LWLockRelease(audit_shared->lock);
		ereport(ERROR,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("audit queues of %d databases are in use", AUDIT_QUEUE_DATABASES),
				 errhint("Wait for the audit workers of other databases to finish.")));
	}
	return q;
}

/*
 * Start the database's worker unless it runs.  A start that has not
 * reported for ten seconds is taken to have failed and is tried again.
 * Caller holds the lock.  Returns false when no worker slot is free.
 */
static bool
ensure_worker(AuditQueue *q)
{
	BackgroundWorker worker;
	TimestampTz now = GetCurrentTimestamp();

	if (q->worker_state == WORKER_RUNNING ||
		(q->worker_state == WORKER_STARTING &&
		 !TimestampDifferenceExceeds(q->worker_started, now, 10000)))
		return true;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "scr");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "audit_worker_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "scr audit writer");
	snprintf(worker.bgw_type, BGW_MAXLEN, "scr audit writer");
	worker.bgw_main_arg = Int32GetDatum(q - audit_shared->queues);
	worker.bgw_notify_pid = 0;
	if (!RegisterDynamicBackgroundWorker(&worker, NULL))
		return false;
	q->worker_state = WORKER_STARTING;
	q->worker_started = now;
	q->leave_wanted = false;
	return true;
}

static AuditRecord *
ring(AuditQueue *q)
{
	return audit_shared->records + (q - audit_shared->queues) * audit_shared->slots;
}

/*
 * Wait until this database's ring has room for n events, or fail.  Called
 * before a statement shows patient data, so a full queue refuses the read.
 */
static AuditQueue *
wait_for_room(int n, bool may_wait)
{
	TimestampTz deadline = GetCurrentTimestamp() + (TimestampTz) audit_queue_wait * 1000;
	AuditQueue *q;

	for (;;)
	{
		bool		started;

		LWLockAcquire(audit_shared->lock, LW_EXCLUSIVE);
		q = my_queue();
		started = ensure_worker(q);
		if (q->head - q->tail + n <= (uint64) audit_shared->slots)
			return q;			/* lock still held */
		if (q->worker_latch)
			SetLatch(q->worker_latch);
		LWLockRelease(audit_shared->lock);

		if (!may_wait)
			return NULL;
		if (GetCurrentTimestamp() >= deadline)
			ereport(ERROR,
					(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
					 errmsg("the audit queue is full"),
					 errdetail(started ? "The audit writer has not kept up for %d ms." :
							   "No background worker slot is free for the audit writer (%d ms).",
							   audit_queue_wait),
					 errhint("Patient data is not shown while its reading cannot be audited. "
							 "Check the server log for the audit writer, or raise max_worker_processes.")));
		ConditionVariableTimedSleep(&q->written, 100, PG_WAIT_EXTENSION);
	}
}

void
audit_queue_wait_for_room(void)
{
	AuditQueue *q;

	require_queue();
	/* Usually the writer runs and the ring has room: no lock needed. */
	q = peek_queue();
	if (q && q->worker_state == WORKER_RUNNING && q->head - q->tail < (uint64) audit_shared->slots)
		return;
	wait_for_room(1, true);
	LWLockRelease(audit_shared->lock);
	ConditionVariableCancelSleep();
}

/*
 * Queue n events for this database.  With may_wait, waits for room (and
 * fails after scr.audit_queue_wait); without it (a transaction aborting)
 * returns false when they do not fit.
 */
bool
audit_queue_put(const AuditRecord *records, int n, bool may_wait)
{
	int			done = 0;

	require_queue();
	while (done < n)
	{
		int			chunk = Min(n - done, audit_shared->slots / 2);
		AuditQueue *q = wait_for_room(chunk, may_wait);
		AuditRecord *slots;
		Latch	   *latch;
		int			i;

		if (q == NULL)
		{
			ConditionVariableCancelSleep();
			return false;
		}
		slots = ring(q);
		for (i = 0; i < chunk; i++)
			slots[(q->head + i) % audit_shared->slots] = records[done + i];
		q->head += chunk;
		/*
		 * The writer wakes by itself every 250 ms; waking it for every
		 * statement would cost the reader a signal and the writer a
		 * transaction per event.  Wake it early only once an eighth of the
		 * ring is used.
		 */
		latch = (q->head - q->tail >= (uint64) audit_shared->slots / 8) ? q->worker_latch : NULL;
		LWLockRelease(audit_shared->lock);
		ConditionVariableCancelSleep();
		if (latch)
			SetLatch(latch);
		done += chunk;
	}
	return true;
}

/* scr.audit_write (the write trigger) calls this: the events need a seal. */
void
audit_queue_note_write(void)
{
	wrote_events = true;
}

static void
audit_queue_xact_callback(XactEvent event, void *arg pg_attribute_unused())
{
	AuditQueue *q;

	if (!wrote_events || audit_shared == NULL)
		return;
	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
			/*
			 * A running writer that already has a seal asked of it seals
			 * within scr.audit_seal_interval: nothing to do, no lock.
			 * Otherwise (without a free ring, the seal waits for a later
			 * worker).
			 */
			q = peek_queue();
			if (q && q->worker_state == WORKER_RUNNING && q->seal_wanted)
				break;
			LWLockAcquire(audit_shared->lock, LW_EXCLUSIVE);
			q = find_queue();
			if (q)
			{
				ensure_worker(q);
				q->seal_wanted = true;
			}
			LWLockRelease(audit_shared->lock);
			break;
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PREPARE:
			wrote_events = false;
			break;
		default:
			break;
	}
}

/*
 * scr.audit_flush(timeout interval) returns boolean: wait until every event
 * this database has queued so far is written (for tests, and for operators
 * before a backup).  False when the timeout passes first.
 */
PG_FUNCTION_INFO_V1(audit_flush);
Datum
audit_flush(PG_FUNCTION_ARGS)
{
	Interval   *timeout = PG_GETARG_INTERVAL_P(0);
	TimestampTz deadline;
	uint64		target;
	bool		done = false;
	AuditQueue *q;

	require_queue();
	deadline = DatumGetTimestampTz(DirectFunctionCall2(timestamptz_pl_interval,
													   TimestampTzGetDatum(GetCurrentTimestamp()),
													   IntervalPGetDatum(timeout)));
	LWLockAcquire(audit_shared->lock, LW_EXCLUSIVE);
	q = my_queue();
	target = q->head;
	if (q->worker_latch)
		SetLatch(q->worker_latch);
	LWLockRelease(audit_shared->lock);
	for (;;)
	{
		LWLockAcquire(audit_shared->lock, LW_SHARED);
		done = q->dboid != MyDatabaseId || q->tail >= target;
		LWLockRelease(audit_shared->lock);
		if (done || GetCurrentTimestamp() >= deadline)
			break;
		ConditionVariableTimedSleep(&q->written, 100, PG_WAIT_EXTENSION);
	}
	ConditionVariableCancelSleep();
	PG_RETURN_BOOL(done);
}

/*
 * scr.audit_queue_status(): each database's queue: queued and written
 * counts and the worker's pid (for monitoring).
 */
PG_FUNCTION_INFO_V1(audit_queue_status);
Datum
audit_queue_status(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int			i;

	require_queue();
	InitMaterializedSRF(fcinfo, 0);
	LWLockAcquire(audit_shared->lock, LW_SHARED);
	for (i = 0; i < AUDIT_QUEUE_DATABASES; i++)
	{
		AuditQueue *q = &audit_shared->queues[i];
		Datum		values[5];
		bool		nulls[5] = {false, false, false, false, false};

		if (q->dboid == InvalidOid)
			continue;
		values[0] = ObjectIdGetDatum(q->dboid);
		values[1] = Int64GetDatum((int64) (q->head - q->tail));
		values[2] = Int64GetDatum((int64) q->tail);
		values[3] = Int32GetDatum(audit_shared->slots);
		values[4] = Int32GetDatum(q->worker_pid);
		nulls[4] = q->worker_state != WORKER_RUNNING;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	LWLockRelease(audit_shared->lock);
	return (Datum) 0;
}

/* ---- the worker ---- */

static void
worker_sigterm(SIGNAL_ARGS)
{
	int			save_errno = errno;

	worker_stopping = true;
	SetLatch(MyLatch);
	errno = save_errno;
}

static AuditQueue *worker_queue = NULL;

/* The worker is gone: a later event starts another. */
static void
worker_detach(int code pg_attribute_unused(), Datum arg pg_attribute_unused())
{
	LWLockAcquire(audit_shared->lock, LW_EXCLUSIVE);
	if (worker_queue->worker_pid == MyProcPid)
	{
		worker_queue->worker_state = WORKER_NONE;
		worker_queue->worker_latch = NULL;
		worker_queue->worker_pid = 0;
	}
	LWLockRelease(audit_shared->lock);
	ConditionVariableBroadcast(&worker_queue->written);
}

static SPIPlanPtr insert_plan = NULL;

/*
 * Prepare the INSERT once: a batch is one statement, its columns passed as
 * arrays and unnested.  SPI replans it if the table changes.
 */
static void
prepare_insert(void)
{
	Oid			types[17] = {TIMESTAMPTZARRAYOID, TEXTARRAYOID, TEXTARRAYOID, INT2ARRAYOID,
		TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID,
		INT8ARRAYOID, TEXTARRAYOID, INT8ARRAYOID, TEXTARRAYOID, TEXTARRAYOID, INT8ARRAYOID,
	TEXTARRAYOID};

	if (insert_plan)
		return;
	insert_plan = SPI_prepare("INSERT INTO scr.audit_event (recorded_at, action, event_type, outcome,"
							  " outcome_reason, professional_id, role_profile_id, ods_code, purpose,"
							  " caller, patient_id, object_table, row_count, client_addr,"
							  " application_name, txid, statement_hash)"
							  " SELECT u.a, u.b, u.c, u.d, u.e, u.f, u.g, u.h, u.i, u.j, u.k, u.l, u.m,"
							  " u.n::pg_catalog.inet, u.o, u.p, u.q"
							  " FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2),"
							  " pg_catalog.unnest($3), pg_catalog.unnest($4), pg_catalog.unnest($5),"
							  " pg_catalog.unnest($6), pg_catalog.unnest($7), pg_catalog.unnest($8),"
							  " pg_catalog.unnest($9), pg_catalog.unnest($10), pg_catalog.unnest($11),"
							  " pg_catalog.unnest($12), pg_catalog.unnest($13), pg_catalog.unnest($14),"
							  " pg_catalog.unnest($15), pg_catalog.unnest($16), pg_catalog.unnest($17))"
							  " AS u(a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, p, q)",
							  17, types);
	if (insert_plan == NULL || SPI_keepplan(insert_plan) != 0)
		elog(ERROR, "scr audit writer: could not prepare the insert: %s",
			 SPI_result_code_string(SPI_result));
}

/* One text column of a batch as text[]; empty strings become NULL. */
static Datum
text_column(const AuditRecord *batch, int n, size_t offset, bool null_if_empty)
{
	Datum	   *values = palloc(sizeof(Datum) * n);
	bool	   *nulls = palloc(sizeof(bool) * n);
	int			dims[1] = {n};
	int			lbs[1] = {1};
	int			i;

	for (i = 0; i < n; i++)
	{
		const char *field = (const char *) &batch[i] + offset;

		nulls[i] = null_if_empty && field[0] == '\0';
		values[i] = nulls[i] ? (Datum) 0 : CStringGetTextDatum(field);
	}
	return PointerGetDatum(construct_md_array(values, nulls, 1, dims, lbs, TEXTOID, -1, false,
											  TYPALIGN_INT));
}

/* One 64-bit column of a batch as bigint[]; zero becomes NULL if asked. */
static Datum
int8_column(const AuditRecord *batch, int n, size_t offset, bool null_if_zero)
{
	Datum	   *values = palloc(sizeof(Datum) * n);
	bool	   *nulls = palloc(sizeof(bool) * n);
	int			dims[1] = {n};
	int			lbs[1] = {1};
	int			i;

	for (i = 0; i < n; i++)
	{
		int64		v;

		memcpy(&v, (const char *) &batch[i] + offset, sizeof(v));
		nulls[i] = null_if_zero && v == 0;
		values[i] = Int64GetDatum(v);
	}
	return PointerGetDatum(construct_md_array(values, nulls, 1, dims, lbs, INT8OID, 8,
											  FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

/* Insert a batch of events in one statement. */
static void
insert_batch(const AuditRecord *batch, int n)
{
	Datum		v[17];
	Datum	   *times = palloc(sizeof(Datum) * n);
	Datum	   *outcomes = palloc(sizeof(Datum) * n);
	Datum	   *actions = palloc(sizeof(Datum) * n);
	int			i;

	for (i = 0; i < n; i++)
	{
		char		action[2] = {batch[i].action, '\0'};

		times[i] = TimestampTzGetDatum(batch[i].recorded_at);
		outcomes[i] = Int16GetDatum(batch[i].outcome);
		actions[i] = CStringGetTextDatum(action);
	}
	v[0] = PointerGetDatum(construct_array(times, n, TIMESTAMPTZOID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	v[1] = PointerGetDatum(construct_array(actions, n, TEXTOID, -1, false, TYPALIGN_INT));
	v[2] = text_column(batch, n, offsetof(AuditRecord, event_type), false);
	v[3] = PointerGetDatum(construct_array(outcomes, n, INT2OID, 2, true, TYPALIGN_SHORT));
	v[4] = text_column(batch, n, offsetof(AuditRecord, outcome_reason), true);
	v[5] = text_column(batch, n, offsetof(AuditRecord, professional_id), true);
	v[6] = text_column(batch, n, offsetof(AuditRecord, role_profile_id), true);
	v[7] = text_column(batch, n, offsetof(AuditRecord, ods_code), true);
	v[8] = text_column(batch, n, offsetof(AuditRecord, purpose), true);
	v[9] = text_column(batch, n, offsetof(AuditRecord, caller), false);
	v[10] = int8_column(batch, n, offsetof(AuditRecord, patient_id), true);
	v[11] = text_column(batch, n, offsetof(AuditRecord, object_table), false);
	v[12] = int8_column(batch, n, offsetof(AuditRecord, row_count), false);
	v[13] = text_column(batch, n, offsetof(AuditRecord, client_addr), true);
	v[14] = text_column(batch, n, offsetof(AuditRecord, application_name), true);
	v[15] = int8_column(batch, n, offsetof(AuditRecord, txid), true);
	v[16] = text_column(batch, n, offsetof(AuditRecord, statement_hash), true);
	if (SPI_execute_plan(insert_plan, v, NULL, false, 0) != SPI_OK_INSERT || SPI_processed != (uint64) n)
		elog(ERROR, "scr audit writer: could not insert %d audit events", n);
}

static void
worker_begin(const char *activity)
{
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, activity);
}

static void
worker_end(void)
{
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_stat(false);
	pgstat_report_activity(STATE_IDLE, NULL);
}

/* Whether the extension is still installed here. */
static bool
extension_present(void)
{
	bool		present;

	worker_begin("checking for scr");
	present = SPI_execute("SELECT FROM pg_catalog.pg_extension WHERE extname = 'scr'", true, 0) == SPI_OK_SELECT &&
		SPI_processed == 1;
	worker_end();
	return present;
}

/*
 * Write what is queued, a batch per transaction.  The tail moves only
 * after the batch commits, so a batch that fails is written again by the
 * next worker.  Returns how many were written.
 */
static uint64
write_queued(AuditQueue *q)
{
	AuditRecord *batch = palloc(sizeof(AuditRecord) * AUDIT_WRITE_BATCH);
	uint64		written = 0;

	for (;;)
	{
		int			n;
		int			i;

		LWLockAcquire(audit_shared->lock, LW_SHARED);
		n = (int) Min(q->head - q->tail, AUDIT_WRITE_BATCH);
		for (i = 0; i < n; i++)
			batch[i] = ring(q)[(q->tail + i) % audit_shared->slots];
		LWLockRelease(audit_shared->lock);
		if (n == 0)
			break;

		worker_begin("writing audit events");
		prepare_insert();
		insert_batch(batch, n);
		worker_end();

		LWLockAcquire(audit_shared->lock, LW_EXCLUSIVE);
		q->tail += n;
		LWLockRelease(audit_shared->lock);
		ConditionVariableBroadcast(&q->written);
		written += n;
	}
	pfree(batch);
	return written;
}

/*
 * Seal the chain and record expired break-glass grants.  Returns whether
 * committed events remain unsealed (a transaction older than them was still
 * running): the worker then seals again later rather than leave them.
 */
static bool
seal(void)
{
	bool		left;
	bool		isnull;

	worker_begin("sealing audit events");
	if (SPI_execute("SELECT scr.audit_seal(), scr.audit_break_glass_ends()", false, 0) != SPI_OK_SELECT)
		elog(ERROR, "scr audit writer: could not seal");
	if (SPI_execute("SELECT EXISTS (SELECT FROM scr.audit_event e WHERE e.inserted_system = scr.audit_system_identifier()"
					" AND e.inserted_xact >= coalesce((SELECT s.xact_hi FROM scr.audit_seal s"
					" WHERE s.system_identifier = scr.audit_system_identifier() ORDER BY s.seal_id DESC LIMIT 1), '0'::pg_catalog.xid8))",
					false, 0) != SPI_OK_SELECT)
		elog(ERROR, "scr audit writer: could not check the seal");
	left = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	worker_end();
	return left;
}

void
audit_worker_main(Datum arg)
{
	AuditQueue *q = &audit_shared->queues[DatumGetInt32(arg)];
	TimestampTz last_work;
	TimestampTz last_seal = 0;
	bool		unsealed = true;

	pqsignal(SIGTERM, worker_sigterm);
	BackgroundWorkerUnblockSignals();
	worker_queue = q;
	before_shmem_exit(worker_detach, (Datum) 0);

	LWLockAcquire(audit_shared->lock, LW_EXCLUSIVE);
	if (q->worker_state == WORKER_RUNNING || q->dboid == InvalidOid)
	{
		/* Another worker got here first, or the ring was given up. */
		LWLockRelease(audit_shared->lock);
		cancel_before_shmem_exit(worker_detach, (Datum) 0);
		proc_exit(0);
	}
	q->worker_state = WORKER_RUNNING;
	q->worker_pid = MyProcPid;
	q->worker_latch = MyLatch;
	LWLockRelease(audit_shared->lock);

	BackgroundWorkerInitializeConnectionByOid(q->dboid, InvalidOid, 0);
	pgstat_report_appname("scr audit writer");
	SetConfigOption("search_path", "pg_catalog", PGC_SUSET, PGC_S_OVERRIDE);

	if (!extension_present())
	{
		LWLockAcquire(audit_shared->lock, LW_EXCLUSIVE);
		if (q->head != q->tail)
			ereport(WARNING,
					(errmsg("scr audit writer: extension scr is gone from this database; %llu queued events are discarded",
							(unsigned long long) (q->head - q->tail))));
		q->tail = q->head;
		LWLockRelease(audit_shared->lock);
		proc_exit(0);
	}

	last_work = GetCurrentTimestamp();
	for (;;)
	{
		TimestampTz now;
		bool		wanted;

		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}

		if (write_queued(q) > 0)
		{
			last_work = GetCurrentTimestamp();
			unsealed = true;
		}
		LWLockAcquire(audit_shared->lock, LW_EXCLUSIVE);
		wanted = q->seal_wanted;
		q->seal_wanted = false;
		LWLockRelease(audit_shared->lock);
		if (wanted)
		{
			unsealed = true;
			last_work = GetCurrentTimestamp();
		}

		now = GetCurrentTimestamp();
		if (q->leave_wanted)
			worker_stopping = true;
		if (unsealed && (worker_stopping ||
						 TimestampDifferenceExceeds(last_seal, now, audit_seal_interval * 1000)))
		{
			unsealed = seal();
			last_seal = GetCurrentTimestamp();
		}

		if (worker_stopping ||
			TimestampDifferenceExceeds(last_work, now, audit_worker_idle * 1000))
		{
			bool		empty;

			/*
			 * Seal once more before leaving unless a seal ran since the last
			 * work: a writer that asked for a seal just before its commit
			 * became visible is covered then.
			 */
			if (worker_stopping || last_seal <= last_work)
			{
				unsealed = seal();
				last_seal = GetCurrentTimestamp();
			}
			/* Leave only with nothing queued, asked for or left unsealed. */
			LWLockAcquire(audit_shared->lock, LW_EXCLUSIVE);
			empty = q->head == q->tail && !q->seal_wanted &&
				(!unsealed || worker_stopping ||
				 TimestampDifferenceExceeds(last_work, now, AUDIT_WORKER_MAX_LINGER_MS));
			if (worker_stopping)
				empty = true;	/* what is still queued waits for the next writer */
			if (empty)
			{
				q->worker_state = WORKER_NONE;
				q->worker_latch = NULL;
				q->worker_pid = 0;
				q->leave_wanted = false;
			}
			LWLockRelease(audit_shared->lock);
			if (empty)
				proc_exit(0);
		}

		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 250, PG_WAIT_EXTENSION);
	}
}
