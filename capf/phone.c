/*
 * capf-phone: the phone side of CAPF (capf-protocol.md 7), as a
 * simulator, a debug tool and a load generator.
 *
 * Single mode runs one session over a blocking TLS socket: it answers
 * AUTH_REQUEST with exactly the elements capfc sends (spec 4, order 1,
 * 3, 4, 6, 7, 11, 13, 16, 9, 20), generates a key on
 * KEY_GENERATE_REQUEST, keeps its LSC in DIR/DEVICE.pem, answers fetch
 * and delete, and prints the outcome of END_SESSION in one line.  Test
 * knobs (--garbage, --truncate, ...) send what a broken phone would.
 *
 * Load mode (--load N) enrolls N distinct devices over libevent and
 * bufferevent_openssl, at most --concurrency in flight per run, with
 * keys generated before timing starts, and prints one summary.
 *
 * Both modes share one state machine (struct phone): a transport hands
 * it each whole server message and sends what it queues, each queued
 * message with one SSL_write.
 */
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
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

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "daemon.h"
#include "capfmsg.h"
#include "cert.h"
#include "cmd.h"
#include "cursor.h"
#include "fileio.h"
#include "log.h"
#include "signer.h"
#include "store.h"
#include "uerr.h"
#include "wbuf.h"

#define PHONE_PORT_DEF		"3804"	/* spec 1 */
#define PHONE_TIMEOUT_DEF	30	/* seconds per wait for the server */
#define PHONE_TIMEOUT_MAX	3600
#define PHONE_CA_MAX		8	/* --ca files (CAPF records in a CTL) */
#define PHONE_MSGS_MAX		8	/* server messages per session: 4 used */
#define PHONE_OUT_MAX		2	/* messages queued per server message */
#define PHONE_PWFILE_MAX	256	/* --password-file size */
#define PHONE_DEVLEN		15	/* "SEP" + 12 hex digits */
#define PHONE_GARBAGE_LEN	64	/* --garbage bytes */
#define PHONE_TRUNC_EXTRA	100	/* --truncate: announced, never sent */
#define PHONE_NOTE_MAX		(PATH_MAX + 512) /* why an operation failed */
#define PHONE_LINE_MAX		(2 * PHONE_NOTE_MAX) /* one outcome line */
#define PHONE_MSG_BUF		(CAPF_HDR_LEN + CAPF_PAYLOAD_MAX)
#define LOAD_MAX		10000000 /* --load devices */
#define LOAD_CONC_MAX		20000	/* sessions in flight */
#define LOAD_THREADS_MAX	64
#define LOAD_KEYS_MAX		4096	/* --keys per key type */
#define LOAD_SPECS_MAX		8	/* key types: pre-generated + on demand */
#define LOAD_LOG_FAILS		10	/* failures logged one by one */

/* Test knobs: what a broken phone sends instead (single mode). */
#define K_GARBAGE		0x01	/* random bytes for AUTH_RESPONSE */
#define K_WRONG_SESSION		0x02	/* AUTH_RESPONSE, session id + 1 */
#define K_TRUNCATE		0x04	/* header announces more, then close */
#define K_OVERSIZE		0x08	/* an element runs past the message */
#define K_BAD_SIGNATURE		0x10	/* flip the tag 6 and 20 signatures */
#define K_BAD_SUDI		0x20	/* flip both SUDI signatures */
#define K_BAD_VERSION		0x40	/* version 2 in AUTH_RESPONSE */

enum ph_state {
	PH_AUTH,		/* waiting for AUTH_REQUEST */
	PH_OP,			/* AUTH_RESPONSE sent: operation or END */
	PH_KEYGEN,		/* REQUEST_IN_PROGRESS queued, key next */
	PH_STORE,		/* public key sent: STORE_CERTIFICATE or END */
	PH_END,			/* answered the operation: END_SESSION */
	PH_DONE,		/* END_SESSION received */
	PH__MAX
};

static const char *const ph_state_names[PH__MAX] = {
	"AUTH_REQUEST", "an operation or END_SESSION", "key generation",
	"STORE_CERTIFICATE_REQUEST or END_SESSION", "END_SESSION", "nothing",
};

enum ph_op { OP_NONE, OP_INSTALL, OP_FETCH, OP_DELETE };

/* How a session ended; the first four are success. */
enum result {
	R_INSTALLED,		/* LSC stored, END_SESSION 1 */
	R_FETCHED,		/* LSC sent, END_SESSION 0/1 */
	R_DELETED,		/* LSC deleted, END_SESSION 0/1 */
	R_NOOP,			/* END_SESSION 0/1 straight after auth */
	R_NO_LSC,		/* fetch/delete, but the phone had none */
	R_UNKNOWN_DEVICE,	/* END_SESSION 9 */
	R_SERVER_FAIL,		/* END_SESSION 7 */
	R_SERVER_OTHER,		/* END_SESSION with another reason */
	R_STORE_REFUSED,	/* certificate refused, answered 7 */
	R_CONNECT,		/* TCP connect failed */
	R_TLS,			/* handshake or certificate check failed */
	R_TIMEOUT,		/* the server went silent */
	R_CLOSED,		/* closed before END_SESSION */
	R_PROTOCOL,		/* the server sent something a phone rejects */
	R__MAX
};

static const char *const result_names[R__MAX] = {
	"installed", "fetched", "deleted", "no_operation", "no_lsc",
	"unknown_device", "server_reason_7", "server_reason_other",
	"store_refused", "connect", "tls", "timeout", "closed", "protocol",
};

/* A phone key and its SubjectPublicKeyInfo DER (spec 5.4). */
struct pkey {
	EVP_PKEY	*pk;
	uint8_t		*spki;		/* OPENSSL_malloc'd by i2d_PUBKEY */
	size_t		 spkilen;
};

/* Key type as KEY_GENERATE_REQUEST asks (spec 6.3, 6.4). */
struct keyspec {
	int		 type;		/* CAPF_KEY_RSA or CAPF_KEY_EC */
	int		 bits;		/* RSA */
	int		 curve;		/* EC: CAPF_CURVE_* */
};

/* Load mode: keys per type, made before timing (or on first demand). */
struct keyslot {
	struct keyspec	 spec;
	struct pkey	*keys;
	int		 n;
	unsigned int	 next;		/* round robin */
	int		 on_demand;	/* made while timing ran */
};

struct keypool {
	pthread_mutex_t	 mu;
	struct keyslot	 slots[LOAD_SPECS_MAX];
	int		 nslots;
	int		 per_type;	/* --keys */
};

struct conf {
	const char	*host;		/* --server */
	const char	*port;		/* --port */
	const char	*ca[PHONE_CA_MAX]; /* --ca: trusted CAPF certificates */
	int		 nca;
	const char	*servername;	/* --servername: SNI */
	const char	*device;	/* --device */
	const char	*dir;		/* --dir: where DEVICE.pem lives */
	const char	*lsc;		/* --lsc: key + LSC for auth */
	const char	*mic;		/* --mic: key + MIC for auth */
	const char	*sudi;		/* --sudi: key + SUDI certificate */
	char		 password[CAPF_PASSWORD_MAX]; /* "" when none */
	int		 auth_mode;	/* CAPF_AT_*; -1 until chosen */
	int		 tls1;		/* --tls1: TLS 1.0 only (7900) */
	int		 timeout;	/* seconds */
	int		 verbose;
	int		 knobs;		/* K_* */
	/* load mode */
	long		 load;		/* --load N; 0: single mode */
	int		 concurrency;
	int		 threads;
	const char	*prefix;	/* device name prefix */
	long		 first;		/* first device number */
	int		 json;
	const char	*record;	/* --record FILE */
	FILE		*recf;		/* device + serial per LSC received */
	pthread_mutex_t	 recmu;
	struct keypool	 pool;
	/* set up from the above */
	SSL_CTX		*ctx;
	struct signer	*auth;		/* certificate auth: LSC or MIC */
	struct signer	*sudisig;	/* optional SUDI */
	struct sockaddr_storage addr;	/* load mode: resolved once */
	socklen_t	 addrlen;
};

struct outmsg {
	uint8_t		*data;		/* malloc'd */
	size_t		 len;
};

/* What one server message makes the phone send. */
struct outq {
	struct outmsg	 m[PHONE_OUT_MAX];
	int		 n;
	int		 close_after;	/* --truncate: close after sending */
};

/* Where a session's new key comes from: generated or from the pool. */
typedef int (*getkey_fn)(void *, const struct keyspec *,
    const struct pkey **);

/* One phone in one session. */
struct phone {
	const struct conf *cf;
	char		 device[CAPF_NAME_MAX];
	enum ph_state	 state;
	enum ph_op	 op;
	enum result	 result;	/* valid in PH_DONE */
	int		 answered;	/* reason we answered the op with */
	uint32_t	 session;
	int		 nmsgs;		/* server messages so far */
	int		 store;		/* keep the LSC in DIR/DEVICE.pem */
	struct keyspec	 want;		/* asked in KEY_GENERATE_REQUEST */
	getkey_fn	 getkey;
	void		*getkey_arg;
	const struct pkey *key;		/* the new key (owned or pooled) */
	struct pkey	 own;		/* single mode: key we made */
	X509		*cert;		/* installed or fetched LSC */
	uint8_t		 end_reason;
	uint8_t		 last;		/* command we sent last; 0: garbage */
	char		 path[PATH_MAX]; /* DIR/DEVICE.pem */
	char		 note[PHONE_NOTE_MAX]; /* why R_NO_LSC/R_STORE_REFUSED */
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
"usage: capf-phone --server HOST [--port N] --ca CAPF.crt --device SEPxxxxxxxxxxxx\n"
"                  [--password DIGITS | --password-file FILE]\n"
"                  [--auth-mode password|null|lsc|mic|1-4] [--lsc FILE.pem]\n"
"                  [--mic FILE.pem] [--sudi FILE.pem] [--dir DIR]\n"
"                  [--servername NAME] [--tls1] [--timeout SECS] [-v]\n"
"       capf-phone --load N [--concurrency C] [--threads T] --server HOST\n"
"                  [--port N] --ca CAPF.crt [--prefix SEPnnn] [--first M]\n"
"                  [--password DIGITS | --password-file FILE]\n"
"                  [--keys K] [--key-type rsa:2048|ec:P-256 ...] [--json]\n"
"test knobs: --garbage --wrong-session --truncate --oversize\n"
"            --bad-signature --bad-sudi-signature --bad-version\n"
"See capf-phone(1).\n");
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

/* Device names are SEP + 12 hex digits, as the phone's MAC (capfc). */
static int
device_valid(const char *s)
{
	size_t	 i;

	if (strlen(s) != PHONE_DEVLEN || strncmp(s, "SEP", 3) != 0)
		return 0;
	for (i = 3; i < PHONE_DEVLEN; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		    (s[i] >= 'A' && s[i] <= 'F')))
			return 0;
	return 1;
}

