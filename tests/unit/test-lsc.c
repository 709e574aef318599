/*
 * Suite "lsc": LSC issuance (lib/lsc.c) against the certificates the
 * reference capfd issued (vectors capf-lsc-*.pem), spec section 10.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/asn1.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "lsc.h"
#include "signer.h"
#include "unit.h"

/* Key and certificate of a vector .pem; NULL (and CU_FAIL) if missing. */
static struct signer *
vec_signer(const char *name)
{
	struct signer	*s = NULL;

	if (signer_file_open(vec_path(name), NULL, &s) != 0) {
		fprintf(stderr, "\n  signer %s: %s\n", name, uc_errdetail());
		CU_FAIL("signer vector missing");
		return NULL;
	}
	return s;
}

/* Same extensions in the same order, criticality and DER value. */
static void
same_extensions(const X509 *a, const X509 *b)
{
	const X509_EXTENSION	*ea, *eb;
	const ASN1_OCTET_STRING	*da, *db;
	int			 i;

	CU_ASSERT_EQUAL_FATAL(X509_get_ext_count(a), X509_get_ext_count(b));
	for (i = 0; i < X509_get_ext_count(a); i++) {
		ea = X509_get_ext(a, i);
		eb = X509_get_ext(b, i);
		CU_ASSERT_EQUAL(OBJ_cmp(X509_EXTENSION_get_object(
		    (X509_EXTENSION *)ea), X509_EXTENSION_get_object(
		    (X509_EXTENSION *)eb)), 0);
		CU_ASSERT_EQUAL(X509_EXTENSION_get_critical(ea),
		    X509_EXTENSION_get_critical(eb));
		da = X509_EXTENSION_get_data((X509_EXTENSION *)ea);
		db = X509_EXTENSION_get_data((X509_EXTENSION *)eb);
		CU_ASSERT_EQUAL(ASN1_STRING_cmp(da, db), 0);
	}
}

/* Field-by-field comparison with the reference capfd's certificate. */
static void
same_profile(const X509 *mine, const X509 *ref, X509 *issuer)
{
	const ASN1_TIME	*nb, *na;
	int		 days, secs;

	CU_ASSERT_EQUAL(X509_get_version(mine), X509_VERSION_3);
	CU_ASSERT_EQUAL(X509_NAME_cmp(X509_get_subject_name(mine),
	    X509_get_subject_name(ref)), 0);
	CU_ASSERT_EQUAL(X509_NAME_cmp(X509_get_issuer_name(mine),
	    X509_get_issuer_name(ref)), 0);
	CU_ASSERT_EQUAL(X509_NAME_cmp(X509_get_issuer_name(mine),
	    X509_get_subject_name(issuer)), 0);
	CU_ASSERT_EQUAL(EVP_PKEY_eq(X509_get0_pubkey(mine),
	    X509_get0_pubkey(ref)), 1);
	CU_ASSERT_EQUAL(X509_get_signature_nid(mine),
	    X509_get_signature_nid(ref));
	CU_ASSERT_EQUAL(X509_verify((X509 *)mine, X509_get0_pubkey(issuer)),
	    1);
	same_extensions(mine, ref);
	/* 365 days from now, like the reference's default. */
	nb = X509_get0_notBefore(mine);
	na = X509_get0_notAfter(mine);
	CU_ASSERT_EQUAL(ASN1_TIME_diff(&days, &secs, nb, na), 1);
	CU_ASSERT_EQUAL(days, 365);
	CU_ASSERT_EQUAL(secs, 0);
	CU_ASSERT_EQUAL(ASN1_TIME_diff(&days, &secs, NULL, nb), 1);
	CU_ASSERT(days == 0 && secs <= 0 && secs > -60);
}

