/*
 * nhs_number_parse.h
 *		Parsing and checking of NHS numbers, free of any server dependency.
 *
 * The parser is plain C so that the fuzz harness under test/fuzz can link it
 * without a backend; src/nhs_number.c turns its verdicts into PostgreSQL
 * errors and messages.
 */
#ifndef SCR_NHS_NUMBER_PARSE_H
#define SCR_NHS_NUMBER_PARSE_H

#include <stddef.h>
#include <stdint.h>

/* Largest value a ten-digit number can hold. */
#define NHS_NUMBER_MAX INT64_C(9999999999)

typedef enum NhsNumberStatus
{
	NHS_NUMBER_OK = 0,
	NHS_NUMBER_EMPTY,			/* nothing but spaces */
	NHS_NUMBER_BAD_CHARACTER,	/* a byte that is not a digit, space or hyphen */
	NHS_NUMBER_WRONG_LENGTH,	/* not ten digits */
	NHS_NUMBER_MIXED_SEPARATORS,	/* both spaces and hyphens between groups */
	NHS_NUMBER_BAD_GROUPING,	/* separators not at the 3-3-4 positions */
	NHS_NUMBER_REMAINDER_TEN,	/* the nine digits give check digit 10 */
	NHS_NUMBER_CHECK_MISMATCH,	/* the tenth digit is not the check digit */
	NHS_NUMBER_PLACEHOLDER		/* one digit repeated ten times */
} NhsNumberStatus;

/* The verdict on one input, with what a message needs to say why. */
typedef struct NhsNumberParse
{
	NhsNumberStatus status;
	int64_t		value;			/* the number, when status is OK */
	size_t		bad_offset;		/* byte offset of the bad character */
	int			digits;			/* digits seen, for WRONG_LENGTH */
	int			expected_check; /* for CHECK_MISMATCH */
	int			given_check;	/* for CHECK_MISMATCH */
} NhsNumberParse;

extern void nhs_number_parse(const char *text, size_t len, NhsNumberParse *result);
extern NhsNumberStatus nhs_number_check_value(int64_t value, NhsNumberParse *result);
extern int	nhs_number_check_digit(int64_t first_nine);
extern void nhs_number_format(int64_t value, char *buf);
extern void nhs_number_format_display(int64_t value, char *buf);

/* Buffer sizes for the formatters, terminating zero included. */
#define NHS_NUMBER_TEXT_LEN 11
#define NHS_NUMBER_DISPLAY_LEN 13

#endif							/* SCR_NHS_NUMBER_PARSE_H */
