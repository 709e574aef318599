/*
 * The SRTP key log (see keylog.h for the line format): one line per key
 * handed out, appended with one write(2) to a 0600 file, and read back
 * strictly through the cursor by srtp-decrypt.
 *
 * Error codes (negative UC_ERR_*, detail via uc_errdetail()):
 *   UC_ERR_FORMAT	keylog_parse: a field breaks the format; the detail
 *			starts with the field name and its offset
 *   UC_ERR_ARG		keylog_format/keylog_write: an entry that cannot be
 *			written as a valid line, or a short buffer
 *   UC_ERR_POLICY	keylog_open: a symlink, a non-regular file, one
 *			with group or other access bits, owned by another
 *			uid or with more than one hard link
 *   UC_ERR_IO		open, fstat or write failed
 *   UC_ERR_ALLOC	out of memory
 */
#include <sys/stat.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "cursor.h"
#include "keylog.h"
#include "sdes.h"
#include "uerr.h"

#define KEYLOG_MODE		0600
#define KEYLOG_FIELDS		8	/* TIME call dir src dst ssrc suite key */
#define KEYLOG_TIME_LEN		20	/* "2026-11-26T08:00:00Z" */
#define KEYLOG_TIME_MAX		253402300799LL	/* 9999-12-31T23:59:59Z */
#define KEYLOG_B64_MAX		64	/* base64 of SDES_KEYSALT_MAX bytes */
#define KEYLOG_HOST_MAX		INET6_ADDRSTRLEN /* address text + NUL */

_Static_assert(KEYLOG_ADDR_MAX >= KEYLOG_HOST_MAX + 8, "[host]:65535");
#define KEYLOG_PORT_DIGITS	5
#define KEYLOG_SSRC_DIGITS	8

struct keylog {
	int	 fd;
};

/* Field names in line order; index 0 (TIME) has no "name=". */
static const char *const field_names[KEYLOG_FIELDS] = {
	"time", "call", "dir", "src", "dst", "ssrc", "suite", "key",
};

/* FORMAT error "FIELD at offset N: why". */
static int
field_fail(int field, size_t off, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
field_fail(int field, size_t off, const char *fmt, ...)
{
	char	 why[160];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	return uc_fail(UC_ERR_FORMAT, "%s at offset %zu: %s",
	    field_names[field], off, why);
}

/*
 * Open (creating 0600) the key log at path for appending.  Refuses a
 * symlink, a non-regular file, a file with any group or other access
 * bit, one owned by another uid than the effective one and one with
 * more than one hard link (UC_ERR_POLICY): the log is as sensitive as
 * the calls.  *out is freed with keylog_close.
 */
int
keylog_open(const char *path, struct keylog **out)
{
	struct keylog	*kl = NULL;
	struct stat	 st;
	int		 fd, fl, r;

	*out = NULL;
	/* O_NONBLOCK: a FIFO must not block the open; cleared below. */
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW |
	    O_CLOEXEC | O_NOCTTY | O_NONBLOCK, KEYLOG_MODE);
	if (fd == -1) {
		if (errno == ELOOP)
			return uc_fail(UC_ERR_POLICY, "key log %s: is a "
			    "symbolic link; refused", path);
		if (errno == ENXIO)		/* FIFO without reader, socket */
			return uc_fail(UC_ERR_POLICY, "key log %s: not a "
			    "regular file; refused", path);
		return uc_fail(UC_ERR_IO, "key log %s: %s", path,
		    strerror(errno));
	}
	if (fstat(fd, &st) == -1) {
		r = uc_fail(UC_ERR_IO, "key log %s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		r = uc_fail(UC_ERR_POLICY, "key log %s: not a regular file; "
		    "refused", path);
		goto out;
	}
	if ((st.st_mode & 077) != 0) {
		r = uc_fail(UC_ERR_POLICY, "key log %s: mode %04o gives group "
		    "or other access; it must be 0600 (chmod 600)", path,
		    (unsigned)(st.st_mode & 07777));
		goto out;
	}
	if (st.st_uid != geteuid()) {
		r = uc_fail(UC_ERR_POLICY, "key log %s: owned by uid %lu, not "
		    "by this process's uid %lu; refused", path,
		    (unsigned long)st.st_uid, (unsigned long)geteuid());
		goto out;
	}
	if (st.st_nlink != 1) {
		r = uc_fail(UC_ERR_POLICY, "key log %s: has %lu hard links; "
		    "it must have exactly one (refused)", path,
		    (unsigned long)st.st_nlink);
		goto out;
	}
	if ((fl = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) == -1) {
		r = uc_fail(UC_ERR_IO, "key log %s: %s", path, strerror(errno));
		goto out;
	}
	if ((kl = calloc(1, sizeof(*kl))) == NULL) {
		r = uc_fail(UC_ERR_ALLOC, "key log %s", path);
		goto out;
	}
	kl->fd = fd;
	fd = -1;
	*out = kl;
	r = 0;
 out:
	if (fd != -1)
		close(fd);
	return r;
}

