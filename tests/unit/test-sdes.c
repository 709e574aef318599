/*
 * Suite "sdes": a=crypto values and SRTP suites (lib/sdes.c, spec 6.1,
 * 6.2, RFC 4568): the spec 9.2 example lines, exact key lengths, base64
 * padding per suite, lifetime, MKI, session parameters, hostile values.
 */
#include <stdio.h>
#include <stdlib.h>

#include "sdes.h"
#include "unit.h"

#define LINE(s)	(s), (sizeof(s) - 1)

/* base64 of the bytes 0, 1, 2, ... n-1 for the suites' lengths. */
#define B64_28	"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGw=="
#define B64_30	"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd"
#define B64_44	"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKis="
#define B64_46	"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKiss" \
		"LQ=="

/* Spec 9.2: the offer's two lines and the answer's line. */
#define SPEC_OFFER1 \
	"1 AES_CM_128_HMAC_SHA1_80 "					\
	"inline:EBESExQVFhcYGRobHB0eHyAhIiMkJSYnKCkqKywt"
#define SPEC_OFFER2 \
	"2 AES_CM_128_HMAC_SHA1_32 "					\
	"inline:QEFCQ0RFRkdISUpLTE1OT1BRUlNUVVZXWFlaW1xd"
#define SPEC_ANSWER \
	"1 AES_CM_128_HMAC_SHA1_80 "					\
	"inline:wMHCw8TFxsfIycrLzM3Oz9DR0tPU1dbX2Nna29zd"

static int
is_seq(const uint8_t *p, size_t n, uint8_t first)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (p[i] != (uint8_t)(first + i))
			return 0;
	return 1;
}

static int
all_zero(const void *p, size_t n)
{
	const uint8_t	*b = p;
	size_t		 i;

	for (i = 0; i < n; i++)
		if (b[i] != 0)
			return 0;
	return 1;
}

static void
test_suite_table_matches_spec_6_2(void)
{
	static const struct {
		const char	*name;
		int		 suite;
		size_t		 key, salt;
		int		 rank;
	} t[] = {
		{ "AES_CM_128_HMAC_SHA1_80", SUITE_AES_CM_128_HMAC_SHA1_80,
		    16, 14, 3 },
		{ "AES_CM_128_HMAC_SHA1_32", SUITE_AES_CM_128_HMAC_SHA1_32,
		    16, 14, 5 },
		{ "AEAD_AES_128_GCM", SUITE_AEAD_AES_128_GCM, 16, 12, 1 },
		{ "AEAD_AES_256_GCM", SUITE_AEAD_AES_256_GCM, 32, 12, 0 },
		{ "AES_256_CM_HMAC_SHA1_80", SUITE_AES_256_CM_HMAC_SHA1_80,
		    32, 14, 2 },
		{ "AES_256_CM_HMAC_SHA1_32", SUITE_AES_256_CM_HMAC_SHA1_32,
		    32, 14, 4 },
	};
	size_t	 i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		CU_ASSERT_EQUAL(sdes_suite_parse(t[i].name,
		    strlen(t[i].name)), t[i].suite);
		CU_ASSERT_STRING_EQUAL(sdes_suite_name(t[i].suite), t[i].name);
		CU_ASSERT_EQUAL(sdes_suite_key_len(t[i].suite), t[i].key);
		CU_ASSERT_EQUAL(sdes_suite_salt_len(t[i].suite), t[i].salt);
		CU_ASSERT_EQUAL(sdes_suite_rank(t[i].suite), t[i].rank);
	}
	CU_ASSERT_EQUAL(sdes_suite_parse("aes_cm_128_hmac_sha1_80", 23), -1);
	CU_ASSERT_EQUAL(sdes_suite_parse("F8_128_HMAC_SHA1_80", 19), -1);
	CU_ASSERT_EQUAL(sdes_suite_parse("AES_CM_128_HMAC_SHA1_8", 22), -1);
	CU_ASSERT_EQUAL(sdes_suite_parse("AES_CM_128_HMAC_SHA1_80", 22), -1);
	CU_ASSERT_EQUAL(sdes_suite_key_len(SUITE__MAX), 0);
	CU_ASSERT_EQUAL(sdes_suite_salt_len(-1), 0);
	CU_ASSERT_STRING_EQUAL(sdes_suite_name(SUITE__MAX), "unknown");
	CU_ASSERT(sdes_suite_rank(SUITE__MAX) > sdes_suite_rank(
	    SUITE_AES_CM_128_HMAC_SHA1_32));
}

