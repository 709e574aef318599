/*
 * certmgr: the server identities of a ucsec cluster (callmanager, tftp,
 * capf, https, ipsec, srst) and their trip through an external CA.  Makes
 * keys (in a file or on a PKCS#11 token), self-signed certificates and
 * PKCS#10 requests, submits requests to a CFSSL CA, imports what comes
 * back once it matches the key and verifies up its chain, and edits the
 * trust stores of the shared store.  See certmgr(8).
 *
 * Layout of DIR: ROLE.crt (PEM certificate, then its chain), ROLE.key
 * (PEM private key, mode 0600) or ROLE.keyuri (one pkcs11: URI line,
 * never a PIN), ROLE.csr (the last request).  Every write is atomic
 * (lib/fileio.h).
 */
#include <sys/stat.h>

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "cert.h"
#include "cmd.h"
#include "cursor.h"
#include "fileio.h"
#include "json.h"
#include "log.h"
#include "p11.h"
#include "signer.h"
#include "store.h"
#include "uerr.h"
#include "wbuf.h"

#define CERTMGR_DIR	"/etc/ucsec/certs"	/* default identity dir */
#define CERTMGR_DB	"/var/lib/ucsec/ucsec.db" /* default shared store */
#define KEY_FILE_MAX	(64 * 1024)	/* a PEM key (RSA-8192: 7 KiB) */
#define CSR_FILE_MAX	(64 * 1024)	/* a PKCS#10 request */
#define CERT_FILE_MAX	(1024 * 1024)	/* a certificate and chain */
#define CHAIN_MAX	8	/* certificates one file or reply may hold */
#define AUTH_KEY_MAX	64	/* HMAC key bytes (CFSSL: 16 or 32) */
#define AUTH_HEX_MAX	(2 * AUTH_KEY_MAX + 1) /* hex, with NUL */
#define AUTH_FILE_MAX	1024	/* --auth-key-file: hex, white space */
#define CA_URL_MAX	512	/* --ca URL, endpoint path included */
#define CA_REQ_MAX	(256 * 1024)	/* a sign request we build */
#define CA_REPLY_MAX	(1024 * 1024)	/* a CFSSL reply: a few KiB */
#define CA_TIMEOUT	30L	/* seconds for one whole CA exchange */
#define CA_CONNECT_TIMEOUT 10L	/* seconds to connect to the CA */
#define CA_CERT_MAX	(64 * 1024)	/* result.certificate: PEM */
#define TEXT_MAX	256	/* a CA message or DN we print */
#define DAYS_DEFAULT	1825	/* five years, as CUCM */
#define DAYS_MAX	36500	/* a century */
#define SERIAL_LEN	16	/* random certificate serial bytes */
#define WARN_MAX	6	/* deferred warnings kept */
#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))
#define STORE_NAME_LEN	31	/* as struct store_trust.store */

/*
 * A role: what must be reloaded after its identity changes, and its
 * ctlclient record name when the CTL carries its certificate.
 */
struct role {
	const char	*name;
	const char	*reload;	/* next step after a change */
	const char	*ctl;		/* ctlclient --add-X, or NULL */
	int		 ca;		/* a CA (capf-protocol.md 1) */
};

static const struct role roles[] = {
	{ "callmanager", "reload ccmd (SIGHUP)", "ccm", 0 },
	{ "tftp", "reload ucsec-tftpd (SIGHUP)", "tftp", 0 },
	{ "capf", "reload capfd (SIGHUP)", "capf", 1 },
	{ "https", "reload the HTTPS server that serves https.crt", NULL, 0 },
	{ "ipsec", "reload the IPsec daemon's credentials "
	    "(e.g. swanctl --load-creds)", NULL, 0 },
	{ "srst", "re-enroll the SRST gateway's trustpoint", NULL, 0 },
};
#define ROLES_TEXT	"callmanager, tftp, capf, https, ipsec, srst"

/* One certificate extension in OpenSSL's config syntax. */
struct extspec {
	int		 nid;
	const char	*value;
};

/* Server identities other than CAPF; keyEncipherment only for RSA. */
static const struct extspec ext_server_rsa[] = {
	{ NID_basic_constraints, "critical,CA:FALSE" },
	{ NID_key_usage, "critical,digitalSignature,keyEncipherment" },
	{ NID_ext_key_usage, "serverAuth,clientAuth" },
	{ NID_subject_key_identifier, "hash" },
};
static const struct extspec ext_server_ec[] = {
	{ NID_basic_constraints, "critical,CA:FALSE" },
	{ NID_key_usage, "critical,digitalSignature" },
	{ NID_ext_key_usage, "serverAuth,clientAuth" },
	{ NID_subject_key_identifier, "hash" },
};
/*
 * CAPF: CUCM 14SU2 phones need CA:TRUE, pathlen:0 and digitalSignature,
 * keyCertSign (capf-protocol.md 1); the rest as the reference CAPF
 * certificate (vectors/capf.pem) has it, for TLS and issuing LSCs.
 */
static const struct extspec ext_capf_rsa[] = {
	{ NID_basic_constraints, "critical,CA:TRUE,pathlen:0" },
	{ NID_key_usage, "critical,digitalSignature,keyEncipherment,"
	    "keyCertSign,cRLSign" },
	{ NID_ext_key_usage, "serverAuth,clientAuth" },
	{ NID_subject_key_identifier, "hash" },
};
static const struct extspec ext_capf_ec[] = {
	{ NID_basic_constraints, "critical,CA:TRUE,pathlen:0" },
	{ NID_key_usage, "critical,digitalSignature,keyCertSign,cRLSign" },
	{ NID_ext_key_usage, "serverAuth,clientAuth" },
	{ NID_subject_key_identifier, "hash" },
};
/* csr --ca-cert: a subordinate CA under the company root. */
static const struct extspec ext_subca[] = {
	{ NID_basic_constraints, "critical,CA:TRUE,pathlen:0" },
	{ NID_key_usage, "critical,keyCertSign,cRLSign,digitalSignature" },
};

/* Option bits: which options each command takes. */
#define O_DIR		0x0001	/* --dir */
#define O_DB		0x0002	/* --db */
#define O_NAME		0x0004	/* --subject --san */
#define O_NEWKEY	0x0008	/* --key --key-uri */
#define O_KEEP		0x0010	/* --keep-key --force --days */
#define O_MODULE	0x0020	/* --module */
#define O_CAREQ		0x0040	/* --ca-cert */
#define O_OUT		0x0080	/* --der -o */
#define O_CA		0x0100	/* --ca --csr --profile --label ... */
#define O_JSON		0x0200	/* --json */

struct opts {
	const char	*dir;		/* identity directory */
	const char	*db;		/* shared store */
	const char	*subject;	/* --subject /CN=... */
	const char	*san;		/* --san DNS:x,IP:y */
	const char	*keyspec;	/* --key rsa:2048 */
	const char	*keyuri;	/* --key-uri pkcs11:... */
	const char	*out;		/* -o */
	const char	*ca;		/* --ca cfssl:https://... */
	const char	*csr;		/* --csr */
	const char	*profile;	/* --profile */
	const char	*label;		/* --label */
	const char	*authfile;	/* --auth-key-file */
	const char	*cacert;	/* --cacert: TLS trust for the CA */
	const char	*chain;		/* --chain: issuer chain */
	char		 authhex[AUTH_HEX_MAX]; /* --auth-key copy; wiped */
	int		 have_authhex;
	long		 days;
	int		 subca;		/* --ca-cert */
	int		 der;
	int		 json;
	int		 force;
	int		 keep_key;
	int		 insecure;
	struct p11_opts	 p11;
	char		**args;		/* operands */
	int		 nargs;
};

/* The identity files of one role in DIR. */
struct ident {
	const struct role *role;
	char		 crt[PATH_MAX];
	char		 key[PATH_MAX];
	char		 keyuri[PATH_MAX];
	char		 csr[PATH_MAX];
};

enum keykind { KEY_NONE, KEY_FILE, KEY_URI };

/* A CFSSL API endpoint and how to reach it. */
struct ca {
	char		 base[CA_URL_MAX];	/* http(s)://host:port */
	const char	*cacert;
	int		 insecure;
};

/* What a CFSSL reply says. */
struct careply {
	int		 success;	/* -1 when absent */
	char		*cert;		/* result.certificate */
	size_t		 certlen;
	char		 msg[TEXT_MAX];	/* errors[0].message, vis */
	long		 code;		/* errors[0].code */
};

static const char *progname = "certmgr";
static const char *g_dir;	/* certmgr --dir DIR before the command */
static const char *g_db;	/* certmgr --db FILE before the command */
static char	 warnings[WARN_MAX][TEXT_MAX];
static int	 nwarnings;

static void __attribute__((noreturn))
usage_to(FILE *f, int code)
{
	fprintf(f,
"usage: certmgr [--dir DIR] selfsign ROLE [--subject DN] [--san LIST]\n"
"                   [--key SPEC | --key-uri URI | --keep-key] [--days N]\n"
"                   [--force]\n"
"       certmgr [--dir DIR] csr ROLE [--subject DN] [--san LIST]\n"
"                   [--ca-cert] [--key SPEC | --key-uri URI] [--der]\n"
"                   [-o FILE]\n"
"       certmgr [--dir DIR] submit ROLE --ca cfssl:https://HOST:PORT\n"
"                   [--csr FILE] [--profile P] [--label L]\n"
"                   [--auth-key-file FILE | --auth-key HEX]\n"
"                   [--cacert FILE] [--chain FILE] [--insecure]\n"
"       certmgr [--dir DIR] import ROLE CERT [CHAIN]\n"
"       certmgr [--dir DIR] show ROLE [--json]\n"
"       certmgr [--db FILE] trust add STORE CERT\n"
"       certmgr [--db FILE] trust list STORE\n"
"       certmgr [--db FILE] trust remove STORE CERT|SHA256\n"
"\n"
"ROLE:  " ROLES_TEXT "\n"
"DN:    /CN=NAME/O=ORG/OU=UNIT      LIST: DNS:name,IP:address,...\n"
"SPEC:  rsa:2048 (default), rsa:3072, rsa:4096, ec:P-256, ec:P-384\n"
"URI:   pkcs11: URI of a token key (PIN: UCSEC_PIN, pin-source, prompt)\n"
"DIR:   $UCSEC_CERT_DIR, else " CERTMGR_DIR "\n"
"FILE:  (--db) $UCSEC_DB, else " CERTMGR_DB "\n"
"Common: --module PATH (PKCS#11 module).  See certmgr(8).\n");
	exit(code);
}

static void __attribute__((noreturn))
usage(void)
{
	usage_to(stderr, 2);
}

/* Keep a warning until the command succeeds: errors stay one line. */
static void __attribute__((format(printf, 1, 2)))
warn_later(const char *fmt, ...)
{
	va_list	 ap;

	if (nwarnings >= WARN_MAX)
		return;
	va_start(ap, fmt);
	vsnprintf(warnings[nwarnings++], TEXT_MAX, fmt, ap);
	va_end(ap);
}

static void
warn_flush(void)
{
	int	 i;

	for (i = 0; i < nwarnings; i++)
		log_warnx("warning: %s", warnings[i]);
	nwarnings = 0;
}

static const struct role *
role_find(const char *name)
{
	size_t	 i;

	for (i = 0; i < NELEM(roles); i++)
		if (strcmp(name, roles[i].name) == 0)
			return &roles[i];
	return NULL;
}

/*
 * Options.
 */

static const struct option longopts[] = {
	{ "dir", required_argument, NULL, 'D' },
	{ "db", required_argument, NULL, 'B' },
	{ "subject", required_argument, NULL, 's' },
	{ "san", required_argument, NULL, 'S' },
	{ "key", required_argument, NULL, 'k' },
	{ "key-uri", required_argument, NULL, 'u' },
	{ "keep-key", no_argument, NULL, 'K' },
	{ "force", no_argument, NULL, 'f' },
	{ "days", required_argument, NULL, 'd' },
	{ "module", required_argument, NULL, 'm' },
	{ "ca-cert", no_argument, NULL, 'A' },
	{ "der", no_argument, NULL, 'E' },
	{ "out", required_argument, NULL, 'o' },
	{ "ca", required_argument, NULL, 'c' },
	{ "csr", required_argument, NULL, 'r' },
	{ "profile", required_argument, NULL, 'p' },
	{ "label", required_argument, NULL, 'l' },
	{ "auth-key", required_argument, NULL, 'a' },
	{ "auth-key-file", required_argument, NULL, 'F' },
	{ "cacert", required_argument, NULL, 'C' },
	{ "chain", required_argument, NULL, 'H' },
	{ "insecure", no_argument, NULL, 'I' },
	{ "json", no_argument, NULL, 'j' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 }
};

