/*
 * Suite "skinny": the SCCP codec (lib/skinny.c) against
 * ../shared/specs/sccp-security.md: the 7.3 worked example byte for
 * byte, the OpenReceiveChannel counterpart, every size of section 11
 * (and the other fixed layouts) at V 10/11/15/16/17, header versions
 * (2.1), Register by payload length (6.2, 3), framing (2), unknown ids,
 * the keys_ok rule (7.1), round trips of every id, version choice (3,
 * errata 13.1), and truncations and byte flips of every message.
 */
#include <sys/socket.h>

#include <stdlib.h>
#include <string.h>

#include "sdes.h"
#include "skinny.h"
#include "unit.h"
#include "wbuf.h"

static const uint32_t	 all_ids[] = {
	SK_KEEPALIVE, SK_REGISTER, SK_KEYPAD_BUTTON, SK_OFFHOOK, SK_ONHOOK,
	SK_LINESTAT_REQ, SK_CONFIGSTAT_REQ, SK_TIMEDATE_REQ,
	SK_BUTTONTEMPLATE_REQ, SK_CAPABILITIES_RES, SK_ALARM, SK_ORC_ACK,
	SK_SOFTKEYSET_REQ, SK_SOFTKEY_EVENT, SK_UNREGISTER,
	SK_SOFTKEYTEMPLATE_REQ, SK_REGISTER_AVAILABLE_LINES, SK_SMT_ACK,
	SK_REGISTER_ACK, SK_START_TONE, SK_STOP_TONE, SK_SET_RINGER,
	SK_SET_LAMP, SK_SET_SPEAKER, SK_SMT, SK_STOP_MEDIA, SK_CALLINFO,
	SK_LINESTAT, SK_CONFIGSTAT, SK_DEFINE_TIMEDATE, SK_BUTTONTEMPLATE,
	SK_CAPABILITIES_REQ, SK_REGISTER_REJECT, SK_RESET, SK_KEEPALIVE_ACK,
	SK_ORC, SK_CLOSE_RECEIVE, SK_SOFTKEYTEMPLATE_RES, SK_SOFTKEYSET_RES,
	SK_SELECT_SOFTKEYS, SK_CALLSTATE, SK_DISPLAY_PROMPT,
	SK_ACTIVATE_CALLPLANE, SK_UNREGISTER_ACK, SK_DIALED_NUMBER,
	SK_CALLINFO_V2,
};
#define NIDS	(sizeof(all_ids) / sizeof(all_ids[0]))

static const int	 versions[] = { 0, 10, 11, 15, 16, 17 };
#define NVERSIONS (sizeof(versions) / sizeof(versions[0]))

/* Spec 7.3: V17 StartMediaTransmission to phone A. */
static const uint8_t	 smt_example[] = {
	0x88, 0x00, 0x00, 0x00, 0x11, 0x00, 0x00, 0x00,
	0x8a, 0x00, 0x00, 0x00, 0x01, 0x10, 0x00, 0x00,
	0x51, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
	0xc0, 0x00, 0x02, 0x14, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x04, 0x60, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00,
	0x04, 0x00, 0x00, 0x00, 0xb8, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x01, 0x10, 0x00, 0x00,
	0x01, 0x00, 0x00, 0x00, 0x10, 0x00, 0x0e, 0x00,
	0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17,
	0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
	0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27,
	0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x65, 0x00, 0x00, 0x00, 0x0a, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
};

static uint32_t
le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

static void
set_le32(uint8_t *p, uint32_t v)
{
	p[0] = v & 0xff;
	p[1] = (v >> 8) & 0xff;
	p[2] = (v >> 16) & 0xff;
	p[3] = v >> 24;
}

/* K_ab || S_ab of the 7.3 example. */
static void
example_keysalt(uint8_t ks[30])
{
	int	 i;

	for (i = 0; i < 30; i++)
		ks[i] = (uint8_t)(i < 16 ? 0x10 + i : 0x20 + i - 16);
}

static void
set_ip4(struct skinny_addr *a, uint8_t a0, uint8_t a1, uint8_t a2,
    uint8_t a3)
{
	memset(a, 0, sizeof(*a));
	a->family = AF_INET;
	a->ip[0] = a0;
	a->ip[1] = a1;
	a->ip[2] = a2;
	a->ip[3] = a3;
}

/* The media part of the 7.3 example (SMT to A; ORC uses the same). */
static void
fill_media(struct skinny_msg *m)
{
	uint8_t	 ks[30];

	m->u.media.conf_id = 0x1001;
	m->u.media.party_id = 0x01000051;
	m->u.media.callref = 0x1001;
	m->u.media.ms = 20;
	m->u.media.codec = SK_CODEC_G711_ULAW;
	if (m->id == SK_SMT)
		m->u.media.precedence = 0xb8;
	set_ip4(&m->u.media.addr, 192, 0, 2, 20);
	m->u.media.port = 24580;
	m->u.media.rfc2833_pt = 101;
	example_keysalt(ks);
	CU_ASSERT_EQUAL(skinny_keyinfo_set(&m->u.media.key,
	    SK_ALG_AES_CM_128_HMAC_SHA1_32, ks, sizeof(ks)), 0);
}

static void
fill_more(struct skinny_msg *m, int v)
{
	switch (m->id) {
	case SK_CAPABILITIES_RES:
		m->u.caps.count = 2;
		m->u.caps.cap[0].codec = SK_CODEC_G711_ULAW;
		m->u.caps.cap[0].ms = 40;
		m->u.caps.cap[1].codec = SK_CODEC_G729;
		m->u.caps.cap[1].ms = 60;
		break;
	case SK_ALARM:
		m->u.alarm.severity = 2;
		strcpy(m->u.alarm.text, "Name=SEP001122334455 Load=x");
		m->u.alarm.p1 = 1;
		m->u.alarm.p2 = 0xc000020a;
		break;
	case SK_ORC_ACK:
	case SK_SMT_ACK:
		m->u.media_ack.status = 0;
		set_ip4(&m->u.media_ack.addr, 192, 0, 2, 30);
		m->u.media_ack.port = 16384;
		m->u.media_ack.party_id = 0x51;
		m->u.media_ack.callref = 0x1001;
		break;
	case SK_STOP_TONE:
	case SK_START_TONE:
		m->u.tone.tone = m->id == SK_STOP_TONE && v < 11 ? 0 :
		    SK_TONE_DIAL;
		m->u.tone.direction = m->id == SK_START_TONE ? 1 : 0;
		m->u.tone.line = 1;
		m->u.tone.callref = 0x1001;
		break;
	case SK_CALLINFO:
	case SK_CALLINFO_V2:
		strcpy(m->u.callinfo.calling_name, "Alice");
		strcpy(m->u.callinfo.calling, "1001");
		strcpy(m->u.callinfo.called_name, "Bob");
		strcpy(m->u.callinfo.called, "1002");
		m->u.callinfo.line = 1;
		m->u.callinfo.callref = 0x1001;
		m->u.callinfo.call_type = 2;
		m->u.callinfo.security = SK_SEC_ENCRYPTED;
		break;
	case SK_SMT:
	case SK_ORC:
		fill_media(m);
		if (v < SKINNY_VERSION_SECURE)	/* keys need V11 (7.2) */
			skinny_keyinfo_wipe(&m->u.media.key);
		break;
	}
}

