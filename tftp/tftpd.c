/*
 * ucsec-tftpd: a TFTP server for phone clusters that signs .sgn files,
 * builds encrypted configs on demand and serves them from a cache.
 * main(): options and config file, signer, bind, drop privileges, run.
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
#include <unistd.h>

#include "conf.h"
#include "daemon.h"
#include "extern.h"
#include "log.h"
#include "p11.h"
#include "signer.h"
#include "uerr.h"

enum {
	OPT_ROOT = 256, OPT_LISTEN, OPT_PORT, OPT_MODE, OPT_SIGN_KEY,
	OPT_SIGN_CERT, OPT_DEVICE_CERTS, OPT_USER, OPT_DIGEST, OPT_MAX_SESS,
	OPT_MAX_CLIENT, OPT_BLKSIZE_MAX, OPT_WINDOW_MAX, OPT_RETRIES,
	OPT_CACHE_BYTES, OPT_CACHE_DIR, OPT_WRITE_DIR, OPT_CONFIG,
	OPT_STRIP_CRED,
};

static const struct option longopts[] = {
	{ "root", required_argument, NULL, OPT_ROOT },
	{ "listen", required_argument, NULL, OPT_LISTEN },
	{ "port", required_argument, NULL, OPT_PORT },
	{ "mode", required_argument, NULL, OPT_MODE },
	{ "sign-key", required_argument, NULL, OPT_SIGN_KEY },
	{ "sign-cert", required_argument, NULL, OPT_SIGN_CERT },
	{ "device-certs", required_argument, NULL, OPT_DEVICE_CERTS },
	{ "user", required_argument, NULL, OPT_USER },
	{ "digest", required_argument, NULL, OPT_DIGEST },
	{ "max-sessions", required_argument, NULL, OPT_MAX_SESS },
	{ "max-per-client", required_argument, NULL, OPT_MAX_CLIENT },
	{ "blksize-max", required_argument, NULL, OPT_BLKSIZE_MAX },
	{ "window-max", required_argument, NULL, OPT_WINDOW_MAX },
	{ "retries", required_argument, NULL, OPT_RETRIES },
	{ "cache-bytes", required_argument, NULL, OPT_CACHE_BYTES },
	{ "cache-dir", required_argument, NULL, OPT_CACHE_DIR },
	{ "write-dir", required_argument, NULL, OPT_WRITE_DIR },
	{ "config", required_argument, NULL, OPT_CONFIG },
	{ "strip-credentials", no_argument, NULL, OPT_STRIP_CRED },
	{ "foreground", no_argument, NULL, 'f' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* For SIGHUP. */
struct reload_ctx {
	struct config	*cfg;
};

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: ucsec-tftpd [-fv] --root dir [--listen addr] "
	    "[--port n]\n\t[--mode mixed|nonsecure] [--sign-key pem|uri] "
	    "[--sign-cert cert]\n\t[--device-certs dir] [--user user] "
	    "[--digest sha1|sha512]\n\t[--max-sessions n] [--max-per-client n] "
	    "[--blksize-max n] [--window-max n]\n\t[--retries n] "
	    "[--cache-bytes n] [--cache-dir dir] [--write-dir dir]\n\t"
	    "[--strip-credentials] [--config file]\n");
	exit(1);
}

/* Setter for a "yes" or "no" config value, stored as 1 or 0. */
static int
set_yesno(void *arg, const char *value)
{
	int	*dst = arg;

	if (strcmp(value, "yes") == 0)
		*dst = 1;
	else if (strcmp(value, "no") == 0)
		*dst = 0;
	else
		return uc_fail(UC_ERR_ARG, "\"%s\": want yes or no", value);
	return 0;
}

/* Config file keys, section [tftpd] or none; same names as the options. */
static void
conf_keys(struct config *c, struct conf_key *k)
{
	const struct conf_key	 keys[] = {
		{ "", "root", conf_set_string, &c->root },
		{ "", "listen", conf_set_string, &c->listen },
		{ "", "port", conf_set_int, &c->port },
		{ "", "mode", conf_set_string, &c->mode },
		{ "", "sign-key", conf_set_string, &c->sign_key },
		{ "", "sign-cert", conf_set_string, &c->sign_cert },
		{ "", "device-certs", conf_set_string, &c->device_certs },
		{ "", "user", conf_set_string, &c->user },
		{ "", "digest", conf_set_string, &c->digest },
		{ "", "max-sessions", conf_set_int, &c->max_sessions },
		{ "", "max-per-client", conf_set_int, &c->max_per_client },
		{ "", "blksize-max", conf_set_int, &c->blksize_max },
		{ "", "window-max", conf_set_int, &c->window_max },
		{ "", "retries", conf_set_int, &c->retries },
		{ "", "cache-mb", conf_set_int, &c->cache_mb },
		{ "", "cache-dir", conf_set_string, &c->cache_dir },
		{ "", "write-dir", conf_set_string, &c->write_dir },
		{ "", "strip-credentials", set_yesno, &c->strip_credentials },
		{ NULL, NULL, NULL, NULL },
	};

	memcpy(k, keys, sizeof(keys));
}

