/*
 * Shared helpers for the CUnit unit tests (tests/unit/test-*.c).  One
 * suite per lib/ module; test-main.c registers them all and runs CUnit
 * in basic mode.  Vectors come from $UCSEC_VECTORS (../shared/vectors).
 */
#ifndef UCSEC_UNIT_H
#define UCSEC_UNIT_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>

#include <CUnit/CUnit.h>
#include <openssl/x509.h>

#include "uerr.h"

struct unit_test {
	const char	*name;	/* the behaviour checked */
	CU_TestFunc	 fn;
};

/* Register one suite; tests ends with a NULL name.  In test-main.c. */
void		 unit_suite(const char *, const struct unit_test *);

/* Vector helpers, in test-main.c.  All return NULL (and CU_FAIL) on error. */
const char	*vec_path(const char *);		/* static buffer */
uint8_t		*vec_read(const char *, size_t *);	/* caller frees */
X509		*vec_cert(const char *);		/* caller frees */
/* Lowercase hex of n bytes into a static buffer (at most 256 bytes). */
const char	*unit_hex(const uint8_t *, size_t);
/* A fresh private temp directory (static buffer), removed at exit. */
const char	*unit_tmpdir(void);
/*
 * Run fn(arg) in a child process with an alarm of secs seconds, so a
 * hang or a sanitizer abort fails one test instead of the whole run.
 * Returns 1 if the child exited with fn's result 0, else 0 (and says why
 * on stderr).
 */
int		 unit_in_child(int (*)(void *), void *, unsigned);
/* Clear the uerr detail line so a test can see that a call set it. */
void		 unit_clear_err(void);

/*
 * A call that must fail: returns the code `want` and leaves a non-empty
 * detail line containing `needle` (NULL: only non-empty).
 */
#define UNIT_FAILS(call, want, needle) do {				\
	unit_clear_err();						\
	unit_check_fail((call), (want), (needle), #call, __FILE__,	\
	    __LINE__);							\
} while (0)
void	 unit_check_fail(int, int, const char *, const char *, const char *,
	    int);

void	 unit_register_cert(void);
void	 unit_register_conf(void);
void	 unit_register_cursor(void);
void	 unit_register_enccfg(void);
void	 unit_register_fileio(void);
void	 unit_register_sgn(void);
void	 unit_register_sgnbuild(void);
void	 unit_register_signer(void);
void	 unit_register_uerr(void);
void	 unit_register_wbuf(void);
void	 unit_register_tftppkt(void);
void	 unit_register_store(void);
void	 unit_register_pwhash(void);
void	 unit_register_digest(void);
void	 unit_register_seal(void);
void	 unit_register_csv(void);
void	 unit_register_capfmsg(void);
void	 unit_register_lsc(void);
void	 unit_register_json(void);
void	 unit_register_sdes(void);
void	 unit_register_sdp(void);
void	 unit_register_skinny(void);
void	 unit_register_srtpw(void);
void	 unit_register_rtpflow(void);
void	 unit_register_keylog(void);
void	 unit_register_netpkt(void);

#endif /* UCSEC_UNIT_H */
