/*
 * audit_trigger.c
 *		Auditing writes to patient data: one event per patient per statement.
 *
 * scr.audit_write() is an AFTER ... FOR EACH STATEMENT trigger with a
 * transition table, on every table that holds patient data or decides who
 * may see it.  It groups the statement's rows by patient and writes one
 * scr.audit_event per patient (with the ids of the rows, where the table
 * has an entry id), naming the actor: the acting professional when a
 * context is open, else the role that called (a feed or an operator).
 * A 1,000-entry batch is one trigger call and a few dozen events, not
 * 1,000.  The rows are grouped here in C and each event inserted with a
 * plan kept for the backend's life.
 *
 * Arguments: the action code (C, U or D) and the transition table's name
 * (which names the transition table in the trigger's definition).
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "executor/tuptable.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/tuplestore.h"

#include "scr.h"

/* One patient's rows in the statement. */
typedef struct PatientWrites
{
	int64		patient_id;
	bool		has_patient;
	int64		rows;
	int			nentries;
	int			maxentries;
	int64	   *entries;
} PatientWrites;

/*
 * The INSERT of one event, planned once per backend.  (An INSERT ... SELECT
 * grouping the transition table, planned per statement, cost a single-row
 * feed write more than half its time; grouping in C and a kept plan cost
 * a third of that.)
 */
static SPIPlanPtr insert_plan = NULL;

/*
 * A statement that touched many patients (a batch in random order) inserts
 * all its events in one statement: the patients, row counts and entry ids
 * (as array literals: the lists differ in length) are unnested.
 */
static SPIPlanPtr insert_many_plan = NULL;

static void
prepare_insert_many(void)
{
	Oid			types[14] = {TEXTOID, TEXTOID, INT8ARRAYOID, INT8ARRAYOID, TEXTARRAYOID, TEXTOID, TEXTOID,
		TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, INT8OID, TEXTOID};
	SPIPlanPtr	plan;

	if (insert_many_plan)
		return;
	plan = SPI_prepare("INSERT INTO scr.audit_event (action, event_type, object_table, patient_id,"
					   " row_count, entry_ids, professional_id, role_profile_id, ods_code, purpose,"
					   " caller, client_addr, application_name, txid, statement_hash)"
					   " SELECT $1, 'write', $2, u.p, u.r, u.e::bigint[], $6, $7, $8, $9, $10,"
					   " $11::pg_catalog.inet, $12, $13, $14"
					   " FROM ROWS FROM (pg_catalog.unnest($3), pg_catalog.unnest($4), pg_catalog.unnest($5))"
					   " AS u(p, r, e)", 14, types);
	if (plan == NULL || SPI_keepplan(plan) != 0)
		elog(ERROR, "scr: could not plan the audit insert: %s", SPI_result_code_string(SPI_result));
	insert_many_plan = plan;
}

static void
prepare_insert(void)
{
	Oid			types[14] = {TEXTOID, TEXTOID, INT8OID, INT8OID, INT8ARRAYOID, TEXTOID, TEXTOID,
		TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, INT8OID, TEXTOID};
	SPIPlanPtr	plan;

	if (insert_plan)
		return;
	plan = SPI_prepare("INSERT INTO scr.audit_event (action, event_type, object_table, patient_id,"
					   " row_count, entry_ids, professional_id, role_profile_id, ods_code, purpose,"
					   " caller, client_addr, application_name, txid, statement_hash)"
					   " VALUES ($1, 'write', $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::pg_catalog.inet,"
					   " $12, $13, $14)", 14, types);
	if (plan == NULL || SPI_keepplan(plan) != 0)
		elog(ERROR, "scr: could not plan the audit insert: %s", SPI_result_code_string(SPI_result));
	insert_plan = plan;
}

static int
compare_int64(const void *a, const void *b)
{
	int64		x = *(const int64 *) a;
	int64		y = *(const int64 *) b;

	return (x > y) - (x < y);
}

/*
 * Read the transition table and group its rows by patient, keeping entry
 * ids where the table has them.  Rows come grouped by patient more often
 * than not, so the last group is tried first.
 */
