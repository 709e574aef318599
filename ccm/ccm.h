/*
 * ccmd internals shared by its files.  One process, one libevent loop,
 * one thread: nothing here is locked.
 *
 *   ccmd.c       main, configuration (INI), credentials, SIGHUP, store
 *   transport.c  UDP/TCP/TLS listeners and connections, framing, TLS
 *                policy, client-certificate identity, outgoing connects
 *   sip.c        message layer: libosip2 parsing and checks, server and
 *                client transactions, building/sending, dispatch
 *   registrar.c  REGISTER: bindings, device/certificate binding
 *   auth.c       digest server side (nonces, nc, throttling) and UAC side
 *   b2bua.c      calls: two dialogs per call, SDES per leg, Call-Info,
 *                in-dialog relaying, presence SUBSCRIBE
 *   trunk.c      trunk profiles: matching, method/feature ACLs
 *   sdp.c        SDP rewriting per leg (libosip2 sdp_message + lib/sdes)
 *   sccp.c       Skinny phones: registration, bring-up, calls with SCCP
 *                (and SIP, through sipleg.c) peers, CallInfo status
 *   keymgr.c     SRTP key manager: keys per call and direction, key log
 *   sipleg.c     a SIP dialog as one leg of an SCCP call (interworking)
 *
 * Ownership: a struct ccm lives for the process; struct ccm_creds is
 * reference counted so a reload never frees what a connection uses.
 */
#ifndef UCSEC_CCM_H
#define UCSEC_CCM_H

#include <sys/socket.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <osipparser2/osip_message.h>
#include <osipparser2/sdp_message.h>

#include "digest.h"
#include "sdes.h"
#include "store.h"

#define CCM_SIP_PORT		5060
#define CCM_SIPS_PORT		5061
#define CCM_MSG_MAX		65535	/* bytes per SIP message */
#define CCM_CONNS_DEF		20000	/* connections at once */
#define CCM_PER_ADDR_DEF	64	/* connections per peer address */
#define CCM_IDLE_DEF		180	/* s without a byte on a connection
					   that holds no registration */
#define CCM_HANDSHAKE_DEF	10	/* s for a TLS handshake */
#define CCM_NONCE_VALIDITY_DEF	600	/* s (spec 2.5) */
#define CCM_EXPIRES_MIN		60
#define CCM_EXPIRES_MAX		3600
#define CCM_EXPIRES_DEF		600
#define CCM_REALM_DEF		"ccmsipline"
#define CCM_LISTEN_MAX		8	/* listeners per kind */
#define CCM_CA_MAX		16	/* client CA files */
#define CCM_REG_FLUSH_MS	1000	/* registrations written behind */

enum tp_kind { TP_UDP = 0, TP_TCP = 1, TP_TLS = 2 };
/* What a stream listener speaks. */
enum tp_proto { TP_SIP = 0, TP_SCCP = 1 };

#define CCM_SCCP_PORT		2000	/* [sccp] tcp default port */
#define CCM_SCCP_TLS_PORT	2443	/* [sccp] tls, tls_legacy */
#define CCM_SCCP_KEEPALIVE_DEF	30	/* s, in RegisterAck */
#define CCM_SCCP_DEVICES_MAX	50000	/* registered SCCP phones */

/*
 * TLS policy of one listener (spec 1.1): the normal one is TLS 1.2+
 * with AEAD/AES suites; a legacy listener may allow TLS 1.0 and the
 * NULL-SHA (authenticated-only) suites for old phones, without
 * weakening the others.
 */
struct tls_policy {
	int		 min_version;	/* TLS1_VERSION, TLS1_2_VERSION */
	int		 allow_null;	/* NULL-SHA suites (SECLEVEL 0) */
};

struct listen_cfg {
	int		 kind;		/* enum tp_kind */
	int		 proto;		/* enum tp_proto (TCP, TLS only) */
	char		*addr;		/* "127.0.0.1:5061", "[::1]:5061" */
	int		 legacy;	/* TLS: legacy policy */
};

struct trunk_cfg;			/* trunk.c, from the store */

