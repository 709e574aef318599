/*
 * Secrets at rest: AES-256-GCM with a key file outside the database;
 * see seal.h.
 *
 *	sealed = "s1:" base64(nonce(12) || ciphertext || tag(16))
 *
 * base64 is RFC 4648 section 4 with padding; the decoder takes exactly
 * the canonical form (the text comes from a database a user may edit).
 * Any malformed or tampered sealed text is UC_ERR_SIGNATURE.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "fileio.h"
#include "seal.h"
#include "uerr.h"

#define SEAL_PREFIX	"s1:"
#define SEAL_NONCE	12		/* GCM nonce, random per seal */
#define SEAL_TAG	16		/* full GCM tag */
#define SEAL_PT_MAX	(1u << 20)	/* plaintext: HA1s and passwords */
#define SEAL_KEYFILE_MAX 128		/* a key file: 32 raw or 64 hex + EOL */

static const char	 b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* base64 with padding of n bytes into out (4 * ceil(n / 3) + 1 bytes). */
static void
b64_encode(const uint8_t *in, size_t n, char *out)
{
	uint32_t	 v;
	size_t		 i, o = 0;

	for (i = 0; i + 3 <= n; i += 3) {
		v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		out[o++] = b64[v >> 18 & 63];
		out[o++] = b64[v >> 12 & 63];
		out[o++] = b64[v >> 6 & 63];
		out[o++] = b64[v & 63];
	}
	if (n - i > 0) {
		v = (uint32_t)in[i] << 16;
		if (n - i == 2)
			v |= (uint32_t)in[i + 1] << 8;
		out[o++] = b64[v >> 18 & 63];
		out[o++] = b64[v >> 12 & 63];
		out[o++] = n - i == 2 ? b64[v >> 6 & 63] : '=';
		out[o++] = '=';
	}
	out[o] = '\0';
}

static int
b64_val(char ch)
{
	const char	*p;

	if (ch == '\0' || (p = strchr(b64, ch)) == NULL)
		return -1;
	return (int)(p - b64);
}

/*
 * Decode the canonical base64 s of slen characters (a multiple of 4,
 * padding only at the end, unused bits zero) into out (at least
 * slen / 4 * 3 bytes).  Returns the decoded length or -1.
 */
static long
b64_decode(const char *s, size_t slen, uint8_t *out)
{
	uint32_t	 v;
	size_t		 i, o = 0, pad = 0;
	int		 d, k;

	if (slen == 0 || slen % 4 != 0)
		return -1;
	if (s[slen - 1] == '=')
		pad = s[slen - 2] == '=' ? 2 : 1;
	for (i = 0; i < slen; i += 4) {
		v = 0;
		for (k = 0; k < 4; k++) {
			if (i + 4 == slen && k >= 4 - (int)pad)
				d = 0;
			else if ((d = b64_val(s[i + k])) < 0)
				return -1;
			v = v << 6 | (uint32_t)d;
		}
		out[o++] = (uint8_t)(v >> 16);
		if (i + 4 < slen || pad < 2)
			out[o++] = (uint8_t)(v >> 8);
		if (i + 4 < slen || pad < 1)
			out[o++] = (uint8_t)v;
		/* Canonical: the bits under the padding are zero. */
		if (i + 4 == slen && ((pad == 2 && (v & 0xffff) != 0) ||
		    (pad == 1 && (v & 0xff) != 0)))
			return -1;
	}
	return (long)o;
}

