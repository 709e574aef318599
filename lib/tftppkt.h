/*
 * TFTP packets (RFC 1350) with option negotiation (RFC 2347): blksize
 * (RFC 2348), tsize and timeout (RFC 2349), windowsize (RFC 7440).
 * Parsers read only through the cursor and never trust a length; builders
 * write into a caller buffer and return the length, or 0 if it does not
 * fit.  Shared by ucsec-tftpd and tftpstorm.
 */
#ifndef UCSEC_TFTPPKT_H
#define UCSEC_TFTPPKT_H

#include <stddef.h>
#include <stdint.h>

enum tftp_op {
	TFTP_RRQ = 1,
	TFTP_WRQ = 2,
	TFTP_DATA = 3,
	TFTP_ACK = 4,
	TFTP_ERROR = 5,
	TFTP_OACK = 6,
};

enum tftp_errcode {
	TFTP_EUNDEF = 0,	/* not defined, see message */
	TFTP_ENOTFOUND = 1,	/* file not found */
	TFTP_EACCESS = 2,	/* access violation */
	TFTP_ENOSPACE = 3,	/* disk full */
	TFTP_EBADOP = 4,	/* illegal TFTP operation */
	TFTP_EBADID = 5,	/* unknown transfer ID */
	TFTP_EEXISTS = 6,	/* file already exists */
	TFTP_ENOUSER = 7,	/* no such user */
	TFTP_EOPTNEG = 8,	/* option negotiation refused (RFC 2347) */
};

enum tftp_mode {
	TFTP_MODE_OCTET,
	TFTP_MODE_NETASCII,
};

#define TFTP_SEGSIZE		512	/* RFC 1350 default block size */
#define TFTP_BLKSIZE_MIN	8	/* RFC 2348 */
#define TFTP_BLKSIZE_MAX	65464	/* RFC 2348 */
#define TFTP_WINDOW_MIN		1	/* RFC 7440 */
#define TFTP_WINDOW_MAX		65535	/* RFC 7440 */
#define TFTP_TIMEOUT_MIN	1	/* RFC 2349, seconds */
#define TFTP_TIMEOUT_MAX	255	/* RFC 2349 */
#define TFTP_NAME_MAX		255	/* longest file name we accept */
#define TFTP_PKT_MAX		(4 + TFTP_BLKSIZE_MAX)	/* largest datagram */

/* Options of a request or OACK; has_* is 0 when the option is absent. */
struct tftp_opts {
	int		 has_blksize;
	uint16_t	 blksize;
	int		 has_tsize;
	uint64_t	 tsize;
	int		 has_timeout;
	uint8_t		 timeout;
	int		 has_windowsize;
	uint16_t	 windowsize;
};

struct tftp_req {
	enum tftp_op	 op;		/* TFTP_RRQ or TFTP_WRQ */
	char		 filename[TFTP_NAME_MAX + 1];
	enum tftp_mode	 mode;
	struct tftp_opts opts;		/* recognised options only */
	int		 nunknown;	/* options ignored (RFC 2347) */
};

int	 tftp_opcode(const uint8_t *, size_t);
int	 tftp_parse_req(const uint8_t *, size_t, struct tftp_req *);
int	 tftp_parse_ack(const uint8_t *, size_t, uint16_t *);
int	 tftp_parse_data(const uint8_t *, size_t, uint16_t *,
	    const uint8_t **, size_t *);
int	 tftp_parse_oack(const uint8_t *, size_t, struct tftp_opts *);
int	 tftp_parse_error(const uint8_t *, size_t, uint16_t *, char *, size_t);

size_t	 tftp_build_req(uint8_t *, size_t, enum tftp_op, const char *,
	    enum tftp_mode, const struct tftp_opts *);
size_t	 tftp_build_data_hdr(uint8_t *, size_t, uint16_t);
size_t	 tftp_build_ack(uint8_t *, size_t, uint16_t);
size_t	 tftp_build_oack(uint8_t *, size_t, const struct tftp_opts *);
size_t	 tftp_build_error(uint8_t *, size_t, uint16_t, const char *);

#endif /* UCSEC_TFTPPKT_H */
