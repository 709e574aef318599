/*
 * Suite "sdp": SDP per call leg (ccm/sdp.c, spec 6.3, 6.5): the spec 9.2
 * offer and answer, directions and hold, which a=crypto lines are kept,
 * the PASS/STRIP rewrite, SRTP agreement, masking for logs.
 */
#include <stdio.h>
#include <stdlib.h>

#include "sdp.h"
#include "unit.h"

#define BODY(s)	(s), (sizeof(s) - 1)

#define KEY1	"EBESExQVFhcYGRobHB0eHyAhIiMkJSYnKCkqKywt"
#define KEY2	"QEFCQ0RFRkdISUpLTE1OT1BRUlNUVVZXWFlaW1xd"
#define KEYA	"wMHCw8TFxsfIycrLzM3Oz9DR0tPU1dbX2Nna29zd"
#define KEYG	"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGw=="

#define HEAD \
	"v=0\r\n" \
	"o=Cisco-SIPUA 14321 0 IN IP4 192.0.2.10\r\n" \
	"s=SIP Call\r\n" \
	"t=0 0\r\n"

/* Spec 9.2, the INVITE's body. */
static const char spec_offer[] =
	HEAD
	"m=audio 24580 RTP/SAVP 0 8 101\r\n"
	"c=IN IP4 192.0.2.10\r\n"
	"a=rtpmap:0 PCMU/8000\r\n"
	"a=rtpmap:8 PCMA/8000\r\n"
	"a=rtpmap:101 telephone-event/8000\r\n"
	"a=fmtp:101 0-15\r\n"
	"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" KEY1 "\r\n"
	"a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:" KEY2 "\r\n"
	"a=sendrecv\r\n";

/* Spec 9.2, the 200 OK's body. */
static const char spec_answer[] =
	"v=0\r\n"
	"o=SecureCM 58213 1 IN IP4 198.51.100.5\r\n"
	"s=SIP Call\r\n"
	"t=0 0\r\n"
	"m=audio 30000 RTP/SAVP 0 101\r\n"
	"c=IN IP4 198.51.100.5\r\n"
	"a=rtpmap:0 PCMU/8000\r\n"
	"a=rtpmap:101 telephone-event/8000\r\n"
	"a=fmtp:101 0-15\r\n"
	"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" KEYA "\r\n"
	"a=sendrecv\r\n";

static int
inspect(const char *body, struct sdp_info *info)
{
	return sdp_inspect(body, strlen(body), info);
}

/* Does a CRLF text have a bare LF or CR? */
static int
bare_eol(const char *s, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if ((s[i] == '\n' && (i == 0 || s[i - 1] != '\r')) ||
		    (s[i] == '\r' && (i + 1 == n || s[i + 1] != '\n')))
			return 1;
	return 0;
}

static void
test_spec_9_2_offer_and_answer(void)
{
	struct sdp_info		 o, a;
	const struct sdp_stream	*m;

	CU_ASSERT_EQUAL_FATAL(sdp_inspect(BODY(spec_offer), &o), 0);
	CU_ASSERT_EQUAL_FATAL(o.nmedia, 1);
	m = &o.media[0];
	CU_ASSERT_STRING_EQUAL(m->type, "audio");
	CU_ASSERT(m->port == 24580 && m->savp && m->dir == SDP_SENDRECV &&
	    !m->hold);
	CU_ASSERT(m->ncrypto == 2 && m->bad_crypto == 0);
	CU_ASSERT(m->crypto[0].tag == 1 &&
	    m->crypto[0].suite == SUITE_AES_CM_128_HMAC_SHA1_80);
	CU_ASSERT_STRING_EQUAL(unit_hex(m->crypto[0].keysalt, 30),
	    "101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d");
	CU_ASSERT(m->crypto[1].tag == 2 &&
	    m->crypto[1].suite == SUITE_AES_CM_128_HMAC_SHA1_32);

	CU_ASSERT_EQUAL_FATAL(sdp_inspect(BODY(spec_answer), &a), 0);
	CU_ASSERT(a.nmedia == 1 && a.media[0].port == 30000 &&
	    a.media[0].ncrypto == 1);
	CU_ASSERT_STRING_EQUAL(unit_hex(a.media[0].crypto[0].keysalt, 30),
	    "c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdd");
	CU_ASSERT_EQUAL(sdp_srtp_agreed(&o, &a), 1);
	sdp_info_clear(&o);
	sdp_info_clear(&a);
	CU_ASSERT(o.nmedia == 0 && o.media[0].crypto[0].keysalt[0] == 0 &&
	    o.media[0].crypto[0].keysalt_len == 0);
	sdp_info_clear(NULL);
}

