/*
 * Logging; see log.h.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "log.h"

static const char	*progname = "ucsec";
static int		 use_syslog;
static enum log_level	 verbosity = LOG_LEVEL_INFO;

static const int syslog_prio[LOG_LEVEL__MAX] = {
	LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG,
};

/*
 * Name the program for messages and choose stderr (to_syslog 0) or the
 * daemon facility.  name must outlive all logging.
 */
void
log_init(const char *name, int to_syslog, enum log_level level)
{
	progname = name;
	use_syslog = to_syslog;
	verbosity = level;
	if (use_syslog)
		openlog(name, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

/* The name given to log_init, for messages. */
const char *
log_progname(void)
{
	return progname;
}

void
log_set_level(enum log_level level)
{
	verbosity = level;
}

void
log_msg(enum log_level level, const char *fmt, ...)
{
	char	 line[1024];
	va_list	 ap;

	if (level > verbosity)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (use_syslog)
		syslog(syslog_prio[level], "%s", line);
	else
		fprintf(stderr, "%s: %s\n", progname, line);
}

/*
 * Copy up to n bytes of untrusted text into dst (size dsz) with control
 * and non-ASCII bytes escaped as \ooo, so a log line stays one line.
 * Returns dst.
 */
char *
log_vis(char *dst, size_t dsz, const char *src, size_t n)
{
	size_t	 i, o = 0;
	unsigned char c;

	if (dsz == 0)
		return dst;
	for (i = 0; i < n && src[i] != '\0'; i++) {
		c = (unsigned char)src[i];
		if (c >= 0x20 && c < 0x7f && c != '\\') {
			if (o + 1 >= dsz)
				break;
			dst[o++] = (char)c;
		} else {
			if (o + 4 >= dsz)
				break;
			snprintf(dst + o, 5, "\\%03o", c);
			o += 4;
		}
	}
	dst[o] = '\0';
	return dst;
}

/*
 * Length of the valid, printable UTF-8 sequence at p (at most n bytes):
 * 1-4, or 0 for a control character (C0, DEL, C1), an invalid, overlong
 * or surrogate sequence, or a code point past U+10FFFF.
 */
size_t
utf8_printable(const unsigned char *p, size_t n)
{
	unsigned long	 cp;
	size_t		 len, i;

	if (n == 0)
		return 0;
	if (p[0] < 0x80)
		return p[0] >= 0x20 && p[0] != 0x7f ? 1 : 0;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		len = 2, cp = p[0] & 0x1f;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		len = 3, cp = p[0] & 0x0f;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		len = 4, cp = p[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff ||
	    (cp >= 0x80 && cp <= 0x9f))
		return 0;
	return len;
}

/*
 * Copy NUL-terminated untrusted text (names from a file) into dst for a
 * terminal: printable UTF-8 is kept, every other byte becomes \xNN and
 * a backslash \\.  Truncates to fit; returns dst.
 */
char *
str_vis(char *dst, size_t dsz, const char *src)
{
	const unsigned char	*p = (const unsigned char *)src;
	size_t			 o = 0, n, left = strlen(src);
	char			 esc[5];

	if (dsz == 0)
		return dst;
	for (; left > 0; p += n, left -= n) {
		n = *p == '\\' ? 0 : utf8_printable(p, left);
		if (n > 0) {
			if (o + n >= dsz)
				break;
			memcpy(dst + o, p, n);
			o += n;
			continue;
		}
		n = 1;
		if (*p == '\\')
			snprintf(esc, sizeof(esc), "\\\\");
		else
			snprintf(esc, sizeof(esc), "\\x%02x", *p);
		if (o + strlen(esc) >= dsz)
			break;
		memcpy(dst + o, esc, strlen(esc));
		o += strlen(esc);
	}
	dst[o] = '\0';
	return dst;
}

void
json_print_str(FILE *f, const char *s)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 left = strlen(s), n;

	fputc('"', f);
	for (; left > 0; p += n, left -= n) {
		n = 1;
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(f, "\\u%04x", *p);
		else if ((n = utf8_printable(p, left)) > 0)
			fwrite(p, 1, n, f);
		else {
			n = 1;
			fputs("\\ufffd", f);
		}
	}
	fputc('"', f);
}

const char *
time_iso(int64_t t, char *buf, size_t sz)
{
	struct tm	 tm;
	time_t		 tt = (time_t)t;

	if (t == 0 || gmtime_r(&tt, &tm) == NULL ||
	    strftime(buf, sz, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, sz, "-");
	return buf;
}
