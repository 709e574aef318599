/*
 * CAPF protocol version 3 message codec and certificate-authentication
 * crypto (specs/capf-protocol.md); see capfmsg.h for the contract.
 * Every read of a message goes through the cursor.
 *
 * Error codes (negative UC_ERR_*, detail via uc_errdetail()):
 *   UC_ERR_TRUNCATED	header or element ends before its length says
 *   UC_ERR_FORMAT	wrong protocol id, trailing bytes, element of the
 *			wrong size or shape, repeated tag, bad public key
 *   UC_ERR_SIGNATURE	a signature does not verify
 *   UC_ERR_UNSUPPORTED	key type other than RSA or EC
 *   UC_ERR_ARG		bad digest, empty input, buffer too small
 *   UC_ERR_CRYPTO	OpenSSL failure
 *   UC_ERR_ALLOC	out of memory
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "capfmsg.h"
#include "cursor.h"
#include "uerr.h"

#define CAPF_CMD__MAX	24	/* commands 1-23 (spec 3) */
#define CAPF_TAG__MAX	21	/* tags 1-20 (spec 4) */
#define CAPF_CERT_HDR	5	/* inner tag, inner length, 2 bytes (5.3) */
#define CAPF_SHA2_HDR	3	/* algorithm, signature length (5.5) */
#define CAPF_SUDI_NSUB	3	/* SUDI sub-fields (5.6) */
#define CAPF_ELEM_MAX	65535	/* a 16-bit element length */
#define CAPF_DIGEST_MAX	64	/* SHA-512 */

/* Tags the parser stores; every other tag is skipped and counted. */
#define CAPF_KNOWN_TAGS	((1u << CAPF_T_REASON) | (1u << CAPF_T_REASON_INFO) | \
	(1u << CAPF_T_CERT_TYPE) | (1u << CAPF_T_CERT) | \
	(1u << CAPF_T_SIGNED_DATA) | (1u << CAPF_T_VERSION) | \
	(1u << CAPF_T_AUTH_TYPE) | (1u << CAPF_T_PUBKEY) | \
	(1u << CAPF_T_KEY_SIZE) | (1u << CAPF_T_PASSWORD) | \
	(1u << CAPF_T_DEVICE) | (1u << CAPF_T_SUDI) | \
	(1u << CAPF_T_KEY_TYPE) | (1u << CAPF_T_CURVE) | \
	(1u << CAPF_T_SHA2_SIGNED))

static const char *const cmd_names[CAPF_CMD__MAX] = {
	NULL,
	"AUTH_REQUEST",
	"AUTH_RESPONSE",
	"KEY_GENERATE_REQUEST",
	"KEY_GENERATE_RESPONSE",
	"ENCRYPT_RESPONSE",
	"ENCRYPT_REQUEST",
	"DECRYPT_REQUEST",
	"DECRYPT_RESPONSE",
	"STORE_CERTIFICATE_REQUEST",
	"STORE_CERTIFICATE_RESPONSE",
	"FETCH_CERTIFICATE_REQUEST",
	"FETCH_CERTIFICATE_RESPONSE",
	"DELETE_CERTIFICATE_REQUEST",
	"DELETE_CERTIFICATE_RESPONSE",
	"END_SESSION",
	"RETRY_LATER",
	"REQUEST_IN_PROGRESS",
	"STATUS_REQUEST",
	"STATUS_RESPONSE",
	"ABORT_REQUEST",
	"ABORT_RESPONSE",
	"SIGN_CERTIFICATE_REQUEST",
	"SIGN_CERTIFICATE_RESPONSE",
};

static const char *const tag_names[CAPF_TAG__MAX] = {
	NULL,
	"reason",
	"reason info",
	"certificate type",
	"certificate",
	"certificate id",
	"signed data",
	"version",
	"auth type",
	"public key",
	"key size",
	"password",
	"retry delay",
	"device name",
	NULL,
	NULL,
	"SUDI data",
	"key type",
	"curve",
	"digest type",
	"SHA-2 signed data",
};

/* Name of a command code for logs (spec 3); "unknown" if none. */
const char *
capf_cmd_name(unsigned cmd)
{
	if (cmd >= CAPF_CMD__MAX || cmd_names[cmd] == NULL)
		return "unknown";
	return cmd_names[cmd];
}

/* Name of an element tag for logs (spec 4); "unknown" if none. */
const char *
capf_tag_name(unsigned tag)
{
	if (tag >= CAPF_TAG__MAX || tag_names[tag] == NULL)
		return "unknown";
	return tag_names[tag];
}

/*
 * Parse the 8-byte header at the start of buf (spec 2): protocol id,
 * command, session id, payload length.  Any output may be NULL.  buf may
 * be longer than the header.  Returns 0, UC_ERR_TRUNCATED (fewer than 8
 * bytes) or UC_ERR_FORMAT (protocol id not 0x55).
 */
