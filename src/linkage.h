/*
 * linkage.h
 *		The matcher's comparison of two people, shared by the SQL-callable
 *		comparison (src/linkage.c) and the candidate search
 *		(src/linkage_candidates.c).
 */
#ifndef SCR_LINKAGE_H
#define SCR_LINKAGE_H

#include "utils/array.h"
#include "utils/date.h"

/* Comparisons, in the order of the levels array (1-based in SQL). */
enum
{
	CMP_GIVEN_NAME,
	CMP_FAMILY_NAME,
	CMP_BIRTH_DATE,
	CMP_SEX,
	CMP_POSTCODE,
	CMP_ADDRESS,
	CMP_NHS_NUMBER,
	N_COMPARISONS
};

/* Levels run from 1 (best agreement) to at most MAX_LEVEL; 0 is missing. */
#define MAX_LEVEL 6

/*
 * One side of a comparison: the normalised keys scr.source_identifier
 * stores beside each record (NULL pointers for missing values).
 */
typedef struct LinkPerson
{
	text	   *given;
	text	   *family;
	text	   *given_phonetic;
	text	   *family_phonetic;
	bool		has_birth;
	DateADT		birth;
	text	   *sex;
	text	   *postcode;
	text	   *address;
	bool		has_nhs;
	int64		nhs;
} LinkPerson;

/* The m and u probabilities, comparison-major, MAX_LEVEL levels each. */
typedef struct LinkProbabilities
{
	double		m[N_COMPARISONS * MAX_LEVEL];
	double		u[N_COMPARISONS * MAX_LEVEL];
} LinkProbabilities;

extern void link_compare(const LinkPerson *a, LinkPerson *b, const char *const *aliases,
						 const int *alias_lengths, int n_aliases, int16 *levels);
extern void link_read_probabilities(ArrayType *m, ArrayType *u, LinkProbabilities *out);
extern double link_level_weight(const LinkProbabilities *p, int comparison, int level,
								const double *tf_given, const double *tf_family);

/* Settings (src/linkage.c). */
extern char *scr_linkage_blocking_rules;
extern int	scr_linkage_candidates_per_rule;

#endif							/* SCR_LINKAGE_H */
