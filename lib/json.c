/*
 * Strict JSON reader (RFC 8259) over the cursor; see json.h for the
 * contract.
 *
 * The tree is one array of values in document order: a container's
 * first child comes right after it, and each value records how many
 * slots its subtree takes (span), so its next sibling is at v + span.
 * Decoded strings and number texts live in one pool allocated up front
 * with len + 1 bytes, which always suffices: a decoded string plus its
 * NUL is shorter than its quoted source, and a number's text plus its
 * NUL fits in its source and the delimiter after it, or the one spare
 * byte when the number ends the document.  So pointers into the pool
 * never move.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "cursor.h"
#include "json.h"
#include "log.h"
#include "uerr.h"

#define JSON_NAME_SHOWN	40	/* member name bytes in a message */

struct json_value {
	enum json_type	 type;
	int		 b;		/* JSON_BOOL: 0 or 1 */
	uint32_t	 span;		/* slots of its subtree */
	uint32_t	 count;		/* members or elements */
	int		 last;		/* no sibling follows */
	size_t		 off;		/* where the value starts */
	size_t		 nameoff;	/* document offset of its name */
	const char	*name;		/* member name, or NULL */
	size_t		 namelen;
	const char	*s;		/* string or number text (pool) */
	size_t		 len;
};

struct json {
	struct json_value *v;		/* nv values in document order */
	size_t		 nv;
	size_t		 capv;
	char		*pool;		/* strings, number texts */
	size_t		 used;
	size_t		 poolcap;
};

/* A parse in progress. */
struct jp {
	struct cursor	 c;
	struct json	*doc;
	size_t		 depth;		/* open containers */
};

static const char *const type_names[JSON_TYPE__MAX] = {
	"absent", "null", "a boolean", "a number", "a string", "an array",
	"an object",
};

static int	 jp_value(struct jp *, const char *, size_t, size_t);

/* "JSON at offset N: why"; returns code. */
static int __attribute__((format(printf, 3, 4)))
jp_fail(int code, size_t off, const char *fmt, ...)
{
	va_list	 ap;
	char	 why[256];

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	return uc_fail(code, "JSON at offset %zu: %s", off, why);
}

/* The input ended inside what. */
static int
jp_end(struct jp *p, const char *what)
{
	return jp_fail(UC_ERR_TRUNCATED, cur_offset(&p->c), "the input "
	    "ends %s", what);
}

/* The next byte is not what belongs there. */
static int
jp_unexpected(struct jp *p, const char *want)
{
	uint8_t	 b = cur_peek_u8(&p->c);

	if (b > 0x20 && b < 0x7f)
		return jp_fail(UC_ERR_FORMAT, cur_offset(&p->c), "want %s, "
		    "not '%c'", want, b);
	return jp_fail(UC_ERR_FORMAT, cur_offset(&p->c), "want %s, not "
	    "byte 0x%02x", want, b);
}

/* Skip white space (RFC 8259 section 2: space, tab, LF, CR). */
static void
jp_ws(struct jp *p)
{
	uint8_t	 b;

	while (cur_left(&p->c) > 0) {
		b = cur_peek_u8(&p->c);
		if (b != ' ' && b != '\t' && b != '\n' && b != '\r')
			break;
		(void)cur_u8(&p->c);
	}
}

/* 1 when the next byte is b (not consumed). */
static int
jp_next_is(struct jp *p, uint8_t b)
{
	return cur_left(&p->c) > 0 && cur_peek_u8(&p->c) == b;
}

static int
is_digit(uint8_t b)
{
	return b >= '0' && b <= '9';
}

static int
pool_put(struct jp *p, const void *b, size_t n)
{
	struct json	*d = p->doc;

	if (n > d->poolcap - d->used)
		return uc_fail(UC_ERR_INTERNAL, "JSON: string pool overrun");
	memcpy(d->pool + d->used, b, n);
	d->used += n;
	return 0;
}