static PatientWrites *
group_rows(Relation rel, Tuplestorestate *rows, int *ngroups)
{
	TupleDesc	desc = RelationGetDescr(rel);
	AttrNumber	patient_att = get_attnum(RelationGetRelid(rel), "patient_id");
	AttrNumber	entry_att = get_attnum(RelationGetRelid(rel), "entry_id");
	TupleTableSlot *slot = MakeSingleTupleTableSlot(desc, &TTSOpsMinimalTuple);
	int			reader = tuplestore_alloc_read_pointer(rows, 0);
	int			maxgroups = 8;
	PatientWrites *groups = palloc(sizeof(PatientWrites) * maxgroups);
	PatientWrites *last = NULL;

	*ngroups = 0;
	tuplestore_select_read_pointer(rows, reader);
	tuplestore_rescan(rows);
	while (tuplestore_gettupleslot(rows, true, false, slot))
	{
		bool		isnull = true;
		int64		patient = 0;
		int			i;

		if (patient_att != InvalidAttrNumber)
		{
			Datum		d = slot_getattr(slot, patient_att, &isnull);

			if (!isnull)
				patient = DatumGetInt64(d);
		}
		if (last == NULL || last->has_patient != !isnull || last->patient_id != patient)
		{
			last = NULL;
			for (i = 0; i < *ngroups && last == NULL; i++)
				if (groups[i].has_patient == !isnull && groups[i].patient_id == patient)
					last = &groups[i];
			if (last == NULL)
			{
				if (*ngroups == maxgroups)
				{
					maxgroups *= 2;
					groups = repalloc(groups, sizeof(PatientWrites) * maxgroups);
				}
				last = &groups[(*ngroups)++];
				memset(last, 0, sizeof(*last));
				last->patient_id = patient;
				last->has_patient = !isnull;
			}
		}
		last->rows++;
		if (entry_att != InvalidAttrNumber)
		{
			bool		entry_null;
			Datum		d = slot_getattr(slot, entry_att, &entry_null);

			if (!entry_null)
			{
				if (last->nentries == last->maxentries)
				{
					last->maxentries = Max(8, last->maxentries * 2);
					last->entries = last->entries ? repalloc(last->entries, sizeof(int64) * last->maxentries)
						: palloc(sizeof(int64) * last->maxentries);
				}
				last->entries[last->nentries++] = DatumGetInt64(d);
			}
		}
	}
	ExecDropSingleTupleTableSlot(slot);
	return groups;
}

static Datum
text_or_null(const char *s, char *null)
{
	*null = s[0] == '\0' ? 'n' : ' ';
	return s[0] == '\0' ? (Datum) 0 : CStringGetTextDatum(s);
}

