/*
 * sccp-phone: the phone side of Skinny (SCCP), ../shared/specs/
 * sccp-security.md, as a test phone, a debug tool and a load generator.
 *
 * Single mode registers one phone over TCP or TLS (client certificate,
 * server checked against --ca), runs the bring-up of spec 4, and may
 * place or answer one call: it opens RTP or SRTP (keys from the
 * OpenReceiveChannel / StartMediaTransmission key blocks, spec 7) on
 * loopback, sends a self-checking stream (lib/rtpflow.h) every 20 ms and
 * checks every packet received, optionally holds and resumes (and then
 * expects new keys), hangs up, unregisters and prints one result line.
 *
 * Load mode (--load N) runs N phones in one thread over libevent, each
 * with its own certificate minted before timing starts: registrations
 * per second, idle phones held, calls between pairs of phones, or TLS
 * handshakes alone.
 *
 * Both modes share one phone state machine (struct phone): the driver
 * hands it each whole server message and sends what it queued in
 * ph->out; media is reached through struct media_ops.
 */
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "daemon.h"
#include "cert.h"
#include "cmd.h"
#include "cursor.h"
#include "fileio.h"
#include "log.h"
#include "lsc.h"
#include "rtpflow.h"
#include "sdes.h"
#include "signer.h"
#include "skinny.h"
#include "srtpw.h"
#include "uerr.h"
#include "wbuf.h"

#define SP_TIMEOUT_DEF		10	/* s per wait for the server */
#define SP_TIMEOUT_MAX		3600
#define SP_TALK_DEF		3	/* s of media per call */
#define SP_TALK_MAX		3600
#define SP_VERSION_DEF		17	/* Register byte 40 (spec 3) */
#define SP_NAME_MAX		(SKINNY_NAME_LEN - 1) /* char[16] + NUL */
#define SP_HOLD_PAUSE		1.0	/* s between Hold and Resume */
#define SP_HANGUP_WAIT		3	/* s for CallState on-hook after OnHook */
#define SP_KEEPALIVE_MAX	3600	/* s; longer RegisterAck values capped */
#define SP_DEVICE_TYPE		436	/* 7965 (spec 6.2) */
#define SP_MAX_STREAMS		2
#define SP_LOAD_INFO		"ucsec-sccp-phone"
#define SP_OUT_MAX		(64 * 1024)	/* queued output of one phone */
#define SP_INBUF		(2 * SKINNY_MSG_MAX)
#define SP_DUMP_MAX		(64 * 1024 * 1024) /* --dump bytes */
#define SP_SENT_MAX		(64 * 1024 * 1024) /* --sent bytes */
#define SP_RTP_PAYLOAD		160	/* 20 ms of G.711 */
#define SP_RTP_MS		20
#define SP_RTP_BUF		2048	/* one datagram */
#define SP_RTP_BURST		64	/* datagrams read per wakeup */
#define SP_MSGS_PER_READ	256	/* messages handled per wakeup */
#define SP_DIGEST_LEN		32	/* SHA-256 of a key || salt */
#define LOAD_MAX		100000	/* --load phones */
#define LOAD_CONC_MAX		20000	/* connections in progress */
#define LOAD_CALLS_MAX		10000000
#define LOAD_HOLD_MAX		86400	/* --hold seconds */
#define LOAD_LOG_FAILS		10	/* failures logged one by one */
#define LOAD_CERT_DAYS		2

/* Transport security of the signalling connection (spec 1.1). */
enum link { LINK_TCP, LINK_TLS_NULL, LINK_TLS };

struct conf {
	char		*host;		/* --server HOST[:PORT], owned */
	char		*port;		/* owned */
	int		 tls;		/* --tls */
	int		 tls_legacy;	/* --tls-legacy: TLS 1.0 NULL-SHA */
	const char	*cert;		/* --cert: the phone's LSC */
	const char	*key;		/* --key */
	const char	*ca;		/* --ca: the server's CA */
	const char	*name;		/* --name */
	int		 version;	/* --version: Register byte 40 */
	const char	*call;		/* --call NUMBER */
	int		 answer;	/* --answer */
	int		 hold;		/* --hold (single mode) */
	int		 talk;		/* --talk seconds */
	int		 expect_sec;	/* --expect-security; -1 none */
	const char	*dump;		/* --dump FILE */
	const char	*rtp_bind;	/* --rtp-bind IP */
	const char	*sent;		/* --sent FILE */
	int		 any_audio;	/* --any-audio: a real phone's media */
	int		 timeout;	/* --timeout seconds */
	int		 verbose;
	/* load mode */
	long		 load;		/* --load N; 0: single mode */
	int		 concurrency;
	int		 hold_open;	/* --hold-open */
	long		 hold_secs;	/* --hold SECONDS (load mode) */
	long		 calls;		/* --calls M */
	const char	*prefix;	/* --name-prefix */
	long		 first;		/* --first */
	const char	*mint_ca;	/* --mint-ca */
	const char	*mint_ca_key;	/* --mint-ca-key */
	int		 handshake_only;
	int		 json;
	/* set up from the above */
	SSL_CTX		*ctx;
	struct signer	*auth;		/* --cert/--key */
};

static volatile sig_atomic_t interrupted;

static void
on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

static double
now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void __attribute__((noreturn))
usage(int code)
{
	fprintf(code ? stderr : stdout,
"usage: sccp-phone --server HOST[:PORT] --name SEPxxxxxxxxxxxx\n"
"                  [--tls --cert LSC.pem --key KEY.pem --ca CCM.pem]\n"
"                  [--tls-legacy] [--version V] [--call NUMBER | --answer]\n"
"                  [--hold] [--talk SECS] [--expect-security nonsecure|\n"
"                  authenticated|encrypted] [--dump FILE] [--sent FILE]\n"
"                  [--rtp-bind IP] [--any-audio] [--timeout SECS] [-v]\n"
"       sccp-phone --load N --server HOST[:PORT] [--tls --mint-ca CA.pem\n"
"                  --mint-ca-key CA.key [--ca CCM.pem] [--tls-legacy]]\n"
"                  [--concurrency C] [--name-prefix SEPnnn] [--first M]\n"
"                  [--hold-open [--hold SECS]] [--calls M]\n"
"                  [--handshake-only] [--version V] [--timeout SECS]\n"
"                  [--json] [-v]\n"
"See sccp-phone(1).\n");
	exit(code);
}

/* Parse a decimal in [min, max]; returns 0 or UC_ERR_ARG. */
static int
num_arg(const char *s, long min, long max, const char *what, long *v)
{
	char	*end;
	long	 n;

	errno = 0;
	n = strtol(s, &end, 10);
	if (s[0] < '0' || s[0] > '9' || *end != '\0' || errno != 0 ||
	    n < min || n > max)
		return uc_fail(UC_ERR_ARG, "--%s %s: want an integer in "
		    "[%ld, %ld]", what, s, min, max);
	*v = n;
	return 0;
}

/* A device name: 1 to 15 printable ASCII characters, no space. */
static int
name_valid(const char *s)
{
	size_t	 i, n = strlen(s);

	if (n == 0 || n > SP_NAME_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if (s[i] <= ' ' || s[i] > '~')
			return 0;
	return 1;
}

/* Dialled digits: 0-9, A-D, *, #, + (spec 6.11), at most 24. */
static int
number_valid(const char *s)
{
	size_t	 n = strlen(s);

	return n > 0 && n < SKINNY_DN_LEN &&
	    strspn(s, "0123456789ABCDabcd*#+") == n;
}

static const char *const sec_names[] = {
	"unknown", "nonsecure", "authenticated", "encrypted"
};

/* --server HOST[:PORT] or [V6]:PORT into cf->host and cf->port. */
static int
server_arg(struct conf *cf, const char *s)
{
	const char	*colon, *hs = s, *he;
	long		 v;
	int		 r;

	if (*s == '[') {
		if ((he = strchr(s, ']')) == NULL ||
		    (he[1] != '\0' && he[1] != ':'))
			return uc_fail(UC_ERR_ARG, "--server %s: want [ADDR] "
			    "or [ADDR]:PORT", s);
		hs = s + 1;
		colon = he[1] == ':' ? he + 1 : NULL;
	} else {
		colon = strchr(s, ':');
		if (colon != NULL && strchr(colon + 1, ':') != NULL)
			colon = NULL;		/* a bare IPv6 address */
		he = colon != NULL ? colon : s + strlen(s);
	}
	if (he == hs)
		return uc_fail(UC_ERR_ARG, "--server %s: no host", s);
	free(cf->host);
	free(cf->port);
	cf->port = NULL;
	if ((cf->host = strndup(hs, (size_t)(he - hs))) == NULL)
		return uc_fail(UC_ERR_ALLOC, "--server");
	if (colon == NULL)
		return 0;
	if ((r = num_arg(colon + 1, 1, 65535, "server port", &v)) != 0)
		return r;
	if ((cf->port = strdup(colon + 1)) == NULL)
		return uc_fail(UC_ERR_ALLOC, "--server");
	return 0;
}

static int
security_arg(const char *s, int *v)
{
	int	 i;

	for (i = 1; i <= 3; i++)
		if (strcmp(s, sec_names[i]) == 0) {
			*v = i;
			return 0;
		}
	return uc_fail(UC_ERR_ARG, "--expect-security %s: want nonsecure, "
	    "authenticated or encrypted (spec 8)", s);
}

enum {
	O_SERVER = 0x100, O_TLS, O_TLS_LEGACY, O_CERT, O_KEY, O_CA, O_NAME,
	O_VERSION, O_CALL, O_ANSWER, O_HOLD, O_TALK, O_EXPECT, O_DUMP,
	O_RTP_BIND, O_SENT, O_ANY_AUDIO, O_TIMEOUT, O_LOAD, O_CONC, O_HOLD_OPEN,
	O_HOLD_SECS, O_CALLS, O_PREFIX, O_FIRST, O_MINT_CA, O_MINT_KEY,
	O_HS_ONLY, O_JSON
};

#define COMMON_OPTS \
	{ "server",		required_argument, NULL, O_SERVER }, \
	{ "tls",		no_argument,	   NULL, O_TLS }, \
	{ "tls-legacy",		no_argument,	   NULL, O_TLS_LEGACY }, \
	{ "ca",			required_argument, NULL, O_CA }, \
	{ "version",		required_argument, NULL, O_VERSION }, \
	{ "timeout",		required_argument, NULL, O_TIMEOUT }, \
	{ "verbose",		no_argument,	   NULL, 'v' }, \
	{ "help",		no_argument,	   NULL, 'h' }

/* Single mode: --hold is a switch. */
static const struct option single_opts[] = {
	COMMON_OPTS,
	{ "cert",		required_argument, NULL, O_CERT },
	{ "key",		required_argument, NULL, O_KEY },
	{ "name",		required_argument, NULL, O_NAME },
	{ "call",		required_argument, NULL, O_CALL },
	{ "answer",		no_argument,	   NULL, O_ANSWER },
	{ "hold",		no_argument,	   NULL, O_HOLD },
	{ "talk",		required_argument, NULL, O_TALK },
	{ "expect-security",	required_argument, NULL, O_EXPECT },
	{ "dump",		required_argument, NULL, O_DUMP },
	{ "rtp-bind",		required_argument, NULL, O_RTP_BIND },
	{ "sent",		required_argument, NULL, O_SENT },
	{ "any-audio",		no_argument,	   NULL, O_ANY_AUDIO },
	{ NULL, 0, NULL, 0 }
};

/* Load mode: --hold SECONDS bounds --hold-open. */
static const struct option load_opts[] = {
	COMMON_OPTS,
	{ "load",		required_argument, NULL, O_LOAD },
	{ "concurrency",	required_argument, NULL, O_CONC },
	{ "hold-open",		no_argument,	   NULL, O_HOLD_OPEN },
	{ "hold",		required_argument, NULL, O_HOLD_SECS },
	{ "calls",		required_argument, NULL, O_CALLS },
	{ "name-prefix",	required_argument, NULL, O_PREFIX },
	{ "first",		required_argument, NULL, O_FIRST },
	{ "mint-ca",		required_argument, NULL, O_MINT_CA },
	{ "mint-ca-key",	required_argument, NULL, O_MINT_KEY },
	{ "handshake-only",	no_argument,	   NULL, O_HS_ONLY },
	{ "json",		no_argument,	   NULL, O_JSON },
	{ NULL, 0, NULL, 0 }
};

/* Options with a number; returns 0 or UC_ERR_ARG. */
static int
opt_numeric(struct conf *cf, int c, const char *arg)
{
	long	 v = 0;
	int	 r = UC_ERR_ARG;

	switch (c) {
	case O_VERSION:
		if ((r = num_arg(arg, 0, 255, "version", &v)) == 0)
			cf->version = (int)v;
		break;
	case O_TIMEOUT:
		if ((r = num_arg(arg, 1, SP_TIMEOUT_MAX, "timeout", &v)) == 0)
			cf->timeout = (int)v;
		break;
	case O_TALK:
		if ((r = num_arg(arg, 1, SP_TALK_MAX, "talk", &v)) == 0)
			cf->talk = (int)v;
		break;
	case O_LOAD:
		if ((r = num_arg(arg, 1, LOAD_MAX, "load", &v)) == 0)
			cf->load = v;
		break;
	case O_CONC:
		if ((r = num_arg(arg, 1, LOAD_CONC_MAX, "concurrency",
		    &v)) == 0)
			cf->concurrency = (int)v;
		break;
	case O_HOLD_SECS:
		r = num_arg(arg, 1, LOAD_HOLD_MAX, "hold", &cf->hold_secs);
		break;
	case O_CALLS:
		r = num_arg(arg, 1, LOAD_CALLS_MAX, "calls", &cf->calls);
		break;
	case O_FIRST:
		r = num_arg(arg, 0, 999999999999L, "first", &cf->first);
		break;
	}
	return r;
}

/* One option into cf; returns 0 or UC_ERR_ARG (a usage error). */
static int
opt_store(struct conf *cf, int c, const char *arg)
{
	switch (c) {
	case O_SERVER: return server_arg(cf, arg);
	case O_TLS: cf->tls = 1; break;
	case O_TLS_LEGACY: cf->tls = cf->tls_legacy = 1; break;
	case O_CERT: cf->cert = arg; break;
	case O_KEY: cf->key = arg; break;
	case O_CA: cf->ca = arg; break;
	case O_NAME: cf->name = arg; break;
	case O_CALL: cf->call = arg; break;
	case O_ANSWER: cf->answer = 1; break;
	case O_HOLD: cf->hold = 1; break;
	case O_EXPECT: return security_arg(arg, &cf->expect_sec);
	case O_DUMP: cf->dump = arg; break;
	case O_RTP_BIND: cf->rtp_bind = arg; break;
	case O_SENT: cf->sent = arg; break;
	case O_ANY_AUDIO: cf->any_audio = 1; break;
	case O_HOLD_OPEN: cf->hold_open = 1; break;
	case O_PREFIX: cf->prefix = arg; break;
	case O_MINT_CA: cf->mint_ca = arg; break;
	case O_MINT_KEY: cf->mint_ca_key = arg; break;
	case O_HS_ONLY: cf->handshake_only = 1; break;
	case O_JSON: cf->json = 1; break;
	case 'v': cf->verbose = 1; break;
	default: return opt_numeric(cf, c, arg);
	}
	return 0;
}

/* Cross-option rules for single mode; returns 0 or UC_ERR_ARG. */
static int
conf_check_single(struct conf *cf)
{
	if (cf->name == NULL)
		return uc_fail(UC_ERR_ARG, "--name SEPxxxxxxxxxxxx is "
		    "required");
	if (!name_valid(cf->name))
		return uc_fail(UC_ERR_ARG, "--name %s: want 1 to %d printable "
		    "characters (deviceName char[16], spec 6.2)", cf->name,
		    SP_NAME_MAX);
	if (cf->call != NULL && cf->answer)
		return uc_fail(UC_ERR_ARG, "--call and --answer exclude each "
		    "other");
	if (cf->call != NULL && !number_valid(cf->call))
		return uc_fail(UC_ERR_ARG, "--call %s: want 1 to %d of "
		    "0-9 A-D * # + (spec 6.11)", cf->call, SKINNY_DN_LEN - 1);
	if (cf->hold && cf->call == NULL && !cf->answer)
		return uc_fail(UC_ERR_ARG, "--hold needs --call or --answer");
	if (cf->tls && (cf->cert == NULL || cf->key == NULL ||
	    cf->ca == NULL))
		return uc_fail(UC_ERR_ARG, "--tls needs --cert, --key and "
		    "--ca");
	if (!cf->tls && (cf->cert != NULL || cf->key != NULL ||
	    cf->ca != NULL))
		return uc_fail(UC_ERR_ARG, "--cert, --key and --ca need "
		    "--tls");
	return 0;
}

/* Cross-option rules for load mode; returns 0 or UC_ERR_ARG. */
static int
conf_check_load(struct conf *cf)
{
	char	 max[32];
	size_t	 plen;

	if (cf->prefix == NULL)
		cf->prefix = "SEP";
	plen = strlen(cf->prefix);
	if (plen == 0 || plen >= SP_NAME_MAX || !name_valid(cf->prefix))
		return uc_fail(UC_ERR_ARG, "--name-prefix %s: want 1 to %d "
		    "printable characters", cf->prefix, SP_NAME_MAX - 1);
	snprintf(max, sizeof(max), "%ld", cf->first + cf->load - 1);
	if (strlen(max) > SP_NAME_MAX - plen)
		return uc_fail(UC_ERR_ARG, "--name-prefix %s leaves %zu "
		    "digits; phone number %s does not fit", cf->prefix,
		    SP_NAME_MAX - plen, max);
	if (cf->tls && (cf->mint_ca == NULL || cf->mint_ca_key == NULL))
		return uc_fail(UC_ERR_ARG, "--load --tls needs --mint-ca and "
		    "--mint-ca-key");
	if (!cf->tls && (cf->mint_ca != NULL || cf->mint_ca_key != NULL ||
	    cf->ca != NULL || cf->handshake_only))
		return uc_fail(UC_ERR_ARG, "--mint-ca, --mint-ca-key, --ca and "
		    "--handshake-only need --tls");
	if (cf->hold_secs > 0 && !cf->hold_open)
		return uc_fail(UC_ERR_ARG, "--hold SECS needs --hold-open");
	if (cf->handshake_only && (cf->hold_open || cf->calls > 0))
		return uc_fail(UC_ERR_ARG, "--handshake-only takes no "
		    "--hold-open or --calls");
	if (cf->calls > 0 && cf->load < 2)
		return uc_fail(UC_ERR_ARG, "--calls needs --load 2 or more");
	if (cf->concurrency == 0)
		cf->concurrency = 1;
	if (cf->concurrency > cf->load)
		cf->concurrency = (int)cf->load;
	return 0;
}

/* Load mode if --load is among the arguments (--hold differs). */
static int
argv_is_load(int argc, char *argv[])
{
	int	 i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if (strcmp(argv[i], "--load") == 0 ||
		    strncmp(argv[i], "--load=", 7) == 0)
			return 1;
	}
	return 0;
}

