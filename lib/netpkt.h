/*
 * UDP datagrams out of captured link-layer frames, for srtp-decrypt:
 * Ethernet (with 802.1Q tags), Linux cooked (SLL, SLL2), raw IP and BSD
 * loopback; IPv4 (no fragments) and IPv6 (no extension headers but
 * hop-by-hop).  Read through the cursor: a capture is untrusted input.
 * And the reverse: a frame with new UDP payload for the output pcap.
 */
#ifndef UCSEC_NETPKT_H
#define UCSEC_NETPKT_H

#include <sys/socket.h>
#include <stddef.h>
#include <stdint.h>

struct netpkt_udp {
	struct sockaddr_storage	 src, dst;	/* with ports */
	size_t			 l3_off;	/* IP header offset in frame */
	size_t			 payload_off;	/* UDP payload offset */
	size_t			 payload_len;
};

/*
 * Find the UDP datagram in a frame of pcap link type dlt.  0 on success;
 * UC_ERR_UNSUPPORTED for a frame that is not UDP over IP (the caller
 * copies it unchanged); UC_ERR_FORMAT / UC_ERR_TRUNCATED for a broken one.
 */
int	 netpkt_udp_parse(int, const uint8_t *, size_t, struct netpkt_udp *);
/*
 * Rewrite a frame around a new UDP payload: link and IP headers copied
 * from the original frame, lengths fixed, IPv4 header checksum redone,
 * the UDP checksum set to 0 (IPv4) or recomputed (IPv6).  Writes at most
 * cap bytes into out; returns the length, 0 if it does not fit.
 */
size_t	 netpkt_udp_rebuild(const uint8_t *, const struct netpkt_udp *,
	    const uint8_t *, size_t, uint8_t *, size_t);

#endif /* UCSEC_NETPKT_H */
