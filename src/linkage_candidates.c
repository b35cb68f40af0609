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
#include "access/visibilitymap.h"
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
#include "storage/bufmgr.h"
#include "utils/builtins.h"
#include "utils/datum.h"
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
#include "linkage_compare.h"

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
	AttrNumber	max_attnum;		/* the last of them */
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

/* One candidate record's columns, read from the heap or from an index. */
typedef struct Record
{
	Datum		values[N_COLUMNS];
	bool		nulls[N_COLUMNS];
} Record;

static text *
record_text(const Record *r, RecordColumn c)
{
	return r->nulls[c] ? NULL : DatumGetTextPP(r->values[c]);
}

/* Compare a record with the incoming person; keep it if it may matter. */
static void
compare_record(Search *s, const Record *r)
{
	LinkPerson	b;
	int16		levels[N_COMPARISONS];
	double		score = 0.0;
	int64		id = DatumGetInt64(r->values[COL_SOURCE_IDENTIFIER_ID]);
	int			i;
	Candidate  *c;

	if (s->have_self && id == s->self)
		return;

	b.given = record_text(r, COL_GIVEN);
	b.family = record_text(r, COL_FAMILY);
	b.given_phonetic = record_text(r, COL_GIVEN_PHONETIC);
	b.family_phonetic = record_text(r, COL_FAMILY_PHONETIC);
	b.has_birth = !r->nulls[COL_BIRTH_DATE] &&
		!DATE_NOT_FINITE(DatumGetDateADT(r->values[COL_BIRTH_DATE]));
	b.birth = b.has_birth ? DatumGetDateADT(r->values[COL_BIRTH_DATE]) : 0;
	b.sex = record_text(r, COL_SEX);
	b.postcode = record_text(r, COL_POSTCODE);
	b.address = record_text(r, COL_ADDRESS);
	b.has_nhs = !r->nulls[COL_NHS_NUMBER];
	b.nhs = b.has_nhs ? DatumGetInt64(r->values[COL_NHS_NUMBER]) : 0;

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
	c->patient_id = DatumGetInt64(r->values[COL_PATIENT_ID]);
	c->source_identifier_id = id;
	c->score = score;
	memcpy(c->levels, levels, sizeof(levels));
}

/*
 * Where each column a comparison reads is in an index (1-based), if the
 * index holds them all (as keys or INCLUDE columns); false if it does not.
 */
static bool
index_covers(Search *s, Relation index, int *positions)
{
	int			c;

	for (c = 0; c < N_COLUMNS; c++)
	{
		int			i;

		positions[c] = 0;
		for (i = 0; i < index->rd_index->indnatts && positions[c] == 0; i++)
			if (index->rd_index->indkey.values[i] == s->attnums[c])
				positions[c] = i + 1;
		if (positions[c] == 0)
			return false;
	}
	return true;
}

/*
 * A scan key comparing a btree index's column (1-based) with value by the
 * operator of the column's operator family for the strategy, under the
 * column's collation (a text index is ordered by it).
 */
static void
btree_scan_key(Relation index, AttrNumber column, StrategyNumber strategy, Datum value,
			   ScanKey key)
{
	int			col = column - 1;
	Oid			op;

	if (col >= IndexRelationGetNumberOfKeyAttributes(index))
		elog(ERROR, "index \"%s\" has no key column %d", RelationGetRelationName(index), column);
	op = get_opfamily_member(index->rd_opfamily[col], index->rd_opcintype[col],
							 index->rd_opcintype[col], strategy);
	if (!OidIsValid(op))
		elog(ERROR, "no operator of strategy %d for column %d of index \"%s\"",
			 strategy, column, RelationGetRelationName(index));
	ScanKeyEntryInitialize(key, 0, column, strategy, InvalidOid, index->rd_indcollation[col],
						   get_opcode(op), value);
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
	int			positions[N_COLUMNS];
	bool		covered;
	Buffer		vmbuffer = InvalidBuffer;
	Record		r;
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
		btree_scan_key(index, probe->keys[i].column, probe->keys[i].strategy,
					   s->values[probe->keys[i].value], &keys[i]);

	/*
	 * An index that holds every column compared is read alone for records
	 * on pages all visible to everyone (as an index-only scan would): the
	 * probe that finds most candidates then reads a leaf page or two instead
	 * of a heap page for each.
	 */
	covered = index_covers(s, index, positions);
	scan = index_beginscan(s->heap, index, s->snapshot, probe->nkeys, 0);
	scan->xs_want_itup = covered;
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
		if (covered && VM_ALL_VISIBLE(s->heap, ItemPointerGetBlockNumber(tid), &vmbuffer))
		{
			Datum		values[INDEX_MAX_KEYS];
			bool		nulls[INDEX_MAX_KEYS];

			index_deform_tuple(scan->xs_itup, scan->xs_itupdesc, values, nulls);
			for (i = 0; i < N_COLUMNS; i++)
			{
				r.values[i] = values[positions[i] - 1];
				r.nulls[i] = nulls[positions[i] - 1];
			}
		}
		else
		{
			if (!index_fetch_heap(scan, s->slot))
				continue;
			slot_getsomeattrs(s->slot, s->max_attnum);
			for (i = 0; i < N_COLUMNS; i++)
			{
				r.values[i] = s->slot->tts_values[s->attnums[i] - 1];
				r.nulls[i] = s->slot->tts_isnull[s->attnums[i] - 1];
			}
		}
		hash_search(s->seen, tid, HASH_ENTER, NULL);
		returned++;
		compare_record(s, &r);
	}
	if (BufferIsValid(vmbuffer))
		ReleaseBuffer(vmbuffer);
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
		s.max_attnum = Max(s.max_attnum, s.attnums[i]);
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

