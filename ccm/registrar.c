/*
 * The registrar (spec 1.1, 2, 3): REGISTER binds an extension (the To
 * user) to the phone's connection.  The device comes from the store by
 * extension; its security mode decides the transports it may use, its
 * digest user whether the request is challenged, and over TLS the
 * client certificate must name the device.  One binding per extension;
 * a connection close drops its bindings.  Bindings are written behind
 * to the store (at most every CCM_REG_FLUSH_MS, backing off up to
 * REG_FLUSH_MAX_MS while the store refuses) so ccmctl can list them.
 * Device rows are cached by extension and the cache dropped when
 * another process (ccmctl) changed the store.
 */
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/event.h>
#include <openssl/x509v3.h>
#include <osipparser2/osip_parser.h>

#include "ccm.h"
#include "log.h"
#include "uerr.h"

#define REG_MAX		200000	/* bindings at most (extensions) */
#define REG_HT_INIT	1024
#define REG_TICK_MS	250	/* expiry sweep and write-behind check */
#define REG_DEVPARAM	"+u.sip!devicename.ccm.cisco.com"
#define REG_PKEY_MAX	80
#define REG_FLUSH_MAX_MS 30000	/* write-behind retry backoff, at most */
#define DEV_BUCKETS	65536	/* device cache (power of two) */
#define DEV_MAX		100000	/* cached rows; full: start again */
#define DEV_CHECK_MS	250	/* store_generation looked at */

struct reg_ent {
	struct binding		 b;
	char			 source[64];	/* "192.0.2.1:5060" */
	char			 pkey[REG_PKEY_MAX];
	uint64_t		 ah, ph;	/* hashes of aor, pkey */
	struct reg_ent		*anext;		/* by_aor chain */
	struct reg_ent		*pnext;		/* by_peer chain */
	TAILQ_ENTRY(reg_ent)	 entry;
};

TAILQ_HEAD(regq, reg_ent);

/* A device row by extension, or the store's "no such extension". */
struct dev_ent {
	struct dev_ent		*next;
	uint64_t		 h;
	int			 found;
	char			 ext[STORE_EXT_MAX];
	struct store_sipdev	 dev;
};

struct reg_state {
	struct reg_ent		**by_aor;
	struct reg_ent		**by_peer;
	size_t			  nb;		/* power of two */
	size_t			  n;
	struct regq		  all;
	int			  dirty;
	int64_t			  flushed_ms;	/* last write attempt */
	int			  backoff_ms;	/* 0: the last one worked */
	struct event		 *tick;
	struct dev_ent		**devs;		/* DEV_BUCKETS */
	size_t			  ndevs;
	uint64_t		  gen;		/* store_generation seen */
	int64_t			  gen_ms;	/* when it was looked at */
};

/* What one REGISTER asks for, as the log line reports it. */
struct reg_ctx {
	struct sip_req		*req;
	struct store_sipdev	 dev;
	char			 aor[STORE_EXT_MAX];
	int			 have_dev;
	int			 expires;
};

static int64_t
reg_now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
cfg_int(int v, int def)
{
	return v > 0 ? v : def;
}

static const char *
tp_name(int kind)
{
	switch (kind) {
	case TP_TLS:
		return "tls";
	case TP_TCP:
		return "tcp";
	default:
		return "udp";
	}
}

/* A key for the peer: the connection, or the UDP source address. */
static void
reg_peer_key(const struct tp_peer *p, char *buf, size_t len)
{
	char	 host[INET6_ADDRSTRLEN] = "?";
	int	 port = 0;

	if (p->kind != TP_UDP) {
		snprintf(buf, len, "t%" PRIu64, p->conn);
		return;
	}
	if (p->addr.ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)&p->addr;

		inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
		port = ntohs(s4->sin_port);
	} else if (p->addr.ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)&p->addr;

		inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
		port = ntohs(s6->sin6_port);
	}
	snprintf(buf, len, "u%d/%s/%d", p->sock, host, port);
}

/* ---- the tables ---------------------------------------------------- */

static void
reg_link(struct reg_state *rs, struct reg_ent *e)
{
	size_t	 m = rs->nb - 1;

	e->anext = rs->by_aor[e->ah & m];
	rs->by_aor[e->ah & m] = e;
	e->pnext = rs->by_peer[e->ph & m];
	rs->by_peer[e->ph & m] = e;
}

static void
reg_grow(struct reg_state *rs)
{
	struct reg_ent	**na, **np, *e;
	size_t		  nb = rs->nb * 2;

	na = calloc(nb, sizeof(*na));
	np = calloc(nb, sizeof(*np));
	if (na == NULL || np == NULL) {
		free(na);
		free(np);
		return;
	}
	free(rs->by_aor);
	free(rs->by_peer);
	rs->by_aor = na;
	rs->by_peer = np;
	rs->nb = nb;
	TAILQ_FOREACH(e, &rs->all, entry)
		reg_link(rs, e);
}