/* ccmd.c: what the INI file (and the command line) set. */
struct ccm_config {
	char		*config;	/* -c FILE */
	struct listen_cfg listen[3 * CCM_LISTEN_MAX + CCM_LISTEN_MAX];
	size_t		 nlisten;
	struct tls_policy legacy;	/* [sip] legacy_min_tls, legacy_null */
	char		*cert;		/* CallManager certificate (PEM) */
	char		*key;		/* PEM path or pkcs11: URI */
	char		*client_ca[CCM_CA_MAX];	/* LSC issuers, MIC roots */
	size_t		 nclient_ca;
	char		*ctl;		/* CTLFile.tlv: CAPF certs trusted */
	char		*trunk_ca[CCM_CA_MAX];	/* trunk peer anchors */
	size_t		 ntrunk_ca;
	char		*realm;
	char		*domain;	/* host part we put in URIs */
	int		 nonce_validity;
	int		 digest_algs;	/* bit (1 << DIGEST_*) */
	int		 digest_order[DIGEST_ALG__MAX]; /* preference order */
	int		 ndigest;	/* entries in digest_order */
	int		 challenge_in_dialog;
	int		 digest_noqop;	/* digest_legacy_noqop: accept an
					   answer without qop (single-use
					   nonce) */
	int		 expires_min, expires_max;
	int		 max_conns, max_per_addr;
	int		 idle_timeout, handshake_timeout;
	int		 auth_fail_max;	/* failures before 403 (per user/src) */
	int		 auth_fail_window; /* s */
	char		*db;		/* [store] db */
	char		*secret_key;	/* [store] secret_key: HA1 sealing */
	char		*user;		/* drop privileges to */
	int		 sccp_keepalive;	/* [sccp] keepalive, s */
	char		*keylog;	/* [sccp] key_log: off unless set */
	int		 sccp_sha1_80;	/* [sccp] allow_sha1_80: SCCP phones
					   may get algorithm 2 (80-bit tag)
					   when the SIP side offers no _32 */
	int		 foreground;
	int		 verbose;
};

/* Credentials; reloaded on SIGHUP (ccmd.c). */
struct ccm_creds {
	int		 refs;
	SSL_CTX		*tls;		/* normal TLS listeners */
	SSL_CTX		*tls_legacy;	/* legacy listeners */
	SSL_CTX		*tls_client;	/* outgoing TLS (trunks) */
	X509_STORE	*trust;		/* client certificate anchors */
	X509_STORE	*trunk_trust;	/* trunk peer anchors: trunk_ca, or
					   the same store as trust when
					   trunk_ca is not set */
	uint8_t		 seal_key[32];	/* HA1 at rest (lib/seal.h) */
};

/*
 * Where a message came from or goes to.  For TCP and TLS, conn names
 * the connection (never reused in a process); for UDP, sock is the
 * index of the listening socket and addr the peer.
 */
struct tp_peer {
	int			 kind;		/* enum tp_kind */
	uint64_t		 conn;		/* TCP/TLS; 0 for UDP */
	int			 sock;		/* UDP listener index */
	struct sockaddr_storage	 addr;
	socklen_t		 addrlen;
};

/*
 * What the transport knows about a connection (or a UDP datagram).
 * Valid during the callback; cert stays valid while the connection
 * lives (tp_info_get finds it again by id).
 */
struct tp_info {
	struct tp_peer	 peer;
	int		 proto;		/* enum tp_proto */
	int		 tls;		/* TLS, any cipher */
	int		 encrypted;	/* TLS with a non-NULL cipher */
	int		 legacy;	/* came in on a legacy listener */
	X509		*cert;		/* verified client certificate or NULL */
	int		 phone_ok;	/* cert verifies against creds->trust
					   (client_ca + CTL CAPFs): a phone */
	int		 trunk_ok;	/* cert verifies against
					   creds->trunk_trust: a trunk peer */
	char		 cert_cn[64];	/* its subject CN ("" if none) */
	char		 cert_subject[256]; /* RFC 4514 ("" if none) */
	char		 peer_text[64];	/* "192.0.2.1:5060" for logs */
	char		 local_host[64];/* our address as the peer sees it */
	int		 local_port;
};

struct ccm;
struct sip_strans;
struct sip_ctrans;
struct call;
struct trunk;

/* ---- transport.c ---------------------------------------------------- */