static void
test_directions_and_hold(void)
{
	struct sdp_info	 info;

	CU_ASSERT_EQUAL_FATAL(inspect("v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\n"
	    "s=-\r\n"
	    "c=IN IP4 192.0.2.1\r\n"
	    "t=0 0\r\n"
	    "a=sendonly\r\n"
	    "m=audio 5000 RTP/AVP 0\r\n"
	    "m=video 5002 RTP/AVP 96\r\n"
	    "a=recvonly\r\n"
	    "m=audio 5004 RTP/SAVPF 0\r\n"
	    "c=IN IP4 0.0.0.0\r\n"
	    "a=sendrecv\r\n"
	    "m=audio 0 RTP/AVP 0\r\n"
	    "a=inactive\r\n", &info), 0);
	CU_ASSERT_EQUAL_FATAL(info.nmedia, 4);
	/* Session level sendonly is inherited... */
	CU_ASSERT(info.media[0].dir == SDP_SENDONLY && info.media[0].hold &&
	    !info.media[0].savp && info.media[0].port == 5000);
	/* ...and overridden at media level. */
	CU_ASSERT(info.media[1].dir == SDP_RECVONLY && !info.media[1].hold);
	CU_ASSERT_STRING_EQUAL(info.media[1].type, "video");
	/* c=0.0.0.0 is hold even with sendrecv; SAVPF is SAVP. */
	CU_ASSERT(info.media[2].dir == SDP_SENDRECV && info.media[2].hold &&
	    info.media[2].savp);
	CU_ASSERT(info.media[3].dir == SDP_INACTIVE && info.media[3].hold &&
	    info.media[3].port == 0);
	sdp_info_clear(&info);

	/* Session-level c=0.0.0.0 with no media-level c=. */
	CU_ASSERT_EQUAL_FATAL(inspect("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\n"
	    "s=-\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\nm=audio 5000 RTP/AVP 0\r\n",
	    &info), 0);
	CU_ASSERT(info.media[0].hold && info.media[0].dir == SDP_SENDRECV);
	sdp_info_clear(&info);
}

static void
test_which_crypto_lines_are_kept(void)
{
	struct sdp_info	 info;

	CU_ASSERT_EQUAL_FATAL(inspect(HEAD
	    "m=audio 5000 RTP/SAVP 0\r\n"
	    "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" KEY1 "|2^20|1:4\r\n"
	    "a=crypto:2 AES_CM_128_HMAC_SHA1_80 inline:" KEYG "\r\n"
	    "a=crypto:3 F8_128_HMAC_SHA1_80 inline:" KEY1 "\r\n"
	    "a=crypto:4 AEAD_AES_128_GCM inline:" KEYG "\r\n"
	    "a=crypto:5 AES_CM_128_HMAC_SHA1_32 inline:" KEY2 "|2^31 WSH=64\r\n"
	    "a=crypto:4 AES_CM_128_HMAC_SHA1_80 inline:" KEY1 "\r\n"
	    "a=crypto:garbage\r\n"
	    "a=crypto:6 AES_CM_128_HMAC_SHA1_80 inline:" KEY1 " KDR=1\r\n"
	    "a=crypto:7 AES_CM_128_HMAC_SHA1_80 inline:" KEY1
	    " WSH=64 UNENCRYPTED_SRTP\r\n", &info), 0);
	/*
	 * MKI, wrong length, duplicate tag, garbage, a session parameter
	 * other than WSH: bad; F8: skipped.
	 */
	CU_ASSERT_EQUAL(info.media[0].ncrypto, 2);
	CU_ASSERT_EQUAL(info.media[0].bad_crypto, 6);
	CU_ASSERT(info.media[0].crypto[0].tag == 4 &&
	    info.media[0].crypto[0].suite == SUITE_AEAD_AES_128_GCM);
	CU_ASSERT(info.media[0].crypto[1].tag == 5 &&
	    info.media[0].crypto[1].wsh == 64 &&
	    info.media[0].crypto[1].lifetime == 2147483648ULL);
	sdp_info_clear(&info);
}

