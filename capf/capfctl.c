/*
 * capfctl: the CAPF administration tool.  Schedules the certificate
 * operation each phone gets from capfd(8) (install, fetch, delete or
 * none) and how the phone must authenticate (capf-protocol.md 8), bulk
 * imports schedules from CSV in one transaction, prints the LSCs capfd
 * issued, and keeps the "capf" trust store of manufacturing roots used
 * for MIC and SUDI authentication.  Everything lives in the ucsec store
 * (lib/store.h); auth strings are stored only as salted hashes.
 * See capfctl(8).
 */
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "capfmsg.h"
#include "cert.h"
#include "cmd.h"
#include "csv.h"
#include "cursor.h"
#include "fileio.h"
#include "log.h"
#include "pwhash.h"
#include "store.h"
#include "ttyread.h"
#include "uerr.h"

#define DB_DEFAULT	"/var/lib/ucsec/ucsec.db"
#define DB_ENV		"UCSEC_DB"
#define TRUST_STORE	"capf"		/* capfd's MIC/SUDI issuers */
#define KEY_DEFAULT	"rsa:2048"	/* capf-protocol.md 6.3: safe for phones */
#define PW_MIN		4		/* capf-protocol.md 8.1 */
#define PW_MAX		16		/* capfc accepts 4-16 digits */
#define PW_FILE_MAX	64		/* one line of digits, with slack */
#define IMPORT_FILE_MAX	(16 * 1024 * 1024) /* 100,000 rows of ~160 bytes */
#define IMPORT_ROWS_MAX	100000		/* one transaction, ~45 MB of rows */
#define TRUST_FILE_MAX	(1024 * 1024)	/* a PEM bundle of roots */
#define TRUST_CERTS_MAX	256		/* certificates in one bundle */
#define WARN_MAX	5		/* device-name warnings per import */
#define PROGRESS_EVERY	100		/* import rows between progress lines */
#define DEVICE_CHARS	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz" \
			"0123456789._-"
#define NITEMS(a)	(sizeof(a) / sizeof((a)[0]))

/* Option bits: which options each command takes. */
#define O_DB		0x0001
#define O_OP		0x0002
#define O_AUTH		0x0004
#define O_PW		0x0008
#define O_PWFILE	0x0010
#define O_PWPROMPT	0x0020
#define O_KEY		0x0040
#define O_DEADLINE	0x0080
#define O_JSON		0x0100
#define O_STATUS	0x0200
#define O_ALL		0x0400
#define O_TEXT		0x0800
#define O_PWANY		(O_PW | O_PWFILE | O_PWPROMPT)
#define O_TASK		(O_OP | O_AUTH | O_KEY | O_DEADLINE | O_PWANY)

#define STATUS_ANY	(-1)		/* list: no --status */
#define STATUS_LOCKED	(-2)		/* list --status locked */

struct opts {
	const char	*db;		/* --db, else the global one */
	const char	*op, *auth, *key, *deadline, *status;
	const char	*pwfile;	/* --password-file */
	char		 pw[PW_FILE_MAX + 1]; /* --password, copied; wiped */
	size_t		 pwlen;		/* its real length */
	unsigned	 given;		/* O_* seen */
	int		 json, all, text;
	const char	*arg;		/* the one operand */
};

static const char *progname = "capfctl";
static const char *db_global;		/* capfctl --db FILE CMD ... */
static int pw_warned;			/* the --password warning, once */

struct help {
	const char	*name;
	const char	*text;
};

static const struct help helps[] = {
	{ "add", "add DEVICE --op OP --auth AUTH [--key SPEC] "
	    "[--deadline WHEN]\n"
"                  [--password-file FILE | --password-prompt | "
	    "--password DIGITS]\n" },
	{ "set", "set DEVICE [--op OP] [--auth AUTH] [--key SPEC] "
	    "[--deadline WHEN]\n"
"                  [--password-file FILE | --password-prompt | "
	    "--password DIGITS]\n" },
	{ "remove", "remove DEVICE\n" },
	{ "list", "list [--json] [--status STATUS]\n" },
	{ "show", "show DEVICE [--json]\n" },
	{ "unlock", "unlock DEVICE\n" },
	{ "import", "import FILE.csv\n" },
	{ "cert", "cert DEVICE [--all] [-t]\n" },
	{ "trust", "trust add CERT\n"
"       capfctl trust list [--json]\n"
"       capfctl trust remove CERT|SHA256\n" },
};

static const char help_tail[] =
"\n"
"OP:      install, fetch, delete, none\n"
"AUTH:    none, password, lsc, mic, lsc-or-mic\n"
"SPEC:    rsa:BITS or ec:CURVE, e.g. rsa:2048 (default), ec:P-256\n"
"WHEN:    2026-12-01T12:00:00Z or 2026-12-01 (UTC), or none\n"
"DIGITS:  the auth string, 4 to 16 digits (prefer --password-file or\n"
"         --password-prompt: --password shows in ps)\n"
"STATUS:  pending, in-progress, success, failed, expired, locked\n"
"CSV:     header line device,op,auth,password,key,deadline\n"
"Common:  --db FILE (default $UCSEC_DB, else " DB_DEFAULT ")\n"
"See capfctl(8).\n";

/* Print the usage of command `only` (NULL: all) to f and exit code. */
static void __attribute__((noreturn))
help_print(FILE *f, const char *only, int code)
{
	size_t	 i;
	int	 first = 1;

	for (i = 0; i < NITEMS(helps); i++) {
		if (only != NULL && strcmp(only, helps[i].name) != 0)
			continue;
		fprintf(f, "%s capfctl %s", first ? "usage:" : "      ",
		    helps[i].text);
		first = 0;
	}
	fputs(help_tail, f);
	exit(code);
}

/* --help with no command: all commands, on stdout. */
static void __attribute__((noreturn))
help_all(void)
{
	help_print(stdout, NULL, 0);
}

static void __attribute__((noreturn))
help_trust(void)
{
	help_print(stdout, "trust", 0);
}

/* One line from /dev/tty with echo off into out (outsz); no newline. */
static int
tty_read(const char *prompt, char *out, size_t outsz)
{
	char	 buf[PW_FILE_MAX + 2];
	size_t	 len;
	int	 r = 0;

	out[0] = '\0';
	if (tty_read_secret(prompt, buf, sizeof(buf), &len) != 0)
		return uc_fail(UC_ERR_ARG, "--password-prompt: no terminal "
		    "to ask on (use --password-file)");
	if (len >= outsz || len == sizeof(buf))
		r = uc_fail(UC_ERR_ARG, "auth string: want %d to %d digits "
		    "(capf-protocol.md 8.1)", PW_MIN, PW_MAX);
	else {
		memcpy(out, buf, len);
		out[len] = '\0';
	}
	OPENSSL_cleanse(buf, sizeof(buf));
	return r;
}

/* An auth string: PW_MIN to PW_MAX ASCII digits (capf-protocol.md 8.1). */
static int
pw_check(const char *pw, size_t len)
{
	if (len < PW_MIN || len > PW_MAX || strspn(pw, "0123456789") != len)
		return uc_fail(UC_ERR_ARG, "auth string: want %d to %d digits "
		    "(capf-protocol.md 8.1)", PW_MIN, PW_MAX);
	return 0;
}

/*
 * The auth string from a file ("-": standard input): one line of
 * digits, optionally ending in LF or CRLF.  Warns when others may read
 * the file.  Writes it NUL-terminated into out (outsz bytes).
 */
static int
pw_from_file(const char *path, char *out, size_t outsz)
{
	struct cursor	 c;
	struct stat	 sb;
	uint8_t		*buf = NULL;
	const uint8_t	*rest;
	size_t		 len = 0, n = 0, left;
	int		 r;

	out[0] = '\0';
	if ((r = file_read(path, PW_FILE_MAX, &buf, &len)) != 0)
		return r;
	if (strcmp(path, "-") != 0 && stat(path, &sb) == 0 &&
	    (sb.st_mode & (S_IRGRP | S_IROTH)))
		log_warnx("warning: password file %s is readable by group or "
		    "others (chmod 600 it)", path);
	cur_init(&c, buf, len);
	while (cur_left(&c) > 0 && isdigit(cur_peek_u8(&c)) && n + 1 < outsz)
		out[n++] = (char)cur_u8(&c);
	out[n] = '\0';
	left = cur_left(&c);
	rest = left > 0 ? cur_bytes(&c, left) : NULL;
	if (!(left == 0 || (left == 1 && rest[0] == '\n') ||
	    (left == 2 && rest[0] == '\r' && rest[1] == '\n')))
		r = uc_fail(UC_ERR_ARG, "password file %s: want one line of %d "
		    "to %d digits", path, PW_MIN, PW_MAX);
	else
		r = pw_check(out, n);
	if (r != 0)
		OPENSSL_cleanse(out, outsz);
	OPENSSL_clear_free(buf, len);
	return r;
}