/*
 * The legacy cipher list with the NULL-SHA (authenticated-only) suites
 * last: [sip] legacy_null, and always on [sccp] tls_legacy listeners
 * (SCCP authenticated mode, sccp-security.md 1.1 mode 2).
 */
#define TP_CIPHERS_NULL	"ALL:!COMPLEMENTOFDEFAULT:!aNULL:!PSK:!SRP:!MD5:" \
			"eNULL:@SECLEVEL=0"

/* Bind every listener (before privileges are dropped). */
int	 tp_bind(struct ccm *);
/* Start accepting / reading (after daemon(), on the loop). */
int	 tp_start(struct ccm *);
void	 tp_stop(struct ccm *);
/*
 * Send bytes to a peer.  TCP/TLS: queued on the connection; fails with
 * UC_ERR_NOTFOUND if it is gone.  UDP: sendto from listener peer->sock.
 */
int	 tp_send(struct ccm *, const struct tp_peer *, const void *, size_t);
/* The same for bytes with keys in them: our copy is wiped once written
   (TCP/TLS only). */
int	 tp_send_secret(struct ccm *, const struct tp_peer *, const void *,
	    size_t);
/*
 * Open (or reuse) an outgoing connection to a trunk peer; bytes sent
 * before it is up are queued.  TLS verifies the peer against
 * creds->trunk_trust and the trunk's expected name (trunk_name_match).
 */
int	 tp_connect(struct ccm *, int, const struct sockaddr *, socklen_t,
	    const struct trunk *, struct tp_peer *);
/* SIGHUP: 1 if the connection's client certificate still chains to the
   phone anchors of the current credentials. */
int	 tp_phone_trusted(struct ccm *, uint64_t);
/* The info of a live connection, or NULL. */
const struct tp_info *tp_info_get(struct ccm *, uint64_t);
/* Close a TCP/TLS connection after what is queued is written (SCCP
   RegisterReject); one log line with why.  No-op if it is gone. */
void	 tp_close(struct ccm *, uint64_t, const char *);
/* Mark a connection as holding a registration (no idle close). */
void	 tp_set_pinned(struct ccm *, uint64_t, int);
/* The SSL_CTXs changed (SIGHUP): new connections use the new ones. */
void	 tp_creds_changed(struct ccm *);
size_t	 tp_conn_count(struct ccm *);

/* ---- sip.c ---------------------------------------------------------- */

/* One message arrived (transport.c calls this); buf is not kept. */
void	 sip_input(struct ccm *, const char *, size_t, const struct tp_info *);
/* A TCP/TLS connection closed: drop bindings and waiting transactions. */
void	 sip_conn_closed(struct ccm *, uint64_t);

/*
 * A request being handled: the server transaction owns msg and a copy
 * of the transport info.  Handlers reply with sip_reply / sip_resp_*.
 *
 * Lifetimes: a server transaction belongs to its handler until the
 * handler sends a final response or detaches (sip.c then answers 500);
 * the pointer is dead after either.  A CANCEL is answered 200 by sip.c;
 * the INVITE gets 487 only through the on_cancel callback (without one
 * the owner answers it).  A client transaction belongs to its owner until
 * the callback for its final response (or timeout, resp NULL) returns, or
 * until detach.  For an ACK, st is NULL and msg is freed when
 * b2bua_request returns.  sip.c sends no 100 Trying and does not call
 * trunk_authorize: b2bua.c does both.
 */
struct sip_req {
	struct ccm		*ccm;
	osip_message_t		*msg;
	struct tp_info		 src;
	struct sip_strans	*st;		/* NULL for ACK */
	const char		*auth_user;	/* digest user, NULL if none */
	struct trunk		*trunk;		/* came from this trunk */
	int			 in_dialog;	/* To carried a tag */
	/*
	 * The digest algorithms to challenge with, in preference order, from
	 * the device's or trunk's row ("SHA-256,MD5"); "" = the config's.
	 * Set by the caller of auth_server_check.
	 */
	char			 digest_algs[48];
};

