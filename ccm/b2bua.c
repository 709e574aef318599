/*
 * The back-to-back user agent (spec 1, 6, 7).  A call has two legs,
 * each its own dialog: A, the caller's, where we are the UAS (its
 * INVITE server transaction is answered when B answers), and B, ours
 * towards the callee's phone (its registration's connection) or a
 * trunk.  Every request and response crosses from one dialog to the
 * other as a new message: our own Call-ID, tags and CSeq on B, the
 * caller's on A.
 *
 * SDES per leg (spec 6.5): a=crypto passes only when both legs are
 * TLS with a real cipher (SDP_PASS); otherwise every offer and answer
 * is stripped to RTP/AVP (SDP_STRIP), so no key crosses or is taken
 * from a leg that is not encrypted.  A device whose profile says
 * encrypted requires SRTP: when it cannot be agreed the call (or the
 * re-offer) gets 488.  Call status (spec 7) is the least secure of the
 * legs; the phones that registered X-cisco-callinfo learn it in
 * Call-Info (A: in the 18x/200, B: in an UPDATE after our ACK).
 *
 * B's 2xx to INVITE is ACKed at once (we are B's UAC), unless B's 2xx
 * carries the offer (A sent no SDP): that ACK waits for A's ACK and its
 * answer.  A's ACK is absorbed.
 *
 * Dialogs are found by (Call-ID, our tag) in one hash table.  Client
 * transactions (struct xact) outlive their call when they must: a BYE
 * we sent, an INVITE we cancelled (a 2xx that crosses our CANCEL is
 * ACKed and BYEd).  A trunk leg answers the trunk's challenges
 * (auth_client_answer, spec 4).
 *
 * Also here: INVITE with Replaces (RFC 3891; the other leg is
 * re-INVITEd and the named dialog BYEd), presence SUBSCRIBE within a
 * presence group (200 and one PIDF NOTIFY), the unsolicited MWI NOTIFY
 * a trunk may send (relayed to the extension's phone), and the
 * out-of-dialog REFER a trunk may send (click-to-dial, RFC 3725 flow
 * I): 202, an INVITE without SDP to the extension's phone, and when it
 * answers with its offer, an INVITE to the Refer-To target; its answer
 * goes to the phone in the held ACK.  Progress goes to the trunk in
 * NOTIFYs (message/sipfrag) of the implicit subscription.
 *
 * Limits: calls per device and per trunk (486 / 503), a ring timeout
 * (CANCEL and 408), and an in-dialog OPTIONS probe on UDP legs of
 * answered calls (no answer, 408 or 481: the call ends).  Calls are also
 * found by the TCP/TLS connection of their legs.
 */
#include <sys/queue.h>
#include <sys/types.h>

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/event.h>
#include <openssl/crypto.h>
#include <osipparser2/osip_parser.h>
#include <osipparser2/osip_port.h>

#include "ccm.h"
#include "log.h"
#include "sdp.h"
#include "uerr.h"

#define CALLS_MAX	50000	/* calls at once; more get 503 */
#define XACTS_MAX	(4 * CALLS_MAX)	/* transactions we own at once */
#define DLG_BUCKETS	32768	/* dialog hash buckets (power of two) */
#define TOKEN_LEN	16	/* hex digits in our tags */
#define PARTY_MAX	64	/* an extension or number (URI user part) */
#define SUB_EXPIRES_MAX	3600	/* presence subscription, s */
#define CSEQ_START	100	/* our first CSeq towards a caller */
#define URI_MAX		512	/* a URI we build */
#define CONN_BUCKETS	4096	/* legs by connection (power of two) */
#define CNT_BUCKETS	4096	/* call counters (power of two) */
#define DEV_CALLS_MAX	8	/* calls at once per device */
#define TRUNK_CALLS_MAX	1000	/* calls at once per trunk */
#define RING_TIMEOUT	180	/* s without a final answer: 408 */
#define C2D_RING_TIMEOUT 28	/* s: click-to-dial target ringing while
				   the phone's 2xx waits for our ACK */
#define PROBE_INTERVAL	300	/* s between OPTIONS probes on UDP legs */
#define REFER_EXPIRES	60	/* s: implicit subscription of a REFER */

#define CALLINFO_URN	"<urn:x-cisco-remotecc:callinfo>"
#define ALLOW_VALUE	"INVITE, ACK, BYE, CANCEL, OPTIONS, UPDATE, INFO, " \
			"REFER, NOTIFY, SUBSCRIBE"

enum { LEG_A = 0, LEG_B = 1 };

enum xact_kind {
	X_INVITE = 0,	/* B's initial INVITE */
	X_OFFER,	/* a relayed re-INVITE or UPDATE */
	X_RELAY,	/* another relayed request (INFO, REFER, NOTIFY...) */
	X_REPLACE,	/* INVITE with Replaces: re-INVITE of the other leg */
	X_LOCAL,	/* our own (BYE, Call-Info UPDATE, NOTIFY): no reply */
	X_PROBE,	/* in-dialog OPTIONS to leg x->from */
	X_C2D		/* click-to-dial: INVITE without SDP to the phone */
};

struct call;

/* Calls at once per device or trunk (key "d:NAME" / "t:NAME"). */
struct ccount {
	struct ccount		*next;
	int			 n;
	char			 key[STORE_NAME_MAX + 8];
};

struct leg {
	struct call		*call;
	struct leg		*hnext;		/* dialog hash chain */
	int			 hashed;
	struct leg		*cnext;		/* connection hash chain */
	int			 clinked;
	struct ccount		*cnt;		/* counted on this, or NULL */
	struct sip_dialog	 dlg;		/* ids, route set, CSeq */
	struct tp_peer		 peer;		/* where their messages go */
	int			 tls;		/* signalling over TLS */
	int			 enc;		/* TLS with a real cipher */
	int			 profile;	/* enum store_secmode required */
	int			 callinfo;	/* wants Call-Info */
	int			 confirmed;	/* dialog established */
	struct trunk		*trunk;		/* a reference, or NULL */
	char			 device[STORE_NAME_MAX]; /* phone, or "" */
	char			 party[PARTY_MAX];	/* for URIs and logs */
};

struct xact {
	TAILQ_ENTRY(xact)	 entry;		/* bs->xacts */
	TAILQ_ENTRY(xact)	 centry;	/* call->xacts while owned */
	struct b2bua_state	*bs;
	struct call		*call;		/* NULL: orphan, standalone */
	int			 kind;		/* enum xact_kind */
	int			 from;		/* leg the request came in on */
	char			 method[16];
	struct sip_strans	*st;		/* pending server transaction */
	struct sip_ctrans	*ct;		/* pending client transaction */
	struct tp_peer		 peer;		/* where ct went */
	struct trunk		*trunk;		/* reference: challenges */
	int			 tries;		/* challenges answered */
	int			 offer;		/* the request had an offer */
	struct sdp_info		*oinfo;		/* that offer, as sent */
	osip_message_t		*ack;		/* ACK waiting for an answer */
	struct leg		*nleg;		/* X_REPLACE: the new leg */
	int			 mode;		/* X_REPLACE: SDP mode after */
};

TAILQ_HEAD(xactq, xact);

struct call {
	TAILQ_ENTRY(call)	 entry;
	struct b2bua_state	*bs;
	struct leg		 leg[2];
	struct xactq		 xacts;		/* transactions of the call */
	struct xact		*inv;		/* B's INVITE until answered */
	char			 sid[12];	/* short id for logs */
	int			 mode;		/* enum sdp_mode, both ways */
	int			 need_srtp;	/* a profile says encrypted */
	int			 via_trunk;	/* a trunk leg: non-secure */
	int			 status;	/* enum call_security */
	int			 srtp;		/* SRTP agreed (last answer) */
	int			 suite;		/* agreed suite, -1 none */
	int			 up;		/* answered */
	time_t			 t0, tup;
	struct event		*tmr;		/* ring timeout, then probes */
	struct c2d		*c2d;		/* click-to-dial state, or NULL */
};

/*
 * A click-to-dial call (out-of-dialog REFER from a trunk): the REFER's
 * implicit subscription (a dialog where we are the notifier), where the
 * REFER came in, and the number to call once the phone answers.
 */
struct c2d {
	struct leg		 sub;		/* NOTIFYs to the trunk */
	int			 subdone;	/* final NOTIFY sent */
	struct tp_info		 src;		/* the REFER's (cert NULL) */
	char			 target[PARTY_MAX];
	struct xact		*pack;		/* holds the phone's ACK */
};

struct b2bua_state {
	struct ccm		*ccm;
	TAILQ_HEAD(, call)	 calls;
	struct xactq		 xacts;
	size_t			 ncalls, nxacts;
	struct leg		*dlg[DLG_BUCKETS];
	struct leg		*conns[CONN_BUCKETS];
	struct ccount		*cnt[CNT_BUCKETS];
};


static void	xact_cb(void *, struct sip_ctrans *, osip_message_t *,
		    const struct tp_info *);
static void	call_end(struct call *, int, int, const char *);
static void	send_callinfo(struct call *, int);
static void	replace_answered(struct xact *, osip_message_t *);
static void	replaces_invite(struct sip_req *, const char *);
static void	c2d_phone_response(struct xact *, struct sip_ctrans *,
		    osip_message_t *, int);
static void	c2d_answered(struct call *, struct xact *, const char *,
		    size_t);

/* The binding a request comes from (the From user where one source
   carries several devices). */
static const struct binding *
req_binding(const struct sip_req *req)
{
	osip_message_t	*m = req->msg;

	return registrar_by_source(req->ccm, &req->src.peer,
	    m != NULL && m->from != NULL && m->from->url != NULL ?
	    m->from->url->username : NULL);
}

/* ---- small helpers ----------------------------------------------- */

const char *
call_security_name(int s)
{
	switch (s) {
	case CALL_ENCRYPTED:
		return "encrypted";
	case CALL_AUTHENTICATED:
		return "authenticated";
	default:
		return "nonsecure";
	}
}

static const char *
reason_for(int code)
{
	switch (code) {
	case 100: return "Trying";
	case 180: return "Ringing";
	case 181: return "Call Is Being Forwarded";
	case 182: return "Queued";
	case 183: return "Session Progress";
	case 200: return "OK";
	case 202: return "Accepted";
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 415: return "Unsupported Media Type";
	case 420: return "Bad Extension";
	case 480: return "Temporarily Unavailable";
	case 481: return "Call/Transaction Does Not Exist";
	case 483: return "Too Many Hops";
	case 486: return "Busy Here";
	case 487: return "Request Terminated";
	case 488: return "Not Acceptable Here";
	case 489: return "Bad Event";
	case 491: return "Request Pending";
	case 500: return "Server Internal Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 600: return "Busy Everywhere";
	case 603: return "Decline";
	default:
		if (code < 200)
			return "Session Progress";
		if (code < 300)
			return "OK";
		if (code < 500)
			return "Request Failure";
		return code < 600 ? "Server Error" : "Global Failure";
	}
}

/* The first value of a header (by full name; compact form too). */
static const char *
hdr(const osip_message_t *m, const char *name, const char *compact)
{
	osip_header_t	*h = NULL;

	if (osip_message_header_get_byname(m, name, 0, &h) >= 0 &&
	    h != NULL && h->hvalue != NULL)
		return h->hvalue;
	if (compact != NULL &&
	    osip_message_header_get_byname(m, compact, 0, &h) >= 0 &&
	    h != NULL && h->hvalue != NULL)
		return h->hvalue;
	return NULL;
}

/* Copy every instance of the named headers from src to dst. */
static void
copy_headers(osip_message_t *dst, const osip_message_t *src,
    const char *const *names)
{
	osip_header_t	*h;
	int		 i;

	for (; *names != NULL; names++)
		for (i = 0; (i = osip_message_header_get_byname(src, *names, i,
		    &h)) >= 0; i++)
			if (h != NULL && h->hvalue != NULL)
				sip_add_header(dst, *names, h->hvalue);
}

static const char *
uri_user(osip_uri_t *u)
{
	return u != NULL ? u->username : NULL;
}

/* An active stream offers or answers keys. */
static int
has_crypto(const struct sdp_info *si)
{
	int	 i;

	for (i = 0; i < si->nmedia; i++)
		if (si->media[i].port != 0 && si->media[i].savp &&
		    si->media[i].ncrypto > 0)
			return 1;
	return 0;
}

/* The suite of the first keyed stream of an answer, or -1. */
static int
answer_suite(const struct sdp_info *si)
{
	int	 i;

	for (i = 0; i < si->nmedia; i++)
		if (si->media[i].port != 0 && si->media[i].ncrypto > 0)
			return si->media[i].crypto[0].suite;
	return -1;
}

/* Put sdp (rewritten for the receiving leg) on m.  0 or -1. */
static int
put_sdp(osip_message_t *m, const char *sdp, size_t len, int mode)
{
	char	*out = NULL;
	size_t	 outlen = 0;
	int	 r;

	if (sdp_rewrite(sdp, len, mode, &out, &outlen) != 0) {
		log_warnx("b2bua: SDP rewrite: %s", uc_errdetail());
		return -1;
	}
	r = sip_set_body(m, "application/sdp", out, outlen);
	OPENSSL_clear_free(out, outlen);
	return r == 0 ? 0 : -1;
}

static int
remove_all(osip_list_t *l, void (*fr)(void *))
{
	void	*e;

	while (!osip_list_eol(l, 0)) {
		e = osip_list_get(l, 0);
		osip_list_remove(l, 0);
		fr(e);
	}
	return 0;
}

static void
via_free(void *p)
{
	osip_via_free(p);
}

/* ---- dialogs ----------------------------------------------------- */

static uint32_t
dlg_hash(const char *cid, const char *tag)
{
	uint64_t	 h = 0xcbf29ce484222325ULL;

	for (; *cid != '\0'; cid++)
		h = (h ^ (uint8_t)*cid) * 0x100000001b3ULL;
	h = (h ^ 0xff) * 0x100000001b3ULL;
	for (; *tag != '\0'; tag++)
		h = (h ^ (uint8_t)*tag) * 0x100000001b3ULL;
	return (uint32_t)(h ^ (h >> 32)) & (DLG_BUCKETS - 1);
}

static void
dlg_link(struct b2bua_state *bs, struct leg *l)
{
	uint32_t	 b = dlg_hash(l->dlg.callid, l->dlg.ltag);

	l->hnext = bs->dlg[b];
	bs->dlg[b] = l;
	l->hashed = 1;
}

