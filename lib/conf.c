/*
 * INI configuration through libinih.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>

#include "conf.h"
#include "uerr.h"

struct conf_state {
	const struct conf_key	*keys;
	FILE			*fp;
	int			 lineno;	/* lines read so far */
	int			 err;		/* first key error, 0 if none */
	int			 err_line;	/* its line */
	char			 first[512];	/* its detail line */
};

/* Keep the first key error only, with the line it was on. */
static int
conf_error(struct conf_state *st, int r)
{
	if (st->err == 0) {
		st->err = r;
		st->err_line = st->lineno;
		snprintf(st->first, sizeof(st->first), "%s", uc_errdetail());
	}
	return 0;
}

/* inih's line reader: fgets that counts lines for error messages. */
static char *
reader(char *buf, int sz, void *arg)
{
	struct conf_state	*st = arg;
	char			*p;

	if ((p = fgets(buf, sz, st->fp)) != NULL)
		st->lineno++;
	return p;
}

static int
handler(void *arg, const char *section, const char *name, const char *value)
{
	struct conf_state	*st = arg;
	const struct conf_key	*k;
	int			 r;

	for (k = st->keys; k->name != NULL; k++) {
		if (strcmp(k->section, section) != 0 ||
		    strcmp(k->name, name) != 0)
			continue;
		if ((r = k->set(k->arg, value)) != 0)
			return conf_error(st, r);
		return 1;
	}
	return conf_error(st, uc_fail(UC_ERR_ARG, "unknown key \"%s\" in "
	    "section [%s]", name, section));
}

/*
 * Read path and apply each key through keys (terminated by a NULL name).
 * Returns 0, or an error whose detail names the file and line.
 */
int
conf_load(const char *path, const struct conf_key *keys)
{
	struct conf_state	 st = { .keys = keys };
	FILE			*fp;
	char			 where[PATH_MAX + 16];
	int			 line;

	if ((fp = fopen(path, "re")) == NULL)
		return uc_fail(UC_ERR_IO, "%s: %s", path, strerror(errno));
	st.fp = fp;
	line = ini_parse_stream(reader, &st, handler, &st);
	fclose(fp);
	if (line == 0)
		return 0;
	if (st.err == 0 || line < st.err_line)
		return uc_fail(UC_ERR_FORMAT, "%s:%d: syntax error", path, line);
	snprintf(where, sizeof(where), "%s:%d", path, st.err_line);
	uc_seterr("%s", st.first);
	uc_prefix(where);
	return st.err;
}

/* Setter for a char * (arg points to it); the copy is owned by *arg. */
int
conf_set_string(void *arg, const char *value)
{
	char	**dst = arg, *s;

	if ((s = strdup(value)) == NULL)
		return uc_fail(UC_ERR_ALLOC, "config value");
	free(*dst);
	*dst = s;
	return 0;
}

/* Setter for a non-negative int. */
int
conf_set_int(void *arg, const char *value)
{
	char	*end;
	long	 v;

	errno = 0;
	v = strtol(value, &end, 10);
	if (errno != 0 || end == value || *end != '\0' || v < 0 || v > INT_MAX)
		return uc_fail(UC_ERR_ARG, "\"%s\" is not a number from 0 to "
		    "%d", value, INT_MAX);
	*(int *)arg = (int)v;
	return 0;
}
