/*
 * A small RFC 4180 CSV reader over the cursor, for bulk imports of
 * untrusted admin files: quoted fields with "" escapes, CRLF or LF line
 * ends, a cap on field count and field length.  Each record is handed to
 * a callback with its 1-based line number, so errors name the line.
 */
#ifndef UCSEC_CSV_H
#define UCSEC_CSV_H

#include <stddef.h>
#include <stdint.h>

#define CSV_FIELDS_MAX	16
#define CSV_FIELD_MAX	256	/* bytes, excluding the NUL */

struct csv_rec {
	size_t		 line;			/* where the record starts */
	size_t		 nfields;
	char		*field[CSV_FIELDS_MAX];	/* NUL-terminated */
};

/*
 * Parse buf; call fn per record (blank lines skipped).  A non-zero
 * return from fn stops the parse and is returned.  Malformed input
 * returns UC_ERR_FORMAT with "line N: why" in uc_errdetail().
 */
int	 csv_parse(const uint8_t *, size_t,
	    int (*)(const struct csv_rec *, void *), void *);

#endif /* UCSEC_CSV_H */
