/*
 * sipload: SIP REGISTER load over TLS or TCP, for bench/sip.
 *
 * Every registration is the exchange a phone makes: REGISTER, 401 with
 * digest challenge(s), REGISTER with Authorization (RFC 7616 / RFC 8760,
 * qop=auth, computed with lib/digest), 200 OK; a stale=true challenge
 * to the credentials is answered once more, as a phone would.  User i
 * (1-based) has the extension --first-ext + i - 1, the digest user
 * PREFIXi and the device name DEVPREFIX + i zero-padded to 15
 * characters (SEP000000000001); every user has the one --password-file
 * password.
 *
 * Load mode (--load N) makes N registrations over fresh connections, at
 * most --concurrency at a time, --per-conn registrations on each before
 * it closes (so each connection is one TLS handshake), optionally with
 * TLS session resumption (--resume: each user's last session is offered
 * again).  --warmup first registers once, untimed, every user the run
 * will use (and gives each a session to resume).  It prints
 * handshakes/s, registrations/s and latencies; --threads spreads the
 * connections over event loops.
 *
 * Hold mode (--hold N) opens N connections, registers one user on each
 * and keeps them: it prints one line when all are settled, then waits
 * for SIGINT/SIGTERM or --hold-time seconds, and prints how many the
 * server dropped meanwhile.  bench/sip reads the server's memory in
 * between.
 *
 * Client certificates (TLS): --issuer-cert/--issuer-key issue each
 * device its own certificate (CN = device name, one P-256 key for all),
 * before timing starts; --cert/--key present one certificate for all.
 *
 * Responses are read through the cursor; requests from the server are
 * counted and ignored.
 *
 * Provision mode (--provision) writes users --from..--users into a ccmd
 * store as ccmctl device add / user add would (lib/store, HA1 for MD5
 * and SHA-256 sealed under "user\0realm\0ALG", lib/seal), in
 * transactions of SL_TX_ROWS: ccmctl costs a process per row, too slow
 * for the 10,000 devices of the hold test.
 */
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "daemon.h"
#include "cmd.h"
#include "cursor.h"
#include "digest.h"
#include "log.h"
#include "seal.h"
#include "store.h"
#include "uerr.h"

#define SL_TIMEOUT_DEF		30	/* s without progress on a connection */
#define SL_TIMEOUT_MAX		3600
#define SL_EXPIRES_DEF		3600	/* Expires we ask for */
#define SL_HDR_MAX		16384	/* header block of one message */
#define SL_BODY_MAX		65535	/* body bytes of one message */
#define SL_REQ_MAX		4096	/* one REGISTER we build */
#define SL_AUTH_MAX		2048	/* one Authorization value */
#define SL_CHAL_MAX		8	/* WWW-Authenticate headers looked at */
#define SL_USERS_MAX		1000000
#define SL_LOAD_MAX		100000000L
#define SL_CONC_MAX		60000	/* connections in flight */
#define SL_THREADS_MAX		64
#define SL_PERCONN_MAX		1000000
#define SL_PW_MAX		256	/* password bytes */
#define SL_DEVLEN		15	/* device name length, as SEP + 12 */
#define SL_NAME_MAX		64	/* device, user, extension text */
#define SL_LOG_FAILS		10	/* failures logged one by one */
#define SL_HOLD_TIME_MAX	86400
#define SL_TX_ROWS		1000	/* --provision: devices per commit */
#define SL_REALM_DEF		"ccmsipline"

enum result {
	RES_OK,
	RES_CONNECT,		/* TCP connect failed */
	RES_TLS,		/* handshake failed */
	RES_TIMEOUT,		/* no progress for --timeout */
	RES_CLOSED,		/* server closed mid-registration */
	RES_PROTOCOL,		/* unparsable or oversized response */
	RES_AUTH,		/* 401/407 to our credentials */
	RES_REJECTED,		/* another final response */
	RES__MAX
};

static const char *const result_names[RES__MAX] = {
	"ok", "connect", "tls", "timeout", "closed", "protocol", "auth",
	"rejected"
};

enum cstate {
	C_IDLE,
	C_CONNECTING,
	C_WAIT_401,		/* first REGISTER sent */
	C_WAIT_200,		/* REGISTER with credentials sent */
	C_HELD			/* hold mode: registered, kept */
};

struct user {
	char		 ext[STORE_EXT_MAX];
	char		 name[SL_NAME_MAX];	/* digest user */
	char		 device[SL_NAME_MAX];
	X509		*cert;			/* its own, or NULL */
	SSL_SESSION	*sess;			/* --resume: last session */
};

struct conf {
	const char	*host;
	const char	*port;
	const char	*domain;	/* host part of the URIs we send */
	const char	*ca;		/* trust for the server certificate */
	const char	*servername;
	const char	*issuer_cert, *issuer_key;
	const char	*cert, *key;
	const char	*user_prefix;
	const char	*dev_prefix;
	int		 tls;
	int		 no_verify;
	long		 nusers;
	long		 first_ext;
	char		 password[SL_PW_MAX];
	size_t		 pwlen;
	int		 alg;		/* -1: the server's first choice */
	int		 expires;
	long		 load;		/* --load N registrations */
	long		 hold;		/* --hold N connections */
	int		 hold_time;	/* s; 0: until a signal */
	int		 concurrency;
	int		 threads;
	long		 per_conn;
	int		 resume;
	int		 warmup;
	int		 tls12;		/* --tls1.2: at most TLS 1.2 */
	int		 timeout;
	int		 json;
	int		 verbose;
	int		 provision;	/* --provision */
	const char	*db, *secret_key;
	const char	*realm;
	int		 secmode;	/* enum store_secmode */
	long		 from;		/* first user provisioned */

	SSL_CTX		*ctx;
	EVP_PKEY	*ckey;		/* client key for every certificate */
	X509		*ccert;		/* --cert: one for all */
	struct user	*users;
	pthread_mutex_t	 smu;		/* users[].sess */
	struct sockaddr_storage addr;
	socklen_t	 addrlen;
	char		 ruri[SL_NAME_MAX * 2];	/* sip:domain */
};

struct samples {
	double		*v;
	size_t		 n;
	size_t		 cap;
};

struct lstats {
	uint64_t	 ok;		/* registrations */
	uint64_t	 res[RES__MAX];
	uint64_t	 handshakes;	/* connections established */
	uint64_t	 resumed;
	uint64_t	 requests;	/* requests from the server, ignored */
	uint64_t	 dropped;	/* hold: closed by the server while held */
	uint64_t	 stale;		/* stale=true challenges answered */
	struct samples	 reg;		/* first REGISTER -> 200, ms */
	struct samples	 hs;		/* connect -> established, ms */
};

struct worker;

struct lconn {
	struct worker	*w;
	struct bufferevent *bev;
	struct user	*u;
	int		 state;		/* enum cstate */
	unsigned	 gen;		/* bumped at each start */
	int		 stale_retried;	/* this registration answered stale */
	long		 todo;		/* registrations left on it */
	uint32_t	 cseq;
	char		 callid[40];
	char		 ftag[20];
	char		 local[80];	/* our address:port, for Via/Contact */
	double		 t_conn;
	double		 t_reg;
};

struct lctx;

struct worker {
	struct lctx	*lc;
	struct event_base *base;
	struct lconn	*conns;
	int		 nconns;	/* slots */
	int		 inflight_max;
	int		 active;	/* connecting or registering */
	int		 nextslot;	/* hold: next unused slot */
	int		 settled;	/* every start was made and ended */
	int		 running;	/* in event_base_dispatch */
	struct event	*hold_ev[3];	/* hold: SIGTERM, SIGINT, timer */
	struct lstats	 st;
	uint8_t		*buf;		/* one header block */
	char		*out;		/* one request */
	pthread_t	 tid;
	double		 tlast;
};

struct lctx {
	struct conf	*cf;
	atomic_long	 next;		/* next connection index */
	long		 nconns;	/* connections this phase */
	long		 per_conn;
	long		 nregs;		/* registrations this phase */
	int		 hold;
	atomic_int	 logged;
	struct worker	*workers;
	int		 nworkers;
};

/* One parsed response (pointers into the header block). */
struct sipmsg {
	int		 code;		/* 0: a request */
	uint32_t	 cseq;
	size_t		 clen;
	int		 nchal;
	const char	*chal[SL_CHAL_MAX];
	size_t		 chal_len[SL_CHAL_MAX];
};

static volatile sig_atomic_t interrupted;

