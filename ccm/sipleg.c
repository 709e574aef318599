/*
 * A SIP dialog as one leg of a call whose other leg is an SCCP phone
 * (sccp.c owns the call): sccp-security 7.1 rule 8, sip-security 6, 7.
 *
 * Incoming (a SIP phone or a trunk calls an SCCP line): b2bua.c hands
 * over the authenticated INVITE (sipleg_incoming).  Its SDP offer (one
 * audio stream: PCMU, else PCMA; the AES_CM_128_HMAC_SHA1_32 key when
 * the leg is encrypted TLS) becomes a media_desc for sccp_offer_from_sip,
 * which answers through sipleg_ringing, sipleg_answer, sipleg_reject.
 *
 * Outgoing (an SCCP phone calls a SIP extension or a trunk route): an
 * INVITE without SDP (delayed offer: the SIP side's key becomes the SCCP
 * phone's receive key); the offer in the 2xx goes to the owner
 * (answered), whose answer goes in our ACK (sipleg_ack).
 *
 * Keys never cross a leg that is not TLS with a real cipher: there the
 * a=crypto lines of an offer are ignored and it is answered RTP/AVP.  A
 * device whose profile says encrypted gets 488 when SRTP cannot be
 * agreed.  Call status goes to phones that registered X-cisco-callinfo
 * (spec 7): in the 18x/200 of a call they placed, else in an UPDATE
 * once the dialog is confirmed.
 *
 * Lifetimes: a leg is in the dialog table by (Call-ID, our tag) and, on
 * TCP/TLS, in the connection table, until it is freed.  Owner callbacks
 * run with the leg marked busy: a sipleg_hangup inside one is finished
 * when the callback returns.  A leg hung up while its 2xx waits for the
 * ACK lingers without owner until the ACK (or ACK_TIMEOUT), then BYEs.
 * Our client transactions (struct lxact) outlive their leg when they
 * must: a cancelled INVITE (a 2xx that crosses the CANCEL is ACKed and
 * BYEd), a BYE, a re-INVITE.  Trunk legs answer 401/407 (spec 4).
 */
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <ctype.h>
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
#include <osipparser2/sdp_message.h>

#include "ccm.h"
#include "cursor.h"
#include "log.h"
#include "sdp.h"
#include "uerr.h"

#define LEGS_MAX	10000	/* SIP legs at once; more get 503 */
#define LXACTS_MAX	(4 * LEGS_MAX)	/* our client transactions */
#define DLG_BUCKETS	4096	/* dialog hash buckets (power of two) */
#define CONN_BUCKETS	1024	/* legs by connection (power of two) */
#define TOKEN_LEN	16	/* hex digits in our tags and Call-IDs */
#define PARTY_MAX	64	/* an extension or number (URI user part) */
#define DNAME_MAX	64	/* a display name we copy */
#define CSEQ_START	100	/* our first CSeq on an incoming leg */
#define CSEQ_MAX	2147483647u	/* RFC 3261 8.1.1.5 */
#define HP_MAX		300	/* sip_contact_for output */
#define URI_MAX		512	/* a URI or header value we build */
#define SDP_BUF		1024	/* an SDP body we build */
#define SDP_PAD		4	/* NULs after a body given to libosip2 */
#define PTIME_DEF	20	/* ms, when the offer has no a=ptime */
#define PTIME_MAX	200
#define ACK_TIMEOUT	32	/* s: 64*T1 for the ACK of our 2xx */
#define ANSWER_TIMEOUT	32	/* s: the owner's answer to a 2xx offer */
#define RETRY_491_MIN	2100	/* ms: re-INVITE after 491 (RFC 3261
				   14.1, we own the Call-ID or not) */
#define RETRY_491_MAX	3	/* re-INVITEs after 491 in a row */
#define AUTH_TRIES	2	/* trunk challenges answered per request */

#define CALLINFO_URN	"<urn:x-cisco-remotecc:callinfo>"
#define ALLOW_VALUE	"INVITE, ACK, BYE, CANCEL, OPTIONS, UPDATE, INFO"

enum leg_state {
	LS_INCOMING = 0,	/* their INVITE, no final answer yet */
	LS_CALLING,		/* our INVITE, no final answer yet */
	LS_ANSWERED,		/* 2xx sent (ACK due) or got (owner's
				   answer due) */
	LS_CONFIRMED,		/* the dialog is up */
	LS_DONE			/* final error sent; waits for hangup */
};

enum lx_kind {
	LX_INVITE = 0,		/* our initial INVITE */
	LX_REINVITE,		/* our re-INVITE (sipleg_update) */
	LX_LOCAL		/* BYE, Call-Info UPDATE: answers ignored */
};

struct sipleg;

/* One client transaction of ours. */
struct lxact {
	TAILQ_ENTRY(lxact)	 entry;		/* ss->xacts */
	TAILQ_ENTRY(lxact)	 lentry;	/* leg->xacts while leg set */
	struct sipleg_state	*ss;
	struct sipleg		*leg;		/* NULL: the leg is gone */
	struct sip_ctrans	*ct;		/* NULL once final */
	struct trunk		*trunk;		/* reference: challenges */
	struct tp_peer		 peer;		/* where ct went */
	int			 kind;		/* enum lx_kind */
	int			 tries;		/* challenges answered */
};

TAILQ_HEAD(lxactq, lxact);

struct sipleg {
	struct sipleg_state	*ss;
	TAILQ_ENTRY(sipleg)	 entry;		/* ss->legs */
	struct sipleg		*hnext;		/* dialog hash chain */
	int			 hashed;
	struct sipleg		*cnext;		/* connection hash chain */
	int			 clinked;
	struct lxactq		 xacts;		/* ours in flight */
	struct lxact		*inv;		/* INVITE / re-INVITE in flight */
	struct sip_strans	*inv_st;	/* their INVITE until final */
	const struct sipleg_ops	*ops;		/* NULL: no more callbacks */
	void			*arg;
	int			 outgoing;	/* we sent the INVITE */
	int			 state;		/* enum leg_state */
	int			 busy;		/* inside owner callbacks */
	int			 gone;		/* released while busy */
	int			 ended;		/* owner told or hung up */
	int			 zombie;	/* hung up, waits for the ACK */
	int			 rang;		/* ringing reported */
	struct sip_dialog	 dlg;		/* ids, route set, our CSeq */
	uint32_t		 rcseq;		/* their last CSeq (0: none) */
	uint32_t		 inv_cseq;	/* of the INVITE that made it */
	uint32_t		 late_cseq;	/* their re-INVITE without
					   offer: its ACK has the answer */
	struct tp_peer		 peer;		/* where their messages go */
	int			 tls;		/* signalling over TLS */
	int			 enc;		/* TLS with a real cipher */
	int			 profile;	/* enum store_secmode */
	int			 callinfo;	/* wants Call-Info */
	struct trunk		*trunk;		/* a reference, or NULL */
	char			 device[STORE_NAME_MAX];	/* or "" */
	char			 party[PARTY_MAX];	/* far end's number */
	/* media as agreed */
	int			 pt;		/* payload type */
	int			 srtp;		/* SRTP agreed */
	int			 offer_srtp;	/* the pending offer has a key */
	int			 suite;		/* enum srtp_suite */
	uint32_t		 tag;		/* SDES tag to answer with */
	int			 offer_dir;	/* enum sdp_dir of that offer */
	struct media_desc	 local;		/* our side's, with its key */
	int			 have_local;
	int			 local_hold;	/* we hold (sipleg_update) */
	int			 retry;		/* re-INVITE again (491) */
	int			 retries;	/* 491s in a row */
	uint64_t		 sdp_id;	/* o= session id */
	uint32_t		 sdp_ver;	/* o= version */
	uint64_t		 sdp_hash;	/* of the last body (version) */
	int			 status;	/* enum call_security; -1 none */
	int			 status_sent;	/* last in Call-Info; -1 none */
	struct event		*tmr;
	time_t			 t0;
};

struct sipleg_state {
	struct ccm		*ccm;
	TAILQ_HEAD(, sipleg)	 legs;
	struct lxactq		 xacts;
	size_t			 nlegs, nxacts;
	struct sipleg		*dlg[DLG_BUCKETS];
	struct sipleg		*conns[CONN_BUCKETS];
};

/* What one SDP body says about its first active audio stream. */
struct sdp_take {
	struct media_desc	 md;		/* address, pt, ptime; key */
	int			 dir;		/* enum sdp_dir */
	int			 hold;
	int			 savp;
	int			 ncrypto;	/* usable a=crypto lines */
};

/* Our own offer an answer must match (pt, and tag and suite if srtp). */
struct sdp_want {
	int			 pt;
	int			 srtp;
	int			 suite;
	uint32_t		 tag;
};

static void	lx_cb(void *, struct sip_ctrans *, osip_message_t *,
		    const struct tp_info *);
static void	leg_free(struct sipleg *);
static void	leg_end(struct sipleg *, int, const char *);
static void	callinfo_flush(struct sipleg *);
static int	update_send(struct sipleg *);
static void	reinv_answered_late(struct sipleg *, struct sip_req *);
static void	leg_timer_cb(evutil_socket_t, short, void *);

/* ---- small helpers ----------------------------------------------- */

static const char *
reason_for(int code)
{
	switch (code) {
	case 100: return "Trying";
	case 180: return "Ringing";
	case 200: return "OK";
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 408: return "Request Timeout";
	case 415: return "Unsupported Media Type";
	case 480: return "Temporarily Unavailable";
	case 481: return "Call/Transaction Does Not Exist";
	case 486: return "Busy Here";
	case 487: return "Request Terminated";
	case 488: return "Not Acceptable Here";
	case 491: return "Request Pending";
	case 500: return "Server Internal Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 603: return "Decline";
	default:
		if (code < 300)
			return code < 200 ? "Session Progress" : "OK";
		if (code < 500)
			return "Request Failure";
		return code < 600 ? "Server Error" : "Global Failure";
	}
}

/* A display name as plain text (quotes off) into buf; "" if it is not. */
static void
name_plain(const char *dn, char *buf, size_t sz)
{
	size_t	 i, n;

	buf[0] = '\0';
	if (dn == NULL)
		return;
	if (dn[0] == '"')
		dn++;
	n = strlen(dn);
	if (n > 0 && dn[n - 1] == '"')
		n--;
	if (n == 0 || n >= sz)
		return;
	for (i = 0; i < n; i++)
		if (!isprint((unsigned char)dn[i]) || dn[i] == '\\' ||
		    dn[i] == '"')
			return;
	memcpy(buf, dn, n);
	buf[n] = '\0';
}

