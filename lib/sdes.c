/*
 * SDES a=crypto values (RFC 4568 9.1, spec 6.1) and the SRTP suites of
 * spec 6.2 (RFC 4568 6.2, RFC 6188, RFC 7714).  Every value is untrusted
 * and read through the cursor; the inline key must decode to exactly the
 * suite's key plus salt, in canonical padded base64.
 *
 * Error codes (negative UC_ERR_*, detail via uc_errdetail()):
 *   UC_ERR_FORMAT	the value breaks the RFC 4568 grammar or spec 6.2
 *   UC_ERR_UNSUPPORTED	crypto suite not in enum srtp_suite
 *   UC_ERR_ARG		sdes_format/sdes_new_key given a bad suite/tag/buffer
 *   UC_ERR_CRYPTO	the CSPRNG failed
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "cursor.h"
#include "sdes.h"
#include "uerr.h"

#define SDES_TAG_DIGITS		9	/* RFC 4568 9.1: tag = 1*9DIGIT */
#define SDES_TAG_MAX		999999999U
#define SDES_SUITE_NAME_MAX	64	/* longest token we look at */
#define SDES_B64_MAX		64	/* base64 of SDES_KEYSALT_MAX bytes */
#define SDES_LIFETIME_DIGITS	19	/* decimal lifetime, before the cap */
#define SDES_LIFETIME_LOG2_MAX	48	/* spec 6.1: at most 2^48 packets */
#define SDES_MKI_DIGITS		40	/* 2^128 has 39 decimal digits */
#define SDES_MKI_LEN_MAX	128	/* RFC 4568 6.1: MKI length 1..128 */
#define SDES_WSH_MIN		64	/* RFC 4568 6.3.7 */
#define SDES_WSH_DIGITS		9	/* keeps WSH in an int */

struct suite {
	const char	*name;
	size_t		 key;		/* master key bytes */
	size_t		 salt;		/* master salt bytes */
	int		 rank;		/* spec 6.2 preference, lower better */
};

/* Indexed by enum srtp_suite. */
static const struct suite suites[SUITE__MAX] = {
	{ "AES_CM_128_HMAC_SHA1_80", 16, 14, 3 },
	{ "AES_CM_128_HMAC_SHA1_32", 16, 14, 5 },
	{ "AEAD_AES_128_GCM", 16, 12, 1 },
	{ "AEAD_AES_256_GCM", 32, 12, 0 },
	{ "AES_256_CM_HMAC_SHA1_80", 32, 14, 2 },
	{ "AES_256_CM_HMAC_SHA1_32", 32, 14, 4 },
};

static int
suite_ok(int s)
{
	return s >= 0 && s < SUITE__MAX;
}

/* Exact-case suite name of len bytes to enum srtp_suite, or -1. */
int
sdes_suite_parse(const char *s, size_t len)
{
	int	 i;

	for (i = 0; i < SUITE__MAX; i++)
		if (strlen(suites[i].name) == len &&
		    memcmp(suites[i].name, s, len) == 0)
			return i;
	return -1;
}

/* RFC 4568 name of a suite; "unknown" for a value outside the enum. */
const char *
sdes_suite_name(int s)
{
	return suite_ok(s) ? suites[s].name : "unknown";
}

/* Master key bytes of a suite (spec 6.2); 0 when unknown. */
size_t
sdes_suite_key_len(int s)
{
	return suite_ok(s) ? suites[s].key : 0;
}

/* Master salt bytes of a suite (spec 6.2); 0 when unknown. */
size_t
sdes_suite_salt_len(int s)
{
	return suite_ok(s) ? suites[s].salt : 0;
}

/*
 * Preference rank, lower is better: AEAD_AES_256_GCM, AEAD_AES_128_GCM,
 * AES_256_CM_HMAC_SHA1_80, AES_CM_128_HMAC_SHA1_80,
 * AES_256_CM_HMAC_SHA1_32, AES_CM_128_HMAC_SHA1_32 (GCM first on a tie,
 * spec 6.2).  Unknown suites rank after all of them (SUITE__MAX).
 */
