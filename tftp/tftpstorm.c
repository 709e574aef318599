/*
 * tftpstorm: TFTP read-request load generator.  Simulates many phones
 * booting at once: each client fetches every FILE in order, with the
 * options asked (RFC 2347 blksize, tsize, timeout, RFC 7440 windowsize),
 * a fresh UDP socket (transfer ID) per transfer, and reports transfer
 * rate, throughput, latency percentiles and failures.
 *
 * One process, one thread, libevent.  Every wait is bounded: a transfer
 * fails after --retries silent timeouts or after its deadline without
 * progress; --duration mode has a hard stop.
 */
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <netinet/in.h>

#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netdb.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "daemon.h"
#include "fileio.h"
#include "log.h"
#include "tftppkt.h"
#include "uerr.h"

#define STORM_CLIENTS_MAX	100000	/* simulated phones */
#define STORM_FILES_MAX		64	/* FILE arguments */
#define STORM_REPEAT_MAX	1000000	/* rounds per client */
#define STORM_DURATION_MAX	86400	/* one day of load at most */
#define STORM_RETRIES_MAX	100	/* silent timeouts before giving up */
#define STORM_SAMPLES_MAX	(16UL * 1024 * 1024) /* latencies kept */
#define STORM_RECV_BURST	64	/* datagrams read per wakeup */
#define STORM_REQ_MAX		512	/* RRQ: name, mode, four options */
#define STORM_RCVBUF_DEF	(4 * 1024 * 1024) /* one window never drops */
#define STORM_RCVBUF_MAX	(256 * 1024 * 1024)
#define STORM_SIZE_DEF		(1ULL << 30) /* a transfer larger fails */
#define STORM_COMPARE_MAX	(512UL * 1024 * 1024) /* local copy size */
#define STORM_LOG_FAILS		10	/* failures logged one by one */

enum xfer_state {
	XS_RRQ,			/* request sent, no answer yet */
	XS_DATA,		/* receiving blocks */
	XS__MAX
};

enum fail_kind {
	FAIL_TIMEOUT,		/* retries or deadline exhausted */
	FAIL_ERROR,		/* server sent ERROR */
	FAIL_PROTO,		/* malformed or unexpected packet */
	FAIL_VERIFY,		/* size or content differs */
	FAIL_SOCKET,		/* local socket failure */
	FAIL__MAX
};

static const char *const fail_names[FAIL__MAX] = {
	"timeout", "server_error", "protocol", "verify", "socket",
};

struct local {
	uint8_t		*buf;		/* expected content, or NULL */
	size_t		 len;
};

struct conf {
	const char	*host;		/* --server */
	const char	*port;		/* --port */
	struct sockaddr_storage addr;	/* resolved server */
	socklen_t	 addrlen;
	int		 clients;	/* simulated phones */
	int		 concurrency;	/* transfers in flight at most */
	int		 repeat;	/* rounds over the file list */
	int		 duration;	/* seconds; 0: use repeat */
	int		 blksize;	/* 0: do not ask */
	int		 windowsize;	/* 0: do not ask */
	int		 tsize;		/* ask tsize 0 */
	int		 timeout;	/* seconds before retransmitting */
	int		 ask_timeout;	/* also send it as an option */
	int		 retries;	/* retransmissions per silence */
	long long	 expect_size;	/* -1: no check */
	const char	*compare_dir;	/* NULL: no content check */
	uint64_t	 max_size;	/* bytes a transfer may bring */
	int		 rcvbuf;	/* SO_RCVBUF per socket */
	int		 json;
	char	       **files;
	int		 nfiles;
	struct local	*locals;	/* nfiles entries */
	uint8_t		 req[STORM_FILES_MAX][STORM_REQ_MAX]; /* RRQs */
	size_t		 reqlen[STORM_FILES_MAX];
};

struct stats {
	uint64_t	 ok;
	uint64_t	 failed;
	uint64_t	 fails[FAIL__MAX];
	uint64_t	 bytes;		/* payload of good transfers */
	uint64_t	 retrans;	/* packets re-sent after a timeout */
	uint64_t	 timeouts;	/* timer expiries */
	uint64_t	 ooo;		/* DATA out of order or duplicate */
	uint64_t	 nacks;		/* ACKs sent for a window gap */
	uint64_t	 badtid;	/* packets from a stranger */
	double		*ms;		/* transfer times */
	size_t		 nms;
	size_t		 capms;
};

struct storm;
struct client;

