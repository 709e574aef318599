/*
 * Suite "signer": the signer interface and PEM-file backend
 * (lib/signer.c).
 */
#include <stdio.h>
#include <stdlib.h>

#include <openssl/evp.h>

#include "cert.h"
#include "signer.h"
#include "unit.h"

static const uint8_t msg[] = "ucsec unit test message";

/* Verify sig over msg with x's public key using plain EVP. */
static int
evp_verify(X509 *x, enum signer_md md, const uint8_t *sig, size_t siglen,
    const uint8_t *m, size_t mlen)
{
	EVP_MD_CTX	*ctx;
	int		 ok;

	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return 0;
	ok = EVP_DigestVerifyInit(ctx, NULL, signer_evp_md(md), NULL,
	    X509_get0_pubkey(x)) == 1 &&
	    EVP_DigestVerify(ctx, sig, siglen, m, mlen) == 1;
	EVP_MD_CTX_free(ctx);
	return ok;
}

static void
test_open_key_and_cert_in_one_pem(void)
{
	struct signer	*s = NULL;
	X509		*x;

	CU_ASSERT_EQUAL(signer_file_open(vec_path("sast1.pem"), NULL, &s), 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_PTR_NOT_NULL(s->cert);
	CU_ASSERT_PTR_NOT_NULL(strstr(s->label, "sast1.pem"));
	if ((x = vec_cert("sast1.crt")) != NULL) {
		CU_ASSERT_EQUAL(X509_cmp(s->cert, x), 0);
		X509_free(x);
	}
	CU_ASSERT_EQUAL(signer_check_key(s), 0);
	signer_free(s);
}

static void
test_open_key_and_cert_separately(void)
{
	struct signer	*s = NULL;
	X509		*x;
	char		 key[1024];

	snprintf(key, sizeof(key), "%s", vec_path("tftp.key"));
	CU_ASSERT_EQUAL(signer_file_open(key, vec_path("tftp.crt"), &s), 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	if ((x = vec_cert("tftp.crt")) != NULL) {
		CU_ASSERT_EQUAL(X509_cmp(s->cert, x), 0);
		X509_free(x);
	}
	CU_ASSERT_EQUAL(signer_check_key(s), 0);
	signer_free(s);
	signer_free(NULL);
}

static void
test_mismatched_key_and_cert_refused(void)
{
	struct signer	*s = (struct signer *)1;
	char		 key[1024];

	snprintf(key, sizeof(key), "%s", vec_path("sast1.key"));
	UNIT_FAILS(signer_file_open(key, vec_path("sast2.crt"), &s),
	    UC_ERR_POLICY, "does not match");
	CU_ASSERT_PTR_NULL(s);
	CU_ASSERT_PTR_NOT_NULL(strstr(uc_errdetail(), "sast2.crt"));
}

static void
test_open_errors(void)
{
	struct signer	*s = (struct signer *)1;

	UNIT_FAILS(signer_file_open("/nonexistent/k.pem", NULL, &s),
	    UC_ERR_IO, "/nonexistent/k.pem");
	CU_ASSERT_PTR_NULL(s);
	/* A certificate is not a private key. */
	UNIT_FAILS(signer_file_open(vec_path("sast1.crt"), NULL, &s),
	    UC_ERR_FORMAT, "sast1.crt");
	/* Key only, no certificate anywhere. */
	UNIT_FAILS(signer_file_open(vec_path("sast1.key"), NULL, &s),
	    UC_ERR_FORMAT, "sast1.key");
	CU_ASSERT_PTR_NULL(s);
}

static void
test_rsa_signatures_verify_with_evp(void)
{
	struct signer	*s = NULL;
	uint8_t		 sig[SIGNER_SIG_MAX], sig2[SIGNER_SIG_MAX];
	size_t		 siglen, siglen2;
	int		 md;

	if (signer_file_open(vec_path("sast2.pem"), NULL, &s) != 0) {
		CU_FAIL("open sast2.pem");
		return;
	}
	for (md = 0; md < SIGNER_MD__MAX; md++) {
		siglen = sizeof(sig);
		CU_ASSERT_EQUAL(signer_sign(s, md, msg, sizeof(msg), sig,
		    &siglen), 0);
		CU_ASSERT_EQUAL(siglen, 256);
		CU_ASSERT(evp_verify(s->cert, md, sig, siglen, msg,
		    sizeof(msg)));
		/* PKCS#1 v1.5 is deterministic. */
		siglen2 = sizeof(sig2);
		CU_ASSERT_EQUAL(signer_sign(s, md, msg, sizeof(msg), sig2,
		    &siglen2), 0);
		CU_ASSERT(siglen2 == siglen && memcmp(sig, sig2, siglen) == 0);
		/* Altered message or signature does not verify. */
		CU_ASSERT(!evp_verify(s->cert, md, sig, siglen, msg,
		    sizeof(msg) - 1));
		sig[10] ^= 1;
		CU_ASSERT(!evp_verify(s->cert, md, sig, siglen, msg,
		    sizeof(msg)));
	}
	/* Wrong digest on verify. */
	siglen = sizeof(sig);
	signer_sign(s, SIGNER_SHA1, msg, sizeof(msg), sig, &siglen);
	CU_ASSERT(!evp_verify(s->cert, SIGNER_SHA512, sig, siglen, msg,
	    sizeof(msg)));
	/* Bad digest code and too small an output buffer. */
	siglen = sizeof(sig);
	UNIT_FAILS(signer_sign(s, SIGNER_MD__MAX, msg, sizeof(msg), sig,
	    &siglen), UC_ERR_ARG, NULL);
	siglen = 100;
	CU_ASSERT_NOT_EQUAL(signer_sign(s, SIGNER_SHA1, msg, sizeof(msg),
	    sig, &siglen), 0);
	signer_free(s);
}

static void
test_ec_signatures_verify_with_evp(void)
{
	struct signer	*s = NULL;
	uint8_t		 sig[SIGNER_SIG_MAX];
	size_t		 siglen = sizeof(sig);

	if (signer_file_open(vec_path("ec-tftp.pem"), NULL, &s) != 0) {
		CU_FAIL("open ec-tftp.pem");
		return;
	}
	CU_ASSERT_EQUAL(signer_sign(s, SIGNER_SHA256, msg, sizeof(msg), sig,
	    &siglen), 0);
	CU_ASSERT(siglen > 60 && siglen <= 72);
	CU_ASSERT_EQUAL(sig[0], 0x30);			/* DER ECDSA-Sig */
	CU_ASSERT(evp_verify(s->cert, SIGNER_SHA256, sig, siglen, msg,
	    sizeof(msg)));
	CU_ASSERT_EQUAL(signer_check_key(s), 0);
	signer_free(s);
}

static void
test_check_key_catches_swapped_certificate(void)
{
	struct signer	*s = NULL;
	X509		*other;

	if (signer_file_open(vec_path("sast1.pem"), NULL, &s) != 0) {
		CU_FAIL("open sast1.pem");
		return;
	}
	if ((other = vec_cert("sast2.crt")) != NULL) {
		X509_free(s->cert);
		s->cert = other;
		UNIT_FAILS(signer_check_key(s), UC_ERR_POLICY,
		    "does not match");
	}
	signer_free(s);
}

static void
test_md_names_parse_both_ways(void)
{
	enum signer_md	 md = SIGNER_MD__MAX;

	CU_ASSERT_EQUAL(signer_md_parse("SHA512", &md), 0);
	CU_ASSERT_EQUAL(md, SIGNER_SHA512);
	CU_ASSERT_EQUAL(signer_md_parse("sha1", &md), 0);
	CU_ASSERT_EQUAL(md, SIGNER_SHA1);
	UNIT_FAILS(signer_md_parse("md5", &md), UC_ERR_ARG, "md5");
	CU_ASSERT_STRING_EQUAL(signer_md_name(SIGNER_SHA256), "sha256");
	CU_ASSERT_STRING_EQUAL(signer_md_name(SIGNER_MD__MAX), "unknown");
	CU_ASSERT_PTR_NULL(signer_evp_md(SIGNER_MD__MAX));
}

static const struct unit_test tests[] = {
	{ "opens key and certificate from one .pem",
	    test_open_key_and_cert_in_one_pem },
	{ "opens key and certificate from two files",
	    test_open_key_and_cert_separately },
	{ "refuses a key with another key's certificate",
	    test_mismatched_key_and_cert_refused },
	{ "open errors name the file", test_open_errors },
	{ "RSA signatures verify with EVP", test_rsa_signatures_verify_with_evp },
	{ "EC signatures verify with EVP", test_ec_signatures_verify_with_evp },
	{ "check_key catches a swapped certificate",
	    test_check_key_catches_swapped_certificate },
	{ "digest names parse both ways", test_md_names_parse_both_ways },
	{ NULL, NULL },
};

void
unit_register_signer(void)
{
	unit_suite("signer", tests);
}
