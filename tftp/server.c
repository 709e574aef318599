/*
 * The transfer engine of ucsec-tftpd: one libevent loop, one listening
 * socket, and one connected ephemeral UDP socket (a new TID, RFC 1350 4)
 * per transfer.  Sends a whole window (RFC 7440) per callback with one
 * sendmmsg(2) whose iovecs point into the served bytes, so no data is
 * copied or allocated per packet.  A new ACK sends only the blocks after
 * the highest sent, up to the acknowledged block plus the window;
 * duplicate and old ACKs are ignored (no Sorcerer's Apprentice); only a
 * timeout resends the window from the last acknowledged block, with
 * backoff and a retry limit.  A session that has never had a valid ACK
 * (or DATA) is "pending": it gets fewer retries, and pending sessions
 * are capped at half of --max-sessions, so spoofed requests cannot hold
 * every slot.
 */
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <netinet/in.h>
#include <netinet/udp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "extern.h"
#include "log.h"
#include "tftppkt.h"
#include "uerr.h"

#define LISTEN_BATCH	64	/* requests read per listener callback */
#define NAME_VIS_MAX	(TFTP_NAME_MAX * 4 + 1)	/* escaped file name */
#define GSO_SEGS	64	/* UDP_MAX_SEGMENTS of older kernels */
#define GSO_BYTES	65000	/* one GSO send stays under 64 KiB */
#define PEERSTR_MAX	72	/* "[v6 address]:port" */

struct session {
	struct server		*srv;
	TAILQ_ENTRY(session)	 entry;
	int			 fd;
	struct event		*ev;		/* readable */
	struct event		*tmo;		/* resend timer */
	struct sockaddr_storage	 peer;
	socklen_t		 peerlen;
	char			 peerstr[PEERSTR_MAX];
	char			 name[NAME_VIS_MAX];
	char			 optstr[96];	/* granted options, for the log */
	enum tftp_op		 op;
	struct content		 c;
	uint16_t		 blksize;
	uint16_t		 window;
	unsigned		 tmo_ms;	/* current resend interval */
	unsigned		 base_ms;	/* first resend interval */
	struct timespec		 tsent;		/* monotonic time of the last send */
	uint64_t		 total;		/* blocks in the transfer */
	uint64_t		 acked;		/* highest block acknowledged */
	uint64_t		 sent;		/* highest block sent */
	int			 oack;		/* OACK sent, ACK 0 awaited */
	uint8_t			 oackbuf[128];
	size_t			 oacklen;
	int			 tries;
	int			 pending;	/* no valid ACK/DATA yet */
	struct timespec		 t0;
	uint8_t			*hdrs;		/* 4 bytes per window slot */
	struct iovec		*iov;		/* 2 per window slot */
	struct mmsghdr		*msgs;		/* 1 per window slot */
	uint8_t			*wbuf;		/* WRQ: received bytes */
	size_t			 wlen;
	size_t			 wcap;
	char			 rawname[TFTP_NAME_MAX + 1];
};

TAILQ_HEAD(sessionq, session);

struct server {
	const struct config	*cfg;
	struct files		*files;
	struct event_base	*base;
	int			 lfd;
	struct event		*lev;
	struct event		*sigs[3];
	struct sessionq		 sessions;
	int			 nsessions;
	int			 npending;	/* sessions still pending */
	struct sockaddr_storage	 laddr;
	socklen_t		 laddrlen;
	struct sockaddr_storage	 rlocal;	/* where the request came in */
	uint8_t			 rbuf[TFTP_PKT_MAX];	/* one datagram */
	void			(*reload)(void *);
	void			*reload_arg;
	int			 gso;		/* UDP_SEGMENT works */
};

static void	session_send(struct session *, uint64_t);
static void	session_end(struct session *, const char *);
static void	wrq_ack(struct session *);

static void
sock_bufs(int fd)
{
	int	 sz = TFTPD_SOCKBUF;

	(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
}

static void
addr_str(const struct sockaddr *sa, socklen_t len, char *buf, size_t sz)
{
	const struct sockaddr_in	*s4 = (const void *)sa;
	const struct sockaddr_in6	*s6 = (const void *)sa;
	char				 host[INET6_ADDRSTRLEN];

	(void)len;
	if (sa->sa_family == AF_INET6 && inet_ntop(AF_INET6, &s6->sin6_addr,
	    host, sizeof(host)) != NULL)
		snprintf(buf, sz, "[%s]:%u", host, ntohs(s6->sin6_port));
	else if (sa->sa_family == AF_INET && inet_ntop(AF_INET,
	    &s4->sin_addr, host, sizeof(host)) != NULL)
		snprintf(buf, sz, "%s:%u", host, ntohs(s4->sin_port));
	else
		snprintf(buf, sz, "?");
}

/* Same client address (port ignored). */
static int
same_host(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	const struct sockaddr_in	*a4 = (const void *)a, *b4 = (const void *)b;
	const struct sockaddr_in6	*a6 = (const void *)a, *b6 = (const void *)b;

	if (a->ss_family != b->ss_family)
		return 0;
	if (a->ss_family == AF_INET)
		return a4->sin_addr.s_addr == b4->sin_addr.s_addr;
	return memcmp(&a6->sin6_addr, &b6->sin6_addr,
	    sizeof(a6->sin6_addr)) == 0;
}

static long long
elapsed_ms(const struct timespec *t0)
{
	struct timespec	 now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long long)(now.tv_sec - t0->tv_sec) * 1000 +
	    (now.tv_nsec - t0->tv_nsec) / 1000000;
}

