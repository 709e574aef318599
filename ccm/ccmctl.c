/*
 * ccmctl: the call-control administration tool.  Keeps what ccmd(8)
 * reads from the ucsec store (lib/store.h): the SIP settings of each
 * device (protocol, security mode, extension, digest user), digest
 * users, SIP trunks and their security profiles, and lists the
 * registrations ccmd writes behind.
 *
 * No password is stored: a digest user's password becomes one HA1 per
 * algorithm (lib/digest.h), each sealed with AES-256-GCM under the key
 * in the secret key file (lib/seal.h, associated data "user\0realm\0ALG")
 * and the password is wiped.  A trunk's outgoing password is sealed the
 * same way ("trunk\0name\0realm").  Passwords come from a file, a
 * no-echo prompt or one line of standard input, never from argv.
 * See ccmctl(8).
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "cmd.h"
#include "csv.h"
#include "digest.h"
#include "fileio.h"
#include "log.h"
#include "seal.h"
#include "store.h"
#include "ttyread.h"
#include "uerr.h"

#define DB_DEFAULT	"/var/lib/ucsec/ucsec.db"
#define DB_ENV		"UCSEC_DB"
#define KEY_DEFAULT	"/etc/ucsec/ccm-secret.key"
#define PW_MAX		128		/* password bytes */
#define TRUNK_PW_MAX	80		/* fits STORE_SEALED_MAX sealed */
#define PW_FILE_MAX	4096		/* a password file, generously */
#define NONCE_VALID_MAX	86400		/* --nonce-validity, s */
#define IMPORT_FILE_MAX	(16 * 1024 * 1024) /* 100,000 rows of ~160 bytes */
#define IMPORT_ROWS_MAX	100000		/* lines of one import */
#define ALGS_DEFAULT	"SHA-256,MD5,SHA-512-256"
#define DEVICE_CHARS	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz" \
			"0123456789._-"
#define NITEMS(a)	(sizeof(a) / sizeof((a)[0]))

/* Options: one bit each, so a command says which it takes. */
enum opt_id {
	OPT_NONE, OPT_DB, OPT_KEY, OPT_JSON, OPT_PROTO, OPT_SEC, OPT_EXT,
	OPT_DUSER, OPT_PGROUP, OPT_REALM, OPT_PWFILE, OPT_ALGS, OPT_ALLOW,
	OPT_PEER, OPT_TRANSPORT, OPT_DIGEST, OPT_NODIGEST, OPT_NONCE,
	OPT_SUBJECT, OPT_PREFIX, OPT_OUTREALM, OPT_OUTUSER, OPT_OUTPWFILE,
	OPT_FORCE, OPT_DALGS, OPT_OUTMINALG, OPT__MAX
};
_Static_assert(OPT__MAX <= 32, "options are bits of an unsigned");
#define B(o)		(1u << (o))
#define O_COMMON	(B(OPT_DB) | B(OPT_KEY))
#define O_DEVICE	(B(OPT_PROTO) | B(OPT_SEC) | B(OPT_EXT) | \
			B(OPT_DUSER) | B(OPT_PGROUP) | B(OPT_DALGS))
#define O_TRUNK		(B(OPT_PEER) | B(OPT_TRANSPORT) | B(OPT_SEC) | \
			B(OPT_DIGEST) | B(OPT_NODIGEST) | B(OPT_NONCE) | \
			B(OPT_SUBJECT) | B(OPT_ALLOW) | B(OPT_PREFIX) | \
			B(OPT_OUTREALM) | B(OPT_OUTUSER) | B(OPT_OUTPWFILE) | \
			B(OPT_DALGS) | B(OPT_OUTMINALG))

static const struct option longopts[] = {
	{ "db", required_argument, NULL, OPT_DB },
	{ "secret-key", required_argument, NULL, OPT_KEY },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "protocol", required_argument, NULL, OPT_PROTO },
	{ "security", required_argument, NULL, OPT_SEC },
	{ "extension", required_argument, NULL, OPT_EXT },
	{ "digest-user", required_argument, NULL, OPT_DUSER },
	{ "presence-group", required_argument, NULL, OPT_PGROUP },
	{ "realm", required_argument, NULL, OPT_REALM },
	{ "password-file", required_argument, NULL, OPT_PWFILE },
	{ "algorithms", required_argument, NULL, OPT_ALGS },
	{ "allow", required_argument, NULL, OPT_ALLOW },
	{ "peer", required_argument, NULL, OPT_PEER },
	{ "transport", required_argument, NULL, OPT_TRANSPORT },
	{ "digest", no_argument, NULL, OPT_DIGEST },
	{ "no-digest", no_argument, NULL, OPT_NODIGEST },
	{ "nonce-validity", required_argument, NULL, OPT_NONCE },
	{ "x509-subject", required_argument, NULL, OPT_SUBJECT },
	{ "prefix", required_argument, NULL, OPT_PREFIX },
	{ "out-realm", required_argument, NULL, OPT_OUTREALM },
	{ "out-user", required_argument, NULL, OPT_OUTUSER },
	{ "out-password-file", required_argument, NULL, OPT_OUTPWFILE },
	{ "force", no_argument, NULL, OPT_FORCE },
	{ "digest-algorithms", required_argument, NULL, OPT_DALGS },
	{ "out-min-algorithm", required_argument, NULL, OPT_OUTMINALG },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 }
};

struct opts {
	const char	*val[OPT__MAX];	/* argument of each option */
	unsigned	 given;		/* B(OPT_*) seen */
	const char	*arg;		/* the one operand */
	const char	*cmd;		/* "device add", for messages */
};

static const char *progname = "ccmctl";
static const char *db_global;		/* ccmctl --db FILE CMD ... */
static const char *key_global;		/* ccmctl --secret-key FILE CMD */

struct help {
	const char	*group;
	const char	*text;
};

static const struct help helps[] = {
	{ "device", "device add NAME --protocol sip|sccp --security MODE "
	    "--extension N\n"
"                  [--digest-user USER] [--presence-group GROUP]\n"
"                  [--digest-algorithms CHALLENGE]\n"
"       ccmctl device set NAME [the same options]\n"
"       ccmctl device remove NAME [--force]\n"
"       ccmctl device list [--json]\n"
"       ccmctl device show NAME [--json]\n" },
	{ "user", "user add USER --realm REALM [--password-file FILE]\n"
"                  [--algorithms ALGS] [--allow FEATURES]\n"
"       ccmctl user passwd USER --realm REALM [--password-file FILE] "
	    "[--algorithms ALGS]\n"
"       ccmctl user set USER --realm REALM --allow FEATURES\n"
"       ccmctl user remove USER --realm REALM\n"
"       ccmctl user list [--json]\n" },
	{ "trunk", "trunk add NAME --peer HOST[:PORT] --transport udp|tcp|tls "
	    "[--security MODE]\n"
"                  [--digest] [--nonce-validity SECONDS] "
	    "[--x509-subject NAME]\n"
"                  [--digest-algorithms CHALLENGE] [--allow FEATURES] "
	    "[--prefix DIGITS]\n"
"                  [--out-realm REALM --out-user USER "
	    "[--out-password-file FILE]]\n"
"                  [--out-min-algorithm ALG]\n"
"       ccmctl trunk set NAME [the same options] [--no-digest]\n"
"       ccmctl trunk remove NAME\n"
"       ccmctl trunk list [--json]\n"
"       ccmctl trunk show NAME [--json]\n" },
	{ "import", "import FILE.csv\n" },
	{ "list", "list registrations [--json]\n" },
};

static const char help_tail[] =
"\n"
"MODE:      nonsecure, authenticated, encrypted\n"
"ALGS:      comma-separated SHA-256, MD5, SHA-512-256 (default all three)\n"
"CHALLENGE: the algorithms challenged, most preferred first, e.g. MD5 or\n"
"           SHA-256,MD5; \"default\" or \"\" = ccmd's digest_algorithms\n"
"ALG:       the weakest algorithm answered: MD5 (default), SHA-256,\n"
"           SHA-512-256\n"
"FILE.csv:  header device,protocol,security,extension,digest_user,\n"
"           password,realm[,digest_algorithms,presence_group]; mode 0600\n"
"FEATURES:  comma-separated ood-refer, unsolicited-notify, replaces,\n"
"           presence, transmit-security (trunks only), or none\n"
"Passwords: the first line of FILE (\"-\": standard input); else asked\n"
"           twice without echo on a terminal, else one line of standard\n"
"           input.  Never on the command line.\n"
"Common:    --db FILE (default $UCSEC_DB, else " DB_DEFAULT ")\n"
"           --secret-key FILE (default " KEY_DEFAULT "; created\n"
"           mode 0600 when missing)\n"
"See ccmctl(8).\n";

/* Print the usage of group `only` (NULL: all) to f and exit code. */
static void __attribute__((noreturn))
help_print(FILE *f, const char *only, int code)
{
	size_t	 i;
	int	 first = 1;

	for (i = 0; i < NITEMS(helps); i++) {
		if (only != NULL && strcmp(only, helps[i].group) != 0)
			continue;
		fprintf(f, "%s ccmctl %s", first ? "usage:" : "      ",
		    helps[i].text);
		first = 0;
	}
	fputs(help_tail, f);
	exit(code);
}

static void __attribute__((noreturn))
help_all(void)
{
	help_print(stdout, NULL, 0);
}

static void __attribute__((noreturn))
help_device(void)
{
	help_print(stdout, "device", 0);
}

static void __attribute__((noreturn))
help_user(void)
{
	help_print(stdout, "user", 0);
}

static void __attribute__((noreturn))
help_trunk(void)
{
	help_print(stdout, "trunk", 0);
}

/* The long name of option id. */
static const char *
opt_name(int id)
{
	size_t	 i;

	for (i = 0; longopts[i].name != NULL; i++)
		if (longopts[i].val == id)
			return longopts[i].name;
	return "?";
}

/*
 * Every "--name" or "--name=value" before "--" must spell a long option
 * in full: getopt_long would take "--password" for "--password-file".
 * Returns 0 or 2 (usage, message printed without any value).
 */
static int
opts_exact(int argc, char **argv, const char *cmd)
{
	char	 name[32], v[4 * sizeof(name)];
	size_t	 i, n;
	int	 a;

	for (a = 1; a < argc && strcmp(argv[a], "--") != 0; a++) {
		if (strncmp(argv[a], "--", 2) != 0)
			continue;
		n = strcspn(argv[a] + 2, "=");
		for (i = 0; longopts[i].name != NULL; i++)
			if (strlen(longopts[i].name) == n &&
			    strncmp(argv[a] + 2, longopts[i].name, n) == 0)
				break;
		if (longopts[i].name == NULL) {
			snprintf(name, sizeof(name), "%.*s", (int)n,
			    argv[a] + 2);
			return cmd_usage_error("%s: unknown option --%s", cmd,
			    str_vis(v, sizeof(v), name));
		}
	}
	return 0;
}

/*
 * Parse the options of command cmd ("device add"; argv[0] is its last
 * word), allowing the bits in allow (plus --db and --secret-key), and
 * its operand (none when operand is NULL).  --help prints the group's
 * usage and exits 0.  Returns 0 or 2 (usage, message printed).
 */