/* A new value slot (its index in *idx) for the value at the cursor. */
static int
node_new(struct jp *p, const char *name, size_t namelen, size_t nameoff,
    size_t *idx)
{
	struct json		*d = p->doc;
	struct json_value	*v;
	size_t			 cap;

	if (d->nv == JSON_VALUES_MAX)
		return jp_fail(UC_ERR_UNSUPPORTED, cur_offset(&p->c), "more "
		    "than %d values", JSON_VALUES_MAX);
	if (d->nv == d->capv) {
		cap = d->capv == 0 ? 16 : 2 * d->capv;
		if (cap > JSON_VALUES_MAX)
			cap = JSON_VALUES_MAX;
		if ((v = reallocarray(d->v, cap, sizeof(*v))) == NULL)
			return uc_fail(UC_ERR_ALLOC, "JSON: %zu values", cap);
		d->v = v;
		d->capv = cap;
	}
	v = &d->v[d->nv];
	memset(v, 0, sizeof(*v));
	v->off = cur_offset(&p->c);
	v->name = name;
	v->namelen = namelen;
	v->nameoff = nameoff;
	*idx = d->nv++;
	return 0;
}

static int
hexval(uint8_t b)
{
	if (is_digit(b))
		return b - '0';
	if ((b | 0x20) >= 'a' && (b | 0x20) <= 'f')
		return (b | 0x20) - 'a' + 10;
	return -1;
}

/* The four hex digits after "\u". */
static int
jp_hex4(struct jp *p, size_t off, uint32_t *cp)
{
	int	 i, h;

	*cp = 0;
	for (i = 0; i < 4; i++) {
		if (cur_left(&p->c) == 0)
			return jp_end(p, "inside a string");
		if ((h = hexval(cur_peek_u8(&p->c))) < 0)
			return jp_fail(UC_ERR_FORMAT, off, "\\u wants four "
			    "hex digits");
		(void)cur_u8(&p->c);
		*cp = *cp << 4 | (uint32_t)h;
	}
	return 0;
}

/* Code point cp (at most U+10FFFF, no surrogate) as UTF-8 into the pool. */
static int
utf8_put(struct jp *p, uint32_t cp)
{
	uint8_t	 u[4];
	size_t	 n;

	if (cp < 0x80) {
		u[0] = (uint8_t)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (uint8_t)(0xc0 | cp >> 6);
		u[1] = (uint8_t)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (uint8_t)(0xe0 | cp >> 12);
		u[1] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
		u[2] = (uint8_t)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		u[0] = (uint8_t)(0xf0 | cp >> 18);
		u[1] = (uint8_t)(0x80 | (cp >> 12 & 0x3f));
		u[2] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
		u[3] = (uint8_t)(0x80 | (cp & 0x3f));
		n = 4;
	}
	return pool_put(p, u, n);
}

/*
 * After "\u" (the backslash at off): one code point, a surrogate pair
 * (RFC 8259 section 7) joined into one.
 */
static int
jp_uescape(struct jp *p, size_t off)
{
	uint32_t	 cp, lo;
	int		 r;

	if ((r = jp_hex4(p, off, &cp)) != 0)
		return r;
	if (cp == 0)
		return jp_fail(UC_ERR_FORMAT, off, "\\u0000 (NUL) in a "
		    "string");
	if (cp >= 0xdc00 && cp <= 0xdfff)
		return jp_fail(UC_ERR_FORMAT, off, "\\u%04X is a low "
		    "surrogate without a high one", (unsigned)cp);
	if (cp >= 0xd800 && cp <= 0xdbff) {
		if (cur_left(&p->c) == 0)
			return jp_end(p, "inside a string");
		if (cur_peek_u8(&p->c) != '\\')
			goto lone;
		(void)cur_u8(&p->c);
		if (cur_left(&p->c) == 0)
			return jp_end(p, "inside a string");
		if (cur_u8(&p->c) != 'u')
			goto lone;
		if ((r = jp_hex4(p, off, &lo)) != 0)
			return r;
		if (lo < 0xdc00 || lo > 0xdfff)
			goto lone;
		cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
	}
	return utf8_put(p, cp);
lone:
	return jp_fail(UC_ERR_FORMAT, off, "\\u%04X is a high surrogate "
	    "without a low one", (unsigned)cp);
}

/* After a backslash at off: one escape (RFC 8259 section 7). */
static int
jp_escape(struct jp *p, size_t off)
{
	static const char	 in[] = "\"\\/bfnrt";
	static const char	 out[] = "\"\\/\b\f\n\r\t";
	const char		*e;
	uint8_t			 b;

	if (cur_left(&p->c) == 0)
		return jp_end(p, "inside a string");
	b = cur_peek_u8(&p->c);
	if (b == 'u') {
		(void)cur_u8(&p->c);
		return jp_uescape(p, off);
	}
	if (b == '\0' || (e = strchr(in, b)) == NULL)
		return jp_unexpected(p, "an escape (\\\" \\\\ \\/ \\b \\f \\n "
		    "\\r \\t \\u)");
	(void)cur_u8(&p->c);
	return pool_put(p, &out[e - in], 1);
}