/* One AES-256-GCM pass; enc 1 seals, 0 opens (tag checked). */
static int
gcm(int enc, const uint8_t key[SEAL_KEY_LEN], const uint8_t *nonce,
    const uint8_t *aad, size_t aadlen, const uint8_t *in, size_t len,
    uint8_t *out, uint8_t tag[SEAL_TAG])
{
	EVP_CIPHER_CTX	*ctx;
	uint8_t		 fin[SEAL_TAG];		/* GCM's final writes nothing */
	int		 n = 0, r = UC_ERR_CRYPTO;

	if (len > INT_MAX || aadlen > INT_MAX)
		return uc_fail(UC_ERR_ARG, "seal: input too large");
	if ((ctx = EVP_CIPHER_CTX_new()) == NULL)
		return uc_fail_ssl(UC_ERR_ALLOC, "seal: EVP_CIPHER_CTX_new");
	if (EVP_CipherInit_ex2(ctx, EVP_aes_256_gcm(), NULL, NULL, enc,
	    NULL) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, SEAL_NONCE,
	    NULL) != 1 ||
	    EVP_CipherInit_ex2(ctx, NULL, key, nonce, enc, NULL) != 1 ||
	    (aadlen > 0 &&
	    EVP_CipherUpdate(ctx, NULL, &n, aad, (int)aadlen) != 1) ||
	    (len > 0 && EVP_CipherUpdate(ctx, out, &n, in, (int)len) != 1) ||
	    (!enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, SEAL_TAG,
	    tag) != 1)) {
		r = uc_fail_ssl(r, "seal: AES-256-GCM setup");
		goto out;
	}
	if (EVP_CipherFinal_ex(ctx, len > 0 ? out + n : fin, &n) != 1) {
		r = enc ? uc_fail_ssl(r, "seal: AES-256-GCM") :
		    uc_fail(UC_ERR_SIGNATURE, "unseal: authentication tag "
		    "does not verify (wrong key, wrong row, or tampered)");
		goto out;
	}
	if (enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, SEAL_TAG,
	    tag) != 1) {
		r = uc_fail_ssl(r, "seal: AES-256-GCM tag");
		goto out;
	}
	r = 0;
out:
	EVP_CIPHER_CTX_free(ctx);
	return r;
}

/*
 * Seal pt (ptlen bytes, at most 1 MB; NULL when 0) under key, bound to
 * aad (aadlen bytes; NULL when 0), with a fresh random nonce.  *out is a
 * malloc'd NUL-terminated "s1:..." text the caller frees.  Returns 0,
 * UC_ERR_ARG, UC_ERR_ALLOC, UC_ERR_CRYPTO.
 */
int
seal(const uint8_t key[SEAL_KEY_LEN], const void *pt, size_t ptlen,
    const uint8_t *aad, size_t aadlen, char **out)
{
	uint8_t	*raw = NULL;
	char	*text = NULL;
	size_t	 rawlen, tlen;
	int	 r;

	*out = NULL;
	if (key == NULL || (pt == NULL && ptlen > 0) ||
	    (aad == NULL && aadlen > 0) || ptlen > SEAL_PT_MAX)
		return uc_fail(UC_ERR_ARG, "seal: bad argument");
	rawlen = SEAL_NONCE + ptlen + SEAL_TAG;
	tlen = sizeof(SEAL_PREFIX) - 1 + (rawlen + 2) / 3 * 4;
	if ((raw = malloc(rawlen)) == NULL || (text = malloc(tlen + 1)) ==
	    NULL) {
		r = uc_fail(UC_ERR_ALLOC, "seal: %zu bytes", rawlen);
		goto out;
	}
	if (RAND_bytes(raw, SEAL_NONCE) != 1) {
		r = uc_fail_ssl(UC_ERR_CRYPTO, "seal: random nonce");
		goto out;
	}
	if ((r = gcm(1, key, raw, aad, aadlen, pt, ptlen, raw + SEAL_NONCE,
	    raw + SEAL_NONCE + ptlen)) != 0)
		goto out;
	memcpy(text, SEAL_PREFIX, sizeof(SEAL_PREFIX) - 1);
	b64_encode(raw, rawlen, text + sizeof(SEAL_PREFIX) - 1);
	*out = text;
	text = NULL;
out:
	free(text);
	if (raw != NULL)
		OPENSSL_clear_free(raw, rawlen);
	return r;
}

