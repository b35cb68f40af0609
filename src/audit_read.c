/*
 * audit_read.c
 *		Auditing reads of patient data: one event per patient per statement.
 *
 * The access decision (access_policy.c) is the one place every read of
 * patient data passes, whatever the client, view, function or COPY.  Each
 * time it lets a row through it notes the patient here.  When the
 * top-level statement ends (ExecutorEnd at nesting level zero), or its
 * transaction ends first (an error, a cursor left open), the patients
 * noted become one read event each, naming the scr tables and views the
 * statement used, and go to the audit queue (audit_queue.c), which writes
 * them outside this transaction: a rollback, an error or READ ONLY does
 * not lose them.
 *
 * A patient is noted when any of their rows passed the access decision,
 * which may be more than the rows the statement returned (a later filter,
 * an aggregate): the audit errs towards recording an access.  Reporting and
 * secondary-use views, which read populations, make one event per
 * statement with the row count and no patient.
 *
 * Before the first row of a statement is let through, the queue must have
 * room (or the statement fails): patient data is not shown unaudited.
 */
#include "postgres.h"

#include "access/parallel.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "common/md5.h"
#include "executor/executor.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "scr.h"

typedef struct PatientReads
{
	int64		patient_id;		/* hash key */
	int64		rows;
} PatientReads;

/* What the statement in progress has read. */
static MemoryContext read_cxt = NULL;
static HTAB *patient_reads = NULL;
static PatientReads *last_read = NULL;

/*
 * Most statements read one patient: the first is kept here, and the hash
 * is made only when a second appears (making one per statement cost more
 * than the rest of the audit of a one-patient read).
 */
static PatientReads first_read;
static bool have_first = false;
static int64 report_rows = 0;
static int64 secondary_rows = 0;
static char read_objects[128];

/*
 * Who read, from where: taken when the statement first reads, because an
 * aborting transaction may not look up catalogs or its context any more.
 */
static AuditRecord read_template;

static int	exec_nesting = 0;

/* scr.audit_reads: off only for a superuser's benchmark baseline. */
static bool audit_reads = true;

static ExecutorRun_hook_type prev_executor_run = NULL;
static ExecutorFinish_hook_type prev_executor_finish = NULL;
static ExecutorEnd_hook_type prev_executor_end = NULL;

static bool
capturing(void)
{
	return have_first || patient_reads != NULL || report_rows > 0 || secondary_rows > 0;
}

/* First read of a statement: the queue must have room before data flows. */
static void
start_capture(void)
{
	audit_queue_wait_for_room();
	if (read_cxt == NULL)
		read_cxt = AllocSetContextCreate(TopMemoryContext, "scr read audit",
										 ALLOCSET_DEFAULT_SIZES);
	read_objects[0] = '\0';
	audit_record_fill(&read_template, 'R', "read");
}

/*
 * Called by the access decision for every row it lets through.  Rows come
 * grouped by patient more often than not, so the last patient is kept.
 */
