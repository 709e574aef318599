/*
 * SIP trunks (spec 4, 5): the store_trunk rows, loaded at start and on
 * SIGHUP; matching an incoming request to its trunk (source address,
 * transport, and for TLS the RFC 5922 identity of the peer
 * certificate); routing dialled numbers by prefix; and the trunk
 * profile's method/feature authorization (403 Forbidden).
 *
 * A reload builds a whole new table (every peer resolved) before it
 * replaces the old one, so a failed reload changes nothing.  struct
 * trunk is reference counted: the table holds one reference, a call
 * with a leg on the trunk holds another (trunk_ref), so a trunk removed
 * or changed by a reload lives on, unchanged, until its calls end.
 */
#include <sys/socket.h>
#include <sys/types.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <osipparser2/osip_parser.h>

#include "ccm.h"
#include "cursor.h"
#include "log.h"
#include "uerr.h"

#define TRUNK_MAX	1024	/* trunks in the table */
#define TRUNK_ADDR_MAX	8	/* resolved addresses per peer */
#define TRUNK_NAME_MAX	256	/* a certificate identity we compare */

struct trunk {
	int			 refs;
	struct ccm		*ccm;
	struct store_trunk	 row;
	int			 kind;		/* enum tp_kind */
	int			 port;		/* peer port (default filled) */
	struct sockaddr_storage	 addr[TRUNK_ADDR_MAX];
	socklen_t		 addrlen[TRUNK_ADDR_MAX];
	size_t			 naddr;
	uint64_t		 out_conn;	/* our last connection to it */
};

struct trunk_state {
	struct trunk		**v;		/* one reference each */
	size_t			 n;
};


/* Take a reference; NULL passes through. */
struct trunk *
trunk_ref(struct trunk *t)
{
	if (t != NULL)
		t->refs++;
	return t;
}

/* Drop a reference; the last one frees (the sealed secret is wiped). */
void
trunk_unref(struct trunk *t)
{
	if (t == NULL || --t->refs > 0)
		return;
	OPENSSL_cleanse(&t->row, sizeof(t->row));
	free(t);
}

const char *
trunk_name(const struct trunk *t)
{
	return t->row.name;
}

int
trunk_digest(const struct trunk *t)
{
	return t->row.digest;
}

int
trunk_nonce_validity(const struct trunk *t)
{
	return t->row.nonce_validity > 0 ? t->row.nonce_validity :
	    CCM_NONCE_VALIDITY_DEF;
}

int
trunk_transmit_security(const struct trunk *t)
{
	return (t->row.flags & STORE_F_TX_SECURITY) != 0;
}

/* The trunk's row: out_realm, out_user, sealed out_secret, flags. */
const struct store_trunk *
trunk_row(const struct trunk *t)
{
	return &t->row;
}

static int
tp_kind_of(int transport)
{
	switch (transport) {
	case STORE_TP_TCP:
		return TP_TCP;
	case STORE_TP_TLS:
		return TP_TLS;
	default:
		return TP_UDP;
	}
}

/*
 * Resolve the peer host (a numeric address first, then the resolver)
 * into t->addr.  Blocking: only at start and on SIGHUP.
 */
static int
trunk_resolve(struct trunk *t)
{
	struct addrinfo	 hints, *res = NULL, *ai;
	char		 port[12];
	int		 rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = t->kind == TP_UDP ? SOCK_DGRAM : SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
	snprintf(port, sizeof(port), "%d", t->port);
	if ((rc = getaddrinfo(t->row.peer, port, &hints, &res)) != 0) {
		hints.ai_flags = AI_NUMERICSERV | AI_ADDRCONFIG;
		rc = getaddrinfo(t->row.peer, port, &hints, &res);
	}
	if (rc != 0)
		return uc_fail(UC_ERR_NOTFOUND, "trunk %s: peer %s: %s",
		    t->row.name, t->row.peer, gai_strerror(rc));
	for (ai = res; ai != NULL && t->naddr < TRUNK_ADDR_MAX;
	    ai = ai->ai_next) {
		if (ai->ai_addrlen > sizeof(t->addr[0]) ||
		    (ai->ai_family != AF_INET && ai->ai_family != AF_INET6))
			continue;
		memcpy(&t->addr[t->naddr], ai->ai_addr, ai->ai_addrlen);
		t->addrlen[t->naddr] = ai->ai_addrlen;
		t->naddr++;
	}
	freeaddrinfo(res);
	if (t->naddr == 0)
		return uc_fail(UC_ERR_NOTFOUND, "trunk %s: peer %s: no IPv4 "
		    "or IPv6 address", t->row.name, t->row.peer);
	return 0;
}

