/*
 * ctlclient internals: builds, signs, shows, verifies and updates
 * Certificate Trust Lists (CTLFile.tlv) and Initial Trust Lists
 * (ITLFile.tlv).
 */
#ifndef CTLCLIENT_EXTERN_H
#define CTLCLIENT_EXTERN_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/x509.h>

#include "cmd.h"
#include "p11.h"
#include "sgn.h"

#define CTL_SAST_MAX	2	/* phones accept at most two (usecallmanager.nz) */
#define CTL_SAST_MIN	2	/* CUCM requires at least two eTokens */
#define CTL_ENTRIES_MAX	256	/* records we build; CUCM's supercluster is far less */
#define TLS_FETCH_TIMEOUT 10	/* seconds to fetch a live server certificate */

/* A record to write: a new certificate, or an existing record kept. */
struct entry {
	X509		*cert;		/* owned; NULL for a kept record */
	int		 role;
	char		*dns;		/* owned; NULL if unknown */
	char		*pin;		/* owned; ",sha256=" of a tls:// source */
	int		 has_ip;
	uint8_t		 ip[4];
	const uint8_t	*raw;		/* kept record's bytes, borrowed */
	size_t		 rawlen;
	char		*src;		/* owned; source as given (may hold a
					   pin-value: never print it) */
	char		*what;		/* owned; source for messages */
};

struct entries {
	struct entry	 v[CTL_ENTRIES_MAX];
	size_t		 n;
};

/* A record source from the command line, loaded after parsing. */
struct pending {
	int		 role;
	const char	*spec;		/* borrowed from argv */
};

/* Options shared by build and update. */
struct buildopts {
	const char	*out;		/* output path */
	const char	*sign_with;	/* key: pkcs11: URI or PEM file */
	const char	*sign_cert;	/* certificate for a PEM key, or NULL */
	const char	*filename;	/* header filename, or NULL: derive */
	enum signer_md	 md;
	int		 md_set;
	uint8_t		 sver_major, sver_minor;
	int		 sver_set;
	int		 allow_single;	/* --allow-single-token */
	int		 have_time;
	uint32_t	 timestamp;	/* --timestamp or SOURCE_DATE_EPOCH */
	struct p11_opts	 p11;
	struct pending	 pend[CTL_ENTRIES_MAX];
	size_t		 npend;
	const char	*remove[CTL_ENTRIES_MAX];	/* update --remove */
	size_t		 nremove;
};

/* build.c */
int	 cmd_build(int, char **);
int	 cmd_update(int, char **);

/* inspect.c */
int	 cmd_show(int, char **);
int	 cmd_verify(int, char **);
int	 cmd_diff(int, char **);
int	 cmd_check_rollover(int, char **);
int	 tlv_load(const char *, struct sgn_file **);
int	 record_cert(const struct tlv_record *, X509 **);
int	 cert_valid_at(X509 *, time_t, char *, size_t);
int	 phone_checks(const struct sgn_file *, char *, size_t);
int	 is_sast_record(const struct sgn_file *, X509 *);

/* source.c */
int	 entry_add(struct entries *, const char *, int,
	    const struct p11_opts *);
void	 entries_free(struct entries *);
int	 tls_fetch_cert(const char *, X509 **, char **, int *, uint8_t *);

/* main.c */
void	 usage(void) __attribute__((noreturn));
extern const char *progname;

#endif /* CTLCLIENT_EXTERN_H */
