/*
 * Bounds-checked reader; see cursor.h for the contract.
 */
#include <string.h>

#include "cursor.h"

/*
 * Start a cursor over len bytes at buf.  buf may be NULL when len is 0.
 */
void
cur_init(struct cursor *c, const uint8_t *buf, size_t len)
{
	c->base = buf;
	c->start = 0;
	c->pos = 0;
	c->end = len;
	c->bad = 0;
}

/* Returns 1 when no read on c has failed. */
int
cur_ok(const struct cursor *c)
{
	return !c->bad;
}

/* Bytes still readable; 0 once poisoned. */
size_t
cur_left(const struct cursor *c)
{
	return c->bad ? 0 : c->end - c->pos;
}

/*
 * Offset of the read position from the start of the outermost buffer, for
 * error messages ("at offset N").
 */
size_t
cur_offset(const struct cursor *c)
{
	return c->pos;
}

/* Take n bytes or poison; returns the bytes or NULL. */
static const uint8_t *
take(struct cursor *c, size_t n)
{
	const uint8_t	*p;

	if (c->bad || n > c->end - c->pos) {
		c->bad = 1;
		return NULL;
	}
	if (c->base == NULL)		/* empty buffer, n == 0 */
		return NULL;
	p = c->base + c->pos;
	c->pos += n;
	return p;
}

uint8_t
cur_u8(struct cursor *c)
{
	const uint8_t	*p;

	if ((p = take(c, 1)) == NULL)
		return 0;
	return p[0];
}

uint8_t
cur_peek_u8(const struct cursor *c)
{
	if (c->bad || c->pos >= c->end)
		return 0;
	return c->base[c->pos];
}

/* Big-endian 16-bit read. */
uint16_t
cur_u16(struct cursor *c)
{
	const uint8_t	*p;

	if ((p = take(c, 2)) == NULL)
		return 0;
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* Big-endian 32-bit read. */
uint32_t
cur_u32(struct cursor *c)
{
	const uint8_t	*p;

	if ((p = take(c, 4)) == NULL)
		return 0;
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

/* Little-endian 16-bit read (Skinny). */
uint16_t
cur_u16le(struct cursor *c)
{
	const uint8_t	*p;

	if ((p = take(c, 2)) == NULL)
		return 0;
	return (uint16_t)(p[1] << 8 | p[0]);
}

/* Little-endian 32-bit read (Skinny). */
uint32_t
cur_u32le(struct cursor *c)
{
	const uint8_t	*p;

	if ((p = take(c, 4)) == NULL)
		return 0;
	return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[1] << 8 | p[0];
}

/*
 * Borrow n bytes; the pointer stays valid as long as the underlying buffer.
 * Returns NULL on failure (and for n == 0 on an empty buffer).
 */
const uint8_t *
cur_bytes(struct cursor *c, size_t n)
{
	return take(c, n);
}

/* Copy n bytes out; returns 1 on success, 0 (and poisons) otherwise. */
int
cur_copy(struct cursor *c, void *dst, size_t n)
{
	const uint8_t	*p;

	if (n == 0)
		return !c->bad;
	if ((p = take(c, n)) == NULL)
		return 0;
	memcpy(dst, p, n);
	return 1;
}

int
cur_skip(struct cursor *c, size_t n)
{
	return take(c, n) != NULL || (n == 0 && !c->bad);
}

/*
 * Split the next n bytes off into sub, which reads only those bytes, and
 * advance c past them.  Offsets reported by sub stay relative to the outer
 * buffer.  Returns 1 on success; on failure both cursors are poisoned.
 */
int
cur_sub(struct cursor *c, size_t n, struct cursor *sub)
{
	sub->base = c->base;
	sub->start = c->pos;
	sub->pos = c->pos;
	sub->bad = 1;
	sub->end = c->pos;
	if (c->bad || n > c->end - c->pos) {
		c->bad = 1;
		return 0;
	}
	sub->end = c->pos + n;
	sub->bad = 0;
	c->pos += n;
	return 1;
}

/*
 * Read a NUL-terminated string of at most max bytes including the NUL.
 * The string must lie within the cursor.  On success returns a pointer
 * into the buffer and stores the length without the NUL in *lenp (if not
 * NULL); otherwise poisons and returns NULL.
 */
const char *
cur_strz(struct cursor *c, size_t max, size_t *lenp)
{
	const uint8_t	*p, *nul;
	size_t		 avail;

	if (c->bad || c->base == NULL) {
		c->bad = 1;
		return NULL;
	}
	avail = c->end - c->pos;
	if (avail > max)
		avail = max;
	p = c->base + c->pos;
	if (avail == 0 || (nul = memchr(p, '\0', avail)) == NULL) {
		c->bad = 1;
		return NULL;
	}
	c->pos += (size_t)(nul - p) + 1;
	if (lenp != NULL)
		*lenp = (size_t)(nul - p);
	return (const char *)p;
}
