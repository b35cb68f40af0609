/*
 * entry_parse.c
 *		Validation and extraction of feed entry messages, without raising.
 *
 * Every entry a feed sends passes through scr._entry_parse (one entry) or
 * scr._entry_message_parse (a batch message wrapping one).  Both return a
 * scr.entry_input row: either the entry's fields, typed and trimmed, or the
 * first problem found, as SQLSTATE, message, detail and hint.  Not raising
 * lets scr.ingest_batch validate a whole batch in one set-based statement
 * and dead-letter the bad messages without a subtransaction each; the
 * single-message path raises what this returns.  One validator for both
 * paths keeps their verdicts identical.
 *
 * The reference tables the checks need (entry kinds with their FHIR resource
 * types, sensitivity categories) are passed in as arrays by the caller, read
 * once per batch; whether the organisation exists is left to the caller.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "datatype/timestamp.h"
#include "fmgr.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/datetime.h"
#include "utils/fmgrprotos.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

#include "scr.h"

/* Columns of scr.entry_input, in order. */
enum
{
	EI_ERR_SQLSTATE,
	EI_ERR_MESSAGE,
	EI_ERR_DETAIL,
	EI_ERR_HINT,
	EI_LOCAL_ID,
	EI_KIND,
	EI_CODE_SYSTEM,
	EI_CODE,
	EI_DISPLAY,
	EI_STATUS,
	EI_EFFECTIVE_START,
	EI_EFFECTIVE_END,
	EI_AUTHOR,
	EI_ODS_CODE,
	EI_SOURCE_REF,
	EI_SOURCE_TIMESTAMP,
	EI_SENSITIVITY,
	EI_SENSITIVITY_CATEGORY,
	EI_PAYLOAD,
	EI_NCOLUMNS
};

/* The keys an entry may carry, in the order the hint lists them. */
static const char *const entry_keys[] = {
	"kind", "source_ref", "source_timestamp", "status", "code_system", "code",
	"display", "effective_start", "effective_end", "author", "organisation",
	"sensitivity", "sensitivity_category", "payload"
};

/* The keys a batch message may carry. */
static const char *const message_keys[] = {
	"type", "local_id", "demographics", "entry"
};

/* Reference data for one call, from the caller's arrays. */
typedef struct EntryLookups
{
	int			nkinds;
	char	  **kinds;
	char	  **resource_types;
	int			ncategories;
	char	  **categories;
} EntryLookups;

/* The row being built, and whether a problem has been found. */
typedef struct EntryResult
{
	Datum		values[EI_NCOLUMNS];
	bool		nulls[EI_NCOLUMNS];
	bool		failed;
} EntryResult;

/*
 * Record the first problem; later ones are ignored, as the raising path
 * would have stopped at the first.
 */
static void pg_attribute_printf(4, 5)
entry_fail(EntryResult *r, const char *sqlstate, const char *hint, const char *fmt,...)
{
	va_list		args;
	StringInfoData buf;

	if (r->failed)
		return;
	r->failed = true;
	initStringInfo(&buf);
	for (;;)
	{
		int			needed;

		va_start(args, fmt);
		needed = appendStringInfoVA(&buf, fmt, args);
		va_end(args);
		if (needed == 0)
			break;
		enlargeStringInfo(&buf, needed);
	}
	r->values[EI_ERR_SQLSTATE] = CStringGetTextDatum(sqlstate);
	r->nulls[EI_ERR_SQLSTATE] = false;
	r->values[EI_ERR_MESSAGE] = CStringGetTextDatum(buf.data);
	r->nulls[EI_ERR_MESSAGE] = false;
	if (hint)
	{
		r->values[EI_ERR_HINT] = CStringGetTextDatum(hint);
		r->nulls[EI_ERR_HINT] = false;
	}
}

/* Add a detail sentence to the problem just recorded. */
static void pg_attribute_printf(2, 3)
entry_fail_detail(EntryResult *r, const char *fmt,...)
{
	va_list		args;
	char		buf[256];

	va_start(args, fmt);
	vsnprintf(buf, sizeof(buf), fmt, args);
	va_end(args);
	r->values[EI_ERR_DETAIL] = CStringGetTextDatum(buf);
	r->nulls[EI_ERR_DETAIL] = false;
}