static int
opts_parse(int argc, char **argv, unsigned allow, const char *cmd,
    const char *operand, struct opts *o)
{
	char	 group[16];
	int	 c, want = operand != NULL;

	memset(o, 0, sizeof(*o));
	o->cmd = cmd;
	o->val[OPT_DB] = db_global;
	o->val[OPT_KEY] = key_global;
	allow |= O_COMMON;
	if (opts_exact(argc, argv, cmd) != 0)
		return 2;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (c == 'h') {
			snprintf(group, sizeof(group), "%.*s",
			    (int)strcspn(cmd, " "), cmd);
			help_print(stdout, group, 0);
		}
		if (c <= OPT_NONE || c >= OPT__MAX) {
			if (optopt > OPT_NONE && optopt < OPT__MAX)
				return cmd_usage_error("%s: option --%s needs "
				    "an argument", cmd, opt_name(optopt));
			if (optopt > ' ' && optopt <= '~')
				return cmd_usage_error("%s: unknown option "
				    "-%c", cmd, optopt);
			return cmd_usage_error("%s: bad option", cmd);
		}
		if (!(B(c) & allow))
			return cmd_usage_error("%s: option --%s does not "
			    "apply", cmd, opt_name(c));
		if (o->given & B(c))
			return cmd_usage_error("%s: option --%s given twice",
			    cmd, opt_name(c));
		o->given |= B(c);
		o->val[c] = optarg != NULL ? optarg : "";
	}
	if (argc - optind != want)
		return want ? cmd_usage_error("%s: give one %s", cmd,
		    operand) : cmd_usage_error("%s: takes no operand", cmd);
	o->arg = want ? argv[optind] : NULL;
	if ((o->given & B(OPT_DIGEST)) && (o->given & B(OPT_NODIGEST)))
		return cmd_usage_error("%s: give --digest or --no-digest, not "
		    "both", cmd);
	return 0;
}

static int
given(const struct opts *o, enum opt_id id)
{
	return (o->given & B(id)) != 0;
}

/* The database path: --db, else $UCSEC_DB, else the default. */
static const char *
db_path(const struct opts *o)
{
	const char	*env = getenv(DB_ENV);

	if (o->val[OPT_DB] != NULL)
		return o->val[OPT_DB];
	return env != NULL && *env != '\0' ? env : DB_DEFAULT;
}

static const char *
key_path(const struct opts *o)
{
	return o->val[OPT_KEY] != NULL ? o->val[OPT_KEY] : KEY_DEFAULT;
}

/*
 * Open the store.  STORE_CREATE for commands that add; otherwise a
 * missing file is an error.  A reader opens read-write when it may (so
 * an older schema is migrated), else read-only.
 */
static int
db_open(const struct opts *o, int flags, struct store **st)
{
	const char	*path = db_path(o);
	struct stat	 sb;

	*st = NULL;
	if (!(flags & STORE_CREATE) && stat(path, &sb) == -1 &&
	    errno == ENOENT)
		return uc_fail(UC_ERR_NOTFOUND, "%s: no such database (device, "
		    "user and trunk add create it; see --db)", path);
	if ((flags & STORE_RDONLY) && access(path, W_OK) == 0)
		flags &= ~STORE_RDONLY;
	return store_open(path, flags, st);
}

/* Roll back, keeping the error detail that made us. */
static void
db_abort(struct store *st)
{
	char	 saved[512];

	snprintf(saved, sizeof(saved), "%s", uc_errdetail());
	(void)store_rollback(st);
	uc_seterr("%s", saved);
}

/* Commit r == 0, else roll back; returns the result. */
static int
db_finish(struct store *st, int r)
{
	if (r == 0)
		return store_commit(st);
	db_abort(st);
	return r;
}

/* A device or trunk name: 1 to 63 of [A-Za-z0-9._-]. */
static int
name_check(const char *name, const char *what)
{
	char	 vis[4 * STORE_NAME_MAX];
	size_t	 n = strlen(name);

	if (n >= 1 && n < STORE_NAME_MAX && strspn(name, DEVICE_CHARS) == n)
		return 0;
	return uc_fail(UC_ERR_ARG, "%s name \"%s\": want 1 to %d of A-Z a-z "
	    "0-9 . _ -", what, str_vis(vis, sizeof(vis), name),
	    STORE_NAME_MAX - 1);
}

/* Copy an option value into a fixed field; too long is an error. */
static int
field_set(char *dst, size_t size, const char *v, const char *what)
{
	if (strlen(v) >= size)
		return uc_fail(UC_ERR_ARG, "%s: longer than %zu bytes", what,
		    size - 1);
	memcpy(dst, v, strlen(v) + 1);
	return 0;
}

/* A decimal integer in [min, max]. */
static int
int_parse(const char *s, long long min, long long max, long long *out,
    const char *what)
{
	char		 vis[64];
	char		*end = NULL;
	long long	 v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (*s == '\0' || *s == '+' || *s == '-' || end == NULL ||
	    *end != '\0' || errno != 0 || v < min || v > max)
		return uc_fail(UC_ERR_ARG, "%s \"%s\": want a number from %lld "
		    "to %lld", what, str_vis(vis, sizeof(vis), s), min, max);
	*out = v;
	return 0;
}

/* Feature names of the STORE_F_* flags (spec 5). */
static const struct {
	const char	*name;
	int		 flag;
} features[] = {
	{ "ood-refer", STORE_F_OOD_REFER },
	{ "unsolicited-notify", STORE_F_UNSOL_NOTIFY },
	{ "replaces", STORE_F_REPLACES },
	{ "presence", STORE_F_PRESENCE },
	{ "transmit-security", STORE_F_TX_SECURITY },
};

/* --allow: comma-separated feature names within mask, or "none". */
static int
allow_parse(const char *s, int mask, int *flags)
{
	char		 vis[64];
	const char	*p = s;
	size_t		 n, i;

	*flags = 0;
	if (*s == '\0' || strcmp(s, "none") == 0)
		return 0;
	for (;;) {
		n = strcspn(p, ",");
		for (i = 0; i < NITEMS(features); i++)
			if (strlen(features[i].name) == n &&
			    strncmp(p, features[i].name, n) == 0 &&
			    (features[i].flag & mask))
				break;
		if (i == NITEMS(features))
			return uc_fail(UC_ERR_ARG, "--allow \"%s\": want "
			    "ood-refer, unsolicited-notify, replaces, "
			    "presence%s, comma-separated, or none",
			    str_vis(vis, sizeof(vis), s),
			    (mask & STORE_F_TX_SECURITY) ?
			    ", transmit-security" : "");
		*flags |= features[i].flag;
		if (p[n] == '\0')
			return 0;
		p += n + 1;
	}
}

/* Flags as "a,b" or "none". */
static const char *
allow_text(int flags, char *buf, size_t sz)
{
	size_t	 i, o = 0;

	buf[0] = '\0';
	for (i = 0; i < NITEMS(features) && o < sz; i++)
		if (flags & features[i].flag)
			o += (size_t)snprintf(buf + o, sz - o, "%s%s",
			    o ? "," : "", features[i].name);
	if (o == 0)
		snprintf(buf, sz, "none");
	return buf;
}

/* --algorithms: a set of DIGEST_* bits (no -sess forms). */
static int
algs_parse(const char *s, unsigned *algs)
{
	char		 vis[64];
	const char	*p = s;
	size_t		 n;
	int		 alg, sess;

	*algs = 0;
	for (;;) {
		n = strcspn(p, ",");
		while (n > 0 && *p == ' ') {
			p++;
			n--;
		}
		if (n == 0 || digest_alg_parse(p, n, &alg, &sess) != 0 ||
		    sess || alg < 0 || alg >= DIGEST_ALG__MAX)
			return uc_fail(UC_ERR_ARG, "--algorithms \"%s\": want "
			    "SHA-256, MD5, SHA-512-256, comma-separated",
			    str_vis(vis, sizeof(vis), s));
		*algs |= 1u << alg;
		if (p[n] == '\0')
			return 0;
		p += n + 1;
	}
}

/*
 * A challenge list (--digest-algorithms, the CSV column): algorithm
 * names separated by commas, most preferred first, each once, no -sess
 * form; "" or "default" is the empty list (ccmd's digest_algorithms).
 * The canonical text ("SHA-256,MD5") into out, the algorithms as bits
 * into *bits (may be NULL).  The detail names what.
 */
static int
dalgs_parse(const char *s, const char *what, char *out, size_t outsz,
    unsigned *bits)
{
	char		 vis[64];
	const char	*p = s, *name;
	size_t		 n, o = 0;
	unsigned	 seen = 0;
	int		 alg, sess;

	out[0] = '\0';
	if (bits != NULL)
		*bits = 0;
	if (*s == '\0' || strcasecmp(s, "default") == 0)
		return 0;
	for (;;) {
		n = strcspn(p, ",");
		while (n > 0 && (*p == ' ' || *p == '\t')) {
			p++;
			n--;
		}
		while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
			n--;
		if (n == 0 || digest_alg_parse(p, n, &alg, &sess) != 0 ||
		    alg < 0 || alg >= DIGEST_ALG__MAX)
			return uc_fail(UC_ERR_ARG, "%s \"%s\": want SHA-256, "
			    "MD5, SHA-512-256, comma-separated, or default",
			    what, str_vis(vis, sizeof(vis), s));
		if (sess)
			return uc_fail(UC_ERR_ARG, "%s \"%s\": no -sess "
			    "algorithms (ccmd challenges without them)", what,
			    str_vis(vis, sizeof(vis), s));
		if (seen & (1u << alg))
			return uc_fail(UC_ERR_ARG, "%s \"%s\": %s twice", what,
			    str_vis(vis, sizeof(vis), s),
			    digest_alg_name(alg, 0));
		seen |= 1u << alg;
		name = digest_alg_name(alg, 0);
		if (o + strlen(name) + 2 > outsz)
			return uc_fail(UC_ERR_ARG, "%s: list too long", what);
		o += (size_t)snprintf(out + o, outsz - o, "%s%s",
		    o ? "," : "", name);
		p += n;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0')
			break;
		p++;
	}
	if (bits != NULL)
		*bits = seen;
	return 0;
}

/* --out-min-algorithm: one name, no -sess; "" or "default" (= MD5). */
static int
min_alg_parse(const char *s, char *out, size_t outsz)
{
	char	 vis[64];
	int	 alg, sess;

	out[0] = '\0';
	if (*s == '\0' || strcasecmp(s, "default") == 0)
		return 0;
	if (digest_alg_parse(s, strlen(s), &alg, &sess) != 0 || sess ||
	    alg < 0 || alg >= DIGEST_ALG__MAX)
		return uc_fail(UC_ERR_ARG, "--out-min-algorithm \"%s\": want "
		    "MD5, SHA-256, SHA-512-256 or default",
		    str_vis(vis, sizeof(vis), s));
	snprintf(out, outsz, "%s", digest_alg_name(alg, 0));
	return 0;
}

/* The sealed HA1 field of u for alg. */
static char *
ha1_field(struct store_duser *u, int alg)
{
	switch (alg) {
	case DIGEST_MD5:
		return u->ha1_md5;
	case DIGEST_SHA256:
		return u->ha1_sha256;
	case DIGEST_SHA512_256:
		return u->ha1_sha512_256;
	}
	return NULL;
}

/* The algorithms u has an HA1 for, as bits. */
static unsigned
duser_algs(const struct store_duser *u)
{
	return (u->ha1_md5[0] ? 1u << DIGEST_MD5 : 0) |
	    (u->ha1_sha256[0] ? 1u << DIGEST_SHA256 : 0) |
	    (u->ha1_sha512_256[0] ? 1u << DIGEST_SHA512_256 : 0);
}

/* Algorithm bits as "SHA-256,MD5" (preference order). */
static const char *
algs_text(unsigned algs, char *buf, size_t sz)
{
	static const int order[] = { DIGEST_SHA256, DIGEST_SHA512_256,
	    DIGEST_MD5 };
	size_t	 i, o = 0;

	buf[0] = '\0';
	for (i = 0; i < NITEMS(order) && o < sz; i++)
		if (algs & (1u << order[i]))
			o += (size_t)snprintf(buf + o, sz - o, "%s%s",
			    o ? "," : "", digest_alg_name(order[i], 0));
	return buf;
}

