/*
 * libFuzzer harness for the SRTP key log reader (lib/keylog.c):
 * keylog_parse on the input, then the contract checks: a parsed entry
 * has NUL-terminated names, a known suite with exactly its key + salt
 * bytes, an IPv4/IPv6 dst with a port, and formats to one line that
 * parses back to the same entry (abort on a mismatch); a failure is
 * FORMAT with a detail line naming a field and leaves no key behind; a
 * line ending in a CR is refused as such.
 * Seeds: fuzz/corpus/fuzz-keylog (every suite, IPv4/IPv6, "-" fields,
 * broken lines).
 *
 *	make build-fuzz/fuzz-keylog && fuzz/run 60 build-fuzz/fuzz-keylog
 */
#include <sys/socket.h>

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "keylog.h"
#include "sdes.h"
#include "uerr.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define CHECK(x)	do { if (!(x)) abort(); } while (0)

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

static int
addr_same(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	return a->ss_family == b->ss_family &&
	    memcmp(a, b, sizeof(*a)) == 0;
}

static void
check_entry(const struct keylog_entry *e)
{
	struct keylog_entry	 back;
	char			 line[KEYLOG_LINE_MAX], addr[KEYLOG_ADDR_MAX];
	size_t			 n;

	CHECK(memchr(e->call, '\0', sizeof(e->call)) != NULL);
	CHECK(memchr(e->from, '\0', sizeof(e->from)) != NULL);
	CHECK(memchr(e->to, '\0', sizeof(e->to)) != NULL);
	CHECK(e->suite >= 0 && e->suite < SUITE__MAX);
	CHECK(e->keysalt_len == sdes_suite_key_len(e->suite) +
	    sdes_suite_salt_len(e->suite));
	CHECK(e->dst.ss_family == AF_INET || e->dst.ss_family == AF_INET6);
	CHECK(keylog_addr_format(&e->dst, addr, sizeof(addr)) == 0);
	CHECK(!e->has_src ||
	    keylog_addr_format(&e->src, addr, sizeof(addr)) == 0);
	CHECK(e->has_ssrc || e->ssrc == 0);
	CHECK(keylog_format(e, line, sizeof(line)) == 0);
	n = strlen(line);
	CHECK(n > 0 && line[n - 1] == '\n' && memchr(line, '\n', n - 1) ==
	    NULL);
	CHECK(keylog_parse(line, n, &back) == 0);
	CHECK(back.time == e->time && strcmp(back.call, e->call) == 0 &&
	    strcmp(back.from, e->from) == 0 && strcmp(back.to, e->to) == 0 &&
	    back.has_src == e->has_src &&
	    (!e->has_src || addr_same(&back.src, &e->src)) &&
	    addr_same(&back.dst, &e->dst) && back.has_ssrc == e->has_ssrc &&
	    back.ssrc == e->ssrc && back.suite == e->suite &&
	    back.keysalt_len == e->keysalt_len &&
	    memcmp(back.keysalt, e->keysalt, e->keysalt_len) == 0);
	keylog_entry_wipe(&back);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct keylog_entry	 e;
	size_t			 n = len;
	int			 r;

	r = keylog_parse((const char *)data, len, &e);
	if (n > 0 && data[n - 1] == '\n')
		n--;
	if (r == 0)
		check_entry(&e);
	else {
		CHECK(r == UC_ERR_FORMAT);
		CHECK(uc_errdetail()[0] != '\0');
		CHECK(all_zero(&e, sizeof(e)));
	}
	/* A CR before the end (CRLF file) is named as such. */
	if (n > 0 && n < KEYLOG_LINE_MAX && data[n - 1] == '\r')
		CHECK(r == UC_ERR_FORMAT && strstr(uc_errdetail(),
		    "carriage return at end of line") != NULL);
	keylog_entry_wipe(&e);
	return 0;
}
