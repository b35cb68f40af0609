/*
 * linkage.c
 *		The probabilistic matcher: how alike two people's demographics are.
 *
 * Fellegi-Sunter record linkage.  Each of seven comparisons (given name,
 * family name, birth date, sex, postcode, address, NHS number) puts a pair
 * of demographic records at one agreement level; each level carries a match
 * weight log2(m/u), where m is how often true matches fall at that level and
 * u how often non-matches do (scr.linkage_weight).  The sum of the weights
 * is the evidence that the two records are one person.  Exact agreement on a
 * name is weighed by how common the name is (term frequency): two Smiths
 * agreeing says less than two Featherstonehaughs.
 *
 * The inputs are the normalised keys scr.source_identifier stores beside
 * each record (generated columns), so a comparison does no normalising: the
 * hot path compares a few short strings and dates.  Here too: the settings,
 * the probabilities in force (cached until the weight tables change) and the
 * thresholds.  Which candidates are compared (blocking) is
 * src/linkage_candidates.c; what the score decides is src/linkage.sql.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/datetime.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
#include "utils/varlena.h"

#include "linkage.h"
#include "linkage_compare.h"
#include "scr.h"

/* Given name levels. */
#define GIVEN_EXACT 1
#define GIVEN_ALIAS 2			/* a nickname, or the same first name */
#define GIVEN_CLOSE 3
#define GIVEN_SIMILAR 4
#define GIVEN_DISAGREE 5
/* Family name levels. */
#define FAMILY_EXACT 1
#define FAMILY_CLOSE 2			/* typo, or one name part of the other */
#define FAMILY_SIMILAR 3
#define FAMILY_DISAGREE 4
/* Birth date levels. */
#define BIRTH_EXACT 1
#define BIRTH_TRANSPOSED 2		/* day and month swapped */
#define BIRTH_ONE_OFF 3			/* one of year, month, day differs */
#define BIRTH_DISAGREE 4
/* Postcode levels. */
#define POSTCODE_FULL 1
#define POSTCODE_SECTOR 2		/* outward code and inward digit; one edit abroad */
#define POSTCODE_OUTWARD 3
#define POSTCODE_DISAGREE 4
/* Address levels. */
#define ADDRESS_EXACT 1
#define ADDRESS_SIMILAR 2
#define ADDRESS_DISAGREE 3

/* Settings: the decision thresholds and the blocking rules in use. */
double		scr_link_threshold = 16.0;
double		scr_review_threshold = 8.0;
char	   *scr_linkage_blocking_rules = NULL;
int			scr_linkage_candidates_per_rule = 200;
bool		scr_linkage_household_guard = true;

/* The blocking rules src/linkage.sql knows (scr.linkage_blocking_rule). */
static const char *const blocking_rules[] = {
	"nhs_number", "birth_date", "family_name_birth_year", "postcode_birth_year", "names",
	"swapped_names", "postcode_family_name", "postcode_given_name"
};

/* Refuse a blocking-rule list that is not a list of known rule names. */
static bool
check_blocking_rules(char **newval, void **extra, GucSource source)
{
	char	   *copy = pstrdup(*newval);
	List	   *rules = NIL;
	ListCell   *lc;
	bool		ok = true;

	(void) extra;
	(void) source;
	if (!SplitIdentifierString(copy, ',', &rules))
	{
		GUC_check_errdetail("List syntax is invalid.");
		ok = false;
	}
	foreach(lc, rules)
	{
		size_t		i;

		for (i = 0; ok && i < lengthof(blocking_rules); i++)
			if (strcmp(lfirst(lc), blocking_rules[i]) == 0)
				break;
		if (ok && i == lengthof(blocking_rules))
		{
			GUC_check_errdetail("\"%s\" is not a blocking rule.", (char *) lfirst(lc));
			GUC_check_errhint("The rules are listed in scr.linkage_blocking_rule.");
			ok = false;
		}
	}
	list_free(rules);
	pfree(copy);
	return ok;
}

