/*
 * SCCP (Skinny) phones, ../shared/specs/sccp-security.md: registration
 * with the device's security mode checked against its connection (1.1,
 * 1.2, 3, 4), the bring-up replies, and calls between SCCP phones and
 * with SIP phones and trunks (through sipleg.c): dialling, ringing,
 * media with SRTP keys per direction (7.1), hold and resume with new
 * keys, and the call's security status in CallInfo (8).
 *
 * A device object exists only once its Register was accepted; before
 * that a connection may send Register and KeepAlive only.  One live
 * session per device name (1.2.6).  Each device has at most one call; a
 * call has two legs, each an SCCP device or a SIP leg, so the call
 * table is bounded by the devices.  Registered devices sit in a queue
 * in last-activity order; a one-second sweep unregisters and closes
 * the heads whose keepalive deadline (2 x keepalive + 10 s) passed.
 *
 * Keys: made by keymgr.c when both ends can do SRTP (7.1 rule 1), put
 * into OpenReceiveChannel / StartMediaTransmission only then (keys_ok
 * for skinny_build), wiped once the messages that carry them are built.
 * An SCCP <-> SIP call keeps the SIP side's key and the SCCP phone's
 * transmit key while the SIP dialog's SDP carries them (sipleg.c answers
 * the far end's re-INVITEs with them), so media re-opened from the SIP
 * side needs no new offer; our own hold and resume make new ones.
 */
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/event.h>
#include <openssl/crypto.h>
#include <openssl/x509v3.h>

#include "ccm.h"
#include "log.h"
#include "skinny.h"
#include "uerr.h"
#include "wbuf.h"

#define SCCP_BUCKETS	8192	/* device hash chains (power of two) */
#define SCCP_GRACE_S	10	/* keepalive deadline: 2 x ka + this */
#define SCCP_DIGIT_MS	3000	/* inter-digit timeout */
#define SCCP_RING_MS	180000	/* an SCCP phone rings this long */
#define SCCP_MEDIA_MS	10000	/* OpenReceiveChannelAck after ORC */
#define SCCP_LINE	1	/* the one line instance */
#define SCCP_PTIME	20	/* ms per packet */
#define SCCP_TOS	0xB8	/* DSCP EF */
#define SCCP_DTMF_PT	101
#define SCCP_LOG_EVERY	10	/* s between rate-limited lines */
#define SCCP_ROW_TTL	3600	/* expires of a registration row, s */
#define SCCP_ROW_REFRESH 1800	/* rows rewritten this often, s */
#define SCCP_PARTY_BASE	0x01000000u	/* passThruPartyIds */

enum sc_state {
	SC_DIALING,		/* caller off-hook, digits */
	SC_RINGING,		/* callee rung (or SIP INVITE out) */
	SC_CONNECTING,		/* ORCs out, waiting for the Acks */
	SC_CONNECTED,
	SC_HOLD,
	SC_RESUMING,		/* SIP leg: re-INVITE out, its answer due */
	SC_FAILED		/* caller hears busy/reorder until on-hook */
};

/* What the SIP leg is owed once the SCCP phone's ORC Ack is in. */
enum sip_owed { SIPOP_NONE, SIPOP_ACK, SIPOP_ANSWER, SIPOP_UPDATE };

struct sccp_dev {
	TAILQ_ENTRY(sccp_dev)	 entry;		/* devs, last activity order */
	struct sccp_dev		*nnext, *cnext, *enext;	/* hash chains */
	uint64_t		 nh, ch, eh;	/* name, conn, ext hashes */
	char			 name[SKINNY_NAME_LEN + 1];
	char			 ext[STORE_EXT_MAX];
	int			 secmode;	/* enum store_secmode */
	int			 version;	/* negotiated V */
	struct tp_peer		 peer;
	int			 tls, encrypted;
	char			 cert_subject[256];
	char			 peer_text[64];
	int			 keepalive;	/* s, as sent in RegisterAck */
	int64_t			 last_ms;	/* last message in */
	uint32_t		 codecs[SKINNY_CAPS_MAX];
	size_t			 ncodecs;	/* CapabilitiesRes */
	struct sccp_call	*call;
	int64_t			 bad_logged;	/* rate limit, s */
	unsigned long		 bad_n;
};

struct sccp_leg {
	struct sccp_dev		*dev;		/* an SCCP phone, or */
	struct sipleg		*sip;		/* a SIP leg */
	int			 is_sip;
	char			 name[64];	/* device / peer, for logs */
	char			 number[STORE_EXT_MAX];
	uint32_t		 party;		/* passThruPartyId */
	int			 rx_open;	/* ORC sent, not closed */
	int			 tx_open;	/* SMT sent, not stopped */
	int			 acked;		/* its ORC Ack is in */
	struct sockaddr_storage	 rtp;		/* where it receives */
};

struct sccp_call {
	TAILQ_ENTRY(sccp_call)	 entry;
	struct sccp_state	*ss;
	uint32_t		 id;		/* conference id, callref */
	int			 state;		/* enum sc_state */
	struct sccp_leg		 leg[2];	/* 0 placed the call */
	char			 digits[SKINNY_DN_LEN + 1];
	struct event		*tmr;		/* digits; deferred 180 */
	int			 srtp;		/* keys this media round */
	int			 keys_sent;	/* last round carried keys */
	int			 codec;		/* Skinny codec id */
	struct media_desc	 key[2];	/* key[i]: leg i sends with */
	struct media_desc	 remote;	/* SIP leg's offer (its key) */
	int			 suite;		/* SRTP suite of the call */
	int			 owed;		/* enum sip_owed */
	int			 holder;	/* leg that holds, -1 */
	int			 status;	/* enum call_security */
	int			 media_rounds;	/* media opened so far */
	int			 alerting;	/* ring-back tone on */
	struct sockaddr_storage	 offered;	/* SIP leg: our address in
						   the last SDP it got */
	int			 reoffered;	/* sent again for a new port */
	int			 rx_only;	/* this round: ORC only */
	int			 far_hold;	/* the SIP side holds */
	int			 ring_timing;	/* tmr is the ring timeout */
	int			 resume_owed;	/* Resume pressed while our hold
						   re-INVITE was unanswered */
	time_t			 started, answered;
};

TAILQ_HEAD(devq, sccp_dev);
TAILQ_HEAD(callq, sccp_call);

struct sccp_state {
	struct ccm		*ccm;
	struct sccp_dev		**by_name, **by_conn, **by_ext;
	struct devq		 devs;
	size_t			 ndevs;
	struct callq		 calls;
	size_t			 ncalls;
	uint32_t		 next_call, next_party;
	struct event		*sweep;
	int			 dirty;		/* rows to write behind */
	int			 ka_min;	/* smallest keepalive handed out */
	int64_t			 rows_written;	/* s */
};

static void	call_end(struct sccp_call *, const struct sccp_dev *,
		    const char *);
static const struct sipleg_ops sip_ops;

static int64_t
now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t
hash_str(const char *s)
{
	return sip_hash(s, strlen(s));
}

/* Bounded copy that always terminates (fields are narrower than ours). */
static void
scopy(char *d, size_t n, const char *s)
{
	size_t	 l = strnlen(s, n - 1);

	memcpy(d, s, l);
	d[l] = '\0';
}

/* ---- device tables ------------------------------------------------- */

static struct sccp_dev *
dev_by_name(struct sccp_state *ss, const char *name)
{
	struct sccp_dev	*d;
	uint64_t	 h = hash_str(name);

	for (d = ss->by_name[h & (SCCP_BUCKETS - 1)]; d != NULL; d = d->nnext)
		if (d->nh == h && strcmp(d->name, name) == 0)
			return d;
	return NULL;
}

static struct sccp_dev *
dev_by_conn(struct sccp_state *ss, uint64_t conn)
{
	struct sccp_dev	*d;
	uint64_t	 h = sip_hash(&conn, sizeof(conn));

	for (d = ss->by_conn[h & (SCCP_BUCKETS - 1)]; d != NULL; d = d->cnext)
		if (d->peer.conn == conn)
			return d;
	return NULL;
}

static struct sccp_dev *
dev_by_ext(struct sccp_state *ss, const char *ext)
{
	struct sccp_dev	*d;
	uint64_t	 h = hash_str(ext);

	for (d = ss->by_ext[h & (SCCP_BUCKETS - 1)]; d != NULL; d = d->enext)
		if (d->eh == h && strcmp(d->ext, ext) == 0)
			return d;
	return NULL;
}

static void
dev_link(struct sccp_state *ss, struct sccp_dev *d)
{
	size_t	 i;

	d->nh = hash_str(d->name);
	d->ch = sip_hash(&d->peer.conn, sizeof(d->peer.conn));
	d->eh = hash_str(d->ext);
	i = d->nh & (SCCP_BUCKETS - 1);
	d->nnext = ss->by_name[i];
	ss->by_name[i] = d;
	i = d->ch & (SCCP_BUCKETS - 1);
	d->cnext = ss->by_conn[i];
	ss->by_conn[i] = d;
	if (d->ext[0] != '\0') {
		i = d->eh & (SCCP_BUCKETS - 1);
		d->enext = ss->by_ext[i];
		ss->by_ext[i] = d;
	}
	TAILQ_INSERT_TAIL(&ss->devs, d, entry);
	ss->ndevs++;
	ss->dirty = 1;
}

static void
dev_unlink(struct sccp_state *ss, struct sccp_dev *d)
{
	struct sccp_dev	**pp;

	for (pp = &ss->by_name[d->nh & (SCCP_BUCKETS - 1)]; *pp != NULL;
	    pp = &(*pp)->nnext)
		if (*pp == d) {
			*pp = d->nnext;
			break;
		}
	for (pp = &ss->by_conn[d->ch & (SCCP_BUCKETS - 1)]; *pp != NULL;
	    pp = &(*pp)->cnext)
		if (*pp == d) {
			*pp = d->cnext;
			break;
		}
	for (pp = &ss->by_ext[d->eh & (SCCP_BUCKETS - 1)]; *pp != NULL;
	    pp = &(*pp)->enext)
		if (*pp == d) {
			*pp = d->enext;
			break;
		}
	TAILQ_REMOVE(&ss->devs, d, entry);
	ss->ndevs--;
	ss->dirty = 1;
}

/* The device's line moved to another extension (reload). */
static void
dev_set_ext(struct sccp_state *ss, struct sccp_dev *d, const char *ext)
{
	struct sccp_dev	**pp;
	size_t		  i;

	if (strcmp(d->ext, ext) == 0)
		return;
	for (pp = &ss->by_ext[d->eh & (SCCP_BUCKETS - 1)]; *pp != NULL;
	    pp = &(*pp)->enext)
		if (*pp == d) {
			*pp = d->enext;
			break;
		}
	d->enext = NULL;
	snprintf(d->ext, sizeof(d->ext), "%s", ext);
	d->eh = hash_str(d->ext);
	if (d->ext[0] != '\0') {
		i = d->eh & (SCCP_BUCKETS - 1);
		d->enext = ss->by_ext[i];
		ss->by_ext[i] = d;
	}
	ss->dirty = 1;
}

/* ---- sending ------------------------------------------------------- */