/*
 * Append one line for e with a single write(2); the formatted line (it
 * holds the key) is wiped after.  0, UC_ERR_ARG (see keylog_format) or
 * UC_ERR_IO (including a short write).
 */
int
keylog_write(struct keylog *kl, const struct keylog_entry *e)
{
	char	 line[KEYLOG_LINE_MAX];
	size_t	 len;
	ssize_t	 n;
	int	 r;

	if ((r = keylog_format(e, line, sizeof(line))) != 0)
		goto out;
	len = strlen(line);
	do
		n = write(kl->fd, line, len);
	while (n == -1 && errno == EINTR);
	if (n == -1)
		r = uc_fail(UC_ERR_IO, "key log write: %s", strerror(errno));
	else if ((size_t)n != len)
		r = uc_fail(UC_ERR_IO, "key log write: %zd of %zu bytes "
		    "written (disk full?)", n, len);
 out:
	OPENSSL_cleanse(line, sizeof(line));
	return r;
}

/*
 * Is the open log still the file at path (same device and inode)?  A
 * rotated or deleted log is not: 0.  1 if it is.
 */
int
keylog_is_at(const struct keylog *kl, const char *path)
{
	struct stat	 a, b;

	if (kl == NULL || fstat(kl->fd, &a) != 0 || stat(path, &b) != 0)
		return 0;
	return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* Close the key log; NULL is fine. */
void
keylog_close(struct keylog *kl)
{
	if (kl == NULL)
		return;
	close(kl->fd);
	free(kl);
}

/* Wipe a whole entry, key material included.  NULL is fine. */
void
keylog_entry_wipe(struct keylog_entry *e)
{
	if (e != NULL)
		OPENSSL_cleanse(e, sizeof(*e));
}

/* A name byte: VCHAR, and not '>' in a dir name. */
static int
name_char_ok(int ch, int dir)
{
	return ch > 0x20 && ch < 0x7f && !(dir && ch == '>');
}

/* A NUL-terminated name of 1..KEYLOG_NAME_MAX-1 name bytes? */
static int
name_ok(const char *s, int dir)
{
	size_t	 i, n = strnlen(s, KEYLOG_NAME_MAX);

	if (n == 0 || n == KEYLOG_NAME_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if (!name_char_ok((unsigned char)s[i], dir))
			return 0;
	return 1;
}

/* Port of an AF_INET/AF_INET6 address, host order; 0 for others. */
static unsigned int
addr_port(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)ss)->sin_port);
	if (ss->ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
	return 0;
}

/*
 * "192.0.2.1:24580" or "[2001:db8::1]:24580" into buf of size bytes
 * (KEYLOG_ADDR_MAX); 0, or -1 for another family, port 0 or a short
 * buffer.
 */
int
keylog_addr_format(const struct sockaddr_storage *ss, char *buf, size_t size)
{
	char		 host[KEYLOG_HOST_MAX];
	const void	*a;
	int		 n;

	if (addr_port(ss) == 0)
		return -1;
	if (ss->ss_family == AF_INET)
		a = &((const struct sockaddr_in *)ss)->sin_addr;
	else
		a = &((const struct sockaddr_in6 *)ss)->sin6_addr;
	if (inet_ntop(ss->ss_family, a, host, sizeof(host)) == NULL)
		return -1;
	n = snprintf(buf, size, ss->ss_family == AF_INET ? "%s:%u" :
	    "[%s]:%u", host, addr_port(ss));
	return n < 0 || (size_t)n >= size ? -1 : 0;
}

