/*
 * ccmd: the call-control server: SIP (issue 5, sip-security.md) and
 * SCCP (issue 6, sccp-security.md) phones, SRTP keys for both.
 * main(): options and the INI file, the store, credentials (the
 * CallManager certificate and key, client-certificate trust from CA
 * files and the CTL's CAPF records, the HA1 sealing key), the modules,
 * bind, drop privileges, run.  SIGHUP reloads the file, credentials and
 * trunks without touching registrations, calls or live connections;
 * SIGTERM and SIGINT stop.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <arpa/inet.h>

#include <ctype.h>
#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "ccm.h"
#include "cert.h"
#include "cmd.h"
#include "conf.h"
#include "daemon.h"
#include "fileio.h"
#include "log.h"
#include "p11.h"
#include "seal.h"
#include "sgn.h"
#include "signer.h"
#include "uerr.h"

#define CCMD_CONF_DEF	"/etc/ucsec/ccmd.conf"
#define TOKEN_MAX	PATH_MAX	/* one item of a comma list */
#define VERIFY_DEPTH	6		/* LSC/MIC chains are 2 or 3 deep */
#define SESSION_SECS	3600		/* TLS session cache */
#define SESSION_CACHE	20000		/* sessions per listener context */

/*
 * Normal listeners: TLS 1.2+, no NULL or anonymous suites.  Legacy
 * listeners (spec 1.1): SECLEVEL 0 for TLS 1.0/1.1 and old keys, and
 * with legacy_null the NULL-SHA suites, last so that a phone offering
 * AES gets AES (server preference).
 */
#define CIPHERS_NORMAL	"ALL:!COMPLEMENTOFDEFAULT:!aNULL:!eNULL:!PSK:!SRP"
#define CIPHERS_LEGACY	CIPHERS_NORMAL ":@SECLEVEL=0"
#define CIPHERS_NULL	TP_CIPHERS_NULL

/* A configuration; one replaced by SIGHUP stays until exit (modules
   may still hold pointers into it). */
struct cfg_hold {
	struct ccm_config	 c;
	struct cfg_hold		*prev;
};

/* What names a file's content without reading it. */
struct fsig {
	int		 ok;		/* stat worked */
	dev_t		 dev;
	ino_t		 ino;
	off_t		 size;
	struct timespec	 mtime;
};

/*
 * The CallManager certificate and key (a token key must outlive the
 * SSL_CTXs that use it); shared by successive credentials while the
 * files stay the same.
 */
struct ident {
	int		 refs;
	struct signer	*signer;
	STACK_OF(X509)	*chain;		/* sent after the certificate */
	char		*cert, *key;	/* the paths it came from */
	struct fsig	 cert_sig, key_sig;
};

/* ccm_creds and what is kept across reloads. */
struct creds_priv {
	struct ccm_creds	 pub;		/* first: the pointers convert */
	struct ident		*id;		/* NULL without cert/key */
	char			*seal_path;	/* secret_key it came from */
	struct fsig		 seal_sig;
};

struct ccmd {
	struct ccm		 ccm;
	struct cfg_hold		*cfgs;		/* current first */
	struct event		*sigs[3];
};

enum { OPT_VERSION = 256 };

static const struct option longopts[] = {
	{ "config", required_argument, NULL, 'c' },
	{ "debug", no_argument, NULL, 'd' },
	{ "foreground", no_argument, NULL, 'f' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ NULL, 0, NULL, 0 },
};

static const char usage_text[] =
"usage: ccmd [-dfv] [-c file]\n"
"\t-c file\tconfiguration (default " CCMD_CONF_DEF ")\n"
"\t-d\tdebug log: every connection, TLS details, closes\n"
"\t-f\tstay in the foreground, log to stderr\n"
"\t-v\tverbose: the same as -d\n";

static void __attribute__((noreturn))
usage(const char *why)
{
	if (why == NULL) {
		fputs(usage_text, stdout);
		exit(0);
	}
	fprintf(stderr, "ccmd: %s (see ccmd --help)\n", why);
	exit(1);
}

/* --- Configuration ---------------------------------------------------- */

struct list_key {			/* udp, tcp, tls, tls_legacy */
	struct ccm_config	*c;
	const char		*section;	/* "sip", "sccp" */
	const char		*name;
	int			 kind;
	int			 legacy;
	int			 defport;
	int			 proto;		/* enum tp_proto */
};

struct int_key {
	const char		*name;
	int			*dst;
	int			 min, max;
};

struct yn_key {
	const char		*name;
	int			*dst;
};

struct ca_key {				/* client_ca, trunk_ca */
	const char		*name;
	char			**files;
	size_t			*n;
};

struct cfg_ctx {
	struct list_key		 lk[7];
	struct int_key		 ik[11];
	struct int_key		 sccp_ka;
	struct yn_key		 sccp_80;
	struct yn_key		 yk[3];
	struct ca_key		 ck[2];
	struct conf_key		 keys[48];
};

/* Each comma-separated, blank-trimmed, non-empty item through fn. */
static int
list_each(const char *v, const char *key, int (*fn)(void *, const char *),
    void *arg)
{
	char		 tok[TOKEN_MAX];
	const char	*p = v, *e;
	size_t		 n;
	int		 r;

	while (*p != '\0') {
		if ((e = strchr(p, ',')) == NULL)
			e = p + strlen(p);
		while (p < e && isspace((unsigned char)*p))
			p++;
		n = (size_t)(e - p);
		while (n > 0 && isspace((unsigned char)p[n - 1]))
			n--;
		if (n >= sizeof(tok))
			return uc_fail(UC_ERR_ARG, "%s: item too long", key);
		if (n > 0) {
			memcpy(tok, p, n);
			tok[n] = '\0';
			if ((r = fn(arg, tok)) != 0)
				return r;
		}
		p = *e == ',' ? e + 1 : e;
	}
	return 0;
}

static int
port_parse(const char *s, int *port)
{
	long	 v;
	char	*end;

	errno = 0;
	v = strtol(s, &end, 10);
	if (*s < '0' || *s > '9' || errno != 0 || *end != '\0' || v < 1 ||
	    v > 65535)
		return -1;
	*port = (int)v;
	return 0;
}

/*
 * A listen address as "host:port" or "[v6]:port" (default port filled
 * in).  The host must be a numeric address.  *out malloc'd.
 */
