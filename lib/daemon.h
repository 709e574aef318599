/*
 * What the daemons (ucsec-tftpd, capfd) share at start-up: numeric
 * option values with a range, and the privilege drop after binding.
 */
#ifndef UCSEC_DAEMON_H
#define UCSEC_DAEMON_H

#include <sys/socket.h>

/* "--opt v" as a decimal number in [min, max]; UC_ERR_ARG otherwise. */
int	 opt_number(const char *, const char *, long long, long long,
	    long long *);
/*
 * Drop to user: groups, gid, uid, then check that root cannot come back
 * (acme-client-portable, openssh uidswap.c).  UC_ERR_* on any failure;
 * the caller must exit then.
 */
int	 priv_drop(const char *);

/*
 * The first address of host and port (a number or a service name) for
 * socktype (SOCK_STREAM, SOCK_DGRAM) into *ss and *len.  UC_ERR_IO names
 * the host, the port and the resolver's reason.
 */
int	 addr_resolve(const char *, const char *, int,
	    struct sockaddr_storage *, socklen_t *);
/*
 * Room for want descriptors plus 64 spare: the soft RLIMIT_NOFILE is
 * raised to the hard one when needed.  UC_ERR_ARG when even that is too
 * low (the detail gives both numbers), UC_ERR_IO when the calls fail.
 */
int	 fd_limit_raise(long);

#endif /* UCSEC_DAEMON_H */
