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

#endif							/* SCR_H */