/*
 * Build m in d's layout and queue it on d's connection; the message's
 * keys and the built bytes are wiped whatever happens.  keys_ok: only
 * for an ORC/SMT under spec 7.1 rule 1 (the builder refuses keys
 * otherwise).  A failure is logged; the caller's state goes on.
 */
static int
dev_send(struct sccp_state *ss, const struct sccp_dev *d, int version,
    const struct tp_peer *peer, struct skinny_msg *m, int keys_ok)
{
	struct wbuf	 wb;
	int		 r;

	wbuf_init(&wb, SKINNY_MSG_MAX);
	r = skinny_build(&wb, version, m, keys_ok);
	skinny_msg_wipe(m);
	if (r == 0 && !wbuf_ok(&wb))
		r = uc_fail(UC_ERR_ALLOC, "build");
	if (r == 0)
		r = keys_ok ? tp_send_secret(ss->ccm, peer, wb.data, wb.len) :
		    tp_send(ss->ccm, peer, wb.data, wb.len);
	if (r != 0)
		log_info("sccp: device=%s: %s not sent: %s",
		    d != NULL ? d->name : "-", skinny_name(m->id) != NULL ?
		    skinny_name(m->id) : "message", uc_errdetail());
	if (wb.data != NULL)
		OPENSSL_cleanse(wb.data, wb.len);
	wbuf_free(&wb);
	return r;
}

static void
msg_init(struct skinny_msg *m, uint32_t id)
{
	memset(m, 0, sizeof(*m));
	m->id = id;
}

/* A message without keys to a registered device. */
static int
send_msg(struct sccp_state *ss, const struct sccp_dev *d,
    struct skinny_msg *m)
{
	if (d == NULL)
		return 0;
	return dev_send(ss, d, d->version, &d->peer, m, 0);
}

static void
send_simple(struct sccp_state *ss, const struct sccp_dev *d, uint32_t id,
    uint32_t v)
{
	struct skinny_msg	 m;

	msg_init(&m, id);
	m.u.simple.button = v;
	m.u.simple.line = SCCP_LINE;
	send_msg(ss, d, &m);
}

static void
send_callstate(struct sccp_state *ss, const struct sccp_dev *d,
    uint32_t state, uint32_t callref)
{
	struct skinny_msg	 m;

	msg_init(&m, SK_CALLSTATE);
	m.u.callstate.state = state;
	m.u.callstate.line = SCCP_LINE;
	m.u.callstate.callref = callref;
	send_msg(ss, d, &m);
}

static void
send_tone(struct sccp_state *ss, const struct sccp_dev *d, uint32_t tone,
    uint32_t callref)
{
	struct skinny_msg	 m;

	msg_init(&m, tone == SK_TONE_NONE ? SK_STOP_TONE : SK_START_TONE);
	m.u.tone.tone = tone == SK_TONE_NONE ? 0 : tone;
	m.u.tone.line = SCCP_LINE;
	m.u.tone.callref = callref;
	send_msg(ss, d, &m);
}

static void
send_ringer(struct sccp_state *ss, const struct sccp_dev *d, uint32_t mode,
    uint32_t callref)
{
	struct skinny_msg	 m;

	msg_init(&m, SK_SET_RINGER);
	m.u.ringer.mode = mode;		/* 1 off, 2 inside */
	m.u.ringer.duration = 1;
	m.u.ringer.line = SCCP_LINE;
	m.u.ringer.callref = callref;
	send_msg(ss, d, &m);
}

static void
send_lamp(struct sccp_state *ss, const struct sccp_dev *d, uint32_t mode)
{
	struct skinny_msg	 m;

	msg_init(&m, SK_SET_LAMP);
	m.u.lamp.stimulus = 9;		/* line */
	m.u.lamp.instance = SCCP_LINE;
	m.u.lamp.mode = mode;		/* 1 off, 2 on, 5 blink */
	send_msg(ss, d, &m);
}

/* RegisterReject with text, then close (spec 6.4). */
static void
send_reject(struct sccp_state *ss, const struct tp_info *ti,
    const char *dev, const char *text, const char *why)
{
	struct skinny_msg	 m;

	msg_init(&m, SK_REGISTER_REJECT);
	snprintf(m.u.reject.text, sizeof(m.u.reject.text), "%s", text);
	(void)dev_send(ss, NULL, 0, &ti->peer, &m, 0);
	log_info("sccp: device=%s from %s: Register refused: %s (%s)", dev,
	    ti->peer_text, text, why);
	tp_close(ss->ccm, ti->peer.conn, "SCCP RegisterReject");
}

/* ---- registration (spec 1.2, 3, 4) --------------------------------- */

/* A device name as phones send it: 1..16 of [A-Za-z0-9_.-]. */
static int
name_ok(const char *n)
{
	size_t	 i, len = strlen(n);

	if (len == 0 || len > SKINNY_NAME_LEN)
		return 0;
	for (i = 0; i < len; i++)
		if (!((n[i] >= 'A' && n[i] <= 'Z') || (n[i] >= 'a' &&
		    n[i] <= 'z') || (n[i] >= '0' && n[i] <= '9') ||
		    n[i] == '_' || n[i] == '.' || n[i] == '-'))
			return 0;
	return 1;
}

/* One subjectAltName entry names the device: a URI or DNS name equal to
   it (case-insensitive), or a "sip:" / "sips:" URI with it as user. */
static int
san_names(const GENERAL_NAME *g, const char *name)
{
	const ASN1_STRING	*v;
	const char		*d;
	size_t			 len, n = strlen(name), skip = 0;

	if (g->type == GEN_URI)
		v = g->d.uniformResourceIdentifier;
	else if (g->type == GEN_DNS)
		v = g->d.dNSName;
	else
		return 0;
	d = (const char *)ASN1_STRING_get0_data(v);
	if (ASN1_STRING_length(v) <= 0)
		return 0;
	len = (size_t)ASN1_STRING_length(v);
	if (memchr(d, '\0', len) != NULL)
		return 0;
	if (g->type == GEN_URI && len > 4 && strncasecmp(d, "sip:", 4) == 0)
		skip = 4;
	else if (g->type == GEN_URI && len > 5 &&
	    strncasecmp(d, "sips:", 5) == 0)
		skip = 5;
	if (skip != 0)
		return len - skip > n && d[skip + n] == '@' &&
		    strncasecmp(d + skip, name, n) == 0;
	return len == n && strncasecmp(d, name, n) == 0;
}

/* The verified client certificate names the device (spec 1.2 item 3):
   subject CN, or a subjectAltName. */
static int
cert_names(const struct tp_info *ti, const char *name)
{
	GENERAL_NAMES	*gens;
	int		 i, ok = 0;

	if (ti->cert_cn[0] != '\0' && strcasecmp(ti->cert_cn, name) == 0)
		return 1;
	if (ti->cert == NULL || (gens = X509_get_ext_d2i(ti->cert,
	    NID_subject_alt_name, NULL, NULL)) == NULL)
		return 0;
	for (i = 0; !ok && i < sk_GENERAL_NAME_num(gens); i++)
		ok = san_names(sk_GENERAL_NAME_value(gens, i), name);
	GENERAL_NAMES_free(gens);
	return ok;
}

/*
 * The device's mode against its connection (spec 1.1, 1.2 items 3-4,
 * 3, 7.2): NULL when it fits, else the RegisterReject text, *why the
 * log's reason.  announced: the phone's version, 0 for a short
 * Register; v the one we would use.
 */
static const char *
mode_check(int secmode, const char *name, const struct tp_info *ti,
    int announced, int v, const char **why)
{
	*why = "";
	if (secmode == STORE_SEC_NONSECURE && ti->tls)
		return *why = "non-secure devices register over plain TCP",
		    "Transport not allowed";
	if (secmode != STORE_SEC_NONSECURE && !ti->tls)
		return *why = "a secure device over plain TCP (spec 1.2 item "
		    "4)", "Transport not allowed";
	if (secmode == STORE_SEC_ENCRYPTED && !ti->encrypted)
		return *why = "an encrypted device on a NULL cipher (spec 1.2 "
		    "item 4)", "Cipher not allowed";
	if (ti->tls && (ti->cert == NULL || !ti->phone_ok))
		return *why = "client certificate not issued for devices",
		    "Certificate not trusted";
	if (ti->tls && !cert_names(ti, name))
		return *why = "client certificate names another device (spec "
		    "1.2 item 3)", "Certificate mismatch";
	if (secmode != STORE_SEC_NONSECURE && announced == 0)
		return *why = "short Register (version 0) from a secure "
		    "device (spec 3)", "Protocol version too old";
	if (secmode == STORE_SEC_ENCRYPTED && v < SKINNY_VERSION_SECURE)
		return *why = "an encrypted device below version 11 (spec "
		    "7.2)", "Protocol version too old";
	return NULL;
}

/* RegisterAck (keepalive, date template, V) and CapabilitiesReq. */
static void
send_reg_ack(struct sccp_state *ss, const struct sccp_dev *d)
{
	struct skinny_msg	 m;

	msg_init(&m, SK_REGISTER_ACK);
	m.u.reg_ack.keepalive = (uint32_t)d->keepalive;
	m.u.reg_ack.keepalive2 = (uint32_t)d->keepalive;
	snprintf(m.u.reg_ack.date_template, sizeof(m.u.reg_ack.date_template),
	    "M/D/Y");
	m.u.reg_ack.proto_version = (uint8_t)d->version;
	send_msg(ss, d, &m);
	msg_init(&m, SK_CAPABILITIES_REQ);
	send_msg(ss, d, &m);
}

static const char *
cipher_class(const struct sccp_dev *d)
{
	return !d->tls ? "none" : d->encrypted ? "encrypted" : "NULL";
}

/* A device object for an accepted Register. */
static struct sccp_dev *
dev_new(struct sccp_state *ss, const struct store_sipdev *sd,
    const struct tp_info *ti, int v)
{
	struct sccp_dev	*d;

	if ((d = calloc(1, sizeof(*d))) == NULL)
		return NULL;
	snprintf(d->name, sizeof(d->name), "%s", sd->name);
	snprintf(d->ext, sizeof(d->ext), "%s", sd->extension);
	d->secmode = sd->secmode;
	d->version = v;
	d->peer = ti->peer;
	d->tls = ti->tls;
	d->encrypted = ti->tls && ti->encrypted;
	snprintf(d->cert_subject, sizeof(d->cert_subject), "%s",
	    ti->cert_subject);
	snprintf(d->peer_text, sizeof(d->peer_text), "%s", ti->peer_text);
	d->keepalive = ss->ccm->cfg->sccp_keepalive > 0 ?
	    ss->ccm->cfg->sccp_keepalive : CCM_SCCP_KEEPALIVE_DEF;
	if (ss->ka_min == 0 || d->keepalive < ss->ka_min)
		ss->ka_min = d->keepalive;
	d->last_ms = now_ms();
	dev_link(ss, d);
	return d;
}

/* The store's row for name, an SCCP device: 0, or the reject text. */
static const char *
reg_lookup(struct sccp_state *ss, const char *name, struct store_sipdev *sd)
{
	if (ss->ccm->store == NULL ||
	    store_sipdev_get(ss->ccm->store, name, sd) != 0 ||
	    sd->proto != STORE_PROTO_SCCP)
		return "Unknown device";
	return NULL;
}

