/*
 * Whole-file reads with a size cap, and atomic writes: temp file in the
 * target directory, fsync, read back and compare, optional check of the
 * written file, rename, directory fsync.  A failure leaves the old file untouched and removes
 * the temp file.
 */
#ifndef UCSEC_FILEIO_H
#define UCSEC_FILEIO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef int (*file_check_fn)(const char *, void *);

int	 file_read(const char *, size_t, uint8_t **, size_t *);
int	 file_read_fd(int, const char *, size_t, uint8_t **, size_t *);
int	 file_write_atomic(const char *, const void *, size_t, mode_t,
	    file_check_fn, void *);

#endif /* UCSEC_FILEIO_H */