static void
test_spec_9_2_lines_decode_to_the_table_keys(void)
{
	struct sdes_crypto	 sc;

	CU_ASSERT_EQUAL_FATAL(sdes_parse(LINE(SPEC_OFFER1), &sc), 0);
	CU_ASSERT_EQUAL(sc.tag, 1);
	CU_ASSERT_EQUAL(sc.suite, SUITE_AES_CM_128_HMAC_SHA1_80);
	CU_ASSERT_EQUAL(sc.keysalt_len, 30);
	CU_ASSERT_STRING_EQUAL(unit_hex(sc.keysalt, 16),
	    "101112131415161718191a1b1c1d1e1f");
	CU_ASSERT_STRING_EQUAL(unit_hex(sc.keysalt + 16, 14),
	    "202122232425262728292a2b2c2d");
	CU_ASSERT(!sc.has_lifetime && !sc.has_mki && sc.nparams == 0 &&
	    sc.wsh == 0);

	CU_ASSERT_EQUAL_FATAL(sdes_parse(LINE(SPEC_OFFER2), &sc), 0);
	CU_ASSERT_EQUAL(sc.tag, 2);
	CU_ASSERT_EQUAL(sc.suite, SUITE_AES_CM_128_HMAC_SHA1_32);
	CU_ASSERT(sc.keysalt_len == 30 && is_seq(sc.keysalt, 30, 0x40));

	CU_ASSERT_EQUAL_FATAL(sdes_parse(LINE(SPEC_ANSWER), &sc), 0);
	CU_ASSERT_STRING_EQUAL(unit_hex(sc.keysalt, 16),
	    "c0c1c2c3c4c5c6c7c8c9cacbcccdcecf");
	CU_ASSERT_STRING_EQUAL(unit_hex(sc.keysalt + 16, 14),
	    "d0d1d2d3d4d5d6d7d8d9dadbdcdd");
	sdes_wipe(&sc);
	CU_ASSERT(all_zero(&sc, sizeof(sc)));
}

static void
test_every_suite_round_trips_with_fresh_keys(void)
{
	struct sdes_crypto	 a, b, c;
	char			 buf[SDES_LINE_MAX];
	int			 s;

	for (s = 0; s < SUITE__MAX; s++) {
		CU_ASSERT_EQUAL_FATAL(sdes_new_key(s, 7, &a), 0);
		CU_ASSERT_EQUAL(a.keysalt_len, sdes_suite_key_len(s) +
		    sdes_suite_salt_len(s));
		CU_ASSERT_EQUAL_FATAL(sdes_format(&a, buf, sizeof(buf)), 0);
		CU_ASSERT(strncmp(buf, "7 ", 2) == 0);
		CU_ASSERT(strstr(buf, sdes_suite_name(s)) == buf + 2);
		CU_ASSERT_EQUAL_FATAL(sdes_parse(buf, strlen(buf), &b), 0);
		CU_ASSERT(b.tag == 7 && b.suite == s &&
		    b.keysalt_len == a.keysalt_len &&
		    memcmp(a.keysalt, b.keysalt, a.keysalt_len) == 0);
		/* Two fresh keys differ. */
		CU_ASSERT_EQUAL_FATAL(sdes_new_key(s, 7, &c), 0);
		CU_ASSERT(memcmp(a.keysalt, c.keysalt, a.keysalt_len) != 0);
		sdes_wipe(&a);
		sdes_wipe(&b);
		sdes_wipe(&c);
	}
	CU_ASSERT_EQUAL(sdes_new_key(SUITE__MAX, 1, &a), UC_ERR_ARG);
	CU_ASSERT_EQUAL(sdes_new_key(0, 1000000000, &a), UC_ERR_ARG);
}