static struct reg_ent *
reg_find_aor(struct reg_state *rs, const char *aor)
{
	struct reg_ent	*e;
	uint64_t	 h = sip_hash(aor, strlen(aor));

	for (e = rs->by_aor[h & (rs->nb - 1)]; e != NULL; e = e->anext)
		if (e->ah == h && strcmp(e->b.aor, aor) == 0)
			return e;
	return NULL;
}

static struct reg_ent *
reg_find_peer(struct reg_state *rs, const char *pkey, int64_t now)
{
	struct reg_ent	*e;
	uint64_t	 h = sip_hash(pkey, strlen(pkey));

	for (e = rs->by_peer[h & (rs->nb - 1)]; e != NULL; e = e->pnext)
		if (e->ph == h && strcmp(e->pkey, pkey) == 0 &&
		    e->b.expires > now)
			return e;
	return NULL;
}

/* The same, preferring the binding of extension aor (NULL: any). */
static struct reg_ent *
reg_find_peer_aor(struct reg_state *rs, const char *pkey, const char *aor,
    int64_t now)
{
	struct reg_ent	*e, *first = NULL;
	uint64_t	 h = sip_hash(pkey, strlen(pkey));

	for (e = rs->by_peer[h & (rs->nb - 1)]; e != NULL; e = e->pnext) {
		if (e->ph != h || strcmp(e->pkey, pkey) != 0 ||
		    e->b.expires <= now)
			continue;
		if (aor == NULL || strcmp(e->b.aor, aor) == 0)
			return e;
		if (first == NULL)
			first = e;
	}
	return first;
}

static int
reg_peer_used(struct reg_state *rs, const char *pkey,
    const struct reg_ent *skip)
{
	struct reg_ent	*e;
	uint64_t	 h = sip_hash(pkey, strlen(pkey));

	for (e = rs->by_peer[h & (rs->nb - 1)]; e != NULL; e = e->pnext)
		if (e != skip && e->ph == h && strcmp(e->pkey, pkey) == 0)
			return 1;
	return 0;
}

/* Unlink and free e; unpin its connection when nothing else uses it. */
static void
reg_remove(struct ccm *ccm, struct reg_ent *e, int unpin)
{
	struct reg_state	*rs = ccm->reg;
	struct reg_ent		**pp;
	size_t			  m = rs->nb - 1;

	for (pp = &rs->by_aor[e->ah & m]; *pp != NULL; pp = &(*pp)->anext)
		if (*pp == e) {
			*pp = e->anext;
			break;
		}
	for (pp = &rs->by_peer[e->ph & m]; *pp != NULL; pp = &(*pp)->pnext)
		if (*pp == e) {
			*pp = e->pnext;
			break;
		}
	TAILQ_REMOVE(&rs->all, e, entry);
	rs->n--;
	rs->dirty = 1;
	if (unpin && e->b.peer.kind != TP_UDP &&
	    !reg_peer_used(rs, e->pkey, NULL))
		tp_set_pinned(ccm, e->b.peer.conn, 0);
	free(e);
}

/* ---- device rows --------------------------------------------------- */

static void
dev_flush(struct reg_state *rs)
{
	struct dev_ent	*d, *next;
	size_t		 i;

	if (rs->devs == NULL || rs->ndevs == 0)
		return;
	for (i = 0; i < DEV_BUCKETS; i++) {
		for (d = rs->devs[i]; d != NULL; d = next) {
			next = d->next;
			free(d);
		}
		rs->devs[i] = NULL;
	}
	rs->ndevs = 0;
}

/* Drop the cache when another process committed to the store (looked
   at every DEV_CHECK_MS at most; 0 from the store: not known, drop). */
static void
dev_check(struct ccm *ccm)
{
	struct reg_state	*rs = ccm->reg;
	int64_t			 now = reg_now_ms();
	uint64_t		 g;

	if (now - rs->gen_ms < DEV_CHECK_MS && rs->gen_ms != 0)
		return;
	rs->gen_ms = now;
	g = store_generation(ccm->store);
	if (g != rs->gen || g == 0)
		dev_flush(rs);
	rs->gen = g;
}

/*
 * The device whose line is ext (store_sipdev_by_ext), through the
 * cache: 0 and *dev, UC_ERR_NOTFOUND, or another UC_ERR_* (not cached).
 */
