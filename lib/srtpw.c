/*
 * A thin wrapper over libsrtp2 (2.x API: in place, int lengths, trailer
 * room after the packet).  One libsrtp session per struct srtpw, holding
 * one stream (a given SSRC) or one template (any SSRC) for one
 * direction.  Every packet is checked through the cursor before libsrtp
 * reads it (RFC 3550 5.1 / 6.4.1 header, RFC 3711 3.1 / 3.4 trailer);
 * see srtpw.h for the contract.
 *
 * Suites (enum srtp_suite, spec 6.2 / 6.17) map to libsrtp crypto
 * policies; the _32 suites keep the 80-bit tag for SRTCP (RFC 4568
 * 6.2.2, spec 6.17 "SRTCP 10").
 *
 * Error codes (negative UC_ERR_*, detail via uc_errdetail()):
 *   UC_ERR_ARG		bad suite, direction, key length, buffer room
 *   UC_ERR_FORMAT	not an RTP / RTCP / SRTP / SRTCP packet
 *   UC_ERR_SIGNATURE	authentication tag does not verify
 *   UC_ERR_POLICY	replayed or too old; SSRC not this context's
 *   UC_ERR_CRYPTO	any other libsrtp failure
 *   UC_ERR_ALLOC	out of memory
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <srtp2/srtp.h>

#include "cursor.h"
#include "sdes.h"
#include "srtpw.h"
#include "uerr.h"

#define SRTPW_LEN_MAX		65535	/* one UDP payload; fits an int */
#define RTP_FIXED_LEN		12	/* RFC 3550 5.1: fixed RTP header */
#define RTCP_HDR_LEN		8	/* RFC 3550 6.4.1: V..length, SSRC */
#define SRTCP_INDEX_LEN		4	/* RFC 3711 3.4: E flag + index */
#define RTP_VERSION		2	/* RFC 3550 5.1 */

struct srtpw {
	srtp_t		 ctx;		/* libsrtp session (owned) */
	int		 suite;		/* enum srtp_suite */
	int		 dir;		/* enum srtpw_dir */
	uint32_t	 ssrc;		/* the one SSRC, 0: any */
	size_t		 tag;		/* SRTP tag bytes */
	size_t		 rtcp_tag;	/* SRTCP tag bytes, no index */
};

/* libsrtp policies per suite, indexed by enum srtp_suite. */
static const struct {
	void		(*rtp)(srtp_crypto_policy_t *);
	void		(*rtcp)(srtp_crypto_policy_t *);
	size_t		 tag;			/* SRTP tag bytes */
	size_t		 rtcp_tag;		/* SRTCP tag bytes */
} wsuites[SUITE__MAX] = {
	{ srtp_crypto_policy_set_rtp_default,
	  srtp_crypto_policy_set_rtp_default, 10, 10 },
	{ srtp_crypto_policy_set_aes_cm_128_hmac_sha1_32,
	  srtp_crypto_policy_set_rtp_default, 4, 10 },
	{ srtp_crypto_policy_set_aes_gcm_128_16_auth,
	  srtp_crypto_policy_set_aes_gcm_128_16_auth, 16, 16 },
	{ srtp_crypto_policy_set_aes_gcm_256_16_auth,
	  srtp_crypto_policy_set_aes_gcm_256_16_auth, 16, 16 },
	{ srtp_crypto_policy_set_aes_cm_256_hmac_sha1_80,
	  srtp_crypto_policy_set_aes_cm_256_hmac_sha1_80, 10, 10 },
	{ srtp_crypto_policy_set_aes_cm_256_hmac_sha1_32,
	  srtp_crypto_policy_set_aes_cm_256_hmac_sha1_80, 4, 10 },
};

static pthread_once_t	 init_once = PTHREAD_ONCE_INIT;
static srtp_err_status_t init_status = srtp_err_status_init_fail;
/*
 * A session that never protects anything, kept for the process's life:
 * with the NSS backend every libsrtp cipher and HMAC opens an NSS
 * context, and closing the last one shuts NSS down (dlclose of the
 * softoken), so without it each srtpw_new costs ~4 ms instead of ~30 us.
 */
static srtp_t		 nss_anchor;