static void
entry_set(EntryResult *r, int column, Datum value)
{
	r->values[column] = value;
	r->nulls[column] = false;
}

/* jsonb_typeof's name for a value. */
static const char *
jsonb_value_type(const JsonbValue *v)
{
	switch (v->type)
	{
		case jbvNull:
			return "null";
		case jbvString:
			return "string";
		case jbvNumeric:
			return "number";
		case jbvBool:
			return "boolean";
		case jbvBinary:
			return JsonContainerIsObject(v->val.binary.data) ? "object" : "array";
		default:
			return "unknown";
	}
}

/*
 * The checks every message shares: an object, not too large, only known
 * keys.  what names the value in messages ("entry", "message").
 */
static bool
check_object(EntryResult *r, const char *what, JsonbContainer *jc, int size,
			 const char *const *keys, int nkeys)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	char	   *unknown = NULL;
	int64		limit = (int64) scr_max_message_size;

	if (JsonContainerIsScalar(jc))
	{
		JsonbValue	scalar;

		JsonbExtractScalar(jc, &scalar);
		entry_fail(r, "22023", NULL, "%s must be a JSON object, not %s", what,
				   jsonb_value_type(&scalar));
		return false;
	}
	if (!JsonContainerIsObject(jc))
	{
		entry_fail(r, "22023", NULL, "%s must be a JSON object, not array", what);
		return false;
	}
	if ((int64) size > limit)
	{
		entry_fail(r, "54000", "A superuser can raise scr.max_message_size.",
				   "%s is too large", what);
		entry_fail_detail(r, "It takes %d bytes; the limit is " INT64_FORMAT ".",
						  size, limit);
		return false;
	}

	it = JsonbIteratorInit(jc);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok == WJB_KEY)
		{
			int			i;
			bool		known = false;

			for (i = 0; i < nkeys && !known; i++)
				known = (strlen(keys[i]) == (size_t) v.val.string.len &&
						 memcmp(keys[i], v.val.string.val, v.val.string.len) == 0);
			if (!known)
			{
				char	   *k = pnstrdup(v.val.string.val, v.val.string.len);

				if (unknown == NULL || strcmp(k, unknown) < 0)
					unknown = k;
			}
		}
	}
	if (unknown)
	{
		StringInfoData hint;
		int			i;

		initStringInfo(&hint);
		appendStringInfoString(&hint, "Known keys: ");
		for (i = 0; i < nkeys; i++)
			appendStringInfo(&hint, "%s%s", i ? ", " : "", keys[i]);
		appendStringInfoChar(&hint, '.');
		entry_fail(r, "22023", hint.data, "%s has unknown key \"%s\"", what, unknown);
		return false;
	}
	return true;
}

static JsonbValue *
get_key(JsonbContainer *jc, const char *key)
{
	return getKeyJsonValueFromContainer(jc, key, strlen(key), NULL);
}

/*
 * A string-valued key, trimmed of spaces; NULL when absent, JSON null or
 * blank.  max is in characters.
 */
static char *
get_text(EntryResult *r, JsonbContainer *jb, const char *key, int max)
{
	JsonbValue *v = get_key(jb, key);
	const char *s;
	int			len;
	int			chars;

	if (v == NULL || v->type == jbvNull)
		return NULL;
	if (v->type != jbvString)
	{
		entry_fail(r, "22023", NULL, "key \"%s\" must be a string, not %s", key,
				   jsonb_value_type(v));
		return NULL;
	}
	s = v->val.string.val;
	len = v->val.string.len;
	while (len > 0 && *s == ' ')
		s++, len--;
	while (len > 0 && s[len - 1] == ' ')
		len--;
	chars = pg_mbstrlen_with_len(s, len);
	if (chars > max)
	{
		entry_fail(r, "22001", NULL, "key \"%s\" is too long", key);
		entry_fail_detail(r, "It has %d characters; the limit is %d.", chars, max);
		return NULL;
	}
	return len > 0 ? pnstrdup(s, len) : NULL;
}

