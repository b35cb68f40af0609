/*
 * linkage_candidates.c
 *		Blocking: the source records a new person is compared with.
 *
 * Each blocking rule is a probe of one index of scr.source_identifier (an
 * equality on one or two keys, sometimes with the birth year as a range).
 * The probes run here, in C, straight through the index access method: a
 * record is read once however many rules find it, compared with the
 * incoming person by the matcher (src/linkage.c) as it is read, and only the
 * records whose match weight can matter to the decision are resolved to
 * their patient.  Written in SQL, the same search spent most of its time
 * building rows, calling functions with nineteen arguments and joining
 * every candidate to scr.patient; here a candidate costs an index entry,
 * a heap fetch and a comparison.
 *
 * The probes read the table directly, bypassing row-level security, so the
 * function runs only for a user that bypasses it (the extension's owner,
 * inside the SECURITY DEFINER linkage functions).
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/relscan.h"
#include "access/skey.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/namespace.h"
#include "catalog/pg_am.h"
#include "catalog/pg_type.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/float.h"
#include "utils/fmgroids.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/rls.h"
#include "utils/snapmgr.h"
#include "utils/tuplestore.h"
#include "utils/varlena.h"

#include "linkage.h"

/* The fields of scr.link_keys, 1-based, in declaration order. */
enum
{
	KEY_GIVEN = 1,
	KEY_FAMILY,
	KEY_GIVEN_PHONETIC,
	KEY_FAMILY_PHONETIC,
	KEY_BIRTH_DATE,
	KEY_SEX,
	KEY_POSTCODE,
	KEY_ADDRESS,
	KEY_NHS_NUMBER,
	KEY_GIVEN_ALIASES,
	KEY_TF_GIVEN,
	KEY_TF_FAMILY,
	N_KEYS = KEY_TF_FAMILY
};

/* Values a probe can look for, beyond the fields of scr.link_keys. */
#define VALUE_GIVEN_INITIAL (N_KEYS + 1)	/* first letter of the given key */
#define VALUE_YEAR_START (N_KEYS + 2)	/* 1 January of the birth year */
#define VALUE_YEAR_END (N_KEYS + 3) /* 1 January of the year after */
#define N_VALUES (N_KEYS + 4)

/* When a probe runs, beyond having every value it looks for. */
typedef enum ProbeWhen
{
	PROBE_ALWAYS,
	PROBE_NO_GIVEN_NAME,		/* the incoming record has no given name */
	PROBE_NO_BIRTH_DATE			/* the incoming record has no birth date */
} ProbeWhen;

typedef struct ProbeKey
{
	AttrNumber	column;			/* index column, 1-based, in column order */
	StrategyNumber strategy;
	int			value;			/* KEY_* or VALUE_* */
} ProbeKey;

typedef struct BlockingProbe
{
	const char *rule;			/* in scr.linkage_blocking_rule */
	const char *index;			/* an index of scr.source_identifier */
	ProbeWhen	when;
	int			nkeys;
	ProbeKey	keys[4];
} BlockingProbe;

/*
 * The probes of every rule; the rules' meaning and what each can miss are
 * documented in scr.linkage_blocking_rule and docs/linkage.md.
 */
