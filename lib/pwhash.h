/*
 * Salted password hashes for CAPF auth strings (and later SIP secrets
 * that must be verified, not recovered): PBKDF2-HMAC-SHA256 through
 * OpenSSL, encoded "pbkdf2-sha256$ITER$SALT_HEX$HASH_HEX" so the cost can
 * rise without a schema change.  Verification compares in constant time.
 * Both functions are pure (no globals) and safe to call from any thread.
 */
#ifndef UCSEC_PWHASH_H
#define UCSEC_PWHASH_H

#include <stddef.h>
#include <stdint.h>

#define PWHASH_ITER_DEF	10000
#define PWHASH_ENC_MAX	160	/* encoded form incl. NUL */

/* Hash pw (len bytes) with a fresh 16-byte salt into out. */
int	 pwhash_make(const uint8_t *, size_t, unsigned, char *, size_t);
/* 1 = match, 0 = mismatch, < 0 = UC_ERR_* (malformed encoding). */
int	 pwhash_verify(const char *, const uint8_t *, size_t);

#endif /* UCSEC_PWHASH_H */
