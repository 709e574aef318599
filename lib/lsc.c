/*
 * LSC issuance: the certificate profile of specs/capf-protocol.md
 * section 10, with the issuer name taken from the issuer certificate's
 * subject (the reference copies its issuer field, which is right only
 * for a self-signed issuer).
 */
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "lsc.h"
#include "uerr.h"

/* Issuer subject attributes copied into the LSC subject, spec 10. */
static const int lsc_copied_nids[] = {
	NID_organizationName, NID_organizationalUnitName, NID_localityName,
	NID_stateOrProvinceName, NID_countryName
};

/*
 * Check a device name: 1..LSC_NAME_MAX printable ASCII characters
 * (spec 10: it becomes the CN and the SAN URI).  Returns 0 or UC_ERR_ARG.
 */
int
lsc_name_check(const char *name)
{
	size_t	 i, n;

	if (name == NULL || (n = strlen(name)) == 0)
		return uc_fail(UC_ERR_ARG, "LSC: empty device name");
	if (n > LSC_NAME_MAX)
		return uc_fail(UC_ERR_ARG, "LSC: device name of %zu characters "
		    "(at most %d)", n, LSC_NAME_MAX);
	for (i = 0; i < n; i++)
		if ((unsigned char)name[i] < 0x20 ||
		    (unsigned char)name[i] > 0x7e)
			return uc_fail(UC_ERR_ARG, "LSC: device name byte %zu "
			    "(0x%02x) is not printable ASCII", i,
			    (unsigned char)name[i]);
	return 0;
}

/* 16 random bytes, top bit clear, never zero (spec 10). */
static int
lsc_serial(X509 *x)
{
	uint8_t	 b[LSC_SERIAL_LEN];
	BIGNUM	*bn = NULL;
	int	 r = UC_ERR_CRYPTO;

	if (RAND_bytes(b, sizeof(b)) != 1) {
		r = uc_fail_ssl(UC_ERR_CRYPTO, "LSC serial: RAND_bytes");
		goto out;
	}
	b[0] &= 0x7f;
	if (b[0] == 0)
		b[0] = 0x01;	/* non-zero, and 16 bytes as the spec says */
	if ((bn = BN_bin2bn(b, sizeof(b), NULL)) == NULL ||
	    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) == NULL) {
		r = uc_fail_ssl(UC_ERR_CRYPTO, "LSC serial");
		goto out;
	}
	r = 0;
out:
	BN_free(bn);
	OPENSSL_cleanse(b, sizeof(b));
	return r;
}

/* CN=device, then the issuer subject's O, OU, L, ST, C in its order. */
static int
lsc_subject(X509 *x, const char *device, const X509_NAME *iname)
{
	X509_NAME		*n;
	const X509_NAME_ENTRY	*e;
	size_t			 k;
	int			 i, nid, r = UC_ERR_CRYPTO;

	if ((n = X509_NAME_new()) == NULL)
		return uc_fail(UC_ERR_ALLOC, "LSC subject");
	if (X509_NAME_add_entry_by_NID(n, NID_commonName, MBSTRING_UTF8,
	    (const unsigned char *)device, -1, -1, 0) != 1) {
		r = uc_fail_ssl(UC_ERR_CRYPTO, "LSC subject: CN");
		goto out;
	}
	for (i = 0; i < X509_NAME_entry_count(iname); i++) {
		e = X509_NAME_get_entry(iname, i);
		nid = OBJ_obj2nid(X509_NAME_ENTRY_get_object(e));
		for (k = 0; k < sizeof(lsc_copied_nids) /
		    sizeof(lsc_copied_nids[0]); k++)
			if (nid == lsc_copied_nids[k])
				break;
		if (k == sizeof(lsc_copied_nids) / sizeof(lsc_copied_nids[0]))
			continue;
		if (X509_NAME_add_entry(n, e, -1, 0) != 1) {
			r = uc_fail_ssl(UC_ERR_CRYPTO, "LSC subject: copy");
			goto out;
		}
	}
	if (X509_set_subject_name(x, n) != 1) {
		r = uc_fail_ssl(UC_ERR_CRYPTO, "LSC subject");
		goto out;
	}
	r = 0;
out:
	X509_NAME_free(n);
	return r;
}

