/*
 * The embedded store shared by every daemon: devices, CAPF operations,
 * issued certificates and trust stores.  One SQLite file in WAL mode;
 * the schema is versioned (PRAGMA user_version) and migrated forward on
 * open.  Every state change is one transaction.  Auth strings are kept
 * only as salted PBKDF2 hashes (lib/pwhash.h).
 *
 * All functions return 0 or a negative UC_ERR_* with uc_errdetail() set;
 * a missing row is UC_ERR_NOTFOUND.  A struct store is used by one thread
 * at a time.  The interface is the seam for a later PostgreSQL backend,
 * so nothing SQLite-specific leaks through it.
 */
#ifndef UCSEC_STORE_H
#define UCSEC_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define STORE_NAME_MAX	64	/* device name incl. NUL */
#define STORE_REASON_MAX 128
#define STORE_HASH_MAX	160	/* encoded password hash incl. NUL */
#define STORE_SCHEMA	2	/* current schema version */

#define STORE_RDONLY	0x01
#define STORE_CREATE	0x02	/* create the file (mode 0600) if missing */

enum store_proto { STORE_PROTO_SIP = 0, STORE_PROTO_SCCP = 1 };
enum store_secmode {
	STORE_SEC_NONSECURE = 0,
	STORE_SEC_AUTHENTICATED = 1,
	STORE_SEC_ENCRYPTED = 2
};

enum capf_op {
	CAPF_OP_NONE = 0,
	CAPF_OP_INSTALL = 1,
	CAPF_OP_FETCH = 2,
	CAPF_OP_DELETE = 3
};

enum capf_auth {
	CAPF_AUTH_NONE = 0,		/* nothing checked */
	CAPF_AUTH_PASSWORD = 1,		/* auth string */
	CAPF_AUTH_LSC = 2,		/* existing LSC only */
	CAPF_AUTH_MIC = 3,		/* MIC (+SUDI) only */
	CAPF_AUTH_LSC_OR_MIC = 4	/* LSC, else MIC */
};

enum capf_status {
	CAPF_ST_PENDING = 0,	/* scheduled, not yet attempted */
	CAPF_ST_IN_PROGRESS = 1,/* a phone is in a session for it */
	CAPF_ST_SUCCESS = 2,	/* done; op is back to none */
	CAPF_ST_FAILED = 3,	/* last attempt failed (reason says why) */
	CAPF_ST_EXPIRED = 4	/* deadline passed */
};

struct store_device {
	char		 name[STORE_NAME_MAX];
	int		 proto;		/* enum store_proto */
	int		 secmode;	/* enum store_secmode */
	char		 description[STORE_REASON_MAX];
};

struct capf_task {
	char		 device[STORE_NAME_MAX];
	int		 op;		/* enum capf_op */
	int		 auth;		/* enum capf_auth */
	int		 key_type;	/* 0 RSA, 1 EC (capfmsg.h values) */
	int		 key_bits;	/* RSA: 1024/2048/3072/4096 */
	int		 curve;		/* EC: 0 P-256, 1 P-384, 2 P-521 */
	int64_t		 deadline;	/* unix time; 0 = none */
	int		 status;	/* enum capf_status */
	char		 reason[STORE_REASON_MAX];
	int		 attempts;	/* sessions that reached the op */
	int		 auth_fails;	/* consecutive wrong auth strings */
	int64_t		 locked_until;	/* unix time; 0 = not locked */
	int64_t		 updated;	/* unix time of the last change */
	char		 pwhash[STORE_HASH_MAX]; /* "" when no auth string */
};

enum store_cert_state {
	STORE_CERT_ISSUED = 0,	/* committed, sent to the phone */
	STORE_CERT_INSTALLED = 1,/* the phone confirmed it */
	STORE_CERT_FETCHED = 2,	/* read back from the phone */
	STORE_CERT_DELETED = 3	/* the phone deleted it */
};

struct store_cert {
	char		 serial[80];	/* hex, upper case, no separators */
	char		 device[STORE_NAME_MAX];
	int		 state;		/* enum store_cert_state */
	int64_t		 not_before;
	int64_t		 not_after;
	int64_t		 issued;	/* when the row was written */
	char		 issuer[256];	/* RFC 4514 text */
	char		*pem;		/* malloc'd; store_cert_clear frees */
};

struct store_trust {
	char		 store[32];	/* "capf", "callmanager", ... */
	char		 sha256[65];	/* hex fingerprint, lower case */
	char		 subject[256];
	int64_t		 not_after;
	char		*pem;		/* malloc'd; store_trust_clear frees */
};

struct store;

int	 store_open(const char *, int, struct store **);
void	 store_close(struct store *);
int	 store_schema_version(struct store *);

/* Devices. put = insert or update. */
int	 store_device_put(struct store *, const struct store_device *);
int	 store_device_get(struct store *, const char *, struct store_device *);
int	 store_device_del(struct store *, const char *);

