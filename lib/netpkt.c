/*
 * UDP datagrams out of captured frames, and frames rebuilt around a new
 * UDP payload; see netpkt.h.  A capture is untrusted: every header is
 * read through the cursor and every length checked against what was
 * captured (RFC 791, RFC 8200, RFC 768; link types from the tcpdump.org
 * LINKTYPE list).
 *
 * Error codes (negative UC_ERR_*, detail via uc_errdetail()):
 *   UC_ERR_UNSUPPORTED	not UDP over IPv4/IPv6 (another protocol, an
 *			IPv4 fragment, an IPv6 extension header other than
 *			hop-by-hop, an unknown link type): copy it unchanged
 *   UC_ERR_TRUNCATED	a header or the datagram runs past the capture
 *   UC_ERR_FORMAT	a header that breaks its own rules
 */
#include <arpa/inet.h>
#include <netinet/in.h>

#include <string.h>

#include "cursor.h"
#include "netpkt.h"
#include "uerr.h"

/* pcap link types (tcpdump.org LINKTYPE_* / DLT_* values). */
#define LT_NULL			0	/* BSD loopback, host-order family */
#define LT_EN10MB		1	/* Ethernet II */
#define LT_RAW_DLT		12	/* DLT_RAW as libpcap reports it */
#define LT_RAW			101	/* LINKTYPE_RAW in files */
#define LT_LOOP			108	/* OpenBSD loopback, network order */
#define LT_LINUX_SLL		113	/* Linux cooked v1 */
#define LT_IPV4			228
#define LT_IPV6			229
#define LT_LINUX_SLL2		276	/* Linux cooked v2 */

#define ETHERTYPE_IPV4		0x0800
#define ETHERTYPE_IPV6		0x86dd
#define ETHERTYPE_VLAN		0x8100	/* 802.1Q */
#define ETHERTYPE_QINQ		0x88a8	/* 802.1ad */
#define ETHERTYPE_QINQ_OLD	0x9100	/* pre-standard QinQ */
#define VLAN_TAGS_MAX		4	/* stacked tags before the payload */

#define ETH_HDR_LEN		14
#define VLAN_TAG_LEN		4
#define SLL_HDR_LEN		16
#define SLL2_HDR_LEN		20
#define NULL_HDR_LEN		4
#define IPV4_HDR_MIN		20
#define IPV6_HDR_LEN		40
#define UDP_HDR_LEN		8
#define IPPROTO_HOPOPTS_	0	/* IPv6 hop-by-hop options */
#define IPPROTO_UDP_		17
#define IPV4_MF			0x2000
#define IPV4_OFFMASK		0x1fff

/* BSD AF_INET6 values seen in DLT_NULL/LOOP captures (Linux, NetBSD,
   OpenBSD, FreeBSD, macOS). */
static const uint32_t af_inet6_values[] = { 10, 24, 28, 30 };

/* The UDP header and payload of ip_len bytes at c (after the IP header). */
static int
udp_parse(struct cursor *c, size_t ip_left, struct netpkt_udp *u)
{
	uint16_t	 sport, dport, ulen;
	size_t		 off = cur_offset(c);

	if (ip_left < UDP_HDR_LEN)
		return uc_fail(UC_ERR_FORMAT, "UDP header at offset %zu: IP "
		    "leaves %zu bytes, needs %d (RFC 768)", off, ip_left,
		    UDP_HDR_LEN);
	if (cur_left(c) < UDP_HDR_LEN)
		return uc_fail(UC_ERR_TRUNCATED, "UDP header at offset %zu: "
		    "%zu bytes captured, needs %d", off, cur_left(c),
		    UDP_HDR_LEN);
	sport = cur_u16(c);
	dport = cur_u16(c);
	ulen = cur_u16(c);
	(void)cur_u16(c);			/* checksum */
	if (ulen < UDP_HDR_LEN || ulen > ip_left)
		return uc_fail(UC_ERR_FORMAT, "UDP header at offset %zu: "
		    "length %u outside %d..%zu (RFC 768)", off, ulen,
		    UDP_HDR_LEN, ip_left);
	if ((size_t)ulen - UDP_HDR_LEN > cur_left(c))
		return uc_fail(UC_ERR_TRUNCATED, "UDP payload at offset %zu: "
		    "%u bytes, %zu captured", cur_offset(c),
		    ulen - UDP_HDR_LEN, cur_left(c));
	if (u->src.ss_family == AF_INET) {
		((struct sockaddr_in *)&u->src)->sin_port = htons(sport);
		((struct sockaddr_in *)&u->dst)->sin_port = htons(dport);
	} else {
		((struct sockaddr_in6 *)&u->src)->sin6_port = htons(sport);
		((struct sockaddr_in6 *)&u->dst)->sin6_port = htons(dport);
	}
	u->payload_off = cur_offset(c);
	u->payload_len = (size_t)ulen - UDP_HDR_LEN;
	return 0;
}

