/*
 * Suite "digest": HTTP digest for SIP (lib/digest.c).  Known answers
 * from ../shared/specs/sip-security.md 2.4, 2.5 and 9.2 and RFC 7616
 * 3.9.1, plus vectors computed with Python's hashlib/hmac (an
 * independent implementation) for sess, auth-int, legacy and
 * SHA-512-256 responses; header value parsing and formatting with every
 * error path; nonce MAC checks; the nonce-count table, both the old
 * interface (full = NC_FULL) and nc_table_use (evict the oldest, a
 * watermark refuses what may have been dropped: never full, never a
 * replay); algorithm preference lists; a nonce's time without its key.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "digest.h"
#include "unit.h"

#define USER	"alice"
#define REALM	"secure.example.net"
#define PASS	"Tr0ub4dor&3"
#define RURI	"sip:cm1.secure.example.net"
#define CNONCE	"0a4f113b9c2d"
#define N256	"AAAAAGdFAwDzqbTix9GAVkxeL1naqTqygWccVX3chd0"
#define NMD5	"AAAAAGdFAwBbB-Oh0pxE8Lrh5a-LMxSTUspskcc0AWk"
#define HA1_MD5	"4220c2a3f679c44e21c2bdb556821feb"
#define HA1_256	"91a995fd2f7b2e5fb33862d69a3270f8dd1ab767aa6964c4ea146208ecd8135b"
#define HA1_512	"3f9849dc60e084e5c3546898f6e23211c8143867df0af03613de207acd4c29ae"
#define HA2_MD5	"32fd3d06af3f5f86311d295853b9737d"
#define HA2_256	"5a7d877c2abf92c878f2dcd57d6d67558a62b1a721a97fd5ce5c83381eece826"
#define TS	1732576000

/* spec 9.2: the INVITE's Authorization value. */
#define AUTHZ_INVITE \
	"Digest username=\"alice\", realm=\"secure.example.net\", " \
	"nonce=\"" N256 "\", uri=\"sip:1002@cm1.secure.example.net\", " \
	"response=\"349906a2793d347b1fbea0edd74c278ea7222bb5ee1744bcd57f68ac93ca9040\", " \
	"algorithm=SHA-256, cnonce=\"77e1c0d4a9b3\", opaque=\"6c3e\", " \
	"qop=auth, nc=00000002"

#define S(x)	(x), sizeof(x) - 1

static const uint8_t	 key00[DIGEST_KEY_LEN] = {
	0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
	0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
	0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17,
	0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
};
static const uint8_t	 rnd256[8] = {
	0xf3, 0xa9, 0xb4, 0xe2, 0xc7, 0xd1, 0x80, 0x56 };
static const uint8_t	 rndmd5[8] = {
	0x5b, 0x07, 0xe3, 0xa1, 0xd2, 0x9c, 0x44, 0xf0 };

