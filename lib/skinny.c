/*
 * SCCP (Skinny) message codec (../shared/specs/sccp-security.md); see
 * skinny.h for the contract.  Every read of a message goes through the
 * cursor.  Fixed layouts are parsed from a zero-filled copy of the
 * payload, so a short variant reads its missing trailing fields as zero
 * and a longer one has its excess ignored (spec 2 step 4); variable ones
 * (CallInfoV2 strings) read the payload cursor itself.
 *
 * Error codes (negative UC_ERR_*, detail via uc_errdetail()):
 *   UC_ERR_TRUNCATED	under the 12-byte header, length says more bytes
 *			than given, payload shorter than the fixed part the
 *			message needs
 *   UC_ERR_FORMAT	length under 4 or over SKINNY_MSG_MAX, ipx
 *			addrType not 0/1, key or salt length over 16,
 *			capability count over 18
 *   UC_ERR_POLICY	build: key block without keys_ok (spec 7.1) or
 *			below SKINNY_VERSION_SECURE (spec 7.2)
 *   UC_ERR_UNSUPPORTED	build: IPv6 address below V17
 *   UC_ERR_ARG		bad version (build: 0, 1..11, 15..17 only),
 *			address family, count or key lengths
 *   UC_ERR_ALLOC	the output buffer cannot take the message
 */
#include <sys/socket.h>

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "cursor.h"
#include "sdes.h"
#include "skinny.h"
#include "uerr.h"
#include "wbuf.h"

#define SK_PAD_MAX	512	/* largest fixed layout parsed (CallInfo 384) */
#define SK_V_IPX	17	/* ipx addresses from this V (spec 3) */
#define SK_V_TONE	11	/* StopTone tone word from this V (6.15) */
#define SK_V_REQTYPE	16	/* ORC requestedIpAddrType (errata 13.2) */
#define SK_V_DN25	18	/* 25-byte DialedNumber (spec 3) */
#define SK_V_HDR	10	/* header carries V from this V (2.1) */
#define SK_REG_VERSION_MIN 44	/* Register carries byte 40 (spec 3) */
#define SK_IP4_LEN	4
#define SK_IP6_LEN	16
#define SK_KEYINFO_LEN	48	/* EncryptionInfo (6.17) */
#define SK_SALT_USED	14	/* salt bytes of ids 1/2 */
#define SK_DTMF_TYPE	10	/* dtmfType from CUCM captures (12.8) */
#define SK_CALL_INSTANCE 1	/* one call per line */
#define SK_PRECEDENCE	4	/* CallState precedence: routine (6.12) */
#define SK_LINE_OPTIONS	15	/* LineStat display options (6.8) */
#define SK_BUTTONS	42	/* ButtonTemplate slots (6.7) */
#define SK_BUTTON_LINE	0x09
#define SK_BUTTON_NONE	0xFF
#define SK_SOFTKEYS	32	/* SoftKeyTemplateRes slots (6.9) */
#define SK_LABEL_LEN	16
#define SK_KEYSETS	16	/* SoftKeySetRes sets (6.9) */
#define SK_KEYSET_KEYS	16
#define SK_INFO_BASE	300	/* infoIndex = 300 + template index */
#define SK_CI2_HEAD	32	/* CallInfoV2 fixed head (6.14) */
#define SK_CI2_NSTR	13	/* strings below V17 (errata 13.6) */
#define SK_CI2_NSTR17	15	/* from V17 */
#define SK_CAP_LEN	16	/* one capability entry (6.6) */
#define SK_REGISTER_LEN	172
#define SK_ALARM_TEXT	80
#define SK_TEXT_LEN	32	/* reject text, prompt text, loadInfo */
#define SK_DATE_LEN	6

/* CallInfoV2 string indexes we fill (errata 13.6). */
#define SK_CI2_CALLING		0
#define SK_CI2_CALLED		2
#define SK_CI2_CALLING_NAME	9
#define SK_CI2_CALLED_NAME	10

struct sk_desc {
	uint32_t	 id;
	const char	*name;
	uint16_t	 min;	/* payload bytes the fixed part needs */
	uint16_t	 full;	/* bytes parsed, zero-filled; 0: the raw cursor */
	int		(*parse)(struct cursor *, int, size_t,
			    struct skinny_msg *);
	int		(*build)(struct wbuf *, int, const struct skinny_msg *);
};

static const uint8_t	 zeros[64];

/* ---------------------------------------------------------------- */
/* Readers over a (padded) payload cursor.                          */

/* A char[n] field into dst (n + 1 bytes): up to the first NUL or n. */
static void
get_str(struct cursor *c, char *dst, size_t n)
{
	const uint8_t	*p;
	size_t		 len = 0;

	if ((p = cur_bytes(c, n)) != NULL)
		len = strnlen((const char *)p, n);
	if (len > 0)
		memcpy(dst, p, len);
	dst[len] = '\0';
}

/* A packed NUL-terminated string (6.14) into dst (cap + 1 bytes, may
   be NULL to skip); an unterminated one runs to the end of c. */
static void
get_packed(struct cursor *c, char *dst, size_t cap)
{
	size_t	 len = 0;
	uint8_t	 ch;

	while (cur_left(c) > 0 && (ch = cur_u8(c)) != '\0') {
		if (dst != NULL && len < cap)
			dst[len++] = (char)ch;
	}
	if (dst != NULL)
		dst[len] = '\0';
}

/* An ip4 (4 bytes) or ipx (addrType + 16 bytes) address (spec 0). */
static int
get_addr(struct cursor *c, int ipx, struct skinny_addr *a)
{
	uint32_t	 type = 0;

	memset(a, 0, sizeof(*a));
	a->family = AF_INET;
	if (ipx)
		type = cur_u32le(c);
	if (type == 1) {
		a->family = AF_INET6;
		cur_copy(c, a->ip, SK_IP6_LEN);
		return 0;
	}
	if (type != 0)
		return uc_fail(UC_ERR_FORMAT, "ipx at payload offset %zu: "
		    "addrType %u, not 0 or 1 (spec 0)", cur_offset(c) - 4,
		    type);
	cur_copy(c, a->ip, SK_IP4_LEN);
	if (ipx)
		cur_skip(c, SK_IP6_LEN - SK_IP4_LEN);
	return 0;
}

/* The 48-byte EncryptionInfo block (6.17). */
static int
get_keyinfo(struct cursor *c, struct skinny_keyinfo *k)
{
	size_t	 off = cur_offset(c);

	k->alg = cur_u32le(c);
	k->keylen = cur_u16le(c);
	k->saltlen = cur_u16le(c);
	cur_copy(c, k->key, SKINNY_KEY_LEN);
	cur_copy(c, k->salt, SKINNY_SALT_LEN);
	k->mki_present = cur_u32le(c);
	k->kdr = cur_u32le(c);
	if (k->keylen > SKINNY_KEY_LEN || k->saltlen > SKINNY_SALT_LEN)
		return uc_fail(UC_ERR_FORMAT, "EncryptionInfo at payload "
		    "offset %zu: key length %u, salt length %u, over %d "
		    "(spec 6.17)", off, k->keylen, k->saltlen, SKINNY_KEY_LEN);
	return 0;
}

/* Ack forms (6.19, 6.20): by length, V decides between the sizes. */
static int
ack_is_ipx(int v, size_t plen, size_t ip4_len, size_t ipx_len)
{
	if (plen <= ip4_len)
		return 0;
	if (plen >= ipx_len)
		return 1;
	return v >= SK_V_IPX;
}

/* ---------------------------------------------------------------- */
/* Writers.                                                         */

static void
put_zero(struct wbuf *b, size_t n)
{
	size_t	 k;

	while (n > 0) {
		k = n < sizeof(zeros) ? n : sizeof(zeros);
		wbuf_put(b, zeros, k);
		n -= k;
	}
}

/* A char[n] field: at most n - 1 characters, NUL padded (spec 0). */
static void
put_str(struct wbuf *b, const char *s, size_t n)
{
	size_t	 len = strnlen(s, n - 1);

	wbuf_put(b, s, len);
	put_zero(b, n - len);
}

/* A packed string (6.14): at most cap characters (get_packed keeps as
   many) and a NUL; NULL writes an empty one. */
static void
put_packed(struct wbuf *b, const char *s, size_t cap)
{
	size_t	 len = s == NULL ? 0 : strnlen(s, cap);

	wbuf_put(b, s, len);
	wbuf_u8(b, 0);
}