static void
test_format_writes_the_exact_line(void)
{
	struct sdes_crypto	 sc;
	char			 buf[SDES_LINE_MAX];

	CU_ASSERT_EQUAL_FATAL(sdes_parse(LINE(SPEC_OFFER1 "|2^31|1:4 WSH=64"),
	    &sc), 0);
	CU_ASSERT_EQUAL(sdes_format(&sc, buf, sizeof(buf)), 0);
	CU_ASSERT_STRING_EQUAL(buf, SPEC_OFFER1);
	/* Exactly big enough, then one byte short. */
	CU_ASSERT_EQUAL(sdes_format(&sc, buf, sizeof(SPEC_OFFER1)), 0);
	UNIT_FAILS(sdes_format(&sc, buf, sizeof(SPEC_OFFER1) - 1), UC_ERR_ARG,
	    "too small");
	sc.keysalt_len = 28;
	UNIT_FAILS(sdes_format(&sc, buf, sizeof(buf)), UC_ERR_ARG, NULL);
	sc.keysalt_len = 30;
	sc.suite = SUITE__MAX;
	UNIT_FAILS(sdes_format(&sc, buf, sizeof(buf)), UC_ERR_ARG, NULL);
	sdes_wipe(&sc);
}

static void
test_gcm_and_aes256_padding_per_suite(void)
{
	struct sdes_crypto	 sc;

	CU_ASSERT_EQUAL(sdes_parse(LINE("3 AEAD_AES_128_GCM inline:" B64_28),
	    &sc), 0);
	CU_ASSERT(sc.keysalt_len == 28 && is_seq(sc.keysalt, 28, 0));
	CU_ASSERT_EQUAL(sdes_parse(LINE("4 AEAD_AES_256_GCM inline:" B64_44),
	    &sc), 0);
	CU_ASSERT(sc.keysalt_len == 44 && is_seq(sc.keysalt, 44, 0));
	CU_ASSERT_EQUAL(sdes_parse(LINE("5 AES_256_CM_HMAC_SHA1_80 inline:"
	    B64_46), &sc), 0);
	CU_ASSERT(sc.keysalt_len == 46 && is_seq(sc.keysalt, 46, 0));
	CU_ASSERT_EQUAL(sdes_parse(LINE("5 AES_256_CM_HMAC_SHA1_32 inline:"
	    B64_46), &sc), 0);
	/* Padding missing, short, or where none belongs. */
	UNIT_FAILS(sdes_parse(LINE("3 AEAD_AES_128_GCM inline:"
	    "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGw"), &sc), UC_ERR_FORMAT,
	    "needs 40");
	UNIT_FAILS(sdes_parse(LINE("3 AEAD_AES_128_GCM inline:"
	    "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGw="), &sc), UC_ERR_FORMAT,
	    NULL);
	UNIT_FAILS(sdes_parse(LINE("3 AEAD_AES_128_GCM inline:"
	    "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaG==="), &sc), UC_ERR_FORMAT,
	    "base64");
	UNIT_FAILS(sdes_parse(LINE("4 AEAD_AES_256_GCM inline:"
	    "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKis"),
	    &sc), UC_ERR_FORMAT, NULL);
	UNIT_FAILS(sdes_parse(LINE("4 AEAD_AES_256_GCM inline:"
	    "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKi=="),
	    &sc), UC_ERR_FORMAT, NULL);
	UNIT_FAILS(sdes_parse(LINE("5 AES_256_CM_HMAC_SHA1_80 inline:"
	    "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLQ"),
	    &sc), UC_ERR_FORMAT, NULL);
	/* Non-canonical: unused bits set in the last character. */
	UNIT_FAILS(sdes_parse(LINE("3 AEAD_AES_128_GCM inline:"
	    "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGx=="), &sc), UC_ERR_FORMAT,
	    "canonical");
	UNIT_FAILS(sdes_parse(LINE("4 AEAD_AES_256_GCM inline:"
	    "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKit="),
	    &sc), UC_ERR_FORMAT, "canonical");
	CU_ASSERT(all_zero(&sc, sizeof(sc)));
}

