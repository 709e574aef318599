/*
 * Suite "json": the strict JSON reader (lib/json.c): real CFSSL replies
 * (sign, info, an error), every escape and surrogate pair, UTF-8 and
 * control bytes in strings, the number grammar and json_int's range,
 * duplicate member names (refused), the depth, value, string, number
 * and document caps, every truncation of a real reply, mutations, and
 * the lookup API (paths, NULL chaining).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>

#include "json.h"
#include "unit.h"

/* A real reply of "cfssl serve" (1.6) to /api/v1/cfssl/sign. */
static const char cfssl_sign[] =
	    "{\"success\":true,\"result\":{\"certificate\":\"-----BEGIN C"
	    "ERTIFICATE-----\\nMIIBsjCCAVmgAwIBAgIUC8fDIZgpdmE7bwFH+dxqOp"
	    "lJ2L0wCgYIKoZIzj0EAwIw\\nOjEQMA4GA1UEChMHRXhhbXBsZTEMMAoGA1U"
	    "ECxMDUEtJMRgwFgYDVQQDEw91Y3Nl\\nYyB0ZXN0IHJvb3QwHhcNMjYxMTI2"
	    "MDQwMDAwWhcNMzExMTI1MDQwMDAwWjARMQ8w\\nDQYDVQQDEwZDQVBGLXgwW"
	    "TATBgcqhkjOPQIBBggqhkjOPQMBBwNCAAQ7pziSVZvA\\nn+uj3uI78+E/RD"
	    "xDwNgrH7eLJ7PvH3J8M0rK672kX35MrkCWPWnz5y8HZgcJjAUi\\noewjuU5"
	    "Mb0Jvo2YwZDAOBgNVHQ8BAf8EBAMCAYYwEgYDVR0TAQH/BAgwBgEB/wIB\\n"
	    "ADAdBgNVHQ4EFgQUJd0jT7gKRYQarAHUMBsVdhDR25wwHwYDVR0jBBgwFoAU"
	    "rIpU\\n98XEQU4+gPN1MbvB3XXhsBUwCgYIKoZIzj0EAwIDRwAwRAIgcje9j"
	    "hyuvwqnYojk\\nRogWxjkVLTi5gHEnU/YS9+IYdRUCIGxrtiIlONtgMXITTZ"
	    "bkP1joWYsXmSDw/U1J\\nz5qKnxIV\\n-----END CERTIFICATE-----\\n"
	    "\"},\"errors\":[],\"messages\":[]}\n";

/* Its reply to /api/v1/cfssl/info for a profile. */
static const char cfssl_info[] =
	    "{\"success\":true,\"result\":{\"certificate\":\"-----BEGIN C"
	    "ERTIFICATE-----\\nMIIBuDCCAV6gAwIBAgIUVK+I/2UBaW9FgwkadU8i11"
	    "r/gIMwCgYIKoZIzj0EAwIw\\nOjEQMA4GA1UEChMHRXhhbXBsZTEMMAoGA1U"
	    "ECxMDUEtJMRgwFgYDVQQDEw91Y3Nl\\nYyB0ZXN0IHJvb3QwHhcNMjYxMTI2"
	    "MDQwMDAwWhcNMzYxMTIzMDQwMDAwWjA6MRAw\\nDgYDVQQKEwdFeGFtcGxlM"
	    "QwwCgYDVQQLEwNQS0kxGDAWBgNVBAMTD3Vjc2VjIHRl\\nc3Qgcm9vdDBZMB"
	    "MGByqGSM49AgEGCCqGSM49AwEHA0IABIITIVtSzbM+zRfYVEUI\\nqNQT+24"
	    "kpYUN9OLKbDaRUcL/6xS2Oyy3ntuYUrwtBI97eoKZw7at3yNjZ3XdHbLK\\n"
	    "h9qjQjBAMA4GA1UdDwEB/wQEAwIBBjAPBgNVHRMBAf8EBTADAQH/MB0GA1Ud"
	    "DgQW\\nBBSsilT3xcRBTj6A83Uxu8HddeGwFTAKBggqhkjOPQQDAgNIADBFA"
	    "iEAxRnfCUcJ\\nanyW+xCm8hUsv+pDKcNxRKbJ4YBgfEo/06kCIDi13gNoZf"
	    "naORyqSasrf5FUKB2u\\nJTdbb+Xy0NxZ5WNZ\\n-----END CERTIFICATE"
	    "-----\",\"usages\":[\"cert sign\",\"crl sign\",\"digital sig"
	    "nature\"],\"expiry\":\"43800h\"},\"errors\":[],\"messages\":"
	    "[]}\n";

/* Its reply to /sign for a profile that wants an auth key. */
static const char cfssl_error[] =
	    "{\"success\":false,\"result\":null,\"errors\":[{\"code\":400,"
	    "\"message\":\"authentication required\"}],\"messages\":[]}\n";