/* ip4 below V17, ipx from V17 (spec 0); family 0 counts as IPv4. */
static int
put_addr(struct wbuf *b, int v, const struct skinny_addr *a)
{
	int	 ipx = v >= SK_V_IPX;

	if (a->family != 0 && a->family != AF_INET && a->family != AF_INET6)
		return uc_fail(UC_ERR_ARG, "address family %d, not AF_INET "
		    "or AF_INET6", a->family);
	if (a->family == AF_INET6 && !ipx)
		return uc_fail(UC_ERR_UNSUPPORTED, "IPv6 address at V %d: "
		    "ipx needs V >= %d (spec 3)", v, SK_V_IPX);
	if (!ipx) {
		wbuf_put(b, a->ip, SK_IP4_LEN);
		return 0;
	}
	wbuf_u32le(b, a->family == AF_INET6 ? 1 : 0);
	if (a->family == AF_INET6) {
		wbuf_put(b, a->ip, SK_IP6_LEN);
		return 0;
	}
	wbuf_put(b, a->ip, SK_IP4_LEN);
	put_zero(b, SK_IP6_LEN - SK_IP4_LEN);
	return 0;
}

/* No algorithm, no key and no salt byte (spec 7.1 rule 1). */
static int
keyinfo_empty(const struct skinny_keyinfo *k)
{
	size_t	 i;
	uint8_t	 acc = 0;

	for (i = 0; i < SKINNY_KEY_LEN; i++)
		acc |= k->key[i];
	for (i = 0; i < SKINNY_SALT_LEN; i++)
		acc |= k->salt[i];
	return k->alg == SK_ALG_NONE && acc == 0;
}

/* EncryptionInfo (6.17); algorithm 0 is written all-zero. */
static int
put_keyinfo(struct wbuf *b, const struct skinny_keyinfo *k)
{
	if (k->alg == SK_ALG_NONE) {
		put_zero(b, SK_KEYINFO_LEN);
		return 0;
	}
	if (k->keylen > SKINNY_KEY_LEN || k->saltlen > SKINNY_SALT_LEN)
		return uc_fail(UC_ERR_ARG, "EncryptionInfo: key length %u, "
		    "salt length %u, over %d (spec 6.17)", k->keylen,
		    k->saltlen, SKINNY_KEY_LEN);
	wbuf_u32le(b, k->alg);
	wbuf_u16le(b, k->keylen);
	wbuf_u16le(b, k->saltlen);
	wbuf_put(b, k->key, SKINNY_KEY_LEN);
	wbuf_put(b, k->salt, SKINNY_SALT_LEN);
	wbuf_u32le(b, k->mki_present);
	wbuf_u32le(b, k->kdr);
	return 0;
}

/* ---------------------------------------------------------------- */
/* Messages without fields, and one-word messages.                  */

static int
parse_none(struct cursor *c, int v, size_t plen, struct skinny_msg *m)
{
	(void)c;
	(void)v;
	(void)plen;
	(void)m;
	return 0;
}

static int
build_none(struct wbuf *b, int v, const struct skinny_msg *m)
{
	(void)b;
	(void)v;
	(void)m;
	return 0;
}

/* Unregister reason, UnregisterAck status, Reset type, speaker mode. */
static int
parse_word(struct cursor *c, int v, size_t plen, struct skinny_msg *m)
{
	(void)v;
	(void)plen;
	m->u.simple.button = cur_u32le(c);
	return 0;
}

static int
build_word(struct wbuf *b, int v, const struct skinny_msg *m)
{
	(void)v;
	wbuf_u32le(b, m->u.simple.button);
	return 0;
}

/* LineStatReq, ActivateCallPlane: u32 lineInstance. */
static int
parse_line(struct cursor *c, int v, size_t plen, struct skinny_msg *m)
{
	(void)v;
	(void)plen;
	m->u.simple.line = cur_u32le(c);
	return 0;
}

static int
build_line(struct wbuf *b, int v, const struct skinny_msg *m)
{
	(void)v;
	wbuf_u32le(b, m->u.simple.line);
	return 0;
}

/* RegisterAvailableLines: u32 count, kept in u.simple.button. */
static int
parse_avail(struct cursor *c, int v, size_t plen, struct skinny_msg *m)
{
	(void)v;
	(void)plen;
	m->u.simple.button = cur_u32le(c);
	return 0;
}

static int
build_avail(struct wbuf *b, int v, const struct skinny_msg *m)
{
	(void)v;
	wbuf_u32le(b, m->u.simple.button);
	return 0;
}

/* OffHook / OnHook (6.10): lineInstance, callReference. */
static int
parse_hook(struct cursor *c, int v, size_t plen, struct skinny_msg *m)
{
	(void)v;
	(void)plen;
	m->u.simple.line = cur_u32le(c);
	m->u.simple.callref = cur_u32le(c);
	return 0;
}

static int
build_hook(struct wbuf *b, int v, const struct skinny_msg *m)
{
	(void)v;
	wbuf_u32le(b, m->u.simple.line);
	wbuf_u32le(b, m->u.simple.callref);
	return 0;
}

/* KeypadButton (6.11): button, lineInstance, callReference. */
static int
parse_keypad(struct cursor *c, int v, size_t plen, struct skinny_msg *m)
{
	(void)v;
	(void)plen;
	m->u.simple.button = cur_u32le(c);
	m->u.simple.line = cur_u32le(c);
	m->u.simple.callref = cur_u32le(c);
	return 0;
}

static int
build_keypad(struct wbuf *b, int v, const struct skinny_msg *m)
{
	(void)v;
	wbuf_u32le(b, m->u.simple.button);
	wbuf_u32le(b, m->u.simple.line);
	wbuf_u32le(b, m->u.simple.callref);
	return 0;
}

/* SoftKeyEvent: event, lineInstance, callReference. */
static int
parse_skevent(struct cursor *c, int v, size_t plen, struct skinny_msg *m)
{
	(void)v;
	(void)plen;
	m->u.softkey.event = cur_u32le(c);
	m->u.softkey.line = cur_u32le(c);
	m->u.softkey.callref = cur_u32le(c);
	return 0;
}

static int
build_skevent(struct wbuf *b, int v, const struct skinny_msg *m)
{
	(void)v;
	wbuf_u32le(b, m->u.softkey.event);
	wbuf_u32le(b, m->u.softkey.line);
	wbuf_u32le(b, m->u.softkey.callref);
	return 0;
}

/* SelectSoftKeys: line, callref, set index (u.softkey.event), mask. */
static int
parse_selectsk(struct cursor *c, int v, size_t plen, struct skinny_msg *m)
{
	(void)v;
	(void)plen;
	m->u.softkey.line = cur_u32le(c);
	m->u.softkey.callref = cur_u32le(c);
	m->u.softkey.event = cur_u32le(c);
	return 0;
}

static int
build_selectsk(struct wbuf *b, int v, const struct skinny_msg *m)
{
	(void)v;
	wbuf_u32le(b, m->u.softkey.line);
	wbuf_u32le(b, m->u.softkey.callref);
	wbuf_u32le(b, m->u.softkey.event);
	wbuf_u32le(b, 0xFFFFFFFFU);		/* every key of the set */
	return 0;
}

/* ---------------------------------------------------------------- */
/* Registration (6.2 - 6.4, 6.6 - 6.9).                             */

static int
parse_register(struct cursor *c, int v, size_t plen, struct skinny_msg *m)
{
	(void)v;
	get_str(c, m->u.reg.name, SKINNY_NAME_LEN);
	m->u.reg.user_id = cur_u32le(c);
	m->u.reg.instance = cur_u32le(c);
	cur_copy(c, m->u.reg.ip4, SK_IP4_LEN);
	m->u.reg.device_type = cur_u32le(c);
	m->u.reg.max_streams = cur_u32le(c);
	m->u.reg.active_streams = cur_u32le(c);
	m->u.reg.proto_version = cur_u8(c);		/* 40 */
	(void)cur_u8(c);
	m->u.reg.features = cur_u16le(c);		/* 42 */
	if (plen < SK_REG_VERSION_MIN) {
		m->u.reg.proto_version = 0;
		m->u.reg.features = 0;
	}
	cur_skip(c, 8 + 12);		/* conferences, macAddress */
	cur_skip(c, 4);			/* ipV4AddressScope */
	m->u.reg.max_lines = cur_u32le(c);		/* 68 */
	cur_skip(c, SK_IP6_LEN + 4);	/* ipV6Address, scope */
	get_str(c, m->u.reg.load_info, SK_TEXT_LEN);	/* 92 */
	return 0;
}

