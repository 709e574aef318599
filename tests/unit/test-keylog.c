/*
 * Suite "keylog": the SRTP key log (lib/keylog.c): the exact line the
 * writer makes, parse/format round trips for every suite and address
 * family, every malformed field refused with its name, entries the
 * writer refuses, the file checks of keylog_open (0600, no symlink, no
 * FIFO, no group/other bits, one link, our uid) and append-only writes,
 * hostile mutations.
 */
#include <sys/stat.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "keylog.h"
#include "sdes.h"
#include "unit.h"

#define LINE(s)	(s), (sizeof(s) - 1)

#define T_1795680000	"2026-11-26T08:00:00Z"
#define B64_30_10	"EBESExQVFhcYGRobHB0eHyAhIiMkJSYnKCkqKywt"
#define B64_28	"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGw=="

/* A valid line; the malformed cases below are edits of it. */
#define GOOD \
	T_1795680000 " call=a84b4c76e66710@pbx dir=SEP001122334455>"	\
	"SEP00AABBCCDDEE src=192.0.2.10:24580 dst=192.0.2.20:24582 "	\
	"ssrc=1a2b3c4d suite=AES_CM_128_HMAC_SHA1_80 key=" B64_30_10 "\n"

static int
all_zero(const void *p, size_t n)
{
	const uint8_t	*b = p;
	size_t		 i;

	for (i = 0; i < n; i++)
		if (b[i] != 0)
			return 0;
	return 1;
}

static void
addr4(struct sockaddr_storage *ss, const char *a, unsigned int port)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)ss;

	memset(ss, 0, sizeof(*ss));
	sin->sin_family = AF_INET;
	sin->sin_port = htons((uint16_t)port);
	CU_ASSERT_EQUAL(inet_pton(AF_INET, a, &sin->sin_addr), 1);
}

static void
addr6(struct sockaddr_storage *ss, const char *a, unsigned int port)
{
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons((uint16_t)port);
	CU_ASSERT_EQUAL(inet_pton(AF_INET6, a, &sin6->sin6_addr), 1);
}

/* The entry GOOD describes. */
static void
entry_good(struct keylog_entry *e)
{
	size_t	 i;

	memset(e, 0, sizeof(*e));
	e->time = 1795680000;
	snprintf(e->call, sizeof(e->call), "a84b4c76e66710@pbx");
	snprintf(e->from, sizeof(e->from), "SEP001122334455");
	snprintf(e->to, sizeof(e->to), "SEP00AABBCCDDEE");
	e->has_src = 1;
	addr4(&e->src, "192.0.2.10", 24580);
	addr4(&e->dst, "192.0.2.20", 24582);
	e->has_ssrc = 1;
	e->ssrc = 0x1a2b3c4d;
	e->suite = SUITE_AES_CM_128_HMAC_SHA1_80;
	e->keysalt_len = 30;
	for (i = 0; i < 30; i++)
		e->keysalt[i] = (uint8_t)(0x10 + i);
}

static int
entry_equal(const struct keylog_entry *a, const struct keylog_entry *b)
{
	return a->time == b->time && strcmp(a->call, b->call) == 0 &&
	    strcmp(a->from, b->from) == 0 && strcmp(a->to, b->to) == 0 &&
	    a->has_src == b->has_src &&
	    (!a->has_src || memcmp(&a->src, &b->src, sizeof(a->src)) == 0) &&
	    memcmp(&a->dst, &b->dst, sizeof(a->dst)) == 0 &&
	    a->has_ssrc == b->has_ssrc && a->ssrc == b->ssrc &&
	    a->suite == b->suite && a->keysalt_len == b->keysalt_len &&
	    memcmp(a->keysalt, b->keysalt, a->keysalt_len) == 0;
}