static double
mono(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- hashes ---------------------------------------------------------- */

static void
test_ha1_matches_spec_vectors(void)
{
	char	 h[DIGEST_HEX_MAX];

	CU_ASSERT_EQUAL_FATAL(digest_ha1(DIGEST_MD5, USER, REALM, S(PASS), h),
	    0);
	CU_ASSERT_STRING_EQUAL(h, HA1_MD5);
	CU_ASSERT_EQUAL_FATAL(digest_ha1(DIGEST_SHA256, USER, REALM, S(PASS),
	    h), 0);
	CU_ASSERT_STRING_EQUAL(h, HA1_256);
	/* SHA-512/256 has its own IV: not the first half of SHA-512. */
	CU_ASSERT_EQUAL_FATAL(digest_ha1(DIGEST_SHA512_256, USER, REALM,
	    S(PASS), h), 0);
	CU_ASSERT_STRING_EQUAL(h, HA1_512);
	UNIT_FAILS(digest_ha1(DIGEST_ALG__MAX, USER, REALM, S(PASS), h),
	    UC_ERR_ARG, NULL);
	UNIT_FAILS(digest_ha1(DIGEST_MD5, NULL, REALM, S(PASS), h),
	    UC_ERR_ARG, NULL);
	/* The password length counts, not a NUL. */
	CU_ASSERT_EQUAL(digest_ha1(DIGEST_MD5, USER, REALM, PASS "x",
	    sizeof(PASS) - 1, h), 0);
	CU_ASSERT_STRING_EQUAL(h, HA1_MD5);
}

/*
 * HA2 has no entry point of its own: H(a ":" b ":" c) is what digest_ha1
 * computes, so H("REGISTER:sip:cm1...") = digest_ha1("REGISTER", "sip",
 * "cm1...").  The response is then rebuilt by hand from HA2 the same way
 * and must equal both the vector and digest_response.
 */
static void
test_ha2_matches_spec_vectors(void)
{
	char	 h[DIGEST_HEX_MAX], resp[DIGEST_HEX_MAX];
	char	 data[256];

	CU_ASSERT_EQUAL_FATAL(digest_ha1(DIGEST_SHA256, "REGISTER", "sip",
	    S("cm1.secure.example.net"), h), 0);
	CU_ASSERT_STRING_EQUAL(h, HA2_256);
	snprintf(data, sizeof(data), "00000001:" CNONCE ":auth:%s", h);
	CU_ASSERT_EQUAL(digest_ha1(DIGEST_SHA256, HA1_256, N256, data,
	    strlen(data), resp), 0);
	CU_ASSERT_STRING_EQUAL(resp, "9844ae33f8f294fd86e08f67cb3bfde3"
	    "057f16f3fc59de76a5ac3d1945ba8ea1");

	CU_ASSERT_EQUAL_FATAL(digest_ha1(DIGEST_MD5, "REGISTER", "sip",
	    S("cm1.secure.example.net"), h), 0);
	CU_ASSERT_STRING_EQUAL(h, HA2_MD5);
	snprintf(data, sizeof(data), "00000001:" CNONCE ":auth:%s", h);
	CU_ASSERT_EQUAL(digest_ha1(DIGEST_MD5, HA1_MD5, NMD5, data,
	    strlen(data), resp), 0);
	CU_ASSERT_STRING_EQUAL(resp, "1ef386884ce2e45bd6f61b1b833d9283");
}

static const struct {
	const char	*what;
	int		 alg, sess;
	const char	*ha1, *nonce, *nc, *cnonce, *qop, *method, *uri;
	const char	*body;
	const char	*want;
} resp_kat[] = {
	{ "spec 2.4 REGISTER SHA-256", DIGEST_SHA256, 0, HA1_256, N256,
	  "00000001", CNONCE, "auth", "REGISTER", RURI, NULL,
	  "9844ae33f8f294fd86e08f67cb3bfde3057f16f3fc59de76a5ac3d1945ba8ea1" },
	{ "spec 2.4 REGISTER MD5", DIGEST_MD5, 0, HA1_MD5, NMD5,
	  "00000001", CNONCE, "auth", "REGISTER", RURI, NULL,
	  "1ef386884ce2e45bd6f61b1b833d9283" },
	{ "spec 9.2 INVITE SHA-256", DIGEST_SHA256, 0, HA1_256, N256,
	  "00000002", "77e1c0d4a9b3", "auth", "INVITE",
	  "sip:1002@cm1.secure.example.net", NULL,
	  "349906a2793d347b1fbea0edd74c278ea7222bb5ee1744bcd57f68ac93ca9040" },
	/* RFC 7616 3.9.1 (HA1 of Mufasa:http-auth@example.org:Circle of Life) */
	{ "RFC 7616 MD5", DIGEST_MD5, 0, "3d78807defe7de2157e2b0b6573a855f",
	  "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", "00000001",
	  "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", "auth", "GET",
	  "/dir/index.html", NULL, "8ca523f5e9506fed4657c9700eebdbec" },
	{ "RFC 7616 SHA-256", DIGEST_SHA256, 0,
	  "7987c64c30e25f1b74be53f966b49b90f2808aa92faf9a00262392d7b4794232",
	  "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", "00000001",
	  "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", "auth", "GET",
	  "/dir/index.html", NULL,
	  "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1" },
	/* hashlib */
	{ "legacy no qop MD5", DIGEST_MD5, 0, HA1_MD5, NMD5, NULL, NULL,
	  NULL, "REGISTER", RURI, NULL, "88d220d859bb297e456ea92e2ba23b24" },
	{ "legacy qop \"\" MD5", DIGEST_MD5, 0, HA1_MD5, NMD5, NULL, NULL,
	  "", "REGISTER", RURI, NULL, "88d220d859bb297e456ea92e2ba23b24" },
	{ "MD5-sess", DIGEST_MD5, 1, HA1_MD5, NMD5, "00000001", CNONCE,
	  "auth", "REGISTER", RURI, NULL, "dac625c1b3d2785da5859151f4bab395" },
	{ "auth-int SHA-256", DIGEST_SHA256, 0, HA1_256, N256, "00000002",
	  "77e1c0d4a9b3", "auth-int", "INVITE",
	  "sip:1002@cm1.secure.example.net", "v=0\r\n",
	  "8c9e32287c2f677ce037660b9bb80c6c01f181e8dc5be57b779c4ce4d5679737" },
	{ "auth-int empty body MD5", DIGEST_MD5, 0, HA1_MD5, NMD5,
	  "00000001", CNONCE, "auth-int", "REGISTER", RURI, NULL,
	  "1a619ed8fb84e673e71a8264a9776b80" },
	{ "SHA-512-256", DIGEST_SHA512_256, 0, HA1_512, N256, "00000001",
	  CNONCE, "auth", "REGISTER", RURI, NULL,
	  "9c312940241df559a3f9870bdcc03bf1be521c5cfa6ad75b4f94b8b676116892" },
};

static void
test_response_matches_known_answers(void)
{
	char	 out[DIGEST_HEX_MAX];
	size_t	 i;

	for (i = 0; i < sizeof(resp_kat) / sizeof(resp_kat[0]); i++) {
		out[0] = '\0';
		if (digest_response(resp_kat[i].alg, resp_kat[i].sess,
		    resp_kat[i].ha1, resp_kat[i].nonce, resp_kat[i].nc,
		    resp_kat[i].cnonce, resp_kat[i].qop, resp_kat[i].method,
		    resp_kat[i].uri, resp_kat[i].body,
		    resp_kat[i].body ? strlen(resp_kat[i].body) : 0, out) != 0 ||
		    strcmp(out, resp_kat[i].want) != 0) {
			fprintf(stderr, "\n  %s: got \"%s\" (%s)\n",
			    resp_kat[i].what, out, uc_errdetail());
			CU_FAIL("response known answer");
		}
	}
}

static void
test_response_refuses_bad_arguments(void)
{
	char	 out[DIGEST_HEX_MAX];

	/* HA1 of the wrong length for the algorithm. */
	UNIT_FAILS(digest_response(DIGEST_SHA256, 0, HA1_MD5, N256,
	    "00000001", CNONCE, "auth", "REGISTER", RURI, NULL, 0, out),
	    UC_ERR_ARG, NULL);
	/* qop without nc or cnonce; sess without cnonce. */
	UNIT_FAILS(digest_response(DIGEST_MD5, 0, HA1_MD5, NMD5, NULL,
	    CNONCE, "auth", "REGISTER", RURI, NULL, 0, out), UC_ERR_ARG, NULL);
	UNIT_FAILS(digest_response(DIGEST_MD5, 0, HA1_MD5, NMD5, "00000001",
	    NULL, "auth", "REGISTER", RURI, NULL, 0, out), UC_ERR_ARG, NULL);
	UNIT_FAILS(digest_response(DIGEST_MD5, 1, HA1_MD5, NMD5, NULL, NULL,
	    NULL, "REGISTER", RURI, NULL, 0, out), UC_ERR_ARG, NULL);
	UNIT_FAILS(digest_response(DIGEST_MD5, 0, HA1_MD5, NMD5, "00000001",
	    CNONCE, "auth-conf", "REGISTER", RURI, NULL, 0, out),
	    UC_ERR_UNSUPPORTED, "qop");
	UNIT_FAILS(digest_response(7, 0, HA1_MD5, NMD5, "00000001",
	    CNONCE, "auth", "REGISTER", RURI, NULL, 0, out), UC_ERR_ARG, NULL);
	UNIT_FAILS(digest_response(DIGEST_MD5, 0, HA1_MD5, NMD5, "00000001",
	    CNONCE, "auth-int", "REGISTER", RURI, NULL, 5, out), UC_ERR_ARG,
	    NULL);
	CU_ASSERT_STRING_EQUAL(out, "");
}

static void
test_algorithm_names_parse_any_case(void)
{
	static const struct {
		const char	*s;
		int		 alg, sess;
	} ok[] = {
		{ "MD5", DIGEST_MD5, 0 }, { "md5-SESS", DIGEST_MD5, 1 },
		{ "SHA-256", DIGEST_SHA256, 0 },
		{ "sha-256-sess", DIGEST_SHA256, 1 },
		{ "SHA-512-256", DIGEST_SHA512_256, 0 },
		{ "Sha-512-256-Sess", DIGEST_SHA512_256, 1 },
	};
	static const char *const bad[] = {
		"", "MD", "MD5-", "MD5sess", "MD5-sessx", "SHA256", "SHA-512",
		"SHA-1", "AKAv1-MD5", "MD5 ", "MD5-sess-sess",
	};
	size_t	 i;
	int	 alg, sess;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		alg = sess = -1;
		CU_ASSERT_EQUAL(digest_alg_parse(ok[i].s, strlen(ok[i].s),
		    &alg, &sess), 0);
		CU_ASSERT_EQUAL(alg, ok[i].alg);
		CU_ASSERT_EQUAL(sess, ok[i].sess);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		UNIT_FAILS(digest_alg_parse(bad[i], strlen(bad[i]), &alg,
		    &sess), UC_ERR_UNSUPPORTED, NULL);
	/* The length counts: "MD5" inside "MD5-sess" with len 3 is MD5. */
	CU_ASSERT_EQUAL(digest_alg_parse("MD5-sess", 3, &alg, &sess), 0);
	CU_ASSERT_EQUAL(sess, 0);
	CU_ASSERT_STRING_EQUAL(digest_alg_name(DIGEST_MD5, 0), "MD5");
	CU_ASSERT_STRING_EQUAL(digest_alg_name(DIGEST_SHA256, 1),
	    "SHA-256-sess");
	CU_ASSERT_STRING_EQUAL(digest_alg_name(DIGEST_SHA512_256, 0),
	    "SHA-512-256");
	CU_ASSERT_PTR_NULL(digest_alg_name(DIGEST_ALG__MAX, 0));
	CU_ASSERT_PTR_NULL(digest_alg_name(-1, 0));
	CU_ASSERT_EQUAL(digest_hex_len(DIGEST_MD5), 32);
	CU_ASSERT_EQUAL(digest_hex_len(DIGEST_SHA256), 64);
	CU_ASSERT_EQUAL(digest_hex_len(DIGEST_SHA512_256), 64);
	CU_ASSERT_EQUAL(digest_hex_len(DIGEST_ALG__MAX), 0);
}

static void
test_equal_is_exact(void)
{
	CU_ASSERT_EQUAL(digest_equal(HA1_MD5, HA1_MD5), 1);
	CU_ASSERT_EQUAL(digest_equal("", ""), 1);
	CU_ASSERT_EQUAL(digest_equal(HA1_MD5, "4220c2a3f679c44e21c2bdb556821fec"),
	    0);
	CU_ASSERT_EQUAL(digest_equal(HA1_MD5, "4220c2a3f679c44e21c2bdb556821fe"),
	    0);
	CU_ASSERT_EQUAL(digest_equal("abc", "abcd"), 0);
	CU_ASSERT_EQUAL(digest_equal("ABC", "abc"), 0);
	CU_ASSERT_EQUAL(digest_equal(NULL, "abc"), 0);
	CU_ASSERT_EQUAL(digest_equal("abc", NULL), 0);
}

/* ---- nonces ---------------------------------------------------------- */

static void
test_nonce_matches_spec_vector(void)
{
	char	 n[DIGEST_NONCE_LEN + 1];
	int64_t	 ts = 0;

	CU_ASSERT_EQUAL_FATAL(digest_nonce_make(key00, TS, rnd256, REALM,
	    DIGEST_SHA256, 0, n), 0);
	CU_ASSERT_STRING_EQUAL(n, N256);
	CU_ASSERT_EQUAL_FATAL(digest_nonce_make(key00, TS, rndmd5, REALM,
	    DIGEST_MD5, 0, n), 0);
	CU_ASSERT_STRING_EQUAL(n, NMD5);
	CU_ASSERT_EQUAL(digest_nonce_check(key00, N256, REALM, DIGEST_SHA256,
	    0, &ts), 0);
	CU_ASSERT_EQUAL(ts, TS);
	ts = 0;
	CU_ASSERT_EQUAL(digest_nonce_check(key00, NMD5, REALM, DIGEST_MD5, 0,
	    &ts), 0);
	CU_ASSERT_EQUAL(ts, TS);
	/* A negative or huge time survives the round trip. */
	CU_ASSERT_EQUAL(digest_nonce_make(key00, -5, rnd256, REALM,
	    DIGEST_MD5, 1, n), 0);
	CU_ASSERT_EQUAL(digest_nonce_check(key00, n, REALM, DIGEST_MD5, 1,
	    &ts), 0);
	CU_ASSERT_EQUAL(ts, -5);
	CU_ASSERT_EQUAL(digest_nonce_make(key00, INT64_MAX, rnd256, REALM,
	    DIGEST_SHA512_256, 0, n), 0);
	CU_ASSERT_EQUAL(digest_nonce_check(key00, n, REALM,
	    DIGEST_SHA512_256, 0, &ts), 0);
	CU_ASSERT_EQUAL(ts, INT64_MAX);
	UNIT_FAILS(digest_nonce_make(key00, TS, rnd256, REALM, 9, 0, n),
	    UC_ERR_ARG, NULL);
}

static void
test_nonce_bound_to_key_realm_and_algorithm(void)
{
	uint8_t	 k2[DIGEST_KEY_LEN];
	int64_t	 ts = 77;

	memcpy(k2, key00, sizeof(k2));
	k2[31] ^= 1;
	UNIT_FAILS(digest_nonce_check(k2, N256, REALM, DIGEST_SHA256, 0, &ts),
	    UC_ERR_SIGNATURE, "MAC");
	CU_ASSERT_EQUAL(ts, 0);
	UNIT_FAILS(digest_nonce_check(key00, N256, "secure.example.org",
	    DIGEST_SHA256, 0, &ts), UC_ERR_SIGNATURE, "MAC");
	UNIT_FAILS(digest_nonce_check(key00, N256, REALM, DIGEST_MD5, 0, &ts),
	    UC_ERR_SIGNATURE, "MAC");
	UNIT_FAILS(digest_nonce_check(key00, N256, REALM, DIGEST_SHA256, 1,
	    &ts), UC_ERR_SIGNATURE, "MAC");
	UNIT_FAILS(digest_nonce_check(key00, N256, REALM, DIGEST_SHA512_256, 0,
	    &ts), UC_ERR_SIGNATURE, "MAC");
}

static void
test_nonce_tampering_and_malformed_refused(void)
{
	static const char *const bad[] = {
		"", "AAAAAGdFAwDzqbTix9GAVkxeL1naqTqygWccVX3chd",
		N256 "A", N256 "=",
		/* same bits plus non-zero padding bits (d0 -> d1): not canonical */
		"AAAAAGdFAwDzqbTix9GAVkxeL1naqTqygWccVX3chd1",
		"AAAAAGdFAwDzqbTix9GAVkxeL1naqTqygWccVX3ch+0",
		"AAAAAGdFAwDzqbTix9GAVkxeL1naqTqygWccVX3ch/0",
		"AAAAAGdFAwDzqbTix9GAVkxeL1naqTqygWccVX3ch=0",
		"AAAAAGdFAwDzqbTix9GAVkxeL1naqTqygWccVX3ch 0",
	};
	char	 n[DIGEST_NONCE_LEN + 1];
	size_t	 i, bit;
	int64_t	 ts;
	int	 accepted = 0;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		UNIT_FAILS(digest_nonce_check(key00, bad[i], REALM,
		    DIGEST_SHA256, 0, &ts), UC_ERR_SIGNATURE, NULL);
	/* Every single-character change, including the time, is refused. */
	for (i = 0; i < DIGEST_NONCE_LEN; i++)
		for (bit = 0; bit < 6; bit++) {
			memcpy(n, N256, sizeof(n));
			n[i] = n[i] == 'A' + (char)bit ? 'z' : 'A' + (char)bit;
			if (digest_nonce_check(key00, n, REALM, DIGEST_SHA256, 0,
			    &ts) != UC_ERR_SIGNATURE)
				accepted++;
		}
	CU_ASSERT_EQUAL(accepted, 0);
}

/* The time of a nonce without its key: any MAC, only well-formed ones. */
static void
test_nonce_time_without_key(void)
{
	char	 n[DIGEST_NONCE_LEN + 1];
	int64_t	 ts = 1;

	CU_ASSERT_EQUAL(digest_nonce_time(N256, &ts), 0);
	CU_ASSERT_EQUAL(ts, TS);
	CU_ASSERT_EQUAL(digest_nonce_time(NMD5, &ts), 0);
	CU_ASSERT_EQUAL(ts, TS);
	/* A MAC that does not verify under any key: the time still reads. */
	memcpy(n, N256, sizeof(n));
	n[30] = n[30] == 'A' ? 'B' : 'A';
	CU_ASSERT_EQUAL(digest_nonce_time(n, &ts), 0);
	CU_ASSERT_EQUAL(ts, TS);
	UNIT_FAILS(digest_nonce_check(key00, n, REALM, DIGEST_SHA256, 0, &ts),
	    UC_ERR_SIGNATURE, NULL);
	UNIT_FAILS(digest_nonce_time("", &ts), UC_ERR_SIGNATURE, NULL);
	CU_ASSERT_EQUAL(ts, 0);
	UNIT_FAILS(digest_nonce_time(N256 "A", &ts), UC_ERR_SIGNATURE, NULL);
	UNIT_FAILS(digest_nonce_time("AAAAAGdFAwDzqbTix9GAVkxeL1naqTqygWccVX3chd1",
	    &ts), UC_ERR_SIGNATURE, NULL);
	UNIT_FAILS(digest_nonce_time("AAAAAGdFAwDzqbTix9GAVkxeL1naqTqygWccVX3ch+0",
	    &ts), UC_ERR_SIGNATURE, NULL);
	UNIT_FAILS(digest_nonce_time(NULL, &ts), UC_ERR_SIGNATURE, NULL);
}

/* ---- algorithm lists ------------------------------------------------- */

static void
test_alg_list_parse(void)
{
	static const char *const bad[] = {
		"MD5,", ",MD5", "MD5,,SHA-256", " , ", "MD5-sess",
		"SHA-256-sess,MD5", "SHA-1", "MD5,md5", "MD5 SHA-256",
		"MD5;SHA-256", "SHA-256,MD5,SHA-256", "MD5\n", "\"MD5\"",
	};
	int	 o[DIGEST_ALG__MAX];
	size_t	 n = 9, i;

	CU_ASSERT_EQUAL(digest_alg_list_parse("SHA-256, MD5", o, &n), 0);
	CU_ASSERT_EQUAL_FATAL(n, 2);
	CU_ASSERT_EQUAL(o[0], DIGEST_SHA256);
	CU_ASSERT_EQUAL(o[1], DIGEST_MD5);
	CU_ASSERT_EQUAL(digest_alg_list_parse("MD5", o, &n), 0);
	CU_ASSERT_EQUAL_FATAL(n, 1);
	CU_ASSERT_EQUAL(o[0], DIGEST_MD5);
	CU_ASSERT_EQUAL(digest_alg_list_parse(" sha-512-256,SHA-256 ,\tmd5 ",
	    o, &n), 0);
	CU_ASSERT_EQUAL_FATAL(n, 3);
	CU_ASSERT_EQUAL(o[0], DIGEST_SHA512_256);
	CU_ASSERT_EQUAL(o[1], DIGEST_SHA256);
	CU_ASSERT_EQUAL(o[2], DIGEST_MD5);
	n = 9;
	CU_ASSERT_EQUAL(digest_alg_list_parse("", o, &n), 0);
	CU_ASSERT_EQUAL(n, 0);
	CU_ASSERT_EQUAL(digest_alg_list_parse(" \t", o, &n), 0);
	CU_ASSERT_EQUAL(n, 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		UNIT_FAILS(digest_alg_list_parse(bad[i], o, &n), UC_ERR_ARG,
		    NULL);
		CU_ASSERT(n <= DIGEST_ALG__MAX);
	}
	UNIT_FAILS(digest_alg_list_parse(NULL, o, &n), UC_ERR_ARG, NULL);
	CU_ASSERT_EQUAL(n, 0);
}

/* ---- Authorization values -------------------------------------------- */

static void
test_creds_parse_spec_invite(void)
{
	struct digest_creds	 c;

	CU_ASSERT_EQUAL_FATAL(digest_creds_parse(S(AUTHZ_INVITE), &c), 0);
	CU_ASSERT_STRING_EQUAL(c.username, "alice");
	CU_ASSERT_STRING_EQUAL(c.realm, REALM);
	CU_ASSERT_STRING_EQUAL(c.nonce, N256);
	CU_ASSERT_STRING_EQUAL(c.uri, "sip:1002@cm1.secure.example.net");
	CU_ASSERT_STRING_EQUAL(c.response, "349906a2793d347b1fbea0edd74c278e"
	    "a7222bb5ee1744bcd57f68ac93ca9040");
	CU_ASSERT_STRING_EQUAL(c.cnonce, "77e1c0d4a9b3");
	CU_ASSERT_STRING_EQUAL(c.opaque, "6c3e");
	CU_ASSERT_STRING_EQUAL(c.qop, "auth");
	CU_ASSERT_STRING_EQUAL(c.nc_text, "00000002");
	CU_ASSERT_EQUAL(c.nc, 2);
	CU_ASSERT_EQUAL(c.alg, DIGEST_SHA256);
	CU_ASSERT_EQUAL(c.sess, 0);
	CU_ASSERT_EQUAL(c.has_alg, 1);
	CU_ASSERT_EQUAL(c.has_opaque, 1);
	CU_ASSERT_EQUAL(c.userhash, 0);
}

/* The parsed INVITE credentials verify against the stored HA1. */
static void
test_creds_parsed_then_verified(void)
{
	struct digest_creds	 c;
	char			 want[DIGEST_HEX_MAX];
	int64_t			 ts;

	CU_ASSERT_EQUAL_FATAL(digest_creds_parse(S(AUTHZ_INVITE), &c), 0);
	CU_ASSERT_EQUAL(digest_nonce_check(key00, c.nonce, c.realm, c.alg,
	    c.sess, &ts), 0);
	CU_ASSERT_EQUAL_FATAL(digest_response(c.alg, c.sess, HA1_256,
	    c.nonce, c.nc_text, c.cnonce, c.qop, "INVITE", c.uri, NULL, 0,
	    want), 0);
	CU_ASSERT_EQUAL(digest_equal(want, c.response), 1);
	/* Wrong method: the response no longer matches. */
	CU_ASSERT_EQUAL_FATAL(digest_response(c.alg, c.sess, HA1_256,
	    c.nonce, c.nc_text, c.cnonce, c.qop, "REGISTER", c.uri, NULL, 0,
	    want), 0);
	CU_ASSERT_EQUAL(digest_equal(want, c.response), 0);
}

static void
test_creds_parse_tolerates_lws_case_tokens_and_escapes(void)
{
	static const char	 v[] =
	    "\t dIgEsT\r\n  USERNAME = \"a\\\"l\\\\ice\" ,REALM=r.example,"
	    ",  nonce=\"n\" ,\turi=\"sip:x@y;transport=tls\",response=\"ab\","
	    "Algorithm=md5-sess , qop=\"auth-int\", NC=0000000A,"
	    "cnonce=\"c,n=o\\nce\", unknown=\"what\\\"ever\", x=y, "
	    "userhash=TRUE,\r\n ";
	struct digest_creds	 c;

	CU_ASSERT_EQUAL_FATAL(digest_creds_parse(S(v), &c), 0);
	CU_ASSERT_STRING_EQUAL(c.username, "a\"l\\ice");
	CU_ASSERT_STRING_EQUAL(c.realm, "r.example");
	CU_ASSERT_STRING_EQUAL(c.uri, "sip:x@y;transport=tls");
	CU_ASSERT_STRING_EQUAL(c.cnonce, "c,n=once");
	CU_ASSERT_STRING_EQUAL(c.qop, "auth-int");
	CU_ASSERT_STRING_EQUAL(c.nc_text, "0000000A");
	CU_ASSERT_EQUAL(c.nc, 10);
	CU_ASSERT_EQUAL(c.alg, DIGEST_MD5);
	CU_ASSERT_EQUAL(c.sess, 1);
	CU_ASSERT_EQUAL(c.userhash, 1);
	CU_ASSERT_EQUAL(c.has_opaque, 0);
	/* No algorithm: MD5, has_alg 0; no qop: legacy, nc 0. */
	CU_ASSERT_EQUAL_FATAL(digest_creds_parse(S("Digest username=u, "
	    "realm=r, nonce=n, uri=\"sip:a\", response=ff"), &c), 0);
	CU_ASSERT_EQUAL(c.alg, DIGEST_MD5);
	CU_ASSERT_EQUAL(c.has_alg, 0);
	CU_ASSERT_STRING_EQUAL(c.qop, "");
	CU_ASSERT_STRING_EQUAL(c.nc_text, "");
	CU_ASSERT_EQUAL(c.nc, 0);
	/* Highest nc. */
	CU_ASSERT_EQUAL_FATAL(digest_creds_parse(S("Digest username=u,"
	    "realm=r,nonce=n,uri=u,response=f,qop=auth,cnonce=c,"
	    "nc=ffffffff"), &c), 0);
	CU_ASSERT_EQUAL(c.nc, UINT32_MAX);
}

#define BASE	"Digest username=\"u\", realm=\"r\", nonce=\"n\", " \
		"uri=\"sip:a@b\", response=\"0123\""

static void
test_creds_malformed_refused(void)
{
	static const struct {
		const char	*v;
		int		 err;
		const char	*needle;
	} bad[] = {
		{ "", UC_ERR_FORMAT, "scheme" },
		{ "   ", UC_ERR_FORMAT, "scheme" },
		{ "Digest", UC_ERR_FORMAT, "no username" },
		{ "Basic dXNlcjpwYXNz", UC_ERR_UNSUPPORTED, "not Digest" },
		{ "Digestive username=u", UC_ERR_UNSUPPORTED, "not Digest" },
		{ "Digest,username=\"u\"", UC_ERR_FORMAT, "space" },
		{ "Digest dXNlcjpwYXNz==", UC_ERR_FORMAT, "value" },
		{ BASE ", qop", UC_ERR_FORMAT, "'='" },
		{ BASE ", qop=", UC_ERR_FORMAT, "value" },
		{ BASE ", qop=,", UC_ERR_FORMAT, "value" },
		{ BASE " qop=auth", UC_ERR_FORMAT, "','" },
		{ BASE "; x=y", UC_ERR_FORMAT, "','" },
		{ BASE ", opaque=\"abc", UC_ERR_FORMAT, "quoted" },
		{ BASE ", opaque=\"abc\\", UC_ERR_FORMAT, "quoted" },
		{ BASE ", opaque=\"a\rb\"", UC_ERR_FORMAT, "quoted" },
		{ BASE ", opaque=\"a\nb\"", UC_ERR_FORMAT, "quoted" },
		{ BASE ", opaque=\"a\\\nb\"", UC_ERR_FORMAT, "quoted" },
		{ BASE ", opaque=\"a\x7f" "b\"", UC_ERR_FORMAT, "quoted" },
		{ BASE ", opaque=\"a\x01" "b\"", UC_ERR_FORMAT, "quoted" },
		{ BASE ", opaque=\"ab\"\"", UC_ERR_FORMAT, "','" },
		{ BASE ", uri=sip:a@b", UC_ERR_FORMAT, NULL },
		{ BASE ", x=\"unterminated", UC_ERR_FORMAT, "quoted" },
		{ BASE ", x=a b", UC_ERR_FORMAT, "','" },
		/* required parameters (spec 2.6 step 1) */
		{ "Digest realm=r, nonce=n, uri=u, response=f",
		  UC_ERR_FORMAT, "username" },
		{ "Digest username=u, nonce=n, uri=u, response=f",
		  UC_ERR_FORMAT, "realm" },
		{ "Digest username=u, realm=r, uri=u, response=f",
		  UC_ERR_FORMAT, "nonce" },
		{ "Digest username=u, realm=r, nonce=n, response=f",
		  UC_ERR_FORMAT, "uri" },
		{ "Digest username=u, realm=r, nonce=n, uri=u",
		  UC_ERR_FORMAT, "response" },
		{ BASE ", qop=auth, nc=00000001", UC_ERR_FORMAT, "cnonce" },
		{ BASE ", qop=auth, cnonce=c", UC_ERR_FORMAT, "nc" },
		/* nc exactly 8 hex digits */
		{ BASE ", qop=auth, cnonce=c, nc=0000001", UC_ERR_FORMAT, "nc" },
		{ BASE ", qop=auth, cnonce=c, nc=000000001", UC_ERR_FORMAT,
		  "nc" },
		{ BASE ", qop=auth, cnonce=c, nc=0000000g", UC_ERR_FORMAT, "nc" },
		{ BASE ", qop=auth, cnonce=c, nc=\"\"", UC_ERR_FORMAT, "nc" },
		{ BASE ", qop=auth, cnonce=c, nc=+0000001", UC_ERR_FORMAT, "nc" },
		{ BASE ", qop=\"au th\", cnonce=c, nc=00000001", UC_ERR_FORMAT,
		  "qop" },
		{ BASE ", qop=authauthauthauth, cnonce=c, nc=00000001",
		  UC_ERR_FORMAT, "qop" },
		{ BASE ", userhash=maybe", UC_ERR_FORMAT, "userhash" },
		{ BASE ", algorithm=SHA-1", UC_ERR_UNSUPPORTED, "algorithm" },
		{ BASE ", algorithm=\"\"", UC_ERR_UNSUPPORTED, "algorithm" },
	};
	struct digest_creds	 c;
	size_t			 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&c, 'X', sizeof(c));
		UNIT_FAILS(digest_creds_parse(bad[i].v, strlen(bad[i].v), &c),
		    bad[i].err, bad[i].needle);
		/* A failed parse leaves nothing half-filled. */
		CU_ASSERT_STRING_EQUAL(c.username, "");
		CU_ASSERT_STRING_EQUAL(c.response, "");
	}
	/* A NUL byte anywhere is refused. */
	UNIT_FAILS(digest_creds_parse(BASE ", opaque=\"a\0b\"",
	    sizeof(BASE ", opaque=\"a\0b\"") - 1, &c), UC_ERR_FORMAT, NULL);
	UNIT_FAILS(digest_creds_parse(BASE "\0", sizeof(BASE), &c),
	    UC_ERR_FORMAT, NULL);
	UNIT_FAILS(digest_creds_parse(NULL, 0, &c), UC_ERR_FORMAT, NULL);
}