/*
 * The m and u probabilities in force, read once and kept until
 * scr.linkage_weight or scr.linkage_weight_default changes: their statement
 * triggers send a relcache invalidation (scr.access_invalidate), which
 * reaches every backend at commit and this one at its next command.
 */
static LinkProbabilities probabilities_cache;
static bool probabilities_valid = false;
static uint64 probabilities_generation = 0;
static Oid	weight_tables[2] = {InvalidOid, InvalidOid};

static void
linkage_relcache_callback(Datum arg pg_attribute_unused(), Oid relid)
{
	if (!OidIsValid(relid) || !OidIsValid(weight_tables[0]) ||
		relid == weight_tables[0] || relid == weight_tables[1])
	{
		probabilities_generation++;
		probabilities_valid = false;
	}
}

void
linkage_init(void)
{
	CacheRegisterRelcacheCallback(linkage_relcache_callback, (Datum) 0);
	DefineCustomRealVariable("scr.link_threshold",
							 "Match weight at or above which a person record links to a patient.",
							 "Below it, down to scr.review_threshold, the pair goes to the link review queue.",
							 &scr_link_threshold, 16.0, -100.0, 100.0,
							 PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomRealVariable("scr.review_threshold",
							 "Match weight at or above which an unlinked pair goes to the link review queue.",
							 NULL,
							 &scr_review_threshold, 8.0, -100.0, 100.0,
							 PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("scr.linkage_blocking_rules",
							   "Blocking rules that find linkage candidates (comma-separated; see scr.linkage_blocking_rule).",
							   NULL,
							   &scr_linkage_blocking_rules,
							   "nhs_number,birth_date,family_name_birth_year,postcode_birth_year,names,swapped_names,postcode_family_name,postcode_given_name",
							   PGC_SUSET, GUC_LIST_INPUT, check_blocking_rules, NULL, NULL);
	DefineCustomIntVariable("scr.linkage_candidates_per_rule",
							"Most candidate records one blocking rule returns for one incoming record.",
							NULL,
							&scr_linkage_candidates_per_rule, 200, 1, 100000,
							PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomBoolVariable("scr.linkage_household_guard",
							 "Never auto-links a pair whose given name or birth date disagree outright.",
							 "Twins and a father and son sharing a name and address agree on everything else.",
							 &scr_linkage_household_guard, true,
							 PGC_SUSET, 0, NULL, NULL, NULL);
}

/*
 * The settings as one row, so that SQL reads them without depending on the
 * library having been loaded first.
 */
PG_FUNCTION_INFO_V1(linkage_settings);
Datum
linkage_settings(PG_FUNCTION_ARGS)
{
	TupleDesc	desc;
	Datum		values[5];
	bool		nulls[5] = {false, false, false, false, false};
	List	   *rules = NIL;
	ListCell   *lc;
	Datum	   *elems;
	int			n = 0;
	char	   *copy = pstrdup(scr_linkage_blocking_rules ? scr_linkage_blocking_rules : "");

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	if (!SplitIdentifierString(copy, ',', &rules))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("scr.linkage_blocking_rules is not a comma-separated list of names")));
	elems = palloc(sizeof(Datum) * (list_length(rules) + 1));
	foreach(lc, rules)
		elems[n++] = CStringGetTextDatum((char *) lfirst(lc));
	values[0] = Float8GetDatum(scr_link_threshold);
	values[1] = Float8GetDatum(scr_review_threshold);
	values[2] = PointerGetDatum(construct_array(elems, n, TEXTOID, -1, false, TYPALIGN_INT));
	values[3] = Int32GetDatum(scr_linkage_candidates_per_rule);
	values[4] = BoolGetDatum(scr_linkage_household_guard);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc), values, nulls)));
}

#define TEXT_ARG(n) (PG_ARGISNULL(n) ? NULL : PG_GETARG_TEXT_PP(n))

static bool
text_eq(text *a, text *b)
{
	return VARSIZE_ANY_EXHDR(a) == VARSIZE_ANY_EXHDR(b) &&
		memcmp(VARDATA_ANY(a), VARDATA_ANY(b), VARSIZE_ANY_EXHDR(a)) == 0;
}