static double
now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr,
"usage: sipload --server HOST --port N [--transport tls|tcp] --users U\n"
"               --password-file FILE [--first-ext E] [--user-prefix P]\n"
"               [--device-prefix P] [--domain D]\n"
"               [--alg md5|sha-256|sha-512-256] [--expires S]\n"
"               [--ca FILE | --no-verify] [--servername NAME]\n"
"               [--issuer-cert FILE --issuer-key FILE |\n"
"                --cert FILE --key FILE]\n"
"               [--tls1.2] [--timeout S] [--json] [-v]\n"
"               (--load N [--concurrency C] [--threads T] [--per-conn K]\n"
"                [--resume] [--warmup] |\n"
"                --hold N [--concurrency C] [--hold-time S])\n"
"       sipload --provision --db FILE --secret-key FILE --users U\n"
"               --password-file FILE [--from I] [--first-ext E]\n"
"               [--user-prefix P] [--device-prefix P] [--realm R]\n"
"               [--security nonsecure|authenticated|encrypted]\n");
	exit(2);
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

/* The first line of FILE, without its line end. */
static int
password_file(struct conf *cf, const char *path)
{
	FILE	*f;
	char	 line[SL_PW_MAX + 2];
	size_t	 n;
	int	 r = 0;

	if ((f = fopen(path, "r")) == NULL)
		return uc_fail(UC_ERR_IO, "%s: %s", path, strerror(errno));
	if (fgets(line, sizeof(line), f) == NULL)
		line[0] = '\0';
	fclose(f);
	n = strcspn(line, "\r\n");
	if (n == 0 || n > SL_PW_MAX - 1)
		r = uc_fail(UC_ERR_ARG, "%s: want one line of 1 to %d bytes",
		    path, SL_PW_MAX - 1);
	else {
		memcpy(cf->password, line, n);
		cf->password[n] = '\0';
		cf->pwlen = n;
	}
	OPENSSL_cleanse(line, sizeof(line));
	return r;
}

static const struct option longopts[] = {
	{ "server",		required_argument, NULL, 's' },
	{ "port",		required_argument, NULL, 'p' },
	{ "transport",		required_argument, NULL, 'X' },
	{ "users",		required_argument, NULL, 'U' },
	{ "first-ext",		required_argument, NULL, 'E' },
	{ "user-prefix",	required_argument, NULL, 'u' },
	{ "device-prefix",	required_argument, NULL, 'x' },
	{ "password-file",	required_argument, NULL, 'F' },
	{ "domain",		required_argument, NULL, 'D' },
	{ "alg",		required_argument, NULL, 'a' },
	{ "expires",		required_argument, NULL, 'e' },
	{ "ca",			required_argument, NULL, 'A' },
	{ "no-verify",		no_argument,	   NULL, 'V' },
	{ "servername",		required_argument, NULL, 'N' },
	{ "issuer-cert",	required_argument, NULL, 'I' },
	{ "issuer-key",		required_argument, NULL, 'K' },
	{ "cert",		required_argument, NULL, 'C' },
	{ "key",		required_argument, NULL, 'k' },
	{ "tls1.2",		no_argument,	   NULL, '2' },
	{ "timeout",		required_argument, NULL, 't' },
	{ "json",		no_argument,	   NULL, 'j' },
	{ "verbose",		no_argument,	   NULL, 'v' },
	{ "load",		required_argument, NULL, 'n' },
	{ "hold",		required_argument, NULL, 'H' },
	{ "hold-time",		required_argument, NULL, 'h' | 0x100 },
	{ "concurrency",	required_argument, NULL, 'c' },
	{ "threads",		required_argument, NULL, 'T' },
	{ "per-conn",		required_argument, NULL, 'P' },
	{ "resume",		no_argument,	   NULL, 'R' },
	{ "warmup",		no_argument,	   NULL, 'W' },
	{ "provision",		no_argument,	   NULL, 'Q' },
	{ "db",			required_argument, NULL, 'B' },
	{ "secret-key",		required_argument, NULL, 'S' },
	{ "realm",		required_argument, NULL, 'r' },
	{ "security",		required_argument, NULL, 'M' },
	{ "from",		required_argument, NULL, 'f' },
	{ "help",		no_argument,	   NULL, 'h' },
	{ NULL, 0, NULL, 0 }
};

static int
opt_num(int c, const char *arg, struct conf *cf)
{
	long	 v = 0;
	int	 r = 0;

	switch (c) {
	case 'p': r = num_arg(arg, 1, 65535, "port", &v); break;
	case 'U': r = num_arg(arg, 1, SL_USERS_MAX, "users", &v);
		cf->nusers = v; break;
	case 'E': r = num_arg(arg, 0, 999999999, "first-ext", &v);
		cf->first_ext = v; break;
	case 'e': r = num_arg(arg, 0, 86400, "expires", &v);
		cf->expires = (int)v; break;
	case 't': r = num_arg(arg, 1, SL_TIMEOUT_MAX, "timeout", &v);
		cf->timeout = (int)v; break;
	case 'n': r = num_arg(arg, 1, SL_LOAD_MAX, "load", &v);
		cf->load = v; break;
	case 'H': r = num_arg(arg, 1, SL_CONC_MAX, "hold", &v);
		cf->hold = v; break;
	case 'h' | 0x100: r = num_arg(arg, 0, SL_HOLD_TIME_MAX, "hold-time",
		    &v);
		cf->hold_time = (int)v; break;
	case 'c': r = num_arg(arg, 1, SL_CONC_MAX, "concurrency", &v);
		cf->concurrency = (int)v; break;
	case 'T': r = num_arg(arg, 1, SL_THREADS_MAX, "threads", &v);
		cf->threads = (int)v; break;
	case 'P': r = num_arg(arg, 1, SL_PERCONN_MAX, "per-conn", &v);
		cf->per_conn = v; break;
	case 'f': r = num_arg(arg, 1, SL_USERS_MAX, "from", &v);
		cf->from = v; break;
	default:
		r = uc_fail(UC_ERR_INTERNAL, "option %d", c);
	}
	return r;
}

/* One option into cf; returns 0 or UC_ERR_ARG (a usage error). */
static int
opt_store(struct conf *cf, int c, char *arg)
{
	int	 sess;

	switch (c) {
	case 's': cf->host = arg; return 0;
	case 'p': cf->port = arg; return opt_num(c, arg, cf);
	case 'u': cf->user_prefix = arg; return 0;
	case 'x': cf->dev_prefix = arg; return 0;
	case 'D': cf->domain = arg; return 0;
	case 'A': cf->ca = arg; return 0;
	case 'V': cf->no_verify = 1; return 0;
	case 'N': cf->servername = arg; return 0;
	case 'I': cf->issuer_cert = arg; return 0;
	case 'K': cf->issuer_key = arg; return 0;
	case 'C': cf->cert = arg; return 0;
	case 'k': cf->key = arg; return 0;
	case '2': cf->tls12 = 1; return 0;
	case 'j': cf->json = 1; return 0;
	case 'v': cf->verbose = 1; return 0;
	case 'R': cf->resume = 1; return 0;
	case 'W': cf->warmup = 1; return 0;
	case 'Q': cf->provision = 1; return 0;
	case 'B': cf->db = arg; return 0;
	case 'S': cf->secret_key = arg; return 0;
	case 'r': cf->realm = arg; return 0;
	case 'M':
		if (strcmp(arg, "nonsecure") == 0)
			cf->secmode = STORE_SEC_NONSECURE;
		else if (strcmp(arg, "authenticated") == 0)
			cf->secmode = STORE_SEC_AUTHENTICATED;
		else if (strcmp(arg, "encrypted") == 0)
			cf->secmode = STORE_SEC_ENCRYPTED;
		else
			return uc_fail(UC_ERR_ARG, "--security %s: nonsecure, "
			    "authenticated or encrypted", arg);
		return 0;
	case 'F': return password_file(cf, arg);
	case 'X':
		if (strcmp(arg, "tls") != 0 && strcmp(arg, "tcp") != 0)
			return uc_fail(UC_ERR_ARG, "--transport %s: tls or tcp",
			    arg);
		cf->tls = strcmp(arg, "tls") == 0;
		return 0;
	case 'a':
		if (digest_alg_parse(arg, strlen(arg), &cf->alg, &sess) != 0 ||
		    sess)
			return uc_fail(UC_ERR_ARG, "--alg %s: md5, sha-256 or "
			    "sha-512-256", arg);
		return 0;
	default:
		return opt_num(c, arg, cf);
	}
}

