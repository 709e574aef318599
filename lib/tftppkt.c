/*
 * TFTP packet codec: RFC 1350, RFC 2347 options, RFC 2348 blksize,
 * RFC 2349 tsize and timeout, RFC 7440 windowsize.  Every read goes
 * through the cursor; see tftppkt.h for the contract.
 *
 * Error codes (negative UC_ERR_*, detail via uc_errdetail()):
 *   UC_ERR_TRUNCATED	a string has no NUL, a field ends early
 *   UC_ERR_FORMAT	wrong opcode, empty file name, trailing bytes
 *   UC_ERR_UNSUPPORTED	transfer mode other than octet or netascii
 *   UC_ERR_ARG		option value not decimal, out of range, duplicate
 *   UC_ERR_POLICY	file name longer than TFTP_NAME_MAX
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "cursor.h"
#include "tftppkt.h"
#include "uerr.h"

#define TFTP_MODE_LEN	32	/* longest mode string: "netascii" is 8 */
#define TFTP_OPTSTR_MAX	255	/* longest option name or value */

enum topt {
	TOPT_BLKSIZE,
	TOPT_TSIZE,
	TOPT_TIMEOUT,
	TOPT_WINDOWSIZE,
	TOPT__MAX
};

static const char *const topt_names[TOPT__MAX] = {
	"blksize", "tsize", "timeout", "windowsize",
};

/* Limits per option, RFC 2348, 2349, 7440. */
static const uint64_t topt_min[TOPT__MAX] = {
	TFTP_BLKSIZE_MIN, 0, TFTP_TIMEOUT_MIN, TFTP_WINDOW_MIN,
};
static const uint64_t topt_max[TOPT__MAX] = {
	TFTP_BLKSIZE_MAX, UINT64_MAX, TFTP_TIMEOUT_MAX, TFTP_WINDOW_MAX,
};

/*
 * Return the opcode of a datagram (1 to 6), or a negative UC_ERR_* code
 * when it is shorter than two bytes or the opcode is unknown.
 */
int
tftp_opcode(const uint8_t *buf, size_t len)
{
	struct cursor	 c;
	uint16_t	 op;

	cur_init(&c, buf, len);
	op = cur_u16(&c);
	if (!cur_ok(&c))
		return uc_fail(UC_ERR_TRUNCATED, "TFTP packet of %zu bytes: "
		    "no opcode (RFC 1350 5)", len);
	if (op < TFTP_RRQ || op > TFTP_OACK)
		return uc_fail(UC_ERR_FORMAT, "TFTP opcode %u at offset 0: "
		    "unknown (RFC 1350 5, RFC 2347)", op);
	return op;
}

/* Strict decimal in [min, max]: digits only, no sign, no space. */
static int
opt_number(const char *name, const char *s, size_t off, uint64_t min,
    uint64_t max, uint64_t *out)
{
	uint64_t	 v = 0;
	size_t		 i;

	if (s[0] == '\0')
		return uc_fail(UC_ERR_ARG, "TFTP option %s at offset %zu: "
		    "empty value (RFC 2347)", name, off);
	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] < '0' || s[i] > '9')
			return uc_fail(UC_ERR_ARG, "TFTP option %s at offset "
			    "%zu: value is not decimal (RFC 2347)", name, off);
		if (v > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10)
			return uc_fail(UC_ERR_ARG, "TFTP option %s at offset "
			    "%zu: value overflows", name, off);
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v < min || v > max)
		return uc_fail(UC_ERR_ARG, "TFTP option %s at offset %zu: "
		    "%llu outside %llu..%llu", name, off,
		    (unsigned long long)v, (unsigned long long)min,
		    (unsigned long long)max);
	*out = v;
	return 0;
}

/* Store one recognised option; refuse duplicates. */
static int
opt_store(struct tftp_opts *o, enum topt k, uint64_t v, size_t off)
{
	int	*has[TOPT__MAX] = { &o->has_blksize, &o->has_tsize,
		    &o->has_timeout, &o->has_windowsize };

	if (*has[k])
		return uc_fail(UC_ERR_ARG, "TFTP option %s at offset %zu: "
		    "duplicate (RFC 2347)", topt_names[k], off);
	*has[k] = 1;
	switch (k) {
	case TOPT_BLKSIZE:
		o->blksize = (uint16_t)v;
		break;
	case TOPT_TSIZE:
		o->tsize = v;
		break;
	case TOPT_TIMEOUT:
		o->timeout = (uint8_t)v;
		break;
	default:
		o->windowsize = (uint16_t)v;
		break;
	}
	return 0;
}