static int
parse_n(const char *s, size_t n, struct json **out)
{
	return json_parse((const uint8_t *)s, n, out);
}

static int
parse(const char *s, struct json **out)
{
	return parse_n(s, strlen(s), out);
}

/* lit must parse; returns the document (caller frees). */
static struct json *
ok_doc(const char *lit, size_t n)
{
	struct json	*d = NULL;
	int		 r;

	if ((r = parse_n(lit, n, &d)) != 0)
		fprintf(stderr, "\n  %s: %s\n", lit, uc_errdetail());
	CU_ASSERT_EQUAL(r, 0);
	CU_ASSERT_PTR_NOT_NULL(json_root(d));
	return d;
}

#define OK(lit)		ok_doc((lit), sizeof(lit) - 1)
#define FAILS(lit, want, needle) do {					\
	struct json	*fd_ = (struct json *)1;			\
	UNIT_FAILS(parse_n((lit), sizeof(lit) - 1, &fd_), (want), (needle)); \
	CU_ASSERT_PTR_NULL(fd_);					\
} while (0)

static void
test_cfssl_sign_reply(void)
{
	struct json		*d = OK(cfssl_sign);
	const struct json_value	*root = json_root(d);
	const char		*pem;
	size_t			 len;
	BIO			*bio;
	X509			*x = NULL;
	int			 b;

	CU_ASSERT_EQUAL(json_type(root), JSON_OBJECT);
	CU_ASSERT_EQUAL(json_count(root), 4);
	CU_ASSERT_EQUAL(json_get_bool(root, "success", &b), 0);
	CU_ASSERT_EQUAL(b, 1);
	CU_ASSERT_EQUAL(json_get_str(root, "result.certificate", &pem, &len),
	    0);
	CU_ASSERT_EQUAL(len, strlen(pem));
	CU_ASSERT_NSTRING_EQUAL(pem, "-----BEGIN CERTIFICATE-----\nMIIB", 32);
	CU_ASSERT_STRING_EQUAL(pem + len - 26, "-----END CERTIFICATE-----\n");
	/* The escapes decoded to a certificate OpenSSL reads. */
	if ((bio = BIO_new_mem_buf(pem, (int)len)) != NULL)
		x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	CU_ASSERT_PTR_NOT_NULL(x);
	X509_free(x);
	BIO_free(bio);
	CU_ASSERT_EQUAL(json_type(json_get(root, "errors")), JSON_ARRAY);
	CU_ASSERT_EQUAL(json_count(json_get(root, "errors")), 0);
	CU_ASSERT_PTR_NULL(json_get(root, "errors[0].message"));
	UNIT_FAILS(json_get_str(root, "errors[0].message", &pem, &len),
	    UC_ERR_NOTFOUND, "no errors[0].message");
	CU_ASSERT_PTR_NULL(pem);
	json_free(d);
}

static void
test_cfssl_info_and_error_replies(void)
{
	struct json		*d = OK(cfssl_info);
	const struct json_value	*root = json_root(d), *u;
	const char		*s;
	long long		 code;
	int			 b;

	u = json_get(root, "result.usages");
	CU_ASSERT_EQUAL(json_count(u), 3);
	CU_ASSERT_STRING_EQUAL(json_str(json_at(u, 0), NULL), "cert sign");
	CU_ASSERT_STRING_EQUAL(json_str(json_get(root, "result.usages[2]"),
	    NULL), "digital signature");
	CU_ASSERT_PTR_NULL(json_get(root, "result.usages[3]"));
	CU_ASSERT_STRING_EQUAL(json_str(json_get(root, "result.expiry"),
	    NULL), "43800h");
	json_free(d);

	d = OK(cfssl_error);
	root = json_root(d);
	CU_ASSERT_EQUAL(json_get_bool(root, "success", &b), 0);
	CU_ASSERT_EQUAL(b, 0);
	CU_ASSERT_EQUAL(json_type(json_get(root, "result")), JSON_NULL);
	UNIT_FAILS(json_get_str(root, "result.certificate", &s, NULL),
	    UC_ERR_NOTFOUND, "result.certificate");
	CU_ASSERT_EQUAL(json_get_str(root, "errors[0].message", &s, NULL), 0);
	CU_ASSERT_STRING_EQUAL(s, "authentication required");
	CU_ASSERT_EQUAL(json_get_int(root, "errors[0].code", 0, 65535, &code),
	    0);
	CU_ASSERT_EQUAL(code, 400);
	UNIT_FAILS(json_get_int(root, "errors[0].code", 0, 399, &code),
	    UC_ERR_FORMAT, "errors[0].code: JSON at offset");
	UNIT_FAILS(json_get_bool(root, "errors", &b), UC_ERR_FORMAT,
	    "errors is an array, not a boolean");
	UNIT_FAILS(json_get_str(root, "success", &s, NULL), UC_ERR_FORMAT,
	    "JSON at offset 11: success is a boolean, not a string");
	json_free(d);
}

