/*
 * libFuzzer harness for the SCCP codec (lib/skinny.c): the input is a
 * Skinny byte stream.  Each message skinny_frame finds is parsed at
 * V 0, 11, 16, 17 and 22; what parses is checked against the skinny.h
 * contract (payload length, NUL-terminated text), built again with
 * keys_ok set (and refused without it when it carries a key block) at
 * the version a server would choose (V 22 is refused, built at 17),
 * framed and parsed back at that version: the fields must be those of
 * the first parse after the builder's documented normalisations (char[N]
 * text cut to N-1 characters, CallInfoV2 strings kept whole, an
 * algorithm-0 key block zeroed).  The only build failures allowed are an
 * IPv6 ack address below V17 and a key block below V11.
 */
#include <sys/socket.h>

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "skinny.h"
#include "uerr.h"
#include "wbuf.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define CHECK(x)	do { if (!(x)) abort(); } while (0)
#define FRAMES_MAX	16	/* messages looked at per input */

static const int	 versions[] = { 0, 11, 16, 17, 22 };

/* fn(s, width, size) for each text field of m's member at V v. */
static void
each_string(struct skinny_msg *m, int v, void (*fn)(char *, size_t, size_t))
{
#define S(f, w)	fn(m->u.f, (w), sizeof(m->u.f))
	switch (m->id) {
	case SK_REGISTER:
		S(reg.name, SKINNY_NAME_LEN);
		S(reg.load_info, 32);
		break;
	case SK_REGISTER_ACK:
		S(reg_ack.date_template, 6);
		break;
	case SK_REGISTER_REJECT:
		S(reject.text, 32);
		break;
	case SK_ALARM:
		S(alarm.text, 80);
		break;
	case SK_CALLINFO:
	case SK_CALLINFO_V2:
		S(callinfo.calling_name, SKINNY_PARTYNAME_LEN);
		S(callinfo.calling, SKINNY_DN_LEN);
		S(callinfo.called_name, SKINNY_PARTYNAME_LEN);
		S(callinfo.called, SKINNY_DN_LEN);
		break;
	case SK_LINESTAT:
		S(linestat.dn, SKINNY_DN_LEN);
		S(linestat.display, SKINNY_PARTYNAME_LEN);
		break;
	case SK_CONFIGSTAT:
		S(configstat.name, SKINNY_NAME_LEN);
		break;
	case SK_DIALED_NUMBER:			/* char[25] from V18 */
		S(dialed.dn, v >= 18 ? SKINNY_DN_LEN + 1 : SKINNY_DN_LEN);
		break;
	case SK_DISPLAY_PROMPT:
		S(prompt.text, 32);
		break;
	}
#undef S
}

/* Parsed text: terminated inside its array, at most width long. */
static void
check_str(char *s, size_t width, size_t size)
{
	CHECK(size > width && strnlen(s, size) <= width);
}

/* What the builder sends: at most width - 1 characters (spec 0). */
static void
cut_str(char *s, size_t width, size_t size)
{
	size_t	 n = strnlen(s, size);

	if (n > width - 1)
		memset(s + width - 1, 0, n - (width - 1));
}

static int
is_media(const struct skinny_msg *m)
{
	return m->id == SK_ORC || m->id == SK_SMT;
}

static int
key_empty(const struct skinny_keyinfo *k)
{
	static const uint8_t	 z[SKINNY_KEY_LEN + SKINNY_SALT_LEN];

	return k->alg == 0 && memcmp(k->key, z, SKINNY_KEY_LEN) == 0 &&
	    memcmp(k->salt, z, SKINNY_SALT_LEN) == 0;
}

/* The fields m rebuilt at v must parse back to (CallInfoV2 strings are
   packed: written whole). */
static void
expect(struct skinny_msg *e, int v)
{
	if (e->id != SK_CALLINFO_V2)
		each_string(e, v, cut_str);
	if (is_media(e) && e->u.media.key.alg == 0)
		skinny_keyinfo_wipe(&e->u.media.key);
}

/* Build m at v (a chosen version); refused without keys_ok, or below
   V11, when it carries keys. */
static int
rebuild(const struct skinny_msg *m, int v, struct wbuf *b)
{
	struct wbuf	 nk;
	int		 rc, keys = is_media(m) && !key_empty(&m->u.media.key);

	wbuf_init(b, SKINNY_MSG_MAX);
	if (keys) {
		wbuf_init(&nk, SKINNY_MSG_MAX);
		CHECK(skinny_build(&nk, v, m, 0) == UC_ERR_POLICY);
		CHECK(nk.len == 0);
		wbuf_free(&nk);
	}
	rc = skinny_build(b, v, m, 1);
	if (rc != 0) {
		CHECK(b->len == 0 && uc_errdetail()[0] != '\0');
		CHECK((rc == UC_ERR_UNSUPPORTED && v < 17 &&
		    (m->id == SK_ORC_ACK || m->id == SK_SMT_ACK) &&
		    m->u.media_ack.addr.family == AF_INET6) ||
		    (rc == UC_ERR_POLICY && keys && v < SKINNY_VERSION_SECURE));
	}
	return rc;
}

static void
check_one(const uint8_t *p, size_t len, int v)
{
	struct skinny_msg	 m, e, r;
	struct wbuf		 b;
	size_t			 total = 0;
	int			 bv = skinny_version_choose(v);

	if (skinny_parse(p, len, v, &m) != 0) {
		CHECK(uc_errdetail()[0] != '\0');
		return;
	}
	CHECK(m.payload_len == len - SKINNY_HDR_LEN);
	if (skinny_name(m.id) == NULL)
		return;			/* unknown: skipped (spec 2 step 5) */
	each_string(&m, v, check_str);
	if (bv != v) {			/* never negotiated: not built */
		wbuf_init(&b, SKINNY_MSG_MAX);
		CHECK(skinny_build(&b, v, &m, 1) == UC_ERR_ARG && b.len == 0);
		wbuf_free(&b);
	}
	if (rebuild(&m, bv, &b) == 0) {
		CHECK(skinny_frame(b.data, b.len, &total, NULL) == 1);
		CHECK(total == b.len);
		CHECK(skinny_parse(b.data, b.len, bv, &r) == 0);
		CHECK(r.id == m.id);
		CHECK(r.hdr_version == skinny_hdr_version(m.id, bv));
		e = m;
		expect(&e, bv);
		CHECK(memcmp(&r.u, &e.u, sizeof(e.u)) == 0);
		skinny_msg_wipe(&r);
		skinny_msg_wipe(&e);
	}
	skinny_msg_wipe(&m);
	wbuf_free(&b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct skinny_msg	 t;
	const char		*why;
	size_t			 off = 0, total, i, n;
	int			 rc;

	for (n = 0; n < FRAMES_MAX && off < len; n++) {
		total = 0;
		rc = skinny_frame(data + off, len - off, &total, &why);
		if (rc < 0) {
			CHECK(rc == UC_ERR_FORMAT && why != NULL);
			break;
		}
		if (rc == 0) {		/* incomplete: the parser agrees */
			CHECK(skinny_parse(data + off, len - off, 17, &t) ==
			    UC_ERR_TRUNCATED);
			break;
		}
		CHECK(total >= SKINNY_HDR_LEN && total <= len - off &&
		    total <= SKINNY_MSG_MAX);
		for (i = 0; i < sizeof(versions) / sizeof(versions[0]); i++)
			check_one(data + off, total, versions[i]);
		off += total;
	}
	return 0;
}
