/*
 * nhs_number_parse.c
 *		Parsing and Modulus 11 checking of NHS numbers.
 *
 * Accepted forms, after leading and trailing spaces are removed: ten ASCII
 * digits, or the ten digits grouped 3-3-4 with single spaces or with single
 * hyphens ("943 476 5919", "943-476-5919").  Everything else is refused with
 * a status that says why.  No allocation, no server calls: this file is
 * shared with the fuzz harness.
 */
#include "nhs_number_parse.h"

/*
 * Check digit for the first nine digits of a number: weights 10 down to 2,
 * 11 minus the remainder mod 11, 11 becoming 0.  Returns 10 when no valid
 * number begins with these nine digits.
 */
int
nhs_number_check_digit(int64_t first_nine)
{
	int			sum = 0;
	int			weight;

	for (weight = 2; weight <= 10; weight++)
	{
		sum += (int) (first_nine % 10) * weight;
		first_nine /= 10;
	}
	sum = 11 - sum % 11;
	return sum == 11 ? 0 : sum;
}

/*
 * The verdict on a ten-digit value whose check digit for the first nine
 * digits is already known: check digit, then placeholder.  Shared by every
 * path so that text, bigint and binary input refuse the same numbers.
 */
static inline NhsNumberStatus
nhs_number_judge(int64_t value, int check, NhsNumberParse *result)
{
	int			given = (int) (value % 10);

	result->value = value;
	result->digits = 10;
	if (check == 10)
		result->status = NHS_NUMBER_REMAINDER_TEN;
	else if (check != given)
	{
		result->status = NHS_NUMBER_CHECK_MISMATCH;
		result->expected_check = check;
		result->given_check = given;
	}
	else if (value % INT64_C(1111111111) == 0)
		result->status = NHS_NUMBER_PLACEHOLDER;
	else
		result->status = NHS_NUMBER_OK;
	return result->status;
}

/*
 * Apply the checks that do not depend on spelling to a value already known
 * to be in 0 .. 9999999999 (the bigint and binary paths).
 */
NhsNumberStatus
nhs_number_check_value(int64_t value, NhsNumberParse *result)
{
	return nhs_number_judge(value, nhs_number_check_digit(value / 10), result);
}

/*
 * Parse len bytes of text (not necessarily NUL-terminated) into result.
 */
void
nhs_number_parse(const char *text, size_t len, NhsNumberParse *result)
{
	size_t		start = 0;
	size_t		end = len;
	size_t		i;
	size_t		sep_at[2];
	int			seps = 0;
	int			digits = 0;
	int			weighted_sum = 0;
	int64_t		value = 0;

	result->status = NHS_NUMBER_OK;
	result->value = 0;
	result->bad_offset = 0;
	result->digits = 0;
	result->expected_check = 0;
	result->given_check = 0;

	while (start < end && text[start] == ' ')
		start++;
	while (end > start && text[end - 1] == ' ')
		end--;
	if (start == end)
	{
		result->status = NHS_NUMBER_EMPTY;
		return;
	}

	/*
	 * One pass: refuse the first byte that can never appear, count the rest,
	 * and build the Modulus 11 sum as the digits go by (weights 10 down to 2
	 * on the first nine), so no division is needed per digit.
	 */
	for (i = start; i < end; i++)
	{
		char		c = text[i];

		if (c >= '0' && c <= '9')
		{
			if (digits < 10)
				value = value * 10 + (c - '0');
			if (digits < 9)
				weighted_sum += (c - '0') * (10 - digits);
			digits++;
		}
		else if (c == ' ' || c == '-')
		{
			if (seps < 2)
				sep_at[seps] = i;
			seps++;
		}
		else
		{
			result->status = NHS_NUMBER_BAD_CHARACTER;
			result->bad_offset = i;
			return;
		}
	}

	result->digits = digits;
	if (digits != 10)
	{
		result->status = NHS_NUMBER_WRONG_LENGTH;
		return;
	}

	if (seps != 0)
	{
		/* Exactly two separators, after the third and sixth digits. */
		if (seps == 2 && text[sep_at[0]] != text[sep_at[1]])
		{
			result->status = NHS_NUMBER_MIXED_SEPARATORS;
			return;
		}
		if (seps != 2 || sep_at[0] != start + 3 || sep_at[1] != start + 7)
		{
			result->status = NHS_NUMBER_BAD_GROUPING;
			return;
		}
	}

	weighted_sum = 11 - weighted_sum % 11;
	nhs_number_judge(value, weighted_sum == 11 ? 0 : weighted_sum, result);
}

/* Canonical form: ten digits, leading zeros kept. */
void
nhs_number_format(int64_t value, char *buf)
{
	int			i;

	for (i = 9; i >= 0; i--)
	{
		buf[i] = (char) ('0' + value % 10);
		value /= 10;
	}
	buf[10] = '\0';
}

/* NHS display standard: 3-3-4 with spaces. */
void
nhs_number_format_display(int64_t value, char *buf)
{
	char		digits[NHS_NUMBER_TEXT_LEN];
	int			i,
				j = 0;

	nhs_number_format(value, digits);
	for (i = 0; i < 10; i++)
	{
		if (i == 3 || i == 6)
			buf[j++] = ' ';
		buf[j++] = digits[i];
	}
	buf[j] = '\0';
}
