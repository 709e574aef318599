/*
 * Suite "pwhash": salted PBKDF2-HMAC-SHA256 hashes (lib/pwhash.c):
 * round trip, mismatch, fresh salts, known answers computed by Python's
 * hashlib, every malformed encoding refused, mutations never verifying,
 * and the cost of one verify at PWHASH_ITER_DEF.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "pwhash.h"
#include "unit.h"

#define PW(s)	(const uint8_t *)(s), sizeof(s) - 1
#define SALT	"000102030405060708090a0b0c0d0e0f"
#define DK	"6e3849111be8d3070634220666e93c55" \
		"dbfd75e923f34d35716805464c0a7eaf"
#define DK_SHORT "6e3849111be8d3070634220666e93c55" \
		"dbfd75e923f34d35716805464c0a7ea"

/*
 * hashlib.pbkdf2_hmac('sha256', pw, bytes(range(16)), iter): an
 * independent implementation of the same construction.
 */
static const struct {
	const char	*enc;
	const char	*pw;
	size_t		 len;
} kat[] = {
	{ "pbkdf2-sha256$1000$000102030405060708090a0b0c0d0e0f$"
	  "6e3849111be8d3070634220666e93c55dbfd75e923f34d35716805464c0a7eaf",
	  "123456", 6 },
	{ "pbkdf2-sha256$1000$000102030405060708090a0b0c0d0e0f$"
	  "c5b301b1fd61bced63f00642a2304ec674519fbd7cd83c4bc83dafe1743f9855",
	  "", 0 },
	{ "pbkdf2-sha256$2048$000102030405060708090a0b0c0d0e0f$"
	  "7ecd322a4647b9b4f8e10067977bf3286df822e10ebea3d86131c7d11ede81ef",
	  "pass\0word", 9 },
};

