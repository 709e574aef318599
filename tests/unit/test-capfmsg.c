/*
 * Suite "capfmsg": the CAPF v3 message codec and certificate-auth crypto
 * (lib/capfmsg.c) against every transcript in vectors/capf-*.hex: each
 * message parses to what its "#" line says, rebuilds byte for byte,
 * fails cleanly when cut short or mutated; hand-made hostile messages;
 * the transcript's certificate and SUDI signatures; sign/verify round
 * trips; public key decoding.
 */
#include <ctype.h>
#include <glob.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "capfmsg.h"
#include "cert.h"
#include "signer.h"
#include "unit.h"
#include "wbuf.h"

#define TR_MSGS_MAX	16	/* messages in one transcript */
#define TR_DESC_MAX	1024	/* one "#" description line */
#define TR_FILES_MAX	32	/* transcripts in the vectors directory */
#define TR_FILES_MIN	8	/* the ones vectors/README.md 6 lists */

/* A message from a byte string with embedded NULs. */
#define MSG(s)	((const uint8_t *)(s)), (sizeof(s) - 1)

struct tr_msg {
	char	 dir[4];		/* "S>C" or "C>S" */
	char	 desc[TR_DESC_MAX];	/* the "#" line before it */
	uint8_t	*buf;
	size_t	 len;
};

struct transcript {
	char		 name[64];
	struct tr_msg	 msg[TR_MSGS_MAX];
	size_t		 n;
};

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Decode n lowercase hex digits; NULL on a bad digit. */
static uint8_t *
unhex(const char *s, size_t n, size_t *len)
{
	uint8_t	*out;
	size_t	 i;
	int	 hi, lo;

	if (n % 2 != 0 || (out = malloc(n / 2 + 1)) == NULL)
		return NULL;
	for (i = 0; i < n / 2; i++) {
		hi = hexval(s[2 * i]);
		lo = hexval(s[2 * i + 1]);
		if (hi < 0 || lo < 0) {
			free(out);
			return NULL;
		}
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	*len = n / 2;
	return out;
}

/* One line of a transcript; returns 0 on success. */
static int
tr_line(struct transcript *t, const char *line, size_t n, char *desc)
{
	struct tr_msg	*m;

	if (n > 0 && line[0] == '#') {
		if (n >= TR_DESC_MAX)
			return -1;
		memcpy(desc, line, n);
		desc[n] = '\0';
		return 0;
	}
	if (n == 0)
		return 0;
	if (n < 5 || (strncmp(line, "S>C ", 4) != 0 &&
	    strncmp(line, "C>S ", 4) != 0) || t->n == TR_MSGS_MAX)
		return -1;
	m = &t->msg[t->n];
	memcpy(m->dir, line, 3);
	m->dir[3] = '\0';
	snprintf(m->desc, sizeof(m->desc), "%s", desc);
	desc[0] = '\0';
	if ((m->buf = unhex(line + 4, n - 4, &m->len)) == NULL)
		return -1;
	t->n++;
	return 0;
}

/* Load a transcript (vectors/README.md 6); 0 on success. */
static int
tr_load(const char *name, struct transcript *t)
{
	char	 desc[TR_DESC_MAX] = "";
	uint8_t	*file;
	size_t	 len, i, start;
	int	 r = 0;

	memset(t, 0, sizeof(*t));
	snprintf(t->name, sizeof(t->name), "%s", name);
	if ((file = vec_read(name, &len)) == NULL)
		return -1;
	for (start = i = 0; i <= len && r == 0; i++)
		if (i == len || file[i] == '\n') {
			r = tr_line(t, (const char *)file + start, i - start,
			    desc);
			start = i + 1;
		}
	free(file);
	if (r != 0)
		fprintf(stderr, "\n  %s: bad line near message %zu\n", name,
		    t->n + 1);
	return r;
}

static void
tr_free(struct transcript *t)
{
	size_t	 i;

	for (i = 0; i < t->n; i++)
		free(t->msg[i].buf);
	t->n = 0;
}

/* Every vectors/capf-*.hex, sorted; returns the count. */
static size_t
tr_names(char names[][64], size_t max)
{
	glob_t	 g;
	size_t	 i, n = 0;
	char	 pat[1024];

	snprintf(pat, sizeof(pat), "%s", vec_path("capf-*.hex"));
	if (glob(pat, 0, NULL, &g) != 0)
		return 0;
	for (i = 0; i < g.gl_pathc && n < max; i++)
		snprintf(names[n++], 64, "%s", basename(g.gl_pathv[i]));
	globfree(&g);
	return n;
}

/* Load a transcript by name or fail the test. */
static int
tr_get(const char *name, struct transcript *t)
{
	if (tr_load(name, t) != 0) {
		CU_FAIL("transcript does not load");
		tr_free(t);
		return -1;
	}
	return 0;
}

/* Value of a small-integer element (spec 5.1). */
static long
elem_num(const struct capf_msg *m, unsigned tag)
{
	switch (tag) {
	case CAPF_T_REASON:
		return m->reason;
	case CAPF_T_CERT_TYPE:
		return m->cert_type;
	case CAPF_T_VERSION:
		return m->version;
	case CAPF_T_AUTH_TYPE:
		return m->auth_type;
	case CAPF_T_KEY_SIZE:
		return m->key_size;
	case CAPF_T_KEY_TYPE:
		return m->key_type;
	case CAPF_T_CURVE:
		return m->curve;
	default:
		return -1;
	}
}

/* Value length on the wire of a byte-valued element. */
static long
elem_len(const struct capf_msg *m, unsigned tag)
{
	switch (tag) {
	case CAPF_T_CERT:
		return (long)m->cert.len + 5;
	case CAPF_T_SIGNED_DATA:
		return (long)m->signed_data.len;
	case CAPF_T_PUBKEY:
		return (long)m->pubkey.len;
	case CAPF_T_PASSWORD:
		return (long)m->password.len + 1;
	case CAPF_T_DEVICE:
		return (long)m->device.len + 1;
	case CAPF_T_SUDI:
		return (long)(9 + m->sudi_cert.len + m->sudi_sig1.len +
		    m->sudi_sig2.len);
	case CAPF_T_SHA2_SIGNED:
		return (long)m->sha2_sig.len + 3;
	default:
		return -1;
	}
}

/* The string field of tag 11 or 13. */
static const struct capf_bytes *
elem_str(const struct capf_msg *m, unsigned tag)
{
	return tag == CAPF_T_PASSWORD ? &m->password :
	    tag == CAPF_T_DEVICE ? &m->device : NULL;
}

/* Check the nested details a "[...]" note gives for tags 4, 16, 20. */
static void
check_nested(const struct capf_msg *m, unsigned tag, const char *seg)
{
	const char	*s;
	unsigned	 a, b, c, d, e, f;

	if (tag == CAPF_T_CERT) {
		CU_ASSERT_PTR_NOT_NULL_FATAL(s = strstr(seg, "DER cert "));
		CU_ASSERT(sscanf(s, "DER cert %u", &a) == 1 &&
		    a == m->cert.len);
		CU_ASSERT_PTR_NOT_NULL(strstr(seg, "inner tag 1,"));
		CU_ASSERT_PTR_NOT_NULL(strstr(seg, "bytes 00 01"));
	} else if (tag == CAPF_T_SUDI) {
		CU_ASSERT_PTR_NOT_NULL_FATAL(s = strstr(seg, "type/len "));
		CU_ASSERT_FATAL(sscanf(s, "type/len %u/%u, %u/%u, %u/%u", &a,
		    &b, &c, &d, &e, &f) == 6);
		CU_ASSERT(a == 0 && b == m->sudi_cert.len);
		CU_ASSERT(c == m->sudi_sig1_type && d == m->sudi_sig1.len);
		CU_ASSERT(e == m->sudi_sig2_type && f == m->sudi_sig2.len);
	} else if (tag == CAPF_T_SHA2_SIGNED) {
		CU_ASSERT_PTR_NOT_NULL_FATAL(s = strstr(seg, "hash-alg "));
		CU_ASSERT(sscanf(s, "hash-alg %u, len %u", &a, &b) == 2 &&
		    a == m->sha2_alg && b == m->sha2_sig.len);
	}
}

/* One "name(tag)=value [N bytes: ...]" item; seg runs to the next item. */
static void
check_item(const struct capf_msg *m, unsigned tag, const char *seg)
{
	const struct capf_bytes	*str;
	const char		*q, *br;
	long			 n;

	if (seg[0] == '=' && seg[1] == '"') {
		CU_ASSERT_PTR_NOT_NULL_FATAL(str = elem_str(m, tag));
		CU_ASSERT_PTR_NOT_NULL_FATAL(q = strchr(seg + 2, '"'));
		CU_ASSERT((size_t)(q - seg - 2) == str->len &&
		    memcmp(seg + 2, str->p, str->len) == 0);
	} else if (seg[0] == '=') {
		CU_ASSERT_EQUAL(strtol(seg + 1, NULL, 10), elem_num(m, tag));
	}
	if ((br = strstr(seg, " [")) != NULL && (q = strchr(seg, '(')) != NULL
	    && br > q)
		br = NULL;	/* the bracket belongs to a later item */
	if (br != NULL) {
		n = strtol(br + 2, NULL, 10);
		CU_ASSERT_EQUAL(n, elem_len(m, tag));
		check_nested(m, tag, br);
	}
}

/*
 * Check a parsed message against its description line, e.g.
 * "# 3. S>C KEY_GENERATE_REQUEST(3) session=1 payload=9: key-size(10)=
 * 2048, key-type(17)=0": command name and code, session, payload length,
 * and exactly the listed elements with their values and sizes.
 */
static void
check_desc(const struct tr_msg *t, const struct capf_msg *m)
{
	char		 dir[4], name[64];
	unsigned	 idx, code, sess, pay, tag;
	uint32_t	 seen = 0;
	const char	*s, *e;

	CU_ASSERT_FATAL(sscanf(t->desc, "# %u. %3s %63[A-Z_](%u) session=%u "
	    "payload=%u:", &idx, dir, name, &code, &sess, &pay) == 6);
	CU_ASSERT_STRING_EQUAL(dir, t->dir);
	CU_ASSERT_STRING_EQUAL(capf_cmd_name(m->cmd), name);
	CU_ASSERT_EQUAL(m->cmd, code);
	CU_ASSERT_EQUAL(m->session, sess);
	CU_ASSERT_EQUAL(m->paylen, pay);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s = strchr(t->desc, ':'));
	while ((s = strchr(s, '(')) != NULL) {
		tag = (unsigned)strtoul(s + 1, (char **)&e, 10);
		CU_ASSERT_FATAL(*e == ')' && tag < 32);
		CU_ASSERT(!((seen >> tag) & 1u));
		seen |= 1u << tag;
		check_item(m, tag, e + 1);
		s = e;
	}
	CU_ASSERT_EQUAL(seen, m->present);
	CU_ASSERT_EQUAL(m->nunknown, 0);
}

