/*
 * The capfd event loop: one libevent thread accepts TCP connections,
 * runs the TLS handshakes (bufferevent_openssl), frames CAPF messages
 * (8-byte header, then the payload) and drives one capfsm per
 * connection; the store is used from this thread only.  Slow work
 * (PBKDF2, signature checks, LSC signing) goes to a pool of worker
 * threads through a mutex+condvar queue and comes back through an
 * event made active from the worker.  A connection that closes while
 * its job runs is kept (marked dead, still counted against the caps)
 * until the job returns, then freed; a job still queued is dropped.
 */
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
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
#include <event2/listener.h>
#include <event2/thread.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include "capfd.h"
#include "capfmsg.h"
#include "capfsm.h"
#include "log.h"
#include "uerr.h"

#define MSG_MAX		(CAPF_HDR_LEN + CAPF_PAYLOAD_MAX)
#define PEERSTR_MAX	72	/* "[v6 address]:port" */
#define ADDR_BUCKETS	1024	/* per-address connection counting */
#define BACKLOG		1024
#define SWEEP_SECS	1	/* session-timeout granularity */
#define LINE_MAX_LOG	640

struct conn {
	struct server		*srv;
	TAILQ_ENTRY(conn)	 entry;		/* srv->conns */
	LIST_ENTRY(conn)	 bentry;	/* srv->buckets[bucket] */
	TAILQ_ENTRY(conn)	 qentry;	/* pool todo / done */
	struct bufferevent	*bev;		/* NULL once closed */
	struct creds		*creds;		/* one reference */
	struct capfsm		*sm;
	struct capfsm_job	*job;		/* out on a worker */
	struct sockaddr_storage	 peer;
	char			 peerstr[PEERSTR_MAX];
	struct timespec		 t0;
	int			 tls_up;	/* handshake done */
	int			 slot;		/* in srv->nconns until freed */
	int			 queued;	/* job in pool todo (pool mu) */
	struct event		*hs_ev;		/* handshake deadline */
	int			 counted;	/* in a per-address bucket */
	int			 closing;	/* close once output drains */
	int			 dead;		/* closed; job still out */
};

TAILQ_HEAD(connq, conn);
LIST_HEAD(connl, conn);

struct pool {
	pthread_mutex_t		 mu;
	pthread_cond_t		 cv;
	struct connq		 todo;
	struct connq		 done;
	int			 ntodo;		/* jobs queued, not started */
	int			 max;		/* cap on ntodo */
	int			 stop;
	pthread_t		*th;
	int			 nth;
	struct event		*done_ev;
};

struct server {
	const struct config	*cfg;
	struct store		*store;
	struct creds		*creds;		/* current; one reference */
	struct capfsm_ctx	 ctx;
	struct event_base	*base;
	struct evconnlistener	*lis;
	struct event		*sigs[3];
	struct event		*sweep;
	struct event		*expire;
	struct event		*reaper;	/* frees closed connections */
	struct connq		 conns;
	struct connq		 graveyard;	/* closed, to be freed */
	struct connl		 buckets[ADDR_BUCKETS];
	int			 nconns;
	unsigned long		 refused;	/* over a connection cap */
	struct pool		 pool;
	int			(*reload)(void *, struct creds **);
	void			*reload_arg;
};

static void	conn_input(struct conn *);

static long long
elapsed_ms(const struct timespec *t0)
{
	struct timespec	 now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long long)(now.tv_sec - t0->tv_sec) * 1000 +
	    (now.tv_nsec - t0->tv_nsec) / 1000000;
}

static void
addr_str(const struct sockaddr *sa, char *buf, size_t sz)
{
	const struct sockaddr_in	*s4 = (const void *)sa;
	const struct sockaddr_in6	*s6 = (const void *)sa;
	char				 host[INET6_ADDRSTRLEN];

	if (sa->sa_family == AF_INET6 && inet_ntop(AF_INET6, &s6->sin6_addr,
	    host, sizeof(host)) != NULL)
		snprintf(buf, sz, "[%s]:%u", host, ntohs(s6->sin6_port));
	else if (sa->sa_family == AF_INET && inet_ntop(AF_INET,
	    &s4->sin_addr, host, sizeof(host)) != NULL)
		snprintf(buf, sz, "%s:%u", host, ntohs(s4->sin_port));
	else
		snprintf(buf, sz, "?");
}

