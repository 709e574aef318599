/*
 * Growable output buffer for building files and messages.  A failed
 * append (allocation, or growth past the cap fixed at wbuf_init) latches
 * an error; callers build a whole object and test wbuf_ok() once.
 */
#ifndef UCSEC_WBUF_H
#define UCSEC_WBUF_H

#include <stddef.h>
#include <stdint.h>

struct wbuf {
	uint8_t	*data;	/* owned; wbuf_free releases it */
	size_t	 len;	/* bytes written */
	size_t	 cap;	/* bytes allocated */
	size_t	 max;	/* hard cap on len */
	int	 bad;	/* latched failure */
};

void	 wbuf_init(struct wbuf *, size_t);
int	 wbuf_ok(const struct wbuf *);
void	 wbuf_u8(struct wbuf *, uint8_t);
void	 wbuf_u16(struct wbuf *, uint16_t);
void	 wbuf_u32(struct wbuf *, uint32_t);
void	 wbuf_u16le(struct wbuf *, uint16_t);
void	 wbuf_u32le(struct wbuf *, uint32_t);
void	 wbuf_put(struct wbuf *, const void *, size_t);
void	 wbuf_set_u16(struct wbuf *, size_t, uint16_t);
void	 wbuf_insert(struct wbuf *, size_t, const void *, size_t);
uint8_t	*wbuf_steal(struct wbuf *, size_t *);
void	 wbuf_free(struct wbuf *);

#endif /* UCSEC_WBUF_H */
