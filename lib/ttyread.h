/*
 * A secret (PIN, auth string) read from the controlling terminal with
 * echo off.  A signal while echo is off restores the terminal and wipes
 * what was typed before the signal's default action runs; SIGTSTP stops
 * and, once continued, the prompt goes on with echo off again.
 */
#ifndef UCSEC_TTYREAD_H
#define UCSEC_TTYREAD_H

#include <stddef.h>

/*
 * Print prompt on /dev/tty and read one line into buf (bufsz bytes, not
 * NUL-terminated); *len is the line's length without its newline, or
 * bufsz when the line did not fit.  Returns 0, or UC_ERR_NOTFOUND when
 * there is no terminal (no detail set: callers say what to use instead).
 * The caller wipes buf.
 */
int	 tty_read_secret(const char *, char *, size_t, size_t *);

#endif /* UCSEC_TTYREAD_H */