static int
dev_by_ext(struct ccm *ccm, const char *ext, struct store_sipdev *dev)
{
	struct reg_state	*rs = ccm->reg;
	struct dev_ent		*d;
	uint64_t		 h = sip_hash(ext, strlen(ext));
	int			 r;

	if (ccm->store == NULL)
		return UC_ERR_NOTFOUND;
	if (rs->devs == NULL)
		return store_sipdev_by_ext(ccm->store, ext, dev);
	dev_check(ccm);
	for (d = rs->devs[h & (DEV_BUCKETS - 1)]; d != NULL; d = d->next)
		if (d->h == h && strcmp(d->ext, ext) == 0) {
			if (!d->found)
				return uc_fail(UC_ERR_NOTFOUND, "extension %s",
				    ext);
			*dev = d->dev;
			return 0;
		}
	r = store_sipdev_by_ext(ccm->store, ext, dev);
	if ((r != 0 && r != UC_ERR_NOTFOUND) || strlen(ext) >= sizeof(d->ext))
		return r;
	if (rs->ndevs >= DEV_MAX)
		dev_flush(rs);
	if ((d = calloc(1, sizeof(*d))) == NULL)
		return r;
	d->h = h;
	d->found = r == 0;
	memcpy(d->ext, ext, strlen(ext) + 1);
	if (r == 0)
		d->dev = *dev;
	d->next = rs->devs[h & (DEV_BUCKETS - 1)];
	rs->devs[h & (DEV_BUCKETS - 1)] = d;
	rs->ndevs++;
	return r;
}

/* ---- write-behind and expiry --------------------------------------- */

/* Bounded copy (store rows are narrower than bindings). */
static void
scopy(char *d, size_t n, const char *s)
{
	size_t	 l = strnlen(s, n - 1);

	memcpy(d, s, l);
	d[l] = '\0';
}

/* SIP bindings and SCCP phones (sccp_reg_rows) in one table. */
static int
reg_flush(struct ccm *ccm)
{
	struct reg_state	*rs = ccm->reg;
	struct store_reg	*rows = NULL;
	struct reg_ent		*e;
	size_t			 i = 0, nsccp = sccp_count(ccm);
	int			 r;

	if (ccm->store == NULL) {
		rs->dirty = 0;
		(void)sccp_reg_dirty(ccm, 1);
		return 0;
	}
	if (rs->n + nsccp > 0 && (rows = calloc(rs->n + nsccp,
	    sizeof(*rows))) == NULL)
		return uc_fail(UC_ERR_ALLOC, "registrar: %zu rows",
		    rs->n + nsccp);
	TAILQ_FOREACH(e, &rs->all, entry) {
		struct store_reg	*row = &rows[i++];

		scopy(row->aor, sizeof(row->aor), e->b.aor);
		scopy(row->device, sizeof(row->device), e->b.device);
		scopy(row->contact, sizeof(row->contact), e->b.contact);
		scopy(row->transport, sizeof(row->transport),
		    tp_name(e->b.peer.kind));
		scopy(row->source, sizeof(row->source), e->source);
		scopy(row->cert_subject, sizeof(row->cert_subject),
		    e->b.cert_subject);
		row->expires = e->b.expires;
	}
	if (nsccp > 0)
		i += sccp_reg_rows(ccm, rows + i, nsccp);
	r = store_reg_replace(ccm->store, rows, i);
	free(rows);
	rs->flushed_ms = reg_now_ms();
	if (r != 0) {
		rs->backoff_ms = rs->backoff_ms == 0 ? CCM_REG_FLUSH_MS :
		    rs->backoff_ms * 2 > REG_FLUSH_MAX_MS ? REG_FLUSH_MAX_MS :
		    rs->backoff_ms * 2;
		return r;
	}
	rs->dirty = 0;
	(void)sccp_reg_dirty(ccm, 1);
	rs->backoff_ms = 0;
	return 0;
}

static void
reg_expire(struct ccm *ccm)
{
	struct reg_state	*rs = ccm->reg;
	struct reg_ent		*e, *next;
	int64_t			 now = time(NULL);

	for (e = TAILQ_FIRST(&rs->all); e != NULL; e = next) {
		next = TAILQ_NEXT(e, entry);
		if (e->b.expires <= now) {
			log_info("register: device=%s aor=%s expired",
			    e->b.device, e->b.aor);
			reg_remove(ccm, e, 1);
		}
	}
}

