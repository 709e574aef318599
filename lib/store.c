/*
 * The embedded store on SQLite 3; see store.h for the contract.
 *
 * One database file in WAL mode (synchronous=NORMAL: a commit survives a
 * process crash; a power cut may lose the last few), foreign keys on, a
 * busy timeout so capfd and capfctl can share the file.  The schema is
 * migrated forward on open inside one BEGIN IMMEDIATE transaction, so two
 * processes opening a fresh file cannot both migrate it.
 *
 * Every statement is prepared once per connection with bound parameters
 * and cached in struct store (capfd runs the same few per session).  A
 * state change runs in its own BEGIN IMMEDIATE transaction, or, inside a
 * store_begin() bulk transaction, in a savepoint, so one failed call in a
 * bulk import leaves the rest of the import intact and the caller chooses
 * commit or rollback.
 *
 * Deleting a device deletes its task and certificate rows (ON DELETE
 * CASCADE).  Certificate serials are unique in the store (our serials
 * are random 20-byte values; a fetched certificate with a serial already
 * stored replaces that row, but one already installed on that device
 * stays installed: the fetch confirms it).
 *
 * Schema 2 adds call control: SIP settings as columns of the device row
 * (an extension is unique among devices that have one: a partial
 * unique index), digest users keyed by (username, realm) holding only
 * sealed HA1 values, trunks, and the registrations ccmd writes behind.
 * Registrations do not reference devices: ccmd replaces them all in one
 * transaction and must not fail because an admin removed a device.
 *
 * XXX store_capf_put hashes an auth string (PBKDF2, milliseconds) before
 * taking the write lock, but inside store_begin() the lock is already
 * held: a bulk import of many auth strings blocks other writers for
 * the whole import.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <sqlite3.h>

#include "capfmsg.h"
#include "pwhash.h"
#include "store.h"
#include "uerr.h"

#define STORE_BUSY_MS	5000		/* wait this long for another writer */
#define STORE_APP_ID	0x75637365	/* PRAGMA application_id: "ucse" */
#define STORE_PEM_MAX	(64 * 1024)	/* one PEM certificate, generously */
#define STORE_SERIAL_MAX 80		/* store_cert serial, incl. NUL */
#define STORE_LIST_BATCH 64		/* tasks read per query in a walk */
#define ALG_CHARS	"ABCDEFGHIJKLMNOPQRSTUVWXYZ" \
			"abcdefghijklmnopqrstuvwxyz0123456789-"

/*
 * Schema migrations: migrations[i] takes user_version i to i + 1.
 * Constant text only; never edit a released entry, append a new one.
 */
static const char *const migrations[] = {
	/* 0 -> 1 */
	"PRAGMA application_id = 1969451877;"	/* STORE_APP_ID */
	"CREATE TABLE devices ("
	"  name TEXT PRIMARY KEY NOT NULL,"
	"  proto INTEGER NOT NULL DEFAULT 1,"
	"  secmode INTEGER NOT NULL DEFAULT 0,"
	"  description TEXT NOT NULL DEFAULT '');"
	"CREATE TABLE capf_tasks ("
	"  device TEXT PRIMARY KEY NOT NULL"
	"    REFERENCES devices(name) ON DELETE CASCADE,"
	"  op INTEGER NOT NULL,"
	"  auth INTEGER NOT NULL,"
	"  key_type INTEGER NOT NULL,"
	"  key_bits INTEGER NOT NULL,"
	"  curve INTEGER NOT NULL,"
	"  deadline INTEGER NOT NULL DEFAULT 0,"
	"  status INTEGER NOT NULL DEFAULT 0,"
	"  reason TEXT NOT NULL DEFAULT '',"
	"  attempts INTEGER NOT NULL DEFAULT 0,"
	"  auth_fails INTEGER NOT NULL DEFAULT 0,"
	"  locked_until INTEGER NOT NULL DEFAULT 0,"
	"  updated INTEGER NOT NULL DEFAULT 0,"
	"  pwhash TEXT NOT NULL DEFAULT '');"
	"CREATE INDEX capf_tasks_deadline ON capf_tasks(deadline)"
	"  WHERE deadline != 0;"
	"CREATE TABLE certificates ("
	"  serial TEXT PRIMARY KEY NOT NULL,"
	"  device TEXT NOT NULL"
	"    REFERENCES devices(name) ON DELETE CASCADE,"
	"  state INTEGER NOT NULL,"
	"  not_before INTEGER NOT NULL,"
	"  not_after INTEGER NOT NULL,"
	"  issued INTEGER NOT NULL,"
	"  issuer TEXT NOT NULL,"
	"  pem TEXT NOT NULL);"
	"CREATE INDEX certificates_device ON certificates(device, issued);"
	"CREATE TABLE trust ("
	"  store TEXT NOT NULL,"
	"  sha256 TEXT NOT NULL,"
	"  subject TEXT NOT NULL,"
	"  not_after INTEGER NOT NULL,"
	"  pem TEXT NOT NULL,"
	"  PRIMARY KEY (store, sha256));",
	/* 1 -> 2: call control */
	"ALTER TABLE devices ADD COLUMN extension TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE devices ADD COLUMN digest_user TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE devices ADD COLUMN presence_group TEXT NOT NULL "
	"  DEFAULT '';"
	"ALTER TABLE devices ADD COLUMN digest_algs TEXT NOT NULL "
	"  DEFAULT '';"
	"CREATE UNIQUE INDEX devices_extension ON devices(extension)"
	"  WHERE extension != '';"
	"CREATE TABLE digest_users ("
	"  username TEXT NOT NULL,"
	"  realm TEXT NOT NULL,"
	"  ha1_md5 TEXT NOT NULL DEFAULT '',"
	"  ha1_sha256 TEXT NOT NULL DEFAULT '',"
	"  ha1_sha512_256 TEXT NOT NULL DEFAULT '',"
	"  flags INTEGER NOT NULL DEFAULT 0,"
	"  changed INTEGER NOT NULL DEFAULT 0,"
	"  PRIMARY KEY (username, realm));"
	"CREATE TABLE trunks ("
	"  name TEXT PRIMARY KEY NOT NULL,"
	"  peer TEXT NOT NULL,"
	"  port INTEGER NOT NULL DEFAULT 0,"
	"  transport INTEGER NOT NULL,"
	"  secmode INTEGER NOT NULL DEFAULT 0,"
	"  digest INTEGER NOT NULL DEFAULT 0,"
	"  nonce_validity INTEGER NOT NULL DEFAULT 0,"
	"  x509_subject TEXT NOT NULL DEFAULT '',"
	"  flags INTEGER NOT NULL DEFAULT 0,"
	"  prefix TEXT NOT NULL DEFAULT '',"
	"  out_realm TEXT NOT NULL DEFAULT '',"
	"  out_user TEXT NOT NULL DEFAULT '',"
	"  out_secret TEXT NOT NULL DEFAULT '',"
	"  digest_algs TEXT NOT NULL DEFAULT '',"
	"  out_min_alg TEXT NOT NULL DEFAULT '');"
	/* Written behind by ccmd: no key, no reference to devices. */
	"CREATE TABLE registrations ("
	"  aor TEXT NOT NULL,"
	"  device TEXT NOT NULL,"
	"  contact TEXT NOT NULL,"
	"  transport TEXT NOT NULL,"
	"  source TEXT NOT NULL DEFAULT '',"
	"  cert_subject TEXT NOT NULL DEFAULT '',"
	"  expires INTEGER NOT NULL);"
	"CREATE INDEX registrations_aor ON registrations(aor);",
};
#define MIGRATIONS	(int)(sizeof(migrations) / sizeof(migrations[0]))

#define TASK_COLS	"device, op, auth, key_type, key_bits, curve, " \
			"deadline, status, reason, attempts, auth_fails, " \
			"locked_until, updated, pwhash"
#define CERT_COLS	"serial, device, state, not_before, not_after, " \
			"issued, issuer, pem"
#define TRUST_COLS	"store, sha256, subject, not_after, pem"
#define SIPDEV_COLS	"name, proto, secmode, extension, digest_user, " \
			"presence_group, digest_algs"
#define DUSER_COLS	"username, realm, ha1_md5, ha1_sha256, " \
			"ha1_sha512_256, flags, changed"
#define TRUNK_COLS	"name, peer, port, transport, secmode, digest, " \
			"nonce_validity, x509_subject, flags, prefix, " \
			"out_realm, out_user, out_secret, digest_algs, " \
			"out_min_alg"
#define REG_COLS	"aor, device, contact, transport, source, " \
			"cert_subject, expires"

/* The cached statements. */
enum st_id {
	ST_BEGIN,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_SAVEPOINT,
	ST_RELEASE,
	ST_ROLLBACK_TO,
	ST_DEV_PUT,
	ST_DEV_ENSURE,
	ST_DEV_GET,
	ST_DEV_DEL,
	ST_CAPF_PUT,
	ST_CAPF_GET,
	ST_CAPF_LIST,
	ST_CAPF_DEL,
	ST_CAPF_BEGIN,
	ST_CAPF_FAILS,
	ST_CAPF_FAIL_SET,
	ST_CAPF_AUTH_OK,
	ST_CAPF_FINISH,
	ST_CAPF_UNLOCK,
	ST_CAPF_EXPIRE,
	ST_CAPF_RESET,
	ST_CAPF_DONE,
	ST_CERT_ADD,
	ST_CERT_INSTALLED,
	ST_CERT_FETCHED,
	ST_CERT_DELETED,
	ST_CERT_CURRENT,
	ST_CERT_GET,
	ST_CERT_COUNT,
	ST_TRUST_ADD,
	ST_TRUST_DEL,
	ST_SIPDEV_PUT,
	ST_SIPDEV_GET,
	ST_SIPDEV_BY_EXT,
	ST_EXT_OWNER,
	ST_DUSER_PUT,
	ST_DUSER_GET,
	ST_DUSER_DEL,
	ST_TRUNK_PUT,
	ST_TRUNK_GET,
	ST_TRUNK_DEL,
	ST_REG_CLEAR,
	ST_REG_ADD,
	ST_DATA_VERSION,
	ST__MAX
};