static void
init_run(void)
{
	srtp_policy_t	 p;
	uint8_t		 key[SRTP_MAX_KEY_LEN];

	if ((init_status = srtp_init()) != srtp_err_status_ok)
		return;
	memset(&p, 0, sizeof(p));
	srtp_crypto_policy_set_rtp_default(&p.rtp);
	srtp_crypto_policy_set_rtp_default(&p.rtcp);
	p.ssrc.type = ssrc_any_inbound;
	p.key = key;
	if (RAND_priv_bytes(key, sizeof(key)) == 1 &&
	    srtp_create(&nss_anchor, &p) != srtp_err_status_ok)
		nss_anchor = NULL;		/* only slower */
	OPENSSL_cleanse(key, sizeof(key));
}

/*
 * libsrtp's srtp_init(), run once per process whatever the number of
 * calls and threads.  Returns 0 or UC_ERR_CRYPTO.
 */
int
srtpw_init(void)
{
	if (pthread_once(&init_once, init_run) != 0 ||
	    init_status != srtp_err_status_ok)
		return uc_fail(UC_ERR_CRYPTO, "srtp: libsrtp srtp_init failed "
		    "(status %d)", (int)init_status);
	return 0;
}

/* Tag bytes a suite appends to an RTP packet; 0 for an unknown suite. */
size_t
srtpw_overhead(int suite)
{
	if (suite < 0 || suite >= SUITE__MAX)
		return 0;
	return wsuites[suite].tag;
}

/* One libsrtp status to a UC_ERR_* code with a detail line. */
static int
srtpw_err(const struct srtpw *w, srtp_err_status_t st, const char *op,
    uint32_t ssrc, const char *what, unsigned long idx)
{
	const char	*name = sdes_suite_name(w->suite);

	switch (st) {
	case srtp_err_status_auth_fail:
		return uc_fail(UC_ERR_SIGNATURE, "%s: %s ssrc 0x%08x %s %lu: "
		    "authentication tag does not verify (RFC 3711 3.3)", op,
		    name, ssrc, what, idx);
	case srtp_err_status_replay_fail:
		return uc_fail(UC_ERR_POLICY, "%s: %s ssrc 0x%08x %s %lu: "
		    "replayed packet (RFC 3711 3.3.2)", op, name, ssrc, what,
		    idx);
	case srtp_err_status_replay_old:
		return uc_fail(UC_ERR_POLICY, "%s: %s ssrc 0x%08x %s %lu: "
		    "older than the replay window (RFC 3711 3.3.2)", op, name,
		    ssrc, what, idx);
	default:
		return uc_fail(UC_ERR_CRYPTO, "%s: %s ssrc 0x%08x %s %lu: "
		    "libsrtp status %d", op, name, ssrc, what, idx, (int)st);
	}
}

/* Check the arguments every packet call shares. */
static int
srtpw_args(const struct srtpw *w, int dir, const uint8_t *buf,
    const size_t *len, const char *op)
{
	if (w == NULL || buf == NULL || len == NULL)
		return uc_fail(UC_ERR_ARG, "%s: NULL context or packet", op);
	if (w->dir != dir)
		return uc_fail(UC_ERR_ARG, "%s: %s context is for %s", op,
		    sdes_suite_name(w->suite), w->dir == SRTPW_TX ?
		    "sending (TX)" : "receiving (RX)");
	if (*len > SRTPW_LEN_MAX)
		return uc_fail(UC_ERR_FORMAT, "%s: %zu bytes, over the %d-byte "
		    "UDP limit", op, *len, SRTPW_LEN_MAX);
	return 0;
}

/*
 * The RTP header of len bytes (RFC 3550 5.1): version 2, CSRCs and the
 * extension inside the packet, then at least trailer more bytes (the
 * SRTP tag when unprotecting).  Sets *ssrc and *seq.
 */