/* Parse argv into cf; returns 0, or 2 after a one-line usage error. */
static int
conf_parse(struct conf *cf, int argc, char *argv[])
{
	const struct option *opts;
	int		 c, r;

	cf->version = SP_VERSION_DEF;
	cf->timeout = SP_TIMEOUT_DEF;
	cf->talk = SP_TALK_DEF;
	cf->expect_sec = -1;
	cf->first = 1;
	opts = argv_is_load(argc, argv) ? load_opts : single_opts;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "hv", opts, NULL)) != -1) {
		if (c == 'h')
			usage(0);
		if (c == '?' || c == ':')
			return cmd_usage_error("unknown option or missing "
			    "argument: %s", argv[optind - 1]);
		if (opt_store(cf, c, optarg) != 0)
			return cmd_usage_error("%s", uc_errdetail());
	}
	if (optind != argc)
		return cmd_usage_error("unexpected argument \"%s\"",
		    argv[optind]);
	if (cf->host == NULL)
		return cmd_usage_error("--server HOST[:PORT] is required");
	if (cf->port == NULL && (cf->port = strdup(cf->tls ? "2443" :
	    "2000")) == NULL)
		return cmd_usage_error("out of memory");
	r = cf->load > 0 ? conf_check_load(cf) : conf_check_single(cf);
	if (r != 0)
		return cmd_usage_error("%s", uc_errdetail());
	return 0;
}

/*
 * TLS client context: trust exactly the --ca certificate (or, in load
 * mode without --ca, the minting CA), chain checked, no host name check
 * (phones check trust-list membership, spec 1.1).  TLS 1.2 and later,
 * or with --tls-legacy TLS 1.0 with NULL-SHA only (authenticated mode,
 * spec 1.2 item 5).  Each session is a full handshake, as a phone's.
 */