static const BlockingProbe probes[] = {
	{"nhs_number", "source_identifier_nhs_number_idx", PROBE_ALWAYS, 1,
	{{1, BTEqualStrategyNumber, KEY_NHS_NUMBER}}},
	{"birth_date", "source_identifier_birth_date_idx", PROBE_ALWAYS, 1,
	{{1, BTEqualStrategyNumber, KEY_BIRTH_DATE}}},
	{"family_name_birth_year", "source_identifier_family_birth_idx", PROBE_NO_GIVEN_NAME, 3,
		{{1, BTEqualStrategyNumber, KEY_FAMILY_PHONETIC},
		{2, BTGreaterEqualStrategyNumber, VALUE_YEAR_START},
	{2, BTLessStrategyNumber, VALUE_YEAR_END}}},
	{"family_name_birth_year", "source_identifier_family_initial_birth_idx", PROBE_ALWAYS, 4,
		{{1, BTEqualStrategyNumber, KEY_FAMILY_PHONETIC},
		{2, BTEqualStrategyNumber, VALUE_GIVEN_INITIAL},
		{3, BTGreaterEqualStrategyNumber, VALUE_YEAR_START},
	{3, BTLessStrategyNumber, VALUE_YEAR_END}}},
	{"postcode_birth_year", "source_identifier_postcode_birth_idx", PROBE_ALWAYS, 3,
		{{1, BTEqualStrategyNumber, KEY_POSTCODE},
		{2, BTGreaterEqualStrategyNumber, VALUE_YEAR_START},
	{2, BTLessStrategyNumber, VALUE_YEAR_END}}},
	{"names", "source_identifier_names_idx", PROBE_NO_BIRTH_DATE, 2,
		{{1, BTEqualStrategyNumber, KEY_GIVEN_PHONETIC},
	{2, BTEqualStrategyNumber, KEY_FAMILY_PHONETIC}}},
	{"swapped_names", "source_identifier_names_idx", PROBE_ALWAYS, 2,
		{{1, BTEqualStrategyNumber, KEY_FAMILY_PHONETIC},
	{2, BTEqualStrategyNumber, KEY_GIVEN_PHONETIC}}},
	{"swapped_names", "source_identifier_postcode_given_idx", PROBE_ALWAYS, 2,
		{{1, BTEqualStrategyNumber, KEY_POSTCODE},
	{2, BTEqualStrategyNumber, KEY_FAMILY_PHONETIC}}},
	{"postcode_given_name", "source_identifier_postcode_given_idx", PROBE_ALWAYS, 2,
		{{1, BTEqualStrategyNumber, KEY_POSTCODE},
	{2, BTEqualStrategyNumber, KEY_GIVEN_PHONETIC}}},
	{"postcode_family_name", "source_identifier_postcode_family_idx", PROBE_ALWAYS, 2,
		{{1, BTEqualStrategyNumber, KEY_POSTCODE},
	{2, BTEqualStrategyNumber, KEY_FAMILY_PHONETIC}}},
	{"swapped_names", "source_identifier_family_birth_idx", PROBE_ALWAYS, 3,
		{{1, BTEqualStrategyNumber, KEY_GIVEN_PHONETIC},
		{2, BTGreaterEqualStrategyNumber, VALUE_YEAR_START},
	{2, BTLessStrategyNumber, VALUE_YEAR_END}}},
};

/* The columns of scr.source_identifier a candidate is read from. */
typedef enum RecordColumn
{
	COL_PATIENT_ID,
	COL_SOURCE_IDENTIFIER_ID,
	COL_GIVEN,
	COL_FAMILY,
	COL_GIVEN_PHONETIC,
	COL_FAMILY_PHONETIC,
	COL_BIRTH_DATE,
	COL_SEX,
	COL_POSTCODE,
	COL_ADDRESS,
	COL_NHS_NUMBER,
	N_COLUMNS
} RecordColumn;

static const char *const column_names[N_COLUMNS] = {
	"patient_id", "source_identifier_id", "given_key", "family_key", "given_phonetic",
	"family_phonetic", "birth_date", "sex", "postcode_key", "address_key", "nhs_number"
};

/* A record worth resolving to its patient. */
typedef struct Candidate
{
	int64		patient_id;
	int64		source_identifier_id;
	int64		root;			/* the surviving patient */
	double		score;
	int16		levels[N_COMPARISONS];
} Candidate;

/* The search for one incoming person. */
typedef struct Search
{
	Relation	heap;
	TupleTableSlot *slot;
	Snapshot	snapshot;
	AttrNumber	attnums[N_COLUMNS];
	Datum		values[N_VALUES + 1];
	bool		have[N_VALUES + 1];
	LinkPerson	person;
	const char **aliases;
	int		   *alias_lengths;
	int			n_aliases;
	LinkProbabilities probabilities;
	double		tf_given;
	double		tf_family;
	int64		self;
	bool		have_self;
	double		min_score;
	int			cap;
	HTAB	   *seen;			/* heap TIDs already compared */
	Candidate  *found;
	int			n_found;
	int			found_size;
} Search;

static text *
value_text(Search *s, int key)
{
	return s->have[key] ? DatumGetTextPP(s->values[key]) : NULL;
}