int
sdes_suite_rank(int s)
{
	return suite_ok(s) ? suites[s].rank : SUITE__MAX;
}

/* Next byte without consuming it, or -1 at the end. */
static int
peek(const struct cursor *c)
{
	return cur_left(c) > 0 ? cur_peek_u8(c) : -1;
}

static int
is_wsp(int ch)
{
	return ch == ' ' || ch == '\t';
}

static int
is_digit(int ch)
{
	return ch >= '0' && ch <= '9';
}

/* Skip 1*WSP; returns the number of bytes skipped. */
static size_t
skip_wsp(struct cursor *c)
{
	size_t	 n = 0;

	while (is_wsp(peek(c))) {
		(void)cur_u8(c);
		n++;
	}
	return n;
}

/*
 * 1*maxdig DIGIT into *v (no sign, no space; saturates at UINT64_MAX);
 * 0, or -1 when no digit or more than maxdig digits.
 */
static int
read_digits(struct cursor *c, size_t maxdig, uint64_t *v)
{
	uint64_t	 d;
	size_t		 n = 0;

	*v = 0;
	while (is_digit(peek(c))) {
		if (++n > maxdig)
			return -1;
		d = (uint64_t)(cur_u8(c) - '0');
		*v = *v <= (UINT64_MAX - d) / 10 ? *v * 10 + d : UINT64_MAX;
	}
	return n == 0 ? -1 : 0;
}

/* Standard base64 alphabet value of ch, or -1. */
static int
b64_val(int ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	if (ch == '+')
		return 62;
	if (ch == '/')
		return 63;
	return -1;
}

/*
 * Strict RFC 4648 base64 of exactly want bytes: 4 * ceil(want / 3)
 * characters, '=' padding only at the end and as many as want needs,
 * unused bits zero (canonical).  in has n characters.  0 or -1.
 */
static int
b64_decode_exact(const char *in, size_t n, uint8_t *out, size_t want)
{
	uint32_t	 acc = 0;
	size_t		 i, o = 0, pad, data;
	int		 v;

	if (n != 4 * ((want + 2) / 3))
		return -1;
	pad = (3 - want % 3) % 3;
	data = n - pad;
	for (i = data; i < n; i++)
		if (in[i] != '=')
			return -1;
	for (i = 0; i < data; i++) {
		if ((v = b64_val((unsigned char)in[i])) < 0)
			return -1;
		acc = (acc << 6) | (uint32_t)v;
		if (i % 4 == 3) {
			out[o++] = (uint8_t)(acc >> 16);
			out[o++] = (uint8_t)(acc >> 8);
			out[o++] = (uint8_t)acc;
			acc = 0;
		}
	}
	if (pad == 2) {			/* two chars: 12 bits, 8 used */
		if ((acc & 0xf) != 0)
			return -1;
		out[o++] = (uint8_t)(acc >> 4);
	} else if (pad == 1) {		/* three chars: 18 bits, 16 used */
		if ((acc & 0x3) != 0)
			return -1;
		out[o++] = (uint8_t)(acc >> 10);
		out[o++] = (uint8_t)(acc >> 2);
	}
	OPENSSL_cleanse(&acc, sizeof(acc));
	return o == want ? 0 : -1;
}

/* Tag: 1*9DIGIT (RFC 4568 9.1). */
static int
parse_tag(struct cursor *c, struct sdes_crypto *sc)
{
	uint64_t	 v;

	if (read_digits(c, SDES_TAG_DIGITS, &v) != 0)
		return uc_fail(UC_ERR_FORMAT, "a=crypto tag at offset %zu: "
		    "not 1 to 9 digits (RFC 4568 9.1)", cur_offset(c));
	sc->tag = (uint32_t)v;
	return 0;
}