static void
test_scalars_at_the_top_and_white_space(void)
{
	struct json	*d;

	d = OK(" \t\r\n7 \n");
	CU_ASSERT_STRING_EQUAL(json_num(json_root(d)), "7");
	CU_ASSERT_EQUAL(json_offset(json_root(d)), 4);
	json_free(d);
	d = OK("\"\"");
	CU_ASSERT_STRING_EQUAL(json_str(json_root(d), NULL), "");
	json_free(d);
	d = OK("true");
	CU_ASSERT_EQUAL(json_bool(json_root(d)), 1);
	json_free(d);
	d = OK("false");
	CU_ASSERT_EQUAL(json_bool(json_root(d)), 0);
	json_free(d);
	d = OK("null");
	CU_ASSERT_EQUAL(json_type(json_root(d)), JSON_NULL);
	CU_ASSERT_EQUAL(json_bool(json_root(d)), -1);
	json_free(d);
	d = OK("[ ]");
	CU_ASSERT_EQUAL(json_count(json_root(d)), 0);
	CU_ASSERT_PTR_NULL(json_child(json_root(d)));
	json_free(d);
	d = OK("{ }");
	CU_ASSERT_EQUAL(json_type(json_root(d)), JSON_OBJECT);
	json_free(d);
	/* Only the four RFC 8259 white space bytes. */
	FAILS("\f1", UC_ERR_FORMAT, "JSON at offset 0: want a value, not "
	    "byte 0x0c");
	FAILS("[1,\v2]", UC_ERR_FORMAT, "JSON at offset 3");
	FAILS("1\xc2\xa0", UC_ERR_FORMAT, "offset 1: data after the value");
}

static void
test_nested_containers_and_iteration(void)
{
	struct json		*d = OK("{\"a\":[1,{\"b\":[[],{}]},\"x\"],"
				    "\"c\":{\"d\":null},\"e\":-2}");
	const struct json_value	*root = json_root(d), *v;
	const char		*name;
	size_t			 n, i = 0;
	static const char *const names[] = { "a", "c", "e" };

	CU_ASSERT_EQUAL(json_count(root), 3);
	for (v = json_child(root); v != NULL; v = json_next(v), i++) {
		name = json_name(v, &n);
		CU_ASSERT(i < 3 && strcmp(name, names[i]) == 0 && n == 1);
	}
	CU_ASSERT_EQUAL(i, 3);
	CU_ASSERT_EQUAL(json_at(root, 2), json_member(root, "e"));
	CU_ASSERT_STRING_EQUAL(json_num(json_at(root, 2)), "-2");
	CU_ASSERT_EQUAL(json_type(json_get(root, "a[1].b[0]")), JSON_ARRAY);
	CU_ASSERT_EQUAL(json_type(json_get(root, "a[1].b[1]")), JSON_OBJECT);
	CU_ASSERT_STRING_EQUAL(json_str(json_get(root, "a[2]"), NULL), "x");
	CU_ASSERT_EQUAL(json_type(json_get(root, "c.d")), JSON_NULL);
	CU_ASSERT_PTR_NULL(json_next(json_get(root, "a[2]")));
	CU_ASSERT_PTR_NULL(json_name(json_get(root, "a[2]"), &n));
	CU_ASSERT_EQUAL(n, 0);
	CU_ASSERT_PTR_NULL(json_next(root));
	json_free(d);
}

static void
test_paths_and_null_chaining(void)
{
	struct json		*d = OK("{\"a.b\":1,\"l\":[[5,6]],"
				    "\"o\":{\"\":2}}");
	const struct json_value	*root = json_root(d);

	CU_ASSERT_EQUAL(json_get(root, ""), root);
	CU_ASSERT_STRING_EQUAL(json_num(json_get(root, "l[0][1]")), "6");
	CU_ASSERT_PTR_NULL(json_get(root, "a.b"));
	CU_ASSERT_STRING_EQUAL(json_num(json_member(root, "a.b")), "1");
	CU_ASSERT_STRING_EQUAL(json_num(json_member(json_member(root, "o"),
	    "")), "2");
	/* Malformed paths name nothing. */
	CU_ASSERT_PTR_NULL(json_get(root, ".l"));
	CU_ASSERT_PTR_NULL(json_get(root, "l."));
	CU_ASSERT_PTR_NULL(json_get(root, "l[]"));
	CU_ASSERT_PTR_NULL(json_get(root, "l[0"));
	CU_ASSERT_PTR_NULL(json_get(root, "l[x]"));
	CU_ASSERT_PTR_NULL(json_get(root, "l[0]x"));
	CU_ASSERT_PTR_NULL(json_get(root, "l[99999999999999999999]"));
	CU_ASSERT_PTR_NULL(json_get(root, "o[0]"));
	CU_ASSERT_PTR_NULL(json_get(root, "[0]"));
	CU_ASSERT_PTR_NULL(json_get(root, NULL));
	/* NULL in, NULL (or nothing) out. */
	CU_ASSERT_PTR_NULL(json_get(NULL, "a"));
	CU_ASSERT_PTR_NULL(json_member(NULL, "a"));
	CU_ASSERT_PTR_NULL(json_at(NULL, 0));
	CU_ASSERT_PTR_NULL(json_child(NULL));
	CU_ASSERT_PTR_NULL(json_next(NULL));
	CU_ASSERT_PTR_NULL(json_str(NULL, NULL));
	CU_ASSERT_PTR_NULL(json_num(NULL));
	CU_ASSERT_PTR_NULL(json_root(NULL));
	CU_ASSERT_EQUAL(json_type(NULL), JSON_NONE);
	CU_ASSERT_EQUAL(json_count(NULL), 0);
	CU_ASSERT_EQUAL(json_bool(NULL), -1);
	CU_ASSERT_STRING_EQUAL(json_type_name(JSON_NONE), "absent");
	CU_ASSERT_STRING_EQUAL(json_type_name(JSON_TYPE__MAX), "unknown");
	json_free(NULL);
	json_free(d);
}