/*
 * Parse option pairs up to the end of the cursor.  Sets *nunknown to the
 * number of unrecognised options.  0 or a negative UC_ERR_* code.
 */
static int
opts_parse(struct cursor *c, struct tftp_opts *o, int *nunknown)
{
	const char	*name, *val;
	size_t		 off;
	uint64_t	 v = 0;
	int		 k, r;

	memset(o, 0, sizeof(*o));
	*nunknown = 0;
	while (cur_left(c) > 0) {
		off = cur_offset(c);
		name = cur_strz(c, TFTP_OPTSTR_MAX + 1, NULL);
		val = cur_strz(c, TFTP_OPTSTR_MAX + 1, NULL);
		if (!cur_ok(c))
			return uc_fail(UC_ERR_TRUNCATED, "TFTP option at "
			    "offset %zu: name or value without NUL or over %d "
			    "bytes (RFC 2347)", off, TFTP_OPTSTR_MAX);
		if (name[0] == '\0')
			return uc_fail(UC_ERR_FORMAT, "TFTP option at offset "
			    "%zu: empty name (RFC 2347)", off);
		for (k = 0; k < TOPT__MAX; k++)
			if (strcasecmp(name, topt_names[k]) == 0)
				break;
		if (k == TOPT__MAX) {
			(*nunknown)++;
			continue;
		}
		if ((r = opt_number(topt_names[k], val, off, topt_min[k],
		    topt_max[k], &v)) != 0)
			return r;
		if ((r = opt_store(o, k, v, off)) != 0)
			return r;
	}
	return 0;
}

/* Mode string to enum; "mail" and the rest are refused. */
static int
mode_parse(const char *s, size_t off, enum tftp_mode *mode)
{
	if (strcasecmp(s, "octet") == 0)
		*mode = TFTP_MODE_OCTET;
	else if (strcasecmp(s, "netascii") == 0)
		*mode = TFTP_MODE_NETASCII;
	else
		return uc_fail(UC_ERR_UNSUPPORTED, "TFTP mode at offset %zu: "
		    "only octet and netascii (RFC 1350 5)", off);
	return 0;
}

/*
 * Parse an RRQ or WRQ into *req (filename NUL-terminated, at most
 * TFTP_NAME_MAX bytes).  Returns 0 or a negative UC_ERR_* code listed at
 * the top of this file; *req is undefined on failure.
 */
int
tftp_parse_req(const uint8_t *buf, size_t len, struct tftp_req *req)
{
	struct cursor	 c;
	const char	*name, *mode;
	size_t		 nlen, off;
	int		 op, r;

	memset(req, 0, sizeof(*req));
	if ((op = tftp_opcode(buf, len)) < 0)
		return op;
	if (op != TFTP_RRQ && op != TFTP_WRQ)
		return uc_fail(UC_ERR_FORMAT, "TFTP opcode %d at offset 0: "
		    "not a request (RFC 1350 5)", op);
	req->op = op;
	cur_init(&c, buf, len);
	(void)cur_skip(&c, 2);
	name = cur_strz(&c, cur_left(&c), &nlen);
	if (name == NULL)
		return uc_fail(UC_ERR_TRUNCATED, "TFTP request at offset 2: "
		    "file name without NUL (RFC 1350 5)");
	if (nlen == 0)
		return uc_fail(UC_ERR_FORMAT, "TFTP request at offset 2: "
		    "empty file name (RFC 1350 5)");
	if (nlen > TFTP_NAME_MAX)
		return uc_fail(UC_ERR_POLICY, "TFTP request at offset 2: "
		    "file name of %zu bytes, over %d", nlen, TFTP_NAME_MAX);
	memcpy(req->filename, name, nlen + 1);
	off = cur_offset(&c);
	if ((mode = cur_strz(&c, TFTP_MODE_LEN, NULL)) == NULL)
		return uc_fail(UC_ERR_TRUNCATED, "TFTP request at offset %zu: "
		    "mode without NUL or over %d bytes (RFC 1350 5)", off,
		    TFTP_MODE_LEN - 1);
	if ((r = mode_parse(mode, off, &req->mode)) != 0)
		return r;
	return opts_parse(&c, &req->opts, &req->nunknown);
}