/*
 * Open the sealed text under key and aad (aadlen bytes; NULL when 0)
 * into out (outsz bytes); *outlen is the plaintext length, and out is
 * NUL-terminated when there is room for it.  Returns 0; UC_ERR_SIGNATURE
 * for anything wrong with the text (prefix, base64, length, tag: the key,
 * the row or the bytes differ); UC_ERR_ARG (out too small); UC_ERR_ALLOC;
 * UC_ERR_CRYPTO.  out is wiped on failure.
 */
int
unseal(const uint8_t key[SEAL_KEY_LEN], const void *aad, size_t aadlen,
    const char *text, uint8_t *out, size_t outsz, size_t *outlen)
{
	uint8_t	*raw = NULL;
	size_t	 tlen, rawcap = 0, ptlen;
	long	 n;
	int	 r = UC_ERR_SIGNATURE;

	*outlen = 0;
	if (key == NULL || text == NULL || (aad == NULL && aadlen > 0) ||
	    (out == NULL && outsz > 0))
		return uc_fail(UC_ERR_ARG, "unseal: bad argument");
	tlen = strnlen(text, (SEAL_PT_MAX + SEAL_NONCE + SEAL_TAG) / 3 * 4 +
	    8);
	if (tlen < sizeof(SEAL_PREFIX) - 1 ||
	    memcmp(text, SEAL_PREFIX, sizeof(SEAL_PREFIX) - 1) != 0)
		return uc_fail(r, "unseal: not a sealed value (no \"%s\" "
		    "prefix)", SEAL_PREFIX);
	text += sizeof(SEAL_PREFIX) - 1;
	tlen -= sizeof(SEAL_PREFIX) - 1;
	rawcap = tlen / 4 * 3 + 3;
	if ((raw = malloc(rawcap)) == NULL) {
		r = uc_fail(UC_ERR_ALLOC, "unseal: %zu bytes", rawcap);
		goto out;
	}
	if ((n = b64_decode(text, tlen, raw)) < 0) {
		r = uc_fail(r, "unseal: sealed value is not canonical base64");
		goto out;
	}
	if ((size_t)n < SEAL_NONCE + SEAL_TAG) {
		r = uc_fail(r, "unseal: sealed value of %ld bytes is shorter "
		    "than nonce and tag", n);
		goto out;
	}
	ptlen = (size_t)n - SEAL_NONCE - SEAL_TAG;
	if (ptlen > outsz) {
		r = uc_fail(UC_ERR_ARG, "unseal: %zu-byte plaintext does not "
		    "fit %zu bytes", ptlen, outsz);
		goto out;
	}
	if ((r = gcm(0, key, raw, aad, aadlen, raw + SEAL_NONCE, ptlen, out,
	    raw + SEAL_NONCE + ptlen)) != 0)
		goto out;
	if (ptlen < outsz)
		out[ptlen] = '\0';
	*outlen = ptlen;
out:
	if (r != 0 && outsz > 0)
		OPENSSL_cleanse(out, outsz);
	if (raw != NULL)
		OPENSSL_clear_free(raw, rawcap);
	return r;
}

/* ---- key file -------------------------------------------------------- */

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