/* The first line of a password file ("-": standard input) into out. */
static int
pw_from_file(const char *path, char *out, size_t outsz, size_t *outlen)
{
	struct stat	 sb;
	uint8_t		*buf = NULL;
	size_t		 len = 0, n;
	int		 r = 0;

	*outlen = 0;
	if ((r = file_read(path, PW_FILE_MAX, &buf, &len)) != 0)
		return r;
	if (strcmp(path, "-") != 0 && stat(path, &sb) == 0 &&
	    (sb.st_mode & (S_IRGRP | S_IROTH)))
		log_warnx("warning: password file %s is readable by group or "
		    "others (chmod 600 it)", path);
	for (n = 0; n < len && buf[n] != '\n'; n++)
		;
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	if (memchr(buf, '\0', n) != NULL)
		r = uc_fail(UC_ERR_ARG, "password file %s: NUL byte in the "
		    "first line", path);
	else if (n == 0)
		r = uc_fail(UC_ERR_ARG, "password file %s: the first line is "
		    "empty", path);
	else if (n >= outsz)
		r = uc_fail(UC_ERR_ARG, "password file %s: password longer "
		    "than %zu bytes", path, outsz - 1);
	else {
		memcpy(out, buf, n);
		out[n] = '\0';
		*outlen = n;
	}
	OPENSSL_clear_free(buf, len);
	return r;
}

/* One line of standard input (not a terminal), read byte by byte. */
static int
pw_from_stdin(char *out, size_t outsz, size_t *outlen)
{
	ssize_t	 k;
	size_t	 n = 0;
	char	 c;
	int	 r = 0;

	*outlen = 0;
	for (;;) {
		k = read(STDIN_FILENO, &c, 1);
		if (k == -1 && errno == EINTR)
			continue;
		if (k == -1)
			return uc_fail(UC_ERR_IO, "reading the password from "
			    "standard input: %s", strerror(errno));
		if (k == 0 || c == '\n')
			break;
		if (n + 1 >= outsz) {
			r = uc_fail(UC_ERR_ARG, "password on standard input "
			    "longer than %zu bytes", outsz - 1);
			break;
		}
		out[n++] = c;
	}
	c = 0;
	if (r == 0 && n > 0 && out[n - 1] == '\r')
		n--;
	if (r == 0 && n == 0)
		r = uc_fail(UC_ERR_ARG, "no password on standard input (give "
		    "--password-file or one line on standard input)");
	if (r == 0 && memchr(out, '\0', n) != NULL)
		r = uc_fail(UC_ERR_ARG, "NUL byte in the password");
	if (r != 0) {
		OPENSSL_cleanse(out, outsz);
		return r;
	}
	out[n] = '\0';
	*outlen = n;
	return 0;
}

/* Asked twice on the terminal with echo off. */
static int
pw_prompt(const char *what, char *out, size_t outsz, size_t *outlen)
{
	char	 prompt[256], a[PW_MAX + 2], b[PW_MAX + 2];
	size_t	 na = 0, nb = 0;
	int	 r = 0;

	*outlen = 0;
	snprintf(prompt, sizeof(prompt), "Password for %s: ", what);
	if (tty_read_secret(prompt, a, sizeof(a), &na) != 0 ||
	    tty_read_secret("Again: ", b, sizeof(b), &nb) != 0)
		r = uc_fail(UC_ERR_ARG, "no terminal to ask on (use "
		    "--password-file)");
	else if (na == sizeof(a) || na >= outsz)
		r = uc_fail(UC_ERR_ARG, "password longer than %zu bytes",
		    outsz - 1);
	else if (na == 0)
		r = uc_fail(UC_ERR_ARG, "empty password");
	else if (na != nb || memcmp(a, b, na) != 0)
		r = uc_fail(UC_ERR_ARG, "the two passwords differ");
	else if (memchr(a, '\0', na) != NULL)
		r = uc_fail(UC_ERR_ARG, "NUL byte in the password");
	else {
		memcpy(out, a, na);
		out[na] = '\0';
		*outlen = na;
	}
	OPENSSL_cleanse(a, sizeof(a));
	OPENSSL_cleanse(b, sizeof(b));
	return r;
}

/*
 * A password: from file when not NULL, else the terminal when standard
 * input is one, else one line of standard input.  out is wiped by the
 * caller.
 */
static int
pw_get(const char *file, const char *what, char *out, size_t outsz,
    size_t *outlen)
{
	out[0] = '\0';
	if (file != NULL)
		return pw_from_file(file, out, outsz, outlen);
	if (isatty(STDIN_FILENO))
		return pw_prompt(what, out, outsz, outlen);
	return pw_from_stdin(out, outsz, outlen);
}

/* "a\0b\0c" (no trailing NUL) into buf; its length in *n. */
static int
aad_make(const char *a, const char *b, const char *c, char *buf, size_t sz,
    size_t *n)
{
	size_t	 la = strlen(a), lb = strlen(b), lc = strlen(c);

	if (la + lb + lc + 2 > sz)
		return uc_fail(UC_ERR_ARG, "associated data too long");
	memcpy(buf, a, la + 1);
	memcpy(buf + la + 1, b, lb + 1);
	memcpy(buf + la + lb + 2, c, lc);
	*n = la + lb + lc + 2;
	return 0;
}

/* Seal pt (ptlen bytes) under aad into the field out (outsz bytes). */
static int
seal_into(const uint8_t key[SEAL_KEY_LEN], const char *aad, size_t aadlen,
    const void *pt, size_t ptlen, char *out, size_t outsz)
{
	char	*sealed = NULL;
	int	 r;

	if ((r = seal(key, pt, ptlen, (const uint8_t *)aad, aadlen,
	    &sealed)) != 0)
		return r;
	if (strlen(sealed) >= outsz)
		r = uc_fail(UC_ERR_ARG, "sealed value of %zu bytes does not "
		    "fit the store's %zu", strlen(sealed), outsz - 1);
	else
		memcpy(out, sealed, strlen(sealed) + 1);
	free(sealed);
	return r;
}

/*
 * Every HA1 in algs of u (username, realm set) from the password,
 * sealed; the HA1 of the algorithms not in algs are cleared.
 */
static int
duser_seal(struct store_duser *u, unsigned algs, const char *pw,
    size_t pwlen, const uint8_t key[SEAL_KEY_LEN])
{
	char	 ha1[DIGEST_HEX_MAX], aad[256];
	size_t	 aadlen;
	int	 alg, r = 0;

	for (alg = 0; alg < DIGEST_ALG__MAX && r == 0; alg++) {
		ha1_field(u, alg)[0] = '\0';
		if (!(algs & (1u << alg)))
			continue;
		if ((r = digest_ha1(alg, u->username, u->realm, pw, pwlen,
		    ha1)) == 0 &&
		    (r = aad_make(u->username, u->realm,
		    digest_alg_name(alg, 0), aad, sizeof(aad), &aadlen)) == 0)
			r = seal_into(key, aad, aadlen, ha1, strlen(ha1),
			    ha1_field(u, alg), STORE_SEALED_MAX);
		OPENSSL_cleanse(ha1, sizeof(ha1));
	}
	return r;
}

/* Load (create, 0600) the secret key file. */
static int
key_load(const struct opts *o, uint8_t key[SEAL_KEY_LEN])
{
	return seal_key_load(key_path(o), 1, key);
}

/* A JSON array of the comma-separated words in list ("none": []). */
static void
json_words(FILE *f, const char *list)
{
	size_t	 n;
	int	 first = 1;

	fputc('[', f);
	while (*list != '\0' && strcmp(list, "none") != 0) {
		n = strcspn(list, ",");
		fprintf(f, "%s\"%.*s\"", first ? "" : ",", (int)n, list);
		first = 0;
		list += n + (list[n] == ',');
	}
	fputc(']', f);
}

/* A JSON member "name": string, or null for "". */
static void
json_opt(FILE *f, const char *name, const char *s, int first)
{
	fprintf(f, "%s\"%s\":", first ? "" : ",", name);
	if (*s == '\0')
		fputs("null", f);
	else
		json_print_str(f, s);
}

/* A challenge list as a JSON array; null for "" (ccmd's default). */
static void
json_algs(FILE *f, const char *algs)
{
	if (*algs == '\0')
		fputs("null", f);
	else
		json_words(f, algs);
}

/* A text column: "-" for "", control bytes made visible. */
static const char *
text_vis(const char *s, char *buf, size_t sz)
{
	return *s == '\0' ? "-" : str_vis(buf, sz, s);
}

/* The JSON array frame of the list commands. */
struct listing {
	int	 json;
	size_t	 n;
	int64_t	 now;
};

static void
list_item(struct listing *l)
{
	if (l->json)
		printf("%s\n {", l->n ? "," : "");
	l->n++;
}

static void
list_end(struct listing *l)
{
	if (l->json)
		printf("%s]\n", l->n ? "\n" : "");
}

/* ---- devices --------------------------------------------------------- */

static void
sipdev_json(FILE *f, const struct store_sipdev *d)
{
	fputs("\"name\":", f);
	json_print_str(f, d->name);
	fprintf(f, ",\"protocol\":\"%s\",\"security\":\"%s\"",
	    store_proto_name(d->proto), store_secmode_name(d->secmode));
	json_opt(f, "extension", d->extension, 0);
	json_opt(f, "digest_user", d->digest_user, 0);
	fputs(",\"presence_group\":", f);
	json_print_str(f, d->presence_group[0] ? d->presence_group : "Standard");
	fputs(",\"digest_algorithms\":", f);
	json_algs(f, d->digest_algs);
}

/* Values of the device options into d (only those given). */
static int
sipdev_apply(const struct opts *o, struct store_sipdev *d)
{
	int	 r = 0;

	if (given(o, OPT_PROTO))
		r = store_proto_parse(o->val[OPT_PROTO], &d->proto);
	if (r == 0 && given(o, OPT_SEC))
		r = store_secmode_parse(o->val[OPT_SEC], &d->secmode);
	if (r == 0 && given(o, OPT_EXT))
		r = field_set(d->extension, sizeof(d->extension),
		    o->val[OPT_EXT], "--extension");
	if (r == 0 && given(o, OPT_DUSER))
		r = field_set(d->digest_user, sizeof(d->digest_user),
		    o->val[OPT_DUSER], "--digest-user");
	if (r == 0 && given(o, OPT_PGROUP))
		r = field_set(d->presence_group, sizeof(d->presence_group),
		    o->val[OPT_PGROUP], "--presence-group");
	if (r == 0 && given(o, OPT_DALGS))
		r = dalgs_parse(o->val[OPT_DALGS], "--digest-algorithms",
		    d->digest_algs, sizeof(d->digest_algs), NULL);
	if (r == 0 && d->proto == STORE_PROTO_SCCP && d->digest_user[0])
		r = uc_fail(UC_ERR_ARG, "%s: digest authentication is for SIP "
		    "devices (protocol sccp)", d->name);
	return r;
}

struct duser_find {
	const struct store_sipdev *d;
	unsigned	 want;		/* the device's challenge algorithms */
	int		 found;
};

static int
duser_match(const struct store_duser *u, void *arg)
{
	struct duser_find	*f = arg;
	char			 a[64];
	unsigned		 miss;

	if (strcmp(u->username, f->d->digest_user) != 0)
		return 0;
	f->found = 1;
	if ((miss = f->want & ~duser_algs(u)) != 0)
		log_warnx("warning: %s: digest user %s in realm %s has no HA1 "
		    "for %s (ccmctl user passwd %s --realm ... --algorithms)",
		    f->d->name, u->username, u->realm,
		    algs_text(miss, a, sizeof(a)), u->username);
	return 0;
}

/*
 * Warn when the device's digest user is in no realm yet, or lacks an
 * HA1 for an algorithm the device is challenged with.
 */
static void
duser_warn(struct store *st, const struct store_sipdev *d)
{
	struct duser_find	 f;
	char			 buf[sizeof(d->digest_algs)];

	if (d->digest_user[0] == '\0')
		return;
	memset(&f, 0, sizeof(f));
	f.d = d;
	if (dalgs_parse(d->digest_algs, "digest algorithms", buf,
	    sizeof(buf), &f.want) != 0)
		f.want = 0;
	if (store_duser_list(st, duser_match, &f) == 0 && !f.found)
		log_warnx("warning: %s: no digest user %s yet (ccmctl user "
		    "add %s --realm REALM)", d->name, d->digest_user,
		    d->digest_user);
}