static void
test_format_writes_the_exact_line(void)
{
	struct keylog_entry	 e;
	char			 buf[KEYLOG_LINE_MAX];

	entry_good(&e);
	CU_ASSERT_EQUAL(keylog_format(&e, buf, sizeof(buf)), 0);
	CU_ASSERT_STRING_EQUAL(buf, GOOD);
	e.has_src = 0;
	e.has_ssrc = 0;
	e.suite = SUITE_AEAD_AES_128_GCM;
	e.keysalt_len = 28;
	memcpy(e.keysalt, "\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b"
	    "\x0c\x0d\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b",
	    28);
	addr6(&e.dst, "2001:db8::20", 24582);
	CU_ASSERT_EQUAL(keylog_format(&e, buf, sizeof(buf)), 0);
	CU_ASSERT_STRING_EQUAL(buf, T_1795680000 " call=a84b4c76e66710@pbx "
	    "dir=SEP001122334455>SEP00AABBCCDDEE src=- "
	    "dst=[2001:db8::20]:24582 ssrc=- suite=AEAD_AES_128_GCM key="
	    B64_28 "\n");
	keylog_entry_wipe(&e);
	CU_ASSERT(all_zero(&e, sizeof(e)));
}

static void
test_good_line_parses_to_the_entry(void)
{
	struct keylog_entry	 e, want;

	entry_good(&want);
	CU_ASSERT_EQUAL(keylog_parse(LINE(GOOD), &e), 0);
	CU_ASSERT(entry_equal(&e, &want));
	/* without the '\n', and with upper-case / short SSRC hex */
	CU_ASSERT_EQUAL(keylog_parse(GOOD, sizeof(GOOD) - 2, &e), 0);
	CU_ASSERT(entry_equal(&e, &want));
	CU_ASSERT_EQUAL(keylog_parse(LINE(T_1795680000 " call=c dir=a>b "
	    "src=- dst=[::1]:1 ssrc=1A2B suite=AES_CM_128_HMAC_SHA1_32 key="
	    B64_30_10), &e), 0);
	CU_ASSERT_EQUAL(e.ssrc, 0x1a2b);
	CU_ASSERT(e.has_ssrc && !e.has_src);
	CU_ASSERT_EQUAL(e.dst.ss_family, AF_INET6);
	CU_ASSERT_EQUAL(ntohs(((struct sockaddr_in6 *)&e.dst)->sin6_port), 1);
	keylog_entry_wipe(&e);
}

/* Entry i of a round-trip table: suite, families, optional fields. */
static void
entry_variant(int i, struct keylog_entry *e)
{
	size_t	 k;

	entry_good(e);
	e->suite = i % SUITE__MAX;
	e->keysalt_len = sdes_suite_key_len(e->suite) +
	    sdes_suite_salt_len(e->suite);
	for (k = 0; k < e->keysalt_len; k++)
		e->keysalt[k] = (uint8_t)(i * 31 + k * 7);
	e->has_src = i % 2;
	e->has_ssrc = i % 3 != 0;
	e->ssrc = e->has_ssrc ? (uint32_t)i * 0x9e3779b9u : 0;
	if (i % 4 >= 2) {
		addr6(&e->dst, i % 8 >= 4 ? "::ffff:192.0.2.1" :
		    "2001:db8:0:0:1::ffff", 65535);
		addr6(&e->src, "fe80::1", 1);
	}
	e->time = i == 0 ? 0 : (int64_t)i * 86399 * 97;
	if (i == 5)
		e->time = 253402300799LL;	/* 9999-12-31T23:59:59Z */
	if (i == 7)
		memset(e->call, '~', KEYLOG_NAME_MAX - 1);
}

static void
test_every_suite_and_family_round_trips(void)
{
	struct keylog_entry	 e, back;
	char			 buf[KEYLOG_LINE_MAX];
	int			 i;

	for (i = 0; i < 48; i++) {
		entry_variant(i, &e);
		CU_ASSERT_EQUAL_FATAL(keylog_format(&e, buf, sizeof(buf)), 0);
		CU_ASSERT(strlen(buf) < KEYLOG_LINE_MAX);
		CU_ASSERT_EQUAL(buf[strlen(buf) - 1], '\n');
		CU_ASSERT_EQUAL_FATAL(keylog_parse(buf, strlen(buf), &back),
		    0);
		CU_ASSERT(entry_equal(&e, &back));
		if (!entry_equal(&e, &back))
			fprintf(stderr, "round trip %d: %s", i, buf);
	}
	keylog_entry_wipe(&e);
	keylog_entry_wipe(&back);
}

