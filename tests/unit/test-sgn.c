/*
 * Suite "sgn": the signed-header parser and verifier (lib/sgn.c) against
 * every file in vectors/ (README sections 2-4), hostile edits of them,
 * and deterministic mutation fuzzing (STYLE.md 8).
 */
#include <stdio.h>
#include <stdlib.h>

#include <openssl/evp.h>

#include "cert.h"
#include "sgn.h"
#include "unit.h"

struct rec_want {
	size_t		 off;
	uint16_t	 len;
	int		 role;
	const char	*subject;
	const char	*serial;
	size_t		 pubkey_len;
	size_t		 sig_len;
	size_t		 cert_len;
	const char	*sha1;
};

#define SUBJ_SAST1	"CN=SAST-1,O=ucsec-test,OU=SAST"
#define SUBJ_SAST2	"CN=SAST-2,O=ucsec-test,OU=SAST"
#define SUBJ_CCM	"CN=ccm1.example.test,O=ucsec-test,OU=CCM"
#define SUBJ_CAPF	"CN=CAPF-ucsec,O=ucsec-test,OU=CAPF,L=Wellington," \
			"ST=Wellington,C=NZ"
#define SUBJ_ECTFTP	"CN=https1.example.test,O=ucsec-test,OU=TFTP-EC"
#define SUBJ_TFTP	"CN=tftp1.example.test,O=ucsec-test,OU=TFTP"
#define SER_SAST1	"a1b2c3d4e5f60718293a4b5c6d7e8f90"
#define FP_SAST1	"5064ffd44b2020650f772f8e7bc4faee3501f083"
#define FP_SAST2	"e5bb9b08b34cc896d4b4f99e211cbda7eaca6d35"
#define FP_CCM		"56e04c1582a4f41ce99c0ade93a47127c46bffcd"
#define FP_CAPF		"daa52367f428513ca5ffa0d1eb94bc6f80863e89"
#define FP_ECTFTP	"21d9b5c8dd3cc7f70086478875544485c28d95ba"

static const struct rec_want ctl_recs[] = {
	{ 404, 1493, 0, SUBJ_SAST1, SER_SAST1, 270, 256, 861, FP_SAST1 },
	{ 1897, 1476, 0, SUBJ_SAST2, "1122334455667788", 270, 256, 852,
	    FP_SAST2 },
	{ 3373, 1504, 2, SUBJ_CCM, "2001", 270, 256, 866, FP_CCM },
	{ 4877, 1654, 4, SUBJ_CAPF, "3001", 270, 256, 964, FP_CAPF },
};

static const struct rec_want itl_recs[] = {
	{ 404, 1493, 0, SUBJ_SAST1, SER_SAST1, 270, 256, 861, FP_SAST1 },
	{ 1897, 1504, 2, SUBJ_CCM, "2001", 270, 256, 866, FP_CCM },
	{ 3401, 742, 3, SUBJ_ECTFTP, "6001", 65, 71, 482, FP_ECTFTP },
	{ 4143, 1654, 4, SUBJ_CAPF, "3001", 270, 256, 964, FP_CAPF },
};

/* Every signed vector, its kind and the certificate that verifies it. */
static const struct {
	const char	*file;
	enum sgn_kind	 kind;
	const char	*signer;
} vecs[] = {
	{ "CTLFile.tlv", SGN_KIND_TLV, "sast1.crt" },
	{ "ITLFile.tlv", SGN_KIND_TLV, "sast1.crt" },
	{ "SEP0011223344AA.cnf.xml.sgn", SGN_KIND_SGN, "tftp.crt" },
	{ "ringlist.xml.sgn", SGN_KIND_SGN, "tftp.crt" },
	{ "SEP0011223344BB.cnf.xml.enc.sgn", SGN_KIND_ENC, "tftp.crt" },
	{ "SEP0011223344BB.cnf.xml.sgn", SGN_KIND_SGN, "tftp.crt" },
};
#define NVECS	(sizeof(vecs) / sizeof(vecs[0]))

static struct sgn_file *
parse_vec(const char *name, enum sgn_kind kind)
{
	struct sgn_file	*f = NULL;
	uint8_t		*buf;
	size_t		 len;
	int		 r;

	if ((buf = vec_read(name, &len)) == NULL)
		return NULL;
	if ((r = sgn_parse(buf, len, kind, &f)) != 0) {
		fprintf(stderr, "\n  %s: %s\n", name, uc_errdetail());
		CU_FAIL("vector does not parse");
	}
	free(buf);
	return f;
}

static const char *
rec_sha1(const struct tlv_record *rec)
{
	uint8_t	 md[EVP_MAX_MD_SIZE];
	size_t	 n;
	X509	*x;

	if (cert_from_der(rec->cert.p, rec->cert.len, &x) != 0)
		return "(no cert)";
	if (cert_fingerprint(x, EVP_sha1(), md, &n) != 0)
		n = 0;
	X509_free(x);
	return unit_hex(md, n);
}