static void
dlg_unlink(struct b2bua_state *bs, struct leg *l)
{
	struct leg	**pp;

	if (!l->hashed)
		return;
	for (pp = &bs->dlg[dlg_hash(l->dlg.callid, l->dlg.ltag)]; *pp != NULL;
	    pp = &(*pp)->hnext)
		if (*pp == l) {
			*pp = l->hnext;
			break;
		}
	l->hashed = 0;
	l->hnext = NULL;
}

static struct leg *
dlg_find(struct b2bua_state *bs, const char *cid, const char *tag)
{
	struct leg	*l;

	if (cid == NULL || tag == NULL)
		return NULL;
	for (l = bs->dlg[dlg_hash(cid, tag)]; l != NULL; l = l->hnext)
		if (strcmp(l->dlg.callid, cid) == 0 &&
		    strcmp(l->dlg.ltag, tag) == 0)
			return l;
	return NULL;
}

/*
 * Is there a dialog with this Call-ID and our tag (and their tag, when
 * given) whose leg is on the trunk named like t (NULL: any leg)?  For
 * trunk_authorize (spec 5: unsolicited NOTIFY, Replaces).
 */
int
b2bua_dialog_on_trunk(struct ccm *ccm, const char *cid, const char *ltag,
    const char *rtag, const struct trunk *t)
{
	struct leg	*l;

	if (ccm->b2bua == NULL ||
	    (l = dlg_find(ccm->b2bua, cid, ltag)) == NULL)
		return 0;
	if (rtag != NULL && (l->dlg.rtag == NULL ||
	    strcmp(l->dlg.rtag, rtag) != 0))
		return 0;
	if (t != NULL && (l->trunk == NULL ||
	    strcmp(trunk_name(l->trunk), trunk_name(t)) != 0))
		return 0;
	return 1;
}

/* ---- legs by connection (b2bua_conn_closed) ---------------------- */

static uint32_t
conn_hash(uint64_t conn)
{
	return (uint32_t)(sip_hash(&conn, sizeof(conn)) & (CONN_BUCKETS - 1));
}

/* Index a call's leg by its TCP/TLS connection (UDP legs: nothing). */
static void
conn_link(struct b2bua_state *bs, struct leg *l)
{
	uint32_t	 b;

	if (l->clinked || l->peer.kind == TP_UDP || l->peer.conn == 0)
		return;
	b = conn_hash(l->peer.conn);
	l->cnext = bs->conns[b];
	bs->conns[b] = l;
	l->clinked = 1;
}

static void
conn_unlink(struct b2bua_state *bs, struct leg *l)
{
	struct leg	**pp;

	if (!l->clinked)
		return;
	for (pp = &bs->conns[conn_hash(l->peer.conn)]; *pp != NULL;
	    pp = &(*pp)->cnext)
		if (*pp == l) {
			*pp = l->cnext;
			break;
		}
	l->clinked = 0;
	l->cnext = NULL;
}

/* ---- calls per device and per trunk ------------------------------ */

static uint32_t
cnt_hash(const char *key)
{
	return (uint32_t)(sip_hash(key, strlen(key)) & (CNT_BUCKETS - 1));
}

/*
 * Count a call on key ("d:DEVICE", "t:TRUNK") for leg l, unless max
 * calls (max > 0) are already counted there.  0, or -1 (at the limit or
 * out of memory).
 */
static int
leg_count(struct b2bua_state *bs, struct leg *l, const char *kind,
    const char *name, int max)
{
	struct ccount	*e;
	char		 key[sizeof(e->key)];
	uint32_t	 b;

	if (l->cnt != NULL || (size_t)snprintf(key, sizeof(key), "%s:%s",
	    kind, name) >= sizeof(key))
		return -1;
	b = cnt_hash(key);
	for (e = bs->cnt[b]; e != NULL; e = e->next)
		if (strcmp(e->key, key) == 0)
			break;
	if (e == NULL) {
		if ((e = calloc(1, sizeof(*e))) == NULL)
			return -1;
		memcpy(e->key, key, sizeof(key));
		e->next = bs->cnt[b];
		bs->cnt[b] = e;
	}
	if (max > 0 && e->n >= max)
		return -1;	/* e->n > 0: it stays in use */
	e->n++;
	l->cnt = e;
	return 0;
}

static void
leg_uncount(struct b2bua_state *bs, struct leg *l)
{
	struct ccount	*e = l->cnt, **pp;

	if (e == NULL)
		return;
	l->cnt = NULL;
	if (--e->n > 0)
		return;
	for (pp = &bs->cnt[cnt_hash(e->key)]; *pp != NULL; pp = &(*pp)->next)
		if (*pp == e) {
			*pp = e->next;
			break;
		}
	free(e);
}

/* ---- legs -------------------------------------------------------- */

static void
leg_clear(struct b2bua_state *bs, struct leg *l)
{
	dlg_unlink(bs, l);
	conn_unlink(bs, l);
	leg_uncount(bs, l);
	sip_dialog_clear(&l->dlg);
	trunk_unref(l->trunk);
	memset(l, 0, sizeof(*l));
}

/*
 * Does an in-dialog request really come from this leg's peer?  1: yes;
 * 0: no; -1: the leg's phone came back over a less secure transport
 * than the call was set up with: the call was ended (BYE both legs).
 */
static int
leg_source_ok(struct ccm *ccm, struct leg *l, const struct sip_req *req)
{
	const struct binding	*b;
	const struct tp_info	*ti;
	int			 tls, enc;

	if (l->trunk != NULL)
		return req->trunk != NULL && strcmp(trunk_name(req->trunk),
		    trunk_name(l->trunk)) == 0;
	if (req->src.peer.kind != l->peer.kind)
		return 0;
	if (l->peer.kind != TP_UDP && req->src.peer.conn == l->peer.conn)
		return 1;
	if (l->peer.kind == TP_UDP &&
	    req->src.peer.addrlen == l->peer.addrlen &&
	    memcmp(&req->src.peer.addr, &l->peer.addr, l->peer.addrlen) == 0)
		return 1;
	/* The phone reconnected and registered again: follow it. */
	if (l->device[0] == '\0' ||
	    (b = req_binding(req)) == NULL ||
	    strcmp(b->device, l->device) != 0)
		return 0;
	if (req->src.peer.kind == TP_UDP)
		ti = &req->src;
	else if ((ti = tp_info_get(ccm, req->src.peer.conn)) == NULL)
		return 0;
	tls = ti->tls && b->tls;
	enc = tls && ti->encrypted && b->encrypted;
	conn_unlink(ccm->b2bua, l);
	l->peer = req->src.peer;
	if (l->call != NULL && l->clinked == 0 && l->hashed)
		conn_link(ccm->b2bua, l);
	if ((l->tls && !tls) || (l->enc && !enc)) {
		/* Never keep SDP_PASS (or the status) on a weaker leg. */
		log_info("call %s: %s came back over %s: ending the call",
		    l->call != NULL ? l->call->sid : "-", l->party,
		    tls ? "TLS with a NULL cipher" : "a non-TLS transport");
		l->tls = tls;
		l->enc = enc;
		if (l->call != NULL)
			call_end(l->call, -1, 480, "leg security dropped");
		return -1;
	}
	return 1;
}

/* ---- building requests ------------------------------------------- */

/*
 * A request inside a leg's dialog: target, route set, From/To, Call-ID
 * and CSeq (cseq 0: the next of ours).  NULL on failure.
 */
static osip_message_t *
leg_request(struct leg *l, const char *method, uint32_t cseq)
{
	return sip_dialog_request(&l->dlg, method, cseq, ALLOW_VALUE);
}

/*
 * ACK for a 2xx to our INVITE (RFC 3261 13.2.2.4): the INVITE's CSeq
 * number; sip_send_stateless gives it our Via with a new branch.
 */
static osip_message_t *
leg_ack(struct leg *l, const osip_message_t *resp)
{
	if (resp->cseq == NULL || resp->cseq->number == NULL)
		return NULL;
	return leg_request(l, "ACK",
	    (uint32_t)strtoul(resp->cseq->number, NULL, 10));
}

/* ---- transactions ------------------------------------------------ */

static struct xact *
xact_new(struct b2bua_state *bs, struct call *c, int kind, int from,
    const char *method)
{
	struct xact	*x;

	if (bs->nxacts >= XACTS_MAX || (x = calloc(1, sizeof(*x))) == NULL)
		return NULL;
	x->bs = bs;
	x->call = c;
	x->kind = kind;
	x->from = from;
	snprintf(x->method, sizeof(x->method), "%s", method);
	TAILQ_INSERT_TAIL(&bs->xacts, x, entry);
	if (c != NULL)
		TAILQ_INSERT_TAIL(&c->xacts, x, centry);
	bs->nxacts++;
	return x;
}

static void
xact_orphan(struct xact *x)
{
	if (x->call != NULL) {
		TAILQ_REMOVE(&x->call->xacts, x, centry);
		x->call = NULL;
	}
}

static void
xact_free(struct xact *x)
{
	if (x == NULL)
		return;
	if (x->call != NULL && x->call->inv == x)
		x->call->inv = NULL;
	if (x->call != NULL && x->call->c2d != NULL &&
	    x->call->c2d->pack == x)
		x->call->c2d->pack = NULL;
	xact_orphan(x);
	TAILQ_REMOVE(&x->bs->xacts, x, entry);
	x->bs->nxacts--;
	trunk_unref(x->trunk);
	if (x->oinfo != NULL) {
		sdp_info_clear(x->oinfo);
		free(x->oinfo);
	}
	osip_message_free(x->ack);
	if (x->nleg != NULL) {
		leg_clear(x->bs, x->nleg);
		free(x->nleg);
	}
	free(x);
}

/* Final answer on the server transaction we relay for (once). */
static void
xact_reply(struct xact *x, int code, const char *reason)
{
	if (x->st == NULL)
		return;
	sip_reply(x->st, code, reason != NULL ? reason : reason_for(code));
	if (code >= 200)
		x->st = NULL;
}

/*
 * Send m (taken) in x towards peer; trunk (may be NULL) answers its
 * challenges.  0, or -1 with x unchanged (m gone).
 */
static int
xact_send(struct xact *x, osip_message_t *m, const struct tp_peer *peer,
    struct trunk *t)
{
	x->peer = *peer;
	if (x->trunk == NULL && t != NULL)
		x->trunk = trunk_ref(t);
	if (sip_request_send(x->bs->ccm, m, peer, xact_cb, x, &x->ct) != 0) {
		log_warnx("b2bua: %s: %s", x->method, uc_errdetail());
		x->ct = NULL;
		return -1;
	}
	return 0;
}

/* Our own request outside any relay: responses are only consumed. */
static void
send_local(struct b2bua_state *bs, struct leg *l, osip_message_t *m)
{
	struct xact	*x;

	if ((x = xact_new(bs, NULL, X_LOCAL, -1, m->sip_method)) == NULL) {
		osip_message_free(m);
		return;
	}
	if (xact_send(x, m, &l->peer, l->trunk) != 0)
		xact_free(x);
}

static int
challenge_stale(const osip_message_t *resp)
{
	osip_www_authenticate_t	*w;
	const char		*s;
	int			 i;

	for (i = 0; (w = osip_list_get(&resp->www_authenticates, i)) != NULL;
	    i++)
		if ((s = w->stale) != NULL && strcasestr(s, "true") != NULL)
			return 1;
	for (i = 0; (w = osip_list_get(&resp->proxy_authenticates, i)) !=
	    NULL; i++)
		if ((s = w->stale) != NULL && strcasestr(s, "true") != NULL)
			return 1;
	return 0;
}

/*
 * Answer a trunk's 401/407 (spec 4): the same request, CSeq + 1, a new
 * branch, credentials from auth_client_answer; a second challenge is
 * answered only when stale.  0: resent (x->ct is the new transaction).
 */
static int
xact_auth_retry(struct xact *x, struct sip_ctrans *ct,
    const osip_message_t *resp)
{
	osip_message_t	*m = NULL;
	char		 buf[64];
	uint32_t	 cseq;
	struct leg	*l;

	if (x->trunk == NULL || x->tries >= 2 ||
	    (x->tries == 1 && !challenge_stale(resp)) ||
	    osip_message_clone(sip_ctrans_req(ct), &m) != 0)
		return -1;
	if (m->cseq == NULL || m->cseq->number == NULL) {
		osip_message_free(m);
		return -1;
	}
	remove_all(&m->vias, via_free);	/* sip.c adds a new one */
	cseq = (uint32_t)strtoul(m->cseq->number, NULL, 10) + 1;
	if (x->call != NULL && x->kind != X_LOCAL) {
		l = &x->call->leg[x->kind == X_INVITE ? LEG_B : !x->from];
		if (cseq <= l->dlg.lcseq)
			cseq = l->dlg.lcseq + 1;
		l->dlg.lcseq = cseq;
	}
	snprintf(buf, sizeof(buf), "%u", cseq);
	osip_free(m->cseq->number);
	m->cseq->number = osip_strdup(buf);
	if (auth_client_answer(x->bs->ccm, x->trunk, m, resp) != 0) {
		log_info("b2bua: trunk %s: %s challenge not answered: %s",
		    trunk_name(x->trunk), x->method, uc_errdetail());
		osip_message_free(m);
		return -1;
	}
	x->tries++;
	x->ct = NULL;
	return xact_send(x, m, &x->peer, NULL);
}

/* ---- calls ------------------------------------------------------- */

static void
call_free(struct call *c)
{
	struct b2bua_state	*bs = c->bs;
	struct xact		*x;

	while ((x = TAILQ_FIRST(&c->xacts)) != NULL)
		xact_orphan(x);
	if (c->tmr != NULL)
		event_free(c->tmr);
	if (c->c2d != NULL) {
		leg_clear(bs, &c->c2d->sub);
		free(c->c2d);
	}
	leg_clear(bs, &c->leg[LEG_A]);
	leg_clear(bs, &c->leg[LEG_B]);
	TAILQ_REMOVE(&bs->calls, c, entry);
	bs->ncalls--;
	free(c);
}

/* Security status (spec 7): the least secure leg, SRTP on every stream. */
static int
call_status(const struct call *c)
{
	if (c->via_trunk || !c->leg[LEG_A].tls || !c->leg[LEG_B].tls)
		return CALL_NONSECURE;
	if (c->leg[LEG_A].enc && c->leg[LEG_B].enc && c->srtp)
		return CALL_ENCRYPTED;
	return CALL_AUTHENTICATED;
}

static const char *
suite_text(const struct call *c)
{
	return c->srtp && c->suite >= 0 ? sdes_suite_name(c->suite) : "none";
}

