/*
 * SDP per call leg (spec 6): inspect an offer or answer, rewrite it for
 * the other leg, decide whether SRTP was agreed, mask keys for logs.
 * libosip2's sdp_message does the RFC 4566 line parsing; the fields we
 * act on (port, a=crypto values) are read again by our own parsers.
 *
 * Error codes (negative UC_ERR_*, detail via uc_errdetail()):
 *   UC_ERR_FORMAT	not usable SDP: too long, NUL byte, refused by
 *			libosip2, bad port or media type, too many m-lines
 *   UC_ERR_ALLOC	out of memory
 *   UC_ERR_ARG		unknown rewrite mode
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <osipparser2/osip_port.h>
#include <osipparser2/sdp_message.h>

#include "cursor.h"
#include "sdes.h"
#include "sdp.h"
#include "uerr.h"

#define SDP_BODY_MAX	65535	/* = CCM_MSG_MAX: a body fits its message */
#define SDP_MASK	"[masked]"	/* what sdp_mask puts for a key */
#define SDP_NUL_PAD	4	/* NULs after a body handed to libosip2 */

static const char *const dir_names[] = {
	"sendrecv", "sendonly", "recvonly", "inactive",
};

/*
 * NUL-terminated copy of body for libosip2, which needs a line break
 * after the last line.  XXX libosip2 5.3 sdp_message_parse_m reads one
 * byte past the terminating NUL when the last line is an m= line without
 * payloads ending in a bare LF or CR (strchr(tmp + 1, ' ')): the copy
 * ends in SDP_NUL_PAD NUL bytes so that read stays inside it.  *out is
 * freed with OPENSSL_clear_free(*out, *size) (it may hold keys).
 */
static int
body_copy(const char *body, size_t len, char **out, size_t *size)
{
	const char	*nul;
	char		*p;
	size_t		 n = len;

	*out = NULL;
	if (len > SDP_BODY_MAX)
		return uc_fail(UC_ERR_FORMAT, "SDP body of %zu bytes: over %d",
		    len, SDP_BODY_MAX);
	if (len > 0 && (nul = memchr(body, '\0', len)) != NULL)
		return uc_fail(UC_ERR_FORMAT, "SDP body: NUL byte at offset "
		    "%zu (RFC 4566 5)", (size_t)(nul - body));
	if ((p = malloc(len + 2 + SDP_NUL_PAD)) == NULL)
		return uc_fail(UC_ERR_ALLOC, "SDP body copy");
	if (len > 0)
		memcpy(p, body, len);
	if (len == 0 || body[len - 1] != '\n') {
		p[n++] = '\r';
		p[n++] = '\n';
	}
	memset(p + n, 0, len + 2 + SDP_NUL_PAD - n);
	*out = p;
	*size = len + 2 + SDP_NUL_PAD;
	return 0;
}

/* Does s (NUL-terminated) contain "inline:" in any case? */
static int
has_inline(const char *s)
{
	for (; *s != '\0'; s++)
		if (strncasecmp(s, "inline:", 7) == 0)
			return 1;
	return 0;
}

/*
 * Does an attribute carry a key: a=crypto (any case, or any attribute
 * named crypto-something), or an inline: key anywhere (RFC 5939 a=acap,
 * vendor variants)?  libosip2 splits "a=" lines at the first ':', so
 * "inline:" may also straddle field and value.
 */
static int
attr_has_key(const sdp_attribute_t *a)
{
	size_t	 n;

	if (a->a_att_value != NULL && has_inline(a->a_att_value))
		return 1;
	if (a->a_att_field == NULL)
		return 0;
	n = strlen(a->a_att_field);
	return strncasecmp(a->a_att_field, "crypto", 6) == 0 ||
	    has_inline(a->a_att_field) || (a->a_att_value != NULL && n >= 6 &&
	    strcasecmp(a->a_att_field + n - 6, "inline") == 0);
}