static void
check_records(const struct sgn_file *f, const struct rec_want *w, size_t n)
{
	const struct tlv_record	*r;
	size_t			 i;

	CU_ASSERT_EQUAL_FATAL(f->nrecs, n);
	for (i = 0; i < n; i++) {
		r = &f->recs[i];
		CU_ASSERT_EQUAL(r->off, w[i].off);
		CU_ASSERT_EQUAL(r->len, w[i].len);
		CU_ASSERT_EQUAL(r->role, w[i].role);
		CU_ASSERT_PTR_NOT_NULL_FATAL(r->subject);
		CU_ASSERT_STRING_EQUAL(r->subject, w[i].subject);
		CU_ASSERT_PTR_NOT_NULL_FATAL(r->issuer);
		CU_ASSERT_STRING_EQUAL(r->issuer, w[i].subject); /* self-signed */
		CU_ASSERT_STRING_EQUAL(unit_hex(r->serial.p, r->serial.len),
		    w[i].serial);
		CU_ASSERT_EQUAL(r->pubkey.len, w[i].pubkey_len);
		CU_ASSERT_EQUAL(r->sig.len, w[i].sig_len);
		CU_ASSERT_EQUAL(r->cert.len, w[i].cert_len);
		CU_ASSERT_STRING_EQUAL(rec_sha1(r), w[i].sha1);
		/* Reference writes no DNS name, IP, cert hash or tag 12. */
		CU_ASSERT_PTR_NULL(r->dns);
		CU_ASSERT_PTR_NULL(r->ip.p);
		CU_ASSERT_PTR_NULL(r->certhash.p);
		CU_ASSERT_EQUAL(r->hash_alg, -1);
		/* Records tile the body. */
		CU_ASSERT_EQUAL(r->off + r->len,
		    i + 1 < n ? w[i + 1].off : f->len);
	}
}