/*
 * A UTF-8 sequence whose lead byte b0 (at off) was read: well-formed as
 * RFC 3629 section 4 has it (no overlong form, no surrogate, at most
 * U+10FFFF).
 */
static int
jp_utf8(struct jp *p, uint8_t b0, size_t off)
{
	uint8_t	 seq[4], lo = 0x80, hi = 0xbf;
	size_t	 n, i;

	if (b0 >= 0xc2 && b0 <= 0xdf)
		n = 2;
	else if (b0 >= 0xe0 && b0 <= 0xef)
		n = 3;
	else if (b0 >= 0xf0 && b0 <= 0xf4)
		n = 4;
	else
		return jp_fail(UC_ERR_FORMAT, off, "byte 0x%02x is not "
		    "UTF-8", b0);
	if (b0 == 0xe0)
		lo = 0xa0;		/* overlong */
	else if (b0 == 0xed)
		hi = 0x9f;		/* surrogates */
	else if (b0 == 0xf0)
		lo = 0x90;		/* overlong */
	else if (b0 == 0xf4)
		hi = 0x8f;		/* past U+10FFFF */
	seq[0] = b0;
	for (i = 1; i < n; i++) {
		if (cur_left(&p->c) == 0)
			return jp_end(p, "inside a string");
		seq[i] = cur_peek_u8(&p->c);
		if (seq[i] < lo || seq[i] > hi)
			return jp_fail(UC_ERR_FORMAT, off, "invalid UTF-8 "
			    "sequence");
		(void)cur_u8(&p->c);
		lo = 0x80;
		hi = 0xbf;
	}
	return pool_put(p, seq, n);
}

/*
 * A string, its opening quote next, decoded into the pool: *s is the
 * NUL-terminated text, *len its length.
 */
static int
jp_string(struct jp *p, const char **s, size_t *len)
{
	struct json	*d = p->doc;
	size_t		 start = d->used, off;
	uint8_t		 b;
	int		 r;

	(void)cur_u8(&p->c);
	for (;;) {
		if (cur_left(&p->c) == 0)
			return jp_end(p, "inside a string");
		off = cur_offset(&p->c);
		b = cur_u8(&p->c);
		if (b == '"')
			break;
		if (b < 0x20)
			return jp_fail(UC_ERR_FORMAT, off, "control byte "
			    "0x%02x in a string", b);
		if (b == '\\')
			r = jp_escape(p, off);
		else if (b >= 0x80)
			r = jp_utf8(p, b, off);
		else
			r = pool_put(p, &b, 1);
		if (r != 0)
			return r;
		if (d->used - start > JSON_STR_MAX)
			return jp_fail(UC_ERR_UNSUPPORTED, off, "a string "
			    "longer than %d bytes", JSON_STR_MAX);
	}
	if ((r = pool_put(p, "", 1)) != 0)
		return r;
	*s = d->pool + start;
	*len = d->used - start - 1;
	return 0;
}

/* One or more digits; what names the part for messages. */
static int
jp_digits(struct jp *p, const char *what)
{
	if (cur_left(&p->c) == 0)
		return jp_end(p, "inside a number");
	if (!is_digit(cur_peek_u8(&p->c)))
		return jp_unexpected(p, what);
	while (cur_left(&p->c) > 0 && is_digit(cur_peek_u8(&p->c)))
		(void)cur_u8(&p->c);
	return 0;
}

/*
 * A number (RFC 8259 section 6): -? (0 | [1-9][0-9]*) (. [0-9]+)?
 * ([eE] [+-]? [0-9]+)?, its text kept.
 */