/* Sample values for every field id carries at V. */
static void
fill(struct skinny_msg *m, uint32_t id, int v)
{
	memset(m, 0, sizeof(*m));
	m->id = id;
	switch (id) {
	case SK_REGISTER:
		strcpy(m->u.reg.name, "SEP001122334455");
		m->u.reg.instance = 1;
		m->u.reg.ip4[0] = 192;
		m->u.reg.ip4[2] = 2;
		m->u.reg.ip4[3] = 10;
		m->u.reg.device_type = 404;
		m->u.reg.max_streams = 5;
		m->u.reg.active_streams = 1;
		m->u.reg.proto_version = 22;
		m->u.reg.features = 0x0090;
		m->u.reg.max_lines = 2;
		strcpy(m->u.reg.load_info, "SCCP42.9-4-2SR3-1S");
		break;
	case SK_REGISTER_ACK:
		m->u.reg_ack.keepalive = 30;
		m->u.reg_ack.keepalive2 = 30;
		strcpy(m->u.reg_ack.date_template, "D.M.Y");
		m->u.reg_ack.proto_version = (uint8_t)v;
		break;
	case SK_REGISTER_REJECT:
		strcpy(m->u.reject.text, "Unknown device");
		break;
	case SK_KEYPAD_BUTTON:
		m->u.simple.button = 0x0f;
		/* FALLTHROUGH */
	case SK_OFFHOOK:
	case SK_ONHOOK:
		m->u.simple.line = 1;
		m->u.simple.callref = 0x1001;
		break;
	case SK_LINESTAT_REQ:
	case SK_ACTIVATE_CALLPLANE:
		m->u.simple.line = 1;
		break;
	case SK_UNREGISTER:
	case SK_REGISTER_AVAILABLE_LINES:
	case SK_UNREGISTER_ACK:
	case SK_RESET:
	case SK_SET_SPEAKER:
		m->u.simple.button = 2;
		break;
	case SK_SOFTKEY_EVENT:
	case SK_SELECT_SOFTKEYS:
		m->u.softkey.event = SK_SOFTKEY_HOLD;
		m->u.softkey.line = 1;
		m->u.softkey.callref = 0x1001;
		break;
	case SK_BUTTONTEMPLATE:
		m->u.buttons.lines = 2;
		break;
	case SK_SET_RINGER:
		m->u.ringer.mode = 2;
		m->u.ringer.duration = 1;
		m->u.ringer.line = 1;
		m->u.ringer.callref = 0x1001;
		break;
	case SK_SET_LAMP:
		m->u.lamp.stimulus = 9;
		m->u.lamp.instance = 1;
		m->u.lamp.mode = 5;
		break;
	case SK_STOP_MEDIA:
	case SK_CLOSE_RECEIVE:
		m->u.stop.conf_id = 0x1001;
		m->u.stop.party_id = 0x01000051;
		m->u.stop.callref = 0x1001;
		m->u.stop.port_handling = 1;
		break;
	case SK_LINESTAT:
		m->u.linestat.line = 1;
		strcpy(m->u.linestat.dn, "1001");
		strcpy(m->u.linestat.display, "Alice");
		break;
	case SK_CONFIGSTAT:
		strcpy(m->u.configstat.name, "SEP001122334455");
		m->u.configstat.lines = 1;
		break;
	case SK_DEFINE_TIMEDATE:
		m->u.timedate.year = 2024;
		m->u.timedate.month = 5;
		m->u.timedate.dow = 5;
		m->u.timedate.day = 17;
		m->u.timedate.hour = 12;
		m->u.timedate.minute = 30;
		m->u.timedate.second = 15;
		m->u.timedate.ms = 250;
		m->u.timedate.systime = 1715949015;
		break;
	case SK_CALLSTATE:
		m->u.callstate.state = SK_CS_CONNECTED;
		m->u.callstate.line = 1;
		m->u.callstate.callref = 0x1001;
		break;
	case SK_DISPLAY_PROMPT:
		m->u.prompt.timeout = 10;
		strcpy(m->u.prompt.text, "Secure call");
		m->u.prompt.line = 1;
		m->u.prompt.callref = 0x1001;
		break;
	case SK_DIALED_NUMBER:
		strcpy(m->u.dialed.dn, "1002");
		m->u.dialed.line = 1;
		m->u.dialed.callref = 0x1001;
		break;
	default:
		fill_more(m, v);
		break;
	}
}

/* Build m at v into a fresh buffer; returns the skinny_build code. */
static int
build(struct wbuf *b, int v, const struct skinny_msg *m, int keys_ok)
{
	wbuf_init(b, 2 * SKINNY_MSG_MAX);
	return skinny_build(b, v, m, keys_ok);
}

/* A copy of a built message cut (or padded with zeros) to plen payload
   bytes, its length word fixed; caller frees. */
static uint8_t *
reframe(const uint8_t *msg, size_t len, size_t plen)
{
	uint8_t	*p;

	if ((p = calloc(1, SKINNY_HDR_LEN + plen + 1)) == NULL)
		return NULL;
	memcpy(p, msg, len < SKINNY_HDR_LEN + plen ? len :
	    SKINNY_HDR_LEN + plen);
	set_le32(p, (uint32_t)(plen + 4));
	return p;
}

static void
test_worked_example_smt_byte_for_byte(void)
{
	struct skinny_msg	 m, r;
	struct wbuf		 b;
	size_t			 total = 0;

	fill(&m, SK_SMT, 17);
	CU_ASSERT_EQUAL_FATAL(build(&b, 17, &m, 1), 0);
	CU_ASSERT_EQUAL(b.len, sizeof(smt_example));
	if (b.len == sizeof(smt_example) &&
	    memcmp(b.data, smt_example, b.len) != 0) {
		CU_FAIL("7.3 example differs");
		fprintf(stderr, "got  %s\n", unit_hex(b.data, b.len));
	}
	wbuf_free(&b);

	CU_ASSERT_EQUAL(skinny_frame(smt_example, sizeof(smt_example),
	    &total, NULL), 1);
	CU_ASSERT_EQUAL(total, sizeof(smt_example));
	CU_ASSERT_EQUAL_FATAL(skinny_parse(smt_example, sizeof(smt_example),
	    17, &r), 0);
	CU_ASSERT_EQUAL(r.hdr_version, 17);
	CU_ASSERT_EQUAL(r.payload_len, 132);
	CU_ASSERT_EQUAL(memcmp(&r.u.media, &m.u.media, sizeof(m.u.media)), 0);
	CU_ASSERT_EQUAL(skinny_alg_suite(r.u.media.key.alg),
	    SUITE_AES_CM_128_HMAC_SHA1_32);
	skinny_msg_wipe(&r);
	skinny_msg_wipe(&m);
	CU_ASSERT_EQUAL(r.u.media.key.key[0], 0);
	CU_ASSERT_EQUAL(r.u.media.key.alg, 0);
}