static void
attr_wipe(sdp_attribute_t *a)
{
	if (a->a_att_field != NULL)
		OPENSSL_cleanse(a->a_att_field, strlen(a->a_att_field));
	if (a->a_att_value != NULL)
		OPENSSL_cleanse(a->a_att_value, strlen(a->a_att_value));
}

/* Wipe the values of a list of sdp_attribute_t that carry keys. */
static void
attrs_wipe(osip_list_t *l)
{
	sdp_attribute_t	*a;
	int		 i;

	for (i = 0; (a = osip_list_get(l, i)) != NULL; i++)
		if (attr_has_key(a))
			attr_wipe(a);
}

static void
key_wipe(sdp_key_t *k)
{
	if (k != NULL && k->k_keydata != NULL)
		OPENSSL_cleanse(k->k_keydata, strlen(k->k_keydata));
}

/* sdp_message_free after wiping a=crypto values and k= keys. */
static void
sdp_free(sdp_message_t *sdp)
{
	sdp_media_t	*m;
	int		 i;

	if (sdp == NULL)
		return;
	attrs_wipe(&sdp->a_attributes);
	key_wipe(sdp->k_key);
	for (i = 0; (m = osip_list_get(&sdp->m_medias, i)) != NULL; i++) {
		attrs_wipe(&m->a_attributes);
		key_wipe(m->k_key);
	}
	sdp_message_free(sdp);
}

/* Parse body with libosip2 into *out (free with sdp_free). */
static int
sdp_load(const char *body, size_t len, sdp_message_t **out)
{
	sdp_message_t	*sdp = NULL;
	char		*copy = NULL;
	size_t		 size = 0;
	int		 r;

	*out = NULL;
	if ((r = body_copy(body, len, &copy, &size)) != 0)
		return r;
	if (sdp_message_init(&sdp) != 0) {
		r = uc_fail(UC_ERR_ALLOC, "SDP: sdp_message_init");
		goto out;
	}
	if (sdp_message_parse(sdp, copy) != 0) {
		r = uc_fail(UC_ERR_FORMAT, "SDP body of %zu bytes: refused by "
		    "the parser (RFC 4566 5: v=, o=, s=, t= and known lines)",
		    len);
		goto out;
	}
	if (osip_list_size(&sdp->m_medias) > SDP_MEDIA_MAX) {
		r = uc_fail(UC_ERR_FORMAT, "SDP: too many m-lines (%d, at most "
		    "%d)", osip_list_size(&sdp->m_medias), SDP_MEDIA_MAX);
		goto out;
	}
	*out = sdp;
	sdp = NULL;
 out:
	sdp_free(sdp);
	OPENSSL_clear_free(copy, size);
	return r;
}

/* m= port: 1*5DIGIT in 0..65535 (RFC 4566 5.14). */
static int
parse_port(const char *s, int idx, int *port)
{
	struct cursor	 c;
	uint32_t	 v = 0;
	size_t		 n = 0;
	uint8_t		 ch;

	if (s == NULL)
		return uc_fail(UC_ERR_FORMAT, "SDP m-line %d: no port", idx);
	cur_init(&c, (const uint8_t *)s, strlen(s));
	while (cur_left(&c) > 0 && n < 6) {
		ch = cur_u8(&c);
		if (ch < '0' || ch > '9')
			break;
		v = v * 10 + (uint32_t)(ch - '0');
		n++;
	}
	if (n == 0 || n > 5 || n != strlen(s) || v > 65535)
		return uc_fail(UC_ERR_FORMAT, "SDP m-line %d: port is not a "
		    "number in 0..65535 (RFC 4566 5.14)", idx);
	*port = (int)v;
	return 0;
}