static int
hexdigit(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* macAddress (6.2): the MAC of a SEP<12 hex> name, else zero. */
static void
put_mac(struct wbuf *b, const char *name)
{
	uint8_t	 mac[12] = { 0 };
	int	 i, hi, lo;

	if (strncmp(name, "SEP", 3) == 0 && strlen(name) == 15) {
		for (i = 0; i < 6; i++) {
			hi = hexdigit(name[3 + 2 * i]);
			lo = hexdigit(name[4 + 2 * i]);
			if (hi < 0 || lo < 0)
				break;
			mac[i] = (uint8_t)(hi << 4 | lo);
		}
		if (i < 6)
			memset(mac, 0, sizeof(mac));
	}
	wbuf_put(b, mac, sizeof(mac));
}

/* Register, the 172-byte form (6.2). */
static int
build_register(struct wbuf *b, int v, const struct skinny_msg *m)
{
	(void)v;
	put_str(b, m->u.reg.name, SKINNY_NAME_LEN);
	wbuf_u32le(b, m->u.reg.user_id);
	wbuf_u32le(b, m->u.reg.instance);
	wbuf_put(b, m->u.reg.ip4, SK_IP4_LEN);
	wbuf_u32le(b, m->u.reg.device_type);
	wbuf_u32le(b, m->u.reg.max_streams);
	wbuf_u32le(b, m->u.reg.active_streams);
	wbuf_u8(b, m->u.reg.proto_version);
	wbuf_u8(b, 0);
	wbuf_u16le(b, m->u.reg.features);
	put_zero(b, 8);			/* max/active conferences */
	put_mac(b, m->u.reg.name);
	wbuf_u32le(b, 0);		/* ipV4AddressScope */
	wbuf_u32le(b, m->u.reg.max_lines);
	put_zero(b, SK_IP6_LEN + 4);
	put_str(b, m->u.reg.load_info, SK_TEXT_LEN);
	put_zero(b, SK_REGISTER_LEN - 124);	/* configVersionStamp */
	return 0;
}

/* RegisterAck (6.3). */
static int
parse_regack(struct cursor *c, int v, size_t plen, struct skinny_msg *m)
{
	(void)v;
	(void)plen;
	m->u.reg_ack.keepalive = cur_u32le(c);
	get_str(c, m->u.reg_ack.date_template, SK_DATE_LEN);
	cur_skip(c, 2);
	m->u.reg_ack.keepalive2 = cur_u32le(c);
	m->u.reg_ack.proto_version = cur_u8(c);
	return 0;
}

/* Bytes 17-19 as chan-sccp sends them for V (6.3). */
static int
build_regack(struct wbuf *b, int v, const struct skinny_msg *m)
{
	uint8_t	 feat[3] = { 0x20, 0xF1, 0xFF };

	if (v < 5)
		memset(feat, 0, sizeof(feat));
	else if (v < 11)
		feat[2] = 0xFE;
	wbuf_u32le(b, m->u.reg_ack.keepalive);
	put_str(b, m->u.reg_ack.date_template, SK_DATE_LEN);
	wbuf_u16le(b, 0);
	wbuf_u32le(b, m->u.reg_ack.keepalive2);
	wbuf_u8(b, m->u.reg_ack.proto_version);
	wbuf_put(b, feat, sizeof(feat));
	return 0;
}

/* RegisterReject (6.4): char[32] text. */
static int
parse_reject(struct cursor *c, int v, size_t plen, struct skinny_msg *m)
{
	(void)v;
	(void)plen;
	get_str(c, m->u.reject.text, SK_TEXT_LEN);
	return 0;
}

static int
build_reject(struct wbuf *b, int v, const struct skinny_msg *m)
{
	(void)v;
	put_str(b, m->u.reject.text, SK_TEXT_LEN);
	return 0;
}

/* CapabilitiesRes (6.6): count, then 18 slots of 16 bytes. */
static int
parse_caps(struct cursor *c, int v, size_t plen, struct skinny_msg *m)
{
	uint32_t	 i, n;

	(void)v;
	n = cur_u32le(c);
	if (n > SKINNY_CAPS_MAX)
		return uc_fail(UC_ERR_FORMAT, "count %u over %d (spec 6.6)",
		    n, SKINNY_CAPS_MAX);
	if (plen < 4 + (size_t)n * SK_CAP_LEN)
		return uc_fail(UC_ERR_TRUNCATED, "count %u needs %zu payload "
		    "bytes (spec 6.6)", n, 4 + (size_t)n * SK_CAP_LEN);
	m->u.caps.count = n;
	for (i = 0; i < n; i++) {
		m->u.caps.cap[i].codec = cur_u32le(c);
		m->u.caps.cap[i].ms = cur_u32le(c);
		cur_skip(c, 8);
	}
	return 0;
}

static int
build_caps(struct wbuf *b, int v, const struct skinny_msg *m)
{
	uint32_t	 i;

	(void)v;
	if (m->u.caps.count > SKINNY_CAPS_MAX)
		return uc_fail(UC_ERR_ARG, "count %u over %d (spec 6.6)",
		    m->u.caps.count, SKINNY_CAPS_MAX);
	wbuf_u32le(b, m->u.caps.count);
	for (i = 0; i < m->u.caps.count; i++) {
		wbuf_u32le(b, m->u.caps.cap[i].codec);
		wbuf_u32le(b, m->u.caps.cap[i].ms);
		put_zero(b, 8);
	}
	put_zero(b, (size_t)(SKINNY_CAPS_MAX - i) * SK_CAP_LEN);
	return 0;
}

/* Alarm (5): severity, char[80] text, two parameters. */
static int
parse_alarm(struct cursor *c, int v, size_t plen, struct skinny_msg *m)
{
	(void)v;
	(void)plen;
	m->u.alarm.severity = cur_u32le(c);
	get_str(c, m->u.alarm.text, SK_ALARM_TEXT);
	m->u.alarm.p1 = cur_u32le(c);
	m->u.alarm.p2 = cur_u32le(c);
	return 0;
}

static int
build_alarm(struct wbuf *b, int v, const struct skinny_msg *m)
{
	(void)v;
	wbuf_u32le(b, m->u.alarm.severity);
	put_str(b, m->u.alarm.text, SK_ALARM_TEXT);
	wbuf_u32le(b, m->u.alarm.p1);
	wbuf_u32le(b, m->u.alarm.p2);
	return 0;
}

/* ButtonTemplate (6.7): u.buttons.lines counts the Line buttons. */
static int
parse_buttons(struct cursor *c, int v, size_t plen, struct skinny_msg *m)
{
	int	 i;

	(void)v;
	(void)plen;
	cur_skip(c, 12);		/* offset, count, total */
	for (i = 0; i < SK_BUTTONS; i++) {
		(void)cur_u8(c);
		if (cur_u8(c) == SK_BUTTON_LINE)
			m->u.buttons.lines++;
	}
	return 0;
}

static int
build_buttons(struct wbuf *b, int v, const struct skinny_msg *m)
{
	uint32_t	 i, n = m->u.buttons.lines;

	(void)v;
	if (n > SK_BUTTONS)
		return uc_fail(UC_ERR_ARG, "%u line buttons, over %d "
		    "(spec 6.7)", n, SK_BUTTONS);
	wbuf_u32le(b, 0);
	wbuf_u32le(b, n);
	wbuf_u32le(b, n);
	for (i = 0; i < SK_BUTTONS; i++) {
		wbuf_u8(b, i < n ? (uint8_t)(i + 1) : 0);
		wbuf_u8(b, i < n ? SK_BUTTON_LINE : SK_BUTTON_NONE);
	}
	return 0;
}

/* LineStat (6.8). */
static int
parse_linestat(struct cursor *c, int v, size_t plen, struct skinny_msg *m)
{
	(void)v;
	(void)plen;
	m->u.linestat.line = cur_u32le(c);
	get_str(c, m->u.linestat.dn, SKINNY_DN_LEN);
	get_str(c, m->u.linestat.display, SKINNY_PARTYNAME_LEN);
	return 0;
}

/* The display name doubles as the line's text label. */
static int
build_linestat(struct wbuf *b, int v, const struct skinny_msg *m)
{
	(void)v;
	wbuf_u32le(b, m->u.linestat.line);
	put_str(b, m->u.linestat.dn, SKINNY_DN_LEN);
	put_str(b, m->u.linestat.display, SKINNY_PARTYNAME_LEN);
	put_str(b, m->u.linestat.display, SKINNY_PARTYNAME_LEN);
	wbuf_u32le(b, SK_LINE_OPTIONS);
	return 0;
}

/* ConfigStat (6.9). */
static int
parse_configstat(struct cursor *c, int v, size_t plen, struct skinny_msg *m)
{
	(void)v;
	(void)plen;
	get_str(c, m->u.configstat.name, SKINNY_NAME_LEN);
	cur_skip(c, 8 + 2 * SKINNY_PARTYNAME_LEN);	/* ids, names */
	m->u.configstat.lines = cur_u32le(c);
	return 0;
}

static int
build_configstat(struct wbuf *b, int v, const struct skinny_msg *m)
{
	(void)v;
	put_str(b, m->u.configstat.name, SKINNY_NAME_LEN);
	wbuf_u32le(b, 0);			/* userId */
	wbuf_u32le(b, 1);			/* instance */
	put_zero(b, 2 * SKINNY_PARTYNAME_LEN);	/* user, server names */
	wbuf_u32le(b, m->u.configstat.lines);
	wbuf_u32le(b, 0);			/* speed dials */
	return 0;
}

/* DefineTimeDate (6.9): nine words. */
static int
parse_timedate(struct cursor *c, int v, size_t plen, struct skinny_msg *m)
{
	(void)v;
	(void)plen;
	m->u.timedate.year = cur_u32le(c);
	m->u.timedate.month = cur_u32le(c);
	m->u.timedate.dow = cur_u32le(c);
	m->u.timedate.day = cur_u32le(c);
	m->u.timedate.hour = cur_u32le(c);
	m->u.timedate.minute = cur_u32le(c);
	m->u.timedate.second = cur_u32le(c);
	m->u.timedate.ms = cur_u32le(c);
	m->u.timedate.systime = cur_u32le(c);
	return 0;
}

static int
build_timedate(struct wbuf *b, int v, const struct skinny_msg *m)
{
	(void)v;
	wbuf_u32le(b, m->u.timedate.year);
	wbuf_u32le(b, m->u.timedate.month);
	wbuf_u32le(b, m->u.timedate.dow);
	wbuf_u32le(b, m->u.timedate.day);
	wbuf_u32le(b, m->u.timedate.hour);
	wbuf_u32le(b, m->u.timedate.minute);
	wbuf_u32le(b, m->u.timedate.second);
	wbuf_u32le(b, m->u.timedate.ms);
	wbuf_u32le(b, m->u.timedate.systime);
	return 0;
}

/* ---------------------------------------------------------------- */
/* Softkey templates (6.9), filled by the codec.                    */

/*
 * The template in event order, so a template index equals the event
 * number (the usual layout, and what Wireshark assumes); the sets use
 * only the SK_SOFTKEY_* events a minimal call handles.
 */
static const char *const softkeys[] = {
	"Redial", "NewCall", "Hold", "Transfer", "CFwdAll", "CFwdBusy",
	"CFwdNoAnswer", "BackSpace", "EndCall", "Resume", "Answer",
};
#define SK_NSOFTKEYS	(sizeof(softkeys) / sizeof(softkeys[0]))

/* Sets by call state: On Hook, Connected, On Hold, Ring In, Off Hook. */
static const uint8_t	 keysets[][SK_KEYSET_KEYS] = {
	{ SK_SOFTKEY_REDIAL, SK_SOFTKEY_NEWCALL },
	{ SK_SOFTKEY_HOLD, SK_SOFTKEY_ENDCALL },
	{ SK_SOFTKEY_RESUME, SK_SOFTKEY_NEWCALL },
	{ SK_SOFTKEY_ANSWER, SK_SOFTKEY_ENDCALL },
	{ SK_SOFTKEY_REDIAL, SK_SOFTKEY_ENDCALL },
};
#define SK_NKEYSETS	(sizeof(keysets) / sizeof(keysets[0]))

static int
build_sktemplate(struct wbuf *b, int v, const struct skinny_msg *m)
{
	size_t	 i;

	(void)v;
	(void)m;
	wbuf_u32le(b, 0);
	wbuf_u32le(b, SK_NSOFTKEYS);
	wbuf_u32le(b, SK_NSOFTKEYS);
	for (i = 0; i < SK_NSOFTKEYS; i++) {
		put_str(b, softkeys[i], SK_LABEL_LEN);
		wbuf_u32le(b, (uint32_t)i + 1);		/* the event */
	}
	put_zero(b, (SK_SOFTKEYS - SK_NSOFTKEYS) * (SK_LABEL_LEN + 4));
	return 0;
}

static int
build_sksets(struct wbuf *b, int v, const struct skinny_msg *m)
{
	size_t	 i, k;
	uint8_t	 t;

	(void)v;
	(void)m;
	wbuf_u32le(b, 0);
	wbuf_u32le(b, SK_NKEYSETS);
	wbuf_u32le(b, SK_NKEYSETS);
	for (i = 0; i < SK_KEYSETS; i++) {
		for (k = 0; k < SK_KEYSET_KEYS; k++)
			wbuf_u8(b, i < SK_NKEYSETS ? keysets[i][k] : 0);
		for (k = 0; k < SK_KEYSET_KEYS; k++) {
			t = i < SK_NKEYSETS ? keysets[i][k] : 0;
			wbuf_u16le(b, t ? SK_INFO_BASE + t : 0);
		}
	}
	return 0;
}

/* ---------------------------------------------------------------- */
/* Call control (6.12 - 6.15).                                      */

static int
parse_callstate(struct cursor *c, int v, size_t plen, struct skinny_msg *m)
{
	(void)v;
	(void)plen;
	m->u.callstate.state = cur_u32le(c);
	m->u.callstate.line = cur_u32le(c);
	m->u.callstate.callref = cur_u32le(c);
	return 0;
}

static int
build_callstate(struct wbuf *b, int v, const struct skinny_msg *m)
{
	(void)v;
	wbuf_u32le(b, m->u.callstate.state);
	wbuf_u32le(b, m->u.callstate.line);
	wbuf_u32le(b, m->u.callstate.callref);
	wbuf_u32le(b, 0);			/* privacy */
	wbuf_u32le(b, SK_PRECEDENCE);
	wbuf_u32le(b, 0);			/* domain */
	return 0;
}

/* CallInfo 0x8F (6.13). */
static int
parse_callinfo(struct cursor *c, int v, size_t plen, struct skinny_msg *m)
{
	(void)v;
	(void)plen;
	get_str(c, m->u.callinfo.calling_name, SKINNY_PARTYNAME_LEN);
	get_str(c, m->u.callinfo.calling, SKINNY_DN_LEN);
	get_str(c, m->u.callinfo.called_name, SKINNY_PARTYNAME_LEN);
	get_str(c, m->u.callinfo.called, SKINNY_DN_LEN);
	m->u.callinfo.line = cur_u32le(c);		/* 128 */
	m->u.callinfo.callref = cur_u32le(c);
	m->u.callinfo.call_type = cur_u32le(c);
	cur_skip(c, 376 - 140);
	m->u.callinfo.security = cur_u32le(c);		/* 376 */
	return 0;
}

static int
build_callinfo(struct wbuf *b, int v, const struct skinny_msg *m)
{
	(void)v;
	put_str(b, m->u.callinfo.calling_name, SKINNY_PARTYNAME_LEN);
	put_str(b, m->u.callinfo.calling, SKINNY_DN_LEN);
	put_str(b, m->u.callinfo.called_name, SKINNY_PARTYNAME_LEN);
	put_str(b, m->u.callinfo.called, SKINNY_DN_LEN);
	wbuf_u32le(b, m->u.callinfo.line);
	wbuf_u32le(b, m->u.callinfo.callref);
	wbuf_u32le(b, m->u.callinfo.call_type);
	put_zero(b, 372 - 140);		/* redirect parties, mailboxes */
	wbuf_u32le(b, SK_CALL_INSTANCE);
	wbuf_u32le(b, m->u.callinfo.security);
	wbuf_u32le(b, 0);		/* partyPIRestrictionBits */
	return 0;
}

/* CallInfoV2 strings kept in u.callinfo (errata 13.6 order). */
static const struct {
	int		 idx;
	size_t		 off;		/* in struct skinny_msg */
	size_t		 cap;
} ci2_strings[] = {
	{ SK_CI2_CALLING, offsetof(struct skinny_msg, u.callinfo.calling),
	    SKINNY_DN_LEN },
	{ SK_CI2_CALLED, offsetof(struct skinny_msg, u.callinfo.called),
	    SKINNY_DN_LEN },
	{ SK_CI2_CALLING_NAME, offsetof(struct skinny_msg,
	    u.callinfo.calling_name), SKINNY_PARTYNAME_LEN },
	{ SK_CI2_CALLED_NAME, offsetof(struct skinny_msg,
	    u.callinfo.called_name), SKINNY_PARTYNAME_LEN },
};

/* Where string i lives in a struct skinny_msg; 0 (cap 0) if nowhere. */
static size_t
ci2_slot(int i, size_t *cap)
{
	size_t	 k;

	for (k = 0; k < sizeof(ci2_strings) / sizeof(ci2_strings[0]); k++)
		if (ci2_strings[k].idx == i) {
			*cap = ci2_strings[k].cap;
			return ci2_strings[k].off;
		}
	*cap = 0;
	return 0;
}

/* CallInfoV2 (6.14, errata 13.6): head, then strings to the names. */
static int
parse_callinfo2(struct cursor *c, int v, size_t plen, struct skinny_msg *m)
{
	size_t	 cap, off;
	int	 i;

	(void)v;
	(void)plen;
	m->u.callinfo.line = cur_u32le(c);
	m->u.callinfo.callref = cur_u32le(c);
	m->u.callinfo.call_type = cur_u32le(c);
	cur_skip(c, 12);		/* reasons, callInstance */
	m->u.callinfo.security = cur_u32le(c);		/* 24 */
	cur_skip(c, 4);
	for (i = 0; i <= SK_CI2_CALLED_NAME && cur_left(c) > 0; i++) {
		off = ci2_slot(i, &cap);
		get_packed(c, cap > 0 ? (char *)m + off : NULL, cap);
	}
	return 0;
}

static int
build_callinfo2(struct wbuf *b, int v, const struct skinny_msg *m)
{
	size_t		 cap, off;
	int		 i, n = v >= SK_V_IPX ? SK_CI2_NSTR17 : SK_CI2_NSTR;

	wbuf_u32le(b, m->u.callinfo.line);
	wbuf_u32le(b, m->u.callinfo.callref);
	wbuf_u32le(b, m->u.callinfo.call_type);
	wbuf_u32le(b, 0);
	wbuf_u32le(b, 0);
	wbuf_u32le(b, SK_CALL_INSTANCE);
	wbuf_u32le(b, m->u.callinfo.security);
	wbuf_u32le(b, 0);
	for (i = 0; i < n; i++) {
		off = ci2_slot(i, &cap);
		put_packed(b, cap > 0 ? (const char *)m + off : NULL, cap);
	}
	return 0;
}

/* StartTone (6.15). */
static int
parse_starttone(struct cursor *c, int v, size_t plen, struct skinny_msg *m)
{
	(void)v;
	(void)plen;
	m->u.tone.tone = cur_u32le(c);
	m->u.tone.direction = cur_u32le(c);
	m->u.tone.line = cur_u32le(c);
	m->u.tone.callref = cur_u32le(c);
	return 0;
}

static int
build_starttone(struct wbuf *b, int v, const struct skinny_msg *m)
{
	(void)v;
	wbuf_u32le(b, m->u.tone.tone);
	wbuf_u32le(b, m->u.tone.direction);
	wbuf_u32le(b, m->u.tone.line);
	wbuf_u32le(b, m->u.tone.callref);
	return 0;
}

/* StopTone (6.15): the tone word only from V11. */
static int
parse_stoptone(struct cursor *c, int v, size_t plen, struct skinny_msg *m)
{
	(void)plen;
	m->u.tone.line = cur_u32le(c);
	m->u.tone.callref = cur_u32le(c);
	if (v >= SK_V_TONE)
		m->u.tone.tone = cur_u32le(c);
	return 0;
}

static int
build_stoptone(struct wbuf *b, int v, const struct skinny_msg *m)
{
	wbuf_u32le(b, m->u.tone.line);
	wbuf_u32le(b, m->u.tone.callref);
	if (v >= SK_V_TONE)
		wbuf_u32le(b, m->u.tone.tone);
	return 0;
}

static int
parse_ringer(struct cursor *c, int v, size_t plen, struct skinny_msg *m)
{
	(void)v;
	(void)plen;
	m->u.ringer.mode = cur_u32le(c);
	m->u.ringer.duration = cur_u32le(c);
	m->u.ringer.line = cur_u32le(c);
	m->u.ringer.callref = cur_u32le(c);
	return 0;
}

static int
build_ringer(struct wbuf *b, int v, const struct skinny_msg *m)
{
	(void)v;
	wbuf_u32le(b, m->u.ringer.mode);
	wbuf_u32le(b, m->u.ringer.duration);
	wbuf_u32le(b, m->u.ringer.line);
	wbuf_u32le(b, m->u.ringer.callref);
	return 0;
}

static int
parse_lamp(struct cursor *c, int v, size_t plen, struct skinny_msg *m)
{
	(void)v;
	(void)plen;
	m->u.lamp.stimulus = cur_u32le(c);
	m->u.lamp.instance = cur_u32le(c);
	m->u.lamp.mode = cur_u32le(c);
	return 0;
}

static int
build_lamp(struct wbuf *b, int v, const struct skinny_msg *m)
{
	(void)v;
	wbuf_u32le(b, m->u.lamp.stimulus);
	wbuf_u32le(b, m->u.lamp.instance);
	wbuf_u32le(b, m->u.lamp.mode);
	return 0;
}

/* DisplayPromptStatus (6.15). */
static int
parse_prompt(struct cursor *c, int v, size_t plen, struct skinny_msg *m)
{
	(void)v;
	(void)plen;
	m->u.prompt.timeout = cur_u32le(c);
	get_str(c, m->u.prompt.text, SK_TEXT_LEN);
	m->u.prompt.line = cur_u32le(c);
	m->u.prompt.callref = cur_u32le(c);
	return 0;
}

static int
build_prompt(struct wbuf *b, int v, const struct skinny_msg *m)
{
	(void)v;
	wbuf_u32le(b, m->u.prompt.timeout);
	put_str(b, m->u.prompt.text, SK_TEXT_LEN);
	wbuf_u32le(b, m->u.prompt.line);
	wbuf_u32le(b, m->u.prompt.callref);
	return 0;
}

/* DialedNumber (6.15): char[24], char[25] from V18 (parse only). */
static int
parse_dialed(struct cursor *c, int v, size_t plen, struct skinny_msg *m)
{
	(void)plen;
	get_str(c, m->u.dialed.dn, v >= SK_V_DN25 ? SKINNY_DN_LEN + 1 :
	    SKINNY_DN_LEN);
	m->u.dialed.line = cur_u32le(c);
	m->u.dialed.callref = cur_u32le(c);
	return 0;
}

static int
build_dialed(struct wbuf *b, int v, const struct skinny_msg *m)
{
	(void)v;
	put_str(b, m->u.dialed.dn, SKINNY_DN_LEN);
	wbuf_u32le(b, m->u.dialed.line);
	wbuf_u32le(b, m->u.dialed.callref);
	return 0;
}

/* ---------------------------------------------------------------- */
/* Media (6.18 - 6.21).                                             */

/* OpenReceiveChannel (6.18). */
static int
parse_orc(struct cursor *c, int v, size_t plen, struct skinny_msg *m)
{
	int	 rc;

	(void)plen;
	m->u.media.conf_id = cur_u32le(c);
	m->u.media.party_id = cur_u32le(c);
	m->u.media.ms = cur_u32le(c);
	m->u.media.codec = cur_u32le(c);
	cur_skip(c, 8);			/* echoCancellation, g723BitRate */
	m->u.media.callref = cur_u32le(c);
	if ((rc = get_keyinfo(c, &m->u.media.key)) != 0)	/* 28 */
		return rc;
	cur_skip(c, 8);			/* stream, associated ids */
	m->u.media.rfc2833_pt = cur_u32le(c);			/* 84 */
	cur_skip(c, 12);		/* dtmfType, mixing, direction */
	if ((rc = get_addr(c, v >= SK_V_IPX, &m->u.media.addr)) != 0)
		return rc;					/* 100 */
	m->u.media.port = cur_u32le(c);
	return 0;
}

/* 108 bytes (V < 16), 112 (V16), 128 (V17). */
static int
build_orc(struct wbuf *b, int v, const struct skinny_msg *m)
{
	int	 rc;

	wbuf_u32le(b, m->u.media.conf_id);
	wbuf_u32le(b, m->u.media.party_id);
	wbuf_u32le(b, m->u.media.ms);
	wbuf_u32le(b, m->u.media.codec);
	put_zero(b, 8);
	wbuf_u32le(b, m->u.media.callref);
	if ((rc = put_keyinfo(b, &m->u.media.key)) != 0)
		return rc;
	put_zero(b, 8);
	wbuf_u32le(b, m->u.media.rfc2833_pt);
	wbuf_u32le(b, SK_DTMF_TYPE);
	put_zero(b, 8);			/* mixingMode, partyDirection */
	if ((rc = put_addr(b, v, &m->u.media.addr)) != 0)
		return rc;
	wbuf_u32le(b, m->u.media.port);
	if (v >= SK_V_REQTYPE)		/* requestedIpAddrType */
		wbuf_u32le(b, 0);
	return 0;
}

/* StartMediaTransmission (6.20). */
static int
parse_smt(struct cursor *c, int v, size_t plen, struct skinny_msg *m)
{
	int	 rc, ipx = v >= SK_V_IPX;

	if (ipx && plen < 60 + SK_KEYINFO_LEN)
		return uc_fail(UC_ERR_TRUNCATED, "%zu payload bytes, the "
		    "V17 form needs %d (spec 6.20)", plen,
		    60 + SK_KEYINFO_LEN);
	m->u.media.conf_id = cur_u32le(c);
	m->u.media.party_id = cur_u32le(c);
	if ((rc = get_addr(c, ipx, &m->u.media.addr)) != 0)
		return rc;
	m->u.media.port = cur_u32le(c);
	m->u.media.ms = cur_u32le(c);
	m->u.media.codec = cur_u32le(c);
	m->u.media.precedence = cur_u32le(c);
	cur_skip(c, 12);		/* silence, frames, codec params */
	m->u.media.callref = cur_u32le(c);
	if ((rc = get_keyinfo(c, &m->u.media.key)) != 0)
		return rc;
	cur_skip(c, 8);			/* stream, associated ids */
	m->u.media.rfc2833_pt = cur_u32le(c);
	return 0;
}

/* 116 bytes (V < 17), 132 (V17). */
static int
build_smt(struct wbuf *b, int v, const struct skinny_msg *m)
{
	int	 rc;

	wbuf_u32le(b, m->u.media.conf_id);
	wbuf_u32le(b, m->u.media.party_id);
	if ((rc = put_addr(b, v, &m->u.media.addr)) != 0)
		return rc;
	wbuf_u32le(b, m->u.media.port);
	wbuf_u32le(b, m->u.media.ms);
	wbuf_u32le(b, m->u.media.codec);
	wbuf_u32le(b, m->u.media.precedence);
	put_zero(b, 12);
	wbuf_u32le(b, m->u.media.callref);
	if ((rc = put_keyinfo(b, &m->u.media.key)) != 0)
		return rc;
	put_zero(b, 8);
	wbuf_u32le(b, m->u.media.rfc2833_pt);
	wbuf_u32le(b, SK_DTMF_TYPE);
	put_zero(b, 8);			/* mixingMode, partyDirection */
	return 0;
}

/* OpenReceiveChannelAck (6.19): 20 bytes with ip4, 36 with ipx. */
static int
parse_orcack(struct cursor *c, int v, size_t plen, struct skinny_msg *m)
{
	int	 rc, ipx = ack_is_ipx(v, plen, 20, 36);

	if (ipx && plen < 32)
		return uc_fail(UC_ERR_TRUNCATED, "%zu payload bytes, the ipx "
		    "form needs 32 (spec 6.19)", plen);
	m->u.media_ack.status = cur_u32le(c);
	if ((rc = get_addr(c, ipx, &m->u.media_ack.addr)) != 0)
		return rc;
	m->u.media_ack.port = cur_u32le(c);
	m->u.media_ack.party_id = cur_u32le(c);
	m->u.media_ack.callref = cur_u32le(c);
	return 0;
}

static int
build_orcack(struct wbuf *b, int v, const struct skinny_msg *m)
{
	int	 rc;

	wbuf_u32le(b, m->u.media_ack.status);
	if ((rc = put_addr(b, v, &m->u.media_ack.addr)) != 0)
		return rc;
	wbuf_u32le(b, m->u.media_ack.port);
	wbuf_u32le(b, m->u.media_ack.party_id);
	wbuf_u32le(b, m->u.media_ack.callref);
	return 0;
}

/* StartMediaTransmissionAck (6.20): 24 bytes with ip4, 40 with ipx. */
static int
parse_smtack(struct cursor *c, int v, size_t plen, struct skinny_msg *m)
{
	int	 rc, ipx = ack_is_ipx(v, plen, 24, 40);

	if (ipx && plen < 36)
		return uc_fail(UC_ERR_TRUNCATED, "%zu payload bytes, the ipx "
		    "form needs 36 (spec 6.20)", plen);
	m->u.media_ack.callref = cur_u32le(c);
	m->u.media_ack.party_id = cur_u32le(c);
	cur_skip(c, 4);			/* callReference1 */
	if ((rc = get_addr(c, ipx, &m->u.media_ack.addr)) != 0)
		return rc;
	m->u.media_ack.port = cur_u32le(c);
	m->u.media_ack.status = cur_u32le(c);
	return 0;
}

static int
build_smtack(struct wbuf *b, int v, const struct skinny_msg *m)
{
	int	 rc;

	wbuf_u32le(b, m->u.media_ack.callref);
	wbuf_u32le(b, m->u.media_ack.party_id);
	wbuf_u32le(b, m->u.media_ack.callref);
	if ((rc = put_addr(b, v, &m->u.media_ack.addr)) != 0)
		return rc;
	wbuf_u32le(b, m->u.media_ack.port);
	wbuf_u32le(b, m->u.media_ack.status);
	return 0;
}

/* StopMediaTransmission / CloseReceiveChannel (6.21). */
static int
parse_stop(struct cursor *c, int v, size_t plen, struct skinny_msg *m)
{
	(void)v;
	(void)plen;
	m->u.stop.conf_id = cur_u32le(c);
	m->u.stop.party_id = cur_u32le(c);
	m->u.stop.callref = cur_u32le(c);
	m->u.stop.port_handling = cur_u32le(c);
	return 0;
}

static int
build_stop(struct wbuf *b, int v, const struct skinny_msg *m)
{
	(void)v;
	wbuf_u32le(b, m->u.stop.conf_id);
	wbuf_u32le(b, m->u.stop.party_id);
	wbuf_u32le(b, m->u.stop.callref);
	wbuf_u32le(b, m->u.stop.port_handling);
	return 0;
}

/* ---------------------------------------------------------------- */
/* The table and the entry points.                                  */

/* full must fit parse_body's pad buffer: a compile error otherwise. */
#define SK_FITS_PAD(full) \
	((full) + 0 * sizeof(char[(full) <= SK_PAD_MAX ? 1 : -1]))
#define D(id, name, min, full, p, b) \
	{ id, name, min, SK_FITS_PAD(full), p, b }

static const struct sk_desc descs[] = {
	D(SK_KEEPALIVE, "KeepAlive", 0, 0, parse_none, build_none),
	D(SK_REGISTER, "Register", 36, 124, parse_register, build_register),
	D(SK_KEYPAD_BUTTON, "KeypadButton", 4, 12, parse_keypad,
	    build_keypad),
	D(SK_OFFHOOK, "OffHook", 0, 8, parse_hook, build_hook),
	D(SK_ONHOOK, "OnHook", 0, 8, parse_hook, build_hook),
	D(SK_LINESTAT_REQ, "LineStatReq", 4, 4, parse_line, build_line),
	D(SK_CONFIGSTAT_REQ, "ConfigStatReq", 0, 0, parse_none, build_none),
	D(SK_TIMEDATE_REQ, "TimeDateReq", 0, 0, parse_none, build_none),
	D(SK_BUTTONTEMPLATE_REQ, "ButtonTemplateReq", 0, 0, parse_none,
	    build_none),
	D(SK_CAPABILITIES_RES, "CapabilitiesRes", 4, 292, parse_caps,
	    build_caps),
	D(SK_ALARM, "Alarm", 4, 92, parse_alarm, build_alarm),
	D(SK_ORC_ACK, "OpenReceiveChannelAck", 16, 36, parse_orcack,
	    build_orcack),
	D(SK_SOFTKEYSET_REQ, "SoftKeySetReq", 0, 0, parse_none, build_none),
	D(SK_SOFTKEY_EVENT, "SoftKeyEvent", 4, 12, parse_skevent,
	    build_skevent),
	D(SK_UNREGISTER, "Unregister", 0, 4, parse_word, build_word),
	D(SK_SOFTKEYTEMPLATE_REQ, "SoftKeyTemplateReq", 0, 0, parse_none,
	    build_none),
	D(SK_REGISTER_AVAILABLE_LINES, "RegisterAvailableLines", 0, 4,
	    parse_avail, build_avail),
	D(SK_SMT_ACK, "StartMediaTransmissionAck", 20, 40, parse_smtack,
	    build_smtack),
	D(SK_REGISTER_ACK, "RegisterAck", 17, 20, parse_regack,
	    build_regack),
	D(SK_START_TONE, "StartTone", 4, 16, parse_starttone,
	    build_starttone),
	D(SK_STOP_TONE, "StopTone", 0, 12, parse_stoptone, build_stoptone),
	D(SK_SET_RINGER, "SetRinger", 4, 16, parse_ringer, build_ringer),
	D(SK_SET_LAMP, "SetLamp", 12, 12, parse_lamp, build_lamp),
	D(SK_SET_SPEAKER, "SetSpeakerMode", 4, 4, parse_word, build_word),
	D(SK_SMT, "StartMediaTransmission", 44 + SK_KEYINFO_LEN, 132,
	    parse_smt, build_smt),
	D(SK_STOP_MEDIA, "StopMediaTransmission", 8, 16, parse_stop,
	    build_stop),
	D(SK_CALLINFO, "CallInfo", 140, 384, parse_callinfo,
	    build_callinfo),
	D(SK_LINESTAT, "LineStat", 4, 112, parse_linestat, build_linestat),
	D(SK_CONFIGSTAT, "ConfigStat", SKINNY_NAME_LEN, 112,
	    parse_configstat, build_configstat),
	D(SK_DEFINE_TIMEDATE, "DefineTimeDate", 32, 36, parse_timedate,
	    build_timedate),
	D(SK_BUTTONTEMPLATE, "ButtonTemplate", 12, 96, parse_buttons,
	    build_buttons),
	D(SK_CAPABILITIES_REQ, "CapabilitiesReq", 0, 0, parse_none,
	    build_none),
	D(SK_REGISTER_REJECT, "RegisterReject", 0, 32, parse_reject,
	    build_reject),
	D(SK_RESET, "Reset", 4, 4, parse_word, build_word),
	D(SK_KEEPALIVE_ACK, "KeepAliveAck", 0, 0, parse_none, build_none),
	D(SK_ORC, "OpenReceiveChannel", 28 + SK_KEYINFO_LEN, 128, parse_orc,
	    build_orc),
	D(SK_CLOSE_RECEIVE, "CloseReceiveChannel", 8, 16, parse_stop,
	    build_stop),
	D(SK_SOFTKEYTEMPLATE_RES, "SoftKeyTemplateRes", 0, 0, parse_none,
	    build_sktemplate),
	D(SK_SOFTKEYSET_RES, "SoftKeySetRes", 0, 0, parse_none,
	    build_sksets),
	D(SK_SELECT_SOFTKEYS, "SelectSoftKeys", 12, 16, parse_selectsk,
	    build_selectsk),
	D(SK_CALLSTATE, "CallState", 12, 24, parse_callstate,
	    build_callstate),
	D(SK_DISPLAY_PROMPT, "DisplayPromptStatus", 36, 44, parse_prompt,
	    build_prompt),
	D(SK_ACTIVATE_CALLPLANE, "ActivateCallPlane", 0, 4, parse_line,
	    build_line),
	D(SK_UNREGISTER_ACK, "UnregisterAck", 4, 4, parse_word, build_word),
	D(SK_DIALED_NUMBER, "DialedNumber", SKINNY_DN_LEN, 33, parse_dialed,
	    build_dialed),
	D(SK_CALLINFO_V2, "CallInfoV2", SK_CI2_HEAD, 0, parse_callinfo2,
	    build_callinfo2),
};

static const struct sk_desc *
desc_find(uint32_t id)
{
	size_t	 i;

	for (i = 0; i < sizeof(descs) / sizeof(descs[0]); i++)
		if (descs[i].id == id)
			return &descs[i];
	return NULL;
}

/* "Register", "OpenReceiveChannel", ... or NULL (spec 5). */
const char *
skinny_name(uint32_t id)
{
	const struct sk_desc	*d = desc_find(id);

	return d == NULL ? NULL : d->name;
}

/*
 * Framing (spec 2): see skinny.h.  Needs the 8 bytes of length and
 * header version before it decides.
 */
int
skinny_frame(const uint8_t *p, size_t n, size_t *total, const char **why)
{
	struct cursor	 c;
	uint32_t	 len;

	if (why != NULL)
		*why = NULL;
	if (n < 8)
		return 0;
	cur_init(&c, p, n);
	len = cur_u32le(&c);
	if (len < 4) {
		if (why != NULL)
			*why = "length under 4 (spec 2)";
		return uc_fail(UC_ERR_FORMAT, "Skinny frame: length %u under "
		    "4 (spec 2)", len);
	}
	if (len > SKINNY_MSG_MAX - 8) {
		if (why != NULL)
			*why = "message over the size cap (spec 2 step 2)";
		return uc_fail(UC_ERR_FORMAT, "Skinny frame: length %u, over "
		    "the %d-byte cap (spec 2 step 2)", len, SKINNY_MSG_MAX);
	}
	if (n - 8 < len)
		return 0;
	*total = (size_t)len + 8;
	return 1;
}

/* The header (spec 2): fills id, hdr_version, payload_len and pl. */
static int
parse_header(const uint8_t *buf, size_t len, struct skinny_msg *m,
    struct cursor *pl)
{
	struct cursor	 c;
	uint32_t	 length;

	cur_init(&c, buf, len);
	length = cur_u32le(&c);
	m->hdr_version = cur_u32le(&c);
	m->id = cur_u32le(&c);
	if (!cur_ok(&c))
		return uc_fail(UC_ERR_TRUNCATED, "Skinny message of %zu "
		    "bytes: shorter than the %d-byte header (spec 2)", len,
		    SKINNY_HDR_LEN);
	if (length < 4 || length > SKINNY_MSG_MAX - 8)
		return uc_fail(UC_ERR_FORMAT, "Skinny message at offset 0: "
		    "length %u, not within 4..%d (spec 2)", length,
		    SKINNY_MSG_MAX - 8);
	m->payload_len = length - 4;
	if (!cur_sub(&c, m->payload_len, pl))
		return uc_fail(UC_ERR_TRUNCATED, "Skinny message at offset 0: "
		    "length %u needs %u bytes, %zu given (spec 2)", length,
		    length + 8, len);
	return 0;
}

/* Run d's parser over a zero-filled copy (or the raw payload). */
static int
parse_body(const struct sk_desc *d, struct cursor *pl, int v,
    struct skinny_msg *m)
{
	uint8_t		 pad[SK_PAD_MAX];
	struct cursor	 f;
	size_t		 n;
	int		 rc;

	if (m->payload_len < d->min)
		return uc_fail(UC_ERR_TRUNCATED, "%zu payload bytes, the "
		    "fixed part needs %u (spec 2, 5)", m->payload_len, d->min);
	if (d->full == 0)
		return d->parse(pl, v, m->payload_len, m);
	n = m->payload_len < d->full ? m->payload_len : d->full;
	memset(pad, 0, d->full);
	if (!cur_copy(pl, pad, n))
		rc = uc_fail(UC_ERR_INTERNAL, "payload copy failed");
	else {
		cur_init(&f, pad, d->full);
		rc = d->parse(&f, v, m->payload_len, m);
		if (rc == 0 && !cur_ok(&f))
			rc = uc_fail(UC_ERR_INTERNAL, "layout over %u bytes",
			    d->full);
	}
	OPENSSL_cleanse(pad, n);	/* may hold a key block */
	return rc;
}

/*
 * Parse one framed message at negotiated version v; see skinny.h.  On
 * failure the union is wiped and id/hdr_version/payload_len stay set
 * when the header was readable.
 */
int
skinny_parse(const uint8_t *buf, size_t len, int v, struct skinny_msg *m)
{
	const struct sk_desc	*d;
	struct cursor		 pl;
	char			 what[80];
	int			 rc;

	memset(m, 0, sizeof(*m));
	if (v < 0)
		return uc_fail(UC_ERR_ARG, "Skinny parse: version %d", v);
	if ((rc = parse_header(buf, len, m, &pl)) != 0)
		return rc;
	if ((d = desc_find(m->id)) == NULL)
		return 0;
	if ((rc = parse_body(d, &pl, v, m)) != 0) {
		OPENSSL_cleanse(&m->u, sizeof(m->u));
		snprintf(what, sizeof(what), "Skinny %s (0x%04x) at V %d",
		    d->name, m->id, v);
		uc_prefix(what);
	}
	return rc;
}

/* Refuse a key block the connection may not carry (spec 7.1, 7.2,
   10): without keys_ok, or below SKINNY_VERSION_SECURE. */
static int
check_keys(const struct skinny_msg *m, int v, int keys_ok)
{
	if (m->id != SK_ORC && m->id != SK_SMT)
		return 0;
	if (keyinfo_empty(&m->u.media.key))
		return 0;
	if (v < SKINNY_VERSION_SECURE)
		return uc_fail(UC_ERR_POLICY, "key block (algorithm %u) at "
		    "V %d: keys need V >= %d (spec 7.2)", m->u.media.key.alg,
		    v, SKINNY_VERSION_SECURE);
	if (keys_ok)
		return 0;
	return uc_fail(UC_ERR_POLICY, "key block (algorithm %u) on a "
	    "connection not cleared for keys (spec 7.1 rule 1)",
	    m->u.media.key.alg);
}

/* A version the builder writes: 0 (before registration) or one that
   skinny_version_choose picks (spec 3, errata 13.1). */
static int
check_version(int v)
{
	if (v < 0 || v > SKINNY_VERSION_CAP)
		return uc_fail(UC_ERR_ARG, "version %d, not within 0..%d "
		    "(spec 3)", v, SKINNY_VERSION_CAP);
	if (v != skinny_version_choose(v))
		return uc_fail(UC_ERR_ARG, "version %d is never negotiated: "
		    "a phone announcing it gets V %d (spec 3, errata 13.1)",
		    v, skinny_version_choose(v));
	return 0;
}

/* Header and payload into t; the length word is patched last. */
static int
build_into(struct wbuf *t, const struct sk_desc *d, int v,
    const struct skinny_msg *m)
{
	uint32_t	 len;
	int		 rc;

	wbuf_u32le(t, 0);
	wbuf_u32le(t, skinny_hdr_version(m->id, v));
	wbuf_u32le(t, m->id);
	if ((rc = d->build(t, v, m)) != 0)
		return rc;
	if (!wbuf_ok(t))
		return uc_fail(UC_ERR_ALLOC, "message over %d bytes or out "
		    "of memory", SKINNY_MSG_MAX);
	len = (uint32_t)(t->len - 8);
	t->data[0] = len & 0xff;
	t->data[1] = (len >> 8) & 0xff;
	t->data[2] = (len >> 16) & 0xff;
	t->data[3] = len >> 24;
	return 0;
}

/*
 * Append one message in version v's layout; see skinny.h.  Nothing is
 * appended on failure (the message is built aside first).
 */
int
skinny_build(struct wbuf *wb, int v, const struct skinny_msg *m,
    int keys_ok)
{
	const struct sk_desc	*d = NULL;
	struct wbuf		 t;
	char			 what[80];
	int			 rc;

	wbuf_init(&t, SKINNY_MSG_MAX);
	if ((rc = check_version(v)) != 0)
		goto out;
	if ((d = desc_find(m->id)) == NULL) {
		rc = uc_fail(UC_ERR_UNSUPPORTED, "message id not built "
		    "(spec 5)");
		goto out;
	}
	if ((rc = check_keys(m, v, keys_ok)) != 0 ||
	    (rc = build_into(&t, d, v, m)) != 0)
		goto out;
	wbuf_put(wb, t.data, t.len);
	if (!wbuf_ok(wb))
		rc = uc_fail(UC_ERR_ALLOC, "output buffer full or out of "
		    "memory");
out:
	wbuf_free(&t);
	if (rc != 0) {
		snprintf(what, sizeof(what), "Skinny build %s (0x%04x) at "
		    "V %d", d == NULL ? "?" : d->name, m->id, v);
		uc_prefix(what);
	}
	return rc;
}

/*
 * The version used with a phone announcing max (spec 3, errata 13.1):
 * 17 and up -> 17; 15, 16 as is; 12-14 -> 11; 10, 11 and below as is.
 */
int
skinny_version_choose(int max)
{
	if (max >= SKINNY_VERSION_CAP)
		return SKINNY_VERSION_CAP;
	if (max >= 15)
		return max;
	if (max >= 12)
		return 11;
	return max < 0 ? 0 : max;
}

/* Header version (spec 2.1): 0 below V10 and for the three acks. */
uint32_t
skinny_hdr_version(uint32_t id, int v)
{
	if (id == SK_KEEPALIVE_ACK || id == SK_REGISTER_ACK ||
	    id == SK_UNREGISTER_ACK || v < SK_V_HDR)
		return 0;
	return (uint32_t)v;
}

/* enum srtp_suite for an algorithm id (6.17); -1 for none/F8/unknown. */
int
skinny_alg_suite(uint32_t alg)
{
	switch (alg) {
	case SK_ALG_AES_CM_128_HMAC_SHA1_32:
		return SUITE_AES_CM_128_HMAC_SHA1_32;
	case SK_ALG_AES_CM_128_HMAC_SHA1_80:
		return SUITE_AES_CM_128_HMAC_SHA1_80;
	}
	return -1;
}

/* Algorithm id for an srtp suite; SK_ALG_NONE if SCCP cannot carry it. */
uint32_t
skinny_suite_alg(int suite)
{
	switch (suite) {
	case SUITE_AES_CM_128_HMAC_SHA1_32:
		return SK_ALG_AES_CM_128_HMAC_SHA1_32;
	case SUITE_AES_CM_128_HMAC_SHA1_80:
		return SK_ALG_AES_CM_128_HMAC_SHA1_80;
	}
	return SK_ALG_NONE;
}

/*
 * Fill k from key || salt (16 + 14 bytes) for algorithm 1 or 2 (6.17).
 * Returns 0, or UC_ERR_ARG (k wiped) for another id or length.
 */
int
skinny_keyinfo_set(struct skinny_keyinfo *k, uint32_t alg,
    const uint8_t *keysalt, size_t len)
{
	skinny_keyinfo_wipe(k);
	if (skinny_alg_suite(alg) < 0 || keysalt == NULL ||
	    len != SKINNY_KEY_LEN + SK_SALT_USED)
		return uc_fail(UC_ERR_ARG, "Skinny EncryptionInfo: algorithm "
		    "%u with %zu key bytes; need id 1 or 2 and %d + %d bytes "
		    "(spec 6.17)", alg, len, SKINNY_KEY_LEN, SK_SALT_USED);
	k->alg = alg;
	k->keylen = SKINNY_KEY_LEN;
	k->saltlen = SK_SALT_USED;
	memcpy(k->key, keysalt, SKINNY_KEY_LEN);
	memcpy(k->salt, keysalt + SKINNY_KEY_LEN, SK_SALT_USED);
	return 0;
}

/* Zero a key block; accepts NULL. */
void
skinny_keyinfo_wipe(struct skinny_keyinfo *k)
{
	if (k != NULL)
		OPENSSL_cleanse(k, sizeof(*k));
}

/* Wipe the key block of an ORC or SMT; accepts NULL. */
void
skinny_msg_wipe(struct skinny_msg *m)
{
	if (m != NULL && (m->id == SK_ORC || m->id == SK_SMT))
		skinny_keyinfo_wipe(&m->u.media.key);
}
