/*
 * The command-line frame shared by the ucsec tools that take a
 * subcommand (ctlclient, sgntool): dispatch, --help/--version, and the
 * one-line error and usage messages.  The program name is the one given
 * to log_init.
 */
#ifndef UCSEC_CMD_H
#define UCSEC_CMD_H

#include <stddef.h>

#ifndef UCSEC_VERSION
#define UCSEC_VERSION	"0.1"
#endif

struct cmd {
	const char	*name;
	int		(*fn)(int, char **);	/* argv[0] is the name */
};

int	 cmd_dispatch(const struct cmd *, size_t, int, char **,
	    void (*)(void));
int	 cmd_fail(int);
int	 cmd_usage_error(const char *, ...)
	    __attribute__((format(printf, 1, 2)));

#endif /* UCSEC_CMD_H */