/* m= media type: 1..15 visible characters into type[16]. */
static int
parse_type(const char *s, int idx, char *type, size_t size)
{
	size_t	 i, n;

	if (s == NULL || (n = strlen(s)) == 0 || n >= size)
		return uc_fail(UC_ERR_FORMAT, "SDP m-line %d: media type "
		    "missing or over %zu bytes (RFC 4566 5.14)", idx,
		    size - 1);
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return uc_fail(UC_ERR_FORMAT, "SDP m-line %d: byte "
			    "0x%02x in media type (RFC 4566 5.14)", idx,
			    (unsigned char)s[i]);
	memcpy(type, s, n + 1);
	return 0;
}

/* Last direction attribute in a list, or def. */
static int
list_dir(osip_list_t *l, int def)
{
	sdp_attribute_t	*a;
	int		 i, d;

	for (i = 0; (a = osip_list_get(l, i)) != NULL; i++) {
		if (a->a_att_field == NULL)
			continue;
		for (d = 0; d <= SDP_INACTIVE; d++)
			if (strcmp(a->a_att_field, dir_names[d]) == 0)
				def = d;
	}
	return def;
}

/* The m-line's c= address, else the session's; NULL if neither. */
static const char *
media_addr(sdp_message_t *sdp, sdp_media_t *m)
{
	sdp_connection_t	*c;

	if ((c = osip_list_get(&m->c_connections, 0)) != NULL)
		return c->c_addr;
	return sdp->c_connection != NULL ? sdp->c_connection->c_addr : NULL;
}

/*
 * Is an a=crypto value (len bytes) one a Cisco phone takes (spec 6.1,
 * 8): a known suite, the exact key length, no MKI, no session parameter
 * but WSH, a tag not in tags[0..ntags), fewer than SDP_CRYPTO_MAX kept
 * before it?  1: yes, *sc filled (wipe it); 0: unknown suite (skipped);
 * -1: bad.  On 0 and -1 *sc holds no key.
 */
static int
crypto_check(const uint32_t *tags, int ntags, const char *val, size_t len,
    struct sdes_crypto *sc)
{
	int	 i, r;

	r = sdes_parse(val, len, sc);
	if (r == UC_ERR_UNSUPPORTED)
		return 0;
	if (r != 0)
		return -1;
	if (sc->has_mki || sc->nparams > (sc->wsh != 0 ? 1 : 0) ||
	    ntags >= SDP_CRYPTO_MAX) {
		sdes_wipe(sc);
		return -1;
	}
	for (i = 0; i < ntags; i++)
		if (tags[i] == sc->tag) {
			sdes_wipe(sc);
			return -1;
		}
	return 1;
}

/*
 * One a=crypto value on a medium: keep it, skip it (unknown suite) or
 * count it as bad (malformed, wrong key length, MKI, session parameters
 * other than WSH, duplicate tag, over SDP_CRYPTO_MAX).
 */
static void
media_crypto(struct sdp_stream *md, const char *val)
{
	struct sdes_crypto	 sc;
	uint32_t		 tags[SDP_CRYPTO_MAX];
	int			 i, r;

	if (val == NULL) {
		md->bad_crypto++;
		return;
	}
	for (i = 0; i < md->ncrypto; i++)
		tags[i] = md->crypto[i].tag;
	r = crypto_check(tags, md->ncrypto, val, strlen(val), &sc);
	if (r < 0)
		md->bad_crypto++;
	else if (r > 0)
		md->crypto[md->ncrypto++] = sc;
	sdes_wipe(&sc);
}

/* Fill *md from m-line idx. */
static int
media_inspect(sdp_message_t *sdp, sdp_media_t *m, int idx, int sdir,
    struct sdp_stream *md)
{
	sdp_attribute_t	*a;
	const char	*addr;
	int		 i, r;