struct load_ctx {
	struct ccm		*ccm;
	struct trunk		**v;
	size_t			 n;
	int			 err;
};

static int
load_one(const struct store_trunk *row, void *arg)
{
	struct load_ctx	*lc = arg;
	struct trunk	*t;

	if (lc->n >= TRUNK_MAX)
		return uc_fail(UC_ERR_ARG, "trunks: more than %d in the store",
		    TRUNK_MAX);
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return uc_fail(UC_ERR_ALLOC, "trunk %s", row->name);
	t->refs = 1;
	t->ccm = lc->ccm;
	t->row = *row;
	t->kind = tp_kind_of(row->transport);
	t->port = row->port > 0 ? row->port :
	    (t->kind == TP_TLS ? CCM_SIPS_PORT : CCM_SIP_PORT);
	lc->v[lc->n++] = t;
	if (trunk_resolve(t) != 0) {
		/* An unresolvable peer matches nothing and routes nowhere;
		   the other trunks still load. */
		log_warnx("%s", uc_errdetail());
		lc->err++;
	}
	return 0;
}

static void
table_free(struct trunk **v, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		trunk_unref(v[i]);
	free(v);
}

/*
 * Load every store_trunk row and resolve its peer, then replace the
 * table in one step.  On failure the old table stays.  Calls keep the
 * trunks they use (trunk_ref).  Returns 0 or UC_ERR_*.
 */
int
trunk_load(struct ccm *ccm)
{
	struct trunk_state	*ts = ccm->trunks;
	struct load_ctx		 lc;
	int			 r;

	if (ts == NULL) {
		if ((ts = calloc(1, sizeof(*ts))) == NULL)
			return uc_fail(UC_ERR_ALLOC, "trunks");
		ccm->trunks = ts;
	}
	memset(&lc, 0, sizeof(lc));
	lc.ccm = ccm;
	if ((lc.v = calloc(TRUNK_MAX, sizeof(*lc.v))) == NULL)
		return uc_fail(UC_ERR_ALLOC, "trunks");
	if ((r = store_trunk_list(ccm->store, load_one, &lc)) != 0) {
		table_free(lc.v, lc.n);
		return r;
	}
	table_free(ts->v, ts->n);
	ts->v = lc.v;
	ts->n = lc.n;
	log_info("trunks: %zu loaded%s", lc.n,
	    lc.err ? " (some peers unresolved)" : "");
	return 0;
}

void
trunk_free(struct ccm *ccm)
{
	struct trunk_state	*ts = ccm->trunks;

	if (ts == NULL)
		return;
	table_free(ts->v, ts->n);
	free(ts);
	ccm->trunks = NULL;
}

/* The address bytes of a v4, v6 or v4-mapped v6 sockaddr. */
static const uint8_t *
addr_bytes(const struct sockaddr_storage *ss, size_t *len, int *port)
{
	const struct sockaddr_in	*sin;
	const struct sockaddr_in6	*sin6;

	if (ss->ss_family == AF_INET) {
		sin = (const struct sockaddr_in *)ss;
		*len = 4;
		*port = ntohs(sin->sin_port);
		return (const uint8_t *)&sin->sin_addr;
	}
	if (ss->ss_family == AF_INET6) {
		sin6 = (const struct sockaddr_in6 *)ss;
		*port = ntohs(sin6->sin6_port);
		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
			*len = 4;
			return (const uint8_t *)&sin6->sin6_addr + 12;
		}
		*len = 16;
		return (const uint8_t *)&sin6->sin6_addr;
	}
	return NULL;
}