static void
reg_tick(evutil_socket_t fd, short what, void *arg)
{
	struct ccm		*ccm = arg;
	struct reg_state	*rs = ccm->reg;
	int			 wait;

	(void)fd;
	(void)what;
	reg_expire(ccm);
	wait = rs->backoff_ms > 0 ? rs->backoff_ms : CCM_REG_FLUSH_MS;
	if ((rs->dirty || sccp_reg_dirty(ccm, 0)) &&
	    reg_now_ms() - rs->flushed_ms >= wait &&
	    reg_flush(ccm) != 0)
		log_warnx("registrar: write-behind: %s (next try in %d s)",
		    uc_errdetail(), rs->backoff_ms / 1000);
}

/* ---- identity checks ----------------------------------------------- */

/* The user part of a "sip:USER@host" / "sips:" URI equals name. */
static int
uri_names(const unsigned char *u, size_t len, const char *name)
{
	size_t	 skip, n;

	if (len >= 4 && strncasecmp((const char *)u, "sip:", 4) == 0)
		skip = 4;
	else if (len >= 5 && strncasecmp((const char *)u, "sips:", 5) == 0)
		skip = 5;
	else
		return 0;
	for (n = skip; n < len && u[n] != '@'; n++)
		;
	n -= skip;
	return n == strlen(name) && n > 0 &&
	    strncasecmp((const char *)u + skip, name, n) == 0;
}

/*
 * The client certificate names the device: subject CN, or a SAN URI
 * "sip:DEVICE@..." or SAN DNS name DEVICE; case-insensitive, exact.
 */
static int
cert_names_device(const struct tp_info *ti, const char *device)
{
	GENERAL_NAMES		*gens;
	const GENERAL_NAME	*g;
	const ASN1_STRING	*v;
	const unsigned char	*d;
	int			 i, len, ok = 0;

	if (ti->cert_cn[0] != '\0' && strcasecmp(ti->cert_cn, device) == 0)
		return 1;
	if (ti->cert == NULL)
		return 0;
	gens = X509_get_ext_d2i(ti->cert, NID_subject_alt_name, NULL, NULL);
	if (gens == NULL)
		return 0;
	for (i = 0; !ok && i < sk_GENERAL_NAME_num(gens); i++) {
		g = sk_GENERAL_NAME_value(gens, i);
		if (g->type == GEN_URI) {
			v = g->d.uniformResourceIdentifier;
			d = ASN1_STRING_get0_data(v);
			len = ASN1_STRING_length(v);
			ok = len > 0 && memchr(d, '\0', (size_t)len) == NULL &&
			    uri_names(d, (size_t)len, device);
		} else if (g->type == GEN_DNS) {
			d = ASN1_STRING_get0_data(g->d.dNSName);
			len = ASN1_STRING_length(g->d.dNSName);
			ok = len > 0 && (size_t)len == strlen(device) &&
			    strncasecmp((const char *)d, device,
			    (size_t)len) == 0;
		}
	}
	GENERAL_NAMES_free(gens);
	return ok;
}

/* The extension in the To URI: 1..31 of [0-9A-Za-z+*#._-]. */
static int
to_extension(const osip_message_t *m, char *buf, size_t len)
{
	const char	*u;
	size_t		 i, n;

	if (m->to == NULL || m->to->url == NULL ||
	    (u = m->to->url->username) == NULL)
		return UC_ERR_FORMAT;
	n = strlen(u);
	if (n == 0 || n >= len)
		return UC_ERR_FORMAT;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)u[i]) && strchr("+*#._-", u[i])
		    == NULL)
			return UC_ERR_FORMAT;
	memcpy(buf, u, n + 1);
	return 0;
}

/* A parameter value without its quotes. */
static void
unquote(const char *v, char *out, size_t len)
{
	size_t	 n;

	if (v == NULL) {
		out[0] = '\0';
		return;
	}
	if (*v == '"')
		v++;
	snprintf(out, len, "%s", v);
	n = strlen(out);
	if (n > 0 && out[n - 1] == '"')
		out[n - 1] = '\0';
}

/* Decimal 0..2^31-1; -1 when not a number. */
static long
reg_num(const char *s)
{
	long	 v = 0;

	if (s == NULL || *s == '\0')
		return -1;
	for (; *s != '\0'; s++) {
		if (!isdigit((unsigned char)*s))
			return -1;
		if ((v = v * 10 + (*s - '0')) > 2147483647L)
			return -1;
	}
	return v;
}