/* An auth string: 1 to CAPF_PASSWORD_MAX - 1 printable ASCII bytes. */
static int
password_set(struct conf *cf, const uint8_t *p, size_t len, const char *from)
{
	size_t	 i;

	if (len == 0 || len >= sizeof(cf->password))
		return uc_fail(UC_ERR_ARG, "%s: the authentication string "
		    "must be 1 to %zu characters", from,
		    sizeof(cf->password) - 1);
	for (i = 0; i < len; i++)
		if (p[i] < 0x21 || p[i] > 0x7e)
			return uc_fail(UC_ERR_ARG, "%s: the authentication "
			    "string has a character that is not printable "
			    "ASCII", from);
	memcpy(cf->password, p, len);
	cf->password[len] = '\0';
	return 0;
}

/* --password-file: the first line of the file, read through a cursor. */
static int
password_file(struct conf *cf, const char *path)
{
	struct cursor	 c;
	uint8_t		*buf = NULL;
	size_t		 len, n = 0;
	int		 r;

	if ((r = file_read(path, PHONE_PWFILE_MAX, &buf, &len)) != 0)
		return r;
	cur_init(&c, buf, len);
	while (cur_left(&c) > 0 && cur_peek_u8(&c) != '\n' &&
	    cur_peek_u8(&c) != '\r') {
		cur_u8(&c);
		n++;
	}
	r = password_set(cf, buf, n, path);
	OPENSSL_cleanse(buf, len);
	free(buf);
	return r;
}

static int
auth_mode_parse(const char *s, int *mode)
{
	static const char *const names[] = { NULL, "password", "null", "lsc",
	    "mic" };
	int	 i;

	for (i = CAPF_AT_PASSWORD; i <= CAPF_AT_MIC; i++)
		if (strcmp(s, names[i]) == 0 ||
		    (s[0] == '0' + i && s[1] == '\0')) {
			*mode = i;
			return 0;
		}
	return uc_fail(UC_ERR_ARG, "--auth-mode %s: want password, null, lsc, "
	    "mic or 1-4 (spec 6.2)", s);
}

/* "rsa:2048" or "ec:P-256" (capfctl's --key form) into a keyspec. */
static int
keyspec_arg(const char *s, struct keyspec *ks)
{
	int	 type, bits, curve;

	if (capf_keyspec_parse(s, &type, &bits, &curve) != 0)
		return uc_fail(UC_ERR_ARG, "--key-type %s: want rsa:BITS or "
		    "ec:P-256|P-384|P-521", s);
	ks->type = type;
	ks->bits = type == CAPF_KEY_RSA ? bits : 0;
	ks->curve = type == CAPF_KEY_EC ? curve : 0;
	return 0;
}

static const struct option longopts[] = {
	{ "server",		required_argument, NULL, 's' },
	{ "port",		required_argument, NULL, 'p' },
	{ "ca",			required_argument, NULL, 'A' },
	{ "servername",		required_argument, NULL, 'N' },
	{ "device",		required_argument, NULL, 'd' },
	{ "password",		required_argument, NULL, 'P' },
	{ "password-file",	required_argument, NULL, 'F' },
	{ "auth-mode",		required_argument, NULL, 'a' },
	{ "lsc",		required_argument, NULL, 'L' },
	{ "mic",		required_argument, NULL, 'M' },
	{ "sudi",		required_argument, NULL, 'S' },
	{ "dir",		required_argument, NULL, 'D' },
	{ "tls1",		no_argument,	   NULL, '1' },
	{ "timeout",		required_argument, NULL, 't' },
	{ "verbose",		no_argument,	   NULL, 'v' },
	{ "load",		required_argument, NULL, 'n' },
	{ "concurrency",	required_argument, NULL, 'c' },
	{ "threads",		required_argument, NULL, 'T' },
	{ "prefix",		required_argument, NULL, 'x' },
	{ "first",		required_argument, NULL, 'f' },
	{ "keys",		required_argument, NULL, 'k' },
	{ "key-type",		required_argument, NULL, 'K' },
	{ "json",		no_argument,	   NULL, 'j' },
	{ "record",		required_argument, NULL, 'R' },
	{ "garbage",		no_argument,	   NULL, 0x100 | K_GARBAGE },
	{ "wrong-session",	no_argument,	   NULL, 0x100 | K_WRONG_SESSION },
	{ "truncate",		no_argument,	   NULL, 0x100 | K_TRUNCATE },
	{ "oversize",		no_argument,	   NULL, 0x100 | K_OVERSIZE },
	{ "bad-signature",	no_argument,	   NULL, 0x100 | K_BAD_SIGNATURE },
	{ "bad-sudi-signature",	no_argument,	   NULL, 0x100 | K_BAD_SUDI },
	{ "bad-version",	no_argument,	   NULL, 0x100 | K_BAD_VERSION },
	{ "help",		no_argument,	   NULL, 'h' },
	{ NULL, 0, NULL, 0 }
};

/* One option into cf; returns 0 or UC_ERR_ARG (a usage error). */
static int
opt_store(struct conf *cf, int c, char *arg)
{
	long	 v = 0;
	int	 r = 0;

	if (c & 0x100) {
		cf->knobs |= c & 0xff;
		return 0;
	}
	switch (c) {
	case 's': cf->host = arg; break;
	case 'N': cf->servername = arg; break;
	case 'd': cf->device = arg; break;
	case 'L': cf->lsc = arg; break;
	case 'M': cf->mic = arg; break;
	case 'S': cf->sudi = arg; break;
	case 'D': cf->dir = arg; break;
	case 'x': cf->prefix = arg; break;
	case '1': cf->tls1 = 1; break;
	case 'v': cf->verbose = 1; break;
	case 'j': cf->json = 1; break;
	case 'R': cf->record = arg; break;
	case 'p':
		if ((r = num_arg(arg, 1, 65535, "port", &v)) == 0)
			cf->port = arg;
		break;
	case 'A':
		if (cf->nca == PHONE_CA_MAX)
			return uc_fail(UC_ERR_ARG, "at most %d --ca",
			    PHONE_CA_MAX);
		cf->ca[cf->nca++] = arg;
		break;
	case 'P':
		r = password_set(cf, (const uint8_t *)arg, strlen(arg),
		    "--password");
		/* Keep it out of ps(1) from now on. */
		OPENSSL_cleanse(arg, strlen(arg));
		break;
	case 'F': r = password_file(cf, arg); break;
	case 'a': r = auth_mode_parse(arg, &cf->auth_mode); break;
	case 't':
		if ((r = num_arg(arg, 1, PHONE_TIMEOUT_MAX, "timeout",
		    &v)) == 0)
			cf->timeout = (int)v;
		break;
	case 'n':
		if ((r = num_arg(arg, 1, LOAD_MAX, "load", &v)) == 0)
			cf->load = v;
		break;
	case 'c':
		if ((r = num_arg(arg, 1, LOAD_CONC_MAX, "concurrency",
		    &v)) == 0)
			cf->concurrency = (int)v;
		break;
	case 'T':
		if ((r = num_arg(arg, 1, LOAD_THREADS_MAX, "threads",
		    &v)) == 0)
			cf->threads = (int)v;
		break;
	case 'f':
		if ((r = num_arg(arg, 0, 999999999999L, "first", &v)) == 0)
			cf->first = v;
		break;
	case 'k':
		if ((r = num_arg(arg, 1, LOAD_KEYS_MAX, "keys", &v)) == 0)
			cf->pool.per_type = (int)v;
		break;
	case 'K':
		if (cf->pool.nslots == LOAD_SPECS_MAX - 1)
			return uc_fail(UC_ERR_ARG, "at most %d --key-type",
			    LOAD_SPECS_MAX - 1);
		r = keyspec_arg(arg, &cf->pool.slots[cf->pool.nslots].spec);
		if (r == 0)
			cf->pool.nslots++;
		break;
	default:
		return uc_fail(UC_ERR_ARG, "unknown option");
	}
	return r;
}

/* Cross-option rules for single mode; returns 0 or UC_ERR_ARG. */
static int
conf_check_single(struct conf *cf)
{
	if (cf->device == NULL)
		return uc_fail(UC_ERR_ARG, "--device SEPxxxxxxxxxxxx is "
		    "required");
	if (!device_valid(cf->device))
		return uc_fail(UC_ERR_ARG, "--device %s: want SEP and 12 "
		    "upper-case hex digits", cf->device);
	if (cf->auth_mode < 0)
		cf->auth_mode = cf->password[0] != '\0' ? CAPF_AT_PASSWORD :
		    cf->lsc != NULL ? CAPF_AT_LSC_FIRST :
		    cf->mic != NULL ? CAPF_AT_MIC : CAPF_AT_NULL;
	if (cf->auth_mode == CAPF_AT_MIC && cf->mic == NULL)
		return uc_fail(UC_ERR_ARG, "--auth-mode mic needs --mic");
	if ((cf->auth_mode == CAPF_AT_PASSWORD ||
	    cf->auth_mode == CAPF_AT_NULL) &&
	    (cf->sudi != NULL || (cf->knobs & (K_BAD_SIGNATURE | K_BAD_SUDI))))
		return uc_fail(UC_ERR_ARG, "--sudi and --bad-signature need "
		    "certificate authentication (--auth-mode lsc or mic)");
	if ((cf->knobs & K_BAD_SUDI) && cf->sudi == NULL)
		return uc_fail(UC_ERR_ARG, "--bad-sudi-signature needs --sudi");
	if (cf->auth_mode == CAPF_AT_NULL && cf->password[0] != '\0')
		return uc_fail(UC_ERR_ARG, "--auth-mode null sends no "
		    "authentication string; drop --password");
	return 0;
}

/* Cross-option rules for load mode; returns 0 or UC_ERR_ARG. */
static int
conf_check_load(struct conf *cf)
{
	size_t	 i, plen;
	char	 max[32];

	if (cf->device != NULL || cf->lsc != NULL || cf->mic != NULL ||
	    cf->sudi != NULL || cf->knobs != 0 || cf->dir != NULL)
		return uc_fail(UC_ERR_ARG, "--load takes no --device, --lsc, "
		    "--mic, --sudi, --dir or test knob");
	if (cf->auth_mode < 0)
		cf->auth_mode = cf->password[0] != '\0' ? CAPF_AT_PASSWORD :
		    CAPF_AT_NULL;
	if (cf->auth_mode > CAPF_AT_NULL)
		return uc_fail(UC_ERR_ARG, "--load authenticates by password "
		    "or null string only");
	if (cf->auth_mode == CAPF_AT_NULL && cf->password[0] != '\0')
		return uc_fail(UC_ERR_ARG, "--auth-mode null sends no "
		    "authentication string; drop --password");
	if (cf->prefix == NULL)
		cf->prefix = "SEP";
	plen = strlen(cf->prefix);
	if (plen < 3 || plen >= PHONE_DEVLEN ||
	    strncmp(cf->prefix, "SEP", 3) != 0)
		return uc_fail(UC_ERR_ARG, "--prefix %s: want SEP and at most "
		    "11 hex digits", cf->prefix);
	for (i = 3; i < plen; i++)
		if (!((cf->prefix[i] >= '0' && cf->prefix[i] <= '9') ||
		    (cf->prefix[i] >= 'A' && cf->prefix[i] <= 'F')))
			return uc_fail(UC_ERR_ARG, "--prefix %s: want "
			    "upper-case hex digits after SEP", cf->prefix);
	/* The last number must fit in the digits the prefix leaves. */
	snprintf(max, sizeof(max), "%ld", cf->first + cf->load - 1);
	if (strlen(max) > PHONE_DEVLEN - plen)
		return uc_fail(UC_ERR_ARG, "--prefix %s leaves %zu digits; "
		    "device number %s does not fit", cf->prefix,
		    PHONE_DEVLEN - plen, max);
	if (cf->concurrency == 0)
		cf->concurrency = 1;
	if (cf->concurrency > cf->load)
		cf->concurrency = (int)cf->load;
	if (cf->threads == 0)
		cf->threads = 1;
	if (cf->threads > cf->concurrency)
		cf->threads = cf->concurrency;
	return 0;
}