/* --password-prompt: asked twice on the terminal. */
static int
pw_prompt(const char *device, char *out, size_t outsz)
{
	char	 prompt[STORE_NAME_MAX + 64], again[PW_FILE_MAX + 1];
	int	 r;

	snprintf(prompt, sizeof(prompt), "Auth string for %s (%d-%d "
	    "digits): ", device, PW_MIN, PW_MAX);
	if ((r = tty_read(prompt, out, outsz)) == 0 &&
	    (r = pw_check(out, strlen(out))) == 0 &&
	    (r = tty_read("Again: ", again, sizeof(again))) == 0 &&
	    strcmp(out, again) != 0)
		r = uc_fail(UC_ERR_ARG, "the two auth strings differ");
	OPENSSL_cleanse(again, sizeof(again));
	if (r != 0)
		OPENSSL_cleanse(out, outsz);
	return r;
}

/* The auth string from the one source o names into out. */
static int
pw_get(const struct opts *o, const char *device, char *out, size_t outsz)
{
	int	 r;

	out[0] = '\0';
	if (o->given & O_PWFILE)
		return pw_from_file(o->pwfile, out, outsz);
	if (o->given & O_PWPROMPT)
		return pw_prompt(device, out, outsz);
	if ((r = pw_check(o->pw, o->pwlen)) == 0)
		snprintf(out, outsz, "%s", o->pw);
	return r;
}

/* --password DIGITS: keep a copy, blank argv's (ps), warn once. */
static void
pw_from_argv(char *arg, struct opts *o)
{
	o->pwlen = strlen(arg);
	if (o->pwlen < sizeof(o->pw))
		memcpy(o->pw, arg, o->pwlen + 1);
	OPENSSL_cleanse(arg, o->pwlen);
	if (!pw_warned)
		log_warnx("warning: --password is visible to other local users "
		    "(ps, /proc); prefer --password-file or --password-prompt");
	pw_warned = 1;
}

static const struct option longopts[] = {
	{ "db", required_argument, NULL, 'D' },
	{ "op", required_argument, NULL, 'o' },
	{ "auth", required_argument, NULL, 'a' },
	{ "password", required_argument, NULL, 'p' },
	{ "password-file", required_argument, NULL, 'P' },
	{ "password-prompt", no_argument, NULL, 'r' },
	{ "key", required_argument, NULL, 'k' },
	{ "deadline", required_argument, NULL, 'd' },
	{ "json", no_argument, NULL, 'j' },
	{ "status", required_argument, NULL, 's' },
	{ "all", no_argument, NULL, 'A' },
	{ "text", no_argument, NULL, 't' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 }
};

/* Option bit for a getopt code; 0 for help and unknown. */
static unsigned
opt_bit(int c)
{
	switch (c) {
	case 'D': return O_DB;
	case 'o': return O_OP;
	case 'a': return O_AUTH;
	case 'p': return O_PW;
	case 'P': return O_PWFILE;
	case 'r': return O_PWPROMPT;
	case 'k': return O_KEY;
	case 'd': return O_DEADLINE;
	case 'j': return O_JSON;
	case 's': return O_STATUS;
	case 'A': return O_ALL;
	case 't': return O_TEXT;
	}
	return 0;
}

static void
opt_store(int c, char *arg, struct opts *o)
{
	switch (c) {
	case 'D': o->db = arg; break;
	case 'o': o->op = arg; break;
	case 'a': o->auth = arg; break;
	case 'p': pw_from_argv(arg, o); break;
	case 'P': o->pwfile = arg; break;
	case 'k': o->key = arg; break;
	case 'd': o->deadline = arg; break;
	case 's': o->status = arg; break;
	case 'j': o->json = 1; break;
	case 'A': o->all = 1; break;
	case 't': o->text = 1; break;
	}
}

/*
 * Parse the options of command `name` (argv[0]), allowing the bits in
 * allow, and its operand (none when operand is NULL).  --help prints
 * the command's usage and exits 0.  Returns 0 or 2 (usage).
 */
static int
opts_parse(int argc, char **argv, unsigned allow, const char *name,
    const char *operand, struct opts *o)
{
	unsigned	 bit;
	int		 c, want = operand != NULL;

	memset(o, 0, sizeof(*o));
	o->db = db_global;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "ht", longopts, NULL)) != -1) {
		if (c == 'h')
			help_print(stdout, strncmp(name, "trust", 5) == 0 ?
			    "trust" : name, 0);
		if ((bit = opt_bit(c)) == 0)
			return cmd_usage_error("%s: unknown option or missing "
			    "argument: %s", name, argv[optind - 1]);
		if (!(bit & allow))
			return cmd_usage_error("%s: option %s does not apply",
			    name, argv[optind - 1]);
		if (o->given & bit)
			return cmd_usage_error("%s: option %s given twice",
			    name, argv[optind - 1]);
		o->given |= bit;
		opt_store(c, optarg, o);
	}
	if (argc - optind != want)
		return want ? cmd_usage_error("%s: give one %s", name,
		    operand) : cmd_usage_error("%s: takes no operand", name);
	o->arg = want ? argv[optind] : NULL;
	bit = o->given & O_PWANY;
	if (bit & (bit - 1))
		return cmd_usage_error("%s: give only one of --password-file, "
		    "--password-prompt and --password", name);
	return 0;
}

/* The database path: --db, else $UCSEC_DB, else the default. */
static const char *
db_path(const struct opts *o)
{
	const char	*env = getenv(DB_ENV);

	if (o->db != NULL)
		return o->db;
	return env != NULL && *env != '\0' ? env : DB_DEFAULT;
}

/* Open the store; without STORE_CREATE a missing file is an error. */
static int
db_open(const struct opts *o, int flags, struct store **st)
{
	const char	*path = db_path(o);
	struct stat	 sb;

	*st = NULL;
	if (!(flags & STORE_CREATE) && stat(path, &sb) == -1 &&
	    errno == ENOENT)
		return uc_fail(UC_ERR_NOTFOUND, "%s: no such database (add, "
		    "import and trust add create it; see --db)", path);
	return store_open(path, flags, st);
}

