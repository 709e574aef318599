/*
 * The signer interface and its PEM-file backend.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "cert.h"
#include "fileio.h"
#include "signer.h"
#include "uerr.h"

#define KEY_FILE_MAX	(256 * 1024)	/* a PEM key plus certificate */

static const char *const md_names[SIGNER_MD__MAX] = {
	"sha1", "sha256", "sha512",
};

const char *
signer_md_name(enum signer_md md)
{
	return (unsigned)md < SIGNER_MD__MAX ? md_names[md] : "unknown";
}

/* Parse "sha1", "sha256" or "sha512"; returns 0 or UC_ERR_ARG. */
int
signer_md_parse(const char *s, enum signer_md *md)
{
	int	 i;

	for (i = 0; i < SIGNER_MD__MAX; i++)
		if (strcasecmp(s, md_names[i]) == 0) {
			*md = (enum signer_md)i;
			return 0;
		}
	return uc_fail(UC_ERR_ARG, "unknown digest \"%s\" (sha1, sha256, "
	    "sha512)", s);
}

const EVP_MD *
signer_evp_md(enum signer_md md)
{
	switch (md) {
	case SIGNER_SHA1:
		return EVP_sha1();
	case SIGNER_SHA256:
		return EVP_sha256();
	case SIGNER_SHA512:
		return EVP_sha512();
	default:
		return NULL;
	}
}

/*
 * Wrap a backend.  Takes ownership of ctx and cert (freed on failure too).
 * On success stores the signer (free with signer_free) in *out.
 */
int
signer_new(const struct signer_ops *ops, void *ctx, X509 *cert,
    const char *label, struct signer **out)
{
	struct signer	*s;

	*out = NULL;
	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    (s->label = strdup(label)) == NULL) {
		free(s);
		ops->free(ctx);
		X509_free(cert);
		return uc_fail(UC_ERR_ALLOC, "signer");
	}
	s->ops = ops;
	s->ctx = ctx;
	s->cert = cert;
	*out = s;
	return 0;
}

/*
 * Sign msg with digest md.  sig holds *siglen bytes on entry; on success
 * *siglen is the signature length.
 */
int
signer_sign(struct signer *s, enum signer_md md, const uint8_t *msg,
    size_t len, uint8_t *sig, size_t *siglen)
{
	if ((unsigned)md >= SIGNER_MD__MAX)
		return uc_fail(UC_ERR_ARG, "signer: bad digest %d", md);
	return s->ops->sign(s->ctx, md, msg, len, sig, siglen);
}

void
signer_free(struct signer *s)
{
	if (s == NULL)
		return;
	if (s->ops != NULL)
		s->ops->free(s->ctx);
	X509_free(s->cert);
	free(s->label);
	free(s);
}

/*
 * Sign a short test message and verify it with the certificate's public
 * key: catches a key that does not match its certificate before a file
 * is built with it.
 */
int
signer_check_key(struct signer *s)
{
	static const uint8_t	 msg[] = "ucsec signer self-test";
	uint8_t			 sig[SIGNER_SIG_MAX];
	size_t			 siglen = sizeof(sig);
	EVP_MD_CTX		*ctx;
	int			 r, ok;

	if ((r = signer_sign(s, SIGNER_SHA256, msg, sizeof(msg), sig,
	    &siglen)) != 0)
		return r;
	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return uc_fail(UC_ERR_ALLOC, "EVP_MD_CTX_new");
	ok = EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL,
	    X509_get0_pubkey(s->cert)) == 1 &&
	    EVP_DigestVerify(ctx, sig, siglen, msg, sizeof(msg)) == 1;
	EVP_MD_CTX_free(ctx);
	if (!ok)
		return uc_fail_ssl(UC_ERR_POLICY, "%s: private key does not "
		    "match its certificate", s->label);
	return 0;
}

/*
 * Sign msg with an EVP_PKEY held by any backend (a PEM key, or a token
 * key behind libp11's methods): RSASSA-PKCS1-v1_5 for RSA, DER ECDSA for
 * EC.  *siglen holds the size of sig on entry.
 */