/* Make a response skeleton (Via, From, To+tag, Call-ID, CSeq copied). */
osip_message_t *sip_resp_new(struct sip_strans *, int, const char *);
/* Send it; the transaction keeps it for retransmissions. */
int	 sip_resp_send(struct sip_strans *, osip_message_t *);
/* Both in one, no extra headers. */
int	 sip_reply(struct sip_strans *, int, const char *);
/* The request the transaction answers, and its To tag for responses. */
osip_message_t *sip_strans_req(struct sip_strans *);
const char *sip_strans_totag(struct sip_strans *);
/* Called when a CANCEL matches this INVITE transaction. */
void	 sip_strans_on_cancel(struct sip_strans *, void (*)(void *), void *);
/* The owner is gone: no more callbacks. */
void	 sip_strans_detach(struct sip_strans *);

/*
 * Client transactions.  sip_request_send adds the top Via (our address
 * for dest, a fresh branch), retransmits over UDP (timers A/E), times
 * out (B/F: cb with resp NULL, code 408), ACKs non-2xx INVITE finals by
 * itself.  cb sees each response; the transaction ends at a final one.
 * msg is taken in every case.
 */
typedef void (*sip_resp_cb)(void *, struct sip_ctrans *, osip_message_t *,
	    const struct tp_info *);
int	 sip_request_send(struct ccm *, osip_message_t *, const struct tp_peer *,
	    sip_resp_cb, void *, struct sip_ctrans **);
/* CANCEL a pending INVITE client transaction. */
int	 sip_ctrans_cancel(struct sip_ctrans *);
void	 sip_ctrans_detach(struct sip_ctrans *);
osip_message_t *sip_ctrans_req(struct sip_ctrans *);
/* Send a message outside any transaction (ACK for 2xx). msg taken. */
int	 sip_send_stateless(struct ccm *, osip_message_t *,
	    const struct tp_peer *);
/* Random token for tags, branches, Call-IDs (hex, NUL-terminated). */
void	 sip_token(char *, size_t);
/* Our URI host:port for a peer ("cm.example:5061;transport=tls"). */
int	 sip_contact_for(struct ccm *, const struct tp_info *, char *, size_t);
/* One extra header on a message (name, value copied). */
int	 sip_add_header(osip_message_t *, const char *, const char *);
/* Set the body and Content-Type/Length (body copied). */
int	 sip_set_body(osip_message_t *, const char *, const char *, size_t);
/* The message as text (malloc'd, NUL-terminated). */
char	*sip_to_text(osip_message_t *, size_t *);
void	 sip_free(struct ccm *);
/* Keyed hash (random per-process key) for every table in ccmd. */
uint64_t sip_hash(const void *, size_t);
/* The raw Authorization (or Proxy-) values as they came on the wire. */
size_t	 sip_strans_creds(struct sip_strans *, size_t, const char **);
/* Record the authenticated user; returns the transaction's copy. */
const char *sip_strans_set_user(struct sip_strans *, const char *);
/* The final status sent so far (0: none yet). */
int	 sip_strans_code(struct sip_strans *);

/* ---- auth.c --------------------------------------------------------- */

/*
 * Server side (spec 2.6).  0: authenticated (*user set, lives as long
 * as the request).  1: a response was sent (401 challenge, 400, 403):
 * the caller stops.  realm and validity come from the device/trunk.
 */
int	 auth_server_check(struct sip_req *, const char *, int, const char **);
/* Send the 401 with one WWW-Authenticate per enabled algorithm. */
int	 auth_challenge(struct sip_req *, const char *, int);
/* UAC side (spec 4): credentials for a 401/407 to our request. */
int	 auth_client_answer(struct ccm *, const struct trunk *,
	    osip_message_t *, const osip_message_t *);
int	 auth_init(struct ccm *);
void	 auth_free(struct ccm *);

/* ---- registrar.c ---------------------------------------------------- */

#define REG_F_CALLINFO		0x01	/* X-cisco-callinfo */
#define REG_F_SRTP_FALLBACK	0x02	/* X-cisco-srtp-fallback */
#define REG_F_SIS2		0x04	/* X-cisco-sis >= 2.0.0 */

struct binding {
	char		 aor[64];	/* extension, e.g. "1001" */
	char		 device[STORE_NAME_MAX];
	int		 secmode;	/* enum store_secmode of the device */
	char		 contact[256];	/* the Contact URI the phone gave */
	struct tp_peer	 peer;		/* where to send (its connection) */
	int		 encrypted;	/* registered over encrypted TLS */
	int		 tls;
	int		 flags;		/* REG_F_* */
	char		 cert_subject[256];
	char		 user[64];	/* digest user ("" if none) */
	char		 digest_algs[48]; /* the device's ("" = config's) */
	int64_t		 expires;	/* unix time */
};