static void
test_creds_duplicate_parameters_refused(void)
{
	static const char *const dup[] = {
		"username=\"v\"", "USERNAME=v", "realm=r", "nonce=n", "uri=u",
		"response=f", "cnonce=c, cnonce=d", "opaque=a, opaque=\"b\"",
		"qop=auth, qop=auth, cnonce=c, nc=00000001",
		"nc=00000001, nc=00000002",
		"algorithm=MD5, algorithm=MD5",
		"userhash=false, userhash=false",
	};
	struct digest_creds	 c;
	char			 v[512];
	size_t			 i;

	for (i = 0; i < sizeof(dup) / sizeof(dup[0]); i++) {
		snprintf(v, sizeof(v), "%s, %s", BASE, dup[i]);
		UNIT_FAILS(digest_creds_parse(v, strlen(v), &c), UC_ERR_FORMAT,
		    "duplicate");
	}
	/* Unknown parameters may repeat: they are ignored. */
	snprintf(v, sizeof(v), "%s, x=1, x=2, X=3", BASE);
	CU_ASSERT_EQUAL(digest_creds_parse(v, strlen(v), &c), 0);
}

/* A value of n bytes of 'a' for param, quoted. */
static char *
with_long(const char *param, size_t n)
{
	char	*v, *p;
	size_t	 sz = strlen(BASE) + strlen(param) + n + 64;

	if ((v = malloc(sz)) == NULL)
		return NULL;
	p = v + snprintf(v, sz, "%s, %s=\"", BASE, param);
	memset(p, 'a', n);
	strcpy(p + n, "\"");
	return v;
}

