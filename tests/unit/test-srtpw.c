/*
 * Suite "srtpw": the libsrtp2 wrapper (lib/srtpw.c): round trips for the
 * six suites of spec 6.2, tampering, replay, wrong keys, packet shapes
 * refused before libsrtp, rekeying, SRTCP, SSRC-bound contexts, and an
 * RFC 3711 B.2 / B.3 known-answer test (keystream and key derivation
 * recomputed with OpenSSL, then a protected packet checked byte by byte).
 */
#include <stdlib.h>

#include <openssl/evp.h>
#include <openssl/params.h>

#include "rtpflow.h"
#include "sdes.h"
#include "srtpw.h"
#include "unit.h"

#define PKT_MAX		(1500 + SRTPW_RTCP_TRAILER_MAX)
#define SSRC_A		0x11223344U
#define SSRC_B		0x55667788U

static size_t
keysalt_len(int suite)
{
	return sdes_suite_key_len(suite) + sdes_suite_salt_len(suite);
}

static void
key_fill(uint8_t *k, size_t n, uint8_t seed)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		k[i] = (uint8_t)(seed + 7 * i);
}

/* A TX and an RX context for suite with the key made from seed. */
static int
pair_new(int suite, uint8_t seed, uint32_t ssrc, struct srtpw **tx,
    struct srtpw **rx)
{
	uint8_t	 k[SDES_KEYSALT_MAX];

	key_fill(k, keysalt_len(suite), seed);
	*tx = *rx = NULL;
	if (srtpw_new(tx, suite, SRTPW_TX, k, keysalt_len(suite), ssrc) != 0 ||
	    srtpw_new(rx, suite, SRTPW_RX, k, keysalt_len(suite), ssrc) != 0)
		return -1;
	return 0;
}

/* A plain RTP packet of payload_len bytes; seq set to seq. */
static size_t
pkt_make(uint8_t *buf, uint32_t ssrc, uint16_t seq, size_t payload_len)
{
	struct rtp_tx	 tx;

	rtp_tx_init(&tx, 0, 160);
	tx.ssrc = ssrc;
	tx.seq = seq;
	return rtp_tx_next(&tx, buf, PKT_MAX, payload_len);
}

/* A 28-byte RTCP sender report (RFC 3550 6.4.1) from ssrc. */
static size_t
rtcp_make(uint8_t *buf, uint32_t ssrc)
{
	static const uint8_t sr[28] = {
		0x80, 200, 0x00, 0x06, 0, 0, 0, 0,
		0xe8, 0x00, 0x00, 0x01, 0x40, 0x00, 0x00, 0x00,
		0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10,
		0x00, 0x00, 0x06, 0x40,
	};

	memcpy(buf, sr, sizeof(sr));
	buf[4] = (uint8_t)(ssrc >> 24);
	buf[5] = (uint8_t)(ssrc >> 16);
	buf[6] = (uint8_t)(ssrc >> 8);
	buf[7] = (uint8_t)ssrc;
	return sizeof(sr);
}

static void
test_every_suite_round_trips_rtp(void)
{
	struct srtpw	*tx, *rx;
	uint8_t		 plain[PKT_MAX], buf[PKT_MAX];
	size_t		 n, len;
	int		 s, i;

	for (s = 0; s < SUITE__MAX; s++) {
		CU_ASSERT_EQUAL_FATAL(pair_new(s, 1, 0, &tx, &rx), 0);
		for (i = 0; i < 20; i++) {
			n = pkt_make(plain, SSRC_A, (uint16_t)(100 + i), 160);
			memcpy(buf, plain, n);
			len = n;
			CU_ASSERT_EQUAL(srtpw_protect(tx, buf, &len,
			    sizeof(buf)), 0);
			CU_ASSERT_EQUAL(len, n + srtpw_overhead(s));
			CU_ASSERT(memcmp(buf, plain, RTP_HDR_LEN) == 0);
			CU_ASSERT(memcmp(buf + RTP_HDR_LEN, plain +
			    RTP_HDR_LEN, 160) != 0);
			CU_ASSERT_EQUAL(srtpw_unprotect(rx, buf, &len), 0);
			CU_ASSERT_EQUAL(len, n);
			CU_ASSERT(memcmp(buf, plain, n) == 0);
		}
		srtpw_free(tx);
		srtpw_free(rx);
	}
	CU_ASSERT_EQUAL(srtpw_overhead(SUITE_AES_CM_128_HMAC_SHA1_80), 10);
	CU_ASSERT_EQUAL(srtpw_overhead(SUITE_AES_CM_128_HMAC_SHA1_32), 4);
	CU_ASSERT_EQUAL(srtpw_overhead(SUITE_AEAD_AES_256_GCM), 16);
	CU_ASSERT_EQUAL(srtpw_overhead(SUITE__MAX), 0);
	CU_ASSERT_EQUAL(srtpw_init(), 0);	/* idempotent */
}