/* The incoming person's keys, and the values the probes look for. */
static void
read_keys(Search *s, HeapTupleHeader keys)
{
	int			i;

	for (i = 1; i <= N_KEYS; i++)
	{
		bool		isnull;

		s->values[i] = GetAttributeByNum(keys, i, &isnull);
		s->have[i] = !isnull;
	}

	s->person.given = value_text(s, KEY_GIVEN);
	s->person.family = value_text(s, KEY_FAMILY);
	s->person.given_phonetic = value_text(s, KEY_GIVEN_PHONETIC);
	s->person.family_phonetic = value_text(s, KEY_FAMILY_PHONETIC);
	s->person.has_birth = s->have[KEY_BIRTH_DATE];
	s->person.birth = s->person.has_birth ? DatumGetDateADT(s->values[KEY_BIRTH_DATE]) : 0;
	if (s->person.has_birth && DATE_NOT_FINITE(s->person.birth))
		s->person.has_birth = false;
	s->person.sex = value_text(s, KEY_SEX);
	s->person.postcode = value_text(s, KEY_POSTCODE);
	s->person.address = value_text(s, KEY_ADDRESS);
	s->person.has_nhs = s->have[KEY_NHS_NUMBER];
	s->person.nhs = s->person.has_nhs ? DatumGetInt64(s->values[KEY_NHS_NUMBER]) : 0;

	s->n_aliases = 0;
	if (s->have[KEY_GIVEN_ALIASES])
	{
		Datum	   *elems;
		bool	   *nulls;
		int			n;

		deconstruct_array(DatumGetArrayTypeP(s->values[KEY_GIVEN_ALIASES]), TEXTOID, -1, false,
						  TYPALIGN_INT, &elems, &nulls, &n);
		s->aliases = palloc(sizeof(char *) * n);
		s->alias_lengths = palloc(sizeof(int) * n);
		for (i = 0; i < n; i++)
		{
			text	   *t;

			if (nulls[i])
				continue;
			t = DatumGetTextPP(elems[i]);
			s->aliases[s->n_aliases] = VARDATA_ANY(t);
			s->alias_lengths[s->n_aliases++] = VARSIZE_ANY_EXHDR(t);
		}
	}
	if (s->have[KEY_TF_GIVEN])
		s->tf_given = DatumGetFloat8(s->values[KEY_TF_GIVEN]);
	if (s->have[KEY_TF_FAMILY])
		s->tf_family = DatumGetFloat8(s->values[KEY_TF_FAMILY]);

	/* The given name's first letter, as left(given_key, 1) in the index. */
	s->have[VALUE_GIVEN_INITIAL] = s->person.given && VARSIZE_ANY_EXHDR(s->person.given) > 0;
	if (s->have[VALUE_GIVEN_INITIAL])
		s->values[VALUE_GIVEN_INITIAL] =
			PointerGetDatum(cstring_to_text_with_len(VARDATA_ANY(s->person.given),
													 pg_mblen(VARDATA_ANY(s->person.given))));

	/* The birth year as a range of dates. */
	s->have[VALUE_YEAR_START] = s->have[VALUE_YEAR_END] = s->person.has_birth;
	if (s->person.has_birth)
	{
		int			year,
					month,
					day;

		j2date(s->person.birth + POSTGRES_EPOCH_JDATE, &year, &month, &day);
		s->values[VALUE_YEAR_START] =
			DateADTGetDatum(date2j(year, 1, 1) - POSTGRES_EPOCH_JDATE);
		s->values[VALUE_YEAR_END] =
			DateADTGetDatum(date2j(year + 1, 1, 1) - POSTGRES_EPOCH_JDATE);
	}
}

/* Whether a rule is among scr.linkage_blocking_rules. */
static bool
rule_in_use(List *rules, const char *rule)
{
	ListCell   *lc;

	foreach(lc, rules)
		if (strcmp(lfirst(lc), rule) == 0)
			return true;
	return false;
}

static text *
column_text(Search *s, RecordColumn c)
{
	bool		isnull;
	Datum		d = slot_getattr(s->slot, s->attnums[c], &isnull);

	return isnull ? NULL : DatumGetTextPP(d);
}

