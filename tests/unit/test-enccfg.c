/*
 * Suite "enccfg": encrypted configs (lib/enccfg.c, signed-files.md 4).
 * The vector .enc.sgn decrypts to the vector config, encrypt/decrypt
 * round-trips at block edges, the stub matches the reference byte for
 * byte, credential stripping drops only the password lines, and
 * hostile inputs are refused.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "cert.h"
#include "enccfg.h"
#include "sgn.h"
#include "signer.h"
#include "unit.h"

#define ENC_VEC		"SEP0011223344BB.cnf.xml.enc.sgn"
#define STUB_VEC	"SEP0011223344BB.cnf.xml.sgn"
#define CFG_VEC		"SEP0011223344BB.cnf.xml"
#define STUB_HDR_LEN	428	/* vectors README 4 */

static EVP_PKEY *
vec_key(const char *name)
{
	EVP_PKEY	*pk = NULL;
	FILE		*fp;

	if ((fp = fopen(vec_path(name), "r")) != NULL) {
		pk = PEM_read_PrivateKey(fp, NULL, NULL, NULL);
		fclose(fp);
	}
	if (pk == NULL)
		CU_FAIL("private key vector");
	return pk;
}

static struct sgn_file *
vec_parse(const char *name, enum sgn_kind kind)
{
	struct sgn_file	*f = NULL;
	uint8_t		*buf;
	size_t		 len;

	if ((buf = vec_read(name, &len)) == NULL)
		return NULL;
	if (sgn_parse(buf, len, kind, &f) != 0) {
		fprintf(stderr, "\n  %s: %s\n", name, uc_errdetail());
		CU_FAIL("vector does not parse");
	}
	free(buf);
	return f;
}

static void
test_vector_decrypts_to_config(void)
{
	struct sgn_file	*f;
	EVP_PKEY	*pk;
	EVP_PKEY_CTX	*ctx;
	uint8_t		*pt = NULL, *want, key[512];
	size_t		 ptlen = 0, wlen, klen = sizeof(key);

	if ((f = vec_parse(ENC_VEC, SGN_KIND_ENC)) == NULL)
		return;
	if ((pk = vec_key("device.key")) == NULL ||
	    (want = vec_read(CFG_VEC, &wlen)) == NULL) {
		EVP_PKEY_free(pk);
		sgn_free(f);
		return;
	}
	CU_ASSERT_EQUAL(enccfg_decrypt(f, pk, &pt, &ptlen), 0);
	CU_ASSERT_EQUAL(ptlen, wlen);
	if (pt != NULL && ptlen == wlen)
		CU_ASSERT_EQUAL(memcmp(pt, want, wlen), 0);
	/* The unwrapped key is the one the README records. */
	ctx = EVP_PKEY_CTX_new(pk, NULL);
	CU_ASSERT_FATAL(ctx != NULL);
	CU_ASSERT(EVP_PKEY_decrypt_init(ctx) == 1 &&
	    EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) == 1 &&
	    EVP_PKEY_decrypt(ctx, key, &klen, f->h.enc.wrapped_key.p,
	    f->h.enc.wrapped_key.len) == 1);
	CU_ASSERT_EQUAL(klen, 16);
	CU_ASSERT_STRING_EQUAL(unit_hex(key, klen),
	    "85ec162d3ab539e1b1dbcc8e766f1893");
	EVP_PKEY_CTX_free(ctx);
	free(pt);
	free(want);
	EVP_PKEY_free(pk);
	sgn_free(f);
}

static struct signer *
tftp_signer(void)
{
	struct signer	*s = NULL;

	if (signer_file_open(vec_path("tftp.pem"), NULL, &s) != 0)
		CU_FAIL("tftp signer");
	return s;
}

