/*
 * Suite "netpkt": UDP out of captured frames (lib/netpkt.c) for every
 * link type srtp-decrypt reads (Ethernet with 802.1Q/802.1ad tags, Linux
 * SLL and SLL2, raw IP as DLT 12 and LINKTYPE 101, BSD loopback in both
 * byte orders), IPv4 (options, padding, fragments) and IPv6 (hop-by-hop,
 * other extension headers), truncations and broken lengths, and frames
 * rebuilt around a new payload with correct IPv4 header and IPv6 UDP
 * checksums.  The frames are made by hand here.
 */
#include <arpa/inet.h>
#include <netinet/in.h>

#include <stdlib.h>

#include "netpkt.h"
#include "unit.h"

#define F_MAX		512

/* How a test frame is made. */
struct fspec {
	int		 v6;		/* IPv6, else IPv4 */
	int		 ihl;		/* IPv4 header words (5: no options) */
	int		 hbh;		/* IPv6: hop-by-hop header of 8 bytes */
	uint16_t	 frag;		/* IPv4 flags + fragment offset */
	uint8_t		 proto;		/* 17 */
	size_t		 plen;		/* UDP payload bytes */
	size_t		 pad;		/* bytes after the IP packet */
};

static const uint8_t payload_bytes[] = "0123456789abcdefghijklmnopqrstuv";

