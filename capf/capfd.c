/*
 * capfd: the CAPF server (specs/capf-protocol.md).  Phones connect over
 * TLS, authenticate, and get an LSC issued, fetched or deleted as the
 * store schedules it (capfctl).  main(): options and config file, keys
 * and trust stores, bind, drop privileges, run.
 */
#include <sys/types.h>

#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "capfd.h"
#include "capfsm.h"
#include "cmd.h"
#include "conf.h"
#include "daemon.h"
#include "log.h"
#include "lsc.h"
#include "p11.h"
#include "signer.h"
#include "store.h"
#include "uerr.h"

enum {
	OPT_DB = 256, OPT_CERT, OPT_KEY, OPT_ISSUER_CERT, OPT_ISSUER_KEY,
	OPT_VERIFY, OPT_LISTEN, OPT_PORT, OPT_DAYS, OPT_TLS1, OPT_USER,
	OPT_MAX_SESS, OPT_MAX_ADDR, OPT_IDLE, OPT_KEYGEN, OPT_SESSION,
	OPT_LOCKOUT, OPT_LOCKOUT_TIME, OPT_WORKERS, OPT_HANDSHAKE, OPT_VERSION
};

static const struct option longopts[] = {
	{ "db", required_argument, NULL, OPT_DB },
	{ "cert", required_argument, NULL, OPT_CERT },
	{ "key", required_argument, NULL, OPT_KEY },
	{ "issuer-cert", required_argument, NULL, OPT_ISSUER_CERT },
	{ "issuer-key", required_argument, NULL, OPT_ISSUER_KEY },
	{ "verify", required_argument, NULL, OPT_VERIFY },
	{ "listen", required_argument, NULL, OPT_LISTEN },
	{ "port", required_argument, NULL, OPT_PORT },
	{ "days", required_argument, NULL, OPT_DAYS },
	{ "tls1", no_argument, NULL, OPT_TLS1 },
	{ "user", required_argument, NULL, OPT_USER },
	{ "max-sessions", required_argument, NULL, OPT_MAX_SESS },
	{ "max-per-addr", required_argument, NULL, OPT_MAX_ADDR },
	{ "idle-timeout", required_argument, NULL, OPT_IDLE },
	{ "handshake-timeout", required_argument, NULL, OPT_HANDSHAKE },
	{ "keygen-timeout", required_argument, NULL, OPT_KEYGEN },
	{ "session-timeout", required_argument, NULL, OPT_SESSION },
	{ "lockout", required_argument, NULL, OPT_LOCKOUT },
	{ "lockout-time", required_argument, NULL, OPT_LOCKOUT_TIME },
	{ "workers", required_argument, NULL, OPT_WORKERS },
	{ "config", required_argument, NULL, 'c' },
	{ "foreground", no_argument, NULL, 'f' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ NULL, 0, NULL, 0 },
};

static const char usage_text[] =
"usage: capfd [-fv] [-c file] --db file --cert cert --key pem|uri\n"
"\t[--issuer-cert cert --issuer-key pem|uri] [--verify cert]...\n"
"\t[--listen addr] [--port n] [--days n] [--tls1] [--user user]\n"
"\t[--max-sessions n] [--max-per-addr n] [--idle-timeout s]\n"
"\t[--handshake-timeout s] [--keygen-timeout s] [--session-timeout s]\n"
"\t[--lockout n] [--lockout-time s] [--workers n]\n";

static void __attribute__((noreturn))
usage(const char *why)
{
	if (why == NULL) {
		fputs(usage_text, stdout);
		exit(0);
	}
	fprintf(stderr, "capfd: %s (see capfd --help)\n", why);
	exit(1);
}

static void
set_str(char **dst, const char *v)
{
	free(*dst);
	if ((*dst = strdup(v)) == NULL)
		err(1, NULL);
}

/* Config setters: "verify" may repeat; "tls1" is yes or no. */
static int
set_verify(void *arg, const char *v)
{
	struct config	*c = arg;

	if (c->nverify == CAPFD_VERIFY_MAX)
		return uc_fail(UC_ERR_ARG, "more than %d verify files",
		    CAPFD_VERIFY_MAX);
	if ((c->verify[c->nverify] = strdup(v)) == NULL)
		return uc_fail(UC_ERR_ALLOC, "verify");
	c->nverify++;
	return 0;
}