/* Send an ERROR to peer from socket fd. */
static void
send_error(int fd, const struct sockaddr_storage *peer, socklen_t plen,
    uint16_t code, const char *msg)
{
	uint8_t	 pkt[256];
	size_t	 n;

	if ((n = tftp_build_error(pkt, sizeof(pkt), code, msg)) == 0)
		return;
	(void)sendto(fd, pkt, n, 0, (const struct sockaddr *)peer, plen);
}

static void
arm_timer(struct session *s)
{
	struct timeval	 tv;

	tv.tv_sec = s->tmo_ms / 1000;
	tv.tv_usec = (s->tmo_ms % 1000) * 1000;
	evtimer_add(s->tmo, &tv);
	clock_gettime(CLOCK_MONOTONIC, &s->tsent);	/* every send arms */
}

/* One info line per transfer; then free everything. */
static void
session_end(struct session *s, const char *result)
{
	struct server	*srv = s->srv;
	uint64_t	 bytes;

	bytes = s->op == TFTP_WRQ ? s->wlen : (s->acked == 0 ? 0 :
	    (s->acked >= s->total ? s->c.len :
	    (size_t)(s->acked * s->blksize)));
	log_info("%s %s \"%s\" %llu bytes%s %s %lldms %s", s->peerstr,
	    s->op == TFTP_WRQ ? "WRQ" : "RRQ", s->name,
	    (unsigned long long)bytes, s->optstr,
	    s->op == TFTP_WRQ ? "upload" : content_kind_name(s->c.kind),
	    elapsed_ms(&s->t0), result);
	TAILQ_REMOVE(&srv->sessions, s, entry);
	srv->nsessions--;
	if (s->pending)
		srv->npending--;
	if (s->ev != NULL)
		event_free(s->ev);
	if (s->tmo != NULL)
		event_free(s->tmo);
	if (s->fd != -1)
		close(s->fd);
	content_release(srv->files, &s->c);
	free(s->hdrs);
	free(s->iov);
	free(s->msgs);
	free(s->wbuf);
	free(s);
}

/* Fill window slot i with block b (absolute, 1-based). */
static void
slot_fill(struct session *s, size_t i, uint64_t b)
{
	uint64_t	 off = (b - 1) * s->blksize;
	size_t		 dlen = 0;

	if (off < s->c.len)
		dlen = s->c.len - off < s->blksize ? s->c.len - off :
		    s->blksize;
	(void)tftp_build_data_hdr(s->hdrs + 4 * i, 4, (uint16_t)b);
	s->iov[2 * i].iov_base = s->hdrs + 4 * i;
	s->iov[2 * i].iov_len = 4;
	s->iov[2 * i + 1].iov_base = (void *)(s->c.p + off * (dlen > 0));
	s->iov[2 * i + 1].iov_len = dlen;
	memset(&s->msgs[i], 0, sizeof(s->msgs[i]));
	s->msgs[i].msg_hdr.msg_iov = &s->iov[2 * i];
	s->msgs[i].msg_hdr.msg_iovlen = 2;
}

/*
 * Send slots as UDP GSO bursts (one syscall for up to GSO_SEGS blocks;
 * only the last block of a transfer is short, and it ends a burst).
 * Returns the slots sent; sets *full when the socket buffer filled up.
 * Turns GSO off for good when the kernel refuses it.
 */
static size_t
send_gso(struct session *s, size_t n, int *full)
{
	union {
		char		 buf[CMSG_SPACE(sizeof(uint16_t))];
		struct cmsghdr	 align;
	} u;
	struct msghdr	 mh;
	struct cmsghdr	*cm;
	size_t		 seg = 4 + (size_t)s->blksize, per, i, k;

	per = GSO_BYTES / seg;
	if (per > GSO_SEGS)
		per = GSO_SEGS;
	if (per < 2 || n < 2)
		return 0;
	for (i = 0; i < n; i += k) {
		k = n - i < per ? n - i : per;
		memset(&mh, 0, sizeof(mh));
		mh.msg_iov = &s->iov[2 * i];
		mh.msg_iovlen = 2 * k;
		mh.msg_control = u.buf;
		mh.msg_controllen = sizeof(u.buf);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_UDP;
		cm->cmsg_type = UDP_SEGMENT;
		cm->cmsg_len = CMSG_LEN(sizeof(uint16_t));
		*(uint16_t *)(void *)CMSG_DATA(cm) = (uint16_t)seg;
		if (sendmsg(s->fd, &mh, 0) != -1)
			continue;
		if (errno == EAGAIN || errno == ENOBUFS) {
			*full = 1;
			return i;
		}
		if (errno == EINTR) {
			k = 0;
			continue;
		}
		if (errno != EIO && errno != EINVAL && errno != ENOPROTOOPT &&
		    errno != EOPNOTSUPP)
			continue;	/* dropped (EPERM: firewall): as lost */
		log_warnx("UDP GSO refused (%s): sending datagram by datagram",
		    strerror(errno));
		s->srv->gso = 0;
		return i;
	}
	return n;
}

