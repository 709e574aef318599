/*
 * Logging; see log.h.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>

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
