/*
 * SCCP (Skinny) message codec, ../shared/specs/sccp-security.md.  One
 * symmetric API for both directions: ccmd parses phone-to-server messages
 * and builds server-to-phone ones; sccp-phone does the reverse; the fuzz
 * harness parses, builds and parses again.  Untrusted bytes are read only
 * through the cursor (little-endian reads, cur_u32le); text fields are
 * bounded by their width and always NUL-terminated in the structs.
 *
 * Layouts follow the negotiated protocol version V (spec 3): the pre-17
 * family and the 17 family; ccmd caps V at SKINNY_VERSION_CAP.
 */
#ifndef UCSEC_SKINNY_H
#define UCSEC_SKINNY_H

#include <stddef.h>
#include <stdint.h>

#include "wbuf.h"

#define SKINNY_PORT		2000
#define SKINNY_TLS_PORT		2443
#define SKINNY_HDR_LEN		12	/* length, header version, id */
#define SKINNY_MSG_MAX		4096	/* whole message, spec 2 step 2 */
#define SKINNY_VERSION_CAP	17	/* spec 3 recommendation */
#define SKINNY_VERSION_SECURE	11	/* lowest V for keys (spec 7.2) */
#define SKINNY_NAME_LEN		16	/* deviceName char[16] */
#define SKINNY_DN_LEN		24	/* directory numbers */
#define SKINNY_PARTYNAME_LEN	40
#define SKINNY_CAPS_MAX		18
#define SKINNY_KEY_LEN		16	/* key array in EncryptionInfo */
#define SKINNY_SALT_LEN		16	/* salt array (14 used) */

/* Message ids (spec 5). */
enum skinny_id {
	SK_KEEPALIVE = 0x0000,
	SK_REGISTER = 0x0001,
	SK_KEYPAD_BUTTON = 0x0003,
	SK_OFFHOOK = 0x0006,
	SK_ONHOOK = 0x0007,
	SK_LINESTAT_REQ = 0x000B,
	SK_CONFIGSTAT_REQ = 0x000C,
	SK_TIMEDATE_REQ = 0x000D,
	SK_BUTTONTEMPLATE_REQ = 0x000E,
	SK_CAPABILITIES_RES = 0x0010,
	SK_ALARM = 0x0020,
	SK_ORC_ACK = 0x0022,
	SK_SOFTKEYSET_REQ = 0x0025,
	SK_SOFTKEY_EVENT = 0x0026,
	SK_UNREGISTER = 0x0027,
	SK_SOFTKEYTEMPLATE_REQ = 0x0028,
	SK_REGISTER_AVAILABLE_LINES = 0x002D,
	SK_SMT_ACK = 0x0154,
	SK_REGISTER_ACK = 0x0081,
	SK_START_TONE = 0x0082,
	SK_STOP_TONE = 0x0083,
	SK_SET_RINGER = 0x0085,
	SK_SET_LAMP = 0x0086,
	SK_SET_SPEAKER = 0x0088,
	SK_SMT = 0x008A,		/* StartMediaTransmission */
	SK_STOP_MEDIA = 0x008B,		/* StopMediaTransmission */
	SK_CALLINFO = 0x008F,
	SK_LINESTAT = 0x0092,
	SK_CONFIGSTAT = 0x0093,
	SK_DEFINE_TIMEDATE = 0x0094,
	SK_BUTTONTEMPLATE = 0x0097,
	SK_CAPABILITIES_REQ = 0x009B,
	SK_REGISTER_REJECT = 0x009D,
	SK_RESET = 0x009F,
	SK_KEEPALIVE_ACK = 0x0100,
	SK_ORC = 0x0105,		/* OpenReceiveChannel */
	SK_CLOSE_RECEIVE = 0x0106,	/* CloseReceiveChannel */
	SK_SOFTKEYTEMPLATE_RES = 0x0108,
	SK_SOFTKEYSET_RES = 0x0109,
	SK_SELECT_SOFTKEYS = 0x0110,
	SK_CALLSTATE = 0x0111,
	SK_DISPLAY_PROMPT = 0x0112,
	SK_ACTIVATE_CALLPLANE = 0x0116,
	SK_UNREGISTER_ACK = 0x0118,
	SK_DIALED_NUMBER = 0x011D,
	SK_CALLINFO_V2 = 0x014A
};

/* EncryptionInfo algorithm ids (spec 6.17). */
enum skinny_alg {
	SK_ALG_NONE = 0,
	SK_ALG_AES_CM_128_HMAC_SHA1_32 = 1,
	SK_ALG_AES_CM_128_HMAC_SHA1_80 = 2,
	SK_ALG_F8_128_HMAC_SHA1_32 = 3,
	SK_ALG_F8_128_HMAC_SHA1_80 = 4
};

/* callSecurityStatus (spec 8). */
enum skinny_secstatus {
	SK_SEC_UNKNOWN = 0,
	SK_SEC_NOT_AUTHENTICATED = 1,
	SK_SEC_AUTHENTICATED = 2,
	SK_SEC_ENCRYPTED = 3
};