static int
tls_setup(struct conf *cf)
{
	const char	*ca = cf->ca != NULL ? cf->ca : cf->mint_ca;
	X509_STORE	*st;
	X509		*x = NULL;
	int		 r;

	if ((cf->ctx = SSL_CTX_new(TLS_client_method())) == NULL)
		return uc_fail_ssl(UC_ERR_CRYPTO, "SSL_CTX_new");
	if (cf->tls_legacy) {
		SSL_CTX_set_security_level(cf->ctx, 0);
		if (!SSL_CTX_set_min_proto_version(cf->ctx, TLS1_VERSION) ||
		    !SSL_CTX_set_max_proto_version(cf->ctx, TLS1_VERSION) ||
		    !SSL_CTX_set_cipher_list(cf->ctx, "NULL-SHA:@SECLEVEL=0"))
			return uc_fail_ssl(UC_ERR_CRYPTO, "--tls-legacy: TLS "
			    "1.0 with NULL-SHA is not available in this "
			    "OpenSSL");
	} else if (!SSL_CTX_set_min_proto_version(cf->ctx, TLS1_2_VERSION))
		return uc_fail_ssl(UC_ERR_CRYPTO, "TLS 1.2 minimum");
	if ((r = cert_load(ca, &x)) != 0)
		return r;
	st = SSL_CTX_get_cert_store(cf->ctx);
	if (!X509_STORE_add_cert(st, x)) {
		X509_free(x);
		return uc_fail_ssl(UC_ERR_CRYPTO, "%s: cannot add to the "
		    "trust store", ca);
	}
	X509_free(x);
	X509_STORE_set_flags(st, X509_V_FLAG_PARTIAL_CHAIN);
	SSL_CTX_set_verify(cf->ctx, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_session_cache_mode(cf->ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_options(cf->ctx, SSL_OP_NO_TICKET);
	SSL_CTX_set_mode(cf->ctx, SSL_MODE_RELEASE_BUFFERS);
	return 0;
}

/* Single mode: the phone's own certificate and key (--cert, --key). */
static int
tls_load_auth(struct conf *cf)
{
	EVP_PKEY	*pk;
	int		 r;

	if ((r = signer_file_open(cf->key, cf->cert, &cf->auth)) != 0)
		return r;
	if ((pk = signer_pkey(cf->auth)) == NULL)
		return uc_fail(UC_ERR_UNSUPPORTED, "%s: key not in memory",
		    cf->key);
	if (SSL_CTX_use_certificate(cf->ctx, cf->auth->cert) != 1 ||
	    SSL_CTX_use_PrivateKey(cf->ctx, pk) != 1)
		return uc_fail_ssl(UC_ERR_CRYPTO, "%s, %s: the TLS client "
		    "certificate", cf->cert, cf->key);
	return 0;
}

/* The class of a finished handshake's cipher (spec 1.2 item 4). */
static enum link
tls_link(SSL *ssl)
{
	const SSL_CIPHER *c = SSL_get_current_cipher(ssl);

	if (c == NULL || SSL_CIPHER_get_cipher_nid(c) == NID_undef)
		return LINK_TLS_NULL;
	return LINK_TLS;
}

/* The first OpenSSL error as text, or what errno says. */
static const char *
ssl_why(char *buf, size_t sz)
{
	unsigned long	 e = ERR_peek_last_error();

	if (e != 0)
		ERR_error_string_n(e, buf, sz);
	else if (errno == EAGAIN || errno == EWOULDBLOCK)
		snprintf(buf, sz, "timed out");
	else
		snprintf(buf, sz, "%s", errno ? strerror(errno) :
		    "connection closed");
	ERR_clear_error();
	return buf;
}

/*
 * --dump: one text2pcap packet per message, "O" (phone to server) or
 * "I" (server to phone) on its own line, then offset and hex lines.
 */
static void
dump_add(struct wbuf *d, char dir, const uint8_t *p, size_t n)
{
	char	 line[16 + 16 * 3 + 2];
	size_t	 off, i;
	int	 k;

	if (d == NULL)
		return;
	wbuf_put(d, dir == 'I' ? "I\n" : "O\n", 2);
	for (off = 0; off < n; off += 16) {
		k = snprintf(line, sizeof(line), "%06zx", off);
		for (i = off; i < off + 16 && i < n; i++)
			k += snprintf(line + k, sizeof(line) - (size_t)k,
			    " %02x", p[i]);
		line[k++] = '\n';
		wbuf_put(d, line, (size_t)k);
	}
}

/* SHA-256 of key || salt, to tell keys apart without keeping them. */
static int
key_digest(const struct skinny_keyinfo *k, uint8_t *md)
{
	uint8_t		 ks[SKINNY_KEY_LEN + SKINNY_SALT_LEN];
	unsigned int	 mdlen = SP_DIGEST_LEN;
	size_t		 kl = k->keylen, sl = k->saltlen;
	int		 r = 0;

	if (kl > SKINNY_KEY_LEN)
		kl = SKINNY_KEY_LEN;
	if (sl > SKINNY_SALT_LEN)
		sl = SKINNY_SALT_LEN;
	memcpy(ks, k->key, kl);
	memcpy(ks + kl, k->salt, sl);
	if (EVP_Digest(ks, kl + sl, md, &mdlen, EVP_sha256(), NULL) != 1)
		r = uc_fail_ssl(UC_ERR_CRYPTO, "SHA-256");
	OPENSSL_cleanse(ks, sizeof(ks));
	return r;
}

/*
 * key || salt of a key block for libsrtp, checked against the suite's
 * lengths (spec 6.17).  Returns the suite (enum srtp_suite) and fills
 * ks (*len bytes; the caller wipes it), or UC_ERR_*.
 */
static int
key_material(const struct skinny_keyinfo *k, uint8_t *ks, size_t *len)
{
	int	 suite = skinny_alg_suite(k->alg);

	if (suite < 0)
		return uc_fail(UC_ERR_UNSUPPORTED, "key algorithm %" PRIu32
		    " is not an SRTP suite this phone knows (spec 6.17)",
		    k->alg);
	if (k->keylen != sdes_suite_key_len(suite) ||
	    k->saltlen != sdes_suite_salt_len(suite) ||
	    k->keylen > SKINNY_KEY_LEN || k->saltlen > SKINNY_SALT_LEN)
		return uc_fail(UC_ERR_FORMAT, "key algorithm %" PRIu32 " with "
		    "key length %u and salt length %u, want %zu and %zu "
		    "(spec 6.17)", k->alg, k->keylen, k->saltlen,
		    sdes_suite_key_len(suite), sdes_suite_salt_len(suite));
	memcpy(ks, k->key, k->keylen);
	memcpy(ks + k->keylen, k->salt, k->saltlen);
	*len = (size_t)k->keylen + k->saltlen;
	return suite;
}

/* An IP address and port from a media message into a sockaddr. */
static int
addr_to_sa(const struct skinny_addr *a, uint32_t port,
    struct sockaddr_storage *ss, socklen_t *sl)
{
	struct sockaddr_in	*s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6	*s6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (port == 0 || port > 65535)
		return uc_fail(UC_ERR_FORMAT, "RTP port %" PRIu32 " is not "
		    "1-65535", port);
	if (a->family == AF_INET6) {
		s6->sin6_family = AF_INET6;
		memcpy(&s6->sin6_addr, a->ip, 16);
		s6->sin6_port = htons((uint16_t)port);
		*sl = sizeof(*s6);
		return 0;
	}
	s4->sin_family = AF_INET;
	memcpy(&s4->sin_addr, a->ip, 4);
	s4->sin_port = htons((uint16_t)port);
	*sl = sizeof(*s4);
	if (s4->sin_addr.s_addr == 0)
		return uc_fail(UC_ERR_FORMAT, "RTP address 0.0.0.0");
	return 0;
}

/* A bound socket's address into a media message's form. */
static void
addr_from_sa(const struct sockaddr_storage *ss, struct skinny_addr *a,
    uint32_t *port)
{
	const struct sockaddr_in	*s4 = (const struct sockaddr_in *)ss;
	const struct sockaddr_in6	*s6 = (const struct sockaddr_in6 *)ss;

	memset(a, 0, sizeof(*a));
	if (ss->ss_family == AF_INET6) {
		a->family = AF_INET6;
		memcpy(a->ip, &s6->sin6_addr, 16);
		*port = ntohs(s6->sin6_port);
	} else {
		a->family = AF_INET;
		memcpy(a->ip, &s4->sin_addr, 4);
		*port = ntohs(s4->sin_port);
	}
}

/*
 * The phone state machine.
 */

/* Where the bring-up is (spec 4): what the phone waits for next. */
enum reg_step {
	RS_REGISTER,		/* Register sent: RegisterAck */
	RS_CAPS,		/* CapabilitiesReq */
	RS_BUTTONS,		/* ButtonTemplate */
	RS_SOFTKEYS,		/* SoftKeyTemplateRes */
	RS_SOFTKEYSET,		/* SoftKeySetRes */
	RS_LINESTAT,		/* LineStat */
	RS_CONFIGSTAT,		/* ConfigStat */
	RS_TIMEDATE,		/* DefineTimeDate */
	RS_DONE,		/* registered, bring-up complete */
	RS_REJECTED,		/* RegisterReject */
	RS__MAX
};

/* What each step waits for, and what the phone asks next (spec 4). */
static const struct bringup {
	uint32_t	 await;
	uint32_t	 next;
	const char	*name;
} bringup[RS__MAX] = {
	{ SK_REGISTER_ACK, 0, "RegisterAck" },
	{ SK_CAPABILITIES_REQ, SK_BUTTONTEMPLATE_REQ, "CapabilitiesReq" },
	{ SK_BUTTONTEMPLATE, SK_SOFTKEYTEMPLATE_REQ, "ButtonTemplate" },
	{ SK_SOFTKEYTEMPLATE_RES, SK_SOFTKEYSET_REQ, "SoftKeyTemplateRes" },
	{ SK_SOFTKEYSET_RES, SK_LINESTAT_REQ, "SoftKeySetRes" },
	{ SK_LINESTAT, SK_CONFIGSTAT_REQ, "LineStat" },
	{ SK_CONFIGSTAT, SK_TIMEDATE_REQ, "ConfigStat" },
	{ SK_DEFINE_TIMEDATE, SK_REGISTER_AVAILABLE_LINES, "DefineTimeDate" },
	{ 0, 0, "nothing" },
	{ 0, 0, "nothing (rejected)" },
};

enum call_st {
	C_IDLE,			/* no call */
	C_OFFHOOK,		/* OffHook sent: CallState off-hook */
	C_DIALED,		/* digits sent: ring-out or connected */
	C_ANSWERING,		/* OffHook sent to a ringing call */
	C_CONNECTED,		/* CallState connected */
	C_HELD,			/* CallState hold */
	C_ENDED,		/* CallState on-hook after a call */
	C_FAILED		/* busy, congestion, invalid number */
};

/* Events for the driver, set by phone_input, cleared by the driver. */
#define PE_REGISTERED	0x0001	/* RegisterAck */
#define PE_READY	0x0002	/* bring-up complete */
#define PE_REJECTED	0x0004	/* RegisterReject */
#define PE_PROGRESS	0x0008	/* a bring-up step done */
#define PE_CONNECTED	0x0010	/* CallState connected */
#define PE_CALL_FAILED	0x0020	/* busy, congestion, invalid number */
#define PE_ONHOOK	0x0040	/* CallState on-hook after a call */
#define PE_UNREG_ACK	0x0080	/* UnregisterAck */
#define PE_RESET	0x0100	/* Reset */
#define PE_MEDIA	0x0200	/* ORC, SMT, stop or close */
#define PE_SECURITY	0x0400	/* CallInfo */

struct phone;

/*
 * Media behind the phone: single mode binds sockets and runs SRTP, load
 * mode only answers.  open_rx fills the address and port of the ORC Ack
 * and returns its status (0 OK); start_tx returns 0 or UC_ERR_*.
 */
struct media_ops {
	int	(*open_rx)(void *, struct phone *, const struct skinny_msg *,
		    struct skinny_addr *, uint32_t *);
	void	(*close_rx)(void *, struct phone *);
	int	(*start_tx)(void *, struct phone *, const struct skinny_msg *);
	void	(*stop_tx)(void *, struct phone *);
};

/* What the phone learnt about one direction's keys (spec 7.1). */
struct keyseen {
	int		 count;		/* key blocks with a key */
	int		 changed;	/* a later key differed from the last */
	int		 repeated;	/* a later key was the same */
	uint32_t	 alg;		/* last algorithm id, 0 none */
	uint8_t		 last[SP_DIGEST_LEN];
};

struct phone {
	const struct conf *cf;
	char		 name[SKINNY_NAME_LEN + 1];
	int		 acked;		/* RegisterAck received */
	int		 v;		/* negotiated (RegisterAck) */
	uint32_t	 keepalive;	/* s, from RegisterAck */
	enum reg_step	 step;
	enum link	 link;		/* set by the driver */
	uint8_t		 ip4[4];	/* our address for Register */
	char		 dn[SKINNY_DN_LEN + 1];	/* line 1 (LineStat) */
	char		 reject[SKINNY_NAME_LEN * 8]; /* visible text */
	int		 auto_answer;	/* answer when it rings */
	char		 dial[SKINNY_DN_LEN + 1]; /* what OffHook dials */
	enum call_st	 call;
	uint32_t	 callref;
	int		 was_connected;
	int		 security;	/* last callSecurityStatus; -1 none */
	int		 sec_connected;	/* the last one while connected */
	uint32_t	 fail_state;	/* CallState that failed the call */
	int		 orcs, smts;	/* this call */
	struct keyseen	 rxk, txk;	/* whole run */
	int		 same_key;	/* rx key == tx key (spec 7.1 rule 2) */
	int		 keys_exposed;	/* keys on TCP or NULL cipher */
	const struct media_ops *mops;
	void		*marg;
	struct wbuf	 out;		/* queued for the server */
	struct wbuf	*dump;		/* --dump, or NULL */
	int		 events;	/* PE_* */
};

static void
phone_init(struct phone *ph, const struct conf *cf, const char *name,
    const struct media_ops *mops, void *marg)
{
	memset(ph, 0, sizeof(*ph));
	ph->cf = cf;
	snprintf(ph->name, sizeof(ph->name), "%s", name);
	ph->security = ph->sec_connected = -1;
	ph->mops = mops;
	ph->marg = marg;
	wbuf_init(&ph->out, SP_OUT_MAX);
}

static void
phone_free(struct phone *ph)
{
	wbuf_free(&ph->out);
	OPENSSL_cleanse(&ph->rxk, sizeof(ph->rxk));
	OPENSSL_cleanse(&ph->txk, sizeof(ph->txk));
}

/* Back to idle for the next call (load mode). */
static void
phone_call_reset(struct phone *ph)
{
	ph->call = C_IDLE;
	ph->callref = 0;
	ph->was_connected = 0;
	ph->security = ph->sec_connected = -1;
	ph->orcs = ph->smts = 0;
	ph->dial[0] = '\0';
}

/* Queue one message for the server in the negotiated layout. */
static int
phone_send(struct phone *ph, const struct skinny_msg *m)
{
	size_t	 before = ph->out.len;
	int	 v = ph->v, r;

	/* Before RegisterAck: the header version of Register does not
	   matter (spec 6.2); the codec builds the versions a server
	   chooses (12 -> 11, 22 -> 17); byte 40 keeps --version. */
	if (!ph->acked)
		v = skinny_version_choose(ph->cf->version);

	if ((r = skinny_build(&ph->out, v, m, 0)) != 0) {
		uc_prefix(ph->name);
		return r;
	}
	if (!wbuf_ok(&ph->out))
		return uc_fail(UC_ERR_ALLOC, "%s: output queue", ph->name);
	dump_add(ph->dump, 'O', ph->out.data + before, ph->out.len - before);
	if (ph->cf->verbose)
		log_debug("%s: P>S %s (%zu bytes)", ph->name,
		    skinny_name(m->id), ph->out.len - before);
	return 0;
}

/* A message with no payload, or with only simple fields. */
static int
phone_send_simple(struct phone *ph, uint32_t id, uint32_t button,
    uint32_t line, uint32_t callref)
{
	struct skinny_msg	 m;

	memset(&m, 0, sizeof(m));
	m.id = id;
	m.u.simple.button = button;
	m.u.simple.line = line;
	m.u.simple.callref = callref;
	return phone_send(ph, &m);
}

/* Register (spec 6.2): the 172-byte form, byte 40 = --version. */
static int
phone_register(struct phone *ph)
{
	struct skinny_msg	 m;

	memset(&m, 0, sizeof(m));
	m.id = SK_REGISTER;
	snprintf(m.u.reg.name, sizeof(m.u.reg.name), "%s", ph->name);
	m.u.reg.instance = 1;
	memcpy(m.u.reg.ip4, ph->ip4, 4);
	m.u.reg.device_type = SP_DEVICE_TYPE;
	m.u.reg.max_streams = SP_MAX_STREAMS;
	m.u.reg.proto_version = (uint8_t)ph->cf->version;
	m.u.reg.max_lines = 1;
	snprintf(m.u.reg.load_info, sizeof(m.u.reg.load_info), "%s",
	    SP_LOAD_INFO);
	ph->step = RS_REGISTER;
	return phone_send(ph, &m);
}

/* CapabilitiesRes (spec 6.6): G.711 mu-law and A-law, 20 ms. */
static int
phone_caps(struct phone *ph)
{
	struct skinny_msg	 m;

	memset(&m, 0, sizeof(m));
	m.id = SK_CAPABILITIES_RES;
	m.u.caps.count = 2;
	m.u.caps.cap[0].codec = SK_CODEC_G711_ULAW;
	m.u.caps.cap[0].ms = SP_RTP_MS;
	m.u.caps.cap[1].codec = SK_CODEC_G711_ALAW;
	m.u.caps.cap[1].ms = SP_RTP_MS;
	return phone_send(ph, &m);
}

/* The bring-up step's answer arrived: ask the next thing (spec 4). */
static int
phone_bringup_next(struct phone *ph)
{
	uint32_t	 next = bringup[ph->step].next;
	int		 r;

	ph->events |= PE_PROGRESS;
	ph->step++;
	if (next == SK_LINESTAT_REQ || next == SK_REGISTER_AVAILABLE_LINES)
		r = phone_send_simple(ph, next, 1, 1, 0);
	else
		r = phone_send_simple(ph, next, 0, 0, 0);
	if (r == 0 && ph->step == RS_DONE)
		ph->events |= PE_READY;
	return r;
}

static int
on_register_ack(struct phone *ph, const struct skinny_msg *m)
{
	int	 v = m->u.reg_ack.proto_version;

	if (ph->step != RS_REGISTER)
		return uc_fail(UC_ERR_FORMAT, "%s: a second RegisterAck",
		    ph->name);
	if (v > ph->cf->version)
		return uc_fail(UC_ERR_FORMAT, "%s: RegisterAck chose protocol "
		    "version %d; the phone announced %d (spec 3)", ph->name,
		    v, ph->cf->version);
	ph->v = v;
	ph->acked = 1;
	ph->keepalive = m->u.reg_ack.keepalive;
	if (ph->keepalive == 0 || ph->keepalive > SP_KEEPALIVE_MAX)
		ph->keepalive = ph->keepalive == 0 ? 30 : SP_KEEPALIVE_MAX;
	ph->step = RS_CAPS;
	ph->events |= PE_REGISTERED | PE_PROGRESS;
	return 0;
}

static int
on_register_reject(struct phone *ph, const struct skinny_msg *m)
{
	str_vis(ph->reject, sizeof(ph->reject), m->u.reject.text);
	ph->step = RS_REJECTED;
	ph->events |= PE_REJECTED;
	return 0;
}

/* The digits of ph->dial as KeypadButton (spec 6.11). */
static int
phone_send_digits(struct phone *ph)
{
	const char	*p;
	uint32_t	 b;
	int		 r = 0;

	for (p = ph->dial; *p != '\0' && r == 0; p++) {
		if (*p >= '0' && *p <= '9')
			b = (uint32_t)(*p - '0');
		else if (*p >= 'A' && *p <= 'D')
			b = 0x0A + (uint32_t)(*p - 'A');
		else if (*p >= 'a' && *p <= 'd')
			b = 0x0A + (uint32_t)(*p - 'a');
		else
			b = *p == '*' ? 0x0E : *p == '#' ? 0x0F : 0x10;
		r = phone_send_simple(ph, SK_KEYPAD_BUTTON, b, 1,
		    ph->callref);
	}
	return r;
}

/* Take a ringing call: OffHook on its line and reference. */
static int
phone_answer(struct phone *ph, uint32_t line, uint32_t callref)
{
	if (!ph->auto_answer || ph->call != C_IDLE || ph->step != RS_DONE)
		return 0;
	ph->callref = callref;
	ph->call = C_ANSWERING;
	return phone_send_simple(ph, SK_OFFHOOK, 0, line ? line : 1, callref);
}

/* Is this about our call?  Before we know its reference, any is. */
static int
phone_ours(const struct phone *ph, uint32_t callref)
{
	return ph->callref == 0 || callref == 0 || callref == ph->callref;
}

/* CallState (spec 6.12) drives the call. */
static int
on_callstate(struct phone *ph, const struct skinny_msg *m)
{
	uint32_t	 st = m->u.callstate.state, ref = m->u.callstate.callref;

	switch (st) {
	case SK_CS_OFFHOOK:
		if (ph->call != C_OFFHOOK)
			return 0;
		ph->callref = ref;
		ph->call = C_DIALED;
		return phone_send_digits(ph);
	case SK_CS_RINGIN:
		return phone_answer(ph, m->u.callstate.line, ref);
	case SK_CS_RINGOUT:
		if (ph->call == C_DIALED && ref != 0)
			ph->callref = ref;
		return 0;
	case SK_CS_CONNECTED:
		if (ph->call == C_IDLE || ph->call == C_ENDED ||
		    !phone_ours(ph, ref))
			return 0;
		if (ref != 0)
			ph->callref = ref;
		ph->call = C_CONNECTED;
		ph->was_connected = 1;
		ph->events |= PE_CONNECTED;
		return 0;
	case SK_CS_HOLD:
		if (ph->call == C_CONNECTED && phone_ours(ph, ref))
			ph->call = C_HELD;
		return 0;
	case SK_CS_BUSY:
	case SK_CS_CONGESTION:
	case SK_CS_INVALID_NUMBER:
		if (ph->call != C_OFFHOOK && ph->call != C_DIALED)
			return 0;
		ph->call = C_FAILED;
		ph->fail_state = st;
		ph->events |= PE_CALL_FAILED;
		return 0;
	case SK_CS_ONHOOK:
		if (ph->call == C_IDLE || ph->call == C_ENDED ||
		    !phone_ours(ph, ref))
			return 0;
		ph->call = C_ENDED;
		ph->events |= PE_ONHOOK;
		return 0;
	default:
		return 0;
	}
}

static int
on_ringer(struct phone *ph, const struct skinny_msg *m)
{
	if (m->u.ringer.mode <= 1 || m->u.ringer.callref == 0)
		return 0;		/* off, or no call to answer */
	return phone_answer(ph, m->u.ringer.line, m->u.ringer.callref);
}

static void
on_callinfo(struct phone *ph, const struct skinny_msg *m)
{
	uint32_t	 s = m->u.callinfo.security;

	if (!phone_ours(ph, m->u.callinfo.callref))
		return;
	ph->security = s <= SK_SEC_ENCRYPTED ? (int)s : 0;
	if (ph->call == C_CONNECTED || ph->call == C_HELD)
		ph->sec_connected = ph->security;
	ph->events |= PE_SECURITY;
}

/*
 * Account a key block (spec 7.1): which algorithm, whether it is new,
 * whether it may be here at all (rule 1: TLS with a non-NULL cipher).
 */
static int
phone_key_seen(struct phone *ph, struct keyseen *ks,
    const struct skinny_keyinfo *k, const char *what)
{
	uint8_t		 md[SP_DIGEST_LEN];
	int		 r;

	ks->alg = k->alg;
	if (k->alg == SK_ALG_NONE)
		return 0;
	if (ph->link != LINK_TLS && !ph->keys_exposed) {
		ph->keys_exposed = 1;
		log_warnx("%s: %s carries an SRTP key over %s (spec 7.1 rule "
		    "1)", ph->name, what, ph->link == LINK_TCP ? "plain TCP" :
		    "a TLS NULL cipher");
	}
	if ((r = key_digest(k, md)) != 0)
		return r;
	if (ks->count > 0 && memcmp(md, ks->last, sizeof(md)) == 0)
		ks->repeated = 1;
	else if (ks->count > 0)
		ks->changed = 1;
	memcpy(ks->last, md, sizeof(md));
	ks->count++;
	if (ph->rxk.count > 0 && ph->txk.count > 0 &&
	    memcmp(ph->rxk.last, ph->txk.last, sizeof(md)) == 0 &&
	    !ph->same_key) {
		ph->same_key = 1;
		log_warnx("%s: the receive and transmit keys are the same "
		    "(spec 7.1 rule 2)", ph->name);
	}
	OPENSSL_cleanse(md, sizeof(md));
	return 0;
}

/* OpenReceiveChannel (spec 6.18): open, then OpenReceiveChannelAck. */
static int
on_orc(struct phone *ph, const struct skinny_msg *m)
{
	struct skinny_msg	 a;
	int			 r;

	if ((r = phone_key_seen(ph, &ph->rxk, &m->u.media.key,
	    "OpenReceiveChannel")) != 0)
		return r;
	memset(&a, 0, sizeof(a));
	a.id = SK_ORC_ACK;
	a.u.media_ack.status = (uint32_t)ph->mops->open_rx(ph->marg, ph, m,
	    &a.u.media_ack.addr, &a.u.media_ack.port);
	a.u.media_ack.party_id = m->u.media.party_id;
	a.u.media_ack.callref = m->u.media.callref;
	ph->orcs++;
	ph->events |= PE_MEDIA;
	return phone_send(ph, &a);
}

/* StartMediaTransmission (spec 6.20); V >= 17 phones acknowledge it. */
static int
on_smt(struct phone *ph, const struct skinny_msg *m)
{
	struct skinny_msg	 a;
	int			 r;

	if ((r = phone_key_seen(ph, &ph->txk, &m->u.media.key,
	    "StartMediaTransmission")) != 0)
		return r;
	if ((r = ph->mops->start_tx(ph->marg, ph, m)) != 0)
		return r;
	ph->smts++;
	ph->events |= PE_MEDIA;
	if (ph->v < 17)
		return 0;
	memset(&a, 0, sizeof(a));
	a.id = SK_SMT_ACK;
	a.u.media_ack.addr = m->u.media.addr;
	a.u.media_ack.port = m->u.media.port;
	a.u.media_ack.party_id = m->u.media.party_id;
	a.u.media_ack.callref = m->u.media.callref;
	r = phone_send(ph, &a);
	if (r == UC_ERR_UNSUPPORTED)
		r = 0;		/* informational; a codec may not build it */
	return r;
}

/* The bring-up answers, in order or not (spec 4). */
static int
on_bringup(struct phone *ph, const struct skinny_msg *m)
{
	int	 r = 0;

	if (m->id == SK_CAPABILITIES_REQ)
		r = phone_caps(ph);
	if (m->id == SK_LINESTAT && m->u.linestat.line == 1)
		snprintf(ph->dn, sizeof(ph->dn), "%s", m->u.linestat.dn);
	if (r == 0 && ph->step < RS_DONE && bringup[ph->step].await == m->id)
		r = phone_bringup_next(ph);
	return r;
}

static int
phone_dispatch(struct phone *ph, const struct skinny_msg *m)
{
	switch (m->id) {
	case SK_REGISTER_ACK: return on_register_ack(ph, m);
	case SK_REGISTER_REJECT: return on_register_reject(ph, m);
	case SK_CAPABILITIES_REQ:
	case SK_BUTTONTEMPLATE:
	case SK_SOFTKEYTEMPLATE_RES:
	case SK_SOFTKEYSET_RES:
	case SK_LINESTAT:
	case SK_CONFIGSTAT:
	case SK_DEFINE_TIMEDATE:
		return on_bringup(ph, m);
	case SK_CALLSTATE: return on_callstate(ph, m);
	case SK_SET_RINGER: return on_ringer(ph, m);
	case SK_CALLINFO:
	case SK_CALLINFO_V2:
		on_callinfo(ph, m);
		return 0;
	case SK_ORC: return on_orc(ph, m);
	case SK_SMT: return on_smt(ph, m);
	case SK_STOP_MEDIA:
		ph->mops->stop_tx(ph->marg, ph);
		ph->events |= PE_MEDIA;
		return 0;
	case SK_CLOSE_RECEIVE:
		ph->mops->close_rx(ph->marg, ph);
		ph->events |= PE_MEDIA;
		return 0;
	case SK_UNREGISTER_ACK:
		ph->events |= PE_UNREG_ACK;
		return 0;
	case SK_RESET:
		ph->events |= PE_RESET;
		return 0;
	default:
		return 0;	/* tones, lamps, prompts, keepalive acks */
	}
}

/*
 * Feed one whole framed server message (len from skinny_frame) to the
 * phone; answers are queued in ph->out.  Returns 0, or UC_ERR_* when
 * the server sent what a phone cannot take (detail set).  Every key
 * the parsed message held is wiped before return.
 */
static int
phone_input(struct phone *ph, const uint8_t *buf, size_t len)
{
	struct skinny_msg	 m;
	const char		*n;
	char			 pfx[128];
	int			 r;

	dump_add(ph->dump, 'I', buf, len);
	memset(&m, 0, sizeof(m));
	if ((r = skinny_parse(buf, len, ph->v, &m)) != 0) {
		n = skinny_name(m.id);
		snprintf(pfx, sizeof(pfx), "%s: %s from the server does not "
		    "parse", ph->name, n != NULL ? n : "a message");
		uc_prefix(pfx);
		goto out;
	}
	if (ph->cf->verbose) {
		n = skinny_name(m.id);
		log_debug("%s: S>P %s%s0x%04" PRIx32 " (%zu bytes)", ph->name,
		    n != NULL ? n : "", n != NULL ? " " : "unknown ", m.id,
		    len);
	}
	r = phone_dispatch(ph, &m);
out:
	skinny_msg_wipe(&m);
	return r;
}

/* Go off hook to dial number (spec 9); digits follow CallState 1. */
static int
phone_dial(struct phone *ph, const char *number)
{
	snprintf(ph->dial, sizeof(ph->dial), "%s", number);
	ph->call = C_OFFHOOK;
	ph->callref = 0;
	return phone_send_simple(ph, SK_OFFHOOK, 0, 1, 0);
}

static int
phone_softkey(struct phone *ph, uint32_t event)
{
	struct skinny_msg	 m;

	memset(&m, 0, sizeof(m));
	m.id = SK_SOFTKEY_EVENT;
	m.u.softkey.event = event;
	m.u.softkey.line = 1;
	m.u.softkey.callref = ph->callref;
	return phone_send(ph, &m);
}

static int
phone_hangup(struct phone *ph)
{
	return phone_send_simple(ph, SK_ONHOOK, 0, 1, ph->callref);
}

/*
 * Single mode: one phone, a poll loop over the signalling connection and
 * the RTP socket.
 */

enum sphase {
	SP_REG,			/* bring-up */
	SP_CALLING,		/* dialled: waiting for connect */
	SP_RINGING,		/* --answer: waiting for a call */
	SP_TALK,		/* connected: media, hold, resume */
	SP_HANGUP,		/* OnHook sent: CallState on-hook */
	SP_UNREG,		/* Unregister sent: UnregisterAck */
	SP_DONE
};

static const char *const sphase_waits[] = {
	NULL, "the call to connect", "a call to ring", "the far end to hang "
	"up", "CallState on-hook", "UnregisterAck", "nothing"
};

struct single {
	struct conf	*cf;
	struct phone	 ph;
	int		 fd;
	SSL		*ssl;
	uint8_t		 in[SP_INBUF];
	size_t		 inlen;
	int		 eof;		/* the server closed */
	enum sphase	 phase;
	double		 deadline;	/* for the current wait */
	double		 next_ka;	/* next KeepAlive */
	double		 t_hold, t_resume, t_end;
	int		 hold_sent, resume_sent;
	int		 rejected;
	int		 unreg_acked;
	/* media */
	struct sockaddr_storage rtp_local; /* where RTP sockets bind */
	int		 rtp_fd;	/* receive (and send) socket */
	int		 tx_fd;		/* send socket when no receive one */
	struct srtpw	*rx, *tx;
	struct sockaddr_storage dst;
	socklen_t	 dstlen;
	int		 tx_on;
	double		 next_send;
	struct rtp_tx	 rtx;
	int		 rtx_init;
	struct rtp_rx	 rrx;
	int		 rrx_on;
	int		 srtp_suite;	/* of the last StartMediaTransmission */
	int		 media_err;
	uint64_t	 sent, received, lost, bad, auth_failed;
	struct wbuf	 dump, sentlog;
};

/* The current receive stream's counts into the totals. */
static void
s_rx_account(struct single *s)
{
	if (!s->rrx_on)
		return;
	s->received += s->rrx.received;
	s->lost += rtp_rx_lost(&s->rrx);
	s->bad += s->rrx.bad + s->rrx.other_ssrc;
	memset(&s->rrx, 0, sizeof(s->rrx));
	s->rrx_on = 0;
}

static void
s_close_rx(void *arg, struct phone *ph)
{
	struct single	*s = arg;

	(void)ph;
	s_rx_account(s);
	if (s->rtp_fd != -1)
		close(s->rtp_fd);
	s->rtp_fd = -1;
	srtpw_free(s->rx);
	s->rx = NULL;
}

/* A UDP socket on --rtp-bind (or our signalling address), any port. */
static int
rtp_socket(const struct sockaddr_storage *local, int *fdp)
{
	socklen_t	 sl = local->ss_family == AF_INET6 ?
			    sizeof(struct sockaddr_in6) :
			    sizeof(struct sockaddr_in);
	int		 fd;

	if ((fd = socket(local->ss_family, SOCK_DGRAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1)
		return uc_fail(UC_ERR_IO, "RTP socket: %s", strerror(errno));
	if (bind(fd, (const struct sockaddr *)local, sl) == -1) {
		close(fd);
		return uc_fail(UC_ERR_IO, "RTP socket: bind: %s",
		    strerror(errno));
	}
	*fdp = fd;
	return 0;
}

/* The receive side's context from an ORC key block, if it has one. */
static int
s_rx_context(struct single *s, const struct skinny_keyinfo *k)
{
	uint8_t		 ks[SKINNY_KEY_LEN + SKINNY_SALT_LEN];
	size_t		 kl = 0;
	int		 suite, r;

	if (k->alg == SK_ALG_NONE)
		return 0;
	if ((suite = key_material(k, ks, &kl)) < 0)
		return suite;
	r = srtpw_new(&s->rx, suite, SRTPW_RX, ks, kl, 0);
	OPENSSL_cleanse(ks, sizeof(ks));
	return r;
}

/*
 * OpenReceiveChannel: a new socket and, with a key, an SRTP receive
 * context for any SSRC; the old ones are closed first.  Returns the
 * ORC Ack status: 0, or 1 (unknown error) with the reason logged.
 */
static int
s_open_rx(void *arg, struct phone *ph, const struct skinny_msg *m,
    struct skinny_addr *a, uint32_t *port)
{
	struct single		*s = arg;
	struct sockaddr_storage	 ss;
	socklen_t		 sl = sizeof(ss);
	int			 r;

	s_close_rx(s, ph);
	memset(a, 0, sizeof(*a));
	*port = 0;
	if ((r = s_rx_context(s, &m->u.media.key)) != 0 ||
	    (r = rtp_socket(&s->rtp_local, &s->rtp_fd)) != 0)
		goto fail;
	if (getsockname(s->rtp_fd, (struct sockaddr *)&ss, &sl) == -1) {
		r = uc_fail(UC_ERR_IO, "RTP socket: getsockname: %s",
		    strerror(errno));
		goto fail;
	}
	addr_from_sa(&ss, a, port);
	if (a->family == AF_INET6 && ph->v < 17) {
		r = uc_fail(UC_ERR_UNSUPPORTED, "an IPv6 RTP address needs "
		    "protocol version 17 (spec 3)");
		goto fail;
	}
	memset(&s->rrx, 0, sizeof(s->rrx));
	s->rrx_on = 1;
	log_debug("%s: receiving %s on port %" PRIu32, ph->name,
	    s->rx != NULL ? "SRTP" : "RTP", *port);
	return 0;
fail:
	log_warnx("%s: OpenReceiveChannel: %s", ph->name, uc_errdetail());
	s_close_rx(s, ph);
	s->media_err = 1;
	return 1;
}

static void
s_stop_tx(void *arg, struct phone *ph)
{
	struct single	*s = arg;

	(void)ph;
	s->tx_on = 0;
	srtpw_free(s->tx);
	s->tx = NULL;
}

/* The transmit side's context from an SMT key block, if it has one. */
static int
s_tx_context(struct single *s, const struct skinny_keyinfo *k)
{
	uint8_t		 ks[SKINNY_KEY_LEN + SKINNY_SALT_LEN];
	size_t		 kl = 0;
	int		 suite, r;

	s->srtp_suite = -1;
	if (k->alg == SK_ALG_NONE)
		return 0;
	if ((suite = key_material(k, ks, &kl)) < 0)
		return suite;
	r = srtpw_new(&s->tx, suite, SRTPW_TX, ks, kl, 0);
	OPENSSL_cleanse(ks, sizeof(ks));
	if (r == 0)
		s->srtp_suite = suite;
	return r;
}

/*
 * StartMediaTransmission: send to its address from now on, every 20 ms,
 * with its key.  The stream (SSRC, sequence) goes on across hold and
 * resume.  A problem is logged and fails the run, not the call.
 */
static int
s_start_tx(void *arg, struct phone *ph, const struct skinny_msg *m)
{
	struct single	*s = arg;
	uint8_t		 pt;
	int		 r;

	s_stop_tx(s, ph);
	if ((r = addr_to_sa(&m->u.media.addr, m->u.media.port, &s->dst,
	    &s->dstlen)) != 0 ||
	    (r = s_tx_context(s, &m->u.media.key)) != 0) {
		log_warnx("%s: StartMediaTransmission: %s", ph->name,
		    uc_errdetail());
		s->media_err = 1;
		return 0;
	}
	pt = m->u.media.codec == SK_CODEC_G711_ALAW ? 8 : 0;
	if (!s->rtx_init)
		rtp_tx_init(&s->rtx, pt, SP_RTP_PAYLOAD);
	s->rtx.pt = pt;
	s->rtx_init = 1;
	s->tx_on = 1;
	s->next_send = now();
	log_debug("%s: sending %s to port %" PRIu32, ph->name,
	    s->tx != NULL ? "SRTP" : "RTP", m->u.media.port);
	return 0;
}

static const struct media_ops single_media = {
	s_open_rx, s_close_rx, s_start_tx, s_stop_tx
};

/* The socket RTP leaves from: the receive one (symmetric RTP). */
static int
s_tx_fd(struct single *s)
{
	if (s->rtp_fd != -1)
		return s->rtp_fd;
	if (s->tx_fd == -1 && rtp_socket(&s->rtp_local, &s->tx_fd) != 0) {
		log_warnx("%s: %s", s->ph.name, uc_errdetail());
		s->media_err = 1;
	}
	return s->tx_fd;
}

/* One 20 ms packet: pattern payload, protected when keyed. */
static void
s_send_rtp(struct single *s)
{
	uint8_t		 buf[SP_RTP_BUF];
	char		 line[32 + 2 * SP_RTP_PAYLOAD];
	size_t		 len, i;
	uint32_t	 ssrc = s->rtx.ssrc;
	uint16_t	 seq = s->rtx.seq;
	int		 fd, k = 0;

	if ((len = rtp_tx_next(&s->rtx, buf, sizeof(buf) -
	    SRTPW_TRAILER_MAX, SP_RTP_PAYLOAD)) == 0)
		return;
	/* The plain packet as sent, for checking a decrypted capture. */
	if (s->cf->sent != NULL) {
		k = snprintf(line, sizeof(line), "%08" PRIx32 " %u ", ssrc,
		    (unsigned)seq);
		for (i = RTP_HDR_LEN; i < len && k + 3 < (int)sizeof(line);
		    i++)
			k += snprintf(line + k, sizeof(line) - (size_t)k,
			    "%02x", buf[i]);
		line[k++] = '\n';
	}
	if (s->tx != NULL && srtpw_protect(s->tx, buf, &len,
	    sizeof(buf)) != 0) {
		log_warnx("%s: SRTP protect: %s", s->ph.name, uc_errdetail());
		s->media_err = 1;
		s->tx_on = 0;
		return;
	}
	if ((fd = s_tx_fd(s)) == -1)
		return;
	if (sendto(fd, buf, len, 0, (struct sockaddr *)&s->dst,
	    s->dstlen) != (ssize_t)len) {
		log_debug("%s: RTP send: %s", s->ph.name, strerror(errno));
		return;
	}
	s->sent++;
	if (s->cf->sent != NULL)
		wbuf_put(&s->sentlog, line, (size_t)k);
}

/*
 * --any-audio: the far end is a real phone (baresip) sending its own
 * audio, not our pattern: a packet counts when it decrypted and
 * authenticated (above) and is RTP from one SSRC.
 */
static void
s_recv_any(struct single *s, const uint8_t *buf, size_t len)
{
	struct rtp_hdr	 h;

	if (rtp_parse(buf, len, &h) != 0) {
		s->rrx.bad++;
		return;
	}
	if (s->rrx.ssrc == 0)
		s->rrx.ssrc = h.ssrc;
	if (h.ssrc != s->rrx.ssrc)
		s->rrx.other_ssrc++;
	else
		s->rrx.received++;
}

/* Every datagram waiting: unprotect, then check against the pattern. */
static void
s_recv_rtp(struct single *s)
{
	uint8_t		 buf[SP_RTP_BUF];
	size_t		 len;
	ssize_t		 n;
	int		 i, r;

	for (i = 0; i < SP_RTP_BURST && s->rtp_fd != -1; i++) {
		if ((n = recv(s->rtp_fd, buf, sizeof(buf), 0)) < 0)
			break;
		len = (size_t)n;
		if (s->rx != NULL &&
		    (r = srtpw_unprotect(s->rx, buf, &len)) != 0) {
			if (r == UC_ERR_SIGNATURE)
				s->auth_failed++;
			else
				s->bad++;
			log_debug("%s: SRTP unprotect: %s", s->ph.name,
			    uc_errdetail());
			continue;
		}
		if (s->cf->any_audio)
			s_recv_any(s, buf, len);
		else
			(void)rtp_rx_check(&s->rrx, buf, len);
	}
}

/* Connect to HOST:PORT within --timeout; returns 0 and s->fd. */
static int
s_tcp_connect(struct single *s)
{
	const struct conf *cf = s->cf;
	struct addrinfo	 hints, *res = NULL, *ai;
	struct pollfd	 pfd;
	socklen_t	 sl;
	int		 fd = -1, e, soerr = 0;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if ((e = getaddrinfo(cf->host, cf->port, &hints, &res)) != 0)
		return uc_fail(UC_ERR_IO, "%s port %s: %s", cf->host,
		    cf->port, gai_strerror(e));
	for (ai = res; ai != NULL && fd == -1; ai = ai->ai_next) {
		if ((fd = socket(ai->ai_family, ai->ai_socktype |
		    SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol)) == -1) {
			soerr = errno;
			continue;
		}
		soerr = 0;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == -1 &&
		    (soerr = errno) == EINPROGRESS) {
			pfd.fd = fd;
			pfd.events = POLLOUT;
			e = poll(&pfd, 1, cf->timeout * 1000);
			sl = sizeof(soerr);
			if (e == 0)
				soerr = ETIMEDOUT;
			else if (e < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR,
			    &soerr, &sl) == -1)
				soerr = errno;
		}
		if (soerr != 0) {
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(res);
	if (fd == -1)
		return uc_fail(UC_ERR_IO, "connect to %s port %s: %s",
		    cf->host, cf->port, strerror(soerr ? soerr : EINVAL));
	e = 1;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &e, sizeof(e));
	s->fd = fd;
	return 0;
}

/* Wait until fd is ready for events or the deadline; 0 or UC_ERR_IO. */
static int
fd_wait(int fd, short events, double deadline)
{
	struct pollfd	 pfd;
	double		 left = deadline - now();
	int		 e;

	if (left <= 0)
		return uc_fail(UC_ERR_IO, "timed out");
	pfd.fd = fd;
	pfd.events = events;
	e = poll(&pfd, 1, (int)(left * 1000) + 1);
	if (e < 0 && errno != EINTR)
		return uc_fail(UC_ERR_IO, "poll: %s", strerror(errno));
	return 0;
}

/* TLS handshake on the non-blocking socket within --timeout. */
static int
s_tls_connect(struct single *s)
{
	char		 why[256];
	double		 deadline = now() + s->cf->timeout;
	long		 v;
	int		 e, r;

	if ((s->ssl = SSL_new(s->cf->ctx)) == NULL ||
	    !SSL_set_fd(s->ssl, s->fd))
		return uc_fail_ssl(UC_ERR_CRYPTO, "SSL_new");
	for (;;) {
		errno = 0;
		if (SSL_connect(s->ssl) == 1)
			break;
		e = SSL_get_error(s->ssl, 0);
		if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
			if ((v = SSL_get_verify_result(s->ssl)) != X509_V_OK)
				return uc_fail(UC_ERR_POLICY, "TLS: the server "
				    "certificate does not chain to %s: %s "
				    "(spec 1.1)", s->cf->ca,
				    X509_verify_cert_error_string(v));
			return uc_fail(UC_ERR_IO, "TLS handshake with %s: %s",
			    s->cf->host, ssl_why(why, sizeof(why)));
		}
		if ((r = fd_wait(s->fd, e == SSL_ERROR_WANT_READ ? POLLIN :
		    POLLOUT, deadline)) != 0)
			return uc_fail(UC_ERR_IO, "TLS handshake with %s: no "
			    "answer within --timeout", s->cf->host);
	}
	s->ph.link = tls_link(s->ssl);
	log_debug("%s: %s with %s, %s", s->ph.name, SSL_get_version(s->ssl),
	    s->cf->host, SSL_get_cipher_name(s->ssl));
	return 0;
}

/*
 * Read what the server sent into s->in; returns 0 (nothing more for
 * now, or the buffer is full), or UC_ERR_IO at the end of the stream
 * (s->eof set on an orderly close).
 */
static int
s_read(struct single *s)
{
	char	 why[256];
	size_t	 k;
	ssize_t	 n;
	int	 e;

	while (s->inlen < sizeof(s->in)) {
		errno = 0;
		if (s->ssl == NULL) {
			n = read(s->fd, s->in + s->inlen, sizeof(s->in) -
			    s->inlen);
			if (n > 0) {
				s->inlen += (size_t)n;
				continue;
			}
			if (n < 0 && (errno == EAGAIN || errno == EINTR))
				return 0;
			s->eof = n == 0;
			return uc_fail(UC_ERR_IO, "reading from the server: "
			    "%s", n == 0 ? "connection closed" :
			    strerror(errno));
		}
		if (SSL_read_ex(s->ssl, s->in + s->inlen, sizeof(s->in) -
		    s->inlen, &k) == 1) {
			s->inlen += k;
			continue;
		}
		e = SSL_get_error(s->ssl, 0);
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
			ERR_clear_error();
			return 0;
		}
		s->eof = e == SSL_ERROR_ZERO_RETURN ||
		    (e == SSL_ERROR_SYSCALL && errno == 0) ||
		    (e == SSL_ERROR_SSL && ERR_GET_REASON(ERR_peek_last_error())
		    == SSL_R_UNEXPECTED_EOF_WHILE_READING);
		return uc_fail(UC_ERR_IO, "reading from the server: %s",
		    s->eof ? "connection closed" : ssl_why(why, sizeof(why)));
	}
	return 0;
}

/* Hand every whole message to the phone; wipe what was consumed. */
static int
s_process(struct single *s)
{
	const char	*why = "";
	size_t		 off = 0, total = 0, left;
	int		 k, r = 0, n;

	for (n = 0; n < SP_MSGS_PER_READ && off < s->inlen && r == 0; n++) {
		k = skinny_frame(s->in + off, s->inlen - off, &total, &why);
		if (k == 0)
			break;
		if (k < 0) {
			r = uc_fail(UC_ERR_FORMAT, "%s: the server's stream "
			    "breaks the framing: %s (spec 2)", s->ph.name,
			    why);
			break;
		}
		r = phone_input(&s->ph, s->in + off, total);
		off += total;
	}
	left = s->inlen - off;
	memmove(s->in, s->in + off, left);
	OPENSSL_cleanse(s->in + left, off);
	s->inlen = left;
	return r;
}

/* Write everything the phone queued, within --timeout. */
static int
s_flush(struct single *s)
{
	struct wbuf	*o = &s->ph.out;
	double		 deadline = now() + s->cf->timeout;
	char		 why[256];
	size_t		 off = 0, k;
	ssize_t		 n;
	int		 e, r = 0;

	while (off < o->len && r == 0) {
		errno = 0;
		if (s->ssl == NULL) {
			if ((n = write(s->fd, o->data + off, o->len - off)) > 0)
				off += (size_t)n;
			else if (n < 0 && (errno == EAGAIN || errno == EINTR))
				r = fd_wait(s->fd, POLLOUT, deadline);
			else
				r = uc_fail(UC_ERR_IO, "writing to the server: "
				    "%s", strerror(errno));
			continue;
		}
		if (SSL_write_ex(s->ssl, o->data + off, o->len - off,
		    &k) == 1) {
			off += k;
			continue;
		}
		e = SSL_get_error(s->ssl, 0);
		if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ)
			r = fd_wait(s->fd, e == SSL_ERROR_WANT_READ ? POLLIN :
			    POLLOUT, deadline);
		else
			r = uc_fail(UC_ERR_IO, "writing to the server: %s",
			    ssl_why(why, sizeof(why)));
	}
	o->len = 0;
	return r;
}