	if ((r = parse_type(m->m_media, idx, md->type,
	    sizeof(md->type))) != 0 ||
	    (r = parse_port(m->m_port, idx, &md->port)) != 0)
		return r;
	md->savp = m->m_proto != NULL &&
	    (strcmp(m->m_proto, "RTP/SAVP") == 0 ||
	    strcmp(m->m_proto, "RTP/SAVPF") == 0);
	md->dir = list_dir(&m->a_attributes, sdir);
	addr = media_addr(sdp, m);
	md->hold = md->dir == SDP_SENDONLY || md->dir == SDP_INACTIVE ||
	    (addr != NULL && strcmp(addr, "0.0.0.0") == 0);
	for (i = 0; (a = osip_list_get(&m->a_attributes, i)) != NULL; i++)
		if (a->a_att_field != NULL &&
		    strcasecmp(a->a_att_field, "crypto") == 0)
			media_crypto(md, a->a_att_value);
	return 0;
}

/*
 * Parse an SDP body of len bytes (no NUL needed) into *info: per m-line
 * the media type, port, RTP/SAVP(F), direction (media level over session
 * level), hold, and the usable a=crypto lines (spec 6.1, 6.3).  Returns 0
 * or UC_ERR_FORMAT / UC_ERR_ALLOC; on failure *info is cleared.  Clear a
 * filled *info with sdp_info_clear (it holds keys).
 */
int
sdp_inspect(const char *body, size_t len, struct sdp_info *info)
{
	sdp_message_t	*sdp = NULL;
	sdp_media_t	*m;
	int		 i, sdir, r;

	memset(info, 0, sizeof(*info));
	if ((r = sdp_load(body, len, &sdp)) != 0)
		goto out;
	sdir = list_dir(&sdp->a_attributes, SDP_SENDRECV);
	for (i = 0; (m = osip_list_get(&sdp->m_medias, i)) != NULL; i++) {
		if ((r = media_inspect(sdp, m, i, sdir, &info->media[i])) != 0)
			goto out;
		info->nmedia = i + 1;
	}
 out:
	if (r != 0)
		sdp_info_clear(info);
	sdp_free(sdp);
	return r;
}

/* Wipe every key in *info and zero it.  NULL is fine. */
void
sdp_info_clear(struct sdp_info *info)
{
	int	 i, j;

	if (info == NULL)
		return;
	for (i = 0; i < SDP_MEDIA_MAX; i++)
		for (j = 0; j < SDP_CRYPTO_MAX; j++)
			sdes_wipe(&info->media[i].crypto[j]);
	OPENSSL_cleanse(info, sizeof(*info));
}

/* Remove every attribute with a key from a list, wiping the values. */
static void
attrs_strip(osip_list_t *l)
{
	sdp_attribute_t	*a;
	int		 i = 0;

	while ((a = osip_list_get(l, i)) != NULL) {
		if (!attr_has_key(a)) {
			i++;
			continue;
		}
		osip_list_remove(l, i);
		attr_wipe(a);
		sdp_attribute_free(a);
	}
}

/* Drop a k= line, wiping the key. */
static void
key_strip(sdp_key_t **k)
{
	key_wipe(*k);
	sdp_key_free(*k);
	*k = NULL;
}

/* RTP/SAVP -> RTP/AVP, RTP/SAVPF -> RTP/AVPF on one m-line. */
static int
proto_strip(sdp_media_t *m, int idx)
{
	const char	*to = NULL;
	char		*p;

	if (m->m_proto == NULL)
		return 0;
	if (strcmp(m->m_proto, "RTP/SAVP") == 0)
		to = "RTP/AVP";
	else if (strcmp(m->m_proto, "RTP/SAVPF") == 0)
		to = "RTP/AVPF";
	if (to == NULL)
		return 0;
	if ((p = osip_strdup(to)) == NULL)
		return uc_fail(UC_ERR_ALLOC, "SDP m-line %d: profile", idx);
	osip_free(m->m_proto);
	m->m_proto = p;
	return 0;
}

