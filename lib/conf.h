/*
 * Configuration files in INI form, read with libinih.  Each daemon gives a
 * table of known keys; an unknown section or key, or a value the key's
 * setter refuses, is an error naming the file and line.
 */
#ifndef UCSEC_CONF_H
#define UCSEC_CONF_H

struct conf_key {
	const char	*section;	/* "" for keys before any section */
	const char	*name;
	/* Store value; return 0 or a UC_ERR_* code with uc_fail detail. */
	int		(*set)(void *, const char *);
	void		*arg;
};

int	 conf_load(const char *, const struct conf_key *);
int	 conf_set_string(void *, const char *);
int	 conf_set_int(void *, const char *);

#endif /* UCSEC_CONF_H */