/* RFC 3339 UTC "YYYY-MM-DDTHH:MM:SSZ" of t (0..9999); 0 or -1. */
static int
time_format(int64_t t, char *buf, size_t size)
{
	struct tm	 tm;
	time_t		 tt = (time_t)t;

	if (t < 0 || t > KEYLOG_TIME_MAX || gmtime_r(&tt, &tm) == NULL ||
	    strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm) !=
	    KEYLOG_TIME_LEN)
		return -1;
	return 0;
}

/* Everything keylog_parse would refuse, as UC_ERR_ARG. */
static int
entry_check(const struct keylog_entry *e)
{
	if (!name_ok(e->call, 0))
		return uc_fail(UC_ERR_ARG, "key log: call id is not 1 to %d "
		    "printable ASCII characters", KEYLOG_NAME_MAX - 1);
	if (!name_ok(e->from, 1) || !name_ok(e->to, 1))
		return uc_fail(UC_ERR_ARG, "key log: dir names are not 1 to %d "
		    "printable ASCII characters without '>'",
		    KEYLOG_NAME_MAX - 1);
	if (e->suite < 0 || e->suite >= SUITE__MAX ||
	    e->keysalt_len != sdes_suite_key_len(e->suite) +
	    sdes_suite_salt_len(e->suite))
		return uc_fail(UC_ERR_ARG, "key log: suite %d with %zu key "
		    "bytes (spec 6.2)", e->suite, e->keysalt_len);
	return 0;
}

/*
 * Format e as one line with its '\n' and a NUL into buf of size bytes
 * (KEYLOG_LINE_MAX is enough).  0, or UC_ERR_ARG for an entry keylog_parse
 * would refuse (bad name, address, time, suite or key length) or a short
 * buffer; on failure buf holds no key.
 */
int
keylog_format(const struct keylog_entry *e, char *buf, size_t size)
{
	char	 tm[KEYLOG_TIME_LEN + 1], src[KEYLOG_ADDR_MAX];
	char	 dst[KEYLOG_ADDR_MAX], ssrc[KEYLOG_SSRC_DIGITS + 1];
	char	 b64[KEYLOG_B64_MAX + 1];
	int	 n = -1, r;

	if ((r = entry_check(e)) != 0)
		goto out;
	if (time_format(e->time, tm, sizeof(tm)) != 0 ||
	    (e->has_src && keylog_addr_format(&e->src, src, sizeof(src)) != 0) ||
	    keylog_addr_format(&e->dst, dst, sizeof(dst)) != 0) {
		r = uc_fail(UC_ERR_ARG, "key log: time %lld or an address "
		    "(IPv4/IPv6 with a port) out of range", (long long)e->time);
		goto out;
	}
	if (!e->has_src)
		snprintf(src, sizeof(src), "-");
	if (e->has_ssrc)
		snprintf(ssrc, sizeof(ssrc), "%08lx", (unsigned long)e->ssrc);
	else
		snprintf(ssrc, sizeof(ssrc), "-");
	EVP_EncodeBlock((unsigned char *)b64, e->keysalt, (int)e->keysalt_len);
	n = snprintf(buf, size, "%s call=%s dir=%s>%s src=%s dst=%s ssrc=%s "
	    "suite=%s key=%s\n", tm, e->call, e->from, e->to, src, dst, ssrc,
	    sdes_suite_name(e->suite), b64);
	if (n < 0 || (size_t)n >= size)
		r = uc_fail(UC_ERR_ARG, "key log: line buffer of %zu bytes too "
		    "small", size);
 out:
	OPENSSL_cleanse(b64, sizeof(b64));
	if (r != 0 && size > 0)
		OPENSSL_cleanse(buf, size);
	return r;
}

/*
 * Split the next field off line into val: the bytes up to one ' ' (then
 * consumed) or, for the last field, to the end.  For a named field, val
 * starts after "name=".
 */