static void
sipdev_summary(const struct store_sipdev *d, const char *what)
{
	printf("%s: %s (%s, %s, extension %s, digest user %s%s%s)\n",
	    d->name, what, store_proto_name(d->proto),
	    store_secmode_name(d->secmode),
	    d->extension[0] ? d->extension : "none",
	    d->digest_user[0] ? d->digest_user : "none",
	    d->digest_algs[0] ? ", challenged with " : "", d->digest_algs);
}

/* ccmctl device add NAME --protocol P --security M --extension N ... */
static int
cmd_device_add(int argc, char **argv)
{
	struct opts		 o;
	struct store_sipdev	 d, old;
	struct store		*st = NULL;
	int			 r;

	if (opts_parse(argc, argv, O_DEVICE, "device add", "NAME", &o) != 0)
		return 2;
	if (!given(&o, OPT_PROTO) || !given(&o, OPT_SEC) ||
	    !given(&o, OPT_EXT))
		return cmd_usage_error("device add: --protocol, --security and "
		    "--extension are required");
	memset(&d, 0, sizeof(d));
	if ((r = name_check(o.arg, "device")) != 0)
		return cmd_fail(r);
	snprintf(d.name, sizeof(d.name), "%s", o.arg);
	if ((r = sipdev_apply(&o, &d)) != 0 ||
	    (r = db_open(&o, STORE_CREATE, &st)) != 0 ||
	    (r = store_begin(st)) != 0)
		goto out;
	if ((r = store_sipdev_get(st, d.name, &old)) == 0)
		r = uc_fail(UC_ERR_ARG, "%s: device already exists (change it "
		    "with ccmctl device set)", d.name);
	else if (r == UC_ERR_NOTFOUND)
		r = store_sipdev_put(st, &d);
	if ((r = db_finish(st, r)) == 0) {
		sipdev_summary(&d, "added");
		duser_warn(st, &d);
	}
out:
	store_close(st);
	return r == 0 ? 0 : cmd_fail(r);
}

/* ccmctl device set NAME [options]: only the options given change. */
static int
cmd_device_set(int argc, char **argv)
{
	struct opts		 o;
	struct store_sipdev	 d;
	struct store		*st = NULL;
	int			 r;

	if (opts_parse(argc, argv, O_DEVICE, "device set", "NAME", &o) != 0)
		return 2;
	if ((o.given & O_DEVICE) == 0)
		return cmd_usage_error("device set: nothing to change; give "
		    "--protocol, --security, --extension, --digest-user, "
		    "--presence-group or --digest-algorithms");
	if ((r = name_check(o.arg, "device")) != 0 ||
	    (r = db_open(&o, 0, &st)) != 0 || (r = store_begin(st)) != 0)
		goto out;
	if ((r = store_sipdev_get(st, o.arg, &d)) == UC_ERR_NOTFOUND)
		r = uc_fail(r, "%s: no such device (add it with ccmctl device "
		    "add)", o.arg);
	if (r == 0 && (r = sipdev_apply(&o, &d)) == 0)
		r = store_sipdev_put(st, &d);
	if ((r = db_finish(st, r)) == 0) {
		sipdev_summary(&d, "updated");
		duser_warn(st, &d);
	}
out:
	store_close(st);
	return r == 0 ? 0 : cmd_fail(r);
}

/*
 * ccmctl device remove NAME [--force]: the device row goes with its
 * CAPF operation and certificate records, so those need --force.
 */
static int
cmd_device_remove(int argc, char **argv)
{
	struct opts		 o;
	struct capf_task	 t;
	struct store		*st = NULL;
	int			 r, ncert = 0, task;

	if (opts_parse(argc, argv, B(OPT_FORCE), "device remove", "NAME",
	    &o) != 0)
		return 2;
	if ((r = name_check(o.arg, "device")) != 0 ||
	    (r = db_open(&o, 0, &st)) != 0 || (r = store_begin(st)) != 0)
		goto out;
	task = store_capf_get(st, o.arg, &t) == 0;
	OPENSSL_cleanse(t.pwhash, sizeof(t.pwhash));
	if ((r = store_cert_count(st, o.arg, &ncert)) == 0 &&
	    (task || ncert > 0) && !given(&o, OPT_FORCE))
		r = uc_fail(UC_ERR_ARG, "%s: has %s%s%d certificate record%s; "
		    "give --force to delete them with the device", o.arg,
		    task ? "a CAPF operation" : "", task ? " and " : "", ncert,
		    ncert == 1 ? "" : "s");
	if (r == 0 && (r = store_device_del(st, o.arg)) == UC_ERR_NOTFOUND)
		r = uc_fail(r, "%s: no such device", o.arg);
	if ((r = db_finish(st, r)) == 0)
		printf("%s: removed\n", o.arg);
out:
	store_close(st);
	return r == 0 ? 0 : cmd_fail(r);
}

static int
device_one(const struct store_sipdev *d, void *arg)
{
	struct listing	*l = arg;
	char		 b1[64], b2[256], b3[256];

	if (!l->json && l->n == 0)
		printf("%-20s %-5s %-14s %-10s %-16s %-16s %s\n", "DEVICE",
		    "PROTO", "SECURITY", "EXTENSION", "DIGEST-USER",
		    "CHALLENGE", "PRESENCE-GROUP");
	list_item(l);
	if (l->json) {
		sipdev_json(stdout, d);
		putchar('}');
	} else
		printf("%-20s %-5s %-14s %-10s %-16s %-16s %s\n", d->name,
		    store_proto_name(d->proto),
		    store_secmode_name(d->secmode),
		    text_vis(d->extension, b1, sizeof(b1)),
		    text_vis(d->digest_user, b2, sizeof(b2)),
		    d->digest_algs[0] ? d->digest_algs : "default",
		    d->presence_group[0] ? str_vis(b3, sizeof(b3),
		    d->presence_group) : "Standard");
	return 0;
}

/* ccmctl device list [--json] */
static int
cmd_device_list(int argc, char **argv)
{
	struct opts	 o;
	struct listing	 l;
	struct store	*st = NULL;
	int		 r;

	if (opts_parse(argc, argv, B(OPT_JSON), "device list", NULL, &o) != 0)
		return 2;
	memset(&l, 0, sizeof(l));
	l.json = given(&o, OPT_JSON);
	if ((r = db_open(&o, STORE_RDONLY, &st)) != 0)
		return cmd_fail(r);
	if (l.json)
		putchar('[');
	r = store_sipdev_list(st, device_one, &l);
	list_end(&l);
	store_close(st);
	return r == 0 ? 0 : cmd_fail(r);
}

/* ccmctl device show NAME [--json] */
static int
cmd_device_show(int argc, char **argv)
{
	struct opts		 o;
	struct store_sipdev	 d;
	struct store		*st = NULL;
	char			 b[256];
	int			 r, ncert = 0;

	if (opts_parse(argc, argv, B(OPT_JSON), "device show", "NAME",
	    &o) != 0)
		return 2;
	if ((r = name_check(o.arg, "device")) != 0 ||
	    (r = db_open(&o, STORE_RDONLY, &st)) != 0)
		goto out;
	if ((r = store_sipdev_get(st, o.arg, &d)) == UC_ERR_NOTFOUND)
		r = uc_fail(r, "%s: no such device", o.arg);
	if (r != 0 || (r = store_cert_count(st, o.arg, &ncert)) != 0)
		goto out;
	if (given(&o, OPT_JSON)) {
		putchar('{');
		sipdev_json(stdout, &d);
		printf(",\"certificates\":%d}\n", ncert);
	} else {
		printf("Device:          %s\n", d.name);
		printf("Protocol:        %s\n", store_proto_name(d.proto));
		printf("Security:        %s\n", store_secmode_name(d.secmode));
		printf("Extension:       %s\n", text_vis(d.extension, b,
		    sizeof(b)));
		printf("Digest user:     %s\n", text_vis(d.digest_user, b,
		    sizeof(b)));
		printf("Presence group:  %s\n", d.presence_group[0] ?
		    str_vis(b, sizeof(b), d.presence_group) : "Standard");
		printf("Challenge algs:  %s\n", d.digest_algs[0] ?
		    str_vis(b, sizeof(b), d.digest_algs) :
		    "default (ccmd's digest_algorithms)");
		printf("Certificates:    %d\n", ncert);
	}
out:
	store_close(st);
	return r == 0 ? 0 : cmd_fail(r);
}

/* ---- digest users ---------------------------------------------------- */

/* The user operand and --realm into u (key fields only). */
static int
duser_key(const struct opts *o, struct store_duser *u)
{
	int	 r;

	memset(u, 0, sizeof(*u));
	if ((r = field_set(u->username, sizeof(u->username), o->arg,
	    "user name")) != 0 ||
	    (r = field_set(u->realm, sizeof(u->realm), o->val[OPT_REALM],
	    "--realm")) != 0)
		return r;
	return 0;
}

/*
 * The new password of u, sealed per algorithm in algs: the key is
 * loaded (or created) first, so a bad key file fails before the prompt.
 */
static int
duser_password(const struct opts *o, struct store_duser *u, unsigned algs)
{
	uint8_t	 key[SEAL_KEY_LEN];
	char	 pw[PW_MAX + 1], what[256];
	size_t	 pwlen = 0;
	int	 r;

	snprintf(what, sizeof(what), "%s in realm %s", u->username, u->realm);
	if ((r = key_load(o, key)) == 0 &&
	    (r = pw_get(o->val[OPT_PWFILE], what, pw, sizeof(pw),
	    &pwlen)) == 0)
		r = duser_seal(u, algs, pw, pwlen, key);
	OPENSSL_cleanse(pw, sizeof(pw));
	OPENSSL_cleanse(key, sizeof(key));
	return r;
}

/* Write u: add wants no such user, passwd and set an existing one. */
static int
duser_commit(struct store *st, struct store_duser *u, int create)
{
	struct store_duser	 old;
	int			 r;

	if ((r = store_begin(st)) != 0)
		return r;
	r = store_duser_get(st, u->username, u->realm, &old);
	OPENSSL_cleanse(&old, sizeof(old));
	if (create && r == 0)
		r = uc_fail(UC_ERR_ARG, "%s: user already exists in realm %s "
		    "(change the password with ccmctl user passwd)",
		    u->username, u->realm);
	else if (create && r == UC_ERR_NOTFOUND)
		r = 0;
	else if (r == UC_ERR_NOTFOUND)
		r = uc_fail(r, "%s: no such user in realm %s", u->username,
		    u->realm);
	if (r == 0) {
		u->changed = 0;
		r = store_duser_put(st, u);
	}
	return db_finish(st, r);
}

static void
duser_summary(const struct store_duser *u, const char *what)
{
	char	 a[64], f[128];

	printf("%s: %s in realm %s (HA1 %s; allow %s)\n", u->username, what,
	    u->realm, algs_text(duser_algs(u), a, sizeof(a)),
	    allow_text(u->flags, f, sizeof(f)));
}

