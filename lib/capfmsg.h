/*
 * CAPF protocol version 3 messages (specs/capf-protocol.md): an 8-byte
 * header (0x55, command, session id, payload length) and a payload of
 * tag/length/value elements.  The parser reads only through the cursor
 * and points into the caller's buffer; the builder writes one whole
 * message into a wbuf so it goes out as a single TLS record.
 */
#ifndef UCSEC_CAPFMSG_H
#define UCSEC_CAPFMSG_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "signer.h"
#include "wbuf.h"

#define CAPF_PROTO_ID		0x55
#define CAPF_HDR_LEN		8
#define CAPF_PAYLOAD_MAX	65535
#define CAPF_VERSION		3
#define CAPF_NAME_MAX		64	/* device name incl. NUL */
#define CAPF_PASSWORD_MAX	64	/* auth string incl. NUL */

enum capf_cmd {
	CAPF_AUTH_REQUEST = 1,
	CAPF_AUTH_RESPONSE = 2,
	CAPF_KEY_GEN_REQUEST = 3,
	CAPF_KEY_GEN_RESPONSE = 4,
	CAPF_STORE_CERT_REQUEST = 9,
	CAPF_STORE_CERT_RESPONSE = 10,
	CAPF_FETCH_CERT_REQUEST = 11,
	CAPF_FETCH_CERT_RESPONSE = 12,
	CAPF_DELETE_CERT_REQUEST = 13,
	CAPF_DELETE_CERT_RESPONSE = 14,
	CAPF_END_SESSION = 15,
	CAPF_RETRY_LATER = 16,
	CAPF_REQUEST_IN_PROGRESS = 17
};

enum capf_tag {
	CAPF_T_REASON = 1,
	CAPF_T_REASON_INFO = 2,
	CAPF_T_CERT_TYPE = 3,
	CAPF_T_CERT = 4,
	CAPF_T_SIGNED_DATA = 6,
	CAPF_T_VERSION = 7,
	CAPF_T_AUTH_TYPE = 8,
	CAPF_T_PUBKEY = 9,
	CAPF_T_KEY_SIZE = 10,
	CAPF_T_PASSWORD = 11,
	CAPF_T_DEVICE = 13,
	CAPF_T_SUDI = 16,
	CAPF_T_KEY_TYPE = 17,
	CAPF_T_CURVE = 18,
	CAPF_T_SHA2_SIGNED = 20
};

enum capf_reason {
	CAPF_R_NONE = 0,	/* nothing to do */
	CAPF_R_OK = 1,		/* success */
	CAPF_R_FAIL = 7,	/* invalid element / any failure */
	CAPF_R_UNKNOWN = 9	/* unknown device */
};

/* Auth type (tag 8) and the phone's capfAuthMode. */
enum capf_authtype {
	CAPF_AT_NONE = 0,
	CAPF_AT_PASSWORD = 1,
	CAPF_AT_NULL = 2,
	CAPF_AT_LSC_FIRST = 3,
	CAPF_AT_MIC = 4
};

#define CAPF_KEY_RSA	0
#define CAPF_KEY_EC	1
#define CAPF_CURVE_P256	0
#define CAPF_CURVE_P384	1
#define CAPF_CURVE_P521	2
#define CAPF_HASH_SHA1	1
#define CAPF_HASH_SHA512 3

struct capf_bytes {
	const uint8_t	*p;	/* into the message buffer; NULL if absent */
	size_t		 len;
};

/*
 * A parsed message.  For each known tag the matching field is set and
 * the tag's bit (1u << tag) is in "present".  Strings (password, device)
 * are checked to end in exactly one NUL with no NUL before it; len
 * excludes the NUL, so p is a C string inside the buffer.  A repeated
 * known tag is an error; an unknown tag is skipped and counted.
 */
struct capf_msg {
	uint8_t		 cmd;
	uint32_t	 session;
	uint16_t	 paylen;
	uint32_t	 present;
	uint8_t		 reason;
	uint8_t		 cert_type;
	uint8_t		 version;
	uint8_t		 auth_type;
	uint8_t		 key_type;
	uint8_t		 curve;
	uint16_t	 key_size;
	struct capf_bytes reason_info;
	struct capf_bytes cert;		/* DER, after the 5-byte inner header */
	struct capf_bytes signed_data;	/* tag 6: SHA-1 signature */
	struct capf_bytes pubkey;	/* tag 9: SPKI or PKCS#1 DER */
	struct capf_bytes password;
	struct capf_bytes device;
	uint8_t		 sha2_alg;	/* tag 20 */
	struct capf_bytes sha2_sig;
	struct capf_bytes sudi_cert;	/* tag 16 sub-fields */
	uint8_t		 sudi_sig1_type;
	struct capf_bytes sudi_sig1;
	uint8_t		 sudi_sig2_type;
	struct capf_bytes sudi_sig2;
	unsigned	 nunknown;	/* unknown tags skipped */
	uint8_t		 unknown_tag;	/* the first of them */
};

#define CAPF_HAS(m, tag)	(((m)->present >> (tag)) & 1u)

const char *capf_cmd_name(unsigned);
const char *capf_tag_name(unsigned);

/* Header: checks the protocol id; returns 0 or UC_ERR_*. */
int	 capf_hdr_parse(const uint8_t *, size_t, uint8_t *, uint32_t *,
	    uint16_t *);
/* A whole message (header + payload, exact length). */
int	 capf_msg_parse(const uint8_t *, size_t, struct capf_msg *);

/* Building: begin, add elements, end (patches the payload length). */
void	 capf_build_begin(struct wbuf *, uint8_t, uint32_t);
void	 capf_put_u8(struct wbuf *, uint8_t, uint8_t);
void	 capf_put_u16(struct wbuf *, uint8_t, uint16_t);
void	 capf_put_raw(struct wbuf *, uint8_t, const void *, size_t);
void	 capf_put_str(struct wbuf *, uint8_t, const char *);
void	 capf_put_cert(struct wbuf *, const uint8_t *, size_t);
void	 capf_put_sha2(struct wbuf *, const uint8_t *, size_t);
void	 capf_put_sudi(struct wbuf *, const uint8_t *, size_t,
	    const uint8_t *, size_t, const uint8_t *, size_t);
int	 capf_build_end(struct wbuf *);
/* A parsed message written back in the reference element order. */
int	 capf_msg_rebuild(const struct capf_msg *, struct wbuf *);

/*
 * Authentication by existing certificate (spec 8.3, 8.4).
 * capf_auth_data: device name + NUL + certificate DER (malloc'd).
 * capf_sudi_data: session id little-endian + SUDI certificate DER.
 * capf_sig_verify: RSA keys use the bare-hash block type 1 form (the
 * whole recovered block is checked), EC keys ordinary DER ECDSA.
 * capf_sig_sign: the phone side of the same (simulator, tests).
 */
int	 capf_auth_data(const char *, const uint8_t *, size_t, uint8_t **,
	    size_t *);
int	 capf_sudi_data(uint32_t, const uint8_t *, size_t, uint8_t **,
	    size_t *);
int	 capf_sig_verify(EVP_PKEY *, enum signer_md, const uint8_t *, size_t,
	    const uint8_t *, size_t);
int	 capf_sig_sign(EVP_PKEY *, enum signer_md, const uint8_t *, size_t,
	    uint8_t *, size_t *);

/* Public key from tag 9: SubjectPublicKeyInfo, else PKCS#1 RSAPublicKey. */
int	 capf_pubkey_parse(const uint8_t *, size_t, EVP_PKEY **);

#endif /* UCSEC_CAPFMSG_H */