static int
set_yesno(void *arg, const char *v)
{
	int	*dst = arg;

	if (strcmp(v, "yes") == 0)
		*dst = 1;
	else if (strcmp(v, "no") == 0)
		*dst = 0;
	else
		return uc_fail(UC_ERR_ARG, "\"%s\": want yes or no", v);
	return 0;
}

#define NKEYS	21

/* Config file keys (no section): the long option names. */
static void
conf_keys(struct config *c, struct conf_key *k)
{
	const struct conf_key	 keys[NKEYS] = {
		{ "", "db", conf_set_string, &c->db },
		{ "", "cert", conf_set_string, &c->cert },
		{ "", "key", conf_set_string, &c->key },
		{ "", "issuer-cert", conf_set_string, &c->issuer_cert },
		{ "", "issuer-key", conf_set_string, &c->issuer_key },
		{ "", "verify", set_verify, c },
		{ "", "listen", conf_set_string, &c->listen },
		{ "", "port", conf_set_int, &c->port },
		{ "", "days", conf_set_int, &c->days },
		{ "", "tls1", set_yesno, &c->tls1 },
		{ "", "user", conf_set_string, &c->user },
		{ "", "max-sessions", conf_set_int, &c->max_sessions },
		{ "", "max-per-addr", conf_set_int, &c->max_per_addr },
		{ "", "idle-timeout", conf_set_int, &c->idle_timeout },
		{ "", "handshake-timeout", conf_set_int,
		    &c->handshake_timeout },
		{ "", "keygen-timeout", conf_set_int, &c->keygen_timeout },
		{ "", "session-timeout", conf_set_int, &c->session_timeout },
		{ "", "lockout", conf_set_int, &c->lockout },
		{ "", "lockout-time", conf_set_int, &c->lockout_time },
		{ "", "workers", conf_set_int, &c->workers },
		{ NULL, NULL, NULL, NULL },
	};

	memcpy(k, keys, sizeof(keys));
}

static int
num(const char *opt, const char *v, long long min, long long max)
{
	long long	 n;

	if (opt_number(opt, v, min, max, &n) != 0)
		errx(1, "%s", uc_errdetail());
	return (int)n;
}

/* Apply one command-line option to c. */
static void
opt_apply(struct config *c, int ch, const char *v)
{
	switch (ch) {
	case OPT_DB: set_str(&c->db, v); break;
	case OPT_CERT: set_str(&c->cert, v); break;
	case OPT_KEY: set_str(&c->key, v); break;
	case OPT_ISSUER_CERT: set_str(&c->issuer_cert, v); break;
	case OPT_ISSUER_KEY: set_str(&c->issuer_key, v); break;
	case OPT_VERIFY:
		if (set_verify(c, v) != 0)
			errx(1, "--verify: %s", uc_errdetail());
		break;
	case OPT_LISTEN: set_str(&c->listen, v); break;
	case OPT_PORT: c->port = num("port", v, 0, 65535); break;
	case OPT_DAYS: c->days = num("days", v, LSC_DAYS_MIN, LSC_DAYS_MAX);
	    break;
	case OPT_TLS1: c->tls1 = 1; break;
	case OPT_USER: set_str(&c->user, v); break;
	case OPT_MAX_SESS: c->max_sessions = num("max-sessions", v, 1,
	    1000000); break;
	case OPT_MAX_ADDR: c->max_per_addr = num("max-per-addr", v, 1,
	    1000000); break;
	case OPT_IDLE: c->idle_timeout = num("idle-timeout", v, 1, 86400);
	    break;
	case OPT_HANDSHAKE: c->handshake_timeout = num("handshake-timeout",
	    v, 1, 3600); break;
	case OPT_KEYGEN: c->keygen_timeout = num("keygen-timeout", v, 1,
	    86400); break;
	case OPT_SESSION: c->session_timeout = num("session-timeout", v, 1,
	    86400); break;
	case OPT_LOCKOUT: c->lockout = num("lockout", v, 0, 1000); break;
	case OPT_LOCKOUT_TIME: c->lockout_time = num("lockout-time", v, 0,
	    86400 * 365); break;
	case OPT_WORKERS: c->workers = num("workers", v, 1,
	    CAPFD_WORKERS_MAX); break;
	case 'c': break;	/* read first, in config_load */
	case 'f': c->foreground = 1; break;
	case 'v': c->verbose = 1; break;
	case 'h': usage(NULL);
	case OPT_VERSION:
		printf("capfd (ucsec) %s\n", UCSEC_VERSION);
		exit(0);
	default: usage("unknown option or missing argument");
	}
}

