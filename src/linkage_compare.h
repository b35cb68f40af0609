/*
 * linkage_compare.h
 *		String comparators shared by the linkage normalisers and the matcher.
 */
#ifndef SCR_LINKAGE_COMPARE_H
#define SCR_LINKAGE_COMPARE_H

#include "fmgr.h"

extern double jaro_winkler(const char *a, int la, const char *b, int lb);
extern double jaro_winkler_at_least(const char *a, int la, const char *b, int lb,
									 double floor);
extern int	damerau_levenshtein(const char *a, int la, const char *b, int lb);
extern bool within_one_edit(const char *a, int la, const char *b, int lb);

/* The normalisers, as SQL calls them (and as _link_keys calls them). */
extern Datum normalise_name_sql(PG_FUNCTION_ARGS);
extern Datum phonetic_sql(PG_FUNCTION_ARGS);
extern Datum postcode_key(PG_FUNCTION_ARGS);
extern Datum normalise_address(PG_FUNCTION_ARGS);

#endif							/* SCR_LINKAGE_COMPARE_H */