static const char *const st_sql[ST__MAX] = {
	[ST_BEGIN] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	[ST_SAVEPOINT] = "SAVEPOINT store_op",
	[ST_RELEASE] = "RELEASE store_op",
	[ST_ROLLBACK_TO] = "ROLLBACK TO store_op",
	[ST_DEV_PUT] = "INSERT INTO devices (name, proto, secmode, "
	    "description) VALUES (?1, ?2, ?3, ?4) ON CONFLICT (name) DO "
	    "UPDATE SET proto = excluded.proto, secmode = excluded.secmode, "
	    "description = excluded.description",
	[ST_DEV_ENSURE] = "INSERT INTO devices (name, proto, secmode, "
	    "description) VALUES (?1, 1, 0, '') ON CONFLICT (name) DO NOTHING",
	[ST_DEV_GET] = "SELECT name, proto, secmode, description FROM devices "
	    "WHERE name = ?1",
	[ST_DEV_DEL] = "DELETE FROM devices WHERE name = ?1",
	[ST_CAPF_PUT] = "INSERT INTO capf_tasks (" TASK_COLS ") VALUES "
	    "(?1, ?2, ?3, ?4, ?5, ?6, ?7, 0, '', 0, 0, 0, ?8, "
	    "coalesce(?9, '')) ON CONFLICT (device) DO UPDATE SET "
	    "op = excluded.op, auth = excluded.auth, "
	    "key_type = excluded.key_type, key_bits = excluded.key_bits, "
	    "curve = excluded.curve, deadline = excluded.deadline, "
	    "status = 0, reason = '', attempts = 0, auth_fails = 0, "
	    "locked_until = 0, updated = excluded.updated, "
	    "pwhash = coalesce(?9, pwhash)",
	[ST_CAPF_GET] = "SELECT " TASK_COLS " FROM capf_tasks "
	    "WHERE device = ?1",
	[ST_CAPF_LIST] = "SELECT " TASK_COLS " FROM capf_tasks "
	    "WHERE device > ?1 ORDER BY device LIMIT ?2",
	[ST_CAPF_DEL] = "DELETE FROM capf_tasks WHERE device = ?1",
	[ST_CAPF_BEGIN] = "UPDATE capf_tasks SET attempts = attempts + 1, "
	    "status = 1, updated = ?2 WHERE device = ?1",
	[ST_CAPF_FAILS] = "SELECT auth_fails, locked_until FROM capf_tasks "
	    "WHERE device = ?1",
	[ST_CAPF_FAIL_SET] = "UPDATE capf_tasks SET auth_fails = ?2, "
	    "locked_until = ?3, updated = ?4 WHERE device = ?1",
	[ST_CAPF_AUTH_OK] = "UPDATE capf_tasks SET auth_fails = 0 "
	    "WHERE device = ?1",
	[ST_CAPF_FINISH] = "UPDATE capf_tasks SET status = ?2, reason = ?3, "
	    "updated = ?4 WHERE device = ?1",
	[ST_CAPF_UNLOCK] = "UPDATE capf_tasks SET auth_fails = 0, "
	    "locked_until = 0 WHERE device = ?1",
	[ST_CAPF_EXPIRE] = "UPDATE capf_tasks SET status = 4, "
	    "reason = 'deadline passed', updated = ?1 "
	    "WHERE status IN (0, 1, 3) AND deadline != 0 AND deadline < ?1",
	[ST_CAPF_RESET] = "UPDATE capf_tasks SET status = 0, "
	    "reason = 'interrupted (capfd restarted)', updated = ?1 "
	    "WHERE status = 1",
	[ST_CAPF_DONE] = "UPDATE capf_tasks SET op = 0, status = 2, "
	    "reason = '', auth_fails = 0, updated = ?2 WHERE device = ?1",
	[ST_CERT_ADD] = "INSERT INTO certificates (" CERT_COLS ") VALUES "
	    "(?1, ?2, 0, ?3, ?4, ?5, ?6, ?7)",
	[ST_CERT_INSTALLED] = "UPDATE certificates SET state = 1 "
	    "WHERE serial = ?1 AND device = ?2",
	/*
	 * A fetch of the very certificate on record for that phone keeps
	 * its row (installed stays installed: the fetch confirms it).  A
	 * serial on record for another device, or with other contents,
	 * changes nothing (the caller sees no change and refuses): a phone
	 * must not rewrite or take over another certificate's record.
	 */
	[ST_CERT_FETCHED] = "INSERT INTO certificates (" CERT_COLS ") VALUES "
	    "(?1, ?2, 2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (serial) DO UPDATE "
	    "SET state = CASE WHEN state = 1 THEN 1 ELSE 2 END "
	    "WHERE certificates.device = excluded.device AND "
	    "certificates.pem = excluded.pem",
	[ST_CERT_DELETED] = "UPDATE certificates SET state = 3 "
	    "WHERE device = ?1 AND state != 3",
	[ST_CERT_CURRENT] = "SELECT " CERT_COLS " FROM certificates "
	    "WHERE device = ?1 AND state IN (0, 1) "
	    "ORDER BY state = 1 DESC, issued DESC, rowid DESC LIMIT 1",
	[ST_CERT_GET] = "SELECT " CERT_COLS " FROM certificates "
	    "WHERE serial = ?1",
	[ST_CERT_COUNT] = "SELECT count(*) FROM certificates "
	    "WHERE ?1 IS NULL OR device = ?1",
	[ST_TRUST_ADD] = "INSERT INTO trust (" TRUST_COLS ") VALUES "
	    "(?1, ?2, ?3, ?4, ?5) ON CONFLICT (store, sha256) DO UPDATE SET "
	    "subject = excluded.subject, not_after = excluded.not_after, "
	    "pem = excluded.pem",
	[ST_TRUST_DEL] = "DELETE FROM trust WHERE store = ?1 AND sha256 = ?2",
	[ST_SIPDEV_PUT] = "INSERT INTO devices (name, proto, secmode, "
	    "description, extension, digest_user, presence_group, "
	    "digest_algs) VALUES (?1, ?2, ?3, '', ?4, ?5, ?6, ?7) "
	    "ON CONFLICT (name) DO UPDATE SET "
	    "proto = excluded.proto, secmode = excluded.secmode, "
	    "extension = excluded.extension, "
	    "digest_user = excluded.digest_user, "
	    "presence_group = excluded.presence_group, "
	    "digest_algs = excluded.digest_algs",
	[ST_SIPDEV_GET] = "SELECT " SIPDEV_COLS " FROM devices "
	    "WHERE name = ?1",
	/*
	 * "extension != ''" lets SQLite use the partial unique index
	 * (it cannot prove that of a bound ?1): without it, a scan.
	 */
	[ST_SIPDEV_BY_EXT] = "SELECT " SIPDEV_COLS " FROM devices "
	    "WHERE extension = ?1 AND extension != ''",
	[ST_EXT_OWNER] = "SELECT name FROM devices WHERE extension = ?1 "
	    "AND extension != '' AND name != ?2",
	[ST_DUSER_PUT] = "INSERT OR REPLACE INTO digest_users (" DUSER_COLS
	    ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	[ST_DUSER_GET] = "SELECT " DUSER_COLS " FROM digest_users "
	    "WHERE username = ?1 AND realm = ?2",
	[ST_DUSER_DEL] = "DELETE FROM digest_users WHERE username = ?1 "
	    "AND realm = ?2",
	[ST_TRUNK_PUT] = "INSERT OR REPLACE INTO trunks (" TRUNK_COLS
	    ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, "
	    "?14, ?15)",
	[ST_TRUNK_GET] = "SELECT " TRUNK_COLS " FROM trunks WHERE name = ?1",
	[ST_TRUNK_DEL] = "DELETE FROM trunks WHERE name = ?1",
	[ST_REG_CLEAR] = "DELETE FROM registrations",
	[ST_REG_ADD] = "INSERT INTO registrations (" REG_COLS ") VALUES "
	    "(?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	[ST_DATA_VERSION] = "PRAGMA data_version",
};

struct store {
	sqlite3		*db;
	char		*path;		/* for messages */
	int		 flags;		/* STORE_* */
	int		 version;	/* schema version after open */
	int		 in_tx;		/* store_begin() transaction open */
	int		 tx_lost;	/* ... and SQLite rolled it back */
	sqlite3_stmt	*st[ST__MAX];
};

static const char *const op_names[] = {
	"none", "install", "fetch", "delete",
};
static const char *const auth_names[] = {
	"none", "password", "lsc", "mic", "lsc-or-mic",
};
static const char *const status_names[] = {
	"pending", "in-progress", "success", "failed", "expired",
};
static const char *const cert_state_names[] = {
	"issued", "installed", "fetched", "deleted",
};
static const char *const secmode_names[] = {
	"nonsecure", "authenticated", "encrypted",
};
static const char *const transport_names[] = {
	"udp", "tcp", "tls",
};
static const char *const proto_names[] = {
	"sip", "sccp",
};
#define NELEM(a)	(int)(sizeof(a) / sizeof((a)[0]))

static const int rsa_bits[] = { 1024, 2048, 3072, 4096 };

/* Accepted curve names, by CAPF curve value (capf-protocol.md 6.4). */
static const struct {
	const char	*name;
	int		 curve;
} curve_names[] = {
	{ "P-256", CAPF_CURVE_P256 },
	{ "P-384", CAPF_CURVE_P384 },
	{ "P-521", CAPF_CURVE_P521 },
	{ "prime256v1", CAPF_CURVE_P256 },
	{ "secp256r1", CAPF_CURVE_P256 },
	{ "secp384r1", CAPF_CURVE_P384 },
	{ "secp521r1", CAPF_CURVE_P521 },
};

/*
 * Set the detail line from the connection's last error: "store PATH:
 * what: SQLite's message".  Returns the matching UC_ERR_* code.
 */
static int __attribute__((format(printf, 2, 3)))
sqlerr(struct store *s, const char *fmt, ...)
{
	char	 what[256];
	va_list	 ap;
	int	 code, rc;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	rc = sqlite3_extended_errcode(s->db);
	switch (rc & 0xff) {
	case SQLITE_NOMEM:
		code = UC_ERR_ALLOC;
		break;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		code = UC_ERR_FORMAT;
		break;
	case SQLITE_CONSTRAINT:
		code = rc == SQLITE_CONSTRAINT_FOREIGNKEY ? UC_ERR_NOTFOUND :
		    UC_ERR_ARG;
		break;
	default:
		code = UC_ERR_IO;
		break;
	}
	return uc_fail(code, "store %s: %s: %s", s->path, what,
	    sqlite3_errmsg(s->db));
}

/* The cached statement id, prepared on first use; NULL on failure. */
static sqlite3_stmt *
stmt(struct store *s, enum st_id id)
{
	if (s->st[id] == NULL &&
	    sqlite3_prepare_v3(s->db, st_sql[id], -1,
	    SQLITE_PREPARE_PERSISTENT, &s->st[id], NULL) != SQLITE_OK) {
		sqlerr(s, "preparing statement %d", (int)id);
		s->st[id] = NULL;
	}
	return s->st[id];
}

/* Make a statement reusable and drop its borrowed bindings. */
static void
st_done(sqlite3_stmt *st)
{
	if (st != NULL) {
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
	}
}

/*
 * Run a write statement whose bindings ended with rc.  *changes (if not
 * NULL) gets the rows changed.  Returns 0 or UC_ERR_*.
 */
static int
st_exec(struct store *s, sqlite3_stmt *st, int rc, int *changes,
    const char *what, const char *name)
{
	int	 r = 0;

	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		r = sqlerr(s, "%s%s%s", what, name[0] != '\0' ? " " : "",
		    name);
	else if (changes != NULL)
		*changes = sqlite3_changes(s->db);
	st_done(st);
	return r;
}

/* Run one cached statement binding only ?1 = name (may be NULL). */
static int
exec_name(struct store *s, enum st_id id, const char *name, int *changes,
    const char *what)
{
	sqlite3_stmt	*st;

	if ((st = stmt(s, id)) == NULL)
		return UC_ERR_IO;
	return st_exec(s, st, sqlite3_bind_text(st, 1, name, -1,
	    SQLITE_STATIC), changes, what, name != NULL ? name : "");
}

/* Run one cached statement binding ?1 = name, ?2 = t. */
static int
exec_name_time(struct store *s, enum st_id id, const char *name, int64_t t,
    int *changes, const char *what)
{
	sqlite3_stmt	*st;
	int		 rc;

	if ((st = stmt(s, id)) == NULL)
		return UC_ERR_IO;
	rc = sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, 2, t);
	return st_exec(s, st, rc, changes, what, name);
}

/* Run a parameterless cached statement (transaction control). */
static int
exec_plain(struct store *s, enum st_id id, const char *what)
{
	sqlite3_stmt	*st;

	if ((st = stmt(s, id)) == NULL)
		return UC_ERR_IO;
	return st_exec(s, st, SQLITE_OK, NULL, what, "");
}

/*
 * Start the transaction of one state change: BEGIN IMMEDIATE, or a
 * savepoint inside a store_begin() transaction.
 */
static int
tx_begin(struct store *s)
{
	if (s->flags & STORE_RDONLY)
		return uc_fail(UC_ERR_ARG, "store %s: opened read-only",
		    s->path);
	if (!s->in_tx)
		return exec_plain(s, ST_BEGIN, "begin transaction");
	if (s->tx_lost)
		return uc_fail(UC_ERR_IO, "store %s: the bulk transaction was "
		    "rolled back after an earlier error", s->path);
	return exec_plain(s, ST_SAVEPOINT, "savepoint");
}

/*
 * End the transaction tx_begin started: commit (or release) when r is 0,
 * else roll back keeping r and its detail line.  Returns the result.
 */
static int
tx_end(struct store *s, int r)
{
	char	 keep[512];

	if (r == 0)
		r = exec_plain(s, s->in_tx ? ST_RELEASE : ST_COMMIT, "commit");
	if (r == 0)
		return 0;
	snprintf(keep, sizeof(keep), "%s", uc_errdetail());
	if (sqlite3_get_autocommit(s->db)) {
		/* SQLite already rolled back (I/O error, out of memory). */
		if (s->in_tx)
			s->tx_lost = 1;
	} else if (s->in_tx) {
		exec_plain(s, ST_ROLLBACK_TO, "rollback to savepoint");
		exec_plain(s, ST_RELEASE, "release savepoint");
	} else
		exec_plain(s, ST_ROLLBACK, "rollback");
	uc_seterr("%s", keep);
	return r;
}

/*
 * A printable copy of untrusted text for a message: at most size - 1
 * bytes (the rest cut, marked "..."), bytes outside 0x20..0x7e as '?'.
 */
static const char *
safe_text(const char *in, char *out, size_t size)
{
	size_t	 i;

	if (in == NULL)
		in = "";
	for (i = 0; in[i] != '\0' && i + 1 < size; i++)
		out[i] = in[i] >= ' ' && in[i] <= '~' ? in[i] : '?';
	out[i] = '\0';
	if (in[i] != '\0' && size > 4)
		memcpy(out + size - 4, "...", 4);
	return out;
}

/* A device name: 1..STORE_NAME_MAX-1 printable ASCII, no spaces. */
static int
check_name(const char *name)
{
	char	 buf[40];
	size_t	 i, n;

	if (name == NULL || (n = strnlen(name, STORE_NAME_MAX)) == 0)
		return uc_fail(UC_ERR_ARG, "store: empty device name");
	if (n == STORE_NAME_MAX)
		return uc_fail(UC_ERR_ARG, "store: device name \"%s\" longer "
		    "than %d bytes", safe_text(name, buf, sizeof(buf)),
		    STORE_NAME_MAX - 1);
	for (i = 0; i < n; i++)
		if (name[i] <= ' ' || name[i] > '~')
			return uc_fail(UC_ERR_ARG, "store: device name \"%s\" "
			    "has a space or non-ASCII byte at offset %zu",
			    safe_text(name, buf, sizeof(buf)), i);
	return 0;
}

/* A NUL-terminated field of a fixed-size caller struct. */
static int
check_field(const char *v, size_t size, const char *what)
{
	if (strnlen(v, size) == size)
		return uc_fail(UC_ERR_ARG, "store: %s is not NUL-terminated",
		    what);
	return 0;
}

