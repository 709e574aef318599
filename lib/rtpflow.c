/*
 * Self-checking RTP streams: a sender fills each payload with a pattern
 * made from (SSRC, sequence number) by a small xorshift generator, so a
 * receiver checks every packet without a copy of what was sent, and
 * counts loss, duplicates and damage (RFC 3550 A.1 / A.3 style extended
 * sequence numbers).  Received bytes are read through the cursor; see
 * rtpflow.h for the contract.
 *
 * Error codes (negative UC_ERR_*, detail via uc_errdetail()):
 *   UC_ERR_TRUNCATED	the header (CSRCs, extension, padding) overruns
 *   UC_ERR_FORMAT	not RTP version 2, bad padding count; in
 *			rtp_rx_check also duplicates, other SSRCs, payloads
 *			off the pattern and packets too far behind
 */
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "cursor.h"
#include "rtpflow.h"
#include "uerr.h"

#define RTP_VERSION	2		/* RFC 3550 5.1 */
#define SEQ_MOD		65536U		/* 16-bit sequence numbers */
#define SEQ_AHEAD_MAX	32768U		/* forward half of the circle */

/* The pattern generator: xorshift64 seeded by splitmix64(ssrc, seq). */
struct pattern {
	uint64_t	 x;
};

static void
pattern_init(struct pattern *p, uint32_t ssrc, uint16_t seq)
{
	uint64_t	 z;

	z = ((uint64_t)ssrc << 16 | seq) + 0x9e3779b97f4a7c15ULL;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	z ^= z >> 31;
	p->x = z != 0 ? z : 0x9e3779b97f4a7c15ULL;
}

/* The next 8 pattern bytes, least significant first. */
static void
pattern_next(struct pattern *p, uint8_t out[8])
{
	uint64_t	 x = p->x;
	int		 i;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	p->x = x;
	for (i = 0; i < 8; i++)
		out[i] = (uint8_t)(x >> (8 * i));
}

/*
 * The first n payload bytes of (ssrc, seq) into out.  Any prefix of a
 * longer pattern is the shorter pattern.
 */
void
rtp_pattern(uint32_t ssrc, uint16_t seq, uint8_t *out, size_t n)
{
	struct pattern	 p;
	uint8_t		 b[8];
	size_t		 i, k;

	pattern_init(&p, ssrc, seq);
	for (i = 0; i < n; i += k) {
		pattern_next(&p, b);
		k = n - i < sizeof(b) ? n - i : sizeof(b);
		memcpy(out + i, b, k);
	}
}

/* Offset of the first payload byte off the pattern, n if none. */
static size_t
pattern_diff(uint32_t ssrc, uint16_t seq, const uint8_t *pl, size_t n)
{
	struct pattern	 p;
	uint8_t		 b[8];
	size_t		 i, j, k;

	pattern_init(&p, ssrc, seq);
	for (i = 0; i < n; i += k) {
		pattern_next(&p, b);
		k = n - i < sizeof(b) ? n - i : sizeof(b);
		if (memcmp(pl + i, b, k) == 0)
			continue;
		for (j = 0; j < k && pl[i + j] == b[j]; j++)
			continue;
		return i + j;
	}
	return n;
}

/* CSRCs and the header extension (RFC 3550 5.1, 5.3.1). */
static int
parse_tail(struct cursor *c, struct rtp_hdr *h)
{
	uint16_t	 words;

	if (!cur_skip(c, 4 * (size_t)h->csrc_count))
		return uc_fail(UC_ERR_TRUNCATED, "RTP ssrc 0x%08x seq %u: "
		    "%u CSRCs overrun the packet (RFC 3550 5.1)", h->ssrc,
		    h->seq, h->csrc_count);
	if (h->extension) {
		(void)cur_u16(c);
		words = cur_u16(c);
		if (!cur_ok(c) || !cur_skip(c, 4 * (size_t)words))
			return uc_fail(UC_ERR_TRUNCATED, "RTP ssrc 0x%08x seq "
			    "%u: header extension overruns the packet (RFC "
			    "3550 5.3.1)", h->ssrc, h->seq);
	}
	return 0;
}

/* The padding count in the last byte (RFC 3550 5.1: P bit). */
static int
parse_padding(struct cursor *c, struct rtp_hdr *h)
{
	struct cursor	 last = *c;	/* c stays at the payload */
	size_t		 left = cur_left(c);
	uint8_t		 pad;

	if (left == 0 || !cur_skip(&last, left - 1))
		return uc_fail(UC_ERR_TRUNCATED, "RTP ssrc 0x%08x seq %u: "
		    "padding bit set but no payload (RFC 3550 5.1)", h->ssrc,
		    h->seq);
	pad = cur_u8(&last);
	if (pad == 0 || pad > left)
		return uc_fail(UC_ERR_FORMAT, "RTP ssrc 0x%08x seq %u: padding "
		    "count %u outside 1..%zu (RFC 3550 5.1)", h->ssrc, h->seq,
		    pad, left);
	h->payload_len = left - pad;
	return 0;
}