static double
text_jaro_winkler(text *a, text *b)
{
	return jaro_winkler(VARDATA_ANY(a), VARSIZE_ANY_EXHDR(a),
						VARDATA_ANY(b), VARSIZE_ANY_EXHDR(b));
}

/* The similarity if it may reach floor, else 0 (jaro_winkler_at_least). */
static double
text_jaro_winkler_at_least(text *a, text *b, double floor)
{
	return jaro_winkler_at_least(VARDATA_ANY(a), VARSIZE_ANY_EXHDR(a),
								 VARDATA_ANY(b), VARSIZE_ANY_EXHDR(b), floor);
}

/* Whether two texts are at most one edit apart (within_one_edit). */
static bool
text_within_one_edit(text *a, text *b)
{
	return within_one_edit(VARDATA_ANY(a), VARSIZE_ANY_EXHDR(a),
						   VARDATA_ANY(b), VARSIZE_ANY_EXHDR(b));
}

/*
 * Read the probabilities: the estimated or edited weight of each comparison
 * and level, else its shipped default, else 0.5 (no evidence either way).
 * An invalidation arriving while the query runs (it opens the tables) marks
 * what was read as possibly stale; it is used for this call only.
 */
static void
load_probabilities(void)
{
	uint64		start_generation = probabilities_generation;
	Oid			nsp = get_namespace_oid("scr", false);
	bool		isnull;
	int			rc;

	weight_tables[0] = get_relname_relid("linkage_weight", nsp);
	weight_tables[1] = get_relname_relid("linkage_weight_default", nsp);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	rc = SPI_execute("SELECT array_agg(coalesce(w.m, d.m, 0.5) ORDER BY c.n, l.level), "
					 "       array_agg(coalesce(w.u, d.u, 0.5) ORDER BY c.n, l.level) "
					 "FROM unnest(ARRAY['given_name', 'family_name', 'birth_date', 'sex', "
					 "                  'postcode', 'address', 'nhs_number']) "
					 "     WITH ORDINALITY AS c(comparison, n) "
					 "CROSS JOIN generate_series(1, 6) AS l(level) "
					 "LEFT JOIN scr.linkage_weight_default d "
					 "  ON d.comparison = c.comparison AND d.level = l.level "
					 "LEFT JOIN scr.linkage_weight w "
					 "  ON w.comparison = c.comparison AND w.level = l.level",
					 true, 1);
	if (rc != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not read the linkage weights");
	link_read_probabilities(DatumGetArrayTypeP(SPI_getbinval(SPI_tuptable->vals[0],
															 SPI_tuptable->tupdesc, 1, &isnull)),
							DatumGetArrayTypeP(SPI_getbinval(SPI_tuptable->vals[0],
															 SPI_tuptable->tupdesc, 2, &isnull)),
							&probabilities_cache);
	SPI_finish();
	probabilities_valid = (probabilities_generation == start_generation);
}

static Datum
float8_array(const double *values, int n)
{
	Datum	   *elems = palloc(sizeof(Datum) * n);
	int			i;

	for (i = 0; i < n; i++)
		elems[i] = Float8GetDatum(values[i]);
	return PointerGetDatum(construct_array(elems, n, FLOAT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

/*
 * scr._linkage_probabilities(): the m and u vectors the matcher reads,
 * comparison-major, six levels each.  Every record linked asks for them.
 */
PG_FUNCTION_INFO_V1(linkage_probabilities);
Datum
linkage_probabilities(PG_FUNCTION_ARGS)
{
	TupleDesc	desc;
	Datum		values[2];
	bool		nulls[2] = {false, false};

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	if (!probabilities_valid)
		load_probabilities();
	values[0] = float8_array(probabilities_cache.m, N_COMPARISONS * MAX_LEVEL);
	values[1] = float8_array(probabilities_cache.u, N_COMPARISONS * MAX_LEVEL);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc), values, nulls)));
}

