/*
 * X.509 helpers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "cert.h"
#include "fileio.h"
#include "uerr.h"

#define CERT_FILE_MAX	(1024 * 1024)	/* a PEM bundle is far smaller */

/*
 * Parse one certificate from memory, PEM (the first CERTIFICATE block, so a
 * key-then-certificate .pem works) or DER.  DER must have no trailing bytes.
 * On success stores a new X509 (caller frees) in *out.
 */
int
cert_from_mem(const uint8_t *buf, size_t len, X509 **out)
{
	BIO	*bio;
	X509	*x;

	*out = NULL;
	if (len >= 10 && memmem(buf, len, "-----BEGIN", 10) != NULL) {
		if ((bio = BIO_new_mem_buf(buf, (int)len)) == NULL)
			return uc_fail(UC_ERR_ALLOC, "BIO_new_mem_buf");
		x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
		BIO_free(bio);
		if (x == NULL)
			return uc_fail_ssl(UC_ERR_FORMAT,
			    "no PEM CERTIFICATE block could be read");
		*out = x;
		return 0;
	}
	return cert_from_der(buf, len, out);
}

/* Parse exactly one DER certificate of len bytes. */
int
cert_from_der(const uint8_t *buf, size_t len, X509 **out)
{
	const unsigned char	*p = buf;
	X509			*x;

	*out = NULL;
	if (len == 0 || len > CERT_FILE_MAX)
		return uc_fail(UC_ERR_FORMAT, "certificate of %zu bytes", len);
	if ((x = d2i_X509(NULL, &p, (long)len)) == NULL)
		return uc_fail_ssl(UC_ERR_FORMAT, "DER certificate does not parse");
	if ((size_t)(p - buf) != len) {
		X509_free(x);
		return uc_fail(UC_ERR_FORMAT,
		    "%zu trailing bytes after the DER certificate",
		    len - (size_t)(p - buf));
	}
	*out = x;
	return 0;
}

/* Load a PEM or DER certificate file.  Caller frees *out. */
int
cert_load(const char *path, X509 **out)
{
	uint8_t	*buf = NULL;
	size_t	 len;
	int	 r;

	*out = NULL;
	if ((r = file_read(path, CERT_FILE_MAX, &buf, &len)) != 0)
		return r;
	if ((r = cert_from_mem(buf, len, out)) != 0)
		uc_prefix(path);
	free(buf);
	return r;
}

/*
 * Write a name as signed-files.md 1.8 does: each attribute in RFC 4514
 * form, in DER order, joined by ",".  Fails if it does not fit in sz.
 */
int
cert_name_text(const X509_NAME *name, char *out, size_t sz)
{
	BIO	*bio;
	int	 n, r = UC_ERR_CRYPTO;
	/* RFC 4514 escaping, UTF-8 kept as is, DER order, "," joined. */
	unsigned long flags = (XN_FLAG_RFC2253 & ~XN_FLAG_DN_REV &
	    ~XN_FLAG_SEP_MASK & ~ASN1_STRFLGS_ESC_MSB) | XN_FLAG_SEP_COMMA_PLUS;

	if ((bio = BIO_new(BIO_s_mem())) == NULL)
		return uc_fail(UC_ERR_ALLOC, "BIO_new");
	if (X509_NAME_print_ex(bio, name, 0, flags) < 0) {
		r = uc_fail_ssl(UC_ERR_CRYPTO, "X509_NAME_print_ex");
		goto out;
	}
	n = BIO_read(bio, out, (int)sz - 1);
	if (n < 0)
		n = 0;
	if (BIO_pending(bio) > 0) {
		r = uc_fail(UC_ERR_FORMAT, "name longer than %zu bytes", sz - 1);
		goto out;
	}
	out[n] = '\0';
	r = 0;
out:
	BIO_free(bio);
	return r;
}

/*
 * Serial as an unsigned big-endian integer in the fewest bytes
 * (signed-files.md 1.8).  out holds CERT_SERIAL_MAX bytes.
 */