static void
test_wrong_key_lengths_are_refused(void)
{
	struct sdes_crypto	 sc;

	/* A GCM-sized key on a SHA-1 suite and the reverse. */
	UNIT_FAILS(sdes_parse(LINE("1 AES_CM_128_HMAC_SHA1_80 inline:" B64_28),
	    &sc), UC_ERR_FORMAT, "base64 of 30 bytes");
	UNIT_FAILS(sdes_parse(LINE("1 AEAD_AES_128_GCM inline:" B64_30), &sc),
	    UC_ERR_FORMAT, NULL);
	UNIT_FAILS(sdes_parse(LINE("1 AEAD_AES_256_GCM inline:" B64_46), &sc),
	    UC_ERR_FORMAT, NULL);
	UNIT_FAILS(sdes_parse(LINE("1 AES_256_CM_HMAC_SHA1_80 inline:" B64_30),
	    &sc), UC_ERR_FORMAT, NULL);
	UNIT_FAILS(sdes_parse(LINE("1 AES_CM_128_HMAC_SHA1_80 inline:"
	    B64_30 "AAAA"), &sc), UC_ERR_FORMAT, NULL);
	UNIT_FAILS(sdes_parse(LINE("1 AES_CM_128_HMAC_SHA1_80 inline:"), &sc),
	    UC_ERR_FORMAT, NULL);
}

static void
test_bad_base64_is_refused(void)
{
	static const char *const bad[] = {
		/* '-' and '_' are base64url, not RFC 4568's alphabet */
		"1 AES_CM_128_HMAC_SHA1_80 inline:"
		    "EBESExQVFhcYGRobHB0eHyAhIiMkJSYnKCkqKy-t",
		"1 AES_CM_128_HMAC_SHA1_80 inline:"
		    "EBESExQVFhcYGRobHB0eHyAhIiMkJSYnKCkqKy_t",
		"1 AES_CM_128_HMAC_SHA1_80 inline:"
		    "EBESExQVFhcYGRobHB0eHyAhIiMk=SYnKCkqKywt",
		"1 AES_CM_128_HMAC_SHA1_80 inline:"
		    "EBESExQVFhcYGRobHB0eHyAhIiMk*SYnKCkqKywt",
		"1 AES_CM_128_HMAC_SHA1_80 inline:"
		    "EBESExQVFhcYGRobHB0eHyAhIiMk\x01SYnKCkqKywt",
		"1 AES_CM_128_HMAC_SHA1_80 inline:"
		    "EBESExQVFhcYGRobHB0eHyAhIiMkJSYnKCkqKyw=",
		"1 AES_CM_128_HMAC_SHA1_80 inline:"
		    "EBESExQVFhcYGRobHB0eHyAhIiMkJSYnKCkqKy==",
	};
	struct sdes_crypto	 sc;
	size_t			 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		UNIT_FAILS(sdes_parse(bad[i], strlen(bad[i]), &sc),
		    UC_ERR_FORMAT, "a=crypto");
		CU_ASSERT(all_zero(&sc, sizeof(sc)));
	}
}

