/*
 * linkage_compare.c
 *		Normalisers and string comparators for patient linkage.
 *
 * These are the building blocks the probabilistic matcher compares
 * demographics with: names folded to a comparable form (case, accents,
 * punctuation, titles, Mc/Mac and O' prefixes), UK postcodes validated and
 * normalised, a phonetic code, and as SQL functions the Jaro-Winkler
 * similarity and Damerau-Levenshtein distance of src/string_distance.c.
 * All are pure functions of their arguments: IMMUTABLE, STRICT, PARALLEL
 * SAFE.
 */
#include "postgres.h"

#include "fmgr.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"

#include "linkage_compare.h"
#include "string_distance.h"
#include "scr.h"


/*
 * Fold one Unicode code point to lower-case ASCII letters where it is a
 * Latin letter with a diacritic (the accents UK names carry: French,
 * Polish, Irish, Turkish, Nordic, ...).  Returns the replacement, or NULL
 * for a code point that is not such a letter.
 */
static const char *
fold_latin(pg_wchar c)
{
	static const struct
	{
		pg_wchar	from;
		pg_wchar	to;
		const char *ascii;
	}			ranges[] = {
		{0xC0, 0xC5, "a"}, {0xC6, 0xC6, "ae"}, {0xC7, 0xC7, "c"}, {0xC8, 0xCB, "e"},
		{0xCC, 0xCF, "i"}, {0xD0, 0xD0, "d"}, {0xD1, 0xD1, "n"}, {0xD2, 0xD6, "o"},
		{0xD8, 0xD8, "o"}, {0xD9, 0xDC, "u"}, {0xDD, 0xDD, "y"}, {0xDF, 0xDF, "ss"},
		{0xE0, 0xE5, "a"}, {0xE6, 0xE6, "ae"}, {0xE7, 0xE7, "c"}, {0xE8, 0xEB, "e"},
		{0xEC, 0xEF, "i"}, {0xF0, 0xF0, "d"}, {0xF1, 0xF1, "n"}, {0xF2, 0xF6, "o"},
		{0xF8, 0xF8, "o"}, {0xF9, 0xFC, "u"}, {0xFD, 0xFD, "y"}, {0xFF, 0xFF, "y"},
		{0x100, 0x105, "a"}, {0x106, 0x10D, "c"}, {0x10E, 0x111, "d"}, {0x112, 0x11B, "e"},
		{0x11C, 0x123, "g"}, {0x124, 0x127, "h"}, {0x128, 0x131, "i"}, {0x134, 0x135, "j"},
		{0x136, 0x137, "k"}, {0x139, 0x142, "l"}, {0x143, 0x148, "n"}, {0x14C, 0x151, "o"},
		{0x152, 0x153, "oe"}, {0x154, 0x159, "r"}, {0x15A, 0x161, "s"}, {0x162, 0x167, "t"},
		{0x168, 0x173, "u"}, {0x174, 0x175, "w"}, {0x176, 0x178, "y"}, {0x179, 0x17E, "z"},
	};
	int			i;

	for (i = 0; i < (int) lengthof(ranges); i++)
		if (c >= ranges[i].from && c <= ranges[i].to)
			return ranges[i].ascii;
	return NULL;
}

/* Titles and honorifics dropped from names. */
static const char *const titles[] = {
	"mr", "mrs", "ms", "miss", "mx", "dr", "prof", "rev", "sir", "dame", "lady", "lord", "master"
};

static bool
is_title(const char *word, int len)
{
	int			i;

	for (i = 0; i < (int) lengthof(titles); i++)
		if ((int) strlen(titles[i]) == len && memcmp(titles[i], word, len) == 0)
			return true;
	return false;
}

/*
 * Normalise a name for comparison: lower-case ASCII letters, accents
 * folded, apostrophes dropped (O'Brien -> obrien), hyphens and other
 * punctuation made spaces (double-barrelled names become words), titles
 * dropped, "mac" and "mc" read alike (mcdonald, mac donald -> mcdonald),
 * single spaces between words.
 */