/* crypto-suite token up to the next WSP. */
static int
parse_suite(struct cursor *c, struct sdes_crypto *sc)
{
	const uint8_t	*p;
	size_t		 start = cur_offset(c), n = 0;
	int		 ch;

	while ((ch = peek(c)) > 0x20 && ch < 0x7f) {
		(void)cur_u8(c);
		n++;
	}
	if (n == 0)
		return uc_fail(UC_ERR_FORMAT, "a=crypto suite at offset %zu: "
		    "missing (RFC 4568 9.1)", start);
	p = c->base + start;
	if (n > SDES_SUITE_NAME_MAX ||
	    (sc->suite = sdes_suite_parse((const char *)p, n)) < 0)
		return uc_fail(UC_ERR_UNSUPPORTED, "a=crypto suite \"%.*s\" "
		    "at offset %zu: not supported (spec 6.2)",
		    (int)(n > SDES_SUITE_NAME_MAX ? SDES_SUITE_NAME_MAX : n),
		    (const char *)p, start);
	return 0;
}

/* The key-salt after "inline:", up to '|', ';', WSP or the end. */
static int
parse_keysalt(struct cursor *c, struct sdes_crypto *sc)
{
	const char	*p;
	size_t		 start = cur_offset(c), n = 0, want;
	int		 ch;

	while ((ch = peek(c)) >= 0 && ch != '|' && ch != ';' && !is_wsp(ch)) {
		(void)cur_u8(c);
		n++;
	}
	want = suites[sc->suite].key + suites[sc->suite].salt;
	p = (const char *)c->base + start;
	if (n != 4 * ((want + 2) / 3))
		return uc_fail(UC_ERR_FORMAT, "a=crypto inline key at offset "
		    "%zu: %zu base64 characters, %s needs %zu (spec 6.2)",
		    start, n, suites[sc->suite].name, 4 * ((want + 2) / 3));
	if (b64_decode_exact(p, n, sc->keysalt, want) != 0)
		return uc_fail(UC_ERR_FORMAT, "a=crypto inline key at offset "
		    "%zu: not canonical base64 of %zu bytes (RFC 4568 6.1, "
		    "spec 6.2)", start, want);
	sc->keysalt_len = want;
	return 0;
}

/* lifetime = ["2^"] 1*DIGIT, at most 2^48 and not 0 (spec 6.1). */
static int
parse_lifetime(struct cursor *c, struct sdes_crypto *sc)
{
	size_t		 start = cur_offset(c);
	uint64_t	 v;
	int		 pow2 = 0;

	if (peek(c) == '2' && cur_left(c) >= 2 && c->base[c->pos + 1] == '^') {
		(void)cur_skip(c, 2);
		pow2 = 1;
	}
	if (read_digits(c, SDES_LIFETIME_DIGITS, &v) != 0)
		return uc_fail(UC_ERR_FORMAT, "a=crypto lifetime at offset "
		    "%zu: not decimal or 2^n (RFC 4568 6.1)", start);
	if (pow2) {
		if (v > SDES_LIFETIME_LOG2_MAX)
			return uc_fail(UC_ERR_FORMAT, "a=crypto lifetime at "
			    "offset %zu: 2^%llu over 2^%d (spec 6.1)", start,
			    (unsigned long long)v, SDES_LIFETIME_LOG2_MAX);
		v = (uint64_t)1 << v;
	}
	if (v == 0 || v > (uint64_t)1 << SDES_LIFETIME_LOG2_MAX)
		return uc_fail(UC_ERR_FORMAT, "a=crypto lifetime at offset "
		    "%zu: outside 1..2^%d (spec 6.1)", start,
		    SDES_LIFETIME_LOG2_MAX);
	sc->has_lifetime = 1;
	sc->lifetime = v;
	return 0;
}

/* mki = 1*DIGIT ":" 1*3DIGIT, length 1..128 (RFC 4568 6.1). */
static int
parse_mki(struct cursor *c, struct sdes_crypto *sc)
{
	size_t		 start = cur_offset(c);
	uint64_t	 v, len;

	if (read_digits(c, SDES_MKI_DIGITS, &v) != 0 ||
	    peek(c) != ':' || cur_u8(c) != ':' ||
	    read_digits(c, 3, &len) != 0 ||
	    len < 1 || len > SDES_MKI_LEN_MAX)
		return uc_fail(UC_ERR_FORMAT, "a=crypto MKI at offset %zu: "
		    "not MKI:LENGTH with length 1..%d (RFC 4568 6.1)", start,
		    SDES_MKI_LEN_MAX);
	sc->has_mki = 1;
	return 0;
}