/* Number of elements a parsed message had. */
static unsigned
nelems(const struct capf_msg *m)
{
	return (unsigned)__builtin_popcount(m->present) + m->nunknown;
}

/*
 * Every prefix fails as truncated; every prefix with its length field
 * patched parses only when it ends on an element boundary.
 */
static void
check_truncations(const uint8_t *buf, size_t len, unsigned nel)
{
	struct capf_msg	 m;
	uint8_t		*cut;
	size_t		 n;
	unsigned	 nok = 0, nbad = 0;

	for (n = 0; n < len; n++)
		if (capf_msg_parse(buf, n, &m) != UC_ERR_TRUNCATED ||
		    uc_errdetail()[0] == '\0')
			nbad++;
	CU_ASSERT_EQUAL(nbad, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(cut = malloc(len));
	for (n = CAPF_HDR_LEN; n < len; n++) {
		memcpy(cut, buf, n);
		cut[6] = (uint8_t)((n - CAPF_HDR_LEN) >> 8);
		cut[7] = (uint8_t)(n - CAPF_HDR_LEN);
		unit_clear_err();
		if (capf_msg_parse(cut, n, &m) == 0)
			nok++;
		else if (uc_errdetail()[0] == '\0')
			nbad++;
	}
	free(cut);
	CU_ASSERT_EQUAL(nbad, 0);
	CU_ASSERT_EQUAL(nok, nel);
}

/* One transcript message: parse, check, rebuild, truncate. */
static void
check_message(const struct tr_msg *t)
{
	struct capf_msg	 m;
	struct wbuf	 b;
	int		 r;

	r = capf_msg_parse(t->buf, t->len, &m);
	if (r != 0)
		fprintf(stderr, "\n  %s: %s\n", t->desc, uc_errdetail());
	CU_ASSERT_EQUAL_FATAL(r, 0);
	check_desc(t, &m);
	CU_ASSERT_EQUAL(capf_msg_rebuild(&m, &b), 0);
	CU_ASSERT(b.len == t->len && memcmp(b.data, t->buf, t->len) == 0);
	wbuf_free(&b);
	check_truncations(t->buf, t->len, nelems(&m));
}

static void
test_every_transcript_parses_checks_and_rebuilds(void)
{
	char			 names[TR_FILES_MAX][64];
	struct transcript	 t;
	size_t			 n, i, j, nmsg = 0;

	n = tr_names(names, TR_FILES_MAX);
	CU_ASSERT(n >= TR_FILES_MIN);
	for (i = 0; i < n; i++) {
		if (tr_get(names[i], &t) != 0)
			continue;
		CU_ASSERT(t.n >= 3);
		for (j = 0; j < t.n; j++)
			check_message(&t.msg[j]);
		nmsg += t.n;
		tr_free(&t);
	}
	CU_ASSERT(nmsg >= 30);
}

/* Every session in a transcript is the same and matches its header. */
static void
test_sessions_and_order_match_the_spec(void)
{
	static const struct {
		const char	*name;
		uint32_t	 session;
		uint8_t		 last_reason;
	} want[] = {
		{ "capf-install-rsa-password.hex", 1, CAPF_R_OK },
		{ "capf-install-ec.hex", 2, CAPF_R_OK },
		{ "capf-fetch.hex", 3, CAPF_R_NONE },
		{ "capf-install-lsc-sudi-auth.hex", 4, CAPF_R_OK },
		{ "capf-none.hex", 5, CAPF_R_NONE },
		{ "capf-delete.hex", 6, CAPF_R_OK },
		{ "capf-unknown-device.hex", 7, CAPF_R_UNKNOWN },
		{ "capf-error-bad-password.hex", 8, CAPF_R_FAIL },
	};
	struct transcript	 t;
	struct capf_msg		 m;
	size_t			 i, j;

	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		if (tr_get(want[i].name, &t) != 0)
			continue;
		for (j = 0; j < t.n; j++) {
			CU_ASSERT_EQUAL_FATAL(capf_msg_parse(t.msg[j].buf,
			    t.msg[j].len, &m), 0);
			CU_ASSERT_EQUAL(m.session, want[i].session);
			if (j == 0)
				CU_ASSERT(m.cmd == CAPF_AUTH_REQUEST &&
				    m.version == CAPF_VERSION &&
				    m.auth_type == CAPF_AT_NONE);
			if (j == 1)
				CU_ASSERT(m.cmd == CAPF_AUTH_RESPONSE &&
				    CAPF_HAS(&m, CAPF_T_DEVICE));
		}
		CU_ASSERT(m.cmd == CAPF_END_SESSION &&
		    m.reason == want[i].last_reason);
		tr_free(&t);
	}
}