static void
test_crypto_lines_over_the_cap_are_bad(void)
{
	struct sdp_info	 info;
	char		 body[4096];
	int		 i, n;

	n = snprintf(body, sizeof(body), "%s",
	    HEAD "m=audio 5000 RTP/SAVP 0\r\n");
	for (i = 1; i <= SDP_CRYPTO_MAX + 3; i++)
		n += snprintf(body + n, sizeof(body) - (size_t)n, "a=crypto:%d "
		    "AES_CM_128_HMAC_SHA1_80 inline:" KEY1 "\r\n", i);
	CU_ASSERT_FATAL((size_t)n < sizeof(body));
	CU_ASSERT_EQUAL_FATAL(inspect(body, &info), 0);
	CU_ASSERT_EQUAL(info.media[0].ncrypto, SDP_CRYPTO_MAX);
	CU_ASSERT_EQUAL(info.media[0].bad_crypto, 3);
	CU_ASSERT_EQUAL(info.media[0].crypto[SDP_CRYPTO_MAX - 1].tag,
	    SDP_CRYPTO_MAX);
	sdp_info_clear(&info);
}

static void
test_unusable_bodies_are_refused(void)
{
	struct sdp_info	 info;
	char		 body[1024];
	int		 i, n;

	UNIT_FAILS(inspect("", &info), UC_ERR_FORMAT, "SDP");
	UNIT_FAILS(inspect("hello\r\n", &info), UC_ERR_FORMAT, "SDP");
	UNIT_FAILS(inspect("v=0\r\n", &info), UC_ERR_FORMAT, "SDP");
	UNIT_FAILS(inspect(HEAD "m=audio abc RTP/AVP 0\r\n", &info),
	    UC_ERR_FORMAT, "port");
	UNIT_FAILS(inspect(HEAD "m=audio 65536 RTP/AVP 0\r\n", &info),
	    UC_ERR_FORMAT, "port");
	UNIT_FAILS(inspect(HEAD "m=audio -1 RTP/AVP 0\r\n", &info),
	    UC_ERR_FORMAT, "port");
	UNIT_FAILS(inspect(HEAD "m=audiovideoapplication 5 RTP/AVP 0\r\n",
	    &info), UC_ERR_FORMAT, "media type");
	UNIT_FAILS(sdp_inspect(BODY(HEAD "m=audio 5 RTP/AVP 0\r\n\0a=x\r\n"),
	    &info), UC_ERR_FORMAT, "NUL");
	n = snprintf(body, sizeof(body), "%s", HEAD);
	for (i = 0; i <= SDP_MEDIA_MAX; i++)
		n += snprintf(body + n, sizeof(body) - (size_t)n,
		    "m=audio %d RTP/AVP 0\r\n", 5000 + 2 * i);
	UNIT_FAILS(inspect(body, &info), UC_ERR_FORMAT, "too many m-lines");
	CU_ASSERT_EQUAL(info.nmedia, 0);
	/* Exactly SDP_MEDIA_MAX is fine. */
	*strrchr(body, 'm') = '\0';
	CU_ASSERT_EQUAL(inspect(body, &info), 0);
	CU_ASSERT_EQUAL(info.nmedia, SDP_MEDIA_MAX);
	sdp_info_clear(&info);
}

static void
test_lf_only_and_unterminated_bodies_parse(void)
{
	struct sdp_info	 info;

	CU_ASSERT_EQUAL(inspect("v=0\no=- 1 1 IN IP4 192.0.2.1\ns=-\nt=0 0\n"
	    "m=audio 5000 RTP/SAVP 0\na=crypto:1 AES_CM_128_HMAC_SHA1_80 "
	    "inline:" KEY1 "\n", &info), 0);
	CU_ASSERT(info.nmedia == 1 && info.media[0].ncrypto == 1);
	CU_ASSERT_EQUAL(inspect(HEAD "m=audio 5000 RTP/AVP 0\r\na=inactive",
	    &info), 0);
	CU_ASSERT(info.nmedia == 1 && info.media[0].dir == SDP_INACTIVE);
	sdp_info_clear(&info);
	CU_ASSERT_EQUAL(inspect(HEAD, &info), 0);
	CU_ASSERT_EQUAL(info.nmedia, 0);
	/*
	 * A last m= line without payloads and a bare LF or CR: libosip2
	 * reads past the NUL (fuzz-sdp); ASan builds catch a regression.
	 */
	CU_ASSERT_EQUAL(inspect(HEAD "m=audio 5 RTP/AVP\n", &info), 0);
	CU_ASSERT(info.nmedia == 1 && info.media[0].port == 5);
	CU_ASSERT_EQUAL(inspect(HEAD "m=audio 5 RTP/AVP\r", &info), 0);
	sdp_info_clear(&info);
}