static int
jp_number(struct jp *p, size_t idx)
{
	struct json_value	*v;
	struct cursor		 start = p->c;
	const uint8_t		*text;
	size_t			 off = cur_offset(&p->c), n;
	int			 r;

	if (jp_next_is(p, '-'))
		(void)cur_u8(&p->c);
	if (jp_next_is(p, '0')) {
		(void)cur_u8(&p->c);
		if (cur_left(&p->c) > 0 && is_digit(cur_peek_u8(&p->c)))
			return jp_fail(UC_ERR_FORMAT, off, "a number with a "
			    "leading zero");
	} else if ((r = jp_digits(p, "a digit")) != 0)
		return r;
	if (jp_next_is(p, '.')) {
		(void)cur_u8(&p->c);
		if ((r = jp_digits(p, "a digit after the decimal point")) != 0)
			return r;
	}
	if (jp_next_is(p, 'e') || jp_next_is(p, 'E')) {
		(void)cur_u8(&p->c);
		if (jp_next_is(p, '+') || jp_next_is(p, '-'))
			(void)cur_u8(&p->c);
		if ((r = jp_digits(p, "a digit in the exponent")) != 0)
			return r;
	}
	n = cur_offset(&p->c) - off;
	if (n > JSON_NUM_MAX)
		return jp_fail(UC_ERR_UNSUPPORTED, off, "a number longer "
		    "than %d characters", JSON_NUM_MAX);
	if ((text = cur_bytes(&start, n)) == NULL)
		return uc_fail(UC_ERR_INTERNAL, "JSON: number text");
	v = &p->doc->v[idx];
	v->type = JSON_NUMBER;
	v->s = p->doc->pool + p->doc->used;
	v->len = n;
	if ((r = pool_put(p, text, n)) != 0 || (r = pool_put(p, "", 1)) != 0)
		return r;
	return 0;
}

/* true, false or null. */
static int
jp_literal(struct jp *p, size_t idx)
{
	static const char *const words[] = { "true", "false", "null" };
	struct json_value	*v = &p->doc->v[idx];
	const char		*w;
	size_t			 i, off = cur_offset(&p->c);

	w = cur_peek_u8(&p->c) == 't' ? words[0] :
	    cur_peek_u8(&p->c) == 'f' ? words[1] : words[2];
	for (i = 0; w[i] != '\0'; i++) {
		if (cur_left(&p->c) == 0)
			return jp_end(p, "inside a literal");
		if (cur_peek_u8(&p->c) != (uint8_t)w[i])
			return jp_fail(UC_ERR_FORMAT, off, "unknown word "
			    "(want true, false or null)");
		(void)cur_u8(&p->c);
	}
	v->type = w == words[2] ? JSON_NULL : JSON_BOOL;
	v->b = w == words[0];
	return 0;
}

/* Enter an array or object at off; refused past JSON_DEPTH_MAX. */
static int
jp_enter(struct jp *p, size_t off)
{
	if (p->depth == JSON_DEPTH_MAX)
		return jp_fail(UC_ERR_UNSUPPORTED, off, "nesting deeper "
		    "than %d", JSON_DEPTH_MAX);
	p->depth++;
	(void)cur_u8(&p->c);
	jp_ws(p);
	return 0;
}

/*
 * After the value at index child in a container: ',' (*more 1) or the
 * closing byte close (*more 0; child is the last).
 */
static int
jp_after(struct jp *p, size_t child, uint8_t close, const char *want,
    int *more)
{
	jp_ws(p);
	if (cur_left(&p->c) == 0)
		return jp_end(p, close == ']' ? "inside an array" :
		    "inside an object");
	*more = jp_next_is(p, ',');
	if (!*more && !jp_next_is(p, close))
		return jp_unexpected(p, want);
	(void)cur_u8(&p->c);
	if (!*more)
		p->doc->v[child].last = 1;
	return 0;
}

/* An array, its '[' next. */
static int
jp_array(struct jp *p, size_t idx)
{
	size_t	 child, n = 0;
	int	 more = 1, r;

	if ((r = jp_enter(p, cur_offset(&p->c))) != 0)
		return r;
	if (jp_next_is(p, ']')) {
		(void)cur_u8(&p->c);
		more = 0;
	}
	while (more) {
		child = p->doc->nv;
		if ((r = jp_value(p, NULL, 0, 0)) != 0 ||
		    (r = jp_after(p, child, ']', "',' or ']' in an array",
		    &more)) != 0)
			return r;
		n++;
	}
	p->depth--;
	p->doc->v[idx].type = JSON_ARRAY;
	p->doc->v[idx].count = (uint32_t)n;
	return 0;
}

/* qsort order of members: by name, then by place in the document. */
static int
name_cmp(const void *a, const void *b)
{
	const struct json_value	*x, *y;
	int			 r;

	x = *(const struct json_value *const *)a;
	y = *(const struct json_value *const *)b;
	if (x->namelen != y->namelen)
		return x->namelen < y->namelen ? -1 : 1;
	if ((r = memcmp(x->name, y->name, x->namelen)) != 0)
		return r;
	return x->off < y->off ? -1 : x->off > y->off;
}

