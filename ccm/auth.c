/*
 * Digest authentication for ccmd (spec 2, 4).
 *
 * Server side: one 401 with a WWW-Authenticate per algorithm of the
 * request's list (the device's or trunk's digest_algs, else the
 * config's), most preferred first, each with its own self-validating
 * nonce (lib/digest, key rotated every validity period, the previous key
 * kept until the next rotation), a per-process opaque and qop="auth".
 * Credentials are checked in the spec 2.6 order; unknown users go
 * through a dummy sealed HA1 (unsealed like a real one) and a dummy HA1
 * so replies and timing do not tell them apart; a nonce-count table with
 * a watermark refuses replays and never fills up; failures are counted
 * per user and per source address and answered with 403 past
 * cfg->auth_fail_max within the window.  A well-formed nonce older than
 * its validity gets stale=true when the answer is right, even once its
 * key is gone.  Without qop (RFC 2069) only when cfg->digest_noqop, and
 * then a nonce is good for one request.
 *
 * HA1 values come sealed from the store through a bounded cache of rows
 * (user, realm -> the sealed strings, or "no such user"), dropped when
 * store_generation moves (checked at most every AUTH_GEN_MS); they are
 * unsealed per use and wiped after it.
 *
 * Client side: the answer to a trunk peer's 401/407 for the trunk's
 * outgoing realm, with its sealed password, never with an algorithm
 * weaker than the trunk's out_min_alg.
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
#define AUTH_DU_SETS		4096	/* cached digest users: sets ... */
#else					/* fuzz-sip sets up per input */
#define AUTH_NC_MAX		256
#define AUTH_FAIL_SETS		64
#define AUTH_DU_SETS		16
#endif
#define AUTH_FAIL_WAYS		4	/* ... of this many entries each */
#define AUTH_DU_WAYS		4	/* ... of this many entries each */
#define AUTH_GEN_MS		250	/* store_generation checked at most */
#define AUTH_FAIL_DEF		5	/* cfg->auth_fail_max unset */
#define AUTH_WINDOW_DEF		300	/* cfg->auth_fail_window unset */
#define AUTH_KEY_ROT_MIN	60	/* s: the nonce key lives at least */
#define AUTH_SKEW		5	/* s: nonce time ahead of ours */
#define AUTH_PW_MAX		256	/* a trunk password */
#define AUTH_HDR_MAX		2048	/* one formatted digest header */

/* Preference when several algorithms are enabled (spec 2.2). */
static const int alg_order[] = { DIGEST_SHA256, DIGEST_SHA512_256,
    DIGEST_MD5 };

/* The aad of the dummy sealed HA1 values ("user\0realm\0" part). */
#define DUMMY_AAD		"dummy-user\0dummy-realm"

struct fail_ent {
	char		 key[72];	/* "u:" user or "s:" address */
	uint64_t	 h;
	int64_t		 since;		/* start of the window */
	int		 count;
	int		 logged;
};

/* A cached digest user row: its sealed HA1 values, or "unknown". */
struct du_ent {
	uint64_t	 h;
	uint32_t	 epoch;		/* valid iff as->du_epoch */
	uint32_t	 used;		/* for replacement */
	int		 found;		/* 0: the store has no such user */
	char		 user[64];
	char		 realm[128];
	char		 sealed[DIGEST_ALG__MAX][STORE_SEALED_MAX];
};