/* Register (spec 1.2, 3, 4): checks, then RegisterAck. */
static void	dev_unregister(struct sccp_state *, struct sccp_dev *,
		    const char *);

static void
sccp_register(struct sccp_state *ss, const struct skinny_msg *m,
    const struct tp_info *ti)
{
	struct store_sipdev	 sd;
	struct sccp_dev		*d;
	const char		*text, *why = "";
	char			 vis[64];
	uint64_t		 conn;
	int			 announced, v;

	str_vis(vis, sizeof(vis), m->u.reg.name);
	announced = m->payload_len < 44 ? 0 : m->u.reg.proto_version;
	v = skinny_version_choose(announced);
	if (!name_ok(m->u.reg.name) ||
	    (text = reg_lookup(ss, m->u.reg.name, &sd)) != NULL) {
		send_reject(ss, ti, vis, "Unknown device",
		    "not an SCCP device in the store");
		return;
	}
	if ((text = mode_check(sd.secmode, sd.name, ti, announced, v,
	    &why)) != NULL) {
		send_reject(ss, ti, vis, text, why);
		return;
	}
	/*
	 * One session per device (spec 1.2 item 6).  A newcomer that proved
	 * it is the device at least as strongly (TLS, its certificate bound
	 * to the name above, no weaker cipher) replaces the old session: a
	 * rebooted phone need not wait out its keepalive.  Anything else
	 * is rejected and the first session stays.
	 */
	if ((d = dev_by_name(ss, sd.name)) != NULL) {
		if (!ti->tls || (d->encrypted && !ti->encrypted)) {
			send_reject(ss, ti, vis, "Crossover session", "the "
			    "device has a live session (spec 1.2 item 6)");
			return;
		}
		conn = d->peer.conn;
		dev_unregister(ss, d, "replaced by a new authenticated session "
		    "(spec 1.2 item 6)");
		tp_close(ss->ccm, conn, "SCCP session replaced");
	}
	if (ss->ndevs >= CCM_SCCP_DEVICES_MAX ||
	    (d = dev_new(ss, &sd, ti, v)) == NULL) {
		send_reject(ss, ti, vis, "Too many devices", "device table "
		    "full or out of memory");
		return;
	}
	tp_set_pinned(ss->ccm, d->peer.conn, 1);
	send_reg_ack(ss, d);
	log_info("sccp: device=%s registered: version=%d (announced %d) "
	    "transport=%s cipher=%s cert=\"%s\" ext=%s mode=%s from=%s",
	    d->name, v, announced, d->tls ? "tls" : "tcp", cipher_class(d),
	    d->cert_subject, d->ext[0] != '\0' ? d->ext : "-",
	    store_secmode_name(d->secmode), d->peer_text);
}

/*
 * The device goes: its call ends (the other side hung up), its
 * registration row, its connection pin.  The object is freed.
 */
static void
dev_unregister(struct sccp_state *ss, struct sccp_dev *d, const char *why)
{
	char	 reason[160];

	if (d->call != NULL) {
		snprintf(reason, sizeof(reason), "%s: %s", d->name, why);
		call_end(d->call, d, reason);
	}
	log_info("sccp: device=%s unregistered: %s (registered over %s from "
	    "%s)", d->name, why, d->tls ? "tls" : "tcp", d->peer_text);
	dev_unlink(ss, d);
	tp_set_pinned(ss->ccm, d->peer.conn, 0);
	free(d);
}

/* ---- calls: small helpers ------------------------------------------ */

/* Can d take SRTP keys (spec 7.1 rule 1, 7.2)? */
static int
dev_can_srtp(const struct sccp_dev *d)
{
	return d != NULL && d->secmode == STORE_SEC_ENCRYPTED && d->tls &&
	    d->encrypted && d->version >= SKINNY_VERSION_SECURE;
}

/* The security of one leg (spec 8). */
static int
leg_security(const struct sccp_call *c, int i)
{
	const struct sccp_leg	*l = &c->leg[i];

	if (l->is_sip)
		return l->sip != NULL ? sipleg_security(l->sip) :
		    CALL_NONSECURE;
	if (l->dev == NULL || !l->dev->tls)
		return CALL_NONSECURE;
	if (dev_can_srtp(l->dev) && c->keys_sent)
		return CALL_ENCRYPTED;
	return CALL_AUTHENTICATED;
}

/* The call's status: the least secure leg (spec 8). */
static int
call_status(const struct sccp_call *c)
{
	int	 a = leg_security(c, 0), b = leg_security(c, 1);

	return a < b ? a : b;
}

static uint32_t
skinny_status(int sec)
{
	switch (sec) {
	case CALL_ENCRYPTED:
		return SK_SEC_ENCRYPTED;
	case CALL_AUTHENTICATED:
		return SK_SEC_AUTHENTICATED;
	default:
		return SK_SEC_NOT_AUTHENTICATED;
	}
}

/* RTP payload type <-> Skinny codec (spec 6.16). */
static int
codec_of_pt(int pt)
{
	switch (pt) {
	case 8:
		return SK_CODEC_G711_ALAW;
	case 9:
		return SK_CODEC_G722;
	case 18:
		return SK_CODEC_G729;
	default:
		return SK_CODEC_G711_ULAW;
	}
}

static int
pt_of_codec(int codec)
{
	switch (codec) {
	case SK_CODEC_G711_ALAW:
		return 8;
	case SK_CODEC_G722:
		return 9;
	case SK_CODEC_G729:
		return 18;
	default:
		return 0;
	}
}

static int
dev_has_codec(const struct sccp_dev *d, uint32_t codec)
{
	size_t	 i;

	for (i = 0; i < d->ncodecs; i++)
		if (d->codecs[i] == codec)
			return 1;
	return 0;
}

/* The first codec of a's list that b has too; G.711 mu-law without. */
static int
codec_choose(const struct sccp_dev *a, const struct sccp_dev *b)
{
	size_t	 i;

	for (i = 0; i < a->ncodecs; i++)
		if (dev_has_codec(b, a->codecs[i]) &&
		    pt_of_codec((int)a->codecs[i]) != 0)
			return (int)a->codecs[i];
	return SK_CODEC_G711_ULAW;
}

/* skinny_addr + port <-> sockaddr. */
static void
addr_from_skinny(const struct skinny_addr *a, uint32_t port,
    struct sockaddr_storage *ss)
{
	struct sockaddr_in	*s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6	*s6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (a->family == AF_INET6) {
		s6->sin6_family = AF_INET6;
		memcpy(&s6->sin6_addr, a->ip, 16);
		s6->sin6_port = htons((uint16_t)port);
	} else {
		s4->sin_family = AF_INET;
		memcpy(&s4->sin_addr, a->ip, 4);
		s4->sin_port = htons((uint16_t)port);
	}
}

static void
addr_to_skinny(const struct sockaddr_storage *ss, struct skinny_addr *a,
    uint32_t *port)
{
	const struct sockaddr_in	*s4 = (const void *)ss;
	const struct sockaddr_in6	*s6 = (const void *)ss;

	memset(a, 0, sizeof(*a));
	a->family = AF_INET;
	*port = 0;
	if (ss->ss_family == AF_INET6) {
		a->family = AF_INET6;
		memcpy(a->ip, &s6->sin6_addr, 16);
		*port = ntohs(s6->sin6_port);
	} else if (ss->ss_family == AF_INET) {
		memcpy(a->ip, &s4->sin_addr, 4);
		*port = ntohs(s4->sin_port);
	}
}

static const char *
suite_text(const struct sccp_call *c)
{
	return c->keys_sent ? sdes_suite_name(c->suite) : "none";
}

/* "SEP0000000A2001 (2001)" for logs. */
static const char *
leg_text(const struct sccp_leg *l, char *buf, size_t n)
{
	if (l->name[0] == '\0' && l->number[0] == '\0')
		snprintf(buf, n, "-");
	else if (l->number[0] == '\0' || strcmp(l->name, l->number) == 0)
		snprintf(buf, n, "%s", l->name[0] != '\0' ? l->name :
		    l->number);
	else
		snprintf(buf, n, "%s (%s)", l->name, l->number);
	return buf;
}

/* "call N A (ext) -> B (ext) WHAT" */
static void
call_log(const struct sccp_call *c, const char *what)
{
	char	 a[112], b[112];

	log_info("call %u %s -> %s %s", c->id, leg_text(&c->leg[0], a,
	    sizeof(a)), c->leg[1].name[0] != '\0' || c->leg[1].number[0] !=
	    '\0' ? leg_text(&c->leg[1], b, sizeof(b)) : c->digits, what);
}

/* ---- calls: table -------------------------------------------------- */

static void	call_tmr_cb(evutil_socket_t, short, void *);

