/*
 * Suite "csv": the RFC 4180 reader (lib/csv.c): quoting, line ends,
 * blank lines, the byte order mark, both caps, every refusal with the
 * line it names, a 10,000-line file, and mutations of a sample.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csv.h"
#include "unit.h"

/* What the collector saw: "LINE:f1|f2|...\n" per record. */
struct seen {
	char	 text[8192];
	size_t	 nrec;
	int	 stop_at;	/* return 99 at this record (1-based); 0 never */
};

static int
collect(const struct csv_rec *rec, void *arg)
{
	struct seen	*s = arg;
	size_t		 i, n = strlen(s->text);

	CU_ASSERT(rec->nfields >= 1 && rec->nfields <= CSV_FIELDS_MAX);
	s->nrec++;
	n += (size_t)snprintf(s->text + n, sizeof(s->text) - n, "%zu:",
	    rec->line);
	for (i = 0; i < rec->nfields && n < sizeof(s->text); i++)
		n += (size_t)snprintf(s->text + n, sizeof(s->text) - n, "%s%s",
		    i ? "|" : "", rec->field[i]);
	if (n < sizeof(s->text))
		snprintf(s->text + n, sizeof(s->text) - n, "\n");
	return s->stop_at != 0 && (size_t)s->stop_at == s->nrec ? 99 : 0;
}

/* Parse a C string literal (embedded NULs allowed via len). */
static int
parse(const char *in, size_t len, struct seen *s)
{
	memset(s, 0, sizeof(*s));
	return csv_parse((const uint8_t *)in, len, collect, s);
}

#define P(lit, s)	parse((lit), sizeof(lit) - 1, (s))
#define CSV_FAILS(lit, needle) do {					\
	struct seen	 fs_;						\
	UNIT_FAILS(P(lit, &fs_), UC_ERR_FORMAT, needle);		\
} while (0)

static void
test_plain_records_with_lf_crlf_and_no_final_newline(void)
{
	struct seen	 s;

	CU_ASSERT_EQUAL(P("device,op,auth\nSEP1,install,none\r\n"
	    "SEP2,fetch,mic", &s), 0);
	CU_ASSERT_EQUAL(s.nrec, 3);
	CU_ASSERT_STRING_EQUAL(s.text, "1:device|op|auth\n"
	    "2:SEP1|install|none\n3:SEP2|fetch|mic\n");
}

static void
test_quoted_fields_escapes_and_embedded_line_ends(void)
{
	struct seen	 s;

	CU_ASSERT_EQUAL(P("\"a,b\",\"say \"\"hi\"\"\",\"\"\n"
	    "\"two\nlines\",\"crlf\r\ninside\",x\r\n"
	    "next,\"\"\"\"\n", &s), 0);
	CU_ASSERT_STRING_EQUAL(s.text, "1:a,b|say \"hi\"|\n"
	    "2:two\nlines|crlf\r\ninside|x\n"
	    "5:next|\"\n");
}

static void
test_empty_fields(void)
{
	struct seen	 s;

	CU_ASSERT_EQUAL(P(",,\na,\n\"\"\n,\"\"", &s), 0);
	CU_ASSERT_STRING_EQUAL(s.text, "1:||\n2:a|\n3:\n4:|\n");
	CU_ASSERT_EQUAL(P("a,", &s), 0);
	CU_ASSERT_STRING_EQUAL(s.text, "1:a|\n");
}

static void
test_blank_lines_are_skipped_but_counted(void)
{
	struct seen	 s;

	CU_ASSERT_EQUAL(P("\n\r\na\n\n\r\nb\r\n\n", &s), 0);
	CU_ASSERT_STRING_EQUAL(s.text, "3:a\n6:b\n");
	CU_ASSERT_EQUAL(P("", &s), 0);
	CU_ASSERT_EQUAL(s.nrec, 0);
	CU_ASSERT_EQUAL(csv_parse(NULL, 0, collect, &s), 0);
	CU_ASSERT_EQUAL(P("\n\n\r\n", &s), 0);
	CU_ASSERT_EQUAL(s.nrec, 0);
	/* A line of spaces is a record, not a blank line. */
	CU_ASSERT_EQUAL(P(" \n", &s), 0);
	CU_ASSERT_STRING_EQUAL(s.text, "1: \n");
}