/*
 * scr.linkage_thresholds(): the thresholds in force.  A match weight is a
 * likelihood ratio; what it must reach grows with the number of patients a
 * record could belong to (the prior odds of any one candidate being the
 * person fall as the record grows).  The settings are for a record of up to
 * 10,000 patients; each doubling beyond adds one bit.  The size is the
 * planner's estimate (pg_class.reltuples of scr.patient), so this costs a
 * catalog cache lookup.
 */
PG_FUNCTION_INFO_V1(linkage_thresholds);
Datum
linkage_thresholds(PG_FUNCTION_ARGS)
{
	TupleDesc	desc;
	Datum		values[2];
	bool		nulls[2] = {false, false};
	Oid			patient = get_relname_relid("patient", get_namespace_oid("scr", false));
	double		patients = 0;
	double		bits;
	HeapTuple	tuple;

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(patient));
	if (HeapTupleIsValid(tuple))
	{
		patients = ((Form_pg_class) GETSTRUCT(tuple))->reltuples;
		ReleaseSysCache(tuple);
	}
	bits = log2(Max(patients, 10000.0) / 10000.0);
	values[0] = Float8GetDatum(scr_link_threshold + bits);
	values[1] = Float8GetDatum(scr_review_threshold + bits);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc), values, nulls)));
}

/* Length of the first word of a normalised name. */
static int
first_word_length(text *t)
{
	const char *s = VARDATA_ANY(t);
	int			len = VARSIZE_ANY_EXHDR(t);
	const char *space = memchr(s, ' ', len);

	return space ? space - s : len;
}

/*
 * Whether one name is a whole word of the other: a double-barrelled or
 * married name against one of its parts (smith, smith jones; married smith).
 */
static bool
word_of(text *part, text *whole)
{
	const char *p = VARDATA_ANY(part);
	int			pl = VARSIZE_ANY_EXHDR(part);
	const char *w = VARDATA_ANY(whole);
	int			wl = VARSIZE_ANY_EXHDR(whole);
	int			i;

	if (pl == 0 || pl >= wl)
		return false;
	for (i = 0; i + pl <= wl; i++)
		if ((i == 0 || w[i - 1] == ' ') && (i + pl == wl || w[i + pl] == ' ') &&
			memcmp(w + i, p, pl) == 0)
			return true;
	return false;
}

/* Whether b's given name (or its first word) is among a's aliases. */
static bool
is_alias(const char *const *aliases, const int *alias_lengths, int n_aliases, text *b)
{
	int			bl = VARSIZE_ANY_EXHDR(b);
	int			bfirst = first_word_length(b);
	int			i;

	for (i = 0; i < n_aliases; i++)
	{
		int			al = alias_lengths[i];

		if ((al == bl || al == bfirst) && memcmp(aliases[i], VARDATA_ANY(b), al) == 0)
			return true;
	}
	return false;
}

static int
compare_given(const LinkPerson *a, LinkPerson *b, const char *const *aliases,
			  const int *alias_lengths, int n_aliases)
{
	double		jw;
	int			al,
				bl,
				af,
				bf;

	if (a->given == NULL || b->given == NULL)
		return 0;
	if (text_eq(a->given, b->given))
		return GIVEN_EXACT;
	al = VARSIZE_ANY_EXHDR(a->given);
	bl = VARSIZE_ANY_EXHDR(b->given);
	af = first_word_length(a->given);
	bf = first_word_length(b->given);
	/* Middle names sent by one source only: "mary jane", "mary". */
	if (af == bf && memcmp(VARDATA_ANY(a->given), VARDATA_ANY(b->given), af) == 0)
		return GIVEN_ALIAS;
	if (is_alias(aliases, alias_lengths, n_aliases, b->given))
		return GIVEN_ALIAS;
	jw = text_jaro_winkler_at_least(a->given, b->given, 0.80);
	if (jw >= 0.92 || text_within_one_edit(a->given, b->given))
		return GIVEN_CLOSE;
	if (jw >= 0.80 ||
		(a->given_phonetic && b->given_phonetic && text_eq(a->given_phonetic, b->given_phonetic)))
		return GIVEN_SIMILAR;
	/* An initial for a name: "j", "john". */
	if ((al == 1 || bl == 1) && VARDATA_ANY(a->given)[0] == VARDATA_ANY(b->given)[0])
		return GIVEN_SIMILAR;
	return GIVEN_DISAGREE;
}