static void
db_close(struct store *st)
{
	if (st != NULL)
		store_close(st);
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

/* A device name: 1 to 63 of [A-Za-z0-9._-], taken as given. */
static int
device_check(const char *name)
{
	char	 vis[4 * STORE_NAME_MAX];
	size_t	 n = strlen(name);

	if (n >= 1 && n < STORE_NAME_MAX && strspn(name, DEVICE_CHARS) == n)
		return 0;
	return uc_fail(UC_ERR_ARG, "device name \"%s\": want 1 to %d of "
	    "A-Z a-z 0-9 . _ - (a phone is SEP and 12 hex digits)",
	    str_vis(vis, sizeof(vis), name), STORE_NAME_MAX - 1);
}

/*
 * Phones name themselves SEP + 12 upper-case hex digits; a SEP-like
 * name of another shape never matches one.  Returns 1 if it warned.
 */
static int
device_warn(const char *name, const char *where)
{
	size_t	 n = strlen(name);

	if (strncasecmp(name, "SEP", 3) != 0 || (strncmp(name, "SEP", 3) ==
	    0 && n == 15 && strspn(name + 3, "0123456789ABCDEF") == 12))
		return 0;
	log_warnx("warning: %sdevice %s: a phone sends SEP and 12 upper-case "
	    "hex digits; stored as given", where, name);
	return 1;
}

/* "a, b or c" from names(0..n-1). */
static const char *
names_list(const char *(*names)(int), int n, char *buf, size_t sz)
{
	size_t	 o = 0;
	int	 i;

	buf[0] = '\0';
	for (i = 0; i < n && o < sz; i++)
		o += (size_t)snprintf(buf + o, sz - o, "%s%s", i == 0 ? "" :
		    i == n - 1 ? " or " : ", ", names(i));
	return buf;
}

static int
op_parse(const char *s, int *op)
{
	char	 list[128], vis[64];

	if (capf_op_parse(s, op) == 0)
		return 0;
	return uc_fail(UC_ERR_ARG, "op \"%s\": want %s",
	    str_vis(vis, sizeof(vis), s),
	    names_list(capf_op_name, CAPF_OP_DELETE + 1, list, sizeof(list)));
}

static int
auth_parse(const char *s, int *auth)
{
	char	 list[128], vis[64];

	if (capf_auth_parse(s, auth) == 0)
		return 0;
	return uc_fail(UC_ERR_ARG, "auth \"%s\": want %s",
	    str_vis(vis, sizeof(vis), s), names_list(capf_auth_name,
	    CAPF_AUTH_LSC_OR_MIC + 1, list, sizeof(list)));
}

/* A key spec into t; "" is the default.  The store names the forms. */
static int
key_parse(const char *s, struct capf_task *t)
{
	return capf_keyspec_parse(*s != '\0' ? s : KEY_DEFAULT, &t->key_type,
	    &t->key_bits, &t->curve);
}

/* Does s match pat, where 'd' stands for a digit? */
static int
pattern_match(const char *s, const char *pat)
{
	for (; *pat != '\0'; s++, pat++)
		if (*pat == 'd' ? !isdigit((unsigned char)*s) : *s != *pat)
			return 0;
	return *s == '\0';
}

static int
digits(const char *s, int n)
{
	int	 v = 0;

	while (n-- > 0)
		v = v * 10 + (*s++ - '0');
	return v;
}

/*
 * A deadline: "YYYY-MM-DDTHH:MM:SSZ" or "YYYY-MM-DD" (00:00:00 UTC),
 * which must be after now; "" or "none" is no deadline (0).
 */
static int
deadline_parse(const char *s, int64_t now, int64_t *out)
{
	static const int mdays[12] = { 31, 29, 31, 30, 31, 30, 31, 31, 30,
	    31, 30, 31 };
	struct tm	 tm;
	char		 vis[64];
	int		 y, leap;

	*out = 0;
	if (*s == '\0' || strcmp(s, "none") == 0)
		return 0;
	memset(&tm, 0, sizeof(tm));
	if (!pattern_match(s, "dddd-dd-dd") &&
	    !pattern_match(s, "dddd-dd-ddTdd:dd:ddZ"))
		goto bad;
	y = digits(s, 4);
	leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	tm.tm_year = y - 1900;
	tm.tm_mon = digits(s + 5, 2) - 1;
	tm.tm_mday = digits(s + 8, 2);
	if (s[10] == 'T') {
		tm.tm_hour = digits(s + 11, 2);
		tm.tm_min = digits(s + 14, 2);
		tm.tm_sec = digits(s + 17, 2);
	}
	if (y < 1970 || tm.tm_mon < 0 || tm.tm_mon > 11 || tm.tm_mday < 1 ||
	    tm.tm_mday > mdays[tm.tm_mon] - (tm.tm_mon == 1 && !leap) ||
	    tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 59)
		goto bad;
	*out = (int64_t)timegm(&tm);
	if (*out <= now)
		return uc_fail(UC_ERR_ARG, "deadline %s is in the past", s);
	return 0;
bad:
	return uc_fail(UC_ERR_ARG, "deadline \"%s\": want "
	    "2026-12-01T12:00:00Z or 2026-12-01 (UTC), or none",
	    str_vis(vis, sizeof(vis), s));
}

static const char *
key_text(const struct capf_task *t, char *buf, size_t sz)
{
	if (capf_keyspec_text(t->key_type, t->key_bits, t->curve, buf,
	    sz) != 0)
		snprintf(buf, sz, "?");
	return buf;
}

static void
json_time(FILE *f, int64_t t)
{
	char	 buf[32];

	if (t == 0)
		fputs("null", f);
	else
		fprintf(f, "\"%s\"", time_iso(t, buf, sizeof(buf)));
}

/* One task as JSON members (no braces). */
static void
task_json(FILE *f, const struct capf_task *t, int64_t now)
{
	char	 key[32];

	fputs("\"device\":", f);
	json_print_str(f, t->device);
	fprintf(f, ",\"op\":\"%s\",\"auth\":\"%s\",\"auth_string_set\":%s,"
	    "\"key\":\"%s\",\"deadline\":", capf_op_name(t->op),
	    capf_auth_name(t->auth), t->pwhash[0] ? "true" : "false",
	    key_text(t, key, sizeof(key)));
	json_time(f, t->deadline);
	fprintf(f, ",\"status\":\"%s\",\"reason\":",
	    capf_status_name(t->status));
	json_print_str(f, t->reason);
	fprintf(f, ",\"attempts\":%d,\"auth_failures\":%d,\"locked\":%s,"
	    "\"locked_until\":", t->attempts, t->auth_fails,
	    t->locked_until > now ? "true" : "false");
	json_time(f, t->locked_until > now ? t->locked_until : 0);
	fputs(",\"updated\":", f);
	json_time(f, t->updated);
}

/* The one-line summary add and set print. */
static void
task_summary(const struct capf_task *t, const char *what)
{
	char	 key[32], dl[32];

	printf("%s: %s %s: auth %s%s, key %s, deadline %s\n", t->device,
	    capf_op_name(t->op), what, capf_auth_name(t->auth),
	    t->auth == CAPF_AUTH_PASSWORD ? " (auth string set)" : "",
	    key_text(t, key, sizeof(key)),
	    t->deadline ? time_iso(t->deadline, dl, sizeof(dl)) : "none");
}

/* add on a device that has an operation. */
static int
task_exists(const struct capf_task *t)
{
	return uc_fail(UC_ERR_ARG, "%s: already has a CAPF operation (%s, "
	    "%s); change it with capfctl set", t->device, capf_op_name(t->op),
	    capf_status_name(t->status));
}

/* What add or set writes: the values given, and the auth string. */
struct change {
	struct capf_task patch;		/* device and the values given */
	unsigned	 given;		/* O_OP, O_AUTH, O_KEY, O_DEADLINE */
	int		 create;	/* add: the device must have none */
	const char	*pwarg;		/* for store_capf_put */
};

/* Values from the options into c->patch; no store access. */
static int
change_parse(const struct opts *o, int64_t now, struct change *c)
{
	struct capf_task	*t = &c->patch;
	int			 r = 0;

	c->given = o->given & (O_OP | O_AUTH | O_KEY | O_DEADLINE);
	if ((r = device_check(o->arg)) != 0)
		return r;
	snprintf(t->device, sizeof(t->device), "%s", o->arg);
	if ((o->op != NULL && (r = op_parse(o->op, &t->op)) != 0) ||
	    (o->auth != NULL && (r = auth_parse(o->auth, &t->auth)) != 0) ||
	    (r = key_parse(o->key != NULL ? o->key : "", t)) != 0 ||
	    (o->deadline != NULL && (r = deadline_parse(o->deadline, now,
	    &t->deadline)) != 0))
		return r;
	if (o->key != NULL && t->key_type == CAPF_KEY_EC)
		log_warnx("warning: EC keys need phones whose trust list is "
		    "version 1.1 (signed-files.md 2.4)");
	return 0;
}

/* Apply c to t, a task read from the store. */
static void
change_merge(const struct change *c, struct capf_task *t)
{
	if (c->given & O_OP)
		t->op = c->patch.op;
	if (c->given & O_AUTH)
		t->auth = c->patch.auth;
	if (c->given & O_KEY) {
		t->key_type = c->patch.key_type;
		t->key_bits = c->patch.key_bits;
		t->curve = c->patch.curve;
	}
	if (c->given & O_DEADLINE)
		t->deadline = c->patch.deadline;
}

/*
 * Write the change in one transaction: add wants no operation yet, set
 * an existing one (re-read here, so capfd's updates are not lost).
 * The written task goes to *out.
 */
static int
change_commit(struct store *st, const struct change *c,
    struct capf_task *out)
{
	struct capf_task	 t;
	const char		*dev = c->patch.device;
	int			 r;

	if ((r = store_begin(st)) != 0)
		return r;
	r = store_capf_get(st, dev, &t);
	if (c->create && r == 0)
		r = task_exists(&t);
	else if (c->create && r == UC_ERR_NOTFOUND) {
		t = c->patch;
		r = 0;
	} else if (r == UC_ERR_NOTFOUND)
		r = uc_fail(UC_ERR_NOTFOUND, "%s: no CAPF operation (schedule "
		    "one with capfctl add)", dev);
	else if (r == 0)
		change_merge(c, &t);
	if (r == 0 && t.auth == CAPF_AUTH_PASSWORD && c->pwarg == NULL &&
	    t.pwhash[0] == '\0')
		r = uc_fail(UC_ERR_ARG, "%s: auth password needs an auth "
		    "string and none is stored", dev);
	if (r == 0 && (r = store_capf_put(st, &t, c->pwarg)) == 0 &&
	    (r = store_commit(st)) == 0) {
		*out = t;
		return 0;
	}
	db_abort(st);
	return r;
}

/*
 * capfctl add DEVICE --op OP --auth AUTH [--key SPEC] [--deadline WHEN]
 * [--password-file F | --password-prompt | --password DIGITS]
 */
static int
cmd_add(int argc, char **argv)
{
	struct opts		 o;
	struct change		 c;
	struct capf_task	 t;
	struct store		*st = NULL;
	char			 pw[PW_FILE_MAX + 1] = "";
	int			 r, rc = 1;

	if (opts_parse(argc, argv, O_DB | O_TASK, "add", "DEVICE", &o) != 0)
		return 2;
	if (o.op == NULL || o.auth == NULL)
		return cmd_usage_error("add: --op and --auth are required");
	memset(&c, 0, sizeof(c));
	c.create = 1;
	if ((r = change_parse(&o, time(NULL), &c)) != 0)
		goto out;
	if ((o.given & O_PWANY) && c.patch.auth != CAPF_AUTH_PASSWORD) {
		rc = cmd_usage_error("add: an auth string goes only with "
		    "--auth password");
		goto done;
	}
	if (!(o.given & O_PWANY) && c.patch.auth == CAPF_AUTH_PASSWORD) {
		rc = cmd_usage_error("add: --auth password needs an auth "
		    "string: --password-file, --password-prompt or --password");
		goto done;
	}
	(void)device_warn(c.patch.device, "");
	if ((r = db_open(&o, STORE_CREATE, &st)) != 0)
		goto out;
	if ((r = store_capf_get(st, c.patch.device, &t)) == 0)
		r = task_exists(&t);
	if (r != UC_ERR_NOTFOUND)
		goto out;
	/* Ask for the auth string only now, and outside the transaction. */
	if (c.patch.auth == CAPF_AUTH_PASSWORD &&
	    (r = pw_get(&o, c.patch.device, pw, sizeof(pw))) != 0)
		goto out;
	c.pwarg = pw;
	if ((r = change_commit(st, &c, &t)) != 0)
		goto out;
	task_summary(&t, "scheduled");
	rc = 0;
out:
	if (rc != 0)
		cmd_fail(r);
done:
	OPENSSL_cleanse(pw, sizeof(pw));
	OPENSSL_cleanse(o.pw, sizeof(o.pw));
	db_close(st);
	return rc;
}

/*
 * The auth string argument of a set: a new one when given, "" (clear)
 * when auth ends other than password, else NULL (keep).  Returns 0, 1
 * or 2 (usage).
 */
static int
set_password(const struct opts *o, const struct capf_task *old,
    struct change *c, char *pw, size_t sz)
{
	int	 auth = (c->given & O_AUTH) ? c->patch.auth : old->auth;
	int	 r;

	if (auth != CAPF_AUTH_PASSWORD) {
		if (o->given & O_PWANY)
			return cmd_usage_error("set: an auth string goes only "
			    "with auth password (%s has %s)", old->device,
			    capf_auth_name(auth));
		c->pwarg = "";
		return 0;
	}
	if (!(o->given & O_PWANY)) {
		if (old->pwhash[0] == '\0')
			return cmd_usage_error("set: --auth password needs an "
			    "auth string (%s has none): --password-file, "
			    "--password-prompt or --password", old->device);
		c->pwarg = NULL;
		return 0;
	}
	if ((r = pw_get(o, old->device, pw, sz)) != 0)
		return cmd_fail(r);
	c->pwarg = pw;
	return 0;
}

/* capfctl set DEVICE [options]: only the options given change. */
static int
cmd_set(int argc, char **argv)
{
	struct opts		 o;
	struct change		 c;
	struct capf_task	 old, t;
	struct store		*st = NULL;
	char			 pw[PW_FILE_MAX + 1] = "";
	int			 r, rc = 1;

	if (opts_parse(argc, argv, O_DB | O_TASK, "set", "DEVICE", &o) != 0)
		return 2;
	if ((o.given & O_TASK) == 0)
		return cmd_usage_error("set: nothing to change; give --op, "
		    "--auth, --key, --deadline or an auth string");
	memset(&c, 0, sizeof(c));
	if ((r = change_parse(&o, time(NULL), &c)) != 0 ||
	    (r = db_open(&o, 0, &st)) != 0)
		goto out;
	if ((r = store_capf_get(st, c.patch.device, &old)) != 0) {
		if (r == UC_ERR_NOTFOUND)
			r = uc_fail(r, "%s: no CAPF operation (schedule one "
			    "with capfctl add)", c.patch.device);
		goto out;
	}
	if ((rc = set_password(&o, &old, &c, pw, sizeof(pw))) != 0)
		goto done;
	rc = 1;
	if ((r = change_commit(st, &c, &t)) != 0)
		goto out;
	task_summary(&t, "updated (status pending, counters reset)");
	rc = 0;
out:
	if (rc != 0)
		cmd_fail(r);
done:
	OPENSSL_cleanse(pw, sizeof(pw));
	OPENSSL_cleanse(o.pw, sizeof(o.pw));
	db_close(st);
	return rc;
}

/* Open the store for a command on one existing device operand. */
static int
device_cmd(int argc, char **argv, const char *name, unsigned allow,
    int flags, struct opts *o, struct store **st)
{
	int	 r;

	*st = NULL;
	if (opts_parse(argc, argv, O_DB | allow, name, "DEVICE", o) != 0)
		return 2;
	if ((r = device_check(o->arg)) != 0 ||
	    (r = db_open(o, flags, st)) != 0)
		return cmd_fail(r);
	return 0;
}

/* Missing task: a clearer line than "not found". */
static int
task_missing(int r, const char *dev)
{
	if (r == UC_ERR_NOTFOUND)
		uc_seterr("%s: no CAPF operation", dev);
	return cmd_fail(r);
}

/* capfctl remove DEVICE: the operation; certificates stay on record. */
static int
cmd_remove(int argc, char **argv)
{
	struct opts	 o;
	struct store	*st;
	int		 r, rc;

	if ((rc = device_cmd(argc, argv, "remove", 0, 0, &o, &st)) != 0)
		return rc;
	if ((r = store_capf_del(st, o.arg)) != 0)
		rc = task_missing(r, o.arg);
	else
		printf("%s: CAPF operation removed\n", o.arg);
	db_close(st);
	return rc;
}

/* capfctl unlock DEVICE: end a lockout after wrong auth strings. */
static int
cmd_unlock(int argc, char **argv)
{
	struct opts		 o;
	struct capf_task	 t;
	struct store		*st;
	int			 r, rc;

	if ((rc = device_cmd(argc, argv, "unlock", 0, 0, &o, &st)) != 0)
		return rc;
	if ((r = store_capf_get(st, o.arg, &t)) != 0 ||
	    (r = store_capf_unlock(st, o.arg)) != 0)
		rc = task_missing(r, o.arg);
	else if (t.locked_until > (int64_t)time(NULL))
		printf("%s: unlocked\n", o.arg);
	else
		printf("%s: was not locked (%d auth failures cleared)\n", o.arg,
		    t.auth_fails);
	db_close(st);
	return rc;
}

/* show: the device's certificates, read before anything is printed. */
struct show_certs {
	int			 n;		/* on record */
	int			 have;		/* cur is set */
	struct store_cert	 cur;		/* store_cert_current */
};

static int
show_certs_get(struct store *st, const char *dev, struct show_certs *sc)
{
	int	 r;

	memset(sc, 0, sizeof(*sc));
	if ((r = store_cert_count(st, dev, &sc->n)) != 0)
		return r;
	if ((r = store_cert_current(st, dev, &sc->cur)) == UC_ERR_NOTFOUND)
		return 0;
	sc->have = r == 0;
	return r;
}

static void
show_certs_print(const struct show_certs *sc, int json)
{
	const struct store_cert	*c = &sc->cur;
	char			 ts[32];

	if (json) {
		printf(",\"certificates\":%d,\"current_cert\":", sc->n);
		if (!sc->have) {
			fputs("null", stdout);
			return;
		}
		fputs("{\"serial\":", stdout);
		json_print_str(stdout, c->serial);
		printf(",\"state\":\"%s\",\"not_after\":",
		    store_cert_state_name(c->state));
		json_time(stdout, c->not_after);
		putchar('}');
	} else if (!sc->have)
		printf("Certificates:    %d\n", sc->n);
	else
		printf("Certificates:    %d (current: serial %s, %s, expires "
		    "%s)\n", sc->n, c->serial, store_cert_state_name(c->state),
		    time_iso(c->not_after, ts, sizeof(ts)));
}

static void
show_text(const struct capf_task *t, int64_t now)
{
	char	 vis[4 * STORE_REASON_MAX], buf[32];

	printf("Device:          %s\n", t->device);
	printf("Operation:       %s\n", capf_op_name(t->op));
	printf("Authentication:  %s\n", capf_auth_name(t->auth));
	printf("Auth string:     %s\n", t->pwhash[0] ? "set" : "not set");
	printf("Key:             %s\n", key_text(t, buf, sizeof(buf)));
	printf("Deadline:        %s\n", time_iso(t->deadline, buf,
	    sizeof(buf)));
	printf("Status:          %s\n", capf_status_name(t->status));
	printf("Last reason:     %s\n", t->reason[0] ? str_vis(vis,
	    sizeof(vis), t->reason) : "-");
	printf("Attempts:        %d\n", t->attempts);
	printf("Auth failures:   %d\n", t->auth_fails);
	printf("Locked until:    %s\n", t->locked_until > now ?
	    time_iso(t->locked_until, buf, sizeof(buf)) : "-");
	printf("Updated:         %s\n", time_iso(t->updated, buf,
	    sizeof(buf)));
}

/* capfctl show DEVICE [--json] */
static int
cmd_show(int argc, char **argv)
{
	struct opts		 o;
	struct capf_task	 t;
	struct show_certs	 sc;
	struct store		*st;
	int64_t			 now = time(NULL);
	int			 r, rc;

	memset(&sc, 0, sizeof(sc));
	if ((rc = device_cmd(argc, argv, "show", O_JSON, STORE_RDONLY, &o,
	    &st)) != 0)
		return rc;
	if ((r = store_capf_get(st, o.arg, &t)) != 0)
		rc = task_missing(r, o.arg);
	else if ((r = show_certs_get(st, o.arg, &sc)) != 0)
		rc = cmd_fail(r);
	else if (o.json) {
		putchar('{');
		task_json(stdout, &t, now);
		show_certs_print(&sc, 1);
		printf("}\n");
	} else {
		show_text(&t, now);
		show_certs_print(&sc, 0);
	}
	store_cert_clear(&sc.cur);
	db_close(st);
	return rc;
}

/* list: what the walk needs. */
struct listing {
	int	 json;
	int	 status;	/* STATUS_ANY, STATUS_LOCKED or capf_status */
	int64_t	 now;
	size_t	 n;
};

static int
list_one(const struct capf_task *t, void *arg)
{
	struct listing	*l = arg;
	char		 key[32], dl[32], stbuf[32];
	int		 locked = t->locked_until > l->now;

	if ((l->status == STATUS_LOCKED && !locked) ||
	    (l->status >= 0 && t->status != l->status))
		return 0;
	if (l->json) {
		printf("%s\n {", l->n ? "," : "");
		task_json(stdout, t, l->now);
		putchar('}');
	} else {
		if (l->n == 0)
			printf("%-16s %-8s %-10s %-9s %-16s %4s  %s\n",
			    "DEVICE", "OP", "AUTH", "KEY", "STATUS", "ATT",
			    "DEADLINE");
		snprintf(stbuf, sizeof(stbuf), "%s%s",
		    capf_status_name(t->status), locked ? ",locked" : "");
		printf("%-16s %-8s %-10s %-9s %-16s %4d  %s\n", t->device,
		    capf_op_name(t->op), capf_auth_name(t->auth),
		    key_text(t, key, sizeof(key)), stbuf, t->attempts,
		    time_iso(t->deadline, dl, sizeof(dl)));
	}
	l->n++;
	return 0;
}

/* The --status words: the capf_status names, then "locked". */
static const char *
status_word(int i)
{
	return i > CAPF_ST_EXPIRED ? "locked" : capf_status_name(i);
}

/* --status: a capf_status name or "locked". */
static int
status_parse(const char *s, int *status)
{
	char	 list[160], vis[64];
	int	 i;

	if (strcmp(s, "locked") == 0) {
		*status = STATUS_LOCKED;
		return 0;
	}
	for (i = CAPF_ST_PENDING; i <= CAPF_ST_EXPIRED; i++)
		if (strcmp(s, capf_status_name(i)) == 0) {
			*status = i;
			return 0;
		}
	return uc_fail(UC_ERR_ARG, "status \"%s\": want %s",
	    str_vis(vis, sizeof(vis), s), names_list(status_word,
	    CAPF_ST_EXPIRED + 2, list, sizeof(list)));
}

/* capfctl list [--json] [--status STATUS] */
static int
cmd_list(int argc, char **argv)
{
	struct opts	 o;
	struct listing	 l;
	struct store	*st = NULL;
	int		 r;

	if (opts_parse(argc, argv, O_DB | O_JSON | O_STATUS, "list", NULL,
	    &o) != 0)
		return 2;
	memset(&l, 0, sizeof(l));
	l.json = o.json;
	l.now = time(NULL);
	l.status = STATUS_ANY;
	if ((o.status != NULL &&
	    (r = status_parse(o.status, &l.status)) != 0) ||
	    (r = db_open(&o, STORE_RDONLY, &st)) != 0)
		return cmd_fail(r);
	if (l.json)
		putchar('[');
	r = store_capf_list(st, list_one, &l);
	if (l.json)
		printf("%s]\n", l.n ? "\n" : "");
	db_close(st);
	return r == 0 ? 0 : cmd_fail(r);
}

/* Import: the columns of the header line. */
enum col { COL_DEVICE, COL_OP, COL_AUTH, COL_PASSWORD, COL_KEY,
	COL_DEADLINE, COL__MAX };
static const char *const col_names[COL__MAX] = {
	"device", "op", "auth", "password", "key", "deadline"
};
#define COL_REQUIRED	3	/* device, op, auth; the rest optional */

struct import_row {
	struct capf_task t;
	char		 pw[PW_MAX + 1];	/* "" unless auth password */
	char		 hash[PWHASH_ENC_MAX];	/* pw hashed; then pw wiped */
	size_t		 line;
};

struct import {
	int64_t		 now;
	int		 col[COL__MAX];	/* field index; -1: absent */
	size_t		 ncols;		/* fields in the header */
	int		 have_header;
	struct import_row *rows;
	size_t		 n, cap;
	size_t		 nwarn, nec;
};

/* The header line: known column names, each once, the required ones. */
static int
import_header(struct import *im, const struct csv_rec *rec)
{
	char	 vis[4 * CSV_FIELD_MAX];
	size_t	 i;
	int	 c;

	for (c = 0; c < COL__MAX; c++)
		im->col[c] = -1;
	for (i = 0; i < rec->nfields; i++) {
		for (c = 0; c < COL__MAX; c++)
			if (strcasecmp(rec->field[i], col_names[c]) == 0)
				break;
		if (c == COL__MAX)
			return uc_fail(UC_ERR_FORMAT, "line %zu: \"%s\" is not "
			    "a column (want the header line device,op,auth,"
			    "password,key,deadline)", rec->line,
			    str_vis(vis, sizeof(vis), rec->field[i]));
		if (im->col[c] != -1)
			return uc_fail(UC_ERR_FORMAT, "line %zu: column %s "
			    "twice", rec->line, col_names[c]);
		im->col[c] = (int)i;
	}
	for (c = 0; c < COL_REQUIRED; c++)
		if (im->col[c] == -1)
			return uc_fail(UC_ERR_FORMAT, "line %zu: no %s column "
			    "(device, op and auth are required)", rec->line,
			    col_names[c]);
	im->ncols = rec->nfields;
	im->have_header = 1;
	return 0;
}

static const char *
field(const struct import *im, const struct csv_rec *rec, enum col c)
{
	return im->col[c] == -1 ? "" : rec->field[im->col[c]];
}

/* The auth string column of a row against its auth. */
static int
import_pw(struct import_row *row, const char *pw)
{
	if (row->t.auth != CAPF_AUTH_PASSWORD) {
		if (*pw != '\0')
			return uc_fail(UC_ERR_ARG, "a password is given but "
			    "auth is %s (only auth password takes one)",
			    capf_auth_name(row->t.auth));
		return 0;
	}
	if (*pw == '\0')
		return uc_fail(UC_ERR_ARG, "auth password needs an auth "
		    "string in the password column");
	if (pw_check(pw, strlen(pw)) != 0)
		return UC_ERR_ARG;
	memcpy(row->pw, pw, strlen(pw) + 1);
	return 0;
}

/* One device line into row; errors without the line number. */
static int
import_fill(struct import *im, const struct csv_rec *rec,
    struct import_row *row)
{
	struct capf_task	*t = &row->t;
	const char		*dev = field(im, rec, COL_DEVICE);
	int			 r;

	memset(row, 0, sizeof(*row));
	row->line = rec->line;
	if ((r = device_check(dev)) != 0)
		return r;
	snprintf(t->device, sizeof(t->device), "%s", dev);
	if ((r = op_parse(field(im, rec, COL_OP), &t->op)) != 0 ||
	    (r = auth_parse(field(im, rec, COL_AUTH), &t->auth)) != 0 ||
	    (r = import_pw(row, field(im, rec, COL_PASSWORD))) != 0 ||
	    (r = key_parse(field(im, rec, COL_KEY), t)) != 0 ||
	    (r = deadline_parse(field(im, rec, COL_DEADLINE), im->now,
	    &t->deadline)) != 0)
		return r;
	if (t->key_type == CAPF_KEY_EC)
		im->nec++;
	return 0;
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
	if ((nrows = OPENSSL_clear_realloc(im->rows, im->cap *
	    sizeof(*nrows), ncap * sizeof(*nrows))) == NULL)
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
	snprintf(where, sizeof(where), "line %zu", rec->line);
	if ((r = import_fill(im, rec, row)) != 0) {
		OPENSSL_cleanse(row, sizeof(*row));
		uc_prefix(where);
		return r;
	}
	im->n++;
	snprintf(where, sizeof(where), "line %zu: ", rec->line);
	if (im->nwarn < WARN_MAX && device_warn(row->t.device, where))
		im->nwarn++;
	return 0;
}

static int
row_cmp(const void *a, const void *b)
{
	const struct import_row	*x, *y;
	int			 c;

	x = *(const struct import_row *const *)a;
	y = *(const struct import_row *const *)b;
	c = strcmp(x->t.device, y->t.device);

	if (c != 0)
		return c;
	return (x->line > y->line) - (x->line < y->line);
}

/* A device on two lines: the first such later line is the error. */
static int
import_dups(const struct import *im)
{
	const struct import_row	**v, *first = NULL, *dup = NULL;
	size_t			  i;

	if ((v = calloc(im->n, sizeof(*v))) == NULL)
		return uc_fail(UC_ERR_ALLOC, "import: duplicate check");
	for (i = 0; i < im->n; i++)
		v[i] = &im->rows[i];
	qsort(v, im->n, sizeof(*v), row_cmp);
	for (i = 1; i < im->n; i++)
		if (strcmp(v[i]->t.device, v[i - 1]->t.device) == 0 &&
		    (dup == NULL || v[i]->line < dup->line)) {
			dup = v[i];
			first = v[i - 1];
		}
	free(v);
	if (dup == NULL)
		return 0;
	return uc_fail(UC_ERR_FORMAT, "line %zu: device %s already on line "
	    "%zu", dup->line, dup->t.device, first->line);
}

/* Progress on a terminal: the hashing makes big imports take a while. */
static void
import_progress(size_t i, size_t n, int tty_err)
{
	if (!tty_err || (i % PROGRESS_EVERY != 0 && i != n))
		return;
	fprintf(stderr, "\r%s: importing %zu/%zu", progname, i, n);
	if (i == n)
		fputc('\n', stderr);
}

/*
 * Hash every auth string before the store is touched, on every CPU, so
 * the import holds the write lock only for the rows (a running capfd
 * waits at most a few seconds for it) rather than for ~2.5 ms of PBKDF2
 * per row.
 */
#define HASH_THREADS_MAX	8

struct hash_job {
	struct import_row	*rows;
	size_t			 n, start, step;
	int			 r;
	char			 err[256];
};

static void *
hash_worker(void *arg)
{
	struct hash_job		*j = arg;
	struct import_row	*row;
	size_t			 i;

	for (i = j->start; i < j->n && j->r == 0; i += j->step) {
		row = &j->rows[i];
		if (row->pw[0] == '\0')
			continue;
		j->r = pwhash_make((const uint8_t *)row->pw, strlen(row->pw),
		    0, row->hash, sizeof(row->hash));
		OPENSSL_cleanse(row->pw, sizeof(row->pw));
		if (j->r != 0)
			snprintf(j->err, sizeof(j->err), "line %zu: %s",
			    row->line, uc_errdetail());
	}
	return NULL;
}

static int
import_hash(struct import *im)
{
	struct hash_job	 jobs[HASH_THREADS_MAX];
	pthread_t	 tid[HASH_THREADS_MAX];
	long		 ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	size_t		 i, nt, started = 0;
	int		 r = 0;

	nt = ncpu < 1 ? 1 : ncpu > HASH_THREADS_MAX ? HASH_THREADS_MAX :
	    (size_t)ncpu;
	for (i = 0; i < nt; i++) {
		memset(&jobs[i], 0, sizeof(jobs[i]));
		jobs[i].rows = im->rows;
		jobs[i].n = im->n;
		jobs[i].start = i;
		jobs[i].step = nt;
	}
	for (i = 1; i < nt; i++) {
		if (pthread_create(&tid[i], NULL, hash_worker, &jobs[i]) != 0)
			break;
		started++;
	}
	/* Rows of threads that did not start are done here. */
	for (i = started + 1; i < nt; i++)
		hash_worker(&jobs[i]);
	hash_worker(&jobs[0]);
	for (i = 1; i <= started; i++)
		pthread_join(tid[i], NULL);
	for (i = 0; i < nt && r == 0; i++)
		if (jobs[i].r != 0)
			r = uc_fail(jobs[i].r, "%s", jobs[i].err);
	return r;
}

/* Every row in one transaction; any failure rolls all of them back. */
static int
import_write(struct store *st, const struct import *im, size_t *nnew)
{
	struct capf_task	 old;
	char			 where[32];
	size_t			 i;
	int			 r, tty_err = isatty(STDERR_FILENO);

	*nnew = 0;
	if ((r = store_begin(st)) != 0)
		return r;
	for (i = 0; i < im->n; i++) {
		r = store_capf_get(st, im->rows[i].t.device, &old);
		if (r == UC_ERR_NOTFOUND)
			(*nnew)++;
		if ((r != 0 && r != UC_ERR_NOTFOUND) ||
		    (r = store_capf_put_hashed(st, &im->rows[i].t,
		    im->rows[i].hash)) != 0) {
			snprintf(where, sizeof(where), "line %zu",
			    im->rows[i].line);
			uc_prefix(where);
			break;
		}
		import_progress(i + 1, im->n, tty_err);
	}
	if (r == 0 && (r = store_commit(st)) == 0)
		return 0;
	if (tty_err && i > 0 && i < im->n)
		fputc('\n', stderr);
	db_abort(st);
	return r;
}

/* Read and check the whole file; nothing touches the store yet. */
static int
import_read(const char *path, struct import *im)
{
	uint8_t	*buf = NULL;
	size_t	 len = 0;
	int	 r;

	if ((r = file_read(path, IMPORT_FILE_MAX, &buf, &len)) != 0)
		return r;
	if ((r = csv_parse(buf, len, import_rec, im)) == 0) {
		if (!im->have_header)
			r = uc_fail(UC_ERR_FORMAT, "empty: want the header "
			    "line device,op,auth,password,key,deadline and one "
			    "line per device");
		else if (im->n == 0)
			r = uc_fail(UC_ERR_FORMAT, "no devices after the "
			    "header line");
		else
			r = import_dups(im);
	}
	if (r != 0)
		uc_prefix(path);
	OPENSSL_clear_free(buf, len);
	return r;
}

/* capfctl import FILE.csv: all devices or none. */
static int
cmd_import(int argc, char **argv)
{
	struct opts	 o;
	struct import	 im;
	struct store	*st = NULL;
	size_t		 nnew = 0;
	int		 r;

	if (opts_parse(argc, argv, O_DB, "import", "FILE.csv", &o) != 0)
		return 2;
	memset(&im, 0, sizeof(im));
	im.now = time(NULL);
	if ((r = import_read(o.arg, &im)) == 0 &&
	    (r = import_hash(&im)) == 0 &&
	    (r = db_open(&o, STORE_CREATE, &st)) == 0 &&
	    (r = import_write(st, &im, &nnew)) == 0) {
		if (im.nwarn == WARN_MAX)
			log_warnx("warning: more device names may not match "
			    "phones; check the file");
		if (im.nec > 0)
			log_warnx("warning: %zu device%s EC keys: their "
			    "phones need a version 1.1 trust list "
			    "(signed-files.md 2.4)", im.nec, im.nec == 1 ?
			    " gets" : "s get");
		printf("%s: imported %zu device%s (%zu new, %zu replaced)\n",
		    o.arg, im.n, im.n == 1 ? "" : "s", nnew, im.n - nnew);
	}
	OPENSSL_clear_free(im.rows, im.cap * sizeof(*im.rows));
	db_close(st);
	return r == 0 ? 0 : cmd_fail(r);
}

/* cert: one certificate, text first with -t. */
static int
cert_print(const struct store_cert *c, const struct opts *o)
{
	X509	*x = NULL;
	BIO	*b = NULL;
	char	 ts[32], te[32];
	size_t	 n = strlen(c->pem);
	int	 r = 0;

	if (o->all)
		printf("# serial %s, %s, recorded %s, expires %s\n",
		    c->serial, store_cert_state_name(c->state),
		    time_iso(c->issued, ts, sizeof(ts)),
		    time_iso(c->not_after, te, sizeof(te)));
	if (o->text) {
		if ((r = cert_from_mem((const uint8_t *)c->pem, n, &x)) != 0) {
			uc_prefix(c->serial);
			return r;
		}
		if ((b = BIO_new_fp(stdout, BIO_NOCLOSE)) == NULL ||
		    X509_print_ex(b, x, XN_FLAG_ONELINE &
		    ~ASN1_STRFLGS_ESC_MSB, 0) != 1)
			r = uc_fail_ssl(UC_ERR_CRYPTO, "certificate %s: "
			    "X509_print_ex", c->serial);
		BIO_free(b);
		X509_free(x);
	}
	fputs(c->pem, stdout);
	if (n > 0 && c->pem[n - 1] != '\n')
		putchar('\n');
	return r;
}

struct cert_walk {
	const struct opts *o;
	size_t		 n;
};

static int
cert_one(const struct store_cert *c, void *arg)
{
	struct cert_walk	*w = arg;

	w->n++;
	return cert_print(c, w->o);
}

/* capfctl cert DEVICE [--all] [-t]: the LSC PEM capfd issued. */
static int
cmd_cert(int argc, char **argv)
{
	struct opts		 o;
	struct store_cert	 c;
	struct cert_walk	 w;
	struct store		*st;
	int			 r, rc;

	if ((rc = device_cmd(argc, argv, "cert", O_ALL | O_TEXT,
	    STORE_RDONLY, &o, &st)) != 0)
		return rc;
	memset(&c, 0, sizeof(c));
	w.o = &o;
	w.n = 0;
	if (o.all) {
		if ((r = store_cert_list(st, o.arg, cert_one, &w)) == 0 &&
		    w.n == 0)
			r = uc_fail(UC_ERR_NOTFOUND, "%s: no certificate on "
			    "record", o.arg);
	} else if ((r = store_cert_current(st, o.arg, &c)) == 0)
		r = cert_print(&c, &o);
	else if (r == UC_ERR_NOTFOUND)
		uc_seterr("%s: no certificate issued or installed (see "
		    "capfctl cert --all)", o.arg);
	store_cert_clear(&c);
	db_close(st);
	return r == 0 ? 0 : cmd_fail(r);
}

/* Every certificate of a PEM bundle, or one DER certificate. */
static int
trust_load(const char *path, X509 **certs, size_t *n)
{
	uint8_t		*buf = NULL;
	size_t		 len = 0;
	BIO		*b = NULL;
	X509		*x;
	unsigned long	 e;
	int		 r;

	*n = 0;
	if ((r = file_read(path, TRUST_FILE_MAX, &buf, &len)) != 0)
		return r;
	if (len < 10 || memmem(buf, len, "-----BEGIN", 10) == NULL) {
		if ((r = cert_from_der(buf, len, &certs[0])) == 0)
			*n = 1;
		goto out;
	}
	if ((b = BIO_new_mem_buf(buf, (int)len)) == NULL) {
		r = uc_fail(UC_ERR_ALLOC, "BIO_new_mem_buf");
		goto out;
	}
	ERR_clear_error();
	while (*n < TRUST_CERTS_MAX &&
	    (x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL)
		certs[(*n)++] = x;
	e = ERR_peek_last_error();
	if (*n == TRUST_CERTS_MAX)
		r = uc_fail(UC_ERR_FORMAT, "more than %d certificates",
		    TRUST_CERTS_MAX);
	else if (*n == 0 || (e != 0 && ERR_GET_REASON(e) !=
	    PEM_R_NO_START_LINE))
		r = uc_fail_ssl(UC_ERR_FORMAT, "PEM certificate %zu does not "
		    "parse", *n + 1);
	ERR_clear_error();
out:
	if (r != 0)
		uc_prefix(path);
	BIO_free(b);
	free(buf);
	return r;
}

static void
trust_free(X509 **certs, size_t n)
{
	while (n-- > 0)
		X509_free(certs[n]);
}

static int64_t
asn1_unix(const ASN1_TIME *a)
{
	struct tm	 tm;

	memset(&tm, 0, sizeof(tm));
	if (a == NULL || ASN1_TIME_to_tm(a, &tm) != 1)
		return 0;
	return (int64_t)timegm(&tm);
}

/* The store_trust row for x; t->pem is malloc'd. */
static int
trust_entry(X509 *x, struct store_trust *t)
{
	uint8_t	 md[EVP_MAX_MD_SIZE];
	char	 name[CERT_NAME_MAX];
	BIO	*b;
	char	*p;
	size_t	 n;
	long	 len;
	int	 r;

	memset(t, 0, sizeof(*t));
	snprintf(t->store, sizeof(t->store), "%s", TRUST_STORE);
	if ((r = cert_fingerprint(x, EVP_sha256(), md, &n)) != 0)
		return r;
	hex_encode(md, n, t->sha256);
	if (cert_name_text(X509_get_subject_name(x), name, sizeof(name)) != 0)
		snprintf(name, sizeof(name), "(subject too long)");
	if (strlen(name) >= sizeof(t->subject))
		memcpy(name + sizeof(t->subject) - 4, "...", 4);
	snprintf(t->subject, sizeof(t->subject), "%s", name);
	t->not_after = asn1_unix(X509_get0_notAfter(x));
	if ((b = BIO_new(BIO_s_mem())) == NULL ||
	    PEM_write_bio_X509(b, x) != 1 ||
	    (len = BIO_get_mem_data(b, &p)) <= 0 ||
	    (t->pem = strndup(p, (size_t)len)) == NULL)
		r = uc_fail_ssl(UC_ERR_ALLOC, "certificate PEM");
	BIO_free(b);
	return r;
}

/* Warn about a root that will not work as capfd expects. */
static void
trust_warn(X509 *x, const struct store_trust *t, int64_t now)
{
	char	 vis[4 * sizeof(t->subject)];

	str_vis(vis, sizeof(vis), t->subject);
	if (X509_check_ca(x) == 0)
		log_warnx("warning: %s is not a CA certificate; MIC and SUDI "
		    "checks need their issuer", vis);
	if (t->not_after != 0 && t->not_after < now)
		log_warnx("warning: %s has expired", vis);
}

/* trust_has: looks for one fingerprint. */
static int
trust_match(const struct store_trust *t, void *arg)
{
	return strcmp(t->sha256, arg) == 0;
}

/* Is sha256 in the capf trust store?  1, 0 or UC_ERR_*. */
static int
trust_has(struct store *st, const char *sha256)
{
	return store_trust_list(st, TRUST_STORE, trust_match,
	    (void *)(uintptr_t)sha256);
}

/* capfctl trust add CERT: each certificate of the file, in one go. */
static int
cmd_trust_add(int argc, char **argv)
{
	struct opts		 o;
	struct store_trust	 t;
	struct store		*st = NULL;
	X509			*certs[TRUST_CERTS_MAX];
	char			 ts[32], vis[4 * sizeof(t.subject)];
	size_t			 n = 0, i;
	int			 r;

	if (opts_parse(argc, argv, O_DB, "trust add", "CERT", &o) != 0)
		return 2;
	memset(&t, 0, sizeof(t));
	if ((r = trust_load(o.arg, certs, &n)) != 0 ||
	    (r = db_open(&o, STORE_CREATE, &st)) != 0 ||
	    (r = store_begin(st)) != 0)
		goto out;
	for (i = 0; i < n && r == 0; i++) {
		free(t.pem);
		if ((r = trust_entry(certs[i], &t)) != 0 ||
		    (r = trust_has(st, t.sha256)) < 0)
			break;
		if (r == 1) {
			printf("already present: %s (SHA-256 %s)\n",
			    str_vis(vis, sizeof(vis), t.subject), t.sha256);
			r = 0;
			continue;
		}
		if ((r = store_trust_add(st, &t)) != 0)
			break;
		trust_warn(certs[i], &t, time(NULL));
		printf("added %s (SHA-256 %s, expires %s)\n",
		    str_vis(vis, sizeof(vis), t.subject), t.sha256,
		    time_iso(t.not_after, ts, sizeof(ts)));
	}
	if (r == 0)
		r = store_commit(st);
	else
		db_abort(st);
out:
	free(t.pem);
	trust_free(certs, n);
	db_close(st);
	return r == 0 ? 0 : cmd_fail(r);
}

struct trust_walk {
	int	 json;
	int64_t	 now;
	size_t	 n;
};

static int
trust_one(const struct store_trust *t, void *arg)
{
	struct trust_walk	*w = arg;
	char			 ts[32], vis[4 * sizeof(t->subject)];

	if (w->json) {
		printf("%s\n {\"sha256\":\"%s\",\"subject\":", w->n ? "," : "",
		    t->sha256);
		json_print_str(stdout, t->subject);
		fputs(",\"not_after\":", stdout);
		json_time(stdout, t->not_after);
		printf(",\"expired\":%s}", t->not_after < w->now ? "true" :
		    "false");
	} else {
		if (w->n == 0)
			printf("%-64s  %-20s  %s\n", "SHA-256", "EXPIRES",
			    "SUBJECT");
		printf("%-64s  %-20s  %s%s\n", t->sha256,
		    time_iso(t->not_after, ts, sizeof(ts)),
		    str_vis(vis, sizeof(vis), t->subject),
		    t->not_after < w->now ? " (EXPIRED)" : "");
	}
	w->n++;
	return 0;
}

/* capfctl trust list [--json] */
static int
cmd_trust_list(int argc, char **argv)
{
	struct opts		 o;
	struct trust_walk	 w;
	struct store		*st = NULL;
	int			 r;

	if (opts_parse(argc, argv, O_DB | O_JSON, "trust list", NULL,
	    &o) != 0)
		return 2;
	memset(&w, 0, sizeof(w));
	w.json = o.json;
	w.now = time(NULL);
	if ((r = db_open(&o, STORE_RDONLY, &st)) != 0)
		return cmd_fail(r);
	if (w.json)
		putchar('[');
	r = store_trust_list(st, TRUST_STORE, trust_one, &w);
	if (w.json)
		printf("%s]\n", w.n ? "\n" : "");
	else if (r == 0 && w.n == 0)
		printf("the %s trust store is empty\n", TRUST_STORE);
	db_close(st);
	return r == 0 ? 0 : cmd_fail(r);
}

/* 64 hex digits, optionally in colon-separated pairs, into lower case. */
static int
sha256_arg(const char *s, char *out)
{
	size_t	 i, j = 0;

	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] == ':' && i % 3 == 2)
			continue;
		if (j == 64 || !isxdigit((unsigned char)s[i]))
			return -1;
		out[j++] = (char)tolower((unsigned char)s[i]);
	}
	out[j] = '\0';
	return j == 64 ? 0 : -1;
}

