/*
 * Suite "cursor": the bounds-checked reader (lib/cursor.c).
 */
#include <stdio.h>

#include "cursor.h"
#include "unit.h"

static const uint8_t seq[] = {
	0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a,
};

static void
test_reads_u8_u16_u32_big_endian(void)
{
	struct cursor	 c;

	cur_init(&c, seq, sizeof(seq));
	CU_ASSERT_EQUAL(cur_u8(&c), 0x01);
	CU_ASSERT_EQUAL(cur_u16(&c), 0x0203);
	CU_ASSERT_EQUAL(cur_u32(&c), 0x04050607U);
	CU_ASSERT_EQUAL(cur_offset(&c), 7);
	CU_ASSERT_EQUAL(cur_left(&c), 3);
	CU_ASSERT(cur_ok(&c));

	/* High bit set: no sign extension. */
	{
		static const uint8_t	 ff[] = { 0xff, 0xfe, 0xfd, 0xfc,
		    0xfb, 0xfa, 0xf9 };

		cur_init(&c, ff, sizeof(ff));
		CU_ASSERT_EQUAL(cur_u8(&c), 0xff);
		CU_ASSERT_EQUAL(cur_u16(&c), 0xfefd);
		CU_ASSERT_EQUAL(cur_u32(&c), 0xfcfbfaf9U);
		CU_ASSERT(cur_ok(&c));
		CU_ASSERT_EQUAL(cur_left(&c), 0);
	}
}

static void
test_bytes_borrow_from_buffer_and_copy(void)
{
	struct cursor	 c;
	const uint8_t	*p;
	uint8_t		 out[4] = { 0 };

	cur_init(&c, seq, sizeof(seq));
	p = cur_bytes(&c, 3);
	CU_ASSERT_PTR_EQUAL(p, seq);
	CU_ASSERT_EQUAL(cur_copy(&c, out, 4), 1);
	CU_ASSERT_EQUAL(memcmp(out, seq + 3, 4), 0);
	CU_ASSERT_EQUAL(cur_offset(&c), 7);
	CU_ASSERT_PTR_EQUAL(cur_bytes(&c, 3), seq + 7);
	CU_ASSERT_EQUAL(cur_left(&c), 0);
	CU_ASSERT(cur_ok(&c));
	/* Zero bytes at the very end is not a failure. */
	CU_ASSERT_EQUAL(cur_copy(&c, out, 0), 1);
	CU_ASSERT(cur_ok(&c));
}

static void
test_peek_does_not_advance(void)
{
	struct cursor	 c;

	cur_init(&c, seq, 2);
	CU_ASSERT_EQUAL(cur_peek_u8(&c), 0x01);
	CU_ASSERT_EQUAL(cur_peek_u8(&c), 0x01);
	CU_ASSERT_EQUAL(cur_offset(&c), 0);
	cur_skip(&c, 2);
	CU_ASSERT_EQUAL(cur_peek_u8(&c), 0);	/* at end: 0, no read */
	CU_ASSERT(cur_ok(&c));
}

static void
test_failed_read_poisons_all_later_reads(void)
{
	struct cursor	 c;
	uint8_t		 out[2] = { 0xaa, 0xaa };
	size_t		 n = 99;

	cur_init(&c, seq, 3);
	CU_ASSERT_EQUAL(cur_u16(&c), 0x0102);
	CU_ASSERT_EQUAL(cur_u16(&c), 0);	/* only 1 byte left */
	CU_ASSERT(!cur_ok(&c));
	/* The byte that is left can no longer be read. */
	CU_ASSERT_EQUAL(cur_u8(&c), 0);
	CU_ASSERT_EQUAL(cur_peek_u8(&c), 0);
	CU_ASSERT_EQUAL(cur_u32(&c), 0);
	CU_ASSERT_PTR_NULL(cur_bytes(&c, 1));
	CU_ASSERT_PTR_NULL(cur_bytes(&c, 0));
	CU_ASSERT_EQUAL(cur_copy(&c, out, 1), 0);
	CU_ASSERT_EQUAL(out[0], 0xaa);		/* untouched */
	CU_ASSERT_EQUAL(cur_skip(&c, 0), 0);
	CU_ASSERT_PTR_NULL(cur_strz(&c, 10, &n));
	CU_ASSERT_EQUAL(n, 99);
	CU_ASSERT_EQUAL(cur_left(&c), 0);
	CU_ASSERT(!cur_ok(&c));
}