static int
compare_family(const LinkPerson *a, const LinkPerson *b)
{
	double		jw;

	if (a->family == NULL || b->family == NULL)
		return 0;
	if (text_eq(a->family, b->family))
		return FAMILY_EXACT;
	jw = text_jaro_winkler_at_least(a->family, b->family, 0.80);
	if (jw >= 0.92 || text_within_one_edit(a->family, b->family) ||
		word_of(a->family, b->family) || word_of(b->family, a->family))
		return FAMILY_CLOSE;
	if (jw >= 0.80 ||
		(a->family_phonetic && b->family_phonetic && text_eq(a->family_phonetic, b->family_phonetic)))
		return FAMILY_SIMILAR;
	return FAMILY_DISAGREE;
}

static int
compare_birth(const LinkPerson *a, const LinkPerson *b)
{
	int			ay,
				am,
				ad,
				by,
				bm,
				bd;
	int			same;

	if (!a->has_birth || !b->has_birth)
		return 0;
	if (a->birth == b->birth)
		return BIRTH_EXACT;
	j2date(a->birth + POSTGRES_EPOCH_JDATE, &ay, &am, &ad);
	j2date(b->birth + POSTGRES_EPOCH_JDATE, &by, &bm, &bd);
	if (ay == by && am == bd && ad == bm)
		return BIRTH_TRANSPOSED;
	same = (ay == by) + (am == bm) + (ad == bd);
	if (same == 2)
		return BIRTH_ONE_OFF;
	return BIRTH_DISAGREE;
}

static int
compare_sex(const LinkPerson *a, const LinkPerson *b)
{
	if (a->sex == NULL || b->sex == NULL)
		return 0;
	/* Only male and female are compared: other and unknown say nothing. */
	if (VARSIZE_ANY_EXHDR(a->sex) < 4 || VARSIZE_ANY_EXHDR(b->sex) < 4 ||
		(VARDATA_ANY(a->sex)[0] != 'm' && VARDATA_ANY(a->sex)[0] != 'f') ||
		(VARDATA_ANY(b->sex)[0] != 'm' && VARDATA_ANY(b->sex)[0] != 'f'))
		return 0;
	return text_eq(a->sex, b->sex) ? 1 : 2;
}

/*
 * Postcodes arrive as scr.source_identifier.postcode_key: a UK postcode as
 * "OUTWARD INWARD", anything else as its letters and digits (no space).
 */
static int
compare_postcode(const LinkPerson *a, const LinkPerson *b)
{
	const char *as,
			   *bs;
	const char *aspace,
			   *bspace;
	int			al,
				bl;

	if (a->postcode == NULL || b->postcode == NULL)
		return 0;
	if (text_eq(a->postcode, b->postcode))
		return POSTCODE_FULL;
	as = VARDATA_ANY(a->postcode);
	bs = VARDATA_ANY(b->postcode);
	al = VARSIZE_ANY_EXHDR(a->postcode);
	bl = VARSIZE_ANY_EXHDR(b->postcode);
	aspace = memchr(as, ' ', al);
	bspace = memchr(bs, ' ', bl);
	if (aspace && bspace)
	{
		int			ao = aspace - as;

		if (ao != bspace - bs || memcmp(as, bs, ao) != 0)
			return POSTCODE_DISAGREE;
		return as[ao + 1] == bs[ao + 1] ? POSTCODE_SECTOR : POSTCODE_OUTWARD;
	}
	if (!aspace && !bspace && text_within_one_edit(a->postcode, b->postcode))
		return POSTCODE_SECTOR;
	return POSTCODE_DISAGREE;
}