/*
 * Send the OACK, or blocks from..acked+window, and arm the timer.  A new
 * ACK passes from = highest sent + 1; only the timer passes acked + 1.
 * A full socket buffer ends the burst early: s->sent records what went
 * out, so the next ACK (or the timer) sends the rest.
 */
static void
session_send(struct session *s, uint64_t from)
{
	uint64_t	 b, last;
	size_t		 n = 0, done = 0;
	int		 r, full = 0;

	if (s->oack) {
		(void)send(s->fd, s->oackbuf, s->oacklen, 0);
		arm_timer(s);
		return;
	}
	last = s->acked + s->window;
	if (last > s->total)
		last = s->total;
	if (from <= s->acked)
		from = s->acked + 1;
	for (b = from; b <= last; b++)
		slot_fill(s, n++, b);
	if (s->srv->gso)
		done = send_gso(s, n, &full);
	while (!full && done < n) {
		r = sendmmsg(s->fd, s->msgs + done, (unsigned)(n - done), 0);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1 && (errno == EAGAIN || errno == ENOBUFS))
			break;		/* buffer full */
		/* Other errors (EPERM from a firewall): that one is lost. */
		done += r > 0 ? (size_t)r : 1;
	}
	if (done > 0 && from + done - 1 > s->sent)
		s->sent = from + done - 1;
	arm_timer(s);
}

/* The peer answered: no longer pending. */
static void
session_live(struct session *s)
{
	if (s->pending) {
		s->pending = 0;
		s->srv->npending--;
	}
}

/* Map a 16-bit ACK to an absolute block in [acked, sent], or return 0. */
static int
ack_block(const struct session *s, uint16_t wire, uint64_t *abs)
{
	uint64_t	 a;

	a = (s->acked & ~(uint64_t)0xffff) | wire;
	if (a < s->acked)
		a += 0x10000;
	if (a > s->sent)
		return 0;
	*abs = a;
	return 1;
}

/* RRQ: take an ACK; 1 when the transfer ended (s is freed). */
static int
rrq_ack(struct session *s, uint16_t wire)
{
	uint64_t	 a;

	if (s->oack) {
		if (wire != 0)
			return 0;
		s->oack = 0;
		s->tries = 0;
		s->tmo_ms = s->base_ms;
		session_live(s);
		session_send(s, 1);
		return 0;
	}
	if (!ack_block(s, wire, &a) || a < s->acked)
		return 0;		/* old ACK */
	if (a == s->acked) {
		/*
		 * The peer says again what it has: it timed out waiting for
		 * the next block.  Answer only when our last send is at least
		 * half an interval old, so a duplicate crossing our own
		 * resend is never answered (Sorcerer's Apprentice) while a
		 * client that resends ACKs at a fixed interval (atftp) is not
		 * left to run out of retries during our backoff.
		 */
		if (s->sent > s->acked &&
		    elapsed_ms(&s->tsent) >= (long long)s->base_ms / 2)
			session_send(s, s->acked + 1);
		return 0;
	}
	s->acked = a;
	s->tries = 0;
	s->tmo_ms = s->base_ms;
	session_live(s);
	if (s->acked >= s->total) {
		session_end(s, "ok");
		return 1;
	}
	/* Only blocks not yet sent: those in flight are not resent. */
	session_send(s, (s->sent > s->acked ? s->sent : s->acked) + 1);
	return 0;
}

/* WRQ: send ACK n (lock-step) and arm the timer. */
static void
wrq_ack(struct session *s)
{
	uint8_t	 pkt[4];

	if (s->oack)
		(void)send(s->fd, s->oackbuf, s->oacklen, 0);
	else {
		(void)tftp_build_ack(pkt, sizeof(pkt), (uint16_t)s->acked);
		(void)send(s->fd, pkt, sizeof(pkt), 0);
	}
	arm_timer(s);
}