static void
test_every_escape(void)
{
	struct json	*d;
	const char	*s;
	size_t		 n;

	d = OK("\"\\\"\\\\\\/\\b\\f\\n\\r\\t|\\u0041\\u00e9\\u00E9\\u20ac"
	    "\\uFFFF\\ud83d\\ude00\\uDBFF\\uDFFF\\u0001\\u007f\"");
	s = json_str(json_root(d), &n);
	CU_ASSERT_EQUAL(n, 8 + 1 + 1 + 2 + 2 + 3 + 3 + 4 + 4 + 1 + 1);
	CU_ASSERT_EQUAL(memcmp(s, "\"\\/\b\f\n\r\t|A\xc3\xa9\xc3\xa9"
	    "\xe2\x82\xac\xef\xbf\xbf\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf\x01\x7f",
	    n + 1), 0);
	json_free(d);
	/* Escapes in member names count when names are compared. */
	d = OK("{\"\\u0061\\n\":1}");
	CU_ASSERT_STRING_EQUAL(json_num(json_member(json_root(d), "a\n")),
	    "1");
	json_free(d);
	FAILS("\"\\x41\"", UC_ERR_FORMAT, "JSON at offset 2: want an escape");
	FAILS("\"\\U0041\"", UC_ERR_FORMAT, "want an escape");
	FAILS("\"\\'\"", UC_ERR_FORMAT, "want an escape");
	FAILS("\"\\u00g1\"", UC_ERR_FORMAT, "offset 1: \\u wants four hex");
	FAILS("\"\\u41\"", UC_ERR_FORMAT, "four hex digits");
}

static void
test_surrogates_and_nul_escape_refused(void)
{
	FAILS("\"\\ud83d\"", UC_ERR_FORMAT, "offset 1: \\uD83D is a high "
	    "surrogate without a low one");
	FAILS("\"\\ud83dx\"", UC_ERR_FORMAT, "high surrogate");
	FAILS("\"\\ud83d\\n\"", UC_ERR_FORMAT, "high surrogate");
	FAILS("\"\\ud83d\\u0041\"", UC_ERR_FORMAT, "high surrogate");
	FAILS("\"\\ud83d\\ud83d\"", UC_ERR_FORMAT, "high surrogate");
	FAILS("\"\\ude00\"", UC_ERR_FORMAT, "\\uDE00 is a low surrogate");
	FAILS("\"a\\u0000b\"", UC_ERR_FORMAT, "offset 2: \\u0000 (NUL)");
	FAILS("{\"\\u0000\":1}", UC_ERR_FORMAT, "\\u0000 (NUL)");
}

