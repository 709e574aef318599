/*
 * The Cisco signed-header codec (../shared/specs/signed-files.md): trust
 * lists (.tlv: CTLFile.tlv, ITLFile.tlv), signed files (.sgn) and
 * encrypted configs (.enc.sgn).  Parse into a struct that names every
 * header tag and every record tag, build with a caller-supplied signer,
 * verify against a certificate.
 */
#ifndef UCSEC_SGN_H
#define UCSEC_SGN_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "signer.h"

struct wbuf;

#define TLV_FILE_MAX	(4 * 1024 * 1024) /* real trust lists are ~10 KB */
#define TLV_RECORDS_MAX	1024	/* 16 CCM + 2 TFTP + ... in a supercluster */
#define SGN_HDR_MAX	65535	/* header length is 16 bits (1.2) */
#define SGN_ELEM_MAX	65535	/* element length is 16 bits (1.1) */

enum sgn_kind {
	SGN_KIND_AUTO,		/* decide from the header version */
	SGN_KIND_TLV,		/* CTLFile.tlv / ITLFile.tlv, version 1.2 */
	SGN_KIND_SGN,		/* signed file, version 1.0 */
	SGN_KIND_ENC,		/* encrypted config, version 2.0 */
	SGN_KIND__MAX
};

/* Hash algorithm codes, tags 8 and 26 (1.5). */
#define SGN_HASH_SHA1	1
#define SGN_HASH_SHA256	2
#define SGN_HASH_SHA512	3

/* Record roles, record tag 4 (2.2). */
#define TLV_ROLE_SAST		0
#define TLV_ROLE_CCM		1
#define TLV_ROLE_CCM_TFTP	2
#define TLV_ROLE_TFTP		3
#define TLV_ROLE_CAPF		4
#define TLV_ROLE_SRST		5
#define TLV_ROLE_APP_SERVER	7
#define TLV_ROLE_TVS		21

/* A byte run borrowed from the parsed file; p == NULL when absent. */
struct sgn_bytes {
	const uint8_t	*p;
	size_t		 len;
};

struct sgn_enc {
	uint16_t	 info_len;	/* tag 16 container length */
	uint16_t	 iv_info_len;	/* tag 17 container length */
	uint16_t	 key_info_len;	/* tag 21 container length */
	int		 unk18;		/* tag 18, always 0; -1 absent */
	int		 unk22;		/* tag 22, always 0; -1 absent */
	int		 key_alg;	/* tag 24, 1 = AES-128-CBC; -1 absent */
	struct sgn_bytes iv;		/* tag 19, 16 bytes */
	int		 pad_count;	/* tag 20; -1 absent */
	int		 wrapped_bits;	/* tag 23; -1 absent */
	struct sgn_bytes wrapped_key;	/* tag 25 */
	int		 pt_hash_alg;	/* tag 26; -1 absent */
	struct sgn_bytes pt_hash;	/* tag 27 */
};

struct sgn_header {
	uint8_t		 ver_major, ver_minor;	/* tag 1 */
	uint16_t	 hdr_len;		/* tag 2 */
	int		 has_signer_ver;	/* tag 28 present */
	uint8_t		 sver_major, sver_minor;	/* tag 28 */
	const char	*signer_name;		/* tag 4; NULL absent */
	const char	*issuer_name;		/* tag 6; NULL absent */
	struct sgn_bytes serial;		/* tag 5 */
	int		 hash_alg;		/* tag 8; -1 absent */
	int		 sig_alg;		/* tag 10; -1 absent */
	int		 sig_modulus;		/* tag 11; -1 absent */
	struct sgn_bytes sig;			/* tag 12 value */
	size_t		 sig_off;		/* offset of the tag 12 byte */
	const char	*filename;		/* tag 14; NULL absent */
	int		 has_timestamp;
	uint32_t	 timestamp;		/* tag 15 */
	int		 has_enc;		/* tag 16 present */
	struct sgn_enc	 enc;
	size_t		 npad;			/* tag 13 bytes */
};

struct tlv_record {
	size_t		 off;		/* offset of the record in the file */
	uint16_t	 len;		/* tag 1: whole record */
	const char	*dns;		/* tag 2; NULL absent */
	const char	*subject;	/* tag 3 */
	int		 role;		/* tag 4; -1 absent */
	const char	*issuer;	/* tag 5 */
	struct sgn_bytes serial;	/* tag 6 */
	struct sgn_bytes pubkey;	/* tag 7 */
	struct sgn_bytes sig;		/* tag 8: the certificate's signature */
	struct sgn_bytes cert;		/* tag 9: DER certificate */
	struct sgn_bytes ip;		/* tag 10 */
	struct sgn_bytes certhash;	/* tag 11 */
	int		 hash_alg;	/* tag 12; -1 absent */
};

struct sgn_file {
	enum sgn_kind	 kind;
	uint8_t		*buf;		/* owned copy of the whole file */
	size_t		 len;
	struct sgn_header h;
	struct tlv_record *recs;	/* .tlv only; owned */
	size_t		 nrecs;
	const uint8_t	*body;		/* buf + h.hdr_len */
	size_t		 body_len;
};

/* Input for one trust-list record. */
struct tlv_record_in {
	X509		*cert;		/* borrowed */
	int		 role;
	const char	*dns;		/* NULL: omit tag 2 */
	int		 has_ip;
	uint8_t		 ip[4];		/* tag 10, IPv4 */
};

/* Input for the encryption elements of an .enc.sgn (4.1). */
struct sgn_enc_in {
	uint8_t		 iv[16];
	uint16_t	 pad_count;
	const uint8_t	*wrapped_key;
	size_t		 wrapped_len;
	int		 pt_hash_alg;
	const uint8_t	*pt_hash;
	size_t		 pt_hash_len;
};

struct sgn_build {
	enum sgn_kind	 kind;		/* TLV, SGN or ENC */
	enum signer_md	 md;		/* SHA-1 or SHA-512 */
	const char	*filename;	/* tag 14 */
	uint32_t	 timestamp;	/* tag 15 */
	uint8_t		 sver_major;	/* tag 28, .tlv only */
	uint8_t		 sver_minor;
	const struct sgn_enc_in *enc;	/* .enc.sgn only */
};

int	 sgn_parse(const uint8_t *, size_t, enum sgn_kind, struct sgn_file **);
void	 sgn_free(struct sgn_file *);
int	 sgn_verify(const struct sgn_file *, X509 *);
int	 sgn_build(const struct sgn_build *, const uint8_t *, size_t,
	    struct signer *, uint8_t **, size_t *);
int	 sgn_hash_md(int, enum signer_md *);
const char *sgn_hash_name(int);
const char *sgn_kind_name(enum sgn_kind);

int	 tlv_find_signer(const struct sgn_file *, size_t *);
int	 tlv_verify(const struct sgn_file *, size_t *);
int	 tlv_record_encode(struct wbuf *, const struct tlv_record_in *);
const char *tlv_role_name(int);
const char *tlv_role_text(int, char *, size_t);
int	 tlv_sast_next(const struct sgn_file *, const struct sgn_bytes *,
	    size_t *);
int	 tlv_role_parse(const char *, int *);

#endif /* UCSEC_SGN_H */