/* Same peer address (port ignored). */
static int
same_host(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	const struct sockaddr_in	*a4 = (const void *)a;
	const struct sockaddr_in	*b4 = (const void *)b;
	const struct sockaddr_in6	*a6 = (const void *)a;
	const struct sockaddr_in6	*b6 = (const void *)b;

	if (a->ss_family != b->ss_family)
		return 0;
	if (a->ss_family == AF_INET)
		return a4->sin_addr.s_addr == b4->sin_addr.s_addr;
	return memcmp(&a6->sin6_addr, &b6->sin6_addr,
	    sizeof(a6->sin6_addr)) == 0;
}

static unsigned
addr_hash(const struct sockaddr_storage *a)
{
	const struct sockaddr_in	*a4 = (const void *)a;
	const struct sockaddr_in6	*a6 = (const void *)a;
	uint32_t			 h = 0, w;
	size_t				 i;

	if (a->ss_family == AF_INET)
		h = a4->sin_addr.s_addr;
	else if (a->ss_family == AF_INET6)
		for (i = 0; i < 16; i += 4) {
			memcpy(&w, a6->sin6_addr.s6_addr + i, 4);
			h = h * 31 + w;
		}
	return (h * 2654435761u) >> 22;		/* 10 bits */
}

static int
addr_count(struct server *srv, const struct sockaddr_storage *a, unsigned b)
{
	struct conn	*c;
	int		 n = 0;

	LIST_FOREACH(c, &srv->buckets[b], bentry)
		if (same_host(&c->peer, a))
			n++;
	return n;
}

/* --- Worker pool ------------------------------------------------------ */

