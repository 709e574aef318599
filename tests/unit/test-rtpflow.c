/*
 * Suite "rtpflow": self-checking RTP streams (lib/rtpflow.c): header
 * parsing (RFC 3550 5.1: CSRCs, extension, padding), the (SSRC, seq)
 * payload pattern, and the receiver's counts of loss, duplicates, bad
 * packets and other SSRCs across a sequence number wrap.
 */
#include <stdlib.h>

#include "rtpflow.h"
#include "unit.h"

#define BUF_MAX		1500

static void
test_pattern_is_deterministic_per_ssrc_and_seq(void)
{
	uint8_t	 a[200], b[200], c[200];

	rtp_pattern(0x01020304, 7, a, sizeof(a));
	rtp_pattern(0x01020304, 7, b, sizeof(b));
	CU_ASSERT(memcmp(a, b, sizeof(a)) == 0);
	rtp_pattern(0x01020304, 7, c, 13);	/* a prefix is the pattern */
	CU_ASSERT(memcmp(a, c, 13) == 0);
	rtp_pattern(0x01020304, 8, b, sizeof(b));
	CU_ASSERT(memcmp(a, b, sizeof(a)) != 0);
	rtp_pattern(0x01020305, 7, b, sizeof(b));
	CU_ASSERT(memcmp(a, b, sizeof(a)) != 0);
	rtp_pattern(0, 0, b, sizeof(b));	/* all-zero seed still varies */
	CU_ASSERT(memcmp(b, b + 8, 8) != 0);
	rtp_pattern(0, 0, NULL, 0);
}

static void
test_tx_packets_parse_and_check_in_order(void)
{
	struct rtp_tx	 tx;
	struct rtp_rx	 rx;
	struct rtp_hdr	 h;
	uint8_t		 buf[BUF_MAX];
	size_t		 n;
	uint32_t	 ts0;
	int		 i;

	rtp_tx_init(&tx, 8, 160);
	CU_ASSERT(tx.ssrc != 0 && tx.pt == 8 && tx.ts_step == 160);
	ts0 = tx.ts;
	memset(&rx, 0, sizeof(rx));
	for (i = 0; i < 100; i++) {
		n = rtp_tx_next(&tx, buf, sizeof(buf), 160);
		CU_ASSERT_EQUAL_FATAL(n, RTP_HDR_LEN + 160);
		CU_ASSERT_EQUAL_FATAL(rtp_parse(buf, n, &h), 0);
		CU_ASSERT(h.version == 2 && h.pt == 8 && h.ssrc == tx.ssrc &&
		    h.hdr_len == RTP_HDR_LEN && h.payload_len == 160 &&
		    h.payload == buf + RTP_HDR_LEN && !h.marker);
		CU_ASSERT_EQUAL(h.ts, ts0 + 160U * (uint32_t)i);
		CU_ASSERT_EQUAL(rtp_rx_check(&rx, buf, n), 0);
	}
	CU_ASSERT(rx.received == 100 && rx.duplicates == 0 && rx.bad == 0 &&
	    rx.other_ssrc == 0 && rx.ssrc == tx.ssrc);
	CU_ASSERT_EQUAL(rtp_rx_lost(&rx), 0);
	/* No room: nothing written, nothing advanced. */
	CU_ASSERT_EQUAL(rtp_tx_next(&tx, buf, RTP_HDR_LEN + 159, 160), 0);
	CU_ASSERT_EQUAL(rtp_tx_next(&tx, buf, 11, 0), 0);
	CU_ASSERT_EQUAL(rtp_tx_next(&tx, buf, RTP_HDR_LEN, 0), RTP_HDR_LEN);
}

static void
test_loss_duplicates_and_reorder_across_seq_wrap(void)
{
	struct rtp_tx	 tx;
	struct rtp_rx	 rx;
	uint8_t		 pkt[300][64];
	size_t		 n = 0;
	int		 i;

	rtp_tx_init(&tx, 0, 160);
	tx.seq = 65436;			/* 100 before the wrap */
	for (i = 0; i < 300; i++)
		n = rtp_tx_next(&tx, pkt[i], sizeof(pkt[i]), 40);
	memset(&rx, 0, sizeof(rx));
	for (i = 0; i < 300; i++) {
		if (i % 10 == 5)			/* 30 lost */
			continue;
		if (i % 50 == 20) {			/* 6 swapped pairs */
			CU_ASSERT_EQUAL(rtp_rx_check(&rx, pkt[i + 1], n), 0);
			CU_ASSERT_EQUAL(rtp_rx_check(&rx, pkt[i], n), 0);
			i++;
			continue;
		}
		CU_ASSERT_EQUAL(rtp_rx_check(&rx, pkt[i], n), 0);
		if (i % 40 == 0)			/* 7 duplicates */
			UNIT_FAILS(rtp_rx_check(&rx, pkt[i], n),
			    UC_ERR_FORMAT, "duplicate");
	}
	UNIT_FAILS(rtp_rx_check(&rx, pkt[98], n), UC_ERR_FORMAT, "duplicate");
	CU_ASSERT_EQUAL(rx.received, 270);
	CU_ASSERT_EQUAL(rx.duplicates, 8);
	CU_ASSERT_EQUAL(rx.cycles, 1);
	CU_ASSERT_EQUAL(rx.bad, 0);
	CU_ASSERT_EQUAL(rtp_rx_lost(&rx), 30);
	/* A lost packet arriving late is no longer lost. */
	CU_ASSERT_EQUAL(rtp_rx_check(&rx, pkt[105], n), 0);
	CU_ASSERT_EQUAL(rtp_rx_lost(&rx), 29);
}