static void
test_reads_never_cross_the_end(void)
{
	struct cursor	 c;
	size_t		 len, i;

	/* A cursor over a prefix must not see the bytes after it. */
	for (len = 0; len < 4; len++) {
		cur_init(&c, seq, len);
		CU_ASSERT_EQUAL(cur_u32(&c), 0);
		CU_ASSERT(!cur_ok(&c));
	}
	cur_init(&c, seq, 4);
	CU_ASSERT_EQUAL(cur_u32(&c), 0x01020304U);
	CU_ASSERT(cur_ok(&c));

	/* Huge lengths must not wrap the bounds check. */
	cur_init(&c, seq, sizeof(seq));
	cur_u8(&c);
	CU_ASSERT_PTR_NULL(cur_bytes(&c, SIZE_MAX));
	CU_ASSERT(!cur_ok(&c));
	cur_init(&c, seq, sizeof(seq));
	cur_u8(&c);
	CU_ASSERT_EQUAL(cur_skip(&c, SIZE_MAX - 1), 0);
	CU_ASSERT(!cur_ok(&c));

	/* Byte at a time: exactly len reads succeed. */
	cur_init(&c, seq, sizeof(seq));
	for (i = 0; i < sizeof(seq); i++)
		CU_ASSERT_EQUAL(cur_u8(&c), seq[i]);
	CU_ASSERT(cur_ok(&c));
	cur_u8(&c);
	CU_ASSERT(!cur_ok(&c));
}

static void
test_skip_advances_and_fails_past_end(void)
{
	struct cursor	 c;

	cur_init(&c, seq, sizeof(seq));
	CU_ASSERT_EQUAL(cur_skip(&c, 0), 1);
	CU_ASSERT_EQUAL(cur_skip(&c, 4), 1);
	CU_ASSERT_EQUAL(cur_u8(&c), 0x05);
	CU_ASSERT_EQUAL(cur_skip(&c, 5), 1);
	CU_ASSERT_EQUAL(cur_left(&c), 0);
	CU_ASSERT_EQUAL(cur_skip(&c, 0), 1);
	CU_ASSERT(cur_ok(&c));
	CU_ASSERT_EQUAL(cur_skip(&c, 1), 0);
	CU_ASSERT(!cur_ok(&c));
}

static void
test_sub_cursor_bounds_and_outer_offsets(void)
{
	struct cursor	 c, sub, sub2;

	cur_init(&c, seq, sizeof(seq));
	cur_skip(&c, 2);
	CU_ASSERT_EQUAL(cur_sub(&c, 4, &sub), 1);
	/* Outer cursor moved past the sub-range. */
	CU_ASSERT_EQUAL(cur_offset(&c), 6);
	CU_ASSERT_EQUAL(cur_u8(&c), 0x07);
	/* Sub reads exactly bytes 2..5 and reports outer offsets. */
	CU_ASSERT_EQUAL(cur_offset(&sub), 2);
	CU_ASSERT_EQUAL(cur_left(&sub), 4);
	CU_ASSERT_EQUAL(cur_u16(&sub), 0x0304);
	CU_ASSERT_EQUAL(cur_offset(&sub), 4);
	/* Nested sub of a sub. */
	CU_ASSERT_EQUAL(cur_sub(&sub, 1, &sub2), 1);
	CU_ASSERT_EQUAL(cur_offset(&sub2), 4);
	CU_ASSERT_EQUAL(cur_u8(&sub2), 0x05);
	CU_ASSERT_EQUAL(cur_u8(&sub2), 0);	/* sub2 ends at 5 */
	CU_ASSERT(!cur_ok(&sub2));
	CU_ASSERT(cur_ok(&sub));
	/* Sub cannot read the outer byte 6 (0x07). */
	CU_ASSERT_EQUAL(cur_u16(&sub), 0);
	CU_ASSERT(!cur_ok(&sub));
	/* Poisoning a sub leaves the outer cursor good. */
	CU_ASSERT(cur_ok(&c));
	CU_ASSERT_EQUAL(cur_u8(&c), 0x08);
}

