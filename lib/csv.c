/*
 * RFC 4180 CSV reader over the cursor; see csv.h for the contract.
 *
 * Accepted: fields separated by ",", records ended by CRLF or LF (the
 * last one may end at the end of the buffer), fields in double quotes
 * with "" standing for one quote and CR, LF and "," allowed inside, a
 * UTF-8 byte order mark at the very start (skipped), blank lines
 * (skipped).  Refused, each as UC_ERR_FORMAT "line N: why": a NUL byte
 * anywhere, a CR not followed by LF outside quotes, a quote inside an
 * unquoted field, text between a closing quote and the next separator,
 * a quote never closed, more than CSV_FIELDS_MAX fields, a field longer
 * than CSV_FIELD_MAX bytes.  Lines are counted by LF, from 1.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <openssl/crypto.h>

#include "csv.h"
#include "cursor.h"
#include "uerr.h"

static const uint8_t csv_bom[] = { 0xef, 0xbb, 0xbf };

/* The parse in progress; the fields of one record live in buf. */
struct csv_state {
	struct cursor	 cur;
	size_t		 line;		/* current line, from 1 */
	size_t		 len;		/* bytes in the field being read */
	struct csv_rec	 rec;
	char		 buf[CSV_FIELDS_MAX][CSV_FIELD_MAX + 1];
};

/* Append c to field n; fails past CSV_FIELD_MAX bytes. */
static int
field_put(struct csv_state *st, size_t n, uint8_t c)
{
	if (c == '\0')
		return uc_fail(UC_ERR_FORMAT, "line %zu: field %zu: NUL byte "
		    "(not a text file?)", st->line, n + 1);
	if (st->len == CSV_FIELD_MAX)
		return uc_fail(UC_ERR_FORMAT, "line %zu: field %zu: longer "
		    "than %d bytes", st->line, n + 1, CSV_FIELD_MAX);
	st->buf[n][st->len++] = (char)c;
	return 0;
}

/* An unquoted field: up to ",", CR, LF or the end. */
static int
field_plain(struct csv_state *st, size_t n)
{
	uint8_t	 c;
	int	 r;

	while (cur_left(&st->cur) > 0) {
		c = cur_peek_u8(&st->cur);
		if (c == ',' || c == '\n' || c == '\r')
			break;
		if (c == '"')
			return uc_fail(UC_ERR_FORMAT, "line %zu: field %zu: "
			    "quote inside an unquoted field (quote the whole "
			    "field and double the quote)", st->line, n + 1);
		(void)cur_u8(&st->cur);
		if ((r = field_put(st, n, c)) != 0)
			return r;
	}
	return 0;
}

/* A quoted field, the opening quote already read: up to its close. */
static int
field_quoted(struct csv_state *st, size_t n)
{
	size_t	 open = st->line;
	uint8_t	 c;
	int	 r;

	for (;;) {
		if (cur_left(&st->cur) == 0)
			return uc_fail(UC_ERR_FORMAT, "line %zu: field %zu: "
			    "quote opened here is never closed", open, n + 1);
		c = cur_u8(&st->cur);
		if (c == '"') {
			if (cur_left(&st->cur) == 0 ||
			    cur_peek_u8(&st->cur) != '"')
				return 0;
			(void)cur_u8(&st->cur);
		}
		if (c == '\n')
			st->line++;
		if ((r = field_put(st, n, c)) != 0)
			return r;
	}
}

/*
 * What follows field n: "," (*more = 1), a line end or the end of the
 * buffer (*more = 0), or an error.
 */
static int
field_end(struct csv_state *st, size_t n, int *more)
{
	uint8_t	 c;

	*more = 0;
	if (cur_left(&st->cur) == 0)
		return 0;
	c = cur_u8(&st->cur);
	if (c == ',') {
		*more = 1;
		return 0;
	}
	if (c == '\r' && cur_left(&st->cur) > 0 &&
	    cur_peek_u8(&st->cur) == '\n')
		c = cur_u8(&st->cur);
	if (c == '\n') {
		st->line++;
		return 0;
	}
	if (c == '\r')
		return uc_fail(UC_ERR_FORMAT, "line %zu: carriage return not "
		    "followed by a line feed", st->line);
	if (c == '\0')
		return uc_fail(UC_ERR_FORMAT, "line %zu: field %zu: NUL byte "
		    "(not a text file?)", st->line, n + 1);
	/* Only a closing quote can be followed by anything else. */
	return uc_fail(UC_ERR_FORMAT, "line %zu: field %zu: text after the "
	    "closing quote", st->line, n + 1);
}

/* One record starting at the cursor (not a blank line). */
static int
record_read(struct csv_state *st)
{
	size_t	 n;
	int	 more = 1, quoted, r;

	st->rec.line = st->line;
	st->rec.nfields = 0;
	for (n = 0; more; n++) {
		if (n == CSV_FIELDS_MAX)
			return uc_fail(UC_ERR_FORMAT, "line %zu: more than %d "
			    "fields", st->line, CSV_FIELDS_MAX);
		st->len = 0;
		quoted = cur_left(&st->cur) > 0 &&
		    cur_peek_u8(&st->cur) == '"';
		if (quoted)
			(void)cur_u8(&st->cur);
		if ((r = quoted ? field_quoted(st, n) :
		    field_plain(st, n)) != 0)
			return r;
		st->buf[n][st->len] = '\0';
		st->rec.field[n] = st->buf[n];
		st->rec.nfields = n + 1;
		if ((r = field_end(st, n, &more)) != 0)
			return r;
	}
	return 0;
}

/*
 * Skip a blank line at the cursor: returns 1 if one was skipped, 0 if a
 * record starts here, or UC_ERR_FORMAT for a bare CR.
 */
static int
blank_skip(struct csv_state *st)
{
	uint8_t	 c = cur_peek_u8(&st->cur);

	if (c != '\n' && c != '\r')
		return 0;
	(void)cur_u8(&st->cur);
	if (c == '\r' && (cur_left(&st->cur) == 0 ||
	    cur_u8(&st->cur) != '\n'))
		return uc_fail(UC_ERR_FORMAT, "line %zu: carriage return not "
		    "followed by a line feed", st->line);
	st->line++;
	return 1;
}

/*
 * Parse len bytes of CSV text at buf (untrusted) and call fn(rec, arg)
 * for each record in order; rec and its fields are valid only during
 * the call.  Returns 0 at the end of the buffer, fn's first non-zero
 * return, or UC_ERR_FORMAT with "line N: why".  Every field buffer is
 * wiped before returning (imports carry auth strings).
 */
int
csv_parse(const uint8_t *buf, size_t len,
    int (*fn)(const struct csv_rec *, void *), void *arg)
{
	struct csv_state	*st;
	struct cursor		 bom;
	const uint8_t		*p;
	int			 r = 0;

	if ((st = OPENSSL_zalloc(sizeof(*st))) == NULL)
		return uc_fail(UC_ERR_ALLOC, "CSV parser state");
	cur_init(&st->cur, buf, len);
	st->line = 1;
	bom = st->cur;
	if ((p = cur_bytes(&bom, sizeof(csv_bom))) != NULL &&
	    memcmp(p, csv_bom, sizeof(csv_bom)) == 0)
		st->cur = bom;
	while (r == 0 && cur_left(&st->cur) > 0) {
		if ((r = blank_skip(st)) == 1) {
			r = 0;
			continue;
		}
		if (r == 0 && (r = record_read(st)) == 0)
			r = fn(&st->rec, arg);
	}
	OPENSSL_clear_free(st, sizeof(*st));
	return r;
}
