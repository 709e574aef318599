/*
 * Signed-header parser and verifier (signed-files.md sections 1-4).
 * Every read of file bytes goes through the cursor.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "cert.h"
#include "cursor.h"
#include "sgn.h"
#include "uerr.h"

#define TAG_MAX		28	/* highest header tag (1.3) */
#define REC_TAG_MAX	12	/* highest record tag (2.1) */

static const char *const hdr_tag_names[TAG_MAX + 1] = {
	[1] = "version", [2] = "header length", [3] = "signer info",
	[4] = "signer name", [5] = "serial number", [6] = "issuer name",
	[7] = "signature info", [8] = "hash algorithm",
	[9] = "signature algorithm info", [10] = "signature algorithm",
	[11] = "signature modulus", [12] = "signature", [13] = "padding",
	[14] = "filename", [15] = "timestamp", [16] = "encryption info",
	[17] = "IV info", [18] = "IV info tag 18", [19] = "IV",
	[20] = "padding count", [21] = "key info", [22] = "key info tag 22",
	[23] = "wrapped-key size", [24] = "key algorithm",
	[25] = "wrapped key", [26] = "plaintext hash algorithm",
	[27] = "plaintext hash", [28] = "signer version",
};

/* Fixed value sizes (1.2, "Hostile input"); 0 = variable. */
static const uint8_t hdr_fixed[TAG_MAX + 1] = {
	[1] = 2, [2] = 2, [8] = 1, [10] = 1, [11] = 1, [15] = 4, [18] = 1,
	[19] = 16, [20] = 2, [22] = 1, [23] = 2, [24] = 1, [26] = 1,
	[28] = 2,
};

/* Which tags each container may hold (1.3); bit n = tag n. */
#define B(n)	(1UL << (n))
static const unsigned long container_kids[TAG_MAX + 1] = {
	[3] = B(4) | B(5) | B(6),
	[7] = B(8) | B(9),
	[9] = B(10) | B(11),
	[16] = B(17) | B(21),
	[17] = B(18) | B(19) | B(20),
	[21] = B(22) | B(23) | B(24) | B(25),
};
#define KIDS		(B(4) | B(5) | B(6) | B(8) | B(9) | B(10) | B(11) | \
			 B(17) | B(18) | B(19) | B(20) | B(21) | B(22) | \
			 B(23) | B(24) | B(25))
/* Tags each file type may carry at all (1.3, "reference readers"). */
static const unsigned long kind_tags[SGN_KIND__MAX] = {
	[SGN_KIND_TLV] = (B(16) - 2) | B(28),		/* 1-15, 28 */
	[SGN_KIND_SGN] = B(16) - 2,			/* 1-15 */
	[SGN_KIND_ENC] = B(28) - 2,			/* 1-27 */
};

static const char *const kind_names[SGN_KIND__MAX] = {
	"signed file", ".tlv", ".sgn", ".enc.sgn",
};

static const char *
tag_name(unsigned t)
{
	return t <= TAG_MAX && hdr_tag_names[t] ? hdr_tag_names[t] : "unknown";
}

const char *
sgn_kind_name(enum sgn_kind k)
{
	return (unsigned)k < SGN_KIND__MAX ? kind_names[k] : "?";
}

/* Hash code to signer digest; returns 0 or UC_ERR_UNSUPPORTED. */
int
sgn_hash_md(int code, enum signer_md *md)
{
	switch (code) {
	case SGN_HASH_SHA1:
		*md = SIGNER_SHA1;
		return 0;
	case SGN_HASH_SHA256:
		*md = SIGNER_SHA256;
		return 0;
	case SGN_HASH_SHA512:
		*md = SIGNER_SHA512;
		return 0;
	}
	return uc_fail(UC_ERR_UNSUPPORTED, "hash algorithm code %d is not 1 "
	    "(SHA-1), 2 (SHA-256) or 3 (SHA-512) (signed-files.md 1.5)", code);
}

const char *
sgn_hash_name(int code)
{
	switch (code) {
	case SGN_HASH_SHA1:
		return "SHA1";
	case SGN_HASH_SHA256:
		return "SHA256";
	case SGN_HASH_SHA512:
		return "SHA512";
	}
	return "unknown";
}

/*
 * Check that a string element holds text plus exactly one trailing NUL
 * (1.3: "Name and filename strings must carry their NUL").
 */