/* A certificate serial: upper-case hex, 1..79 digits. */
static int
check_serial(const char *serial)
{
	char	 buf[40];
	size_t	 i, n;

	if (serial == NULL || (n = strnlen(serial, STORE_SERIAL_MAX)) == 0 ||
	    n == STORE_SERIAL_MAX)
		return uc_fail(UC_ERR_ARG, "store: certificate serial must be "
		    "1..%d hex digits", STORE_SERIAL_MAX - 1);
	for (i = 0; i < n; i++)
		if (!((serial[i] >= '0' && serial[i] <= '9') ||
		    (serial[i] >= 'A' && serial[i] <= 'F')))
			return uc_fail(UC_ERR_ARG, "store: certificate serial "
			    "\"%s\" is not upper-case hex",
			    safe_text(serial, buf, sizeof(buf)));
	return 0;
}

/* A PEM text that is present and of sane size. */
static int
check_pem(const char *pem, const char *what)
{
	if (pem == NULL || pem[0] == '\0')
		return uc_fail(UC_ERR_ARG, "store: %s has no PEM", what);
	if (strnlen(pem, STORE_PEM_MAX + 1) > STORE_PEM_MAX)
		return uc_fail(UC_ERR_ARG, "store: %s PEM is larger than %d "
		    "bytes", what, STORE_PEM_MAX);
	return 0;
}

/* Copy text column i into buf of size bytes; too long is corruption. */
static int
col_text(struct store *s, sqlite3_stmt *st, int i, char *buf, size_t size)
{
	const unsigned char	*t;
	int			 n;

	t = sqlite3_column_text(st, i);
	n = sqlite3_column_bytes(st, i);
	if (t == NULL) {
		if (sqlite3_column_type(st, i) != SQLITE_NULL)
			return uc_fail(UC_ERR_ALLOC, "store %s: column %s",
			    s->path, sqlite3_column_name(st, i));
		buf[0] = '\0';
		return 0;
	}
	if (n < 0 || (size_t)n >= size)
		return uc_fail(UC_ERR_FORMAT, "store %s: column %s: %d bytes "
		    "exceeds the %zu-byte limit", s->path,
		    sqlite3_column_name(st, i), n, size - 1);
	memcpy(buf, t, (size_t)n);
	buf[n] = '\0';
	return 0;
}

/* Text column i as a new string (caller frees). */
static int
col_dup(struct store *s, sqlite3_stmt *st, int i, char **out)
{
	const unsigned char	*t;
	int			 n;

	*out = NULL;
	t = sqlite3_column_text(st, i);
	n = sqlite3_column_bytes(st, i);
	if (t == NULL)
		t = (const unsigned char *)"";
	if (n < 0 || (*out = malloc((size_t)n + 1)) == NULL)
		return uc_fail(UC_ERR_ALLOC, "store %s: column %s", s->path,
		    sqlite3_column_name(st, i));
	memcpy(*out, t, (size_t)n);
	(*out)[n] = '\0';
	return 0;
}

/*
 * Step a query expected to return at most one row.  Returns 0 with a
 * row, UC_ERR_NOTFOUND (detail: what name) without, or UC_ERR_*.
 */
static int
step_row(struct store *s, sqlite3_stmt *st, int rc, const char *what,
    const char *name)
{
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		return 0;
	if (rc == SQLITE_DONE)
		return uc_fail(UC_ERR_NOTFOUND, "store %s: %s %s not found",
		    s->path, what, name);
	return sqlerr(s, "%s %s", what, name);
}


/* Create the file (0600) if asked, then open the connection. */
static int
open_file(struct store *s)
{
	struct stat	 sb;
	int		 fd, oflags;

	if (s->flags & STORE_CREATE) {
		fd = open(s->path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOCTTY,
		    0600);
		if (fd == -1)
			return uc_fail(UC_ERR_IO, "store %s: %s", s->path,
			    strerror(errno));
		close(fd);
	}
	if (stat(s->path, &sb) == -1)
		return uc_fail(UC_ERR_IO, "store %s: %s", s->path,
		    strerror(errno));
	if (!S_ISREG(sb.st_mode))
		return uc_fail(UC_ERR_IO, "store %s: not a regular file",
		    s->path);
	oflags = (s->flags & STORE_RDONLY) ? SQLITE_OPEN_READONLY :
	    SQLITE_OPEN_READWRITE;
	if (sqlite3_open_v2(s->path, &s->db, oflags | SQLITE_OPEN_NOMUTEX,
	    NULL) != SQLITE_OK) {
		if (s->db == NULL)
			return uc_fail(UC_ERR_ALLOC, "store %s: open",
			    s->path);
		return sqlerr(s, "open");
	}
	sqlite3_extended_result_codes(s->db, 1);
	sqlite3_busy_timeout(s->db, STORE_BUSY_MS);
	return 0;
}

/* Run one constant SQL text (no user data). */
static int
exec_const(struct store *s, const char *sql, const char *what)
{
	if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return sqlerr(s, "%s", what);
	return 0;
}

/* One integer (or text, if buf) from a constant one-row query. */
static int
query_one(struct store *s, const char *sql, int *v, char *buf, size_t size)
{
	sqlite3_stmt	*st = NULL;
	int		 r;

	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
		return sqlerr(s, "%s", sql);
	if ((r = step_row(s, st, SQLITE_OK, "result of", sql)) == 0) {
		if (v != NULL)
			*v = sqlite3_column_int(st, 0);
		if (buf != NULL)
			r = col_text(s, st, 0, buf, size);
	}
	sqlite3_finalize(st);
	return r;
}

/* Foreign keys, WAL, synchronous=NORMAL. */
static int
configure(struct store *s)
{
	char	 mode[16];
	int	 r;

	if ((r = exec_const(s, "PRAGMA foreign_keys = ON",
	    "enabling foreign keys")) != 0)
		return r;
	if (s->flags & STORE_RDONLY)
		return 0;
	if ((r = query_one(s, "PRAGMA journal_mode = WAL", NULL, mode,
	    sizeof(mode))) != 0)
		return r;
	if (strcasecmp(mode, "wal") != 0)
		return uc_fail(UC_ERR_IO, "store %s: cannot switch to WAL "
		    "mode (journal mode is %s)", s->path, mode);
	return exec_const(s, "PRAGMA synchronous = NORMAL",
	    "setting synchronous mode");
}

/* Read the schema version and check that the file is ours. */
static int
read_version(struct store *s, int *version)
{
	int	 app, ntab, r;

	if ((r = query_one(s, "PRAGMA application_id", &app, NULL, 0)) != 0 ||
	    (r = query_one(s, "PRAGMA user_version", version, NULL, 0)) != 0 ||
	    (r = query_one(s, "SELECT count(*) FROM sqlite_master", &ntab,
	    NULL, 0)) != 0)
		return r;
	if (app != 0 && app != STORE_APP_ID)
		return uc_fail(UC_ERR_FORMAT, "store %s: not a ucsec store "
		    "(SQLite application_id %#x)", s->path, (unsigned)app);
	if (*version > STORE_SCHEMA)
		return uc_fail(UC_ERR_UNSUPPORTED, "store %s: schema version "
		    "%d is newer than version %d this program knows; use a "
		    "newer ucsec", s->path, *version, STORE_SCHEMA);
	if (*version < 0 || (*version == 0 && ntab > 0))
		return uc_fail(UC_ERR_FORMAT, "store %s: an SQLite database "
		    "but not a ucsec store (schema version %d)", s->path,
		    *version);
	return 0;
}

_Static_assert(MIGRATIONS == STORE_SCHEMA, "one migration per version");

/*
 * Bring the schema to STORE_SCHEMA.  The version is read again inside
 * the write transaction: another process may have migrated meanwhile.
 */
static int
migrate(struct store *s)
{
	char	 sql[64];
	int	 v, r;

	if ((r = read_version(s, &v)) != 0)
		return r;
	if (v < STORE_SCHEMA && (s->flags & STORE_RDONLY))
		return uc_fail(UC_ERR_FORMAT, "store %s: schema version %d "
		    "needs upgrading to %d; open it read-write first",
		    s->path, v, STORE_SCHEMA);
	if (v == STORE_SCHEMA) {
		s->version = v;
		return 0;
	}
	if ((r = exec_plain(s, ST_BEGIN, "begin migration")) != 0)
		return r;
	if ((r = read_version(s, &v)) == 0) {
		for (; v < STORE_SCHEMA && r == 0; v++) {
			snprintf(sql, sizeof(sql), "migrating schema to "
			    "version %d", v + 1);
			r = exec_const(s, migrations[v], sql);
		}
	}
	if (r == 0) {
		snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", v);
		r = exec_const(s, sql, "setting the schema version");
	}
	if ((r = tx_end(s, r)) == 0)
		s->version = v;
	return r;
}

/*
 * Open (STORE_CREATE: create, mode 0600) the store at path and migrate
 * its schema forward.  STORE_RDONLY opens read-only and refuses a file
 * that would need migrating.  A schema newer than this program knows is
 * UC_ERR_UNSUPPORTED, a file that is not a ucsec store UC_ERR_FORMAT.
 * *out is freed with store_close().
 */
int
store_open(const char *path, int flags, struct store **out)
{
	struct store	*s = NULL;
	int		 r;

	*out = NULL;
	if ((flags & ~(STORE_RDONLY | STORE_CREATE)) != 0 ||
	    (flags & (STORE_RDONLY | STORE_CREATE)) ==
	    (STORE_RDONLY | STORE_CREATE))
		return uc_fail(UC_ERR_ARG, "store %s: bad open flags %#x",
		    path, (unsigned)flags);
	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    (s->path = strdup(path)) == NULL) {
		free(s);
		return uc_fail(UC_ERR_ALLOC, "store %s: open", path);
	}
	s->flags = flags;
	if ((r = open_file(s)) != 0 || (r = configure(s)) != 0 ||
	    (r = migrate(s)) != 0) {
		store_close(s);
		return r;
	}
	*out = s;
	return 0;
}

/*
 * Close the store, rolling back a store_begin() transaction left open.
 * Accepts NULL.
 */
void
store_close(struct store *s)
{
	int	 i;

	if (s == NULL)
		return;
	for (i = 0; i < ST__MAX; i++)
		sqlite3_finalize(s->st[i]);
	if (s->db != NULL && !sqlite3_get_autocommit(s->db))
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_close(s->db);
	free(s->path);
	free(s);
}

/* The schema version of the open store (STORE_SCHEMA). */
int
store_schema_version(struct store *s)
{
	return s->version;
}

/*
 * Open a bulk transaction: until store_commit() or store_rollback(),
 * each state change runs in a savepoint of this one transaction (a
 * failed call undoes only itself).  Holds the write lock throughout:
 * other processes wait up to STORE_BUSY_MS, then fail.
 */
int
store_begin(struct store *s)
{
	int	 r;

	if (s->in_tx)
		return uc_fail(UC_ERR_INTERNAL, "store %s: a bulk transaction "
		    "is already open", s->path);
	if ((r = tx_begin(s)) != 0)
		return r;
	s->in_tx = 1;
	s->tx_lost = 0;
	return 0;
}

/* Commit the bulk transaction; on failure it is rolled back. */
int
store_commit(struct store *s)
{
	int	 r;

	if (!s->in_tx)
		return uc_fail(UC_ERR_INTERNAL, "store %s: commit without a "
		    "bulk transaction", s->path);
	if (s->tx_lost)
		r = uc_fail(UC_ERR_IO, "store %s: the bulk transaction was "
		    "rolled back after an earlier error", s->path);
	else
		r = exec_plain(s, ST_COMMIT, "commit");
	s->in_tx = 0;
	s->tx_lost = 0;
	if (r != 0)
		tx_end(s, r);
	return r;
}

/* Roll the bulk transaction back; 0 also when none is open. */
int
store_rollback(struct store *s)
{
	int	 r = 0;

	if (s->in_tx && !sqlite3_get_autocommit(s->db))
		r = exec_plain(s, ST_ROLLBACK, "rollback");
	s->in_tx = 0;
	s->tx_lost = 0;
	return r;
}

/* Insert or update a device.  Returns 0, UC_ERR_ARG, UC_ERR_IO. */
int
store_device_put(struct store *s, const struct store_device *d)
{
	sqlite3_stmt	*st;
	int		 r, rc;

	if ((r = check_name(d->name)) != 0 ||
	    (r = check_field(d->description, sizeof(d->description),
	    "device description")) != 0)
		return r;
	if ((d->proto != STORE_PROTO_SIP && d->proto != STORE_PROTO_SCCP) ||
	    d->secmode < STORE_SEC_NONSECURE ||
	    d->secmode > STORE_SEC_ENCRYPTED)
		return uc_fail(UC_ERR_ARG, "store: device %s: bad protocol %d "
		    "or security mode %d", d->name, d->proto, d->secmode);
	if ((r = tx_begin(s)) != 0)
		return r;
	if ((st = stmt(s, ST_DEV_PUT)) == NULL)
		r = UC_ERR_IO;
	else {
		rc = sqlite3_bind_text(st, 1, d->name, -1, SQLITE_STATIC);
		if (rc == SQLITE_OK)
			rc = sqlite3_bind_int(st, 2, d->proto);
		if (rc == SQLITE_OK)
			rc = sqlite3_bind_int(st, 3, d->secmode);
		if (rc == SQLITE_OK)
			rc = sqlite3_bind_text(st, 4, d->description, -1,
			    SQLITE_STATIC);
		r = st_exec(s, st, rc, NULL, "put device", d->name);
	}
	return tx_end(s, r);
}

