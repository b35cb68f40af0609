/*
 * fuzz_string_distance.c
 *		libFuzzer harness for the linkage string comparators
 *		(src/string_distance.c).
 *
 * The matcher takes shortcuts: a Jaro-Winkler similarity bounded by the
 * characters two strings share before it is computed, "one edit apart"
 * decided from the common prefix and suffix, a Damerau-Levenshtein distance
 * kept in three rolling rows.  Each must give the answer of the plain
 * computation, or linkage decisions change silently.  The input's first
 * byte splits the rest into two strings (lengths up to 300, past the
 * 256-byte limit); the harness aborts when
 *   - within_one_edit disagrees with damerau_levenshtein <= 1;
 *   - damerau_levenshtein disagrees with a full-matrix reference written
 *     here, is not symmetric, exceeds the longer length, or is 0 for
 *     strings that differ (in their first 256 bytes);
 *   - jaro_winkler leaves [0, 1], or is not 1 for a string and itself;
 *   - jaro_winkler_at_least(a, b, f), for the floors the matcher uses,
 *     returns other than the similarity when it reaches f, or a value at or
 *     above f when it does not.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "string_distance.h"

#define CHECK(cond) do { if (!(cond)) abort(); } while (0)

/* The optimal string alignment distance with the whole matrix, as the server computed it before. */
static int
reference_distance(const char *a, int la, const char *b, int lb)
{
	static int	d[(MAX_COMPARE + 1) * (MAX_COMPARE + 1)];
	int			w;
	int			i,
				j;

	la = la < MAX_COMPARE ? la : MAX_COMPARE;
	lb = lb < MAX_COMPARE ? lb : MAX_COMPARE;
	w = lb + 1;
	for (i = 0; i <= la; i++)
		d[i * w] = i;
	for (j = 0; j <= lb; j++)
		d[j] = j;
	for (i = 1; i <= la; i++)
		for (j = 1; j <= lb; j++)
		{
			int			cost = a[i - 1] == b[j - 1] ? 0 : 1;
			int			best = d[(i - 1) * w + j] + 1;

			if (d[i * w + j - 1] + 1 < best)
				best = d[i * w + j - 1] + 1;
			if (d[(i - 1) * w + j - 1] + cost < best)
				best = d[(i - 1) * w + j - 1] + cost;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
				d[(i - 2) * w + j - 2] + 1 < best)
				best = d[(i - 2) * w + j - 2] + 1;
			d[i * w + j] = best;
		}
	return d[la * w + lb];
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const double floors[] = {0.0, 0.5, 0.8, 0.92, 1.0};
	const char *a;
	const char *b;
	int			la;
	int			lb;
	int			limit_a;
	int			limit_b;
	int			distance;
	double		jw;
	size_t		f;

	if (size < 1 || size > 601)
		return 0;
	la = data[0] % (size_t) size;
	if ((size_t) la > size - 1)
		la = size - 1;
	a = (const char *) data + 1;
	b = a + la;
	lb = (int) (size - 1) - la;
	limit_a = la < MAX_COMPARE ? la : MAX_COMPARE;
	limit_b = lb < MAX_COMPARE ? lb : MAX_COMPARE;

	distance = damerau_levenshtein(a, la, b, lb);
	CHECK(distance == reference_distance(a, la, b, lb));
	CHECK(distance == damerau_levenshtein(b, lb, a, la));
	CHECK(distance <= (limit_a > limit_b ? limit_a : limit_b));
	CHECK((distance == 0) == (limit_a == limit_b && memcmp(a, b, limit_a) == 0));
	CHECK(within_one_edit(a, la, b, lb) == (distance <= 1));

	jw = jaro_winkler(a, la, b, lb);
	CHECK(jw >= 0.0 && jw <= 1.0 + 1e-12);
	if (la > 0)
		CHECK(jaro_winkler(a, la, a, la) > 1.0 - 1e-12);
	for (f = 0; f < sizeof(floors) / sizeof(floors[0]); f++)
	{
		double		bounded = jaro_winkler_at_least(a, la, b, lb, floors[f]);

		if (jw >= floors[f])
			CHECK(bounded == jw);
		else
			CHECK(bounded < floors[f]);
	}
	return 0;
}