static int
get_strz(struct cursor *v, size_t len, size_t off, const char *what,
    const char **out)
{
	const char	*s;
	size_t		 n;

	if ((s = cur_strz(v, len, &n)) == NULL || n + 1 != len)
		return uc_fail(UC_ERR_FORMAT, "offset %zu: %s is not one "
		    "NUL-terminated string (signed-files.md 1.8)", off, what);
	*out = s;
	return 0;
}

static void
get_run(struct cursor *v, size_t len, struct sgn_bytes *b)
{
	b->len = len;
	b->p = cur_bytes(v, len);
}

/* Store one non-container header value; v spans exactly the value. */
static int
hdr_value(struct sgn_header *h, unsigned tag, struct cursor *v, size_t len,
    size_t off)
{
	struct sgn_enc	*e = &h->enc;

	switch (tag) {
	case 1:
		h->ver_major = cur_u8(v);
		h->ver_minor = cur_u8(v);
		return 0;
	case 4:
		return get_strz(v, len, off, "signer name", &h->signer_name);
	case 5:
		get_run(v, len, &h->serial);
		return 0;
	case 6:
		return get_strz(v, len, off, "issuer name", &h->issuer_name);
	case 8:
		h->hash_alg = cur_u8(v);
		return 0;
	case 10:
		h->sig_alg = cur_u8(v);
		return 0;
	case 11:
		h->sig_modulus = cur_u8(v);
		return 0;
	case 12:
		h->sig_off = off;
		get_run(v, len, &h->sig);
		return 0;
	case 14:
		return get_strz(v, len, off, "filename", &h->filename);
	case 15:
		h->has_timestamp = 1;
		h->timestamp = cur_u32(v);
		return 0;
	case 18:
		e->unk18 = cur_u8(v);
		return 0;
	case 19:
		get_run(v, len, &e->iv);
		return 0;
	case 20:
		e->pad_count = cur_u16(v);
		return 0;
	case 22:
		e->unk22 = cur_u8(v);
		return 0;
	case 23:
		e->wrapped_bits = cur_u16(v);
		return 0;
	case 24:
		e->key_alg = cur_u8(v);
		return 0;
	case 25:
		get_run(v, len, &e->wrapped_key);
		return 0;
	case 26:
		e->pt_hash_alg = cur_u8(v);
		return 0;
	case 27:
		get_run(v, len, &e->pt_hash);
		return 0;
	case 28:
		h->has_signer_ver = 1;
		h->sver_major = cur_u8(v);
		h->sver_minor = cur_u8(v);
		return 0;
	}
	return uc_fail(UC_ERR_INTERNAL, "offset %zu: tag %u unhandled", off, tag);
}

struct hscan {
	struct sgn_header *h;
	enum sgn_kind	 kind;
	unsigned long	 seen;		/* tags met so far */
	size_t		 hdr_end;
};

static int scan_elems(struct hscan *, struct cursor *, unsigned);

/*
 * Read one element at c.  parent is the enclosing container tag, or 0 at
 * top level.  Containers are descended into (1.1).
 */
static int
scan_elem(struct hscan *s, struct cursor *c, unsigned parent)
{
	struct cursor	 v;
	size_t		 off = cur_offset(c);
	unsigned	 tag;
	uint16_t	 len;
	int		 r;

	tag = cur_u8(c);
	if (tag == 13 && parent == 0) {
		s->h->npad++;
		return 0;
	}
	if (tag == 0 || tag > TAG_MAX || !(kind_tags[s->kind] & B(tag)))
		return uc_fail(UC_ERR_FORMAT, "offset %zu: unknown header tag %u "
		    "in a %s file (signed-files.md 1.3)", off, tag,
		    kind_names[s->kind]);
	if (parent == 0 ? (KIDS & B(tag)) != 0 :
	    (container_kids[parent] & B(tag)) == 0)
		return uc_fail(UC_ERR_FORMAT, "offset %zu: header tag %u (%s) "
		    "%s tag %u (signed-files.md 1.3)", off, tag, tag_name(tag),
		    parent ? "is not allowed inside" : "must sit inside its "
		    "container, not at top level; container", parent);
	if (tag == 1 || tag == 2)
		return uc_fail(UC_ERR_FORMAT, "offset %zu: tag %u (%s) may only "
		    "start the file (signed-files.md 1.2)", off, tag,
		    tag_name(tag));
	if (s->seen & B(tag))
		return uc_fail(UC_ERR_FORMAT, "offset %zu: header tag %u (%s) "
		    "appears twice", off, tag, tag_name(tag));
	s->seen |= B(tag);
	len = cur_u16(c);
	if (!cur_ok(c) || !cur_sub(c, len, &v))
		return uc_fail(UC_ERR_TRUNCATED, "offset %zu: header tag %u (%s) "
		    "of %u bytes runs past the header end at %zu "
		    "(signed-files.md 1.2)", off, tag, tag_name(tag), len,
		    s->hdr_end);
	if (hdr_fixed[tag] && len != hdr_fixed[tag])
		return uc_fail(UC_ERR_FORMAT, "offset %zu: header tag %u (%s) "
		    "has length %u, must be %u (signed-files.md 1.2)", off, tag,
		    tag_name(tag), len, hdr_fixed[tag]);
	if (container_kids[tag]) {
		if (tag == 16) {
			s->h->has_enc = 1;
			s->h->enc.info_len = len;
		} else if (tag == 17)
			s->h->enc.iv_info_len = len;
		else if (tag == 21)
			s->h->enc.key_info_len = len;
		return scan_elems(s, &v, tag);
	}
	if ((r = hdr_value(s->h, tag, &v, len, off)) != 0)
		return r;
	if (!cur_ok(&v))
		return uc_fail(UC_ERR_INTERNAL, "offset %zu: tag %u short read",
		    off, tag);
	return 0;
}