static void
test_late_packet_before_the_first_moves_the_start(void)
{
	struct rtp_tx	 tx;
	struct rtp_rx	 rx;
	uint8_t		 pkt[6][64];
	size_t		 n = 0;
	int		 i;

	rtp_tx_init(&tx, 0, 160);
	tx.seq = 65534;			/* 65534 65535 0 1 2 3 */
	for (i = 0; i < 6; i++)
		n = rtp_tx_next(&tx, pkt[i], sizeof(pkt[i]), 20);
	memset(&rx, 0, sizeof(rx));
	CU_ASSERT_EQUAL(rtp_rx_check(&rx, pkt[3], n), 0);	/* 1 first */
	CU_ASSERT_EQUAL(rtp_rx_check(&rx, pkt[5], n), 0);
	CU_ASSERT_EQUAL(rtp_rx_lost(&rx), 1);
	CU_ASSERT_EQUAL(rtp_rx_check(&rx, pkt[0], n), 0);	/* 65534 */
	CU_ASSERT_EQUAL(rtp_rx_lost(&rx), 3);
	CU_ASSERT_EQUAL(rtp_rx_check(&rx, pkt[1], n), 0);
	CU_ASSERT_EQUAL(rtp_rx_check(&rx, pkt[2], n), 0);
	CU_ASSERT_EQUAL(rtp_rx_check(&rx, pkt[4], n), 0);
	CU_ASSERT_EQUAL(rx.received, 6);
	CU_ASSERT_EQUAL(rtp_rx_lost(&rx), 0);
	UNIT_FAILS(rtp_rx_check(&rx, pkt[0], n), UC_ERR_FORMAT, "duplicate");
}

static void
test_bad_payload_other_ssrc_and_garbage_are_counted(void)
{
	struct rtp_tx	 tx, tx2;
	struct rtp_rx	 rx;
	uint8_t		 buf[BUF_MAX];
	size_t		 n;

	rtp_tx_init(&tx, 0, 160);
	rtp_tx_init(&tx2, 0, 160);
	tx2.ssrc = tx.ssrc ^ 1;
	memset(&rx, 0, sizeof(rx));
	n = rtp_tx_next(&tx, buf, sizeof(buf), 160);
	buf[RTP_HDR_LEN + 77] ^= 0x80;
	UNIT_FAILS(rtp_rx_check(&rx, buf, n), UC_ERR_FORMAT,
	    "payload byte 77 of 160 differs");
	CU_ASSERT(rx.bad == 1 && !rx.started);
	n = rtp_tx_next(&tx, buf, sizeof(buf), 160);
	CU_ASSERT_EQUAL(rtp_rx_check(&rx, buf, n), 0);
	/* Right payload, wrong seq: the pattern differs. */
	buf[3] ^= 0x02;
	UNIT_FAILS(rtp_rx_check(&rx, buf, n), UC_ERR_FORMAT, "differs");
	n = rtp_tx_next(&tx2, buf, sizeof(buf), 160);
	UNIT_FAILS(rtp_rx_check(&rx, buf, n), UC_ERR_FORMAT, "not the "
	    "stream's ssrc");
	UNIT_FAILS(rtp_rx_check(&rx, buf, 11), UC_ERR_FORMAT, "12-byte");
	buf[0] = 0x00;
	UNIT_FAILS(rtp_rx_check(&rx, buf, n), UC_ERR_FORMAT, "version 0");
	CU_ASSERT(rx.bad == 4 && rx.other_ssrc == 1 && rx.received == 1);
	/* A packet far behind the window is refused. */
	tx.seq = (uint16_t)(tx.seq + 5000);
	n = rtp_tx_next(&tx, buf, sizeof(buf), 10);
	CU_ASSERT_EQUAL(rtp_rx_check(&rx, buf, n), 0);
	tx.seq = (uint16_t)(tx.seq - 2000);
	n = rtp_tx_next(&tx, buf, sizeof(buf), 10);
	UNIT_FAILS(rtp_rx_check(&rx, buf, n), UC_ERR_FORMAT, "window");
	CU_ASSERT_EQUAL(rx.bad, 5);
}