/* The device name into *d.  UC_ERR_NOTFOUND if there is none. */
int
store_device_get(struct store *s, const char *name, struct store_device *d)
{
	sqlite3_stmt	*st;
	int		 r;

	memset(d, 0, sizeof(*d));
	if ((r = check_name(name)) != 0)
		return r;
	if ((st = stmt(s, ST_DEV_GET)) == NULL)
		return UC_ERR_IO;
	r = step_row(s, st, sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC),
	    "device", name);
	if (r == 0 && (r = col_text(s, st, 0, d->name, sizeof(d->name))) == 0 &&
	    (r = col_text(s, st, 3, d->description,
	    sizeof(d->description))) == 0) {
		d->proto = sqlite3_column_int(st, 1);
		d->secmode = sqlite3_column_int(st, 2);
	}
	st_done(st);
	return r;
}

/*
 * Delete a device with its CAPF task and certificate rows.
 * UC_ERR_NOTFOUND if there is no such device.
 */
int
store_device_del(struct store *s, const char *name)
{
	int	 r, n = 0;

	if ((r = check_name(name)) != 0 || (r = tx_begin(s)) != 0)
		return r;
	r = exec_name(s, ST_DEV_DEL, name, &n, "delete device");
	if (r == 0 && n == 0)
		r = uc_fail(UC_ERR_NOTFOUND, "store %s: device %s not found",
		    s->path, name);
	return tx_end(s, r);
}

/* Fields of a task that capf_put stores. */
static int
check_task(const struct capf_task *t)
{
	char	 spec[32];
	int	 r;

	if ((r = check_name(t->device)) != 0)
		return r;
	if (t->op < CAPF_OP_NONE || t->op > CAPF_OP_DELETE)
		return uc_fail(UC_ERR_ARG, "store: task %s: bad operation %d",
		    t->device, t->op);
	if (t->auth < CAPF_AUTH_NONE || t->auth > CAPF_AUTH_LSC_OR_MIC)
		return uc_fail(UC_ERR_ARG, "store: task %s: bad authentication "
		    "mode %d", t->device, t->auth);
	if (t->deadline < 0)
		return uc_fail(UC_ERR_ARG, "store: task %s: negative deadline",
		    t->device);
	if (t->op == CAPF_OP_INSTALL && capf_keyspec_text(t->key_type,
	    t->key_bits, t->curve, spec, sizeof(spec)) != 0)
		return uc_fail(UC_ERR_ARG, "store: task %s: bad key (type %d, "
		    "%d bits, curve %d)", t->device, t->key_type, t->key_bits,
		    t->curve);
	return 0;
}

/* The device row (if missing) and the task row, in a transaction. */
static int
capf_put_rows(struct store *s, const struct capf_task *t, const char *hash)
{
	sqlite3_stmt	*st;
	int		 r, rc;

	if ((r = exec_name(s, ST_DEV_ENSURE, t->device, NULL,
	    "create device")) != 0)
		return r;
	if ((st = stmt(s, ST_CAPF_PUT)) == NULL)
		return UC_ERR_IO;
	rc = sqlite3_bind_text(st, 1, t->device, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int(st, 2, t->op);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int(st, 3, t->auth);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int(st, 4, t->key_type);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int(st, 5, t->key_bits);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int(st, 6, t->curve);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, 7, t->deadline);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, 8, t->updated != 0 ? t->updated :
		    (int64_t)time(NULL));
	if (rc == SQLITE_OK)	/* NULL keeps the stored hash */
		rc = sqlite3_bind_text(st, 9, hash, -1, SQLITE_STATIC);
	return st_exec(s, st, rc, NULL, "put CAPF task", t->device);
}

/*
 * Schedule t (device, op, auth, key spec, deadline; updated 0 means
 * now) for its device, creating the device row if missing.  Status
 * becomes pending, attempts and lockout zero.  password NULL keeps the
 * stored hash, "" clears it, else its PBKDF2 hash is stored (hashed
 * before the write lock is taken, except inside store_begin()).
 */
int
store_capf_put(struct store *s, const struct capf_task *t,
    const char *password)
{
	char	 hash[PWHASH_ENC_MAX];
	int	 r;

	hash[0] = '\0';
	if ((r = check_task(t)) != 0)
		return r;
	if (password != NULL && password[0] != '\0' &&
	    (r = pwhash_make((const uint8_t *)password, strlen(password), 0,
	    hash, sizeof(hash))) != 0)
		return r;
	if ((r = tx_begin(s)) == 0) {
		r = capf_put_rows(s, t, password != NULL ? hash : NULL);
		r = tx_end(s, r);
	}
	OPENSSL_cleanse(hash, sizeof(hash));
	return r;
}

/*
 * As store_capf_put with an encoded hash already made by pwhash_make
 * (NULL keeps the stored one, "" clears it), so a bulk import hashes
 * before store_begin() and holds the write lock only for the rows.
 */
int
store_capf_put_hashed(struct store *s, const struct capf_task *t,
    const char *hash)
{
	int	 r;

	if ((r = check_task(t)) != 0)
		return r;
	if (hash != NULL && hash[0] != '\0' &&
	    strncmp(hash, "pbkdf2-sha256$", 14) != 0)
		return uc_fail(UC_ERR_ARG, "CAPF task of %s: password hash "
		    "not in pbkdf2-sha256 form", t->device);
	if (hash != NULL && strlen(hash) >= STORE_HASH_MAX)
		return uc_fail(UC_ERR_ARG, "CAPF task of %s: password hash "
		    "too long", t->device);
	if ((r = tx_begin(s)) == 0) {
		r = capf_put_rows(s, t, hash);
		r = tx_end(s, r);
	}
	return r;
}

/* The current row of st (TASK_COLS) into *t. */
static int
task_row(struct store *s, sqlite3_stmt *st, struct capf_task *t)
{
	int	 r;

	if ((r = col_text(s, st, 0, t->device, sizeof(t->device))) != 0 ||
	    (r = col_text(s, st, 8, t->reason, sizeof(t->reason))) != 0 ||
	    (r = col_text(s, st, 13, t->pwhash, sizeof(t->pwhash))) != 0)
		return r;
	t->op = sqlite3_column_int(st, 1);
	t->auth = sqlite3_column_int(st, 2);
	t->key_type = sqlite3_column_int(st, 3);
	t->key_bits = sqlite3_column_int(st, 4);
	t->curve = sqlite3_column_int(st, 5);
	t->deadline = sqlite3_column_int64(st, 6);
	t->status = sqlite3_column_int(st, 7);
	t->attempts = sqlite3_column_int(st, 9);
	t->auth_fails = sqlite3_column_int(st, 10);
	t->locked_until = sqlite3_column_int64(st, 11);
	t->updated = sqlite3_column_int64(st, 12);
	return 0;
}

/* The device's task into *t.  UC_ERR_NOTFOUND if it has none. */
int
store_capf_get(struct store *s, const char *name, struct capf_task *t)
{
	sqlite3_stmt	*st;
	int		 r;

	memset(t, 0, sizeof(*t));
	if ((r = check_name(name)) != 0)
		return r;
	if ((st = stmt(s, ST_CAPF_GET)) == NULL)
		return UC_ERR_IO;
	r = step_row(s, st, sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC),
	    "CAPF task of", name);
	if (r == 0)
		r = task_row(s, st, t);
	st_done(st);
	return r;
}

/*
 * Run one named update in its own transaction; no row changed is
 * UC_ERR_NOTFOUND ("what name not found").  With t_used, ?2 = t.
 */
static int
task_update(struct store *s, enum st_id id, const char *name, int t_used,
    int64_t t, const char *what)
{
	int	 r, n = 0;

	if ((r = check_name(name)) != 0 || (r = tx_begin(s)) != 0)
		return r;
	if (t_used)
		r = exec_name_time(s, id, name, t, &n, what);
	else
		r = exec_name(s, id, name, &n, what);
	if (r == 0 && n == 0)
		r = uc_fail(UC_ERR_NOTFOUND, "store %s: %s: no CAPF task for "
		    "%s", s->path, what, name);
	return tx_end(s, r);
}

/* Delete the device's task (the device stays).  UC_ERR_NOTFOUND. */
int
store_capf_del(struct store *s, const char *name)
{
	return task_update(s, ST_CAPF_DEL, name, 0, 0, "delete CAPF task");
}

/*
 * Up to STORE_LIST_BATCH tasks named after "after", in name order, into
 * batch; *np gets how many.  The statement is reset before returning,
 * so no read transaction stays open.
 */
static int
task_batch(struct store *s, const char *after, struct capf_task *batch,
    size_t *np)
{
	sqlite3_stmt	*st;
	size_t		 n = 0;
	int		 r = 0, rc;

	*np = 0;
	if ((st = stmt(s, ST_CAPF_LIST)) == NULL)
		return UC_ERR_IO;
	rc = sqlite3_bind_text(st, 1, after, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int(st, 2, STORE_LIST_BATCH);
	while (r == 0 && rc == SQLITE_OK && n < STORE_LIST_BATCH &&
	    (rc = sqlite3_step(st)) == SQLITE_ROW) {
		memset(&batch[n], 0, sizeof(batch[n]));
		r = task_row(s, st, &batch[n++]);
		rc = SQLITE_OK;
	}
	if (r == 0 && rc != SQLITE_OK && rc != SQLITE_DONE)
		r = sqlerr(s, "list CAPF tasks");
	st_done(st);
	*np = n;
	return r;
}

/*
 * Call fn for each task in device-name order; a non-zero return from fn
 * stops the walk and is returned.  Tasks are read in batches with no
 * read transaction open while fn runs, so fn may write to the store; a
 * task added or removed meanwhile may or may not be seen.
 */
int
store_capf_list(struct store *s, int (*fn)(const struct capf_task *, void *),
    void *arg)
{
	struct capf_task	*batch;
	char			 last[STORE_NAME_MAX] = "";
	size_t			 i, n = 0;
	int			 r;

	if ((batch = calloc(STORE_LIST_BATCH, sizeof(*batch))) == NULL)
		return uc_fail(UC_ERR_ALLOC, "store %s: list CAPF tasks",
		    s->path);
	do {
		if ((r = task_batch(s, last, batch, &n)) != 0)
			break;
		for (i = 0; i < n && r == 0; i++)
			r = fn(&batch[i], arg);
		if (n > 0)
			memcpy(last, batch[n - 1].device, sizeof(last));
	} while (r == 0 && n == STORE_LIST_BATCH);
	free(batch);
	return r;
}

/* A session reached the device's operation: attempts++, in-progress. */
int
store_capf_begin(struct store *s, const char *name, int64_t now)
{
	return task_update(s, ST_CAPF_BEGIN, name, 1, now,
	    "begin CAPF session");
}

/* The device's auth_fails and locked_until, inside a transaction. */
static int
auth_fail_read(struct store *s, const char *name, int *fails,
    int64_t *until)
{
	sqlite3_stmt	*st;
	int		 r;

	if ((st = stmt(s, ST_CAPF_FAILS)) == NULL)
		return UC_ERR_IO;
	r = step_row(s, st, sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC),
	    "CAPF task of", name);
	if (r == 0) {
		*fails = sqlite3_column_int(st, 0);
		*until = sqlite3_column_int64(st, 1);
	}
	st_done(st);
	return r;
}

static int
auth_fail_write(struct store *s, const char *name, int fails, int64_t until,
    int64_t now)
{
	sqlite3_stmt	*st;
	int		 rc;

	if ((st = stmt(s, ST_CAPF_FAIL_SET)) == NULL)
		return UC_ERR_IO;
	rc = sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int(st, 2, fails);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, 3, until);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, 4, now);
	return st_exec(s, st, rc, NULL, "count auth failure of", name);
}

/*
 * A wrong auth string for the device: auth_fails++.  When it reaches max
 * (max <= 0: never) the device is locked until now + secs, auth_fails
 * returns to 0 and *locked is 1; else *locked is 0.
 */
int
store_capf_auth_fail(struct store *s, const char *name, int max, int secs,
    int64_t now, int *locked)
{
	int64_t	 until = 0;
	int	 fails = 0, r;

	*locked = 0;
	if (secs < 0)
		return uc_fail(UC_ERR_ARG, "store: negative lockout time %d",
		    secs);
	if ((r = check_name(name)) != 0 || (r = tx_begin(s)) != 0)
		return r;
	if ((r = auth_fail_read(s, name, &fails, &until)) == 0) {
		fails = fails < 0 || fails == INT32_MAX ? 1 : fails + 1;
		if (max > 0 && fails >= max) {
			fails = 0;
			until = now > INT64_MAX - secs ? INT64_MAX :
			    now + secs;
			*locked = 1;
		}
		r = auth_fail_write(s, name, fails, until, now);
	}
	if ((r = tx_end(s, r)) != 0)
		*locked = 0;
	return r;
}

/* A right auth string: auth_fails = 0. */
int
store_capf_auth_ok(struct store *s, const char *name)
{
	return task_update(s, ST_CAPF_AUTH_OK, name, 0, 0,
	    "clear auth failures");
}

/*
 * Bind a reason of at most STORE_REASON_MAX - 1 bytes, cut before a
 * UTF-8 continuation byte.
 */