static int
field_next(struct cursor *line, int field, struct cursor *val)
{
	struct cursor	 scan = *line;
	const uint8_t	*p;
	size_t		 off = cur_offset(line), n = 0, klen;

	while (cur_left(&scan) > 0 && cur_peek_u8(&scan) != ' ') {
		(void)cur_u8(&scan);
		n++;
	}
	if (n == 0)
		return field_fail(field, off, cur_left(line) == 0 ?
		    "missing (line ends early)" : "empty (two spaces?)");
	(void)cur_sub(line, n, val);
	if (field < KEYLOG_FIELDS - 1 && cur_u8(line) != ' ')
		return field_fail(field + 1, off + n, "missing (line ends "
		    "early)");
	if (field == KEYLOG_FIELDS - 1 && cur_left(line) != 0)
		return field_fail(field, off + n, "junk after the last field");
	if (field == 0)
		return 0;
	klen = strlen(field_names[field]);
	if (cur_left(val) <= klen + 1 || (p = cur_bytes(val, klen + 1)) ==
	    NULL || memcmp(p, field_names[field], klen) != 0 || p[klen] != '=')
		return field_fail(field, off, "not \"%s=VALUE\"",
		    field_names[field]);
	return 0;
}

/* Exactly n decimal digits as a number; -1 if any is not a digit. */
static long
digits_read(struct cursor *c, size_t n)
{
	long	 v = 0;
	int	 ch;

	while (n-- > 0) {
		ch = cur_u8(c);
		if (ch < '0' || ch > '9')
			return -1;
		v = v * 10 + (ch - '0');
	}
	return cur_ok(c) ? v : -1;
}

/* The byte ch next, consumed; 0 or -1. */
static int
char_expect(struct cursor *c, int ch)
{
	return cur_left(c) > 0 && cur_u8(c) == ch ? 0 : -1;
}

/* TIME: "YYYY-MM-DDTHH:MM:SSZ", a real UTC date from 1970 on. */
static int
time_parse(struct cursor *c, struct keylog_entry *e)
{
	struct tm	 tm, back;
	size_t		 off = cur_offset(c);
	long		 f[6];
	time_t		 t;
	int		 i, bad = cur_left(c) != KEYLOG_TIME_LEN;
	static const char sep[6] = { '-', '-', 'T', ':', ':', 'Z' };

	for (i = 0; i < 6 && !bad; i++)
		bad = (f[i] = digits_read(c, i == 0 ? 4 : 2)) < 0 ||
		    char_expect(c, sep[i]) != 0;
	if (bad)
		return field_fail(0, off, "not RFC 3339 UTC "
		    "YYYY-MM-DDTHH:MM:SSZ");
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = (int)f[0] - 1900;
	tm.tm_mon = (int)f[1] - 1;
	tm.tm_mday = (int)f[2];
	tm.tm_hour = (int)f[3];
	tm.tm_min = (int)f[4];
	tm.tm_sec = (int)f[5];
	back = tm;
	if (f[0] < 1970 || f[1] < 1 || f[1] > 12 || f[2] < 1 || f[3] > 23 ||
	    f[4] > 59 || f[5] > 59 || (t = timegm(&back)) == (time_t)-1 ||
	    back.tm_mday != tm.tm_mday || back.tm_mon != tm.tm_mon)
		return field_fail(0, off, "no such UTC date and time "
		    "(1970 or later)");
	e->time = (int64_t)t;
	return 0;
}

/* The rest of c as a name (call, or one side of dir up to '>'). */
static int
name_parse(struct cursor *c, int field, int dir, char *out)
{
	size_t	 off = cur_offset(c), n = 0;
	int	 ch;

	while (cur_left(c) > 0 && (!dir || cur_peek_u8(c) != '>')) {
		ch = cur_u8(c);
		if (!name_char_ok(ch, 0))
			return field_fail(field, off + n, "byte 0x%02x is not "
			    "printable ASCII", (unsigned)ch);
		if (n == KEYLOG_NAME_MAX - 1)
			return field_fail(field, off, "name longer than %d "
			    "bytes", KEYLOG_NAME_MAX - 1);
		out[n++] = (char)ch;
	}
	out[n] = '\0';
	if (n == 0)
		return field_fail(field, off, "empty name");
	return 0;
}

/* dir: FROM ">" TO, neither empty nor containing '>'. */
static int
dir_parse(struct cursor *c, struct keylog_entry *e)
{
	size_t	 off = cur_offset(c);
	int	 r;

	if ((r = name_parse(c, 2, 1, e->from)) != 0)
		return r;
	if (char_expect(c, '>') != 0)
		return field_fail(2, off, "not FROM>TO");
	off = cur_offset(c);
	if ((r = name_parse(c, 2, 1, e->to)) != 0)
		return r;
	if (cur_left(c) != 0)
		return field_fail(2, off, "more than one '>' (FROM>TO)");
	return 0;
}

