/*
 * sip-phone: a SIP endpoint simulator for tests and load (sip-security.md
 * 1-9).  It registers (digest answers per spec 2.4 and 4, a client
 * certificate on TLS, the server certificate checked against --ca),
 * places or answers one call with SDES keys (spec 6), really sends and
 * checks RTP or SRTP (lib/srtpw, lib/rtpflow): a 160-byte payload every
 * 20 ms, each packet received unprotected and compared with the pattern
 * of its (SSRC, sequence).  Then it hangs up or waits for the BYE,
 * unregisters and prints one result line.
 *
 * One thread, one poll loop (pump): the signalling socket (UDP, or a TCP
 * or TLS connection), the RTP socket, the 20 ms media clock and the UDP
 * retransmission timers.  The flows (register, call, answer, hold, hang
 * up) are sequences of bounded waits on that loop; requests from the
 * server (INVITE, re-INVITE, UPDATE, BYE, ACK, OPTIONS, CANCEL) are
 * answered whenever they come, by handlers that never wait.
 *
 * Untrusted input: SIP and SDP are parsed by libosip2; our own reads of
 * it (stream framing, numbers, a=crypto values) go through the cursor,
 * RTP through srtpw and rtpflow.  A bad message costs one log line naming
 * what and from where and is dropped.  The password and every key are
 * never printed and are wiped when done.
 */
#include <sys/socket.h>
#include <sys/types.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <osipparser2/osip_parser.h>
#include <osipparser2/osip_port.h>
#include <osipparser2/sdp_message.h>

#include "cert.h"
#include "cmd.h"
#include "cursor.h"
#include "digest.h"
#include "fileio.h"
#include "log.h"
#include "rtpflow.h"
#include "sdes.h"
#include "srtpw.h"
#include "uerr.h"
#include "wbuf.h"

#define SP_UDP_PORT		"5060"	/* spec 1.1 */
#define SP_TLS_PORT		"5061"
#define SP_MSG_MAX		65535	/* bytes per SIP message (as ccmd) */
#define SP_IN_MAX		(2 * SP_MSG_MAX + 4) /* stream input buffer */
#define SP_TIMEOUT_DEF		10	/* s per wait */
#define SP_TIMEOUT_MAX		3600
#define SP_TALK_DEF		3	/* s of media */
#define SP_TALK_MAX		86400
#define SP_EXPIRES		600	/* s asked in REGISTER (ccmd default) */
#define SP_PWFILE_MAX		256	/* --password-file bytes */
#define SP_PW_MAX		128	/* password bytes + NUL */
#define SP_TOKEN_LEN		16	/* hex digits in tags, branches, ids */
#define SP_HDR_MAX		512	/* a From/To/Contact/Route value kept */
#define SP_ROUTES_MAX		8	/* route set entries */
#define SP_AUTH_TRIES		3	/* challenges answered per request */
#define SP_AUTH_HDR_MAX		2048	/* one Authorization value */
#define SP_RCACHE		8	/* responses kept for retransmissions */
#define SP_CALLINFO_MAX		4	/* distinct Call-Info values kept */
#define SP_CRYPTO_MAX		8	/* a=crypto lines kept per stream */
#define SP_PTIME_MS		20	/* one packet per 20 ms */
#define SP_PAYLOAD		160	/* bytes: PCMU, 20 ms */
#define SP_PT			0	/* PCMU */
#define SP_RTP_BUF		2048	/* one RTP/SRTP datagram */
#define SP_RTP_BURST		64	/* datagrams read per wake */
#define SP_SIG_BURST		64	/* signalling reads per wake */
#define SP_CATCHUP		5	/* packets sent at once when late */
#define SP_HOLDQ		16	/* packets held while a re-offer is out */
#define SP_T1			500	/* ms, RFC 3261 17.1.1.1 */
#define SP_T2			4000	/* ms */
#define SP_SENT_MAX		(256u << 20) /* --sent bytes kept in memory */
#define SP_WARN_MAX		5	/* lines per kind of bad packet */
#define SP_SIG_WARN_MAX		20	/* lines about bad SIP messages */

enum sp_tp { SPT_UDP = 0, SPT_TCP, SPT_TLS, SPT__MAX };
enum srtp_mode { SRTP_OFF = 0, SRTP_OPTIONAL, SRTP_MANDATORY, SRTP__MAX };
enum sec_level { SEC_NONSECURE = 0, SEC_AUTHENTICATED, SEC_ENCRYPTED,
	SEC__MAX };
enum sdp_dir { DIR_SENDRECV = 0, DIR_SENDONLY, DIR_RECVONLY, DIR_INACTIVE,
	DIR__MAX };
enum dlg_state { DLG_NONE = 0, DLG_EARLY, DLG_CONFIRMED, DLG_ENDED };
enum wait { W_FINAL, W_ACKED, W_TIME, W_ENDED, W__MAX };

static const char *const tp_names[SPT__MAX] = { "udp", "tcp", "tls" };
static const char *const tp_via[SPT__MAX] = { "UDP", "TCP", "TLS" };
static const char *const srtp_names[SRTP__MAX] = { "off", "optional",
	"mandatory" };
static const char *const sec_names[SEC__MAX] = { "nonsecure",
	"authenticated", "encrypted" };
static const char *const dir_names[DIR__MAX] = { "sendrecv", "sendonly",
	"recvonly", "inactive" };
static const char *const wait_names[W__MAX] = { "a final response",
	"the INVITE and its ACK", "the end of the call", "the BYE" };

struct conf {
	char		 host[256];	/* --server host */
	char		 port[8];	/* --server port */
	char		 domain[260];	/* host for URIs ([v6]) */
	int		 tp;		/* enum sp_tp */
	const char	*cert;		/* client certificate (PEM) */
	const char	*key;		/* its key; default: in cert */
	const char	*ca;		/* server trust anchors (PEM) */
	const char	*user;		/* extension */
	const char	*auth_user;	/* digest user; default user */
	const char	*realm;		/* answer only this realm */
	const char	*device;	/* devicename in Contact */
	char		 password[SP_PW_MAX];
	size_t		 pwlen;
	int		 has_pw;
	const char	*callee;	/* --call */
	int		 answer;	/* --answer */
	int		 srtp;		/* enum srtp_mode; -1: default */
	int		 suites[SUITE__MAX];	/* most preferred first */
	size_t		 nsuites;
	int		 talk;		/* s */
	int		 hold;
	int		 delayed;	/* --delayed-offer */
	int		 expect;	/* enum sec_level; -1: any */
	const char	*sent;		/* --sent FILE */
	const char	*rtp_bind;
	int		 timeout;	/* s */
	int		 verbose;
};

/* The signalling transport: one socket towards the server. */
struct sig {
	int		 fd;
	SSL_CTX		*ctx;
	SSL		*ssl;
	int		 tls_enc;	/* TLS with a real (non-NULL) cipher */
	int		 family;
	char		 laddr[INET6_ADDRSTRLEN];	/* ours, numeric */
	char		 lhost[INET6_ADDRSTRLEN + 2];	/* the same for URIs */
	int		 lport;
	char		 peer[INET6_ADDRSTRLEN + 8];	/* for messages */
	uint8_t		*in;		/* stream input (SP_IN_MAX) */
	size_t		 inlen;
	int		 closed;
	char		 why[256];	/* why it closed */
	int		 warned;	/* bad-message lines so far */
};

/* Our client transaction (one at a time; ACKs are not transactions). */
struct ctrans {
	int		 active;
	int		 invite;
	char		 method[16];
	uint32_t	 cseq;
	char		 branch[SP_TOKEN_LEN + 8];
	osip_message_t	*req;		/* as sent */
	char		*text;		/* its text (osip_malloc'd) */
	size_t		 len;
	int		 provisional;	/* a 1xx came */
	int64_t		 next_retx;	/* UDP, ms */
	int		 interval;
	osip_message_t	*final;		/* the final response */
};

/* A response we sent, for a retransmitted request (UDP). */
struct rcache {
	char		 branch[128];
	char		 method[16];
	uint32_t	 cseq;
	char		*text;
	size_t		 len;
};

/* Our 2xx to an INVITE until its ACK. */
struct uas2xx {
	int		 active;
	uint32_t	 cseq;
	char		*text;		/* copy of what was sent */
	size_t		 len;
	int64_t		 next_retx;
	int		 interval;
	int		 want_answer;	/* it carried our offer */
};

struct dialog {
	int		 state;		/* enum dlg_state */
	char		 callid[SP_HDR_MAX];
	char		 ltag[SP_HDR_MAX];
	char		 rtag[SP_HDR_MAX];
	char		 lhdr[SP_HDR_MAX];	/* our From, tag incl. */
	char		 rhdr[SP_HDR_MAX];	/* their To (tag once known) */
	char		 target[SP_HDR_MAX];	/* their Contact URI */
	char		 routes[SP_ROUTES_MAX][SP_HDR_MAX];
	size_t		 nroutes;
	uint32_t	 lcseq;		/* our last CSeq */
	uint32_t	 rcseq;		/* theirs */
	int		 have_rcseq;
	uint32_t	 invite_cseq;	/* of the INVITE that made it */
};

/* What an SDP body says about its first audio stream. */
struct rsdp {
	int		 port;		/* 0: rejected */
	int		 savp;		/* RTP/SAVP or RTP/SAVPF */
	int		 dir;		/* enum sdp_dir */
	int		 null_addr;	/* c= 0.0.0.0 or :: (old hold) */
	struct sockaddr_storage addr;
	socklen_t	 addrlen;
	struct sdes_crypto c[SP_CRYPTO_MAX];	/* usable lines */
	size_t		 n;
	int		 nbad;		/* malformed, MKI, parameters */
};

/* Our last offer, to match the answer (spec 6.3). */
struct offer {
	struct sdes_crypto c[SUITE__MAX];
	size_t		 n;
	int		 savp;
	int		 dir;
	int		 pending;	/* a re-offer is out */
};

struct media {
	int		 fd;
	int		 family;
	char		 laddr[INET6_ADDRSTRLEN];
	int		 lport;
	struct sockaddr_storage peer;	/* where we send */
	socklen_t	 peerlen;
	int		 active;	/* an offer/answer completed */
	int		 send;		/* the directions let us send */
	int64_t		 next_tick;	/* ms */
	struct rtp_tx	 tx;
	struct rtp_rx	 rx;
	int		 srtp;		/* SRTP agreed now */
	int		 srtp_ever;	/* at some point of the call */
	int		 suite;		/* agreed, -1 none */
	int		 last_suite;	/* the last one agreed */
	struct sdes_crypto mine;	/* our key (tx) */
	struct sdes_crypto theirs;	/* theirs (rx) */
	struct srtpw	*txc, *rxc, *rxold;
	uint8_t		 q[SP_HOLDQ][SP_RTP_BUF]; /* failed while re-offering */
	size_t		 qlen[SP_HOLDQ];
	int		 nq;
	uint64_t	 sent, auth_failed, bad, replayed, stray, early;
	int		 warned[4];	/* lines so far per kind */
	struct wbuf	 sentlog;	/* --sent lines */
};

struct authc {
	int		 valid;
	int		 proxy;		/* answers 407 */
	struct digest_challenge ch;
	uint32_t	 nc;
};

struct phone {
	struct conf	*cf;
	struct sig	 sig;
	struct media	 m;
	struct ctrans	 ct;
	struct dialog	 d;
	struct uas2xx	 u2;
	struct rcache	 rc[SP_RCACHE];
	int		 rcnext;
	struct authc	 auth;
	struct offer	 offer;
	char		 devname[64];	/* Contact devicename ("" none) */
	char		 instance[64];	/* urn:uuid */
	char		 reg_callid[SP_HDR_MAX];
	char		 reg_tag[SP_TOKEN_LEN + 1];
	uint32_t	 reg_cseq;
	char		*ack;		/* our last ACK to a 2xx, its text */
	size_t		 acklen;
	uint32_t	 ack_cseq;
	char		*nack;		/* our last ACK to a non-2xx */
	size_t		 nacklen;
	char		 nack_branch[SP_TOKEN_LEN + 8];
	uint32_t	 sdp_sessid, sdp_version;
	int		 registered;
	int		 connected;	/* the call came up */
	int		 failed;	/* the call failed (after coming up) */
	int		 invite_refused;	/* --answer: we refused it */
	int		 hold_failed;
	int		 bye_failed;
	char		 callinfo[SP_CALLINFO_MAX][SP_HDR_MAX];
	int		 ncallinfo;
};

static volatile sig_atomic_t interrupted;

static void
on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

static int64_t
mono_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A process that cannot allocate or draw random bytes stops. */
static void __attribute__((noreturn))
die(const char *what)
{
	fprintf(stderr, "%s: %s\n", log_progname(), what);
	exit(1);
}

/* n lower-case hex digits from the CSPRNG into out (n + 1 bytes). */
static void
token_hex(char *out, size_t n)
{
	uint8_t	 b[32];
	size_t	 i;

	if (n > 2 * sizeof(b) || RAND_bytes(b, (int)sizeof(b)) != 1)
		die("RAND_bytes failed");
	for (i = 0; i < n; i++)
		out[i] = "0123456789abcdef"[(b[i / 2] >> (i % 2 ? 0 : 4)) & 15];
	out[n] = '\0';
}

/*
 * An unsigned decimal of untrusted text s (all of it, 1 to 10 digits)
 * in [min, max], read through the cursor; -1 when it is not one.
 */
static int64_t
text_num(const char *s, int64_t min, int64_t max)
{
	struct cursor	 c;
	int64_t		 v = 0;
	size_t		 n = 0;
	uint8_t		 ch;

	if (s == NULL)
		return -1;
	cur_init(&c, (const uint8_t *)s, strlen(s));
	while (cur_left(&c) > 0) {
		ch = cur_u8(&c);
		if (ch < '0' || ch > '9' || ++n > 10)
			return -1;
		v = v * 10 + (ch - '0');
	}
	if (n == 0 || v < min || v > max)
		return -1;
	return v;
}

/* Attacker text made safe for one log line. */
static const char *
vis(char *buf, size_t sz, const char *s)
{
	if (s == NULL)
		return "-";
	return log_vis(buf, sz, s, strlen(s));
}

/* One line per bad message from the server, at most SP_SIG_WARN_MAX. */
static void __attribute__((format(printf, 2, 3)))
sig_warn(struct sig *s, const char *fmt, ...)
{
	char	 buf[256];
	va_list	 ap;

	if (s->warned++ >= SP_SIG_WARN_MAX)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	log_warnx("%s: %s%s", s->peer, buf, s->warned == SP_SIG_WARN_MAX ?
	    " (no more lines of this kind)" : "");
}

/* Wipe and free a string libosip2 allocated. */
static void
osip_text_free(char *s, size_t len)
{
	if (s == NULL)
		return;
	OPENSSL_cleanse(s, len);
	osip_free(s);
}

/* Wipe a message's bodies and raw text (keys, digest answers), free it. */
static void
msg_free(osip_message_t *m)
{
	osip_body_t	*b;
	int		 i;

	if (m == NULL)
		return;
	for (i = 0; (b = osip_list_get(&m->bodies, i)) != NULL; i++)
		if (b->body != NULL)
			OPENSSL_cleanse(b->body, b->length);
	if (m->message != NULL)
		OPENSSL_cleanse(m->message, m->message_length);
	osip_message_free(m);
}

/* ---- command line ------------------------------------------------- */

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr,
"usage: sip-phone --server HOST[:PORT] --transport udp|tcp|tls --user EXT\n"
"                 [--cert C.pem [--key K.pem]] [--ca CCM.pem] [--device NAME]\n"
"                 [--auth-user U] [--password-file F] [--realm R]\n"
"                 [--call EXT [--delayed-offer] | --answer]\n"
"                 [--srtp mandatory|optional|off] [--suites S1,S2,...]\n"
"                 [--talk SECS] [--hold] [--expect-security LEVEL]\n"
"                 [--sent FILE] [--rtp-bind IP] [--timeout SECS] [-v]\n"
"See sip-phone(1).\n");
	exit(2);
}

static const struct option longopts[] = {
	{ "server",		required_argument, NULL, 's' },
	{ "transport",		required_argument, NULL, 'T' },
	{ "cert",		required_argument, NULL, 'C' },
	{ "key",		required_argument, NULL, 'K' },
	{ "ca",			required_argument, NULL, 'A' },
	{ "user",		required_argument, NULL, 'u' },
	{ "auth-user",		required_argument, NULL, 'U' },
	{ "password-file",	required_argument, NULL, 'F' },
	{ "realm",		required_argument, NULL, 'r' },
	{ "device",		required_argument, NULL, 'd' },
	{ "call",		required_argument, NULL, 'c' },
	{ "answer",		no_argument,	   NULL, 'a' },
	{ "delayed-offer",	no_argument,	   NULL, 'D' },
	{ "srtp",		required_argument, NULL, 'S' },
	{ "suites",		required_argument, NULL, 'x' },
	{ "talk",		required_argument, NULL, 'k' },
	{ "hold",		no_argument,	   NULL, 'H' },
	{ "expect-security",	required_argument, NULL, 'e' },
	{ "sent",		required_argument, NULL, 'o' },
	{ "rtp-bind",		required_argument, NULL, 'b' },
	{ "timeout",		required_argument, NULL, 't' },
	{ "verbose",		no_argument,	   NULL, 'v' },
	{ "help",		no_argument,	   NULL, 'h' },
	{ NULL, 0, NULL, 0 }
};