static void *
worker(void *arg)
{
	struct server	*srv = arg;
	struct pool	*p = &srv->pool;
	struct conn	*c;

	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (!p->stop && TAILQ_EMPTY(&p->todo))
			pthread_cond_wait(&p->cv, &p->mu);
		if (p->stop)
			break;
		c = TAILQ_FIRST(&p->todo);
		TAILQ_REMOVE(&p->todo, c, qentry);
		c->queued = 0;
		p->ntodo--;
		pthread_mutex_unlock(&p->mu);
		capfsm_job_run(c->job);
		pthread_mutex_lock(&p->mu);
		TAILQ_INSERT_TAIL(&p->done, c, qentry);
		event_active(p->done_ev, EV_READ, 0);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

/* Queue c's job; -1 when the queue is full. */
static int
pool_submit(struct server *srv, struct conn *c)
{
	struct pool	*p = &srv->pool;
	int		 r = -1;

	pthread_mutex_lock(&p->mu);
	if (p->ntodo < p->max) {
		TAILQ_INSERT_TAIL(&p->todo, c, qentry);
		c->queued = 1;
		p->ntodo++;
		pthread_cond_signal(&p->cv);
		r = 0;
	}
	pthread_mutex_unlock(&p->mu);
	return r;
}

/* Take c's job back if no worker has started it: 1 taken, else 0. */
static int
pool_unqueue(struct server *srv, struct conn *c)
{
	struct pool	*p = &srv->pool;
	int		 r = 0;

	if (p->done_ev == NULL)
		return 0;
	pthread_mutex_lock(&p->mu);
	if (c->queued) {
		TAILQ_REMOVE(&p->todo, c, qentry);
		c->queued = 0;
		p->ntodo--;
		r = 1;
	}
	pthread_mutex_unlock(&p->mu);
	return r;
}

static void	done_cb(evutil_socket_t, short, void *);

static int
pool_start(struct server *srv)
{
	struct pool	*p = &srv->pool;
	int		 i;

	if (pthread_mutex_init(&p->mu, NULL) != 0 ||
	    pthread_cond_init(&p->cv, NULL) != 0)
		return uc_fail(UC_ERR_INTERNAL, "worker pool: mutex/condvar");
	p->max = CAPFD_QUEUE_MAX;
	if ((p->done_ev = event_new(srv->base, -1, EV_READ, done_cb,
	    srv)) == NULL)
		return uc_fail(UC_ERR_ALLOC, "worker pool");
	if ((p->th = calloc((size_t)srv->cfg->workers, sizeof(*p->th))) == NULL)
		return uc_fail(UC_ERR_ALLOC, "worker pool");
	for (i = 0; i < srv->cfg->workers; i++) {
		if (pthread_create(&p->th[i], NULL, worker, srv) != 0)
			return uc_fail(UC_ERR_INTERNAL, "worker %d: %s", i,
			    strerror(errno));
		p->nth++;
	}
	return 0;
}

/* Stop the workers after their current job; queued jobs stay queued. */
static void
pool_stop(struct server *srv)
{
	struct pool	*p = &srv->pool;
	int		 i;

	if (p->done_ev == NULL)
		return;		/* never started */
	pthread_mutex_lock(&p->mu);
	p->stop = 1;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	for (i = 0; i < p->nth; i++)
		pthread_join(p->th[i], NULL);
	free(p->th);
	p->th = NULL;
	event_free(p->done_ev);
	p->done_ev = NULL;
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
}

/* --- Connections ------------------------------------------------------ */

static void
conn_log(struct conn *c)
{
	char	 line[LINE_MAX_LOG];

	capfsm_summary(c->sm, line, sizeof(line));
	log_info("%s %s %lldms", c->peerstr, line, elapsed_ms(&c->t0));
}

/*
 * Out of the per-address count: the session is over (closing or
 * closed), though the connection still counts against --max-sessions
 * until the END_SESSION is flushed.
 */
static void
conn_uncount(struct conn *c)
{
	if (c->counted) {
		LIST_REMOVE(c, bentry);
		c->counted = 0;
	}
}

/*
 * Free what is left of a connection whose job is not out; only now
 * does it leave the connection caps.
 */
static void
conn_free(struct conn *c)
{
	conn_uncount(c);
	if (c->slot)
		c->srv->nconns--;
	if (c->hs_ev != NULL)
		event_free(c->hs_ev);
	capfsm_free(c->sm);
	creds_unref(c->creds);
	free(c);
}

/*
 * Close: one log line, the socket and TLS go, a job no worker has
 * started is dropped.  The struct, and its slot under the caps, stay
 * (bev NULL) until the reaper runs, or, while a job runs (dead), until
 * it returns; callers up the stack may still look at it.
 */
static void
conn_close(struct conn *c, const char *why)
{
	struct server	*srv = c->srv;
	SSL		*ssl;

	if (c->bev == NULL)
		return;
	if (c->job != NULL && pool_unqueue(srv, c)) {
		c->job = NULL;		/* never ran: drop it */
		(void)capfsm_job_cancel(c->sm, why, NULL);
	}
	if (capfsm_wait(c->sm) != CAPFSM_WAIT_NONE)
		(void)capfsm_abort(c->sm, why, NULL);
	conn_log(c);
	if (c->hs_ev != NULL)
		event_del(c->hs_ev);
	if (c->tls_up && (ssl = bufferevent_openssl_get_ssl(c->bev)) != NULL) {
		(void)SSL_shutdown(ssl);	/* close_notify, best effort */
		ERR_clear_error();
	}
	bufferevent_free(c->bev);
	c->bev = NULL;
	TAILQ_REMOVE(&srv->conns, c, entry);
	/* Still counted (nconns, per address) until conn_free. */
	if (c->job != NULL)
		c->dead = 1;
	else {
		TAILQ_INSERT_TAIL(&srv->graveyard, c, entry);
		event_active(srv->reaper, EV_READ, 0);
	}
}

static void
reaper_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server	*srv = arg;
	struct conn	*c;

	(void)fd;
	(void)what;
	while ((c = TAILQ_FIRST(&srv->graveyard)) != NULL) {
		TAILQ_REMOVE(&srv->graveyard, c, entry);
		conn_free(c);
	}
}