/* Parse one message and check the failure code and detail. */
#define BAD(s, want, needle) do {					\
	struct capf_msg	 bm_;						\
	UNIT_FAILS(capf_msg_parse(MSG(s), &bm_), (want), (needle));	\
} while (0)

/* Parse one message that must succeed. */
static int
parse_ok(const uint8_t *buf, size_t len, struct capf_msg *m)
{
	int	 r;

	if ((r = capf_msg_parse(buf, len, m)) != 0)
		fprintf(stderr, "\n  %s\n", uc_errdetail());
	return r;
}

static void
test_header_errors(void)
{
	uint8_t		 cmd = 0;
	uint32_t	 sess = 0;
	uint16_t	 pl = 0;

	CU_ASSERT_EQUAL(capf_hdr_parse(MSG("\x55\x0f\x00\x00\x00\x06\x00\x04"
	    "\x01\x00\x01\x01"), &cmd, &sess, &pl), 0);
	CU_ASSERT(cmd == CAPF_END_SESSION && sess == 6 && pl == 4);
	CU_ASSERT_EQUAL(capf_hdr_parse(MSG("\x55\x01\x80\x00\x00\x01\xff\xff"),
	    NULL, &sess, NULL), 0);
	CU_ASSERT_EQUAL(sess, 0x80000001u);
	UNIT_FAILS(capf_hdr_parse(MSG("\x56\x01\x00\x00\x00\x01\x00\x00"),
	    &cmd, &sess, &pl), UC_ERR_FORMAT, "protocol id 0x56");
	UNIT_FAILS(capf_hdr_parse(MSG("\x55\x01\x00\x00\x00\x01\x00"), &cmd,
	    &sess, &pl), UC_ERR_TRUNCATED, "shorter than 8");
	BAD("\x56\x01\x00\x00\x00\x01\x00\x00", UC_ERR_FORMAT,
	    "protocol id 0x56, expected 0x55");
	BAD("\x00\x01\x00\x00\x00\x01\x00\x00", UC_ERR_FORMAT, "protocol id");
	BAD("", UC_ERR_TRUNCATED, "CAPF header of 0 bytes");
	BAD("\x55\x0f\x00\x00\x00\x01\x00\x08\x01\x00\x01\x01",
	    UC_ERR_TRUNCATED, "payload length 8, but 4 bytes follow");
	BAD("\x55\x0f\x00\x00\x00\x01\x00\x00\x01\x00\x01\x01",
	    UC_ERR_FORMAT, "payload length 0, but 4 bytes follow");
	BAD("\x55\x0f\x00\x00\x00\x01\x00\x03\x01\x00\x01\x01",
	    UC_ERR_FORMAT, "END_SESSION at offset 6");
}

static void
test_element_header_and_length_errors(void)
{
	BAD("\x55\x0f\x00\x00\x00\x01\x00\x02\x01\x00", UC_ERR_TRUNCATED,
	    "CAPF element at offset 8: header truncated");
	BAD("\x55\x0f\x00\x00\x00\x01\x00\x04\x01\x00\x02\x01",
	    UC_ERR_TRUNCATED, "CAPF element 1 (reason) at offset 8: length 2, "
	    "but only 1 bytes left");
	BAD("\x55\x0f\x00\x00\x00\x01\x00\x05\x01\x00\x02\x01\x00",
	    UC_ERR_FORMAT, "CAPF element 1 (reason) at offset 8: length 2, "
	    "expected 1");
	BAD("\x55\x0f\x00\x00\x00\x01\x00\x03\x01\x00\x00", UC_ERR_FORMAT,
	    "length 0, expected 1");
	BAD("\x55\x03\x00\x00\x00\x01\x00\x04\x0a\x00\x01\x08",
	    UC_ERR_FORMAT, "element 10 (key size) at offset 8: length 1, "
	    "expected 2");
	BAD("\x55\x03\x00\x00\x00\x01\x00\x04\x11\x00\x01\x00"
	    "\x55\x03\x00\x00\x00\x01\x00\x04\x11\x00\x01\x00",
	    UC_ERR_FORMAT, "payload length 4, but 16 bytes follow");
	BAD("\x55\x04\x00\x00\x00\x01\x00\x03\x09\x00\x00", UC_ERR_FORMAT,
	    "element 9 (public key) at offset 8: empty value");
	BAD("\x55\x02\x00\x00\x00\x01\x00\x03\x06\x00\x00", UC_ERR_FORMAT,
	    "element 6 (signed data) at offset 8: empty value");
}

static void
test_repeated_known_tag_is_refused(void)
{
	BAD("\x55\x0f\x00\x00\x00\x01\x00\x08\x01\x00\x01\x01\x01\x00\x01\x01",
	    UC_ERR_FORMAT, "CAPF element 1 (reason) at offset 12: repeated");
	BAD("\x55\x02\x00\x00\x00\x01\x00\x0a\x0d\x00\x02" "a\0"
	    "\x0d\x00\x02" "b\0", UC_ERR_FORMAT, "element 13 (device name) at "
	    "offset 13: repeated");
}

static void
test_string_errors(void)
{
	uint8_t		 buf[CAPF_HDR_LEN + 3 + CAPF_NAME_MAX + 1];
	struct capf_msg	 m;
	size_t		 n;

	BAD("\x55\x02\x00\x00\x00\x01\x00\x13\x01\x00\x01\x01\x07\x00\x01\x03"
	    "\x0d\x00\x08" "SEP00112", UC_ERR_FORMAT, "CAPF element 13 (device "
	    "name) at offset 16: no terminating NUL");
	BAD("\x55\x02\x00\x00\x00\x01\x00\x06\x0b\x00\x03" "1\0" "2",
	    UC_ERR_FORMAT, "element 11 (password) at offset 8: no "
	    "terminating NUL");
	BAD("\x55\x02\x00\x00\x00\x01\x00\x06\x0b\x00\x03" "1\0\0",
	    UC_ERR_FORMAT, "element 11 (password) at offset 8: NUL inside");
	BAD("\x55\x02\x00\x00\x00\x01\x00\x03\x0d\x00\x00", UC_ERR_FORMAT,
	    "element 13 (device name) at offset 8: empty");
	/* Empty password: the single NUL byte (spec 5.2). */
	CU_ASSERT_EQUAL(parse_ok(MSG("\x55\x02\x00\x00\x00\x01\x00\x04"
	    "\x0b\x00\x01\x00"), &m), 0);
	CU_ASSERT(CAPF_HAS(&m, CAPF_T_PASSWORD) && m.password.len == 0 &&
	    m.password.p[0] == '\0');
	/* Longest names: CAPF_NAME_MAX with the NUL, and one more. */
	for (n = CAPF_NAME_MAX; n <= CAPF_NAME_MAX + 1; n++) {
		memcpy(buf, "\x55\x02\x00\x00\x00\x01", 6);
		buf[6] = 0;
		buf[7] = (uint8_t)(3 + n);
		buf[8] = CAPF_T_DEVICE;
		buf[9] = 0;
		buf[10] = (uint8_t)n;
		memset(buf + 11, 'A', n - 1);
		buf[11 + n - 1] = '\0';
		if (n == CAPF_NAME_MAX) {
			CU_ASSERT_EQUAL(parse_ok(buf, 11 + n, &m), 0);
			CU_ASSERT_EQUAL(m.device.len, CAPF_NAME_MAX - 1);
			CU_ASSERT_EQUAL(strlen((const char *)m.device.p),
			    CAPF_NAME_MAX - 1);
		} else
			UNIT_FAILS(capf_msg_parse(buf, 11 + n, &m),
			    UC_ERR_FORMAT, "65 bytes, over the limit of 64");
	}
	buf[8] = CAPF_T_PASSWORD;
	UNIT_FAILS(capf_msg_parse(buf, 11 + CAPF_PASSWORD_MAX + 1, &m),
	    UC_ERR_FORMAT, "element 11 (password) at offset 8: 65 bytes");
}