/* Does the '|' field at the cursor contain ':' (an MKI, not a lifetime)? */
static int
field_is_mki(const struct cursor *c)
{
	size_t	 i;
	int	 ch;

	for (i = c->pos; i < c->end; i++) {
		ch = c->base[i];
		if (ch == ':')
			return 1;
		if (ch == '|' || ch == ';' || is_wsp(ch))
			return 0;
	}
	return 0;
}

/* key-params: "inline:" key-salt ["|" lifetime] ["|" MKI ":" length] */
static int
parse_key_params(struct cursor *c, struct sdes_crypto *sc)
{
	const uint8_t	*p;
	size_t		 off = cur_offset(c);
	int		 r;

	if (cur_left(c) < 7 || (p = cur_bytes(c, 7)) == NULL ||
	    memcmp(p, "inline:", 7) != 0)
		return uc_fail(UC_ERR_FORMAT, "a=crypto key at offset %zu: "
		    "not \"inline:\" (RFC 4568 6.1)", off);
	if ((r = parse_keysalt(c, sc)) != 0)
		return r;
	if (peek(c) == '|') {
		(void)cur_u8(c);
		if (!field_is_mki(c)) {
			if ((r = parse_lifetime(c, sc)) != 0)
				return r;
			if (peek(c) == '|') {
				(void)cur_u8(c);
				if ((r = parse_mki(c, sc)) != 0)
					return r;
			}
		} else if ((r = parse_mki(c, sc)) != 0)
			return r;
	}
	if (peek(c) == ';')
		return uc_fail(UC_ERR_FORMAT, "a=crypto at offset %zu: several "
		    "keys (needs MKI, not used, spec 6.1)", cur_offset(c));
	if (peek(c) >= 0 && !is_wsp(peek(c)))
		return uc_fail(UC_ERR_FORMAT, "a=crypto at offset %zu: junk "
		    "after the key parameters (RFC 4568 9.1)", cur_offset(c));
	return 0;
}

/* One session parameter (1*VCHAR); WSH=n is checked and recorded. */
static int
parse_param(struct cursor *c, struct sdes_crypto *sc)
{
	const uint8_t	*p = c->base + c->pos;
	size_t		 start = cur_offset(c), n = 0;
	uint64_t	 v;
	int		 ch;

	if (cur_left(c) >= 4 && memcmp(p, "WSH=", 4) == 0) {
		(void)cur_skip(c, 4);
		if (sc->wsh != 0 ||
		    read_digits(c, SDES_WSH_DIGITS, &v) != 0 ||
		    v < SDES_WSH_MIN || (peek(c) >= 0 && !is_wsp(peek(c))))
			return uc_fail(UC_ERR_FORMAT, "a=crypto WSH at offset "
			    "%zu: not one decimal >= %d (RFC 4568 6.3.7)",
			    start, SDES_WSH_MIN);
		sc->wsh = (int)v;
		sc->nparams++;
		return 0;
	}
	while ((ch = peek(c)) > 0x20 && ch < 0x7f) {
		(void)cur_u8(c);
		n++;
	}
	if (n == 0)
		return uc_fail(UC_ERR_FORMAT, "a=crypto at offset %zu: byte "
		    "0x%02x in session parameters (RFC 4568 9.1)", start,
		    (unsigned)peek(c));
	sc->nparams++;
	return 0;
}

/*
 * Parse the value of an a=crypto attribute (the text after "a=crypto:",
 * len bytes, no NUL needed):
 *	tag 1*WSP suite 1*WSP "inline:" b64 ["|" lifetime] ["|" mki ":" len]
 *	*(1*WSP session-param)
 * (RFC 4568 9.1, spec 6.1).  Trailing WSP is allowed.  Fills *sc; MKI,
 * lifetime and session parameters are reported, not refused.  Returns 0,
 * UC_ERR_UNSUPPORTED for an unknown suite (skip the line) or
 * UC_ERR_FORMAT; on failure *sc holds no key.
 */