static void
test_every_suite_round_trips_rtcp(void)
{
	struct srtpw	*tx, *rx;
	uint8_t		 plain[PKT_MAX], buf[PKT_MAX], again[PKT_MAX];
	size_t		 n, len, want;
	int		 s;

	for (s = 0; s < SUITE__MAX; s++) {
		CU_ASSERT_EQUAL_FATAL(pair_new(s, 2, 0, &tx, &rx), 0);
		n = rtcp_make(plain, SSRC_A);
		memcpy(buf, plain, n);
		len = n;
		CU_ASSERT_EQUAL(srtpw_protect_rtcp(tx, buf, &len,
		    sizeof(buf)), 0);
		/* SRTCP index + tag; the _32 suites keep 80 bits here. */
		want = n + 4 + (s == SUITE_AEAD_AES_128_GCM ||
		    s == SUITE_AEAD_AES_256_GCM ? 16 : 10);
		CU_ASSERT_EQUAL(len, want);
		memcpy(again, buf, len);
		CU_ASSERT_EQUAL(srtpw_unprotect_rtcp(rx, buf, &len), 0);
		CU_ASSERT(len == n && memcmp(buf, plain, n) == 0);
		len = want;
		UNIT_FAILS(srtpw_unprotect_rtcp(rx, again, &len),
		    UC_ERR_POLICY, "replay");
		srtpw_free(tx);
		srtpw_free(rx);
	}
}

/* Protect one packet of seq with tx into out; returns its length. */
static size_t
protect_one(struct srtpw *tx, uint8_t *out, uint32_t ssrc, uint16_t seq)
{
	size_t	 len = pkt_make(out, ssrc, seq, 160);

	CU_ASSERT_EQUAL(srtpw_protect(tx, out, &len, PKT_MAX), 0);
	return len;
}

static void
test_any_tampered_byte_fails_signature(void)
{
	struct srtpw	*tx, *rx;
	uint8_t		 pkt[PKT_MAX], buf[PKT_MAX];
	size_t		 n, len, at[3];
	int		 s, i;

	for (s = 0; s < SUITE__MAX; s++) {
		CU_ASSERT_EQUAL_FATAL(pair_new(s, 3, 0, &tx, &rx), 0);
		n = protect_one(tx, pkt, SSRC_A, 7);
		at[0] = 2;			/* sequence number */
		at[1] = RTP_HDR_LEN + 50;	/* payload */
		at[2] = n - 1;			/* tag */
		for (i = 0; i < 3; i++) {
			memcpy(buf, pkt, n);
			buf[at[i]] ^= 0x01;
			len = n;
			UNIT_FAILS(srtpw_unprotect(rx, buf, &len),
			    UC_ERR_SIGNATURE, sdes_suite_name(s));
		}
		len = n;
		CU_ASSERT_EQUAL(srtpw_unprotect(rx, pkt, &len), 0);
		srtpw_free(tx);
		srtpw_free(rx);
	}
}