static int
listen_norm(const char *key, const char *in, int defport, char **out)
{
	char		 host[INET6_ADDRSTRLEN + 1];
	uint8_t		 b[16];
	const char	*h = in, *port = NULL, *e;
	int		 v6 = 0, p = defport;
	size_t		 n;

	if (in[0] == '[') {
		if ((e = strchr(in, ']')) == NULL || (e[1] != '\0' &&
		    e[1] != ':'))
			goto bad;
		h = in + 1;
		n = (size_t)(e - h);
		port = e[1] == ':' ? e + 2 : NULL;
		v6 = 1;
	} else if ((e = strchr(in, ':')) != NULL && strchr(e + 1, ':') ==
	    NULL) {
		n = (size_t)(e - in);
		port = e + 1;
	} else {
		n = strlen(in);
		v6 = e != NULL;
	}
	if (n == 0 || n >= sizeof(host))
		goto bad;
	memcpy(host, h, n);
	host[n] = '\0';
	if (inet_pton(v6 ? AF_INET6 : AF_INET, host, b) != 1 ||
	    (port != NULL && port_parse(port, &p) != 0))
		goto bad;
	if (asprintf(out, v6 ? "[%s]:%d" : "%s:%d", host, p) == -1)
		return uc_fail(UC_ERR_ALLOC, "%s", key);
	return 0;
bad:
	return uc_fail(UC_ERR_ARG, "%s: \"%s\": want a numeric address with an "
	    "optional port (127.0.0.1:5060, [::1]:5061)", key, in);
}

static int
add_listen(void *arg, const char *tok)
{
	struct list_key		*lk = arg;
	struct ccm_config	*c = lk->c;
	struct listen_cfg	*l;
	size_t			 i, n = 0;
	int			 r;

	for (i = 0; i < c->nlisten; i++)
		n += c->listen[i].kind == lk->kind &&
		    c->listen[i].legacy == lk->legacy &&
		    c->listen[i].proto == lk->proto;
	if (n == CCM_LISTEN_MAX)
		return uc_fail(UC_ERR_ARG, "[%s] %s: more than %d addresses",
		    lk->section, lk->name, CCM_LISTEN_MAX);
	if (c->nlisten == sizeof(c->listen) / sizeof(c->listen[0]))
		return uc_fail(UC_ERR_ARG, "[%s] %s: more than %zu listeners "
		    "in all", lk->section, lk->name,
		    sizeof(c->listen) / sizeof(c->listen[0]));
	l = &c->listen[c->nlisten];
	if ((r = listen_norm(lk->name, tok, lk->defport, &l->addr)) != 0)
		return r;
	l->kind = lk->kind;
	l->legacy = lk->legacy;
	l->proto = lk->proto;
	c->nlisten++;
	return 0;
}

static int
set_listen(void *arg, const char *v)
{
	struct list_key	*lk = arg;

	return list_each(v, lk->name, add_listen, lk);
}

static int
add_ca(void *arg, const char *tok)
{
	struct ca_key	*k = arg;

	if (*k->n == CCM_CA_MAX)
		return uc_fail(UC_ERR_ARG, "%s: more than %d files", k->name,
		    CCM_CA_MAX);
	if ((k->files[*k->n] = strdup(tok)) == NULL)
		return uc_fail(UC_ERR_ALLOC, "%s", k->name);
	(*k->n)++;
	return 0;
}

static int
set_ca(void *arg, const char *v)
{
	struct ca_key	*k = arg;

	return list_each(v, k->name, add_ca, k);
}

static int
add_alg(void *arg, const char *tok)
{
	struct ccm_config	*c = arg;
	int			 alg, sess;

	if (digest_alg_parse(tok, strlen(tok), &alg, &sess) != 0 || sess)
		return uc_fail(UC_ERR_ARG, "digest_algorithms: \"%s\": want "
		    "MD5, SHA-256 or SHA-512-256", tok);
	if (c->digest_algs & (1 << alg))
		return uc_fail(UC_ERR_ARG, "digest_algorithms: \"%s\" given "
		    "twice", tok);
	c->digest_algs |= 1 << alg;
	c->digest_order[c->ndigest++] = alg;
	return 0;
}

/* The list replaces any earlier one; its order is the preference. */
static int
set_algs(void *arg, const char *v)
{
	struct ccm_config	*c = arg;
	int			 r;

	c->digest_algs = 0;
	c->ndigest = 0;
	if ((r = list_each(v, "digest_algorithms", add_alg, c)) != 0)
		return r;
	if (c->digest_algs == 0)
		return uc_fail(UC_ERR_ARG, "digest_algorithms: empty");
	return 0;
}

static int
set_int(void *arg, const char *v)
{
	struct int_key	*k = arg;
	char		*end;
	long		 n;

	errno = 0;
	n = strtol(v, &end, 10);
	if (errno != 0 || end == v || *end != '\0' || n < k->min ||
	    n > k->max)
		return uc_fail(UC_ERR_ARG, "%s: \"%s\": want %d..%d", k->name,
		    v, k->min, k->max);
	*k->dst = (int)n;
	return 0;
}

static int
set_yesno(void *arg, const char *v)
{
	struct yn_key	*k = arg;

	if (strcmp(v, "yes") == 0)
		*k->dst = 1;
	else if (strcmp(v, "no") == 0)
		*k->dst = 0;
	else
		return uc_fail(UC_ERR_ARG, "%s: \"%s\": want yes or no",
		    k->name, v);
	return 0;
}

static int
set_tlsver(void *arg, const char *v)
{
	int	*dst = arg;

	if (strcmp(v, "1.0") == 0)
		*dst = TLS1_VERSION;
	else if (strcmp(v, "1.1") == 0)
		*dst = TLS1_1_VERSION;
	else if (strcmp(v, "1.2") == 0)
		*dst = TLS1_2_VERSION;
	else
		return uc_fail(UC_ERR_ARG, "legacy_min_tls: \"%s\": want 1.0, "
		    "1.1 or 1.2", v);
	return 0;
}

static void
defaults(struct ccm_config *c)
{
	memset(c, 0, sizeof(*c));
	c->legacy.min_version = TLS1_VERSION;
	c->legacy.allow_null = 0;
	c->nonce_validity = CCM_NONCE_VALIDITY_DEF;
	c->digest_algs = (1 << DIGEST_SHA256) | (1 << DIGEST_MD5);
	c->expires_min = CCM_EXPIRES_MIN;
	c->expires_max = CCM_EXPIRES_MAX;
	c->max_conns = CCM_CONNS_DEF;
	c->max_per_addr = CCM_PER_ADDR_DEF;
	c->idle_timeout = CCM_IDLE_DEF;
	c->handshake_timeout = CCM_HANDSHAKE_DEF;
	c->auth_fail_max = 5;
	c->auth_fail_window = 300;
	c->sccp_keepalive = CCM_SCCP_KEEPALIVE_DEF;
}

