/* Start-up helpers shared by the daemons; see daemon.h. */
#include <sys/types.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <netdb.h>

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"
#include "uerr.h"

int
opt_number(const char *opt, const char *v, long long min, long long max,
    long long *out)
{
	char		*end;
	long long	 n;

	errno = 0;
	n = strtoll(v, &end, 10);
	if (errno != 0 || end == v || *end != '\0' || n < min || n > max)
		return uc_fail(UC_ERR_ARG, "--%s %s: want %lld..%lld", opt, v,
		    min, max);
	*out = n;
	return 0;
}

int
priv_drop(const char *user)
{
	struct passwd	*pw;
	uid_t		 r, e, s;

	if ((pw = getpwnam(user)) == NULL)
		return uc_fail(UC_ERR_ARG, "--user %s: no such user", user);
	if (setgroups(1, &pw->pw_gid) == -1 ||
	    setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) == -1 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) == -1)
		return uc_fail(UC_ERR_INTERNAL, "dropping privileges to %s: %s",
		    user, strerror(errno));
	if (pw->pw_uid != 0 && (setuid(0) != -1 || seteuid(0) != -1))
		return uc_fail(UC_ERR_INTERNAL, "dropping privileges to %s: "
		    "root came back", user);
	if (getresuid(&r, &e, &s) == -1 || r != pw->pw_uid ||
	    e != pw->pw_uid || s != pw->pw_uid)
		return uc_fail(UC_ERR_INTERNAL, "dropping privileges to %s: "
		    "uid check", user);
	return 0;
}

int
addr_resolve(const char *host, const char *port, int socktype,
    struct sockaddr_storage *ss, socklen_t *len)
{
	struct addrinfo	 hints, *res = NULL;
	int		 e;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = socktype;
	if ((e = getaddrinfo(host, port, &hints, &res)) != 0)
		return uc_fail(UC_ERR_IO, "%s port %s: %s", host, port,
		    gai_strerror(e));
	if (res->ai_addrlen > sizeof(*ss)) {
		freeaddrinfo(res);
		return uc_fail(UC_ERR_IO, "%s: address too long", host);
	}
	memset(ss, 0, sizeof(*ss));
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

int
fd_limit_raise(long want)
{
	struct rlimit	 rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return uc_fail(UC_ERR_IO, "getrlimit: %s", strerror(errno));
	if (rl.rlim_cur < (rlim_t)want + 64) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			return uc_fail(UC_ERR_IO, "setrlimit: %s",
			    strerror(errno));
	}
	if (rl.rlim_cur < (rlim_t)want + 64)
		return uc_fail(UC_ERR_ARG, "%ld connections need %ld "
		    "descriptors; the limit is %llu", want, want + 64,
		    (unsigned long long)rl.rlim_cur);
	return 0;
}