/* Refuse an object (at idx, its members parsed) with a repeated name. */
static int
jp_dups(struct jp *p, size_t idx)
{
	const struct json_value	*o = &p->doc->v[idx], *c, **m;
	char			 shown[JSON_NAME_SHOWN + 1];
	size_t			 i, n = o->count;
	int			 r = 0;

	if (n < 2)
		return 0;
	if ((m = reallocarray(NULL, n, sizeof(*m))) == NULL)
		return uc_fail(UC_ERR_ALLOC, "JSON: %zu members", n);
	for (i = 0, c = o + 1; i < n; i++, c += c->span)
		m[i] = c;
	qsort(m, n, sizeof(*m), name_cmp);
	for (i = 1; i < n && r == 0; i++)
		if (m[i]->namelen == m[i - 1]->namelen &&
		    memcmp(m[i]->name, m[i - 1]->name, m[i]->namelen) == 0)
			r = jp_fail(UC_ERR_FORMAT, m[i]->nameoff, "member "
			    "\"%s\" appears twice in an object",
			    str_vis(shown, sizeof(shown), m[i]->name));
	free(m);
	return r;
}

/* An object, its '{' next. */
static int
jp_object(struct jp *p, size_t idx)
{
	const char	*name;
	size_t		 child, namelen, nameoff, n = 0;
	int		 more = 1, r;

	if ((r = jp_enter(p, cur_offset(&p->c))) != 0)
		return r;
	if (jp_next_is(p, '}')) {
		(void)cur_u8(&p->c);
		more = 0;
	}
	while (more) {
		jp_ws(p);
		if (cur_left(&p->c) == 0)
			return jp_end(p, "inside an object");
		if (!jp_next_is(p, '"'))
			return jp_unexpected(p, "a member name (a string)");
		nameoff = cur_offset(&p->c);
		if ((r = jp_string(p, &name, &namelen)) != 0)
			return r;
		jp_ws(p);
		if (cur_left(&p->c) == 0)
			return jp_end(p, "inside an object");
		if (!jp_next_is(p, ':'))
			return jp_unexpected(p, "':' after a member name");
		(void)cur_u8(&p->c);
		child = p->doc->nv;
		if ((r = jp_value(p, name, namelen, nameoff)) != 0 ||
		    (r = jp_after(p, child, '}', "',' or '}' in an object",
		    &more)) != 0)
			return r;
		n++;
	}
	p->depth--;
	p->doc->v[idx].type = JSON_OBJECT;
	p->doc->v[idx].count = (uint32_t)n;
	return jp_dups(p, idx);
}

/* A string value, its '"' next. */
static int
jp_strval(struct jp *p, size_t idx)
{
	const char	*s;
	size_t		 len;
	int		 r;

	if ((r = jp_string(p, &s, &len)) != 0)
		return r;
	p->doc->v[idx].type = JSON_STRING;
	p->doc->v[idx].s = s;
	p->doc->v[idx].len = len;
	return 0;
}

/* One value of any type (a member's when name is not NULL). */
static int
jp_value(struct jp *p, const char *name, size_t namelen, size_t nameoff)
{
	size_t	 idx = 0;
	uint8_t	 b;
	int	 r;

	jp_ws(p);
	if (cur_left(&p->c) == 0)
		return jp_end(p, "before a value");
	if ((r = node_new(p, name, namelen, nameoff, &idx)) != 0)
		return r;
	b = cur_peek_u8(&p->c);
	if (b == '{')
		r = jp_object(p, idx);
	else if (b == '[')
		r = jp_array(p, idx);
	else if (b == '"')
		r = jp_strval(p, idx);
	else if (b == 't' || b == 'f' || b == 'n')
		r = jp_literal(p, idx);
	else if (b == '-' || is_digit(b))
		r = jp_number(p, idx);
	else
		r = jp_unexpected(p, "a value");
	if (r == 0)
		p->doc->v[idx].span = (uint32_t)(p->doc->nv - idx);
	return r;
}

/*
 * Parse len bytes at buf as one JSON document (see json.h).  Returns 0
 * and *out (free with json_free), or UC_ERR_TRUNCATED, UC_ERR_FORMAT,
 * UC_ERR_UNSUPPORTED ("JSON at offset N: why") or UC_ERR_ALLOC.
 */