/* GOOD with the first occurrence of from replaced by to. */
static void
edit(char *out, size_t size, const char *from, const char *to)
{
	const char	*p = strstr(GOOD, from);

	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	snprintf(out, size, "%.*s%s%s", (int)(p - GOOD), GOOD, to,
	    p + strlen(from));
}

static void
test_every_malformed_field_is_refused(void)
{
	static const struct {
		const char	*from, *to, *needle;
	} t[] = {
		{ "08:00:00Z", "08:00:00", "time at offset 0" },
		{ "2026-11-26T", "2026-11-26t", "time at offset 0" },
		{ "2026-11", "2026-13", "time at offset 0: no such" },
		{ "11-26T", "02-30T", "time at offset 0: no such" },
		{ "2026-11-26T08", "1969-12-31T23", "time at offset 0: no such" },
		{ "T08:00", "T24:00", "time at offset 0: no such" },
		{ "00:00Z", "00:60Z", "time at offset 0: no such" },
		{ "2026-", "+026-", "time at offset 0" },
		{ "00Z ", "00.5Z ", "time at offset 0" },
		{ "00Z ", "00+01:00 ", "time at offset 0" },
		{ "call=a84b4c76e66710@pbx", "call=", "call at offset 21" },
		{ "call=", "Call=", "call at offset 21: not \"call=VALUE\"" },
		{ "call=a84b", "call=a\001b", "call at offset 27: byte 0x01" },
		{ "call=a84b4c76e66710@pbx", "call="
		    "0123456789012345678901234567890123456789012345678901234567"
		    "890123", "call at offset 26: name longer" },
		{ "dir=SEP001122334455>", "dir=SEP001122334455",
		    "dir at offset 49: not FROM>TO" },
		{ "dir=SEP001122334455", "dir=", "dir at offset 49: empty" },
		{ ">SEP00AABBCCDDEE", ">", "dir at offset 65: empty" },
		{ ">SEP00AABBCCDDEE", ">SEP>X", "dir at offset 65: more than" },
		{ "dir=SEP0", "dir=S\177P0", "dir at offset 50: byte 0x7f" },
		{ "src=192.0.2.10:24580", "src=192.0.2.10", "src at offset" },
		{ ":24580", ":0", "src at offset" },
		{ ":24580", ":65536", "src at offset" },
		{ ":24580", ":024580", "src at offset" },
		{ ":24580", ":", "src at offset" },
		{ ":24580", ":+1", "src at offset" },
		{ "192.0.2.10:", "192.0.2.256:", "src at offset" },
		{ "192.0.2.10:", "192.0.02.10:", "src at offset" },
		{ "192.0.2.10:", "2001:db8::1:", "src at offset" },
		{ "192.0.2.10:", "[2001:db8::1]", "src at offset" },
		{ "192.0.2.10:", "[192.0.2.1]:", "src at offset" },
		{ "192.0.2.10:", "[fe80::1%eth0]:", "src at offset" },
		{ "192.0.2.10:", "host.example:", "src at offset" },
		{ "src=192.0.2.10:24580", "src=--", "src at offset" },
		{ "dst=192.0.2.20:24582", "dst=-", "dst at offset" },
		{ "dst=192.0.2.20:24582", "dst=", "dst at offset" },
		{ "dst=192.0.2.20:24582", "dst=[::1]:", "dst at offset" },
		{ "ssrc=1a2b3c4d", "ssrc=0x1a2b3c4d", "ssrc at offset" },
		{ "ssrc=1a2b3c4d", "ssrc=1a2b3c4d5", "ssrc at offset" },
		{ "ssrc=1a2b3c4d", "ssrc=1g", "ssrc at offset" },
		{ "ssrc=1a2b3c4d", "ssrc=", "ssrc at offset" },
		{ "ssrc=1a2b3c4d", "ssrc=-1", "ssrc at offset" },
		{ "suite=AES_CM_128_HMAC_SHA1_80", "suite=AES_CM_128_HMAC_SHA1_81",
		    "suite at offset 143: unknown" },
		{ "suite=AES_CM_128_HMAC_SHA1_80", "suite=aes_cm_128_hmac_sha1_80",
		    "suite at offset 143: unknown" },
		{ "suite=AES_CM_128_HMAC_SHA1_80", "suite=F8_128_HMAC_SHA1_80",
		    "suite at offset" },
		{ "key=" B64_30_10, "key=" B64_28, "key at offset" },
		{ "Kywt\n", "Kyw=\n", "key at offset 171: not canonical" },
		{ "Kywt\n", "Kyw*\n", "key at offset 171: not canonical" },
		{ "Kywt\n", "Kyw\n", "key at offset 171: 39 base64" },
		{ "Kywt\n", "KywtKywt\n", "key at offset 171: 44 base64" },
		{ "key=", "key=\n", "key at offset" },
		{ "Kywt\n", "Kywt\r\n",
		    "key at offset 211: carriage return at end of line" },
		{ "Kywt\n", "Kywt\r", "key at offset 211: carriage return" },
		{ "Kywt\n", "Kywt \n", "key at offset 211: junk" },
		{ "Kywt\n", "Kywt x=y\n", "key at offset 211: junk" },
		{ " call", "  call", "call at offset 21: empty" },
		{ "2026", " 2026", "time at offset 0: empty" },
		{ " call", "\tcall", "time at offset 0" },
		{ " src=", "", "src at offset" },
		{ " ssrc=1a2b3c4d", "", "ssrc at offset" },
		{ " suite=AES_CM_128_HMAC_SHA1_80 key=" B64_30_10, "",
		    "suite at offset 136: missing" },
		{ "ssrc=1a2b3c4d suite=AES_CM_128_HMAC_SHA1_80",
		    "suite=AES_CM_128_HMAC_SHA1_80 ssrc=1a2b3c4d",
		    "ssrc at offset" },
	};
	struct keylog_entry	 e;
	char			 buf[2 * KEYLOG_LINE_MAX];
	size_t			 i, n;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		edit(buf, sizeof(buf), t[i].from, t[i].to);
		n = strlen(buf);
		UNIT_FAILS(keylog_parse(buf, n, &e), UC_ERR_FORMAT,
		    t[i].needle);
		CU_ASSERT(all_zero(&e, sizeof(e)));
		if (strstr(uc_errdetail(), t[i].needle) == NULL)
			fprintf(stderr, "case %zu: %s\n", i, uc_errdetail());
	}
	/* a NUL inside an address: inet_pton would stop there */
	memcpy(buf, GOOD, sizeof(GOOD));
	buf[strstr(buf, "192.0.2.10:") - buf + 9] = '\0';
	UNIT_FAILS(keylog_parse(buf, sizeof(GOOD) - 1, &e), UC_ERR_FORMAT,
	    "src at offset 85");
	UNIT_FAILS(keylog_parse("", 0, &e), UC_ERR_FORMAT, "time");
	UNIT_FAILS(keylog_parse("\n", 1, &e), UC_ERR_FORMAT, "time");
	UNIT_FAILS(keylog_parse(GOOD "\n", sizeof(GOOD), &e), UC_ERR_FORMAT,
	    "key");
	memset(buf, 'a', sizeof(buf));
	UNIT_FAILS(keylog_parse(buf, KEYLOG_LINE_MAX, &e), UC_ERR_FORMAT,
	    "longer than 511");
}