static void
test_orc_counterpart_layout(void)
{
	static const uint8_t	 tail[] = { 0x65, 0, 0, 0, 0x0a, 0, 0, 0 };
	struct skinny_msg	 m, r;
	struct wbuf		 b;
	const uint8_t		*p;

	fill(&m, SK_ORC, 17);
	CU_ASSERT_EQUAL_FATAL(build(&b, 17, &m, 1), 0);
	CU_ASSERT_EQUAL_FATAL(b.len, 0x84 + 8);
	p = b.data + SKINNY_HDR_LEN;
	CU_ASSERT_EQUAL(le32(b.data), 0x84);
	CU_ASSERT_EQUAL(le32(b.data + 4), 17);
	CU_ASSERT_EQUAL(le32(b.data + 8), SK_ORC);
	/* The same 48-byte block as the SMT, at payload 28 (wire 0x28). */
	CU_ASSERT_EQUAL(memcmp(b.data + 0x28, smt_example + 12 + 60, 48), 0);
	CU_ASSERT_EQUAL(memcmp(p + 84, tail, sizeof(tail)), 0);
	CU_ASSERT_EQUAL(le32(p + 76) | le32(p + 80), 0);
	CU_ASSERT_EQUAL(le32(p + 92) | le32(p + 96), 0);
	CU_ASSERT_EQUAL(le32(p + 100), 0);		/* addrType IPv4 */
	CU_ASSERT_EQUAL(memcmp(p + 104, "\xc0\x00\x02\x14", 4), 0);
	CU_ASSERT_EQUAL(le32(p + 120), 24580);
	CU_ASSERT_EQUAL(le32(p + 124), 0);		/* requestedIpAddrType */
	CU_ASSERT_EQUAL_FATAL(skinny_parse(b.data, b.len, 17, &r), 0);
	CU_ASSERT_EQUAL(memcmp(&r.u.media, &m.u.media, sizeof(m.u.media)), 0);
	wbuf_free(&b);

	/* V16: ip4, requestedIpAddrType at 108 (errata 13.2). */
	CU_ASSERT_EQUAL_FATAL(build(&b, 16, &m, 1), 0);
	CU_ASSERT_EQUAL_FATAL(b.len, 12 + 112);
	p = b.data + SKINNY_HDR_LEN;
	CU_ASSERT_EQUAL(memcmp(p + 100, "\xc0\x00\x02\x14", 4), 0);
	CU_ASSERT_EQUAL(le32(p + 104), 24580);
	CU_ASSERT_EQUAL(le32(p + 108), 0);
	CU_ASSERT_EQUAL(memcmp(p + 28, smt_example + 12 + 60, 48), 0);
	wbuf_free(&b);
}

/* Payload size of id built at v (fill's sample values). */
static size_t
built_payload(uint32_t id, int v)
{
	struct skinny_msg	 m;
	struct wbuf		 b;
	size_t			 n = 0;

	fill(&m, id, v);
	if (build(&b, v, &m, 1) == 0 && b.len >= SKINNY_HDR_LEN) {
		n = b.len - SKINNY_HDR_LEN;
		CU_ASSERT_EQUAL(le32(b.data), n + 4);
	} else
		CU_FAIL("build failed");
	wbuf_free(&b);
	return n;
}

static void
test_sizes_per_version(void)
{
	static const struct {
		uint32_t	 id;
		size_t		 sz[NVERSIONS];	/* V 0, 10, 11, 15, 16, 17 */
	} t[] = {
		{ SK_REGISTER_ACK, { 20, 20, 20, 20, 20, 20 } },
		{ SK_ORC, { 108, 108, 108, 108, 112, 128 } },
		{ SK_ORC_ACK, { 20, 20, 20, 20, 20, 36 } },
		{ SK_SMT, { 116, 116, 116, 116, 116, 132 } },
		{ SK_SMT_ACK, { 24, 24, 24, 24, 24, 40 } },
		{ SK_STOP_MEDIA, { 16, 16, 16, 16, 16, 16 } },
		{ SK_CLOSE_RECEIVE, { 16, 16, 16, 16, 16, 16 } },
		{ SK_CALLSTATE, { 24, 24, 24, 24, 24, 24 } },
		{ SK_CALLINFO, { 384, 384, 384, 384, 384, 384 } },
		{ SK_START_TONE, { 16, 16, 16, 16, 16, 16 } },
		{ SK_STOP_TONE, { 8, 8, 12, 12, 12, 12 } },
		{ SK_KEEPALIVE, { 0, 0, 0, 0, 0, 0 } },
		{ SK_KEEPALIVE_ACK, { 0, 0, 0, 0, 0, 0 } },
		{ SK_DIALED_NUMBER, { 32, 32, 32, 32, 32, 32 } },
		{ SK_BUTTONTEMPLATE, { 96, 96, 96, 96, 96, 96 } },
		{ SK_SOFTKEYTEMPLATE_RES, { 652, 652, 652, 652, 652, 652 } },
		{ SK_SOFTKEYSET_RES, { 780, 780, 780, 780, 780, 780 } },
		{ SK_REGISTER, { 172, 172, 172, 172, 172, 172 } },
		{ SK_REGISTER_REJECT, { 32, 32, 32, 32, 32, 32 } },
		{ SK_CAPABILITIES_RES, { 292, 292, 292, 292, 292, 292 } },
		{ SK_ALARM, { 92, 92, 92, 92, 92, 92 } },
		{ SK_LINESTAT, { 112, 112, 112, 112, 112, 112 } },
		{ SK_CONFIGSTAT, { 112, 112, 112, 112, 112, 112 } },
		{ SK_DEFINE_TIMEDATE, { 36, 36, 36, 36, 36, 36 } },
		{ SK_DISPLAY_PROMPT, { 44, 44, 44, 44, 44, 44 } },
		{ SK_SELECT_SOFTKEYS, { 16, 16, 16, 16, 16, 16 } },
		{ SK_SET_RINGER, { 16, 16, 16, 16, 16, 16 } },
		{ SK_SET_LAMP, { 12, 12, 12, 12, 12, 12 } },
		{ SK_SOFTKEY_EVENT, { 12, 12, 12, 12, 12, 12 } },
		{ SK_KEYPAD_BUTTON, { 12, 12, 12, 12, 12, 12 } },
		{ SK_OFFHOOK, { 8, 8, 8, 8, 8, 8 } },
		{ SK_UNREGISTER_ACK, { 4, 4, 4, 4, 4, 4 } },
		{ SK_CAPABILITIES_REQ, { 0, 0, 0, 0, 0, 0 } },
		/* 32-byte head, then 13 / 15 strings: "1001", "", "1002",
		   6 x "", "Alice", "Bob", 2 (4) x "". */
		{ SK_CALLINFO_V2, { 61, 61, 61, 61, 61, 63 } },
	};
	size_t	 i, k, got;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		for (k = 0; k < NVERSIONS; k++) {
			got = built_payload(t[i].id, versions[k]);
			if (got != t[i].sz[k]) {
				CU_FAIL("payload size");
				fprintf(stderr, "%s at V %d: %zu, want %zu\n",
				    skinny_name(t[i].id), versions[k], got,
				    t[i].sz[k]);
			}
		}
}