/* Option bit for a getopt code; 0 for help and unknown. */
static int
opt_bit(int c)
{
	switch (c) {
	case 'D': return O_DIR;
	case 'B': return O_DB;
	case 's': case 'S': return O_NAME;
	case 'k': case 'u': return O_NEWKEY;
	case 'K': case 'f': case 'd': return O_KEEP;
	case 'm': return O_MODULE;
	case 'A': return O_CAREQ;
	case 'E': case 'o': return O_OUT;
	case 'c': case 'r': case 'p': case 'l': case 'a': case 'F': case 'C':
	case 'H': case 'I': return O_CA;
	case 'j': return O_JSON;
	}
	return 0;
}

/*
 * --auth-key HEX: copy it and wipe the argv copy, so it lingers in
 * /proc/PID/cmdline as short as we can make it.  0 or 2 (usage).
 */
static int
opt_authkey(char *arg, struct opts *o)
{
	size_t	 n = strlen(arg);
	int	 r = 0;

	if (n >= sizeof(o->authhex))
		r = cmd_usage_error("--auth-key: longer than %d hex digits",
		    2 * AUTH_KEY_MAX);
	else {
		memcpy(o->authhex, arg, n + 1);
		o->have_authhex = 1;
		warn_later("--auth-key puts the CA auth key on the command "
		    "line, where other local users can read it; use "
		    "--auth-key-file");
	}
	OPENSSL_cleanse(arg, n);
	return r;
}

/* Store one option; returns 0 or 2 (usage). */
static int
opt_store(int c, char *arg, struct opts *o)
{
	char	*end;

	switch (c) {
	case 'D': o->dir = arg; break;
	case 'B': o->db = arg; break;
	case 's': o->subject = arg; break;
	case 'S': o->san = arg; break;
	case 'k': o->keyspec = arg; break;
	case 'u': o->keyuri = arg; break;
	case 'K': o->keep_key = 1; break;
	case 'f': o->force = 1; break;
	case 'm': o->p11.module = arg; break;
	case 'A': o->subca = 1; break;
	case 'E': o->der = 1; break;
	case 'o': o->out = arg; break;
	case 'c': o->ca = arg; break;
	case 'r': o->csr = arg; break;
	case 'p': o->profile = arg; break;
	case 'l': o->label = arg; break;
	case 'F': o->authfile = arg; break;
	case 'C': o->cacert = arg; break;
	case 'H': o->chain = arg; break;
	case 'I': o->insecure = 1; break;
	case 'j': o->json = 1; break;
	case 'a': return opt_authkey(arg, o);
	case 'd':
		errno = 0;
		o->days = strtol(arg, &end, 10);
		if (*arg < '0' || *arg > '9' || *end != '\0' || errno != 0 ||
		    o->days < 1 || o->days > DAYS_MAX)
			return cmd_usage_error("--days %s: want 1 to %d", arg,
			    DAYS_MAX);
		break;
	}
	return 0;
}

static void
opts_init(struct opts *o)
{
	const char	*e;

	memset(o, 0, sizeof(*o));
	o->days = DAYS_DEFAULT;
	o->p11.interactive = isatty(STDIN_FILENO);
	o->dir = CERTMGR_DIR;
	if ((e = getenv("UCSEC_CERT_DIR")) != NULL && *e != '\0')
		o->dir = e;
	if (g_dir != NULL)
		o->dir = g_dir;
	o->db = CERTMGR_DB;
	if ((e = getenv("UCSEC_DB")) != NULL && *e != '\0')
		o->db = e;
	if (g_db != NULL)
		o->db = g_db;
}

/*
 * Parse a command's options (argv[0] is the command) allowing the bits
 * in allow, and min to max operands.  Returns 0 or 2 (usage).
 */
static int
opts_parse(int argc, char **argv, int allow, int min, int max,
    struct opts *o)
{
	int	 c, r;

	opts_init(o);
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "o:h", longopts, NULL)) != -1) {
		if (c == 'h')
			usage_to(stdout, 0);
		if (opt_bit(c) == 0)
			return cmd_usage_error("%s: unknown option or missing "
			    "argument: %s", argv[0], argv[optind - 1]);
		if (!(opt_bit(c) & allow))
			return cmd_usage_error("%s: option %s does not apply",
			    argv[0], argv[optind - 1]);
		if ((r = opt_store(c, optarg, o)) != 0)
			return r;
	}
	o->args = argv + optind;
	o->nargs = argc - optind;
	if (o->nargs < min || o->nargs > max)
		return cmd_usage_error("%s: wrong number of operands",
		    argv[0]);
	if (o->keyspec != NULL && o->keyuri != NULL)
		return cmd_usage_error("%s: give --key or --key-uri, not both",
		    argv[0]);
	if (o->have_authhex && o->authfile != NULL)
		return cmd_usage_error("%s: give --auth-key-file or "
		    "--auth-key, not both", argv[0]);
	return 0;
}

/*
 * Identity files.
 */

/* Paths of role's files in dir; 0 or 2 (usage) when dir is too long. */
static int
ident_init(const char *dir, const char *name, struct ident *id)
{
	memset(id, 0, sizeof(*id));
	if ((id->role = role_find(name)) == NULL)
		return cmd_usage_error("unknown role \"%s\" (%s)", name,
		    ROLES_TEXT);
	if (snprintf(id->crt, sizeof(id->crt), "%s/%s.crt", dir, name) >=
	    (int)sizeof(id->crt) ||
	    snprintf(id->key, sizeof(id->key), "%s/%s.key", dir, name) >=
	    (int)sizeof(id->key) ||
	    snprintf(id->keyuri, sizeof(id->keyuri), "%s/%s.keyuri", dir,
	    name) >= (int)sizeof(id->keyuri) ||
	    snprintf(id->csr, sizeof(id->csr), "%s/%s.csr", dir, name) >=
	    (int)sizeof(id->csr))
		return cmd_usage_error("--dir %s: path too long", dir);
	return 0;
}

/* *yes: whether path exists.  0 or UC_ERR_IO (not ENOENT). */
static int
path_exists(const char *path, int *yes)
{
	struct stat	 st;

	*yes = 0;
	if (lstat(path, &st) == 0) {
		*yes = 1;
		return 0;
	}
	if (errno == ENOENT)
		return 0;
	return uc_fail(UC_ERR_IO, "%s: %s", path, strerror(errno));
}

/* Where the role's key lives; both files at once is an error. */
static int
key_kind(const struct ident *id, enum keykind *k)
{
	int	 f, u, r;

	*k = KEY_NONE;
	if ((r = path_exists(id->key, &f)) != 0 ||
	    (r = path_exists(id->keyuri, &u)) != 0)
		return r;
	if (f && u)
		return uc_fail(UC_ERR_POLICY, "%s and %s both exist; remove "
		    "the one that is not the %s key", id->key, id->keyuri,
		    id->role->name);
	*k = f ? KEY_FILE : u ? KEY_URI : KEY_NONE;
	return 0;
}

/* The identity directory must exist; made (0755) if only it is missing. */
static int
dir_ready(const char *dir)
{
	struct stat	 st;

	if (stat(dir, &st) == 0) {
		if (!S_ISDIR(st.st_mode))
			return uc_fail(UC_ERR_IO, "%s: not a directory", dir);
		return 0;
	}
	if (errno != ENOENT || mkdir(dir, 0755) == -1)
		return uc_fail(UC_ERR_IO, "identity directory %s: %s", dir,
		    strerror(errno));
	return 0;
}

/* The PEM file backend of struct signer for a key without certificate. */

static int
fkey_sign(void *ctx, enum signer_md md, const uint8_t *msg, size_t len,
    uint8_t *sig, size_t *siglen)
{
	return signer_evp_sign(ctx, md, msg, len, sig, siglen);
}

static void
fkey_free(void *ctx)
{
	EVP_PKEY_free(ctx);
}

static EVP_PKEY *
fkey_pkey(void *ctx)
{
	return ctx;
}

static const struct signer_ops fkey_ops = {
	.name = "file",
	.sign = fkey_sign,
	.free = fkey_free,
	.pkey = fkey_pkey,
};

/* A PEM callback that refuses: an encrypted key never prompts. */
static int
no_passphrase(char *buf, int size, int rw, void *arg)
{
	(void)buf;
	(void)size;
	(void)rw;
	(void)arg;
	return -1;
}

/* Load the unencrypted PEM key at path.  Caller frees *out. */
static int
keyfile_load(const char *path, EVP_PKEY **out)
{
	struct stat	 st;
	uint8_t		*buf = NULL;
	size_t		 len;
	BIO		*bio = NULL;
	int		 r;

	*out = NULL;
	if ((r = file_read(path, KEY_FILE_MAX, &buf, &len)) != 0)
		return r;
	if ((bio = BIO_new_mem_buf(buf, (int)len)) == NULL)
		r = uc_fail(UC_ERR_ALLOC, "BIO_new_mem_buf");
	else if ((*out = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase,
	    NULL)) == NULL)
		r = uc_fail_ssl(UC_ERR_FORMAT, "%s: no unencrypted PEM private "
		    "key", path);
	if (r == 0 && stat(path, &st) == 0 && (st.st_mode & 077) != 0)
		warn_later("%s is readable by group or others (mode %03o); "
		    "chmod 600 it", path, (unsigned)(st.st_mode & 0777));
	BIO_free(bio);
	OPENSSL_clear_free(buf, len + 1);
	return r;
}

/*
 * Check a pkcs11: URI before it is stored: a URI, and no pin-value
 * (ROLE.keyuri never holds a PIN).  0 or UC_ERR_ARG.
 */
static int
keyuri_check(const char *uri)
{
	struct p11_uri	 u;
	int		 r;

	if (!p11_is_uri(uri))
		return uc_fail(UC_ERR_ARG, "key URI does not start with "
		    "\"pkcs11:\"");
	if ((r = p11_uri_parse(uri, &u)) != 0)
		return r == UC_ERR_ALLOC ? r : UC_ERR_ARG;
	if (u.pin_value != NULL)
		r = uc_fail(UC_ERR_ARG, "the key URI holds a pin-value, which "
		    "would be stored; use UCSEC_PIN or pin-source instead");
	p11_uri_free(&u);
	return r;
}

/*
 * Read ROLE.keyuri: one line of printable ASCII, an optional newline,
 * nothing after.  Caller frees *out.
 */
static int
keyuri_load(const char *path, char **out)
{
	struct cursor	 c, scan;
	uint8_t		*buf = NULL;
	const uint8_t	*p;
	size_t		 len, n = 0;
	uint8_t		 ch;
	int		 r;

	*out = NULL;
	if ((r = file_read(path, P11_URI_MAX + 1, &buf, &len)) != 0)
		return r;
	cur_init(&c, buf, len);
	scan = c;
	while (cur_left(&scan) > 0 && (ch = cur_u8(&scan)) != '\n') {
		if (ch < 0x21 || ch > 0x7e) {
			r = uc_fail(UC_ERR_FORMAT, "%s: byte %zu is not "
			    "printable ASCII", path, n);
			goto out;
		}
		n++;
	}
	if (n == 0 || cur_left(&scan) != 0 || (p = cur_bytes(&c, n)) == NULL) {
		r = uc_fail(UC_ERR_FORMAT, "%s: want one pkcs11: URI line",
		    path);
		goto out;
	}
	if ((*out = strndup((const char *)p, n)) == NULL)
		r = uc_fail(UC_ERR_ALLOC, "key URI");
	else if ((r = keyuri_check(*out)) != 0) {
		uc_prefix(path);
		free(*out);
		*out = NULL;
	}
out:
	free(buf);
	return r;
}

/*
 * Open the role's key as a signer without a certificate: ROLE.key (a
 * file signer) or the token key ROLE.keyuri names (p11_signer_open_bare:
 * the token needs no certificate for it).  UC_ERR_NOTFOUND when the role
 * has no key.  Caller frees *out with signer_free.
 */
static int
rolekey_open(const struct ident *id, const struct p11_opts *po,
    struct signer **out)
{
	enum keykind	 k;
	EVP_PKEY	*pk;
	char		*uri = NULL;
	int		 r;

