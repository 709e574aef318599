/*
 * libFuzzer harness for the bounds-checked cursor (lib/cursor.c).  The
 * first half of the input is a program of cursor operations, the second
 * half the buffer they read.  Checks the contract from cursor.h after
 * every step: reads stay inside the buffer, a failed read poisons, a
 * poisoned cursor returns zero values, offsets only grow.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cursor.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define CHECK(x)	do { if (!(x)) abort(); } while (0)

static void
step(struct cursor *c, uint8_t op, uint8_t arg, const uint8_t *buf,
    size_t len)
{
	struct cursor	 sub;
	const uint8_t	*p;
	const char	*s;
	uint8_t		 tmp[256];
	size_t		 before = cur_offset(c), left = cur_left(c), n;
	int		 wasok = cur_ok(c), ok;

	switch (op % 9) {
	case 0:
		CHECK(cur_u8(c) == (wasok && left >= 1 ? buf[before] : 0));
		break;
	case 1:
		if (cur_u16(c) != 0)
			CHECK(wasok && left >= 2);
		break;
	case 2:
		if (cur_u32(c) != 0)
			CHECK(wasok && left >= 4);
		break;
	case 3:
		p = cur_bytes(c, arg);
		if (p != NULL) {
			CHECK(p >= buf && p + arg <= buf + len);
			CHECK(p == buf + before);
		}
		break;
	case 4:
		ok = cur_copy(c, tmp, arg);
		CHECK(ok == (wasok && left >= arg));
		if (ok)
			CHECK(memcmp(tmp, buf + before, arg) == 0);
		break;
	case 5:
		ok = cur_skip(c, arg);
		CHECK(ok == (wasok && left >= arg));
		break;
	case 6:
		ok = cur_sub(c, arg, &sub);
		CHECK(ok == (wasok && left >= arg));
		if (ok) {
			CHECK(cur_left(&sub) == arg);
			CHECK(cur_offset(&sub) == before);
			while (cur_left(&sub) > 0)
				(void)cur_u8(&sub);
			(void)cur_u8(&sub);
			CHECK(!cur_ok(&sub));
		} else
			CHECK(!cur_ok(&sub) && cur_left(&sub) == 0);
		break;
	case 7:
		s = cur_strz(c, arg, &n);
		if (s != NULL) {
			CHECK((const uint8_t *)s == buf + before);
			CHECK(n < arg && n < left && s[n] == '\0');
			CHECK(memchr(s, '\0', n) == NULL);
			CHECK(cur_offset(c) == before + n + 1);
		}
		break;
	case 8:
		(void)cur_peek_u8(c);
		CHECK(cur_offset(c) == before);
		break;
	}
	if (!cur_ok(c))
		CHECK(cur_left(c) == 0 && cur_u8(c) == 0 &&
		    cur_bytes(c, 0) == NULL);
	if (!wasok)
		CHECK(!cur_ok(c));
	CHECK(cur_offset(c) >= before && cur_offset(c) <= len);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cursor	 c;
	size_t		 half = size / 2, i;
	uint8_t		*buf;

	/* Exact-size copy so ASan catches a read one past the end. */
	if ((buf = malloc(size - half ? size - half : 1)) == NULL)
		return 0;
	memcpy(buf, data + half, size - half);
	cur_init(&c, buf, size - half);
	for (i = 0; i + 1 < half; i += 2)
		step(&c, data[i], data[i + 1], buf, size - half);
	free(buf);
	return 0;
}