/* Encrypt n bytes with md, check the file, decrypt, compare. */
static void
round_trip(struct signer *s, X509 *dev, EVP_PKEY *pk, size_t n,
    enum signer_md md)
{
	struct sgn_file	*f = NULL;
	uint8_t		*cfg, *out = NULL, *pt = NULL;
	size_t		 i, outlen = 0, ptlen = 0;

	CU_ASSERT_FATAL((cfg = malloc(n + 1)) != NULL);
	for (i = 0; i < n; i++)
		cfg[i] = (uint8_t)(i * 7 + 1);
	CU_ASSERT_EQUAL(enccfg_encrypt(cfg, n, dev, s, md, "x.cnf.xml.enc.sgn",
	    1795650566U, &out, &outlen), 0);
	if (out == NULL || sgn_parse(out, outlen, SGN_KIND_AUTO, &f) != 0) {
		CU_FAIL("encrypted config does not parse");
		goto out;
	}
	CU_ASSERT_EQUAL(f->kind, SGN_KIND_ENC);
	CU_ASSERT_EQUAL(f->h.ver_major, 2);
	CU_ASSERT_EQUAL(sgn_verify(f, s->cert), 0);
	CU_ASSERT_EQUAL(f->h.enc.wrapped_bits, 2048);
	CU_ASSERT_EQUAL(f->h.enc.pad_count, 16 - (int)(n % 16));
	CU_ASSERT_EQUAL(f->body_len, n + 16 - n % 16);
	CU_ASSERT_EQUAL(f->h.enc.pt_hash_alg, md == SIGNER_SHA1 ?
	    SGN_HASH_SHA1 : SGN_HASH_SHA512);
	CU_ASSERT_EQUAL(f->h.hash_alg, f->h.enc.pt_hash_alg);
	CU_ASSERT_EQUAL(enccfg_decrypt(f, pk, &pt, &ptlen), 0);
	CU_ASSERT_EQUAL(ptlen, n);
	if (pt != NULL && ptlen == n && n > 0)
		CU_ASSERT_EQUAL(memcmp(pt, cfg, n), 0);
out:
	free(pt);
	sgn_free(f);
	free(out);
	free(cfg);
}

static void
test_encrypt_decrypt_round_trips(void)
{
	static const size_t	 sizes[] = { 0, 1, 15, 16, 17, 4096 };
	struct signer		*s;
	X509			*dev;
	EVP_PKEY		*pk;
	size_t			 i;

	if ((s = tftp_signer()) == NULL)
		return;
	dev = vec_cert("device.crt");
	pk = vec_key("device.key");
	if (dev != NULL && pk != NULL)
		for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			round_trip(s, dev, pk, sizes[i], SIGNER_SHA1);
			round_trip(s, dev, pk, sizes[i], SIGNER_SHA512);
		}
	EVP_PKEY_free(pk);
	X509_free(dev);
	signer_free(s);
}

static void
test_two_encryptions_use_fresh_key_and_iv(void)
{
	struct sgn_file	*a = NULL, *b = NULL;
	struct signer	*s;
	X509		*dev;
	uint8_t		*o1 = NULL, *o2 = NULL;
	size_t		 l1, l2;

	if ((s = tftp_signer()) == NULL)
		return;
	if ((dev = vec_cert("device.crt")) != NULL &&
	    enccfg_encrypt((const uint8_t *)"<device/>", 9, dev, s, SIGNER_SHA1,
	    "a", 1, &o1, &l1) == 0 &&
	    enccfg_encrypt((const uint8_t *)"<device/>", 9, dev, s, SIGNER_SHA1,
	    "a", 1, &o2, &l2) == 0 &&
	    sgn_parse(o1, l1, SGN_KIND_ENC, &a) == 0 &&
	    sgn_parse(o2, l2, SGN_KIND_ENC, &b) == 0) {
		CU_ASSERT_NOT_EQUAL(memcmp(a->h.enc.iv.p, b->h.enc.iv.p, 16),
		    0);
		CU_ASSERT_NOT_EQUAL(memcmp(a->body, b->body, 16), 0);
	} else
		CU_FAIL("encrypt twice");
	sgn_free(a);
	sgn_free(b);
	free(o1);
	free(o2);
	X509_free(dev);
	signer_free(s);
}