/* Cross-option rules; returns 0 or UC_ERR_ARG. */
static int
conf_check(struct conf *cf)
{
	if (cf->provision) {
		if (cf->db == NULL || cf->secret_key == NULL ||
		    cf->nusers == 0 || cf->pwlen == 0 || cf->load > 0 ||
		    cf->hold > 0 || cf->host != NULL)
			return uc_fail(UC_ERR_ARG, "--provision takes --db, "
			    "--secret-key, --users and --password-file, and "
			    "no --server, --load or --hold");
		if (cf->from > cf->nusers)
			return uc_fail(UC_ERR_ARG, "--from past --users");
		return 0;
	}
	if (cf->host == NULL || cf->port == NULL || cf->nusers == 0 ||
	    cf->pwlen == 0)
		return uc_fail(UC_ERR_ARG, "--server, --port, --users and "
		    "--password-file are required");
	if ((cf->load > 0) == (cf->hold > 0))
		return uc_fail(UC_ERR_ARG, "give one of --load and --hold");
	if (cf->hold > cf->nusers)
		return uc_fail(UC_ERR_ARG, "--hold %ld needs as many --users",
		    cf->hold);
	if (cf->hold > 0 && (cf->threads > 1 || cf->per_conn > 1 ||
	    cf->resume || cf->warmup))
		return uc_fail(UC_ERR_ARG, "--hold takes no --threads, "
		    "--per-conn, --resume or --warmup");
	if (cf->tls && cf->ca == NULL && !cf->no_verify)
		return uc_fail(UC_ERR_ARG, "TLS needs --ca (or --no-verify)");
	if (!cf->tls && (cf->resume || cf->tls12 || cf->issuer_cert ||
	    cf->cert))
		return uc_fail(UC_ERR_ARG, "TLS options with --transport tcp");
	if ((cf->issuer_cert == NULL) != (cf->issuer_key == NULL) ||
	    (cf->cert == NULL) != (cf->key == NULL) ||
	    (cf->issuer_cert != NULL && cf->cert != NULL))
		return uc_fail(UC_ERR_ARG, "--issuer-cert with --issuer-key, "
		    "or --cert with --key");
	if (cf->first_ext + cf->nusers > 999999999)
		return uc_fail(UC_ERR_ARG, "extensions past 999999999");
	if (strlen(cf->dev_prefix) >= SL_DEVLEN ||
	    strlen(cf->user_prefix) > 32)
		return uc_fail(UC_ERR_ARG, "--device-prefix or --user-prefix "
		    "too long");
	if (cf->hold > 0)
		cf->load = cf->hold;
	if (cf->concurrency > cf->load)
		cf->concurrency = (int)cf->load;
	if (cf->threads > cf->concurrency)
		cf->threads = cf->concurrency;
	if (cf->domain == NULL)
		cf->domain = cf->host;
	if (strlen(cf->domain) + 5 > sizeof(cf->ruri))
		return uc_fail(UC_ERR_ARG, "--domain or --server too long");
	snprintf(cf->ruri, sizeof(cf->ruri), "sip:%s", cf->domain);
	return 0;
}

/* Parse argv into cf; returns 0, or 2 after a one-line usage error. */
static int
conf_parse(struct conf *cf, int argc, char *argv[])
{
	int	 c;

	cf->tls = 1;
	cf->alg = -1;
	cf->first_ext = 1001;
	cf->user_prefix = "u";
	cf->dev_prefix = "SEP";
	cf->expires = SL_EXPIRES_DEF;
	cf->timeout = SL_TIMEOUT_DEF;
	cf->concurrency = 100;
	cf->threads = 1;
	cf->per_conn = 1;
	cf->realm = SL_REALM_DEF;
	cf->secmode = STORE_SEC_NONSECURE;
	cf->from = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "v", longopts, NULL)) != -1) {
		if (c == 'h')
			usage();
		if (c == '?' || c == ':')
			return cmd_usage_error("unknown option or missing "
			    "argument: %s", argv[optind - 1]);
		if (opt_store(cf, c, optarg) != 0)
			return cmd_usage_error("%s", uc_errdetail());
	}
	if (optind != argc)
		return cmd_usage_error("unexpected argument \"%s\"",
		    argv[optind]);
	if (conf_check(cf) != 0)
		return cmd_usage_error("%s", uc_errdetail());
	return 0;
}

/* Users 1..U: extension, digest user, device name. */
static int
users_init(struct conf *cf)
{
	struct user	*u;
	size_t		 pl = strlen(cf->dev_prefix);
	long		 i;

	if ((cf->users = calloc((size_t)cf->nusers, sizeof(*u))) == NULL)
		return uc_fail(UC_ERR_ALLOC, "%ld users", cf->nusers);
	for (i = 0; i < cf->nusers; i++) {
		u = &cf->users[i];
		snprintf(u->ext, sizeof(u->ext), "%ld", cf->first_ext + i);
		snprintf(u->name, sizeof(u->name), "%s%ld", cf->user_prefix,
		    i + 1);
		snprintf(u->device, sizeof(u->device), "%s%0*ld",
		    cf->dev_prefix, (int)(SL_DEVLEN - pl), i + 1);
	}
	return 0;
}

static void
users_free(struct conf *cf)
{
	long	 i;

	if (cf->users == NULL)
		return;
	for (i = 0; i < cf->nusers; i++) {
		X509_free(cf->users[i].cert);
		SSL_SESSION_free(cf->users[i].sess);
	}
	free(cf->users);
}

static int
pem_cert(const char *path, X509 **x)
{
	FILE	*f;

	if ((f = fopen(path, "r")) == NULL)
		return uc_fail(UC_ERR_IO, "%s: %s", path, strerror(errno));
	*x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (*x == NULL)
		return uc_fail_ssl(UC_ERR_FORMAT, "%s: no PEM certificate",
		    path);
	return 0;
}

static int
pem_key(const char *path, EVP_PKEY **k)
{
	FILE	*f;

	if ((f = fopen(path, "r")) == NULL)
		return uc_fail(UC_ERR_IO, "%s: %s", path, strerror(errno));
	*k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (*k == NULL)
		return uc_fail_ssl(UC_ERR_FORMAT, "%s: no PEM private key",
		    path);
	return 0;
}

static int
cert_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX	 ctx;
	X509_EXTENSION	*ext;
	int		 ok;

	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	if ((ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value)) == NULL)
		return uc_fail_ssl(UC_ERR_CRYPTO, "extension %s", value);
	ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok ? 0 : uc_fail_ssl(UC_ERR_CRYPTO, "X509_add_ext");
}

/* An LSC-like certificate for device u from the issuer, key cf->ckey. */
static int
cert_issue(struct conf *cf, X509 *issuer, EVP_PKEY *ikey, struct user *u,
    long serial)
{
	X509		*x;
	X509_NAME	*nm;
	char		 san[SL_NAME_MAX + 8];
	int		 r = UC_ERR_CRYPTO;

	if ((x = X509_new()) == NULL)
		return uc_fail(UC_ERR_ALLOC, "X509_new");
	snprintf(san, sizeof(san), "URI:%s", u->device);
	nm = X509_get_subject_name(x);
	if (!X509_set_version(x, X509_VERSION_3) ||
	    !ASN1_INTEGER_set(X509_get_serialNumber(x), serial) ||
	    !X509_set_issuer_name(x, X509_get_subject_name(issuer)) ||
	    !X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC,
	    (const unsigned char *)u->device, -1, -1, 0) ||
	    !X509_NAME_add_entry_by_txt(nm, "O", MBSTRING_ASC,
	    (const unsigned char *)"ucsec-bench", -1, -1, 0) ||
	    X509_gmtime_adj(X509_getm_notBefore(x), -3600) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(x), 2 * 86400) == NULL ||
	    !X509_set_pubkey(x, cf->ckey)) {
		r = uc_fail_ssl(UC_ERR_CRYPTO, "%s: certificate", u->device);
		goto out;
	}
	if ((r = cert_ext(x, issuer, NID_basic_constraints,
	    "critical,CA:FALSE")) != 0 ||
	    (r = cert_ext(x, issuer, NID_key_usage,
	    "critical,digitalSignature")) != 0 ||
	    (r = cert_ext(x, issuer, NID_ext_key_usage, "clientAuth")) != 0 ||
	    (r = cert_ext(x, issuer, NID_subject_alt_name, san)) != 0)
		goto out;
	if (X509_sign(x, ikey, EVP_sha256()) <= 0) {
		r = uc_fail_ssl(UC_ERR_CRYPTO, "%s: sign", u->device);
		goto out;
	}
	u->cert = x;
	x = NULL;
	r = 0;
out:
	X509_free(x);
	return r;
}

/* Client certificates, before timing: one per device, or one for all. */
static int
certs_init(struct conf *cf)
{
	X509		*issuer = NULL;
	EVP_PKEY	*ikey = NULL;
	double		 t0 = now();
	long		 i;
	int		 r = 0;

	if (cf->cert != NULL) {
		if ((r = pem_cert(cf->cert, &cf->ccert)) == 0)
			r = pem_key(cf->key, &cf->ckey);
		return r;
	}
	if (cf->issuer_cert == NULL)
		return 0;
	if ((r = pem_cert(cf->issuer_cert, &issuer)) != 0 ||
	    (r = pem_key(cf->issuer_key, &ikey)) != 0)
		goto out;
	if ((cf->ckey = EVP_EC_gen("P-256")) == NULL) {
		r = uc_fail_ssl(UC_ERR_CRYPTO, "P-256 key");
		goto out;
	}
	for (i = 0; i < cf->nusers && r == 0; i++)
		r = cert_issue(cf, issuer, ikey, &cf->users[i],
		    (long)time(NULL) % 1000000 * 1000000 + i + 1);
	if (r == 0 && !cf->json)
		fprintf(stderr, "sipload: %ld client certificates issued in "
		    "%.1f s, not timed\n", cf->nusers, now() - t0);
out:
	X509_free(issuer);
	EVP_PKEY_free(ikey);
	return r;
}

