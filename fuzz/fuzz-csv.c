/*
 * libFuzzer harness for the CSV reader (lib/csv.c), which reads the
 * bulk-import files of capfctl(8).  Checks the csv.h contract on every
 * record: 1 to CSV_FIELDS_MAX fields, each NUL-terminated within
 * CSV_FIELD_MAX bytes, line numbers increasing and inside the input;
 * a failure is UC_ERR_FORMAT with a "line N: " detail; a callback's
 * non-zero return comes back unchanged.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "csv.h"
#include "uerr.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define CHECK(x)	do { if (!(x)) abort(); } while (0)

struct fuzz_state {
	size_t	 lines;		/* LF count + 1: no record lies past it */
	size_t	 prev;		/* line of the previous record */
	size_t	 nrec;
	size_t	 stop;		/* return 7 at this record; 0 never */
};

static int
check_rec(const struct csv_rec *rec, void *arg)
{
	struct fuzz_state	*st = arg;
	size_t			 i;

	CHECK(rec->nfields >= 1 && rec->nfields <= CSV_FIELDS_MAX);
	CHECK(rec->line > st->prev && rec->line <= st->lines);
	st->prev = rec->line;
	for (i = 0; i < rec->nfields; i++) {
		CHECK(rec->field[i] != NULL);
		CHECK(memchr(rec->field[i], '\0', CSV_FIELD_MAX + 1) != NULL);
	}
	return ++st->nrec == st->stop ? 7 : 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct fuzz_state	 st;
	const char		*d;
	size_t			 i;
	int			 r;

	memset(&st, 0, sizeof(st));
	st.lines = 1;
	for (i = 0; i < len; i++)
		if (data[i] == '\n')
			st.lines++;
	r = csv_parse(data, len, check_rec, &st);
	if (r == 0 || r == UC_ERR_FORMAT) {
		d = uc_errdetail();
		CHECK(r == 0 || strncmp(d, "line ", 5) == 0);
	} else
		CHECK(0);
	/* Again, stopping at the first record when there was one. */
	if (st.nrec > 0) {
		st.prev = 0;
		st.stop = 1;
		st.nrec = 0;
		CHECK(csv_parse(data, len, check_rec, &st) == 7);
		CHECK(st.nrec == 1);
	}
	return 0;
}