static void
test_certificate_inner_header(void)
{
	struct capf_msg	 m;

	/* One DER byte behind 01 0003 00 01. */
	CU_ASSERT_EQUAL(parse_ok(MSG("\x55\x0c\x00\x00\x00\x01\x00\x09"
	    "\x04\x00\x06\x01\x00\x03\x00\x01\x30"), &m), 0);
	CU_ASSERT(m.cert.len == 1 && m.cert.p[0] == 0x30);
	/* The two bytes after the inner length are not interpreted. */
	CU_ASSERT_EQUAL(parse_ok(MSG("\x55\x0c\x00\x00\x00\x01\x00\x09"
	    "\x04\x00\x06\x01\x00\x03\xab\xcd\x30"), &m), 0);
	BAD("\x55\x0c\x00\x00\x00\x01\x00\x09\x04\x00\x06\x02\x00\x03\x00\x01"
	    "\x30", UC_ERR_FORMAT, "CAPF element 4 (certificate) at offset 8: "
	    "inner tag 2, expected 1");
	BAD("\x55\x0c\x00\x00\x00\x01\x00\x09\x04\x00\x06\x01\x00\x01\x00\x01"
	    "\x30", UC_ERR_FORMAT, "inner length 1, expected 3");
	BAD("\x55\x0c\x00\x00\x00\x01\x00\x09\x04\x00\x06\x01\x00\x06\x00\x01"
	    "\x30", UC_ERR_FORMAT, "inner length 6, expected 3");
	BAD("\x55\x0c\x00\x00\x00\x01\x00\x08\x04\x00\x05\x01\x00\x02\x00\x01",
	    UC_ERR_FORMAT, "5 bytes, no room for the 5-byte inner header");
	BAD("\x55\x0c\x00\x00\x00\x01\x00\x05\x04\x00\x02\x01\x00",
	    UC_ERR_FORMAT, "element 4 (certificate) at offset 8: 2 bytes");
}

static void
test_sha2_element(void)
{
	struct capf_msg	 m;

	CU_ASSERT_EQUAL(parse_ok(MSG("\x55\x02\x00\x00\x00\x01\x00\x07"
	    "\x14\x00\x04\x03\x00\x01\xee"), &m), 0);
	CU_ASSERT(m.sha2_alg == 3 && m.sha2_sig.len == 1 &&
	    m.sha2_sig.p[0] == 0xee);
	BAD("\x55\x02\x00\x00\x00\x01\x00\x07\x14\x00\x04\x03\x00\x02\xee",
	    UC_ERR_FORMAT, "element 20 (SHA-2 signed data) at offset 8: "
	    "signature length 2, expected 1");
	BAD("\x55\x02\x00\x00\x00\x01\x00\x06\x14\x00\x03\x03\x00\x00",
	    UC_ERR_FORMAT, "3 bytes, no room");
}

static void
test_sudi_sub_fields(void)
{
	struct capf_msg	 m;

	CU_ASSERT_EQUAL(parse_ok(MSG("\x55\x02\x00\x00\x00\x04\x00\x0f"
	    "\x10\x00\x0c\x00\x00\x01\xc1\x01\x00\x01\xa1\x03\x00\x01\xb1"),
	    &m), 0);
	CU_ASSERT(m.sudi_cert.len == 1 && m.sudi_cert.p[0] == 0xc1);
	CU_ASSERT(m.sudi_sig1_type == 1 && m.sudi_sig1.len == 1 &&
	    m.sudi_sig1.p[0] == 0xa1);
	CU_ASSERT(m.sudi_sig2_type == 3 && m.sudi_sig2.len == 1 &&
	    m.sudi_sig2.p[0] == 0xb1);
	/* Second sub-field says 2 bytes: the third runs past the element. */
	BAD("\x55\x02\x00\x00\x00\x04\x00\x0f\x10\x00\x0c\x00\x00\x01\xc1\x01"
	    "\x00\x02\xa1\x03\x00\x01\xb1", UC_ERR_FORMAT, "CAPF element 16 "
	    "(SUDI data) at offset 8: sub-field 3 length 433: past the "
	    "element");
	BAD("\x55\x02\x00\x00\x00\x04\x00\x0f\x10\x00\x0c\x00\x00\x01\xc1\x01"
	    "\x00\x01\xa1\x03\x00\x02\xb1", UC_ERR_FORMAT, "sub-field 3 length "
	    "2: past the element");
	BAD("\x55\x02\x00\x00\x00\x04\x00\x10\x10\x00\x0d\x00\x00\x01\xc1\x01"
	    "\x00\x01\xa1\x03\x00\x01\xb1\xff", UC_ERR_FORMAT, "1 bytes after "
	    "the third sub-field");
	BAD("\x55\x02\x00\x00\x00\x04\x00\x0b\x10\x00\x08\x00\x00\x01\xc1\x01"
	    "\x00\x01\xa1", UC_ERR_FORMAT, "sub-field 3 header truncated");
	BAD("\x55\x02\x00\x00\x00\x04\x00\x0e\x10\x00\x0b\x00\x00\x00\x01"
	    "\x00\x01\xa1\x03\x00\x01\xb1", UC_ERR_FORMAT, "sub-field 1 length "
	    "0: empty");
	BAD("\x55\x02\x00\x00\x00\x04\x00\x05\x10\x00\x02\x00\x00",
	    UC_ERR_FORMAT, "sub-field 1 header truncated");
}

static void
test_unknown_tags_are_skipped_and_counted(void)
{
	struct capf_msg	 m;

	CU_ASSERT_EQUAL(parse_ok(MSG("\x55\x0f\x00\x00\x00\x01\x00\x13"
	    "\x0e\x00\x02\xaa\xbb" "\x01\x00\x01\x01" "\xc8\x00\x00"
	    "\x05\x00\x01\x07" "\x0e\x00\x00"), &m), 0);
	CU_ASSERT_EQUAL(m.nunknown, 4);
	CU_ASSERT_EQUAL(m.unknown_tag, 14);
	CU_ASSERT_EQUAL(m.present, 1u << CAPF_T_REASON);
	CU_ASSERT_EQUAL(m.reason, CAPF_R_OK);
	/* An unknown element that runs past the end still fails. */
	BAD("\x55\x0f\x00\x00\x00\x01\x00\x04\xc8\x00\x05\x00",
	    UC_ERR_TRUNCATED, "CAPF element 200 (unknown) at offset 8: length "
	    "5");
}

static void
test_names(void)
{
	CU_ASSERT_STRING_EQUAL(capf_cmd_name(CAPF_AUTH_REQUEST),
	    "AUTH_REQUEST");
	CU_ASSERT_STRING_EQUAL(capf_cmd_name(CAPF_KEY_GEN_RESPONSE),
	    "KEY_GENERATE_RESPONSE");
	CU_ASSERT_STRING_EQUAL(capf_cmd_name(CAPF_END_SESSION),
	    "END_SESSION");
	CU_ASSERT_STRING_EQUAL(capf_cmd_name(CAPF_REQUEST_IN_PROGRESS),
	    "REQUEST_IN_PROGRESS");
	CU_ASSERT_STRING_EQUAL(capf_cmd_name(23), "SIGN_CERTIFICATE_RESPONSE");
	CU_ASSERT_STRING_EQUAL(capf_cmd_name(0), "unknown");
	CU_ASSERT_STRING_EQUAL(capf_cmd_name(24), "unknown");
	CU_ASSERT_STRING_EQUAL(capf_cmd_name(255), "unknown");
	CU_ASSERT_STRING_EQUAL(capf_tag_name(CAPF_T_DEVICE), "device name");
	CU_ASSERT_STRING_EQUAL(capf_tag_name(CAPF_T_SHA2_SIGNED),
	    "SHA-2 signed data");
	CU_ASSERT_STRING_EQUAL(capf_tag_name(CAPF_T_SUDI), "SUDI data");
	CU_ASSERT_STRING_EQUAL(capf_tag_name(0), "unknown");
	CU_ASSERT_STRING_EQUAL(capf_tag_name(14), "unknown");
	CU_ASSERT_STRING_EQUAL(capf_tag_name(21), "unknown");
	CU_ASSERT_STRING_EQUAL(capf_tag_name(1000), "unknown");
}