/* CallState values (spec 6.12), the ones the minimal call uses. */
enum skinny_callstate {
	SK_CS_OFFHOOK = 1, SK_CS_ONHOOK = 2, SK_CS_RINGOUT = 3,
	SK_CS_RINGIN = 4, SK_CS_CONNECTED = 5, SK_CS_BUSY = 6,
	SK_CS_CONGESTION = 7, SK_CS_HOLD = 8, SK_CS_INVALID_NUMBER = 14
};

/* Tones (spec 6.15). */
#define SK_TONE_DIAL		0x21
#define SK_TONE_BUSY		0x23
#define SK_TONE_ALERTING	0x24
#define SK_TONE_REORDER		0x25
#define SK_TONE_NONE		0x7F

/* SoftKeyEvent events a minimal phone sends (Hold, Resume, EndCall). */
#define SK_SOFTKEY_REDIAL	1
#define SK_SOFTKEY_NEWCALL	2
#define SK_SOFTKEY_HOLD		3
#define SK_SOFTKEY_ENDCALL	9
#define SK_SOFTKEY_RESUME	10
#define SK_SOFTKEY_ANSWER	11

/* Codec ids (spec 6.16). */
#define SK_CODEC_G711_ALAW	2
#define SK_CODEC_G711_ULAW	4
#define SK_CODEC_G722		6
#define SK_CODEC_G729		11

/* The 48-byte EncryptionInfo block (spec 6.17). */
struct skinny_keyinfo {
	uint32_t	 alg;			/* enum skinny_alg */
	uint16_t	 keylen;		/* 16 or 0 */
	uint16_t	 saltlen;		/* 14 or 0 */
	uint8_t		 key[SKINNY_KEY_LEN];
	uint8_t		 salt[SKINNY_SALT_LEN];
	uint32_t	 mki_present;
	uint32_t	 kdr;
};

/* An IP address in a media message: ip4 below V17, ipx from V17. */
struct skinny_addr {
	int		 family;		/* AF_INET or AF_INET6 */
	uint8_t		 ip[16];		/* network order */
};

/*
 * One parsed message.  id selects the member of u; fields a layout lacks
 * (short variants, spec 2 step 4) are zero.  All char arrays are
 * NUL-terminated.
 */
struct skinny_msg {
	uint32_t	 id;			/* enum skinny_id */
	uint32_t	 hdr_version;		/* as received */
	size_t		 payload_len;		/* as received */
	union {
		struct {			/* SK_REGISTER */
			char		 name[SKINNY_NAME_LEN + 1];
			uint32_t	 user_id, instance;
			uint8_t		 ip4[4];
			uint32_t	 device_type;
			uint32_t	 max_streams, active_streams;
			uint8_t		 proto_version;	/* payload byte 40 */
			uint16_t	 features;
			uint32_t	 max_lines;
			char		 load_info[33];
		} reg;
		struct {			/* SK_REGISTER_ACK */
			uint32_t	 keepalive, keepalive2;
			char		 date_template[7];
			uint8_t		 proto_version;
		} reg_ack;
		struct {			/* SK_REGISTER_REJECT */
			char		 text[33];
		} reject;
		struct {			/* KEYPAD_BUTTON, OFFHOOK, ONHOOK,
						   LINESTAT_REQ (line),
						   ACTIVATE_CALLPLANE (line),
						   UNREGISTER (button=reason),
						   UNREGISTER_ACK (button=status),
						   RESET (button=type),
						   SET_SPEAKER (button=mode),
						   REGISTER_AVAILABLE_LINES
						   (button=count) */
			uint32_t	 button;
			uint32_t	 line, callref;
		} simple;
		struct {			/* SK_SOFTKEY_EVENT; also
						   SK_SELECT_SOFTKEYS with
						   event=softKeySetIndex */
			uint32_t	 event, line, callref;
		} softkey;
		struct {			/* SK_CAPABILITIES_RES */
			uint32_t	 count;
			struct {
				uint32_t codec, ms;
			}		 cap[SKINNY_CAPS_MAX];
		} caps;
		struct {			/* SK_ALARM */
			uint32_t	 severity;
			char		 text[81];
			uint32_t	 p1, p2;
		} alarm;
		struct {			/* SK_ORC, SK_SMT */
			uint32_t	 conf_id, party_id, callref;
			uint32_t	 ms, codec;
			uint32_t	 precedence;	/* SMT: TOS byte */
			struct skinny_addr addr;	/* SMT: remote, where to
						   send; ORC: expected source */
			uint32_t	 port;
			struct skinny_keyinfo key;	/* SMT: tx, ORC: rx */
			uint32_t	 rfc2833_pt;
		} media;
		struct {			/* SK_ORC_ACK, SK_SMT_ACK */
			uint32_t	 status;
			struct skinny_addr addr;	/* the phone's RTP address */
			uint32_t	 port;
			uint32_t	 party_id, callref;
		} media_ack;
		struct {			/* SK_STOP_MEDIA, SK_CLOSE_RECEIVE */
			uint32_t	 conf_id, party_id, callref;
			uint32_t	 port_handling;
		} stop;
		struct {			/* SK_CALLSTATE */
			uint32_t	 state, line, callref;
		} callstate;
		struct {			/* SK_CALLINFO, SK_CALLINFO_V2 */
			char		 calling_name[SKINNY_PARTYNAME_LEN + 1];
			char		 calling[SKINNY_DN_LEN + 1];
			char		 called_name[SKINNY_PARTYNAME_LEN + 1];
			char		 called[SKINNY_DN_LEN + 1];
			uint32_t	 line, callref, call_type;
			uint32_t	 security;	/* enum skinny_secstatus */
		} callinfo;
		struct {			/* SK_START_TONE, SK_STOP_TONE */
			uint32_t	 tone, direction, line, callref;
		} tone;
		struct {			/* SK_SET_RINGER */
			uint32_t	 mode, duration, line, callref;
		} ringer;
		struct {			/* SK_SET_LAMP */
			uint32_t	 stimulus, instance, mode;
		} lamp;
		struct {			/* SK_LINESTAT */
			uint32_t	 line;
			char		 dn[SKINNY_DN_LEN + 1];
			char		 display[SKINNY_PARTYNAME_LEN + 1];
		} linestat;
		struct {			/* SK_CONFIGSTAT */
			char		 name[SKINNY_NAME_LEN + 1];
			uint32_t	 lines;
		} configstat;
		struct {			/* SK_DEFINE_TIMEDATE */
			uint32_t	 year, month, dow, day, hour, minute,
					 second, ms, systime;
		} timedate;
		struct {			/* SK_BUTTONTEMPLATE: lines */
			uint32_t	 lines;
		} buttons;
		struct {			/* SK_DIALED_NUMBER */
			char		 dn[SKINNY_DN_LEN + 2];
			uint32_t	 line, callref;
		} dialed;
		struct {			/* SK_DISPLAY_PROMPT */
			uint32_t	 timeout;
			char		 text[33];
			uint32_t	 line, callref;
		} prompt;
	} u;
};

