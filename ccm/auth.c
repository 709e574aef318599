/*
 * Digest authentication for ccmd (spec 2, 4).
 *
 * Server side: one 401 with a WWW-Authenticate per enabled algorithm,
 * most preferred first, each with its own self-validating nonce
 * (lib/digest, key rotated every validity period, the previous key kept
 * for one more), a per-process opaque and qop="auth".  Credentials are
 * checked in the spec 2.6 order; unknown users go through a dummy HA1
 * so replies and timing do not tell them apart; a nonce-count table
 * refuses replays; failures are counted per user and per source address
 * and answered with 403 past cfg->auth_fail_max within the window.
 * HA1 values come sealed from the store and are wiped after use.
 *
 * Client side: the answer to a trunk peer's 401/407 for the trunk's
 * outgoing realm, with its sealed password.
 */
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

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <osipparser2/osip_parser.h>

#include "ccm.h"
#include "digest.h"
#include "log.h"
#include "seal.h"
#include "uerr.h"

#ifndef UCSEC_FUZZ
#define AUTH_NC_MAX		65536	/* live nonces in the replay table */
#define AUTH_FAIL_SETS		4096	/* failure counters: sets ... */
#else					/* fuzz-sip sets up per input */
#define AUTH_NC_MAX		256
#define AUTH_FAIL_SETS		64
#endif
#define AUTH_FAIL_WAYS		4	/* ... of this many entries each */
#define AUTH_FAIL_DEF		5	/* cfg->auth_fail_max unset */
#define AUTH_WINDOW_DEF		300	/* cfg->auth_fail_window unset */
#define AUTH_KEY_ROT_MIN	60	/* s: the nonce key lives at least */
#define AUTH_SKEW		5	/* s: nonce time ahead of ours */
#define AUTH_PW_MAX		256	/* a trunk password */
#define AUTH_HDR_MAX		2048	/* one formatted digest header */

/* Preference when several algorithms are enabled (spec 2.2). */
static const int alg_order[] = { DIGEST_SHA256, DIGEST_SHA512_256,
    DIGEST_MD5 };

struct fail_ent {
	char		 key[72];	/* "u:" user or "s:" address */
	uint64_t	 h;
	int64_t		 since;		/* start of the window */
	int		 count;
	int		 logged;
};

struct auth_state {
	uint8_t		 key[DIGEST_KEY_LEN];
	uint8_t		 prev[DIGEST_KEY_LEN];
	int		 have_prev;
	int64_t		 key_since;
	char		 opaque[33];
	struct nc_table	*nc;
	struct fail_ent	*fails;		/* AUTH_FAIL_SETS * AUTH_FAIL_WAYS */
	char		 dummy[DIGEST_ALG__MAX][DIGEST_HEX_MAX];
};

static void
hex_fill(char *out, size_t n)
{
	static const char	 hex[] = "0123456789abcdef";
	uint8_t			 b[32];
	size_t			 i;

	if (n > 2 * sizeof(b))
		n = 2 * sizeof(b);
	if (RAND_bytes(b, sizeof(b)) != 1)
		memset(b, 0x5a, sizeof(b));
	for (i = 0; i < n; i++)
		out[i] = hex[(b[i / 2] >> ((i & 1) ? 0 : 4)) & 0x0f];
	out[n] = '\0';
	OPENSSL_cleanse(b, sizeof(b));
}

/* Keys, opaque, dummy HA1 values, the nc and failure tables. */
int
auth_init(struct ccm *ccm)
{
	struct auth_state	*as;
	int			 a;

	if (ccm->auth != NULL)
		return 0;
	if ((as = calloc(1, sizeof(*as))) == NULL)
		return uc_fail(UC_ERR_ALLOC, "auth: state");
	if (RAND_bytes(as->key, sizeof(as->key)) != 1) {
		free(as);
		return uc_fail_ssl(UC_ERR_CRYPTO, "auth: nonce key");
	}
	as->key_since = time(NULL);
	hex_fill(as->opaque, 16);
	for (a = 0; a < DIGEST_ALG__MAX; a++)
		hex_fill(as->dummy[a], digest_hex_len(a));
	if ((as->nc = nc_table_new(AUTH_NC_MAX)) == NULL ||
	    (as->fails = calloc(AUTH_FAIL_SETS * AUTH_FAIL_WAYS,
	    sizeof(*as->fails))) == NULL) {
		nc_table_free(as->nc);
		OPENSSL_cleanse(as, sizeof(*as));
		free(as);
		return uc_fail(UC_ERR_ALLOC, "auth: tables");
	}
	ccm->auth = as;
	return 0;
}

