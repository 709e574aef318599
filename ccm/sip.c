/*
 * The SIP message layer of ccmd: libosip2 parses every message, this
 * file checks it (RFC 3261 8.2, 16.3, 18.1.2), runs the transactions
 * the call core needs and dispatches requests.
 *
 * Server transactions are keyed by (top Via branch, method, source);
 * ACK matches its INVITE.  A retransmitted request gets the last
 * response again over UDP and is ignored on streams.  Final responses
 * to INVITE are retransmitted over UDP until the ACK (timer G; 2xx by
 * the core, RFC 3261 13.3.1.4).  Client transactions retransmit over
 * UDP (timers A/E), time out after 64*T1 (B/F) and ACK non-2xx INVITE
 * finals themselves.
 *
 * Lifetime rules (see ccm.h):
 *  - A handler holds the server transaction of the request it is given
 *    until it sends a final response on it or calls sip_strans_detach
 *    (an unanswered request then gets a 500); the pointer is dead after
 *    either.
 *  - A client transaction belongs to its owner until the callback for
 *    its final response (or the timeout, resp NULL) has returned, or
 *    until sip_ctrans_detach.  The pointer is dead after that.
 * Both tables are bounded (SIP_TRANS_MAX); a finished server transaction
 * that only absorbs retransmissions is the first to go when full.
 */
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/event.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <osipparser2/osip_parser.h>
#include <osipparser2/osip_port.h>

#include "ccm.h"
#include "cursor.h"
#include "log.h"
#include "uerr.h"

#define SIP_T1_MS	500		/* RTT estimate (RFC 3261 17.1.1.1) */
#define SIP_T2_MS	4000		/* non-INVITE retransmit cap */
#define SIP_T4_MS	5000		/* max network lifetime */
#define SIP_TMO_MS	(64 * SIP_T1_MS)	/* timers B, F, H, J */
#define SIP_RING_MS	(10 * 60 * 1000)	/* INVITE proceeding at most */
#define SIP_TRANS_MAX	100000		/* server + client transactions */
#define SIP_BRANCH_MAX	128		/* longer Via branch: 400 */
#define SIP_KEY_MAX	(SIP_BRANCH_MAX + 16 + 80)
#define SIP_CRED_MAX	4		/* Authorization headers kept */
#define SIP_CRED_LEN	4096		/* bytes per Authorization value */
#define SIP_RAW_LINE	2048		/* a header line a raw 400 copies */
#define SIP_RAW_VIAS	16		/* Via lines a raw 400 copies */
#define SIP_RND_POOL	4096		/* random bytes fetched at once */
#define SIP_SWEEP_MS	1000		/* finished transactions freed */
#define SIP_HT_INIT	1024		/* hash buckets at start */
#define SIP_HT_MAXB	(1u << 20)	/* hash buckets at most */
#define SIP_ALLOW	"INVITE, ACK, BYE, CANCEL, OPTIONS, REGISTER, " \
			"UPDATE, INFO, REFER, NOTIFY, SUBSCRIBE, PRACK"

/* ---- keyed hash and an intrusive chained table -------------------- */

struct hnode {
	struct hnode	*next;
	uint64_t	 h;
	const char	*key;		/* NULL: not in a table */
	size_t		 klen;
	void		*owner;
};

struct htab {
	struct hnode	**b;
	size_t		  nb;		/* power of two */
	size_t		  n;
};

static uint8_t	hash_key[16];
static int	hash_seeded;

#define ROTL64(x, b)	(uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND do {							\
	v0 += v1; v1 = ROTL64(v1, 13); v1 ^= v0; v0 = ROTL64(v0, 32);	\
	v2 += v3; v3 = ROTL64(v3, 16); v3 ^= v2;			\
	v0 += v3; v3 = ROTL64(v3, 21); v3 ^= v0;			\
	v2 += v1; v1 = ROTL64(v1, 17); v1 ^= v2; v2 = ROTL64(v2, 32);	\
} while (0)