static void
test_builder_writes_the_spec_example(void)
{
	static const uint8_t	 want[] = { 0x55, 0x01, 0, 0, 0, 1, 0, 8,
				    7, 0, 1, 3, 8, 0, 1, 0 };
	struct wbuf		 b;

	wbuf_init(&b, 1024);
	capf_build_begin(&b, CAPF_AUTH_REQUEST, 1);
	capf_put_u8(&b, CAPF_T_VERSION, CAPF_VERSION);
	capf_put_u8(&b, CAPF_T_AUTH_TYPE, CAPF_AT_NONE);
	CU_ASSERT_EQUAL(capf_build_end(&b), 0);
	CU_ASSERT(b.len == sizeof(want) && memcmp(b.data, want, b.len) == 0);
	wbuf_free(&b);
	/* Empty payload: FETCH_CERTIFICATE_REQUEST of capf-fetch.hex. */
	wbuf_init(&b, 1024);
	capf_build_begin(&b, CAPF_FETCH_CERT_REQUEST, 3);
	CU_ASSERT_EQUAL(capf_build_end(&b), 0);
	CU_ASSERT(b.len == 8 && memcmp(b.data, "\x55\x0b\0\0\0\x03\0\0", 8)
	    == 0);
	/* A second message in the same buffer is refused. */
	capf_build_begin(&b, CAPF_END_SESSION, 3);
	UNIT_FAILS(capf_build_end(&b), UC_ERR_FORMAT, "CAPF message");
	wbuf_free(&b);
	wbuf_init(&b, 1024);
	UNIT_FAILS(capf_build_end(&b), UC_ERR_FORMAT, "no header");
	wbuf_free(&b);
}

static void
test_builder_refuses_oversize(void)
{
	struct wbuf	 b;
	uint8_t		*big;

	CU_ASSERT_PTR_NOT_NULL_FATAL(big = calloc(1, 70000));
	/* Two elements that fit alone but not together. */
	wbuf_init(&b, 200000);
	capf_build_begin(&b, CAPF_STORE_CERT_REQUEST, 1);
	capf_put_raw(&b, CAPF_T_PUBKEY, big, 40000);
	capf_put_raw(&b, CAPF_T_SIGNED_DATA, big, 40000);
	UNIT_FAILS(capf_build_end(&b), UC_ERR_FORMAT, "payload of 80006 "
	    "bytes, over 65535");
	wbuf_free(&b);
	/* The largest payload is fine. */
	wbuf_init(&b, CAPF_HDR_LEN + CAPF_PAYLOAD_MAX);
	capf_build_begin(&b, CAPF_STORE_CERT_REQUEST, 1);
	capf_put_raw(&b, CAPF_T_PUBKEY, big, CAPF_PAYLOAD_MAX - 3);
	CU_ASSERT_EQUAL(capf_build_end(&b), 0);
	CU_ASSERT(b.len == 8 + 65535 && b.data[6] == 0xff &&
	    b.data[7] == 0xff);
	wbuf_free(&b);
	/* One element over 16 bits, in each builder. */
	wbuf_init(&b, 200000);
	capf_build_begin(&b, CAPF_KEY_GEN_RESPONSE, 1);
	capf_put_raw(&b, CAPF_T_PUBKEY, big, 65536);
	UNIT_FAILS(capf_build_end(&b), UC_ERR_FORMAT, "over 65535");
	wbuf_free(&b);
	wbuf_init(&b, 200000);
	capf_build_begin(&b, CAPF_STORE_CERT_REQUEST, 1);
	capf_put_cert(&b, big, 65531);
	UNIT_FAILS(capf_build_end(&b), UC_ERR_FORMAT, NULL);
	wbuf_free(&b);
	wbuf_init(&b, 200000);
	capf_build_begin(&b, CAPF_AUTH_RESPONSE, 1);
	capf_put_sha2(&b, big, 65533);
	UNIT_FAILS(capf_build_end(&b), UC_ERR_FORMAT, NULL);
	wbuf_free(&b);
	wbuf_init(&b, 200000);
	capf_build_begin(&b, CAPF_AUTH_RESPONSE, 1);
	capf_put_sudi(&b, big, 30000, big, 30000, big, 5528);
	UNIT_FAILS(capf_build_end(&b), UC_ERR_FORMAT, NULL);
	wbuf_free(&b);
	/* The wbuf's own cap. */
	wbuf_init(&b, 100);
	capf_build_begin(&b, CAPF_STORE_CERT_REQUEST, 1);
	capf_put_cert(&b, big, 100);
	UNIT_FAILS(capf_build_end(&b), UC_ERR_FORMAT, NULL);
	wbuf_free(&b);
	free(big);
}

/* Mutate every byte of every transcript message two ways. */
static void
test_mutations_never_crash_and_rebuild(void)
{
	char			 names[TR_FILES_MAX][64];
	struct transcript	 t;
	struct capf_msg		 m, m2;
	struct wbuf		 b;
	uint8_t			*mut;
	size_t			 n, i, j, k, nparsed = 0, nrejected = 0;
	int			 x;

	n = tr_names(names, TR_FILES_MAX);
	for (i = 0; i < n; i++) {
		if (tr_get(names[i], &t) != 0)
			continue;
		for (j = 0; j < t.n; j++) {
			mut = malloc(t.msg[j].len);
			CU_ASSERT_PTR_NOT_NULL_FATAL(mut);
			memcpy(mut, t.msg[j].buf, t.msg[j].len);
			for (k = 0; k < t.msg[j].len; k++)
				for (x = 0x01; x <= 0x80; x <<= 7) {
					mut[k] ^= x;
					if (capf_msg_parse(mut, t.msg[j].len,
					    &m) == 0) {
						nparsed++;
						CU_ASSERT_EQUAL(capf_msg_rebuild(&m,
						    &b), 0);
						CU_ASSERT_EQUAL(capf_msg_parse(
						    b.data, b.len, &m2), 0);
						wbuf_free(&b);
					} else
						nrejected++;
					mut[k] ^= x;
				}
			free(mut);
		}
		tr_free(&t);
	}
	CU_ASSERT(nparsed > 0 && nrejected > 0);
}

/* SHA-1 of data as hex, in a static buffer. */
static const char *
sha1_hex(const uint8_t *p, size_t n)
{
	uint8_t		 md[EVP_MAX_MD_SIZE];
	unsigned	 mdlen = 0;

	if (EVP_Digest(p, n, md, &mdlen, EVP_sha1(), NULL) != 1)
		return "";
	return unit_hex(md, mdlen);
}

/* Copy of sig with one byte flipped. */
static uint8_t *
flipped(const struct capf_bytes *sig, size_t at)
{
	uint8_t	*p;

	if ((p = malloc(sig->len)) == NULL)
		return NULL;
	memcpy(p, sig->p, sig->len);
	p[at % sig->len] ^= 0x01;
	return p;
}