/* Remove one fingerprint from the capf trust store. */
static int
trust_del(struct store *st, const char *sha)
{
	int	 r;

	if ((r = store_trust_del(st, TRUST_STORE, sha)) == UC_ERR_NOTFOUND)
		return uc_fail(r, "no certificate with SHA-256 %s in the %s "
		    "trust store", sha, TRUST_STORE);
	if (r == 0)
		printf("removed %s\n", sha);
	return r;
}

/* capfctl trust remove CERT|SHA256 */
static int
cmd_trust_remove(int argc, char **argv)
{
	struct opts		 o;
	struct store_trust	 t;
	struct store		*st = NULL;
	X509			*certs[TRUST_CERTS_MAX];
	char			 sha[65];
	size_t			 n = 0, i;
	int			 r, is_sha;

	if (opts_parse(argc, argv, O_DB, "trust remove", "CERT or SHA256",
	    &o) != 0)
		return 2;
	memset(&t, 0, sizeof(t));
	is_sha = sha256_arg(o.arg, sha) == 0;
	if (!is_sha && access(o.arg, F_OK) != 0) {
		r = uc_fail(UC_ERR_ARG, "%s: neither a SHA-256 fingerprint (64 "
		    "hex digits) nor a certificate file", o.arg);
		goto out;
	}
	if (!is_sha && (r = trust_load(o.arg, certs, &n)) != 0)
		goto out;
	if ((r = db_open(&o, 0, &st)) != 0 || (r = store_begin(st)) != 0)
		goto out;
	if (is_sha)
		r = trust_del(st, sha);
	for (i = 0; i < n && r == 0; i++) {
		free(t.pem);
		if ((r = trust_entry(certs[i], &t)) == 0)
			r = trust_del(st, t.sha256);
	}
	if (r == 0)
		r = store_commit(st);
	else
		db_abort(st);
out:
	free(t.pem);
	trust_free(certs, n);
	db_close(st);
	return r == 0 ? 0 : cmd_fail(r);
}