/* Parse a decimal option in [min, max]; 0 or UC_ERR_ARG. */
static int
num_arg(const char *s, long min, long max, const char *what, int *v)
{
	int64_t	 n = text_num(s, min, max);

	if (n < 0)
		return uc_fail(UC_ERR_ARG, "--%s %s: want an integer in "
		    "[%ld, %ld]", what, s, min, max);
	*v = (int)n;
	return 0;
}

/* An extension: 1..31 of [0-9A-Za-z+*#._-] (ccmd's rule). */
static int
ext_arg(const char *s, const char *what)
{
	size_t	 i, n = strlen(s);

	for (i = 0; i < n; i++)
		if (strchr("0123456789abcdefghijklmnopqrstuvwxyz"
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZ+*#._-", s[i]) == NULL)
			break;
	if (n == 0 || n > 31 || i != n)
		return uc_fail(UC_ERR_ARG, "--%s %s: want 1 to 31 of "
		    "0-9 A-Z a-z + * # . _ -", what, s);
	return 0;
}

/* A name that goes into a header: printable, no quotes or blanks. */
static int
token_arg(const char *s, const char *what)
{
	size_t	 i, n = strlen(s);

	for (i = 0; i < n; i++)
		if (s[i] <= 0x20 || s[i] >= 0x7f || strchr("\"\\<>;,", s[i]))
			break;
	if (n == 0 || n > 63 || i != n)
		return uc_fail(UC_ERR_ARG, "--%s: want 1 to 63 printable "
		    "characters without blanks, quotes, <>;,", what);
	return 0;
}

/* HOST, HOST:PORT, [V6] or [V6]:PORT; a bare V6 has no port. */
static int
server_arg(struct conf *cf, const char *s)
{
	const char	*p, *port = NULL, *host = s;
	size_t		 hl;
	int		 v = 0;

	if (s[0] == '[') {
		if ((p = strchr(s, ']')) == NULL || (p[1] != '\0' &&
		    p[1] != ':'))
			return uc_fail(UC_ERR_ARG, "--server %s: want HOST, "
			    "HOST:PORT or [IPV6]:PORT", s);
		host = s + 1;
		hl = (size_t)(p - host);
		if (p[1] == ':')
			port = p + 2;
	} else if ((p = strchr(s, ':')) != NULL && strchr(p + 1, ':') ==
	    NULL) {
		hl = (size_t)(p - s);
		port = p + 1;
	} else
		hl = strlen(s);
	if (hl == 0 || hl >= sizeof(cf->host) || memchr(host, ' ', hl))
		return uc_fail(UC_ERR_ARG, "--server %s: bad host", s);
	memcpy(cf->host, host, hl);
	cf->host[hl] = '\0';
	if (port != NULL) {
		if (num_arg(port, 1, 65535, "server port", &v) != 0)
			return UC_ERR_ARG;
		snprintf(cf->port, sizeof(cf->port), "%d", v);
	}
	snprintf(cf->domain, sizeof(cf->domain), strchr(cf->host, ':') ?
	    "[%s]" : "%s", cf->host);
	return 0;
}

/* "AES_CM_128_HMAC_SHA1_80,AES_CM_128_HMAC_SHA1_32" into cf->suites. */
static int
suites_arg(struct conf *cf, const char *s)
{
	const char	*p = s, *e;
	size_t		 i, n;
	int		 su;

	cf->nsuites = 0;
	while (*p != '\0') {
		while (*p == ' ' || *p == ',')
			p++;
		if (*p == '\0')
			break;
		for (e = p; *e != '\0' && *e != ',' && *e != ' '; e++)
			;
		n = (size_t)(e - p);
		if ((su = sdes_suite_parse(p, n)) < 0)
			return uc_fail(UC_ERR_ARG, "--suites: unknown suite "
			    "%.*s (RFC 4568 names, spec 6.2)", (int)n, p);
		for (i = 0; i < cf->nsuites; i++)
			if (cf->suites[i] == su)
				return uc_fail(UC_ERR_ARG, "--suites: %s "
				    "twice", sdes_suite_name(su));
		cf->suites[cf->nsuites++] = su;
		p = e;
	}
	if (cf->nsuites == 0)
		return uc_fail(UC_ERR_ARG, "--suites: no suite");
	return 0;
}

/* One word of names[0 .. n - 1]; its index or UC_ERR_ARG. */
static int
word_arg(const char *s, const char *const *names, int n, const char *what,
    int *v)
{
	int	 i;

	for (i = 0; i < n; i++)
		if (strcmp(s, names[i]) == 0) {
			*v = i;
			return 0;
		}
	return uc_fail(UC_ERR_ARG, "--%s %s: unknown value", what, s);
}

/* --password-file: its first line, read through the cursor. */
static int
password_file(struct conf *cf, const char *path)
{
	struct cursor	 c;
	uint8_t		*buf = NULL;
	size_t		 len, n = 0, i;
	int		 r;

	if ((r = file_read(path, SP_PWFILE_MAX, &buf, &len)) != 0)
		return r;
	cur_init(&c, buf, len);
	while (cur_left(&c) > 0 && cur_peek_u8(&c) != '\n' &&
	    cur_peek_u8(&c) != '\r') {
		cur_u8(&c);
		n++;
	}
	r = 0;
	if (n == 0 || n >= sizeof(cf->password))
		r = uc_fail(UC_ERR_ARG, "%s: the password must be 1 to %zu "
		    "bytes on the first line", path, sizeof(cf->password) - 1);
	for (i = 0; r == 0 && i < n; i++)
		if (buf[i] < 0x20 || buf[i] == 0x7f)
			r = uc_fail(UC_ERR_ARG, "%s: the password has a "
			    "control character", path);
	if (r == 0) {
		memcpy(cf->password, buf, n);
		cf->password[n] = '\0';
		cf->pwlen = n;
		cf->has_pw = 1;
	}
	OPENSSL_cleanse(buf, len);
	free(buf);
	return r;
}

/* One option into cf; 0 or UC_ERR_ARG. */
static int
opt_store(struct conf *cf, int c, const char *arg)
{
	struct in6_addr	 a6;
	struct in_addr	 a4;

	switch (c) {
	case 's': return server_arg(cf, arg);
	case 'T': return word_arg(arg, tp_names, SPT__MAX, "transport",
	    &cf->tp);
	case 'C': cf->cert = arg; return 0;
	case 'K': cf->key = arg; return 0;
	case 'A': cf->ca = arg; return 0;
	case 'u': cf->user = arg; return ext_arg(arg, "user");
	case 'U': cf->auth_user = arg; return token_arg(arg, "auth-user");
	case 'F': return password_file(cf, arg);
	case 'r': cf->realm = arg; return token_arg(arg, "realm");
	case 'd': cf->device = arg; return token_arg(arg, "device");
	case 'c': cf->callee = arg; return ext_arg(arg, "call");
	case 'a': cf->answer = 1; return 0;
	case 'D': cf->delayed = 1; return 0;
	case 'S': return word_arg(arg, srtp_names, SRTP__MAX, "srtp",
	    &cf->srtp);
	case 'x': return suites_arg(cf, arg);
	case 'k': return num_arg(arg, 1, SP_TALK_MAX, "talk", &cf->talk);
	case 'H': cf->hold = 1; return 0;
	case 'e': return word_arg(arg, sec_names, SEC__MAX,
	    "expect-security", &cf->expect);
	case 'o': cf->sent = arg; return 0;
	case 'b':
		if (inet_pton(AF_INET, arg, &a4) != 1 &&
		    inet_pton(AF_INET6, arg, &a6) != 1)
			return uc_fail(UC_ERR_ARG, "--rtp-bind %s: want a "
			    "numeric IPv4 or IPv6 address", arg);
		cf->rtp_bind = arg;
		return 0;
	case 't': return num_arg(arg, 1, SP_TIMEOUT_MAX, "timeout",
	    &cf->timeout);
	case 'v': cf->verbose = 1; return 0;
	default:
		return uc_fail(UC_ERR_ARG, "unknown option");
	}
}

/* Cross-option rules and defaults; 0 or UC_ERR_ARG. */
static int
conf_check(struct conf *cf)
{
	if (cf->host[0] == '\0' || cf->tp < 0 || cf->user == NULL)
		return uc_fail(UC_ERR_ARG, "--server, --transport and --user "
		    "are required");
	if (cf->callee != NULL && cf->answer)
		return uc_fail(UC_ERR_ARG, "--call and --answer exclude each "
		    "other");
	if (cf->delayed && cf->callee == NULL)
		return uc_fail(UC_ERR_ARG, "--delayed-offer needs --call");
	if (cf->hold && cf->callee == NULL && !cf->answer)
		return uc_fail(UC_ERR_ARG, "--hold needs --call or --answer");
	if (cf->tp == SPT_TLS && cf->ca == NULL)
		return uc_fail(UC_ERR_ARG, "--transport tls needs --ca (the "
		    "CallManager certificate the phone trusts)");
	if (cf->tp != SPT_TLS && (cf->cert != NULL || cf->ca != NULL))
		return uc_fail(UC_ERR_ARG, "--cert and --ca need --transport "
		    "tls");
	if (cf->key != NULL && cf->cert == NULL)
		return uc_fail(UC_ERR_ARG, "--key needs --cert");
	if (cf->port[0] == '\0')
		snprintf(cf->port, sizeof(cf->port), "%s", cf->tp == SPT_TLS ?
		    SP_TLS_PORT : SP_UDP_PORT);
	if (cf->srtp < 0)
		cf->srtp = cf->tp == SPT_TLS ? SRTP_MANDATORY : SRTP_OFF;
	if (cf->nsuites == 0) {
		cf->suites[0] = SUITE_AES_CM_128_HMAC_SHA1_80;
		cf->suites[1] = SUITE_AES_CM_128_HMAC_SHA1_32;
		cf->nsuites = 2;
	}
	if (cf->auth_user == NULL)
		cf->auth_user = cf->user;
	return 0;
}

/* Parse argv into cf; 0, or 2 after a one-line usage error. */
static int
conf_parse(struct conf *cf, int argc, char *argv[])
{
	int	 c;

	cf->tp = -1;
	cf->srtp = -1;
	cf->expect = -1;
	cf->talk = SP_TALK_DEF;
	cf->timeout = SP_TIMEOUT_DEF;
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
	if (conf_check(cf) != 0)
		return cmd_usage_error("%s", uc_errdetail());
	return 0;
}

/* ---- signalling transport ------------------------------------------ */

static int
fd_nonblock(int fd, int on)
{
	int	 fl = fcntl(fd, F_GETFL);

	if (fl == -1)
		return -1;
	return fcntl(fd, F_SETFL, on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK);
}

/* "a.b.c.d:p" or "[v6]:p" of sa into buf. */
static void
addr_text(const struct sockaddr *sa, char *buf, size_t sz)
{
	char	 h[INET6_ADDRSTRLEN];
	int	 port;

	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)sa;

		inet_ntop(AF_INET6, &s6->sin6_addr, h, sizeof(h));
		port = ntohs(s6->sin6_port);
		snprintf(buf, sz, "[%s]:%d", h, port);
	} else {
		const struct sockaddr_in *s4 = (const void *)sa;

		inet_ntop(AF_INET, &s4->sin_addr, h, sizeof(h));
		port = ntohs(s4->sin_port);
		snprintf(buf, sz, "%s:%d", h, port);
	}
}

/* Numeric address and port of sa. */
static void
addr_split(const struct sockaddr *sa, char *host, size_t sz, int *port)
{
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)sa;

		inet_ntop(AF_INET6, &s6->sin6_addr, host, (socklen_t)sz);
		*port = ntohs(s6->sin6_port);
	} else {
		const struct sockaddr_in *s4 = (const void *)sa;

		inet_ntop(AF_INET, &s4->sin_addr, host, (socklen_t)sz);
		*port = ntohs(s4->sin_port);
	}
}

/*
 * TLS client context (spec 1.1): TLS 1.2 or later, our certificate and
 * key if given, the server trusted only through --ca (a CTL's CCM
 * certificate; partial chains allowed, no host name check, as phones).
 */
static int
tls_setup(const struct conf *cf, SSL_CTX **out)
{
	SSL_CTX		*ctx;
	X509_STORE	*st = NULL;
	int		 r = 0;

	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL)
		return uc_fail_ssl(UC_ERR_CRYPTO, "SSL_CTX_new");
	if (!SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION))
		r = uc_fail_ssl(UC_ERR_CRYPTO, "TLS 1.2 minimum");
	else if (cf->cert != NULL &&
	    SSL_CTX_use_certificate_chain_file(ctx, cf->cert) != 1)
		r = uc_fail_ssl(UC_ERR_ARG, "--cert %s: no PEM certificate",
		    cf->cert);
	else if (cf->cert != NULL && (SSL_CTX_use_PrivateKey_file(ctx,
	    cf->key != NULL ? cf->key : cf->cert, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1))
		r = uc_fail_ssl(UC_ERR_ARG, "%s: no unencrypted PEM key that "
		    "matches --cert", cf->key != NULL ? cf->key : cf->cert);
	else if ((st = SSL_CTX_get_cert_store(ctx)) == NULL ||
	    X509_STORE_load_file(st, cf->ca) != 1)
		r = uc_fail_ssl(UC_ERR_ARG, "--ca %s: no PEM certificate",
		    cf->ca);
	if (r != 0) {
		SSL_CTX_free(ctx);
		return r;
	}
	X509_STORE_set_flags(st, X509_V_FLAG_PARTIAL_CHAIN);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	*out = ctx;
	return 0;
}

/* Connect fd to ai within timeout s; 0 or an errno value. */
static int
connect_bounded(int fd, const struct addrinfo *ai, int timeout)
{
	struct pollfd	 pfd;
	socklen_t	 sl;
	int		 soerr = 0, e;

	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
		return 0;
	if ((soerr = errno) != EINPROGRESS)
		return soerr;
	pfd.fd = fd;
	pfd.events = POLLOUT;
	e = poll(&pfd, 1, timeout * 1000);
	sl = sizeof(soerr);
	if (e == 0)
		return ETIMEDOUT;
	if (e < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == -1)
		return errno;
	return soerr;
}

/* The TLS handshake on a connected fd, blocking with timeouts. */
static int
tls_handshake(struct phone *ph)
{
	struct sig	*s = &ph->sig;
	struct timeval	 tv = { ph->cf->timeout, 0 };
	const SSL_CIPHER *ci;
	char		 buf[256];
	unsigned long	 e;
	long		 v;

	if (fd_nonblock(s->fd, 0) == -1 ||
	    setsockopt(s->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) ||
	    setsockopt(s->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)))
		return uc_fail(UC_ERR_IO, "socket options: %s",
		    strerror(errno));
	if ((s->ssl = SSL_new(s->ctx)) == NULL || !SSL_set_fd(s->ssl, s->fd))
		return uc_fail_ssl(UC_ERR_CRYPTO, "SSL_new");
	errno = 0;
	if (SSL_connect(s->ssl) != 1) {
		if ((v = SSL_get_verify_result(s->ssl)) != X509_V_OK)
			return uc_fail(UC_ERR_POLICY, "TLS with %s: the server "
			    "certificate does not chain to --ca: %s (spec "
			    "1.1)", s->peer, X509_verify_cert_error_string(v));
		if ((e = ERR_peek_last_error()) != 0)
			ERR_error_string_n(e, buf, sizeof(buf));
		else
			snprintf(buf, sizeof(buf), "%s", errno ?
			    strerror(errno) : "connection closed");
		return uc_fail(UC_ERR_IO, "TLS handshake with %s: %s",
		    s->peer, buf);
	}
	ci = SSL_get_current_cipher(s->ssl);
	s->tls_enc = ci != NULL && SSL_CIPHER_get_cipher_nid(ci) != NID_undef;
	log_debug("TLS %s with %s, %s", SSL_get_version(s->ssl), s->peer,
	    ci != NULL ? SSL_CIPHER_get_name(ci) : "?");
	return fd_nonblock(s->fd, 1) == -1 ? uc_fail(UC_ERR_IO, "fcntl: %s",
	    strerror(errno)) : 0;
}

/* Our address on fd, numeric and for URIs. */
static int
sig_local(struct sig *s)
{
	struct sockaddr_storage	 ss;
	socklen_t		 sl = sizeof(ss);

	if (getsockname(s->fd, (struct sockaddr *)&ss, &sl) == -1)
		return uc_fail(UC_ERR_IO, "getsockname: %s", strerror(errno));
	s->family = ss.ss_family;
	addr_split((struct sockaddr *)&ss, s->laddr, sizeof(s->laddr),
	    &s->lport);
	snprintf(s->lhost, sizeof(s->lhost), s->family == AF_INET6 ?
	    "[%s]" : "%s", s->laddr);
	return 0;
}

/*
 * Open the signalling socket to --server: UDP connected, or TCP (and
 * TLS) within --timeout.  Non-blocking afterwards.
 */