/* WRQ: take DATA; 1 when the transfer ended (s is freed). */
static int
wrq_data(struct session *s, const uint8_t *buf, size_t len)
{
	const uint8_t	*d;
	uint8_t		*nb;
	size_t		 dlen, ncap;
	uint16_t	 blk;
	char		 why[256];
	uint16_t	 code;

	if (tftp_parse_data(buf, len, &blk, &d, &dlen) != 0 ||
	    dlen > s->blksize)
		return 0;
	if (blk != (uint16_t)(s->acked + 1)) {
		if (blk == (uint16_t)s->acked)
			wrq_ack(s);
		return 0;
	}
	session_live(s);
	if (s->wlen + dlen > TFTPD_WRITE_MAX) {
		send_error(s->fd, &s->peer, s->peerlen, TFTP_ENOSPACE,
		    "file too large");
		session_end(s, "error 3: too large");
		return 1;
	}
	if (s->wlen + dlen > s->wcap) {
		ncap = (s->wlen + dlen) * 2;
		if (ncap > TFTPD_WRITE_MAX)
			ncap = TFTPD_WRITE_MAX;
		if ((nb = realloc(s->wbuf, ncap)) == NULL) {
			session_end(s, "out of memory");
			return 1;
		}
		s->wbuf = nb;
		s->wcap = ncap;
	}
	if (dlen > 0)
		memcpy(s->wbuf + s->wlen, d, dlen);
	s->wlen += dlen;
	s->acked++;
	s->oack = 0;
	s->tries = 0;
	if (dlen == s->blksize) {
		wrq_ack(s);
		return 0;
	}
	if (files_write(s->srv->files, s->rawname, s->wbuf, s->wlen, &code,
	    why, sizeof(why)) != 0) {
		/* why may name server paths: the peer gets the code only. */
		send_error(s->fd, &s->peer, s->peerlen, code,
		    code == TFTP_EACCESS ? "access violation" : "write failed");
		session_end(s, why);
		return 1;
	}
	wrq_ack(s);
	session_end(s, "ok");
	return 1;
}

/* Handle one datagram from the peer; 1 when s has been freed. */
static int
session_packet(struct session *s, const uint8_t *buf, size_t len)
{
	uint16_t	 blk, code;
	char		 msg[128], vis[512], res[640];

	switch (tftp_opcode(buf, len)) {
	case TFTP_ACK:
		if (s->op == TFTP_RRQ && tftp_parse_ack(buf, len, &blk) == 0)
			return rrq_ack(s, blk);
		return 0;
	case TFTP_DATA:
		return s->op == TFTP_WRQ ? wrq_data(s, buf, len) : 0;
	case TFTP_ERROR:
		if (tftp_parse_error(buf, len, &code, msg, sizeof(msg)) != 0)
			snprintf(msg, sizeof(msg), "malformed");
		snprintf(res, sizeof(res), "client error %u: %s", code,
		    str_vis(vis, sizeof(vis), msg));
		session_end(s, res);
		return 1;
	default:
		return 0;
	}
}

static void
session_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct session	*s = arg;
	uint8_t		*buf = s->srv->rbuf;
	ssize_t		 n;

	(void)what;
	/* One datagram per callback: the event is level-triggered. */
	n = recv(fd, buf, TFTP_PKT_MAX, 0);
	if (n == -1 && (errno == EINTR || errno == EAGAIN ||
	    errno == EWOULDBLOCK))
		return;
	if (n == -1) {
		/* ICMP port unreachable: the client is gone. */
		session_end(s, strerror(errno));
		return;
	}
	(void)session_packet(s, buf, (size_t)n);
}

static void
session_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct session	*s = arg;
	int		 max;

	(void)fd;
	(void)what;
	max = s->srv->cfg->retries;
	if (s->pending && max > TFTPD_PENDING_TRIES)
		max = TFTPD_PENDING_TRIES;
	if (++s->tries > max) {
		session_end(s, s->pending ? "timeout (never acknowledged)" :
		    "timeout");
		return;
	}
	s->tmo_ms *= 2;
	if (s->tmo_ms > TFTPD_BACKOFF_MAX * 1000)
		s->tmo_ms = TFTPD_BACKOFF_MAX * 1000;
	if (s->op == TFTP_WRQ)
		wrq_ack(s);
	else
		session_send(s, s->acked + 1);
}

/*
 * RFC 2347 negotiation: grant what we can (blksize and windowsize capped
 * at the configured maximum) and prepare the OACK when any option is
 * granted.
 */