/* sig verifies over data; a flipped byte anywhere breaks it. */
static void
check_sig(EVP_PKEY *pk, enum signer_md md, const uint8_t *data,
    size_t len, const struct capf_bytes *sig)
{
	uint8_t	*bad;
	size_t	 at;

	CU_ASSERT_EQUAL(capf_sig_verify(pk, md, data, len, sig->p, sig->len),
	    0);
	for (at = 0; at < sig->len; at += 37) {
		CU_ASSERT_PTR_NOT_NULL_FATAL(bad = flipped(sig, at));
		UNIT_FAILS(capf_sig_verify(pk, md, data, len, bad, sig->len),
		    UC_ERR_SIGNATURE, "signature");
		free(bad);
	}
	/* The other digest, and a shortened signature, do not verify. */
	UNIT_FAILS(capf_sig_verify(pk, md == SIGNER_SHA1 ? SIGNER_SHA512 :
	    SIGNER_SHA1, data, len, sig->p, sig->len), UC_ERR_SIGNATURE,
	    "bare");
	UNIT_FAILS(capf_sig_verify(pk, md, data, len, sig->p + 1,
	    sig->len - 1), UC_ERR_SIGNATURE, "modulus");
}

/* Message 2 of the LSC + SUDI transcript, or -1. */
static int
sudi_auth_msg(struct transcript *t, struct capf_msg *m)
{
	if (tr_get("capf-install-lsc-sudi-auth.hex", t) != 0)
		return -1;
	if (t->n < 2 || capf_msg_parse(t->msg[1].buf, t->msg[1].len, m) != 0) {
		CU_FAIL("AUTH_RESPONSE of capf-install-lsc-sudi-auth.hex");
		tr_free(t);
		return -1;
	}
	return 0;
}

static void
test_transcript_certificate_signatures_verify(void)
{
	struct transcript	 t;
	struct capf_msg		 m;
	X509			*x = NULL, *lsc;
	uint8_t			*ad = NULL;
	size_t			 adlen = 0;

	if (sudi_auth_msg(&t, &m) != 0)
		return;
	CU_ASSERT(CAPF_HAS(&m, CAPF_T_CERT) &&
	    CAPF_HAS(&m, CAPF_T_SIGNED_DATA) &&
	    CAPF_HAS(&m, CAPF_T_SHA2_SIGNED) && m.sha2_alg == CAPF_HASH_SHA512);
	CU_ASSERT_STRING_EQUAL(sha1_hex(m.cert.p, m.cert.len),
	    "d0b41b9a733664a7fa640338181a1be31528f6c8");
	CU_ASSERT_EQUAL_FATAL(cert_from_der(m.cert.p, m.cert.len, &x), 0);
	if ((lsc = vec_cert("capf-lsc-SEP0011223344CC-rsa-1.pem")) != NULL) {
		CU_ASSERT_EQUAL(X509_cmp(x, lsc), 0);
		X509_free(lsc);
	}
	CU_ASSERT_EQUAL(capf_auth_data((const char *)m.device.p, m.cert.p,
	    m.cert.len, &ad, &adlen), 0);
	CU_ASSERT_FATAL(ad != NULL && adlen == 16 + m.cert.len);
	CU_ASSERT(memcmp(ad, "SEP0011223344CC\0", 16) == 0);
	CU_ASSERT_STRING_EQUAL(sha1_hex(ad, adlen),
	    "ab2277eff035ef47c37d85fbd1a025f28bcdf4be");
	check_sig(X509_get0_pubkey(x), SIGNER_SHA1, ad, adlen, &m.signed_data);
	check_sig(X509_get0_pubkey(x), SIGNER_SHA512, ad, adlen, &m.sha2_sig);
	/* A changed device name breaks both. */
	ad[3] = 'X';
	UNIT_FAILS(capf_sig_verify(X509_get0_pubkey(x), SIGNER_SHA1, ad,
	    adlen, m.signed_data.p, m.signed_data.len), UC_ERR_SIGNATURE, NULL);
	UNIT_FAILS(capf_sig_verify(X509_get0_pubkey(x), SIGNER_SHA512, ad,
	    adlen, m.sha2_sig.p, m.sha2_sig.len), UC_ERR_SIGNATURE, NULL);
	free(ad);
	X509_free(x);
	tr_free(&t);
}

static void
test_transcript_sudi_signatures_verify(void)
{
	struct transcript	 t;
	struct capf_msg		 m;
	X509			*x = NULL, *sudi;
	uint8_t			*ad = NULL;
	size_t			 adlen = 0;

	if (sudi_auth_msg(&t, &m) != 0)
		return;
	CU_ASSERT(CAPF_HAS(&m, CAPF_T_SUDI) && m.sudi_sig2_type ==
	    CAPF_HASH_SHA512 && m.session == 4);
	CU_ASSERT_EQUAL_FATAL(cert_from_der(m.sudi_cert.p, m.sudi_cert.len,
	    &x), 0);
	if ((sudi = vec_cert("sudi.crt")) != NULL) {
		CU_ASSERT_EQUAL(X509_cmp(x, sudi), 0);
		X509_free(sudi);
	}
	CU_ASSERT_EQUAL(capf_sudi_data(m.session, m.sudi_cert.p,
	    m.sudi_cert.len, &ad, &adlen), 0);
	CU_ASSERT_FATAL(ad != NULL && adlen == 4 + m.sudi_cert.len);
	CU_ASSERT(memcmp(ad, "\x04\x00\x00\x00", 4) == 0);
	CU_ASSERT_STRING_EQUAL(sha1_hex(ad, adlen),
	    "1bab50980ce57302813c84046060f05a2a2f8d0e");
	check_sig(X509_get0_pubkey(x), SIGNER_SHA1, ad, adlen, &m.sudi_sig1);
	check_sig(X509_get0_pubkey(x), SIGNER_SHA512, ad, adlen, &m.sudi_sig2);
	free(ad);
	/* The session big-endian (as in the header) does not verify. */
	CU_ASSERT_EQUAL(capf_sudi_data(0x04000000u, m.sudi_cert.p,
	    m.sudi_cert.len, &ad, &adlen), 0);
	CU_ASSERT(ad != NULL && memcmp(ad, "\x00\x00\x00\x04", 4) == 0);
	UNIT_FAILS(capf_sig_verify(X509_get0_pubkey(x), SIGNER_SHA1, ad, adlen,
	    m.sudi_sig1.p, m.sudi_sig1.len), UC_ERR_SIGNATURE, NULL);
	free(ad);
	X509_free(x);
	tr_free(&t);
}

static void
test_auth_data_layout(void)
{
	uint8_t	*p = NULL;
	size_t	 n = 0;

	CU_ASSERT_EQUAL(capf_auth_data("SEP1", MSG("\x30\x01"), &p, &n), 0);
	CU_ASSERT(n == 7 && p != NULL && memcmp(p, "SEP1\0\x30\x01", 7) == 0);
	free(p);
	CU_ASSERT_EQUAL(capf_sudi_data(0x01020304u, MSG("\x30"), &p, &n), 0);
	CU_ASSERT(n == 5 && p != NULL &&
	    memcmp(p, "\x04\x03\x02\x01\x30", 5) == 0);
	free(p);
	UNIT_FAILS(capf_auth_data("SEP1", NULL, 0, &p, &n), UC_ERR_ARG,
	    "empty certificate");
	CU_ASSERT_PTR_NULL(p);
	UNIT_FAILS(capf_sudi_data(1, NULL, 0, &p, &n), UC_ERR_ARG, NULL);
}