static int
rtp_shape(const struct srtpw *w, const uint8_t *buf, size_t len,
    size_t trailer, const char *op, uint32_t *ssrc, uint16_t *seq)
{
	struct cursor	 c;
	const uint8_t	*h, *x;

	cur_init(&c, buf, len);
	if ((h = cur_bytes(&c, RTP_FIXED_LEN)) == NULL)
		return uc_fail(UC_ERR_FORMAT, "%s: %zu bytes, shorter than the "
		    "12-byte RTP header (RFC 3550 5.1)", op, len);
	*seq = (uint16_t)(h[2] << 8 | h[3]);
	*ssrc = (uint32_t)h[8] << 24 | (uint32_t)h[9] << 16 |
	    (uint32_t)h[10] << 8 | h[11];
	if (h[0] >> 6 != RTP_VERSION)
		return uc_fail(UC_ERR_FORMAT, "%s: ssrc 0x%08x: RTP version "
		    "%u, not 2 (RFC 3550 5.1)", op, *ssrc, h[0] >> 6);
	if ((h[0] & 0x0f) != 0)
		(void)cur_skip(&c, 4 * (size_t)(h[0] & 0x0f));
	if ((h[0] & 0x10) && (x = cur_bytes(&c, 4)) != NULL)
		(void)cur_skip(&c, 4 * (size_t)(x[2] << 8 | x[3]));
	if (cur_left(&c) < trailer || !cur_ok(&c))
		return uc_fail(UC_ERR_FORMAT, "%s: ssrc 0x%08x seq %u: "
		    "%zu bytes cannot hold the header's CSRCs and extension "
		    "and a %zu-byte tag (RFC 3550 5.1, RFC 3711 3.1)", op,
		    *ssrc, *seq, len, trailer);
	if (w->ssrc != 0 && *ssrc != w->ssrc)
		return uc_fail(UC_ERR_POLICY, "%s: %s: ssrc 0x%08x is not "
		    "this context's 0x%08x", op, sdes_suite_name(w->suite),
		    *ssrc, w->ssrc);
	return 0;
}

/*
 * The RTCP header of len bytes (RFC 3550 6.4.1): version 2, sender SSRC,
 * then at least trailer more bytes (SRTCP index and tag).
 */
static int
rtcp_shape(const struct srtpw *w, const uint8_t *buf, size_t len,
    size_t trailer, const char *op, uint32_t *ssrc)
{
	struct cursor	 c;
	const uint8_t	*h;

	cur_init(&c, buf, len);
	if ((h = cur_bytes(&c, RTCP_HDR_LEN)) == NULL ||
	    cur_left(&c) < trailer)
		return uc_fail(UC_ERR_FORMAT, "%s: %zu bytes, shorter than the "
		    "8-byte RTCP header and a %zu-byte trailer (RFC 3550 "
		    "6.4.1, RFC 3711 3.4)", op, len, trailer);
	*ssrc = (uint32_t)h[4] << 24 | (uint32_t)h[5] << 16 |
	    (uint32_t)h[6] << 8 | h[7];
	if (h[0] >> 6 != RTP_VERSION)
		return uc_fail(UC_ERR_FORMAT, "%s: ssrc 0x%08x: RTCP version "
		    "%u, not 2 (RFC 3550 6.4.1)", op, *ssrc, h[0] >> 6);
	if (w->ssrc != 0 && *ssrc != w->ssrc)
		return uc_fail(UC_ERR_POLICY, "%s: %s: ssrc 0x%08x is not "
		    "this context's 0x%08x", op, sdes_suite_name(w->suite),
		    *ssrc, w->ssrc);
	return 0;
}

/* Room for trailer bytes after *len in a buffer of cap bytes. */
static int
srtpw_room(const struct srtpw *w, size_t len, size_t cap, size_t trailer,
    const char *op)
{
	if (cap < len || cap - len < trailer)
		return uc_fail(UC_ERR_ARG, "%s: %s: buffer of %zu bytes has "
		    "no room for the %zu-byte trailer after %zu bytes", op,
		    sdes_suite_name(w->suite), cap, trailer, len);
	return 0;
}

/*
 * Protect an RTP packet in place (RFC 3711 3.3).  Returns 0, UC_ERR_ARG,
 * UC_ERR_FORMAT, UC_ERR_POLICY or UC_ERR_CRYPTO.
 */
int
srtpw_protect(struct srtpw *w, uint8_t *buf, size_t *len, size_t cap)
{
	srtp_err_status_t	 st;
	uint32_t		 ssrc;
	uint16_t		 seq;
	int			 n, r;

	if ((r = srtpw_args(w, SRTPW_TX, buf, len, "SRTP protect")) != 0 ||
	    (r = rtp_shape(w, buf, *len, 0, "SRTP protect", &ssrc,
	    &seq)) != 0 ||
	    (r = srtpw_room(w, *len, cap, w->tag, "SRTP protect")) != 0)
		return r;
	n = (int)*len;
	if ((st = srtp_protect(w->ctx, buf, &n)) != srtp_err_status_ok)
		return srtpw_err(w, st, "SRTP protect", ssrc, "seq", seq);
	*len = (size_t)n;
	return 0;
}

