/*
 * What ucsec-tftpd serves: the root jail (names, openat2 RESOLVE_BENEATH),
 * plain files by mmap, and signed (.sgn), encrypted (.enc.sgn) and stub
 * files made on demand and kept in a bounded LRU cache keyed by the
 * requested name and validated by the source's (size, mtime, inode) and
 * the device certificate's (mtime, inode).  A cache hit costs no RSA
 * operation and no file read.
 */
#include <sys/mman.h>
#include <sys/queue.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef __linux__
#include <linux/openat2.h>
#endif

#include <openssl/crypto.h>

#include "cert.h"
#include "enccfg.h"
#include "extern.h"
#include "fileio.h"
#include "log.h"
#include "sgn.h"
#include "uerr.h"

#define CACHE_BUCKETS	4096	/* hash buckets; entries are few thousand */
#define MAC_LEN		12	/* hex digits in SEP<MAC> */
#define CERT_MAX	(1024 * 1024)	/* largest device certificate read */

struct srcid {
	dev_t		 dev;
	ino_t		 ino;
	off_t		 size;
	int64_t		 mtime_ns;
	int64_t		 cert_mtime_ns;	/* 0 when no device certificate */
	ino_t		 cert_ino;
};

struct centry {
	char			*key;		/* requested name */
	struct srcid		 id;
	uint8_t			*buf;		/* served bytes, owned */
	size_t			 len;
	enum content_kind	 kind;
	int			 refs;		/* transfers using buf */
	int			 mapped;	/* buf is an mmap of a plain file */
	int			 cached;	/* still in the table */
	LIST_ENTRY(centry)	 hash;
	TAILQ_ENTRY(centry)	 lru;
};

LIST_HEAD(cbucket, centry);
TAILQ_HEAD(clru, centry);

struct files {
	const struct config	*cfg;
	int			 rootfd;
	char			*rootreal;	/* resolved --root */
	int			 devfd;		/* device-certs dir, or -1 */
	int			 mixed;
	struct signer		*signer;	/* borrowed; NULL in nonsecure */
	enum signer_md		 md;
	struct cbucket		 tab[CACHE_BUCKETS];
	struct clru		 lru;
	size_t			 total;		/* bytes in cached entries */
	size_t			 cap;
};

static const char *const kind_names[CONTENT__MAX] = {
	"plain", "signed", "encrypted", "stub",
};

/* Name of a content kind for the transfer log. */
const char *
content_kind_name(enum content_kind k)
{
	return k < CONTENT__MAX ? kind_names[k] : "?";
}

static uint32_t
hash_str(const char *s)
{
	uint32_t	 h = 2166136261U;

	for (; *s != '\0'; s++)
		h = (h ^ (uint8_t)*s) * 16777619U;
	return h;
}

/*
 * Check a requested name against the jail rules and return in *rel the
 * name relative to the root (one leading '/' stripped, as tftp-hpa does).
 * Refuses backslashes, control characters and any empty, "." or ".."
 * component, so each file has exactly one accepted name: the device and
 * encryption rules in files_get() cannot be bypassed by an alias such as
 * "./SEP<MAC>.cnf.xml".  Returns 0, or -1 (TFTP error 2, access
 * violation) with a reason in why.
 */
int
files_name_check(const char *name, const char **rel, char *why, size_t whysz)
{
	const char	*p, *s;
	size_t		 n;

	if (name[0] == '/')
		name++;
	if (name[0] == '\0' || name[0] == '/' ||
	    name[strlen(name) - 1] == '/') {
		snprintf(why, whysz, "absolute, empty or directory name");
		return -1;
	}
	for (p = name; *p != '\0'; p++) {
		if (*p == '\\' || iscntrl((unsigned char)*p)) {
			snprintf(why, whysz, "backslash or control character");
			return -1;
		}
	}
	for (s = name; *s != '\0'; s += n + (s[n] == '/')) {
		n = strcspn(s, "/");
		if (n == 0 || (n == 1 && s[0] == '.') ||
		    (n == 2 && s[0] == '.' && s[1] == '.')) {
			snprintf(why, whysz, "empty, \".\" or \"..\" component");
			return -1;
		}
	}
	*rel = name;
	return 0;
}

