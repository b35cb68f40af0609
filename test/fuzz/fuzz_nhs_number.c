/*
 * fuzz_nhs_number.c
 *		libFuzzer harness for the NHS number parser (src/nhs_number_parse.c).
 *
 * Feeds arbitrary bytes, not NUL-terminated, to nhs_number_parse and aborts
 * when the verdict breaks a property: a known status, fields consistent with
 * that status, formatted output that parses back to the same value, and
 * agreement with a small independent reference implementation about whether
 * the input is a valid NHS number at all.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nhs_number_parse.h"

#define CHECK(cond) do { if (!(cond)) abort(); } while (0)

/*
 * Reference validity check, written plainly and separately from the parser
 * so the two can be compared: trim ASCII spaces, accept ten digits or
 * DDD s DDD s DDDD with s both ' ' or both '-', then Modulus 11 (weights 10
 * down to 2, 11 becomes 0, 10 is invalid) and no repeated-digit numbers.
 * Returns 1 and sets *value when valid, 0 otherwise.
 */
static int
reference_valid(const uint8_t *data, size_t size, int64_t *value)
{
	size_t		start = 0;
	size_t		end = size;
	char		digits[10];
	int			n = 0;
	int			sum = 0;
	int			check;
	int			same = 1;
	size_t		i;

	while (start < end && data[start] == ' ')
		start++;
	while (end > start && data[end - 1] == ' ')
		end--;

	if (end - start == 10)
	{
		for (i = start; i < end; i++)
			digits[n++] = (char) data[i];
	}
	else if (end - start == 12)
	{
		uint8_t		s = data[start + 3];

		if ((s != ' ' && s != '-') || data[start + 7] != s)
			return 0;
		for (i = start; i < end; i++)
			if (i != start + 3 && i != start + 7)
				digits[n++] = (char) data[i];
	}
	else
		return 0;

	*value = 0;
	for (n = 0; n < 10; n++)
	{
		if (digits[n] < '0' || digits[n] > '9')
			return 0;
		*value = *value * 10 + (digits[n] - '0');
		if (digits[n] != digits[0])
			same = 0;
	}
	for (n = 0; n < 9; n++)
		sum += (digits[n] - '0') * (10 - n);
	check = 11 - sum % 11;
	if (check == 11)
		check = 0;
	if (check == 10 || check != digits[9] - '0')
		return 0;
	return !same;
}

/*
 * Parse a formatted string the parser itself produced: it must come back OK
 * with the same value, or formatting and parsing disagree.
 */
static void
check_parses_to(const char *text, size_t len, int64_t value)
{
	NhsNumberParse r;

	nhs_number_parse(text, len, &r);
	CHECK(r.status == NHS_NUMBER_OK);
	CHECK(r.value == value);
}

/*
 * Round trip for a valid value: canonical ten digits, the spaced display
 * form and the hyphenated form all parse back to it.
 */
static void
check_round_trip(int64_t value)
{
	char		text[NHS_NUMBER_TEXT_LEN];
	char		display[NHS_NUMBER_DISPLAY_LEN];
	int			i;

	nhs_number_format(value, text);
	CHECK(strlen(text) == 10);
	for (i = 0; i < 10; i++)
		CHECK(text[i] >= '0' && text[i] <= '9');
	check_parses_to(text, 10, value);

	nhs_number_format_display(value, display);
	CHECK(strlen(display) == 12);
	for (i = 0; i < 12; i++)
	{
		if (i == 3 || i == 7)
			CHECK(display[i] == ' ');
		else
			CHECK(display[i] >= '0' && display[i] <= '9');
	}
	check_parses_to(display, 12, value);

	display[3] = display[7] = '-';
	check_parses_to(display, 12, value);
}

/*
 * Entry point: one input, every property.
 */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	NhsNumberParse r;
	NhsNumberParse again;
	int64_t		ref_value = -1;
	int			ref_ok;

	nhs_number_parse((const char *) data, size, &r);
	ref_ok = reference_valid(data, size, &ref_value);

	switch (r.status)
	{
		case NHS_NUMBER_OK:
			CHECK(r.value >= 0 && r.value <= NHS_NUMBER_MAX);
			CHECK(nhs_number_check_value(r.value, &again) == NHS_NUMBER_OK);
			CHECK(ref_ok && ref_value == r.value);
			check_round_trip(r.value);
			break;
		case NHS_NUMBER_BAD_CHARACTER:
			CHECK(r.bad_offset < size);
			CHECK(!(data[r.bad_offset] >= '0' && data[r.bad_offset] <= '9'));
			CHECK(data[r.bad_offset] != ' ' && data[r.bad_offset] != '-');
			break;
		case NHS_NUMBER_WRONG_LENGTH:
			CHECK(r.digits != 10);
			break;
		case NHS_NUMBER_CHECK_MISMATCH:
			CHECK(r.expected_check != r.given_check);
			CHECK(r.expected_check >= 0 && r.expected_check <= 9);
			CHECK(r.given_check >= 0 && r.given_check <= 9);
			break;
		case NHS_NUMBER_EMPTY:
		case NHS_NUMBER_MIXED_SEPARATORS:
		case NHS_NUMBER_BAD_GROUPING:
		case NHS_NUMBER_REMAINDER_TEN:
		case NHS_NUMBER_PLACEHOLDER:
			break;
		default:
			abort();			/* not one of the enum values */
	}

	/* The parser refused something the reference accepts. */
	if (r.status != NHS_NUMBER_OK)
		CHECK(!ref_ok);

	return 0;
}