/* A decimal number (1..10 digits, at most max) through the cursor. */
static int
dec_parse(const char *s, uint32_t max, uint32_t *out)
{
	struct cursor	 c;
	uint64_t	 v = 0;
	size_t		 n = 0;
	uint8_t		 ch;

	if (s == NULL)
		return -1;
	cur_init(&c, (const uint8_t *)s, strlen(s));
	while (cur_left(&c) > 0 && n < 11) {
		ch = cur_u8(&c);
		if (ch < '0' || ch > '9')
			return -1;
		v = v * 10 + (uint64_t)(ch - '0');
		n++;
	}
	if (n == 0 || n > 10 || cur_left(&c) != 0 || v > max)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

/* The CSeq number of a message, or 0. */
static uint32_t
cseq_of(const osip_message_t *m)
{
	uint32_t	 v;

	if (m->cseq == NULL || dec_parse(m->cseq->number, CSEQ_MAX, &v) != 0)
		return 0;
	return v;
}

/* The domain we put in URIs (ti may be NULL). */
static const char *
our_domain(struct ccm *ccm, const struct tp_info *ti)
{
	if (ccm->cfg != NULL && ccm->cfg->domain != NULL &&
	    ccm->cfg->domain[0] != '\0')
		return ccm->cfg->domain;
	return ti != NULL && ti->local_host[0] != '\0' ? ti->local_host :
	    "localhost";
}

static int
challenge_stale(const osip_message_t *resp)
{
	osip_www_authenticate_t	*w;
	int			 i;

	for (i = 0; (w = osip_list_get(&resp->www_authenticates, i)) != NULL;
	    i++)
		if (w->stale != NULL && strcasestr(w->stale, "true") != NULL)
			return 1;
	for (i = 0; (w = osip_list_get(&resp->proxy_authenticates, i)) !=
	    NULL; i++)
		if (w->stale != NULL && strcasestr(w->stale, "true") != NULL)
			return 1;
	return 0;
}

/* ---- SDP in ------------------------------------------------------ */

static void
sdp_attrs_wipe(osip_list_t *l)
{
	sdp_attribute_t	*a;
	int		 i;

	for (i = 0; (a = osip_list_get(l, i)) != NULL; i++) {
		if (a->a_att_field != NULL)
			OPENSSL_cleanse(a->a_att_field, strlen(a->a_att_field));
		if (a->a_att_value != NULL)
			OPENSSL_cleanse(a->a_att_value, strlen(a->a_att_value));
	}
}

static void
sdp_key_wipe(sdp_key_t *k)
{
	if (k != NULL && k->k_keydata != NULL)
		OPENSSL_cleanse(k->k_keydata, strlen(k->k_keydata));
}

/* sdp_message_free after wiping every attribute and key (a=crypto). */
static void
sdp_msg_free(sdp_message_t *sdp)
{
	sdp_media_t	*m;
	int		 i;

	if (sdp == NULL)
		return;
	sdp_attrs_wipe(&sdp->a_attributes);
	sdp_key_wipe(sdp->k_key);
	for (i = 0; (m = osip_list_get(&sdp->m_medias, i)) != NULL; i++) {
		sdp_attrs_wipe(&m->a_attributes);
		sdp_key_wipe(m->k_key);
	}
	sdp_message_free(sdp);
}

/*
 * libosip2's view of a body sdp_inspect accepted (no NUL, size
 * bounded).  The copy ends in a line break and SDP_PAD NULs (see the
 * XXX in sdp.c: libosip2 may read one byte past the NUL).
 */
static int
sdp_msg_load(const char *body, size_t len, sdp_message_t **out)
{
	sdp_message_t	*sdp = NULL;
	char		*p;
	size_t		 n = len, size = len + 2 + SDP_PAD;
	int		 r = -1;

	*out = NULL;
	if ((p = malloc(size)) == NULL)
		return -1;
	memcpy(p, body, len);
	if (len == 0 || body[len - 1] != '\n') {
		p[n++] = '\r';
		p[n++] = '\n';
	}
	memset(p + n, 0, size - n);
	if (sdp_message_init(&sdp) == 0 && sdp_message_parse(sdp, p) == 0) {
		*out = sdp;
		sdp = NULL;
		r = 0;
	}
	sdp_msg_free(sdp);
	OPENSSL_clear_free(p, size);
	return r;
}

/* The c= address of m-line m (else the session's) with port. */
static int
sdp_addr(sdp_message_t *sdp, sdp_media_t *m, int port,
    struct sockaddr_storage *ss)
{
	sdp_connection_t	*c;
	struct sockaddr_in	*s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6	*s6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if ((c = osip_list_get(&m->c_connections, 0)) == NULL)
		c = sdp->c_connection;
	if (c == NULL || c->c_addr == NULL || c->c_addrtype == NULL ||
	    c->c_nettype == NULL || strcmp(c->c_nettype, "IN") != 0)
		return -1;
	if (strcmp(c->c_addrtype, "IP4") == 0 &&
	    inet_pton(AF_INET, c->c_addr, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		return 0;
	}
	if (strcmp(c->c_addrtype, "IP6") == 0 &&
	    inet_pton(AF_INET6, c->c_addr, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		return 0;
	}
	return -1;
}

/* The payload type: want's, else PCMU, else PCMA; -1 none. */
static int
sdp_pick_pt(sdp_media_t *m, const struct sdp_want *want)
{
	const char	*s;
	uint32_t	 v;
	int		 i, has0 = 0, has8 = 0;

	for (i = 0; (s = osip_list_get(&m->m_payloads, i)) != NULL; i++) {
		if (dec_parse(s, 127, &v) != 0)
			continue;
		if (want != NULL && (int)v == want->pt)
			return want->pt;
		has0 |= v == 0;
		has8 |= v == 8;
	}
	if (want != NULL)
		return -1;
	return has0 ? 0 : has8 ? 8 : -1;
}

/* a=ptime of m-line m, or PTIME_DEF. */
static int
sdp_ptime(sdp_media_t *m)
{
	sdp_attribute_t	*a;
	uint32_t	 v;
	int		 i;

	for (i = 0; (a = osip_list_get(&m->a_attributes, i)) != NULL; i++)
		if (a->a_att_field != NULL &&
		    strcmp(a->a_att_field, "ptime") == 0 &&
		    dec_parse(a->a_att_value, PTIME_MAX, &v) == 0 && v > 0)
			return (int)v;
	return PTIME_DEF;
}

/*
 * The key to use from a stream's a=crypto lines (sdp_inspect kept only
 * lines a Cisco phone takes): for an offer, the first
 * AES_CM_128_HMAC_SHA1_32 (7.1 rule 8); for the answer to our offer,
 * exactly one line with our tag and suite.  NULL: none.
 */
static const struct sdes_crypto *
sdp_pick_key(const struct sdp_stream *st, const struct sdp_want *want,
    int allow80)
{
	const struct sdes_crypto	*c, *c80 = NULL;
	int				 i;

	if (want != NULL) {
		if (!want->srtp || st->ncrypto != 1)
			return NULL;
		c = &st->crypto[0];
		return c->tag == want->tag && c->suite == want->suite ? c :
		    NULL;
	}
	/* _32 (what SCCP phones do); _80 only with [sccp] allow_sha1_80. */
	for (i = 0; i < st->ncrypto; i++) {
		c = &st->crypto[i];
		if (c->keysalt_len != sdes_suite_key_len(c->suite) +
		    sdes_suite_salt_len(c->suite))
			continue;
		if (c->suite == SUITE_AES_CM_128_HMAC_SHA1_32)
			return c;
		if (c->suite == SUITE_AES_CM_128_HMAC_SHA1_80 && allow80 &&
		    c80 == NULL)
			c80 = c;
	}
	return c80;
}

/* An offer's usable suites (no keys), for the log: "A,B" or "none". */
static void
suites_text(const struct sdp_stream *st, char *buf, size_t sz)
{
	size_t	 o = 0;
	int	 i, n;

	snprintf(buf, sz, "none");
	for (i = 0; i < st->ncrypto && o < sz; i++) {
		n = snprintf(buf + o, sz - o, "%s%s", i > 0 ? "," : "",
		    sdes_suite_name(st->crypto[i].suite));
		if (n < 0)
			break;
		o += (size_t)n;
	}
}

/* Fill t from m-line idx of a parsed body.  0 or 488. */
static int
sdp_fill(const struct sipleg *l, sdp_message_t *sdp, const struct sdp_info *si,
    int idx, const struct sdp_want *want, struct sdp_take *t)
{
	const struct sdp_stream		*st = &si->media[idx];
	const struct sdes_crypto	*c = NULL;
	sdp_media_t			*m;
	char				 sv[128];

	if ((m = osip_list_get(&sdp->m_medias, idx)) == NULL ||
	    sdp_addr(sdp, m, st->port, &t->md.addr) != 0 ||
	    (t->md.pt = sdp_pick_pt(m, want)) < 0)
		return 488;
	t->md.ptime = sdp_ptime(m);
	t->dir = st->dir;
	t->hold = st->hold;
	t->savp = st->savp;
	t->ncrypto = st->ncrypto;
	/* Keys only from a leg that is encrypted TLS (spec 6.5). */
	if (st->savp && l->enc && (c = sdp_pick_key(st, want,
	    l->ss->ccm->cfg->sccp_sha1_80)) == NULL &&
	    want == NULL) {
		suites_text(st, sv, sizeof(sv));
		log_info("sipleg: RTP/SAVP offer from %s without %s (offered: "
		    "%s)", l->party, sdes_suite_name(
		    SUITE_AES_CM_128_HMAC_SHA1_32), sv);
	}
	if (c != NULL) {
		t->md.srtp = 1;
		t->md.suite = c->suite;
		t->md.crypto_tag = c->tag;
		memcpy(t->md.keysalt, c->keysalt, c->keysalt_len);
		t->md.keysalt_len = c->keysalt_len;
	}
	return 0;
}

/*
 * An SDP body from the far end: an offer (want NULL) or the answer to
 * ours.  Its first active audio stream into *t (media_desc_wipe it).
 * 0, or the SIP status to refuse with (488).
 */
static int
sdp_take(const struct sipleg *l, const char *body, size_t len,
    const struct sdp_want *want, struct sdp_take *t)
{
	struct sdp_info	 si;
	sdp_message_t	*sdp = NULL;
	int		 i, code = 488;

	memset(t, 0, sizeof(*t));
	if (sdp_inspect(body, len, &si) != 0) {
		log_info("sipleg: SDP from %s: %s", l->party, uc_errdetail());
		return 488;
	}
	for (i = 0; i < si.nmedia; i++)
		if (si.media[i].port != 0 &&
		    strcmp(si.media[i].type, "audio") == 0)
			break;
	if (i < si.nmedia && sdp_msg_load(body, len, &sdp) == 0)
		code = sdp_fill(l, sdp, &si, i, want, t);
	if (code != 0) {
		log_info("sipleg: SDP from %s: no usable audio stream (an "
		    "IN IP4/IP6 address, PCMU or PCMA%s)", l->party,
		    want != NULL ? " as offered" : "");
		media_desc_wipe(&t->md);
	}
	sdp_msg_free(sdp);
	sdp_info_clear(&si);
	return code;
}

/* ---- SDP out ----------------------------------------------------- */

static const char *const dir_names[] = {
	"sendrecv", "sendonly", "recvonly", "inactive"
};

/* The direction answering dir, with our own hold. */
static int
dir_answer(int dir, int hold)
{
	int	 d;

	switch (dir) {
	case SDP_SENDONLY:
		d = SDP_RECVONLY;
		break;
	case SDP_RECVONLY:
		d = SDP_SENDONLY;
		break;
	case SDP_INACTIVE:
		d = SDP_INACTIVE;
		break;
	default:
		d = SDP_SENDRECV;
		break;
	}
	if (hold && d == SDP_SENDRECV)
		d = SDP_SENDONLY;
	else if (hold && d == SDP_RECVONLY)
		d = SDP_INACTIVE;
	return d;
}

static const char *
pt_name(int pt)
{
	switch (pt) {
	case 0:
		return "PCMU/8000";
	case 8:
		return "PCMA/8000";
	case 9:
		return "G722/8000";
	case 18:
		return "G729/8000";
	default:
		return NULL;
	}
}

/* "IN IP4 192.0.2.1" parts and the port of an RTP address. */
static int
addr_parts(const struct sockaddr_storage *ss, char *host, size_t hsz,
    const char **type, int *port)
{
	const struct sockaddr_in	*s4 = (const struct sockaddr_in *)ss;
	const struct sockaddr_in6	*s6 = (const struct sockaddr_in6 *)ss;

	if (ss->ss_family == AF_INET &&
	    inet_ntop(AF_INET, &s4->sin_addr, host, hsz) != NULL) {
		*type = "IP4";
		*port = ntohs(s4->sin_port);
		return 0;
	}
	if (ss->ss_family == AF_INET6 &&
	    inet_ntop(AF_INET6, &s6->sin6_addr, host, hsz) != NULL) {
		*type = "IP6";
		*port = ntohs(s6->sin6_port);
		return 0;
	}
	return -1;
}

/* The a=crypto line for md's key with our tag and suite, into buf. */
static int
crypto_line(const struct sipleg *l, const struct media_desc *md, char *buf,
    size_t sz)
{
	struct sdes_crypto	 sc;
	char			 v[SDES_LINE_MAX];
	int			 r = -1, n;

	memset(&sc, 0, sizeof(sc));
	sc.tag = l->tag;
	sc.suite = l->suite;
	if (md->keysalt_len > sizeof(sc.keysalt))
		goto out;
	memcpy(sc.keysalt, md->keysalt, md->keysalt_len);
	sc.keysalt_len = md->keysalt_len;
	if (sdes_format(&sc, v, sizeof(v)) != 0)
		goto out;
	n = snprintf(buf, sz, "a=crypto:%s\r\n", v);
	r = n < 0 || (size_t)n >= sz ? -1 : 0;
 out:
	sdes_wipe(&sc);
	OPENSSL_cleanse(v, sizeof(v));
	return r;
}

/*
 * Our SDP for md (an offer or an answer): one audio stream, payload
 * l->pt, RTP/SAVP with md's key under l->tag and l->suite when l->srtp,
 * else RTP/AVP; direction dir.  The o= version moves when the body
 * does.  *out malloc'd (holds a key: OPENSSL_clear_free it).  0 or -1.
 */
static int
sdp_build(struct sipleg *l, const struct media_desc *md, int dir, char **out,
    size_t *outlen)
{
	char		 host[INET6_ADDRSTRLEN], tail[SDP_BUF], cr[SDP_BUF];
	const char	*type, *name = pt_name(l->pt);
	uint64_t	 h;
	int		 port, n, r = -1;

	*out = NULL;
	cr[0] = '\0';
	if (name == NULL || dir < 0 || dir > SDP_INACTIVE ||
	    addr_parts(&md->addr, host, sizeof(host), &type, &port) != 0 ||
	    (l->srtp && crypto_line(l, md, cr, sizeof(cr)) != 0))
		goto out;
	n = snprintf(tail, sizeof(tail), "s=ccmd\r\nc=IN %s %s\r\nt=0 0\r\n"
	    "m=audio %d RTP/%s %d\r\na=rtpmap:%d %s\r\na=ptime:%d\r\n%s"
	    "a=%s\r\n", type, host, port, l->srtp ? "SAVP" : "AVP", l->pt,
	    l->pt, name, md->ptime > 0 ? md->ptime : PTIME_DEF, cr,
	    dir_names[dir]);
	if (n < 0 || (size_t)n >= sizeof(tail))
		goto out;
	if ((h = sip_hash(tail, (size_t)n)) != l->sdp_hash) {
		l->sdp_ver++;
		l->sdp_hash = h;
	}
	if ((*out = malloc(SDP_BUF * 2)) == NULL)
		goto out;
	n = snprintf(*out, SDP_BUF * 2, "v=0\r\no=ccmd %llu %u IN %s %s\r\n%s",
	    (unsigned long long)l->sdp_id, l->sdp_ver, type, host, tail);
	if (n < 0 || n >= SDP_BUF * 2) {
		OPENSSL_clear_free(*out, SDP_BUF * 2);
		*out = NULL;
		goto out;
	}
	*outlen = (size_t)n;
	r = 0;
 out:
	OPENSSL_cleanse(tail, sizeof(tail));
	OPENSSL_cleanse(cr, sizeof(cr));
	return r;
}

/* Put our SDP for md on m.  0 or -1. */
static int
put_sdp(struct sipleg *l, osip_message_t *m, const struct media_desc *md,
    int dir)
{
	char	*body = NULL;
	size_t	 len = 0;
	int	 r;

	if (sdp_build(l, md, dir, &body, &len) != 0) {
		log_warnx("sipleg: cannot build the SDP for %s", l->party);
		return -1;
	}
	r = sip_set_body(m, "application/sdp", body, len);
	OPENSSL_clear_free(body, SDP_BUF * 2);
	return r == 0 ? 0 : -1;
}

/* Take md as our side's media (key included); srtp as agreed. */
static void
local_set(struct sipleg *l, const struct media_desc *md)
{
	media_desc_wipe(&l->local);
	l->local = *md;
	l->have_local = 1;
}

/* Is md's key one we can send under the agreed suite? */
static int
local_key_ok(const struct sipleg *l, const struct media_desc *md)
{
	return md->srtp && md->keysalt_len ==
	    sdes_suite_key_len(l->suite) + sdes_suite_salt_len(l->suite) &&
	    md->keysalt_len <= sizeof(md->keysalt);
}

/* ---- the tables -------------------------------------------------- */

static uint32_t
dlg_bucket(const char *cid, const char *tag)
{
	uint64_t	 h;

	h = sip_hash(cid, strlen(cid)) ^
	    (sip_hash(tag, strlen(tag)) * 0x9e3779b97f4a7c15ULL);
	return (uint32_t)(h ^ (h >> 32)) & (DLG_BUCKETS - 1);
}

static uint32_t
conn_bucket(uint64_t conn)
{
	return (uint32_t)(sip_hash(&conn, sizeof(conn)) & (CONN_BUCKETS - 1));
}

static void
leg_link(struct sipleg *l)
{
	struct sipleg_state	*ss = l->ss;
	uint32_t		 b;

	if (!l->hashed) {
		b = dlg_bucket(l->dlg.callid, l->dlg.ltag);
		l->hnext = ss->dlg[b];
		ss->dlg[b] = l;
		l->hashed = 1;
	}
	if (!l->clinked && l->peer.kind != TP_UDP && l->peer.conn != 0) {
		b = conn_bucket(l->peer.conn);
		l->cnext = ss->conns[b];
		ss->conns[b] = l;
		l->clinked = 1;
	}
}

static void
leg_unlink_conn(struct sipleg *l)
{
	struct sipleg	**pp;

	if (!l->clinked)
		return;
	for (pp = &l->ss->conns[conn_bucket(l->peer.conn)]; *pp != NULL;
	    pp = &(*pp)->cnext)
		if (*pp == l) {
			*pp = l->cnext;
			break;
		}
	l->clinked = 0;
	l->cnext = NULL;
}

static void
leg_unlink(struct sipleg *l)
{
	struct sipleg	**pp;

	leg_unlink_conn(l);
	if (!l->hashed)
		return;
	for (pp = &l->ss->dlg[dlg_bucket(l->dlg.callid, l->dlg.ltag)];
	    *pp != NULL; pp = &(*pp)->hnext)
		if (*pp == l) {
			*pp = l->hnext;
			break;
		}
	l->hashed = 0;
	l->hnext = NULL;
}

static struct sipleg *
leg_find(struct sipleg_state *ss, const char *cid, const char *tag)
{
	struct sipleg	*l;

	if (cid == NULL || tag == NULL)
		return NULL;
	for (l = ss->dlg[dlg_bucket(cid, tag)]; l != NULL; l = l->hnext)
		if (strcmp(l->dlg.callid, cid) == 0 &&
		    strcmp(l->dlg.ltag, tag) == 0)
			return l;
	return NULL;
}

/* ---- legs -------------------------------------------------------- */

static struct sipleg *
leg_new(struct sipleg_state *ss, int outgoing)
{
	struct sipleg	*l;
	uint32_t	 id = 0;

	if (ss->nlegs >= LEGS_MAX || (l = calloc(1, sizeof(*l))) == NULL)
		return NULL;
	l->ss = ss;
	l->outgoing = outgoing;
	l->state = outgoing ? LS_CALLING : LS_INCOMING;
	l->status = l->status_sent = -1;
	l->suite = SUITE_AES_CM_128_HMAC_SHA1_32;
	l->t0 = time(NULL);
	(void)RAND_bytes((unsigned char *)&id, sizeof(id));
	l->sdp_id = id & 0x7fffffff;
	TAILQ_INIT(&l->xacts);
	if (ss->ccm->base != NULL &&
	    (l->tmr = evtimer_new(ss->ccm->base, leg_timer_cb, l)) == NULL)
		log_warnx("sipleg: no timer for a leg");
	TAILQ_INSERT_TAIL(&ss->legs, l, entry);
	ss->nlegs++;
	return l;
}

/* (Re)arm the leg's timer: ms from now; 0 stops it. */
static void
leg_timer(struct sipleg *l, int ms)
{
	struct timeval	 tv;

	if (l->tmr == NULL)
		return;
	evtimer_del(l->tmr);
	if (ms <= 0)
		return;
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(l->tmr, &tv);
}

static void
lx_free(struct lxact *lx)
{
	struct sipleg	*l = lx->leg;

	if (l != NULL) {
		if (l->inv == lx)
			l->inv = NULL;
		TAILQ_REMOVE(&l->xacts, lx, lentry);
	}
	TAILQ_REMOVE(&lx->ss->xacts, lx, entry);
	lx->ss->nxacts--;
	trunk_unref(lx->trunk);
	free(lx);
}

/* The leg is going: its transactions go on without it. */
static void
lx_orphan_all(struct sipleg *l)
{
	struct lxact	*lx;

	while ((lx = TAILQ_FIRST(&l->xacts)) != NULL) {
		TAILQ_REMOVE(&l->xacts, lx, lentry);
		lx->leg = NULL;
	}
	l->inv = NULL;
}

/* Free a leg now (no message, no callback). */
static void
leg_free(struct sipleg *l)
{
	if (l == NULL)
		return;
	leg_unlink(l);
	lx_orphan_all(l);
	if (l->inv_st != NULL)		/* unanswered: sip.c sends 500 */
		sip_strans_detach(l->inv_st);
	if (l->tmr != NULL)
		event_free(l->tmr);
	sip_dialog_clear(&l->dlg);
	trunk_unref(l->trunk);
	media_desc_wipe(&l->local);
	TAILQ_REMOVE(&l->ss->legs, l, entry);
	l->ss->nlegs--;
	OPENSSL_cleanse(l, sizeof(*l));
	free(l);
}

/* Free now, or when the owner callback we are in returns. */
static void
leg_release(struct sipleg *l)
{
	if (l->busy > 0) {
		l->gone = 1;
		l->ops = NULL;
		return;
	}
	leg_free(l);
}

/* After an owner callback: 0 the leg lives on, -1 it was released. */
static int
leg_back(struct sipleg *l)
{
	l->busy--;
	if (!l->gone)
		return 0;
	if (l->busy == 0)
		leg_free(l);
	return -1;
}

/* The leg's enum call_security (see sipleg_security). */
static int
leg_security(const struct sipleg *l)
{
	if (l->trunk != NULL || !l->tls)
		return CALL_NONSECURE;
	return l->enc && l->srtp ? CALL_ENCRYPTED : CALL_AUTHENTICATED;
}

/* The one log line of a leg's end. */
static void
leg_log(const struct sipleg *l, int code, const char *why)
{
	char	 cid[80];

	log_info("sipleg: %s leg %s %s %s ended: %d (%s) security=%s srtp=%s "
	    "duration=%llds", l->outgoing ? "outgoing" : "incoming",
	    str_vis(cid, sizeof(cid), l->dlg.callid != NULL ? l->dlg.callid :
	    "-"),
	    l->party[0] != '\0' ? l->party : "?", sipleg_peer_name(l), code,
	    why, call_security_name(leg_security(l)),
	    l->srtp ? sdes_suite_name(l->suite) : "none",
	    (long long)(time(NULL) - l->t0));
}

/*
 * The far end or the transport ended the leg: one log line, the owner
 * told (ended), the leg freed.  Nothing is sent.
 */
static void
leg_end(struct sipleg *l, int code, const char *why)
{
	const struct sipleg_ops	*ops = l->ops;
	void			*arg = l->arg;

	if (!l->ended) {
		l->ended = 1;
		leg_log(l, code, why);
	}
	l->ops = NULL;
	l->arg = NULL;
	leg_timer(l, 0);
	if (ops != NULL && ops->ended != NULL) {
		l->busy++;
		ops->ended(arg, code, why);
		l->busy--;
	}
	leg_release(l);
}

/* ---- requests in a dialog ---------------------------------------- */

/* A request in the leg's dialog (cseq 0: our next).  NULL on failure. */
static osip_message_t *
leg_request(struct sipleg *l, const char *method, uint32_t cseq)
{
	return sip_dialog_request(&l->dlg, method, cseq, ALLOW_VALUE);
}

/* ---- our client transactions ------------------------------------- */

static struct lxact *
lx_new(struct sipleg_state *ss, struct sipleg *l, int kind)
{
	struct lxact	*lx;

	if (ss->nxacts >= LXACTS_MAX || (lx = calloc(1, sizeof(*lx))) == NULL)
		return NULL;
	lx->ss = ss;
	lx->leg = l;
	lx->kind = kind;
	TAILQ_INSERT_TAIL(&ss->xacts, lx, entry);
	if (l != NULL)
		TAILQ_INSERT_TAIL(&l->xacts, lx, lentry);
	ss->nxacts++;
	return lx;
}

/* Send m (taken) in lx towards peer; t answers challenges.  0 or -1. */
static int
lx_send(struct lxact *lx, osip_message_t *m, const struct tp_peer *peer,
    struct trunk *t)
{
	lx->peer = *peer;
	if (lx->trunk == NULL && t != NULL)
		lx->trunk = trunk_ref(t);
	if (sip_request_send(lx->ss->ccm, m, peer, lx_cb, lx, &lx->ct) != 0) {
		log_warnx("sipleg: request not sent: %s", uc_errdetail());
		lx->ct = NULL;
		return -1;
	}
	return 0;
}

/* A request whose answer does not matter (BYE, Call-Info UPDATE). */
static void
send_local(struct sipleg_state *ss, const struct tp_peer *peer,
    struct trunk *t, osip_message_t *m)
{
	struct lxact	*lx;

	if (m == NULL)
		return;
	if ((lx = lx_new(ss, NULL, LX_LOCAL)) == NULL) {
		log_warnx("sipleg: %zu transactions: %s not sent",
		    ss->nxacts, m->sip_method);
		osip_message_free(m);
		return;
	}
	if (lx_send(lx, m, peer, t) != 0)
		lx_free(lx);
}

static void
send_bye(struct sipleg *l)
{
	send_local(l->ss, &l->peer, l->trunk, leg_request(l, "BYE", 0));
}

/* ACK for a 2xx to our INVITE with CSeq cseq; body md (may be NULL). */
static void
send_ack(struct sipleg *l, uint32_t cseq, const struct media_desc *md,
    int dir)
{
	osip_message_t	*m;

	if ((m = leg_request(l, "ACK", cseq)) == NULL)
		return;
	if (md != NULL && put_sdp(l, m, md, dir) != 0) {
		osip_message_free(m);
		return;
	}
	sip_send_stateless(l->ss->ccm, m, &l->peer);
}

/*
 * Answer a trunk's 401/407 (spec 4): the same request, CSeq + 1, a new
 * branch; a second challenge only when stale.  0: resent in lx.
 */
static int
lx_auth_retry(struct lxact *lx, struct sip_ctrans *ct,
    const osip_message_t *resp)
{
	osip_message_t	*m = NULL;
	osip_via_t	*v;
	char		 buf[16];
	uint32_t	 cseq;

	if (lx->trunk == NULL || lx->tries >= AUTH_TRIES ||
	    (lx->tries == 1 && !challenge_stale(resp)) ||
	    osip_message_clone(sip_ctrans_req(ct), &m) != 0)
		return -1;
	if (m->cseq == NULL) {
		osip_message_free(m);
		return -1;
	}
	while ((v = osip_list_get(&m->vias, 0)) != NULL) {
		osip_list_remove(&m->vias, 0);	/* sip.c adds a new one */
		osip_via_free(v);
	}
	cseq = cseq_of(m) + 1;
	if (lx->leg != NULL) {
		if (cseq <= lx->leg->dlg.lcseq)
			cseq = lx->leg->dlg.lcseq + 1;
		lx->leg->dlg.lcseq = cseq;
	}
	snprintf(buf, sizeof(buf), "%u", cseq);
	osip_free(m->cseq->number);
	m->cseq->number = osip_strdup(buf);
	if (auth_client_answer(lx->ss->ccm, lx->trunk, m, resp) != 0) {
		log_info("sipleg: trunk %s: %s challenge not answered: %s",
		    trunk_name(lx->trunk), m->sip_method, uc_errdetail());
		osip_message_free(m);
		return -1;
	}
	lx->tries++;
	lx->ct = NULL;
	return lx_send(lx, m, &lx->peer, NULL);
}

/*
 * A 2xx to an INVITE whose leg is gone (it crossed our CANCEL, or our
 * BYE): ACK it, and BYE the dialog an initial INVITE made.
 */
static void
orphan_2xx(struct lxact *lx, struct sip_ctrans *ct, osip_message_t *resp)
{
	struct sipleg	 tmp;

	memset(&tmp, 0, sizeof(tmp));
	tmp.ss = lx->ss;
	tmp.peer = lx->peer;
	tmp.dlg.lcseq = cseq_of(resp);
	if (sip_dialog_from_2xx(&tmp.dlg, sip_ctrans_req(ct), resp) == 0) {
		send_ack(&tmp, tmp.dlg.lcseq, NULL, 0);
		if (lx->kind == LX_INVITE)
			send_local(lx->ss, &tmp.peer, lx->trunk,
			    leg_request(&tmp, "BYE", 0));
	}
	sip_dialog_clear(&tmp.dlg);
}

/* Codes a far end's final becomes for the owner. */
static int
map_final(int code)
{
	if (code == 401 || code == 407)
		return 403;	/* challenges are never passed on */
	if (code >= 300 && code < 400)
		return 480;	/* we do not follow redirections */
	return code;
}

/* ---- outgoing: responses to our INVITE --------------------------- */

/*
 * The 2xx to our INVITE: its offer (delayed offer) goes to the owner,
 * who answers with sipleg_ack.  Without a usable offer: ACK, BYE, end.
 */
static void
inv_answered(struct sipleg *l, struct sip_ctrans *ct, osip_message_t *resp)
{
	struct sdp_take	 t;
	const char	*sdp, *why = "no usable offer in the 2xx";
	size_t		 len;
	int		 code = 488;

	memset(&t, 0, sizeof(t));
	l->inv_cseq = cseq_of(resp);
	if (sip_dialog_from_2xx(&l->dlg, sip_ctrans_req(ct), resp) != 0 ||
	    l->inv_cseq == 0) {
		leg_end(l, 502, "2xx not usable");
		return;
	}
	if (l->inv_cseq > l->dlg.lcseq)
		l->dlg.lcseq = l->inv_cseq;
	l->state = LS_ANSWERED;
	if (sipmsg_body_sdp(resp, &sdp, &len) != 1)
		code = 502;
	else if ((code = sdp_take(l, sdp, len, NULL, &t)) == 0 &&
	    l->profile == STORE_SEC_ENCRYPTED && !t.md.srtp) {
		why = "SRTP required by the encrypted profile, not offered";
		code = 488;
	}
	if (code != 0) {
		send_ack(l, l->inv_cseq, NULL, 0);
		send_bye(l);
		leg_end(l, code, why);
		goto out;
	}
	l->pt = t.md.pt;
	l->offer_srtp = t.md.srtp;
	l->suite = t.md.srtp ? t.md.suite : l->suite;
	l->tag = t.md.crypto_tag;
	l->offer_dir = t.dir;
	leg_timer(l, ANSWER_TIMEOUT * 1000);
	if (l->ops != NULL && l->ops->answered != NULL) {
		l->busy++;
		l->ops->answered(l->arg, &t.md);
		(void)leg_back(l);
	}
 out:
	media_desc_wipe(&t.md);
}

/* A response to our initial INVITE. */
static void
inv_response(struct sipleg *l, struct sip_ctrans *ct, osip_message_t *resp,
    int code)
{
	if (code < 200) {
		if (code == 100 || l->rang || l->ops == NULL ||
		    l->ops->ringing == NULL)
			return;
		l->rang = 1;
		l->busy++;
		l->ops->ringing(l->arg);
		(void)leg_back(l);
		return;
	}
	if (code < 300 && resp != NULL) {
		inv_answered(l, ct, resp);
		return;
	}
	leg_end(l, map_final(code), resp == NULL ? "no answer (timeout)" :
	    "refused by the far end");
}

/* ---- our re-INVITE ----------------------------------------------- */

/*
 * Our re-INVITE (hold / resume / new key) was answered: ACK, and the far
 * end's media (perhaps a new key) to the owner.  A 2xx whose answer does
 * not fit our offer ends the leg (BYE).
 */
static void
reinv_answered(struct sipleg *l, osip_message_t *resp)
{
	struct sdp_want	 w;
	struct sdp_take	 t;
	const char	*sdp;
	size_t		 len;
	int		 code = 488;

	memset(&t, 0, sizeof(t));
	w.pt = l->pt;
	w.srtp = l->srtp;
	w.suite = l->suite;
	w.tag = l->tag;
	sip_dialog_target(&l->dlg, resp);
	send_ack(l, cseq_of(resp), NULL, 0);
	if (sipmsg_body_sdp(resp, &sdp, &len) == 1 &&
	    (code = sdp_take(l, sdp, len, &w, &t)) == 0 && l->srtp &&
	    !t.md.srtp)
		code = 488;
	if (code != 0) {
		send_bye(l);
		leg_end(l, code, "answer to our re-INVITE not usable");
		goto out;
	}
	if (l->ops != NULL && l->ops->media != NULL) {
		l->busy++;
		l->ops->media(l->arg, &t.md, t.hold);
		(void)leg_back(l);
	}
 out:
	media_desc_wipe(&t.md);
}

/*
 * A final non-2xx to our re-INVITE: 491 is tried again later (RFC 3261
 * 14.1, RETRY_491_MAX times); anything else ends the leg (the owner
 * waits for the new media, which will not come): BYE unless 481.
 */
static void
reinv_response(struct sipleg *l, osip_message_t *resp, int code)
{
	if (code < 300 && resp != NULL) {
		l->retries = 0;
		reinv_answered(l, resp);
		return;
	}
	if (code == 491 && l->retries < RETRY_491_MAX) {
		l->retries++;
		l->retry = 1;
		leg_timer(l, RETRY_491_MIN + (int)(sip_hash(&l->t0,
		    sizeof(l->t0)) % 1900));
		return;
	}
	if (resp == NULL)
		code = 408;
	if (code != 481)
		send_bye(l);
	leg_end(l, code, code == 481 ? "dialog gone" : code == 408 ?
	    "re-INVITE timeout" : "re-INVITE refused");
}

/* Every response to every request we sent. */
static void
lx_cb(void *arg, struct sip_ctrans *ct, osip_message_t *resp,
    const struct tp_info *info)
{
	struct lxact	*lx = arg;
	struct sipleg	*l = lx->leg;
	const char	*meth = sip_ctrans_req(ct) != NULL ?
			    sip_ctrans_req(ct)->sip_method : "";
	int		 code = resp != NULL ? resp->status_code : 408;

	(void)info;
	if (code < 200) {
		if (l != NULL && lx->kind == LX_INVITE)
			inv_response(l, ct, resp, code);
		return;
	}
	/* A cancelled INVITE is not retried after a challenge. */
	if ((code == 401 || code == 407) && resp != NULL &&
	    (l != NULL || strcmp(meth, "INVITE") != 0) &&
	    lx_auth_retry(lx, ct, resp) == 0)
		return;
	lx->ct = NULL;
	if (l != NULL && l->inv == lx)
		l->inv = NULL;
	if (l == NULL && code < 300 && resp != NULL &&
	    strcmp(meth, "INVITE") == 0)
		orphan_2xx(lx, ct, resp);
	else if (l != NULL && lx->kind == LX_INVITE)
		inv_response(l, ct, resp, code);
	else if (l != NULL && lx->kind == LX_REINVITE)
		reinv_response(l, resp, code);
	lx_free(lx);
}

/* ---- Call-Info (sip-security 7) ---------------------------------- */

/* The Call-Info value: orientation "to" for a call the phone placed. */
static void
callinfo_value(const struct sipleg *l, int security, char *buf, size_t sz)
{
	const char	*o = l->outgoing ? "from" : "to";

	if (security && l->status >= 0)
		snprintf(buf, sz, CALLINFO_URN ";security=%s;orientation=%s",
		    sipmsg_callinfo_word(l->status), o);
	else
		snprintf(buf, sz, CALLINFO_URN ";orientation=%s", o);
}

/* A changed status to a confirmed dialog: UPDATE without body. */
static void
callinfo_flush(struct sipleg *l)
{
	osip_message_t	*m;
	char		 v[160];

	if (!l->callinfo || l->status < 0 || l->status == l->status_sent ||
	    l->state != LS_CONFIRMED || l->ended ||
	    (m = leg_request(l, "UPDATE", 0)) == NULL)
		return;
	callinfo_value(l, 1, v, sizeof(v));
	sip_add_header(m, "Call-Info", v);
	l->status_sent = l->status;
	send_local(l->ss, &l->peer, l->trunk, m);
}

/* ---- incoming: their INVITE -------------------------------------- */

/* A response on their INVITE (Contact, Record-Route, Call-Info). */
static osip_message_t *
inv_resp_new(struct sipleg *l, int code)
{
	osip_message_t	*m;
	char		 v[160];

	if (l->inv_st == NULL ||
	    (m = sip_resp_new(l->inv_st, code, reason_for(code))) == NULL)
		return NULL;
	if (code < 300) {
		if (l->dlg.contact != NULL)
			osip_message_set_contact(m, l->dlg.contact);
		osip_message_set_allow(m, ALLOW_VALUE);
		if (sipmsg_copy_rr(m, sip_strans_req(l->inv_st)) != 0) {
			osip_message_free(m);
			return NULL;
		}
	}
	if (l->callinfo && code >= 180 && code < 300) {
		callinfo_value(l, code >= 200, v, sizeof(v));
		sip_add_header(m, "Call-Info", v);
		if (code >= 200 && l->status >= 0)
			l->status_sent = l->status;
	}
	return m;
}

/* A final response to their INVITE; the transaction is no longer ours. */
static void
inv_final(struct sipleg *l, int code)
{
	osip_message_t	*m;

	if (l->inv_st == NULL)
		return;
	if ((m = inv_resp_new(l, code)) != NULL)
		sip_resp_send(l->inv_st, m);
	else
		sip_reply(l->inv_st, code, reason_for(code));
	l->inv_st = NULL;
}

/* Their CANCEL (sip.c answered it 200): 487, and the owner told. */
static void
on_cancel(void *arg)
{
	struct sipleg	*l = arg;

	inv_final(l, 487);
	leg_end(l, 487, "cancelled");
}

/* Our side of an incoming leg: the caller's binding or trunk. */
static int
uas_peer(struct sipleg *l, struct sip_req *req)
{
	const struct binding	*b;
	const osip_message_t	*m = req->msg;
	const char		*user = m->from != NULL && m->from->url !=
				    NULL ? m->from->url->username : NULL;

	l->tls = req->src.tls;
	l->peer = req->src.peer;
	if (req->trunk != NULL) {
		l->trunk = trunk_ref(req->trunk);
		l->enc = req->src.tls && req->src.encrypted &&
		    trunk_row(req->trunk)->secmode == STORE_SEC_ENCRYPTED;
		l->profile = STORE_SEC_NONSECURE;
		l->callinfo = trunk_transmit_security(req->trunk);
		snprintf(l->party, sizeof(l->party), "%s",
		    sipmsg_party_ok(user) ? user : "anonymous");
		return 0;
	}
	if ((b = registrar_by_source(req->ccm, &req->src.peer, user)) == NULL)
		return 403;
	l->enc = req->src.tls && req->src.encrypted;
	l->profile = b->secmode;
	l->callinfo = (b->flags & REG_F_CALLINFO) != 0;
	snprintf(l->device, sizeof(l->device), "%s", b->device);
	snprintf(l->party, sizeof(l->party), "%s", b->aor);
	return 0;
}

/* The dialog of an incoming leg (we are the UAS).  0 or a status. */
static int
uas_dialog(struct sipleg *l, struct sip_req *req, const char *ext)
{
	int	 code;

	l->dlg.lcseq = CSEQ_START;
	l->rcseq = l->inv_cseq = cseq_of(req->msg);
	if (l->rcseq == 0)
		return 400;
	if ((code = sip_dialog_from_request(&l->dlg, req->msg,
	    sip_strans_totag(req->st))) != 0)
		return code;
	if (l->dlg.target == NULL)
		return 400;
	if (sip_dialog_contact(&l->dlg, req->ccm, &req->src, ext) != 0)
		return 500;
	return 0;
}

/* The offer of an incoming INVITE.  0 or a status (415, 488). */
static int
uas_offer(struct sipleg *l, struct sip_req *req, struct sdp_take *t)
{
	const char	*sdp;
	size_t		 len;
	int		 hs, code;

	if ((hs = sipmsg_body_sdp(req->msg, &sdp, &len)) < 0)
		return 415;
	if (hs == 0) {
		log_info("sipleg: INVITE from %s without an offer: 488 (an "
		    "SCCP line needs the offer)", l->party);
		return 488;
	}
	if ((code = sdp_take(l, sdp, len, NULL, t)) != 0)
		return code;
	if (l->profile == STORE_SEC_ENCRYPTED && !t->md.srtp) {
		log_info("sipleg: %s profile is encrypted but no %s key %s: "
		    "488", l->party, sdes_suite_name(
		    SUITE_AES_CM_128_HMAC_SHA1_32), l->enc ? "offered" :
		    "(the leg is not encrypted TLS)");
		return 488;
	}
	l->pt = t->md.pt;
	l->offer_srtp = l->srtp = t->md.srtp;
	if (t->md.srtp)
		l->suite = t->md.suite;
	l->tag = t->md.crypto_tag;
	l->offer_dir = t->dir;
	return 0;
}

/* sccp.c takes the offer (or refuses: a status). */
static int
uas_handoff(struct sipleg *l, struct sip_req *req, const char *ext,
    struct sdp_take *t)
{
	const struct sipleg_ops	*ops = NULL;
	void			*arg = NULL;
	char			 name[DNAME_MAX];
	int			 code;

	name_plain(req->msg->from != NULL ? req->msg->from->displayname :
	    NULL, name, sizeof(name));
	l->busy++;
	code = sccp_offer_from_sip(req->ccm, ext, l, &t->md, leg_security(l),
	    l->party, name, &ops, &arg);
	l->busy--;
	if (code != 0) {
		if (code < 300 || code > 699)
			code = 500;
		return code;
	}
	if (l->gone) {			/* answered and gone inside */
		leg_free(l);
		return -1;
	}
	l->ops = ops;
	l->arg = arg;
	if (l->inv_st != NULL)
		sip_strans_on_cancel(l->inv_st, on_cancel, l);
	return 0;
}

/*
 * An INVITE for the SCCP line ext: a new incoming leg.  Once the leg
 * holds the transaction (l->inv_st), req->st is not touched again: a
 * final response may have freed it.
 */
static void
incoming_start(struct sipleg_state *ss, struct sip_req *req, const char *ext)
{
	struct sipleg	*l;
	struct sdp_take	 t;
	int		 code;

	memset(&t, 0, sizeof(t));
	if ((l = leg_new(ss, 0)) == NULL) {
		log_warnx("sipleg: %zu legs: refusing a call to %s",
		    ss->nlegs, ext);
		sip_reply(req->st, 503, reason_for(503));
		return;
	}
	if ((code = uas_peer(l, req)) != 0 ||
	    (code = uas_dialog(l, req, ext)) != 0 ||
	    (code = uas_offer(l, req, &t)) != 0) {
		sip_reply(req->st, code, reason_for(code));
		goto fail;
	}
	l->inv_st = req->st;
	leg_link(l);
	sip_reply(l->inv_st, 100, reason_for(100));
	if ((code = uas_handoff(l, req, ext, &t)) <= 0)
		goto out;		/* sccp.c has it (or freed it) */
	inv_final(l, code);
 fail:
	if (!l->ended) {
		l->ended = 1;
		leg_log(l, code, "refused");
	}
	leg_release(l);
 out:
	media_desc_wipe(&t.md);
}

/* ---- incoming requests in a dialog ------------------------------- */

/*
 * Does an in-dialog request come from the leg's peer?  1 yes, 0 no, -1
 * its phone came back over a less secure transport (the leg ended).
 */
static int
source_ok(struct sipleg *l, const struct sip_req *req)
{
	const struct binding	*b;
	const struct tp_info	*ti = &req->src;
	const osip_message_t	*m = req->msg;
	int			 tls, enc;

	if (l->trunk != NULL)
		return req->trunk != NULL && strcmp(trunk_name(req->trunk),
		    trunk_name(l->trunk)) == 0;
	if (req->src.peer.kind == l->peer.kind && (l->peer.kind != TP_UDP ?
	    req->src.peer.conn == l->peer.conn :
	    req->src.peer.addrlen == l->peer.addrlen &&
	    memcmp(&req->src.peer.addr, &l->peer.addr, l->peer.addrlen) == 0))
		return 1;
	/* The phone reconnected and registered again: follow it. */
	if (l->device[0] == '\0' || (b = registrar_by_source(req->ccm,
	    &req->src.peer, m->from != NULL && m->from->url != NULL ?
	    m->from->url->username : NULL)) == NULL ||
	    strcmp(b->device, l->device) != 0)
		return 0;
	if (req->src.peer.kind != TP_UDP &&
	    (ti = tp_info_get(req->ccm, req->src.peer.conn)) == NULL)
		return 0;
	tls = ti->tls && b->tls;
	enc = tls && ti->encrypted && b->encrypted;
	if ((l->tls && !tls) || (l->enc && !enc))
		return -1;
	leg_unlink_conn(l);
	l->peer = req->src.peer;
	leg_link(l);
	return 1;
}

/* An ACK: for our 2xx to their INVITE, or with a late answer. */
static void
ack_in(struct sipleg *l, struct sip_req *req)
{
	uint32_t	 cseq = cseq_of(req->msg);

	if (l->late_cseq != 0 && cseq == l->late_cseq) {
		l->late_cseq = 0;
		reinv_answered_late(l, req);
		return;
	}
	if (l->outgoing || l->state != LS_ANSWERED || cseq != l->inv_cseq)
		return;			/* absorbed */
	l->state = LS_CONFIRMED;
	leg_timer(l, 0);
	if (l->zombie) {
		send_bye(l);
		leg_release(l);
		return;
	}
	callinfo_flush(l);
	if (l->ops != NULL && l->ops->acked != NULL) {
		l->busy++;
		l->ops->acked(l->arg);
		(void)leg_back(l);
	}
}

/* The answer in the ACK to our offer in a 2xx (their re-INVITE had none). */
static void
reinv_answered_late(struct sipleg *l, struct sip_req *req)
{
	struct sdp_want	 w;
	struct sdp_take	 t;
	const char	*sdp;
	size_t		 len;
	int		 code = 488;

	memset(&t, 0, sizeof(t));
	w.pt = l->pt;
	w.srtp = l->srtp;
	w.suite = l->suite;
	w.tag = l->tag;
	if (sipmsg_body_sdp(req->msg, &sdp, &len) == 1 &&
	    (code = sdp_take(l, sdp, len, &w, &t)) == 0 && l->srtp &&
	    !t.md.srtp)
		code = 488;
	if (code != 0) {
		send_bye(l);
		leg_end(l, code, "answer in the ACK not usable");
		goto out;
	}
	if (l->ops != NULL && l->ops->media != NULL) {
		l->busy++;
		l->ops->media(l->arg, &t.md, t.hold);
		(void)leg_back(l);
	}
 out:
	media_desc_wipe(&t.md);
}

/* 200 to an in-dialog request with our SDP for l->local (dir). */
static void
reply_sdp(struct sipleg *l, struct sip_req *req, int dir)
{
	osip_message_t	*m;

	if ((m = sip_resp_new(req->st, 200, reason_for(200))) == NULL) {
		sip_reply(req->st, 500, reason_for(500));
		return;
	}
	if (l->dlg.contact != NULL)
		osip_message_set_contact(m, l->dlg.contact);
	osip_message_set_allow(m, ALLOW_VALUE);
	if (put_sdp(l, m, &l->local, dir) != 0) {
		osip_message_free(m);
		sip_reply(req->st, 500, reason_for(500));
		return;
	}
	sip_resp_send(req->st, m);
}

/*
 * A re-INVITE without an offer: ours goes in the 200 (tag 1, the agreed
 * suite and our current key), their answer comes in the ACK.
 */
static void
reoffer_late(struct sipleg *l, struct sip_req *req)
{
	l->tag = 1;
	l->late_cseq = cseq_of(req->msg);
	reply_sdp(l, req, l->local_hold ? SDP_SENDONLY : SDP_SENDRECV);
}

/*
 * Their re-INVITE or UPDATE with an offer: the new media to the owner,
 * our current media in the 200 (direction mirrored).  SRTP once agreed
 * is kept: an offer without a usable key gets 488 (the call stays).
 */
static void
reoffer_in(struct sipleg *l, struct sip_req *req, const char *sdp, size_t len)
{
	struct sdp_take	 t;
	int		 code;

	memset(&t, 0, sizeof(t));
	if ((code = sdp_take(l, sdp, len, NULL, &t)) == 0 && l->srtp &&
	    !t.md.srtp) {
		log_info("sipleg: %s: re-offer without a usable %s key: 488",
		    l->party, sdes_suite_name(l->suite));
		code = 488;
	}
	if (code != 0) {
		sip_reply(req->st, code, reason_for(code));
		goto out;
	}
	if (!l->srtp) {			/* the call is RTP: no key taken */
		OPENSSL_cleanse(t.md.keysalt, sizeof(t.md.keysalt));
		t.md.keysalt_len = 0;
		t.md.srtp = 0;
	} else
		l->tag = t.md.crypto_tag;
	l->pt = t.md.pt;
	sip_dialog_target(&l->dlg, req->msg);
	reply_sdp(l, req, dir_answer(t.dir, l->local_hold));
	if (l->ops != NULL && l->ops->media != NULL) {
		l->busy++;
		l->ops->media(l->arg, &t.md, t.hold);
		(void)leg_back(l);
	}
 out:
	media_desc_wipe(&t.md);
}

/* re-INVITE or UPDATE from the far end. */
static void
offer_request(struct sipleg *l, struct sip_req *req)
{
	const char	*sdp;
	size_t		 len;
	int		 hs, invite = strcmp(req->msg->sip_method, "INVITE") == 0;

	if ((hs = sipmsg_body_sdp(req->msg, &sdp, &len)) < 0) {
		sip_reply(req->st, 415, reason_for(415));
		return;
	}
	if (hs == 0 && !invite) {	/* UPDATE without SDP */
		sip_dialog_target(&l->dlg, req->msg);
		sip_reply(req->st, 200, reason_for(200));
		return;
	}
	if (l->state != LS_CONFIRMED || l->inv != NULL || !l->have_local ||
	    l->late_cseq != 0) {
		sip_reply(req->st, 491, reason_for(491));
		return;
	}
	if (hs == 0)
		reoffer_late(l, req);
	else
		reoffer_in(l, req, sdp, len);
}

/* A request (not ACK) in a leg's dialog. */
static void
dialog_request(struct sipleg *l, struct sip_req *req)
{
	const char	*m = req->msg->sip_method;
	uint32_t	 cseq = cseq_of(req->msg);

	if (cseq == 0 || (l->rcseq != 0 && cseq <= l->rcseq)) {
		sip_reply(req->st, 500, "CSeq Out Of Order");
		return;
	}
	l->rcseq = cseq;
	if (strcmp(m, "BYE") == 0) {
		sip_reply(req->st, 200, reason_for(200));
		inv_final(l, 487);	/* a BYE in the early dialog */
		leg_end(l, 0, "bye");
		return;
	}
	if (l->ended) {
		sip_reply(req->st, 481, reason_for(481));
		return;
	}
	if (strcmp(m, "INVITE") == 0 || strcmp(m, "UPDATE") == 0)
		offer_request(l, req);
	else if (strcmp(m, "OPTIONS") == 0 || strcmp(m, "INFO") == 0)
		sip_reply(req->st, 200, reason_for(200));
	else if (strcmp(m, "PRACK") == 0)
		sip_reply(req->st, 481, reason_for(481));
	else
		sip_reply(req->st, 501, reason_for(501));
}

/* ---- outgoing: placing the call ---------------------------------- */

/* Towards a registered SIP phone (its binding's connection). */
static int
uac_phone(struct sipleg *l, const struct binding *bd, struct tp_info *tmp,
    const struct tp_info **tip)
{
	struct ccm		*ccm = l->ss->ccm;
	const struct tp_info	*ti;
	char			 buf[URI_MAX];

	if (bd->peer.kind != TP_UDP) {
		if ((ti = tp_info_get(ccm, bd->peer.conn)) == NULL)
			return 480;	/* its connection is gone */
	} else {
		memset(tmp, 0, sizeof(*tmp));
		tmp->peer = bd->peer;
		ti = tmp;
	}
	l->peer = bd->peer;
	l->tls = bd->tls && ti->tls;
	l->enc = l->tls && bd->encrypted && ti->encrypted;
	l->profile = bd->secmode;
	l->callinfo = (bd->flags & REG_F_CALLINFO) != 0;
	snprintf(l->device, sizeof(l->device), "%s", bd->device);
	snprintf(l->party, sizeof(l->party), "%s", bd->aor);
	/* The binding's contact, without any <> around it. */
	snprintf(buf, sizeof(buf), "%s", bd->contact + (bd->contact[0] == '<'));
	buf[strcspn(buf, ">")] = '\0';
	if ((l->dlg.target = strdup(buf)) == NULL)
		return 500;
	snprintf(buf, sizeof(buf), "<sip:%s@%s>", bd->aor, our_domain(ccm, ti));
	if ((l->dlg.rhdr = strdup(buf)) == NULL)
		return 500;
	*tip = ti;
	return 0;
}

/* Towards a trunk: sip:NUMBER@peer (always reported non-secure). */
static int
uac_trunk(struct sipleg *l, struct trunk *t, const char *number,
    struct tp_info *tmp, const struct tp_info **tip)
{
	const struct store_trunk *row = trunk_row(t);
	const struct tp_info	*ti = NULL;
	char			 host[300], buf[URI_MAX];
	const char		*tp;

	l->trunk = trunk_ref(t);
	snprintf(l->party, sizeof(l->party), "%s", number);
	if (trunk_peer(t, &l->peer) != 0) {
		log_warnx("sipleg: trunk %s: %s", trunk_name(t), uc_errdetail());
		return 503;
	}
	l->tls = row->transport == STORE_TP_TLS;
	l->enc = l->tls && row->secmode == STORE_SEC_ENCRYPTED;
	l->profile = STORE_SEC_NONSECURE;
	l->callinfo = trunk_transmit_security(t);
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
	if ((l->dlg.target = strdup(buf)) == NULL)
		return 500;
	snprintf(buf, sizeof(buf), "<sip:%s@%s>", number, host);
	if ((l->dlg.rhdr = strdup(buf)) == NULL)
		return 500;
	if (l->peer.kind != TP_UDP)
		ti = tp_info_get(l->ss->ccm, l->peer.conn);
	if (ti == NULL) {		/* still connecting, or UDP */
		memset(tmp, 0, sizeof(*tmp));
		tmp->peer = l->peer;
		tmp->tls = tmp->encrypted = l->tls;
		ti = tmp;
	}
	*tip = ti;
	return 0;
}

/* Our side of an outgoing leg: Call-ID, tag, From, Contact. */
static int
uac_ids(struct sipleg *l, const char *from, const char *dn,
    const struct tp_info *ti)
{
	struct ccm	*ccm = l->ss->ccm;
	const char	*dom = our_domain(ccm, ti);
	char		 tok[TOKEN_LEN + 1], name[DNAME_MAX], buf[URI_MAX];
	char		 hp[HP_MAX];

	name_plain(dn, name, sizeof(name));
	sip_token(tok, sizeof(tok));
	snprintf(buf, sizeof(buf), "%s@%s", tok, dom);
	if ((l->dlg.callid = strdup(buf)) == NULL)
		return -1;
	sip_token(tok, sizeof(tok));
	if ((l->dlg.ltag = strdup(tok)) == NULL)
		return -1;
	if (name[0] != '\0')
		snprintf(buf, sizeof(buf), "\"%s\" <sip:%s@%s>;tag=%s", name,
		    from, dom, l->dlg.ltag);
	else
		snprintf(buf, sizeof(buf), "<sip:%s@%s>;tag=%s", from, dom,
		    l->dlg.ltag);
	if ((l->dlg.lhdr = strdup(buf)) == NULL ||
	    sip_contact_for(ccm, ti, hp, sizeof(hp)) != 0 ||
	    (size_t)snprintf(buf, sizeof(buf), "<sip:%s@%s>", from, hp) >=
	    sizeof(buf) || (l->dlg.contact = strdup(buf)) == NULL)
		return -1;
	return 0;
}

/* Where ext goes: a SIP phone, else a trunk route.  0 or a status. */
static int
uac_route(struct sipleg *l, const char *ext, struct tp_info *tmp,
    const struct tp_info **tip)
{
	struct ccm		*ccm = l->ss->ccm;
	const struct binding	*bd;
	struct store_sipdev	 dev;
	struct trunk		*t;

	if ((bd = registrar_lookup(ccm, ext)) != NULL)
		return uac_phone(l, bd, tmp, tip);
	if (ccm->store != NULL && store_sipdev_by_ext(ccm->store, ext,
	    &dev) == 0)
		return 480;		/* a line, but not registered */
	if ((t = trunk_route(ccm, ext)) != NULL)
		return uac_trunk(l, t, ext, tmp, tip);
	return 404;
}

/* The INVITE without SDP.  0 or a status. */
static int
uac_send(struct sipleg *l)
{
	struct lxact	*lx;
	osip_message_t	*m;

	if ((m = leg_request(l, "INVITE", 0)) == NULL)
		return 500;
	if ((lx = lx_new(l->ss, l, LX_INVITE)) == NULL) {
		osip_message_free(m);
		return 503;
	}
	if (lx_send(lx, m, &l->peer, l->trunk) != 0) {
		lx_free(lx);
		return 503;
	}
	l->inv = lx;
	return 0;
}

/* ---- the leg's timer --------------------------------------------- */

/*
 * LS_ANSWERED too long: our 2xx got no ACK (BYE), or the owner never
 * answered the offer in the far end's 2xx (ACK, BYE).  LS_CONFIRMED: a
 * re-INVITE refused with 491 goes again.
 */
static void
leg_timer_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct sipleg	*l = arg;

	(void)fd;
	(void)ev;
	if (l->state == LS_CONFIRMED && l->retry) {
		l->retry = 0;
		if (l->inv == NULL && update_send(l) != 0)
			log_info("sipleg: %s: re-INVITE not resent", l->party);
		return;
	}
	if (l->state != LS_ANSWERED)
		return;
	if (l->outgoing)
		send_ack(l, l->inv_cseq, NULL, 0);
	send_bye(l);
	if (l->zombie) {
		leg_release(l);
		return;
	}
	leg_end(l, l->outgoing ? 500 : 408, l->outgoing ?
	    "no answer from the owner for the offer" : "no ACK");
}

/* ---- the API: b2bua.c -------------------------------------------- */

/*
 * Every in-dialog request b2bua.c gets, first: 1 if it belongs to one
 * of our legs (handled: answered, or an ACK taken), 0 otherwise.
 */
int
sipleg_request(struct sip_req *req)
{
	struct sipleg_state	*ss = req->ccm->sipleg;
	struct sipleg		*l;
	const char		*ft;
	char			 cid[256];
	int			 same, r = 0;

	if (ss == NULL || !req->in_dialog || req->msg == NULL ||
	    req->msg->sip_method == NULL ||
	    sipmsg_callid(req->msg, cid, sizeof(cid)) != 0 ||
	    (l = leg_find(ss, cid, sipmsg_tag(req->msg->to))) == NULL)
		return 0;
	/* Their tag must be the dialog's (not another early dialog). */
	ft = sipmsg_tag(req->msg->from);
	same = l->dlg.rtag != NULL && ft != NULL &&
	    strcmp(ft, l->dlg.rtag) == 0;
	if (same && (r = source_ok(l, req)) == 0)
		log_info("sipleg: request for a dialog of %s from %s: not "
		    "its peer", l->party, req->src.peer_text);
	if (strcmp(req->msg->sip_method, "ACK") == 0) {
		if (r > 0)
			ack_in(l, req);
		else if (r < 0)
			leg_end(l, 480, "leg security dropped");
		return 1;
	}
	if (r <= 0) {
		sip_reply(req->st, same && r == 0 ? 403 : 481, same && r == 0 ?
		    reason_for(403) : reason_for(481));
		if (r < 0)
			leg_end(l, 480, "leg security dropped");
		return 1;
	}
	dialog_request(l, req);
	return 1;
}

/*
 * An authenticated out-of-dialog INVITE whose number is no SIP binding
 * and no trunk route: 1 if ext is a registered SCCP line (the INVITE is
 * ours: answered here or by sccp.c through the leg), 0 otherwise.
 */
int
sipleg_incoming(struct sip_req *req, const char *ext)
{
	struct sipleg_state	*ss = req->ccm->sipleg;

	if (ss == NULL || req->st == NULL || !sipmsg_party_ok(ext) ||
	    !sccp_line_registered(req->ccm, ext))
		return 0;
	incoming_start(ss, req, ext);
	return 1;
}

/* A TCP/TLS connection closed: its legs end (nothing sent on them). */
void
sipleg_conn_closed(struct ccm *ccm, uint64_t conn)
{
	struct sipleg_state	*ss = ccm->sipleg;
	struct sipleg		*l;
	size_t			 n;

	if (ss == NULL || conn == 0)
		return;
	/* Each end unlinks the leg found: start over (bounded). */
	for (n = 0; n <= LEGS_MAX; n++) {
		for (l = ss->conns[conn_bucket(conn)]; l != NULL; l = l->cnext)
			if (l->peer.conn == conn && !l->gone)
				break;
		if (l == NULL)
			return;
		leg_unlink_conn(l);
		if (l->inv_st != NULL) {	/* its connection is gone */
			sip_strans_detach(l->inv_st);
			l->inv_st = NULL;
		}
		leg_end(l, 480, "connection closed");
	}
}

/* ---- the API: sccp.c, incoming legs ------------------------------ */

/* 180 Ringing on an incoming leg.  0 or -1. */
int
sipleg_ringing(struct sipleg *l)
{
	osip_message_t	*m;

	if (l == NULL || l->outgoing || l->state != LS_INCOMING ||
	    l->inv_st == NULL || l->ended ||
	    (m = inv_resp_new(l, 180)) == NULL)
		return -1;
	return sip_resp_send(l->inv_st, m) == 0 ? 0 : -1;
}

/*
 * 200 with our SDP answer: local's address and key (sent under the
 * offer's tag and suite when SRTP was offered and local has a key, else
 * RTP/AVP).  An encrypted profile without SRTP gets 488 instead.  0, or
 * -1 (nothing more happens on the leg but sipleg_hangup).
 */
int
sipleg_answer(struct sipleg *l, const struct media_desc *local)
{
	osip_message_t	*m;

	if (l == NULL || local == NULL || l->outgoing ||
	    l->state != LS_INCOMING || l->inv_st == NULL || l->ended)
		return -1;
	l->srtp = l->offer_srtp && local_key_ok(l, local);
	if (l->profile == STORE_SEC_ENCRYPTED && !l->srtp) {
		log_info("sipleg: %s profile is encrypted but the SCCP side "
		    "has no SRTP key: 488", l->party);
		inv_final(l, 488);
		l->state = LS_DONE;
		return -1;
	}
	local_set(l, local);
	if ((m = inv_resp_new(l, 200)) == NULL ||
	    put_sdp(l, m, &l->local, dir_answer(l->offer_dir, 0)) != 0) {
		osip_message_free(m);
		inv_final(l, 500);
		l->state = LS_DONE;
		return -1;
	}
	sip_resp_send(l->inv_st, m);
	l->inv_st = NULL;
	l->state = LS_ANSWERED;
	leg_timer(l, ACK_TIMEOUT * 1000);
	return 0;
}

/*
 * A final error (>= 300) to an incoming leg's INVITE; the leg is freed
 * (no more callbacks, as after sipleg_hangup).  0, or -1 when it has
 * no INVITE to answer (the leg is then left alone).
 */
int
sipleg_reject(struct sipleg *l, int code)
{
	if (l == NULL || l->outgoing || l->inv_st == NULL || l->ended)
		return -1;
	if (code < 300 || code > 699)
		code = 500;
	inv_final(l, code);
	l->ended = 1;
	leg_log(l, code, "refused by the SCCP side");
	leg_release(l);
	return 0;
}

/* ---- the API: sccp.c, outgoing legs ------------------------------ */

/*
 * Call ext from the SCCP line from (display name dn): an INVITE without
 * SDP to its SIP phone, else to a trunk route.  The leg, or NULL with
 * *code (404 unknown, 480 not registered, 503 no room or no trunk).  No
 * callback runs before this returns.
 */
struct sipleg *
sipleg_invite(struct ccm *ccm, const char *ext, const char *from,
    const char *dn, const struct sipleg_ops *ops, void *arg, int *code)
{
	struct sipleg_state	*ss = ccm->sipleg;
	struct sipleg		*l = NULL, *r = NULL;
	const struct tp_info	*ti = NULL;
	struct tp_info		 tmp;

	*code = 503;
	if (ss == NULL || ops == NULL)
		goto out;
	*code = 404;
	if (!sipmsg_party_ok(ext))
		goto out;
	*code = 503;
	if ((l = leg_new(ss, 1)) == NULL) {
		log_warnx("sipleg: %zu legs: not calling %s", ss->nlegs, ext);
		goto out;
	}
	if ((*code = uac_route(l, ext, &tmp, &ti)) != 0)
		goto out;
	*code = 500;
	if (uac_ids(l, sipmsg_party_ok(from) ? from : "anonymous", dn,
	    ti) != 0 ||
	    (*code = uac_send(l)) != 0)
		goto out;
	l->ops = ops;
	l->arg = arg;
	leg_link(l);
	log_info("sipleg: calling %s (%s) for SCCP line %s", l->party,
	    sipleg_peer_name(l), sipmsg_party_ok(from) ? from : "anonymous");
	r = l;
	l = NULL;
 out:
	if (l != NULL) {
		if (l->party[0] == '\0')
			str_vis(l->party, sizeof(l->party), ext);
		l->ended = 1;
		leg_log(l, *code, "not placed");
		leg_free(l);
	}
	return r;
}

/*
 * The ACK for the far end's 2xx, with our SDP answer to its offer:
 * local's address and key under the offer's tag and suite (RTP/AVP when
 * the offer had no usable key or local none).  0 or -1; after -1 the
 * owner hangs up.
 */
int
sipleg_ack(struct sipleg *l, const struct media_desc *local)
{
	if (l == NULL || local == NULL || !l->outgoing ||
	    l->state != LS_ANSWERED || l->ended)
		return -1;
	l->srtp = l->offer_srtp && local_key_ok(l, local);
	if (l->profile == STORE_SEC_ENCRYPTED && !l->srtp) {
		log_info("sipleg: %s profile is encrypted but the SCCP side "
		    "has no SRTP key", l->party);
		return -1;
	}
	local_set(l, local);
	send_ack(l, l->inv_cseq, &l->local, dir_answer(l->offer_dir, 0));
	l->state = LS_CONFIRMED;
	leg_timer(l, 0);
	callinfo_flush(l);
	return 0;
}

/* Our re-INVITE offering l->local (hold: sendonly).  0 or -1. */
static int
update_send(struct sipleg *l)
{
	struct lxact	*lx = NULL;
	osip_message_t	*m;

	l->tag = 1;			/* our offer: tag 1, agreed suite */
	if ((m = leg_request(l, "INVITE", 0)) == NULL ||
	    put_sdp(l, m, &l->local, l->local_hold ? SDP_SENDONLY :
	    SDP_SENDRECV) != 0 || (lx = lx_new(l->ss, l, LX_REINVITE)) ==
	    NULL) {
		osip_message_free(m);
		return -1;
	}
	if (lx_send(lx, m, &l->peer, l->trunk) != 0) {
		lx_free(lx);
		return -1;
	}
	l->inv = lx;
	return 0;
}

/*
 * New media from the SCCP side (hold: a=sendonly; resume: sendrecv
 * with local's new key): a re-INVITE; the answer comes back through
 * ops->media (a refusal other than 491 ends the leg).  0, or -1 with
 * nothing changed (not confirmed, a re-INVITE already pending, SRTP
 * agreed but local has no key, or not sent).
 */
int
sipleg_update(struct sipleg *l, const struct media_desc *local, int hold)
{
	struct media_desc	 old;
	uint32_t		 tag;
	int			 oldhold, r;

	if (l == NULL || local == NULL || l->state != LS_CONFIRMED ||
	    l->ended || l->inv != NULL || l->late_cseq != 0 ||
	    (l->srtp && !local_key_ok(l, local)))
		return -1;
	old = l->local;
	oldhold = l->local_hold;
	tag = l->tag;
	l->local = *local;
	l->local_hold = hold != 0;
	l->retry = l->retries = 0;
	if ((r = update_send(l)) != 0) {	/* keep what was agreed */
		media_desc_wipe(&l->local);
		l->local = old;
		l->local_hold = oldhold;
		l->tag = tag;
	} else
		media_desc_wipe(&old);
	OPENSSL_cleanse(&old, sizeof(old));
	return r;
}

/* 1 while a re-INVITE of ours is still unanswered (sipleg_update would
   refuse now; ops->media brings the answer). */
int
sipleg_busy(const struct sipleg *l)
{
	return l != NULL && !l->ended && (l->inv != NULL || l->late_cseq != 0);
}

/* ---- the API: both ----------------------------------------------- */

/*
 * Hang up: a final answer (480) to an unanswered incoming INVITE, a
 * CANCEL to our unanswered one (a 2xx crossing it is ACKed and BYEd),
 * else a BYE (once the ACK came, for our 2xx).  No more callbacks; the
 * leg is freed (at once, or when its ACK comes).
 */
void
sipleg_hangup(struct sipleg *l)
{
	if (l == NULL || l->ended)
		return;
	l->ended = 1;
	l->ops = NULL;
	l->arg = NULL;
	leg_log(l, 0, "hung up by the SCCP side");
	if (l->inv_st != NULL) {
		inv_final(l, 480);
	} else if (l->state == LS_CALLING) {
		if (l->inv != NULL && l->inv->ct != NULL)
			sip_ctrans_cancel(l->inv->ct);
	} else if (l->state == LS_ANSWERED && !l->outgoing) {
		l->zombie = 1;		/* BYE once the ACK is in */
		return;
	} else if (l->state == LS_ANSWERED) {
		send_ack(l, l->inv_cseq, NULL, 0);
		send_bye(l);
	} else if (l->state == LS_CONFIRMED)
		send_bye(l);
	leg_release(l);
}

/*
 * The leg's enum call_security: encrypted for TLS with a real cipher
 * and SRTP agreed, authenticated for TLS, else (and for any trunk leg)
 * non-secure.
 */
int
sipleg_security(const struct sipleg *l)
{
	return l != NULL ? leg_security(l) : CALL_NONSECURE;
}

/*
 * The call's status (enum call_security) for a phone that registered
 * X-cisco-callinfo (or a trunk that transmits security): in the 200 of
 * an unanswered incoming leg, else in an UPDATE once confirmed.
 */
void
sipleg_set_status(struct sipleg *l, int status)
{
	if (l == NULL || l->ended || status < CALL_NONSECURE ||
	    status > CALL_ENCRYPTED)
		return;
	l->status = status;
	callinfo_flush(l);
}

/* The device or trunk name of the far end (else its number). */
const char *
sipleg_peer_name(const struct sipleg *l)
{
	if (l == NULL)
		return "-";
	if (l->device[0] != '\0')
		return l->device;
	if (l->trunk != NULL)
		return trunk_name(l->trunk);
	return l->party[0] != '\0' ? l->party : "-";
}

size_t
sipleg_count(struct ccm *ccm)
{
	return ccm->sipleg != NULL ? ccm->sipleg->nlegs : 0;
}

int
sipleg_init(struct ccm *ccm)
{
	struct sipleg_state	*ss;

	if ((ss = calloc(1, sizeof(*ss))) == NULL)
		return uc_fail(UC_ERR_ALLOC, "sipleg");
	ss->ccm = ccm;
	TAILQ_INIT(&ss->legs);
	TAILQ_INIT(&ss->xacts);
	ccm->sipleg = ss;
	return 0;
}

/*
 * Free every leg and transaction without sending anything or calling
 * the owner.  Runs before sip_free: transactions are detached here.
 */
void
sipleg_free(struct ccm *ccm)
{
	struct sipleg_state	*ss = ccm->sipleg;
	struct sipleg		*l;
	struct lxact		*lx;

	if (ss == NULL)
		return;
	while ((lx = TAILQ_FIRST(&ss->xacts)) != NULL) {
		if (lx->ct != NULL)
			sip_ctrans_detach(lx->ct);
		lx_free(lx);
	}
	while ((l = TAILQ_FIRST(&ss->legs)) != NULL)
		leg_free(l);
	free(ss);
	ccm->sipleg = NULL;
}
