/*
 * HTTP digest authentication for SIP; see digest.h and
 * ../shared/specs/sip-security.md section 2.
 *
 * Hashes and the nonce MAC use OpenSSL 3 EVP objects fetched once
 * (pthread_once).  The header value parsers read untrusted bytes through
 * the cursor only; the grammar is RFC 3261 25.1 / RFC 7616 3.4:
 *
 *	value	= "Digest" 1*LWS param *( "," param )	(empty elements ok)
 *	param	= token LWS "=" LWS ( token / quoted-string )
 *
 * with LWS any run of SP, HTAB, CR, LF.  Values may not hold control
 * characters other than HTAB (no NUL, CR or LF even when escaped), so a
 * parsed value can never smuggle a header line when it is echoed.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "cursor.h"
#include "digest.h"
#include "uerr.h"

#define DIGEST_VALUE_MAX 8192	/* a header value: every field escaped + extras */
#define PNAME_MAX	 32	/* longest parameter name we care to read */
#define NONCE_RAW	 32	/* ts(8) || rand(8) || mac(16) */
#define NONCE_MAC	 16	/* bytes of HMAC-SHA256 kept in a nonce */
#define NC_TABLE_MAX	 (1u << 24)	/* entries: 1 GB of table is a typo */
#define HEXDIG_LEN	 8	/* nc is exactly 8 hex digits (spec 2.3) */

/* ---- algorithms ------------------------------------------------------ */

static const struct {
	const char	*name;		/* digest.h spelling, RFC 7616 3.5 */
	const char	*sess;
	const char	*evp;		/* OpenSSL 3 fetch name */
	size_t		 hexlen;
} algs[DIGEST_ALG__MAX] = {
	{ "MD5", "MD5-sess", "MD5", 32 },
	{ "SHA-256", "SHA-256-sess", "SHA256", 64 },
	{ "SHA-512-256", "SHA-512-256-sess", "SHA512-256", 64 },
};

static pthread_once_t	 evp_once = PTHREAD_ONCE_INIT;
static EVP_MD		*evp_md[DIGEST_ALG__MAX];	/* NULL: not available */
static EVP_MAC		*evp_hmac;

/* Fetch the digests and HMAC once; they live as long as the process. */
static void
evp_fetch(void)
{
	int	 i;

	for (i = 0; i < DIGEST_ALG__MAX; i++)
		evp_md[i] = EVP_MD_fetch(NULL, algs[i].evp, NULL);
	evp_hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
}

static const EVP_MD *
md_get(int alg)
{
	if (alg < 0 || alg >= DIGEST_ALG__MAX)
		return NULL;
	if (pthread_once(&evp_once, evp_fetch) != 0)
		return NULL;
	return evp_md[alg];
}

/* A byte of an algorithm name: letters, digits, '-'. */
static int
is_alg_char(uint8_t ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	    (ch >= '0' && ch <= '9') || ch == '-';
}

/*
 * Parse an algorithm token of len bytes ("MD5", "SHA-256",
 * "SHA-512-256", each optionally "-sess"; any case) into *alg and *sess.
 * Returns 0 or UC_ERR_UNSUPPORTED (any other token).
 */
int
digest_alg_parse(const char *s, size_t len, int *alg, int *sess)
{
	size_t	 n;
	int	 i;

	for (i = 0; s != NULL && i < DIGEST_ALG__MAX; i++) {
		n = strlen(algs[i].name);
		if (len != n && len != n + 5)
			continue;
		if (strncasecmp(s, algs[i].name, n) != 0)
			continue;
		if (len == n + 5 && strncasecmp(s + n, "-sess", 5) != 0)
			continue;
		*alg = i;
		*sess = len == n + 5;
		return 0;
	}
	return uc_fail(UC_ERR_UNSUPPORTED, "digest: algorithm of %zu bytes is "
	    "not MD5, SHA-256 or SHA-512-256 (RFC 7616 3.5)", len);
}

/* The RFC 7616 name of alg (with "-sess"), or NULL for a bad alg. */
const char *
digest_alg_name(int alg, int sess)
{
	if (alg < 0 || alg >= DIGEST_ALG__MAX)
		return NULL;
	return sess ? algs[alg].sess : algs[alg].name;
}

/* Hex digits of alg's hash: 32 or 64; 0 for a bad alg. */
size_t
digest_hex_len(int alg)
{
	if (alg < 0 || alg >= DIGEST_ALG__MAX)
		return 0;
	return algs[alg].hexlen;
}

/*
 * A preference list of algorithms: names separated by commas, blanks
 * (SP, HTAB) around them allowed, at most one of each, no "-sess" (the
 * policy names an algorithm, a challenge adds -sess).  "" (or only
 * blanks) is an empty list.  Returns 0 with order[0 .. *n - 1], or
 * UC_ERR_ARG (unknown name, -sess, duplicate, empty element).
 */
int
digest_alg_list_parse(const char *s, int order[DIGEST_ALG__MAX], size_t *n)
{
	const char	*e;
	size_t		 len, i;
	unsigned	 seen = 0;
	int		 alg, sess, first = 1;

	*n = 0;
	if (s == NULL)
		return uc_fail(UC_ERR_ARG, "digest: no algorithm list");
	for (;;) {
		while (*s == ' ' || *s == '\t')
			s++;
		if (*s == '\0' && first)
			return 0;
		first = 0;
		for (e = s; *e != '\0' && *e != ','; e++)
			;
		for (len = (size_t)(e - s); len > 0 && (s[len - 1] == ' ' ||
		    s[len - 1] == '\t'); len--)
			;
		if (len == 0)
			return uc_fail(UC_ERR_ARG, "digest: empty element in "
			    "an algorithm list");
		for (i = 0; i < len; i++)
			if (!is_alg_char((uint8_t)s[i]))
				return uc_fail(UC_ERR_ARG, "digest: algorithm "
				    "list holds a character that is no name");
		if (digest_alg_parse(s, len, &alg, &sess) != 0 || sess)
			return uc_fail(UC_ERR_ARG, "digest: \"%.*s\" is not "
			    "MD5, SHA-256 or SHA-512-256", (int)(len < 32 ?
			    len : 32), s);
		if (seen & (1u << alg))
			return uc_fail(UC_ERR_ARG, "digest: %s twice in an "
			    "algorithm list", algs[alg].name);
		seen |= 1u << alg;
		order[(*n)++] = alg;
		if (*e == '\0')
			return 0;
		s = e + 1;
	}
}

/* ---- hashing --------------------------------------------------------- */

struct part {
	const void	*p;
	size_t		 n;
};

static void
hex_lower(const uint8_t *p, size_t n, char *out)
{
	static const char	 hexdig[] = "0123456789abcdef";
	size_t			 i;

	for (i = 0; i < n; i++) {
		out[2 * i] = hexdig[p[i] >> 4];
		out[2 * i + 1] = hexdig[p[i] & 0x0f];
	}
	out[2 * n] = '\0';
}