struct xfer {
	struct client	*cl;
	int		 fd;		/* -1 when idle */
	struct event	*ev;
	unsigned int	 gen;		/* bumped per transfer start */
	enum xfer_state	 state;
	int		 file;		/* index into conf files */
	struct sockaddr_storage peer;	/* server transfer ID */
	socklen_t	 peerlen;
	int		 have_peer;
	uint16_t	 next;		/* next block wanted */
	uint16_t	 blksize;	/* negotiated */
	uint16_t	 window;	/* negotiated */
	uint16_t	 inwin;		/* in-order blocks since last ACK */
	int		 nacked;	/* gap ACK sent, awaiting in-order */
	int		 tries;		/* timeouts since progress */
	uint64_t	 bytes;
	int		 has_tsize;
	uint64_t	 tsize;
	double		 t0;		/* start */
	double		 tprog;		/* last progress */
};

struct client {
	struct storm	*st;
	int		 id;
	int		 file;		/* next file to fetch */
	int		 round;
	int		 done;
	struct xfer	 x;
};

struct storm {
	struct conf	*cf;
	struct event_base *base;
	struct client	*cl;
	struct stats	 s;
	int		 active;	/* transfers in flight */
	int		 live;		/* clients not done */
	int		*q;		/* clients waiting for a slot */
	int		 qhead;
	int		 qlen;
	int		 stopping;	/* --duration reached */
	int		 logged;	/* failures logged */
	double		 t0;
	double		 tlast;		/* last transfer end */
	struct event	*soft;		/* --duration: stop starting */
	struct event	*hard;		/* --duration: stop everything */
};

static uint8_t	 rbuf[TFTP_PKT_MAX + 1];

static void	 client_next(struct client *);
static void	 storm_pump(struct storm *);

static double
now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
usage(void)
{
	fprintf(stderr, "usage: tftpstorm --server HOST [--port N] "
	    "[--clients N] [--concurrency N]\n"
	    "\t[--repeat N | --duration SECS] [--blksize N] "
	    "[--windowsize N] [--tsize]\n"
	    "\t[--timeout SECS] [--ask-timeout] [--retries N] "
	    "[--expect-size N]\n"
	    "\t[--compare-dir DIR] [--max-size N] [--rcvbuf N] [--json] "
	    "[-v] FILE ...\n");
	exit(2);
}

static long long
num_arg(const char *s, long long min, long long max, const char *what)
{
	char		*end;
	long long	 v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (s[0] == '\0' || *end != '\0' || errno != 0 || v < min || v > max)
		errx(2, "--%s %s: want an integer in [%lld, %lld]", what, s,
		    min, max);
	return v;
}

static int
sa_same_host(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	const struct sockaddr_in	*a4, *b4;
	const struct sockaddr_in6	*a6, *b6;

	if (a->ss_family != b->ss_family)
		return 0;
	if (a->ss_family == AF_INET) {
		a4 = (const struct sockaddr_in *)a;
		b4 = (const struct sockaddr_in *)b;
		return a4->sin_addr.s_addr == b4->sin_addr.s_addr;
	}
	a6 = (const struct sockaddr_in6 *)a;
	b6 = (const struct sockaddr_in6 *)b;
	return memcmp(&a6->sin6_addr, &b6->sin6_addr, 16) == 0;
}