	*out = NULL;
	if ((r = key_kind(id, &k)) != 0)
		return r;
	switch (k) {
	case KEY_FILE:
		if ((r = keyfile_load(id->key, &pk)) != 0)
			return r;
		return signer_new(&fkey_ops, pk, NULL, id->key, out);
	case KEY_URI:
		if ((r = keyuri_load(id->keyuri, &uri)) == 0)
			r = p11_signer_open_bare(uri, po, out);
		free(uri);
		return r;
	default:
		return uc_fail(UC_ERR_NOTFOUND, "%s has no key (%s or %s); "
		    "make one with \"certmgr selfsign %s\" or \"certmgr csr "
		    "%s\"", id->role->name, id->key, id->keyuri,
		    id->role->name, id->role->name);
	}
}

/* The signer's public key (borrowed): its certificate's, else its own. */
static EVP_PKEY *
signer_pub(struct signer *s)
{
	return s->cert != NULL ? X509_get0_pubkey(s->cert) : signer_pkey(s);
}

/* A new key pair from "rsa:BITS" or "ec:CURVE".  Caller frees *out. */
static int
keyspec_gen(const char *spec, EVP_PKEY **out)
{
	static const char *const ok[] = {
		"rsa:2048", "rsa:3072", "rsa:4096", "ec:P-256", "ec:P-384",
	};
	size_t	 i;

	*out = NULL;
	for (i = 0; i < NELEM(ok); i++)
		if (strcmp(spec, ok[i]) == 0)
			break;
	if (i == NELEM(ok))
		return uc_fail(UC_ERR_ARG, "--key %s: want rsa:2048, rsa:3072, "
		    "rsa:4096, ec:P-256 or ec:P-384", spec);
	if (spec[0] == 'r')
		*out = EVP_PKEY_Q_keygen(NULL, NULL, "RSA",
		    (size_t)strtoul(spec + 4, NULL, 10));
	else
		*out = EVP_PKEY_Q_keygen(NULL, NULL, "EC", spec + 3);
	if (*out == NULL)
		return uc_fail_ssl(UC_ERR_CRYPTO, "generating a %s key", spec);
	return 0;
}

/*
 * The key a new certificate or request is for: a new file key (--key,
 * default rsa:2048) or the token key --key-uri names, which needs no
 * certificate on the token (a bare "tokenctl keygen" key will do).
 * Either way (*out)->cert is NULL.  Caller frees *out.
 */
static int
newkey_open(const struct opts *o, const struct ident *id,
    struct signer **out)
{
	EVP_PKEY	*pk;
	int		 r;

	*out = NULL;
	if (o->keyuri != NULL) {
		if ((r = keyuri_check(o->keyuri)) != 0) {
			uc_prefix("--key-uri");
			return r;
		}
		return p11_signer_open_bare(o->keyuri, &o->p11, out);
	}
	if ((r = keyspec_gen(o->keyspec ? o->keyspec : "rsa:2048", &pk)) != 0)
		return r;
	return signer_new(&fkey_ops, pk, NULL, id->key, out);
}

/*
 * Save a new key as the role's: the PEM key in ROLE.key (0600) or the
 * URI in ROLE.keyuri.  The other file is removed by key_forget_other once
 * the certificate is written.
 */
static int
key_save(const struct ident *id, struct signer *s, const char *uri)
{
	BIO	*bio;
	char	*p, line[P11_URI_MAX + 2];
	long	 n;
	int	 r;

	if (uri != NULL) {
		n = snprintf(line, sizeof(line), "%s\n", uri);
		if (n < 0 || n >= (long)sizeof(line))
			return uc_fail(UC_ERR_ARG, "key URI too long");
		return file_write_atomic(id->keyuri, line, (size_t)n, 0644,
		    NULL, NULL);
	}
	/* The secure-heap BIO wipes the PEM key when freed. */
	if ((bio = BIO_new(BIO_s_secmem())) == NULL)
		return uc_fail(UC_ERR_ALLOC, "BIO_new");
	if (PEM_write_bio_PrivateKey(bio, signer_pkey(s), NULL, NULL, 0, NULL,
	    NULL) != 1 || (n = BIO_get_mem_data(bio, &p)) <= 0)
		r = uc_fail_ssl(UC_ERR_CRYPTO, "encoding the private key");
	else
		r = file_write_atomic(id->key, p, (size_t)n, 0600, NULL, NULL);
	BIO_free(bio);
	return r;
}

/* Remove the key file of the other kind after a switch. */
static int
key_forget_other(const struct ident *id, int uri)
{
	const char	*other = uri ? id->key : id->keyuri;

	if (unlink(other) == -1 && errno != ENOENT)
		return uc_fail(UC_ERR_IO, "%s: %s", other, strerror(errno));
	return 0;
}

/*
 * Whether the role key is the private half of pub: a test signature by
 * the key verifies with pub, the same for file and token keys.  Returns
 * 1 (it is), 0 (it is not) or a negative UC_ERR_* when the key cannot
 * sign.
 */
static int
key_matches(struct signer *s, EVP_PKEY *pub)
{
	static const uint8_t	 msg[] = "certmgr key check";
	uint8_t			 sig[SIGNER_SIG_MAX];
	size_t			 siglen = sizeof(sig);
	EVP_MD_CTX		*ctx;
	int			 r;

	if (pub == NULL)
		return 0;
	if ((r = signer_sign(s, SIGNER_SHA256, msg, sizeof(msg), sig,
	    &siglen)) != 0)
		return r;
	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return uc_fail(UC_ERR_ALLOC, "EVP_MD_CTX_new");
	r = EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, pub) == 1 &&
	    EVP_DigestVerify(ctx, sig, siglen, msg, sizeof(msg)) == 1;
	EVP_MD_CTX_free(ctx);
	ERR_clear_error();
	return r;
}

/*
 * Certificates and requests.
 */

/* Parse "/CN=a/O=b" ("\/" is a literal slash) into a new name. */
static int
name_parse(const char *s, X509_NAME **out)
{
	X509_NAME	*n = NULL;
	char		 buf[CERT_NAME_MAX], *w, *eq;
	const char	*p;
	int		 r = UC_ERR_ARG;

	*out = NULL;
	if (s[0] != '/' || strlen(s) >= sizeof(buf))
		return uc_fail(UC_ERR_ARG, "--subject %s: use the form "
		    "/CN=NAME/O=ORG/OU=UNIT", s);
	if ((n = X509_NAME_new()) == NULL)
		return uc_fail(UC_ERR_ALLOC, "X509_NAME_new");
	for (p = s + 1; *p != '\0'; p += *p != '\0') {
		for (w = buf; *p != '\0' && *p != '/'; p++)
			*w++ = p[0] == '\\' && p[1] != '\0' ? *++p : *p;
		*w = '\0';
		if ((eq = strchr(buf, '=')) == NULL || eq == buf ||
		    eq[1] == '\0') {
			r = uc_fail(UC_ERR_ARG, "--subject: \"%s\" is not "
			    "TYPE=VALUE", buf);
			goto out;
		}
		*eq++ = '\0';
		if (X509_NAME_add_entry_by_txt(n, buf, MBSTRING_UTF8,
		    (unsigned char *)eq, -1, -1, 0) != 1) {
			r = uc_fail_ssl(UC_ERR_ARG, "--subject: attribute "
			    "\"%s\"", buf);
			goto out;
		}
	}
	if (X509_NAME_entry_count(n) == 0) {
		r = uc_fail(UC_ERR_ARG, "--subject is empty");
		goto out;
	}
	*out = n;
	n = NULL;
	r = 0;
out:
	X509_NAME_free(n);
	return r;
}

/*
 * The subject for a new certificate or request: --subject, else the
 * current certificate's (csr, to renew), else CN=<host> (CN=CAPF-<host>
 * for capf).  Caller frees *out.
 */
static int
subject_pick(const struct opts *o, const struct ident *id, int reuse,
    X509_NAME **out)
{
	char	 host[256], dn[300];
	X509	*x = NULL;

	*out = NULL;
	if (o->subject != NULL)
		return name_parse(o->subject, out);
	if (reuse && cert_load(id->crt, &x) == 0) {
		*out = X509_NAME_dup(X509_get_subject_name(x));
		X509_free(x);
		return *out != NULL ? 0 : uc_fail(UC_ERR_ALLOC, "name");
	}
	if (gethostname(host, sizeof(host)) == -1)
		snprintf(host, sizeof(host), "ucsec");
	host[sizeof(host) - 1] = '\0';
	snprintf(dn, sizeof(dn), "/CN=%s%s", id->role->ca ? "CAPF-" : "",
	    host);
	return name_parse(dn, out);
}

/* Append one extension, in OpenSSL's config syntax, to sk. */
static int
ext_push(STACK_OF(X509_EXTENSION) *sk, X509V3_CTX *ctx, int nid,
    const char *value, int code)
{
	X509_EXTENSION	*x;

	if ((x = X509V3_EXT_nconf_nid(NULL, ctx, nid, value)) == NULL)
		return uc_fail_ssl(code, "extension %s", value);
	if (sk_X509_EXTENSION_push(sk, x) == 0) {
		X509_EXTENSION_free(x);
		return uc_fail(UC_ERR_ALLOC, "extensions");
	}
	return 0;
}

/*
 * The extensions for role and key (subca: a subordinate CA request),
 * plus subjectAltName san when not NULL, into a new stack (caller frees
 * with sk_X509_EXTENSION_pop_free, on failure too).  ctx carries the
 * subject for the key identifier.
 */
static int
exts_make(const struct role *role, EVP_PKEY *pub, int subca, const char *san,
    X509V3_CTX *ctx, STACK_OF(X509_EXTENSION) **out)
{
	const struct extspec	*e;
	size_t			 i, n;
	int			 r = 0, rsa = EVP_PKEY_is_a(pub, "RSA");

	if (subca) {
		e = ext_subca;
		n = NELEM(ext_subca);
	} else if (role->ca) {
		e = rsa ? ext_capf_rsa : ext_capf_ec;
		n = rsa ? NELEM(ext_capf_rsa) : NELEM(ext_capf_ec);
	} else {
		e = rsa ? ext_server_rsa : ext_server_ec;
		n = rsa ? NELEM(ext_server_rsa) : NELEM(ext_server_ec);
	}
	if ((*out = sk_X509_EXTENSION_new_null()) == NULL)
		return uc_fail(UC_ERR_ALLOC, "extensions");
	for (i = 0; i < n && r == 0; i++)
		r = ext_push(*out, ctx, e[i].nid, e[i].value, UC_ERR_CRYPTO);
	if (r == 0 && san != NULL && (r = ext_push(*out, ctx,
	    NID_subject_alt_name, san, UC_ERR_ARG)) != 0)
		uc_prefix("--san");
	return r;
}

/* 16 random bytes, positive and non-zero, as a serial number. */
static int
serial_set(X509 *x)
{
	uint8_t		 buf[SERIAL_LEN];
	BIGNUM		*bn;
	ASN1_INTEGER	*sn = NULL;
	int		 ok;

	if (RAND_bytes(buf, sizeof(buf)) != 1)
		return uc_fail_ssl(UC_ERR_CRYPTO, "random serial");
	buf[0] = (buf[0] & 0x7f) | 0x40;
	ok = (bn = BN_bin2bn(buf, sizeof(buf), NULL)) != NULL &&
	    (sn = BN_to_ASN1_INTEGER(bn, NULL)) != NULL &&
	    X509_set_serialNumber(x, sn) == 1;
	BN_free(bn);
	ASN1_INTEGER_free(sn);
	return ok ? 0 : uc_fail_ssl(UC_ERR_CRYPTO, "serial number");
}

/* Fill a self-signed certificate's fields and extensions (not signed). */
static int
cert_fill(X509 *x, const struct role *role, X509_NAME *name, EVP_PKEY *pub,
    const struct opts *o)
{
	STACK_OF(X509_EXTENSION) *exts = NULL;
	X509V3_CTX	 ctx;
	int		 i, r;

	if ((r = serial_set(x)) != 0)
		return r;
	if (X509_set_version(x, X509_VERSION_3) != 1 ||
	    X509_set_subject_name(x, name) != 1 ||
	    X509_set_issuer_name(x, name) != 1 ||
	    X509_gmtime_adj(X509_getm_notBefore(x), 0) == NULL ||
	    X509_time_adj_ex(X509_getm_notAfter(x), (int)o->days, 0,
	    NULL) == NULL || X509_set_pubkey(x, pub) != 1)
		return uc_fail_ssl(UC_ERR_CRYPTO, "certificate fields");
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	if ((r = exts_make(role, pub, 0, o->san, &ctx, &exts)) == 0)
		for (i = 0; i < sk_X509_EXTENSION_num(exts); i++)
			if (X509_add_ext(x, sk_X509_EXTENSION_value(exts, i),
			    -1) != 1) {
				r = uc_fail_ssl(UC_ERR_CRYPTO, "X509_add_ext");
				break;
			}
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	return r;
}