/* The key table; x holds the setters' arguments. */
static void
conf_keys(struct ccm_config *c, struct cfg_ctx *x)
{
	const struct list_key	 lk[7] = {
		{ c, "sip", "udp", TP_UDP, 0, CCM_SIP_PORT, TP_SIP },
		{ c, "sip", "tcp", TP_TCP, 0, CCM_SIP_PORT, TP_SIP },
		{ c, "sip", "tls", TP_TLS, 0, CCM_SIPS_PORT, TP_SIP },
		{ c, "sip", "tls_legacy", TP_TLS, 1, CCM_SIPS_PORT, TP_SIP },
		{ c, "sccp", "tcp", TP_TCP, 0, CCM_SCCP_PORT, TP_SCCP },
		{ c, "sccp", "tls", TP_TLS, 0, CCM_SCCP_TLS_PORT, TP_SCCP },
		{ c, "sccp", "tls_legacy", TP_TLS, 1, CCM_SCCP_TLS_PORT,
		    TP_SCCP },
	};
	const struct int_key	 ik[11] = {
		{ "nonce_validity", &c->nonce_validity, 10, 86400 },
		{ "expires_min", &c->expires_min, 1, 86400 },
		{ "expires_max", &c->expires_max, 1, 7 * 86400 },
		{ "max_connections", &c->max_conns, 1, 1000000 },
		{ "max_per_address", &c->max_per_addr, 1, 1000000 },
		{ "idle_timeout", &c->idle_timeout, 1, 86400 },
		{ "handshake_timeout", &c->handshake_timeout, 1, 3600 },
		{ "auth_fail_max", &c->auth_fail_max, 1, 100000 },
		{ "auth_fail_window", &c->auth_fail_window, 1, 86400 },
		{ NULL, NULL, 0, 0 },
		{ NULL, NULL, 0, 0 },
	};
	const struct yn_key	 yk[3] = {
		{ "legacy_null", &c->legacy.allow_null },
		{ "challenge_in_dialog", &c->challenge_in_dialog },
		{ "digest_legacy_noqop", &c->digest_noqop },
	};
	const struct ca_key	 ck[2] = {
		{ "client_ca", c->client_ca, &c->nclient_ca },
		{ "trunk_ca", c->trunk_ca, &c->ntrunk_ca },
	};
	struct conf_key		*k = x->keys;
	size_t			 i;

	memcpy(x->lk, lk, sizeof(lk));
	memcpy(x->ik, ik, sizeof(ik));
	memcpy(x->yk, yk, sizeof(yk));
	memcpy(x->ck, ck, sizeof(ck));
	x->sccp_ka = (struct int_key){ "keepalive", &c->sccp_keepalive, 1,
	    3600 };
	x->sccp_80 = (struct yn_key){ "allow_sha1_80", &c->sccp_sha1_80 };
	for (i = 0; i < 7; i++)
		*k++ = (struct conf_key){ lk[i].section, lk[i].name,
		    set_listen, &x->lk[i] };
	for (i = 0; ik[i].name != NULL; i++)
		*k++ = (struct conf_key){ "sip", ik[i].name, set_int,
		    &x->ik[i] };
	for (i = 0; i < 3; i++)
		*k++ = (struct conf_key){ "sip", yk[i].name, set_yesno,
		    &x->yk[i] };
	for (i = 0; i < 2; i++)
		*k++ = (struct conf_key){ "sip", ck[i].name, set_ca,
		    &x->ck[i] };
	*k++ = (struct conf_key){ "sip", "legacy_min_tls", set_tlsver,
	    &c->legacy.min_version };
	*k++ = (struct conf_key){ "sip", "cert", conf_set_string, &c->cert };
	*k++ = (struct conf_key){ "sip", "key", conf_set_string, &c->key };
	*k++ = (struct conf_key){ "sip", "ctl", conf_set_string, &c->ctl };
	*k++ = (struct conf_key){ "sip", "realm", conf_set_string, &c->realm };
	*k++ = (struct conf_key){ "sip", "domain", conf_set_string,
	    &c->domain };
	*k++ = (struct conf_key){ "sip", "digest_algorithms", set_algs, c };
	*k++ = (struct conf_key){ "sip", "user", conf_set_string, &c->user };
	*k++ = (struct conf_key){ "sccp", "keepalive", set_int, &x->sccp_ka };
	*k++ = (struct conf_key){ "sccp", "allow_sha1_80", set_yesno,
	    &x->sccp_80 };
	*k++ = (struct conf_key){ "sccp", "key_log", conf_set_string,
	    &c->keylog };
	*k++ = (struct conf_key){ "store", "db", conf_set_string, &c->db };
	*k++ = (struct conf_key){ "store", "secret_key", conf_set_string,
	    &c->secret_key };
	*k = (struct conf_key){ NULL, NULL, NULL, NULL };
}

/*
 * A file made absolute (the daemon runs in /); pkcs11: URIs and absolute
 * paths stay as written (no realpath: on SIGHUP the unprivileged user
 * may not be allowed to walk the directories).
 */
static int
abs_path(const char *file, const char *key, char **p)
{
	char	*r;

	if (*p == NULL || p11_is_uri(*p) || (*p)[0] == '/')
		return 0;
	if ((r = realpath(*p, NULL)) == NULL)
		return uc_fail(UC_ERR_IO, "%s: %s %s: %s", file, key, *p,
		    strerror(errno));
	free(*p);
	*p = r;
	return 0;
}

/*
 * A file that may not exist yet (the key log) made absolute: its
 * directory must exist.
 */
static int
abs_new_path(const char *file, const char *key, char **p)
{
	char		*dir = NULL, *r = NULL, *slash;
	const char	*base;
	int		 rc = 0;

	if (*p == NULL)
		return 0;
	if ((*p)[0] == '/' && (*p)[strlen(*p) - 1] != '/')
		return 0;	/* as abs_path */
	if ((slash = strrchr(*p, '/')) == NULL) {
		dir = strdup(".");
		base = *p;
	} else {
		dir = strndup(*p, slash == *p ? 1 : (size_t)(slash - *p));
		base = slash + 1;
	}
	if (dir == NULL)
		return uc_fail(UC_ERR_ALLOC, "%s", key);
	if (*base == '\0')
		rc = uc_fail(UC_ERR_ARG, "%s: %s %s: names a directory", file,
		    key, *p);
	else if ((r = realpath(dir, NULL)) == NULL)
		rc = uc_fail(UC_ERR_IO, "%s: %s %s: %s", file, key, dir,
		    strerror(errno));
	else if (asprintf(&slash, "%s%s%s", r, strcmp(r, "/") == 0 ? "" :
	    "/", base) == -1)
		rc = uc_fail(UC_ERR_ALLOC, "%s", key);
	else {
		free(*p);
		*p = slash;
	}
	free(r);
	free(dir);
	return rc;
}