/* Supported tags -> REG_F_* (spec 3). */
static int
supported_flags(const osip_message_t *m)
{
	osip_header_t	*h;
	const char	*v, *tag;
	char		 buf[64];
	size_t		 n;
	int		 i, f = 0;

	for (i = 0; osip_message_get_supported(m, i, &h) >= 0 && i < 64; i++) {
		if (h == NULL || (v = h->hvalue) == NULL)
			continue;
		while (*v == ' ' || *v == '\t')
			v++;
		snprintf(buf, sizeof(buf), "%s", v);
		n = strlen(buf);
		while (n > 0 && (buf[n - 1] == ' ' || buf[n - 1] == '\t'))
			buf[--n] = '\0';
		tag = buf;
		if (strcasecmp(tag, "X-cisco-callinfo") == 0)
			f |= REG_F_CALLINFO;
		else if (strcasecmp(tag, "X-cisco-srtp-fallback") == 0)
			f |= REG_F_SRTP_FALLBACK;
		else if (strncasecmp(tag, "X-cisco-sis-", 12) == 0 &&
		    isdigit((unsigned char)tag[12]) &&
		    strtol(tag + 12, NULL, 10) >= 2)
			f |= REG_F_SIS2;
	}
	return f;
}

/* ---- the REGISTER transaction -------------------------------------- */

static void
reg_log(struct reg_ctx *x)
{
	struct sip_req	*req = x->req;

	log_info("register: device=%s aor=%s transport=%s from=%s result=%d "
	    "expires=%d", x->have_dev ? x->dev.name : "-",
	    x->aor[0] != '\0' ? x->aor : "-", tp_name(req->src.peer.kind),
	    req->src.peer_text, sip_strans_code(req->st), x->expires);
}

/* A refusal with the reason in the phrase and a Warning header. */
static void
reg_refuse(struct reg_ctx *x, int code, const char *why)
{
	osip_message_t	*r;
	char		 w[160];

	if ((r = sip_resp_new(x->req->st, code, why)) == NULL)
		return;
	snprintf(w, sizeof(w), "399 ccmd \"%s\"", why);
	osip_message_set_header(r, "Warning", w);
	sip_resp_send(x->req->st, r);
}

/* Device security mode vs. transport (spec 1.1). */
static const char *
reg_transport_check(const struct reg_ctx *x)
{
	const struct tp_info	*ti = &x->req->src;

	switch (x->dev.secmode) {
	case STORE_SEC_ENCRYPTED:
		if (!ti->tls || !ti->encrypted)
			return "Transport not allowed for device security mode";
		break;
	case STORE_SEC_AUTHENTICATED:
		if (!ti->tls)
			return "Transport not allowed for device security mode";
		break;
	default:
		break;
	}
	if (x->dev.secmode != STORE_SEC_NONSECURE && ti->cert == NULL &&
	    ti->cert_cn[0] == '\0')
		return "Certificate required for device security mode";
	/* verified at the handshake, perhaps only by a trunk anchor */
	if (ti->tls && ti->cert != NULL && !ti->phone_ok)
		return "Certificate not issued for devices";
	if (ti->tls && (ti->cert != NULL || ti->cert_cn[0] != '\0') &&
	    !cert_names_device(ti, x->dev.name))
		return "Certificate does not match device";
	return NULL;
}

/* Requested expiry: Contact expires=, else Expires, else the default. */
static long
reg_expires(const osip_message_t *m, osip_contact_t *c)
{
	osip_generic_param_t	*p = NULL;
	osip_header_t		*h = NULL;

	if (c != NULL && osip_contact_param_get_byname(c, "expires", &p) == 0
	    && p != NULL)
		return reg_num(p->gvalue);
	if (osip_message_get_expires(m, 0, &h) >= 0 && h != NULL)
		return reg_num(h->hvalue);
	return CCM_EXPIRES_DEF;
}

/* The 200: the binding's Contact with expires=, Supported, Date. */
static void
reg_ok(struct reg_ctx *x, const struct reg_ent *e, const char *instance)
{
	osip_message_t	*r;
	char		 hdr[512], date[64];
	struct tm	 tm;
	time_t		 now = time(NULL);

	if ((r = sip_resp_new(x->req->st, 200, "OK")) == NULL)
		return;
	if (e != NULL) {
		if (instance != NULL && instance[0] != '\0')
			snprintf(hdr, sizeof(hdr),
			    "<%s>;+sip.instance=%s;expires=%lld", e->b.contact,
			    instance, (long long)(e->b.expires - now));
		else
			snprintf(hdr, sizeof(hdr), "<%s>;expires=%lld",
			    e->b.contact, (long long)(e->b.expires - now));
		osip_message_set_header(r, "Contact", hdr);
	}
	osip_message_set_header(r, "Supported", "X-cisco-srtp-fallback");
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
	osip_message_set_header(r, "Date", date);
	sip_resp_send(x->req->st, r);
}