/* 2: address and port equal; 1: address equal; 0: different. */
static int
addr_match(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	const uint8_t	*pa, *pb;
	size_t		 la, lb;
	int		 porta, portb;

	if ((pa = addr_bytes(a, &la, &porta)) == NULL ||
	    (pb = addr_bytes(b, &lb, &portb)) == NULL ||
	    la != lb || memcmp(pa, pb, la) != 0)
		return 0;
	return porta == portb ? 2 : 1;
}

/*
 * The trunk a request came from (spec 5 step 1): the transport is the
 * trunk's, and the source is one of the peer's addresses (over UDP
 * with the peer's port too, so that phones on the same host are not
 * taken for it; over TCP/TLS any port, or the connection we opened to
 * it); for TLS the certificate must verify against the trunk anchors
 * (tp_info.trunk_ok) and carry the trunk's name (RFC 5922).  An exact port match wins over an address-only match.
 * NULL: not from a trunk.
 */
struct trunk *
trunk_match(struct ccm *ccm, const struct tp_info *src)
{
	struct trunk_state	*ts = ccm->trunks;
	struct trunk		*t, *best = NULL;
	size_t			 i, j;
	int			 m, bestm = 0;

	if (ts == NULL)
		return NULL;
	for (i = 0; i < ts->n; i++) {
		t = ts->v[i];
		if (t->kind != src->peer.kind)
			continue;
		for (j = 0; j < t->naddr; j++) {
			m = addr_match(&t->addr[j], &src->peer.addr);
			if (t->kind != TP_UDP && t->out_conn != 0 &&
			    t->out_conn == src->peer.conn)
				m = 3;
			else if (t->kind == TP_UDP && m != 2)
				m = 0;
			if (m > bestm) {
				/* our own connection was checked at its
				   handshake (tp_connect); another must
				   verify against the trunk anchors
				   (trunk_ca), not only the phones' */
				if (t->kind == TP_TLS && m != 3 &&
				    (src->cert == NULL || !src->trunk_ok ||
				    !trunk_name_match(t, src->cert)))
					break;
				best = t;
				bestm = m;
			}
		}
	}
	return best;
}

/*
 * The trunk that routes a dialled number: the longest prefix that
 * starts it (spec 4).  An empty prefix routes nothing.  NULL: none.
 */
struct trunk *
trunk_route(struct ccm *ccm, const char *number)
{
	struct trunk_state	*ts = ccm->trunks;
	struct trunk		*best = NULL;
	size_t			 i, len, bestlen = 0;

	if (ts == NULL || number == NULL)
		return NULL;
	for (i = 0; i < ts->n; i++) {
		len = strlen(ts->v[i]->row.prefix);
		if (len == 0 || len <= bestlen || ts->v[i]->naddr == 0 ||
		    strncmp(number, ts->v[i]->row.prefix, len) != 0)
			continue;
		best = ts->v[i];
		bestlen = len;
	}
	return best;
}

/*
 * Where to send to the trunk: UDP from the first listener, TCP/TLS over
 * a connection tp_connect opens or reuses (remembered for trunk_match).
 * Returns 0 or UC_ERR_*.
 */
int
trunk_peer(const struct trunk *t, struct tp_peer *peer)
{
	struct trunk_state	*ts = t->ccm->trunks;
	size_t			 i;
	int			 r;

	memset(peer, 0, sizeof(*peer));
	if (t->naddr == 0)
		return uc_fail(UC_ERR_NOTFOUND, "trunk %s: peer %s has no "
		    "address", t->row.name, t->row.peer);
	if (t->kind == TP_UDP) {
		/* XXX the first UDP listener; its family may differ. */
		peer->kind = TP_UDP;
		peer->sock = 0;
		memcpy(&peer->addr, &t->addr[0], t->addrlen[0]);
		peer->addrlen = t->addrlen[0];
		return 0;
	}
	if ((r = tp_connect(t->ccm, t->kind,
	    (const struct sockaddr *)&t->addr[0], t->addrlen[0], t, peer)) != 0)
		return r;
	/* Remember it: requests on it come from this trunk.  The table's
	   trunk is ours to update even through a const pointer. */
	for (i = 0; ts != NULL && i < ts->n; i++)
		if (ts->v[i] == t)
			ts->v[i]->out_conn = peer->conn;
	return 0;
}