/* Share of the words of the shorter address found in the longer one. */
static double
address_overlap(text *a, text *b)
{
	const char *as = VARDATA_ANY(a);
	const char *bs = VARDATA_ANY(b);
	int			al = VARSIZE_ANY_EXHDR(a);
	int			bl = VARSIZE_ANY_EXHDR(b);
	int			words = 0;
	int			found = 0;
	int			i = 0;

	if (al > bl)
	{
		const char *ts = as;
		int			tl = al;

		as = bs;
		al = bl;
		bs = ts;
		bl = tl;
	}
	while (i < al)
	{
		int			start = i;
		int			j;

		while (i < al && as[i] != ' ')
			i++;
		words++;
		for (j = 0; j + (i - start) <= bl; j++)
			if ((j == 0 || bs[j - 1] == ' ') && (j + (i - start) == bl || bs[j + (i - start)] == ' ') &&
				memcmp(bs + j, as + start, i - start) == 0)
			{
				found++;
				break;
			}
		i++;
	}
	return words ? (double) found / words : 0.0;
}

static int
compare_address(const LinkPerson *a, const LinkPerson *b)
{
	if (a->address == NULL || b->address == NULL)
		return 0;
	if (text_eq(a->address, b->address))
		return ADDRESS_EXACT;
	if (address_overlap(a->address, b->address) >= 0.6 ||
		text_jaro_winkler_at_least(a->address, b->address, 0.92) >= 0.92)
		return ADDRESS_SIMILAR;
	return ADDRESS_DISAGREE;
}

/*
 * Whether b's given and family names are a's the wrong way round: each close
 * to the other's (a typo allowed), and closer crossed than straight.  Most
 * candidates fail the first crossed comparison, so the others are made only
 * when it passes.
 */
static bool
swapped(const LinkPerson *a, const LinkPerson *b)
{
	double		crossed;
	double		straight;

	if (text_eq(a->given, b->given) || text_eq(a->family, b->family))
		return false;
	crossed = text_jaro_winkler_at_least(a->given, b->family, 0.92);
	if (crossed < 0.92)
		return false;
	crossed = Min(crossed, text_jaro_winkler_at_least(a->family, b->given, 0.92));
	if (crossed < 0.92)
		return false;
	straight = Max(text_jaro_winkler(a->given, b->given),
				   text_jaro_winkler(a->family, b->family));
	return crossed > straight;
}

/* Read one person from nine consecutive arguments starting at first. */
static void
read_person(FunctionCallInfo fcinfo, int first, LinkPerson *p)
{
	p->given = TEXT_ARG(first);
	p->family = TEXT_ARG(first + 1);
	p->given_phonetic = TEXT_ARG(first + 2);
	p->family_phonetic = TEXT_ARG(first + 3);
	p->has_birth = !PG_ARGISNULL(first + 4);
	p->birth = p->has_birth ? PG_GETARG_DATEADT(first + 4) : 0;
	p->sex = TEXT_ARG(first + 5);
	p->postcode = TEXT_ARG(first + 6);
	p->address = TEXT_ARG(first + 7);
	p->has_nhs = !PG_ARGISNULL(first + 8);
	p->nhs = p->has_nhs ? PG_GETARG_INT64(first + 8) : 0;
	/* Infinite dates say nothing. */
	if (p->has_birth && DATE_NOT_FINITE(p->birth))
		p->has_birth = false;
}

/*
 * The agreement level of each comparison between the incoming person a,
 * whose given name's aliases are given, and the candidate b.  Given and
 * family names written the wrong way round in b are compared the right way
 * round (b is changed to say so).
 */