void
audit_note_read(int64 patient_id)
{
	bool		found;

	if (!audit_reads)
		return;
	if (last_read && last_read->patient_id == patient_id)
	{
		last_read->rows++;
		return;
	}
	if (!capturing())
	{
		start_capture();
		have_first = true;
		first_read.patient_id = patient_id;
		first_read.rows = 1;
		last_read = &first_read;
		return;
	}
	if (patient_reads == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(int64);
		ctl.entrysize = sizeof(PatientReads);
		ctl.hcxt = read_cxt;
		patient_reads = hash_create("scr patients read", 64, &ctl,
									HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
		if (have_first)
		{
			PatientReads *moved = hash_search(patient_reads, &first_read.patient_id, HASH_ENTER, NULL);

			moved->rows = first_read.rows;
			have_first = false;
		}
	}
	last_read = hash_search(patient_reads, &patient_id, HASH_ENTER, &found);
	if (!found)
		last_read->rows = 0;
	last_read->rows++;
}

void
audit_note_report(void)
{
	if (!audit_reads)
		return;
	if (!capturing())
		start_capture();
	report_rows++;
}

void
audit_note_secondary(void)
{
	if (!audit_reads)
		return;
	if (!capturing())
		start_capture();
	secondary_rows++;
}

/*
 * Add the scr relations a finished query read patient data through to the
 * statement's objects: views, and tables under row-level security (the
 * configuration tables an access check or a trigger reads are not what was
 * read).  The access decision's own cache queries (run with forced row
 * security waived) are left out too.
 */
static void
note_objects(QueryDesc *queryDesc)
{
	Oid			scr_namespace;
	Oid			userid;
	int			sec_context;
	ListCell   *lc;

	GetUserIdAndSecContext(&userid, &sec_context);
	if (sec_context & SECURITY_NOFORCE_RLS)
		return;
	scr_namespace = get_namespace_oid("scr", true);

	foreach(lc, queryDesc->plannedstmt->rtable)
	{
		RangeTblEntry *rte = lfirst_node(RangeTblEntry, lc);
		HeapTuple	tuple;
		Form_pg_class form;
		const char *name;
		size_t		len;
		const char *at;

		if (rte->rtekind != RTE_RELATION)
			continue;
		tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(rte->relid));
		if (!HeapTupleIsValid(tuple))
			continue;
		form = (Form_pg_class) GETSTRUCT(tuple);
		if (form->relnamespace != scr_namespace ||
			!(form->relkind == RELKIND_VIEW || form->relrowsecurity))
		{
			ReleaseSysCache(tuple);
			continue;
		}
		name = NameStr(form->relname);
		len = strlen(name);
		/* Already listed? */
		for (at = strstr(read_objects, name); at; at = strstr(at + 1, name))
			if ((at == read_objects || at[-1] == ',') && (at[len] == '\0' || at[len] == ','))
				break;
		if (at == NULL && strlen(read_objects) + len + 2 <= sizeof(read_objects))
		{
			if (read_objects[0])
				strcat(read_objects, ",");
			strcat(read_objects, name);
		}
		ReleaseSysCache(tuple);
	}
}

/* Copy at most size - 1 bytes, never splitting a UTF-8 character. */
static void
copy_clipped(char *dst, const char *src, size_t size)
{
	size_t		len;

	if (src == NULL)
	{
		dst[0] = '\0';
		return;
	}
	len = strlen(src);
	if (len >= size)
		len = pg_mbcliplen(src, len, size - 1);
	memcpy(dst, src, len);
	dst[len] = '\0';
}

static Oid	caller_oid = InvalidOid;
static char caller_name[NAMEDATALEN];
static bool client_known = false;
static char client_addr[48];

/*
 * Fill in what every event says about its actor and circumstances: the
 * acting professional (when a context is open), the calling role, the
 * client, the transaction and a hash of the statement text.
 */