/* domain unset: the first listener's address, unless a wildcard. */
static int
default_domain(struct ccm_config *c)
{
	char	 host[256], *colon;

	if (c->domain != NULL)
		return 0;
	snprintf(host, sizeof(host), "%s", c->listen[0].addr);
	if ((colon = strrchr(host, ':')) != NULL)
		*colon = '\0';
	if (strcmp(host, "0.0.0.0") == 0 || strcmp(host, "[::]") == 0) {
		if (gethostname(host, sizeof(host)) != 0)
			return uc_fail(UC_ERR_IO, "gethostname: %s",
			    strerror(errno));
		host[sizeof(host) - 1] = '\0';
	}
	if ((c->domain = strdup(host)) == NULL)
		return uc_fail(UC_ERR_ALLOC, "domain");
	return 0;
}

/* Whole-configuration checks; errors name the file and key. */
static int
config_check(const char *f, struct ccm_config *c)
{
	size_t	 i;
	int	 ntls = 0, r;

	for (i = 0; i < c->nlisten; i++)
		ntls += c->listen[i].kind == TP_TLS;
	if (c->nlisten == 0)
		return uc_fail(UC_ERR_ARG, "%s: no listener: set [sip] udp, "
		    "tcp, tls or tls_legacy, or [sccp] tcp, tls or tls_legacy",
		    f);
	if ((c->cert == NULL) != (c->key == NULL))
		return uc_fail(UC_ERR_ARG, "%s: [sip] cert and key go "
		    "together", f);
	if (ntls > 0 && c->cert == NULL)
		return uc_fail(UC_ERR_ARG, "%s: tls listeners need [sip] cert "
		    "and key (the CallManager certificate)", f);
	if (ntls > 0 && c->nclient_ca == 0 && c->ctl == NULL)
		return uc_fail(UC_ERR_ARG, "%s: tls listeners need [sip] "
		    "client_ca or ctl: client certificates are required and "
		    "verified", f);
	if (c->keylog != NULL && c->keylog[0] == '\0')
		return uc_fail(UC_ERR_ARG, "%s: [sccp] key_log is empty", f);
	if (c->expires_min > c->expires_max)
		return uc_fail(UC_ERR_ARG, "%s: [sip] expires_min %d is above "
		    "expires_max %d", f, c->expires_min, c->expires_max);
	if (c->realm != NULL && c->realm[0] == '\0')
		return uc_fail(UC_ERR_ARG, "%s: [sip] realm is empty", f);
	if (c->realm == NULL && (c->realm = strdup(CCM_REALM_DEF)) == NULL)
		return uc_fail(UC_ERR_ALLOC, "realm");
	if (c->db == NULL || c->secret_key == NULL)
		return uc_fail(UC_ERR_ARG, "%s: [store] db and secret_key are "
		    "required", f);
	if (access(c->db, F_OK) != 0)
		return uc_fail(UC_ERR_NOTFOUND, "%s: [store] db %s: %s; create "
		    "it with ccmctl --db %s", f, c->db, strerror(errno), c->db);
	if ((r = abs_path(f, "[sip] cert", &c->cert)) != 0 ||
	    (r = abs_path(f, "[sip] key", &c->key)) != 0 ||
	    (r = abs_path(f, "[sip] ctl", &c->ctl)) != 0 ||
	    (r = abs_path(f, "[store] db", &c->db)) != 0 ||
	    (r = abs_path(f, "[store] secret_key", &c->secret_key)) != 0 ||
	    (r = abs_new_path(f, "[sccp] key_log", &c->keylog)) != 0)
		return r;
	for (i = 0; i < c->nclient_ca; i++)
		if ((r = abs_path(f, "[sip] client_ca", &c->client_ca[i])) != 0)
			return r;
	for (i = 0; i < c->ntrunk_ca; i++)
		if ((r = abs_path(f, "[sip] trunk_ca", &c->trunk_ca[i])) != 0)
			return r;
	return default_domain(c);
}

static void
config_free(struct ccm_config *c)
{
	size_t	 i;

	for (i = 0; i < c->nlisten; i++)
		free(c->listen[i].addr);
	for (i = 0; i < c->nclient_ca; i++)
		free(c->client_ca[i]);
	for (i = 0; i < c->ntrunk_ca; i++)
		free(c->trunk_ca[i]);
	free(c->config); free(c->cert); free(c->key); free(c->ctl);
	free(c->realm); free(c->domain); free(c->db); free(c->secret_key);
	free(c->user); free(c->keylog);
}

static void
hold_free(struct cfg_hold *h)
{
	if (h == NULL)
		return;
	config_free(&h->c);
	free(h);
}

/* Read and check path.  Returns 0 and *out, or UC_ERR_* (one line). */
static int
config_read(const char *path, struct cfg_hold **out)
{
	struct cfg_hold	*h;
	struct cfg_ctx	*x;
	int		 r;

	*out = NULL;
	if ((h = calloc(1, sizeof(*h))) == NULL ||
	    (x = calloc(1, sizeof(*x))) == NULL) {
		free(h);
		return uc_fail(UC_ERR_ALLOC, "configuration");
	}
	defaults(&h->c);
	conf_keys(&h->c, x);
	if ((h->c.config = realpath(path, NULL)) == NULL)
		r = uc_fail(UC_ERR_IO, "%s: %s", path, strerror(errno));
	else if ((r = conf_load(h->c.config, x->keys)) == 0)
		r = config_check(h->c.config, &h->c);
	free(x);
	if (r != 0) {
		hold_free(h);
		return r;
	}
	*out = h;
	return 0;
}

/* --- Credentials ------------------------------------------------------ */

