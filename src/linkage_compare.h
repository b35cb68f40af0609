/*
 * linkage_compare.h
 *		String comparators shared by the linkage normalisers and the matcher.
 */
#ifndef SCR_LINKAGE_COMPARE_H
#define SCR_LINKAGE_COMPARE_H

extern double jaro_winkler(const char *a, int la, const char *b, int lb);
extern double jaro_winkler_at_least(const char *a, int la, const char *b, int lb,
									 double floor);
extern int	damerau_levenshtein(const char *a, int la, const char *b, int lb);

#endif							/* SCR_LINKAGE_COMPARE_H */