static uint64_t
le64(const uint8_t *p)
{
	uint64_t	 v = 0;
	int		 i;

	for (i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

/*
 * SipHash-2-4 of len bytes under a per-process random key, so that
 * peers cannot aim many keys at one bucket.  Used by every ccmd table.
 */
uint64_t
sip_hash(const void *data, size_t len)
{
	const uint8_t	*p = data;
	uint64_t	 k0, k1, v0, v1, v2, v3, m, b;
	size_t		 i, left;

	if (!hash_seeded) {
		if (RAND_bytes(hash_key, sizeof(hash_key)) != 1)
			log_warnx("sip: RAND_bytes failed for the hash key");
		hash_seeded = 1;
	}
	k0 = le64(hash_key);
	k1 = le64(hash_key + 8);
	v0 = k0 ^ 0x736f6d6570736575ULL;
	v1 = k1 ^ 0x646f72616e646f6dULL;
	v2 = k0 ^ 0x6c7967656e657261ULL;
	v3 = k1 ^ 0x7465646279746573ULL;
	for (i = 0; i + 8 <= len; i += 8) {
		m = le64(p + i);
		v3 ^= m;
		SIPROUND;
		SIPROUND;
		v0 ^= m;
	}
	b = (uint64_t)len << 56;
	left = len - i;
	while (left > 0) {
		left--;
		b |= (uint64_t)p[i + left] << (8 * left);
	}
	v3 ^= b;
	SIPROUND;
	SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

static int
htab_init(struct htab *t)
{
	t->nb = SIP_HT_INIT;
	t->n = 0;
	if ((t->b = calloc(t->nb, sizeof(*t->b))) == NULL)
		return UC_ERR_ALLOC;
	return 0;
}

static void *
htab_get(const struct htab *t, const char *key, size_t klen)
{
	struct hnode	*n;
	uint64_t	 h;

	if (t->b == NULL)
		return NULL;
	h = sip_hash(key, klen);
	for (n = t->b[h & (t->nb - 1)]; n != NULL; n = n->next)
		if (n->h == h && n->klen == klen &&
		    memcmp(n->key, key, klen) == 0)
			return n->owner;
	return NULL;
}

static void
htab_grow(struct htab *t)
{
	struct hnode	**nb, *n, *next;
	size_t		  i, size = t->nb * 2;

	if (size > SIP_HT_MAXB || (nb = calloc(size, sizeof(*nb))) == NULL)
		return;
	for (i = 0; i < t->nb; i++)
		for (n = t->b[i]; n != NULL; n = next) {
			next = n->next;
			n->next = nb[n->h & (size - 1)];
			nb[n->h & (size - 1)] = n;
		}
	free(t->b);
	t->b = nb;
	t->nb = size;
}

/* Insert n (key and owner set by the caller). */
static void
htab_put(struct htab *t, struct hnode *n, const char *key, size_t klen,
    void *owner)
{
	size_t		 i;

	n->key = key;
	n->klen = klen;
	n->owner = owner;
	n->h = sip_hash(key, klen);
	if (t->n >= t->nb)
		htab_grow(t);
	i = n->h & (t->nb - 1);
	n->next = t->b[i];
	t->b[i] = n;
	t->n++;
}

static void
htab_del(struct htab *t, struct hnode *n)
{
	struct hnode	**pp;

	if (n->key == NULL || t->b == NULL)
		return;
	for (pp = &t->b[n->h & (t->nb - 1)]; *pp != NULL; pp = &(*pp)->next)
		if (*pp == n) {
			*pp = n->next;
			t->n--;
			break;
		}
	n->key = NULL;
	n->next = NULL;
}

/* ---- state -------------------------------------------------------- */

struct sip_strans;
struct sip_ctrans;
TAILQ_HEAD(stq, sip_strans);
TAILQ_HEAD(ctq, sip_ctrans);

/* The transactions of one TCP/TLS connection (ss->conns). */
struct conn_ent {
	struct hnode		 node;		/* key: id */
	uint64_t		 id;
	struct stq		 st;		/* requests that came on it */
	struct ctq		 ct;		/* requests sent down it */
	int			 busy;		/* sip_conn_closed walks it */
};

struct sip_strans {
	struct ccm		*ccm;
	struct hnode		 node;		/* ss->st_tab */
	struct hnode		 acc;		/* ss->st_acc: 2xx, no ACK */
	TAILQ_ENTRY(sip_strans)	 entry;		/* ss->strans */
	TAILQ_ENTRY(sip_strans)	 dentry;	/* ss->done */
	TAILQ_ENTRY(sip_strans)	 centry;	/* ce->st */
	struct conn_ent		*ce;		/* streams */
	char			 key[SIP_KEY_MAX];
	size_t			 klen;
	char			*acckey;
	osip_message_t		*req;		/* until released */
	struct tp_info		 src;
	struct tp_peer		 reply_to;
	int			 invite;
	int			 stream;
	char			 totag[33];
	char			 user[64];	/* authenticated digest user */
	char			*creds[SIP_CRED_MAX];	/* raw Authorization */
	size_t			 ncreds;
	char			*resp;		/* last response sent */
	size_t			 resplen;
	int			 code;		/* its status */
	int			 final;
	int64_t			 final_ms;
	int			 acked;
	int			 owned;		/* a handler holds it */
	int			 dispatching;
	int			 dead;		/* its connection closed */
	int			 known;		/* from a binding or trunk */
	int			 in_done;
	int64_t			 until_ms;	/* in ss->done: free after */
	struct event		*tmr;		/* G / 2xx retransmission */
	int			 retx_ms;
	void			(*cancel_cb)(void *);
	void			*cancel_arg;
};

enum ct_state { CT_CALLING, CT_PROCEEDING, CT_COMPLETED, CT_ACCEPTED };

struct sip_ctrans {
	struct ccm		*ccm;
	struct hnode		 node;		/* ss->ct_tab */
	struct hnode		 acc;		/* ss->ct_acc: 2xx received */
	TAILQ_ENTRY(sip_ctrans)	 entry;		/* ss->ctrans */
	TAILQ_ENTRY(sip_ctrans)	 centry;	/* ce->ct */
	struct conn_ent		*ce;		/* streams */
	char			 key[SIP_KEY_MAX];
	size_t			 klen;
	char			*acckey;
	osip_message_t		*req;
	char			*text;		/* the request as sent */
	size_t			 textlen;
	char			*ack;		/* our ACK (non-2xx) or the
						   core's ACK (2xx) */
	size_t			 acklen;
	struct tp_peer		 dest;
	int			 invite;
	int			 state;		/* enum ct_state */
	sip_resp_cb		 cb;		/* NULL: detached / ended */
	void			*arg;
	struct event		*retx;
	struct event		*tmo;
	int			 retx_ms;
	int			 cancel_pending;
	int			 cancelled;
	int			 timed_out;
};

struct sip_state {
	struct htab		 st_tab;
	struct htab		 st_acc;
	struct htab		 ct_tab;
	struct htab		 ct_acc;
	struct htab		 conns;		/* conn_ent by id */
	struct stq		 strans;
	struct stq		 done;		/* finished, by until_ms */
	struct ctq		 ctrans;
	size_t			 nst, nct;
	struct event		*sweep;
	unsigned long		 refused;
};

static int	parser_ready;

/* ---- transactions by connection ----------------------------------- */

static struct conn_ent *
ce_find(struct sip_state *ss, uint64_t id)
{
	return htab_get(&ss->conns, (const char *)&id, sizeof(id));
}

/* The entry of connection id, made on first use; NULL without memory. */
static struct conn_ent *
ce_get(struct sip_state *ss, uint64_t id)
{
	struct conn_ent	*ce;

	if ((ce = ce_find(ss, id)) != NULL)
		return ce;
	if ((ce = calloc(1, sizeof(*ce))) == NULL)
		return NULL;
	ce->id = id;
	TAILQ_INIT(&ce->st);
	TAILQ_INIT(&ce->ct);
	htab_put(&ss->conns, &ce->node, (const char *)&ce->id,
	    sizeof(ce->id), ce);
	return ce;
}

/* Free ce once no transaction is on it and nobody walks it. */
static void
ce_put(struct sip_state *ss, struct conn_ent *ce)
{
	if (ce == NULL || ce->busy || !TAILQ_EMPTY(&ce->st) ||
	    !TAILQ_EMPTY(&ce->ct))
		return;
	htab_del(&ss->conns, &ce->node);
	free(ce);
}

static void	st_release(struct sip_strans *);
static void	st_free(struct sip_strans *);
static void	st_creds_free(struct sip_strans *);
static void	ct_free(struct sip_ctrans *);

static int64_t
now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
tmr_add(struct event *ev, int ms)
{
	struct timeval	 tv;

	if (ev == NULL)
		return;
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(ev, &tv);
}

static void
sweep_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sip_state	*ss = arg;
	struct sip_strans	*st;
	int64_t			 now = now_ms();

	(void)fd;
	(void)what;
	while ((st = TAILQ_FIRST(&ss->done)) != NULL && st->until_ms <= now)
		st_free(st);
}

static void
osip_trace_none(const char *fi, int li, osip_trace_level_t level,
    const char *fmt, va_list ap)
{
	(void)fi;
	(void)li;
	(void)level;
	(void)fmt;
	(void)ap;
}

/*
 * libosip2 writes its parse errors to stderr unless a trace function
 * is installed ("| ERROR | ... <osip_messa..."): install one that
 * drops them, and turn every level off.  A message it refuses is
 * logged (debug) by sip_input.
 */
static void
osip_quiet(void)
{
	int	 l;

	osip_trace_initialize_func(TRACE_LEVEL0, osip_trace_none);
	for (l = TRACE_LEVEL0; l < END_TRACE_LEVEL; l++)
		osip_trace_disable_level((osip_trace_level_t)l);
}

/* The layer's state, made on first use (there is no sip_init). */
static struct sip_state *
sip_state_get(struct ccm *ccm)
{
	struct sip_state	*ss;
	struct timeval		 tv = { SIP_SWEEP_MS / 1000,
				    (SIP_SWEEP_MS % 1000) * 1000 };

	if (ccm->sip != NULL)
		return ccm->sip;
	if (!parser_ready) {
		parser_init();
		osip_quiet();
		parser_ready = 1;
	}
	if ((ss = calloc(1, sizeof(*ss))) == NULL)
		return NULL;
	TAILQ_INIT(&ss->strans);
	TAILQ_INIT(&ss->done);
	TAILQ_INIT(&ss->ctrans);
	if (htab_init(&ss->st_tab) != 0 || htab_init(&ss->st_acc) != 0 ||
	    htab_init(&ss->ct_tab) != 0 || htab_init(&ss->ct_acc) != 0 ||
	    htab_init(&ss->conns) != 0)
		goto fail;
	if (ccm->base != NULL) {
		ss->sweep = event_new(ccm->base, -1, EV_PERSIST, sweep_cb, ss);
		if (ss->sweep == NULL)
			goto fail;
		event_add(ss->sweep, &tv);
	}
	ccm->sip = ss;
	return ss;
 fail:
	free(ss->st_tab.b);
	free(ss->st_acc.b);
	free(ss->ct_tab.b);
	free(ss->ct_acc.b);
	free(ss->conns.b);
	free(ss);
	log_warnx("sip: out of memory for the transaction tables");
	return NULL;
}

/* ---- small helpers ------------------------------------------------ */

/*
 * n random bytes from a pool refilled SIP_RND_POOL bytes at a time
 * (one RAND_bytes call per many tokens).  Only for tags, branches and
 * Call-IDs: nothing secret comes from here.  Used bytes are wiped.
 */
static void
rnd_take(uint8_t *out, size_t n)
{
	static uint8_t	 pool[SIP_RND_POOL];
	static size_t	 left;
	size_t		 k;

	while (n > 0) {
		if (left == 0) {
			if (RAND_bytes(pool, sizeof(pool)) != 1) {
				log_warnx("sip: RAND_bytes failed");
				memset(out, 0, n);
				return;
			}
			left = sizeof(pool);
		}
		k = n < left ? n : left;
		memcpy(out, pool + sizeof(pool) - left, k);
		OPENSSL_cleanse(pool + sizeof(pool) - left, k);
		left -= k;
		out += k;
		n -= k;
	}
}

/* Random hex token of size-1 characters (tags, branches, Call-IDs). */
void
sip_token(char *buf, size_t size)
{
	static const char	 hex[] = "0123456789abcdef";
	uint8_t			 rnd[64];
	size_t			 i, n;

	if (size == 0)
		return;
	n = size - 1;
	if (n > 2 * sizeof(rnd))
		n = 2 * sizeof(rnd);
	rnd_take(rnd, (n + 1) / 2);
	for (i = 0; i < n; i++)
		buf[i] = hex[(rnd[i / 2] >> ((i & 1) ? 0 : 4)) & 0x0f];
	buf[n] = '\0';
}

/* Numeric address and port of a socket address. */
static int
addr_text(const struct sockaddr_storage *ss, char *host, size_t len,
    int *port)
{
	const struct sockaddr_in	*s4 = (const struct sockaddr_in *)ss;
	const struct sockaddr_in6	*s6 = (const struct sockaddr_in6 *)ss;

	if (ss->ss_family == AF_INET) {
		if (inet_ntop(AF_INET, &s4->sin_addr, host, len) == NULL)
			return UC_ERR_FORMAT;
		*port = ntohs(s4->sin_port);
		return 0;
	}
	if (ss->ss_family == AF_INET6) {
		if (inet_ntop(AF_INET6, &s6->sin6_addr, host, len) == NULL)
			return UC_ERR_FORMAT;
		*port = ntohs(s6->sin6_port);
		return 0;
	}
	return UC_ERR_FORMAT;
}

static void
addr_set_port(struct sockaddr_storage *ss, int port)
{
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
	else if (ss->ss_family == AF_INET6)
		((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
}

/* Same host address (ports not compared). */
static int
addr_same_host(const struct sockaddr_storage *a,
    const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return 0;
	if (a->ss_family == AF_INET)
		return memcmp(&((const struct sockaddr_in *)a)->sin_addr,
		    &((const struct sockaddr_in *)b)->sin_addr,
		    sizeof(struct in_addr)) == 0;
	if (a->ss_family == AF_INET6)
		return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
		    &((const struct sockaddr_in6 *)b)->sin6_addr,
		    sizeof(struct in6_addr)) == 0;
	return 0;
}

/* A text key naming a peer: the connection, or the UDP address. */
static int
peer_key(const struct tp_peer *p, char *buf, size_t len)
{
	char	 host[INET6_ADDRSTRLEN];
	int	 port, n;

	if (p->kind != TP_UDP)
		n = snprintf(buf, len, "t%" PRIu64, p->conn);
	else if (addr_text(&p->addr, host, sizeof(host), &port) == 0)
		n = snprintf(buf, len, "u%d/%s/%d", p->sock, host, port);
	else
		n = snprintf(buf, len, "u%d/?", p->sock);
	return (n < 0 || (size_t)n >= len) ? UC_ERR_TRUNCATED : 0;
}

/* Decimal 0..max, the whole string; -1 if not. */
static long
num_parse(const char *s, long max)
{
	long	 v = 0;

	if (s == NULL || *s == '\0')
		return -1;
	for (; *s != '\0'; s++) {
		if (!isdigit((unsigned char)*s))
			return -1;
		v = v * 10 + (*s - '0');
		if (v > max)
			return -1;
	}
	return v;
}

static const char *
kind_name(int kind)
{
	switch (kind) {
	case TP_TLS:
		return "TLS";
	case TP_TCP:
		return "TCP";
	default:
		return "UDP";
	}
}

static osip_via_t *
top_via(const osip_message_t *m)
{
	return osip_list_get(&m->vias, 0);
}

static const char *
via_branch(osip_via_t *via)
{
	osip_generic_param_t	*p = NULL;

	if (via == NULL || osip_via_param_get_byname(via, "branch", &p) != 0 ||
	    p == NULL || p->gvalue == NULL || p->gvalue[0] == '\0')
		return NULL;
	return p->gvalue;
}

static int
has_tag(osip_to_t *to)
{
	osip_generic_param_t	*p = NULL;

	return to != NULL && osip_to_get_tag(to, &p) == 0 && p != NULL &&
	    p->gvalue != NULL && p->gvalue[0] != '\0';
}

/* Serialize (always rebuilt from the structure). */
static char *
msg_text(osip_message_t *m, size_t *len)
{
	char	*s = NULL;
	size_t	 l = 0;

	osip_message_force_update(m);
	if (osip_message_to_str(m, &s, &l) != 0 || s == NULL) {
		log_debug("sip: cannot serialize a message");
		return NULL;
	}
	*len = l;
	return s;
}

/*
 * The message as text, malloc'd and NUL-terminated; *len (may be NULL)
 * its length.  NULL when it cannot be built.
 */
char *
sip_to_text(osip_message_t *m, size_t *len)
{
	char	*s, *out;
	size_t	 l;

	if (m == NULL || (s = msg_text(m, &l)) == NULL)
		return NULL;
	if ((out = malloc(l + 1)) != NULL) {
		memcpy(out, s, l);
		out[l] = '\0';
		if (len != NULL)
			*len = l;
	}
	osip_free(s);
	return out;
}

static int
hname_is(const char *a, const char *b)
{
	return strcasecmp(a, b) == 0;
}

/*
 * Add one header (name and value copied).  Headers osip keeps in typed
 * slots (Via, From, To, Call-ID, CSeq, Contact, Content-Type, Route,
 * Record-Route) are parsed into them; every other one, including the
 * digest headers whose exact text matters, is kept verbatim.
 */
int
sip_add_header(osip_message_t *m, const char *name, const char *value)
{
	int	 r;

	if (m == NULL || name == NULL || value == NULL || *name == '\0')
		return uc_fail(UC_ERR_ARG, "sip_add_header: bad argument");
	if (hname_is(name, "Via"))
		r = osip_message_append_via(m, value);
	else if (hname_is(name, "From") && m->from == NULL)
		r = osip_message_set_from(m, value);
	else if (hname_is(name, "To") && m->to == NULL)
		r = osip_message_set_to(m, value);
	else if (hname_is(name, "Call-ID") && m->call_id == NULL)
		r = osip_message_set_call_id(m, value);
	else if (hname_is(name, "CSeq") && m->cseq == NULL)
		r = osip_message_set_cseq(m, value);
	else if (hname_is(name, "Contact"))
		r = osip_message_set_contact(m, value);
	else if (hname_is(name, "Content-Type") && m->content_type == NULL)
		r = osip_message_set_content_type(m, value);
	else if (hname_is(name, "Route"))
		r = osip_message_set_route(m, value);
	else if (hname_is(name, "Record-Route"))
		r = osip_message_set_record_route(m, value);
	else
		r = osip_message_set_header(m, name, value);
	if (r != 0)
		return uc_fail(UC_ERR_FORMAT, "sip: header %s not accepted",
		    name);
	return 0;
}

/* Set the body and its Content-Type (body copied); NULL body clears. */
int
sip_set_body(osip_message_t *m, const char *ctype, const char *body,
    size_t len)
{
	osip_body_t	*b;

	if (m == NULL)
		return uc_fail(UC_ERR_ARG, "sip_set_body: no message");
	while ((b = osip_list_get(&m->bodies, 0)) != NULL) {
		osip_list_remove(&m->bodies, 0);
		osip_body_free(b);
	}
	if (m->content_type != NULL) {
		osip_content_type_free(m->content_type);
		m->content_type = NULL;
	}
	if (m->content_length != NULL) {
		osip_content_length_free(m->content_length);
		m->content_length = NULL;
	}
	if (body == NULL || len == 0)
		return 0;
	if (len > CCM_MSG_MAX)
		return uc_fail(UC_ERR_ARG, "sip: body of %zu bytes", len);
	if (ctype != NULL && osip_message_set_content_type(m, ctype) != 0)
		return uc_fail(UC_ERR_FORMAT, "sip: bad Content-Type");
	if (osip_message_set_body(m, body, len) != 0)
		return uc_fail(UC_ERR_ALLOC, "sip: cannot set the body");
	return 0;
}

/*
 * Our host:port as the peer sees it, for Via and Contact: the
 * connection's local address, else the UDP listener's, else the
 * configured domain.
 */
static void
local_for(struct ccm *ccm, const struct tp_peer *p, char *host, size_t hlen,
    int *port)
{
	const struct tp_info	*ti;
	const char		*dom = "127.0.0.1";
	const char		*a, *colon;
	size_t			 i, n;
	int			 idx = 0;

	if (ccm->cfg != NULL && ccm->cfg->domain != NULL)
		dom = ccm->cfg->domain;
	*port = p->kind == TP_TLS ? CCM_SIPS_PORT : CCM_SIP_PORT;
	snprintf(host, hlen, "%s", dom);
	if (p->kind != TP_UDP) {
		if ((ti = tp_info_get(ccm, p->conn)) != NULL &&
		    ti->local_host[0] != '\0') {
			snprintf(host, hlen, "%s", ti->local_host);
			if (ti->local_port > 0)
				*port = ti->local_port;
		}
		return;
	}
	if (ccm->cfg == NULL)
		return;
	for (i = 0; i < ccm->cfg->nlisten; i++) {
		if (ccm->cfg->listen[i].kind != TP_UDP)
			continue;
		if (idx++ != p->sock)
			continue;
		if ((a = ccm->cfg->listen[i].addr) == NULL)
			return;
		if (*a == '[') {
			a++;
			if ((colon = strchr(a, ']')) == NULL)
				return;
			n = (size_t)(colon - a);
			colon = colon[1] == ':' ? colon + 1 : NULL;
		} else {
			colon = strrchr(a, ':');
			n = colon != NULL ? (size_t)(colon - a) : strlen(a);
		}
		if (colon != NULL && num_parse(colon + 1, 65535) > 0)
			*port = (int)num_parse(colon + 1, 65535);
		if (n > 0 && n < hlen && !(n == 7 &&
		    memcmp(a, "0.0.0.0", 7) == 0) && !(n == 2 &&
		    memcmp(a, "::", 2) == 0)) {
			memcpy(host, a, n);
			host[n] = '\0';
		}
		return;
	}
}

static int
host_port(char *buf, size_t len, const char *host, int port)
{
	int	 n;

	if (strchr(host, ':') != NULL && host[0] != '[')
		n = snprintf(buf, len, "[%s]:%d", host, port);
	else
		n = snprintf(buf, len, "%s:%d", host, port);
	return (n < 0 || (size_t)n >= len) ? UC_ERR_TRUNCATED : 0;
}

/*
 * Our URI host:port for a peer: "local_host:local_port;transport=tls".
 * 0, or UC_ERR_TRUNCATED when buf is short.
 */
int
sip_contact_for(struct ccm *ccm, const struct tp_info *ti, char *buf,
    size_t len)
{
	const char	*host = ti->local_host;
	char		 hp[128];
	int		 port = ti->local_port, n;

	if (host[0] == '\0')
		host = ccm->cfg != NULL && ccm->cfg->domain != NULL ?
		    ccm->cfg->domain : "127.0.0.1";
	if (port <= 0)
		port = ti->peer.kind == TP_TLS ? CCM_SIPS_PORT : CCM_SIP_PORT;
	if (host_port(hp, sizeof(hp), host, port) != 0)
		return uc_fail(UC_ERR_TRUNCATED, "sip: local address too long");
	n = snprintf(buf, len, "%s;transport=%s", hp,
	    ti->peer.kind == TP_TLS ? "tls" :
	    ti->peer.kind == TP_TCP ? "tcp" : "udp");
	if (n < 0 || (size_t)n >= len)
		return uc_fail(UC_ERR_TRUNCATED, "sip: contact buffer short");
	return 0;
}

/* ---- responses ---------------------------------------------------- */

/* A response to req: Via list, From, To (+tag), Call-ID, CSeq. */
static osip_message_t *
resp_build(const osip_message_t *req, int code, const char *reason,
    const char *totag)
{
	osip_message_t	*r = NULL;
	osip_via_t	*v, *vc;
	const char	*phrase;
	int		 i;

	if (osip_message_init(&r) != 0)
		return NULL;
	phrase = reason != NULL ? reason : osip_message_get_reason(code);
	osip_message_set_version(r, osip_strdup("SIP/2.0"));
	osip_message_set_status_code(r, code);
	osip_message_set_reason_phrase(r, osip_strdup(phrase != NULL ?
	    phrase : "Unknown"));
	for (i = 0; (v = osip_list_get(&req->vias, i)) != NULL; i++) {
		if (osip_via_clone(v, &vc) != 0)
			goto fail;
		osip_list_add(&r->vias, vc, -1);
	}
	if ((req->from != NULL && osip_from_clone(req->from, &r->from) != 0) ||
	    (req->to != NULL && osip_to_clone(req->to, &r->to) != 0) ||
	    (req->call_id != NULL &&
	    osip_call_id_clone(req->call_id, &r->call_id) != 0) ||
	    (req->cseq != NULL && osip_cseq_clone(req->cseq, &r->cseq) != 0))
		goto fail;
	if (code > 100 && r->to != NULL && !has_tag(r->to) && totag != NULL &&
	    totag[0] != '\0')
		osip_to_set_tag(r->to, osip_strdup(totag));
	return r;
 fail:
	osip_message_free(r);
	return NULL;
}

/*
 * Where a response to this request goes: the connection, or over UDP
 * the source address at the Via sent-by port unless rport asked for
 * the source port (RFC 3261 18.2.2, RFC 3581).
 */
static void
reply_peer_via(osip_via_t *via, const struct tp_info *src,
    struct tp_peer *out)
{
	osip_generic_param_t	*rp = NULL;
	long			 port;

	*out = src->peer;
	if (src->peer.kind != TP_UDP || via == NULL)
		return;
	if (osip_via_param_get_byname(via, "rport", &rp) == 0 && rp != NULL)
		return;
	port = via_get_port(via) != NULL ?
	    num_parse(via_get_port(via), 65535) : CCM_SIP_PORT;
	if (port > 0)
		addr_set_port(&out->addr, (int)port);
}

static void
reply_peer(const osip_message_t *req, const struct tp_info *src,
    struct tp_peer *out)
{
	reply_peer_via(top_via(req), src, out);
}

/* Answer without a transaction (bad request, tables full). */
static void
reply_stateless(struct ccm *ccm, const osip_message_t *req,
    const struct tp_info *src, int code, const char *reason)
{
	osip_message_t	*r;
	struct tp_peer	 to;
	char		 tag[17], *s;
	size_t		 len;

	sip_token(tag, sizeof(tag));
	if ((r = resp_build(req, code, reason, tag)) == NULL)
		return;
	if (code == 503)
		osip_message_set_header(r, "Retry-After", "5");
	reply_peer(req, src, &to);
	if ((s = msg_text(r, &len)) != NULL) {
		tp_send(ccm, &to, s, len);
		osip_free(s);
	}
	osip_message_free(r);
}

/* Make a response skeleton for st; NULL when st is gone or no memory. */
osip_message_t *
sip_resp_new(struct sip_strans *st, int code, const char *reason)
{
	if (st == NULL || st->req == NULL || code < 100 || code > 699)
		return NULL;
	return resp_build(st->req, code, reason, st->totag);
}

static void
st_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sip_strans	*st = arg;
	struct sip_state	*ss = st->ccm->sip;

	(void)fd;
	(void)what;
	if (st->acked || st->resp == NULL ||
	    now_ms() - st->final_ms >= SIP_TMO_MS) {
		if (!st->acked && st->code < 300)
			log_debug("sip: no ACK for a 2xx to INVITE from %s",
			    st->src.peer_text);
		htab_del(&ss->st_acc, &st->acc);
		return;
	}
	tp_send(st->ccm, &st->reply_to, st->resp, st->resplen);
	st->retx_ms = st->retx_ms * 2 > SIP_T2_MS ? SIP_T2_MS :
	    st->retx_ms * 2;
	tmr_add(st->tmr, st->retx_ms);
}

/* Call-ID "\n" CSeq number: how an ACK for a 2xx finds its INVITE. */
static char *
acc_key(const osip_message_t *m, size_t *len)
{
	char	*cid = NULL, *k = NULL;
	int	 n;

	if (m->call_id == NULL || m->cseq == NULL ||
	    m->cseq->number == NULL ||
	    osip_call_id_to_str(m->call_id, &cid) != 0)
		return NULL;
	n = asprintf(&k, "%s\n%s", cid, m->cseq->number);
	osip_free(cid);
	if (n < 0)
		return NULL;
	*len = (size_t)n;
	return k;
}

/* After a final response to INVITE over UDP: retransmit it (G / 2xx). */
static void
st_final_invite(struct sip_strans *st)
{
	struct sip_state	*ss = st->ccm->sip;
	size_t			 klen;

	if (st->code < 300 && st->req != NULL && st->acckey == NULL &&
	    (st->acckey = acc_key(st->req, &klen)) != NULL)
		htab_put(&ss->st_acc, &st->acc, st->acckey, klen, st);
	if (st->stream || st->ccm->base == NULL)
		return;
	/*
	 * An error to a source that is neither registered nor a trunk is
	 * sent once: a forged source address gets no amplification.
	 */
	if (st->code >= 300 && !st->known)
		return;
	if (st->tmr == NULL &&
	    (st->tmr = evtimer_new(st->ccm->base, st_timer_cb, st)) == NULL)
		return;
	st->retx_ms = SIP_T1_MS;
	tmr_add(st->tmr, st->retx_ms);
}

/*
 * Free a message after wiping its bodies: an SDP body may hold an SDES
 * key (spec 7.1 rule 7 asks for key copies to be zeroised).
 */
static void
msg_free_wipe(osip_message_t *m)
{
	osip_body_t	*b;
	int		 i;

	if (m == NULL)
		return;
	for (i = 0; (b = osip_list_get(&m->bodies, i)) != NULL; i++)
		if (b->body != NULL)
			OPENSSL_cleanse(b->body, b->length);
	osip_message_free(m);
}

/* The same for message text we built. */
static void
text_free_wipe(char *t, size_t len)
{
	if (t == NULL)
		return;
	OPENSSL_cleanse(t, len);
	osip_free(t);
}

/*
 * Send a response on st; the transaction keeps its text for
 * retransmissions.  resp is taken in every case.  0, or negative
 * (already answered, cannot serialize, transport gone).
 */
int
sip_resp_send(struct sip_strans *st, osip_message_t *resp)
{
	char	*s;
	size_t	 len;
	int	 code, r;

	if (st == NULL || resp == NULL) {
		osip_message_free(resp);
		return uc_fail(UC_ERR_ARG, "sip_resp_send: bad argument");
	}
	code = resp->status_code;
	if (st->final || code < 100 || code > 699) {
		osip_message_free(resp);
		return uc_fail(UC_ERR_ARG, "sip: transaction already answered"
		    " (%d), or bad status %d", st->code, code);
	}
	s = msg_text(resp, &len);
	msg_free_wipe(resp);
	if (st->resp != NULL)
		OPENSSL_cleanse(st->resp, st->resplen);
	free(st->resp);
	st->resp = NULL;
	if (s != NULL && (st->resp = malloc(len)) != NULL) {
		memcpy(st->resp, s, len);
		st->resplen = len;
	}
	st->code = code;
	r = s != NULL ? tp_send(st->ccm, &st->reply_to, s, len) :
	    uc_fail(UC_ERR_ALLOC, "sip: cannot build a response");
	if (s != NULL)
		text_free_wipe(s, len);
	if (code >= 200) {
		st->final = 1;
		st->owned = 0;		/* the owner's pointer ends here */
		st_creds_free(st);
		st->final_ms = now_ms();
		if (st->invite && !st->dead)
			st_final_invite(st);
		st_release(st);
	}
	return r;
}

/* Build and send in one, no extra headers. */
int
sip_reply(struct sip_strans *st, int code, const char *reason)
{
	osip_message_t	*r;

	if ((r = sip_resp_new(st, code, reason)) == NULL)
		return uc_fail(UC_ERR_ALLOC, "sip: cannot build a %d", code);
	return sip_resp_send(st, r);
}

osip_message_t *
sip_strans_req(struct sip_strans *st)
{
	return st != NULL ? st->req : NULL;
}

const char *
sip_strans_totag(struct sip_strans *st)
{
	return st != NULL ? st->totag : NULL;
}

/* The last status sent on st (0 if none). */
int
sip_strans_code(struct sip_strans *st)
{
	return st != NULL ? st->code : 0;
}

/* Raw Authorization value i of the request (auth.c); its length or 0. */
size_t
sip_strans_creds(struct sip_strans *st, size_t i, const char **val)
{
	if (st == NULL || i >= st->ncreds) {
		*val = NULL;
		return 0;
	}
	*val = st->creds[i];
	return strlen(st->creds[i]);
}

/* Keep the authenticated user with the transaction; a stable copy. */
const char *
sip_strans_set_user(struct sip_strans *st, const char *user)
{
	if (st == NULL || user == NULL)
		return NULL;
	snprintf(st->user, sizeof(st->user), "%s", user);
	return st->user;
}

void
sip_strans_on_cancel(struct sip_strans *st, void (*cb)(void *), void *arg)
{
	if (st == NULL)
		return;
	st->cancel_cb = cb;
	st->cancel_arg = arg;
}

/*
 * The owner is done with st: no more callbacks.  A request it left
 * unanswered gets a 500.
 */
void
sip_strans_detach(struct sip_strans *st)
{
	if (st == NULL)
		return;
	st->cancel_cb = NULL;
	st->cancel_arg = NULL;
	st->owned = 0;
	st_release(st);		/* may answer 500 and free st */
}

/* ---- server transactions ------------------------------------------ */

/* The Authorization values are wiped once nobody needs them. */
static void
st_creds_free(struct sip_strans *st)
{
	size_t	 i;

	for (i = 0; i < st->ncreds; i++) {
		OPENSSL_cleanse(st->creds[i], strlen(st->creds[i]));
		free(st->creds[i]);
		st->creds[i] = NULL;
	}
	st->ncreds = 0;
}

static void
st_free(struct sip_strans *st)
{
	struct sip_state	*ss = st->ccm->sip;

	htab_del(&ss->st_tab, &st->node);
	htab_del(&ss->st_acc, &st->acc);
	TAILQ_REMOVE(&ss->strans, st, entry);
	if (st->in_done)
		TAILQ_REMOVE(&ss->done, st, dentry);
	if (st->ce != NULL) {
		TAILQ_REMOVE(&st->ce->st, st, centry);
		ce_put(ss, st->ce);
	}
	if (st->tmr != NULL)
		event_free(st->tmr);
	st_creds_free(st);
	msg_free_wipe(st->req);
	if (st->resp != NULL)
		OPENSSL_cleanse(st->resp, st->resplen);
	free(st->resp);
	free(st->acckey);
	ss->nst--;
	free(st);
}

/*
 * Free st once nobody holds it: at once on streams (unless an INVITE
 * error still waits for its ACK), after 64*T1 over UDP so that
 * retransmissions are absorbed.
 */
static void
st_release(struct sip_strans *st)
{
	struct sip_state	*ss = st->ccm->sip;
	osip_message_t		*r;
	int64_t			 now = now_ms();
	int			 linger;

	if (st->owned || st->dispatching)
		return;
	if (!st->final) {
		/* left unanswered: sip_resp_send comes back here */
		if ((r = sip_resp_new(st, 500, "Server Internal Error")) !=
		    NULL) {
			sip_resp_send(st, r);
			return;
		}
		st->final = 1;
		st->final_ms = now;
	}
	osip_message_free(st->req);
	st->req = NULL;
	linger = !st->dead && (!st->stream || (st->invite &&
	    st->code >= 300 && !st->acked));
	if (!linger || now - st->final_ms >= SIP_TMO_MS ||
	    ss->sweep == NULL) {
		st_free(st);
		return;
	}
	if (!st->in_done) {
		st->until_ms = st->final_ms + SIP_TMO_MS;
		TAILQ_INSERT_TAIL(&ss->done, st, dentry);
		st->in_done = 1;
	}
}

/* Room for one more transaction: evict the oldest finished one. */
static int
trans_room(struct sip_state *ss)
{
	struct sip_strans	*st;

	if (ss->nst + ss->nct < SIP_TRANS_MAX)
		return 1;
	if ((st = TAILQ_FIRST(&ss->done)) != NULL) {
		st_free(st);
		return 1;
	}
	return 0;
}

/* Keep up to SIP_CRED_MAX Authorization values, unfolded, bounded. */
static int
cred_is(const uint8_t *name, size_t n)
{
	static const char	 a[] = "Authorization";

	return n == sizeof(a) - 1 && strncasecmp((const char *)name, a, n) == 0;
}

/* The value collected in tmp as st's next credential: exactly its
   length (tmp is wiped by the caller). */
static void
cred_keep(struct sip_strans *st, const char *tmp, size_t vlen)
{
	char	*v;

	if (memchr(tmp, '\0', vlen) != NULL || st->ncreds >= SIP_CRED_MAX ||
	    (v = malloc(vlen + 1)) == NULL)
		return;		/* a NUL in a header, or no room */
	memcpy(v, tmp, vlen);
	v[vlen] = '\0';
	st->creds[st->ncreds++] = v;
}

/*
 * Read the raw header block (after the start line) through a cursor and
 * copy the Authorization values, continuation lines joined by a space,
 * each cut at SIP_CRED_LEN - 1 bytes and kept in exactly its length
 * until the final response.  osip keeps only what it understands of
 * them, so digest parsing (lib/digest) gets the bytes as sent.
 */
static void
creds_extract(struct sip_strans *st, const char *buf, size_t len)
{
	struct cursor	 c;
	const uint8_t	*line;
	char		 tmp[SIP_CRED_LEN];
	size_t		 ll, i, nlen, vlen = 0;
	int		 in_cred = 0;

	cur_init(&c, (const uint8_t *)buf, len);
	for (;;) {
		/* one physical line, without its LF / CRLF */
		line = (const uint8_t *)buf + cur_offset(&c);
		for (ll = 0; cur_left(&c) > 0 && cur_peek_u8(&c) != '\n'; ll++)
			(void)cur_u8(&c);
		if (cur_left(&c) == 0)
			break;
		(void)cur_u8(&c);
		if (ll > 0 && line[ll - 1] == '\r')
			ll--;
		if (ll == 0)
			break;		/* end of headers */
		if (line[0] == ' ' || line[0] == '\t') {
			for (i = 0; in_cred && i < ll && vlen + 1 <
			    sizeof(tmp); i++)
				tmp[vlen++] = i == 0 ? ' ' : (char)line[i];
			continue;
		}
		if (in_cred)
			cred_keep(st, tmp, vlen);
		in_cred = 0;
		for (nlen = 0; nlen < ll && line[nlen] != ':'; nlen++)
			;
		if (nlen == ll)
			continue;
		i = nlen + 1;
		while (nlen > 0 && (line[nlen - 1] == ' ' ||
		    line[nlen - 1] == '\t'))
			nlen--;
		if (!cred_is(line, nlen) || st->ncreds >= SIP_CRED_MAX)
			continue;
		while (i < ll && (line[i] == ' ' || line[i] == '\t'))
			i++;
		vlen = ll - i < sizeof(tmp) - 1 ? ll - i : sizeof(tmp) - 1;
		memcpy(tmp, line + i, vlen);
		in_cred = 1;
	}
	if (in_cred)
		cred_keep(st, tmp, vlen);
	OPENSSL_cleanse(tmp, sizeof(tmp));
}

/* Key of a server transaction: branch, method (ACK as INVITE), source. */
static int
st_key(const char *branch, const char *method, const struct tp_peer *src,
    char *key, size_t *klen)
{
	char	 pk[80];
	size_t	 bl = strlen(branch), ml;

	if (strcmp(method, "ACK") == 0)
		method = "INVITE";
	ml = strlen(method);
	if (peer_key(src, pk, sizeof(pk)) != 0 ||
	    bl + ml + strlen(pk) + 2 > SIP_KEY_MAX)
		return UC_ERR_TRUNCATED;
	memcpy(key, branch, bl);
	key[bl] = '\n';
	memcpy(key + bl + 1, method, ml);
	key[bl + 1 + ml] = '\n';
	memcpy(key + bl + ml + 2, pk, strlen(pk));
	*klen = bl + ml + 2 + strlen(pk);
	return 0;
}

static struct sip_strans *
st_new(struct ccm *ccm, osip_message_t *m, const struct tp_info *src,
    const char *key, size_t klen, const char *buf, size_t len)
{
	struct sip_state	*ss = ccm->sip;
	struct sip_strans	*st;
	osip_generic_param_t	*tag = NULL;

	if ((st = calloc(1, sizeof(*st))) == NULL)
		return NULL;
	st->ccm = ccm;
	memcpy(st->key, key, klen);
	st->klen = klen;
	st->req = m;
	st->src = *src;
	st->stream = src->peer.kind != TP_UDP;
	st->invite = strcmp(m->sip_method, "INVITE") == 0;
	reply_peer(m, src, &st->reply_to);
	if (m->to != NULL && osip_to_get_tag(m->to, &tag) == 0 &&
	    tag != NULL && tag->gvalue != NULL)
		snprintf(st->totag, sizeof(st->totag), "%s", tag->gvalue);
	else
		sip_token(st->totag, 17);
	creds_extract(st, buf, len);
	htab_put(&ss->st_tab, &st->node, st->key, st->klen, st);
	TAILQ_INSERT_TAIL(&ss->strans, st, entry);
	if (st->stream && (st->ce = ce_get(ss, src->peer.conn)) != NULL)
		TAILQ_INSERT_TAIL(&st->ce->st, st, centry);
	ss->nst++;
	return st;
}

/* ---- request checks ----------------------------------------------- */

/* received= and rport= on the top Via (RFC 3261 18.2.1, RFC 3581). */
static void
via_fix(osip_via_t *via, const struct tp_info *src)
{
	osip_generic_param_t	*rp = NULL, *rc = NULL;
	char			 host[INET6_ADDRSTRLEN], pbuf[8], vh[80];
	const char		*h;
	size_t			 n;
	int			 port;

	if (addr_text(&src->peer.addr, host, sizeof(host), &port) != 0)
		return;
	(void)osip_via_param_get_byname(via, "rport", &rp);
	(void)osip_via_param_get_byname(via, "received", &rc);
	vh[0] = '\0';
	if ((h = via_get_host(via)) != NULL) {
		if (*h == '[')
			h++;
		snprintf(vh, sizeof(vh), "%s", h);
		n = strlen(vh);
		if (n > 0 && vh[n - 1] == ']')
			vh[n - 1] = '\0';
	}
	if (rp != NULL || strcasecmp(vh, host) != 0) {
		if (rc != NULL) {
			osip_free(rc->gvalue);
			rc->gvalue = osip_strdup(host);
		} else
			osip_via_set_received(via, osip_strdup(host));
	}
	if (rp != NULL) {
		snprintf(pbuf, sizeof(pbuf), "%d", port);
		osip_free(rp->gvalue);
		rp->gvalue = osip_strdup(pbuf);
	}
}

/* Offset of the body (after the empty line), or len if none. */
static size_t
body_offset(const char *buf, size_t len)
{
	size_t	 i;

	for (i = 0; i + 1 < len; i++) {
		if (buf[i] != '\n')
			continue;
		if (buf[i + 1] == '\n')
			return i + 2;
		if (i + 2 < len && buf[i + 1] == '\r' && buf[i + 2] == '\n')
			return i + 3;
	}
	return len;
}

/*
 * RFC 3261 8.2 / 16.3 checks on a request with a transaction: 0 when
 * it may go on, else the response was sent.
 */
static int
req_checks(struct sip_strans *st, const osip_message_t *m,
    const struct tp_info *src, const char *buf, size_t len)
{
	osip_header_t	*mf = NULL;
	const char	*scheme;
	long		 cl, v;

	if (m->sip_version == NULL || strcmp(m->sip_version, "SIP/2.0") != 0)
		return sip_reply(st, 505, "Version Not Supported"), 1;
	if (m->from == NULL || m->to == NULL || m->call_id == NULL ||
	    m->cseq == NULL || m->cseq->method == NULL ||
	    m->from->url == NULL || m->to->url == NULL)
		return sip_reply(st, 400, "Missing Mandatory Header"), 1;
	if (strcmp(m->cseq->method, m->sip_method) != 0)
		return sip_reply(st, 400, "CSeq Method Mismatch"), 1;
	if (num_parse(m->cseq->number, 2147483647L) < 0)
		return sip_reply(st, 400, "Bad CSeq"), 1;
	if (m->req_uri == NULL || (scheme = m->req_uri->scheme) == NULL ||
	    (strcasecmp(scheme, "sip") != 0 &&
	    strcasecmp(scheme, "sips") != 0 && strcasecmp(scheme, "tel") != 0))
		return sip_reply(st, 416, "Unsupported URI Scheme"), 1;
	if (osip_message_get_max_forwards(m, 0, &mf) >= 0 && mf != NULL) {
		if ((v = num_parse(mf->hvalue, 255)) < 0)
			return sip_reply(st, 400, "Bad Max-Forwards"), 1;
		if (v == 0 && strcmp(m->sip_method, "OPTIONS") != 0)
			return sip_reply(st, 483, "Too Many Hops"), 1;
	}
	if (src->peer.kind == TP_UDP && m->content_length != NULL) {
		cl = num_parse(m->content_length->value, CCM_MSG_MAX);
		if (cl < 0 || (size_t)cl > len - body_offset(buf, len))
			return sip_reply(st, 400, "Bad Content-Length"), 1;
	}
	return 0;
}

/* ---- dispatch ----------------------------------------------------- */

static int
is_method(const osip_message_t *m, const char *name)
{
	return m->sip_method != NULL && strcmp(m->sip_method, name) == 0;
}

/* 200 to an out-of-dialog OPTIONS (keepalive / capability query). */
static void
options_reply(struct sip_strans *st)
{
	osip_message_t	*r;

	if ((r = sip_resp_new(st, 200, "OK")) == NULL)
		return;
	osip_message_set_header(r, "Allow", SIP_ALLOW);
	osip_message_set_header(r, "Accept", "application/sdp");
	osip_message_set_header(r, "Supported",
	    "replaces, X-cisco-srtp-fallback");
	sip_resp_send(st, r);
}

static int
nonce_validity(struct ccm *ccm, const struct trunk *t)
{
	int	 v = 0;

	if (t != NULL)
		v = trunk_nonce_validity(t);
	if (v <= 0 && ccm->cfg != NULL)
		v = ccm->cfg->nonce_validity;
	return v > 0 ? v : CCM_NONCE_VALIDITY_DEF;
}

static const char *
realm_of(struct ccm *ccm)
{
	return ccm->cfg != NULL && ccm->cfg->realm != NULL ?
	    ccm->cfg->realm : CCM_REALM_DEF;
}

/*
 * Digest through auth.c, challenging with algs (the device's or the
 * trunk's list; "" or NULL: the configuration's): 0 go on (auth_user
 * set), 1 answered.
 */
static int
policy_digest(struct sip_req *req, const char *expect_user, const char *algs)
{
	const char	*user = NULL;
	int		 r;

	snprintf(req->digest_algs, sizeof(req->digest_algs), "%s",
	    algs != NULL ? algs : "");
	r = auth_server_check(req, realm_of(req->ccm),
	    nonce_validity(req->ccm, req->trunk), &user);
	if (r < 0) {
		log_warnx("sip: digest check for a request from %s: %s",
		    req->src.peer_text, uc_errdetail());
		sip_reply(req->st, 500, "Server Internal Error");
		return 1;
	}
	if (r != 0)
		return 1;
	if (expect_user != NULL && (user == NULL ||
	    strcmp(user, expect_user) != 0)) {
		sip_reply(req->st, 403, "Digest User Not Allowed For Device");
		return 1;
	}
	req->auth_user = user;
	return 0;
}

/*
 * Who may send what (brief: digest policy decided here): 0 dispatch to
 * the core, 1 answered.  REGISTER goes to the registrar, which runs the
 * digest itself (the device is found from the To extension).
 */
static int
policy(struct sip_req *req)
{
	struct ccm		*ccm = req->ccm;
	const osip_message_t	*m = req->msg;
	const struct binding	*b;
	const struct store_trunk *row;
	int			 ack = is_method(m, "ACK");
	int			 options = is_method(m, "OPTIONS");
	int			 challenge;

	if (req->trunk != NULL) {
		if (is_method(m, "REGISTER")) {
			sip_reply(req->st, 403, "REGISTER Not Accepted From "
			    "A Trunk");
			return 1;
		}
		row = trunk_row(req->trunk);
		if (!ack && trunk_digest(req->trunk) && policy_digest(req,
		    NULL, row != NULL ? row->digest_algs : NULL) != 0)
			return 1;
		if (options && !req->in_dialog) {
			options_reply(req->st);
			return 1;
		}
		return 0;
	}
	if (is_method(m, "REGISTER")) {
		registrar_register(req);
		return 1;
	}
	b = registrar_by_source(ccm, &req->src.peer,
	    m->from != NULL && m->from->url != NULL ?
	    m->from->url->username : NULL);
	if (options && !req->in_dialog && osip_list_size(&m->authorizations)
	    == 0 && (req->st == NULL || req->st->ncreds == 0)) {
		options_reply(req->st);		/* keepalive */
		return 1;
	}
	if (b == NULL) {
		/* in a dialog: b2bua knows the leg (its binding may have
		   expired or moved meanwhile) */
		if (req->in_dialog)
			return 0;
		if (ack) {
			log_debug("sip: ACK from unregistered %s dropped",
			    req->src.peer_text);
			return 1;
		}
		sip_reply(req->st, 403, "Not registered");
		return 1;
	}
	challenge = !ack && b->user[0] != '\0' && (!req->in_dialog ||
	    (ccm->cfg != NULL && ccm->cfg->challenge_in_dialog));
	if (challenge && policy_digest(req, b->user, b->digest_algs) != 0)
		return 1;
	if (options && !req->in_dialog) {
		options_reply(req->st);
		return 1;
	}
	return 0;
}

static void
dispatch(struct sip_req *req)
{
	struct sip_strans	*st = req->st;

	req->trunk = trunk_match(req->ccm, &req->src);
	if (st != NULL) {
		st->owned = 1;
		st->dispatching = 1;
		/* error finals are retransmitted only to known peers */
		st->known = req->trunk != NULL ||
		    registrar_by_peer(req->ccm, &req->src.peer) != NULL;
	}
	if (policy(req) == 0)
		b2bua_request(req);
	if (st == NULL)
		return;
	st->dispatching = 0;
	if (st->final)
		st->owned = 0;		/* answered before returning */
	st_release(st);
}

/* ACK: absorbed by a non-2xx INVITE transaction, else to the core. */
static void
ack_input(struct ccm *ccm, osip_message_t *m, const struct tp_info *src,
    const char *key, size_t klen)
{
	struct sip_state	*ss = ccm->sip;
	struct sip_strans	*st;
	struct sip_req		 req;
	char			*ak;
	size_t			 aklen;

	if ((st = htab_get(&ss->st_tab, key, klen)) != NULL && st->final &&
	    st->code >= 300) {
		st->acked = 1;
		if (st->tmr != NULL)
			evtimer_del(st->tmr);
		if (!st->owned && !st->dispatching && st->stream)
			st_free(st);
		osip_message_free(m);
		return;
	}
	if ((ak = acc_key(m, &aklen)) != NULL) {
		if ((st = htab_get(&ss->st_acc, ak, aklen)) != NULL) {
			st->acked = 1;
			if (st->tmr != NULL)
				evtimer_del(st->tmr);
			htab_del(&ss->st_acc, &st->acc);
		}
		free(ak);
	}
	memset(&req, 0, sizeof(req));
	req.ccm = ccm;
	req.msg = m;
	req.src = *src;
	req.in_dialog = has_tag(m->to);
	dispatch(&req);
	osip_message_free(m);
}

/* CANCEL: 200 and the INVITE's owner told, or 481 (RFC 3261 9.2). */
static void
cancel_input(struct ccm *ccm, struct sip_strans *cst, const struct tp_info *src)
{
	struct sip_state	*ss = ccm->sip;
	struct sip_strans	*inv;
	const char		*branch = via_branch(top_via(cst->req));
	char			 key[SIP_KEY_MAX];
	size_t			 klen;

	if (branch == NULL ||
	    st_key(branch, "INVITE", &src->peer, key, &klen) != 0 ||
	    (inv = htab_get(&ss->st_tab, key, klen)) == NULL || inv->dead) {
		sip_reply(cst, 481, "Call/Transaction Does Not Exist");
		return;
	}
	/* the same To tag as the INVITE's answer (RFC 3261 9.2) */
	memcpy(cst->totag, inv->totag, sizeof(cst->totag));
	sip_reply(cst, 200, "OK");
	if (inv->final)
		return;
	if (inv->cancel_cb != NULL && inv->owned) {
		inv->dispatching = 1;
		inv->cancel_cb(inv->cancel_arg);
		if (!inv->final && !inv->owned)
			sip_reply(inv, 487, "Request Terminated");
		inv->dispatching = 0;
		st_release(inv);
	} else if (!inv->owned)
		sip_reply(inv, 487, "Request Terminated");
	/* else its owner answers it (e.g. a re-INVITE) */
}

static void
response_input(struct ccm *, osip_message_t *, const struct tp_info *);

static void
request_input(struct ccm *ccm, osip_message_t *m, const struct tp_info *src,
    const char *buf, size_t len)
{
	struct sip_state	*ss = ccm->sip;
	struct sip_strans	*st;
	struct sip_req		 req;
	osip_via_t		*via = top_via(m);
	const char		*branch = via_branch(via);
	char			 key[SIP_KEY_MAX];
	size_t			 klen;

	if (via == NULL) {
		log_debug("sip: request without Via from %s dropped",
		    src->peer_text);
		osip_message_free(m);
		return;
	}
	via_fix(via, src);
	if (branch == NULL || strlen(branch) > SIP_BRANCH_MAX ||
	    st_key(branch, m->sip_method, &src->peer, key, &klen) != 0) {
		if (!is_method(m, "ACK"))
			reply_stateless(ccm, m, src, 400, "Bad Via Branch");
		osip_message_free(m);
		return;
	}
	if (is_method(m, "ACK")) {
		ack_input(ccm, m, src, key, klen);
		return;
	}
	if ((st = htab_get(&ss->st_tab, key, klen)) != NULL) {
		/* a retransmission: the last answer again over UDP */
		if (!st->stream && st->resp != NULL)
			tp_send(ccm, &st->reply_to, st->resp, st->resplen);
		osip_message_free(m);
		return;
	}
	if (!trans_room(ss)) {
		if (ss->refused++ % 1000 == 0)
			log_warnx("sip: %zu transactions: refusing requests "
			    "with 503", ss->nst + ss->nct);
		reply_stateless(ccm, m, src, 503, "Service Unavailable");
		osip_message_free(m);
		return;
	}
	if ((st = st_new(ccm, m, src, key, klen, buf, len)) == NULL) {
		reply_stateless(ccm, m, src, 500, "Server Internal Error");
		osip_message_free(m);
		return;
	}
	st->dispatching = 1;
	if (req_checks(st, m, src, buf, len) != 0) {
		st->dispatching = 0;
		st_release(st);
		return;
	}
	if (is_method(m, "CANCEL")) {
		cancel_input(ccm, st, src);
		st->dispatching = 0;
		st_release(st);
		return;
	}
	st->dispatching = 0;
	memset(&req, 0, sizeof(req));
	req.ccm = ccm;
	req.msg = m;
	req.src = *src;
	req.st = st;
	req.in_dialog = has_tag(m->to);
	dispatch(&req);
}

/* ---- requests libosip2 refuses ----------------------------------- */

enum { RAW_FROM, RAW_TO, RAW_CALLID, RAW_CSEQ, RAW__MAX };

/* The header lines a 400 needs, pointing into the request. */
struct raw_req {
	const uint8_t	*via[SIP_RAW_VIAS];
	size_t		 vialen[SIP_RAW_VIAS];
	size_t		 nvia;
	const uint8_t	*h[RAW__MAX];
	size_t		 hlen[RAW__MAX];
};

/* The next line through the cursor, without its LF or CRLF; 0 at the
   end (a last line without LF is not a line). */
static int
raw_line(struct cursor *c, const uint8_t *base, const uint8_t **line,
    size_t *len)
{
	const uint8_t	*p = base + cur_offset(c), *lf;
	size_t		 n;

	if (cur_left(c) == 0 || (lf = memchr(p, '\n', cur_left(c))) == NULL)
		return 0;
	n = (size_t)(lf - p);
	if ((*line = cur_bytes(c, n + 1)) == NULL)
		return 0;
	*len = n > 0 && p[n - 1] == '\r' ? n - 1 : n;
	return 1;
}

static int
raw_name_is(const uint8_t *p, size_t n, const char *full, const char *compact)
{
	return (n == strlen(full) && strncasecmp((const char *)p, full, n) == 0)
	    || (compact != NULL && n == 1 && (p[0] | 0x20) == compact[0]);
}

/* Which of the wanted headers a name is: RAW_*, RAW__MAX for Via, -1. */
static int
raw_which(const uint8_t *p, size_t n)
{
	if (raw_name_is(p, n, "Via", "v"))
		return RAW__MAX;
	if (raw_name_is(p, n, "From", "f"))
		return RAW_FROM;
	if (raw_name_is(p, n, "To", "t"))
		return RAW_TO;
	if (raw_name_is(p, n, "Call-ID", "i"))
		return RAW_CALLID;
	if (raw_name_is(p, n, "CSeq", NULL))
		return RAW_CSEQ;
	return -1;
}

/*
 * The start line is a request's ("METHOD uri SIP/2.0"), not an ACK's:
 * 1, else 0.
 */
static int
raw_request_line(const uint8_t *p, size_t n)
{
	size_t	 i;

	for (i = 0; i < n && (isalnum(p[i]) || strchr("-.!%*_+`'~", p[i]) !=
	    NULL); i++)
		;
	if (i == 0 || i == n || p[i] != ' ' || (i == 3 &&
	    memcmp(p, "ACK", 3) == 0))
		return 0;
	return n > i + 8 && strncasecmp((const char *)p + n - 8, " SIP/2.0",
	    8) == 0;
}

/*
 * The Via, From, To, Call-ID and CSeq lines of buf (values trimmed,
 * no control bytes, no folding, each under SIP_RAW_LINE bytes), and
 * the CSeq not an ACK's.  0, or -1 when a 400 cannot be built.
 */
static int
raw_parse(const char *buf, size_t len, struct raw_req *rr)
{
	struct cursor	 c;
	const uint8_t	*base = (const uint8_t *)buf, *l, *v;
	size_t		 ll, i, n, vl;
	int		 w, last = -1;

	memset(rr, 0, sizeof(*rr));
	cur_init(&c, base, len);
	if (!raw_line(&c, base, &l, &ll) || !raw_request_line(l, ll))
		return -1;
	while (raw_line(&c, base, &l, &ll) && ll > 0) {
		if (l[0] == ' ' || l[0] == '\t') {
			if (last >= 0)
				return -1;	/* folded: not ours to join */
			continue;
		}
		last = -1;
		for (n = 0; n < ll && l[n] != ':'; n++)
			;
		for (i = n; i > 0 && (l[i - 1] == ' ' || l[i - 1] == '\t'); i--)
			;
		if (n == ll || (last = w = raw_which(l, i)) < 0)
			continue;
		for (v = l + n + 1, vl = ll - n - 1; vl > 0 && (*v == ' ' ||
		    *v == '\t'); v++, vl--)
			;
		while (vl > 0 && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
			vl--;
		for (i = 0; i < vl; i++)
			if ((v[i] < 0x20 && v[i] != '\t') || v[i] == 0x7f)
				return -1;
		if (vl == 0 || vl >= SIP_RAW_LINE)
			return -1;
		if (w == RAW__MAX) {
			if (rr->nvia == SIP_RAW_VIAS)
				return -1;
			rr->via[rr->nvia] = v;
			rr->vialen[rr->nvia++] = vl;
		} else if (rr->h[w] == NULL) {
			rr->h[w] = v;
			rr->hlen[w] = vl;
		}
	}
	for (i = 0; i < RAW__MAX; i++)
		if (rr->h[i] == NULL)
			return -1;
	v = rr->h[RAW_CSEQ];
	vl = rr->hlen[RAW_CSEQ];
	if (rr->nvia == 0 || (vl >= 3 && strncasecmp((const char *)v + vl - 3,
	    "ACK", 3) == 0 && (vl == 3 || v[vl - 4] == ' ' ||
	    v[vl - 4] == '\t')))
		return -1;
	return 0;
}

/* Whether a To value carries a tag (after the name-addr, if any). */
static int
raw_has_tag(const uint8_t *v, size_t n)
{
	const uint8_t	*gt;
	size_t		 i;

	if (memchr(v, '<', n) != NULL) {
		if ((gt = memchr(v, '>', n)) == NULL)
			return 0;
		n -= (size_t)(gt - v);
		v = gt;
	}
	for (i = 0; i + 5 <= n; i++)
		if (v[i] == ';' && strncasecmp((const char *)v + i + 1, "tag=",
		    4) == 0)
			return 1;
	return 0;
}

/* printf to out + *o, never past sz; a cut text fails later. */
static void __attribute__((format(printf, 4, 5)))
raw_put(char *out, size_t sz, size_t *o, const char *fmt, ...)
{
	va_list	 ap;
	int	 n;

	if (*o >= sz)
		return;
	va_start(ap, fmt);
	n = vsnprintf(out + *o, sz - *o, fmt, ap);
	va_end(ap);
	*o = n < 0 ? sz : *o + (size_t)n;
}

/* Where the 400 goes: as for any response, by the top Via if osip
   reads that alone, else the source address and port. */
static void
raw_dest(const struct raw_req *rr, const struct tp_info *src,
    struct tp_peer *to)
{
	osip_via_t	*via = NULL;
	char		*s;

	*to = src->peer;
	if (src->peer.kind != TP_UDP ||
	    (s = strndup((const char *)rr->via[0], rr->vialen[0])) == NULL)
		return;
	if (osip_via_init(&via) == 0 && osip_via_parse(via, s) == 0)
		reply_peer_via(via, src, to);
	osip_via_free(via);
	free(s);
}

/*
 * A request libosip2 cannot parse still gets a 400 (RFC 3261 8.2: the
 * UAS answers what it can), built from its own Via, From, To, Call-ID
 * and CSeq lines; nothing when those cannot be found, for ACK, and for
 * anything that is not a request.
 */
static void
raw_bad_request(struct ccm *ccm, const char *buf, size_t len,
    const struct tp_info *src)
{
	static const char *const names[RAW__MAX] = {
		"From", "To", "Call-ID", "CSeq"
	};
	struct raw_req	 rr;
	struct tp_peer	 to;
	char		*out, tag[17];
	size_t		 i, sz = 128, o;

	if (raw_parse(buf, len, &rr) != 0)
		return;
	for (i = 0; i < rr.nvia; i++)
		sz += rr.vialen[i] + 8;
	for (i = 0; i < RAW__MAX; i++)
		sz += rr.hlen[i] + 48;
	if ((out = malloc(sz)) == NULL)
		return;
	o = 0;
	raw_put(out, sz, &o, "SIP/2.0 400 Bad Request\r\n");
	for (i = 0; i < rr.nvia; i++)
		raw_put(out, sz, &o, "Via: %.*s\r\n", (int)rr.vialen[i],
		    (const char *)rr.via[i]);
	for (i = 0; i < RAW__MAX; i++) {
		raw_put(out, sz, &o, "%s: %.*s", names[i], (int)rr.hlen[i],
		    (const char *)rr.h[i]);
		if (i == RAW_TO && !raw_has_tag(rr.h[i], rr.hlen[i])) {
			sip_token(tag, sizeof(tag));
			raw_put(out, sz, &o, ";tag=%s", tag);
		}
		raw_put(out, sz, &o, "\r\n");
	}
	raw_put(out, sz, &o, "Content-Length: 0\r\n\r\n");
	raw_dest(&rr, src, &to);
	if (o < sz && tp_send(ccm, &to, out, o) == 0)
		log_debug("sip: unparsable request from %s: 400 sent",
		    src->peer_text);
	free(out);
}

/*
 * One message from the transport (buf not kept).  A request that does
 * not parse gets a 400 built from its raw lines when it can; anything
 * else that does not parse, or lacks what a response needs, is dropped
 * with a debug line; requests failing RFC 3261 checks are answered.
 */
void
sip_input(struct ccm *ccm, const char *buf, size_t len,
    const struct tp_info *src)
{
	osip_message_t	*m = NULL;

	if (sip_state_get(ccm) == NULL || buf == NULL || len == 0 ||
	    len > CCM_MSG_MAX)
		return;
	if (osip_message_init(&m) != 0)
		return;
	if (osip_message_parse(m, buf, len) != 0 ||
	    (m->sip_method == NULL && m->status_code == 0)) {
		log_debug("sip: unparsable message (%zu bytes) from %s",
		    len, src->peer_text);
		osip_message_free(m);
		raw_bad_request(ccm, buf, len, src);
		return;
	}
	if (m->sip_method == NULL)
		response_input(ccm, m, src);
	else
		request_input(ccm, m, src, buf, len);
}

/* ---- client transactions ------------------------------------------ */

static void
ct_send(struct sip_ctrans *ct, const char *s, size_t len)
{
	if (s != NULL && tp_send(ct->ccm, &ct->dest, s, len) != 0)
		log_debug("sip: send to a client transaction peer failed: %s",
		    uc_errdetail());
}

static void
ct_free(struct sip_ctrans *ct)
{
	struct sip_state	*ss = ct->ccm->sip;

	htab_del(&ss->ct_tab, &ct->node);
	htab_del(&ss->ct_acc, &ct->acc);
	TAILQ_REMOVE(&ss->ctrans, ct, entry);
	if (ct->ce != NULL) {
		TAILQ_REMOVE(&ct->ce->ct, ct, centry);
		ce_put(ss, ct->ce);
	}
	if (ct->retx != NULL)
		event_free(ct->retx);
	if (ct->tmo != NULL)
		event_free(ct->tmo);
	msg_free_wipe(ct->req);
	text_free_wipe(ct->text, ct->textlen);
	free(ct->ack);
	free(ct->acckey);
	ss->nct--;
	free(ct);
}

static void
tmr_rearm(struct event *ev, int ms)
{
	if (ev != NULL) {
		evtimer_del(ev);
		tmr_add(ev, ms);
	}
}

static void
ct_deliver(struct sip_ctrans *ct, osip_message_t *resp,
    const struct tp_info *ti)
{
	sip_resp_cb	 cb = ct->cb;

	if (cb != NULL)
		cb(ct->arg, ct, resp, ti);
}

/* Timers B / F (and the linger after a final): end the transaction. */
static void
ct_tmo_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sip_ctrans	*ct = arg;

	(void)fd;
	(void)what;
	if (ct->state == CT_CALLING || ct->state == CT_PROCEEDING) {
		ct->timed_out = 1;
		if (ct->retx != NULL)
			evtimer_del(ct->retx);
		ct_deliver(ct, NULL, NULL);	/* 408 */
	}
	ct_free(ct);
}

/* Timers A / E: retransmit over UDP. */
static void
ct_retx_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sip_ctrans	*ct = arg;

	(void)fd;
	(void)what;
	if (ct->state != CT_CALLING && (ct->invite ||
	    ct->state != CT_PROCEEDING))
		return;
	ct_send(ct, ct->text, ct->textlen);
	if (ct->invite)
		ct->retx_ms *= 2;
	else if (ct->state == CT_PROCEEDING)
		ct->retx_ms = SIP_T2_MS;
	else
		ct->retx_ms = ct->retx_ms * 2 > SIP_T2_MS ? SIP_T2_MS :
		    ct->retx_ms * 2;
	tmr_add(ct->retx, ct->retx_ms);
}

/* Copy of one header list (Via, Route) from src to dst. */
static int
copy_vias(const osip_list_t *src, osip_list_t *dst, int only_top)
{
	osip_via_t	*v, *c;
	int		 i;

	for (i = 0; (v = osip_list_get(src, i)) != NULL; i++) {
		if (osip_via_clone(v, &c) != 0)
			return UC_ERR_ALLOC;
		osip_list_add(dst, c, -1);
		if (only_top)
			break;
	}
	return 0;
}

static int
copy_routes(const osip_list_t *src, osip_list_t *dst)
{
	osip_route_t	*r, *c;
	int		 i;

	for (i = 0; (r = osip_list_get(src, i)) != NULL; i++) {
		if (osip_route_clone(r, &c) != 0)
			return UC_ERR_ALLOC;
		osip_list_add(dst, c, -1);
	}
	return 0;
}

/*
 * ACK or CANCEL for our INVITE (RFC 3261 17.1.1.3, 9.1): same
 * Request-URI, top Via, From, Call-ID, CSeq number and Route; To from
 * the response (ACK) or the request (CANCEL).
 */
static osip_message_t *
ct_build(const osip_message_t *inv, const osip_message_t *resp,
    const char *method)
{
	osip_message_t	*m = NULL;
	const osip_to_t	*to = resp != NULL ? resp->to : inv->to;

	if (osip_message_init(&m) != 0)
		return NULL;
	osip_message_set_method(m, osip_strdup(method));
	osip_message_set_version(m, osip_strdup("SIP/2.0"));
	if (inv->req_uri == NULL ||
	    osip_uri_clone(inv->req_uri, &m->req_uri) != 0 ||
	    copy_vias(&inv->vias, &m->vias, 1) != 0 ||
	    inv->from == NULL || osip_from_clone(inv->from, &m->from) != 0 ||
	    to == NULL || osip_to_clone(to, &m->to) != 0 ||
	    inv->call_id == NULL ||
	    osip_call_id_clone(inv->call_id, &m->call_id) != 0 ||
	    inv->cseq == NULL || osip_cseq_init(&m->cseq) != 0 ||
	    copy_routes(&inv->routes, &m->routes) != 0)
		goto fail;
	osip_cseq_set_number(m->cseq, osip_strdup(inv->cseq->number));
	osip_cseq_set_method(m->cseq, osip_strdup(method));
	osip_message_set_max_forwards(m, "70");
	return m;
 fail:
	osip_message_free(m);
	return NULL;
}

static int	ct_start(struct ccm *, osip_message_t *, const struct tp_peer *,
		    sip_resp_cb, void *, struct sip_ctrans **);

static void
ct_send_cancel(struct sip_ctrans *ct)
{
	osip_message_t	*c;

	ct->cancel_pending = 0;
	if (ct->cancelled)
		return;
	ct->cancelled = 1;
	if ((c = ct_build(ct->req, NULL, "CANCEL")) == NULL) {
		log_warnx("sip: cannot build a CANCEL");
		return;
	}
	if (ct_start(ct->ccm, c, &ct->dest, NULL, NULL, NULL) != 0)
		log_warnx("sip: CANCEL not sent: %s", uc_errdetail());
	/* no final to the INVITE within 64*T1 after CANCEL: give up */
	tmr_rearm(ct->tmo, SIP_TMO_MS);
}

/* Our ACK for a non-2xx final to our INVITE, kept for retransmits. */
static void
ct_ack(struct sip_ctrans *ct, const osip_message_t *resp)
{
	osip_message_t	*a;
	char		*s;
	size_t		 len;

	if (ct->ack == NULL) {
		if ((a = ct_build(ct->req, resp, "ACK")) == NULL)
			return;
		s = msg_text(a, &len);
		osip_message_free(a);
		if (s == NULL)
			return;
		if ((ct->ack = malloc(len)) != NULL) {
			memcpy(ct->ack, s, len);
			ct->acklen = len;
		}
		osip_free(s);
	}
	ct_send(ct, ct->ack, ct->acklen);
}

/* A final response: ACK, callback, then linger (UDP) or end. */
static void
ct_final(struct sip_ctrans *ct, osip_message_t *resp, const struct tp_info *ti)
{
	struct sip_state	*ss = ct->ccm->sip;
	int			 code = resp->status_code, linger;
	size_t			 klen;

	if (ct->retx != NULL)
		evtimer_del(ct->retx);
	if (ct->invite && code >= 300)
		ct_ack(ct, resp);
	ct->state = ct->invite && code < 300 ? CT_ACCEPTED : CT_COMPLETED;
	if (ct->state == CT_ACCEPTED && ct->dest.kind == TP_UDP &&
	    (ct->acckey = acc_key(ct->req, &klen)) != NULL)
		htab_put(&ss->ct_acc, &ct->acc, ct->acckey, klen, ct);
	ct_deliver(ct, resp, ti);
	ct->cb = NULL;
	ct->arg = NULL;
	if (ct->dest.kind != TP_UDP) {
		ct_free(ct);
		return;
	}
	linger = ct->invite ? SIP_TMO_MS : SIP_T4_MS;
	tmr_rearm(ct->tmo, linger);
}

static void
response_input(struct ccm *ccm, osip_message_t *m, const struct tp_info *ti)
{
	struct sip_state	*ss = ccm->sip;
	struct sip_ctrans	*ct;
	const char		*branch = via_branch(top_via(m));
	char			 key[SIP_KEY_MAX];
	size_t			 bl, ml;
	int			 code = m->status_code;

	if (branch == NULL || m->cseq == NULL || m->cseq->method == NULL ||
	    (bl = strlen(branch)) > SIP_BRANCH_MAX ||
	    (ml = strlen(m->cseq->method)) > 16 || code < 100 || code > 699)
		goto drop;
	memcpy(key, branch, bl);
	key[bl] = '\n';
	memcpy(key + bl + 1, m->cseq->method, ml);
	if ((ct = htab_get(&ss->ct_tab, key, bl + 1 + ml)) == NULL)
		goto drop;
	if (ti->peer.kind != ct->dest.kind ||
	    (ct->dest.kind != TP_UDP ? ti->peer.conn != ct->dest.conn :
	    !addr_same_host(&ti->peer.addr, &ct->dest.addr))) {
		log_debug("sip: response for a transaction to another peer "
		    "from %s dropped", ti->peer_text);
		goto drop;
	}
	switch (ct->state) {
	case CT_CALLING:
	case CT_PROCEEDING:
		if (code < 200) {
			ct->state = CT_PROCEEDING;
			if (ct->invite) {
				if (ct->retx != NULL)
					evtimer_del(ct->retx);
				if (!ct->cancelled)
					tmr_rearm(ct->tmo, SIP_RING_MS);
			}
			if (ct->cancel_pending)
				ct_send_cancel(ct);
			ct_deliver(ct, m, ti);
		} else
			ct_final(ct, m, ti);
		break;
	case CT_COMPLETED:
		if (ct->invite && code >= 300)
			ct_send(ct, ct->ack, ct->acklen);
		break;
	case CT_ACCEPTED:
		if (code >= 200 && code < 300 && ct->ack != NULL)
			ct_send(ct, ct->ack, ct->acklen);
		break;
	}
	osip_message_free(m);
	return;
 drop:
	log_debug("sip: stray response %d from %s", code, ti->peer_text);
	osip_message_free(m);
}

/* Add our top Via with a fresh branch; the branch goes to out. */
static int
via_add(struct ccm *ccm, osip_message_t *m, const struct tp_peer *dest,
    char *branch, size_t blen)
{
	osip_via_t	*v = NULL;
	char		 host[128], hp[160], tok[33], val[320];
	int		 port;

	sip_token(tok, sizeof(tok));
	if ((size_t)snprintf(branch, blen, "z9hG4bK%s", tok) >= blen)
		return UC_ERR_TRUNCATED;
	local_for(ccm, dest, host, sizeof(host), &port);
	if (host_port(hp, sizeof(hp), host, port) != 0)
		return UC_ERR_TRUNCATED;
	snprintf(val, sizeof(val), "SIP/2.0/%s %s;branch=%s;rport",
	    kind_name(dest->kind), hp, branch);
	if (osip_via_init(&v) != 0 || osip_via_parse(v, val) != 0) {
		osip_via_free(v);
		return UC_ERR_FORMAT;
	}
	osip_list_add(&m->vias, v, 0);
	return 0;
}

static int
ct_start(struct ccm *ccm, osip_message_t *m, const struct tp_peer *dest,
    sip_resp_cb cb, void *arg, struct sip_ctrans **out)
{
	struct sip_state	*ss;
	struct sip_ctrans	*ct = NULL;
	osip_header_t		*mf = NULL;
	const char		*branch, *method;
	size_t			 bl, ml;
	int			 r = UC_ERR_ALLOC;

	if (out != NULL)
		*out = NULL;
	if ((ss = sip_state_get(ccm)) == NULL) {
		r = uc_fail(UC_ERR_ALLOC, "sip: no transaction tables");
		goto fail;
	}
	if (m == NULL || m->sip_method == NULL || m->cseq == NULL ||
	    (method = m->cseq->method) == NULL || dest == NULL) {
		r = uc_fail(UC_ERR_ARG, "sip: not a request to send");
		goto fail;
	}
	if (!trans_room(ss)) {
		r = uc_fail(UC_ERR_POLICY, "sip: transaction table full");
		goto fail;
	}
	if ((ct = calloc(1, sizeof(*ct))) == NULL) {
		r = uc_fail(UC_ERR_ALLOC, "sip: client transaction");
		goto fail;
	}
	ct->ccm = ccm;
	ct->dest = *dest;
	ct->invite = strcmp(method, "INVITE") == 0;
	if (out != NULL) {		/* a new transaction: our Via */
		if ((r = via_add(ccm, m, dest, ct->key, SIP_BRANCH_MAX)) != 0) {
			uc_fail(r, "sip: cannot add our Via");
			goto fail;
		}
	}
	if ((branch = via_branch(top_via(m))) == NULL ||
	    (bl = strlen(branch)) > SIP_BRANCH_MAX ||
	    (ml = strlen(method)) > 16) {
		r = uc_fail(UC_ERR_ARG, "sip: request without a usable Via");
		goto fail;
	}
	memmove(ct->key, branch, bl);
	ct->key[bl] = '\n';
	memcpy(ct->key + bl + 1, method, ml);
	ct->klen = bl + 1 + ml;
	if (htab_get(&ss->ct_tab, ct->key, ct->klen) != NULL) {
		r = uc_fail(UC_ERR_ARG, "sip: branch already in use");
		goto fail;
	}
	if (osip_message_get_max_forwards(m, 0, &mf) < 0 || mf == NULL)
		osip_message_set_max_forwards(m, "70");
	if ((ct->text = msg_text(m, &ct->textlen)) == NULL) {
		r = uc_fail(UC_ERR_ALLOC, "sip: cannot serialize a %s",
		    method);
		goto fail;
	}
	if ((r = tp_send(ccm, dest, ct->text, ct->textlen)) != 0)
		goto fail;
	if (ccm->base != NULL) {
		ct->tmo = evtimer_new(ccm->base, ct_tmo_cb, ct);
		ct->retx = evtimer_new(ccm->base, ct_retx_cb, ct);
	}
	ct->req = m;
	ct->cb = cb;
	ct->arg = arg;
	ct->retx_ms = SIP_T1_MS;
	htab_put(&ss->ct_tab, &ct->node, ct->key, ct->klen, ct);
	TAILQ_INSERT_TAIL(&ss->ctrans, ct, entry);
	if (dest->kind != TP_UDP && (ct->ce = ce_get(ss, dest->conn)) != NULL)
		TAILQ_INSERT_TAIL(&ct->ce->ct, ct, centry);
	ss->nct++;
	if (dest->kind == TP_UDP)
		tmr_add(ct->retx, ct->retx_ms);
	tmr_add(ct->tmo, SIP_TMO_MS);
	if (out != NULL)
		*out = ct;
	return 0;
 fail:
	if (ct != NULL) {
		text_free_wipe(ct->text, ct->textlen);
		free(ct);
	}
	osip_message_free(m);
	return r;
}

/*
 * Send a request as a new client transaction (our Via, fresh branch).
 * msg is taken in every case; *out (may be NULL) names it until the
 * final callback returned or sip_ctrans_detach.
 */
int
sip_request_send(struct ccm *ccm, osip_message_t *m, const struct tp_peer *dest,
    sip_resp_cb cb, void *arg, struct sip_ctrans **out)
{
	struct sip_ctrans	*ct = NULL;
	int			 r;

	r = ct_start(ccm, m, dest, cb, arg, &ct);
	if (out != NULL)
		*out = ct;
	return r;
}

/* CANCEL a pending INVITE (sent once a provisional response came). */
int
sip_ctrans_cancel(struct sip_ctrans *ct)
{
	if (ct == NULL || !ct->invite)
		return uc_fail(UC_ERR_ARG, "sip: CANCEL of a non-INVITE");
	if (ct->state != CT_CALLING && ct->state != CT_PROCEEDING)
		return 0;
	if (ct->state == CT_CALLING)
		ct->cancel_pending = 1;
	else
		ct_send_cancel(ct);
	return 0;
}

void
sip_ctrans_detach(struct sip_ctrans *ct)
{
	if (ct == NULL)
		return;
	ct->cb = NULL;
	ct->arg = NULL;
}

osip_message_t *
sip_ctrans_req(struct sip_ctrans *ct)
{
	return ct != NULL ? ct->req : NULL;
}

/*
 * Send outside any transaction (the ACK for a 2xx): a request without
 * Via gets ours.  An ACK is remembered with its INVITE so that a
 * retransmitted 2xx gets it again.  msg taken.
 */
int
sip_send_stateless(struct ccm *ccm, osip_message_t *m,
    const struct tp_peer *dest)
{
	struct sip_state	*ss;
	struct sip_ctrans	*ct;
	osip_header_t		*mf = NULL;
	char			 branch[64], *s, *ak;
	size_t			 len, aklen;
	int			 r;

	if ((ss = sip_state_get(ccm)) == NULL || m == NULL || dest == NULL) {
		osip_message_free(m);
		return uc_fail(UC_ERR_ARG, "sip_send_stateless: bad argument");
	}
	if (m->sip_method != NULL) {
		if (top_via(m) == NULL &&
		    via_add(ccm, m, dest, branch, sizeof(branch)) != 0) {
			osip_message_free(m);
			return uc_fail(UC_ERR_FORMAT, "sip: cannot add a Via");
		}
		if (osip_message_get_max_forwards(m, 0, &mf) < 0 || mf == NULL)
			osip_message_set_max_forwards(m, "70");
	}
	if ((s = msg_text(m, &len)) == NULL) {
		osip_message_free(m);
		return uc_fail(UC_ERR_ALLOC, "sip: cannot build a message");
	}
	if (is_method(m, "ACK") && (ak = acc_key(m, &aklen)) != NULL) {
		if ((ct = htab_get(&ss->ct_acc, ak, aklen)) != NULL &&
		    ct->ack == NULL && (ct->ack = malloc(len)) != NULL) {
			memcpy(ct->ack, s, len);
			ct->acklen = len;
		}
		free(ak);
	}
	osip_message_free(m);
	r = tp_send(ccm, dest, s, len);
	osip_free(s);
	return r;
}

/* ---- connections and shutdown ------------------------------------- */

/*
 * A stream closed: bindings and calls first, then the transactions on
 * it (a server transaction a handler still holds is freed on detach;
 * client transactions fail with the timeout callback, from the loop).
 */
void
sip_conn_closed(struct ccm *ccm, uint64_t conn)
{
	struct sip_state	*ss;
	struct sip_strans	*st, *snext;
	struct sip_ctrans	*ct;
	struct conn_ent		*ce;

	registrar_conn_closed(ccm, conn);
	b2bua_conn_closed(ccm, conn);
	if ((ss = ccm->sip) == NULL || conn == 0 ||
	    (ce = ce_find(ss, conn)) == NULL)
		return;
	ce->busy = 1;
	for (st = TAILQ_FIRST(&ce->st); st != NULL; st = snext) {
		snext = TAILQ_NEXT(st, centry);
		if (st->dead)
			continue;
		st->dead = 1;
		htab_del(&ss->st_tab, &st->node);
		htab_del(&ss->st_acc, &st->acc);
		if (st->tmr != NULL)
			evtimer_del(st->tmr);
		if (!st->owned && !st->dispatching)
			st_free(st);
	}
	TAILQ_FOREACH(ct, &ce->ct, centry) {
		if (ct->state != CT_CALLING && ct->state != CT_PROCEEDING)
			continue;
		if (ct->retx != NULL)
			evtimer_del(ct->retx);
		tmr_rearm(ct->tmo, 0);
	}
	ce->busy = 0;
	ce_put(ss, ce);
}

/* Free every transaction and the tables (at exit; no callbacks). */
void
sip_free(struct ccm *ccm)
{
	struct sip_state	*ss = ccm->sip;
	struct sip_strans	*st;
	struct sip_ctrans	*ct;

	if (ss == NULL)
		return;
	while ((st = TAILQ_FIRST(&ss->strans)) != NULL)
		st_free(st);
	while ((ct = TAILQ_FIRST(&ss->ctrans)) != NULL)
		ct_free(ct);
	if (ss->sweep != NULL)
		event_free(ss->sweep);
	free(ss->st_tab.b);
	free(ss->st_acc.b);
	free(ss->ct_tab.b);
	free(ss->ct_acc.b);
	free(ss->conns.b);
	free(ss);
	ccm->sip = NULL;
}