static void
test_byte_order_mark_only_at_the_start(void)
{
	struct seen	 s;

	CU_ASSERT_EQUAL(P("\xef\xbb\xbf" "device,op\nx,y\n", &s), 0);
	CU_ASSERT_STRING_EQUAL(s.text, "1:device|op\n2:x|y\n");
	CU_ASSERT_EQUAL(P("\xef\xbb\xbf", &s), 0);
	CU_ASSERT_EQUAL(s.nrec, 0);
	CU_ASSERT_EQUAL(P("\xef\xbb\xbf\n\"q\"", &s), 0);
	CU_ASSERT_STRING_EQUAL(s.text, "2:q\n");
	/* Elsewhere it is data; a partial one is data too. */
	CU_ASSERT_EQUAL(P("a\n\xef\xbb\xbf" "b\n", &s), 0);
	CU_ASSERT_STRING_EQUAL(s.text, "1:a\n2:\xef\xbb\xbf" "b\n");
	CU_ASSERT_EQUAL(P("\xef\xbb" "x", &s), 0);
	CU_ASSERT_STRING_EQUAL(s.text, "1:\xef\xbb" "x\n");
	/* A quote right after the mark opens a quoted field. */
	CU_ASSERT_EQUAL(P("\xef\xbb\xbf\"a,b\",c", &s), 0);
	CU_ASSERT_STRING_EQUAL(s.text, "1:a,b|c\n");
}

static void
test_field_count_cap(void)
{
	char		 line[64], in[160];
	struct seen	 s;
	int		 i, n = 0;

	/* CSV_FIELDS_MAX fields on one line, then one more. */
	for (i = 0; i < CSV_FIELDS_MAX; i++)
		n += snprintf(line + n, sizeof(line) - n, "%s%d",
		    i ? "," : "", i % 10);
	n = snprintf(in, sizeof(in), "h\n%s\n", line);
	CU_ASSERT_EQUAL(parse(in, (size_t)n, &s), 0);
	CU_ASSERT_EQUAL(s.nrec, 2);
	n = snprintf(in, sizeof(in), "h\n%s\n%s,x\n", line, line);
	UNIT_FAILS(parse(in, (size_t)n, &s), UC_ERR_FORMAT,
	    "line 3: more than 16 fields");
	/* The records before the bad line were delivered. */
	CU_ASSERT_EQUAL(s.nrec, 2);
	/* Sixteen empty fields are fine, seventeen are not. */
	CU_ASSERT_EQUAL(P(",,,,,,,,,,,,,,,", &s), 0);
	CU_ASSERT_STRING_EQUAL(s.text, "1:|||||||||||||||\n");
	CSV_FAILS(",,,,,,,,,,,,,,,,", "line 1: more than 16 fields");
}

static void
test_field_length_cap(void)
{
	char		 in[2 * CSV_FIELD_MAX + 16];
	struct seen	 s;
	size_t		 n;

	/* Plain: CSV_FIELD_MAX bytes pass, one more fails. */
	memset(in, 'a', CSV_FIELD_MAX);
	CU_ASSERT_EQUAL(parse(in, CSV_FIELD_MAX, &s), 0);
	CU_ASSERT_EQUAL(strlen(s.text), 2 + CSV_FIELD_MAX + 1);
	memcpy(in, "ok\nx,", 5);
	memset(in + 5, 'a', CSV_FIELD_MAX + 1);
	UNIT_FAILS(parse(in, 5 + CSV_FIELD_MAX + 1, &s), UC_ERR_FORMAT,
	    "line 2: field 2: longer than 256 bytes");
	/* Quoted: the decoded length counts ("" is one byte). */
	in[0] = '"';
	for (n = 1; n < 1 + 2 * CSV_FIELD_MAX; n += 2)
		memcpy(in + n, "\"\"", 2);
	in[n++] = '"';
	CU_ASSERT_EQUAL(parse(in, n, &s), 0);
	CU_ASSERT_EQUAL(strlen(s.text), 2 + CSV_FIELD_MAX + 1);
	memcpy(in + n - 1, "x\"", 2);
	UNIT_FAILS(parse(in, n + 1, &s), UC_ERR_FORMAT,
	    "line 1: field 1: longer than 256 bytes");
}

