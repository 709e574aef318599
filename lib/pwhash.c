/*
 * Salted PBKDF2-HMAC-SHA256 password hashes; see pwhash.h.
 *
 * Encoding: "pbkdf2-sha256$ITER$SALT$HASH", ITER decimal without leading
 * zeros, SALT 16 bytes and HASH 32 bytes in lower-case hex.  The parser
 * accepts exactly that (it reads through the cursor: a stored hash may
 * come from an imported or hand-edited database).
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "cursor.h"
#include "pwhash.h"
#include "uerr.h"

#define PWHASH_PREFIX	"pbkdf2-sha256$"
#define PWHASH_SALT	16		/* bytes of salt */
#define PWHASH_OUT	32		/* bytes of derived key (SHA-256) */
#define PWHASH_ITER_MIN	1000		/* below this the hash is too cheap */
#define PWHASH_ITER_MAX	10000000	/* above this a verify stalls capfd */
#define PWHASH_ITER_DIG	8		/* digits of PWHASH_ITER_MAX */

static const char	 hexdig[] = "0123456789abcdef";

static void
hex_lower(const uint8_t *p, size_t n, char *out)
{
	size_t	 i;

	for (i = 0; i < n; i++) {
		out[2 * i] = hexdig[p[i] >> 4];
		out[2 * i + 1] = hexdig[p[i] & 0x0f];
	}
	out[2 * n] = '\0';
}

