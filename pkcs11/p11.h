/*
 * The token layer: PKCS#11 keys and certificates named by RFC 7512
 * "pkcs11:" URIs, on libp11 (and p11-kit for URI parsing and module
 * discovery).  Sits on lib/; the tools use it, lib/ never does.
 *
 * Module choice, first match wins: p11_opts.module (a --module flag),
 * the URI's module-path, the URI's module-name (looked up among p11-kit's
 * registered modules), env PKCS11_MODULE, else p11-kit's proxy module,
 * which reaches every registered module (SoftHSM, OpenSC, SafeNet).
 *
 * PIN, first match wins: the URI's pin-source (a file), pin-value, env
 * UCSEC_PIN, else a no-echo prompt on /dev/tty when p11_opts.interactive.
 * A PIN is never logged, echoed or kept after login; a refused PIN is
 * reported with the token's answer and never retried (tokens lock).
 */
#ifndef UCSEC_P11_H
#define UCSEC_P11_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "signer.h"

#define P11_ID_MAX	64	/* CKA_ID bytes we accept in a URI */
#define P11_PIN_MAX	256	/* longest PIN we read */
#define P11_URI_MAX	4096	/* longest URI we parse */

struct p11_opts {
	const char	*module;	/* module path from --module, or NULL */
	int		 interactive;	/* may prompt for a PIN on /dev/tty */
};

/* The parts of a pkcs11: URI ucsec uses; strings owned by the struct. */
struct p11_uri {
	char		*module_path;	/* module-path */
	char		*module_name;	/* module-name */
	char		*token;		/* token label */
	char		*serial;	/* token serial */
	char		*manufacturer;	/* token manufacturer */
	char		*model;		/* token model */
	char		*object;	/* object label */
	uint8_t		 id[P11_ID_MAX];
	size_t		 id_len;	/* 0 when no id */
	char		*type;		/* "private", "public", "cert", ... */
	char		*pin_source;	/* pin-source */
	char		*pin_value;	/* pin-value; wiped by p11_uri_free */
	int		 slot_id;	/* slot-id, -1 when absent */
};

int	 p11_uri_parse(const char *, struct p11_uri *);
void	 p11_uri_free(struct p11_uri *);
int	 p11_is_uri(const char *);
char	*p11_uri_redact(const char *);

int	 pin_parse(const uint8_t *, size_t, char *, size_t);
int	 pin_from_file(const char *, char *, size_t);
int	 pin_get(const struct p11_uri *, const struct p11_opts *,
	    const char *, char *, size_t);

int	 p11_signer_open(const char *, const struct p11_opts *,
	    struct signer **);
/* A token key without its certificate: (*out)->cert is NULL. */
int	 p11_signer_open_bare(const char *, const struct p11_opts *,
	    struct signer **);
int	 p11_cert_load(const char *, const struct p11_opts *, X509 **);

/* keyref.c: a key or certificate given as a pkcs11: URI or a file. */
int	 keyref_signer_open(const char *, const char *,
	    const struct p11_opts *, struct signer **);
int	 keyref_cert_load(const char *, const struct p11_opts *, X509 **);

#endif /* UCSEC_P11_H */