/* "call ID FROM -> TO status=S srtp=SUITE" at answer, and on changes. */
static void
call_log(const struct call *c, const char *what)
{
	log_info("call %s %s -> %s status=%s srtp=%s%s", c->sid,
	    c->leg[LEG_A].party, c->leg[LEG_B].party,
	    call_security_name(c->status), suite_text(c), what);
}

/* The Call-Info value for a leg: A placed the call (to), B got it. */
static void
callinfo_value(const struct call *c, int side, int security, char *buf,
    size_t sz)
{
	if (security)
		snprintf(buf, sz, CALLINFO_URN ";security=%s;orientation=%s",
		    sipmsg_callinfo_word(c->status),
		    side == LEG_A ? "to" : "from");
	else
		snprintf(buf, sz, CALLINFO_URN ";orientation=%s",
		    side == LEG_A ? "to" : "from");
}

/* Call-Info in an UPDATE without body (spec 7: B side, status changes). */
static void
send_callinfo(struct call *c, int side)
{
	struct leg	*l = &c->leg[side];
	osip_message_t	*m;
	char		 v[160];

	if (!l->callinfo || !l->confirmed ||
	    (m = leg_request(l, "UPDATE", 0)) == NULL)
		return;
	callinfo_value(c, side, 1, v, sizeof(v));
	sip_add_header(m, "Call-Info", v);
	send_local(c->bs, l, m);
}

/*
 * Click-to-dial progress to the trunk (RFC 3515 2.4.5): a NOTIFY in the
 * REFER's implicit subscription with a message/sipfrag status line; the
 * final one terminates the subscription.
 */
static void
c2d_notify(struct call *c, int code, const char *reason, int final)
{
	struct c2d	*cd = c->c2d;
	osip_message_t	*m;
	char		 body[128], state[64];
	int		 n;

	if (cd == NULL || cd->subdone ||
	    (m = leg_request(&cd->sub, "NOTIFY", 0)) == NULL)
		return;
	if (final)
		snprintf(state, sizeof(state), "terminated;reason=noresource");
	else
		snprintf(state, sizeof(state), "active;expires=%d",
		    REFER_EXPIRES);
	sip_add_header(m, "Event", "refer");
	sip_add_header(m, "Subscription-State", state);
	n = snprintf(body, sizeof(body), "SIP/2.0 %d %s\r\n", code, reason);
	if (n < 0 || (size_t)n >= sizeof(body) || sip_set_body(m,
	    "message/sipfrag;version=2.0", body, (size_t)n) != 0) {
		osip_message_free(m);
		return;
	}
	if (final)
		cd->subdone = 1;
	send_local(c->bs, &cd->sub, m);
}

/* (Re)arm a call's timer: s seconds from now; 0 stops it. */
static void
call_timer(struct call *c, int s)
{
	struct timeval	 tv;

	if (c->tmr == NULL)
		return;
	evtimer_del(c->tmr);
	if (s <= 0)
		return;
	tv.tv_sec = s;
	tv.tv_usec = 0;
	evtimer_add(c->tmr, &tv);
}

/* An answered call with a UDP leg is probed every PROBE_INTERVAL. */
static void
call_probe_arm(struct call *c)
{
	call_timer(c, c->leg[LEG_A].peer.kind == TP_UDP ||
	    c->leg[LEG_B].peer.kind == TP_UDP ? PROBE_INTERVAL : 0);
}

/*
 * The call's timer: before the answer, the ring timeout (CANCEL, 408
 * to the caller); after it, an in-dialog OPTIONS to every confirmed UDP
 * leg (xact_cb ends the call on no answer or 481).
 */
static void
call_timer_cb(int fd, short ev, void *arg)
{
	struct call	*c = arg;
	struct xact	*x, *p;
	osip_message_t	*m;
	int		 i, busy;

	(void)fd;
	(void)ev;
	if (!c->up) {
		call_end(c, -1, 408, "ring timeout");
		return;
	}
	for (i = LEG_A; i <= LEG_B; i++) {
		if (c->leg[i].peer.kind != TP_UDP || !c->leg[i].confirmed)
			continue;
		busy = 0;
		TAILQ_FOREACH(p, &c->xacts, centry)
			if (p->kind == X_PROBE && p->from == i)
				busy = 1;
		if (busy || (m = leg_request(&c->leg[i], "OPTIONS", 0)) ==
		    NULL)
			continue;
		if ((x = xact_new(c->bs, c, X_PROBE, i, "OPTIONS")) == NULL) {
			osip_message_free(m);
			continue;
		}
		if (xact_send(x, m, &c->leg[i].peer, c->leg[i].trunk) != 0)
			xact_free(x);
	}
	call_probe_arm(c);
}

/* BYE a confirmed leg (fire and forget). */
static void
send_bye(struct call *c, int side)
{
	struct leg	*l = &c->leg[side];
	osip_message_t	*m;

	if (!l->confirmed || (m = leg_request(l, "BYE", 0)) == NULL)
		return;
	send_local(c->bs, l, m);
}

/*
 * End a call: A's unanswered INVITE gets code, B's pending INVITE is
 * cancelled, confirmed legs get a BYE (except gone, whose dialog or
 * connection is already over), pending relays get 481, one log line.
 */
static void
call_end(struct call *c, int gone, int code, const char *why)
{
	struct xact	*x;
	time_t		 now = time(NULL);

	if (c->inv != NULL) {
		xact_reply(c->inv, code >= 300 ? code : 487, NULL);
		if (c->inv->ct != NULL && gone != LEG_B)
			sip_ctrans_cancel(c->inv->ct);
	}
	/* Each turn frees or orphans x: both take it off c->xacts. */
	while ((x = TAILQ_FIRST(&c->xacts)) != NULL) {
		xact_reply(x, 481, NULL);
		if (x->ack != NULL) {
			if (gone != !x->from)
				sip_send_stateless(c->bs->ccm, x->ack,
				    &c->leg[!x->from].peer);
			else
				osip_message_free(x->ack);
			x->ack = NULL;
		}
		if (x->ct == NULL)
			xact_free(x);
		else
			xact_orphan(x);
	}
	if (gone != LEG_A)
		send_bye(c, LEG_A);
	if (gone != LEG_B)
		send_bye(c, LEG_B);
	c2d_notify(c, code >= 300 ? code : 487, reason_for(code >= 300 ?
	    code : 487), 1);
	if (c->up)
		log_info("call %s %s -> %s ended duration=%llds reason=%s "
		    "status=%s srtp=%s", c->sid, c->leg[LEG_A].party,
		    c->leg[LEG_B].party, (long long)(now - c->tup), why,
		    call_security_name(c->status), suite_text(c));
	else
		log_info("call %s %s -> %s not answered: %d (%s)", c->sid,
		    c->leg[LEG_A].party, c->leg[LEG_B].party, code, why);
	call_free(c);
}

/* ---- responses towards A ----------------------------------------- */

/*
 * A response on A's INVITE transaction: contact, SDP rewritten, and
 * Call-Info when A wants it.  For 2xx, A's dialog is confirmed.
 */
static int
answer_a(struct call *c, int code, const char *reason, const char *sdp,
    size_t sdplen)
{
	struct leg	*a = &c->leg[LEG_A];
	osip_message_t	*m;
	char		 v[160];
	int		 r;

	if (c->inv == NULL || c->inv->st == NULL ||
	    (m = sip_resp_new(c->inv->st, code, reason)) == NULL)
		return -1;
	if (a->dlg.contact != NULL)
		osip_message_set_contact(m, a->dlg.contact);
	if (code < 300 && sipmsg_copy_rr(m, sip_strans_req(c->inv->st)) != 0) {
		osip_message_free(m);
		return -1;
	}
	osip_message_set_allow(m, ALLOW_VALUE);
	if (a->callinfo && code >= 180 && code < 300) {
		callinfo_value(c, LEG_A, code >= 200, v, sizeof(v));
		sip_add_header(m, "Call-Info", v);
	}
	if (sdp != NULL && put_sdp(m, sdp, sdplen, c->mode) != 0) {
		osip_message_free(m);
		return -1;
	}
	r = sip_resp_send(c->inv->st, m);
	/* After a final response the transaction is no longer ours, even
	   when sending it failed (ccm.h). */
	if (code >= 200)
		c->inv->st = NULL;
	if (r != 0)
		return -1;
	if (code >= 200)
		a->confirmed = 1;
	return 0;
}

/* A reason phrase from the far side, if it is plain text. */
static const char *
reason_ok(const osip_message_t *resp, int code)
{
	const char	*s = resp != NULL ? resp->reason_phrase : NULL;
	size_t		 i;

	if (s == NULL || strlen(s) > 64)
		return reason_for(code);
	for (i = 0; s[i] != '\0'; i++)
		if (!isprint((unsigned char)s[i]))
			return reason_for(code);
	return s;
}

/* Codes B's final response becomes for A. */
static int
map_final(int code)
{
	if (code == 401 || code == 407)
		return 403;	/* challenges are never passed on */
	if (code >= 300 && code < 400)
		return 480;	/* we do not pass redirections */
	return code;
}

/* ---- the initial INVITE ------------------------------------------ */

/* SRTP agreed for an offer/answer pair (status, spec 7). */
static void
call_agreed(struct call *c, const struct sdp_info *offer,
    const struct sdp_info *answer)
{
	c->srtp = c->mode == SDP_PASS && offer != NULL &&
	    has_crypto(offer) && has_crypto(answer) &&
	    sdp_srtp_agreed(offer, answer);
	c->suite = c->srtp ? answer_suite(answer) : -1;
}

/* B answered A's INVITE: ACK B, answer A, Call-Info. */
static void
inv_answered(struct call *c, struct xact *x, struct sip_ctrans *ct,
    osip_message_t *resp)
{
	struct leg	*b = &c->leg[LEG_B];
	struct sdp_info	 ans;
	osip_message_t	*ack;
	const char	*sdp;
	size_t		 len;
	int		 hs;

	memset(&ans, 0, sizeof(ans));
	if (sip_dialog_from_2xx(&b->dlg, sip_ctrans_req(ct), resp) != 0 ||
	    (ack = leg_ack(b, resp)) == NULL) {
		call_end(c, -1, 500, "bad 2xx from callee");
		return;
	}
	b->confirmed = 1;
	hs = sipmsg_body_sdp(resp, &sdp, &len);
	if (x->offer) {
		sip_send_stateless(c->bs->ccm, ack, &b->peer);
		if (hs != 1 || sdp_inspect(sdp, len, &ans) != 0) {
			call_end(c, -1, 502, "callee answer without usable SDP");
			goto out;
		}
		call_agreed(c, x->oinfo, &ans);
		if (c->need_srtp && !c->srtp) {
			log_info("call %s %s -> %s: SRTP required by an "
			    "encrypted profile but not agreed", c->sid,
			    c->leg[LEG_A].party, b->party);
			call_end(c, -1, 488, "SRTP not agreed");
			goto out;
		}
	} else {
		/* Late offer: B offered in its 2xx; its ACK waits for A's. */
		x->ack = ack;
		if (hs != 1 || sdp_inspect(sdp, len, &ans) != 0 ||
		    (c->need_srtp && (c->mode != SDP_PASS ||
		    !has_crypto(&ans)))) {
			call_end(c, -1, 488, "callee offer not acceptable");
			goto out;
		}
		if ((x->oinfo = calloc(1, sizeof(*x->oinfo))) != NULL)
			*x->oinfo = ans;
		memset(&ans, 0, sizeof(ans));
	}
	c->up = 1;
	c->tup = time(NULL);
	c->status = call_status(c);
	call_probe_arm(c);
	if (c->c2d != NULL) {
		c2d_answered(c, x, hs == 1 ? sdp : NULL, len);
		goto out;
	}
	if (answer_a(c, 200, "OK", hs == 1 ? sdp : NULL, len) != 0) {
		call_end(c, -1, 500, "answering the caller failed");
		goto out;
	}
	call_log(c, "");
	if (x->offer) {
		send_callinfo(c, LEG_B);
		c->inv = NULL;
		xact_free(x);
	} else
		c->inv = NULL;	/* x waits for A's ACK */
 out:
	sdp_info_clear(&ans);
}

/* Responses to B's INVITE. */
static void
inv_response(struct xact *x, struct sip_ctrans *ct, osip_message_t *resp,
    int code)
{
	struct call	*c = x->call;
	const char	*sdp;
	size_t		 len;
	int		 hs;

	if (code < 200) {
		if (code == 100 || c->inv == NULL)
			return;
		hs = sipmsg_body_sdp(resp, &sdp, &len);
		answer_a(c, code, reason_ok(resp, code), hs == 1 ? sdp : NULL,
		    len);
		return;
	}
	if (code < 300) {
		inv_answered(c, x, ct, resp);
		return;
	}
	code = map_final(code);
	call_end(c, LEG_B, code, code == 408 ? "callee timeout" :
	    "callee refused");
}

/* A's CANCEL (sip.c answered it): cancel B, 487 to A. */
static void
on_cancel(void *arg)
{
	struct call	*c = arg;

	call_end(c, -1, 487, "cancelled");
}

/* ---- re-INVITE / UPDATE / other relays --------------------------- */

/* A CANCEL of a re-INVITE (or Replaces INVITE) we relay. */
static void
xact_on_cancel(void *arg)
{
	struct xact	*x = arg;

	if (x->ct != NULL)
		sip_ctrans_cancel(x->ct);
	xact_reply(x, 487, NULL);
}