int
capf_hdr_parse(const uint8_t *buf, size_t len, uint8_t *cmd,
    uint32_t *session, uint16_t *paylen)
{
	struct cursor	 c;
	uint8_t		 id, cm;
	uint32_t	 sess;
	uint16_t	 pl;

	cur_init(&c, buf, len);
	id = cur_u8(&c);
	cm = cur_u8(&c);
	sess = cur_u32(&c);
	pl = cur_u16(&c);
	if (!cur_ok(&c))
		return uc_fail(UC_ERR_TRUNCATED, "CAPF header of %zu bytes: "
		    "shorter than %d (spec 2)", len, CAPF_HDR_LEN);
	if (id != CAPF_PROTO_ID)
		return uc_fail(UC_ERR_FORMAT, "CAPF header at offset 0: "
		    "protocol id 0x%02x, expected 0x%02x (spec 2)", id,
		    CAPF_PROTO_ID);
	if (cmd != NULL)
		*cmd = cm;
	if (session != NULL)
		*session = sess;
	if (paylen != NULL)
		*paylen = pl;
	return 0;
}

/* Fail naming the element: "CAPF element T (name) at offset N: why". */
static int
elem_fail(int code, unsigned tag, size_t off, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int
elem_fail(int code, unsigned tag, size_t off, const char *fmt, ...)
{
	char	 why[256];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	return uc_fail(code, "CAPF element %u (%s) at offset %zu: %s", tag,
	    capf_tag_name(tag), off, why);
}

/* The rest of v as bytes; len 0 gives a NULL pointer. */
static struct capf_bytes
rest_bytes(struct cursor *v)
{
	struct capf_bytes	 b;

	b.len = cur_left(v);
	b.p = b.len > 0 ? cur_bytes(v, b.len) : NULL;
	return b;
}

/* A fixed-size integer element (spec 5.1): exactly want bytes. */
static int
parse_int(struct cursor *v, unsigned tag, size_t off, size_t want,
    uint16_t *out)
{
	if (cur_left(v) != want)
		return elem_fail(UC_ERR_FORMAT, tag, off, "length %zu, "
		    "expected %zu (spec 5.1)", cur_left(v), want);
	*out = want == 1 ? cur_u8(v) : cur_u16(v);
	return 0;
}

/*
 * A string element (spec 5.2): one terminating NUL, no NUL before it,
 * at most max bytes with the NUL.  out->len excludes the NUL.
 */
static int
parse_str(struct cursor *v, unsigned tag, size_t off, size_t max,
    struct capf_bytes *out)
{
	size_t		 n = cur_left(v);
	const uint8_t	*p;

	if (n == 0)
		return elem_fail(UC_ERR_FORMAT, tag, off, "empty, not even "
		    "a NUL (spec 5.2)");
	if (n > max)
		return elem_fail(UC_ERR_FORMAT, tag, off, "%zu bytes, over "
		    "the limit of %zu (spec 5.2)", n, max);
	p = cur_bytes(v, n);
	if (p == NULL || p[n - 1] != '\0')
		return elem_fail(UC_ERR_FORMAT, tag, off, "no terminating "
		    "NUL (spec 5.2)");
	if (memchr(p, '\0', n - 1) != NULL)
		return elem_fail(UC_ERR_FORMAT, tag, off, "NUL inside the "
		    "string (spec 5.2)");
	out->p = p;
	out->len = n - 1;
	return 0;
}

/* A raw byte element that must not be empty (signature, public key). */
static int
parse_raw(struct cursor *v, unsigned tag, size_t off, struct capf_bytes *out)
{
	if (cur_left(v) == 0)
		return elem_fail(UC_ERR_FORMAT, tag, off, "empty value");
	*out = rest_bytes(v);
	return 0;
}

/*
 * Certificate (spec 5.3): inner tag 1, inner length = value length - 3,
 * two bytes not interpreted, then the DER (not empty).
 */
static int
parse_cert(struct cursor *v, size_t off, struct capf_bytes *out)
{
	size_t		 n = cur_left(v);
	uint8_t		 itag;
	uint16_t	 ilen;

	if (n <= CAPF_CERT_HDR)
		return elem_fail(UC_ERR_FORMAT, CAPF_T_CERT, off, "%zu bytes, "
		    "no room for the %d-byte inner header and a certificate "
		    "(spec 5.3)", n, CAPF_CERT_HDR);
	itag = cur_u8(v);
	ilen = cur_u16(v);
	if (itag != 1)
		return elem_fail(UC_ERR_FORMAT, CAPF_T_CERT, off, "inner tag "
		    "%u, expected 1 (spec 5.3)", itag);
	if (ilen != n - 3)
		return elem_fail(UC_ERR_FORMAT, CAPF_T_CERT, off, "inner "
		    "length %u, expected %zu (spec 5.3)", ilen, n - 3);
	(void)cur_skip(v, 2);
	*out = rest_bytes(v);
	return 0;
}

/* SHA-2 signed data (spec 5.5): algorithm, signature length, signature. */
static int
parse_sha2(struct cursor *v, size_t off, struct capf_msg *m)
{
	size_t		 n = cur_left(v);
	uint16_t	 slen;

	if (n <= CAPF_SHA2_HDR)
		return elem_fail(UC_ERR_FORMAT, CAPF_T_SHA2_SIGNED, off,
		    "%zu bytes, no room for algorithm, length and signature "
		    "(spec 5.5)", n);
	m->sha2_alg = cur_u8(v);
	slen = cur_u16(v);
	if (slen != n - CAPF_SHA2_HDR)
		return elem_fail(UC_ERR_FORMAT, CAPF_T_SHA2_SIGNED, off,
		    "signature length %u, expected %zu (spec 5.5)", slen,
		    n - CAPF_SHA2_HDR);
	m->sha2_sig = rest_bytes(v);
	return 0;
}

/*
 * SUDI data (spec 5.6): three type|length|value sub-fields that fill the
 * element exactly: certificate, SHA-1 signature, SHA-512 signature.
 */
static int
parse_sudi(struct cursor *v, size_t off, struct capf_msg *m)
{
	struct capf_bytes	*val[CAPF_SUDI_NSUB] = { &m->sudi_cert,
				    &m->sudi_sig1, &m->sudi_sig2 };
	uint8_t			 type[CAPF_SUDI_NSUB];
	struct cursor		 s;
	uint16_t		 len;
	int			 i;

	for (i = 0; i < CAPF_SUDI_NSUB; i++) {
		type[i] = cur_u8(v);
		len = cur_u16(v);
		if (!cur_ok(v))
			return elem_fail(UC_ERR_FORMAT, CAPF_T_SUDI, off,
			    "sub-field %d header truncated (spec 5.6)", i + 1);
		if (len == 0 || !cur_sub(v, len, &s))
			return elem_fail(UC_ERR_FORMAT, CAPF_T_SUDI, off,
			    "sub-field %d length %u: %s (spec 5.6)", i + 1,
			    len, len == 0 ? "empty" : "past the element");
		*val[i] = rest_bytes(&s);
	}
	if (cur_left(v) != 0)
		return elem_fail(UC_ERR_FORMAT, CAPF_T_SUDI, off, "%zu bytes "
		    "after the third sub-field (spec 5.6)", cur_left(v));
	m->sudi_sig1_type = type[1];
	m->sudi_sig2_type = type[2];
	return 0;
}

/* One byte-sized value into its field. */
static uint8_t *
u8_field(struct capf_msg *m, unsigned tag)
{
	switch (tag) {
	case CAPF_T_REASON:
		return &m->reason;
	case CAPF_T_CERT_TYPE:
		return &m->cert_type;
	case CAPF_T_VERSION:
		return &m->version;
	case CAPF_T_AUTH_TYPE:
		return &m->auth_type;
	case CAPF_T_KEY_TYPE:
		return &m->key_type;
	default:
		return &m->curve;
	}
}

/* Store the value of known tag at offset off; v holds exactly the value. */
static int
parse_elem(struct capf_msg *m, unsigned tag, size_t off, struct cursor *v)
{
	uint16_t	 x = 0;
	int		 r;

	switch (tag) {
	case CAPF_T_REASON_INFO:
		m->reason_info = rest_bytes(v);
		return 0;
	case CAPF_T_CERT:
		return parse_cert(v, off, &m->cert);
	case CAPF_T_SIGNED_DATA:
		return parse_raw(v, tag, off, &m->signed_data);
	case CAPF_T_PUBKEY:
		return parse_raw(v, tag, off, &m->pubkey);
	case CAPF_T_KEY_SIZE:
		if ((r = parse_int(v, tag, off, 2, &x)) == 0)
			m->key_size = x;
		return r;
	case CAPF_T_PASSWORD:
		return parse_str(v, tag, off, CAPF_PASSWORD_MAX, &m->password);
	case CAPF_T_DEVICE:
		return parse_str(v, tag, off, CAPF_NAME_MAX, &m->device);
	case CAPF_T_SUDI:
		return parse_sudi(v, off, m);
	case CAPF_T_SHA2_SIGNED:
		return parse_sha2(v, off, m);
	default:	/* 1, 3, 7, 8, 17, 18 */
		if ((r = parse_int(v, tag, off, 1, &x)) == 0)
			*u8_field(m, tag) = (uint8_t)x;
		return r;
	}
}

/*
 * Parse one whole message of exactly len bytes (spec 2, 4, 5) into m.
 * The fields of m point into buf, which must outlive them.  Returns 0
 * or a negative UC_ERR_* code; m is cleared first either way.
 */
int
capf_msg_parse(const uint8_t *buf, size_t len, struct capf_msg *m)
{
	struct cursor	 c, v;
	size_t		 off;
	unsigned	 tag;
	uint16_t	 elen;
	int		 r;

	memset(m, 0, sizeof(*m));
	if ((r = capf_hdr_parse(buf, len, &m->cmd, &m->session,
	    &m->paylen)) != 0)
		return r;
	if (m->paylen != len - CAPF_HDR_LEN)
		return uc_fail(m->paylen > len - CAPF_HDR_LEN ?
		    UC_ERR_TRUNCATED : UC_ERR_FORMAT, "CAPF %s at offset 6: "
		    "payload length %u, but %zu bytes follow the header "
		    "(spec 2)", capf_cmd_name(m->cmd), m->paylen,
		    len - CAPF_HDR_LEN);
	cur_init(&c, buf, len);
	(void)cur_skip(&c, CAPF_HDR_LEN);
	while (cur_left(&c) > 0) {
		off = cur_offset(&c);
		tag = cur_u8(&c);
		elen = cur_u16(&c);
		if (!cur_ok(&c))
			return uc_fail(UC_ERR_TRUNCATED, "CAPF element at "
			    "offset %zu: header truncated (spec 2)", off);
		if (!cur_sub(&c, elen, &v))
			return elem_fail(UC_ERR_TRUNCATED, tag, off, "length "
			    "%u, but only %zu bytes left (spec 2)", elen,
			    len - off - 3);
		if (tag >= 32 || !((CAPF_KNOWN_TAGS >> tag) & 1u)) {
			if (m->nunknown++ == 0)
				m->unknown_tag = (uint8_t)tag;
			continue;
		}
		if (CAPF_HAS(m, tag))
			return elem_fail(UC_ERR_FORMAT, tag, off, "repeated "
			    "(spec 4)");
		if ((r = parse_elem(m, tag, off, &v)) != 0)
			return r;
		m->present |= 1u << tag;
	}
	return 0;
}

/*
 * Start a message in b, which must be empty: header with payload length
 * 0, patched by capf_build_end.  A non-empty b latches an error.
 */
void
capf_build_begin(struct wbuf *b, uint8_t cmd, uint32_t session)
{
	if (b->len != 0) {
		b->bad = 1;
		return;
	}
	wbuf_u8(b, CAPF_PROTO_ID);
	wbuf_u8(b, cmd);
	wbuf_u32(b, session);
	wbuf_u16(b, 0);
}

/* Element header; latches an error if the value cannot fit in 16 bits. */
static void
put_hdr(struct wbuf *b, uint8_t tag, size_t len)
{
	if (len > CAPF_ELEM_MAX) {
		b->bad = 1;
		return;
	}
	wbuf_u8(b, tag);
	wbuf_u16(b, (uint16_t)len);
}

void
capf_put_u8(struct wbuf *b, uint8_t tag, uint8_t v)
{
	put_hdr(b, tag, 1);
	wbuf_u8(b, v);
}

void
capf_put_u16(struct wbuf *b, uint8_t tag, uint16_t v)
{
	put_hdr(b, tag, 2);
	wbuf_u16(b, v);
}

void
capf_put_raw(struct wbuf *b, uint8_t tag, const void *p, size_t len)
{
	put_hdr(b, tag, len);
	wbuf_put(b, p, len);
}

/* A string element with its terminating NUL (spec 5.2). */
void
capf_put_str(struct wbuf *b, uint8_t tag, const char *s)
{
	capf_put_raw(b, tag, s, strlen(s) + 1);
}

/*
 * Certificate element (spec 5.3) as the reference writes it: inner tag
 * 1, inner length N + 2, bytes 00 01, then the N bytes of DER.
 */
void
capf_put_cert(struct wbuf *b, const uint8_t *der, size_t len)
{
	if (len > CAPF_ELEM_MAX - CAPF_CERT_HDR) {
		b->bad = 1;
		return;
	}
	put_hdr(b, CAPF_T_CERT, len + CAPF_CERT_HDR);
	wbuf_u8(b, 1);
	wbuf_u16(b, (uint16_t)(len + 2));
	wbuf_u8(b, 0);
	wbuf_u8(b, 1);
	wbuf_put(b, der, len);
}

/* SHA-2 signed data (spec 5.5) with algorithm 3 (SHA-512). */
void
capf_put_sha2(struct wbuf *b, const uint8_t *sig, size_t len)
{
	if (len > CAPF_ELEM_MAX - CAPF_SHA2_HDR) {
		b->bad = 1;
		return;
	}
	put_hdr(b, CAPF_T_SHA2_SIGNED, len + CAPF_SHA2_HDR);
	wbuf_u8(b, CAPF_HASH_SHA512);
	wbuf_u16(b, (uint16_t)len);
	wbuf_put(b, sig, len);
}

/*
 * SUDI data (spec 5.6) with capfc's sub-field types: 0 certificate,
 * 1 SHA-1 signature, 3 SHA-512 signature.
 */
void
capf_put_sudi(struct wbuf *b, const uint8_t *cert, size_t certlen,
    const uint8_t *sig1, size_t sig1len, const uint8_t *sig2, size_t sig2len)
{
	if (certlen > CAPF_ELEM_MAX || sig1len > CAPF_ELEM_MAX ||
	    sig2len > CAPF_ELEM_MAX) {
		b->bad = 1;
		return;
	}
	put_hdr(b, CAPF_T_SUDI, 3 * CAPF_SUDI_NSUB + certlen + sig1len +
	    sig2len);
	wbuf_u8(b, 0);
	wbuf_u16(b, (uint16_t)certlen);
	wbuf_put(b, cert, certlen);
	wbuf_u8(b, CAPF_HASH_SHA1);
	wbuf_u16(b, (uint16_t)sig1len);
	wbuf_put(b, sig1, sig1len);
	wbuf_u8(b, CAPF_HASH_SHA512);
	wbuf_u16(b, (uint16_t)sig2len);
	wbuf_put(b, sig2, sig2len);
}

/*
 * Finish the message begun in b: patch the payload length.  Returns 0,
 * or UC_ERR_FORMAT if any append failed (element over 65535 bytes, the
 * wbuf's cap, out of memory), there is no header, or the payload is
 * over CAPF_PAYLOAD_MAX.  The message is b->data, b->len bytes.
 */
int
capf_build_end(struct wbuf *b)
{
	if (!wbuf_ok(b))
		return uc_fail(UC_ERR_FORMAT, "CAPF message: an element is "
		    "over 65535 bytes, the buffer cap was reached, the buffer "
		    "was not empty at capf_build_begin, or out of memory");
	if (b->len < CAPF_HDR_LEN)
		return uc_fail(UC_ERR_FORMAT, "CAPF message: no header "
		    "(capf_build_begin not called)");
	if (b->len - CAPF_HDR_LEN > CAPF_PAYLOAD_MAX)
		return uc_fail(UC_ERR_FORMAT, "CAPF message: payload of %zu "
		    "bytes, over %d (spec 2)", b->len - CAPF_HDR_LEN,
		    CAPF_PAYLOAD_MAX);
	wbuf_set_u16(b, 6, (uint16_t)(b->len - CAPF_HDR_LEN));
	return 0;
}

/* Concatenate a and b into a fresh buffer (caller frees). */
static int
concat(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen,
    uint8_t **out, size_t *outlen)
{
	uint8_t	*p;

	*out = NULL;
	*outlen = 0;
	if (blen == 0 || b == NULL)
		return uc_fail(UC_ERR_ARG, "CAPF auth data: empty "
		    "certificate (spec 8.3)");
	if (alen > SIZE_MAX - blen || (p = malloc(alen + blen)) == NULL)
		return uc_fail(UC_ERR_ALLOC, "CAPF auth data");
	memcpy(p, a, alen);
	memcpy(p + alen, b, blen);
	*out = p;
	*outlen = alen + blen;
	return 0;
}

/*
 * Auth data for certificate authentication (spec 8.3 step 2): the device
 * name, one NUL, the certificate DER.  Stores a malloc'd buffer the
 * caller frees in *out.  Returns 0, UC_ERR_ARG or UC_ERR_ALLOC.
 */
int
capf_auth_data(const char *device, const uint8_t *der, size_t derlen,
    uint8_t **out, size_t *outlen)
{
	return concat((const uint8_t *)device, strlen(device) + 1, der,
	    derlen, out, outlen);
}

/*
 * Auth data for the SUDI signatures (spec 8.4 step 4): the session id
 * as 4 bytes little-endian, then the SUDI certificate DER.  Caller frees
 * *out.  Returns 0, UC_ERR_ARG or UC_ERR_ALLOC.
 */
int
capf_sudi_data(uint32_t session, const uint8_t *der, size_t derlen,
    uint8_t **out, size_t *outlen)
{
	uint8_t	 le[4] = { session & 0xff, (session >> 8) & 0xff,
		    (session >> 16) & 0xff, session >> 24 };

	return concat(le, sizeof(le), der, derlen, out, outlen);
}

/* Digest of data with md into dgst (CAPF_DIGEST_MAX bytes). */
static int
digest(enum signer_md md, const uint8_t *data, size_t len, uint8_t *dgst,
    unsigned *dlen)
{
	const EVP_MD	*evp;

	if ((evp = signer_evp_md(md)) == NULL)
		return uc_fail(UC_ERR_ARG, "CAPF signature: bad digest %d",
		    (int)md);
	if ((size_t)EVP_MD_get_size(evp) > CAPF_DIGEST_MAX ||
	    EVP_Digest(data, len, dgst, dlen, evp, NULL) != 1)
		return uc_fail_ssl(UC_ERR_CRYPTO, "CAPF signature: %s digest",
		    signer_md_name(md));
	return 0;
}

/* A fresh RSA context with PKCS#1 padding and no digest set. */
static EVP_PKEY_CTX *
rsa_ctx(EVP_PKEY *pk, int verify)
{
	EVP_PKEY_CTX	*ctx;

	/* Not _from_pkey: EVP_PKEY_CTX_new also serves engine (token) keys. */
	if ((ctx = EVP_PKEY_CTX_new(pk, NULL)) == NULL)
		return NULL;
	if ((verify ? EVP_PKEY_verify_recover_init(ctx) :
	    EVP_PKEY_sign_init(ctx)) != 1 ||
	    EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) != 1) {
		EVP_PKEY_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

/*
 * Bare-hash RSA verify (spec 8.3 step 4): recover the block-type-1
 * payload (OpenSSL checks 00 01 FF.. 00) and require it to be exactly
 * the digest.
 */
static int
rsa_verify(EVP_PKEY *pk, enum signer_md md, const uint8_t *data, size_t len,
    const uint8_t *sig, size_t siglen)
{
	EVP_PKEY_CTX	*ctx = NULL;
	uint8_t		 dgst[CAPF_DIGEST_MAX], *rec = NULL;
	size_t		 reclen, ksize = (size_t)EVP_PKEY_get_size(pk);
	unsigned	 dlen;
	int		 r;

	if ((r = digest(md, data, len, dgst, &dlen)) != 0)
		goto out;
	r = UC_ERR_SIGNATURE;
	if (siglen != ksize) {
		uc_fail(r, "CAPF %s signature: %zu bytes, the RSA modulus has "
		    "%zu (spec 8.3)", signer_md_name(md), siglen, ksize);
		goto out;
	}
	if ((rec = malloc(ksize)) == NULL) {
		r = uc_fail(UC_ERR_ALLOC, "CAPF signature");
		goto out;
	}
	reclen = ksize;
	if ((ctx = rsa_ctx(pk, 1)) == NULL) {
		r = uc_fail_ssl(UC_ERR_CRYPTO, "CAPF signature: RSA context");
		goto out;
	}
	if (EVP_PKEY_verify_recover(ctx, rec, &reclen, sig, siglen) != 1 ||
	    reclen != dlen || CRYPTO_memcmp(rec, dgst, dlen) != 0) {
		uc_fail_ssl(r, "CAPF %s signature: RSA recovery does not give "
		    "the bare %u-byte digest (spec 8.3)", signer_md_name(md),
		    dlen);
		goto out;
	}
	r = 0;
out:
	EVP_PKEY_CTX_free(ctx);
	free(rec);
	return r;
}

/* Ordinary DER ECDSA verify (spec 8.3 step 5). */
static int
ec_verify(EVP_PKEY *pk, enum signer_md md, const uint8_t *data, size_t len,
    const uint8_t *sig, size_t siglen)
{
	EVP_MD_CTX	*mctx;
	const EVP_MD	*evp;
	int		 ok;

	if ((evp = signer_evp_md(md)) == NULL)
		return uc_fail(UC_ERR_ARG, "CAPF signature: bad digest %d",
		    (int)md);
	if ((mctx = EVP_MD_CTX_new()) == NULL)
		return uc_fail(UC_ERR_ALLOC, "EVP_MD_CTX_new");
	if (EVP_DigestVerifyInit(mctx, NULL, evp, NULL, pk) != 1) {
		EVP_MD_CTX_free(mctx);
		return uc_fail_ssl(UC_ERR_CRYPTO, "CAPF signature: ECDSA "
		    "verify init");
	}
	ok = EVP_DigestVerify(mctx, sig, siglen, data, len) == 1;
	EVP_MD_CTX_free(mctx);
	if (!ok)
		return uc_fail_ssl(UC_ERR_SIGNATURE, "CAPF %s signature: ECDSA "
		    "does not verify (spec 8.3)", signer_md_name(md));
	return 0;
}

/*
 * Verify a phone's signature over data with public key pk and digest md
 * (spec 8.3, 8.4): bare-hash block type 1 for RSA, DER ECDSA for EC.
 * Returns 0, UC_ERR_SIGNATURE, UC_ERR_UNSUPPORTED (other key types),
 * UC_ERR_ARG, UC_ERR_ALLOC or UC_ERR_CRYPTO.
 */
int
capf_sig_verify(EVP_PKEY *pk, enum signer_md md, const uint8_t *data,
    size_t len, const uint8_t *sig, size_t siglen)
{
	if (sig == NULL || siglen == 0)
		return uc_fail(UC_ERR_SIGNATURE, "CAPF %s signature: empty",
		    signer_md_name(md));
	if (EVP_PKEY_is_a(pk, "RSA"))
		return rsa_verify(pk, md, data, len, sig, siglen);
	if (EVP_PKEY_is_a(pk, "EC"))
		return ec_verify(pk, md, data, len, sig, siglen);
	return uc_fail(UC_ERR_UNSUPPORTED, "CAPF signature: %s key, only RSA "
	    "and EC (spec 8.3)", EVP_PKEY_get0_type_name(pk) != NULL ?
	    EVP_PKEY_get0_type_name(pk) : "unknown");
}

/* Bare-hash RSA signature: block type 1 over the raw digest. */
static int
rsa_sign(EVP_PKEY *pk, enum signer_md md, const uint8_t *data, size_t len,
    uint8_t *sig, size_t *siglen)
{
	EVP_PKEY_CTX	*ctx;
	uint8_t		 dgst[CAPF_DIGEST_MAX];
	unsigned	 dlen;
	int		 r;

	if ((r = digest(md, data, len, dgst, &dlen)) != 0)
		return r;
	if ((ctx = rsa_ctx(pk, 0)) == NULL)
		return uc_fail_ssl(UC_ERR_CRYPTO, "CAPF signature: RSA "
		    "context");
	if (EVP_PKEY_sign(ctx, sig, siglen, dgst, dlen) != 1)
		r = uc_fail_ssl(UC_ERR_CRYPTO, "CAPF %s signature: RSA "
		    "signing", signer_md_name(md));
	EVP_PKEY_CTX_free(ctx);
	return r;
}

/* Ordinary DER ECDSA signature. */
static int
ec_sign(EVP_PKEY *pk, enum signer_md md, const uint8_t *data, size_t len,
    uint8_t *sig, size_t *siglen)
{
	EVP_MD_CTX	*mctx;
	const EVP_MD	*evp;
	int		 r = 0;

	if ((evp = signer_evp_md(md)) == NULL)
		return uc_fail(UC_ERR_ARG, "CAPF signature: bad digest %d",
		    (int)md);
	if ((mctx = EVP_MD_CTX_new()) == NULL)
		return uc_fail(UC_ERR_ALLOC, "EVP_MD_CTX_new");
	if (EVP_DigestSignInit(mctx, NULL, evp, NULL, pk) != 1 ||
	    EVP_DigestSign(mctx, sig, siglen, data, len) != 1)
		r = uc_fail_ssl(UC_ERR_CRYPTO, "CAPF %s signature: ECDSA "
		    "signing", signer_md_name(md));
	EVP_MD_CTX_free(mctx);
	return r;
}

/*
 * The phone side of capf_sig_verify: sign data with private key pk and
 * digest md.  sig holds *siglen bytes on entry (EVP_PKEY_get_size(pk)
 * is always enough); on success *siglen is the signature length.
 * Returns 0, UC_ERR_ARG (buffer too small, bad digest),
 * UC_ERR_UNSUPPORTED, UC_ERR_ALLOC or UC_ERR_CRYPTO.
 */
int
capf_sig_sign(EVP_PKEY *pk, enum signer_md md, const uint8_t *data,
    size_t len, uint8_t *sig, size_t *siglen)
{
	int	 ksize = EVP_PKEY_get_size(pk);

	if (ksize <= 0 || *siglen < (size_t)ksize)
		return uc_fail(UC_ERR_ARG, "CAPF signature: buffer of %zu "
		    "bytes, need %d", *siglen, ksize);
	if (EVP_PKEY_is_a(pk, "RSA"))
		return rsa_sign(pk, md, data, len, sig, siglen);
	if (EVP_PKEY_is_a(pk, "EC"))
		return ec_sign(pk, md, data, len, sig, siglen);
	return uc_fail(UC_ERR_UNSUPPORTED, "CAPF signature: %s key, only RSA "
	    "and EC (spec 8.3)", EVP_PKEY_get0_type_name(pk) != NULL ?
	    EVP_PKEY_get0_type_name(pk) : "unknown");
}

/*
 * Decode the public key of element 9 (spec 5.4): DER SubjectPublicKeyInfo,
 * else a DER PKCS#1 RSAPublicKey.  Either must use all len bytes.  The
 * caller checks the key type and size.  Stores the key (caller frees
 * with EVP_PKEY_free) in *out.  Returns 0 or UC_ERR_FORMAT.
 */
int
capf_pubkey_parse(const uint8_t *der, size_t len, EVP_PKEY **out)
{
	const unsigned char	*p;
	EVP_PKEY		*pk;
	const char		*form;

	*out = NULL;
	if (der == NULL || len == 0 || len > CAPF_PAYLOAD_MAX)
		return uc_fail(UC_ERR_FORMAT, "CAPF public key (element 9): "
		    "%zu bytes (spec 5.4)", len);
	p = der;
	form = "SubjectPublicKeyInfo";
	if ((pk = d2i_PUBKEY(NULL, &p, (long)len)) == NULL) {
		p = der;
		form = "PKCS#1 RSAPublicKey";
		pk = d2i_PublicKey(EVP_PKEY_RSA, NULL, &p, (long)len);
	}
	ERR_clear_error();
	if (pk == NULL)
		return uc_fail(UC_ERR_FORMAT, "CAPF public key (element 9): "
		    "%zu bytes, neither a DER SubjectPublicKeyInfo nor a "
		    "PKCS#1 RSAPublicKey (spec 5.4)", len);
	if ((size_t)(p - der) != len) {
		EVP_PKEY_free(pk);
		return uc_fail(UC_ERR_FORMAT, "CAPF public key (element 9): "
		    "%zu trailing bytes after the %s (spec 5.4)",
		    len - (size_t)(p - der), form);
	}
	*out = pk;
	return 0;
}

/*
 * Write a parsed message back with the builder, in the element order the
 * reference peers use (spec 7: server 1, 3, 4, 7, 8, 10, 17, 18; capfc
 * 1, 3, 4, 6, 7, 11, 13, 16, 9, 20).  Unknown tags are not kept.  b is
 * initialised here; the caller frees it.
 */
int
capf_msg_rebuild(const struct capf_msg *m, struct wbuf *b)
{
	wbuf_init(b, CAPF_HDR_LEN + CAPF_PAYLOAD_MAX);
	capf_build_begin(b, m->cmd, m->session);
	if (CAPF_HAS(m, CAPF_T_REASON))
		capf_put_u8(b, CAPF_T_REASON, m->reason);
	if (CAPF_HAS(m, CAPF_T_REASON_INFO))
		capf_put_raw(b, CAPF_T_REASON_INFO, m->reason_info.p,
		    m->reason_info.len);
	if (CAPF_HAS(m, CAPF_T_CERT_TYPE))
		capf_put_u8(b, CAPF_T_CERT_TYPE, m->cert_type);
	if (CAPF_HAS(m, CAPF_T_CERT))
		capf_put_cert(b, m->cert.p, m->cert.len);
	if (CAPF_HAS(m, CAPF_T_SIGNED_DATA))
		capf_put_raw(b, CAPF_T_SIGNED_DATA, m->signed_data.p,
		    m->signed_data.len);
	if (CAPF_HAS(m, CAPF_T_VERSION))
		capf_put_u8(b, CAPF_T_VERSION, m->version);
	if (CAPF_HAS(m, CAPF_T_AUTH_TYPE))
		capf_put_u8(b, CAPF_T_AUTH_TYPE, m->auth_type);
	if (CAPF_HAS(m, CAPF_T_KEY_SIZE))
		capf_put_u16(b, CAPF_T_KEY_SIZE, m->key_size);
	if (CAPF_HAS(m, CAPF_T_PASSWORD))
		capf_put_str(b, CAPF_T_PASSWORD, (const char *)m->password.p);
	if (CAPF_HAS(m, CAPF_T_DEVICE))
		capf_put_str(b, CAPF_T_DEVICE, (const char *)m->device.p);
	if (CAPF_HAS(m, CAPF_T_SUDI))
		capf_put_sudi(b, m->sudi_cert.p, m->sudi_cert.len,
		    m->sudi_sig1.p, m->sudi_sig1.len, m->sudi_sig2.p,
		    m->sudi_sig2.len);
	if (CAPF_HAS(m, CAPF_T_PUBKEY))
		capf_put_raw(b, CAPF_T_PUBKEY, m->pubkey.p, m->pubkey.len);
	if (CAPF_HAS(m, CAPF_T_KEY_TYPE))
		capf_put_u8(b, CAPF_T_KEY_TYPE, m->key_type);
	if (CAPF_HAS(m, CAPF_T_CURVE))
		capf_put_u8(b, CAPF_T_CURVE, m->curve);
	if (CAPF_HAS(m, CAPF_T_SHA2_SIGNED))
		capf_put_sha2(b, m->sha2_sig.p, m->sha2_sig.len);
	return capf_build_end(b);
}