static void
test_base64_padding_is_exact_per_suite(void)
{
	struct keylog_entry	 e;
	char			 buf[KEYLOG_LINE_MAX];

	edit(buf, sizeof(buf), "AES_CM_128_HMAC_SHA1_80 key=" B64_30_10,
	    "AEAD_AES_128_GCM key=" B64_28);
	CU_ASSERT_EQUAL(keylog_parse(buf, strlen(buf), &e), 0);
	CU_ASSERT_EQUAL(e.keysalt_len, 28);
	/* non-zero unused bits: 'w' -> 'x' before "==" */
	edit(buf, sizeof(buf), "AES_CM_128_HMAC_SHA1_80 key=" B64_30_10,
	    "AEAD_AES_128_GCM key=AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGx==");
	UNIT_FAILS(keylog_parse(buf, strlen(buf), &e), UC_ERR_FORMAT,
	    "not canonical");
	edit(buf, sizeof(buf), "AES_CM_128_HMAC_SHA1_80 key=" B64_30_10,
	    "AEAD_AES_128_GCM key=AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGw=A");
	UNIT_FAILS(keylog_parse(buf, strlen(buf), &e), UC_ERR_FORMAT,
	    "not canonical");
	edit(buf, sizeof(buf), "AES_CM_128_HMAC_SHA1_80 key=" B64_30_10,
	    "AEAD_AES_256_GCM key=" B64_28);
	UNIT_FAILS(keylog_parse(buf, strlen(buf), &e), UC_ERR_FORMAT,
	    "AEAD_AES_256_GCM needs 60");
	keylog_entry_wipe(&e);
}