/* The CAPF certificates of a (verified) CTL into st. */
static int
ctl_trust(X509_STORE *st, const char *path, int *n)
{
	struct sgn_file		*f = NULL;
	const struct tlv_record	*rec;
	uint8_t			*buf = NULL;
	size_t			 len, i;
	X509			*x;
	int			 r;

	*n = 0;
	if ((r = file_read(path, TLV_FILE_MAX, &buf, &len)) != 0)
		goto out;
	if ((r = sgn_parse(buf, len, SGN_KIND_TLV, &f)) != 0 ||
	    (r = tlv_verify(f, NULL)) != 0) {
		uc_prefix(path);
		goto out;
	}
	for (i = 0; i < f->nrecs; i++) {
		rec = &f->recs[i];
		if (rec->role != TLV_ROLE_CAPF || rec->cert.p == NULL)
			continue;
		if ((r = cert_from_der(rec->cert.p, rec->cert.len, &x)) != 0) {
			uc_prefix(path);
			goto out;
		}
		if (X509_STORE_add_cert(st, x) != 1)
			ERR_clear_error();	/* also a client_ca */
		X509_free(x);
		(*n)++;
	}
	if (*n == 0)
		log_warnx("%s: no CAPF certificate in the CTL", path);
out:
	sgn_free(f);
	free(buf);
	return r;
}

/* A store for anchors; an anchor may be an intermediate (a CAPF under
   a root). */
static int
store_new(X509_STORE **out)
{
	if ((*out = X509_STORE_new()) == NULL)
		return uc_fail_ssl(UC_ERR_ALLOC, "X509_STORE_new");
	X509_STORE_set_flags(*out, X509_V_FLAG_PARTIAL_CHAIN);
	return 0;
}

/* Client-certificate anchors: client_ca files and the CTL's CAPFs. */
static int
trust_load(const struct ccm_config *c, X509_STORE **out)
{
	X509_STORE	*st;
	size_t		 i;
	int		 n = 0, r;

	*out = NULL;
	if ((r = store_new(&st)) != 0)
		return r;
	for (i = 0; i < c->nclient_ca && r == 0; i++)
		if (X509_STORE_load_file(st, c->client_ca[i]) != 1)
			r = uc_fail_ssl(UC_ERR_IO, "%s: [sip] client_ca %s: no "
			    "certificate loaded", c->config, c->client_ca[i]);
	if (r == 0 && c->ctl != NULL && (r = ctl_trust(st, c->ctl, &n)) != 0)
		uc_prefix("[sip] ctl");
	if (r != 0) {
		X509_STORE_free(st);
		return r;
	}
	log_debug("trust: %zu client_ca file%s, %d CAPF certificate%s from "
	    "the CTL", c->nclient_ca, c->nclient_ca == 1 ? "" : "s", n,
	    n == 1 ? "" : "s");
	*out = st;
	return 0;
}

/*
 * Trunk peer anchors: the trunk_ca files, or without them the phones'
 * store itself (one more reference).
 */
static int
trunk_trust_load(const struct ccm_config *c, X509_STORE *phones,
    X509_STORE **out)
{
	X509_STORE	*st;
	size_t		 i;
	int		 r;

	*out = NULL;
	if (c->ntrunk_ca == 0) {
		if (X509_STORE_up_ref(phones) != 1)
			return uc_fail_ssl(UC_ERR_INTERNAL, "X509_STORE_up_ref");
		*out = phones;
		return 0;
	}
	if ((r = store_new(&st)) != 0)
		return r;
	for (i = 0; i < c->ntrunk_ca && r == 0; i++)
		if (X509_STORE_load_file(st, c->trunk_ca[i]) != 1)
			r = uc_fail_ssl(UC_ERR_IO, "%s: [sip] trunk_ca %s: no "
			    "certificate loaded", c->config, c->trunk_ca[i]);
	if (r != 0) {
		X509_STORE_free(st);
		return r;
	}
	*out = st;
	return 0;
}

/* Every certificate of a into st (duplicates skipped). */
static void
store_merge(X509_STORE *st, X509_STORE *a)
{
	STACK_OF(X509_OBJECT)	*objs = X509_STORE_get0_objects(a);
	X509			*x;
	int			 i;

	for (i = 0; i < sk_X509_OBJECT_num(objs); i++)
		if ((x = X509_OBJECT_get0_X509(sk_X509_OBJECT_value(objs,
		    i))) != NULL && X509_STORE_add_cert(st, x) != 1)
			ERR_clear_error();
}

/*
 * What a listener verifies against during the handshake: a peer may be
 * a phone or a trunk, so the union of both stores; the transport then
 * tells which one the chain verifies against (tp_info phone_ok and
 * trunk_ok).  One reference for the caller.
 */
static int
listen_trust(const struct ccm_creds *cr, X509_STORE **out)
{
	int	 r;

	*out = NULL;
	if (cr->trunk_trust == cr->trust) {
		if (X509_STORE_up_ref(cr->trust) != 1)
			return uc_fail_ssl(UC_ERR_INTERNAL, "X509_STORE_up_ref");
		*out = cr->trust;
		return 0;
	}
	if ((r = store_new(out)) != 0)
		return r;
	store_merge(*out, cr->trust);
	store_merge(*out, cr->trunk_trust);
	return 0;
}

/* The rest of a PEM certificate file: the chain we send (*out NULL
   for a pkcs11: URI). */