/* Parse argv into cf; returns 0, or 2 after a one-line usage error. */
static int
conf_parse(struct conf *cf, int argc, char *argv[])
{
	int	 c, r;

	cf->port = PHONE_PORT_DEF;
	cf->dir = NULL;
	cf->auth_mode = -1;
	cf->timeout = PHONE_TIMEOUT_DEF;
	cf->pool.per_type = 16;
	cf->first = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "hv", longopts, NULL)) != -1) {
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
	if (cf->host == NULL || cf->nca == 0)
		return cmd_usage_error("--server and --ca are required");
	r = cf->load > 0 ? conf_check_load(cf) : conf_check_single(cf);
	if (r != 0)
		return cmd_usage_error("%s", uc_errdetail());
	if (cf->dir == NULL)
		cf->dir = ".";
	return 0;
}

/*
 * TLS client context: trust exactly the --ca certificates (the CAPF
 * record of the CTL, spec 1), chain checked, no hostname check; a
 * non-self-signed CAPF certificate is a trust anchor too (partial
 * chain).  TLS 1.2 and later, or TLS 1.0 only with --tls1.
 */
static int
tls_setup(struct conf *cf)
{
	X509_STORE	*st;
	X509		*x = NULL;
	int		 i, r;

	if ((cf->ctx = SSL_CTX_new(TLS_client_method())) == NULL)
		return uc_fail_ssl(UC_ERR_CRYPTO, "SSL_CTX_new");
	if (cf->tls1) {
		/* TLS 1.0 needs SHA-1 and MD5 in the PRF: level 0. */
		SSL_CTX_set_security_level(cf->ctx, 0);
		if (!SSL_CTX_set_min_proto_version(cf->ctx, TLS1_VERSION) ||
		    !SSL_CTX_set_max_proto_version(cf->ctx, TLS1_VERSION) ||
		    !SSL_CTX_set_cipher_list(cf->ctx, "DEFAULT:@SECLEVEL=0"))
			return uc_fail_ssl(UC_ERR_CRYPTO, "--tls1: TLS 1.0 "
			    "is not available in this OpenSSL");
	} else if (!SSL_CTX_set_min_proto_version(cf->ctx, TLS1_2_VERSION))
		return uc_fail_ssl(UC_ERR_CRYPTO, "TLS 1.2 minimum");
	st = SSL_CTX_get_cert_store(cf->ctx);
	for (i = 0; i < cf->nca; i++) {
		if ((r = cert_load(cf->ca[i], &x)) != 0)
			return r;
		if (!X509_STORE_add_cert(st, x)) {
			X509_free(x);
			return uc_fail_ssl(UC_ERR_CRYPTO, "%s: cannot add to "
			    "the trust store", cf->ca[i]);
		}
		X509_free(x);
	}
	X509_STORE_set_flags(st, X509_V_FLAG_PARTIAL_CHAIN);
	SSL_CTX_set_verify(cf->ctx, SSL_VERIFY_PEER, NULL);
	/* Every session is a full handshake, as a phone's would be. */
	SSL_CTX_set_session_cache_mode(cf->ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_options(cf->ctx, SSL_OP_NO_TICKET);
	return 0;
}

static void
pkey_clear(struct pkey *k)
{
	EVP_PKEY_free(k->pk);
	OPENSSL_free(k->spki);
	memset(k, 0, sizeof(*k));
}

/* Generate a key as spec asks; k is filled (pkey_clear frees). */
static int
pkey_generate(const struct keyspec *ks, struct pkey *k)
{
	static const char *const curves[] = { "P-256", "P-384", "P-521" };
	unsigned char	*p = NULL;
	int		 n;

	memset(k, 0, sizeof(*k));
	if (ks->type == CAPF_KEY_RSA)
		k->pk = EVP_PKEY_Q_keygen(NULL, NULL, "RSA",
		    (size_t)ks->bits);
	else
		k->pk = EVP_PKEY_Q_keygen(NULL, NULL, "EC",
		    curves[ks->curve]);
	if (k->pk == NULL)
		return uc_fail_ssl(UC_ERR_CRYPTO, "generating the %s key",
		    ks->type == CAPF_KEY_RSA ? "RSA" : "EC");
	if ((n = i2d_PUBKEY(k->pk, &p)) <= 0) {
		pkey_clear(k);
		return uc_fail_ssl(UC_ERR_CRYPTO, "i2d_PUBKEY");
	}
	k->spki = p;
	k->spkilen = (size_t)n;
	return 0;
}

static const char *
keyspec_text(const struct keyspec *ks, char *buf, size_t sz)
{
	static const char *const curves[] = { "P-256", "P-384", "P-521" };

	if (ks->type == CAPF_KEY_RSA)
		snprintf(buf, sz, "rsa:%d", ks->bits);
	else
		snprintf(buf, sz, "ec:%s", curves[ks->curve]);
	return buf;
}

/*
 * The phone state machine.
 */

static void
phone_init(struct phone *ph, const struct conf *cf, const char *device,
    getkey_fn getkey, void *arg)
{
	memset(ph, 0, sizeof(*ph));
	ph->cf = cf;
	snprintf(ph->device, sizeof(ph->device), "%s", device);
	ph->state = PH_AUTH;
	ph->getkey = getkey;
	ph->getkey_arg = arg;
	ph->result = R_PROTOCOL;
}

static void
phone_free(struct phone *ph)
{
	pkey_clear(&ph->own);
	X509_free(ph->cert);
	ph->cert = NULL;
	ph->key = NULL;
}

/* Free queued messages; AUTH_RESPONSE may hold the auth string. */
static void
outq_free(struct outq *q)
{
	int	 i;

	for (i = 0; i < q->n; i++)
		if (q->m[i].data != NULL) {
			OPENSSL_cleanse(q->m[i].data, q->m[i].len);
			free(q->m[i].data);
		}
	memset(q, 0, sizeof(*q));
}

/* Finish wb and queue it; returns 0 or UC_ERR_*. */
static int
outq_push(struct outq *q, struct wbuf *wb)
{
	int	 r;

	if (q->n == PHONE_OUT_MAX) {
		wbuf_free(wb);
		return uc_fail(UC_ERR_INTERNAL, "output queue full");
	}
	if ((r = capf_build_end(wb)) != 0) {
		wbuf_free(wb);
		return r;
	}
	q->m[q->n].data = wbuf_steal(wb, &q->m[q->n].len);
	if (q->m[q->n].data == NULL)
		return uc_fail(UC_ERR_ALLOC, "message buffer");
	q->n++;
	return 0;
}

/* Start a message to the server; ph->last names it in the outcome. */
static void
msg_begin(struct phone *ph, struct wbuf *wb, uint8_t cmd, uint32_t session)
{
	ph->last = cmd;
	wbuf_init(wb, PHONE_MSG_BUF);
	capf_build_begin(wb, cmd, session);
}

/* Log a message's command and element tags (never their values). */
static void
trace(const char *dir, const uint8_t *buf, size_t len)
{
	struct capf_msg	 m;
	char		 tags[128];
	size_t		 o = 0;
	unsigned	 t;

	if (capf_msg_parse(buf, len, &m) != 0) {
		log_debug("%s %zu bytes that do not parse: %s", dir, len,
		    uc_errdetail());
		return;
	}
	tags[0] = '\0';
	for (t = 1; t < 32 && o < sizeof(tags) - 8; t++)
		if (CAPF_HAS(&m, t))
			o += (size_t)snprintf(tags + o, sizeof(tags) - o,
			    " %u", t);
	log_debug("%s %s session %" PRIu32 ", %u payload bytes, "
	    "elements%s%s", dir, capf_cmd_name(m.cmd), m.session,
	    (unsigned)m.paylen, o ? tags : " none",
	    m.nunknown ? " + unknown" : "");
}

/* Sign data with digest md using signer s, flipped if bad. */
static int
auth_sign(struct signer *s, enum signer_md md, const uint8_t *data,
    size_t len, int bad, uint8_t *sig, size_t *siglen)
{
	EVP_PKEY	*pk = signer_pkey(s);
	int		 r;

	*siglen = SIGNER_SIG_MAX;
	if (pk == NULL)
		return uc_fail(UC_ERR_UNSUPPORTED, "%s: key not in memory",
		    s->label);
	if ((r = capf_sig_sign(pk, md, data, len, sig, siglen)) != 0) {
		uc_prefix(s->label);
		return r;
	}
	if (bad && *siglen > 0)
		sig[*siglen - 1] ^= 0x01;
	return 0;
}

/*
 * Certificate authentication elements (spec 8.3, 8.4): our certificate
 * (tag 4), SHA-1 (tag 6) and SHA-512 (tag 20) signatures over
 * device + NUL + DER, and optionally SUDI (tag 16).  Written in capfc's
 * order around version, password and device: 4, 6 here, the rest by
 * auth_tail().
 */
struct authsig {
	uint8_t		*der;
	size_t		 derlen;
	uint8_t		 sig1[SIGNER_SIG_MAX];
	size_t		 sig1len;
	uint8_t		 sig512[SIGNER_SIG_MAX];
	size_t		 sig512len;
	uint8_t		*sudider;
	size_t		 sudilen;
	uint8_t		 ssig1[SIGNER_SIG_MAX];
	size_t		 ssig1len;
	uint8_t		 ssig512[SIGNER_SIG_MAX];
	size_t		 ssig512len;
};

static void
authsig_free(struct authsig *a)
{
	free(a->der);
	free(a->sudider);
	memset(a, 0, sizeof(*a));
}

static int
authsig_make(const struct phone *ph, struct authsig *a)
{
	const struct conf *cf = ph->cf;
	uint8_t		*data = NULL;
	size_t		 dlen = 0;
	int		 r, bad = (cf->knobs & K_BAD_SIGNATURE) != 0;

	memset(a, 0, sizeof(*a));
	if ((r = cert_der(cf->auth->cert, &a->der, &a->derlen)) != 0 ||
	    (r = capf_auth_data(ph->device, a->der, a->derlen, &data,
	    &dlen)) != 0 ||
	    (r = auth_sign(cf->auth, SIGNER_SHA1, data, dlen, bad, a->sig1,
	    &a->sig1len)) != 0 ||
	    (r = auth_sign(cf->auth, SIGNER_SHA512, data, dlen, bad,
	    a->sig512, &a->sig512len)) != 0)
		goto out;
	if (cf->sudisig == NULL)
		goto out;
	free(data);
	data = NULL;
	bad = (cf->knobs & K_BAD_SUDI) != 0;
	if ((r = cert_der(cf->sudisig->cert, &a->sudider, &a->sudilen)) != 0 ||
	    (r = capf_sudi_data(ph->session, a->sudider, a->sudilen, &data,
	    &dlen)) != 0 ||
	    (r = auth_sign(cf->sudisig, SIGNER_SHA1, data, dlen, bad,
	    a->ssig1, &a->ssig1len)) != 0 ||
	    (r = auth_sign(cf->sudisig, SIGNER_SHA512, data, dlen, bad,
	    a->ssig512, &a->ssig512len)) != 0)
		goto out;
out:
	free(data);
	return r;
}

/* --garbage: random bytes that cannot start a CAPF message. */
static int
queue_garbage(struct outq *q)
{
	uint8_t		*p;

	if ((p = malloc(PHONE_GARBAGE_LEN)) == NULL)
		return uc_fail(UC_ERR_ALLOC, "garbage");
	if (RAND_bytes(p, PHONE_GARBAGE_LEN) != 1) {
		free(p);
		return uc_fail_ssl(UC_ERR_CRYPTO, "RAND_bytes");
	}
	if (p[0] == CAPF_PROTO_ID)
		p[0] ^= 0xff;
	q->m[0].data = p;
	q->m[0].len = PHONE_GARBAGE_LEN;
	q->n = 1;
	return 0;
}

/* Apply --truncate to the queued AUTH_RESPONSE: announce more. */
static void
apply_truncate(struct outq *q)
{
	struct outmsg	*m = &q->m[0];
	size_t		 announce = m->len - CAPF_HDR_LEN + PHONE_TRUNC_EXTRA;

	if (announce > CAPF_PAYLOAD_MAX)
		announce = CAPF_PAYLOAD_MAX;
	m->data[6] = (uint8_t)(announce >> 8);
	m->data[7] = (uint8_t)announce;
	q->close_after = 1;
}

/*
 * AUTH_RESPONSE (spec 7.1): reason 1, [certificate, SHA-1 signature],
 * version 3, password (empty if none), device name, [SUDI, SHA-512
 * signature].  Test knobs bend it.
 */
static int
auth_response(struct phone *ph, struct outq *q)
{
	const struct conf *cf = ph->cf;
	struct authsig	 a;
	struct wbuf	 wb;
	int		 cert = cf->auth != NULL, r;
	static const uint8_t over[] = { CAPF_T_REASON_INFO, 0x01, 0x00, 'x' };

	if (cf->knobs & K_GARBAGE) {
		ph->last = 0;
		return queue_garbage(q);
	}
	memset(&a, 0, sizeof(a));
	if (cert && (r = authsig_make(ph, &a)) != 0)
		goto out;
	msg_begin(ph, &wb, CAPF_AUTH_RESPONSE, (cf->knobs & K_WRONG_SESSION) ?
	    ph->session + 1 : ph->session);
	capf_put_u8(&wb, CAPF_T_REASON, CAPF_R_OK);
	if (cert) {
		capf_put_cert(&wb, a.der, a.derlen);
		capf_put_raw(&wb, CAPF_T_SIGNED_DATA, a.sig1, a.sig1len);
	}
	capf_put_u8(&wb, CAPF_T_VERSION, (cf->knobs & K_BAD_VERSION) ?
	    CAPF_VERSION - 1 : CAPF_VERSION);
	capf_put_str(&wb, CAPF_T_PASSWORD, cf->auth_mode == CAPF_AT_PASSWORD ?
	    cf->password : "");
	capf_put_str(&wb, CAPF_T_DEVICE, ph->device);
	if (cert && a.sudider != NULL)
		capf_put_sudi(&wb, a.sudider, a.sudilen, a.ssig1, a.ssig1len,
		    a.ssig512, a.ssig512len);
	if (cert)
		capf_put_sha2(&wb, a.sig512, a.sig512len);
	/* An element whose length runs 255 bytes past the message. */
	if (cf->knobs & K_OVERSIZE)
		wbuf_put(&wb, over, sizeof(over));
	r = outq_push(q, &wb);
	if (r == 0 && (cf->knobs & K_TRUNCATE))
		apply_truncate(q);
out:
	authsig_free(&a);
	return r;
}

/* A response that is one reason element (STORE, DELETE responses). */
static int
reason_response(struct phone *ph, struct outq *q, uint8_t cmd,
    uint8_t reason)
{
	struct wbuf	 wb;

	msg_begin(ph, &wb, cmd, ph->session);
	capf_put_u8(&wb, CAPF_T_REASON, reason);
	ph->answered = reason;
	return outq_push(q, &wb);
}

/* Elements a phone accepts from a server (spec 4: what capfc takes). */
#define SERVER_TAGS	((1u << CAPF_T_REASON) | (1u << CAPF_T_REASON_INFO) | \
	(1u << CAPF_T_CERT_TYPE) | (1u << CAPF_T_CERT) | \
	(1u << CAPF_T_VERSION) | (1u << CAPF_T_AUTH_TYPE) | \
	(1u << CAPF_T_KEY_SIZE) | (1u << CAPF_T_KEY_TYPE) | \
	(1u << CAPF_T_CURVE))