/* Read elements until c is exhausted. */
static int
scan_elems(struct hscan *s, struct cursor *c, unsigned parent)
{
	int	 r;

	while (cur_left(c) > 0)
		if ((r = scan_elem(s, c, parent)) != 0)
			return r;
	return 0;
}

/* Cross-field checks after the scan. */
static int
hdr_check(const struct sgn_header *h, enum sgn_kind kind)
{
	static const size_t	 modbytes[] = { 64, 128, 256, 512 };
	size_t			 want;

	if (h->sig.p == NULL)
		return uc_fail(UC_ERR_FORMAT, "header has no signature "
		    "(tag 12; signed-files.md 1.3)");
	if (h->hash_alg < 0)
		return uc_fail(UC_ERR_FORMAT, "header has no hash algorithm "
		    "(tag 8; signed-files.md 1.3)");
	if (h->serial.p == NULL)
		return uc_fail(UC_ERR_FORMAT, "header has no signer serial "
		    "number (tag 5; signed-files.md 2.3)");
	if (h->sig_alg > 0)
		return uc_fail(UC_ERR_UNSUPPORTED, "signature algorithm %d is "
		    "not 0 (RSA PKCS#1 v1.5; signed-files.md 1.6)", h->sig_alg);
	if (h->sig_modulus >= 0) {
		if (h->sig_modulus > 3)
			return uc_fail(UC_ERR_UNSUPPORTED, "signature modulus "
			    "code %d is not 0-3 (signed-files.md 1.6)",
			    h->sig_modulus);
		want = modbytes[h->sig_modulus];
		if (h->sig.len != want)
			return uc_fail(UC_ERR_FORMAT, "offset %zu: signature is "
			    "%zu bytes but modulus code %d means %zu "
			    "(signed-files.md 1.6)", h->sig_off, h->sig.len,
			    h->sig_modulus, want);
	}
	if (kind == SGN_KIND_ENC && !h->has_enc)
		return uc_fail(UC_ERR_FORMAT, "encrypted file has no "
		    "encryption info (tag 16; signed-files.md 4.1)");
	return 0;
}