void
auth_free(struct ccm *ccm)
{
	struct auth_state	*as = ccm->auth;

	if (as == NULL)
		return;
	nc_table_free(as->nc);
	free(as->fails);
	OPENSSL_cleanse(as, sizeof(*as));
	free(as);
	ccm->auth = NULL;
}

/* Rotate the nonce key once per validity period; keep the last one. */
static void
key_rotate(struct auth_state *as, int validity, int64_t now)
{
	int	 period = validity > AUTH_KEY_ROT_MIN ? validity :
		    AUTH_KEY_ROT_MIN;

	if (now - as->key_since < period)
		return;
	memcpy(as->prev, as->key, sizeof(as->prev));
	as->have_prev = now - as->key_since < 2 * (int64_t)period;
	if (RAND_bytes(as->key, sizeof(as->key)) != 1)
		log_warnx("auth: RAND_bytes failed for the nonce key");
	as->key_since = now;
}

static int
cfg_or(int v, int def)
{
	return v > 0 ? v : def;
}

/* The algorithms the config enables (bit 1 << DIGEST_*). */
static int
algs_enabled(struct ccm *ccm)
{
	int	 m = ccm->cfg != NULL ? ccm->cfg->digest_algs : 0;

	m &= (1 << DIGEST_ALG__MAX) - 1;
	return m != 0 ? m : (1 << DIGEST_SHA256) | (1 << DIGEST_MD5);
}

/* ---- failure counting (bounded, set-associative) ------------------- */

static struct fail_ent *
fail_slot(struct auth_state *as, const char *key, int create, int64_t now,
    int window)
{
	struct fail_ent	*set, *victim = NULL;
	uint64_t	 h = sip_hash(key, strlen(key));
	size_t		 i;

	set = &as->fails[(h % AUTH_FAIL_SETS) * AUTH_FAIL_WAYS];
	for (i = 0; i < AUTH_FAIL_WAYS; i++)
		if (set[i].key[0] != '\0' && set[i].h == h &&
		    strcmp(set[i].key, key) == 0)
			return &set[i];
	if (!create)
		return NULL;
	for (i = 0; i < AUTH_FAIL_WAYS; i++) {
		if (set[i].key[0] == '\0' || now - set[i].since > window) {
			victim = &set[i];
			break;
		}
		if (victim == NULL || set[i].since < victim->since)
			victim = &set[i];
	}
	memset(victim, 0, sizeof(*victim));
	snprintf(victim->key, sizeof(victim->key), "%s", key);
	victim->h = h;
	victim->since = now;
	return victim;
}

/* Failures within the window for key (0 if none). */
static int
fail_count(struct auth_state *as, const char *key, int64_t now, int window)
{
	struct fail_ent	*f = fail_slot(as, key, 0, now, window);

	if (f == NULL || now - f->since > window)
		return 0;
	return f->count;
}

static struct fail_ent *
fail_hit(struct auth_state *as, const char *key, int64_t now, int window)
{
	struct fail_ent	*f = fail_slot(as, key, 1, now, window);

	if (now - f->since > window) {
		f->since = now;
		f->count = 0;
		f->logged = 0;
	}
	f->count++;
	return f;
}

static void
fail_reset(struct auth_state *as, const char *key, int64_t now, int window)
{
	struct fail_ent	*f = fail_slot(as, key, 0, now, window);

	if (f != NULL)
		memset(f, 0, sizeof(*f));
}