static void
test_header_versions(void)
{
	struct skinny_msg	 m;
	struct wbuf		 b;
	size_t			 i, k;
	uint32_t		 want;
	int			 v;

	for (i = 0; i < NIDS; i++)
		for (k = 0; k < NVERSIONS; k++) {
			v = versions[k];
			want = v >= 10 ? (uint32_t)v : 0;
			if (all_ids[i] == SK_KEEPALIVE_ACK ||
			    all_ids[i] == SK_REGISTER_ACK ||
			    all_ids[i] == SK_UNREGISTER_ACK)
				want = 0;
			CU_ASSERT_EQUAL(skinny_hdr_version(all_ids[i], v),
			    want);
			fill(&m, all_ids[i], v);
			CU_ASSERT_EQUAL_FATAL(build(&b, v, &m, 1), 0);
			CU_ASSERT_EQUAL(le32(b.data + 4), want);
			CU_ASSERT_EQUAL(le32(b.data + 8), all_ids[i]);
			wbuf_free(&b);
		}
	CU_ASSERT_EQUAL(skinny_hdr_version(SK_SMT, 9), 0);
	CU_ASSERT_EQUAL(skinny_hdr_version(SK_SMT, 5), 0);
}

static void
test_keepaliveack_and_registerack_bytes(void)
{
	static const uint8_t	 ka[] = { 0x04, 0, 0, 0, 0, 0, 0, 0, 0x00,
	    0x01, 0, 0 };
	static const struct {
		int	 v;
		uint8_t	 b[3];
	} feat[] = {
		{ 3, { 0, 0, 0 } }, { 5, { 0x20, 0xF1, 0xFE } },
		{ 10, { 0x20, 0xF1, 0xFE } }, { 11, { 0x20, 0xF1, 0xFF } },
		{ 17, { 0x20, 0xF1, 0xFF } },
	};
	struct skinny_msg	 m, r;
	struct wbuf		 b;
	size_t			 i;

	fill(&m, SK_KEEPALIVE_ACK, 17);
	CU_ASSERT_EQUAL_FATAL(build(&b, 17, &m, 0), 0);
	CU_ASSERT_EQUAL(b.len, sizeof(ka));
	CU_ASSERT_EQUAL(memcmp(b.data, ka, sizeof(ka)), 0);
	wbuf_free(&b);
	for (i = 0; i < sizeof(feat) / sizeof(feat[0]); i++) {
		fill(&m, SK_REGISTER_ACK, feat[i].v);
		CU_ASSERT_EQUAL_FATAL(build(&b, feat[i].v, &m, 0), 0);
		CU_ASSERT_EQUAL_FATAL(b.len, 32);
		CU_ASSERT_EQUAL(le32(b.data + 4), 0);
		CU_ASSERT_EQUAL(le32(b.data + 12), 30);
		CU_ASSERT_EQUAL(memcmp(b.data + 16, "D.M.Y\0\0\0", 8), 0);
		CU_ASSERT_EQUAL(b.data[28], feat[i].v);
		CU_ASSERT_EQUAL(memcmp(b.data + 29, feat[i].b, 3), 0);
		CU_ASSERT_EQUAL(skinny_parse(b.data, b.len, feat[i].v, &r), 0);
		CU_ASSERT_EQUAL(r.u.reg_ack.proto_version, feat[i].v);
		CU_ASSERT_STRING_EQUAL(r.u.reg_ack.date_template, "D.M.Y");
		wbuf_free(&b);
	}
}

static void
test_button_template_layout(void)
{
	struct skinny_msg	 m, r;
	struct wbuf		 b;
	const uint8_t		*p;
	int			 i;

	fill(&m, SK_BUTTONTEMPLATE, 17);
	m.u.buttons.lines = 3;
	CU_ASSERT_EQUAL_FATAL(build(&b, 17, &m, 0), 0);
	p = b.data + SKINNY_HDR_LEN;
	CU_ASSERT_EQUAL(le32(p), 0);
	CU_ASSERT_EQUAL(le32(p + 4), 3);
	CU_ASSERT_EQUAL(le32(p + 8), 3);
	for (i = 0; i < 42; i++) {
		CU_ASSERT_EQUAL(p[12 + 2 * i], i < 3 ? i + 1 : 0);
		CU_ASSERT_EQUAL(p[13 + 2 * i], i < 3 ? 0x09 : 0xFF);
	}
	CU_ASSERT_EQUAL(skinny_parse(b.data, b.len, 17, &r), 0);
	CU_ASSERT_EQUAL(r.u.buttons.lines, 3);
	wbuf_free(&b);
	m.u.buttons.lines = 43;
	UNIT_FAILS(build(&b, 17, &m, 0), UC_ERR_ARG, "43 line buttons");
	CU_ASSERT_EQUAL(b.len, 0);
	wbuf_free(&b);
}

static void
test_softkey_templates(void)
{
	struct skinny_msg	 m;
	struct wbuf		 b;
	const uint8_t		*p;
	const uint8_t		*set;

	fill(&m, SK_SOFTKEYTEMPLATE_RES, 17);
	CU_ASSERT_EQUAL_FATAL(build(&b, 17, &m, 0), 0);
	p = b.data + SKINNY_HDR_LEN;
	CU_ASSERT(le32(p + 4) >= 11 && le32(p + 4) == le32(p + 8));
	/* Slot i holds event i + 1 (index == event). */
	CU_ASSERT_STRING_EQUAL((const char *)p + 12, "Redial");
	CU_ASSERT_EQUAL(le32(p + 12 + 16), SK_SOFTKEY_REDIAL);
	CU_ASSERT_STRING_EQUAL((const char *)p + 12 + 20 *
	    (SK_SOFTKEY_HOLD - 1), "Hold");
	CU_ASSERT_EQUAL(le32(p + 12 + 20 * (SK_SOFTKEY_ANSWER - 1) + 16),
	    SK_SOFTKEY_ANSWER);
	wbuf_free(&b);

	fill(&m, SK_SOFTKEYSET_RES, 17);
	CU_ASSERT_EQUAL_FATAL(build(&b, 17, &m, 0), 0);
	p = b.data + SKINNY_HDR_LEN;
	CU_ASSERT_EQUAL(le32(p + 4), 5);
	set = p + 12 + 48 * 3;				/* Ring In */
	CU_ASSERT_EQUAL(set[0], SK_SOFTKEY_ANSWER);
	CU_ASSERT_EQUAL(set[16] | set[17] << 8, 300 + SK_SOFTKEY_ANSWER);
	set = p + 12 + 48 * 1;				/* Connected */
	CU_ASSERT_EQUAL(set[0], SK_SOFTKEY_HOLD);
	CU_ASSERT_EQUAL(set[1], SK_SOFTKEY_ENDCALL);
	CU_ASSERT_EQUAL(set[2], 0);
	set = p + 12 + 48 * 2;				/* On Hold */
	CU_ASSERT_EQUAL(set[0], SK_SOFTKEY_RESUME);
	set = p + 12 + 48 * 5;				/* unused */
	CU_ASSERT_EQUAL(set[0], 0);
	wbuf_free(&b);
}