static char *
normalise_name(const char *s, int len)
{
	StringInfoData folded;
	StringInfoData out;
	const unsigned char *p = (const unsigned char *) s;
	const unsigned char *end = p + len;
	char	   *w;

	initStringInfo(&folded);
	while (p < end)
	{
		int			l = pg_utf_mblen(p);
		pg_wchar	c;

		if (p + l > end)
			break;
		c = utf8_to_unicode(p);
		p += l;
		if (c < 128)
		{
			char		a = (char) c;

			if (a >= 'A' && a <= 'Z')
				a += 'a' - 'A';
			if (a >= 'a' && a <= 'z')
				appendStringInfoChar(&folded, a);
			else if (a == '\'' || a == '`')
				continue;		/* O'Brien, D'Souza */
			else
				appendStringInfoChar(&folded, ' ');
		}
		else if (c == 0x2019 || c == 0x2018)
			continue;			/* typographic apostrophes */
		else
		{
			const char *ascii = fold_latin(c);

			appendStringInfoString(&folded, ascii ? ascii : " ");
		}
	}

	/* Words: drop titles, join "mac"/"mc" to the next word. */
	initStringInfo(&out);
	w = folded.data;
	while (*w)
	{
		char	   *start;
		int			wl;

		while (*w == ' ')
			w++;
		if (!*w)
			break;
		start = w;
		while (*w && *w != ' ')
			w++;
		wl = w - start;
		if (is_title(start, wl))
			continue;
		if (out.len > 0 && !(out.len >= 2 && strcmp(out.data + out.len - 2, "mc") == 0 &&
							 (out.len == 2 || out.data[out.len - 3] == ' ')))
			appendStringInfoChar(&out, ' ');
		if (wl >= 3 && strncmp(start, "mac", 3) == 0 && wl > 5)
		{
			/* MacDonald and McDonald are one name; Mack, Macey are not. */
			appendStringInfoString(&out, "mc");
			appendBinaryStringInfo(&out, start + 3, wl - 3);
		}
		else if (wl == 3 && strncmp(start, "mac", 3) == 0)
			appendStringInfoString(&out, "mc");	/* "Mac Donald" */
		else
			appendBinaryStringInfo(&out, start, wl);
	}
	pfree(folded.data);
	return out.data;
}

PG_FUNCTION_INFO_V1(normalise_name_sql);
Datum
normalise_name_sql(PG_FUNCTION_ARGS)
{
	text	   *t = PG_GETARG_TEXT_PP(0);
	char	   *n;

	if (GetDatabaseEncoding() != PG_UTF8)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("scr.normalise_name needs a UTF8 database")));
	n = normalise_name(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
	if (n[0] == '\0')
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(n));
}

/*
 * UK postcodes: outward code A9, A99, AA9, AA99, A9A or AA9A, then the
 * inward code 9AA (letters C, I, K, M, O, V never in the inward code).
 * Returns the normalised "OUTWARD INWARD" or NULL when not a postcode.
 */