/* out = H(parts joined by ':') as lower-case hex (spec 2.4). */
static int
hash_hex(int alg, const struct part *parts, size_t nparts,
    char out[DIGEST_HEX_MAX])
{
	const EVP_MD	*md;
	EVP_MD_CTX	*ctx = NULL;
	uint8_t		 h[EVP_MAX_MD_SIZE];
	unsigned	 hlen = 0;
	size_t		 i;
	int		 r = UC_ERR_CRYPTO;

	out[0] = '\0';
	if ((md = md_get(alg)) == NULL)
		return uc_fail(UC_ERR_UNSUPPORTED, "digest: %s is not available "
		    "from OpenSSL", alg >= 0 && alg < DIGEST_ALG__MAX ?
		    algs[alg].name : "algorithm");
	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return uc_fail_ssl(UC_ERR_ALLOC, "digest: EVP_MD_CTX_new");
	if (EVP_DigestInit_ex2(ctx, md, NULL) != 1)
		goto fail;
	for (i = 0; i < nparts; i++)
		if ((i > 0 && EVP_DigestUpdate(ctx, ":", 1) != 1) ||
		    (parts[i].n > 0 &&
		    EVP_DigestUpdate(ctx, parts[i].p, parts[i].n) != 1))
			goto fail;
	if (EVP_DigestFinal_ex(ctx, h, &hlen) != 1 ||
	    2 * (size_t)hlen != algs[alg].hexlen)
		goto fail;
	hex_lower(h, hlen, out);
	r = 0;
	goto out;
fail:
	r = uc_fail_ssl(r, "digest: %s hash", algs[alg].name);
out:
	OPENSSL_cleanse(h, sizeof(h));
	EVP_MD_CTX_free(ctx);
	return r;
}

#define PART_S(s)	{ (s), strlen(s) }

/*
 * HA1 = H(user ":" realm ":" password) in lower-case hex (spec 2.4).
 * pw is pwlen bytes (may be NULL when pwlen is 0).  Returns 0,
 * UC_ERR_ARG, UC_ERR_UNSUPPORTED, UC_ERR_CRYPTO.  The caller wipes out.
 */
int
digest_ha1(int alg, const char *user, const char *realm, const char *pw,
    size_t pwlen, char out[DIGEST_HEX_MAX])
{
	struct part	 p[3];

	out[0] = '\0';
	if (digest_hex_len(alg) == 0 || user == NULL || realm == NULL ||
	    (pw == NULL && pwlen > 0))
		return uc_fail(UC_ERR_ARG, "digest_ha1: bad argument");
	p[0].p = user;
	p[0].n = strlen(user);
	p[1].p = realm;
	p[1].n = strlen(realm);
	p[2].p = pw;
	p[2].n = pwlen;
	return hash_hex(alg, p, 3, out);
}

/* A2 and HA2 per qop (spec 2.4); qop is NULL, "auth" or "auth-int". */
static int
ha2_make(int alg, const char *qop, const char *method, const char *uri,
    const char *body, size_t bodylen, char ha2[DIGEST_HEX_MAX])
{
	struct part	 p[3] = { PART_S(method), PART_S(uri), { "", 0 } };
	char		 hbody[DIGEST_HEX_MAX];
	int		 r;

	if (qop == NULL || strcmp(qop, "auth") == 0)
		return hash_hex(alg, p, 2, ha2);
	if (strcmp(qop, "auth-int") != 0)
		return uc_fail(UC_ERR_UNSUPPORTED, "digest: qop is neither "
		    "auth nor auth-int (spec 2.4)");
	p[2].p = body;
	p[2].n = bodylen;
	if ((r = hash_hex(alg, &p[2], 1, hbody)) != 0)
		return r;
	p[2].p = hbody;
	p[2].n = strlen(hbody);
	return hash_hex(alg, p, 3, ha2);
}

/*
 * The expected response for a request (spec 2.4): alg and sess as
 * parsed, ha1 the stored lower-case hex HA1 (digest_hex_len(alg) digits),
 * nc and cnonce as sent (required with a qop or with sess), qop NULL or
 * "" (legacy, no qop), "auth" or "auth-int" (body of bodylen bytes; NULL
 * when bodylen is 0).  Writes lower-case hex to out.  Returns 0,
 * UC_ERR_ARG, UC_ERR_UNSUPPORTED (qop), UC_ERR_CRYPTO.
 */
int
digest_response(int alg, int sess, const char *ha1, const char *nonce,
    const char *nc, const char *cnonce, const char *qop, const char *method,
    const char *uri, const char *body, size_t bodylen,
    char out[DIGEST_HEX_MAX])
{
	struct part	 p[6];
	char		 sha1[DIGEST_HEX_MAX], ha2[DIGEST_HEX_MAX];
	const char	*key = ha1;
	int		 r;

	out[0] = '\0';
	sha1[0] = '\0';
	if (qop != NULL && *qop == '\0')
		qop = NULL;
	if (digest_hex_len(alg) == 0 || ha1 == NULL ||
	    strlen(ha1) != digest_hex_len(alg) || nonce == NULL ||
	    method == NULL || uri == NULL || (body == NULL && bodylen > 0) ||
	    ((qop != NULL || sess) && cnonce == NULL) ||
	    (qop != NULL && nc == NULL))
		return uc_fail(UC_ERR_ARG, "digest_response: bad argument");
	if (sess) {
		p[0].p = ha1;
		p[0].n = strlen(ha1);
		p[1].p = nonce;
		p[1].n = strlen(nonce);
		p[2].p = cnonce;
		p[2].n = strlen(cnonce);
		if ((r = hash_hex(alg, p, 3, sha1)) != 0)
			goto out;
		key = sha1;
	}
	if ((r = ha2_make(alg, qop, method, uri, body, bodylen, ha2)) != 0)
		goto out;
	p[0].p = key;
	p[0].n = strlen(key);
	p[1].p = nonce;
	p[1].n = strlen(nonce);
	if (qop == NULL) {
		p[2].p = ha2;
		p[2].n = strlen(ha2);
		r = hash_hex(alg, p, 3, out);
		goto out;
	}
	p[2].p = nc;
	p[2].n = strlen(nc);
	p[3].p = cnonce;
	p[3].n = strlen(cnonce);
	p[4].p = qop;
	p[4].n = strlen(qop);
	p[5].p = ha2;
	p[5].n = strlen(ha2);
	r = hash_hex(alg, p, 6, out);
out:
	OPENSSL_cleanse(sha1, sizeof(sha1));
	return r;
}

/*
 * 1 if the NUL-terminated a and b are equal, else 0.  Equal-length
 * strings compare in constant time; the lengths themselves are not
 * secret.
 */
int
digest_equal(const char *a, const char *b)
{
	size_t	 n;

	if (a == NULL || b == NULL)
		return 0;
	if ((n = strlen(a)) != strlen(b))
		return 0;
	return CRYPTO_memcmp(a, b, n) == 0;
}