/* --resume: keep the newest session of each user (TLS 1.3 tickets). */
static int
sess_new(SSL *ssl, SSL_SESSION *s)
{
	struct lconn	*lc = SSL_get_app_data(ssl);
	struct conf	*cf;

	if (lc == NULL || lc->u == NULL)
		return 0;
	cf = lc->w->lc->cf;
	pthread_mutex_lock(&cf->smu);
	SSL_SESSION_free(lc->u->sess);
	lc->u->sess = s;
	pthread_mutex_unlock(&cf->smu);
	return 1;
}

/*
 * TLS client context: TLS 1.2 or later (1.2 only with --tls1.2), the
 * server checked against --ca (no host name check), sessions kept per
 * user with --resume and never offered again without it.
 */
static int
tls_setup(struct conf *cf)
{
	X509	*x = NULL;
	int	 r;

	if ((cf->ctx = SSL_CTX_new(TLS_client_method())) == NULL)
		return uc_fail_ssl(UC_ERR_CRYPTO, "SSL_CTX_new");
	if (!SSL_CTX_set_min_proto_version(cf->ctx, TLS1_2_VERSION) ||
	    (cf->tls12 && !SSL_CTX_set_max_proto_version(cf->ctx,
	    TLS1_2_VERSION)))
		return uc_fail_ssl(UC_ERR_CRYPTO, "TLS versions");
	if (cf->ca != NULL) {
		if ((r = pem_cert(cf->ca, &x)) != 0)
			return r;
		if (!X509_STORE_add_cert(SSL_CTX_get_cert_store(cf->ctx), x)) {
			X509_free(x);
			return uc_fail_ssl(UC_ERR_CRYPTO, "%s: trust store",
			    cf->ca);
		}
		X509_free(x);
		X509_STORE_set_flags(SSL_CTX_get_cert_store(cf->ctx),
		    X509_V_FLAG_PARTIAL_CHAIN);
		SSL_CTX_set_verify(cf->ctx, SSL_VERIFY_PEER, NULL);
	} else
		SSL_CTX_set_verify(cf->ctx, SSL_VERIFY_NONE, NULL);
	if (cf->resume) {
		SSL_CTX_set_session_cache_mode(cf->ctx, SSL_SESS_CACHE_CLIENT |
		    SSL_SESS_CACHE_NO_INTERNAL_STORE);
		SSL_CTX_sess_set_new_cb(cf->ctx, sess_new);
	} else {
		SSL_CTX_set_session_cache_mode(cf->ctx, SSL_SESS_CACHE_OFF);
		SSL_CTX_set_options(cf->ctx, SSL_OP_NO_TICKET);
	}
	SSL_CTX_set_mode(cf->ctx, SSL_MODE_RELEASE_BUFFERS);
	return 0;
}

static void
sample_add(struct samples *s, double ms)
{
	double	*n;
	size_t	 cap;

	if (s->n == s->cap) {
		cap = s->cap ? s->cap * 2 : 1024;
		if ((n = reallocarray(s->v, cap, sizeof(*n))) == NULL)
			return;		/* XXX sample lost under OOM */
		s->v = n;
		s->cap = cap;
	}
	s->v[s->n++] = ms;
}

static void
rand_hex(char *out, size_t bytes)
{
	static const char	 hex[] = "0123456789abcdef";
	uint8_t			 b[32];
	size_t			 i;

	if (bytes > sizeof(b))
		bytes = sizeof(b);
	if (RAND_bytes(b, (int)bytes) != 1)
		memset(b, 0x5a, bytes);	/* XXX uniqueness only, no secret */
	for (i = 0; i < bytes; i++) {
		out[2 * i] = hex[b[i] >> 4];
		out[2 * i + 1] = hex[b[i] & 15];
	}
	out[2 * bytes] = '\0';
}

/*
 * Response parsing.  The header block (through CRLFCRLF) is read line
 * by line through the cursor: the status line, then CSeq,
 * Content-Length (or "l") and every WWW-Authenticate value.
 */

static int
hdr_is(const uint8_t *name, size_t len, const char *want)
{
	return len == strlen(want) &&
	    strncasecmp((const char *)name, want, len) == 0;
}

/* Next line (without CRLF) from c; NULL at the end or on a bare LF. */
static const uint8_t *
cur_line(struct cursor *c, size_t *len)
{
	const uint8_t	*p, *e;
	size_t		 left = cur_left(c);

	if (left == 0)
		return NULL;
	p = c->base + c->pos;
	if ((e = memchr(p, '\n', left)) == NULL || e == p || e[-1] != '\r')
		return NULL;
	*len = (size_t)(e - p) - 1;
	p = cur_bytes(c, *len);
	cur_skip(c, 2);
	return cur_ok(c) ? p : NULL;
}

static int
num_text(const uint8_t *p, size_t len, uint64_t max, uint64_t *v)
{
	size_t	 i;

	*v = 0;
	if (len == 0 || len > 10)
		return -1;
	for (i = 0; i < len; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		*v = *v * 10 + (p[i] - '0');
	}
	return *v <= max ? 0 : -1;
}

static void
trim(const uint8_t **p, size_t *len)
{
	while (*len > 0 && (**p == ' ' || **p == '\t')) {
		(*p)++;
		(*len)--;
	}
	while (*len > 0 && ((*p)[*len - 1] == ' ' || (*p)[*len - 1] == '\t'))
		(*len)--;
}

/* One header line into m; returns 0 or -1 (malformed). */
static int
msg_header(struct sipmsg *m, const uint8_t *line, size_t len)
{
	const uint8_t	*colon, *v;
	size_t		 nlen, vlen, i;
	uint64_t	 n;

	if ((colon = memchr(line, ':', len)) == NULL)
		return -1;
	nlen = (size_t)(colon - line);
	v = colon + 1;
	vlen = len - nlen - 1;
	trim(&line, &nlen);
	trim(&v, &vlen);
	if (hdr_is(line, nlen, "Content-Length") || hdr_is(line, nlen, "l")) {
		if (num_text(v, vlen, SL_BODY_MAX, &n) != 0)
			return -1;
		m->clen = (size_t)n;
	} else if (hdr_is(line, nlen, "CSeq")) {
		for (i = 0; i < vlen && v[i] >= '0' && v[i] <= '9'; i++)
			;
		if (num_text(v, i, UINT32_MAX, &n) != 0)
			return -1;
		m->cseq = (uint32_t)n;
	} else if (hdr_is(line, nlen, "WWW-Authenticate") &&
	    m->nchal < SL_CHAL_MAX) {
		m->chal[m->nchal] = (const char *)v;
		m->chal_len[m->nchal++] = vlen;
	}
	return 0;
}

/* Parse one header block (buf, len, ends in CRLFCRLF); 0 or -1. */
static int
msg_parse(const uint8_t *buf, size_t len, struct sipmsg *m)
{
	struct cursor	 c;
	const uint8_t	*line;
	size_t		 ll;
	uint64_t	 code;

	memset(m, 0, sizeof(*m));
	cur_init(&c, buf, len);
	if ((line = cur_line(&c, &ll)) == NULL)
		return -1;
	if (ll >= 12 && memcmp(line, "SIP/2.0 ", 8) == 0) {
		if (num_text(line + 8, 3, 699, &code) != 0 || code < 100 ||
		    (ll > 11 && line[11] != ' '))
			return -1;
		m->code = (int)code;
	}
	while ((line = cur_line(&c, &ll)) != NULL && ll > 0) {
		if (line[0] == ' ' || line[0] == '\t')
			continue;	/* folded: nothing we read folds */
		if (msg_header(m, line, ll) != 0)
			return -1;
	}
	return line != NULL && cur_left(&c) == 0 ? 0 : -1;
}

/*
 * Requests.
 */