int
json_parse(const uint8_t *buf, size_t len, struct json **out)
{
	struct jp	 p;
	struct json	*d = NULL;
	int		 r;

	*out = NULL;
	if (len > JSON_DOC_MAX)
		return uc_fail(UC_ERR_UNSUPPORTED, "JSON at offset %d: the "
		    "document is longer than %d bytes", JSON_DOC_MAX,
		    JSON_DOC_MAX);
	if ((d = calloc(1, sizeof(*d))) == NULL ||
	    (d->pool = malloc(len + 1)) == NULL) {
		free(d);
		return uc_fail(UC_ERR_ALLOC, "JSON: a %zu-byte document", len);
	}
	d->poolcap = len + 1;
	memset(&p, 0, sizeof(p));
	cur_init(&p.c, buf, len);
	p.doc = d;
	if ((r = jp_value(&p, NULL, 0, 0)) != 0)
		goto out;
	d->v[0].last = 1;
	jp_ws(&p);
	if (cur_left(&p.c) != 0) {
		r = jp_fail(UC_ERR_FORMAT, cur_offset(&p.c), "data after "
		    "the value");
		goto out;
	}
	*out = d;
	d = NULL;
out:
	json_free(d);
	return r;
}

/* Free a document, wiping its strings; NULL is fine. */
void
json_free(struct json *d)
{
	if (d == NULL)
		return;
	if (d->pool != NULL)
		OPENSSL_clear_free(d->pool, d->poolcap);
	free(d->v);
	free(d);
}

/* The top-level value (borrowed from d). */
const struct json_value *
json_root(const struct json *d)
{
	return d != NULL && d->nv > 0 ? &d->v[0] : NULL;
}

/* v's type; JSON_NONE when v is NULL. */
enum json_type
json_type(const struct json_value *v)
{
	return v != NULL ? v->type : JSON_NONE;
}

/* "a string", "an object", ... for messages. */
const char *
json_type_name(enum json_type t)
{
	return (unsigned)t < JSON_TYPE__MAX ? type_names[t] : "unknown";
}

/* Members of an object or elements of an array; 0 for the rest. */
size_t
json_count(const struct json_value *v)
{
	if (v == NULL || (v->type != JSON_ARRAY && v->type != JSON_OBJECT))
		return 0;
	return v->count;
}

/* The first element or member of v, or NULL. */
const struct json_value *
json_child(const struct json_value *v)
{
	return json_count(v) > 0 ? v + 1 : NULL;
}

/* The element or member after v in its array or object, or NULL. */
const struct json_value *
json_next(const struct json_value *v)
{
	return v != NULL && !v->last ? v + v->span : NULL;
}

/* Element or member i (from 0) of v, or NULL. */
const struct json_value *
json_at(const struct json_value *v, size_t i)
{
	const struct json_value	*c;

	if (i >= json_count(v))
		return NULL;
	for (c = json_child(v); c != NULL && i > 0; i--)
		c = json_next(c);
	return c;
}

static const struct json_value *
member_n(const struct json_value *v, const char *name, size_t n)
{
	const struct json_value	*c;

	if (json_type(v) != JSON_OBJECT)
		return NULL;
	for (c = json_child(v); c != NULL; c = json_next(c))
		if (c->namelen == n && memcmp(c->name, name, n) == 0)
			return c;
	return NULL;
}

/* The member of object v named name (names are unique), or NULL. */
const struct json_value *
json_member(const struct json_value *v, const char *name)
{
	return name != NULL ? member_n(v, name, strlen(name)) : NULL;
}

/*
 * The value path names below v, or NULL.  A path is member names
 * joined by '.', each optionally followed by "[N]" for element N (from
 * 0) of an array: "result.certificate", "errors[0].message", "[2]".
 * The empty path is v.  Names holding '.' or '[' need json_member.
 */
const struct json_value *
json_get(const struct json_value *v, const char *path)
{
	const char	*p = path;
	size_t		 n, i;

	if (path == NULL)
		return NULL;
	while (v != NULL && *p != '\0') {
		if (*p == '[') {
			for (i = 0, p++; is_digit((uint8_t)*p); p++) {
				if (i > JSON_VALUES_MAX)
					return NULL;
				i = i * 10 + (size_t)(*p - '0');
			}
			if (p[-1] == '[' || *p++ != ']' ||
			    json_type(v) != JSON_ARRAY)
				return NULL;
			v = json_at(v, i);
			continue;
		}
		if (p != path && *p++ != '.')
			return NULL;
		if ((n = strcspn(p, ".[")) == 0)
			return NULL;
		v = member_n(v, p, n);
		p += n;
	}
	return v;
}

