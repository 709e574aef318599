/*
 * Suite "seal": AES-256-GCM sealing of secrets at rest (lib/seal.c).
 * Round trips, a known answer made with Python's cryptography package
 * (AESGCM, an independent implementation), every tampering refused with
 * UC_ERR_SIGNATURE, the aad binding, and the key file rules (mode,
 * content, creation).
 */
#include <sys/stat.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "fileio.h"
#include "seal.h"
#include "unit.h"

#define HA1	"91a995fd2f7b2e5fb33862d69a3270f8dd1ab767aa6964c4ea146208ecd8135b"
static const uint8_t	 aad[] = "alice\0secure.example.net\0SHA-256";
#define AADLEN	(sizeof(aad) - 1)

/*
 * AESGCM(bytes(range(32))).encrypt(bytes(range(0xa0, 0xac)), HA1, aad),
 * nonce prepended, base64.
 */
#define KAT_B64	"oKGio6Slpqeoqaqr3ykdFHz+ZNtQA7CxNR/1uBKfaiikhSZapW8VtEibEzm2" \
		"EnaezRVlCj79MvE/TuDNInp3fFTiKkYkPW9mlUOw0qJDE/mz3s3tUImMQLJDLsA="
#define KAT	"s1:" KAT_B64
/* Same key and nonce, empty plaintext and aad. */
#define KAT_EMPTY "s1:oKGio6SlpqeoqaqrXGmWJa9Lk6D4IgoqYRnF0A=="

static uint8_t	 key[SEAL_KEY_LEN];

static void
key_init(void)
{
	size_t	 i;

	for (i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)i;
}

static void
test_seal_round_trip(void)
{
	char	*s = NULL, *s2 = NULL;
	uint8_t	 out[128];
	size_t	 n = 0;

	key_init();
	CU_ASSERT_EQUAL_FATAL(seal(key, HA1, strlen(HA1), aad, AADLEN, &s), 0);
	CU_ASSERT_EQUAL(strncmp(s, "s1:", 3), 0);
	/* 12 + 64 + 16 = 92 bytes -> 124 base64 characters. */
	CU_ASSERT_EQUAL(strlen(s), 3 + 124);
	CU_ASSERT_PTR_NULL(strstr(s, "91a995fd"));
	CU_ASSERT_EQUAL(unseal(key, aad, AADLEN, s, out, sizeof(out), &n), 0);
	CU_ASSERT_EQUAL(n, strlen(HA1));
	CU_ASSERT_STRING_EQUAL((char *)out, HA1);
	/* A fresh nonce each time. */
	CU_ASSERT_EQUAL_FATAL(seal(key, HA1, strlen(HA1), aad, AADLEN, &s2),
	    0);
	CU_ASSERT_STRING_NOT_EQUAL(s, s2);
	free(s);
	free(s2);
	/* Empty plaintext and no aad; every length 0..40 round trips. */
	for (n = 0; n <= 40; n++) {
		size_t	 got = 99;

		s = NULL;
		CU_ASSERT_EQUAL_FATAL(seal(key, HA1, n, NULL, 0, &s), 0);
		CU_ASSERT_EQUAL(unseal(key, NULL, 0, s, out, sizeof(out),
		    &got), 0);
		CU_ASSERT_EQUAL(got, n);
		CU_ASSERT_EQUAL(memcmp(out, HA1, n), 0);
		free(s);
	}
}

static void
test_unseal_known_answer(void)
{
	uint8_t	 out[128];
	size_t	 n = 0;

	key_init();
	CU_ASSERT_EQUAL(unseal(key, aad, AADLEN, KAT, out, sizeof(out), &n),
	    0);
	CU_ASSERT_EQUAL(n, 64);
	CU_ASSERT_STRING_EQUAL((char *)out, HA1);
	CU_ASSERT_EQUAL(unseal(key, NULL, 0, KAT_EMPTY, out, sizeof(out), &n),
	    0);
	CU_ASSERT_EQUAL(n, 0);
	/* Exactly the plaintext size fits (no room for the NUL). */
	CU_ASSERT_EQUAL(unseal(key, aad, AADLEN, KAT, out, 64, &n), 0);
	CU_ASSERT_EQUAL(memcmp(out, HA1, 64), 0);
	memset(out, 'Z', sizeof(out));
	UNIT_FAILS(unseal(key, aad, AADLEN, KAT, out, 63, &n), UC_ERR_ARG,
	    "fit");
	CU_ASSERT_EQUAL(n, 0);
}