static void
negotiate(struct session *s, const struct tftp_req *req)
{
	const struct config	*cfg = s->srv->cfg;
	struct tftp_opts	 o;
	size_t			 n = 0;

	memset(&o, 0, sizeof(o));
	s->blksize = TFTP_SEGSIZE;
	s->window = 1;
	s->base_ms = TFTPD_TIMEOUT_DEF * 1000;
	if (req->opts.has_blksize) {
		o.has_blksize = 1;
		o.blksize = req->opts.blksize > cfg->blksize_max ?
		    (uint16_t)cfg->blksize_max : req->opts.blksize;
		s->blksize = o.blksize;
		n += snprintf(s->optstr + n, sizeof(s->optstr) - n,
		    " blksize=%u", o.blksize);
	}
	/* curl refuses "tsize 0" in an OACK: leave it out (RFC 2347 ok). */
	if (req->opts.has_tsize && (req->op == TFTP_WRQ || s->c.len > 0)) {
		o.has_tsize = 1;
		o.tsize = req->op == TFTP_RRQ ? s->c.len : req->opts.tsize;
		n += snprintf(s->optstr + n, sizeof(s->optstr) - n,
		    " tsize=%llu", (unsigned long long)o.tsize);
	}
	if (req->opts.has_timeout) {
		o.has_timeout = 1;
		o.timeout = req->opts.timeout;
		/* Granted as asked; our own resends start within 5 s. */
		s->base_ms = (o.timeout > TFTPD_RESEND_MAX ?
		    TFTPD_RESEND_MAX : o.timeout) * 1000U;
		n += snprintf(s->optstr + n, sizeof(s->optstr) - n,
		    " timeout=%u", o.timeout);
	}
	if (req->opts.has_windowsize && req->op == TFTP_RRQ) {
		o.has_windowsize = 1;
		o.windowsize = req->opts.windowsize > cfg->window_max ?
		    (uint16_t)cfg->window_max : req->opts.windowsize;
		s->window = o.windowsize;
		n += snprintf(s->optstr + n, sizeof(s->optstr) - n,
		    " windowsize=%u", o.windowsize);
	}
	s->tmo_ms = s->base_ms;
	if (o.has_blksize || o.has_tsize || o.has_timeout ||
	    o.has_windowsize) {
		s->oacklen = tftp_build_oack(s->oackbuf, sizeof(s->oackbuf),
		    &o);
		s->oack = s->oacklen > 0;
		/*
		 * Our own first OACK resend waits TFTPD_OACK_WAIT: a client
		 * whose ACK 0 was lost repeats it at its own timeout (before
		 * negotiation that is its default, 5 s for atftp, so 11 s
		 * lets two repeats through), one whose OACK was lost repeats
		 * its request, and both are answered at once.  An OACK resent sooner reaches a client that already
		 * answered it, and atftp aborts on a second OACK.
		 */
		if (s->oack)
			s->tmo_ms = TFTPD_OACK_WAIT * 1000;
	}
}