/* The answer to a relayed offer came back from leg !x->from. */
static void
offer_answered(struct xact *x, osip_message_t *resp)
{
	struct call	*c = x->call;
	struct leg	*to = &c->leg[!x->from];
	struct sdp_info	 ans;
	osip_message_t	*m = NULL, *ack = NULL;
	const char	*sdp;
	size_t		 len;
	int		 hs, bad, old = c->status;
	char		 v[160];

	memset(&ans, 0, sizeof(ans));
	sip_dialog_target(&to->dlg, resp);
	if (strcmp(x->method, "INVITE") == 0 &&
	    (ack = leg_ack(to, resp)) == NULL) {
		/* Its 2xx cannot be ACKed: the dialog cannot go on. */
		xact_reply(x, 500, NULL);
		xact_free(x);
		call_end(c, -1, 500, "re-INVITE answer not usable");
		return;
	}
	hs = sipmsg_body_sdp(resp, &sdp, &len);
	if (hs == 1 && sdp_inspect(sdp, len, &ans) != 0)
		hs = 0;
	/* An encrypted profile needs SRTP on re-offers too (spec 6.5). */
	bad = 0;
	if (c->need_srtp && hs == 1) {
		if (x->offer) {
			call_agreed(c, x->oinfo, &ans);
			bad = !c->srtp;
		} else
			bad = c->mode != SDP_PASS || !has_crypto(&ans);
	}
	if (bad) {
		log_info("call %s %s -> %s: SRTP required by an encrypted "
		    "profile but not agreed on a re-offer", c->sid,
		    c->leg[LEG_A].party, c->leg[LEG_B].party);
		if (ack != NULL)
			sip_send_stateless(c->bs->ccm, ack, &to->peer);
		xact_reply(x, 488, NULL);
		xact_free(x);
		sdp_info_clear(&ans);
		call_end(c, -1, 488, "SRTP not agreed");
		return;
	}
	if (x->offer) {
		if (ack != NULL)
			sip_send_stateless(c->bs->ccm, ack, &to->peer);
		ack = NULL;
		if (hs == 1)
			call_agreed(c, x->oinfo, &ans);
	} else if (ack != NULL) {
		x->ack = ack;		/* waits for the offerer's ACK */
		if (hs == 1) {
			if ((x->oinfo = calloc(1, sizeof(*x->oinfo))) != NULL)
				*x->oinfo = ans;
			memset(&ans, 0, sizeof(ans));
		}
	}
	c->status = call_status(c);
	if (x->st != NULL && (m = sip_resp_new(x->st, 200, "OK")) != NULL) {
		if (c->leg[x->from].dlg.contact != NULL)
			osip_message_set_contact(m,
			    c->leg[x->from].dlg.contact);
		if (c->status != old && c->leg[x->from].callinfo) {
			callinfo_value(c, x->from, 1, v, sizeof(v));
			sip_add_header(m, "Call-Info", v);
		}
		if (hs == 1 && put_sdp(m, sdp, len, c->mode) != 0) {
			osip_message_free(m);
			m = NULL;
		}
		if (m != NULL)
			sip_resp_send(x->st, m);
		else
			sip_reply(x->st, 500, reason_for(500));
		x->st = NULL;
	}
	if (c->status != old) {
		call_log(c, " (changed)");
		if (x->ack == NULL)
			send_callinfo(c, !x->from);
	}
	sdp_info_clear(&ans);
	if (x->ack == NULL)
		xact_free(x);
}

/* A final non-2xx (or timeout) for a relayed offer. */
static void
offer_failed(struct xact *x, int code, const osip_message_t *resp)
{
	struct call	*c = x->call;
	int		 to = !x->from;

	xact_reply(x, map_final(code), reason_ok(resp, map_final(code)));
	xact_free(x);
	/* RFC 5057: these end the dialog usage. */
	if (code == 481 || code == 408)
		call_end(c, code == 481 ? to : -1, 481, code == 481 ?
		    "dialog gone" : "re-INVITE timeout");
}

/* Pass a final response of a relayed request back (code, body). */
static void
relay_response(struct xact *x, const osip_message_t *resp, int code)
{
	osip_message_t	*m;
	osip_body_t	*b = NULL;
	char		*ct = NULL;
	static const char *const keep[] = { "Expires", "Event",
	    "Subscription-State", NULL };

	code = map_final(code);
	if (x->st == NULL)
		return;
	if (resp == NULL || (m = sip_resp_new(x->st, code,
	    reason_ok(resp, code))) == NULL) {
		xact_reply(x, code, NULL);
		return;
	}
	copy_headers(m, resp, keep);
	if (osip_message_get_body(resp, 0, &b) >= 0 && b != NULL &&
	    b->body != NULL && resp->content_type != NULL &&
	    osip_content_type_to_str(resp->content_type, &ct) == 0) {
		sip_set_body(m, ct, b->body, b->length);
		osip_free(ct);
	}
	sip_resp_send(x->st, m);
	x->st = NULL;
}

/* An orphan INVITE got a 2xx (it crossed our CANCEL): ACK and BYE it. */
static void
orphan_2xx(struct xact *x, struct sip_ctrans *ct, osip_message_t *resp)
{
	struct leg	 l;
	osip_message_t	*m;

	memset(&l, 0, sizeof(l));
	l.peer = x->peer;
	l.trunk = trunk_ref(x->trunk);
	if (sip_dialog_from_2xx(&l.dlg, sip_ctrans_req(ct), resp) == 0) {
		l.dlg.lcseq = (uint32_t)strtoul(resp->cseq->number, NULL, 10);
		if ((m = leg_ack(&l, resp)) != NULL)
			sip_send_stateless(x->bs->ccm, m, &l.peer);
		if ((m = leg_request(&l, "BYE", 0)) != NULL)
			send_local(x->bs, &l, m);
	}
	leg_clear(x->bs, &l);
}

/*
 * The answer to an OPTIONS probe of leg x->from: none (timeout), 408 (a
 * proxy's timeout) or 481 means the dialog is gone (RFC 5057): the call
 * ends, BYE to the other leg.  Anything else (200, 405, 501...) means it
 * lives.
 */
static void
probe_response(struct xact *x, const osip_message_t *resp, int code)
{
	struct call	*c = x->call;
	int		 side = x->from;

	xact_free(x);
	if (resp != NULL && code != 481 && code != 408)
		return;
	if (resp == NULL)
		log_info("call %s %s -> %s: no answer to the OPTIONS probe of "
		    "%s", c->sid, c->leg[LEG_A].party, c->leg[LEG_B].party,
		    c->leg[side].party);
	else
		log_info("call %s %s -> %s: %d to the OPTIONS probe of %s",
		    c->sid, c->leg[LEG_A].party, c->leg[LEG_B].party, code,
		    c->leg[side].party);
	call_end(c, side, 481, resp == NULL ? "probe timeout" :
	    "dialog gone");
}

/* Every response to every request we sent. */
static void
xact_cb(void *arg, struct sip_ctrans *ct, osip_message_t *resp,
    const struct tp_info *info)
{
	struct xact	*x = arg;
	int		 code = resp != NULL ? resp->status_code : 408;

	(void)info;
	if (code < 200) {
		if (x->call != NULL && x->kind == X_INVITE)
			inv_response(x, ct, resp, code);
		return;
	}
	/* An orphan INVITE was cancelled: a challenge ends it. */
	if ((code == 401 || code == 407) && resp != NULL &&
	    (x->call != NULL || strcmp(x->method, "INVITE") != 0) &&
	    xact_auth_retry(x, ct, resp) == 0)
		return;
	x->ct = NULL;			/* ends with this response */
	if (x->call == NULL) {
		if (code < 300 && resp != NULL && strcmp(x->method,
		    "INVITE") == 0)
			orphan_2xx(x, ct, resp);
		if (x->kind == X_RELAY)
			relay_response(x, resp, code);
		xact_free(x);
		return;
	}
	switch (x->kind) {
	case X_INVITE:
		inv_response(x, ct, resp, code);
		break;
	case X_OFFER:
		if (code < 300 && resp != NULL)
			offer_answered(x, resp);
		else
			offer_failed(x, code, resp);
		break;
	case X_RELAY:
		relay_response(x, resp, code);
		xact_free(x);
		break;
	case X_REPLACE:
		if (code < 300 && resp != NULL)
			replace_answered(x, resp);
		else {
			xact_reply(x, map_final(code), reason_ok(resp,
			    map_final(code)));
			xact_free(x);
		}
		break;
	case X_PROBE:
		probe_response(x, resp, code);
		break;
	case X_C2D:
		c2d_phone_response(x, ct, resp, code);
		break;
	default:
		xact_free(x);
		break;
	}
}

/* ---- new calls --------------------------------------------------- */

/* Count a call on a leg's device or trunk; max 0: no limit. */
static int
leg_count_own(struct b2bua_state *bs, struct leg *l, int max)
{
	if (l->trunk != NULL)
		return leg_count(bs, l, "t", trunk_name(l->trunk),
		    max ? TRUNK_CALLS_MAX : 0);
	if (l->device[0] != '\0')
		return leg_count(bs, l, "d", l->device,
		    max ? DEV_CALLS_MAX : 0);
	return 0;
}

/*
 * A leg where we are the UAS (A, or a Replaces INVITE's): a trunk, or
 * a registered phone (its binding).  limit: refuse when its device or
 * trunk has its most calls (503).  0 or a status to refuse with.
 */
static int
setup_uas(struct ccm *ccm, struct leg *a, struct sip_req *req, int limit)
{
	const struct binding	*b = NULL;
	const char		*user = uri_user(req->msg->from != NULL ?
				    req->msg->from->url : NULL);

	if (req->trunk != NULL) {
		a->trunk = trunk_ref(req->trunk);
		a->tls = req->src.tls;
		a->enc = req->src.tls && req->src.encrypted &&
		    trunk_row(req->trunk)->secmode == STORE_SEC_ENCRYPTED;
		a->profile = STORE_SEC_NONSECURE;
		a->callinfo = trunk_transmit_security(req->trunk);
		snprintf(a->party, sizeof(a->party), "%s",
		    sipmsg_party_ok(user) ? user : "anonymous");
	} else {
		if ((b = req_binding(req)) == NULL)
			return 403;
		a->tls = req->src.tls;
		a->enc = req->src.tls && req->src.encrypted;
		a->profile = b->secmode;
		a->callinfo = (b->flags & REG_F_CALLINFO) != 0;
		snprintf(a->device, sizeof(a->device), "%s", b->device);
		snprintf(a->party, sizeof(a->party), "%s", b->aor);
	}
	if (leg_count_own(ccm->b2bua, a, limit) != 0) {
		log_info("b2bua: %s %s has its most calls: 503",
		    a->trunk != NULL ? "trunk" : "device", a->trunk != NULL ?
		    trunk_name(a->trunk) : a->device);
		return 503;
	}
	a->peer = req->src.peer;
	a->dlg.lcseq = CSEQ_START;
	if (sip_dialog_from_request(&a->dlg, req->msg,
	    sip_strans_totag(req->st)) != 0 || a->dlg.target == NULL)
		return 400;
	return 0;
}

/* The calling side of a new call. */
static int
setup_a(struct ccm *ccm, struct call *c, struct sip_req *req)
{
	int	 code;

	c->leg[LEG_A].call = c;
	if ((code = setup_uas(ccm, &c->leg[LEG_A], req, 1)) != 0)
		return code;
	if (req->trunk != NULL)
		c->via_trunk = 1;
	return 0;
}

/* The domain we put in URIs. */
static const char *
our_domain(struct ccm *ccm, const struct tp_info *src)
{
	if (ccm->cfg != NULL && ccm->cfg->domain != NULL &&
	    ccm->cfg->domain[0] != '\0')
		return ccm->cfg->domain;
	return src->local_host[0] != '\0' ? src->local_host : "localhost";
}

/* Transport info for a phone's binding (tmp: for UDP). NULL: gone. */
static const struct tp_info *
phone_info(struct ccm *ccm, const struct binding *bd,
    const struct tp_info *src, struct tp_info *tmp)
{
	if (bd->peer.kind != TP_UDP)
		return tp_info_get(ccm, bd->peer.conn);
	*tmp = *src;
	tmp->peer = bd->peer;
	tmp->tls = tmp->encrypted = 0;
	tmp->cert = NULL;
	return tmp;
}

/*
 * A leg we call on a registered phone (B, or the phone of a click-to-
 * dial); other: the party at the far end, for our Contact.  A device
 * with its most calls is busy (486).
 */
static int
setup_phone_leg(struct ccm *ccm, struct leg *l, const struct binding *bd,
    const struct tp_info *src, const char *other)
{
	const struct tp_info	*ti = NULL;
	struct tp_info		 tmp;
	char			 buf[URI_MAX];
	size_t			 n;

	l->peer = bd->peer;
	l->tls = bd->tls;
	l->enc = bd->tls && bd->encrypted;
	l->profile = bd->secmode;
	l->callinfo = (bd->flags & REG_F_CALLINFO) != 0;
	snprintf(l->device, sizeof(l->device), "%s", bd->device);
	snprintf(l->party, sizeof(l->party), "%s", bd->aor);
	if (leg_count_own(ccm->b2bua, l, 1) != 0) {
		log_info("b2bua: device %s has its most calls: 486",
		    l->device);
		return 486;
	}
	/* The binding's contact, without any <> around it. */
	snprintf(buf, sizeof(buf), "%s", bd->contact + (bd->contact[0] == '<'));
	n = strcspn(buf, ">");
	buf[n] = '\0';
	if ((l->dlg.target = strdup(buf)) == NULL)
		return 500;
	snprintf(buf, sizeof(buf), "<sip:%s@%s>", bd->aor, our_domain(ccm, src));
	if ((l->dlg.rhdr = strdup(buf)) == NULL)
		return 500;
	if ((ti = phone_info(ccm, bd, src, &tmp)) == NULL)
		return 480;		/* its connection is gone */
	return sip_dialog_contact(&l->dlg, ccm, ti, other) == 0 ? 0 : 500;
}

/* The B leg to a trunk: sip:NUMBER@peer. */
static int
setup_b_trunk(struct ccm *ccm, struct call *c, struct trunk *t,
    const char *number, const struct tp_info *src)
{
	struct leg		*b = &c->leg[LEG_B];
	const struct store_trunk *row = trunk_row(t);
	const struct tp_info	*ti = NULL;
	struct tp_info		 tmp;
	char			 host[300], buf[URI_MAX];
	const char		*tp;

	b->trunk = trunk_ref(t);
	snprintf(b->party, sizeof(b->party), "%s", number);
	if (leg_count_own(ccm->b2bua, b, 1) != 0) {
		log_info("b2bua: trunk %s has its most calls: 503",
		    trunk_name(t));
		return 503;
	}
	if (trunk_peer(t, &b->peer) != 0) {
		log_warnx("b2bua: trunk %s: %s", trunk_name(t), uc_errdetail());
		return 503;
	}
	b->tls = row->transport == STORE_TP_TLS;
	b->enc = b->tls && row->secmode == STORE_SEC_ENCRYPTED;
	b->profile = STORE_SEC_NONSECURE;
	b->callinfo = trunk_transmit_security(t);
	c->via_trunk = 1;
	if (strchr(row->peer, ':') != NULL)
		snprintf(host, sizeof(host), "[%s]", row->peer);
	else
		snprintf(host, sizeof(host), "%s", row->peer);
	tp = row->transport == STORE_TP_TLS ? ";transport=tls" :
	    row->transport == STORE_TP_TCP ? ";transport=tcp" : "";
	if (row->port > 0)
		snprintf(buf, sizeof(buf), "sip:%s@%s:%d%s", number, host,
		    row->port, tp);
	else
		snprintf(buf, sizeof(buf), "sip:%s@%s%s", number, host, tp);
	if ((b->dlg.target = strdup(buf)) == NULL)
		return 500;
	snprintf(buf, sizeof(buf), "<sip:%s@%s>", number, host);
	if ((b->dlg.rhdr = strdup(buf)) == NULL)
		return 500;
	if (b->peer.kind != TP_UDP)
		ti = tp_info_get(ccm, b->peer.conn);
	if (ti == NULL) {
		tmp = *src;
		tmp.peer = b->peer;
		tmp.tls = tmp.encrypted = b->tls;
		tmp.cert = NULL;
		ti = &tmp;
	}
	return sip_dialog_contact(&b->dlg, ccm, ti, c->leg[LEG_A].party) == 0 ?
	    0 : 500;
}