/*
 * Unprotect an SRTP packet in place (RFC 3711 3.3).  Returns 0,
 * UC_ERR_ARG, UC_ERR_FORMAT, UC_ERR_SIGNATURE, UC_ERR_POLICY or
 * UC_ERR_CRYPTO.
 */
int
srtpw_unprotect(struct srtpw *w, uint8_t *buf, size_t *len)
{
	srtp_err_status_t	 st;
	uint32_t		 ssrc;
	uint16_t		 seq;
	int			 n, r;

	if ((r = srtpw_args(w, SRTPW_RX, buf, len, "SRTP unprotect")) != 0 ||
	    (r = rtp_shape(w, buf, *len, w->tag, "SRTP unprotect", &ssrc,
	    &seq)) != 0)
		return r;
	n = (int)*len;
	if ((st = srtp_unprotect(w->ctx, buf, &n)) != srtp_err_status_ok)
		return srtpw_err(w, st, "SRTP unprotect", ssrc, "seq", seq);
	*len = (size_t)n;
	return 0;
}

/* Protect an RTCP compound packet in place (RFC 3711 3.4). */
int
srtpw_protect_rtcp(struct srtpw *w, uint8_t *buf, size_t *len, size_t cap)
{
	srtp_err_status_t	 st;
	uint32_t		 ssrc;
	int			 n, r;

	if ((r = srtpw_args(w, SRTPW_TX, buf, len, "SRTCP protect")) != 0 ||
	    (r = rtcp_shape(w, buf, *len, 0, "SRTCP protect", &ssrc)) != 0 ||
	    (r = srtpw_room(w, *len, cap, w->rtcp_tag + SRTCP_INDEX_LEN,
	    "SRTCP protect")) != 0)
		return r;
	n = (int)*len;
	if ((st = srtp_protect_rtcp(w->ctx, buf, &n)) != srtp_err_status_ok)
		return srtpw_err(w, st, "SRTCP protect", ssrc, "length",
		    (unsigned long)*len);
	*len = (size_t)n;
	return 0;
}

/* Unprotect an SRTCP packet in place (RFC 3711 3.4). */
int
srtpw_unprotect_rtcp(struct srtpw *w, uint8_t *buf, size_t *len)
{
	srtp_err_status_t	 st;
	uint32_t		 ssrc;
	int			 n, r;

	if ((r = srtpw_args(w, SRTPW_RX, buf, len, "SRTCP unprotect")) != 0 ||
	    (r = rtcp_shape(w, buf, *len, w->rtcp_tag + SRTCP_INDEX_LEN,
	    "SRTCP unprotect", &ssrc)) != 0)
		return r;
	n = (int)*len;
	if ((st = srtp_unprotect_rtcp(w->ctx, buf, &n)) != srtp_err_status_ok)
		return srtpw_err(w, st, "SRTCP unprotect", ssrc, "length",
		    (unsigned long)*len);
	*len = (size_t)n;
	return 0;
}

/* The key || salt length check shared by srtpw_new and srtpw_rekey. */
static int
key_check(int suite, const uint8_t *key, size_t len, const char *op)
{
	size_t	 want;

	if (suite < 0 || suite >= SUITE__MAX)
		return uc_fail(UC_ERR_ARG, "%s: suite %d unknown (spec 6.2)",
		    op, suite);
	want = sdes_suite_key_len(suite) + sdes_suite_salt_len(suite);
	if (key == NULL || len != want)
		return uc_fail(UC_ERR_ARG, "%s: %s takes %zu key and salt "
		    "bytes, got %zu (spec 6.2)", op, sdes_suite_name(suite),
		    want, key == NULL ? 0 : len);
	return 0;
}

/*
 * Fill a libsrtp policy for w's suite, direction and SSRC with keybuf
 * (SRTP_MAX_KEY_LEN bytes, key || salt then zeros).
 */
