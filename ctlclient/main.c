/*
 * ctlclient: builds, signs, shows, verifies and updates the Certificate
 * Trust List (CTLFile.tlv) and Initial Trust List (ITLFile.tlv) of a
 * Cisco-style phone cluster, signing with SAST eTokens over PKCS#11.
 */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "extern.h"
#include "log.h"
#include "uerr.h"

#ifndef UCSEC_VERSION
#define UCSEC_VERSION	"0.1"
#endif

const char *progname = "ctlclient";

static const struct {
	const char	*name;
	int		(*fn)(int, char **);
} cmds[] = {
	{ "build", cmd_build },
	{ "show", cmd_show },
	{ "verify", cmd_verify },
	{ "update", cmd_update },
	{ "diff", cmd_diff },
	{ "check-rollover", cmd_check_rollover },
};

void
usage(void)
{
	fprintf(stderr,
"usage: ctlclient build -o FILE --sast SRC --sast SRC [--ROLE SRC]...\n"
"                       [--digest sha1|sha512] [--version 1.0|1.1]\n"
"                       [--sign-with KEY [--sign-cert CERT]]\n"
"                       [--allow-single-token] [--filename NAME]\n"
"       ctlclient show FILE [--json]\n"
"       ctlclient verify FILE...\n"
"       ctlclient update FILE --sign-with KEY [-o OUT] [--add-ROLE SRC]...\n"
"                        [--remove SERIAL|SUBJECT]...\n"
"       ctlclient diff A B\n"
"       ctlclient check-rollover INSTALLED CANDIDATE [--at UNIXTIME]\n"
"\n"
"ROLE: ccm, tftp, ccm-tftp, capf, app-server, tvs (sast in build)\n"
"SRC:  pkcs11: URI, PEM/DER certificate file, or tls://host:port,\n"
"      optionally followed by ,dns=NAME and ,ip=A.B.C.D\n"
"KEY:  pkcs11: URI of a SAST token key (or a PEM key, for labs)\n"
"Common: --module PATH (PKCS#11 module), see ctlclient(1).\n");
	exit(2);
}

/* A usage problem: one line, then the caller exits 2. */
void
warnx_usage(const char *fmt, ...)
{
	va_list	 ap;

	fprintf(stderr, "%s: ", progname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see %s --help)\n", progname);
}

/* Print the error detail of r as one line; returns 1 (the exit code). */
int
fail_line(int r)
{
	const char	*d = uc_errdetail();

	fprintf(stderr, "%s: %s\n", progname, *d ? d : uc_strerror(r));
	return 1;
}

int
main(int argc, char *argv[])
{
	size_t	 i;

	/* A TLS peer that hangs up must give an error, not kill us. */
	signal(SIGPIPE, SIG_IGN);
	log_init(progname, 0, getenv("UCSEC_DEBUG") ? LOG_LEVEL_DEBUG :
	    LOG_LEVEL_INFO);
	if (argc < 2)
		usage();
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "help") == 0)
		usage();
	if (strcmp(argv[1], "-V") == 0 || strcmp(argv[1], "version") == 0) {
		printf("ctlclient (ucsec) %s\n", UCSEC_VERSION);
		return 0;
	}
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(argv[1], cmds[i].name) == 0)
			return cmds[i].fn(argc - 1, argv + 1);
	warnx_usage("unknown command \"%s\"", argv[1]);
	return 2;
}
