/*
 * string_distance.c
 *		String similarity for patient linkage: Jaro-Winkler, Damerau-Levenshtein
 *		(optimal string alignment) and the cheap tests the matcher runs first.
 *
 * Server-free (no palloc, no PostgreSQL headers), so that test/fuzz can
 * check, outside the server, that each shortcut gives the answer of the
 * full computation.  Strings are bytes with a length; only the first
 * MAX_COMPARE bytes of each are compared.  src/linkage_compare.c makes them
 * SQL functions; src/linkage.c compares names, postcodes and addresses with
 * them.
 */
#include <stdbool.h>
#include <string.h>

#include "string_distance.h"

#define SD_MIN(a, b) ((a) < (b) ? (a) : (b))
#define SD_MAX(a, b) ((a) > (b) ? (a) : (b))
#define SD_ABS(a) ((a) < 0 ? -(a) : (a))

/* Jaro-Winkler similarity of two byte strings (0..1), prefix scale 0.1. */
double
jaro_winkler(const char *a, int la, const char *b, int lb)
{
	bool		amatch[MAX_COMPARE];
	bool		bmatch[MAX_COMPARE];
	int			window;
	int			matches = 0;
	int			transpositions = 0;
	int			i,
				j,
				k;
	double		jaro;
	int			prefix = 0;

	if (la == 0 && lb == 0)
		return 1.0;
	if (la == 0 || lb == 0)
		return 0.0;
	la = SD_MIN(la, MAX_COMPARE);
	lb = SD_MIN(lb, MAX_COMPARE);
	window = SD_MAX(la, lb) / 2 - 1;
	if (window < 0)
		window = 0;
	memset(amatch, 0, la);
	memset(bmatch, 0, lb);
	for (i = 0; i < la; i++)
	{
		int			lo = SD_MAX(0, i - window);
		int			hi = SD_MIN(lb - 1, i + window);

		for (j = lo; j <= hi; j++)
			if (!bmatch[j] && a[i] == b[j])
			{
				amatch[i] = bmatch[j] = true;
				matches++;
				break;
			}
	}
	if (matches == 0)
		return 0.0;
	for (i = 0, k = 0; i < la; i++)
	{
		if (!amatch[i])
			continue;
		while (!bmatch[k])
			k++;
		if (a[i] != b[k])
			transpositions++;
		k++;
	}
	jaro = ((double) matches / la + (double) matches / lb +
			(matches - transpositions / 2.0) / matches) / 3.0;
	while (prefix < 4 && prefix < la && prefix < lb && a[prefix] == b[prefix])
		prefix++;
	return jaro + prefix * 0.1 * (1.0 - jaro);
}

/*
 * The Jaro-Winkler similarity when it may reach floor, else 0.  The
 * characters two strings share (as multisets) bound the matches Jaro can
 * find, and so the similarity, for the cost of one pass over each string;
 * most pairs a matcher compares are strangers, whose comparison ends here.
 */
double
jaro_winkler_at_least(const char *a, int la, const char *b, int lb, double floor)
{
	static unsigned short counts[256];	/* all zero between calls */
	int			shared = 0;
	int			prefix = 0;
	double		jaro;
	int			i;

	if (la == 0 || lb == 0)
		return jaro_winkler(a, la, b, lb);
	la = SD_MIN(la, MAX_COMPARE);
	lb = SD_MIN(lb, MAX_COMPARE);
	for (i = 0; i < la; i++)
		counts[(unsigned char) a[i]]++;
	for (i = 0; i < lb; i++)
		if (counts[(unsigned char) b[i]] > 0)
		{
			counts[(unsigned char) b[i]]--;
			shared++;
		}
	for (i = 0; i < la; i++)
		counts[(unsigned char) a[i]] = 0;
	if (shared == 0)
		return 0.0;
	/* At best every shared character matches, none transposed. */
	jaro = ((double) shared / la + (double) shared / lb + 1.0) / 3.0;
	while (prefix < 4 && prefix < la && prefix < lb && a[prefix] == b[prefix])
		prefix++;
	if (jaro + prefix * 0.1 * (1.0 - jaro) < floor)
		return 0.0;
	return jaro_winkler(a, la, b, lb);
}

/*
 * Damerau-Levenshtein distance, optimal string alignment: insertions,
 * deletions, substitutions and transpositions of adjacent characters.  Three
 * rolling rows of the distance matrix (a transposition looks two rows back),
 * so no allocation.
 */
int
damerau_levenshtein(const char *a, int la, const char *b, int lb)
{
	int			rows[3][MAX_COMPARE + 1];
	int			i,
				j;

	la = SD_MIN(la, MAX_COMPARE);
	lb = SD_MIN(lb, MAX_COMPARE);
	for (j = 0; j <= lb; j++)
		rows[0][j] = j;
	for (i = 1; i <= la; i++)
	{
		int		   *cur = rows[i % 3];
		const int  *prev = rows[(i - 1) % 3];
		const int  *prev2 = rows[(i + 1) % 3];	/* row i - 2 */

		cur[0] = i;
		for (j = 1; j <= lb; j++)
		{
			int			cost = a[i - 1] == b[j - 1] ? 0 : 1;
			int			best = SD_MIN(prev[j] + 1, cur[j - 1] + 1);

			best = SD_MIN(best, prev[j - 1] + cost);
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
				best = SD_MIN(best, prev2[j - 2] + 1);
			cur[j] = best;
		}
	}
	return rows[la % 3][lb];
}

/*
 * Whether two strings are at most one edit apart (damerau_levenshtein <= 1)
 * without building the distance matrix: past their common prefix and
 * suffix, one insertion, deletion or substitution leaves at most one
 * character on each side, and one transposition two characters crossed.
 */
bool
within_one_edit(const char *a, int la, const char *b, int lb)
{
	int			prefix = 0;
	int			suffix = 0;
	int			ra,
				rb;

	la = SD_MIN(la, MAX_COMPARE);
	lb = SD_MIN(lb, MAX_COMPARE);
	if (SD_ABS(la - lb) > 1)
		return false;
	while (prefix < la && prefix < lb && a[prefix] == b[prefix])
		prefix++;
	while (suffix < la - prefix && suffix < lb - prefix &&
		   a[la - 1 - suffix] == b[lb - 1 - suffix])
		suffix++;
	ra = la - prefix - suffix;
	rb = lb - prefix - suffix;
	if (ra <= 1 && rb <= 1)
		return true;
	return ra == 2 && rb == 2 &&
		a[prefix] == b[prefix + 1] && a[prefix + 1] == b[prefix];
}