static struct sccp_call *
call_new(struct sccp_state *ss)
{
	struct sccp_call	*c;

	if (ss->ncalls >= CCM_SCCP_DEVICES_MAX ||
	    (c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->ss = ss;
	if (++ss->next_call == 0)
		ss->next_call = 1;
	c->id = ss->next_call;
	c->holder = -1;
	c->started = time(NULL);
	c->codec = SK_CODEC_G711_ULAW;
	c->suite = SUITE_AES_CM_128_HMAC_SHA1_32;
	if (ss->ccm->base != NULL &&
	    (c->tmr = evtimer_new(ss->ccm->base, call_tmr_cb, c)) == NULL) {
		free(c);
		return NULL;
	}
	TAILQ_INSERT_TAIL(&ss->calls, c, entry);
	ss->ncalls++;
	return c;
}

static void
call_free(struct sccp_call *c)
{
	struct sccp_state	*ss = c->ss;
	int			 i;

	for (i = 0; i < 2; i++) {
		if (c->leg[i].dev != NULL && c->leg[i].dev->call == c)
			c->leg[i].dev->call = NULL;
		media_desc_wipe(&c->key[i]);
	}
	media_desc_wipe(&c->remote);
	if (c->tmr != NULL)
		event_free(c->tmr);
	TAILQ_REMOVE(&ss->calls, c, entry);
	ss->ncalls--;
	OPENSSL_cleanse(c, sizeof(*c));
	free(c);
}

static void
leg_set_dev(struct sccp_call *c, int i, struct sccp_dev *d)
{
	struct sccp_leg	*l = &c->leg[i];

	l->dev = d;
	d->call = c;
	snprintf(l->name, sizeof(l->name), "%s", d->name);
	snprintf(l->number, sizeof(l->number), "%s", d->ext);
	l->party = SCCP_PARTY_BASE + (++c->ss->next_party & 0xffffff);
}

static void
leg_set_sip(struct sccp_call *c, int i, const char *number,
    const char *name)
{
	struct sccp_leg	*l = &c->leg[i];

	l->is_sip = 1;
	snprintf(l->number, sizeof(l->number), "%s", number != NULL ?
	    number : "");
	snprintf(l->name, sizeof(l->name), "%s", name != NULL &&
	    name[0] != '\0' ? name : l->number);
	l->party = SCCP_PARTY_BASE + (++c->ss->next_party & 0xffffff);
}

static void
tmr_arm(struct sccp_call *c, int ms)
{
	struct timeval	 tv = { ms / 1000, (ms % 1000) * 1000 };

	if (c->tmr != NULL)
		evtimer_add(c->tmr, &tv);
}

static void
tmr_stop(struct sccp_call *c)
{
	if (c->tmr != NULL)
		evtimer_del(c->tmr);
}

/* ---- calls: messages ----------------------------------------------- */

/* CallInfo to leg i's phone (spec 6.13): who calls whom, status. */
static void
send_callinfo(struct sccp_call *c, int i, uint32_t security)
{
	struct skinny_msg	 m;

	msg_init(&m, SK_CALLINFO);
	scopy(m.u.callinfo.calling_name, sizeof(m.u.callinfo.calling_name),
	    c->leg[0].name);
	scopy(m.u.callinfo.calling, sizeof(m.u.callinfo.calling),
	    c->leg[0].number);
	scopy(m.u.callinfo.called_name, sizeof(m.u.callinfo.called_name),
	    c->leg[1].name);
	scopy(m.u.callinfo.called, sizeof(m.u.callinfo.called),
	    c->leg[1].number[0] != '\0' ? c->leg[1].number : c->digits);
	m.u.callinfo.line = SCCP_LINE;
	m.u.callinfo.callref = c->id;
	m.u.callinfo.call_type = i == 0 ? 2 : 1;	/* outbound, inbound */
	m.u.callinfo.security = security;
	send_msg(c->ss, c->leg[i].dev, &m);
}

/* The key block of an ORC/SMT from md (alg 0 without SRTP). */
static void
media_key(const struct sccp_call *c, const struct media_desc *md,
    struct skinny_keyinfo *k)
{
	memset(k, 0, sizeof(*k));
	if (c->srtp && md->srtp)
		(void)skinny_keyinfo_set(k, skinny_suite_alg(md->suite),
		    md->keysalt, md->keysalt_len);
}

/*
 * OpenReceiveChannel to leg i (spec 6.18): its receive key is what the
 * other leg sends with.  Keys only under rule 1 (dev_can_srtp).
 */
static int
send_orc(struct sccp_call *c, int i)
{
	struct sccp_leg		*l = &c->leg[i], *o = &c->leg[1 - i];
	struct skinny_msg	 m;

	msg_init(&m, SK_ORC);
	m.u.media.conf_id = c->id;
	m.u.media.party_id = l->party;
	m.u.media.callref = c->id;
	m.u.media.ms = SCCP_PTIME;
	m.u.media.codec = (uint32_t)c->codec;
	if (o->is_sip)		/* an SCCP peer's next port is not known */
		addr_to_skinny(&o->rtp, &m.u.media.addr, &m.u.media.port);
	else
		m.u.media.addr.family = AF_INET;
	media_key(c, &c->key[1 - i], &m.u.media.key);
	m.u.media.rfc2833_pt = SCCP_DTMF_PT;
	l->rx_open = 1;
	l->acked = 0;
	return dev_send(c->ss, l->dev, l->dev->version, &l->dev->peer, &m,
	    c->srtp && dev_can_srtp(l->dev));
}

/* StartMediaTransmission to leg i (spec 6.20): to the other leg's RTP
   address, with leg i's own key. */
static int
send_smt(struct sccp_call *c, int i)
{
	struct sccp_leg		*l = &c->leg[i], *o = &c->leg[1 - i];
	struct skinny_msg	 m;

	msg_init(&m, SK_SMT);
	m.u.media.conf_id = c->id;
	m.u.media.party_id = l->party;
	m.u.media.callref = c->id;
	m.u.media.ms = SCCP_PTIME;
	m.u.media.codec = (uint32_t)c->codec;
	m.u.media.precedence = SCCP_TOS;
	addr_to_skinny(&o->rtp, &m.u.media.addr, &m.u.media.port);
	media_key(c, &c->key[i], &m.u.media.key);
	m.u.media.rfc2833_pt = SCCP_DTMF_PT;
	l->tx_open = 1;
	return dev_send(c->ss, l->dev, l->dev->version, &l->dev->peer, &m,
	    c->srtp && dev_can_srtp(l->dev));
}

/* StopMediaTransmission (tx) or CloseReceiveChannel (rx) of leg i. */
static void
send_media_half(struct sccp_call *c, int i, int rx)
{
	struct sccp_leg		*l = &c->leg[i];
	struct skinny_msg	 m;

	if (l->dev == NULL || !(rx ? l->rx_open : l->tx_open))
		return;
	msg_init(&m, rx ? SK_CLOSE_RECEIVE : SK_STOP_MEDIA);
	m.u.stop.conf_id = c->id;
	m.u.stop.party_id = l->party;
	m.u.stop.callref = c->id;
	send_msg(c->ss, l->dev, &m);
	if (rx)
		l->rx_open = l->acked = 0;
	else
		l->tx_open = 0;
}

/* StopMediaTransmission + CloseReceiveChannel for an open leg (6.21). */
static void
send_media_stop(struct sccp_call *c, int i)
{
	send_media_half(c, i, 0);
	send_media_half(c, i, 1);
}

/* Leg i's phone rings: RingIn, CallInfo (status unknown), ringer, lamp. */
static void
ring_in(struct sccp_call *c, int i)
{
	struct sccp_dev	*d = c->leg[i].dev;

	send_callstate(c->ss, d, SK_CS_RINGIN, c->id);
	send_callinfo(c, i, SK_SEC_UNKNOWN);
	send_ringer(c->ss, d, 2, c->id);
	send_lamp(c->ss, d, 5);
}

/* Leg i's phone answered (or hears the answer): connected. */
static void
connected_to(struct sccp_call *c, int i, int was_ringing)
{
	struct sccp_dev	*d = c->leg[i].dev;

	if (d == NULL)
		return;
	if (was_ringing) {
		send_ringer(c->ss, d, 1, c->id);
		send_lamp(c->ss, d, 2);
	} else
		send_tone(c->ss, d, SK_TONE_NONE, c->id);
	send_callstate(c->ss, d, SK_CS_CONNECTED, c->id);
}

/* The status (spec 8) to every leg: CallInfo, sipleg_set_status. */
static void
status_update(struct sccp_call *c)
{
	int	 i, st = call_status(c);

	c->status = st;
	for (i = 0; i < 2; i++) {
		if (c->leg[i].dev != NULL)
			send_callinfo(c, i, skinny_status(st));
		else if (c->leg[i].sip != NULL)
			sipleg_set_status(c->leg[i].sip, st);
	}
}

/* Connected (first time) or re-connected: status and one log line. */
static void
media_done(struct sccp_call *c)
{
	char	 what[96];

	c->keys_sent = c->srtp;
	c->state = SC_CONNECTED;
	status_update(c);
	snprintf(what, sizeof(what), "%s status=%s srtp=%s",
	    c->media_rounds++ == 0 ? "connected" : "media reopened",
	    call_security_name(c->status), suite_text(c));
	call_log(c, what);
}

/* ---- calls: end ---------------------------------------------------- */

/* Leg i's phone back to idle: media, tones, ringer, lamp, on-hook. */
static void
leg_idle(struct sccp_call *c, int i)
{
	struct sccp_dev	*d = c->leg[i].dev;

	if (d == NULL)
		return;
	send_media_stop(c, i);
	send_tone(c->ss, d, SK_TONE_NONE, c->id);
	if (i == 1 && c->state == SC_RINGING)
		send_ringer(c->ss, d, 1, c->id);
	send_lamp(c->ss, d, 1);
	send_callstate(c->ss, d, SK_CS_ONHOOK, c->id);
	send_simple(c->ss, d, SK_SET_SPEAKER, 2);
}

/*
 * The call ends: every live SCCP phone back to idle (not gone, whose
 * device is going away), the SIP leg hung up, one log line, freed.
 */
static void
call_end(struct sccp_call *c, const struct sccp_dev *gone, const char *why)
{
	char	 what[256];
	int	 i;

	tmr_stop(c);
	for (i = 0; i < 2; i++) {
		if (c->leg[i].dev != NULL && c->leg[i].dev != gone)
			leg_idle(c, i);
		if (c->leg[i].sip != NULL) {
			sipleg_hangup(c->leg[i].sip);
			c->leg[i].sip = NULL;
		}
	}
	if (c->answered != 0)
		snprintf(what, sizeof(what), "ended: %s duration=%llds "
		    "status=%s srtp=%s", why, (long long)(time(NULL) -
		    c->answered), call_security_name(c->status),
		    suite_text(c));
	else
		snprintf(what, sizeof(what), "ended before answer: %s", why);
	call_log(c, what);
	call_free(c);
}

/*
 * The caller hears tone and sees state until it hangs up (busy,
 * invalid number, refused).  The callee leg must be gone already.
 */
static void
call_fail(struct sccp_call *c, uint32_t tone, uint32_t cs, const char *why)
{
	struct sccp_dev	*a = c->leg[0].dev;
	char		 what[256];

	tmr_stop(c);
	snprintf(what, sizeof(what), "not connected: %s", why);
	call_log(c, what);
	if (a == NULL || c->leg[0].is_sip) {
		call_end(c, NULL, why);
		return;
	}
	send_media_stop(c, 0);
	c->state = SC_FAILED;
	send_tone(c->ss, a, tone, c->id);
	send_callstate(c->ss, a, cs, c->id);
}

/* A SIP final status to the caller's tone and state. */
static void
call_fail_code(struct sccp_call *c, int code, const char *why)
{
	if (code == 486 || code == 600 || code == 603)
		call_fail(c, SK_TONE_BUSY, SK_CS_BUSY, why);
	else if (code == 404 || code == 410 || code == 484 || code == 604)
		call_fail(c, SK_TONE_REORDER, SK_CS_INVALID_NUMBER, why);
	else
		call_fail(c, SK_TONE_REORDER, SK_CS_CONGESTION, why);
}

/* The callee leg (an SCCP phone) drops out before the answer. */
static void
callee_drop(struct sccp_call *c)
{
	struct sccp_leg	*l = &c->leg[1];

	if (l->dev != NULL) {
		leg_idle(c, 1);
		l->dev->call = NULL;
	}
	memset(l, 0, sizeof(*l));
}

/* ---- calls: dialling (spec 9) -------------------------------------- */

/* Off-hook without a call: dial tone, collect digits. */
static void
dial_start(struct sccp_state *ss, struct sccp_dev *d)
{
	struct sccp_call	*c;

	if ((c = call_new(ss)) == NULL) {
		log_warnx("sccp: device=%s: call table full", d->name);
		send_tone(ss, d, SK_TONE_REORDER, 0);
		return;
	}
	leg_set_dev(c, 0, d);
	c->state = SC_DIALING;
	send_simple(ss, d, SK_SET_SPEAKER, 1);
	send_simple(ss, d, SK_ACTIVATE_CALLPLANE, SCCP_LINE);
	send_callstate(ss, d, SK_CS_OFFHOOK, c->id);
	send_tone(ss, d, SK_TONE_DIAL, c->id);
}

/* Ring an SCCP phone b for c's caller (both SCCP). */
static void
ring_sccp(struct sccp_call *c, struct sccp_dev *b)
{
	struct sccp_dev	*a = c->leg[0].dev;

	if (b == a || b->call != NULL) {
		call_fail(c, SK_TONE_BUSY, SK_CS_BUSY, "busy");
		return;
	}
	/*
	 * Keys only when both ends can take them (spec 7.1 rule 1); an
	 * encrypted phone calling one that cannot gets RTP and a lowered
	 * status (spec 8), as CUCM does.  An encrypted-mode SCCP phone can
	 * always take keys (registration checked TLS, cipher and V), so
	 * no side that lacks SRTP here has an encrypted profile.
	 */
	c->srtp = dev_can_srtp(a) && dev_can_srtp(b);
	if (!c->srtp && (a->secmode == STORE_SEC_ENCRYPTED ||
	    b->secmode == STORE_SEC_ENCRYPTED))
		log_info("call %u %s -> %s: RTP, %s cannot do SRTP (spec "
		    "7.1 rule 1): status lowered", c->id, a->name, b->name,
		    dev_can_srtp(a) ? b->name : a->name);
	leg_set_dev(c, 1, b);
	c->codec = codec_choose(a, b);
	c->state = SC_RINGING;
	c->ring_timing = 1;
	tmr_arm(c, SCCP_RING_MS);
	ring_in(c, 1);
	send_callstate(c->ss, a, SK_CS_RINGOUT, c->id);
	send_callinfo(c, 0, SK_SEC_UNKNOWN);
	send_tone(c->ss, a, SK_TONE_ALERTING, c->id);
	c->alerting = 1;
}

static void	invite_sip(struct sccp_call *);

/* The number is complete: DialedNumber, then route it. */
static void
dial_complete(struct sccp_call *c)
{
	struct sccp_state	*ss = c->ss;
	struct store_sipdev	 sd;
	struct skinny_msg	 m;
	struct sccp_dev		*b;
	int			 found;

	tmr_stop(c);
	if (c->digits[0] == '\0')
		return;
	msg_init(&m, SK_DIALED_NUMBER);
	snprintf(m.u.dialed.dn, sizeof(m.u.dialed.dn), "%s", c->digits);
	m.u.dialed.line = SCCP_LINE;
	m.u.dialed.callref = c->id;
	send_msg(ss, c->leg[0].dev, &m);
	found = ss->ccm->store != NULL &&
	    store_sipdev_by_ext(ss->ccm->store, c->digits, &sd) == 0;
	if (found && sd.proto == STORE_PROTO_SCCP) {
		if ((b = dev_by_ext(ss, c->digits)) == NULL)
			call_fail(c, SK_TONE_REORDER, SK_CS_CONGESTION,
			    "not registered");
		else
			ring_sccp(c, b);
	} else if (found || trunk_route(ss->ccm, c->digits) != NULL)
		invite_sip(c);
	else
		call_fail(c, SK_TONE_REORDER, SK_CS_INVALID_NUMBER,
		    "unknown number");
}

/* KeypadButton while dialling: one more digit (spec 6.11). */
static void
dial_digit(struct sccp_call *c, uint32_t button)
{
	static const char	 keys[] = "0123456789ABCD*#+";
	struct store_sipdev	 sd;
	size_t			 n = strlen(c->digits);
	char			 ch;

	if (button >= sizeof(keys) - 1)
		return;
	ch = keys[button];
	if (n == 0)
		send_tone(c->ss, c->leg[0].dev, SK_TONE_NONE, c->id);
	if (ch == '#') {
		dial_complete(c);
		return;
	}
	if (n + 1 >= sizeof(c->digits)) {
		dial_complete(c);
		return;
	}
	c->digits[n] = ch;
	c->digits[n + 1] = '\0';
	if (c->ss->ccm->store != NULL &&
	    store_sipdev_by_ext(c->ss->ccm->store, c->digits, &sd) == 0)
		dial_complete(c);
	else
		tmr_arm(c, SCCP_DIGIT_MS);
}

/* ---- calls: media (spec 7.1, 9) ------------------------------------ */

/*
 * SCCP <-> SCCP: fresh keys for both directions when both can do SRTP
 * (both exist before the first ORC, rule 3), then an ORC to each.
 */
static void
media_open_sccp(struct sccp_call *c)
{
	int	 i;

	for (i = 0; i < 2; i++) {
		media_desc_wipe(&c->key[i]);
		if (c->srtp && keymgr_new_key(&c->key[i], c->suite) != 0) {
			log_warnx("call %u: %s", c->id, uc_errdetail());
			call_end(c, NULL, "no SRTP key");
			return;
		}
	}
	c->state = SC_CONNECTING;
	tmr_arm(c, SCCP_MEDIA_MS);
	for (i = 0; i < 2; i++)
		if (send_orc(c, i) != 0) {
			call_end(c, NULL, "OpenReceiveChannel not sent");
			return;
		}
}

/* Key log lines for the direction from leg i to leg 1 - i. */
static void
key_log_dir(struct sccp_call *c, int i)
{
	const struct sccp_leg	*s = &c->leg[i], *r = &c->leg[1 - i];

	if (!c->srtp || !c->key[i].srtp)
		return;
	keymgr_log(c->ss->ccm, c->id, s->name, r->name, &s->rtp, &r->rtp, 0,
	    &c->key[i]);
}

/* Both ORC Acks are in: SMT to each, key log, keys wiped, status. */
static void
media_start_sccp(struct sccp_call *c)
{
	int	 i;

	for (i = 0; i < 2; i++)
		if (send_smt(c, i) != 0) {
			call_end(c, NULL, "StartMediaTransmission not sent");
			return;
		}
	for (i = 0; i < 2; i++) {
		key_log_dir(c, i);
		media_desc_wipe(&c->key[i]);
	}
	media_done(c);
}

static void	sip_media_ready(struct sccp_call *, int);
static void	sip_media_open(struct sccp_call *, int, int);
static void	sip_hold(struct sccp_call *, int);
static void	sip_resume(struct sccp_call *, int);

/* OpenReceiveChannelAck (spec 6.19): the phone's RTP address. */
static void
on_orc_ack(struct sccp_dev *d, const struct skinny_msg *m)
{
	struct sccp_call	*c = d->call;
	struct sccp_leg		*l;
	char			 why[96];
	int			 i;

	if (c == NULL || c->state != SC_CONNECTING)
		return;
	i = c->leg[0].dev == d ? 0 : 1;
	l = &c->leg[i];
	if (!l->rx_open || l->acked || (m->u.media_ack.party_id != 0 &&
	    m->u.media_ack.party_id != l->party))
		return;
	if (m->u.media_ack.status != 0) {
		snprintf(why, sizeof(why), "%s: OpenReceiveChannelAck status "
		    "%u", d->name, m->u.media_ack.status);
		call_end(c, NULL, why);
		return;
	}
	addr_from_skinny(&m->u.media_ack.addr, m->u.media_ack.port, &l->rtp);
	l->acked = 1;
	if (c->leg[1 - i].is_sip)
		sip_media_ready(c, i);
	else if (c->leg[1 - i].acked)
		media_start_sccp(c);
}

/* The callee picked up (OffHook, Answer). */
static void
call_answer(struct sccp_call *c)
{
	tmr_stop(c);
	c->state = SC_CONNECTING;
	c->answered = time(NULL);
	connected_to(c, 1, 1);
	if (c->leg[0].is_sip) {
		sip_media_open(c, SIPOP_ANSWER, 0);
		return;
	}
	connected_to(c, 0, 0);
	media_open_sccp(c);
}

/* ---- calls: hold, resume (spec 7.1 rule 5, 6.21) ------------------- */

/* SoftKey Hold from leg i: media closed on every SCCP leg. */
static void
call_hold(struct sccp_call *c, int i)
{
	char	 what[96];

	if (c->state != SC_CONNECTED)
		return;
	send_media_stop(c, 0);
	send_media_stop(c, 1);
	send_callstate(c->ss, c->leg[i].dev, SK_CS_HOLD, c->id);
	c->holder = i;
	c->state = SC_HOLD;
	c->keys_sent = 0;
	snprintf(what, sizeof(what), "held by %s", c->leg[i].name);
	call_log(c, what);
	status_update(c);	/* spec 8: again after hold */
	if (c->leg[1 - i].is_sip)
		sip_hold(c, i);
}

/* SoftKey Resume from the holder: new keys, media again. */
static void
call_resume(struct sccp_call *c, int i)
{
	if (c->state != SC_HOLD || c->holder != i)
		return;
	c->holder = -1;
	send_callstate(c->ss, c->leg[i].dev, SK_CS_CONNECTED, c->id);
	if (c->leg[1 - i].is_sip)
		sip_resume(c, i);
	else
		media_open_sccp(c);
}

/* On-hook (or EndCall) from d. */
static void
call_hangup(struct sccp_call *c, struct sccp_dev *d)
{
	char	 why[96];

	if (c->state == SC_RINGING && c->leg[1].dev == d &&
	    !c->leg[0].is_sip) {
		callee_drop(c);		/* declined: the caller hears busy */
		call_fail(c, SK_TONE_BUSY, SK_CS_BUSY, "declined");
		return;
	}
	snprintf(why, sizeof(why), "on-hook by %s", d->name);
	call_end(c, NULL, why);
}

/* OffHook (spec 6.10): dial, or answer a ringing call. */
static void
on_offhook(struct sccp_state *ss, struct sccp_dev *d)
{
	struct sccp_call	*c = d->call;

	if (c == NULL)
		dial_start(ss, d);
	else if (c->state == SC_RINGING && c->leg[1].dev == d)
		call_answer(c);
}

/* SoftKeyEvent (Hold, Resume, EndCall, Answer, NewCall). */
static void
on_softkey(struct sccp_state *ss, struct sccp_dev *d, uint32_t ev)
{
	struct sccp_call	*c = d->call;
	int			 i = c != NULL && c->leg[1].dev == d ? 1 : 0;

	switch (ev) {
	case SK_SOFTKEY_NEWCALL:
	case SK_SOFTKEY_ANSWER:
		on_offhook(ss, d);
		break;
	case SK_SOFTKEY_ENDCALL:
		if (c != NULL)
			call_hangup(c, d);
		break;
	case SK_SOFTKEY_HOLD:
		if (c != NULL)
			call_hold(c, i);
		break;
	case SK_SOFTKEY_RESUME:
		if (c != NULL)
			call_resume(c, i);
		break;
	default:
		break;
	}
}

/* ---- SCCP <-> SIP (spec 7.1 rule 8, through sipleg.c) -------------- */

static int
sip_idx(const struct sccp_call *c)
{
	return c->leg[0].is_sip ? 0 : 1;
}

/*
 * Direct SRTP with the SIP side: the SCCP phone can take keys and the
 * SIP side's key is AES_CM_128_HMAC_SHA1_32 (the one SCCP phones carry),
 * or _80 (algorithm 2) where [sccp] allow_sha1_80 says the phones take it.
 */
static int
sip_srtp_ok(const struct sccp_state *ss, const struct sccp_dev *d,
    const struct media_desc *remote)
{
	uint32_t	 alg = remote->srtp ? skinny_suite_alg(remote->suite) :
			    SK_ALG_NONE;

	return dev_can_srtp(d) && remote->srtp &&
	    (alg == SK_ALG_AES_CM_128_HMAC_SHA1_32 ||
	    (alg == SK_ALG_AES_CM_128_HMAC_SHA1_80 &&
	    ss->ccm->cfg->sccp_sha1_80)) &&
	    remote->keysalt_len == sdes_suite_key_len(remote->suite) +
	    sdes_suite_salt_len(remote->suite);
}

/*
 * Media with the SIP side (again): the SCCP phone gets an ORC whose
 * receive key is the SIP side's; once it acks, sip_media_ready sends
 * the SMT (not for rx_only: only the SIP side's key or the phone's
 * receive port changed) and pays what is owed to the SIP leg.  A new
 * transmit key is made where the SIP side does not hold ours yet.
 */
static void
sip_media_open(struct sccp_call *c, int owed, int rx_only)
{
	int	 p = sip_idx(c), s = 1 - p;

	c->owed = owed;
	c->rx_only = rx_only;
	c->leg[p].rtp = c->remote.addr;
	c->leg[p].acked = 1;
	media_desc_wipe(&c->key[p]);
	if (c->srtp)
		c->key[p] = c->remote;
	if (owed == SIPOP_ACK || owed == SIPOP_ANSWER)
		media_desc_wipe(&c->key[s]);
	send_media_half(c, s, 1);
	if (!rx_only)
		send_media_half(c, s, 0);
	c->state = SC_CONNECTING;
	tmr_arm(c, SCCP_MEDIA_MS);
	if (send_orc(c, s) != 0)
		call_end(c, NULL, "OpenReceiveChannel not sent");
}

/* Leg s's local media for the SIP side: its RTP address and key. */
static void
sip_local(const struct sccp_call *c, int s, struct media_desc *local)
{
	memset(local, 0, sizeof(*local));
	local->addr = c->leg[s].rtp;
	local->pt = pt_of_codec(c->codec);
	local->ptime = SCCP_PTIME;
	local->crypto_tag = c->remote.crypto_tag;
	if (c->srtp && c->key[s].srtp) {
		local->srtp = 1;
		local->suite = c->key[s].suite;
		memcpy(local->keysalt, c->key[s].keysalt,
		    c->key[s].keysalt_len);
		local->keysalt_len = c->key[s].keysalt_len;
	}
}

/* Whether two RTP addresses (with ports) are the same. */
static int
addr_same(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	const struct sockaddr_in	*a4 = (const void *)a, *b4 = (const void *)b;
	const struct sockaddr_in6	*a6 = (const void *)a, *b6 = (const void *)b;

	if (a->ss_family != b->ss_family)
		return 0;
	if (a->ss_family == AF_INET)
		return a4->sin_port == b4->sin_port &&
		    a4->sin_addr.s_addr == b4->sin_addr.s_addr;
	if (a->ss_family == AF_INET6)
		return a6->sin6_port == b6->sin6_port &&
		    memcmp(&a6->sin6_addr, &b6->sin6_addr, 16) == 0;
	return 0;
}

/* What the SIP leg is owed, and does it: 0, or -1 (the leg refused). */
static int
sip_pay(struct sccp_call *c, int s, struct sipleg *sl)
{
	struct media_desc	 local;
	int			 r = 0;

	sip_local(c, s, &local);
	if (c->owed == SIPOP_ACK)
		r = sipleg_ack(sl, &local);
	else if (c->owed == SIPOP_ANSWER)
		r = sipleg_answer(sl, &local);
	else if (c->owed == SIPOP_UPDATE)
		r = sipleg_update(sl, &local, 0);
	if (c->owed != SIPOP_NONE)
		c->offered = local.addr;
	media_desc_wipe(&local);
	c->owed = SIPOP_NONE;
	return r;
}

/*
 * The SCCP phone (leg s) acked its ORC: SMT to the SIP address with
 * its transmit key (a new one unless the SIP side holds it already),
 * the key log, then what the SIP leg is owed (ACK, 200 or re-INVITE;
 * a re-INVITE also when the phone's RTP port moved, once).
 */
static void
sip_media_ready(struct sccp_call *c, int s)
{
	struct sipleg	*sl = c->leg[1 - s].sip;

	if (sl == NULL)
		return;
	if (c->srtp && !c->key[s].srtp) {
		if (keymgr_new_key(&c->key[s], c->suite) != 0) {
			call_end(c, NULL, "no SRTP key");
			return;
		}
		if (c->owed == SIPOP_NONE)
			c->owed = SIPOP_UPDATE;
	}
	if (c->owed == SIPOP_NONE && !c->reoffered &&
	    !addr_same(&c->leg[s].rtp, &c->offered)) {
		c->owed = SIPOP_UPDATE;
		c->reoffered = 1;
	}
	if (!c->rx_only && send_smt(c, s) != 0) {
		call_end(c, NULL, "StartMediaTransmission not sent");
		return;
	}
	key_log_dir(c, 1 - s);
	if (!c->rx_only)
		key_log_dir(c, s);
	media_desc_wipe(&c->key[1 - s]);	/* c->remote keeps it */
	if (sip_pay(c, s, sl) != 0) {
		call_end(c, NULL, "the SIP leg refused our media");
		return;
	}
	media_done(c);
}

/*
 * The SCCP side (leg s) resumes: a re-INVITE with a new transmit key
 * first; the answer (ops->media) brings the SIP side's key, then the
 * ORC/SMT round (spec 7.1 rule 5: new keys both ways).
 */
static void
sip_resume(struct sccp_call *c, int s)
{
	struct media_desc	 local;
	struct sipleg		*sl = c->leg[1 - s].sip;
	int			 r = -1;

	if (sipleg_busy(sl)) {		/* after the hold is answered */
		c->resume_owed = 1;
		return;
	}
	c->resume_owed = 0;
	media_desc_wipe(&c->key[s]);
	if (c->srtp && keymgr_new_key(&c->key[s], c->suite) != 0) {
		call_end(c, NULL, "no SRTP key");
		return;
	}
	sip_local(c, s, &local);
	if (sl != NULL)
		r = sipleg_update(sl, &local, 0);
	c->offered = local.addr;
	c->reoffered = 0;
	media_desc_wipe(&local);
	if (r != 0) {
		call_end(c, NULL, "resume not passed to the SIP leg");
		return;
	}
	c->owed = SIPOP_NONE;
	c->state = SC_RESUMING;
}

/* The SCCP side (leg i) holds: the SIP side is told (a fresh key in
   the offer, never used). */
static void
sip_hold(struct sccp_call *c, int i)
{
	struct media_desc	 local;
	struct sipleg		*sl = c->leg[1 - i].sip;

	media_desc_wipe(&c->key[i]);
	if (sl == NULL)
		return;
	memset(&local, 0, sizeof(local));
	local.addr = c->leg[i].rtp;
	local.pt = pt_of_codec(c->codec);
	local.ptime = SCCP_PTIME;
	local.crypto_tag = c->remote.crypto_tag;
	if (c->srtp && keymgr_new_key(&local, c->suite) != 0)
		media_desc_wipe(&local);
	if (sipleg_update(sl, &local, 1) != 0)
		log_info("call %u: hold not passed to the SIP leg", c->id);
	c->offered = local.addr;
	c->reoffered = 0;
	media_desc_wipe(&local);
}

/* SCCP calls SIP: INVITE without SDP (delayed offer, rule 8). */
static void
invite_sip(struct sccp_call *c)
{
	struct sccp_dev	*a = c->leg[0].dev;
	struct sipleg	*sl;
	char		 why[64];
	int		 code = 0;

	leg_set_sip(c, 1, c->digits, c->digits);
	c->state = SC_RINGING;
	sl = sipleg_invite(c->ss->ccm, c->digits, a->ext, a->name, &sip_ops,
	    c, &code);
	if (sl == NULL) {
		snprintf(why, sizeof(why), "SIP %d", code != 0 ? code : 503);
		call_fail_code(c, code != 0 ? code : 503, why);
		return;
	}
	c->leg[1].sip = sl;
	send_callstate(c->ss, a, SK_CS_RINGOUT, c->id);
	send_callinfo(c, 0, SK_SEC_UNKNOWN);
}

static void
sip_cb_ringing(void *arg)
{
	struct sccp_call	*c = arg;

	if (c->state != SC_RINGING || c->leg[0].is_sip || c->alerting)
		return;
	send_tone(c->ss, c->leg[0].dev, SK_TONE_ALERTING, c->id);
	c->alerting = 1;
}

/* Our INVITE was answered with the far end's offer. */
static void
sip_cb_answered(void *arg, const struct media_desc *remote)
{
	struct sccp_call	*c = arg;
	struct sccp_dev		*a = c->leg[0].dev;
	const char		*pn;

	if (c->state != SC_RINGING || c->leg[0].is_sip || a == NULL)
		return;
	if ((pn = sipleg_peer_name(c->leg[1].sip)) != NULL && pn[0] != '\0')
		snprintf(c->leg[1].name, sizeof(c->leg[1].name), "%s", pn);
	/* No key the SCCP phone can take: RTP, status lowered (a SIP
	   device whose own profile is encrypted got 488 in sipleg.c). */
	c->srtp = sip_srtp_ok(c->ss, a, remote);
	if (!c->srtp && a->secmode == STORE_SEC_ENCRYPTED)
		log_info("call %u %s -> SIP: RTP, the SIP side offers no key "
		    "the phone can take (spec 7.1 rule 8): status lowered",
		    c->id, a->name);
	media_desc_wipe(&c->remote);
	c->remote = *remote;
	if (!c->srtp)
		media_desc_wipe(&c->remote);
	else
		c->suite = remote->suite;
	c->codec = codec_of_pt(remote->pt);
	c->answered = time(NULL);
	c->alerting = 0;
	connected_to(c, 0, 0);
	sip_media_open(c, SIPOP_ACK, 0);
}

static void
sip_cb_acked(void *arg)
{
	struct sccp_call	*c = arg;

	log_debug("call %u: the SIP side acknowledged the answer", c->id);
}

/*
 * Whether the SIP side's key or address changed from old to c->remote.
 */
static int
remote_key_changed(const struct sccp_call *c, const struct media_desc *old)
{
	return old->srtp != c->remote.srtp ||
	    old->keysalt_len != c->remote.keysalt_len ||
	    CRYPTO_memcmp(old->keysalt, c->remote.keysalt,
	    old->keysalt_len) != 0;
}

/* The SIP side's new media while connected (not our resume). */
static void
sip_media_change(struct sccp_call *c, const struct media_desc *old,
    int hold)
{
	int	 s = 1 - sip_idx(c);

	if (hold) {
		send_media_stop(c, s);
		c->keys_sent = 0;
		c->far_hold = 1;
		call_log(c, "held by the SIP side");
		status_update(c);
		return;
	}
	/*
	 * Media set up again (resume, another address): the phone's
	 * transmit key is new too (spec 7.1 rule 5); sip_media_ready makes
	 * it and re-offers it to the SIP side.
	 */
	if (c->far_hold || old->srtp != c->remote.srtp ||
	    !addr_same(&old->addr, &c->remote.addr)) {
		c->far_hold = 0;
		c->srtp = c->remote.srtp;
		media_desc_wipe(&c->key[s]);
		sip_media_open(c, SIPOP_NONE, 0);
		return;
	}
	if (remote_key_changed(c, old))
		sip_media_open(c, SIPOP_NONE, 1);
}

/*
 * The SIP side's media: the answer to our re-INVITE (resume, hold, a
 * new port), or its own re-INVITE / UPDATE (sipleg answered it with our
 * last media, so the phone keeps its transmit key).
 */
static void
sip_cb_media(void *arg, const struct media_desc *remote, int hold)
{
	struct sccp_call	*c = arg;
	struct media_desc	 old;
	int			 s = 1 - sip_idx(c);
	struct sccp_dev		*d = c->leg[s].dev;

	if (d == NULL || (c->state != SC_CONNECTED && c->state != SC_HOLD &&
	    c->state != SC_RESUMING))
		return;
	if (!sip_srtp_ok(c->ss, d, remote) && d->secmode == STORE_SEC_ENCRYPTED) {
		call_end(c, NULL, "the SIP side dropped SRTP");
		return;
	}
	/* Never one key for both directions (spec 7.1 rule 2). */
	if (remote->srtp && c->key[s].srtp &&
	    remote->keysalt_len == c->key[s].keysalt_len &&
	    CRYPTO_memcmp(remote->keysalt, c->key[s].keysalt,
	    remote->keysalt_len) == 0) {
		call_end(c, NULL, "the SIP side sends with the phone's own key "
		    "(spec 7.1 rule 2)");
		return;
	}
	old = c->remote;
	c->remote = *remote;
	if (!sip_srtp_ok(c->ss, d, remote))
		media_desc_wipe(&c->remote);
	if (c->state == SC_RESUMING) {
		c->far_hold = hold != 0;
		if (old.srtp != c->remote.srtp) {
			c->srtp = c->remote.srtp;
			media_desc_wipe(&c->key[s]);
		}
		if (!hold)
			sip_media_open(c, SIPOP_NONE, 0);
	} else if (c->state == SC_CONNECTED)
		sip_media_change(c, &old, hold);
	else if (c->state == SC_HOLD && c->resume_owed)
		sip_resume(c, s);	/* the hold was answered */
	media_desc_wipe(&old);
}

/* The SIP leg is gone (and freed after this returns). */
static void
sip_cb_ended(void *arg, int code, const char *why)
{
	struct sccp_call	*c = arg;
	char			 text[128];
	int			 p = sip_idx(c);

	c->leg[p].sip = NULL;
	snprintf(text, sizeof(text), "SIP %d%s%s", code,
	    why != NULL && why[0] != '\0' ? " " : "", why != NULL ? why : "");
	if (c->state == SC_RINGING && p == 1)
		call_fail_code(c, code, text);
	else
		call_end(c, NULL, text);
}

static const struct sipleg_ops sip_ops = {
	sip_cb_ringing, sip_cb_answered, sip_cb_acked, sip_cb_media,
	sip_cb_ended
};

/*
 * A SIP INVITE for the SCCP line ext (ccm.h): ring its phone.  Returns
 * 0 with *ops and *arg, or the SIP status to answer: 404 not
 * registered, 486 busy, 488 when the phone's profile is encrypted and
 * the offer has no key it can take (spec 7.1 rules 1 and 8).
 */
int
sccp_offer_from_sip(struct ccm *ccm, const char *ext, struct sipleg *sl,
    const struct media_desc *offer, int sip_sec, const char *from,
    const char *from_name, const struct sipleg_ops **ops, void **arg)
{
	struct sccp_state	*ss = ccm->sccp;
	struct sccp_call	*c;
	struct sccp_dev		*b;
	const char		*pn = sl != NULL ? sipleg_peer_name(sl) : NULL;
	int			 srtp;

	(void)sip_sec;		/* sipleg_security is asked at connect */
	if (ss == NULL || ext == NULL || (b = dev_by_ext(ss, ext)) == NULL)
		return 404;
	if (b->call != NULL)
		return 486;
	srtp = offer != NULL && sip_srtp_ok(ss, b, offer);
	if (!srtp && b->secmode == STORE_SEC_ENCRYPTED)
		log_info("call from SIP %s -> %s (%s): RTP, the offer has no "
		    "key the phone can take (spec 7.1 rule 8): status lowered",
		    from != NULL ? from : "-", b->name, b->ext);
	if ((c = call_new(ss)) == NULL)
		return 486;
	leg_set_sip(c, 0, from, pn != NULL && pn[0] != '\0' ? pn : from_name);
	c->leg[0].sip = sl;
	leg_set_dev(c, 1, b);
	c->srtp = srtp;
	if (offer != NULL) {
		c->remote = *offer;
		c->codec = codec_of_pt(offer->pt);
		if (srtp)
			c->suite = offer->suite;
	}
	if (!srtp)
		media_desc_wipe(&c->remote);
	c->state = SC_RINGING;
	ring_in(c, 1);
	tmr_arm(c, 0);		/* 180 Ringing from the loop */
	*ops = &sip_ops;
	*arg = c;
	return 0;
}

/* ---- timers -------------------------------------------------------- */

/*
 * A call's timer: the inter-digit timeout; the deferred 180, then the
 * ring timeout; the media set-up timeout (a phone that never acks its
 * OpenReceiveChannel).
 */
static void
call_tmr_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sccp_call	*c = arg;

	(void)fd;
	(void)what;
	if (c->state == SC_DIALING)
		dial_complete(c);
	else if (c->state == SC_RINGING && c->ring_timing)
		call_end(c, NULL, "no answer (ring timeout)");
	else if (c->state == SC_RINGING) {
		if (c->leg[0].is_sip && c->leg[0].sip != NULL &&
		    sipleg_ringing(c->leg[0].sip) != 0)
			log_debug("call %u: 180 not sent: %s", c->id,
			    uc_errdetail());
		c->ring_timing = 1;
		tmr_arm(c, SCCP_RING_MS);
	} else if (c->state == SC_CONNECTING)
		call_end(c, NULL, "media not set up: no OpenReceiveChannelAck "
		    "(spec 6.19)");
}

/* Phones silent past their keepalive deadline (spec 4) go. */
static void
sweep_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sccp_state	*ss = arg;
	struct sccp_dev		*d, *next;
	int64_t			 now = now_ms(), first;
	uint64_t		 conn;

	(void)fd;
	(void)what;
	/*
	 * devs is in last-activity order; keepalives differ only across a
	 * reload, so every device silent for less than the smallest
	 * deadline ever handed out is alive and the walk stops there.
	 */
	first = ((int64_t)ss->ka_min * 2 + SCCP_GRACE_S) * 1000;
	for (d = TAILQ_FIRST(&ss->devs); d != NULL &&
	    now - d->last_ms > first; d = next) {
		next = TAILQ_NEXT(d, entry);
		if (now - d->last_ms <=
		    ((int64_t)d->keepalive * 2 + SCCP_GRACE_S) * 1000)
			continue;
		conn = d->peer.conn;
		dev_unregister(ss, d, "keepalive timeout");
		tp_close(ss->ccm, conn, "SCCP keepalive timeout (spec 4)");
	}
	if (ss->ndevs > 0 && (int64_t)time(NULL) - ss->rows_written >=
	    SCCP_ROW_REFRESH)
		ss->dirty = 1;
}

