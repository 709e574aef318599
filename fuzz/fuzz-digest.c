/*
 * libFuzzer harness for the digest header values (lib/digest.c): the
 * Authorization parser (digest_creds_parse) and the WWW-Authenticate
 * parser (digest_challenge_parse) on the same input.  A failure must be
 * UC_ERR_FORMAT or UC_ERR_UNSUPPORTED.  A success must give
 * NUL-terminated fields, a valid algorithm, an nc that is its 8 hex
 * digits; formatting must succeed, write no control character, and
 * re-parse to the same fields.  The input is also tried as an algorithm
 * name and as a nonce (which must never verify under a fixed key).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "digest.h"
#include "uerr.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define CHECK(x)	do { if (!(x)) abort(); } while (0)
#define FIELD_OK(f)	CHECK(memchr((f), '\0', sizeof(f)) != NULL)
#define SAME(a, b, f)	CHECK(strcmp((a)->f, (b)->f) == 0)

static char	 out[16384];

/* No control character but HTAB in a formatted value. */
static void
check_text(const char *s)
{
	for (; *s != '\0'; s++)
		CHECK(*s == '\t' || (unsigned char)*s >= 0x20);
}

static void
creds_check(const struct digest_creds *c)
{
	char	 nc[9];

	FIELD_OK(c->username);
	FIELD_OK(c->realm);
	FIELD_OK(c->nonce);
	FIELD_OK(c->uri);
	FIELD_OK(c->response);
	FIELD_OK(c->cnonce);
	FIELD_OK(c->opaque);
	FIELD_OK(c->qop);
	FIELD_OK(c->nc_text);
	CHECK(digest_alg_name(c->alg, c->sess) != NULL);
	if (c->nc_text[0] != '\0') {
		CHECK(strlen(c->nc_text) == 8);
		snprintf(nc, sizeof(nc), "%08x", (unsigned)c->nc);
		CHECK(strncasecmp(nc, c->nc_text, 8) == 0);
	} else
		CHECK(c->nc == 0);
	if (c->qop[0] != '\0')
		CHECK(c->nc_text[0] != '\0');
}

static void
creds_round_trip(const struct digest_creds *c)
{
	struct digest_creds	 d;

	creds_check(c);
	CHECK(digest_creds_format(c, out, sizeof(out)) == 0);
	check_text(out);
	CHECK(digest_creds_parse(out, strlen(out), &d) == 0);
	SAME(c, &d, username);
	SAME(c, &d, realm);
	SAME(c, &d, nonce);
	SAME(c, &d, uri);
	SAME(c, &d, response);
	SAME(c, &d, cnonce);
	SAME(c, &d, opaque);
	SAME(c, &d, qop);
	SAME(c, &d, nc_text);
	CHECK(c->nc == d.nc && c->alg == d.alg && c->sess == d.sess &&
	    c->has_alg == d.has_alg && c->has_opaque == d.has_opaque &&
	    c->userhash == d.userhash);
}

static void
chal_round_trip(const struct digest_challenge *h)
{
	struct digest_challenge	 g;

	FIELD_OK(h->realm);
	FIELD_OK(h->nonce);
	FIELD_OK(h->opaque);
	CHECK(digest_alg_name(h->alg, h->sess) != NULL);
	CHECK(digest_challenge_format(h, out, sizeof(out)) == 0);
	check_text(out);
	CHECK(digest_challenge_parse(out, strlen(out), &g) == 0);
	SAME(h, &g, realm);
	SAME(h, &g, nonce);
	SAME(h, &g, opaque);
	CHECK(h->alg == g.alg && h->sess == g.sess &&
	    h->qop_auth == g.qop_auth && h->qop_auth_int == g.qop_auth_int &&
	    h->stale == g.stale);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	static const uint8_t	 key[DIGEST_KEY_LEN] = { 1, 2, 3 };
	struct digest_creds	 c;
	struct digest_challenge	 h;
	char			 s[DIGEST_FIELD_MAX];
	int64_t			 ts;
	int			 r, alg, sess;

	r = digest_creds_parse((const char *)data, len, &c);
	CHECK(r == 0 || r == UC_ERR_FORMAT || r == UC_ERR_UNSUPPORTED);
	CHECK(uc_errdetail() != NULL);
	if (r == 0)
		creds_round_trip(&c);
	r = digest_challenge_parse((const char *)data, len, &h);
	CHECK(r == 0 || r == UC_ERR_FORMAT || r == UC_ERR_UNSUPPORTED);
	if (r == 0)
		chal_round_trip(&h);
	r = digest_alg_parse((const char *)data, len, &alg, &sess);
	CHECK(r == UC_ERR_UNSUPPORTED ||
	    (r == 0 && digest_alg_name(alg, sess) != NULL));
	if (len < sizeof(s)) {
		memcpy(s, data, len);
		s[len] = '\0';
		CHECK(digest_nonce_check(key, s, "realm", DIGEST_MD5, 0,
		    &ts) == UC_ERR_SIGNATURE);
	}
	return 0;
}
