/*
 * Bounds-checked reader over untrusted bytes.  The only way ucsec reads
 * files, packets and TLS payloads.
 *
 * A cursor borrows its buffer: the bytes must outlive the cursor and every
 * pointer a cursor call hands back.  Any failed read poisons the cursor:
 * all later reads fail too and return zero values, so a caller may chain
 * reads and test cur_ok() once at the end.  Reads never go past the end
 * fixed at creation.
 */
#ifndef UCSEC_CURSOR_H
#define UCSEC_CURSOR_H

#include <stddef.h>
#include <stdint.h>

struct cursor {
	const uint8_t	*base;	/* start of the whole buffer */
	size_t		 start;	/* offset of this cursor's first byte in base */
	size_t		 pos;	/* read position, relative to base */
	size_t		 end;	/* one past the last readable byte, rel. base */
	int		 bad;	/* poisoned by a failed read */
};

void		 cur_init(struct cursor *, const uint8_t *, size_t);
int		 cur_ok(const struct cursor *);
size_t		 cur_left(const struct cursor *);
size_t		 cur_offset(const struct cursor *);
uint8_t		 cur_u8(struct cursor *);
uint16_t	 cur_u16(struct cursor *);
uint32_t	 cur_u32(struct cursor *);
uint16_t	 cur_u16le(struct cursor *);
uint32_t	 cur_u32le(struct cursor *);
const uint8_t	*cur_bytes(struct cursor *, size_t);
int		 cur_copy(struct cursor *, void *, size_t);
int		 cur_skip(struct cursor *, size_t);
int		 cur_sub(struct cursor *, size_t, struct cursor *);
const char	*cur_strz(struct cursor *, size_t, size_t *);
uint8_t		 cur_peek_u8(const struct cursor *);

#endif /* UCSEC_CURSOR_H */
