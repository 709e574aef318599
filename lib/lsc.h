/*
 * The locally significant certificate (LSC) a CAPF server issues to a
 * phone (specs/capf-protocol.md section 10).  Pure: no globals, no I/O,
 * safe to call from any thread (the issuer key must allow concurrent
 * signing; a PKCS#11 key is serialised by the caller).
 */
#ifndef UCSEC_LSC_H
#define UCSEC_LSC_H

#include <openssl/evp.h>
#include <openssl/x509.h>

#define LSC_NAME_MAX	63	/* device name characters, without NUL */
#define LSC_DAYS_MIN	1
#define LSC_DAYS_MAX	3560	/* the reference server's limit */
#define LSC_DAYS_DEF	365
#define LSC_SERIAL_LEN	16	/* random bytes, top bit clear */

/*
 * Check a device name for an LSC: 1..LSC_NAME_MAX printable ASCII
 * characters.  Returns 0 or UC_ERR_ARG.
 */
int	 lsc_name_check(const char *);

/*
 * Issue an LSC for device to the public key pub, signed by issuer_key
 * with SHA-256, naming issuer (its subject) as the issuer, valid from
 * now for days days (LSC_DAYS_MIN..LSC_DAYS_MAX).  Subject: CN=device
 * then the issuer subject's O, OU, L, ST and C in the issuer's order.
 * Extensions: basicConstraints critical CA:FALSE, keyUsage critical
 * digitalSignature+keyEncipherment, extendedKeyUsage serverAuth,
 * clientAuth, ipsecEndSystem, subjectAltName URI:device.  pub, issuer
 * and issuer_key are borrowed.  Returns 0 and a new X509 in *out
 * (caller frees), or UC_ERR_*.
 */
int	 lsc_issue(const char *, EVP_PKEY *, X509 *, EVP_PKEY *, int, X509 **);

/*
 * A prepared issuer for many LSCs: the issuer certificate and key (both
 * referenced) and a SHA-256 signing context made once, so that each LSC
 * costs the signature and little else.  lsc_issue_der may use one
 * signer from several threads at once (each LSC signs with a copy).
 * Returns 0 and *out (free with lsc_signer_free), or UC_ERR_*.
 */
struct lsc_signer;

int	 lsc_signer_new(X509 *, EVP_PKEY *, struct lsc_signer **);
void	 lsc_signer_free(struct lsc_signer *);

#define LSC_KEY_DER_MAX	65535	/* longest subject key bytes taken */

/*
 * As lsc_issue, with a prepared issuer, and the subject key both parsed
 * (pub: type checks) and as the phone sent it (der, len: a DER
 * SubjectPublicKeyInfo or an RSA PKCS#1 RSAPublicKey, the bytes pub was
 * parsed from), which goes into the certificate as is rather than
 * encoded again; der NULL encodes pub.  Same certificate profile and
 * errors as lsc_issue.  The key of the X509 made from der stays bytes:
 * X509_get0_pubkey on it gives NULL, while i2d_X509, PEM and the other
 * fields work as usual.
 */
int	 lsc_issue_der(const struct lsc_signer *, const char *, EVP_PKEY *,
	    const uint8_t *, size_t, int, X509 **);

#endif /* UCSEC_LSC_H */