/* IPv4 (RFC 791): IHL, total length within the capture, no fragment. */
static int
ipv4_parse(struct cursor *c, struct netpkt_udp *u)
{
	struct sockaddr_in	*src = (struct sockaddr_in *)&u->src;
	struct sockaddr_in	*dst = (struct sockaddr_in *)&u->dst;
	size_t			 off = cur_offset(c), avail = cur_left(c), hlen;
	uint16_t		 tot, frag;
	uint8_t			 vhl, proto;

	if (avail < IPV4_HDR_MIN)
		return uc_fail(UC_ERR_TRUNCATED, "IPv4 header at offset %zu: "
		    "%zu bytes captured, needs %d", off, avail, IPV4_HDR_MIN);
	vhl = cur_u8(c);
	hlen = (size_t)(vhl & 0x0f) * 4;
	(void)cur_u8(c);			/* DSCP/ECN */
	tot = cur_u16(c);
	(void)cur_u16(c);			/* identification */
	frag = cur_u16(c);
	(void)cur_u8(c);			/* TTL */
	proto = cur_u8(c);
	(void)cur_u16(c);			/* header checksum */
	src->sin_family = dst->sin_family = AF_INET;
	(void)cur_copy(c, &src->sin_addr, 4);
	(void)cur_copy(c, &dst->sin_addr, 4);
	if (vhl >> 4 != 4 || hlen < IPV4_HDR_MIN || tot < hlen)
		return uc_fail(UC_ERR_FORMAT, "IPv4 header at offset %zu: "
		    "version %u, IHL %zu, total length %u (RFC 791)", off,
		    vhl >> 4, hlen / 4, tot);
	if (tot > avail)
		return uc_fail(UC_ERR_TRUNCATED, "IPv4 packet at offset %zu: "
		    "total length %u, %zu bytes captured", off, tot, avail);
	if ((frag & (IPV4_MF | IPV4_OFFMASK)) != 0)
		return uc_fail(UC_ERR_UNSUPPORTED, "IPv4 packet at offset %zu: "
		    "a fragment (offset %u, MF %d); not reassembled", off,
		    (frag & IPV4_OFFMASK) * 8u, (frag & IPV4_MF) != 0);
	if (proto != IPPROTO_UDP_)
		return uc_fail(UC_ERR_UNSUPPORTED, "IPv4 packet at offset %zu: "
		    "protocol %u, not UDP", off, proto);
	if (!cur_skip(c, hlen - IPV4_HDR_MIN))
		return uc_fail(UC_ERR_INTERNAL, "IPv4 options at offset %zu: "
		    "checked length not readable", off);
	return udp_parse(c, (size_t)tot - hlen, u);
}

/* IPv6 hop-by-hop options header (RFC 8200 4.3): skip it. */
static int
ipv6_hbh_skip(struct cursor *c, size_t *left, uint8_t *next)
{
	size_t	 off = cur_offset(c), n;

	if (*left < 8 || cur_left(c) < 8)
		return uc_fail(UC_ERR_TRUNCATED, "IPv6 hop-by-hop header at "
		    "offset %zu: short", off);
	*next = cur_u8(c);
	n = ((size_t)cur_u8(c) + 1) * 8;
	if (n > *left || !cur_skip(c, n - 2))
		return uc_fail(UC_ERR_TRUNCATED, "IPv6 hop-by-hop header at "
		    "offset %zu: %zu bytes, runs past the packet", off, n);
	*left -= n;
	return 0;
}