static bool
parse_postcode(const char *s, int len, char *out)
{
	char		c[16];
	int			n = 0;
	int			i;
	int			outward;

	for (i = 0; i < len; i++)
	{
		char		ch = s[i];

		if (ch == ' ' || ch == '\t' || ch == '-')
			continue;
		if (n >= 8)
			return false;
		if (ch >= 'a' && ch <= 'z')
			ch -= 'a' - 'A';
		if (!((ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9')))
			return false;
		c[n++] = ch;
	}
	if (n < 5 || n > 7)
		return false;
	/* Inward code: digit, letter, letter. */
	if (!(c[n - 3] >= '0' && c[n - 3] <= '9') || strchr("CIKMOV", c[n - 2]) ||
		strchr("CIKMOV", c[n - 1]) || !(c[n - 2] >= 'A' && c[n - 2] <= 'Z') ||
		!(c[n - 1] >= 'A' && c[n - 1] <= 'Z'))
		return false;
	outward = n - 3;
#define L(x) ((x) >= 'A' && (x) <= 'Z')
#define D(x) ((x) >= '0' && (x) <= '9')
	if (!((outward == 2 && L(c[0]) && D(c[1])) ||
		  (outward == 3 && L(c[0]) && D(c[1]) && D(c[2])) ||
		  (outward == 3 && L(c[0]) && L(c[1]) && D(c[2])) ||
		  (outward == 3 && L(c[0]) && D(c[1]) && L(c[2])) ||
		  (outward == 4 && L(c[0]) && L(c[1]) && D(c[2]) && D(c[3])) ||
		  (outward == 4 && L(c[0]) && L(c[1]) && D(c[2]) && L(c[3]))))
		return false;
#undef L
#undef D
	memcpy(out, c, outward);
	out[outward] = ' ';
	memcpy(out + outward + 1, c + outward, 3);
	out[outward + 4] = '\0';
	return true;
}

PG_FUNCTION_INFO_V1(normalise_postcode);
Datum
normalise_postcode(PG_FUNCTION_ARGS)
{
	text	   *t = PG_GETARG_TEXT_PP(0);
	char		out[16];

	if (!parse_postcode(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t), out))
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(out));
}

/*
 * scr.postcode_key(postcode): a UK postcode as "OUTWARD INWARD", any other
 * as its ASCII letters and digits in capitals; NULL when none is left.  The
 * key stored beside every record and the one an incoming record is blocked
 * and compared on, so one implementation serves both.
 */
PG_FUNCTION_INFO_V1(postcode_key);
Datum
postcode_key(PG_FUNCTION_ARGS)
{
	text	   *t = PG_GETARG_TEXT_PP(0);
	const char *s = VARDATA_ANY(t);
	int			len = VARSIZE_ANY_EXHDR(t);
	char		out[16];
	char	   *kept;
	int			n = 0;
	int			i;

	if (parse_postcode(s, len, out))
		PG_RETURN_TEXT_P(cstring_to_text(out));
	kept = palloc(len + 1);
	for (i = 0; i < len; i++)
	{
		char		ch = s[i];

		if (ch >= 'a' && ch <= 'z')
			kept[n++] = ch - ('a' - 'A');
		else if ((ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9'))
			kept[n++] = ch;
	}
	if (n == 0)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text_with_len(kept, n));
}

PG_FUNCTION_INFO_V1(postcode_outward);
Datum
postcode_outward(PG_FUNCTION_ARGS)
{
	text	   *t = PG_GETARG_TEXT_PP(0);
	char		out[16];

	if (!parse_postcode(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t), out))
		PG_RETURN_NULL();
	*strchr(out, ' ') = '\0';
	PG_RETURN_TEXT_P(cstring_to_text(out));
}

PG_FUNCTION_INFO_V1(jaro_winkler_sql);
Datum
jaro_winkler_sql(PG_FUNCTION_ARGS)
{
	text	   *a = PG_GETARG_TEXT_PP(0);
	text	   *b = PG_GETARG_TEXT_PP(1);

	PG_RETURN_FLOAT8(jaro_winkler(VARDATA_ANY(a), VARSIZE_ANY_EXHDR(a),
								  VARDATA_ANY(b), VARSIZE_ANY_EXHDR(b)));
}

PG_FUNCTION_INFO_V1(damerau_levenshtein_sql);
Datum
damerau_levenshtein_sql(PG_FUNCTION_ARGS)
{
	text	   *a = PG_GETARG_TEXT_PP(0);
	text	   *b = PG_GETARG_TEXT_PP(1);

	PG_RETURN_INT32(damerau_levenshtein(VARDATA_ANY(a), VARSIZE_ANY_EXHDR(a),
										VARDATA_ANY(b), VARSIZE_ANY_EXHDR(b)));
}

/*
 * A phonetic key after Caverphone 2 (designed for names recorded in English
 * from many origins), on a normalised name: ten characters, letters
 * standing for sounds, padded with '1'.  Names that sound alike share it:
 * Thompson/Tomson, Mohammed/Muhammad, Smith/Smyth.
 */
static void
replace_all(StringInfo s, const char *from, const char *to)
{
	StringInfoData out;
	int			fl = strlen(from);
	char	   *p = s->data;
	char	   *hit;

	initStringInfo(&out);
	while ((hit = strstr(p, from)) != NULL)
	{
		appendBinaryStringInfo(&out, p, hit - p);
		appendStringInfoString(&out, to);
		p = hit + fl;
	}
	appendStringInfoString(&out, p);
	resetStringInfo(s);
	appendStringInfoString(s, out.data);
	pfree(out.data);
}

static void
replace_prefix(StringInfo s, const char *from, const char *to)
{
	int			fl = strlen(from);

	if (strncmp(s->data, from, fl) == 0)
	{
		char	   *rest = pstrdup(s->data + fl);

		resetStringInfo(s);
		appendStringInfoString(s, to);
		appendStringInfoString(s, rest);
		pfree(rest);
	}
}

static void
replace_suffix(StringInfo s, const char *from, const char *to)
{
	int			fl = strlen(from);

	if (s->len >= fl && strcmp(s->data + s->len - fl, from) == 0)
	{
		s->len -= fl;
		s->data[s->len] = '\0';
		appendStringInfoString(s, to);
	}
}

/* Collapse runs of the same character among set to one. */
static void
squeeze(StringInfo s, const char *set)
{
	int			i,
				j = 0;

	for (i = 0; i < s->len; i++)
		if (!(j > 0 && s->data[i] == s->data[j - 1] && strchr(set, s->data[i])))
			s->data[j++] = s->data[i];
	s->len = j;
	s->data[j] = '\0';
}

static char *
phonetic(const char *name)
{
	StringInfoData s;
	int			i,
				j;

	initStringInfo(&s);
	for (i = 0; name[i]; i++)
		if (name[i] >= 'a' && name[i] <= 'z')
			appendStringInfoChar(&s, name[i]);
	if (s.len == 0)
		return pstrdup("1111111111");

	replace_suffix(&s, "e", "");
	replace_prefix(&s, "cough", "cou2f");
	replace_prefix(&s, "rough", "rou2f");
	replace_prefix(&s, "tough", "tou2f");
	replace_prefix(&s, "enough", "enou2f");
	replace_prefix(&s, "trough", "trou2f");
	replace_prefix(&s, "gn", "2n");
	replace_suffix(&s, "mb", "m2");
	replace_all(&s, "mps", "ms");	/* Thompson, Simpson: a silent p */
	replace_all(&s, "cq", "2q");
	replace_all(&s, "ci", "si");
	replace_all(&s, "ce", "se");
	replace_all(&s, "cy", "sy");
	replace_all(&s, "tch", "2ch");
	replace_all(&s, "c", "k");
	replace_all(&s, "q", "k");
	replace_all(&s, "x", "k");
	replace_all(&s, "v", "f");
	replace_all(&s, "dg", "2g");
	replace_all(&s, "tio", "sio");
	replace_all(&s, "tia", "sia");
	replace_all(&s, "d", "t");
	replace_all(&s, "ph", "fh");
	replace_all(&s, "b", "p");
	replace_all(&s, "sh", "s2");
	replace_all(&s, "z", "s");
	/* Vowels: a leading vowel is A, the rest 3. */
	if (strchr("aeiou", s.data[0]))
		s.data[0] = 'A';
	for (i = 1; i < s.len; i++)
		if (strchr("aeiou", s.data[i]))
			s.data[i] = '3';
	replace_all(&s, "j", "y");
	replace_prefix(&s, "y3", "Y3");
	replace_prefix(&s, "y", "A");
	replace_all(&s, "y", "3");
	replace_all(&s, "3gh3", "3kh3");
	replace_all(&s, "gh", "22");
	replace_all(&s, "g", "k");
	squeeze(&s, "stpkfmn");
	replace_all(&s, "w3", "W3");
	replace_all(&s, "wh3", "Wh3");
	replace_suffix(&s, "w", "3");
	replace_all(&s, "w", "2");
	replace_prefix(&s, "h", "A");
	replace_all(&s, "h", "2");
	replace_all(&s, "r3", "R3");
	replace_suffix(&s, "r", "3");
	replace_all(&s, "r", "2");
	replace_all(&s, "l3", "L3");
	replace_suffix(&s, "l", "3");
	replace_all(&s, "l", "2");
	/* Drop the placeholders; a final vowel is A; drop the other vowels. */
	for (i = 0, j = 0; i < s.len; i++)
		if (s.data[i] != '2')
			s.data[j++] = s.data[i];
	s.len = j;
	s.data[j] = '\0';
	if (s.len > 0 && s.data[s.len - 1] == '3')
		s.data[s.len - 1] = 'A';
	for (i = 0, j = 0; i < s.len; i++)
		if (s.data[i] != '3')
			s.data[j++] = s.data[i];
	s.len = j;
	s.data[j] = '\0';
	for (i = 0; i < s.len; i++)
		if (s.data[i] >= 'a' && s.data[i] <= 'z')
			s.data[i] -= 'a' - 'A';
	while (s.len < 10)
		appendStringInfoChar(&s, '1');
	s.data[10] = '\0';
	s.len = 10;
	return s.data;
}

PG_FUNCTION_INFO_V1(phonetic_sql);
Datum
phonetic_sql(PG_FUNCTION_ARGS)
{
	text	   *t = PG_GETARG_TEXT_PP(0);
	char	   *n = normalise_name(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));

	if (n[0] == '\0')
		PG_RETURN_NULL();
	/* One key for the whole name: words are joined (Smith-Jones, smithjones). */
	PG_RETURN_TEXT_P(cstring_to_text(phonetic(n)));
}

