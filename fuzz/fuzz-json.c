/*
 * libFuzzer harness for the JSON reader (lib/json.c), which reads the
 * CFSSL CA replies of certmgr(8).  Checks the json.h contract:
 *  - a failure is UC_ERR_TRUNCATED (at the very end of the input),
 *    UC_ERR_FORMAT or UC_ERR_UNSUPPORTED with "JSON at offset N: " and N
 *    inside the input, and no document;
 *  - a parsed tree is consistent: counts match iteration and json_at,
 *    member names are unique and json_member finds each, every value's
 *    offset points at its first byte, strings are NUL-terminated valid
 *    UTF-8 without a NUL inside, numbers follow the RFC 8259 grammar,
 *    nesting and value counts stay inside the caps;
 *  - a tree written back out as JSON parses to a tree that writes out
 *    the same bytes.
 * The input's first bytes also serve as a lookup path (json_get).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "uerr.h"
#include "wbuf.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define CHECK(x)	do { if (!(x)) abort(); } while (0)
#define OUT_MAX		(16 * 1024 * 1024) /* a tree written back */

/* Length of the valid UTF-8 sequence at p (RFC 3629), 0 if invalid. */
static size_t
utf8_len(const uint8_t *p, size_t n)
{
	size_t	 len, i;
	uint32_t cp;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		len = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		len = 3;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		len = 4;
	else
		return 0;
	if (len > n)
		return 0;
	cp = p[0] & (0x7f >> len);
	for (i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return len;
}

static void
check_text(const char *s, size_t len)
{
	const uint8_t	*p = (const uint8_t *)s;
	size_t		 i, n;

	CHECK(s != NULL && strlen(s) == len);
	for (i = 0; i < len; i += n)
		CHECK((n = utf8_len(p + i, len - i)) > 0);
}

static int
digits(const char **s)
{
	const char	*p = *s;

	while (**s >= '0' && **s <= '9')
		(*s)++;
	return *s > p;
}

/* A number's text against the RFC 8259 section 6 grammar. */
static void
check_number(const char *s)
{
	const char	*p = s;

	CHECK(s != NULL && strlen(s) <= JSON_NUM_MAX);
	if (*p == '-')
		p++;
	if (*p == '0')
		p++;
	else
		CHECK(*p >= '1' && *p <= '9' && digits(&p));
	if (*p == '.') {
		p++;
		CHECK(digits(&p));
	}
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '+' || *p == '-')
			p++;
		CHECK(digits(&p));
	}
	CHECK(*p == '\0');
}

/* The byte a value of this type starts with must be at its offset. */
static void
check_offset(const struct json_value *v, const uint8_t *data, size_t len)
{
	size_t	 o = json_offset(v);
	uint8_t	 b;

	CHECK(o < len);
	b = data[o];
	switch (json_type(v)) {
	case JSON_OBJECT: CHECK(b == '{'); break;
	case JSON_ARRAY: CHECK(b == '['); break;
	case JSON_STRING: CHECK(b == '"'); break;
	case JSON_NUMBER: CHECK(b == (uint8_t)json_num(v)[0]); break;
	case JSON_NULL: CHECK(b == 'n'); break;
	case JSON_BOOL: CHECK(b == (json_bool(v) ? 't' : 'f')); break;
	default: CHECK(0);
	}
}

/* Check v and below; returns the number of values in the subtree. */
static size_t
check_value(const struct json_value *v, int depth, const uint8_t *data,
    size_t len)
{
	const struct json_value	*c;
	const char		*name, *s;
	size_t			 n = 0, total = 1, nlen;
	enum json_type		 t = json_type(v);

	CHECK(v != NULL && t > JSON_NONE && t < JSON_TYPE__MAX);
	check_offset(v, data, len);
	if (t == JSON_STRING) {
		s = json_str(v, &nlen);
		check_text(s, nlen);
	} else
		CHECK(json_str(v, NULL) == NULL);
	if (t == JSON_NUMBER)
		check_number(json_num(v));
	CHECK((json_bool(v) >= 0) == (t == JSON_BOOL));
	if (t != JSON_ARRAY && t != JSON_OBJECT) {
		CHECK(json_count(v) == 0 && json_child(v) == NULL);
		return total;
	}
	CHECK(depth <= JSON_DEPTH_MAX);
	for (c = json_child(v); c != NULL; c = json_next(c), n++) {
		CHECK(json_at(v, n) == c);
		name = json_name(c, &nlen);
		if (t == JSON_OBJECT) {
			check_text(name, nlen);
			CHECK(json_member(v, name) == c);
		} else
			CHECK(name == NULL);
		total += check_value(c, depth + 1, data, len);
	}
	CHECK(n == json_count(v) && json_at(v, n) == NULL);
	return total;
}