static int
chain_load(const char *path, STACK_OF(X509) **out)
{
	STACK_OF(X509)	*sk;
	BIO		*b;
	X509		*x;
	int		 i;

	*out = NULL;
	if (p11_is_uri(path))
		return 0;
	if ((b = BIO_new_file(path, "r")) == NULL)
		return uc_fail_ssl(UC_ERR_IO, "%s", path);
	if ((sk = sk_X509_new_null()) == NULL) {
		BIO_free(b);
		return uc_fail_ssl(UC_ERR_ALLOC, "%s: chain", path);
	}
	for (i = 0; (x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL;
	    i++) {
		if (i == 0)
			X509_free(x);		/* the leaf: the signer's */
		else if (sk_X509_push(sk, x) <= 0) {
			X509_free(x);
			sk_X509_pop_free(sk, X509_free);
			BIO_free(b);
			return uc_fail_ssl(UC_ERR_ALLOC, "%s: chain", path);
		}
	}
	ERR_clear_error();		/* the end of the file */
	BIO_free(b);
	*out = sk;
	return 0;
}

/* A file's identity without reading it: path, device, inode, size and
   modification time (stat needs no read permission). */
static void
fsig_get(const char *path, struct fsig *s)
{
	struct stat	 st;

	memset(s, 0, sizeof(*s));
	if (path == NULL || p11_is_uri(path) || stat(path, &st) != 0)
		return;
	s->ok = 1;
	s->dev = st.st_dev;
	s->ino = st.st_ino;
	s->size = st.st_size;
	s->mtime = st.st_mtim;
}

/*
 * Whether a file loaded before (oldp, olds) is the one newp names now:
 * the same path and, when it can be told, the same inode, size and
 * time.  A file that cannot be looked at any more (privileges dropped)
 * counts as unchanged: the loaded copy stays.
 */
static int
fsig_same(const char *oldp, const struct fsig *olds, const char *newp)
{
	struct fsig	 s;

	if (oldp == NULL || newp == NULL || strcmp(oldp, newp) != 0)
		return 0;
	fsig_get(newp, &s);
	if (!s.ok || !olds->ok)
		return 1;
	return s.dev == olds->dev && s.ino == olds->ino &&
	    s.size == olds->size && s.mtime.tv_sec == olds->mtime.tv_sec &&
	    s.mtime.tv_nsec == olds->mtime.tv_nsec;
}

static void
ident_unref(struct ident *id)
{
	if (id == NULL || --id->refs > 0)
		return;
	signer_free(id->signer);
	sk_X509_pop_free(id->chain, X509_free);
	free(id->cert);
	free(id->key);
	free(id);
}

/* The CallManager certificate and key, opened (PEM or pkcs11:). */
static int
ident_load(const struct ccm_config *c, struct ident **out)
{
	struct p11_opts	 po;
	struct ident	*id;
	int		 r;

	*out = NULL;
	if ((id = calloc(1, sizeof(*id))) == NULL ||
	    (id->cert = strdup(c->cert)) == NULL ||
	    (id->key = strdup(c->key)) == NULL) {
		if (id != NULL)
			free(id->cert);
		free(id);
		return uc_fail(UC_ERR_ALLOC, "credentials");
	}
	id->refs = 1;
	fsig_get(c->cert, &id->cert_sig);
	fsig_get(c->key, &id->key_sig);
	memset(&po, 0, sizeof(po));
	if ((r = keyref_signer_open(c->key, c->cert, &po, &id->signer)) == 0 &&
	    signer_pkey(id->signer) == NULL)
		r = uc_fail(UC_ERR_UNSUPPORTED, "%s: the key cannot serve "
		    "TLS in this process", id->signer->label);
	if (r == 0)
		r = chain_load(c->cert, &id->chain);
	if (r != 0) {
		ident_unref(id);
		return r;
	}
	*out = id;
	return 0;
}

/* The identity of old when cert and key are the same files, else a
   fresh one. */
static int
ident_get(const struct ccm_config *c, const struct creds_priv *old,
    struct ident **out)
{
	struct ident	*id = old != NULL ? old->id : NULL;

	if (id != NULL && fsig_same(id->cert, &id->cert_sig, c->cert) &&
	    fsig_same(id->key, &id->key_sig, c->key)) {
		id->refs++;
		*out = id;
		log_debug("reload: certificate and key unchanged, kept");
		return 0;
	}
	return ident_load(c, out);
}

/* Certificate, key, chain, trust: what every context shares. */
static int
ctx_common(SSL_CTX *ctx, const struct ccm_config *c, struct creds_priv *cp,
    X509_STORE *trust)
{
	EVP_PKEY	*pk = signer_pkey(cp->id->signer);
	int		 i;

	if (SSL_CTX_use_certificate(ctx, cp->id->signer->cert) != 1 ||
	    SSL_CTX_use_PrivateKey(ctx, pk) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1)
		return uc_fail_ssl(UC_ERR_CRYPTO, "%s: [sip] cert %s and key "
		    "do not serve TLS", c->config, c->cert);
	SSL_CTX_set1_cert_store(ctx, trust);
	SSL_CTX_set_verify_depth(ctx, VERIFY_DEPTH);
	/* A phone that drops the TCP connection just closed it. */
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	for (i = 0; i < sk_X509_num(cp->id->chain); i++)
		if (SSL_CTX_add1_chain_cert(ctx, sk_X509_value(cp->id->chain,
		    i)) != 1)
			return uc_fail_ssl(UC_ERR_CRYPTO, "%s: chain", c->cert);
	return 0;
}

/* Name the anchors in the CertificateRequest. */
static void
ctx_ca_names(SSL_CTX *ctx, X509_STORE *st)
{
	STACK_OF(X509_OBJECT)	*objs = X509_STORE_get0_objects(st);
	X509			*x;
	int			 i;

	for (i = 0; i < sk_X509_OBJECT_num(objs); i++)
		if ((x = X509_OBJECT_get0_X509(sk_X509_OBJECT_value(objs,
		    i))) != NULL && SSL_CTX_add_client_CA(ctx, x) != 1)
			ERR_clear_error();
}

/*
 * A listener context (spec 1.1): client certificate required and
 * verified.  Resumption is stateful (a server-side session cache, no
 * tickets): OpenSSL would decode the client certificate again from
 * every ticket, where a cached session keeps it decoded.
 */
static int
ctx_server(const struct ccm_config *c, struct creds_priv *cp,
    X509_STORE *trust, int legacy, SSL_CTX **out)
{
	static const char	 sid_tls[] = "ccmd-tls", sid_leg[] = "ccmd-legacy";
	SSL_CTX			*ctx;
	const char		*ciphers = !legacy ? CIPHERS_NORMAL :
	    c->legacy.allow_null ? CIPHERS_NULL : CIPHERS_LEGACY;
	int			 r;

	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL)
		return uc_fail_ssl(UC_ERR_CRYPTO, "SSL_CTX_new");
	if (SSL_CTX_set_min_proto_version(ctx, legacy ?
	    c->legacy.min_version : TLS1_2_VERSION) != 1 ||
	    SSL_CTX_set_cipher_list(ctx, ciphers) != 1) {
		r = uc_fail_ssl(UC_ERR_CRYPTO, "TLS versions and ciphers");
		goto fail;
	}
	if ((r = ctx_common(ctx, c, cp, trust)) != 0)
		goto fail;
	SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE |
	    SSL_OP_NO_TICKET);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER |
	    SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	ctx_ca_names(ctx, trust);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
	SSL_CTX_sess_set_cache_size(ctx, SESSION_CACHE);
	SSL_CTX_set_timeout(ctx, SESSION_SECS);
	if (SSL_CTX_set_session_id_context(ctx, (const unsigned char *)
	    (legacy ? sid_leg : sid_tls), legacy ? sizeof(sid_leg) - 1 :
	    sizeof(sid_tls) - 1) != 1) {
		r = uc_fail_ssl(UC_ERR_CRYPTO, "session id context");
		goto fail;
	}
	*out = ctx;
	return 0;
fail:
	SSL_CTX_free(ctx);
	return r;
}

/* Outgoing TLS to trunk peers: our certificate, the peer verified
   against the trunk anchors. */