/* Port: 1..5 digits, no leading zero, 1..65535; the rest of c. */
static int
port_parse(struct cursor *c, unsigned int *port)
{
	size_t	 n = cur_left(c);
	long	 v;

	if (n == 0 || n > KEYLOG_PORT_DIGITS || cur_peek_u8(c) == '0' ||
	    (v = digits_read(c, n)) < 1 || v > 65535)
		return -1;
	*port = (unsigned int)v;
	return 0;
}

/* Copy the next n bytes of c into a NUL-terminated host buffer: hex
   digits, ':' and '.' only (inet_pton would stop at a NUL). */
static int
host_copy(struct cursor *c, size_t n, char host[KEYLOG_HOST_MAX])
{
	size_t	 i;

	if (n == 0 || n >= KEYLOG_HOST_MAX || !cur_copy(c, host, n))
		return -1;
	host[n] = '\0';
	for (i = 0; i < n; i++)
		if (strchr("0123456789abcdefABCDEF:.", host[i]) == NULL ||
		    host[i] == '\0')
			return -1;
	return 0;
}

/* Offset of the first ch in what is left of c from its position, or
   (size_t)-1; last: the last one. */
static size_t
char_find(const struct cursor *c, int ch, int last)
{
	struct cursor	 scan = *c;
	size_t		 i = 0, at = (size_t)-1;

	while (cur_left(&scan) > 0) {
		if (cur_u8(&scan) == ch) {
			at = i;
			if (!last)
				break;
		}
		i++;
	}
	return at;
}

/* "a.b.c.d:port" or "[v6]:port" (the rest of c) into *ss. */
static int
addr_read(struct cursor *c, struct sockaddr_storage *ss)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)ss;
	char			 host[KEYLOG_HOST_MAX];
	unsigned int		 port;
	size_t			 at;

	memset(ss, 0, sizeof(*ss));
	if (cur_left(c) > 0 && cur_peek_u8(c) == '[') {
		(void)cur_u8(c);
		if ((at = char_find(c, ']', 0)) == (size_t)-1 ||
		    host_copy(c, at, host) != 0 || char_expect(c, ']') != 0 ||
		    char_expect(c, ':') != 0 || port_parse(c, &port) != 0 ||
		    inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1)
			return -1;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		return 0;
	}
	if ((at = char_find(c, ':', 1)) == (size_t)-1 ||
	    host_copy(c, at, host) != 0 || char_expect(c, ':') != 0 ||
	    port_parse(c, &port) != 0 ||
	    inet_pton(AF_INET, host, &sin->sin_addr) != 1)
		return -1;
	sin->sin_family = AF_INET;
	sin->sin_port = htons((uint16_t)port);
	return 0;
}

/* src or dst: an address, or "-" where allowed (*has = 0). */
static int
addr_parse(struct cursor *c, int field, struct sockaddr_storage *ss,
    int *has)
{
	size_t	 off = cur_offset(c);

	if (has != NULL && cur_left(c) == 1 && cur_peek_u8(c) == '-') {
		*has = 0;
		return 0;
	}
	if (addr_read(c, ss) != 0)
		return field_fail(field, off, "not %sIPv4 a.b.c.d:PORT or "
		    "[IPv6]:PORT with PORT 1..65535", has ? "\"-\", " : "");
	if (has != NULL)
		*has = 1;
	return 0;
}

/* ssrc: "-" or 1..8 hex digits. */
static int
ssrc_parse(struct cursor *c, struct keylog_entry *e)
{
	size_t		 off = cur_offset(c), n = cur_left(c);
	uint32_t	 v = 0;
	int		 ch, d;

	if (n == 1 && cur_peek_u8(c) == '-')
		return 0;
	if (n == 0 || n > KEYLOG_SSRC_DIGITS)
		return field_fail(5, off, "not \"-\" or 1 to 8 hex digits");
	while (cur_left(c) > 0) {
		ch = cur_u8(c);
		if (ch >= '0' && ch <= '9')
			d = ch - '0';
		else if (ch >= 'a' && ch <= 'f')
			d = ch - 'a' + 10;
		else if (ch >= 'A' && ch <= 'F')
			d = ch - 'A' + 10;
		else
			return field_fail(5, off, "not \"-\" or 1 to 8 hex "
			    "digits");
		v = v << 4 | (uint32_t)d;
	}
	e->has_ssrc = 1;
	e->ssrc = v;
	return 0;
}