/* SDP_STRIP on a parsed message: no SAVP profile, no key left. */
static int
sdp_strip(sdp_message_t *sdp)
{
	sdp_media_t	*m;
	int		 i, r;

	attrs_strip(&sdp->a_attributes);
	key_strip(&sdp->k_key);
	for (i = 0; (m = osip_list_get(&sdp->m_medias, i)) != NULL; i++) {
		attrs_strip(&m->a_attributes);
		key_strip(&m->k_key);
		if ((r = proto_strip(m, i)) != 0)
			return r;
	}
	return 0;
}

/*
 * One line at the cursor over base: *line and its length *n without the
 * line end (CRLF, LF or a bare CR); the cursor moves past it.  0 at the
 * end of the body.
 */
static int
next_line(struct cursor *c, const char *base, const char **line, size_t *n)
{
	uint8_t	 ch;

	if (cur_left(c) == 0)
		return 0;
	*line = base + cur_offset(c);
	*n = 0;
	while (cur_left(c) > 0) {
		ch = cur_u8(c);
		if (ch == '\n')
			break;
		if (ch == '\r') {
			if (cur_left(c) > 0 && cur_peek_u8(c) == '\n')
				(void)cur_u8(c);
			break;
		}
		(*n)++;
	}
	return 1;
}

/*
 * SDP_PASS (finding 18): the body as it came, without the a=crypto
 * lines a Cisco phone rejects (spec 8): unknown suite, bad key length,
 * MKI, session parameters other than WSH, a duplicate tag, more than
 * SDP_CRYPTO_MAX on an m-line, any at session level, and any other
 * attribute named crypto*.  A body with nothing to drop is copied
 * exactly.  *out as for sdp_rewrite.
 */
static int
sdp_pass(const char *body, size_t len, char **out, size_t *outlen)
{
	struct cursor		 c;
	struct sdes_crypto	 sc;
	uint32_t		 tags[SDP_CRYPTO_MAX];
	const char		*line, *v;
	size_t			 n, span, o = 0, fl;
	int			 media = 0, ntags = 0, keep;

	memset(&sc, 0, sizeof(sc));
	if ((*out = malloc(len + 1)) == NULL)
		return uc_fail(UC_ERR_ALLOC, "SDP: body copy");
	cur_init(&c, (const uint8_t *)body, len);
	while (next_line(&c, body, &line, &n)) {
		span = (size_t)(body + cur_offset(&c) - line);
		keep = 1;
		if (n >= 2 && (line[0] == 'm' || line[0] == 'M') &&
		    line[1] == '=') {
			media = 1;
			ntags = 0;
		} else if (n >= 8 && (line[0] == 'a' || line[0] == 'A') &&
		    line[1] == '=' &&
		    strncasecmp(line + 2, "crypto", 6) == 0) {
			v = memchr(line + 2, ':', n - 2);
			fl = v != NULL ? (size_t)(v - line - 2) : n - 2;
			keep = 0;
			if (media && fl == 6 && v != NULL &&
			    crypto_check(tags, ntags, v + 1,
			    n - (size_t)(v + 1 - line), &sc) > 0) {
				tags[ntags++] = sc.tag;
				keep = 1;
			}
			sdes_wipe(&sc);
		}
		if (keep) {
			memcpy(*out + o, line, span);
			o += span;
		}
	}
	(*out)[o] = '\0';
	*outlen = o;
	return 0;
}

/*
 * What sdp_pass kept must read back with no rejected crypto line: where
 * libosip2 and our line scanner disagree about a malformed line, the
 * body is refused rather than passed on.  Frees *out on failure.
 */
static int
pass_check(char **out, size_t *outlen)
{
	struct sdp_info	 info;
	int		 i, bad = 0, r;

	if ((r = sdp_inspect(*out, *outlen, &info)) == 0) {
		for (i = 0; i < info.nmedia; i++)
			bad += info.media[i].bad_crypto;
		sdp_info_clear(&info);
		if (bad > 0)
			r = uc_fail(UC_ERR_FORMAT, "SDP: malformed crypto "
			    "lines that cannot be removed safely");
	}
	if (r != 0) {
		OPENSSL_cleanse(*out, *outlen);
		free(*out);
		*out = NULL;
		*outlen = 0;
	}
	return r;
}