static void
test_stub_matches_reference(void)
{
	uint8_t	*cfg, *stub, *xml = NULL;
	size_t	 clen, slen, xlen = 0, i;
	X509	*dev;

	if ((cfg = vec_read(CFG_VEC, &clen)) == NULL)
		return;
	if ((stub = vec_read(STUB_VEC, &slen)) == NULL ||
	    (dev = vec_cert("device.crt")) == NULL) {
		free(stub);
		free(cfg);
		return;
	}
	CU_ASSERT_EQUAL(enccfg_stub(cfg, clen, dev, &xml, &xlen), 0);
	CU_ASSERT_EQUAL(xlen, slen - STUB_HDR_LEN);
	if (xml != NULL && xlen == slen - STUB_HDR_LEN &&
	    memcmp(xml, stub + STUB_HDR_LEN, xlen) != 0) {
		for (i = 0; i < xlen && xml[i] == stub[STUB_HDR_LEN + i]; i++)
			continue;
		fprintf(stderr, "\n  stub differs at offset %zu\n", i);
		CU_FAIL("stub differs from the reference");
	}
	free(xml);
	X509_free(dev);
	free(stub);
	free(cfg);
}

/* Stub of a literal config; returns the XML (caller frees) or NULL. */
static char *
stub_of(const char *cfg, int *rc)
{
	uint8_t	*xml = NULL;
	size_t	 xlen = 0;
	char	*s = NULL;
	X509	*dev;

	if ((dev = vec_cert("device.crt")) == NULL)
		return NULL;
	unit_clear_err();
	*rc = enccfg_stub((const uint8_t *)cfg, strlen(cfg), dev, &xml, &xlen);
	if (*rc == 0 && (s = calloc(1, xlen + 1)) != NULL)
		memcpy(s, xml, xlen);
	free(xml);
	X509_free(dev);
	return s;
}

static void
test_stub_keeps_only_listed_elements(void)
{
	char	*s;
	int	 rc;

	/* CUCM's undeclared xsi: prefix on the root is tolerated. */
	s = stub_of("<device xsi:type=\"axl:XIPPhone\" ctiid=\"1\">"
	    "<sshPassword>pw</sshPassword><capfAuthMode>1</capfAuthMode>"
	    "<x:ipAddressMode xmlns:x=\"urn:x\">9</x:ipAddressMode>"
	    "<loadInformation>a&amp;b&#233;</loadInformation>"
	    "<!-- c --><encrConfig>false</encrConfig></device>", &rc);
	CU_ASSERT_EQUAL(rc, 0);
	if (s == NULL)
		return;
	CU_ASSERT_STRING_EQUAL(s,
	    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	    "<device>\n"
	    "  <fullConfig>false</fullConfig>\n"
	    "  <capfAuthMode>1</capfAuthMode>\n"
	    "  <loadInformation>a&amp;b&#233;</loadInformation>\n"
	    "  <certHash>d03e923b487c049ce26589886a9fd6bb</certHash>\n"
	    "  <encrConfig>true</encrConfig>\n"
	    "</device>\n");
	free(s);
}