static void
test_replayed_and_too_old_packets_refused(void)
{
	struct srtpw	*tx, *rx;
	uint8_t		 pkt[PKT_MAX], old[PKT_MAX], buf[PKT_MAX];
	size_t		 n, nold, len;

	CU_ASSERT_EQUAL_FATAL(pair_new(SUITE_AES_CM_128_HMAC_SHA1_32, 4, 0,
	    &tx, &rx), 0);
	nold = protect_one(tx, old, SSRC_A, 10);
	n = protect_one(tx, pkt, SSRC_A, 11);
	memcpy(buf, pkt, n);
	len = n;
	CU_ASSERT_EQUAL(srtpw_unprotect(rx, buf, &len), 0);
	len = n;
	UNIT_FAILS(srtpw_unprotect(rx, pkt, &len), UC_ERR_POLICY,
	    "ssrc 0x11223344 seq 11: replayed");
	n = protect_one(tx, pkt, SSRC_A, 500);
	len = n;
	CU_ASSERT_EQUAL(srtpw_unprotect(rx, pkt, &len), 0);
	len = nold;
	UNIT_FAILS(srtpw_unprotect(rx, old, &len), UC_ERR_POLICY,
	    "replay window");
	/* The sender refuses to reuse a sequence number too. */
	len = pkt_make(pkt, SSRC_A, 500, 160);
	UNIT_FAILS(srtpw_protect(tx, pkt, &len, PKT_MAX), UC_ERR_POLICY,
	    "SRTP protect");
	srtpw_free(tx);
	srtpw_free(rx);
}

static void
test_wrong_key_fails_signature(void)
{
	struct srtpw	*tx, *rx, *tx2, *rx2;
	uint8_t		 pkt[PKT_MAX];
	size_t		 len;
	int		 s;

	for (s = 0; s < SUITE__MAX; s++) {
		CU_ASSERT_EQUAL_FATAL(pair_new(s, 5, 0, &tx, &rx), 0);
		CU_ASSERT_EQUAL_FATAL(pair_new(s, 6, 0, &tx2, &rx2), 0);
		len = protect_one(tx, pkt, SSRC_A, 1);
		UNIT_FAILS(srtpw_unprotect(rx2, pkt, &len), UC_ERR_SIGNATURE,
		    "authentication");
		len = rtcp_make(pkt, SSRC_A);
		CU_ASSERT_EQUAL(srtpw_protect_rtcp(tx, pkt, &len, PKT_MAX), 0);
		UNIT_FAILS(srtpw_unprotect_rtcp(rx2, pkt, &len),
		    UC_ERR_SIGNATURE, "SRTCP unprotect");
		srtpw_free(tx);
		srtpw_free(rx);
		srtpw_free(tx2);
		srtpw_free(rx2);
	}
}

static void
test_bad_arguments_refused(void)
{
	struct srtpw	*w = NULL, *rx = NULL;
	uint8_t		 k[64], pkt[PKT_MAX];
	size_t		 len;
	int		 s;

	key_fill(k, sizeof(k), 9);
	for (s = 0; s < SUITE__MAX; s++) {
		UNIT_FAILS(srtpw_new(&w, s, SRTPW_TX, k, keysalt_len(s) - 1,
		    0), UC_ERR_ARG, sdes_suite_name(s));
		CU_ASSERT_PTR_NULL(w);
		UNIT_FAILS(srtpw_new(&w, s, SRTPW_RX, k, keysalt_len(s) + 1,
		    0), UC_ERR_ARG, "key and salt");
		UNIT_FAILS(srtpw_new(&w, s, SRTPW_RX, NULL, 0, 0),
		    UC_ERR_ARG, NULL);
	}
	UNIT_FAILS(srtpw_new(&w, -1, SRTPW_TX, k, 30, 0), UC_ERR_ARG,
	    "unknown");
	UNIT_FAILS(srtpw_new(&w, SUITE__MAX, SRTPW_TX, k, 30, 0), UC_ERR_ARG,
	    "unknown");
	UNIT_FAILS(srtpw_new(&w, 0, 2, k, 30, 0), UC_ERR_ARG, "direction");
	UNIT_FAILS(srtpw_new(NULL, 0, SRTPW_TX, k, 30, 0), UC_ERR_ARG, NULL);
	CU_ASSERT_EQUAL_FATAL(pair_new(SUITE_AES_CM_128_HMAC_SHA1_80, 9, 0,
	    &w, &rx), 0);
	UNIT_FAILS(srtpw_rekey(w, k, 16), UC_ERR_ARG, "30 key and salt");
	UNIT_FAILS(srtpw_rekey(NULL, k, 30), UC_ERR_ARG, NULL);
	/* No room for the tag; wrong direction. */
	len = pkt_make(pkt, SSRC_A, 1, 160);
	UNIT_FAILS(srtpw_protect(w, pkt, &len, len + 9), UC_ERR_ARG, "room");
	UNIT_FAILS(srtpw_protect(rx, pkt, &len, PKT_MAX), UC_ERR_ARG,
	    "receiving");
	UNIT_FAILS(srtpw_unprotect(w, pkt, &len), UC_ERR_ARG, "sending");
	len = rtcp_make(pkt, SSRC_A);
	UNIT_FAILS(srtpw_protect_rtcp(w, pkt, &len, len + 13), UC_ERR_ARG,
	    "room");
	srtpw_free(w);
	srtpw_free(rx);
	srtpw_free(NULL);
}

