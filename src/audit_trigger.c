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
 * Grouping in one INSERT ... SELECT keeps a 1,000-entry batch to one
 * trigger call and a few dozen events, not 1,000.
 *
 * Arguments: the action code (C, U or D) and the transition table's name.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

#include "scr.h"

PG_FUNCTION_INFO_V1(audit_write);
Datum
audit_write(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	Trigger    *trigger;
	Relation	rel;
	const char *action;
	const char *transition;
	const char *table;
	bool		has_patient;
	bool		has_entry;
	StringInfoData sql;
	Oid			types[7] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID};
	Datum		values[7];
	char		nulls[7];
	const char *professional = access_context_professional();
	int			i;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_FOR_STATEMENT(trigdata->tg_event) ||
		!TRIGGER_FIRED_AFTER(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("scr.audit_write() must be an AFTER ... FOR EACH STATEMENT trigger")));
	trigger = trigdata->tg_trigger;
	if (trigger->tgnargs != 2)
		elog(ERROR, "scr.audit_write() takes the action and the transition table's name");
	action = trigger->tgargs[0];
	transition = trigger->tgargs[1];
	rel = trigdata->tg_relation;
	table = RelationGetRelationName(rel);
	has_patient = get_attnum(RelationGetRelid(rel), "patient_id") != InvalidAttrNumber;
	has_entry = get_attnum(RelationGetRelid(rel), "entry_id") != InvalidAttrNumber;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_register_trigger_data(trigdata) != SPI_OK_TD_REGISTER)
		elog(ERROR, "could not register the transition table");

	initStringInfo(&sql);
	appendStringInfo(&sql,
					 "INSERT INTO scr.audit_event (action, event_type, object_table, patient_id,"
					 " row_count, entry_ids, professional_id, role_profile_id, ods_code, purpose,"
					 " caller, client_addr, application_name, txid, statement_hash)"
					 " SELECT $1, 'write', $2, %s, count(*), %s, $3, $4, $5, $6, $7,"
					 " inet_client_addr(), current_setting('application_name'),"
					 " txid_current(), md5(current_query())"
					 " FROM %s t%s",
					 has_patient ? "t.patient_id" : "NULL::bigint",
					 has_entry ? "array_agg(t.entry_id ORDER BY t.entry_id)" : "NULL::bigint[]",
					 quote_identifier(transition),
					 has_patient ? " GROUP BY t.patient_id" : " HAVING count(*) > 0");

	values[0] = CStringGetTextDatum(action);
	values[1] = CStringGetTextDatum(table);
	values[2] = professional ? CStringGetTextDatum(professional) : (Datum) 0;
	values[3] = professional ? CStringGetTextDatum(access_context_role_profile()) : (Datum) 0;
	values[4] = professional ? CStringGetTextDatum(access_context_organisation()) : (Datum) 0;
	values[5] = professional ? CStringGetTextDatum(access_context_purpose()) : (Datum) 0;
	values[6] = CStringGetTextDatum(GetUserNameFromId(GetOuterUserId(), false));
	for (i = 0; i < 7; i++)
		nulls[i] = (i >= 2 && i <= 5 && professional == NULL) ? 'n' : ' ';

	if (SPI_execute_with_args(sql.data, 7, types, values, nulls, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "scr: could not write the audit event");
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