static bool
is_digits(const char *s, int n)
{
	int			i;

	for (i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

static int
digits_value(const char *s, int n)
{
	int			v = 0;

	while (n-- > 0)
		v = v * 10 + (*s++ - '0');
	return v;
}

static bool
valid_date(int year, int month, int day)
{
	return year >= 1 && month >= 1 && month <= 12 && day >= 1 &&
		day <= day_tab[isleap(year)][month - 1];
}

/*
 * A point in time: YYYY-MM-DD (midnight in Europe/London) or
 * YYYY-MM-DDThh:mm[:ss[.ffffff]] with Z or a UTC offset.  Not before 1850;
 * unless allow_future (planned care), not more than a day ahead.  Sets *found and returns the value; records a
 * problem and returns 0 when the text is not such a point.
 */
static TimestampTz
get_timestamp(EntryResult *r, JsonbContainer *jb, const char *key, bool allow_future, bool *found)
{
	char	   *t = get_text(r, jb, key, 40);
	int			len;
	int			year,
				month,
				day,
				hour = 0,
				minute = 0,
				second = 0;
	int64		fraction = 0;
	int			offset = 0;
	int			p;
	TimestampTz result;

	*found = false;
	if (t == NULL)
		return 0;
	len = strlen(t);

	if (len < 10 || !is_digits(t, 4) || t[4] != '-' || !is_digits(t + 5, 2) ||
		t[7] != '-' || !is_digits(t + 8, 2))
		goto not_a_time;
	year = digits_value(t, 4);
	month = digits_value(t + 5, 2);
	day = digits_value(t + 8, 2);

	if (len == 10)
	{
		Timestamp	local;
		DateADT		today = DatumGetDateADT(DirectFunctionCall1(timestamptz_date,
																TimestampTzGetDatum(GetCurrentTransactionStartTimestamp())));
		int			jd;

		if (!valid_date(year, month, day))
		{
			entry_fail(r, "22008", NULL, "key \"%s\" is not a real date: \"%s\"", key, t);
			return 0;
		}
		jd = date2j(year, month, day) - POSTGRES_EPOCH_JDATE;
		if (jd < date2j(1850, 1, 1) - POSTGRES_EPOCH_JDATE || (!allow_future && jd > today))
		{
			entry_fail(r, "22008", NULL, "key \"%s\" is out of range: \"%s\"", key, t);
			if (allow_future)
				entry_fail_detail(r, "Dates must not be before 1850-01-01.");
			else
				entry_fail_detail(r, "Dates must lie between 1850-01-01 and today.");
			return 0;
		}
		local = (Timestamp) jd * USECS_PER_DAY;
		result = DatumGetTimestampTz(DirectFunctionCall2(timestamp_zone,
														 CStringGetTextDatum("Europe/London"),
														 TimestampGetDatum(local)));
		*found = true;
		return result;
	}

	/* Date-time: Thh:mm, then optional :ss and .f{1,6}, then Z or offset. */
	if (len < 17 || t[10] != 'T' || !is_digits(t + 11, 2) || t[13] != ':' ||
		!is_digits(t + 14, 2))
		goto not_a_time;
	hour = digits_value(t + 11, 2);
	minute = digits_value(t + 14, 2);
	p = 16;
	if (t[p] == ':')
	{
		if (p + 3 > len || !is_digits(t + p + 1, 2))
			goto not_a_time;
		second = digits_value(t + p + 1, 2);
		p += 3;
		if (t[p] == '.')
		{
			int			n = 0;
			int64		scale = 100000;

			p++;
			while (p < len && t[p] >= '0' && t[p] <= '9' && n < 6)
			{
				fraction += (t[p] - '0') * scale;
				scale /= 10;
				p++, n++;
			}
			if (n == 0)
				goto not_a_time;
		}
	}
	if (p == len - 1 && t[p] == 'Z')
		offset = 0;
	else if ((t[p] == '+' || t[p] == '-') &&
			 ((p + 6 == len && is_digits(t + p + 1, 2) && t[p + 3] == ':' && is_digits(t + p + 4, 2)) ||
			  (p + 5 == len && is_digits(t + p + 1, 4))))
	{
		int			oh = digits_value(t + p + 1, 2);
		int			om = digits_value(t + p + (t[p + 3] == ':' ? 4 : 3), 2);

		if (oh > 15 || om > 59)
			goto not_real;
		offset = (oh * 60 + om) * 60;
		if (t[p] == '-')
			offset = -offset;
	}
	else
		goto not_a_time;

	if (!valid_date(year, month, day) || hour > 23 || minute > 59 || second > 59)
		goto not_real;

	result = ((TimestampTz) (date2j(year, month, day) - POSTGRES_EPOCH_JDATE)) * USECS_PER_DAY +
		((TimestampTz) ((hour * 60 + minute) * 60 + second - offset)) * USECS_PER_SEC + fraction;
	if (result < ((TimestampTz) (date2j(1850, 1, 1) - POSTGRES_EPOCH_JDATE)) * USECS_PER_DAY)
	{
		entry_fail(r, "22008", NULL, "key \"%s\" is out of range: \"%s\"", key, t);
		return 0;
	}
	if (!allow_future && result > GetCurrentStatementStartTimestamp() + USECS_PER_DAY)
	{
		entry_fail(r, "22008", NULL, "key \"%s\" is in the future: \"%s\"", key, t);
		return 0;
	}
	*found = true;
	return result;

not_real:
	entry_fail(r, "22008", NULL, "key \"%s\" is not a real date and time: \"%s\"", key, t);
	return 0;

not_a_time:
	entry_fail(r, "22007", "Use YYYY-MM-DD or YYYY-MM-DDThh:mm:ss with Z or a UTC offset.",
			   "key \"%s\" is not a date or date-time: \"%s\"", key, t);
	return 0;
}

/* Index of s in list, or -1. */
static int
find_string(char **list, int n, const char *s)
{
	int			i;

	for (i = 0; i < n; i++)
		if (strcmp(list[i], s) == 0)
			return i;
	return -1;
}

static char *
upper_ascii(char *s)
{
	char	   *c;

	for (c = s; c && *c; c++)
		if (*c >= 'a' && *c <= 'z')
			*c -= 'a' - 'A';
	return s;
}

static char *
lower_ascii(char *s)
{
	char	   *c;

	for (c = s; c && *c; c++)
		if (*c >= 'A' && *c <= 'Z')
			*c += 'a' - 'A';
	return s;
}

static void
set_text(EntryResult *r, int column, const char *s)
{
	if (s)
		entry_set(r, column, CStringGetTextDatum(s));
}

/*
 * Validate one entry object and fill the row.  Checks run in the order a
 * feed author would fix them: shape, kind, reference, timestamp, status,
 * period, organisation, sensitivity, payload.
 */
static void
parse_entry(EntryResult *r, JsonbContainer *jb, int size, const char *default_ods,
			const EntryLookups *lk)
{
	char	   *kind;
	char	   *text;
	int			kind_index = -1;
	bool		found_start,
				found_end,
				found_ts;
	TimestampTz start,
				end,
				ts;
	JsonbValue *payload;
	const char *resource_type = NULL;

	if (!check_object(r, "entry", jb, size, entry_keys, lengthof(entry_keys)))
		return;

	kind = get_text(r, jb, "kind", 64);
	if (!r->failed && kind == NULL)
		entry_fail(r, "22023", NULL, "entry has no \"kind\"");
	if (!r->failed && (kind_index = find_string(lk->kinds, lk->nkinds, kind)) < 0)
	{
		StringInfoData hint;
		int			i;

		initStringInfo(&hint);
		appendStringInfoString(&hint, "Kinds: ");
		for (i = 0; i < lk->nkinds; i++)
			appendStringInfo(&hint, "%s%s", i ? ", " : "", lk->kinds[i]);
		appendStringInfoChar(&hint, '.');
		entry_fail(r, "22023", hint.data, "unknown entry kind \"%s\"", kind);
	}
	if (r->failed)
		return;
	resource_type = lk->resource_types[kind_index];
	set_text(r, EI_KIND, kind);

	text = get_text(r, jb, "source_ref", 200);
	if (!r->failed && text == NULL)
		entry_fail(r, "22023", "source_ref is the source's own identifier for the entry; it makes resending safe.",
				   "entry has no \"source_ref\"");
	set_text(r, EI_SOURCE_REF, text);

	ts = get_timestamp(r, jb, "source_timestamp", false, &found_ts);
	if (!r->failed && !found_ts)
		entry_fail(r, "22023", "source_timestamp is when the source last changed the entry; it orders versions.",
				   "entry has no \"source_timestamp\"");
	if (found_ts)
		entry_set(r, EI_SOURCE_TIMESTAMP, TimestampTzGetDatum(ts));

	text = lower_ascii(get_text(r, jb, "status", 64));
	if (!r->failed && text == NULL)
		entry_fail(r, "22023", NULL, "entry has no \"status\"");
	set_text(r, EI_STATUS, text);

	start = get_timestamp(r, jb, "effective_start", true, &found_start);
	end = get_timestamp(r, jb, "effective_end", true, &found_end);
	if (found_start && found_end && end < start)
		entry_fail(r, "22023", NULL, "effective_end is before effective_start");
	if (found_start)
		entry_set(r, EI_EFFECTIVE_START, TimestampTzGetDatum(start));
	if (found_end)
		entry_set(r, EI_EFFECTIVE_END, TimestampTzGetDatum(end));

	/* The organisation's existence is the caller's check (a table lookup). */
	text = upper_ascii(get_text(r, jb, "organisation", 12));
	set_text(r, EI_ODS_CODE, text ? text : default_ods);

	text = upper_ascii(get_text(r, jb, "sensitivity", 1));
	if (text == NULL)
		text = "N";
	else if (!r->failed && strcmp(text, "N") != 0 && strcmp(text, "R") != 0 && strcmp(text, "V") != 0)
		entry_fail(r, "22023", "HL7 confidentiality: N normal, R restricted, V very restricted.",
				   "key \"sensitivity\" must be N, R or V, not \"%s\"", text);
	entry_set(r, EI_SENSITIVITY, CharGetDatum(text[0]));

	text = lower_ascii(get_text(r, jb, "sensitivity_category", 64));
	if (text && !r->failed && find_string(lk->categories, lk->ncategories, text) < 0)
	{
		StringInfoData hint;
		int			i;

		initStringInfo(&hint);
		appendStringInfoString(&hint, "Categories: ");
		for (i = 0; i < lk->ncategories; i++)
			appendStringInfo(&hint, "%s%s", i ? ", " : "", lk->categories[i]);
		appendStringInfoChar(&hint, '.');
		entry_fail(r, "22023", hint.data, "unknown sensitivity category \"%s\"", text);
	}
	set_text(r, EI_SENSITIVITY_CATEGORY, text);

	set_text(r, EI_CODE_SYSTEM, get_text(r, jb, "code_system", 200));
	set_text(r, EI_CODE, get_text(r, jb, "code", 64));
	set_text(r, EI_DISPLAY, get_text(r, jb, "display", 1000));
	set_text(r, EI_AUTHOR, get_text(r, jb, "author", 200));

	payload = get_key(jb, "payload");
	if (payload == NULL || payload->type == jbvNull)
	{
		StringInfoData json;

		initStringInfo(&json);
		appendStringInfoString(&json, "{\"resourceType\": ");
		escape_json(&json, resource_type);
		appendStringInfoChar(&json, '}');
		entry_set(r, EI_PAYLOAD, DirectFunctionCall1(jsonb_in, CStringGetDatum(json.data)));
	}
	else if (payload->type != jbvBinary || !JsonContainerIsObject(payload->val.binary.data))
		entry_fail(r, "22023", NULL, "key \"payload\" must be a JSON object (a FHIR %s resource)",
				   resource_type);
	else
	{
		JsonbValue *rt = getKeyJsonValueFromContainer(payload->val.binary.data, "resourceType",
													  strlen("resourceType"), NULL);

		if (rt == NULL || rt->type != jbvString ||
			strlen(resource_type) != (size_t) rt->val.string.len ||
			memcmp(resource_type, rt->val.string.val, rt->val.string.len) != 0)
			entry_fail(r, "22023", NULL, "payload of a %s entry must be a FHIR %s resource, not \"%s\"",
					   kind, resource_type,
					   rt == NULL ? "(none)" :
					   rt->type == jbvString ? pnstrdup(rt->val.string.val, rt->val.string.len) :
					   jsonb_value_type(rt));
		else
			entry_set(r, EI_PAYLOAD, JsonbPGetDatum(JsonbValueToJsonb(payload)));
	}
}

/* Unpack a text[] argument (NULL elements skipped). */
static int
text_array(ArrayType *a, char ***out)
{
	Datum	   *elems;
	bool	   *nulls;
	int			n,
				i,
				k = 0;

	deconstruct_array(a, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	*out = palloc(sizeof(char *) * (n + 1));
	for (i = 0; i < n; i++)
		if (!nulls[i])
			(*out)[k++] = TextDatumGetCString(elems[i]);
	return k;
}

static void
read_lookups(FunctionCallInfo fcinfo, int first, EntryLookups *lk)
{
	int			nresource;

	if (PG_ARGISNULL(first) || PG_ARGISNULL(first + 1) || PG_ARGISNULL(first + 2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("reference arrays must not be null")));
	lk->nkinds = text_array(PG_GETARG_ARRAYTYPE_P(first), &lk->kinds);
	nresource = text_array(PG_GETARG_ARRAYTYPE_P(first + 1), &lk->resource_types);
	if (nresource != lk->nkinds)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("kinds and resource types must pair up")));
	lk->ncategories = text_array(PG_GETARG_ARRAYTYPE_P(first + 2), &lk->categories);
}

/* A refused entry carries only its problem (and local id). */
static void
entry_result_finish(EntryResult *r)
{
	int			i;

	if (r->failed)
		for (i = EI_KIND; i < EI_NCOLUMNS; i++)
			r->nulls[i] = true;
}

static Datum
entry_result_datum(FunctionCallInfo fcinfo, EntryResult *r)
{
	TupleDesc	tupdesc;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("function returning record called in context that cannot accept type record")));
	if (tupdesc->natts != EI_NCOLUMNS)
		elog(ERROR, "scr.entry_input has %d columns, expected %d", tupdesc->natts, EI_NCOLUMNS);
	entry_result_finish(r);
	return HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc), r->values, r->nulls));
}

