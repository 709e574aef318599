/*
 * Suite "store": the SQLite store (lib/store.c).  Schema creation,
 * reopen and refusal of a future or foreign schema; devices, CAPF tasks,
 * lockout, expiry; certificates (installed resets the task in the same
 * transaction, proved by a trigger that makes the second half fail);
 * trust stores; name and key-spec helpers; a second connection on the
 * same file; a bulk import of 5000 tasks; the rate of capfd's hot path.
 * Call control (schema 2): migration of a version 1 file with its rows,
 * SIP device settings and unique extensions, digest users (sealed HA1
 * only), trunks, and the all-or-nothing replacement of registrations.
 * The raw file is read with sqlite3 directly to check what is stored.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "capfmsg.h"
#include "fileio.h"
#include "pwhash.h"
#include "store.h"
#include "unit.h"

#define PEM_A	"-----BEGIN CERTIFICATE-----\nQUFB\n" \
		"-----END CERTIFICATE-----\n"
#define PEM_B	"-----BEGIN CERTIFICATE-----\nQkJC\n" \
		"-----END CERTIFICATE-----\n"
#define SHA_A	"00112233445566778899aabbccddeeff" \
		"00112233445566778899aabbccddeeff"
#define SHA_B	"ffeeddccbbaa99887766554433221100" \
		"ffeeddccbbaa99887766554433221100"

static double
mono(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A fresh path in the temp directory (static buffer). */
static const char *
dbpath(const char *name)
{
	static char	 buf[1024];

	snprintf(buf, sizeof(buf), "%s/%s.db", unit_tmpdir(), name);
	unlink(buf);
	return buf;
}

/* Create a fresh store named name; NULL (and a failure) on error. */
static struct store *
fresh(const char *name)
{
	struct store	*s = NULL;

	if (store_open(dbpath(name), STORE_CREATE, &s) != 0) {
		fprintf(stderr, "\n  store_open: %s\n", uc_errdetail());
		CU_FAIL("store_open");
	}
	return s;
}

/* Run SQL on the file through a separate raw connection. */
static int
raw_exec(const char *path, const char *sql)
{
	sqlite3	*db = NULL;
	int	 rc;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
		sqlite3_close(db);
		return -1;
	}
	sqlite3_busy_timeout(db, 5000);
	rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		fprintf(stderr, "\n  raw %s: %s\n", sql, sqlite3_errmsg(db));
	sqlite3_close(db);
	return rc == SQLITE_OK ? 0 : -1;
}

/* First column of the first row of sql as text (static buffer). */
static const char *
raw_text(const char *path, const char *sql)
{
	static char	 buf[512];
	sqlite3		*db = NULL;
	sqlite3_stmt	*st = NULL;
	const char	*t;

	snprintf(buf, sizeof(buf), "(error)");
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) ==
	    SQLITE_OK &&
	    sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
		t = sqlite3_step(st) != SQLITE_ROW ? "(no row)" :
		    (const char *)sqlite3_column_text(st, 0);
		snprintf(buf, sizeof(buf), "%s", t != NULL ? t : "(null)");
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	return buf;
}

static void
task_init(struct capf_task *t, const char *dev, int op)
{
	memset(t, 0, sizeof(*t));
	snprintf(t->device, sizeof(t->device), "%s", dev);
	t->op = op;
	t->auth = CAPF_AUTH_PASSWORD;
	t->key_type = CAPF_KEY_RSA;
	t->key_bits = 2048;
	t->updated = 1000;
}

static void
cert_init(struct store_cert *c, const char *serial, const char *dev,
    int64_t issued, const char *pem)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->serial, sizeof(c->serial), "%s", serial);
	snprintf(c->device, sizeof(c->device), "%s", dev);
	snprintf(c->issuer, sizeof(c->issuer), "CN=CAPF-test,O=ucsec");
	c->not_before = issued;
	c->not_after = issued + 86400;
	c->issued = issued;
	c->pem = (char *)pem;
}

static void
test_schema_is_created_and_reopened(void)
{
	struct store	*s = NULL;
	struct stat	 sb;
	char		 path[1024], wal[1100];

	snprintf(path, sizeof(path), "%s", dbpath("schema"));
	UNIT_FAILS(store_open(path, 0, &s), UC_ERR_IO, "schema.db");
	CU_ASSERT_PTR_NULL(s);
	UNIT_FAILS(store_open(path, STORE_CREATE | STORE_RDONLY, &s),
	    UC_ERR_ARG, "flags");
	CU_ASSERT_EQUAL_FATAL(store_open(path, STORE_CREATE, &s), 0);
	CU_ASSERT_EQUAL(store_schema_version(s), STORE_SCHEMA);
	CU_ASSERT_EQUAL(stat(path, &sb), 0);
	CU_ASSERT_EQUAL(sb.st_mode & 07777, 0600);
	/* The WAL and shared-memory files get the same mode. */
	CU_ASSERT_EQUAL(store_capf_expire(s, 1, NULL), 0);
	snprintf(wal, sizeof(wal), "%s-wal", path);
	CU_ASSERT_EQUAL(stat(wal, &sb), 0);
	CU_ASSERT_EQUAL(sb.st_mode & 07777, 0600);
	snprintf(wal, sizeof(wal), "%s-shm", path);
	CU_ASSERT_EQUAL(stat(wal, &sb), 0);
	CU_ASSERT_EQUAL(sb.st_mode & 07777, 0600);
	store_close(s);

	CU_ASSERT_STRING_EQUAL(raw_text(path, "PRAGMA user_version"), "2");
	CU_ASSERT_STRING_EQUAL(raw_text(path, "PRAGMA application_id"),
	    "1969451877");	/* 0x75637365, "ucse" */
	CU_ASSERT_STRING_EQUAL(raw_text(path, "PRAGMA foreign_key_check"),
	    "(no row)");
	CU_ASSERT_STRING_EQUAL(raw_text(path, "PRAGMA journal_mode"), "wal");
	CU_ASSERT_STRING_EQUAL(raw_text(path, "SELECT group_concat(name, ' ') "
	    "FROM (SELECT name FROM sqlite_master WHERE type = 'table' "
	    "ORDER BY name)"), "capf_tasks certificates devices digest_users "
	    "registrations trunks trust");

	/* Reopen read-write (no migration) and read-only. */
	CU_ASSERT_EQUAL_FATAL(store_open(path, 0, &s), 0);
	CU_ASSERT_EQUAL(store_schema_version(s), STORE_SCHEMA);
	store_close(s);
	CU_ASSERT_EQUAL_FATAL(store_open(path, STORE_CREATE, &s), 0);
	store_close(s);
	CU_ASSERT_EQUAL_FATAL(store_open(path, STORE_RDONLY, &s), 0);
	CU_ASSERT_EQUAL(store_schema_version(s), STORE_SCHEMA);
	store_close(s);
	store_close(NULL);
}

static void
test_future_or_foreign_schema_is_refused(void)
{
	struct store	*s = NULL;
	char		 path[1024];

	s = fresh("future");
	store_close(s);
	snprintf(path, sizeof(path), "%s/future.db", unit_tmpdir());
	CU_ASSERT_EQUAL(raw_exec(path, "PRAGMA user_version = 3"), 0);
	s = NULL;
	UNIT_FAILS(store_open(path, 0, &s), UC_ERR_UNSUPPORTED, "newer");
	CU_ASSERT_PTR_NULL(s);
	UNIT_FAILS(store_open(path, STORE_RDONLY, &s), UC_ERR_UNSUPPORTED,
	    "version 3");

	/* Some other application's SQLite file. */
	snprintf(path, sizeof(path), "%s", dbpath("foreign"));
	CU_ASSERT_EQUAL(raw_exec(path, "CREATE TABLE t (x)"), 0);
	UNIT_FAILS(store_open(path, 0, &s), UC_ERR_FORMAT, "not a ucsec");
	CU_ASSERT_EQUAL(raw_exec(path, "PRAGMA application_id = 42"), 0);
	UNIT_FAILS(store_open(path, 0, &s), UC_ERR_FORMAT, "application_id");

	/* Not SQLite at all. */
	snprintf(path, sizeof(path), "%s", dbpath("text"));
	CU_ASSERT_EQUAL(file_write_atomic(path, "hello, this is not a "
	    "database file at all, not even close, just text\n", 70, 0600,
	    NULL, NULL), 0);
	UNIT_FAILS(store_open(path, 0, &s), UC_ERR_FORMAT, "text.db");
	UNIT_FAILS(store_open(path, STORE_RDONLY, &s), UC_ERR_FORMAT, NULL);
	CU_ASSERT_PTR_NULL(s);
}

static void
test_rdonly_refuses_writes_and_migration(void)
{
	struct store		*s = NULL;
	struct store_device	 d;
	char			 path[1024];

	snprintf(path, sizeof(path), "%s", dbpath("ro"));
	/* An empty file needs migrating: read-only cannot. */
	CU_ASSERT_EQUAL(file_write_atomic(path, "", 0, 0600, NULL, NULL), 0);
	UNIT_FAILS(store_open(path, STORE_RDONLY, &s), UC_ERR_FORMAT,
	    "read-write");
	CU_ASSERT_EQUAL_FATAL(store_open(path, 0, &s), 0);
	memset(&d, 0, sizeof(d));
	snprintf(d.name, sizeof(d.name), "SEP000000000001");
	CU_ASSERT_EQUAL(store_device_put(s, &d), 0);
	store_close(s);

	CU_ASSERT_EQUAL_FATAL(store_open(path, STORE_RDONLY, &s), 0);
	CU_ASSERT_EQUAL(store_device_get(s, "SEP000000000001", &d), 0);
	UNIT_FAILS(store_device_put(s, &d), UC_ERR_ARG, "read-only");
	UNIT_FAILS(store_device_del(s, "SEP000000000001"), UC_ERR_ARG,
	    "read-only");
	UNIT_FAILS(store_begin(s), UC_ERR_ARG, "read-only");
	store_close(s);
}

static void
test_device_put_get_update_del(void)
{
	struct store		*s;
	struct store_device	 d, g;
	char			 longname[80];

	if ((s = fresh("dev")) == NULL)
		return;
	memset(&d, 0, sizeof(d));
	snprintf(d.name, sizeof(d.name), "SEP00112233AABB");
	d.proto = STORE_PROTO_SIP;
	d.secmode = STORE_SEC_ENCRYPTED;
	snprintf(d.description, sizeof(d.description), "lobby phone");
	CU_ASSERT_EQUAL(store_device_put(s, &d), 0);
	CU_ASSERT_EQUAL(store_device_get(s, d.name, &g), 0);
	CU_ASSERT_STRING_EQUAL(g.name, d.name);
	CU_ASSERT_EQUAL(g.proto, STORE_PROTO_SIP);
	CU_ASSERT_EQUAL(g.secmode, STORE_SEC_ENCRYPTED);
	CU_ASSERT_STRING_EQUAL(g.description, "lobby phone");

	/* put again updates in place. */
	d.proto = STORE_PROTO_SCCP;
	snprintf(d.description, sizeof(d.description), "it's \"quoted\"; --");
	CU_ASSERT_EQUAL(store_device_put(s, &d), 0);
	CU_ASSERT_EQUAL(store_device_get(s, d.name, &g), 0);
	CU_ASSERT_EQUAL(g.proto, STORE_PROTO_SCCP);
	CU_ASSERT_STRING_EQUAL(g.description, "it's \"quoted\"; --");

	CU_ASSERT_EQUAL(store_device_del(s, d.name), 0);
	UNIT_FAILS(store_device_get(s, d.name, &g), UC_ERR_NOTFOUND,
	    "SEP00112233AABB");
	UNIT_FAILS(store_device_del(s, d.name), UC_ERR_NOTFOUND, "not found");

	/* Names and fields the store refuses. */
	UNIT_FAILS(store_device_get(s, "", &g), UC_ERR_ARG, "empty");
	UNIT_FAILS(store_device_get(s, "SEP 1", &g), UC_ERR_ARG, "space");
	/* Untrusted bytes are not echoed raw into the detail line. */
	UNIT_FAILS(store_device_get(s, "SEP\033[2J", &g), UC_ERR_ARG,
	    "\"SEP?[2J\"");
	memset(longname, 'A', sizeof(longname));
	longname[STORE_NAME_MAX] = '\0';
	UNIT_FAILS(store_device_get(s, longname, &g), UC_ERR_ARG, "longer");
	longname[STORE_NAME_MAX - 1] = '\0';	/* 63: the longest allowed */
	memcpy(d.name, longname, STORE_NAME_MAX);
	CU_ASSERT_EQUAL(store_device_put(s, &d), 0);
	CU_ASSERT_EQUAL(store_device_get(s, longname, &g), 0);
	d.proto = 7;
	UNIT_FAILS(store_device_put(s, &d), UC_ERR_ARG, "protocol");
	store_close(s);
}

static int
collect_names(const struct capf_task *t, void *arg)
{
	char	*buf = arg;

	strcat(buf, t->device);
	strcat(buf, ",");
	return 0;
}

static int
stop_at_second(const struct capf_task *t, void *arg)
{
	int	*n = arg;

	(void)t;
	return ++*n == 2 ? 42 : 0;
}