/* Idle or keygen timeout while the session waits for the phone. */
static void
conn_timeouts(struct conn *c)
{
	const struct config	*cfg = c->srv->cfg;
	struct timeval		 rd, wr;

	rd.tv_sec = capfsm_wait(c->sm) == CAPFSM_WAIT_KEYGEN ?
	    cfg->keygen_timeout : cfg->idle_timeout;
	rd.tv_usec = 0;
	wr.tv_sec = c->closing ? CAPFD_LINGER_SECS : cfg->idle_timeout;
	wr.tv_usec = 0;
	bufferevent_set_timeouts(c->bev, &rd, &wr);
}

/*
 * Send a step's messages, each with one write (spec 1), then close,
 * hand out the job, or wait for the phone.
 */
static void
conn_out(struct conn *c, int r, const struct capfsm_out *out)
{
	struct capfsm_out	 out2;
	struct timeval		 wr;
	int			 i;

	if (r != 0) {
		(void)capfsm_abort(c->sm, uc_errdetail(), NULL);
		conn_close(c, "internal error");
		return;
	}
	for (i = 0; i < out->nmsg; i++)
		if (bufferevent_write(c->bev, out->msg[i], out->len[i]) != 0) {
			conn_close(c, "write failed");
			return;
		}
	if (out->close) {
		c->closing = 1;
		conn_uncount(c);
		bufferevent_disable(c->bev, EV_READ);
		if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
			conn_close(c, "closed");
		else
			conn_timeouts(c);
		return;
	}
	if (out->job != NULL) {
		/*
		 * Reading stays on (no epoll_ctl churn): conn_input leaves
		 * what arrives meanwhile in the buffer, bounded by the
		 * watermark, until the job is back.
		 */
		c->job = out->job;
		if (pool_submit(c->srv, c) != 0) {
			c->job = NULL;
			r = capfsm_job_cancel(c->sm, "too many jobs queued, "
			    "server busy", &out2);
			conn_out(c, r, &out2);
			return;
		}
		/*
		 * No idle timeout while the job waits in the queue; the
		 * session timeout still applies.
		 */
		wr.tv_sec = c->srv->cfg->idle_timeout;
		wr.tv_usec = 0;
		bufferevent_set_timeouts(c->bev, NULL, &wr);
		return;
	}
	conn_timeouts(c);
}

/* End the session now with END_SESSION 7 (timeout, framing error). */
static void
conn_abort(struct conn *c, const char *why)
{
	struct capfsm_out	 out;
	int			 r;

	if (!c->tls_up || c->closing) {
		conn_close(c, why);
		return;
	}
	r = capfsm_abort(c->sm, why, &out);
	conn_out(c, r, &out);
}

/* Whole messages from the input buffer into the state machine. */
static void
conn_input(struct conn *c)
{
	struct evbuffer		*in;
	struct capfsm_out	 out;
	uint8_t			 hdr[CAPF_HDR_LEN], *p;
	uint16_t		 plen;
	size_t			 n;
	int			 r;

	while (c->bev != NULL && !c->closing && c->job == NULL) {
		in = bufferevent_get_input(c->bev);
		if (evbuffer_get_length(in) < CAPF_HDR_LEN)
			return;
		evbuffer_copyout(in, hdr, sizeof(hdr));
		if (capf_hdr_parse(hdr, sizeof(hdr), NULL, NULL, &plen) != 0) {
			conn_abort(c, "not a CAPF message (protocol id)");
			return;
		}
		n = CAPF_HDR_LEN + (size_t)plen;
		if (evbuffer_get_length(in) < n)
			return;
		if ((p = evbuffer_pullup(in, (ev_ssize_t)n)) == NULL) {
			conn_close(c, "out of memory");
			return;
		}
		r = capfsm_input(c->sm, p, n, &out);
		evbuffer_drain(in, n);
		conn_out(c, r, &out);
	}
}