static uint16_t
sa_port(const struct sockaddr_storage *a)
{
	if (a->ss_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_port;
	return ((const struct sockaddr_in6 *)a)->sin6_port;
}

/* Build each file's RRQ once; every transfer sends the same bytes. */
static void
conf_requests(struct conf *cf)
{
	struct tftp_opts	 o;
	int			 i;

	memset(&o, 0, sizeof(o));
	if (cf->blksize > 0) {
		o.has_blksize = 1;
		o.blksize = (uint16_t)cf->blksize;
	}
	if (cf->windowsize > 0) {
		o.has_windowsize = 1;
		o.windowsize = (uint16_t)cf->windowsize;
	}
	o.has_tsize = cf->tsize;
	if (cf->ask_timeout) {
		o.has_timeout = 1;
		o.timeout = (uint8_t)cf->timeout;
	}
	for (i = 0; i < cf->nfiles; i++) {
		if (strlen(cf->files[i]) > TFTP_NAME_MAX)
			errx(2, "%s: name longer than %d bytes", cf->files[i],
			    TFTP_NAME_MAX);
		cf->reqlen[i] = tftp_build_req(cf->req[i], STORM_REQ_MAX,
		    TFTP_RRQ, cf->files[i], TFTP_MODE_OCTET, &o);
		if (cf->reqlen[i] == 0)
			errx(2, "%s: cannot build the read request",
			    cf->files[i]);
	}
}

/* --compare-dir: load the local copy of each FILE. */
static void
conf_locals(struct conf *cf)
{
	char	 path[4096];
	int	 i, r;

	if ((cf->locals = calloc(cf->nfiles, sizeof(*cf->locals))) == NULL)
		err(1, NULL);
	if (cf->compare_dir == NULL)
		return;
	for (i = 0; i < cf->nfiles; i++) {
		if ((size_t)snprintf(path, sizeof(path), "%s/%s",
		    cf->compare_dir, cf->files[i]) >= sizeof(path))
			errx(2, "%s/%s: path too long", cf->compare_dir,
			    cf->files[i]);
		r = file_read(path, STORM_COMPARE_MAX, &cf->locals[i].buf,
		    &cf->locals[i].len);
		if (r != 0)
			errx(2, "%s: %s", path, uc_errdetail());
	}
}

static void
conf_parse(struct conf *cf, int argc, char *argv[])
{
	static const struct option lopts[] = {
		{ "server",	 required_argument, NULL, 's' },
		{ "port",	 required_argument, NULL, 'p' },
		{ "clients",	 required_argument, NULL, 'c' },
		{ "concurrency", required_argument, NULL, 'C' },
		{ "repeat",	 required_argument, NULL, 'r' },
		{ "duration",	 required_argument, NULL, 'd' },
		{ "blksize",	 required_argument, NULL, 'b' },
		{ "windowsize",	 required_argument, NULL, 'w' },
		{ "tsize",	 no_argument,	    NULL, 'T' },
		{ "timeout",	 required_argument, NULL, 't' },
		{ "ask-timeout", no_argument,	    NULL, 'A' },
		{ "retries",	 required_argument, NULL, 'R' },
		{ "expect-size", required_argument, NULL, 'e' },
		{ "compare-dir", required_argument, NULL, 'D' },
		{ "max-size",	 required_argument, NULL, 'M' },
		{ "rcvbuf",	 required_argument, NULL, 'B' },
		{ "json",	 no_argument,	    NULL, 'j' },
		{ "verbose",	 no_argument,	    NULL, 'v' },
		{ NULL, 0, NULL, 0 }
	};
	int	 ch, conc = 0;

	memset(cf, 0, sizeof(*cf));
	cf->port = "69";
	cf->clients = 1;
	cf->repeat = 1;
	cf->timeout = 1;
	cf->retries = 5;
	cf->expect_size = -1;
	cf->max_size = STORM_SIZE_DEF;
	cf->rcvbuf = STORM_RCVBUF_DEF;
	while ((ch = getopt_long(argc, argv, "s:p:c:C:r:d:b:w:Tt:AR:e:D:M:B:jv",
	    lopts, NULL)) != -1) {
		switch (ch) {
		case 's':
			cf->host = optarg;
			break;
		case 'p':
			num_arg(optarg, 1, 65535, "port");
			cf->port = optarg;
			break;
		case 'c':
			cf->clients = num_arg(optarg, 1, STORM_CLIENTS_MAX,
			    "clients");
			break;
		case 'C':
			conc = num_arg(optarg, 1, STORM_CLIENTS_MAX,
			    "concurrency");
			break;
		case 'r':
			cf->repeat = num_arg(optarg, 1, STORM_REPEAT_MAX,
			    "repeat");
			break;
		case 'd':
			cf->duration = num_arg(optarg, 1, STORM_DURATION_MAX,
			    "duration");
			break;
		case 'b':
			cf->blksize = num_arg(optarg, TFTP_BLKSIZE_MIN,
			    TFTP_BLKSIZE_MAX, "blksize");
			break;
		case 'w':
			cf->windowsize = num_arg(optarg, TFTP_WINDOW_MIN,
			    TFTP_WINDOW_MAX, "windowsize");
			break;
		case 'T':
			cf->tsize = 1;
			break;
		case 't':
			cf->timeout = num_arg(optarg, TFTP_TIMEOUT_MIN,
			    TFTP_TIMEOUT_MAX, "timeout");
			break;
		case 'A':
			cf->ask_timeout = 1;
			break;
		case 'R':
			cf->retries = num_arg(optarg, 0, STORM_RETRIES_MAX,
			    "retries");
			break;
		case 'e':
			cf->expect_size = num_arg(optarg, 0, INT64_MAX,
			    "expect-size");
			break;
		case 'D':
			cf->compare_dir = optarg;
			break;
		case 'M':
			cf->max_size = num_arg(optarg, 1, INT64_MAX,
			    "max-size");
			break;
		case 'B':
			cf->rcvbuf = num_arg(optarg, 4096, STORM_RCVBUF_MAX,
			    "rcvbuf");
			break;
		case 'j':
			cf->json = 1;
			break;
		case 'v':
			log_set_level(LOG_LEVEL_DEBUG);
			break;
		default:
			usage();
		}
	}
	cf->files = argv + optind;
	cf->nfiles = argc - optind;
	if (cf->host == NULL || cf->nfiles < 1)
		usage();
	if (cf->nfiles > STORM_FILES_MAX)
		errx(2, "at most %d files", STORM_FILES_MAX);
	cf->concurrency = conc > 0 && conc < cf->clients ? conc : cf->clients;
}

static void
storm_sample(struct storm *st, double ms)
{
	struct stats	*s = &st->s;
	double		*n;
	size_t		 cap;

	if (s->nms == s->capms) {
		if (s->capms >= STORM_SAMPLES_MAX)
			return;		/* XXX later samples not ranked */
		cap = s->capms ? s->capms * 2 : 4096;
		if ((n = reallocarray(s->ms, cap, sizeof(*n))) == NULL)
			err(1, NULL);
		s->ms = n;
		s->capms = cap;
	}
	s->ms[s->nms++] = ms;
}

static void
xfer_close(struct xfer *x)
{
	if (x->ev != NULL)
		event_free(x->ev);
	x->ev = NULL;
	if (x->fd != -1)
		close(x->fd);
	x->fd = -1;
}

/* Record the end of a transfer, free its socket, start the next. */
static void
xfer_end(struct xfer *x, int ok, enum fail_kind why, const char *detail)
{
	struct client	*cl = x->cl;
	struct storm	*st = cl->st;
	double		 t = now();

	xfer_close(x);
	st->active--;
	st->tlast = t;
	if (ok) {
		st->s.ok++;
		st->s.bytes += x->bytes;
		storm_sample(st, (t - x->t0) * 1000.0);
	} else {
		st->s.failed++;
		st->s.fails[why]++;
		if (st->logged++ < STORM_LOG_FAILS)
			log_warnx("client %d: %s: %s: %s", cl->id,
			    st->cf->files[x->file], fail_names[why], detail);
	}
	cl->file++;
	client_next(cl);
	storm_pump(st);
}

static int
xfer_send(struct xfer *x, const uint8_t *p, size_t n)
{
	const struct sockaddr	*to;
	socklen_t		 tolen;

	if (x->have_peer) {
		to = (const struct sockaddr *)&x->peer;
		tolen = x->peerlen;
	} else {
		to = (const struct sockaddr *)&x->cl->st->cf->addr;
		tolen = x->cl->st->cf->addrlen;
	}
	if (sendto(x->fd, p, n, 0, to, tolen) != (ssize_t)n)
		return -1;
	return 0;
}

/* Acknowledge block blk; on failure the transfer has ended. */
static int
xfer_ack(struct xfer *x, uint16_t blk)
{
	uint8_t	 pkt[4];

	if (tftp_build_ack(pkt, sizeof(pkt), blk) != sizeof(pkt) ||
	    xfer_send(x, pkt, sizeof(pkt)) != 0) {
		xfer_end(x, 0, FAIL_SOCKET, strerror(errno));
		return -1;
	}
	return 0;
}

/* Last block arrived: check size and content, then record. */
static void
xfer_done(struct xfer *x)
{
	struct conf	*cf = x->cl->st->cf;
	struct local	*lc = &cf->locals[x->file];
	char		 why[128];

	why[0] = '\0';
	if (cf->expect_size >= 0 && x->bytes != (uint64_t)cf->expect_size)
		snprintf(why, sizeof(why), "got %" PRIu64 " bytes, "
		    "--expect-size %lld", x->bytes, cf->expect_size);
	else if (lc->buf != NULL && x->bytes != lc->len)
		snprintf(why, sizeof(why), "got %" PRIu64 " bytes, "
		    "local copy has %zu", x->bytes, lc->len);
	else if (x->has_tsize && x->bytes != x->tsize)
		snprintf(why, sizeof(why), "got %" PRIu64 " bytes, "
		    "OACK tsize %" PRIu64 " (RFC 2349)", x->bytes, x->tsize);
	xfer_end(x, why[0] == '\0', FAIL_VERIFY, why);
}

/* An in-order block: store, compare, acknowledge per RFC 7440. */
static void
xfer_block(struct xfer *x, uint16_t blk, const uint8_t *d, size_t dl)
{
	struct conf	*cf = x->cl->st->cf;
	struct local	*lc = &cf->locals[x->file];

	if (x->bytes + dl > cf->max_size) {
		xfer_end(x, 0, FAIL_PROTO, "longer than --max-size");
		return;
	}
	if (lc->buf != NULL && (x->bytes + dl > lc->len ||
	    memcmp(lc->buf + x->bytes, d, dl) != 0)) {
		xfer_end(x, 0, FAIL_VERIFY, "content differs from local copy");
		return;
	}
	x->bytes += dl;
	x->next++;
	x->inwin++;
	x->nacked = 0;
	x->tries = 0;
	x->tprog = now();
	if (dl < x->blksize) {
		if (xfer_ack(x, blk) == 0)
			xfer_done(x);
	} else if (x->inwin >= x->window) {
		x->inwin = 0;
		xfer_ack(x, blk);
	}
}

static void
xfer_data(struct xfer *x, const uint8_t *p, size_t n)
{
	const uint8_t	*d;
	size_t		 dl;
	uint16_t	 blk;

	if (tftp_parse_data(p, n, &blk, &d, &dl) != 0) {
		xfer_end(x, 0, FAIL_PROTO, "malformed DATA (RFC 1350)");
		return;
	}
	if (x->state == XS_RRQ) {
		/* No OACK: the server ignored our options (RFC 2347). */
		x->state = XS_DATA;
		x->blksize = TFTP_SEGSIZE;
		x->window = 1;
	}
	if (dl > x->blksize) {
		xfer_end(x, 0, FAIL_PROTO, "DATA longer than blksize");
		return;
	}
	if (blk == x->next) {
		xfer_block(x, blk, d, dl);
		return;
	}
	/* RFC 7440 section 4: gap or duplicate, ACK the last in order. */
	x->cl->st->s.ooo++;
	if (x->nacked)
		return;
	x->nacked = 1;
	x->inwin = 0;
	x->cl->st->s.nacks++;
	xfer_ack(x, (uint16_t)(x->next - 1));
}

/* Check the OACK against what we asked (RFC 2347: never more). */
static const char *
oack_check(const struct conf *cf, const struct tftp_opts *o)
{
	if (o->has_blksize && (cf->blksize == 0 ||
	    o->blksize < TFTP_BLKSIZE_MIN || o->blksize > cf->blksize))
		return "blksize not asked or larger than asked (RFC 2348)";
	if (o->has_windowsize && (cf->windowsize == 0 ||
	    o->windowsize < 1 || o->windowsize > cf->windowsize))
		return "windowsize not asked or larger (RFC 7440)";
	if (o->has_tsize && !cf->tsize)
		return "tsize not asked (RFC 2349)";
	if (o->has_timeout && (!cf->ask_timeout || o->timeout != cf->timeout))
		return "timeout not asked or changed (RFC 2349)";
	return NULL;
}

static void
xfer_oack(struct xfer *x, const uint8_t *p, size_t n)
{
	struct conf		*cf = x->cl->st->cf;
	struct tftp_opts	 o;
	const char		*bad;

	if (x->state != XS_RRQ) {
		/* Our ACK 0 was lost and the OACK came again. */
		if (x->next == 1)
			xfer_ack(x, 0);
		return;
	}
	if (tftp_parse_oack(p, n, &o) != 0) {
		xfer_end(x, 0, FAIL_PROTO, "malformed OACK (RFC 2347)");
		return;
	}
	if ((bad = oack_check(cf, &o)) != NULL) {
		xfer_end(x, 0, FAIL_PROTO, bad);
		return;
	}
	x->state = XS_DATA;
	x->blksize = o.has_blksize ? o.blksize : TFTP_SEGSIZE;
	x->window = o.has_windowsize ? o.windowsize : 1;
	x->has_tsize = o.has_tsize;
	x->tsize = o.tsize;
	x->tries = 0;
	x->tprog = now();
	xfer_ack(x, 0);
}

static void
xfer_error(struct xfer *x, const uint8_t *p, size_t n)
{
	char		 msg[256], vis[256 * 4 + 1], why[sizeof(vis) + 32];
	uint16_t	 code;

	if (tftp_parse_error(p, n, &code, msg, sizeof(msg)) != 0) {
		xfer_end(x, 0, FAIL_PROTO, "malformed ERROR (RFC 1350)");
		return;
	}
	log_vis(vis, sizeof(vis), msg, sizeof(msg));
	snprintf(why, sizeof(why), "ERROR %u \"%s\"", code, vis);
	xfer_end(x, 0, FAIL_ERROR, why);
}

/* A packet from a host:port that is not our peer: RFC 1350 error 5. */
static void
xfer_stranger(struct xfer *x, const struct sockaddr_storage *from,
    socklen_t fromlen)
{
	uint8_t	 pkt[64];
	size_t	 n;

	x->cl->st->s.badtid++;
	if ((n = tftp_build_error(pkt, sizeof(pkt), TFTP_EBADID,
	    "unknown transfer ID")) != 0)
		(void)sendto(x->fd, pkt, n, 0, (const struct sockaddr *)from,
		    fromlen);
}

/*
 * Handle one datagram.  Returns 0 to go on reading, -1 once the
 * transfer has ended (x is then reused or idle).
 */
static int
xfer_packet(struct xfer *x, const uint8_t *p, size_t n,
    const struct sockaddr_storage *from, socklen_t fromlen)
{
	struct conf	*cf = x->cl->st->cf;
	unsigned int	 gen = x->gen;
	int		 op;

	if (!x->have_peer) {
		if (!sa_same_host(from, &cf->addr)) {
			xfer_stranger(x, from, fromlen);
			return 0;
		}
		memcpy(&x->peer, from, fromlen);
		x->peerlen = fromlen;
		x->have_peer = 1;
	} else if (!sa_same_host(from, &x->peer) ||
	    sa_port(from) != sa_port(&x->peer)) {
		xfer_stranger(x, from, fromlen);
		return 0;
	}
	op = tftp_opcode(p, n);
	if (op == TFTP_DATA)
		xfer_data(x, p, n);
	else if (op == TFTP_OACK)
		xfer_oack(x, p, n);
	else if (op == TFTP_ERROR)
		xfer_error(x, p, n);
	else
		xfer_end(x, 0, FAIL_PROTO, "unexpected opcode (RFC 1350)");
	/* An ended transfer may already have restarted in x. */
	return x->gen == gen && x->fd != -1 ? 0 : -1;
}

/* Timer expiry: re-send the request or the last in-order ACK. */
static void
xfer_timeout(struct xfer *x)
{
	struct storm	*st = x->cl->st;

	st->s.timeouts++;
	if (++x->tries > st->cf->retries) {
		xfer_end(x, 0, FAIL_TIMEOUT, "no answer after --retries");
		return;
	}
	st->s.retrans++;
	x->inwin = 0;
	x->nacked = 0;
	if (x->state != XS_RRQ) {
		xfer_ack(x, (uint16_t)(x->next - 1));
		return;
	}
	if (xfer_send(x, st->cf->req[x->file], st->cf->reqlen[x->file]) != 0)
		xfer_end(x, 0, FAIL_SOCKET, strerror(errno));
}

static void
xfer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct xfer		*x = arg;
	struct sockaddr_storage	 from;
	socklen_t		 fromlen;
	ssize_t			 n;
	double			 limit;
	int			 i;

	if (what & EV_TIMEOUT) {
		xfer_timeout(x);
		return;
	}
	for (i = 0; i < STORM_RECV_BURST; i++) {
		fromlen = sizeof(from);
		n = recvfrom(fd, rbuf, sizeof(rbuf), 0,
		    (struct sockaddr *)&from, &fromlen);
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			break;
		if (n == -1) {
			/* ICMP port unreachable surfaces as ECONNREFUSED. */
			xfer_end(x, 0, FAIL_SOCKET, strerror(errno));
			return;
		}
		if (xfer_packet(x, rbuf, (size_t)n, &from, fromlen) != 0)
			return;
	}
	/* Strangers and duplicates must not keep a dead transfer alive. */
	limit = (double)x->cl->st->cf->timeout * (x->cl->st->cf->retries + 1);
	if (now() - x->tprog > limit)
		xfer_end(x, 0, FAIL_TIMEOUT, "no progress before deadline");
}