static int
check_elements(const struct capf_msg *m)
{
	uint32_t	 extra = m->present & ~SERVER_TAGS;
	unsigned	 t;

	if (m->nunknown > 0)
		return uc_fail(UC_ERR_FORMAT, "%s carries unknown element "
		    "tag %u (spec 4)", capf_cmd_name(m->cmd), m->unknown_tag);
	for (t = 0; t < 32; t++)
		if (extra & (1u << t))
			return uc_fail(UC_ERR_FORMAT, "%s carries %s (tag %u), "
			    "which a phone does not take from a server "
			    "(spec 4)", capf_cmd_name(m->cmd),
			    capf_tag_name(t), t);
	return 0;
}

/* AUTH_REQUEST (spec 7.1): version 3; take the session id. */
static int
on_auth_request(struct phone *ph, const struct capf_msg *m, struct outq *q)
{
	if (!CAPF_HAS(m, CAPF_T_VERSION) || m->version != CAPF_VERSION)
		return uc_fail(UC_ERR_UNSUPPORTED, "AUTH_REQUEST: protocol "
		    "version %s%u, want %d (spec 7.1)",
		    CAPF_HAS(m, CAPF_T_VERSION) ? "" : "missing, ",
		    m->version, CAPF_VERSION);
	ph->session = m->session;
	if (CAPF_HAS(m, CAPF_T_AUTH_TYPE))
		log_debug("server asks auth type %u; this phone uses %d",
		    m->auth_type, ph->cf->auth_mode);
	ph->state = PH_OP;
	return auth_response(ph, q);
}

/* KEY_GENERATE_REQUEST (spec 7.2, 7.3, 6.3, 6.4). */
static int
on_keygen(struct phone *ph, const struct capf_msg *m, struct outq *q)
{
	struct wbuf	 wb;

	if (!CAPF_HAS(m, CAPF_T_KEY_TYPE))
		return uc_fail(UC_ERR_FORMAT, "KEY_GENERATE_REQUEST without "
		    "key type (spec 7.2)");
	memset(&ph->want, 0, sizeof(ph->want));
	ph->want.type = m->key_type;
	if (m->key_type == CAPF_KEY_RSA) {
		if (!CAPF_HAS(m, CAPF_T_KEY_SIZE))
			return uc_fail(UC_ERR_FORMAT, "KEY_GENERATE_REQUEST: "
			    "RSA without key size (spec 7.2)");
		if (m->key_size != 512 && m->key_size != 1024 &&
		    m->key_size != 2048 && m->key_size != 3072 &&
		    m->key_size != 4096)
			return uc_fail(UC_ERR_UNSUPPORTED, "KEY_GENERATE_"
			    "REQUEST: RSA key size %u not 512, 1024, 2048, "
			    "3072 or 4096 (spec 6.3)", m->key_size);
		ph->want.bits = m->key_size;
	} else if (m->key_type == CAPF_KEY_EC) {
		if (!CAPF_HAS(m, CAPF_T_CURVE) || m->curve > CAPF_CURVE_P521)
			return uc_fail(UC_ERR_UNSUPPORTED, "KEY_GENERATE_"
			    "REQUEST: EC curve %s%u, want 0-2 (spec 6.4)",
			    CAPF_HAS(m, CAPF_T_CURVE) ? "" : "missing, ",
			    m->curve);
		ph->want.curve = m->curve;
	} else
		return uc_fail(UC_ERR_UNSUPPORTED, "KEY_GENERATE_REQUEST: key "
		    "type %u, want 0 (RSA) or 1 (EC) (spec 6.3)", m->key_type);
	ph->op = OP_INSTALL;
	ph->state = PH_KEYGEN;
	/* Say we are at it; the key follows in phone_keygen(). */
	msg_begin(ph, &wb, CAPF_REQUEST_IN_PROGRESS, ph->session);
	return outq_push(q, &wb);
}

/*
 * After REQUEST_IN_PROGRESS went out: get the key and queue
 * KEY_GENERATE_RESPONSE {public key, SPKI DER}.
 */
static int
phone_keygen(struct phone *ph, struct outq *q)
{
	struct wbuf	 wb;
	int		 r;

	if ((r = ph->getkey(ph->getkey_arg, &ph->want, &ph->key)) != 0)
		return r;
	msg_begin(ph, &wb, CAPF_KEY_GEN_RESPONSE, ph->session);
	capf_put_raw(&wb, CAPF_T_PUBKEY, ph->key->spki, ph->key->spkilen);
	ph->state = PH_STORE;
	return outq_push(q, &wb);
}

/* Single mode: make the key now; the phone owns it. */
static int
getkey_generate(void *arg, const struct keyspec *ks, const struct pkey **k)
{
	struct phone	*ph = arg;
	char		 buf[32];
	int		 r;

	pkey_clear(&ph->own);
	log_debug("generating %s", keyspec_text(ks, buf, sizeof(buf)));
	if ((r = pkey_generate(ks, &ph->own)) != 0)
		return r;
	*k = &ph->own;
	return 0;
}

/* file_write_atomic check: the temp file's key matches its LSC. */
static int
check_lsc_file(const char *tmp, void *arg)
{
	struct signer	*s = NULL;
	int		 r;

	(void)arg;
	if ((r = signer_file_open(tmp, NULL, &s)) != 0)
		uc_prefix("re-reading the written LSC file");
	signer_free(s);
	return r;
}