static void
test_creds_over_long_values_refused(void)
{
	static const struct {
		const char	*param;
		size_t		 max;
	} f[] = {
		{ "cnonce", DIGEST_FIELD_MAX - 1 },
		{ "opaque", DIGEST_FIELD_MAX - 1 },
	};
	struct digest_creds	 c;
	char			*v, big[DIGEST_URI_MAX + 64], w[2048];
	size_t			 i;

	for (i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		if ((v = with_long(f[i].param, f[i].max)) == NULL)
			CU_FAIL_FATAL("malloc");
		CU_ASSERT_EQUAL(digest_creds_parse(v, strlen(v), &c), 0);
		free(v);
		if ((v = with_long(f[i].param, f[i].max + 1)) == NULL)
			CU_FAIL_FATAL("malloc");
		UNIT_FAILS(digest_creds_parse(v, strlen(v), &c),
		    UC_ERR_FORMAT, "longer");
		free(v);
	}
	/* username, realm, nonce (255), uri (511), response (127) */
	memset(big, 'b', sizeof(big));
	snprintf(w, sizeof(w), "Digest username=\"%.256s\", realm=r, "
	    "nonce=n, uri=u, response=f", big);
	UNIT_FAILS(digest_creds_parse(w, strlen(w), &c), UC_ERR_FORMAT,
	    "username");
	snprintf(w, sizeof(w), "Digest username=u, realm=\"%.256s\", "
	    "nonce=n, uri=u, response=f", big);
	UNIT_FAILS(digest_creds_parse(w, strlen(w), &c), UC_ERR_FORMAT,
	    "realm");
	snprintf(w, sizeof(w), "Digest username=u, realm=r, "
	    "nonce=\"%.256s\", uri=u, response=f", big);
	UNIT_FAILS(digest_creds_parse(w, strlen(w), &c), UC_ERR_FORMAT,
	    "nonce");
	snprintf(w, sizeof(w), "Digest username=u, realm=r, nonce=n, "
	    "uri=\"%.511s\", response=f", big);
	CU_ASSERT_EQUAL(digest_creds_parse(w, strlen(w), &c), 0);
	CU_ASSERT_EQUAL(strlen(c.uri), 511);
	snprintf(w, sizeof(w), "Digest username=u, realm=r, nonce=n, "
	    "uri=\"%.512s\", response=f", big);
	UNIT_FAILS(digest_creds_parse(w, strlen(w), &c), UC_ERR_FORMAT, "uri");
	snprintf(w, sizeof(w), "Digest username=u, realm=r, nonce=n, uri=u, "
	    "response=%.127s", big);
	CU_ASSERT_EQUAL(digest_creds_parse(w, strlen(w), &c), 0);
	snprintf(w, sizeof(w), "Digest username=u, realm=r, nonce=n, uri=u, "
	    "response=%.128s", big);
	UNIT_FAILS(digest_creds_parse(w, strlen(w), &c), UC_ERR_FORMAT,
	    "response");
	/* An unknown parameter may be long; the whole value may not. */
	if ((v = with_long("x-long", 6000)) == NULL)
		CU_FAIL_FATAL("malloc");
	CU_ASSERT_EQUAL(digest_creds_parse(v, strlen(v), &c), 0);
	free(v);
	if ((v = with_long("x-long", 9000)) == NULL)
		CU_FAIL_FATAL("malloc");
	UNIT_FAILS(digest_creds_parse(v, strlen(v), &c), UC_ERR_FORMAT,
	    "longer");
	free(v);
}

