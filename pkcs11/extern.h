/*
 * Internal interface of the token layer: the open-token handle shared by
 * p11.c and tokenctl.c, and the raw PKCS#11 helpers libp11 0.4.12 lacks
 * (attribute reads, key generation).
 */
#ifndef UCSEC_P11_EXTERN_H
#define UCSEC_P11_EXTERN_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/types.h>

/*
 * libp11.h names RSA_METHOD and EC_KEY_METHOD, which OpenSSL 3 hides
 * under OPENSSL_NO_DEPRECATED; we never use them, only let it parse.
 */
#ifdef OPENSSL_NO_DEPRECATED_3_0
typedef struct rsa_meth_st RSA_METHOD;
typedef struct ec_key_method_st EC_KEY_METHOD;
#endif
#include <libp11.h>
#include <p11-kit/pkcs11.h>

#include "p11.h"

#define P11_LABEL_MAX	128	/* token or object label we print */
#define P11_CKR_NAME_MAX 48	/* "CKR_...", or "CKR_0x..." */

/*
 * A loaded module, shared by every p11_tok on it and refcounted: libp11
 * finalises the module and closes all sessions of a slot when a context
 * or its slots are released, so two handles must not own them twice.  fl
 * is the same module's raw function list (the same dlopen instance, so
 * it shares libp11's sessions' login state) for what libp11 lacks.
 */
struct p11_mod {
	char			*path;		/* module path loaded */
	PKCS11_CTX		*ctx;
	PKCS11_SLOT		*slots;
	unsigned int		 nslots;
	CK_FUNCTION_LIST	*fl;		/* raw functions, or NULL */
	void			*dl;		/* our dlopen reference for fl */
	int			 refs;
	struct p11_mod		*next;
};

/* One token (or, before p11_tok_select, just the module). */
struct p11_tok {
	struct p11_mod		*mod;
	PKCS11_SLOT		*slot;		/* chosen token's slot, or NULL */
	int			 logged_in;
	CK_SESSION_HANDLE	 login_sh;	/* keeps our login alive */
	int			 have_login_sh;
	int			 pin_in_uri;	/* login PIN was a pin-value */
};

/* p11.c */
int	 p11_module_resolve(const struct p11_uri *, const struct p11_opts *,
	    char **);
int	 p11_tok_load(const struct p11_uri *, const struct p11_opts *,
	    struct p11_tok **);
int	 p11_slot_match(PKCS11_SLOT *, const struct p11_uri *);
int	 p11_tok_select(struct p11_tok *, const struct p11_uri *, int);
int	 p11_tok_open(const struct p11_uri *, const struct p11_opts *, int,
	    struct p11_tok **);
int	 p11_tok_login(struct p11_tok *, const struct p11_uri *,
	    const struct p11_opts *);
int	 p11_tok_pin_available(const struct p11_uri *,
	    const struct p11_opts *);
void	 p11_tok_close(struct p11_tok *);
void	 p11_tok_warn_pin(const struct p11_tok *);
const char *p11_tok_label(const struct p11_tok *);
int	 p11_key_match(const PKCS11_KEY *, const struct p11_uri *);
int	 p11_cert_match(const PKCS11_CERT *, const struct p11_uri *);
int	 p11_key_find(struct p11_tok *, const struct p11_uri *,
	    PKCS11_KEY **);
PKCS11_CERT *p11_cert_for_key(struct p11_tok *, const PKCS11_KEY *);
int	 p11_obj_bool(struct p11_tok *, CK_OBJECT_CLASS, const uint8_t *,
	    size_t, const char *, CK_ATTRIBUTE_TYPE, int *);
int	 p11_obj_exists(struct p11_tok *, const char *, const uint8_t *,
	    size_t, int *);
int	 p11_keygen(struct p11_tok *, const char *, const char *,
	    const uint8_t *, size_t);
const char *p11_ckr_name(unsigned long, char *, size_t);
int	 p11_signer_open_cert(const char *, const struct p11_opts *, X509 *,
	    struct signer **);

/* p11uri.c */
int	 p11_uri_format(const char *, const char *, const uint8_t *, size_t,
	    const char *, char *, size_t);

/* pin.c */
void	 pin_wipe(char *, size_t);

#endif /* UCSEC_P11_EXTERN_H */
