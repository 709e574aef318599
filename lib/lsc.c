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
#include <openssl/crypto.h>
#include <openssl/err.h>
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

/* Version, serial, names and validity of the new certificate. */
static int
lsc_fields(X509 *x, const char *device, X509 *issuer, int days)
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
	    X509_time_adj_ex(X509_getm_notAfter(x), days, 0, &now) == NULL)
		return uc_fail_ssl(UC_ERR_CRYPTO, "LSC issuer/validity");
	return 0;
}

/* Argument checks shared by lsc_issue and lsc_issue_der. */
static int
lsc_args(const char *device, EVP_PKEY *pub, X509 *issuer,
    EVP_PKEY *issuer_key, int days)
{
	int	 r;

	if ((r = lsc_name_check(device)) != 0 || (r = lsc_key_check(pub)) != 0)
		return r;
	if (issuer == NULL || issuer_key == NULL)
		return uc_fail(UC_ERR_ARG, "LSC: no issuer certificate or key");
	if (days < LSC_DAYS_MIN || days > LSC_DAYS_MAX)
		return uc_fail(UC_ERR_ARG, "LSC: validity of %d days (want "
		    "%d..%d, spec 10)", days, LSC_DAYS_MIN, LSC_DAYS_MAX);
	return 0;
}

/* Everything but the subject key and the signature. */
static int
lsc_body(const char *device, X509 *issuer, int days, X509 **out)
{
	X509	*x;
	int	 r;

	if ((*out = x = X509_new()) == NULL)
		return uc_fail(UC_ERR_ALLOC, "LSC: X509_new");
	if ((r = lsc_fields(x, device, issuer, days)) != 0 ||
	    (r = lsc_ext_usage(x)) != 0 || (r = lsc_ext_names(x, device)) != 0)
		return r;
	return 0;
}

/* The signature made matches the issuer certificate. */
static int
lsc_verify(X509 *x, X509 *issuer, const char *device)
{
	if (X509_verify(x, X509_get0_pubkey(issuer)) != 1)
		return uc_fail_ssl(UC_ERR_SIGNATURE, "LSC for %s: the issuer "
		    "key does not match the issuer certificate", device);
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
	if ((r = lsc_args(device, pub, issuer, issuer_key, days)) != 0)
		return r;
	if ((r = lsc_body(device, issuer, days, &x)) != 0)
		goto out;
	if (X509_set_pubkey(x, pub) != 1) {
		r = uc_fail_ssl(UC_ERR_CRYPTO, "LSC subject key");
		goto out;
	}
	if (X509_sign(x, issuer_key, EVP_sha256()) <= 0) {
		r = uc_fail_ssl(UC_ERR_CRYPTO, "LSC for %s: signing", device);
		goto out;
	}
	if ((r = lsc_verify(x, issuer, device)) != 0)
		goto out;
	*out = x;
	x = NULL;
	r = 0;
out:
	X509_free(x);
	return r;
}

/* --- Prepared issuer (lsc_signer) ------------------------------------ */

struct lsc_signer {
	X509		*issuer;	/* one reference */
	EVP_PKEY	*key;		/* one reference */
	EVP_MD_CTX	*tmpl;		/* SHA-256 DigestSign, copied per LSC */
	int		 matched;	/* key is the certificate's */
};