static void
defaults(struct config *c)
{
	long	 n;

	memset(c, 0, sizeof(*c));
	set_str(&c->listen, "0.0.0.0");
	c->port = CAPFD_PORT_DEF;
	c->days = LSC_DAYS_DEF;
	c->max_sessions = CAPFD_SESSIONS_DEF;
	c->max_per_addr = CAPFD_PER_ADDR_DEF;
	c->idle_timeout = CAPFD_IDLE_DEF;
	c->handshake_timeout = CAPFD_HANDSHAKE_DEF;
	c->keygen_timeout = CAPFD_KEYGEN_DEF;
	c->session_timeout = CAPFD_SESSION_DEF;
	c->lockout = CAPFSM_LOCKOUT_DEF;
	c->lockout_time = CAPFSM_LOCKOUT_SECS_DEF;
	n = sysconf(_SC_NPROCESSORS_ONLN);
	c->workers = n < 1 ? 1 : n > CAPFD_WORKERS_MAX ? CAPFD_WORKERS_MAX :
	    (int)n;
}

/* Range checks for values that may come from the config file. */
static void
config_check(const struct config *c)
{
	if (c->db == NULL || c->cert == NULL || c->key == NULL)
		usage("--db, --cert and --key are required");
	if ((c->issuer_cert == NULL) != (c->issuer_key == NULL))
		usage("--issuer-cert and --issuer-key go together");
	if (c->port < 0 || c->port > 65535)
		errx(1, "port %d: want 0..65535", c->port);
	if (c->days < LSC_DAYS_MIN || c->days > LSC_DAYS_MAX)
		errx(1, "days %d: want %d..%d (spec 10)", c->days,
		    LSC_DAYS_MIN, LSC_DAYS_MAX);
	if (c->max_sessions < 1 || c->max_per_addr < 1 ||
	    c->idle_timeout < 1 || c->keygen_timeout < 1 ||
	    c->handshake_timeout < 1 ||
	    c->session_timeout < 1 || c->lockout < 0 ||
	    c->lockout_time < 0 || c->workers < 1 ||
	    c->workers > CAPFD_WORKERS_MAX)
		errx(1, "limits out of range (sessions, timeouts and workers "
		    "must be positive, lockout not negative)");
}

/* A file argument made absolute (the daemon runs in /); URIs stay. */
static void
abs_path(char **p)
{
	char	*r;

	if (*p == NULL || p11_is_uri(*p))
		return;
	if ((r = realpath(*p, NULL)) == NULL)
		err(1, "%s", *p);
	free(*p);
	*p = r;
}

/* Config file first, then the command line over it. */
static void
config_load(struct config *c, int argc, char *argv[])
{
	struct conf_key	 keys[NKEYS];
	size_t		 i;
	int		 ch;

	defaults(c);
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "c:fvh", longopts, NULL)) != -1)
		if (ch == 'c')
			set_str(&c->config, optarg);
	if (c->config != NULL) {
		conf_keys(c, keys);
		if (conf_load(c->config, keys) != 0)
			errx(1, "%s", uc_errdetail());
	}
	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:fvh", longopts, NULL)) != -1)
		opt_apply(c, ch, optarg);
	if (optind != argc)
		usage("unexpected argument");
	config_check(c);
	abs_path(&c->db);
	abs_path(&c->cert);
	abs_path(&c->key);
	abs_path(&c->issuer_cert);
	abs_path(&c->issuer_key);
	for (i = 0; i < c->nverify; i++)
		abs_path(&c->verify[i]);
}