/*
 * Parse an RTP packet (RFC 3550 5.1) of len bytes into *h; h->payload
 * points into buf.  Returns 0, UC_ERR_TRUNCATED or UC_ERR_FORMAT.
 */
int
rtp_parse(const uint8_t *buf, size_t len, struct rtp_hdr *h)
{
	struct cursor	 c;
	uint8_t		 b0, b1;
	int		 r;

	memset(h, 0, sizeof(*h));
	cur_init(&c, buf, len);
	b0 = cur_u8(&c);
	b1 = cur_u8(&c);
	h->seq = cur_u16(&c);
	h->ts = cur_u32(&c);
	h->ssrc = cur_u32(&c);
	if (!cur_ok(&c))
		return uc_fail(UC_ERR_TRUNCATED, "RTP: %zu bytes, shorter than "
		    "the 12-byte header (RFC 3550 5.1)", len);
	h->version = b0 >> 6;
	h->padding = (b0 >> 5) & 1;
	h->extension = (b0 >> 4) & 1;
	h->csrc_count = b0 & 0x0f;
	h->marker = b1 >> 7;
	h->pt = b1 & 0x7f;
	if (h->version != RTP_VERSION)
		return uc_fail(UC_ERR_FORMAT, "RTP ssrc 0x%08x: version %u, "
		    "not 2 (RFC 3550 5.1)", h->ssrc, h->version);
	if ((r = parse_tail(&c, h)) != 0)
		return r;
	h->hdr_len = cur_offset(&c);
	h->payload_len = cur_left(&c);
	if (h->padding && (r = parse_padding(&c, h)) != 0)
		return r;
	h->payload = h->payload_len > 0 ? cur_bytes(&c, h->payload_len) :
	    buf + h->hdr_len;
	return 0;
}

/*
 * A random SSRC (never 0), first sequence number and timestamp (RFC
 * 3550 5.1); pt and the timestamp step per packet as given.
 */
void
rtp_tx_init(struct rtp_tx *tx, uint8_t pt, uint32_t ts_step)
{
	uint8_t		 r[10];
	struct timespec	 now;

	if (RAND_bytes(r, sizeof(r)) != 1) {
		/* XXX not secret, only unlikely to collide: mix the clock. */
		(void)clock_gettime(CLOCK_REALTIME, &now);
		memcpy(r, &now.tv_nsec, sizeof(r) < sizeof(now.tv_nsec) ?
		    sizeof(r) : sizeof(now.tv_nsec));
		r[8] ^= (uint8_t)getpid();
		r[9] ^= (uint8_t)now.tv_sec;
	}
	memset(tx, 0, sizeof(*tx));
	tx->ssrc = (uint32_t)r[0] << 24 | (uint32_t)r[1] << 16 |
	    (uint32_t)r[2] << 8 | r[3];
	if (tx->ssrc == 0)
		tx->ssrc = 1;
	tx->seq = (uint16_t)(r[4] << 8 | r[5]);
	tx->ts = (uint32_t)r[6] << 24 | (uint32_t)r[7] << 16 |
	    (uint32_t)r[8] << 8 | r[9];
	tx->pt = pt & 0x7f;
	tx->ts_step = ts_step;
}

/*
 * The next packet (12-byte header, payload_len pattern bytes) into buf
 * of cap bytes.  Returns its length, or 0 (nothing written, seq and ts
 * unchanged) when it does not fit.
 */
size_t
rtp_tx_next(struct rtp_tx *tx, uint8_t *buf, size_t cap, size_t payload_len)
{
	if (buf == NULL || cap < RTP_HDR_LEN ||
	    payload_len > cap - RTP_HDR_LEN)
		return 0;
	buf[0] = RTP_VERSION << 6;
	buf[1] = tx->pt & 0x7f;
	buf[2] = (uint8_t)(tx->seq >> 8);
	buf[3] = (uint8_t)tx->seq;
	buf[4] = (uint8_t)(tx->ts >> 24);
	buf[5] = (uint8_t)(tx->ts >> 16);
	buf[6] = (uint8_t)(tx->ts >> 8);
	buf[7] = (uint8_t)tx->ts;
	buf[8] = (uint8_t)(tx->ssrc >> 24);
	buf[9] = (uint8_t)(tx->ssrc >> 16);
	buf[10] = (uint8_t)(tx->ssrc >> 8);
	buf[11] = (uint8_t)tx->ssrc;
	rtp_pattern(tx->ssrc, tx->seq, buf + RTP_HDR_LEN, payload_len);
	tx->seq++;
	tx->ts += tx->ts_step;
	return RTP_HDR_LEN + payload_len;
}

static int
seen_test(const struct rtp_rx *rx, uint16_t seq)
{
	unsigned	 i = seq % RTP_RX_WINDOW;

	return (rx->seen[i / 64] >> (i % 64)) & 1;
}