static void
check_sast1_header(const struct sgn_file *f, const char *filename)
{
	const struct sgn_header	*h = &f->h;

	CU_ASSERT_EQUAL(f->kind, SGN_KIND_TLV);
	CU_ASSERT(h->ver_major == 1 && h->ver_minor == 2);
	CU_ASSERT_EQUAL(h->hdr_len, 404);
	CU_ASSERT_EQUAL(h->has_signer_ver, 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(h->signer_name);
	CU_ASSERT_STRING_EQUAL(h->signer_name, SUBJ_SAST1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(h->issuer_name);
	CU_ASSERT_STRING_EQUAL(h->issuer_name, SUBJ_SAST1);
	CU_ASSERT_EQUAL(h->serial.len, 16);
	CU_ASSERT_STRING_EQUAL(unit_hex(h->serial.p, h->serial.len),
	    SER_SAST1);
	CU_ASSERT_EQUAL(h->sig_alg, 0);
	CU_ASSERT_EQUAL(h->sig_modulus, 2);
	CU_ASSERT_EQUAL(h->sig.len, 256);
	CU_ASSERT_EQUAL(h->sig_off, 123);
	CU_ASSERT_PTR_EQUAL(h->sig.p, f->buf + 126);
	CU_ASSERT_PTR_NOT_NULL_FATAL(h->filename);
	CU_ASSERT_STRING_EQUAL(h->filename, filename);
	CU_ASSERT_EQUAL(h->has_timestamp, 1);
	CU_ASSERT_EQUAL(h->timestamp, 1795650543U);
	CU_ASSERT_EQUAL(h->npad, 0);
	CU_ASSERT_EQUAL(h->has_enc, 0);
	CU_ASSERT_PTR_EQUAL(f->body, f->buf + 404);
	CU_ASSERT_EQUAL(f->body_len, f->len - 404);
}

static void
test_ctl_parses_to_readme_fields(void)
{
	struct sgn_file	*f;
	size_t		 idx = 99;

	if ((f = parse_vec("CTLFile.tlv", SGN_KIND_AUTO)) == NULL)
		return;
	CU_ASSERT_EQUAL(f->len, 6531);
	check_sast1_header(f, "CTLFile.tlv");
	CU_ASSERT(f->h.sver_major == 1 && f->h.sver_minor == 0);
	CU_ASSERT_EQUAL(f->h.hash_alg, SGN_HASH_SHA1);
	check_records(f, ctl_recs, 4);
	CU_ASSERT_EQUAL(tlv_find_signer(f, &idx), 0);
	CU_ASSERT_EQUAL(idx, 0);
	idx = 99;
	CU_ASSERT_EQUAL(tlv_verify(f, &idx), 0);
	CU_ASSERT_EQUAL(idx, 0);
	CU_ASSERT_EQUAL(tlv_verify(f, NULL), 0);
	sgn_free(f);
}

static void
test_itl_parses_to_readme_fields(void)
{
	struct sgn_file	*f;
	size_t		 idx = 99;

	if ((f = parse_vec("ITLFile.tlv", SGN_KIND_AUTO)) == NULL)
		return;
	CU_ASSERT_EQUAL(f->len, 5797);
	check_sast1_header(f, "ITLFile.tlv");
	CU_ASSERT(f->h.sver_major == 1 && f->h.sver_minor == 1);
	CU_ASSERT_EQUAL(f->h.hash_alg, SGN_HASH_SHA512);
	check_records(f, itl_recs, 4);
	/* The EC record: uncompressed P-256 point. */
	CU_ASSERT_EQUAL(f->recs[2].pubkey.p[0], 0x04);
	CU_ASSERT_EQUAL(tlv_verify(f, &idx), 0);
	CU_ASSERT_EQUAL(idx, 0);
	sgn_free(f);
}

static void
test_tampered_ctl_parses_but_fails_verify(void)
{
	struct sgn_file	*f;
	X509		*x;
	size_t		 idx = 99;

	if ((f = parse_vec("CTLFile-tampered.tlv", SGN_KIND_TLV)) == NULL)
		return;
	CU_ASSERT_EQUAL(f->nrecs, 4);
	if (f->nrecs == 4)
		CU_ASSERT_STRING_EQUAL(f->recs[3].subject, "CN=cAPF-ucsec,"
		    "O=ucsec-test,OU=CAPF,L=Wellington,ST=Wellington,C=NZ");
	CU_ASSERT_EQUAL(tlv_find_signer(f, &idx), 0);
	UNIT_FAILS(tlv_verify(f, NULL), UC_ERR_SIGNATURE, "signature");
	if ((x = vec_cert("sast1.crt")) != NULL) {
		UNIT_FAILS(sgn_verify(f, x), UC_ERR_SIGNATURE, NULL);
		X509_free(x);
	}
	sgn_free(f);
}

/* Common checks for the tftp1-signed files. */
static struct sgn_file *
check_tftp_signed(const char *name, enum sgn_kind kind, uint16_t hdr_len,
    size_t npad, int hash, uint32_t ts, const char *plain)
{
	struct sgn_file	*f;
	uint8_t		*body;
	size_t		 blen;
	X509		*x;

	if ((f = parse_vec(name, SGN_KIND_AUTO)) == NULL)
		return NULL;
	CU_ASSERT_EQUAL(f->kind, kind);
	CU_ASSERT_EQUAL(f->h.ver_major, kind == SGN_KIND_ENC ? 2 : 1);
	CU_ASSERT_EQUAL(f->h.ver_minor, 0);
	CU_ASSERT_EQUAL(f->h.hdr_len, hdr_len);
	CU_ASSERT_EQUAL(f->h.npad, npad);
	CU_ASSERT_EQUAL(f->h.has_signer_ver, 0);
	CU_ASSERT_STRING_EQUAL(f->h.signer_name, SUBJ_TFTP);
	CU_ASSERT_STRING_EQUAL(f->h.issuer_name, SUBJ_TFTP);
	CU_ASSERT_STRING_EQUAL(unit_hex(f->h.serial.p, f->h.serial.len),
	    "4001");
	CU_ASSERT_EQUAL(f->h.hash_alg, hash);
	CU_ASSERT_EQUAL(f->h.sig_alg, 0);
	CU_ASSERT_EQUAL(f->h.sig_modulus, 2);
	CU_ASSERT_EQUAL(f->h.sig.len, 256);
	CU_ASSERT_EQUAL(f->h.sig_off, 128);
	CU_ASSERT_PTR_NOT_NULL(f->h.filename);
	if (f->h.filename != NULL)
		CU_ASSERT_STRING_EQUAL(f->h.filename, name);
	CU_ASSERT_EQUAL(f->h.timestamp, ts);
	CU_ASSERT_EQUAL(f->nrecs, 0);
	CU_ASSERT_PTR_EQUAL(f->body, f->buf + hdr_len);
	CU_ASSERT_EQUAL(f->body_len, f->len - hdr_len);
	if (plain != NULL && (body = vec_read(plain, &blen)) != NULL) {
		CU_ASSERT_EQUAL(f->body_len, blen);
		if (f->body_len == blen)
			CU_ASSERT_EQUAL(memcmp(f->body, body, blen), 0);
		free(body);
	}
	if ((x = vec_cert("tftp.crt")) != NULL) {
		CU_ASSERT_EQUAL(sgn_verify(f, x), 0);
		X509_free(x);
	}
	/* A .sgn is not a trust list. */
	UNIT_FAILS(tlv_verify(f, NULL), UC_ERR_ARG, NULL);
	return f;
}

static void
test_sgn_vectors_parse_and_verify(void)
{
	sgn_free(check_tftp_signed("SEP0011223344AA.cnf.xml.sgn",
	    SGN_KIND_SGN, 428, 3, SGN_HASH_SHA1, 1795650560U,
	    "SEP0011223344AA.cnf.xml"));
	sgn_free(check_tftp_signed("ringlist.xml.sgn", SGN_KIND_SGN, 416, 2,
	    SGN_HASH_SHA512, 1795650560U, "ringlist.xml"));
}

static void
test_stub_sgn_parses_and_verifies(void)
{
	struct sgn_file	*f;

	f = check_tftp_signed("SEP0011223344BB.cnf.xml.sgn", SGN_KIND_SGN,
	    428, 3, SGN_HASH_SHA1, 1795650566U, NULL);
	if (f == NULL)
		return;
	CU_ASSERT_EQUAL(f->len, 879);
	CU_ASSERT_EQUAL(f->body_len, 451);
	CU_ASSERT_PTR_NOT_NULL(memmem(f->body, f->body_len,
	    "<encrConfig>true</encrConfig>", 29));
	CU_ASSERT_PTR_NOT_NULL(memmem(f->body, f->body_len,
	    "<certHash>d03e923b487c049ce26589886a9fd6bb</certHash>", 53));
	sgn_free(f);
}

static void
test_enc_sgn_parses_to_readme_fields(void)
{
	struct sgn_file		*f;
	const struct sgn_enc	*e;

	f = check_tftp_signed("SEP0011223344BB.cnf.xml.enc.sgn", SGN_KIND_ENC,
	    768, 3, SGN_HASH_SHA1, 1795650566U, NULL);
	if (f == NULL)
		return;
	e = &f->h.enc;
	CU_ASSERT_EQUAL(f->len, 1664);
	CU_ASSERT_EQUAL(f->h.has_enc, 1);
	CU_ASSERT_EQUAL(e->info_len, 306);
	CU_ASSERT_EQUAL(e->iv_info_len, 28);
	CU_ASSERT_EQUAL(e->key_info_len, 272);
	CU_ASSERT_EQUAL(e->unk18, 0);
	CU_ASSERT_EQUAL(e->unk22, 0);
	CU_ASSERT_EQUAL(e->key_alg, 1);
	CU_ASSERT_EQUAL(e->iv.len, 16);
	CU_ASSERT_STRING_EQUAL(unit_hex(e->iv.p, e->iv.len),
	    "c0dcf60fc9bc78e0f764f8f200919155");
	CU_ASSERT_EQUAL(e->pad_count, 2);
	CU_ASSERT_EQUAL(e->wrapped_bits, 2048);
	CU_ASSERT_EQUAL(e->wrapped_key.len, 256);
	CU_ASSERT_EQUAL(e->pt_hash_alg, 1);
	CU_ASSERT_STRING_EQUAL(unit_hex(e->pt_hash.p, e->pt_hash.len),
	    "0c0713dfdd63b46f4e32b4562a9d47ecf4213d18");
	CU_ASSERT_EQUAL(f->body_len, 896);	/* 894 + 2 pad, AES blocks */
	sgn_free(f);
}

static void
test_each_vector_parses_as_its_own_kind_only(void)
{
	struct sgn_file	*f;
	uint8_t		*buf;
	size_t		 len, i;

	for (i = 0; i < NVECS; i++) {
		if ((buf = vec_read(vecs[i].file, &len)) == NULL)
			continue;
		CU_ASSERT_EQUAL(sgn_parse(buf, len, vecs[i].kind, &f), 0);
		if (f != NULL)
			CU_ASSERT_EQUAL(f->kind, vecs[i].kind);
		sgn_free(f);
		CU_ASSERT_EQUAL(sgn_parse(buf, len, SGN_KIND_AUTO, &f), 0);
		if (f != NULL)
			CU_ASSERT_EQUAL(f->kind, vecs[i].kind);
		sgn_free(f);
		free(buf);
	}
	/* .tlv as .sgn: tag 28 is unknown there (1.3). */
	if ((buf = vec_read("CTLFile.tlv", &len)) != NULL) {
		f = (struct sgn_file *)1;
		UNIT_FAILS(sgn_parse(buf, len, SGN_KIND_SGN, &f),
		    UC_ERR_FORMAT, "offset 10: unknown header tag 28");
		CU_ASSERT_PTR_NULL(f);
		free(buf);
	}
	/* .enc.sgn as .sgn: tag 16 unknown; .sgn as .enc.sgn: no tag 16. */
	if ((buf = vec_read("SEP0011223344BB.cnf.xml.enc.sgn", &len)) != NULL) {
		UNIT_FAILS(sgn_parse(buf, len, SGN_KIND_SGN, &f),
		    UC_ERR_FORMAT, "offset 429: unknown header tag 16");
		UNIT_FAILS(sgn_parse(buf, len, SGN_KIND_TLV, &f),
		    UC_ERR_FORMAT, "tag 16");
		free(buf);
	}
	if ((buf = vec_read("ringlist.xml.sgn", &len)) != NULL) {
		UNIT_FAILS(sgn_parse(buf, len, SGN_KIND_ENC, &f),
		    UC_ERR_FORMAT, "tag 16");
		free(buf);
	}
	UNIT_FAILS(sgn_parse((const uint8_t *)"x", 1, SGN_KIND__MAX, &f),
	    UC_ERR_ARG, NULL);
}

static void
test_wrong_signer_fails_with_signature_error(void)
{
	struct sgn_file	*f;
	X509		*x;

	if ((f = parse_vec("CTLFile.tlv", SGN_KIND_TLV)) == NULL)
		return;
	if ((x = vec_cert("sast2.crt")) != NULL) {
		UNIT_FAILS(sgn_verify(f, x), UC_ERR_SIGNATURE, "signature");
		X509_free(x);
	}
	if ((x = vec_cert("sast1.crt")) != NULL) {
		CU_ASSERT_EQUAL(sgn_verify(f, x), 0);
		X509_free(x);
	}
	/* An EC certificate cannot verify an RSA header signature. */
	if ((x = vec_cert("ec-tftp.crt")) != NULL) {
		UNIT_FAILS(sgn_verify(f, x), UC_ERR_UNSUPPORTED, "RSA");
		X509_free(x);
	}
	sgn_free(f);
	if ((f = parse_vec("ringlist.xml.sgn", SGN_KIND_SGN)) == NULL)
		return;
	if ((x = vec_cert("ccm-tftp.crt")) != NULL) {
		UNIT_FAILS(sgn_verify(f, x), UC_ERR_SIGNATURE, NULL);
		X509_free(x);
	}
	sgn_free(f);
}

/* ---- hostile edits of valid files ---- */

static uint8_t *
vec_copy(const char *name, size_t *len)
{
	return vec_read(name, len);
}

static void
put16(uint8_t *p, size_t off, uint16_t v)
{
	p[off] = v >> 8;
	p[off + 1] = v & 0xff;
}

/* Parse must fail with want and a detail containing needle. */
static void
expect_parse_fails(const uint8_t *buf, size_t len, enum sgn_kind kind,
    int want, const char *needle)
{
	struct sgn_file	*f = (struct sgn_file *)1;

	UNIT_FAILS(sgn_parse(buf, len, kind, &f), want, needle);
	CU_ASSERT_PTR_NULL(f);
	if (f != NULL && f != (struct sgn_file *)1)
		sgn_free(f);
}

static void
test_zero_length_input_fails(void)
{
	static const uint8_t	 one = 0;
	enum sgn_kind		 k;

	for (k = SGN_KIND_AUTO; k < SGN_KIND__MAX; k++) {
		expect_parse_fails(NULL, 0, k, UC_ERR_TRUNCATED, "empty");
		expect_parse_fails(&one, 0, k, UC_ERR_TRUNCATED, "empty");
	}
}

/*
 * Every truncation of every vector fails cleanly: the parse fails with a
 * detail line, or (only where the cut falls on a record boundary of a
 * .tlv, or inside the opaque body of a .sgn) it parses and verification
 * fails.
 */
static void
test_every_truncation_fails_cleanly(void)
{
	struct sgn_file	*f;
	uint8_t		*buf, *cut;
	size_t		 len, n, i, parsed, want_parsed;
	X509		*x;
	int		 r, bad_detail, verified;

	for (i = 0; i < NVECS; i++) {
		if ((buf = vec_read(vecs[i].file, &len)) == NULL)
			continue;
		x = vec_cert(vecs[i].signer);
		parsed = bad_detail = verified = 0;
		for (n = 0; n < len; n++) {
			/* An exact-size copy so ASan sees any over-read. */
			cut = malloc(n ? n : 1);
			memcpy(cut, buf, n);
			unit_clear_err();
			r = sgn_parse(cut, n, SGN_KIND_AUTO, &f);
			if (r != 0) {
				if (uc_errdetail()[0] == '\0')
					bad_detail++;
			} else {
				parsed++;
				if (f->kind != vecs[i].kind ||
				    (f->kind == SGN_KIND_TLV &&
				    tlv_verify(f, NULL) == 0) ||
				    (x != NULL && sgn_verify(f, x) == 0))
					verified++;
				sgn_free(f);
			}
			free(cut);
		}
		if (strcmp(vecs[i].file, "CTLFile.tlv") == 0)
			want_parsed = 4;	/* 404, 1897, 3373, 4877 */
		else if (strcmp(vecs[i].file, "ITLFile.tlv") == 0)
			want_parsed = 4;
		else {
			struct sgn_file	*g = parse_vec(vecs[i].file,
			    SGN_KIND_AUTO);

			want_parsed = g ? len - g->h.hdr_len : 0;
			sgn_free(g);
		}
		if (parsed != want_parsed || bad_detail || verified)
			fprintf(stderr, "\n  %s: parsed %zu (want %zu), empty "
			    "detail %d, verified %d\n", vecs[i].file, parsed,
			    want_parsed, bad_detail, verified);
		CU_ASSERT_EQUAL(parsed, want_parsed);
		CU_ASSERT_EQUAL(bad_detail, 0);
		CU_ASSERT_EQUAL(verified, 0);
		X509_free(x);
		free(buf);
	}
}

static void
test_header_length_out_of_range_fails(void)
{
	uint8_t	*b;
	size_t	 len;

	if ((b = vec_copy("CTLFile.tlv", &len)) == NULL)
		return;
	put16(b, 8, (uint16_t)(len + 1));
	expect_parse_fails(b, len, SGN_KIND_AUTO, UC_ERR_TRUNCATED, "offset 8");
	put16(b, 8, 0xffff);
	expect_parse_fails(b, len, SGN_KIND_AUTO, UC_ERR_TRUNCATED, "offset 8");
	put16(b, 8, 9);
	expect_parse_fails(b, len, SGN_KIND_AUTO, UC_ERR_TRUNCATED, "offset 8");
	/* Header length 400 cuts tag 15 (at 397, 7 bytes). */
	put16(b, 8, 400);
	expect_parse_fails(b, len, SGN_KIND_AUTO, UC_ERR_TRUNCATED,
	    "offset 397: header tag 15");
	/* Header length 10: no elements at all, so no signature. */
	put16(b, 8, 10);
	expect_parse_fails(b, len, SGN_KIND_TLV, UC_ERR_FORMAT, "tag 12");
	free(b);

	/* Bad first elements. */
	if ((b = vec_copy("ringlist.xml.sgn", &len)) == NULL)
		return;
	b[0] = 2;
	expect_parse_fails(b, len, SGN_KIND_AUTO, UC_ERR_FORMAT, "offset 0");
	b[0] = 1;
	b[5] = 3;
	expect_parse_fails(b, len, SGN_KIND_AUTO, UC_ERR_FORMAT, "offset 0");
	free(b);
}

static void
test_unknown_header_tag_fails(void)
{
	uint8_t	*b;
	size_t	 len;

	if ((b = vec_copy("CTLFile.tlv", &len)) == NULL)
		return;
	b[382] = 29;			/* filename tag 14 -> 29 */
	expect_parse_fails(b, len, SGN_KIND_AUTO, UC_ERR_FORMAT,
	    "offset 382: unknown header tag 29");
	b[382] = 0;
	expect_parse_fails(b, len, SGN_KIND_AUTO, UC_ERR_FORMAT,
	    "offset 382: unknown header tag 0");
	b[382] = 16;			/* .enc.sgn only */
	expect_parse_fails(b, len, SGN_KIND_TLV, UC_ERR_FORMAT,
	    "offset 382: unknown header tag 16");
	free(b);
	/* Tag 28 inside a kind SGN parse. */
	if ((b = vec_copy("ringlist.xml.sgn", &len)) == NULL)
		return;
	b[407] = 28;			/* timestamp tag 15 -> 28 */
	expect_parse_fails(b, len, SGN_KIND_SGN, UC_ERR_FORMAT,
	    "offset 407: unknown header tag 28");
	free(b);
}

static void
test_tag_outside_its_container_fails(void)
{
	uint8_t	*b;
	size_t	 len;

	if ((b = vec_copy("CTLFile.tlv", &len)) == NULL)
		return;
	b[382] = 8;			/* hash algorithm at top level */
	expect_parse_fails(b, len, SGN_KIND_AUTO, UC_ERR_FORMAT,
	    "offset 382: header tag 8");
	free(b);
	if ((b = vec_copy("CTLFile.tlv", &len)) == NULL)
		return;
	b[18] = 14;			/* filename inside signer info */
	expect_parse_fails(b, len, SGN_KIND_AUTO, UC_ERR_FORMAT,
	    "offset 18: header tag 14");
	free(b);
	if ((b = vec_copy("CTLFile.tlv", &len)) == NULL)
		return;
	b[382] = 2;			/* header length again */
	expect_parse_fails(b, len, SGN_KIND_AUTO, UC_ERR_FORMAT,
	    "offset 382: tag 2");
	free(b);
	if ((b = vec_copy("CTLFile.tlv", &len)) == NULL)
		return;
	b[18] = 13;			/* padding inside a container */
	expect_parse_fails(b, len, SGN_KIND_AUTO, UC_ERR_FORMAT, "offset 18");
	free(b);
}

static void
test_container_overrunning_header_fails(void)
{
	uint8_t	*b;
	size_t	 len;

	if ((b = vec_copy("CTLFile.tlv", &len)) == NULL)
		return;
	put16(b, 16, 400);		/* signer info (tag 3) length */
	expect_parse_fails(b, len, SGN_KIND_AUTO, UC_ERR_TRUNCATED,
	    "offset 15: header tag 3");
	free(b);
	/* Child element overrunning its container. */
	if ((b = vec_copy("CTLFile.tlv", &len)) == NULL)
		return;
	put16(b, 87, 17);		/* serial (tag 5) 16 -> 17 */
	expect_parse_fails(b, len, SGN_KIND_AUTO, UC_ERR_TRUNCATED,
	    "offset 86: header tag 5");
	free(b);
}

static void
test_unknown_record_tag_fails(void)
{
	uint8_t	*b;
	size_t	 len;
	int	 t;

	if ((b = vec_copy("CTLFile.tlv", &len)) == NULL)
		return;
	for (t = 13; t <= 255; t += 121) {	/* 13, 134, 255 */
		b[409] = (uint8_t)t;	/* record 1 subject tag 3 */
		expect_parse_fails(b, len, SGN_KIND_TLV, UC_ERR_FORMAT,
		    "offset 409: unknown tag");
	}
	b[409] = 1;			/* record length tag inside */
	expect_parse_fails(b, len, SGN_KIND_TLV, UC_ERR_FORMAT,
	    "offset 409: unknown tag 1 in record 1");
	free(b);
	/* A record that does not start with tag 1. */
	if ((b = vec_copy("CTLFile.tlv", &len)) == NULL)
		return;
	b[1897] = 3;
	expect_parse_fails(b, len, SGN_KIND_TLV, UC_ERR_FORMAT,
	    "offset 1897: record 2");
	free(b);
}

static void
test_duplicate_tag_fails(void)
{
	uint8_t	*b;
	size_t	 len;

	if ((b = vec_copy("CTLFile.tlv", &len)) == NULL)
		return;
	b[397] = 14;			/* timestamp -> second filename */
	expect_parse_fails(b, len, SGN_KIND_AUTO, UC_ERR_FORMAT,
	    "offset 397: header tag 14 (filename) appears twice");
	free(b);
	if ((b = vec_copy("CTLFile.tlv", &len)) == NULL)
		return;
	b[443] = 3;			/* record 1 issuer -> second subject */
	expect_parse_fails(b, len, SGN_KIND_TLV, UC_ERR_FORMAT,
	    "offset 443: record 1 has tag 3");
	free(b);
}

static void
test_wrong_fixed_size_fails(void)
{
	uint8_t	*b;
	size_t	 len;

	if ((b = vec_copy("CTLFile.tlv", &len)) == NULL)
		return;
	put16(b, 109, 2);		/* hash algorithm length 1 -> 2 */
	expect_parse_fails(b, len, SGN_KIND_AUTO, UC_ERR_FORMAT,
	    "offset 108: header tag 8 (hash algorithm) has length 2");
	free(b);
	if ((b = vec_copy("CTLFile.tlv", &len)) == NULL)
		return;
	put16(b, 11, 1);		/* signer version length 2 -> 1 */
	expect_parse_fails(b, len, SGN_KIND_AUTO, UC_ERR_FORMAT,
	    "offset 10: header tag 28");
	free(b);
	if ((b = vec_copy("CTLFile.tlv", &len)) == NULL)
		return;
	put16(b, 497, 1);		/* record 1 role length 2 -> 1 */
	expect_parse_fails(b, len, SGN_KIND_TLV, UC_ERR_FORMAT,
	    "offset 496: record 1 tag 4");
	free(b);
	if ((b = vec_copy("SEP0011223344BB.cnf.xml.enc.sgn", &len)) == NULL)
		return;
	put16(b, 440, 15);		/* IV length 16 -> 15 */
	expect_parse_fails(b, len, SGN_KIND_ENC, UC_ERR_FORMAT,
	    "offset 439: header tag 19");
	free(b);
}

static void
test_missing_signature_fails(void)
{
	uint8_t	*b, *e;
	size_t	 len, elen;

	if ((b = vec_copy("CTLFile.tlv", &len)) == NULL)
		return;
	/* Cut tag 12 (123..381) out and fix the header length. */
	elen = len - 259;
	e = malloc(elen);
	memcpy(e, b, 123);
	memcpy(e + 123, b + 382, len - 382);
	put16(e, 8, 404 - 259);
	expect_parse_fails(e, elen, SGN_KIND_AUTO, UC_ERR_FORMAT,
	    "no signature (tag 12");
	free(e);
	free(b);
}

static void
test_signature_modulus_mismatch_fails(void)
{
	uint8_t	*b;
	size_t	 len;

	if ((b = vec_copy("CTLFile.tlv", &len)) == NULL)
		return;
	b[122] = 1;			/* modulus code 2 -> 1 (128 bytes) */
	expect_parse_fails(b, len, SGN_KIND_AUTO, UC_ERR_FORMAT,
	    "offset 123: signature is 256 bytes but modulus code 1");
	b[122] = 4;
	expect_parse_fails(b, len, SGN_KIND_AUTO, UC_ERR_UNSUPPORTED,
	    "modulus code 4");
	b[122] = 2;
	b[118] = 1;			/* signature algorithm 0 -> 1 */
	expect_parse_fails(b, len, SGN_KIND_AUTO, UC_ERR_UNSUPPORTED,
	    "signature algorithm 1");
	free(b);
}

static void
test_unknown_hash_algorithm_fails_verify(void)
{
	struct sgn_file	*f;
	uint8_t		*b;
	size_t		 len;
	X509		*x;

	if ((b = vec_copy("ringlist.xml.sgn", &len)) == NULL)
		return;
	b[116] = 7;			/* hash algorithm 3 -> 7 */
	if (sgn_parse(b, len, SGN_KIND_SGN, &f) == 0) {
		if ((x = vec_cert("tftp.crt")) != NULL) {
			UNIT_FAILS(sgn_verify(f, x), UC_ERR_UNSUPPORTED,
			    "hash algorithm code 7");
			X509_free(x);
		}
		sgn_free(f);
	} else {
		CU_ASSERT(uc_errdetail()[0] != '\0');
	}
	free(b);
}

static void
test_header_serial_naming_no_sast_fails_notfound(void)
{
	struct sgn_file	*f;
	uint8_t		*b;
	size_t		 len;

	if ((b = vec_copy("CTLFile.tlv", &len)) == NULL)
		return;
	b[89] = 0xa0;			/* header serial a1b2.. -> a0b2.. */
	if (sgn_parse(b, len, SGN_KIND_TLV, &f) == 0) {
		UNIT_FAILS(tlv_verify(f, NULL), UC_ERR_NOTFOUND,
		    "a0b2c3d4e5f60718293a4b5c6d7e8f90");
		sgn_free(f);
	} else {
		CU_FAIL("edited serial should still parse");
	}
	b[89] = 0xa1;
	b[500] = 1;			/* record 1 role SAST -> CCM */
	if (sgn_parse(b, len, SGN_KIND_TLV, &f) == 0) {
		UNIT_FAILS(tlv_find_signer(f, &len), UC_ERR_NOTFOUND, "SAST");
		UNIT_FAILS(tlv_verify(f, NULL), UC_ERR_NOTFOUND, "SAST");
		sgn_free(f);
	} else {
		CU_FAIL("edited role should still parse");
	}
	free(b);
}

static void
test_string_without_nul_fails(void)
{
	uint8_t	*b;
	size_t	 len;

	if ((b = vec_copy("CTLFile.tlv", &len)) == NULL)
		return;
	b[51] = 'X';			/* signer name's NUL */
	expect_parse_fails(b, len, SGN_KIND_AUTO, UC_ERR_FORMAT,
	    "offset 18: signer name");
	b[51] = 0;
	b[396] = 'X';			/* filename's NUL */
	expect_parse_fails(b, len, SGN_KIND_AUTO, UC_ERR_FORMAT,
	    "offset 382: filename");
	b[396] = 0;
	b[442] = 'X';			/* record 1 subject's NUL */
	expect_parse_fails(b, len, SGN_KIND_TLV, UC_ERR_FORMAT,
	    "offset 409: record subject name");
	b[442] = 0;
	b[30] = 0;			/* NUL inside the signer name */
	expect_parse_fails(b, len, SGN_KIND_AUTO, UC_ERR_FORMAT,
	    "offset 18: signer name");
	free(b);
}

static void
test_record_missing_certificate_fails(void)
{
	uint8_t	*b;
	size_t	 len;

	if ((b = vec_copy("CTLFile.tlv", &len)) == NULL)
		return;
	/* Record 4's last element is tag 9 (3 + 964 bytes): drop it. */
	CU_ASSERT_EQUAL_FATAL(b[len - 967], 9);
	put16(b, 4877 + 3, 1654 - 967);
	expect_parse_fails(b, len - 967, SGN_KIND_TLV, UC_ERR_FORMAT,
	    "offset 4877: record 4 lacks its certificate (tag 9)");
	free(b);
}

static void
test_record_past_file_end_fails(void)
{
	uint8_t	*b;
	size_t	 len;

	if ((b = vec_copy("CTLFile.tlv", &len)) == NULL)
		return;
	put16(b, 4877 + 3, 1655);
	expect_parse_fails(b, len, SGN_KIND_TLV, UC_ERR_TRUNCATED,
	    "offset 4877: record 4 length 1655");
	put16(b, 4877 + 3, 4);		/* shorter than its own tag 1 */
	expect_parse_fails(b, len, SGN_KIND_TLV, UC_ERR_TRUNCATED,
	    "offset 4877: record 4 length 4");
	put16(b, 4877 + 3, 1654);
	/* Element past its record: record 1 certificate 861 -> 862. */
	put16(b, 1034, 862);
	expect_parse_fails(b, len, SGN_KIND_TLV, UC_ERR_TRUNCATED,
	    "offset 1033: record 1 tag 9");
	free(b);
}

/* ---- mutation fuzzing (STYLE.md 8) ---- */

static uint64_t	 prng_state;

static uint32_t
prng(void)
{
	/* xorshift64*, fixed seed per vector: runs are reproducible. */
	prng_state ^= prng_state >> 12;
	prng_state ^= prng_state << 25;
	prng_state ^= prng_state >> 27;
	return (uint32_t)((prng_state * 2685821657736338717ULL) >> 32);
}

struct mstats {
	size_t	 tried, parsed, verified;
};

/* Parse m; if it parses, every verification must fail. */
static void
try_mutant(const uint8_t *m, size_t len, X509 *x, struct mstats *st,
    const char *file, const char *what, size_t off)
{
	struct sgn_file	*f;
	int		 ok = 0;

	st->tried++;
	if (sgn_parse(m, len, SGN_KIND_AUTO, &f) != 0)
		return;
	st->parsed++;
	if (f->kind == SGN_KIND_TLV && tlv_verify(f, NULL) == 0)
		ok = 1;
	if (x != NULL && sgn_verify(f, x) == 0)
		ok = 1;
	if (ok) {
		st->verified++;
		if (st->verified < 5)
			fprintf(stderr, "\n  %s: %s at offset %zu verifies\n",
			    file, what, off);
	}
	sgn_free(f);
}

static void
test_mutations_never_crash_or_verify(void)
{
	struct mstats	 st;
	uint8_t		*buf, *m;
	size_t		 len, i, j, off;
	X509		*x;
	uint8_t		 v;

	for (i = 0; i < NVECS; i++) {
		if ((buf = vec_read(vecs[i].file, &len)) == NULL)
			continue;
		x = vec_cert(vecs[i].signer);
		memset(&st, 0, sizeof(st));
		prng_state = 0x9e3779b97f4a7c15ULL + i;
		m = malloc(len);
		memcpy(m, buf, len);
		/* One bit flip at every offset (bit varies with offset). */
		for (off = 0; off < len; off++) {
			m[off] ^= (uint8_t)(1 << (off % 8));
			try_mutant(m, len, x, &st, vecs[i].file, "bit flip",
			    off);
			m[off] = buf[off];
		}
		/* Random single and double bit flips. */
		for (j = 0; j < 2000; j++) {
			off = prng() % len;
			m[off] ^= (uint8_t)(1 << (prng() % 8));
			if (j % 2) {
				size_t	 o2 = prng() % len;

				m[o2] ^= (uint8_t)(1 << (prng() % 8));
				if (memcmp(m, buf, len) != 0)
					try_mutant(m, len, x, &st,
					    vecs[i].file, "double flip", off);
				memcpy(m + o2, buf + o2, 1);
			} else {
				try_mutant(m, len, x, &st, vecs[i].file,
				    "random flip", off);
			}
			m[off] = buf[off];
		}
		/* Bytes set to 0x00 or 0xff (skipped where unchanged). */
		for (j = 0; j < 2000; j++) {
			off = prng() % len;
			v = (j % 2) ? 0xff : 0x00;
			if (buf[off] == v)
				continue;
			m[off] = v;
			try_mutant(m, len, x, &st, vecs[i].file, "byte set",
			    off);
			m[off] = buf[off];
		}
		/* Random truncations of a random-flipped copy. */
		for (j = 0; j < 300; j++) {
			off = prng() % len;
			m[off] ^= 0x80;
			try_mutant(m, prng() % len, x, &st, vecs[i].file,
			    "flip+truncate", off);
			m[off] = buf[off];
		}
		CU_ASSERT_EQUAL(memcmp(m, buf, len), 0);
		if (st.verified)
			fprintf(stderr, "\n  %s: %zu of %zu mutants parsed, "
			    "%zu verified\n", vecs[i].file, st.parsed,
			    st.tried, st.verified);
		CU_ASSERT_EQUAL(st.verified, 0);
		/* The harness must actually reach verification. */
		CU_ASSERT(st.parsed > st.tried / 4);
		free(m);
		X509_free(x);
		free(buf);
	}
}

static const struct unit_test tests[] = {
	{ "CTLFile.tlv parses to the README fields and verifies",
	    test_ctl_parses_to_readme_fields },
	{ "ITLFile.tlv parses to the README fields and verifies",
	    test_itl_parses_to_readme_fields },
	{ "CTLFile-tampered.tlv parses but fails verify",
	    test_tampered_ctl_parses_but_fails_verify },
	{ ".sgn vectors parse, body is the plain file, verify",
	    test_sgn_vectors_parse_and_verify },
	{ "stub .sgn parses (451-byte body) and verifies",
	    test_stub_sgn_parses_and_verifies },
	{ ".enc.sgn parses to the README fields and verifies",
	    test_enc_sgn_parses_to_readme_fields },
	{ "each vector parses as its own kind only",
	    test_each_vector_parses_as_its_own_kind_only },
	{ "wrong signer certificate fails verify",
	    test_wrong_signer_fails_with_signature_error },
	{ "zero-length input fails", test_zero_length_input_fails },
	{ "every truncation fails cleanly",
	    test_every_truncation_fails_cleanly },
	{ "header length out of range fails",
	    test_header_length_out_of_range_fails },
	{ "unknown header tag fails", test_unknown_header_tag_fails },
	{ "tag outside its container fails",
	    test_tag_outside_its_container_fails },
	{ "container overrunning its parent fails",
	    test_container_overrunning_header_fails },
	{ "unknown record tag fails", test_unknown_record_tag_fails },
	{ "duplicate tag fails", test_duplicate_tag_fails },
	{ "wrong fixed size fails", test_wrong_fixed_size_fails },
	{ "missing signature fails", test_missing_signature_fails },
	{ "signature/modulus mismatch fails",
	    test_signature_modulus_mismatch_fails },
	{ "unknown hash algorithm fails verify",
	    test_unknown_hash_algorithm_fails_verify },
	{ "header serial naming no SAST record: not found",
	    test_header_serial_naming_no_sast_fails_notfound },
	{ "string without its NUL fails", test_string_without_nul_fails },
	{ "record missing its certificate fails",
	    test_record_missing_certificate_fails },
	{ "record running past the file end fails",
	    test_record_past_file_end_fails },
	{ "mutations never crash and never verify",
	    test_mutations_never_crash_or_verify },
	{ NULL, NULL },
};

void
unit_register_sgn(void)
{
	unit_suite("sgn", tests);
}