/*
 * Fallback without openat2: resolve the path and check that it stays
 * under the resolved root.  Racy against a local attacker who can swap
 * symlinks inside the root; openat2 is not.
 */
static int
open_realpath(const char *root, const char *rel)
{
	char	 path[PATH_MAX], real[PATH_MAX];
	size_t	 n;
	int	 fd;

	n = strlen(root);
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", root, rel) >=
	    sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (realpath(path, real) == NULL)
		return -1;
	if (strncmp(real, root, n) != 0 || (real[n] != '/' && n > 1)) {
		errno = EXDEV;
		return -1;
	}
	fd = open(real, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	return fd;
}

/* Open rel beneath dirfd; errno set on failure (EXDEV: leaves the root). */
static int
open_beneath(int dirfd, const char *root, const char *rel)
{
#if defined(__linux__) && defined(SYS_openat2)
	struct open_how	 how;
	int		 fd;

	memset(&how, 0, sizeof(how));
	how.flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
	how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
	fd = (int)syscall(SYS_openat2, dirfd, rel, &how, sizeof(how));
	if (fd != -1 || errno != ENOSYS)
		return fd;
#endif
	(void)dirfd;
	return open_realpath(root, rel);
}

/*
 * Map an open(2) errno to a TFTP error code in *code (TFTP_EUNDEF for
 * anything unexpected: EMFILE, EIO...) and a reason.  Always returns -1.
 */
static int
errno_code(int e, uint16_t *code, char *why, size_t whysz)
{
	snprintf(why, whysz, "%s", strerror(e));
	*code = TFTP_EUNDEF;
	if (e == ENOENT || e == ENOTDIR)
		*code = TFTP_ENOTFOUND;
	else if (e == EXDEV || e == ELOOP || e == EACCES || e == EPERM) {
		if (e == EXDEV || e == ELOOP)
			snprintf(why, whysz, "resolves outside the root");
		*code = TFTP_EACCESS;
	}
	return -1;
}

/* 0 when fd is a regular file (stat in *st), else -1 with *code set. */
static int
fd_regular(int fd, struct stat *st, uint16_t *code, char *why, size_t whysz)
{
	if (fstat(fd, st) == -1)
		return errno_code(errno, code, why, whysz);
	if (!S_ISREG(st->st_mode)) {
		snprintf(why, whysz, "not a regular file");
		*code = TFTP_EACCESS;
		return -1;
	}
	return 0;
}

static int64_t
mtime_ns(const struct stat *st)
{
	return (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

/* Heap bytes of an entry; mapped files live in the page cache. */
static size_t
ce_size(const struct centry *e)
{
	return e->mapped ? 0 : e->len;
}

static void
centry_free(struct centry *e)
{
	if (e == NULL)
		return;
	free(e->key);
	if (e->mapped)
		munmap(e->buf, e->len);
	else
		free(e->buf);
	free(e);
}

/* Take e out of the table; freed now unless a transfer holds it. */
static void
cache_drop(struct files *f, struct centry *e)
{
	LIST_REMOVE(e, hash);
	TAILQ_REMOVE(&f->lru, e, lru);
	f->total -= ce_size(e);
	e->cached = 0;
	if (e->refs == 0)
		centry_free(e);
}

/* Entry for key: a mapped plain file when mapped, else made bytes. */
static struct centry *
cache_find(struct files *f, const char *key, int mapped)
{
	struct centry	*e;

	LIST_FOREACH(e, &f->tab[hash_str(key) % CACHE_BUCKETS], hash)
		if (e->mapped == mapped && strcmp(e->key, key) == 0)
			return e;
	return NULL;
}

/*
 * Insert e (if it fits) and evict least recently used entries.
 * XXX made bytes larger than the cap are made again per request and held
 * by each transfer outside any budget; only --max-sessions bounds them.
 */
static void
cache_insert(struct files *f, struct centry *e)
{
	if (ce_size(e) > f->cap)
		return;
	while (f->total + ce_size(e) > f->cap && !TAILQ_EMPTY(&f->lru))
		cache_drop(f, TAILQ_LAST(&f->lru, clru));
	LIST_INSERT_HEAD(&f->tab[hash_str(e->key) % CACHE_BUCKETS], e, hash);
	TAILQ_INSERT_HEAD(&f->lru, e, lru);
	f->total += ce_size(e);
	e->cached = 1;
}

/*
 * Drop every cached entry (SIGHUP).  Entries in use by a transfer live
 * on until the transfer ends.
 */
void
files_flush(struct files *f)
{
	while (!TAILQ_EMPTY(&f->lru))
		cache_drop(f, TAILQ_FIRST(&f->lru));
}

static void
content_from_entry(struct content *c, struct centry *e)
{
	e->refs++;
	c->ce = e;
	c->p = e->buf;
	c->len = e->len;
	c->kind = e->kind;
}

static void
srcid_set(struct srcid *id, const struct stat *st)
{
	memset(id, 0, sizeof(*id));
	id->dev = st->st_dev;
	id->ino = st->st_ino;
	id->size = st->st_size;
	id->mtime_ns = mtime_ns(st);
}

/*
 * Drop a transfer's reference.  A mapped plain file leaves the table
 * with its last transfer; made bytes stay cached.
 */
static void
centry_put(struct files *f, struct centry *e)
{
	if (--e->refs > 0)
		return;
	if (e->cached && e->mapped)
		cache_drop(f, e);
	else if (!e->cached)
		centry_free(e);
}

/*
 * Serve a plain file by mmap, one mapping shared by every concurrent
 * transfer of the same (inode, size, mtime); takes fd.
 */
static int
serve_plain(struct files *f, const char *key, int fd, struct content *c,
    uint16_t *code, char *why, size_t whysz)
{
	struct centry	*e;
	struct srcid	 id;
	struct stat	 st;
	void		*m;
	int		 r;

	c->kind = CONTENT_PLAIN;
	if ((r = fd_regular(fd, &st, code, why, whysz)) != 0 ||
	    st.st_size == 0)
		goto out;
	srcid_set(&id, &st);
	if ((e = cache_find(f, key, 1)) != NULL) {
		if (memcmp(&e->id, &id, sizeof(id)) == 0) {
			content_from_entry(c, e);
			goto out;
		}
		cache_drop(f, e);
	}
	/* XXX a file truncated while we serve it raises SIGBUS. */
	m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (m == MAP_FAILED) {
		r = errno_code(errno, code, why, whysz);
		goto out;
	}
	(void)madvise(m, (size_t)st.st_size, MADV_SEQUENTIAL);
	if ((e = calloc(1, sizeof(*e))) == NULL ||
	    (e->key = strdup(key)) == NULL) {
		free(e);
		munmap(m, (size_t)st.st_size);
		snprintf(why, whysz, "out of memory");
		*code = TFTP_EUNDEF;
		r = -1;
		goto out;
	}
	e->buf = m;
	e->len = (size_t)st.st_size;
	e->mapped = 1;
	e->id = id;
	e->kind = CONTENT_PLAIN;
	cache_insert(f, e);
	content_from_entry(c, e);
out:
	close(fd);
	return r;
}

/* Also keep made bytes in --cache-dir, '/' in the name as '%'. */
static void
cache_dir_write(const struct files *f, const struct centry *e)
{
	char	 path[PATH_MAX], vis[PATH_MAX], *p;
	size_t	 n;

	if (f->cfg->cache_dir == NULL)
		return;
	n = (size_t)snprintf(path, sizeof(path), "%s/", f->cfg->cache_dir);
	if (n >= sizeof(path) || strlen(e->key) >= sizeof(path) - n)
		return;
	memcpy(path + n, e->key, strlen(e->key) + 1);
	for (p = path + n; *p != '\0'; p++)
		if (*p == '/')
			*p = '%';
	if (file_write_atomic(path, e->buf, e->len, 0644, NULL, NULL) != 0)
		log_warnx("cache dir: %s: %s", str_vis(vis, sizeof(vis), path),
		    uc_errdetail());
}

/* Sign body as a .sgn named key (signed-files.md 3). */
static int
make_sgn(struct files *f, const char *key, uint32_t ts, const uint8_t *body,
    size_t len, uint8_t **out, size_t *outlen)
{
	struct sgn_build	 b;

	memset(&b, 0, sizeof(b));
	b.kind = SGN_KIND_SGN;
	b.md = f->md;
	b.filename = key;
	b.timestamp = ts;
	return sgn_build(&b, body, len, f->signer, out, outlen);
}

/* Load the device certificate from an open file; 0 or UC_ERR_*. */
static int
cert_fd(int fd, X509 **x)
{
	uint8_t	*buf = NULL;
	size_t	 len;
	int	 r;

	if ((r = file_read_fd(fd, "device certificate", CERT_MAX, &buf,
	    &len)) != 0)
		goto out;
	r = cert_from_mem(buf, len, x);
out:
	free(buf);
	return r;
}

/* "SEP" + 12 hex digits + suffix, at the top of the root. */
static int
device_name(const char *rel, const char *suffix, char *mac)
{
	size_t	 i;

	if (strlen(rel) < 3 + MAC_LEN || strncmp(rel, "SEP", 3) != 0 || strcmp(rel + 3 + MAC_LEN, suffix)
	    != 0)
		return 0;
	for (i = 0; i < MAC_LEN; i++)
		if (!isxdigit((unsigned char)rel[3 + i]))
			return 0;
	memcpy(mac, rel + 3, MAC_LEN);
	mac[MAC_LEN] = '\0';
	return 1;
}

/*
 * --strip-credentials: 1 when key, served as kind, is made from a
 * per-device SEP<MAC>.cnf.xml whose passwords must be removed first
 * (plain, .sgn and .enc.sgn; the stub of an encrypted config has none).
 */
static int
strips(const struct files *f, const char *key, enum content_kind kind)
{
	char	 mac[MAC_LEN + 1];

	if (!f->cfg->strip_credentials)
		return 0;
	switch (kind) {
	case CONTENT_PLAIN:
		return device_name(key, ".cnf.xml", mac);
	case CONTENT_SIGNED:
		return device_name(key, ".cnf.xml.sgn", mac);
	case CONTENT_ENCRYPTED:
		return device_name(key, ".cnf.xml.enc.sgn", mac);
	default:
		return 0;
	}
}

/*
 * Build the served bytes of kind from src (and the device cert x); with
 * --strip-credentials a device config loses its passwords first, and one
 * that does not parse is refused, never served as it is.
 */
static int
make_bytes(struct files *f, const char *key, enum content_kind kind,
    const struct stat *st, const uint8_t *src, size_t len, X509 *x,
    uint8_t **out, size_t *outlen)
{
	uint8_t		*xml = NULL, *clean = NULL;
	size_t		 xmllen, cleanlen = 0;
	uint32_t	 ts = (uint32_t)st->st_mtim.tv_sec;
	int		 r;

	if (strips(f, key, kind)) {
		if ((r = enccfg_strip_credentials(src, len, &clean,
		    &cleanlen)) != 0)
			goto out;
		src = clean;
		len = cleanlen;
	}
	if (kind == CONTENT_PLAIN && clean != NULL) {
		*out = clean;
		*outlen = cleanlen;
		clean = NULL;
		r = 0;
	} else if (kind == CONTENT_PLAIN)
		r = uc_fail(UC_ERR_INTERNAL, "plain file %s is not made", key);
	else if (kind == CONTENT_SIGNED)
		r = make_sgn(f, key, ts, src, len, out, outlen);
	else if (kind == CONTENT_ENCRYPTED)
		r = enccfg_encrypt(src, len, x, f->signer, f->md, key, ts,
		    out, outlen);
	else if ((r = enccfg_stub(src, len, x, &xml, &xmllen)) == 0)
		r = make_sgn(f, key, ts, xml, xmllen, out, outlen);
out:
	free(xml);
	if (clean != NULL)
		OPENSSL_clear_free(clean, cleanlen);
	return r;
}

/*
 * Serve made bytes for key from source srcfd (and device cert certfd, or
 * -1), from the cache when (size, mtime, inode) still match.  Takes both
 * descriptors.
 */
static int
serve_made(struct files *f, const char *key, enum content_kind kind,
    int srcfd, int certfd, struct content *c, uint16_t *code, char *why,
    size_t whysz)
{
	struct centry	*e = NULL;
	struct srcid	 id;
	struct stat	 st, cst;
	uint8_t		*src = NULL;
	size_t		 len = 0;
	X509		*x = NULL;
	int		 r;

	if ((r = fd_regular(srcfd, &st, code, why, whysz)) != 0)
		goto out;
	srcid_set(&id, &st);
	if (certfd != -1 && fstat(certfd, &cst) == 0) {
		id.cert_mtime_ns = mtime_ns(&cst);
		id.cert_ino = cst.st_ino;
	}
	if ((e = cache_find(f, key, 0)) != NULL) {
		if (memcmp(&e->id, &id, sizeof(id)) == 0) {
			TAILQ_REMOVE(&f->lru, e, lru);
			TAILQ_INSERT_HEAD(&f->lru, e, lru);
			content_from_entry(c, e);
			e = NULL;
			goto out;
		}
		cache_drop(f, e);
		e = NULL;
	}
	r = -1;
	*code = TFTP_EUNDEF;
	if (file_read_fd(srcfd, key, TFTPD_SRC_MAX, &src, &len) != 0 ||
	    (certfd != -1 && cert_fd(certfd, &x) != 0) ||
	    (e = calloc(1, sizeof(*e))) == NULL ||
	    (e->key = strdup(key)) == NULL ||
	    make_bytes(f, key, kind, &st, src, len, x, &e->buf, &e->len) != 0) {
		snprintf(why, whysz, "cannot make %s file: %s",
		    content_kind_name(kind), uc_errdetail());
		goto out;
	}
	e->id = id;
	e->kind = kind;
	cache_insert(f, e);
	cache_dir_write(f, e);
	content_from_entry(c, e);
	e = NULL;
	r = 0;
out:
	if (e != NULL && !e->cached && e->refs == 0)
		centry_free(e);
	X509_free(x);
	OPENSSL_clear_free(src, len);
	close(srcfd);
	if (certfd != -1)
		close(certfd);
	return r;
}

/*
 * Open the device certificate SEP<mac>.pem (or .crt) without blocking on
 * a FIFO and without following a symlink.  Returns the descriptor, -2
 * when the device has no certificate, or -1 with *code and why set (fail
 * closed: the caller must not serve the plain config then).
 */
static int
device_cert_open(struct files *f, const char *mac, uint16_t *code, char *why,
    size_t whysz)
{
	const char *const	 sfx[] = { "pem", "crt" };
	struct stat		 st;
	char			 name[64];
	size_t			 i;
	int			 e, fd = -1;

	for (i = 0; i < 2 && fd == -1; i++) {
		snprintf(name, sizeof(name), "SEP%s.%s", mac, sfx[i]);
		fd = openat(f->devfd, name, O_RDONLY | O_NONBLOCK |
		    O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
		if (fd == -1 && errno != ENOENT) {
			e = errno;
			(void)errno_code(e, code, why, whysz);
			snprintf(why, whysz, "device certificate %s: %s", name,
			    strerror(e));
			return -1;
		}
	}
	if (fd == -1)
		return -2;
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_size > CERT_MAX) {
		close(fd);
		snprintf(why, whysz, "device certificate %s: not a regular "
		    "file of at most %d bytes", name, CERT_MAX);
		*code = TFTP_EUNDEF;
		return -1;
	}
	return fd;
}

/*
 * Encrypted configs (signed-files.md 4): 1 when rel is not a config of
 * a device with a certificate, 0 when served, or -1 with *code set.  The
 * plain SEP<MAC>.cnf.xml of such a device is refused.
 */
static int
try_device(struct files *f, const char *rel, struct content *c,
    uint16_t *code, char *why, size_t whysz)
{
	char			 mac[MAC_LEN + 1], name[64];
	enum content_kind	 kind;
	int			 certfd, srcfd;

	if (f->devfd == -1)
		return 1;
	if (device_name(rel, ".cnf.xml.enc.sgn", mac))
		kind = CONTENT_ENCRYPTED;
	else if (device_name(rel, ".cnf.xml.sgn", mac))
		kind = CONTENT_STUB;
	else if (device_name(rel, ".cnf.xml", mac))
		kind = CONTENT_PLAIN;
	else
		return 1;
	if ((certfd = device_cert_open(f, mac, code, why, whysz)) == -2)
		return 1;
	if (certfd == -1)
		return -1;
	if (kind == CONTENT_PLAIN) {
		/* Its config is served only encrypted (signed-files.md 4). */
		close(certfd);
		snprintf(why, whysz, "plain config of an encrypted device");
		*code = TFTP_EACCESS;
		return -1;
	}
	snprintf(name, sizeof(name), "SEP%s.cnf.xml", mac);
	if ((srcfd = open_beneath(f->rootfd, f->rootreal, name)) == -1) {
		close(certfd);
		return errno_code(errno, code, why, whysz);
	}
	return serve_made(f, rel, kind, srcfd, certfd, c, code, why, whysz);
}

/*
 * Serve the file rel as it is on disk (takes fd).  With
 * --strip-credentials a SEP<MAC>.cnf.xml is served stripped, and a
 * .sgn or .enc.sgn of one made elsewhere is refused: its body cannot be
 * stripped without breaking its signature.
 */
static int
serve_disk(struct files *f, const char *rel, int fd, struct content *c,
    uint16_t *code, char *why, size_t whysz)
{
	if (strips(f, rel, CONTENT_PLAIN))
		return serve_made(f, rel, CONTENT_PLAIN, fd, -1, c, code, why,
		    whysz);
	if (strips(f, rel, CONTENT_SIGNED) ||
	    strips(f, rel, CONTENT_ENCRYPTED)) {
		close(fd);
		snprintf(why, whysz, "signed config on disk cannot have its "
		    "credentials stripped (--strip-credentials)");
		*code = TFTP_EACCESS;
		return -1;
	}
	return serve_plain(f, rel, fd, c, code, why, whysz);
}

/*
 * Find what to serve for a requested name: the file itself, or in mixed
 * mode a .sgn made from NAME, an .enc.sgn or its stub.  Returns 0 and
 * fills *c (release with content_release; an empty file has len 0), or
 * -1 with the TFTP error code in *code and a reason for the log in why.
 */
int
files_get(struct files *f, const char *name, struct content *c,
    uint16_t *code, char *why, size_t whysz)
{
	const char	*rel;
	char		 src[TFTP_NAME_MAX + 1];
	size_t		 n;
	int		 fd, r;

	memset(c, 0, sizeof(*c));
	if (files_name_check(name, &rel, why, whysz) != 0) {
		*code = TFTP_EACCESS;
		return -1;
	}
	if (f->mixed &&
	    (r = try_device(f, rel, c, code, why, whysz)) != 1)
		return r;
	if ((fd = open_beneath(f->rootfd, f->rootreal, rel)) != -1)
		return serve_disk(f, rel, fd, c, code, why, whysz);
	n = strlen(rel);
	if (errno != ENOENT || !f->mixed || n <= 4 ||
	    strcmp(rel + n - 4, ".sgn") != 0)
		return errno_code(errno, code, why, whysz);
	memcpy(src, rel, n - 4);
	src[n - 4] = '\0';
	if ((fd = open_beneath(f->rootfd, f->rootreal, src)) == -1)
		return errno_code(errno, code, why, whysz);
	return serve_made(f, rel, CONTENT_SIGNED, fd, -1, c, code, why,
	    whysz);
}

/* Give back what files_get() handed out.  Accepts an empty content. */
void
content_release(struct files *f, struct content *c)
{
	if (c->ce != NULL)
		centry_put(f, c->ce);
	OPENSSL_clear_free(c->own, c->own != NULL ? c->len : 0);
	memset(c, 0, sizeof(*c));
}

/*
 * Replace c's bytes with their netascii form (RFC 764: LF -> CR LF,
 * CR -> CR NUL), owned by c.  0, or -1 when c is over TFTPD_NETASCII_MAX
 * bytes (the copy is twice that) or out of memory.
 */
int
content_netascii(struct files *f, struct content *c)
{
	uint8_t	*o;
	size_t	 i, n = 0;

	if (c->len > TFTPD_NETASCII_MAX ||
	    (o = malloc(c->len * 2 + 1)) == NULL)
		return -1;
	for (i = 0; i < c->len; i++) {
		if (c->p[i] == '\n') {
			o[n++] = '\r';
			o[n++] = '\n';
		} else if (c->p[i] == '\r') {
			o[n++] = '\r';
			o[n++] = '\0';
		} else
			o[n++] = c->p[i];
	}
	if (c->ce != NULL)
		centry_put(f, c->ce);
	OPENSSL_clear_free(c->own, c->own != NULL ? c->len : 0);
	c->ce = NULL;
	c->own = o;
	c->p = o;
	c->len = n;
	return 0;
}

/*
 * Store an upload (WRQ) atomically in --write-dir under its base name.
 * 0, or -1 with the TFTP error code in *code and a reason in why.
 */
int
files_write(struct files *f, const char *name, const uint8_t *buf, size_t len,
    uint16_t *code, char *why, size_t whysz)
{
	char		 path[PATH_MAX];
	const char	*rel;

	*code = TFTP_EACCESS;
	if (files_name_check(name, &rel, why, whysz) != 0)
		return -1;
	if (f->cfg->write_dir == NULL || strchr(rel, '/') != NULL ||
	    rel[0] == '.') {
		snprintf(why, whysz, "write not allowed");
		return -1;
	}
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", f->cfg->write_dir,
	    rel) >= sizeof(path)) {
		snprintf(why, whysz, "path too long");
		return -1;
	}
	if (file_write_atomic(path, buf, len, 0644, NULL, NULL) != 0) {
		snprintf(why, whysz, "%s", uc_errdetail());
		*code = TFTP_ENOSPACE;
		return -1;
	}
	return 0;
}

/*
 * Open the root (and device certificate directory) for serving.  signer
 * is borrowed (NULL in nonsecure mode).  Stores a new struct files
 * (free with files_free) in *out; 0 or a UC_ERR_* code.
 */
int
files_new(const struct config *cfg, struct signer *signer, struct files **out)
{
	struct files	*f;
	int		 i, r = UC_ERR_IO;

	if ((f = calloc(1, sizeof(*f))) == NULL)
		return UC_ERR_ALLOC;
	f->cfg = cfg;
	f->rootfd = -1;
	f->devfd = -1;
	f->signer = signer;
	f->mixed = signer != NULL;
	f->cap = (size_t)cfg->cache_bytes;
	for (i = 0; i < CACHE_BUCKETS; i++)
		LIST_INIT(&f->tab[i]);
	TAILQ_INIT(&f->lru);
	if (signer_md_parse(cfg->digest, &f->md) != 0 ||
	    (f->md != SIGNER_SHA1 && f->md != SIGNER_SHA512)) {
		r = uc_fail(UC_ERR_ARG, "--digest %s: sha1 or sha512",
		    cfg->digest);
		goto out;
	}
	if ((f->rootreal = realpath(cfg->root, NULL)) == NULL ||
	    (f->rootfd = open(f->rootreal, O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) == -1) {
		r = uc_fail(UC_ERR_IO, "--root %s: %s", cfg->root,
		    strerror(errno));
		goto out;
	}
	if (cfg->device_certs != NULL && (f->devfd = open(cfg->device_certs,
	    O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		r = uc_fail(UC_ERR_IO, "--device-certs %s: %s",
		    cfg->device_certs, strerror(errno));
		goto out;
	}
	*out = f;
	f = NULL;
	r = 0;
out:
	files_free(f);
	return r;
}

/* Free f and every unused cache entry; accepts NULL. */
void
files_free(struct files *f)
{
	if (f == NULL)
		return;
	files_flush(f);
	if (f->rootfd != -1)
		close(f->rootfd);
	if (f->devfd != -1)
		close(f->devfd);
	free(f->rootreal);
	free(f);
}
