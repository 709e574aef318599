/*
 * A key or certificate named either by a pkcs11: URI or by a file, so the
 * tools take both forms in the same option.
 */
#include <stdlib.h>

#include <openssl/x509.h>

#include "cert.h"
#include "extern.h"
#include "p11.h"
#include "signer.h"
#include "uerr.h"

/*
 * Load a certificate from a pkcs11: URI (p11_cert_load: a key URI names
 * the key's certificate; no login unless the URI carries a PIN, never a
 * prompt) or a PEM or DER file (cert_load).  Returns 0 or UC_ERR_*;
 * caller frees *out.
 */
int
keyref_cert_load(const char *src, const struct p11_opts *opts, X509 **out)
{
	*out = NULL;
	if (src == NULL)
		return uc_fail(UC_ERR_ARG, "no certificate given");
	if (p11_is_uri(src))
		return p11_cert_load(src, opts, out);
	return cert_load(src, out);
}

/*
 * Open a signer for key, a pkcs11: URI or a PEM key file.  cert, when not
 * NULL, names the certificate (URI or file); for a token key it then
 * overrides the token's certificate and must match the key (a test
 * signature is verified with it).  Caller frees *out with signer_free.
 */
int
keyref_signer_open(const char *key, const char *cert,
    const struct p11_opts *opts, struct signer **out)
{
	X509	*x = NULL;
	int	 r;

	*out = NULL;
	if (key == NULL)
		return uc_fail(UC_ERR_ARG, "no key given");
	if (!p11_is_uri(key))
		return signer_file_open(key, cert, out);
	if (cert == NULL)
		return p11_signer_open(key, opts, out);
	if ((r = keyref_cert_load(cert, opts, &x)) != 0)
		return r;
	/* Takes x over and checks it against the key. */
	return p11_signer_open_cert(key, opts, x, out);
}