/* The source address as text (no port: NAT shares it anyway). */
static void
src_key(const struct tp_info *ti, char *buf, size_t len)
{
	char	 host[INET6_ADDRSTRLEN] = "?";

	if (ti->peer.addr.ss_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)
		    &ti->peer.addr)->sin_addr, host, sizeof(host));
	else if (ti->peer.addr.ss_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)
		    &ti->peer.addr)->sin6_addr, host, sizeof(host));
	snprintf(buf, len, "s:%s", host);
}

/* ---- challenge ----------------------------------------------------- */

/*
 * Send 401 with one WWW-Authenticate per enabled algorithm, most
 * preferred first, each with a fresh nonce bound to it (spec 2.2, 2.5).
 * 0 when sent, else negative.
 */
int
auth_challenge(struct sip_req *req, const char *realm, int stale)
{
	struct ccm		*ccm = req->ccm;
	struct auth_state	*as;
	struct digest_challenge	 ch;
	osip_message_t		*r;
	uint8_t			 rnd[8];
	char			 hdr[AUTH_HDR_MAX];
	int64_t			 now = time(NULL);
	size_t			 i;
	int			 algs = algs_enabled(ccm), rc;

	if (ccm->auth == NULL && (rc = auth_init(ccm)) != 0)
		return rc;
	as = ccm->auth;
	if ((r = sip_resp_new(req->st, 401, "Unauthorized")) == NULL)
		return uc_fail(UC_ERR_ALLOC, "auth: cannot build a 401");
	/* The configured order, else ours (spec 2.2: preferred first). */
	const int	*order = alg_order;
	size_t		 norder = sizeof(alg_order) / sizeof(alg_order[0]);

	if (ccm->cfg != NULL && ccm->cfg->ndigest > 0) {
		order = ccm->cfg->digest_order;
		norder = (size_t)ccm->cfg->ndigest;
	}
	for (i = 0; i < norder; i++) {
		if ((algs & (1 << order[i])) == 0)
			continue;
		memset(&ch, 0, sizeof(ch));
		snprintf(ch.realm, sizeof(ch.realm), "%s", realm);
		snprintf(ch.opaque, sizeof(ch.opaque), "%s", as->opaque);
		ch.alg = order[i];
		ch.qop_auth = 1;
		ch.stale = stale;
		rc = RAND_bytes(rnd, sizeof(rnd)) == 1 ? 0 :
		    uc_fail_ssl(UC_ERR_CRYPTO, "auth: no random nonce bytes");
		if (rc == 0)
			rc = digest_nonce_make(as->key, now, rnd, realm,
			    ch.alg, 0, ch.nonce);
		if (rc == 0)
			rc = digest_challenge_format(&ch, hdr, sizeof(hdr));
		if (rc != 0) {
			osip_message_free(r);
			return rc;
		}
		osip_message_set_header(r, "WWW-Authenticate", hdr);
	}
	return sip_resp_send(req->st, r);
}

/* ---- server check -------------------------------------------------- */

/* Challenge; 1 once a final answer went out, else the error. */
static int
rechallenge(struct sip_req *req, const char *realm, int stale)
{
	int	 r = auth_challenge(req, realm, stale);

	if (r == 0 || sip_strans_code(req->st) >= 200)
		return 1;	/* sent (a closed connection is no error) */
	return r;
}

/* Request-URI and digest uri name the same SIP URI (spec 2.6 step 3). */
static int
uri_matches(const osip_message_t *m, const char *duri)
{
	osip_uri_t	*u = NULL, *ru = m->req_uri;
	char		*s = NULL;
	int		 ok = 0;

	if (ru == NULL)
		return 0;
	if (osip_uri_to_str(ru, &s) == 0 && s != NULL) {
		ok = strcmp(s, duri) == 0;
		osip_free(s);
		if (ok)
			return 1;
	}
	if (osip_uri_init(&u) != 0)
		return 0;
	if (osip_uri_parse(u, duri) == 0 && u->scheme != NULL &&
	    ru->scheme != NULL && u->host != NULL && ru->host != NULL) {
		ok = strcasecmp(u->scheme, ru->scheme) == 0 &&
		    strcasecmp(u->host, ru->host) == 0 &&
		    ((u->username == NULL && ru->username == NULL) ||
		    (u->username != NULL && ru->username != NULL &&
		    strcmp(u->username, ru->username) == 0)) &&
		    ((u->port == NULL && ru->port == NULL) ||
		    (u->port != NULL && ru->port != NULL &&
		    strcmp(u->port, ru->port) == 0));
	}
	osip_uri_free(u);
	return ok;
}