static void
test_rewrite_pass_is_an_exact_copy(void)
{
	char	*out = NULL;
	size_t	 n = 0;

	CU_ASSERT_EQUAL_FATAL(sdp_rewrite(BODY(spec_offer), SDP_PASS, &out,
	    &n), 0);
	CU_ASSERT(n == sizeof(spec_offer) - 1 && out[n] == '\0' &&
	    memcmp(out, spec_offer, n) == 0);
	free(out);
	UNIT_FAILS(sdp_rewrite(BODY("not sdp"), SDP_PASS, &out, &n),
	    UC_ERR_FORMAT, NULL);
	CU_ASSERT(out == NULL && n == 0);
	UNIT_FAILS(sdp_rewrite(BODY(spec_offer), 7, &out, &n), UC_ERR_ARG,
	    "mode");
}

static void
test_rewrite_pass_drops_lines_phones_reject(void)
{
	static const char	 body[] =
	    HEAD
	    "a=crypto:9 AES_CM_128_HMAC_SHA1_80 inline:" KEY1 "\r\n"
	    "m=audio 24580 RTP/SAVP 0\r\n"
	    "a=rtpmap:0 PCMU/8000\r\n"
	    "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" KEY1 "|2^20|1:4\r\n"
	    "a=crypto:2 AES_CM_128_HMAC_SHA1_80 inline:" KEYG "\r\n"
	    "a=crypto:3 F8_128_HMAC_SHA1_80 inline:" KEY1 "\r\n"
	    "a=crypto:4 AES_CM_128_HMAC_SHA1_32 inline:" KEY2 " KDR=2\r\n"
	    "a=crypto:5 AES_CM_128_HMAC_SHA1_32 inline:" KEY2 "|2^31 WSH=64\r\n"
	    "a=crypto:5 AES_CM_128_HMAC_SHA1_80 inline:" KEY1 "\r\n"
	    "a=crypto-x:1 AES_CM_128_HMAC_SHA1_80 inline:" KEY1 "\r\n"
	    "a=CRYPTO:6 AEAD_AES_128_GCM inline:" KEYG "\r\n"
	    "a=sendrecv\r\n"
	    "m=video 24582 RTP/SAVP 96\r\n"
	    "a=crypto:5 AES_CM_128_HMAC_SHA1_80 inline:" KEYA "\n"
	    "a=crypto:garbage\r"
	    "a=rtpmap:96 H264/90000\r\n";
	static const char	 want[] =
	    HEAD
	    "m=audio 24580 RTP/SAVP 0\r\n"
	    "a=rtpmap:0 PCMU/8000\r\n"
	    "a=crypto:5 AES_CM_128_HMAC_SHA1_32 inline:" KEY2 "|2^31 WSH=64\r\n"
	    "a=CRYPTO:6 AEAD_AES_128_GCM inline:" KEYG "\r\n"
	    "a=sendrecv\r\n"
	    "m=video 24582 RTP/SAVP 96\r\n"
	    "a=crypto:5 AES_CM_128_HMAC_SHA1_80 inline:" KEYA "\n"
	    "a=rtpmap:96 H264/90000\r\n";
	struct sdp_info		 info;
	char			*out = NULL;
	size_t			 n = 0;

	CU_ASSERT_EQUAL_FATAL(sdp_rewrite(BODY(body), SDP_PASS, &out, &n), 0);
	CU_ASSERT_EQUAL(n, strlen(out));
	CU_ASSERT_STRING_EQUAL(out, want);
	/* What is left is all usable. */
	CU_ASSERT_EQUAL_FATAL(sdp_inspect(out, n, &info), 0);
	CU_ASSERT(info.nmedia == 2 && info.media[0].ncrypto == 2 &&
	    info.media[0].bad_crypto == 0 && info.media[1].ncrypto == 1 &&
	    info.media[1].bad_crypto == 0);
	sdp_info_clear(&info);
	free(out);
	/* The same rewrite again changes nothing. */
	CU_ASSERT_EQUAL_FATAL(sdp_rewrite(BODY(want), SDP_PASS, &out, &n), 0);
	CU_ASSERT(n == sizeof(want) - 1 && memcmp(out, want, n) == 0);
	free(out);
	/* A body without a line end after the last line. */
	CU_ASSERT_EQUAL_FATAL(sdp_rewrite(BODY(HEAD "m=audio 5 RTP/SAVP 0\r\n"
	    "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" KEY1 "|1:4"), SDP_PASS,
	    &out, &n), 0);
	CU_ASSERT_STRING_EQUAL(out, HEAD "m=audio 5 RTP/SAVP 0\r\n");
	free(out);
}

