/*
 * scr.c
 *		Module entry point of the scr extension: settings, hooks and workers
 *		are set up here and nowhere else.
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/guc.h"

#include "scr.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

/*
 * Define scr's settings, then reserve the scr.* prefix.  Without the
 * reservation any client could SET scr.anything and a careless policy might
 * trust the value; with it an undefined scr.* name is an error.
 */
void
_PG_init(void)
{
	feed_init();
	access_context_init();
	access_policy_init();
	linkage_init();
	audit_queue_init();
	audit_read_init();
	MarkGUCPrefixReserved(SCR_GUC_PREFIX);
}