/* One of the normalisers (src/linkage_compare.c) on a value; NULL in, NULL out. */
static Datum
normalised(PGFunction normaliser, Datum value, bool *isnull)
{
	LOCAL_FCINFO(fcinfo, 1);
	Datum		result;

	if (*isnull)
		return (Datum) 0;
	InitFunctionCallInfoData(*fcinfo, NULL, 1, InvalidOid, NULL, NULL);
	fcinfo->args[0].value = value;
	fcinfo->args[0].isnull = false;
	result = normaliser(fcinfo);
	*isnull = fcinfo->isnull;
	return result;
}

/*
 * Visit the rows of one of the linkage configuration tables (in schema scr)
 * whose index's leading key columns equal values.
 */
typedef void (*RowVisitor) (TupleTableSlot *slot, void *arg);

static void
lookup_rows(Oid nsp, const char *table, const char *index_name, int nkeys, const Datum *values,
			RowVisitor visit, void *arg)
{
	Oid			table_oid = get_relname_relid(table, nsp);
	Oid			index_oid = get_relname_relid(index_name, nsp);
	Relation	heap;
	Relation	index;
	ScanKeyData keys[2];
	IndexScanDesc scan;
	TupleTableSlot *slot;
	int			i;

	if (!OidIsValid(table_oid) || !OidIsValid(index_oid))
		elog(ERROR, "scr.%s or its index %s is missing", table, index_name);
	if (pg_class_aclcheck(table_oid, GetUserId(), ACL_SELECT) != ACLCHECK_OK)
		aclcheck_error(ACLCHECK_NO_PRIV, OBJECT_TABLE, table);
	heap = table_open(table_oid, AccessShareLock);
	index = index_open(index_oid, AccessShareLock);
	for (i = 0; i < nkeys; i++)
		btree_scan_key(index, i + 1, BTEqualStrategyNumber, values[i], &keys[i]);
	slot = table_slot_create(heap, NULL);
	scan = index_beginscan(heap, index, GetActiveSnapshot(), nkeys, 0);
	index_rescan(scan, keys, nkeys, NULL, 0);
	while (index_getnext_slot(scan, ForwardScanDirection, slot))
		visit(slot, arg);
	index_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	index_close(index, AccessShareLock);
	table_close(heap, AccessShareLock);
}

/* Collect one text column of each row visited into a list of Datums. */
typedef struct TextCollector
{
	AttrNumber	column;
	List	   *values;
} TextCollector;

static void
collect_text(TupleTableSlot *slot, void *arg)
{
	TextCollector *c = arg;
	bool		isnull;
	Datum		d = slot_getattr(slot, c->column, &isnull);

	if (!isnull)
		c->values = lappend(c->values, DatumGetPointer(datumCopy(d, false, -1)));
}

/* The frequency column of the row visited (there is at most one). */
static void
read_frequency(TupleTableSlot *slot, void *arg)
{
	bool		isnull;
	Datum		d = slot_getattr(slot, 3, &isnull);

	if (!isnull)
		*(double *) arg = DatumGetFloat8(d);
}

/* The share of records carrying a name, from scr.linkage_term_frequency. */
static bool
term_frequency(Oid nsp, const char *comparison, Datum name, double *frequency)
{
	Datum		values[2];

	*frequency = -1.0;
	values[0] = CStringGetTextDatum(comparison);
	values[1] = name;
	lookup_rows(nsp, "linkage_term_frequency", "linkage_term_frequency_pkey", 2, values,
				read_frequency, frequency);
	return *frequency >= 0.0;
}

/*
 * scr._link_keys(d): an incoming person's comparison keys, normalised by the
 * functions the generated columns of scr.source_identifier use, with the
 * first given name's nicknames (both ways round) and the frequencies of the
 * exact names.  It runs for every record linked, so it reads the nickname
 * and frequency tables through their indexes rather than by queries.
 */