/* ---- bring-up replies (spec 4, 6.7-6.9) ---------------------------- */

static void
send_timedate(struct sccp_state *ss, const struct sccp_dev *d)
{
	struct skinny_msg	 m;
	struct tm		 tm;
	time_t			 t = time(NULL);

	msg_init(&m, SK_DEFINE_TIMEDATE);
	if (localtime_r(&t, &tm) != NULL) {
		m.u.timedate.year = (uint32_t)tm.tm_year + 1900;
		m.u.timedate.month = (uint32_t)tm.tm_mon + 1;
		m.u.timedate.dow = (uint32_t)tm.tm_wday;
		m.u.timedate.day = (uint32_t)tm.tm_mday;
		m.u.timedate.hour = (uint32_t)tm.tm_hour;
		m.u.timedate.minute = (uint32_t)tm.tm_min;
		m.u.timedate.second = (uint32_t)tm.tm_sec;
	}
	m.u.timedate.systime = (uint32_t)t;
	send_msg(ss, d, &m);
}

/* A bring-up request: its reply.  0 if m is not one. */
static int
bringup(struct sccp_state *ss, const struct sccp_dev *d,
    const struct skinny_msg *m)
{
	struct skinny_msg	 r;

	switch (m->id) {
	case SK_BUTTONTEMPLATE_REQ:
		msg_init(&r, SK_BUTTONTEMPLATE);
		r.u.buttons.lines = 1;
		break;
	case SK_SOFTKEYTEMPLATE_REQ:
		msg_init(&r, SK_SOFTKEYTEMPLATE_RES);
		break;
	case SK_SOFTKEYSET_REQ:
		msg_init(&r, SK_SOFTKEYSET_RES);
		break;
	case SK_LINESTAT_REQ:
		msg_init(&r, SK_LINESTAT);
		r.u.linestat.line = m->u.simple.line != 0 ? m->u.simple.line :
		    SCCP_LINE;
		scopy(r.u.linestat.dn, sizeof(r.u.linestat.dn), d->ext);
		scopy(r.u.linestat.display, sizeof(r.u.linestat.display),
		    d->ext[0] != '\0' ? d->ext : d->name);
		break;
	case SK_CONFIGSTAT_REQ:
		msg_init(&r, SK_CONFIGSTAT);
		snprintf(r.u.configstat.name, sizeof(r.u.configstat.name), "%s",
		    d->name);
		r.u.configstat.lines = 1;
		break;
	case SK_TIMEDATE_REQ:
		send_timedate(ss, d);
		return 1;
	default:
		return 0;
	}
	send_msg(ss, d, &r);
	return 1;
}

