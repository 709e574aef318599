/*
 * Suite "cert": X.509 helpers (lib/cert.c) against vectors/README.md 1.
 */
#include <stdio.h>
#include <stdlib.h>

#include <openssl/evp.h>

#include "cert.h"
#include "fileio.h"
#include "unit.h"

static const struct {
	const char	*file;
	const char	*subject;
	const char	*serial;
	const char	*sha1;
} certs[] = {
	{ "sast1.crt", "CN=SAST-1,O=ucsec-test,OU=SAST",
	    "a1b2c3d4e5f60718293a4b5c6d7e8f90",
	    "5064ffd44b2020650f772f8e7bc4faee3501f083" },
	{ "sast2.crt", "CN=SAST-2,O=ucsec-test,OU=SAST", "1122334455667788",
	    "e5bb9b08b34cc896d4b4f99e211cbda7eaca6d35" },
	{ "ccm-tftp.crt", "CN=ccm1.example.test,O=ucsec-test,OU=CCM", "2001",
	    "56e04c1582a4f41ce99c0ade93a47127c46bffcd" },
	{ "capf.crt", "CN=CAPF-ucsec,O=ucsec-test,OU=CAPF,L=Wellington,"
	    "ST=Wellington,C=NZ", "3001",
	    "daa52367f428513ca5ffa0d1eb94bc6f80863e89" },
	{ "tftp.crt", "CN=tftp1.example.test,O=ucsec-test,OU=TFTP", "4001",
	    "915858dfeda622d5c6f13f54f48def091d89bce2" },
	{ "device.crt", "CN=SEP0011223344BB,O=ucsec-test,OU=Phones", "5001",
	    "9c147834a499b5bba224a88365a45b5bf77e6578" },
	{ "ec-tftp.crt", "CN=https1.example.test,O=ucsec-test,OU=TFTP-EC",
	    "6001", "21d9b5c8dd3cc7f70086478875544485c28d95ba" },
	{ "mfg-ca.crt", "CN=Test Manufacturing CA,O=ucsec-test,OU=MFG",
	    "7001", "b6518bd47dfbf3fff4f0fbac2846ef55654b6b9f" },
	{ "sudi.crt", "CN=CP-8865-SEP0011223344CC,O=ucsec-test,OU=SUDI",
	    "7002", "86c14e5aa2205b3d6b250ab2481f224a2617a5e2" },
};
#define NCERTS	(sizeof(certs) / sizeof(certs[0]))

static const char *
fp_sha1(const X509 *x)
{
	uint8_t	 md[EVP_MAX_MD_SIZE];
	size_t	 n = 0;

	if (cert_fingerprint(x, EVP_sha1(), md, &n) != 0)
		return "(error)";
	return unit_hex(md, n);
}

static void
test_name_text_is_der_order_comma_joined(void)
{
	char	 buf[CERT_NAME_MAX];
	X509	*x;
	size_t	 i;

	for (i = 0; i < NCERTS; i++) {
		if ((x = vec_cert(certs[i].file)) == NULL)
			continue;
		CU_ASSERT_EQUAL(cert_name_text(X509_get_subject_name(x), buf,
		    sizeof(buf)), 0);
		CU_ASSERT_STRING_EQUAL(buf, certs[i].subject);
		X509_free(x);
	}
	/* Issuer of the SUDI is the manufacturing CA. */
	if ((x = vec_cert("sudi.crt")) != NULL) {
		CU_ASSERT_EQUAL(cert_name_text(X509_get_issuer_name(x), buf,
		    sizeof(buf)), 0);
		CU_ASSERT_STRING_EQUAL(buf,
		    "CN=Test Manufacturing CA,O=ucsec-test,OU=MFG");
		X509_free(x);
	}
}

static void
test_name_text_refuses_short_buffer(void)
{
	char	 buf[CERT_NAME_MAX];
	X509	*x;
	size_t	 want = strlen(certs[3].subject);

	if ((x = vec_cert("capf.crt")) == NULL)
		return;
	UNIT_FAILS(cert_name_text(X509_get_subject_name(x), buf, 20),
	    UC_ERR_FORMAT, NULL);
	/* Exactly long enough (text + NUL) works. */
	CU_ASSERT_EQUAL(cert_name_text(X509_get_subject_name(x), buf,
	    want + 1), 0);
	CU_ASSERT_STRING_EQUAL(buf, certs[3].subject);
	UNIT_FAILS(cert_name_text(X509_get_subject_name(x), buf, want),
	    UC_ERR_FORMAT, NULL);
	X509_free(x);
}