/*
 * Normalise an address for comparison: lower-case ASCII letters and digits,
 * everything else a single space, and the common street-type abbreviations
 * written out, so that "12 High St." and "12, high street" are one address.
 */
#define ADDRESS_CHAR(c) (((c) >= 'a' && (c) <= 'z') || ((c) >= 'A' && (c) <= 'Z') || \
						  ((c) >= '0' && (c) <= '9'))

PG_FUNCTION_INFO_V1(normalise_address);
Datum
normalise_address(PG_FUNCTION_ARGS)
{
	static const char *const abbreviations[][2] = {
		{"st", "street"}, {"rd", "road"}, {"ave", "avenue"}, {"av", "avenue"},
		{"ln", "lane"}, {"dr", "drive"}, {"cl", "close"}, {"ct", "court"},
		{"cres", "crescent"}, {"pl", "place"}, {"sq", "square"}, {"gdns", "gardens"},
		{"tce", "terrace"}, {"terr", "terrace"}, {"grn", "green"}, {"pk", "park"},
		{"hse", "house"}, {"flt", "flat"}
	};
	text	   *t = PG_GETARG_TEXT_PP(0);
	const char *s = VARDATA_ANY(t);
	int			len = Min(VARSIZE_ANY_EXHDR(t), 1000);
	StringInfoData out;
	int			i = 0;

	initStringInfo(&out);
	while (i < len)
	{
		char		word[64];
		int			wl = 0;
		size_t		k;

		while (i < len && !ADDRESS_CHAR(s[i]))
			i++;
		while (i < len && ADDRESS_CHAR(s[i]))
		{
			if (wl < (int) sizeof(word) - 1)
				word[wl++] = pg_ascii_tolower((unsigned char) s[i]);
			i++;
		}
		if (wl == 0)
			continue;
		word[wl] = '\0';
		if (out.len > 0)
			appendStringInfoChar(&out, ' ');
		for (k = 0; k < lengthof(abbreviations); k++)
			if (strcmp(word, abbreviations[k][0]) == 0)
				break;
		appendStringInfoString(&out, k < lengthof(abbreviations) ? abbreviations[k][1] : word);
	}
	if (out.len == 0)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text_with_len(out.data, out.len));
}