/* ---- input --------------------------------------------------------- */

/* A message we skip, logged at most every SCCP_LOG_EVERY s per device. */
static void
dev_bad(struct sccp_dev *d, const struct skinny_msg *m, const char *what)
{
	int64_t	 t = now_ms() / 1000;

	d->bad_n++;
	if (d->bad_logged != 0 && t - d->bad_logged < SCCP_LOG_EVERY)
		return;
	log_info("sccp: device=%s: %s (id 0x%04x, %zu bytes) skipped (%lu "
	    "such in the last %d s)", d->name, what, m->id, m->payload_len,
	    d->bad_n, SCCP_LOG_EVERY);
	d->bad_logged = t;
	d->bad_n = 0;
}

static void
on_alarm(const struct sccp_dev *d, const struct skinny_msg *m)
{
	char	 text[256];

	str_vis(text, sizeof(text), m->u.alarm.text);
	log_info("sccp: device=%s alarm severity=%u: %s (%u, %u)", d->name,
	    m->u.alarm.severity, text, m->u.alarm.p1, m->u.alarm.p2);
}

static void
on_caps(struct sccp_dev *d, const struct skinny_msg *m)
{
	size_t	 i, n = m->u.caps.count;

	if (n > SKINNY_CAPS_MAX)
		n = SKINNY_CAPS_MAX;
	for (i = 0; i < n; i++)
		d->codecs[i] = m->u.caps.cap[i].codec;
	d->ncodecs = n;
}