/* One ASN.1 string as a C string; 0 when it holds a NUL or is too long. */
static int
asn1_text(const ASN1_STRING *s, char *buf, size_t bufsz)
{
	const unsigned char	*p = ASN1_STRING_get0_data(s);
	int			 len = ASN1_STRING_length(s);

	if (p == NULL || len <= 0 || (size_t)len >= bufsz ||
	    memchr(p, '\0', (size_t)len) != NULL)
		return 0;
	memcpy(buf, p, (size_t)len);
	buf[len] = '\0';
	return 1;
}

/* A presented identity against the expected one: no wildcards. */
static int
name_equal(const char *got, const char *want)
{
	return strchr(got, '*') == NULL && strcasecmp(got, want) == 0;
}

/*
 * The host part of a SAN URI with the sip scheme ("sip:example.com"):
 * 1 and host in buf; 0 when the URI is not a SIP domain identity.
 */
static int
sip_uri_host(const char *uri, char *buf, size_t bufsz)
{
	size_t	 n;

	if (strncasecmp(uri, "sip:", 4) != 0)
		return 0;
	uri += 4;
	n = strcspn(uri, ";?>");
	if (n == 0 || n >= bufsz || memchr(uri, '@', n) != NULL)
		return 0;
	memcpy(buf, uri, n);
	buf[n] = '\0';
	return 1;
}

/* SAN checks: *done when the SAN decided (sip URIs, else DNS names). */
static int
san_match(GENERAL_NAMES *san, const char *want)
{
	const GENERAL_NAME	*gn;
	char			 buf[TRUNK_NAME_MAX], host[TRUNK_NAME_MAX];
	int			 i, n, nsip = 0, ok = 0;

	n = sk_GENERAL_NAME_num(san);
	for (i = 0; i < n; i++) {
		gn = sk_GENERAL_NAME_value(san, i);
		if (gn->type != GEN_URI ||
		    !asn1_text(gn->d.uniformResourceIdentifier, buf,
		    sizeof(buf)) || !sip_uri_host(buf, host, sizeof(host)))
			continue;
		nsip++;
		ok |= name_equal(host, want);
	}
	if (nsip > 0)
		return ok;
	for (i = 0; i < n; i++) {
		gn = sk_GENERAL_NAME_value(san, i);
		if (gn->type != GEN_DNS ||
		    !asn1_text(gn->d.dNSName, buf, sizeof(buf)))
			continue;
		ok |= name_equal(buf, want);
	}
	return ok;
}

/* The last (most specific) subject CN. */
static int
cn_match(X509 *cert, const char *want)
{
	const X509_NAME		*name = X509_get_subject_name(cert);
	const X509_NAME_ENTRY	*e;
	char			 buf[TRUNK_NAME_MAX];
	int			 i, last = -1;

	if (name == NULL)
		return 0;
	while ((i = X509_NAME_get_index_by_NID(name, NID_commonName,
	    last)) >= 0)
		last = i;
	if (last < 0 || (e = X509_NAME_get_entry(name, last)) == NULL ||
	    !asn1_text(X509_NAME_ENTRY_get_data(e), buf, sizeof(buf)))
		return 0;
	return name_equal(buf, want);
}

/*
 * RFC 5922 identity of a trunk peer (spec 1.1): the host parts of the
 * subjectAltName sip: URIs; when there are none, the SAN DNS names;
 * the subject CN only when there is no subjectAltName at all.  Case
 * does not matter; wildcards never match.  The expected name is the
 * trunk's X.509 subject name, else its peer host.  1: match.
 */
int
trunk_name_match(const struct trunk *t, X509 *cert)
{
	GENERAL_NAMES	*san;
	const char	*want;
	int		 crit = 0, ok;

	if (cert == NULL)
		return 0;
	want = t->row.x509_subject[0] != '\0' ? t->row.x509_subject :
	    t->row.peer;
	if (want[0] == '\0')
		return 0;
	san = X509_get_ext_d2i(cert, NID_subject_alt_name, &crit, NULL);
	if (san != NULL) {
		ok = san_match(san, want);
		GENERAL_NAMES_free(san);
	} else if (crit == -1)
		ok = cn_match(cert, want);	/* no SAN extension */
	else
		ok = 0;				/* present but unreadable */
	return ok;
}

