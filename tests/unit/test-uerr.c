/*
 * Suite "uerr": error table and detail line (lib/uerr.c), plus log_vis
 * (lib/log.c), which every error path that echoes input relies on.
 */
#include <openssl/err.h>

#include "log.h"
#include "unit.h"

static void
test_strerror_names_every_code(void)
{
	int	 e;

	CU_ASSERT_STRING_EQUAL(uc_strerror(UC_OK), "success");
	CU_ASSERT_STRING_EQUAL(uc_strerror(UC_ERR_SIGNATURE),
	    "invalid signature");
	for (e = UC_ERR_INTERNAL; e > -UC_ERR__MAX; e--) {
		CU_ASSERT_PTR_NOT_NULL(uc_strerror(e));
		CU_ASSERT_STRING_NOT_EQUAL(uc_strerror(e), "unknown error");
	}
	CU_ASSERT_STRING_EQUAL(uc_strerror(-UC_ERR__MAX), "unknown error");
	CU_ASSERT_STRING_EQUAL(uc_strerror(5), "unknown error");
	CU_ASSERT_STRING_EQUAL(uc_strerror(-1000), "unknown error");
}

static void
test_fail_sets_detail_and_returns_code(void)
{
	CU_ASSERT_EQUAL(uc_fail(UC_ERR_FORMAT, "offset %d: bad", 12),
	    UC_ERR_FORMAT);
	CU_ASSERT_STRING_EQUAL(uc_errdetail(), "offset 12: bad");
	uc_prefix("CTLFile.tlv");
	CU_ASSERT_STRING_EQUAL(uc_errdetail(), "CTLFile.tlv: offset 12: bad");
}

static void
test_prefix_truncates_long_detail(void)
{
	char	 big[2000];

	memset(big, 'p', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	uc_fail(UC_ERR_IO, "%s", big);
	uc_prefix(big);
	CU_ASSERT(strlen(uc_errdetail()) < 512);
	CU_ASSERT(strlen(uc_errdetail()) > 400);
}

static void
test_fail_ssl_appends_and_clears_queue(void)
{
	ERR_clear_error();
	ERR_raise(ERR_LIB_X509, X509_R_CERT_ALREADY_IN_HASH_TABLE);
	CU_ASSERT_EQUAL(uc_fail_ssl(UC_ERR_CRYPTO, "adding"), UC_ERR_CRYPTO);
	CU_ASSERT(strncmp(uc_errdetail(), "adding: ", 8) == 0);
	CU_ASSERT(strlen(uc_errdetail()) > 8);
	CU_ASSERT_EQUAL(ERR_peek_error(), 0);
}

static void
test_log_vis_escapes_control_bytes(void)
{
	char	 out[64];

	log_vis(out, sizeof(out), "a\nb\\c\x7f\xff", 8);
	CU_ASSERT_STRING_EQUAL(out, "a\\012b\\134c\\177\\377");
	/* Truncation never splits an escape or overruns. */
	log_vis(out, 6, "ab\ncd", 5);
	CU_ASSERT_STRING_EQUAL(out, "ab");
	log_vis(out, 1, "abc", 3);
	CU_ASSERT_STRING_EQUAL(out, "");
	/* Stops at n even without a NUL. */
	log_vis(out, sizeof(out), "abcdef", 3);
	CU_ASSERT_STRING_EQUAL(out, "abc");
}

static const struct unit_test tests[] = {
	{ "strerror names every code", test_strerror_names_every_code },
	{ "uc_fail sets the detail and returns the code",
	    test_fail_sets_detail_and_returns_code },
	{ "uc_prefix truncates a long detail",
	    test_prefix_truncates_long_detail },
	{ "uc_fail_ssl appends the reason and clears the queue",
	    test_fail_ssl_appends_and_clears_queue },
	{ "log_vis escapes control and high bytes",
	    test_log_vis_escapes_control_bytes },
	{ NULL, NULL },
};

void
unit_register_uerr(void)
{
	unit_suite("uerr", tests);
}
