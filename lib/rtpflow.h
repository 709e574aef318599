/*
 * RTP streams that check themselves, for the endpoint simulators
 * (sccp-phone, sip-phone) and the tests: a sender makes packets whose
 * payload is a pattern derived from (SSRC, sequence number), so any
 * receiver, and srtp-decrypt's output, can be checked packet by packet
 * without a copy of what was sent.  Received packets are read through
 * the cursor (RFC 3550 5.1 header, CSRCs, extension, padding).
 */
#ifndef UCSEC_RTPFLOW_H
#define UCSEC_RTPFLOW_H

#include <stddef.h>
#include <stdint.h>

#define RTP_HDR_LEN		12
#define RTP_RX_WINDOW		1024	/* late packets still told from dups */

struct rtp_hdr {
	uint8_t		 version, padding, extension, csrc_count, marker, pt;
	uint16_t	 seq;
	uint32_t	 ts, ssrc;
	size_t		 hdr_len;		/* incl. CSRCs and extension */
	const uint8_t	*payload;		/* into the packet */
	size_t		 payload_len;		/* without padding */
};

/*
 * Parse an RTP header (version 2).  payload points into buf and lives as
 * long as it.  UC_ERR_FORMAT or UC_ERR_TRUNCATED on a bad packet.
 */
int	 rtp_parse(const uint8_t *, size_t, struct rtp_hdr *);

struct rtp_tx {
	uint32_t	 ssrc;			/* random unless set */
	uint16_t	 seq;			/* next */
	uint32_t	 ts;
	uint8_t		 pt;
	uint32_t	 ts_step;		/* per packet (160 for 20 ms) */
};

/* Random SSRC, sequence and timestamp (RFC 3550 5.1). */
void	 rtp_tx_init(struct rtp_tx *, uint8_t, uint32_t);
/*
 * Write the next packet with payload_len pattern bytes into buf (cap
 * bytes); returns its length, 0 if it does not fit.  Advances seq/ts.
 */
size_t	 rtp_tx_next(struct rtp_tx *, uint8_t *, size_t, size_t);
/* The pattern byte i of the payload of (ssrc, seq). */
void	 rtp_pattern(uint32_t, uint16_t, uint8_t *, size_t);

struct rtp_rx {
	uint32_t	 ssrc;			/* first seen; 0 before */
	int		 started;
	uint16_t	 first_seq, max_seq;
	uint32_t	 cycles;		/* seq wraps */
	uint64_t	 received;		/* valid, in pattern */
	uint64_t	 duplicates;
	uint64_t	 bad;			/* not RTP or payload differs */
	uint64_t	 other_ssrc;		/* from another SSRC */
	uint64_t	 seen[RTP_RX_WINDOW / 64]; /* ring: seq % WINDOW seen */
};

/*
 * Account one received plain RTP packet into rx (zeroed before the
 * first packet): 0 if it is valid, new and its payload is the pattern;
 * UC_ERR_FORMAT otherwise, counted in bad (not RTP, payload differs,
 * more than RTP_RX_WINDOW behind the highest sequence), in duplicates,
 * or in other_ssrc (an SSRC other than the first one seen).
 */
int	 rtp_rx_check(struct rtp_rx *, const uint8_t *, size_t);
/* Packets expected from first to highest sequence, minus received. */
uint64_t rtp_rx_lost(const struct rtp_rx *);

#endif /* UCSEC_RTPFLOW_H */