/*
 * A self-signed certificate for the role's key s, with the role's
 * extensions (capf-protocol.md 1 for capf).  Caller frees *out.
 */
static int
selfsigned_make(struct signer *s, const struct role *role, X509_NAME *name,
    const struct opts *o, X509 **out)
{
	EVP_PKEY	*pub = signer_pub(s);
	X509		*x;
	int		 r;

	*out = NULL;
	if ((x = X509_new()) == NULL)
		return uc_fail(UC_ERR_ALLOC, "X509_new");
	if ((r = cert_fill(x, role, name, pub, o)) == 0 &&
	    (X509_sign(x, signer_pkey(s), EVP_sha256()) <= 0 ||
	    X509_verify(x, pub) != 1))
		r = uc_fail_ssl(UC_ERR_CRYPTO, "%s: signing the certificate "
		    "failed", s->label);
	if (r == 0) {
		*out = x;
		x = NULL;
	}
	X509_free(x);
	return r;
}

/*
 * A PKCS#10 request for the role's key s: subject, and in the extension
 * request the role's extensions (subca: a subordinate CA's) and the SAN.
 * Signed with signer_pkey (a file or a token key).  Caller frees *out.
 */
static int
csr_make(struct signer *s, const struct role *role, X509_NAME *name,
    const struct opts *o, X509_REQ **out)
{
	STACK_OF(X509_EXTENSION) *exts = NULL;
	EVP_PKEY	*pub = signer_pub(s);
	X509_REQ	*req;
	X509V3_CTX	 ctx;
	int		 r;

	*out = NULL;
	if ((req = X509_REQ_new()) == NULL)
		return uc_fail(UC_ERR_ALLOC, "X509_REQ_new");
	r = UC_ERR_CRYPTO;
	if (X509_REQ_set_version(req, X509_REQ_VERSION_1) != 1 ||
	    X509_REQ_set_subject_name(req, name) != 1 ||
	    X509_REQ_set_pubkey(req, pub) != 1) {
		r = uc_fail_ssl(UC_ERR_CRYPTO, "request fields");
		goto out;
	}
	X509V3_set_ctx(&ctx, NULL, NULL, req, NULL, 0);
	if ((r = exts_make(role, pub, o->subca, o->san, &ctx, &exts)) != 0)
		goto out;
	if (X509_REQ_add_extensions(req, exts) != 1 ||
	    X509_REQ_sign(req, signer_pkey(s), EVP_sha256()) <= 0 ||
	    X509_REQ_verify(req, pub) != 1) {
		r = uc_fail_ssl(UC_ERR_CRYPTO, "%s: signing the request "
		    "failed", s->label);
		goto out;
	}
	*out = req;
	req = NULL;
	r = 0;
out:
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	X509_REQ_free(req);
	return r;
}

/* A request from PEM or DER; its own signature must verify. */
static int
csr_load(const char *path, X509_REQ **out)
{
	const unsigned char	*p;
	uint8_t			*buf = NULL;
	size_t			 len;
	BIO			*bio;
	int			 r;

	*out = NULL;
	if ((r = file_read(path, CSR_FILE_MAX, &buf, &len)) != 0)
		return r;
	if (len >= 10 && memmem(buf, len, "-----BEGIN", 10) != NULL) {
		if ((bio = BIO_new_mem_buf(buf, (int)len)) != NULL)
			*out = PEM_read_bio_X509_REQ(bio, NULL, NULL, NULL);
		BIO_free(bio);
	} else {
		p = buf;
		if ((*out = d2i_X509_REQ(NULL, &p, (long)len)) != NULL &&
		    p != buf + len) {
			X509_REQ_free(*out);
			*out = NULL;
		}
	}
	if (*out == NULL)
		r = uc_fail_ssl(UC_ERR_FORMAT, "%s: not a PKCS#10 request "
		    "(PEM or DER)", path);
	else if (X509_REQ_verify(*out, X509_REQ_get0_pubkey(*out)) != 1) {
		r = uc_fail_ssl(UC_ERR_SIGNATURE, "%s: the request's signature "
		    "does not verify", path);
		X509_REQ_free(*out);
		*out = NULL;
	}
	free(buf);
	return r;
}

/*
 * Every certificate in buf (PEM blocks, other blocks skipped, or one DER
 * certificate), at most CHAIN_MAX.  Appended to *sk (created if NULL);
 * caller frees with sk_X509_pop_free.
 */
static int
certs_from_mem(const uint8_t *buf, size_t len, STACK_OF(X509) **sk)
{
	BIO	*bio = NULL;
	X509	*x = NULL;
	int	 r, n = 0;

	if (*sk == NULL && (*sk = sk_X509_new_null()) == NULL)
		return uc_fail(UC_ERR_ALLOC, "certificate list");
	if (len < 10 || memmem(buf, len, "-----BEGIN", 10) == NULL) {
		if ((r = cert_from_der(buf, len, &x)) != 0)
			return r;
		n = 1;
	} else if ((bio = BIO_new_mem_buf(buf, (int)len)) == NULL)
		return uc_fail(UC_ERR_ALLOC, "BIO_new_mem_buf");
	for (r = 0; r == 0; n++) {
		if (bio != NULL &&
		    (x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) == NULL) {
			if (n == 0 || ERR_GET_REASON(ERR_peek_last_error()) !=
			    PEM_R_NO_START_LINE)
				r = uc_fail_ssl(UC_ERR_FORMAT, "certificate %d "
				    "does not parse", n + 1);
			ERR_clear_error();
			break;
		}
		if (sk_X509_num(*sk) >= CHAIN_MAX)
			r = uc_fail(UC_ERR_FORMAT, "more than %d certificates",
			    CHAIN_MAX);
		else if (sk_X509_push(*sk, x) == 0)
			r = uc_fail(UC_ERR_ALLOC, "certificate list");
		else
			x = NULL;
		if (bio == NULL)
			break;
	}
	X509_free(x);
	BIO_free(bio);
	return r;
}

/* certs_from_mem on a file. */
static int
certs_load(const char *path, STACK_OF(X509) **sk)
{
	uint8_t	*buf = NULL;
	size_t	 len;
	int	 r;

	if ((r = file_read(path, CERT_FILE_MAX, &buf, &len)) != 0)
		return r;
	if ((r = certs_from_mem(buf, len, sk)) != 0)
		uc_prefix(path);
	free(buf);
	return r;
}

/*
 * A request (PEM, or DER when der), then the certificates of sk (PEM),
 * into w (capped at CERT_FILE_MAX; caller frees with wbuf_free).
 */
static int
pem_encode(X509_REQ *req, STACK_OF(X509) *sk, int der, struct wbuf *w)
{
	BIO	*bio;
	char	*p;
	long	 n;
	int	 i, ok = 1;

	wbuf_init(w, CERT_FILE_MAX);
	if ((bio = BIO_new(BIO_s_mem())) == NULL)
		return uc_fail(UC_ERR_ALLOC, "BIO_new");
	if (req != NULL)
		ok = der ? i2d_X509_REQ_bio(bio, req) == 1 :
		    PEM_write_bio_X509_REQ(bio, req) == 1;
	for (i = 0; ok && sk != NULL && i < sk_X509_num(sk); i++)
		ok = PEM_write_bio_X509(bio, sk_X509_value(sk, i)) == 1;
	if (ok && (n = BIO_get_mem_data(bio, &p)) > 0)
		wbuf_put(w, p, (size_t)n);
	BIO_free(bio);
	if (!ok || !wbuf_ok(w)) {
		wbuf_free(w);
		return uc_fail_ssl(UC_ERR_CRYPTO, "PEM encoding");
	}
	return 0;
}

/*
 * Verify leaf up to chain: self-signed chain certificates are the trust
 * anchors and the rest untrusted intermediates; with no self-signed one
 * the chain's certificates are anchors (partial chain).  With no chain,
 * leaf must be self-signed.  0 or UC_ERR_SIGNATURE.
 */
static int
chain_verify(X509 *leaf, STACK_OF(X509) *chain)
{
	X509_STORE	*st = NULL;
	X509_STORE_CTX	*ctx = NULL;
	STACK_OF(X509)	*untrusted = NULL;
	X509		*x;
	int		 i, roots = 0, r = UC_ERR_ALLOC, e;

	if ((st = X509_STORE_new()) == NULL ||
	    (untrusted = sk_X509_new_null()) == NULL ||
	    (ctx = X509_STORE_CTX_new()) == NULL)
		goto out;
	for (i = 0; i < sk_X509_num(chain); i++) {
		x = sk_X509_value(chain, i);
		if (X509_self_signed(x, 1) != 1) {
			if (sk_X509_push(untrusted, x) == 0)
				goto out;
			continue;
		}
		if (X509_STORE_add_cert(st, x) != 1)
			goto out;
		roots++;
	}
	if (sk_X509_num(chain) == 0 && X509_self_signed(leaf, 1) == 1) {
		if (X509_STORE_add_cert(st, leaf) != 1)
			goto out;
		roots++;
	}
	if (roots == 0) {
		r = UC_ERR_SIGNATURE;
		if (sk_X509_num(chain) == 0) {
			uc_fail(r, "the certificate is not self-signed; give "
			    "its issuer's chain (CHAIN)");
			goto out;
		}
		for (i = 0; i < sk_X509_num(chain); i++)
			if (X509_STORE_add_cert(st, sk_X509_value(chain, i)) !=
			    1)
				goto out;
		X509_STORE_set_flags(st, X509_V_FLAG_PARTIAL_CHAIN);
		sk_X509_zero(untrusted);
	}
	r = UC_ERR_SIGNATURE;
	if (X509_STORE_CTX_init(ctx, st, leaf, untrusted) != 1)
		goto out;
	if (X509_verify_cert(ctx) != 1) {
		e = X509_STORE_CTX_get_error(ctx);
		uc_fail(r, "the certificate does not verify up its chain: %s "
		    "(depth %d)", X509_verify_cert_error_string(e),
		    X509_STORE_CTX_get_error_depth(ctx));
		goto out;
	}
	r = 0;
out:
	if (r == UC_ERR_ALLOC)
		uc_fail(r, "certificate verification");
	ERR_clear_error();
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(st);
	sk_X509_free(untrusted);
	return r;
}

/* Upper-case hex serial of x into buf (2 * CERT_SERIAL_MAX + 1). */
static void
serial_hex(const X509 *x, char *buf, size_t sz)
{
	uint8_t	 sn[CERT_SERIAL_MAX];
	size_t	 n, i;

	buf[0] = '\0';
	if (cert_serial(x, sn, &n) != 0 || 2 * n + 1 > sz)
		return;
	hex_encode(sn, n, buf);
	for (i = 0; buf[i] != '\0'; i++)
		if (buf[i] >= 'a' && buf[i] <= 'f')
			buf[i] -= 'a' - 'A';
}

/* A DN as printable RFC 4514 text ("?" when it does not fit). */
static void
dn_text(const X509_NAME *n, char *buf, size_t sz)
{
	char	 raw[CERT_NAME_MAX];

	if (cert_name_text(n, raw, sizeof(raw)) != 0)
		snprintf(raw, sizeof(raw), "?");
	str_vis(buf, sz, raw);
}

