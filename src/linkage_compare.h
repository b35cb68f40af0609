/*
 * linkage_compare.h
 *		The linkage normalisers as C functions, and the string comparators
 *		(src/string_distance.h) the matcher uses with them.
 */
#ifndef SCR_LINKAGE_COMPARE_H
#define SCR_LINKAGE_COMPARE_H

#include "fmgr.h"

#include "string_distance.h"

/* The normalisers, as SQL calls them (and as _link_keys calls them). */
extern Datum normalise_name_sql(PG_FUNCTION_ARGS);
extern Datum phonetic_sql(PG_FUNCTION_ARGS);
extern Datum postcode_key(PG_FUNCTION_ARGS);
extern Datum normalise_address(PG_FUNCTION_ARGS);

#endif							/* SCR_LINKAGE_COMPARE_H */