struct auth_state {
	uint8_t		 key[DIGEST_KEY_LEN];
	uint8_t		 prev[DIGEST_KEY_LEN];
	int		 have_prev;
	int64_t		 key_since;
	int		 max_validity;	/* longest nonce validity seen */
	char		 opaque[33];
	struct nc_table	*nc;
	struct fail_ent	*fails;		/* AUTH_FAIL_SETS * AUTH_FAIL_WAYS */
	char		 dummy[DIGEST_ALG__MAX][DIGEST_HEX_MAX];
	/* a dummy sealed HA1 per algorithm under dummy_for's seal key */
	char		*dummy_sealed[DIGEST_ALG__MAX];
	const struct ccm_creds *dummy_for;
	struct du_ent	*du;		/* AUTH_DU_SETS * AUTH_DU_WAYS */
	uint32_t	 du_epoch;	/* bumped to drop every entry */
	uint32_t	 du_tick;
	uint64_t	 du_gen;	/* store_generation when filled */
	int64_t		 du_checked;	/* ms (monotonic) of that check */
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

static void
dummy_drop(struct auth_state *as)
{
	int	 a;

	for (a = 0; a < DIGEST_ALG__MAX; a++) {
		if (as->dummy_sealed[a] != NULL)
			OPENSSL_clear_free(as->dummy_sealed[a],
			    strlen(as->dummy_sealed[a]));
		as->dummy_sealed[a] = NULL;
	}
	as->dummy_for = NULL;
}

/*
 * The dummy sealed HA1 values under the current seal key (made again
 * when the credentials changed): an unknown user's lookup opens one of
 * these, so it costs what a known user's does (finding 10).
 */
static int
dummy_ready(struct ccm *ccm, struct auth_state *as)
{
	uint8_t		 aad[sizeof(DUMMY_AAD) + 16];
	const char	*an;
	size_t		 al;
	int		 a;

	if (ccm->creds == NULL)
		return -1;
	if (as->dummy_for == ccm->creds)
		return 0;
	dummy_drop(as);
	for (a = 0; a < DIGEST_ALG__MAX; a++) {
		an = digest_alg_name(a, 0);
		al = strlen(an);
		memcpy(aad, DUMMY_AAD, sizeof(DUMMY_AAD));
		memcpy(aad + sizeof(DUMMY_AAD), an, al);
		if (seal(ccm->creds->seal_key, as->dummy[a],
		    digest_hex_len(a), aad, sizeof(DUMMY_AAD) + al,
		    &as->dummy_sealed[a]) != 0) {
			dummy_drop(as);
			return -1;
		}
	}
	as->dummy_for = ccm->creds;
	return 0;
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
	as->max_validity = ccm->cfg != NULL && ccm->cfg->nonce_validity > 0 ?
	    ccm->cfg->nonce_validity : CCM_NONCE_VALIDITY_DEF;
	as->du_epoch = 1;
	hex_fill(as->opaque, 16);
	for (a = 0; a < DIGEST_ALG__MAX; a++)
		hex_fill(as->dummy[a], digest_hex_len(a));
	if ((as->nc = nc_table_new(AUTH_NC_MAX)) == NULL ||
	    (as->fails = calloc(AUTH_FAIL_SETS * AUTH_FAIL_WAYS,
	    sizeof(*as->fails))) == NULL ||
	    (as->du = calloc(AUTH_DU_SETS * AUTH_DU_WAYS,
	    sizeof(*as->du))) == NULL) {
		nc_table_free(as->nc);
		free(as->fails);
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
	dummy_drop(as);
	if (as->du != NULL) {
		OPENSSL_cleanse(as->du, (size_t)AUTH_DU_SETS * AUTH_DU_WAYS *
		    sizeof(*as->du));
		free(as->du);
	}
	OPENSSL_cleanse(as, sizeof(*as));
	free(as);
	ccm->auth = NULL;
}

/*
 * Rotate the nonce key once per period, the longest validity seen (at
 * least AUTH_KEY_ROT_MIN); the previous key stays until the next
 * rotation, so a nonce made just before a rotation still verifies for
 * its whole validity (the time inside the nonce, not the key's age,
 * limits it).  Nonces whose key is gone are old: answered stale.
 */
static void
key_rotate(struct auth_state *as, int validity, int64_t now)
{
	int	 period;

	if (validity > as->max_validity)
		as->max_validity = validity;
	period = as->max_validity > AUTH_KEY_ROT_MIN ? as->max_validity :
	    AUTH_KEY_ROT_MIN;
	if (now - as->key_since < period && now >= as->key_since)
		return;
	memcpy(as->prev, as->key, sizeof(as->prev));
	as->have_prev = 1;
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

/*
 * The algorithms to challenge req with, most preferred first: the
 * request's list (the device's or trunk's row), else the config's
 * digest_algorithms order, else ours limited to the enabled ones.  An
 * unusable row list is logged (once per distinct value) and the
 * config's used.  Returns how many (>= 1).
 */
static size_t
req_algs(const struct sip_req *req, int order[DIGEST_ALG__MAX])
{
	static char	 warned[sizeof(req->digest_algs)];
	struct ccm	*ccm = req->ccm;
	const int	*from = alg_order;
	size_t		 n = 0, i, nfrom = sizeof(alg_order) / sizeof(alg_order[0]);
	char		 v[sizeof(req->digest_algs) + 16];
	int		 m = algs_enabled(ccm), seen = 0, a;

	if (req->digest_algs[0] != '\0' && memchr(req->digest_algs, '\0',
	    sizeof(req->digest_algs)) != NULL) {
		if (digest_alg_list_parse(req->digest_algs, order, &n) == 0 &&
		    n > 0)
			return n;
		if (strcmp(warned, req->digest_algs) != 0) {
			snprintf(warned, sizeof(warned), "%s",
			    req->digest_algs);
			log_warnx("auth: digest algorithms \"%s\" of a device "
			    "or trunk are unusable (%s); using the configured "
			    "ones", str_vis(v, sizeof(v), req->digest_algs),
			    uc_errdetail());
		}
	}
	if (ccm->cfg != NULL && ccm->cfg->ndigest > 0) {
		from = ccm->cfg->digest_order;
		nfrom = (size_t)ccm->cfg->ndigest;
		if (nfrom > DIGEST_ALG__MAX)
			nfrom = DIGEST_ALG__MAX;
	}
	for (n = 0, i = 0; i < nfrom; i++) {
		a = from[i];
		if (a < 0 || a >= DIGEST_ALG__MAX || (m & (1 << a)) == 0 ||
		    (seen & (1 << a)) != 0)
			continue;
		seen |= 1 << a;
		order[n++] = a;
	}
	if (n == 0)
		order[n++] = DIGEST_MD5;	/* cannot happen: m is never 0 */
	return n;
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
 * Send 401 with one WWW-Authenticate per algorithm of the request's list
 * (req_algs), most preferred first, each with a fresh nonce bound to it
 * (spec 2.2, 2.5).  0 when sent, else negative.
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
	size_t			 i, norder;
	int			 order[DIGEST_ALG__MAX], rc;

	if (ccm->auth == NULL && (rc = auth_init(ccm)) != 0)
		return rc;
	as = ccm->auth;
	key_rotate(as, 0, now);
	/* The request's order, else the config's (spec 2.2: preferred first). */
	norder = req_algs(req, order);
	if ((r = sip_resp_new(req->st, 401, "Unauthorized")) == NULL)
		return uc_fail(UC_ERR_ALLOC, "auth: cannot build a 401");
	for (i = 0; i < norder; i++) {
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

/* ---- digest user cache (P2) ------------------------------------------ */

static int64_t
mono_ms(void)
{
	struct timespec	 ts;

#ifdef CLOCK_MONOTONIC_COARSE
	if (clock_gettime(CLOCK_MONOTONIC_COARSE, &ts) != 0)
#endif
		clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Drop every cached row (O(1): a new epoch). */
static void
du_flush(struct auth_state *as)
{
	if (++as->du_epoch == 0) {
		OPENSSL_cleanse(as->du, (size_t)AUTH_DU_SETS * AUTH_DU_WAYS *
		    sizeof(*as->du));
		as->du_epoch = 1;
	}
}

/* Another connection (ccmctl) committed since we filled the cache? */
static void
du_check_generation(struct ccm *ccm, struct auth_state *as)
{
	int64_t		 ms = mono_ms();
	uint64_t	 g;

	if (as->du_checked != 0 && ms - as->du_checked < AUTH_GEN_MS &&
	    ms >= as->du_checked)
		return;
	as->du_checked = ms != 0 ? ms : 1;
	g = store_generation(ccm->store);
	if (g == 0 || g != as->du_gen) {	/* 0: unknown, trust nothing */
		du_flush(as);
		as->du_gen = g;
	}
}

/*
 * The cached row of (user, realm), read from the store on a miss; a
 * missing user is cached too.  NULL when the store failed (not cached).
 * The entry lives until the next call.
 */
static const struct du_ent *
du_get(struct ccm *ccm, struct auth_state *as, const char *user,
    const char *realm)
{
	struct store_duser	 du;
	struct du_ent		*set, *e, *victim = NULL;
	size_t			 ul = strlen(user), rl = strlen(realm), i;
	uint64_t		 h;
	uint8_t			 key[sizeof(e->user) + sizeof(e->realm)];
	int			 r;

	if (ul >= sizeof(e->user) || rl >= sizeof(e->realm))
		return NULL;
	du_check_generation(ccm, as);
	memcpy(key, user, ul + 1);
	memcpy(key + ul + 1, realm, rl);
	h = sip_hash(key, ul + 1 + rl);
	set = &as->du[(h % AUTH_DU_SETS) * AUTH_DU_WAYS];
	for (i = 0; i < AUTH_DU_WAYS; i++) {
		e = &set[i];
		if (e->epoch == as->du_epoch && e->h == h &&
		    strcmp(e->user, user) == 0 && strcmp(e->realm, realm) == 0) {
			e->used = ++as->du_tick;
			return e;
		}
		/* replace a dropped entry, else the least recently used */
		if (e->epoch != as->du_epoch) {
			if (victim == NULL || victim->epoch == as->du_epoch)
				victim = e;
		} else if (victim == NULL || (victim->epoch == as->du_epoch &&
		    e->used < victim->used))
			victim = e;
	}
	r = store_duser_get(ccm->store, user, realm, &du);
	if (r != 0 && r != UC_ERR_NOTFOUND) {
		OPENSSL_cleanse(&du, sizeof(du));
		return NULL;
	}
	e = victim;
	memset(e, 0, sizeof(*e));
	e->h = h;
	e->epoch = as->du_epoch;
	e->used = ++as->du_tick;
	memcpy(e->user, user, ul + 1);
	memcpy(e->realm, realm, rl + 1);
	if (r == 0) {
		e->found = 1;
		snprintf(e->sealed[DIGEST_MD5], sizeof(e->sealed[0]), "%s",
		    du.ha1_md5);
		snprintf(e->sealed[DIGEST_SHA256], sizeof(e->sealed[0]), "%s",
		    du.ha1_sha256);
		snprintf(e->sealed[DIGEST_SHA512_256], sizeof(e->sealed[0]),
		    "%s", du.ha1_sha512_256);
	}
	OPENSSL_cleanse(&du, sizeof(du));
	return e;
}

/*
 * HA1 for (user, realm, alg) unsealed into out; -1 when unknown.  An
 * unknown user (or one without this algorithm's HA1) opens a dummy
 * sealed value instead, with the same checks after it, so both cost the
 * same (finding 10); a cache miss costs a store read for both.
 */
static int
ha1_lookup(struct ccm *ccm, struct auth_state *as, const char *user,
    const char *realm, int alg, char out[DIGEST_HEX_MAX])
{
	const struct du_ent	*d = NULL;
	const char		*sealed, *an = digest_alg_name(alg, 0);
	uint8_t			 aad[64 + 128 + 16];
	size_t			 ul = strlen(user), rl = strlen(realm), al;
	size_t			 n = 0, i, hl = digest_hex_len(alg), aadlen;
	int			 ok, real, r;

	out[0] = '\0';
	if (an == NULL || ccm->creds == NULL || dummy_ready(ccm, as) != 0)
		return -1;
	al = strlen(an);
	if (ccm->store != NULL)
		d = du_get(ccm, as, user, realm);
	real = d != NULL && d->found && d->sealed[alg][0] != '\0' &&
	    ul + rl + al + 2 <= sizeof(aad);
	if (real) {
		sealed = d->sealed[alg];
		memcpy(aad, user, ul + 1);
		memcpy(aad + ul + 1, realm, rl + 1);
		memcpy(aad + ul + rl + 2, an, al);
		aadlen = ul + rl + al + 2;
	} else {
		sealed = as->dummy_sealed[alg];
		memcpy(aad, DUMMY_AAD, sizeof(DUMMY_AAD));
		memcpy(aad + sizeof(DUMMY_AAD), an, al);
		aadlen = sizeof(DUMMY_AAD) + al;
	}
	r = unseal(ccm->creds->seal_key, aad, aadlen, sealed, (uint8_t *)out,
	    DIGEST_HEX_MAX - 1, &n);
	ok = r == 0 && n == hl;
	if (!ok)
		n = 0;
	out[n] = '\0';
	for (i = 0; i < n; i++)
		if (!isxdigit((unsigned char)out[i]))
			ok = 0;
	for (i = 0; i < n; i++)
		out[i] = (char)tolower((unsigned char)out[i]);
	if (!ok && real)
		log_warnx("auth: sealed %s HA1 of a digest user in realm %s "
		    "does not open (key or row changed?)", an, realm);
	if (!ok && !real)
		dummy_drop(as);		/* made again next time */
	if (!ok || !real) {
		OPENSSL_cleanse(out, DIGEST_HEX_MAX);
		return -1;
	}
	return 0;
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

/* Our nonce under the current or the previous key: 0 and *ts. */
static int
nonce_ours(struct auth_state *as, const char *nonce, const char *realm,
    int alg, int64_t *ts)
{
	if (digest_nonce_check(as->key, nonce, realm, alg, 0, ts) == 0)
		return 0;
	if (as->have_prev && digest_nonce_check(as->prev, nonce, realm, alg,
	    0, ts) == 0)
		return 0;
	return -1;
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
	size_t			 i, norder;
	int			 order[DIGEST_ALG__MAX], offered = 0;
	int			 r, known, ok, stale = 0, legacy, ours;

	*user = NULL;
	if (req->st == NULL || req->msg == NULL || realm == NULL)
		return uc_fail(UC_ERR_ARG, "auth: no transaction to answer");
	if (ccm->auth == NULL && (r = auth_init(ccm)) != 0)
		return r;
	as = ccm->auth;
	if (validity <= 0)
		validity = CCM_NONCE_VALIDITY_DEF;
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
	/*
	 * step 2: an algorithm we offered to this request, qop "auth"; no
	 * qop only in the legacy mode (finding 16)
	 */
	norder = req_algs(req, order);
	for (i = 0; i < norder; i++)
		offered |= 1 << order[i];
	legacy = c.qop[0] == '\0';
	if (c.sess || (offered & (1 << c.alg)) == 0)
		goto challenge;
	if (legacy ? ccm->cfg == NULL || !ccm->cfg->digest_noqop :
	    strcmp(c.qop, "auth") != 0)
		goto challenge;
	/* step 3: the uri */
	if (!uri_matches(req->msg, c.uri)) {
		sip_reply(req->st, 400, "Digest URI Mismatch");
		goto answered;
	}
	/*
	 * step 4: our nonce (current or previous key), not from the future.
	 * One that decodes but whose MAC cannot be checked (its key was
	 * rotated away) and that is older than the validity goes on: a
	 * right answer to it gets stale=true (finding 13).
	 */
	ours = nonce_ours(as, c.nonce, realm, c.alg, &ts) == 0;
	if (!ours && (digest_nonce_time(c.nonce, &ts) != 0 ||
	    now - ts <= validity))
		goto challenge;
	if (ts > now + AUTH_SKEW)
		goto challenge;
	/* step 5 (an unverifiable nonce may come from before a restart) */
	if (ours && (!c.has_opaque || !digest_equal(c.opaque, as->opaque)))
		goto challenge;
	/* steps 6, 7: HA1 (dummy for an unknown user), the response */
	known = ha1_lookup(ccm, as, c.username, realm, c.alg, own) == 0;
	ha1 = known ? own : as->dummy[c.alg];
	r = digest_response(c.alg, 0, ha1, c.nonce, legacy ? NULL : c.nc_text,
	    legacy ? NULL : c.cnonce, legacy ? NULL : c.qop,
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
	OPENSSL_cleanse(got, sizeof(got));
	if (!ok) {
		log_debug("auth: wrong digest response for a user from %s",
		    req->src.peer_text);
		if (failed(req, as, ukey, skey, c.username, now))
			goto answered;
		goto challenge;
	}
	if (!ours || now - ts > validity) {
		stale = 1;
		goto challenge;
	}
	/*
	 * step 8: nonce count; a legacy nonce is single-use (nc 1), used
	 * again it is stale (spec 2.6 step 8)
	 */
	switch (nc_table_use(as->nc, c.nonce, legacy ? 1 : c.nc, ts, now,
	    ts + validity)) {
	case NC_OK:
		break;
	case NC_STALE:
		stale = 1;
		goto challenge;
	default:
		log_debug("auth: replayed nonce%s from %s", legacy ? "" :
		    " count", req->src.peer_text);
		stale = legacy;
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

/*
 * Strength for out_min_alg: MD5 is weaker than SHA-256 and SHA-512-256,
 * which are equal (both 256-bit hashes); "-sess" does not change it.
 */
static int
alg_strength(int alg)
{
	return alg == DIGEST_MD5 ? 0 : 1;
}

/*
 * The topmost usable challenge for realm (spec 4 step 2): one whose
 * algorithm is at least as strong as min_alg.  A challenge skipped only
 * for being too weak sets *weak.
 */
static int
challenge_pick(const osip_list_t *l, const char *realm, int min_alg,
    struct digest_challenge *ch, int *weak)
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
		if (alg_strength(ch->alg) < alg_strength(min_alg)) {
			*weak = 1;	/* spec 4 step 2: resist downgrade */
			continue;
		}
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
	int				 r, min_alg = DIGEST_MD5, sess, weak = 0;

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
	/* the weakest algorithm we answer with; "" = MD5 (finding 19) */
	if (memchr(row->out_min_alg, '\0', sizeof(row->out_min_alg)) == NULL ||
	    (row->out_min_alg[0] != '\0' && (digest_alg_parse(row->out_min_alg,
	    strlen(row->out_min_alg), &min_alg, &sess) != 0 || sess)))
		return uc_fail(UC_ERR_ARG, "auth: trunk %s: out_min_alg is not "
		    "MD5, SHA-256 or SHA-512-256", row->name);
	if (challenge_pick(l, row->out_realm, min_alg, &ch, &weak) != 0) {
		if (weak)
			log_warnx("auth: trunk %s: challenge for realm %s only "
			    "with algorithms weaker than %s: not answered",
			    row->name, row->out_realm,
			    digest_alg_name(min_alg, 0));
		return uc_fail(UC_ERR_NOTFOUND, "auth: trunk %s: no usable "
		    "challenge for realm %s%s", row->name, row->out_realm,
		    weak ? " (weaker than out_min_alg)" : "");
	}
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