static void
test_nul_bytes_are_refused(void)
{
	CSV_FAILS("a,b\nc\0d,e\n", "line 2: field 1: NUL byte");
	CSV_FAILS("a,\"b\0\"\n", "line 1: field 2: NUL byte");
	CSV_FAILS("a\n\n\"q\"\0", "line 3: field 1: NUL byte");
	CSV_FAILS("\0", "line 1: field 1: NUL byte");
	CSV_FAILS("a,b,\0", "line 1: field 3: NUL byte");
}

static void
test_unterminated_quote_names_the_opening_line(void)
{
	CSV_FAILS("h\n\"open\nmore\nlines", "line 2: field 1: quote opened "
	    "here is never closed");
	CSV_FAILS("a,\"", "line 1: field 2: quote opened here");
	CSV_FAILS("a,\"x\"\"", "line 1: field 2: quote opened here");
}

static void
test_text_after_closing_quote_is_refused(void)
{
	CSV_FAILS("h\n\"a\"b,c\n", "line 2: field 1: text after the closing "
	    "quote");
	CSV_FAILS("x,\"a\" \n", "line 1: field 2: text after the closing "
	    "quote");
	CSV_FAILS("\"multi\nline\"x", "line 2: field 1: text after the "
	    "closing quote");
}

static void
test_quote_inside_unquoted_field_is_refused(void)
{
	CSV_FAILS("h\nab\"c\",d\n", "line 2: field 1: quote inside an "
	    "unquoted field");
	CSV_FAILS("a, \"b\"\n", "line 1: field 2: quote inside");
}

static void
test_bare_carriage_return_is_refused(void)
{
	CSV_FAILS("a\rb\n", "line 1: carriage return not followed");
	CSV_FAILS("a\n\r", "line 2: carriage return not followed");
	CSV_FAILS("a\n\rb", "line 2: carriage return not followed");
	CSV_FAILS("a,b\r", "line 1: carriage return not followed");
}

static void
test_callback_return_stops_the_parse(void)
{
	struct seen	 s;
	const char	 in[] = "a\nb\nc\n\"never closed";

	memset(&s, 0, sizeof(s));
	s.stop_at = 2;
	CU_ASSERT_EQUAL(csv_parse((const uint8_t *)in, sizeof(in) - 1,
	    collect, &s), 99);
	CU_ASSERT_STRING_EQUAL(s.text, "1:a\n2:b\n");
}

/* Counts records and checks each of the big file. */
struct big {
	size_t	 nrec;
	int	 bad;
};

static int
big_check(const struct csv_rec *rec, void *arg)
{
	struct big	*b = arg;
	char		 want[32];

	b->nrec++;
	if (rec->line == 1)
		return 0;
	snprintf(want, sizeof(want), "SEP%012zX", rec->line);
	if (rec->nfields != 6 || strcmp(rec->field[0], want) != 0 ||
	    strcmp(rec->field[3], rec->line % 2 ? "1234" : "") != 0)
		b->bad++;
	return 0;
}

