/*
 * The signer interface: "sign these bytes with digest D".  Callers never
 * see the private key, so it may live in a PEM file, on a PKCS#11 token,
 * or later in a separate privileged process, without callers changing.
 *
 * Signatures are RSASSA-PKCS1-v1_5 for RSA keys and DER ECDSA-Sig-Value
 * for EC keys.  Each signer carries the certificate that names its key.
 */
#ifndef UCSEC_SIGNER_H
#define UCSEC_SIGNER_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#define SIGNER_SIG_MAX	1024	/* RSA-8192 or any ECDSA signature fits */

enum signer_md {
	SIGNER_SHA1,
	SIGNER_SHA256,
	SIGNER_SHA512,
	SIGNER_MD__MAX
};

struct signer;

struct signer_ops {
	const char *name;	/* "file", "pkcs11", ... for logs */
	/* Sign msg; *siglen holds the buffer size on entry. */
	int	(*sign)(void *, enum signer_md, const uint8_t *, size_t,
		    uint8_t *, size_t *);
	void	(*free)(void *);
	/*
	 * The key as an EVP_PKEY for OpenSSL APIs that need one (X.509 and
	 * CSR signing, a TLS server key) when the backend is in-process;
	 * NULL otherwise (a key-holder process would not expose one).
	 */
	EVP_PKEY *(*pkey)(void *);
};

struct signer {
	const struct signer_ops	*ops;
	void			*ctx;	/* backend state, owned */
	X509			*cert;	/* owned; the key's certificate */
	char			*label;	/* owned; path or URI for messages */
};

int	 signer_new(const struct signer_ops *, void *, X509 *, const char *,
	    struct signer **);
int	 signer_sign(struct signer *, enum signer_md, const uint8_t *, size_t,
	    uint8_t *, size_t *);
void	 signer_free(struct signer *);
EVP_PKEY *signer_pkey(struct signer *);
const EVP_MD *signer_evp_md(enum signer_md);
const char *signer_md_name(enum signer_md);
int	 signer_md_parse(const char *, enum signer_md *);

int	 signer_evp_sign(EVP_PKEY *, enum signer_md, const uint8_t *, size_t,
	    uint8_t *, size_t *);
int	 signer_file_open(const char *, const char *, struct signer **);
int	 signer_check_key(struct signer *);

#endif /* UCSEC_SIGNER_H */