static void
test_sub_cursor_too_long_poisons_both(void)
{
	struct cursor	 c, sub;

	cur_init(&c, seq, sizeof(seq));
	cur_skip(&c, 8);
	CU_ASSERT_EQUAL(cur_sub(&c, 3, &sub), 0);
	CU_ASSERT(!cur_ok(&c));
	CU_ASSERT(!cur_ok(&sub));
	CU_ASSERT_EQUAL(cur_left(&sub), 0);
	CU_ASSERT_EQUAL(cur_u8(&sub), 0);
	/* Sub of exactly what is left, and of zero bytes, succeed. */
	cur_init(&c, seq, sizeof(seq));
	cur_skip(&c, 8);
	CU_ASSERT_EQUAL(cur_sub(&c, 0, &sub), 1);
	CU_ASSERT_EQUAL(cur_left(&sub), 0);
	CU_ASSERT(cur_ok(&sub));
	CU_ASSERT_EQUAL(cur_sub(&c, 2, &sub), 1);
	CU_ASSERT_EQUAL(cur_u16(&sub), 0x090a);
	CU_ASSERT_EQUAL(cur_left(&c), 0);
	/* A poisoned cursor hands out only poisoned subs. */
	cur_u8(&c);
	CU_ASSERT_EQUAL(cur_sub(&c, 0, &sub), 0);
	CU_ASSERT(!cur_ok(&sub));
}

static void
test_strz_reads_string_within_limit(void)
{
	static const uint8_t	 s[] = "abc\0de\0fgh";	/* no NUL after fgh */
	struct cursor		 c;
	const char		*p;
	size_t			 n = 99;

	cur_init(&c, s, sizeof(s) - 1);
	p = cur_strz(&c, 16, &n);
	CU_ASSERT_PTR_EQUAL(p, (const char *)s);
	CU_ASSERT_EQUAL(n, 3);
	CU_ASSERT_EQUAL(cur_offset(&c), 4);
	/* "de\0" is 3 bytes with its NUL: limit 3 is enough, 2 is not. */
	p = cur_strz(&c, 3, NULL);
	CU_ASSERT_PTR_NOT_NULL(p);
	CU_ASSERT_STRING_EQUAL(p, "de");
	CU_ASSERT_EQUAL(cur_offset(&c), 7);
	/* "fgh" runs to the end without a NUL. */
	CU_ASSERT_PTR_NULL(cur_strz(&c, 100, &n));
	CU_ASSERT(!cur_ok(&c));

	cur_init(&c, s, sizeof(s) - 1);
	cur_skip(&c, 4);
	CU_ASSERT_PTR_NULL(cur_strz(&c, 2, &n));	/* NUL beyond limit */
	CU_ASSERT(!cur_ok(&c));

	/* Empty string and limit 0. */
	cur_init(&c, (const uint8_t *)"\0", 1);
	p = cur_strz(&c, 1, &n);
	CU_ASSERT_PTR_NOT_NULL(p);
	CU_ASSERT_EQUAL(n, 0);
	cur_init(&c, (const uint8_t *)"\0", 1);
	CU_ASSERT_PTR_NULL(cur_strz(&c, 0, &n));
	CU_ASSERT(!cur_ok(&c));
}

static void
test_strz_in_sub_cursor_stops_at_sub_end(void)
{
	static const uint8_t	 s[] = "abcdef";	/* NUL at offset 6 */
	struct cursor		 c, sub;

	cur_init(&c, s, sizeof(s));
	cur_sub(&c, 6, &sub);			/* excludes the NUL */
	CU_ASSERT_PTR_NULL(cur_strz(&sub, 100, NULL));
	CU_ASSERT(!cur_ok(&sub));
}

static void
test_zero_length_buffer_reads_fail(void)
{
	static const uint8_t	 one[1] = { 0x42 };
	struct cursor		 c, sub;

	/* Non-NULL base, zero length: the byte behind it is invisible. */
	cur_init(&c, one, 0);
	CU_ASSERT(cur_ok(&c));
	CU_ASSERT_EQUAL(cur_left(&c), 0);
	CU_ASSERT_EQUAL(cur_peek_u8(&c), 0);
	CU_ASSERT_EQUAL(cur_skip(&c, 0), 1);
	CU_ASSERT_EQUAL(cur_sub(&c, 0, &sub), 1);
	CU_ASSERT_EQUAL(cur_u8(&c), 0);
	CU_ASSERT(!cur_ok(&c));

	/* NULL base, zero length (allowed by cur_init). */
	cur_init(&c, NULL, 0);
	CU_ASSERT_EQUAL(cur_left(&c), 0);
	CU_ASSERT_EQUAL(cur_u16(&c), 0);
	CU_ASSERT(!cur_ok(&c));
	cur_init(&c, NULL, 0);
	CU_ASSERT_EQUAL(cur_u32(&c), 0);
	CU_ASSERT(!cur_ok(&c));
	cur_init(&c, NULL, 0);
	CU_ASSERT_PTR_NULL(cur_bytes(&c, 1));
	CU_ASSERT(!cur_ok(&c));
}