/*
 * Our side of a leg we call (UAC): Call-ID, tag, From (party at our
 * domain, with the display name dn if it is plain text).
 */
static int
setup_uac_ids(struct ccm *ccm, struct call *c, struct leg *l,
    const char *party, const char *dn, const struct tp_info *src)
{
	char		 tok[TOKEN_LEN + 1], buf[URI_MAX], name[64];
	size_t		 i, n;
	int		 plain;

	/* The caller's display name, unquoted, if it is plain text. */
	if (dn != NULL && dn[0] == '"')
		dn++;
	n = dn != NULL ? strlen(dn) : 0;
	if (n > 0 && dn[n - 1] == '"')
		n--;
	plain = n > 0 && n < sizeof(name);
	for (i = 0; plain && i < n; i++)
		if (!isprint((unsigned char)dn[i]) || dn[i] == '\\' ||
		    dn[i] == '"')
			plain = 0;
	if (plain) {
		memcpy(name, dn, n);
		name[n] = '\0';
	}
	sip_token(tok, sizeof(tok));
	snprintf(buf, sizeof(buf), "%s@%s", tok, our_domain(ccm, src));
	if ((l->dlg.callid = strdup(buf)) == NULL)
		return -1;
	sip_token(tok, sizeof(tok));
	if ((l->dlg.ltag = strdup(tok)) == NULL)
		return -1;
	if (plain)
		snprintf(buf, sizeof(buf), "\"%s\" <sip:%s@%s>;tag=%s", name,
		    party, our_domain(ccm, src), l->dlg.ltag);
	else
		snprintf(buf, sizeof(buf), "<sip:%s@%s>;tag=%s", party,
		    our_domain(ccm, src), l->dlg.ltag);
	if ((l->dlg.lhdr = strdup(buf)) == NULL)
		return -1;
	l->call = c;
	return 0;
}

/* Our side of B: Call-ID, tag, From (A's party at our domain). */
static int
setup_b_ids(struct ccm *ccm, struct call *c, const char *dn,
    const struct tp_info *src)
{
	return setup_uac_ids(ccm, c, &c->leg[LEG_B], c->leg[LEG_A].party, dn,
	    src);
}

/*
 * Pick B for a dialled number: a registered extension, else a trunk
 * prefix (not for a call that came from a trunk: no hairpin).  0 or a
 * status to refuse with.
 */
static int
route_number(struct ccm *ccm, struct call *c, const char *user,
    const struct tp_info *src, int from_trunk)
{
	const struct binding	*bd;
	struct store_sipdev	 dev;
	struct trunk		*t;

	if (!sipmsg_party_ok(user))
		return 404;
	if ((bd = registrar_lookup(ccm, user)) != NULL)
		return setup_phone_leg(ccm, &c->leg[LEG_B], bd, src,
		    c->leg[LEG_A].party);
	if (store_sipdev_by_ext(ccm->store, user, &dev) == 0)
		return 480;		/* a line, but not registered */
	if (from_trunk)
		return 404;		/* no trunk-to-trunk hairpin */
	if ((t = trunk_route(ccm, user)) == NULL)
		return 404;
	return setup_b_trunk(ccm, c, t, user, src);
}

/*
 * SDES policy at offer time (spec 6.5, 6.6): SDP_PASS only between two
 * encrypted legs; an encrypted profile needs keys it can get.  0, or
 * the status to refuse with.
 */
static int
offer_check(const struct call *c, int mode, int need_srtp,
    const struct leg *fl, const struct leg *tl, const struct sdp_info *offer,
    int have_offer)
{
	if (mode == SDP_STRIP && need_srtp) {
		log_info("call %s %s -> %s: %s profile is encrypted but the "
		    "%s leg is not encrypted TLS: 488", c->sid,
		    c->leg[LEG_A].party, c->leg[LEG_B].party,
		    fl->profile == STORE_SEC_ENCRYPTED ? fl->party : tl->party,
		    fl->enc ? tl->party : fl->party);
		return 488;
	}
	if (have_offer && need_srtp && !has_crypto(offer)) {
		log_info("call %s %s -> %s: SRTP required by an encrypted "
		    "profile but the offer from %s has no keys: 488", c->sid,
		    c->leg[LEG_A].party, c->leg[LEG_B].party, fl->party);
		return 488;
	}
	return 0;
}

static int
offer_policy(struct call *c, const struct sdp_info *offer, int have_offer,
    int from)
{
	return offer_check(c, c->mode, c->need_srtp, &c->leg[from],
	    &c->leg[!from], offer, have_offer);
}

/*
 * Reject a Require we do not support (RFC 3261 8.2.2.3); "replaces"
 * is supported on an INVITE that has a Replaces header.  1: answered.
 */
static int
check_require(struct sip_req *req, int replaces)
{
	osip_header_t	*h;
	osip_message_t	*m;
	const char	*v;
	size_t		 n;
	int		 i;

	for (i = 0; (i = osip_message_header_get_byname(req->msg, "require",
	    i, &h)) >= 0; i++) {
		if (h == NULL || (v = h->hvalue) == NULL)
			continue;
		v += strspn(v, " \t");
		n = strcspn(v, " \t");
		if (replaces && n == 8 && strncasecmp(v, "replaces", 8) == 0)
			continue;
		if ((m = sip_resp_new(req->st, 420, "Bad Extension")) != NULL) {
			sip_add_header(m, "Unsupported", v);
			sip_resp_send(req->st, m);
		}
		return 1;
	}
	return 0;
}

/* Build and send B's INVITE.  0 or a status for A. */
static int
send_b_invite(struct call *c, struct xact *x, const char *sdp, size_t len)
{
	struct leg	*b = &c->leg[LEG_B];
	osip_message_t	*m;

	b->dlg.lcseq = 0;
	if ((m = leg_request(b, "INVITE", 0)) == NULL)
		return 500;
	if (sdp != NULL && put_sdp(m, sdp, len, c->mode) != 0) {
		osip_message_free(m);
		return 500;
	}
	if (xact_send(x, m, &b->peer, b->trunk) != 0)
		return 503;
	return 0;
}

static void
call_sid(struct call *c)
{
	char	 vis[64];
	size_t	 i;

	str_vis(vis, sizeof(vis), c->leg[LEG_A].dlg.callid);
	for (i = 0; i < 8 && vis[i] != '\0' && vis[i] != '@'; i++)
		c->sid[i] = vis[i];
	c->sid[i] = '\0';
}

/* A new call, in bs->calls, with its timer (none if out of memory). */
static struct call *
call_new(struct b2bua_state *bs)
{
	struct call	*c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->bs = bs;
	c->suite = -1;
	c->t0 = time(NULL);
	c->leg[LEG_A].call = c;
	c->leg[LEG_B].call = c;
	TAILQ_INIT(&c->xacts);
	TAILQ_INSERT_TAIL(&bs->calls, c, entry);
	bs->ncalls++;
	if (bs->ccm->base != NULL &&
	    (c->tmr = evtimer_new(bs->ccm->base, call_timer_cb, c)) == NULL)
		log_warnx("b2bua: no timer for a call");
	return c;
}

/* Both legs findable: by dialog, and by connection. */
static void
call_link(struct call *c)
{
	int	 i;

	for (i = LEG_A; i <= LEG_B; i++) {
		dlg_link(c->bs, &c->leg[i]);
		conn_link(c->bs, &c->leg[i]);
	}
}

/*
 * Issue 6 (sipleg.c): may the dialled number be an SCCP line?  Only
 * when it is no live SIP binding and no trunk route (a call from a trunk
 * never hairpins to one, so there only the binding counts).
 */
static int
sccp_candidate(struct ccm *ccm, const struct sip_req *req, const char *user)
{
	return sipmsg_party_ok(user) && registrar_lookup(ccm, user) == NULL &&
	    (req->trunk != NULL || trunk_route(ccm, user) == NULL);
}

/* An out-of-dialog INVITE: a new call. */
static void
invite_new(struct sip_req *req)
{
	struct ccm		*ccm = req->ccm;
	struct b2bua_state	*bs = ccm->b2bua;
	struct call		*c;
	struct xact		*x = NULL;
	struct sdp_info		 offer;
	const char		*sdp, *rep;
	size_t			 len;
	int			 hs, code;

	if ((rep = hdr(req->msg, "replaces", NULL)) != NULL) {
		replaces_invite(req, rep);
		return;
	}
	if (check_require(req, 0))
		return;
	if (bs->ncalls >= CALLS_MAX) {
		log_warnx("b2bua: %d calls: refusing a new one", CALLS_MAX);
		sip_reply(req->st, 503, reason_for(503));
		return;
	}
	memset(&offer, 0, sizeof(offer));
	if ((hs = sipmsg_body_sdp(req->msg, &sdp, &len)) < 0) {
		sip_reply(req->st, 415, reason_for(415));
		return;
	}
	if (hs == 1 && sdp_inspect(sdp, len, &offer) != 0) {
		log_info("b2bua: INVITE from %s: %s", req->src.peer_text,
		    uc_errdetail());
		sip_reply(req->st, 488, reason_for(488));
		return;
	}
	if ((c = call_new(bs)) == NULL) {
		sip_reply(req->st, 500, reason_for(500));
		sdp_info_clear(&offer);
		return;
	}
	if ((code = setup_a(ccm, c, req)) != 0)
		goto fail;
	call_sid(c);
	/* Issue 6: the caller passed setup_a; an SCCP line's INVITE goes
	   to sipleg.c (1 = handled there), this call is dropped unsent. */
	if (sccp_candidate(ccm, req, uri_user(req->msg->req_uri)) &&
	    sipleg_incoming(req, uri_user(req->msg->req_uri))) {
		call_free(c);
		sdp_info_clear(&offer);
		return;
	}
	if ((code = route_number(ccm, c, uri_user(req->msg->req_uri),
	    &req->src, req->trunk != NULL)) != 0)
		goto fail;
	if (sip_dialog_contact(&c->leg[LEG_A].dlg, ccm, &req->src,
	    c->leg[LEG_B].party) != 0) {
		code = 500;
		goto fail;
	}
	if (setup_b_ids(ccm, c, req->msg->from != NULL ?
	    req->msg->from->displayname : NULL, &req->src) != 0) {
		code = 500;
		goto fail;
	}
	c->mode = c->leg[LEG_A].enc && c->leg[LEG_B].enc ? SDP_PASS :
	    SDP_STRIP;
	c->need_srtp = c->leg[LEG_A].profile == STORE_SEC_ENCRYPTED ||
	    c->leg[LEG_B].profile == STORE_SEC_ENCRYPTED;
	if ((code = offer_policy(c, &offer, hs == 1, LEG_A)) != 0)
		goto fail;
	if ((x = xact_new(bs, c, X_INVITE, LEG_A, "INVITE")) == NULL) {
		code = 503;
		goto fail;
	}
	x->st = req->st;
	x->offer = hs == 1;
	if (hs == 1 && (x->oinfo = calloc(1, sizeof(*x->oinfo))) != NULL) {
		*x->oinfo = offer;
		memset(&offer, 0, sizeof(offer));
	}
	c->inv = x;
	call_link(c);
	sip_reply(req->st, 100, reason_for(100));
	if ((code = send_b_invite(c, x, hs == 1 ? sdp : NULL, len)) != 0) {
		x->st = NULL;
		goto fail;
	}
	sip_strans_on_cancel(req->st, on_cancel, c);
	call_timer(c, RING_TIMEOUT);
	sdp_info_clear(&offer);
	return;
 fail:
	if (c->leg[LEG_B].party[0] == '\0')
		str_vis(c->leg[LEG_B].party, sizeof(c->leg[LEG_B].party),
		    uri_user(req->msg->req_uri) != NULL ?
		    uri_user(req->msg->req_uri) : "?");
	log_info("call %s %s -> %s refused: %d", c->sid[0] != '\0' ? c->sid :
	    "-", c->leg[LEG_A].party[0] != '\0' ? c->leg[LEG_A].party : "?",
	    c->leg[LEG_B].party, code);
	sip_reply(req->st, code, reason_for(code));
	if (x != NULL)
		xact_free(x);
	call_free(c);
	sdp_info_clear(&offer);
}

/* ---- INVITE with Replaces (RFC 3891) ----------------------------- */

/* "callid;to-tag=T;from-tag=F" -> its parts.  0 or -1. */
static int
replaces_parse(const char *val, char *cid, size_t cidsz, char *tt, size_t ttsz,
    char *ft, size_t ftsz)
{
	const char	*p = val + strspn(val, " \t"), *e;
	size_t		 n;

	n = strcspn(p, "; \t");
	if (n == 0 || n >= cidsz)
		return -1;
	memcpy(cid, p, n);
	cid[n] = '\0';
	*tt = *ft = '\0';
	for (p += n; (p = strchr(p, ';')) != NULL; p = e) {
		p++;
		p += strspn(p, " \t");
		e = p + strcspn(p, ";");
		n = strcspn(p, "; \t");
		if (strncasecmp(p, "to-tag=", 7) == 0 && n - 7 < ttsz) {
			memcpy(tt, p + 7, n - 7);
			tt[n - 7] = '\0';
		} else if (strncasecmp(p, "from-tag=", 9) == 0 &&
		    n - 9 < ftsz) {
			memcpy(ft, p + 9, n - 9);
			ft[n - 9] = '\0';
		}
	}
	return *tt != '\0' && *ft != '\0' ? 0 : -1;
}

/*
 * The other leg answered the re-INVITE a Replaces INVITE caused: the
 * replaced dialog gets a BYE, the new leg takes its place.
 */