/*
 * One device per TLS connection: its certificate names the device, so
 * a connection that holds another device's binding is refused (the
 * reason, else NULL).  Plain TCP may carry several devices (an SBC, a
 * load generator): requests on it find their binding by the From user
 * (registrar_by_source).  Over UDP a source address is no proof of
 * anything, so nothing is dropped or refused for it.
 */
static const char *
reg_peer_check(struct reg_ctx *x)
{
	const struct tp_peer	*p = &x->req->src.peer;
	const struct binding	*b;

	if (p->kind != TP_TLS ||
	    (b = registrar_by_conn(x->req->ccm, p->conn)) == NULL ||
	    strcmp(b->device, x->dev.name) == 0)
		return NULL;
	return "Connection registered for another device";
}

/* Make or replace the binding for x->aor. */
static struct reg_ent *
reg_bind(struct reg_ctx *x, const char *contact, int flags, const char *user)
{
	struct ccm		*ccm = x->req->ccm;
	struct reg_state	*rs = ccm->reg;
	const struct tp_info	*ti = &x->req->src;
	struct reg_ent		*e, *old;

	if ((e = calloc(1, sizeof(*e))) == NULL)
		return NULL;
	snprintf(e->b.aor, sizeof(e->b.aor), "%s", x->aor);
	snprintf(e->b.device, sizeof(e->b.device), "%s", x->dev.name);
	e->b.secmode = x->dev.secmode;
	snprintf(e->b.contact, sizeof(e->b.contact), "%s", contact);
	e->b.peer = ti->peer;
	e->b.encrypted = ti->encrypted;
	e->b.tls = ti->tls;
	e->b.flags = flags;
	snprintf(e->b.cert_subject, sizeof(e->b.cert_subject), "%s",
	    ti->cert_subject);
	snprintf(e->b.user, sizeof(e->b.user), "%s", user);
	snprintf(e->b.digest_algs, sizeof(e->b.digest_algs), "%s",
	    x->dev.digest_algs);
	e->b.expires = (int64_t)time(NULL) + x->expires;
	snprintf(e->source, sizeof(e->source), "%s", ti->peer_text);
	reg_peer_key(&ti->peer, e->pkey, sizeof(e->pkey));
	e->ah = sip_hash(e->b.aor, strlen(e->b.aor));
	e->ph = sip_hash(e->pkey, strlen(e->pkey));
	if ((old = reg_find_aor(rs, x->aor)) != NULL)
		reg_remove(ccm, old, strcmp(old->pkey, e->pkey) != 0);
	else if (rs->n >= REG_MAX) {
		free(e);
		return NULL;
	}
	if (rs->n >= rs->nb)
		reg_grow(rs);
	reg_link(rs, e);
	TAILQ_INSERT_TAIL(&rs->all, e, entry);
	rs->n++;
	rs->dirty = 1;
	if (ti->peer.kind != TP_UDP)
		tp_set_pinned(ccm, ti->peer.conn, 1);
	return e;
}

/* Contact, expiry and the binding itself, after every check passed. */
static void
reg_apply(struct reg_ctx *x, const char *user)
{
	struct sip_req		*req = x->req;
	struct ccm		*ccm = req->ccm;
	const struct ccm_config	*cfg = ccm->cfg;
	osip_contact_t		*c = osip_list_get(&req->msg->contacts, 0);
	osip_generic_param_t	*p = NULL;
	struct reg_ent		*e;
	osip_message_t		*r;
	char			*uri = NULL, dn[STORE_NAME_MAX + 2], inst[160];
	char			 mv[16];
	long			 exp;
	int			 emin, emax;

	emin = cfg_int(cfg != NULL ? cfg->expires_min : 0, CCM_EXPIRES_MIN);
	emax = cfg_int(cfg != NULL ? cfg->expires_max : 0, CCM_EXPIRES_MAX);
	if (c == NULL) {			/* a query */
		reg_ok(x, reg_find_aor(ccm->reg, x->aor), NULL);
		return;
	}
	if ((exp = reg_expires(req->msg, c)) < 0) {
		reg_refuse(x, 400, "Bad Expires");
		return;
	}
	if (c->url == NULL) {			/* Contact: * */
		if (exp != 0 || osip_list_size(&req->msg->contacts) != 1) {
			reg_refuse(x, 400, "Contact * needs Expires 0");
			return;
		}
	}
	if (osip_contact_param_get_byname(c, REG_DEVPARAM, &p) == 0 &&
	    p != NULL) {
		unquote(p->gvalue, dn, sizeof(dn));
		if (strcasecmp(dn, x->dev.name) != 0) {
			reg_refuse(x, 403, "Device name does not match");
			return;
		}
	}
	if (c->url == NULL || exp == 0) {
		if ((e = reg_find_aor(ccm->reg, x->aor)) != NULL)
			reg_remove(ccm, e, 1);
		x->expires = 0;
		reg_ok(x, NULL, NULL);
		return;
	}
	if (exp < emin) {
		if ((r = sip_resp_new(req->st, 423, "Interval Too Brief")) ==
		    NULL)
			return;
		snprintf(mv, sizeof(mv), "%d", emin);
		osip_message_set_header(r, "Min-Expires", mv);
		sip_resp_send(req->st, r);
		return;
	}
	x->expires = exp > emax ? emax : (int)exp;
	if (osip_uri_to_str(c->url, &uri) != 0 || uri == NULL ||
	    strlen(uri) >= sizeof(((struct binding *)NULL)->contact)) {
		if (uri != NULL)
			osip_free(uri);
		reg_refuse(x, 400, "Contact too long");
		return;
	}
	inst[0] = '\0';
	p = NULL;
	if (osip_contact_param_get_byname(c, "+sip.instance", &p) == 0 &&
	    p != NULL && p->gvalue != NULL && strlen(p->gvalue) < sizeof(inst)
	    && strpbrk(p->gvalue, "\r\n") == NULL)
		snprintf(inst, sizeof(inst), "%s", p->gvalue);
	e = reg_bind(x, uri, supported_flags(req->msg), user);
	osip_free(uri);
	if (e == NULL) {
		reg_refuse(x, 503, "Too many registrations");
		return;
	}
	reg_ok(x, e, inst);
}