void	 registrar_register(struct sip_req *);
/* The live binding of an extension, or NULL. */
const struct binding *registrar_lookup(struct ccm *, const char *);
/* The binding on this connection (a phone's own requests), or NULL. */
const struct binding *registrar_by_conn(struct ccm *, uint64_t);
/* The binding a request comes from: its connection, or for UDP its
   source address. */
const struct binding *registrar_by_peer(struct ccm *, const struct tp_peer *);
/* The same, preferring the binding of this extension (the From user)
   where one plain-TCP connection or UDP source carries several. */
const struct binding *registrar_by_source(struct ccm *,
	    const struct tp_peer *, const char *);
void	 registrar_conn_closed(struct ccm *, uint64_t);
size_t	 registrar_count(struct ccm *);
int	 registrar_init(struct ccm *);
void	 registrar_free(struct ccm *);

/* ---- trunk.c -------------------------------------------------------- */

/* The trunk a request came from (source address, transport, cert). */
struct trunk *trunk_match(struct ccm *, const struct tp_info *);
/* The trunk that routes a dialled number, or NULL. */
struct trunk *trunk_route(struct ccm *, const char *);
/* RFC 5922 identity check of a peer certificate (spec 1.1). */
int	 trunk_name_match(const struct trunk *, X509 *);
/*
 * Method/feature authorization (spec 5 step 3-5): 0 allowed, else the
 * response (403/481) was sent.
 */
int	 trunk_authorize(struct sip_req *);
const char *trunk_name(const struct trunk *);
int	 trunk_digest(const struct trunk *);	/* challenge incoming */
int	 trunk_nonce_validity(const struct trunk *);
int	 trunk_transmit_security(const struct trunk *);
int	 trunk_peer(const struct trunk *, struct tp_peer *);
/* The trunk's row (out_realm, out_user, sealed out_secret, flags). */
const struct store_trunk *trunk_row(const struct trunk *);
/* A call keeps the trunk of its leg alive across a reload. */
struct trunk *trunk_ref(struct trunk *);
void	 trunk_unref(struct trunk *);
int	 trunk_load(struct ccm *);	/* from the store (start, SIGHUP) */
void	 trunk_free(struct ccm *);

/* ---- b2bua.c -------------------------------------------------------- */

enum call_security {
	CALL_NONSECURE = 0,
	CALL_AUTHENTICATED = 1,
	CALL_ENCRYPTED = 2
};

/* INVITE, ACK, BYE, CANCEL-ed, UPDATE, INFO, REFER, NOTIFY, SUBSCRIBE,
   PRACK, MESSAGE: everything but REGISTER and OPTIONS keepalives. */
void	 b2bua_request(struct sip_req *);
/* A connection closed: calls on it end (BYE to the other leg). */
void	 b2bua_conn_closed(struct ccm *, uint64_t);
size_t	 b2bua_count(struct ccm *);
/* Is there a dialog (Call-ID, our tag[, their tag]) on this trunk? */
int	 b2bua_dialog_on_trunk(struct ccm *, const char *, const char *,
	    const char *, const struct trunk *);
const char *call_security_name(int);
int	 b2bua_init(struct ccm *);
void	 b2bua_free(struct ccm *);

/* ---- dialog.c ------------------------------------------------------- */

#define SIP_DIALOG_ROUTES	8	/* route set entries kept per dialog */
#define SIPMSG_PARTY_MAX	64	/* a user part we copy into URIs */

/*
 * One SIP dialog (b2bua.c's legs, sipleg.c's legs).  Every string is
 * malloc'd and owned by the dialog (NULL: not known yet); a zeroed
 * struct is an empty dialog, and sip_dialog_clear frees every string
 * and zeroes it again.
 */
struct sip_dialog {
	char		*callid;
	char		*ltag;		/* ours */
	char		*rtag;		/* theirs (NULL: not yet) */
	char		*lhdr;		/* our From in requests, tag incl. */
	char		*rhdr;		/* their To in requests */
	char		*target;	/* their Contact URI */
	char		*routes[SIP_DIALOG_ROUTES];
	size_t		 nroutes;
	char		*contact;	/* our Contact header value */
	uint32_t	 lcseq;		/* our last CSeq */
};