static void
test_creds_format_round_trips(void)
{
	struct digest_creds	 c, d;
	char			 buf[2048];

	CU_ASSERT_EQUAL_FATAL(digest_creds_parse(S(AUTHZ_INVITE), &c), 0);
	CU_ASSERT_EQUAL_FATAL(digest_creds_format(&c, buf, sizeof(buf)), 0);
	/* Our own output is the spec's text, byte for byte. */
	CU_ASSERT_STRING_EQUAL(buf, AUTHZ_INVITE);
	/* Escapes and a UAC-built struct (nc from the number). */
	memset(&c, 0, sizeof(c));
	strcpy(c.username, "a\"b\\c");
	strcpy(c.realm, "r");
	strcpy(c.nonce, "n");
	strcpy(c.uri, "sip:x");
	strcpy(c.response, "ff");
	strcpy(c.cnonce, "cn");
	strcpy(c.qop, "auth");
	c.nc = 0x1f;
	c.alg = DIGEST_SHA512_256;
	c.sess = 1;
	c.has_alg = 1;
	CU_ASSERT_EQUAL_FATAL(digest_creds_format(&c, buf, sizeof(buf)), 0);
	CU_ASSERT_STRING_EQUAL(buf, "Digest username=\"a\\\"b\\\\c\", "
	    "realm=\"r\", nonce=\"n\", uri=\"sip:x\", response=\"ff\", "
	    "algorithm=SHA-512-256-sess, cnonce=\"cn\", qop=auth, "
	    "nc=0000001f");
	CU_ASSERT_EQUAL_FATAL(digest_creds_parse(buf, strlen(buf), &d), 0);
	CU_ASSERT_STRING_EQUAL(d.username, c.username);
	CU_ASSERT_EQUAL(d.nc, 0x1f);
	CU_ASSERT_EQUAL(d.alg, DIGEST_SHA512_256);
	CU_ASSERT_EQUAL(d.sess, 1);
	/* Too small a buffer, a control character, a bad nc_text. */
	UNIT_FAILS(digest_creds_format(&c, buf, 40), UC_ERR_ARG, "small");
	CU_ASSERT_STRING_EQUAL(buf, "");
	UNIT_FAILS(digest_creds_format(&c, buf, 0), UC_ERR_ARG, NULL);
	strcpy(c.username, "a\r\nVia: evil");
	UNIT_FAILS(digest_creds_format(&c, buf, sizeof(buf)), UC_ERR_ARG,
	    "control");
	CU_ASSERT_PTR_NULL(strstr(buf, "evil"));
	strcpy(c.username, "u");
	strcpy(c.nc_text, "123");
	UNIT_FAILS(digest_creds_format(&c, buf, sizeof(buf)), UC_ERR_ARG,
	    NULL);
	c.nc_text[0] = '\0';
	c.alg = 5;
	UNIT_FAILS(digest_creds_format(&c, buf, sizeof(buf)), UC_ERR_ARG,
	    NULL);
}

