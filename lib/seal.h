/*
 * Secrets at rest (digest HA1 values, trunk credentials): AES-256-GCM
 * under a 32-byte key kept in its own file, outside the database.  The
 * associated data binds a sealed value to its row ("user\0realm\0alg"),
 * so values cannot be swapped between rows.
 *
 * Sealed text: "s1:" base64(nonce(12) || ciphertext || tag(16)).
 */
#ifndef UCSEC_SEAL_H
#define UCSEC_SEAL_H

#include <stddef.h>
#include <stdint.h>

#define SEAL_KEY_LEN	32

/*
 * Load the key file (exactly 32 bytes or 64 hex digits + newline).  It
 * must be a regular file not readable by group or others.  create: make
 * a new one (mode 0600, atomically) when missing.  Key wiped by caller.
 */
int	 seal_key_load(const char *, int, uint8_t [SEAL_KEY_LEN]);
/* Seal plaintext; *out malloc'd, NUL-terminated. */
int	 seal(const uint8_t [SEAL_KEY_LEN], const void *, size_t,
	    const uint8_t *, size_t, char **);
/* Open a sealed text; fails with UC_ERR_SIGNATURE on any tampering. */
int	 unseal(const uint8_t [SEAL_KEY_LEN], const void *, size_t,
	    const char *, uint8_t *, size_t, size_t *);

#endif /* UCSEC_SEAL_H */