void	 sip_dialog_clear(struct sip_dialog *);
/*
 * A request inside the dialog: target, route set, From/To, Call-ID and
 * CSeq (cseq 0: our next, lcseq moves); our Contact on INVITE, UPDATE,
 * SUBSCRIBE, NOTIFY, REFER; allow (NULL: none) as Allow on INVITE and
 * UPDATE.  The caller owns the message; NULL on failure.
 */
osip_message_t *sip_dialog_request(struct sip_dialog *, const char *,
	    uint32_t, const char *);
/* The route set from m's Record-Route (reverse: the UAC side).  0, or
   -1 (more than SIP_DIALOG_ROUTES, out of memory). */
int	 sip_dialog_routes(struct sip_dialog *, const osip_message_t *, int);
/* New remote target from m's Contact, if it has one. */
void	 sip_dialog_target(struct sip_dialog *, const osip_message_t *);
/* Our Contact: <sip:user@host:port;...> for the peer of info (user
   NULL or "": "ccm").  0 or -1. */
int	 sip_dialog_contact(struct sip_dialog *, struct ccm *,
	    const struct tp_info *, const char *);
/*
 * The UAC view of a dialog our INVITE inv made, from its 2xx resp:
 * their tag and To, our From and the Call-ID (unless set), the target
 * (resp's Contact, else what was set, else inv's Request-URI), the
 * reversed route set.  0 or -1.
 */
int	 sip_dialog_from_2xx(struct sip_dialog *, const osip_message_t *,
	    const osip_message_t *);
/*
 * The UAS view of the dialog an empty d gets from request req with our
 * tag ltag: Call-ID, tags, To (with ltag) / From, the route set in
 * order, the target from req's Contact (stays NULL without one: the
 * caller decides).  0, or a status: 400 (no Call-ID or tag, too many
 * Record-Routes), 500 (out of memory).
 */
int	 sip_dialog_from_request(struct sip_dialog *, const osip_message_t *,
	    const char *);

/* malloc'd copy of an osip-allocated string, which is freed. */
char	*sipmsg_take(char *);
/* A user part we copy into our URIs (1..SIPMSG_PARTY_MAX-1 of
   alphanumerics and "+*#._-"). */
int	 sipmsg_party_ok(const char *);
/* The Call-Info security word for an enum call_security (spec 7). */
const char *sipmsg_callinfo_word(int);
/* The tag of a From/To, or NULL (points into f). */
const char *sipmsg_tag(osip_from_t *);
/* A From/To as header text, with tag added if given and it has none;
   malloc'd (caller frees), NULL on failure.  Likewise a URI, and the
   first Contact's URI of m. */
char	*sipmsg_party_text(const osip_from_t *, const char *);
char	*sipmsg_uri_text(const osip_uri_t *);
char	*sipmsg_contact_uri(const osip_message_t *);
/* "number@host" or "number" into buf. 0, or -1 when missing/too long. */
int	 sipmsg_callid(const osip_message_t *, char *, size_t);
/* A dialog-making response copies the request's Record-Route headers in
   order (RFC 3261 12.1.1).  0, or -1 when out of memory. */
int	 sipmsg_copy_rr(osip_message_t *, const osip_message_t *);
/* m's body: 1 with an SDP body (*p, *len point into m), 0 without a
   body, -1 with a body of another type. */
int	 sipmsg_body_sdp(const osip_message_t *, const char **, size_t *);

/* ---- media descriptions shared by sccp.c, sipleg.c, keymgr.c -------- */

/*
 * One audio stream as one side describes it: where that side receives
 * RTP, and (srtp) the key it sends with.  Key material: wipe with
 * media_desc_wipe (keymgr.c) before the struct goes away.
 */
struct media_desc {
	struct sockaddr_storage	 addr;		/* RTP address with port */
	int			 pt;		/* RTP payload type: 0 PCMU,
						   8 PCMA, 9 G722, 18 G729 */
	int			 ptime;		/* ms per packet */
	int			 srtp;		/* key below is valid */
	int			 suite;		/* enum srtp_suite */
	uint32_t		 crypto_tag;	/* SDES tag to answer with */
	uint8_t			 keysalt[SDES_KEYSALT_MAX];
	size_t			 keysalt_len;
};