static void
sock_bufs(int fd, int size)
{
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size,
	    sizeof(size)) != 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size,
		    sizeof(size));
}

/* Open a socket, send the RRQ.  Returns 0, or -1 with x idle. */
static int
xfer_start(struct xfer *x, int file)
{
	struct storm	*st = x->cl->st;
	struct conf	*cf = st->cf;
	struct timeval	 tv = { cf->timeout, 0 };
	int		 r = -1;

	memset(&x->peer, 0, sizeof(*x) - offsetof(struct xfer, peer));
	x->gen++;
	x->file = file;
	x->state = XS_RRQ;
	x->next = 1;
	x->t0 = x->tprog = now();
	x->fd = socket(cf->addr.ss_family, SOCK_DGRAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (x->fd == -1)
		goto out;
	sock_bufs(x->fd, cf->rcvbuf);
	x->ev = event_new(st->base, x->fd, EV_READ | EV_PERSIST, xfer_cb, x);
	if (x->ev == NULL || event_add(x->ev, &tv) != 0)
		goto out;
	if (xfer_send(x, cf->req[file], cf->reqlen[file]) != 0)
		goto out;
	st->active++;
	r = 0;
 out:
	if (r != 0) {
		log_debug("client %d: %s: %s", x->cl->id, cf->files[file],
		    strerror(errno));
		xfer_close(x);
	}
	return r;
}

/*
 * Advance the client to its next transfer: queue it for a slot, or mark
 * it done when its rounds (or the --duration) are over.
 */
static void
client_next(struct client *cl)
{
	struct storm	*st = cl->st;
	struct conf	*cf = st->cf;

	if (cl->file >= cf->nfiles) {
		cl->file = 0;
		cl->round++;
	}
	if (st->stopping || (cf->duration == 0 && cl->round >= cf->repeat)) {
		cl->done = 1;
		st->live--;
		return;
	}
	st->q[(st->qhead + st->qlen) % cf->clients] = cl->id;
	st->qlen++;
}

/* Start queued clients while slots are free. */
static void
storm_pump(struct storm *st)
{
	struct client	*cl;
	int		 bound;

	/* Each failed start consumes one transfer: bounded by the queue. */
	for (bound = 0; bound < st->cf->clients * 2 &&
	    st->active < st->cf->concurrency && st->qlen > 0; bound++) {
		cl = &st->cl[st->q[st->qhead]];
		st->qhead = (st->qhead + 1) % st->cf->clients;
		st->qlen--;
		if (xfer_start(&cl->x, cl->file) != 0) {
			st->s.failed++;
			st->s.fails[FAIL_SOCKET]++;
			cl->file++;
			client_next(cl);
		}
	}
	if (st->live == 0 || (st->active == 0 && st->qlen == 0))
		event_base_loopexit(st->base, NULL);
}

static void
soft_cb(evutil_socket_t fd, short what, void *arg)
{
	struct storm	*st = arg;
	int		 i;

	(void)fd;
	(void)what;
	st->stopping = 1;
	/* Queued clients start nothing more. */
	for (i = 0; i < st->qlen; i++)
		st->cl[st->q[(st->qhead + i) % st->cf->clients]].done = 1;
	st->live -= st->qlen;
	st->qlen = 0;
	if (st->active == 0)
		event_base_loopexit(st->base, NULL);
}

static void
hard_cb(evutil_socket_t fd, short what, void *arg)
{
	struct storm	*st = arg;

	(void)fd;
	(void)what;
	event_base_loopbreak(st->base);
}

static void
storm_init(struct storm *st, struct conf *cf)
{
	struct timeval	 tv;
	int		 i;

	memset(st, 0, sizeof(*st));
	st->cf = cf;
	if ((st->base = event_base_new()) == NULL)
		errx(1, "event_base_new failed");
	if ((st->cl = calloc(cf->clients, sizeof(*st->cl))) == NULL ||
	    (st->q = calloc(cf->clients, sizeof(*st->q))) == NULL)
		err(1, NULL);
	for (i = 0; i < cf->clients; i++) {
		st->cl[i].st = st;
		st->cl[i].id = i;
		st->cl[i].x.cl = &st->cl[i];
		st->cl[i].x.fd = -1;
		st->q[i] = i;
	}
	st->qlen = st->live = cf->clients;
	if (cf->duration == 0)
		return;
	tv.tv_sec = cf->duration;
	tv.tv_usec = 0;
	st->soft = evtimer_new(st->base, soft_cb, st);
	if (st->soft == NULL || evtimer_add(st->soft, &tv) != 0)
		errx(1, "evtimer_new failed");
	tv.tv_sec = cf->duration + (long)cf->timeout * (cf->retries + 1) + 1;
	st->hard = evtimer_new(st->base, hard_cb, st);
	if (st->hard == NULL || evtimer_add(st->hard, &tv) != 0)
		errx(1, "evtimer_new failed");
}

/* After a hard stop: transfers still running count as timed out. */
static void
storm_abandon(struct storm *st)
{
	int	 i;

	for (i = 0; i < st->cf->clients; i++) {
		if (st->cl[i].x.fd == -1)
			continue;
		xfer_close(&st->cl[i].x);
		st->s.failed++;
		st->s.fails[FAIL_TIMEOUT]++;
	}
}

static int
cmp_double(const void *a, const void *b)
{
	double	 x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double
pct(const struct stats *s, double p)
{
	double	 rank = p / 100.0 * s->nms;
	size_t	 i = (size_t)rank;

	if (s->nms == 0)
		return 0;
	if ((double)i < rank)
		i++;		/* nearest rank: ceil */
	return s->ms[i > 0 ? i - 1 : 0];
}

static void
storm_report(struct storm *st, double wall)
{
	struct conf	*cf = st->cf;
	struct stats	*s = &st->s;
	struct rusage	 ru;
	double		 tps, mbs, cpu = 0;
	int		 i;

	if (getrusage(RUSAGE_SELF, &ru) == 0)
		cpu = ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
		    (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
	qsort(s->ms, s->nms, sizeof(*s->ms), cmp_double);
	tps = wall > 0 ? s->ok / wall : 0;
	mbs = wall > 0 ? s->bytes / wall / 1e6 : 0;
	if (cf->json) {
		printf("{\"clients\": %d, \"concurrency\": %d, \"files\": %d, "
		    "\"transfers_ok\": %" PRIu64 ", \"transfers_failed\": %"
		    PRIu64 ", \"bytes\": %" PRIu64 ", \"wall_s\": %.3f, "
		    "\"transfers_per_s\": %.1f, \"mb_per_s\": %.2f, "
		    "\"p50_ms\": %.2f, \"p99_ms\": %.2f, \"max_ms\": %.2f, "
		    "\"retransmissions\": %" PRIu64 ", \"timeouts\": %" PRIu64
		    ", \"out_of_order\": %" PRIu64 ", \"gap_acks\": %" PRIu64
		    ", \"bad_tid\": %" PRIu64 ", \"client_cpu_s\": %.3f",
		    cf->clients, cf->concurrency,
		    cf->nfiles, s->ok, s->failed, s->bytes, wall, tps, mbs,
		    pct(s, 50), pct(s, 99), pct(s, 100), s->retrans,
		    s->timeouts, s->ooo, s->nacks, s->badtid, cpu);
		for (i = 0; i < FAIL__MAX; i++)
			printf(", \"fail_%s\": %" PRIu64, fail_names[i],
			    s->fails[i]);
		printf("}\n");
		return;
	}
	printf("tftpstorm: %s port %s, %d clients, concurrency %d, "
	    "%d file(s)\n", cf->host, cf->port, cf->clients, cf->concurrency,
	    cf->nfiles);
	printf("  transfers   %" PRIu64 " ok, %" PRIu64 " failed",
	    s->ok, s->failed);
	for (i = 0; i < FAIL__MAX; i++)
		if (s->fails[i] != 0)
			printf(", %s %" PRIu64, fail_names[i], s->fails[i]);
	printf("\n  bytes       %" PRIu64 " in %.3f s (client CPU %.3f s)\n",
	    s->bytes, wall, cpu);
	printf("  rate        %.1f transfers/s, %.2f MB/s\n", tps, mbs);
	printf("  time        p50 %.2f ms, p99 %.2f ms, max %.2f ms\n",
	    pct(s, 50), pct(s, 99), pct(s, 100));
	printf("  recovery    %" PRIu64 " retransmissions, %" PRIu64
	    " timeouts, %" PRIu64 " out of order, %" PRIu64 " gap ACKs, %"
	    PRIu64 " bad TID\n", s->retrans, s->timeouts, s->ooo, s->nacks,
	    s->badtid);
}

int
main(int argc, char *argv[])
{
	struct conf	*cf;
	struct storm	 st;
	int		 i, r;

	log_init("tftpstorm", 0, LOG_LEVEL_INFO);
	if ((cf = malloc(sizeof(*cf))) == NULL)
		err(1, NULL);
	conf_parse(cf, argc, argv);
	if (addr_resolve(cf->host, cf->port, SOCK_DGRAM, &cf->addr,
	    &cf->addrlen) != 0)
		errx(2, "%s", uc_errdetail());
	conf_requests(cf);
	conf_locals(cf);
	if (fd_limit_raise(cf->concurrency) != 0)
		errx(2, "%s", uc_errdetail());
	storm_init(&st, cf);
	st.t0 = st.tlast = now();
	storm_pump(&st);
	r = event_base_dispatch(st.base);
	if (r == -1)
		errx(1, "event loop failed");
	storm_abandon(&st);
	storm_report(&st, st.tlast - st.t0);
	r = st.s.failed == 0 && st.s.ok > 0 ? 0 : 1;
	if (st.soft != NULL)
		event_free(st.soft);
	if (st.hard != NULL)
		event_free(st.hard);
	event_base_free(st.base);
	for (i = 0; i < cf->nfiles; i++)
		free(cf->locals[i].buf);
	free(cf->locals);
	free(st.s.ms);
	free(st.cl);
	free(st.q);
	free(cf);
	return r;
}