static double
mono(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
test_make_then_verify_matches(void)
{
	char	 enc[PWHASH_ENC_MAX];
	char	 pfx[32];
	int	 n;

	CU_ASSERT_EQUAL_FATAL(pwhash_make(PW("4711"), 0, enc, sizeof(enc)),
	    0);

	n = snprintf(pfx, sizeof(pfx), "pbkdf2-sha256$%u$", PWHASH_ITER_DEF);
	CU_ASSERT_EQUAL(strncmp(enc, pfx, (size_t)n), 0);
	CU_ASSERT_EQUAL(strlen(enc), (size_t)n + 32 + 1 + 64);
	CU_ASSERT_EQUAL(pwhash_verify(enc, PW("4711")), 1);
	CU_ASSERT_PTR_NULL(strstr(enc, "4711"));
	/* An explicit count is encoded and used. */
	CU_ASSERT_EQUAL_FATAL(pwhash_make(PW("4711"), 1000, enc, sizeof(enc)),
	    0);
	CU_ASSERT_EQUAL(strncmp(enc, "pbkdf2-sha256$1000$", 19), 0);
	CU_ASSERT_EQUAL(pwhash_verify(enc, PW("4711")), 1);
}

static void
test_wrong_password_mismatches(void)
{
	char	 enc[PWHASH_ENC_MAX];

	CU_ASSERT_EQUAL_FATAL(pwhash_make(PW("123456"), 1000, enc,
	    sizeof(enc)), 0);
	CU_ASSERT_EQUAL(pwhash_verify(enc, PW("123457")), 0);
	CU_ASSERT_EQUAL(pwhash_verify(enc, PW("12345")), 0);
	CU_ASSERT_EQUAL(pwhash_verify(enc, PW("1234567")), 0);
	CU_ASSERT_EQUAL(pwhash_verify(enc, PW("")), 0);
	/* Length counts, not a C string: a trailing byte is another one. */
	CU_ASSERT_EQUAL(pwhash_verify(enc, PW("123456\x01")), 0);
	/*
	 * But trailing NULs are not (HMAC pads short keys with zeros, RFC
	 * 2104 section 2): the protocol strips the NUL (capf-protocol.md 8.1).
	 */
	CU_ASSERT_EQUAL(pwhash_verify(enc, PW("123456\0")), 1);
}

static void
test_empty_and_binary_passwords_round_trip(void)
{
	char	 enc[PWHASH_ENC_MAX];

	CU_ASSERT_EQUAL_FATAL(pwhash_make(NULL, 0, 1000, enc, sizeof(enc)), 0);
	CU_ASSERT_EQUAL(pwhash_verify(enc, NULL, 0), 1);
	CU_ASSERT_EQUAL(pwhash_verify(enc, PW("x")), 0);
	CU_ASSERT_EQUAL_FATAL(pwhash_make(PW("a\0b\xff"), 1000, enc,
	    sizeof(enc)), 0);
	CU_ASSERT_EQUAL(pwhash_verify(enc, PW("a\0b\xff")), 1);
	CU_ASSERT_EQUAL(pwhash_verify(enc, PW("a\0b\xfe")), 0);
}

static void
test_each_hash_has_a_fresh_salt(void)
{
	char	 a[PWHASH_ENC_MAX], b[PWHASH_ENC_MAX];

	CU_ASSERT_EQUAL_FATAL(pwhash_make(PW("same"), 1000, a, sizeof(a)), 0);
	CU_ASSERT_EQUAL_FATAL(pwhash_make(PW("same"), 1000, b, sizeof(b)), 0);
	CU_ASSERT_NOT_EQUAL(strcmp(a, b), 0);
	/* The salts (after "pbkdf2-sha256$1000$") differ. */
	CU_ASSERT_NOT_EQUAL(strncmp(a + 19, b + 19, 32), 0);
	CU_ASSERT_EQUAL(pwhash_verify(a, PW("same")), 1);
	CU_ASSERT_EQUAL(pwhash_verify(b, PW("same")), 1);
}

static void
test_known_answers_from_hashlib_verify(void)
{
	size_t	 i;

	for (i = 0; i < sizeof(kat) / sizeof(kat[0]); i++) {
		CU_ASSERT_EQUAL(pwhash_verify(kat[i].enc,
		    (const uint8_t *)kat[i].pw, kat[i].len), 1);
		CU_ASSERT_EQUAL(pwhash_verify(kat[i].enc,
		    (const uint8_t *)"nope", 4), 0);
	}
}

static void
test_make_refuses_bad_count_and_small_buffer(void)
{
	char	 enc[PWHASH_ENC_MAX];

	UNIT_FAILS(pwhash_make(PW("x"), 999, enc, sizeof(enc)), UC_ERR_ARG,
	    "999");
	UNIT_FAILS(pwhash_make(PW("x"), 10000001, enc, sizeof(enc)),
	    UC_ERR_ARG, "iteration");
	UNIT_FAILS(pwhash_make(PW("x"), 1, enc, sizeof(enc)), UC_ERR_ARG,
	    NULL);
	/* Room for all but the NUL: refused and nothing half-written. */
	UNIT_FAILS(pwhash_make(PW("x"), 1000, enc, 19 + 32 + 1 + 64),
	    UC_ERR_ARG, "too small");
	CU_ASSERT_EQUAL(enc[0], '\0');
	CU_ASSERT_EQUAL(pwhash_make(PW("x"), 1000, enc, 19 + 32 + 1 + 64 + 1),
	    0);
	UNIT_FAILS(pwhash_make(PW("x"), 1000, enc, 0), UC_ERR_ARG, NULL);
}

static void
test_malformed_encodings_are_refused(void)
{
	static const char *const bad[] = {
		"",
		"pbkdf2-sha256",
		"pbkdf2-sha256$",
		"pbkdf2-sha1$1000$" SALT "$" DK,
		"PBKDF2-SHA256$1000$" SALT "$" DK,
		/* iteration counts: too low, too high, leading zero, sign */
		"pbkdf2-sha256$999$" SALT "$" DK,
		"pbkdf2-sha256$10000001$" SALT "$" DK,
		"pbkdf2-sha256$01000$" SALT "$" DK,
		"pbkdf2-sha256$+1000$" SALT "$" DK,
		"pbkdf2-sha256$$" SALT "$" DK,
		"pbkdf2-sha256$100000000000000000001$" SALT "$" DK,
		/* salt: short, long, upper case, not hex */
		"pbkdf2-sha256$1000$000102030405060708090a0b0c0d0e$" DK,
		"pbkdf2-sha256$1000$000102030405060708090a0b0c0d0e0f10$" DK,
		"pbkdf2-sha256$1000$000102030405060708090A0B0C0D0E0F$" DK,
		"pbkdf2-sha256$1000$00010203040506070809g&0b0c0d0e0f$" DK,
		/* digest: short, long, upper case, trailing bytes, missing */
		"pbkdf2-sha256$1000$" SALT "$" DK_SHORT,
		"pbkdf2-sha256$1000$" SALT "$" DK "0",
		"pbkdf2-sha256$1000$" SALT "$"
		"6E3849111BE8D3070634220666E93C55"
		"DBFD75E923F34D35716805464C0A7EAF",
		"pbkdf2-sha256$1000$" SALT "$" DK "$",
		"pbkdf2-sha256$1000$" SALT "$",
		"pbkdf2-sha256$1000$" SALT,
		"pbkdf2-sha256$1000$" SALT ":" DK,
		" pbkdf2-sha256$1000$" SALT "$" DK,
	};
	size_t	 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		UNIT_FAILS(pwhash_verify(bad[i], PW("123456")), UC_ERR_FORMAT,
		    "pwhash");
		if (pwhash_verify(bad[i], PW("123456")) != UC_ERR_FORMAT)
			fprintf(stderr, "\n  accepted: %s\n", bad[i]);
	}
	UNIT_FAILS(pwhash_verify(NULL, PW("123456")), UC_ERR_FORMAT, NULL);
}