static void
test_unseal_wrong_key_or_aad_refused(void)
{
	uint8_t	 k2[SEAL_KEY_LEN], out[128];
	size_t	 n = 5;

	key_init();
	memcpy(k2, key, sizeof(k2));
	k2[0] ^= 0x80;
	UNIT_FAILS(unseal(k2, aad, AADLEN, KAT, out, sizeof(out), &n),
	    UC_ERR_SIGNATURE, "tag");
	CU_ASSERT_EQUAL(n, 0);
	/* The row binding: another user, realm or algorithm. */
	UNIT_FAILS(unseal(key, "bob\0secure.example.net\0SHA-256", AADLEN - 2,
	    KAT, out, sizeof(out), &n), UC_ERR_SIGNATURE, "tag");
	UNIT_FAILS(unseal(key, "alice\0secure.example.net\0MD5", AADLEN - 4,
	    KAT, out, sizeof(out), &n), UC_ERR_SIGNATURE, "tag");
	UNIT_FAILS(unseal(key, aad, AADLEN - 1, KAT, out, sizeof(out), &n),
	    UC_ERR_SIGNATURE, "tag");
	UNIT_FAILS(unseal(key, NULL, 0, KAT, out, sizeof(out), &n),
	    UC_ERR_SIGNATURE, "tag");
	/* The plaintext buffer holds nothing after a failure. */
	CU_ASSERT_PTR_NULL(memchr(out, '9', sizeof(out)));
}

static void
test_unseal_tampering_refused(void)
{
	static const char *const bad[] = {
		"", "s1:", "s2:" KAT_B64, "S1:" KAT_B64, KAT_B64, "s1" KAT_B64,
		"s1::" KAT_B64,
		"s1:oKGio6Slpqeoqaqr3ykdFHz+",		/* too short */
		"s1:oKGio6SlpqeoqaqrXGmWJa9Lk6D4IgoqYRnF",	/* 27 bytes */
		"s1:oKGio6SlpqeoqaqrXGmWJa9Lk6D4IgoqYRnF0A=",	/* bad pad */
		"s1:oKGio6SlpqeoqaqrXGmWJa9Lk6D4IgoqYRnF0B==",	/* bits */
		"s1:oKGio6SlpqeoqaqrXGmWJa9Lk6D4IgoqYRnF0A==\n",
		"s1: oKGio6SlpqeoqaqrXGmWJa9Lk6D4IgoqYRnF0A==",
		"s1:oKGio6Slpqeo=aqrXGmWJa9Lk6D4IgoqYRnF0A==",
	};
	char	 t[sizeof(KAT)];
	uint8_t	 out[128];
	size_t	 i, n;
	int	 bit, wrong = 0;

	key_init();
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		UNIT_FAILS(unseal(key, NULL, 0, bad[i], out, sizeof(out), &n),
		    UC_ERR_SIGNATURE, NULL);
	/* Every bit flip and every truncation of the sealed text. */
	for (i = 0; i < sizeof(KAT) - 1; i++) {
		for (bit = 0; bit < 8; bit++) {
			memcpy(t, KAT, sizeof(t));
			t[i] ^= (char)(1 << bit);
			if (unseal(key, aad, AADLEN, t, out, sizeof(out), &n) !=
			    UC_ERR_SIGNATURE)
				wrong++;
		}
		memcpy(t, KAT, sizeof(t));
		t[i] = '\0';
		if (unseal(key, aad, AADLEN, t, out, sizeof(out), &n) !=
		    UC_ERR_SIGNATURE)
			wrong++;
	}
	CU_ASSERT_EQUAL(wrong, 0);
}

static void
test_seal_bad_arguments(void)
{
	char	*s = (char *)"untouched";

	key_init();
	UNIT_FAILS(seal(key, NULL, 3, NULL, 0, &s), UC_ERR_ARG, NULL);
	CU_ASSERT_PTR_NULL(s);
	UNIT_FAILS(seal(key, "x", 1, NULL, 4, &s), UC_ERR_ARG, NULL);
	UNIT_FAILS(seal(NULL, "x", 1, NULL, 0, &s), UC_ERR_ARG, NULL);
}

/* ---- key files -------------------------------------------------------- */

static const char *
tmp_path(const char *name)
{
	static char	 buf[4096];

	snprintf(buf, sizeof(buf), "%s/%s", unit_tmpdir(), name);
	return buf;
}