static int
sig_connect(struct phone *ph)
{
	const struct conf *cf = ph->cf;
	struct sig	*s = &ph->sig;
	struct addrinfo	 hints, *res = NULL, *ai;
	int		 e, one = 1, err = 0;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = cf->tp == SPT_UDP ? SOCK_DGRAM : SOCK_STREAM;
	if ((e = getaddrinfo(cf->host, cf->port, &hints, &res)) != 0)
		return uc_fail(UC_ERR_IO, "%s port %s: %s", cf->host, cf->port,
		    gai_strerror(e));
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		addr_text(ai->ai_addr, s->peer, sizeof(s->peer));
		if ((s->fd = socket(ai->ai_family, ai->ai_socktype |
		    SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol)) == -1) {
			err = errno;
			continue;
		}
		if ((err = connect_bounded(s->fd, ai, cf->timeout)) == 0)
			break;
		close(s->fd);
		s->fd = -1;
	}
	freeaddrinfo(res);
	if (s->fd == -1)
		return uc_fail(UC_ERR_IO, "connect to %s port %s (%s): %s",
		    cf->host, cf->port, tp_names[cf->tp], strerror(err));
	if (cf->tp != SPT_UDP)
		(void)setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one,
		    sizeof(one));
	if ((e = sig_local(s)) != 0)
		return e;
	if (cf->tp == SPT_TLS)
		return tls_handshake(ph);
	return 0;
}

/* Wait until fd is ready for ev, at most until deadline; 0 or -1. */
static int
wait_fd(int fd, short ev, int64_t deadline)
{
	struct pollfd	 pfd;
	int64_t		 left = deadline - mono_ms();

	if (left <= 0)
		return -1;
	pfd.fd = fd;
	pfd.events = ev;
	return poll(&pfd, 1, (int)left) > 0 ? 0 : -1;
}

/* Send one message (TLS: SSL_write; TCP: write; UDP: one datagram). */
static int
sig_send(struct phone *ph, const char *buf, size_t len)
{
	struct sig	*s = &ph->sig;
	int64_t		 deadline = mono_ms() + ph->cf->timeout * 1000;
	size_t		 off = 0, n;
	ssize_t		 w;
	int		 e;

	if (s->closed)
		return uc_fail(UC_ERR_IO, "%s: connection closed", s->peer);
	if (ph->cf->tp == SPT_UDP) {
		if (send(s->fd, buf, len, 0) != (ssize_t)len)
			return uc_fail(UC_ERR_IO, "send to %s: %s", s->peer,
			    strerror(errno));
		return 0;
	}
	while (off < len) {
		if (s->ssl != NULL) {
			ERR_clear_error();
			if (SSL_write_ex(s->ssl, buf + off, len - off, &n)) {
				off += n;
				continue;
			}
			e = SSL_get_error(s->ssl, 0);
			if ((e == SSL_ERROR_WANT_WRITE || e ==
			    SSL_ERROR_WANT_READ) && wait_fd(s->fd, e ==
			    SSL_ERROR_WANT_READ ? POLLIN : POLLOUT,
			    deadline) == 0)
				continue;
		} else {
			if ((w = write(s->fd, buf + off, len - off)) > 0) {
				off += (size_t)w;
				continue;
			}
			if (w < 0 && (errno == EAGAIN || errno == EINTR) &&
			    wait_fd(s->fd, POLLOUT, deadline) == 0)
				continue;
		}
		s->closed = 1;
		snprintf(s->why, sizeof(s->why), "write failed");
		return uc_fail(UC_ERR_IO, "writing to %s failed", s->peer);
	}
	return 0;
}

/*
 * The end of a header block (CRLFCRLF) in c, read through it: 1 and
 * *hlen (header bytes incl. the blank line) when found within
 * SP_MSG_MAX bytes, 0 when more bytes are needed, UC_ERR_FORMAT when a
 * header block runs longer.
 */
static int
hdr_end(struct cursor *c, size_t start, size_t *hlen)
{
	uint32_t	 last = 0;

	while (cur_left(c) > 0) {
		last = (last << 8) | cur_u8(c);
		if (last == 0x0d0a0d0a) {
			*hlen = cur_offset(c) - start;
			return 1;
		}
		if (cur_offset(c) - start > SP_MSG_MAX)
			return UC_ERR_FORMAT;
	}
	return 0;
}

static int
is_blank(uint8_t ch)
{
	return ch == ' ' || ch == '\t';
}

/*
 * The value of one header line of n bytes if it is Content-Length (or
 * "l"), read through the cursor: the value, -1 for another header, -2
 * for a bad value.
 */
static int64_t
clen_line(const uint8_t *p, size_t n)
{
	struct cursor	 c;
	char		 num[12];
	size_t		 k = 0;
	int64_t		 v;
	uint8_t		 ch;

	cur_init(&c, p, n);
	while (cur_left(&c) > 0 && (ch = cur_peek_u8(&c)) != ':' &&
	    !is_blank(ch)) {
		cur_u8(&c);
		k++;
	}
	if (!((k == 14 && strncasecmp((const char *)p, "Content-Length",
	    14) == 0) || (k == 1 && (p[0] == 'l' || p[0] == 'L'))))
		return -1;
	while (is_blank(cur_peek_u8(&c)))
		cur_u8(&c);
	if (cur_u8(&c) != ':')
		return -1;
	while (is_blank(cur_peek_u8(&c)))
		cur_u8(&c);
	for (k = 0; cur_left(&c) > 0 && !is_blank(cur_peek_u8(&c)); k++) {
		if (k == sizeof(num) - 1)
			return -2;
		num[k] = (char)cur_u8(&c);
	}
	num[k] = '\0';
	while (is_blank(cur_peek_u8(&c)))
		cur_u8(&c);
	if (cur_left(&c) != 0)
		return -2;
	v = text_num(num, 0, SP_MSG_MAX);
	return v < 0 ? -2 : v;
}

/*
 * The Content-Length of a header block (RFC 3261 18.3; 0 if absent),
 * read line by line through the cursor.  0, or UC_ERR_FORMAT on a bad or
 * contradicting value.
 */
static int
content_length(const uint8_t *p, size_t n, size_t *out)
{
	struct cursor	 c;
	size_t		 ls;
	int64_t		 v, got = -1;

	cur_init(&c, p, n);
	while (cur_left(&c) > 0) {
		ls = cur_offset(&c);
		while (cur_left(&c) > 0 && cur_peek_u8(&c) != '\r')
			cur_u8(&c);
		v = clen_line(p + ls, cur_offset(&c) - ls);
		if (v == -2 || (v >= 0 && got >= 0 && v != got))
			return UC_ERR_FORMAT;
		if (v >= 0)
			got = v;
		cur_skip(&c, cur_left(&c) >= 2 ? 2 : cur_left(&c));
	}
	*out = got < 0 ? 0 : (size_t)got;
	return 0;
}

/*
 * One message at the start of a stream buffer: leading CRLFs
 * (keepalives) skipped into *off.  1 with *mlen when it is whole, 0 when
 * more bytes are needed, UC_ERR_FORMAT when it cannot be framed.
 */
static int
frame_next(const uint8_t *buf, size_t len, size_t *off, size_t *mlen)
{
	struct cursor	 c;
	size_t		 hlen = 0, clen = 0;
	int		 r;

	cur_init(&c, buf, len);
	while (cur_left(&c) > 0 && (cur_peek_u8(&c) == '\r' ||
	    cur_peek_u8(&c) == '\n'))
		cur_u8(&c);
	*off = cur_offset(&c);
	if ((r = hdr_end(&c, *off, &hlen)) <= 0)
		return r;
	if (content_length(buf + *off, hlen, &clen) != 0 ||
	    hlen + clen > SP_MSG_MAX)
		return UC_ERR_FORMAT;
	if (len - *off < hlen + clen)
		return 0;
	*mlen = hlen + clen;
	return 1;
}

static void sip_input(struct phone *, const char *, size_t);

/* Hand every whole message in the stream buffer to sip_input. */
static void
frames_dispatch(struct phone *ph)
{
	struct sig	*s = &ph->sig;
	size_t		 off, mlen, used;
	int		 r;

	while (!s->closed && s->inlen > 0) {
		mlen = 0;
		r = frame_next(s->in, s->inlen, &off, &mlen);
		if (r < 0) {
			log_warnx("%s: a stream message that cannot be framed "
			    "(header over %d bytes or bad Content-Length); "
			    "closing", s->peer, SP_MSG_MAX);
			s->closed = 1;
			snprintf(s->why, sizeof(s->why), "framing error");
			return;
		}
		used = off + (r == 1 ? mlen : 0);
		if (r == 1)
			sip_input(ph, (const char *)s->in + off, mlen);
		OPENSSL_cleanse(s->in, used);
		memmove(s->in, s->in + used, s->inlen - used);
		s->inlen -= used;
		if (r == 0)
			return;
	}
}

/* Read what a TCP/TLS stream has; 1 when something was read. */
static int
stream_read(struct sig *s)
{
	size_t	 n = 0, room = SP_IN_MAX - s->inlen;
	ssize_t	 k;
	int	 e;

	if (room == 0)
		return 0;
	if (s->ssl != NULL) {
		ERR_clear_error();
		if (SSL_read_ex(s->ssl, s->in + s->inlen, room, &n) == 1) {
			s->inlen += n;
			return 1;
		}
		e = SSL_get_error(s->ssl, 0);
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
			return 0;
		snprintf(s->why, sizeof(s->why), "%s", e ==
		    SSL_ERROR_ZERO_RETURN ? "closed (close_notify)" :
		    "closed or TLS error");
	} else {
		if ((k = read(s->fd, s->in + s->inlen, room)) > 0) {
			s->inlen += (size_t)k;
			return 1;
		}
		if (k < 0 && (errno == EAGAIN || errno == EINTR))
			return 0;
		snprintf(s->why, sizeof(s->why), "%s", k == 0 ? "closed" :
		    strerror(errno));
	}
	s->closed = 1;
	return 0;
}

/* Everything the signalling socket has now, each message dispatched. */
static void
sig_input(struct phone *ph)
{
	struct sig	*s = &ph->sig;
	char		 buf[SP_MSG_MAX + 1];
	ssize_t		 n;
	int		 i;

	for (i = 0; i < SP_SIG_BURST && !s->closed; i++) {
		if (ph->cf->tp != SPT_UDP) {
			if (!stream_read(s))
				break;
			frames_dispatch(ph);
			continue;
		}
		if ((n = recv(s->fd, buf, sizeof(buf), MSG_TRUNC)) < 0)
			break;
		if ((size_t)n > SP_MSG_MAX)
			sig_warn(s, "a datagram over %d bytes, ignored",
			    SP_MSG_MAX);
		else if (n > 0)
			sip_input(ph, buf, (size_t)n);
		OPENSSL_cleanse(buf, n > 0 && (size_t)n <= SP_MSG_MAX ?
		    (size_t)n : sizeof(buf));
	}
}

/* ---- SIP messages --------------------------------------------------- */

#define SP_UA		"ucsec-sip-phone/" UCSEC_VERSION
#define SP_ALLOW	"INVITE, ACK, BYE, CANCEL, OPTIONS, UPDATE, INFO, NOTIFY"
#define SP_SUPPORTED	"replaces,X-cisco-callinfo,X-cisco-srtp-fallback," \
			"X-cisco-sis-7.0.0"

/* Our Contact for this transport: <sip:EXT@addr:port;transport=...>. */
static void
contact_value(const struct phone *ph, char *buf, size_t sz)
{
	static const char *const tpp[SPT__MAX] = { "", ";transport=tcp",
	    ";transport=tls" };

	snprintf(buf, sz, "<sip:%s@%s:%d%s>", ph->cf->user, ph->sig.lhost,
	    ph->sig.lport, tpp[ph->cf->tp]);
}

/* The top Via's branch, or NULL. */
static const char *
top_branch(const osip_message_t *m)
{
	osip_via_t		*v = NULL;
	osip_generic_param_t	*p = NULL;

	if (osip_message_get_via(m, 0, &v) < 0 || v == NULL ||
	    osip_via_param_get_byname(v, "branch", &p) != 0 || p == NULL)
		return NULL;
	return p->gvalue;
}

/* The CSeq number (0 .. 2^32 - 1), -1 if bad. */
static int64_t
cseq_num(const osip_message_t *m)
{
	if (m->cseq == NULL || m->cseq->method == NULL)
		return -1;
	return text_num(m->cseq->number, 0, UINT32_MAX);
}

/* The tag of a From/To, or NULL. */
static const char *
tag_of(osip_from_t *f)
{
	osip_generic_param_t	*p = NULL;

	if (f == NULL || osip_from_get_tag(f, &p) != 0 || p == NULL)
		return NULL;
	return p->gvalue;
}

/* Log a message's first line and CSeq (never a body). */
static void
msg_trace(const struct phone *ph, const char *dir, const osip_message_t *m)
{
	char	 a[64], b[64];

	if (m->sip_method != NULL)
		log_debug("%s %s %s (CSeq %s)", dir, ph->sig.peer,
		    vis(a, sizeof(a), m->sip_method), m->cseq != NULL ?
		    vis(b, sizeof(b), m->cseq->number) : "-");
	else
		log_debug("%s %s %d (CSeq %s %s)", dir, ph->sig.peer,
		    m->status_code, m->cseq != NULL ? vis(a, sizeof(a),
		    m->cseq->number) : "-", m->cseq != NULL ? vis(b,
		    sizeof(b), m->cseq->method) : "-");
}

/* Replace the Via with ours and branch. */
static int
via_set(struct phone *ph, osip_message_t *m, const char *branch)
{
	osip_via_t	*v;
	char		 buf[256];

	while ((v = osip_list_get(&m->vias, 0)) != NULL) {
		osip_list_remove(&m->vias, 0);
		osip_via_free(v);
	}
	snprintf(buf, sizeof(buf), "SIP/2.0/%s %s:%d;branch=%s;rport",
	    tp_via[ph->cf->tp], ph->sig.lhost, ph->sig.lport, branch);
	return osip_message_set_via(m, buf) == 0 ? 0 :
	    uc_fail(UC_ERR_INTERNAL, "Via %s", buf);
}

/* Set the CSeq number (the method stays). */
static void
cseq_set(osip_message_t *m, uint32_t n)
{
	char	 buf[16];

	snprintf(buf, sizeof(buf), "%" PRIu32, n);
	osip_free(m->cseq->number);
	if ((m->cseq->number = osip_strdup(buf)) == NULL)
		die("out of memory");
}

/* Remove every header named name from m's generic headers. */
static void
headers_drop(osip_message_t *m, const char *name)
{
	osip_header_t	*h;
	int		 i;

	for (i = 0; (h = osip_list_get(&m->headers, i)) != NULL; ) {
		if (h->hname != NULL && strcasecmp(h->hname, name) == 0) {
			osip_list_remove(&m->headers, i);
			if (h->hvalue != NULL)
				OPENSSL_cleanse(h->hvalue, strlen(h->hvalue));
			osip_header_free(h);
		} else
			i++;
	}
}

/* Set an SDP body (copied). */
static int
body_set(osip_message_t *m, const char *body)
{
	if (body == NULL)
		return 0;
	if (osip_message_set_body(m, body, strlen(body)) != 0 ||
	    osip_message_set_content_type(m, "application/sdp") != 0)
		return uc_fail(UC_ERR_ALLOC, "SDP body");
	return 0;
}

/*
 * A request: Request-URI, From, To, Call-ID, CSeq, Route set,
 * Max-Forwards, User-Agent, and for INVITE, UPDATE and REGISTER our
 * Contact with Supported and Allow.  The Via is set at each send.  0 and
 * *out, or UC_ERR_FORMAT when a value does not parse.
 */
static int
req_new(struct phone *ph, const char *method, const char *ruri,
    const char *from, const char *to, const char *callid, uint32_t cseq,
    const struct dialog *routes, osip_message_t **out)
{
	osip_message_t	*m = NULL;
	osip_uri_t	*u = NULL;
	char		 buf[SP_HDR_MAX + 64];
	size_t		 i;
	int		 e = 0;

	if (osip_message_init(&m) != 0 || osip_uri_init(&u) != 0)
		die("out of memory");
	osip_message_set_method(m, osip_strdup(method));
	osip_message_set_version(m, osip_strdup("SIP/2.0"));
	if (osip_uri_parse(u, ruri) != 0) {
		osip_uri_free(u);
		msg_free(m);
		return uc_fail(UC_ERR_FORMAT, "%s: Request-URI %s does not "
		    "parse", method, ruri);
	}
	osip_message_set_uri(m, u);
	snprintf(buf, sizeof(buf), "%" PRIu32 " %s", cseq, method);
	e |= osip_message_set_from(m, from);
	e |= osip_message_set_to(m, to);
	e |= osip_message_set_call_id(m, callid);
	e |= osip_message_set_cseq(m, buf);
	for (i = 0; routes != NULL && i < routes->nroutes; i++)
		e |= osip_message_set_route(m, routes->routes[i]);
	e |= osip_message_set_max_forwards(m, "70");
	if (strcmp(method, "INVITE") == 0 || strcmp(method, "UPDATE") == 0) {
		contact_value(ph, buf, sizeof(buf));
		e |= osip_message_set_contact(m, buf);
		e |= osip_message_set_header(m, "Supported", SP_SUPPORTED);
		e |= osip_message_set_header(m, "Allow", SP_ALLOW);
	}
	e |= osip_message_set_header(m, "User-Agent", SP_UA);
	if (e != 0) {
		msg_free(m);
		return uc_fail(UC_ERR_FORMAT, "%s: a header value (From %s, "
		    "To %s, Route) does not parse", method, from, to);
	}
	*out = m;
	return 0;
}