/*
 * CAPF operations, one per device.  task_put creates the device row if
 * it is missing (SCCP/non-secure defaults), replaces the operation and
 * resets status to pending, attempts and lockout to zero.  password NULL
 * keeps the stored hash, "" clears it, else it is hashed.
 */
int	 store_capf_put(struct store *, const struct capf_task *, const char *);
/*
 * The same with an encoded hash from pwhash_make (NULL keeps, "" clears),
 * so a bulk import hashes first and holds the write lock only briefly.
 */
int	 store_capf_put_hashed(struct store *, const struct capf_task *,
	    const char *);
int	 store_capf_get(struct store *, const char *, struct capf_task *);
int	 store_capf_del(struct store *, const char *);
/* Callback per task in name order; a non-zero return stops the walk. */
int	 store_capf_list(struct store *,
	    int (*)(const struct capf_task *, void *), void *);
/* Session start: attempts++, status in-progress. */
int	 store_capf_begin(struct store *, const char *, int64_t);
/* A wrong auth string: auth_fails++; at max, lock for secs from now. */
int	 store_capf_auth_fail(struct store *, const char *, int, int, int64_t,
	    int *);
int	 store_capf_auth_ok(struct store *, const char *);
/* End of a session that did not complete: status + reason. */
int	 store_capf_finish(struct store *, const char *, int, const char *,
	    int64_t);
/* Unlock a locked-out device (admin). */
int	 store_capf_unlock(struct store *, const char *);
/* Mark expired every pending task whose deadline is before now. */
int	 store_capf_expire(struct store *, int64_t, int *);
/* Start-up: tasks in progress (a crash) back to pending; how many. */
int	 store_capf_reset_in_progress(struct store *, int64_t, int *);
/* Bulk import: begin/commit around many puts (one transaction). */
int	 store_begin(struct store *);
int	 store_commit(struct store *);
int	 store_rollback(struct store *);

/*
 * Certificates.  cert_add commits an issued certificate (state issued)
 * before it is sent.  cert_installed marks it installed AND sets the
 * device's op to none / status success in the same transaction.
 * cert_fetched records a certificate read from a phone (op -> none).
 * cert_deleted marks the device's certificates deleted (op -> none).
 */
int	 store_cert_add(struct store *, const struct store_cert *);
int	 store_cert_installed(struct store *, const char *, const char *,
	    int64_t);
int	 store_cert_fetched(struct store *, const struct store_cert *, int64_t);
int	 store_cert_deleted(struct store *, const char *, int64_t);
/* The device's newest installed (else issued) certificate. */
int	 store_cert_current(struct store *, const char *, struct store_cert *);
int	 store_cert_get(struct store *, const char *, struct store_cert *);
int	 store_cert_list(struct store *, const char *,
	    int (*)(const struct store_cert *, void *), void *);
int	 store_cert_count(struct store *, const char *, int *);
void	 store_cert_clear(struct store_cert *);

/* Trust stores: named sets of certificates (PEM), keyed by SHA-256. */
int	 store_trust_add(struct store *, const struct store_trust *);
int	 store_trust_del(struct store *, const char *, const char *);
int	 store_trust_list(struct store *, const char *,
	    int (*)(const struct store_trust *, void *), void *);
void	 store_trust_clear(struct store_trust *);

const char *capf_op_name(int);
const char *capf_auth_name(int);
const char *capf_status_name(int);
const char *store_cert_state_name(int);
int	 capf_op_parse(const char *, int *);
int	 capf_auth_parse(const char *, int *);
/* "rsa:2048", "ec:P-256": key_type, key_bits, curve. */
int	 capf_keyspec_parse(const char *, int *, int *, int *);
int	 capf_keyspec_text(int, int, int, char *, size_t);

/*
 * Call control (schema 2).  Device SIP settings live beside the device
 * row; digest users keep only sealed HA1 values (lib/seal.h, aad
 * "user\0realm\0ALG"); trunk outgoing credentials are sealed the same
 * way (aad "trunk\0name\0realm").  Registrations are written behind
 * by ccmd so that ccmctl can list them.
 *
 * Text fields: device and trunk names as for devices; an extension or
 * prefix is [0-9A-Za-z+*#._-]; a digest user name printable ASCII
 * without space, '"' or '\\'; a realm the same with spaces allowed.  A
 * sealed value must be "" or sealed text ("s1:..."): the store refuses
 * a plain HA1 or password.  Every walk (the _list functions) calls fn
 * per row with a read transaction open: fn may read the store but
 * should not write to it; a non-zero return from fn stops the walk and
 * is returned.
 */
#define STORE_EXT_MAX	32
#define STORE_SEALED_MAX 160	/* a sealed HA1 incl. NUL */

/* Feature flags: trunk profiles and application users (spec 5). */
#define STORE_F_OOD_REFER	0x01	/* accept out-of-dialog REFER */
#define STORE_F_UNSOL_NOTIFY	0x02	/* accept unsolicited NOTIFY */
#define STORE_F_REPLACES	0x04	/* accept INVITE with Replaces */
#define STORE_F_PRESENCE	0x08	/* accept presence SUBSCRIBE */
#define STORE_F_TX_SECURITY	0x10	/* transmit security status */
#define STORE_F_ALL		0x1f

