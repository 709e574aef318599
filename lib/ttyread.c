/*
 * No-echo terminal reads shared by the PIN prompt (pkcs11/pin.c) and
 * capfctl's --password-prompt.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "ttyread.h"
#include "uerr.h"

static const int tty_sigs[] = { SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGTSTP };
#define TTY_NSIGS	(sizeof(tty_sigs) / sizeof(tty_sigs[0]))

/* The prompt's state, for its signal handlers. */
static struct {
	volatile sig_atomic_t	 fd;		/* /dev/tty, -1 when unused */
	struct termios		 old, noecho;	/* saved and prompt modes */
	volatile sig_atomic_t	 echo_off;	/* noecho is in force */
	char *volatile		 buf;		/* text so far, wiped on exit */
	volatile size_t		 bufsz;
	struct sigaction	 saved[TTY_NSIGS];
} tty = { .fd = -1 };

/* Deliver sig with its default action (async-signal-safe calls only). */
static void
tty_raise(int sig)
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

static void tty_onsig(int);

/* Catch sig with tty_onsig, the other tty_sigs blocked meanwhile. */
static void
tty_catch(int sig)
{
	struct sigaction	 sa;
	size_t			 i;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = tty_onsig;
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < TTY_NSIGS; i++)
		sigaddset(&sa.sa_mask, tty_sigs[i]);
	(void)sigaction(sig, &sa, NULL);
}

/*
 * Restore the terminal, then take the signal's default action.  SIGTSTP
 * stops us; on SIGCONT echo goes off again.  The others end the process,
 * so the text typed so far is wiped first.
 */
static void
tty_onsig(int sig)
{
	volatile char	*p = tty.buf;
	size_t		 i;
	int		 saved_errno = errno;

	if (tty.echo_off)
		(void)tcsetattr(tty.fd, TCSAFLUSH, &tty.old);
	if (sig != SIGTSTP)
		for (i = 0; p != NULL && i < tty.bufsz; i++)
			p[i] = 0;
	tty_raise(sig);
	/* Only SIGTSTP gets here, once continued. */
	tty_catch(sig);
	if (tty.echo_off)
		(void)tcsetattr(tty.fd, TCSAFLUSH, &tty.noecho);
	errno = saved_errno;
}

/* Echo off on fd; every tty_sigs not ignored (nohup) caught meanwhile. */
static void
tty_begin(int fd, char *buf, size_t bufsz)
{
	size_t	 i;

	tty.fd = fd;
	tty.buf = buf;
	tty.bufsz = bufsz;
	tty.echo_off = 0;
	for (i = 0; i < TTY_NSIGS; i++)
		if (sigaction(tty_sigs[i], NULL, &tty.saved[i]) == 0 &&
		    tty.saved[i].sa_handler != SIG_IGN)
			tty_catch(tty_sigs[i]);
	if (tcgetattr(fd, &tty.old) != 0)
		return;
	tty.noecho = tty.old;
	tty.noecho.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
	tty.noecho.c_lflag |= ICANON;
	tty.echo_off = tcsetattr(fd, TCSAFLUSH, &tty.noecho) == 0;
}

/* Undo tty_begin: the terminal as it was, the old signal actions. */
static void
tty_end(void)
{
	size_t	 i;

	if (tty.echo_off)
		(void)tcsetattr(tty.fd, TCSAFLUSH, &tty.old);
	tty.echo_off = 0;
	for (i = 0; i < TTY_NSIGS; i++)
		(void)sigaction(tty_sigs[i], &tty.saved[i], NULL);
	tty.buf = NULL;
	tty.bufsz = 0;
	tty.fd = -1;
}

int
tty_read_secret(const char *prompt, char *buf, size_t bufsz, size_t *len)
{
	ssize_t	 n;
	int	 fd;

	*len = 0;
	if ((fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY)) == -1)
		return UC_ERR_NOTFOUND;
	tty_begin(fd, buf, bufsz);
	dprintf(fd, "%s", prompt);
	while (*len < bufsz) {
		n = read(fd, buf + *len, 1);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0 || buf[*len] == '\n')
			break;
		(*len)++;
	}
	tty_end();
	dprintf(fd, "\n");
	close(fd);
	return 0;
}