static void
test_register_by_payload_length(void)
{
	static const struct {
		size_t		 plen;
		uint32_t	 active, lines;
		uint8_t		 version;
		int		 load;
	} t[] = {
		{ 36, 0, 0, 0, 0 }, { 41, 1, 0, 0, 0 }, { 43, 1, 0, 0, 0 },
		{ 44, 1, 0, 22, 0 }, { 68, 1, 0, 22, 0 }, { 124, 1, 2, 22, 1 },
		{ 172, 1, 2, 22, 1 },
	};
	struct skinny_msg	 m, r;
	struct wbuf		 b;
	uint8_t			*p;
	size_t			 i;

	fill(&m, SK_REGISTER, 0);
	CU_ASSERT_EQUAL_FATAL(build(&b, 0, &m, 0), 0);
	CU_ASSERT_EQUAL(memcmp(b.data + 12 + 52, "\x00\x11\x22\x33\x44\x55",
	    6), 0);					/* MAC from name */
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		p = reframe(b.data, b.len, t[i].plen);
		CU_ASSERT_PTR_NOT_NULL_FATAL(p);
		CU_ASSERT_EQUAL(skinny_parse(p, 12 + t[i].plen, 0, &r), 0);
		CU_ASSERT_STRING_EQUAL(r.u.reg.name, "SEP001122334455");
		CU_ASSERT_EQUAL(r.u.reg.device_type, 404);
		CU_ASSERT_EQUAL(r.u.reg.max_streams, 5);
		CU_ASSERT_EQUAL(memcmp(r.u.reg.ip4, "\xc0\x00\x02\x0a", 4), 0);
		CU_ASSERT_EQUAL(r.u.reg.active_streams, t[i].active);
		CU_ASSERT_EQUAL(r.u.reg.proto_version, t[i].version);
		CU_ASSERT_EQUAL(r.u.reg.features, t[i].version ? 0x90 : 0);
		CU_ASSERT_EQUAL(r.u.reg.max_lines, t[i].lines);
		CU_ASSERT_STRING_EQUAL(r.u.reg.load_info, t[i].load ?
		    "SCCP42.9-4-2SR3-1S" : "");
		CU_ASSERT_EQUAL(r.payload_len, t[i].plen);
		free(p);
	}
	p = reframe(b.data, b.len, 35);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	UNIT_FAILS(skinny_parse(p, 12 + 35, 0, &r), UC_ERR_TRUNCATED,
	    "Register");
	CU_ASSERT_EQUAL(r.id, SK_REGISTER);
	free(p);
	wbuf_free(&b);
}

static void
test_framing(void)
{
	uint8_t		 buf[SKINNY_MSG_MAX + 16];
	const char	*why = NULL;
	size_t		 total = 0, n;

	memset(buf, 0, sizeof(buf));
	memcpy(buf, smt_example, sizeof(smt_example));
	for (n = 0; n < sizeof(smt_example); n++)
		CU_ASSERT_EQUAL(skinny_frame(buf, n, &total, &why), 0);
	/* Two messages back to back: the first is framed alone. */
	memcpy(buf + sizeof(smt_example), smt_example, sizeof(smt_example));
	CU_ASSERT_EQUAL(skinny_frame(buf, 2 * sizeof(smt_example), &total,
	    &why), 1);
	CU_ASSERT_EQUAL(total, sizeof(smt_example));
	CU_ASSERT_PTR_NULL(why);

	for (n = 0; n < 4; n++) {
		set_le32(buf, (uint32_t)n);
		UNIT_FAILS(skinny_frame(buf, 8, &total, &why), UC_ERR_FORMAT,
		    "under 4");
		CU_ASSERT_PTR_NOT_NULL(why);
	}
	set_le32(buf, 4);			/* KeepAlive */
	CU_ASSERT_EQUAL(skinny_frame(buf, 12, &total, NULL), 1);
	CU_ASSERT_EQUAL(total, 12);
	set_le32(buf, SKINNY_MSG_MAX - 8);	/* exactly the cap */
	CU_ASSERT_EQUAL(skinny_frame(buf, SKINNY_MSG_MAX - 1, &total, NULL),
	    0);
	CU_ASSERT_EQUAL(skinny_frame(buf, SKINNY_MSG_MAX, &total, NULL), 1);
	CU_ASSERT_EQUAL(total, SKINNY_MSG_MAX);
	set_le32(buf, SKINNY_MSG_MAX - 7);
	UNIT_FAILS(skinny_frame(buf, 8, &total, &why), UC_ERR_FORMAT, "cap");
	set_le32(buf, 0xFFFFFFFFU);
	UNIT_FAILS(skinny_frame(buf, 8, &total, &why), UC_ERR_FORMAT, "cap");
}

static void
test_parse_header_errors_and_unknown_id(void)
{
	uint8_t			 buf[64];
	struct skinny_msg	 r;

	memset(buf, 0, sizeof(buf));
	UNIT_FAILS(skinny_parse(buf, 11, 17, &r), UC_ERR_TRUNCATED, "header");
	set_le32(buf, 3);
	UNIT_FAILS(skinny_parse(buf, 12, 17, &r), UC_ERR_FORMAT, "length 3");
	set_le32(buf, 20);			/* 16 payload bytes, 8 given */
	UNIT_FAILS(skinny_parse(buf, 20, 17, &r), UC_ERR_TRUNCATED, "needs");
	set_le32(buf, SKINNY_MSG_MAX);
	UNIT_FAILS(skinny_parse(buf, sizeof(buf), 17, &r), UC_ERR_FORMAT,
	    NULL);

	/* Unknown id: 0, only the header fields set. */
	set_le32(buf, 12);
	set_le32(buf + 4, 17);
	set_le32(buf + 8, 0x0043);		/* UpdateCapabilitiesV2 */
	memset(buf + 12, 0xAA, 8);
	CU_ASSERT_EQUAL(skinny_parse(buf, 20, 17, &r), 0);
	CU_ASSERT_EQUAL(r.id, 0x0043);
	CU_ASSERT_EQUAL(r.hdr_version, 17);
	CU_ASSERT_EQUAL(r.payload_len, 8);
	CU_ASSERT_EQUAL(r.u.media.conf_id, 0);
	CU_ASSERT_PTR_NULL(skinny_name(0x0043));
	CU_ASSERT_STRING_EQUAL(skinny_name(SK_ORC), "OpenReceiveChannel");
	CU_ASSERT_STRING_EQUAL(skinny_name(SK_KEEPALIVE), "KeepAlive");

	/* Bytes past length + 8 are never read. */
	set_le32(buf, 4);
	set_le32(buf + 8, SK_KEEPALIVE);
	CU_ASSERT_EQUAL(skinny_parse(buf, sizeof(buf), 0, &r), 0);
	CU_ASSERT_EQUAL(r.payload_len, 0);
	UNIT_FAILS(skinny_parse(buf, 12, -1, &r), UC_ERR_ARG, NULL);
}

static void
test_keys_refused_without_keys_ok(void)
{
	struct skinny_msg	 m, r;
	struct wbuf		 b;
	uint32_t		 ids[] = { SK_ORC, SK_SMT };
	size_t			 i, k;

	for (i = 0; i < 2; i++) {
		fill(&m, ids[i], 17);
		wbuf_init(&b, 8192);
		wbuf_put(&b, "xyz", 3);
		UNIT_FAILS(skinny_build(&b, 17, &m, 0), UC_ERR_POLICY,
		    "spec 7.1");
		CU_ASSERT_EQUAL(b.len, 3);	/* nothing appended */
		CU_ASSERT(wbuf_ok(&b));

		/* A stray key byte with algorithm 0 is refused too. */
		skinny_keyinfo_wipe(&m.u.media.key);
		m.u.media.key.salt[15] = 1;
		UNIT_FAILS(skinny_build(&b, 17, &m, 0), UC_ERR_POLICY, NULL);
		CU_ASSERT_EQUAL(b.len, 3);
		/* ... and written all-zero when allowed. */
		m.u.media.key.keylen = 16;
		CU_ASSERT_EQUAL(skinny_build(&b, 17, &m, 1), 0);
		CU_ASSERT_EQUAL(skinny_parse(b.data + 3, b.len - 3, 17, &r), 0);
		for (k = 0; k < sizeof(r.u.media.key); k++)
			CU_ASSERT_EQUAL(((uint8_t *)&r.u.media.key)[k], 0);
		CU_ASSERT_EQUAL(r.u.media.port, 24580);

		/* An empty block needs no keys_ok. */
		skinny_keyinfo_wipe(&m.u.media.key);
		m.u.media.key.kdr = 5;		/* not key material */
		CU_ASSERT_EQUAL(skinny_build(&b, 11, &m, 0), 0);
		CU_ASSERT_EQUAL(skinny_build(&b, 10, &m, 0), 0);
		wbuf_free(&b);
	}
}