static int
null_base_zero_reads(void *arg)
{
	struct cursor	 c;
	int		 bad = 0;

	(void)arg;
	cur_init(&c, NULL, 0);
	bad |= cur_bytes(&c, 0) != NULL;	/* documented: NULL */
	cur_init(&c, NULL, 0);
	bad |= cur_strz(&c, 10, NULL) != NULL;
	bad |= cur_ok(&c);
	cur_init(&c, NULL, 0);
	bad |= cur_skip(&c, 0) != 1;
	return bad;
}

/*
 * LIB BUG (reported): cur_init allows a NULL base with length 0, but
 * take() and cur_strz() compute base + pos (NULL + 0, undefined; clang
 * UBSan "applying zero offset to null pointer").  In a child so a
 * sanitizer abort fails only this test.
 */
static void
test_null_base_zero_length_has_no_ub(void)
{
	CU_ASSERT(unit_in_child(null_base_zero_reads, NULL, 10));
}

static void
test_reads_u16le_u32le_little_endian(void)
{
	static const uint8_t	 le[] = { 0x01, 0x02, 0x03, 0x04, 0x05, 0x06,
	    0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0xfa, 0x88 };
	struct cursor		 c;

	cur_init(&c, le, sizeof(le));
	CU_ASSERT_EQUAL(cur_u16le(&c), 0x0201);
	CU_ASSERT_EQUAL(cur_u32le(&c), 0x06050403U);
	/* High bit set: no sign extension. */
	CU_ASSERT_EQUAL(cur_u16le(&c), 0xfeff);
	CU_ASSERT_EQUAL(cur_u32le(&c), 0xfafbfcfdU);
	CU_ASSERT(cur_ok(&c));
	CU_ASSERT_EQUAL(cur_left(&c), 1);
	/* One byte left: both reads fail, return 0 and poison. */
	CU_ASSERT_EQUAL(cur_u16le(&c), 0);
	CU_ASSERT(!cur_ok(&c));
	CU_ASSERT_EQUAL(cur_u32le(&c), 0);
	CU_ASSERT_EQUAL(cur_u8(&c), 0);

	cur_init(&c, le, 3);
	CU_ASSERT_EQUAL(cur_u32le(&c), 0);
	CU_ASSERT(!cur_ok(&c));
	CU_ASSERT_EQUAL(cur_offset(&c), 0);
	cur_init(&c, NULL, 0);
	CU_ASSERT_EQUAL(cur_u16le(&c), 0);
	CU_ASSERT(!cur_ok(&c));
}

static const struct unit_test tests[] = {
	{ "u8/u16/u32 read big-endian", test_reads_u8_u16_u32_big_endian },
	{ "u16le/u32le read little-endian and poison at the end",
	    test_reads_u16le_u32le_little_endian },
	{ "bytes borrow from the buffer, copy copies",
	    test_bytes_borrow_from_buffer_and_copy },
	{ "peek does not advance", test_peek_does_not_advance },
	{ "a failed read poisons all later reads",
	    test_failed_read_poisons_all_later_reads },
	{ "reads never cross the end", test_reads_never_cross_the_end },
	{ "skip advances and fails past the end",
	    test_skip_advances_and_fails_past_end },
	{ "sub-cursor is bounded and reports outer offsets",
	    test_sub_cursor_bounds_and_outer_offsets },
	{ "too-long sub-cursor poisons both",
	    test_sub_cursor_too_long_poisons_both },
	{ "strz reads a string within its limit",
	    test_strz_reads_string_within_limit },
	{ "strz in a sub-cursor stops at the sub end",
	    test_strz_in_sub_cursor_stops_at_sub_end },
	{ "zero-length buffers: every read fails",
	    test_zero_length_buffer_reads_fail },
	{ "NULL base, zero length: reads fail without UB",
	    test_null_base_zero_length_has_no_ub },
	{ NULL, NULL },
};

void
unit_register_cursor(void)
{
	unit_suite("cursor", tests);
}
