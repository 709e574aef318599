/*
 * The CAPF server session (specs/capf-protocol.md section 7) as a state
 * machine without I/O: whole messages in, whole messages out, and slow
 * work (password hashes, signature checks, LSC issuance) handed back to
 * the caller as a job it may run on another thread.
 *
 * Threads: every capfsm_* call except capfsm_job_run is made by one
 * thread (the one that owns the struct store).  capfsm_job_run touches
 * only the job and the read-only creds, so it may run on a worker while
 * the owner serves other sessions; the owner must not call into that
 * session until the job is back (capfsm_wait says CAPFSM_WAIT_JOB).
 */
#ifndef UCSEC_CAPFSM_H
#define UCSEC_CAPFSM_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "capfmsg.h"
#include "lsc.h"
#include "store.h"
#include "wbuf.h"

#define CAPFSM_RIP_MAX		8	/* REQUEST_IN_PROGRESS per key (spec 7.3) */
#define CAPFSM_OUT_MAX		2	/* messages one step may send */
#define CAPFSM_LOCKOUT_DEF	5	/* wrong auth strings before a lock */
#define CAPFSM_LOCKOUT_SECS_DEF	900	/* how long a lock lasts */
#define CAPFSM_WORDS_MAX	256	/* result text, incl. NUL (the store keeps 127) */

/*
 * What issues and checks certificates.  Built once (start-up, SIGHUP)
 * and shared read-only by every session and worker; it must outlive
 * every session made with it.
 */
struct capfsm_creds {
	X509		*issuer;	/* LSC issuer certificate */
	EVP_PKEY	*issuer_key;	/* its key (signer_pkey) */
	X509_STORE	*lsc_store;	/* the LSC issuer alone */
	X509_STORE	*mic_store;	/* manufacturing roots; may be NULL */
	pthread_mutex_t	*sign_lock;	/* not NULL: one issuance at a time */
	struct lsc_signer *lsc_signer;	/* issuer and key prepared for
					   signing (lsc_signer_new); NULL:
					   one is made per LSC */
};

/* Policy and the store; shared by all sessions of one thread. */
struct capfsm_ctx {
	struct store	*store;		/* borrowed; owner thread only */
	int		 days;		/* LSC validity */
	int		 lockout;	/* wrong auth strings before a lock */
	int		 lockout_secs;	/* lock duration */
	int64_t		 now;		/* fixed clock for tests; 0 = time(3) */
	struct capfsm_keydec *keydec;	/* owner thread; NULL: decode each
					   phone key from scratch */
	struct capfsm_busy *busy;	/* owner thread; devices with a
					   session past AUTH_RESPONSE (one
					   at a time); NULL: no check */
};

/* What the session waits for: decides the caller's timeout. */
enum capfsm_wait {
	CAPFSM_WAIT_PEER,	/* a phone message: idle timeout */
	CAPFSM_WAIT_KEYGEN,	/* KEY_GENERATE_RESPONSE: keygen timeout */
	CAPFSM_WAIT_JOB,	/* a job is out: do not read or call in */
	CAPFSM_WAIT_NONE	/* finished: send what is queued, close */
};

struct capfsm_job;
struct capfsm;

/*
 * The result of one step.  Each message must go out with ONE write
 * (spec 1); the bytes belong to the session and stay valid until the
 * next call on it.  close: close the connection once they are sent.
 * job: run it (capfsm_job_run), then call capfsm_job_done.
 */
struct capfsm_out {
	const uint8_t		*msg[CAPFSM_OUT_MAX];
	size_t			 len[CAPFSM_OUT_MAX];
	int			 nmsg;
	int			 close;
	struct capfsm_job	*job;
};

/*
 * A new session with id session (non-zero, random in the daemon); out
 * gets AUTH_REQUEST {version 3, auth type 0}.  ctx and creds are
 * borrowed.  Returns 0 and *sm (free with capfsm_free) or UC_ERR_ALLOC.
 */
int	 capfsm_new(const struct capfsm_ctx *, const struct capfsm_creds *,
	    uint32_t, struct capfsm **, struct capfsm_out *);
/*
 * One whole message (header + payload) from the phone.  Protocol and
 * authentication failures are answered in out (END_SESSION, close) and
 * return 0; a negative UC_ERR_* means out could not even be built
 * (close without sending).
 */
int	 capfsm_input(struct capfsm *, const uint8_t *, size_t,
	    struct capfsm_out *);
/* Run a job; any thread.  Never touches the store or the session. */
void	 capfsm_job_run(struct capfsm_job *);
/* The session's job has run: its results go to the store and out. */
int	 capfsm_job_done(struct capfsm *, struct capfsm_out *);
/*
 * The session's job will not run (queue full, connection gone): free
 * it and end the session as capfsm_abort does.  No capfsm_job_done.
 */
int	 capfsm_job_cancel(struct capfsm *, const char *, struct capfsm_out *);
/*
 * End the session early (timeout, framing error, peer gone): record the
 * failure why in the store, and, when out is not NULL, queue
 * END_SESSION {reason 7}.  With a job out, the job's result is dropped
 * when capfsm_job_done comes.
 */
int	 capfsm_abort(struct capfsm *, const char *, struct capfsm_out *);
enum capfsm_wait capfsm_wait(const struct capfsm *);
uint32_t capfsm_session(const struct capfsm *);
/*
 * One line for the log: session, device, operation, auth mode, END
 * reason and its words; untrusted text is escaped, no secrets.
 */
void	 capfsm_summary(const struct capfsm *, char *, size_t);
/* Free a session; a session that did not finish is recorded as failed. */
void	 capfsm_free(struct capfsm *);

/*
 * A reusable decoder for the phones' SubjectPublicKeyInfo keys (a fresh
 * OpenSSL 3 decoder costs ten times the decoding).  Owner thread only,
 * like the store.  Returns 0 and *out, or UC_ERR_*.
 */
struct capfsm_keydec;

int	 capfsm_keydec_new(struct capfsm_keydec **);
void	 capfsm_keydec_free(struct capfsm_keydec *);

/*
 * The set of devices with a session in progress (ctx->busy): a second
 * session for a device ends with END_SESSION 7 while the first one
 * lasts, so lockout counting and the task row have one owner.  Owner
 * thread only.  Returns 0 and *out, or UC_ERR_ALLOC.
 */
struct capfsm_busy;

int	 capfsm_busy_new(struct capfsm_busy **);
void	 capfsm_busy_free(struct capfsm_busy *);

/*
 * The trust material: lsc holds the LSC issuer alone; mic holds the
 * store's "capf" trust rows plus the n certificate files in files (NULL
 * when there are none).  Build once, not per handshake.  Returns 0 or
 * UC_ERR_*; the caller frees both with X509_STORE_free.
 */
int	 capfsm_trust_load(struct store *, const char *const *, size_t,
	    X509 *, X509_STORE **, X509_STORE **);

#endif /* UCSEC_CAPFSM_H */