/* HA1 for (user, realm, alg) unsealed into out; -1 when unknown. */
static int
ha1_lookup(struct ccm *ccm, const char *user, const char *realm, int alg,
    char out[DIGEST_HEX_MAX])
{
	struct store_duser	 du;
	const char		*sealed, *an = digest_alg_name(alg, 0);
	uint8_t			 aad[64 + 128 + 16];
	size_t			 ul = strlen(user), rl = strlen(realm), al;
	size_t			 n = 0, i, hl = digest_hex_len(alg);
	int			 ok = -1;

	if (ccm->store == NULL || an == NULL || ccm->creds == NULL ||
	    ul >= sizeof(du.username) || rl >= sizeof(du.realm) ||
	    store_duser_get(ccm->store, user, realm, &du) != 0)
		return -1;
	switch (alg) {
	case DIGEST_MD5:
		sealed = du.ha1_md5;
		break;
	case DIGEST_SHA256:
		sealed = du.ha1_sha256;
		break;
	default:
		sealed = du.ha1_sha512_256;
		break;
	}
	al = strlen(an);
	if (sealed[0] != '\0' && ul + rl + al + 2 <= sizeof(aad)) {
		memcpy(aad, user, ul + 1);
		memcpy(aad + ul + 1, realm, rl + 1);
		memcpy(aad + ul + rl + 2, an, al);
		if (unseal(ccm->creds->seal_key, aad, ul + rl + al + 2, sealed,
		    (uint8_t *)out, DIGEST_HEX_MAX - 1, &n) == 0 && n == hl) {
			out[n] = '\0';
			ok = 0;
			for (i = 0; i < n; i++)
				if (!isxdigit((unsigned char)out[i]))
					ok = -1;
			for (i = 0; i < n; i++)
				out[i] = (char)tolower((unsigned char)out[i]);
		} else
			log_warnx("auth: sealed %s HA1 of a digest user in "
			    "realm %s does not open (key or row changed?)",
			    an, realm);
	}
	OPENSSL_cleanse(&du, sizeof(du));
	if (ok != 0)
		OPENSSL_cleanse(out, DIGEST_HEX_MAX);
	return ok;
}

/* 403 after too many failures; logged once per window per key. */
static int
throttled(struct sip_req *req, struct auth_state *as, const char *ukey,
    const char *skey, const char *user, int64_t now)
{
	struct ccm	*ccm = req->ccm;
	struct fail_ent	*f;
	char		 vu[80];
	int		 max, win;

	max = cfg_or(ccm->cfg != NULL ? ccm->cfg->auth_fail_max : 0,
	    AUTH_FAIL_DEF);
	win = cfg_or(ccm->cfg != NULL ? ccm->cfg->auth_fail_window : 0,
	    AUTH_WINDOW_DEF);
	if (fail_count(as, ukey, now, win) < max &&
	    fail_count(as, skey, now, win) < max)
		return 0;
	f = fail_slot(as, fail_count(as, ukey, now, win) >= max ? ukey : skey,
	    0, now, win);
	if (f != NULL && !f->logged) {
		f->logged = 1;
		log_warnx("auth: throttled user %s from %s",
		    str_vis(vu, sizeof(vu), user), req->src.peer_text);
	}
	sip_reply(req->st, 403, "Too Many Failed Authentications");
	return 1;
}