/* 32 raw bytes, or 64 hex digits and an optional "\n" / "\r\n". */
static int
key_decode(const char *path, const uint8_t *buf, size_t len,
    uint8_t key[SEAL_KEY_LEN])
{
	size_t	 i;
	int	 hi, lo;

	if (len == SEAL_KEY_LEN) {
		memcpy(key, buf, SEAL_KEY_LEN);
		return 0;
	}
	if (len == 2 * SEAL_KEY_LEN + 2 && buf[len - 2] == '\r' &&
	    buf[len - 1] == '\n')
		len -= 2;
	else if (len == 2 * SEAL_KEY_LEN + 1 && buf[len - 1] == '\n')
		len--;
	if (len != 2 * SEAL_KEY_LEN)
		goto bad;
	for (i = 0; i < SEAL_KEY_LEN; i++) {
		if ((hi = hexval(buf[2 * i])) < 0 ||
		    (lo = hexval(buf[2 * i + 1])) < 0)
			goto bad;
		key[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
bad:
	OPENSSL_cleanse(key, SEAL_KEY_LEN);
	return uc_fail(UC_ERR_FORMAT, "%s: secret key file must hold exactly "
	    "%d raw bytes or %d hex digits", path, SEAL_KEY_LEN,
	    2 * SEAL_KEY_LEN);
}

/* Read an existing key file; fd is open on path. */
static int
key_read(const char *path, int fd, uint8_t key[SEAL_KEY_LEN])
{
	struct stat	 st;
	uint8_t		*buf = NULL;
	size_t		 len = 0;
	int		 r;

	if (fstat(fd, &st) == -1)
		return uc_fail(UC_ERR_IO, "%s: %s", path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return uc_fail(UC_ERR_POLICY, "%s: secret key is not a "
		    "regular file", path);
	if (st.st_mode & 077)
		return uc_fail(UC_ERR_POLICY, "%s: secret key file has mode "
		    "%04o: group or others may use it; chmod 600 it", path,
		    (unsigned)(st.st_mode & 07777));
	if ((r = file_read_fd(fd, path, SEAL_KEYFILE_MAX, &buf, &len)) != 0)
		return r;
	r = key_decode(path, buf, len, key);
	OPENSSL_clear_free(buf, len + 1);
	return r;
}

/*
 * Make a new key file: 32 random bytes written with file_write_atomic
 * (mode 0600) under a private name, then linked to path, so a key that
 * appeared meanwhile (another process) is never replaced: then *raced
 * is set and nothing is written.
 */
static int
key_create(const char *path, uint8_t key[SEAL_KEY_LEN], int *raced)
{
	char	 tmp[PATH_MAX];
	int	 r;

	*raced = 0;
	if (snprintf(tmp, sizeof(tmp), "%s.new.%ld", path, (long)getpid()) >=
	    (int)sizeof(tmp))
		return uc_fail(UC_ERR_ARG, "%s: path too long", path);
	if (RAND_bytes(key, SEAL_KEY_LEN) != 1)
		return uc_fail_ssl(UC_ERR_CRYPTO, "%s: random key", path);
	if ((r = file_write_atomic(tmp, key, SEAL_KEY_LEN, 0600, NULL,
	    NULL)) != 0)
		goto out;
	if (link(tmp, path) == -1) {
		if (errno == EEXIST)
			*raced = 1;
		else
			r = uc_fail(UC_ERR_IO, "%s: cannot create secret key "
			    "file: %s", path, strerror(errno));
	}
	(void)unlink(tmp);
out:
	if (r != 0 || *raced)
		OPENSSL_cleanse(key, SEAL_KEY_LEN);
	return r;
}

/*
 * Load the secret key from path into key (the caller wipes it).  The
 * file must be a regular file with no group or other permission bits
 * (else UC_ERR_POLICY, naming the file and its mode) holding 32 raw
 * bytes or 64 hex digits and an optional newline (else UC_ERR_FORMAT).
 * create: a missing file is made (32 random bytes, mode 0600).
 * Returns 0, UC_ERR_IO (including a missing file when !create),
 * UC_ERR_POLICY, UC_ERR_FORMAT, UC_ERR_CRYPTO.
 */
int
seal_key_load(const char *path, int create, uint8_t key[SEAL_KEY_LEN])
{
	int	 fd, r, raced = 0, tries;

	memset(key, 0, SEAL_KEY_LEN);
	if (path == NULL || *path == '\0')
		return uc_fail(UC_ERR_ARG, "seal: no secret key file configured");
	for (tries = 0; tries < 2; tries++) {
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
		if (fd != -1) {
			r = key_read(path, fd, key);
			close(fd);
			if (r != 0)
				OPENSSL_cleanse(key, SEAL_KEY_LEN);
			return r;
		}
		if (errno != ENOENT || !create)
			return uc_fail(UC_ERR_IO, "%s: secret key: %s", path,
			    strerror(errno));
		if ((r = key_create(path, key, &raced)) != 0)
			return r;
		if (!raced)
			return 0;
	}
	return uc_fail(UC_ERR_IO, "%s: secret key file keeps changing", path);
}
