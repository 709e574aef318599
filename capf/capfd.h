/*
 * capfd internals shared by its files: configuration and credentials
 * (capfd.c), the event loop and worker pool (server.c).  The session
 * state machine has its own contract in capfsm.h.
 */
#ifndef UCSEC_CAPFD_H
#define UCSEC_CAPFD_H

#include <pthread.h>
#include <stddef.h>

#include <openssl/ssl.h>

#include "capfsm.h"
#include "signer.h"
#include "store.h"

#define CAPFD_PORT_DEF		3804	/* spec 1 */
#define CAPFD_SESSIONS_DEF	1024	/* concurrent connections */
#define CAPFD_PER_ADDR_DEF	32	/* per peer address (NAT, test rigs) */
#define CAPFD_HANDSHAKE_DEF	10	/* seconds for the TLS handshake */
#define CAPFD_QUEUE_MAX		1024	/* jobs waiting for a worker */
#define CAPFD_IDLE_DEF		30	/* seconds a phone may stay silent */
#define CAPFD_KEYGEN_DEF	120	/* seconds for KEY_GENERATE_RESPONSE */
#define CAPFD_SESSION_DEF	300	/* seconds for a whole session */
#define CAPFD_WORKERS_MAX	256
#define CAPFD_VERIFY_MAX	64	/* --verify files */
#define CAPFD_EXPIRE_SECS	60	/* store_capf_expire period */
#define CAPFD_LINGER_SECS	5	/* to flush END_SESSION to a slow peer */

struct config {
	char		*db;		/* --db: the store */
	char		*cert;		/* CAPF (TLS) certificate */
	char		*key;		/* its key: PEM path or pkcs11: URI */
	char		*issuer_cert;	/* LSC issuer; NULL = the CAPF pair */
	char		*issuer_key;
	char		*verify[CAPFD_VERIFY_MAX]; /* manufacturing roots */
	size_t		 nverify;
	char		*listen;
	int		 port;
	int		 days;		/* LSC validity */
	int		 tls1;		/* allow TLS 1.0 and 1.1 */
	char		*user;		/* drop to this user after bind */
	int		 max_sessions;
	int		 max_per_addr;
	int		 idle_timeout;
	int		 handshake_timeout;
	int		 keygen_timeout;
	int		 session_timeout;
	int		 lockout;
	int		 lockout_time;
	int		 workers;
	int		 foreground;
	int		 verbose;
	char		*config;	/* -c file */
};

/*
 * Keys, certificates and trust stores in use.  Reference counted on the
 * event loop's thread: each connection holds one, so a SIGHUP reload
 * never frees what a session or its job still uses.
 */
struct creds {
	int			 refs;
	SSL_CTX			*ssl;
	struct signer		*capf;		/* TLS certificate and key */
	struct signer		*issuer;	/* NULL: capf issues */
	struct capfsm_creds	 cc;		/* what sessions use */
	pthread_mutex_t		 sign_lock;	/* PKCS#11 issuer key */
	int			 locked;	/* sign_lock initialised */
};

/* capfd.c */
int		 creds_load(const struct config *, struct store *,
		    struct creds **);
struct creds	*creds_ref(struct creds *);
void		 creds_unref(struct creds *);

struct server;

/* server.c */
int		 server_new(const struct config *, struct store *,
		    struct creds *, struct server **);
/* After daemon(3): event_reinit, then the worker threads. */
int		 server_start(struct server *);
int		 server_run(struct server *);
void		 server_free(struct server *);
/* SIGHUP: fn(arg, &new) builds new credentials; 0 = use them. */
void		 server_on_reload(struct server *,
		    int (*)(void *, struct creds **), void *);

#endif /* UCSEC_CAPFD_H */