/* Parse the header into f->h; the body starts at hdr_len. */
static int
hdr_parse(struct sgn_file *f, enum sgn_kind want)
{
	struct sgn_header	*h = &f->h;
	struct hscan		 s;
	struct cursor		 c, hc;
	uint16_t		 len1, len2;
	uint8_t			 tag1, tag2;
	int			 r;

	memset(h, 0, sizeof(*h));
	h->hash_alg = h->sig_alg = h->sig_modulus = -1;
	h->enc.unk18 = h->enc.unk22 = h->enc.key_alg = -1;
	h->enc.pad_count = h->enc.wrapped_bits = h->enc.pt_hash_alg = -1;
	cur_init(&c, f->buf, f->len);
	if (f->len == 0)
		return uc_fail(UC_ERR_TRUNCATED, "empty file");
	tag1 = cur_u8(&c);
	len1 = cur_u16(&c);
	h->ver_major = cur_u8(&c);
	h->ver_minor = cur_u8(&c);
	tag2 = cur_u8(&c);
	len2 = cur_u16(&c);
	if (tag1 != 1 || len1 != 2 || tag2 != 2 || len2 != 2)
		return uc_fail(cur_ok(&c) ? UC_ERR_FORMAT : UC_ERR_TRUNCATED,
		    "offset 0: file does not start with version (tag 1) and "
		    "header length (tag 2) elements (signed-files.md 1.2)");
	h->hdr_len = cur_u16(&c);
	if (!cur_ok(&c) || h->hdr_len < 10 || h->hdr_len > f->len)
		return uc_fail(UC_ERR_TRUNCATED, "offset 8: header length %u is outside "
		    "the %zu-byte file (signed-files.md 1.2)", h->hdr_len,
		    f->len);
	if (want == SGN_KIND_AUTO)
		want = h->ver_major == 2 ? SGN_KIND_ENC :
		    h->ver_major == 1 && h->ver_minor == 2 ? SGN_KIND_TLV :
		    SGN_KIND_SGN;
	f->kind = want;
	cur_init(&c, f->buf, h->hdr_len);
	cur_skip(&c, 10);
	cur_sub(&c, h->hdr_len - 10, &hc);
	memset(&s, 0, sizeof(s));
	s.h = h;
	s.kind = want;
	s.hdr_end = h->hdr_len;
	if ((r = scan_elems(&s, &hc, 0)) != 0)
		return r;
	if ((r = hdr_check(h, want)) != 0)
		return r;
	f->body = f->buf + h->hdr_len;
	f->body_len = f->len - h->hdr_len;
	return 0;
}

/* Fixed record value sizes; 0 = variable. */
static const uint8_t rec_fixed[REC_TAG_MAX + 1] = { [4] = 2, [12] = 1 };

static const char *const rec_tag_names[REC_TAG_MAX + 1] = {
	[1] = "record length", [2] = "DNS name", [3] = "subject name",
	[4] = "role", [5] = "issuer name", [6] = "serial number",
	[7] = "public key", [8] = "signature", [9] = "certificate",
	[10] = "IP address", [11] = "certificate hash",
	[12] = "hash algorithm",
};

static int
rec_value(struct tlv_record *rec, unsigned tag, struct cursor *v,
    size_t len, size_t off)
{
	switch (tag) {
	case 2:
		return get_strz(v, len, off, "record DNS name", &rec->dns);
	case 3:
		return get_strz(v, len, off, "record subject name",
		    &rec->subject);
	case 4:
		rec->role = cur_u16(v);
		return 0;
	case 5:
		return get_strz(v, len, off, "record issuer name",
		    &rec->issuer);
	case 6:
		get_run(v, len, &rec->serial);
		return 0;
	case 7:
		get_run(v, len, &rec->pubkey);
		return 0;
	case 8:
		get_run(v, len, &rec->sig);
		return 0;
	case 9:
		get_run(v, len, &rec->cert);
		return 0;
	case 10:
		if (len != 4 && len != 16)
			return uc_fail(UC_ERR_FORMAT, "offset %zu: record IP "
			    "address of %zu bytes is neither IPv4 nor IPv6",
			    off, len);
		get_run(v, len, &rec->ip);
		return 0;
	case 11:
		get_run(v, len, &rec->certhash);
		return 0;
	case 12:
		rec->hash_alg = cur_u8(v);
		return 0;
	}
	return uc_fail(UC_ERR_INTERNAL, "record tag %u unhandled", tag);
}

