/*
 * string_distance.h
 *		String similarity for patient linkage (src/string_distance.c), with no
 *		dependency on the server, so that test/fuzz can build it alone.
 */
#ifndef SCR_STRING_DISTANCE_H
#define SCR_STRING_DISTANCE_H

#include <stdbool.h>

/* Longest input compared, in bytes; longer names are not names. */
#define MAX_COMPARE 256

extern double jaro_winkler(const char *a, int la, const char *b, int lb);
extern double jaro_winkler_at_least(const char *a, int la, const char *b, int lb,
									double floor);
extern int	damerau_levenshtein(const char *a, int la, const char *b, int lb);
extern bool within_one_edit(const char *a, int la, const char *b, int lb);

#endif							/* SCR_STRING_DISTANCE_H */