static void
test_task_put_get_list_del(void)
{
	struct store		*s;
	struct store_device	 d;
	struct capf_task	 t, g;
	char			 names[256] = "";
	int			 n = 0;

	if ((s = fresh("task")) == NULL)
		return;
	task_init(&t, "SEPBBBBBBBBBBBB", CAPF_OP_INSTALL);
	t.key_type = CAPF_KEY_EC;
	t.key_bits = 0;
	t.curve = CAPF_CURVE_P384;
	t.deadline = 5000;
	CU_ASSERT_EQUAL(store_capf_put(s, &t, NULL), 0);
	/* The device row was created with SCCP / non-secure defaults. */
	CU_ASSERT_EQUAL(store_device_get(s, t.device, &d), 0);
	CU_ASSERT_EQUAL(d.proto, STORE_PROTO_SCCP);
	CU_ASSERT_EQUAL(d.secmode, STORE_SEC_NONSECURE);
	CU_ASSERT_EQUAL(store_capf_get(s, t.device, &g), 0);
	CU_ASSERT_STRING_EQUAL(g.device, t.device);
	CU_ASSERT_EQUAL(g.op, CAPF_OP_INSTALL);
	CU_ASSERT_EQUAL(g.auth, CAPF_AUTH_PASSWORD);
	CU_ASSERT_EQUAL(g.key_type, CAPF_KEY_EC);
	CU_ASSERT_EQUAL(g.curve, CAPF_CURVE_P384);
	CU_ASSERT_EQUAL(g.deadline, 5000);
	CU_ASSERT_EQUAL(g.status, CAPF_ST_PENDING);
	CU_ASSERT_EQUAL(g.updated, 1000);
	CU_ASSERT_STRING_EQUAL(g.pwhash, "");
	CU_ASSERT_STRING_EQUAL(g.reason, "");

	task_init(&t, "SEPAAAAAAAAAAAA", CAPF_OP_FETCH);
	t.key_bits = 0;		/* key ignored unless install */
	CU_ASSERT_EQUAL(store_capf_put(s, &t, NULL), 0);
	task_init(&t, "SEPCCCCCCCCCCCC", CAPF_OP_DELETE);
	CU_ASSERT_EQUAL(store_capf_put(s, &t, NULL), 0);
	CU_ASSERT_EQUAL(store_capf_list(s, collect_names, names), 0);
	CU_ASSERT_STRING_EQUAL(names,
	    "SEPAAAAAAAAAAAA,SEPBBBBBBBBBBBB,SEPCCCCCCCCCCCC,");
	CU_ASSERT_EQUAL(store_capf_list(s, stop_at_second, &n), 42);
	CU_ASSERT_EQUAL(n, 2);

	/* del removes the task, not the device. */
	CU_ASSERT_EQUAL(store_capf_del(s, "SEPAAAAAAAAAAAA"), 0);
	UNIT_FAILS(store_capf_get(s, "SEPAAAAAAAAAAAA", &g), UC_ERR_NOTFOUND,
	    "SEPAAAAAAAAAAAA");
	UNIT_FAILS(store_capf_del(s, "SEPAAAAAAAAAAAA"), UC_ERR_NOTFOUND,
	    NULL);
	CU_ASSERT_EQUAL(store_device_get(s, "SEPAAAAAAAAAAAA", &d), 0);
	/* Deleting the device deletes its task. */
	CU_ASSERT_EQUAL(store_device_del(s, "SEPBBBBBBBBBBBB"), 0);
	UNIT_FAILS(store_capf_get(s, "SEPBBBBBBBBBBBB", &g), UC_ERR_NOTFOUND,
	    NULL);

	/* Refused tasks. */
	task_init(&t, "SEPDDDDDDDDDDDD", 9);
	UNIT_FAILS(store_capf_put(s, &t, NULL), UC_ERR_ARG, "operation");
	task_init(&t, "SEPDDDDDDDDDDDD", CAPF_OP_INSTALL);
	t.auth = 5;
	UNIT_FAILS(store_capf_put(s, &t, NULL), UC_ERR_ARG, "authentication");
	task_init(&t, "SEPDDDDDDDDDDDD", CAPF_OP_INSTALL);
	t.key_bits = 512;
	UNIT_FAILS(store_capf_put(s, &t, NULL), UC_ERR_ARG, "512");
	task_init(&t, "SEPDDDDDDDDDDDD", CAPF_OP_INSTALL);
	t.deadline = -1;
	UNIT_FAILS(store_capf_put(s, &t, NULL), UC_ERR_ARG, "deadline");
	UNIT_FAILS(store_capf_get(s, "SEPDDDDDDDDDDDD", &g), UC_ERR_NOTFOUND,
	    NULL);
	UNIT_FAILS(store_device_get(s, "SEPDDDDDDDDDDDD", &d), UC_ERR_NOTFOUND,
	    NULL);
	store_close(s);
}

static void
test_put_resets_status_attempts_and_lockout(void)
{
	struct store		*s;
	struct capf_task	 t, g;
	int			 locked;

	if ((s = fresh("reset")) == NULL)
		return;
	task_init(&t, "SEP000000000001", CAPF_OP_INSTALL);
	CU_ASSERT_EQUAL(store_capf_put(s, &t, NULL), 0);
	CU_ASSERT_EQUAL(store_capf_begin(s, t.device, 1100), 0);
	CU_ASSERT_EQUAL(store_capf_auth_fail(s, t.device, 1, 60, 1100,
	    &locked), 0);
	CU_ASSERT_EQUAL(locked, 1);
	CU_ASSERT_EQUAL(store_capf_finish(s, t.device, CAPF_ST_FAILED,
	    "wrong auth string", 1101), 0);
	CU_ASSERT_EQUAL(store_capf_get(s, t.device, &g), 0);
	CU_ASSERT_EQUAL(g.attempts, 1);
	CU_ASSERT_EQUAL(g.status, CAPF_ST_FAILED);
	CU_ASSERT_EQUAL(g.locked_until, 1160);
	CU_ASSERT_EQUAL(g.updated, 1101);

	t.op = CAPF_OP_FETCH;
	t.updated = 2000;
	CU_ASSERT_EQUAL(store_capf_put(s, &t, NULL), 0);
	CU_ASSERT_EQUAL(store_capf_get(s, t.device, &g), 0);
	CU_ASSERT_EQUAL(g.op, CAPF_OP_FETCH);
	CU_ASSERT_EQUAL(g.status, CAPF_ST_PENDING);
	CU_ASSERT_EQUAL(g.attempts, 0);
	CU_ASSERT_EQUAL(g.auth_fails, 0);
	CU_ASSERT_EQUAL(g.locked_until, 0);
	CU_ASSERT_STRING_EQUAL(g.reason, "");
	CU_ASSERT_EQUAL(g.updated, 2000);

	/* updated 0 means now. */
	t.updated = 0;
	CU_ASSERT_EQUAL(store_capf_put(s, &t, NULL), 0);
	CU_ASSERT_EQUAL(store_capf_get(s, t.device, &g), 0);
	CU_ASSERT(g.updated >= (int64_t)time(NULL) - 5 &&
	    g.updated <= (int64_t)time(NULL));
	store_close(s);
}

/* Whether the n bytes at p contain needle. */
static int
contains(const uint8_t *p, size_t n, const char *needle)
{
	return memmem(p, n, needle, strlen(needle)) != NULL;
}

/* Whether the file at path (missing: no) contains needle. */
static int
file_contains(const char *path, const char *needle)
{
	uint8_t	*buf;
	size_t	 len;
	int	 r;

	if (access(path, F_OK) != 0)
		return 0;
	if (file_read(path, 64 * 1024 * 1024, &buf, &len) != 0)
		return -1;
	r = contains(buf, len, needle);
	free(buf);
	return r;
}

static void
test_password_is_stored_only_hashed(void)
{
	static const char	 pw[] = "73914625";
	struct store		*s;
	struct capf_task	 t, g;
	char			 path[1024], wal[1100];

	if ((s = fresh("pw")) == NULL)
		return;
	snprintf(path, sizeof(path), "%s/pw.db", unit_tmpdir());
	snprintf(wal, sizeof(wal), "%s-wal", path);

	task_init(&t, "SEP000000000042", CAPF_OP_INSTALL);
	CU_ASSERT_EQUAL(store_capf_put(s, &t, pw), 0);
	CU_ASSERT_EQUAL(store_capf_get(s, t.device, &g), 0);
	CU_ASSERT_EQUAL(strncmp(g.pwhash, "pbkdf2-sha256$", 14), 0);
	CU_ASSERT_PTR_NULL(strstr(g.pwhash, pw));
	CU_ASSERT_EQUAL(pwhash_verify(g.pwhash, (const uint8_t *)pw,
	    strlen(pw)), 1);
	CU_ASSERT_EQUAL(pwhash_verify(g.pwhash, (const uint8_t *)"73914626",
	    8), 0);

	/* The raw row and the raw bytes of the files hold only the hash. */
	CU_ASSERT_STRING_EQUAL(raw_text(path, "SELECT pwhash FROM capf_tasks"),
	    g.pwhash);
	CU_ASSERT_STRING_EQUAL(raw_text(path, "SELECT count(*) FROM "
	    "capf_tasks WHERE instr(pwhash, '73914625') > 0 OR "
	    "instr(reason, '73914625') > 0"), "0");
	CU_ASSERT_EQUAL(file_contains(wal, pw), 0);
	CU_ASSERT_EQUAL(file_contains(wal, g.pwhash), 1);

	/* NULL keeps the hash, a new password replaces it, "" clears it. */
	CU_ASSERT_EQUAL(store_capf_put(s, &t, NULL), 0);
	CU_ASSERT_STRING_EQUAL(raw_text(path, "SELECT pwhash FROM capf_tasks"),
	    g.pwhash);
	CU_ASSERT_EQUAL(store_capf_put(s, &t, "1234"), 0);
	CU_ASSERT_STRING_NOT_EQUAL(raw_text(path,
	    "SELECT pwhash FROM capf_tasks"), g.pwhash);
	CU_ASSERT_EQUAL(store_capf_get(s, t.device, &g), 0);
	CU_ASSERT_EQUAL(pwhash_verify(g.pwhash, (const uint8_t *)"1234", 4),
	    1);
	CU_ASSERT_EQUAL(store_capf_put(s, &t, ""), 0);
	CU_ASSERT_STRING_EQUAL(raw_text(path, "SELECT pwhash FROM capf_tasks"),
	    "");
	store_close(s);
	/* After the checkpoint on close: the main file too. */
	CU_ASSERT_EQUAL(file_contains(path, pw), 0);
	CU_ASSERT_EQUAL(file_contains(path, "1234"), 0);
}

static void
test_auth_failures_lock_out_at_max(void)
{
	struct store		*s;
	struct capf_task	 t, g;
	int			 locked = -1, i;

	if ((s = fresh("lock")) == NULL)
		return;
	task_init(&t, "SEP000000000001", CAPF_OP_INSTALL);
	CU_ASSERT_EQUAL(store_capf_put(s, &t, "1234"), 0);
	for (i = 1; i <= 2; i++) {
		CU_ASSERT_EQUAL(store_capf_auth_fail(s, t.device, 3, 600,
		    1000 + i, &locked), 0);
		CU_ASSERT_EQUAL(locked, 0);
		CU_ASSERT_EQUAL(store_capf_get(s, t.device, &g), 0);
		CU_ASSERT_EQUAL(g.auth_fails, i);
		CU_ASSERT_EQUAL(g.locked_until, 0);
	}
	CU_ASSERT_EQUAL(store_capf_auth_fail(s, t.device, 3, 600, 1003,
	    &locked), 0);
	CU_ASSERT_EQUAL(locked, 1);
	CU_ASSERT_EQUAL(store_capf_get(s, t.device, &g), 0);
	CU_ASSERT_EQUAL(g.auth_fails, 0);
	CU_ASSERT_EQUAL(g.locked_until, 1603);
	CU_ASSERT_EQUAL(g.updated, 1003);

	/* auth_ok clears the count, unlock the lock too. */
	CU_ASSERT_EQUAL(store_capf_auth_fail(s, t.device, 3, 600, 1004,
	    &locked), 0);
	CU_ASSERT_EQUAL(locked, 0);
	CU_ASSERT_EQUAL(store_capf_auth_ok(s, t.device), 0);
	CU_ASSERT_EQUAL(store_capf_get(s, t.device, &g), 0);
	CU_ASSERT_EQUAL(g.auth_fails, 0);
	CU_ASSERT_EQUAL(g.locked_until, 1603);
	CU_ASSERT_EQUAL(store_capf_unlock(s, t.device), 0);
	CU_ASSERT_EQUAL(store_capf_get(s, t.device, &g), 0);
	CU_ASSERT_EQUAL(g.locked_until, 0);

	/* max 0 counts without locking. */
	for (i = 0; i < 5; i++)
		CU_ASSERT_EQUAL(store_capf_auth_fail(s, t.device, 0, 600,
		    2000, &locked), 0);
	CU_ASSERT_EQUAL(locked, 0);
	CU_ASSERT_EQUAL(store_capf_get(s, t.device, &g), 0);
	CU_ASSERT_EQUAL(g.auth_fails, 5);
	CU_ASSERT_EQUAL(g.locked_until, 0);

	/* A far-future now does not overflow. */
	CU_ASSERT_EQUAL(store_capf_auth_fail(s, t.device, 1, 600,
	    INT64_MAX - 10, &locked), 0);
	CU_ASSERT_EQUAL(store_capf_get(s, t.device, &g), 0);
	CU_ASSERT_EQUAL(g.locked_until, INT64_MAX);

	locked = 7;
	UNIT_FAILS(store_capf_auth_fail(s, "SEP999999999999", 3, 600, 1,
	    &locked), UC_ERR_NOTFOUND, "SEP999999999999");
	CU_ASSERT_EQUAL(locked, 0);
	UNIT_FAILS(store_capf_auth_fail(s, t.device, 3, -1, 1, &locked),
	    UC_ERR_ARG, "lockout");
	UNIT_FAILS(store_capf_auth_ok(s, "SEP999999999999"), UC_ERR_NOTFOUND,
	    NULL);
	UNIT_FAILS(store_capf_unlock(s, "SEP999999999999"), UC_ERR_NOTFOUND,
	    NULL);
	store_close(s);
}

static void
test_begin_and_finish_record_the_session(void)
{
	struct store		*s;
	struct capf_task	 t, g;
	char			 longr[300];

	if ((s = fresh("finish")) == NULL)
		return;
	task_init(&t, "SEP000000000001", CAPF_OP_INSTALL);
	CU_ASSERT_EQUAL(store_capf_put(s, &t, NULL), 0);
	CU_ASSERT_EQUAL(store_capf_begin(s, t.device, 1500), 0);
	CU_ASSERT_EQUAL(store_capf_begin(s, t.device, 1600), 0);
	CU_ASSERT_EQUAL(store_capf_get(s, t.device, &g), 0);
	CU_ASSERT_EQUAL(g.attempts, 2);
	CU_ASSERT_EQUAL(g.status, CAPF_ST_IN_PROGRESS);
	CU_ASSERT_EQUAL(g.updated, 1600);

	CU_ASSERT_EQUAL(store_capf_finish(s, t.device, CAPF_ST_FAILED,
	    "phone closed the connection", 1700), 0);
	CU_ASSERT_EQUAL(store_capf_get(s, t.device, &g), 0);
	CU_ASSERT_EQUAL(g.status, CAPF_ST_FAILED);
	CU_ASSERT_STRING_EQUAL(g.reason, "phone closed the connection");
	CU_ASSERT_EQUAL(g.op, CAPF_OP_INSTALL);
	CU_ASSERT_EQUAL(g.updated, 1700);

	/* A long reason is cut to fit, not refused. */
	memset(longr, 'r', sizeof(longr));
	longr[sizeof(longr) - 1] = '\0';
	longr[STORE_REASON_MAX - 2] = '\xc3';	/* a 2-byte UTF-8 character */
	longr[STORE_REASON_MAX - 1] = '\xa9';	/* across the cut */
	CU_ASSERT_EQUAL(store_capf_finish(s, t.device, CAPF_ST_FAILED, longr,
	    1800), 0);
	CU_ASSERT_EQUAL(store_capf_get(s, t.device, &g), 0);
	CU_ASSERT_EQUAL(strlen(g.reason), STORE_REASON_MAX - 2);
	CU_ASSERT_EQUAL(store_capf_finish(s, t.device, CAPF_ST_FAILED, NULL,
	    1900), 0);
	CU_ASSERT_EQUAL(store_capf_get(s, t.device, &g), 0);
	CU_ASSERT_STRING_EQUAL(g.reason, "");

	UNIT_FAILS(store_capf_finish(s, t.device, 5, "x", 1), UC_ERR_ARG,
	    "status");
	UNIT_FAILS(store_capf_finish(s, "SEP999999999999", CAPF_ST_FAILED, "x",
	    1), UC_ERR_NOTFOUND, "SEP999999999999");
	UNIT_FAILS(store_capf_begin(s, "SEP999999999999", 1), UC_ERR_NOTFOUND,
	    NULL);
	store_close(s);
}