/* An ASN1_TIME as "YYYY-MM-DDTHH:MM:SSZ" (iso) or "YYYY-MM-DD HH:MM UTC". */
static void
time_text(const ASN1_TIME *t, int iso, char *buf, size_t sz)
{
	struct tm	 tm;

	if (ASN1_TIME_to_tm(t, &tm) != 1 ||
	    strftime(buf, sz, iso ? "%Y-%m-%dT%H:%M:%SZ" :
	    "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
		snprintf(buf, sz, "?");
}

/* "RSA 2048" or "EC P-256" for a public key. */
static void
pkey_text(EVP_PKEY *pk, char *buf, size_t sz)
{
	char		 grp[48];
	const char	*nist;

	if (pk == NULL)
		snprintf(buf, sz, "unknown");
	else if (EVP_PKEY_is_a(pk, "RSA"))
		snprintf(buf, sz, "RSA %d", EVP_PKEY_get_bits(pk));
	else if (EVP_PKEY_is_a(pk, "EC") &&
	    EVP_PKEY_get_utf8_string_param(pk, OSSL_PKEY_PARAM_GROUP_NAME, grp,
	    sizeof(grp), NULL) == 1) {
		nist = EC_curve_nid2nist(OBJ_txt2nid(grp));
		snprintf(buf, sz, "EC %s", nist != NULL ? nist : grp);
	} else
		snprintf(buf, sz, "%s", EVP_PKEY_get0_type_name(pk) ?
		    EVP_PKEY_get0_type_name(pk) : "unknown");
}

/*
 * Installing a certificate.
 */

/* Warn (after success) when a capf certificate lacks what CUCM needs. */
static void
capf_ext_check(const struct role *role, X509 *leaf)
{
	uint32_t	 ku;

	if (!role->ca)
		return;
	ku = X509_get_key_usage(leaf);
	if (!(X509_get_extension_flags(leaf) & EXFLAG_CA) ||
	    X509_get_pathlen(leaf) != 0)
		warn_later("the capf certificate lacks basicConstraints "
		    "CA:TRUE, pathlen:0; CUCM 14SU2 and later phones fail TLS "
		    "with it (capf-protocol.md 1)");
	if ((ku & (KU_DIGITAL_SIGNATURE | KU_KEY_CERT_SIGN)) !=
	    (KU_DIGITAL_SIGNATURE | KU_KEY_CERT_SIGN))
		warn_later("the capf certificate lacks keyUsage "
		    "digitalSignature, keyCertSign (capf-protocol.md 1)");
}

/*
 * Install certs (leaf first, then its chain) as the role's certificate
 * after checking that the leaf is for the role key s and verifies up the
 * chain.  *oldserial gets the replaced certificate's serial ("" if none).
 */
static int
cert_install(const struct ident *id, struct signer *s, STACK_OF(X509) *certs,
    char *oldserial, size_t oldsz)
{
	STACK_OF(X509)	*chain = NULL;
	struct wbuf	 w;
	X509		*leaf = sk_X509_value(certs, 0), *old = NULL;
	int		 i, r;

	oldserial[0] = '\0';
	if ((r = key_matches(s, X509_get0_pubkey(leaf))) < 0)
		return r;
	if (r == 0)
		return uc_fail(UC_ERR_POLICY, "the certificate's public key is "
		    "not the %s key (%s); refused", id->role->name, s->label);
	if ((chain = sk_X509_new_null()) == NULL)
		return uc_fail(UC_ERR_ALLOC, "chain");
	for (i = 1; i < sk_X509_num(certs); i++)
		if (sk_X509_push(chain, sk_X509_value(certs, i)) == 0) {
			sk_X509_free(chain);
			return uc_fail(UC_ERR_ALLOC, "chain");
		}
	r = chain_verify(leaf, chain);
	sk_X509_free(chain);
	if (r != 0)
		return r;
	capf_ext_check(id->role, leaf);
	if (cert_load(id->crt, &old) == 0)
		serial_hex(old, oldserial, oldsz);
	X509_free(old);
	if ((r = pem_encode(NULL, certs, 0, &w)) != 0)
		return r;
	r = file_write_atomic(id->crt, w.data, w.len, 0644, NULL, NULL);
	wbuf_free(&w);
	return r;
}

/* Write one certificate as PEM to path (0644), atomically. */
static int
cert_write(const char *path, X509 *x)
{
	STACK_OF(X509)	*sk;
	struct wbuf	 w;
	int		 r;

	if ((sk = sk_X509_new_null()) == NULL || sk_X509_push(sk, x) == 0) {
		sk_X509_free(sk);
		return uc_fail(UC_ERR_ALLOC, "certificate list");
	}
	r = pem_encode(NULL, sk, 0, &w);
	sk_X509_free(sk);
	if (r != 0)
		return r;
	r = file_write_atomic(path, w.data, w.len, 0644, NULL, NULL);
	wbuf_free(&w);
	return r;
}

/* What to do next after the role's identity changed (stdout). */
static void
next_steps(const struct ident *id, const char *oldserial)
{
	printf("next: %s\n", id->role->reload);
	if (id->role->ctl == NULL)
		return;
	printf("next: rebuild the CTL with ctlclient so phones trust the new "
	    "%s certificate, e.g. ctlclient update CTLFile.tlv --sign-with "
	    "SAST-KEY%s%s --add-%s %s\n", id->role->name,
	    *oldserial ? " --remove " : "", oldserial, id->role->ctl, id->crt);
}

/* One-line summary of an installed certificate (stdout). */
static void
cert_summary(const char *what, const struct ident *id, X509 *x,
    const char *keyloc)
{
	char	 subj[TEXT_MAX], until[40], kt[64];

	dn_text(X509_get_subject_name(x), subj, sizeof(subj));
	time_text(X509_get0_notAfter(x), 0, until, sizeof(until));
	pkey_text(X509_get0_pubkey(x), kt, sizeof(kt));
	printf("%s: %s %s (%s, %s%s, until %s), key %s\n", id->role->name,
	    what, id->crt, subj, kt,
	    X509_get_extension_flags(x) & EXFLAG_CA ? ", CA" : "", until,
	    keyloc);
}

/*
 * selfsign ROLE: a new key (or a token key, or the role's own with
 * --keep-key) and a self-signed certificate with the role's extensions.
 */
static int
selfsign_run(const struct opts *o, const struct ident *id)
{
	struct signer	*s = NULL;
	X509_NAME	*name = NULL;
	X509		*x = NULL, *old = NULL;
	enum keykind	 k;
	char		 oldserial[2 * CERT_SERIAL_MAX + 1] = "";
	int		 r, have_crt;

	if ((r = dir_ready(o->dir)) != 0 || (r = key_kind(id, &k)) != 0 ||
	    (r = path_exists(id->crt, &have_crt)) != 0)
		goto out;
	if (have_crt && !o->force) {
		r = uc_fail(UC_ERR_POLICY, "%s exists; --force replaces it "
		    "(phones that trust it through the CTL need a new CTL)",
		    id->crt);
		goto out;
	}
	if (k != KEY_NONE && !o->keep_key && !o->force) {
		r = uc_fail(UC_ERR_POLICY, "%s already has a key; --keep-key "
		    "reuses it, --force replaces it", id->role->name);
		goto out;
	}
	if ((r = subject_pick(o, id, o->keep_key, &name)) != 0 ||
	    (r = o->keep_key ? rolekey_open(id, &o->p11, &s) :
	    newkey_open(o, id, &s)) != 0 ||
	    (r = selfsigned_make(s, id->role, name, o, &x)) != 0)
		goto out;
	if (have_crt && cert_load(id->crt, &old) == 0)
		serial_hex(old, oldserial, sizeof(oldserial));
	if ((!o->keep_key && (r = key_save(id, s, o->keyuri)) != 0) ||
	    (r = cert_write(id->crt, x)) != 0 ||
	    (!o->keep_key && (r = key_forget_other(id, o->keyuri != NULL)) !=
	    0))
		goto out;
	cert_summary("self-signed", id, x, s->label);
	next_steps(id, oldserial);
out:
	signer_free(s);
	X509_NAME_free(name);
	X509_free(x);
	X509_free(old);
	return r;
}

/* certmgr selfsign ROLE [--subject DN] [--san LIST] [--key SPEC|...] */
static int
cmd_selfsign(int argc, char **argv)
{
	struct opts	 o;
	struct ident	 id;
	int		 r;

	if (opts_parse(argc, argv, O_DIR | O_NAME | O_NEWKEY | O_KEEP |
	    O_MODULE, 1, 1, &o) != 0 || ident_init(o.dir, o.args[0], &id) != 0)
		return 2;
	if (o.keep_key && (o.keyspec != NULL || o.keyuri != NULL))
		return cmd_usage_error("selfsign: --keep-key takes no --key or "
		    "--key-uri");
	if ((r = selfsign_run(&o, &id)) != 0)
		return cmd_fail(r);
	warn_flush();
	return 0;
}

/* Write data to path atomically (0644), or to stdout for "-". */
static int
out_write(const char *path, const void *data, size_t len)
{
	if (strcmp(path, "-") == 0) {
		if (fwrite(data, 1, len, stdout) != len || fflush(stdout) != 0)
			return uc_fail(UC_ERR_IO, "writing to stdout failed");
		return 0;
	}
	return file_write_atomic(path, data, len, 0644, NULL, NULL);
}

/*
 * csr ROLE: a request signed by the role's key; a role without a key
 * gets a new one first (--key or --key-uri), saved as its key.
 */
static int
csr_run(const struct opts *o, const struct ident *id)
{
	struct signer	*s = NULL;
	X509_NAME	*name = NULL;
	X509_REQ	*req = NULL;
	struct wbuf	 w;
	enum keykind	 k;
	const char	*out = o->out != NULL ? o->out : id->csr;
	char		 kt[64], subj[TEXT_MAX];
	int		 r, fresh;

	memset(&w, 0, sizeof(w));
	if ((r = dir_ready(o->dir)) != 0 || (r = key_kind(id, &k)) != 0)
		goto out;
	if (k != KEY_NONE && (o->keyspec != NULL || o->keyuri != NULL)) {
		r = uc_fail(UC_ERR_POLICY, "%s already has a key (%s); csr "
		    "signs with it, \"certmgr selfsign %s --force\" replaces "
		    "it",
		    id->role->name, k == KEY_FILE ? id->key : id->keyuri,
		    id->role->name);
		goto out;
	}
	fresh = k == KEY_NONE;
	if ((r = subject_pick(o, id, 1, &name)) != 0 ||
	    (r = fresh ? newkey_open(o, id, &s) :
	    rolekey_open(id, &o->p11, &s)) != 0 ||
	    (r = csr_make(s, id->role, name, o, &req)) != 0 ||
	    (r = pem_encode(req, NULL, o->der, &w)) != 0)
		goto out;
	if (fresh && ((r = key_save(id, s, o->keyuri)) != 0 ||
	    (r = key_forget_other(id, o->keyuri != NULL)) != 0))
		goto out;
	if ((r = out_write(out, w.data, w.len)) != 0)
		goto out;
	pkey_text(signer_pub(s), kt, sizeof(kt));
	dn_text(name, subj, sizeof(subj));
	fprintf(strcmp(out, "-") == 0 ? stderr : stdout,
	    "%s: %s request %s for %s (%s%s), %s key %s\n", id->role->name,
	    o->der ? "DER" : "PEM", strcmp(out, "-") == 0 ? "(stdout)" : out,
	    subj, kt, o->subca ? ", subordinate CA" : id->role->ca ? ", CA" :
	    "", !fresh ? "existing" : o->keyuri ? "token" : "new", s->label);
out:
	wbuf_free(&w);
	signer_free(s);
	X509_NAME_free(name);
	X509_REQ_free(req);
	return r;
}

/* certmgr csr ROLE [--subject DN] [--san LIST] [--ca-cert] [-o FILE] */
static int
cmd_csr(int argc, char **argv)
{
	struct opts	 o;
	struct ident	 id;
	int		 r;

	if (opts_parse(argc, argv, O_DIR | O_NAME | O_NEWKEY | O_MODULE |
	    O_CAREQ | O_OUT, 1, 1, &o) != 0 ||
	    ident_init(o.dir, o.args[0], &id) != 0)
		return 2;
	if ((r = csr_run(&o, &id)) != 0)
		return cmd_fail(r);
	warn_flush();
	return 0;
}

/*
 * A CFSSL API reply, read with lib/json.h: {"success": bool, "result":
 * {"certificate": PEM, ...}, "errors": [{"code": N, "message": "..."}],
 * ...}.  The whole buffer must be one JSON object; "success", when
 * present, a boolean; result.certificate, when present, a string of at
 * most CA_CERT_MAX bytes.  The first error with a message gives rp->msg
 * (control characters escaped) and rp->code.  Returns 0 or UC_ERR_*
 * with the detail; caller frees rp->cert.
 */
static int
reply_parse(const uint8_t *buf, size_t len, struct careply *rp)
{
	struct json		*doc = NULL;
	const struct json_value	*root, *e;
	const char		*s;
	size_t			 n;
	long long		 code;
	int			 b, r;

	memset(rp, 0, sizeof(*rp));
	rp->success = -1;
	if ((r = json_parse(buf, len, &doc)) != 0)
		return r;
	root = json_root(doc);
	if (json_type(root) != JSON_OBJECT) {
		r = uc_fail(UC_ERR_FORMAT, "the reply is %s, not an object",
		    json_type_name(json_type(root)));
		goto out;
	}
	if ((r = json_get_bool(root, "success", &b)) == 0)
		rp->success = b;
	else if (r != UC_ERR_NOTFOUND)
		goto out;
	if ((r = json_get_str(root, "result.certificate", &s, &n)) == 0) {
		if (n > CA_CERT_MAX)
			r = uc_fail(UC_ERR_FORMAT, "result.certificate is "
			    "longer than %d bytes", CA_CERT_MAX);
		else if ((rp->cert = strndup(s, n)) == NULL)
			r = uc_fail(UC_ERR_ALLOC, "certificate");
		rp->certlen = n;
	} else if (r == UC_ERR_NOTFOUND)
		r = 0;
	e = json_member(root, "errors");
	for (e = json_type(e) == JSON_ARRAY ? json_child(e) : NULL;
	    r == 0 && e != NULL; e = json_next(e)) {
		if ((s = json_str(json_member(e, "message"), NULL)) == NULL)
			continue;
		str_vis(rp->msg, sizeof(rp->msg), s[0] != '\0' ? s : "(empty)");
		if (json_int(json_member(e, "code"), LONG_MIN, LONG_MAX,
		    &code) == 0)
			rp->code = (long)code;
		break;
	}
out:
	json_free(doc);
	if (r != 0) {
		free(rp->cert);
		rp->cert = NULL;
	}
	return r;
}

/* s as a JSON string into w. */
static void
json_put_str(struct wbuf *w, const char *s)
{
	char		 esc[8];
	unsigned char	 ch;

	wbuf_u8(w, '"');
	for (; *s != '\0'; s++) {
		ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\') {
			wbuf_u8(w, '\\');
			wbuf_u8(w, ch);
		} else if (ch == '\n')
			wbuf_put(w, "\\n", 2);
		else if (ch < 0x20 || ch == 0x7f) {
			snprintf(esc, sizeof(esc), "\\u%04x", ch);
			wbuf_put(w, esc, 6);
		} else
			wbuf_u8(w, ch);
	}
	wbuf_u8(w, '"');
}

/* ,"name":"value" (or without the comma when first). */
static void
json_put_field(struct wbuf *w, int first, const char *name, const char *v)
{
	if (!first)
		wbuf_u8(w, ',');
	json_put_str(w, name);
	wbuf_u8(w, ':');
	json_put_str(w, v);
}

/*
 * The CA over HTTP(S).
 */

/*
 * --ca cfssl:https://HOST:PORT[/PATH]: the only CA type.  No user
 * name or password in the URL (it would show up in messages).
 */
static int
ca_parse(const struct opts *o, struct ca *ca)
{
	const char	*u, *host, *p;
	size_t		 n;

	memset(ca, 0, sizeof(*ca));
	ca->cacert = o->cacert;
	ca->insecure = o->insecure;
	if (strncmp(o->ca, "cfssl:", 6) != 0)
		return uc_fail(UC_ERR_ARG, "--ca %s: want cfssl:https://HOST:"
		    "PORT (CFSSL is the CA type certmgr speaks)", o->ca);
	u = o->ca + 6;
	host = strncmp(u, "https://", 8) == 0 ? u + 8 :
	    strncmp(u, "http://", 7) == 0 ? u + 7 : NULL;
	if (host == NULL || *host == '\0' || *host == '/')
		return uc_fail(UC_ERR_ARG, "--ca %s: want cfssl:https://HOST:"
		    "PORT", o->ca);
	for (p = u; *p != '\0'; p++)
		if (*p <= ' ' || *p >= 0x7f || *p == '?' || *p == '#' ||
		    (*p == '@' && p >= host && memchr(host, '/',
		    (size_t)(p - host)) == NULL))
			return uc_fail(UC_ERR_ARG, "--ca: no credentials, "
			    "query, fragment or spaces in the URL (use "
			    "--auth-key-file for the auth key)");
	n = strlen(u);
	while (n > 0 && u[n - 1] == '/')
		n--;
	if (n + sizeof("/api/v1/cfssl/authsign") > sizeof(ca->base))
		return uc_fail(UC_ERR_ARG, "--ca: URL too long");
	memcpy(ca->base, u, n);
	ca->base[n] = '\0';
	if (host == u + 7)
		warn_later("%s: plain http, so the CA's reply is not "
		    "authenticated; use https outside tests", ca->base);
	if (ca->insecure)
		warn_later("--insecure: the CA's TLS certificate is not "
		    "checked");
	return 0;
}

/* curl write callback: append to the capped buffer; 0 stops curl. */
static size_t
http_write(char *p, size_t sz, size_t n, void *arg)
{
	struct wbuf	*w = arg;

	if (n != 0 && sz > SIZE_MAX / n)
		return 0;
	wbuf_put(w, p, sz * n);
	return wbuf_ok(w) ? sz * n : 0;
}

/* Set the request options on h; 0 or UC_ERR_INTERNAL. */
static int
http_setup(CURL *h, const struct ca *ca, const char *url,
    struct curl_slist *hdr, const void *body, size_t len, struct wbuf *reply,
    char *errbuf)
{
	int	 bad;

	bad = curl_easy_setopt(h, CURLOPT_URL, url) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https") !=
	    CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, CA_CONNECT_TIMEOUT) !=
	    CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_TIMEOUT, CA_TIMEOUT) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_MAXFILESIZE, (long)CA_REPLY_MAX) !=
	    CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_SSLVERSION,
	    (long)CURL_SSLVERSION_TLSv1_2) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)len) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, http_write) !=
	    CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_WRITEDATA, reply) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_USERAGENT, "certmgr (ucsec) "
	    UCSEC_VERSION) != CURLE_OK;
	if (!bad && ca->cacert != NULL)
		bad = curl_easy_setopt(h, CURLOPT_CAINFO, ca->cacert) !=
		    CURLE_OK;
	if (!bad && ca->insecure)
		bad = curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L) !=
		    CURLE_OK ||
		    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L) != CURLE_OK;
	return bad ? uc_fail(UC_ERR_INTERNAL, "libcurl refused an option") :
	    0;
}

