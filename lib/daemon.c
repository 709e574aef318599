/* Start-up helpers shared by the daemons; see daemon.h. */
#include <sys/types.h>

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