static void
test_expire_marks_overdue_tasks(void)
{
	static const struct {
		const char	*dev;
		int64_t		 deadline;
		int		 status;	/* set with finish */
		int		 want;
	} rows[] = {
		{ "SEP0000000000A1", 100, CAPF_ST_PENDING, CAPF_ST_EXPIRED },
		{ "SEP0000000000A2", 0, CAPF_ST_PENDING, CAPF_ST_PENDING },
		{ "SEP0000000000A3", 300, CAPF_ST_PENDING, CAPF_ST_PENDING },
		{ "SEP0000000000A4", 100, CAPF_ST_SUCCESS, CAPF_ST_SUCCESS },
		{ "SEP0000000000A5", 100, CAPF_ST_FAILED, CAPF_ST_EXPIRED },
		{ "SEP0000000000A6", 100, CAPF_ST_IN_PROGRESS,
		    CAPF_ST_EXPIRED },
		{ "SEP0000000000A7", 200, CAPF_ST_PENDING, CAPF_ST_PENDING },
	};
	struct store		*s;
	struct capf_task	 t, g;
	size_t			 i;
	int			 n = -1;

	if ((s = fresh("expire")) == NULL)
		return;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		task_init(&t, rows[i].dev, CAPF_OP_INSTALL);
		t.deadline = rows[i].deadline;
		CU_ASSERT_EQUAL(store_capf_put(s, &t, NULL), 0);
		CU_ASSERT_EQUAL(store_capf_finish(s, t.device, rows[i].status,
		    "", 50), 0);
	}
	CU_ASSERT_EQUAL(store_capf_expire(s, 200, &n), 0);
	CU_ASSERT_EQUAL(n, 3);
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		CU_ASSERT_EQUAL(store_capf_get(s, rows[i].dev, &g), 0);
		CU_ASSERT_EQUAL(g.status, rows[i].want);
		if (rows[i].want == CAPF_ST_EXPIRED) {
			CU_ASSERT_EQUAL(g.updated, 200);
			CU_ASSERT_STRING_NOT_EQUAL(g.reason, "");
		} else
			CU_ASSERT_EQUAL(g.updated, 50);
	}
	CU_ASSERT_EQUAL(store_capf_expire(s, 200, &n), 0);
	CU_ASSERT_EQUAL(n, 0);
	CU_ASSERT_EQUAL(store_capf_expire(s, 301, &n), 0);
	CU_ASSERT_EQUAL(n, 2);
	CU_ASSERT_EQUAL(store_capf_expire(s, 400, NULL), 0);
	store_close(s);
}

static void
test_reset_in_progress(void)
{
	static const int	 st[] = { CAPF_ST_PENDING, CAPF_ST_IN_PROGRESS,
	    CAPF_ST_FAILED, CAPF_ST_IN_PROGRESS };
	struct store		*s;
	struct capf_task	 t, g;
	char			 dev[32];
	size_t			 i;
	int			 n = -1;

	if ((s = fresh("reset")) == NULL)
		return;
	for (i = 0; i < sizeof(st) / sizeof(st[0]); i++) {
		snprintf(dev, sizeof(dev), "SEP0000000000B%zu", i);
		task_init(&t, dev, CAPF_OP_INSTALL);
		CU_ASSERT_EQUAL(store_capf_put(s, &t, NULL), 0);
		CU_ASSERT_EQUAL(store_capf_finish(s, dev, st[i], "x", 50), 0);
	}
	CU_ASSERT_EQUAL(store_capf_reset_in_progress(s, 70, &n), 0);
	CU_ASSERT_EQUAL(n, 2);
	for (i = 0; i < sizeof(st) / sizeof(st[0]); i++) {
		snprintf(dev, sizeof(dev), "SEP0000000000B%zu", i);
		CU_ASSERT_EQUAL(store_capf_get(s, dev, &g), 0);
		CU_ASSERT_EQUAL(g.status, st[i] == CAPF_ST_IN_PROGRESS ?
		    CAPF_ST_PENDING : st[i]);
		CU_ASSERT_EQUAL(g.updated, st[i] == CAPF_ST_IN_PROGRESS ?
		    70 : 50);
	}
	CU_ASSERT_EQUAL(store_capf_reset_in_progress(s, 80, &n), 0);
	CU_ASSERT_EQUAL(n, 0);
	store_close(s);
}

static void
test_cert_installed_resets_the_task(void)
{
	struct store		*s;
	struct capf_task	 t, g;
	struct store_cert	 c, r;
	int			 locked, n;

	if ((s = fresh("install")) == NULL)
		return;
	task_init(&t, "SEP000000000001", CAPF_OP_INSTALL);
	CU_ASSERT_EQUAL(store_capf_put(s, &t, "1234"), 0);
	CU_ASSERT_EQUAL(store_capf_auth_fail(s, t.device, 5, 60, 1001,
	    &locked), 0);
	CU_ASSERT_EQUAL(store_capf_begin(s, t.device, 1002), 0);
	CU_ASSERT_EQUAL(store_capf_finish(s, t.device, CAPF_ST_IN_PROGRESS,
	    "waiting for the key", 1003), 0);
	cert_init(&c, "01AB", t.device, 1004, PEM_A);
	CU_ASSERT_EQUAL(store_cert_add(s, &c), 0);
	CU_ASSERT_EQUAL(store_cert_get(s, "01AB", &r), 0);
	CU_ASSERT_EQUAL(r.state, STORE_CERT_ISSUED);
	CU_ASSERT_STRING_EQUAL(r.device, t.device);
	CU_ASSERT_STRING_EQUAL(r.issuer, "CN=CAPF-test,O=ucsec");
	CU_ASSERT_EQUAL(r.not_before, 1004);
	CU_ASSERT_EQUAL(r.not_after, 1004 + 86400);
	CU_ASSERT_EQUAL(r.issued, 1004);
	CU_ASSERT_PTR_NOT_NULL(r.pem);
	if (r.pem != NULL)
		CU_ASSERT_STRING_EQUAL(r.pem, PEM_A);
	store_cert_clear(&r);
	CU_ASSERT_PTR_NULL(r.pem);
	store_cert_clear(&r);
	CU_ASSERT_EQUAL(store_capf_get(s, t.device, &g), 0);
	CU_ASSERT_EQUAL(g.op, CAPF_OP_INSTALL);	/* not yet */

	/* Unknown serial (or another device's): nothing changes. */
	UNIT_FAILS(store_cert_installed(s, t.device, "01AC", 1005),
	    UC_ERR_NOTFOUND, "01AC");
	UNIT_FAILS(store_cert_installed(s, "SEP000000000002", "01AB", 1005),
	    UC_ERR_NOTFOUND, "01AB");
	CU_ASSERT_EQUAL(store_capf_get(s, t.device, &g), 0);
	CU_ASSERT_EQUAL(g.op, CAPF_OP_INSTALL);

	CU_ASSERT_EQUAL(store_cert_installed(s, t.device, "01AB", 1006), 0);
	CU_ASSERT_EQUAL(store_capf_get(s, t.device, &g), 0);
	CU_ASSERT_EQUAL(g.op, CAPF_OP_NONE);
	CU_ASSERT_EQUAL(g.status, CAPF_ST_SUCCESS);
	CU_ASSERT_STRING_EQUAL(g.reason, "");
	CU_ASSERT_EQUAL(g.auth_fails, 0);
	CU_ASSERT_EQUAL(g.attempts, 1);
	CU_ASSERT_EQUAL(g.updated, 1006);
	CU_ASSERT_NOT_EQUAL(g.pwhash[0], '\0');
	CU_ASSERT_EQUAL(store_cert_get(s, "01AB", &r), 0);
	CU_ASSERT_EQUAL(r.state, STORE_CERT_INSTALLED);
	store_cert_clear(&r);

	/* Refusals: unknown device, duplicate serial, bad serial, no PEM. */
	cert_init(&c, "02", "SEP000000000009", 1, PEM_A);
	UNIT_FAILS(store_cert_add(s, &c), UC_ERR_NOTFOUND, "SEP000000000009");
	cert_init(&c, "01AB", t.device, 1, PEM_B);
	UNIT_FAILS(store_cert_add(s, &c), UC_ERR_ARG, "01AB");
	cert_init(&c, "01ab", t.device, 1, PEM_B);
	UNIT_FAILS(store_cert_add(s, &c), UC_ERR_ARG, "upper-case hex");
	cert_init(&c, "01:AB", t.device, 1, PEM_B);
	UNIT_FAILS(store_cert_add(s, &c), UC_ERR_ARG, NULL);
	cert_init(&c, "", t.device, 1, PEM_B);
	UNIT_FAILS(store_cert_add(s, &c), UC_ERR_ARG, "serial");
	cert_init(&c, "03", t.device, 1, NULL);
	UNIT_FAILS(store_cert_add(s, &c), UC_ERR_ARG, "PEM");
	UNIT_FAILS(store_cert_get(s, "FFFF", &r), UC_ERR_NOTFOUND, "FFFF");
	CU_ASSERT_PTR_NULL(r.pem);
	CU_ASSERT_EQUAL(store_cert_count(s, NULL, &n), 0);
	CU_ASSERT_EQUAL(n, 1);
	store_close(s);
}

/*
 * A trigger makes the task update fail: the certificate must stay
 * issued, proving both updates share one transaction.
 */
static void
test_cert_installed_is_one_transaction(void)
{
	struct store		*s;
	struct capf_task	 t, g;
	struct store_cert	 c, r;
	char			 path[1024];

	if ((s = fresh("atomic")) == NULL)
		return;
	snprintf(path, sizeof(path), "%s/atomic.db", unit_tmpdir());
	task_init(&t, "SEP000000000001", CAPF_OP_INSTALL);
	CU_ASSERT_EQUAL(store_capf_put(s, &t, NULL), 0);
	cert_init(&c, "0A", t.device, 1000, PEM_A);
	CU_ASSERT_EQUAL(store_cert_add(s, &c), 0);
	CU_ASSERT_EQUAL(raw_exec(path, "CREATE TRIGGER boom BEFORE UPDATE OF "
	    "op ON capf_tasks BEGIN SELECT RAISE(ABORT, 'boom'); END"), 0);
	UNIT_FAILS(store_cert_installed(s, t.device, "0A", 1001), UC_ERR_ARG,
	    "boom");
	CU_ASSERT_EQUAL(store_cert_get(s, "0A", &r), 0);
	CU_ASSERT_EQUAL(r.state, STORE_CERT_ISSUED);
	store_cert_clear(&r);
	CU_ASSERT_EQUAL(store_capf_get(s, t.device, &g), 0);
	CU_ASSERT_EQUAL(g.op, CAPF_OP_INSTALL);
	CU_ASSERT_STRING_EQUAL(raw_text(path, "SELECT state FROM certificates"),
	    "0");
	/* The connection is usable afterwards. */
	CU_ASSERT_EQUAL(raw_exec(path, "DROP TRIGGER boom"), 0);
	CU_ASSERT_EQUAL(store_cert_installed(s, t.device, "0A", 1002), 0);
	CU_ASSERT_STRING_EQUAL(raw_text(path, "SELECT state FROM certificates"),
	    "1");
	store_close(s);
}

static void
test_cert_current_prefers_installed(void)
{
	struct store		*s;
	struct capf_task	 t, g;
	struct store_cert	 c, r;
	int			 n;

	if ((s = fresh("current")) == NULL)
		return;
	task_init(&t, "SEP000000000001", CAPF_OP_INSTALL);
	CU_ASSERT_EQUAL(store_capf_put(s, &t, NULL), 0);
	UNIT_FAILS(store_cert_current(s, t.device, &r), UC_ERR_NOTFOUND,
	    "SEP000000000001");
	cert_init(&c, "AA", t.device, 100, PEM_A);
	CU_ASSERT_EQUAL(store_cert_add(s, &c), 0);
	CU_ASSERT_EQUAL(store_cert_current(s, t.device, &r), 0);
	CU_ASSERT_STRING_EQUAL(r.serial, "AA");		/* issued only */
	store_cert_clear(&r);
	CU_ASSERT_EQUAL(store_cert_installed(s, t.device, "AA", 101), 0);
	/* A newer issued certificate does not displace the installed one. */
	CU_ASSERT_EQUAL(store_capf_put(s, &t, NULL), 0);
	cert_init(&c, "BB", t.device, 200, PEM_B);
	CU_ASSERT_EQUAL(store_cert_add(s, &c), 0);
	CU_ASSERT_EQUAL(store_cert_current(s, t.device, &r), 0);
	CU_ASSERT_STRING_EQUAL(r.serial, "AA");
	store_cert_clear(&r);
	CU_ASSERT_EQUAL(store_cert_installed(s, t.device, "BB", 201), 0);
	CU_ASSERT_EQUAL(store_cert_current(s, t.device, &r), 0);
	CU_ASSERT_STRING_EQUAL(r.serial, "BB");
	CU_ASSERT_STRING_EQUAL(r.pem, PEM_B);
	store_cert_clear(&r);

	/* Delete: every certificate deleted, no current, op back to none. */
	t.op = CAPF_OP_DELETE;
	CU_ASSERT_EQUAL(store_capf_put(s, &t, NULL), 0);
	CU_ASSERT_EQUAL(store_cert_deleted(s, t.device, 300), 0);
	UNIT_FAILS(store_cert_current(s, t.device, &r), UC_ERR_NOTFOUND, NULL);
	CU_ASSERT_EQUAL(store_cert_get(s, "AA", &r), 0);
	CU_ASSERT_EQUAL(r.state, STORE_CERT_DELETED);
	store_cert_clear(&r);
	CU_ASSERT_EQUAL(store_capf_get(s, t.device, &g), 0);
	CU_ASSERT_EQUAL(g.op, CAPF_OP_NONE);
	CU_ASSERT_EQUAL(g.status, CAPF_ST_SUCCESS);
	CU_ASSERT_EQUAL(g.updated, 300);
	CU_ASSERT_EQUAL(store_cert_count(s, t.device, &n), 0);
	CU_ASSERT_EQUAL(n, 2);
	UNIT_FAILS(store_cert_deleted(s, "SEP000000000002", 1),
	    UC_ERR_NOTFOUND, "SEP000000000002");
	store_close(s);
}