static void
seen_set(struct rtp_rx *rx, uint16_t seq)
{
	unsigned	 i = seq % RTP_RX_WINDOW;

	rx->seen[i / 64] |= (uint64_t)1 << (i % 64);
}

/* Forget the slots of the delta sequence numbers after max_seq. */
static void
seen_advance(struct rtp_rx *rx, unsigned delta)
{
	unsigned	 k, i;

	if (delta >= RTP_RX_WINDOW) {
		memset(rx->seen, 0, sizeof(rx->seen));
		return;
	}
	for (k = 1; k <= delta; k++) {
		i = (uint16_t)(rx->max_seq + k) % RTP_RX_WINDOW;
		rx->seen[i / 64] &= ~((uint64_t)1 << (i % 64));
	}
}

/* A packet ahead of max_seq by delta (1..32767): extend, maybe wrap. */
static void
rx_ahead(struct rtp_rx *rx, uint16_t seq, unsigned delta)
{
	seen_advance(rx, delta);
	if (seq < rx->max_seq)
		rx->cycles++;
	rx->max_seq = seq;
	seen_set(rx, seq);
	rx->received++;
}

/*
 * A packet back behind max_seq (1..32768): new unless seen; one before
 * the first packet moves the start back (a cycle back: rebase).
 */
static int
rx_behind(struct rtp_rx *rx, uint16_t seq, unsigned back)
{
	uint64_t	 ext = (uint64_t)rx->cycles * SEQ_MOD + rx->max_seq;

	if (back >= RTP_RX_WINDOW) {
		rx->bad++;
		return uc_fail(UC_ERR_FORMAT, "RTP ssrc 0x%08x seq %u: %u "
		    "behind the highest %u, past the %d-packet window",
		    rx->ssrc, seq, back, rx->max_seq, RTP_RX_WINDOW);
	}
	if (seen_test(rx, seq)) {
		rx->duplicates++;
		return uc_fail(UC_ERR_FORMAT, "RTP ssrc 0x%08x seq %u: "
		    "duplicate", rx->ssrc, seq);
	}
	seen_set(rx, seq);
	rx->received++;
	if (ext < back) {			/* before cycle 0: rebase */
		rx->cycles++;
		rx->first_seq = seq;
	} else if (ext - back < rx->first_seq)
		rx->first_seq = seq;
	return 0;
}

/* Count a pattern-checked packet of rx's SSRC by its sequence number. */
static int
rx_account(struct rtp_rx *rx, uint16_t seq)
{
	unsigned	 delta;

	if (!rx->started) {
		rx->started = 1;
		rx->first_seq = rx->max_seq = seq;
		seen_set(rx, seq);
		rx->received++;
		return 0;
	}
	delta = (uint16_t)(seq - rx->max_seq);
	if (delta == 0) {
		rx->duplicates++;
		return uc_fail(UC_ERR_FORMAT, "RTP ssrc 0x%08x seq %u: "
		    "duplicate", rx->ssrc, seq);
	}
	if (delta < SEQ_AHEAD_MAX) {
		rx_ahead(rx, seq, delta);
		return 0;
	}
	return rx_behind(rx, seq, SEQ_MOD - delta);
}

/*
 * Account one received plain RTP packet (see rtpflow.h).  Returns 0 or
 * UC_ERR_FORMAT; the counters in rx say which.
 */
int
rtp_rx_check(struct rtp_rx *rx, const uint8_t *buf, size_t len)
{
	struct rtp_hdr	 h;
	size_t		 off;

	if (rtp_parse(buf, len, &h) != 0) {
		rx->bad++;
		return UC_ERR_FORMAT;
	}
	if (rx->started && h.ssrc != rx->ssrc) {
		rx->other_ssrc++;
		return uc_fail(UC_ERR_FORMAT, "RTP ssrc 0x%08x seq %u: not "
		    "the stream's ssrc 0x%08x", h.ssrc, h.seq, rx->ssrc);
	}
	if ((off = pattern_diff(h.ssrc, h.seq, h.payload, h.payload_len)) !=
	    h.payload_len) {
		rx->bad++;
		return uc_fail(UC_ERR_FORMAT, "RTP ssrc 0x%08x seq %u: payload "
		    "byte %zu of %zu differs from the pattern", h.ssrc, h.seq,
		    off, h.payload_len);
	}
	if (!rx->started)
		rx->ssrc = h.ssrc;
	return rx_account(rx, h.seq);
}

/*
 * Packets expected from the first to the highest sequence number (RFC
 * 3550 A.3) minus those received; never negative.
 */
uint64_t
rtp_rx_lost(const struct rtp_rx *rx)
{
	uint64_t	 expected;

	if (!rx->started)
		return 0;
	expected = (uint64_t)rx->cycles * SEQ_MOD + rx->max_seq -
	    rx->first_seq + 1;
	return expected > rx->received ? expected - rx->received : 0;
}