/* DIR/DEVICE.pem: the key (PKCS#8) then the LSC, mode 0600, atomic. */
static int
lsc_write(struct phone *ph)
{
	BIO		*bio;
	char		*p;
	long		 n;
	int		 r;

	if ((bio = BIO_new(BIO_s_mem())) == NULL)
		return uc_fail(UC_ERR_ALLOC, "BIO_new");
	if (!PEM_write_bio_PrivateKey(bio, ph->key->pk, NULL, NULL, 0, NULL,
	    NULL) || !PEM_write_bio_X509(bio, ph->cert)) {
		r = uc_fail_ssl(UC_ERR_CRYPTO, "%s: PEM encoding", ph->path);
		goto out;
	}
	n = BIO_get_mem_data(bio, &p);
	if ((r = file_write_atomic(ph->path, p, (size_t)n, 0600,
	    check_lsc_file, NULL)) != 0)
		uc_prefix(ph->path);
	OPENSSL_cleanse(p, (size_t)n);
out:
	BIO_free(bio);
	return r;
}

/*
 * STORE_CERTIFICATE_REQUEST (spec 7.2): an LSC whose public key is the
 * one we sent.  We answer 1 once it is stored, 7 if refused.
 */
static int
on_store(struct phone *ph, const struct capf_msg *m, struct outq *q)
{
	uint8_t		*spki = NULL;
	int		 n, r;

	if (!CAPF_HAS(m, CAPF_T_CERT))
		return uc_fail(UC_ERR_FORMAT, "STORE_CERTIFICATE_REQUEST "
		    "without a certificate (spec 7.2)");
	if (CAPF_HAS(m, CAPF_T_CERT_TYPE) && m->cert_type != 1)
		return uc_fail(UC_ERR_UNSUPPORTED, "STORE_CERTIFICATE_REQUEST: "
		    "certificate type %u, a phone stores only an LSC (1) "
		    "(spec 4)", m->cert_type);
	ph->state = PH_END;
	if ((r = cert_from_der(m->cert.p, m->cert.len, &ph->cert)) != 0) {
		snprintf(ph->note, sizeof(ph->note), "STORE_CERTIFICATE_"
		    "REQUEST: %s; answered reason 7", uc_errdetail());
		return reason_response(ph, q, CAPF_STORE_CERT_RESPONSE,
		    CAPF_R_FAIL);
	}
	n = i2d_PUBKEY(X509_get0_pubkey(ph->cert), &spki);
	if (n <= 0 || (size_t)n != ph->key->spkilen ||
	    memcmp(spki, ph->key->spki, (size_t)n) != 0) {
		OPENSSL_free(spki);
		snprintf(ph->note, sizeof(ph->note), "STORE_CERTIFICATE_"
		    "REQUEST: the certificate's public key is not the one "
		    "sent in KEY_GENERATE_RESPONSE; answered reason 7");
		return reason_response(ph, q, CAPF_STORE_CERT_RESPONSE,
		    CAPF_R_FAIL);
	}
	OPENSSL_free(spki);
	if (ph->store && lsc_write(ph) != 0) {
		snprintf(ph->note, sizeof(ph->note), "storing the LSC: %s; "
		    "answered reason 7", uc_errdetail());
		return reason_response(ph, q, CAPF_STORE_CERT_RESPONSE,
		    CAPF_R_FAIL);
	}
	return reason_response(ph, q, CAPF_STORE_CERT_RESPONSE, CAPF_R_OK);
}

/* FETCH_CERTIFICATE_REQUEST (spec 7.4): our LSC, or reason 7. */
static int
on_fetch(struct phone *ph, struct outq *q)
{
	struct wbuf	 wb;
	uint8_t		*der = NULL;
	size_t		 derlen;
	int		 r;

	ph->op = OP_FETCH;
	ph->state = PH_END;
	if (!ph->store || access(ph->path, F_OK) != 0) {
		snprintf(ph->note, sizeof(ph->note), "fetch: no LSC in %s; "
		    "answered reason 7", ph->store ? ph->path : "load mode");
		return reason_response(ph, q, CAPF_FETCH_CERT_RESPONSE,
		    CAPF_R_FAIL);
	}
	if ((r = cert_load(ph->path, &ph->cert)) != 0 ||
	    (r = cert_der(ph->cert, &der, &derlen)) != 0) {
		snprintf(ph->note, sizeof(ph->note), "fetch: %s; answered "
		    "reason 7", uc_errdetail());
		return reason_response(ph, q, CAPF_FETCH_CERT_RESPONSE,
		    CAPF_R_FAIL);
	}
	msg_begin(ph, &wb, CAPF_FETCH_CERT_RESPONSE, ph->session);
	capf_put_u8(&wb, CAPF_T_REASON, CAPF_R_OK);
	capf_put_cert(&wb, der, derlen);
	free(der);
	ph->answered = CAPF_R_OK;
	return outq_push(q, &wb);
}

/* DELETE_CERTIFICATE_REQUEST (spec 7.5): remove our LSC, or reason 7. */
static int
on_delete(struct phone *ph, struct outq *q)
{
	ph->op = OP_DELETE;
	ph->state = PH_END;
	if (!ph->store || unlink(ph->path) != 0) {
		snprintf(ph->note, sizeof(ph->note), "delete: no LSC in %s "
		    "(%s); answered reason 7", ph->store ? ph->path :
		    "load mode", ph->store ? strerror(errno) : "none kept");
		return reason_response(ph, q, CAPF_DELETE_CERT_RESPONSE,
		    CAPF_R_FAIL);
	}
	return reason_response(ph, q, CAPF_DELETE_CERT_RESPONSE, CAPF_R_OK);
}

/* END_SESSION (spec 7, 6.1): classify how the session ended. */
static int
on_end(struct phone *ph, const struct capf_msg *m)
{
	uint8_t	 reason = m->reason;
	int	 normal;

	if (!CAPF_HAS(m, CAPF_T_REASON))
		return uc_fail(UC_ERR_FORMAT, "END_SESSION without a reason "
		    "(spec 7)");
	ph->end_reason = reason;
	ph->state = PH_DONE;
	normal = reason == CAPF_R_NONE || reason == CAPF_R_OK;
	if (ph->note[0] != '\0' && ph->answered == CAPF_R_FAIL)
		ph->result = ph->op == OP_INSTALL ? R_STORE_REFUSED : R_NO_LSC;
	else if (reason == CAPF_R_UNKNOWN)
		ph->result = R_UNKNOWN_DEVICE;
	else if (ph->op == OP_INSTALL && ph->answered == CAPF_R_OK &&
	    reason == CAPF_R_OK)
		ph->result = R_INSTALLED;
	else if (ph->op == OP_FETCH && normal)
		ph->result = R_FETCHED;
	else if (ph->op == OP_DELETE && normal)
		ph->result = R_DELETED;
	else if (ph->op == OP_NONE && normal)
		ph->result = R_NOOP;
	else
		ph->result = reason == CAPF_R_FAIL ? R_SERVER_FAIL :
		    R_SERVER_OTHER;
	return 0;
}

/*
 * Feed one whole server message (header + payload) to the phone; what
 * it answers is queued in q.  Returns 0 (see ph->state) or UC_ERR_*
 * with the detail set: the server sent what a phone would not accept.
 */
static int
phone_input(struct phone *ph, const uint8_t *buf, size_t len, struct outq *q)
{
	struct capf_msg	 m;
	int		 r;

	memset(q, 0, sizeof(*q));
	if (ph->cf->verbose)
		trace("S>P", buf, len);
	if (++ph->nmsgs > PHONE_MSGS_MAX)
		return uc_fail(UC_ERR_FORMAT, "more than %d messages from the "
		    "server in one session", PHONE_MSGS_MAX);
	if ((r = capf_msg_parse(buf, len, &m)) != 0 ||
	    (r = check_elements(&m)) != 0)
		return r;
	if (ph->state != PH_AUTH && m.session != ph->session)
		return uc_fail(UC_ERR_FORMAT, "%s has session id %" PRIu32
		    ", the session is %" PRIu32 " (spec 2)",
		    capf_cmd_name(m.cmd), m.session, ph->session);
	if (m.cmd == CAPF_END_SESSION && ph->state != PH_KEYGEN &&
	    ph->state != PH_DONE)
		return on_end(ph, &m);
	switch (ph->state) {
	case PH_AUTH:
		if (m.cmd == CAPF_AUTH_REQUEST)
			return on_auth_request(ph, &m, q);
		break;
	case PH_OP:
		if (m.cmd == CAPF_KEY_GEN_REQUEST)
			return on_keygen(ph, &m, q);
		if (m.cmd == CAPF_FETCH_CERT_REQUEST)
			return on_fetch(ph, q);
		if (m.cmd == CAPF_DELETE_CERT_REQUEST)
			return on_delete(ph, q);
		break;
	case PH_STORE:
		if (m.cmd == CAPF_STORE_CERT_REQUEST)
			return on_store(ph, &m, q);
		break;
	default:
		break;
	}
	return uc_fail(UC_ERR_FORMAT, "server sent %s (%u) while the phone "
	    "waits for %s (spec 7)", capf_cmd_name(m.cmd), m.cmd,
	    ph_state_names[ph->state]);
}

/* "serial HEX valid until DATE" of ph->cert. */
static void
cert_summary(X509 *x, char *out, size_t sz)
{
	uint8_t		 serial[CERT_SERIAL_MAX];
	char		 hex[2 * CERT_SERIAL_MAX + 1], when[32];
	struct tm	 tm;
	size_t		 n = 0, i;

	hex[0] = '\0';
	if (cert_serial(x, serial, &n) == 0)
		hex_encode(serial, n, hex);
	for (i = 0; hex[i] != '\0'; i++)	/* as capfd and capfctl print it */
		hex[i] = (char)toupper((unsigned char)hex[i]);
	if (ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm) != 1 ||
	    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(when, sizeof(when), "?");
	snprintf(out, sz, "serial %s valid until %s", hex, when);
}

/* The outcome line; returns the exit code (0 for R_INSTALLED..R_NOOP). */
static int
phone_outcome(const struct phone *ph, char *line, size_t sz)
{
	char	 cs[128];

	cs[0] = '\0';
	if (ph->cert != NULL)
		cert_summary(ph->cert, cs, sizeof(cs));
	switch (ph->result) {
	case R_INSTALLED:
		snprintf(line, sz, "%s: installed LSC %s in %s", ph->device,
		    cs, ph->store ? ph->path : "memory");
		return 0;
	case R_FETCHED:
		snprintf(line, sz, "%s: fetched: sent LSC %s", ph->device, cs);
		return 0;
	case R_DELETED:
		snprintf(line, sz, "%s: deleted %s", ph->device, ph->path);
		return 0;
	case R_NOOP:
		snprintf(line, sz, "%s: no scheduled operation (reason %u)",
		    ph->device, ph->end_reason);
		return 0;
	case R_NO_LSC:
	case R_STORE_REFUSED:
		snprintf(line, sz, "%s: %s; server ended session (reason %u)",
		    ph->device, ph->note, ph->end_reason);
		return 1;
	case R_UNKNOWN_DEVICE:
		snprintf(line, sz, "unknown device %s (reason 9)", ph->device);
		return 1;
	default:
		snprintf(line, sz, "%s: server ended session (reason %u) after "
		    "%s", ph->device, ph->end_reason, ph->last == 0 ?
		    "random bytes (--garbage)" : capf_cmd_name(ph->last));
		return 1;
	}
}

