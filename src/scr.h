/*
 * scr.h
 *		Declarations every part of scr needs.
 */
#ifndef SCR_H
#define SCR_H

#include "datatype/timestamp.h"

/* The prefix of every scr setting; reserved so clients cannot invent one. */
#define SCR_GUC_PREFIX "scr"

/* feed.c */
extern bool scr_allow_test_nhs_numbers;
extern int	scr_max_message_size;
extern void feed_init(void);

/* access_context.c */
extern int	scr_context_max_lifetime;
extern int	scr_break_glass_max_minutes;
extern void access_context_init(void);
extern const char *access_context_professional(void);
extern const char *access_context_role_profile(void);
extern const char *access_context_organisation(void);
extern const char *access_context_purpose(void);
extern int64 access_context_patient_id(void);
extern uint64 access_context_version(void);
extern TimestampTz access_context_expires(void);

/* linkage.c */
extern void linkage_init(void);

/* access_policy.c */
extern void access_policy_init(void);

/*
 * audit_queue.c: an audit event on its way to scr.audit_event, written by a
 * background worker outside the transaction that made it.  Empty strings
 * and zero ids are stored as NULL.
 */
typedef struct AuditRecord
{
	TimestampTz recorded_at;
	int64		patient_id;
	int64		row_count;
	uint64		txid;
	int16		outcome;
	char		action;
	char		event_type[24];
	char		outcome_reason[200];
	char		professional_id[128];
	char		role_profile_id[128];
	char		ods_code[16];
	char		purpose[16];
	char		caller[NAMEDATALEN];
	char		object_table[128];
	char		client_addr[48];
	char		application_name[64];
	char		statement_hash[33];
} AuditRecord;

/* Outcome codes after FHIR AuditEvent. */
#define AUDIT_OUTCOME_SUCCESS 0
#define AUDIT_OUTCOME_MINOR_FAILURE 4

extern void audit_queue_init(void);
extern bool audit_queue_available(void);
extern void audit_queue_wait_for_room(void);
extern bool audit_queue_put(const AuditRecord *records, int n, bool may_wait);
extern void audit_queue_note_write(void);
extern void audit_record_log(const AuditRecord *r);

/* audit_read.c */
extern void audit_read_init(void);
extern void audit_record_fill(AuditRecord *rec, char action, const char *event_type);
extern void audit_note_read(int64 patient_id);
extern void audit_note_report(void);
extern void audit_note_secondary(void);
extern void audit_refusal(int64 patient_id, const char *event_type, const char *reason);

#endif							/* SCR_H */