/* IPv6 (RFC 8200): fixed header, optional hop-by-hop, then UDP. */
static int
ipv6_parse(struct cursor *c, struct netpkt_udp *u)
{
	struct sockaddr_in6	*src = (struct sockaddr_in6 *)&u->src;
	struct sockaddr_in6	*dst = (struct sockaddr_in6 *)&u->dst;
	size_t			 off = cur_offset(c), left;
	uint8_t			 ver, next;
	int			 r;

	if (cur_left(c) < IPV6_HDR_LEN)
		return uc_fail(UC_ERR_TRUNCATED, "IPv6 header at offset %zu: "
		    "%zu bytes captured, needs %d", off, cur_left(c),
		    IPV6_HDR_LEN);
	ver = cur_peek_u8(c) >> 4;
	(void)cur_u32(c);			/* version, class, flow */
	left = cur_u16(c);
	next = cur_u8(c);
	(void)cur_u8(c);			/* hop limit */
	src->sin6_family = dst->sin6_family = AF_INET6;
	(void)cur_copy(c, &src->sin6_addr, 16);
	(void)cur_copy(c, &dst->sin6_addr, 16);
	if (ver != 6)
		return uc_fail(UC_ERR_FORMAT, "IPv6 header at offset %zu: "
		    "version %u (RFC 8200)", off, ver);
	if (left == 0)
		return uc_fail(UC_ERR_UNSUPPORTED, "IPv6 packet at offset %zu: "
		    "payload length 0 (jumbogram)", off);
	if (left > cur_left(c))
		return uc_fail(UC_ERR_TRUNCATED, "IPv6 packet at offset %zu: "
		    "payload length %zu, %zu bytes captured", off, left,
		    cur_left(c));
	if (next == IPPROTO_HOPOPTS_ &&
	    (r = ipv6_hbh_skip(c, &left, &next)) != 0)
		return r;
	if (next != IPPROTO_UDP_)
		return uc_fail(UC_ERR_UNSUPPORTED, "IPv6 packet at offset %zu: "
		    "next header %u, not UDP", off, next);
	return udp_parse(c, left, u);
}

/* IP by its version nibble (raw IP link types). */
static int
ip_parse(struct cursor *c, struct netpkt_udp *u)
{
	uint8_t	 ver;

	if (cur_left(c) == 0)
		return uc_fail(UC_ERR_TRUNCATED, "IP header at offset %zu: "
		    "empty", cur_offset(c));
	ver = cur_peek_u8(c) >> 4;
	u->l3_off = cur_offset(c);
	if (ver == 4)
		return ipv4_parse(c, u);
	if (ver == 6)
		return ipv6_parse(c, u);
	return uc_fail(UC_ERR_UNSUPPORTED, "IP header at offset %zu: version "
	    "%u", cur_offset(c), ver);
}

/* An EtherType, after up to VLAN_TAGS_MAX 802.1Q/802.1ad tags. */
static int
ethertype_parse(struct cursor *c, uint16_t type, struct netpkt_udp *u)
{
	int	 tags = 0;

	while (type == ETHERTYPE_VLAN || type == ETHERTYPE_QINQ ||
	    type == ETHERTYPE_QINQ_OLD) {
		if (++tags > VLAN_TAGS_MAX)
			return uc_fail(UC_ERR_UNSUPPORTED, "VLAN tags at "
			    "offset %zu: more than %d", cur_offset(c),
			    VLAN_TAGS_MAX);
		if (cur_left(c) < VLAN_TAG_LEN)
			return uc_fail(UC_ERR_TRUNCATED, "VLAN tag at offset "
			    "%zu: short", cur_offset(c));
		(void)cur_u16(c);		/* PCP, DEI, VID */
		type = cur_u16(c);
	}
	u->l3_off = cur_offset(c);
	if (type == ETHERTYPE_IPV4)
		return ipv4_parse(c, u);
	if (type == ETHERTYPE_IPV6)
		return ipv6_parse(c, u);
	return uc_fail(UC_ERR_UNSUPPORTED, "frame at offset %zu: EtherType "
	    "0x%04x, not IP", cur_offset(c), type);
}