static void
test_overlong_encoding_is_refused_unread(void)
{
	char	*big;
	size_t	 n = 4 * PWHASH_ENC_MAX;

	/* A valid hash followed by a long tail, and no NUL within reach. */
	big = malloc(n + 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(big);
	memset(big, '0', n);
	big[n] = '\0';
	memcpy(big, kat[0].enc, strlen(kat[0].enc));
	UNIT_FAILS(pwhash_verify(big, PW("123456")), UC_ERR_FORMAT, NULL);
	free(big);
}

/* Bit flips and truncations of a valid encoding never verify. */
static void
test_mutations_never_verify(void)
{
	char	 m[PWHASH_ENC_MAX];
	size_t	 i, len = strlen(kat[0].enc);
	int	 bit, r, bad = 0;

	for (i = 0; i < len; i++) {
		for (bit = 0; bit < 8; bit += 3) {
			memcpy(m, kat[0].enc, len + 1);
			m[i] ^= (char)(1 << bit);
			r = pwhash_verify(m, PW("123456"));
			/* A flip in the count may give another count. */
			if (r == 1 || (r != 0 && r != UC_ERR_FORMAT))
				bad++;
		}
		memcpy(m, kat[0].enc, len + 1);
		m[i] = '\0';
		if (pwhash_verify(m, PW("123456")) != UC_ERR_FORMAT)
			bad++;
	}
	CU_ASSERT_EQUAL(bad, 0);
}

static void
test_verify_cost_at_default_count(void)
{
	char	 enc[PWHASH_ENC_MAX];
	double	 t0, ms;
	int	 i, n = 20, ok = 0;

	CU_ASSERT_EQUAL_FATAL(pwhash_make(PW("12345678"), PWHASH_ITER_DEF,
	    enc, sizeof(enc)), 0);
	t0 = mono();
	for (i = 0; i < n; i++)
		ok += pwhash_verify(enc, PW("12345678")) == 1;
	ms = (mono() - t0) * 1000 / n;
	CU_ASSERT_EQUAL(ok, n);
	fprintf(stderr, "\n  [pwhash] verify at %d iterations: %.2f ms\n",
	    PWHASH_ITER_DEF, ms);
	/* Generous (ASan slows OpenSSL's mallocs): a runaway count. */
	CU_ASSERT(ms < 1000);
}

static const struct unit_test tests[] = {
	{ "make then verify matches", test_make_then_verify_matches },
	{ "wrong password mismatches", test_wrong_password_mismatches },
	{ "empty and binary passwords round trip",
	    test_empty_and_binary_passwords_round_trip },
	{ "each hash has a fresh salt", test_each_hash_has_a_fresh_salt },
	{ "known answers from hashlib verify",
	    test_known_answers_from_hashlib_verify },
	{ "make refuses bad count and small buffer",
	    test_make_refuses_bad_count_and_small_buffer },
	{ "malformed encodings are refused",
	    test_malformed_encodings_are_refused },
	{ "overlong encoding is refused unread",
	    test_overlong_encoding_is_refused_unread },
	{ "mutations never verify", test_mutations_never_verify },
	{ "verify cost at default count", test_verify_cost_at_default_count },
	{ NULL, NULL }
};

void
unit_register_pwhash(void)
{
	unit_suite("pwhash", tests);
}