/* REGISTER on lc into w->out; auth NULL for the first one. */
static int
req_register(struct lconn *lc, const char *auth)
{
	struct conf	*cf = lc->w->lc->cf;
	const char	*tp = cf->tls ? "TLS" : "TCP";
	char		 branch[33];
	int		 n;

	rand_hex(branch, 12);
	n = snprintf(lc->w->out, SL_REQ_MAX,
	    "REGISTER %s SIP/2.0\r\n"
	    "Via: SIP/2.0/%s %s;branch=z9hG4bK%s;rport\r\n"
	    "Max-Forwards: 70\r\n"
	    "From: <sip:%s@%s>;tag=%s\r\n"
	    "To: <sip:%s@%s>\r\n"
	    "Call-ID: %s\r\n"
	    "CSeq: %" PRIu32 " REGISTER\r\n"
	    "Contact: <sip:%s@%s;transport=%s>;"
	    "+u.sip!devicename.ccm.cisco.com=\"%s\"\r\n"
	    "%s%s%s"
	    "Expires: %d\r\n"
	    "User-Agent: sipload\r\n"
	    "Content-Length: 0\r\n\r\n",
	    cf->ruri, tp, lc->local, branch,
	    lc->u->ext, cf->domain, lc->ftag,
	    lc->u->ext, cf->domain,
	    lc->callid, lc->cseq,
	    lc->u->ext, lc->local, cf->tls ? "tls" : "tcp", lc->u->device,
	    auth ? "Authorization: " : "", auth ? auth : "", auth ? "\r\n" : "",
	    cf->expires);
	if (n < 0 || n >= SL_REQ_MAX)
		return -1;
	return evbuffer_add(bufferevent_get_output(lc->bev), lc->w->out,
	    (size_t)n);
}

/* The challenge we answer: the --alg one, else the server's first. */
static int
chal_pick(const struct conf *cf, const struct sipmsg *m,
    struct digest_challenge *ch)
{
	memset(ch, 0, sizeof(*ch));
	int	 i;

	for (i = 0; i < m->nchal; i++) {
		if (digest_challenge_parse(m->chal[i], m->chal_len[i], ch) != 0)
			continue;
		if (cf->alg < 0 || (ch->alg == cf->alg && !ch->sess))
			return 0;
	}
	return -1;
}

/* Authorization value for lc's user answering m; 0 or -1. */
static int
auth_value(struct lconn *lc, const struct sipmsg *m, char *out, size_t sz)
{
	struct conf		*cf = lc->w->lc->cf;
	struct digest_challenge	 ch;
	struct digest_creds	 c;
	char			 ha1[DIGEST_HEX_MAX];
	int			 r = -1;

	memset(&c, 0, sizeof(c));
	if (chal_pick(cf, m, &ch) != 0)
		return -1;
	snprintf(c.username, sizeof(c.username), "%s", lc->u->name);
	snprintf(c.realm, sizeof(c.realm), "%s", ch.realm);
	snprintf(c.nonce, sizeof(c.nonce), "%s", ch.nonce);
	snprintf(c.uri, sizeof(c.uri), "%s", cf->ruri);
	snprintf(c.opaque, sizeof(c.opaque), "%s", ch.opaque);
	c.has_opaque = ch.opaque[0] != '\0';
	c.alg = ch.alg;
	c.sess = ch.sess;
	c.has_alg = 1;
	if (ch.qop_auth) {
		snprintf(c.qop, sizeof(c.qop), "auth");
		snprintf(c.nc_text, sizeof(c.nc_text), "00000001");
		c.nc = 1;
		rand_hex(c.cnonce, 8);
	}
	if (digest_ha1(ch.alg, c.username, c.realm, cf->password, cf->pwlen,
	    ha1) == 0 &&
	    digest_response(ch.alg, ch.sess, ha1, c.nonce,
	    ch.qop_auth ? c.nc_text : NULL, ch.qop_auth ? c.cnonce : NULL,
	    ch.qop_auth ? c.qop : NULL, "REGISTER", c.uri, NULL, 0,
	    c.response) == 0 &&
	    digest_creds_format(&c, out, sz) == 0)
		r = 0;
	OPENSSL_cleanse(ha1, sizeof(ha1));
	return r;
}

/*
 * Connections.
 */

static void lconn_next(struct worker *);

static void
bev_close(struct lconn *lc, int graceful)
{
	SSL	*ssl;

	if (lc->bev == NULL)
		return;
	if (graceful && (ssl = bufferevent_openssl_get_ssl(lc->bev)) != NULL)
		SSL_shutdown(ssl);
	bufferevent_free(lc->bev);
	lc->bev = NULL;
}

/* The connection is over (done or failed): count, free, next. */
static void
lconn_end(struct lconn *lc, enum result res, const char *why)
{
	struct worker	*w = lc->w;
	int		 held = lc->state == C_HELD;

	if (held)
		w->st.dropped++;
	else if (res != RES_OK) {
		w->st.res[res]++;
		if (atomic_fetch_add(&w->lc->logged, 1) < SL_LOG_FAILS)
			fprintf(stderr, "sipload: %s (%s): %s: %s\n",
			    lc->u->ext, lc->u->device, result_names[res], why);
	}
	bev_close(lc, res == RES_OK);
	lc->state = C_IDLE;
	if (held)
		return;
	w->active--;
	w->tlast = now();
	lconn_next(w);
}

/* A registration ended well. */
static void
reg_done(struct lconn *lc)
{
	struct worker	*w = lc->w;
	struct timeval	 tv = { w->lc->cf->timeout, 0 };

	w->st.ok++;
	w->st.res[RES_OK]++;
	sample_add(&w->st.reg, (now() - lc->t_reg) * 1000);
	if (w->lc->hold) {
		lc->state = C_HELD;
		bufferevent_set_timeouts(lc->bev, NULL, &tv);
		w->active--;
		w->tlast = now();
		lconn_next(w);
		return;
	}
	if (--lc->todo > 0) {
		lc->cseq++;
		lc->t_reg = now();
		lc->stale_retried = 0;
		lc->state = C_WAIT_401;
		if (req_register(lc, NULL) != 0)
			lconn_end(lc, RES_PROTOCOL, "REGISTER too long");
		return;
	}
	lconn_end(lc, RES_OK, "");
}

/* Answer a challenge: REGISTER again with credentials. */
static void
reg_answer(struct lconn *lc, const struct sipmsg *m)
{
	char	 auth[SL_AUTH_MAX];

	if (auth_value(lc, m, auth, sizeof(auth)) != 0) {
		lconn_end(lc, RES_PROTOCOL, "no usable challenge");
		return;
	}
	lc->cseq++;
	lc->state = C_WAIT_200;
	if (req_register(lc, auth) != 0)
		lconn_end(lc, RES_PROTOCOL, "REGISTER too long");
}

/*
 * A 401/407 to our credentials with stale=true (RFC 7616 3.3): the
 * nonce aged out, the password was right; a phone answers the fresh
 * challenge once.
 */
static int
stale_challenge(struct lconn *lc, const struct sipmsg *m)
{
	struct digest_challenge	 ch;

	if (lc->stale_retried || chal_pick(lc->w->lc->cf, m, &ch) != 0 ||
	    !ch.stale)
		return 0;
	lc->stale_retried = 1;
	lc->w->st.stale++;
	return 1;
}

/* One whole message from the server. */
static void
lconn_msg(struct lconn *lc, const struct sipmsg *m)
{
	char	 why[64];

	if (m->code == 0) {
		lc->w->st.requests++;
		return;
	}
	if (m->code < 200 || m->cseq != lc->cseq ||
	    (lc->state != C_WAIT_401 && lc->state != C_WAIT_200))
		return;
	if (m->code >= 200 && m->code < 300) {
		reg_done(lc);
		return;
	}
	if ((m->code == 401 || m->code == 407) && (lc->state == C_WAIT_401 ||
	    stale_challenge(lc, m))) {
		reg_answer(lc, m);
		return;
	}
	snprintf(why, sizeof(why), "%d to %s REGISTER%s", m->code,
	    lc->state == C_WAIT_200 ? "authenticated" : "the first",
	    lc->stale_retried ? " (after a stale nonce)" : "");
	lconn_end(lc, m->code == 401 || m->code == 407 ? RES_AUTH : RES_REJECTED,
	    why);
}

/* Take every whole message out of the input buffer. */
static void
lconn_read(struct bufferevent *bev, void *arg)
{
	struct lconn		*lc = arg;
	struct evbuffer		*in = bufferevent_get_input(bev);
	struct evbuffer_ptr	 p;
	struct sipmsg		 m;
	uint8_t			 two[2];
	size_t			 hlen;
	unsigned		 gen = lc->gen;

	/* lconn_msg may end lc and start the slot's next connection. */
	while (lc->gen == gen && lc->bev != NULL &&
	    evbuffer_get_length(in) > 0) {
		/* CRLF keepalive answers (RFC 5626) between messages. */
		if (evbuffer_copyout(in, two, 1) == 1 &&
		    (two[0] == '\r' || two[0] == '\n')) {
			evbuffer_drain(in, 1);
			continue;
		}
		p = evbuffer_search(in, "\r\n\r\n", 4, NULL);
		if (p.pos < 0) {
			if (evbuffer_get_length(in) > SL_HDR_MAX)
				lconn_end(lc, RES_PROTOCOL, "header block "
				    "too long");
			return;
		}
		hlen = (size_t)p.pos + 4;
		if (hlen > SL_HDR_MAX ||
		    evbuffer_copyout(in, lc->w->buf, hlen) != (ssize_t)hlen ||
		    msg_parse(lc->w->buf, hlen, &m) != 0) {
			lconn_end(lc, RES_PROTOCOL, "malformed message");
			return;
		}
		if (evbuffer_get_length(in) < hlen + m.clen)
			return;
		/* chal[] points into w->buf: still valid below. */
		evbuffer_drain(in, hlen + m.clen);
		lconn_msg(lc, &m);
	}
}