int
sdes_parse(const char *s, size_t len, struct sdes_crypto *sc)
{
	struct cursor	 c;
	int		 r;

	memset(sc, 0, sizeof(*sc));
	cur_init(&c, (const uint8_t *)s, len);
	if ((r = parse_tag(&c, sc)) != 0)
		goto out;
	if (skip_wsp(&c) == 0) {
		r = uc_fail(UC_ERR_FORMAT, "a=crypto at offset %zu: no space "
		    "after the tag (RFC 4568 9.1)", cur_offset(&c));
		goto out;
	}
	if ((r = parse_suite(&c, sc)) != 0)
		goto out;
	if (skip_wsp(&c) == 0) {
		r = uc_fail(UC_ERR_FORMAT, "a=crypto at offset %zu: no key "
		    "parameters (RFC 4568 9.1)", cur_offset(&c));
		goto out;
	}
	if ((r = parse_key_params(&c, sc)) != 0)
		goto out;
	while (skip_wsp(&c) > 0 && cur_left(&c) > 0)
		if ((r = parse_param(&c, sc)) != 0)
			goto out;
	if (cur_left(&c) != 0 || !cur_ok(&c))
		r = uc_fail(UC_ERR_FORMAT, "a=crypto at offset %zu: junk after "
		    "the value (RFC 4568 9.1)", cur_offset(&c));
 out:
	if (r != 0)
		sdes_wipe(sc);
	return r;
}

/*
 * Write "TAG SUITE inline:B64" (NUL-terminated) into buf of size bytes.
 * 0, or UC_ERR_ARG for a bad suite, tag, key length or a short buffer.
 */
int
sdes_format(const struct sdes_crypto *sc, char *buf, size_t size)
{
	char	 b64[SDES_B64_MAX + 1];
	int	 n;

	if (!suite_ok(sc->suite) || sc->tag > SDES_TAG_MAX ||
	    sc->keysalt_len != suites[sc->suite].key + suites[sc->suite].salt)
		return uc_fail(UC_ERR_ARG, "sdes_format: suite %d, tag %lu, "
		    "%zu key bytes: not a valid crypto line (spec 6.2)",
		    sc->suite, (unsigned long)sc->tag, sc->keysalt_len);
	EVP_EncodeBlock((unsigned char *)b64, sc->keysalt,
	    (int)sc->keysalt_len);
	n = snprintf(buf, size, "%lu %s inline:%s", (unsigned long)sc->tag,
	    suites[sc->suite].name, b64);
	OPENSSL_cleanse(b64, sizeof(b64));
	if (n < 0 || (size_t)n >= size) {
		if (size > 0)
			OPENSSL_cleanse(buf, size);
		return uc_fail(UC_ERR_ARG, "sdes_format: buffer of %zu bytes "
		    "too small", size);
	}
	return 0;
}

/*
 * A fresh master key and salt for suite from the private CSPRNG, with
 * tag; no lifetime, MKI or parameters.  0, UC_ERR_ARG or UC_ERR_CRYPTO.
 * Wipe with sdes_wipe.
 */
int
sdes_new_key(int suite, uint32_t tag, struct sdes_crypto *sc)
{
	size_t	 n;

	memset(sc, 0, sizeof(*sc));
	if (!suite_ok(suite) || tag > SDES_TAG_MAX)
		return uc_fail(UC_ERR_ARG, "sdes_new_key: suite %d, tag %lu "
		    "(spec 6.2)", suite, (unsigned long)tag);
	n = suites[suite].key + suites[suite].salt;
	if (RAND_priv_bytes(sc->keysalt, (int)n) != 1) {
		sdes_wipe(sc);
		return uc_fail_ssl(UC_ERR_CRYPTO, "sdes_new_key: "
		    "RAND_priv_bytes");
	}
	sc->suite = suite;
	sc->tag = tag;
	sc->keysalt_len = n;
	return 0;
}

/* Wipe the whole crypto line, key material included.  NULL is fine. */
void
sdes_wipe(struct sdes_crypto *sc)
{
	if (sc != NULL)
		OPENSSL_cleanse(sc, sizeof(*sc));
}