/*
 * Parse an ACK: exactly opcode and block number.  0 or a negative
 * UC_ERR_* code.
 */
int
tftp_parse_ack(const uint8_t *buf, size_t len, uint16_t *block)
{
	struct cursor	 c;

	cur_init(&c, buf, len);
	if (cur_u16(&c) != TFTP_ACK)
		return uc_fail(cur_ok(&c) ? UC_ERR_FORMAT : UC_ERR_TRUNCATED,
		    "TFTP ACK at offset 0: wrong or missing opcode");
	*block = cur_u16(&c);
	if (!cur_ok(&c))
		return uc_fail(UC_ERR_TRUNCATED, "TFTP ACK at offset 2: "
		    "no block number (RFC 1350 5)");
	if (cur_left(&c) != 0)
		return uc_fail(UC_ERR_FORMAT, "TFTP ACK at offset 4: %zu "
		    "trailing bytes", cur_left(&c));
	return 0;
}

/*
 * Parse a DATA packet.  *data points into buf (valid while buf is) and
 * holds at most TFTP_BLKSIZE_MAX bytes.  0 or a negative UC_ERR_* code.
 */
int
tftp_parse_data(const uint8_t *buf, size_t len, uint16_t *block,
    const uint8_t **data, size_t *dlen)
{
	struct cursor	 c;
	size_t		 n;

	cur_init(&c, buf, len);
	if (cur_u16(&c) != TFTP_DATA)
		return uc_fail(cur_ok(&c) ? UC_ERR_FORMAT : UC_ERR_TRUNCATED,
		    "TFTP DATA at offset 0: wrong or missing opcode");
	*block = cur_u16(&c);
	if (!cur_ok(&c))
		return uc_fail(UC_ERR_TRUNCATED, "TFTP DATA at offset 2: "
		    "no block number (RFC 1350 5)");
	if ((n = cur_left(&c)) > TFTP_BLKSIZE_MAX)
		return uc_fail(UC_ERR_FORMAT, "TFTP DATA at offset 4: %zu "
		    "bytes, over %d (RFC 2348)", n, TFTP_BLKSIZE_MAX);
	*data = cur_bytes(&c, n);
	*dlen = n;
	return 0;
}

/*
 * Parse an OACK (RFC 2347) into *o; unknown options are ignored.  0 or a
 * negative UC_ERR_* code.
 */
int
tftp_parse_oack(const uint8_t *buf, size_t len, struct tftp_opts *o)
{
	struct cursor	 c;
	int		 nunknown;

	memset(o, 0, sizeof(*o));
	cur_init(&c, buf, len);
	if (cur_u16(&c) != TFTP_OACK)
		return uc_fail(cur_ok(&c) ? UC_ERR_FORMAT : UC_ERR_TRUNCATED,
		    "TFTP OACK at offset 0: wrong or missing opcode");
	return opts_parse(&c, o, &nunknown);
}

/*
 * Parse an ERROR packet: code, and the message copied NUL-terminated
 * into msg (cut to msgsz - 1 bytes; msg may be NULL when msgsz is 0).
 * 0 or a negative UC_ERR_* code.
 */
int
tftp_parse_error(const uint8_t *buf, size_t len, uint16_t *code, char *msg,
    size_t msgsz)
{
	struct cursor	 c;
	const char	*s;
	size_t		 n;

	cur_init(&c, buf, len);
	if (cur_u16(&c) != TFTP_ERROR)
		return uc_fail(cur_ok(&c) ? UC_ERR_FORMAT : UC_ERR_TRUNCATED,
		    "TFTP ERROR at offset 0: wrong or missing opcode");
	*code = cur_u16(&c);
	if (!cur_ok(&c))
		return uc_fail(UC_ERR_TRUNCATED, "TFTP ERROR at offset 2: "
		    "no error code (RFC 1350 5)");
	if ((s = cur_strz(&c, cur_left(&c), &n)) == NULL)
		return uc_fail(UC_ERR_TRUNCATED, "TFTP ERROR at offset 4: "
		    "message without NUL (RFC 1350 5)");
	if (msgsz > 0) {
		if (n >= msgsz)
			n = msgsz - 1;
		memcpy(msg, s, n);
		msg[n] = '\0';
	}
	return 0;
}