static void
read_cb(struct bufferevent *bev, void *arg)
{
	(void)bev;
	conn_input(arg);
}

static void
write_cb(struct bufferevent *bev, void *arg)
{
	struct conn	*c = arg;

	if (c->closing && evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		conn_close(c, "closed");
}

/* The first OpenSSL error of the connection, for the log. */
static void
tls_error(struct bufferevent *bev, char *buf, size_t sz)
{
	unsigned long	 e = bufferevent_get_openssl_error(bev);
	char		 es[256];

	if (e == 0) {
		snprintf(buf, sz, "connection reset or closed (%s)",
		    strerror(EVUTIL_SOCKET_ERROR()));
		return;
	}
	ERR_error_string_n(e, es, sizeof(es));
	snprintf(buf, sz, "TLS: %s", es);
	while (bufferevent_get_openssl_error(bev) != 0)
		;
}

static void
event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct conn	*c = arg;
	char		 why[320];

	if (what & BEV_EVENT_CONNECTED) {
		c->tls_up = 1;
		event_del(c->hs_ev);
		return;
	}
	if (what & BEV_EVENT_TIMEOUT) {
		if ((what & BEV_EVENT_WRITING) || c->closing)
			conn_close(c, "write timeout");
		else
			conn_abort(c, capfsm_wait(c->sm) == CAPFSM_WAIT_KEYGEN ?
			    "key generation timeout" : "idle timeout");
		return;
	}
	if (what & BEV_EVENT_EOF)
		conn_close(c, c->tls_up ? "the phone closed the connection" :
		    "closed during the TLS handshake");
	else if (what & BEV_EVENT_ERROR) {
		tls_error(bev, why, sizeof(why));
		conn_close(c, why);
	}
}

/* Jobs are back from the workers (event loop thread). */
static void
done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server		*srv = arg;
	struct pool		*p = &srv->pool;
	struct connq		 done;
	struct conn		*c;
	struct capfsm_out	 out;
	int			 r;

	(void)fd;
	(void)what;
	TAILQ_INIT(&done);
	pthread_mutex_lock(&p->mu);
	TAILQ_CONCAT(&done, &p->done, qentry);
	pthread_mutex_unlock(&p->mu);
	while ((c = TAILQ_FIRST(&done)) != NULL) {
		TAILQ_REMOVE(&done, c, qentry);
		c->job = NULL;
		r = capfsm_job_done(c->sm, &out);
		if (c->dead) {
			conn_free(c);
			continue;
		}
		conn_out(c, r, &out);
		conn_input(c);		/* what came while the job ran */
	}
}

static int
sock_nodelay(evutil_socket_t fd)
{
	int	 one = 1;

	return setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* A random non-zero session id (spec 2: it feeds the SUDI signature). */
static uint32_t
session_id(void)
{
	uint32_t	 id = 0;

	while (id == 0)
		if (RAND_bytes((unsigned char *)&id, sizeof(id)) != 1)
			id = (uint32_t)random() | 1;
	return id;
}

/* --handshake-timeout: slow handshakes do not hold a slot for long. */
static void
hs_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn	*c = arg;

	(void)fd;
	(void)what;
	if (!c->tls_up)
		conn_close(c, "TLS handshake timeout");
}