static void
test_stub_refuses_hostile_xml(void)
{
	static const char *const bad[] = {
		/* billion laughs */
		"<?xml version=\"1.0\"?><!DOCTYPE device [<!ENTITY a \"aaaa\">"
		"<!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">]>"
		"<device><loadInformation>&b;</loadInformation></device>",
		/* external entity */
		"<!DOCTYPE device [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>"
		"<device><loadInformation>&x;</loadInformation></device>",
		"<!DOCTYPE device SYSTEM \"http://127.0.0.1:1/x.dtd\"><device/>",
		"<device><loadInformation>&undeclared;</loadInformation>"
		"</device>",
		"<device><capfList></device>",
		"<device/><device/>",
		"not xml",
	};
	size_t	 i;
	char	*s;
	int	 rc;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		s = stub_of(bad[i], &rc);
		CU_ASSERT_PTR_NULL(s);
		CU_ASSERT_EQUAL(rc, UC_ERR_FORMAT);
		CU_ASSERT(uc_errdetail()[0] != '\0');
		if (i < 3)
			CU_ASSERT_PTR_NOT_NULL(strstr(uc_errdetail(),
			    "DOCTYPE"));
		free(s);
	}
	s = stub_of("<config><device/></config>", &rc);
	CU_ASSERT_PTR_NULL(s);
	CU_ASSERT_EQUAL(rc, UC_ERR_FORMAT);
	CU_ASSERT_PTR_NOT_NULL(strstr(uc_errdetail(), "<config>"));
	free(s);
	s = stub_of("", &rc);
	CU_ASSERT_EQUAL(rc, UC_ERR_FORMAT);
	free(s);
}

static void
test_encrypt_refuses_ec_device(void)
{
	struct signer	*s;
	uint8_t		*out = NULL;
	size_t		 outlen;
	X509		*ec;

	if ((s = tftp_signer()) == NULL)
		return;
	if ((ec = vec_cert("ec-tftp.crt")) != NULL) {
		UNIT_FAILS(enccfg_encrypt((const uint8_t *)"x", 1, ec, s,
		    SIGNER_SHA1, "x.enc.sgn", 1, &out, &outlen),
		    UC_ERR_UNSUPPORTED, "no EC key-wrapping format is known");
		CU_ASSERT_PTR_NULL(out);
		X509_free(ec);
	}
	signer_free(s);
}

/* A fresh copy of the vector parsed; mutate buf then re-parse. */
static int
decrypt_mutated(size_t off, uint8_t xor, int cut, EVP_PKEY *pk)
{
	struct sgn_file	*f = NULL;
	uint8_t		*buf, *pt = NULL;
	size_t		 len, ptlen;
	int		 r;

	if ((buf = vec_read(ENC_VEC, &len)) == NULL)
		return UC_ERR_INTERNAL;
	if (off < len)
		buf[off] ^= xor;
	len -= (size_t)cut;
	if ((r = sgn_parse(buf, len, SGN_KIND_ENC, &f)) == 0)
		r = enccfg_decrypt(f, pk, &pt, &ptlen);
	CU_ASSERT_PTR_NULL(pt);
	free(pt);
	sgn_free(f);
	free(buf);
	return r;
}

static void
test_decrypt_refuses_hostile_files(void)
{
	struct sgn_file	*f;
	EVP_PKEY	*pk, *wrong;
	uint8_t		*pt = NULL;
	size_t		 ptlen, pc;
	const uint8_t	*p;

	if ((f = vec_parse(ENC_VEC, SGN_KIND_ENC)) == NULL)
		return;
	pk = vec_key("device.key");
	wrong = vec_key("tftp.key");
	if (pk == NULL || wrong == NULL)
		goto out;
	UNIT_FAILS(enccfg_decrypt(f, wrong, &pt, &ptlen), UC_ERR_CRYPTO,
	    "device key");
	CU_ASSERT_PTR_NULL(pt);
	/* Last ciphertext byte flipped: the hash no longer matches. */
	UNIT_FAILS(decrypt_mutated(f->len - 1, 0x01, 0, pk),
	    UC_ERR_SIGNATURE, "plaintext hash");
	/* Plaintext hash (tag 27) flipped. */
	UNIT_FAILS(decrypt_mutated((size_t)(f->h.enc.pt_hash.p - f->buf),
	    0x80, 0, pk), UC_ERR_SIGNATURE, "tag 27");
	/* Body not a multiple of 16. */
	UNIT_FAILS(decrypt_mutated(0, 0, 1, pk), UC_ERR_FORMAT,
	    "multiple of 16");
	/* Pad count 0 and 17 (tag 20 value: after 14 00 02). */
	for (p = f->h.enc.iv.p + 16; p[0] != 0x14; p++)
		continue;
	pc = (size_t)(p - f->buf) + 4;
	CU_ASSERT_EQUAL(f->buf[pc], 2);
	UNIT_FAILS(decrypt_mutated(pc, 0x02, 0, pk), UC_ERR_FORMAT, "tag 20");
	UNIT_FAILS(decrypt_mutated(pc, 0x13, 0, pk), UC_ERR_FORMAT, "tag 20");
	/* Not an .enc.sgn at all. */
	sgn_free(f);
	if ((f = vec_parse(STUB_VEC, SGN_KIND_SGN)) != NULL)
		UNIT_FAILS(enccfg_decrypt(f, pk, &pt, &ptlen), UC_ERR_FORMAT,
		    "tag 16");
out:
	EVP_PKEY_free(pk);
	EVP_PKEY_free(wrong);
	sgn_free(f);
}