/*
 * REGISTER (spec 1.1, 2, 3): device by To extension (404), transport
 * and certificate (403), digest for devices with a digest user (401;
 * the user must be the device's, else 403), then the binding.  Always
 * answers; logs one line.
 */
void
registrar_register(struct sip_req *req)
{
	struct ccm		*ccm = req->ccm;
	struct reg_ctx		 x;
	const char		*why, *user = NULL;
	int			 r, validity;

	memset(&x, 0, sizeof(x));
	x.req = req;
	if (ccm->reg == NULL && registrar_init(ccm) != 0) {
		sip_reply(req->st, 500, "Server Internal Error");
		goto out;
	}
	if (to_extension(req->msg, x.aor, sizeof(x.aor)) != 0) {
		reg_refuse(&x, 404, "Not Found");
		goto out;
	}
	r = dev_by_ext(ccm, x.aor, &x.dev);
	if (r == UC_ERR_NOTFOUND) {
		reg_refuse(&x, 404, "Not Found");
		goto out;
	} else if (r != 0) {
		log_warnx("registrar: store: %s", uc_errdetail());
		sip_reply(req->st, 500, "Server Internal Error");
		goto out;
	}
	x.have_dev = 1;
	if (x.dev.proto != STORE_PROTO_SIP) {
		reg_refuse(&x, 403, "Not a SIP device");
		goto out;
	}
	if ((why = reg_transport_check(&x)) != NULL) {
		reg_refuse(&x, 403, why);
		goto out;
	}
	if (x.dev.digest_user[0] != '\0') {
		snprintf(req->digest_algs, sizeof(req->digest_algs), "%s",
		    x.dev.digest_algs);
		validity = cfg_int(ccm->cfg != NULL ? ccm->cfg->nonce_validity
		    : 0, CCM_NONCE_VALIDITY_DEF);
		r = auth_server_check(req, ccm->cfg != NULL &&
		    ccm->cfg->realm != NULL ? ccm->cfg->realm : CCM_REALM_DEF,
		    validity, &user);
		if (r < 0) {
			log_warnx("registrar: digest: %s", uc_errdetail());
			sip_reply(req->st, 500, "Server Internal Error");
			goto out;
		}
		if (r != 0)
			goto out;	/* challenged or refused */
		if (user == NULL || strcmp(user, x.dev.digest_user) != 0) {
			reg_refuse(&x, 403, "Digest user not allowed for "
			    "this line");
			goto out;
		}
		req->auth_user = user;
	}
	if ((why = reg_peer_check(&x)) != NULL) {
		reg_refuse(&x, 403, why);
		goto out;
	}
	reg_apply(&x, x.dev.digest_user);
 out:
	reg_log(&x);
}

/* ---- lookups ------------------------------------------------------- */

/* The live binding of an extension, or NULL. */
const struct binding *
registrar_lookup(struct ccm *ccm, const char *aor)
{
	struct reg_ent	*e;

	if (ccm->reg == NULL || aor == NULL ||
	    (e = reg_find_aor(ccm->reg, aor)) == NULL ||
	    e->b.expires <= time(NULL))
		return NULL;
	return &e->b;
}