/* ---- keymgr.c ------------------------------------------------------- */

/*
 * Fresh key || salt for suite from the CSPRNG (RAND_priv_bytes) into
 * md->keysalt; md->srtp and md->suite set.  Never logged.
 */
int	 keymgr_new_key(struct media_desc *, int);
void	 media_desc_wipe(struct media_desc *);
/*
 * The key log (cfg->keylog, off by default): one line per key handed
 * out.  call: the call id; from/to: sender and receiver names; src may
 * be NULL; dst: the receiver's RTP address; ssrc 0 = unknown.  A no-op
 * when the log is off; a write failure is logged once, never fatal.
 */
void	 keymgr_log(struct ccm *, uint32_t, const char *, const char *,
	    const struct sockaddr_storage *, const struct sockaddr_storage *,
	    uint32_t, const struct media_desc *);
int	 keymgr_init(struct ccm *);	/* opens the key log (SIGHUP too) */
void	 keymgr_free(struct ccm *);

/* ---- sccp.c --------------------------------------------------------- */

/* One whole framed SCCP message (transport.c calls this). */
void	 sccp_input(struct ccm *, const uint8_t *, size_t,
	    const struct tp_info *);
/* A TCP/TLS connection closed: its device unregisters, calls end. */
void	 sccp_conn_closed(struct ccm *, uint64_t);
/* Is ext a line of a registered SCCP phone? */
int	 sccp_line_registered(struct ccm *, const char *);
size_t	 sccp_count(struct ccm *);		/* registered phones */
size_t	 sccp_call_count(struct ccm *);
/* SIGHUP: profiles re-read; devices whose mode no longer fits their
   connection are unregistered. */
void	 sccp_reload(struct ccm *);
int	 sccp_init(struct ccm *);
void	 sccp_free(struct ccm *);
/*
 * registrar.c's write-behind also lists SCCP phones: at most n rows
 * (transport "tcp"/"tls", contact "sccp:ADDR:PORT", cert subject) into
 * rows, how many; sccp_reg_dirty tells whether they changed since the
 * last write (clear: they were just written).
 */
size_t	 sccp_reg_rows(struct ccm *, struct store_reg *, size_t);
int	 sccp_reg_dirty(struct ccm *, int);

struct sipleg;
struct sipleg_ops;
/*
 * sipleg.c -> sccp.c: a SIP INVITE (authenticated, routed, out of
 * dialog) for the SCCP line ext.  offer: the SIP side's SDP as a
 * media_desc (its RTP address; with srtp set, its key, which becomes the
 * SCCP phone's receive key; sipleg picks AES_CM_128_HMAC_SHA1_32 when
 * offered, spec 7.1 rule 8).  sip_sec: the SIP leg's enum call_security.
 * Returns 0 and sets *ops and *arg (sipleg calls them from now on), or a SIP
 * status to answer: 404 not registered, 486 busy, 488 media refused.
 */
int	 sccp_offer_from_sip(struct ccm *, const char *, struct sipleg *,
	    const struct media_desc *, int, const char *, const char *,
	    const struct sipleg_ops **, void **);

/* ---- sipleg.c ------------------------------------------------------- */

/* Callbacks from a SIP leg to its owner (sccp.c). */
struct sipleg_ops {
	/* outgoing: 18x from the far end */
	void	(*ringing)(void *);
	/*
	 * outgoing: 200 OK to our INVITE without SDP; remote: its offer
	 * (address and, with srtp, its key).  The owner answers with
	 * sipleg_ack (or sipleg_hangup: ACK and BYE) within 32 s.
	 */
	void	(*answered)(void *, const struct media_desc *);
	/* incoming: the ACK for our 200 arrived */
	void	(*acked)(void *);
	/*
	 * a re-INVITE or UPDATE changed the far end's media (hold: the
	 * address is unspecified or the direction inactive/sendonly); also
	 * the answer to our sipleg_update.  A re-offer was already answered
	 * 200 with the owner's last local media.
	 */
	void	(*media)(void *, const struct media_desc *, int hold);
	/* the leg ended (BYE, CANCEL, error, connection lost); code is the
	   SIP status, or 0 for a BYE from the far end.  The leg is freed
	   after this returns (do not call sipleg_* on it in here).  The
	   owner may call sipleg_hangup inside any other callback. */
	void	(*ended)(void *, int, const char *);
};