static void
replace_answered(struct xact *x, osip_message_t *resp)
{
	struct call	*c = x->call;
	int		 side = x->from, old = c->status, hs;
	struct leg	*o = &c->leg[!side], *n = x->nleg, *l;
	struct sdp_info	 ans;
	osip_message_t	*ack, *m;
	const char	*sdp;
	size_t		 len;
	char		 v[160];

	memset(&ans, 0, sizeof(ans));
	sip_dialog_target(&o->dlg, resp);
	if ((ack = leg_ack(o, resp)) == NULL || x->st == NULL) {
		/* cancelled meanwhile (or no ACK): the call cannot go on */
		if (ack != NULL)
			sip_send_stateless(c->bs->ccm, ack, &o->peer);
		xact_reply(x, 500, NULL);
		xact_free(x);
		call_end(c, -1, 500, "Replaces cancelled");
		return;
	}
	log_info("call %s %s -> %s: %s replaced by %s", c->sid,
	    c->leg[LEG_A].party, c->leg[LEG_B].party, c->leg[side].party,
	    n->party);
	send_bye(c, side);
	leg_clear(c->bs, &c->leg[side]);
	l = &c->leg[side];
	*l = *n;
	free(n);
	x->nleg = NULL;
	l->call = c;
	l->hnext = NULL;
	l->hashed = 0;
	l->cnext = NULL;
	l->clinked = 0;
	l->confirmed = 1;
	dlg_link(c->bs, l);
	conn_link(c->bs, l);
	call_probe_arm(c);
	c->mode = x->mode;
	c->need_srtp = c->leg[LEG_A].profile == STORE_SEC_ENCRYPTED ||
	    c->leg[LEG_B].profile == STORE_SEC_ENCRYPTED;
	c->via_trunk = c->leg[LEG_A].trunk != NULL ||
	    c->leg[LEG_B].trunk != NULL;
	hs = sipmsg_body_sdp(resp, &sdp, &len);
	if (hs == 1 && sdp_inspect(sdp, len, &ans) != 0)
		hs = 0;
	if (x->offer) {
		sip_send_stateless(c->bs->ccm, ack, &o->peer);
		if (hs == 1)
			call_agreed(c, x->oinfo, &ans);
		if (c->need_srtp && !c->srtp) {
			log_info("call %s %s -> %s: SRTP required by an "
			    "encrypted profile but not agreed with %s",
			    c->sid, c->leg[LEG_A].party, c->leg[LEG_B].party,
			    l->party);
			l->confirmed = 0;	/* it gets the 488 */
			xact_reply(x, 488, NULL);
			xact_free(x);
			call_end(c, side, 488, "SRTP not agreed");
			sdp_info_clear(&ans);
			return;
		}
	} else {
		x->ack = ack;		/* waits for the new leg's ACK */
		if (hs == 1 && (x->oinfo = calloc(1, sizeof(*x->oinfo))) !=
		    NULL) {
			*x->oinfo = ans;
			memset(&ans, 0, sizeof(ans));
		}
	}
	c->status = call_status(c);
	if ((m = sip_resp_new(x->st, 200, "OK")) != NULL) {
		if (l->dlg.contact != NULL)
			osip_message_set_contact(m, l->dlg.contact);
		sipmsg_copy_rr(m, sip_strans_req(x->st));
		osip_message_set_allow(m, ALLOW_VALUE);
		if (l->callinfo) {
			callinfo_value(c, side, 1, v, sizeof(v));
			sip_add_header(m, "Call-Info", v);
		}
		if (hs == 1 && put_sdp(m, sdp, len, c->mode) != 0) {
			osip_message_free(m);
			m = NULL;
		}
	}
	if (m != NULL)
		sip_resp_send(x->st, m);
	else
		sip_reply(x->st, 500, reason_for(500));
	x->st = NULL;
	if (c->status != old)
		call_log(c, " (changed)");
	if (x->ack == NULL) {
		if (c->status != old)
			send_callinfo(c, !side);
		xact_free(x);
	}
	sdp_info_clear(&ans);
}

/*
 * INVITE with Replaces (attended transfer, call pickup across a trunk;
 * a trunk's was authorized by trunk_authorize): the named dialog must
 * be a confirmed leg of ours with that remote tag (481 otherwise).  The
 * other leg of its call is re-INVITEd with the new offer; when it
 * answers, the new leg replaces the old one.
 */
static void
replaces_invite(struct sip_req *req, const char *val)
{
	struct ccm		*ccm = req->ccm;
	struct b2bua_state	*bs = ccm->b2bua;
	struct leg		*l, *n = NULL, *o;
	struct call		*c;
	struct xact		*x = NULL, *p;
	struct sdp_info		 offer;
	osip_message_t		*m = NULL;
	char			 cid[256], tt[128], ft[128];
	const char		*sdp;
	size_t			 len;
	int			 hs, code, side, mode, need;

	memset(&offer, 0, sizeof(offer));
	if (check_require(req, 1))
		return;
	if (replaces_parse(val, cid, sizeof(cid), tt, sizeof(tt), ft,
	    sizeof(ft)) != 0 || (l = dlg_find(bs, cid, tt)) == NULL ||
	    l->dlg.rtag == NULL || strcmp(l->dlg.rtag, ft) != 0 ||
	    !l->call->up || !l->call->leg[LEG_A].confirmed ||
	    !l->call->leg[LEG_B].confirmed) {
		log_info("b2bua: INVITE with Replaces from %s: no such "
		    "confirmed dialog: 481", req->src.peer_text);
		sip_reply(req->st, 481, reason_for(481));
		return;
	}
	c = l->call;
	side = l == &c->leg[LEG_A] ? LEG_A : LEG_B;
	o = &c->leg[!side];
	TAILQ_FOREACH(p, &c->xacts, centry)
		if (p->kind == X_OFFER || p->kind == X_INVITE ||
		    p->kind == X_REPLACE) {
			sip_reply(req->st, 491, reason_for(491));
			return;
		}
	code = 500;
	if ((hs = sipmsg_body_sdp(req->msg, &sdp, &len)) < 0) {
		code = 415;
		goto fail;
	}
	if (hs == 1 && sdp_inspect(sdp, len, &offer) != 0) {
		code = 488;
		goto fail;
	}
	if ((n = calloc(1, sizeof(*n))) == NULL)
		goto fail;
	if ((code = setup_uas(ccm, n, req, 0)) != 0)
		goto fail;
	code = 500;
	if (sip_dialog_contact(&n->dlg, ccm, &req->src, o->party) != 0)
		goto fail;
	mode = n->enc && o->enc ? SDP_PASS : SDP_STRIP;
	need = n->profile == STORE_SEC_ENCRYPTED ||
	    o->profile == STORE_SEC_ENCRYPTED;
	if ((code = offer_check(c, mode, need, n, o, &offer, hs == 1)) != 0)
		goto fail;
	code = 500;
	if ((x = xact_new(bs, c, X_REPLACE, side, "INVITE")) == NULL ||
	    (m = leg_request(o, "INVITE", 0)) == NULL ||
	    (hs == 1 && put_sdp(m, sdp, len, mode) != 0))
		goto fail;
	x->nleg = n;
	n = NULL;
	x->mode = mode;
	x->offer = hs == 1;
	if (hs == 1 && (x->oinfo = calloc(1, sizeof(*x->oinfo))) != NULL) {
		*x->oinfo = offer;
		memset(&offer, 0, sizeof(offer));
	}
	x->st = req->st;
	if (xact_send(x, m, &o->peer, o->trunk) != 0) {
		m = NULL;
		x->st = NULL;
		code = 503;
		goto fail;
	}
	sip_strans_on_cancel(req->st, xact_on_cancel, x);
	sdp_info_clear(&offer);
	return;
 fail:
	sip_reply(req->st, code, reason_for(code));
	osip_message_free(m);
	xact_free(x);
	if (n != NULL) {
		leg_clear(bs, n);
		free(n);
	}
	sdp_info_clear(&offer);
}

/* ---- in-dialog requests ------------------------------------------ */

/* A re-INVITE or UPDATE with (or, for INVITE, without) an offer. */
static void
relay_offer(struct call *c, int from, struct sip_req *req)
{
	struct leg	*to = &c->leg[!from];
	struct xact	*x, *p;
	struct sdp_info	 offer;
	osip_message_t	*m = NULL;
	const char	*sdp, *meth = req->msg->sip_method;
	size_t		 len;
	int		 hs, code;

	memset(&offer, 0, sizeof(offer));
	TAILQ_FOREACH(p, &c->xacts, centry)
		if (p->kind == X_OFFER || p->kind == X_INVITE ||
		    p->kind == X_REPLACE) {
			sip_reply(req->st, 491, reason_for(491));
			return;
		}
	if ((hs = sipmsg_body_sdp(req->msg, &sdp, &len)) < 0) {
		sip_reply(req->st, 415, reason_for(415));
		return;
	}
	if (hs == 1 && sdp_inspect(sdp, len, &offer) != 0) {
		sip_reply(req->st, 488, reason_for(488));
		return;
	}
	if ((code = offer_policy(c, &offer, hs == 1, from)) != 0) {
		sip_reply(req->st, code, reason_for(code));
		sdp_info_clear(&offer);
		return;
	}
	sip_dialog_target(&c->leg[from].dlg, req->msg);
	if ((x = xact_new(c->bs, c, X_OFFER, from, meth)) == NULL ||
	    (m = leg_request(to, meth, 0)) == NULL ||
	    (hs == 1 && put_sdp(m, sdp, len, c->mode) != 0)) {
		osip_message_free(m);
		xact_free(x);
		sip_reply(req->st, 500, reason_for(500));
		sdp_info_clear(&offer);
		return;
	}
	x->st = req->st;
	x->offer = hs == 1;
	if (hs == 1 && (x->oinfo = calloc(1, sizeof(*x->oinfo))) != NULL) {
		*x->oinfo = offer;
		memset(&offer, 0, sizeof(offer));
	}
	if (xact_send(x, m, &to->peer, to->trunk) != 0) {
		xact_reply(x, 500, NULL);
		xact_free(x);
	} else if (strcmp(meth, "INVITE") == 0)
		sip_strans_on_cancel(x->st, xact_on_cancel, x);
	sdp_info_clear(&offer);
}

#define RELAY_ACCEPT	"application/dtmf-relay, application/dtmf, " \
			"text/plain, application/media_control+xml"
#define NOTIFY_ACCEPT	"message/sipfrag, application/simple-message-summary"

/*
 * May a request's body be relayed (finding: allow-list, others 415)?
 * NOTIFY: REFER progress (message/sipfrag) and MWI; everything else:
 * DTMF, text, and video fast-update.  1: yes, or no body; 0: no.
 */
static int
body_allowed(const osip_message_t *m)
{
	static const char *const relay[] = { "application/dtmf-relay",
	    "application/dtmf", "text/plain",
	    "application/media_control+xml", NULL };
	static const char *const notify[] = { "message/sipfrag",
	    "application/simple-message-summary", NULL };
	const osip_content_type_t *ct = m->content_type;
	const char *const	*l;
	osip_body_t		*b = NULL;
	size_t			 n;

	if (osip_message_get_body(m, 0, &b) < 0 || b == NULL ||
	    b->body == NULL || b->length == 0)
		return 1;
	if (ct == NULL || ct->type == NULL || ct->subtype == NULL)
		return 0;
	l = strcmp(m->sip_method, "NOTIFY") == 0 ? notify : relay;
	for (; *l != NULL; l++) {
		n = strlen(ct->type);
		if (strncasecmp(*l, ct->type, n) == 0 && (*l)[n] == '/' &&
		    strcasecmp(*l + n + 1, ct->subtype) == 0)
			return 1;
	}
	return 0;
}

/* 415 with the types we relay for this method. */
static void
reply_415(struct sip_req *req)
{
	osip_message_t	*r;

	if ((r = sip_resp_new(req->st, 415, reason_for(415))) == NULL)
		return;
	sip_add_header(r, "Accept", strcmp(req->msg->sip_method, "NOTIFY") ==
	    0 ? NOTIFY_ACCEPT : RELAY_ACCEPT);
	sip_resp_send(req->st, r);
}

/* INFO, REFER, NOTIFY, MESSAGE, SUBSCRIBE, UPDATE without SDP: relay. */
static void
relay_request(struct call *c, int from, struct sip_req *req)
{
	static const char *const keep[] = { "Event", "Subscription-State",
	    "Refer-To", "Referred-By", "Info-Package", "Recv-Info",
	    "Expires", "Accept", "Content-Disposition", NULL };
	struct leg	*to = &c->leg[!from];
	struct xact	*x;
	osip_message_t	*m;
	osip_body_t	*b = NULL;
	char		*ct = NULL;

	if (!body_allowed(req->msg)) {
		reply_415(req);
		return;
	}
	if (strcmp(req->msg->sip_method, "REFER") == 0 ||
	    strcmp(req->msg->sip_method, "SUBSCRIBE") == 0 ||
	    strcmp(req->msg->sip_method, "NOTIFY") == 0 ||
	    strcmp(req->msg->sip_method, "UPDATE") == 0)
		sip_dialog_target(&c->leg[from].dlg, req->msg);
	if ((x = xact_new(c->bs, c, X_RELAY, from,
	    req->msg->sip_method)) == NULL ||
	    (m = leg_request(to, req->msg->sip_method, 0)) == NULL) {
		xact_free(x);
		sip_reply(req->st, 500, reason_for(500));
		return;
	}
	copy_headers(m, req->msg, keep);
	if (osip_message_get_body(req->msg, 0, &b) >= 0 && b != NULL &&
	    b->body != NULL && req->msg->content_type != NULL &&
	    osip_content_type_to_str(req->msg->content_type, &ct) == 0) {
		sip_set_body(m, ct, b->body, b->length);
		osip_free(ct);
	}
	x->st = req->st;
	if (xact_send(x, m, &to->peer, to->trunk) != 0) {
		xact_reply(x, 500, NULL);
		xact_free(x);
	}
}

/* A's (or B's) ACK: the late-offer ACK it releases, if any. */
static void
in_dialog_ack(struct call *c, int from, struct sip_req *req)
{
	struct xact	*x;
	struct sdp_info	 ans;
	const char	*sdp;
	size_t		 len;
	int		 old = c->status, to = !from, initial;

	memset(&ans, 0, sizeof(ans));
	TAILQ_FOREACH(x, &c->xacts, centry)
		if (x->ack != NULL && x->from == from && x->kind != X_C2D)
			break;
	if (x == NULL)
		return;			/* absorbed */
	if (sipmsg_body_sdp(req->msg, &sdp, &len) == 1 &&
	    put_sdp(x->ack, sdp, len, c->mode) == 0 &&
	    sdp_inspect(sdp, len, &ans) == 0)
		call_agreed(c, x->oinfo, &ans);
	sdp_info_clear(&ans);
	sip_send_stateless(c->bs->ccm, x->ack, &c->leg[to].peer);
	x->ack = NULL;
	initial = x->kind == X_INVITE;
	xact_free(x);
	c->status = call_status(c);
	if (c->need_srtp && !c->srtp) {
		log_info("call %s %s -> %s: SRTP required by an encrypted "
		    "profile but not agreed", c->sid, c->leg[LEG_A].party,
		    c->leg[LEG_B].party);
		call_end(c, -1, 488, "SRTP not agreed");
		return;
	}
	if (c->status != old)
		call_log(c, " (changed)");
	if (c->status != old || initial)
		send_callinfo(c, to);
	/* The ACK's sender saw the old status in its 200 (late offer). */
	if (c->status != old)
		send_callinfo(c, from);
}

