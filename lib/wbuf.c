/*
 * Growable output buffer; see wbuf.h.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "wbuf.h"

/* Start an empty buffer that may grow to at most max bytes. */
void
wbuf_init(struct wbuf *b, size_t max)
{
	memset(b, 0, sizeof(*b));
	b->max = max;
}

int
wbuf_ok(const struct wbuf *b)
{
	return !b->bad;
}

/* Make room for n more bytes; returns 1 when there is room. */
static int
reserve(struct wbuf *b, size_t n)
{
	size_t	 ncap;
	uint8_t	*p;

	if (b->bad)
		return 0;
	if (n > b->max - b->len) {
		b->bad = 1;
		return 0;
	}
	if (b->len + n <= b->cap)
		return 1;
	ncap = b->cap ? b->cap : 256;
	while (ncap < b->len + n)
		ncap = ncap > b->max / 2 ? b->max : ncap * 2;
	/* Buffers may hold secrets: wipe the bytes a move leaves behind. */
	if ((p = OPENSSL_clear_realloc(b->data, b->cap, ncap)) == NULL) {
		b->bad = 1;
		return 0;
	}
	b->data = p;
	b->cap = ncap;
	return 1;
}

void
wbuf_put(struct wbuf *b, const void *p, size_t n)
{
	if (n == 0 || !reserve(b, n))
		return;
	memcpy(b->data + b->len, p, n);
	b->len += n;
}

void
wbuf_u8(struct wbuf *b, uint8_t v)
{
	wbuf_put(b, &v, 1);
}

/* Append big-endian. */
void
wbuf_u16(struct wbuf *b, uint16_t v)
{
	uint8_t	 p[2] = { v >> 8, v & 0xff };

	wbuf_put(b, p, sizeof(p));
}

void
wbuf_u32(struct wbuf *b, uint32_t v)
{
	uint8_t	 p[4] = { v >> 24, (v >> 16) & 0xff, (v >> 8) & 0xff, v & 0xff };

	wbuf_put(b, p, sizeof(p));
}

/* Append little-endian (Skinny). */
void
wbuf_u16le(struct wbuf *b, uint16_t v)
{
	uint8_t	 p[2] = { v & 0xff, v >> 8 };

	wbuf_put(b, p, sizeof(p));
}

void
wbuf_u32le(struct wbuf *b, uint32_t v)
{
	uint8_t	 p[4] = { v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, v >> 24 };

	wbuf_put(b, p, sizeof(p));
}

/* Overwrite two bytes already written at off (big-endian). */
void
wbuf_set_u16(struct wbuf *b, size_t off, uint16_t v)
{
	if (b->bad || off > b->len || b->len - off < 2) {
		b->bad = 1;
		return;
	}
	b->data[off] = v >> 8;
	b->data[off + 1] = v & 0xff;
}

/* Insert n bytes at off, moving what follows. */
void
wbuf_insert(struct wbuf *b, size_t off, const void *p, size_t n)
{
	if (b->bad || off > b->len) {
		b->bad = 1;
		return;
	}
	if (n == 0 || !reserve(b, n))
		return;
	memmove(b->data + off + n, b->data + off, b->len - off);
	memcpy(b->data + off, p, n);
	b->len += n;
}

/*
 * Hand the bytes to the caller, who frees them with free(); the buffer is
 * left empty.  Returns NULL if any append failed (the bytes are freed).
 */
uint8_t *
wbuf_steal(struct wbuf *b, size_t *lenp)
{
	uint8_t	*p;

	if (b->bad) {
		wbuf_free(b);
		return NULL;
	}
	p = b->data;
	*lenp = b->len;
	b->data = NULL;
	b->len = b->cap = 0;
	return p;
}

/* Release the bytes, wiping them first; accepts an empty buffer. */
void
wbuf_free(struct wbuf *b)
{
	if (b->data != NULL)
		OPENSSL_clear_free(b->data, b->cap);
	b->data = NULL;
	b->len = b->cap = 0;
}
