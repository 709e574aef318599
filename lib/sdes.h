/*
 * SDES key transport (RFC 4568): the a=crypto attribute value, the SRTP
 * suites of spec 6.2, and fresh keys.  Values are untrusted and read
 * through the cursor; key lengths are checked exactly.
 */
#ifndef UCSEC_SDES_H
#define UCSEC_SDES_H

#include <stddef.h>
#include <stdint.h>

enum srtp_suite {
	SUITE_AES_CM_128_HMAC_SHA1_80 = 0,
	SUITE_AES_CM_128_HMAC_SHA1_32 = 1,
	SUITE_AEAD_AES_128_GCM = 2,
	SUITE_AEAD_AES_256_GCM = 3,
	SUITE_AES_256_CM_HMAC_SHA1_80 = 4,
	SUITE_AES_256_CM_HMAC_SHA1_32 = 5,
	SUITE__MAX
};

#define SDES_KEYSALT_MAX	46	/* 32 + 14 */
#define SDES_LINE_MAX		256	/* formatted value incl. NUL */

struct sdes_crypto {
	uint32_t	 tag;			/* 1..999999999 */
	int		 suite;			/* enum srtp_suite */
	uint8_t		 keysalt[SDES_KEYSALT_MAX];
	size_t		 keysalt_len;		/* key + salt bytes */
	int		 has_lifetime;
	uint64_t	 lifetime;		/* packets */
	int		 has_mki;		/* MKI present (we refuse it) */
	int		 nparams;		/* session parameters seen */
	int		 wsh;			/* WSH value, 0 if absent */
};

/* "AES_CM_128_HMAC_SHA1_80" etc. (exact case); -1 unknown. */
int		 sdes_suite_parse(const char *, size_t);
const char	*sdes_suite_name(int);
size_t		 sdes_suite_key_len(int);	/* master key bytes */
size_t		 sdes_suite_salt_len(int);	/* master salt bytes */
/* Preference order (GCM first on a tie, spec 6.2): lower is better. */
int		 sdes_suite_rank(int);

/*
 * Parse the value after "a=crypto:" ("1 AES_CM_128_HMAC_SHA1_80
 * inline:...|2^31 WSH=64").  Unknown suite -> UC_ERR_UNSUPPORTED (the
 * caller skips the line); malformed -> UC_ERR_FORMAT.  MKI and session
 * parameters are parsed and reported, not refused here.
 */
int	 sdes_parse(const char *, size_t, struct sdes_crypto *);
/* Format "TAG SUITE inline:B64" (no lifetime, MKI, parameters). */
int	 sdes_format(const struct sdes_crypto *, char *, size_t);
/* A fresh key and salt from the CSPRNG. */
int	 sdes_new_key(int, uint32_t, struct sdes_crypto *);
/* Wipe the key material. */
void	 sdes_wipe(struct sdes_crypto *);

#endif /* UCSEC_SDES_H */