/* ccmctl user add USER --realm R [--password-file F] [...] */
static int
cmd_user_add(int argc, char **argv)
{
	struct opts		 o;
	struct store_duser	 u, old;
	struct store		*st = NULL;
	unsigned		 algs = 0;
	int			 r;

	if (opts_parse(argc, argv, B(OPT_REALM) | B(OPT_PWFILE) |
	    B(OPT_ALGS) | B(OPT_ALLOW), "user add", "USER", &o) != 0)
		return 2;
	if (!given(&o, OPT_REALM))
		return cmd_usage_error("%s: --realm is required", o.cmd);
	if ((r = duser_key(&o, &u)) != 0 ||
	    (r = algs_parse(given(&o, OPT_ALGS) ? o.val[OPT_ALGS] :
	    ALGS_DEFAULT, &algs)) != 0 ||
	    (given(&o, OPT_ALLOW) && (r = allow_parse(o.val[OPT_ALLOW],
	    STORE_F_ALL & ~STORE_F_TX_SECURITY, &u.flags)) != 0) ||
	    (r = db_open(&o, STORE_CREATE, &st)) != 0)
		goto out;
	/* Refuse a duplicate before asking for a password. */
	if ((r = store_duser_get(st, u.username, u.realm, &old)) == 0)
		r = uc_fail(UC_ERR_ARG, "%s: user already exists in realm %s "
		    "(change the password with ccmctl user passwd)",
		    u.username, u.realm);
	else if (r == UC_ERR_NOTFOUND)
		r = 0;
	OPENSSL_cleanse(&old, sizeof(old));
	if (r == 0 && (r = duser_password(&o, &u, algs)) == 0 &&
	    (r = duser_commit(st, &u, 1)) == 0)
		duser_summary(&u, "added");
out:
	OPENSSL_cleanse(&u, sizeof(u));
	store_close(st);
	return r == 0 ? 0 : cmd_fail(r);
}

/* ccmctl user passwd USER --realm R [--password-file F] [--algorithms] */
static int
cmd_user_passwd(int argc, char **argv)
{
	struct opts		 o;
	struct store_duser	 k, u;
	struct store		*st = NULL;
	unsigned		 algs = 0;
	int			 r;

	memset(&u, 0, sizeof(u));
	if (opts_parse(argc, argv, B(OPT_REALM) | B(OPT_PWFILE) |
	    B(OPT_ALGS), "user passwd", "USER", &o) != 0)
		return 2;
	if (!given(&o, OPT_REALM))
		return cmd_usage_error("%s: --realm is required", o.cmd);
	if ((r = duser_key(&o, &k)) != 0 ||
	    (given(&o, OPT_ALGS) && (r = algs_parse(o.val[OPT_ALGS],
	    &algs)) != 0) ||
	    (r = db_open(&o, 0, &st)) != 0)
		goto out;
	if ((r = store_duser_get(st, k.username, k.realm, &u)) ==
	    UC_ERR_NOTFOUND)
		r = uc_fail(r, "%s: no such user in realm %s", k.username,
		    k.realm);
	if (r != 0)
		goto out;
	if (algs == 0)
		algs = duser_algs(&u);
	if ((r = duser_password(&o, &u, algs)) == 0 &&
	    (r = duser_commit(st, &u, 0)) == 0)
		duser_summary(&u, "password changed");
out:
	OPENSSL_cleanse(&u, sizeof(u));
	store_close(st);
	return r == 0 ? 0 : cmd_fail(r);
}

/* ccmctl user set USER --realm R --allow FEATURES */
static int
cmd_user_set(int argc, char **argv)
{
	struct opts		 o;
	struct store_duser	 k, u;
	struct store		*st = NULL;
	int			 r, flags = 0;

	memset(&u, 0, sizeof(u));
	if (opts_parse(argc, argv, B(OPT_REALM) | B(OPT_ALLOW), "user set",
	    "USER", &o) != 0)
		return 2;
	if (!given(&o, OPT_REALM))
		return cmd_usage_error("%s: --realm is required", o.cmd);
	if (!given(&o, OPT_ALLOW))
		return cmd_usage_error("user set: nothing to change; give "
		    "--allow");
	if ((r = duser_key(&o, &k)) != 0 ||
	    (r = allow_parse(o.val[OPT_ALLOW], STORE_F_ALL &
	    ~STORE_F_TX_SECURITY, &flags)) != 0 ||
	    (r = db_open(&o, 0, &st)) != 0 || (r = store_begin(st)) != 0)
		goto out;
	if ((r = store_duser_get(st, k.username, k.realm, &u)) ==
	    UC_ERR_NOTFOUND)
		r = uc_fail(r, "%s: no such user in realm %s", k.username,
		    k.realm);
	if (r == 0) {
		u.flags = flags;
		r = store_duser_put(st, &u);
	}
	if ((r = db_finish(st, r)) == 0)
		duser_summary(&u, "updated");
out:
	OPENSSL_cleanse(&u, sizeof(u));
	store_close(st);
	return r == 0 ? 0 : cmd_fail(r);
}

/* ccmctl user remove USER --realm R */
static int
cmd_user_remove(int argc, char **argv)
{
	struct opts		 o;
	struct store_duser	 u;
	struct store		*st = NULL;
	int			 r;

	if (opts_parse(argc, argv, B(OPT_REALM), "user remove", "USER",
	    &o) != 0)
		return 2;
	if (!given(&o, OPT_REALM))
		return cmd_usage_error("%s: --realm is required", o.cmd);
	if ((r = duser_key(&o, &u)) != 0 || (r = db_open(&o, 0, &st)) != 0)
		goto out;
	if ((r = store_duser_del(st, u.username, u.realm)) == 0)
		printf("%s: removed from realm %s\n", u.username, u.realm);
	else if (r == UC_ERR_NOTFOUND)
		r = uc_fail(r, "%s: no such user in realm %s", u.username,
		    u.realm);
out:
	store_close(st);
	return r == 0 ? 0 : cmd_fail(r);
}

static int
user_one(const struct store_duser *u, void *arg)
{
	struct listing	*l = arg;
	char		 a[64], f[128], t[32], b1[256], b2[256];

	if (!l->json && l->n == 0)
		printf("%-16s %-16s %-26s %-20s %s\n", "USER", "REALM",
		    "HA1", "ALLOW", "CHANGED");
	list_item(l);
	algs_text(duser_algs(u), a, sizeof(a));
	allow_text(u->flags, f, sizeof(f));
	time_iso(u->changed, t, sizeof(t));
	if (!l->json) {
		printf("%-16s %-16s %-26s %-20s %s\n",
		    str_vis(b1, sizeof(b1), u->username),
		    str_vis(b2, sizeof(b2), u->realm), a, f, t);
		return 0;
	}
	fputs("\"username\":", stdout);
	json_print_str(stdout, u->username);
	fputs(",\"realm\":", stdout);
	json_print_str(stdout, u->realm);
	fputs(",\"algorithms\":", stdout);
	json_words(stdout, a);
	fputs(",\"allow\":", stdout);
	json_words(stdout, f);
	fputs(",\"changed\":", stdout);
	if (u->changed == 0)
		fputs("null}", stdout);
	else
		printf("\"%s\"}", t);
	return 0;
}

/* ccmctl user list [--json]: no HA1, sealed or not, is printed. */
static int
cmd_user_list(int argc, char **argv)
{
	struct opts	 o;
	struct listing	 l;
	struct store	*st = NULL;
	int		 r;

	if (opts_parse(argc, argv, B(OPT_JSON), "user list", NULL, &o) != 0)
		return 2;
	memset(&l, 0, sizeof(l));
	l.json = given(&o, OPT_JSON);
	if ((r = db_open(&o, STORE_RDONLY, &st)) != 0)
		return cmd_fail(r);
	if (l.json)
		putchar('[');
	r = store_duser_list(st, user_one, &l);
	list_end(&l);
	store_close(st);
	return r == 0 ? 0 : cmd_fail(r);
}

/* ---- trunks ------------------------------------------------------------ */

/*
 * --peer: "host", "host:port", "[v6]", "[v6]:port" or a bare IPv6
 * address (two colons or more: no port).
 */
static int
peer_parse(const char *s, struct store_trunk *t)
{
	char		 vis_[128];
	const char	*host = s, *colon, *port = NULL;
	size_t		 hlen;
	long long	 p = 0;

	if (*s == '[') {
		if ((colon = strchr(s, ']')) == NULL ||
		    (colon[1] != '\0' && colon[1] != ':'))
			goto bad;
		host = s + 1;
		hlen = (size_t)(colon - host);
		if (colon[1] == ':')
			port = colon + 2;
	} else if ((colon = strchr(s, ':')) != NULL &&
	    strchr(colon + 1, ':') == NULL) {
		hlen = (size_t)(colon - s);
		port = colon + 1;
	} else
		hlen = strlen(s);
	if (hlen == 0 || hlen >= sizeof(t->peer) ||
	    strcspn(host, " \t\"\\[]") < hlen)
		goto bad;
	if (port != NULL && int_parse(port, 1, 65535, &p, "--peer port") != 0)
		return UC_ERR_ARG;
	memcpy(t->peer, host, hlen);
	t->peer[hlen] = '\0';
	t->port = (int)p;
	return 0;
bad:
	return uc_fail(UC_ERR_ARG, "--peer \"%s\": want HOST, HOST:PORT or "
	    "[IPV6]:PORT", str_vis(vis_, sizeof(vis_), s));
}

/*
 * The new outgoing password of t, sealed under "trunk\0name\0realm";
 * or, when only the realm changed, the old secret unsealed and sealed
 * again under the new realm.
 */
static int
trunk_seal(const struct opts *o, struct store_trunk *t,
    const char *old_realm, int ask)
{
	uint8_t	 key[SEAL_KEY_LEN];
	char	 pw[TRUNK_PW_MAX + 1], aad[256], what[320];
	size_t	 pwlen = 0, aadlen;
	int	 r;

	if ((r = key_load(o, key)) != 0)
		return r;
	snprintf(what, sizeof(what), "%s in realm %s (trunk %s)", t->out_user,
	    t->out_realm, t->name);
	if (ask)
		r = pw_get(o->val[OPT_OUTPWFILE], what, pw, sizeof(pw),
		    &pwlen);
	else if ((r = aad_make("trunk", t->name, old_realm, aad, sizeof(aad),
	    &aadlen)) == 0)
		r = unseal(key, aad, aadlen, t->out_secret, (uint8_t *)pw,
		    sizeof(pw), &pwlen);
	if (r == 0 && (r = aad_make("trunk", t->name, t->out_realm, aad,
	    sizeof(aad), &aadlen)) == 0)
		r = seal_into(key, aad, aadlen, pw, pwlen, t->out_secret,
		    sizeof(t->out_secret));
	OPENSSL_cleanse(pw, sizeof(pw));
	OPENSSL_cleanse(key, sizeof(key));
	return r;
}

/* The trunk options given into t (no credentials yet). */
static int
trunk_apply(const struct opts *o, struct store_trunk *t, int create)
{
	long long	 v;
	int		 r = 0, tp = t->transport;

	if (given(o, OPT_PEER))
		r = peer_parse(o->val[OPT_PEER], t);
	if (r == 0 && given(o, OPT_TRANSPORT))
		r = store_transport_parse(o->val[OPT_TRANSPORT],
		    &t->transport);
	if (r == 0 && given(o, OPT_SEC))
		r = store_secmode_parse(o->val[OPT_SEC], &t->secmode);
	else if (r == 0 && (create || tp != t->transport))
		t->secmode = t->transport == STORE_TP_TLS ?
		    STORE_SEC_ENCRYPTED : STORE_SEC_NONSECURE;
	if (given(o, OPT_DIGEST) || given(o, OPT_NODIGEST))
		t->digest = given(o, OPT_DIGEST);
	if (r == 0 && given(o, OPT_NONCE) && (r = int_parse(o->val[OPT_NONCE],
	    0, NONCE_VALID_MAX, &v, "--nonce-validity")) == 0)
		t->nonce_validity = (int)v;
	if (r == 0 && given(o, OPT_SUBJECT))
		r = field_set(t->x509_subject, sizeof(t->x509_subject),
		    o->val[OPT_SUBJECT], "--x509-subject");
	if (r == 0 && given(o, OPT_ALLOW))
		r = allow_parse(o->val[OPT_ALLOW], STORE_F_ALL, &t->flags);
	if (r == 0 && given(o, OPT_PREFIX))
		r = field_set(t->prefix, sizeof(t->prefix), o->val[OPT_PREFIX],
		    "--prefix");
	if (r == 0 && given(o, OPT_OUTREALM))
		r = field_set(t->out_realm, sizeof(t->out_realm),
		    o->val[OPT_OUTREALM], "--out-realm");
	if (r == 0 && given(o, OPT_OUTUSER))
		r = field_set(t->out_user, sizeof(t->out_user),
		    o->val[OPT_OUTUSER], "--out-user");
	if (r == 0 && given(o, OPT_DALGS))
		r = dalgs_parse(o->val[OPT_DALGS], "--digest-algorithms",
		    t->digest_algs, sizeof(t->digest_algs), NULL);
	if (r == 0 && given(o, OPT_OUTMINALG))
		r = min_alg_parse(o->val[OPT_OUTMINALG], t->out_min_alg,
		    sizeof(t->out_min_alg));
	if (r != 0)
		return r;
	/* RFC 5922: by default the peer's certificate must name the host. */
	if (t->transport == STORE_TP_TLS && t->x509_subject[0] == '\0')
		snprintf(t->x509_subject, sizeof(t->x509_subject), "%s",
		    t->peer);
	if (t->transport != STORE_TP_TLS && t->secmode != STORE_SEC_NONSECURE)
		return uc_fail(UC_ERR_ARG, "trunk %s: security %s needs "
		    "transport tls", t->name, store_secmode_name(t->secmode));
	return 0;
}