static const struct cmd trust_cmds[] = {
	{ "add", cmd_trust_add },
	{ "list", cmd_trust_list },
	{ "remove", cmd_trust_remove },
};

/* capfctl trust add|list|remove ... */
static int
cmd_trust(int argc, char **argv)
{
	if (argc < 2)
		return cmd_usage_error("trust: give add, list or remove");
	return cmd_dispatch(trust_cmds, NITEMS(trust_cmds), argc, argv,
	    help_trust);
}

static const struct cmd cmds[] = {
	{ "add", cmd_add },
	{ "set", cmd_set },
	{ "remove", cmd_remove },
	{ "list", cmd_list },
	{ "show", cmd_show },
	{ "unlock", cmd_unlock },
	{ "import", cmd_import },
	{ "cert", cmd_cert },
	{ "trust", cmd_trust },
};

int
main(int argc, char *argv[])
{
	int	 i = 1, rc;

	log_init(progname, 0, getenv("UCSEC_DEBUG") ? LOG_LEVEL_DEBUG :
	    LOG_LEVEL_INFO);
	/* capfctl [--db FILE] CMD ...: the one option before the command. */
	while (i < argc && strncmp(argv[i], "--db", 4) == 0) {
		if (strcmp(argv[i], "--db") == 0 && i + 1 < argc) {
			db_global = argv[i + 1];
			i += 2;
		} else if (strncmp(argv[i], "--db=", 5) == 0)
			db_global = argv[i++] + 5;
		else
			return cmd_usage_error("unknown option or missing "
			    "argument: %s", argv[i]);
	}
	if (i >= argc)
		help_print(stderr, NULL, 2);
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
