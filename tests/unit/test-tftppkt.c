/*
 * Suite "tftppkt": the TFTP packet codec (lib/tftppkt.c): round trips,
 * every bound, truncations and hostile requests.
 */
#include <stdio.h>
#include <stdlib.h>

#include "tftppkt.h"
#include "unit.h"

/* A request from a byte string with embedded NULs. */
#define REQ(s)	((const uint8_t *)(s)), (sizeof(s) - 1)

static void
test_request_round_trips_with_every_option(void)
{
	struct tftp_opts	 o = { 1, 1428, 1, 123456789012ULL, 1, 7, 1, 16 };
	struct tftp_req		 req;
	uint8_t			 buf[TFTP_PKT_MAX];
	size_t			 n;
	int			 nok = 0;

	n = tftp_build_req(buf, sizeof(buf), TFTP_RRQ,
	    "Desktops/320x196x4/List.xml", TFTP_MODE_NETASCII, &o);
	CU_ASSERT(n > 0);
	CU_ASSERT_EQUAL(tftp_parse_req(buf, n, &req), 0);
	CU_ASSERT_EQUAL(req.op, TFTP_RRQ);
	CU_ASSERT_STRING_EQUAL(req.filename, "Desktops/320x196x4/List.xml");
	CU_ASSERT_EQUAL(req.mode, TFTP_MODE_NETASCII);
	CU_ASSERT(req.opts.has_blksize && req.opts.blksize == 1428);
	CU_ASSERT(req.opts.has_tsize && req.opts.tsize == 123456789012ULL);
	CU_ASSERT(req.opts.has_timeout && req.opts.timeout == 7);
	CU_ASSERT(req.opts.has_windowsize && req.opts.windowsize == 16);
	CU_ASSERT_EQUAL(req.nunknown, 0);
	/*
	 * Shorter prefixes fail, except the four that end after the mode or
	 * after a whole option (a request with fewer options).
	 */
	while (n-- > 0)
		if (tftp_parse_req(buf, n, &req) == 0)
			nok++;
	CU_ASSERT_EQUAL(nok, 4);
}

static void
test_request_without_options_and_case_insensitive(void)
{
	struct tftp_req	 req;

	CU_ASSERT_EQUAL(tftp_parse_req(REQ("\0\2f\0OcTeT\0"), &req), 0);
	CU_ASSERT_EQUAL(req.op, TFTP_WRQ);
	CU_ASSERT_EQUAL(req.mode, TFTP_MODE_OCTET);
	CU_ASSERT_FALSE(req.opts.has_blksize || req.opts.has_tsize ||
	    req.opts.has_timeout || req.opts.has_windowsize);
	CU_ASSERT_EQUAL(tftp_parse_req(REQ("\0\1f\0netascii\0BLKSIZE\0"
	    "512\0WindowSize\0" "4\0"), &req), 0);
	CU_ASSERT(req.opts.blksize == 512 && req.opts.windowsize == 4);
}

static void
test_unknown_options_are_counted_and_ignored(void)
{
	struct tftp_req	 req;

	CU_ASSERT_EQUAL(tftp_parse_req(REQ("\0\1f\0octet\0multicast\0\0"
	    "x\0y\0tsize\0" "0\0"), &req), 0);
	CU_ASSERT_EQUAL(req.nunknown, 2);
	CU_ASSERT(req.opts.has_tsize && req.opts.tsize == 0);
}