/* Start the TLS connection and its session (AUTH_REQUEST queued). */
static int
conn_start(struct server *srv, struct conn *c, evutil_socket_t fd)
{
	struct capfsm_out	 out;
	struct timeval		 hs;
	SSL			*ssl;
	int			 r;

	if ((ssl = SSL_new(srv->creds->ssl)) == NULL) {
		evutil_closesocket(fd);
		return uc_fail_ssl(UC_ERR_ALLOC, "SSL_new");
	}
	c->bev = bufferevent_openssl_socket_new(srv->base, fd, ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		SSL_free(ssl);
		evutil_closesocket(fd);
		return uc_fail(UC_ERR_ALLOC, "bufferevent");
	}
	c->creds = creds_ref(srv->creds);
	hs.tv_sec = srv->cfg->handshake_timeout;
	hs.tv_usec = 0;
	if ((c->hs_ev = evtimer_new(srv->base, hs_cb, c)) == NULL ||
	    evtimer_add(c->hs_ev, &hs) != 0)
		return uc_fail(UC_ERR_ALLOC, "handshake timer");
	if ((r = capfsm_new(&srv->ctx, &c->creds->cc, session_id(), &c->sm,
	    &out)) != 0)
		return r;
	bufferevent_setcb(c->bev, read_cb, write_cb, event_cb, c);
	bufferevent_setwatermark(c->bev, EV_READ, 0, MSG_MAX);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	conn_out(c, 0, &out);
	return 0;
}

static void
accept_cb(struct evconnlistener *lis, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct server	*srv = arg;
	struct conn	*c;
	unsigned	 b;
	int		 n;

	(void)lis;
	if ((size_t)salen > sizeof(c->peer))
		salen = sizeof(c->peer);
	b = addr_hash((const struct sockaddr_storage *)sa);
	n = addr_count(srv, (const struct sockaddr_storage *)sa, b);
	/* Over a cap: close without a word, like the reference (7.8). */
	if (srv->nconns >= srv->cfg->max_sessions ||
	    n >= srv->cfg->max_per_addr ||
	    (c = calloc(1, sizeof(*c))) == NULL) {
		if (srv->refused++ % 1000 == 0)
			log_warnx("connection cap reached (%d connections, %d "
			    "from this address): %lu refused so far",
			    srv->nconns, n, srv->refused);
		evutil_closesocket(fd);
		return;
	}
	c->srv = srv;
	memcpy(&c->peer, sa, (size_t)salen);
	addr_str(sa, c->peerstr, sizeof(c->peerstr));
	clock_gettime(CLOCK_MONOTONIC, &c->t0);
	(void)sock_nodelay(fd);
	TAILQ_INSERT_TAIL(&srv->conns, c, entry);
	LIST_INSERT_HEAD(&srv->buckets[b], c, bentry);
	c->counted = 1;
	c->slot = 1;
	srv->nconns++;
	if (conn_start(srv, c, fd) != 0) {
		log_warnx("%s: %s", c->peerstr, uc_errdetail());
		TAILQ_REMOVE(&srv->conns, c, entry);
		if (c->bev != NULL)
			bufferevent_free(c->bev);
		conn_free(c);
	}
}

static void
accept_error_cb(struct evconnlistener *lis, void *arg)
{
	(void)lis;
	(void)arg;
	log_warnx("accept: %s", strerror(EVUTIL_SOCKET_ERROR()));
}

/* --- Timers and signals ----------------------------------------------- */

/* Sessions over --session-timeout end with END_SESSION 7. */
static void
sweep_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server	*srv = arg;
	struct conn	*c, *next;
	long long	 max = (long long)srv->cfg->session_timeout * 1000;
	int		 nclosing = 0, njob = 0, ntls = 0;

	(void)fd;
	(void)what;
	TAILQ_FOREACH(c, &srv->conns, entry) {
		nclosing += c->closing;
		njob += c->job != NULL;
		ntls += c->tls_up;
	}
	if (srv->nconns > 0)
		log_debug("%d connections: %d past the handshake, %d with a "
		    "job out, %d closing", srv->nconns, ntls, njob, nclosing);
	for (c = TAILQ_FIRST(&srv->conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		if (c->closing || elapsed_ms(&c->t0) < max)
			continue;
		if (c->job != NULL)
			conn_close(c, "session timeout");
		else
			conn_abort(c, "session timeout");
	}
}