/* --rtp-bind, or the local address of the signalling connection. */
static int
s_local_addrs(struct single *s)
{
	struct sockaddr_storage	 ss;
	struct sockaddr_in	*s4 = (struct sockaddr_in *)&s->rtp_local;
	struct sockaddr_in6	*s6 = (struct sockaddr_in6 *)&s->rtp_local;
	socklen_t		 sl = sizeof(ss);

	if (getsockname(s->fd, (struct sockaddr *)&ss, &sl) == -1)
		return uc_fail(UC_ERR_IO, "getsockname: %s", strerror(errno));
	if (ss.ss_family == AF_INET)
		memcpy(s->ph.ip4, &((struct sockaddr_in *)&ss)->sin_addr, 4);
	memset(&s->rtp_local, 0, sizeof(s->rtp_local));
	if (s->cf->rtp_bind == NULL) {
		s->rtp_local = ss;
		if (ss.ss_family == AF_INET6)
			s6->sin6_port = 0;
		else
			s4->sin_port = 0;
		return 0;
	}
	if (inet_pton(AF_INET, s->cf->rtp_bind, &s4->sin_addr) == 1)
		s4->sin_family = AF_INET;
	else if (inet_pton(AF_INET6, s->cf->rtp_bind, &s6->sin6_addr) == 1)
		s6->sin6_family = AF_INET6;
	else
		return uc_fail(UC_ERR_ARG, "--rtp-bind %s: not an IPv4 or "
		    "IPv6 address", s->cf->rtp_bind);
	return 0;
}