static void
test_keys_refused_below_v11(void)
{
	struct skinny_msg	 m;
	struct wbuf		 b;
	uint32_t		 ids[] = { SK_ORC, SK_SMT };
	static const int	 low[] = { 0, 1, 5, 9, 10 };
	size_t			 i, k;

	for (i = 0; i < 2; i++) {
		fill(&m, ids[i], 17);			/* with keys */
		wbuf_init(&b, 8192);
		for (k = 0; k < sizeof(low) / sizeof(low[0]); k++) {
			UNIT_FAILS(skinny_build(&b, low[k], &m, 1),
			    UC_ERR_POLICY, "spec 7.2");
			CU_ASSERT_EQUAL(b.len, 0);
		}
		CU_ASSERT_EQUAL(skinny_build(&b, SKINNY_VERSION_SECURE, &m,
		    1), 0);
		skinny_msg_wipe(&m);
		wbuf_free(&b);
	}
}

static void
test_build_refuses_versions_never_chosen(void)
{
	struct skinny_msg	 m;
	struct wbuf		 b;
	int			 v;

	fill(&m, SK_CALLSTATE, 17);
	for (v = -1; v <= 40; v++) {
		wbuf_init(&b, 8192);
		if (v >= 0 && v == skinny_version_choose(v)) {
			CU_ASSERT_EQUAL(skinny_build(&b, v, &m, 0), 0);
		} else {
			UNIT_FAILS(skinny_build(&b, v, &m, 0), UC_ERR_ARG,
			    "version");
			CU_ASSERT_EQUAL(b.len, 0);
		}
		wbuf_free(&b);
	}
	wbuf_init(&b, 8192);
	UNIT_FAILS(skinny_build(&b, 13, &m, 0), UC_ERR_ARG, "gets V 11");
	UNIT_FAILS(skinny_build(&b, 22, &m, 0), UC_ERR_ARG, "version 22");
	fill(&m, SK_REGISTER, 0);
	CU_ASSERT_EQUAL(skinny_build(&b, skinny_version_choose(12), &m, 0),
	    0);
	CU_ASSERT_EQUAL(skinny_build(&b, skinny_version_choose(22), &m, 0),
	    0);
	wbuf_free(&b);
}

/* Build every id at every version, parse at the same version: equal. */
static void
test_round_trips(void)
{
	struct skinny_msg	 m, r;
	struct wbuf		 b;
	size_t			 i, k;
	int			 v;

	for (i = 0; i < NIDS; i++)
		for (k = 0; k < NVERSIONS; k++) {
			v = versions[k];
			fill(&m, all_ids[i], v);
			CU_ASSERT_EQUAL_FATAL(build(&b, v, &m, 1), 0);
			if (skinny_parse(b.data, b.len, v, &r) != 0 ||
			    r.id != m.id ||
			    memcmp(&r.u, &m.u, sizeof(m.u)) != 0) {
				CU_FAIL("round trip");
				fprintf(stderr, "%s at V %d: %s\n",
				    skinny_name(m.id), v, uc_errdetail());
			}
			CU_ASSERT_EQUAL(r.payload_len, b.len - 12);
			wbuf_free(&b);
		}
}

static void
test_ipv6_and_ack_forms(void)
{
	struct skinny_msg	 m, r;
	struct wbuf		 b;
	uint8_t			*p;

	fill(&m, SK_ORC_ACK, 17);
	m.u.media_ack.addr.family = AF_INET6;
	memcpy(m.u.media_ack.addr.ip, "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0"
	    "\x01", 16);
	CU_ASSERT_EQUAL_FATAL(build(&b, 17, &m, 0), 0);
	CU_ASSERT_EQUAL(le32(b.data + 16), 1);		/* addrType */
	CU_ASSERT_EQUAL(skinny_parse(b.data, b.len, 17, &r), 0);
	CU_ASSERT_EQUAL(memcmp(&r.u, &m.u, sizeof(m.u)), 0);
	/* A 36-byte ack is the ipx form even at a lower V (spec 2.1). */
	CU_ASSERT_EQUAL(skinny_parse(b.data, b.len, 11, &r), 0);
	CU_ASSERT_EQUAL(r.u.media_ack.addr.family, AF_INET6);
	CU_ASSERT_EQUAL(r.u.media_ack.party_id, 0x51);
	wbuf_free(&b);
	UNIT_FAILS(build(&b, 16, &m, 0), UC_ERR_UNSUPPORTED, "IPv6");
	CU_ASSERT_EQUAL(b.len, 0);
	wbuf_free(&b);
	m.u.media_ack.addr.family = 99;
	UNIT_FAILS(build(&b, 17, &m, 0), UC_ERR_ARG, "family");
	wbuf_free(&b);

	/* A 20-byte (ip4) ack from a V17 phone still parses. */
	fill(&m, SK_ORC_ACK, 11);
	CU_ASSERT_EQUAL_FATAL(build(&b, 11, &m, 0), 0);
	CU_ASSERT_EQUAL(skinny_parse(b.data, b.len, 17, &r), 0);
	CU_ASSERT_EQUAL(memcmp(&r.u, &m.u, sizeof(m.u)), 0);
	/* 28 bytes at V17: too short for the ipx form. */
	p = reframe(b.data, b.len, 28);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	UNIT_FAILS(skinny_parse(p, 40, 17, &r), UC_ERR_TRUNCATED, "ipx");
	CU_ASSERT_EQUAL(skinny_parse(p, 40, 11, &r), 0);
	free(p);
	/* Old firmware without callReference. */
	p = reframe(b.data, b.len, 16);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT_EQUAL(skinny_parse(p, 28, 11, &r), 0);
	CU_ASSERT_EQUAL(r.u.media_ack.party_id, 0x51);
	CU_ASSERT_EQUAL(r.u.media_ack.callref, 0);
	free(p);
	wbuf_free(&b);
}