/* The link header of dlt; leaves c at the EtherType's payload. */
static int
link_parse(int dlt, struct cursor *c, struct netpkt_udp *u)
{
	size_t		 hlen, tpos;
	struct cursor	 t;

	switch (dlt) {
	case LT_EN10MB:
		hlen = ETH_HDR_LEN, tpos = 12;
		break;
	case LT_LINUX_SLL:
		hlen = SLL_HDR_LEN, tpos = 14;
		break;
	case LT_LINUX_SLL2:
		hlen = SLL2_HDR_LEN, tpos = 0;
		break;
	default:
		return uc_fail(UC_ERR_UNSUPPORTED, "link type %d: not "
		    "supported", dlt);
	}
	if (cur_left(c) < hlen)
		return uc_fail(UC_ERR_TRUNCATED, "link header (type %d): %zu "
		    "bytes captured, needs %zu", dlt, cur_left(c), hlen);
	t = *c;
	(void)cur_skip(&t, tpos);
	(void)cur_skip(c, hlen);
	return ethertype_parse(c, cur_u16(&t), u);
}

/* BSD loopback: a 4-byte address family in either byte order. */
static int
loop_parse(struct cursor *c, struct netpkt_udp *u)
{
	uint32_t	 af;
	size_t		 i;
	int		 v6 = 0;

	if (cur_left(c) < NULL_HDR_LEN)
		return uc_fail(UC_ERR_TRUNCATED, "loopback header: %zu bytes "
		    "captured, needs %d", cur_left(c), NULL_HDR_LEN);
	af = cur_u32(c);
	if (af > 0xffff)			/* little-endian writer */
		af = (af >> 24) | (af >> 8 & 0xff00) | (af << 8 & 0xff0000) |
		    af << 24;
	for (i = 0; i < sizeof(af_inet6_values) / sizeof(af_inet6_values[0]);
	    i++)
		v6 |= af == af_inet6_values[i];
	if (af != 2 && !v6)
		return uc_fail(UC_ERR_UNSUPPORTED, "loopback frame: address "
		    "family %lu, not IP", (unsigned long)af);
	if (cur_left(c) > 0 && (cur_peek_u8(c) >> 4) != (v6 ? 6 : 4))
		return uc_fail(UC_ERR_FORMAT, "loopback frame: family %lu but "
		    "IP version %u", (unsigned long)af, cur_peek_u8(c) >> 4);
	return ip_parse(c, u);
}

/*
 * Find the UDP datagram in a frame of len captured bytes of pcap link
 * type dlt (Ethernet with 802.1Q/802.1ad tags, Linux SLL and SLL2, raw
 * IP, BSD loopback).  Fills *u (addresses with ports, offsets into
 * frame).  0; UC_ERR_UNSUPPORTED for a frame that is not UDP over IP
 * (an IPv4 fragment included); UC_ERR_FORMAT or UC_ERR_TRUNCATED for a
 * broken or short one.
 */
int
netpkt_udp_parse(int dlt, const uint8_t *frame, size_t len,
    struct netpkt_udp *u)
{
	struct cursor	 c;

	memset(u, 0, sizeof(*u));
	cur_init(&c, frame, len);
	switch (dlt) {
	case LT_NULL:
	case LT_LOOP:
		return loop_parse(&c, u);
	case LT_RAW_DLT:
	case LT_RAW:
		return ip_parse(&c, u);
	case LT_IPV4:
		u->l3_off = 0;
		return ipv4_parse(&c, u);
	case LT_IPV6:
		u->l3_off = 0;
		return ipv6_parse(&c, u);
	default:
		return link_parse(dlt, &c, u);
	}
}