/* ---- header value lexer ---------------------------------------------- */

static int
is_lws(uint8_t ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

/* RFC 3261 25.1 token characters. */
static int
is_tchar(uint8_t ch)
{
	if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	    (ch >= '0' && ch <= '9'))
		return 1;
	return ch != '\0' && strchr("-.!%*_+`'~", ch) != NULL;
}

/* A byte allowed inside a value: HTAB, printable, or UTF-8 (>= 0x80). */
static int
is_vchar(uint8_t ch)
{
	return ch == '\t' || (ch >= 0x20 && ch != 0x7f);
}

static void
skip_lws(struct cursor *c)
{
	while (cur_left(c) > 0 && is_lws(cur_peek_u8(c)))
		(void)cur_u8(c);
}

/*
 * Read a token; copy at most bufsz - 1 bytes of it to buf (always
 * NUL-terminated).  Returns its full length, 0 if none.
 */
static size_t
read_token(struct cursor *c, char *buf, size_t bufsz)
{
	size_t	 n = 0;
	uint8_t	 ch;

	while (cur_left(c) > 0 && is_tchar(cur_peek_u8(c))) {
		ch = cur_u8(c);
		if (n < bufsz - 1)
			buf[n] = (char)ch;
		n++;
	}
	buf[n < bufsz - 1 ? n : bufsz - 1] = '\0';
	return n;
}

/*
 * Read a quoted-string (the cursor is on its DQUOTE) and unescape it
 * into buf as read_token does.  Returns 0 and *lenp (full unescaped
 * length), or -1 for an unterminated string or a control character.
 */
static int
read_quoted(struct cursor *c, char *buf, size_t bufsz, size_t *lenp)
{
	size_t	 n = 0;
	uint8_t	 ch;

	(void)cur_u8(c);
	for (;;) {
		if (cur_left(c) == 0)
			return -1;
		ch = cur_u8(c);
		if (ch == '"')
			break;
		if (ch == '\\') {
			if (cur_left(c) == 0)
				return -1;
			ch = cur_u8(c);
		}
		if (!is_vchar(ch))
			return -1;
		if (n < bufsz - 1)
			buf[n] = (char)ch;
		n++;
	}
	buf[n < bufsz - 1 ? n : bufsz - 1] = '\0';
	*lenp = n;
	return cur_ok(c) ? 0 : -1;
}

/*
 * One parameter: its lower-case-insensitive name, its value (unescaped,
 * NUL-terminated, truncated to the lexer's buffer when vlen says more),
 * whether it was quoted.
 */
struct param {
	const char	*name;
	const char	*val;
	size_t		 vlen;
	int		 quoted;
};

typedef int (*param_fn)(void *, const struct param *);

/*
 * Walk the header value s (len bytes) of "what" ("Authorization",
 * "WWW-Authenticate"), calling fn for each parameter whose name fits
 * PNAME_MAX.  Returns 0, fn's error, UC_ERR_FORMAT (syntax, size),
 * UC_ERR_UNSUPPORTED (another scheme).
 */
static int
params_walk(const char *s, size_t len, const char *what, param_fn fn,
    void *arg)
{
	struct cursor	 c;
	struct param	 p;
	char		 name[PNAME_MAX + 1], val[DIGEST_URI_MAX];
	size_t		 nlen;
	int		 r;

	if (s == NULL)
		return uc_fail(UC_ERR_FORMAT, "%s: no value", what);
	if (len > DIGEST_VALUE_MAX)
		return uc_fail(UC_ERR_FORMAT, "%s: value longer than %d bytes",
		    what, DIGEST_VALUE_MAX);
	cur_init(&c, (const uint8_t *)s, len);
	skip_lws(&c);
	if ((nlen = read_token(&c, name, sizeof(name))) == 0)
		return uc_fail(UC_ERR_FORMAT, "%s: no authentication scheme",
		    what);
	if (nlen != 6 || strcasecmp(name, "Digest") != 0)
		return uc_fail(UC_ERR_UNSUPPORTED, "%s: scheme is not Digest "
		    "(spec 2.6 step 1)", what);
	if (cur_left(&c) > 0 && !is_lws(cur_peek_u8(&c)))
		return uc_fail(UC_ERR_FORMAT, "%s: no space after Digest",
		    what);
	for (;;) {
		skip_lws(&c);
		if (cur_left(&c) == 0)
			break;
		if (cur_peek_u8(&c) == ',') {
			(void)cur_u8(&c);
			continue;
		}
		if ((nlen = read_token(&c, name, sizeof(name))) == 0)
			return uc_fail(UC_ERR_FORMAT, "%s: parameter name "
			    "expected at offset %zu", what, cur_offset(&c));
		skip_lws(&c);
		if (cur_left(&c) == 0 || cur_u8(&c) != '=')
			return uc_fail(UC_ERR_FORMAT, "%s: '=' expected at "
			    "offset %zu", what, cur_offset(&c));
		skip_lws(&c);
		p.quoted = cur_left(&c) > 0 && cur_peek_u8(&c) == '"';
		if (p.quoted) {
			if (read_quoted(&c, val, sizeof(val), &p.vlen) != 0)
				return uc_fail(UC_ERR_FORMAT, "%s: bad quoted "
				    "string before offset %zu", what,
				    cur_offset(&c));
		} else if ((p.vlen = read_token(&c, val, sizeof(val))) == 0)
			return uc_fail(UC_ERR_FORMAT, "%s: value expected at "
			    "offset %zu", what, cur_offset(&c));
		p.name = name;
		p.val = val;
		if (nlen <= PNAME_MAX && (r = fn(arg, &p)) != 0)
			return r;
		skip_lws(&c);
		if (cur_left(&c) == 0)
			break;
		if (cur_u8(&c) != ',')
			return uc_fail(UC_ERR_FORMAT, "%s: ',' expected at "
			    "offset %zu", what, cur_offset(&c) - 1);
	}
	return cur_ok(&c) ? 0 : uc_fail(UC_ERR_FORMAT, "%s: truncated", what);
}

/* Index of name in names[n], or -1. */
static int
name_find(const char *const *names, int n, const char *name)
{
	int	 i;

	for (i = 0; i < n; i++)
		if (strcasecmp(names[i], name) == 0)
			return i;
	return -1;
}

/* Mark parameter i seen; a second one is an error (spec 2.6 step 1). */
static int
seen_once(unsigned *seen, int i, const char *what, const char *name)
{
	if (*seen & (1u << i))
		return uc_fail(UC_ERR_FORMAT, "%s: duplicate parameter %s",
		    what, name);
	*seen |= 1u << i;
	return 0;
}

/* Copy a value into a field of dstsz bytes, refusing over-long ones. */
static int
field_set(char *dst, size_t dstsz, const struct param *p, const char *what,
    const char *name)
{
	if (p->vlen >= dstsz)
		return uc_fail(UC_ERR_FORMAT, "%s: parameter %s longer than "
		    "%zu bytes", what, name, dstsz - 1);
	memcpy(dst, p->val, p->vlen);
	dst[p->vlen] = '\0';
	return 0;
}