static void
test_option_bounds(void)
{
	struct tftp_req	 req;

	CU_ASSERT_EQUAL(tftp_parse_req(REQ("\0\1f\0octet\0blksize\0" "8\0"),
	    &req), 0);
	CU_ASSERT_EQUAL(tftp_parse_req(REQ("\0\1f\0octet\0blksize\0"
	    "65464\0"), &req), 0);
	CU_ASSERT_EQUAL(req.opts.blksize, 65464);
	UNIT_FAILS(tftp_parse_req(REQ("\0\1f\0octet\0blksize\0" "7\0"), &req),
	    UC_ERR_ARG, "blksize");
	UNIT_FAILS(tftp_parse_req(REQ("\0\1f\0octet\0blksize\0" "0\0"), &req),
	    UC_ERR_ARG, "outside");
	UNIT_FAILS(tftp_parse_req(REQ("\0\1f\0octet\0blksize\0" "65465\0"),
	    &req), UC_ERR_ARG, "blksize");
	UNIT_FAILS(tftp_parse_req(REQ("\0\1f\0octet\0blksize\0" "70000\0"),
	    &req), UC_ERR_ARG, "blksize");
	CU_ASSERT_EQUAL(tftp_parse_req(REQ("\0\1f\0octet\0timeout\0" "1\0"),
	    &req), 0);
	CU_ASSERT_EQUAL(tftp_parse_req(REQ("\0\1f\0octet\0timeout\0" "255\0"),
	    &req), 0);
	UNIT_FAILS(tftp_parse_req(REQ("\0\1f\0octet\0timeout\0" "0\0"), &req),
	    UC_ERR_ARG, "timeout");
	UNIT_FAILS(tftp_parse_req(REQ("\0\1f\0octet\0timeout\0" "256\0"),
	    &req), UC_ERR_ARG, "timeout");
	CU_ASSERT_EQUAL(tftp_parse_req(REQ("\0\1f\0octet\0windowsize\0"
	    "65535\0"), &req), 0);
	UNIT_FAILS(tftp_parse_req(REQ("\0\1f\0octet\0windowsize\0" "0\0"),
	    &req), UC_ERR_ARG, "windowsize");
	UNIT_FAILS(tftp_parse_req(REQ("\0\1f\0octet\0windowsize\0" "65536\0"),
	    &req), UC_ERR_ARG, "windowsize");
	CU_ASSERT_EQUAL(tftp_parse_req(REQ("\0\1f\0octet\0tsize\0"
	    "18446744073709551615\0"), &req), 0);
	UNIT_FAILS(tftp_parse_req(REQ("\0\1f\0octet\0tsize\0"
	    "18446744073709551616\0"), &req), UC_ERR_ARG, "overflow");
	UNIT_FAILS(tftp_parse_req(REQ("\0\1f\0octet\0blksize\0"
	    "99999999999999999999999\0"), &req), UC_ERR_ARG, "overflow");
}

static void
test_option_values_must_be_plain_decimal(void)
{
	struct tftp_req	 req;

	UNIT_FAILS(tftp_parse_req(REQ("\0\1f\0octet\0blksize\0" "1x\0"), &req),
	    UC_ERR_ARG, "decimal");
	UNIT_FAILS(tftp_parse_req(REQ("\0\1f\0octet\0blksize\0" "-512\0"),
	    &req), UC_ERR_ARG, "decimal");
	UNIT_FAILS(tftp_parse_req(REQ("\0\1f\0octet\0blksize\0" " 512\0"),
	    &req), UC_ERR_ARG, "decimal");
	UNIT_FAILS(tftp_parse_req(REQ("\0\1f\0octet\0blksize\0" "+512\0"),
	    &req), UC_ERR_ARG, "decimal");
	UNIT_FAILS(tftp_parse_req(REQ("\0\1f\0octet\0blksize\0\0"), &req),
	    UC_ERR_ARG, "empty");
}

static void
test_duplicate_options_are_refused(void)
{
	struct tftp_req	 req;

	UNIT_FAILS(tftp_parse_req(REQ("\0\1f\0octet\0blksize\0" "512\0"
	    "BlkSize\0" "1024\0"), &req), UC_ERR_ARG, "duplicate");
	UNIT_FAILS(tftp_parse_req(REQ("\0\1f\0octet\0tsize\0" "0\0tsize\0"
	    "0\0"), &req), UC_ERR_ARG, "duplicate");
}