/* ---- WWW-Authenticate values ----------------------------------------- */

static void
test_challenge_parse_and_format(void)
{
	static const char	 spec[] = "Digest realm=\"secure.example.net\", "
	    "nonce=\"" N256 "\", opaque=\"6c3e\", algorithm=SHA-256, "
	    "qop=\"auth\"";
	struct digest_challenge	 h, g;
	char			 buf[1024];

	CU_ASSERT_EQUAL_FATAL(digest_challenge_parse(S(spec), &h), 0);
	CU_ASSERT_STRING_EQUAL(h.realm, REALM);
	CU_ASSERT_STRING_EQUAL(h.nonce, N256);
	CU_ASSERT_STRING_EQUAL(h.opaque, "6c3e");
	CU_ASSERT_EQUAL(h.alg, DIGEST_SHA256);
	CU_ASSERT_EQUAL(h.sess, 0);
	CU_ASSERT_EQUAL(h.qop_auth, 1);
	CU_ASSERT_EQUAL(h.qop_auth_int, 0);
	CU_ASSERT_EQUAL(h.stale, 0);
	CU_ASSERT_EQUAL_FATAL(digest_challenge_format(&h, buf, sizeof(buf)),
	    0);
	CU_ASSERT_STRING_EQUAL(buf, spec);
	h.stale = 1;
	h.qop_auth_int = 1;
	memset(h.opaque, 0, sizeof(h.opaque));
	CU_ASSERT_EQUAL_FATAL(digest_challenge_format(&h, buf, sizeof(buf)),
	    0);
	CU_ASSERT_STRING_EQUAL(buf, "Digest realm=\"secure.example.net\", "
	    "nonce=\"" N256 "\", algorithm=SHA-256, qop=\"auth,auth-int\", "
	    "stale=true");
	CU_ASSERT_EQUAL_FATAL(digest_challenge_parse(buf, strlen(buf), &g),
	    0);
	CU_ASSERT_EQUAL(memcmp(&g, &h, sizeof(g)), 0);
	UNIT_FAILS(digest_challenge_format(&h, buf, 20), UC_ERR_ARG, "small");
}

static void
test_challenge_parse_variants(void)
{
	struct digest_challenge	 h;

	/* No algorithm: MD5; qop list with spaces and unknown options;
	   stale any case; unknown parameters ignored. */
	CU_ASSERT_EQUAL_FATAL(digest_challenge_parse(S("DIGEST realm=\"r\","
	    "domain=\"sip:a sip:b\",nonce=\"n\",qop=\" auth-int , x-foo,"
	    "auth\",stale=TRUE,charset=UTF-8,userhash=true"), &h), 0);
	CU_ASSERT_EQUAL(h.alg, DIGEST_MD5);
	CU_ASSERT_EQUAL(h.qop_auth, 1);
	CU_ASSERT_EQUAL(h.qop_auth_int, 1);
	CU_ASSERT_EQUAL(h.stale, 1);
	CU_ASSERT_STRING_EQUAL(h.opaque, "");
	/* Unquoted qop, stale other than true, -sess. */
	CU_ASSERT_EQUAL_FATAL(digest_challenge_parse(S("Digest realm=r, "
	    "nonce=n, qop=auth, stale=no, algorithm=SHA-256-sess"), &h), 0);
	CU_ASSERT_EQUAL(h.qop_auth, 1);
	CU_ASSERT_EQUAL(h.stale, 0);
	CU_ASSERT_EQUAL(h.alg, DIGEST_SHA256);
	CU_ASSERT_EQUAL(h.sess, 1);
	/* No qop at all: legacy. */
	CU_ASSERT_EQUAL_FATAL(digest_challenge_parse(S("Digest realm=r, "
	    "nonce=n"), &h), 0);
	CU_ASSERT_EQUAL(h.qop_auth, 0);
	CU_ASSERT_EQUAL(h.qop_auth_int, 0);
}

static void
test_challenge_malformed_refused(void)
{
	static const struct {
		const char	*v;
		int		 err;
		const char	*needle;
	} bad[] = {
		{ "Digest nonce=n", UC_ERR_FORMAT, "realm" },
		{ "Digest realm=r", UC_ERR_FORMAT, "nonce" },
		{ "Digest realm=r, nonce=n, realm=r", UC_ERR_FORMAT,
		  "duplicate" },
		{ "Digest realm=r, nonce=n, NONCE=n", UC_ERR_FORMAT,
		  "duplicate" },
		{ "Digest realm=r, nonce=n, qop=auth, qop=auth", UC_ERR_FORMAT,
		  "duplicate" },
		{ "Digest realm=r, nonce=n, stale=true, stale=false",
		  UC_ERR_FORMAT, "duplicate" },
		{ "Digest realm=r, nonce=n, opaque=a, opaque=b",
		  UC_ERR_FORMAT, "duplicate" },
		{ "Digest realm=r, nonce=n, algorithm=MD5, algorithm=MD5",
		  UC_ERR_FORMAT, "duplicate" },
		{ "Digest realm=r, nonce=n, qop=\"auth;x\"", UC_ERR_FORMAT,
		  "qop" },
		{ "Digest realm=r, nonce=n, algorithm=SHA-1",
		  UC_ERR_UNSUPPORTED, NULL },
		{ "Basic realm=\"r\"", UC_ERR_UNSUPPORTED, "not Digest" },
		{ "Digest realm=\"r, nonce=n", UC_ERR_FORMAT, "quoted" },
		{ "Digest realm=r nonce=n", UC_ERR_FORMAT, "','" },
	};
	struct digest_challenge	 h;
	size_t			 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		UNIT_FAILS(digest_challenge_parse(bad[i].v, strlen(bad[i].v),
		    &h), bad[i].err, bad[i].needle);
}

/* Bit flips and truncations of valid values never crash, and whatever
   still parses formats and re-parses to the same fields. */
static void
test_mutations_never_crash_and_round_trip(void)
{
	static const char	 chal[] = "Digest realm=\"secure.example.net\", "
	    "nonce=\"" N256 "\", opaque=\"6c\\\"3e\", algorithm=MD5-sess, "
	    "qop=\"auth,auth-int\", stale=true";
	struct digest_creds	 c, d;
	struct digest_challenge	 h, g;
	char			 m[sizeof(AUTHZ_INVITE)], buf[8192];
	size_t			 i, n, bad = 0, ok = 0;
	int			 bit;

	for (i = 0; i < sizeof(AUTHZ_INVITE) - 1; i++)
		for (bit = 0; bit < 8; bit++) {
			memcpy(m, AUTHZ_INVITE, sizeof(m));
			m[i] ^= (char)(1 << bit);
			if (digest_creds_parse(m, sizeof(m) - 1, &c) != 0)
				continue;
			ok++;
			if (digest_creds_format(&c, buf, sizeof(buf)) != 0 ||
			    digest_creds_parse(buf, strlen(buf), &d) != 0 ||
			    memcmp(&c, &d, sizeof(c)) != 0)
				bad++;
		}
	for (n = 0; n < sizeof(chal) - 1; n++)
		if (digest_challenge_parse(chal, n, &h) == 0) {
			ok++;
			if (digest_challenge_format(&h, buf, sizeof(buf)) != 0 ||
			    digest_challenge_parse(buf, strlen(buf), &g) != 0 ||
			    memcmp(&h, &g, sizeof(h)) != 0)
				bad++;
		}
	CU_ASSERT(ok > 100);
	CU_ASSERT_EQUAL(bad, 0);
}

/* ---- nonce-count table ----------------------------------------------- */

static void
test_nc_table_accepts_increasing_refuses_replay(void)
{
	struct nc_table	*t;

	if ((t = nc_table_new(8)) == NULL)
		CU_FAIL_FATAL("nc_table_new");
	CU_ASSERT_EQUAL(nc_table_check(t, N256, 1, 100, 700), NC_OK);
	CU_ASSERT_EQUAL(nc_table_check(t, N256, 1, 101, 700), NC_REPLAY);
	CU_ASSERT_EQUAL(nc_table_check(t, N256, 2, 101, 700), NC_OK);
	/* Skipping counts is fine; going back is not. */
	CU_ASSERT_EQUAL(nc_table_check(t, N256, 9, 102, 700), NC_OK);
	CU_ASSERT_EQUAL(nc_table_check(t, N256, 5, 102, 700), NC_REPLAY);
	CU_ASSERT_EQUAL(nc_table_check(t, N256, 9, 102, 700), NC_REPLAY);
	/* Another nonce has its own count. */
	CU_ASSERT_EQUAL(nc_table_check(t, NMD5, 1, 102, 700), NC_OK);
	CU_ASSERT_EQUAL(nc_table_count(t), 2);
	/* nc 0 never; a nonce too long to be ours never; expired never. */
	CU_ASSERT_EQUAL(nc_table_check(t, "fresh", 0, 102, 700), NC_REPLAY);
	CU_ASSERT_EQUAL(nc_table_check(t, N256 "x", 1, 102, 700), NC_REPLAY);
	CU_ASSERT_EQUAL(nc_table_check(t, "fresh", 1, 102, 102), NC_REPLAY);
	CU_ASSERT_EQUAL(nc_table_count(t), 2);
	/* Single-use legacy nonces: nc 1 once. */
	CU_ASSERT_EQUAL(nc_table_check(t, "legacy", 1, 102, 700), NC_OK);
	CU_ASSERT_EQUAL(nc_table_check(t, "legacy", 1, 103, 700), NC_REPLAY);
	CU_ASSERT_EQUAL(nc_table_check(t, "", 1, 103, 700), NC_OK);
	CU_ASSERT_EQUAL(nc_table_check(t, "", 1, 103, 700), NC_REPLAY);
	CU_ASSERT_EQUAL(nc_table_check(NULL, "x", 1, 103, 700), NC_REPLAY);
	nc_table_free(t);
	nc_table_free(NULL);
	CU_ASSERT_PTR_NULL(nc_table_new(0));
}