/* Sign and verify both digests; a flipped byte must fail. */
static void
round_trip(EVP_PKEY *pk)
{
	static const uint8_t	 data[] = "SEP0011223344CC\0<certificate DER>";
	uint8_t			 sig[SIGNER_SIG_MAX];
	struct capf_bytes	 b;
	size_t			 siglen;
	enum signer_md		 md;

	for (md = SIGNER_SHA1; md < SIGNER_MD__MAX; md++) {
		siglen = sizeof(sig);
		CU_ASSERT_EQUAL_FATAL(capf_sig_sign(pk, md, data, sizeof(data),
		    sig, &siglen), 0);
		CU_ASSERT(siglen > 0 &&
		    siglen <= (size_t)EVP_PKEY_get_size(pk));
		b.p = sig;
		b.len = siglen;
		CU_ASSERT_EQUAL(capf_sig_verify(pk, md, data, sizeof(data),
		    sig, siglen), 0);
		sig[siglen / 2] ^= 0x10;
		UNIT_FAILS(capf_sig_verify(pk, md, data, sizeof(data), b.p,
		    b.len), UC_ERR_SIGNATURE, "signature");
		sig[siglen / 2] ^= 0x10;
		UNIT_FAILS(capf_sig_verify(pk, md, data, sizeof(data) - 1,
		    b.p, b.len), UC_ERR_SIGNATURE, NULL);
	}
	siglen = (size_t)EVP_PKEY_get_size(pk) - 1;
	UNIT_FAILS(capf_sig_sign(pk, SIGNER_SHA1, data, sizeof(data), sig,
	    &siglen), UC_ERR_ARG, "buffer");
	siglen = sizeof(sig);
	UNIT_FAILS(capf_sig_sign(pk, SIGNER_MD__MAX, data, sizeof(data), sig,
	    &siglen), UC_ERR_ARG, "bad digest");
	UNIT_FAILS(capf_sig_verify(pk, SIGNER_SHA1, data, sizeof(data), NULL,
	    0), UC_ERR_SIGNATURE, "empty");
}

/* Standard PKCS#1 v1.5 verify of sig (with DigestInfo). */
static int
std_verify(EVP_PKEY *pk, const EVP_MD *md, const uint8_t *data, size_t len,
    const uint8_t *sig, size_t siglen)
{
	EVP_MD_CTX	*ctx;
	int		 ok;

	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return 0;
	ok = EVP_DigestVerifyInit(ctx, NULL, md, NULL, pk) == 1 &&
	    EVP_DigestVerify(ctx, sig, siglen, data, len) == 1;
	EVP_MD_CTX_free(ctx);
	return ok;
}

/* Raw block-type-1 RSA signature of payload (no digest). */
static size_t
raw_sign(EVP_PKEY *pk, const uint8_t *payload, size_t len, uint8_t *sig,
    size_t siglen)
{
	EVP_PKEY_CTX	*ctx;
	int		 ok;

	if ((ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL)) == NULL)
		return 0;
	ok = EVP_PKEY_sign_init(ctx) == 1 &&
	    EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) == 1 &&
	    EVP_PKEY_sign(ctx, sig, &siglen, payload, len) == 1;
	EVP_PKEY_CTX_free(ctx);
	return ok ? siglen : 0;
}

/*
 * The recovered payload must be exactly the digest: the digest with a
 * byte after it, or before it (the reference's suffix check would take
 * that), does not verify.
 */
static void
check_rsa_payload_exact(EVP_PKEY *pk)
{
	static const uint8_t	 data[] = "auth data";
	uint8_t			 h[1 + 64 + 1], sig[SIGNER_SIG_MAX];
	size_t			 n;

	CU_ASSERT(EVP_Digest(data, sizeof(data), h + 1, NULL, EVP_sha512(),
	    NULL));
	h[0] = h[65] = 0x00;
	CU_ASSERT_FATAL((n = raw_sign(pk, h + 1, 64, sig, sizeof(sig))) > 0);
	CU_ASSERT_EQUAL(capf_sig_verify(pk, SIGNER_SHA512, data, sizeof(data),
	    sig, n), 0);
	CU_ASSERT_FATAL((n = raw_sign(pk, h + 1, 65, sig, sizeof(sig))) > 0);
	UNIT_FAILS(capf_sig_verify(pk, SIGNER_SHA512, data, sizeof(data), sig,
	    n), UC_ERR_SIGNATURE, "bare 64-byte digest");
	CU_ASSERT_FATAL((n = raw_sign(pk, h, 65, sig, sizeof(sig))) > 0);
	UNIT_FAILS(capf_sig_verify(pk, SIGNER_SHA512, data, sizeof(data), sig,
	    n), UC_ERR_SIGNATURE, "bare 64-byte digest");
}

/*
 * RSA: the signature is the bare-hash form 00 01 FF.. 00 || H, not a
 * standard PKCS#1 v1.5 signature, and a standard one does not verify.
 */
static void
check_rsa_block(EVP_PKEY *pk)
{
	static const uint8_t	 data[] = "auth data";
	uint8_t			 sig[SIGNER_SIG_MAX], em[SIGNER_SIG_MAX];
	uint8_t			 h[20];
	size_t			 siglen = sizeof(sig), emlen = sizeof(em), i;
	EVP_PKEY_CTX		*ctx;

	CU_ASSERT_EQUAL_FATAL(capf_sig_sign(pk, SIGNER_SHA1, data,
	    sizeof(data), sig, &siglen), 0);
	CU_ASSERT_EQUAL(siglen, 256);
	CU_ASSERT_PTR_NOT_NULL_FATAL(ctx = EVP_PKEY_CTX_new_from_pkey(NULL,
	    pk, NULL));
	CU_ASSERT(EVP_PKEY_verify_recover_init(ctx) == 1 &&
	    EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_NO_PADDING) == 1 &&
	    EVP_PKEY_verify_recover(ctx, em, &emlen, sig, siglen) == 1);
	EVP_PKEY_CTX_free(ctx);
	CU_ASSERT_FATAL(emlen == 256);
	CU_ASSERT(EVP_Digest(data, sizeof(data), h, NULL, EVP_sha1(), NULL));
	CU_ASSERT(em[0] == 0x00 && em[1] == 0x01 && em[256 - 21] == 0x00);
	for (i = 2; i < 256 - 21; i++)
		if (em[i] != 0xff)
			break;
	CU_ASSERT_EQUAL(i, 256 - 21);
	CU_ASSERT(memcmp(em + 256 - 20, h, 20) == 0);
	CU_ASSERT_FALSE(std_verify(pk, EVP_sha1(), data, sizeof(data), sig,
	    siglen));
	siglen = sizeof(sig);
	CU_ASSERT_EQUAL_FATAL(signer_evp_sign(pk, SIGNER_SHA1, data,
	    sizeof(data), sig, &siglen), 0);
	UNIT_FAILS(capf_sig_verify(pk, SIGNER_SHA1, data, sizeof(data), sig,
	    siglen), UC_ERR_SIGNATURE, "bare 20-byte digest");
}

static void
test_rsa_sign_verify_round_trip(void)
{
	EVP_PKEY	*pk;

	pk = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	CU_ASSERT_PTR_NOT_NULL_FATAL(pk);
	round_trip(pk);
	check_rsa_block(pk);
	check_rsa_payload_exact(pk);
	EVP_PKEY_free(pk);
}

static void
test_ec_sign_verify_round_trip(void)
{
	static const uint8_t	 data[] = "auth data";
	uint8_t			 sig[SIGNER_SIG_MAX];
	size_t			 siglen = sizeof(sig);
	EVP_PKEY		*pk, *ed;

	pk = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	CU_ASSERT_PTR_NOT_NULL_FATAL(pk);
	round_trip(pk);
	/* Ordinary ECDSA: plain EVP verifies it. */
	CU_ASSERT_EQUAL(capf_sig_sign(pk, SIGNER_SHA512, data, sizeof(data),
	    sig, &siglen), 0);
	CU_ASSERT(std_verify(pk, EVP_sha512(), data, sizeof(data), sig,
	    siglen));
	UNIT_FAILS(capf_sig_verify(pk, SIGNER_SHA512, data, sizeof(data),
	    MSG("\x30\x06\x02\x01\x01\x02\x01\x01")), UC_ERR_SIGNATURE,
	    "ECDSA");
	EVP_PKEY_free(pk);
	/* Other key types are refused. */
	ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	CU_ASSERT_PTR_NOT_NULL_FATAL(ed);
	siglen = sizeof(sig);
	UNIT_FAILS(capf_sig_sign(ed, SIGNER_SHA1, data, sizeof(data), sig,
	    &siglen), UC_ERR_UNSUPPORTED, "only RSA and EC");
	UNIT_FAILS(capf_sig_verify(ed, SIGNER_SHA1, data, sizeof(data), sig,
	    64), UC_ERR_UNSUPPORTED, "only RSA and EC");
	EVP_PKEY_free(ed);
}

