/*
 * nhs_number.c
 *		The scr.nhs_number base type: an NHS number held as an int64.
 *
 * Values are stored as eight bytes, passed by value, and always valid: input,
 * binary receive and the bigint cast all apply the same Modulus 11 and
 * placeholder checks (src/nhs_number_parse.c).  Because any stored value is
 * valid, the comparison and hash functions cannot fail and are declared
 * LEAKPROOF, so indexes on the type stay usable under row-level security.
 */
#include "postgres.h"

#include "common/hashfn.h"
#include "common/pg_prng.h"
#include "fmgr.h"
#include "libpq/pqformat.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/sortsupport.h"

#include "nhs_number_parse.h"

/* The type is declared PASSEDBYVALUE with eight bytes. */
#if !USE_FLOAT8_BYVAL
#error "scr.nhs_number needs a 64-bit server (USE_FLOAT8_BYVAL)"
#endif

#define DatumGetNhsNumber(X)	DatumGetInt64(X)
#define NhsNumberGetDatum(X)	Int64GetDatum(X)
#define PG_GETARG_NHS_NUMBER(n) DatumGetNhsNumber(PG_GETARG_DATUM(n))
#define PG_RETURN_NHS_NUMBER(x) return NhsNumberGetDatum(x)

/*
 * The sentence that says why a parse failed.  text/len are the input, for
 * naming the offending character.  Returned in the current memory context.
 */
static char *
nhs_number_problem_text(const NhsNumberParse *p, const char *text, size_t len)
{
	switch (p->status)
	{
		case NHS_NUMBER_OK:
			return NULL;
		case NHS_NUMBER_EMPTY:
			return pstrdup("The value is empty.");
		case NHS_NUMBER_BAD_CHARACTER:
			{
				const char *c = text + p->bad_offset;
				int			clen = pg_mblen(c);
				int			position = pg_mbstrlen_with_len(text, (int) p->bad_offset) + 1;

				if ((size_t) clen > len - p->bad_offset)
					clen = (int) (len - p->bad_offset);
				return psprintf("Character \"%.*s\" at position %d is not allowed: an NHS number is ten ASCII digits, optionally grouped 3-3-4 with spaces or hyphens.",
								clen, c, position);
			}
		case NHS_NUMBER_WRONG_LENGTH:
			return psprintf("An NHS number has 10 digits; this value has %d.", p->digits);
		case NHS_NUMBER_MIXED_SEPARATORS:
			return pstrdup("The groups are separated by both a space and a hyphen; use one kind of separator.");
		case NHS_NUMBER_BAD_GROUPING:
			return pstrdup("Spaces or hyphens may only split the digits 3-3-4, as in 943 476 5919.");
		case NHS_NUMBER_REMAINDER_TEN:
			return pstrdup("The first nine digits give a Modulus 11 check digit of 10, so no valid NHS number begins with them.");
		case NHS_NUMBER_CHECK_MISMATCH:
			return psprintf("The check digit is %d but the first nine digits require %d.",
							p->given_check, p->expected_check);
		case NHS_NUMBER_PLACEHOLDER:
			return pstrdup("A number of one repeated digit passes the check but is a placeholder for an unknown NHS number.");
	}
	return NULL;				/* keep compiler quiet */
}

/*
 * Parse a C string, raising 22P02 with the reason when it is not a valid NHS
 * number.  Soft (non-raising) callers use nhs_number_parse directly.
 */
static int64
nhs_number_from_cstring(const char *str)
{
	NhsNumberParse p;
	size_t		len = strlen(str);

	nhs_number_parse(str, len, &p);
	if (p.status != NHS_NUMBER_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("invalid input syntax for type nhs_number: \"%s\"", str),
				 errdetail("%s", nhs_number_problem_text(&p, str, len))));
	return p.value;
}

PG_FUNCTION_INFO_V1(nhs_number_in);
Datum
nhs_number_in(PG_FUNCTION_ARGS)
{
	PG_RETURN_NHS_NUMBER(nhs_number_from_cstring(PG_GETARG_CSTRING(0)));
}