static void
policy_fill(const struct srtpw *w, srtp_policy_t *p, uint8_t *keybuf)
{
	memset(p, 0, sizeof(*p));
	wsuites[w->suite].rtp(&p->rtp);
	wsuites[w->suite].rtcp(&p->rtcp);
	if (w->ssrc != 0) {
		p->ssrc.type = ssrc_specific;
		p->ssrc.value = w->ssrc;
	} else
		p->ssrc.type = w->dir == SRTPW_TX ? ssrc_any_outbound :
		    ssrc_any_inbound;
	p->key = keybuf;
	p->window_size = 0;		/* libsrtp default, 128 */
	p->allow_repeat_tx = 0;
	p->next = NULL;
}

/*
 * A context for suite and direction with key || salt, for one SSRC or
 * (ssrc 0) any.  Returns 0 with *out set (caller frees with
 * srtpw_free), UC_ERR_ARG, UC_ERR_ALLOC or UC_ERR_CRYPTO.  Our copy of
 * the key is wiped before return.
 */
int
srtpw_new(struct srtpw **out, int suite, int dir, const uint8_t *key,
    size_t len, uint32_t ssrc)
{
	struct srtpw		*w = NULL;
	srtp_policy_t		 p;
	srtp_err_status_t	 st;
	uint8_t			 keybuf[SRTP_MAX_KEY_LEN];
	int			 r;

	memset(keybuf, 0, sizeof(keybuf));
	if (out == NULL || (dir != SRTPW_TX && dir != SRTPW_RX)) {
		r = uc_fail(UC_ERR_ARG, "srtp context: NULL result or "
		    "direction %d not TX or RX", dir);
		goto out;
	}
	*out = NULL;
	if ((r = key_check(suite, key, len, "srtp context")) != 0 ||
	    (r = srtpw_init()) != 0)
		goto out;
	if ((w = calloc(1, sizeof(*w))) == NULL) {
		r = uc_fail(UC_ERR_ALLOC, "srtp context: out of memory");
		goto out;
	}
	w->suite = suite;
	w->dir = dir;
	w->ssrc = ssrc;
	w->tag = wsuites[suite].tag;
	w->rtcp_tag = wsuites[suite].rtcp_tag;
	memcpy(keybuf, key, len);
	policy_fill(w, &p, keybuf);
	st = srtp_create(&w->ctx, &p);
	OPENSSL_cleanse(keybuf, sizeof(keybuf));
	if (st != srtp_err_status_ok) {
		w->ctx = NULL;
		r = uc_fail(UC_ERR_CRYPTO, "srtp context: %s ssrc 0x%08x: "
		    "libsrtp srtp_create status %d", sdes_suite_name(suite),
		    ssrc, (int)st);
		goto out;
	}
	*out = w;
	w = NULL;
	r = 0;
out:
	OPENSSL_cleanse(keybuf, sizeof(keybuf));
	srtpw_free(w);
	return r;
}

/*
 * New key || salt for w's suite, direction and SSRC (libsrtp's
 * srtp_update: the rollover counter and SRTCP index carry on).  Returns
 * 0, UC_ERR_ARG or UC_ERR_CRYPTO (w unusable then: free it).
 */
int
srtpw_rekey(struct srtpw *w, const uint8_t *key, size_t len)
{
	srtp_policy_t		 p;
	srtp_err_status_t	 st;
	uint8_t			 keybuf[SRTP_MAX_KEY_LEN];
	int			 r;

	memset(keybuf, 0, sizeof(keybuf));
	if (w == NULL) {
		r = uc_fail(UC_ERR_ARG, "srtp rekey: NULL context");
		goto out;
	}
	if ((r = key_check(w->suite, key, len, "srtp rekey")) != 0)
		goto out;
	memcpy(keybuf, key, len);
	policy_fill(w, &p, keybuf);
	st = srtp_update(w->ctx, &p);
	OPENSSL_cleanse(keybuf, sizeof(keybuf));
	if (st != srtp_err_status_ok) {
		r = uc_fail(UC_ERR_CRYPTO, "srtp rekey: %s ssrc 0x%08x: "
		    "libsrtp srtp_update status %d", sdes_suite_name(w->suite),
		    w->ssrc, (int)st);
		goto out;
	}
	r = 0;
out:
	OPENSSL_cleanse(keybuf, sizeof(keybuf));
	return r;
}

/* Free a context (NULL is fine); libsrtp wipes its session keys. */
void
srtpw_free(struct srtpw *w)
{
	if (w == NULL)
		return;
	if (w->ctx != NULL)
		(void)srtp_dealloc(w->ctx);
	free(w);
}