/* Compare the record in the slot with the incoming person; keep it if it may matter. */
static void
compare_record(Search *s)
{
	LinkPerson	b;
	bool		isnull;
	Datum		d;
	int16		levels[N_COMPARISONS];
	double		score = 0.0;
	int64		id;
	int			i;
	Candidate  *c;

	id = DatumGetInt64(slot_getattr(s->slot, s->attnums[COL_SOURCE_IDENTIFIER_ID], &isnull));
	if (s->have_self && id == s->self)
		return;

	b.given = column_text(s, COL_GIVEN);
	b.family = column_text(s, COL_FAMILY);
	b.given_phonetic = column_text(s, COL_GIVEN_PHONETIC);
	b.family_phonetic = column_text(s, COL_FAMILY_PHONETIC);
	d = slot_getattr(s->slot, s->attnums[COL_BIRTH_DATE], &isnull);
	b.has_birth = !isnull && !DATE_NOT_FINITE(DatumGetDateADT(d));
	b.birth = b.has_birth ? DatumGetDateADT(d) : 0;
	b.sex = column_text(s, COL_SEX);
	b.postcode = column_text(s, COL_POSTCODE);
	b.address = column_text(s, COL_ADDRESS);
	d = slot_getattr(s->slot, s->attnums[COL_NHS_NUMBER], &isnull);
	b.has_nhs = !isnull;
	b.nhs = isnull ? 0 : DatumGetInt64(d);

	link_compare(&s->person, &b, s->aliases, s->alias_lengths, s->n_aliases, levels);
	for (i = 0; i < N_COMPARISONS; i++)
		score += link_level_weight(&s->probabilities, i, levels[i],
								   s->have[KEY_TF_GIVEN] ? &s->tf_given : NULL,
								   s->have[KEY_TF_FAMILY] ? &s->tf_family : NULL);
	if (score < s->min_score)
		return;

	if (s->n_found == s->found_size)
	{
		s->found_size *= 2;
		s->found = repalloc(s->found, sizeof(Candidate) * s->found_size);
	}
	c = &s->found[s->n_found++];
	c->patient_id = DatumGetInt64(slot_getattr(s->slot, s->attnums[COL_PATIENT_ID], &isnull));
	c->source_identifier_id = id;
	c->score = score;
	memcpy(c->levels, levels, sizeof(levels));
}

/* Run one probe: up to cap visible records, each compared once per search. */
static void
run_probe(Search *s, const BlockingProbe *probe)
{
	Oid			index_oid;
	Relation	index;
	ScanKeyData keys[4];
	IndexScanDesc scan;
	ItemPointer tid;
	int			returned = 0;
	int			i;

	for (i = 0; i < probe->nkeys; i++)
		if (!s->have[probe->keys[i].value])
			return;

	index_oid = get_relname_relid(probe->index, RelationGetNamespace(s->heap));
	if (!OidIsValid(index_oid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("blocking index \"%s\" does not exist", probe->index),
				 errhint("The blocking rule \"%s\" needs it; reinstall the extension's indexes.",
						 probe->rule)));
	index = index_open(index_oid, AccessShareLock);
	if (index->rd_index->indrelid != RelationGetRelid(s->heap) ||
		index->rd_rel->relam != BTREE_AM_OID)
		elog(ERROR, "\"%s\" is not a btree index of scr.source_identifier", probe->index);

	for (i = 0; i < probe->nkeys; i++)
	{
		const ProbeKey *k = &probe->keys[i];
		int			col = k->column - 1;
		Oid			op;

		if (col >= IndexRelationGetNumberOfKeyAttributes(index))
			elog(ERROR, "index \"%s\" has no column %d", probe->index, k->column);
		op = get_opfamily_member(index->rd_opfamily[col], index->rd_opcintype[col],
								 index->rd_opcintype[col], k->strategy);
		if (!OidIsValid(op))
			elog(ERROR, "no operator of strategy %d for column %d of index \"%s\"",
				 k->strategy, k->column, probe->index);
		ScanKeyEntryInitialize(&keys[i], 0, k->column, k->strategy, InvalidOid,
							   index->rd_indcollation[col], get_opcode(op),
							   s->values[k->value]);
	}

	scan = index_beginscan(s->heap, index, s->snapshot, probe->nkeys, 0);
	index_rescan(scan, keys, probe->nkeys, NULL, 0);
	while (returned < s->cap && (tid = index_getnext_tid(scan, ForwardScanDirection)) != NULL)
	{
		bool		already;

		CHECK_FOR_INTERRUPTS();
		/* A record another probe found counts for this one too, unread. */
		hash_search(s->seen, tid, HASH_FIND, &already);
		if (already)
		{
			returned++;
			continue;
		}
		if (!index_fetch_heap(scan, s->slot))
			continue;
		hash_search(s->seen, tid, HASH_ENTER, NULL);
		returned++;
		compare_record(s);
	}
	index_endscan(scan);
	index_close(index, AccessShareLock);
}