static void
test_serial_is_minimal_unsigned(void)
{
	uint8_t	 s[CERT_SERIAL_MAX];
	size_t	 n, i;
	X509	*x;

	for (i = 0; i < NCERTS; i++) {
		if ((x = vec_cert(certs[i].file)) == NULL)
			continue;
		n = 99;
		CU_ASSERT_EQUAL(cert_serial(x, s, &n), 0);
		CU_ASSERT_STRING_EQUAL(unit_hex(s, n), certs[i].serial);
		X509_free(x);
	}
	/* The two from the issue, by length. */
	if ((x = vec_cert("sast1.crt")) != NULL) {
		cert_serial(x, s, &n);
		CU_ASSERT_EQUAL(n, 16);
		CU_ASSERT_EQUAL(s[0], 0xa1);	/* no DER sign byte */
		X509_free(x);
	}
	if ((x = vec_cert("ccm-tftp.crt")) != NULL) {
		cert_serial(x, s, &n);
		CU_ASSERT_EQUAL(n, 2);
		CU_ASSERT(s[0] == 0x20 && s[1] == 0x01);
		X509_free(x);
	}
}

static void
test_fingerprints_match_readme(void)
{
	size_t	 i;
	X509	*x;

	for (i = 0; i < NCERTS; i++) {
		if ((x = vec_cert(certs[i].file)) == NULL)
			continue;
		CU_ASSERT_STRING_EQUAL(fp_sha1(x), certs[i].sha1);
		X509_free(x);
	}
}

static void
test_pem_with_key_first_loads_certificate(void)
{
	X509	*x;

	/* X.pem = key then certificate. */
	if ((x = vec_cert("sast1.pem")) == NULL)
		return;
	CU_ASSERT_STRING_EQUAL(fp_sha1(x), certs[0].sha1);
	X509_free(x);
	if ((x = vec_cert("ec-tftp.pem")) == NULL)
		return;
	CU_ASSERT_STRING_EQUAL(fp_sha1(x), certs[6].sha1);
	X509_free(x);
}

static void
test_der_file_loads_and_trailing_bytes_rejected(void)
{
	char	 path[512];
	uint8_t	*der = NULL, *more = NULL;
	size_t	 len;
	X509	*x, *y = NULL;

	if ((x = vec_cert("ccm-tftp.crt")) == NULL)
		return;
	CU_ASSERT_EQUAL_FATAL(cert_der(x, &der, &len), 0);
	CU_ASSERT_EQUAL(der[0], 0x30);
	snprintf(path, sizeof(path), "%s/ccm-tftp.der", unit_tmpdir());
	CU_ASSERT_EQUAL(file_write_atomic(path, der, len, 0644, NULL, NULL),
	    0);
	CU_ASSERT_EQUAL(cert_load(path, &y), 0);
	CU_ASSERT_PTR_NOT_NULL(y);
	if (y != NULL) {
		CU_ASSERT_STRING_EQUAL(fp_sha1(y), certs[2].sha1);
		CU_ASSERT_EQUAL(X509_cmp(x, y), 0);
		X509_free(y);
	}
	/* One trailing byte: refused, from memory and from a file. */
	more = malloc(len + 1);
	memcpy(more, der, len);
	more[len] = 0;
	UNIT_FAILS(cert_from_der(more, len + 1, &y), UC_ERR_FORMAT,
	    "trailing");
	CU_ASSERT_PTR_NULL(y);
	UNIT_FAILS(cert_from_mem(more, len + 1, &y), UC_ERR_FORMAT,
	    "trailing");
	CU_ASSERT_EQUAL(file_write_atomic(path, more, len + 1, 0644, NULL,
	    NULL), 0);
	UNIT_FAILS(cert_load(path, &y), UC_ERR_FORMAT, "trailing");
	CU_ASSERT_PTR_NULL(y);
	/* Truncated DER and empty input. */
	UNIT_FAILS(cert_from_der(der, len - 1, &y), UC_ERR_FORMAT, NULL);
	UNIT_FAILS(cert_from_der(der, 0, &y), UC_ERR_FORMAT, NULL);
	free(more);
	free(der);
	X509_free(x);
}

