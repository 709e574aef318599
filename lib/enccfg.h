/*
 * Encrypted phone configuration (signed-files.md 4): SEP<MAC>.cnf.xml
 * encrypted to the device's RSA key and signed by the TFTP key as
 * .enc.sgn, plus the reduced plaintext stub the phone reads first.
 * Shared by ucsec-tftpd and sgntool.
 */
#ifndef UCSEC_ENCCFG_H
#define UCSEC_ENCCFG_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "sgn.h"
#include "signer.h"

#define ENCCFG_MAX	(4 * 1024 * 1024)	/* a config is ~10 KB */

int	 enccfg_encrypt(const uint8_t *, size_t, X509 *, struct signer *,
	    enum signer_md, const char *, uint32_t, uint8_t **, size_t *);
int	 enccfg_stub(const uint8_t *, size_t, X509 *, uint8_t **, size_t *);
int	 enccfg_strip_credentials(const uint8_t *, size_t, uint8_t **,
	    size_t *);
int	 enccfg_decrypt(const struct sgn_file *, EVP_PKEY *, uint8_t **,
	    size_t *);

#endif /* UCSEC_ENCCFG_H */