struct store_sipdev {
	char		 name[STORE_NAME_MAX];
	int		 proto;			/* enum store_proto */
	int		 secmode;		/* enum store_secmode */
	char		 extension[STORE_EXT_MAX];	/* "" none */
	char		 digest_user[64];	/* "" none: no digest */
	char		 presence_group[64];	/* "" = "Standard" */
	char		 digest_algs[48];	/* "MD5" / "SHA-256,MD5": the
						   challenges this device gets;
						   "" = ccmd's digest_algorithms */
};

struct store_duser {
	char		 username[64];
	char		 realm[128];
	char		 ha1_md5[STORE_SEALED_MAX];	/* sealed; "" none */
	char		 ha1_sha256[STORE_SEALED_MAX];
	char		 ha1_sha512_256[STORE_SEALED_MAX];
	int		 flags;			/* STORE_F_*: app-level */
	int64_t		 changed;
};

enum store_transport { STORE_TP_UDP = 0, STORE_TP_TCP = 1, STORE_TP_TLS = 2 };

struct store_trunk {
	char		 name[STORE_NAME_MAX];
	char		 peer[256];		/* host or address */
	int		 port;			/* 0 = 5060/5061 */
	int		 transport;		/* enum store_transport */
	int		 secmode;		/* enum store_secmode */
	int		 digest;		/* challenge incoming */
	int		 nonce_validity;	/* s; 0 = default */
	char		 x509_subject[256];	/* expected peer name */
	int		 flags;			/* STORE_F_* */
	char		 prefix[STORE_EXT_MAX];	/* dialled numbers routed */
	char		 out_realm[128];	/* answer challenges for */
	char		 out_user[64];
	char		 out_secret[STORE_SEALED_MAX]; /* sealed password */
	char		 digest_algs[48];	/* challenges sent to the peer;
						   "" = ccmd's digest_algorithms */
	char		 out_min_alg[16];	/* weakest algorithm we answer
						   with ("" = MD5) */
};

struct store_reg {
	char		 aor[STORE_EXT_MAX];
	char		 device[STORE_NAME_MAX];
	char		 contact[256];
	char		 transport[8];		/* "udp", "tcp", "tls" */
	char		 source[64];
	char		 cert_subject[256];
	int64_t		 expires;		/* unix time it ends */
};

/*
 * sipdev_put creates the device row or updates its proto, secmode and
 * SIP settings (the description, CAPF task and certificates stay).  An
 * extension already used by another device is UC_ERR_ARG.
 */
int	 store_sipdev_put(struct store *, const struct store_sipdev *);
int	 store_sipdev_get(struct store *, const char *, struct store_sipdev *);
/* The device whose line is this extension (not ""). */
int	 store_sipdev_by_ext(struct store *, const char *,
	    struct store_sipdev *);
/* Every device, with SIP settings or without, by name. */
int	 store_sipdev_list(struct store *,
	    int (*)(const struct store_sipdev *, void *), void *);

/* Insert or replace a digest user; at least one HA1; changed 0 = now. */
int	 store_duser_put(struct store *, const struct store_duser *);
/* By (username, realm); UC_ERR_NOTFOUND if there is none. */
int	 store_duser_get(struct store *, const char *, const char *,
	    struct store_duser *);
int	 store_duser_del(struct store *, const char *, const char *);
/* By realm, then username. */
int	 store_duser_list(struct store *,
	    int (*)(const struct store_duser *, void *), void *);

/* Insert or replace a trunk; out_secret needs out_realm and out_user.
   list: by name. */
int	 store_trunk_put(struct store *, const struct store_trunk *);
int	 store_trunk_get(struct store *, const char *, struct store_trunk *);
int	 store_trunk_del(struct store *, const char *);
int	 store_trunk_list(struct store *,
	    int (*)(const struct store_trunk *, void *), void *);

/*
 * A number that changes whenever another connection (ccmctl) committed
 * a change (SQLite's data_version): callers keep caches of rows and
 * drop them when it moves.  Cheap (no disk I/O); 0 on error.
 */
uint64_t store_generation(struct store *);

/* Replace every registration row with these (one transaction). */
int	 store_reg_replace(struct store *, const struct store_reg *, size_t);
/* By aor, device, contact. */
int	 store_reg_list(struct store *,
	    int (*)(const struct store_reg *, void *), void *);

/* "nonsecure", "authenticated", "encrypted"; "udp", "tcp", "tls"; "sip",
   "sccp".  Parsers ignore case and set the detail line on failure. */
const char *store_secmode_name(int);
int	 store_secmode_parse(const char *, int *);
const char *store_proto_name(int);
int	 store_proto_parse(const char *, int *);
const char *store_transport_name(int);
int	 store_transport_parse(const char *, int *);

#endif /* UCSEC_STORE_H */