/* The transfer's own socket: new port, connected to the peer. */
static int
session_socket(struct session *s)
{
	struct server		*srv = s->srv;
	struct sockaddr_storage	 a;

	int			 sz = TFTPD_SOCKBUF;

	s->fd = socket(srv->laddr.ss_family, SOCK_DGRAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (s->fd == -1)
		return -1;
	/*
	 * Room for a whole window; small bursts fit the default buffer and
	 * skip the syscall.  The receive side only ever holds ACKs (or one
	 * lock-step WRQ block).
	 */
	if ((size_t)s->window * (s->blksize + 4U) > 65536)
		(void)setsockopt(s->fd, SOL_SOCKET, SO_SNDBUF, &sz,
		    sizeof(sz));
	/*
	 * Answer from the address the request was sent to (multi-homed
	 * hosts); a broadcast destination cannot be bound: use the wildcard.
	 */
	if (bind(s->fd, (struct sockaddr *)&srv->rlocal, srv->laddrlen) == -1) {
		memcpy(&a, &srv->laddr, sizeof(a));
		if (a.ss_family == AF_INET)
			((struct sockaddr_in *)&a)->sin_port = 0;
		else
			((struct sockaddr_in6 *)&a)->sin6_port = 0;
		if (bind(s->fd, (struct sockaddr *)&a, srv->laddrlen) == -1)
			return -1;
	}
	if (connect(s->fd, (struct sockaddr *)&s->peer, s->peerlen) == -1)
		return -1;
	s->ev = event_new(srv->base, s->fd, EV_READ | EV_PERSIST,
	    session_read_cb, s);
	s->tmo = evtimer_new(srv->base, session_timeout_cb, s);
	if (s->ev == NULL || s->tmo == NULL || event_add(s->ev, NULL) == -1)
		return -1;
	return 0;
}

/* Window slots: headers, iovecs and mmsghdrs, allocated once. */
static int
session_slots(struct session *s)
{
	s->hdrs = calloc(s->window, 4);
	s->iov = calloc(s->window, 2 * sizeof(*s->iov));
	s->msgs = calloc(s->window, sizeof(*s->msgs));
	return s->hdrs != NULL && s->iov != NULL && s->msgs != NULL ? 0 : -1;
}

/* Start a transfer for a parsed request; takes c. */
static void
session_start(struct server *srv, const struct tftp_req *req,
    struct content *c, const struct sockaddr_storage *peer, socklen_t plen,
    const char *peerstr, const char *vname)
{
	struct session	*s;

	if ((s = calloc(1, sizeof(*s))) == NULL) {
		content_release(srv->files, c);
		log_errx("%s: out of memory", peerstr);
		return;
	}
	s->srv = srv;
	s->fd = -1;
	s->op = req->op;
	s->c = *c;
	memset(c, 0, sizeof(*c));
	memcpy(&s->peer, peer, plen);
	s->peerlen = plen;
	snprintf(s->peerstr, sizeof(s->peerstr), "%s", peerstr);
	snprintf(s->name, sizeof(s->name), "%s", vname);
	memcpy(s->rawname, req->filename, sizeof(s->rawname));
	clock_gettime(CLOCK_MONOTONIC, &s->t0);
	TAILQ_INSERT_TAIL(&srv->sessions, s, entry);
	srv->nsessions++;
	s->pending = 1;
	srv->npending++;
	negotiate(s, req);
	s->total = s->c.len / s->blksize + 1;
	if (session_socket(s) == -1 || session_slots(s) == -1) {
		send_error(srv->lfd, peer, plen, TFTP_EUNDEF,
		    "server error");
		session_end(s, strerror(errno));
		return;
	}
	if (s->op == TFTP_WRQ)
		wrq_ack(s);
	else
		session_send(s, s->acked + 1);
}

/* Same client address and port: the same transfer's requester. */
static int
same_peer(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	const struct sockaddr_in	*a4 = (const void *)a, *b4 = (const void *)b;
	const struct sockaddr_in6	*a6 = (const void *)a, *b6 = (const void *)b;

	if (!same_host(a, b))
		return 0;
	if (a->ss_family == AF_INET)
		return a4->sin_port == b4->sin_port;
	return a6->sin6_port == b6->sin6_port;
}

/*
 * A request the client sent again because our first answer was lost:
 * the same peer port, operation and name as a transfer that has had no
 * answer yet.  Answer it from that transfer (once per half interval)
 * instead of starting a second one, whose packets from another port the
 * client would take for an intruder's (atftp aborts on them).
 */
static int
request_again(struct server *srv, const struct sockaddr_storage *peer,
    int op, const char *name)
{
	struct session	*s;

	TAILQ_FOREACH(s, &srv->sessions, entry) {
		if (!s->pending || (int)s->op != op || !same_peer(&s->peer, peer) ||
		    strcmp(s->rawname, name) != 0)
			continue;
		if (elapsed_ms(&s->tsent) >= (long long)s->base_ms / 2) {
			if (op == TFTP_WRQ)
				wrq_ack(s);
			else
				session_send(s, 1);
		}
		return 1;
	}
	return 0;
}

/* Count transfers from the same address. */
static int
client_sessions(struct server *srv, const struct sockaddr_storage *peer)
{
	struct session	*s;
	int		 n = 0;

	TAILQ_FOREACH(s, &srv->sessions, entry)
		if (same_host(&s->peer, peer))
			n++;
	return n;
}

/* Refuse a request: TFTP error to the peer and one log line. */
static void
refuse(struct server *srv, const struct sockaddr_storage *peer,
    socklen_t plen, const char *peerstr, const char *vname, uint16_t code,
    const char *msg, const char *why)
{
	send_error(srv->lfd, peer, plen, code, msg);
	log_warnx("%s \"%s\" refused: error %u (%s): %s", peerstr, vname,
	    code, msg, why);
}

/* Map a tftp_parse_req() failure to a TFTP error (see lib/tftppkt.c). */
static uint16_t
req_error(int r, const char **msg)
{
	switch (r) {
	case UC_ERR_POLICY:
		*msg = "file name too long";
		return TFTP_EACCESS;
	case UC_ERR_UNSUPPORTED:
		*msg = "unsupported mode";
		return TFTP_EBADOP;
	case UC_ERR_ARG:
		*msg = "option refused";
		return TFTP_EOPTNEG;
	default:
		*msg = "malformed request";
		return TFTP_EBADOP;
	}
}

static const char *
files_msg(uint16_t code)
{
	switch (code) {
	case TFTP_ENOTFOUND:
		return "file not found";
	case TFTP_EACCESS:
		return "access violation";
	default:
		return "server error";
	}
}

/* One datagram on the listening socket. */
static void
listen_packet(struct server *srv, const uint8_t *buf, size_t len,
    const struct sockaddr_storage *peer, socklen_t plen)
{
	const struct config	*cfg = srv->cfg;
	struct tftp_req		 req;
	struct content		 c;
	char			 peerstr[PEERSTR_MAX];
	char			 vname[NAME_VIS_MAX], why[512];
	const char		*msg;
	uint16_t		 code;
	int			 op, r;

	addr_str((const struct sockaddr *)peer, plen, peerstr,
	    sizeof(peerstr));
	op = tftp_opcode(buf, len);
	if (op != TFTP_RRQ && op != TFTP_WRQ) {
		log_warnx("%s: %zu-byte packet with opcode %d to the "
		    "listener: ignored", peerstr, len, op < 0 ? -1 :
		    op);
		return;
	}
	r = tftp_parse_req(buf, len, &req);
	str_vis(vname, sizeof(vname), req.filename);
	if (r != 0) {
		code = req_error(r, &msg);
		refuse(srv, peer, plen, peerstr, vname, code, msg,
		    uc_errdetail());
		return;
	}
	if (request_again(srv, peer, op, req.filename))
		return;
	if (srv->nsessions >= cfg->max_sessions) {
		refuse(srv, peer, plen, peerstr, vname, TFTP_EUNDEF,
		    "server busy", "session limit");
		return;
	}
	if (srv->npending >= (cfg->max_sessions + 1) / 2) {
		refuse(srv, peer, plen, peerstr, vname, TFTP_EUNDEF,
		    "server busy", "unacknowledged session limit");
		return;
	}
	if (client_sessions(srv, peer) >= cfg->max_per_client) {
		refuse(srv, peer, plen, peerstr, vname, TFTP_EUNDEF,
		    "too many transfers", "per-client limit");
		return;
	}
	memset(&c, 0, sizeof(c));
	if (op == TFTP_WRQ) {
		if (cfg->write_dir == NULL ||
		    files_name_check(req.filename, &msg, why, sizeof(why)) ||
		    strchr(msg, '/') != NULL) {
			refuse(srv, peer, plen, peerstr, vname, TFTP_EACCESS,
			    "write not allowed", "WRQ");
			return;
		}
		if (req.opts.has_tsize && req.opts.tsize > TFTPD_WRITE_MAX) {
			refuse(srv, peer, plen, peerstr, vname, TFTP_ENOSPACE,
			    "file too large", "WRQ tsize over 16 MiB");
			return;
		}
	} else if (files_get(srv->files, req.filename, &c, &code, why,
	    sizeof(why)) != 0) {
		refuse(srv, peer, plen, peerstr, vname, code,
		    files_msg(code), why);
		return;
	}
	if (req.mode == TFTP_MODE_NETASCII && op == TFTP_RRQ &&
	    content_netascii(srv->files, &c) != 0) {
		r = c.len > TFTPD_NETASCII_MAX;
		content_release(srv->files, &c);
		refuse(srv, peer, plen, peerstr, vname, TFTP_EUNDEF,
		    r ? "netascii limited to 1 MiB" : "server error",
		    r ? "netascii over 1 MiB" : "out of memory");
		return;
	}
	session_start(srv, &req, &c, peer, plen, peerstr, vname);
}

/* srv->rlocal: the request's destination address (IP_PKTINFO), port 0. */
static void
local_addr(struct server *srv, struct msghdr *mh)
{
	struct sockaddr_in	*l4 = (struct sockaddr_in *)&srv->rlocal;
	struct sockaddr_in6	*l6 = (struct sockaddr_in6 *)&srv->rlocal;
	struct in_pktinfo	 pi;
	struct in6_pktinfo	 pi6;
	struct cmsghdr		*cm;

	memcpy(&srv->rlocal, &srv->laddr, sizeof(srv->rlocal));
	for (cm = CMSG_FIRSTHDR(mh); cm != NULL; cm = CMSG_NXTHDR(mh, cm)) {
		if (l4->sin_family == AF_INET && cm->cmsg_level == IPPROTO_IP &&
		    cm->cmsg_type == IP_PKTINFO) {
			memcpy(&pi, CMSG_DATA(cm), sizeof(pi));
			l4->sin_addr = pi.ipi_addr;
		} else if (l6->sin6_family == AF_INET6 &&
		    cm->cmsg_level == IPPROTO_IPV6 &&
		    cm->cmsg_type == IPV6_PKTINFO) {
			memcpy(&pi6, CMSG_DATA(cm), sizeof(pi6));
			l6->sin6_addr = pi6.ipi6_addr;
			if (IN6_IS_ADDR_LINKLOCAL(&pi6.ipi6_addr))
				l6->sin6_scope_id = pi6.ipi6_ifindex;
		}
	}
	if (l4->sin_family == AF_INET)
		l4->sin_port = 0;
	else
		l6->sin6_port = 0;
}

static void
listen_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server		*srv = arg;
	struct sockaddr_storage	 peer;
	struct msghdr		 mh;
	struct iovec		 iov;
	union {
		char		 buf[CMSG_SPACE(sizeof(struct in6_pktinfo))];
		struct cmsghdr	 align;
	} u;
	ssize_t			 n;
	int			 i;

	(void)what;
	for (i = 0; i < LISTEN_BATCH; i++) {
		iov.iov_base = srv->rbuf;
		iov.iov_len = sizeof(srv->rbuf);
		memset(&mh, 0, sizeof(mh));
		mh.msg_name = &peer;
		mh.msg_namelen = sizeof(peer);
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		mh.msg_control = u.buf;
		mh.msg_controllen = sizeof(u.buf);
		n = recvmsg(fd, &mh, 0);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return;
		local_addr(srv, &mh);
		listen_packet(srv, srv->rbuf, (size_t)n, &peer, mh.msg_namelen);
	}
}