void
audit_record_fill(AuditRecord *rec, char action, const char *event_type)
{
	const char *professional = access_context_professional();
	FullTransactionId fxid = GetTopFullTransactionIdIfAny();

	memset(rec, 0, sizeof(*rec));
	rec->recorded_at = GetCurrentTimestamp();
	rec->action = action;
	rec->outcome = AUDIT_OUTCOME_SUCCESS;
	copy_clipped(rec->event_type, event_type, sizeof(rec->event_type));
	if (professional)
	{
		copy_clipped(rec->professional_id, professional, sizeof(rec->professional_id));
		copy_clipped(rec->role_profile_id, access_context_role_profile(), sizeof(rec->role_profile_id));
		copy_clipped(rec->ods_code, access_context_organisation(), sizeof(rec->ods_code));
		copy_clipped(rec->purpose, access_context_purpose(), sizeof(rec->purpose));
	}
	/* The caller's name and the client's address, looked up once. */
	if (caller_oid != GetOuterUserId())
	{
		caller_oid = GetOuterUserId();
		copy_clipped(caller_name, GetUserNameFromId(caller_oid, false), sizeof(caller_name));
	}
	memcpy(rec->caller, caller_name, sizeof(rec->caller));
	if (!client_known)
	{
		/* As inet_client_addr() gives it. */
		LOCAL_FCINFO(addr_fcinfo, 0);
		Datum		addr;

		InitFunctionCallInfoData(*addr_fcinfo, NULL, 0, InvalidOid, NULL, NULL);
		addr = inet_client_addr(addr_fcinfo);
		if (!addr_fcinfo->isnull)
			copy_clipped(client_addr, DatumGetCString(DirectFunctionCall1(inet_out, addr)),
						 sizeof(client_addr));
		client_known = true;
	}
	memcpy(rec->client_addr, client_addr, sizeof(rec->client_addr));
	copy_clipped(rec->application_name, application_name, sizeof(rec->application_name));
	if (FullTransactionIdIsValid(fxid))
		rec->txid = U64FromFullTransactionId(fxid);
	if (debug_query_string)
	{
		const char *errstr = NULL;

		if (!pg_md5_hash(debug_query_string, strlen(debug_query_string),
						 rec->statement_hash, &errstr))
			rec->statement_hash[0] = '\0';
	}
}

static void
reset_capture(void)
{
	if (read_cxt)
		MemoryContextReset(read_cxt);
	patient_reads = NULL;
	last_read = NULL;
	have_first = false;
	report_rows = secondary_rows = 0;
	read_objects[0] = '\0';
}

static void
aggregate_record(AuditRecord *rec, const char *event_type, int64 rows)
{
	*rec = read_template;
	copy_clipped(rec->event_type, event_type, sizeof(rec->event_type));
	rec->row_count = rows;
	/* A statement that failed before it ended never named its tables. */
	copy_clipped(rec->object_table, read_objects[0] ? read_objects : "unknown: the statement failed",
				 sizeof(rec->object_table));
}

/*
 * Queue events without waiting or failing (a transaction is aborting, or
 * a refusal is about to be raised); false if they were not queued.
 */
static bool
queue_quietly(const AuditRecord *records, int n)
{
	MemoryContext caller = CurrentMemoryContext;
	volatile bool queued = false;

	PG_TRY();
	{
		queued = audit_queue_available() && audit_queue_put(records, n, false);
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(caller);
		FlushErrorState();
	}
	PG_END_TRY();
	return queued;
}

/* The statement's reads as events, in read_cxt. */
static AuditRecord *
build_records(int *n)
{
	MemoryContext old = MemoryContextSwitchTo(read_cxt);
	AuditRecord *records;

	*n = 0;
	records = palloc((sizeof(AuditRecord)) *
					 ((patient_reads ? hash_get_num_entries(patient_reads) : 0) + 3));
	if (have_first)
	{
		aggregate_record(&records[*n], "read", first_read.rows);
		records[(*n)++].patient_id = first_read.patient_id;
	}
	if (patient_reads)
	{
		HASH_SEQ_STATUS seq;
		PatientReads *pr;

		hash_seq_init(&seq, patient_reads);
		while ((pr = hash_seq_search(&seq)) != NULL)
		{
			aggregate_record(&records[*n], "read", pr->rows);
			records[(*n)++].patient_id = pr->patient_id;
		}
	}
	if (report_rows > 0)
		aggregate_record(&records[(*n)++], "report", report_rows);
	if (secondary_rows > 0)
		aggregate_record(&records[(*n)++], "secondary-use", secondary_rows);
	MemoryContextSwitchTo(old);
	return records;
}

/*
 * Turn what the statement read into events and queue them.  Inside an
 * aborting transaction nothing may wait or fail: events that do not fit
 * are logged instead.  The capture is kept until the events are queued, so
 * a failure here leaves them for the abort to queue or log.
 */