static void
entry_result_init(EntryResult *r)
{
	int			i;

	for (i = 0; i < EI_NCOLUMNS; i++)
	{
		r->values[i] = (Datum) 0;
		r->nulls[i] = true;
	}
	r->failed = false;
}

/*
 * scr._entry_parse(entry jsonb, default_ods text, kinds text[],
 *                  resource_types text[], categories text[])
 * returns scr.entry_input
 */
PG_FUNCTION_INFO_V1(entry_parse);
Datum
entry_parse(PG_FUNCTION_ARGS)
{
	EntryResult r;
	EntryLookups lk;

	entry_result_init(&r);
	read_lookups(fcinfo, 2, &lk);
	if (PG_ARGISNULL(0))
		entry_fail(&r, "22004", NULL, "entry must not be null");
	else
	{
		Jsonb	   *jb = PG_GETARG_JSONB_P(0);

		parse_entry(&r, &jb->root, VARSIZE(jb),
					PG_ARGISNULL(1) ? NULL : TextDatumGetCString(PG_GETARG_DATUM(1)), &lk);
	}
	return entry_result_datum(fcinfo, &r);
}

/*
 * Parse one batch message {"type": "entry", "local_id", "entry"} held in a
 * container of size bytes.
 */
static void
parse_entry_message(EntryResult *r, JsonbContainer *msg, int size, const char *default_ods,
					const EntryLookups *lk)
{
	char	   *type;
	char	   *local_id;
	JsonbValue *entry;

	if (!check_object(r, "message", msg, size, message_keys, lengthof(message_keys)))
		return;
	type = get_text(r, msg, "type", 16);
	if (!r->failed && (type == NULL || strcmp(type, "entry") != 0))
	{
		if (type)
			entry_fail(r, "22023", NULL, "message \"type\" must be \"person\" or \"entry\", not \"%s\"", type);
		else
			entry_fail(r, "22023", NULL, "message \"type\" must be \"person\" or \"entry\", not missing");
	}
	local_id = get_text(r, msg, "local_id", 128);
	if (!r->failed && local_id == NULL)
		entry_fail(r, "22004", NULL, "local_id must not be null or blank");
	set_text(r, EI_LOCAL_ID, local_id);
	if (r->failed)
		return;

	entry = get_key(msg, "entry");
	if (entry == NULL || entry->type == jbvNull)
		entry_fail(r, "22004", NULL, "entry must not be null");
	else if (entry->type != jbvBinary)
		entry_fail(r, "22023", NULL, "entry must be a JSON object, not %s", jsonb_value_type(entry));
	else
		parse_entry(r, entry->val.binary.data, entry->val.binary.len + VARHDRSZ, default_ods, lk);
}