static void
test_format_refuses_what_parse_would(void)
{
	struct keylog_entry	 e;
	char			 buf[KEYLOG_LINE_MAX];
	int			 i;

	for (i = 0; i < 12; i++) {
		entry_good(&e);
		switch (i) {
		case 0: e.call[0] = '\0'; break;
		case 1: e.call[1] = ' '; break;
		case 2: e.from[2] = '>'; break;
		case 3: e.to[0] = '\0'; break;
		case 4: ((struct sockaddr_in *)&e.dst)->sin_port = 0; break;
		case 5: e.dst.ss_family = AF_UNIX; break;
		case 6: e.src.ss_family = 0; break;
		case 7: e.time = -1; break;
		case 8: e.time = 253402300800LL; break;
		case 9: e.keysalt_len = 28; break;
		case 10: e.suite = SUITE__MAX; break;
		default: memset(e.call, 'x', sizeof(e.call)); break;
		}
		memset(buf, 'z', sizeof(buf));
		UNIT_FAILS(keylog_format(&e, buf, sizeof(buf)), UC_ERR_ARG,
		    "key log");
		CU_ASSERT(all_zero(buf, sizeof(buf)));
	}
	entry_good(&e);
	UNIT_FAILS(keylog_format(&e, buf, 100), UC_ERR_ARG, "too small");
	CU_ASSERT(all_zero(buf, 100));
	keylog_entry_wipe(&e);
}

/* Path of name in the test's private directory (static buffer). */
static const char *
tmp_path(const char *name)
{
	static char	 p[512];

	snprintf(p, sizeof(p), "%s/%s", unit_tmpdir(), name);
	return p;
}

static void
test_open_creates_0600_and_appends_lines(void)
{
	struct keylog		*kl = NULL;
	struct keylog_entry	 e, back;
	struct stat		 st;
	char			 buf[4 * KEYLOG_LINE_MAX];
	const char		*path = tmp_path("keys.log");
	mode_t			 old = umask(0);
	ssize_t			 n;
	int			 fd;

	(void)unlink(path);
	CU_ASSERT_EQUAL_FATAL(keylog_open(path, &kl), 0);
	umask(old);
	CU_ASSERT_EQUAL(stat(path, &st), 0);
	CU_ASSERT_EQUAL(st.st_mode & 07777, 0600);
	entry_good(&e);
	CU_ASSERT_EQUAL(keylog_write(kl, &e), 0);
	e.ssrc = 7;
	CU_ASSERT_EQUAL(keylog_write(kl, &e), 0);
	e.suite = -1;
	UNIT_FAILS(keylog_write(kl, &e), UC_ERR_ARG, NULL);
	keylog_close(kl);
	CU_ASSERT_EQUAL_FATAL(keylog_open(path, &kl), 0);	/* reopen */
	e.suite = SUITE_AES_CM_128_HMAC_SHA1_80;
	e.ssrc = 8;
	CU_ASSERT_EQUAL(keylog_write(kl, &e), 0);
	keylog_close(kl);
	keylog_close(NULL);
	CU_ASSERT_FATAL((fd = open(path, O_RDONLY)) != -1);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	CU_ASSERT_EQUAL_FATAL(n, 3 * (ssize_t)(sizeof(GOOD) - 1));
	CU_ASSERT(memcmp(buf, GOOD, sizeof(GOOD) - 1) == 0);
	CU_ASSERT_EQUAL(keylog_parse(buf + 2 * (sizeof(GOOD) - 1),
	    sizeof(GOOD) - 1, &back), 0);
	CU_ASSERT(entry_equal(&e, &back));
	keylog_entry_wipe(&e);
	keylog_entry_wipe(&back);
}