/* 1 if s (n bytes) is a non-empty token. */
static int
all_tchar(const char *s, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (!is_tchar((uint8_t)s[i]))
			return 0;
	return n > 0;
}

static int
hexval(uint8_t ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* "true" / "false", any case: 0 and *v, else -1. */
static int
bool_parse(const struct param *p, int *v)
{
	if (p->vlen == 4 && strcasecmp(p->val, "true") == 0)
		*v = 1;
	else if (p->vlen == 5 && strcasecmp(p->val, "false") == 0)
		*v = 0;
	else
		return -1;
	return 0;
}

/* ---- credentials ----------------------------------------------------- */

enum {
	CP_USERNAME, CP_REALM, CP_NONCE, CP_URI, CP_RESPONSE, CP_CNONCE,
	CP_OPAQUE, CP_QOP, CP_NC, CP_ALGORITHM, CP_USERHASH, CP__MAX
};

static const char *const creds_names[CP__MAX] = {
	"username", "realm", "nonce", "uri", "response", "cnonce",
	"opaque", "qop", "nc", "algorithm", "userhash",
};

struct creds_ctx {
	struct digest_creds	*c;
	unsigned		 seen;
};

#define CREDS	"Authorization"

/* nc: exactly 8 hex digits (spec 2.3). */
static int
nc_parse(struct digest_creds *c, const struct param *p)
{
	uint32_t	 v = 0;
	size_t		 i;
	int		 d;

	if (p->vlen != HEXDIG_LEN)
		goto bad;
	for (i = 0; i < HEXDIG_LEN; i++) {
		if ((d = hexval((uint8_t)p->val[i])) < 0)
			goto bad;
		v = v << 4 | (uint32_t)d;
	}
	memcpy(c->nc_text, p->val, HEXDIG_LEN + 1);
	c->nc = v;
	return 0;
bad:
	return uc_fail(UC_ERR_FORMAT, CREDS ": nc is not 8 hex digits "
	    "(spec 2.3)");
}

static int
creds_param(void *arg, const struct param *p)
{
	struct creds_ctx	*x = arg;
	struct digest_creds	*c = x->c;
	const char		*nm;
	int			 i, r;

	if ((i = name_find(creds_names, CP__MAX, p->name)) < 0)
		return 0;
	nm = creds_names[i];
	if ((r = seen_once(&x->seen, i, CREDS, nm)) != 0)
		return r;
	switch (i) {
	case CP_USERNAME:
		return field_set(c->username, sizeof(c->username), p, CREDS, nm);
	case CP_REALM:
		return field_set(c->realm, sizeof(c->realm), p, CREDS, nm);
	case CP_NONCE:
		return field_set(c->nonce, sizeof(c->nonce), p, CREDS, nm);
	case CP_URI:
		return field_set(c->uri, sizeof(c->uri), p, CREDS, nm);
	case CP_RESPONSE:
		return field_set(c->response, sizeof(c->response), p, CREDS,
		    nm);
	case CP_CNONCE:
		return field_set(c->cnonce, sizeof(c->cnonce), p, CREDS, nm);
	case CP_OPAQUE:
		c->has_opaque = 1;
		return field_set(c->opaque, sizeof(c->opaque), p, CREDS, nm);
	case CP_QOP:
		if (!all_tchar(p->val, p->vlen))
			return uc_fail(UC_ERR_FORMAT, CREDS ": qop is not a "
			    "token");
		return field_set(c->qop, sizeof(c->qop), p, CREDS, nm);
	case CP_NC:
		return nc_parse(c, p);
	case CP_ALGORITHM:
		c->has_alg = 1;
		return digest_alg_parse(p->val, p->vlen, &c->alg, &c->sess);
	case CP_USERHASH:
		if (bool_parse(p, &c->userhash) != 0)
			return uc_fail(UC_ERR_FORMAT, CREDS ": userhash is "
			    "neither true nor false");
		return 0;
	}
	return uc_fail(UC_ERR_INTERNAL, CREDS ": parameter %d", i);
}

/*
 * Parse an Authorization / Proxy-Authorization value of len bytes into
 * *c (zeroed first).  Requires username, realm, nonce, uri and response,
 * plus cnonce and nc when qop is present (spec 2.6 step 1).  Returns 0;
 * UC_ERR_FORMAT for bad syntax, a duplicate parameter, an over-long value
 * or a bad nc; UC_ERR_UNSUPPORTED for another scheme or an unknown
 * algorithm.  Unknown parameters are ignored.
 */
int
digest_creds_parse(const char *s, size_t len, struct digest_creds *c)
{
	static const int	 need[] = { CP_USERNAME, CP_REALM, CP_NONCE,
	    CP_URI, CP_RESPONSE };
	struct creds_ctx	 x;
	size_t			 i;
	int			 r;

	memset(c, 0, sizeof(*c));
	c->alg = DIGEST_MD5;
	x.c = c;
	x.seen = 0;
	if ((r = params_walk(s, len, CREDS, creds_param, &x)) != 0)
		goto fail;
	for (i = 0; i < sizeof(need) / sizeof(need[0]); i++)
		if (!(x.seen & (1u << need[i]))) {
			r = uc_fail(UC_ERR_FORMAT, CREDS ": no %s parameter "
			    "(spec 2.6 step 1)", creds_names[need[i]]);
			goto fail;
		}
	if ((x.seen & (1u << CP_QOP)) &&
	    (!(x.seen & (1u << CP_CNONCE)) || !(x.seen & (1u << CP_NC)))) {
		r = uc_fail(UC_ERR_FORMAT, CREDS ": qop without cnonce and nc "
		    "(spec 2.6 step 1)");
		goto fail;
	}
	return 0;
fail:
	OPENSSL_cleanse(c, sizeof(*c));
	c->alg = DIGEST_MD5;
	return r;
}

/* ---- formatting ------------------------------------------------------ */

struct fmt {
	char	*buf;
	size_t	 sz, len;
	int	 err;		/* 0, or the first UC_ERR_* */
	int	 first;		/* no parameter written yet */
};

static void
fmt_raw(struct fmt *f, const char *s, size_t n)
{
	if (f->err)
		return;
	if (n >= f->sz - f->len) {
		f->err = UC_ERR_ARG;
		return;
	}
	memcpy(f->buf + f->len, s, n);
	f->len += n;
	f->buf[f->len] = '\0';
}

static void
fmt_name(struct fmt *f, const char *name)
{
	if (!f->first)
		fmt_raw(f, ", ", 2);
	f->first = 0;
	fmt_raw(f, name, strlen(name));
	fmt_raw(f, "=", 1);
}

/* name="v" with '"' and '\' escaped; control characters refused. */
static void
fmt_quoted(struct fmt *f, const char *name, const char *v)
{
	fmt_name(f, name);
	fmt_raw(f, "\"", 1);
	for (; *v != '\0'; v++) {
		if (!is_vchar((uint8_t)*v)) {
			if (!f->err)
				f->err = UC_ERR_FORMAT;
			return;
		}
		if (*v == '"' || *v == '\\')
			fmt_raw(f, "\\", 1);
		fmt_raw(f, v, 1);
	}
	fmt_raw(f, "\"", 1);
}

/* name=token; a value that is no token is refused. */
static void
fmt_token(struct fmt *f, const char *name, const char *v)
{
	if (!all_tchar(v, strlen(v))) {
		if (!f->err)
			f->err = UC_ERR_FORMAT;
		return;
	}
	fmt_name(f, name);
	fmt_raw(f, v, strlen(v));
}

static void
fmt_init(struct fmt *f, char *buf, size_t sz)
{
	f->buf = buf;
	f->sz = sz;
	f->len = 0;
	f->err = sz == 0 ? UC_ERR_ARG : 0;
	f->first = 1;
	if (sz > 0)
		buf[0] = '\0';
	fmt_raw(f, "Digest ", 7);
}

static int
fmt_done(struct fmt *f, const char *what)
{
	if (f->err == 0)
		return 0;
	if (f->sz > 0)
		f->buf[0] = '\0';
	if (f->err == UC_ERR_ARG)
		return uc_fail(UC_ERR_ARG, "%s: %zu-byte buffer too small",
		    what, f->sz);
	return uc_fail(UC_ERR_ARG, "%s: a value holds a control character "
	    "or a qop/nc is no token", what);
}

/*
 * Write c as an Authorization value into buf (bufsz bytes, NUL-
 * terminated) in the spec 2.3 order.  algorithm only if has_alg, opaque
 * only if has_opaque, cnonce if set or qop is, qop if set, nc (nc_text,
 * else nc in hex) if qop or nc_text is set.  Returns 0 or UC_ERR_ARG
 * (buffer too small, control characters in a value, a bad alg or
 * nc_text).
 */
int
digest_creds_format(const struct digest_creds *c, char *buf, size_t bufsz)
{
	struct fmt	 f;
	const char	*alg;
	char		 nc[HEXDIG_LEN + 1];
	size_t		 i;

	fmt_init(&f, buf, bufsz);
	fmt_quoted(&f, "username", c->username);
	fmt_quoted(&f, "realm", c->realm);
	fmt_quoted(&f, "nonce", c->nonce);
	fmt_quoted(&f, "uri", c->uri);
	fmt_quoted(&f, "response", c->response);
	if (c->has_alg) {
		if ((alg = digest_alg_name(c->alg, c->sess)) == NULL) {
			if (!f.err)
				f.err = UC_ERR_FORMAT;
		} else
			fmt_token(&f, "algorithm", alg);
	}
	if (c->cnonce[0] != '\0' || c->qop[0] != '\0')
		fmt_quoted(&f, "cnonce", c->cnonce);
	if (c->has_opaque)
		fmt_quoted(&f, "opaque", c->opaque);
	if (c->qop[0] != '\0')
		fmt_token(&f, "qop", c->qop);
	if (c->qop[0] != '\0' || c->nc_text[0] != '\0') {
		if (c->nc_text[0] == '\0')
			snprintf(nc, sizeof(nc), "%08x", (unsigned)c->nc);
		else
			memcpy(nc, c->nc_text, sizeof(nc));
		for (i = 0; i < HEXDIG_LEN; i++)
			if (hexval((uint8_t)nc[i]) < 0 && !f.err)
				f.err = UC_ERR_FORMAT;
		if (nc[HEXDIG_LEN] != '\0' && !f.err)
			f.err = UC_ERR_FORMAT;
		fmt_token(&f, "nc", nc);
	}
	if (c->userhash)
		fmt_token(&f, "userhash", "true");
	return fmt_done(&f, "digest_creds_format");
}

/* ---- challenges ------------------------------------------------------ */

enum {
	HP_REALM, HP_NONCE, HP_OPAQUE, HP_ALGORITHM, HP_QOP, HP_STALE, HP__MAX
};

static const char *const chal_names[HP__MAX] = {
	"realm", "nonce", "opaque", "algorithm", "qop", "stale",
};

struct chal_ctx {
	struct digest_challenge	*h;
	unsigned		 seen;
};

#define CHAL	"WWW-Authenticate"

/* qop-options: a comma list of tokens; auth and auth-int noted. */
static int
qop_list(struct digest_challenge *h, const struct param *p)
{
	const char	*s = p->val, *e;
	size_t		 n;

	if (p->vlen >= DIGEST_URI_MAX)
		return uc_fail(UC_ERR_FORMAT, CHAL ": qop longer than %d bytes",
		    DIGEST_URI_MAX - 1);
	while (*s != '\0') {
		while (*s != '\0' && (is_lws((uint8_t)*s) || *s == ','))
			s++;
		for (e = s; *e != '\0' && !is_lws((uint8_t)*e) && *e != ',';)
			e++;
		if ((n = (size_t)(e - s)) == 0)
			break;
		if (!all_tchar(s, n))
			return uc_fail(UC_ERR_FORMAT, CHAL ": qop option is "
			    "not a token");
		if (n == 4 && strncasecmp(s, "auth", 4) == 0)
			h->qop_auth = 1;
		else if (n == 8 && strncasecmp(s, "auth-int", 8) == 0)
			h->qop_auth_int = 1;
		s = e;
	}
	return 0;
}

static int
chal_param(void *arg, const struct param *p)
{
	struct chal_ctx		*x = arg;
	struct digest_challenge	*h = x->h;
	const char		*nm;
	int			 i, r;

	if ((i = name_find(chal_names, HP__MAX, p->name)) < 0)
		return 0;
	nm = chal_names[i];
	if ((r = seen_once(&x->seen, i, CHAL, nm)) != 0)
		return r;
	switch (i) {
	case HP_REALM:
		return field_set(h->realm, sizeof(h->realm), p, CHAL, nm);
	case HP_NONCE:
		return field_set(h->nonce, sizeof(h->nonce), p, CHAL, nm);
	case HP_OPAQUE:
		return field_set(h->opaque, sizeof(h->opaque), p, CHAL, nm);
	case HP_ALGORITHM:
		return digest_alg_parse(p->val, p->vlen, &h->alg, &h->sess);
	case HP_QOP:
		return qop_list(h, p);
	case HP_STALE:
		/* RFC 7616 3.3: anything but true means false. */
		if (bool_parse(p, &h->stale) != 0)
			h->stale = 0;
		return 0;
	}
	return uc_fail(UC_ERR_INTERNAL, CHAL ": parameter %d", i);
}

/*
 * Parse a WWW-Authenticate / Proxy-Authenticate value of len bytes into
 * *h (zeroed first; alg MD5 if absent).  Requires realm and nonce.
 * Returns 0; UC_ERR_FORMAT (syntax, duplicates, over-long values);
 * UC_ERR_UNSUPPORTED (another scheme, an unknown algorithm: a UAC skips
 * such a challenge).  Unknown parameters and qop options are ignored.
 */
int
digest_challenge_parse(const char *s, size_t len, struct digest_challenge *h)
{
	struct chal_ctx	 x;
	int		 r;

	memset(h, 0, sizeof(*h));
	h->alg = DIGEST_MD5;
	x.h = h;
	x.seen = 0;
	if ((r = params_walk(s, len, CHAL, chal_param, &x)) == 0 &&
	    (!(x.seen & (1u << HP_REALM)) || !(x.seen & (1u << HP_NONCE))))
		r = uc_fail(UC_ERR_FORMAT, CHAL ": no realm or no nonce "
		    "(spec 2.2)");
	if (r != 0) {
		memset(h, 0, sizeof(*h));
		h->alg = DIGEST_MD5;
	}
	return r;
}

/*
 * Write h as a WWW-Authenticate value into buf (bufsz bytes) in the
 * spec 2.2 order: realm, nonce, opaque (if not ""), algorithm (always),
 * qop (if any option is set), stale=true (if set).  Returns 0 or
 * UC_ERR_ARG (buffer too small, control characters, bad alg).
 */
int
digest_challenge_format(const struct digest_challenge *h, char *buf,
    size_t bufsz)
{
	struct fmt	 f;
	const char	*alg;

	fmt_init(&f, buf, bufsz);
	fmt_quoted(&f, "realm", h->realm);
	fmt_quoted(&f, "nonce", h->nonce);
	if (h->opaque[0] != '\0')
		fmt_quoted(&f, "opaque", h->opaque);
	if ((alg = digest_alg_name(h->alg, h->sess)) == NULL) {
		if (!f.err)
			f.err = UC_ERR_FORMAT;
	} else
		fmt_token(&f, "algorithm", alg);
	if (h->qop_auth && h->qop_auth_int)
		fmt_quoted(&f, "qop", "auth,auth-int");
	else if (h->qop_auth)
		fmt_quoted(&f, "qop", "auth");
	else if (h->qop_auth_int)
		fmt_quoted(&f, "qop", "auth-int");
	if (h->stale)
		fmt_token(&f, "stale", "true");
	return fmt_done(&f, "digest_challenge_format");
}

/* ---- nonces (spec 2.5) ----------------------------------------------- */

static const char	 b64url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* base64url without padding of 32 bytes into 43 characters + NUL. */
static void
b64url_encode(const uint8_t in[NONCE_RAW], char out[DIGEST_NONCE_LEN + 1])
{
	uint32_t	 v;
	size_t		 i, o = 0;

	for (i = 0; i + 3 <= NONCE_RAW; i += 3) {
		v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		out[o++] = b64url[v >> 18 & 63];
		out[o++] = b64url[v >> 12 & 63];
		out[o++] = b64url[v >> 6 & 63];
		out[o++] = b64url[v & 63];
	}
	/* 32 = 30 + 2: two bytes left, three characters. */
	v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
	out[o++] = b64url[v >> 18 & 63];
	out[o++] = b64url[v >> 12 & 63];
	out[o++] = b64url[v >> 6 & 63];
	out[o] = '\0';
}

static int
b64url_val(uint8_t ch)
{
	const char	*p;

	if (ch == '\0' || (p = strchr(b64url, ch)) == NULL)
		return -1;
	return (int)(p - b64url);
}

/* Strict decode of exactly 43 characters (canonical last character). */
static int
b64url_decode(const char *s, uint8_t out[NONCE_RAW])
{
	struct cursor	 c;
	uint32_t	 v = 0;
	size_t		 i, o = 0;
	int		 d;

	cur_init(&c, (const uint8_t *)s, DIGEST_NONCE_LEN);
	for (i = 0; i < DIGEST_NONCE_LEN; i++) {
		if ((d = b64url_val(cur_u8(&c))) < 0)
			return -1;
		v = v << 6 | (uint32_t)d;
		if (i % 4 == 3) {
			out[o++] = (uint8_t)(v >> 16);
			out[o++] = (uint8_t)(v >> 8);
			out[o++] = (uint8_t)v;
			v = 0;
		}
	}
	/* 3 characters left over = 18 bits: 16 data, 2 must be zero. */
	if ((v & 3) != 0 || !cur_ok(&c))
		return -1;
	out[o++] = (uint8_t)(v >> 10);
	out[o++] = (uint8_t)(v >> 2);
	return o == NONCE_RAW ? 0 : -1;
}

/* HMAC-SHA256(key, raw[0..15] || realm ":" algname) (spec 2.5). */
static int
nonce_mac(const uint8_t key[DIGEST_KEY_LEN], const uint8_t *raw,
    const char *realm, const char *algname, uint8_t mac[32])
{
	EVP_MAC_CTX	*ctx = NULL;
	OSSL_PARAM	 params[2];
	size_t		 n = 0;
	int		 r = UC_ERR_CRYPTO;

	if (pthread_once(&evp_once, evp_fetch) != 0 || evp_hmac == NULL)
		return uc_fail_ssl(UC_ERR_CRYPTO, "digest: HMAC not available");
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
	    (char *)"SHA256", 0);
	params[1] = OSSL_PARAM_construct_end();
	if ((ctx = EVP_MAC_CTX_new(evp_hmac)) == NULL ||
	    EVP_MAC_init(ctx, key, DIGEST_KEY_LEN, params) != 1 ||
	    EVP_MAC_update(ctx, raw, 16) != 1 ||
	    EVP_MAC_update(ctx, (const uint8_t *)realm, strlen(realm)) != 1 ||
	    EVP_MAC_update(ctx, (const uint8_t *)":", 1) != 1 ||
	    EVP_MAC_update(ctx, (const uint8_t *)algname,
	    strlen(algname)) != 1 ||
	    EVP_MAC_final(ctx, mac, &n, 32) != 1 || n != 32) {
		r = uc_fail_ssl(r, "digest: nonce HMAC-SHA256");
		goto out;
	}
	r = 0;
out:
	EVP_MAC_CTX_free(ctx);
	return r;
}