/* An in-dialog request with the next CSeq (ACK: the INVITE's). */
static int
dlg_request(struct phone *ph, const char *method, osip_message_t **out)
{
	struct dialog	*d = &ph->d;
	uint32_t	 cseq;

	cseq = strcmp(method, "ACK") == 0 ? d->invite_cseq : ++d->lcseq;
	return req_new(ph, method, d->target, d->lhdr, d->rhdr, d->callid,
	    cseq, d, out);
}

/* Keep text (copied) as the response to req for retransmissions. */
static void
rcache_put(struct phone *ph, const osip_message_t *req, const char *text,
    size_t len)
{
	struct rcache	*e = NULL;
	const char	*b = top_branch(req);
	int64_t		 n = cseq_num(req);
	int		 i;

	if (b == NULL || n < 0 || strlen(b) >= sizeof(e->branch))
		return;
	for (i = 0; i < SP_RCACHE && e == NULL; i++)
		if (ph->rc[i].text != NULL && strcmp(ph->rc[i].branch, b) == 0 &&
		    strcmp(ph->rc[i].method, req->sip_method) == 0)
			e = &ph->rc[i];
	if (e == NULL)
		e = &ph->rc[ph->rcnext++ % SP_RCACHE];
	if (e->text != NULL) {
		OPENSSL_cleanse(e->text, e->len);
		free(e->text);
	}
	if ((e->text = malloc(len)) == NULL)
		die("out of memory");
	memcpy(e->text, text, len);
	e->len = len;
	e->cseq = (uint32_t)n;
	snprintf(e->branch, sizeof(e->branch), "%s", b);
	snprintf(e->method, sizeof(e->method), "%s", req->sip_method);
}

/* A retransmitted request gets the response we sent; 1 if it was one. */
static int
rcache_replay(struct phone *ph, const osip_message_t *req)
{
	const char	*b = top_branch(req);
	int64_t		 n = cseq_num(req);
	int		 i;

	for (i = 0; b != NULL && i < SP_RCACHE; i++)
		if (ph->rc[i].text != NULL && strcmp(ph->rc[i].branch, b) == 0 &&
		    strcmp(ph->rc[i].method, req->sip_method) == 0 &&
		    ph->rc[i].cseq == (uint32_t)n) {
			log_debug("<- %s: %s retransmitted, response repeated",
			    ph->sig.peer, req->sip_method);
			(void)sig_send(ph, ph->rc[i].text, ph->rc[i].len);
			return 1;
		}
	return 0;
}

/*
 * Answer req with code and optional SDP body; totag is added to To if it
 * has none.  1xx/2xx to INVITE and UPDATE carry our Contact and Allow.
 * The text is kept for retransmitted requests, and in *keep (a 2xx to an
 * INVITE, resent until its ACK) when keep is not NULL.
 */
static int
reply(struct phone *ph, const osip_message_t *req, int code, const char *why,
    const char *totag, const char *body, struct uas2xx *keep)
{
	osip_message_t	*r = NULL;
	const char	*phrase = why != NULL ? why :
			    osip_message_get_reason(code);
	char		*text = NULL, buf[SP_HDR_MAX];
	size_t		 len = 0;
	int		 e, rr;

	if (osip_message_init(&r) != 0)
		die("out of memory");
	osip_message_set_version(r, osip_strdup("SIP/2.0"));
	osip_message_set_status_code(r, code);
	osip_message_set_reason_phrase(r, osip_strdup(phrase != NULL ?
	    phrase : "Unknown"));
	e = osip_list_clone(&req->vias, &r->vias,
	    (int (*)(void *, void **))osip_via_clone);
	e |= osip_from_clone(req->from, &r->from);
	e |= osip_to_clone(req->to, &r->to);
	e |= osip_call_id_clone(req->call_id, &r->call_id);
	e |= osip_cseq_clone(req->cseq, &r->cseq);
	if (e == 0 && totag != NULL && code > 100 && tag_of(r->to) == NULL)
		e |= osip_to_set_tag(r->to, osip_strdup(totag));
	rr = code > 100 && code < 300 && (strcmp(req->sip_method, "INVITE") ==
	    0 || strcmp(req->sip_method, "UPDATE") == 0);
	if (e == 0 && rr) {
		e |= osip_list_clone(&req->record_routes, &r->record_routes,
		    (int (*)(void *, void **))osip_from_clone);
		contact_value(ph, buf, sizeof(buf));
		e |= osip_message_set_contact(r, buf);
		e |= osip_message_set_header(r, "Allow", SP_ALLOW);
		e |= osip_message_set_header(r, "Supported", SP_SUPPORTED);
	}
	e |= osip_message_set_header(r, "User-Agent", SP_UA);
	if (e != 0 || body_set(r, body) != 0 ||
	    osip_message_to_str(r, &text, &len) != 0) {
		msg_free(r);
		return uc_fail(UC_ERR_INTERNAL, "building a %d", code);
	}
	msg_trace(ph, "->", r);
	msg_free(r);
	rcache_put(ph, req, text, len);
	if (keep != NULL) {
		if ((keep->text = malloc(len)) == NULL)
			die("out of memory");
		memcpy(keep->text, text, len);
		keep->len = len;
	}
	e = sig_send(ph, text, len);
	osip_text_free(text, len);
	return e;
}

/* Collect the distinct Call-Info values the server sends (spec 7). */
static void
callinfo_collect(struct phone *ph, const osip_message_t *m)
{
	osip_call_info_t	*ci;
	char			*s;
	int			 i, j, dup;

	for (i = 0; i < 16 && (ci = osip_list_get(&m->call_infos, i)) != NULL;
	    i++) {
		s = NULL;
		if (osip_call_info_to_str(ci, &s) != 0 || s == NULL)
			continue;
		for (j = 0, dup = 0; j < ph->ncallinfo; j++)
			dup |= strcmp(ph->callinfo[j], s) == 0;
		if (!dup && ph->ncallinfo < SP_CALLINFO_MAX &&
		    strlen(s) < SP_HDR_MAX)
			snprintf(ph->callinfo[ph->ncallinfo++], SP_HDR_MAX,
			    "%s", s);
		osip_free(s);
	}
}

/* ---- client transactions -------------------------------------------- */

static void
ct_clear(struct phone *ph)
{
	msg_free(ph->ct.req);
	osip_text_free(ph->ct.text, ph->ct.len);
	msg_free(ph->ct.final);
	memset(&ph->ct, 0, sizeof(ph->ct));
}

/* Start our transaction for req (taken): a new branch, sent once. */
static int
ct_start(struct phone *ph, osip_message_t *req)
{
	struct ctrans	*ct = &ph->ct;
	char		 tok[SP_TOKEN_LEN + 1];
	int		 r;

	ct_clear(ph);
	ct->req = req;
	token_hex(tok, SP_TOKEN_LEN);
	snprintf(ct->branch, sizeof(ct->branch), "z9hG4bK%s", tok);
	if ((r = via_set(ph, req, ct->branch)) != 0)
		return r;
	ct->cseq = (uint32_t)cseq_num(req);
	snprintf(ct->method, sizeof(ct->method), "%s", req->sip_method);
	ct->invite = strcmp(ct->method, "INVITE") == 0;
	if (osip_message_to_str(req, &ct->text, &ct->len) != 0)
		return uc_fail(UC_ERR_INTERNAL, "%s to text", ct->method);
	msg_trace(ph, "->", req);
	ct->active = 1;
	ct->interval = SP_T1;
	ct->next_retx = mono_ms() + SP_T1;
	return sig_send(ph, ct->text, ct->len);
}

/* Send text as an ACK and keep it (*slot) for a repeated response. */
static int
ack_keep(struct phone *ph, osip_message_t *ack, char **slot, size_t *slen)
{
	char	*text = NULL;
	size_t	 len = 0;
	int	 r;

	if (osip_message_to_str(ack, &text, &len) != 0) {
		msg_free(ack);
		return uc_fail(UC_ERR_INTERNAL, "ACK to text");
	}
	msg_trace(ph, "->", ack);
	msg_free(ack);
	osip_text_free(*slot, *slen);
	*slot = text;
	*slen = len;
	r = sig_send(ph, text, len);
	return r;
}

/*
 * ACK a non-2xx final response to our INVITE (RFC 3261 17.1.1.3): the
 * INVITE's Request-URI, Via, From, Call-ID and Route, the response's
 * To, CSeq number with ACK.
 */
static void
ack_non2xx(struct phone *ph, const osip_message_t *resp)
{
	const osip_message_t *req = ph->ct.req;
	osip_message_t	*a = NULL;
	osip_uri_t	*u = NULL;
	char		 buf[32];
	int		 e;

	if (osip_message_init(&a) != 0)
		die("out of memory");
	osip_message_set_method(a, osip_strdup("ACK"));
	osip_message_set_version(a, osip_strdup("SIP/2.0"));
	e = osip_uri_clone(req->req_uri, &u);
	osip_message_set_uri(a, u);
	e |= osip_list_clone(&req->vias, &a->vias,
	    (int (*)(void *, void **))osip_via_clone);
	e |= osip_list_clone(&req->routes, &a->routes,
	    (int (*)(void *, void **))osip_from_clone);
	e |= osip_from_clone(req->from, &a->from);
	e |= osip_to_clone(resp->to, &a->to);
	e |= osip_call_id_clone(req->call_id, &a->call_id);
	snprintf(buf, sizeof(buf), "%" PRIu32 " ACK", ph->ct.cseq);
	e |= osip_message_set_cseq(a, buf);
	e |= osip_message_set_max_forwards(a, "70");
	if (e != 0) {
		msg_free(a);
		log_warnx("cannot build the ACK to a %d", resp->status_code);
		return;
	}
	snprintf(ph->nack_branch, sizeof(ph->nack_branch), "%s",
	    ph->ct.branch);
	(void)ack_keep(ph, a, &ph->nack, &ph->nacklen);
}

/*
 * A response from the server: to our transaction (a final one is kept
 * in ct.final; *mp taken), or a repeated final we ACK again, or stray.
 */
static void
ct_response(struct phone *ph, osip_message_t **mp)
{
	struct ctrans	*ct = &ph->ct;
	osip_message_t	*m = *mp;
	const char	*b = top_branch(m);
	int64_t		 n = cseq_num(m);
	int		 code = m->status_code, inv;

	inv = strcmp(m->cseq->method, "INVITE") == 0;
	if (ct->req != NULL && b != NULL && strcmp(b, ct->branch) == 0 &&
	    strcmp(m->cseq->method, ct->method) == 0 && n == ct->cseq) {
		if (code < 200) {
			ct->provisional = 1;
			return;
		}
		if (ct->final != NULL || !ct->active) {
			if (ct->invite && code >= 300 && ph->nack != NULL)
				(void)sig_send(ph, ph->nack, ph->nacklen);
			return;
		}
		if (ct->invite && code >= 300)
			ack_non2xx(ph, m);
		ct->final = m;
		ct->active = 0;
		*mp = NULL;
		return;
	}
	if (inv && code >= 200 && code < 300 && ph->ack != NULL &&
	    n == ph->ack_cseq)
		(void)sig_send(ph, ph->ack, ph->acklen);
	else if (inv && code >= 300 && ph->nack != NULL && b != NULL &&
	    strcmp(b, ph->nack_branch) == 0)
		(void)sig_send(ph, ph->nack, ph->nacklen);
	else
		log_debug("%s: a %d to no request of ours, ignored",
		    ph->sig.peer, code);
}

/* Pop the final response (the caller frees it). */
static osip_message_t *
ct_take_final(struct phone *ph)
{
	osip_message_t	*m = ph->ct.final;

	ph->ct.final = NULL;
	return m;
}

/* ---- digest, UAC side (spec 2.3, 2.4, 4) ---------------------------- */

/*
 * Take the topmost usable challenge of a 401 (WWW-Authenticate) or 407
 * (Proxy-Authenticate), spec 4 step 2: --realm if given, qop auth or
 * none (not auth-int only), any algorithm lib/digest computes.  Cached
 * in ph->auth with nc 0.  0, or UC_ERR_NOTFOUND.
 */
static int
auth_take(struct phone *ph, const osip_message_t *resp)
{
	const osip_list_t	*l = resp->status_code == 401 ?
				    &resp->www_authenticates :
				    &resp->proxy_authenticates;
	osip_www_authenticate_t	*w;
	struct digest_challenge	 ch;
	char			*s, v[64];
	int			 i, r, seen = 0;

	for (i = 0; i < 16 && (w = osip_list_get(l, i)) != NULL; i++) {
		s = NULL;
		if (osip_www_authenticate_to_str(w, &s) != 0 || s == NULL)
			continue;
		seen++;
		r = digest_challenge_parse(s, strlen(s), &ch);
		osip_free(s);
		if (r != 0) {
			sig_warn(&ph->sig, "a %d with a challenge that does "
			    "not parse: %s", resp->status_code, uc_errdetail());
			continue;
		}
		if ((ph->cf->realm != NULL && strcmp(ch.realm,
		    ph->cf->realm) != 0) || (!ch.qop_auth && ch.qop_auth_int))
			continue;
		memset(&ph->auth, 0, sizeof(ph->auth));
		ph->auth.valid = 1;
		ph->auth.proxy = resp->status_code == 407;
		ph->auth.ch = ch;
		log_debug("challenge: realm %s, %s%s", vis(v, sizeof(v),
		    ch.realm), digest_alg_name(ch.alg, ch.sess), ch.stale ?
		    ", stale" : "");
		return 0;
	}
	return uc_fail(UC_ERR_NOTFOUND, "%s: %d with %d challenge(s), none "
	    "usable (realm %s, qop auth, MD5/SHA-256/SHA-512-256)",
	    ph->sig.peer, resp->status_code, seen, ph->cf->realm != NULL ?
	    ph->cf->realm : "any");
}

/*
 * Credentials for req from the cached challenge (spec 2.3, 4 steps 5-7):
 * nc + 1, a fresh cnonce, uri = the Request-URI, the request's method.
 * Replaces any earlier Authorization.  0 or UC_ERR_*.
 */
static int
auth_add(struct phone *ph, osip_message_t *req)
{
	const struct conf	*cf = ph->cf;
	const struct digest_challenge *ch = &ph->auth.ch;
	struct digest_creds	 c;
	const char		*hname, *qop;
	char			 ha1[DIGEST_HEX_MAX], hdr[SP_AUTH_HDR_MAX];
	char			*uri = NULL;
	int			 r;

	if (!cf->has_pw)
		return uc_fail(UC_ERR_ARG, "%s: challenged (realm %s) but no "
		    "--password-file", ph->sig.peer, ch->realm);
	hname = ph->auth.proxy ? "Proxy-Authorization" : "Authorization";
	memset(&c, 0, sizeof(c));
	if ((r = digest_ha1(ch->alg, cf->auth_user, ch->realm, cf->password,
	    cf->pwlen, ha1)) != 0)
		goto out;
	if (osip_uri_to_str(req->req_uri, &uri) != 0 || uri == NULL ||
	    strlen(uri) >= sizeof(c.uri)) {
		r = uc_fail(UC_ERR_FORMAT, "digest: Request-URI too long");
		goto out;
	}
	qop = ch->qop_auth ? "auth" : NULL;
	snprintf(c.username, sizeof(c.username), "%s", cf->auth_user);
	snprintf(c.realm, sizeof(c.realm), "%s", ch->realm);
	snprintf(c.nonce, sizeof(c.nonce), "%s", ch->nonce);
	snprintf(c.uri, sizeof(c.uri), "%s", uri);
	if (qop != NULL || ch->sess) {
		token_hex(c.cnonce, SP_TOKEN_LEN);
		c.nc = ++ph->auth.nc;
		snprintf(c.nc_text, sizeof(c.nc_text), "%08" PRIx32, c.nc);
	}
	if (qop != NULL)
		snprintf(c.qop, sizeof(c.qop), "%s", qop);
	if (ch->opaque[0] != '\0') {
		snprintf(c.opaque, sizeof(c.opaque), "%s", ch->opaque);
		c.has_opaque = 1;
	}
	c.alg = ch->alg;
	c.sess = ch->sess;
	c.has_alg = 1;
	if ((r = digest_response(ch->alg, ch->sess, ha1, ch->nonce,
	    c.nc_text[0] != '\0' ? c.nc_text : NULL, c.cnonce[0] != '\0' ?
	    c.cnonce : NULL, qop, req->sip_method, c.uri, NULL, 0,
	    c.response)) != 0 ||
	    (r = digest_creds_format(&c, hdr, sizeof(hdr))) != 0)
		goto out;
	headers_drop(req, "Authorization");
	headers_drop(req, "Proxy-Authorization");
	if (osip_message_set_header(req, hname, hdr) != 0)
		r = uc_fail(UC_ERR_ALLOC, "digest: cannot add %s", hname);
 out:
	if (uri != NULL)
		osip_free(uri);
	OPENSSL_cleanse(ha1, sizeof(ha1));
	OPENSSL_cleanse(hdr, sizeof(hdr));
	OPENSSL_cleanse(&c, sizeof(c));
	return r;
}

static int pump(struct phone *, enum wait, int64_t);

/*
 * Run req (taken) as our transaction until its final response,
 * answering challenges (spec 4): a 401/407 to an INVITE is ACKed by the
 * transaction, the retry gets CSeq + 1 (*cseq) and a new branch.  Cached
 * credentials go out first (nc + 1).  A challenge right after answering
 * a fresh one, without stale=true, means wrong credentials.  0 and *resp
 * (a final response other than 401/407; the caller frees), or UC_ERR_*.
 */
