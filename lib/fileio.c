/*
 * File reads and atomic writes; see fileio.h.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "fileio.h"
#include "uerr.h"

/*
 * Read what remains of an open regular file (from its current offset) of
 * at most max bytes into a new buffer (caller frees; one spare NUL byte
 * follows the data).  name is used in messages only.  Buffers are wiped
 * as they grow: the file may hold a key or a config with passwords.
 */
int
file_read_fd(int fd, const char *name, size_t max, uint8_t **out,
    size_t *lenp)
{
	struct stat	 st;
	uint8_t		*buf = NULL, *nbuf;
	size_t		 len = 0, cap = 0, ocap;
	ssize_t		 n;
	int		 r = UC_ERR_IO;

	*out = NULL;
	*lenp = 0;
	if (fstat(fd, &st) == -1)
		return uc_fail(UC_ERR_IO, "%s: %s", name, strerror(errno));
	if (S_ISDIR(st.st_mode))
		return uc_fail(UC_ERR_IO, "%s: is a directory", name);
	for (;;) {
		if (len == cap) {
			if (cap > max) {
				r = uc_fail(UC_ERR_FORMAT,
				    "%s: larger than the %zu-byte limit",
				    name, max);
				goto out;
			}
			ocap = cap;
			cap = cap ? cap * 2 : 8192;
			if (max < SIZE_MAX - 1 && cap > max + 1)
				cap = max + 1;
			nbuf = OPENSSL_clear_realloc(buf, buf ? ocap + 1 : 0,
			    cap + 1);
			if (nbuf == NULL) {
				r = uc_fail(UC_ERR_ALLOC, "%s: read buffer", name);
				goto out;
			}
			buf = nbuf;
		}
		n = read(fd, buf + len, cap - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			r = uc_fail(UC_ERR_IO, "%s: %s", name, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > max) {
			r = uc_fail(UC_ERR_FORMAT,
			    "%s: larger than the %zu-byte limit", name, max);
			goto out;
		}
	}
	if (buf == NULL && (buf = malloc(1)) == NULL) {
		r = uc_fail(UC_ERR_ALLOC, "%s: read buffer", name);
		goto out;
	}
	buf[len] = '\0';
	*out = buf;
	*lenp = len;
	buf = NULL;
	cap = 0;
	r = 0;
out:
	if (buf != NULL)
		OPENSSL_clear_free(buf, cap + 1);
	return r;
}

/*
 * Read a regular file of at most max bytes into a new buffer (caller
 * frees; one spare NUL byte follows the data).  "-" reads stdin.
 */
int
file_read(const char *path, size_t max, uint8_t **out, size_t *lenp)
{
	int	 fd, r;

	*out = NULL;
	*lenp = 0;
	fd = strcmp(path, "-") == 0 ? STDIN_FILENO :
	    open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd == -1)
		return uc_fail(UC_ERR_IO, "%s: %s", path, strerror(errno));
	r = file_read_fd(fd, path, max, out, lenp);
	if (fd != STDIN_FILENO)
		close(fd);
	return r;
}

static int
write_all(int fd, const uint8_t *p, size_t n)
{
	ssize_t	 w;

	while (n > 0) {
		if ((w = write(fd, p, n)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* fsync the directory holding path so the rename is durable. */
static void
sync_dir(const char *path)
{
	char	 dir[PATH_MAX];
	char	*slash;
	int	 fd;

	if (snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir))
		return;
	if ((slash = strrchr(dir, '/')) == NULL)
		strcpy(dir, ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) != -1) {
		(void)fsync(fd);
		close(fd);
	}
}

/* The temp file must read back as exactly the bytes written. */
static int
read_back(const char *tmp, const void *data, size_t len)
{
	uint8_t	*buf = NULL;
	size_t	 rlen;
	int	 r;

	if ((r = file_read(tmp, len + 1, &buf, &rlen)) != 0)
		return r;
	if (rlen != len || (len > 0 && memcmp(buf, data, len) != 0))
		r = uc_fail(UC_ERR_IO, "%s: reads back different bytes than "
		    "were written", tmp);
	OPENSSL_clear_free(buf, rlen + 1);
	return r;
}

/*
 * Write len bytes to path atomically with the given mode.  If check is
 * set it runs on the complete temp file before the rename; a non-zero
 * result aborts the write and is returned.
 */
int
file_write_atomic(const char *path, const void *data, size_t len,
    mode_t mode, file_check_fn check, void *arg)
{
	char	 tmp[PATH_MAX];
	int	 fd = -1, r = UC_ERR_IO;

	if (snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >= (int)sizeof(tmp))
		return uc_fail(UC_ERR_ARG, "%s: path too long", path);
	if ((fd = mkstemp(tmp)) == -1)
		return uc_fail(UC_ERR_IO, "%s: cannot create temp file: %s",
		    path, strerror(errno));
	if (fchmod(fd, mode) == -1 || write_all(fd, data, len) == -1 ||
	    fsync(fd) == -1) {
		r = uc_fail(UC_ERR_IO, "%s: %s", tmp, strerror(errno));
		goto fail;
	}
	if (close(fd) == -1) {
		fd = -1;
		r = uc_fail(UC_ERR_IO, "%s: %s", tmp, strerror(errno));
		goto fail;
	}
	fd = -1;
	if ((r = read_back(tmp, data, len)) != 0 ||
	    (check != NULL && (r = check(tmp, arg)) != 0))
		goto fail;
	if (rename(tmp, path) == -1) {
		r = uc_fail(UC_ERR_IO, "%s: rename: %s", path, strerror(errno));
		goto fail;
	}
	sync_dir(path);
	return 0;
fail:
	if (fd != -1)
		close(fd);
	unlink(tmp);
	return r;
}