static void
flush_reads(bool aborting)
{
	AuditRecord *records;
	int			n;
	bool		queued;

	if (!capturing())
		return;
	records = build_records(&n);
	queued = aborting ? queue_quietly(records, n) : audit_queue_put(records, n, true);
	if (!queued)
	{
		int			i;

		for (i = 0; i < n; i++)
			audit_record_log(&records[i]);
	}
	reset_capture();
}

/*
 * scr.audit_refusal(patient_id bigint, object text, reason text): record a
 * refused access (outcome 4) before the refusal is raised.  It never waits
 * and never fails: an event that cannot be queued is logged.
 */
void
audit_refusal(int64 patient_id, const char *object, const char *reason)
{
	AuditRecord rec;

	audit_record_fill(&rec, 'E', "refused");
	rec.outcome = AUDIT_OUTCOME_MINOR_FAILURE;
	rec.patient_id = patient_id;
	copy_clipped(rec.object_table, object, sizeof(rec.object_table));
	copy_clipped(rec.outcome_reason, reason, sizeof(rec.outcome_reason));
	if (!queue_quietly(&rec, 1))
		audit_record_log(&rec);
}

PG_FUNCTION_INFO_V1(audit_refusal_sql);
Datum
audit_refusal_sql(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("a refusal names what was refused and why")));
	audit_refusal(PG_ARGISNULL(0) ? 0 : PG_GETARG_INT64(0),
				  text_to_cstring(PG_GETARG_TEXT_PP(1)),
				  text_to_cstring(PG_GETARG_TEXT_PP(2)));
	PG_RETURN_VOID();
}

static void
audit_executor_run(QueryDesc *queryDesc, ScanDirection direction, uint64 count, bool execute_once)
{
	exec_nesting++;
	PG_TRY();
	{
		if (prev_executor_run)
			prev_executor_run(queryDesc, direction, count, execute_once);
		else
			standard_ExecutorRun(queryDesc, direction, count, execute_once);
	}
	PG_FINALLY();
	{
		exec_nesting--;
	}
	PG_END_TRY();
}

static void
audit_executor_finish(QueryDesc *queryDesc)
{
	exec_nesting++;
	PG_TRY();
	{
		if (prev_executor_finish)
			prev_executor_finish(queryDesc);
		else
			standard_ExecutorFinish(queryDesc);
	}
	PG_FINALLY();
	{
		exec_nesting--;
	}
	PG_END_TRY();
}

/* The statement is over: its reads become events. */
static void
audit_executor_end(QueryDesc *queryDesc)
{
	if (capturing())
		note_objects(queryDesc);
	if (prev_executor_end)
		prev_executor_end(queryDesc);
	else
		standard_ExecutorEnd(queryDesc);
	if (exec_nesting == 0 && capturing())
		flush_reads(false);
}

/* Reads not yet queued when the transaction ends are queued (or logged) now. */
static void
audit_read_xact_callback(XactEvent event, void *arg pg_attribute_unused())
{
	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
		case XACT_EVENT_PRE_PREPARE:
			flush_reads(false);
			break;
		case XACT_EVENT_ABORT:
			exec_nesting = 0;
			flush_reads(true);
			break;
		default:
			break;
	}
}

void
audit_read_init(void)
{
	DefineCustomBoolVariable("scr.audit_reads",
							 "Audit reads of patient data (one event per patient per statement).",
							 "Only a superuser may turn it off, for a benchmark's baseline; "
							 "refusals and writes are audited regardless.",
							 &audit_reads,
							 true,
							 PGC_SUSET, 0,
							 NULL, NULL, NULL);
	prev_executor_run = ExecutorRun_hook;
	ExecutorRun_hook = audit_executor_run;
	prev_executor_finish = ExecutorFinish_hook;
	ExecutorFinish_hook = audit_executor_finish;
	prev_executor_end = ExecutorEnd_hook;
	ExecutorEnd_hook = audit_executor_end;
	RegisterXactCallback(audit_read_xact_callback, NULL);
}