/* Append a NUL-terminated string; 0 if it does not fit. */
static size_t
put_str(uint8_t *buf, size_t size, size_t off, const char *s)
{
	size_t	 n = strlen(s) + 1;

	if (off > size || size - off < n)
		return 0;
	memcpy(buf + off, s, n);
	return off + n;
}

static size_t
put_u16(uint8_t *buf, size_t size, size_t off, uint16_t v)
{
	if (off > size || size - off < 2)
		return 0;
	buf[off] = v >> 8;
	buf[off + 1] = v & 0xff;
	return off + 2;
}

/* Append the present options as name/value pairs; 0 if they don't fit. */
static size_t
put_opts(uint8_t *buf, size_t size, size_t off, const struct tftp_opts *o)
{
	char	 v[24];

	if (o == NULL)
		return off;
	if (off != 0 && o->has_blksize) {
		snprintf(v, sizeof(v), "%u", o->blksize);
		off = put_str(buf, size, off, "blksize");
		off = off ? put_str(buf, size, off, v) : 0;
	}
	if (off != 0 && o->has_tsize) {
		snprintf(v, sizeof(v), "%llu", (unsigned long long)o->tsize);
		off = put_str(buf, size, off, "tsize");
		off = off ? put_str(buf, size, off, v) : 0;
	}
	if (off != 0 && o->has_timeout) {
		snprintf(v, sizeof(v), "%u", o->timeout);
		off = put_str(buf, size, off, "timeout");
		off = off ? put_str(buf, size, off, v) : 0;
	}
	if (off != 0 && o->has_windowsize) {
		snprintf(v, sizeof(v), "%u", o->windowsize);
		off = put_str(buf, size, off, "windowsize");
		off = off ? put_str(buf, size, off, v) : 0;
	}
	return off;
}

/*
 * Build an RRQ or WRQ with the present options of o (o may be NULL).
 * Returns the length, or 0 if it does not fit in size bytes.
 */
size_t
tftp_build_req(uint8_t *buf, size_t size, enum tftp_op op, const char *name,
    enum tftp_mode mode, const struct tftp_opts *o)
{
	size_t	 off;

	off = put_u16(buf, size, 0, op);
	off = off ? put_str(buf, size, off, name) : 0;
	off = off ? put_str(buf, size, off,
	    mode == TFTP_MODE_NETASCII ? "netascii" : "octet") : 0;
	return off ? put_opts(buf, size, off, o) : 0;
}

/* Build the 4-byte DATA header; the caller appends the data.  4 or 0. */
size_t
tftp_build_data_hdr(uint8_t *buf, size_t size, uint16_t block)
{
	size_t	 off;

	off = put_u16(buf, size, 0, TFTP_DATA);
	return off ? put_u16(buf, size, off, block) : 0;
}

/* Build an ACK.  4, or 0 if size is too small. */
size_t
tftp_build_ack(uint8_t *buf, size_t size, uint16_t block)
{
	size_t	 off;

	off = put_u16(buf, size, 0, TFTP_ACK);
	return off ? put_u16(buf, size, off, block) : 0;
}

/* Build an OACK with the present options of o.  Length, or 0. */
size_t
tftp_build_oack(uint8_t *buf, size_t size, const struct tftp_opts *o)
{
	size_t	 off;

	off = put_u16(buf, size, 0, TFTP_OACK);
	return off ? put_opts(buf, size, off, o) : 0;
}

/* Build an ERROR packet with code and message.  Length, or 0. */
size_t
tftp_build_error(uint8_t *buf, size_t size, uint16_t code, const char *msg)
{
	size_t	 off;

	off = put_u16(buf, size, 0, TFTP_ERROR);
	off = off ? put_u16(buf, size, off, code) : 0;
	return off ? put_str(buf, size, off, msg) : 0;
}