static int
request_run(struct phone *ph, osip_message_t *req, uint32_t *cseq,
    osip_message_t **resp)
{
	osip_message_t	*copy = NULL, *fin = NULL;
	char		 a[64];
	int		 r = 0, tries, fresh = 0;

	*resp = NULL;
	for (tries = 0; ; tries++) {
		if (ph->auth.valid && (r = auth_add(ph, req)) != 0)
			goto out;
		if (osip_message_clone(req, &copy) != 0)
			die("out of memory");
		r = ct_start(ph, copy);
		copy = NULL;
		if (r != 0 || (r = pump(ph, W_FINAL, mono_ms() +
		    ph->cf->timeout * 1000)) != 0)
			goto out;
		fin = ct_take_final(ph);
		if (fin->status_code != 401 && fin->status_code != 407)
			break;
		if ((r = auth_take(ph, fin)) != 0)
			goto out;
		if (tries + 1 >= SP_AUTH_TRIES || (fresh &&
		    !ph->auth.ch.stale)) {
			r = uc_fail(UC_ERR_POLICY, "%s: %s %d %s again after "
			    "our answer: credentials of %s refused (spec 4 "
			    "step 4)", ph->sig.peer, req->sip_method,
			    fin->status_code, vis(a, sizeof(a),
			    fin->reason_phrase), ph->cf->auth_user);
			goto out;
		}
		fresh = 1;
		cseq_set(req, ++*cseq);
		msg_free(fin);
		fin = NULL;
	}
	*resp = fin;
	fin = NULL;
 out:
	ct_clear(ph);
	msg_free(fin);
	msg_free(req);
	return r;
}

/* ---- SDP (spec 6) ------------------------------------------------- */

/* Wipe every attribute value (a=crypto keys), then free. */
static void
sdp_free_wiped(sdp_message_t *s)
{
	sdp_media_t	*md;
	sdp_attribute_t	*a;
	int		 i, j;

	if (s == NULL)
		return;
	for (i = 0; (a = osip_list_get(&s->a_attributes, i)) != NULL; i++)
		if (a->a_att_value != NULL)
			OPENSSL_cleanse(a->a_att_value, strlen(a->a_att_value));
	for (j = 0; (md = osip_list_get(&s->m_medias, j)) != NULL; j++)
		for (i = 0; (a = osip_list_get(&md->a_attributes, i)) != NULL;
		    i++)
			if (a->a_att_value != NULL)
				OPENSSL_cleanse(a->a_att_value,
				    strlen(a->a_att_value));
	sdp_message_free(s);
}

static char *
xstrdup(const char *s)
{
	char	*p;

	if ((p = osip_strdup(s)) == NULL)
		die("out of memory");
	return p;
}

/*
 * Our SDP: one audio stream at our RTP address, PCMU, the profile
 * (RTP/SAVP or RTP/AVP), the a=crypto lines cr[0 .. n - 1] and the
 * direction.  0 and *out (osip_malloc'd; the caller wipes and frees).
 */
static int
sdp_render(struct phone *ph, int savp, const struct sdes_crypto *cr,
    size_t n, int dir, char **out)
{
	struct media	*m = &ph->m;
	sdp_message_t	*s = NULL;
	const char	*at = m->family == AF_INET6 ? "IP6" : "IP4";
	char		 id[16], ver[16], port[8], line[SDES_LINE_MAX];
	size_t		 i;
	int		 e, r = 0;

	if (sdp_message_init(&s) != 0)
		die("out of memory");
	snprintf(id, sizeof(id), "%" PRIu32, ph->sdp_sessid);
	snprintf(ver, sizeof(ver), "%" PRIu32, ph->sdp_version++);
	snprintf(port, sizeof(port), "%d", m->lport);
	e = sdp_message_v_version_set(s, xstrdup("0"));
	e |= sdp_message_o_origin_set(s, xstrdup("ucsec"), xstrdup(id),
	    xstrdup(ver), xstrdup("IN"), xstrdup(at), xstrdup(m->laddr));
	e |= sdp_message_s_name_set(s, xstrdup("SIP Call"));
	e |= sdp_message_c_connection_add(s, -1, xstrdup("IN"), xstrdup(at),
	    xstrdup(m->laddr), NULL, NULL);
	e |= sdp_message_t_time_descr_add(s, xstrdup("0"), xstrdup("0"));
	e |= sdp_message_m_media_add(s, xstrdup("audio"), xstrdup(port), NULL,
	    xstrdup(savp ? "RTP/SAVP" : "RTP/AVP"));
	e |= sdp_message_m_payload_add(s, 0, xstrdup("0"));
	e |= sdp_message_a_attribute_add(s, 0, xstrdup("rtpmap"),
	    xstrdup("0 PCMU/8000"));
	for (i = 0; e == 0 && i < n; i++) {
		if ((r = sdes_format(&cr[i], line, sizeof(line))) != 0)
			break;
		e |= sdp_message_a_attribute_add(s, 0, xstrdup("crypto"),
		    xstrdup(line));
		OPENSSL_cleanse(line, sizeof(line));
	}
	e |= sdp_message_a_attribute_add(s, 0, xstrdup(dir_names[dir]), NULL);
	if (r == 0 && (e != 0 || sdp_message_to_str(s, out) != 0))
		r = uc_fail(UC_ERR_INTERNAL, "building our SDP");
	sdp_free_wiped(s);
	return r;
}

/* The direction attribute a is, or -1. */
static int
dir_of(const sdp_attribute_t *a)
{
	int	 i;

	for (i = 0; i < DIR__MAX && a->a_att_field != NULL; i++)
		if (strcmp(a->a_att_field, dir_names[i]) == 0)
			return i;
	return -1;
}

/* One a=crypto value into rs (spec 6.1, 8: no MKI, only WSH). */
static void
rsdp_crypto(struct rsdp *rs, const char *v)
{
	struct sdes_crypto	 c;
	int			 r;

	if (v == NULL) {
		rs->nbad++;
		return;
	}
	r = sdes_parse(v, strlen(v), &c);
	if (r == UC_ERR_UNSUPPORTED)
		return;			/* an unknown suite: skipped */
	if (r != 0 || c.has_mki || c.nparams > (c.wsh != 0 ? 1 : 0))
		rs->nbad++;
	else if (rs->n < SP_CRYPTO_MAX)
		rs->c[rs->n++] = c;
	OPENSSL_cleanse(&c, sizeof(c));
}

/* The c= of the stream (else the session's) into rs. */
static int
rsdp_addr(struct rsdp *rs, const sdp_message_t *s, sdp_media_t *md)
{
	sdp_connection_t	*c = osip_list_get(&md->c_connections, 0);
	struct sockaddr_in	*s4 = (struct sockaddr_in *)&rs->addr;
	struct sockaddr_in6	*s6 = (struct sockaddr_in6 *)&rs->addr;

	if (c == NULL)
		c = s->c_connection;
	if (c == NULL || c->c_addrtype == NULL || c->c_addr == NULL)
		return uc_fail(UC_ERR_FORMAT, "no c= line");
	memset(&rs->addr, 0, sizeof(rs->addr));
	if (strcmp(c->c_addrtype, "IP4") == 0 &&
	    inet_pton(AF_INET, c->c_addr, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)rs->port);
		rs->addrlen = sizeof(*s4);
		rs->null_addr = s4->sin_addr.s_addr == INADDR_ANY;
	} else if (strcmp(c->c_addrtype, "IP6") == 0 &&
	    inet_pton(AF_INET6, c->c_addr, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)rs->port);
		rs->addrlen = sizeof(*s6);
		rs->null_addr = IN6_IS_ADDR_UNSPECIFIED(&s6->sin6_addr);
	} else
		return uc_fail(UC_ERR_FORMAT, "c= is not a numeric IP4/IP6 "
		    "address");
	return 0;
}

/* The first audio stream of a parsed SDP into rs. */
static int
rsdp_stream(struct rsdp *rs, const sdp_message_t *s)
{
	sdp_media_t	*md = NULL;
	sdp_attribute_t	*a;
	int		 i, d;

	for (i = 0; i < 16 && (md = osip_list_get(&s->m_medias, i)) != NULL;
	    i++)
		if (md->m_media != NULL && strcmp(md->m_media, "audio") == 0)
			break;
	if (md == NULL || i == 16)
		return uc_fail(UC_ERR_FORMAT, "no audio stream");
	if ((rs->port = (int)text_num(md->m_port, 0, 65535)) < 0)
		return uc_fail(UC_ERR_FORMAT, "bad m= port");
	if (md->m_proto != NULL && (strcmp(md->m_proto, "RTP/SAVP") == 0 ||
	    strcmp(md->m_proto, "RTP/SAVPF") == 0))
		rs->savp = 1;
	else if (md->m_proto == NULL || (strcmp(md->m_proto, "RTP/AVP") != 0 &&
	    strcmp(md->m_proto, "RTP/AVPF") != 0))
		return uc_fail(UC_ERR_FORMAT, "m= profile is not RTP/AVP or "
		    "RTP/SAVP");
	rs->dir = DIR_SENDRECV;
	for (i = 0; (a = osip_list_get(&s->a_attributes, i)) != NULL; i++)
		if ((d = dir_of(a)) >= 0)
			rs->dir = d;
	for (i = 0; i < 64 && (a = osip_list_get(&md->a_attributes, i)) !=
	    NULL; i++) {
		if ((d = dir_of(a)) >= 0)
			rs->dir = d;
		else if (a->a_att_field != NULL &&
		    strcmp(a->a_att_field, "crypto") == 0)
			rsdp_crypto(rs, a->a_att_value);
	}
	return rs->port == 0 ? 0 : rsdp_addr(rs, s, md);
}

/*
 * What an SDP body says about its first audio stream (spec 6.1).  0, or
 * UC_ERR_FORMAT with the reason.  Keys in rs are wiped by rsdp_wipe.
 */
static int
rsdp_parse(const osip_message_t *msg, struct rsdp *rs)
{
	osip_body_t	*b = NULL;
	sdp_message_t	*s = NULL;
	char		*buf = NULL;
	int		 r;

	memset(rs, 0, sizeof(*rs));
	if (osip_message_get_body(msg, 0, &b) < 0 || b == NULL ||
	    b->body == NULL || b->length == 0)
		return uc_fail(UC_ERR_FORMAT, "no SDP body");
	if (b->length > SP_MSG_MAX || memchr(b->body, '\0', b->length))
		return uc_fail(UC_ERR_FORMAT, "SDP body with a NUL byte");
	if ((buf = malloc(b->length + 1)) == NULL)
		die("out of memory");
	memcpy(buf, b->body, b->length);
	buf[b->length] = '\0';
	if (sdp_message_init(&s) != 0)
		die("out of memory");
	if (sdp_message_parse(s, buf) != 0)
		r = uc_fail(UC_ERR_FORMAT, "SDP does not parse");
	else
		r = rsdp_stream(rs, s);
	sdp_free_wiped(s);
	OPENSSL_cleanse(buf, b->length);
	free(buf);
	return r;
}

static void
rsdp_wipe(struct rsdp *rs)
{
	OPENSSL_cleanse(rs, sizeof(*rs));
}

/* Does the message carry a body at all? */
static int
has_body(const osip_message_t *m)
{
	osip_body_t	*b = NULL;

	return osip_message_get_body(m, 0, &b) >= 0 && b != NULL &&
	    b->length > 0;
}

static int
dir_reverse(int d)
{
	return d == DIR_SENDONLY ? DIR_RECVONLY : d == DIR_RECVONLY ?
	    DIR_SENDONLY : d;
}

static int
suite_wanted(const struct conf *cf, int suite)
{
	size_t	 i;

	for (i = 0; i < cf->nsuites; i++)
		if (cf->suites[i] == suite)
			return 1;
	return 0;
}

static void
offer_clear(struct offer *o)
{
	OPENSSL_cleanse(o, sizeof(*o));
	memset(o, 0, sizeof(*o));
}

/*
 * Our offer (spec 6.3): --srtp mandatory RTP/SAVP, optional RTP/AVP,
 * each with one a=crypto per --suites (tags 1, 2, ...) with fresh keys;
 * off RTP/AVP without.  Without rekey, an SRTP session re-offers its
 * agreed line unchanged (spec 6.4: the context stays).
 */
static int
offer_make(struct phone *ph, int dir, int rekey, char **body)
{
	const struct conf *cf = ph->cf;
	struct offer	*o = &ph->offer;
	size_t		 i;
	int		 r;

	offer_clear(o);
	o->savp = cf->srtp == SRTP_MANDATORY;
	o->dir = dir;
	if (cf->srtp != SRTP_OFF && !rekey && ph->m.srtp) {
		o->c[0] = ph->m.mine;
		o->n = 1;
	} else if (cf->srtp != SRTP_OFF) {
		for (i = 0; i < cf->nsuites; i++)
			if ((r = sdes_new_key(cf->suites[i], (uint32_t)i + 1,
			    &o->c[o->n++])) != 0)
				return r;
	}
	return sdp_render(ph, o->savp, o->c, o->n, dir, body);
}

/*
 * The offerer's check of an answer (spec 6.3, 8): the stream accepted,
 * at most one a=crypto with a tag and suite we offered, none when we
 * offered none, one when --srtp mandatory.  0 and *mine (our offered
 * line; suite -1 for plain RTP), or UC_ERR_POLICY with the reason.
 */
static int
answer_check(struct phone *ph, const struct rsdp *rs, struct sdes_crypto *mine)
{
	const struct offer *o = &ph->offer;
	size_t		 i;

	memset(mine, 0, sizeof(*mine));
	mine->suite = -1;
	if (rs->port == 0)
		return uc_fail(UC_ERR_POLICY, "the answer rejects the audio "
		    "stream (port 0)");
	if (rs->n > 1 || rs->nbad > 0)
		return uc_fail(UC_ERR_POLICY, "the answer has %zu usable and "
		    "%d bad a=crypto lines; want exactly one (spec 6.3)",
		    rs->n, rs->nbad);
	if (rs->n == 0) {
		if (rs->savp)
			return uc_fail(UC_ERR_POLICY, "RTP/SAVP answer "
			    "without a=crypto");
		if (ph->cf->srtp == SRTP_MANDATORY)
			return uc_fail(UC_ERR_POLICY, "the answer has no "
			    "a=crypto and --srtp is mandatory");
		return 0;
	}
	for (i = 0; i < o->n; i++)
		if (o->c[i].tag == rs->c[0].tag &&
		    o->c[i].suite == rs->c[0].suite) {
			*mine = o->c[i];
			return 0;
		}
	return uc_fail(UC_ERR_POLICY, "the answer's a=crypto tag %" PRIu32
	    " %s is not one we offered (spec 6.3)", rs->c[0].tag,
	    sdes_suite_name(rs->c[0].suite));
}

/*
 * Our answer to the offer rs (spec 6.3): the offer's first a=crypto line
 * whose suite is in --suites, with its tag and suite and our own key
 * (kept when the session already has that suite, else fresh); plain RTP
 * when no crypto is agreed and the profile and --srtp allow it.  0 and
 * *body, *mine (suite -1: plain) and *theirs; UC_ERR_POLICY when the
 * offer is refused (488, the reason in the detail), other UC_ERR_*.
 */
static int
answer_make(struct phone *ph, const struct rsdp *rs, char **body,
    struct sdes_crypto *mine, struct sdes_crypto *theirs)
{
	const struct conf *cf = ph->cf;
	const struct sdes_crypto *pick = NULL;
	size_t		 i;
	int		 r;

	memset(mine, 0, sizeof(*mine));
	memset(theirs, 0, sizeof(*theirs));
	mine->suite = theirs->suite = -1;
	if (rs->port == 0)
		return uc_fail(UC_ERR_POLICY, "the offer's audio stream has port 0");
	for (i = 0; pick == NULL && i < rs->n; i++)
		if (suite_wanted(cf, rs->c[i].suite))
			pick = &rs->c[i];
	if (cf->srtp == SRTP_OFF && rs->savp)
		return uc_fail(UC_ERR_POLICY, "RTP/SAVP offered and --srtp off");
	if (pick == NULL && rs->savp)
		return uc_fail(UC_ERR_POLICY, "no a=crypto line with a suite of "
		    "--suites in the RTP/SAVP offer (%zu usable, %d bad)",
		    rs->n, rs->nbad);
	if (pick == NULL && cf->srtp == SRTP_MANDATORY)
		return uc_fail(UC_ERR_POLICY, "plain RTP offered and --srtp mandatory");
	if (pick != NULL && cf->srtp != SRTP_OFF) {
		*theirs = *pick;
		if (ph->m.srtp && ph->m.mine.suite == pick->suite)
			*mine = ph->m.mine;
		else if ((r = sdes_new_key(pick->suite, pick->tag, mine)) != 0)
			return r;
		mine->tag = pick->tag;
	}
	return sdp_render(ph, rs->savp, mine, mine->suite >= 0 ? 1 : 0,
	    dir_reverse(rs->dir), body);
}

/* ---- media ---------------------------------------------------------- */

enum { WK_STRAY, WK_AUTH, WK_BAD, WK_TX };