/*
 * Framing (spec 2): n bytes are buffered at p.  Returns 1 and *total (the
 * whole message, length + 8) when one is complete, 0 when more bytes are
 * needed, or UC_ERR_FORMAT when the stream is broken (length < 4 or over
 * SKINNY_MSG_MAX; *why says which).
 */
int	 skinny_frame(const uint8_t *, size_t, size_t *, const char **);

/*
 * Parse one framed message (len = the total from skinny_frame) for a
 * connection at negotiated version V (0 before registration).  Unknown
 * ids: 0 with only id/hdr_version/payload_len set (the caller skips
 * them, spec 2 step 5).  A payload too short for the fixed part the
 * message needs (e.g. a Register under 36 bytes): UC_ERR_TRUNCATED.
 */
int	 skinny_parse(const uint8_t *, size_t, int, struct skinny_msg *);

/*
 * Append one message to wb in version V's layout and header version
 * (spec 2.1).  V is 0 or a version skinny_version_choose returns (1-11,
 * 15-17); others (12-14, over 17) are refused with UC_ERR_ARG.  keys_ok
 * must be set for an ORC or SMT whose key block is not empty, and V at
 * least SKINNY_VERSION_SECURE: it is refused with UC_ERR_POLICY
 * otherwise (spec 7.1 rule 1, 7.2 and 10: the builder is the last line
 * of defence).  Ids the codec does not build: UC_ERR_UNSUPPORTED.
 * Fixed templates (ButtonTemplate with u.buttons.lines line buttons,
 * SoftKeyTemplateRes, SoftKeySetRes with the On Hook / Connected / Ring
 * In sets) are filled by the codec.
 */
int	 skinny_build(struct wbuf *, int, const struct skinny_msg *, int);

/* The version ccmd uses for a phone announcing max (spec 3, 13.1). */
int	 skinny_version_choose(int);
/* Header version written in messages of id at version V (spec 2.1). */
uint32_t skinny_hdr_version(uint32_t, int);
/* "Register", "OpenReceiveChannel", ... or NULL for unknown ids. */
const char *skinny_name(uint32_t);

/* enum srtp_suite (lib/sdes.h) for an algorithm id, -1 for none/unknown;
   and back (SK_ALG_NONE for suites SCCP cannot carry). */
int	 skinny_alg_suite(uint32_t);
uint32_t skinny_suite_alg(int);
/* Fill an EncryptionInfo from key || salt (30 bytes for id 1/2). */
int	 skinny_keyinfo_set(struct skinny_keyinfo *, uint32_t,
	    const uint8_t *, size_t);
void	 skinny_keyinfo_wipe(struct skinny_keyinfo *);
/* Wipe every key block a message holds (ORC, SMT). */
void	 skinny_msg_wipe(struct skinny_msg *);

#endif /* UCSEC_SKINNY_H */