/* A wrong response: count it; 1 when that crossed the limit (403 sent). */
static int
failed(struct sip_req *req, struct auth_state *as, const char *ukey,
    const char *skey, const char *user, int64_t now)
{
	struct ccm	*ccm = req->ccm;
	int		 win;

	win = cfg_or(ccm->cfg != NULL ? ccm->cfg->auth_fail_window : 0,
	    AUTH_WINDOW_DEF);
	fail_hit(as, ukey, now, win);
	fail_hit(as, skey, now, win);
	return throttled(req, as, ukey, skey, user, now);
}

/*
 * Find our realm's credentials among the Authorization headers.  0 and
 * *c; 1 none for us (challenge); -1 malformed (400).
 */
static int
creds_pick(struct sip_req *req, const char *realm, struct digest_creds *c)
{
	const char	*v;
	size_t		 i, len;
	int		 r, found = 0;

	for (i = 0; (len = sip_strans_creds(req->st, i, &v)) > 0; i++) {
		r = digest_creds_parse(v, len, c);
		if (r == UC_ERR_FORMAT)
			return -1;
		if (r == 0 && strcmp(c->realm, realm) == 0) {
			found = 1;
			break;
		}
	}
	if (!found) {
		OPENSSL_cleanse(c, sizeof(*c));
		return 1;
	}
	return 0;
}

/*
 * Server side (spec 2.6).  0: authenticated, *user set (it lives as
 * long as the request).  1: a response was sent (401, 400, 403) and the
 * caller stops.  Negative: an internal error, nothing sent.
 */
int
auth_server_check(struct sip_req *req, const char *realm, int validity,
    const char **user)
{
	struct ccm		*ccm = req->ccm;
	struct auth_state	*as;
	struct digest_creds	 c;
	const char		*ha1;
	char			 ukey[80], skey[64], exp[DIGEST_HEX_MAX];
	char			 got[sizeof(c.response)], own[DIGEST_HEX_MAX];
	int64_t			 now = time(NULL), ts = 0;
	size_t			 i;
	int			 r, known, ok, stale = 0;

	*user = NULL;
	if (req->st == NULL || req->msg == NULL || realm == NULL)
		return uc_fail(UC_ERR_ARG, "auth: no transaction to answer");
	if (ccm->auth == NULL && (r = auth_init(ccm)) != 0)
		return r;
	as = ccm->auth;
	key_rotate(as, validity, now);
	switch (creds_pick(req, realm, &c)) {
	case -1:
		sip_reply(req->st, 400, "Malformed Authorization");
		return 1;
	case 1:
		return rechallenge(req, realm, 0);
	}
	snprintf(ukey, sizeof(ukey), "u:%.64s", c.username);
	src_key(&req->src, skey, sizeof(skey));
	if (throttled(req, as, ukey, skey, c.username, now))
		goto answered;
	/* step 2: algorithm and qop we offered; step 3: the uri */
	if (c.sess || (algs_enabled(ccm) & (1 << c.alg)) == 0 ||
	    strcmp(c.qop, "auth") != 0)
		goto challenge;
	if (!uri_matches(req->msg, c.uri)) {
		sip_reply(req->st, 400, "Digest URI Mismatch");
		goto answered;
	}
	/* step 4: our nonce (current or previous key), not from the future */
	if (digest_nonce_check(as->key, c.nonce, realm, c.alg, 0, &ts) != 0 &&
	    (!as->have_prev || digest_nonce_check(as->prev, c.nonce, realm,
	    c.alg, 0, &ts) != 0))
		goto challenge;
	if (ts > now + AUTH_SKEW)
		goto challenge;
	/* step 5 */
	if (!c.has_opaque || !digest_equal(c.opaque, as->opaque))
		goto challenge;
	/* steps 6, 7: HA1 (dummy for an unknown user), the response */
	known = ha1_lookup(ccm, c.username, realm, c.alg, own) == 0;
	ha1 = known ? own : as->dummy[c.alg];
	r = digest_response(c.alg, 0, ha1, c.nonce, c.nc_text, c.cnonce, c.qop,
	    req->msg->sip_method, c.uri, NULL, 0, exp);
	OPENSSL_cleanse(own, sizeof(own));
	if (r != 0) {
		OPENSSL_cleanse(&c, sizeof(c));
		return r;
	}
	for (i = 0; c.response[i] != '\0' && i < sizeof(got) - 1; i++)
		got[i] = (char)tolower((unsigned char)c.response[i]);
	got[i] = '\0';
	ok = digest_equal(exp, got) && known;
	OPENSSL_cleanse(exp, sizeof(exp));
	if (!ok) {
		log_debug("auth: wrong digest response for a user from %s",
		    req->src.peer_text);
		if (failed(req, as, ukey, skey, c.username, now))
			goto answered;
		goto challenge;
	}
	if (now - ts > validity) {
		stale = 1;
		goto challenge;
	}
	/* step 8: nonce count */
	switch (nc_table_check(as->nc, c.nonce, c.nc, now, ts + validity)) {
	case NC_OK:
		break;
	case NC_FULL:
		stale = 1;
		goto challenge;
	default:
		log_debug("auth: replayed nonce count from %s",
		    req->src.peer_text);
		goto challenge;
	}
	fail_reset(as, ukey, now, 0);
	*user = sip_strans_set_user(req->st, c.username);
	OPENSSL_cleanse(&c, sizeof(c));
	return 0;
 challenge:
	OPENSSL_cleanse(&c, sizeof(c));
	return rechallenge(req, realm, stale);
 answered:
	OPENSSL_cleanse(&c, sizeof(c));
	return 1;
}