/* Log one line per bad packet, at most SP_WARN_MAX per kind. */
static void __attribute__((format(printf, 3, 4)))
media_warn(struct media *m, int kind, const char *fmt, ...)
{
	char	 buf[256];
	va_list	 ap;

	if (m->warned[kind]++ >= SP_WARN_MAX)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	log_warnx("%s%s", buf, m->warned[kind] == SP_WARN_MAX ?
	    " (no more lines of this kind)" : "");
}

/* The RTP socket on --rtp-bind or the signalling address, any port. */
static int
media_open(struct phone *ph)
{
	struct media		*m = &ph->m;
	const char		*ip = ph->cf->rtp_bind != NULL ?
				    ph->cf->rtp_bind : ph->sig.laddr;
	struct sockaddr_storage	 ss;
	struct sockaddr_in	*s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6	*s6 = (struct sockaddr_in6 *)&ss;
	socklen_t		 sl;

	memset(&ss, 0, sizeof(ss));
	m->suite = -1;
	if (inet_pton(AF_INET, ip, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		sl = sizeof(*s4);
	} else if (inet_pton(AF_INET6, ip, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		sl = sizeof(*s6);
	} else
		return uc_fail(UC_ERR_ARG, "RTP address %s is not numeric", ip);
	if ((m->fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1 ||
	    bind(m->fd, (struct sockaddr *)&ss, sl) == -1 ||
	    getsockname(m->fd, (struct sockaddr *)&ss, &sl) == -1)
		return uc_fail(UC_ERR_IO, "RTP socket on %s: %s", ip,
		    strerror(errno));
	m->family = ss.ss_family;
	addr_split((struct sockaddr *)&ss, m->laddr, sizeof(m->laddr),
	    &m->lport);
	rtp_tx_init(&m->tx, SP_PT, SP_PAYLOAD);
	if (ph->cf->sent != NULL)
		wbuf_init(&m->sentlog, SP_SENT_MAX);
	log_debug("RTP on %s port %d, SSRC %08" PRIx32, m->laddr, m->lport,
	    m->tx.ssrc);
	return 0;
}

/* Free the SRTP contexts and wipe the keys (spec 6.5). */
static void
media_keys_free(struct media *m)
{
	srtpw_free(m->txc);
	srtpw_free(m->rxc);
	srtpw_free(m->rxold);
	m->txc = m->rxc = m->rxold = NULL;
	sdes_wipe(&m->mine);
	sdes_wipe(&m->theirs);
	m->srtp = 0;
	m->suite = -1;
}

static void
media_close(struct media *m)
{
	media_keys_free(m);
	OPENSSL_cleanse(m->q, sizeof(m->q));
	if (m->fd != -1)
		close(m->fd);
	m->fd = -1;
	wbuf_free(&m->sentlog);
}

static int
key_same(const struct sdes_crypto *a, const struct sdes_crypto *b)
{
	return a->suite == b->suite && a->keysalt_len == b->keysalt_len &&
	    CRYPTO_memcmp(a->keysalt, b->keysalt, a->keysalt_len) == 0;
}

/* SRTP contexts for an agreed pair: tx from mine, rx from theirs. */
static int
media_keys(struct media *m, const struct sdes_crypto *mine,
    const struct sdes_crypto *theirs)
{
	int	 r;

	if (!m->srtp || !key_same(&m->mine, mine)) {
		srtpw_free(m->txc);
		m->txc = NULL;
		if ((r = srtpw_new(&m->txc, mine->suite, SRTPW_TX,
		    mine->keysalt, mine->keysalt_len, 0)) != 0)
			return r;
		m->mine = *mine;
	}
	if (!m->srtp || !key_same(&m->theirs, theirs)) {
		/* the old one decrypts packets still in flight */
		srtpw_free(m->rxold);
		m->rxold = m->rxc;
		m->rxc = NULL;
		if ((r = srtpw_new(&m->rxc, theirs->suite, SRTPW_RX,
		    theirs->keysalt, theirs->keysalt_len, 0)) != 0)
			return r;
		m->theirs = *theirs;
	}
	m->srtp = m->srtp_ever = 1;
	m->suite = m->last_suite = mine->suite;
	return 0;
}

/*
 * Apply a completed offer/answer: SRTP contexts (mine->suite -1: plain
 * RTP), where to send, and whether the directions let us send.
 */
static int
media_update(struct phone *ph, const struct rsdp *rs,
    const struct sdes_crypto *mine, const struct sdes_crypto *theirs,
    int ourdir)
{
	struct media	*m = &ph->m;
	char		 a[INET6_ADDRSTRLEN + 8];
	int		 r, was = m->send;

	if (mine->suite >= 0) {
		if ((r = media_keys(m, mine, theirs)) != 0)
			return r;
	} else if (m->srtp)
		media_keys_free(m);
	if (rs->port > 0 && !rs->null_addr) {
		memcpy(&m->peer, &rs->addr, rs->addrlen);
		m->peerlen = rs->addrlen;
	}
	m->send = (ourdir == DIR_SENDRECV || ourdir == DIR_SENDONLY) &&
	    (rs->dir == DIR_SENDRECV || rs->dir == DIR_RECVONLY) &&
	    rs->port > 0 && !rs->null_addr;
	if (m->send && !was)
		m->next_tick = mono_ms();
	m->active = 1;
	if (m->peerlen > 0)
		addr_text((struct sockaddr *)&m->peer, a, sizeof(a));
	log_debug("media: %s to %s, %s, we %s", m->srtp ? "SRTP" : "RTP",
	    m->peerlen > 0 ? a : "-", m->srtp ? sdes_suite_name(m->suite) :
	    "no crypto", m->send ? "send" : "do not send");
	return 0;
}

/* Send one packet: pattern payload, protected if SRTP, logged (--sent). */
static void
media_send_one(struct phone *ph)
{
	struct media	*m = &ph->m;
	uint8_t		 buf[SP_RTP_BUF];
	char		 line[32];
	uint32_t	 ssrc = m->tx.ssrc;
	uint16_t	 seq = m->tx.seq;
	size_t		 len;
	int		 r;

	len = rtp_tx_next(&m->tx, buf, sizeof(buf) - SRTPW_TRAILER_MAX,
	    SP_PAYLOAD);
	if (len == 0)
		return;
	if (m->txc != NULL && (r = srtpw_protect(m->txc, buf, &len,
	    sizeof(buf))) != 0) {
		media_warn(m, WK_TX, "SRTP protect failed: %s",
		    uc_errdetail());
		return;
	}
	if (sendto(m->fd, buf, len, 0, (struct sockaddr *)&m->peer,
	    m->peerlen) != (ssize_t)len) {
		media_warn(m, WK_TX, "RTP send: %s", strerror(errno));
		return;
	}
	m->sent++;
	if (ph->cf->sent != NULL) {
		snprintf(line, sizeof(line), "%08" PRIx32 " %u\n", ssrc,
		    (unsigned)seq);
		wbuf_put(&m->sentlog, line, strlen(line));
	}
}

/* Packets due on the 20 ms clock (a late loop catches up a little). */
static void
media_tick(struct phone *ph, int64_t now)
{
	struct media	*m = &ph->m;
	int		 n;

	if (!m->active || !m->send || ph->d.state == DLG_ENDED)
		return;
	for (n = 0; now >= m->next_tick && n < SP_CATCHUP; n++) {
		media_send_one(ph);
		m->next_tick += SP_PTIME_MS;
	}
	if (now >= m->next_tick)
		m->next_tick = now + SP_PTIME_MS;
}

static int64_t
media_next(const struct phone *ph)
{
	const struct media *m = &ph->m;

	if (!m->active || !m->send || ph->d.state == DLG_ENDED)
		return INT64_MAX;
	return m->next_tick;
}

static int
same_host(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return 0;
	if (a->ss_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
		    ((const struct sockaddr_in *)b)->sin_addr.s_addr;
	return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
	    &((const struct sockaddr_in6 *)b)->sin6_addr,
	    sizeof(struct in6_addr)) == 0;
}

/* Unprotect with the current rx context, else the previous one. */
static int
unprotect_any(struct media *m, uint8_t *buf, size_t *len)
{
	uint8_t	 copy[SP_RTP_BUF];
	size_t	 n = *len;
	int	 r;

	memcpy(copy, buf, n);
	r = m->rxc != NULL ? srtpw_unprotect(m->rxc, buf, len) :
	    UC_ERR_SIGNATURE;
	if (r == UC_ERR_SIGNATURE && m->rxold != NULL) {
		memcpy(buf, copy, n);
		*len = n;
		r = srtpw_unprotect(m->rxold, buf, len);
	}
	return r;
}

/* Account a plain RTP packet: pattern check (rtpflow counts it). */
static void
media_check(struct media *m, const uint8_t *buf, size_t len, const char *src)
{
	if (rtp_rx_check(&m->rx, buf, len) != 0)
		media_warn(m, WK_BAD, "RTP from %s: not RTP or not the "
		    "expected payload", src);
}

/* One datagram on the RTP socket. */
static void
media_packet(struct phone *ph, uint8_t *buf, size_t len,
    const struct sockaddr_storage *from)
{
	struct media	*m = &ph->m;
	char		 src[INET6_ADDRSTRLEN + 8];
	int		 r;

	addr_text((const struct sockaddr *)from, src, sizeof(src));
	if (!m->active || m->peerlen == 0) {
		m->early++;		/* before the keys: not counted */
		return;
	}
	if (!same_host(from, &m->peer)) {
		m->stray++;
		media_warn(m, WK_STRAY, "RTP from %s, not the peer's address; "
		    "ignored", src);
		return;
	}
	if (m->srtp && (r = unprotect_any(m, buf, &len)) != 0) {
		if (r == UC_ERR_SIGNATURE && ph->offer.pending &&
		    m->nq < SP_HOLDQ) {
			memcpy(m->q[m->nq], buf, len);
			m->qlen[m->nq++] = len;
		} else if (r == UC_ERR_SIGNATURE) {
			m->auth_failed++;
			media_warn(m, WK_AUTH, "SRTP from %s fails "
			    "authentication", src);
		} else if (r == UC_ERR_POLICY)
			m->replayed++;
		else {
			m->bad++;
			media_warn(m, WK_BAD, "a packet from %s that is not "
			    "SRTP: %s", src, uc_errdetail());
		}
		return;
	}
	media_check(m, buf, len, src);
}

/* Everything the RTP socket has now (bounded). */
static void
media_input(struct phone *ph)
{
	struct sockaddr_storage	 from;
	uint8_t			 buf[SP_RTP_BUF];
	socklen_t		 fl;
	ssize_t			 n;
	int			 i;

	for (i = 0; i < SP_RTP_BURST; i++) {
		fl = sizeof(from);
		n = recvfrom(ph->m.fd, buf, sizeof(buf), 0,
		    (struct sockaddr *)&from, &fl);
		if (n < 0)
			break;
		media_packet(ph, buf, (size_t)n, &from);
	}
}

/*
 * After a re-offer: packets that failed while the answer (perhaps a new
 * key) was on its way are tried again; what still fails is counted.
 */
static void
holdq_flush(struct phone *ph)
{
	struct media	*m = &ph->m;
	size_t		 len;
	int		 i, r = 0;

	for (i = 0; i < m->nq; i++) {
		len = m->qlen[i];
		if (!m->srtp || (r = unprotect_any(m, m->q[i], &len)) ==
		    UC_ERR_SIGNATURE) {
			m->auth_failed++;
			media_warn(m, WK_AUTH, "SRTP held during a re-offer "
			    "still fails authentication");
		} else if (r == UC_ERR_POLICY)
			m->replayed++;
		else if (r != 0)
			m->bad++;
		else
			media_check(m, m->q[i], len, "the peer");
	}
	OPENSSL_cleanse(m->q, sizeof(m->q));
	m->nq = 0;
}

/* ---- the loop ------------------------------------------------------- */

/* UDP: our request until a response (INVITE: until a 1xx), our 2xx
   until its ACK (RFC 3261 17.1.1.2, 17.1.2.2, 13.3.1.4). */
static void
retx_tick(struct phone *ph, int64_t now)
{
	struct ctrans	*ct = &ph->ct;
	struct uas2xx	*u = &ph->u2;

	if (ph->cf->tp != SPT_UDP)
		return;
	if (ct->active && !(ct->invite && ct->provisional) &&
	    now >= ct->next_retx) {
		log_debug("-> %s: %s again", ph->sig.peer, ct->method);
		(void)sig_send(ph, ct->text, ct->len);
		ct->interval = ct->invite ? 2 * ct->interval :
		    (2 * ct->interval > SP_T2 ? SP_T2 : 2 * ct->interval);
		ct->next_retx = now + ct->interval;
	}
	if (u->active && u->text != NULL && now >= u->next_retx) {
		log_debug("-> %s: 2xx again (no ACK yet)", ph->sig.peer);
		(void)sig_send(ph, u->text, u->len);
		u->interval = 2 * u->interval > SP_T2 ? SP_T2 : 2 * u->interval;
		u->next_retx = now + u->interval;
	}
}

static int64_t
retx_next(const struct phone *ph)
{
	int64_t	 t = INT64_MAX;

	if (ph->cf->tp != SPT_UDP)
		return t;
	if (ph->ct.active && !(ph->ct.invite && ph->ct.provisional))
		t = ph->ct.next_retx;
	if (ph->u2.active && ph->u2.next_retx < t)
		t = ph->u2.next_retx;
	return t;
}

static int
wait_met(const struct phone *ph, enum wait w)
{
	switch (w) {
	case W_FINAL:
		return ph->ct.final != NULL;
	case W_ACKED:
		return ph->d.state == DLG_CONFIRMED ||
		    ph->d.state == DLG_ENDED || ph->invite_refused ||
		    ph->failed;
	case W_TIME:
	case W_ENDED:
	default:
		return ph->d.state == DLG_ENDED;
	}
}

/*
 * Run the loop until w is met: signalling, RTP in and out, timers.  0
 * when met (W_TIME: also at the deadline or on SIGINT/SIGTERM), else
 * UC_ERR_IO (deadline, lost connection; a signal, except while a
 * transaction of ours runs: BYE and unREGISTER still complete).
 */
static int
pump(struct phone *ph, enum wait w, int64_t deadline)
{
	struct pollfd	 pfd[2];
	int64_t		 now, next;
	int		 n;

	for (;;) {
		if (wait_met(ph, w))
			return 0;
		if (ph->sig.closed)
			return uc_fail(UC_ERR_IO, "%s: connection %s while "
			    "waiting for %s", ph->sig.peer, ph->sig.why,
			    wait_names[w]);
		now = mono_ms();
		if ((interrupted && w != W_FINAL) || now >= deadline)
			return w == W_TIME ? 0 : uc_fail(UC_ERR_IO, "%s: %s "
			    "while waiting for %s", ph->sig.peer, interrupted ?
			    "interrupted" : "timed out", wait_names[w]);
		media_tick(ph, now);
		retx_tick(ph, now);
		next = deadline;
		if (media_next(ph) < next)
			next = media_next(ph);
		if (retx_next(ph) < next)
			next = retx_next(ph);
		pfd[0].fd = ph->sig.fd;
		pfd[0].events = POLLIN;
		pfd[0].revents = 0;
		pfd[1].fd = ph->m.fd;
		pfd[1].events = POLLIN;
		pfd[1].revents = 0;
		n = poll(pfd, 2, ph->sig.ssl != NULL &&
		    SSL_has_pending(ph->sig.ssl) ? 0 : next > now ?
		    (int)(next - now) : 0);
		if (n < 0 && errno != EINTR)
			return uc_fail(UC_ERR_IO, "poll: %s", strerror(errno));
		if (pfd[0].revents != 0 || (ph->sig.ssl != NULL &&
		    SSL_has_pending(ph->sig.ssl)))
			sig_input(ph);
		if (pfd[1].revents != 0)
			media_input(ph);
	}
}

/* ---- requests from the server (UAS) ----------------------------------- */

/* Copy an osip_malloc'd string s into dst (freed); 0, or -1 if too long. */
static int
take_str(char *dst, size_t sz, char *s)
{
	int	 r = -1;

	if (s != NULL && strlen(s) < sz) {
		memcpy(dst, s, strlen(s) + 1);
		r = 0;
	}
	if (s != NULL)
		osip_free(s);
	return r;
}

static int
callid_of(const osip_message_t *m, char *buf, size_t sz)
{
	char	*s = NULL;

	if (osip_call_id_to_str(m->call_id, &s) != 0)
		return -1;
	return take_str(buf, sz, s);
}

/* Is m in our dialog (Call-ID, To tag ours, From tag theirs)? */
static int
dlg_match(const struct phone *ph, const osip_message_t *m)
{
	const struct dialog *d = &ph->d;
	const char	*tt = tag_of(m->to), *ft = tag_of(m->from);
	char		 cid[SP_HDR_MAX];

	return d->state != DLG_NONE && callid_of(m, cid, sizeof(cid)) == 0 &&
	    strcmp(cid, d->callid) == 0 && tt != NULL && ft != NULL &&
	    strcmp(tt, d->ltag) == 0 && strcmp(ft, d->rtag) == 0;
}

/* The dialog an incoming INVITE makes (RFC 3261 12.1.1). */
static int
dlg_from_invite(struct phone *ph, const osip_message_t *m)
{
	struct dialog	*d = &ph->d;
	osip_contact_t	*c = osip_list_get(&m->contacts, 0);
	osip_from_t	*rr;
	char		*s = NULL, buf[SP_HDR_MAX];
	const char	*ft = tag_of(m->from);
	int		 i;

	memset(d, 0, sizeof(*d));
	token_hex(d->ltag, SP_TOKEN_LEN);
	if (ft == NULL || strlen(ft) >= sizeof(d->rtag))
		return uc_fail(UC_ERR_FORMAT, "INVITE without a From tag");
	snprintf(d->rtag, sizeof(d->rtag), "%s", ft);
	if (c == NULL || c->url == NULL || osip_uri_to_str(c->url, &s) != 0 ||
	    take_str(d->target, sizeof(d->target), s) != 0)
		return uc_fail(UC_ERR_FORMAT, "INVITE without a usable "
		    "Contact");
	s = NULL;
	if (callid_of(m, d->callid, sizeof(d->callid)) != 0 ||
	    osip_from_to_str(m->from, &s) != 0 ||
	    take_str(d->rhdr, sizeof(d->rhdr), s) != 0 ||
	    osip_to_to_str(m->to, &s) != 0 ||
	    take_str(buf, sizeof(buf) - SP_TOKEN_LEN - 6, s) != 0)
		return uc_fail(UC_ERR_FORMAT, "INVITE: Call-ID, From or To "
		    "too long");
	if ((size_t)snprintf(d->lhdr, sizeof(d->lhdr), "%s;tag=%s", buf,
	    d->ltag) >= sizeof(d->lhdr))
		return uc_fail(UC_ERR_FORMAT, "INVITE: To too long");
	for (i = 0; (rr = osip_list_get(&m->record_routes, i)) != NULL; i++)
		if (i >= SP_ROUTES_MAX || osip_from_to_str(rr, &s) != 0 ||
		    take_str(d->routes[d->nroutes++], SP_HDR_MAX, s) != 0)
			return uc_fail(UC_ERR_FORMAT, "INVITE: Record-Route "
			    "too long or too many");
	d->rcseq = d->invite_cseq = (uint32_t)cseq_num(m);
	d->have_rcseq = 1;
	d->lcseq = 100;
	return 0;
}

static void
u2_clear(struct uas2xx *u)
{
	if (u->text != NULL) {
		OPENSSL_cleanse(u->text, u->len);
		free(u->text);
	}
	memset(u, 0, sizeof(*u));
}

/* Our 2xx (with body) to an INVITE: resent until its ACK. */
static int
u2_send(struct phone *ph, const osip_message_t *req, const char *body,
    int want_answer)
{
	struct uas2xx	*u = &ph->u2;

	u2_clear(u);
	u->cseq = (uint32_t)cseq_num(req);
	u->want_answer = want_answer;
	u->interval = SP_T1;
	u->next_retx = mono_ms() + SP_T1;
	u->active = 1;
	return reply(ph, req, 200, NULL, ph->d.ltag, body, u);
}

/*
 * An offer in req (INVITE, re-INVITE, UPDATE): our answer in *body and
 * the media updated; or our offer when it has none (*want_answer: the
 * ACK answers).  0, or the status to refuse with (488, 500).
 */
static int
offer_take(struct phone *ph, const osip_message_t *req, char **body,
    int *want_answer)
{
	struct rsdp		 rs;
	struct sdes_crypto	 mine, theirs;
	char			 a[32];
	int			 r = 0, code = 0;

	*want_answer = 0;
	memset(&mine, 0, sizeof(mine));
	memset(&theirs, 0, sizeof(theirs));
	if (!has_body(req)) {
		*want_answer = 1;
		if ((r = offer_make(ph, DIR_SENDRECV, !ph->m.active, body)) != 0)
			code = 500;
	} else if ((r = rsdp_parse(req, &rs)) != 0 ||
	    (r = answer_make(ph, &rs, body, &mine, &theirs)) != 0 ||
	    (r = media_update(ph, &rs, &mine, &theirs,
	    dir_reverse(rs.dir))) != 0)
		code = r == UC_ERR_FORMAT || r == UC_ERR_POLICY ? 488 : 500;
	if (code != 0) {
		sig_warn(&ph->sig, "%s offer refused (%d): %s", vis(a,
		    sizeof(a), req->sip_method), code, uc_errdetail());
		if (*body != NULL)
			osip_text_free(*body, strlen(*body));
		*body = NULL;
	}
	rsdp_wipe(&rs);
	sdes_wipe(&mine);
	sdes_wipe(&theirs);
	return code;
}

/* A new INVITE: --answer takes it (180, 200), else 486. */
static void
uas_invite(struct phone *ph, const osip_message_t *m)
{
	char	 tok[SP_TOKEN_LEN + 1], *body = NULL;
	int	 code, want = 0;

	token_hex(tok, SP_TOKEN_LEN);
	if (!ph->cf->answer || ph->d.state != DLG_NONE || ph->invite_refused) {
		sig_warn(&ph->sig, "an INVITE while busy: 486");
		(void)reply(ph, m, 486, NULL, tok, NULL, NULL);
		return;
	}
	if (dlg_from_invite(ph, m) != 0) {
		sig_warn(&ph->sig, "INVITE refused (400): %s",
		    uc_errdetail());
		(void)reply(ph, m, 400, NULL, tok, NULL, NULL);
		memset(&ph->d, 0, sizeof(ph->d));
		ph->invite_refused = 1;
		return;
	}
	if ((code = offer_take(ph, m, &body, &want)) != 0) {
		(void)reply(ph, m, code, NULL, ph->d.ltag, NULL, NULL);
		memset(&ph->d, 0, sizeof(ph->d));
		ph->invite_refused = 1;
		return;
	}
	log_debug("%s: INVITE %s SDP: answering", ph->sig.peer, want ?
	    "without (delayed offer)" : "with");
	ph->d.state = DLG_EARLY;
	(void)reply(ph, m, 180, NULL, ph->d.ltag, NULL, NULL);
	(void)u2_send(ph, m, body, want);
	osip_text_free(body, strlen(body));
}

/* The ACK to our 2xx; it carries the answer when our 2xx offered. */
static void
uas_ack(struct phone *ph, const osip_message_t *m)
{
	struct rsdp		 rs;
	struct sdes_crypto	 mine;
	int			 want = ph->u2.want_answer, dir = ph->offer.dir;

	if (!dlg_match(ph, m) || !ph->u2.active ||
	    cseq_num(m) != ph->u2.cseq) {
		log_debug("%s: an ACK for nothing we wait for, ignored",
		    ph->sig.peer);
		return;
	}
	u2_clear(&ph->u2);
	memset(&rs, 0, sizeof(rs));
	if (want && (rsdp_parse(m, &rs) != 0 ||
	    answer_check(ph, &rs, &mine) != 0 ||
	    media_update(ph, &rs, &mine, &rs.c[0], dir) != 0)) {
		log_warnx("%s: the SDP answer in the ACK: %s", ph->sig.peer,
		    uc_errdetail());
		ph->failed = 1;
	}
	rsdp_wipe(&rs);
	if (want)
		sdes_wipe(&mine);
	if (ph->d.state == DLG_EARLY) {
		ph->d.state = DLG_CONFIRMED;
		ph->connected = !ph->failed;
	}
}

/* re-INVITE (hold, resume, rekey, refresh) or UPDATE in our dialog. */
static void
uas_reoffer(struct phone *ph, const osip_message_t *m, int invite)
{
	char	*body = NULL;
	int	 code, want = 0;

	if (invite && (ph->u2.active || (ph->ct.active && ph->ct.invite))) {
		(void)reply(ph, m, 491, NULL, ph->d.ltag, NULL, NULL);
		return;
	}
	if (!invite && !has_body(m)) {
		(void)reply(ph, m, 200, NULL, ph->d.ltag, NULL, NULL);
		return;
	}
	if ((code = offer_take(ph, m, &body, &want)) != 0) {
		(void)reply(ph, m, code, NULL, ph->d.ltag, NULL, NULL);
		return;
	}
	if (invite)
		(void)u2_send(ph, m, body, want);
	else
		(void)reply(ph, m, 200, NULL, ph->d.ltag, body, NULL);
	osip_text_free(body, strlen(body));
}

/* A request in our dialog. */
static void
uas_in_dialog(struct phone *ph, const osip_message_t *m)
{
	const char	*meth = m->sip_method;
	int64_t		 n = cseq_num(m);

	if (!dlg_match(ph, m)) {
		(void)reply(ph, m, 481, NULL, NULL, NULL, NULL);
		return;
	}
	if (ph->d.have_rcseq && n <= ph->d.rcseq) {
		(void)reply(ph, m, 500, "CSeq out of order", NULL, NULL, NULL);
		return;
	}
	ph->d.rcseq = (uint32_t)n;
	ph->d.have_rcseq = 1;
	if (strcmp(meth, "INVITE") == 0 || strcmp(meth, "UPDATE") == 0)
		uas_reoffer(ph, m, meth[0] == 'I');
	else if (strcmp(meth, "BYE") == 0) {
		log_debug("%s: BYE from the peer", ph->sig.peer);
		(void)reply(ph, m, 200, NULL, NULL, NULL, NULL);
		ph->d.state = DLG_ENDED;
		u2_clear(&ph->u2);
	} else if (strcmp(meth, "OPTIONS") == 0 || strcmp(meth, "INFO") == 0 ||
	    strcmp(meth, "NOTIFY") == 0)
		(void)reply(ph, m, 200, NULL, NULL, NULL, NULL);
	else
		(void)reply(ph, m, 405, NULL, NULL, NULL, NULL);
}

/* Every request from the server. */
static void
uas_request(struct phone *ph, const osip_message_t *m)
{
	const char	*meth = m->sip_method;
	char		 tok[SP_TOKEN_LEN + 1];

	if (strcmp(meth, "ACK") == 0) {
		uas_ack(ph, m);
		return;
	}
	if (rcache_replay(ph, m))
		return;
	if (strcmp(meth, "CANCEL") == 0) {
		log_debug("%s: CANCEL after our final answer; 200 only",
		    ph->sig.peer);
		(void)reply(ph, m, 200, NULL, NULL, NULL, NULL);
		return;
	}
	if (tag_of(m->to) != NULL) {
		uas_in_dialog(ph, m);
		return;
	}
	token_hex(tok, SP_TOKEN_LEN);
	if (strcmp(meth, "INVITE") == 0)
		uas_invite(ph, m);
	else if (strcmp(meth, "OPTIONS") == 0 || strcmp(meth, "NOTIFY") ==
	    0 || strcmp(meth, "MESSAGE") == 0)
		(void)reply(ph, m, 200, NULL, tok, NULL, NULL);
	else if (strcmp(meth, "BYE") == 0)
		(void)reply(ph, m, 481, NULL, tok, NULL, NULL);
	else
		(void)reply(ph, m, 405, NULL, tok, NULL, NULL);
}

/* One message from the server, whole (stream) or one datagram. */
static void
sip_input(struct phone *ph, const char *buf, size_t len)
{
	osip_message_t	*m = NULL;
	size_t		 i;

	for (i = 0; i < len && (buf[i] == '\r' || buf[i] == '\n'); i++)
		;
	if (i == len)
		return;			/* keepalive */
	if (osip_message_init(&m) != 0)
		die("out of memory");
	if (osip_message_parse(m, buf, len) != 0 ||
	    (m->sip_method == NULL && m->status_code == 0)) {
		sig_warn(&ph->sig, "a SIP message that does not parse (%zu "
		    "bytes), ignored", len);
		msg_free(m);
		return;
	}
	if (m->call_id == NULL || m->from == NULL || m->to == NULL ||
	    cseq_num(m) < 0 || top_branch(m) == NULL) {
		sig_warn(&ph->sig, "a SIP %s without Call-ID, From, To, CSeq "
		    "or Via branch, ignored", m->sip_method != NULL ?
		    "request" : "response");
		msg_free(m);
		return;
	}
	msg_trace(ph, "<-", m);
	callinfo_collect(ph, m);
	if (m->sip_method != NULL)
		uas_request(ph, m);
	else
		ct_response(ph, &m);
	msg_free(m);
}

/* ---- flows ---------------------------------------------------------- */

/* The Warning text of a refusal, for the error line. */
static const char *
warning_of(const osip_message_t *m, char *buf, size_t sz)
{
	osip_header_t	*h = NULL;
	char		 v[200];

	if (osip_message_header_get_byname(m, "warning", 0, &h) < 0 ||
	    h == NULL || h->hvalue == NULL)
		return "";
	snprintf(buf, sz, " (Warning: %s)", log_vis(v, sizeof(v), h->hvalue,
	    strlen(h->hvalue)));
	return buf;
}

/*
 * REGISTER (spec 3, 9.1): our Contact with +sip.instance and the
 * device name, Supported with the Cisco tags, Expires (0: unregister).
 */
static int
register_run(struct phone *ph, int expires)
{
	const struct conf *cf = ph->cf;
	osip_message_t	*req = NULL, *resp = NULL;
	char		 ruri[300], from[SP_HDR_MAX], to[SP_HDR_MAX];
	char		 c[2 * SP_HDR_MAX], e[16], a[64], w[256];
	int		 r;

	snprintf(ruri, sizeof(ruri), "sip:%s", cf->domain);
	snprintf(from, sizeof(from), "<sip:%s@%s>;tag=%s", cf->user,
	    cf->domain, ph->reg_tag);
	snprintf(to, sizeof(to), "<sip:%s@%s>", cf->user, cf->domain);
	if ((r = req_new(ph, "REGISTER", ruri, from, to, ph->reg_callid,
	    ++ph->reg_cseq, NULL, &req)) != 0)
		return r;
	contact_value(ph, c, sizeof(c));
	snprintf(c + strlen(c), sizeof(c) - strlen(c),
	    ";+sip.instance=\"<urn:uuid:%s>\"", ph->instance);
	if (ph->devname[0] != '\0')
		snprintf(c + strlen(c), sizeof(c) - strlen(c),
		    ";+u.sip!devicename.ccm.cisco.com=\"%s\"", ph->devname);
	snprintf(e, sizeof(e), "%d", expires);
	if (osip_message_set_contact(req, c) != 0 ||
	    osip_message_set_header(req, "Supported", SP_SUPPORTED) != 0 ||
	    osip_message_set_expires(req, e) != 0) {
		msg_free(req);
		return uc_fail(UC_ERR_FORMAT, "REGISTER: Contact %s", c);
	}
	if ((r = request_run(ph, req, &ph->reg_cseq, &resp)) != 0)
		return r;
	if (resp->status_code >= 300)
		r = uc_fail(UC_ERR_POLICY, "%s: REGISTER %s: %d %s%s",
		    ph->sig.peer, cf->user, resp->status_code, vis(a, sizeof(a),
		    resp->reason_phrase), warning_of(resp, w, sizeof(w)));
	else
		log_debug("%s: %s %s over %s", ph->sig.peer, expires ?
		    "registered" : "unregistered", cf->user, tp_names[cf->tp]);
	msg_free(resp);
	return r;
}

/* The ACK to the 2xx of our INVITE (a transaction of its own). */
static int
ack_2xx(struct phone *ph, const char *body)
{
	osip_message_t	*a = NULL;
	char		 tok[SP_TOKEN_LEN + 1], br[SP_TOKEN_LEN + 8];
	int		 r;

	if ((r = dlg_request(ph, "ACK", &a)) != 0)
		return r;
	token_hex(tok, SP_TOKEN_LEN);
	snprintf(br, sizeof(br), "z9hG4bK%s", tok);
	if ((r = body_set(a, body)) != 0 || (r = via_set(ph, a, br)) != 0) {
		msg_free(a);
		return r;
	}
	ph->ack_cseq = ph->d.invite_cseq;
	return ack_keep(ph, a, &ph->ack, &ph->acklen);
}

/* The dialog the 2xx to our INVITE makes (RFC 3261 12.1.2). */
static int
dlg_from_2xx(struct phone *ph, const osip_message_t *resp)
{
	struct dialog	*d = &ph->d;
	osip_contact_t	*c = osip_list_get(&resp->contacts, 0);
	osip_from_t	*rr;
	const char	*tt = tag_of(resp->to);
	char		*s = NULL;
	int		 i, n;

	if (tt == NULL || strlen(tt) >= sizeof(d->rtag))
		return uc_fail(UC_ERR_FORMAT, "2xx without a To tag");
	snprintf(d->rtag, sizeof(d->rtag), "%s", tt);
	if (c == NULL || c->url == NULL || osip_uri_to_str(c->url, &s) != 0 ||
	    take_str(d->target, sizeof(d->target), s) != 0)
		return uc_fail(UC_ERR_FORMAT, "2xx without a usable Contact");
	s = NULL;
	if (osip_to_to_str(resp->to, &s) != 0 ||
	    take_str(d->rhdr, sizeof(d->rhdr), s) != 0)
		return uc_fail(UC_ERR_FORMAT, "2xx: To too long");
	n = osip_list_size(&resp->record_routes);
	if (n > SP_ROUTES_MAX)
		return uc_fail(UC_ERR_FORMAT, "2xx: %d Record-Route", n);
	d->nroutes = 0;
	for (i = n - 1; i >= 0; i--) {
		s = NULL;
		rr = osip_list_get(&resp->record_routes, i);
		if (osip_from_to_str(rr, &s) != 0 ||
		    take_str(d->routes[d->nroutes++], SP_HDR_MAX, s) != 0)
			return uc_fail(UC_ERR_FORMAT, "2xx: Record-Route too "
			    "long");
	}
	d->invite_cseq = (uint32_t)cseq_num(resp);
	return 0;
}

/*
 * The SDP of the 2xx to our INVITE: the answer to our offer, or (delayed
 * offer) its offer, answered in the ACK.  The ACK is sent either way.
 */
static int
call_2xx_sdp(struct phone *ph, const osip_message_t *resp)
{
	struct rsdp		 rs;
	struct sdes_crypto	 mine, theirs;
	char			*body = NULL;
	int			 r, ra;

	memset(&mine, 0, sizeof(mine));
	memset(&theirs, 0, sizeof(theirs));
	if ((r = rsdp_parse(resp, &rs)) == 0) {
		if (ph->cf->delayed)
			r = answer_make(ph, &rs, &body, &mine, &theirs);
		else if ((r = answer_check(ph, &rs, &mine)) == 0)
			theirs = rs.c[0];
	}
	if (r == 0)
		r = media_update(ph, &rs, &mine, &theirs, ph->cf->delayed ?
		    dir_reverse(rs.dir) : ph->offer.dir);
	if (r != 0)
		uc_prefix("the SDP of the 2xx");
	ra = ack_2xx(ph, r == 0 ? body : NULL);
	if (body != NULL)
		osip_text_free(body, strlen(body));
	rsdp_wipe(&rs);
	sdes_wipe(&mine);
	sdes_wipe(&theirs);
	return r != 0 ? r : ra;
}

/* BYE in our dialog; the call is over whatever the answer. */
static void
bye_run(struct phone *ph)
{
	osip_message_t	*req = NULL, *resp = NULL;
	int		 r;

	if (ph->d.state != DLG_CONFIRMED && ph->d.state != DLG_EARLY)
		return;
	if ((r = dlg_request(ph, "BYE", &req)) == 0 &&
	    (r = request_run(ph, req, &ph->d.lcseq, &resp)) == 0 &&
	    resp->status_code >= 300 && resp->status_code != 481)
		r = uc_fail(UC_ERR_POLICY, "BYE: %d", resp->status_code);
	if (r != 0) {
		log_warnx("hanging up: %s", uc_errdetail());
		ph->bye_failed = 1;
	} else
		log_debug("%s: hung up", ph->sig.peer);
	msg_free(resp);
	ph->d.state = DLG_ENDED;
}

/*
 * A re-INVITE of ours (spec 6.4): hold (a=sendonly, the key kept) or
 * resume (sendrecv, new keys).  Failure is noted, the call goes on.
 */
static void
reinvite_run(struct phone *ph, int dir, int rekey)
{
	osip_message_t	*req = NULL, *resp = NULL;
	char		*body = NULL;
	int		 r;

	log_debug("%s: re-INVITE, %s%s", ph->sig.peer, dir_names[dir], rekey ?
	    ", new keys" : "");
	if ((r = offer_make(ph, dir, rekey, &body)) == 0 &&
	    (r = dlg_request(ph, "INVITE", &req)) == 0 &&
	    (r = body_set(req, body)) != 0)
		msg_free(req);
	if (body != NULL)
		osip_text_free(body, strlen(body));
	ph->offer.pending = 1;
	if (r == 0 && (r = request_run(ph, req, &ph->d.lcseq, &resp)) == 0) {
		if (resp->status_code >= 300)
			r = uc_fail(UC_ERR_POLICY, "re-INVITE: %d",
			    resp->status_code);
		else if ((r = dlg_from_2xx(ph, resp)) == 0)
			r = call_2xx_sdp(ph, resp);
	}
	ph->offer.pending = 0;
	holdq_flush(ph);
	msg_free(resp);
	if (r != 0) {
		log_warnx("%s: %s: %s", ph->sig.peer, dir == DIR_SENDONLY ?
		    "hold" : "resume", uc_errdetail());
		ph->hold_failed = 1;
	}
}

/* Media for --talk seconds; --hold: hold halfway, resume at 3/4. */
static void
talk_run(struct phone *ph)
{
	int64_t	 t0 = mono_ms(), len = (int64_t)ph->cf->talk * 1000;

	if (ph->cf->hold) {
		(void)pump(ph, W_TIME, t0 + len / 2);
		if (ph->d.state == DLG_ENDED || interrupted)
			return;
		reinvite_run(ph, DIR_SENDONLY, 0);
		(void)pump(ph, W_TIME, t0 + 3 * len / 4);
		if (ph->d.state == DLG_ENDED || interrupted)
			return;
		reinvite_run(ph, DIR_SENDRECV, 1);
	}
	(void)pump(ph, W_TIME, t0 + len);
}

/* --call: INVITE (with our offer unless --delayed-offer), ACK, talk, BYE. */
static int
caller_run(struct phone *ph)
{
	const struct conf *cf = ph->cf;
	struct dialog	*d = &ph->d;
	osip_message_t	*req = NULL, *resp = NULL;
	char		 tok[SP_TOKEN_LEN + 1], ruri[SP_HDR_MAX], a[64], w[256];
	char		*body = NULL;
	int		 r;

	memset(d, 0, sizeof(*d));
	token_hex(tok, SP_TOKEN_LEN);
	token_hex(d->ltag, SP_TOKEN_LEN);
	snprintf(d->callid, sizeof(d->callid), "%s@%s", tok, ph->sig.lhost);
	snprintf(ruri, sizeof(ruri), "sip:%s@%s", cf->callee, cf->domain);
	if ((size_t)snprintf(d->lhdr, sizeof(d->lhdr), "<sip:%s@%s>;tag=%s",
	    cf->user, cf->domain, d->ltag) >= sizeof(d->lhdr) ||
	    (size_t)snprintf(d->rhdr, sizeof(d->rhdr), "<sip:%s@%s>",
	    cf->callee, cf->domain) >= sizeof(d->rhdr))
		return uc_fail(UC_ERR_ARG, "--server host too long");
	snprintf(d->target, sizeof(d->target), "%s", ruri);
	d->lcseq = 1;
	if ((!cf->delayed && (r = offer_make(ph, DIR_SENDRECV, 1, &body)) !=
	    0) || (r = req_new(ph, "INVITE", ruri, d->lhdr, d->rhdr, d->callid,
	    d->lcseq, NULL, &req)) != 0 || (r = body_set(req, body)) != 0) {
		msg_free(req);
		goto out;
	}
	if ((r = request_run(ph, req, &d->lcseq, &resp)) != 0)
		goto out;
	if (resp->status_code >= 300) {
		r = uc_fail(UC_ERR_POLICY, "%s: INVITE %s: %d %s%s",
		    ph->sig.peer, cf->callee, resp->status_code, vis(a, sizeof(a), resp->reason_phrase),
		    warning_of(resp, w, sizeof(w)));
		goto out;
	}
	if ((r = dlg_from_2xx(ph, resp)) != 0)
		goto out;
	d->state = DLG_CONFIRMED;
	if ((r = call_2xx_sdp(ph, resp)) != 0) {
		bye_run(ph);
		goto out;
	}
	ph->connected = 1;
	log_debug("%s: call to %s connected", ph->sig.peer, cf->callee);
	talk_run(ph);
	if (d->state != DLG_ENDED)
		bye_run(ph);
 out:
	if (body != NULL)
		osip_text_free(body, strlen(body));
	msg_free(resp);
	return r;
}

/* --answer: wait for the INVITE, talk, wait for the BYE. */
static int
answer_run(struct phone *ph)
{
	int	 r;

	if ((r = pump(ph, W_ACKED, mono_ms() + ph->cf->timeout * 1000)) != 0)
		return r;
	if (ph->invite_refused)
		return uc_fail(UC_ERR_POLICY, "the INVITE was refused");
	if (ph->failed) {
		bye_run(ph);
		return uc_fail(UC_ERR_POLICY, "the call failed after the ACK");
	}
	if (ph->d.state == DLG_CONFIRMED)
		log_debug("%s: call connected", ph->sig.peer);
	talk_run(ph);
	if (ph->d.state != DLG_ENDED &&
	    (r = pump(ph, W_ENDED, mono_ms() + ph->cf->timeout * 1000)) != 0) {
		log_warnx("%s; hanging up", uc_errdetail());
		bye_run(ph);
		return uc_fail(UC_ERR_IO, "no BYE from the caller");
	}
	return 0;
}

/* ---- result and main -------------------------------------------------- */

/* What the phone can tell: TLS with a real cipher and SRTP, TLS, else. */
static int
security_level(const struct phone *ph)
{
	if (ph->cf->tp != SPT_TLS)
		return SEC_NONSECURE;
	if (ph->sig.tls_enc && ph->connected && ph->m.srtp_ever)
		return SEC_ENCRYPTED;
	return SEC_AUTHENTICATED;
}

/*
 * The Call-Info values seen, then the result line; returns the exit
 * code: 0 only when registered, the call (if asked) connected and
 * received media, nothing bad or unauthenticated came, and the security
 * level is the one --expect-security names.
 */
static int
result_print(const struct phone *ph)
{
	const struct conf	*cf = ph->cf;
	const struct media	*m = &ph->m;
	uint64_t		 bad;
	int			 i, sec = security_level(ph), want, ok;
	char			 v[2 * SP_HDR_MAX];

	/* not SRTP, not RTP, not the pattern, another SSRC, replayed */
	bad = m->bad + m->rx.bad + m->rx.other_ssrc + m->replayed +
	    m->rx.duplicates;
	want = cf->callee != NULL || cf->answer;
	for (i = 0; i < ph->ncallinfo; i++)
		printf("call-info %s\n", vis(v, sizeof(v), ph->callinfo[i]));
	printf("result user=%s registered=%d call=%s security=%s srtp=%s "
	    "sent=%" PRIu64 " received=%" PRIu64 " lost=%" PRIu64 " bad=%"
	    PRIu64 " auth_failed=%" PRIu64 "\n", cf->user, ph->registered,
	    !want ? "none" : ph->connected && !ph->failed ? "connected" :
	    "failed", sec_names[sec], m->srtp_ever ?
	    sdes_suite_name(m->last_suite) : "none",
	    m->sent, m->rx.received, rtp_rx_lost(&m->rx), bad, m->auth_failed);
	fflush(stdout);
	ok = ph->registered && bad == 0 && m->auth_failed == 0 &&
	    !ph->hold_failed && !ph->bye_failed && (cf->expect < 0 ||
	    cf->expect == sec);
	if (want)
		ok = ok && ph->connected && !ph->failed && m->rx.received > 0;
	if (ok == 0 && cf->expect >= 0 && cf->expect != sec)
		log_warnx("security %s, want %s (--expect-security)",
		    sec_names[sec], sec_names[cf->expect]);
	return ok ? 0 : 1;
}

/* The device name for the Contact: --device, else the certificate CN. */
static void
device_name(struct phone *ph)
{
	const struct conf	*cf = ph->cf;
	X509			*x = NULL;
	const X509_NAME		*n;
	const ASN1_STRING	*d;
	const uint8_t		*p;
	int			 i, len, j;

	if (cf->device != NULL) {
		snprintf(ph->devname, sizeof(ph->devname), "%s", cf->device);
		return;
	}
	if (cf->cert == NULL || cert_load(cf->cert, &x) != 0)
		return;
	n = X509_get_subject_name(x);
	if ((i = X509_NAME_get_index_by_NID(n, NID_commonName, -1)) >= 0 &&
	    (d = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(n, i))) != NULL) {
		p = ASN1_STRING_get0_data(d);
		len = ASN1_STRING_length(d);
		for (j = 0; j < len; j++)
			if (p[j] <= 0x20 || p[j] >= 0x7f || p[j] == '"' ||
			    p[j] == '\\')
				break;
		if (len > 0 && j == len && (size_t)len < sizeof(ph->devname))
			memcpy(ph->devname, p, (size_t)len);
	}
	X509_free(x);
}

/* +sip.instance: the MAC of a SEP device name, else random (spec 3). */
static void
instance_id(struct phone *ph)
{
	char	 mac[13];
	size_t	 i;

	token_hex(mac, 12);
	if (strlen(ph->devname) == 15 && strncmp(ph->devname, "SEP", 3) == 0) {
		for (i = 0; i < 12; i++)
			if (strchr("0123456789ABCDEFabcdef", ph->devname[3 + i])
			    == NULL)
				break;
		if (i == 12)
			memcpy(mac, ph->devname + 3, 12);
	}
	snprintf(ph->instance, sizeof(ph->instance),
	    "00000000-0000-0000-0000-%s", mac);
}

/* Sockets, TLS, RTP: everything before the first REGISTER. */
static int
phone_setup(struct phone *ph)
{
	const struct conf *cf = ph->cf;
	char		 tok[SP_TOKEN_LEN + 1];
	uint32_t	 id;
	int		 r;

	if ((r = srtpw_init()) != 0)
		return r;
	if (RAND_bytes((uint8_t *)&id, sizeof(id)) != 1)
		die("RAND_bytes failed");
	ph->sdp_sessid = id >> 1;
	token_hex(ph->reg_tag, SP_TOKEN_LEN);
	if (cf->tp != SPT_UDP && (ph->sig.in = malloc(SP_IN_MAX)) == NULL)
		die("out of memory");
	if (cf->tp == SPT_TLS && (r = tls_setup(cf, &ph->sig.ctx)) != 0)
		return r;
	device_name(ph);
	instance_id(ph);
	if ((r = sig_connect(ph)) != 0 || (r = media_open(ph)) != 0)
		return r;
	token_hex(tok, SP_TOKEN_LEN);
	snprintf(ph->reg_callid, sizeof(ph->reg_callid), "%s@%s", tok,
	    ph->sig.lhost);
	return 0;
}

static void
phone_free(struct phone *ph)
{
	int	 i;

	ct_clear(ph);
	u2_clear(&ph->u2);
	offer_clear(&ph->offer);
	media_close(&ph->m);
	for (i = 0; i < SP_RCACHE; i++)
		if (ph->rc[i].text != NULL) {
			OPENSSL_cleanse(ph->rc[i].text, ph->rc[i].len);
			free(ph->rc[i].text);
		}
	osip_text_free(ph->ack, ph->acklen);
	osip_text_free(ph->nack, ph->nacklen);
	if (ph->sig.ssl != NULL) {
		if (!ph->sig.closed)
			(void)SSL_shutdown(ph->sig.ssl);
		SSL_free(ph->sig.ssl);
	}
	SSL_CTX_free(ph->sig.ctx);
	if (ph->sig.fd != -1)
		close(ph->sig.fd);
	if (ph->sig.in != NULL) {
		OPENSSL_cleanse(ph->sig.in, SP_IN_MAX);
		free(ph->sig.in);
	}
	OPENSSL_cleanse(&ph->auth, sizeof(ph->auth));
	free(ph);
}

/* --sent: one line "SSRC SEQ" per packet sent, written atomically. */
static int
sent_write(struct phone *ph)
{
	struct wbuf	*w = &ph->m.sentlog;

	if (ph->cf->sent == NULL)
		return 0;
	if (!wbuf_ok(w))
		return uc_fail(UC_ERR_ARG, "--sent %s: more than %u bytes",
		    ph->cf->sent, SP_SENT_MAX);
	return file_write_atomic(ph->cf->sent, w->data != NULL ?
	    (const void *)w->data : (const void *)"", w->len, 0644, NULL,
	    NULL);
}

static int
phone_main(struct conf *cf)
{
	struct phone	*ph;
	int		 r, rc;

	if ((ph = calloc(1, sizeof(*ph))) == NULL)
		die("out of memory");
	ph->cf = cf;
	ph->sig.fd = ph->m.fd = -1;
	ph->m.suite = -1;
	if ((r = phone_setup(ph)) != 0 || (r = register_run(ph,
	    SP_EXPIRES)) != 0)
		(void)cmd_fail(r);
	else {
		ph->registered = 1;
		r = 0;
		if (cf->callee != NULL)
			r = caller_run(ph);
		else if (cf->answer)
			r = answer_run(ph);
		if (r != 0)
			(void)cmd_fail(r);
		if (!ph->sig.closed && (r = register_run(ph, 0)) != 0)
			log_warnx("unregister: %s", uc_errdetail());
	}
	if ((r = sent_write(ph)) != 0)
		(void)cmd_fail(r);
	rc = result_print(ph);
	if (r != 0)
		rc = 1;
	phone_free(ph);
	return rc;
}

/* libosip2 traces parse errors to stderr: we log our own line instead. */
static void
osip_trace_drop(const char *file, int line, osip_trace_level_t level,
    const char *fmt, va_list ap)
{
	(void)file;
	(void)line;
	(void)level;
	(void)fmt;
	(void)ap;
}

static void
osip_setup(void)
{
	int	 l;

	parser_init();
	osip_trace_initialize_func(TRACE_LEVEL0, osip_trace_drop);
	for (l = TRACE_LEVEL0; l < END_TRACE_LEVEL; l++)
		osip_trace_disable_level((osip_trace_level_t)l);
}

int
main(int argc, char *argv[])
{
	struct conf	 cf;
	int		 rc;

	log_init("sip-phone", 0, LOG_LEVEL_INFO);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	memset(&cf, 0, sizeof(cf));
	if ((rc = conf_parse(&cf, argc, argv)) == 0) {
		if (cf.verbose)
			log_set_level(LOG_LEVEL_DEBUG);
		osip_setup();
		rc = phone_main(&cf);
	}
	OPENSSL_cleanse(cf.password, sizeof(cf.password));
	return rc;
}