static void
test_rewrite_strip_removes_keys_and_savp(void)
{
	static const char	 body[] =
	    HEAD
	    "k=clear:sessionsecret\r\n"
	    "a=crypto:9 AES_CM_128_HMAC_SHA1_80 inline:" KEY1 "\r\n"
	    "m=audio 24580 RTP/SAVP 0 8 101\r\n"
	    "c=IN IP4 192.0.2.10\r\n"
	    "a=rtpmap:0 PCMU/8000\r\n"
	    "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" KEY1 "\r\n"
	    "a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:" KEY2 "\r\n"
	    "a=sendonly\r\n"
	    "m=video 24582 RTP/SAVPF 96\r\n"
	    "k=base64:c2VjcmV0\r\n"
	    "a=crypto:1 AEAD_AES_128_GCM inline:" KEYG "\r\n"
	    "a=rtcp-fb:* nack\r\n"
	    "m=application 0 UDP/TLS/RTP/SAVP 100\r\n";
	struct sdp_info		 info;
	char			*out = NULL;
	size_t			 n = 0;

	CU_ASSERT_EQUAL_FATAL(sdp_rewrite(BODY(body), SDP_STRIP, &out, &n), 0);
	CU_ASSERT_EQUAL(strlen(out), n);
	CU_ASSERT(strstr(out, "crypto") == NULL);
	CU_ASSERT(strstr(out, "inline") == NULL);
	CU_ASSERT(strstr(out, "secret") == NULL && strstr(out, "c2Vj") ==
	    NULL && strstr(out, "\nk=") == NULL);
	CU_ASSERT(strstr(out, "\r\nm=audio 24580 RTP/AVP 0 8 101\r\n") != NULL);
	CU_ASSERT(strstr(out, "\r\nm=video 24582 RTP/AVPF 96\r\n") != NULL);
	CU_ASSERT(strstr(out, "UDP/TLS/RTP/SAVP") != NULL);
	CU_ASSERT(strstr(out, "\r\na=rtpmap:0 PCMU/8000\r\n") != NULL);
	CU_ASSERT(strstr(out, "\r\na=sendonly\r\n") != NULL);
	CU_ASSERT(strstr(out, "\r\na=rtcp-fb:* nack\r\n") != NULL);
	CU_ASSERT(strncmp(out, "v=0\r\no=Cisco-SIPUA 14321 0 IN IP4 "
	    "192.0.2.10\r\n", 44) == 0);
	CU_ASSERT_FALSE(bare_eol(out, n));
	/* The result is SDP without SRTP. */
	CU_ASSERT_EQUAL_FATAL(sdp_inspect(out, n, &info), 0);
	CU_ASSERT(info.nmedia == 3 && !info.media[0].savp &&
	    !info.media[1].savp && info.media[0].ncrypto == 0 &&
	    info.media[0].bad_crypto == 0 && info.media[0].dir == SDP_SENDONLY);
	sdp_info_clear(&info);
	free(out);

	/* LF-only input comes out CRLF. */
	CU_ASSERT_EQUAL_FATAL(sdp_rewrite(BODY("v=0\no=- 1 1 IN IP4 1.2.3.4\n"
	    "s=-\nt=0 0\nm=audio 5 RTP/SAVP 0\na=crypto:1 "
	    "AES_CM_128_HMAC_SHA1_80 inline:" KEY1 "\n"), SDP_STRIP, &out, &n),
	    0);
	CU_ASSERT_FALSE(bare_eol(out, n));
	CU_ASSERT(strstr(out, "m=audio 5 RTP/AVP 0\r\n") != NULL);
	free(out);
}