static void
config_free(struct config *c)
{
	size_t	 i;

	free(c->db); free(c->cert); free(c->key); free(c->issuer_cert);
	free(c->issuer_key); free(c->listen); free(c->user); free(c->config);
	for (i = 0; i < c->nverify; i++)
		free(c->verify[i]);
}

/*
 * Spec 1: a CAPF certificate without basicConstraints CA:TRUE,
 * pathlen:0 and keyUsage keyCertSign makes phones fail TLS.
 */
static void
ca_warn(X509 *x, const char *what)
{
	uint32_t	 fl = X509_get_extension_flags(x);

	if (!(fl & EXFLAG_CA) || X509_get_pathlen(x) != 0)
		log_warnx("%s certificate lacks basicConstraints CA:TRUE, "
		    "pathlen:0; phones may refuse it (spec 1)", what);
	else if (!(fl & EXFLAG_KUSAGE) ||
	    !(X509_get_key_usage(x) & KU_KEY_CERT_SIGN))
		log_warnx("%s certificate lacks keyUsage keyCertSign; phones "
		    "may refuse it (spec 1)", what);
}

/* The TLS context: CAPF certificate and key, no client certificate. */
static int
tls_setup(const struct config *c, struct creds *cr)
{
	EVP_PKEY	*pk = signer_pkey(cr->capf);

	if (pk == NULL)
		return uc_fail(UC_ERR_UNSUPPORTED, "%s: the key cannot serve "
		    "TLS in this process", cr->capf->label);
	if ((cr->ssl = SSL_CTX_new(TLS_server_method())) == NULL)
		return uc_fail_ssl(UC_ERR_CRYPTO, "SSL_CTX_new");
	/* Old phones (79xx) speak only TLS 1.0 (spec 1). */
	if (SSL_CTX_set_min_proto_version(cr->ssl, c->tls1 ? TLS1_VERSION :
	    TLS1_2_VERSION) != 1 || (c->tls1 &&
	    SSL_CTX_set_cipher_list(cr->ssl, "DEFAULT:@SECLEVEL=0") != 1))
		return uc_fail_ssl(UC_ERR_CRYPTO, "TLS versions");
	if (SSL_CTX_use_certificate(cr->ssl, cr->capf->cert) != 1 ||
	    SSL_CTX_use_PrivateKey(cr->ssl, pk) != 1 ||
	    SSL_CTX_check_private_key(cr->ssl) != 1)
		return uc_fail_ssl(UC_ERR_CRYPTO, "%s: TLS certificate and "
		    "key", c->cert);
	/*
	 * A phone enrolls once in a long while: no session cache or
	 * tickets (each costs crypto, a write and memory per handshake).
	 */
	SSL_CTX_set_options(cr->ssl, SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_TICKET);
	SSL_CTX_set_session_cache_mode(cr->ssl, SSL_SESS_CACHE_OFF);
	(void)SSL_CTX_set_num_tickets(cr->ssl, 0);
	SSL_CTX_set_mode(cr->ssl, SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_verify(cr->ssl, SSL_VERIFY_NONE, NULL);
	return 0;
}

/* The LSC issuer: its own pair, else the CAPF pair. */
static int
issuer_setup(const struct config *c, struct creds *cr)
{
	struct p11_opts	 po;
	struct signer	*s = cr->capf;
	int		 r;

	memset(&po, 0, sizeof(po));
	if (c->issuer_key != NULL) {
		if ((r = keyref_signer_open(c->issuer_key, c->issuer_cert, &po,
		    &cr->issuer)) != 0)
			return r;
		s = cr->issuer;
		ca_warn(s->cert, "LSC issuer");
	}
	cr->cc.issuer = s->cert;
	if ((cr->cc.issuer_key = signer_pkey(s)) == NULL)
		return uc_fail(UC_ERR_UNSUPPORTED, "%s: the key cannot sign "
		    "certificates in this process", s->label);
	if (p11_is_uri(c->issuer_key != NULL ? c->issuer_key : c->key)) {
		if (pthread_mutex_init(&cr->sign_lock, NULL) != 0)
			return uc_fail(UC_ERR_INTERNAL, "pthread_mutex_init");
		cr->locked = 1;
		cr->cc.sign_lock = &cr->sign_lock;
	}
	/* Without it each LSC prepares its own, and fails the same way. */
	if (lsc_signer_new(cr->cc.issuer, cr->cc.issuer_key,
	    &cr->cc.lsc_signer) != 0)
		log_warnx("%s: %s", s->label, uc_errdetail());
	return 0;
}

/*
 * Load keys, certificates and trust stores (start-up and SIGHUP).
 * Returns 0 and *out with one reference, or UC_ERR_* (nothing kept).
 */
int
creds_load(const struct config *c, struct store *st, struct creds **out)
{
	struct p11_opts	 po;
	struct creds	*cr;
	int		 r;

	*out = NULL;
	if ((cr = calloc(1, sizeof(*cr))) == NULL)
		return uc_fail(UC_ERR_ALLOC, "credentials");
	cr->refs = 1;
	memset(&po, 0, sizeof(po));
	if ((r = keyref_signer_open(c->key, c->cert, &po, &cr->capf)) != 0)
		goto out;
	ca_warn(cr->capf->cert, "CAPF");
	if ((r = tls_setup(c, cr)) != 0 || (r = issuer_setup(c, cr)) != 0 ||
	    (r = capfsm_trust_load(st, (const char *const *)c->verify,
	    c->nverify, cr->cc.issuer, &cr->cc.lsc_store,
	    &cr->cc.mic_store)) != 0)
		goto out;
	*out = cr;
	cr = NULL;
out:
	creds_unref(cr);
	return r;
}

struct creds *
creds_ref(struct creds *cr)
{
	cr->refs++;
	return cr;
}

/* Drop a reference; the last one frees everything. */
void
creds_unref(struct creds *cr)
{
	if (cr == NULL || --cr->refs > 0)
		return;
	SSL_CTX_free(cr->ssl);
	lsc_signer_free(cr->cc.lsc_signer);
	X509_STORE_free(cr->cc.lsc_store);
	X509_STORE_free(cr->cc.mic_store);
	signer_free(cr->issuer);
	signer_free(cr->capf);
	if (cr->locked)
		pthread_mutex_destroy(&cr->sign_lock);
	free(cr);
}

struct reload_ctx {
	const struct config	*cfg;
	struct store		*store;
};

/* SIGHUP: new credentials from the same files and trust rows. */
static int
reload(void *arg, struct creds **out)
{
	struct reload_ctx	*rc = arg;

	return creds_load(rc->cfg, rc->store, out);
}

int
main(int argc, char *argv[])
{
	struct config		 cfg;
	struct reload_ctx	 rc;
	struct store		*st = NULL;
	struct creds		*cr = NULL;
	struct server		*srv = NULL;
	int			 n, r;

	config_load(&cfg, argc, argv);
	log_init("capfd", !cfg.foreground,
	    cfg.verbose ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO);
	if (store_open(cfg.db, 0, &st) != 0 ||
	    creds_load(&cfg, st, &cr) != 0 ||
	    server_new(&cfg, st, cr, &srv) != 0)
		errx(1, "%s", uc_errdetail());
	/* Sessions a crash or kill left in progress are pending again. */
	if (store_capf_reset_in_progress(st, (int64_t)time(NULL), &n) != 0)
		errx(1, "%s", uc_errdetail());
	if (n > 0)
		log_info("%d CAPF task%s left in progress by an earlier run "
		    "reset to pending", n, n == 1 ? "" : "s");
	creds_unref(cr);	/* the server holds its own reference */
	if (cfg.user != NULL)
		if (priv_drop(cfg.user) != 0)
			errx(1, "%s", uc_errdetail());
	if (!cfg.foreground && daemon(0, 0) == -1)
		err(1, "daemon");
	if (server_start(srv) != 0)
		errx(1, "%s", uc_errdetail());
	rc.cfg = &cfg;
	rc.store = st;
	server_on_reload(srv, reload, &rc);
	log_info("serving CAPF on %s port %d: %s, LSCs for %d days, "
	    "%d workers%s", cfg.listen, cfg.port, cfg.db, cfg.days,
	    cfg.workers, cfg.tls1 ? ", TLS 1.0 allowed" : "");
	r = server_run(srv);
	server_free(srv);
	store_close(st);
	config_free(&cfg);
	return r == 0 ? 0 : 1;
}