/* enccfg_strip_credentials of a C string, NUL-terminated, or NULL. */
static char *
strip_of(const char *cfg, size_t len, int *rc)
{
	uint8_t	*out = NULL;
	size_t	 outlen = 0;
	char	*s = NULL;

	*rc = enccfg_strip_credentials((const uint8_t *)cfg, len, &out,
	    &outlen);
	if (*rc == 0 && (s = malloc(outlen + 1)) != NULL) {
		memcpy(s, out, outlen);
		s[outlen] = '\0';
	}
	free(out);
	return s;
}

/* cfg with every line holding "Password" dropped. */
static char *
without_password_lines(const char *cfg)
{
	const char	*p, *nl;
	char		*o;
	size_t		 n = 0;

	if ((o = malloc(strlen(cfg) + 1)) == NULL)
		return NULL;
	for (p = cfg; *p != '\0'; p = nl) {
		nl = strchr(p, '\n');
		nl = nl == NULL ? p + strlen(p) : nl + 1;
		if (memmem(p, (size_t)(nl - p), "Password", 8) != NULL)
			continue;
		memcpy(o + n, p, (size_t)(nl - p));
		n += (size_t)(nl - p);
	}
	o[n] = '\0';
	return o;
}

static void
test_strip_removes_passwords(void)
{
	static const char cfg[] =
	    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	    "<!-- per-device config -->\n"
	    "<device xsi:type=\"axl:XIPPhone\" ctiid=\"7\">\n"
	    "  <fullConfig>true</fullConfig>\n"
	    "  <sipProfile>\n"
	    "    <sipLines>\n"
	    "      <line button=\"1\">\n"
	    "        <featureLabel>Caf&#233; &amp; bar</featureLabel>\n"
	    "        <authName>1001</authName>\n"
	    "        <authPassword>first-line-pw</authPassword>\n"
	    "        <name>1001</name>\n"
	    "      </line>\n"
	    "      <line button=\"2\">\n"
	    "        <authName>1002</authName>\n"
	    "        <authPassword>second-line-pw</authPassword>\n"
	    "      </line>\n"
	    "    </sipLines>\n"
	    "  </sipProfile>\n"
	    "  <sshUserId>admin</sshUserId>\n"
	    "  <sshPassword>ssh-pw</sshPassword>\n"
	    "  <empty/>\n"
	    "</device>\n";
	char	*s, *want;
	int	 rc;

	s = strip_of(cfg, sizeof(cfg) - 1, &rc);
	want = without_password_lines(cfg);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_PTR_NOT_NULL(s);
	CU_ASSERT_PTR_NOT_NULL(want);
	if (s != NULL && want != NULL) {
		CU_ASSERT_PTR_NULL(strstr(s, "first-line-pw"));
		CU_ASSERT_PTR_NULL(strstr(s, "second-line-pw"));
		CU_ASSERT_PTR_NULL(strstr(s, "ssh-pw"));
		CU_ASSERT_PTR_NULL(strstr(s, "Password"));
		CU_ASSERT_PTR_NOT_NULL(strstr(s, "<authName>1002</authName>"));
		CU_ASSERT_STRING_EQUAL(s, want);
	}
	free(s);
	free(want);
}