/*
 * scr._entry_message_parse(message jsonb, default_ods text, ...) returns
 * scr.entry_input: one batch message.
 */
PG_FUNCTION_INFO_V1(entry_message_parse);
Datum
entry_message_parse(PG_FUNCTION_ARGS)
{
	EntryResult r;
	EntryLookups lk;

	entry_result_init(&r);
	read_lookups(fcinfo, 2, &lk);
	if (PG_ARGISNULL(0))
		entry_fail(&r, "22004", NULL, "message must not be null");
	else
	{
		Jsonb	   *msg = PG_GETARG_JSONB_P(0);

		parse_entry_message(&r, &msg->root, VARSIZE(msg),
							PG_ARGISNULL(1) ? NULL : TextDatumGetCString(PG_GETARG_DATUM(1)), &lk);
	}
	return entry_result_datum(fcinfo, &r);
}

/*
 * scr._entry_batch_parse(messages jsonb, default_ods text, kinds text[],
 *                        resource_types text[], categories text[])
 * returns table (n integer, <the columns of scr.entry_input>)
 *
 * Every entry message of a batch (objects whose "type" is "entry"), with its
 * position n in the array, parsed in one call: the set-based ingest reads
 * the columns straight into INSERT ... SELECT.  Other messages are skipped;
 * the batch handles them one at a time.
 */