static void
test_hostile_fields(void)
{
	struct skinny_msg	 m, r;
	struct wbuf		 b;
	uint8_t			*p;

	fill(&m, SK_SMT, 17);
	CU_ASSERT_EQUAL_FATAL(build(&b, 17, &m, 1), 0);
	set_le32(b.data + 12 + 8, 2);			/* addrType 2 */
	UNIT_FAILS(skinny_parse(b.data, b.len, 17, &r), UC_ERR_FORMAT,
	    "addrType");
	set_le32(b.data + 12 + 8, 0);
	b.data[12 + 64] = 17;				/* keyLength 17 */
	UNIT_FAILS(skinny_parse(b.data, b.len, 17, &r), UC_ERR_FORMAT,
	    "key length 17");
	CU_ASSERT_EQUAL(r.u.media.key.key[0], 0);	/* wiped */
	CU_ASSERT_EQUAL(r.id, SK_SMT);
	/* V17 form cut inside the key block. */
	p = reframe(b.data, b.len, 100);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	UNIT_FAILS(skinny_parse(p, 112, 17, &r), UC_ERR_TRUNCATED, NULL);
	free(p);
	wbuf_free(&b);

	fill(&m, SK_ORC, 11);
	CU_ASSERT_EQUAL_FATAL(build(&b, 11, &m, 1), 0);
	p = reframe(b.data, b.len, 92);		/* CUCM 7 form (6.18) */
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT_EQUAL(skinny_parse(p, 104, 11, &r), 0);
	CU_ASSERT_EQUAL(r.u.media.rfc2833_pt, 101);
	CU_ASSERT_EQUAL(r.u.media.port, 0);
	free(p);
	p = reframe(b.data, b.len, 75);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	UNIT_FAILS(skinny_parse(p, 87, 11, &r), UC_ERR_TRUNCATED, NULL);
	free(p);
	wbuf_free(&b);

	fill(&m, SK_CAPABILITIES_RES, 17);
	CU_ASSERT_EQUAL_FATAL(build(&b, 17, &m, 0), 0);
	set_le32(b.data + 12, 19);
	UNIT_FAILS(skinny_parse(b.data, b.len, 17, &r), UC_ERR_FORMAT,
	    "count 19");
	set_le32(b.data + 12, 3);
	p = reframe(b.data, b.len, 40);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	UNIT_FAILS(skinny_parse(p, 52, 17, &r), UC_ERR_TRUNCATED, "count 3");
	free(p);
	wbuf_free(&b);
}

static void
test_strings_bounded(void)
{
	struct skinny_msg	 m, r;
	struct wbuf		 b;
	uint8_t			*p;

	fill(&m, SK_CALLINFO, 17);
	memset(m.u.callinfo.calling, '7', SKINNY_DN_LEN);
	CU_ASSERT_EQUAL_FATAL(build(&b, 17, &m, 0), 0);
	/* Sent: 23 characters and a NUL (spec 0). */
	CU_ASSERT_EQUAL(b.data[12 + 40 + 22], '7');
	CU_ASSERT_EQUAL(b.data[12 + 40 + 23], 0);
	CU_ASSERT_EQUAL(le32(b.data + 12 + 376), SK_SEC_ENCRYPTED);
	/* Received without a NUL: bounded by the width. */
	memset(b.data + 12, 'A', 40 + 24);
	CU_ASSERT_EQUAL(skinny_parse(b.data, b.len, 17, &r), 0);
	CU_ASSERT_EQUAL(strlen(r.u.callinfo.calling_name), 40);
	CU_ASSERT_EQUAL(strlen(r.u.callinfo.calling), 24);
	CU_ASSERT_STRING_EQUAL(r.u.callinfo.called_name, "Bob");
	CU_ASSERT_EQUAL(r.u.callinfo.security, SK_SEC_ENCRYPTED);
	wbuf_free(&b);

	/* CallInfoV2: names and numbers of full width round-trip. */
	fill(&m, SK_CALLINFO_V2, 17);
	memset(m.u.callinfo.calling_name, 'N', SKINNY_PARTYNAME_LEN);
	memset(m.u.callinfo.called, '8', SKINNY_DN_LEN);
	CU_ASSERT_EQUAL_FATAL(build(&b, 17, &m, 0), 0);
	CU_ASSERT_EQUAL(skinny_parse(b.data, b.len, 17, &r), 0);
	CU_ASSERT_EQUAL(strlen(r.u.callinfo.calling_name),
	    SKINNY_PARTYNAME_LEN);
	CU_ASSERT_EQUAL(strlen(r.u.callinfo.called), SKINNY_DN_LEN);
	CU_ASSERT_EQUAL(memcmp(&r.u, &m.u, sizeof(m.u)), 0);
	wbuf_free(&b);

	/* CallInfoV2: an unterminated last string runs to the end. */
	fill(&m, SK_CALLINFO_V2, 11);
	m.u.callinfo.called_name[0] = '\0';
	CU_ASSERT_EQUAL_FATAL(build(&b, 11, &m, 0), 0);
	p = reframe(b.data, b.len, 32 + 5 + 1 + 5 + 6 + 4);	/* "Alic" */
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT_EQUAL(skinny_parse(p, 12 + 53, 11, &r), 0);
	CU_ASSERT_STRING_EQUAL(r.u.callinfo.calling_name, "Alic");
	CU_ASSERT_STRING_EQUAL(r.u.callinfo.called_name, "");
	CU_ASSERT_STRING_EQUAL(r.u.callinfo.calling, "1001");
	CU_ASSERT_STRING_EQUAL(r.u.callinfo.called, "1002");
	CU_ASSERT_EQUAL(r.u.callinfo.security, SK_SEC_ENCRYPTED);
	free(p);
	p = reframe(b.data, b.len, 31);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	UNIT_FAILS(skinny_parse(p, 43, 11, &r), UC_ERR_TRUNCATED, NULL);
	free(p);
	wbuf_free(&b);
}

