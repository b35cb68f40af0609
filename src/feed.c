/*
 * feed.c
 *		What the feed functions need from C: the settings that govern what a
 *		feed may send, and the identity of the role that called them.
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/guc.h"

#include "scr.h"

/* scr.allow_test_nhs_numbers: accept patients with 999-range numbers. */
bool		scr_allow_test_nhs_numbers = false;

/* scr.max_message_size: the largest feed message accepted. */
int			scr_max_message_size = 1024 * 1024;

/*
 * Define the feed settings.  Both are superuser-only: a feed login must not
 * be able to let test patients into a live record or lift the size limit.
 */
void
feed_init(void)
{
	DefineCustomBoolVariable("scr.allow_test_nhs_numbers",
							 "Accepts patients whose NHS number is in the 999 test range.",
							 "Off in a live record; on for demonstrations and tests.",
							 &scr_allow_test_nhs_numbers,
							 false,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);
	DefineCustomIntVariable("scr.max_message_size",
							"Largest feed message, in bytes, that the feed functions accept.",
							NULL,
							&scr_max_message_size,
							1024 * 1024,
							1024,
							256 * 1024 * 1024,
							PGC_SUSET,
							GUC_UNIT_BYTE,
							NULL, NULL, NULL);
}

/*
 * The role that called a SECURITY DEFINER feed function.  current_user
 * inside such a function is its owner; the outer user is the role the session
 * is acting as (the login, or what it SET ROLE to), which is what a feed
 * binding names.
 */
PG_FUNCTION_INFO_V1(feed_caller);
Datum
feed_caller(PG_FUNCTION_ARGS)
{
	PG_RETURN_OID(GetOuterUserId());
}