/* ---- client side (spec 4) ------------------------------------------ */

/* Remove every header named name (typed list or verbatim). */
static void
drop_headers(osip_message_t *m, const char *name, osip_list_t *typed)
{
	osip_header_t		*h;
	osip_authorization_t	*a;
	int			 i;

	while ((a = osip_list_get(typed, 0)) != NULL) {
		osip_list_remove(typed, 0);
		osip_authorization_free(a);
	}
	for (i = 0; (h = osip_list_get(&m->headers, i)) != NULL; ) {
		if (h->hname != NULL && strcasecmp(h->hname, name) == 0) {
			osip_list_remove(&m->headers, i);
			osip_header_free(h);
		} else
			i++;
	}
}

/* The topmost usable challenge for realm (spec 4 step 2). */
static int
challenge_pick(const osip_list_t *l, const char *realm,
    struct digest_challenge *ch)
{
	osip_www_authenticate_t	*w;
	char			*s;
	int			 i, r;

	for (i = 0; (w = osip_list_get(l, i)) != NULL; i++) {
		s = NULL;
		if (osip_www_authenticate_to_str(w, &s) != 0 || s == NULL)
			continue;
		r = digest_challenge_parse(s, strlen(s), ch);
		osip_free(s);
		if (r != 0 || strcmp(ch->realm, realm) != 0)
			continue;
		if (!ch->qop_auth && ch->qop_auth_int)
			continue;	/* auth-int only: not for us */
		return 0;
	}
	return UC_ERR_NOTFOUND;
}

/*
 * UAC side: add to req (the retried request; the caller bumped CSeq and
 * sends it) an Authorization (after 401) or Proxy-Authorization (after
 * 407) answering resp with the trunk's credentials, only for its
 * out_realm.  0, or UC_ERR_NOTFOUND (no usable challenge or no
 * credentials), other negatives.
 */