/* The patient a patient was merged into, or itself; -1 if not visible. */
static int64
surviving_patient(Relation patient, Relation pkey, TupleTableSlot *slot, Snapshot snapshot,
				  AttrNumber merged_into, int64 patient_id)
{
	ScanKeyData key;
	IndexScanDesc scan;
	int64		root = -1;

	ScanKeyInit(&key, 1, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(patient_id));
	scan = index_beginscan(patient, pkey, snapshot, 1, 0);
	index_rescan(scan, &key, 1, NULL, 0);
	if (index_getnext_slot(scan, ForwardScanDirection, slot))
	{
		bool		isnull;
		Datum		d = slot_getattr(slot, merged_into, &isnull);

		root = isnull ? patient_id : DatumGetInt64(d);
	}
	index_endscan(scan);
	return root;
}

/* Set each kept candidate's surviving patient; drop those without one. */
static void
resolve_patients(Search *s)
{
	Oid			nsp = RelationGetNamespace(s->heap);
	Oid			patient_oid = get_relname_relid("patient", nsp);
	Oid			pkey_oid = get_relname_relid("patient_pkey", nsp);
	Relation	patient;
	Relation	pkey;
	TupleTableSlot *slot;
	AttrNumber	merged_into;
	int			kept = 0;
	int			i;

	if (s->n_found == 0)
		return;
	if (!OidIsValid(patient_oid) || !OidIsValid(pkey_oid))
		elog(ERROR, "scr.patient or its primary key is missing");
	patient = table_open(patient_oid, AccessShareLock);
	pkey = index_open(pkey_oid, AccessShareLock);
	merged_into = get_attnum(patient_oid, "merged_into");
	if (merged_into == InvalidAttrNumber)
		elog(ERROR, "scr.patient has no column merged_into");
	slot = table_slot_create(patient, NULL);
	for (i = 0; i < s->n_found; i++)
	{
		Candidate  *c = &s->found[i];

		c->root = surviving_patient(patient, pkey, slot, s->snapshot, merged_into, c->patient_id);
		if (c->root >= 0)
			s->found[kept++] = *c;
	}
	s->n_found = kept;
	ExecDropSingleTupleTableSlot(slot);
	index_close(pkey, AccessShareLock);
	table_close(patient, AccessShareLock);
}

/* Best score first; equal scores by record, so the order is repeatable. */
static int
candidate_order(const void *a, const void *b)
{
	const Candidate *ca = a;
	const Candidate *cb = b;

	if (ca->score != cb->score)
		return ca->score > cb->score ? -1 : 1;
	if (ca->source_identifier_id != cb->source_identifier_id)
		return ca->source_identifier_id < cb->source_identifier_id ? -1 : 1;
	return 0;
}

/*
 * scr._link_candidates(keys, self, m, u, min_score): the patients whose
 * records the blocking rules in use find for the incoming person, each once
 * with its best record, its levels and match weight, best first.  Records
 * scoring below min_score are left out before their patient is looked up
 * (the decision ignores them); self is a record to leave out (its own).
 */
