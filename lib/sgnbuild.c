/*
 * Signed-header writer (signed-files.md 1.4, 1.7, 2.1, 4.1) and the role
 * table.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cert.h"
#include "sgn.h"
#include "uerr.h"
#include "wbuf.h"

static const struct {
	int		 code;
	const char	*name;
} roles[] = {
	{ TLV_ROLE_SAST, "SAST" },
	{ TLV_ROLE_CCM, "CCM" },
	{ TLV_ROLE_CCM_TFTP, "CCM+TFTP" },
	{ TLV_ROLE_TFTP, "TFTP" },
	{ TLV_ROLE_CAPF, "CAPF" },
	{ TLV_ROLE_SRST, "SRST" },
	{ TLV_ROLE_APP_SERVER, "APP-SERVER" },
	{ TLV_ROLE_TVS, "TVS" },
};

/* Name of a role code (2.2), or NULL when unknown. */
const char *
tlv_role_name(int code)
{
	size_t	 i;

	for (i = 0; i < sizeof(roles) / sizeof(roles[0]); i++)
		if (roles[i].code == code)
			return roles[i].name;
	return NULL;
}

/* Name of a role code, or "unknown (N)" written into buf. */
const char *
tlv_role_text(int code, char *buf, size_t sz)
{
	const char	*n = tlv_role_name(code);

	if (n != NULL)
		return n;
	snprintf(buf, sz, "unknown (%d)", code);
	return buf;
}

/* Role code for a name such as "ccm+tftp" (case-insensitive). */
int
tlv_role_parse(const char *name, int *code)
{
	size_t	 i;

	for (i = 0; i < sizeof(roles) / sizeof(roles[0]); i++)
		if (strcasecmp(roles[i].name, name) == 0) {
			*code = roles[i].code;
			return 0;
		}
	return uc_fail(UC_ERR_ARG, "unknown role \"%s\"", name);
}

/* Append tag, 16-bit length and value. */
static void
put_elem(struct wbuf *b, uint8_t tag, const void *p, size_t len)
{
	if (len > SGN_ELEM_MAX) {
		b->bad = 1;
		return;
	}
	wbuf_u8(b, tag);
	wbuf_u16(b, (uint16_t)len);
	wbuf_put(b, p, len);
}

static void
put_str(struct wbuf *b, uint8_t tag, const char *s)
{
	put_elem(b, tag, s, strlen(s) + 1);
}

static void
put_u8(struct wbuf *b, uint8_t tag, uint8_t v)
{
	put_elem(b, tag, &v, 1);
}

static void
put_u16(struct wbuf *b, uint8_t tag, uint16_t v)
{
	uint8_t	 p[2] = { v >> 8, v & 0xff };

	put_elem(b, tag, p, 2);
}

/*
 * Append one trust-list record for in->cert in the reference order
 * 1 [2] 3 5 6 4 7 8 9 [10] (2.1).
 */
int
tlv_record_encode(struct wbuf *b, const struct tlv_record_in *in)
{
	char		 subj[CERT_NAME_MAX], iss[CERT_NAME_MAX];
	uint8_t		 serial[CERT_SERIAL_MAX];
	uint8_t		*pub = NULL, *der = NULL;
	const uint8_t	*sig;
	size_t		 seriallen, publen, derlen, siglen, start = b->len;
	int		 r;

	if ((r = cert_name_text(X509_get_subject_name(in->cert), subj,
	    sizeof(subj))) != 0 ||
	    (r = cert_name_text(X509_get_issuer_name(in->cert), iss,
	    sizeof(iss))) != 0 ||
	    (r = cert_serial(in->cert, serial, &seriallen)) != 0 ||
	    (r = cert_pubkey_raw(in->cert, &pub, &publen)) != 0 ||
	    (r = cert_sigvalue(in->cert, &sig, &siglen)) != 0 ||
	    (r = cert_der(in->cert, &der, &derlen)) != 0)
		goto out;
	wbuf_u8(b, 1);
	wbuf_u16(b, 2);
	wbuf_u16(b, 0);			/* record length, set below */
	if (in->dns != NULL)
		put_str(b, 2, in->dns);
	put_str(b, 3, subj);
	put_str(b, 5, iss);
	put_elem(b, 6, serial, seriallen);
	put_u16(b, 4, (uint16_t)in->role);
	put_elem(b, 7, pub, publen);
	put_elem(b, 8, sig, siglen);
	put_elem(b, 9, der, derlen);
	if (in->has_ip)
		put_elem(b, 10, in->ip, 4);
	if (wbuf_ok(b) && b->len - start > 0xffff) {
		r = uc_fail(UC_ERR_FORMAT, "record for %s is %zu bytes, over "
		    "the 65535-byte limit (signed-files.md 2.1)", subj,
		    b->len - start);
		goto out;
	}
	wbuf_set_u16(b, start + 3, (uint16_t)(b->len - start));
	r = wbuf_ok(b) ? 0 : uc_fail(UC_ERR_ALLOC, "record for %s", subj);
out:
	free(pub);
	free(der);
	return r;
}