/* Unregister (spec 6.5): NAK while a call is up, else ack and close. */
static void
on_unregister(struct sccp_state *ss, struct sccp_dev *d)
{
	uint64_t	 conn = d->peer.conn;

	if (d->call != NULL) {
		send_simple(ss, d, SK_UNREGISTER_ACK, 2);
		return;
	}
	send_simple(ss, d, SK_UNREGISTER_ACK, 0);
	dev_unregister(ss, d, "Unregister");
	tp_close(ss->ccm, conn, "SCCP Unregister");
}

/* A call-control message of a registered device. */
static int
call_input(struct sccp_state *ss, struct sccp_dev *d,
    const struct skinny_msg *m)
{
	struct sccp_call	*c = d->call;

	switch (m->id) {
	case SK_OFFHOOK:
		on_offhook(ss, d);
		break;
	case SK_ONHOOK:
		if (c != NULL)
			call_hangup(c, d);
		break;
	case SK_KEYPAD_BUTTON:
		if (c != NULL && c->state == SC_DIALING && c->leg[0].dev == d)
			dial_digit(c, m->u.simple.button);
		break;
	case SK_SOFTKEY_EVENT:
		on_softkey(ss, d, m->u.softkey.event);
		break;
	case SK_ORC_ACK:
		on_orc_ack(d, m);
		break;
	case SK_SMT_ACK:
		break;
	default:
		return 0;
	}
	return 1;
}

