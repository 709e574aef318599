/*
 * ccmd transports (spec 1.1): UDP sockets, TCP and TLS listeners and
 * connections on the one libevent loop.  A datagram is one message; on
 * a stream the header block runs to CRLFCRLF and the body is
 * Content-Length bytes (none: 0).  A CRLFCRLF ping between messages is
 * answered with CRLF (RFC 5626 4.4.1).  SCCP listeners carry Skinny
 * instead: a 12-byte header whose length word frames each message
 * (lib/skinny.h, SKINNY_MSG_MAX), handed to sccp.c.  Each connection has
 * an id that is never reused, so the upper layers name connections,
 * never pointers.  tp_close (SCCP RegisterReject) stops reading, lets
 * the queued output drain and closes, within CLOSE_SECS at most.
 *
 * Timeouts cost no event per connection: handshaking connections sit
 * in a queue in start order and live ones not holding a registration in
 * a queue in last-activity order; a one-second sweep closes the expired
 * heads.  A closed connection leaves every index at once and is freed,
 * and the SIP layer told, from the reaper event, never up the caller's
 * stack.
 */
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <netdb.h>
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
#include <event2/listener.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "ccm.h"
#include "cert.h"
#include "cursor.h"
#include "log.h"
#include "skinny.h"
#include "uerr.h"

#define HDR_MAX		16384	/* header block of one stream message */
#define IN_MAX		(HDR_MAX + CCM_MSG_MAX)	/* buffered input */
#define OUT_MAX		(1024 * 1024)	/* queued output: slower = dropped */
#define UDP_BURST	64	/* datagrams read per wakeup */
#define UDP_RCVBUF	(1024 * 1024)
#define BACKLOG		1024
#define ID_BUCKETS	16384	/* id -> connection (ids are sequential) */
#define ADDR_BUCKETS	1024	/* per-address connection counts */
#define SWEEP_SECS	1	/* timeout granularity */
#define TEXT_MAX	72	/* "[v6 address]:port" */
#define CLEN_DIGITS	7	/* Content-Length digits we read */
#define VERIFY_DEPTH	6	/* as ccmd.c's contexts */
#define TRUST_KNOWN	0x1	/* session ex_data: conn_trust done */
#define TRUST_PHONE	0x2
#define TRUST_TRUNK	0x4
#define LIS_MAX		(6 * CCM_LISTEN_MAX)	/* SIP and SCCP streams */
#define CLOSE_SECS	2	/* tp_close: output drained by then */

enum { Q_NONE, Q_HS, Q_IDLE, Q_CLOSING };

struct tp_state;

struct udp_sock {
	struct tp_state		*tp;
	evutil_socket_t		 fd;
	struct event		*ev;
	int			 idx;
	int			 family;
	int			 wildcard;	/* bound to 0.0.0.0 or :: */
	char			 host[64];	/* bound address */
	int			 port;
	char			 text[TEXT_MAX];
};

struct lis {
	struct tp_state		*tp;
	struct evconnlistener	*l;
	int			 kind;		/* TP_TCP, TP_TLS */
	int			 proto;		/* TP_SIP, TP_SCCP */
	int			 legacy;
	int			 idx;
	char			 text[TEXT_MAX];
};

struct addr_ent {
	LIST_ENTRY(addr_ent)	 entry;
	struct sockaddr_storage	 addr;		/* port zero */
	int			 n;
};

struct conn {
	struct tp_state		*tp;
	LIST_ENTRY(conn)	 hentry;	/* tp->ids */
	TAILQ_ENTRY(conn)	 lentry;	/* conns, out or graveyard */
	TAILQ_ENTRY(conn)	 qentry;	/* hsq or idleq */
	int			 q;		/* Q_* */
	struct bufferevent	*bev;
	struct ccm_creds	*creds;		/* one reference */
	struct addr_ent		*ae;		/* incoming only */
	const struct trunk	*trunk;		/* outgoing TLS: name check */
	char			 trunk_name[STORE_NAME_MAX]; /* outgoing: for
						   whom ("" none) */
	int64_t			 since;		/* accept or connect, s */
	int64_t			 last;		/* last byte in or out, s */
	size_t			 scan;		/* CRLFCRLF search resumes */
	size_t			 need;		/* message length once known */
	unsigned		 outgoing:1;
	unsigned		 up:1;		/* connected, handshake done */
	unsigned		 pinned:1;	/* holds a registration */
	unsigned		 closed:1;
	unsigned		 closing:1;	/* tp_close: draining output */
	unsigned		 want_name:1;	/* check the trunk's name */
	unsigned		 trunk_stale:1;	/* trunks reloaded meanwhile */
	struct tp_info		 info;
};

TAILQ_HEAD(connq, conn);
LIST_HEAD(connl, conn);
LIST_HEAD(addrl, addr_ent);

struct tp_state {
	struct ccm		*ccm;
	struct udp_sock		 udp[CCM_LISTEN_MAX];
	size_t			 nudp;
	struct lis		 lis[LIS_MAX];
	size_t			 nlis;
	struct connl		 ids[ID_BUCKETS];
	struct addrl		 addrs[ADDR_BUCKETS];
	struct connq		 conns;		/* incoming, live */
	struct connq		 out;		/* outgoing, live */
	struct connq		 graveyard;	/* closed, to free */
	struct connq		 hsq;		/* connecting / handshaking */
	struct connq		 idleq;		/* up, not pinned */
	struct connq		 closeq;	/* tp_close: draining */
	size_t			 nconns;
	uint64_t		 next_id;
	struct event		*sweep;
	struct event		*reaper;
	unsigned long		 refused;	/* not yet logged */
	int64_t			 refused_logged;
	uint8_t			*rbuf;		/* one datagram */
};

static const char *const kind_names[] = { "udp", "tcp", "tls" };
/* Logged name of a listener or connection: "tcp", "sccp/tls". */
static const char *const lis_names[2][3] = {
	{ "udp", "tcp", "tls" }, { "sccp/udp", "sccp/tcp", "sccp/tls" }
};
static int	sess_idx = -1;	/* SSL_SESSION ex_data: TRUST_* */

static void	conn_input(struct conn *);

static int64_t
now_s(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec;
}

/* --- Addresses -------------------------------------------------------- */

/* The address alone (no port, no brackets) into buf; port in *port. */
static void
addr_host(const struct sockaddr *sa, char *buf, size_t sz, int *port)
{
	const struct sockaddr_in	*s4 = (const void *)sa;
	const struct sockaddr_in6	*s6 = (const void *)sa;

	*port = 0;
	if (sa->sa_family == AF_INET && inet_ntop(AF_INET, &s4->sin_addr,
	    buf, sz) != NULL)
		*port = ntohs(s4->sin_port);
	else if (sa->sa_family == AF_INET6 && inet_ntop(AF_INET6,
	    &s6->sin6_addr, buf, sz) != NULL)
		*port = ntohs(s6->sin6_port);
	else
		snprintf(buf, sz, "?");
}

/* "192.0.2.1:5060" or "[2001:db8::1]:5060". */
static void
addr_text(const struct sockaddr *sa, char *buf, size_t sz)
{
	char	 host[INET6_ADDRSTRLEN];
	int	 port;

	addr_host(sa, host, sizeof(host), &port);
	snprintf(buf, sz, sa->sa_family == AF_INET6 ? "[%s]:%d" : "%s:%d",
	    host, port);
}

/* Same address and port. */
static int
addr_eq(const struct sockaddr_storage *a, const struct sockaddr *b)
{
	const struct sockaddr_in	*a4 = (const void *)a, *b4 = (const void *)b;
	const struct sockaddr_in6	*a6 = (const void *)a, *b6 = (const void *)b;

	if (a->ss_family != b->sa_family)
		return 0;
	if (a->ss_family == AF_INET)
		return a4->sin_addr.s_addr == b4->sin_addr.s_addr &&
		    a4->sin_port == b4->sin_port;
	if (a->ss_family == AF_INET6)
		return memcmp(&a6->sin6_addr, &b6->sin6_addr,
		    sizeof(a6->sin6_addr)) == 0 &&
		    a6->sin6_port == b6->sin6_port;
	return 0;
}