static void
put_str(struct wbuf *w, const char *s)
{
	char	 esc[8];

	wbuf_u8(w, '"');
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\') {
			wbuf_u8(w, '\\');
			wbuf_u8(w, (uint8_t)*s);
		} else if ((uint8_t)*s < 0x20) {
			snprintf(esc, sizeof(esc), "\\u%04x", (uint8_t)*s);
			wbuf_put(w, esc, 6);
		} else
			wbuf_u8(w, (uint8_t)*s);
	}
	wbuf_u8(w, '"');
}

/* v as compact JSON into w. */
static void
put_value(struct wbuf *w, const struct json_value *v)
{
	const struct json_value	*c;
	const char		*s;

	switch (json_type(v)) {
	case JSON_NULL:
		wbuf_put(w, "null", 4);
		return;
	case JSON_BOOL:
		s = json_bool(v) ? "true" : "false";
		wbuf_put(w, s, strlen(s));
		return;
	case JSON_NUMBER:
		wbuf_put(w, json_num(v), strlen(json_num(v)));
		return;
	case JSON_STRING:
		put_str(w, json_str(v, NULL));
		return;
	default:
		break;
	}
	wbuf_u8(w, json_type(v) == JSON_ARRAY ? '[' : '{');
	for (c = json_child(v); c != NULL; c = json_next(c)) {
		if (c != json_child(v))
			wbuf_u8(w, ',');
		if (json_type(v) == JSON_OBJECT) {
			put_str(w, json_name(c, NULL));
			wbuf_u8(w, ':');
		}
		put_value(w, c);
	}
	wbuf_u8(w, json_type(v) == JSON_ARRAY ? ']' : '}');
}

/* Write d out, parse it back, write that out: the same bytes. */
static void
check_roundtrip(const struct json *d)
{
	struct wbuf	 a, b;
	struct json	*d2 = NULL;

	wbuf_init(&a, OUT_MAX);
	wbuf_init(&b, OUT_MAX);
	put_value(&a, json_root(d));
	CHECK(wbuf_ok(&a));
	CHECK(json_parse(a.data, a.len, &d2) == 0);
	put_value(&b, json_root(d2));
	CHECK(wbuf_ok(&b) && a.len == b.len &&
	    memcmp(a.data, b.data, a.len) == 0);
	json_free(d2);
	wbuf_free(&a);
	wbuf_free(&b);
}

static void
check_failure(int r, size_t len)
{
	const char	*d = uc_errdetail();
	size_t		 off;
	char		 colon = 0;

	CHECK(r == UC_ERR_TRUNCATED || r == UC_ERR_FORMAT ||
	    r == UC_ERR_UNSUPPORTED);
	CHECK(sscanf(d, "JSON at offset %zu%c", &off, &colon) == 2 &&
	    colon == ':');
	CHECK(off <= len);
	if (r == UC_ERR_TRUNCATED)
		CHECK(off == len);
}

/* The first bytes of the input, up to 64 and a NUL, as a path. */
static void
check_lookups(const struct json *d, const uint8_t *data, size_t len)
{
	const struct json_value	*root = json_root(d);
	char			 path[65];
	const char		*s;
	long long		 n;
	int			 b;

	memcpy(path, data, len < 64 ? len : 64);
	path[len < 64 ? len : 64] = '\0';
	(void)json_str(json_get(root, path), NULL);
	(void)json_get_str(root, "result.certificate", &s, NULL);
	(void)json_get_str(root, "errors[0].message", &s, NULL);
	(void)json_get_int(root, "errors[0].code", -100, 100000, &n);
	(void)json_get_bool(root, "success", &b);
	if (json_get_str(root, path, &s, NULL) == 0)
		CHECK(s != NULL && json_get(root, path) != NULL);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct json	*d = (struct json *)data;	/* must be reset */
	int		 r;

	r = json_parse(data, len, &d);
	if (r != 0) {
		CHECK(d == NULL);
		check_failure(r, len);
		return 0;
	}
	CHECK(d != NULL && json_next(json_root(d)) == NULL);
	CHECK(check_value(json_root(d), 1, data, len) <= JSON_VALUES_MAX);
	check_roundtrip(d);
	check_lookups(d, data, len);
	json_free(d);
	return 0;
}