/*
 * Outgoing credentials after trunk_apply: cleared with --out-user "",
 * sealed anew when a password is given or a user is newly set, resealed
 * when only the realm changed.
 */
static int
trunk_creds(const struct opts *o, struct store_trunk *t,
    const struct store_trunk *old)
{
	int	 ask;

	if (t->out_user[0] == '\0') {
		if (given(o, OPT_OUTPWFILE) || (given(o, OPT_OUTREALM) &&
		    o->val[OPT_OUTREALM][0] != '\0'))
			return uc_fail(UC_ERR_ARG, "%s: --out-realm and "
			    "--out-password-file need --out-user", o->cmd);
		t->out_realm[0] = '\0';
		OPENSSL_cleanse(t->out_secret, sizeof(t->out_secret));
		return 0;
	}
	if (t->out_realm[0] == '\0')
		return uc_fail(UC_ERR_ARG, "%s: --out-user needs --out-realm "
		    "(the realm whose challenges the trunk answers)", o->cmd);
	ask = given(o, OPT_OUTPWFILE) || old->out_secret[0] == '\0' ||
	    strcmp(old->out_user, t->out_user) != 0;
	if (!ask && strcmp(old->out_realm, t->out_realm) == 0)
		return 0;
	return trunk_seal(o, t, old->out_realm, ask);
}

static void
trunk_json(FILE *f, const struct store_trunk *t)
{
	char	 a[160];

	fputs("\"name\":", f);
	json_print_str(f, t->name);
	fputs(",\"peer\":", f);
	json_print_str(f, t->peer);
	fprintf(f, ",\"port\":%d,\"transport\":\"%s\",\"security\":\"%s\","
	    "\"digest\":%s,\"nonce_validity\":%d", t->port != 0 ? t->port :
	    t->transport == STORE_TP_TLS ? 5061 : 5060,
	    store_transport_name(t->transport),
	    store_secmode_name(t->secmode), t->digest ? "true" : "false",
	    t->nonce_validity);
	json_opt(f, "x509_subject", t->x509_subject, 0);
	fputs(",\"allow\":", f);
	json_words(f, allow_text(t->flags, a, sizeof(a)));
	json_opt(f, "prefix", t->prefix, 0);
	json_opt(f, "out_realm", t->out_realm, 0);
	json_opt(f, "out_user", t->out_user, 0);
	fprintf(f, ",\"out_password_set\":%s", t->out_secret[0] ? "true" :
	    "false");
	fputs(",\"digest_algorithms\":", f);
	json_algs(f, t->digest_algs);
	fputs(",\"out_min_algorithm\":", f);
	json_print_str(f, t->out_min_alg[0] ? t->out_min_alg : "MD5");
}

static void
trunk_summary(const struct store_trunk *t, const char *what)
{
	printf("%s: %s (%s %s, %s%s%s)\n", t->name, what,
	    store_transport_name(t->transport), t->peer,
	    store_secmode_name(t->secmode), t->digest ? ", digest" : "",
	    t->out_secret[0] ? ", outgoing credentials" : "");
}

/* Add (create) or change trunk o->arg in one transaction. */
static int
trunk_change(const struct opts *o, int create)
{
	struct store_trunk	 t, old;
	struct store		*st = NULL;
	int			 r;

	memset(&t, 0, sizeof(t));
	memset(&old, 0, sizeof(old));
	if ((r = name_check(o->arg, "trunk")) != 0 ||
	    (r = db_open(o, create ? STORE_CREATE : 0, &st)) != 0)
		goto out;
	snprintf(t.name, sizeof(t.name), "%s", o->arg);
	r = store_trunk_get(st, t.name, &old);
	if (create && r == 0)
		r = uc_fail(UC_ERR_ARG, "%s: trunk already exists (change it "
		    "with ccmctl trunk set)", t.name);
	else if (create && r == UC_ERR_NOTFOUND) {
		memcpy(old.name, t.name, sizeof(old.name));
		r = 0;
	} else if (r == UC_ERR_NOTFOUND)
		r = uc_fail(r, "%s: no such trunk (add it with ccmctl trunk "
		    "add)", t.name);
	if (r != 0)
		goto out;
	t = old;
	if ((r = trunk_apply(o, &t, create)) != 0 ||
	    (r = trunk_creds(o, &t, &old)) != 0 ||
	    (r = store_begin(st)) != 0)
		goto out;
	/* Re-read: another ccmctl may have changed it meanwhile. */
	r = store_trunk_get(st, t.name, &old);
	if (create ? r != UC_ERR_NOTFOUND : r != 0)
		r = uc_fail(UC_ERR_IO, "%s: trunk changed meanwhile; try "
		    "again", t.name);
	else
		r = store_trunk_put(st, &t);
	if ((r = db_finish(st, r)) == 0)
		trunk_summary(&t, create ? "added" : "updated");
out:
	OPENSSL_cleanse(&t, sizeof(t));
	OPENSSL_cleanse(&old, sizeof(old));
	store_close(st);
	return r;
}

/* ccmctl trunk add NAME --peer HOST[:PORT] --transport T [...] */
static int
cmd_trunk_add(int argc, char **argv)
{
	struct opts	 o;
	int		 r;

	if (opts_parse(argc, argv, O_TRUNK & ~B(OPT_NODIGEST), "trunk add",
	    "NAME", &o) != 0)
		return 2;
	if (!given(&o, OPT_PEER) || !given(&o, OPT_TRANSPORT))
		return cmd_usage_error("trunk add: --peer and --transport are "
		    "required");
	if ((given(&o, OPT_OUTREALM) || given(&o, OPT_OUTPWFILE)) &&
	    !given(&o, OPT_OUTUSER))
		return cmd_usage_error("trunk add: --out-realm and "
		    "--out-password-file go with --out-user");
	r = trunk_change(&o, 1);
	return r == 0 ? 0 : cmd_fail(r);
}

/* ccmctl trunk set NAME [options]: only the options given change. */
static int
cmd_trunk_set(int argc, char **argv)
{
	struct opts	 o;
	int		 r;

	if (opts_parse(argc, argv, O_TRUNK, "trunk set", "NAME", &o) != 0)
		return 2;
	if ((o.given & O_TRUNK) == 0)
		return cmd_usage_error("trunk set: nothing to change");
	r = trunk_change(&o, 0);
	return r == 0 ? 0 : cmd_fail(r);
}

/* ccmctl trunk remove NAME */
static int
cmd_trunk_remove(int argc, char **argv)
{
	struct opts	 o;
	struct store	*st = NULL;
	int		 r;

	if (opts_parse(argc, argv, 0, "trunk remove", "NAME", &o) != 0)
		return 2;
	if ((r = name_check(o.arg, "trunk")) != 0 ||
	    (r = db_open(&o, 0, &st)) != 0)
		goto out;
	if ((r = store_trunk_del(st, o.arg)) == 0)
		printf("%s: removed\n", o.arg);
	else if (r == UC_ERR_NOTFOUND)
		r = uc_fail(r, "%s: no such trunk", o.arg);
out:
	store_close(st);
	return r == 0 ? 0 : cmd_fail(r);
}

static int
trunk_one(const struct store_trunk *t, void *arg)
{
	struct listing	*l = arg;
	char		 a[160], b1[300], b2[64], pr[16];

	if (!l->json && l->n == 0)
		printf("%-16s %-4s %-28s %-14s %-6s %-16s %-8s %s\n", "TRUNK",
		    "TP", "PEER", "SECURITY", "DIGEST", "CHALLENGE", "PREFIX",
		    "ALLOW");
	list_item(l);
	if (l->json) {
		trunk_json(stdout, t);
		putchar('}');
		return 0;
	}
	snprintf(pr, sizeof(pr), "%d", t->port != 0 ? t->port :
	    t->transport == STORE_TP_TLS ? 5061 : 5060);
	if (strchr(t->peer, ':') != NULL)
		snprintf(b1, sizeof(b1), "[%.*s]:%.8s", 256, t->peer, pr);
	else
		snprintf(b1, sizeof(b1), "%.*s:%.8s", 256, t->peer, pr);
	printf("%-16s %-4s %-28s %-14s %-6s %-16s %-8s %s\n", t->name,
	    store_transport_name(t->transport), b1,
	    store_secmode_name(t->secmode), t->digest ? "yes" : "no",
	    t->digest_algs[0] ? t->digest_algs : "default",
	    text_vis(t->prefix, b2, sizeof(b2)), allow_text(t->flags, a,
	    sizeof(a)));
	return 0;
}

/* ccmctl trunk list [--json] */
static int
cmd_trunk_list(int argc, char **argv)
{
	struct opts	 o;
	struct listing	 l;
	struct store	*st = NULL;
	int		 r;

	if (opts_parse(argc, argv, B(OPT_JSON), "trunk list", NULL, &o) != 0)
		return 2;
	memset(&l, 0, sizeof(l));
	l.json = given(&o, OPT_JSON);
	if ((r = db_open(&o, STORE_RDONLY, &st)) != 0)
		return cmd_fail(r);
	if (l.json)
		putchar('[');
	r = store_trunk_list(st, trunk_one, &l);
	list_end(&l);
	store_close(st);
	return r == 0 ? 0 : cmd_fail(r);
}

/* ccmctl trunk show NAME [--json] */
static int
cmd_trunk_show(int argc, char **argv)
{
	struct opts		 o;
	struct store_trunk	 t;
	struct store		*st = NULL;
	char			 a[160], b[300];
	int			 r;

	memset(&t, 0, sizeof(t));
	if (opts_parse(argc, argv, B(OPT_JSON), "trunk show", "NAME", &o) != 0)
		return 2;
	if ((r = name_check(o.arg, "trunk")) != 0 ||
	    (r = db_open(&o, STORE_RDONLY, &st)) != 0)
		goto out;
	if ((r = store_trunk_get(st, o.arg, &t)) == UC_ERR_NOTFOUND)
		r = uc_fail(r, "%s: no such trunk", o.arg);
	if (r != 0)
		goto out;
	if (given(&o, OPT_JSON)) {
		putchar('{');
		trunk_json(stdout, &t);
		printf("}\n");
		goto out;
	}
	printf("Trunk:           %s\n", t.name);
	printf("Peer:            %s\n", str_vis(b, sizeof(b), t.peer));
	printf("Port:            %d\n", t.port != 0 ? t.port :
	    t.transport == STORE_TP_TLS ? 5061 : 5060);
	printf("Transport:       %s\n", store_transport_name(t.transport));
	printf("Security:        %s\n", store_secmode_name(t.secmode));
	printf("Digest:          %s\n", t.digest ? "yes" : "no");
	printf("Challenge algs:  %s\n", t.digest_algs[0] ?
	    str_vis(b, sizeof(b), t.digest_algs) :
	    "default (ccmd's digest_algorithms)");
	printf("Nonce validity:  %d%s\n", t.nonce_validity,
	    t.nonce_validity ? " s" : " (ccmd's default)");
	printf("X.509 subject:   %s\n", text_vis(t.x509_subject, b, sizeof(b)));
	printf("Allow:           %s\n", allow_text(t.flags, a, sizeof(a)));
	printf("Prefix:          %s\n", text_vis(t.prefix, b, sizeof(b)));
	printf("Outgoing realm:  %s\n", text_vis(t.out_realm, b, sizeof(b)));
	printf("Outgoing user:   %s\n", text_vis(t.out_user, b, sizeof(b)));
	printf("Outgoing secret: %s\n", t.out_secret[0] ? "set" : "not set");
	printf("Out min alg:     %s\n", t.out_min_alg[0] ? t.out_min_alg :
	    "MD5 (default)");
out:
	OPENSSL_cleanse(&t, sizeof(t));
	store_close(st);
	return r == 0 ? 0 : cmd_fail(r);
}