static void
test_strip_vector_config(void)
{
	uint8_t	*buf;
	char	*cfg = NULL, *s = NULL, *want = NULL;
	size_t	 len;
	int	 rc;

	if ((buf = vec_read(CFG_VEC, &len)) == NULL)
		return;
	if ((cfg = malloc(len + 1)) == NULL)
		goto out;
	memcpy(cfg, buf, len);
	cfg[len] = '\0';
	CU_ASSERT_PTR_NOT_NULL(strstr(cfg, "s3cret-digest-password"));
	s = strip_of(cfg, len, &rc);
	want = without_password_lines(cfg);
	CU_ASSERT_EQUAL(rc, 0);
	if (s != NULL && want != NULL) {
		CU_ASSERT_PTR_NULL(strstr(s, "s3cret-digest-password"));
		CU_ASSERT_PTR_NULL(strstr(s, "ssh-secret"));
		CU_ASSERT_PTR_NOT_NULL(strstr(s, "<authName>1001</authName>"));
		CU_ASSERT_STRING_EQUAL(s, want);
	}
out:
	free(buf);
	free(cfg);
	free(s);
	free(want);
}

static void
test_strip_refuses_hostile_xml(void)
{
	static const char *const bad[] = {
		"<?xml version=\"1.0\"?><!DOCTYPE device [<!ENTITY a \"pw\">]>"
		"<device><authPassword>&a;</authPassword></device>",
		"<!DOCTYPE device SYSTEM \"http://127.0.0.1:1/x.dtd\">"
		"<device><authPassword>x</authPassword></device>",
		"<device><authPassword>x</device>",
		"<authPassword>x</authPassword>",
		"not xml",
		"",
	};
	size_t	 i;
	char	*s;
	int	 rc;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		s = strip_of(bad[i], strlen(bad[i]), &rc);
		CU_ASSERT_PTR_NULL(s);
		CU_ASSERT_EQUAL(rc, UC_ERR_FORMAT);
		CU_ASSERT(uc_errdetail()[0] != '\0');
		if (i < 2)
			CU_ASSERT_PTR_NOT_NULL(strstr(uc_errdetail(),
			    "DOCTYPE"));
		free(s);
	}
}

void
unit_register_enccfg(void)
{
	static const struct unit_test	 tests[] = {
		{ "vector .enc.sgn decrypts to the vector config",
		    test_vector_decrypts_to_config },
		{ "encrypt then decrypt round-trips at block edges",
		    test_encrypt_decrypt_round_trips },
		{ "each encryption draws a fresh key and IV",
		    test_two_encryptions_use_fresh_key_and_iv },
		{ "stub equals the reference stub byte for byte",
		    test_stub_matches_reference },
		{ "stub keeps only the listed unqualified elements",
		    test_stub_keeps_only_listed_elements },
		{ "stub refuses DOCTYPE, entities, bad XML, other roots",
		    test_stub_refuses_hostile_xml },
		{ "encryption to an EC device certificate is refused",
		    test_encrypt_refuses_ec_device },
		{ "decrypt refuses wrong key, tampering, bad padding",
		    test_decrypt_refuses_hostile_files },
		{ "strip removes authPassword and sshPassword lines only",
		    test_strip_removes_passwords },
		{ "strip of the vector config drops only password lines",
		    test_strip_vector_config },
		{ "strip refuses DOCTYPE, bad XML, a credential root",
		    test_strip_refuses_hostile_xml },
		{ NULL, NULL }
	};

	unit_suite("enccfg", tests);
}