static void
test_lifetime_decimal_and_power_of_two(void)
{
	struct sdes_crypto	 sc;

	CU_ASSERT_EQUAL(sdes_parse(LINE(SPEC_OFFER1 "|2^31"), &sc), 0);
	CU_ASSERT(sc.has_lifetime && sc.lifetime == 2147483648ULL);
	CU_ASSERT(!sc.has_mki && sc.keysalt_len == 30);
	CU_ASSERT_EQUAL(sdes_parse(LINE(SPEC_OFFER1 "|1048576"), &sc), 0);
	CU_ASSERT(sc.has_lifetime && sc.lifetime == 1048576);
	CU_ASSERT_EQUAL(sdes_parse(LINE(SPEC_OFFER1 "|2"), &sc), 0);
	CU_ASSERT(sc.has_lifetime && sc.lifetime == 2);
	CU_ASSERT_EQUAL(sdes_parse(LINE(SPEC_OFFER1 "|2^0"), &sc), 0);
	CU_ASSERT(sc.lifetime == 1);
	CU_ASSERT_EQUAL(sdes_parse(LINE(SPEC_OFFER1 "|2^48"), &sc), 0);
	CU_ASSERT(sc.lifetime == 281474976710656ULL);
	CU_ASSERT_EQUAL(sdes_parse(LINE(SPEC_OFFER1 "|281474976710656"), &sc),
	    0);
	UNIT_FAILS(sdes_parse(LINE(SPEC_OFFER1 "|2^49"), &sc), UC_ERR_FORMAT,
	    "2^49");
	UNIT_FAILS(sdes_parse(LINE(SPEC_OFFER1 "|281474976710657"), &sc),
	    UC_ERR_FORMAT, "lifetime");
	UNIT_FAILS(sdes_parse(LINE(SPEC_OFFER1 "|0"), &sc), UC_ERR_FORMAT,
	    "lifetime");
	UNIT_FAILS(sdes_parse(LINE(SPEC_OFFER1 "|2^"), &sc), UC_ERR_FORMAT,
	    "lifetime");
	UNIT_FAILS(sdes_parse(LINE(SPEC_OFFER1 "|"), &sc), UC_ERR_FORMAT,
	    "lifetime");
	UNIT_FAILS(sdes_parse(LINE(SPEC_OFFER1 "|2^31x"), &sc), UC_ERR_FORMAT,
	    NULL);
	UNIT_FAILS(sdes_parse(LINE(SPEC_OFFER1 "|99999999999999999999999"),
	    &sc), UC_ERR_FORMAT, "lifetime");
	UNIT_FAILS(sdes_parse(LINE(SPEC_OFFER1 "|2^31|2^31"), &sc),
	    UC_ERR_FORMAT, "MKI");
}

static void
test_mki_is_parsed_and_reported(void)
{
	struct sdes_crypto	 sc;

	/* RFC 4568 9.1's example line. */
	CU_ASSERT_EQUAL(sdes_parse(LINE("1 AES_CM_128_HMAC_SHA1_80 "
	    "inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|1:32"), &sc),
	    0);
	CU_ASSERT(sc.has_mki && sc.has_lifetime && sc.lifetime == 1048576);
	CU_ASSERT_EQUAL(sdes_parse(LINE(SPEC_OFFER1 "|1:4"), &sc), 0);
	CU_ASSERT(sc.has_mki && !sc.has_lifetime);
	CU_ASSERT_EQUAL(sdes_parse(LINE(SPEC_OFFER1 "|2^31|7:128"), &sc), 0);
	CU_ASSERT(sc.has_mki && sc.has_lifetime);
	UNIT_FAILS(sdes_parse(LINE(SPEC_OFFER1 "|1:0"), &sc), UC_ERR_FORMAT,
	    "MKI");
	UNIT_FAILS(sdes_parse(LINE(SPEC_OFFER1 "|1:129"), &sc), UC_ERR_FORMAT,
	    "MKI");
	UNIT_FAILS(sdes_parse(LINE(SPEC_OFFER1 "|1:"), &sc), UC_ERR_FORMAT,
	    "MKI");
	UNIT_FAILS(sdes_parse(LINE(SPEC_OFFER1 "|:4"), &sc), UC_ERR_FORMAT,
	    "MKI");
	UNIT_FAILS(sdes_parse(LINE(SPEC_OFFER1 "|1:4|2^31"), &sc),
	    UC_ERR_FORMAT, NULL);
	/* Several keys need MKI; we use neither. */
	UNIT_FAILS(sdes_parse(LINE(SPEC_OFFER1 "|1:4;inline:"
	    "EBESExQVFhcYGRobHB0eHyAhIiMkJSYnKCkqKywt|2:4"), &sc),
	    UC_ERR_FORMAT, "several keys");
}