/* ---- import ------------------------------------------------------------ */

/*
 * ccmctl import FILE.csv: devices with their lines and digest users in
 * one transaction.  The whole file is read and checked, and every
 * password turned into sealed HA1 values and wiped, before the store
 * is opened; then all rows are written in one transaction (ccmd waits
 * at most for the writes, not for the hashing), all or nothing.
 */
enum icol { IC_DEVICE, IC_PROTO, IC_SEC, IC_EXT, IC_DUSER, IC_PASSWORD,
	IC_REALM, IC_DALGS, IC_PGROUP, IC__MAX };
static const char *const icol_names[IC__MAX] = {
	"device", "protocol", "security", "extension", "digest_user",
	"password", "realm", "digest_algorithms", "presence_group"
};
#define IC_REQUIRED	7	/* device .. realm; the rest optional */

struct import_row {
	struct store_sipdev	 d;
	struct store_duser	*u;	/* NULL: no password on the line */
	size_t			 line;
};

struct import {
	int		 col[IC__MAX];	/* field index; -1: absent */
	size_t		 ncols;
	int		 have_header;
	int		 have_key;
	uint8_t		 key[SEAL_KEY_LEN];
	const struct opts *o;
	struct import_row *rows;
	size_t		 n, cap, nusers;
};

static const char *
icol(const struct import *im, const struct csv_rec *rec, enum icol c)
{
	return im->col[c] == -1 ? "" : rec->field[im->col[c]];
}

/* The header line: known column names, each once, the required ones. */
static int
import_header(struct import *im, const struct csv_rec *rec)
{
	char	 vis[4 * CSV_FIELD_MAX];
	size_t	 i;
	int	 c;

	for (c = 0; c < IC__MAX; c++)
		im->col[c] = -1;
	for (i = 0; i < rec->nfields; i++) {
		for (c = 0; c < IC__MAX; c++)
			if (strcasecmp(rec->field[i], icol_names[c]) == 0)
				break;
		if (c == IC__MAX)
			return uc_fail(UC_ERR_FORMAT, "line %zu: \"%s\" is not "
			    "a column (the first line must be the header "
			    "device,protocol,security,extension,digest_user,"
			    "password,realm[,digest_algorithms,"
			    "presence_group])", rec->line,
			    str_vis(vis, sizeof(vis), rec->field[i]));
		if (im->col[c] != -1)
			return uc_fail(UC_ERR_FORMAT, "line %zu: column %s "
			    "twice", rec->line, icol_names[c]);
		im->col[c] = (int)i;
	}
	for (c = 0; c < IC_REQUIRED; c++)
		if (im->col[c] == -1)
			return uc_fail(UC_ERR_FORMAT, "line %zu: no %s column "
			    "(device, protocol, security, extension, "
			    "digest_user, password and realm are required)",
			    rec->line, icol_names[c]);
	im->ncols = rec->nfields;
	im->have_header = 1;
	return 0;
}

/* A user name (space_ok 0) or realm: printable ASCII, no quote. */
static int
word_check(const char *v, size_t size, int space_ok, const char *what)
{
	char	 vis[64];
	size_t	 i, n = strlen(v);

	if (n == 0 || n >= size)
		return uc_fail(UC_ERR_ARG, "%s: want 1 to %zu bytes", what,
		    size - 1);
	for (i = 0; i < n; i++)
		if (v[i] < ' ' || v[i] > '~' || v[i] == '"' ||
		    v[i] == '\\' || (v[i] == ' ' && !space_ok))
			return uc_fail(UC_ERR_ARG, "%s \"%s\": byte %zu is not "
			    "allowed", what, str_vis(vis, sizeof(vis), v), i);
	return 0;
}

/* The password of a line: sealed HA1 for every algorithm, into *u. */
static int
import_user(struct import *im, struct import_row *row, const char *pw,
    const char *realm)
{
	size_t	 n = strlen(pw), i;
	int	 r;

	if (row->d.digest_user[0] == '\0')
		return uc_fail(UC_ERR_ARG, "a password needs a digest_user");
	if (*realm == '\0')
		return uc_fail(UC_ERR_ARG, "a password needs a realm");
	if (n > PW_MAX)
		return uc_fail(UC_ERR_ARG, "password longer than %d bytes",
		    PW_MAX);
	for (i = 0; i < n; i++)
		if ((unsigned char)pw[i] < ' ' || pw[i] == 0x7f)
			return uc_fail(UC_ERR_ARG, "control character in the "
			    "password");
	if ((r = word_check(realm, sizeof(row->u->realm), 1, "realm")) != 0)
		return r;
	if (!im->have_key) {
		if ((r = key_load(im->o, im->key)) != 0)
			return r;
		im->have_key = 1;
	}
	if ((row->u = calloc(1, sizeof(*row->u))) == NULL)
		return uc_fail(UC_ERR_ALLOC, "digest user");
	memcpy(row->u->username, row->d.digest_user,
	    sizeof(row->u->username));
	snprintf(row->u->realm, sizeof(row->u->realm), "%s", realm);
	return duser_seal(row->u, (1u << DIGEST_MD5) | (1u << DIGEST_SHA256) |
	    (1u << DIGEST_SHA512_256), pw, n, im->key);
}

/* One device line into row; errors without the line number. */
static int
import_fill(struct import *im, const struct csv_rec *rec,
    struct import_row *row)
{
	struct store_sipdev	*d = &row->d;
	const char		*pw = icol(im, rec, IC_PASSWORD);
	int			 r;

	row->line = rec->line;
	if ((r = name_check(icol(im, rec, IC_DEVICE), "device")) != 0)
		return r;
	snprintf(d->name, sizeof(d->name), "%s", icol(im, rec, IC_DEVICE));
	if ((r = store_proto_parse(icol(im, rec, IC_PROTO), &d->proto)) != 0 ||
	    (r = store_secmode_parse(icol(im, rec, IC_SEC),
	    &d->secmode)) != 0)
		return r;
	if (*icol(im, rec, IC_EXT) == '\0')
		return uc_fail(UC_ERR_ARG, "no extension");
	if ((r = field_set(d->extension, sizeof(d->extension),
	    icol(im, rec, IC_EXT), "extension")) != 0 ||
	    (r = field_set(d->presence_group, sizeof(d->presence_group),
	    icol(im, rec, IC_PGROUP), "presence_group")) != 0 ||
	    (r = dalgs_parse(icol(im, rec, IC_DALGS), "digest_algorithms",
	    d->digest_algs, sizeof(d->digest_algs), NULL)) != 0)
		return r;
	if (*icol(im, rec, IC_DUSER) != '\0') {
		if ((r = word_check(icol(im, rec, IC_DUSER),
		    sizeof(d->digest_user), 0, "digest_user")) != 0)
			return r;
		if (d->proto == STORE_PROTO_SCCP)
			return uc_fail(UC_ERR_ARG, "digest authentication is "
			    "for SIP devices (protocol sccp)");
		snprintf(d->digest_user, sizeof(d->digest_user), "%s",
		    icol(im, rec, IC_DUSER));
	}
	if (*pw == '\0')
		return 0;
	if ((r = import_user(im, row, pw, icol(im, rec, IC_REALM))) != 0)
		return r;
	im->nusers++;
	return 0;
}

/* Wipe and free the row's digest user. */
static void
import_row_clear(struct import_row *row)
{
	if (row->u != NULL)
		OPENSSL_clear_free(row->u, sizeof(*row->u));
	row->u = NULL;
}

/* Make room for one more row. */
static int
import_grow(struct import *im, size_t line)
{
	struct import_row	*nrows;
	size_t			 ncap;

	if (im->n < im->cap)
		return 0;
	if (im->n == IMPORT_ROWS_MAX)
		return uc_fail(UC_ERR_FORMAT, "line %zu: more than %d devices "
		    "in one import; split the file", line, IMPORT_ROWS_MAX);
	ncap = im->cap ? im->cap * 2 : 1024;
	if (ncap > IMPORT_ROWS_MAX)
		ncap = IMPORT_ROWS_MAX;
	if ((nrows = realloc(im->rows, ncap * sizeof(*nrows))) == NULL)
		return uc_fail(UC_ERR_ALLOC, "line %zu: import rows", line);
	im->rows = nrows;
	im->cap = ncap;
	return 0;
}

/* csv_parse callback: the header, then one device per record. */
static int
import_rec(const struct csv_rec *rec, void *arg)
{
	struct import		*im = arg;
	struct import_row	*row;
	char			 where[32];
	int			 r;

	if (!im->have_header)
		return import_header(im, rec);
	if (rec->nfields != im->ncols)
		return uc_fail(UC_ERR_FORMAT, "line %zu: %zu fields, the "
		    "header has %zu", rec->line, rec->nfields, im->ncols);
	if ((r = import_grow(im, rec->line)) != 0)
		return r;
	row = &im->rows[im->n];
	memset(row, 0, sizeof(*row));
	if ((r = import_fill(im, rec, row)) != 0) {
		import_row_clear(row);
		snprintf(where, sizeof(where), "line %zu", rec->line);
		uc_prefix(where);
		return r;
	}
	im->n++;
	return 0;
}

/* Duplicate checks: a key of each row, sorted. */
struct dupkey {
	const char	*a, *b;
	size_t		 line;
};

static int
dupkey_cmp(const void *x, const void *y)
{
	const struct dupkey	*p = x, *q = y;
	int			 c;

	if ((c = strcmp(p->a, q->a)) != 0 || (c = strcmp(p->b, q->b)) != 0)
		return c;
	return (p->line > q->line) - (p->line < q->line);
}

/*
 * The same device name, extension, or digest user with a password in
 * a realm on two lines: the earliest such later line is the error.
 */
static int
import_dups(const struct import *im)
{
	static const char *const what[] = { "device", "extension",
	    "a password for digest user" };
	const struct import_row	*row;
	struct dupkey		*k;
	size_t			 i, m, kind, dup;
	int			 r = 0;

	if ((k = calloc(im->n ? im->n : 1, sizeof(*k))) == NULL)
		return uc_fail(UC_ERR_ALLOC, "import: duplicate check");
	for (kind = 0; kind < NITEMS(what) && r == 0; kind++) {
		for (i = m = 0; i < im->n; i++) {
			row = &im->rows[i];
			k[m].b = "";
			if (kind == 0)
				k[m].a = row->d.name;
			else if (kind == 1)
				k[m].a = row->d.extension;
			else if (row->u != NULL) {
				k[m].a = row->u->username;
				k[m].b = row->u->realm;
			} else
				continue;
			k[m++].line = row->line;
		}
		qsort(k, m, sizeof(*k), dupkey_cmp);
		for (i = 1, dup = 0; i < m; i++)
			if (strcmp(k[i].a, k[i - 1].a) == 0 &&
			    strcmp(k[i].b, k[i - 1].b) == 0 &&
			    (dup == 0 || k[i].line < k[dup].line))
				dup = i;
		if (dup != 0)
			r = uc_fail(UC_ERR_FORMAT, "line %zu: %s %s%s%s "
			    "already on line %zu", k[dup].line, what[kind],
			    k[dup].a, *k[dup].b ? " in realm " : "", k[dup].b,
			    k[dup - 1].line);
	}
	free(k);
	return r;
}