/* Established: note the handshake, our address, then REGISTER. */
static void
lconn_up(struct lconn *lc)
{
	struct worker		*w = lc->w;
	struct sockaddr_storage	 ss;
	socklen_t		 sl = sizeof(ss);
	char			 host[64];
	SSL			*ssl;
	int			 port = 0;

	w->st.handshakes++;
	sample_add(&w->st.hs, (now() - lc->t_conn) * 1000);
	if ((ssl = bufferevent_openssl_get_ssl(lc->bev)) != NULL &&
	    SSL_session_reused(ssl))
		w->st.resumed++;
	snprintf(host, sizeof(host), "127.0.0.1");
	if (getsockname(bufferevent_getfd(lc->bev), (struct sockaddr *)&ss,
	    &sl) == 0) {
		if (ss.ss_family == AF_INET) {
			struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

			inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
			port = ntohs(s4->sin_port);
		} else if (ss.ss_family == AF_INET6) {
			struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

			host[0] = '[';
			inet_ntop(AF_INET6, &s6->sin6_addr, host + 1,
			    sizeof(host) - 2);
			strcat(host, "]");
			port = ntohs(s6->sin6_port);
		}
	}
	snprintf(lc->local, sizeof(lc->local), "%s:%d", host, port);
	rand_hex(lc->callid, 16);
	rand_hex(lc->ftag, 8);
	lc->cseq = 1;
	lc->t_reg = now();
	lc->stale_retried = 0;
	lc->state = C_WAIT_401;
	if (req_register(lc, NULL) != 0)
		lconn_end(lc, RES_PROTOCOL, "REGISTER too long");
}

static void
lconn_event(struct bufferevent *bev, short what, void *arg)
{
	struct lconn	*lc = arg;
	unsigned long	 e;
	char		 why[256];
	int		 tls;

	if (what & BEV_EVENT_CONNECTED) {
		lconn_up(lc);
		return;
	}
	/* libevent reports a failed system call as an error without lib. */
	e = bufferevent_get_openssl_error(bev);
	tls = e != 0 && ERR_GET_LIB(e) != 0;
	if (tls)
		ERR_error_string_n(e, why, sizeof(why));
	else
		snprintf(why, sizeof(why), "%s", errno ? strerror(errno) :
		    "connection closed");
	if (what & BEV_EVENT_TIMEOUT)
		lconn_end(lc, RES_TIMEOUT, "no progress for --timeout");
	else if (lc->state == C_CONNECTING)
		lconn_end(lc, tls ? RES_TLS : RES_CONNECT, why);
	else
		lconn_end(lc, RES_CLOSED, (what & BEV_EVENT_EOF) ?
		    "closed by the server" : why);
}

static int
nodelay(int fd)
{
	int	 on = 1;

	return setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
}

/* SSL for user u: its certificate, its session with --resume. */
static SSL *
ssl_for(struct conf *cf, struct lconn *lc)
{
	SSL	*ssl;
	X509	*x = lc->u->cert != NULL ? lc->u->cert : cf->ccert;

	if ((ssl = SSL_new(cf->ctx)) == NULL)
		return NULL;
	SSL_set_app_data(ssl, lc);
	if (cf->servername != NULL)
		SSL_set_tlsext_host_name(ssl, cf->servername);
	if (x != NULL && (!SSL_use_certificate(ssl, x) ||
	    !SSL_use_PrivateKey(ssl, cf->ckey))) {
		SSL_free(ssl);
		return NULL;
	}
	if (cf->resume) {
		pthread_mutex_lock(&cf->smu);
		if (lc->u->sess != NULL)
			SSL_set_session(ssl, lc->u->sess);
		pthread_mutex_unlock(&cf->smu);
	}
	return ssl;
}