static void
expire_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server	*srv = arg;
	int		 n = 0;

	(void)fd;
	(void)what;
	if (store_capf_expire(srv->store, (int64_t)time(NULL), &n) != 0)
		log_warnx("expiring CAPF tasks: %s", uc_errdetail());
	else if (n > 0)
		log_info("%d CAPF task%s passed the deadline", n,
		    n == 1 ? "" : "s");
}

/* SIGHUP reloads the credentials; SIGTERM and SIGINT stop. */
static void
signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct server	*srv = arg;
	struct creds	*cr = NULL;

	(void)what;
	if (sig == SIGHUP) {
		if (srv->reload == NULL)
			return;
		if (srv->reload(srv->reload_arg, &cr) != 0) {
			log_warnx("reload failed, keeping the old certificates "
			    "and trust: %s", uc_errdetail());
			return;
		}
		creds_unref(srv->creds);
		srv->creds = cr;
		log_info("reloaded certificates, keys and trust stores");
		return;
	}
	log_info("signal %d: exiting", (int)sig);
	event_base_loopbreak(srv->base);
}

/* --- Set-up ----------------------------------------------------------- */

/* Resolve --listen/--port and bind the listener. */
static int
listen_open(struct server *srv)
{
	struct addrinfo	 hints, *res = NULL;
	char		 port[16];
	int		 e;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE;
	snprintf(port, sizeof(port), "%d", srv->cfg->port);
	if ((e = getaddrinfo(srv->cfg->listen, port, &hints, &res)) != 0)
		return uc_fail(UC_ERR_ARG, "--listen %s: %s", srv->cfg->listen,
		    gai_strerror(e));
	srv->lis = evconnlistener_new_bind(srv->base, accept_cb, srv,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC,
	    BACKLOG, res->ai_addr, (int)res->ai_addrlen);
	e = errno;
	freeaddrinfo(res);
	if (srv->lis == NULL)
		return uc_fail(UC_ERR_IO, "bind %s port %d: %s",
		    srv->cfg->listen, srv->cfg->port, strerror(e));
	evconnlistener_set_error_cb(srv->lis, accept_error_cb);
	return 0;
}

static int
timers_start(struct server *srv)
{
	const int	 sigs[3] = { SIGHUP, SIGTERM, SIGINT };
	struct timeval	 sweep = { SWEEP_SECS, 0 };
	struct timeval	 expire = { CAPFD_EXPIRE_SECS, 0 };
	int		 i;

	for (i = 0; i < 3; i++) {
		srv->sigs[i] = evsignal_new(srv->base, sigs[i], signal_cb, srv);
		if (srv->sigs[i] == NULL || event_add(srv->sigs[i], NULL) != 0)
			return uc_fail(UC_ERR_INTERNAL, "signal %d", sigs[i]);
	}
	if ((srv->sweep = event_new(srv->base, -1, EV_PERSIST, sweep_cb,
	    srv)) == NULL || event_add(srv->sweep, &sweep) != 0 ||
	    (srv->expire = event_new(srv->base, -1, EV_PERSIST, expire_cb,
	    srv)) == NULL || event_add(srv->expire, &expire) != 0 ||
	    (srv->reaper = event_new(srv->base, -1, EV_READ, reaper_cb,
	    srv)) == NULL)
		return uc_fail(UC_ERR_INTERNAL, "timers");
	return 0;
}

/*
 * Bind and set up the loop (no threads yet: server_start).  cfg,
 * store and creds are borrowed (the server takes its own reference on
 * creds).  Returns 0 and *out, or UC_ERR_*.
 */
int
server_new(const struct config *cfg, struct store *store, struct creds *cr,
    struct server **out)
{
	struct server	*srv;
	int		 i, r;