static void
test_cert_fetched_records_and_completes(void)
{
	struct store		*s;
	struct capf_task	 t, g;
	struct store_cert	 c, r;

	if ((s = fresh("fetch")) == NULL)
		return;
	task_init(&t, "SEP000000000001", CAPF_OP_FETCH);
	CU_ASSERT_EQUAL(store_capf_put(s, &t, NULL), 0);
	/* A certificate this store never issued. */
	cert_init(&c, "C0FFEE", t.device, 0, PEM_A);
	CU_ASSERT_EQUAL(store_cert_fetched(s, &c, 500), 0);
	CU_ASSERT_EQUAL(store_cert_get(s, "C0FFEE", &r), 0);
	CU_ASSERT_EQUAL(r.state, STORE_CERT_FETCHED);
	CU_ASSERT_EQUAL(r.issued, 500);
	store_cert_clear(&r);
	CU_ASSERT_EQUAL(store_capf_get(s, t.device, &g), 0);
	CU_ASSERT_EQUAL(g.op, CAPF_OP_NONE);
	CU_ASSERT_EQUAL(g.status, CAPF_ST_SUCCESS);
	CU_ASSERT_EQUAL(g.updated, 500);

	/* Fetching it again keeps the one row. */
	CU_ASSERT_EQUAL(store_cert_fetched(s, &c, 600), 0);
	CU_ASSERT_EQUAL(store_cert_get(s, "C0FFEE", &r), 0);
	CU_ASSERT_STRING_EQUAL(r.pem, PEM_A);
	CU_ASSERT_EQUAL(r.issued, 500);
	store_cert_clear(&r);
	/* Other contents under that serial: refused, record unchanged. */
	cert_init(&c, "C0FFEE", t.device, 0, PEM_B);
	UNIT_FAILS(store_cert_fetched(s, &c, 650), UC_ERR_POLICY, "C0FFEE");
	/* Another device presenting that serial cannot take the record. */
	task_init(&g, "SEP000000000002", CAPF_OP_FETCH);
	CU_ASSERT_EQUAL(store_capf_put(s, &g, NULL), 0);
	cert_init(&c, "C0FFEE", g.device, 0, PEM_A);
	UNIT_FAILS(store_cert_fetched(s, &c, 660), UC_ERR_POLICY,
	    "another device");
	CU_ASSERT_EQUAL(store_cert_get(s, "C0FFEE", &r), 0);
	CU_ASSERT_STRING_EQUAL(r.device, t.device);
	CU_ASSERT_STRING_EQUAL(r.pem, PEM_A);
	store_cert_clear(&r);

	/* A fetch of the certificate known installed keeps it installed. */
	cert_init(&c, "0B", t.device, 700, PEM_A);
	CU_ASSERT_EQUAL(store_cert_add(s, &c), 0);
	CU_ASSERT_EQUAL(store_cert_installed(s, t.device, "0B", 701), 0);
	CU_ASSERT_EQUAL(store_cert_fetched(s, &c, 800), 0);
	CU_ASSERT_EQUAL(store_cert_get(s, "0B", &r), 0);
	CU_ASSERT_EQUAL(r.state, STORE_CERT_INSTALLED);
	store_cert_clear(&r);
	CU_ASSERT_EQUAL(store_cert_current(s, t.device, &r), 0);
	CU_ASSERT_STRING_EQUAL(r.serial, "0B");
	store_cert_clear(&r);

	cert_init(&c, "0C", "SEP000000000009", 1, PEM_A);
	UNIT_FAILS(store_cert_fetched(s, &c, 900), UC_ERR_NOTFOUND,
	    "SEP000000000009");
	store_close(s);
}

static int
collect_serials(const struct store_cert *c, void *arg)
{
	char	*buf = arg;

	if (c->pem == NULL || strcmp(c->pem, PEM_A) != 0)
		strcat(buf, "!");
	strcat(buf, c->serial);
	strcat(buf, ",");
	return 0;
}

static void
test_cert_list_and_count(void)
{
	struct store		*s;
	struct capf_task	 t;
	struct store_cert	 c;
	char			 buf[256] = "";
	int			 n = -1;

	if ((s = fresh("certlist")) == NULL)
		return;
	task_init(&t, "SEP000000000002", CAPF_OP_INSTALL);
	CU_ASSERT_EQUAL(store_capf_put(s, &t, NULL), 0);
	task_init(&t, "SEP000000000001", CAPF_OP_INSTALL);
	CU_ASSERT_EQUAL(store_capf_put(s, &t, NULL), 0);
	cert_init(&c, "03", "SEP000000000001", 300, PEM_A);
	CU_ASSERT_EQUAL(store_cert_add(s, &c), 0);
	cert_init(&c, "01", "SEP000000000001", 100, PEM_A);
	CU_ASSERT_EQUAL(store_cert_add(s, &c), 0);
	cert_init(&c, "02", "SEP000000000002", 200, PEM_A);
	CU_ASSERT_EQUAL(store_cert_add(s, &c), 0);

	CU_ASSERT_EQUAL(store_cert_list(s, NULL, collect_serials, buf), 0);
	CU_ASSERT_STRING_EQUAL(buf, "01,03,02,");
	buf[0] = '\0';
	CU_ASSERT_EQUAL(store_cert_list(s, "SEP000000000002", collect_serials,
	    buf), 0);
	CU_ASSERT_STRING_EQUAL(buf, "02,");
	buf[0] = '\0';
	CU_ASSERT_EQUAL(store_cert_list(s, "SEP000000000003", collect_serials,
	    buf), 0);
	CU_ASSERT_STRING_EQUAL(buf, "");
	CU_ASSERT_EQUAL(store_cert_count(s, NULL, &n), 0);
	CU_ASSERT_EQUAL(n, 3);
	CU_ASSERT_EQUAL(store_cert_count(s, "SEP000000000001", &n), 0);
	CU_ASSERT_EQUAL(n, 2);
	CU_ASSERT_EQUAL(store_cert_count(s, "SEP000000000003", &n), 0);
	CU_ASSERT_EQUAL(n, 0);
	/* Deleting a device deletes its certificates. */
	CU_ASSERT_EQUAL(store_device_del(s, "SEP000000000001"), 0);
	CU_ASSERT_EQUAL(store_cert_count(s, NULL, &n), 0);
	CU_ASSERT_EQUAL(n, 1);
	store_close(s);
}

static int
collect_trust(const struct store_trust *t, void *arg)
{
	char	*buf = arg;

	strcat(buf, t->store);
	strcat(buf, ":");
	strcat(buf, t->subject);
	strcat(buf, t->pem != NULL && t->pem[0] == '-' ? "," : "!,");
	return 0;
}

static void
test_trust_add_list_del(void)
{
	struct store		*s;
	struct store_trust	 t;
	char			 buf[512] = "";

	if ((s = fresh("trust")) == NULL)
		return;
	memset(&t, 0, sizeof(t));
	snprintf(t.store, sizeof(t.store), "capf");
	snprintf(t.sha256, sizeof(t.sha256), SHA_A);
	snprintf(t.subject, sizeof(t.subject), "CN=B");
	t.not_after = 99;
	t.pem = (char *)PEM_A;
	CU_ASSERT_EQUAL(store_trust_add(s, &t), 0);
	snprintf(t.sha256, sizeof(t.sha256), SHA_B);
	snprintf(t.subject, sizeof(t.subject), "CN=A");
	CU_ASSERT_EQUAL(store_trust_add(s, &t), 0);
	snprintf(t.store, sizeof(t.store), "callmanager");
	CU_ASSERT_EQUAL(store_trust_add(s, &t), 0);
	/* Adding the same fingerprint again updates the entry. */
	snprintf(t.subject, sizeof(t.subject), "CN=A2");
	CU_ASSERT_EQUAL(store_trust_add(s, &t), 0);

	CU_ASSERT_EQUAL(store_trust_list(s, NULL, collect_trust, buf), 0);
	CU_ASSERT_STRING_EQUAL(buf, "callmanager:CN=A2,capf:CN=A,capf:CN=B,");
	buf[0] = '\0';
	CU_ASSERT_EQUAL(store_trust_list(s, "capf", collect_trust, buf), 0);
	CU_ASSERT_STRING_EQUAL(buf, "capf:CN=A,capf:CN=B,");

	CU_ASSERT_EQUAL(store_trust_del(s, "capf", SHA_A), 0);
	UNIT_FAILS(store_trust_del(s, "capf", SHA_A), UC_ERR_NOTFOUND,
	    "capf");
	buf[0] = '\0';
	CU_ASSERT_EQUAL(store_trust_list(s, "capf", collect_trust, buf), 0);
	CU_ASSERT_STRING_EQUAL(buf, "capf:CN=A,");

	/* Refusals. */
	snprintf(t.sha256, sizeof(t.sha256), "%s", SHA_A);
	t.sha256[0] = 'A';
	UNIT_FAILS(store_trust_add(s, &t), UC_ERR_ARG, "SHA-256");
	UNIT_FAILS(store_trust_del(s, "capf", "00"), UC_ERR_ARG, "SHA-256");
	snprintf(t.sha256, sizeof(t.sha256), "%s", SHA_A);
	snprintf(t.store, sizeof(t.store), "Bad Store");
	UNIT_FAILS(store_trust_add(s, &t), UC_ERR_ARG, "trust store name");
	snprintf(t.store, sizeof(t.store), "capf");
	t.pem = NULL;
	UNIT_FAILS(store_trust_add(s, &t), UC_ERR_ARG, "PEM");
	store_trust_clear(NULL);
	store_close(s);
}

static void
test_keyspec_round_trips_and_rejects(void)
{
	static const struct {
		const char	*in;
		const char	*out;
		int		 type, bits, curve;
	} good[] = {
		{ "rsa:1024", "rsa:1024", CAPF_KEY_RSA, 1024, 0 },
		{ "rsa:2048", "rsa:2048", CAPF_KEY_RSA, 2048, 0 },
		{ "RSA:3072", "rsa:3072", CAPF_KEY_RSA, 3072, 0 },
		{ "rsa:4096", "rsa:4096", CAPF_KEY_RSA, 4096, 0 },
		{ "ec:P-256", "ec:P-256", CAPF_KEY_EC, 0, CAPF_CURVE_P256 },
		{ "ec:p-384", "ec:P-384", CAPF_KEY_EC, 0, CAPF_CURVE_P384 },
		{ "EC:P-521", "ec:P-521", CAPF_KEY_EC, 0, CAPF_CURVE_P521 },
		{ "ec:prime256v1", "ec:P-256", CAPF_KEY_EC, 0,
		    CAPF_CURVE_P256 },
		{ "ec:secp384r1", "ec:P-384", CAPF_KEY_EC, 0,
		    CAPF_CURVE_P384 },
		{ "ec:SECP521R1", "ec:P-521", CAPF_KEY_EC, 0,
		    CAPF_CURVE_P521 },
	};
	static const char *const bad[] = {
		"", "rsa", "rsa:", "rsa:512", "rsa:2047", "rsa:02048",
		"rsa:2048 ", " rsa:2048", "rsa:+2048", "rsa:8192", "rsa:2048x",
		"ec", "ec:", "ec:P-224", "ec:P256", "ec:secp256k1",
		"ec:P-256:", "dsa:2048", "rsa;2048", "ed25519",
	};
	char	 buf[32];
	size_t	 i;
	int	 type, bits, curve;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		type = bits = curve = -1;
		CU_ASSERT_EQUAL(capf_keyspec_parse(good[i].in, &type, &bits,
		    &curve), 0);
		CU_ASSERT_EQUAL(type, good[i].type);
		CU_ASSERT_EQUAL(bits, good[i].bits);
		CU_ASSERT_EQUAL(curve, good[i].curve);
		CU_ASSERT_EQUAL(capf_keyspec_text(type, bits, curve, buf,
		    sizeof(buf)), 0);
		CU_ASSERT_STRING_EQUAL(buf, good[i].out);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		type = bits = curve = -1;
		UNIT_FAILS(capf_keyspec_parse(bad[i], &type, &bits, &curve),
		    UC_ERR_ARG, "key spec");
		CU_ASSERT_EQUAL(type, -1);
	}
	UNIT_FAILS(capf_keyspec_parse(NULL, &type, &bits, &curve), UC_ERR_ARG,
	    NULL);
	UNIT_FAILS(capf_keyspec_parse("rsa:2048rsa:2048rsa:2048rsa:2048rsa:"
	    "2048rsa:2048", &type, &bits, &curve), UC_ERR_ARG, "2048rsa:...\"");
	UNIT_FAILS(capf_keyspec_text(CAPF_KEY_RSA, 512, 0, buf, sizeof(buf)),
	    UC_ERR_ARG, "512");
	UNIT_FAILS(capf_keyspec_text(CAPF_KEY_EC, 0, 3, buf, sizeof(buf)),
	    UC_ERR_ARG, "curve");
	UNIT_FAILS(capf_keyspec_text(2, 2048, 0, buf, sizeof(buf)),
	    UC_ERR_ARG, NULL);
	UNIT_FAILS(capf_keyspec_text(CAPF_KEY_RSA, 2048, 0, buf, 8),
	    UC_ERR_ARG, "small");
	CU_ASSERT_EQUAL(capf_keyspec_text(CAPF_KEY_RSA, 2048, 0, buf, 9), 0);
}

static void
test_names_and_parsers(void)
{
	int	 v = -1, i;

	CU_ASSERT_STRING_EQUAL(capf_op_name(CAPF_OP_NONE), "none");
	CU_ASSERT_STRING_EQUAL(capf_op_name(CAPF_OP_INSTALL), "install");
	CU_ASSERT_STRING_EQUAL(capf_op_name(CAPF_OP_FETCH), "fetch");
	CU_ASSERT_STRING_EQUAL(capf_op_name(CAPF_OP_DELETE), "delete");
	CU_ASSERT_STRING_EQUAL(capf_op_name(4), "unknown");
	CU_ASSERT_STRING_EQUAL(capf_op_name(-1), "unknown");
	CU_ASSERT_STRING_EQUAL(capf_auth_name(CAPF_AUTH_NONE), "none");
	CU_ASSERT_STRING_EQUAL(capf_auth_name(CAPF_AUTH_PASSWORD), "password");
	CU_ASSERT_STRING_EQUAL(capf_auth_name(CAPF_AUTH_LSC), "lsc");
	CU_ASSERT_STRING_EQUAL(capf_auth_name(CAPF_AUTH_MIC), "mic");
	CU_ASSERT_STRING_EQUAL(capf_auth_name(CAPF_AUTH_LSC_OR_MIC),
	    "lsc-or-mic");
	CU_ASSERT_STRING_EQUAL(capf_auth_name(5), "unknown");
	CU_ASSERT_STRING_EQUAL(capf_status_name(CAPF_ST_PENDING), "pending");
	CU_ASSERT_STRING_EQUAL(capf_status_name(CAPF_ST_IN_PROGRESS),
	    "in-progress");
	CU_ASSERT_STRING_EQUAL(capf_status_name(CAPF_ST_SUCCESS), "success");
	CU_ASSERT_STRING_EQUAL(capf_status_name(CAPF_ST_FAILED), "failed");
	CU_ASSERT_STRING_EQUAL(capf_status_name(CAPF_ST_EXPIRED), "expired");
	CU_ASSERT_STRING_EQUAL(capf_status_name(5), "unknown");
	CU_ASSERT_STRING_EQUAL(store_cert_state_name(STORE_CERT_ISSUED),
	    "issued");
	CU_ASSERT_STRING_EQUAL(store_cert_state_name(STORE_CERT_INSTALLED),
	    "installed");
	CU_ASSERT_STRING_EQUAL(store_cert_state_name(STORE_CERT_FETCHED),
	    "fetched");
	CU_ASSERT_STRING_EQUAL(store_cert_state_name(STORE_CERT_DELETED),
	    "deleted");
	CU_ASSERT_STRING_EQUAL(store_cert_state_name(4), "unknown");

	for (i = CAPF_OP_NONE; i <= CAPF_OP_DELETE; i++) {
		CU_ASSERT_EQUAL(capf_op_parse(capf_op_name(i), &v), 0);
		CU_ASSERT_EQUAL(v, i);
	}
	for (i = CAPF_AUTH_NONE; i <= CAPF_AUTH_LSC_OR_MIC; i++) {
		CU_ASSERT_EQUAL(capf_auth_parse(capf_auth_name(i), &v), 0);
		CU_ASSERT_EQUAL(v, i);
	}
	CU_ASSERT_EQUAL(capf_op_parse("INSTALL", &v), 0);
	CU_ASSERT_EQUAL(v, CAPF_OP_INSTALL);
	v = -1;
	UNIT_FAILS(capf_op_parse("update", &v), UC_ERR_ARG, "update");
	UNIT_FAILS(capf_op_parse("in\nstall", &v), UC_ERR_ARG, "\"in?stall\"");
	UNIT_FAILS(capf_op_parse("", &v), UC_ERR_ARG, NULL);
	UNIT_FAILS(capf_op_parse("unknown", &v), UC_ERR_ARG, NULL);
	UNIT_FAILS(capf_auth_parse("lsc_or_mic", &v), UC_ERR_ARG,
	    "lsc-or-mic");
	UNIT_FAILS(capf_auth_parse(NULL, &v), UC_ERR_ARG, NULL);
	CU_ASSERT_EQUAL(v, -1);
}