static void
test_hostile_requests(void)
{
	struct tftp_req	 req;
	uint8_t		 buf[600];

	UNIT_FAILS(tftp_parse_req(REQ("\0\1f"), &req), UC_ERR_TRUNCATED,
	    "without NUL");
	UNIT_FAILS(tftp_parse_req(REQ("\0\1f\0octet"), &req),
	    UC_ERR_TRUNCATED, "mode");
	UNIT_FAILS(tftp_parse_req(REQ("\0\1\0octet\0"), &req), UC_ERR_FORMAT,
	    "empty file name");
	UNIT_FAILS(tftp_parse_req(REQ("\0\1f\0mail\0"), &req),
	    UC_ERR_UNSUPPORTED, "mode");
	UNIT_FAILS(tftp_parse_req(REQ("\0\1f\0\0"), &req),
	    UC_ERR_UNSUPPORTED, "mode");
	/* A NUL inside the name ends it: the rest is taken as the mode. */
	UNIT_FAILS(tftp_parse_req(REQ("\0\1a\0.sgn\0octet\0"), &req),
	    UC_ERR_UNSUPPORTED, "mode");
	UNIT_FAILS(tftp_parse_req(REQ("\0\1f\0octet\0blksize\0" "512"), &req),
	    UC_ERR_TRUNCATED, "offset 10");
	UNIT_FAILS(tftp_parse_req(REQ("\0\1f\0octet\0blksize\0"), &req),
	    UC_ERR_TRUNCATED, NULL);
	UNIT_FAILS(tftp_parse_req(REQ("\0\1f\0octet\0\0" "512\0"), &req),
	    UC_ERR_FORMAT, "empty name");
	UNIT_FAILS(tftp_parse_req(REQ("\0\3f\0octet\0"), &req), UC_ERR_FORMAT,
	    "not a request");
	UNIT_FAILS(tftp_parse_req(REQ("\0\7f\0octet\0"), &req), UC_ERR_FORMAT,
	    "unknown");
	UNIT_FAILS(tftp_parse_req(REQ("\0"), &req), UC_ERR_TRUNCATED, NULL);
	UNIT_FAILS(tftp_parse_req(NULL, 0, &req), UC_ERR_TRUNCATED, NULL);
	/* Names: TFTP_NAME_MAX bytes pass, one more is refused. */
	memset(buf, 'a', sizeof(buf));
	buf[0] = 0;
	buf[1] = 1;
	memcpy(buf + 2 + TFTP_NAME_MAX, "\0octet", 7);
	CU_ASSERT_EQUAL(tftp_parse_req(buf, 2 + TFTP_NAME_MAX + 7, &req), 0);
	CU_ASSERT_EQUAL(strlen(req.filename), TFTP_NAME_MAX);
	buf[2 + TFTP_NAME_MAX] = 'a';
	memcpy(buf + 3 + TFTP_NAME_MAX, "\0octet", 7);
	UNIT_FAILS(tftp_parse_req(buf, 3 + TFTP_NAME_MAX + 7, &req),
	    UC_ERR_POLICY, "over 255");
}

static void
test_ack_data_error_round_trips(void)
{
	uint8_t		 buf[TFTP_PKT_MAX], big[TFTP_PKT_MAX + 1];
	const uint8_t	*d;
	size_t		 n, dlen;
	uint16_t	 blk, code;
	char		 msg[8];

	CU_ASSERT_EQUAL(tftp_build_ack(buf, sizeof(buf), 65535), 4);
	CU_ASSERT_EQUAL(tftp_parse_ack(buf, 4, &blk), 0);
	CU_ASSERT_EQUAL(blk, 65535);
	UNIT_FAILS(tftp_parse_ack(buf, 3, &blk), UC_ERR_TRUNCATED, NULL);
	UNIT_FAILS(tftp_parse_ack(REQ("\0\4\0\1x"), &blk), UC_ERR_FORMAT,
	    "trailing");
	UNIT_FAILS(tftp_parse_ack(REQ("\0\3\0\1"), &blk), UC_ERR_FORMAT, NULL);
	CU_ASSERT_EQUAL(tftp_build_ack(buf, 3, 1), 0);

	CU_ASSERT_EQUAL(tftp_build_data_hdr(buf, sizeof(buf), 0), 4);
	memset(buf + 4, 'z', TFTP_BLKSIZE_MAX);
	CU_ASSERT_EQUAL(tftp_parse_data(buf, TFTP_PKT_MAX, &blk, &d, &dlen), 0);
	CU_ASSERT(blk == 0 && dlen == TFTP_BLKSIZE_MAX && d == buf + 4);
	CU_ASSERT_EQUAL(tftp_parse_data(buf, 4, &blk, &d, &dlen), 0);
	CU_ASSERT_EQUAL(dlen, 0);
	memset(big, 0, sizeof(big));
	big[1] = TFTP_DATA;
	UNIT_FAILS(tftp_parse_data(big, sizeof(big), &blk, &d, &dlen),
	    UC_ERR_FORMAT, "over");
	UNIT_FAILS(tftp_parse_data(buf, 3, &blk, &d, &dlen),
	    UC_ERR_TRUNCATED, NULL);

	n = tftp_build_error(buf, sizeof(buf), TFTP_EACCESS,
	    "access violation");
	CU_ASSERT_EQUAL(n, 4 + 17);
	CU_ASSERT_EQUAL(tftp_parse_error(buf, n, &code, msg, sizeof(msg)), 0);
	CU_ASSERT_EQUAL(code, TFTP_EACCESS);
	CU_ASSERT_STRING_EQUAL(msg, "access ");
	UNIT_FAILS(tftp_parse_error(buf, n - 1, &code, msg, sizeof(msg)),
	    UC_ERR_TRUNCATED, "NUL");
	CU_ASSERT_EQUAL(tftp_build_error(buf, 10, 0, "too long message"), 0);
}

