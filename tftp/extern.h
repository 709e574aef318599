/*
 * ucsec-tftpd internals: configuration, the served-content cache
 * (files.c) and the transfer engine (server.c).  tftpd.c holds main().
 */
#ifndef UCSEC_TFTP_EXTERN_H
#define UCSEC_TFTP_EXTERN_H

#include <sys/socket.h>
#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

#include "signer.h"
#include "tftppkt.h"

#define TFTPD_SESSIONS_DEF	1000	/* concurrent transfers */
#define TFTPD_PER_CLIENT_DEF	16	/* concurrent transfers per address */
#define TFTPD_WINDOW_DEF	64	/* largest windowsize granted */
#define TFTPD_RETRIES_DEF	5	/* timeouts before a transfer fails */
#define TFTPD_CACHE_DEF		(64 * 1024 * 1024) /* signed bytes in memory */
#define TFTPD_SRC_MAX		(64 * 1024 * 1024) /* largest file we sign */
#define TFTPD_WRITE_MAX		(16 * 1024 * 1024) /* largest upload kept */
#define TFTPD_NETASCII_MAX	(1024 * 1024)	/* netascii copies 2x len */
#define TFTPD_SOCKBUF		(4 * 1024 * 1024) /* SO_SNDBUF/SO_RCVBUF */
#define TFTPD_TIMEOUT_DEF	1	/* seconds before the first resend */
#define TFTPD_BACKOFF_MAX	8	/* longest resend interval, seconds */
#define TFTPD_RESEND_MAX	5	/* first resend cap for a peer's timeout */
#define TFTPD_OACK_WAIT		11	/* before our own first OACK resend */
#define TFTPD_PENDING_TRIES	2	/* resends before the first valid ACK */

enum tftpd_mode {
	TFTPD_MIXED,		/* sign .sgn on demand, encrypt configs */
	TFTPD_NONSECURE,	/* serve only what is on disk */
};

struct config {
	char		*root;		/* --root */
	char		*listen;	/* --listen address */
	int		 port;
	char		*mode;		/* "mixed" or "nonsecure" */
	char		*sign_key;	/* PEM path or pkcs11: URI */
	char		*sign_cert;
	char		*device_certs;	/* dir of SEP<MAC>.pem / .crt */
	char		*user;
	char		*digest;	/* "sha1" or "sha512" */
	char		*write_dir;	/* NULL: read-only */
	char		*cache_dir;	/* NULL: memory only */
	int		 max_sessions;
	int		 max_per_client;
	int		 blksize_max;
	int		 window_max;
	int		 retries;
	int		 cache_mb;	/* cache bytes, in MiB (config) */
	long long	 cache_bytes;
	int		 foreground;
	int		 verbose;
	int		 strip_credentials; /* SEP<MAC>.cnf.xml without passwords */
	char		*config;	/* --config file */
};

/* What a transfer serves. */
enum content_kind {
	CONTENT_PLAIN,
	CONTENT_SIGNED,		/* .sgn made here */
	CONTENT_ENCRYPTED,	/* .enc.sgn made here */
	CONTENT_STUB,		/* .sgn stub of an encrypted config */
	CONTENT__MAX
};

struct centry;

/* Bytes of one transfer: borrowed from a cache entry, or owned. */
struct content {
	const uint8_t	*p;
	size_t		 len;
	enum content_kind kind;
	struct centry	*ce;		/* cache reference, or NULL */
	uint8_t		*own;		/* malloc'd bytes, or NULL */
};

struct files;

/* files.c */
int		 files_new(const struct config *, struct signer *,
		    struct files **);
void		 files_free(struct files *);
void		 files_flush(struct files *);
int		 files_get(struct files *, const char *, struct content *,
		    uint16_t *, char *, size_t);
void		 content_release(struct files *, struct content *);
int		 content_netascii(struct files *, struct content *);
const char	*content_kind_name(enum content_kind);
int		 files_name_check(const char *, const char **, char *, size_t);
int		 files_write(struct files *, const char *, const uint8_t *,
		    size_t, uint16_t *, char *, size_t);

struct server;

/* server.c */
int		 server_new(const struct config *, struct files *,
		    struct server **);
int		 server_run(struct server *);
void		 server_free(struct server *);
void		 server_on_reload(struct server *, void (*)(void *), void *);

#endif /* UCSEC_TFTP_EXTERN_H */
