/*
 * X.509 helpers: loading, the name and serial forms signed-files.md 1.8
 * writes, fingerprints.
 */
#ifndef UCSEC_CERT_H
#define UCSEC_CERT_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#define CERT_SERIAL_MAX	20	/* RFC 5280 4.1.2.2: at most 20 octets */
#define CERT_NAME_MAX	1024	/* longest DN text we write or accept */

int	 cert_load(const char *, X509 **);
int	 cert_from_der(const uint8_t *, size_t, X509 **);
int	 cert_from_mem(const uint8_t *, size_t, X509 **);
int	 cert_name_text(const X509_NAME *, char *, size_t);
int	 cert_serial(const X509 *, uint8_t *, size_t *);
int	 cert_der(const X509 *, uint8_t **, size_t *);
int	 cert_fingerprint(const X509 *, const EVP_MD *, uint8_t *, size_t *);
int	 cert_pubkey_raw(const X509 *, uint8_t **, size_t *);
int	 cert_sigvalue(const X509 *, const uint8_t **, size_t *);
const char *cert_keytype(const X509 *);
int	 cert_rsa_bits(const X509 *);
void	 hex_encode(const uint8_t *, size_t, char *);

#endif /* UCSEC_CERT_H */