/* Parse one record's elements; c spans the record after its tag 1. */
static int
rec_parse(struct tlv_record *rec, struct cursor *c, size_t n)
{
	struct cursor	 v;
	unsigned long	 seen = 0;
	unsigned	 tag;
	uint16_t	 len;
	size_t		 off;
	int		 r;

	while (cur_left(c) > 0) {
		off = cur_offset(c);
		tag = cur_u8(c);
		len = cur_u16(c);
		if (tag < 2 || tag > REC_TAG_MAX)
			return uc_fail(UC_ERR_FORMAT, "offset %zu: unknown tag "
			    "%u in record %zu (signed-files.md 2.1)", off, tag,
			    n);
		if (seen & B(tag))
			return uc_fail(UC_ERR_FORMAT, "offset %zu: record %zu "
			    "has tag %u (%s) twice", off, n, tag,
			    rec_tag_names[tag]);
		seen |= B(tag);
		if (!cur_ok(c) || !cur_sub(c, len, &v))
			return uc_fail(UC_ERR_TRUNCATED, "offset %zu: record "
			    "%zu tag %u (%s) runs past the record end at %zu "
			    "(signed-files.md 2.1)", off, n, tag,
			    rec_tag_names[tag], rec->off + rec->len);
		if (rec_fixed[tag] && len != rec_fixed[tag])
			return uc_fail(UC_ERR_FORMAT, "offset %zu: record %zu "
			    "tag %u (%s) has length %u, must be %u", off, n,
			    tag, rec_tag_names[tag], len, rec_fixed[tag]);
		if ((r = rec_value(rec, tag, &v, len, off)) != 0)
			return r;
	}
	if (!(seen & B(4)) || !(seen & B(6)) || !(seen & B(9)))
		return uc_fail(UC_ERR_FORMAT, "offset %zu: record %zu lacks "
		    "its %s (signed-files.md 2.1)", rec->off, n,
		    !(seen & B(4)) ? "role (tag 4)" : !(seen & B(6)) ?
		    "serial number (tag 6)" : "certificate (tag 9)");
	return 0;
}

/* Parse the trust-list body into f->recs (2.1). */
static int
body_parse(struct sgn_file *f)
{
	struct cursor		 c, rc;
	struct tlv_record	*rec, *nrecs;
	size_t			 off, cap = 0;
	uint16_t		 len;
	int			 r;

	cur_init(&c, f->buf, f->len);
	cur_skip(&c, f->h.hdr_len);
	while (cur_left(&c) > 0) {
		off = cur_offset(&c);
		if (f->nrecs == TLV_RECORDS_MAX)
			return uc_fail(UC_ERR_FORMAT, "offset %zu: more than %d "
			    "records", off, TLV_RECORDS_MAX);
		if (cur_u8(&c) != 1 || cur_u16(&c) != 2)
			return uc_fail(cur_ok(&c) ? UC_ERR_FORMAT :
			    UC_ERR_TRUNCATED, "offset %zu: record %zu does not "
			    "start with its length (tag 1, length 2; "
			    "signed-files.md 2.1)", off, f->nrecs + 1);
		len = cur_u16(&c);
		if (!cur_ok(&c) || len < 5 || !cur_sub(&c, len - 5, &rc))
			return uc_fail(UC_ERR_TRUNCATED, "offset %zu: record %zu "
			    "length %u runs past the end of the %zu-byte file",
			    off, f->nrecs + 1, len, f->len);
		if (f->nrecs == cap) {
			cap = cap ? cap * 2 : 8;
			nrecs = reallocarray(f->recs, cap, sizeof(*f->recs));
			if (nrecs == NULL)
				return uc_fail(UC_ERR_ALLOC, "records");
			f->recs = nrecs;
		}
		rec = &f->recs[f->nrecs++];
		memset(rec, 0, sizeof(*rec));
		rec->off = off;
		rec->len = len;
		rec->role = rec->hash_alg = -1;
		if ((r = rec_parse(rec, &rc, f->nrecs)) != 0)
			return r;
	}
	return 0;
}

/*
 * Parse len bytes of a signed-header file of the given kind (AUTO picks
 * by version: 2.x .enc.sgn, 1.2 .tlv, other .sgn).  The bytes are copied;
 * on success *out (free with sgn_free) owns the copy and every pointer in
 * it.  Does not check the signature: see sgn_verify and tlv_verify.
 */
int
sgn_parse(const uint8_t *buf, size_t len, enum sgn_kind kind,
    struct sgn_file **out)
{
	struct sgn_file	*f;
	int		 r;

	*out = NULL;
	if ((unsigned)kind >= SGN_KIND__MAX)
		return uc_fail(UC_ERR_ARG, "bad file kind %d", kind);
	if ((f = calloc(1, sizeof(*f))) == NULL ||
	    (f->buf = malloc(len ? len : 1)) == NULL) {
		free(f);
		return uc_fail(UC_ERR_ALLOC, "file copy");
	}
	if (len > 0)
		memcpy(f->buf, buf, len);
	f->len = len;
	if ((r = hdr_parse(f, kind)) != 0 ||
	    (f->kind == SGN_KIND_TLV && (r = body_parse(f)) != 0)) {
		sgn_free(f);
		return r;
	}
	*out = f;
	return 0;
}