/*
 * Make the nonce for time ts, 8 random bytes rnd, realm and algorithm
 * (alg, sess) under key (spec 2.5) into out (43 characters + NUL).
 * Returns 0, UC_ERR_ARG, UC_ERR_CRYPTO.
 */
int
digest_nonce_make(const uint8_t key[DIGEST_KEY_LEN], int64_t ts,
    const uint8_t rnd[8], const char *realm, int alg, int sess,
    char out[DIGEST_NONCE_LEN + 1])
{
	uint8_t		 raw[NONCE_RAW], mac[32];
	uint64_t	 u = (uint64_t)ts;
	const char	*algname;
	int		 i, r;

	out[0] = '\0';
	if (key == NULL || rnd == NULL || realm == NULL ||
	    (algname = digest_alg_name(alg, sess)) == NULL)
		return uc_fail(UC_ERR_ARG, "digest_nonce_make: bad argument");
	for (i = 0; i < 8; i++)
		raw[i] = (uint8_t)(u >> (56 - 8 * i));
	memcpy(raw + 8, rnd, 8);
	if ((r = nonce_mac(key, raw, realm, algname, mac)) != 0)
		goto out;
	memcpy(raw + 16, mac, NONCE_MAC);
	b64url_encode(raw, out);
out:
	OPENSSL_cleanse(mac, sizeof(mac));
	return r;
}