/* Inspect two bodies and return sdp_srtp_agreed. */
static int
agreed(const char *offer, const char *answer)
{
	struct sdp_info	 o, a;
	int		 r = -1;

	if (inspect(offer, &o) != 0)
		return -1;
	if (inspect(answer, &a) == 0) {
		r = sdp_srtp_agreed(&o, &a);
		sdp_info_clear(&a);
	}
	sdp_info_clear(&o);
	return r;
}

#define M_SAVP	"m=audio 5000 RTP/SAVP 0\r\n"
#define M_AVP	"m=audio 5000 RTP/AVP 0\r\n"
#define M_OFF	"m=video 0 RTP/SAVP 96\r\n"
#define CR1_80	"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" KEYA "\r\n"
#define CR2_32	"a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:" KEYA "\r\n"
#define CR2_80	"a=crypto:2 AES_CM_128_HMAC_SHA1_80 inline:" KEYA "\r\n"

static void
test_srtp_agreed_and_not_agreed(void)
{
	static const char	 offer[] = HEAD M_SAVP
	    "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" KEY1 "\r\n"
	    "a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:" KEY2 "\r\n"
	    "m=video 5002 RTP/SAVP 96\r\n"
	    "a=crypto:1 AEAD_AES_128_GCM inline:" KEYG "\r\n";

	/* Both streams answered with an offered tag and suite. */
	CU_ASSERT_EQUAL(agreed(offer, HEAD M_SAVP CR2_32
	    "m=video 5002 RTP/SAVP 96\r\n"
	    "a=crypto:1 AEAD_AES_128_GCM inline:" KEYG "\r\n"), 1);
	/* A rejected video stream does not count. */
	CU_ASSERT_EQUAL(agreed(offer, HEAD M_SAVP CR1_80 M_OFF), 1);
	/* Tag offered but with another suite; suite from another m-line. */
	CU_ASSERT_EQUAL(agreed(offer, HEAD M_SAVP CR2_80 M_OFF), 0);
	CU_ASSERT_EQUAL(agreed(offer, HEAD M_SAVP
	    "a=crypto:1 AEAD_AES_128_GCM inline:" KEYG "\r\n" M_OFF), 0);
	/* Zero or two crypto lines in the answer. */
	CU_ASSERT_EQUAL(agreed(offer, HEAD M_SAVP M_OFF), 0);
	CU_ASSERT_EQUAL(agreed(offer, HEAD M_SAVP CR1_80 CR2_32 M_OFF), 0);
	/* One good line plus a refused one (MKI) is not exactly one. */
	CU_ASSERT_EQUAL(agreed(offer, HEAD M_SAVP CR1_80
	    "a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:" KEYA "|1:4\r\n" M_OFF),
	    0);
	/* RTP/AVP answer (fallback) and an all-RTP call. */
	CU_ASSERT_EQUAL(agreed(offer, HEAD M_AVP M_OFF), 0);
	CU_ASSERT_EQUAL(agreed(HEAD M_AVP, HEAD M_AVP), 0);
	/* SAVP answer to an AVP offer. */
	CU_ASSERT_EQUAL(agreed(HEAD M_AVP, HEAD M_SAVP CR1_80), 0);
	/* m-line count differs; everything rejected. */
	CU_ASSERT_EQUAL(agreed(offer, HEAD M_SAVP CR1_80), 0);
	CU_ASSERT_EQUAL(agreed(offer, HEAD "m=audio 0 RTP/SAVP 0\r\n" M_OFF),
	    0);
	/* An answer activating a stream the offer rejected. */
	CU_ASSERT_EQUAL(agreed(HEAD M_SAVP
	    "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" KEY1 "\r\n" M_OFF,
	    HEAD M_SAVP CR1_80 "m=video 5002 RTP/SAVP 96\r\n"
	    "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" KEY1 "\r\n"), 0);
}