void
link_compare(const LinkPerson *a, LinkPerson *b, const char *const *aliases,
			 const int *alias_lengths, int n_aliases, int16 *levels)
{
	if (a->given && a->family && b->given && b->family && !text_eq(a->given, a->family) &&
		swapped(a, b))
	{
		text	   *t = b->given;

		b->given = b->family;
		b->family = t;
		t = b->given_phonetic;
		b->given_phonetic = b->family_phonetic;
		b->family_phonetic = t;
	}

	levels[CMP_GIVEN_NAME] = compare_given(a, b, aliases, alias_lengths, n_aliases);
	levels[CMP_FAMILY_NAME] = compare_family(a, b);
	levels[CMP_BIRTH_DATE] = compare_birth(a, b);
	levels[CMP_SEX] = compare_sex(a, b);
	levels[CMP_POSTCODE] = compare_postcode(a, b);
	levels[CMP_ADDRESS] = compare_address(a, b);
	levels[CMP_NHS_NUMBER] = a->has_nhs && b->has_nhs ? (a->nhs == b->nhs ? 1 : 2) : 0;
}

/*
 * link_compare for SQL: the incoming person in arguments 0-8 with its
 * given-name aliases at 9, the candidate in 10-18.
 */
PG_FUNCTION_INFO_V1(link_levels);
Datum
link_levels(PG_FUNCTION_ARGS)
{
	LinkPerson	a,
				b;
	int16		lv[N_COMPARISONS];
	Datum		levels[N_COMPARISONS];
	Datum	   *elems = NULL;
	bool	   *nulls = NULL;
	int			n = 0;
	const char **aliases;
	int		   *alias_lengths;
	int			n_aliases = 0;
	int			i;

	read_person(fcinfo, 0, &a);
	read_person(fcinfo, 10, &b);
	if (!PG_ARGISNULL(9))
		deconstruct_array(PG_GETARG_ARRAYTYPE_P(9), TEXTOID, -1, false, TYPALIGN_INT,
						  &elems, &nulls, &n);
	aliases = palloc(sizeof(char *) * (n + 1));
	alias_lengths = palloc(sizeof(int) * (n + 1));
	for (i = 0; i < n; i++)
	{
		text	   *t;

		if (nulls[i])
			continue;
		t = DatumGetTextPP(elems[i]);
		aliases[n_aliases] = VARDATA_ANY(t);
		alias_lengths[n_aliases++] = VARSIZE_ANY_EXHDR(t);
	}

	link_compare(&a, &b, aliases, alias_lengths, n_aliases, lv);
	for (i = 0; i < N_COMPARISONS; i++)
		levels[i] = Int16GetDatum(lv[i]);
	PG_RETURN_ARRAYTYPE_P(construct_array(levels, N_COMPARISONS, INT2OID, 2, true, TYPALIGN_SHORT));
}

static void
read_probability_array(ArrayType *arr, double *out, const char *what)
{
	if (ARR_NDIM(arr) != 1 || ARR_ELEMTYPE(arr) != FLOAT8OID || ARR_HASNULL(arr) ||
		ARR_DIMS(arr)[0] != N_COMPARISONS * MAX_LEVEL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s probabilities must be a float8 array of %d values without nulls",
						what, N_COMPARISONS * MAX_LEVEL)));
	memcpy(out, ARR_DATA_PTR(arr), sizeof(double) * N_COMPARISONS * MAX_LEVEL);
}

/*
 * The m and u probabilities, one per comparison and level, from the flat
 * float8 arrays scr._linkage_probabilities() builds.
 */
void
link_read_probabilities(ArrayType *m, ArrayType *u, LinkProbabilities *out)
{
	read_probability_array(m, out->m, "m");
	read_probability_array(u, out->u, "u");
}

/*
 * The match weight of one comparison at one level, log2(m/u) (0 when
 * missing).  tf_given and tf_family, when given, are the share of records
 * carrying the incoming person's exact name: exact agreement on it weighs
 * log2(m/tf) instead, so common names count less and rare ones more.
 */
double
link_level_weight(const LinkProbabilities *p, int comparison, int level,
				  const double *tf_given, const double *tf_family)
{
	double		m,
				u;

	if (level < 0 || level > MAX_LEVEL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("level %d of comparison %d is out of range", level, comparison + 1)));
	if (level == 0)
		return 0.0;
	m = p->m[comparison * MAX_LEVEL + level - 1];
	u = p->u[comparison * MAX_LEVEL + level - 1];
	if (level == 1 && comparison == CMP_GIVEN_NAME && tf_given)
		u = *tf_given;
	else if (level == 1 && comparison == CMP_FAMILY_NAME && tf_family)
		u = *tf_family;
	/* Probabilities are kept away from 0 and 1 by the table's checks. */
	return (m > 0 && u > 0) ? log2(m / u) : 0.0;
}