static void
test_session_parameters_and_wsh(void)
{
	struct sdes_crypto	 sc;

	CU_ASSERT_EQUAL(sdes_parse(LINE(SPEC_OFFER1 " WSH=64"), &sc), 0);
	CU_ASSERT(sc.nparams == 1 && sc.wsh == 64);
	CU_ASSERT_EQUAL(sdes_parse(LINE(SPEC_OFFER1 "|2^31 KDR=1 "
	    "UNENCRYPTED_SRTCP\tWSH=128  "), &sc), 0);
	CU_ASSERT(sc.nparams == 3 && sc.wsh == 128 && sc.has_lifetime);
	CU_ASSERT_EQUAL(sdes_parse(LINE(SPEC_OFFER1 " FEC_ORDER=FEC_SRTP"),
	    &sc), 0);
	CU_ASSERT(sc.nparams == 1 && sc.wsh == 0);
	/* Trailing WSP alone is no parameter. */
	CU_ASSERT_EQUAL(sdes_parse(LINE(SPEC_OFFER1 " \t"), &sc), 0);
	CU_ASSERT_EQUAL(sc.nparams, 0);
	UNIT_FAILS(sdes_parse(LINE(SPEC_OFFER1 " WSH=63"), &sc), UC_ERR_FORMAT,
	    "WSH");
	UNIT_FAILS(sdes_parse(LINE(SPEC_OFFER1 " WSH="), &sc), UC_ERR_FORMAT,
	    "WSH");
	UNIT_FAILS(sdes_parse(LINE(SPEC_OFFER1 " WSH=64x"), &sc),
	    UC_ERR_FORMAT, "WSH");
	UNIT_FAILS(sdes_parse(LINE(SPEC_OFFER1 " WSH=64 WSH=128"), &sc),
	    UC_ERR_FORMAT, "WSH");
	UNIT_FAILS(sdes_parse(LINE(SPEC_OFFER1 " WSH=1234567890"), &sc),
	    UC_ERR_FORMAT, "WSH");
	UNIT_FAILS(sdes_parse(LINE(SPEC_OFFER1 " KDR=1\r"), &sc),
	    UC_ERR_FORMAT, NULL);
	UNIT_FAILS(sdes_parse(LINE(SPEC_OFFER1 " \x01"), &sc), UC_ERR_FORMAT,
	    NULL);
}

static void
test_tag_suite_and_separators(void)
{
	struct sdes_crypto	 sc;

	CU_ASSERT_EQUAL(sdes_parse(LINE("999999999\tAES_CM_128_HMAC_SHA1_80  "
	    "inline:EBESExQVFhcYGRobHB0eHyAhIiMkJSYnKCkqKywt"), &sc), 0);
	CU_ASSERT_EQUAL(sc.tag, 999999999);
	UNIT_FAILS(sdes_parse(LINE("1000000000 AES_CM_128_HMAC_SHA1_80 "
	    "inline:EBESExQVFhcYGRobHB0eHyAhIiMkJSYnKCkqKywt"), &sc),
	    UC_ERR_FORMAT, "tag");
	UNIT_FAILS(sdes_parse(LINE(" 1 AES_CM_128_HMAC_SHA1_80 "
	    "inline:EBESExQVFhcYGRobHB0eHyAhIiMkJSYnKCkqKywt"), &sc),
	    UC_ERR_FORMAT, "tag");
	UNIT_FAILS(sdes_parse(LINE("1AES_CM_128_HMAC_SHA1_80 "
	    "inline:EBESExQVFhcYGRobHB0eHyAhIiMkJSYnKCkqKywt"), &sc),
	    UC_ERR_FORMAT, "after the tag");
	UNIT_FAILS(sdes_parse(LINE("1 AES_CM_128_HMAC_SHA1_80"), &sc),
	    UC_ERR_FORMAT, "key parameters");
	UNIT_FAILS(sdes_parse(LINE("1 AES_CM_128_HMAC_SHA1_80 "
	    "INLINE:EBESExQVFhcYGRobHB0eHyAhIiMkJSYnKCkqKywt"), &sc),
	    UC_ERR_FORMAT, "inline");
	UNIT_FAILS(sdes_parse(LINE("1 AES_CM_128_HMAC_SHA1_80 uri:x"), &sc),
	    UC_ERR_FORMAT, "inline");
	UNIT_FAILS(sdes_parse(LINE(""), &sc), UC_ERR_FORMAT, "tag");
	UNIT_FAILS(sdes_parse(LINE("1 "), &sc), UC_ERR_FORMAT, "suite");
	/* Unknown suites: the caller skips the line. */
	UNIT_FAILS(sdes_parse(LINE("1 F8_128_HMAC_SHA1_80 inline:"
	    "EBESExQVFhcYGRobHB0eHyAhIiMkJSYnKCkqKywt"), &sc),
	    UC_ERR_UNSUPPORTED, "F8_128_HMAC_SHA1_80");
	UNIT_FAILS(sdes_parse(LINE("1 aes_cm_128_hmac_sha1_80 inline:x"), &sc),
	    UC_ERR_UNSUPPORTED, NULL);
	UNIT_FAILS(sdes_parse(LINE("1 SOME_FUTURE_SUITE FEC_KEY=x"), &sc),
	    UC_ERR_UNSUPPORTED, NULL);
}