/* Serialise with libosip2 (CRLF line ends) into a malloc'd copy. */
static int
sdp_serialise(sdp_message_t *sdp, char **out, size_t *outlen)
{
	char	*s = NULL;
	size_t	 n;
	int	 r = 0;

	if (sdp_message_to_str(sdp, &s) != 0 || s == NULL)
		r = uc_fail(UC_ERR_FORMAT, "SDP: libosip2 could not write the "
		    "rewritten body");
	else if ((*out = malloc((n = strlen(s)) + 1)) == NULL)
		r = uc_fail(UC_ERR_ALLOC, "SDP: rewritten body");
	else {
		memcpy(*out, s, n + 1);
		*outlen = n;
	}
	if (s != NULL)
		osip_free(s);
	return r;
}

/*
 * Rewrite an SDP body of len bytes for the other leg (spec 6.5):
 * SDP_PASS: the body unchanged (it must parse) but for the a=crypto
 * lines a Cisco phone would reject (sdp_pass);
 * SDP_STRIP: every RTP/SAVP(F) m-line becomes RTP/AVP(F); every a=crypto
 * (any case), every attribute holding an inline: key and every k= line
 * is removed; written back by libosip2 with CRLF line ends.
 * *out is malloc'd and NUL-terminated (caller frees; with SDP_PASS it
 * holds the keys: OPENSSL_clear_free), *outlen its length.  0,
 * UC_ERR_FORMAT, UC_ERR_ALLOC or UC_ERR_ARG.
 */
int
sdp_rewrite(const char *body, size_t len, int mode, char **out,
    size_t *outlen)
{
	sdp_message_t	*sdp = NULL;
	int		 r;

	*out = NULL;
	*outlen = 0;
	if (mode != SDP_PASS && mode != SDP_STRIP)
		return uc_fail(UC_ERR_ARG, "sdp_rewrite: mode %d", mode);
	if ((r = sdp_load(body, len, &sdp)) != 0)
		goto out;
	if (mode == SDP_PASS) {
		if ((r = sdp_pass(body, len, out, outlen)) == 0)
			r = pass_check(out, outlen);
	} else if ((r = sdp_strip(sdp)) == 0)
		r = sdp_serialise(sdp, out, outlen);
 out:
	sdp_free(sdp);
	return r;
}

/* Does offered medium om hold a line with the same tag and suite as sc? */
static int
offered(const struct sdp_stream *om, const struct sdes_crypto *sc)
{
	int	 i;

	for (i = 0; i < om->ncrypto; i++)
		if (om->crypto[i].tag == sc->tag &&
		    om->crypto[i].suite == sc->suite)
			return 1;
	return 0;
}

/*
 * 1 when SRTP was agreed on every active stream (spec 6.3): the answer
 * has as many m-lines as the offer, at least one stream is active (port
 * not 0 in the answer), and on every active stream offer and answer are
 * both RTP/SAVP(F), the offered stream is active, and the answer has
 * exactly one a=crypto (none refused) with the tag and suite of a line
 * offered on the same m-line.  Otherwise 0 (an RTP stream, a fallback,
 * or a broken answer).
 */
int
sdp_srtp_agreed(const struct sdp_info *offer, const struct sdp_info *answer)
{
	const struct sdp_stream	*om, *am;
	int			 i, active = 0;

	if (offer->nmedia != answer->nmedia)
		return 0;
	for (i = 0; i < answer->nmedia; i++) {
		om = &offer->media[i];
		am = &answer->media[i];
		if (am->port == 0)
			continue;
		active++;
		if (om->port == 0 || !om->savp || !am->savp ||
		    am->ncrypto != 1 || am->bad_crypto != 0 ||
		    !offered(om, &am->crypto[0]))
			return 0;
	}
	return active > 0;
}