int
cert_serial(const X509 *x, uint8_t *out, size_t *len)
{
	BIGNUM	*bn;
	int	 n;

	*len = 0;
	if ((bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL)) == NULL)
		return uc_fail_ssl(UC_ERR_CRYPTO, "certificate serial");
	if (BN_is_negative(bn) || (n = BN_num_bytes(bn)) > CERT_SERIAL_MAX) {
		BN_free(bn);
		return uc_fail(UC_ERR_FORMAT,
		    "certificate serial negative or over %d bytes",
		    CERT_SERIAL_MAX);
	}
	BN_bn2bin(bn, out);
	BN_free(bn);
	*len = (size_t)n;
	return 0;
}

/* DER encoding of x; caller frees *der with free(). */
int
cert_der(const X509 *x, uint8_t **der, size_t *len)
{
	unsigned char	*p = NULL;
	int		 n;

	*der = NULL;
	if ((n = i2d_X509(x, &p)) <= 0)
		return uc_fail_ssl(UC_ERR_CRYPTO, "i2d_X509");
	*der = malloc((size_t)n);
	if (*der == NULL) {
		OPENSSL_free(p);
		return uc_fail(UC_ERR_ALLOC, "certificate copy");
	}
	memcpy(*der, p, (size_t)n);
	OPENSSL_free(p);
	*len = (size_t)n;
	return 0;
}

/* Digest of the DER certificate; out holds EVP_MAX_MD_SIZE bytes. */
int
cert_fingerprint(const X509 *x, const EVP_MD *md, uint8_t *out, size_t *len)
{
	unsigned int	 n;

	if (!X509_digest(x, md, out, &n))
		return uc_fail_ssl(UC_ERR_CRYPTO, "certificate digest");
	*len = n;
	return 0;
}

/*
 * Public key bytes as record tag 7 holds them: RSA as DER RSAPublicKey
 * (PKCS#1), EC as the uncompressed point.  Caller frees *out.
 */
int
cert_pubkey_raw(const X509 *x, uint8_t **out, size_t *len)
{
	const unsigned char	*pk;
	int			 pklen;
	X509_PUBKEY		*xpk;

	*out = NULL;
	if ((xpk = X509_get_X509_PUBKEY(x)) == NULL ||
	    !X509_PUBKEY_get0_param(NULL, &pk, &pklen, NULL, xpk))
		return uc_fail_ssl(UC_ERR_CRYPTO, "certificate public key");
	/*
	 * The subjectPublicKey BIT STRING already holds exactly these bytes
	 * for both RSA (RFC 8017 A.1.1) and EC (RFC 5480 2.2).
	 */
	if ((*out = malloc(pklen > 0 ? (size_t)pklen : 1)) == NULL)
		return uc_fail(UC_ERR_ALLOC, "public key copy");
	memcpy(*out, pk, (size_t)pklen);
	*len = (size_t)pklen;
	return 0;
}

/* The certificate's own signatureValue bytes, borrowed from x. */
int
cert_sigvalue(const X509 *x, const uint8_t **sig, size_t *len)
{
	const ASN1_BIT_STRING	*bs;

	X509_get0_signature(&bs, NULL, x);
	if (bs == NULL)
		return uc_fail(UC_ERR_FORMAT, "certificate has no signature");
	*sig = ASN1_STRING_get0_data(bs);
	*len = (size_t)ASN1_STRING_length(bs);
	return 0;
}

/* "RSA", "EC" or "other". */
const char *
cert_keytype(const X509 *x)
{
	EVP_PKEY	*pk = X509_get0_pubkey(x);

	if (pk == NULL)
		return "unknown";
	if (EVP_PKEY_is_a(pk, "RSA"))
		return "RSA";
	if (EVP_PKEY_is_a(pk, "EC"))
		return "EC";
	return "other";
}

/* RSA modulus size in bits, or 0 for a non-RSA key. */
int
cert_rsa_bits(const X509 *x)
{
	EVP_PKEY	*pk = X509_get0_pubkey(x);

	if (pk == NULL || !EVP_PKEY_is_a(pk, "RSA"))
		return 0;
	return EVP_PKEY_get_bits(pk);
}

/* Lowercase hex of n bytes into out, which holds 2n+1 bytes. */
void
hex_encode(const uint8_t *p, size_t n, char *out)
{
	static const char	 digits[] = "0123456789abcdef";
	size_t			 i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 0xf];
	}
	out[2 * n] = '\0';
}