/*
 * Check that nonce was made by digest_nonce_make with key for realm and
 * (alg, sess); the MAC is compared in constant time.  Returns 0 and *ts
 * (the nonce's time; the caller judges its age), UC_ERR_SIGNATURE when
 * the nonce is malformed or the MAC does not hold, UC_ERR_ARG,
 * UC_ERR_CRYPTO.
 */
int
digest_nonce_check(const uint8_t key[DIGEST_KEY_LEN], const char *nonce,
    const char *realm, int alg, int sess, int64_t *ts)
{
	uint8_t		 raw[NONCE_RAW], mac[32];
	uint64_t	 u = 0;
	const char	*algname;
	int		 i, r;

	*ts = 0;
	if (key == NULL || nonce == NULL || realm == NULL ||
	    (algname = digest_alg_name(alg, sess)) == NULL)
		return uc_fail(UC_ERR_ARG, "digest_nonce_check: bad argument");
	if (strnlen(nonce, DIGEST_NONCE_LEN + 1) != DIGEST_NONCE_LEN ||
	    b64url_decode(nonce, raw) != 0)
		return uc_fail(UC_ERR_SIGNATURE, "digest: nonce is not 43 "
		    "base64url characters (spec 2.5)");
	if ((r = nonce_mac(key, raw, realm, algname, mac)) != 0)
		goto out;
	if (CRYPTO_memcmp(mac, raw + 16, NONCE_MAC) != 0) {
		r = uc_fail(UC_ERR_SIGNATURE, "digest: nonce MAC does not "
		    "verify for this realm and %s (spec 2.6 step 4)", algname);
		goto out;
	}
	for (i = 0; i < 8; i++)
		u = u << 8 | raw[i];
	*ts = (int64_t)u;
	r = 0;
out:
	OPENSSL_cleanse(mac, sizeof(mac));
	return r;
}