/* Issue for ref's public key with capf.pem and compare with ref. */
static void
issue_like(const char *refname, const char *device)
{
	struct signer	*capf;
	X509		*ref, *mine = NULL;

	capf = vec_signer("capf.pem");
	ref = vec_cert(refname);
	if (capf == NULL || ref == NULL)
		goto out;
	CU_ASSERT_EQUAL_FATAL(lsc_issue(device, X509_get0_pubkey(ref),
	    capf->cert, signer_pkey(capf), LSC_DAYS_DEF, &mine), 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(mine);
	same_profile(mine, ref, capf->cert);
out:
	X509_free(mine);
	X509_free(ref);
	signer_free(capf);
}

static void
test_rsa_lsc_matches_reference(void)
{
	issue_like("capf-lsc-SEP0011223344CC-rsa-1.pem", "SEP0011223344CC");
	issue_like("capf-lsc-SEP0011223344CC-rsa-2.pem", "SEP0011223344CC");
}

static void
test_ec_lsc_matches_reference(void)
{
	issue_like("capf-lsc-SEP0011223344DD-ec.pem", "SEP0011223344DD");
}

/* Two issues: distinct, positive, 16-byte-ish, non-zero serials. */
static void
test_serials_random_positive_distinct(void)
{
	struct signer		*capf;
	X509			*ref, *a = NULL, *b = NULL;
	const ASN1_INTEGER	*sa, *sb;

	capf = vec_signer("capf.pem");
	ref = vec_cert("capf-lsc-SEP0011223344DD-ec.pem");
	if (capf == NULL || ref == NULL)
		goto out;
	CU_ASSERT_EQUAL_FATAL(lsc_issue("SEP0011223344DD",
	    X509_get0_pubkey(ref), capf->cert, signer_pkey(capf), 1, &a), 0);
	CU_ASSERT_EQUAL_FATAL(lsc_issue("SEP0011223344DD",
	    X509_get0_pubkey(ref), capf->cert, signer_pkey(capf), 1, &b), 0);
	sa = X509_get0_serialNumber(a);
	sb = X509_get0_serialNumber(b);
	CU_ASSERT_NOT_EQUAL(ASN1_INTEGER_cmp(sa, sb), 0);
	CU_ASSERT_EQUAL(ASN1_STRING_type(sa), V_ASN1_INTEGER);
	CU_ASSERT_EQUAL(ASN1_STRING_type(sb), V_ASN1_INTEGER);
	CU_ASSERT_EQUAL(ASN1_STRING_length(sa), LSC_SERIAL_LEN);
	CU_ASSERT(ASN1_STRING_get0_data(sa)[0] != 0 &&
	    ASN1_STRING_get0_data(sa)[0] < 0x80);
out:
	X509_free(a);
	X509_free(b);
	X509_free(ref);
	signer_free(capf);
}

/*
 * The issuer name is the issuing certificate's subject (not its issuer,
 * the reference's quirk); only O, OU, L, ST, C are copied.  sudi.pem is
 * issued by mfg-ca, so the two differ.
 */
static void
test_issuer_is_issuer_subject(void)
{
	struct signer	*sudi;
	X509		*ref, *mine = NULL;
	X509_NAME	*want = NULL;
	char		 cn[64];

	sudi = vec_signer("sudi.pem");
	ref = vec_cert("capf-lsc-SEP0011223344DD-ec.pem");
	if (sudi == NULL || ref == NULL)
		goto out;
	CU_ASSERT_EQUAL_FATAL(lsc_issue("SEP0011223344DD",
	    X509_get0_pubkey(ref), sudi->cert, signer_pkey(sudi), 30, &mine),
	    0);
	CU_ASSERT_EQUAL(X509_NAME_cmp(X509_get_issuer_name(mine),
	    X509_get_subject_name(sudi->cert)), 0);
	CU_ASSERT_NOT_EQUAL(X509_NAME_cmp(X509_get_issuer_name(mine),
	    X509_get_issuer_name(sudi->cert)), 0);
	want = X509_NAME_new();
	CU_ASSERT_PTR_NOT_NULL_FATAL(want);
	X509_NAME_add_entry_by_txt(want, "CN", MBSTRING_UTF8,
	    (const unsigned char *)"SEP0011223344DD", -1, -1, 0);
	X509_NAME_add_entry_by_txt(want, "O", MBSTRING_UTF8,
	    (const unsigned char *)"ucsec-test", -1, -1, 0);
	X509_NAME_add_entry_by_txt(want, "OU", MBSTRING_UTF8,
	    (const unsigned char *)"SUDI", -1, -1, 0);
	CU_ASSERT_EQUAL(X509_NAME_cmp(X509_get_subject_name(mine), want), 0);
	CU_ASSERT(X509_NAME_get_text_by_NID(X509_get_subject_name(mine),
	    NID_commonName, cn, sizeof(cn)) > 0);
	CU_ASSERT_STRING_EQUAL(cn, "SEP0011223344DD");
out:
	X509_NAME_free(want);
	X509_free(mine);
	X509_free(ref);
	signer_free(sudi);
}

/* An EC issuer signs with ecdsa-with-SHA256. */
static void
test_ec_issuer_signs_ecdsa_sha256(void)
{
	struct signer	*ec;
	X509		*ref, *mine = NULL;

	ec = vec_signer("ec-tftp.pem");
	ref = vec_cert("capf-lsc-SEP0011223344CC-rsa-1.pem");
	if (ec == NULL || ref == NULL)
		goto out;
	CU_ASSERT_EQUAL_FATAL(lsc_issue("SEP0011223344CC",
	    X509_get0_pubkey(ref), ec->cert, signer_pkey(ec), LSC_DAYS_MAX,
	    &mine), 0);
	CU_ASSERT_EQUAL(X509_get_signature_nid(mine), NID_ecdsa_with_SHA256);
	CU_ASSERT_EQUAL(X509_verify(mine, X509_get0_pubkey(ec->cert)), 1);
out:
	X509_free(mine);
	X509_free(ref);
	signer_free(ec);
}

static void
test_bad_arguments_refused(void)
{
	struct signer	*capf, *sast;
	X509		*ref, *mine = (X509 *)1;
	char		 longname[LSC_NAME_MAX + 2];

	capf = vec_signer("capf.pem");
	sast = vec_signer("sast1.pem");
	ref = vec_cert("capf-lsc-SEP0011223344DD-ec.pem");
	if (capf == NULL || sast == NULL || ref == NULL)
		goto out;
	memset(longname, 'A', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	UNIT_FAILS(lsc_issue("", X509_get0_pubkey(ref), capf->cert,
	    signer_pkey(capf), 365, &mine), UC_ERR_ARG, "empty");
	CU_ASSERT_PTR_NULL(mine);
	UNIT_FAILS(lsc_issue(longname, X509_get0_pubkey(ref), capf->cert,
	    signer_pkey(capf), 365, &mine), UC_ERR_ARG, "64 characters");
	UNIT_FAILS(lsc_issue("SEP\n1", X509_get0_pubkey(ref), capf->cert,
	    signer_pkey(capf), 365, &mine), UC_ERR_ARG, "printable");
	UNIT_FAILS(lsc_issue("SEP\xc3\xa9", X509_get0_pubkey(ref), capf->cert,
	    signer_pkey(capf), 365, &mine), UC_ERR_ARG, "printable");
	UNIT_FAILS(lsc_issue("SEP1", X509_get0_pubkey(ref), capf->cert,
	    signer_pkey(capf), 0, &mine), UC_ERR_ARG, "0 days");
	UNIT_FAILS(lsc_issue("SEP1", X509_get0_pubkey(ref), capf->cert,
	    signer_pkey(capf), LSC_DAYS_MAX + 1, &mine), UC_ERR_ARG, "3561");
	UNIT_FAILS(lsc_issue("SEP1", NULL, capf->cert, signer_pkey(capf), 365,
	    &mine), UC_ERR_ARG, "public key");
	UNIT_FAILS(lsc_issue("SEP1", X509_get0_pubkey(ref), NULL,
	    signer_pkey(capf), 365, &mine), UC_ERR_ARG, "issuer");
	/* sast1's key with capf's certificate. */
	UNIT_FAILS(lsc_issue("SEP1", X509_get0_pubkey(ref), capf->cert,
	    signer_pkey(sast), 365, &mine), UC_ERR_SIGNATURE, "does not match");
	CU_ASSERT_PTR_NULL(mine);
	CU_ASSERT_EQUAL(lsc_name_check(longname + 1), 0);
out:
	X509_free(ref);
	signer_free(capf);
	signer_free(sast);
}

static const struct unit_test tests[] = {
	{ "RSA-2048 LSC matches the reference capfd's",
	    test_rsa_lsc_matches_reference },
	{ "EC P-256 LSC matches the reference capfd's",
	    test_ec_lsc_matches_reference },
	{ "serials are random, positive and distinct",
	    test_serials_random_positive_distinct },
	{ "issuer name is the issuer's subject",
	    test_issuer_is_issuer_subject },
	{ "EC issuer signs with ecdsa-with-SHA256",
	    test_ec_issuer_signs_ecdsa_sha256 },
	{ "bad names, days, keys and issuers refused",
	    test_bad_arguments_refused },
	{ NULL, NULL }
};

void
unit_register_lsc(void)
{
	unit_suite("lsc", tests);
}