static void
test_oack_round_trip_and_bounds(void)
{
	struct tftp_opts	 o = { 1, 65464, 1, 0, 0, 0, 1, 65535 }, p;
	uint8_t			 buf[128];
	size_t			 n;

	n = tftp_build_oack(buf, sizeof(buf), &o);
	CU_ASSERT(n > 2);
	CU_ASSERT_EQUAL(tftp_parse_oack(buf, n, &p), 0);
	CU_ASSERT(p.has_blksize && p.blksize == 65464);
	CU_ASSERT(p.has_tsize && p.tsize == 0);
	CU_ASSERT_FALSE(p.has_timeout);
	CU_ASSERT(p.has_windowsize && p.windowsize == 65535);
	CU_ASSERT_EQUAL(tftp_build_oack(buf, n - 1, &o), 0);
	UNIT_FAILS(tftp_parse_oack(buf, n - 1, &p), UC_ERR_TRUNCATED, NULL);
	UNIT_FAILS(tftp_parse_oack(REQ("\0\6blksize\0" "4\0"), &p),
	    UC_ERR_ARG, "blksize");
	UNIT_FAILS(tftp_parse_oack(REQ("\0\4"), &p), UC_ERR_FORMAT, NULL);
	CU_ASSERT_EQUAL(tftp_opcode(REQ("\0\6")), TFTP_OACK);
	CU_ASSERT(tftp_opcode(REQ("\0\0")) < 0);
}

static void
test_bit_flips_never_crash(void)
{
	struct tftp_opts	 o = { 1, 1428, 1, 0, 1, 3, 1, 16 }, p;
	struct tftp_req		 req;
	uint8_t			 good[128], buf[128];
	size_t			 n, i;
	int			 bit;

	n = tftp_build_req(good, sizeof(good), TFTP_RRQ, "SEP001122334455"
	    ".cnf.xml.sgn", TFTP_MODE_OCTET, &o);
	for (i = 0; i < n; i++)
		for (bit = 0; bit < 8; bit++) {
			memcpy(buf, good, n);
			buf[i] ^= 1 << bit;
			if (tftp_parse_req(buf, n, &req) == 0)
				CU_ASSERT(strlen(req.filename) <=
				    TFTP_NAME_MAX);
			(void)tftp_parse_oack(buf, n, &p);
		}
}

static const struct unit_test tests[] = {
	{ "request round trips with every option",
	    test_request_round_trips_with_every_option },
	{ "request without options; mode and names case-insensitive",
	    test_request_without_options_and_case_insensitive },
	{ "unknown options are counted and ignored",
	    test_unknown_options_are_counted_and_ignored },
	{ "option bounds: blksize, timeout, windowsize, tsize",
	    test_option_bounds },
	{ "option values must be plain decimal",
	    test_option_values_must_be_plain_decimal },
	{ "duplicate options are refused",
	    test_duplicate_options_are_refused },
	{ "hostile requests: truncation, bad mode, long name",
	    test_hostile_requests },
	{ "ACK, DATA and ERROR round trip with bounds",
	    test_ack_data_error_round_trips },
	{ "OACK round trip and bounds", test_oack_round_trip_and_bounds },
	{ "bit flips of a request never crash", test_bit_flips_never_crash },
	{ NULL, NULL },
};

void
unit_register_tftppkt(void)
{
	unit_suite("tftppkt", tests);
}