void
sgn_free(struct sgn_file *f)
{
	if (f == NULL)
		return;
	free(f->recs);
	free(f->buf);
	free(f);
}

/*
 * Verify the header signature (1.7) with cert's RSA public key: the whole
 * file minus the signature element, hashed per tag 8.  Returns 0 when
 * valid, UC_ERR_SIGNATURE when not.
 */
int
sgn_verify(const struct sgn_file *f, X509 *cert)
{
	EVP_PKEY	*pk;
	EVP_MD_CTX	*ctx;
	enum signer_md	 md = SIGNER_SHA1;
	size_t		 cut, rest;
	int		 r, ok;

	if ((r = sgn_hash_md(f->h.hash_alg, &md)) != 0)
		return r;
	if ((pk = X509_get0_pubkey(cert)) == NULL || !EVP_PKEY_is_a(pk, "RSA"))
		return uc_fail(UC_ERR_UNSUPPORTED, "signer certificate key is "
		    "not RSA (signed-files.md 1.6)");
	if ((size_t)EVP_PKEY_get_size(pk) != f->h.sig.len)
		return uc_fail(UC_ERR_SIGNATURE, "signature is %zu bytes but the "
		    "signer's key is %d bits", f->h.sig.len,
		    EVP_PKEY_get_bits(pk));
	cut = f->h.sig_off;
	rest = cut + 3 + f->h.sig.len;
	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return uc_fail(UC_ERR_ALLOC, "EVP_MD_CTX_new");
	ok = EVP_DigestVerifyInit(ctx, NULL, signer_evp_md(md), NULL, pk) == 1 &&
	    EVP_DigestVerifyUpdate(ctx, f->buf, cut) == 1 &&
	    EVP_DigestVerifyUpdate(ctx, f->buf + rest, f->len - rest) == 1 &&
	    EVP_DigestVerifyFinal(ctx, f->h.sig.p, f->h.sig.len) == 1;
	EVP_MD_CTX_free(ctx);
	if (!ok)
		return uc_fail_ssl(UC_ERR_SIGNATURE, "signature does not verify "
		    "with the signer's key (signed-files.md 1.7)");
	return 0;
}

/*
 * Step through the SAST records of f whose serial equals serial byte for
 * byte (how phones find a signer, 2.3).  Start with *i = 0; returns 1
 * and leaves *i at the match (continue from *i + 1), or 0 at the end.
 */
int
tlv_sast_next(const struct sgn_file *f, const struct sgn_bytes *serial,
    size_t *i)
{
	const struct tlv_record	*r;

	for (; *i < f->nrecs; (*i)++) {
		r = &f->recs[*i];
		if (r->role == TLV_ROLE_SAST && r->serial.len == serial->len &&
		    (serial->len == 0 ||
		    memcmp(r->serial.p, serial->p, serial->len) == 0))
			return 1;
	}
	return 0;
}

/*
 * Find the signer record of a trust list: role SAST and serial equal to
 * the header serial byte for byte (2.3).  Stores its index in *idx.
 */
int
tlv_find_signer(const struct sgn_file *f, size_t *idx)
{
	char	 hex[2 * 64 + 1];
	size_t	 i = 0;

	if (tlv_sast_next(f, &f->h.serial, &i)) {
		*idx = i;
		return 0;
	}
	hex_encode(f->h.serial.p, f->h.serial.len > 64 ? 64 : f->h.serial.len,
	    hex);
	return uc_fail(UC_ERR_NOTFOUND, "no SAST record has the header's "
	    "signer serial %s (signed-files.md 2.3)", hex);
}

/*
 * Verify a trust list the way a phone does: the signer is the SAST record
 * whose serial matches the header, and its certificate's key must verify
 * the signature.  Stores the signer record index in *idx if not NULL.
 */
int
tlv_verify(const struct sgn_file *f, size_t *idx)
{
	const struct tlv_record	*rec;
	X509			*x = NULL;
	size_t			 i;
	int			 r;

	if (f->kind != SGN_KIND_TLV)
		return uc_fail(UC_ERR_ARG, "not a trust list");
	if ((r = tlv_find_signer(f, &i)) != 0)
		return r;
	rec = &f->recs[i];
	if ((r = cert_from_der(rec->cert.p, rec->cert.len, &x)) != 0) {
		uc_prefix("signer record certificate");
		return r;
	}
	r = sgn_verify(f, x);
	X509_free(x);
	if (r == 0 && idx != NULL)
		*idx = i;
	return r;
}
