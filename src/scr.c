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
 * Reserve the scr.* setting prefix.  Without it any client could
 * SET scr.anything and a careless policy might trust the value; with it an
 * undefined scr.* name is an error.
 */
void
_PG_init(void)
{
	MarkGUCPrefixReserved(SCR_GUC_PREFIX);
}