static void
test_parse_csrcs_extension_and_padding(void)
{
	/* V=2 P X CC=2, M, PT 96; 2 CSRCs; extension of 1 word; 3 bytes
	 * payload; 4 bytes padding. */
	static const uint8_t pkt[] = {
		0xb2, 0xe0, 0x12, 0x34, 0, 0, 0, 1, 0xca, 0xfe, 0xba, 0xbe,
		1, 1, 1, 1, 2, 2, 2, 2,
		0xbe, 0xde, 0x00, 0x01, 9, 9, 9, 9,
		'a', 'b', 'c',
		0, 0, 0, 4,
	};
	uint8_t		 b[sizeof(pkt)];
	struct rtp_hdr	 h;

	CU_ASSERT_EQUAL_FATAL(rtp_parse(pkt, sizeof(pkt), &h), 0);
	CU_ASSERT(h.version == 2 && h.padding && h.extension &&
	    h.csrc_count == 2 && h.marker && h.pt == 96 && h.seq == 0x1234 &&
	    h.ts == 1 && h.ssrc == 0xcafebabe);
	CU_ASSERT_EQUAL(h.hdr_len, 28);
	CU_ASSERT_EQUAL(h.payload_len, 3);
	CU_ASSERT(h.payload == pkt + 28 && memcmp(h.payload, "abc", 3) == 0);
	memcpy(b, pkt, sizeof(b));
	b[sizeof(b) - 1] = 0;			/* padding count 0 */
	UNIT_FAILS(rtp_parse(b, sizeof(b), &h), UC_ERR_FORMAT, "padding");
	b[sizeof(b) - 1] = 8;			/* more than is there */
	UNIT_FAILS(rtp_parse(b, sizeof(b), &h), UC_ERR_FORMAT, "1..7");
	b[sizeof(b) - 1] = 7;			/* all of the payload */
	CU_ASSERT(rtp_parse(b, sizeof(b), &h) == 0 && h.payload_len == 0);
	UNIT_FAILS(rtp_parse(b, 28, &h), UC_ERR_TRUNCATED, "padding");
	UNIT_FAILS(rtp_parse(b, 27, &h), UC_ERR_TRUNCATED, "extension");
	UNIT_FAILS(rtp_parse(b, 19, &h), UC_ERR_TRUNCATED, "CSRCs");
	UNIT_FAILS(rtp_parse(b, 0, &h), UC_ERR_TRUNCATED, "12-byte");
	UNIT_FAILS(rtp_parse(NULL, 0, &h), UC_ERR_TRUNCATED, NULL);
	b[0] = 0xf2;				/* version 3 */
	UNIT_FAILS(rtp_parse(b, sizeof(b), &h), UC_ERR_FORMAT, "version 3");
}

static void
test_truncations_never_overrun(void)
{
	struct rtp_tx	 tx;
	struct rtp_rx	 rx;
	uint8_t		 buf[BUF_MAX], *copy;
	size_t		 n, k;

	rtp_tx_init(&tx, 0, 160);
	n = rtp_tx_next(&tx, buf, sizeof(buf), 64);
	buf[0] |= 0x2f;				/* P, 15 CSRCs */
	buf[n - 1] = 0;				/* padding count 0 */
	memset(&rx, 0, sizeof(rx));
	for (k = 0; k <= n; k++) {
		/* An exact-size copy so ASan sees any overrun. */
		if ((copy = malloc(k + 1)) == NULL)
			break;
		memcpy(copy, buf, k);
		(void)rtp_rx_check(&rx, copy, k);
		free(copy);
	}
	CU_ASSERT_EQUAL(rx.bad, n + 1);
}

static const struct unit_test tests[] = {
	{ "the pattern is deterministic per (ssrc, seq)",
	    test_pattern_is_deterministic_per_ssrc_and_seq },
	{ "sent packets parse and check in order",
	    test_tx_packets_parse_and_check_in_order },
	{ "loss, duplicates and reordering are counted across a seq wrap",
	    test_loss_duplicates_and_reorder_across_seq_wrap },
	{ "a late packet before the first moves the start back",
	    test_late_packet_before_the_first_moves_the_start },
	{ "bad payloads, other SSRCs and garbage are counted",
	    test_bad_payload_other_ssrc_and_garbage_are_counted },
	{ "CSRCs, extension and padding parse; bad ones are refused",
	    test_parse_csrcs_extension_and_padding },
	{ "truncated packets never read past the end",
	    test_truncations_never_overrun },
	{ NULL, NULL }
};

void
unit_register_rtpflow(void)
{
	unit_suite("rtpflow", tests);
}
