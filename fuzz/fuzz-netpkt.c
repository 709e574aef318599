/*
 * libFuzzer harness for capture frames (lib/netpkt.c).  The first input
 * byte picks the link type (modulo the table below), the rest is the
 * frame.  Checks: a failure is UNSUPPORTED, FORMAT or TRUNCATED with a
 * detail line; a parsed datagram lies inside the frame after its IP
 * header, with IPv4/IPv6 addresses of one family; the frame rebuilt
 * around a new payload (a slice of the input, so lengths vary) parses
 * again to the same addresses and that payload, with a valid IPv4
 * header checksum or IPv6 UDP checksum (abort on any mismatch).
 * Seeds: fuzz/corpus/fuzz-netpkt (one frame per link type, IPv4 and
 * IPv6, VLAN tags, options, hop-by-hop).
 *
 *	make build-fuzz/fuzz-netpkt && fuzz/run 60 build-fuzz/fuzz-netpkt
 */
#include <sys/socket.h>

#include <netinet/in.h>

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "netpkt.h"
#include "uerr.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define CHECK(x)	do { if (!(x)) abort(); } while (0)
#define OUT_MAX		(2 * 65536)

/* Link types srtp-decrypt reads, plus two it does not (105, 147). */
static const int dlts[] = { 1, 113, 276, 12, 101, 0, 108, 228, 229, 105,
    147 };

static uint8_t	 out[OUT_MAX];

/* RFC 1071 sum of n bytes added to sum, folded. */
static uint32_t
sum16(const uint8_t *p, size_t n, uint32_t sum)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		sum += i % 2 ? p[i] : (uint32_t)p[i] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return sum;
}

static void
check_checksums(const struct netpkt_udp *u, const uint8_t *f)
{
	const uint8_t	*ip = f + u->l3_off, *udp = f + u->payload_off - 8;
	size_t		 ulen = 8 + u->payload_len;
	uint8_t		 pseudo[8] = { 0, 0, (uint8_t)(ulen >> 8),
	    (uint8_t)ulen, 0, 0, 0, 17 };

	if (u->dst.ss_family == AF_INET) {
		CHECK(sum16(ip, (size_t)(ip[0] & 0x0f) * 4, 0) == 0xffff);
		CHECK(udp[6] == 0 && udp[7] == 0);
		return;
	}
	CHECK(sum16(udp, ulen, sum16(pseudo, 8, sum16(ip + 8, 32, 0))) ==
	    0xffff);
}

static int
addr_same(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	return memcmp(a, b, sizeof(*a)) == 0;
}

static void
check_rebuild(int dlt, const uint8_t *f, const struct netpkt_udp *u,
    const uint8_t *np, size_t plen)
{
	struct netpkt_udp	 back;
	size_t			 n;

	n = netpkt_udp_rebuild(f, u, np, plen, out, sizeof(out));
	CHECK(n == u->payload_off + plen);
	CHECK(memcmp(out, f, u->l3_off) == 0);
	CHECK(netpkt_udp_parse(dlt, out, n, &back) == 0);
	CHECK(back.l3_off == u->l3_off && back.payload_off == u->payload_off);
	CHECK(back.payload_len == plen);
	CHECK(memcmp(out + back.payload_off, np, plen) == 0);
	CHECK(addr_same(&back.src, &u->src) && addr_same(&back.dst, &u->dst));
	check_checksums(&back, out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct netpkt_udp	 u;
	int			 dlt, r;

	if (len == 0)
		return 0;
	dlt = dlts[data[0] % (sizeof(dlts) / sizeof(dlts[0]))];
	data++;
	len--;
	r = netpkt_udp_parse(dlt, data, len, &u);
	if (r != 0) {
		CHECK(r == UC_ERR_UNSUPPORTED || r == UC_ERR_FORMAT ||
		    r == UC_ERR_TRUNCATED);
		CHECK(uc_errdetail()[0] != '\0');
		return 0;
	}
	CHECK(u.src.ss_family == u.dst.ss_family);
	CHECK(u.dst.ss_family == AF_INET || u.dst.ss_family == AF_INET6);
	CHECK(u.l3_off + 28 <= u.payload_off);
	CHECK(u.payload_off <= len && u.payload_len <= len - u.payload_off);
	/* the same payload, a shorter one, and one from elsewhere */
	check_rebuild(dlt, data, &u, data + u.payload_off, u.payload_len);
	check_rebuild(dlt, data, &u, data + u.payload_off, u.payload_len / 2);
	check_rebuild(dlt, data, &u, data, len < 200 ? len : 200);
	return 0;
}