/* Length of a key value at p (n bytes left): up to '|', ';', WSP, EOL. */
static size_t
key_span(const char *p, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (p[i] == '|' || p[i] == ';' || p[i] == ' ' || p[i] == '\t' ||
		    p[i] == '\r' || p[i] == '\n')
			break;
	return i;
}

/* Length of a token at p: up to WSP or EOL. */
static size_t
token_span(const char *p, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n')
			break;
	return i;
}

/* Does p (n bytes left) start with s, in any case? */
static int
starts(const char *p, size_t n, const char *s)
{
	size_t	 k = strlen(s);

	return n >= k && strncasecmp(p, s, k) == 0;
}

/*
 * Masking state over one line: a k= line is masked whole; in an a=crypto
 * line the third token (the key parameters) is masked even when it does
 * not start with "inline:"; "inline:" values are masked anywhere.
 */
struct mask {
	const char	*in;
	size_t		 len, i;
	char		*out;
	size_t		 o;
	int		 crypto;	/* WSP runs left before the key */
	int		 inws;		/* last byte was WSP */
};

static void
mask_put(struct mask *mk, const char *p, size_t n, size_t skip)
{
	memcpy(mk->out + mk->o, p, n);
	mk->o += n;
	mk->i += skip;
}

/* One step at mk->i. */
static void
mask_step(struct mask *mk)
{
	const char	*p = mk->in + mk->i;
	size_t		 n = mk->len - mk->i;
	int		 bol = mk->i == 0 || p[-1] == '\n';
	int		 ws = *p == ' ' || *p == '\t';

	if (bol) {
		mk->crypto = 0;
		if (starts(p, n, "a=crypto:"))
			mk->crypto = 2;
		if (starts(p, n, "k=")) {
			mask_put(mk, p, 2, 2);
			mask_put(mk, SDP_MASK, sizeof(SDP_MASK) - 1, 0);
			while (mk->i < mk->len && mk->in[mk->i] != '\r' &&
			    mk->in[mk->i] != '\n')
				mk->i++;
			return;
		}
	}
	if (mk->crypto > 0 && !ws && mk->inws && --mk->crypto == 0 &&
	    !starts(p, n, "inline:")) {
		mask_put(mk, SDP_MASK, sizeof(SDP_MASK) - 1, token_span(p, n));
		mk->inws = 0;
		return;
	}
	mk->inws = ws;
	if (starts(p, n, "inline:")) {
		mask_put(mk, p, 7, 7);
		mask_put(mk, SDP_MASK, sizeof(SDP_MASK) - 1,
		    key_span(p + 7, n - 7));
		mk->crypto = 0;
		return;
	}
	mask_put(mk, p, 1, 1);
}

/*
 * A NUL-terminated copy of an SDP body of len bytes that is safe to log
 * (spec 6.5): every "inline:" value (any case) becomes "inline:[masked]",
 * every k= line "k=[masked]", and the key parameters of an a=crypto line
 * that lack "inline:" "[masked]".  Lifetime, MKI and session parameters
 * stay.  Caller frees; NULL when out of memory.
 */
char *
sdp_mask(const char *body, size_t len)
{
	struct mask	 mk;

	/*
	 * Each mask adds at most 8 bytes and needs at least 2 input bytes
	 * (a token after "a=crypto:" and WSP, "k=" after '\n', "inline:"):
	 * 5 * len + 16 is enough.
	 */
	memset(&mk, 0, sizeof(mk));
	if (len > SIZE_MAX / 8 || (mk.out = malloc(5 * len + 16)) == NULL)
		return NULL;
	mk.in = body;
	mk.len = len;
	while (mk.i < mk.len)
		mask_step(&mk);
	mk.out[mk.o] = '\0';
	return mk.out;
}