static void
test_utf8_in_strings(void)
{
	struct json	*d;
	size_t		 n;

	d = OK("\"\xc2\x80 \xdf\xbf \xe0\xa0\x80 \xed\x9f\xbf \xee\x80\x80 "
	    "\xf0\x90\x80\x80 \xf4\x8f\xbf\xbf \x7f\"");
	(void)json_str(json_root(d), &n);
	CU_ASSERT_EQUAL(n, 2 + 2 + 3 + 3 + 3 + 4 + 4 + 1 + 7);
	json_free(d);
	FAILS("\"\xc0\x80\"", UC_ERR_FORMAT, "offset 1: byte 0xc0 is not "
	    "UTF-8");
	FAILS("\"\xc1\xbf\"", UC_ERR_FORMAT, "byte 0xc1 is not UTF-8");
	FAILS("\"\xe0\x9f\xbf\"", UC_ERR_FORMAT, "offset 1: invalid UTF-8");
	FAILS("\"\xed\xa0\x80\"", UC_ERR_FORMAT, "invalid UTF-8");
	FAILS("\"\xf0\x8f\xbf\xbf\"", UC_ERR_FORMAT, "invalid UTF-8");
	FAILS("\"\xf4\x90\x80\x80\"", UC_ERR_FORMAT, "invalid UTF-8");
	FAILS("\"\xf5\x80\x80\x80\"", UC_ERR_FORMAT, "byte 0xf5");
	FAILS("\"\xff\"", UC_ERR_FORMAT, "byte 0xff");
	FAILS("\"\x80\"", UC_ERR_FORMAT, "byte 0x80");
	FAILS("\"ab\xc3\"", UC_ERR_FORMAT, "offset 3: invalid UTF-8");
	FAILS("\"\xe2\x82\"", UC_ERR_FORMAT, "invalid UTF-8");
	FAILS("\"\xe2\x82", UC_ERR_TRUNCATED, "offset 3: the input ends");
	FAILS("{\"\xe9t\xe9\":1}", UC_ERR_FORMAT, "offset 2: invalid UTF-8");
	/* Outside strings only ASCII grammar bytes. */
	FAILS("\xef\xbb\xbf{}", UC_ERR_FORMAT, "offset 0: want a value, not "
	    "byte 0xef");
}

static void
test_control_bytes_in_strings_refused(void)
{
	char	 in[8];
	int	 c;

	for (c = 0; c < 0x20; c++) {
		snprintf(in, sizeof(in), "\"a%cb\"", c == 0 ? 'X' : c);
		if (c == 0)
			in[2] = '\0';
		UNIT_FAILS(parse_n(in, 5, &(struct json *){ NULL }),
		    UC_ERR_FORMAT, "JSON at offset 2: control byte 0x");
	}
	FAILS("{\"a\tb\":1}", UC_ERR_FORMAT, "control byte 0x09");
}

static void
test_number_grammar(void)
{
	static const char *const good[] = {
		"0", "-0", "1", "-1", "10", "1.5", "-0.0", "0.25", "1e5", "1E5",
		"1e+5", "1e-5", "2.5E-10", "123456789012345678901234567890",
	};
	static const struct {
		const char	*in;
		int		 want;
		const char	*why;
	} bad[] = {
		{ "01", UC_ERR_FORMAT, "offset 0: a number with a leading "
		    "zero" },
		{ "-01", UC_ERR_FORMAT, "leading zero" },
		{ "00", UC_ERR_FORMAT, "leading zero" },
		{ "+1", UC_ERR_FORMAT, "want a value, not '+'" },
		{ ".5", UC_ERR_FORMAT, "want a value, not '.'" },
		{ "1.", UC_ERR_TRUNCATED, "offset 2: the input ends inside a "
		    "number" },
		{ "[1.]", UC_ERR_FORMAT, "want a digit after the decimal" },
		{ "1.e5", UC_ERR_FORMAT, "after the decimal point" },
		{ "1e", UC_ERR_TRUNCATED, "inside a number" },
		{ "[1e]", UC_ERR_FORMAT, "a digit in the exponent" },
		{ "1e+", UC_ERR_TRUNCATED, "inside a number" },
		{ "1e+-1", UC_ERR_FORMAT, "a digit in the exponent" },
		{ "-", UC_ERR_TRUNCATED, "inside a number" },
		{ "--1", UC_ERR_FORMAT, "want a digit, not '-'" },
		{ "- 1", UC_ERR_FORMAT, "want a digit" },
		{ "0x10", UC_ERR_FORMAT, "offset 1: data after the value" },
		{ "1.5.5", UC_ERR_FORMAT, "data after the value" },
		{ "NaN", UC_ERR_FORMAT, "want a value, not 'N'" },
		{ "Infinity", UC_ERR_FORMAT, "want a value" },
		{ "-Infinity", UC_ERR_FORMAT, "want a digit" },
	};
	struct json	*d;
	size_t		 i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		d = ok_doc(good[i], strlen(good[i]));
		CU_ASSERT_STRING_EQUAL(json_num(json_root(d)), good[i]);
		json_free(d);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		UNIT_FAILS(parse(bad[i].in, &(struct json *){ NULL }),
		    bad[i].want, bad[i].why);
}