static void
set_str(char **dst, const char *v)
{
	free(*dst);
	if ((*dst = strdup(v)) == NULL)
		err(1, NULL);
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
	case OPT_ROOT: set_str(&c->root, v); break;
	case OPT_LISTEN: set_str(&c->listen, v); break;
	case OPT_PORT: c->port = num("port", v, 0, 65535); break;
	case OPT_MODE: set_str(&c->mode, v); break;
	case OPT_SIGN_KEY: set_str(&c->sign_key, v); break;
	case OPT_SIGN_CERT: set_str(&c->sign_cert, v); break;
	case OPT_DEVICE_CERTS: set_str(&c->device_certs, v); break;
	case OPT_USER: set_str(&c->user, v); break;
	case OPT_DIGEST: set_str(&c->digest, v); break;
	case OPT_MAX_SESS: c->max_sessions = num("max-sessions", v, 1,
	    100000); break;
	case OPT_MAX_CLIENT: c->max_per_client = num("max-per-client", v, 1,
	    100000); break;
	case OPT_BLKSIZE_MAX: c->blksize_max = num("blksize-max", v,
	    TFTP_SEGSIZE, TFTP_BLKSIZE_MAX); break;
	case OPT_WINDOW_MAX: c->window_max = num("window-max", v, 1,
	    TFTP_WINDOW_MAX); break;
	case OPT_RETRIES: c->retries = num("retries", v, 0, 100); break;
	case OPT_CACHE_BYTES: c->cache_bytes = num("cache-bytes", v, 0,
	    INT_MAX); c->cache_mb = -1; break;
	case OPT_CACHE_DIR: set_str(&c->cache_dir, v); break;
	case OPT_WRITE_DIR: set_str(&c->write_dir, v); break;
	case OPT_CONFIG: set_str(&c->config, v); break;
	case OPT_STRIP_CRED: c->strip_credentials = 1; break;
	case 'f': c->foreground = 1; break;
	case 'v': c->verbose = 1; break;
	default: usage();
	}
}

static void
defaults(struct config *c)
{
	memset(c, 0, sizeof(*c));
	set_str(&c->listen, "0.0.0.0");
	set_str(&c->mode, "mixed");
	set_str(&c->digest, "sha1");
	c->port = 69;
	c->max_sessions = TFTPD_SESSIONS_DEF;
	c->max_per_client = TFTPD_PER_CLIENT_DEF;
	c->blksize_max = TFTP_BLKSIZE_MAX;
	c->window_max = TFTPD_WINDOW_DEF;
	c->retries = TFTPD_RETRIES_DEF;
	c->cache_mb = -1;
	c->cache_bytes = TFTPD_CACHE_DEF;
}

/* Config file first, then the command line over it. */
static void
config_load(struct config *c, int argc, char *argv[])
{
	struct conf_key	 keys[20];
	int		 ch;

	defaults(c);
	while ((ch = getopt_long(argc, argv, "fvh", longopts, NULL)) != -1)
		if (ch == OPT_CONFIG)
			set_str(&c->config, optarg);
	if (c->config != NULL) {
		conf_keys(c, keys);
		if (conf_load(c->config, keys) != 0)
			errx(1, "%s", uc_errdetail());
	}
	optind = 1;
	while ((ch = getopt_long(argc, argv, "fvh", longopts, NULL)) != -1)
		opt_apply(c, ch, optarg);
	if (optind != argc || c->root == NULL)
		usage();
	if (c->cache_mb >= 0)
		c->cache_bytes = (long long)c->cache_mb * 1024 * 1024;
	if (c->blksize_max < TFTP_SEGSIZE || c->blksize_max > TFTP_BLKSIZE_MAX ||
	    c->window_max < 1 || c->window_max > TFTP_WINDOW_MAX ||
	    c->max_sessions < 1 || c->max_per_client < 1)
		errx(1, "limits out of range");
}