/*
 * POST the JSON body to url; the reply (at most CA_REPLY_MAX bytes) into
 * reply (caller frees with wbuf_free) and the HTTP status into *status.
 * No redirects, bounded times, TLS 1.2 or later, verified unless
 * ca->insecure.
 */
static int
http_post(const struct ca *ca, const char *url, const void *body,
    size_t len, struct wbuf *reply, long *status)
{
	CURL			*h = NULL;
	struct curl_slist	*hdr = NULL;
	char			 err[CURL_ERROR_SIZE], *nl;
	CURLcode		 rc;
	int			 r;

	*status = 0;
	err[0] = '\0';
	wbuf_init(reply, CA_REPLY_MAX);
	if ((h = curl_easy_init()) == NULL || (hdr = curl_slist_append(NULL,
	    "Content-Type: application/json")) == NULL) {
		r = uc_fail(UC_ERR_ALLOC, "libcurl");
		goto out;
	}
	if ((r = http_setup(h, ca, url, hdr, body, len, reply, err)) != 0)
		goto out;
	if ((rc = curl_easy_perform(h)) != CURLE_OK) {
		if ((nl = strchr(err, '\n')) != NULL)
			*nl = '\0';
		if (!wbuf_ok(reply) || rc == CURLE_FILESIZE_EXCEEDED)
			r = uc_fail(UC_ERR_FORMAT, "CA %s: the reply is larger "
			    "than %d bytes", ca->base, CA_REPLY_MAX);
		else
			r = uc_fail(UC_ERR_IO, "CA %s: %s", ca->base,
			    err[0] ? err : curl_easy_strerror(rc));
		goto out;
	}
	(void)curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
	r = 0;
out:
	curl_slist_free_all(hdr);
	curl_easy_cleanup(h);
	return r;
}

/*
 * POST body to the CFSSL endpoint (sign, authsign, info) and append the
 * certificates of result.certificate to *certs.  A refusal becomes one
 * line with the CA's first error message.
 */
static int
ca_call(const struct ca *ca, const char *endpoint, const struct wbuf *body,
    STACK_OF(X509) **certs)
{
	struct careply	 rp;
	struct wbuf	 reply;
	char		 url[CA_URL_MAX + 32], pfx[CA_URL_MAX + 64];
	long		 status;
	int		 r;

	memset(&rp, 0, sizeof(rp));
	snprintf(url, sizeof(url), "%s/api/v1/cfssl/%s", ca->base, endpoint);
	if ((r = http_post(ca, url, body->data, body->len, &reply,
	    &status)) != 0)
		goto out;
	if ((r = reply_parse(reply.data, reply.len, &rp)) != 0) {
		snprintf(pfx, sizeof(pfx), "CA %s: %s: HTTP %ld, the reply is "
		    "not CFSSL JSON", ca->base, endpoint, status);
		uc_prefix(pfx);
		if (r != UC_ERR_ALLOC)
			r = UC_ERR_FORMAT;
	} else if (rp.success != 1 && rp.msg[0] != '\0')
		r = uc_fail(UC_ERR_POLICY, "CA %s refused the %s request: %s "
		    "(code %ld)", ca->base, endpoint, rp.msg, rp.code);
	else if (rp.success != 1 || status / 100 != 2)
		r = uc_fail(UC_ERR_POLICY, "CA %s: %s: HTTP %ld, request "
		    "failed without a message", ca->base, endpoint, status);
	else if (rp.cert == NULL)
		r = uc_fail(UC_ERR_FORMAT, "CA %s: %s: the reply has no "
		    "certificate", ca->base, endpoint);
	else if ((r = certs_from_mem((uint8_t *)rp.cert, rp.certlen,
	    certs)) != 0) {
		snprintf(pfx, sizeof(pfx), "CA %s: %s: the certificate in the "
		    "reply", ca->base, endpoint);
		uc_prefix(pfx);
	}
out:
	free(rp.cert);
	wbuf_free(&reply);
	return r;
}

/* The request object: certificate_request, profile, label. */
static int
signreq_build(const char *pem, const struct opts *o, struct wbuf *w)
{
	wbuf_init(w, CA_REQ_MAX);
	wbuf_u8(w, '{');
	json_put_field(w, 1, "certificate_request", pem);
	if (o->profile != NULL)
		json_put_field(w, 0, "profile", o->profile);
	if (o->label != NULL)
		json_put_field(w, 0, "label", o->label);
	wbuf_u8(w, '}');
	if (!wbuf_ok(w)) {
		wbuf_free(w);
		return uc_fail(UC_ERR_ALLOC, "sign request");
	}
	return 0;
}

/* Standard base64 of n bytes into a new NUL-terminated string. */
static char *
b64_new(const uint8_t *p, size_t n)
{
	char	*s;

	if (n > INT_MAX / 2 || (s = malloc(4 * ((n + 2) / 3) + 1)) == NULL)
		return NULL;
	(void)EVP_EncodeBlock((unsigned char *)s, p, (int)n);
	return s;
}

/*
 * Wrap a request for /authsign (CFSSL auth/auth.go, Standard provider):
 * {"token": base64(HMAC-SHA256(key, request)), "request":
 * base64(request)}.  *w is replaced.
 */
static int
authreq_wrap(const uint8_t *key, size_t keylen, struct wbuf *w)
{
	uint8_t		 mac[EVP_MAX_MD_SIZE];
	size_t		 maclen = 0;
	char		*tok = NULL, *req = NULL;
	struct wbuf	 a;
	int		 r = 0;

	wbuf_init(&a, 2 * CA_REQ_MAX);
	if (EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key, keylen,
	    w->data, w->len, mac, sizeof(mac), &maclen) == NULL)
		r = uc_fail_ssl(UC_ERR_CRYPTO, "HMAC-SHA256 of the request");
	else if ((tok = b64_new(mac, maclen)) == NULL ||
	    (req = b64_new(w->data, w->len)) == NULL)
		r = uc_fail(UC_ERR_ALLOC, "auth request");
	if (r == 0) {
		wbuf_u8(&a, '{');
		json_put_field(&a, 1, "token", tok);
		json_put_field(&a, 0, "request", req);
		wbuf_u8(&a, '}');
		if (!wbuf_ok(&a))
			r = uc_fail(UC_ERR_ALLOC, "auth request");
	}
	OPENSSL_cleanse(mac, sizeof(mac));
	free(tok);
	free(req);
	wbuf_free(w);
	*w = a;
	return r;
}