/* One lower-case hex digit, or -1. */
static int
hex_val(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Decode exactly n bytes of lower-case hex from c into out. */
static int
hex_read(struct cursor *c, uint8_t *out, size_t n)
{
	const uint8_t	*p;
	size_t		 i;
	int		 hi, lo;

	if ((p = cur_bytes(c, 2 * n)) == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		if ((hi = hex_val(p[2 * i])) < 0 ||
		    (lo = hex_val(p[2 * i + 1])) < 0)
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

/* PBKDF2-HMAC-SHA256 of pw with salt into out[PWHASH_OUT]. */
static int
derive(const uint8_t *pw, size_t len, const uint8_t *salt, unsigned iter,
    uint8_t *out)
{
	if (len > INT_MAX)
		return uc_fail(UC_ERR_ARG, "pwhash: password of %zu bytes "
		    "is too long", len);
	if (PKCS5_PBKDF2_HMAC(len ? (const char *)pw : "", (int)len, salt,
	    PWHASH_SALT, (int)iter, EVP_sha256(), PWHASH_OUT, out) != 1)
		return uc_fail_ssl(UC_ERR_CRYPTO, "pwhash: PBKDF2-HMAC-SHA256");
	return 0;
}

/*
 * Hash pw (len bytes; may be NULL when len is 0) with a fresh random
 * 16-byte salt and iter iterations (0: PWHASH_ITER_DEF) into out, a
 * buffer of outsz bytes (PWHASH_ENC_MAX is always enough).  Returns 0,
 * UC_ERR_ARG (iteration count out of 1000..10000000, out too small),
 * UC_ERR_CRYPTO.  Safe from any thread.
 */
int
pwhash_make(const uint8_t *pw, size_t len, unsigned iter, char *out,
    size_t outsz)
{
	uint8_t	 salt[PWHASH_SALT], dk[PWHASH_OUT];
	char	 salthex[2 * PWHASH_SALT + 1], dkhex[2 * PWHASH_OUT + 1];
	int	 n, r;

	if (outsz > 0)
		out[0] = '\0';
	if (iter == 0)
		iter = PWHASH_ITER_DEF;
	if (iter < PWHASH_ITER_MIN || iter > PWHASH_ITER_MAX)
		return uc_fail(UC_ERR_ARG, "pwhash: iteration count %u outside "
		    "%d..%d", iter, PWHASH_ITER_MIN, PWHASH_ITER_MAX);
	if (RAND_bytes(salt, sizeof(salt)) != 1)
		return uc_fail_ssl(UC_ERR_CRYPTO, "pwhash: random salt");
	if ((r = derive(pw, len, salt, iter, dk)) != 0)
		goto out;
	hex_lower(salt, sizeof(salt), salthex);
	hex_lower(dk, sizeof(dk), dkhex);
	n = snprintf(out, outsz, PWHASH_PREFIX "%u$%s$%s", iter, salthex,
	    dkhex);
	if (n < 0 || (size_t)n >= outsz) {
		if (outsz > 0)
			OPENSSL_cleanse(out, outsz);
		r = uc_fail(UC_ERR_ARG, "pwhash: %zu-byte output buffer is "
		    "too small", outsz);
		goto out;
	}
	r = 0;
out:
	OPENSSL_cleanse(dk, sizeof(dk));
	OPENSSL_cleanse(dkhex, sizeof(dkhex));
	return r;
}

/* The decimal iteration count up to '$': no sign, no leading zero. */
static int
iter_read(struct cursor *c, unsigned *iter)
{
	unsigned long	 v = 0;
	size_t		 nd;
	uint8_t		 ch;

	for (nd = 0; nd <= PWHASH_ITER_DIG; nd++) {
		ch = cur_u8(c);
		if (!cur_ok(c))
			return -1;
		if (ch == '$')
			break;
		if (ch < '0' || ch > '9' || (nd == 0 && ch == '0'))
			return -1;
		v = v * 10 + (ch - '0');
	}
	if (nd == 0 || nd > PWHASH_ITER_DIG ||
	    v < PWHASH_ITER_MIN || v > PWHASH_ITER_MAX)
		return -1;
	*iter = (unsigned)v;
	return 0;
}

/*
 * Check pw (len bytes) against the encoded hash enc.  Returns 1 on a
 * match, 0 on a mismatch, UC_ERR_FORMAT if enc is not exactly the form
 * pwhash_make writes (iteration count in 1000..10000000), UC_ERR_CRYPTO.
 * The comparison takes constant time.  Safe from any thread.
 */
int
pwhash_verify(const char *enc, const uint8_t *pw, size_t len)
{
	struct cursor	 c;
	uint8_t		 salt[PWHASH_SALT], want[PWHASH_OUT], got[PWHASH_OUT];
	const uint8_t	*p;
	size_t		 elen;
	unsigned	 iter = 0;
	int		 r;

	if (enc == NULL)
		return uc_fail(UC_ERR_FORMAT, "pwhash: no stored hash");
	elen = strnlen(enc, PWHASH_ENC_MAX);
	cur_init(&c, (const uint8_t *)enc, elen);
	r = UC_ERR_FORMAT;
	if (elen == PWHASH_ENC_MAX ||
	    (p = cur_bytes(&c, sizeof(PWHASH_PREFIX) - 1)) == NULL ||
	    memcmp(p, PWHASH_PREFIX, sizeof(PWHASH_PREFIX) - 1) != 0) {
		r = uc_fail(r, "pwhash: stored hash is not \"%s...\"",
		    PWHASH_PREFIX);
		goto out;
	}
	if (iter_read(&c, &iter) != 0) {
		r = uc_fail(r, "pwhash: stored hash has a bad iteration count "
		    "(want %d..%d)", PWHASH_ITER_MIN, PWHASH_ITER_MAX);
		goto out;
	}
	if (hex_read(&c, salt, sizeof(salt)) != 0 || cur_u8(&c) != '$' ||
	    hex_read(&c, want, sizeof(want)) != 0 || cur_left(&c) != 0 ||
	    !cur_ok(&c)) {
		r = uc_fail(r, "pwhash: stored hash has a bad salt or digest "
		    "(want %d and %d lower-case hex digits)", 2 * PWHASH_SALT,
		    2 * PWHASH_OUT);
		goto out;
	}
	if ((r = derive(pw, len, salt, iter, got)) != 0)
		goto out;
	r = CRYPTO_memcmp(got, want, sizeof(got)) == 0;
out:
	OPENSSL_cleanse(got, sizeof(got));
	OPENSSL_cleanse(want, sizeof(want));
	return r;
}