/* A prepared issuer (lsc.h). */
int
lsc_signer_new(X509 *issuer, EVP_PKEY *key, struct lsc_signer **out)
{
	struct lsc_signer	*s;
	EVP_PKEY		*cpub;

	*out = NULL;
	if (issuer == NULL || key == NULL)
		return uc_fail(UC_ERR_ARG, "LSC: no issuer certificate or key");
	if ((s = OPENSSL_zalloc(sizeof(*s))) == NULL)
		return uc_fail(UC_ERR_ALLOC, "LSC signer");
	if (X509_up_ref(issuer) != 1 || (s->issuer = issuer,
	    EVP_PKEY_up_ref(key) != 1)) {
		lsc_signer_free(s);
		return uc_fail_ssl(UC_ERR_CRYPTO, "LSC signer: references");
	}
	s->key = key;
	if ((s->tmpl = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestSignInit(s->tmpl, NULL, EVP_sha256(), NULL, key) != 1) {
		lsc_signer_free(s);
		return uc_fail_ssl(UC_ERR_CRYPTO, "LSC signer: SHA-256 "
		    "signing context");
	}
	/* A mismatch is reported per LSC, as lsc_issue does. */
	cpub = X509_get0_pubkey(issuer);
	s->matched = cpub != NULL && EVP_PKEY_eq(cpub, key) == 1;
	ERR_clear_error();
	*out = s;
	return 0;
}

void
lsc_signer_free(struct lsc_signer *s)
{
	if (s == NULL)
		return;
	EVP_MD_CTX_free(s->tmpl);
	EVP_PKEY_free(s->key);
	X509_free(s->issuer);
	OPENSSL_free(s);
}

/* A copy of an ASN1_TYPE value of type t, for X509_ALGOR_set0. */
static void *
lsc_param_dup(int t, const void *v)
{
	if (t == V_ASN1_UNDEF || t == V_ASN1_NULL)
		return NULL;
	if (t == V_ASN1_OBJECT)
		return OBJ_dup(v);
	return ASN1_STRING_dup(v);
}

/* The item encodes back to exactly p, len: DER, not merely BER. */
static int
lsc_is_der(const void *v, const ASN1_ITEM *it, const uint8_t *p, size_t len)
{
	unsigned char	*enc = NULL;
	int		 n, same;

	n = ASN1_item_i2d(v, &enc, it);
	same = n > 0 && (size_t)n == len && memcmp(enc, p, len) == 0;
	OPENSSL_free(enc);
	return same;
}

/*
 * The subject key from the bytes the phone sent: a DER
 * SubjectPublicKeyInfo, split without decoding the key again, or an RSA
 * PKCS#1 RSAPublicKey, wrapped as rsaEncryption.  Returns 0, 1 when the
 * bytes are neither (the caller encodes pub instead), or UC_ERR_*.
 */
static int
lsc_set_key_der(X509 *x, const uint8_t *der, size_t len)
{
	STACK_OF(ASN1_TYPE)	*sq = NULL;
	X509_ALGOR		*alg = NULL;
	const ASN1_OBJECT	*aobj;
	const void		*aval;
	const unsigned char	*p = der;
	const ASN1_TYPE		*t0, *t1;
	ASN1_OBJECT		*obj = NULL;
	void			*pval = NULL;
	unsigned char		*bits = NULL;
	const uint8_t		*src;
	size_t			 n;
	int			 atype, r = 1;

	if (len == 0 || len > LSC_KEY_DER_MAX)
		return 1;
	if ((sq = d2i_ASN1_SEQUENCE_ANY(NULL, &p, (long)len)) == NULL ||
	    (size_t)(p - der) != len ||
	    !lsc_is_der(sq, ASN1_ITEM_rptr(ASN1_SEQUENCE_ANY), der, len))
		goto out;
	t0 = sk_ASN1_TYPE_value(sq, 0);
	t1 = sk_ASN1_TYPE_value(sq, 1);
	if (sk_ASN1_TYPE_num(sq) == 2 && t0->type == V_ASN1_SEQUENCE &&
	    t1->type == V_ASN1_BIT_STRING) {
		/* SubjectPublicKeyInfo: AlgorithmIdentifier, BIT STRING. */
		p = t0->value.sequence->data;
		if ((alg = d2i_X509_ALGOR(NULL, &p,
		    t0->value.sequence->length)) == NULL ||
		    !lsc_is_der(alg, ASN1_ITEM_rptr(X509_ALGOR),
		    t0->value.sequence->data,
		    (size_t)t0->value.sequence->length) ||
		    (t1->value.bit_string->flags & 0x07) != 0)
			goto out;	/* unused bits: let OpenSSL encode */
		X509_ALGOR_get0(&aobj, &atype, &aval, alg);
		if (atype != V_ASN1_UNDEF && atype != V_ASN1_NULL &&
		    atype != V_ASN1_OBJECT && atype != V_ASN1_SEQUENCE)
			goto out;
		src = t1->value.bit_string->data;
		n = (size_t)t1->value.bit_string->length;
	} else if (sk_ASN1_TYPE_num(sq) == 2 &&
	    t0->type == V_ASN1_INTEGER && t1->type == V_ASN1_INTEGER) {
		/* PKCS#1 RSAPublicKey: modulus, exponent. */
		aobj = OBJ_nid2obj(NID_rsaEncryption);
		atype = V_ASN1_NULL;
		aval = NULL;
		src = der;
		n = len;
	} else
		goto out;
	r = UC_ERR_ALLOC;
	if ((obj = OBJ_dup(aobj)) == NULL ||
	    ((pval = lsc_param_dup(atype, aval)) == NULL &&
	    atype != V_ASN1_UNDEF && atype != V_ASN1_NULL) ||
	    (bits = OPENSSL_memdup(src, n > 0 ? n : 1)) == NULL)
		goto fail;
	if (X509_PUBKEY_set0_param(X509_get_X509_PUBKEY(x), obj, atype, pval,
	    bits, (int)n) != 1) {
		r = UC_ERR_CRYPTO;
		goto fail;
	}
	r = 0;
	goto out;
fail:
	ASN1_OBJECT_free(obj);
	if (atype == V_ASN1_OBJECT)
		ASN1_OBJECT_free(pval);
	else
		ASN1_STRING_free(pval);
	OPENSSL_free(bits);
	r = r == UC_ERR_ALLOC ? uc_fail(UC_ERR_ALLOC, "LSC subject key") :
	    uc_fail_ssl(r, "LSC subject key");
out:
	X509_ALGOR_free(alg);
	sk_ASN1_TYPE_pop_free(sq, ASN1_TYPE_free);
	ERR_clear_error();
	return r;
}

/*
 * Sign x with a copy of the prepared SHA-256 context; a key whose
 * context cannot be copied (some PKCS#11 bindings) signs as lsc_issue.
 */
static int
lsc_sign(const struct lsc_signer *s, X509 *x, const char *device)
{
	EVP_MD_CTX	*c;
	int		 ok;

	if ((c = EVP_MD_CTX_new()) == NULL)
		return uc_fail(UC_ERR_ALLOC, "LSC for %s: signing", device);
	if (EVP_MD_CTX_copy_ex(c, s->tmpl) == 1)
		ok = X509_sign_ctx(x, c) > 0;
	else {
		ERR_clear_error();
		ok = X509_sign(x, s->key, EVP_sha256()) > 0;
	}
	EVP_MD_CTX_free(c);
	if (!ok)
		return uc_fail_ssl(UC_ERR_CRYPTO, "LSC for %s: signing",
		    device);
	return 0;
}

/* Issue an LSC with a prepared issuer (lsc.h). */
int
lsc_issue_der(const struct lsc_signer *s, const char *device, EVP_PKEY *pub,
    const uint8_t *der, size_t len, int days, X509 **out)
{
	X509	*x = NULL;
	int	 r;

	*out = NULL;
	if (s == NULL)
		return uc_fail(UC_ERR_ARG, "LSC: no issuer certificate or key");
	if ((r = lsc_args(device, pub, s->issuer, s->key, days)) != 0)
		return r;
	if ((r = lsc_body(device, s->issuer, days, &x)) != 0)
		goto out;
	if (der == NULL || (r = lsc_set_key_der(x, der, len)) == 1)
		r = X509_set_pubkey(x, pub) == 1 ? 0 :
		    uc_fail_ssl(UC_ERR_CRYPTO, "LSC subject key");
	if (r != 0 || (r = lsc_sign(s, x, device)) != 0)
		goto out;
	if (!s->matched && (r = lsc_verify(x, s->issuer, device)) != 0)
		goto out;
	*out = x;
	x = NULL;
	r = 0;
out:
	X509_free(x);
	return r;
}