static void
test_second_connection_sees_commits(void)
{
	struct store		*a, *b = NULL;
	struct capf_task	 t, g;
	char			 path[1024];

	if ((a = fresh("two")) == NULL)
		return;
	snprintf(path, sizeof(path), "%s/two.db", unit_tmpdir());
	CU_ASSERT_EQUAL_FATAL(store_open(path, 0, &b), 0);
	task_init(&t, "SEP000000000001", CAPF_OP_INSTALL);
	CU_ASSERT_EQUAL(store_capf_put(a, &t, NULL), 0);
	CU_ASSERT_EQUAL(store_capf_get(b, t.device, &g), 0);
	CU_ASSERT_EQUAL(g.op, CAPF_OP_INSTALL);
	CU_ASSERT_EQUAL(store_capf_begin(b, t.device, 1500), 0);
	CU_ASSERT_EQUAL(store_capf_get(a, t.device, &g), 0);
	CU_ASSERT_EQUAL(g.status, CAPF_ST_IN_PROGRESS);

	/* An open bulk transaction is invisible until commit. */
	CU_ASSERT_EQUAL(store_begin(a), 0);
	task_init(&t, "SEP000000000002", CAPF_OP_FETCH);
	CU_ASSERT_EQUAL(store_capf_put(a, &t, NULL), 0);
	CU_ASSERT_EQUAL(store_capf_get(a, t.device, &g), 0);
	UNIT_FAILS(store_capf_get(b, t.device, &g), UC_ERR_NOTFOUND, NULL);
	CU_ASSERT_EQUAL(store_commit(a), 0);
	CU_ASSERT_EQUAL(store_capf_get(b, t.device, &g), 0);
	CU_ASSERT_EQUAL(g.op, CAPF_OP_FETCH);

	/* A read-only third connection sees it too. */
	store_close(b);
	CU_ASSERT_EQUAL_FATAL(store_open(path, STORE_RDONLY, &b), 0);
	CU_ASSERT_EQUAL(store_capf_get(b, t.device, &g), 0);
	store_close(b);
	store_close(a);
}

/*
 * store_generation moves when another connection commits; a read, a
 * rolled-back bulk transaction and a failed write on the other side
 * leave it alone.
 */
static void
test_generation_moves_on_other_commits(void)
{
	struct store		*a, *b = NULL;
	struct store_sipdev	 d;
	char			 path[1024];
	uint64_t		 g0, g1, g2;

	if ((a = fresh("gen")) == NULL)
		return;
	snprintf(path, sizeof(path), "%s/gen.db", unit_tmpdir());
	CU_ASSERT_EQUAL_FATAL(store_open(path, 0, &b), 0);
	g0 = store_generation(a);
	CU_ASSERT_NOT_EQUAL(g0, 0);
	CU_ASSERT_EQUAL(store_generation(a), g0);
	CU_ASSERT_EQUAL(store_sipdev_get(b, "SEPAAAAAAAAAAAA", &d),
	    UC_ERR_NOTFOUND);
	CU_ASSERT_EQUAL(store_generation(a), g0);

	/* b commits: a's number moves (and stays put until the next). */
	memset(&d, 0, sizeof(d));
	snprintf(d.name, sizeof(d.name), "SEPAAAAAAAAAAAA");
	snprintf(d.extension, sizeof(d.extension), "1001");
	CU_ASSERT_EQUAL(store_sipdev_put(b, &d), 0);
	g1 = store_generation(a);
	CU_ASSERT_NOT_EQUAL(g1, 0);
	CU_ASSERT_NOT_EQUAL(g1, g0);
	CU_ASSERT_EQUAL(store_generation(a), g1);

	/* Nothing committed on b: no change. */
	CU_ASSERT_EQUAL(store_begin(b), 0);
	CU_ASSERT_EQUAL(store_sipdev_put(b, &d), 0);
	CU_ASSERT_EQUAL(store_rollback(b), 0);
	snprintf(d.extension, sizeof(d.extension), "bad ext");
	UNIT_FAILS(store_sipdev_put(b, &d), UC_ERR_ARG, "extension");
	CU_ASSERT_EQUAL(store_generation(a), g1);

	/* A bulk commit counts once it is committed. */
	CU_ASSERT_EQUAL(store_begin(b), 0);
	snprintf(d.extension, sizeof(d.extension), "1002");
	CU_ASSERT_EQUAL(store_sipdev_put(b, &d), 0);
	CU_ASSERT_EQUAL(store_generation(a), g1);
	CU_ASSERT_EQUAL(store_commit(b), 0);
	g2 = store_generation(a);
	CU_ASSERT_NOT_EQUAL(g2, g1);
	CU_ASSERT_EQUAL(store_sipdev_get(a, "SEPAAAAAAAAAAAA", &d), 0);
	CU_ASSERT_STRING_EQUAL(d.extension, "1002");

	/* A raw connection's commit (another process) counts too. */
	CU_ASSERT_EQUAL(raw_exec(path, "UPDATE devices SET extension = "
	    "'1003'"), 0);
	CU_ASSERT_NOT_EQUAL(store_generation(a), g2);
	store_close(b);
	store_close(a);
}

static void
test_bulk_rollback_and_failed_call_inside(void)
{
	struct store		*s;
	struct capf_task	 t, g;
	struct store_cert	 c;
	struct store_device	 d;
	char			 path[1024];

	if ((s = fresh("bulk-rb")) == NULL)
		return;
	UNIT_FAILS(store_commit(s), UC_ERR_INTERNAL, "without");
	CU_ASSERT_EQUAL(store_rollback(s), 0);
	CU_ASSERT_EQUAL(store_begin(s), 0);
	UNIT_FAILS(store_begin(s), UC_ERR_INTERNAL, "already");
	task_init(&t, "SEP000000000001", CAPF_OP_INSTALL);
	CU_ASSERT_EQUAL(store_capf_put(s, &t, NULL), 0);
	CU_ASSERT_EQUAL(store_rollback(s), 0);
	UNIT_FAILS(store_capf_get(s, t.device, &g), UC_ERR_NOTFOUND, NULL);

	/*
	 * A failing call undoes only itself; the import goes on.  The
	 * trigger fails the task insert after the device row was written.
	 */
	snprintf(path, sizeof(path), "%s/bulk-rb.db", unit_tmpdir());
	CU_ASSERT_EQUAL(raw_exec(path, "CREATE TRIGGER no8 BEFORE INSERT ON "
	    "capf_tasks WHEN new.device = 'SEP000000000008' BEGIN "
	    "SELECT RAISE(ABORT, 'refused'); END"), 0);
	CU_ASSERT_EQUAL(store_begin(s), 0);
	CU_ASSERT_EQUAL(store_capf_put(s, &t, NULL), 0);
	cert_init(&c, "01", "SEP000000000009", 1, PEM_A);
	UNIT_FAILS(store_cert_add(s, &c), UC_ERR_NOTFOUND, NULL);
	task_init(&t, "SEP000000000008", CAPF_OP_INSTALL);
	UNIT_FAILS(store_capf_put(s, &t, NULL), UC_ERR_ARG, "refused");
	task_init(&t, "SEP000000000002", CAPF_OP_INSTALL);
	CU_ASSERT_EQUAL(store_capf_put(s, &t, NULL), 0);
	CU_ASSERT_EQUAL(store_commit(s), 0);
	CU_ASSERT_EQUAL(store_capf_get(s, "SEP000000000001", &g), 0);
	CU_ASSERT_EQUAL(store_capf_get(s, "SEP000000000002", &g), 0);
	UNIT_FAILS(store_device_get(s, "SEP000000000008", &d),
	    UC_ERR_NOTFOUND, NULL);
	/* Outside a bulk transaction too. */
	task_init(&t, "SEP000000000008", CAPF_OP_INSTALL);
	UNIT_FAILS(store_capf_put(s, &t, NULL), UC_ERR_ARG, "refused");
	UNIT_FAILS(store_device_get(s, "SEP000000000008", &d),
	    UC_ERR_NOTFOUND, NULL);
	/* Closing with a bulk transaction open rolls it back. */
	CU_ASSERT_EQUAL(store_begin(s), 0);
	task_init(&t, "SEP000000000003", CAPF_OP_INSTALL);
	CU_ASSERT_EQUAL(store_capf_put(s, &t, NULL), 0);
	store_close(s);
	CU_ASSERT_STRING_EQUAL(raw_text(path,
	    "SELECT count(*) FROM capf_tasks"), "2");
}

static int
count_tasks(const struct capf_task *t, void *arg)
{
	(void)t;
	++*(int *)arg;
	return 0;
}

static void
test_bulk_import_of_5000_tasks(void)
{
	struct store		*s;
	struct capf_task	 t;
	double			 t0, dt, dth;
	int			 i, n = 0, ok = 0, nh = 10;

	if ((s = fresh("bulk")) == NULL)
		return;
	t0 = mono();
	CU_ASSERT_EQUAL_FATAL(store_begin(s), 0);
	for (i = 0; i < 5000; i++) {
		task_init(&t, "", CAPF_OP_INSTALL);
		snprintf(t.device, sizeof(t.device), "SEP%012X", i);
		t.deadline = 100000 + i;
		ok += store_capf_put(s, &t, NULL) == 0;
	}
	CU_ASSERT_EQUAL(store_commit(s), 0);
	dt = mono() - t0;
	CU_ASSERT_EQUAL(ok, 5000);
	CU_ASSERT_EQUAL(store_capf_list(s, count_tasks, &n), 0);
	CU_ASSERT_EQUAL(n, 5000);

	/* The same with auth strings, for a sample: PBKDF2 dominates. */
	t0 = mono();
	CU_ASSERT_EQUAL_FATAL(store_begin(s), 0);
	for (i = 0, ok = 0; i < nh; i++) {
		task_init(&t, "", CAPF_OP_INSTALL);
		snprintf(t.device, sizeof(t.device), "SEP%012X", i);
		ok += store_capf_put(s, &t, "20240611") == 0;
	}
	CU_ASSERT_EQUAL(store_commit(s), 0);
	dth = (mono() - t0) / nh;
	CU_ASSERT_EQUAL(ok, nh);
	fprintf(stderr, "\n  [store] bulk import: 5000 tasks in %.3f s "
	    "without auth strings; with: %.2f ms each (5000: ~%.0f s)\n", dt,
	    dth * 1000, dth * 5000);
	CU_ASSERT(dt < 10);
	store_close(s);
}

struct walk {
	struct store	*s;		/* the walking handle */
	struct store	*other;		/* another connection that writes */
	int		 n;
};

/*
 * A list callback may write through the same handle, even after another
 * connection committed during the walk.
 */
static int
fail_each(const struct capf_task *t, void *arg)
{
	struct walk		*w = arg;
	struct capf_task	 nt;

	if (w->n++ == 0) {
		task_init(&nt, "SEP999999999999", CAPF_OP_FETCH);
		if (store_capf_put(w->other, &nt, NULL) != 0)
			return -100;
	}
	if (strcmp(t->device, "SEP999999999999") == 0)
		return 0;
	return store_capf_finish(w->s, t->device, CAPF_ST_FAILED, "walked",
	    9);
}

static int
check_failed(const struct capf_task *t, void *arg)
{
	if (strcmp(t->device, "SEP999999999999") != 0 &&
	    (t->status != CAPF_ST_FAILED || strcmp(t->reason, "walked") != 0))
		++*(int *)arg;
	return 0;
}

static void
test_list_callback_may_write(void)
{
	struct store		*s, *o = NULL;
	struct capf_task	 t;
	struct walk		 w;
	char			 path[1024];
	int			 i, bad = 0;

	if ((s = fresh("walk")) == NULL)
		return;
	snprintf(path, sizeof(path), "%s/walk.db", unit_tmpdir());
	CU_ASSERT_EQUAL_FATAL(store_open(path, 0, &o), 0);
	for (i = 0; i < 300; i++) {
		task_init(&t, "", CAPF_OP_INSTALL);
		snprintf(t.device, sizeof(t.device), "SEP%012d", i);
		CU_ASSERT_EQUAL(store_capf_put(s, &t, NULL), 0);
	}
	w.s = s;
	w.other = o;
	w.n = 0;
	unit_clear_err();
	CU_ASSERT_EQUAL(store_capf_list(s, fail_each, &w), 0);
	if (uc_errdetail()[0] != '\0')
		fprintf(stderr, "\n  %s\n", uc_errdetail());
	CU_ASSERT(w.n == 300 || w.n == 301);	/* the new task: either */
	CU_ASSERT_EQUAL(store_capf_list(s, check_failed, &bad), 0);
	CU_ASSERT_EQUAL(bad, 0);
	store_close(o);
	store_close(s);
}

#define NPROC	4	/* writer processes */
#define NWRITE	100	/* sessions each */

/* One writer process: race to create the file, then write sessions. */
static int
writer(const char *path, int id)
{
	struct store		*s = NULL;
	struct capf_task	 t;
	int			 i, bad = 0;

	alarm(60);
	if (store_open(path, STORE_CREATE, &s) != 0) {
		fprintf(stderr, "\n  writer %d: %s\n", id, uc_errdetail());
		return 1;
	}
	if (id == 0)		/* one bulk import among the single writes */
		bad += store_begin(s) != 0;
	for (i = 0; i < NWRITE; i++) {
		task_init(&t, "", CAPF_OP_INSTALL);
		snprintf(t.device, sizeof(t.device), "SEP%02d%010d", id, i);
		bad += store_capf_put(s, &t, NULL) != 0;
		if (id != 0) {
			bad += store_capf_begin(s, t.device, 10) != 0;
			bad += store_capf_finish(s, t.device, CAPF_ST_FAILED,
			    "x", 11) != 0;
		}
	}
	if (id == 0)
		bad += store_commit(s) != 0;
	if (bad)
		fprintf(stderr, "\n  writer %d: %d failures, last: %s\n", id,
		    bad, uc_errdetail());
	store_close(s);
	return bad != 0;
}