static void
signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct server	*srv = arg;

	(void)what;
	if (sig == SIGHUP) {
		log_info("SIGHUP: reloading configuration, flushing cache");
		if (srv->reload != NULL)
			srv->reload(srv->reload_arg);
		files_flush(srv->files);
		return;
	}
	log_info("signal %d: exiting", (int)sig);
	event_base_loopbreak(srv->base);
}

/* Resolve --listen/--port into srv->laddr. */
static int
listen_addr(struct server *srv)
{
	struct addrinfo	 hints, *res = NULL;
	char		 port[8];
	int		 e;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_DGRAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV;
	snprintf(port, sizeof(port), "%d", srv->cfg->port);
	if ((e = getaddrinfo(srv->cfg->listen, port, &hints, &res)) != 0)
		return uc_fail(UC_ERR_ARG, "--listen %s: %s", srv->cfg->listen,
		    gai_strerror(e));
	memcpy(&srv->laddr, res->ai_addr, res->ai_addrlen);
	srv->laddrlen = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

/* Bind the listening socket. */
static int
listen_open(struct server *srv)
{
	char	 a[PEERSTR_MAX];
	int	 r, on = 1;

	if ((r = listen_addr(srv)) != 0)
		return r;
	addr_str((struct sockaddr *)&srv->laddr, srv->laddrlen, a, sizeof(a));
	srv->lfd = socket(srv->laddr.ss_family, SOCK_DGRAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (srv->lfd == -1 || bind(srv->lfd, (struct sockaddr *)&srv->laddr,
	    srv->laddrlen) == -1)
		return uc_fail(UC_ERR_IO, "bind %s: %s", a, strerror(errno));
	sock_bufs(srv->lfd);
	if (srv->laddr.ss_family == AF_INET)
		(void)setsockopt(srv->lfd, IPPROTO_IP, IP_PKTINFO, &on,
		    sizeof(on));
	else
		(void)setsockopt(srv->lfd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &on,
		    sizeof(on));
	return 0;
}

/*
 * Bind the listener and set up the event loop; files is borrowed.
 * Stores a new server (free with server_free) in *out.  0 or a UC_ERR_*
 * code with detail.
 */
int
server_new(const struct config *cfg, struct files *files,
    struct server **out)
{
	struct server	*srv;
	const int	 sigs[3] = { SIGHUP, SIGTERM, SIGINT };
	int		 i, r = UC_ERR_INTERNAL;

	if ((srv = calloc(1, sizeof(*srv))) == NULL)
		return UC_ERR_ALLOC;
	srv->cfg = cfg;
	srv->files = files;
	srv->lfd = -1;
	srv->gso = getenv("UCSEC_TFTPD_NO_GSO") == NULL;
	TAILQ_INIT(&srv->sessions);
	if ((r = listen_open(srv)) != 0)
		goto out;
	r = UC_ERR_INTERNAL;
	if ((srv->base = event_base_new()) == NULL)
		goto out;
	srv->lev = event_new(srv->base, srv->lfd, EV_READ | EV_PERSIST,
	    listen_cb, srv);
	if (srv->lev == NULL || event_add(srv->lev, NULL) == -1)
		goto out;
	for (i = 0; i < 3; i++) {
		srv->sigs[i] = evsignal_new(srv->base, sigs[i], signal_cb, srv);
		if (srv->sigs[i] == NULL || event_add(srv->sigs[i], NULL) == -1)
			goto out;
	}
	*out = srv;
	srv = NULL;
	r = 0;
out:
	server_free(srv);
	return r;
}

/* Called on SIGHUP before the cache is flushed. */
void
server_on_reload(struct server *srv, void (*fn)(void *), void *arg)
{
	srv->reload = fn;
	srv->reload_arg = arg;
}

/* Run until SIGTERM or SIGINT.  0, or UC_ERR_INTERNAL. */
int
server_run(struct server *srv)
{
	(void)signal(SIGPIPE, SIG_IGN);
	if (event_reinit(srv->base) == -1)
		return uc_fail(UC_ERR_INTERNAL, "event_reinit failed");
	if (event_base_dispatch(srv->base) == -1)
		return uc_fail(UC_ERR_INTERNAL, "event loop failed");
	return 0;
}

/* End every transfer and free srv; accepts NULL. */
void
server_free(struct server *srv)
{
	int	 i;

	if (srv == NULL)
		return;
	while (!TAILQ_EMPTY(&srv->sessions))
		session_end(TAILQ_FIRST(&srv->sessions), "shutdown");
	for (i = 0; i < 3; i++)
		if (srv->sigs[i] != NULL)
			event_free(srv->sigs[i]);
	if (srv->lev != NULL)
		event_free(srv->lev);
	if (srv->base != NULL)
		event_base_free(srv->base);
	if (srv->lfd != -1)
		close(srv->lfd);
	free(srv);
}