static void
test_integers_and_their_range(void)
{
	struct json		*d = OK("[0,-0,9223372036854775807,"
				    "-9223372036854775808,9223372036854775808,"
				    "1.0,1e2,true,42]");
	const struct json_value	*a = json_root(d);
	long long		 n;

	CU_ASSERT_EQUAL(json_int(json_at(a, 0), 0, 0, &n), 0);
	CU_ASSERT_EQUAL(json_int(json_at(a, 1), 0, 0, &n), 0);
	CU_ASSERT_EQUAL(n, 0);
	CU_ASSERT_EQUAL(json_int(json_at(a, 2), 0, 9223372036854775807LL,
	    &n), 0);
	CU_ASSERT_EQUAL(n, 9223372036854775807LL);
	CU_ASSERT_EQUAL(json_int(json_at(a, 3), -9223372036854775807LL - 1,
	    0, &n), 0);
	CU_ASSERT_EQUAL(n, -9223372036854775807LL - 1);
	UNIT_FAILS(json_int(json_at(a, 4), 0, 9223372036854775807LL, &n),
	    UC_ERR_FORMAT, "9223372036854775808 is not an integer");
	UNIT_FAILS(json_int(json_at(a, 5), 0, 10, &n), UC_ERR_FORMAT,
	    "1.0 is not an integer from 0 to 10");
	UNIT_FAILS(json_int(json_at(a, 6), 0, 1000, &n), UC_ERR_FORMAT,
	    "1e2 is not an integer");
	UNIT_FAILS(json_int(json_at(a, 7), 0, 1, &n), UC_ERR_FORMAT,
	    "a boolean, not an integer");
	UNIT_FAILS(json_int(json_at(a, 8), 43, 50, &n), UC_ERR_FORMAT,
	    "42 is not an integer from 43 to 50");
	CU_ASSERT_EQUAL(n, 0);
	UNIT_FAILS(json_int(json_at(a, 9), 0, 1, &n), UC_ERR_NOTFOUND, NULL);
	json_free(d);
}

/*
 * Duplicate member names are refused (json.h): RFC 8259 section 4
 * leaves their meaning open, and readers disagree on which one wins.
 */
static void
test_duplicate_member_names_refused(void)
{
	char		*big;
	struct json	*d;
	size_t		 n, i;

	FAILS("{\"a\":1,\"a\":2}", UC_ERR_FORMAT, "JSON at offset 7: member "
	    "\"a\" appears twice in an object");
	FAILS("{\"success\":false,\"x\":[],\"success\":true}", UC_ERR_FORMAT,
	    "offset 24: member \"success\" appears twice");
	FAILS("{\"a\":1,\"\\u0061\":2}", UC_ERR_FORMAT, "\"a\" appears twice");
	FAILS("{\"\":1,\"\":2}", UC_ERR_FORMAT, "\"\" appears twice");
	FAILS("[{\"r\":{\"c\":1,\"c\":1}}]", UC_ERR_FORMAT, "\"c\" appears");
	/* A control byte in the name is escaped in the message. */
	FAILS("{\"\\n\":1,\"\\n\":2}", UC_ERR_FORMAT,
	    "\"\\x0a\" appears twice");
	/* The same name in different objects, and near names, are fine. */
	d = OK("{\"a\":{\"a\":1},\"b\":[{\"a\":2},{\"a\":3}],\"A\":4,"
	    "\"a \":5,\"ab\":6}");
	CU_ASSERT_EQUAL(json_count(json_root(d)), 5);
	json_free(d);
	/* 2000 distinct names, then one repeated at the end. */
	big = malloc(2000 * 16 + 32);
	CU_ASSERT_FATAL(big != NULL);
	n = 0;
	big[n++] = '{';
	for (i = 0; i < 2000; i++)
		n += (size_t)sprintf(big + n, "%s\"k%zu\":%zu", i ? "," : "", i,
		    i);
	big[n] = '}';
	d = ok_doc(big, n + 1);
	CU_ASSERT_STRING_EQUAL(json_num(json_member(json_root(d), "k1999")),
	    "1999");
	json_free(d);
	n += (size_t)sprintf(big + n, ",\"k1000\":0}");
	UNIT_FAILS(parse_n(big, n, &d), UC_ERR_FORMAT,
	    "member \"k1000\" appears twice");
	free(big);
}

static void
test_grammar_refusals(void)
{
	FAILS("", UC_ERR_TRUNCATED, "JSON at offset 0: the input ends before "
	    "a value");
	FAILS(" \n ", UC_ERR_TRUNCATED, "offset 3: the input ends before");
	FAILS("[1,]", UC_ERR_FORMAT, "offset 3: want a value, not ']'");
	FAILS("{\"a\":1,}", UC_ERR_FORMAT, "want a member name (a string), "
	    "not '}'");
	FAILS("{a:1}", UC_ERR_FORMAT, "want a member name");
	FAILS("{'a':1}", UC_ERR_FORMAT, "want a member name");
	FAILS("{\"a\" 1}", UC_ERR_FORMAT, "offset 5: want ':' after a member "
	    "name, not '1'");
	FAILS("{\"a\":1 \"b\":2}", UC_ERR_FORMAT, "want ',' or '}' in an "
	    "object, not '\"'");
	FAILS("[1 2]", UC_ERR_FORMAT, "want ',' or ']' in an array, not '2'");
	FAILS("[1}", UC_ERR_FORMAT, "want ',' or ']'");
	FAILS("{\"a\":1]", UC_ERR_FORMAT, "want ',' or '}'");
	FAILS("['a']", UC_ERR_FORMAT, "not '''");
	FAILS("[1] // c", UC_ERR_FORMAT, "offset 4: data after the value");
	FAILS("/* c */ 1", UC_ERR_FORMAT, "want a value, not '/'");
	FAILS("{}{}", UC_ERR_FORMAT, "offset 2: data after the value");
	FAILS("{} x", UC_ERR_FORMAT, "offset 3: data after the value");
	FAILS("1\0", UC_ERR_FORMAT, "offset 1: data after the value");
	FAILS("\0", UC_ERR_FORMAT, "want a value, not byte 0x00");
	FAILS("tru", UC_ERR_TRUNCATED, "offset 3: the input ends inside a "
	    "literal");
	FAILS("truE", UC_ERR_FORMAT, "offset 0: unknown word");
	FAILS("nul1", UC_ERR_FORMAT, "unknown word");
	FAILS("True", UC_ERR_FORMAT, "want a value, not 'T'");
	FAILS("truex", UC_ERR_FORMAT, "offset 4: data after the value");
	FAILS("[true false]", UC_ERR_FORMAT, "want ',' or ']'");
	FAILS("undefined", UC_ERR_FORMAT, "want a value, not 'u'");
}

