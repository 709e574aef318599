/*
 * SDP per call leg (spec 6): what an offer or answer says about its
 * audio/video streams, and the rewrite ccmd applies before passing it to
 * the other leg.  Bodies are parsed with libosip2's sdp_message; the
 * a=crypto values with lib/sdes.  Keys are wiped when a struct sdp_info
 * is cleared.
 */
#ifndef UCSEC_CCM_SDP_H
#define UCSEC_CCM_SDP_H

#include <stddef.h>

#include "sdes.h"

#define SDP_MEDIA_MAX	4
#define SDP_CRYPTO_MAX	8

enum sdp_dir { SDP_SENDRECV = 0, SDP_SENDONLY, SDP_RECVONLY, SDP_INACTIVE };

struct sdp_stream {
	char			 type[16];	/* "audio", "video" */
	int			 port;		/* 0 = rejected stream */
	int			 savp;		/* RTP/SAVP or RTP/SAVPF */
	int			 dir;		/* enum sdp_dir */
	int			 hold;		/* sendonly/inactive, or c=0.0.0.0 */
	int			 ncrypto;	/* usable a=crypto lines */
	int			 bad_crypto;	/* lines refused (MKI, length) */
	struct sdes_crypto	 crypto[SDP_CRYPTO_MAX];
};

struct sdp_info {
	int			 nmedia;
	struct sdp_stream	 media[SDP_MEDIA_MAX];
};

/* Parse a body; UC_ERR_FORMAT with detail when it is not usable SDP. */
int	 sdp_inspect(const char *, size_t, struct sdp_info *);
void	 sdp_info_clear(struct sdp_info *);

/* How to pass a body to the other leg. */
enum sdp_mode {
	SDP_PASS = 0,	/* unchanged (crypto kept: an encrypted leg) */
	SDP_STRIP = 1	/* RTP/AVP, every a=crypto removed (no keys on a
			   leg that is not encrypted TLS) */
};

/*
 * Rewrite body for the other leg (the body must parse).  *out is
 * malloc'd (NUL-terminated), *outlen its length.
 */
int	 sdp_rewrite(const char *, size_t, int, char **, size_t *);
/*
 * True when answer accepted SRTP for every active stream of offer: one
 * a=crypto per SAVP stream, same tag and suite as an offered line.
 */
int	 sdp_srtp_agreed(const struct sdp_info *, const struct sdp_info *);
/* A copy safe to log: keys (inline:, k=) replaced by "[masked]". */
char	*sdp_mask(const char *, size_t);

#endif /* UCSEC_CCM_SDP_H */