/* Stop our media, send Unregister (spec 6.5), wait for the answer. */
static int
s_unregister(struct single *s, double t)
{
	s_stop_tx(s, &s->ph);
	s_close_rx(s, &s->ph);
	s->phase = SP_UNREG;
	s->deadline = t + s->cf->timeout;
	return phone_send_simple(&s->ph, SK_UNREGISTER, 0, 0, 0);
}

/* Connected: plan talk, hold and resume (the talk goes on after it). */
static void
s_talk_plan(struct single *s, double t)
{
	double	 half = s->cf->talk / 2.0;

	s->phase = SP_TALK;
	if (s->cf->hold) {
		s->t_hold = t + half;
		s->t_resume = s->t_hold + SP_HOLD_PAUSE;
		s->t_end = s->t_resume + half;
	} else
		s->t_end = t + s->cf->talk;
	/* The answerer waits for the far end to hang up. */
	s->deadline = s->t_end + s->cf->timeout;
}

/* Registered: place or wait for the call, or leave at once. */
static int
s_ready(struct single *s, double t)
{
	s->next_ka = t + s->ph.keepalive;
	s->deadline = t + s->cf->timeout;
	if (s->cf->call != NULL) {
		s->phase = SP_CALLING;
		return phone_dial(&s->ph, s->cf->call);
	}
	if (s->cf->answer) {
		s->phase = SP_RINGING;
		s->ph.auto_answer = 1;
		return 0;
	}
	return s_unregister(s, t);
}

/* During the call: hold, resume, hang up, or the far end's hang-up. */
static int
s_talk(struct single *s, int ev, double t)
{
	int	 r = 0;

	if (ev & PE_ONHOOK) {
		log_debug("%s: the far end hung up", s->ph.name);
		return s_unregister(s, t);
	}
	if (s->cf->hold && !s->hold_sent && t >= s->t_hold) {
		s->hold_sent = 1;
		r = phone_softkey(&s->ph, SK_SOFTKEY_HOLD);
	} else if (s->hold_sent && !s->resume_sent && t >= s->t_resume) {
		s->resume_sent = 1;
		r = phone_softkey(&s->ph, SK_SOFTKEY_RESUME);
	} else if (s->cf->call != NULL && t >= s->t_end) {
		s->phase = SP_HANGUP;
		s->deadline = t + SP_HANGUP_WAIT;
		r = phone_hangup(&s->ph);
	}
	return r;
}