/*
 * The time of a nonce that decodes (43 base64url characters), without
 * checking its MAC: only for telling a client that an old nonce is
 * stale after its key was dropped.  Returns 0 and *ts, or
 * UC_ERR_SIGNATURE for a malformed nonce.
 */
int
digest_nonce_time(const char *nonce, int64_t *ts)
{
	uint8_t		 raw[NONCE_RAW];
	uint64_t	 u = 0;
	int		 i;

	*ts = 0;
	if (nonce == NULL ||
	    strnlen(nonce, DIGEST_NONCE_LEN + 1) != DIGEST_NONCE_LEN ||
	    b64url_decode(nonce, raw) != 0)
		return uc_fail(UC_ERR_SIGNATURE, "digest: nonce is not 43 "
		    "base64url characters (spec 2.5)");
	for (i = 0; i < 8; i++)
		u = u << 8 | raw[i];
	*ts = (int64_t)u;
	return 0;
}

/* ---- nonce-count table (spec 2.6 step 8) ----------------------------- */

/*
 * A chained hash table over a fixed pool of entries, plus a binary
 * min-heap on expiry so the oldest entry is found in O(1) and dropped in
 * O(log n).  Keys are nonces of at most DIGEST_NONCE_LEN characters (the
 * only ones digest_nonce_check passes); the hash is seeded per table.
 *
 * The watermark (nc_table_use): the highest nonce time of any entry
 * dropped so far, by expiry or by eviction.  A nonce that is not in the
 * table and not newer than the watermark may have been used before, so
 * it is refused as stale; a newer one cannot have been (every dropped
 * entry is at or below the watermark), so it is a first use.  Times come
 * from the nonce itself (MAC-protected), so a nonce keeps its time
 * across uses whatever validity the caller applies, and a clock that
 * steps back cannot revive a dropped nonce.
 */
#define NC_NONE	UINT32_MAX

struct nc_entry {
	char		 key[DIGEST_NONCE_LEN + 1];
	uint32_t	 last;		/* highest nc accepted */
	uint32_t	 next;		/* bucket chain, NC_NONE ends it */
	uint32_t	 heap;		/* index in the heap */
	int64_t		 expires;
	int64_t		 ts;		/* nonce time; INT64_MIN: check() */
};

struct nc_table {
	struct nc_entry	*ent;		/* max entries */
	uint32_t	*bucket;	/* nbucket heads */
	uint32_t	*heap;		/* entry indices, min expiry first */
	uint32_t	 free;		/* free list through next */
	size_t		 max, count, nbucket;
	uint64_t	 seed;
	int64_t		 wm;		/* watermark, INT64_MIN: none */
};

/*
 * A table for at most max nonces (1 .. 2^24); NULL and the detail set on
 * bad max or no memory.  Free with nc_table_free.
 */
struct nc_table *
nc_table_new(size_t max)
{
	struct nc_table	*t;
	size_t		 i;

	if (max == 0 || max > NC_TABLE_MAX) {
		uc_fail(UC_ERR_ARG, "nc_table_new: size %zu not in 1..%u", max,
		    NC_TABLE_MAX);
		return NULL;
	}
	if ((t = calloc(1, sizeof(*t))) == NULL)
		goto nomem;
	for (t->nbucket = 16; t->nbucket < max; t->nbucket *= 2)
		;
	t->max = max;
	t->wm = INT64_MIN;
	t->ent = calloc(max, sizeof(*t->ent));
	t->bucket = calloc(t->nbucket, sizeof(*t->bucket));
	t->heap = calloc(max, sizeof(*t->heap));
	if (t->ent == NULL || t->bucket == NULL || t->heap == NULL)
		goto nomem;
	for (i = 0; i < t->nbucket; i++)
		t->bucket[i] = NC_NONE;
	for (i = 0; i < max; i++)
		t->ent[i].next = i + 1 < max ? (uint32_t)(i + 1) : NC_NONE;
	t->free = 0;
	if (RAND_bytes((uint8_t *)&t->seed, sizeof(t->seed)) != 1) {
		uc_fail_ssl(UC_ERR_CRYPTO, "nc_table_new: random seed");
		nc_table_free(t);
		return NULL;
	}
	return t;
nomem:
	uc_fail(UC_ERR_ALLOC, "nc_table_new: %zu entries", max);
	nc_table_free(t);
	return NULL;
}

void
nc_table_free(struct nc_table *t)
{
	if (t == NULL)
		return;
	free(t->ent);
	free(t->bucket);
	free(t->heap);
	free(t);
}