/* Every proper prefix of a real reply fails as truncated, at its end. */
static void
test_every_truncation_of_a_real_reply_fails(void)
{
	const char	*replies[] = { cfssl_sign, cfssl_info, cfssl_error };
	struct json	*d;
	char		 want[64];
	size_t		 i, k, n, end;
	int		 r, bad = 0;

	for (k = 0; k < 3; k++) {
		n = strlen(replies[k]);
		for (end = n; end > 0 && replies[k][end - 1] == '\n'; end--)
			continue;
		for (i = 0; i <= n; i++) {
			r = parse_n(replies[k], i, &d);
			snprintf(want, sizeof(want), "JSON at offset %zu: the "
			    "input ends ", i);
			if (i >= end ? r == 0 && d != NULL : r ==
			    UC_ERR_TRUNCATED && d == NULL &&
			    strncmp(uc_errdetail(), want, strlen(want)) == 0) {
				json_free(d);
				continue;
			}
			if (bad++ < 5)
				fprintf(stderr, "\n  reply %zu, %zu bytes: %d "
				    "%s", k, i, r, uc_errdetail());
			json_free(d);
		}
	}
	CU_ASSERT_EQUAL(bad, 0);
}

/*
 * Byte mutations of a real reply: each parses or fails with a
 * "JSON at offset N" detail, N inside the input; none crashes (ASan).
 */
static void
test_mutations_fail_cleanly(void)
{
	static const uint8_t	 with[] = { 0x00, '"', '\\', '{', '}', '[',
	    ']', ',', ':', '0', 'e', '-', ' ', 0x7f, 0x80, 0xc3, 0xff };
	size_t			 n = strlen(cfssl_error), i, k, off;
	uint8_t			*buf;
	struct json		*d;
	int			 r, bad = 0, ok = 0;

	buf = malloc(n);
	CU_ASSERT_FATAL(buf != NULL);
	for (i = 0; i < n; i++)
		for (k = 0; k < sizeof(with); k++) {
			memcpy(buf, cfssl_error, n);
			buf[i] = with[k];
			r = json_parse(buf, n, &d);
			if (r == 0) {
				ok++;
				json_free(d);
				continue;
			}
			if ((r != UC_ERR_FORMAT && r != UC_ERR_TRUNCATED) ||
			    sscanf(uc_errdetail(), "JSON at offset %zu:",
			    &off) != 1 || off > n)
				bad++;
		}
	free(buf);
	CU_ASSERT_EQUAL(bad, 0);
	CU_ASSERT(ok > 0);
}

static void
test_depth_cap(void)
{
	char		 in[4 * (JSON_DEPTH_MAX + 1) + 16];
	struct json	*d;
	size_t		 n, i;

	/* JSON_DEPTH_MAX nested arrays parse; one more is refused. */
	for (n = 0; n < JSON_DEPTH_MAX; n++)
		in[n] = '[';
	for (i = 0; i < JSON_DEPTH_MAX; i++)
		in[n++] = ']';
	d = ok_doc(in, n);
	json_free(d);
	memmove(in + 1, in, n);
	in[0] = '[';
	in[++n] = ']';
	UNIT_FAILS(parse_n(in, n + 1, &d), UC_ERR_UNSUPPORTED,
	    "JSON at offset 32: nesting deeper than 32");
	/* Objects count too, mixed with arrays. */
	for (n = 0, i = 0; i < JSON_DEPTH_MAX; i++)
		n += (size_t)sprintf(in + n, i % 2 ? "[" : "{\"\":");
	UNIT_FAILS(parse_n(in, n, &d), UC_ERR_TRUNCATED,
	    "the input ends before a value");
	n += (size_t)sprintf(in + n, "{");
	UNIT_FAILS(parse_n(in, n, &d), UC_ERR_UNSUPPORTED,
	    "nesting deeper than 32");
}