static void
in_dialog(struct sip_req *req)
{
	struct ccm	*ccm = req->ccm;
	struct leg	*l;
	struct call	*c;
	const char	*m = req->msg->sip_method;
	char		 cid[256];
	int		 from;

	if (sipmsg_callid(req->msg, cid, sizeof(cid)) != 0 ||
	    (l = dlg_find(ccm->b2bua, cid, sipmsg_tag(req->msg->to))) == NULL) {
		if (req->st != NULL)
			sip_reply(req->st, 481, reason_for(481));
		return;
	}
	switch (leg_source_ok(ccm, l, req)) {
	case 1:
		break;
	case 0:
		log_info("b2bua: %s for a dialog of %s from %s: not its peer",
		    strcmp(m, "ACK") == 0 ? "ACK" : "request", l->party,
		    req->src.peer_text);
		if (req->st != NULL)
			sip_reply(req->st, 403, reason_for(403));
		return;
	default:
		if (req->st != NULL)	/* the call (l too) is gone */
			sip_reply(req->st, 481, reason_for(481));
		return;
	}
	c = l->call;
	from = l == &c->leg[LEG_A] ? LEG_A : LEG_B;
	if (strcmp(m, "ACK") == 0) {
		in_dialog_ack(c, from, req);
		return;
	}
	if (req->st == NULL)
		return;
	if (strcmp(m, "BYE") == 0) {
		sip_reply(req->st, 200, reason_for(200));
		call_end(c, from, 487, "bye");
		return;
	}
	if (strcmp(m, "OPTIONS") == 0) {
		sip_reply(req->st, 200, reason_for(200));
		return;
	}
	if (strcmp(m, "PRACK") == 0) {
		sip_reply(req->st, 481, reason_for(481));
		return;
	}
	if (!c->leg[!from].confirmed || !c->leg[from].confirmed) {
		sip_reply(req->st, strcmp(m, "INVITE") == 0 ||
		    strcmp(m, "UPDATE") == 0 ? 491 : 481, NULL);
		return;
	}
	if (strcmp(m, "INVITE") == 0) {
		relay_offer(c, from, req);
		return;
	}
	if (strcmp(m, "UPDATE") == 0) {
		const char	*sdp;
		size_t		 len;

		if (sipmsg_body_sdp(req->msg, &sdp, &len) != 0)
			relay_offer(c, from, req);
		else
			relay_request(c, from, req);
		return;
	}
	if (strcmp(m, "INFO") == 0 || strcmp(m, "REFER") == 0 ||
	    strcmp(m, "NOTIFY") == 0 || strcmp(m, "MESSAGE") == 0 ||
	    strcmp(m, "SUBSCRIBE") == 0) {
		relay_request(c, from, req);
		return;
	}
	sip_reply(req->st, 501, reason_for(501));
}

/* ---- presence and out-of-dialog NOTIFY --------------------------- */

static const char *
group_of(const struct store_sipdev *d)
{
	return d->presence_group[0] != '\0' ? d->presence_group : "Standard";
}

/* The one NOTIFY of a presence subscription (RFC 3856, PIDF). */
static void
presence_notify(struct sip_req *req, const char *ext, int expires)
{
	struct ccm	*ccm = req->ccm;
	struct leg	 l;
	osip_message_t	*m = NULL;
	char		 cid[256], body[512], state[64];
	int		 n;

	memset(&l, 0, sizeof(l));
	l.peer = req->src.peer;
	snprintf(l.party, sizeof(l.party), "%s", ext);
	if (sipmsg_callid(req->msg, cid, sizeof(cid)) != 0 ||
	    (l.dlg.callid = strdup(cid)) == NULL ||
	    (l.dlg.lhdr = sipmsg_party_text(req->msg->to,
	    sip_strans_totag(req->st))) == NULL ||
	    (l.dlg.rhdr = sipmsg_party_text(req->msg->from, NULL)) == NULL ||
	    sip_dialog_routes(&l.dlg, req->msg, 0) != 0 ||
	    sip_dialog_contact(&l.dlg, ccm, &req->src, ext) != 0)
		goto out;
	sip_dialog_target(&l.dlg, req->msg);
	if (l.dlg.target == NULL &&
	    (l.dlg.target = sipmsg_uri_text(req->msg->from->url)) == NULL)
		goto out;
	if ((m = leg_request(&l, "NOTIFY", 1)) == NULL)
		goto out;
	if (expires > 0)
		snprintf(state, sizeof(state), "active;expires=%d", expires);
	else
		snprintf(state, sizeof(state), "terminated;reason=timeout");
	sip_add_header(m, "Event", "presence");
	sip_add_header(m, "Subscription-State", state);
	n = snprintf(body, sizeof(body),
	    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n"
	    "<presence xmlns=\"urn:ietf:params:xml:ns:pidf\" "
	    "entity=\"sip:%s@%s\">\r\n"
	    "<tuple id=\"line\"><status><basic>%s</basic></status></tuple>\r\n"
	    "</presence>\r\n", ext, our_domain(ccm, &req->src),
	    registrar_lookup(ccm, ext) != NULL ? "open" : "closed");
	if (n < 0 || (size_t)n >= sizeof(body) ||
	    sip_set_body(m, "application/pidf+xml", body, (size_t)n) != 0)
		goto out;
	send_local(ccm->b2bua, &l, m);
	m = NULL;
 out:
	osip_message_free(m);
	leg_clear(ccm->b2bua, &l);
}

/*
 * Out-of-dialog SUBSCRIBE (Event: presence): allowed between devices
 * of one presence group (a trunk was authorized by trunk_authorize);
 * 200 and one NOTIFY with the line's registration state.
 */
static void
presence_subscribe(struct sip_req *req)
{
	struct ccm		*ccm = req->ccm;
	const struct binding	*b;
	struct store_sipdev	 sub, tgt;
	const char		*ev = hdr(req->msg, "event", "o");
	const char		*ext = uri_user(req->msg->req_uri);
	const char		*exp = hdr(req->msg, "expires", NULL);
	osip_message_t		*m;
	char			 buf[16], who[STORE_NAME_MAX];
	long			 expires = SUB_EXPIRES_MAX;

	if (ev == NULL || strncasecmp(ev, "presence", 8) != 0 ||
	    (ev[8] != '\0' && ev[8] != ';' && ev[8] != ' ')) {
		if ((m = sip_resp_new(req->st, 489, "Bad Event")) != NULL) {
			sip_add_header(m, "Allow-Events", "presence");
			sip_resp_send(req->st, m);
		}
		return;
	}
	if (!sipmsg_party_ok(ext) ||
	    store_sipdev_by_ext(ccm->store, ext, &tgt) != 0) {
		sip_reply(req->st, 404, reason_for(404));
		return;
	}
	if (req->trunk != NULL)
		snprintf(who, sizeof(who), "trunk %s", trunk_name(req->trunk));
	else {
		b = req_binding(req);
		if (b == NULL || store_sipdev_get(ccm->store, b->device,
		    &sub) != 0 || strcmp(group_of(&sub), group_of(&tgt)) != 0) {
			log_info("presence: SUBSCRIBE from %s for %s: "
			    "403 (not in its presence group)",
			    req->src.peer_text, ext);
			sip_reply(req->st, 403, reason_for(403));
			return;
		}
		snprintf(who, sizeof(who), "%s", b->device);
	}
	if (exp != NULL) {
		expires = strtol(exp, NULL, 10);
		if (expires < 0)
			expires = 0;
		if (expires > SUB_EXPIRES_MAX)
			expires = SUB_EXPIRES_MAX;
	}
	if ((m = sip_resp_new(req->st, 200, "OK")) == NULL)
		return;
	sipmsg_copy_rr(m, req->msg);
	snprintf(buf, sizeof(buf), "%ld", expires);
	osip_message_set_expires(m, buf);
	if (sip_resp_send(req->st, m) != 0)
		return;
	log_info("presence: %s subscribed to %s for %lds", who, ext, expires);
	presence_notify(req, ext, (int)expires);
}

/* Does an Event value name this package (token before any ';')? */
static int
event_is(const char *ev, const char *pkg)
{
	size_t	 n;

	if (ev == NULL)
		return 0;
	ev += strspn(ev, " \t");
	n = strcspn(ev, "; \t");
	return n == strlen(pkg) && strncasecmp(ev, pkg, n) == 0;
}

/*
 * An unsolicited NOTIFY that trunk_authorize let through: only MWI
 * (Event: message-summary, RFC 3842; others 489) with a
 * simple-message-summary body (others 415), to the phone of the
 * Request-URI's extension, outside any dialog; the phone's final
 * response goes back.
 */
static void
notify_relay(struct sip_req *req)
{
	static const char *const keep[] = { "Event", "Subscription-State",
	    NULL };
	struct ccm		*ccm = req->ccm;
	const struct binding	*bd;
	const char		*ext = uri_user(req->msg->req_uri);
	const char		*fu = uri_user(req->msg->from != NULL ?
				    req->msg->from->url : NULL);
	const struct tp_info	*ti;
	struct tp_info		 tmp;
	struct leg		 l;
	struct xact		*x = NULL;
	osip_message_t		*m = NULL;
	osip_body_t		*b = NULL;
	char			 tok[TOKEN_LEN + 1], buf[URI_MAX], *ct = NULL;
	int			 code = 500;

	memset(&l, 0, sizeof(l));
	if (!event_is(hdr(req->msg, "event", "o"), "message-summary")) {
		log_info("trunk %s: unsolicited NOTIFY for an event other "
		    "than message-summary: 489", trunk_name(req->trunk));
		if ((m = sip_resp_new(req->st, 489, reason_for(489))) != NULL) {
			sip_add_header(m, "Allow-Events", "message-summary");
			sip_resp_send(req->st, m);
		}
		return;
	}
	if (osip_message_get_body(req->msg, 0, &b) >= 0 && b != NULL &&
	    b->length > 0 && (req->msg->content_type == NULL ||
	    req->msg->content_type->type == NULL ||
	    req->msg->content_type->subtype == NULL ||
	    strcasecmp(req->msg->content_type->type, "application") != 0 ||
	    strcasecmp(req->msg->content_type->subtype,
	    "simple-message-summary") != 0)) {
		if ((m = sip_resp_new(req->st, 415, reason_for(415))) != NULL) {
			sip_add_header(m, "Accept",
			    "application/simple-message-summary");
			sip_resp_send(req->st, m);
		}
		return;
	}
	b = NULL;
	if (!sipmsg_party_ok(ext) ||
	    (bd = registrar_lookup(ccm, ext)) == NULL) {
		sip_reply(req->st, 404, reason_for(404));
		return;
	}
	l.peer = bd->peer;
	snprintf(l.party, sizeof(l.party), "%s", bd->aor);
	snprintf(buf, sizeof(buf), "%s", bd->contact + (bd->contact[0] == '<'));
	buf[strcspn(buf, ">")] = '\0';
	if ((l.dlg.target = strdup(buf)) == NULL ||
	    (ti = phone_info(ccm, bd, &req->src, &tmp)) == NULL ||
	    sip_dialog_contact(&l.dlg, ccm, ti,
	    sipmsg_party_ok(fu) ? fu : NULL) != 0)
		goto out;
	sip_token(tok, sizeof(tok));
	snprintf(buf, sizeof(buf), "%s@%s", tok, our_domain(ccm, &req->src));
	if ((l.dlg.callid = strdup(buf)) == NULL)
		goto out;
	sip_token(tok, sizeof(tok));
	snprintf(buf, sizeof(buf), "<sip:%s@%s>;tag=%s",
	    sipmsg_party_ok(fu) ? fu : "ccm", our_domain(ccm, &req->src), tok);
	if ((l.dlg.lhdr = strdup(buf)) == NULL)
		goto out;
	snprintf(buf, sizeof(buf), "<sip:%s@%s>", bd->aor, our_domain(ccm, &req->src));
	if ((l.dlg.rhdr = strdup(buf)) == NULL ||
	    (m = leg_request(&l, "NOTIFY", 1)) == NULL)
		goto out;
	copy_headers(m, req->msg, keep);
	if (osip_message_get_body(req->msg, 0, &b) >= 0 && b != NULL &&
	    b->body != NULL && req->msg->content_type != NULL &&
	    osip_content_type_to_str(req->msg->content_type, &ct) == 0) {
		sip_set_body(m, ct, b->body, b->length);
		osip_free(ct);
	}
	if ((x = xact_new(ccm->b2bua, NULL, X_RELAY, -1, "NOTIFY")) == NULL) {
		code = 503;
		goto out;
	}
	x->st = req->st;
	if (xact_send(x, m, &l.peer, NULL) != 0) {
		m = NULL;
		x->st = NULL;
		xact_free(x);
		goto out;
	}
	m = NULL;
	code = 0;
	log_info("trunk %s: NOTIFY relayed to %s", trunk_name(req->trunk),
	    bd->aor);
 out:
	if (code != 0)
		sip_reply(req->st, code, reason_for(code));
	osip_message_free(m);
	leg_clear(ccm->b2bua, &l);
}

/* ---- click-to-dial (out-of-dialog REFER from a trunk) ------------ */

/* Does a header value hold a comma outside <> and quotes (a list)? */
static int
has_list_comma(const char *v)
{
	int	 angle = 0, quote = 0;

	for (; *v != '\0'; v++) {
		if (quote) {
			if (*v == '\\' && v[1] != '\0')
				v++;
			else if (*v == '"')
				quote = 0;
		} else if (*v == '"')
			quote = 1;
		else if (*v == '<')
			angle = 1;
		else if (*v == '>')
			angle = 0;
		else if (*v == ',' && !angle)
			return 1;
	}
	return 0;
}

/*
 * The number a REFER asks to call: the user part of its one Refer-To
 * sip/sips URI.  0, or the status to refuse with: 400 (no Refer-To,
 * several, or not such a URI), 501 (Replaces: not for click-to-dial).
 */