/* basicConstraints critical CA:FALSE; keyUsage critical DS+KE. */
static int
lsc_ext_usage(X509 *x)
{
	BASIC_CONSTRAINTS	*bc = NULL;
	ASN1_BIT_STRING		*ku = NULL;
	int			 r = UC_ERR_CRYPTO;

	if ((bc = BASIC_CONSTRAINTS_new()) == NULL ||
	    (ku = ASN1_BIT_STRING_new()) == NULL) {
		r = uc_fail(UC_ERR_ALLOC, "LSC extensions");
		goto out;
	}
	bc->ca = 0;
	if (ASN1_BIT_STRING_set_bit(ku, 0, 1) != 1 ||	/* digitalSignature */
	    ASN1_BIT_STRING_set_bit(ku, 2, 1) != 1 ||	/* keyEncipherment */
	    X509_add1_ext_i2d(x, NID_basic_constraints, bc, 1,
	    X509V3_ADD_APPEND) != 1 ||
	    X509_add1_ext_i2d(x, NID_key_usage, ku, 1,
	    X509V3_ADD_APPEND) != 1) {
		r = uc_fail_ssl(UC_ERR_CRYPTO, "LSC basicConstraints/keyUsage");
		goto out;
	}
	r = 0;
out:
	BASIC_CONSTRAINTS_free(bc);
	ASN1_BIT_STRING_free(ku);
	return r;
}

/* extendedKeyUsage serverAuth, clientAuth, ipsecEndSystem; SAN URI. */
static int
lsc_ext_names(X509 *x, const char *device)
{
	EXTENDED_KEY_USAGE	*eku = NULL;
	GENERAL_NAMES		*san = NULL;
	GENERAL_NAME		*gn = NULL;
	ASN1_IA5STRING		*uri = NULL;
	int			 r = UC_ERR_CRYPTO;

	if ((eku = sk_ASN1_OBJECT_new_null()) == NULL ||
	    (san = sk_GENERAL_NAME_new_null()) == NULL ||
	    (gn = GENERAL_NAME_new()) == NULL ||
	    (uri = ASN1_IA5STRING_new()) == NULL) {
		r = uc_fail(UC_ERR_ALLOC, "LSC extensions");
		goto out;
	}
	if (sk_ASN1_OBJECT_push(eku, OBJ_nid2obj(NID_server_auth)) <= 0 ||
	    sk_ASN1_OBJECT_push(eku, OBJ_nid2obj(NID_client_auth)) <= 0 ||
	    sk_ASN1_OBJECT_push(eku, OBJ_nid2obj(NID_ipsecEndSystem)) <= 0 ||
	    ASN1_STRING_set(uri, device, (int)strlen(device)) != 1) {
		r = uc_fail_ssl(UC_ERR_CRYPTO, "LSC extendedKeyUsage/SAN");
		goto out;
	}
	GENERAL_NAME_set0_value(gn, GEN_URI, uri);
	uri = NULL;
	if (sk_GENERAL_NAME_push(san, gn) <= 0) {
		r = uc_fail(UC_ERR_ALLOC, "LSC subjectAltName");
		goto out;
	}
	gn = NULL;
	if (X509_add1_ext_i2d(x, NID_ext_key_usage, eku, 0,
	    X509V3_ADD_APPEND) != 1 ||
	    X509_add1_ext_i2d(x, NID_subject_alt_name, san, 0,
	    X509V3_ADD_APPEND) != 1) {
		r = uc_fail_ssl(UC_ERR_CRYPTO, "LSC extendedKeyUsage/SAN");
		goto out;
	}
	r = 0;
out:
	/* The OIDs are static: ASN1_OBJECT_free leaves them alone. */
	sk_ASN1_OBJECT_pop_free(eku, ASN1_OBJECT_free);
	GENERAL_NAMES_free(san);
	GENERAL_NAME_free(gn);
	ASN1_IA5STRING_free(uri);
	return r;
}