/*
 * Single mode: one session over a blocking socket.
 */

/*
 * Messages go out as soon as they are written: REQUEST_IN_PROGRESS and
 * KEY_GENERATE_RESPONSE are two small writes in a row, and Nagle would
 * hold the second until the server's delayed ACK (~40 ms).
 */
static int
nodelay(int fd)
{
	int	 one = 1;

	return setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* Connect to host:port within timeout seconds; returns fd or -1. */
static int
tcp_connect(const struct conf *cf, char *why, size_t whysz)
{
	struct addrinfo	 hints, *res = NULL, *ai;
	struct pollfd	 pfd;
	struct timeval	 tv;
	socklen_t	 sl;
	int		 fd = -1, e, soerr;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if ((e = getaddrinfo(cf->host, cf->port, &hints, &res)) != 0) {
		snprintf(why, whysz, "%s port %s: %s", cf->host, cf->port,
		    gai_strerror(e));
		return -1;
	}
	snprintf(why, whysz, "%s port %s: no address", cf->host, cf->port);
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if ((fd = socket(ai->ai_family, ai->ai_socktype |
		    SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol)) == -1)
			continue;
		soerr = 0;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == -1) {
			soerr = errno;
			if (soerr == EINPROGRESS) {
				pfd.fd = fd;
				pfd.events = POLLOUT;
				e = poll(&pfd, 1, cf->timeout * 1000);
				sl = sizeof(soerr);
				if (e == 0)
					soerr = ETIMEDOUT;
				else if (e < 0 || getsockopt(fd, SOL_SOCKET,
				    SO_ERROR, &soerr, &sl) == -1)
					soerr = errno;
			}
		}
		if (soerr == 0)
			break;
		snprintf(why, whysz, "connect to %s port %s: %s", cf->host,
		    cf->port, strerror(soerr));
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd == -1)
		return -1;
	/* Blocking from now on, each read and write bounded. */
	tv.tv_sec = cf->timeout;
	tv.tv_usec = 0;
	if (nodelay(fd) == -1 ||
	    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) == -1) {
		snprintf(why, whysz, "socket options: %s", strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
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

/* Handshake and trust check; returns 0 or UC_ERR_* with detail. */
static int
tls_connect(const struct conf *cf, SSL *ssl)
{
	char	 buf[256];
	long	 v;

	if (cf->servername != NULL &&
	    !SSL_set_tlsext_host_name(ssl, cf->servername))
		return uc_fail_ssl(UC_ERR_ARG, "--servername %s",
		    cf->servername);
	errno = 0;
	if (SSL_connect(ssl) == 1)
		return 0;
	if ((v = SSL_get_verify_result(ssl)) != X509_V_OK)
		return uc_fail(UC_ERR_POLICY, "TLS: the server certificate "
		    "does not chain to --ca: %s (spec 1)",
		    X509_verify_cert_error_string(v));
	return uc_fail(UC_ERR_IO, "TLS handshake with %s: %s", cf->host,
	    ssl_why(buf, sizeof(buf)));
}

/* Read exactly n bytes; *eof set on a clean close before any byte. */
static int
ssl_read_full(SSL *ssl, uint8_t *buf, size_t n, int *eof)
{
	char	 why[256];
	size_t	 got = 0, k;
	int	 e;

	*eof = 0;
	while (got < n) {
		errno = 0;
		if (SSL_read_ex(ssl, buf + got, n - got, &k) == 1) {
			got += k;
			continue;
		}
		e = SSL_get_error(ssl, 0);
		if (got == 0 && (e == SSL_ERROR_ZERO_RETURN ||
		    (e == SSL_ERROR_SYSCALL && errno == 0) ||
		    (e == SSL_ERROR_SSL && ERR_GET_REASON(ERR_peek_last_error())
		    == SSL_R_UNEXPECTED_EOF_WHILE_READING))) {
			ERR_clear_error();
			*eof = 1;
			return UC_ERR_IO;
		}
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ||
		    (e == SSL_ERROR_SYSCALL && (errno == EAGAIN ||
		    errno == EWOULDBLOCK))) {
			ERR_clear_error();
			return uc_fail(UC_ERR_IO, "the server sent nothing for "
			    "--timeout seconds (%zu of %zu bytes read)", got,
			    n);
		}
		return uc_fail(UC_ERR_IO, "reading from the server after %zu "
		    "of %zu bytes: %s", got, n, ssl_why(why, sizeof(why)));
	}
	return 0;
}

/*
 * Read one message: the 8-byte header, then exactly its payload (spec
 * 2).  buf holds PHONE_MSG_BUF bytes.
 */
static int
read_msg(SSL *ssl, uint8_t *buf, size_t *len, int *eof)
{
	uint8_t		 cmd;
	uint32_t	 session;
	uint16_t	 plen;
	int		 r;

	if ((r = ssl_read_full(ssl, buf, CAPF_HDR_LEN, eof)) != 0)
		return r;
	if ((r = capf_hdr_parse(buf, CAPF_HDR_LEN, &cmd, &session,
	    &plen)) != 0)
		return r;
	if ((r = ssl_read_full(ssl, buf + CAPF_HDR_LEN, plen, eof)) != 0) {
		if (*eof)
			r = uc_fail(UC_ERR_IO, "the server closed the "
			    "connection inside a %u-byte %s", plen,
			    capf_cmd_name(cmd));
		*eof = 0;
		return r;
	}
	*len = CAPF_HDR_LEN + (size_t)plen;
	return 0;
}

/* Send each queued message with one SSL_write (spec 1). */
static int
send_queue(SSL *ssl, const struct conf *cf, struct outq *q)
{
	char	 why[256];
	size_t	 w;
	int	 i;

	for (i = 0; i < q->n; i++) {
		if (cf->verbose)
			trace("P>S", q->m[i].data, q->m[i].len);
		errno = 0;
		if (SSL_write_ex(ssl, q->m[i].data, q->m[i].len, &w) != 1 ||
		    w != q->m[i].len)
			return uc_fail(UC_ERR_IO, "writing to the server: %s",
			    ssl_why(why, sizeof(why)));
	}
	return 0;
}

/* Certificate authentication: load the LSC or MIC, and the SUDI. */
static int
single_load_auth(struct conf *cf, const char *lscpath)
{
	const char	*path = NULL;
	int		 r;

	if (cf->auth_mode == CAPF_AT_LSC_FIRST)
		path = cf->lsc != NULL ? cf->lsc :
		    access(lscpath, F_OK) == 0 ? lscpath : cf->mic;
	else if (cf->auth_mode == CAPF_AT_MIC)
		path = cf->mic;
	if (cf->auth_mode == CAPF_AT_LSC_FIRST && path == NULL)
		return uc_fail(UC_ERR_ARG, "--auth-mode lsc: no LSC (--lsc "
		    "or %s) and no --mic", lscpath);
	if (path != NULL && (r = signer_file_open(path, NULL, &cf->auth)) != 0)
		return r;
	if (cf->sudi != NULL &&
	    (r = signer_file_open(cf->sudi, NULL, &cf->sudisig)) != 0)
		return r;
	if (path != NULL)
		log_debug("authenticating with %s%s", path,
		    cf->sudi ? " and SUDI" : "");
	return 0;
}

/* After --truncate: close our side and report how the server took it. */
static int
after_truncate(SSL *ssl, struct phone *ph, uint8_t *buf)
{
	struct outq	 q;
	size_t		 len;
	int		 eof, r;

	SSL_shutdown(ssl);
	if ((r = read_msg(ssl, buf, &len, &eof)) != 0)
		return eof ? uc_fail(UC_ERR_IO, "sent a truncated "
		    "AUTH_RESPONSE; the server closed the connection") : r;
	if ((r = phone_input(ph, buf, len, &q)) != 0)
		return r;
	outq_free(&q);
	if (ph->state != PH_DONE)
		return uc_fail(UC_ERR_FORMAT, "sent a truncated AUTH_RESPONSE; "
		    "the server went on without ending the session");
	return 0;
}

/* Run the session; returns 0 when END_SESSION came, else UC_ERR_*. */
static int
single_session(SSL *ssl, struct phone *ph, uint8_t *buf)
{
	struct outq	 q;
	size_t		 len;
	int		 eof, r = 0, i;

	memset(&q, 0, sizeof(q));
	for (i = 0; i < PHONE_MSGS_MAX && ph->state != PH_DONE; i++) {
		if ((r = read_msg(ssl, buf, &len, &eof)) != 0) {
			if (eof)
				r = uc_fail(UC_ERR_IO, "the server closed the "
				    "connection while the phone waits for %s",
				    ph_state_names[ph->state]);
			break;
		}
		if ((r = phone_input(ph, buf, len, &q)) != 0 ||
		    (r = send_queue(ssl, ph->cf, &q)) != 0)
			break;
		if (q.close_after) {
			outq_free(&q);
			return after_truncate(ssl, ph, buf);
		}
		outq_free(&q);
		if (ph->state == PH_KEYGEN &&
		    ((r = phone_keygen(ph, &q)) != 0 ||
		    (r = send_queue(ssl, ph->cf, &q)) != 0))
			break;
		outq_free(&q);
	}
	outq_free(&q);
	if (r == 0 && ph->state != PH_DONE)
		r = uc_fail(UC_ERR_FORMAT, "no END_SESSION after %d messages",
		    PHONE_MSGS_MAX);
	return r;
}

static int
single_main(struct conf *cf)
{
	struct phone	 ph;
	SSL		*ssl = NULL;
	uint8_t		*buf = NULL;
	char		 line[PHONE_LINE_MAX];
	int		 fd = -1, r, rc = 1;

	phone_init(&ph, cf, cf->device, getkey_generate, &ph);
	ph.store = 1;
	if ((size_t)snprintf(ph.path, sizeof(ph.path), "%s/%s.pem", cf->dir,
	    cf->device) >= sizeof(ph.path)) {
		r = uc_fail(UC_ERR_ARG, "--dir %s: path too long", cf->dir);
		goto fail;
	}
	if ((r = single_load_auth(cf, ph.path)) != 0 ||
	    (r = tls_setup(cf)) != 0)
		goto fail;
	if ((buf = malloc(PHONE_MSG_BUF)) == NULL) {
		r = uc_fail(UC_ERR_ALLOC, "message buffer");
		goto fail;
	}
	if ((fd = tcp_connect(cf, line, sizeof(line))) == -1) {
		r = uc_fail(UC_ERR_IO, "%s", line);
		goto fail;
	}
	if ((ssl = SSL_new(cf->ctx)) == NULL || !SSL_set_fd(ssl, fd)) {
		r = uc_fail_ssl(UC_ERR_CRYPTO, "SSL_new");
		goto fail;
	}
	if ((r = tls_connect(cf, ssl)) != 0)
		goto fail;
	log_debug("TLS %s with %s, %s", SSL_get_version(ssl), cf->host,
	    SSL_get_cipher_name(ssl));
	if ((r = single_session(ssl, &ph, buf)) != 0)
		goto fail;
	SSL_shutdown(ssl);
	if ((rc = phone_outcome(&ph, line, sizeof(line))) == 0)
		printf("%s\n", line);
	else
		fprintf(stderr, "%s: %s\n", log_progname(), line);
	goto out;
fail:
	rc = cmd_fail(r);
out:
	SSL_free(ssl);
	if (fd != -1)
		close(fd);
	free(buf);
	phone_free(&ph);
	return rc;
}

/*
 * Load mode: N enrollments over libevent, C in flight.
 */

struct lstats {
	uint64_t	 ok;
	uint64_t	 failed;
	uint64_t	 res[R__MAX];
	double		*ms;		/* latency of each success */
	size_t		 nms;
	size_t		 capms;
	int		 logged;	/* failures logged */
};

struct lctx;

struct lconn {
	struct worker	*w;
	struct bufferevent *bev;
	struct phone	 ph;
	double		 t0;
	int		 connected;	/* handshake done */
	int		 busy;
};

struct worker {
	struct lctx	*lc;
	struct event_base *base;
	struct lconn	*conns;
	int		 nconns;
	int		 active;
	int		 started;	/* every slot had its first start */
	struct lstats	 st;
	uint8_t		*buf;		/* one message */
	pthread_t	 tid;
	double		 tlast;		/* last finish */
};

struct lctx {
	struct conf	*cf;
	atomic_long	 next;		/* next device offset */
	atomic_int	 logged;	/* failures logged, all threads */
	struct worker	*workers;
};

/* Load mode: a key of the asked type from the pool (made if new). */
static int
getkey_pool(void *arg, const struct keyspec *ks, const struct pkey **k)
{
	struct keypool	*kp = arg;
	struct keyslot	*s = NULL;
	int		 i, r = 0;

	pthread_mutex_lock(&kp->mu);
	for (i = 0; i < kp->nslots; i++)
		if (kp->slots[i].spec.type == ks->type &&
		    kp->slots[i].spec.bits == ks->bits &&
		    kp->slots[i].spec.curve == ks->curve)
			s = &kp->slots[i];
	if (s == NULL && kp->nslots == LOAD_SPECS_MAX)
		r = uc_fail(UC_ERR_UNSUPPORTED, "more than %d key types asked",
		    LOAD_SPECS_MAX);
	if (s == NULL && r == 0) {
		s = &kp->slots[kp->nslots];
		s->spec = *ks;
		s->on_demand = 1;
		if ((s->keys = calloc(1, sizeof(*s->keys))) == NULL)
			r = uc_fail(UC_ERR_ALLOC, "key pool");
		else if ((r = pkey_generate(ks, &s->keys[0])) == 0) {
			s->n = 1;
			kp->nslots++;
		} else
			free(s->keys);
	}
	if (r == 0)
		*k = &s->keys[s->next++ % (unsigned)s->n];
	pthread_mutex_unlock(&kp->mu);
	return r;
}

/* Before timing: --keys keys of each --key-type (default rsa:2048). */
static int
pool_fill(struct keypool *kp, int json)
{
	char	 buf[32];
	double	 t0 = now();
	int	 i, j, r;

	if (kp->nslots == 0) {
		kp->slots[0].spec.type = CAPF_KEY_RSA;
		kp->slots[0].spec.bits = 2048;
		kp->nslots = 1;
	}
	for (i = 0; i < kp->nslots; i++) {
		struct keyslot *s = &kp->slots[i];

		if ((s->keys = calloc((size_t)kp->per_type,
		    sizeof(*s->keys))) == NULL)
			return uc_fail(UC_ERR_ALLOC, "key pool");
		for (j = 0; j < kp->per_type; j++) {
			if ((r = pkey_generate(&s->spec, &s->keys[j])) != 0)
				return r;
			s->n++;
		}
	}
	if (!json)
		fprintf(stderr, "capf-phone: %d key(s) of %d type(s) "
		    "generated in %.1f s (first %s), not timed\n",
		    kp->per_type * kp->nslots, kp->nslots, now() - t0,
		    keyspec_text(&kp->slots[0].spec, buf, sizeof(buf)));
	return 0;
}

static void
pool_free(struct keypool *kp)
{
	int	 i, j;

	for (i = 0; i < kp->nslots; i++) {
		for (j = 0; j < kp->slots[i].n; j++)
			pkey_clear(&kp->slots[i].keys[j]);
		free(kp->slots[i].keys);
	}
}

static void
stats_sample(struct lstats *s, double ms)
{
	double	*n;
	size_t	 cap;

	if (s->nms == s->capms) {
		cap = s->capms ? s->capms * 2 : 1024;
		if ((n = reallocarray(s->ms, cap, sizeof(*n))) == NULL)
			return;		/* XXX sample lost under OOM */
		s->ms = n;
		s->capms = cap;
	}
	s->ms[s->nms++] = ms;
}

static void lconn_next(struct lconn *);

/*
 * --record: one line "DEVICE SERIAL" per LSC the phone received, written
 * as soon as the session ends however it ended, so a test can check that
 * a server killed mid-session had committed every certificate it sent.
 */
static void
record_cert(struct conf *cf, const struct phone *ph)
{
	const ASN1_INTEGER	*sn = X509_get0_serialNumber(ph->cert);
	BIGNUM			*bn;
	char			*hex;

	if ((bn = ASN1_INTEGER_to_BN(sn, NULL)) == NULL)
		return;
	if ((hex = BN_bn2hex(bn)) != NULL) {
		pthread_mutex_lock(&cf->recmu);
		fprintf(cf->recf, "%s %s\n", ph->device, hex);
		fflush(cf->recf);
		pthread_mutex_unlock(&cf->recmu);
		OPENSSL_free(hex);
	}
	BN_free(bn);
}

/* One enrollment is over: count it, free it, start the next. */
static void
lconn_finish(struct lconn *lc, enum result res, const char *why)
{
	struct worker	*w = lc->w;
	SSL		*ssl;

	w->st.res[res]++;
	if (lc->ph.cert != NULL && w->lc->cf->recf != NULL)
		record_cert(w->lc->cf, &lc->ph);
	if (res == R_INSTALLED) {
		w->st.ok++;
		stats_sample(&w->st, (now() - lc->t0) * 1000);
	} else {
		w->st.failed++;
		if (atomic_fetch_add(&w->lc->logged, 1) < LOAD_LOG_FAILS)
			fprintf(stderr, "capf-phone: %s: %s: %s\n",
			    lc->ph.device, result_names[res], why);
	}
	if (lc->bev != NULL) {
		if ((ssl = bufferevent_openssl_get_ssl(lc->bev)) != NULL &&
		    lc->connected)
			SSL_shutdown(ssl);
		bufferevent_free(lc->bev);
		lc->bev = NULL;
	}
	phone_free(&lc->ph);
	lc->busy = 0;
	w->active--;
	w->tlast = now();
	lconn_next(lc);
}

/* evbuffer cleanup of a sent message: wipe (auth string), free. */
static void
ref_free(const void *data, size_t len, void *extra)
{
	(void)extra;
	OPENSSL_cleanse((void *)(uintptr_t)data, len);
	free((void *)(uintptr_t)data);
}

/* Queue each message as its own evbuffer chain: one SSL_write each. */
static void
lconn_send(struct lconn *lc, struct outq *q)
{
	struct evbuffer	*out = bufferevent_get_output(lc->bev);
	int		 i;

	for (i = 0; i < q->n; i++) {
		if (evbuffer_add_reference(out, q->m[i].data, q->m[i].len,
		    ref_free, NULL) == 0)
			q->m[i].data = NULL;
	}
	outq_free(q);
}

/* Feed every whole message in the input buffer to the phone. */
static void
lconn_read(struct bufferevent *bev, void *arg)
{
	struct lconn	*lc = arg;
	struct evbuffer	*in = bufferevent_get_input(bev);
	struct outq	 q;
	char		 why[PHONE_LINE_MAX];
	uint8_t		 cmd, *buf = lc->w->buf;
	uint32_t	 session;
	uint16_t	 plen;
	size_t		 len;

	while (evbuffer_get_length(in) >= CAPF_HDR_LEN) {
		if (evbuffer_copyout(in, buf, CAPF_HDR_LEN) != CAPF_HDR_LEN ||
		    capf_hdr_parse(buf, CAPF_HDR_LEN, &cmd, &session,
		    &plen) != 0) {
			lconn_finish(lc, R_PROTOCOL, uc_errdetail());
			return;
		}
		len = CAPF_HDR_LEN + (size_t)plen;
		if (evbuffer_get_length(in) < len)
			return;
		if (evbuffer_remove(in, buf, len) != (int)len) {
			lconn_finish(lc, R_PROTOCOL, "evbuffer_remove");
			return;
		}
		if (phone_input(&lc->ph, buf, len, &q) != 0) {
			lconn_finish(lc, R_PROTOCOL, uc_errdetail());
			return;
		}
		lconn_send(lc, &q);
		if (lc->ph.state == PH_KEYGEN) {
			if (phone_keygen(&lc->ph, &q) != 0) {
				lconn_finish(lc, R_PROTOCOL, uc_errdetail());
				return;
			}
			lconn_send(lc, &q);
		}
		if (lc->ph.state == PH_DONE) {
			snprintf(why, sizeof(why), "%s%sEND_SESSION reason %u",
			    lc->ph.note, lc->ph.note[0] ? "; " : "",
			    lc->ph.end_reason);
			lconn_finish(lc, lc->ph.result, why);
			return;
		}
	}
}

static void
lconn_event(struct bufferevent *bev, short what, void *arg)
{
	struct lconn	*lc = arg;
	unsigned long	 e;
	char		 why[256];
	int		 tls;

	if (what & BEV_EVENT_CONNECTED) {
		lc->connected = 1;
		return;
	}
	/*
	 * libevent reports a failed system call (refused, reset) as an
	 * "OpenSSL error" with no library: the SSL_get_error code.
	 */
	e = bufferevent_get_openssl_error(bev);
	tls = e != 0 && ERR_GET_LIB(e) != 0;
	if (tls)
		ERR_error_string_n(e, why, sizeof(why));
	else
		snprintf(why, sizeof(why), "%s", errno ? strerror(errno) :
		    "connection closed");
	if (what & BEV_EVENT_TIMEOUT)
		lconn_finish(lc, R_TIMEOUT, "no progress for --timeout");
	else if (!lc->connected)
		lconn_finish(lc, tls ? R_TLS : R_CONNECT, why);
	else
		lconn_finish(lc, R_CLOSED, (what & BEV_EVENT_EOF) ?
		    "closed before END_SESSION" : why);
}

/* Start one enrollment; returns 0 or -1 (counted as failed). */
static int
lconn_start(struct lconn *lc, long idx)
{
	struct worker	*w = lc->w;
	const struct conf *cf = w->lc->cf;
	struct timeval	 tv = { cf->timeout, 0 };
	char		 name[CAPF_NAME_MAX];
	SSL		*ssl;

	snprintf(name, sizeof(name), "%s%0*ld", cf->prefix,
	    (int)(PHONE_DEVLEN - strlen(cf->prefix)), cf->first + idx);
	phone_init(&lc->ph, cf, name, getkey_pool, &w->lc->cf->pool);
	lc->busy = 1;
	lc->connected = 0;
	w->active++;
	lc->t0 = now();
	if ((ssl = SSL_new(cf->ctx)) == NULL) {
		lconn_finish(lc, R_TLS, "SSL_new");
		return -1;
	}
	if (cf->servername != NULL)
		SSL_set_tlsext_host_name(ssl, cf->servername);
	lc->bev = bufferevent_openssl_socket_new(w->base, -1, ssl,
	    BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
	if (lc->bev == NULL) {
		SSL_free(ssl);
		lconn_finish(lc, R_CONNECT, "bufferevent_openssl_socket_new");
		return -1;
	}
	bufferevent_setcb(lc->bev, lconn_read, NULL, lconn_event, lc);
	bufferevent_set_timeouts(lc->bev, &tv, &tv);
	bufferevent_enable(lc->bev, EV_READ | EV_WRITE);
	if (bufferevent_socket_connect(lc->bev,
	    (const struct sockaddr *)&cf->addr, (int)cf->addrlen) != 0) {
		lconn_finish(lc, R_CONNECT, strerror(errno));
		return -1;
	}
	(void)nodelay(bufferevent_getfd(lc->bev));
	return 0;
}

/*
 * Take the next device for this slot, if any.  lconn_finish calls this
 * and lconn_start may call lconn_finish on an immediate failure, so a
 * depth guard turns that recursion into this loop.
 */
static void
lconn_next(struct lconn *lc)
{
	static _Thread_local int depth;
	struct worker	*w = lc->w;
	long		 idx;

	if (depth > 0)
		return;
	depth++;
	while (!lc->busy && !interrupted &&
	    (idx = atomic_fetch_add(&w->lc->next, 1)) < w->lc->cf->load)
		lconn_start(lc, idx);
	depth--;
	if (w->started && w->active == 0)
		event_base_loopexit(w->base, NULL);
}

static void *
worker_run(void *arg)
{
	struct worker	*w = arg;
	int		 i;

	for (i = 0; i < w->nconns; i++)
		lconn_next(&w->conns[i]);
	w->started = 1;
	if (w->active > 0)
		event_base_dispatch(w->base);
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
pct(const struct lstats *s, double p)
{
	double	 rank = p / 100.0 * s->nms;
	size_t	 i = (size_t)rank;

	if (s->nms == 0)
		return 0;
	if ((double)i < rank)
		i++;
	return s->ms[i > 0 ? i - 1 : 0];
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

/* One summary; cpu is the client's CPU while timing ran. */
static void
load_report(const struct conf *cf, struct lstats *s, double wall, double cpu)
{
	double		 rate;
	int		 i, ondemand = 0;

	for (i = 0; i < cf->pool.nslots; i++)
		ondemand += cf->pool.slots[i].on_demand;
	if (s->nms > 0)
		qsort(s->ms, s->nms, sizeof(*s->ms), cmp_double);
	rate = wall > 0 ? s->ok / wall : 0;
	if (cf->json) {
		printf("{\"enrollments\": %ld, \"concurrency\": %d, "
		    "\"threads\": %d, \"ok\": %" PRIu64 ", \"failed\": %"
		    PRIu64 ", \"wall_s\": %.3f, \"enrollments_per_s\": %.1f, "
		    "\"p50_ms\": %.2f, \"p99_ms\": %.2f, \"max_ms\": %.2f, "
		    "\"client_cpu_s\": %.3f, \"key_types_on_demand\": %d",
		    cf->load, cf->concurrency, cf->threads, s->ok, s->failed,
		    wall, rate, pct(s, 50), pct(s, 99), pct(s, 100), cpu,
		    ondemand);
		for (i = R_NOOP; i < R__MAX; i++)
			printf(", \"fail_%s\": %" PRIu64, result_names[i],
			    s->res[i]);
		printf("}\n");
		return;
	}
	printf("capf-phone: %s port %s, %ld enrollments, concurrency %d, "
	    "%d thread(s)\n", cf->host, cf->port, cf->load, cf->concurrency,
	    cf->threads);
	printf("  result      %" PRIu64 " ok, %" PRIu64 " failed", s->ok,
	    s->failed);
	for (i = R_NOOP; i < R__MAX; i++)
		if (s->res[i] != 0)
			printf(", %s %" PRIu64, result_names[i], s->res[i]);
	printf("\n  duration    %.3f s (client CPU %.3f s)\n", wall, cpu);
	printf("  rate        %.1f enrollments/s\n", rate);
	printf("  latency     p50 %.2f ms, p99 %.2f ms, max %.2f ms\n",
	    pct(s, 50), pct(s, 99), pct(s, 100));
	if (ondemand > 0)
		printf("  note        %d key type(s) generated on demand "
		    "while timing (add --key-type)\n", ondemand);
}

/* Split C sessions over T workers, each with its own event base. */
static int
workers_init(struct lctx *lc)
{
	struct conf	*cf = lc->cf;
	struct worker	*w;
	int		 i, j, share;

	if ((lc->workers = calloc((size_t)cf->threads,
	    sizeof(*lc->workers))) == NULL)
		return uc_fail(UC_ERR_ALLOC, "workers");
	for (i = 0; i < cf->threads; i++) {
		w = &lc->workers[i];
		w->lc = lc;
		share = cf->concurrency / cf->threads +
		    (i < cf->concurrency % cf->threads);
		if ((w->base = event_base_new()) == NULL ||
		    (w->conns = calloc((size_t)share,
		    sizeof(*w->conns))) == NULL ||
		    (w->buf = malloc(PHONE_MSG_BUF)) == NULL)
			return uc_fail(UC_ERR_ALLOC, "worker %d", i);
		w->nconns = share;
		for (j = 0; j < share; j++)
			w->conns[j].w = w;
	}
	return 0;
}

/* Merge worker stats into s (takes over the sample arrays). */
static void
workers_merge(struct lctx *lc, struct lstats *s, double *tend)
{
	struct worker	*w;
	double		*n;
	int		 i, j;

	memset(s, 0, sizeof(*s));
	for (i = 0; i < lc->cf->threads; i++) {
		w = &lc->workers[i];
		s->ok += w->st.ok;
		s->failed += w->st.failed;
		for (j = 0; j < R__MAX; j++)
			s->res[j] += w->st.res[j];
		if (w->tlast > *tend)
			*tend = w->tlast;
		if (w->st.nms == 0)
			continue;
		n = reallocarray(s->ms, s->nms + w->st.nms, sizeof(*n));
		if (n == NULL)
			continue;	/* XXX samples lost under OOM */
		memcpy(n + s->nms, w->st.ms, w->st.nms * sizeof(*n));
		s->ms = n;
		s->nms += w->st.nms;
	}
}

static void
workers_free(struct lctx *lc)
{
	struct worker	*w;
	int		 i;

	if (lc->workers == NULL)
		return;
	for (i = 0; i < lc->cf->threads; i++) {
		w = &lc->workers[i];
		if (w->base != NULL)
			event_base_free(w->base);
		free(w->conns);
		free(w->buf);
		free(w->st.ms);
	}
	free(lc->workers);
}

static void
on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

static int
load_main(struct conf *cf)
{
	struct lctx	 lc;
	struct lstats	 s;
	double		 t0, tend, cpu0;
	int		 i, r, rc = 1;

	memset(&lc, 0, sizeof(lc));
	memset(&s, 0, sizeof(s));
	lc.cf = cf;
	atomic_init(&lc.next, 0);
	atomic_init(&lc.logged, 0);
	pthread_mutex_init(&cf->pool.mu, NULL);
	pthread_mutex_init(&cf->recmu, NULL);
	if (cf->record != NULL && (cf->recf = fopen(cf->record, "w")) == NULL) {
		rc = cmd_fail(uc_fail(UC_ERR_IO, "%s: %s", cf->record,
		    strerror(errno)));
		goto out;
	}
	if ((r = fd_limit_raise(cf->concurrency)) != 0 ||
	    (r = addr_resolve(cf->host, cf->port, SOCK_STREAM, &cf->addr,
	    &cf->addrlen)) != 0 ||
	    (r = tls_setup(cf)) != 0 ||
	    (r = pool_fill(&cf->pool, cf->json)) != 0 ||
	    (r = workers_init(&lc)) != 0) {
		rc = cmd_fail(r);
		goto out;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	cpu0 = cpu_s();
	tend = t0 = now();
	if (cf->threads == 1)
		worker_run(&lc.workers[0]);
	else {
		for (i = 0; i < cf->threads; i++)
			if (pthread_create(&lc.workers[i].tid, NULL,
			    worker_run, &lc.workers[i]) != 0) {
				fprintf(stderr, "capf-phone: pthread_create "
				    "failed\n");
				exit(1);
			}
		for (i = 0; i < cf->threads; i++)
			pthread_join(lc.workers[i].tid, NULL);
	}
	workers_merge(&lc, &s, &tend);
	load_report(cf, &s, tend - t0, cpu_s() - cpu0);
	rc = s.failed == 0 && s.ok == (uint64_t)cf->load ? 0 : 1;
out:
	free(s.ms);
	workers_free(&lc);
	pool_free(&cf->pool);
	pthread_mutex_destroy(&cf->pool.mu);
	if (cf->recf != NULL && fclose(cf->recf) != 0 && rc == 0)
		rc = cmd_fail(uc_fail(UC_ERR_IO, "%s: %s", cf->record,
		    strerror(errno)));
	pthread_mutex_destroy(&cf->recmu);
	return rc;
}

int
main(int argc, char *argv[])
{
	struct conf	*cf;
	int		 rc;

	log_init("capf-phone", 0, LOG_LEVEL_INFO);
	signal(SIGPIPE, SIG_IGN);
	if ((cf = calloc(1, sizeof(*cf))) == NULL) {
		fprintf(stderr, "capf-phone: out of memory\n");
		return 1;
	}
	if ((rc = conf_parse(cf, argc, argv)) != 0)
		goto out;
	if (cf->verbose)
		log_set_level(LOG_LEVEL_DEBUG);
	rc = cf->load > 0 ? load_main(cf) : single_main(cf);
out:
	signer_free(cf->auth);
	signer_free(cf->sudisig);
	SSL_CTX_free(cf->ctx);
	OPENSSL_cleanse(cf->password, sizeof(cf->password));
	free(cf);
	return rc;
}