PG_FUNCTION_INFO_V1(link_candidates);
Datum
link_candidates(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	MemoryContext search_context;
	MemoryContext old;
	Search		s;
	Oid			nsp;
	Oid			heap_oid;
	char	   *rule_list;
	List	   *rules = NIL;
	HASHCTL		ctl;
	size_t		p;
	int			i;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(2) || PG_ARGISNULL(3))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("the keys and the m and u probabilities must not be null")));

	InitMaterializedSRF(fcinfo, 0);

	nsp = get_namespace_oid("scr", false);
	heap_oid = get_relname_relid("source_identifier", nsp);
	if (!OidIsValid(heap_oid))
		elog(ERROR, "scr.source_identifier is missing");
	/* Direct reads bypass row-level security: only for those it does not bind. */
	if (pg_class_aclcheck(heap_oid, GetUserId(), ACL_SELECT) != ACLCHECK_OK ||
		check_enable_rls(heap_oid, InvalidOid, false) == RLS_ENABLED)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("scr._link_candidates reads every person record"),
				 errdetail("It runs only for a role that bypasses row-level security on scr.source_identifier."),
				 errhint("Use scr.match_person or the feed functions.")));

	search_context = AllocSetContextCreate(CurrentMemoryContext, "scr linkage candidates",
										   ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(search_context);

	memset(&s, 0, sizeof(s));
	read_keys(&s, PG_GETARG_HEAPTUPLEHEADER(0));
	s.have_self = !PG_ARGISNULL(1);
	s.self = s.have_self ? PG_GETARG_INT64(1) : 0;
	link_read_probabilities(PG_GETARG_ARRAYTYPE_P(2), PG_GETARG_ARRAYTYPE_P(3), &s.probabilities);
	s.min_score = PG_ARGISNULL(4) ? -get_float8_infinity() : PG_GETARG_FLOAT8(4);
	s.cap = scr_linkage_candidates_per_rule;
	s.snapshot = GetActiveSnapshot();
	s.found_size = 16;
	s.found = palloc(sizeof(Candidate) * s.found_size);
	ctl.keysize = sizeof(ItemPointerData);
	ctl.entrysize = sizeof(ItemPointerData);
	ctl.hcxt = search_context;
	s.seen = hash_create("scr linkage records seen", 256, &ctl,
						 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);

	rule_list = pstrdup(scr_linkage_blocking_rules ? scr_linkage_blocking_rules : "");
	if (!SplitIdentifierString(rule_list, ',', &rules))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("scr.linkage_blocking_rules is not a comma-separated list of names")));

	s.heap = table_open(heap_oid, AccessShareLock);
	for (i = 0; i < N_COLUMNS; i++)
	{
		s.attnums[i] = get_attnum(heap_oid, column_names[i]);
		if (s.attnums[i] == InvalidAttrNumber)
			elog(ERROR, "scr.source_identifier has no column %s", column_names[i]);
	}
	s.slot = table_slot_create(s.heap, NULL);

	for (p = 0; p < lengthof(probes); p++)
	{
		if (!rule_in_use(rules, probes[p].rule) ||
			(probes[p].when == PROBE_NO_GIVEN_NAME && s.person.given != NULL) ||
			(probes[p].when == PROBE_NO_BIRTH_DATE && s.person.has_birth))
			continue;
		run_probe(&s, &probes[p]);
	}
	ExecDropSingleTupleTableSlot(s.slot);
	table_close(s.heap, AccessShareLock);

	resolve_patients(&s);
	qsort(s.found, s.n_found, sizeof(Candidate), candidate_order);

	/* Best first, so the first row of each patient is its best record. */
	for (i = 0; i < s.n_found; i++)
	{
		Candidate  *c = &s.found[i];
		Datum		values[4];
		bool		nulls[4] = {false, false, false, false};
		Datum		levels[N_COMPARISONS];
		int			j;
		bool		duplicate = false;

		for (j = 0; j < i && !duplicate; j++)
			duplicate = s.found[j].root == c->root;
		if (duplicate)
			continue;
		for (j = 0; j < N_COMPARISONS; j++)
			levels[j] = Int16GetDatum(c->levels[j]);
		values[0] = Int64GetDatum(c->root);
		values[1] = Int64GetDatum(c->source_identifier_id);
		values[2] = Float8GetDatum(c->score);
		values[3] = PointerGetDatum(construct_array(levels, N_COMPARISONS, INT2OID, 2, true,
													TYPALIGN_SHORT));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}

	MemoryContextSwitchTo(old);
	MemoryContextDelete(search_context);
	return (Datum) 0;
}