/*
 * The file carries passwords: like the secret key, it must be a regular
 * file only its owner may read or write.  Read it through the checked
 * descriptor.
 */
static int
import_file(const char *path, uint8_t **buf, size_t *len)
{
	struct stat	 sb;
	int		 fd, r;

	*buf = NULL;
	*len = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1)
		return uc_fail(UC_ERR_IO, "%s", strerror(errno));
	if (fstat(fd, &sb) == -1)
		r = uc_fail(UC_ERR_IO, "%s", strerror(errno));
	else if (!S_ISREG(sb.st_mode))
		r = uc_fail(UC_ERR_POLICY, "not a regular file");
	else if (sb.st_mode & 077)
		r = uc_fail(UC_ERR_POLICY, "mode %04o: the file holds "
		    "passwords and group or others may read or change it; "
		    "chmod 600 it", (unsigned)(sb.st_mode & 07777));
	else
		r = file_read_fd(fd, path, IMPORT_FILE_MAX, buf, len);
	close(fd);
	return r;
}

/* Read and check the whole file, sealing the passwords; no store yet. */
static int
import_read(const char *path, struct import *im)
{
	uint8_t	*buf = NULL;
	size_t	 len = 0;
	int	 r;

	if ((r = import_file(path, &buf, &len)) == 0 &&
	    (r = csv_parse(buf, len, import_rec, im)) == 0) {
		if (!im->have_header)
			r = uc_fail(UC_ERR_FORMAT, "empty: want the header "
			    "line device,protocol,security,extension,"
			    "digest_user,password,realm and one line per "
			    "device");
		else if (im->n == 0)
			r = uc_fail(UC_ERR_FORMAT, "no devices after the "
			    "header line");
		else
			r = import_dups(im);
	}
	OPENSSL_clear_free(buf, len);
	OPENSSL_cleanse(im->key, sizeof(im->key));
	return r;
}

struct import_counts {
	size_t	 dev_new, user_new;
};

/*
 * One row inside the transaction.  An existing device keeps what the
 * file has no column for (challenge algorithms, presence group), its
 * description, CAPF task and certificates; an existing digest user
 * keeps its feature flags.
 */
static int
import_one(struct store *st, const struct import *im, struct import_row *row,
    struct import_counts *c)
{
	struct store_sipdev	 old;
	struct store_duser	 ou;
	int			 r;

	if ((r = store_sipdev_get(st, row->d.name, &old)) == UC_ERR_NOTFOUND)
		c->dev_new++;
	else if (r != 0)
		return r;
	else {
		if (im->col[IC_DALGS] == -1)
			memcpy(row->d.digest_algs, old.digest_algs,
			    sizeof(old.digest_algs));
		if (im->col[IC_PGROUP] == -1)
			memcpy(row->d.presence_group, old.presence_group,
			    sizeof(old.presence_group));
	}
	if ((r = store_sipdev_put(st, &row->d)) != 0 || row->u == NULL)
		return r;
	r = store_duser_get(st, row->u->username, row->u->realm, &ou);
	if (r == 0)
		row->u->flags = ou.flags;
	else if (r == UC_ERR_NOTFOUND)
		c->user_new++;
	OPENSSL_cleanse(&ou, sizeof(ou));
	if (r != 0 && r != UC_ERR_NOTFOUND)
		return r;
	row->u->changed = 0;
	return store_duser_put(st, row->u);
}

/* Every row in one transaction; any failure rolls all of them back. */
static int
import_write(struct store *st, struct import *im, struct import_counts *c)
{
	char	 where[32];
	size_t	 i;
	int	 r;

	memset(c, 0, sizeof(*c));
	if ((r = store_begin(st)) != 0)
		return r;
	for (i = 0; i < im->n; i++) {
		if ((r = import_one(st, im, &im->rows[i], c)) != 0) {
			snprintf(where, sizeof(where), "line %zu",
			    im->rows[i].line);
			uc_prefix(where);
			break;
		}
	}
	return db_finish(st, r);
}

static double
mono_now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ccmctl import FILE.csv: all lines or none. */
static int
cmd_import(int argc, char **argv)
{
	struct opts		 o;
	struct import		 im;
	struct import_counts	 c;
	struct store		*st = NULL;
	double			 t0 = mono_now(), dt;
	size_t			 i;
	int			 r;

	if (opts_parse(argc, argv, 0, "import", "FILE.csv", &o) != 0)
		return 2;
	memset(&im, 0, sizeof(im));
	im.o = &o;
	if ((r = import_read(o.arg, &im)) != 0)
		uc_prefix(o.arg);
	else if ((r = db_open(&o, STORE_CREATE, &st)) == 0 &&
	    (r = import_write(st, &im, &c)) != 0)
		uc_prefix(o.arg);
	if (r == 0) {
		dt = mono_now() - t0;
		printf("%s: imported %zu device%s (%zu new, %zu updated) and "
		    "%zu digest user%s (%zu new, %zu updated) in %.2f s "
		    "(%.0f rows/s)\n", o.arg, im.n, im.n == 1 ? "" : "s",
		    c.dev_new, im.n - c.dev_new, im.nusers,
		    im.nusers == 1 ? "" : "s", c.user_new,
		    im.nusers - c.user_new, dt, dt > 0 ? (double)im.n / dt :
		    0.0);
	}
	for (i = 0; i < im.n; i++)
		import_row_clear(&im.rows[i]);
	free(im.rows);
	store_close(st);
	return r == 0 ? 0 : cmd_fail(r);
}

/* ---- registrations ----------------------------------------------------- */

static int
reg_one(const struct store_reg *g, void *arg)
{
	struct listing	*l = arg;
	char		 t[32], b1[300], b2[300], b3[300];

	if (!l->json && l->n == 0)
		printf("%-20s %-10s %-4s %-21s %-30s %s\n", "DEVICE", "AOR",
		    "TP", "EXPIRES", "CERTIFICATE", "CONTACT");
	list_item(l);
	time_iso(g->expires, t, sizeof(t));
	if (!l->json) {
		printf("%-20s %-10s %-4s %-21s %-30s %s\n", g->device,
		    str_vis(b1, sizeof(b1), g->aor), g->transport,
		    g->expires <= l->now ? "expired" : t,
		    text_vis(g->cert_subject, b2, sizeof(b2)),
		    str_vis(b3, sizeof(b3), g->contact));
		return 0;
	}
	fputs("\"device\":", stdout);
	json_print_str(stdout, g->device);
	fputs(",\"aor\":", stdout);
	json_print_str(stdout, g->aor);
	fputs(",\"contact\":", stdout);
	json_print_str(stdout, g->contact);
	fputs(",\"transport\":", stdout);
	json_print_str(stdout, g->transport);
	json_opt(stdout, "source", g->source, 0);
	json_opt(stdout, "certificate_subject", g->cert_subject, 0);
	printf(",\"expires\":\"%s\",\"expires_in\":%lld}", t,
	    (long long)(g->expires > l->now ? g->expires - l->now : 0));
	return 0;
}

/* ccmctl list registrations [--json] */
static int
cmd_list(int argc, char **argv)
{
	struct opts	 o;
	struct listing	 l;
	struct store	*st = NULL;
	int		 r;

	if (opts_parse(argc, argv, B(OPT_JSON), "list", "WHAT", &o) != 0)
		return 2;
	if (strcmp(o.arg, "registrations") != 0)
		return cmd_usage_error("list: unknown list \"%s\" (give "
		    "registrations)", o.arg);
	memset(&l, 0, sizeof(l));
	l.json = given(&o, OPT_JSON);
	l.now = (int64_t)time(NULL);
	if ((r = db_open(&o, STORE_RDONLY, &st)) != 0)
		return cmd_fail(r);
	if (l.json)
		putchar('[');
	r = store_reg_list(st, reg_one, &l);
	list_end(&l);
	store_close(st);
	return r == 0 ? 0 : cmd_fail(r);
}

/* ---- dispatch ---------------------------------------------------------- */

static const struct cmd device_cmds[] = {
	{ "add", cmd_device_add },
	{ "set", cmd_device_set },
	{ "remove", cmd_device_remove },
	{ "list", cmd_device_list },
	{ "show", cmd_device_show },
};

static const struct cmd user_cmds[] = {
	{ "add", cmd_user_add },
	{ "passwd", cmd_user_passwd },
	{ "set", cmd_user_set },
	{ "remove", cmd_user_remove },
	{ "list", cmd_user_list },
};

static const struct cmd trunk_cmds[] = {
	{ "add", cmd_trunk_add },
	{ "set", cmd_trunk_set },
	{ "remove", cmd_trunk_remove },
	{ "list", cmd_trunk_list },
	{ "show", cmd_trunk_show },
};

static int
cmd_device(int argc, char **argv)
{
	if (argc < 2)
		return cmd_usage_error("device: give add, set, remove, list "
		    "or show");
	return cmd_dispatch(device_cmds, NITEMS(device_cmds), argc, argv,
	    help_device);
}

static int
cmd_user(int argc, char **argv)
{
	if (argc < 2)
		return cmd_usage_error("user: give add, passwd, set, remove or "
		    "list");
	return cmd_dispatch(user_cmds, NITEMS(user_cmds), argc, argv,
	    help_user);
}

static int
cmd_trunk(int argc, char **argv)
{
	if (argc < 2)
		return cmd_usage_error("trunk: give add, set, remove, list or "
		    "show");
	return cmd_dispatch(trunk_cmds, NITEMS(trunk_cmds), argc, argv,
	    help_trunk);
}

static const struct cmd cmds[] = {
	{ "device", cmd_device },
	{ "user", cmd_user },
	{ "trunk", cmd_trunk },
	{ "import", cmd_import },
	{ "list", cmd_list },
};

/* --db FILE, --db=FILE (or --secret-key) at argv[*i]; 1 if matched. */
static int
global_opt(int argc, char **argv, int *i, const char *name,
    const char **out)
{
	size_t	 n = strlen(name);

	if (strncmp(argv[*i], name, n) != 0)
		return 0;
	if (argv[*i][n] == '\0' && *i + 1 < argc) {
		*out = argv[*i + 1];
		*i += 2;
		return 1;
	}
	if (argv[*i][n] == '=') {
		*out = argv[*i] + n + 1;
		*i += 1;
		return 1;
	}
	return 0;
}

int
main(int argc, char *argv[])
{
	int	 i = 1, rc;

	log_init(progname, 0, getenv("UCSEC_DEBUG") ? LOG_LEVEL_DEBUG :
	    LOG_LEVEL_INFO);
	/* ccmctl [--db FILE] [--secret-key FILE] COMMAND ... */
	while (i < argc && strncmp(argv[i], "--", 2) == 0 &&
	    strcmp(argv[i], "--help") != 0 &&
	    strcmp(argv[i], "--version") != 0) {
		if (!global_opt(argc, argv, &i, "--db", &db_global) &&
		    !global_opt(argc, argv, &i, "--secret-key", &key_global))
			return cmd_usage_error("unknown option or missing "
			    "argument: %s", argv[i]);
	}
	if (i >= argc)
		help_print(stderr, NULL, 2);
	if (strcmp(argv[i], "--version") == 0) {
		printf("%s (ucsec) %s\n", progname, UCSEC_VERSION);
		return 0;
	}
	argv[i - 1] = argv[0];
	rc = cmd_dispatch(cmds, NITEMS(cmds), argc - i + 1, argv + i - 1,
	    help_all);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "%s: writing to standard output: %s\n",
		    progname, strerror(errno));
		rc = 1;
	}
	return rc;
}
