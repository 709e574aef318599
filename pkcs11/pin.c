/*
 * Where a token PIN comes from (p11.h): pin-source file, pin-value, env
 * UCSEC_PIN, or a no-echo prompt on /dev/tty.  A PIN is never logged.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "extern.h"
#include "log.h"
#include "p11.h"
#include "ttyread.h"
#include "uerr.h"

#define PIN_ENV		"UCSEC_PIN"
#define PIN_FILE_MAX	(P11_PIN_MAX + 2)	/* PIN plus "\r\n" */

/* Wipe a PIN buffer of sz bytes. */
void
pin_wipe(char *pin, size_t sz)
{
	if (pin != NULL)
		OPENSSL_cleanse(pin, sz);
}

/*
 * Take a PIN from len bytes of file text: one trailing "\n" or "\r\n" is
 * dropped; the rest must be 1 to P11_PIN_MAX bytes with no NUL, CR or LF.
 * Writes a NUL-terminated PIN into out (outsz bytes).  Returns 0 or
 * UC_ERR_FORMAT (out is then empty).
 */
int
pin_parse(const uint8_t *buf, size_t len, char *out, size_t outsz)
{
	size_t	 i;

	if (outsz > 0)
		out[0] = '\0';
	if (len > 0 && buf[len - 1] == '\n') {
		len--;
		if (len > 0 && buf[len - 1] == '\r')
			len--;
	}
	if (len == 0)
		return uc_fail(UC_ERR_FORMAT, "PIN is empty");
	if (len > P11_PIN_MAX || len >= outsz)
		return uc_fail(UC_ERR_FORMAT, "PIN longer than %d bytes",
		    P11_PIN_MAX);
	for (i = 0; i < len; i++)
		if (buf[i] == '\0' || buf[i] == '\n' || buf[i] == '\r')
			return uc_fail(UC_ERR_FORMAT, "PIN has a NUL or line "
			    "break inside (one line expected)");
	memcpy(out, buf, len);
	out[len] = '\0';
	return 0;
}

/*
 * Read a PIN file (pin_parse rules).  Warns when group or others may read
 * it.  Writes the PIN into out (outsz bytes); returns 0 or UC_ERR_*.
 */
int
pin_from_file(const char *path, char *out, size_t outsz)
{
	uint8_t		 buf[PIN_FILE_MAX + 1];
	struct stat	 st;
	size_t		 len = 0;
	ssize_t		 n;
	int		 fd, r = UC_ERR_IO;

	if (outsz > 0)
		out[0] = '\0';
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1)
		return uc_fail(UC_ERR_IO, "PIN file %s: %s", path,
		    strerror(errno));
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		r = uc_fail(UC_ERR_IO, "PIN file %s: not a regular file", path);
		goto out;
	}
	if (st.st_mode & (S_IRGRP | S_IROTH))
		log_warnx("PIN file %s is readable by group or others "
		    "(chmod 600 it)", path);
	while (len < sizeof(buf)) {
		n = read(fd, buf + len, sizeof(buf) - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			r = uc_fail(UC_ERR_IO, "PIN file %s: %s", path,
			    strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > PIN_FILE_MAX) {
		r = uc_fail(UC_ERR_FORMAT, "PIN file %s: longer than %d bytes",
		    path, P11_PIN_MAX);
		goto out;
	}
	if ((r = pin_parse(buf, len, out, outsz)) != 0)
		uc_prefix(path);
out:
	OPENSSL_cleanse(buf, sizeof(buf));
	close(fd);
	return r;
}

/* Read one line from the terminal with echo off. */
static int
pin_prompt(const char *what, char *out, size_t outsz)
{
	char		 buf[PIN_FILE_MAX + 1], msg[P11_LABEL_MAX + 16];
	size_t		 len;
	int		 r;

	snprintf(msg, sizeof(msg), "PIN for %s: ", what);
	if (tty_read_secret(msg, buf, sizeof(buf), &len) != 0)
		return uc_fail(UC_ERR_ARG, "no PIN given (pin-source, "
		    "pin-value or %s) and no terminal to ask on", PIN_ENV);
	if (len == sizeof(buf))
		r = uc_fail(UC_ERR_FORMAT, "PIN longer than %d bytes",
		    P11_PIN_MAX);
	else
		r = pin_parse((const uint8_t *)buf, len, out, outsz);
	OPENSSL_cleanse(buf, sizeof(buf));
	return r;
}

/* pin-source is a path or a file: URI (RFC 8089, local host only). */
static const char *
pin_source_path(const char *src)
{
	if (strncmp(src, "file://", 7) == 0) {
		src += 7;
		if (strncmp(src, "localhost/", 10) == 0)
			src += 9;
		return *src == '/' ? src : NULL;
	}
	if (strncmp(src, "file:", 5) == 0)
		return src + 5;
	if (src[0] == '|')
		return NULL;	/* p11-kit's "run a program" form */
	return src;
}

/*
 * Get the PIN for token `what` (for the prompt): the URI's pin-source,
 * its pin-value, env UCSEC_PIN, else the terminal when opts->interactive.
 * Writes it into out (outsz bytes; wipe it after use).  Returns 0 or
 * UC_ERR_*; UC_ERR_ARG when there is no PIN to be had.
 */
int
pin_get(const struct p11_uri *u, const struct p11_opts *opts,
    const char *what, char *out, size_t outsz)
{
	const char	*path, *env;

	if (outsz > 0)
		out[0] = '\0';
	if (u != NULL && u->pin_source != NULL) {
		if ((path = pin_source_path(u->pin_source)) == NULL)
			return uc_fail(UC_ERR_UNSUPPORTED, "pin-source: only a "
			    "file path or a file: URI is supported");
		return pin_from_file(path, out, outsz);
	}
	if (u != NULL && u->pin_value != NULL)
		return pin_parse((const uint8_t *)u->pin_value,
		    strlen(u->pin_value), out, outsz);
	if ((env = getenv(PIN_ENV)) != NULL && *env != '\0')
		return pin_parse((const uint8_t *)env, strlen(env), out,
		    outsz);
	if (opts != NULL && opts->interactive)
		return pin_prompt(what, out, outsz);
	return uc_fail(UC_ERR_ARG, "token %s needs a PIN: give pin-source or "
	    "pin-value in the URI, or set %s", what, PIN_ENV);
}