static int
bind_reason(sqlite3_stmt *st, int i, const char *reason)
{
	size_t	 n;

	if (reason == NULL)
		reason = "";
	n = strnlen(reason, STORE_REASON_MAX);
	if (n == STORE_REASON_MAX) {
		n = STORE_REASON_MAX - 1;
		while (n > 0 && ((unsigned char)reason[n] & 0xc0) == 0x80)
			n--;
	}
	return sqlite3_bind_text(st, i, reason, (int)n, SQLITE_STATIC);
}

/*
 * The end of a session that did not complete the operation: status
 * (enum capf_status) and reason (NULL: none; cut to STORE_REASON_MAX-1).
 */
int
store_capf_finish(struct store *s, const char *name, int status,
    const char *reason, int64_t now)
{
	sqlite3_stmt	*st;
	int		 r, rc, n = 0;

	if (status < CAPF_ST_PENDING || status > CAPF_ST_EXPIRED)
		return uc_fail(UC_ERR_ARG, "store: task %s: bad status %d",
		    name, status);
	if ((r = check_name(name)) != 0 || (r = tx_begin(s)) != 0)
		return r;
	if ((st = stmt(s, ST_CAPF_FINISH)) == NULL)
		r = UC_ERR_IO;
	else {
		rc = sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
		if (rc == SQLITE_OK)
			rc = sqlite3_bind_int(st, 2, status);
		if (rc == SQLITE_OK)
			rc = bind_reason(st, 3, reason);
		if (rc == SQLITE_OK)
			rc = sqlite3_bind_int64(st, 4, now);
		r = st_exec(s, st, rc, &n, "finish CAPF session of", name);
	}
	if (r == 0 && n == 0)
		r = uc_fail(UC_ERR_NOTFOUND, "store %s: finish CAPF session: "
		    "no CAPF task for %s", s->path, name);
	return tx_end(s, r);
}

/* Lift a lockout: locked_until and auth_fails to 0. */
int
store_capf_unlock(struct store *s, const char *name)
{
	return task_update(s, ST_CAPF_UNLOCK, name, 0, 0, "unlock");
}

/*
 * Mark expired every pending, in-progress or failed task whose deadline
 * (not 0) is before now; *count (if not NULL) gets how many.
 */
int
store_capf_expire(struct store *s, int64_t now, int *count)
{
	sqlite3_stmt	*st;
	int		 r, n = 0;

	if (count != NULL)
		*count = 0;
	if ((r = tx_begin(s)) != 0)
		return r;
	if ((st = stmt(s, ST_CAPF_EXPIRE)) == NULL)
		r = UC_ERR_IO;
	else
		r = st_exec(s, st, sqlite3_bind_int64(st, 1, now), &n,
		    "expire CAPF tasks", "");
	if ((r = tx_end(s, r)) == 0 && count != NULL)
		*count = n;
	return r;
}

/*
 * Start-up of the CAPF server: tasks left in progress by a crash or a
 * kill go back to pending; *count (if not NULL) gets how many.
 */
int
store_capf_reset_in_progress(struct store *s, int64_t now, int *count)
{
	sqlite3_stmt	*st;
	int		 r, n = 0;

	if (count != NULL)
		*count = 0;
	if ((r = tx_begin(s)) != 0)
		return r;
	if ((st = stmt(s, ST_CAPF_RESET)) == NULL)
		r = UC_ERR_IO;
	else
		r = st_exec(s, st, sqlite3_bind_int64(st, 1, now), &n,
		    "reset CAPF tasks in progress", "");
	if ((r = tx_end(s, r)) == 0 && count != NULL)
		*count = n;
	return r;
}

/* Fields of a certificate row we write. */
static int
check_cert(const struct store_cert *c)
{
	int	 r;

	if ((r = check_serial(c->serial)) != 0 ||
	    (r = check_name(c->device)) != 0 ||
	    (r = check_field(c->issuer, sizeof(c->issuer),
	    "certificate issuer")) != 0 ||
	    (r = check_pem(c->pem, "certificate")) != 0)
		return r;
	return 0;
}

/* UC_ERR_NOTFOUND unless the device row exists. */
static int
device_exists(struct store *s, const char *name)
{
	struct store_device	 d;

	return store_device_get(s, name, &d);
}

/* Bind ?1..?7 of ST_CERT_ADD / ST_CERT_FETCHED and run it. */
static int
cert_write(struct store *s, enum st_id id, const struct store_cert *c,
    int64_t issued)
{
	sqlite3_stmt	*st;
	int		 rc;

	if ((st = stmt(s, id)) == NULL)
		return UC_ERR_IO;
	rc = sqlite3_bind_text(st, 1, c->serial, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_text(st, 2, c->device, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, 3, c->not_before);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, 4, c->not_after);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, 5, issued);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_text(st, 6, c->issuer, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_text(st, 7, c->pem, -1, SQLITE_STATIC);
	return st_exec(s, st, rc, NULL, "write certificate", c->serial);
}

/*
 * Record c (serial, device, validity, issued, issuer, pem) as issued,
 * before it is sent to the phone.  The device must exist
 * (UC_ERR_NOTFOUND); a serial already stored is UC_ERR_ARG.
 */
int
store_cert_add(struct store *s, const struct store_cert *c)
{
	int	 r;

	if ((r = check_cert(c)) != 0 || (r = tx_begin(s)) != 0)
		return r;
	if ((r = device_exists(s, c->device)) == 0)
		r = cert_write(s, ST_CERT_ADD, c, c->issued);
	return tx_end(s, r);
}

/*
 * The phone confirmed certificate serial: in one transaction mark it
 * installed and set the device's task to op none, status success, no
 * reason, no auth failures.  UC_ERR_NOTFOUND if the device has no such
 * certificate.
 */
int
store_cert_installed(struct store *s, const char *name, const char *serial,
    int64_t now)
{
	sqlite3_stmt	*st;
	int		 r, rc, n = 0;

	if ((r = check_name(name)) != 0 || (r = check_serial(serial)) != 0 ||
	    (r = tx_begin(s)) != 0)
		return r;
	if ((st = stmt(s, ST_CERT_INSTALLED)) == NULL)
		r = UC_ERR_IO;
	else {
		rc = sqlite3_bind_text(st, 1, serial, -1, SQLITE_STATIC);
		if (rc == SQLITE_OK)
			rc = sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
		r = st_exec(s, st, rc, &n, "mark installed", serial);
	}
	if (r == 0 && n == 0)
		r = uc_fail(UC_ERR_NOTFOUND, "store %s: certificate %s of %s "
		    "not found", s->path, serial, name);
	if (r == 0)
		r = exec_name_time(s, ST_CAPF_DONE, name, now, NULL,
		    "complete CAPF task of");
	return tx_end(s, r);
}

/*
 * Record c as read back from its device (state fetched; a row already
 * installed for that device stays installed) and set the device's task
 * to op none, status success.  issued 0 means now.
 */
int
store_cert_fetched(struct store *s, const struct store_cert *c, int64_t now)
{
	int	 r;

	if ((r = check_cert(c)) != 0 || (r = tx_begin(s)) != 0)
		return r;
	if ((r = device_exists(s, c->device)) == 0)
		r = cert_write(s, ST_CERT_FETCHED, c,
		    c->issued != 0 ? c->issued : now);
	if (r == 0 && sqlite3_changes(s->db) == 0)
		r = uc_fail(UC_ERR_POLICY, "fetched certificate of %s: serial "
		    "%s is on record for another device or with other "
		    "contents", c->device, c->serial);
	if (r == 0)
		r = exec_name_time(s, ST_CAPF_DONE, c->device, now, NULL,
		    "complete CAPF task of");
	return tx_end(s, r);
}

/*
 * The phone deleted its LSC: mark all the device's certificates deleted
 * and set its task to op none, status success.  UC_ERR_NOTFOUND if
 * there is no such device.
 */
int
store_cert_deleted(struct store *s, const char *name, int64_t now)
{
	int	 r;

	if ((r = check_name(name)) != 0 || (r = tx_begin(s)) != 0)
		return r;
	if ((r = device_exists(s, name)) == 0)
		r = exec_name(s, ST_CERT_DELETED, name, NULL,
		    "mark certificates deleted of");
	if (r == 0)
		r = exec_name_time(s, ST_CAPF_DONE, name, now, NULL,
		    "complete CAPF task of");
	return tx_end(s, r);
}

/* The current row of st (CERT_COLS) into *c; c->pem is malloc'd. */
static int
cert_row(struct store *s, sqlite3_stmt *st, struct store_cert *c)
{
	int	 r;

	if ((r = col_text(s, st, 0, c->serial, sizeof(c->serial))) != 0 ||
	    (r = col_text(s, st, 1, c->device, sizeof(c->device))) != 0 ||
	    (r = col_text(s, st, 6, c->issuer, sizeof(c->issuer))) != 0 ||
	    (r = col_dup(s, st, 7, &c->pem)) != 0)
		return r;
	c->state = sqlite3_column_int(st, 2);
	c->not_before = sqlite3_column_int64(st, 3);
	c->not_after = sqlite3_column_int64(st, 4);
	c->issued = sqlite3_column_int64(st, 5);
	return 0;
}

/* One certificate row by key; *c is cleared first, pem freed on error. */
static int
cert_query(struct store *s, enum st_id id, const char *key,
    struct store_cert *c, const char *what)
{
	sqlite3_stmt	*st;
	int		 r;

	memset(c, 0, sizeof(*c));
	if ((st = stmt(s, id)) == NULL)
		return UC_ERR_IO;
	r = step_row(s, st, sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC),
	    what, key);
	if (r == 0)
		r = cert_row(s, st, c);
	st_done(st);
	if (r != 0)
		store_cert_clear(c);
	return r;
}

/*
 * The device's newest installed certificate, else its newest issued one,
 * into *c (free with store_cert_clear).  UC_ERR_NOTFOUND if none.
 */
int
store_cert_current(struct store *s, const char *name, struct store_cert *c)
{
	int	 r;

	if ((r = check_name(name)) != 0) {
		memset(c, 0, sizeof(*c));
		return r;
	}
	return cert_query(s, ST_CERT_CURRENT, name, c,
	    "current certificate of");
}

/* Certificate serial into *c (free with store_cert_clear). */
int
store_cert_get(struct store *s, const char *serial, struct store_cert *c)
{
	int	 r;

	if ((r = check_serial(serial)) != 0) {
		memset(c, 0, sizeof(*c));
		return r;
	}
	return cert_query(s, ST_CERT_GET, serial, c, "certificate");
}

/*
 * Call fn for each certificate of the device (NULL: of all devices), by
 * device, then oldest first.  c->pem is valid during the call only.  A
 * non-zero return from fn stops the walk and is returned.  A read
 * transaction is open while fn runs: fn may read the store but should not
 * write to it (a write fails if another process wrote meanwhile).
 */
int
store_cert_list(struct store *s, const char *name,
    int (*fn)(const struct store_cert *, void *), void *arg)
{
	sqlite3_stmt		*st = NULL;
	struct store_cert	 c;
	int			 r = 0, rc;

	if (name != NULL && (r = check_name(name)) != 0)
		return r;
	if (sqlite3_prepare_v2(s->db, "SELECT " CERT_COLS " FROM certificates "
	    "WHERE ?1 IS NULL OR device = ?1 ORDER BY device, issued, rowid",
	    -1, &st, NULL) != SQLITE_OK)
		return sqlerr(s, "list certificates");
	rc = sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	while (r == 0 && rc == SQLITE_OK &&
	    (rc = sqlite3_step(st)) == SQLITE_ROW) {
		memset(&c, 0, sizeof(c));
		if ((r = cert_row(s, st, &c)) == 0)
			r = fn(&c, arg);
		store_cert_clear(&c);
		rc = SQLITE_OK;
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = sqlerr(s, "list certificates");
	sqlite3_finalize(st);
	return r;
}

/* The number of certificate rows of the device (NULL: all) in *n. */
int
store_cert_count(struct store *s, const char *name, int *n)
{
	sqlite3_stmt	*st;
	int		 r;

	*n = 0;
	if (name != NULL && (r = check_name(name)) != 0)
		return r;
	if ((st = stmt(s, ST_CERT_COUNT)) == NULL)
		return UC_ERR_IO;
	r = step_row(s, st, sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC),
	    "count certificates of", name != NULL ? name : "all devices");
	if (r == 0)
		*n = sqlite3_column_int(st, 0);
	st_done(st);
	return r;
}

/* Free c->pem; c may be reused. */
void
store_cert_clear(struct store_cert *c)
{
	if (c == NULL)
		return;
	free(c->pem);
	c->pem = NULL;
}

/* A trust store name: 1..31 bytes of [a-z0-9._-]. */
static int
check_trust_store(const char *name)
{
	char	 buf[40];
	size_t	 i, n;

	if (name == NULL || (n = strnlen(name, 32)) == 0 || n == 32)
		return uc_fail(UC_ERR_ARG, "store: trust store name must be "
		    "1..31 bytes");
	for (i = 0; i < n; i++)
		if (strchr("abcdefghijklmnopqrstuvwxyz0123456789._-",
		    name[i]) == NULL)
			return uc_fail(UC_ERR_ARG, "store: trust store name "
			    "\"%s\" has a byte outside [a-z0-9._-]",
			    safe_text(name, buf, sizeof(buf)));
	return 0;
}