static void
test_nc_table_full_then_expiry_frees(void)
{
	struct nc_table	*t;
	char		 n[32];
	int		 i;

	if ((t = nc_table_new(4)) == NULL)
		CU_FAIL_FATAL("nc_table_new");
	/* Expiries out of order: 500, 300, 400, 600. */
	CU_ASSERT_EQUAL(nc_table_check(t, "a", 1, 0, 500), NC_OK);
	CU_ASSERT_EQUAL(nc_table_check(t, "b", 1, 0, 300), NC_OK);
	CU_ASSERT_EQUAL(nc_table_check(t, "c", 1, 0, 400), NC_OK);
	CU_ASSERT_EQUAL(nc_table_check(t, "d", 1, 0, 600), NC_OK);
	CU_ASSERT_EQUAL(nc_table_check(t, "e", 1, 10, 700), NC_FULL);
	/* Known nonces still work when full. */
	CU_ASSERT_EQUAL(nc_table_check(t, "a", 2, 10, 500), NC_OK);
	CU_ASSERT_EQUAL(nc_table_check(t, "a", 2, 10, 500), NC_REPLAY);
	CU_ASSERT_EQUAL(nc_table_count(t), 4);
	/* At 300 "b" is gone: room for one. */
	CU_ASSERT_EQUAL(nc_table_check(t, "e", 1, 300, 900), NC_OK);
	CU_ASSERT_EQUAL(nc_table_check(t, "f", 1, 300, 900), NC_FULL);
	/* "c" still holds nc 1. */
	CU_ASSERT_EQUAL(nc_table_check(t, "c", 1, 300, 400), NC_REPLAY);
	/* An extended expiry keeps "c" past 400. */
	CU_ASSERT_EQUAL(nc_table_check(t, "c", 2, 350, 800), NC_OK);
	CU_ASSERT_EQUAL(nc_table_check(t, "g", 1, 450, 900), NC_FULL);
	CU_ASSERT_EQUAL(nc_table_check(t, "c", 2, 450, 800), NC_REPLAY);
	/* At 600 "a" (500) and "d" (600) are gone. */
	CU_ASSERT_EQUAL(nc_table_check(t, "g", 1, 600, 900), NC_OK);
	CU_ASSERT_EQUAL(nc_table_check(t, "h", 1, 600, 900), NC_OK);
	CU_ASSERT_EQUAL(nc_table_check(t, "i", 1, 600, 900), NC_FULL);
	/* Everything expires; the table refills many times over. */
	for (i = 0; i < 100; i++) {
		snprintf(n, sizeof(n), "n%d", i);
		CU_ASSERT_EQUAL(nc_table_check(t, n, 1, 1000 + i, 1001 + i),
		    NC_OK);
	}
	CU_ASSERT(nc_table_count(t) <= 4);
	nc_table_free(t);
}

/* 100,000 nonces, each checked three times: fast (hash, not a scan). */
static void
test_nc_table_scales(void)
{
	struct nc_table	*t;
	char		 n[DIGEST_NONCE_LEN + 1];
	double		 t0;
	int		 i, bad = 0;

	if ((t = nc_table_new(100000)) == NULL)
		CU_FAIL_FATAL("nc_table_new");
	t0 = mono();
	for (i = 0; i < 100000; i++) {
		snprintf(n, sizeof(n), "AAAAAGdFAwD%08dxL1naqTqygWccVX3chd0",
		    i);
		if (nc_table_check(t, n, 1, 0, 600 + i % 50) != NC_OK)
			bad++;
	}
	for (i = 0; i < 100000; i++) {
		snprintf(n, sizeof(n), "AAAAAGdFAwD%08dxL1naqTqygWccVX3chd0",
		    i);
		if (nc_table_check(t, n, 1, 1, 600) != NC_REPLAY ||
		    nc_table_check(t, n, 2, 1, 600) != NC_OK)
			bad++;
	}
	CU_ASSERT_EQUAL(bad, 0);
	CU_ASSERT_EQUAL(nc_table_count(t), 100000);
	CU_ASSERT_EQUAL(nc_table_check(t, "one-more", 1, 1, 600), NC_FULL);
	/* All expire at once; one call drops what it needs. */
	CU_ASSERT_EQUAL(nc_table_check(t, "one-more", 1, 700, 1300), NC_OK);
	CU_ASSERT(mono() - t0 < 2.0);
	nc_table_free(t);
}

/* ---- nc_table_use: evict the oldest, watermark ---------------------- */

static void
test_nc_use_basics(void)
{
	struct nc_table	*t;

	if ((t = nc_table_new(8)) == NULL)
		CU_FAIL_FATAL("nc_table_new");
	CU_ASSERT_EQUAL(nc_table_watermark(t), INT64_MIN);
	CU_ASSERT_EQUAL(nc_table_use(t, N256, 1, 90, 100, 690), NC_OK);
	CU_ASSERT_EQUAL(nc_table_use(t, N256, 1, 90, 101, 690), NC_REPLAY);
	CU_ASSERT_EQUAL(nc_table_use(t, N256, 3, 90, 101, 690), NC_OK);
	CU_ASSERT_EQUAL(nc_table_use(t, N256, 2, 90, 101, 690), NC_REPLAY);
	/* legacy single use: nc 1 once */
	CU_ASSERT_EQUAL(nc_table_use(t, NMD5, 1, 95, 101, 695), NC_OK);
	CU_ASSERT_EQUAL(nc_table_use(t, NMD5, 1, 95, 102, 695), NC_REPLAY);
	/* nc 0, too long, NULL: never; expired at first use: stale */
	CU_ASSERT_EQUAL(nc_table_use(t, "fresh", 0, 100, 102, 700), NC_REPLAY);
	CU_ASSERT_EQUAL(nc_table_use(t, N256 "x", 1, 100, 102, 700),
	    NC_REPLAY);
	CU_ASSERT_EQUAL(nc_table_use(NULL, "x", 1, 100, 102, 700), NC_REPLAY);
	CU_ASSERT_EQUAL(nc_table_use(t, "fresh", 1, 0, 102, 100), NC_STALE);
	CU_ASSERT_EQUAL(nc_table_use(t, "fresh", 1, INT64_MIN, 102, 700),
	    NC_STALE);
	CU_ASSERT_EQUAL(nc_table_count(t), 2);
	/* nothing was dropped yet */
	CU_ASSERT_EQUAL(nc_table_watermark(t), INT64_MIN);
	nc_table_free(t);
}