/*
 * b2bua.c -> sipleg.c.  sipleg_request: called first for every request;
 * 1 if it belongs to a SIP leg (handled), 0 otherwise.
 * sipleg_incoming: an authenticated out-of-dialog INVITE whose target
 * is not a SIP binding; 1 if ext is an SCCP line (handled: answered by
 * sccp.c through the leg), 0 otherwise.
 */
int	 sipleg_request(struct sip_req *);
int	 sipleg_incoming(struct sip_req *, const char *);

/*
 * sccp.c -> sipleg.c, for an incoming leg (these may also be called from
 * inside sccp_offer_from_sip).  sipleg_answer: 200 with the SDP answer:
 * local = the SCCP phone's RTP address and the key the SCCP phone sends
 * with (same suite and tag as the offer); -1: not sent (an encrypted
 * SIP profile without SRTP got 488), the owner hangs up.  sipleg_reject:
 * a final >= 300; the leg is freed as by sipleg_hangup.
 */
int	 sipleg_ringing(struct sipleg *);		/* 180 */
int	 sipleg_answer(struct sipleg *, const struct media_desc *);
int	 sipleg_reject(struct sipleg *, int);

/*
 * An SCCP phone calls the SIP extension ext (a registered SIP phone, or a
 * trunk route): INVITE without SDP (delayed offer: the SCCP phone's rx
 * key must come from the SIP side, spec 7.1 rule 8).  NULL with *code
 * (404, 480, 503) when it cannot be placed.
 */
struct sipleg *sipleg_invite(struct ccm *, const char *, const char *,
	    const char *, const struct sipleg_ops *, void *, int *);
/* ACK with the SDP answer to the offer in the 200 (local as above);
   -1: nothing sent, the owner hangs up. */
int	 sipleg_ack(struct sipleg *, const struct media_desc *);
/* New local media (hold/resume from the SCCP side): re-INVITE; its
   answer comes through ops->media (a refusal other than 491 ends the
   leg).  -1: nothing changed (not confirmed, one pending, no key). */
int	 sipleg_update(struct sipleg *, const struct media_desc *, int hold);
/* 1 while our re-INVITE is unanswered: sipleg_update must wait for
   ops->media. */
int	 sipleg_busy(const struct sipleg *);
/* Hang up: BYE, CANCEL or a final answer as fits; no more callbacks;
   the leg is freed. */
void	 sipleg_hangup(struct sipleg *);
/* The leg's enum call_security: TLS with a non-NULL cipher and SRTP
   agreed -> encrypted; TLS -> authenticated; else (or any trunk) non. */
int	 sipleg_security(const struct sipleg *);
/* The call's status changed: Call-Info to a Cisco SIP phone (spec
   sip-security), nothing for others. */
void	 sipleg_set_status(struct sipleg *, int);
/* The device or trunk name of the far end, for logs and the key log. */
const char *sipleg_peer_name(const struct sipleg *);
void	 sipleg_conn_closed(struct ccm *, uint64_t);
size_t	 sipleg_count(struct ccm *);
int	 sipleg_init(struct ccm *);
void	 sipleg_free(struct ccm *);

/* ---- the process -------------------------------------------------- */

struct event_base;
struct tp_state;
struct sip_state;
struct auth_state;
struct reg_state;
struct trunk_state;
struct b2bua_state;
struct sccp_state;
struct keymgr_state;
struct sipleg_state;

struct ccm {
	struct event_base	*base;
	struct ccm_config	*cfg;
	struct ccm_creds	*creds;
	struct store		*store;
	struct tp_state		*tp;
	struct sip_state	*sip;
	struct auth_state	*auth;
	struct reg_state	*reg;
	struct trunk_state	*trunks;
	struct b2bua_state	*b2bua;
	struct sccp_state	*sccp;
	struct keymgr_state	*keymgr;
	struct sipleg_state	*sipleg;
};

/* ccmd.c */
struct ccm_creds *creds_ref(struct ccm_creds *);
void	 creds_unref(struct ccm_creds *);

#endif /* UCSEC_CCM_H */