static int
hexval(uint8_t ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'f')
		return (ch | 0x20) - 'a' + 10;
	return -1;
}

/*
 * Hex auth key (white space around it allowed) into key; never echoes
 * the text.  0 or UC_ERR_ARG.
 */
static int
authkey_parse(const uint8_t *buf, size_t len, uint8_t *key, size_t *keylen)
{
	struct cursor	 c;
	size_t		 n = 0;
	int		 hi = -1, v, done = 0;
	uint8_t		 ch;

	*keylen = 0;
	cur_init(&c, buf, len);
	while (cur_left(&c) > 0) {
		ch = cur_u8(&c);
		if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n') {
			done = n > 0 || hi >= 0;
			continue;
		}
		if (done || (v = hexval(ch)) < 0)
			return uc_fail(UC_ERR_ARG, "auth key: not one hex "
			    "string");
		if (hi < 0) {
			hi = v;
			continue;
		}
		if (n == AUTH_KEY_MAX)
			return uc_fail(UC_ERR_ARG, "auth key: longer than %d "
			    "bytes", AUTH_KEY_MAX);
		key[n++] = (uint8_t)(hi << 4 | v);
		hi = -1;
	}
	if (hi >= 0 || n == 0)
		return uc_fail(UC_ERR_ARG, "auth key: want an even number of "
		    "hex digits, as in the CFSSL config");
	*keylen = n;
	return 0;
}

/* The auth key from --auth-key-file or --auth-key; none: *keylen 0. */
static int
authkey_load(struct opts *o, uint8_t *key, size_t *keylen)
{
	struct stat	 st;
	uint8_t		*buf = NULL;
	size_t		 len = 0;
	int		 r;

	*keylen = 0;
	if (o->have_authhex) {
		r = authkey_parse((uint8_t *)o->authhex, strlen(o->authhex),
		    key, keylen);
		OPENSSL_cleanse(o->authhex, sizeof(o->authhex));
		return r;
	}
	if (o->authfile == NULL)
		return 0;
	if ((r = file_read(o->authfile, AUTH_FILE_MAX, &buf, &len)) != 0)
		return r;
	if ((r = authkey_parse(buf, len, key, keylen)) != 0)
		uc_prefix(o->authfile);
	else if (stat(o->authfile, &st) == 0 && (st.st_mode & 077) != 0)
		warn_later("%s is readable by group or others; chmod 600 it",
		    o->authfile);
	OPENSSL_clear_free(buf, len + 1);
	return r;
}

/*
 * Ask the CA for a certificate for req: /sign, or /authsign with the
 * auth key.  The certificates returned go into *certs.
 */
static int
ca_sign(const struct ca *ca, const struct opts *o, X509_REQ *req,
    const uint8_t *key, size_t keylen, STACK_OF(X509) **certs)
{
	struct wbuf	 pem, body;
	int		 r;

	memset(&body, 0, sizeof(body));
	if ((r = pem_encode(req, NULL, 0, &pem)) != 0)
		return r;
	wbuf_u8(&pem, '\0');
	if (!wbuf_ok(&pem))
		r = uc_fail(UC_ERR_ALLOC, "request");
	else if ((r = signreq_build((char *)pem.data, o, &body)) == 0 &&
	    (keylen == 0 || (r = authreq_wrap(key, keylen, &body)) == 0))
		r = ca_call(ca, keylen ? "authsign" : "sign", &body, certs);
	wbuf_free(&pem);
	wbuf_free(&body);
	return r;
}

/* The issuer's certificate from /info (profile, label), into *certs. */
static int
ca_info(const struct ca *ca, const struct opts *o, STACK_OF(X509) **certs)
{
	struct wbuf	 body;
	int		 first = 1, r;

	wbuf_init(&body, CA_REQ_MAX);
	wbuf_u8(&body, '{');
	if (o->profile != NULL) {
		json_put_field(&body, first, "profile", o->profile);
		first = 0;
	}
	if (o->label != NULL)
		json_put_field(&body, first, "label", o->label);
	wbuf_u8(&body, '}');
	r = wbuf_ok(&body) ? ca_call(ca, "info", &body, certs) :
	    uc_fail(UC_ERR_ALLOC, "info request");
	wbuf_free(&body);
	return r;
}

/*
 * submit ROLE: send the role's request to the CA, then install the
 * certificate as import does.  The request must be for the role key.
 */
static int
submit_run(struct opts *o, const struct ident *id)
{
	struct ca	 ca;
	struct signer	*s = NULL;
	X509_REQ	*req = NULL;
	STACK_OF(X509)	*certs = NULL;
	uint8_t		 key[AUTH_KEY_MAX];
	size_t		 keylen = 0;
	const char	*csr = o->csr != NULL ? o->csr : id->csr;
	char		 old[2 * CERT_SERIAL_MAX + 1];
	int		 r;

	if ((r = ca_parse(o, &ca)) != 0 ||
	    (r = authkey_load(o, key, &keylen)) != 0 ||
	    (r = csr_load(csr, &req)) != 0 ||
	    (r = rolekey_open(id, &o->p11, &s)) != 0)
		goto out;
	if ((r = key_matches(s, X509_REQ_get0_pubkey(req))) <= 0) {
		if (r == 0)
			r = uc_fail(UC_ERR_POLICY, "%s: the request is not "
			    "for the %s key (%s); make a new one with "
			    "\"certmgr csr %s\"", csr, id->role->name,
			    s->label, id->role->name);
		goto out;
	}
	if ((r = ca_sign(&ca, o, req, key, keylen, &certs)) != 0)
		goto out;
	if (o->chain != NULL)
		r = certs_load(o->chain, &certs);
	else if (sk_X509_num(certs) == 1)
		r = ca_info(&ca, o, &certs);
	if (r != 0 || (r = cert_install(id, s, certs, old, sizeof(old))) != 0)
		goto out;
	cert_summary("installed", id, sk_X509_value(certs, 0), s->label);
	next_steps(id, old);
out:
	OPENSSL_cleanse(key, sizeof(key));
	OPENSSL_cleanse(o->authhex, sizeof(o->authhex));
	sk_X509_pop_free(certs, X509_free);
	X509_REQ_free(req);
	signer_free(s);
	return r;
}