static void
test_short_and_versioned_variants(void)
{
	struct skinny_msg	 m, r;
	struct wbuf		 b;
	uint8_t			*p;

	/* OffHook without payload (old firmware): zeros. */
	fill(&m, SK_OFFHOOK, 0);
	CU_ASSERT_EQUAL_FATAL(build(&b, 0, &m, 0), 0);
	p = reframe(b.data, b.len, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT_EQUAL(skinny_parse(p, 12, 0, &r), 0);
	CU_ASSERT_EQUAL(r.u.simple.line, 0);
	free(p);
	wbuf_free(&b);

	/* StopTone: a 12-byte one at V10 ignores the tone word. */
	fill(&m, SK_STOP_TONE, 11);
	CU_ASSERT_EQUAL_FATAL(build(&b, 11, &m, 0), 0);
	CU_ASSERT_EQUAL(skinny_parse(b.data, b.len, 10, &r), 0);
	CU_ASSERT_EQUAL(r.u.tone.tone, 0);
	CU_ASSERT_EQUAL(r.u.tone.callref, 0x1001);
	wbuf_free(&b);

	/* DialedNumber from V18: a 25-byte number (spec 3). */
	fill(&m, SK_DIALED_NUMBER, 17);
	memset(m.u.dialed.dn, '5', 23);
	CU_ASSERT_EQUAL_FATAL(build(&b, 17, &m, 0), 0);
	p = reframe(b.data, b.len, 33);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	memmove(p + 12 + 25, p + 12 + 24, 8);
	p[12 + 23] = '5';
	p[12 + 24] = '6';
	CU_ASSERT_EQUAL(skinny_parse(p, 45, 18, &r), 0);
	CU_ASSERT_EQUAL(strlen(r.u.dialed.dn), 25);
	CU_ASSERT_EQUAL(r.u.dialed.callref, 0x1001);
	free(p);
	wbuf_free(&b);

	fill(&m, SK_SMT, 17);
	UNIT_FAILS(build(&b, 18, &m, 1), UC_ERR_ARG, "version 18");
	wbuf_free(&b);
	m.id = 0x0043;
	UNIT_FAILS(build(&b, 17, &m, 1), UC_ERR_UNSUPPORTED, NULL);
	wbuf_free(&b);
}

static void
test_version_choose(void)
{
	static const int	 t[][2] = {
		{ 0, 0 }, { -3, 0 }, { 3, 3 }, { 5, 5 }, { 8, 8 }, { 9, 9 },
		{ 10, 10 }, { 11, 11 }, { 12, 11 }, { 13, 11 }, { 14, 11 },
		{ 15, 15 }, { 16, 16 }, { 17, 17 }, { 18, 17 }, { 20, 17 },
		{ 22, 17 }, { 255, 17 },
	};
	size_t	 i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		CU_ASSERT_EQUAL(skinny_version_choose(t[i][0]), t[i][1]);
}

static void
test_algorithms_and_keyinfo(void)
{
	struct skinny_keyinfo	 k;
	uint8_t			 ks[30];
	size_t			 i;

	CU_ASSERT_EQUAL(skinny_alg_suite(1), SUITE_AES_CM_128_HMAC_SHA1_32);
	CU_ASSERT_EQUAL(skinny_alg_suite(2), SUITE_AES_CM_128_HMAC_SHA1_80);
	CU_ASSERT_EQUAL(skinny_alg_suite(0), -1);
	CU_ASSERT_EQUAL(skinny_alg_suite(3), -1);
	CU_ASSERT_EQUAL(skinny_alg_suite(4), -1);
	CU_ASSERT_EQUAL(skinny_alg_suite(6), -1);
	CU_ASSERT_EQUAL(skinny_suite_alg(SUITE_AES_CM_128_HMAC_SHA1_32), 1);
	CU_ASSERT_EQUAL(skinny_suite_alg(SUITE_AES_CM_128_HMAC_SHA1_80), 2);
	CU_ASSERT_EQUAL(skinny_suite_alg(SUITE_AEAD_AES_128_GCM), 0);
	CU_ASSERT_EQUAL(skinny_suite_alg(-1), 0);

	example_keysalt(ks);
	CU_ASSERT_EQUAL(skinny_keyinfo_set(&k, 2, ks, 30), 0);
	CU_ASSERT_EQUAL(k.alg, 2);
	CU_ASSERT_EQUAL(k.keylen, 16);
	CU_ASSERT_EQUAL(k.saltlen, 14);
	CU_ASSERT_EQUAL(memcmp(k.key, ks, 16), 0);
	CU_ASSERT_EQUAL(memcmp(k.salt, ks + 16, 14), 0);
	CU_ASSERT_EQUAL(k.salt[14] | k.salt[15], 0);
	CU_ASSERT_EQUAL(k.mki_present | k.kdr, 0);
	UNIT_FAILS(skinny_keyinfo_set(&k, 1, ks, 29), UC_ERR_ARG, "6.17");
	CU_ASSERT_EQUAL(k.key[0], 0);			/* wiped */
	UNIT_FAILS(skinny_keyinfo_set(&k, 3, ks, 30), UC_ERR_ARG, NULL);
	UNIT_FAILS(skinny_keyinfo_set(&k, 0, ks, 30), UC_ERR_ARG, NULL);
	UNIT_FAILS(skinny_keyinfo_set(&k, 1, NULL, 30), UC_ERR_ARG, NULL);
	CU_ASSERT_EQUAL(skinny_keyinfo_set(&k, 1, ks, 30), 0);
	skinny_keyinfo_wipe(&k);
	for (i = 0; i < sizeof(k); i++)
		CU_ASSERT_EQUAL(((uint8_t *)&k)[i], 0);
	skinny_keyinfo_wipe(NULL);
	skinny_msg_wipe(NULL);
}

/* Parse every truncation and single-byte flip of m at v: no crash, a
   failure always leaves a detail line. */
static int
mutate_one(const uint8_t *msg, size_t len, int v)
{
	struct skinny_msg	 r;
	uint8_t			 buf[SKINNY_MSG_MAX];
	size_t			 i, bad = 0;
	int			 rc;

	for (i = 0; i <= len; i++) {
		unit_clear_err();
		rc = skinny_parse(msg, i, v, &r);
		bad += rc != 0 && uc_errdetail()[0] == '\0';
	}
	for (i = 0; i < len; i++) {
		memcpy(buf, msg, len);
		buf[i] ^= (uint8_t)(1u << (i % 8));
		unit_clear_err();
		rc = skinny_parse(buf, len, v, &r);
		bad += rc != 0 && uc_errdetail()[0] == '\0';
		buf[i] = 0xFF;
		rc = skinny_parse(buf, len, v, &r);
	}
	return bad != 0;
}

static void
test_mutations_never_crash(void)
{
	struct skinny_msg	 m;
	struct wbuf		 b;
	size_t			 i, k;

	for (i = 0; i < NIDS; i++)
		for (k = 0; k < NVERSIONS; k++) {
			fill(&m, all_ids[i], versions[k]);
			CU_ASSERT_EQUAL_FATAL(build(&b, versions[k], &m, 1), 0);
			CU_ASSERT_EQUAL(mutate_one(b.data, b.len,
			    versions[k]), 0);
			wbuf_free(&b);
		}
}

static const struct unit_test tests[] = {
	{ "spec 7.3 StartMediaTransmission is built byte for byte and "
	    "parses back", test_worked_example_smt_byte_for_byte },
	{ "OpenReceiveChannel carries the key block at payload 28 (V16, V17)",
	    test_orc_counterpart_layout },
	{ "payload sizes follow section 11 at V 0/10/11/15/16/17",
	    test_sizes_per_version },
	{ "header version is V from 10, else 0; 0 for the three acks",
	    test_header_versions },
	{ "KeepAliveAck bytes and RegisterAck feature bytes per V",
	    test_keepaliveack_and_registerack_bytes },
	{ "ButtonTemplate: line buttons then undefined, 42 slots",
	    test_button_template_layout },
	{ "softkey template in event order; the five softkey sets",
	    test_softkey_templates },
	{ "Register parses by payload length; version byte from 44 bytes",
	    test_register_by_payload_length },
	{ "framing: partial, back to back, length under 4, size cap",
	    test_framing },
	{ "header errors; unknown ids parse to the header only",
	    test_parse_header_errors_and_unknown_id },
	{ "key blocks are refused without keys_ok; algorithm 0 is zeroed",
	    test_keys_refused_without_keys_ok },
	{ "key blocks are refused below V11 even with keys_ok",
	    test_keys_refused_below_v11 },
	{ "build refuses 12-14 and over 17 (never negotiated)",
	    test_build_refuses_versions_never_chosen },
	{ "every id round-trips at every version", test_round_trips },
	{ "IPv6 needs V17; acks parse by length", test_ipv6_and_ack_forms },
	{ "hostile addrType, key length, count and truncations fail",
	    test_hostile_fields },
	{ "char[N] fields: N-1 sent, N bounded on receipt; CallInfoV2",
	    test_strings_bounded },
	{ "short variants zero-filled, longer ignored; V18 DialedNumber",
	    test_short_and_versioned_variants },
	{ "version choice follows spec 3 and errata 13.1",
	    test_version_choose },
	{ "algorithm ids map to SRTP suites; keyinfo set and wipe",
	    test_algorithms_and_keyinfo },
	{ "truncations and byte flips of every message never crash",
	    test_mutations_never_crash },
	{ NULL, NULL }
};

void
unit_register_skinny(void)
{
	unit_suite("skinny", tests);
}