/* Open connection idx (user idx mod U) on slot lc. */
static void
lconn_start(struct lconn *lc, long idx)
{
	struct worker	*w = lc->w;
	struct conf	*cf = w->lc->cf;
	struct timeval	 tv = { cf->timeout, 0 };
	SSL		*ssl = NULL;
	long		 left = w->lc->nregs - idx * w->lc->per_conn;

	lc->gen++;
	lc->u = &cf->users[idx % cf->nusers];
	lc->todo = left < w->lc->per_conn ? left : w->lc->per_conn;
	lc->state = C_CONNECTING;
	w->active++;
	lc->t_conn = now();
	if (cf->tls) {
		if ((ssl = ssl_for(cf, lc)) == NULL) {
			lconn_end(lc, RES_TLS, "SSL_new or client certificate");
			return;
		}
		lc->bev = bufferevent_openssl_socket_new(w->base, -1, ssl,
		    BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
		if (lc->bev == NULL)
			SSL_free(ssl);
	} else
		lc->bev = bufferevent_socket_new(w->base, -1,
		    BEV_OPT_CLOSE_ON_FREE);
	if (lc->bev == NULL) {
		lconn_end(lc, RES_CONNECT, "bufferevent");
		return;
	}
	bufferevent_setcb(lc->bev, lconn_read, NULL, lconn_event, lc);
	bufferevent_set_timeouts(lc->bev, &tv, &tv);
	bufferevent_enable(lc->bev, EV_READ | EV_WRITE);
	if (bufferevent_socket_connect(lc->bev,
	    (const struct sockaddr *)&cf->addr, (int)cf->addrlen) != 0) {
		lconn_end(lc, RES_CONNECT, strerror(errno));
		return;
	}
	(void)nodelay(bufferevent_getfd(lc->bev));
}

/* A free slot: in load mode any idle one, in hold mode a new one. */
static struct lconn *
slot_free(struct worker *w)
{
	int	 i;

	if (w->lc->hold)
		return w->nextslot < w->nconns ? &w->conns[w->nextslot++] :
		    NULL;
	for (i = 0; i < w->nconns; i++)
		if (w->conns[i].state == C_IDLE)
			return &w->conns[i];
	return NULL;
}

static void hold_settled(struct worker *);

/*
 * Start connections while there is room and work.  lconn_end calls this
 * and lconn_start may call lconn_end on an immediate failure, so a
 * depth guard turns that recursion into this loop.
 */
static void
lconn_next(struct worker *w)
{
	static _Thread_local int depth;
	struct lconn	*lc;
	long		 idx;

	if (depth > 0)
		return;
	depth++;
	while (!interrupted && w->active < w->inflight_max &&
	    (lc = slot_free(w)) != NULL) {
		if ((idx = atomic_fetch_add(&w->lc->next, 1)) >=
		    w->lc->nconns) {
			if (w->lc->hold)
				w->nextslot--;
			break;
		}
		lconn_start(lc, idx);
	}
	depth--;
	if (w->active == 0 && !w->settled) {
		w->settled = 1;
		if (w->lc->hold && !interrupted)
			hold_settled(w);
		else if (w->running)
			event_base_loopexit(w->base, NULL);
	}
}

static void *
worker_run(void *arg)
{
	struct worker	*w = arg;

	w->settled = 0;
	lconn_next(w);
	if (!w->settled || w->lc->hold) {
		w->running = 1;
		event_base_dispatch(w->base);
		w->running = 0;
	}
	return NULL;
}

static int
cmp_double(const void *a, const void *b)
{
	double	 x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of sorted samples. */
static double
pct(const struct samples *s, double p)
{
	double	 rank = p / 100.0 * s->n;
	size_t	 i = (size_t)rank;

	if (s->n == 0)
		return 0;
	if ((double)i < rank)
		i++;
	return s->v[i > 0 ? i - 1 : 0];
}

/* CPU seconds this process used so far, all threads. */
static double
cpu_s(void)
{
	struct rusage	 ru;

	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return 0;
	return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
	    (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static uint64_t
failed(const struct lstats *s)
{
	uint64_t	 n = 0;
	int		 i;

	for (i = RES_OK + 1; i < RES__MAX; i++)
		n += s->res[i];
	return n;
}

/* One summary; cpu is the client's CPU while timing ran. */
static void
report(const struct lctx *lc, struct lstats *s, double wall, double cpu)
{
	const struct conf *cf = lc->cf;
	double		 rate = wall > 0 ? s->ok / wall : 0;
	double		 hrate = wall > 0 ? s->handshakes / wall : 0;
	int		 i;

	if (s->reg.n > 0)
		qsort(s->reg.v, s->reg.n, sizeof(double), cmp_double);
	if (s->hs.n > 0)
		qsort(s->hs.v, s->hs.n, sizeof(double), cmp_double);
	if (cf->json) {
		printf("{\"mode\": \"%s\", \"transport\": \"%s\", "
		    "\"registrations\": %ld, \"connections\": %ld, "
		    "\"concurrency\": %d, \"threads\": %d, \"per_conn\": %ld, "
		    "\"resume\": %d, \"ok\": %" PRIu64 ", \"failed\": %" PRIu64
		    ", \"wall_s\": %.3f, \"registrations_per_s\": %.1f, "
		    "\"handshakes\": %" PRIu64 ", \"handshakes_per_s\": %.1f, "
		    "\"resumed\": %" PRIu64 ", \"reg_p50_ms\": %.2f, "
		    "\"reg_p99_ms\": %.2f, \"reg_max_ms\": %.2f, "
		    "\"hs_p50_ms\": %.2f, \"hs_p99_ms\": %.2f, "
		    "\"client_cpu_s\": %.3f, \"server_requests\": %" PRIu64
		    ", \"stale\": %" PRIu64,
		    lc->hold ? "hold" : "load", cf->tls ? "tls" : "tcp",
		    lc->nregs, lc->nconns, cf->concurrency, lc->nworkers,
		    lc->per_conn, cf->resume, s->ok, failed(s), wall, rate,
		    s->handshakes, hrate, s->resumed, pct(&s->reg, 50),
		    pct(&s->reg, 99), pct(&s->reg, 100), pct(&s->hs, 50),
		    pct(&s->hs, 99), cpu, s->requests, s->stale);
		for (i = RES_OK + 1; i < RES__MAX; i++)
			printf(", \"fail_%s\": %" PRIu64, result_names[i],
			    s->res[i]);
		printf("}\n");
	} else {
		printf("sipload: %s port %s %s, %s %ld, concurrency %d, "
		    "%d thread(s), %ld per connection%s\n", cf->host,
		    cf->port, cf->tls ? "TLS" : "TCP",
		    lc->hold ? "hold" : "load", lc->nregs, cf->concurrency,
		    lc->nworkers, lc->per_conn, cf->resume ? ", resume" : "");
		printf("  result      %" PRIu64 " ok, %" PRIu64 " failed",
		    s->ok, failed(s));
		for (i = RES_OK + 1; i < RES__MAX; i++)
			if (s->res[i] != 0)
				printf(", %s %" PRIu64, result_names[i],
				    s->res[i]);
		printf("\n  duration    %.3f s (client CPU %.3f s)\n", wall,
		    cpu);
		printf("  rate        %.1f registrations/s, %.1f handshakes/s "
		    "(%" PRIu64 " resumed)\n", rate, hrate, s->resumed);
		printf("  REGISTER    p50 %.2f ms, p99 %.2f ms, max %.2f ms\n",
		    pct(&s->reg, 50), pct(&s->reg, 99), pct(&s->reg, 100));
		printf("  connect     p50 %.2f ms, p99 %.2f ms\n",
		    pct(&s->hs, 50), pct(&s->hs, 99));
		if (s->stale > 0)
			printf("  stale       %" PRIu64 " stale nonces answered "
			    "again\n", s->stale);
	}
	fflush(stdout);
}

/* T workers, each with its event base and its share of the slots. */
static int
workers_init(struct lctx *lc)
{
	struct conf	*cf = lc->cf;
	struct worker	*w;
	long		 slots = lc->hold ? cf->hold : cf->concurrency;
	int		 i, j, share;

	lc->nworkers = cf->threads;
	if ((lc->workers = calloc((size_t)lc->nworkers,
	    sizeof(*lc->workers))) == NULL)
		return uc_fail(UC_ERR_ALLOC, "workers");
	for (i = 0; i < lc->nworkers; i++) {
		w = &lc->workers[i];
		w->lc = lc;
		share = (int)(slots / lc->nworkers +
		    (i < slots % lc->nworkers));
		w->inflight_max = cf->concurrency / lc->nworkers +
		    (i < cf->concurrency % lc->nworkers);
		if ((w->base = event_base_new()) == NULL ||
		    (w->conns = calloc((size_t)share,
		    sizeof(*w->conns))) == NULL ||
		    (w->buf = malloc(SL_HDR_MAX)) == NULL ||
		    (w->out = malloc(SL_REQ_MAX)) == NULL)
			return uc_fail(UC_ERR_ALLOC, "worker %d", i);
		w->nconns = share;
		for (j = 0; j < share; j++)
			w->conns[j].w = w;
	}
	return 0;
}

static void
samples_merge(struct samples *d, struct samples *s)
{
	double	*n;

	if (s->n > 0 && (n = reallocarray(d->v, d->n + s->n,
	    sizeof(*n))) != NULL) {
		memcpy(n + d->n, s->v, s->n * sizeof(*n));
		d->v = n;
		d->n += s->n;
		d->cap = d->n;
	}
	free(s->v);
	memset(s, 0, sizeof(*s));
}

/* Merge (and reset) worker stats into s. */
static void
workers_merge(struct lctx *lc, struct lstats *s, double *tend)
{
	struct worker	*w;
	int		 i, j;

	for (i = 0; i < lc->nworkers; i++) {
		w = &lc->workers[i];
		s->ok += w->st.ok;
		s->handshakes += w->st.handshakes;
		s->resumed += w->st.resumed;
		s->requests += w->st.requests;
		s->dropped += w->st.dropped;
		s->stale += w->st.stale;
		for (j = 0; j < RES__MAX; j++)
			s->res[j] += w->st.res[j];
		if (w->tlast > *tend)
			*tend = w->tlast;
		samples_merge(&s->reg, &w->st.reg);
		samples_merge(&s->hs, &w->st.hs);
		memset(&w->st, 0, sizeof(w->st));
	}
}

static void
workers_free(struct lctx *lc)
{
	struct worker	*w;
	int		 i, j;

	if (lc->workers == NULL)
		return;
	for (i = 0; i < lc->nworkers; i++) {
		w = &lc->workers[i];
		for (j = 0; j < w->nconns; j++)
			if (w->conns[j].bev != NULL)
				bufferevent_free(w->conns[j].bev);
		for (j = 0; j < 3; j++)
			if (w->hold_ev[j] != NULL)
				event_free(w->hold_ev[j]);
		if (w->base != NULL)
			event_base_free(w->base);
		free(w->conns);
		free(w->buf);
		free(w->out);
		free(w->st.reg.v);
		free(w->st.hs.v);
	}
	free(lc->workers);
}

/* Run one phase over every worker; returns the wall time. */
static double
phase_run(struct lctx *lc, long nregs, long per_conn, struct lstats *s)
{
	double	 t0 = now(), tend = t0;
	int	 i;

	lc->nregs = nregs;
	lc->per_conn = per_conn;
	lc->nconns = (nregs + per_conn - 1) / per_conn;
	atomic_store(&lc->next, 0);
	if (lc->nworkers == 1)
		worker_run(&lc->workers[0]);
	else {
		for (i = 0; i < lc->nworkers; i++)
			if (pthread_create(&lc->workers[i].tid, NULL,
			    worker_run, &lc->workers[i]) != 0) {
				fprintf(stderr, "sipload: pthread_create "
				    "failed\n");
				exit(1);
			}
		for (i = 0; i < lc->nworkers; i++)
			pthread_join(lc->workers[i].tid, NULL);
	}
	workers_merge(lc, s, &tend);
	return tend - t0;
}

static void
on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

/* Hold mode: stop holding on a signal or after --hold-time. */
static void
hold_stop(evutil_socket_t fd, short what, void *arg)
{
	struct worker	*w = arg;

	(void)fd;
	(void)what;
	event_base_loopexit(w->base, NULL);
}

static double	 hold_t0, hold_cpu0;
static double	 hold_wall;		/* when every connection settled */
static uint64_t	 hold_failed;

/* Every hold connection is up or failed: report, then keep them. */
static void
hold_settled(struct worker *w)
{
	struct lctx	*lc = w->lc;
	struct lstats	 s;
	struct timeval	 tv = { lc->cf->hold_time, 0 };
	double		 tend = hold_t0;

	memset(&s, 0, sizeof(s));
	workers_merge(lc, &s, &tend);
	hold_wall = now();
	hold_failed = failed(&s);
	report(lc, &s, tend - hold_t0, cpu_s() - hold_cpu0);
	free(s.reg.v);
	free(s.hs.v);
	if ((w->hold_ev[0] = evsignal_new(w->base, SIGTERM, hold_stop,
	    w)) != NULL)
		event_add(w->hold_ev[0], NULL);
	if ((w->hold_ev[1] = evsignal_new(w->base, SIGINT, hold_stop,
	    w)) != NULL)
		event_add(w->hold_ev[1], NULL);
	if (lc->cf->hold_time > 0 &&
	    (w->hold_ev[2] = evtimer_new(w->base, hold_stop, w)) != NULL)
		event_add(w->hold_ev[2], &tv);
}

static int
hold_main(struct lctx *lc)
{
	struct worker	*w = &lc->workers[0];
	struct lstats	 s;
	double		 t = 0;
	int		 i;

	hold_t0 = now();
	hold_cpu0 = cpu_s();
	lc->nregs = lc->cf->hold;
	lc->per_conn = 1;
	lc->nconns = lc->cf->hold;
	worker_run(w);
	memset(&s, 0, sizeof(s));
	workers_merge(lc, &s, &t);
	free(s.reg.v);
	free(s.hs.v);
	for (i = 0; i < w->nconns; i++)
		if (w->conns[i].state == C_HELD)
			bev_close(&w->conns[i], 1);
	if (lc->cf->json)
		printf("{\"mode\": \"hold-end\", \"held_s\": %.1f, "
		    "\"dropped\": %" PRIu64 "}\n", hold_wall > 0 ?
		    now() - hold_wall : 0, s.dropped);
	else
		printf("  held        %.1f s, %" PRIu64 " dropped by the "
		    "server\n", hold_wall > 0 ? now() - hold_wall : 0,
		    s.dropped);
	fflush(stdout);
	return s.dropped == 0 && hold_failed == 0 && hold_wall > 0 ? 0 : 1;
}

static int
load_main(struct lctx *lc)
{
	struct conf	*cf = lc->cf;
	struct lstats	 s;
	double		 wall, cpu0;
	long		 nwarm;
	int		 rc;

	memset(&s, 0, sizeof(s));
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	if (cf->warmup) {
		/* The users the timed run uses: the first min(U, N). */
		nwarm = cf->nusers < cf->load ? cf->nusers : cf->load;
		phase_run(lc, nwarm, 1, &s);
		if (!cf->json || failed(&s) != 0)
			fprintf(stderr, "sipload: warm-up: %" PRIu64 " of %ld "
			    "users registered, not timed\n", s.ok, nwarm);
		free(s.reg.v);
		free(s.hs.v);
		memset(&s, 0, sizeof(s));
		atomic_store(&lc->logged, 0);
	}
	cpu0 = cpu_s();
	wall = phase_run(lc, cf->load, cf->per_conn, &s);
	report(lc, &s, wall, cpu_s() - cpu0);
	rc = failed(&s) == 0 && s.ok == (uint64_t)cf->load ? 0 : 1;
	free(s.reg.v);
	free(s.hs.v);
	return rc;
}

/*
 * Provision mode.
 */

/* The digest user of u: HA1 for MD5 and SHA-256, each sealed. */
static int
duser_make(const struct conf *cf, const uint8_t key[SEAL_KEY_LEN],
    const struct user *u, struct store_duser *du)
{
	static const int	 algs[] = { DIGEST_MD5, DIGEST_SHA256 };
	char			 ha1[DIGEST_HEX_MAX], aad[256], *sealed, *field;
	size_t			 lu, lr, la, i;
	const char		*an;
	int			 r = 0;

	memset(du, 0, sizeof(*du));
	snprintf(du->username, sizeof(du->username), "%s", u->name);
	snprintf(du->realm, sizeof(du->realm), "%s", cf->realm);
	for (i = 0; i < sizeof(algs) / sizeof(algs[0]) && r == 0; i++) {
		an = digest_alg_name(algs[i], 0);
		lu = strlen(du->username);
		lr = strlen(du->realm);
		la = strlen(an);
		if (lu + lr + la + 2 > sizeof(aad))
			return uc_fail(UC_ERR_ARG, "%s: aad too long", u->name);
		memcpy(aad, du->username, lu + 1);
		memcpy(aad + lu + 1, du->realm, lr + 1);
		memcpy(aad + lu + lr + 2, an, la);
		field = algs[i] == DIGEST_MD5 ? du->ha1_md5 : du->ha1_sha256;
		sealed = NULL;
		if ((r = digest_ha1(algs[i], du->username, du->realm,
		    cf->password, cf->pwlen, ha1)) == 0 &&
		    (r = seal(key, ha1, strlen(ha1), (const uint8_t *)aad,
		    lu + lr + la + 2, &sealed)) == 0) {
			if (strlen(sealed) >= STORE_SEALED_MAX)
				r = uc_fail(UC_ERR_INTERNAL, "sealed HA1 too "
				    "long");
			else
				memcpy(field, sealed, strlen(sealed) + 1);
		}
		free(sealed);
		OPENSSL_cleanse(ha1, sizeof(ha1));
	}
	return r;
}

static int
provision_one(struct store *st, const struct conf *cf,
    const uint8_t key[SEAL_KEY_LEN], const struct user *u)
{
	struct store_sipdev	 d;
	struct store_duser	 du;
	int			 r;

	memset(&d, 0, sizeof(d));
	snprintf(d.name, sizeof(d.name), "%s", u->device);
	d.proto = STORE_PROTO_SIP;
	d.secmode = cf->secmode;
	snprintf(d.extension, sizeof(d.extension), "%s", u->ext);
	snprintf(d.digest_user, sizeof(d.digest_user), "%s", u->name);
	if ((r = duser_make(cf, key, u, &du)) == 0 &&
	    (r = store_duser_put(st, &du)) == 0)
		r = store_sipdev_put(st, &d);
	OPENSSL_cleanse(&du, sizeof(du));
	return r;
}

/* Users --from..--users into the store, SL_TX_ROWS per transaction. */
static int
provision_main(struct conf *cf)
{
	struct store	*st = NULL;
	uint8_t		 key[SEAL_KEY_LEN];
	double		 t0 = now();
	long		 i;
	int		 r, intx = 0;

	if ((r = seal_key_load(cf->secret_key, 1, key)) != 0 ||
	    (r = store_open(cf->db, STORE_CREATE, &st)) != 0)
		goto out;
	for (i = cf->from - 1; i < cf->nusers && r == 0; i++) {
		if (!intx && (r = store_begin(st)) != 0)
			break;
		intx = 1;
		r = provision_one(st, cf, key, &cf->users[i]);
		if (r == 0 && ((i + 1) % SL_TX_ROWS == 0 ||
		    i + 1 == cf->nusers)) {
			r = store_commit(st);
			intx = 0;
		}
	}
	if (r != 0 && intx)
		store_rollback(st);
	if (r == 0)
		printf("sipload: %ld devices and digest users written in "
		    "%.2f s\n", cf->nusers - cf->from + 1, now() - t0);
out:
	store_close(st);
	OPENSSL_cleanse(key, sizeof(key));
	return r == 0 ? 0 : cmd_fail(r);
}

int
main(int argc, char *argv[])
{
	struct conf	*cf;
	struct lctx	 lc;
	int		 r, rc;

	log_init("sipload", 0, LOG_LEVEL_INFO);
	signal(SIGPIPE, SIG_IGN);
	memset(&lc, 0, sizeof(lc));
	if ((cf = calloc(1, sizeof(*cf))) == NULL) {
		fprintf(stderr, "sipload: out of memory\n");
		return 1;
	}
	pthread_mutex_init(&cf->smu, NULL);
	if ((rc = conf_parse(cf, argc, argv)) != 0)
		goto out;
	if (cf->verbose)
		log_set_level(LOG_LEVEL_DEBUG);
	if (cf->provision) {
		rc = (rc = users_init(cf)) != 0 ? cmd_fail(rc) :
		    provision_main(cf);
		goto out;
	}
	lc.cf = cf;
	lc.hold = cf->hold > 0;
	atomic_init(&lc.next, 0);
	atomic_init(&lc.logged, 0);
	if ((r = fd_limit_raise(lc.hold ? cf->hold : cf->concurrency)) != 0 ||
	    (r = addr_resolve(cf->host, cf->port, SOCK_STREAM, &cf->addr,
	    &cf->addrlen)) != 0 ||
	    (r = users_init(cf)) != 0 ||
	    (cf->tls && (r = tls_setup(cf)) != 0) ||
	    (cf->tls && (r = certs_init(cf)) != 0) ||
	    (r = workers_init(&lc)) != 0) {
		rc = cmd_fail(r);
		goto out;
	}
	rc = lc.hold ? hold_main(&lc) : load_main(&lc);
out:
	workers_free(&lc);
	users_free(cf);
	X509_free(cf->ccert);
	EVP_PKEY_free(cf->ckey);
	SSL_CTX_free(cf->ctx);
	OPENSSL_cleanse(cf->password, sizeof(cf->password));
	pthread_mutex_destroy(&cf->smu);
	free(cf);
	return rc;
}