/* Modulus code for an RSA key size (1.6), or -1. */
static int
modulus_code(int bits)
{
	switch (bits) {
	case 512:
		return 0;
	case 1024:
		return 1;
	case 2048:
		return 2;
	case 4096:
		return 3;
	}
	return -1;
}

/* Header elements 3 and 7 (signer and signature info). */
static int
put_signer_info(struct wbuf *b, const struct sgn_build *p, X509 *cert,
    int modcode)
{
	char		 subj[CERT_NAME_MAX], iss[CERT_NAME_MAX];
	uint8_t		 serial[CERT_SERIAL_MAX];
	size_t		 seriallen, c3;
	int		 r;

	if ((r = cert_name_text(X509_get_subject_name(cert), subj,
	    sizeof(subj))) != 0 ||
	    (r = cert_name_text(X509_get_issuer_name(cert), iss,
	    sizeof(iss))) != 0 ||
	    (r = cert_serial(cert, serial, &seriallen)) != 0)
		return r;
	wbuf_u8(b, 3);
	c3 = b->len;
	wbuf_u16(b, 0);
	put_str(b, 4, subj);
	put_str(b, 6, iss);
	put_elem(b, 5, serial, seriallen);
	wbuf_set_u16(b, c3, (uint16_t)(b->len - c3 - 2));
	wbuf_u8(b, 7);
	wbuf_u16(b, 15);
	put_u8(b, 8, p->md == SIGNER_SHA512 ? SGN_HASH_SHA512 :
	    p->md == SIGNER_SHA256 ? SGN_HASH_SHA256 : SGN_HASH_SHA1);
	wbuf_u8(b, 9);
	wbuf_u16(b, 8);
	put_u8(b, 10, 0);
	put_u8(b, 11, (uint8_t)modcode);
	return 0;
}

/* Encryption elements 16 and 26, 27 of an .enc.sgn (4.1). */
static void
put_enc(struct wbuf *b, const struct sgn_enc_in *e)
{
	size_t	 c16, c21;

	wbuf_u8(b, 16);
	c16 = b->len;
	wbuf_u16(b, 0);
	wbuf_u8(b, 17);
	wbuf_u16(b, 28);
	put_u8(b, 18, 0);
	put_elem(b, 19, e->iv, sizeof(e->iv));
	put_u16(b, 20, e->pad_count);
	wbuf_u8(b, 21);
	c21 = b->len;
	wbuf_u16(b, 0);
	put_u8(b, 22, 0);
	put_u16(b, 23, (uint16_t)(e->wrapped_len * 8));
	put_u8(b, 24, 1);
	put_elem(b, 25, e->wrapped_key, e->wrapped_len);
	wbuf_set_u16(b, c21, (uint16_t)(b->len - c21 - 2));
	wbuf_set_u16(b, c16, (uint16_t)(b->len - c16 - 2));
	put_u8(b, 26, (uint8_t)e->pt_hash_alg);
	put_elem(b, 27, e->pt_hash, e->pt_hash_len);
}

/* Check the build parameters against the signer before writing. */
static int
build_check(const struct sgn_build *p, struct signer *s, int *modcode)
{
	int	 bits;

	if (p->kind != SGN_KIND_TLV && p->kind != SGN_KIND_SGN &&
	    p->kind != SGN_KIND_ENC)
		return uc_fail(UC_ERR_ARG, "build: bad file kind");
	if ((p->kind == SGN_KIND_ENC) != (p->enc != NULL))
		return uc_fail(UC_ERR_ARG, "build: encryption elements belong "
		    "to .enc.sgn files only");
	if (p->md != SIGNER_SHA1 && p->md != SIGNER_SHA512)
		return uc_fail(UC_ERR_UNSUPPORTED, "digest %s: phones and the "
		    "reference readers take only sha1 and sha512 "
		    "(signed-files.md 1.5)", signer_md_name(p->md));
	if (p->filename == NULL || *p->filename == '\0' ||
	    strlen(p->filename) >= 1024)
		return uc_fail(UC_ERR_ARG, "build: filename missing or too "
		    "long");
	bits = cert_rsa_bits(s->cert);
	if ((*modcode = modulus_code(bits)) < 0)
		return uc_fail(UC_ERR_UNSUPPORTED, "%s: signer key must be RSA "
		    "512, 1024, 2048 or 4096 bits, not %s %d "
		    "(signed-files.md 1.6)", s->label, cert_keytype(s->cert),
		    bits ? bits : EVP_PKEY_get_bits(X509_get0_pubkey(s->cert)));
	return 0;
}