static void
test_short_and_garbage_packets_are_format_errors(void)
{
	struct srtpw	*tx, *rx;
	uint8_t		 pkt[PKT_MAX];
	size_t		 len, i;

	CU_ASSERT_EQUAL_FATAL(pair_new(SUITE_AES_CM_128_HMAC_SHA1_80, 10, 0,
	    &tx, &rx), 0);
	memset(pkt, 0, sizeof(pkt));
	for (len = 0; len < RTP_HDR_LEN; len++) {
		pkt[0] = 0x80;
		UNIT_FAILS(srtpw_protect(tx, pkt, &len, PKT_MAX),
		    UC_ERR_FORMAT, "12-byte RTP header");
		UNIT_FAILS(srtpw_unprotect(rx, pkt, &len), UC_ERR_FORMAT,
		    "12-byte RTP header");
	}
	len = pkt_make(pkt, SSRC_A, 1, 40);
	pkt[0] = 0x40;			/* version 1 */
	UNIT_FAILS(srtpw_protect(tx, pkt, &len, PKT_MAX), UC_ERR_FORMAT,
	    "version 1");
	pkt[0] = 0x8f;			/* 15 CSRCs: 72 bytes of header */
	UNIT_FAILS(srtpw_protect(tx, pkt, &len, PKT_MAX), UC_ERR_FORMAT,
	    "CSRCs");
	pkt[0] = 0x90;			/* extension of 0xffff words */
	pkt[14] = pkt[15] = 0xff;
	UNIT_FAILS(srtpw_protect(tx, pkt, &len, PKT_MAX), UC_ERR_FORMAT,
	    "extension");
	/* A header with less than the tag after it. */
	len = pkt_make(pkt, SSRC_A, 1, 9);
	UNIT_FAILS(srtpw_unprotect(rx, pkt, &len), UC_ERR_FORMAT, "tag");
	len = 70000;
	UNIT_FAILS(srtpw_unprotect(rx, pkt, &len), UC_ERR_FORMAT, "UDP");
	/* RTCP: short, version 0, no room for index and tag. */
	len = 7;
	UNIT_FAILS(srtpw_protect_rtcp(tx, pkt, &len, PKT_MAX), UC_ERR_FORMAT,
	    "8-byte RTCP header");
	len = rtcp_make(pkt, SSRC_A);
	pkt[0] = 0x00;
	UNIT_FAILS(srtpw_protect_rtcp(tx, pkt, &len, PKT_MAX), UC_ERR_FORMAT,
	    "version 0");
	len = 8 + 4 + 9;
	pkt[0] = 0x80;
	UNIT_FAILS(srtpw_unprotect_rtcp(rx, pkt, &len), UC_ERR_FORMAT,
	    "trailer");
	/* Random bytes never unprotect. */
	for (i = 0; i < 200; i++) {
		len = 12 + i;
		key_fill(pkt, len, (uint8_t)i);
		pkt[0] = (uint8_t)(0x80 | (pkt[0] & 0x3f));
		CU_ASSERT(srtpw_unprotect(rx, pkt, &len) != 0);
		len = 12 + i;
		CU_ASSERT(srtpw_unprotect_rtcp(rx, pkt, &len) != 0);
	}
	srtpw_free(tx);
	srtpw_free(rx);
}