static void
test_processes_share_the_file(void)
{
	struct store	*s = NULL;
	pid_t		 pid[NPROC];
	char		 path[1024];
	int		 i, status, ok = 0, n = 0;

	snprintf(path, sizeof(path), "%s", dbpath("procs"));
	fflush(stdout);
	fflush(stderr);
	for (i = 0; i < NPROC; i++) {
		if ((pid[i] = fork()) == -1)
			CU_FAIL_FATAL("fork");
		if (pid[i] == 0)
			_exit(writer(path, i));
	}
	for (i = 0; i < NPROC; i++)
		if (waitpid(pid[i], &status, 0) == pid[i] &&
		    WIFEXITED(status) && WEXITSTATUS(status) == 0)
			ok++;
	CU_ASSERT_EQUAL(ok, NPROC);
	CU_ASSERT_EQUAL_FATAL(store_open(path, STORE_RDONLY, &s), 0);
	CU_ASSERT_EQUAL(store_capf_list(s, count_tasks, &n), 0);
	CU_ASSERT_EQUAL(n, NPROC * NWRITE);
	store_close(s);
}

/* capfd's per-session calls, 1000 times: the rate it can sustain. */
static void
test_hot_path_rate(void)
{
	struct store		*s;
	struct capf_task	 t, g;
	struct store_cert	 c;
	double			 t0, dt;
	int			 i, bad = 0, n = 1000;

	if ((s = fresh("hot")) == NULL)
		return;
	CU_ASSERT_EQUAL_FATAL(store_begin(s), 0);
	for (i = 0; i < n; i++) {
		task_init(&t, "", CAPF_OP_INSTALL);
		snprintf(t.device, sizeof(t.device), "SEP%012d", i);
		bad += store_capf_put(s, &t, NULL) != 0;
	}
	CU_ASSERT_EQUAL_FATAL(store_commit(s), 0);
	t0 = mono();
	for (i = 0; i < n; i++) {
		snprintf(t.device, sizeof(t.device), "SEP%012d", i);
		bad += store_capf_get(s, t.device, &g) != 0;
		bad += store_capf_begin(s, t.device, 2000) != 0;
		bad += store_capf_finish(s, t.device, CAPF_ST_IN_PROGRESS,
		    "key generation", 2001) != 0;
		cert_init(&c, "", t.device, 2002, PEM_A);
		snprintf(c.serial, sizeof(c.serial), "%08X", i);
		bad += store_cert_add(s, &c) != 0;
		bad += store_cert_installed(s, t.device, c.serial, 2003) != 0;
	}
	dt = mono() - t0;
	CU_ASSERT_EQUAL(bad, 0);
	fprintf(stderr, "\n  [store] hot path: %d sessions (get, begin, "
	    "finish, cert_add, cert_installed) in %.3f s: %.0f sessions/s\n",
	    n, dt, n / dt);
	CU_ASSERT(dt < 10);
	store_close(s);
}

/* The version 1 schema as released (store.c migrations[0]). */
static const char v1_schema[] =
	"PRAGMA application_id = 1969451877;"
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
	"  PRIMARY KEY (store, sha256));"
	"PRAGMA user_version = 1;";

/* Sealed-looking text (the store checks the form, not the crypto). */
#define SEALED_A	"s1:QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB"
#define SEALED_B	"s1:QkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJC"
#define SEALED_C	"s1:Q0NDQ0NDQ0NDQ0NDQ0NDQ0NDQ0NDQ0NDQ0NDQ0NDQ0NDQ0ND=="

static void
sipdev_init(struct store_sipdev *d, const char *name, const char *ext,
    const char *user)
{
	memset(d, 0, sizeof(*d));
	snprintf(d->name, sizeof(d->name), "%s", name);
	snprintf(d->extension, sizeof(d->extension), "%s", ext);
	snprintf(d->digest_user, sizeof(d->digest_user), "%s", user);
	d->proto = STORE_PROTO_SIP;
	d->secmode = STORE_SEC_ENCRYPTED;
}

/*
 * A version 1 file with a device, its CAPF task, a certificate and a
 * trust entry opens as version 2 with every row intact; the new columns
 * are empty and usable at once.  Read-only cannot migrate it.
 */
static void
test_migration_from_v1_keeps_rows(void)
{
	struct store		*s = NULL;
	struct store_device	 d;
	struct store_sipdev	 sd;
	struct capf_task	 t;
	struct store_cert	 c;
	char			 path[1024];

	snprintf(path, sizeof(path), "%s", dbpath("v1"));
	CU_ASSERT_EQUAL_FATAL(raw_exec(path, v1_schema), 0);
	CU_ASSERT_EQUAL_FATAL(raw_exec(path, "INSERT INTO devices VALUES "
	    "('SEP001122334455', 0, 2, 'lobby');"
	    "INSERT INTO capf_tasks (device, op, auth, key_type, key_bits, "
	    "curve, deadline, attempts, pwhash) VALUES ('SEP001122334455', "
	    "1, 1, 0, 2048, 0, 4000000000, 3, 'pbkdf2-sha256$x');"
	    "INSERT INTO certificates VALUES ('0A', 'SEP001122334455', 1, 1, "
	    "2, 3, 'CN=CAPF', 'PEM');"
	    "INSERT INTO trust VALUES ('capf', 'ab', 'CN=root', 9, 'PEM');"),
	    0);
	UNIT_FAILS(store_open(path, STORE_RDONLY, &s), UC_ERR_FORMAT,
	    "needs upgrading to 2");
	CU_ASSERT_PTR_NULL(s);
	CU_ASSERT_EQUAL_FATAL(store_open(path, 0, &s), 0);
	CU_ASSERT_EQUAL(store_schema_version(s), 2);
	CU_ASSERT_STRING_EQUAL(raw_text(path, "PRAGMA user_version"), "2");
	CU_ASSERT_STRING_EQUAL(raw_text(path, "PRAGMA foreign_key_check"),
	    "(no row)");
	CU_ASSERT_STRING_EQUAL(raw_text(path, "PRAGMA integrity_check"), "ok");

	CU_ASSERT_EQUAL(store_device_get(s, "SEP001122334455", &d), 0);
	CU_ASSERT_EQUAL(d.proto, STORE_PROTO_SIP);
	CU_ASSERT_EQUAL(d.secmode, STORE_SEC_ENCRYPTED);
	CU_ASSERT_STRING_EQUAL(d.description, "lobby");
	CU_ASSERT_EQUAL(store_capf_get(s, "SEP001122334455", &t), 0);
	CU_ASSERT_EQUAL(t.op, CAPF_OP_INSTALL);
	CU_ASSERT_EQUAL(t.attempts, 3);
	CU_ASSERT_EQUAL(t.deadline, 4000000000LL);
	CU_ASSERT_STRING_EQUAL(t.pwhash, "pbkdf2-sha256$x");
	CU_ASSERT_EQUAL(store_cert_get(s, "0A", &c), 0);
	CU_ASSERT_EQUAL(c.state, STORE_CERT_INSTALLED);
	store_cert_clear(&c);
	CU_ASSERT_STRING_EQUAL(raw_text(path, "SELECT subject FROM trust"),
	    "CN=root");

	/* The old device has empty SIP settings, and takes new ones. */
	CU_ASSERT_EQUAL(store_sipdev_get(s, "SEP001122334455", &sd), 0);
	CU_ASSERT_STRING_EQUAL(sd.extension, "");
	CU_ASSERT_STRING_EQUAL(sd.digest_user, "");
	CU_ASSERT_STRING_EQUAL(sd.digest_algs, "");
	CU_ASSERT_STRING_EQUAL(raw_text(path, "SELECT count(*) FROM "
	    "pragma_table_info('trunks') WHERE name IN ('digest_algs', "
	    "'out_min_alg')"), "2");
	CU_ASSERT_EQUAL(sd.secmode, STORE_SEC_ENCRYPTED);
	snprintf(sd.extension, sizeof(sd.extension), "1001");
	CU_ASSERT_EQUAL(store_sipdev_put(s, &sd), 0);
	CU_ASSERT_EQUAL(store_sipdev_by_ext(s, "1001", &sd), 0);
	CU_ASSERT_STRING_EQUAL(sd.name, "SEP001122334455");
	CU_ASSERT_EQUAL(store_device_get(s, "SEP001122334455", &d), 0);
	CU_ASSERT_STRING_EQUAL(d.description, "lobby");
	CU_ASSERT_EQUAL(store_capf_get(s, "SEP001122334455", &t), 0);
	CU_ASSERT_EQUAL(t.attempts, 3);
	store_close(s);

	/* Migrated once: reopening (also read-only) changes nothing. */
	CU_ASSERT_EQUAL_FATAL(store_open(path, STORE_RDONLY, &s), 0);
	CU_ASSERT_EQUAL(store_sipdev_get(s, "SEP001122334455", &sd), 0);
	CU_ASSERT_STRING_EQUAL(sd.extension, "1001");
	store_close(s);
}

/*
 * A migration that fails half-way leaves the file at version 1: a
 * table the new schema creates already exists, so 1 -> 2 fails.
 */
static void
test_failed_migration_leaves_v1(void)
{
	struct store	*s = NULL;
	char		 path[1024];

	snprintf(path, sizeof(path), "%s", dbpath("v1bad"));
	CU_ASSERT_EQUAL_FATAL(raw_exec(path, v1_schema), 0);
	CU_ASSERT_EQUAL_FATAL(raw_exec(path, "CREATE TABLE trunks (x)"), 0);
	UNIT_FAILS(store_open(path, 0, &s), UC_ERR_IO, "version 2");
	CU_ASSERT_PTR_NULL(s);
	CU_ASSERT_STRING_EQUAL(raw_text(path, "PRAGMA user_version"), "1");
	/* The columns added before the failure were rolled back too. */
	CU_ASSERT_STRING_EQUAL(raw_text(path, "SELECT count(*) FROM "
	    "pragma_table_info('devices') WHERE name = 'extension'"), "0");
}

static int
collect_sipdev(const struct store_sipdev *d, void *arg)
{
	char	*buf = arg;
	size_t	 n = strlen(buf);

	snprintf(buf + n, 512 - n, "%s%s=%s", n ? " " : "", d->name,
	    d->extension);
	return 0;
}

static void
test_sipdev_put_get_and_unique_extension(void)
{
	struct store		*s;
	struct store_sipdev	 d, g;
	struct store_device	 dev;
	struct capf_task	 t;
	char			 path[1024], list[512] = "";

	if ((s = fresh("sipdev")) == NULL)
		return;
	snprintf(path, sizeof(path), "%s/sipdev.db", unit_tmpdir());
	sipdev_init(&d, "SEPAAAAAAAAAAAA", "1001", "alice");
	snprintf(d.presence_group, sizeof(d.presence_group), "Sales floor");
	snprintf(d.digest_algs, sizeof(d.digest_algs), "MD5");
	CU_ASSERT_EQUAL(store_sipdev_put(s, &d), 0);
	CU_ASSERT_EQUAL(store_sipdev_get(s, d.name, &g), 0);
	CU_ASSERT_EQUAL(memcmp(&d, &g, sizeof(d)), 0);
	/* The base device row was created with proto and secmode. */
	CU_ASSERT_EQUAL(store_device_get(s, d.name, &dev), 0);
	CU_ASSERT_EQUAL(dev.proto, STORE_PROTO_SIP);
	CU_ASSERT_EQUAL(dev.secmode, STORE_SEC_ENCRYPTED);
	CU_ASSERT_EQUAL(store_sipdev_by_ext(s, "1001", &g), 0);
	CU_ASSERT_STRING_EQUAL(g.name, "SEPAAAAAAAAAAAA");
	CU_ASSERT_STRING_EQUAL(g.digest_user, "alice");
	UNIT_FAILS(store_sipdev_by_ext(s, "1002", &g), UC_ERR_NOTFOUND,
	    "1002");
	CU_ASSERT_STRING_EQUAL(g.name, "");
	UNIT_FAILS(store_sipdev_by_ext(s, "", &g), UC_ERR_ARG, "empty");
	UNIT_FAILS(store_sipdev_by_ext(s, NULL, &g), UC_ERR_ARG, NULL);
	UNIT_FAILS(store_sipdev_get(s, "SEPBBBBBBBBBBBB", &g),
	    UC_ERR_NOTFOUND, "SEPBBBBBBBBBBBB");

	/* Another device cannot take 1001; the same device may keep it. */
	sipdev_init(&d, "SEPBBBBBBBBBBBB", "1001", "");
	UNIT_FAILS(store_sipdev_put(s, &d), UC_ERR_ARG,
	    "already the line of device SEPAAAAAAAAAAAA");
	UNIT_FAILS(store_sipdev_get(s, d.name, &g), UC_ERR_NOTFOUND, NULL);
	snprintf(d.extension, sizeof(d.extension), "1002");
	CU_ASSERT_EQUAL(store_sipdev_put(s, &d), 0);
	sipdev_init(&d, "SEPAAAAAAAAAAAA", "1001", "alice2");
	d.secmode = STORE_SEC_AUTHENTICATED;
	CU_ASSERT_EQUAL(store_sipdev_put(s, &d), 0);
	CU_ASSERT_EQUAL(store_sipdev_get(s, d.name, &g), 0);
	CU_ASSERT_STRING_EQUAL(g.digest_user, "alice2");
	CU_ASSERT_EQUAL(g.secmode, STORE_SEC_AUTHENTICATED);
	CU_ASSERT_STRING_EQUAL(g.presence_group, "");
	CU_ASSERT_STRING_EQUAL(g.digest_algs, "");
	/* The algorithm list round-trips and can be cleared again. */
	snprintf(d.digest_algs, sizeof(d.digest_algs), "SHA-256,MD5");
	CU_ASSERT_EQUAL(store_sipdev_put(s, &d), 0);
	CU_ASSERT_EQUAL(store_sipdev_by_ext(s, "1001", &g), 0);
	CU_ASSERT_STRING_EQUAL(g.digest_algs, "SHA-256,MD5");
	CU_ASSERT_STRING_EQUAL(raw_text(path, "SELECT digest_algs FROM "
	    "devices WHERE name = 'SEPAAAAAAAAAAAA'"), "SHA-256,MD5");
	d.digest_algs[0] = '\0';
	CU_ASSERT_EQUAL(store_sipdev_put(s, &d), 0);
	CU_ASSERT_EQUAL(store_sipdev_get(s, d.name, &g), 0);
	CU_ASSERT_STRING_EQUAL(g.digest_algs, "");
	/* The unique index holds even against a raw write. */
	CU_ASSERT_NOT_EQUAL(raw_exec(path, "UPDATE devices SET extension = "
	    "'1001' WHERE name = 'SEPBBBBBBBBBBBB'"), 0);
	/* Many devices without an extension. */
	sipdev_init(&d, "SEPCCCCCCCCCCCC", "", "");
	CU_ASSERT_EQUAL(store_sipdev_put(s, &d), 0);
	sipdev_init(&d, "SEPDDDDDDDDDDDD", "", "");
	d.proto = STORE_PROTO_SCCP;
	CU_ASSERT_EQUAL(store_sipdev_put(s, &d), 0);
	/* Moving an extension: free it, then take it. */
	sipdev_init(&d, "SEPAAAAAAAAAAAA", "", "alice");
	CU_ASSERT_EQUAL(store_sipdev_put(s, &d), 0);
	sipdev_init(&d, "SEPCCCCCCCCCCCC", "1001", "");
	CU_ASSERT_EQUAL(store_sipdev_put(s, &d), 0);
	CU_ASSERT_EQUAL(store_sipdev_by_ext(s, "1001", &g), 0);
	CU_ASSERT_STRING_EQUAL(g.name, "SEPCCCCCCCCCCCC");

	/* store_device_put and CAPF scheduling keep the SIP settings. */
	CU_ASSERT_EQUAL(store_device_get(s, "SEPCCCCCCCCCCCC", &dev), 0);
	snprintf(dev.description, sizeof(dev.description), "desk");
	CU_ASSERT_EQUAL(store_device_put(s, &dev), 0);
	task_init(&t, "SEPCCCCCCCCCCCC", CAPF_OP_INSTALL);
	CU_ASSERT_EQUAL(store_capf_put(s, &t, NULL), 0);
	CU_ASSERT_EQUAL(store_sipdev_get(s, "SEPCCCCCCCCCCCC", &g), 0);
	CU_ASSERT_STRING_EQUAL(g.extension, "1001");
	/* ... and sipdev_put keeps the description and the task. */
	CU_ASSERT_EQUAL(store_sipdev_put(s, &g), 0);
	CU_ASSERT_EQUAL(store_device_get(s, "SEPCCCCCCCCCCCC", &dev), 0);
	CU_ASSERT_STRING_EQUAL(dev.description, "desk");
	CU_ASSERT_EQUAL(store_capf_get(s, "SEPCCCCCCCCCCCC", &t), 0);

	CU_ASSERT_EQUAL(store_sipdev_list(s, collect_sipdev, list), 0);
	CU_ASSERT_STRING_EQUAL(list, "SEPAAAAAAAAAAAA= SEPBBBBBBBBBBBB=1002 "
	    "SEPCCCCCCCCCCCC=1001 SEPDDDDDDDDDDDD=");

	/* Fields the store refuses. */
	sipdev_init(&d, "SEPEEEEEEEEEEEE", "10 01", "");
	UNIT_FAILS(store_sipdev_put(s, &d), UC_ERR_ARG, "extension");
	sipdev_init(&d, "SEPEEEEEEEEEEEE", "10'01", "");
	UNIT_FAILS(store_sipdev_put(s, &d), UC_ERR_ARG, "extension");
	sipdev_init(&d, "SEPEEEEEEEEEEEE", "1005", "al ice");
	UNIT_FAILS(store_sipdev_put(s, &d), UC_ERR_ARG, "digest user");
	sipdev_init(&d, "SEPEEEEEEEEEEEE", "1005", "al\"ice");
	UNIT_FAILS(store_sipdev_put(s, &d), UC_ERR_ARG, "digest user");
	sipdev_init(&d, "SEPEEEEEEEEEEEE", "1005", "");
	d.secmode = 3;
	UNIT_FAILS(store_sipdev_put(s, &d), UC_ERR_ARG, "security mode");
	sipdev_init(&d, "SEP EEEE", "1005", "");
	UNIT_FAILS(store_sipdev_put(s, &d), UC_ERR_ARG, "space");
	sipdev_init(&d, "SEPEEEEEEEEEEEE", "1005", "");
	snprintf(d.digest_algs, sizeof(d.digest_algs), "MD5;SHA-256");
	UNIT_FAILS(store_sipdev_put(s, &d), UC_ERR_ARG, "digest algorithms");
	sipdev_init(&d, "SEPEEEEEEEEEEEE", "1005", "");
	memset(d.digest_algs, 'A', sizeof(d.digest_algs));
	UNIT_FAILS(store_sipdev_put(s, &d), UC_ERR_ARG, "longer");
	sipdev_init(&d, "SEPEEEEEEEEEEEE", "1005", "");
	memset(d.extension, '1', sizeof(d.extension));
	UNIT_FAILS(store_sipdev_put(s, &d), UC_ERR_ARG, "longer");
	UNIT_FAILS(store_sipdev_get(s, "SEPEEEEEEEEEEEE", &g),
	    UC_ERR_NOTFOUND, NULL);

	/* Deleting the device frees its extension. */
	CU_ASSERT_EQUAL(store_device_del(s, "SEPCCCCCCCCCCCC"), 0);
	UNIT_FAILS(store_sipdev_by_ext(s, "1001", &g), UC_ERR_NOTFOUND,
	    NULL);
	store_close(s);
}

