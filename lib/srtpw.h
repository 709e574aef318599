/*
 * A thin wrapper over libsrtp2: one SRTP context per direction and key,
 * its policy made from a negotiated suite (lib/sdes.h enum srtp_suite),
 * protect and unprotect of RTP (and RTCP) in place, and rekeying.  The
 * wrapper checks the packet shape through the cursor before libsrtp sees
 * it, keeps no copy of the key (libsrtp's own copy is wiped by
 * srtp_dealloc) and maps libsrtp's errors to UC_ERR_* codes.
 */
#ifndef UCSEC_SRTPW_H
#define UCSEC_SRTPW_H

#include <stddef.h>
#include <stdint.h>

#define SRTPW_TRAILER_MAX	16	/* tag (GCM 16, HMAC-80 10) */
#define SRTPW_RTCP_TRAILER_MAX	(16 + 4)	/* + SRTCP index */

enum srtpw_dir { SRTPW_TX = 0, SRTPW_RX = 1 };

struct srtpw;

/*
 * libsrtp's srtp_init(), once per process (idempotent, thread-safe); it
 * also keeps one idle libsrtp session so the NSS backend stays loaded
 * (each srtpw_new then costs ~30 us, not ~4 ms).  srtpw_new calls it.
 */
int	 srtpw_init(void);
/*
 * A context for suite (enum srtp_suite) and direction (enum srtpw_dir)
 * with key || salt (exactly the suite's lengths; our copy is wiped).
 * ssrc 0 = any SSRC (ssrc_any_outbound / ssrc_any_inbound); otherwise
 * only that stream, and packets of another SSRC get UC_ERR_POLICY.
 * *out is freed with srtpw_free.  UC_ERR_ARG: bad suite, direction or
 * key length; UC_ERR_CRYPTO: libsrtp failed.
 */
int	 srtpw_new(struct srtpw **, int, int, const uint8_t *, size_t,
	    uint32_t);
/*
 * Protect an RTP packet of *len bytes in place; buf has room for cap
 * bytes (at least *len + SRTPW_TRAILER_MAX; the suite's tag is checked).
 * *len is updated.  Only on an SRTPW_TX context (else UC_ERR_ARG).
 * UC_ERR_FORMAT: not an RTP packet (or over 65535 bytes); UC_ERR_ARG: no
 * room; UC_ERR_POLICY: SSRC not the context's, or a sequence number
 * libsrtp refuses to reuse; UC_ERR_CRYPTO: libsrtp failed.
 */
int	 srtpw_protect(struct srtpw *, uint8_t *, size_t *, size_t);
/*
 * Unprotect an SRTP packet in place; *len is updated.  Only on an
 * SRTPW_RX context.  UC_ERR_SIGNATURE: authentication failed;
 * UC_ERR_POLICY: replayed (or too old), or SSRC not the context's;
 * UC_ERR_FORMAT: not an SRTP packet (shape checked first).
 */
int	 srtpw_unprotect(struct srtpw *, uint8_t *, size_t *);
/*
 * The same for RTCP (SRTCP, RFC 3711 3.4): room for
 * SRTPW_RTCP_TRAILER_MAX; the _32 suites use an 80-bit SRTCP tag.
 */
int	 srtpw_protect_rtcp(struct srtpw *, uint8_t *, size_t *, size_t);
int	 srtpw_unprotect_rtcp(struct srtpw *, uint8_t *, size_t *);
/*
 * New key || salt for the same suite, direction and SSRC (srtp_update:
 * rollover counter and SRTCP index carry on).  UC_ERR_ARG: wrong length.
 */
int	 srtpw_rekey(struct srtpw *, const uint8_t *, size_t);
/* Tag bytes the suite appends to an RTP packet. */
size_t	 srtpw_overhead(int);
void	 srtpw_free(struct srtpw *);

#endif /* UCSEC_SRTPW_H */
