/*
 * Trust-list verification cost: ucsec's full path (parse every tag and
 * record, find the SAST signer record, decode its certificate, verify)
 * against two OpenSSL-only peers on the same bytes: what any verifier
 * must do (decode the signer certificate, verify), and the bare
 * signature check with a key already decoded (the floor).  Prints the
 * rates and the ratios.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "cert.h"
#include "fileio.h"
#include "sgn.h"
#include "uerr.h"

static int openssl_once(const uint8_t *, size_t, EVP_PKEY *, const EVP_MD *,
    size_t, size_t);

static double
now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int
ucsec_once(const uint8_t *buf, size_t len)
{
	struct sgn_file	*f;
	int		 r;

	if ((r = sgn_parse(buf, len, SGN_KIND_TLV, &f)) != 0)
		return r;
	r = tlv_verify(f, NULL);
	sgn_free(f);
	return r;
}

/* The minimum a verifier does: decode the certificate, verify. */
static int
decode_verify_once(const uint8_t *buf, size_t len, const uint8_t *der,
    size_t derlen, const EVP_MD *md, size_t off, size_t siglen)
{
	const unsigned char	*p = der;
	X509			*x;
	int			 r;

	if ((x = d2i_X509(NULL, &p, (long)derlen)) == NULL)
		return -1;
	r = openssl_once(buf, len, X509_get0_pubkey(x), md, off, siglen);
	X509_free(x);
	return r;
}

static int
openssl_once(const uint8_t *buf, size_t len, EVP_PKEY *pk, const EVP_MD *md,
    size_t off, size_t siglen)
{
	EVP_MD_CTX	*ctx = EVP_MD_CTX_new();
	int		 ok;

	ok = EVP_DigestVerifyInit(ctx, NULL, md, NULL, pk) == 1 &&
	    EVP_DigestVerifyUpdate(ctx, buf, off) == 1 &&
	    EVP_DigestVerifyUpdate(ctx, buf + off + 3 + siglen,
	    len - off - 3 - siglen) == 1 &&
	    EVP_DigestVerifyFinal(ctx, buf + off + 3, siglen) == 1;
	EVP_MD_CTX_free(ctx);
	return ok ? 0 : -1;
}

int
main(int argc, char *argv[])
{
	struct sgn_file	*f;
	X509		*x;
	uint8_t		*buf;
	size_t		 len, idx;
	enum signer_md	 md;
	double		 t0, tu, to, td;
	int		 i, n = argc > 2 ? atoi(argv[2]) : 20000;

	if (argc < 2 || n <= 0) {
		fprintf(stderr, "usage: bench-sgn FILE.tlv [iterations]\n");
		return 2;
	}
	if (file_read(argv[1], TLV_FILE_MAX, &buf, &len) != 0 ||
	    sgn_parse(buf, len, SGN_KIND_TLV, &f) != 0 ||
	    tlv_verify(f, &idx) != 0 ||
	    cert_from_der(f->recs[idx].cert.p, f->recs[idx].cert.len, &x) != 0 ||
	    sgn_hash_md(f->h.hash_alg, &md) != 0) {
		fprintf(stderr, "bench-sgn: %s\n", uc_errdetail());
		return 1;
	}
	t0 = now();
	for (i = 0; i < n; i++)
		if (ucsec_once(buf, len) != 0)
			return 1;
	tu = now() - t0;
	t0 = now();
	for (i = 0; i < n; i++)
		if (openssl_once(buf, len, X509_get0_pubkey(x),
		    signer_evp_md(md), f->h.sig_off, f->h.sig.len) != 0)
			return 1;
	to = now() - t0;
	t0 = now();
	for (i = 0; i < n; i++)
		if (decode_verify_once(buf, len, f->recs[idx].cert.p,
		    f->recs[idx].cert.len, signer_evp_md(md), f->h.sig_off,
		    f->h.sig.len) != 0)
			return 1;
	td = now() - t0;
	printf("verify %s (%zu bytes, %zu records), %d rounds\n", argv[1], len,
	    f->nrecs, n);
	printf("  ucsec parse+find+decode+verify: %9.0f files/s\n", n / tu);
	printf("  openssl decode cert + verify:   %9.0f files/s\n", n / td);
	printf("  openssl bare verify (floor):    %9.0f files/s\n", n / to);
	printf("  ratio ucsec/(decode+verify):    %9.2f\n", td / tu);
	printf("  ratio ucsec/floor:              %9.2f\n", to / tu);
	X509_free(x);
	sgn_free(f);
	free(buf);
	return 0;
}