/* Advance the script on the phone's events and the clock. */
static int
s_step(struct single *s, double t)
{
	int	 ev = s->ph.events, r = 0;

	s->ph.events = 0;
	if (ev & PE_REJECTED) {
		s->rejected = 1;
		s->phase = SP_DONE;
		return 0;
	}
	if (ev & PE_RESET)
		return uc_fail(UC_ERR_IO, "%s: the server sent Reset",
		    s->ph.name);
	if (ev & PE_PROGRESS)
		s->deadline = t + s->cf->timeout;
	switch (s->phase) {
	case SP_REG:
		if (ev & PE_READY)
			r = s_ready(s, t);
		else if (t >= s->deadline)
			r = uc_fail(UC_ERR_IO, "%s: no %s within --timeout "
			    "(spec 4)", s->ph.name, bringup[s->ph.step].name);
		break;
	case SP_CALLING:
	case SP_RINGING:
		if (ev & PE_CONNECTED)
			s_talk_plan(s, t);
		else if (ev & (PE_CALL_FAILED | PE_ONHOOK)) {
			log_warnx("%s: the call failed (CallState %" PRIu32
			    ")", s->ph.name, s->ph.call == C_FAILED ?
			    s->ph.fail_state : SK_CS_ONHOOK);
			if ((r = phone_hangup(&s->ph)) == 0)
				r = s_unregister(s, t);
		} else if (t >= s->deadline)
			r = uc_fail(UC_ERR_IO, "%s: no connect within "
			    "--timeout: waiting for %s", s->ph.name,
			    sphase_waits[s->phase]);
		break;
	case SP_TALK:
		if (t >= s->deadline)
			r = uc_fail(UC_ERR_IO, "%s: the far end did not hang "
			    "up within --talk + --timeout", s->ph.name);
		else
			r = s_talk(s, ev, t);
		break;
	case SP_HANGUP:
		if ((ev & PE_ONHOOK) || t >= s->deadline) {
			if (!(ev & PE_ONHOOK))
				log_warnx("%s: no CallState on-hook after "
				    "OnHook", s->ph.name);
			r = s_unregister(s, t);
		}
		break;
	case SP_UNREG:
		if (ev & PE_UNREG_ACK) {
			s->unreg_acked = 1;
			s->phase = SP_DONE;
		} else if (t >= s->deadline) {
			log_warnx("%s: no UnregisterAck", s->ph.name);
			s->phase = SP_DONE;
		}
		break;
	case SP_DONE:
		break;
	}
	return r;
}

/* The next instant the loop must wake up at, in ms from t. */
static int
s_wakeup_ms(const struct single *s, double t)
{
	double	 w = s->deadline;

	if (s->tx_on && s->next_send < w)
		w = s->next_send;
	if (s->phase != SP_REG && s->next_ka < w)
		w = s->next_ka;
	if (s->phase == SP_TALK) {
		if (s->cf->hold && !s->resume_sent && s->t_hold < w)
			w = s->hold_sent ? s->t_resume : s->t_hold;
		if (s->cf->call != NULL && s->t_end < w)
			w = s->t_end;
	}
	if (w <= t)
		return 0;
	return (int)((w - t) * 1000) + 1;
}

/* Timed work: RTP every 20 ms, KeepAlive every keepalive seconds. */
static int
s_timers(struct single *s, double t)
{
	if (s->tx_on && t >= s->next_send) {
		s_send_rtp(s);
		s->next_send += SP_RTP_MS / 1000.0;
		if (s->next_send < t - 0.1)
			s->next_send = t + SP_RTP_MS / 1000.0;
	}
	if (s->phase != SP_REG && s->phase != SP_DONE && t >= s->next_ka) {
		s->next_ka = t + s->ph.keepalive;
		return phone_send_simple(&s->ph, SK_KEEPALIVE, 0, 0, 0);
	}
	return 0;
}

/* One turn of the loop: wait, read, handle, send. */
static int
s_turn(struct single *s)
{
	struct pollfd	 pfd[2];
	double		 t = now();
	int		 n = 1, r, rr = 0, ms;

	ms = s_wakeup_ms(s, t);
	if (s->ssl != NULL && SSL_pending(s->ssl) > 0)
		ms = 0;
	memset(pfd, 0, sizeof(pfd));
	pfd[0].fd = s->fd;
	pfd[0].events = POLLIN;
	if (s->rtp_fd != -1) {
		pfd[1].fd = s->rtp_fd;
		pfd[1].events = POLLIN;
		n = 2;
	}
	if (poll(pfd, (nfds_t)n, ms) < 0 && errno != EINTR)
		return uc_fail(UC_ERR_IO, "poll: %s", strerror(errno));
	if (pfd[0].revents != 0 || ms == 0)
		rr = s_read(s);
	/* What came before a close still counts (RegisterReject). */
	if ((r = s_process(s)) != 0)
		return r;
	if (rr != 0 && !s->eof)
		return rr;
	if (n == 2 && pfd[1].revents != 0)
		s_recv_rtp(s);
	t = now();
	if (!s->eof && (r = s_timers(s, t)) != 0)
		return r;
	if ((r = s_step(s, t)) != 0)
		return r;
	if (s->eof)
		s->ph.out.len = 0;
	else if (s->ph.out.len > 0)
		r = s_flush(s);
	return r;
}

/* Run until done; the server closing after Unregister is fine. */
static int
s_run(struct single *s)
{
	int	 r = 0;

	while (s->phase != SP_DONE && r == 0) {
		if (interrupted) {
			r = uc_fail(UC_ERR_IO, "%s: interrupted", s->ph.name);
			break;
		}
		r = s_turn(s);
		if (r != 0 || !s->eof)
			continue;
		if (s->phase == SP_UNREG)
			s->phase = SP_DONE;
		else if (s->phase != SP_DONE)
			r = uc_fail(UC_ERR_IO, "%s: the server closed the "
			    "connection while the phone waited for %s",
			    s->ph.name, s->phase == SP_REG ?
			    bringup[s->ph.step].name : sphase_waits[s->phase]);
	}
	return r;
}

/* Keys were renewed after hold/resume, in both directions (spec 7.1). */
static int
phone_rekeyed(const struct phone *ph)
{
	return ph->rxk.changed && ph->txk.changed && !ph->rxk.repeated &&
	    !ph->txk.repeated;
}

/* Log each reason the run failed; returns 0 if there is none. */
static int
s_verdict(const struct single *s)
{
	const struct conf	*cf = s->cf;
	const struct phone	*ph = &s->ph;
	int			 fails = 0;

#define FAIL(...)	do { log_warnx(__VA_ARGS__); fails++; } while (0)
	if (!ph->acked && !s->rejected)
		FAIL("%s: not registered", ph->name);
	if ((cf->call != NULL || cf->answer) && !ph->was_connected)
		FAIL("%s: the call did not connect", ph->name);
	if (ph->was_connected && s->received == 0)
		FAIL("%s: no RTP received", ph->name);
	if (s->bad > 0)
		FAIL("%s: %" PRIu64 " bad RTP packets", ph->name, s->bad);
	if (s->auth_failed > 0)
		FAIL("%s: %" PRIu64 " SRTP packets failed authentication",
		    ph->name, s->auth_failed);
	if (cf->expect_sec >= 0 && ph->security != cf->expect_sec)
		FAIL("%s: call security %s, expected %s (spec 8)", ph->name,
		    ph->security < 0 ? "unknown" : sec_names[ph->security],
		    sec_names[cf->expect_sec]);
	if (s->media_err)
		FAIL("%s: media could not be set up as the server asked",
		    ph->name);
	if (ph->keys_exposed || ph->same_key)
		FAIL("%s: the server broke the key rules of spec 7.1",
		    ph->name);
	if (cf->hold && ph->rxk.count + ph->txk.count > 0 &&
	    !phone_rekeyed(ph))
		FAIL("%s: no new keys in both directions after resume "
		    "(spec 7.1 rule 5)", ph->name);
#undef FAIL
	return fails;
}

/* The result line; returns the exit code. */
static int
s_report(struct single *s, int r)
{
	const struct phone	*ph = &s->ph;
	const char		*call = "none";
	int			 fails;

	if (s->cf->call != NULL || s->cf->answer)
		call = ph->was_connected ? "connected" : "failed";
	if (s->rejected)
		fprintf(stderr, "%s: %s: RegisterReject: %s\n",
		    log_progname(), ph->name, ph->reject);
	fails = s_verdict(s);
	printf("result name=%s version=%d registered=%d call=%s security=%s "
	    "srtp=%s sent=%" PRIu64 " received=%" PRIu64 " lost=%" PRIu64
	    " bad=%" PRIu64 " auth_failed=%" PRIu64 " rekeyed=%d\n",
	    ph->name, ph->v, ph->acked && !s->rejected, call,
	    ph->security < 0 ? "unknown" : sec_names[ph->security],
	    s->srtp_suite >= 0 ? sdes_suite_name(s->srtp_suite) : "none",
	    s->sent, s->received, s->lost, s->bad, s->auth_failed,
	    phone_rekeyed(ph));
	fflush(stdout);
	return r != 0 || s->rejected || fails > 0 ? 1 : 0;
}

/* --dump and --sent, each written whole and atomically. */
static int
s_write_files(struct single *s)
{
	int	 r = 0;

	if (s->cf->dump != NULL) {
		if (!wbuf_ok(&s->dump))
			log_warnx("--dump %s: over %d MB, cut short",
			    s->cf->dump, SP_DUMP_MAX >> 20);
		/* It holds the keys of the call: owner only. */
		r = file_write_atomic(s->cf->dump, s->dump.data != NULL ?
		    (void *)s->dump.data : (void *)"", s->dump.len, 0600,
		    NULL, NULL);
	}
	if (r == 0 && s->cf->sent != NULL) {
		if (!wbuf_ok(&s->sentlog))
			log_warnx("--sent %s: over %d MB, cut short",
			    s->cf->sent, SP_SENT_MAX >> 20);
		r = file_write_atomic(s->cf->sent, s->sentlog.data != NULL ?
		    (void *)s->sentlog.data : (void *)"", s->sentlog.len,
		    0644, NULL, NULL);
	}
	return r;
}

static void
s_free(struct single *s)
{
	s_stop_tx(s, &s->ph);
	s_close_rx(s, &s->ph);
	if (s->ssl != NULL) {
		if (!s->eof)
			(void)SSL_shutdown(s->ssl);
		SSL_free(s->ssl);
	}
	if (s->fd != -1)
		close(s->fd);
	if (s->tx_fd != -1)
		close(s->tx_fd);
	wbuf_free(&s->dump);		/* wiped: it holds keys */
	wbuf_free(&s->sentlog);
	OPENSSL_cleanse(s->in, sizeof(s->in));
	phone_free(&s->ph);
	free(s);
}

/* Connect, register, run the script. */
static int
s_start(struct single *s)
{
	struct conf	*cf = s->cf;
	int		 r;

	if ((r = srtpw_init()) != 0)
		return r;
	if (cf->tls && ((r = tls_setup(cf)) != 0 ||
	    (r = tls_load_auth(cf)) != 0))
		return r;
	if ((r = s_tcp_connect(s)) != 0 || (r = s_local_addrs(s)) != 0)
		return r;
	if (cf->tls && (r = s_tls_connect(s)) != 0)
		return r;
	s->phase = SP_REG;
	s->deadline = now() + cf->timeout;
	if ((r = phone_register(&s->ph)) != 0 || (r = s_flush(s)) != 0)
		return r;
	return s_run(s);
}

static int
single_main(struct conf *cf)
{
	struct single	*s;
	int		 r, rc;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return cmd_fail(uc_fail(UC_ERR_ALLOC, "phone"));
	s->cf = cf;
	s->fd = s->rtp_fd = s->tx_fd = -1;
	s->srtp_suite = -1;
	phone_init(&s->ph, cf, cf->name, &single_media, s);
	s->ph.link = LINK_TCP;
	wbuf_init(&s->dump, SP_DUMP_MAX);
	wbuf_init(&s->sentlog, SP_SENT_MAX);
	if (cf->dump != NULL)
		s->ph.dump = &s->dump;
	if ((r = s_start(s)) != 0)
		(void)cmd_fail(r);
	s_stop_tx(s, &s->ph);
	s_close_rx(s, &s->ph);
	rc = s_report(s, r);
	if (s_write_files(s) != 0)
		rc = cmd_fail(UC_ERR_IO);
	s_free(s);
	return rc;
}

/*
 * Load mode: N phones in one thread over libevent.
 */

enum lstate {
	L_IDLE,			/* not started */
	L_CONNECTING,		/* TCP and TLS */
	L_REGISTERING,		/* Register sent, bring-up */
	L_CLOSING,		/* --handshake-only: close_notify sent */
	L_REGISTERED,		/* idle, KeepAlives */
	L_DONE			/* failed, dropped or finished */
};

enum lphase { LP_REGISTER, LP_CALLS, LP_HOLD, LP_DONE };

struct lstats {
	double		*ms;
	size_t		 n, cap;
};

struct load;
struct lpair;

struct lphone {
	struct load	*ld;
	struct phone	 ph;
	long		 idx;
	struct bufferevent *bev;
	struct event	*ka;		/* KeepAlive timer */
	EVP_PKEY	*key;		/* minted */
	X509		*cert;
	double		 t0;
	enum lstate	 st;
	struct lpair	*pair;
	int		 keyed;		/* key blocks with a key, this call */
};

struct lpair {
	struct load	*ld;
	struct lphone	*a, *b;		/* caller, callee */
	struct event	*timer;		/* one call's time limit */
	double		 t0;
	int		 busy;		/* a call is up */
	int		 setup;		/* connected, keyed, CallInfo */
	int		 dead;		/* failed once: not used again */
};

struct load {
	struct conf	*cf;
	struct event_base *base;
	struct sockaddr_storage addr;
	socklen_t	 addrlen;
	struct lphone	*phones;
	long		 n;
	long		 next;		/* next phone to start */
	long		 active;	/* connecting or registering */
	long		 ok, failed, dropped, logged;
	enum lphase	 phase;
	struct lstats	 reg, cst;	/* registration, call setup */
	double		 t0, tend, cpu0, cpu;
	double		 c0, cend;	/* the call phase */
	double		 h0, hend;	/* the hold phase */
	struct lpair	*pairs;
	int		 npairs;
	long		 calls_started, calls_ok, calls_failed, calls_keyed;
	struct event	*sigint, *sigterm, *holdtimer;
	uint8_t		 buf[SKINNY_MSG_MAX];
};