static void
test_rekey_switches_both_ends_to_the_new_key(void)
{
	struct srtpw	*tx, *rx, *old, *oldrx;
	uint8_t		 k[SDES_KEYSALT_MAX], pkt[PKT_MAX];
	uint8_t		 stale[PKT_MAX];
	size_t		 len, nstale;
	int		 s;
	uint16_t	 seq;

	for (s = 0; s < SUITE__MAX; s++) {
		CU_ASSERT_EQUAL_FATAL(pair_new(s, 11, 0, &tx, &rx), 0);
		CU_ASSERT_EQUAL_FATAL(pair_new(s, 11, 0, &old, &oldrx), 0);
		for (seq = 1; seq <= 5; seq++) {
			len = protect_one(tx, pkt, SSRC_A, seq);
			CU_ASSERT_EQUAL(srtpw_unprotect(rx, pkt, &len), 0);
		}
		key_fill(k, keysalt_len(s), 12);
		CU_ASSERT_EQUAL(srtpw_rekey(tx, k, keysalt_len(s)), 0);
		CU_ASSERT_EQUAL(srtpw_rekey(rx, k, keysalt_len(s)), 0);
		for (seq = 6; seq <= 10; seq++) {
			len = protect_one(tx, pkt, SSRC_A, seq);
			CU_ASSERT_EQUAL(srtpw_unprotect(rx, pkt, &len), 0);
		}
		nstale = protect_one(old, stale, SSRC_A, 11);
		UNIT_FAILS(srtpw_unprotect(rx, stale, &nstale),
		    UC_ERR_SIGNATURE, "authentication");
		len = protect_one(tx, pkt, SSRC_A, 11);
		UNIT_FAILS(srtpw_unprotect(oldrx, pkt, &len),
		    UC_ERR_SIGNATURE, "authentication");
		srtpw_free(tx);
		srtpw_free(rx);
		srtpw_free(old);
		srtpw_free(oldrx);
	}
}

static void
test_ssrc_bound_context_refuses_other_ssrc(void)
{
	struct srtpw	*tx, *rx, *anytx, *anyrx;
	uint8_t		 pkt[PKT_MAX];
	size_t		 len;

	CU_ASSERT_EQUAL_FATAL(pair_new(SUITE_AES_CM_128_HMAC_SHA1_32, 13,
	    SSRC_A, &tx, &rx), 0);
	CU_ASSERT_EQUAL_FATAL(pair_new(SUITE_AES_CM_128_HMAC_SHA1_32, 13, 0,
	    &anytx, &anyrx), 0);
	len = pkt_make(pkt, SSRC_B, 1, 160);
	UNIT_FAILS(srtpw_protect(tx, pkt, &len, PKT_MAX), UC_ERR_POLICY,
	    "ssrc 0x55667788 is not this context's 0x11223344");
	len = protect_one(anytx, pkt, SSRC_B, 1);
	UNIT_FAILS(srtpw_unprotect(rx, pkt, &len), UC_ERR_POLICY,
	    "not this context's");
	len = rtcp_make(pkt, SSRC_B);
	CU_ASSERT_EQUAL(srtpw_protect_rtcp(anytx, pkt, &len, PKT_MAX), 0);
	UNIT_FAILS(srtpw_unprotect_rtcp(rx, pkt, &len), UC_ERR_POLICY,
	    "not this context's");
	/* The bound pair works for its own SSRC, and the any-pair reads it. */
	len = protect_one(tx, pkt, SSRC_A, 2);
	CU_ASSERT_EQUAL(srtpw_unprotect(anyrx, pkt, &len), 0);
	len = protect_one(anytx, pkt, SSRC_A, 3);
	CU_ASSERT_EQUAL(srtpw_unprotect(rx, pkt, &len), 0);
	CU_ASSERT_EQUAL(srtpw_rekey(rx, (const uint8_t *)
	    "0123456789abcdef0123456789abcd", 30), 0);
	srtpw_free(tx);
	srtpw_free(rx);
	srtpw_free(anytx);
	srtpw_free(anyrx);
}

static int
hex_decode(const char *h, uint8_t *out, size_t n)
{
	size_t		 i;
	unsigned	 v;

	if (strlen(h) != 2 * n)
		return -1;
	for (i = 0; i < n; i++) {
		if (sscanf(h + 2 * i, "%2x", &v) != 1)
			return -1;
		out[i] = (uint8_t)v;
	}
	return 0;
}