static void
test_mask_hides_every_key(void)
{
	char	*m;

	CU_ASSERT_PTR_NOT_NULL_FATAL(m = sdp_mask(BODY(spec_offer)));
	CU_ASSERT(strstr(m, KEY1) == NULL && strstr(m, KEY2) == NULL);
	CU_ASSERT(strstr(m, "a=crypto:1 AES_CM_128_HMAC_SHA1_80 "
	    "inline:[masked]\r\na=crypto:2 AES_CM_128_HMAC_SHA1_32 "
	    "inline:[masked]\r\na=sendrecv\r\n") != NULL);
	CU_ASSERT(strncmp(m, spec_offer, strstr(spec_offer, "inline:") -
	    spec_offer) == 0);
	free(m);

	CU_ASSERT_PTR_NOT_NULL_FATAL(m = sdp_mask(BODY("a=crypto:1 X "
	    "INLINE:" KEY1 "|2^31|1:4;inline:abc WSH=64\nk=clear:pw\r\n"
	    "x=k=1\r\nk=\ninline:")));
	CU_ASSERT_STRING_EQUAL(m, "a=crypto:1 X INLINE:[masked]|2^31|1:4;"
	    "inline:[masked] WSH=64\nk=[masked]\r\nx=k=1\r\nk=[masked]\n"
	    "inline:[masked]");
	free(m);

	/* Key parameters of an a=crypto line without "inline:". */
	CU_ASSERT_PTR_NOT_NULL_FATAL(m = sdp_mask(BODY("a=crypto:1 "
	    "AES_CM_128_HMAC_SHA1_80\tinlime:" KEY1 " WSH=64\r\n"
	    "A=CRYPTO:2 S uri:x\r\na=crypto:3 S\r\n")));
	CU_ASSERT_STRING_EQUAL(m, "a=crypto:1 AES_CM_128_HMAC_SHA1_80\t"
	    "[masked] WSH=64\r\nA=CRYPTO:2 S [masked]\r\na=crypto:3 S\r\n");
	free(m);

	/* The worst growth: nothing but empty k= lines. */
	CU_ASSERT_PTR_NOT_NULL_FATAL(m = sdp_mask(BODY("k=\nk=\nk=\nk=")));
	CU_ASSERT_STRING_EQUAL(m, "k=[masked]\nk=[masked]\nk=[masked]\n"
	    "k=[masked]");
	free(m);
	CU_ASSERT_PTR_NOT_NULL_FATAL(m = sdp_mask("", 0));
	CU_ASSERT_STRING_EQUAL(m, "");
	free(m);
}

static void
test_bit_flips_never_crash(void)
{
	struct sdp_info	 info;
	char		 buf[sizeof(spec_offer)], *out, *m;
	size_t		 i, n;
	int		 bit, r;

	for (i = 0; i < sizeof(spec_offer) - 1; i++)
		for (bit = 0; bit < 8; bit += 3) {
			memcpy(buf, spec_offer, sizeof(buf));
			buf[i] ^= (char)(1 << bit);
			r = sdp_inspect(buf, sizeof(buf) - 1, &info);
			CU_ASSERT(r == 0 || r == UC_ERR_FORMAT);
			if (r == 0)
				CU_ASSERT(info.nmedia <= 1 &&
				    info.media[0].ncrypto +
				    info.media[0].bad_crypto <= 2);
			sdp_info_clear(&info);
			out = NULL;
			if (sdp_rewrite(buf, sizeof(buf) - 1, SDP_STRIP, &out,
			    &n) == 0)
				CU_ASSERT(strcasestr(out, "inline:") == NULL &&
				    strcasestr(out, "crypto") == NULL);
			free(out);
			m = sdp_mask(buf, sizeof(buf) - 1);
			CU_ASSERT(m != NULL && strstr(m, KEY1) == NULL &&
			    strstr(m, KEY2) == NULL);
			free(m);
		}
}

static const struct unit_test tests[] = {
	{ "spec 9.2 offer and answer", test_spec_9_2_offer_and_answer },
	{ "directions (media over session) and hold",
	    test_directions_and_hold },
	{ "which a=crypto lines are kept", test_which_crypto_lines_are_kept },
	{ "a=crypto lines over the cap are bad",
	    test_crypto_lines_over_the_cap_are_bad },
	{ "unusable bodies are refused", test_unusable_bodies_are_refused },
	{ "LF-only and unterminated bodies parse",
	    test_lf_only_and_unterminated_bodies_parse },
	{ "rewrite PASS is an exact copy", test_rewrite_pass_is_an_exact_copy },
	{ "rewrite PASS drops lines phones reject",
	    test_rewrite_pass_drops_lines_phones_reject },
	{ "rewrite STRIP removes keys and SAVP",
	    test_rewrite_strip_removes_keys_and_savp },
	{ "SRTP agreed and not agreed", test_srtp_agreed_and_not_agreed },
	{ "mask hides every key", test_mask_hides_every_key },
	{ "bit flips never crash", test_bit_flips_never_crash },
	{ NULL, NULL },
};

void
unit_register_sdp(void)
{
	unit_suite("sdp", tests);
}