/* A message of a registered device. */
static void
dev_input(struct sccp_state *ss, struct sccp_dev *d,
    const struct skinny_msg *m)
{
	if (call_input(ss, d, m) || bringup(ss, d, m))
		return;
	switch (m->id) {
	case SK_KEEPALIVE:
		send_simple(ss, d, SK_KEEPALIVE_ACK, 0);
		break;
	case SK_REGISTER:
		if (strcmp(m->u.reg.name, d->name) == 0)
			send_reg_ack(ss, d);
		else
			dev_bad(d, m, "Register for another device on a "
			    "registered connection");
		break;
	case SK_CAPABILITIES_RES:
		on_caps(d, m);
		break;
	case SK_ALARM:
		on_alarm(d, m);
		break;
	case SK_REGISTER_AVAILABLE_LINES:
		break;
	case SK_UNREGISTER:
		on_unregister(ss, d);
		break;
	default:
		dev_bad(d, m, skinny_name(m->id) != NULL ?
		    "message not expected from a phone" : "unknown message id");
		break;
	}
}

/* Before registration: Register and KeepAlive only (spec 4). */
static void
pre_input(struct sccp_state *ss, const struct skinny_msg *m, int r,
    const struct tp_info *ti)
{
	char			 why[96];

	if (m->id == SK_REGISTER && r != 0) {
		send_reject(ss, ti, "-", "Bad Register", "too short (spec "
		    "6.2)");
		return;
	}
	if (r == 0 && m->id == SK_REGISTER) {
		sccp_register(ss, m, ti);
		return;
	}
	/*
	 * Anything else, KeepAlive included, closes: a phone registers
	 * first (spec 4), and an answered KeepAlive would keep an
	 * unregistered connection alive for ever.
	 */
	snprintf(why, sizeof(why), "%s (id 0x%04x) before Register (spec 4)",
	    skinny_name(m->id) != NULL ? skinny_name(m->id) : "unknown message",
	    m->id);
	tp_close(ss->ccm, ti->peer.conn, why);
}

/*
 * One framed message from a connection (transport.c): parsed at the
 * device's version, dispatched.  Every message of a registered device
 * counts as a sign of life.
 */
void
sccp_input(struct ccm *ccm, const uint8_t *buf, size_t len,
    const struct tp_info *ti)
{
	struct sccp_state	*ss = ccm->sccp;
	struct sccp_dev		*d;
	struct skinny_msg	 m;
	int			 r;

	if (ss == NULL || ti == NULL)
		return;
	d = dev_by_conn(ss, ti->peer.conn);
	memset(&m, 0, sizeof(m));
	r = skinny_parse(buf, len, d != NULL ? d->version : 0, &m);
	if (d == NULL)
		pre_input(ss, &m, r, ti);
	else {
		d->last_ms = now_ms();
		TAILQ_REMOVE(&ss->devs, d, entry);
		TAILQ_INSERT_TAIL(&ss->devs, d, entry);
		if (r != 0)
			dev_bad(d, &m, "malformed message");
		else
			dev_input(ss, d, &m);
	}
	skinny_msg_wipe(&m);
}

/* ---- the module ---------------------------------------------------- */

/* A connection closed (transport.c): its device unregisters, calls end. */
void
sccp_conn_closed(struct ccm *ccm, uint64_t conn)
{
	struct sccp_state	*ss = ccm->sccp;
	struct sccp_dev		*d;

	if (ss == NULL || (d = dev_by_conn(ss, conn)) == NULL)
		return;
	dev_unregister(ss, d, "connection closed");
}

/* Is ext the line of a registered SCCP phone? */
int
sccp_line_registered(struct ccm *ccm, const char *ext)
{
	return ccm->sccp != NULL && ext != NULL &&
	    dev_by_ext(ccm->sccp, ext) != NULL;
}

size_t
sccp_count(struct ccm *ccm)
{
	return ccm->sccp != NULL ? ccm->sccp->ndevs : 0;
}

size_t
sccp_call_count(struct ccm *ccm)
{
	return ccm->sccp != NULL ? ccm->sccp->ncalls : 0;
}

/*
 * registrar.c's write-behind: one row per registered phone (transport
 * "tcp" or "tls", contact "sccp:ADDR:PORT"), at most n into rows; how
 * many.  The rows expire SCCP_ROW_TTL after being written; they are
 * written again every SCCP_ROW_REFRESH while phones are registered.
 */
size_t
sccp_reg_rows(struct ccm *ccm, struct store_reg *rows, size_t n)
{
	struct sccp_dev		*d;
	struct store_reg	*g;
	size_t			 i = 0;
	int64_t			 t = (int64_t)time(NULL);

	if (ccm->sccp == NULL)
		return 0;
	TAILQ_FOREACH(d, &ccm->sccp->devs, entry) {
		if (i == n)
			break;
		g = &rows[i++];
		memset(g, 0, sizeof(*g));
		snprintf(g->aor, sizeof(g->aor), "%s", d->ext[0] != '\0' ?
		    d->ext : d->name);
		snprintf(g->device, sizeof(g->device), "%s", d->name);
		snprintf(g->contact, sizeof(g->contact), "sccp:%s",
		    d->peer_text);
		snprintf(g->transport, sizeof(g->transport), "%s", d->tls ?
		    "tls" : "tcp");
		snprintf(g->source, sizeof(g->source), "%s", d->peer_text);
		snprintf(g->cert_subject, sizeof(g->cert_subject), "%s",
		    d->cert_subject);
		g->expires = t + SCCP_ROW_TTL;
	}
	return i;
}

/* Did the SCCP registrations change since they were last written?
   clear: they were just written. */
int
sccp_reg_dirty(struct ccm *ccm, int clear)
{
	struct sccp_state	*ss = ccm->sccp;
	int			 was;

	if (ss == NULL)
		return 0;
	was = ss->dirty;
	if (clear) {
		ss->dirty = 0;
		ss->rows_written = (int64_t)time(NULL);
	}
	return was;
}

/* One device against its profile again (reload): 0 keep, 1 dropped. */
static int
dev_recheck(struct sccp_state *ss, struct sccp_dev *d)
{
	struct store_sipdev	 sd;
	const struct tp_info	*ti;
	const char		*text, *why = "";
	char			 line[192];
	uint64_t		 conn = d->peer.conn;
	int			 r;

	r = store_sipdev_get(ss->ccm->store, d->name, &sd);
	if (r != 0 && r != UC_ERR_NOTFOUND)
		return 0;		/* the store is busy: keep */
	if ((ti = tp_info_get(ss->ccm, conn)) == NULL)
		return 0;		/* closing: the reaper tells us */
	if (r != 0 || sd.proto != STORE_PROTO_SCCP)
		text = why = "no longer an SCCP device in the store";
	else
		text = mode_check(sd.secmode, d->name, ti, d->version,
		    d->version, &why);
	/* The trust may have changed too (client_ca, the CTL's CAPFs). */
	if (text == NULL && ti->tls && !tp_phone_trusted(ss->ccm, conn))
		text = why = "its certificate no longer chains to the phone "
		    "anchors";
	if (text == NULL) {
		d->secmode = sd.secmode;
		dev_set_ext(ss, d, sd.extension);
		return 0;
	}
	snprintf(line, sizeof(line), "reload: %s", why);
	dev_unregister(ss, d, line);
	tp_close(ss->ccm, conn, "SCCP device profile changed");
	return 1;
}

/*
 * SIGHUP: every registered device's profile from the store again; a
 * device whose mode no longer fits its connection (or that is gone) is
 * unregistered and closed, the others take the new mode and extension.
 */
void
sccp_reload(struct ccm *ccm)
{
	struct sccp_state	*ss = ccm->sccp;
	struct sccp_dev		*d, *next;
	size_t			 dropped = 0;

	if (ss == NULL || ccm->store == NULL)
		return;
	for (d = TAILQ_FIRST(&ss->devs); d != NULL; d = next) {
		next = TAILQ_NEXT(d, entry);
		dropped += (size_t)dev_recheck(ss, d);
	}
	log_info("sccp: reload: %zu device%s registered, %zu dropped",
	    ss->ndevs, ss->ndevs == 1 ? "" : "s", dropped);
}

int
sccp_init(struct ccm *ccm)
{
	struct sccp_state	*ss;
	struct timeval		 tv = { 1, 0 };

	if (ccm->sccp != NULL)
		return 0;
	if ((ss = calloc(1, sizeof(*ss))) == NULL ||
	    (ss->by_name = calloc(SCCP_BUCKETS, sizeof(*ss->by_name))) ==
	    NULL ||
	    (ss->by_conn = calloc(SCCP_BUCKETS, sizeof(*ss->by_conn))) ==
	    NULL ||
	    (ss->by_ext = calloc(SCCP_BUCKETS, sizeof(*ss->by_ext))) == NULL)
		goto fail;
	ss->ccm = ccm;
	TAILQ_INIT(&ss->devs);
	TAILQ_INIT(&ss->calls);
	if (ccm->base != NULL) {
		if ((ss->sweep = event_new(ccm->base, -1, EV_PERSIST, sweep_cb,
		    ss)) == NULL || event_add(ss->sweep, &tv) != 0)
			goto fail;
	}
	ccm->sccp = ss;
	return 0;
fail:
	if (ss != NULL) {
		if (ss->sweep != NULL)
			event_free(ss->sweep);
		free(ss->by_name);
		free(ss->by_conn);
		free(ss->by_ext);
	}
	free(ss);
	return uc_fail(UC_ERR_ALLOC, "sccp: tables");
}

/* Every call ends (SIP legs hung up), every device goes. */
void
sccp_free(struct ccm *ccm)
{
	struct sccp_state	*ss = ccm->sccp;
	struct sccp_call	*c;
	struct sccp_dev		*d;

	if (ss == NULL)
		return;
	while ((c = TAILQ_FIRST(&ss->calls)) != NULL)
		call_end(c, NULL, "ccmd stopping");
	while ((d = TAILQ_FIRST(&ss->devs)) != NULL) {
		dev_unlink(ss, d);
		free(d);
	}
	if (ss->sweep != NULL)
		event_free(ss->sweep);
	free(ss->by_name);
	free(ss->by_conn);
	free(ss->by_ext);
	free(ss);
	ccm->sccp = NULL;
}