/* AES-128 in counter mode (the whole IV counts) over n bytes in place. */
static int
aes_ctr(const uint8_t key[16], const uint8_t iv[16], uint8_t *buf, size_t n)
{
	EVP_CIPHER_CTX	*ctx;
	int		 outl, ok;

	if ((ctx = EVP_CIPHER_CTX_new()) == NULL)
		return -1;
	ok = EVP_EncryptInit_ex2(ctx, EVP_aes_128_ctr(), key, iv, NULL) &&
	    EVP_EncryptUpdate(ctx, buf, &outl, buf, (int)n);
	EVP_CIPHER_CTX_free(ctx);
	return ok ? 0 : -1;
}

/* RFC 3711 4.3.1 with kdr 0: n bytes of label from master key/salt. */
static int
kdf(const uint8_t mk[16], const uint8_t ms[14], uint8_t label, uint8_t *out,
    size_t n)
{
	uint8_t	 iv[16];

	memset(iv, 0, sizeof(iv));
	memcpy(iv, ms, 14);
	iv[7] ^= label;
	memset(out, 0, n);
	return aes_ctr(mk, iv, out, n);
}

static void
test_rfc3711_b2_keystream_and_b3_key_derivation(void)
{
	uint8_t	 key[16], iv[16], ks[32], mk[16], ms[14], out[20];

	/* B.2: AES-CM keystream, IV = salt * 2^16. */
	CU_ASSERT_FATAL(hex_decode("2b7e151628aed2a6abf7158809cf4f3c", key,
	    16) == 0);
	CU_ASSERT_FATAL(hex_decode("f0f1f2f3f4f5f6f7f8f9fafbfcfd0000", iv,
	    16) == 0);
	memset(ks, 0, sizeof(ks));
	CU_ASSERT_FATAL(aes_ctr(key, iv, ks, sizeof(ks)) == 0);
	CU_ASSERT_STRING_EQUAL(unit_hex(ks, 32), "e03ead0935c95e80e166b16dd9"
	    "2b4eb4d23513162b02d0f72a43a2fe4a5f97ab");
	/* B.3: session keys from the master key and salt. */
	CU_ASSERT_FATAL(hex_decode("e1f97a0d3e018be0d64fa32c06de4139", mk,
	    16) == 0);
	CU_ASSERT_FATAL(hex_decode("0ec675ad498afeebb6960b3aabe6", ms,
	    14) == 0);
	CU_ASSERT_FATAL(kdf(mk, ms, 0x00, out, 16) == 0);
	CU_ASSERT_STRING_EQUAL(unit_hex(out, 16),
	    "c61e7a93744f39ee10734afe3ff7a087");
	CU_ASSERT_FATAL(kdf(mk, ms, 0x02, out, 14) == 0);
	CU_ASSERT_STRING_EQUAL(unit_hex(out, 14),
	    "30cbbc08863d8c85d49db34a9ae1");
	CU_ASSERT_FATAL(kdf(mk, ms, 0x01, out, 20) == 0);
	CU_ASSERT_STRING_EQUAL(unit_hex(out, 20),
	    "cebe321f6ff7716b6fd4ab49af256a156d38baa4");
}

/*
 * The SRTP packet RFC 3711 3.3 / 4.1.1 / 4.2 makes from plain (n bytes,
 * 12-byte header, ROC 0) under the B.3 session keys, tag tag bytes.
 */