static int
put_file(const char *path, const void *data, size_t len, mode_t mode)
{
	int	 fd;

	unlink(path);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600)) == -1)
		return -1;
	if (write(fd, data, len) != (ssize_t)len || fchmod(fd, mode) == -1) {
		close(fd);
		return -1;
	}
	return close(fd);
}

static void
test_key_file_created_then_reloaded(void)
{
	char		 path[4096], nm[64];
	struct stat	 st;
	uint8_t		 k1[SEAL_KEY_LEN], k2[SEAL_KEY_LEN], zero[SEAL_KEY_LEN];
	uint8_t		*buf = NULL;
	size_t		 len = 0;

	snprintf(path, sizeof(path), "%s", tmp_path("new.key"));
	unlink(path);
	memset(zero, 0, sizeof(zero));
	UNIT_FAILS(seal_key_load(path, 0, k1), UC_ERR_IO, "new.key");
	CU_ASSERT_EQUAL_FATAL(seal_key_load(path, 1, k1), 0);
	CU_ASSERT_NOT_EQUAL(memcmp(k1, zero, sizeof(k1)), 0);
	CU_ASSERT_EQUAL_FATAL(stat(path, &st), 0);
	CU_ASSERT(S_ISREG(st.st_mode));
	CU_ASSERT_EQUAL(st.st_mode & 07777, 0600);
	CU_ASSERT_EQUAL(st.st_size, SEAL_KEY_LEN);
	CU_ASSERT_EQUAL_FATAL(file_read(path, 64, &buf, &len), 0);
	CU_ASSERT_EQUAL(len, SEAL_KEY_LEN);
	CU_ASSERT_EQUAL(memcmp(buf, k1, SEAL_KEY_LEN), 0);
	free(buf);
	/* An existing key is loaded, never replaced, with create too. */
	CU_ASSERT_EQUAL(seal_key_load(path, 1, k2), 0);
	CU_ASSERT_EQUAL(memcmp(k1, k2, sizeof(k1)), 0);
	CU_ASSERT_EQUAL(seal_key_load(path, 0, k2), 0);
	CU_ASSERT_EQUAL(memcmp(k1, k2, sizeof(k1)), 0);
	/* No temp file left behind. */
	snprintf(nm, sizeof(nm), "new.key.new.%ld", (long)getpid());
	CU_ASSERT_NOT_EQUAL(access(tmp_path(nm), F_OK), 0);
	/* A missing directory: no key. */
	UNIT_FAILS(seal_key_load(tmp_path("nodir/x.key"), 1, k2), UC_ERR_IO,
	    NULL);
	CU_ASSERT_EQUAL(memcmp(k2, zero, sizeof(k2)), 0);
}

static void
test_key_file_hex_and_raw(void)
{
	static const char	 hex[] = "000102030405060708090a0b0c0d0e0f"
	    "101112131415161718191A1B1C1D1E1F";
	char			 buf[80];
	uint8_t			 k[SEAL_KEY_LEN];
	const char		*path = tmp_path("hex.key");

	key_init();
	CU_ASSERT_EQUAL_FATAL(put_file(path, hex, 64, 0600), 0);
	CU_ASSERT_EQUAL(seal_key_load(path, 0, k), 0);
	CU_ASSERT_EQUAL(memcmp(k, key, sizeof(k)), 0);
	snprintf(buf, sizeof(buf), "%s\n", hex);
	CU_ASSERT_EQUAL_FATAL(put_file(path, buf, 65, 0400), 0);
	CU_ASSERT_EQUAL(seal_key_load(path, 0, k), 0);
	CU_ASSERT_EQUAL(memcmp(k, key, sizeof(k)), 0);
	snprintf(buf, sizeof(buf), "%s\r\n", hex);
	CU_ASSERT_EQUAL_FATAL(put_file(path, buf, 66, 0600), 0);
	CU_ASSERT_EQUAL(seal_key_load(path, 0, k), 0);
	CU_ASSERT_EQUAL_FATAL(put_file(path, key, 32, 0600), 0);
	CU_ASSERT_EQUAL(seal_key_load(path, 0, k), 0);
	CU_ASSERT_EQUAL(memcmp(k, key, sizeof(k)), 0);
}