/* n lookups by extension among the first `devs` devices; seconds. */
static double
by_ext_time(struct store *s, int devs, int n)
{
	struct store_sipdev	 g;
	char			 ext[16];
	double			 t0 = mono();
	int			 i, bad = 0;

	for (i = 0; i < n; i++) {
		snprintf(ext, sizeof(ext), "%d", 100000 + (i * 7919) % devs);
		if (store_sipdev_by_ext(s, ext, &g) != 0)
			bad++;
	}
	CU_ASSERT_EQUAL(bad, 0);
	return mono() - t0;
}

/* Add devices [from, to) with extensions 100000 + i, one transaction. */
static void
add_devices(struct store *s, int from, int to)
{
	struct store_sipdev	 d;
	char			 name[32], ext[16];
	int			 i, bad = 0;

	CU_ASSERT_EQUAL_FATAL(store_begin(s), 0);
	for (i = from; i < to; i++) {
		snprintf(name, sizeof(name), "SEP%012X", (unsigned)i);
		snprintf(ext, sizeof(ext), "%d", 100000 + i);
		sipdev_init(&d, name, ext, "");
		if (store_sipdev_put(s, &d) != 0)
			bad++;
	}
	CU_ASSERT_EQUAL(bad, 0);
	CU_ASSERT_EQUAL(store_commit(s), 0);
}

/*
 * Lookups by extension (ccmd's REGISTER path) and the extension check
 * of every put use the index: their cost does not grow with the number
 * of devices (a table scan would make 10,000 devices ~100x slower than
 * 100).
 */
static void
test_extension_lookup_uses_the_index(void)
{
	struct store	*s;
	double		 small, big, put_small, put_big, t0;

	if ((s = fresh("extidx")) == NULL)
		return;
	t0 = mono();
	add_devices(s, 0, 100);
	put_small = (mono() - t0) / 100;
	small = by_ext_time(s, 100, 3000);
	t0 = mono();
	add_devices(s, 100, 10000);
	put_big = (mono() - t0) / 9900;
	big = by_ext_time(s, 10000, 3000);
	fprintf(stderr, "\n  [store] by extension: %.1f us with 100 devices, "
	    "%.1f us with 10000; put %.1f us / %.1f us\n", small / 3000 * 1e6,
	    big / 3000 * 1e6, put_small * 1e6, put_big * 1e6);
	CU_ASSERT(big < 10 * small + 0.05);
	CU_ASSERT(put_big < 10 * put_small + 0.00005);
	store_close(s);
}

static void
duser_init(struct store_duser *u, const char *user, const char *realm)
{
	memset(u, 0, sizeof(*u));
	snprintf(u->username, sizeof(u->username), "%s", user);
	snprintf(u->realm, sizeof(u->realm), "%s", realm);
	snprintf(u->ha1_md5, sizeof(u->ha1_md5), "%s", SEALED_A);
	snprintf(u->ha1_sha256, sizeof(u->ha1_sha256), "%s", SEALED_B);
	u->flags = STORE_F_PRESENCE;
	u->changed = 1234;
}

static int
collect_duser(const struct store_duser *u, void *arg)
{
	char	*buf = arg;
	size_t	 n = strlen(buf);

	snprintf(buf + n, 512 - n, "%s%s@%s", n ? " " : "", u->username,
	    u->realm);
	return 0;
}

static int
duser_stop_at_second(const struct store_duser *u, void *arg)
{
	int	*n = arg;

	(void)u;
	return ++*n == 2 ? 7 : 0;
}

static void
test_duser_round_trip_and_refusals(void)
{
	struct store		*s;
	struct store_duser	 u, g;
	char			 list[512] = "";
	int64_t			 before;
	int			 n = 0;

	if ((s = fresh("duser")) == NULL)
		return;
	duser_init(&u, "alice", "ccmsipline");
	snprintf(u.ha1_sha512_256, sizeof(u.ha1_sha512_256), "%s", SEALED_C);
	CU_ASSERT_EQUAL(store_duser_put(s, &u), 0);
	CU_ASSERT_EQUAL(store_duser_get(s, "alice", "ccmsipline", &g), 0);
	CU_ASSERT_EQUAL(memcmp(&u, &g, sizeof(u)), 0);
	UNIT_FAILS(store_duser_get(s, "alice", "other realm", &g),
	    UC_ERR_NOTFOUND, "alice");
	CU_ASSERT_STRING_EQUAL(g.ha1_sha256, "");
	UNIT_FAILS(store_duser_get(s, "ALICE", "ccmsipline", &g),
	    UC_ERR_NOTFOUND, NULL);

	/* Same name, other realm: a separate row.  Put replaces. */
	duser_init(&u, "alice", "cluster 1");
	u.ha1_md5[0] = '\0';
	u.changed = 0;
	before = (int64_t)time(NULL);
	CU_ASSERT_EQUAL(store_duser_put(s, &u), 0);
	CU_ASSERT_EQUAL(store_duser_get(s, "alice", "cluster 1", &g), 0);
	CU_ASSERT_STRING_EQUAL(g.ha1_md5, "");
	CU_ASSERT(g.changed >= before && g.changed <= before + 5);
	duser_init(&u, "alice", "ccmsipline");
	u.flags = STORE_F_OOD_REFER | STORE_F_REPLACES;
	CU_ASSERT_EQUAL(store_duser_put(s, &u), 0);
	CU_ASSERT_EQUAL(store_duser_get(s, "alice", "ccmsipline", &g), 0);
	CU_ASSERT_EQUAL(g.flags, STORE_F_OOD_REFER | STORE_F_REPLACES);
	CU_ASSERT_STRING_EQUAL(g.ha1_sha512_256, "");
	duser_init(&u, "bob", "ccmsipline");
	CU_ASSERT_EQUAL(store_duser_put(s, &u), 0);
	CU_ASSERT_EQUAL(store_duser_list(s, collect_duser, list), 0);
	CU_ASSERT_STRING_EQUAL(list, "alice@ccmsipline bob@ccmsipline "
	    "alice@cluster 1");
	CU_ASSERT_EQUAL(store_duser_list(s, duser_stop_at_second, &n), 7);
	CU_ASSERT_EQUAL(n, 2);

	/* A plain HA1, no HA1 at all, bad flags, bad names: refused. */
	duser_init(&u, "carol", "ccmsipline");
	snprintf(u.ha1_md5, sizeof(u.ha1_md5),
	    "4220c2a3f679c44e21c2bdb556821feb");
	UNIT_FAILS(store_duser_put(s, &u), UC_ERR_ARG, "not sealed");
	snprintf(u.ha1_md5, sizeof(u.ha1_md5), "s1:not base64!");
	UNIT_FAILS(store_duser_put(s, &u), UC_ERR_ARG, "not sealed");
	duser_init(&u, "carol", "ccmsipline");
	u.ha1_md5[0] = u.ha1_sha256[0] = '\0';
	UNIT_FAILS(store_duser_put(s, &u), UC_ERR_ARG, "no HA1");
	duser_init(&u, "carol", "ccmsipline");
	u.flags = 0x100;
	UNIT_FAILS(store_duser_put(s, &u), UC_ERR_ARG, "flags");
	duser_init(&u, "", "ccmsipline");
	UNIT_FAILS(store_duser_put(s, &u), UC_ERR_ARG, "empty");
	duser_init(&u, "carol", "");
	UNIT_FAILS(store_duser_put(s, &u), UC_ERR_ARG, "empty");
	duser_init(&u, "carol", "ccm\"sip");
	UNIT_FAILS(store_duser_put(s, &u), UC_ERR_ARG, "realm");
	duser_init(&u, "car ol", "ccmsipline");
	UNIT_FAILS(store_duser_put(s, &u), UC_ERR_ARG, "user");
	UNIT_FAILS(store_duser_get(s, "carol", "ccmsipline", &g),
	    UC_ERR_NOTFOUND, NULL);

	CU_ASSERT_EQUAL(store_duser_del(s, "alice", "cluster 1"), 0);
	UNIT_FAILS(store_duser_del(s, "alice", "cluster 1"), UC_ERR_NOTFOUND,
	    "not found");
	CU_ASSERT_EQUAL(store_duser_get(s, "alice", "ccmsipline", &g), 0);
	store_close(s);
}

static void
trunk_init(struct store_trunk *t, const char *name)
{
	memset(t, 0, sizeof(*t));
	snprintf(t->name, sizeof(t->name), "%s", name);
	snprintf(t->peer, sizeof(t->peer), "127.0.0.1");
	t->port = 5070;
	t->transport = STORE_TP_TLS;
	t->secmode = STORE_SEC_ENCRYPTED;
	t->digest = 1;
	t->nonce_validity = 300;
	snprintf(t->x509_subject, sizeof(t->x509_subject), "kamailio.test");
	t->flags = STORE_F_OOD_REFER | STORE_F_TX_SECURITY;
	snprintf(t->prefix, sizeof(t->prefix), "9");
	snprintf(t->out_realm, sizeof(t->out_realm), "kamailio");
	snprintf(t->out_user, sizeof(t->out_user), "ccm");
	snprintf(t->out_secret, sizeof(t->out_secret), "%s", SEALED_A);
	snprintf(t->digest_algs, sizeof(t->digest_algs), "MD5,SHA-256");
	snprintf(t->out_min_alg, sizeof(t->out_min_alg), "SHA-256");
}

static int
collect_trunk(const struct store_trunk *t, void *arg)
{
	char	*buf = arg;
	size_t	 n = strlen(buf);

	snprintf(buf + n, 512 - n, "%s%s:%s", n ? " " : "", t->name,
	    store_transport_name(t->transport));
	return 0;
}