/* The first value of a header by name or compact form, or NULL. */
static const char *
hdr_value(const osip_message_t *msg, const char *name, const char *compact)
{
	osip_header_t	*h = NULL;

	if (osip_message_header_get_byname(msg, name, 0, &h) >= 0 &&
	    h != NULL && h->hvalue != NULL)
		return h->hvalue;
	if (compact != NULL &&
	    osip_message_header_get_byname(msg, compact, 0, &h) >= 0 &&
	    h != NULL && h->hvalue != NULL)
		return h->hvalue;
	return NULL;
}

/* Does an Event value name this package (token before any ';')? */
static int
event_is(const char *ev, const char *pkg)
{
	size_t	 n;

	if (ev == NULL)
		return 0;
	while (*ev == ' ' || *ev == '\t')
		ev++;
	n = strcspn(ev, "; \t");
	return n == strlen(pkg) && strncasecmp(ev, pkg, n) == 0;
}

/* Case-insensitive search in n bytes. */
static int
has_ci(const char *s, size_t len, const char *needle)
{
	size_t	 i, n = strlen(needle);

	for (i = 0; i + n <= len; i++)
		if (strncasecmp(s + i, needle, n) == 0)
			return 1;
	return 0;
}

static int
hexval(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Does a Refer-To value embed Replaces (RFC 3891 7: a URI header, which
 * may be %-escaped, "?Re%70laces=...")?  Searched in the raw value and
 * once %-unescaped (what the referee will use).  Out of memory: yes.
 */
static int
refer_replaces(const char *v)
{
	struct cursor	 c;
	size_t		 len = strlen(v), n = 0;
	char		*buf;
	uint8_t		 ch;
	int		 hi, lo, r;

	if (has_ci(v, len, "replaces"))
		return 1;
	if ((buf = malloc(len + 1)) == NULL)
		return 1;
	cur_init(&c, (const uint8_t *)v, len);
	while (cur_left(&c) > 0) {
		ch = cur_u8(&c);
		if (ch == '%' && cur_left(&c) >= 2 &&
		    (hi = hexval(cur_peek_u8(&c))) >= 0) {
			(void)cur_u8(&c);
			if ((lo = hexval(cur_peek_u8(&c))) >= 0) {
				(void)cur_u8(&c);
				ch = (uint8_t)(hi << 4 | lo);
			} else {
				buf[n++] = '%';
				ch = (uint8_t)v[cur_offset(&c) - 1];
			}
		}
		buf[n++] = (char)ch;
	}
	r = has_ci(buf, n, "replaces");
	free(buf);
	return r;
}

/*
 * The Refer-To headers of a request (full and compact name; a value
 * with a comma outside <> and quotes counts as several).  *val: the
 * last one.
 */
static int
refer_to_count(const osip_message_t *msg, const char **val)
{
	static const char *const names[] = { "refer-to", "r", NULL };
	const char *const	*nm;
	osip_header_t		*h;
	const char		*p;
	int			 i, n = 0, angle, quote;

	*val = NULL;
	for (nm = names; *nm != NULL; nm++)
		for (i = 0; (i = osip_message_header_get_byname(msg, *nm, i,
		    &h)) >= 0; i++) {
			if (h == NULL || h->hvalue == NULL)
				continue;
			n++;
			*val = h->hvalue;
			angle = quote = 0;
			for (p = h->hvalue; *p != '\0'; p++) {
				if (quote) {
					if (*p == '\\' && p[1] != '\0')
						p++;
					else if (*p == '"')
						quote = 0;
				} else if (*p == '"')
					quote = 1;
				else if (*p == '<')
					angle = 1;
				else if (*p == '>')
					angle = 0;
				else if (*p == ',' && !angle)
					n++;
			}
		}
	return n;
}

/* Methods a trunk may send at all (anything else: 403, as CUCM). */
static int
method_supported(const char *m)
{
	static const char *const ok[] = {
		"INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "UPDATE",
		"INFO", "REFER", "NOTIFY", "SUBSCRIBE"
	};
	size_t	 i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (strcmp(m, ok[i]) == 0)
			return 1;
	return 0;
}

/* The To tag of a request, or NULL. */
static const char *
to_tag(const osip_message_t *msg)
{
	osip_generic_param_t	*p = NULL;

	if (msg->to == NULL || osip_to_get_tag(msg->to, &p) != 0 ||
	    p == NULL)
		return NULL;
	return p->gvalue;
}

/* Does the request's own dialog exist (in-dialog requests)? */
static int
dialog_exists(struct sip_req *req, const struct trunk *t)
{
	const char	*cid;

	if (req->msg->call_id == NULL ||
	    (cid = req->msg->call_id->number) == NULL || to_tag(req->msg) ==
	    NULL)
		return 0;
	/* A Call-ID with a host part: number@host. */
	if (req->msg->call_id->host != NULL) {
		char	 buf[512];

		if ((size_t)snprintf(buf, sizeof(buf), "%s@%s", cid,
		    req->msg->call_id->host) >= sizeof(buf))
			return 0;
		return b2bua_dialog_on_trunk(req->ccm, buf, to_tag(req->msg),
		    NULL, t);
	}
	return b2bua_dialog_on_trunk(req->ccm, cid, to_tag(req->msg), NULL, t);
}

/* A Replaces value names a dialog of ours on this trunk (spec 5 step 5). */
static int
replaces_ok(struct sip_req *req, const char *val, const struct trunk *t)
{
	char	 cid[256], totag[128], fromtag[128], buf[512];
	char	*p, *tok, *save = NULL;

	if (strlen(val) >= sizeof(buf))
		return 0;
	memcpy(buf, val, strlen(val) + 1);
	totag[0] = fromtag[0] = '\0';
	if ((tok = strtok_r(buf, ";", &save)) == NULL)
		return 0;
	while (*tok == ' ')
		tok++;
	if ((size_t)snprintf(cid, sizeof(cid), "%s", tok) >= sizeof(cid))
		return 0;
	if ((p = strpbrk(cid, " \t")) != NULL)
		*p = '\0';
	while ((tok = strtok_r(NULL, ";", &save)) != NULL) {
		while (*tok == ' ')
			tok++;
		if (strncasecmp(tok, "to-tag=", 7) == 0)
			snprintf(totag, sizeof(totag), "%s", tok + 7);
		else if (strncasecmp(tok, "from-tag=", 9) == 0)
			snprintf(fromtag, sizeof(fromtag), "%s", tok + 9);
	}
	if (cid[0] == '\0' || totag[0] == '\0' || fromtag[0] == '\0')
		return 0;
	/* RFC 3891 section 3: to-tag is our tag, from-tag theirs. */
	return b2bua_dialog_on_trunk(req->ccm, cid, totag, fromtag, t);
}

enum feature { FEAT_NONE = 0, FEAT_OOD_REFER, FEAT_UNSOL_NOTIFY,
    FEAT_REPLACES, FEAT_PRESENCE, FEAT_METHOD, FEAT__MAX };

static const char *const feat_names[FEAT__MAX] = {
	"", "out-of-dialog REFER", "unsolicited NOTIFY",
	"Replaces", "presence SUBSCRIBE", "method"
};
static const int feat_flags[FEAT__MAX] = {
	0, STORE_F_OOD_REFER, STORE_F_UNSOL_NOTIFY, STORE_F_REPLACES,
	STORE_F_PRESENCE, 0
};

/*
 * The features (spec 5 table) a request needs, as bits (1 << FEAT_*):
 * a REFER may need two (out of dialog, with Replaces in its Refer-To).
 * 1 << FEAT_METHOD: never allowed.
 */
static int
request_features(struct sip_req *req, const struct trunk *t)
{
	const osip_message_t	*msg = req->msg;
	const char		*m = msg->sip_method, *rt;
	int			 need = 0;

	if (!method_supported(m))
		return 1 << FEAT_METHOD;
	if (strcmp(m, "REFER") == 0) {
		(void)refer_to_count(msg, &rt);
		if (rt != NULL && refer_replaces(rt))
			need |= 1 << FEAT_REPLACES;
		if (!req->in_dialog || !dialog_exists(req, t))
			need |= 1 << FEAT_OOD_REFER;
	} else if (strcmp(m, "NOTIFY") == 0) {
		if (!req->in_dialog || !dialog_exists(req, t))
			need |= 1 << FEAT_UNSOL_NOTIFY;
	} else if (strcmp(m, "INVITE") == 0) {
		if (hdr_value(msg, "replaces", NULL) != NULL)
			need |= 1 << FEAT_REPLACES;
	} else if (strcmp(m, "SUBSCRIBE") == 0) {
		if (event_is(hdr_value(msg, "event", "o"), "presence"))
			need |= 1 << FEAT_PRESENCE;
		else if (!req->in_dialog)
			return 1 << FEAT_METHOD;	/* no other packages */
	}
	return need;
}

/* The application user's feature flags (spec 5 step 4); 0 if unknown. */
static int
user_flags(struct sip_req *req)
{
	struct store_duser	 du;
	const char		*realm = req->ccm->cfg->realm != NULL ?
				    req->ccm->cfg->realm : CCM_REALM_DEF;
	int			 flags;

	if (store_duser_get(req->ccm->store, req->auth_user, realm, &du) != 0)
		return 0;
	flags = du.flags;
	OPENSSL_cleanse(&du, sizeof(du));
	return flags;
}

static int
refuse(struct sip_req *req, const struct trunk *t, int code,
    const char *reason, const char *why)
{
	char	 m[32];

	log_info("trunk %s: %d %s from %s: %s", t->row.name, code,
	    str_vis(m, sizeof(m), req->msg->sip_method), req->src.peer_text,
	    why);
	if (req->st != NULL)
		sip_reply(req->st, code, reason);
	return 1;
}

/*
 * Method/feature authorization of a request from req->trunk (spec 5
 * steps 3-5): out-of-dialog REFER, unsolicited NOTIFY, INVITE with
 * Replaces (or REFER whose Refer-To embeds Replaces, even %-escaped),
 * presence SUBSCRIBE need the trunk's flag and, after digest, the
 * application user's flag too; a REFER out of dialog with Replaces
 * needs both flags; methods we do not handle are refused.  A REFER
 * without exactly one Refer-To gets 400 (RFC 3515 2.4.1).  A Replaces
 * that names no dialog of ours on this trunk gets 481.  0: allowed;
 * 1: the response was sent (the caller stops).
 */
int
trunk_authorize(struct sip_req *req)
{
	const struct trunk	*t = req->trunk;
	const char		*rep;
	char			 why[96], u[64];
	int			 f, need, uflags = -1;

	if (t == NULL || req->msg == NULL || req->msg->sip_method == NULL ||
	    strcmp(req->msg->sip_method, "ACK") == 0 ||
	    strcmp(req->msg->sip_method, "CANCEL") == 0)
		return 0;
	if (strcmp(req->msg->sip_method, "REFER") == 0 &&
	    refer_to_count(req->msg, &rep) != 1)
		return refuse(req, t, 400, "Bad Request",
		    "not exactly one Refer-To");
	need = request_features(req, t);
	if (need == 0)
		return 0;
	if (need & (1 << FEAT_METHOD))
		return refuse(req, t, 403, "Forbidden",
		    "method not allowed on trunks");
	for (f = FEAT_NONE + 1; f < FEAT_METHOD; f++) {
		if ((need & (1 << f)) == 0)
			continue;
		if ((t->row.flags & feat_flags[f]) == 0) {
			snprintf(why, sizeof(why), "%s not allowed by the "
			    "trunk profile", feat_names[f]);
			return refuse(req, t, 403, "Forbidden", why);
		}
		if (req->auth_user == NULL)
			continue;
		if (uflags < 0)
			uflags = user_flags(req);
		if ((uflags & feat_flags[f]) == 0) {
			snprintf(why, sizeof(why), "%s not allowed for "
			    "application user %s", feat_names[f],
			    str_vis(u, sizeof(u), req->auth_user));
			return refuse(req, t, 403, "Forbidden", why);
		}
	}
	if ((need & (1 << FEAT_REPLACES)) &&
	    strcmp(req->msg->sip_method, "INVITE") == 0 &&
	    ((rep = hdr_value(req->msg, "replaces", NULL)) == NULL ||
	    !replaces_ok(req, rep, t)))
		return refuse(req, t, 481, "Call/Transaction Does Not Exist",
		    "Replaces names no dialog of this trunk");
	return 0;
}