/* suite: an RFC 4568 name we know (spec 6.2). */
static int
suite_parse(struct cursor *c, struct keylog_entry *e)
{
	size_t		 off = cur_offset(c), n = cur_left(c);
	const uint8_t	*p = cur_bytes(c, n);

	if (p == NULL || (e->suite = sdes_suite_parse((const char *)p, n)) < 0)
		return field_fail(6, off, "unknown SRTP suite (spec 6.2)");
	return 0;
}

/*
 * key: strict base64 (RFC 4648, padded, canonical) of exactly the
 * suite's key + salt.  OpenSSL decodes; strictness is the exact length
 * and the re-encoding matching the input byte for byte.
 */
static int
key_parse(struct cursor *c, struct keylog_entry *e)
{
	uint8_t		 raw[KEYLOG_B64_MAX / 4 * 3];
	char		 back[KEYLOG_B64_MAX + 1];
	const uint8_t	*p;
	size_t		 off = cur_offset(c), n = cur_left(c), want, b64len;
	int		 r = 0;

	want = sdes_suite_key_len(e->suite) + sdes_suite_salt_len(e->suite);
	b64len = 4 * ((want + 2) / 3);
	if (n != b64len || (p = cur_bytes(c, n)) == NULL)
		return field_fail(7, off, "%zu base64 characters, %s needs %zu",
		    n, sdes_suite_name(e->suite), b64len);
	if (EVP_DecodeBlock(raw, p, (int)n) < (int)want ||
	    EVP_EncodeBlock((unsigned char *)back, raw, (int)want) !=
	    (int)n || CRYPTO_memcmp(back, p, n) != 0)
		r = field_fail(7, off, "not canonical base64 of %zu bytes",
		    want);
	else {
		memcpy(e->keysalt, raw, want);
		e->keysalt_len = want;
	}
	OPENSSL_cleanse(raw, sizeof(raw));
	OPENSSL_cleanse(back, sizeof(back));
	return r;
}

/* Parse one field's value (val after "name=") into e. */
static int
field_parse(int field, struct cursor *val, struct keylog_entry *e)
{
	switch (field) {
	case 0:
		return time_parse(val, e);
	case 1:
		return name_parse(val, 1, 0, e->call);
	case 2:
		return dir_parse(val, e);
	case 3:
		return addr_parse(val, 3, &e->src, &e->has_src);
	case 4:
		return addr_parse(val, 4, &e->dst, NULL);
	case 5:
		return ssrc_parse(val, e);
	case 6:
		return suite_parse(val, e);
	default:
		return key_parse(val, e);
	}
}

/* The byte at offset off from c's position, or -1 past its end. */
static int
byte_at(const struct cursor *c, size_t off)
{
	struct cursor	 scan = *c;

	if (!cur_skip(&scan, off) || cur_left(&scan) == 0)
		return -1;
	return cur_peek_u8(&scan);
}

/*
 * Parse one key log line of len bytes (no NUL needed; one trailing '\n'
 * allowed) into *e: every field, in order, one space apart (keylog.h).
 * 0, or UC_ERR_FORMAT with a detail "FIELD at offset N: why"; on
 * failure *e holds no key.
 */
int
keylog_parse(const char *s, size_t len, struct keylog_entry *e)
{
	struct cursor	 line, val;
	int		 field, r = 0;

	memset(e, 0, sizeof(*e));
	cur_init(&line, (const uint8_t *)s, len);
	if (len > 0 && byte_at(&line, len - 1) == '\n')
		cur_init(&line, (const uint8_t *)s, --len);
	if (len >= KEYLOG_LINE_MAX)
		return uc_fail(UC_ERR_FORMAT, "line of %zu bytes: longer than "
		    "%d", len, KEYLOG_LINE_MAX - 1);
	if (len > 0 && byte_at(&line, len - 1) == '\r')
		return field_fail(KEYLOG_FIELDS - 1, len - 1, "carriage "
		    "return at end of line");
	for (field = 0; field < KEYLOG_FIELDS && r == 0; field++)
		if ((r = field_next(&line, field, &val)) == 0)
			r = field_parse(field, &val, e);
	if (r != 0)
		keylog_entry_wipe(e);
	return r;
}