static void
test_load_errors_name_the_file(void)
{
	static const char	 junk[] = "-----BEGIN CERTIFICATE-----\n"
	    "AAAA\n-----END CERTIFICATE-----\n";
	X509			*x = (X509 *)1;
	char			 path[512];

	UNIT_FAILS(cert_load("/nonexistent/ucsec.crt", &x), UC_ERR_IO,
	    "/nonexistent/ucsec.crt");
	CU_ASSERT_PTR_NULL(x);
	snprintf(path, sizeof(path), "%s/junk.crt", unit_tmpdir());
	CU_ASSERT_EQUAL(file_write_atomic(path, junk, strlen(junk), 0644,
	    NULL, NULL), 0);
	UNIT_FAILS(cert_load(path, &x), UC_ERR_FORMAT, "junk.crt");
	/* A key-only PEM has no certificate. */
	UNIT_FAILS(cert_load(vec_path("sast1.key"), &x), UC_ERR_FORMAT,
	    "sast1.key");
}

static void
test_pubkey_raw_and_sigvalue_sizes(void)
{
	uint8_t		*pk = NULL;
	const uint8_t	*sig;
	size_t		 n, slen;
	X509		*x;

	if ((x = vec_cert("sast1.crt")) != NULL) {
		CU_ASSERT_EQUAL(cert_pubkey_raw(x, &pk, &n), 0);
		CU_ASSERT_EQUAL(n, 270);		/* RSAPublicKey */
		CU_ASSERT(pk != NULL && pk[0] == 0x30);
		free(pk);
		CU_ASSERT_EQUAL(cert_sigvalue(x, &sig, &slen), 0);
		CU_ASSERT_EQUAL(slen, 256);
		CU_ASSERT_STRING_EQUAL(cert_keytype(x), "RSA");
		CU_ASSERT_EQUAL(cert_rsa_bits(x), 2048);
		X509_free(x);
	}
	if ((x = vec_cert("ec-tftp.crt")) != NULL) {
		CU_ASSERT_EQUAL(cert_pubkey_raw(x, &pk, &n), 0);
		CU_ASSERT_EQUAL(n, 65);			/* 04 || X || Y */
		CU_ASSERT(pk != NULL && pk[0] == 0x04);
		free(pk);
		CU_ASSERT_EQUAL(cert_sigvalue(x, &sig, &slen), 0);
		CU_ASSERT_EQUAL(slen, 71);
		CU_ASSERT_STRING_EQUAL(cert_keytype(x), "EC");
		CU_ASSERT_EQUAL(cert_rsa_bits(x), 0);
		X509_free(x);
	}
}

static void
test_hex_encode_lowercase(void)
{
	static const uint8_t	 b[] = { 0x00, 0x0f, 0xa0, 0xff };
	char			 out[9];

	hex_encode(b, sizeof(b), out);
	CU_ASSERT_STRING_EQUAL(out, "000fa0ff");
	hex_encode(b, 0, out);
	CU_ASSERT_STRING_EQUAL(out, "");
}

static const struct unit_test tests[] = {
	{ "name text is DER order, comma-joined",
	    test_name_text_is_der_order_comma_joined },
	{ "name text refuses a short buffer",
	    test_name_text_refuses_short_buffer },
	{ "serial is minimal unsigned big-endian",
	    test_serial_is_minimal_unsigned },
	{ "SHA-1 fingerprints match the README", test_fingerprints_match_readme },
	{ "key-then-certificate PEM loads the certificate",
	    test_pem_with_key_first_loads_certificate },
	{ "DER file loads; trailing bytes rejected",
	    test_der_file_loads_and_trailing_bytes_rejected },
	{ "load errors name the file", test_load_errors_name_the_file },
	{ "raw public key and signature value sizes",
	    test_pubkey_raw_and_sigvalue_sizes },
	{ "hex_encode writes lowercase", test_hex_encode_lowercase },
	{ NULL, NULL },
};

void
unit_register_cert(void)
{
	unit_suite("cert", tests);
}