int
auth_client_answer(struct ccm *ccm, const struct trunk *t,
    osip_message_t *req, const osip_message_t *resp)
{
	const struct store_trunk	*row = t != NULL ? trunk_row(t) : NULL;
	struct digest_challenge		 ch;
	struct digest_creds		 c;
	const osip_list_t		*l;
	const char			*hname, *qop;
	char				 pw[AUTH_PW_MAX], ha1[DIGEST_HEX_MAX];
	char				 hdr[AUTH_HDR_MAX], *uri = NULL;
	uint8_t				 aad[16 + STORE_NAME_MAX + 128];
	size_t				 pwlen = 0, nl, rl;
	int				 r;

	if (row == NULL || req == NULL || resp == NULL ||
	    req->req_uri == NULL || req->sip_method == NULL)
		return uc_fail(UC_ERR_ARG, "auth: nothing to answer");
	if (row->out_realm[0] == '\0' || row->out_user[0] == '\0' ||
	    row->out_secret[0] == '\0' || ccm->creds == NULL)
		return uc_fail(UC_ERR_NOTFOUND, "auth: trunk %s has no "
		    "outgoing credentials", row->name);
	if (resp->status_code == 401) {
		l = &resp->www_authenticates;
		hname = "Authorization";
	} else if (resp->status_code == 407) {
		l = &resp->proxy_authenticates;
		hname = "Proxy-Authorization";
	} else
		return uc_fail(UC_ERR_ARG, "auth: %d is no challenge",
		    resp->status_code);
	if (challenge_pick(l, row->out_realm, &ch) != 0)
		return uc_fail(UC_ERR_NOTFOUND, "auth: trunk %s: no usable "
		    "challenge for realm %s", row->name, row->out_realm);
	nl = strlen(row->name);
	rl = strlen(row->out_realm);
	if (6 + nl + rl + 1 > sizeof(aad))
		return uc_fail(UC_ERR_ARG, "auth: trunk %s: names too long",
		    row->name);
	memcpy(aad, "trunk", 6);
	memcpy(aad + 6, row->name, nl + 1);
	memcpy(aad + 7 + nl, row->out_realm, rl);
	if ((r = unseal(ccm->creds->seal_key, aad, 7 + nl + rl,
	    row->out_secret, (uint8_t *)pw, sizeof(pw) - 1, &pwlen)) != 0)
		return uc_fail(r, "auth: trunk %s: sealed password does not "
		    "open", row->name);
	memset(&c, 0, sizeof(c));
	r = digest_ha1(ch.alg, row->out_user, row->out_realm, pw, pwlen, ha1);
	OPENSSL_cleanse(pw, sizeof(pw));
	if (r != 0)
		goto out;
	if ((r = osip_uri_to_str(req->req_uri, &uri)) != 0 || uri == NULL ||
	    strlen(uri) >= sizeof(c.uri)) {
		r = uc_fail(UC_ERR_FORMAT, "auth: Request-URI unusable");
		goto out;
	}
	qop = ch.qop_auth ? "auth" : NULL;
	snprintf(c.username, sizeof(c.username), "%s", row->out_user);
	snprintf(c.realm, sizeof(c.realm), "%s", ch.realm);
	snprintf(c.nonce, sizeof(c.nonce), "%s", ch.nonce);
	snprintf(c.uri, sizeof(c.uri), "%s", uri);
	if (qop != NULL || ch.sess) {
		sip_token(c.cnonce, 33);
		snprintf(c.nc_text, sizeof(c.nc_text), "00000001");
		c.nc = 1;
	}
	if (qop != NULL)
		snprintf(c.qop, sizeof(c.qop), "%s", qop);
	if (ch.opaque[0] != '\0') {
		snprintf(c.opaque, sizeof(c.opaque), "%s", ch.opaque);
		c.has_opaque = 1;
	}
	c.alg = ch.alg;
	c.sess = ch.sess;
	c.has_alg = 1;
	if ((r = digest_response(ch.alg, ch.sess, ha1, ch.nonce,
	    c.nc_text[0] != '\0' ? c.nc_text : NULL,
	    c.cnonce[0] != '\0' ? c.cnonce : NULL, qop, req->sip_method,
	    c.uri, NULL, 0, c.response)) != 0 ||
	    (r = digest_creds_format(&c, hdr, sizeof(hdr))) != 0)
		goto out;
	drop_headers(req, hname, resp->status_code == 401 ?
	    &req->authorizations : &req->proxy_authorizations);
	if (osip_message_set_header(req, hname, hdr) != 0)
		r = uc_fail(UC_ERR_ALLOC, "auth: cannot add %s", hname);
 out:
	if (uri != NULL)
		osip_free(uri);
	OPENSSL_cleanse(ha1, sizeof(ha1));
	OPENSSL_cleanse(&c, sizeof(c));
	OPENSSL_cleanse(hdr, sizeof(hdr));
	return r;
}