static void
test_key_file_bad_content_refused(void)
{
	static const char	 hex[] = "000102030405060708090a0b0c0d0e0f"
	    "101112131415161718191a1b1c1d1e1f";
	char			 buf[200];
	uint8_t			 k[SEAL_KEY_LEN], zero[SEAL_KEY_LEN];
	const char		*path = tmp_path("bad.key");

	memset(zero, 0, sizeof(zero));
	CU_ASSERT_EQUAL_FATAL(put_file(path, "", 0, 0600), 0);
	UNIT_FAILS(seal_key_load(path, 0, k), UC_ERR_FORMAT, "bad.key");
	CU_ASSERT_EQUAL(memcmp(k, zero, sizeof(k)), 0);
	CU_ASSERT_EQUAL_FATAL(put_file(path, hex, 31, 0600), 0);
	UNIT_FAILS(seal_key_load(path, 0, k), UC_ERR_FORMAT, "32 raw");
	CU_ASSERT_EQUAL_FATAL(put_file(path, hex, 33, 0600), 0);
	UNIT_FAILS(seal_key_load(path, 0, k), UC_ERR_FORMAT, NULL);
	CU_ASSERT_EQUAL_FATAL(put_file(path, hex, 63, 0600), 0);
	UNIT_FAILS(seal_key_load(path, 0, k), UC_ERR_FORMAT, NULL);
	snprintf(buf, sizeof(buf), "%s\n\n", hex);
	CU_ASSERT_EQUAL_FATAL(put_file(path, buf, 66, 0600), 0);
	UNIT_FAILS(seal_key_load(path, 0, k), UC_ERR_FORMAT, NULL);
	snprintf(buf, sizeof(buf), "%.63sg", hex);
	CU_ASSERT_EQUAL_FATAL(put_file(path, buf, 64, 0600), 0);
	UNIT_FAILS(seal_key_load(path, 0, k), UC_ERR_FORMAT, NULL);
	CU_ASSERT_EQUAL(memcmp(k, zero, sizeof(k)), 0);
	memset(buf, 'a', sizeof(buf));
	CU_ASSERT_EQUAL_FATAL(put_file(path, buf, sizeof(buf), 0600), 0);
	UNIT_FAILS(seal_key_load(path, 0, k), UC_ERR_FORMAT, NULL);
	/* create never overwrites a bad file. */
	UNIT_FAILS(seal_key_load(path, 1, k), UC_ERR_FORMAT, NULL);
}

static void
test_key_file_permissions_refused(void)
{
	uint8_t		 k[SEAL_KEY_LEN];
	const char	*path = tmp_path("open.key");

	key_init();
	CU_ASSERT_EQUAL_FATAL(put_file(path, key, 32, 0644), 0);
	UNIT_FAILS(seal_key_load(path, 0, k), UC_ERR_POLICY, "0644");
	UNIT_FAILS(seal_key_load(path, 1, k), UC_ERR_POLICY, "open.key");
	CU_ASSERT_EQUAL_FATAL(chmod(path, 0640), 0);
	UNIT_FAILS(seal_key_load(path, 0, k), UC_ERR_POLICY, "0640");
	CU_ASSERT_EQUAL_FATAL(chmod(path, 0620), 0);
	UNIT_FAILS(seal_key_load(path, 0, k), UC_ERR_POLICY, "0620");
	CU_ASSERT_EQUAL_FATAL(chmod(path, 0601), 0);
	UNIT_FAILS(seal_key_load(path, 0, k), UC_ERR_POLICY, "0601");
	CU_ASSERT_EQUAL_FATAL(chmod(path, 0600), 0);
	CU_ASSERT_EQUAL(seal_key_load(path, 0, k), 0);
	/* Not a regular file. */
	UNIT_FAILS(seal_key_load(unit_tmpdir(), 0, k), UC_ERR_POLICY,
	    "regular");
	UNIT_FAILS(seal_key_load("", 1, k), UC_ERR_ARG, NULL);
}

static const struct unit_test	 tests[] = {
	{ "seal then unseal round trips", test_seal_round_trip },
	{ "unseal opens a Python AESGCM known answer",
	  test_unseal_known_answer },
	{ "wrong key or aad refused", test_unseal_wrong_key_or_aad_refused },
	{ "every tampering refused with SIGNATURE",
	  test_unseal_tampering_refused },
	{ "seal refuses bad arguments", test_seal_bad_arguments },
	{ "key file created 0600 once, then reloaded",
	  test_key_file_created_then_reloaded },
	{ "key file as hex (newline optional) or raw",
	  test_key_file_hex_and_raw },
	{ "key file with bad content refused",
	  test_key_file_bad_content_refused },
	{ "key file readable by others refused",
	  test_key_file_permissions_refused },
	{ NULL, NULL }
};

void
unit_register_seal(void)
{
	unit_suite("seal", tests);
}