static int
ctx_client(const struct ccm_config *c, struct creds_priv *cp, SSL_CTX **out)
{
	SSL_CTX	*ctx;
	int	 r;

	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL)
		return uc_fail_ssl(UC_ERR_CRYPTO, "SSL_CTX_new");
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
	    SSL_CTX_set_cipher_list(ctx, CIPHERS_NORMAL) != 1) {
		r = uc_fail_ssl(UC_ERR_CRYPTO, "TLS versions and ciphers");
		goto fail;
	}
	if ((r = ctx_common(ctx, c, cp, cp->pub.trunk_trust)) != 0)
		goto fail;
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	*out = ctx;
	return 0;
fail:
	SSL_CTX_free(ctx);
	return r;
}

/* The SSL_CTXs the configured listeners need, and the client one. */
static int
creds_tls(const struct ccm_config *c, struct creds_priv *cp)
{
	X509_STORE	*lt = NULL;
	size_t		 i;
	int		 r, tls = 0, legacy = 0;

	for (i = 0; i < c->nlisten; i++) {
		tls |= c->listen[i].kind == TP_TLS && !c->listen[i].legacy;
		legacy |= c->listen[i].kind == TP_TLS && c->listen[i].legacy;
	}
	if ((tls || legacy) && (r = listen_trust(&cp->pub, &lt)) != 0)
		return r;
	if ((tls && (r = ctx_server(c, cp, lt, 0, &cp->pub.tls)) != 0) ||
	    (legacy && (r = ctx_server(c, cp, lt, 1,
	    &cp->pub.tls_legacy)) != 0) ||
	    (r = ctx_client(c, cp, &cp->pub.tls_client)) != 0)
		goto out;
	r = 0;
out:
	X509_STORE_free(lt);		/* the contexts hold theirs */
	return r;
}

/* The sealing key: old's copy while the file is the same one. */
static int
seal_get(const struct ccm_config *c, const struct creds_priv *old,
    struct creds_priv *cp)
{
	int	 r;

	if ((cp->seal_path = strdup(c->secret_key)) == NULL)
		return uc_fail(UC_ERR_ALLOC, "credentials");
	if (old != NULL && fsig_same(old->seal_path, &old->seal_sig,
	    c->secret_key)) {
		memcpy(cp->pub.seal_key, old->pub.seal_key,
		    sizeof(cp->pub.seal_key));
		cp->seal_sig = old->seal_sig;
		return 0;
	}
	fsig_get(c->secret_key, &cp->seal_sig);
	if ((r = seal_key_load(c->secret_key, 0, cp->pub.seal_key)) != 0)
		uc_prefix("[store] secret_key");
	return r;
}

/*
 * Load keys, certificates, trust and the sealing key (start-up, and
 * SIGHUP with the running credentials as old: the sealing key and the
 * certificate and key are kept from old while their files are the same
 * ones, so a reload after the privilege drop needs to read only the
 * trust files).  Returns 0 and *out with one reference, or UC_ERR_*
 * with nothing kept.
 */
static int
creds_load(const struct ccm_config *c, struct ccm_creds *oldc,
    struct ccm_creds **out)
{
	const struct creds_priv	*old = (const struct creds_priv *)oldc;
	struct creds_priv	*cp;
	int			 r;

	*out = NULL;
	if ((cp = calloc(1, sizeof(*cp))) == NULL)
		return uc_fail(UC_ERR_ALLOC, "credentials");
	cp->pub.refs = 1;
	if ((r = trust_load(c, &cp->pub.trust)) != 0 ||
	    (r = trunk_trust_load(c, cp->pub.trust,
	    &cp->pub.trunk_trust)) != 0 ||
	    (r = seal_get(c, old, cp)) != 0)
		goto out;
	if (c->key != NULL && ((r = ident_get(c, old, &cp->id)) != 0 ||
	    (r = creds_tls(c, cp)) != 0))
		goto out;
	*out = &cp->pub;
	cp = NULL;
out:
	creds_unref(cp != NULL ? &cp->pub : NULL);
	return r;
}

/* One more reference (a connection, the process). */
struct ccm_creds *
creds_ref(struct ccm_creds *cr)
{
	cr->refs++;
	return cr;
}

/* Drop a reference; the last frees everything.  Accepts NULL. */
void
creds_unref(struct ccm_creds *cr)
{
	struct creds_priv	*cp = (struct creds_priv *)cr;

	if (cr == NULL || --cr->refs > 0)
		return;
	SSL_CTX_free(cr->tls);
	SSL_CTX_free(cr->tls_legacy);
	SSL_CTX_free(cr->tls_client);
	X509_STORE_free(cr->trust);
	X509_STORE_free(cr->trunk_trust);
	OPENSSL_cleanse(cr->seal_key, sizeof(cr->seal_key));
	ident_unref(cp->id);
	free(cp->seal_path);
	free(cp);
}

/* --- Reload and signals ----------------------------------------------- */

static int
listen_same(const struct ccm_config *a, const struct ccm_config *b)
{
	size_t	 i;

	if (a->nlisten != b->nlisten)
		return 0;
	for (i = 0; i < a->nlisten; i++)
		if (a->listen[i].kind != b->listen[i].kind ||
		    a->listen[i].legacy != b->listen[i].legacy ||
		    a->listen[i].proto != b->listen[i].proto ||
		    strcmp(a->listen[i].addr, b->listen[i].addr) != 0)
			return 0;
	return 1;
}

static void
keep_str(const char *key, const char *old, char **nv)
{
	if ((old == NULL && *nv == NULL) || (old != NULL && *nv != NULL &&
	    strcmp(old, *nv) == 0))
		return;
	log_warnx("reload: %s changes only on restart", key);
	free(*nv);
	*nv = NULL;
	if (old != NULL && (*nv = strdup(old)) == NULL)
		err(1, NULL);
}

/* Listeners, store and user are fixed at start: keep the old ones. */
static void
keep_restart_only(const struct ccm_config *old, struct ccm_config *c)
{
	size_t	 i;

	if (!listen_same(old, c)) {
		log_warnx("reload: listen addresses change only on restart");
		for (i = 0; i < c->nlisten; i++)
			free(c->listen[i].addr);
		for (i = 0; i < old->nlisten; i++) {
			c->listen[i] = old->listen[i];
			if ((c->listen[i].addr = strdup(old->listen[i].addr)) ==
			    NULL)
				err(1, NULL);
		}
		c->nlisten = old->nlisten;
	}
	keep_str("[store] db", old->db, &c->db);
	keep_str("[sip] user", old->user, &c->user);
	c->foreground = old->foreground;
	c->verbose = old->verbose;
}