static int
deep_refused(void *arg)
{
	size_t		 n = 100000;
	char		*in = malloc(n);
	struct json	*d;
	int		 r;

	(void)arg;
	if (in == NULL)
		return 1;
	memset(in, '[', n);
	r = parse_n(in, n, &d);
	free(in);
	return r == UC_ERR_UNSUPPORTED &&
	    strstr(uc_errdetail(), "nesting deeper than 32") != NULL ? 0 : 1;
}

static void
test_deep_input_is_refused_at_the_cap(void)
{
	CU_ASSERT(unit_in_child(deep_refused, NULL, 10));
}

static void
test_value_string_number_and_document_caps(void)
{
	size_t		 n, i, max = JSON_VALUES_MAX;
	struct json	*d;
	char		*in;

	/* The root plus JSON_VALUES_MAX - 1 elements; then one more. */
	in = malloc(2 * max + 8);
	CU_ASSERT_FATAL(in != NULL);
	n = 0;
	in[n++] = '[';
	for (i = 0; i < max - 1; i++) {
		in[n++] = '0';
		in[n++] = ',';
	}
	in[n - 1] = ']';
	d = ok_doc(in, n);
	CU_ASSERT_EQUAL(json_count(json_root(d)), max - 1);
	json_free(d);
	memcpy(in + n - 1, ",0]", 3);
	UNIT_FAILS(parse_n(in, n + 2, &d), UC_ERR_UNSUPPORTED,
	    "more than 65536 values");
	free(in);
	/* A string of JSON_STR_MAX decoded bytes; then one more. */
	in = malloc(JSON_STR_MAX + 8);
	CU_ASSERT_FATAL(in != NULL);
	in[0] = '"';
	memset(in + 1, 'a', JSON_STR_MAX);
	in[JSON_STR_MAX + 1] = '"';
	d = ok_doc(in, JSON_STR_MAX + 2);
	json_free(d);
	in[JSON_STR_MAX + 1] = 'a';
	in[JSON_STR_MAX + 2] = '"';
	UNIT_FAILS(parse_n(in, JSON_STR_MAX + 3, &d), UC_ERR_UNSUPPORTED,
	    "a string longer than 1048576 bytes");
	free(in);
	/* Numbers up to JSON_NUM_MAX characters. */
	in = malloc(JSON_NUM_MAX + 2);
	CU_ASSERT_FATAL(in != NULL);
	memset(in, '7', JSON_NUM_MAX + 1);
	d = ok_doc(in, JSON_NUM_MAX);
	json_free(d);
	UNIT_FAILS(parse_n(in, JSON_NUM_MAX + 1, &d), UC_ERR_UNSUPPORTED,
	    "offset 0: a number longer than 64 characters");
	free(in);
	/* The document cap is checked before anything is read. */
	UNIT_FAILS(parse_n("1", (size_t)JSON_DOC_MAX + 1, &d),
	    UC_ERR_UNSUPPORTED, "longer than 4194304 bytes");
	/* Empty input with no buffer at all. */
	UNIT_FAILS(json_parse(NULL, 0, &d), UC_ERR_TRUNCATED, "offset 0");
}

static const struct unit_test tests[] = {
	{ "a real CFSSL sign reply: success, certificate, errors",
	    test_cfssl_sign_reply },
	{ "real CFSSL info and error replies",
	    test_cfssl_info_and_error_replies },
	{ "scalars at the top, only RFC 8259 white space",
	    test_scalars_at_the_top_and_white_space },
	{ "nested containers and iteration",
	    test_nested_containers_and_iteration },
	{ "paths and NULL chaining", test_paths_and_null_chaining },
	{ "every escape decodes; bad escapes are refused", test_every_escape },
	{ "lone surrogates and \\u0000 are refused",
	    test_surrogates_and_nul_escape_refused },
	{ "valid UTF-8 passes, invalid UTF-8 is refused",
	    test_utf8_in_strings },
	{ "raw control bytes in strings are refused",
	    test_control_bytes_in_strings_refused },
	{ "number grammar", test_number_grammar },
	{ "integers and their range", test_integers_and_their_range },
	{ "duplicate member names are refused",
	    test_duplicate_member_names_refused },
	{ "grammar refusals", test_grammar_refusals },
	{ "every truncation of a real reply fails at its end",
	    test_every_truncation_of_a_real_reply_fails },
	{ "mutations of a real reply fail cleanly",
	    test_mutations_fail_cleanly },
	{ "nesting is capped at JSON_DEPTH_MAX", test_depth_cap },
	{ "100000 open brackets are refused at the cap",
	    test_deep_input_is_refused_at_the_cap },
	{ "value, string, number and document caps",
	    test_value_string_number_and_document_caps },
	{ NULL, NULL }
};

void
unit_register_json(void)
{
	unit_suite("json", tests);
}