/* The address with the port zeroed: the per-address key. */
static void
addr_key(const struct sockaddr *sa, struct sockaddr_storage *k)
{
	memset(k, 0, sizeof(*k));
	k->ss_family = sa->sa_family;
	if (sa->sa_family == AF_INET)
		((struct sockaddr_in *)k)->sin_addr =
		    ((const struct sockaddr_in *)(const void *)sa)->sin_addr;
	else if (sa->sa_family == AF_INET6)
		((struct sockaddr_in6 *)k)->sin6_addr =
		    ((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
}

static unsigned
addr_hash(const struct sockaddr_storage *k)
{
	const uint8_t	*p;
	size_t		 n, i;
	uint32_t	 h = 2166136261u;

	if (k->ss_family == AF_INET) {
		p = (const uint8_t *)&((const struct sockaddr_in *)
		    (const void *)k)->sin_addr;
		n = 4;
	} else {
		p = (const uint8_t *)&((const struct sockaddr_in6 *)
		    (const void *)k)->sin6_addr;
		n = 16;
	}
	for (i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return h % ADDR_BUCKETS;
}

static struct addr_ent *
addr_find(struct tp_state *tp, const struct sockaddr *sa)
{
	struct sockaddr_storage	 k;
	struct addr_ent		*e;

	addr_key(sa, &k);
	LIST_FOREACH(e, &tp->addrs[addr_hash(&k)], entry)
		if (memcmp(&e->addr, &k, sizeof(k)) == 0)
			return e;
	return NULL;
}

/* Count c against its peer's address. */
static int
addr_ref(struct conn *c, const struct sockaddr *sa)
{
	struct tp_state	*tp = c->tp;
	struct addr_ent	*e;

	if ((e = addr_find(tp, sa)) == NULL) {
		if ((e = calloc(1, sizeof(*e))) == NULL)
			return uc_fail(UC_ERR_ALLOC, "address table");
		addr_key(sa, &e->addr);
		LIST_INSERT_HEAD(&tp->addrs[addr_hash(&e->addr)], e, entry);
	}
	e->n++;
	c->ae = e;
	return 0;
}

static void
addr_unref(struct conn *c)
{
	if (c->ae == NULL)
		return;
	if (--c->ae->n == 0) {
		LIST_REMOVE(c->ae, entry);
		free(c->ae);
	}
	c->ae = NULL;
}

/* --- Connections: indexes, queues, close ------------------------------ */

static struct conn *
conn_find(struct tp_state *tp, uint64_t id)
{
	struct conn	*c;

	if (tp == NULL || id == 0)
		return NULL;
	LIST_FOREACH(c, &tp->ids[id % ID_BUCKETS], hentry)
		if (c->info.peer.conn == id)
			return c;
	return NULL;
}

/* Move c to queue q (at its tail: the newest). */
static void
q_set(struct conn *c, int q)
{
	struct tp_state	*tp = c->tp;

	if (c->q == Q_HS)
		TAILQ_REMOVE(&tp->hsq, c, qentry);
	else if (c->q == Q_IDLE)
		TAILQ_REMOVE(&tp->idleq, c, qentry);
	else if (c->q == Q_CLOSING)
		TAILQ_REMOVE(&tp->closeq, c, qentry);
	c->q = q;
	if (q == Q_HS)
		TAILQ_INSERT_TAIL(&tp->hsq, c, qentry);
	else if (q == Q_IDLE)
		TAILQ_INSERT_TAIL(&tp->idleq, c, qentry);
	else if (q == Q_CLOSING)
		TAILQ_INSERT_TAIL(&tp->closeq, c, qentry);
}

/* A byte went in or out: c is the newest in the idle queue. */
static void
conn_touch(struct conn *c)
{
	int64_t	 t = now_s();

	if (c->last == t)
		return;
	c->last = t;
	if (c->q == Q_IDLE)
		q_set(c, Q_IDLE);
}

/* A new connection, indexed by a fresh id and counted. */
static struct conn *
conn_new(struct tp_state *tp, int kind, int outgoing)
{
	struct conn	*c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->tp = tp;
	c->outgoing = outgoing != 0;
	c->since = c->last = now_s();
	c->info.peer.kind = kind;
	c->info.peer.conn = ++tp->next_id;
	c->info.tls = kind == TP_TLS;
	if (kind == TP_TLS)	/* its SSL_CTX outlives a reload */
		c->creds = creds_ref(tp->ccm->creds);
	LIST_INSERT_HEAD(&tp->ids[c->info.peer.conn % ID_BUCKETS], c, hentry);
	TAILQ_INSERT_TAIL(outgoing ? &tp->out : &tp->conns, c, lentry);
	tp->nconns++;
	return c;
}

/*
 * Close c: it leaves every index (tp_send and tp_info_get no longer
 * find it) and its caps now; the socket goes and the SIP layer hears of
 * it from the reaper.  The struct stays valid until then, so a caller
 * up the stack may still look at it (c->closed).
 */
static void
conn_close(struct conn *c, const char *why, enum log_level lvl)
{
	struct tp_state	*tp = c->tp;

	if (c->closed)
		return;
	c->closed = 1;
	log_msg(lvl, "%s %s%s: connection %llu closed: %s",
	    lis_names[c->info.proto][c->info.peer.kind],
	    c->outgoing ? "to " : "",
	    c->info.peer_text, (unsigned long long)c->info.peer.conn, why);
	q_set(c, Q_NONE);
	LIST_REMOVE(c, hentry);
	TAILQ_REMOVE(c->outgoing ? &tp->out : &tp->conns, c, lentry);
	TAILQ_INSERT_TAIL(&tp->graveyard, c, lentry);
	addr_unref(c);
	tp->nconns--;
	if (c->bev != NULL) {
		bufferevent_setcb(c->bev, NULL, NULL, NULL, NULL);
		bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	}
	event_active(tp->reaper, EV_READ, 0);
}

/* Free a closed (or never indexed) connection; notify: tell sip.c or
   sccp.c. */
static void
conn_free(struct conn *c, int notify)
{
	struct ccm	*ccm = c->tp->ccm;
	SSL		*ssl;

	if (c->bev != NULL) {
		if (c->up && c->info.tls &&
		    (ssl = bufferevent_openssl_get_ssl(c->bev)) != NULL) {
			(void)SSL_shutdown(ssl);	/* best effort */
			ERR_clear_error();
		}
		bufferevent_free(c->bev);
	}
	if (notify && (c->up || c->outgoing) && c->info.proto == TP_SCCP)
		sccp_conn_closed(ccm, c->info.peer.conn);
	else if (notify && (c->up || c->outgoing))
		sip_conn_closed(ccm, c->info.peer.conn);
	X509_free(c->info.cert);
	creds_unref(c->creds);
	free(c);
}

static void
reaper_cb(evutil_socket_t fd, short what, void *arg)
{
	struct tp_state	*tp = arg;
	struct conn	*c;

	(void)fd;
	(void)what;
	/* sip_conn_closed may close more: they queue up behind. */
	while ((c = TAILQ_FIRST(&tp->graveyard)) != NULL) {
		TAILQ_REMOVE(&tp->graveyard, c, lentry);
		conn_free(c, 1);
	}
}

/* Close connections whose handshake or idle time ran out. */
static void
sweep_cb(evutil_socket_t fd, short what, void *arg)
{
	struct tp_state		*tp = arg;
	const struct ccm_config	*cfg = tp->ccm->cfg;
	struct conn		*c;
	int64_t			 t = now_s();

	(void)fd;
	(void)what;
	while ((c = TAILQ_FIRST(&tp->hsq)) != NULL &&
	    t - c->since >= cfg->handshake_timeout)
		conn_close(c, c->outgoing ? "connect or handshake timeout" :
		    "TLS handshake timeout", LOG_LEVEL_INFO);
	while ((c = TAILQ_FIRST(&tp->idleq)) != NULL &&
	    t - c->last >= cfg->idle_timeout)
		conn_close(c, "idle timeout", LOG_LEVEL_DEBUG);
	while ((c = TAILQ_FIRST(&tp->closeq)) != NULL &&
	    t - c->since >= CLOSE_SECS)
		conn_close(c, "closing: output not drained in time",
		    LOG_LEVEL_DEBUG);
}

/* --- Stream framing --------------------------------------------------- */

/*
 * Content-Length (or compact "l") of a header block that ends in
 * CRLFCRLF; 0 if absent.  Returns 0, or -1 on a malformed, repeated
 * with another value, or over-long value.
 */
static int
hdr_content_length(const uint8_t *p, size_t n, size_t *out)
{
	struct cursor	 cur;
	const uint8_t	*line, *e;
	size_t		 len, i, j, v, got = 0;
	int		 seen = 0, first = 1;

	*out = 0;
	cur_init(&cur, p, n);
	while (cur_left(&cur) >= 2) {
		line = p + cur_offset(&cur);
		for (e = line; e + 1 < p + n && !(e[0] == '\r' &&
		    e[1] == '\n'); e++)
			;
		len = (size_t)(e - line);
		if (cur_bytes(&cur, len) == NULL || !cur_skip(&cur, 2))
			return -1;
		if (first || len == 0 || line[0] == ' ' || line[0] == '\t') {
			first = 0;		/* start line, continuation */
			continue;
		}
		for (i = 0; i < len && line[i] != ':' && line[i] != ' ' &&
		    line[i] != '\t'; i++)
			;
		if (!((i == 14 && strncasecmp((const char *)line,
		    "Content-Length", 14) == 0) || (i == 1 &&
		    (line[0] == 'l' || line[0] == 'L'))))
			continue;
		while (i < len && (line[i] == ' ' || line[i] == '\t'))
			i++;
		if (i == len || line[i++] != ':')
			continue;	/* "l-something": another header */
		while (i < len && (line[i] == ' ' || line[i] == '\t'))
			i++;
		for (v = 0, j = i; j < len && line[j] >= '0' && line[j] <= '9';
		    j++)
			v = v * 10 + (size_t)(line[j] - '0');
		if (j == i || j - i > CLEN_DIGITS)
			return -1;
		while (j < len && (line[j] == ' ' || line[j] == '\t'))
			j++;
		if (j != len || (seen && v != got))
			return -1;
		seen = 1;
		got = v;
	}
	*out = got;
	return cur_ok(&cur) ? 0 : -1;
}

/*
 * Queue bytes on c; a peer that leaves more than OUT_MAX bytes unread
 * is dropped.  0, or UC_ERR_* with c closed.
 */
static int
conn_write(struct conn *c, const void *buf, size_t len)
{
	size_t	 q = evbuffer_get_length(bufferevent_get_output(c->bev));

	if (q + len > OUT_MAX) {
		conn_close(c, "the peer does not read (output queue full)",
		    LOG_LEVEL_INFO);
		return uc_fail(UC_ERR_IO, "%s %s: output queue full",
		    kind_names[c->info.peer.kind], c->info.peer_text);
	}
	if (bufferevent_write(c->bev, buf, len) != 0) {
		conn_close(c, "out of memory", LOG_LEVEL_WARN);
		return uc_fail(UC_ERR_ALLOC, "%s %s: send",
		    kind_names[c->info.peer.kind], c->info.peer_text);
	}
	conn_touch(c);
	return 0;
}

/*
 * Leading CRLFs between messages: CRLFCRLF is a ping, answered with
 * CRLF (RFC 5626 4.4.1); a lone CRLF is skipped.  Returns 1 to wait for
 * more bytes (or when c closed), 0 when a message may start.
 */
static int
conn_crlf(struct conn *c, struct evbuffer *in)
{
	uint8_t	 b[4];
	size_t	 n;

	for (;;) {
		if ((n = evbuffer_get_length(in)) > sizeof(b))
			n = sizeof(b);
		if (n == 0 || evbuffer_copyout(in, b, n) != (ev_ssize_t)n ||
		    b[0] != '\r')
			return 0;
		if (n == 1)
			return 1;
		if (b[1] != '\n')
			return 0;	/* garbage: framing refuses it */
		if (n == 4 && memcmp(b, "\r\n\r\n", 4) == 0) {
			evbuffer_drain(in, 4);
			if (conn_write(c, "\r\n", 2) != 0)
				return 1;
			continue;
		}
		if (n == 2 || (n == 3 && b[2] == '\r'))
			return 1;	/* maybe a ping yet */
		evbuffer_drain(in, 2);
	}
}

/*
 * The length of the next whole message in the input: 0 when more is
 * needed, -1 when the stream is broken (why set).
 */
static int
conn_frame(struct conn *c, struct evbuffer *in, size_t *total,
    const char **why)
{
	struct evbuffer_ptr	 start, end, pos;
	size_t			 len = evbuffer_get_length(in), lim, clen;
	uint8_t			*p;

	if (c->need != 0) {
		*total = c->need;
		return len >= c->need;
	}
	lim = len < HDR_MAX ? len : HDR_MAX;
	if (evbuffer_ptr_set(in, &start, c->scan, EVBUFFER_PTR_SET) != 0 ||
	    evbuffer_ptr_set(in, &end, lim, EVBUFFER_PTR_SET) != 0)
		return 0;
	pos = evbuffer_search_range(in, "\r\n\r\n", 4, &start, &end);
	if (pos.pos < 0) {
		if (len >= HDR_MAX) {
			*why = "header block over 16384 bytes";
			return -1;
		}
		c->scan = lim > 3 ? lim - 3 : 0;
		return 0;
	}
	if ((p = evbuffer_pullup(in, (ev_ssize_t)pos.pos + 4)) == NULL) {
		*why = "out of memory";
		return -1;
	}
	if (hdr_content_length(p, (size_t)pos.pos + 4, &clen) != 0) {
		*why = "bad Content-Length";
		return -1;
	}
	if (clen > CCM_MSG_MAX || (size_t)pos.pos + 4 + clen > CCM_MSG_MAX) {
		*why = "message over 65535 bytes";
		return -1;
	}
	c->need = *total = (size_t)pos.pos + 4 + clen;
	return len >= c->need;
}

/*
 * SCCP (spec 2): the next whole Skinny message, through skinny_frame
 * over at most SKINNY_MSG_MAX buffered bytes.  Returns 1 with *p and
 * *total, 0 when more is needed, -1 when the stream is broken (why).
 */
static int
conn_frame_sccp(struct evbuffer *in, uint8_t **p, size_t *total,
    const char **why)
{
	size_t	 len = evbuffer_get_length(in);
	int	 r;

	if (len > SKINNY_MSG_MAX)
		len = SKINNY_MSG_MAX;
	if ((*p = evbuffer_pullup(in, (ev_ssize_t)len)) == NULL) {
		*why = "out of memory";
		return -1;
	}
	if ((r = skinny_frame(*p, len, total, why)) < 0) {
		if (*why == NULL)
			*why = "broken Skinny frame";
		return -1;
	}
	return r == 1 && *total <= len ? 1 : 0;
}

/* Whole Skinny messages to sccp.c; a broken frame closes c. */
static void
conn_input_sccp(struct conn *c)
{
	struct ccm	*ccm = c->tp->ccm;
	struct evbuffer	*in;
	const char	*why = NULL;
	char		 line[160];
	size_t		 total = 0;
	uint8_t		*p = NULL;
	int		 r;

	while (!c->closed && !c->closing && c->up) {
		in = bufferevent_get_input(c->bev);
		if (evbuffer_get_length(in) == 0)
			return;
		if ((r = conn_frame_sccp(in, &p, &total, &why)) < 0) {
			snprintf(line, sizeof(line),
			    "SCCP frame broken (spec 2): %s", why);
			conn_close(c, line, LOG_LEVEL_INFO);
			return;
		}
		if (r == 0)
			return;
		/* c may close in here; the buffer stays until the reaper. */
		sccp_input(ccm, p, total, &c->info);
		evbuffer_drain(in, total);
	}
}

/* Whole messages from the input to the SIP layer (or sccp.c). */
static void
conn_input(struct conn *c)
{
	struct ccm	*ccm = c->tp->ccm;
	struct evbuffer	*in;
	const char	*why = NULL;
	size_t		 total = 0;
	uint8_t		*p;
	int		 r;

	if (c->info.proto == TP_SCCP) {
		conn_input_sccp(c);
		return;
	}
	while (!c->closed && !c->closing && c->up) {
		in = bufferevent_get_input(c->bev);
		if (evbuffer_get_length(in) == 0)
			return;
		if (c->need == 0 && c->scan == 0 && conn_crlf(c, in) != 0)
			return;
		if ((r = conn_frame(c, in, &total, &why)) < 0) {
			conn_close(c, why, LOG_LEVEL_INFO);
			return;
		}
		if (r == 0)
			return;
		if ((p = evbuffer_pullup(in, (ev_ssize_t)total)) == NULL) {
			conn_close(c, "out of memory", LOG_LEVEL_WARN);
			return;
		}
		c->need = c->scan = 0;
		/* c may close in here; the buffer stays until the reaper. */
		sip_input(ccm, (const char *)p, total, &c->info);
		evbuffer_drain(in, total);
	}
}

static void
read_cb(struct bufferevent *bev, void *arg)
{
	struct conn	*c = arg;

	(void)bev;
	if (c->closing) {	/* tp_close: what the peer still sends goes */
		evbuffer_drain(bufferevent_get_input(c->bev),
		    evbuffer_get_length(bufferevent_get_input(c->bev)));
		return;
	}
	conn_touch(c);
	conn_input(c);
}

/* tp_close: the output is drained, close now. */
static void
write_cb(struct bufferevent *bev, void *arg)
{
	struct conn	*c = arg;

	if (c->closing && evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		conn_close(c, "closed after the reply", LOG_LEVEL_DEBUG);
}

/* The first OpenSSL or socket error of the connection, for the log. */
static void
conn_error(struct conn *c, char *buf, size_t sz)
{
	unsigned long	 e = bufferevent_get_openssl_error(c->bev);
	long		 vr;
	char		 es[256];
	SSL		*ssl;

	if (e == 0 || ERR_GET_LIB(e) == 0) {	/* 0 or a bare errno */
		snprintf(buf, sz, "%s", EVUTIL_SOCKET_ERROR() != 0 ?
		    strerror(EVUTIL_SOCKET_ERROR()) : "connection reset");
		while (bufferevent_get_openssl_error(c->bev) != 0)
			;
		return;
	}
	ERR_error_string_n(e, es, sizeof(es));
	ssl = bufferevent_openssl_get_ssl(c->bev);
	if (ssl != NULL && (vr = SSL_get_verify_result(ssl)) != X509_V_OK)
		snprintf(buf, sz, "TLS: %s (certificate: %s)", es,
		    X509_verify_cert_error_string(vr));
	else
		snprintf(buf, sz, "TLS: %s", es);
	while (bufferevent_get_openssl_error(c->bev) != 0)
		;
}

/*
 * The subject CN of x, only when there is exactly one and it is text
 * that fits without NUL or control bytes ("" otherwise: a truncated or
 * ambiguous name must never match a device).
 */
static void
cert_cn(X509 *x, char *buf, size_t sz)
{
	const X509_NAME	*name = X509_get_subject_name(x);
	unsigned char	*u = NULL;
	int		 i, n;

	buf[0] = '\0';
	if ((i = X509_NAME_get_index_by_NID(name, NID_commonName, -1)) < 0 ||
	    X509_NAME_get_index_by_NID(name, NID_commonName, i) >= 0)
		return;
	n = ASN1_STRING_to_UTF8(&u, X509_NAME_ENTRY_get_data(
	    X509_NAME_get_entry(name, i)));
	if (n > 0 && (size_t)n < sz && strlen((char *)u) == (size_t)n) {
		for (i = 0; i < n && u[i] >= 0x20 && u[i] != 0x7f; i++)
			;
		if (i == n)
			memcpy(buf, u, (size_t)n + 1);
	}
	OPENSSL_free(u);
}

/* Whether the chain of leaf verifies against the anchors in st. */
static int
chain_verifies(X509_STORE *st, X509 *leaf, STACK_OF(X509) *untrusted)
{
	X509_STORE_CTX	*ctx;
	int		 ok = 0;

	if (st == NULL || (ctx = X509_STORE_CTX_new()) == NULL)
		return 0;
	if (X509_STORE_CTX_init(ctx, st, leaf, untrusted) == 1 &&
	    X509_STORE_CTX_set_default(ctx, "ssl_client") == 1) {
		X509_VERIFY_PARAM_set_depth(X509_STORE_CTX_get0_param(ctx),
		    VERIFY_DEPTH);
		ok = X509_verify_cert(ctx) == 1;
	}
	X509_STORE_CTX_free(ctx);
	ERR_clear_error();
	return ok;
}

/*
 * Which anchors an incoming peer's certificate (verified against the
 * union of both during the handshake) chains to: the phones' (client_ca
 * and the CTL) and the trunks' (trunk_ca).  The answer is kept with the
 * TLS session, so a resumption costs no verification.
 */
static void
conn_trust(struct conn *c, SSL *ssl, X509 *x)
{
	const struct ccm_creds	*cr = c->creds;
	SSL_SESSION		*sess = SSL_get_session(ssl);
	uintptr_t		 v = 0;

	if (cr->trunk_trust == NULL || cr->trunk_trust == cr->trust) {
		c->info.phone_ok = c->info.trunk_ok = 1;
		return;
	}
	if (sess_idx >= 0 && sess != NULL)
		v = (uintptr_t)SSL_SESSION_get_ex_data(sess, sess_idx);
	if ((v & TRUST_KNOWN) == 0) {
		v = TRUST_KNOWN;
		if (chain_verifies(cr->trust, x, SSL_get_peer_cert_chain(ssl)))
			v |= TRUST_PHONE;
		if (chain_verifies(cr->trunk_trust, x,
		    SSL_get_peer_cert_chain(ssl)))
			v |= TRUST_TRUNK;
		if (sess_idx >= 0 && sess != NULL &&
		    SSL_SESSION_set_ex_data(sess, sess_idx, (void *)v) != 1)
			ERR_clear_error();
	}
	c->info.phone_ok = (v & TRUST_PHONE) != 0;
	c->info.trunk_ok = (v & TRUST_TRUNK) != 0;
}

/* TLS facts for tp_info once the handshake is done. */
static void
conn_tls_info(struct conn *c)
{
	SSL			*ssl = bufferevent_openssl_get_ssl(c->bev);
	const SSL_CIPHER	*ci;
	X509			*x;

	if (ssl == NULL)
		return;
	ci = SSL_get_current_cipher(ssl);
	c->info.encrypted = ci != NULL &&
	    SSL_CIPHER_get_cipher_nid(ci) != NID_undef &&
	    strstr(SSL_CIPHER_get_name(ci), "NULL") == NULL;
	if (SSL_get_verify_result(ssl) != X509_V_OK ||
	    (x = SSL_get1_peer_certificate(ssl)) == NULL)
		return;
	c->info.cert = x;
	if (c->outgoing)	/* tls_client verified it with trunk_trust */
		c->info.trunk_ok = 1;
	else
		conn_trust(c, ssl, x);
	cert_cn(x, c->info.cert_cn, sizeof(c->info.cert_cn));
	if (cert_name_text(X509_get_subject_name(x), c->info.cert_subject,
	    sizeof(c->info.cert_subject)) != 0)
		c->info.cert_subject[0] = '\0';
	log_debug("tls %s%s: connection %llu: %s %s, %s%s, certificate %s "
	    "(%s%s%s)", c->outgoing ? "to " : "", c->info.peer_text,
	    (unsigned long long)c->info.peer.conn, SSL_get_version(ssl),
	    ci != NULL ? SSL_CIPHER_get_name(ci) : "?",
	    c->info.encrypted ? "encrypted" : "NOT encrypted",
	    SSL_session_reused(ssl) ? ", resumed" : "",
	    c->info.cert_subject, c->info.phone_ok ? "phone" : "",
	    c->info.phone_ok && c->info.trunk_ok ? "/" : "",
	    c->info.trunk_ok ? "trunk" : c->info.phone_ok ? "" : "no anchor");
}

/* Outgoing TLS: the peer must carry the trunk's name (RFC 5922). */
static int
conn_name_ok(struct conn *c)
{
	const struct trunk	*t = c->trunk;

	if (!c->want_name)
		return c->info.cert != NULL;
	if (c->trunk_stale) {	/* trunks reloaded: the pointer is stale */
		t = trunk_match(c->tp->ccm, &c->info);
		if (t != NULL && (trunk_name(t) == NULL ||
		    strcmp(trunk_name(t), c->trunk_name) != 0))
			t = NULL;	/* another trunk at that address */
	}
	c->trunk = NULL;
	return t != NULL && c->info.cert != NULL &&
	    trunk_name_match(t, c->info.cert) == 1;
}

/* Connected, TLS handshake done: messages may flow. */
static void
conn_up(struct conn *c)
{
	c->up = 1;
	if (c->info.tls) {
		conn_tls_info(c);
		if (c->outgoing && !conn_name_ok(c)) {
			conn_close(c, "peer certificate does not carry the "
			    "trunk's name (RFC 5922)", LOG_LEVEL_INFO);
			return;
		}
	}
	c->last = now_s();
	q_set(c, c->pinned ? Q_NONE : Q_IDLE);
	conn_input(c);
}

static void
event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct conn	*c = arg;
	char		 why[384];

	(void)bev;
	if (what & BEV_EVENT_CONNECTED) {
		conn_up(c);
		return;
	}
	if (what & BEV_EVENT_EOF)
		conn_close(c, c->up ? "closed by the peer" :
		    "closed during the handshake", c->up ? LOG_LEVEL_DEBUG :
		    LOG_LEVEL_INFO);
	else if (what & BEV_EVENT_ERROR) {
		conn_error(c, why, sizeof(why));
		conn_close(c, why, c->up ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO);
	}
}

/* Where the peer reached us (getsockname). */
static void
conn_local(struct conn *c, evutil_socket_t fd)
{
	struct sockaddr_storage	 ss;
	socklen_t		 len = sizeof(ss);

	if (fd < 0 || getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
		return;
	addr_host((struct sockaddr *)&ss, c->info.local_host,
	    sizeof(c->info.local_host), &c->info.local_port);
}

/* Callbacks, input bound, reading on. */
static void
conn_arm(struct conn *c)
{
	bufferevent_setcb(c->bev, read_cb, NULL, event_cb, c);
	bufferevent_setwatermark(c->bev, EV_READ, 0, IN_MAX);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

/* --- Accepting -------------------------------------------------------- */

/* Over a cap: one log line a second at most, with the count. */
static void
refuse(struct tp_state *tp, const struct lis *l, const struct sockaddr *sa,
    const char *why)
{
	char	 peer[TEXT_MAX];
	int64_t	 t = now_s();

	tp->refused++;
	if (t == tp->refused_logged)
		return;
	addr_text(sa, peer, sizeof(peer));
	log_info("%s %s: refused %s: %s (%lu refused since the last such "
	    "message)", kind_names[l->kind], l->text, peer, why, tp->refused);
	tp->refused = 0;
	tp->refused_logged = t;
}

static void
accept_cb(struct evconnlistener *el, evutil_socket_t fd, struct sockaddr *sa,
    int salen, void *arg)
{
	struct lis		*l = arg;
	struct tp_state		*tp = l->tp;
	const struct ccm_config	*cfg = tp->ccm->cfg;
	struct addr_ent		*e;
	struct conn		*c;
	SSL			*ssl;
	int			 one = 1;

	(void)el;
	if ((size_t)salen > sizeof(c->info.peer.addr) ||
	    (sa->sa_family != AF_INET && sa->sa_family != AF_INET6)) {
		evutil_closesocket(fd);
		return;
	}
	if (tp->nconns >= (size_t)cfg->max_conns) {
		refuse(tp, l, sa, "max_connections reached");
		evutil_closesocket(fd);
		return;
	}
	if ((e = addr_find(tp, sa)) != NULL && e->n >= cfg->max_per_addr) {
		refuse(tp, l, sa, "max_per_address reached");
		evutil_closesocket(fd);
		return;
	}
	if ((c = conn_new(tp, l->kind, 0)) == NULL) {
		log_warnx("%s %s: out of memory", kind_names[l->kind], l->text);
		evutil_closesocket(fd);
		return;
	}
	memcpy(&c->info.peer.addr, sa, (size_t)salen);
	c->info.peer.addrlen = (socklen_t)salen;
	c->info.peer.sock = l->idx;
	c->info.proto = l->proto;
	c->info.legacy = l->legacy;
	addr_text(sa, c->info.peer_text, sizeof(c->info.peer_text));
	conn_local(c, fd);
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (addr_ref(c, sa) != 0)
		goto fail;
	if (l->kind == TP_TLS) {
		if ((ssl = SSL_new(l->legacy ? c->creds->tls_legacy :
		    c->creds->tls)) == NULL)
			goto fail;
		/* SCCP authenticated mode is NULL-SHA (spec 1.1 mode 2) */
		if (l->legacy && l->proto == TP_SCCP &&
		    SSL_set_cipher_list(ssl, TP_CIPHERS_NULL) != 1) {
			SSL_free(ssl);
			goto fail;
		}
		c->bev = bufferevent_openssl_socket_new(tp->ccm->base, fd, ssl,
		    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
		if (c->bev == NULL)
			SSL_free(ssl);
		q_set(c, Q_HS);
	} else {
		c->bev = bufferevent_socket_new(tp->ccm->base, fd,
		    BEV_OPT_CLOSE_ON_FREE);
		c->up = 1;
		q_set(c, Q_IDLE);
	}
	if (c->bev == NULL)
		goto fail;
	conn_arm(c);
	log_debug("%s %s: connection %llu from %s",
	    lis_names[l->proto][l->kind], l->text,
	    (unsigned long long)c->info.peer.conn, c->info.peer_text);
	return;
fail:
	ERR_clear_error();
	if (c->bev == NULL)
		evutil_closesocket(fd);
	conn_close(c, "out of memory", LOG_LEVEL_WARN);
}

static void
accept_error_cb(struct evconnlistener *el, void *arg)
{
	struct lis	*l = arg;

	(void)el;
	log_warnx("%s %s: accept: %s", kind_names[l->kind], l->text,
	    strerror(EVUTIL_SOCKET_ERROR()));
}

/* --- UDP -------------------------------------------------------------- */

/*
 * Only CR, LF and blanks (a keepalive), or a leading control byte (a
 * STUN keepalive, RFC 5626 4.4.2): not a SIP message.
 */
static int
blank(const uint8_t *p, size_t n)
{
	size_t	 i;

	if (n > 0 && p[0] < 0x20 && p[0] != '\r' && p[0] != '\n')
		return 1;
	for (i = 0; i < n; i++)
		if (p[i] != '\r' && p[i] != '\n' && p[i] != ' ' && p[i] != '\t')
			return 0;
	return 1;
}

/* The datagram's destination address (wildcard sockets, PKTINFO). */
static void
udp_dst(struct msghdr *mh, struct tp_info *info)
{
	struct cmsghdr		*cm;
	struct in_pktinfo	*pi;
	struct in6_pktinfo	*pi6;

	for (cm = CMSG_FIRSTHDR(mh); cm != NULL; cm = CMSG_NXTHDR(mh, cm)) {
		if (cm->cmsg_level == IPPROTO_IP &&
		    cm->cmsg_type == IP_PKTINFO) {
			pi = (struct in_pktinfo *)(void *)CMSG_DATA(cm);
			inet_ntop(AF_INET, &pi->ipi_addr, info->local_host,
			    sizeof(info->local_host));
		} else if (cm->cmsg_level == IPPROTO_IPV6 &&
		    cm->cmsg_type == IPV6_PKTINFO) {
			pi6 = (struct in6_pktinfo *)(void *)CMSG_DATA(cm);
			inet_ntop(AF_INET6, &pi6->ipi6_addr, info->local_host,
			    sizeof(info->local_host));
		}
	}
}

/* Up to UDP_BURST datagrams, each one message. */
static void
udp_cb(evutil_socket_t fd, short what, void *arg)
{
	struct udp_sock	*u = arg;
	struct tp_state	*tp = u->tp;
	struct tp_info	 info;
	struct msghdr	 mh;
	struct iovec	 iov;
	union {
		struct cmsghdr	 h;
		uint8_t		 b[CMSG_SPACE(sizeof(struct in6_pktinfo))];
	}		 cbuf;
	ssize_t		 n;
	int		 i;

	(void)what;
	for (i = 0; i < UDP_BURST; i++) {
		memset(&info, 0, sizeof(info));
		memset(&mh, 0, sizeof(mh));
		iov.iov_base = tp->rbuf;
		iov.iov_len = CCM_MSG_MAX + 1;
		mh.msg_name = &info.peer.addr;
		mh.msg_namelen = sizeof(info.peer.addr);
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		mh.msg_control = &cbuf;
		mh.msg_controllen = sizeof(cbuf);
		if ((n = recvmsg(fd, &mh, 0)) == -1) {
			if (errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != EINTR)
				log_debug("udp %s: recvmsg: %s", u->text,
				    strerror(errno));
			return;
		}
		if (n > CCM_MSG_MAX || (mh.msg_flags & MSG_TRUNC) ||
		    blank(tp->rbuf, (size_t)n))
			continue;
		info.peer.kind = TP_UDP;
		info.peer.sock = u->idx;
		info.peer.addrlen = mh.msg_namelen;
		addr_text((struct sockaddr *)&info.peer.addr, info.peer_text,
		    sizeof(info.peer_text));
		snprintf(info.local_host, sizeof(info.local_host), "%s",
		    u->host);
		info.local_port = u->port;
		if (u->wildcard)
			udp_dst(&mh, &info);
		sip_input(tp->ccm, (const char *)tp->rbuf, (size_t)n, &info);
	}
}

/* --- Binding ---------------------------------------------------------- */

/* "host:port" or "[v6]:port" (ccmd.c normalised it) into sa. */
static int
listen_addr(const char *text, struct sockaddr_storage *ss, socklen_t *len)
{
	struct addrinfo	 hints, *res = NULL;
	char		 host[INET6_ADDRSTRLEN + 2], *p;
	const char	*colon;
	int		 e;

	if ((colon = strrchr(text, ':')) == NULL ||
	    (size_t)(colon - text) >= sizeof(host))
		return uc_fail(UC_ERR_ARG, "%s: want address:port", text);
	memcpy(host, text, (size_t)(colon - text));
	host[colon - text] = '\0';
	p = host;
	if (p[0] == '[' && p[strlen(p) - 1] == ']') {
		p[strlen(p) - 1] = '\0';
		p++;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
	if ((e = getaddrinfo(p, colon + 1, &hints, &res)) != 0)
		return uc_fail(UC_ERR_ARG, "%s: %s", text, gai_strerror(e));
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

/* A bound socket (non-blocking, close-on-exec); UC_ERR_IO on failure. */
static int
sock_bind(int kind, const char *text, evutil_socket_t *out,
    struct sockaddr_storage *ss)
{
	socklen_t	 len = 0;
	int		 fd, one = 1, big = UDP_RCVBUF, r;

	*out = -1;
	if ((r = listen_addr(text, ss, &len)) != 0)
		return r;
	if ((fd = socket(ss->ss_family, (kind == TP_UDP ? SOCK_DGRAM :
	    SOCK_STREAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1)
		return uc_fail(UC_ERR_IO, "%s %s: socket: %s",
		    kind_names[kind], text, strerror(errno));
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss->ss_family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one,
		    sizeof(one));
	if (kind == TP_UDP)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	if (bind(fd, (struct sockaddr *)ss, len) == -1 || (kind != TP_UDP &&
	    listen(fd, BACKLOG) == -1)) {
		r = uc_fail(UC_ERR_IO, "%s %s: bind: %s", kind_names[kind],
		    text, strerror(errno));
		close(fd);
		return r;
	}
	*out = fd;
	return 0;
}

static int
bind_udp(struct tp_state *tp, const struct listen_cfg *lc)
{
	struct udp_sock		*u = &tp->udp[tp->nudp];
	struct sockaddr_storage	 ss;
	const struct sockaddr_in6 *s6 = (const void *)&ss;
	const struct sockaddr_in *s4 = (const void *)&ss;
	int			 r, one = 1;

	if (tp->nudp == CCM_LISTEN_MAX)
		return uc_fail(UC_ERR_ARG, "more than %d udp listeners",
		    CCM_LISTEN_MAX);
	if ((r = sock_bind(TP_UDP, lc->addr, &u->fd, &ss)) != 0)
		return r;
	u->tp = tp;
	u->idx = (int)tp->nudp++;
	u->family = ss.ss_family;
	addr_host((struct sockaddr *)&ss, u->host, sizeof(u->host), &u->port);
	addr_text((struct sockaddr *)&ss, u->text, sizeof(u->text));
	u->wildcard = ss.ss_family == AF_INET ?
	    s4->sin_addr.s_addr == htonl(INADDR_ANY) :
	    IN6_IS_ADDR_UNSPECIFIED(&s6->sin6_addr);
	if (u->wildcard && ss.ss_family == AF_INET)
		(void)setsockopt(u->fd, IPPROTO_IP, IP_PKTINFO, &one,
		    sizeof(one));
	else if (u->wildcard)
		(void)setsockopt(u->fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one,
		    sizeof(one));
	return 0;
}

static int
bind_stream(struct tp_state *tp, const struct listen_cfg *lc)
{
	struct lis		*l = &tp->lis[tp->nlis];
	struct sockaddr_storage	 ss;
	evutil_socket_t		 fd;
	int			 r;

	if (tp->nlis == LIS_MAX)
		return uc_fail(UC_ERR_ARG, "more than %d tcp/tls listeners",
		    LIS_MAX);
	if ((r = sock_bind(lc->kind, lc->addr, &fd, &ss)) != 0)
		return r;
	l->tp = tp;
	l->kind = lc->kind;
	l->proto = lc->proto == TP_SCCP ? TP_SCCP : TP_SIP;
	l->legacy = lc->kind == TP_TLS && lc->legacy;
	l->idx = (int)tp->nlis;
	addr_text((struct sockaddr *)&ss, l->text, sizeof(l->text));
	l->l = evconnlistener_new(tp->ccm->base, accept_cb, l,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_DISABLED, 0, fd);
	if (l->l == NULL) {
		close(fd);
		return uc_fail(UC_ERR_ALLOC, "%s %s: listener",
		    kind_names[lc->kind], lc->addr);
	}
	evconnlistener_set_error_cb(l->l, accept_error_cb);
	tp->nlis++;
	return 0;
}

/*
 * Bind every configured listener (before privileges are dropped);
 * nothing is read or accepted until tp_start.  Returns 0 or UC_ERR_*
 * naming the address; tp_stop frees what was made.
 */
int
tp_bind(struct ccm *ccm)
{
	const struct ccm_config	*cfg = ccm->cfg;
	struct tp_state		*tp;
	size_t			 i;
	int			 r;

	if ((tp = calloc(1, sizeof(*tp))) == NULL ||
	    (tp->rbuf = malloc(CCM_MSG_MAX + 1)) == NULL) {
		free(tp);
		return uc_fail(UC_ERR_ALLOC, "transport");
	}
	tp->ccm = ccm;
	ccm->tp = tp;
	if (sess_idx < 0)
		sess_idx = SSL_SESSION_get_ex_new_index(0, NULL, NULL, NULL,
		    NULL);
	for (i = 0; i < ID_BUCKETS; i++)
		LIST_INIT(&tp->ids[i]);
	for (i = 0; i < ADDR_BUCKETS; i++)
		LIST_INIT(&tp->addrs[i]);
	TAILQ_INIT(&tp->conns);
	TAILQ_INIT(&tp->out);
	TAILQ_INIT(&tp->graveyard);
	TAILQ_INIT(&tp->hsq);
	TAILQ_INIT(&tp->idleq);
	TAILQ_INIT(&tp->closeq);
	for (i = 0; i < CCM_LISTEN_MAX; i++)
		tp->udp[i].fd = -1;
	if ((tp->reaper = event_new(ccm->base, -1, EV_READ, reaper_cb,
	    tp)) == NULL)
		return uc_fail(UC_ERR_ALLOC, "transport");
	for (i = 0; i < cfg->nlisten; i++) {
		r = cfg->listen[i].kind == TP_UDP ?
		    bind_udp(tp, &cfg->listen[i]) :
		    bind_stream(tp, &cfg->listen[i]);
		if (r != 0)
			return r;
	}
	return 0;
}

/*
 * Start reading and accepting (after daemon(3) and event_reinit, on
 * the loop).  Logs one line naming the listeners.  Returns 0 or
 * UC_ERR_*.
 */
int
tp_start(struct ccm *ccm)
{
	struct tp_state	*tp = ccm->tp;
	struct timeval	 tv = { SWEEP_SECS, 0 };
	char		 line[768];
	size_t		 i, o = 0;

	line[0] = '\0';
	for (i = 0; i < tp->nudp; i++) {
		tp->udp[i].ev = event_new(ccm->base, tp->udp[i].fd,
		    EV_READ | EV_PERSIST, udp_cb, &tp->udp[i]);
		if (tp->udp[i].ev == NULL || event_add(tp->udp[i].ev,
		    NULL) != 0)
			return uc_fail(UC_ERR_ALLOC, "udp %s: event",
			    tp->udp[i].text);
		if (o < sizeof(line))
			o += (size_t)snprintf(line + o, sizeof(line) - o,
			    " udp %s", tp->udp[i].text);
	}
	for (i = 0; i < tp->nlis; i++) {
		if (evconnlistener_enable(tp->lis[i].l) != 0)
			return uc_fail(UC_ERR_INTERNAL, "%s %s: listen",
			    kind_names[tp->lis[i].kind], tp->lis[i].text);
		if (o < sizeof(line))
			o += (size_t)snprintf(line + o, sizeof(line) - o,
			    " %s%s %s",
			    lis_names[tp->lis[i].proto][tp->lis[i].kind],
			    tp->lis[i].legacy ? "(legacy)" : "",
			    tp->lis[i].text);
	}
	if ((tp->sweep = event_new(ccm->base, -1, EV_PERSIST, sweep_cb,
	    tp)) == NULL || event_add(tp->sweep, &tv) != 0)
		return uc_fail(UC_ERR_ALLOC, "transport timer");
	log_info("listening on%s", line);
	return 0;
}

static void
connq_free(struct connq *q)
{
	struct conn	*c;

	while ((c = TAILQ_FIRST(q)) != NULL) {
		TAILQ_REMOVE(q, c, lentry);
		addr_unref(c);
		conn_free(c, 0);
	}
}

/*
 * Close every listener and connection and free the transport; the SIP
 * layer is not told (it is freed first, at exit).  Pending output is
 * not flushed.
 */
void
tp_stop(struct ccm *ccm)
{
	struct tp_state	*tp = ccm->tp;
	size_t		 i;

	if (tp == NULL)
		return;
	for (i = 0; i < tp->nlis; i++)
		evconnlistener_free(tp->lis[i].l);
	for (i = 0; i < tp->nudp; i++) {
		if (tp->udp[i].ev != NULL)
			event_free(tp->udp[i].ev);
		close(tp->udp[i].fd);
	}
	connq_free(&tp->conns);
	connq_free(&tp->out);
	connq_free(&tp->graveyard);
	if (tp->sweep != NULL)
		event_free(tp->sweep);
	if (tp->reaper != NULL)
		event_free(tp->reaper);
	free(tp->rbuf);
	free(tp);
	ccm->tp = NULL;
}

/* --- For the SIP layer ------------------------------------------------ */

/*
 * Send bytes to a peer (ccm.h).  TCP/TLS: queued on the connection
 * (UC_ERR_NOTFOUND if it is gone); a peer with more than OUT_MAX bytes
 * unread is dropped (UC_ERR_IO).  UDP: one datagram from the listener
 * peer->sock.
 */
int
tp_send(struct ccm *ccm, const struct tp_peer *p, const void *buf,
    size_t len)
{
	struct tp_state	*tp = ccm->tp;
	struct conn	*c;
	char		 text[TEXT_MAX];

	if (tp == NULL)
		return uc_fail(UC_ERR_NOTFOUND, "transport stopped");
	if (p->kind == TP_UDP) {
		if (p->sock < 0 || (size_t)p->sock >= tp->nudp)
			return uc_fail(UC_ERR_NOTFOUND, "no udp socket %d",
			    p->sock);
		if (sendto(tp->udp[p->sock].fd, buf, len, 0,
		    (const struct sockaddr *)&p->addr, p->addrlen) == -1) {
			addr_text((const struct sockaddr *)&p->addr, text,
			    sizeof(text));
			return uc_fail(UC_ERR_IO, "udp send to %s: %s", text,
			    strerror(errno));
		}
		return 0;
	}
	if ((c = conn_find(tp, p->conn)) == NULL)
		return uc_fail(UC_ERR_NOTFOUND, "connection %llu is gone",
		    (unsigned long long)p->conn);
	return conn_write(c, buf, len);
}

/* evbuffer_add_reference cleanup: the bytes held key material. */
static void
secret_free(const void *data, size_t len, void *arg)
{
	(void)arg;
	OPENSSL_cleanse((void *)(uintptr_t)data, len);
	free((void *)(uintptr_t)data);
}

/*
 * tp_send for bytes that carry keys (SCCP ORC/SMT): queued by reference
 * to our own copy, which is wiped when the stream has written it, so
 * no unwiped copy stays in libevent's buffers.  TCP/TLS only.
 */
int
tp_send_secret(struct ccm *ccm, const struct tp_peer *p, const void *buf,
    size_t len)
{
	struct conn	*c;
	struct evbuffer	*out;
	void		*copy;

	if (ccm->tp == NULL || p->kind == TP_UDP ||
	    (c = conn_find(ccm->tp, p->conn)) == NULL || c->bev == NULL)
		return uc_fail(UC_ERR_NOTFOUND, "connection %llu is gone",
		    (unsigned long long)p->conn);
	out = bufferevent_get_output(c->bev);
	if (evbuffer_get_length(out) + len > OUT_MAX) {
		conn_close(c, "the peer does not read (output queue full)",
		    LOG_LEVEL_INFO);
		return uc_fail(UC_ERR_IO, "%s %s: output queue full",
		    kind_names[c->info.peer.kind], c->info.peer_text);
	}
	if ((copy = malloc(len)) == NULL)
		return uc_fail(UC_ERR_ALLOC, "send");
	memcpy(copy, buf, len);
	if (evbuffer_add_reference(out, copy, len, secret_free, NULL) != 0) {
		secret_free(copy, len, NULL);
		conn_close(c, "out of memory", LOG_LEVEL_WARN);
		return uc_fail(UC_ERR_ALLOC, "%s %s: send",
		    kind_names[c->info.peer.kind], c->info.peer_text);
	}
	conn_touch(c);
	return 0;
}

/*
 * The live outgoing connection of this kind to sa for the trunk named
 * tname ("" for none), or NULL.  A TLS connection was checked against
 * one trunk's name: another trunk at the same address gets its own.
 */
static struct conn *
out_find(struct tp_state *tp, int kind, const struct sockaddr *sa,
    const char *tname)
{
	struct conn	*c;

	TAILQ_FOREACH(c, &tp->out, lentry)
		if (c->info.peer.kind == kind &&
		    addr_eq(&c->info.peer.addr, sa) &&
		    strcmp(c->trunk_name, tname) == 0)
			return c;
	return NULL;
}

/* SNI: the trunk's peer host when it is a name, not an address. */
static void
out_sni(SSL *ssl, const struct trunk *t)
{
	const struct store_trunk	*row;
	uint8_t				 b[16];

	if (t == NULL || (row = trunk_row(t)) == NULL || row->peer[0] == '\0' ||
	    inet_pton(AF_INET, row->peer, b) == 1 ||
	    inet_pton(AF_INET6, row->peer, b) == 1)
		return;
	if (SSL_set_tlsext_host_name(ssl, row->peer) != 1)
		ERR_clear_error();
}

static int
out_new(struct tp_state *tp, int kind, const struct sockaddr *sa,
    socklen_t salen, const struct trunk *t, struct conn **out)
{
	struct conn	*c;
	SSL		*ssl;

	*out = NULL;
	if (kind == TP_TLS && tp->ccm->creds->tls_client == NULL)
		return uc_fail(UC_ERR_UNSUPPORTED, "tls: no certificate and "
		    "key configured");
	if (tp->nconns >= (size_t)tp->ccm->cfg->max_conns)
		return uc_fail(UC_ERR_POLICY, "max_connections reached");
	if ((c = conn_new(tp, kind, 1)) == NULL)
		return uc_fail(UC_ERR_ALLOC, "connection");
	memcpy(&c->info.peer.addr, sa, salen);
	c->info.peer.addrlen = salen;
	addr_text(sa, c->info.peer_text, sizeof(c->info.peer_text));
	c->trunk = t;
	c->want_name = t != NULL;
	if (t != NULL && trunk_name(t) != NULL)
		snprintf(c->trunk_name, sizeof(c->trunk_name), "%s",
		    trunk_name(t));
	if (kind == TP_TLS) {
		if ((ssl = SSL_new(c->creds->tls_client)) != NULL) {
			out_sni(ssl, t);
			c->bev = bufferevent_openssl_socket_new(tp->ccm->base,
			    -1, ssl, BUFFEREVENT_SSL_CONNECTING,
			    BEV_OPT_CLOSE_ON_FREE);
			if (c->bev == NULL)
				SSL_free(ssl);
		}
	} else
		c->bev = bufferevent_socket_new(tp->ccm->base, -1,
		    BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		ERR_clear_error();
		conn_close(c, "out of memory", LOG_LEVEL_WARN);
		return uc_fail(UC_ERR_ALLOC, "connection");
	}
	q_set(c, Q_HS);
	conn_arm(c);
	*out = c;
	return 0;
}

/*
 * Open (or reuse) a connection to a trunk peer (ccm.h); *peer names
 * it.  Bytes sent before it is up wait in its output.  TLS presents
 * our certificate, verifies the peer against creds->trunk_trust and,
 * when t is not NULL, its name (trunk_name_match) once the handshake is
 * done; a connection is reused only for the same trunk.
 * UDP only picks a socket of the address family.  Returns 0 or UC_ERR_*.
 */
int
tp_connect(struct ccm *ccm, int kind, const struct sockaddr *sa,
    socklen_t salen, const struct trunk *t, struct tp_peer *peer)
{
	struct tp_state	*tp = ccm->tp;
	struct conn	*c;
	size_t		 i;
	char		 text[TEXT_MAX];
	int		 r;

	memset(peer, 0, sizeof(*peer));
	if (tp == NULL)
		return uc_fail(UC_ERR_NOTFOUND, "transport stopped");
	if ((size_t)salen > sizeof(peer->addr) ||
	    (sa->sa_family != AF_INET && sa->sa_family != AF_INET6) ||
	    kind < TP_UDP || kind > TP_TLS)
		return uc_fail(UC_ERR_ARG, "tp_connect: bad address or kind");
	addr_text(sa, text, sizeof(text));
	if (kind == TP_UDP) {
		for (i = 0; i < tp->nudp; i++)
			if (tp->udp[i].family == sa->sa_family)
				break;
		if (i == tp->nudp)
			return uc_fail(UC_ERR_UNSUPPORTED, "udp to %s: no udp "
			    "listener of that address family", text);
		peer->kind = TP_UDP;
		peer->sock = (int)i;
		memcpy(&peer->addr, sa, salen);
		peer->addrlen = salen;
		return 0;
	}
	if ((c = out_find(tp, kind, sa, t != NULL && trunk_name(t) != NULL ?
	    trunk_name(t) : "")) == NULL) {
		if ((r = out_new(tp, kind, sa, salen, t, &c)) != 0) {
			uc_prefix(text);
			return r;
		}
		if (bufferevent_socket_connect(c->bev, sa, (int)salen) != 0) {
			conn_close(c, "connect failed", LOG_LEVEL_INFO);
			return uc_fail(UC_ERR_IO, "%s connect to %s failed",
			    kind_names[kind], text);
		}
		conn_local(c, bufferevent_getfd(c->bev));
		log_debug("%s to %s: connection %llu opening", kind_names[kind],
		    text, (unsigned long long)c->info.peer.conn);
	}
	*peer = c->info.peer;
	return 0;
}

/* The info of a live connection (ccm.h), or NULL. */
/*
 * After a reload: does the connection's client certificate still chain
 * to the phones' anchors (creds->trust as it is now)?  1 yes; 0 no, no
 * certificate, or no such connection.
 */
int
tp_phone_trusted(struct ccm *ccm, uint64_t id)
{
	struct conn	*c = conn_find(ccm->tp, id);
	SSL		*ssl;

	if (c == NULL || c->closed || c->info.cert == NULL || c->bev == NULL)
		return 0;
	ssl = bufferevent_openssl_get_ssl(c->bev);
	return chain_verifies(ccm->creds->trust, c->info.cert,
	    ssl != NULL ? SSL_get_peer_cert_chain(ssl) : NULL);
}

const struct tp_info *
tp_info_get(struct ccm *ccm, uint64_t id)
{
	struct conn	*c = conn_find(ccm->tp, id);

	return c != NULL ? &c->info : NULL;
}

/*
 * Close a connection once what is queued on it is written (ccm.h): no
 * more input is read (what arrives is dropped), the close follows the
 * last byte out, or CLOSE_SECS at most.  One log line with why.
 */
void
tp_close(struct ccm *ccm, uint64_t id, const char *why)
{
	struct conn	*c = conn_find(ccm->tp, id);

	if (c == NULL || c->closing)
		return;
	log_info("%s %s: connection %llu closing: %s",
	    lis_names[c->info.proto][c->info.peer.kind], c->info.peer_text,
	    (unsigned long long)id, why);
	if (c->bev == NULL || !c->up ||
	    evbuffer_get_length(bufferevent_get_output(c->bev)) == 0) {
		conn_close(c, "closed after the reply", LOG_LEVEL_DEBUG);
		return;
	}
	c->closing = 1;
	c->since = now_s();
	q_set(c, Q_CLOSING);
	bufferevent_setcb(c->bev, read_cb, write_cb, event_cb, c);
}

/*
 * A connection that holds a registration is never closed for idling;
 * unpinned, its idle time starts now.
 */
void
tp_set_pinned(struct ccm *ccm, uint64_t id, int on)
{
	struct conn	*c = conn_find(ccm->tp, id);

	if (c == NULL || c->pinned == (on != 0))
		return;
	c->pinned = on != 0;
	if (!c->up || c->closing)
		return;		/* conn_up picks the queue */
	c->last = now_s();
	q_set(c, c->pinned ? Q_NONE : Q_IDLE);
}

/*
 * SIGHUP: credentials and trunks were reloaded.  New connections take
 * the new SSL_CTXs (conn_new reads ccm->creds); live ones keep theirs.
 * Outgoing handshakes still in flight may hold a trunk the reload
 * freed: they find it again by address when the handshake is done.
 */
void
tp_creds_changed(struct ccm *ccm)
{
	struct tp_state	*tp = ccm->tp;
	struct conn	*c;

	if (tp == NULL)
		return;
	TAILQ_FOREACH(c, &tp->out, lentry)
		if (!c->up && c->want_name) {
			c->trunk = NULL;
			c->trunk_stale = 1;
		}
}

size_t
tp_conn_count(struct ccm *ccm)
{
	return ccm->tp != NULL ? ccm->tp->nconns : 0;
}