/* One's complement sum of n bytes at p, added to sum (RFC 1071). */
static uint32_t
csum_add(uint32_t sum, const uint8_t *p, size_t n)
{
	size_t	 i;

	for (i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (n & 1)
		sum += (uint32_t)p[n - 1] << 8;
	return sum;
}

static uint16_t
csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static void
put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* IPv4: total length, header checksum, UDP checksum 0 (RFC 768). */
static void
fix_ipv4(uint8_t *ip, size_t hlen, size_t tot)
{
	put16(ip + 2, (uint16_t)tot);
	put16(ip + 10, 0);
	put16(ip + 10, csum_fold(csum_add(0, ip, hlen)));
	put16(ip + hlen + 6, 0);
}

/* IPv6: payload length and the UDP checksum over the pseudo-header
   (RFC 8200 8.1); udp points at the UDP header of ulen bytes. */
static void
fix_ipv6(uint8_t *ip, size_t plen, uint8_t *udp, size_t ulen)
{
	uint8_t		 pseudo[8] = { 0 };
	uint32_t	 sum;
	uint16_t	 ck;

	put16(ip + 4, (uint16_t)plen);
	put16(udp + 6, 0);
	pseudo[2] = (uint8_t)(ulen >> 8);
	pseudo[3] = (uint8_t)ulen;
	pseudo[7] = IPPROTO_UDP_;
	sum = csum_add(0, ip + 8, 32);
	sum = csum_add(sum, pseudo, sizeof(pseudo));
	sum = csum_add(sum, udp, ulen);
	ck = csum_fold(sum);
	put16(udp + 6, ck == 0 ? 0xffff : ck);
}

/*
 * Rewrite a frame parsed into *u around a new UDP payload of plen bytes:
 * the link, IP (with its options or hop-by-hop header) and UDP headers
 * are copied from frame, then lengths fixed, the IPv4 header checksum
 * redone and the UDP checksum set to 0 (IPv4) or recomputed (IPv6).
 * Trailing bytes of the old frame (Ethernet padding) are dropped.
 * Writes at most cap bytes into out (which must not overlap frame);
 * returns the frame length, 0 if it does not fit or *u is inconsistent.
 */
size_t
netpkt_udp_rebuild(const uint8_t *frame, const struct netpkt_udp *u,
    const uint8_t *payload, size_t plen, uint8_t *out, size_t cap)
{
	struct cursor	 c;
	size_t		 hdr = u->payload_off, iplen, hlen;
	int		 v6 = u->dst.ss_family == AF_INET6;

	/* IPv4's total length counts its header; IPv6's payload length
	   leaves out the fixed 40 bytes */
	if ((!v6 && u->dst.ss_family != AF_INET) || hdr < u->l3_off +
	    (v6 ? IPV6_HDR_LEN : IPV4_HDR_MIN) + UDP_HDR_LEN ||
	    plen > 0xffff - (hdr - u->l3_off - (v6 ? IPV6_HDR_LEN : 0)) ||
	    hdr + plen > cap)
		return 0;
	iplen = hdr - u->l3_off + plen;
	cur_init(&c, frame + u->l3_off, hdr - u->l3_off);
	hlen = (size_t)(cur_u8(&c) & 0x0f) * 4;
	if (!v6 && hlen + UDP_HDR_LEN != hdr - u->l3_off)
		return 0;
	memcpy(out, frame, hdr);
	memmove(out + hdr, payload, plen);
	put16(out + hdr - UDP_HDR_LEN + 4, (uint16_t)(UDP_HDR_LEN + plen));
	if (v6)
		fix_ipv6(out + u->l3_off, iplen - IPV6_HDR_LEN,
		    out + hdr - UDP_HDR_LEN, UDP_HDR_LEN + plen);
	else
		fix_ipv4(out + u->l3_off, hlen, iplen);
	return hdr + plen;
}