/* The highest nonce time dropped so far, INT64_MIN if none. */
int64_t
nc_table_watermark(const struct nc_table *t)
{
	return t == NULL ? INT64_MIN : t->wm;
}

/* Entries held, live or not yet dropped. */
size_t
nc_table_count(const struct nc_table *t)
{
	return t == NULL ? 0 : t->count;
}

/* Seeded FNV-1a, finished with a 64-bit mix. */
static size_t
nc_hash(const struct nc_table *t, const char *key)
{
	uint64_t	 h = 0xcbf29ce484222325ULL ^ t->seed;

	for (; *key != '\0'; key++) {
		h ^= (uint8_t)*key;
		h *= 0x100000001b3ULL;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return (size_t)(h & (t->nbucket - 1));
}

static void
heap_swap(struct nc_table *t, size_t a, size_t b)
{
	uint32_t	 x = t->heap[a];

	t->heap[a] = t->heap[b];
	t->heap[b] = x;
	t->ent[t->heap[a]].heap = (uint32_t)a;
	t->ent[t->heap[b]].heap = (uint32_t)b;
}

static int64_t
heap_exp(const struct nc_table *t, size_t i)
{
	return t->ent[t->heap[i]].expires;
}

static void
heap_up(struct nc_table *t, size_t i)
{
	while (i > 0 && heap_exp(t, (i - 1) / 2) > heap_exp(t, i)) {
		heap_swap(t, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

static void
heap_down(struct nc_table *t, size_t i)
{
	size_t	 l, m;

	for (;;) {
		l = 2 * i + 1;
		m = i;
		if (l < t->count && heap_exp(t, l) < heap_exp(t, m))
			m = l;
		if (l + 1 < t->count && heap_exp(t, l + 1) < heap_exp(t, m))
			m = l + 1;
		if (m == i)
			return;
		heap_swap(t, i, m);
		i = m;
	}
}

/*
 * Unlink entry e from its bucket, the heap, and put it on the free list;
 * its nonce time raises the watermark.
 */
static void
nc_remove(struct nc_table *t, uint32_t e)
{
	uint32_t	*pp;
	size_t		 h = t->ent[e].heap, last = t->count - 1;

	if (t->ent[e].ts > t->wm)
		t->wm = t->ent[e].ts;

	for (pp = &t->bucket[nc_hash(t, t->ent[e].key)]; *pp != e;
	    pp = &t->ent[*pp].next)
		;
	*pp = t->ent[e].next;
	if (h != last) {
		heap_swap(t, h, last);
		t->count--;
		heap_down(t, h);
		heap_up(t, h);
	} else
		t->count--;
	t->ent[e].next = t->free;
	t->free = e;
}

/* Drop up to n entries expired at now, oldest first. */
static void
nc_expire(struct nc_table *t, int64_t now, size_t n)
{
	while (n-- > 0 && t->count > 0 && heap_exp(t, 0) <= now)
		nc_remove(t, t->heap[0]);
}

/*
 * The work of nc_table_check (evict 0: NC_FULL when full, no watermark)
 * and nc_table_use (evict 1).
 */
static int
nc_lookup(struct nc_table *t, const char *nonce, uint32_t nc, int64_t ts,
    int64_t now, int64_t expires, int evict)
{
	struct nc_entry	*e;
	uint32_t	 i;
	size_t		 h;

	if (t == NULL || nonce == NULL ||
	    strnlen(nonce, DIGEST_NONCE_LEN + 1) > DIGEST_NONCE_LEN)
		return NC_REPLAY;
	nc_expire(t, now, 2);
	h = nc_hash(t, nonce);
	for (i = t->bucket[h]; i != NC_NONE; i = t->ent[i].next) {
		e = &t->ent[i];
		if (strcmp(e->key, nonce) != 0)
			continue;
		if (e->expires <= now) {
			nc_remove(t, i);
			break;
		}
		if (nc <= e->last)
			return NC_REPLAY;
		e->last = nc;
		if (expires > e->expires) {
			e->expires = expires;
			heap_down(t, e->heap);
		}
		return NC_OK;
	}
	if (nc == 0)
		return NC_REPLAY;
	if (!evict) {
		if (expires <= now)
			return NC_REPLAY;
		if (t->count == t->max)
			nc_expire(t, now, t->max);
		if (t->count == t->max || t->free == NC_NONE)
			return NC_FULL;
	} else {
		if (expires <= now || ts <= t->wm)
			return NC_STALE;
		if (t->count == t->max)
			nc_expire(t, now, t->max);
		/* Still full: drop the entry that expires first. */
		if (t->count == t->max || t->free == NC_NONE)
			nc_remove(t, t->heap[0]);
	}
	i = t->free;
	e = &t->ent[i];
	t->free = e->next;
	memcpy(e->key, nonce, strlen(nonce) + 1);
	e->last = nc;
	e->expires = expires;
	e->ts = evict ? ts : INT64_MIN;
	e->next = t->bucket[h];
	t->bucket[h] = i;
	e->heap = (uint32_t)t->count;
	t->heap[t->count++] = i;
	heap_up(t, e->heap);
	return NC_OK;
}

/*
 * Accept nc for nonce if it is greater than the highest nc accepted for
 * that nonce so far (a new nonce starts at 0, so nc 0 is never
 * accepted), and remember the nonce until expires (an absolute time
 * like now; entries with expires <= now are gone).  expires must be the
 * nonce's own end of validity (its ts + validity): once an entry is
 * dropped the nonce must already be refused as stale.  Returns NC_OK,
 * NC_REPLAY (nc not greater; also for a nonce longer than
 * DIGEST_NONCE_LEN, which cannot be ours, and for a new nonce that
 * expires <= now), or NC_FULL (a new nonce and every entry still live:
 * spec 2.6 step 8 answers stale).  O(1) expected plus O(log n) heap
 * work; not thread-safe (one table per event loop).
 */
int
nc_table_check(struct nc_table *t, const char *nonce, uint32_t nc,
    int64_t now, int64_t expires)
{
	return nc_lookup(t, nonce, nc, INT64_MIN, now, expires, 0);
}

/*
 * As nc_table_check, for a nonce whose own time is ts, but never full:
 * a new nonce when the table is full evicts the entry that expires
 * first.  Returns NC_OK; NC_REPLAY (nc not greater than the last
 * accepted, nc 0, a nonce longer than DIGEST_NONCE_LEN); NC_STALE (not
 * in the table and ts <= the watermark, so it may have been used and
 * dropped; or expires <= now).  The caller answers NC_STALE with a fresh
 * nonce and stale=true.  A single-use nonce (legacy, no nc) passes nc 1.
 */
int
nc_table_use(struct nc_table *t, const char *nonce, uint32_t nc, int64_t ts,
    int64_t now, int64_t expires)
{
	if (ts == INT64_MIN)
		return NC_STALE;
	return nc_lookup(t, nonce, nc, ts, now, expires, 1);
}
