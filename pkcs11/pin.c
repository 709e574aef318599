/*
 * Where a token PIN comes from (p11.h): pin-source file, pin-value, env
 * UCSEC_PIN, or a no-echo prompt on /dev/tty.  A PIN is never logged.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "extern.h"
#include "log.h"
#include "p11.h"
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

/*
 * The prompt's state for its signal handlers: a signal while echo is off
 * must not leave the terminal silent, nor a half-typed PIN in memory.
 */
static const int prompt_sigs[] = { SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGTSTP };
#define PROMPT_NSIGS	(sizeof(prompt_sigs) / sizeof(prompt_sigs[0]))

static struct {
	volatile sig_atomic_t	 fd;		/* /dev/tty, -1 when unused */
	struct termios		 old, noecho;	/* saved and prompt modes */
	volatile sig_atomic_t	 echo_off;	/* noecho is in force */
	char *volatile		 buf;		/* PIN so far, wiped on exit */
	volatile size_t		 bufsz;
	struct sigaction	 saved[PROMPT_NSIGS];
} prompt = { .fd = -1 };

/* Deliver sig with its default action (async-signal-safe calls only). */
static void
prompt_raise(int sig)
{
	struct sigaction	 dfl;
	sigset_t		 set;

	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	sigemptyset(&dfl.sa_mask);
	(void)sigaction(sig, &dfl, NULL);
	sigemptyset(&set);
	sigaddset(&set, sig);
	(void)sigprocmask(SIG_UNBLOCK, &set, NULL);
	(void)raise(sig);
}

static void prompt_onsig(int);

/* Catch sig with prompt_onsig, the other prompt_sigs blocked meanwhile. */
static void
prompt_catch(int sig)
{
	struct sigaction	 sa;
	size_t			 i;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = prompt_onsig;
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < PROMPT_NSIGS; i++)
		sigaddset(&sa.sa_mask, prompt_sigs[i]);
	(void)sigaction(sig, &sa, NULL);
}

/* Save the old actions and catch every prompt_sigs not ignored (nohup). */
static void
prompt_catch_all(void)
{
	size_t	 i;

	for (i = 0; i < PROMPT_NSIGS; i++)
		if (sigaction(prompt_sigs[i], NULL, &prompt.saved[i]) == 0 &&
		    prompt.saved[i].sa_handler != SIG_IGN)
			prompt_catch(prompt_sigs[i]);
}

/*
 * Restore the terminal, then take the signal's default action.  SIGTSTP
 * stops us; on SIGCONT echo goes off again and the prompt goes on.  The
 * others end the process, so the PIN typed so far is wiped first.
 */
static void
prompt_onsig(int sig)
{
	volatile char	*p = prompt.buf;
	size_t		 i;
	int		 saved_errno = errno;

	if (prompt.echo_off)
		(void)tcsetattr(prompt.fd, TCSAFLUSH, &prompt.old);
	if (sig != SIGTSTP)
		for (i = 0; p != NULL && i < prompt.bufsz; i++)
			p[i] = 0;
	prompt_raise(sig);
	/* Only SIGTSTP gets here, once continued. */
	prompt_catch(sig);
	if (prompt.echo_off)
		(void)tcsetattr(prompt.fd, TCSAFLUSH, &prompt.noecho);
	errno = saved_errno;
}

/* Echo off on fd (saved for prompt_end), signals caught meanwhile. */
static void
prompt_begin(int fd, char *buf, size_t bufsz)
{
	prompt.fd = fd;
	prompt.buf = buf;
	prompt.bufsz = bufsz;
	prompt.echo_off = 0;
	prompt_catch_all();
	if (tcgetattr(fd, &prompt.old) != 0)
		return;
	prompt.noecho = prompt.old;
	prompt.noecho.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
	prompt.noecho.c_lflag |= ICANON;
	prompt.echo_off = tcsetattr(fd, TCSAFLUSH, &prompt.noecho) == 0;
}

/* Undo prompt_begin: the terminal as it was, the old signal actions. */
static void
prompt_end(void)
{
	size_t	 i;

	if (prompt.echo_off)
		(void)tcsetattr(prompt.fd, TCSAFLUSH, &prompt.old);
	prompt.echo_off = 0;
	for (i = 0; i < PROMPT_NSIGS; i++)
		(void)sigaction(prompt_sigs[i], &prompt.saved[i], NULL);
	prompt.buf = NULL;
	prompt.bufsz = 0;
	prompt.fd = -1;
}

/* Read one line from the terminal with echo off. */
static int
pin_prompt(const char *what, char *out, size_t outsz)
{
	char		 buf[PIN_FILE_MAX + 1];
	ssize_t		 n;
	size_t		 len = 0;
	int		 fd, r = UC_ERR_IO;

	if ((fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY)) == -1)
		return uc_fail(UC_ERR_ARG, "no PIN given (pin-source, "
		    "pin-value or %s) and no terminal to ask on", PIN_ENV);
	prompt_begin(fd, buf, sizeof(buf));
	dprintf(fd, "PIN for %s: ", what);
	while (len < sizeof(buf)) {
		n = read(fd, buf + len, 1);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0 || buf[len] == '\n')
			break;
		len++;
	}
	prompt_end();
	dprintf(fd, "\n");
	if (len == sizeof(buf))
		r = uc_fail(UC_ERR_FORMAT, "PIN longer than %d bytes",
		    P11_PIN_MAX);
	else
		r = pin_parse((const uint8_t *)buf, len, out, outsz);
	OPENSSL_cleanse(buf, sizeof(buf));
	close(fd);
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