/* certmgr submit ROLE --ca cfssl:https://HOST:PORT [...] */
static int
cmd_submit(int argc, char **argv)
{
	struct opts	 o;
	struct ident	 id;
	int		 r;

	if (opts_parse(argc, argv, O_DIR | O_CA | O_MODULE, 1, 1, &o) != 0 ||
	    ident_init(o.dir, o.args[0], &id) != 0) {
		OPENSSL_cleanse(o.authhex, sizeof(o.authhex));
		return 2;
	}
	if (o.ca == NULL) {
		OPENSSL_cleanse(o.authhex, sizeof(o.authhex));
		return cmd_usage_error("submit: --ca is required");
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		r = uc_fail(UC_ERR_INTERNAL, "libcurl does not initialise");
	else {
		r = submit_run(&o, &id);
		curl_global_cleanup();
	}
	OPENSSL_cleanse(o.authhex, sizeof(o.authhex));
	if (r != 0)
		return cmd_fail(r);
	warn_flush();
	return 0;
}

/* import ROLE CERT [CHAIN] */
static int
import_run(const struct opts *o, const struct ident *id)
{
	struct signer	*s = NULL;
	STACK_OF(X509)	*certs = NULL;
	char		 old[2 * CERT_SERIAL_MAX + 1];
	int		 r;

	if ((r = certs_load(o->args[1], &certs)) != 0 ||
	    (o->nargs == 3 && (r = certs_load(o->args[2], &certs)) != 0) ||
	    (r = rolekey_open(id, &o->p11, &s)) != 0 ||
	    (r = cert_install(id, s, certs, old, sizeof(old))) != 0)
		goto out;
	cert_summary("installed", id, sk_X509_value(certs, 0), s->label);
	next_steps(id, old);
out:
	sk_X509_pop_free(certs, X509_free);
	signer_free(s);
	return r;
}

static int
cmd_import(int argc, char **argv)
{
	struct opts	 o;
	struct ident	 id;
	int		 r;

	if (opts_parse(argc, argv, O_DIR | O_MODULE, 2, 3, &o) != 0 ||
	    ident_init(o.dir, o.args[0], &id) != 0)
		return 2;
	if ((r = import_run(&o, &id)) != 0)
		return cmd_fail(r);
	warn_flush();
	return 0;
}

/*
 * show ROLE.
 */

struct showinfo {
	char		 subject[TEXT_MAX];
	char		 issuer[TEXT_MAX];
	char		 serial[2 * CERT_SERIAL_MAX + 1];
	char		 notbefore[40];
	char		 notafter[40];
	char		 key[64];
	/* Fingerprints: SHA-1, SHA-256, MD5. */
	char		 fp[3][3 * EVP_MAX_MD_SIZE + 1];
	const char	*keyfile;	/* ROLE.key, or NULL */
	char		*keyuri;	/* redacted URI, or NULL; owned */
	int		 match;		/* 1 matches, 0 not, -1 ? */
	int		 ca;
	long		 pathlen;	/* -1: none */
	int		 chain;		/* certificates after leaf */
};

/* Digest of x: "AA:BB:..." (colons) or "aabb..." into buf. */
static void
fp_text(const X509 *x, const EVP_MD *md, int colons, char *buf, size_t sz)
{
	uint8_t	 d[EVP_MAX_MD_SIZE];
	size_t	 n, i, o = 0;

	buf[0] = '\0';
	if (cert_fingerprint(x, md, d, &n) != 0)
		return;
	for (i = 0; i < n && o + 4 <= sz; i++)
		o += (size_t)snprintf(buf + o, sz - o, colons ? "%s%02X" :
		    "%s%02x", colons && i ? ":" : "", d[i]);
}

static void
show_fill(STACK_OF(X509) *certs, int json, struct showinfo *si)
{
	X509	*x = sk_X509_value(certs, 0);

	dn_text(X509_get_subject_name(x), si->subject, sizeof(si->subject));
	dn_text(X509_get_issuer_name(x), si->issuer, sizeof(si->issuer));
	serial_hex(x, si->serial, sizeof(si->serial));
	time_text(X509_get0_notBefore(x), json, si->notbefore,
	    sizeof(si->notbefore));
	time_text(X509_get0_notAfter(x), json, si->notafter,
	    sizeof(si->notafter));
	pkey_text(X509_get0_pubkey(x), si->key, sizeof(si->key));
	fp_text(x, EVP_sha1(), !json, si->fp[0], sizeof(si->fp[0]));
	fp_text(x, EVP_sha256(), !json, si->fp[1], sizeof(si->fp[1]));
	fp_text(x, EVP_md5(), !json, si->fp[2], sizeof(si->fp[2]));
	si->ca = (X509_get_extension_flags(x) & EXFLAG_CA) != 0;
	si->pathlen = si->ca ? X509_get_pathlen(x) : -1;
	si->chain = sk_X509_num(certs) - 1;
}

/* Where the key is, and for a file key whether it matches. */
static int
show_key(const struct ident *id, X509 *x, struct showinfo *si)
{
	enum keykind	 k;
	EVP_PKEY	*pk = NULL;
	char		*uri = NULL;
	int		 r;

	si->match = -1;
	if ((r = key_kind(id, &k)) != 0)
		return r;
	if (k == KEY_FILE) {
		si->keyfile = id->key;
		if (keyfile_load(id->key, &pk) == 0)
			si->match = EVP_PKEY_eq(pk, X509_get0_pubkey(x)) == 1;
		EVP_PKEY_free(pk);
	} else if (k == KEY_URI) {
		if ((r = keyuri_load(id->keyuri, &uri)) != 0)
			return r;
		si->keyuri = p11_uri_redact(uri);
		free(uri);
		if (si->keyuri == NULL)
			return uc_fail(UC_ERR_ALLOC, "key URI");
	}
	return 0;
}

static void
show_text(const struct ident *id, const struct showinfo *si)
{
	static const char *const matchtxt[] = { "not checked (token)",
	    "DOES NOT MATCH the certificate", "matches the certificate" };

	printf("role:        %s\n", id->role->name);
	printf("certificate: %s", id->crt);
	if (si->chain > 0)
		printf(" (+%d chain certificate%s)", si->chain,
		    si->chain > 1 ? "s" : "");
	printf("\nsubject:     %s\nissuer:      %s\nserial:      %s\n",
	    si->subject, si->issuer, si->serial);
	printf("not before:  %s\nnot after:   %s\nkey type:    %s\n",
	    si->notbefore, si->notafter, si->key);
	if (si->keyfile != NULL)
		printf("key file:    %s (%s)\n", si->keyfile,
		    si->match < 0 ? "unreadable" : matchtxt[si->match + 1]);
	else if (si->keyuri != NULL)
		printf("key uri:     %s\n", si->keyuri);
	else
		printf("key:         none\n");
	if (si->ca && si->pathlen >= 0)
		printf("CA:          yes, pathlen %ld\n", si->pathlen);
	else
		printf("CA:          %s\n", si->ca ? "yes" : "no");
	printf("SHA-1:       %s\nSHA-256:     %s\nMD5:         %s\n",
	    si->fp[0], si->fp[1], si->fp[2]);
}

static int
show_json(const struct ident *id, const struct showinfo *si)
{
	static const char *const names[] = { "sha1", "sha256", "md5" };
	struct wbuf	 w;
	char		 num[32];
	int		 i, r = 0;

	wbuf_init(&w, 64 * 1024);
	wbuf_u8(&w, '{');
	json_put_field(&w, 1, "role", id->role->name);
	json_put_field(&w, 0, "certificate", id->crt);
	json_put_field(&w, 0, "subject", si->subject);
	json_put_field(&w, 0, "issuer", si->issuer);
	json_put_field(&w, 0, "serial", si->serial);
	json_put_field(&w, 0, "not_before", si->notbefore);
	json_put_field(&w, 0, "not_after", si->notafter);
	json_put_field(&w, 0, "key_type", si->key);
	if (si->keyfile != NULL)
		json_put_field(&w, 0, "key_file", si->keyfile);
	if (si->keyuri != NULL)
		json_put_field(&w, 0, "key_uri", si->keyuri);
	snprintf(num, sizeof(num), ",\"key_matches\":%s", si->match < 0 ?
	    "null" : si->match ? "true" : "false");
	wbuf_put(&w, num, strlen(num));
	snprintf(num, sizeof(num), ",\"ca\":%s", si->ca ? "true" : "false");
	wbuf_put(&w, num, strlen(num));
	if (si->pathlen >= 0) {
		snprintf(num, sizeof(num), ",\"pathlen\":%ld", si->pathlen);
		wbuf_put(&w, num, strlen(num));
	}
	snprintf(num, sizeof(num), ",\"chain\":%d", si->chain);
	wbuf_put(&w, num, strlen(num));
	for (i = 0; i < 3; i++)
		json_put_field(&w, 0, names[i], si->fp[i]);
	wbuf_put(&w, "}\n", 2);
	if (!wbuf_ok(&w) || fwrite(w.data, 1, w.len, stdout) != w.len ||
	    fflush(stdout) != 0)
		r = uc_fail(UC_ERR_IO, "writing the JSON output failed");
	wbuf_free(&w);
	return r;
}

static int
show_run(const struct opts *o, const struct ident *id)
{
	struct showinfo	 si;
	STACK_OF(X509)	*certs = NULL;
	int		 r;

	memset(&si, 0, sizeof(si));
	if ((r = certs_load(id->crt, &certs)) != 0 ||
	    (r = show_key(id, sk_X509_value(certs, 0), &si)) != 0)
		goto out;
	show_fill(certs, o->json, &si);
	if (o->json)
		r = show_json(id, &si);
	else
		show_text(id, &si);
out:
	free(si.keyuri);
	sk_X509_pop_free(certs, X509_free);
	return r;
}

/* certmgr show ROLE [--json] */
static int
cmd_show(int argc, char **argv)
{
	struct opts	 o;
	struct ident	 id;
	int		 r;

	if (opts_parse(argc, argv, O_DIR | O_JSON, 1, 1, &o) != 0 ||
	    ident_init(o.dir, o.args[0], &id) != 0)
		return 2;
	if ((r = show_run(&o, &id)) != 0)
		return cmd_fail(r);
	warn_flush();
	return 0;
}

/*
 * Trust stores (lib/store.h): named sets of certificates keyed by
 * SHA-256, e.g. "capf" = the manufacturing roots for MIC authentication.
 */

/* A store name: 1 to 31 of [a-z0-9_-]. */
static int
store_name_ok(const char *s)
{
	size_t	 n = strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_-");

	return n > 0 && n <= STORE_NAME_LEN && s[n] == '\0';
}

/* Fill t for certificate x in store; t->pem malloc'd. */
static int
trust_fill(const char *store, X509 *x, struct store_trust *t)
{
	STACK_OF(X509)	*sk;
	struct wbuf	 w;
	struct tm	 tm;
	uint8_t		 d[EVP_MAX_MD_SIZE];
	size_t		 n;
	int		 r;

	memset(t, 0, sizeof(*t));
	snprintf(t->store, sizeof(t->store), "%s", store);
	if ((r = cert_fingerprint(x, EVP_sha256(), d, &n)) != 0)
		return r;
	hex_encode(d, n, t->sha256);
	dn_text(X509_get_subject_name(x), t->subject, sizeof(t->subject));
	if (ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm) == 1)
		t->not_after = (int64_t)timegm(&tm);
	if ((sk = sk_X509_new_null()) == NULL || sk_X509_push(sk, x) == 0) {
		sk_X509_free(sk);
		return uc_fail(UC_ERR_ALLOC, "certificate list");
	}
	r = pem_encode(NULL, sk, 0, &w);
	sk_X509_free(sk);
	if (r != 0)
		return r;
	wbuf_u8(&w, '\0');
	if (!wbuf_ok(&w)) {
		wbuf_free(&w);
		return uc_fail(UC_ERR_ALLOC, "PEM");
	}
	t->pem = (char *)wbuf_steal(&w, &n);
	return t->pem != NULL ? 0 : uc_fail(UC_ERR_ALLOC, "PEM");
}

static int
trust_add(const struct opts *o, const char *store, const char *path)
{
	struct store		*st = NULL;
	struct store_trust	 t;
	STACK_OF(X509)		*certs = NULL;
	X509			*x;
	int			 i, r;

	memset(&t, 0, sizeof(t));
	if ((r = certs_load(path, &certs)) != 0 ||
	    (r = store_open(o->db, STORE_CREATE, &st)) != 0)
		goto out;
	for (i = 0; i < sk_X509_num(certs); i++) {
		x = sk_X509_value(certs, i);
		if ((r = trust_fill(store, x, &t)) != 0 ||
		    (r = store_trust_add(st, &t)) != 0)
			goto out;
		if (!(X509_get_extension_flags(x) & EXFLAG_CA))
			warn_later("%s is not a CA certificate", t.subject);
		printf("trust %s: added %s (SHA-256 %s)\n", store, t.subject,
		    t.sha256);
		store_trust_clear(&t);
	}
out:
	store_trust_clear(&t);
	store_close(st);
	sk_X509_pop_free(certs, X509_free);
	return r;
}

static int
trust_print(const struct store_trust *t, void *arg)
{
	char	 when[32] = "?";
	time_t	 tt = (time_t)t->not_after;
	struct tm tm;

	if (gmtime_r(&tt, &tm) != NULL)
		strftime(when, sizeof(when), "%Y-%m-%d", &tm);
	printf("%s  %s  %s\n", t->sha256, when, t->subject);
	(*(int *)arg)++;
	return 0;
}

static int
trust_list(const struct opts *o, const char *store)
{
	struct store	*st = NULL;
	int		 r, n = 0;

	if ((r = store_open(o->db, STORE_RDONLY, &st)) == 0)
		r = store_trust_list(st, store, trust_print, &n);
	store_close(st);
	return r;
}

/* SHA-256 hex (colons allowed) in lower case into out; 0 or -1. */
static int
sha256_arg(const char *s, char *out)
{
	size_t	 n = 0;

	for (; *s != '\0'; s++) {
		if (*s == ':')
			continue;
		if (n == 64 || hexval((uint8_t)*s) < 0)
			return -1;
		out[n++] = (char)(*s | 0x20);
	}
	out[n] = '\0';
	return n == 64 ? 0 : -1;
}

static int
trust_remove(const struct opts *o, const char *store, const char *arg)
{
	struct store	*st = NULL;
	X509		*x = NULL;
	uint8_t		 d[EVP_MAX_MD_SIZE];
	char		 sha[65];
	size_t		 n;
	int		 r;

	if (sha256_arg(arg, sha) != 0) {
		if ((r = cert_load(arg, &x)) != 0 ||
		    (r = cert_fingerprint(x, EVP_sha256(), d, &n)) != 0)
			goto out;
		hex_encode(d, n, sha);
	}
	if ((r = store_open(o->db, 0, &st)) != 0)
		goto out;
	if ((r = store_trust_del(st, store, sha)) == UC_ERR_NOTFOUND)
		uc_fail(r, "trust %s: no certificate with SHA-256 %s", store,
		    sha);
	else if (r == 0)
		printf("trust %s: removed SHA-256 %s\n", store, sha);
out:
	store_close(st);
	X509_free(x);
	return r;
}

/* certmgr [--db FILE] trust add|list|remove STORE [CERT|SHA256] */
static int
cmd_trust(int argc, char **argv)
{
	const struct role	*role;
	struct opts		 o;
	const char		*act, *store;
	int			 r, list;

	if (opts_parse(argc, argv, O_DB, 2, 3, &o) != 0)
		return 2;
	act = o.args[0];
	store = o.args[1];
	list = strcmp(act, "list") == 0;
	if (!list && strcmp(act, "add") != 0 && strcmp(act, "remove") != 0)
		return cmd_usage_error("trust: want add, list or remove, not "
		    "\"%s\"", act);
	if (o.nargs != (list ? 2 : 3))
		return cmd_usage_error("trust %s: wrong number of operands",
		    act);
	if (!store_name_ok(store))
		return cmd_usage_error("trust: store name \"%s\": 1 to %d of "
		    "a-z, 0-9, _ and -", store, STORE_NAME_LEN);
	r = list ? trust_list(&o, store) : act[0] == 'a' ?
	    trust_add(&o, store, o.args[2]) :
	    trust_remove(&o, store, o.args[2]);
	if (r != 0)
		return cmd_fail(r);
	if (!list && (role = role_find(store)) != NULL)
		printf("next: %s\n", role->reload);
	warn_flush();
	return 0;
}

/*
 * certmgr --dir DIR / --db FILE before the command: strip them from
 * argv (argv[0] moves up).  0 or 2.
 */
static int
global_opts(int *argc, char ***argv)
{
	char		**av = *argv;
	const char	**dst;
	size_t		 len;
	int		 n;

	while (*argc > 1) {
		if (strncmp(av[1], "--dir", 5) == 0 &&
		    (av[1][5] == '\0' || av[1][5] == '=')) {
			dst = &g_dir;
			len = 5;
		} else if (strncmp(av[1], "--db", 4) == 0 &&
		    (av[1][4] == '\0' || av[1][4] == '=')) {
			dst = &g_db;
			len = 4;
		} else
			break;
		if (av[1][len] == '=') {
			*dst = av[1] + len + 1;
			n = 1;
		} else if (*argc > 2) {
			*dst = av[2];
			n = 2;
		} else
			return cmd_usage_error("%s needs an argument", av[1]);
		av[n] = av[0];
		av += n;
		*argc -= n;
	}
	*argv = av;
	return 0;
}

int
main(int argc, char *argv[])
{
	static const struct cmd cmds[] = {
		{ "selfsign", cmd_selfsign },
		{ "csr", cmd_csr },
		{ "submit", cmd_submit },
		{ "import", cmd_import },
		{ "show", cmd_show },
		{ "trust", cmd_trust },
	};
	int	 r;

	/* A CA that hangs up must give an error, not kill us. */
	signal(SIGPIPE, SIG_IGN);
	log_init(progname, 0, getenv("UCSEC_DEBUG") ? LOG_LEVEL_DEBUG :
	    LOG_LEVEL_INFO);
	if ((r = global_opts(&argc, &argv)) != 0)
		return r;
	if (argc >= 2 && (strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0))
		usage_to(stdout, 0);
	return cmd_dispatch(cmds, NELEM(cmds), argc, argv, usage);
}