PG_FUNCTION_INFO_V1(nhs_number_out);
Datum
nhs_number_out(PG_FUNCTION_ARGS)
{
	char	   *buf = palloc(NHS_NUMBER_TEXT_LEN);

	nhs_number_format(PG_GETARG_NHS_NUMBER(0), buf);
	PG_RETURN_CSTRING(buf);
}

/*
 * Binary input is an int8, checked like text input: a client cannot smuggle
 * an invalid number in through COPY BINARY or the extended protocol.
 */
PG_FUNCTION_INFO_V1(nhs_number_recv);
Datum
nhs_number_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	int64		value = pq_getmsgint64(buf);
	NhsNumberParse p;

	if (value < 0 || value > NHS_NUMBER_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid binary value for type nhs_number: " INT64_FORMAT, value),
				 errdetail("An NHS number lies between 0000000000 and 9999999999.")));
	if (nhs_number_check_value(value, &p) != NHS_NUMBER_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid binary value for type nhs_number: " INT64_FORMAT, value),
				 errdetail("%s", nhs_number_problem_text(&p, NULL, 0))));
	PG_RETURN_NHS_NUMBER(value);
}

PG_FUNCTION_INFO_V1(nhs_number_send);
Datum
nhs_number_send(PG_FUNCTION_ARGS)
{
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendint64(&buf, PG_GETARG_NHS_NUMBER(0));
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

/*
 * The cast from bigint validates: a bigint is an NHS number only if it is in
 * range and passes the same checks as text input.  Leading zeros are implied
 * (Scottish CHI numbers begin with 0).
 */
PG_FUNCTION_INFO_V1(nhs_number_from_bigint);
Datum
nhs_number_from_bigint(PG_FUNCTION_ARGS)
{
	int64		value = PG_GETARG_INT64(0);
	NhsNumberParse p;

	if (value < 0 || value > NHS_NUMBER_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("bigint " INT64_FORMAT " is out of range for type nhs_number", value),
				 errdetail("An NHS number lies between 0000000000 and 9999999999.")));
	if (nhs_number_check_value(value, &p) != NHS_NUMBER_OK)
	{
		char		digits[NHS_NUMBER_TEXT_LEN];

		nhs_number_format(value, digits);
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("invalid input syntax for type nhs_number: \"%s\"", digits),
				 errdetail("%s", nhs_number_problem_text(&p, NULL, 0))));
	}
	PG_RETURN_NHS_NUMBER(value);
}

PG_FUNCTION_INFO_V1(nhs_number_to_bigint);
Datum
nhs_number_to_bigint(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT64(PG_GETARG_NHS_NUMBER(0));
}

/* NHS display standard, 3-3-4 with spaces, for screens and letters. */
PG_FUNCTION_INFO_V1(nhs_number_display);
Datum
nhs_number_display(PG_FUNCTION_ARGS)
{
	char		buf[NHS_NUMBER_DISPLAY_LEN];

	nhs_number_format_display(PG_GETARG_NHS_NUMBER(0), buf);
	PG_RETURN_TEXT_P(cstring_to_text(buf));
}

/*
 * Why a text is not a valid NHS number, or NULL when it is.  Never raises on
 * bad input, so it can screen a whole column.
 */
PG_FUNCTION_INFO_V1(nhs_number_problem);
Datum
nhs_number_problem(PG_FUNCTION_ARGS)
{
	text	   *t = PG_GETARG_TEXT_PP(0);
	NhsNumberParse p;

	nhs_number_parse(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t), &p);
	if (p.status == NHS_NUMBER_OK)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(nhs_number_problem_text(&p, VARDATA_ANY(t),
															 VARSIZE_ANY_EXHDR(t))));
}

PG_FUNCTION_INFO_V1(is_valid_nhs_number);
Datum
is_valid_nhs_number(PG_FUNCTION_ARGS)
{
	text	   *t = PG_GETARG_TEXT_PP(0);
	NhsNumberParse p;

	nhs_number_parse(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t), &p);
	PG_RETURN_BOOL(p.status == NHS_NUMBER_OK);
}

/*
 * Which issuing range a number falls in.  Guidance only: allocations change
 * and England also issues some 3xx numbers, so this never decides validity.
 */