/* A SHA-256 fingerprint: 64 lower-case hex digits. */
static int
check_sha256(const char *hex)
{
	size_t	 i;

	for (i = 0; hex != NULL && i < 64; i++)
		if (!((hex[i] >= '0' && hex[i] <= '9') ||
		    (hex[i] >= 'a' && hex[i] <= 'f')))
			break;
	if (hex == NULL || i != 64 || hex[64] != '\0')
		return uc_fail(UC_ERR_ARG, "store: SHA-256 fingerprint must "
		    "be 64 lower-case hex digits");
	return 0;
}

/*
 * Add t (store, sha256, subject, not_after, pem) to its trust store, or
 * update the entry with the same fingerprint.
 */
int
store_trust_add(struct store *s, const struct store_trust *t)
{
	sqlite3_stmt	*st;
	int		 r, rc;

	if ((r = check_trust_store(t->store)) != 0 ||
	    (r = check_sha256(t->sha256)) != 0 ||
	    (r = check_field(t->subject, sizeof(t->subject),
	    "trust subject")) != 0 ||
	    (r = check_pem(t->pem, "trust certificate")) != 0 ||
	    (r = tx_begin(s)) != 0)
		return r;
	if ((st = stmt(s, ST_TRUST_ADD)) == NULL)
		r = UC_ERR_IO;
	else {
		rc = sqlite3_bind_text(st, 1, t->store, -1, SQLITE_STATIC);
		if (rc == SQLITE_OK)
			rc = sqlite3_bind_text(st, 2, t->sha256, -1,
			    SQLITE_STATIC);
		if (rc == SQLITE_OK)
			rc = sqlite3_bind_text(st, 3, t->subject, -1,
			    SQLITE_STATIC);
		if (rc == SQLITE_OK)
			rc = sqlite3_bind_int64(st, 4, t->not_after);
		if (rc == SQLITE_OK)
			rc = sqlite3_bind_text(st, 5, t->pem, -1,
			    SQLITE_STATIC);
		r = st_exec(s, st, rc, NULL, "add trust entry", t->sha256);
	}
	return tx_end(s, r);
}

/* Remove fingerprint sha256 from trust store name.  UC_ERR_NOTFOUND. */
int
store_trust_del(struct store *s, const char *name, const char *sha256)
{
	sqlite3_stmt	*st;
	int		 r, rc, n = 0;

	if ((r = check_trust_store(name)) != 0 ||
	    (r = check_sha256(sha256)) != 0 || (r = tx_begin(s)) != 0)
		return r;
	if ((st = stmt(s, ST_TRUST_DEL)) == NULL)
		r = UC_ERR_IO;
	else {
		rc = sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
		if (rc == SQLITE_OK)
			rc = sqlite3_bind_text(st, 2, sha256, -1,
			    SQLITE_STATIC);
		r = st_exec(s, st, rc, &n, "delete trust entry", sha256);
	}
	if (r == 0 && n == 0)
		r = uc_fail(UC_ERR_NOTFOUND, "store %s: trust store %s has no "
		    "certificate %s", s->path, name, sha256);
	return tx_end(s, r);
}

static int
trust_row(struct store *s, sqlite3_stmt *st, struct store_trust *t)
{
	int	 r;

	if ((r = col_text(s, st, 0, t->store, sizeof(t->store))) != 0 ||
	    (r = col_text(s, st, 1, t->sha256, sizeof(t->sha256))) != 0 ||
	    (r = col_text(s, st, 2, t->subject, sizeof(t->subject))) != 0 ||
	    (r = col_dup(s, st, 4, &t->pem)) != 0)
		return r;
	t->not_after = sqlite3_column_int64(st, 3);
	return 0;
}

/*
 * Call fn for each entry of trust store name (NULL: of all), by store
 * and subject.  t->pem is valid during the call only.  A non-zero return
 * from fn stops the walk and is returned.  As for store_cert_list, fn
 * should not write to the store.
 */