/*
 * SIGHUP: the file again, then credentials, then trunks.  On failure
 * the running ones stay, with one log line.  Registrations, calls and
 * connections are untouched; new connections get the new contexts.
 */
static void
reload(struct ccmd *d)
{
	struct ccm		*ccm = &d->ccm;
	struct cfg_hold		*h = NULL;
	struct ccm_creds	*cr = NULL;
	int			 r;

	if ((r = config_read(ccm->cfg->config, &h)) == 0) {
		keep_restart_only(ccm->cfg, &h->c);
		r = creds_load(&h->c, ccm->creds, &cr);
	}
	if (r != 0) {
		log_warnx("reload failed, keeping the running configuration "
		    "and credentials: %s", uc_errdetail());
		hold_free(h);
		return;
	}
	h->prev = d->cfgs;
	d->cfgs = h;
	ccm->cfg = &h->c;
	creds_unref(ccm->creds);
	ccm->creds = cr;
	if (trunk_load(ccm) != 0)
		log_warnx("reload: trunks: %s (keeping the old table)",
		    uc_errdetail());
	if (keymgr_init(ccm) != 0)
		log_warnx("reload: %s (keeping the key log as it was)",
		    uc_errdetail());
	tp_creds_changed(ccm);
	sccp_reload(ccm);
	log_info("reloaded %s: settings, certificates, trust, trunks and "
	    "SCCP profiles", ccm->cfg->config);
}

static void
signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct ccmd	*d = arg;

	(void)what;
	if (sig == SIGHUP) {
		reload(d);
		return;
	}
	log_info("signal %d: exiting", (int)sig);
	event_base_loopbreak(d->ccm.base);
}

static int
signals_start(struct ccmd *d)
{
	const int	 sigs[3] = { SIGHUP, SIGTERM, SIGINT };
	int		 i;

	for (i = 0; i < 3; i++) {
		d->sigs[i] = evsignal_new(d->ccm.base, sigs[i], signal_cb, d);
		if (d->sigs[i] == NULL || event_add(d->sigs[i], NULL) != 0)
			return uc_fail(UC_ERR_INTERNAL, "signal %d", sigs[i]);
	}
	return 0;
}

/* --- Start and stop --------------------------------------------------- */

/* Store, credentials, modules, listeners: everything before the drop. */
static int
ccm_open(struct ccm *ccm)
{
	const struct ccm_config	*c = ccm->cfg;
	int			 r;

	if ((r = store_open(c->db, 0, &ccm->store)) != 0)
		return r;
	if (store_schema_version(ccm->store) < 2)
		return uc_fail(UC_ERR_FORMAT, "%s: schema %d has no call "
		    "control tables", c->db, store_schema_version(ccm->store));
	if ((r = creds_load(c, NULL, &ccm->creds)) != 0)
		return r;
	if ((ccm->base = event_base_new()) == NULL)
		return uc_fail(UC_ERR_INTERNAL, "event_base_new");
	if ((r = auth_init(ccm)) != 0 || (r = registrar_init(ccm)) != 0 ||
	    (r = trunk_load(ccm)) != 0 || (r = b2bua_init(ccm)) != 0 ||
	    (r = keymgr_init(ccm)) != 0 || (r = sipleg_init(ccm)) != 0 ||
	    (r = sccp_init(ccm)) != 0)
		return r;
	return tp_bind(ccm);
}

/* Everything, in reverse; registrations are written out by the
   registrar as it goes. */
static void
ccm_close(struct ccmd *d)
{
	struct ccm	*ccm = &d->ccm;
	struct cfg_hold	*h;
	int		 i;

	sccp_free(ccm);
	sipleg_free(ccm);
	b2bua_free(ccm);
	registrar_free(ccm);
	trunk_free(ccm);
	auth_free(ccm);
	sip_free(ccm);
	tp_stop(ccm);
	keymgr_free(ccm);
	for (i = 0; i < 3; i++)
		if (d->sigs[i] != NULL)
			event_free(d->sigs[i]);
	if (ccm->base != NULL)
		event_base_free(ccm->base);
	creds_unref(ccm->creds);
	store_close(ccm->store);
	while ((h = d->cfgs) != NULL) {
		d->cfgs = h->prev;
		hold_free(h);
	}
}

int
main(int argc, char *argv[])
{
	struct ccmd	 d;
	const char	*path = CCMD_CONF_DEF;
	int		 ch, debug = 0, fg = 0, verbose = 0, r = -1;

	memset(&d, 0, sizeof(d));
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "c:dfvh", longopts, NULL)) != -1)
		switch (ch) {
		case 'c': path = optarg; break;
		case 'd': debug = 1; break;
		case 'f': fg = 1; break;
		case 'v': verbose++; debug = 1; break;
		case 'h': usage(NULL);
		case OPT_VERSION:
			printf("ccmd (ucsec) %s\n", UCSEC_VERSION);
			return 0;
		default: usage("unknown option or missing argument");
		}
	if (optind != argc)
		usage("unexpected argument");
	log_init("ccmd", 0, debug ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO);
	if (config_read(path, &d.cfgs) != 0)
		errx(1, "%s", uc_errdetail());
	d.ccm.cfg = &d.cfgs->c;
	d.cfgs->c.foreground = fg;
	d.cfgs->c.verbose = verbose;
	log_init("ccmd", !fg, debug ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO);
	(void)signal(SIGPIPE, SIG_IGN);
	if (ccm_open(&d.ccm) != 0)
		errx(1, "%s", uc_errdetail());
	if (d.ccm.cfg->user != NULL && priv_drop(d.ccm.cfg->user) != 0)
		errx(1, "%s", uc_errdetail());
	if (!fg && daemon(0, 0) == -1)
		err(1, "daemon");
	if (event_reinit(d.ccm.base) != 0)
		(void)uc_fail(UC_ERR_INTERNAL, "event_reinit");
	else if (tp_start(&d.ccm) == 0 && signals_start(&d) == 0)
		r = 0;
	else
		r = -1;
	if (r != 0) {
		log_errx("%s", uc_errdetail());
		return 1;
	}
	log_info("serving SIP for realm %s, domain %s, and SCCP (keepalive "
	    "%d s, key log %s), store %s", d.ccm.cfg->realm,
	    d.ccm.cfg->domain, d.ccm.cfg->sccp_keepalive,
	    d.ccm.cfg->keylog != NULL ? d.ccm.cfg->keylog : "off",
	    d.ccm.cfg->db);
	r = event_base_dispatch(d.ccm.base);
	ccm_close(&d);
	return r == -1 ? 1 : 0;
}
