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

#endif /* UCSEC_LSC_H */