static int
refer_target(const osip_message_t *msg, char *num, size_t numsz)
{
	static const char *const names[] = { "refer-to", "r", NULL };
	const char *const	*nm;
	osip_header_t		*h = NULL;
	osip_from_t		*f = NULL;
	osip_uri_header_t	*uh;
	const char		*v = NULL, *sch;
	int			 i, n = 0, code = 400;

	for (nm = names; *nm != NULL; nm++)
		for (i = 0; (i = osip_message_header_get_byname(msg, *nm, i,
		    &h)) >= 0; i++) {
			n++;
			v = h != NULL ? h->hvalue : NULL;
		}
	if (n != 1 || v == NULL || has_list_comma(v))
		return 400;
	if (osip_from_init(&f) != 0)
		return 500;
	if (osip_from_parse(f, v) != 0 || f->url == NULL ||
	    (sch = f->url->scheme) == NULL ||
	    (strcasecmp(sch, "sip") != 0 && strcasecmp(sch, "sips") != 0))
		goto out;
	for (i = 0; (uh = osip_list_get(&f->url->url_headers, i)) != NULL;
	    i++)
		if (uh->gname != NULL && strcasecmp(uh->gname,
		    "replaces") == 0) {
			code = 501;
			goto out;
		}
	if (!sipmsg_party_ok(f->url->username) ||
	    strlen(f->url->username) >= numsz)
		goto out;
	snprintf(num, numsz, "%s", f->url->username);
	code = 0;
 out:
	osip_from_free(f);
	return code;
}

/*
 * The phone answered our INVITE (without SDP) with its offer: hold its
 * ACK, and call the target with the offer.  Or it did not answer.
 */
static void
c2d_phone_response(struct xact *x, struct sip_ctrans *ct,
    osip_message_t *resp, int code)
{
	struct call	*c = x->call;
	struct b2bua_state *bs = c->bs;
	struct c2d	*cd = c->c2d;
	struct leg	*a = &c->leg[LEG_A], *b = &c->leg[LEG_B];
	struct sdp_info	 offer;
	struct xact	*nx = NULL;
	osip_message_t	*ack;
	const char	*sdp;
	size_t		 len;
	int		 r;

	memset(&offer, 0, sizeof(offer));
	if (code >= 300 || resp == NULL) {
		xact_free(x);
		call_end(c, LEG_A, map_final(code), "phone did not answer");
		return;
	}
	if (sip_dialog_from_2xx(&a->dlg, sip_ctrans_req(ct), resp) != 0 ||
	    (ack = leg_ack(a, resp)) == NULL) {
		xact_free(x);
		call_end(c, -1, 502, "bad 2xx from the phone");
		return;
	}
	a->confirmed = 1;
	/* x holds the ACK now; call_end sends it (bare) if need be. */
	c->inv = NULL;
	x->ack = ack;
	x->from = LEG_B;
	cd->pack = x;
	if (sipmsg_body_sdp(resp, &sdp, &len) != 1 ||
	    sdp_inspect(sdp, len, &offer) != 0) {
		call_end(c, -1, 488, "phone answer without a usable offer");
		return;
	}
	r = route_number(bs->ccm, c, cd->target, &cd->src, 0);
	if (r == 0 && setup_b_ids(bs->ccm, c, NULL, &cd->src) != 0)
		r = 500;
	if (r == 0) {
		c->mode = a->enc && b->enc ? SDP_PASS : SDP_STRIP;
		c->need_srtp = a->profile == STORE_SEC_ENCRYPTED ||
		    b->profile == STORE_SEC_ENCRYPTED;
		r = offer_policy(c, &offer, 1, LEG_A);
	}
	if (r == 0 && (nx = xact_new(bs, c, X_INVITE, LEG_A, "INVITE")) ==
	    NULL)
		r = 503;
	if (r == 0) {
		nx->offer = 1;
		if ((nx->oinfo = calloc(1, sizeof(*nx->oinfo))) != NULL) {
			*nx->oinfo = offer;
			memset(&offer, 0, sizeof(offer));
		}
		c->inv = nx;
		dlg_link(bs, b);
		conn_link(bs, b);
		r = send_b_invite(c, nx, sdp, len);
	}
	sdp_info_clear(&offer);
	if (r != 0) {
		call_end(c, -1, r, "target refused");
		return;
	}
	/* The phone's 2xx waits for our ACK: the target rings briefly. */
	call_timer(c, C2D_RING_TIMEOUT);
}

/* The target answered (B is ACKed): the phone gets its ACK and answer. */
static void
c2d_answered(struct call *c, struct xact *x, const char *sdp, size_t len)
{
	struct c2d	*cd = c->c2d;
	struct xact	*p = cd->pack;

	c->inv = NULL;
	xact_free(x);
	if (p == NULL || p->ack == NULL || sdp == NULL ||
	    put_sdp(p->ack, sdp, len, c->mode) != 0) {
		call_end(c, -1, 500, "answering the phone failed");
		return;
	}
	sip_send_stateless(c->bs->ccm, p->ack, &c->leg[LEG_A].peer);
	p->ack = NULL;
	xact_free(p);
	call_log(c, "");
	c2d_notify(c, 200, "OK", 1);
	send_callinfo(c, LEG_A);
	send_callinfo(c, LEG_B);
}

/*
 * An out-of-dialog REFER a trunk may send (trunk_authorize checked the
 * trunk's and the application user's flags): click-to-dial.  The
 * Request-URI's extension is the phone that places the call, the one
 * Refer-To URI's user part the number it calls.  202 and a NOTIFY
 * "100 Trying", then the phone is called (480 instead of 202 when it is
 * not registered); see the top of the file.
 */
static void
refer_c2d(struct sip_req *req)
{
	struct ccm		*ccm = req->ccm;
	struct b2bua_state	*bs = ccm->b2bua;
	const char		*ext = uri_user(req->msg->req_uri);
	const char		*rs = hdr(req->msg, "refer-sub", NULL);
	const struct binding	*bd;
	struct store_sipdev	 dev;
	struct call		*c = NULL;
	struct c2d		*cd;
	struct leg		*a, *sub;
	struct xact		*x = NULL;
	osip_message_t		*m = NULL, *r;
	char			 num[PARTY_MAX];
	int			 code;

	if ((code = refer_target(req->msg, num, sizeof(num))) != 0)
		goto refuse;
	if (!sipmsg_party_ok(ext)) {
		code = 404;
		goto refuse;
	}
	if ((bd = registrar_lookup(ccm, ext)) == NULL) {
		code = store_sipdev_by_ext(ccm->store, ext, &dev) == 0 ?
		    480 : 404;
		goto refuse;
	}
	if (bs->ncalls >= CALLS_MAX) {
		code = 503;
		goto refuse;
	}
	code = 500;
	if ((c = call_new(bs)) == NULL ||
	    (cd = c->c2d = calloc(1, sizeof(*cd))) == NULL)
		goto fail;
	cd->src = req->src;
	cd->src.cert = NULL;
	snprintf(cd->target, sizeof(cd->target), "%s", num);
	/* RFC 4488: the trunk may not want the NOTIFYs. */
	cd->subdone = rs != NULL && strncasecmp(rs + strspn(rs, " \t"),
	    "false", 5) == 0;
	a = &c->leg[LEG_A];
	if ((code = setup_phone_leg(ccm, a, bd, &req->src, num)) != 0)
		goto fail;
	code = 500;
	if (setup_uac_ids(ccm, c, a, num, NULL, &req->src) != 0)
		goto fail;
	call_sid(c);
	snprintf(c->leg[LEG_B].party, sizeof(c->leg[LEG_B].party), "%s", num);
	/* The REFER's dialog, where we are the notifier (its UAS). */
	sub = &cd->sub;
	sub->peer = req->src.peer;
	sub->trunk = trunk_ref(req->trunk);
	sub->dlg.lcseq = CSEQ_START;
	snprintf(sub->party, sizeof(sub->party), "%s", ext);
	if (sip_dialog_from_request(&sub->dlg, req->msg,
	    sip_strans_totag(req->st)) != 0 ||
	    sip_dialog_contact(&sub->dlg, ccm, &req->src, ext) != 0)
		goto fail;
	if (sub->dlg.target == NULL && (sub->dlg.target =
	    sipmsg_uri_text(req->msg->from->url)) == NULL)
		goto fail;
	/* The phone first, without SDP: its 200 carries the offer. */
	code = 503;
	if ((x = xact_new(bs, c, X_C2D, LEG_A, "INVITE")) == NULL ||
	    (m = leg_request(a, "INVITE", 0)) == NULL)
		goto fail;
	dlg_link(bs, a);
	conn_link(bs, a);
	if (xact_send(x, m, &a->peer, NULL) != 0) {
		m = NULL;
		goto fail;
	}
	c->inv = x;
	if ((r = sip_resp_new(req->st, 202, reason_for(202))) != NULL) {
		osip_message_set_contact(r, sub->dlg.contact);
		sipmsg_copy_rr(r, req->msg);
		if (rs != NULL && cd->subdone)
			sip_add_header(r, "Refer-Sub", "false");
		sip_resp_send(req->st, r);
	} else
		sip_reply(req->st, 202, reason_for(202));
	log_info("trunk %s: REFER: click-to-dial call %s %s -> %s",
	    trunk_name(req->trunk), c->sid, a->party, num);
	c2d_notify(c, 100, "Trying", 0);
	call_timer(c, RING_TIMEOUT);
	return;
 fail:
	osip_message_free(m);
	if (x != NULL)
		xact_free(x);
	if (c != NULL)
		call_free(c);
 refuse:
	log_info("trunk %s: REFER (click-to-dial) from %s: %d",
	    trunk_name(req->trunk), req->src.peer_text, code);
	sip_reply(req->st, code, reason_for(code));
}

/* ---- the entry points -------------------------------------------- */

/*
 * Every request but REGISTER and OPTIONS keepalives (sip.c has already
 * authenticated it and, for a trunk, run trunk_authorize).  In-dialog
 * requests are found by (Call-ID, To tag); out-of-dialog INVITE starts
 * a call, SUBSCRIBE is presence, NOTIFY is relayed for trunks.
 */
void
b2bua_request(struct sip_req *req)
{
	const char	*m = req->msg != NULL ? req->msg->sip_method : NULL;
	osip_message_t	*r;

	if (m == NULL || req->ccm->b2bua == NULL) {
		if (req->st != NULL)
			sip_reply(req->st, 500, reason_for(500));
		return;
	}
	/* Spec 5 steps 3-5 (sip.c ran step 1 and 2). */
	if (req->trunk != NULL && trunk_authorize(req) != 0)
		return;
	if (req->in_dialog) {
		/* Issue 6: dialogs of SIP legs of SCCP calls (sipleg.c). */
		if (sipleg_request(req))
			return;
		in_dialog(req);
		return;
	}
	if (req->st == NULL)		/* ACK without a dialog */
		return;
	if (strcmp(m, "INVITE") == 0)
		invite_new(req);
	else if (strcmp(m, "SUBSCRIBE") == 0)
		presence_subscribe(req);
	else if (strcmp(m, "NOTIFY") == 0 && req->trunk != NULL)
		notify_relay(req);
	else if (strcmp(m, "REFER") == 0 && req->trunk != NULL)
		refer_c2d(req);
	else if (strcmp(m, "NOTIFY") == 0 || strcmp(m, "REFER") == 0) {
		log_info("b2bua: out-of-dialog %s from %s: 403", m,
		    req->src.peer_text);
		sip_reply(req->st, 403, reason_for(403));
	} else if (strcmp(m, "OPTIONS") == 0) {
		if ((r = sip_resp_new(req->st, 200, "OK")) != NULL) {
			osip_message_set_allow(r, ALLOW_VALUE);
			sip_resp_send(req->st, r);
		}
	} else if (strcmp(m, "BYE") == 0 || strcmp(m, "UPDATE") == 0 ||
	    strcmp(m, "INFO") == 0 || strcmp(m, "PRACK") == 0)
		sip_reply(req->st, 481, reason_for(481));
	else if ((r = sip_resp_new(req->st, 405, reason_for(405))) != NULL) {
		osip_message_set_allow(r, ALLOW_VALUE);
		sip_resp_send(req->st, r);
	}
}

/*
 * A TCP/TLS connection closed: every call with a leg on it ends (the
 * other leg gets a BYE, or a CANCEL / final response if unanswered).
 */
void
b2bua_conn_closed(struct ccm *ccm, uint64_t conn)
{
	struct b2bua_state	*bs = ccm->b2bua;
	struct leg		*l;
	struct call		*c;

	sipleg_conn_closed(ccm, conn);	/* issue 6: SIP legs of SCCP calls */
	if (bs == NULL || conn == 0)
		return;
	/* Each call_end unlinks at least the leg found: start over. */
	for (;;) {
		for (l = bs->conns[conn_hash(conn)]; l != NULL; l = l->cnext)
			if (l->peer.conn == conn && l->call != NULL)
				break;
		if (l == NULL)
			return;
		c = l->call;
		call_end(c, l == &c->leg[LEG_A] ? LEG_A : LEG_B, 480,
		    "connection closed");
	}
}

size_t
b2bua_count(struct ccm *ccm)
{
	return ccm->b2bua != NULL ? ccm->b2bua->ncalls : 0;
}

int
b2bua_init(struct ccm *ccm)
{
	struct b2bua_state	*bs;

	if ((bs = calloc(1, sizeof(*bs))) == NULL)
		return uc_fail(UC_ERR_ALLOC, "b2bua");
	bs->ccm = ccm;
	TAILQ_INIT(&bs->calls);
	TAILQ_INIT(&bs->xacts);
	ccm->b2bua = bs;
	return 0;
}

/*
 * Free every call and transaction without sending anything.  Must run
 * before sip_free: pending transactions are detached here.
 */
void
b2bua_free(struct ccm *ccm)
{
	struct b2bua_state	*bs = ccm->b2bua;
	struct call		*c;
	struct xact		*x;
	struct ccount		*e;
	size_t			 i;

	if (bs == NULL)
		return;
	while ((x = TAILQ_FIRST(&bs->xacts)) != NULL) {
		if (x->ct != NULL)
			sip_ctrans_detach(x->ct);
		if (x->st != NULL)
			sip_strans_detach(x->st);
		xact_free(x);
	}
	while ((c = TAILQ_FIRST(&bs->calls)) != NULL)
		call_free(c);
	for (i = 0; i < CNT_BUCKETS; i++)	/* all 0 by now */
		while ((e = bs->cnt[i]) != NULL) {
			bs->cnt[i] = e->next;
			free(e);
		}
	free(bs);
	ccm->b2bua = NULL;
}