/* The tag 9 public key of message idx of a transcript (caller frees). */
static EVP_PKEY *
transcript_pubkey(const char *name, size_t idx, size_t *derlen)
{
	struct transcript	 t;
	struct capf_msg		 m;
	EVP_PKEY		*pk = NULL;

	if (tr_get(name, &t) != 0)
		return NULL;
	if (idx < t.n && capf_msg_parse(t.msg[idx].buf, t.msg[idx].len,
	    &m) == 0 && CAPF_HAS(&m, CAPF_T_PUBKEY)) {
		*derlen = m.pubkey.len;
		CU_ASSERT_EQUAL(capf_pubkey_parse(m.pubkey.p, m.pubkey.len,
		    &pk), 0);
	} else
		CU_FAIL("no public key in the transcript message");
	tr_free(&t);
	return pk;
}

/* pk is the public key of the LSC in vector file lsc. */
static void
check_lsc_key(EVP_PKEY *pk, const char *lsc)
{
	X509	*x;

	if (pk == NULL || (x = vec_cert(lsc)) == NULL)
		return;
	CU_ASSERT_EQUAL(EVP_PKEY_eq(pk, X509_get0_pubkey(x)), 1);
	X509_free(x);
}

static void
test_pubkey_from_transcripts(void)
{
	EVP_PKEY	*pk;
	size_t		 len = 0;

	pk = transcript_pubkey("capf-install-rsa-password.hex", 4, &len);
	CU_ASSERT(pk != NULL && EVP_PKEY_is_a(pk, "RSA") &&
	    EVP_PKEY_get_bits(pk) == 2048 && len == 294);
	check_lsc_key(pk, "capf-lsc-SEP0011223344CC-rsa-1.pem");
	EVP_PKEY_free(pk);
	pk = transcript_pubkey("capf-install-lsc-sudi-auth.hex", 4, &len);
	check_lsc_key(pk, "capf-lsc-SEP0011223344CC-rsa-2.pem");
	EVP_PKEY_free(pk);
	pk = transcript_pubkey("capf-install-ec.hex", 4, &len);
	CU_ASSERT(pk != NULL && EVP_PKEY_is_a(pk, "EC") && len == 91);
	check_lsc_key(pk, "capf-lsc-SEP0011223344DD-ec.pem");
	EVP_PKEY_free(pk);
}

/* der with one byte appended must be refused as trailing. */
static void
check_trailing(const uint8_t *der, size_t len, const char *needle)
{
	uint8_t		*p;
	EVP_PKEY	*pk = NULL;

	CU_ASSERT_PTR_NOT_NULL_FATAL(p = malloc(len + 1));
	memcpy(p, der, len);
	p[len] = 0x00;
	UNIT_FAILS(capf_pubkey_parse(p, len + 1, &pk), UC_ERR_FORMAT, needle);
	CU_ASSERT_PTR_NULL(pk);
	free(p);
}

static void
test_pubkey_pkcs1_and_trailing_bytes(void)
{
	EVP_PKEY	*pk, *back = NULL;
	uint8_t		*spki = NULL, *pkcs1 = NULL;
	int		 nspki, npkcs1;

	pk = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	CU_ASSERT_PTR_NOT_NULL_FATAL(pk);
	nspki = i2d_PUBKEY(pk, &spki);
	npkcs1 = i2d_PublicKey(pk, &pkcs1);
	CU_ASSERT_FATAL(nspki > 0 && npkcs1 > 0 && nspki != npkcs1);
	CU_ASSERT_EQUAL(capf_pubkey_parse(pkcs1, (size_t)npkcs1, &back), 0);
	CU_ASSERT(back != NULL && EVP_PKEY_eq(pk, back) == 1);
	EVP_PKEY_free(back);
	back = NULL;
	CU_ASSERT_EQUAL(capf_pubkey_parse(spki, (size_t)nspki, &back), 0);
	CU_ASSERT(back != NULL && EVP_PKEY_eq(pk, back) == 1);
	EVP_PKEY_free(back);
	check_trailing(spki, (size_t)nspki, "1 trailing bytes after the "
	    "SubjectPublicKeyInfo");
	check_trailing(pkcs1, (size_t)npkcs1, "1 trailing bytes after the "
	    "PKCS#1 RSAPublicKey");
	/* Cut short, garbage, empty. */
	back = NULL;
	UNIT_FAILS(capf_pubkey_parse(spki, (size_t)nspki - 1, &back),
	    UC_ERR_FORMAT, "neither");
	UNIT_FAILS(capf_pubkey_parse(MSG("\x30\x03\x02\x01\x01"), &back),
	    UC_ERR_FORMAT, "neither a DER SubjectPublicKeyInfo nor a PKCS#1");
	UNIT_FAILS(capf_pubkey_parse(NULL, 0, &back), UC_ERR_FORMAT,
	    "0 bytes");
	CU_ASSERT_PTR_NULL(back);
	OPENSSL_free(spki);
	OPENSSL_free(pkcs1);
	EVP_PKEY_free(pk);
}

static const struct unit_test tests[] = {
	{ "every transcript message parses, matches its comment, rebuilds "
	    "byte for byte and fails cleanly when truncated",
	    test_every_transcript_parses_checks_and_rebuilds },
	{ "transcript sessions and first/last messages match the spec",
	    test_sessions_and_order_match_the_spec },
	{ "header: wrong id, short, payload length mismatch",
	    test_header_errors },
	{ "element header truncated, element length and fixed sizes",
	    test_element_header_and_length_errors },
	{ "a repeated known tag is refused",
	    test_repeated_known_tag_is_refused },
	{ "strings: one NUL at the end, none inside, within the limits",
	    test_string_errors },
	{ "certificate inner header: tag 1, length = value - 3",
	    test_certificate_inner_header },
	{ "SHA-2 signed data: signature length must match",
	    test_sha2_element },
	{ "SUDI data: three sub-fields fill the element exactly",
	    test_sudi_sub_fields },
	{ "unknown tags are skipped and counted",
	    test_unknown_tags_are_skipped_and_counted },
	{ "command and tag names", test_names },
	{ "builder writes the spec 7.1 example and an empty payload",
	    test_builder_writes_the_spec_example },
	{ "builder refuses elements and payloads over 65535 bytes",
	    test_builder_refuses_oversize },
	{ "mutated transcript messages never crash; parsed ones rebuild",
	    test_mutations_never_crash_and_rebuild },
	{ "transcript LSC signatures (tags 6 and 20) verify, altered fail",
	    test_transcript_certificate_signatures_verify },
	{ "transcript SUDI signatures verify with the session little-endian",
	    test_transcript_sudi_signatures_verify },
	{ "auth data layouts (spec 8.3, 8.4)", test_auth_data_layout },
	{ "RSA-2048 bare-hash sign/verify round trip and block layout",
	    test_rsa_sign_verify_round_trip },
	{ "EC P-256 ECDSA sign/verify round trip; other keys refused",
	    test_ec_sign_verify_round_trip },
	{ "public keys of the transcripts match the issued LSCs",
	    test_pubkey_from_transcripts },
	{ "PKCS#1 RSAPublicKey accepted; trailing bytes and garbage refused",
	    test_pubkey_pkcs1_and_trailing_bytes },
	{ NULL, NULL }
};

void
unit_register_capfmsg(void)
{
	unit_suite("capfmsg", tests);
}
