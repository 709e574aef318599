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

#include "cmd.h"
#include "extern.h"
#include "log.h"
#include "uerr.h"


const char *progname = "ctlclient";

static const struct cmd cmds[] = {
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

int
main(int argc, char *argv[])
{
	/* A TLS peer that hangs up must give an error, not kill us. */
	signal(SIGPIPE, SIG_IGN);
	log_init(progname, 0, getenv("UCSEC_DEBUG") ? LOG_LEVEL_DEBUG :
	    LOG_LEVEL_INFO);
	return cmd_dispatch(cmds, sizeof(cmds) / sizeof(cmds[0]), argc, argv,
	    usage);
}