PG_FUNCTION_INFO_V1(nhs_number_range);
Datum
nhs_number_range(PG_FUNCTION_ARGS)
{
	int64		value = PG_GETARG_NHS_NUMBER(0);
	const char *range;

	if (value >= INT64_C(9990000000))
		range = "test";
	else if (value >= INT64_C(101000000) && value <= INT64_C(3112999999))
		range = "scotland_chi";
	else if (value >= INT64_C(3200000010) && value <= INT64_C(3999999999))
		range = "northern_ireland_hc";
	else if ((value >= INT64_C(3113000000) && value < INT64_C(3200000000)) ||
			 (value >= INT64_C(4000000000) && value <= INT64_C(4999999999)) ||
			 (value >= INT64_C(6000000000) && value <= INT64_C(7999999999)))
		range = "england_wales_iom";
	else
		range = "unallocated";
	PG_RETURN_TEXT_P(cstring_to_text(range));
}

/*
 * A valid random number for synthetic data: from the 999 test range by
 * default, else from the England, Wales and Isle of Man ranges.
 */
PG_FUNCTION_INFO_V1(random_nhs_number);
Datum
random_nhs_number(PG_FUNCTION_ARGS)
{
	bool		test_range = PG_GETARG_BOOL(0);
	NhsNumberParse p;

	for (;;)
	{
		int64		first_nine;
		int			check;

		if (test_range)
			first_nine = (int64) pg_prng_uint64_range(&pg_global_prng_state,
													  999000000, 999999999);
		else
		{
			/* 400000000-499999999 and 600000000-799999999, uniformly. */
			first_nine = (int64) pg_prng_uint64_range(&pg_global_prng_state,
													  0, 299999999);
			first_nine += first_nine < 100000000 ? 400000000 : 500000000;
		}
		check = nhs_number_check_digit(first_nine);
		if (check == 10)
			continue;
		if (nhs_number_check_value(first_nine * 10 + check, &p) == NHS_NUMBER_OK)
			PG_RETURN_NHS_NUMBER(p.value);
	}
}

/*
 * Comparison support.  Stored values are always valid int64s, so none of
 * these can fail: they are LEAKPROOF.
 */
#define NHS_NUMBER_CMP_FUNC(name, op) \
PG_FUNCTION_INFO_V1(name); \
Datum \
name(PG_FUNCTION_ARGS) \
{ \
	PG_RETURN_BOOL(PG_GETARG_NHS_NUMBER(0) op PG_GETARG_NHS_NUMBER(1)); \
}

NHS_NUMBER_CMP_FUNC(nhs_number_eq, ==)
NHS_NUMBER_CMP_FUNC(nhs_number_ne, !=)
NHS_NUMBER_CMP_FUNC(nhs_number_lt, <)
NHS_NUMBER_CMP_FUNC(nhs_number_le, <=)
NHS_NUMBER_CMP_FUNC(nhs_number_gt, >)
NHS_NUMBER_CMP_FUNC(nhs_number_ge, >=)

PG_FUNCTION_INFO_V1(nhs_number_cmp);
Datum
nhs_number_cmp(PG_FUNCTION_ARGS)
{
	int64		a = PG_GETARG_NHS_NUMBER(0);
	int64		b = PG_GETARG_NHS_NUMBER(1);

	PG_RETURN_INT32(a < b ? -1 : (a > b ? 1 : 0));
}

/* Sorting compares the Datums directly, as int8 does, with no fmgr call. */
PG_FUNCTION_INFO_V1(nhs_number_sortsupport);
Datum
nhs_number_sortsupport(PG_FUNCTION_ARGS)
{
	SortSupport ssup = (SortSupport) PG_GETARG_POINTER(0);

	ssup->comparator = ssup_datum_signed_cmp;
	PG_RETURN_VOID();
}

/* Hashes agree with int8's, so an NHS number hashes like its bigint. */
PG_FUNCTION_INFO_V1(nhs_number_hash);
Datum
nhs_number_hash(PG_FUNCTION_ARGS)
{
	return DirectFunctionCall1(hashint8, PG_GETARG_DATUM(0));
}

PG_FUNCTION_INFO_V1(nhs_number_hash_extended);
Datum
nhs_number_hash_extended(PG_FUNCTION_ARGS)
{
	return DirectFunctionCall2(hashint8extended, PG_GETARG_DATUM(0), PG_GETARG_DATUM(1));
}