static void
put16(uint8_t *p, unsigned int v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* Independent RFC 1071 checksum over the given bytes. */
static uint16_t
ones_sum(const uint8_t *p, size_t n, uint32_t sum)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		sum += i % 2 ? p[i] : (uint32_t)p[i] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/* IP + UDP packet at p from spec; returns its length with padding. */
static size_t
ip_make(uint8_t *p, const struct fspec *s)
{
	size_t	 o, ulen = 8 + s->plen;

	memset(p, 0, 40 + 8 + 60 + s->plen + s->pad);
	if (!s->v6) {
		o = (size_t)s->ihl * 4;
		p[0] = (uint8_t)(0x40 | s->ihl);
		put16(p + 2, (unsigned int)(o + ulen));
		put16(p + 6, s->frag);
		p[8] = 64;
		p[9] = s->proto;
		memcpy(p + 12, "\xc0\x00\x02\x0a\xc0\x00\x02\x14", 8);
		memset(p + 20, 1, o - 20);		/* NOPs */
		put16(p + 10, (unsigned int)(uint16_t)~ones_sum(p, o, 0));
	} else {
		o = 40;
		p[0] = 0x60;
		p[6] = s->hbh ? 0 : s->proto;
		p[7] = 64;
		memcpy(p + 8, "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x0a", 16);
		memcpy(p + 24, "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x14", 16);
		if (s->hbh) {
			p[40] = s->proto;
			p[41] = 0;		/* 8 bytes */
			p[42] = 1;		/* PadN */
			p[43] = 4;
			o += 8;
		}
		put16(p + 4, (unsigned int)(o - 40 + ulen));
	}
	put16(p + o, 24580);
	put16(p + o + 2, 24582);
	put16(p + o + 4, (unsigned int)ulen);
	put16(p + o + 6, 0x1234);
	memcpy(p + o + 8, payload_bytes, s->plen);
	memset(p + o + ulen, 0xee, s->pad);
	return o + ulen + s->pad;
}

/* A frame of link type dlt around the spec's packet; returns length. */
static size_t
frame_make(int dlt, int variant, const struct fspec *s, uint8_t *f,
    size_t *l3)
{
	size_t		 o = 0;
	unsigned int	 et = s->v6 ? 0x86dd : 0x0800;

	memset(f, 0, F_MAX);
	switch (dlt) {
	case 1:
		memcpy(f, "\x00\x11\x22\x33\x44\x55\x00\x66\x77\x88\x99\xaa",
		    12);
		o = 12;
		if (variant >= 1) {		/* 802.1ad outer, 802.1Q */
			put16(f + o, variant == 2 ? 0x88a8 : 0x8100);
			put16(f + o + 2, 100);
			o += 4;
		}
		if (variant == 2) {
			put16(f + o, 0x8100);
			put16(f + o + 2, 200);
			o += 4;
		}
		put16(f + o, et);
		o += 2;
		break;
	case 113:
		put16(f + 2, 1);		/* ARPHRD_ETHER */
		put16(f + 4, 6);
		put16(f + 14, et);
		o = 16;
		break;
	case 276:
		put16(f, et);
		f[11] = 1;
		f[13] = 6;
		o = 20;
		break;
	case 0:
	case 108: {
		uint32_t af = s->v6 ? (variant ? 30 : 10) : 2;

		if (dlt == 0 && variant == 0) {	/* little-endian host */
			f[0] = (uint8_t)af;
		} else
			f[3] = (uint8_t)af;
		o = 4;
		break;
	}
	default:
		break;				/* raw IP */
	}
	*l3 = o;
	return o + ip_make(f + o, s);
}

static const struct fspec V4 = { 0, 5, 0, 0x4000, 17, 20, 0 };
static const struct fspec V6 = { 1, 5, 0, 0, 17, 20, 0 };

static void
check_udp(const struct netpkt_udp *u, const uint8_t *f, size_t l3,
    const struct fspec *s)
{
	size_t	 hdr = s->v6 ? 40 + (s->hbh ? 8 : 0) : (size_t)s->ihl * 4;
	char	 a[INET6_ADDRSTRLEN], b[INET6_ADDRSTRLEN];

	CU_ASSERT_EQUAL(u->l3_off, l3);
	CU_ASSERT_EQUAL(u->payload_off, l3 + hdr + 8);
	CU_ASSERT_EQUAL(u->payload_len, s->plen);
	CU_ASSERT(memcmp(f + u->payload_off, payload_bytes, s->plen) == 0);
	CU_ASSERT_EQUAL(u->src.ss_family, s->v6 ? AF_INET6 : AF_INET);
	CU_ASSERT_EQUAL(u->dst.ss_family, s->v6 ? AF_INET6 : AF_INET);
	if (s->v6) {
		const struct sockaddr_in6 *x = (const void *)&u->src;
		const struct sockaddr_in6 *y = (const void *)&u->dst;

		CU_ASSERT_EQUAL(ntohs(x->sin6_port), 24580);
		CU_ASSERT_EQUAL(ntohs(y->sin6_port), 24582);
		inet_ntop(AF_INET6, &x->sin6_addr, a, sizeof(a));
		inet_ntop(AF_INET6, &y->sin6_addr, b, sizeof(b));
		CU_ASSERT_STRING_EQUAL(a, "2001:db8::a");
		CU_ASSERT_STRING_EQUAL(b, "2001:db8::14");
	} else {
		const struct sockaddr_in *x = (const void *)&u->src;
		const struct sockaddr_in *y = (const void *)&u->dst;

		CU_ASSERT_EQUAL(ntohs(x->sin_port), 24580);
		CU_ASSERT_EQUAL(ntohs(y->sin_port), 24582);
		inet_ntop(AF_INET, &x->sin_addr, a, sizeof(a));
		inet_ntop(AF_INET, &y->sin_addr, b, sizeof(b));
		CU_ASSERT_STRING_EQUAL(a, "192.0.2.10");
		CU_ASSERT_STRING_EQUAL(b, "192.0.2.20");
	}
}

static void
test_every_link_type_finds_the_datagram(void)
{
	static const struct {
		int	 dlt, variant;
	} t[] = {
		{ 1, 0 }, { 1, 1 }, { 1, 2 }, { 113, 0 }, { 276, 0 },
		{ 12, 0 }, { 101, 0 }, { 0, 0 }, { 0, 1 }, { 108, 0 },
		{ 108, 1 },
	};
	struct netpkt_udp	 u;
	uint8_t			 f[F_MAX];
	size_t			 i, n, l3;
	int			 v6;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		for (v6 = 0; v6 < 2; v6++) {
			n = frame_make(t[i].dlt, t[i].variant, v6 ? &V6 : &V4,
			    f, &l3);
			CU_ASSERT_EQUAL(netpkt_udp_parse(t[i].dlt, f, n, &u), 0);
			if (uc_errdetail()[0] != '\0')
				fprintf(stderr, "dlt %d/%d v6 %d: %s\n",
				    t[i].dlt, t[i].variant, v6, uc_errdetail());
			unit_clear_err();
			check_udp(&u, f, l3, v6 ? &V6 : &V4);
		}
	n = frame_make(229, 0, &V6, f, &l3);		/* LINKTYPE_IPV6 */
	CU_ASSERT_EQUAL(netpkt_udp_parse(229, f, n, &u), 0);
	n = frame_make(228, 0, &V4, f, &l3);		/* LINKTYPE_IPV4 */
	CU_ASSERT_EQUAL(netpkt_udp_parse(228, f, n, &u), 0);
	check_udp(&u, f, l3, &V4);
}

static void
test_padding_and_options_are_skipped(void)
{
	struct fspec		 s = V4;
	struct netpkt_udp	 u;
	uint8_t			 f[F_MAX];
	size_t			 n, l3;

	s.plen = 3;
	s.pad = 15;				/* Ethernet minimum 60 */
	n = frame_make(1, 0, &s, f, &l3);
	CU_ASSERT_EQUAL(n, 60);
	CU_ASSERT_EQUAL(netpkt_udp_parse(1, f, n, &u), 0);
	check_udp(&u, f, l3, &s);
	s.ihl = 15;				/* 40 bytes of options */
	n = frame_make(1, 1, &s, f, &l3);
	CU_ASSERT_EQUAL(netpkt_udp_parse(1, f, n, &u), 0);
	check_udp(&u, f, l3, &s);
	s = V6;
	s.hbh = 1;
	s.pad = 5;
	n = frame_make(113, 0, &s, f, &l3);
	CU_ASSERT_EQUAL(netpkt_udp_parse(113, f, n, &u), 0);
	check_udp(&u, f, l3, &s);
	s.plen = 0;
	n = frame_make(276, 0, &s, f, &l3);
	CU_ASSERT_EQUAL(netpkt_udp_parse(276, f, n, &u), 0);
	check_udp(&u, f, l3, &s);
}

static void
test_not_udp_over_ip_is_unsupported(void)
{
	struct fspec		 s = V4;
	struct netpkt_udp	 u;
	uint8_t			 f[F_MAX];
	size_t			 n, l3;

	s.frag = 0x2000;			/* MF */
	n = frame_make(1, 0, &s, f, &l3);
	UNIT_FAILS(netpkt_udp_parse(1, f, n, &u), UC_ERR_UNSUPPORTED,
	    "fragment");
	s.frag = 0x00b9;			/* offset 1480, last */
	n = frame_make(1, 0, &s, f, &l3);
	UNIT_FAILS(netpkt_udp_parse(1, f, n, &u), UC_ERR_UNSUPPORTED,
	    "fragment (offset 1480");
	s = V4;
	s.proto = 6;
	n = frame_make(12, 0, &s, f, &l3);
	UNIT_FAILS(netpkt_udp_parse(12, f, n, &u), UC_ERR_UNSUPPORTED,
	    "protocol 6");
	s = V6;
	s.proto = 44;				/* fragment header */
	n = frame_make(101, 0, &s, f, &l3);
	UNIT_FAILS(netpkt_udp_parse(101, f, n, &u), UC_ERR_UNSUPPORTED,
	    "next header 44");
	s.hbh = 1;
	s.proto = 43;				/* routing after hop-by-hop */
	n = frame_make(101, 0, &s, f, &l3);
	UNIT_FAILS(netpkt_udp_parse(101, f, n, &u), UC_ERR_UNSUPPORTED,
	    "next header 43");
	n = frame_make(1, 0, &V4, f, &l3);
	put16(f + 12, 0x0806);			/* ARP */
	UNIT_FAILS(netpkt_udp_parse(1, f, n, &u), UC_ERR_UNSUPPORTED,
	    "EtherType 0x0806");
	put16(f + 12, 0x8100);			/* five stacked tags */
	memcpy(f + 16, "\x81\x00\0\0\x81\x00\0\0\x81\x00\0\0\x81\x00\0\0", 16);
	UNIT_FAILS(netpkt_udp_parse(1, f, n, &u), UC_ERR_UNSUPPORTED,
	    "more than 4");
	UNIT_FAILS(netpkt_udp_parse(105, f, n, &u), UC_ERR_UNSUPPORTED,
	    "link type 105");
	n = frame_make(0, 0, &V4, f, &l3);
	f[0] = 7;				/* AF 7 */
	UNIT_FAILS(netpkt_udp_parse(0, f, n, &u), UC_ERR_UNSUPPORTED,
	    "family 7");
	n = frame_make(12, 0, &V4, f, &l3);
	f[0] = 0x55;				/* IP version 5 */
	UNIT_FAILS(netpkt_udp_parse(12, f, n, &u), UC_ERR_UNSUPPORTED,
	    "version 5");
}

static void
test_broken_lengths_are_format_errors(void)
{
	struct netpkt_udp	 u;
	uint8_t			 f[F_MAX];
	size_t			 n, l3;

	n = frame_make(1, 0, &V4, f, &l3);
	f[l3] = 0x44;				/* IHL 4 */
	UNIT_FAILS(netpkt_udp_parse(1, f, n, &u), UC_ERR_FORMAT, "IHL 4");
	n = frame_make(1, 0, &V4, f, &l3);
	put16(f + l3 + 2, 19);			/* total < header */
	UNIT_FAILS(netpkt_udp_parse(1, f, n, &u), UC_ERR_FORMAT,
	    "total length 19");
	n = frame_make(1, 0, &V4, f, &l3);
	put16(f + l3 + 24, 7);			/* UDP length < 8 */
	UNIT_FAILS(netpkt_udp_parse(1, f, n, &u), UC_ERR_FORMAT,
	    "length 7 outside 8..28");
	put16(f + l3 + 24, 29);			/* UDP past the IP packet */
	UNIT_FAILS(netpkt_udp_parse(1, f, n, &u), UC_ERR_FORMAT,
	    "length 29 outside 8..28");
	n = frame_make(1, 0, &V4, f, &l3);
	put16(f + l3 + 2, 27);			/* IP leaves 7 for UDP */
	UNIT_FAILS(netpkt_udp_parse(1, f, n, &u), UC_ERR_FORMAT,
	    "leaves 7 bytes");
	n = frame_make(1, 0, &V4, f, &l3);
	put16(f + 12, 0x86dd);			/* says IPv6, is IPv4 */
	UNIT_FAILS(netpkt_udp_parse(1, f, n, &u), UC_ERR_FORMAT, "version 4");
	n = frame_make(1, 0, &V6, f, &l3);
	put16(f + 12, 0x0800);			/* says IPv4, is IPv6 */
	UNIT_FAILS(netpkt_udp_parse(1, f, n, &u), UC_ERR_FORMAT, "version 6");
	n = frame_make(108, 0, &V4, f, &l3);
	f[3] = 24;				/* AF_INET6, IPv4 inside */
	UNIT_FAILS(netpkt_udp_parse(108, f, n, &u), UC_ERR_FORMAT,
	    "IP version 4");
	n = frame_make(113, 0, &V6, f, &l3);
	put16(f + l3 + 4, 0);			/* jumbogram */
	UNIT_FAILS(netpkt_udp_parse(113, f, n, &u), UC_ERR_UNSUPPORTED,
	    "jumbogram");
}

/* Every prefix of every kind of frame is TRUNCATED, never accepted. */
static void
test_every_truncation_is_refused(void)
{
	static const int	 dlts[] = { 1, 113, 276, 12, 0, 108 };
	struct fspec		 s;
	struct netpkt_udp	 u;
	uint8_t			 f[F_MAX];
	size_t			 i, n, k, l3;
	int			 v6;

	for (i = 0; i < sizeof(dlts) / sizeof(dlts[0]); i++)
		for (v6 = 0; v6 < 2; v6++) {
			s = v6 ? V6 : V4;
			s.hbh = v6;
			s.ihl = 6;
			n = frame_make(dlts[i], 1, &s, f, &l3);
			for (k = 0; k < n; k++)
				UNIT_FAILS(netpkt_udp_parse(dlts[i], f, k, &u),
				    UC_ERR_TRUNCATED, NULL);
			CU_ASSERT_EQUAL(netpkt_udp_parse(dlts[i], f, n, &u),
			    0);
		}
	UNIT_FAILS(netpkt_udp_parse(1, NULL, 0, &u), UC_ERR_TRUNCATED, NULL);
}

/* Checks of a rebuilt IPv4 frame: lengths, header checksum, UDP 0. */
static void
check_v4_rebuilt(const uint8_t *o, size_t n, size_t l3, size_t plen)
{
	size_t	 hlen = (size_t)(o[l3] & 0x0f) * 4;

	CU_ASSERT_EQUAL(n, l3 + hlen + 8 + plen);
	CU_ASSERT_EQUAL(o[l3 + 2] << 8 | o[l3 + 3], hlen + 8 + plen);
	CU_ASSERT_EQUAL(ones_sum(o + l3, hlen, 0), 0xffff);
	CU_ASSERT_EQUAL(o[l3 + hlen + 4] << 8 | o[l3 + hlen + 5], 8 + plen);
	CU_ASSERT_EQUAL(o[l3 + hlen + 6] << 8 | o[l3 + hlen + 7], 0);
}

/* IPv6: payload length, and the UDP checksum over the pseudo-header
   (RFC 8200 8.1) sums to 0xffff. */
static void
check_v6_rebuilt(const uint8_t *o, size_t n, size_t l3, size_t ext,
    size_t plen)
{
	size_t		 udp = l3 + 40 + ext, ulen = 8 + plen;
	uint8_t		 pseudo[8] = { 0, 0, 0, 0, 0, 0, 0, 17 };
	uint32_t	 sum;

	CU_ASSERT_EQUAL(n, udp + ulen);
	CU_ASSERT_EQUAL(o[l3 + 4] << 8 | o[l3 + 5], ext + ulen);
	CU_ASSERT_EQUAL(o[udp + 4] << 8 | o[udp + 5], ulen);
	CU_ASSERT_NOT_EQUAL(o[udp + 6] << 8 | o[udp + 7], 0);
	pseudo[2] = (uint8_t)(ulen >> 8);
	pseudo[3] = (uint8_t)ulen;
	sum = ones_sum(o + l3 + 8, 32, 0);
	sum = ones_sum(pseudo, 8, sum);
	CU_ASSERT_EQUAL(ones_sum(o + udp, ulen, sum), 0xffff);
}

static void
test_rebuild_fixes_lengths_and_checksums(void)
{
	static const uint8_t	 np[] = "plain RTP, shorter or longer";
	struct fspec		 s = V4;
	struct netpkt_udp	 u, back;
	uint8_t			 f[F_MAX], o[F_MAX];
	size_t			 n, l3, k, plen;

	for (k = 0; k < 4; k++) {
		s = k < 2 ? V4 : V6;
		s.pad = 9;
		s.ihl = k == 1 ? 7 : 5;
		s.hbh = k == 3;
		n = frame_make(k % 2 ? 1 : 113, 2, &s, f, &l3);
		CU_ASSERT_EQUAL_FATAL(netpkt_udp_parse(k % 2 ? 1 : 113, f, n,
		    &u), 0);
		for (plen = 0; plen < sizeof(np); plen += 9) {
			memset(o, 0xaa, sizeof(o));
			n = netpkt_udp_rebuild(f, &u, np, plen, o, sizeof(o));
			if (s.v6)
				check_v6_rebuilt(o, n, l3, s.hbh ? 8 : 0, plen);
			else
				check_v4_rebuilt(o, n, l3, plen);
			CU_ASSERT(memcmp(o, f, l3) == 0);	/* link kept */
			CU_ASSERT_EQUAL(netpkt_udp_parse(k % 2 ? 1 : 113, o,
			    n, &back), 0);
			CU_ASSERT(memcmp(&back.src, &u.src, sizeof(u.src)) ==
			    0 && memcmp(&back.dst, &u.dst, sizeof(u.dst)) == 0);
			CU_ASSERT_EQUAL(back.payload_len, plen);
			CU_ASSERT(memcmp(o + back.payload_off, np, plen) == 0);
		}
	}
}

static void
test_rebuild_refuses_what_does_not_fit(void)
{
	struct netpkt_udp	 u, bad;
	uint8_t			 f[F_MAX], o[F_MAX];
	size_t			 n, l3;

	n = frame_make(1, 0, &V4, f, &l3);
	CU_ASSERT_EQUAL_FATAL(netpkt_udp_parse(1, f, n, &u), 0);
	CU_ASSERT_EQUAL(netpkt_udp_rebuild(f, &u, f, 10, o,
	    u.payload_off + 9), 0);
	CU_ASSERT_EQUAL(netpkt_udp_rebuild(f, &u, f, 10, o,
	    u.payload_off + 10), u.payload_off + 10);
	CU_ASSERT_EQUAL(netpkt_udp_rebuild(f, &u, f, 65536, o, sizeof(o)), 0);
	bad = u;
	bad.payload_off = u.l3_off + 27;	/* under IPv4 + UDP */
	CU_ASSERT_EQUAL(netpkt_udp_rebuild(f, &bad, f, 1, o, sizeof(o)), 0);
	bad = u;
	bad.payload_off += 4;			/* disagrees with the IHL */
	CU_ASSERT_EQUAL(netpkt_udp_rebuild(f, &bad, f, 1, o, sizeof(o)), 0);
	bad = u;
	bad.dst.ss_family = AF_UNSPEC;
	CU_ASSERT_EQUAL(netpkt_udp_rebuild(f, &bad, f, 1, o, sizeof(o)), 0);
}

static void
test_bit_flips_never_crash(void)
{
	static const int	 dlts[] = { 1, 113, 276, 101, 0 };
	struct netpkt_udp	 u;
	uint8_t			 f[F_MAX], g[F_MAX], o[F_MAX];
	size_t			 i, n, k, l3;
	int			 v6, bit, r;

	for (i = 0; i < sizeof(dlts) / sizeof(dlts[0]); i++)
		for (v6 = 0; v6 < 2; v6++) {
			n = frame_make(dlts[i], 2, v6 ? &V6 : &V4, f, &l3);
			for (k = 0; k < n; k++)
				for (bit = 0; bit < 8; bit++) {
					memcpy(g, f, n);
					g[k] ^= (uint8_t)(1 << bit);
					r = netpkt_udp_parse(dlts[i], g, n, &u);
					CU_ASSERT(r == 0 ||
					    r == UC_ERR_UNSUPPORTED ||
					    r == UC_ERR_FORMAT ||
					    r == UC_ERR_TRUNCATED);
					if (r != 0)
						continue;
					CU_ASSERT(u.payload_off +
					    u.payload_len <= n);
					(void)netpkt_udp_rebuild(g, &u, g, 5,
					    o, sizeof(o));
				}
		}
}

static const struct unit_test tests[] = {
	{ "every link type finds the datagram",
	    test_every_link_type_finds_the_datagram },
	{ "Ethernet padding, IPv4 options, hop-by-hop are skipped",
	    test_padding_and_options_are_skipped },
	{ "fragments and other protocols are unsupported",
	    test_not_udp_over_ip_is_unsupported },
	{ "broken lengths are format errors",
	    test_broken_lengths_are_format_errors },
	{ "every truncation is refused", test_every_truncation_is_refused },
	{ "rebuild fixes lengths and checksums",
	    test_rebuild_fixes_lengths_and_checksums },
	{ "rebuild refuses what does not fit",
	    test_rebuild_refuses_what_does_not_fit },
	{ "bit flips never crash", test_bit_flips_never_crash },
	{ NULL, NULL },
};

void
unit_register_netpkt(void)
{
	unit_suite("netpkt", tests);
}