int
store_trust_list(struct store *s, const char *name,
    int (*fn)(const struct store_trust *, void *), void *arg)
{
	sqlite3_stmt		*st = NULL;
	struct store_trust	 t;
	int			 r = 0, rc;

	if (name != NULL && (r = check_trust_store(name)) != 0)
		return r;
	if (sqlite3_prepare_v2(s->db, "SELECT " TRUST_COLS " FROM trust "
	    "WHERE ?1 IS NULL OR store = ?1 ORDER BY store, subject, sha256",
	    -1, &st, NULL) != SQLITE_OK)
		return sqlerr(s, "list trust stores");
	rc = sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	while (r == 0 && rc == SQLITE_OK &&
	    (rc = sqlite3_step(st)) == SQLITE_ROW) {
		memset(&t, 0, sizeof(t));
		if ((r = trust_row(s, st, &t)) == 0)
			r = fn(&t, arg);
		store_trust_clear(&t);
		rc = SQLITE_OK;
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = sqlerr(s, "list trust stores");
	sqlite3_finalize(st);
	return r;
}

/* Free t->pem; t may be reused. */
void
store_trust_clear(struct store_trust *t)
{
	if (t == NULL)
		return;
	free(t->pem);
	t->pem = NULL;
}

/* Command-line word for an enum capf_op ("unknown" if out of range). */
const char *
capf_op_name(int op)
{
	return op >= 0 && op < NELEM(op_names) ? op_names[op] : "unknown";
}

const char *
capf_auth_name(int auth)
{
	return auth >= 0 && auth < NELEM(auth_names) ? auth_names[auth] :
	    "unknown";
}

const char *
capf_status_name(int st)
{
	return st >= 0 && st < NELEM(status_names) ? status_names[st] :
	    "unknown";
}

const char *
store_cert_state_name(int st)
{
	return st >= 0 && st < NELEM(cert_state_names) ?
	    cert_state_names[st] : "unknown";
}

/* Index of word in names (case-insensitive), or -1. */
static int
name_index(const char *const *names, int n, const char *word)
{
	int	 i;

	for (i = 0; word != NULL && i < n; i++)
		if (strcasecmp(word, names[i]) == 0)
			return i;
	return -1;
}

/* "none", "install", "fetch", "delete".  Returns 0 or UC_ERR_ARG. */
int
capf_op_parse(const char *word, int *op)
{
	char	 buf[40];
	int	 i;

	if ((i = name_index(op_names, NELEM(op_names), word)) < 0)
		return uc_fail(UC_ERR_ARG, "unknown CAPF operation \"%s\" "
		    "(none, install, fetch, delete)",
		    safe_text(word, buf, sizeof(buf)));
	*op = i;
	return 0;
}

/* "none", "password", "lsc", "mic", "lsc-or-mic".  0 or UC_ERR_ARG. */
int
capf_auth_parse(const char *word, int *auth)
{
	char	 buf[40];
	int	 i;

	if ((i = name_index(auth_names, NELEM(auth_names), word)) < 0)
		return uc_fail(UC_ERR_ARG, "unknown CAPF authentication mode "
		    "\"%s\" (none, password, lsc, mic, lsc-or-mic)",
		    safe_text(word, buf, sizeof(buf)));
	*auth = i;
	return 0;
}

/* The RSA part of a key spec after "rsa:": exactly one of rsa_bits. */
static int
rsa_bits_parse(const char *p, int *bits)
{
	char	 buf[8];
	size_t	 i;

	for (i = 0; i < sizeof(rsa_bits) / sizeof(rsa_bits[0]); i++) {
		snprintf(buf, sizeof(buf), "%d", rsa_bits[i]);
		if (strcmp(p, buf) == 0) {
			*bits = rsa_bits[i];
			return 0;
		}
	}
	return -1;
}

static int
curve_parse(const char *p, int *curve)
{
	size_t	 i;

	for (i = 0; i < sizeof(curve_names) / sizeof(curve_names[0]); i++)
		if (strcasecmp(p, curve_names[i].name) == 0) {
			*curve = curve_names[i].curve;
			return 0;
		}
	return -1;
}

/*
 * Parse a key spec: "rsa:1024", "rsa:2048", "rsa:3072", "rsa:4096" or
 * "ec:P-256", "ec:P-384", "ec:P-521" (curve names case-insensitive; also
 * prime256v1, secp256r1, secp384r1, secp521r1).  Sets key type
 * (CAPF_KEY_*), bits (RSA; 0 for EC) and curve (CAPF_CURVE_*; 0 for RSA).
 * Returns 0 or UC_ERR_ARG (outputs untouched).
 */
int
capf_keyspec_parse(const char *spec, int *type, int *bits, int *curve)
{
	char	 buf[40];
	int	 b = 0, c = 0;

	if (spec != NULL && strncasecmp(spec, "rsa:", 4) == 0 &&
	    rsa_bits_parse(spec + 4, &b) == 0) {
		*type = CAPF_KEY_RSA;
		*bits = b;
		*curve = 0;
		return 0;
	}
	if (spec != NULL && strncasecmp(spec, "ec:", 3) == 0 &&
	    curve_parse(spec + 3, &c) == 0) {
		*type = CAPF_KEY_EC;
		*bits = 0;
		*curve = c;
		return 0;
	}
	return uc_fail(UC_ERR_ARG, "bad key spec \"%s\" (rsa:1024, "
	    "rsa:2048, rsa:3072, rsa:4096, ec:P-256, ec:P-384, ec:P-521)",
	    safe_text(spec, buf, sizeof(buf)));
}

/*
 * The key spec text ("rsa:2048", "ec:P-256") of type, bits (RSA) and
 * curve (EC) into buf.  Returns 0 or UC_ERR_ARG (invalid key, buf too
 * small).
 */
int
capf_keyspec_text(int type, int bits, int curve, char *buf, size_t size)
{
	char	 tmp[16];
	int	 b;

	if (size > 0)
		buf[0] = '\0';
	snprintf(tmp, sizeof(tmp), "%d", bits);
	if (type == CAPF_KEY_RSA && rsa_bits_parse(tmp, &b) == 0)
		snprintf(tmp, sizeof(tmp), "rsa:%d", bits);
	else if (type == CAPF_KEY_EC && curve >= CAPF_CURVE_P256 &&
	    curve <= CAPF_CURVE_P521)
		snprintf(tmp, sizeof(tmp), "ec:%s", curve_names[curve].name);
	else
		return uc_fail(UC_ERR_ARG, "bad key (type %d, %d bits, curve "
		    "%d)", type, bits, curve);
	if (strlen(tmp) >= size)
		return uc_fail(UC_ERR_ARG, "key spec %s: %zu-byte buffer too "
		    "small", tmp, size);
	memcpy(buf, tmp, strlen(tmp) + 1);
	return 0;
}

/*
 * Call control (schema 2).
 */

/* What check_text accepts besides printable ASCII without space. */
#define TX_EMPTY	0x01	/* "" */
#define TX_SPACE	0x02	/* ' ' */
#define TX_QUOTE	0x04	/* '"' and '\\' */

/*
 * A NUL-terminated text field of size bytes: printable ASCII, no space
 * or quote unless flags allow, non-empty unless TX_EMPTY.
 */
static int
check_text(const char *v, size_t size, int flags, const char *what)
{
	char	 buf[40];
	size_t	 i, n;

	if ((n = strnlen(v, size)) == size)
		return uc_fail(UC_ERR_ARG, "store: %s longer than %zu bytes",
		    what, size - 1);
	if (n == 0 && !(flags & TX_EMPTY))
		return uc_fail(UC_ERR_ARG, "store: empty %s", what);
	for (i = 0; i < n; i++) {
		if (v[i] < ' ' || v[i] > '~' ||
		    (v[i] == ' ' && !(flags & TX_SPACE)) ||
		    ((v[i] == '"' || v[i] == '\\') && !(flags & TX_QUOTE)))
			return uc_fail(UC_ERR_ARG, "store: %s \"%s\": byte "
			    "%zu is not allowed", what,
			    safe_text(v, buf, sizeof(buf)), i);
	}
	return 0;
}

/* An extension or dialled prefix: [0-9A-Za-z+*#._-], maybe empty. */
static int
check_ext(const char *v, int flags, const char *what)
{
	char	 buf[40];
	size_t	 n;
	int	 r;

	if ((r = check_text(v, STORE_EXT_MAX, flags, what)) != 0)
		return r;
	n = strlen(v);
	if (strspn(v, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz+*#._-") != n)
		return uc_fail(UC_ERR_ARG, "store: %s \"%s\": want 0-9 A-Z a-z "
		    "+ * # . _ -", what, safe_text(v, buf, sizeof(buf)));
	return 0;
}

/* A sealed value: "" or "s1:" and base64 (lib/seal.h). */
static int
check_sealed(const char *v, const char *what)
{
	size_t	 n;

	if ((n = strnlen(v, STORE_SEALED_MAX)) == STORE_SEALED_MAX)
		return uc_fail(UC_ERR_ARG, "store: %s longer than %d bytes",
		    what, STORE_SEALED_MAX - 1);
	if (n == 0)
		return 0;
	if (n < 4 || strncmp(v, "s1:", 3) != 0 ||
	    strspn(v + 3, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789+/=") != n - 3)
		return uc_fail(UC_ERR_ARG, "store: %s is not sealed (lib/seal.h"
		    " form s1:BASE64); refusing to store a plain secret",
		    what);
	return 0;
}

/*
 * Bind ?1.. from a type string: 't' text (borrowed), 'i' int, 'I'
 * int64.  Returns the SQLite code of the first failure or SQLITE_OK.
 */
static int
bind_args(sqlite3_stmt *st, const char *types, ...)
{
	va_list	 ap;
	int	 i, rc = SQLITE_OK;

	va_start(ap, types);
	for (i = 0; types[i] != '\0' && rc == SQLITE_OK; i++) {
		switch (types[i]) {
		case 't':
			rc = sqlite3_bind_text(st, i + 1,
			    va_arg(ap, const char *), -1, SQLITE_STATIC);
			break;
		case 'i':
			rc = sqlite3_bind_int(st, i + 1, va_arg(ap, int));
			break;
		case 'I':
			rc = sqlite3_bind_int64(st, i + 1,
			    va_arg(ap, int64_t));
			break;
		default:
			rc = SQLITE_MISUSE;
			break;
		}
	}
	va_end(ap);
	return rc;
}

/*
 * Walk the rows of a constant query (prepared per call, so a walk may
 * nest in another): emit(s, st, ctx) per row.  Returns 0, emit's
 * non-zero result, or UC_ERR_*.
 */
static int
walk(struct store *s, const char *sql,
    int (*emit)(struct store *, sqlite3_stmt *, void *), void *ctx,
    const char *what)
{
	sqlite3_stmt	*st = NULL;
	int		 r = 0, rc = SQLITE_OK;

	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
		return sqlerr(s, "%s", what);
	while (r == 0 && rc == SQLITE_OK &&
	    (rc = sqlite3_step(st)) == SQLITE_ROW) {
		r = emit(s, st, ctx);
		rc = SQLITE_OK;
	}
	if (r == 0 && rc != SQLITE_DONE && rc != SQLITE_OK)
		r = sqlerr(s, "%s", what);
	sqlite3_finalize(st);
	return r;
}

/*
 * A digest algorithm list ("SHA-256,MD5") or, list 0, one name: the
 * characters of RFC 7616 algorithm names, maybe empty (= the default).
 * The names themselves are the caller's to check (lib/digest.h).
 */
static int
check_algs(const char *v, size_t size, int list, const char *what)
{
	char	 buf[40];
	int	 r;

	if ((r = check_text(v, size, TX_EMPTY | (list ? TX_SPACE : 0),
	    what)) != 0)
		return r;
	if (strspn(v, list ? ALG_CHARS ", " : ALG_CHARS) != strlen(v))
		return uc_fail(UC_ERR_ARG, "store: %s \"%s\": want algorithm "
		    "names%s", what, safe_text(v, buf, sizeof(buf)),
		    list ? " separated by commas" : "");
	return 0;
}

/* Fields of a sipdev we write. */
static int
check_sipdev(const struct store_sipdev *d)
{
	int	 r;

	if ((r = check_name(d->name)) != 0 ||
	    (r = check_ext(d->extension, TX_EMPTY, "extension")) != 0 ||
	    (r = check_text(d->digest_user, sizeof(d->digest_user), TX_EMPTY,
	    "digest user")) != 0 ||
	    (r = check_text(d->presence_group, sizeof(d->presence_group),
	    TX_EMPTY | TX_SPACE, "presence group")) != 0 ||
	    (r = check_algs(d->digest_algs, sizeof(d->digest_algs), 1,
	    "device digest algorithms")) != 0)
		return r;
	if ((d->proto != STORE_PROTO_SIP && d->proto != STORE_PROTO_SCCP) ||
	    d->secmode < STORE_SEC_NONSECURE ||
	    d->secmode > STORE_SEC_ENCRYPTED)
		return uc_fail(UC_ERR_ARG, "store: device %s: bad protocol %d "
		    "or security mode %d", d->name, d->proto, d->secmode);
	return 0;
}

/* UC_ERR_ARG when another device than name has extension ext. */
static int
ext_free(struct store *s, const char *ext, const char *name)
{
	sqlite3_stmt	*st;
	char		 owner[STORE_NAME_MAX];
	int		 r;

	if (ext[0] == '\0')
		return 0;
	if ((st = stmt(s, ST_EXT_OWNER)) == NULL)
		return UC_ERR_IO;
	r = step_row(s, st, bind_args(st, "tt", ext, name), "extension", ext);
	if (r == 0 && (r = col_text(s, st, 0, owner, sizeof(owner))) == 0)
		r = uc_fail(UC_ERR_ARG, "store %s: extension %s is already "
		    "the line of device %s", s->path, ext, owner);
	else if (r == UC_ERR_NOTFOUND)
		r = 0;
	st_done(st);
	return r;
}

/*
 * Create device d->name, or update its protocol, security mode and SIP
 * settings (description, CAPF task and certificates stay).  An
 * extension another device has is UC_ERR_ARG.
 */
int
store_sipdev_put(struct store *s, const struct store_sipdev *d)
{
	sqlite3_stmt	*st;
	int		 r;

	if ((r = check_sipdev(d)) != 0 || (r = tx_begin(s)) != 0)
		return r;
	if ((r = ext_free(s, d->extension, d->name)) == 0) {
		if ((st = stmt(s, ST_SIPDEV_PUT)) == NULL)
			r = UC_ERR_IO;
		else
			r = st_exec(s, st, bind_args(st, "tiitttt", d->name,
			    d->proto, d->secmode, d->extension, d->digest_user,
			    d->presence_group, d->digest_algs), NULL,
			    "put device", d->name);
	}
	return tx_end(s, r);
}

static int
sipdev_row(struct store *s, sqlite3_stmt *st, struct store_sipdev *d)
{
	int	 r;

	memset(d, 0, sizeof(*d));
	if ((r = col_text(s, st, 0, d->name, sizeof(d->name))) != 0 ||
	    (r = col_text(s, st, 3, d->extension,
	    sizeof(d->extension))) != 0 ||
	    (r = col_text(s, st, 4, d->digest_user,
	    sizeof(d->digest_user))) != 0 ||
	    (r = col_text(s, st, 5, d->presence_group,
	    sizeof(d->presence_group))) != 0 ||
	    (r = col_text(s, st, 6, d->digest_algs,
	    sizeof(d->digest_algs))) != 0)
		return r;
	d->proto = sqlite3_column_int(st, 1);
	d->secmode = sqlite3_column_int(st, 2);
	return 0;
}

/* One sipdev by key (name or extension); *d cleared first. */
static int
sipdev_query(struct store *s, enum st_id id, const char *key,
    struct store_sipdev *d, const char *what)
{
	sqlite3_stmt	*st;
	int		 r;

	memset(d, 0, sizeof(*d));
	if ((st = stmt(s, id)) == NULL)
		return UC_ERR_IO;
	r = step_row(s, st, sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC),
	    what, key);
	if (r == 0)
		r = sipdev_row(s, st, d);
	st_done(st);
	return r;
}

/* Device name with its SIP settings into *d.  UC_ERR_NOTFOUND. */
int
store_sipdev_get(struct store *s, const char *name, struct store_sipdev *d)
{
	int	 r;

	if ((r = check_name(name)) != 0) {
		memset(d, 0, sizeof(*d));
		return r;
	}
	return sipdev_query(s, ST_SIPDEV_GET, name, d, "device");
}

/* The device whose extension is ext into *d.  UC_ERR_NOTFOUND. */
int
store_sipdev_by_ext(struct store *s, const char *ext, struct store_sipdev *d)
{
	int	 r;

	if (ext == NULL || (r = check_ext(ext, 0, "extension")) != 0) {
		memset(d, 0, sizeof(*d));
		return ext == NULL ? uc_fail(UC_ERR_ARG, "store: no "
		    "extension") : r;
	}
	return sipdev_query(s, ST_SIPDEV_BY_EXT, ext, d,
	    "device with extension");
}

struct sipdev_walk {
	int	(*fn)(const struct store_sipdev *, void *);
	void	*arg;
};

static int
sipdev_emit(struct store *s, sqlite3_stmt *st, void *ctx)
{
	struct sipdev_walk	*w = ctx;
	struct store_sipdev	 d;
	int			 r;

	if ((r = sipdev_row(s, st, &d)) != 0)
		return r;
	return w->fn(&d, w->arg);
}

/* Call fn for each device (SIP settings or not) in name order. */
int
store_sipdev_list(struct store *s,
    int (*fn)(const struct store_sipdev *, void *), void *arg)
{
	struct sipdev_walk	 w = { fn, arg };

	return walk(s, "SELECT " SIPDEV_COLS " FROM devices ORDER BY name",
	    sipdev_emit, &w, "list devices");
}

/* The key of a digest user: username and realm. */
static int
check_duser_key(const char *user, const char *realm)
{
	int	 r;

	if (user == NULL || realm == NULL)
		return uc_fail(UC_ERR_ARG, "store: digest user without name "
		    "or realm");
	if ((r = check_text(user, sizeof(((struct store_duser *)0)->username),
	    0, "digest user name")) != 0 ||
	    (r = check_text(realm, sizeof(((struct store_duser *)0)->realm),
	    TX_SPACE, "digest realm")) != 0)
		return r;
	return 0;
}

/*
 * Insert or replace digest user u: at least one sealed HA1, flags
 * STORE_F_* only; changed 0 means now.
 */
int
store_duser_put(struct store *s, const struct store_duser *u)
{
	sqlite3_stmt	*st;
	int		 r;

	if ((r = check_duser_key(u->username, u->realm)) != 0 ||
	    (r = check_sealed(u->ha1_md5, "MD5 HA1")) != 0 ||
	    (r = check_sealed(u->ha1_sha256, "SHA-256 HA1")) != 0 ||
	    (r = check_sealed(u->ha1_sha512_256, "SHA-512-256 HA1")) != 0)
		return r;
	if (u->ha1_md5[0] == '\0' && u->ha1_sha256[0] == '\0' &&
	    u->ha1_sha512_256[0] == '\0')
		return uc_fail(UC_ERR_ARG, "store: digest user %s: no HA1",
		    u->username);
	if ((u->flags & ~STORE_F_ALL) != 0)
		return uc_fail(UC_ERR_ARG, "store: digest user %s: bad flags "
		    "%#x", u->username, (unsigned)u->flags);
	if ((r = tx_begin(s)) != 0)
		return r;
	if ((st = stmt(s, ST_DUSER_PUT)) == NULL)
		r = UC_ERR_IO;
	else
		r = st_exec(s, st, bind_args(st, "tttttiI", u->username,
		    u->realm, u->ha1_md5, u->ha1_sha256, u->ha1_sha512_256,
		    u->flags, u->changed != 0 ? u->changed :
		    (int64_t)time(NULL)), NULL, "put digest user",
		    u->username);
	return tx_end(s, r);
}

static int
duser_row(struct store *s, sqlite3_stmt *st, struct store_duser *u)
{
	int	 r;

	memset(u, 0, sizeof(*u));
	if ((r = col_text(s, st, 0, u->username, sizeof(u->username))) != 0 ||
	    (r = col_text(s, st, 1, u->realm, sizeof(u->realm))) != 0 ||
	    (r = col_text(s, st, 2, u->ha1_md5, sizeof(u->ha1_md5))) != 0 ||
	    (r = col_text(s, st, 3, u->ha1_sha256,
	    sizeof(u->ha1_sha256))) != 0 ||
	    (r = col_text(s, st, 4, u->ha1_sha512_256,
	    sizeof(u->ha1_sha512_256))) != 0)
		return r;
	u->flags = sqlite3_column_int(st, 5);
	u->changed = sqlite3_column_int64(st, 6);
	return 0;
}

/*
 * Digest user (user, realm) into *u.  UC_ERR_NOTFOUND if none; the
 * caller decides what an unknown user looks like on the wire.
 */
int
store_duser_get(struct store *s, const char *user, const char *realm,
    struct store_duser *u)
{
	sqlite3_stmt	*st;
	int		 r;

	memset(u, 0, sizeof(*u));
	if ((r = check_duser_key(user, realm)) != 0)
		return r;
	if ((st = stmt(s, ST_DUSER_GET)) == NULL)
		return UC_ERR_IO;
	r = step_row(s, st, bind_args(st, "tt", user, realm), "digest user",
	    user);
	if (r == 0)
		r = duser_row(s, st, u);
	st_done(st);
	if (r != 0)
		OPENSSL_cleanse(u, sizeof(*u));
	return r;
}

/* Delete digest user (user, realm).  UC_ERR_NOTFOUND if none. */
int
store_duser_del(struct store *s, const char *user, const char *realm)
{
	sqlite3_stmt	*st;
	int		 r, n = 0;

	if ((r = check_duser_key(user, realm)) != 0 ||
	    (r = tx_begin(s)) != 0)
		return r;
	if ((st = stmt(s, ST_DUSER_DEL)) == NULL)
		r = UC_ERR_IO;
	else
		r = st_exec(s, st, bind_args(st, "tt", user, realm), &n,
		    "delete digest user", user);
	if (r == 0 && n == 0)
		r = uc_fail(UC_ERR_NOTFOUND, "store %s: digest user %s in "
		    "realm %s not found", s->path, user, realm);
	return tx_end(s, r);
}

struct duser_walk {
	int	(*fn)(const struct store_duser *, void *);
	void	*arg;
};

static int
duser_emit(struct store *s, sqlite3_stmt *st, void *ctx)
{
	struct duser_walk	*w = ctx;
	struct store_duser	 u;
	int			 r;

	if ((r = duser_row(s, st, &u)) == 0)
		r = w->fn(&u, w->arg);
	OPENSSL_cleanse(&u, sizeof(u));
	return r;
}

/* Call fn for each digest user by realm, then username. */
int
store_duser_list(struct store *s,
    int (*fn)(const struct store_duser *, void *), void *arg)
{
	struct duser_walk	 w = { fn, arg };

	return walk(s, "SELECT " DUSER_COLS " FROM digest_users "
	    "ORDER BY realm, username", duser_emit, &w,
	    "list digest users");
}

/* Fields of a trunk we write. */
static int
check_trunk(const struct store_trunk *t)
{
	int	 r;

	if ((r = check_name(t->name)) != 0 ||
	    (r = check_text(t->peer, sizeof(t->peer), 0, "trunk peer")) != 0 ||
	    (r = check_text(t->x509_subject, sizeof(t->x509_subject),
	    TX_EMPTY | TX_SPACE | TX_QUOTE, "trunk X.509 subject")) != 0 ||
	    (r = check_ext(t->prefix, TX_EMPTY, "trunk prefix")) != 0 ||
	    (r = check_text(t->out_realm, sizeof(t->out_realm),
	    TX_EMPTY | TX_SPACE, "trunk outgoing realm")) != 0 ||
	    (r = check_text(t->out_user, sizeof(t->out_user), TX_EMPTY,
	    "trunk outgoing user")) != 0 ||
	    (r = check_sealed(t->out_secret, "trunk outgoing secret")) != 0 ||
	    (r = check_algs(t->digest_algs, sizeof(t->digest_algs), 1,
	    "trunk digest algorithms")) != 0 ||
	    (r = check_algs(t->out_min_alg, sizeof(t->out_min_alg), 0,
	    "trunk minimum outgoing algorithm")) != 0)
		return r;
	if (t->port < 0 || t->port > 65535 ||
	    t->transport < STORE_TP_UDP || t->transport > STORE_TP_TLS ||
	    t->secmode < STORE_SEC_NONSECURE ||
	    t->secmode > STORE_SEC_ENCRYPTED ||
	    (t->digest != 0 && t->digest != 1) || t->nonce_validity < 0 ||
	    (t->flags & ~STORE_F_ALL) != 0)
		return uc_fail(UC_ERR_ARG, "store: trunk %s: bad port %d, "
		    "transport %d, security mode %d, digest %d, nonce "
		    "validity %d or flags %#x", t->name, t->port, t->transport,
		    t->secmode, t->digest, t->nonce_validity,
		    (unsigned)t->flags);
	if (t->out_secret[0] != '\0' &&
	    (t->out_realm[0] == '\0' || t->out_user[0] == '\0'))
		return uc_fail(UC_ERR_ARG, "store: trunk %s: an outgoing "
		    "secret needs a realm and a user", t->name);
	return 0;
}

/* Insert or replace trunk t. */
int
store_trunk_put(struct store *s, const struct store_trunk *t)
{
	sqlite3_stmt	*st;
	int		 r;

	if ((r = check_trunk(t)) != 0 || (r = tx_begin(s)) != 0)
		return r;
	if ((st = stmt(s, ST_TRUNK_PUT)) == NULL)
		r = UC_ERR_IO;
	else
		r = st_exec(s, st, bind_args(st, "ttiiiiititttttt", t->name,
		    t->peer, t->port, t->transport, t->secmode, t->digest,
		    t->nonce_validity, t->x509_subject, t->flags, t->prefix,
		    t->out_realm, t->out_user, t->out_secret, t->digest_algs,
		    t->out_min_alg), NULL, "put trunk", t->name);
	return tx_end(s, r);
}

static int
trunk_row(struct store *s, sqlite3_stmt *st, struct store_trunk *t)
{
	int	 r;

	memset(t, 0, sizeof(*t));
	if ((r = col_text(s, st, 0, t->name, sizeof(t->name))) != 0 ||
	    (r = col_text(s, st, 1, t->peer, sizeof(t->peer))) != 0 ||
	    (r = col_text(s, st, 7, t->x509_subject,
	    sizeof(t->x509_subject))) != 0 ||
	    (r = col_text(s, st, 9, t->prefix, sizeof(t->prefix))) != 0 ||
	    (r = col_text(s, st, 10, t->out_realm,
	    sizeof(t->out_realm))) != 0 ||
	    (r = col_text(s, st, 11, t->out_user, sizeof(t->out_user))) != 0 ||
	    (r = col_text(s, st, 12, t->out_secret,
	    sizeof(t->out_secret))) != 0 ||
	    (r = col_text(s, st, 13, t->digest_algs,
	    sizeof(t->digest_algs))) != 0 ||
	    (r = col_text(s, st, 14, t->out_min_alg,
	    sizeof(t->out_min_alg))) != 0)
		return r;
	t->port = sqlite3_column_int(st, 2);
	t->transport = sqlite3_column_int(st, 3);
	t->secmode = sqlite3_column_int(st, 4);
	t->digest = sqlite3_column_int(st, 5);
	t->nonce_validity = sqlite3_column_int(st, 6);
	t->flags = sqlite3_column_int(st, 8);
	return 0;
}

/* Trunk name into *t.  UC_ERR_NOTFOUND if there is none. */
int
store_trunk_get(struct store *s, const char *name, struct store_trunk *t)
{
	sqlite3_stmt	*st;
	int		 r;

	memset(t, 0, sizeof(*t));
	if ((r = check_name(name)) != 0)
		return r;
	if ((st = stmt(s, ST_TRUNK_GET)) == NULL)
		return UC_ERR_IO;
	r = step_row(s, st, sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC),
	    "trunk", name);
	if (r == 0)
		r = trunk_row(s, st, t);
	st_done(st);
	return r;
}

/* Delete trunk name.  UC_ERR_NOTFOUND if there is none. */
int
store_trunk_del(struct store *s, const char *name)
{
	int	 r, n = 0;

	if ((r = check_name(name)) != 0 || (r = tx_begin(s)) != 0)
		return r;
	r = exec_name(s, ST_TRUNK_DEL, name, &n, "delete trunk");
	if (r == 0 && n == 0)
		r = uc_fail(UC_ERR_NOTFOUND, "store %s: trunk %s not found",
		    s->path, name);
	return tx_end(s, r);
}

struct trunk_walk {
	int	(*fn)(const struct store_trunk *, void *);
	void	*arg;
};

static int
trunk_emit(struct store *s, sqlite3_stmt *st, void *ctx)
{
	struct trunk_walk	*w = ctx;
	struct store_trunk	 t;
	int			 r;

	if ((r = trunk_row(s, st, &t)) == 0)
		r = w->fn(&t, w->arg);
	OPENSSL_cleanse(t.out_secret, sizeof(t.out_secret));
	return r;
}

/* Call fn for each trunk in name order. */
int
store_trunk_list(struct store *s,
    int (*fn)(const struct store_trunk *, void *), void *arg)
{
	struct trunk_walk	 w = { fn, arg };

	return walk(s, "SELECT " TRUNK_COLS " FROM trunks ORDER BY name",
	    trunk_emit, &w, "list trunks");
}

/*
 * SQLite's data_version: it changes when another connection commits to
 * the file (our own commits leave it alone, but callers cache what
 * others change).  Reads only this connection's state: no disk I/O
 * outside a transaction beyond the WAL index check.  0 on error (a
 * real data_version is never 0).
 */
uint64_t
store_generation(struct store *s)
{
	sqlite3_stmt	*st;
	uint64_t	 v = 0;

	if (s == NULL || (st = stmt(s, ST_DATA_VERSION)) == NULL)
		return 0;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = (uint64_t)sqlite3_column_int64(st, 0);
	else
		sqlerr(s, "reading the data version");
	sqlite3_reset(st);
	return v;
}

/* Fields of a registration row. */
static int
check_reg(const struct store_reg *g)
{
	int	 r;

	if ((r = check_text(g->aor, sizeof(g->aor), 0,
	    "registration AOR")) != 0 ||
	    (r = check_name(g->device)) != 0 ||
	    (r = check_field(g->contact, sizeof(g->contact),
	    "registration contact")) != 0 ||
	    (r = check_text(g->source, sizeof(g->source), TX_EMPTY,
	    "registration source")) != 0 ||
	    (r = check_field(g->cert_subject, sizeof(g->cert_subject),
	    "registration certificate subject")) != 0)
		return r;
	if (strnlen(g->transport, sizeof(g->transport)) ==
	    sizeof(g->transport) ||
	    name_index(transport_names, NELEM(transport_names),
	    g->transport) < 0)
		return uc_fail(UC_ERR_ARG, "store: registration of %s: "
		    "transport is not udp, tcp or tls", g->aor);
	if (g->expires < 0)
		return uc_fail(UC_ERR_ARG, "store: registration of %s: "
		    "negative expiry", g->aor);
	return 0;
}

/*
 * Replace every registration row with regs[0..n-1] in one transaction:
 * a reader sees the old set or the new one, never a mix.  Each row is
 * checked before anything is written.
 */
int
store_reg_replace(struct store *s, const struct store_reg *regs, size_t n)
{
	sqlite3_stmt	*st;
	size_t		 i;
	int		 r;

	for (i = 0; i < n; i++)
		if ((r = check_reg(&regs[i])) != 0)
			return r;
	if ((r = tx_begin(s)) != 0)
		return r;
	r = exec_plain(s, ST_REG_CLEAR, "clear registrations");
	for (i = 0; i < n && r == 0; i++) {
		if ((st = stmt(s, ST_REG_ADD)) == NULL)
			r = UC_ERR_IO;
		else
			r = st_exec(s, st, bind_args(st, "ttttttI",
			    regs[i].aor, regs[i].device, regs[i].contact,
			    regs[i].transport, regs[i].source,
			    regs[i].cert_subject, regs[i].expires), NULL,
			    "write registration of", regs[i].aor);
	}
	return tx_end(s, r);
}

struct reg_walk {
	int	(*fn)(const struct store_reg *, void *);
	void	*arg;
};

static int
reg_emit(struct store *s, sqlite3_stmt *st, void *ctx)
{
	struct reg_walk		*w = ctx;
	struct store_reg	 g;
	int			 r;

	memset(&g, 0, sizeof(g));
	if ((r = col_text(s, st, 0, g.aor, sizeof(g.aor))) != 0 ||
	    (r = col_text(s, st, 1, g.device, sizeof(g.device))) != 0 ||
	    (r = col_text(s, st, 2, g.contact, sizeof(g.contact))) != 0 ||
	    (r = col_text(s, st, 3, g.transport, sizeof(g.transport))) != 0 ||
	    (r = col_text(s, st, 4, g.source, sizeof(g.source))) != 0 ||
	    (r = col_text(s, st, 5, g.cert_subject,
	    sizeof(g.cert_subject))) != 0)
		return r;
	g.expires = sqlite3_column_int64(st, 6);
	return w->fn(&g, w->arg);
}

/* Call fn for each registration by AOR, device, contact. */
int
store_reg_list(struct store *s, int (*fn)(const struct store_reg *, void *),
    void *arg)
{
	struct reg_walk	 w = { fn, arg };

	return walk(s, "SELECT " REG_COLS " FROM registrations "
	    "ORDER BY aor, device, contact", reg_emit, &w,
	    "list registrations");
}

const char *
store_secmode_name(int m)
{
	return m >= 0 && m < NELEM(secmode_names) ? secmode_names[m] :
	    "unknown";
}

/* "nonsecure" (also "non-secure"), "authenticated", "encrypted". */
int
store_secmode_parse(const char *word, int *m)
{
	char	 buf[40];
	int	 i;

	if (word != NULL && strcasecmp(word, "non-secure") == 0)
		i = STORE_SEC_NONSECURE;
	else if ((i = name_index(secmode_names, NELEM(secmode_names),
	    word)) < 0)
		return uc_fail(UC_ERR_ARG, "unknown security mode \"%s\" "
		    "(nonsecure, authenticated, encrypted)",
		    safe_text(word, buf, sizeof(buf)));
	*m = i;
	return 0;
}

const char *
store_proto_name(int p)
{
	return p >= 0 && p < NELEM(proto_names) ? proto_names[p] : "unknown";
}

/* "sip", "sccp". */
int
store_proto_parse(const char *word, int *p)
{
	char	 buf[40];
	int	 i;

	if ((i = name_index(proto_names, NELEM(proto_names), word)) < 0)
		return uc_fail(UC_ERR_ARG, "unknown device protocol \"%s\" "
		    "(sip, sccp)", safe_text(word, buf, sizeof(buf)));
	*p = i;
	return 0;
}

const char *
store_transport_name(int t)
{
	return t >= 0 && t < NELEM(transport_names) ? transport_names[t] :
	    "unknown";
}

/* "udp", "tcp", "tls". */
int
store_transport_parse(const char *word, int *t)
{
	char	 buf[40];
	int	 i;

	if ((i = name_index(transport_names, NELEM(transport_names),
	    word)) < 0)
		return uc_fail(UC_ERR_ARG, "unknown transport \"%s\" (udp, "
		    "tcp, tls)", safe_text(word, buf, sizeof(buf)));
	*t = i;
	return 0;
}