static void
test_failure_leaves_no_key(void)
{
	struct sdes_crypto	 sc;

	/* The key decodes, then the value fails: nothing stays behind. */
	UNIT_FAILS(sdes_parse(LINE(SPEC_OFFER1 "|1:4|junk"), &sc),
	    UC_ERR_FORMAT, NULL);
	CU_ASSERT(all_zero(&sc, sizeof(sc)));
	UNIT_FAILS(sdes_parse(LINE(SPEC_OFFER1 "x"), &sc), UC_ERR_FORMAT,
	    NULL);
	CU_ASSERT(all_zero(&sc, sizeof(sc)));
	sdes_wipe(NULL);
}

static void
test_prefixes_and_bit_flips_never_crash(void)
{
	static const char	 line[] = SPEC_OFFER1 "|2^31|1:4 WSH=64 KDR=2";
	struct sdes_crypto	 sc;
	char			 buf[sizeof(line)];
	size_t			 n, keyend = strlen(SPEC_OFFER1), i;
	int			 bit, r, nok = 0;

	/* Every prefix shorter than the whole key fails. */
	for (n = 0; n < keyend; n++)
		if (sdes_parse(line, n, &sc) == 0)
			nok++;
	CU_ASSERT_EQUAL(nok, 0);
	for (n = keyend; n <= sizeof(line) - 1; n++) {
		r = sdes_parse(line, n, &sc);
		CU_ASSERT(r == 0 || r == UC_ERR_FORMAT);
	}
	for (i = 0; i < sizeof(line) - 1; i++)
		for (bit = 0; bit < 8; bit++) {
			memcpy(buf, line, sizeof(line));
			buf[i] ^= (char)(1 << bit);
			r = sdes_parse(buf, sizeof(line) - 1, &sc);
			CU_ASSERT(r == 0 || r == UC_ERR_FORMAT ||
			    r == UC_ERR_UNSUPPORTED);
			if (r == 0)
				CU_ASSERT_EQUAL(sc.keysalt_len,
				    sdes_suite_key_len(sc.suite) +
				    sdes_suite_salt_len(sc.suite));
		}
}

static const struct unit_test tests[] = {
	{ "suite table matches spec 6.2", test_suite_table_matches_spec_6_2 },
	{ "spec 9.2 lines decode to the table's keys",
	    test_spec_9_2_lines_decode_to_the_table_keys },
	{ "every suite round trips with fresh keys",
	    test_every_suite_round_trips_with_fresh_keys },
	{ "format writes the exact line", test_format_writes_the_exact_line },
	{ "GCM and AES-256 base64 padding per suite",
	    test_gcm_and_aes256_padding_per_suite },
	{ "wrong key lengths are refused", test_wrong_key_lengths_are_refused },
	{ "bad base64 is refused", test_bad_base64_is_refused },
	{ "lifetime: decimal and 2^n up to 2^48",
	    test_lifetime_decimal_and_power_of_two },
	{ "MKI is parsed and reported", test_mki_is_parsed_and_reported },
	{ "session parameters are counted; WSH checked",
	    test_session_parameters_and_wsh },
	{ "tag, suite and separators", test_tag_suite_and_separators },
	{ "a failure leaves no key", test_failure_leaves_no_key },
	{ "prefixes and bit flips never crash",
	    test_prefixes_and_bit_flips_never_crash },
	{ NULL, NULL },
};

void
unit_register_sdes(void)
{
	unit_suite("sdes", tests);
}
