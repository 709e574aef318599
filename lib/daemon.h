/*
 * What the daemons (ucsec-tftpd, capfd) share at start-up: numeric
 * option values with a range, and the privilege drop after binding.
 */
#ifndef UCSEC_DAEMON_H
#define UCSEC_DAEMON_H

/* "--opt v" as a decimal number in [min, max]; UC_ERR_ARG otherwise. */
int	 opt_number(const char *, const char *, long long, long long,
	    long long *);
/*
 * Drop to user: groups, gid, uid, then check that root cannot come back
 * (acme-client-portable, openssh uidswap.c).  UC_ERR_* on any failure;
 * the caller must exit then.
 */
int	 priv_drop(const char *);

#endif /* UCSEC_DAEMON_H */
