/*
 * The SRTP key log for authorized packet capture (off by default): one
 * line per key as it is handed out, so that a capture of the call can be
 * decrypted later (srtp-decrypt).  The file is created 0600, refused if
 * it exists with group or other access, appended with one write(2) per
 * line.  A line is read back through the cursor (untrusted file).
 *
 * Line format (one space between fields, keys in this order):
 *   TIME call=ID dir=FROM>TO src=ADDR dst=ADDR ssrc=HEX|- suite=SUITE key=B64
 * TIME is RFC 3339 UTC; ID the call id; FROM and TO the device names
 * (or extensions) of sender and receiver; src the sender's RTP address
 * ("-" when unknown), dst the receiver's RTP address "192.0.2.1:24580"
 * or "[2001:db8::1]:24580"; ssrc "-" when the sender picks it (direct
 * media: the server never sees it); SUITE an RFC 4568 name; B64 the
 * master key || salt, standard base64.
 */
#ifndef UCSEC_KEYLOG_H
#define UCSEC_KEYLOG_H

#include <sys/socket.h>
#include <stddef.h>
#include <stdint.h>

#include "sdes.h"

#define KEYLOG_LINE_MAX		512
#define KEYLOG_NAME_MAX		64
#define KEYLOG_ADDR_MAX		64	/* "[" IPv6 "]:65535" + NUL */

struct keylog_entry {
	int64_t			 time;		/* unix seconds */
	char			 call[KEYLOG_NAME_MAX];
	char			 from[KEYLOG_NAME_MAX];
	char			 to[KEYLOG_NAME_MAX];
	int			 has_src;
	struct sockaddr_storage	 src;
	struct sockaddr_storage	 dst;
	int			 has_ssrc;
	uint32_t		 ssrc;
	int			 suite;		/* enum srtp_suite */
	uint8_t			 keysalt[SDES_KEYSALT_MAX];
	size_t			 keysalt_len;
};

struct keylog;

/* Open (create 0600) for appending; refuses a group/other-readable file,
   a non-regular one, one owned by another uid than the effective one or
   with more than one hard link (UC_ERR_POLICY). */
int	 keylog_open(const char *, struct keylog **);
/* Append one line (one write); the formatted line is wiped after. */
int	 keylog_write(struct keylog *, const struct keylog_entry *);
void	 keylog_close(struct keylog *);
/* 1 if the open log is still the file at this path (not rotated away). */
int	 keylog_is_at(const struct keylog *, const char *);
/* Format one line with its '\n' into buf (KEYLOG_LINE_MAX). */
int	 keylog_format(const struct keylog_entry *, char *, size_t);
/* Parse one line (without or with its '\n'); UC_ERR_FORMAT names the
   field. */
int	 keylog_parse(const char *, size_t, struct keylog_entry *);
void	 keylog_entry_wipe(struct keylog_entry *);
/* An IPv4/IPv6 address with its port as the log writes it ("192.0.2.1:
   24580", "[2001:db8::1]:24580") into buf (KEYLOG_ADDR_MAX); 0, or -1
   for another family, port 0 or a short buffer. */
int	 keylog_addr_format(const struct sockaddr_storage *, char *, size_t);

#endif /* UCSEC_KEYLOG_H */
