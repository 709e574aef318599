/*
 * libFuzzer harness for SDES a=crypto values (lib/sdes.c): sdes_parse on
 * the input, and the contract checks: a parsed line has a known suite,
 * a tag of at most 9 digits, exactly the suite's key + salt bytes, a
 * lifetime in 1..2^48, WSH 0 or >= 64, and formats to a line that parses
 * back to the same tag, suite and key; a failure is FORMAT or
 * UNSUPPORTED with a detail line and leaves no key behind.
 * Seeds: fuzz/corpus/fuzz-sdes (spec 9.2 lines, every suite, lifetime,
 * MKI, session parameters, bad padding).
 *
 *	make build-fuzz/fuzz-sdes && fuzz/run 60 build-fuzz/fuzz-sdes
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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

static void
check_line(const struct sdes_crypto *sc, size_t len)
{
	struct sdes_crypto	 back;
	char			 buf[SDES_LINE_MAX];

	CHECK(sc->suite >= 0 && sc->suite < SUITE__MAX);
	CHECK(sc->tag <= 999999999U);
	CHECK(sc->keysalt_len == sdes_suite_key_len(sc->suite) +
	    sdes_suite_salt_len(sc->suite));
	CHECK(sc->keysalt_len <= SDES_KEYSALT_MAX);
	CHECK(!sc->has_lifetime ||
	    (sc->lifetime >= 1 && sc->lifetime <= (uint64_t)1 << 48));
	CHECK(sc->has_lifetime || sc->lifetime == 0);
	CHECK(sc->wsh == 0 || sc->wsh >= 64);
	CHECK(sc->nparams >= 0 && (size_t)sc->nparams <= len / 2);
	CHECK(sdes_format(sc, buf, sizeof(buf)) == 0);
	CHECK(sdes_parse(buf, strlen(buf), &back) == 0);
	CHECK(back.tag == sc->tag && back.suite == sc->suite &&
	    back.keysalt_len == sc->keysalt_len &&
	    memcmp(back.keysalt, sc->keysalt, sc->keysalt_len) == 0);
	CHECK(!back.has_lifetime && !back.has_mki && back.nparams == 0);
	sdes_wipe(&back);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct sdes_crypto	 sc;
	int			 r;

	r = sdes_parse((const char *)data, len, &sc);
	if (r == 0)
		check_line(&sc, len);
	else {
		CHECK(r == UC_ERR_FORMAT || r == UC_ERR_UNSUPPORTED);
		CHECK(uc_errdetail()[0] != '\0');
		CHECK(all_zero(&sc, sizeof(sc)));
	}
	sdes_wipe(&sc);
	r = sdes_suite_parse((const char *)data, len);
	CHECK(r == -1 || (r >= 0 && r < SUITE__MAX &&
	    strlen(sdes_suite_name(r)) == len));
	return 0;
}