/* SIGHUP: re-read the limits from the config file. */
static void
reload(void *arg)
{
	struct reload_ctx	*rc = arg;
	struct config		 n, *c = rc->cfg;
	struct conf_key		 keys[20];

	if (c->config == NULL)
		return;
	memset(&n, 0, sizeof(n));
	n.max_sessions = c->max_sessions;
	n.max_per_client = c->max_per_client;
	n.blksize_max = c->blksize_max;
	n.window_max = c->window_max;
	n.retries = c->retries;
	conf_keys(&n, keys);
	if (conf_load(c->config, keys) != 0)
		log_warnx("reload: %s; keeping the old limits", uc_errdetail());
	else if (n.blksize_max >= TFTP_SEGSIZE && n.blksize_max <=
	    TFTP_BLKSIZE_MAX && n.window_max >= 1 && n.window_max <=
	    TFTP_WINDOW_MAX && n.max_sessions >= 1 && n.max_per_client >= 1) {
		/*
		 * XXX root, listen, keys, mode and strip-credentials need a
		 * restart.
		 */
		c->max_sessions = n.max_sessions;
		c->max_per_client = n.max_per_client;
		c->blksize_max = n.blksize_max;
		c->window_max = n.window_max;
		c->retries = n.retries;
	} else
		log_warnx("reload: limits out of range; keeping the old ones");
	free(n.root); free(n.listen); free(n.mode); free(n.sign_key);
	free(n.sign_cert); free(n.device_certs); free(n.user);
	free(n.digest); free(n.cache_dir); free(n.write_dir);
}

/* Make write-dir and cache-dir absolute before daemon(3) changes cwd. */
static void
abs_dir(char **p, const char *what)
{
	char	*r;

	if (*p == NULL)
		return;
	if ((r = realpath(*p, NULL)) == NULL)
		err(1, "--%s %s", what, *p);
	free(*p);
	*p = r;
}

/*
 * Refuse a --write-dir at or under --root: an upload there could be
 * fetched back, and in mixed mode signed on request.
 */
static void
write_dir_check(const struct config *c)
{
	char	*root;
	size_t	 n;

	if (c->write_dir == NULL)
		return;
	if ((root = realpath(c->root, NULL)) == NULL)
		err(1, "--root %s", c->root);
	n = strlen(root);
	if (strncmp(c->write_dir, root, n) == 0 && (c->write_dir[n] == '\0' ||
	    c->write_dir[n] == '/' || strcmp(root, "/") == 0))
		errx(1, "--write-dir %s is inside --root %s: uploads would be "
		    "served (and signed); use a directory outside the root",
		    c->write_dir, root);
	free(root);
}

static struct signer *
signer_setup(const struct config *c)
{
	struct p11_opts	 po;
	struct signer	*s = NULL;

	if (strcmp(c->mode, "nonsecure") == 0)
		return NULL;
	if (strcmp(c->mode, "mixed") != 0)
		errx(1, "--mode %s: mixed or nonsecure", c->mode);
	if (c->sign_key == NULL || c->sign_cert == NULL)
		errx(1, "--mode mixed needs --sign-key and --sign-cert");
	memset(&po, 0, sizeof(po));
	if (keyref_signer_open(c->sign_key, c->sign_cert, &po, &s) != 0)
		errx(1, "%s", uc_errdetail());
	return s;
}

int
main(int argc, char *argv[])
{
	struct config		 cfg;
	struct reload_ctx	 rc;
	struct signer		*signer;
	struct files		*files = NULL;
	struct server		*srv = NULL;
	int			 r;

	config_load(&cfg, argc, argv);
	log_init("ucsec-tftpd", !cfg.foreground,
	    cfg.verbose ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO);
	abs_dir(&cfg.write_dir, "write-dir");
	abs_dir(&cfg.cache_dir, "cache-dir");
	write_dir_check(&cfg);
	signer = signer_setup(&cfg);
	if (files_new(&cfg, signer, &files) != 0 ||
	    server_new(&cfg, files, &srv) != 0)
		errx(1, "%s", uc_errdetail());
	if (cfg.user != NULL)
		if (priv_drop(cfg.user) != 0)
			errx(1, "%s", uc_errdetail());
	if (!cfg.foreground && daemon(0, 0) == -1)
		err(1, "daemon");
	rc.cfg = &cfg;
	server_on_reload(srv, reload, &rc);
	log_info("serving %s on %s port %d, mode %s%s", cfg.root, cfg.listen,
	    cfg.port, signer != NULL ? "mixed" : "nonsecure",
	    cfg.strip_credentials ? ", credentials stripped from configs" : "");
	r = server_run(srv);
	server_free(srv);
	files_free(files);
	signer_free(signer);
	free(cfg.root); free(cfg.listen); free(cfg.mode); free(cfg.sign_key);
	free(cfg.sign_cert); free(cfg.device_certs); free(cfg.user);
	free(cfg.digest); free(cfg.cache_dir); free(cfg.write_dir);
	free(cfg.config);
	return r == 0 ? 0 : 1;
}
