/*
 * Subcommand dispatch and one-line messages; see cmd.h.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "log.h"
#include "uerr.h"

/* Print the error detail of r as one line; returns 1 (the exit code). */
int
cmd_fail(int r)
{
	const char	*d = uc_errdetail();

	fprintf(stderr, "%s: %s\n", log_progname(), *d ? d : uc_strerror(r));
	return 1;
}

/* A usage problem: one line; returns 2 (the exit code). */
int
cmd_usage_error(const char *fmt, ...)
{
	va_list	 ap;

	fprintf(stderr, "%s: ", log_progname());
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see %s --help)\n", log_progname());
	return 2;
}

/*
 * Run the subcommand argv[1] from cmds with argv shifted by one; answer
 * -h/--help/help with usage() (which exits) and -V/version with the
 * version.  Returns the exit code.
 */
int
cmd_dispatch(const struct cmd *cmds, size_t n, int argc, char **argv,
    void (*usage)(void))
{
	size_t	 i;

	if (argc < 2 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0)
		usage();
	if (strcmp(argv[1], "-V") == 0 || strcmp(argv[1], "version") == 0) {
		printf("%s (ucsec) %s\n", log_progname(), UCSEC_VERSION);
		return 0;
	}
	for (i = 0; i < n; i++)
		if (strcmp(argv[1], cmds[i].name) == 0)
			return cmds[i].fn(argc - 1, argv + 1);
	return cmd_usage_error("unknown command \"%s\"", argv[1]);
}