/*
 * The probabilities are the same for every pair a statement scores, so they
 * are read once and kept in fn_extra (and re-read if an argument changes).
 */
typedef struct WeightCache
{
	Size		msize;
	Size		usize;
	char	   *mraw;
	char	   *uraw;
	LinkProbabilities p;
} WeightCache;

static WeightCache *
weight_cache(FunctionCallInfo fcinfo, ArrayType *m, ArrayType *u)
{
	WeightCache *c = (WeightCache *) fcinfo->flinfo->fn_extra;
	Size		msize = VARSIZE(m);
	Size		usize = VARSIZE(u);

	if (c && c->msize == msize && c->usize == usize &&
		memcmp(c->mraw, m, msize) == 0 && memcmp(c->uraw, u, usize) == 0)
		return c;
	if (c == NULL)
		c = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(WeightCache));
	else
	{
		pfree(c->mraw);
		pfree(c->uraw);
	}
	link_read_probabilities(m, u, &c->p);
	c->mraw = MemoryContextAlloc(fcinfo->flinfo->fn_mcxt, msize);
	c->uraw = MemoryContextAlloc(fcinfo->flinfo->fn_mcxt, usize);
	memcpy(c->mraw, m, msize);
	memcpy(c->uraw, u, usize);
	c->msize = msize;
	c->usize = usize;
	fcinfo->flinfo->fn_extra = c;
	return c;
}

/* Each comparison's weight for the levels in argument 0 (link_level_weight). */
static void
match_weights(FunctionCallInfo fcinfo, double *weights)
{
	ArrayType  *levels = PG_GETARG_ARRAYTYPE_P(0);
	WeightCache *c = weight_cache(fcinfo, PG_GETARG_ARRAYTYPE_P(1), PG_GETARG_ARRAYTYPE_P(2));
	double		tf_given = PG_ARGISNULL(3) ? 0 : PG_GETARG_FLOAT8(3);
	double		tf_family = PG_ARGISNULL(4) ? 0 : PG_GETARG_FLOAT8(4);
	int16	   *lv;
	int			i;

	if (ARR_NDIM(levels) != 1 || ARR_ELEMTYPE(levels) != INT2OID || ARR_HASNULL(levels) ||
		ARR_DIMS(levels)[0] != N_COMPARISONS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("levels must be a smallint array of %d values without nulls", N_COMPARISONS)));
	lv = (int16 *) ARR_DATA_PTR(levels);
	for (i = 0; i < N_COMPARISONS; i++)
		weights[i] = link_level_weight(&c->p, i, lv[i],
									   PG_ARGISNULL(3) ? NULL : &tf_given,
									   PG_ARGISNULL(4) ? NULL : &tf_family);
}

PG_FUNCTION_INFO_V1(link_weights);
Datum
link_weights(PG_FUNCTION_ARGS)
{
	double		weights[N_COMPARISONS];
	Datum		out[N_COMPARISONS];
	int			i;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		PG_RETURN_NULL();
	match_weights(fcinfo, weights);
	for (i = 0; i < N_COMPARISONS; i++)
		out[i] = Float8GetDatum(weights[i]);
	PG_RETURN_ARRAYTYPE_P(construct_array(out, N_COMPARISONS, FLOAT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

PG_FUNCTION_INFO_V1(link_score);
Datum
link_score(PG_FUNCTION_ARGS)
{
	double		weights[N_COMPARISONS];
	double		score = 0.0;
	int			i;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		PG_RETURN_NULL();
	match_weights(fcinfo, weights);
	for (i = 0; i < N_COMPARISONS; i++)
		score += weights[i];
	PG_RETURN_FLOAT8(score);
}