static void
test_open_refuses_loose_modes_links_and_fifos(void)
{
	struct keylog	*kl = NULL;
	const char	*path;
	char		 link[512];
	int		 fd;

	path = tmp_path("loose.log");
	CU_ASSERT_FATAL((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC,
	    0600)) != -1);
	CU_ASSERT_EQUAL(fchmod(fd, 0644), 0);
	close(fd);
	UNIT_FAILS(keylog_open(path, &kl), UC_ERR_POLICY, "mode 0644");
	CU_ASSERT_PTR_NULL(kl);
	CU_ASSERT_EQUAL(chmod(path, 0640), 0);
	UNIT_FAILS(keylog_open(path, &kl), UC_ERR_POLICY, "must be 0600");
	CU_ASSERT_EQUAL(chmod(path, 0602), 0);
	UNIT_FAILS(keylog_open(path, &kl), UC_ERR_POLICY, "group or other");
	CU_ASSERT_EQUAL(chmod(path, 0600), 0);
	CU_ASSERT_EQUAL(keylog_open(path, &kl), 0);
	keylog_close(kl);
	kl = NULL;
	snprintf(link, sizeof(link), "%s", tmp_path("link.log"));
	(void)unlink(link);
	CU_ASSERT_EQUAL(symlink(path, link), 0);
	UNIT_FAILS(keylog_open(link, &kl), UC_ERR_POLICY, "symbolic link");
	path = tmp_path("fifo.log");
	(void)unlink(path);
	CU_ASSERT_EQUAL(mkfifo(path, 0600), 0);
	UNIT_FAILS(keylog_open(path, &kl), UC_ERR_POLICY, "not a regular");
	UNIT_FAILS(keylog_open(unit_tmpdir(), &kl), UC_ERR_IO, NULL);
	UNIT_FAILS(keylog_open(tmp_path("no/such/dir"), &kl), UC_ERR_IO,
	    "No such file");
	CU_ASSERT_PTR_NULL(kl);
}

static void
test_open_refuses_hard_links_and_other_owners(void)
{
	struct keylog	*kl = NULL;
	char		 path[512], hard[512];
	int		 fd;

	snprintf(path, sizeof(path), "%s", tmp_path("linked.log"));
	snprintf(hard, sizeof(hard), "%s", tmp_path("hard.log"));
	(void)unlink(path);
	(void)unlink(hard);
	CU_ASSERT_FATAL((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC,
	    0600)) != -1);
	close(fd);
	CU_ASSERT_EQUAL_FATAL(link(path, hard), 0);
	UNIT_FAILS(keylog_open(path, &kl), UC_ERR_POLICY, "2 hard links");
	UNIT_FAILS(keylog_open(hard, &kl), UC_ERR_POLICY, "exactly one");
	CU_ASSERT_PTR_NULL(kl);
	CU_ASSERT_EQUAL(unlink(hard), 0);
	CU_ASSERT_EQUAL(keylog_open(path, &kl), 0);
	keylog_close(kl);
	kl = NULL;
	if (geteuid() != 0)
		return;			/* chown needs root */
	CU_ASSERT_EQUAL_FATAL(chown(path, 65534, 65534), 0);
	UNIT_FAILS(keylog_open(path, &kl), UC_ERR_POLICY, "owned by uid "
	    "65534");
	CU_ASSERT_PTR_NULL(kl);
}