static double
cpu_s(void)
{
	struct rusage	 ru;

	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return 0;
	return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
	    (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static void
stats_add(struct lstats *s, double ms)
{
	double	*n;
	size_t	 cap;

	if (s->n == s->cap) {
		cap = s->cap ? s->cap * 2 : 1024;
		if ((n = reallocarray(s->ms, cap, sizeof(*n))) == NULL)
			return;		/* XXX sample lost under OOM */
		s->ms = n;
		s->cap = cap;
	}
	s->ms[s->n++] = ms;
}

static int
cmp_double(const void *a, const void *b)
{
	double	 x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile; sorts the samples. */
static double
pct(struct lstats *s, double p)
{
	double	 rank = p / 100.0 * (double)s->n;
	size_t	 i = (size_t)rank;

	if (s->n == 0)
		return 0;
	qsort(s->ms, s->n, sizeof(*s->ms), cmp_double);
	if ((double)i < rank)
		i++;
	return s->ms[i > 0 ? i - 1 : 0];
}

static void ld_check(struct load *);
static void pair_check(struct lpair *);
static void pair_fail(struct lpair *, const char *);

/* Load media: no sockets, no RTP; answer with a port that is unused. */
static int
l_open_rx(void *arg, struct phone *ph, const struct skinny_msg *m,
    struct skinny_addr *a, uint32_t *port)
{
	struct lphone	*lp = arg;

	memset(a, 0, sizeof(*a));
	a->family = AF_INET;
	memcpy(a->ip, ph->ip4, 4);
	*port = 20000 + (uint32_t)(lp->idx % 20000) * 2;
	if (m->u.media.key.alg != SK_ALG_NONE)
		lp->keyed++;
	return 0;
}

static int
l_start_tx(void *arg, struct phone *ph, const struct skinny_msg *m)
{
	struct lphone	*lp = arg;

	(void)ph;
	if (m->u.media.key.alg != SK_ALG_NONE)
		lp->keyed++;
	return 0;
}

static void
l_nothing(void *arg, struct phone *ph)
{
	(void)arg;
	(void)ph;
}

static const struct media_ops load_media = {
	l_open_rx, l_nothing, l_start_tx, l_nothing
};

/* Hand the phone's queued output to the bufferevent. */
static void
lp_flush(struct lphone *lp)
{
	struct wbuf	*o = &lp->ph.out;

	if (o->len > 0 && lp->bev != NULL)
		(void)bufferevent_write(lp->bev, o->data, o->len);
	o->len = 0;
}

static void
lp_close(struct lphone *lp)
{
	SSL	*ssl;

	if (lp->ka != NULL)
		event_free(lp->ka);
	lp->ka = NULL;
	if (lp->bev == NULL)
		return;
	if ((ssl = bufferevent_openssl_get_ssl(lp->bev)) != NULL &&
	    lp->st != L_CONNECTING && lp->st != L_CLOSING)
		(void)SSL_shutdown(ssl);
	bufferevent_free(lp->bev);
	lp->bev = NULL;
}

/* A phone failed or was dropped: log the first few, close it. */
static void
lp_fail(struct lphone *lp, const char *what, const char *why)
{
	struct load	*ld = lp->ld;
	enum lstate	 st = lp->st;

	if (ld->logged++ < LOAD_LOG_FAILS)
		fprintf(stderr, "%s: %s: %s: %s\n", log_progname(),
		    lp->ph.name, what, why);
	lp_close(lp);
	lp->st = L_DONE;
	if (st == L_REGISTERED) {
		ld->dropped++;
		if (lp->pair != NULL && lp->pair->busy)
			pair_check(lp->pair);
		return;
	}
	ld->failed++;
	ld->active--;
	ld_check(ld);
}

/* A registration (or handshake) is complete: count it. */
static void
lp_done(struct lphone *lp)
{
	struct load	*ld = lp->ld;

	stats_add(&ld->reg, (now() - lp->t0) * 1000);
	ld->ok++;
	ld->active--;
	ld->tend = now();
	ld_check(ld);
}

static void
lp_keepalive(evutil_socket_t fd, short what, void *arg)
{
	struct lphone	*lp = arg;
	struct timeval	 tv = { (time_t)lp->ph.keepalive, 0 };

	(void)fd;
	(void)what;
	if (lp->st != L_REGISTERED)
		return;
	if (phone_send_simple(&lp->ph, SK_KEEPALIVE, 0, 0, 0) == 0)
		lp_flush(lp);
	evtimer_add(lp->ka, &tv);
}

/* Bring-up complete: idle from now on, KeepAlives spread over time. */
static void
lp_registered(struct lphone *lp)
{
	struct load	*ld = lp->ld;
	struct timeval	 tv;
	long		 ms = (long)lp->ph.keepalive * 1000;

	lp->st = L_REGISTERED;
	bufferevent_set_timeouts(lp->bev, NULL, NULL);
	ms = ms * ((lp->idx * 7919) % 1000) / 1000 + 1;
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	if ((lp->ka = evtimer_new(ld->base, lp_keepalive, lp)) != NULL)
		evtimer_add(lp->ka, &tv);
	lp_done(lp);
}

/* After the phone took some messages: registration and call progress. */
static void
lp_after_input(struct lphone *lp)
{
	int	 ev = lp->ph.events;

	lp->ph.events = 0;
	lp_flush(lp);
	if (ev & PE_REJECTED) {
		lp_fail(lp, "RegisterReject", lp->ph.reject);
		return;
	}
	if (ev & PE_RESET) {
		lp_fail(lp, "Reset", "the server reset the phone");
		return;
	}
	if ((ev & PE_READY) && lp->st == L_REGISTERING)
		lp_registered(lp);
	else if (lp->pair != NULL && lp->pair->busy)
		pair_check(lp->pair);
}

/*
 * Take the next whole message out of in into ld->buf; wipe its bytes
 * in the evbuffer (key blocks).  Returns its length, 0 if none is
 * whole yet, or UC_ERR_FORMAT.
 */
static int
lp_take(struct load *ld, struct evbuffer *in, size_t *len)
{
	struct evbuffer_iovec	 vec[8];
	struct cursor		 c;
	const char		*why = "";
	size_t			 have = evbuffer_get_length(in), total;
	int			 i, n, k;

	*len = 0;
	if (have < SKINNY_HDR_LEN)
		return 0;
	if (evbuffer_copyout(in, ld->buf, SKINNY_HDR_LEN) != SKINNY_HDR_LEN)
		return uc_fail(UC_ERR_INTERNAL, "evbuffer_copyout");
	if ((k = skinny_frame(ld->buf, SKINNY_HDR_LEN, &total, &why)) < 0)
		return uc_fail(UC_ERR_FORMAT, "framing: %s (spec 2)", why);
	cur_init(&c, ld->buf, SKINNY_HDR_LEN);
	total = (size_t)cur_u32le(&c) + 8;
	if (total > sizeof(ld->buf))
		return uc_fail(UC_ERR_FORMAT, "framing: %zu-byte message "
		    "(spec 2)", total);
	if (have < total)
		return 0;
	if (evbuffer_copyout(in, ld->buf, total) != (ev_ssize_t)total ||
	    skinny_frame(ld->buf, total, &total, &why) != 1)
		return uc_fail(UC_ERR_FORMAT, "framing: %s (spec 2)", why);
	n = evbuffer_peek(in, (ev_ssize_t)total, NULL, vec, 8);
	for (i = 0; i < n && i < 8; i++)
		OPENSSL_cleanse(vec[i].iov_base, vec[i].iov_len > total ?
		    total : vec[i].iov_len);
	evbuffer_drain(in, total);
	*len = total;
	return 1;
}

static void
lp_read(struct bufferevent *bev, void *arg)
{
	struct lphone	*lp = arg;
	struct load	*ld = lp->ld;
	struct evbuffer	*in = bufferevent_get_input(bev);
	size_t		 len;
	int		 k, r = 0;

	if (lp->st == L_CLOSING) {	/* --handshake-only: not Skinny */
		evbuffer_drain(in, evbuffer_get_length(in));
		return;
	}
	while (r == 0 && lp->st != L_DONE &&
	    (k = lp_take(ld, in, &len)) != 0) {
		if (k < 0 || (r = phone_input(&lp->ph, ld->buf, len)) != 0)
			r = UC_ERR_FORMAT;
		OPENSSL_cleanse(ld->buf, len);
		if (r == 0)
			lp_after_input(lp);
	}
	if (r != 0)
		lp_fail(lp, "protocol", uc_errdetail());
}

/* Connected (TLS: handshake done): register, or close (handshake only). */
static void
lp_connected(struct lphone *lp)
{
	struct sockaddr_storage	 ss;
	socklen_t		 sl = sizeof(ss);
	SSL			*ssl = bufferevent_openssl_get_ssl(lp->bev);

	if (ssl != NULL)
		lp->ph.link = tls_link(ssl);
	if (lp->ld->cf->handshake_only) {
		lp->st = L_CLOSING;
		(void)SSL_shutdown(ssl);
		return;
	}
	if (getsockname(bufferevent_getfd(lp->bev), (struct sockaddr *)&ss,
	    &sl) == 0 && ss.ss_family == AF_INET)
		memcpy(lp->ph.ip4, &((struct sockaddr_in *)&ss)->sin_addr, 4);
	lp->st = L_REGISTERING;
	if (phone_register(&lp->ph) != 0) {
		lp_fail(lp, "Register", uc_errdetail());
		return;
	}
	lp_flush(lp);
}

static void
lp_event(struct bufferevent *bev, short what, void *arg)
{
	struct lphone	*lp = arg;
	unsigned long	 e;
	char		 why[256];

	if (what & BEV_EVENT_CONNECTED) {
		lp_connected(lp);
		return;
	}
	if (lp->st == L_CLOSING && (what & BEV_EVENT_EOF)) {
		lp_close(lp);
		lp->st = L_DONE;
		lp_done(lp);
		return;
	}
	e = bufferevent_get_openssl_error(bev);
	if (e != 0 && ERR_GET_LIB(e) != 0)
		ERR_error_string_n(e, why, sizeof(why));
	else
		snprintf(why, sizeof(why), "%s", (what & BEV_EVENT_TIMEOUT) ?
		    "nothing from the server for --timeout" :
		    (what & BEV_EVENT_EOF) ? "the server closed the "
		    "connection" : errno ? strerror(errno) : "error");
	lp_fail(lp, lp->st == L_CONNECTING ? "connect" :
	    lp->st == L_REGISTERED ? "dropped" : "register", why);
}

/* Start phone lp: connect (TLS with its own certificate). */
static int
lp_start(struct lphone *lp)
{
	struct load	*ld = lp->ld;
	struct conf	*cf = ld->cf;
	struct timeval	 tv = { cf->timeout, 0 };
	SSL		*ssl = NULL;
	int		 one = 1;

	lp->t0 = now();
	lp->st = L_CONNECTING;
	ld->active++;
	if (cf->tls && ((ssl = SSL_new(cf->ctx)) == NULL ||
	    SSL_use_certificate(ssl, lp->cert) != 1 ||
	    SSL_use_PrivateKey(ssl, lp->key) != 1)) {
		SSL_free(ssl);
		return uc_fail_ssl(UC_ERR_CRYPTO, "SSL_new");
	}
	if (ssl != NULL)
		lp->bev = bufferevent_openssl_socket_new(ld->base, -1, ssl,
		    BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
	else
		lp->bev = bufferevent_socket_new(ld->base, -1,
		    BEV_OPT_CLOSE_ON_FREE);
	if (lp->bev == NULL) {
		SSL_free(ssl);
		return uc_fail(UC_ERR_ALLOC, "bufferevent");
	}
	if (ssl != NULL)
		bufferevent_openssl_set_allow_dirty_shutdown(lp->bev, 1);
	bufferevent_setcb(lp->bev, lp_read, NULL, lp_event, lp);
	bufferevent_set_timeouts(lp->bev, &tv, &tv);
	bufferevent_enable(lp->bev, EV_READ | EV_WRITE);
	if (bufferevent_socket_connect(lp->bev,
	    (const struct sockaddr *)&ld->addr, (int)ld->addrlen) != 0)
		return uc_fail(UC_ERR_IO, "connect: %s", strerror(errno));
	(void)setsockopt(bufferevent_getfd(lp->bev), IPPROTO_TCP,
	    TCP_NODELAY, &one, sizeof(one));
	return 0;
}

/* Keep --concurrency phones connecting or registering. */
static void
ld_start_more(struct load *ld)
{
	static int	 depth;
	struct lphone	*lp;

	if (depth > 0)
		return;		/* lp_fail -> ld_check -> here: loop instead */
	depth++;
	while (!interrupted && ld->active < ld->cf->concurrency &&
	    ld->next < ld->n) {
		lp = &ld->phones[ld->next++];
		if (lp_start(lp) != 0)
			lp_fail(lp, "start", uc_errdetail());
	}
	depth--;
}

/*
 * Calls between pairs of registered phones (spec 9): the caller dials
 * the callee's line (learnt from LineStat), the callee answers when it
 * rings.  A call is set up once both phones are connected, have had
 * OpenReceiveChannel and StartMediaTransmission and a CallInfo with a
 * security status after the connect; then the caller hangs up and the
 * pair waits for both CallState on-hook before its next call.
 */

static void
pair_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct lpair	*p = arg;

	(void)fd;
	(void)what;
	if (!p->busy)
		return;
	pair_fail(p, p->setup ? "no hang-up within --timeout" :
	    "no call setup within --timeout");
}

/* The next call of pair p, if calls are left. */
static void
pair_start(struct lpair *p)
{
	struct load	*ld = p->ld;
	struct timeval	 tv = { ld->cf->timeout, 0 };

	p->busy = 0;
	if (p->dead || interrupted || ld->calls_started >= ld->cf->calls) {
		ld_check(ld);
		return;
	}
	ld->calls_started++;
	phone_call_reset(&p->a->ph);
	phone_call_reset(&p->b->ph);
	p->a->keyed = p->b->keyed = 0;
	p->b->ph.auto_answer = 1;
	p->busy = 1;
	p->setup = 0;
	p->t0 = now();
	evtimer_add(p->timer, &tv);
	if (p->b->ph.dn[0] == '\0' || phone_dial(&p->a->ph, p->b->ph.dn) != 0) {
		if (ld->logged++ < LOAD_LOG_FAILS)
			fprintf(stderr, "%s: %s: no line number to call "
			    "(LineStat)\n", log_progname(), p->b->ph.name);
		p->dead = 1;
		p->busy = 0;
		ld->calls_failed++;
		ld_check(ld);
		return;
	}
	lp_flush(p->a);
}

/* Put a phone of a failed call back on hook, if it is still there. */
static void
pair_onhook(struct lphone *lp)
{
	if (lp->st != L_REGISTERED || lp->ph.call == C_IDLE ||
	    lp->ph.call == C_ENDED)
		return;
	if (phone_hangup(&lp->ph) == 0)
		lp_flush(lp);
}

static void
pair_fail(struct lpair *p, const char *why)
{
	struct load	*ld = p->ld;

	if (ld->logged++ < LOAD_LOG_FAILS)
		fprintf(stderr, "%s: %s calling %s: %s\n", log_progname(),
		    p->a->ph.name, p->b->ph.name, why);
	pair_onhook(p->a);
	pair_onhook(p->b);
	evtimer_del(p->timer);
	p->dead = 1;
	p->busy = 0;
	ld->calls_failed++;
	ld_check(ld);
}

static int
call_setup_done(const struct phone *ph)
{
	return ph->call == C_CONNECTED && ph->orcs > 0 && ph->smts > 0 &&
	    ph->sec_connected > 0;
}

static void
pair_check(struct lpair *p)
{
	struct phone	*a = &p->a->ph, *b = &p->b->ph;

	if (p->a->st != L_REGISTERED || p->b->st != L_REGISTERED) {
		pair_fail(p, "a phone lost its connection");
		return;
	}
	if (a->call == C_FAILED || (!p->setup && (a->call == C_ENDED ||
	    b->call == C_ENDED))) {
		pair_fail(p, a->call == C_FAILED ? "the call failed "
		    "(CallState busy, congestion or invalid number)" :
		    "CallState on-hook before the call was set up");
		return;
	}
	if (!p->setup && call_setup_done(a) && call_setup_done(b)) {
		p->setup = 1;
		stats_add(&p->ld->cst, (now() - p->t0) * 1000);
		if (p->a->keyed >= 2 && p->b->keyed >= 2)
			p->ld->calls_keyed++;
		if (phone_hangup(a) != 0) {
			pair_fail(p, uc_errdetail());
			return;
		}
		lp_flush(p->a);
		return;
	}
	if (p->setup && a->call == C_ENDED && b->call == C_ENDED) {
		evtimer_del(p->timer);
		p->ld->calls_ok++;
		p->ld->cend = now();
		pair_start(p);
	}
}

/* Pair the registered phones, at most --concurrency pairs. */
static int
calls_begin(struct load *ld)
{
	struct lphone	*first = NULL;
	struct lpair	*p;
	long		 i;

	if ((ld->pairs = calloc((size_t)ld->n / 2 + 1,
	    sizeof(*ld->pairs))) == NULL)
		return uc_fail(UC_ERR_ALLOC, "pairs");
	for (i = 0; i < ld->n && ld->npairs < ld->cf->concurrency; i++) {
		if (ld->phones[i].st != L_REGISTERED)
			continue;
		if (first == NULL) {
			first = &ld->phones[i];
			continue;
		}
		p = &ld->pairs[ld->npairs++];
		p->ld = ld;
		p->a = first;
		p->b = &ld->phones[i];
		p->a->pair = p->b->pair = p;
		if ((p->timer = evtimer_new(ld->base, pair_timeout,
		    p)) == NULL)
			return uc_fail(UC_ERR_ALLOC, "timer");
		first = NULL;
	}
	if (ld->npairs == 0)
		return uc_fail(UC_ERR_IO, "--calls: fewer than two phones "
		    "registered");
	ld->phase = LP_CALLS;
	ld->c0 = ld->cend = now();
	for (i = 0; i < ld->npairs; i++)
		pair_start(&ld->pairs[i]);
	return 0;
}

static int
calls_idle(const struct load *ld)
{
	int	 i;

	for (i = 0; i < ld->npairs; i++)
		if (ld->pairs[i].busy)
			return 0;
	return 1;
}

static void
hold_end(evutil_socket_t fd, short what, void *arg)
{
	struct load	*ld = arg;

	(void)fd;
	(void)what;
	event_base_loopexit(ld->base, NULL);
}

/* --hold-open: say so, then wait for SIGINT or --hold SECS. */
static void
hold_begin(struct load *ld)
{
	struct timeval	 tv = { (time_t)ld->cf->hold_secs, 0 };

	ld->phase = LP_HOLD;
	ld->h0 = now();
	fprintf(stderr, "%s: holding %ld registered phones (SIGINT%s ends "
	    "it)\n", log_progname(), ld->ok - ld->dropped,
	    ld->cf->hold_secs ? " or --hold" : "");
	fflush(stderr);
	if (ld->cf->hold_secs > 0 && (ld->holdtimer = evtimer_new(ld->base,
	    hold_end, ld)) != NULL)
		evtimer_add(ld->holdtimer, &tv);
}

/* Move to the next phase when the current one is over. */
static void
ld_check(struct load *ld)
{
	if (ld->phase == LP_REGISTER) {
		ld_start_more(ld);
		if (ld->active > 0 || (ld->next < ld->n && !interrupted))
			return;
		ld->cpu = cpu_s() - ld->cpu0;
		if (ld->cf->calls > 0 && !interrupted) {
			if (calls_begin(ld) == 0)
				return;
			fprintf(stderr, "%s: %s\n", log_progname(),
			    uc_errdetail());
			ld->phase = LP_DONE;
			event_base_loopexit(ld->base, NULL);
			return;
		}
	} else if (ld->phase == LP_CALLS) {
		if (!calls_idle(ld))
			return;
		ld->cend = now();
	} else
		return;
	if (ld->cf->hold_open && !interrupted)
		hold_begin(ld);
	else {
		ld->phase = LP_DONE;
		event_base_loopexit(ld->base, NULL);
	}
}

static void
on_signal_ev(evutil_socket_t fd, short what, void *arg)
{
	struct load	*ld = arg;

	(void)fd;
	(void)what;
	interrupted = 1;
	event_base_loopexit(ld->base, NULL);
}

/*
 * Before timing: a P-256 key and a certificate with CN = the device
 * name for each phone (lib/lsc.h profile), signed by --mint-ca.
 */
static int
load_mint(struct load *ld)
{
	struct conf		*cf = ld->cf;
	struct signer		*ca = NULL;
	struct lsc_signer	*ls = NULL;
	struct lphone		*lp;
	double			 t0 = now();
	long			 i;
	int			 r;

	if ((r = signer_file_open(cf->mint_ca_key, cf->mint_ca, &ca)) != 0)
		goto out;
	if (signer_pkey(ca) == NULL) {
		r = uc_fail(UC_ERR_UNSUPPORTED, "%s: key not in memory",
		    cf->mint_ca_key);
		goto out;
	}
	if ((r = lsc_signer_new(ca->cert, signer_pkey(ca), &ls)) != 0)
		goto out;
	for (i = 0; i < ld->n && r == 0; i++) {
		lp = &ld->phones[i];
		if ((lp->key = EVP_PKEY_Q_keygen(NULL, NULL, "EC",
		    "P-256")) == NULL)
			r = uc_fail_ssl(UC_ERR_CRYPTO, "P-256 key");
		else
			r = lsc_issue_der(ls, lp->ph.name, lp->key, NULL, 0,
			    LOAD_CERT_DAYS, &lp->cert);
	}
	if (r == 0 && !cf->json)
		fprintf(stderr, "%s: %ld P-256 certificates minted in %.1f s "
		    "(not timed)\n", log_progname(), ld->n, now() - t0);
out:
	lsc_signer_free(ls);
	signer_free(ca);
	return r;
}

/* Phones named and set up (and minted) before timing. */
static int
load_prepare(struct load *ld)
{
	struct conf	*cf = ld->cf;
	char		 name[SKINNY_NAME_LEN + 1];
	int		 w = (int)(SP_NAME_MAX - strlen(cf->prefix)), r;
	long		 i;

	if ((r = fd_limit_raise(cf->load)) != 0 ||
	    (r = addr_resolve(cf->host, cf->port, SOCK_STREAM, &ld->addr,
	    &ld->addrlen)) != 0 ||
	    (cf->tls && (r = tls_setup(cf)) != 0))
		return r;
	if ((ld->phones = calloc((size_t)ld->n, sizeof(*ld->phones))) == NULL)
		return uc_fail(UC_ERR_ALLOC, "%ld phones", ld->n);
	for (i = 0; i < ld->n; i++) {
		snprintf(name, sizeof(name), "%s%0*ld", cf->prefix, w,
		    cf->first + i);
		phone_init(&ld->phones[i].ph, cf, name, &load_media,
		    &ld->phones[i]);
		ld->phones[i].ld = ld;
		ld->phones[i].idx = i;
		ld->phones[i].ph.link = LINK_TCP;
	}
	if (cf->tls && (r = load_mint(ld)) != 0)
		return r;
	if ((ld->base = event_base_new()) == NULL ||
	    (ld->sigint = evsignal_new(ld->base, SIGINT, on_signal_ev,
	    ld)) == NULL ||
	    (ld->sigterm = evsignal_new(ld->base, SIGTERM, on_signal_ev,
	    ld)) == NULL)
		return uc_fail(UC_ERR_ALLOC, "event base");
	evsignal_add(ld->sigint, NULL);
	evsignal_add(ld->sigterm, NULL);
	return 0;
}

static void
report_json(struct load *ld, double wall)
{
	const struct conf *cf = ld->cf;
	double		 cw = ld->cend - ld->c0;

	printf("{\"phones\": %ld, \"concurrency\": %d, \"tls\": %d, "
	    "\"mode\": \"%s\", \"ok\": %ld, \"failed\": %ld, "
	    "\"wall_s\": %.3f, \"per_s\": %.1f, \"p50_ms\": %.2f, "
	    "\"p99_ms\": %.2f, \"max_ms\": %.2f, \"client_cpu_s\": %.3f",
	    ld->n, cf->concurrency, cf->tls, cf->handshake_only ?
	    "handshake" : "register", ld->ok, ld->failed, wall,
	    wall > 0 ? ld->ok / wall : 0, pct(&ld->reg, 50),
	    pct(&ld->reg, 99), pct(&ld->reg, 100), ld->cpu);
	if (cf->calls > 0)
		printf(", \"calls\": %ld, \"calls_ok\": %ld, \"calls_failed\": "
		    "%ld, \"calls_keyed\": %ld, \"call_pairs\": %d, "
		    "\"calls_wall_s\": %.3f, \"call_setups_per_s\": %.1f, "
		    "\"call_p50_ms\": %.2f, \"call_p99_ms\": %.2f",
		    cf->calls, ld->calls_ok, ld->calls_failed,
		    ld->calls_keyed, ld->npairs, cw, cw > 0 ?
		    ld->calls_ok / cw : 0, pct(&ld->cst, 50),
		    pct(&ld->cst, 99));
	if (cf->hold_open)
		printf(", \"held\": %ld, \"hold_s\": %.1f",
		    ld->ok - ld->dropped, ld->hend - ld->h0);
	printf(", \"dropped\": %ld}\n", ld->dropped);
}

static void
report_text(struct load *ld, double wall)
{
	const struct conf *cf = ld->cf;
	const char	*what = cf->handshake_only ? "handshakes" :
			    "registrations";
	double		 cw = ld->cend - ld->c0;

	printf("sccp-phone: %s port %s, %ld phones over %s, concurrency "
	    "%d\n", cf->host, cf->port, ld->n, cf->tls ? "TLS" : "TCP",
	    cf->concurrency);
	printf("  %-13s %ld ok, %ld failed\n", what, ld->ok, ld->failed);
	printf("  duration      %.3f s (client CPU %.3f s)\n", wall, ld->cpu);
	printf("  rate          %.1f %s/s\n", wall > 0 ? ld->ok / wall : 0,
	    what);
	printf("  latency       p50 %.2f ms, p99 %.2f ms, max %.2f ms\n",
	    pct(&ld->reg, 50), pct(&ld->reg, 99), pct(&ld->reg, 100));
	if (cf->calls > 0) {
		printf("  calls         %ld ok, %ld failed of %ld, %ld with "
		    "SRTP keys, %d pairs\n", ld->calls_ok, ld->calls_failed,
		    cf->calls, ld->calls_keyed, ld->npairs);
		printf("  call setups   %.1f/s over %.3f s; setup p50 %.2f ms,"
		    " p99 %.2f ms\n", cw > 0 ? ld->calls_ok / cw : 0, cw,
		    pct(&ld->cst, 50), pct(&ld->cst, 99));
	}
	if (cf->hold_open)
		printf("  held          %ld phones for %.1f s\n",
		    ld->ok - ld->dropped, ld->hend - ld->h0);
	if (ld->dropped > 0)
		printf("  dropped       %ld registered phones lost their "
		    "connection\n", ld->dropped);
}

static void
load_free(struct load *ld)
{
	long	 i;
	int	 j;

	for (i = 0; ld->phones != NULL && i < ld->n; i++) {
		lp_close(&ld->phones[i]);
		phone_free(&ld->phones[i].ph);
		EVP_PKEY_free(ld->phones[i].key);
		X509_free(ld->phones[i].cert);
	}
	for (j = 0; j < ld->npairs; j++)
		if (ld->pairs[j].timer != NULL)
			event_free(ld->pairs[j].timer);
	free(ld->pairs);
	free(ld->phones);
	if (ld->sigint != NULL)
		event_free(ld->sigint);
	if (ld->sigterm != NULL)
		event_free(ld->sigterm);
	if (ld->holdtimer != NULL)
		event_free(ld->holdtimer);
	if (ld->base != NULL)
		event_base_free(ld->base);
	free(ld->reg.ms);
	free(ld->cst.ms);
}

static int
load_main(struct conf *cf)
{
	struct load	 ld;
	int		 r, rc = 1;

	memset(&ld, 0, sizeof(ld));
	ld.cf = cf;
	ld.n = cf->load;
	if ((r = load_prepare(&ld)) != 0) {
		rc = cmd_fail(r);
		goto out;
	}
	ld.phase = LP_REGISTER;
	ld.cpu0 = cpu_s();
	ld.t0 = ld.tend = now();
	ld_check(&ld);
	if (ld.phase != LP_DONE)
		event_base_dispatch(ld.base);
	if (ld.cpu == 0)
		ld.cpu = cpu_s() - ld.cpu0;
	ld.hend = now();
	if (ld.phase == LP_CALLS)
		ld.cend = now();
	if (cf->json)
		report_json(&ld, ld.tend - ld.t0);
	else
		report_text(&ld, ld.tend - ld.t0);
	rc = ld.ok == ld.n && ld.failed == 0 && ld.dropped == 0 &&
	    ld.calls_ok == cf->calls && !interrupted ? 0 : 1;
	if (cf->hold_open && interrupted && ld.phase == LP_HOLD &&
	    ld.ok == ld.n && ld.dropped == 0)
		rc = 0;		/* SIGINT is how a hold ends */
out:
	load_free(&ld);
	return rc;
}

int
main(int argc, char *argv[])
{
	struct conf	*cf;
	int		 rc;

	log_init("sccp-phone", 0, LOG_LEVEL_INFO);
	signal(SIGPIPE, SIG_IGN);
	if ((cf = calloc(1, sizeof(*cf))) == NULL) {
		fprintf(stderr, "sccp-phone: out of memory\n");
		return 1;
	}
	if ((rc = conf_parse(cf, argc, argv)) != 0)
		goto out;
	if (cf->verbose)
		log_set_level(LOG_LEVEL_DEBUG);
	if (cf->load > 0)
		rc = load_main(cf);
	else {
		signal(SIGINT, on_signal);
		signal(SIGTERM, on_signal);
		rc = single_main(cf);
	}
out:
	signer_free(cf->auth);
	SSL_CTX_free(cf->ctx);
	free(cf->host);
	free(cf->port);
	free(cf);
	return rc;
}