PG_FUNCTION_INFO_V1(audit_write);
Datum
audit_write(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	Trigger    *trigger;
	Relation	rel;
	Tuplestorestate *rows;
	PatientWrites *groups;
	int			ngroups;
	AuditRecord who;
	Datum		v[14];
	char		n[14];
	int			g;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_FOR_STATEMENT(trigdata->tg_event) ||
		!TRIGGER_FIRED_AFTER(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("scr.audit_write() must be an AFTER ... FOR EACH STATEMENT trigger")));
	trigger = trigdata->tg_trigger;
	if (trigger->tgnargs != 2 || strlen(trigger->tgargs[0]) != 1)
		elog(ERROR, "scr.audit_write() takes the action and the transition table's name");
	rel = trigdata->tg_relation;
	rows = TRIGGER_FIRED_BY_DELETE(trigdata->tg_event) ? trigdata->tg_oldtable : trigdata->tg_newtable;
	if (rows == NULL)
		elog(ERROR, "scr.audit_write() needs a transition table");

	groups = group_rows(rel, rows, &ngroups);
	if (ngroups == 0)
		return PointerGetDatum(NULL);

	/* Who and where, as every event says it. */
	audit_record_fill(&who, trigger->tgargs[0][0], "write");

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	prepare_insert();
	memset(n, ' ', sizeof(n));
	v[0] = CStringGetTextDatum(trigger->tgargs[0]);
	v[1] = CStringGetTextDatum(RelationGetRelationName(rel));
	v[5] = text_or_null(who.professional_id, &n[5]);
	v[6] = text_or_null(who.role_profile_id, &n[6]);
	v[7] = text_or_null(who.ods_code, &n[7]);
	v[8] = text_or_null(who.purpose, &n[8]);
	v[9] = CStringGetTextDatum(who.caller);
	v[10] = text_or_null(who.client_addr, &n[10]);
	v[11] = text_or_null(who.application_name, &n[11]);
	v[12] = Int64GetDatum((int64) who.txid);
	n[12] = who.txid == 0 ? 'n' : ' ';
	v[13] = text_or_null(who.statement_hash, &n[13]);
	if (ngroups > 1)
	{
		Datum	   *patients = palloc(sizeof(Datum) * ngroups);
		bool	   *patient_nulls = palloc(sizeof(bool) * ngroups);
		Datum	   *counts = palloc(sizeof(Datum) * ngroups);
		Datum	   *entries = palloc(sizeof(Datum) * ngroups);
		bool	   *entry_nulls = palloc(sizeof(bool) * ngroups);
		int			dims[1] = {ngroups};
		int			lbs[1] = {1};

		for (g = 0; g < ngroups; g++)
		{
			PatientWrites *pw = &groups[g];

			patients[g] = Int64GetDatum(pw->patient_id);
			patient_nulls[g] = !pw->has_patient;
			counts[g] = Int64GetDatum(pw->rows);
			entry_nulls[g] = pw->nentries == 0;
			entries[g] = (Datum) 0;
			if (pw->nentries > 0)
			{
				StringInfoData lit;
				int			i;

				qsort(pw->entries, pw->nentries, sizeof(int64), compare_int64);
				initStringInfo(&lit);
				appendStringInfoChar(&lit, '{');
				for (i = 0; i < pw->nentries; i++)
					appendStringInfo(&lit, i ? "," INT64_FORMAT : INT64_FORMAT, pw->entries[i]);
				appendStringInfoChar(&lit, '}');
				entries[g] = CStringGetTextDatum(lit.data);
			}
		}
		v[2] = PointerGetDatum(construct_md_array(patients, patient_nulls, 1, dims, lbs, INT8OID, 8,
												  FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
		v[3] = PointerGetDatum(construct_array(counts, ngroups, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
		v[4] = PointerGetDatum(construct_md_array(entries, entry_nulls, 1, dims, lbs, TEXTOID, -1, false,
												  TYPALIGN_INT));
		prepare_insert_many();
		if (SPI_execute_plan(insert_many_plan, v, n, false, 0) != SPI_OK_INSERT ||
			SPI_processed != (uint64) ngroups)
			elog(ERROR, "scr: could not write the audit events");
		ngroups = 0;			/* all written */
	}
	for (g = 0; g < ngroups; g++)
	{
		PatientWrites *pw = &groups[g];

		v[2] = Int64GetDatum(pw->patient_id);
		n[2] = pw->has_patient ? ' ' : 'n';
		v[3] = Int64GetDatum(pw->rows);
		if (pw->nentries > 0)
		{
			Datum	   *ids = palloc(sizeof(Datum) * pw->nentries);
			int			i;

			qsort(pw->entries, pw->nentries, sizeof(int64), compare_int64);
			for (i = 0; i < pw->nentries; i++)
				ids[i] = Int64GetDatum(pw->entries[i]);
			v[4] = PointerGetDatum(construct_array(ids, pw->nentries, INT8OID, 8, FLOAT8PASSBYVAL,
												   TYPALIGN_DOUBLE));
			n[4] = ' ';
		}
		else
			n[4] = 'n';
		if (SPI_execute_plan(insert_plan, v, n, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "scr: could not write the audit event");
	}
	SPI_finish();
	audit_queue_note_write();
	return PointerGetDatum(NULL);
}

/*
 * scr.audit_refuse_change(): BEFORE UPDATE/DELETE (row) and BEFORE
 * TRUNCATE (statement) trigger on the audit table: audit rows are never
 * changed or removed.  A superuser can still disable the trigger; the
 * hash chain (to come) is what makes that detectable.
 */
PG_FUNCTION_INFO_V1(audit_refuse_change);
Datum
audit_refuse_change(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("scr.audit_refuse_change() must be called as a trigger")));
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("audit events are append-only"),
			 errdetail("%s on %s is refused.",
					   TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event) ? "UPDATE" :
					   TRIGGER_FIRED_BY_DELETE(trigdata->tg_event) ? "DELETE" : "TRUNCATE",
					   RelationGetRelationName(trigdata->tg_relation))));
	return PointerGetDatum(NULL);
}