/*
 * Build a signed file: header per 1.4 for p->kind, then body, signed by s
 * as 1.7 describes.  The result is parsed and verified against s's
 * certificate before it is returned.  On success *out (caller frees)
 * holds *outlen bytes.
 */
int
sgn_build(const struct sgn_build *p, const uint8_t *body, size_t bodylen,
    struct signer *s, uint8_t **out, size_t *outlen)
{
	struct wbuf	 b;
	struct sgn_file	*chk = NULL;
	uint8_t		 sig[SIGNER_SIG_MAX], sighdr[3];
	size_t		 siglen = sizeof(sig), sigsz, sigpos, hlen;
	int		 modcode, r;

	*out = NULL;
	if ((r = build_check(p, s, &modcode)) != 0)
		return r;
	sigsz = (size_t)EVP_PKEY_get_size(X509_get0_pubkey(s->cert));
	wbuf_init(&b, SGN_HDR_MAX + bodylen);
	put_u16(&b, 1, p->kind == SGN_KIND_TLV ? 0x0102 :
	    p->kind == SGN_KIND_ENC ? 0x0200 : 0x0100);
	put_u16(&b, 2, 0);
	if (p->kind == SGN_KIND_TLV)
		put_u16(&b, 28, (uint16_t)(p->sver_major << 8 | p->sver_minor));
	if ((r = put_signer_info(&b, p, s->cert, modcode)) != 0)
		goto out;
	sigpos = b.len;
	put_str(&b, 14, p->filename);
	put_elem(&b, 15, (uint8_t[4]){ p->timestamp >> 24,
	    (p->timestamp >> 16) & 0xff, (p->timestamp >> 8) & 0xff,
	    p->timestamp & 0xff }, 4);
	if (p->enc != NULL)
		put_enc(&b, p->enc);
	if (!wbuf_ok(&b)) {
		r = uc_fail(UC_ERR_FORMAT, "%s: a header element is over the "
		    "65535-byte limit or memory ran out", p->filename);
		goto out;
	}
	while (wbuf_ok(&b) && (b.len + 3 + sigsz) % 4 != 0)
		wbuf_u8(&b, 13);
	hlen = b.len + 3 + sigsz;
	if (hlen > SGN_HDR_MAX) {
		r = uc_fail(UC_ERR_FORMAT, "header of %zu bytes is over the "
		    "65535-byte limit", hlen);
		goto out;
	}
	wbuf_set_u16(&b, 8, (uint16_t)hlen);
	wbuf_put(&b, body, bodylen);
	if (!wbuf_ok(&b)) {
		r = uc_fail(UC_ERR_ALLOC, "building %s", p->filename);
		goto out;
	}
	if ((r = signer_sign(s, p->md, b.data, b.len, sig, &siglen)) != 0)
		goto out;
	if (siglen != sigsz) {
		r = uc_fail(UC_ERR_CRYPTO, "%s: signature is %zu bytes, "
		    "expected %zu", s->label, siglen, sigsz);
		goto out;
	}
	sighdr[0] = 12;
	sighdr[1] = (uint8_t)(siglen >> 8);
	sighdr[2] = siglen & 0xff;
	wbuf_insert(&b, sigpos, sighdr, 3);
	wbuf_insert(&b, sigpos + 3, sig, siglen);
	if (!wbuf_ok(&b)) {
		r = uc_fail(UC_ERR_ALLOC, "building %s", p->filename);
		goto out;
	}
	if ((r = sgn_parse(b.data, b.len, p->kind, &chk)) != 0 ||
	    (r = sgn_verify(chk, s->cert)) != 0) {
		uc_prefix("self-check of the file just built failed");
		goto out;
	}
	*out = wbuf_steal(&b, outlen);
out:
	sgn_free(chk);
	wbuf_free(&b);
	return r;
}