static int
srtp_expect(const uint8_t *plain, size_t n, size_t tag, uint8_t *out)
{
	uint8_t	 mk[16], ms[14], ke[16], ks[14], ka[20], iv[16], mac[20];
	uint8_t	 roc[4] = { 0, 0, 0, 0 };
	size_t	 maclen, i;
	EVP_MAC	*hmac = NULL;
	EVP_MAC_CTX *ctx = NULL;
	OSSL_PARAM p[2];
	int	 r = -1;

	if (hex_decode("e1f97a0d3e018be0d64fa32c06de4139", mk, 16) != 0 ||
	    hex_decode("0ec675ad498afeebb6960b3aabe6", ms, 14) != 0 ||
	    kdf(mk, ms, 0, ke, 16) != 0 || kdf(mk, ms, 1, ka, 20) != 0 ||
	    kdf(mk, ms, 2, ks, 14) != 0)
		return -1;
	memset(iv, 0, sizeof(iv));
	memcpy(iv, ks, 14);
	for (i = 0; i < 4; i++)			/* SSRC * 2^64 */
		iv[4 + i] ^= plain[8 + i];
	iv[12] ^= plain[2];			/* index * 2^16, ROC 0 */
	iv[13] ^= plain[3];
	memcpy(out, plain, n);
	if (aes_ctr(ke, iv, out + RTP_HDR_LEN, n - RTP_HDR_LEN) != 0)
		return -1;
	p[0] = OSSL_PARAM_construct_utf8_string("digest", (char *)"SHA1", 0);
	p[1] = OSSL_PARAM_construct_end();
	if ((hmac = EVP_MAC_fetch(NULL, "HMAC", NULL)) == NULL ||
	    (ctx = EVP_MAC_CTX_new(hmac)) == NULL ||
	    !EVP_MAC_init(ctx, ka, sizeof(ka), p) ||
	    !EVP_MAC_update(ctx, out, n) ||
	    !EVP_MAC_update(ctx, roc, sizeof(roc)) ||
	    !EVP_MAC_final(ctx, mac, &maclen, sizeof(mac)))
		goto out;
	memcpy(out + n, mac, tag);
	r = 0;
out:
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(hmac);
	return r;
}

static void
test_rfc3711_b3_keys_protect_known_answer(void)
{
	static const int suites[] = { SUITE_AES_CM_128_HMAC_SHA1_80,
	    SUITE_AES_CM_128_HMAC_SHA1_32 };
	struct srtpw	*tx;
	uint8_t		 mks[30], plain[PKT_MAX], got[PKT_MAX];
	uint8_t		 want[PKT_MAX];
	size_t		 n, len, i;

	CU_ASSERT_FATAL(hex_decode("e1f97a0d3e018be0d64fa32c06de4139"
	    "0ec675ad498afeebb6960b3aabe6", mks, 30) == 0);
	for (i = 0; i < 2; i++) {
		CU_ASSERT_EQUAL_FATAL(srtpw_new(&tx, suites[i], SRTPW_TX, mks,
		    30, 0), 0);
		n = pkt_make(plain, 0xdecafbad, 0x1234, 38);
		memcpy(got, plain, n);
		len = n;
		CU_ASSERT_EQUAL(srtpw_protect(tx, got, &len, sizeof(got)), 0);
		CU_ASSERT_EQUAL(len, n + srtpw_overhead(suites[i]));
		CU_ASSERT_EQUAL_FATAL(srtp_expect(plain, n,
		    srtpw_overhead(suites[i]), want), 0);
		CU_ASSERT(memcmp(got, want, len) == 0);
		srtpw_free(tx);
	}
}

static const struct unit_test tests[] = {
	{ "every suite round-trips RTP", test_every_suite_round_trips_rtp },
	{ "every suite round-trips RTCP, SRTCP replay refused",
	    test_every_suite_round_trips_rtcp },
	{ "a tampered header, payload or tag byte fails the signature",
	    test_any_tampered_byte_fails_signature },
	{ "replayed and too old packets are refused by policy",
	    test_replayed_and_too_old_packets_refused },
	{ "the wrong key fails the signature",
	    test_wrong_key_fails_signature },
	{ "wrong key lengths, suites, directions and room are refused",
	    test_bad_arguments_refused },
	{ "short and garbage packets are format errors",
	    test_short_and_garbage_packets_are_format_errors },
	{ "rekey switches both ends to the new key",
	    test_rekey_switches_both_ends_to_the_new_key },
	{ "an SSRC-bound context refuses another SSRC",
	    test_ssrc_bound_context_refuses_other_ssrc },
	{ "RFC 3711 B.2 keystream and B.3 key derivation (OpenSSL)",
	    test_rfc3711_b2_keystream_and_b3_key_derivation },
	{ "RFC 3711 B.3 master key: protect matches a recomputed packet",
	    test_rfc3711_b3_keys_protect_known_answer },
	{ NULL, NULL }
};

void
unit_register_srtpw(void)
{
	unit_suite("srtpw", tests);
}
