/*
 * libFuzzer harness for the TFTP packet codec (lib/tftppkt.c): every
 * parser (request, OACK, ACK, DATA, ERROR) on the input, and the contract
 * checks: a parsed request has a NUL-terminated name of at most
 * TFTP_NAME_MAX bytes and options inside their RFC ranges; a parsed
 * request or OACK rebuilds and parses back to the same options; DATA
 * points inside the input.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tftppkt.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define CHECK(x)	do { if (!(x)) abort(); } while (0)

static void
check_opts(const struct tftp_opts *o)
{
	struct tftp_opts	 p;
	uint8_t			 buf[256];
	size_t			 n;

	if (o->has_blksize)
		CHECK(o->blksize >= TFTP_BLKSIZE_MIN &&
		    o->blksize <= TFTP_BLKSIZE_MAX);
	if (o->has_timeout)
		CHECK(o->timeout >= TFTP_TIMEOUT_MIN);
	if (o->has_windowsize)
		CHECK(o->windowsize >= TFTP_WINDOW_MIN);
	n = tftp_build_oack(buf, sizeof(buf), o);
	CHECK(n > 0);
	CHECK(tftp_parse_oack(buf, n, &p) == 0);
	CHECK(memcmp(o, &p, sizeof(p)) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct tftp_req		 req;
	struct tftp_opts	 o;
	const uint8_t		*d;
	size_t			 dlen;
	uint16_t		 blk, code;
	char			 msg[64];

	(void)tftp_opcode(data, len);
	if (tftp_parse_req(data, len, &req) == 0) {
		CHECK(req.op == TFTP_RRQ || req.op == TFTP_WRQ);
		CHECK(strlen(req.filename) >= 1 &&
		    strlen(req.filename) <= TFTP_NAME_MAX);
		CHECK(req.mode == TFTP_MODE_OCTET ||
		    req.mode == TFTP_MODE_NETASCII);
		check_opts(&req.opts);
	}
	if (tftp_parse_oack(data, len, &o) == 0)
		check_opts(&o);
	(void)tftp_parse_ack(data, len, &blk);
	if (tftp_parse_data(data, len, &blk, &d, &dlen) == 0)
		CHECK(dlen == len - 4 && (dlen == 0 || d == data + 4));
	if (tftp_parse_error(data, len, &code, msg, sizeof(msg)) == 0)
		CHECK(strlen(msg) < sizeof(msg));
	return 0;
}