int
signer_evp_sign(EVP_PKEY *pk, enum signer_md md, const uint8_t *msg,
    size_t len, uint8_t *sig, size_t *siglen)
{
	EVP_MD_CTX	*mctx;
	EVP_PKEY_CTX	*pctx;
	int		 r = UC_ERR_CRYPTO;

	if ((mctx = EVP_MD_CTX_new()) == NULL)
		return uc_fail(UC_ERR_ALLOC, "EVP_MD_CTX_new");
	if (EVP_DigestSignInit(mctx, &pctx, signer_evp_md(md), NULL, pk) != 1) {
		r = uc_fail_ssl(UC_ERR_CRYPTO, "sign init");
		goto out;
	}
	if (EVP_PKEY_is_a(pk, "RSA") &&
	    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1) {
		r = uc_fail_ssl(UC_ERR_CRYPTO, "RSA padding");
		goto out;
	}
	if (EVP_DigestSign(mctx, sig, siglen, msg, len) != 1) {
		r = uc_fail_ssl(UC_ERR_CRYPTO, "signing");
		goto out;
	}
	r = 0;
out:
	EVP_MD_CTX_free(mctx);
	return r;
}

/* The backend's EVP_PKEY (borrowed), or NULL if it has none. */
EVP_PKEY *
signer_pkey(struct signer *s)
{
	if (s == NULL || s->ops->pkey == NULL)
		return NULL;
	return s->ops->pkey(s->ctx);
}

/* PEM-file backend: ctx is the EVP_PKEY. */

static int
file_sign(void *ctx, enum signer_md md, const uint8_t *msg, size_t len,
    uint8_t *sig, size_t *siglen)
{
	return signer_evp_sign(ctx, md, msg, len, sig, siglen);
}

static void
file_free(void *ctx)
{
	EVP_PKEY_free(ctx);
}

static EVP_PKEY *
file_pkey(void *ctx)
{
	return ctx;
}

static const struct signer_ops file_ops = {
	.name = "file",
	.sign = file_sign,
	.free = file_free,
	.pkey = file_pkey,
};

/*
 * Open a PEM private key and its certificate.  certpath may be NULL when
 * keypath also holds the certificate (the reference tools' .pem form).
 * The key must match the certificate.  Caller frees *out.
 */
int
signer_file_open(const char *keypath, const char *certpath,
    struct signer **out)
{
	uint8_t		*buf = NULL;
	size_t		 len;
	BIO		*bio = NULL;
	EVP_PKEY	*pk = NULL;
	X509		*cert = NULL;
	int		 r;

	*out = NULL;
	if ((r = file_read(keypath, KEY_FILE_MAX, &buf, &len)) != 0)
		goto out;
	if ((bio = BIO_new_mem_buf(buf, (int)len)) == NULL) {
		r = uc_fail(UC_ERR_ALLOC, "BIO_new_mem_buf");
		goto out;
	}
	if ((pk = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL)) == NULL) {
		r = uc_fail_ssl(UC_ERR_FORMAT, "%s: no PEM private key",
		    keypath);
		goto out;
	}
	r = certpath != NULL ? cert_load(certpath, &cert) :
	    cert_from_mem(buf, len, &cert);
	if (r != 0) {
		if (certpath == NULL)
			uc_prefix(keypath);
		goto out;
	}
	if (X509_check_private_key(cert, pk) != 1) {
		r = uc_fail_ssl(UC_ERR_POLICY, "%s: private key does not match "
		    "certificate %s", keypath, certpath ? certpath : keypath);
		goto out;
	}
	r = signer_new(&file_ops, pk, cert, keypath, out);
	pk = NULL;
	cert = NULL;
out:
	BIO_free(bio);
	if (buf != NULL)
		OPENSSL_clear_free(buf, len);
	EVP_PKEY_free(pk);
	X509_free(cert);
	return r;
}