	*out = NULL;
	if (evthread_use_pthreads() != 0)
		return uc_fail(UC_ERR_INTERNAL, "evthread_use_pthreads");
	if ((srv = calloc(1, sizeof(*srv))) == NULL)
		return uc_fail(UC_ERR_ALLOC, "server");
	srv->cfg = cfg;
	srv->store = store;
	srv->creds = creds_ref(cr);
	srv->ctx.store = store;
	srv->ctx.days = cfg->days;
	srv->ctx.lockout = cfg->lockout;
	srv->ctx.lockout_secs = cfg->lockout_time;
	TAILQ_INIT(&srv->conns);
	TAILQ_INIT(&srv->graveyard);
	TAILQ_INIT(&srv->pool.todo);
	TAILQ_INIT(&srv->pool.done);
	for (i = 0; i < ADDR_BUCKETS; i++)
		LIST_INIT(&srv->buckets[i]);
	if ((srv->base = event_base_new()) == NULL) {
		r = uc_fail(UC_ERR_INTERNAL, "event_base_new");
		goto fail;
	}
	if ((r = listen_open(srv)) != 0 || (r = timers_start(srv)) != 0 ||
	    (r = capfsm_keydec_new(&srv->ctx.keydec)) != 0 ||
	    (r = capfsm_busy_new(&srv->ctx.busy)) != 0)
		goto fail;
	*out = srv;
	return 0;
fail:
	server_free(srv);
	return r;
}

/*
 * After daemon(3): the event loop's kernel state is made again in this
 * process, then the worker threads start (threads do not survive a
 * fork).  Returns 0 or UC_ERR_*.
 */
int
server_start(struct server *srv)
{
	if (event_reinit(srv->base) != 0)
		return uc_fail(UC_ERR_INTERNAL, "event_reinit");
	return pool_start(srv);
}

void
server_on_reload(struct server *srv, int (*fn)(void *, struct creds **),
    void *arg)
{
	srv->reload = fn;
	srv->reload_arg = arg;
}

/* Run until SIGTERM or SIGINT.  Returns 0 or UC_ERR_*. */
int
server_run(struct server *srv)
{
	(void)signal(SIGPIPE, SIG_IGN);
	if (event_base_dispatch(srv->base) == -1)
		return uc_fail(UC_ERR_INTERNAL, "event loop failed");
	return 0;
}

/*
 * Stop listening and the workers, then end every connection (each is
 * recorded as failed and logged).
 */
void
server_free(struct server *srv)
{
	struct conn	*c;
	int		 i;

	if (srv == NULL)
		return;
	if (srv->lis != NULL)
		evconnlistener_free(srv->lis);
	pool_stop(srv);
	/* Closed connections whose job was queued, running or done. */
	TAILQ_CONCAT(&srv->pool.todo, &srv->pool.done, qentry);
	while ((c = TAILQ_FIRST(&srv->pool.todo)) != NULL) {
		TAILQ_REMOVE(&srv->pool.todo, c, qentry);
		c->queued = 0;
		if (c->dead)
			conn_free(c);	/* capfsm_free frees the job */
	}
	while ((c = TAILQ_FIRST(&srv->conns)) != NULL) {
		c->job = NULL;		/* never done; capfsm_free frees it */
		conn_close(c, "server shutting down");
	}
	/* Let libevent finalize the freed bufferevents, then reap. */
	if (srv->base != NULL)
		(void)event_base_loop(srv->base, EVLOOP_NONBLOCK);
	if (srv->reaper != NULL)
		reaper_cb(-1, 0, srv);
	for (i = 0; i < 3; i++)
		if (srv->sigs[i] != NULL)
			event_free(srv->sigs[i]);
	if (srv->sweep != NULL)
		event_free(srv->sweep);
	if (srv->expire != NULL)
		event_free(srv->expire);
	if (srv->reaper != NULL)
		event_free(srv->reaper);
	if (srv->base != NULL)
		event_base_free(srv->base);
	creds_unref(srv->creds);
	capfsm_keydec_free(srv->ctx.keydec);
	capfsm_busy_free(srv->ctx.busy);
	free(srv);
}