static void
test_nc_use_full_evicts_oldest(void)
{
	struct nc_table	*t;

	if ((t = nc_table_new(4)) == NULL)
		CU_FAIL_FATAL("nc_table_new");
	/* (ts, expiry): the one that expires first goes first */
	CU_ASSERT_EQUAL(nc_table_use(t, "a", 1, 100, 200, 700), NC_OK);
	CU_ASSERT_EQUAL(nc_table_use(t, "b", 1, 10, 200, 610), NC_OK);
	CU_ASSERT_EQUAL(nc_table_use(t, "c", 1, 50, 200, 650), NC_OK);
	CU_ASSERT_EQUAL(nc_table_use(t, "d", 1, 190, 200, 790), NC_OK);
	/* full of live entries: "e" is still a first use; "b" goes */
	CU_ASSERT_EQUAL(nc_table_use(t, "e", 1, 195, 220, 795), NC_OK);
	CU_ASSERT_EQUAL(nc_table_count(t), 4);
	CU_ASSERT_EQUAL(nc_table_watermark(t), 10);
	/* "b" again, any nc: it may have been used, so stale, never OK */
	CU_ASSERT_EQUAL(nc_table_use(t, "b", 2, 10, 221, 610), NC_STALE);
	CU_ASSERT_EQUAL(nc_table_use(t, "b", 1, 10, 221, 610), NC_STALE);
	/* an unseen nonce at or below the watermark: stale too */
	CU_ASSERT_EQUAL(nc_table_use(t, "old", 1, 5, 221, 605), NC_STALE);
	CU_ASSERT_EQUAL(nc_table_use(t, "old10", 1, 10, 221, 610), NC_STALE);
	/* above it: a first use (evicts "c", watermark 50) */
	CU_ASSERT_EQUAL(nc_table_use(t, "f", 1, 11, 221, 611), NC_OK);
	CU_ASSERT_EQUAL(nc_table_watermark(t), 50);
	CU_ASSERT_EQUAL(nc_table_use(t, "c", 2, 50, 222, 650), NC_STALE);
	/* entries still held keep working, whatever the watermark */
	CU_ASSERT_EQUAL(nc_table_use(t, "f", 2, 11, 222, 611), NC_OK);
	CU_ASSERT_EQUAL(nc_table_use(t, "f", 2, 11, 222, 611), NC_REPLAY);
	CU_ASSERT_EQUAL(nc_table_use(t, "a", 2, 100, 222, 700), NC_OK);
	CU_ASSERT_EQUAL(nc_table_use(t, "a", 1, 100, 222, 700), NC_REPLAY);
	CU_ASSERT_EQUAL(nc_table_count(t), 4);
	nc_table_free(t);
}

/* Dropping at expiry raises the watermark too: a longer validity or a
   clock stepped back cannot revive a used nonce. */
static void
test_nc_use_expiry_raises_watermark(void)
{
	struct nc_table	*t;

	if ((t = nc_table_new(16)) == NULL)
		CU_FAIL_FATAL("nc_table_new");
	CU_ASSERT_EQUAL(nc_table_use(t, "x", 1, 100, 100, 700), NC_OK);
	CU_ASSERT_EQUAL(nc_table_use(t, "y", 1, 650, 700, 1250), NC_OK);
	CU_ASSERT_EQUAL(nc_table_count(t), 1);	/* "x" expired at 700 */
	CU_ASSERT_EQUAL(nc_table_watermark(t), 100);
	/* validity raised to 3600, or the clock went back to 500 */
	CU_ASSERT_EQUAL(nc_table_use(t, "x", 1, 100, 701, 3700), NC_STALE);
	CU_ASSERT_EQUAL(nc_table_use(t, "x", 2, 100, 500, 700), NC_STALE);
	CU_ASSERT_EQUAL(nc_table_use(t, "y", 1, 650, 500, 1250), NC_REPLAY);
	/* an entry found expired on lookup: dropped, then stale */
	CU_ASSERT_EQUAL(nc_table_use(t, "y", 2, 650, 1250, 1900), NC_STALE);
	CU_ASSERT_EQUAL(nc_table_watermark(t), 650);
	nc_table_free(t);
}

/*
 * Churn: 20,000 first uses (several per second, shuffled expiries)
 * through a table of 64: every first use is accepted (never full), and
 * afterwards no nonce, old or recent, can be used again with nc 1.
 */
static void
test_nc_use_never_full_never_replay(void)
{
	struct nc_table	*t;
	char		 n[32];
	int64_t		 ts, now;
	int		 i, blocked = 0, replayed = 0, r;

	if ((t = nc_table_new(64)) == NULL)
		CU_FAIL_FATAL("nc_table_new");
	for (i = 0; i < 20000; i++) {
		snprintf(n, sizeof(n), "n%d", i);
		ts = 1000 + i / 7;
		now = ts + i % 3;
		if (nc_table_use(t, n, 1, ts, now, ts + 600 + i % 11) != NC_OK)
			blocked++;
		/* an earlier nonce replayed now and then, while it happens */
		if (i % 5 == 0 && i - 1 - i % 97 >= 0) {
			snprintf(n, sizeof(n), "n%d", i - 1 - i % 97);
			ts = 1000 + (i - 1 - i % 97) / 7;
			r = nc_table_use(t, n, 1, ts, now, ts + 600);
			if (r == NC_OK)
				replayed++;
		}
	}
	CU_ASSERT_EQUAL(blocked, 0);
	CU_ASSERT(nc_table_count(t) <= 64);
	now = 1000 + 20000 / 7;
	for (i = 0; i < 20000; i++) {
		snprintf(n, sizeof(n), "n%d", i);
		ts = 1000 + i / 7;
		if (nc_table_use(t, n, 1, ts, now, ts + 600 + i % 11) == NC_OK)
			replayed++;
	}
	CU_ASSERT_EQUAL(replayed, 0);
	nc_table_free(t);
}

/* 65,536 entries, 200,000 logins inside one validity: fast, none refused. */
static void
test_nc_use_scales_past_full(void)
{
	struct nc_table	*t;
	char		 n[DIGEST_NONCE_LEN + 1];
	double		 t0;
	int		 i, bad = 0;

	if ((t = nc_table_new(65536)) == NULL)
		CU_FAIL_FATAL("nc_table_new");
	t0 = mono();
	for (i = 0; i < 200000; i++) {
		snprintf(n, sizeof(n), "AAAAAGdFAwD%08dxL1naqTqygWccVX3chd0",
		    i);
		if (nc_table_use(t, n, 1, 1000 + i / 1000, 1000 + i / 1000,
		    1600 + i / 1000) != NC_OK)
			bad++;
	}
	CU_ASSERT_EQUAL(bad, 0);
	CU_ASSERT_EQUAL(nc_table_count(t), 65536);
	/* the watermark trails the newest by about a table's worth */
	CU_ASSERT(nc_table_watermark(t) >= 1000 + (200000 - 65536) / 1000 - 1);
	CU_ASSERT(nc_table_watermark(t) < 1000 + 200000 / 1000);
	CU_ASSERT(mono() - t0 < 2.0);
	nc_table_free(t);
}

static const struct unit_test	 tests[] = {
	{ "HA1 matches the spec vectors (MD5, SHA-256, SHA-512-256)",
	  test_ha1_matches_spec_vectors },
	{ "HA2 and response rebuilt by hand match the spec",
	  test_ha2_matches_spec_vectors },
	{ "responses match spec, RFC 7616 and hashlib known answers",
	  test_response_matches_known_answers },
	{ "response refuses bad arguments", test_response_refuses_bad_arguments },
	{ "algorithm names parse in any case, others refused",
	  test_algorithm_names_parse_any_case },
	{ "digest_equal is exact", test_equal_is_exact },
	{ "nonce matches the spec 2.5 vector", test_nonce_matches_spec_vector },
	{ "nonce is bound to key, realm and algorithm",
	  test_nonce_bound_to_key_realm_and_algorithm },
	{ "tampered and malformed nonces refused",
	  test_nonce_tampering_and_malformed_refused },
	{ "creds parse the spec 9.2 INVITE", test_creds_parse_spec_invite },
	{ "parsed creds verify against HA1", test_creds_parsed_then_verified },
	{ "creds parse tolerates LWS, case, tokens, escapes",
	  test_creds_parse_tolerates_lws_case_tokens_and_escapes },
	{ "malformed creds refused", test_creds_malformed_refused },
	{ "duplicate creds parameters refused",
	  test_creds_duplicate_parameters_refused },
	{ "over-long creds values refused", test_creds_over_long_values_refused },
	{ "creds format round trips, refuses injection",
	  test_creds_format_round_trips },
	{ "challenge parse and format", test_challenge_parse_and_format },
	{ "challenge parse variants", test_challenge_parse_variants },
	{ "malformed challenges refused", test_challenge_malformed_refused },
	{ "mutations never crash and round trip",
	  test_mutations_never_crash_and_round_trip },
	{ "nc table accepts increasing nc, refuses replays",
	  test_nc_table_accepts_increasing_refuses_replay },
	{ "nc table full, then expiry frees room",
	  test_nc_table_full_then_expiry_frees },
	{ "nc table holds 100k nonces quickly", test_nc_table_scales },
	{ "nonce time reads without the key", test_nonce_time_without_key },
	{ "algorithm preference lists parse strictly", test_alg_list_parse },
	{ "nc use: counts, replays, stale at first use", test_nc_use_basics },
	{ "nc use: full evicts the oldest, watermark refuses it",
	  test_nc_use_full_evicts_oldest },
	{ "nc use: expiry raises the watermark",
	  test_nc_use_expiry_raises_watermark },
	{ "nc use: never full, never a replay under churn",
	  test_nc_use_never_full_never_replay },
	{ "nc use: 200k logins through 65,536 entries quickly",
	  test_nc_use_scales_past_full },
	{ NULL, NULL }
};

void
unit_register_digest(void)
{
	unit_suite("digest", tests);
}