PG_FUNCTION_INFO_V1(link_keys);
Datum
link_keys(PG_FUNCTION_ARGS)
{
	HeapTupleHeader d = PG_GETARG_HEAPTUPLEHEADER(0);
	Oid			nsp = get_namespace_oid("scr", false);
	TupleDesc	desc;
	Datum		values[N_KEYS];
	bool		nulls[N_KEYS];
	Datum		given_name;
	Datum		family_name;
	bool		given_null;
	bool		family_null;
	bool		isnull;

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE || desc->natts != N_KEYS)
		elog(ERROR, "return type must be scr.link_keys");

	given_name = GetAttributeByName(d, "given_name", &given_null);
	family_name = GetAttributeByName(d, "family_name", &family_null);

	nulls[KEY_GIVEN - 1] = given_null;
	values[KEY_GIVEN - 1] = normalised(normalise_name_sql, given_name, &nulls[KEY_GIVEN - 1]);
	nulls[KEY_FAMILY - 1] = family_null;
	values[KEY_FAMILY - 1] = normalised(normalise_name_sql, family_name, &nulls[KEY_FAMILY - 1]);
	nulls[KEY_GIVEN_PHONETIC - 1] = given_null;
	values[KEY_GIVEN_PHONETIC - 1] = normalised(phonetic_sql, given_name,
												&nulls[KEY_GIVEN_PHONETIC - 1]);
	nulls[KEY_FAMILY_PHONETIC - 1] = family_null;
	values[KEY_FAMILY_PHONETIC - 1] = normalised(phonetic_sql, family_name,
												 &nulls[KEY_FAMILY_PHONETIC - 1]);
	values[KEY_BIRTH_DATE - 1] = GetAttributeByName(d, "birth_date", &nulls[KEY_BIRTH_DATE - 1]);
	values[KEY_SEX - 1] = GetAttributeByName(d, "sex", &nulls[KEY_SEX - 1]);
	values[KEY_POSTCODE - 1] = GetAttributeByName(d, "postcode", &isnull);
	nulls[KEY_POSTCODE - 1] = isnull;
	values[KEY_POSTCODE - 1] = normalised(postcode_key, values[KEY_POSTCODE - 1],
										  &nulls[KEY_POSTCODE - 1]);
	values[KEY_ADDRESS - 1] = GetAttributeByName(d, "address", &isnull);
	nulls[KEY_ADDRESS - 1] = isnull;
	values[KEY_ADDRESS - 1] = normalised(normalise_address, values[KEY_ADDRESS - 1],
										 &nulls[KEY_ADDRESS - 1]);
	values[KEY_NHS_NUMBER - 1] = GetAttributeByName(d, "nhs_number", &nulls[KEY_NHS_NUMBER - 1]);

	nulls[KEY_GIVEN_ALIASES - 1] = nulls[KEY_TF_GIVEN - 1] = nulls[KEY_TF_FAMILY - 1] = true;
	if (!nulls[KEY_GIVEN - 1])
	{
		text	   *given = DatumGetTextPP(values[KEY_GIVEN - 1]);
		const char *g = VARDATA_ANY(given);
		int			len = VARSIZE_ANY_EXHDR(given);
		const char *space = memchr(g, ' ', len);
		Datum		first = PointerGetDatum(cstring_to_text_with_len(g, space ? space - g : len));
		TextCollector aliases;
		double		frequency;

		aliases.values = NIL;
		aliases.column = 2;		/* linkage_nickname (name, alias): the alias */
		lookup_rows(nsp, "linkage_nickname", "linkage_nickname_pkey", 1, &first,
					collect_text, &aliases);
		aliases.column = 1;		/* and the names it is an alias of */
		lookup_rows(nsp, "linkage_nickname", "linkage_nickname_alias_idx", 1, &first,
					collect_text, &aliases);
		{
			Datum	   *elems = palloc(sizeof(Datum) * (list_length(aliases.values) + 1));
			ListCell   *lc;
			int			n = 0;

			foreach(lc, aliases.values)
				elems[n++] = PointerGetDatum(lfirst(lc));
			values[KEY_GIVEN_ALIASES - 1] =
				PointerGetDatum(construct_array(elems, n, TEXTOID, -1, false, TYPALIGN_INT));
		}
		nulls[KEY_GIVEN_ALIASES - 1] = false;
		if (term_frequency(nsp, "given_name", values[KEY_GIVEN - 1], &frequency))
		{
			values[KEY_TF_GIVEN - 1] = Float8GetDatum(frequency);
			nulls[KEY_TF_GIVEN - 1] = false;
		}
	}
	if (!nulls[KEY_FAMILY - 1])
	{
		double		frequency;

		if (term_frequency(nsp, "family_name", values[KEY_FAMILY - 1], &frequency))
		{
			values[KEY_TF_FAMILY - 1] = Float8GetDatum(frequency);
			nulls[KEY_TF_FAMILY - 1] = false;
		}
	}
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc), values, nulls)));
}
