/*
 * Unit test driver: registers one CUnit suite per lib/ module and runs
 * them in basic mode.  Exits non-zero if any assertion failed.
 *
 *	UCSEC_VECTORS=../shared/vectors build/tests/unit-tests [suite]
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <CUnit/Basic.h>

#include "cert.h"
#include "fileio.h"
#include "unit.h"

static char	 tmpdir[PATH_MAX];
static int	 reg_error;

void
unit_suite(const char *name, const struct unit_test *tests)
{
	CU_pSuite	 s;

	if ((s = CU_add_suite(name, NULL, NULL)) == NULL) {
		reg_error = 1;
		return;
	}
	for (; tests->name != NULL; tests++)
		if (CU_add_test(s, tests->name, tests->fn) == NULL)
			reg_error = 1;
}

const char *
vec_path(const char *name)
{
	static char	 buf[PATH_MAX];
	const char	*dir = getenv("UCSEC_VECTORS");

	if (dir == NULL)
		dir = "../shared/vectors";
	snprintf(buf, sizeof(buf), "%s/%s", dir, name);
	return buf;
}

uint8_t *
vec_read(const char *name, size_t *len)
{
	uint8_t	*buf;

	if (file_read(vec_path(name), 1024 * 1024, &buf, len) != 0) {
		fprintf(stderr, "\n  vector %s: %s\n", name, uc_errdetail());
		CU_FAIL("vector missing");
		return NULL;
	}
	return buf;
}

X509 *
vec_cert(const char *name)
{
	X509	*x;

	if (cert_load(vec_path(name), &x) != 0) {
		fprintf(stderr, "\n  cert %s: %s\n", name, uc_errdetail());
		CU_FAIL("certificate missing");
		return NULL;
	}
	return x;
}

const char *
unit_hex(const uint8_t *p, size_t n)
{
	static char	 buf[2 * 256 + 1];

	if (p == NULL)
		return "(null)";
	if (n > 256)
		n = 256;
	hex_encode(p, n, buf);
	return buf;
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void
rm_tmpdir(void)
{
	if (tmpdir[0] != '\0')
		nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

const char *
unit_tmpdir(void)
{
	const char	*t = getenv("TMPDIR");

	if (tmpdir[0] == '\0') {
		snprintf(tmpdir, sizeof(tmpdir), "%s/ucsec-unit.XXXXXX",
		    t != NULL && *t != '\0' ? t : "/tmp");
		if (mkdtemp(tmpdir) == NULL) {
			tmpdir[0] = '\0';
			CU_FAIL_FATAL("mkdtemp");
		}
		atexit(rm_tmpdir);
	}
	return tmpdir;
}

int
unit_in_child(int (*fn)(void *), void *arg, unsigned secs)
{
	pid_t	 pid;
	int	 status = 0;

	fflush(stdout);
	fflush(stderr);
	if ((pid = fork()) == -1) {
		perror("fork");
		return 0;
	}
	if (pid == 0) {
		alarm(secs);
		_exit(fn(arg) == 0 ? 0 : 1);
	}
	if (waitpid(pid, &status, 0) == -1) {
		perror("waitpid");
		return 0;
	}
	if (WIFSIGNALED(status)) {
		fprintf(stderr, "\n  child killed by signal %d (%s)\n",
		    WTERMSIG(status), WTERMSIG(status) == SIGALRM ?
		    "hang: alarm fired" : "crash");
		return 0;
	}
	if (WEXITSTATUS(status) != 0) {
		fprintf(stderr, "\n  child exited %d%s\n", WEXITSTATUS(status),
		    " (assertion failed, or see a sanitizer report above)");
		return 0;
	}
	return 1;
}

void
unit_clear_err(void)
{
	uc_seterr("%s", "");
}

void
unit_check_fail(int got, int want, const char *needle, const char *call,
    const char *file, int line)
{
	const char	*d = uc_errdetail();
	char		 msg[1024];

	snprintf(msg, sizeof(msg), "%s returned %d (%s), want %d (%s)", call,
	    got, uc_strerror(got), want, uc_strerror(want));
	CU_assertImplementation(got == want, line, msg, file, "", CU_FALSE);
	snprintf(msg, sizeof(msg), "%s left an empty detail line", call);
	CU_assertImplementation(d[0] != '\0', line, msg, file, "", CU_FALSE);
	if (needle != NULL) {
		snprintf(msg, sizeof(msg), "%s: detail \"%.600s\" lacks \"%s\"",
		    call, d, needle);
		CU_assertImplementation(strstr(d, needle) != NULL, line, msg,
		    file, "", CU_FALSE);
	}
}

int
main(int argc, char *argv[])
{
	unsigned	 nfail, nasserts;

	if (getenv("UCSEC_VECTORS") == NULL)
		fprintf(stderr, "UCSEC_VECTORS unset; using %s\n",
		    vec_path(""));
	if (CU_initialize_registry() != CUE_SUCCESS) {
		fprintf(stderr, "CU_initialize_registry: %s\n", CU_get_error_msg());
		return 2;
	}
	unit_register_cursor();
	unit_register_wbuf();
	unit_register_uerr();
	unit_register_cert();
	unit_register_fileio();
	unit_register_signer();
	unit_register_conf();
	unit_register_sgn();
	unit_register_sgnbuild();
	unit_register_tftppkt();
	unit_register_enccfg();
	unit_register_store();
	unit_register_pwhash();
	unit_register_digest();
	unit_register_seal();
	unit_register_csv();
	unit_register_capfmsg();
	unit_register_lsc();
	unit_register_json();
	unit_register_sdes();
	unit_register_sdp();
	unit_register_skinny();
	unit_register_srtpw();
	unit_register_rtpflow();
	unit_register_keylog();
	unit_register_netpkt();
	if (reg_error) {
		fprintf(stderr, "test registration failed: %s\n",
		    CU_get_error_msg());
		CU_cleanup_registry();
		return 2;
	}
	CU_basic_set_mode(CU_BRM_VERBOSE);
	if (argc > 1) {
		CU_pSuite s = CU_get_suite(argv[1]);

		if (s == NULL) {
			fprintf(stderr, "no suite \"%s\"\n", argv[1]);
			CU_cleanup_registry();
			return 2;
		}
		CU_basic_run_suite(s);
	} else
		CU_basic_run_tests();
	nfail = CU_get_number_of_failures();
	nasserts = CU_get_number_of_asserts();
	printf("\nunit-tests: %u tests run, %u failed; %u asserts, %u failed\n",
	    CU_get_number_of_tests_run(), CU_get_number_of_tests_failed(),
	    nasserts, nfail);
	nfail += CU_get_number_of_tests_failed() +
	    CU_get_number_of_suites_failed();
	CU_cleanup_registry();
	return nfail == 0 && CU_get_error() == CUE_SUCCESS ? 0 : 1;
}
