/*
 * libFuzzer harness for the SRTP wrapper and RTP parser (lib/srtpw.c,
 * lib/rtpflow.c).  The input is one datagram:
 *   - rtp_parse: header, payload and padding lie inside the input;
 *     rtp_rx_check twice: the second time is never a new packet;
 *   - srtpw_unprotect and srtpw_unprotect_rtcp with fixed keys for
 *     AES_CM_128_HMAC_SHA1_80, _32 (spec 6.17 id 1) and AEAD_AES_128_GCM,
 *     on an exact-size copy: only the documented codes, a success strips
 *     exactly the tag (and SRTCP index), a detail line on failure; an
 *     SSRC-bound context too;
 *   - what protects (as RTP, as RTCP) must unprotect to the input bytes.
 * Contexts are fresh per input, so runs do not depend on earlier inputs.
 * Seeds: fuzz/corpus/fuzz-srtp (packets protected with the keys below,
 * SRTCP, a header with CSRCs, extension and padding, plain RTP).
 *
 *	make build-fuzz/fuzz-srtp && fuzz/run 60 build-fuzz/fuzz-srtp
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rtpflow.h"
#include "sdes.h"
#include "srtpw.h"
#include "uerr.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define CHECK(x)	do { if (!(x)) abort(); } while (0)
#define FUZZ_SSRC	0xdecafbadU	/* the seeds' SSRC */
#define RTT_MAX		2048		/* round trip only below this */

static const int fuzz_suites[] = {
	SUITE_AES_CM_128_HMAC_SHA1_80,
	SUITE_AES_CM_128_HMAC_SHA1_32,
	SUITE_AEAD_AES_128_GCM,
};

/* key[i] = 0xa0 + i, key || salt of the suite's length. */
static struct srtpw *
ctx_new(int suite, int dir, uint32_t ssrc)
{
	struct srtpw	*w = NULL;
	uint8_t		 key[SDES_KEYSALT_MAX];
	size_t		 i, n;

	n = sdes_suite_key_len(suite) + sdes_suite_salt_len(suite);
	for (i = 0; i < n; i++)
		key[i] = (uint8_t)(0xa0 + i);
	CHECK(srtpw_new(&w, suite, dir, key, n, ssrc) == 0);
	return w;
}

static uint8_t *
dup_exact(const uint8_t *data, size_t len, size_t room)
{
	uint8_t	*p;

	CHECK((p = malloc(len + room + 1)) != NULL);
	if (len > 0)
		memcpy(p, data, len);
	return p;
}

static void
check_code(int r)
{
	CHECK(r == 0 || r == UC_ERR_FORMAT || r == UC_ERR_SIGNATURE ||
	    r == UC_ERR_POLICY || r == UC_ERR_CRYPTO);
	CHECK(r == 0 || uc_errdetail()[0] != '\0');
}

static void
fuzz_parse(const uint8_t *data, size_t len)
{
	struct rtp_hdr	 h;
	struct rtp_rx	 rx;
	int		 r;

	r = rtp_parse(data, len, &h);
	if (r == 0) {
		CHECK(h.version == 2 && h.hdr_len >= RTP_HDR_LEN);
		CHECK(h.hdr_len + h.payload_len <= len);
		CHECK(h.payload == data + h.hdr_len);
	} else
		CHECK(r == UC_ERR_FORMAT || r == UC_ERR_TRUNCATED);
	memset(&rx, 0, sizeof(rx));
	r = rtp_rx_check(&rx, data, len);
	CHECK(r == 0 || r == UC_ERR_FORMAT);
	CHECK(rtp_rx_check(&rx, data, len) == UC_ERR_FORMAT);
	CHECK(rx.received <= 1 && rtp_rx_lost(&rx) == 0);
}

/* Unprotect an exact-size copy as SRTP and as SRTCP. */
static void
fuzz_unprotect(struct srtpw *rx, int suite, const uint8_t *data, size_t len)
{
	uint8_t	*p;
	size_t	 n;
	int	 r;

	p = dup_exact(data, len, 0);
	n = len;
	check_code(r = srtpw_unprotect(rx, p, &n));
	CHECK(r != 0 || n == len - srtpw_overhead(suite));
	free(p);
	p = dup_exact(data, len, 0);
	n = len;
	check_code(r = srtpw_unprotect_rtcp(rx, p, &n));
	CHECK(r != 0 || n < len);
	free(p);
}

/* Whatever protects must come back as the input. */
static void
fuzz_round_trip(int suite, int rtcp, const uint8_t *data, size_t len)
{
	struct srtpw	*tx, *rx;
	uint8_t		*p;
	size_t		 n = len;
	int		 r;

	tx = ctx_new(suite, SRTPW_TX, 0);
	rx = ctx_new(suite, SRTPW_RX, 0);
	p = dup_exact(data, len, SRTPW_RTCP_TRAILER_MAX);
	r = rtcp ? srtpw_protect_rtcp(tx, p, &n, len + SRTPW_RTCP_TRAILER_MAX) :
	    srtpw_protect(tx, p, &n, len + SRTPW_RTCP_TRAILER_MAX);
	check_code(r);
	if (r == 0) {
		CHECK(n > len && n <= len + SRTPW_RTCP_TRAILER_MAX);
		r = rtcp ? srtpw_unprotect_rtcp(rx, p, &n) :
		    srtpw_unprotect(rx, p, &n);
		CHECK(r == 0 && n == len && memcmp(p, data, len) == 0);
	}
	free(p);
	srtpw_free(tx);
	srtpw_free(rx);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct srtpw	*rx;
	size_t		 i;

	fuzz_parse(data, len);
	for (i = 0; i < sizeof(fuzz_suites) / sizeof(fuzz_suites[0]); i++) {
		rx = ctx_new(fuzz_suites[i], SRTPW_RX, 0);
		fuzz_unprotect(rx, fuzz_suites[i], data, len);
		srtpw_free(rx);
		if (len <= RTT_MAX) {
			fuzz_round_trip(fuzz_suites[i], 0, data, len);
			fuzz_round_trip(fuzz_suites[i], 1, data, len);
		}
	}
	rx = ctx_new(SUITE_AES_CM_128_HMAC_SHA1_32, SRTPW_RX, FUZZ_SSRC);
	fuzz_unprotect(rx, SUITE_AES_CM_128_HMAC_SHA1_32, data, len);
	srtpw_free(rx);
	return 0;
}