static void
test_addr_format_matches_the_line(void)
{
	struct sockaddr_storage	 ss;
	char			 buf[KEYLOG_ADDR_MAX];

	addr6(&ss, "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255", 65535);
	CU_ASSERT_EQUAL(keylog_addr_format(&ss, buf, sizeof(buf)), 0);
	CU_ASSERT_STRING_EQUAL(buf,
	    "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535");
	addr4(&ss, "192.0.2.1", 5004);
	CU_ASSERT_EQUAL(keylog_addr_format(&ss, buf, sizeof(buf)), 0);
	CU_ASSERT_STRING_EQUAL(buf, "192.0.2.1:5004");
	CU_ASSERT_EQUAL(keylog_addr_format(&ss, buf, 14), -1);
	ss.ss_family = AF_UNIX;
	CU_ASSERT_EQUAL(keylog_addr_format(&ss, buf, sizeof(buf)), -1);
}

/* Every prefix and every single-bit flip: no crash; accepted lines
   format back to a line that parses to the same entry. */
static void
test_prefixes_and_bit_flips_never_crash(void)
{
	struct keylog_entry	 e, back;
	char			 buf[sizeof(GOOD)], out[KEYLOG_LINE_MAX];
	size_t			 i, n = sizeof(GOOD) - 1;
	int			 bit, ok = 0;

	for (i = 0; i < n; i++)
		CU_ASSERT_EQUAL(keylog_parse(GOOD, i, &e) == 0,
		    i == n - 1);
	for (i = 0; i < n; i++)
		for (bit = 0; bit < 8; bit++) {
			memcpy(buf, GOOD, n);
			buf[i] ^= (char)(1 << bit);
			if (keylog_parse(buf, n, &e) != 0)
				continue;
			ok++;
			CU_ASSERT_EQUAL_FATAL(keylog_format(&e, out,
			    sizeof(out)), 0);
			CU_ASSERT_EQUAL(keylog_parse(out, strlen(out), &back),
			    0);
			CU_ASSERT(entry_equal(&e, &back));
		}
	CU_ASSERT(ok > 0);	/* e.g. name and hex digit flips */
	keylog_entry_wipe(&e);
	keylog_entry_wipe(&back);
}

/* A rotated (renamed) log is no longer "at" its path; a new one is. */
static void
test_is_at_notices_rotation(void)
{
	char		 path[512], moved[512];
	struct keylog	*kl = NULL, *kl2 = NULL;

	snprintf(path, sizeof(path), "%s", tmp_path("rot.log"));
	snprintf(moved, sizeof(moved), "%s", tmp_path("rot.log.1"));
	(void)unlink(path);
	CU_ASSERT_EQUAL_FATAL(keylog_open(path, &kl), 0);
	CU_ASSERT_EQUAL(keylog_is_at(kl, path), 1);
	CU_ASSERT_EQUAL_FATAL(rename(path, moved), 0);
	CU_ASSERT_EQUAL(keylog_is_at(kl, path), 0);
	CU_ASSERT_EQUAL(keylog_open(path, &kl2), 0);
	CU_ASSERT_EQUAL(keylog_is_at(kl2, path), 1);
	CU_ASSERT_EQUAL(keylog_is_at(kl, path), 0);
	keylog_close(kl);
	keylog_close(kl2);
	(void)unlink(path);
	(void)unlink(moved);
}

static const struct unit_test tests[] = {
	{ "format writes the exact line", test_format_writes_the_exact_line },
	{ "a good line parses to the entry",
	    test_good_line_parses_to_the_entry },
	{ "every suite and family round trips",
	    test_every_suite_and_family_round_trips },
	{ "every malformed field is refused by name",
	    test_every_malformed_field_is_refused },
	{ "base64 length and padding are exact per suite",
	    test_base64_padding_is_exact_per_suite },
	{ "format refuses what parse would",
	    test_format_refuses_what_parse_would },
	{ "open creates 0600 and appends whole lines",
	    test_open_creates_0600_and_appends_lines },
	{ "open refuses loose modes, links and FIFOs",
	    test_open_refuses_loose_modes_links_and_fifos },
	{ "open refuses hard-linked and foreign-owned files",
	    test_open_refuses_hard_links_and_other_owners },
	{ "a rotated log is noticed", test_is_at_notices_rotation },
	{ "addresses format as in the line",
	    test_addr_format_matches_the_line },
	{ "prefixes and bit flips never crash",
	    test_prefixes_and_bit_flips_never_crash },
	{ NULL, NULL },
};

void
unit_register_keylog(void)
{
	unit_suite("keylog", tests);
}