static void
test_trunk_round_trip_and_refusals(void)
{
	struct store		*s;
	struct store_trunk	 t, g;
	char			 list[512] = "";

	if ((s = fresh("trunk")) == NULL)
		return;
	trunk_init(&t, "kam");
	CU_ASSERT_EQUAL(store_trunk_put(s, &t), 0);
	CU_ASSERT_EQUAL(store_trunk_get(s, "kam", &g), 0);
	CU_ASSERT_EQUAL(memcmp(&t, &g, sizeof(t)), 0);
	/* Put replaces every field. */
	trunk_init(&t, "kam");
	t.transport = STORE_TP_UDP;
	t.secmode = STORE_SEC_NONSECURE;
	t.digest = 0;
	t.port = 0;
	memset(t.out_realm, 0, sizeof(t.out_realm));
	memset(t.out_user, 0, sizeof(t.out_user));
	memset(t.out_secret, 0, sizeof(t.out_secret));
	memset(t.peer, 0, sizeof(t.peer));
	snprintf(t.peer, sizeof(t.peer), "::1");
	memset(t.digest_algs, 0, sizeof(t.digest_algs));
	memset(t.out_min_alg, 0, sizeof(t.out_min_alg));
	CU_ASSERT_EQUAL(store_trunk_put(s, &t), 0);
	CU_ASSERT_EQUAL(store_trunk_get(s, "kam", &g), 0);
	CU_ASSERT_EQUAL(memcmp(&t, &g, sizeof(t)), 0);
	CU_ASSERT_STRING_EQUAL(g.digest_algs, "");
	CU_ASSERT_STRING_EQUAL(g.out_min_alg, "");
	trunk_init(&t, "a-first");
	CU_ASSERT_EQUAL(store_trunk_put(s, &t), 0);
	CU_ASSERT_EQUAL(store_trunk_list(s, collect_trunk, list), 0);
	CU_ASSERT_STRING_EQUAL(list, "a-first:tls kam:udp");
	CU_ASSERT_EQUAL(store_trunk_get(s, "a-first", &g), 0);
	CU_ASSERT_STRING_EQUAL(g.digest_algs, "MD5,SHA-256");
	CU_ASSERT_STRING_EQUAL(g.out_min_alg, "SHA-256");

	trunk_init(&t, "bad");
	snprintf(t.out_secret, sizeof(t.out_secret), "hunter2");
	UNIT_FAILS(store_trunk_put(s, &t), UC_ERR_ARG, "not sealed");
	trunk_init(&t, "bad");
	t.out_realm[0] = '\0';
	UNIT_FAILS(store_trunk_put(s, &t), UC_ERR_ARG, "needs a realm");
	trunk_init(&t, "bad");
	t.transport = 3;
	UNIT_FAILS(store_trunk_put(s, &t), UC_ERR_ARG, "transport");
	trunk_init(&t, "bad");
	t.port = 65536;
	UNIT_FAILS(store_trunk_put(s, &t), UC_ERR_ARG, "port");
	trunk_init(&t, "bad");
	t.flags = 0x20;
	UNIT_FAILS(store_trunk_put(s, &t), UC_ERR_ARG, "flags");
	trunk_init(&t, "bad");
	t.peer[0] = '\0';
	UNIT_FAILS(store_trunk_put(s, &t), UC_ERR_ARG, "peer");
	trunk_init(&t, "bad");
	snprintf(t.digest_algs, sizeof(t.digest_algs), "MD5\tSHA-256");
	UNIT_FAILS(store_trunk_put(s, &t), UC_ERR_ARG, "digest algorithms");
	trunk_init(&t, "bad");
	snprintf(t.out_min_alg, sizeof(t.out_min_alg), "SHA-256,MD5");
	UNIT_FAILS(store_trunk_put(s, &t), UC_ERR_ARG, "minimum");
	trunk_init(&t, "bad");
	snprintf(t.prefix, sizeof(t.prefix), "9;x");
	UNIT_FAILS(store_trunk_put(s, &t), UC_ERR_ARG, "prefix");
	UNIT_FAILS(store_trunk_get(s, "bad", &g), UC_ERR_NOTFOUND, "bad");

	CU_ASSERT_EQUAL(store_trunk_del(s, "kam"), 0);
	UNIT_FAILS(store_trunk_del(s, "kam"), UC_ERR_NOTFOUND, "kam");
	UNIT_FAILS(store_trunk_get(s, "kam", &g), UC_ERR_NOTFOUND, NULL);
	store_close(s);
}

static void
reg_init(struct store_reg *g, const char *aor, const char *dev,
    const char *tp, int64_t expires)
{
	memset(g, 0, sizeof(*g));
	snprintf(g->aor, sizeof(g->aor), "%s", aor);
	snprintf(g->device, sizeof(g->device), "%s", dev);
	snprintf(g->contact, sizeof(g->contact), "<sip:%s@127.0.0.1:5062;"
	    "transport=%s>", aor, tp);
	snprintf(g->transport, sizeof(g->transport), "%s", tp);
	snprintf(g->source, sizeof(g->source), "127.0.0.1:5062");
	snprintf(g->cert_subject, sizeof(g->cert_subject), "CN=%s", dev);
	g->expires = expires;
}

static int
collect_reg(const struct store_reg *g, void *arg)
{
	char	*buf = arg;
	size_t	 n = strlen(buf);

	snprintf(buf + n, 512 - n, "%s%s/%s/%s/%lld", n ? " " : "", g->aor,
	    g->device, g->transport, (long long)g->expires);
	return 0;
}

/* The registration list held by reg_list, as text (static buffer). */
static const char *
reg_text(struct store *s)
{
	static char	 buf[512];

	buf[0] = '\0';
	if (store_reg_list(s, collect_reg, buf) != 0)
		snprintf(buf, sizeof(buf), "(error)");
	return buf;
}

/*
 * Replacement is all or nothing: a row that fails half-way (a trigger
 * aborts its insert) leaves the previous set, not an empty or a partial
 * one; a bad row is refused before anything is written.
 */
static void
test_reg_replace_is_atomic(void)
{
	struct store		*s, *s2 = NULL;
	struct store_reg	 regs[4], g;
	char			 path[1024];

	if ((s = fresh("reg")) == NULL)
		return;
	snprintf(path, sizeof(path), "%s/reg.db", unit_tmpdir());
	CU_ASSERT_STRING_EQUAL(reg_text(s), "");
	CU_ASSERT_EQUAL(store_reg_replace(s, NULL, 0), 0);
	reg_init(&regs[0], "1002", "SEPBBBBBBBBBBBB", "tls", 2000);
	reg_init(&regs[1], "1001", "SEPAAAAAAAAAAAA", "tcp", 1000);
	reg_init(&regs[2], "1003", "SEPCCCCCCCCCCCC", "udp", 3000);
	CU_ASSERT_EQUAL(store_reg_replace(s, regs, 3), 0);
	CU_ASSERT_STRING_EQUAL(reg_text(s), "1001/SEPAAAAAAAAAAAA/tcp/1000 "
	    "1002/SEPBBBBBBBBBBBB/tls/2000 1003/SEPCCCCCCCCCCCC/udp/3000");
	/* A device that is not in the store is fine: ccmd writes behind. */
	CU_ASSERT_EQUAL(store_reg_replace(s, regs, 2), 0);
	CU_ASSERT_STRING_EQUAL(reg_text(s), "1001/SEPAAAAAAAAAAAA/tcp/1000 "
	    "1002/SEPBBBBBBBBBBBB/tls/2000");

	/* The third insert fails: the two-row set stays. */
	CU_ASSERT_EQUAL(raw_exec(path, "CREATE TRIGGER boom BEFORE INSERT ON "
	    "registrations WHEN new.aor = '666' BEGIN "
	    "SELECT RAISE(ABORT, 'boom'); END"), 0);
	reg_init(&regs[0], "1004", "SEPDDDDDDDDDDDD", "tls", 4000);
	reg_init(&regs[1], "1005", "SEPEEEEEEEEEEEE", "tls", 5000);
	reg_init(&regs[2], "666", "SEPFFFFFFFFFFFF", "tls", 6000);
	reg_init(&regs[3], "1007", "SEP000000000007", "tls", 7000);
	UNIT_FAILS(store_reg_replace(s, regs, 4), UC_ERR_ARG, "boom");
	CU_ASSERT_STRING_EQUAL(reg_text(s), "1001/SEPAAAAAAAAAAAA/tcp/1000 "
	    "1002/SEPBBBBBBBBBBBB/tls/2000");
	/* Another connection sees the same (nothing was committed). */
	CU_ASSERT_EQUAL_FATAL(store_open(path, STORE_RDONLY, &s2), 0);
	CU_ASSERT_STRING_EQUAL(reg_text(s2), "1001/SEPAAAAAAAAAAAA/tcp/1000 "
	    "1002/SEPBBBBBBBBBBBB/tls/2000");
	CU_ASSERT_EQUAL(raw_exec(path, "DROP TRIGGER boom"), 0);

	/* Bad rows: refused before the old set is touched. */
	reg_init(&regs[2], "1006", "SEPFFFFFFFFFFFF", "sctp", 6000);
	UNIT_FAILS(store_reg_replace(s, regs, 3), UC_ERR_ARG, "transport");
	reg_init(&regs[2], "", "SEPFFFFFFFFFFFF", "tls", 6000);
	UNIT_FAILS(store_reg_replace(s, regs, 3), UC_ERR_ARG, "AOR");
	reg_init(&regs[2], "1006", "SEPFFFFFFFFFFFF", "tls", -1);
	UNIT_FAILS(store_reg_replace(s, regs, 3), UC_ERR_ARG, "expiry");
	reg_init(&regs[2], "1006", "SEP FFF", "tls", 6000);
	UNIT_FAILS(store_reg_replace(s, regs, 3), UC_ERR_ARG, "device");
	CU_ASSERT_STRING_EQUAL(reg_text(s2), "1001/SEPAAAAAAAAAAAA/tcp/1000 "
	    "1002/SEPBBBBBBBBBBBB/tls/2000");

	/* The connection is usable afterwards; read-only cannot write. */
	reg_init(&regs[2], "1006", "SEPFFFFFFFFFFFF", "tls", 6000);
	CU_ASSERT_EQUAL(store_reg_replace(s, regs, 4), 0);
	CU_ASSERT_STRING_EQUAL(reg_text(s2), "1004/SEPDDDDDDDDDDDD/tls/4000 "
	    "1005/SEPEEEEEEEEEEEE/tls/5000 1006/SEPFFFFFFFFFFFF/tls/6000 "
	    "1007/SEP000000000007/tls/7000");
	UNIT_FAILS(store_reg_replace(s2, regs, 1), UC_ERR_ARG, "read-only");
	reg_init(&g, "1001", "SEPAAAAAAAAAAAA", "tls", 1);
	CU_ASSERT_EQUAL(store_reg_replace(s, NULL, 0), 0);
	CU_ASSERT_STRING_EQUAL(reg_text(s2), "");
	/* Inside a bulk transaction: a savepoint, rolled back with it. */
	CU_ASSERT_EQUAL(store_begin(s), 0);
	CU_ASSERT_EQUAL(store_reg_replace(s, &g, 1), 0);
	CU_ASSERT_EQUAL(store_rollback(s), 0);
	CU_ASSERT_STRING_EQUAL(reg_text(s), "");
	store_close(s2);
	store_close(s);
}

static void
test_call_control_names(void)
{
	int	 v = -1;

	CU_ASSERT_STRING_EQUAL(store_secmode_name(STORE_SEC_NONSECURE),
	    "nonsecure");
	CU_ASSERT_STRING_EQUAL(store_secmode_name(STORE_SEC_AUTHENTICATED),
	    "authenticated");
	CU_ASSERT_STRING_EQUAL(store_secmode_name(STORE_SEC_ENCRYPTED),
	    "encrypted");
	CU_ASSERT_STRING_EQUAL(store_secmode_name(3), "unknown");
	CU_ASSERT_STRING_EQUAL(store_secmode_name(-1), "unknown");
	CU_ASSERT_EQUAL(store_secmode_parse("Encrypted", &v), 0);
	CU_ASSERT_EQUAL(v, STORE_SEC_ENCRYPTED);
	CU_ASSERT_EQUAL(store_secmode_parse("non-secure", &v), 0);
	CU_ASSERT_EQUAL(v, STORE_SEC_NONSECURE);
	UNIT_FAILS(store_secmode_parse("secure", &v), UC_ERR_ARG, "secure");
	UNIT_FAILS(store_secmode_parse(NULL, &v), UC_ERR_ARG, NULL);
	CU_ASSERT_STRING_EQUAL(store_transport_name(STORE_TP_TLS), "tls");
	CU_ASSERT_STRING_EQUAL(store_transport_name(9), "unknown");
	CU_ASSERT_EQUAL(store_transport_parse("TCP", &v), 0);
	CU_ASSERT_EQUAL(v, STORE_TP_TCP);
	UNIT_FAILS(store_transport_parse("sctp", &v), UC_ERR_ARG, "sctp");
	CU_ASSERT_STRING_EQUAL(store_proto_name(STORE_PROTO_SCCP), "sccp");
	CU_ASSERT_EQUAL(store_proto_parse("sip", &v), 0);
	CU_ASSERT_EQUAL(v, STORE_PROTO_SIP);
	UNIT_FAILS(store_proto_parse("h323", &v), UC_ERR_ARG, "h323");
}

static const struct unit_test tests[] = {
	{ "schema is created and reopened",
	    test_schema_is_created_and_reopened },
	{ "future or foreign schema is refused",
	    test_future_or_foreign_schema_is_refused },
	{ "read-only refuses writes and migration",
	    test_rdonly_refuses_writes_and_migration },
	{ "device put get update del", test_device_put_get_update_del },
	{ "task put get list del", test_task_put_get_list_del },
	{ "put resets status attempts and lockout",
	    test_put_resets_status_attempts_and_lockout },
	{ "password is stored only hashed",
	    test_password_is_stored_only_hashed },
	{ "auth failures lock out at max", test_auth_failures_lock_out_at_max },
	{ "begin and finish record the session",
	    test_begin_and_finish_record_the_session },
	{ "expire marks overdue tasks", test_expire_marks_overdue_tasks },
	{ "reset in progress after a crash", test_reset_in_progress },
	{ "cert installed resets the task",
	    test_cert_installed_resets_the_task },
	{ "cert installed is one transaction",
	    test_cert_installed_is_one_transaction },
	{ "cert current prefers installed",
	    test_cert_current_prefers_installed },
	{ "cert fetched records and completes",
	    test_cert_fetched_records_and_completes },
	{ "cert list and count", test_cert_list_and_count },
	{ "trust add list del", test_trust_add_list_del },
	{ "keyspec round trips and rejects",
	    test_keyspec_round_trips_and_rejects },
	{ "names and parsers", test_names_and_parsers },
	{ "second connection sees commits",
	    test_second_connection_sees_commits },
	{ "generation moves on other commits",
	    test_generation_moves_on_other_commits },
	{ "bulk rollback and failed call inside",
	    test_bulk_rollback_and_failed_call_inside },
	{ "bulk import of 5000 tasks", test_bulk_import_of_5000_tasks },
	{ "list callback may write", test_list_callback_may_write },
	{ "processes share the file", test_processes_share_the_file },
	{ "hot path rate", test_hot_path_rate },
	{ "migration from v1 keeps rows", test_migration_from_v1_keeps_rows },
	{ "failed migration leaves v1", test_failed_migration_leaves_v1 },
	{ "sipdev put get and unique extension",
	    test_sipdev_put_get_and_unique_extension },
	{ "extension lookup uses the index",
	    test_extension_lookup_uses_the_index },
	{ "duser round trip and refusals",
	    test_duser_round_trip_and_refusals },
	{ "trunk round trip and refusals",
	    test_trunk_round_trip_and_refusals },
	{ "reg replace is atomic", test_reg_replace_is_atomic },
	{ "call control names", test_call_control_names },
	{ NULL, NULL }
};

void
unit_register_store(void)
{
	unit_suite("store", tests);
}