/* The live binding on a TCP/TLS connection, or NULL. */
const struct binding *
registrar_by_conn(struct ccm *ccm, uint64_t conn)
{
	char	 pk[REG_PKEY_MAX];
	struct reg_ent *e;

	if (ccm->reg == NULL || conn == 0)
		return NULL;
	snprintf(pk, sizeof(pk), "t%" PRIu64, conn);
	e = reg_find_peer(ccm->reg, pk, time(NULL));
	return e != NULL ? &e->b : NULL;
}

/* The live binding a request comes from: its connection or UDP source. */
const struct binding *
registrar_by_peer(struct ccm *ccm, const struct tp_peer *p)
{
	return registrar_by_source(ccm, p, NULL);
}

/*
 * The same, where a plain TCP connection or a UDP source carries several
 * devices: the binding of extension user (the request's From) if it is
 * one of them, else any.
 */
const struct binding *
registrar_by_source(struct ccm *ccm, const struct tp_peer *p,
    const char *user)
{
	char		 pk[REG_PKEY_MAX];
	struct reg_ent	*e;

	if (ccm->reg == NULL || p == NULL)
		return NULL;
	if (p->kind == TP_UDP)
		reg_peer_key(p, pk, sizeof(pk));
	else if (p->conn != 0)
		snprintf(pk, sizeof(pk), "t%" PRIu64, p->conn);
	else
		return NULL;
	e = reg_find_peer_aor(ccm->reg, pk, user, time(NULL));
	return e != NULL ? &e->b : NULL;
}

/* A connection closed: its bindings go (spec 3). */
void
registrar_conn_closed(struct ccm *ccm, uint64_t conn)
{
	struct reg_state	*rs = ccm->reg;
	struct reg_ent		*e, *next;
	char			 pk[REG_PKEY_MAX];
	uint64_t		 h;

	if (rs == NULL || conn == 0)
		return;
	snprintf(pk, sizeof(pk), "t%" PRIu64, conn);
	h = sip_hash(pk, strlen(pk));
	for (e = rs->by_peer[h & (rs->nb - 1)]; e != NULL; e = next) {
		next = e->pnext;
		if (e->ph == h && strcmp(e->pkey, pk) == 0) {
			log_info("register: device=%s aor=%s dropped: "
			    "connection closed", e->b.device, e->b.aor);
			reg_remove(ccm, e, 0);
		}
	}
}

size_t
registrar_count(struct ccm *ccm)
{
	return ccm->reg != NULL ? ccm->reg->n : 0;
}

/*
 * Tables, the sweep timer, and an empty registration table in the
 * store (rows of an earlier run are stale).
 */
int
registrar_init(struct ccm *ccm)
{
	struct reg_state	*rs;
	struct timeval		 tv = { 0, REG_TICK_MS * 1000 };

	if (ccm->reg != NULL)
		return 0;
	if ((rs = calloc(1, sizeof(*rs))) == NULL)
		return uc_fail(UC_ERR_ALLOC, "registrar: state");
	rs->nb = REG_HT_INIT;
	rs->by_aor = calloc(rs->nb, sizeof(*rs->by_aor));
	rs->by_peer = calloc(rs->nb, sizeof(*rs->by_peer));
	rs->devs = calloc(DEV_BUCKETS, sizeof(*rs->devs));
	if (rs->by_aor == NULL || rs->by_peer == NULL || rs->devs == NULL)
		goto fail;
	TAILQ_INIT(&rs->all);
	rs->dirty = 1;
	if (ccm->base != NULL) {
		rs->tick = event_new(ccm->base, -1, EV_PERSIST, reg_tick, ccm);
		if (rs->tick == NULL)
			goto fail;
		event_add(rs->tick, &tv);
	}
	ccm->reg = rs;
	return 0;
 fail:
	free(rs->by_aor);
	free(rs->by_peer);
	free(rs->devs);
	free(rs);
	return uc_fail(UC_ERR_ALLOC, "registrar: tables");
}

/* Write the last state behind, then free everything. */
void
registrar_free(struct ccm *ccm)
{
	struct reg_state	*rs = ccm->reg;
	struct reg_ent		*e;

	if (rs == NULL)
		return;
	if (rs->dirty && reg_flush(ccm) != 0)
		log_warnx("registrar: final write-behind: %s",
		    uc_errdetail());
	if (rs->tick != NULL)
		event_free(rs->tick);
	while ((e = TAILQ_FIRST(&rs->all)) != NULL) {
		TAILQ_REMOVE(&rs->all, e, entry);
		free(e);
	}
	dev_flush(rs);
	free(rs->devs);
	free(rs->by_aor);
	free(rs->by_peer);
	free(rs);
	ccm->reg = NULL;
}