PG_FUNCTION_INFO_V1(entry_batch_parse);
Datum
entry_batch_parse(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	EntryLookups lk;
	Jsonb	   *messages;
	const char *default_ods;
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	MemoryContext per_message;
	MemoryContext old;
	int			n = 0;

	InitMaterializedSRF(fcinfo, 0);
	if (rsinfo->setDesc->natts != EI_NCOLUMNS + 1)
		elog(ERROR, "scr._entry_batch_parse returns %d columns, expected %d",
			 rsinfo->setDesc->natts, EI_NCOLUMNS + 1);
	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	read_lookups(fcinfo, 2, &lk);
	messages = PG_GETARG_JSONB_P(0);
	default_ods = PG_ARGISNULL(1) ? NULL : TextDatumGetCString(PG_GETARG_DATUM(1));
	if (!JB_ROOT_IS_ARRAY(messages) || JB_ROOT_IS_SCALAR(messages))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("messages must be a JSON array of messages")));

	per_message = AllocSetContextCreate(CurrentMemoryContext, "scr entry batch parse",
										ALLOCSET_DEFAULT_SIZES);
	it = JsonbIteratorInit(&messages->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		EntryResult r;
		JsonbValue *type;
		Datum		values[EI_NCOLUMNS + 1];
		bool		nulls[EI_NCOLUMNS + 1];

		if (tok != WJB_ELEM)
			continue;
		n++;
		if (v.type != jbvBinary || !JsonContainerIsObject(v.val.binary.data))
			continue;
		type = getKeyJsonValueFromContainer(v.val.binary.data, "type", 4, NULL);
		if (type == NULL || type->type != jbvString || type->val.string.len != 5 ||
			memcmp(type->val.string.val, "entry", 5) != 0)
			continue;

		old = MemoryContextSwitchTo(per_message);
		entry_result_init(&r);
		parse_entry_message(&r, v.val.binary.data, v.val.binary.len + VARHDRSZ, default_ods, &lk);
		entry_result_finish(&r);
		values[0] = Int32GetDatum(n);
		nulls[0] = false;
		memcpy(values + 1, r.values, sizeof(r.values));
		memcpy(nulls + 1, r.nulls, sizeof(r.nulls));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		MemoryContextSwitchTo(old);
		MemoryContextReset(per_message);
	}
	MemoryContextDelete(per_message);
	return (Datum) 0;
}