static void
test_ten_thousand_lines(void)
{
	struct big	 b = { 0, 0 };
	char		*buf;
	size_t		 cap = 10001 * 80, n = 0, line;

	if ((buf = malloc(cap)) == NULL) {
		CU_FAIL("malloc");
		return;
	}
	n += (size_t)snprintf(buf, cap, "device,op,auth,password,key,"
	    "deadline\r\n");
	for (line = 2; line <= 10001; line++)
		n += (size_t)snprintf(buf + n, cap - n, "SEP%012zX,install,"
		    "%s,%s,rsa:2048,\"2030-01-01\"\r\n", line,
		    line % 2 ? "password" : "none", line % 2 ? "1234" : "");
	CU_ASSERT_FATAL(n < cap);
	CU_ASSERT_EQUAL(csv_parse((uint8_t *)buf, n, big_check, &b), 0);
	CU_ASSERT_EQUAL(b.nrec, 10001);
	CU_ASSERT_EQUAL(b.bad, 0);
	/* One bad line deep inside is named. */
	memcpy(strstr(buf, "SEP000000001F41"), "\"x\"y", 4);
	b.nrec = 0;
	UNIT_FAILS(csv_parse((uint8_t *)buf, n, big_check, &b), UC_ERR_FORMAT,
	    "line 8001: field 1: text after the closing quote");
	CU_ASSERT_EQUAL(b.nrec, 8000);
	free(buf);
}

/* The csv.h contract on any record. */
static int
contract(const struct csv_rec *rec, void *arg)
{
	size_t	 i, *prev = arg;

	CU_ASSERT(rec->nfields >= 1 && rec->nfields <= CSV_FIELDS_MAX);
	CU_ASSERT(rec->line > *prev);
	*prev = rec->line;
	for (i = 0; i < rec->nfields; i++)
		CU_ASSERT(strlen(rec->field[i]) <= CSV_FIELD_MAX);
	return 0;
}

static void
test_mutations_never_crash(void)
{
	const char	 sample[] = "\xef\xbb\xbf" "device,op,auth,password,"
	    "key,deadline\r\nSEP001122334455,install,password,\"1234\","
	    "rsa:2048,2026-12-01\r\n\"SEP0011,\"\"22\",fetch,none,,,\n\n"
	    "\"x\ny\",\"\",\r\n";
	uint8_t		 buf[sizeof(sample)];
	size_t		 len = sizeof(sample) - 1, i, prev;
	int		 bit, r;

	for (i = 0; i < len; i++)
		for (bit = 0; bit < 8; bit++) {
			memcpy(buf, sample, len);
			buf[i] ^= (uint8_t)(1u << bit);
			prev = 0;
			r = csv_parse(buf, len, contract, &prev);
			CU_ASSERT(r == 0 || r == UC_ERR_FORMAT);
		}
	for (i = 0; i <= len; i++) {
		prev = 0;
		r = csv_parse((const uint8_t *)sample, i, contract, &prev);
		CU_ASSERT(r == 0 || r == UC_ERR_FORMAT);
	}
}

static const struct unit_test tests[] = {
	{ "plain records with LF, CRLF and no final newline",
	    test_plain_records_with_lf_crlf_and_no_final_newline },
	{ "quoted fields: \"\" escapes, commas and line ends inside",
	    test_quoted_fields_escapes_and_embedded_line_ends },
	{ "empty fields, plain and quoted", test_empty_fields },
	{ "blank lines are skipped but counted",
	    test_blank_lines_are_skipped_but_counted },
	{ "a UTF-8 byte order mark is skipped only at the start",
	    test_byte_order_mark_only_at_the_start },
	{ "at most CSV_FIELDS_MAX fields", test_field_count_cap },
	{ "at most CSV_FIELD_MAX bytes per field", test_field_length_cap },
	{ "NUL bytes are refused with their line",
	    test_nul_bytes_are_refused },
	{ "an unterminated quote names the line it opened on",
	    test_unterminated_quote_names_the_opening_line },
	{ "text after a closing quote is refused",
	    test_text_after_closing_quote_is_refused },
	{ "a quote inside an unquoted field is refused",
	    test_quote_inside_unquoted_field_is_refused },
	{ "a carriage return without a line feed is refused",
	    test_bare_carriage_return_is_refused },
	{ "a non-zero callback return stops the parse",
	    test_callback_return_stops_the_parse },
	{ "a 10,000-line file parses; a bad line in it is named",
	    test_ten_thousand_lines },
	{ "bit flips and truncations never crash",
	    test_mutations_never_crash },
	{ NULL, NULL }
};

void
unit_register_csv(void)
{
	unit_suite("csv", tests);
}