/* The document offset where v starts (0 for NULL). */
size_t
json_offset(const struct json_value *v)
{
	return v != NULL ? v->off : 0;
}

/* The name of member v (its length in *len when len is not NULL). */
const char *
json_name(const struct json_value *v, size_t *len)
{
	if (len != NULL)
		*len = v != NULL && v->name != NULL ? v->namelen : 0;
	return v != NULL ? v->name : NULL;
}

/*
 * A string value: NUL-terminated, valid UTF-8, no NUL inside; its length
 * in *len when len is not NULL.  NULL when v is not a string.
 */
const char *
json_str(const struct json_value *v, size_t *len)
{
	int	 ok = json_type(v) == JSON_STRING;

	if (len != NULL)
		*len = ok ? v->len : 0;
	return ok ? v->s : NULL;
}

/* A number's text as in the document, or NULL. */
const char *
json_num(const struct json_value *v)
{
	return json_type(v) == JSON_NUMBER ? v->s : NULL;
}

/* 1 for true, 0 for false, -1 when v is not a boolean. */
int
json_bool(const struct json_value *v)
{
	return json_type(v) == JSON_BOOL ? v->b : -1;
}

/*
 * An integer number (no fraction, no exponent) in [min, max] into *out.
 * Returns 0, UC_ERR_NOTFOUND (v is NULL) or UC_ERR_FORMAT.
 */
int
json_int(const struct json_value *v, long long min, long long max,
    long long *out)
{
	const char	*s = json_num(v);
	char		*end;
	long long	 n;

	*out = 0;
	if (v == NULL)
		return uc_fail(UC_ERR_NOTFOUND, "JSON: no value");
	if (s == NULL)
		return uc_fail(UC_ERR_FORMAT, "JSON at offset %zu: %s, not an "
		    "integer", v->off, json_type_name(v->type));
	errno = 0;
	n = strtoll(s, &end, 10);
	if (strpbrk(s, ".eE") != NULL || *end != '\0' || errno != 0 ||
	    n < min || n > max)
		return uc_fail(UC_ERR_FORMAT, "JSON at offset %zu: %s is not "
		    "an integer from %lld to %lld", v->off, s, min, max);
	*out = n;
	return 0;
}

/* json_get, refusing absence and types other than t. */
static int
get_typed(const struct json_value *v, const char *path, enum json_type t,
    const struct json_value **out)
{
	*out = json_get(v, path);
	if (*out == NULL)
		return uc_fail(UC_ERR_NOTFOUND, "JSON: no %s", path);
	if ((*out)->type != t)
		return uc_fail(UC_ERR_FORMAT, "JSON at offset %zu: %s is %s, "
		    "not %s", (*out)->off, path, json_type_name((*out)->type),
		    json_type_name(t));
	return 0;
}

/* The string path names below v; see json_str.  0 or UC_ERR_*. */
int
json_get_str(const struct json_value *v, const char *path, const char **s,
    size_t *len)
{
	const struct json_value	*x;
	int			 r;

	*s = NULL;
	if (len != NULL)
		*len = 0;
	if ((r = get_typed(v, path, JSON_STRING, &x)) != 0)
		return r;
	*s = json_str(x, len);
	return 0;
}

/* The boolean path names below v, 0 or 1, into *b.  0 or UC_ERR_*. */
int
json_get_bool(const struct json_value *v, const char *path, int *b)
{
	const struct json_value	*x;
	int			 r;

	*b = 0;
	if ((r = get_typed(v, path, JSON_BOOL, &x)) != 0)
		return r;
	*b = x->b;
	return 0;
}

/* The integer path names below v, in [min, max].  0 or UC_ERR_*. */
int
json_get_int(const struct json_value *v, const char *path, long long min,
    long long max, long long *out)
{
	const struct json_value	*x;
	int			 r;

	*out = 0;
	if ((r = get_typed(v, path, JSON_NUMBER, &x)) != 0)
		return r;
	if ((r = json_int(x, min, max, out)) != 0)
		uc_prefix(path);
	return r;
}