/* Accept RSA and EC subject keys only (spec 6.3). */
static int
lsc_key_check(EVP_PKEY *pub)
{
	if (pub == NULL)
		return uc_fail(UC_ERR_ARG, "LSC: no subject public key");
	if (EVP_PKEY_get_base_id(pub) != EVP_PKEY_RSA &&
	    EVP_PKEY_get_base_id(pub) != EVP_PKEY_EC)
		return uc_fail(UC_ERR_UNSUPPORTED, "LSC: subject key type %s "
		    "(want RSA or EC, spec 6.3)", EVP_PKEY_get0_type_name(pub));
	return 0;
}

/* Version, serial, names, validity and key of the new certificate. */
static int
lsc_fields(X509 *x, const char *device, EVP_PKEY *pub, X509 *issuer,
    int days)
{
	time_t	 now = time(NULL);
	int	 r;

	if (X509_set_version(x, X509_VERSION_3) != 1)
		return uc_fail_ssl(UC_ERR_CRYPTO, "LSC version");
	if ((r = lsc_serial(x)) != 0 ||
	    (r = lsc_subject(x, device, X509_get_subject_name(issuer))) != 0)
		return r;
	if (X509_set_issuer_name(x, X509_get_subject_name(issuer)) != 1 ||
	    X509_time_adj_ex(X509_getm_notBefore(x), 0, 0, &now) == NULL ||
	    X509_time_adj_ex(X509_getm_notAfter(x), days, 0, &now) == NULL ||
	    X509_set_pubkey(x, pub) != 1)
		return uc_fail_ssl(UC_ERR_CRYPTO, "LSC issuer/validity/key");
	return 0;
}

/*
 * Issue an LSC (lsc.h).  The result is verified against the issuer
 * certificate's key, so an issuer key that does not match its
 * certificate fails here rather than on the phone.
 */
int
lsc_issue(const char *device, EVP_PKEY *pub, X509 *issuer,
    EVP_PKEY *issuer_key, int days, X509 **out)
{
	X509	*x = NULL;
	int	 r;

	*out = NULL;
	if ((r = lsc_name_check(device)) != 0 || (r = lsc_key_check(pub)) != 0)
		return r;
	if (issuer == NULL || issuer_key == NULL)
		return uc_fail(UC_ERR_ARG, "LSC: no issuer certificate or key");
	if (days < LSC_DAYS_MIN || days > LSC_DAYS_MAX)
		return uc_fail(UC_ERR_ARG, "LSC: validity of %d days (want "
		    "%d..%d, spec 10)", days, LSC_DAYS_MIN, LSC_DAYS_MAX);
	if ((x = X509_new()) == NULL)
		return uc_fail(UC_ERR_ALLOC, "LSC: X509_new");
	if ((r = lsc_fields(x, device, pub, issuer, days)) != 0 ||
	    (r = lsc_ext_usage(x)) != 0 || (r = lsc_ext_names(x, device)) != 0)
		goto out;
	if (X509_sign(x, issuer_key, EVP_sha256()) <= 0) {
		r = uc_fail_ssl(UC_ERR_CRYPTO, "LSC for %s: signing", device);
		goto out;
	}
	if (X509_verify(x, X509_get0_pubkey(issuer)) != 1) {
		r = uc_fail_ssl(UC_ERR_SIGNATURE, "LSC for %s: the issuer key "
		    "does not match the issuer certificate", device);
		goto out;
	}
	*out = x;
	x = NULL;
	r = 0;
out:
	X509_free(x);
	return r;
}
