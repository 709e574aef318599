/*
 * capf-replay: drive the capfd session state machine (capf/capfsm.c)
 * with the phone's side of each reference transcript
 * ($UCSEC_VECTORS/capf-*.hex) and check every server message against
 * the reference server's: same command and session, same element tags
 * in the same order, same small values; a STORE_CERTIFICATE_REQUEST's
 * LSC must match the reference's in subject, issuer, extensions and
 * public key (the phone's element 9).  Then the store is checked.
 * Variants of the transcripts (mutated bytes, other auth modes, lockout,
 * deadlines) check the failures.  Prints PASS/FAIL per case and
 * "N passed, M failed"; exits 1 on any failure.
 */
#include <sys/stat.h>

#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "capfmsg.h"
#include "capfsm.h"
#include "cert.h"
#include "cursor.h"
#include "fileio.h"
#include "signer.h"
#include "store.h"
#include "uerr.h"

#define XMSG_MAX	24	/* messages in one transcript */
#define FILE_MAX	(256 * 1024)
#define STEPS_MAX	64	/* job/step rounds per message */
/* A fixed clock inside every vector certificate's validity. */
#define REPLAY_NOW	1795700000	/* 2026-11-26 13:33:20 UTC */

struct xmsg {
	int		 from_server;
	uint8_t		*p;
	size_t		 len;
};

struct transcript {
	struct xmsg	 m[XMSG_MAX];
	int		 n;
	uint32_t	 session;
};

/* One replay: store setup, a transcript (maybe changed), checks. */
struct rcase {
	const char	*name;
	const char	*file;
	const char	*device;	/* NULL: no task row */
	int		 op;
	int		 auth;
	int		 key_type;
	int		 key_bits;
	int		 curve;
	const char	*password;	/* auth string, or NULL */
	int		 trust_mfg;	/* mfg-ca.crt in trust store "capf" */
	const char	*precert;	/* an installed LSC row before */
	int64_t		 deadline;
	int		 lockout;	/* 0: CAPFSM_LOCKOUT_DEF */
	int		 runs;		/* sessions in a row (0 = 1) */
	/* Change the transcript; NULL keeps it. */
	int		(*edit)(struct transcript *);
	/* Check the store afterwards; 0 = good. */
	int		(*check)(struct store *, const struct rcase *);
	/* An LSC (vector name) on record for DEV_OTHER before. */
	const char	*othercert;
	/* Drive sessions by hand instead of replaying; 0 = good. */
	int		(*drive)(struct store *, const struct capfsm_ctx *,
			    const struct capfsm_creds *,
			    const struct transcript *, const struct rcase *);
};

#define DEV_OTHER	"SEP0011223344EF"


static char	 failmsg[512];
static const char *vecdir;
static struct signer *capf;

static int
fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int
fail(const char *fmt, ...)
{
	va_list	 ap;

	if (failmsg[0] == '\0') {
		va_start(ap, fmt);
		vsnprintf(failmsg, sizeof(failmsg), fmt, ap);
		va_end(ap);
	}
	return -1;
}

static const char *
vpath(const char *name)
{
	static char	 buf[PATH_MAX];

	snprintf(buf, sizeof(buf), "%s/%s", vecdir, name);
	return buf;
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decode the hex run at s (ends at NUL or newline) into a new buffer. */
static int
hex_line(const char *s, size_t n, struct xmsg *x)
{
	size_t	 i;
	int	 hi, lo;

	if (n % 2 != 0 || n == 0 || (x->p = malloc(n / 2)) == NULL)
		return fail("odd or empty hex run");
	for (i = 0; i < n; i += 2) {
		if ((hi = hexval(s[i])) < 0 || (lo = hexval(s[i + 1])) < 0)
			return fail("bad hex digit");
		x->p[i / 2] = (uint8_t)(hi << 4 | lo);
	}
	x->len = n / 2;
	return 0;
}

static void
transcript_free(struct transcript *t)
{
	int	 i;

	for (i = 0; i < t->n; i++)
		free(t->m[i].p);
	memset(t, 0, sizeof(*t));
}

/* "S>C hex" / "C>S hex" lines; "#" lines are comments. */
static int
transcript_load(const char *file, struct transcript *t)
{
	uint8_t		*buf = NULL;
	size_t		 len, n;
	char		*line, *nl;
	int		 r = -1;

	memset(t, 0, sizeof(*t));
	if (file_read(vpath(file), FILE_MAX, &buf, &len) != 0)
		return fail("%s", uc_errdetail());
	if (len == 0 || buf[len - 1] != '\n') {
		fail("%s: empty or no final newline", file);
		goto out;
	}
	buf[len - 1] = '\0';
	for (line = (char *)buf; line != NULL && *line != '\0'; line = nl) {
		if ((nl = strchr(line, '\n')) != NULL)
			*nl++ = '\0';
		if (line[0] == '#' || line[0] == '\0')
			continue;
		if (t->n == XMSG_MAX || strlen(line) < 5 ||
		    (strncmp(line, "S>C ", 4) && strncmp(line, "C>S ", 4))) {
			fail("%s: bad line \"%.20s\"", file, line);
			goto out;
		}
		t->m[t->n].from_server = line[0] == 'S';
		n = strlen(line + 4);
		if (hex_line(line + 4, n, &t->m[t->n]) != 0)
			goto out;
		t->n++;
	}
	if (t->n < 2 || t->m[0].len < CAPF_HDR_LEN ||
	    capf_hdr_parse(t->m[0].p, t->m[0].len, NULL, &t->session,
	    NULL) != 0) {
		fail("%s: no usable first message", file);
		goto out;
	}
	r = 0;
out:
	free(buf);
	if (r != 0)
		transcript_free(t);
	return r;
}

/* Same extensions in order, criticality and DER value. */
static int
same_exts(const X509 *a, const X509 *b)
{
	X509_EXTENSION	*ea, *eb;
	int		 i;

	if (X509_get_ext_count(a) != X509_get_ext_count(b))
		return fail("LSC has %d extensions, reference %d",
		    X509_get_ext_count(a), X509_get_ext_count(b));
	for (i = 0; i < X509_get_ext_count(a); i++) {
		ea = X509_get_ext(a, i);
		eb = X509_get_ext(b, i);
		if (OBJ_cmp(X509_EXTENSION_get_object(ea),
		    X509_EXTENSION_get_object(eb)) != 0 ||
		    X509_EXTENSION_get_critical(ea) !=
		    X509_EXTENSION_get_critical(eb) ||
		    ASN1_STRING_cmp(X509_EXTENSION_get_data(ea),
		    X509_EXTENSION_get_data(eb)) != 0)
			return fail("LSC extension %d differs", i);
	}
	return 0;
}

/* The public key of the last KEY_GENERATE_RESPONSE before index i. */
static EVP_PKEY *
phone_key(const struct transcript *t, int i)
{
	struct capf_msg	 m;
	EVP_PKEY	*pk;

	while (--i >= 0) {
		if (t->m[i].from_server || capf_msg_parse(t->m[i].p,
		    t->m[i].len, &m) != 0 || m.cmd != CAPF_KEY_GEN_RESPONSE ||
		    !CAPF_HAS(&m, CAPF_T_PUBKEY))
			continue;
		if (capf_pubkey_parse(m.pubkey.p, m.pubkey.len, &pk) == 0)
			return pk;
	}
	return NULL;
}

/* Our LSC against the reference's in the transcript message ti. */
static int
same_lsc(const uint8_t *mine, size_t mlen, const struct transcript *t,
    int ti, const uint8_t *ref, size_t rlen)
{
	X509		*a = NULL, *b = NULL;
	EVP_PKEY	*pk = NULL;
	int		 r = -1;

	if (cert_from_der(mine, mlen, &a) != 0 ||
	    cert_from_der(ref, rlen, &b) != 0) {
		fail("LSC does not parse: %s", uc_errdetail());
		goto out;
	}
	if (X509_NAME_cmp(X509_get_subject_name(a),
	    X509_get_subject_name(b)) != 0 ||
	    X509_NAME_cmp(X509_get_issuer_name(a),
	    X509_get_issuer_name(b)) != 0) {
		fail("LSC subject or issuer differs");
		goto out;
	}
	if ((pk = phone_key(t, ti)) == NULL ||
	    EVP_PKEY_eq(X509_get0_pubkey(a), pk) != 1 ||
	    EVP_PKEY_eq(X509_get0_pubkey(b), pk) != 1) {
		fail("LSC key is not the phone's element 9");
		goto out;
	}
	if (X509_verify(a, X509_get0_pubkey(capf->cert)) != 1 ||
	    X509_get_signature_nid(a) != X509_get_signature_nid(b)) {
		fail("LSC signature does not verify with capf.pem");
		goto out;
	}
	if (ASN1_INTEGER_cmp(X509_get0_serialNumber(a),
	    X509_get0_serialNumber(b)) == 0) {
		fail("LSC serial repeats the reference's");
		goto out;
	}
	r = same_exts(a, b);
out:
	EVP_PKEY_free(pk);
	X509_free(a);
	X509_free(b);
	return r;
}

/* Element walk: tag, value; 0 at the end, 1 for an element, -1 bad. */
static int
elem_next(struct cursor *c, uint8_t *tag, struct cursor *v)
{
	uint16_t	 len;

	if (cur_left(c) == 0)
		return 0;
	*tag = cur_u8(c);
	len = cur_u16(c);
	if (!cur_ok(c) || !cur_sub(c, len, v))
		return -1;
	return 1;
}

/*
 * Skip the inner certificate header (spec 5.3): tag 1, length = rest + 2,
 * then 00 01 as the reference writes them.
 */
static int
cert_hdr(struct cursor *v)
{
	size_t		 n = cur_left(v);
	const uint8_t	*p = cur_bytes(v, 5);

	if (p == NULL || p[0] != 1 || (size_t)(p[1] << 8 | p[2]) != n - 3 ||
	    p[3] != 0 || p[4] != 1)
		return -1;
	return 0;
}

/* Our message against the reference server's message ti. */
static int
same_msg(const uint8_t *mine, size_t mlen, const struct transcript *t,
    int ti)
{
	const struct xmsg	*x = &t->m[ti];
	struct cursor		 a, b, va, vb;
	uint8_t			 ta, tb;
	int			 ra, rb, k;

	if (mlen < CAPF_HDR_LEN || x->len < CAPF_HDR_LEN ||
	    memcmp(mine, x->p, 6) != 0)
		return fail("message %d: header %s differs", ti + 1,
		    mlen >= 2 ? capf_cmd_name(mine[1]) : "?");
	cur_init(&a, mine, mlen);
	cur_init(&b, x->p, x->len);
	(void)cur_skip(&a, CAPF_HDR_LEN);
	(void)cur_skip(&b, CAPF_HDR_LEN);
	for (k = 1; ; k++) {
		ra = elem_next(&a, &ta, &va);
		rb = elem_next(&b, &tb, &vb);
		if (ra < 0 || rb < 0 || ra != rb)
			return fail("message %d: element %d: %s", ti + 1, k,
			    ra != rb ? "count differs" : "malformed");
		if (ra == 0)
			return 0;
		if (ta != tb)
			return fail("message %d: element %d tag %u, want %u",
			    ti + 1, k, ta, tb);
		if (ta == CAPF_T_CERT && mine[1] == CAPF_STORE_CERT_REQUEST) {
			if (cert_hdr(&va) != 0 || cert_hdr(&vb) != 0)
				return fail("message %d: bad certificate "
				    "element", ti + 1);
			if (same_lsc(cur_bytes(&va, cur_left(&va)),
			    cur_left(&va), t, ti, cur_bytes(&vb,
			    cur_left(&vb)), cur_left(&vb)) != 0)
				return -1;
			continue;
		}
		if (cur_left(&va) != cur_left(&vb) || memcmp(cur_bytes(&va,
		    cur_left(&va)), cur_bytes(&vb, cur_left(&vb)),
		    cur_left(&vb)) != 0)
			return fail("message %d: element %u (%s) value differs",
			    ti + 1, ta, capf_tag_name(ta));
	}
}

/* Match the step's messages with the next S>C messages at *ti. */
static int
match_out(const struct capfsm_out *out, const struct transcript *t, int *ti)
{
	int	 i;

	for (i = 0; i < out->nmsg; i++) {
		if (*ti >= t->n || !t->m[*ti].from_server)
			return fail("extra server message %s",
			    capf_cmd_name(out->msg[i][1]));
		if (same_msg(out->msg[i], out->len[i], t, *ti) != 0)
			return -1;
		(*ti)++;
	}
	return 0;
}

/* Run jobs synchronously until the step wants input again. */
static int
step(struct capfsm *sm, struct capfsm_out *out, const struct transcript *t,
    int *ti)
{
	int	 n;

	for (n = 0; n < STEPS_MAX; n++) {
		if (match_out(out, t, ti) != 0)
			return -1;
		if (out->job == NULL)
			return 0;
		capfsm_job_run(out->job);
		if (capfsm_job_done(sm, out) != 0)
			return fail("job_done: %s", uc_errdetail());
	}
	return fail("more than %d jobs in a row", STEPS_MAX);
}

/* One session along transcript t. */
static int
session(const struct capfsm_ctx *ctx, const struct capfsm_creds *cr,
    const struct transcript *t)
{
	struct capfsm		*sm = NULL;
	struct capfsm_out	 out;
	char			 line[512];
	int			 ti = 0, r = -1;

	if (capfsm_new(ctx, cr, t->session, &sm, &out) != 0)
		return fail("capfsm_new: %s", uc_errdetail());
	if (step(sm, &out, t, &ti) != 0)
		goto out;
	while (ti < t->n) {
		if (t->m[ti].from_server) {
			fail("message %d (%s) not sent", ti + 1,
			    capf_cmd_name(t->m[ti].p[1]));
			goto out;
		}
		if (out.close) {
			fail("closed before message %d", ti + 1);
			goto out;
		}
		if (capfsm_input(sm, t->m[ti].p, t->m[ti].len, &out) != 0) {
			fail("input: %s", uc_errdetail());
			goto out;
		}
		ti++;
		if (step(sm, &out, t, &ti) != 0)
			goto out;
	}
	if (!out.close || capfsm_wait(sm) != CAPFSM_WAIT_NONE) {
		fail("session not closed at the end");
		goto out;
	}
	r = 0;
out:
	if (sm != NULL) {
		capfsm_summary(sm, line, sizeof(line));
		if (r != 0 || getenv("REPLAY_VERBOSE") != NULL)
			fprintf(stderr, "  %s\n", line);
	}
	capfsm_free(sm);
	return r;
}

/* PEM of a vector certificate, malloc'd. */
static char *
vec_pem(const char *name, X509 **xp)
{
	X509	*x;
	BIO	*bio;
	char	*p, *pem = NULL;
	long	 n;

	if (cert_load(vpath(name), &x) != 0)
		return NULL;
	if ((bio = BIO_new(BIO_s_mem())) != NULL &&
	    PEM_write_bio_X509(bio, x) == 1 &&
	    (n = BIO_get_mem_data(bio, &p)) > 0 &&
	    (pem = malloc((size_t)n + 1)) != NULL) {
		memcpy(pem, p, (size_t)n);
		pem[n] = '\0';
	}
	BIO_free(bio);
	if (xp != NULL && pem != NULL)
		*xp = x;
	else
		X509_free(x);
	return pem;
}

static int
add_trust(struct store *st, const char *name)
{
	struct store_trust	 t;
	X509			*x = NULL;
	uint8_t			 fp[EVP_MAX_MD_SIZE];
	size_t			 n;
	int			 r;

	memset(&t, 0, sizeof(t));
	if ((t.pem = vec_pem(name, &x)) == NULL)
		return fail("%s: %s", name, uc_errdetail());
	snprintf(t.store, sizeof(t.store), "capf");
	r = cert_fingerprint(x, EVP_sha256(), fp, &n);
	if (r == 0) {
		hex_encode(fp, n, t.sha256);
		r = cert_name_text(X509_get_subject_name(x), t.subject,
		    sizeof(t.subject));
	}
	t.not_after = REPLAY_NOW + 86400;
	if (r == 0)
		r = store_trust_add(st, &t);
	X509_free(x);
	free(t.pem);
	return r == 0 ? 0 : fail("trust %s: %s", name, uc_errdetail());
}

/* An installed LSC row for the device, as capfd would have left it. */
static int
add_cert(struct store *st, const char *device, const char *name)
{
	struct store_cert	 c;
	X509			*x = NULL;
	uint8_t			 ser[CERT_SERIAL_MAX];
	size_t			 n, i;
	int			 r;

	memset(&c, 0, sizeof(c));
	if ((c.pem = vec_pem(name, &x)) == NULL)
		return fail("%s: %s", name, uc_errdetail());
	if ((r = cert_serial(x, ser, &n)) == 0) {
		hex_encode(ser, n, c.serial);
		for (i = 0; c.serial[i] != '\0'; i++)
			if (c.serial[i] >= 'a')
				c.serial[i] -= 'a' - 'A';
		snprintf(c.device, sizeof(c.device), "%s", device);
		c.state = STORE_CERT_ISSUED;
		c.not_before = REPLAY_NOW - 86400;
		c.not_after = REPLAY_NOW + 86400;
		c.issued = REPLAY_NOW - 86400;
		r = cert_name_text(X509_get_issuer_name(x), c.issuer,
		    sizeof(c.issuer));
	}
	if (r == 0 && (r = store_cert_add(st, &c)) == 0)
		r = store_cert_installed(st, device, c.serial, REPLAY_NOW);
	X509_free(x);
	free(c.pem);
	return r == 0 ? 0 : fail("cert %s: %s", name, uc_errdetail());
}

static int
setup(struct store *st, const struct rcase *c)
{
	struct capf_task	 t;

	if (c->device == NULL)
		return 0;
	memset(&t, 0, sizeof(t));
	snprintf(t.device, sizeof(t.device), "%s", c->device);
	t.op = c->op;
	t.auth = c->auth;
	t.key_type = c->key_type;
	t.key_bits = c->key_bits;
	t.curve = c->curve;
	t.deadline = c->deadline;
	if (c->precert != NULL && (store_capf_put(st, &t, NULL) != 0 ||
	    add_cert(st, c->device, c->precert) != 0))
		return fail("setup: %s", uc_errdetail());
	if (store_capf_put(st, &t, c->password) != 0)
		return fail("setup: %s", uc_errdetail());
	if (c->othercert != NULL) {
		snprintf(t.device, sizeof(t.device), "%s", DEV_OTHER);
		if (store_capf_put(st, &t, NULL) != 0 ||
		    add_cert(st, DEV_OTHER, c->othercert) != 0)
			return fail("setup: %s", uc_errdetail());
	}
	if (c->trust_mfg && add_trust(st, "mfg-ca.crt") != 0)
		return -1;
	return 0;
}

static int
rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* One case in a fresh store; 0 = pass. */
static int
run_case(const struct rcase *c)
{
	struct transcript	 t;
	struct capfsm_ctx	 ctx;
	struct capfsm_creds	 cr;
	struct store		*st = NULL;
	char			 dir[] = "/tmp/capf-replay.XXXXXX", db[64];
	int			 i, r = -1;

	memset(&cr, 0, sizeof(cr));
	memset(&ctx, 0, sizeof(ctx));
	if (mkdtemp(dir) == NULL)
		return fail("mkdtemp");
	snprintf(db, sizeof(db), "%s/capf.db", dir);
	if (transcript_load(c->file, &t) != 0)
		goto out;
	if (c->edit != NULL && c->edit(&t) != 0)
		goto out;
	if (store_open(db, STORE_CREATE, &st) != 0) {
		fail("store_open: %s", uc_errdetail());
		goto out;
	}
	if (setup(st, c) != 0)
		goto out;
	cr.issuer = capf->cert;
	cr.issuer_key = signer_pkey(capf);
	if (capfsm_trust_load(st, NULL, 0, cr.issuer, &cr.lsc_store,
	    &cr.mic_store) != 0) {
		fail("trust: %s", uc_errdetail());
		goto out;
	}
	memset(&ctx, 0, sizeof(ctx));
	ctx.store = st;
	ctx.days = 365;
	ctx.lockout = c->lockout != 0 ? c->lockout : CAPFSM_LOCKOUT_DEF;
	ctx.lockout_secs = CAPFSM_LOCKOUT_SECS_DEF;
	ctx.now = REPLAY_NOW;
	if (capfsm_busy_new(&ctx.busy) != 0) {
		fail("busy: %s", uc_errdetail());
		goto out;
	}
	if (c->drive != NULL) {
		if (c->drive(st, &ctx, &cr, &t, c) != 0)
			goto out;
	} else
		for (i = 0; i < (c->runs > 0 ? c->runs : 1); i++)
			if (session(&ctx, &cr, &t) != 0)
				goto out;
	r = c->check != NULL ? c->check(st, c) : 0;
out:
	capfsm_busy_free(ctx.busy);
	X509_STORE_free(cr.lsc_store);
	X509_STORE_free(cr.mic_store);
	store_close(st);
	transcript_free(&t);
	nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	return r;
}

/* --- Store checks ----------------------------------------------------- */

static int
task_get(struct store *st, const char *dev, struct capf_task *t)
{
	if (store_capf_get(st, dev, t) != 0)
		return fail("task %s: %s", dev, uc_errdetail());
	return 0;
}

struct certs_seen {
	int	 n;
	int	 state[8];
	char	 serial[8][80];
};

static int
cert_cb(const struct store_cert *c, void *arg)
{
	struct certs_seen	*s = arg;

	if (s->n < 8) {
		s->state[s->n] = c->state;
		snprintf(s->serial[s->n], sizeof(s->serial[0]), "%s",
		    c->serial);
	}
	s->n++;
	return 0;
}

static int
certs(struct store *st, const char *dev, struct certs_seen *s)
{
	memset(s, 0, sizeof(*s));
	if (store_cert_list(st, dev, cert_cb, s) != 0)
		return fail("cert list: %s", uc_errdetail());
	return 0;
}

/* Install done: one installed LSC, task op none / success. */
static int
check_installed(struct store *st, const struct rcase *c)
{
	struct capf_task	 t;
	struct certs_seen	 s;
	int			 i, n = 0;

	if (task_get(st, c->device, &t) != 0 || certs(st, c->device, &s) != 0)
		return -1;
	if (t.op != CAPF_OP_NONE || t.status != CAPF_ST_SUCCESS ||
	    t.auth_fails != 0 || t.attempts != 1)
		return fail("task after install: op %d status %d fails %d "
		    "attempts %d", t.op, t.status, t.auth_fails, t.attempts);
	for (i = 0; i < s.n && i < 8; i++)
		if (s.state[i] == STORE_CERT_INSTALLED)
			n++;
	if (n != 1 + (c->precert != NULL))
		return fail("%d installed certificates", n);
	return 0;
}

static int
check_fetched(struct store *st, const struct rcase *c)
{
	struct capf_task	 t;
	struct certs_seen	 s;

	if (task_get(st, c->device, &t) != 0 || certs(st, c->device, &s) != 0)
		return -1;
	if (t.op != CAPF_OP_NONE || t.status != CAPF_ST_SUCCESS)
		return fail("task after fetch: op %d status %d", t.op,
		    t.status);
	if (s.n != 1 || s.state[0] != STORE_CERT_FETCHED ||
	    strcmp(s.serial[0], "F73216016252A0321B10272D22DFC0B7") != 0)
		return fail("fetched certificate row: %d rows, state %d, "
		    "serial %s", s.n, s.state[0], s.serial[0]);
	return 0;
}

static int
check_deleted(struct store *st, const struct rcase *c)
{
	struct capf_task	 t;
	struct certs_seen	 s;

	if (task_get(st, c->device, &t) != 0 || certs(st, c->device, &s) != 0)
		return -1;
	if (t.op != CAPF_OP_NONE || t.status != CAPF_ST_SUCCESS)
		return fail("task after delete: op %d status %d", t.op,
		    t.status);
	if (s.n != 1 || s.state[0] != STORE_CERT_DELETED)
		return fail("certificate after delete: %d rows, state %d",
		    s.n, s.state[0]);
	return 0;
}

static int
check_none(struct store *st, const struct rcase *c)
{
	struct capf_task	 t;
	struct certs_seen	 s;

	if (task_get(st, c->device, &t) != 0 || certs(st, c->device, &s) != 0)
		return -1;
	if (t.op != CAPF_OP_NONE || t.attempts != 0 || s.n != 0)
		return fail("task after none: op %d attempts %d certs %d",
		    t.op, t.attempts, s.n);
	return 0;
}

static int
check_unknown(struct store *st, const struct rcase *c)
{
	struct capf_task	 t;
	int			 r;

	(void)c;
	if ((r = store_capf_get(st, "SEP0011223344EE", &t)) != UC_ERR_NOTFOUND)
		return fail("unknown device: store_capf_get gave %d", r);
	return 0;
}

/* Failed before the operation: status failed, op kept, no LSC. */
static int
check_failed(struct store *st, const struct rcase *c)
{
	struct capf_task	 t;
	struct certs_seen	 s;

	if (task_get(st, c->device, &t) != 0 || certs(st, c->device, &s) != 0)
		return -1;
	if (t.op != c->op || t.status != CAPF_ST_FAILED || t.reason[0] == '\0')
		return fail("task after failure: op %d status %d reason "
		    "\"%s\"", t.op, t.status, t.reason);
	if (s.n != (c->precert != NULL))
		return fail("%d certificates after a failure", s.n);
	return 0;
}

/* A fetched certificate refused: failed, and the reason says so. */
static int
check_fetch_refused(struct store *st, const struct rcase *c)
{
	struct capf_task	 t;

	if (check_failed(st, c) != 0 || task_get(st, c->device, &t) != 0)
		return -1;
	if (strstr(t.reason, "refused") == NULL)
		return fail("reason \"%s\"", t.reason);
	return 0;
}

static int
check_bad_password(struct store *st, const struct rcase *c)
{
	struct capf_task	 t;

	if (check_failed(st, c) != 0 || task_get(st, c->device, &t) != 0)
		return -1;
	if (t.auth_fails != 1 || t.locked_until != 0)
		return fail("auth_fails %d locked_until %lld", t.auth_fails,
		    (long long)t.locked_until);
	return 0;
}

static int
check_locked(struct store *st, const struct rcase *c)
{
	struct capf_task	 t;

	if (task_get(st, c->device, &t) != 0)
		return -1;
	if (t.locked_until != REPLAY_NOW + CAPFSM_LOCKOUT_SECS_DEF ||
	    strstr(t.reason, "locked") == NULL)
		return fail("locked_until %lld reason \"%s\"",
		    (long long)t.locked_until, t.reason);
	return 0;
}

static int
check_expired(struct store *st, const struct rcase *c)
{
	struct capf_task	 t;

	if (task_get(st, c->device, &t) != 0)
		return -1;
	if (t.status != CAPF_ST_EXPIRED || t.op != c->op)
		return fail("task after deadline: op %d status %d", t.op,
		    t.status);
	return 0;
}

/* The phone refused the LSC: committed as issued, never installed. */
static int
check_refused(struct store *st, const struct rcase *c)
{
	struct capf_task	 t;
	struct certs_seen	 s;

	if (task_get(st, c->device, &t) != 0 || certs(st, c->device, &s) != 0)
		return -1;
	if (t.op != CAPF_OP_INSTALL || t.status != CAPF_ST_FAILED)
		return fail("task after refusal: op %d status %d", t.op,
		    t.status);
	if (s.n != 1 || s.state[0] != STORE_CERT_ISSUED)
		return fail("refused LSC: %d rows, state %d", s.n, s.state[0]);
	return 0;
}

/* --- Transcript edits ------------------------------------------------- */

/* Keep messages [0, n), then the server's END_SESSION {reason}. */
static int
cut_end(struct transcript *t, int n, uint8_t reason)
{
	static const uint8_t	 end[] = { 0x55, 0x0f, 0, 0, 0, 0, 0, 4,
				    0x01, 0x00, 0x01, 0 };
	struct xmsg		*x;
	int			 i;

	for (i = n; i < t->n; i++)
		free(t->m[i].p);
	t->n = n;
	x = &t->m[t->n];
	if ((x->p = malloc(sizeof(end))) == NULL)
		return fail("malloc");
	memcpy(x->p, end, sizeof(end));
	x->p[2] = (uint8_t)(t->session >> 24);
	x->p[3] = (uint8_t)(t->session >> 16);
	x->p[4] = (uint8_t)(t->session >> 8);
	x->p[5] = (uint8_t)t->session;
	x->p[11] = reason;
	x->len = sizeof(end);
	x->from_server = 1;
	t->n++;
	return 0;
}

/* Offset of element tag's value in message i, or 0. */
static size_t
elem_off(const struct transcript *t, int i, uint8_t tag)
{
	struct cursor	 c, v;
	uint8_t		 tg;

	cur_init(&c, t->m[i].p, t->m[i].len);
	(void)cur_skip(&c, CAPF_HDR_LEN);
	while (elem_next(&c, &tg, &v) == 1)
		if (tg == tag)
			return v.start;
	return 0;
}

/* After AUTH_RESPONSE (message 2) the server must end with 7. */
static int
end7_after_auth(struct transcript *t)
{
	return cut_end(t, 2, CAPF_R_FAIL);
}

static int
flip_sig6(struct transcript *t)
{
	size_t	 off = elem_off(t, 1, CAPF_T_SIGNED_DATA);

	if (off == 0)
		return fail("no element 6");
	t->m[1].p[off + 10] ^= 0x01;
	return end7_after_auth(t);
}

static int
flip_sudi_sig(struct transcript *t)
{
	size_t	 off = elem_off(t, 1, CAPF_T_SUDI);

	if (off == 0)
		return fail("no element 16");
	/* The last byte of the SUDI SHA-512 signature (sub-field 3). */
	t->m[1].p[off + (t->m[1].p[off - 2] << 8 | t->m[1].p[off - 1]) - 1] ^=
	    0x80;
	return end7_after_auth(t);
}

static int
bad_version(struct transcript *t)
{
	size_t	 off = elem_off(t, 1, CAPF_T_VERSION);

	if (off == 0)
		return fail("no element 7");
	t->m[1].p[off] = 2;
	return end7_after_auth(t);
}

static int
bad_session(struct transcript *t)
{
	t->m[1].p[5] ^= 0x40;
	return end7_after_auth(t);
}

/* An unknown element (tag 30) in AUTH_RESPONSE: skipped (spec 4). */
static int
unknown_elem(struct transcript *t)
{
	struct xmsg	*x = &t->m[1];
	uint8_t		*p;
	size_t		 plen;

	if ((p = realloc(x->p, x->len + 4)) == NULL)
		return fail("realloc");
	memcpy(p + x->len, "\x1e\x00\x01\x42", 4);
	x->p = p;
	x->len += 4;
	plen = x->len - CAPF_HDR_LEN;
	p[6] = (uint8_t)(plen >> 8);
	p[7] = (uint8_t)plen;
	return 0;
}

/* Message 7 (STORE_CERTIFICATE_RESPONSE) with reason 7: END 7. */
static int
store_refused(struct transcript *t)
{
	if (t->n < 8 || t->m[6].len != 12)
		return fail("not an install transcript");
	t->m[6].p[11] = CAPF_R_FAIL;
	return cut_end(t, 7, CAPF_R_FAIL);
}

/* Nine REQUEST_IN_PROGRESS where at most eight are allowed. */
static int
rip_flood(struct transcript *t)
{
	int	 i;

	if (t->n < 4 || t->m[3].p[1] != CAPF_REQUEST_IN_PROGRESS)
		return fail("message 4 is not REQUEST_IN_PROGRESS");
	for (i = 4; i < t->n; i++)
		free(t->m[i].p);
	t->n = 4;
	for (i = 0; i < CAPFSM_RIP_MAX; i++) {
		if ((t->m[t->n].p = malloc(t->m[3].len)) == NULL)
			return fail("malloc");
		memcpy(t->m[t->n].p, t->m[3].p, t->m[3].len);
		t->m[t->n].len = t->m[3].len;
		t->m[t->n].from_server = 0;
		t->n++;
	}
	return cut_end(t, t->n, CAPF_R_FAIL);
}

/* The phone answers KEY_GENERATE_REQUEST with a P-256 key for RSA. */
static int
wrong_key(struct transcript *t)
{
	struct transcript	 ec;
	int			 r;

	if (transcript_load("capf-install-ec.hex", &ec) != 0)
		return -1;
	free(t->m[4].p);
	t->m[4] = ec.m[4];		/* KEY_GENERATE_RESPONSE, EC */
	ec.m[4].p = NULL;
	t->m[4].p[5] = (uint8_t)t->session;
	transcript_free(&ec);
	r = cut_end(t, 5, CAPF_R_FAIL);
	return r;
}

/* Fetch: the server must end with 7 after FETCH_CERTIFICATE_RESPONSE. */
static int
fetch_end7(struct transcript *t)
{
	return cut_end(t, 4, CAPF_R_FAIL);
}

/* The phone calls itself ...CE but holds the LSC of ...CC. */
static int
fetch_other_cn(struct transcript *t)
{
	size_t	 off = elem_off(t, 1, CAPF_T_DEVICE);

	if (off == 0 || t->m[1].p[off + 14] != 'C')
		return fail("no element device SEP0011223344CC");
	t->m[1].p[off + 14] = 'E';
	return fetch_end7(t);
}

/* out is END_SESSION {reason} alone, and the connection closes. */
static int
is_end(const struct capfsm_out *out, uint8_t reason)
{
	if (out->nmsg != 1 || !out->close || out->job != NULL ||
	    out->msg[0][1] != CAPF_END_SESSION ||
	    out->msg[0][out->len[0] - 1] != reason)
		return fail("want END_SESSION %u alone (%d messages, close "
		    "%d)", reason, out->nmsg, out->close);
	return 0;
}

/* The session's summary line contains words. */
static int
says(const struct capfsm *sm, const char *words)
{
	char	 line[512];

	capfsm_summary(sm, line, sizeof(line));
	if (strstr(line, words) == NULL)
		return fail("summary \"%s\" lacks \"%s\"", line, words);
	return 0;
}

/* A session that sent AUTH_RESPONSE (message 2 of t). */
static int
open_auth(const struct capfsm_ctx *ctx, const struct capfsm_creds *cr,
    const struct transcript *t, struct capfsm **sm, struct capfsm_out *out)
{
	if (capfsm_new(ctx, cr, t->session, sm, out) != 0)
		return fail("capfsm_new: %s", uc_errdetail());
	if (capfsm_input(*sm, t->m[1].p, t->m[1].len, out) != 0)
		return fail("input: %s", uc_errdetail());
	return 0;
}

/*
 * Two phones for one device: while the first one's auth job is out,
 * the second ends with 7 (no lockout bypass by parallel guesses); the
 * first goes on, and once it is gone the device is free again.
 */
static int
drive_busy(struct store *st, const struct capfsm_ctx *ctx,
    const struct capfsm_creds *cr, const struct transcript *t,
    const struct rcase *c)
{
	struct capfsm		*a = NULL, *b = NULL, *d = NULL;
	struct capfsm_out	 oa, ob, od;
	int			 r = -1;

	(void)st;
	(void)c;
	if (open_auth(ctx, cr, t, &a, &oa) != 0)
		goto out;
	if (oa.job == NULL) {
		fail("first session: no auth job");
		goto out;
	}
	if (open_auth(ctx, cr, t, &b, &ob) != 0 ||
	    is_end(&ob, CAPF_R_FAIL) != 0 ||
	    says(b, "another session for this device is in progress") != 0)
		goto out;
	capfsm_job_run(oa.job);
	if (capfsm_job_done(a, &oa) != 0) {
		fail("job_done: %s", uc_errdetail());
		goto out;
	}
	if (oa.nmsg != 1 || oa.close || oa.msg[0][1] != CAPF_KEY_GEN_REQUEST) {
		fail("first session after auth: %d messages, close %d",
		    oa.nmsg, oa.close);
		goto out;
	}
	capfsm_free(a);
	a = NULL;
	if (open_auth(ctx, cr, t, &d, &od) != 0)
		goto out;
	if (od.job == NULL) {
		fail("third session refused after the first ended");
		goto out;
	}
	r = 0;
out:
	capfsm_free(a);
	capfsm_free(b);
	capfsm_free(d);
	return r;
}

/*
 * A lock set while the PBKDF2 job ran (wrong guesses elsewhere) holds:
 * the right auth string is not accepted.
 */
static int
drive_relock(struct store *st, const struct capfsm_ctx *ctx,
    const struct capfsm_creds *cr, const struct transcript *t,
    const struct rcase *c)
{
	struct capfsm		*a = NULL;
	struct capfsm_out	 oa;
	int			 locked = 0, r = -1;

	if (open_auth(ctx, cr, t, &a, &oa) != 0)
		goto out;
	if (oa.job == NULL) {
		fail("no auth job");
		goto out;
	}
	if (store_capf_auth_fail(st, c->device, 1, 900, REPLAY_NOW,
	    &locked) != 0 || !locked) {
		fail("lock: %s", uc_errdetail());
		goto out;
	}
	capfsm_job_run(oa.job);
	if (capfsm_job_done(a, &oa) != 0) {
		fail("job_done: %s", uc_errdetail());
		goto out;
	}
	if (is_end(&oa, CAPF_R_FAIL) != 0 || says(a, "locked out") != 0)
		goto out;
	r = 0;
out:
	capfsm_free(a);
	return r;
}

/* A job that cannot be queued: END_SESSION 7, recorded as failed. */
static int
drive_cancel(struct store *st, const struct capfsm_ctx *ctx,
    const struct capfsm_creds *cr, const struct transcript *t,
    const struct rcase *c)
{
	struct capfsm		*a = NULL;
	struct capfsm_out	 oa;
	int			 r = -1;

	(void)st;
	(void)c;
	if (open_auth(ctx, cr, t, &a, &oa) != 0)
		goto out;
	if (oa.job == NULL) {
		fail("no auth job");
		goto out;
	}
	if (capfsm_job_cancel(a, "too many jobs queued", &oa) != 0) {
		fail("cancel: %s", uc_errdetail());
		goto out;
	}
	if (is_end(&oa, CAPF_R_FAIL) != 0 ||
	    capfsm_wait(a) != CAPFSM_WAIT_NONE)
		goto out;
	r = 0;
out:
	capfsm_free(a);
	return r;
}

#define DEV_CC	"SEP0011223344CC"
#define DEV_DD	"SEP0011223344DD"
#define RSA2048	CAPF_KEY_RSA, 2048, 0
#define EC256	CAPF_KEY_EC, 0, CAPF_CURVE_P256
#define NOKEY	0, 0, 0

static const struct rcase cases[] = {
	{ "install-rsa-password", "capf-install-rsa-password.hex", DEV_CC,
	    CAPF_OP_INSTALL, CAPF_AUTH_PASSWORD, RSA2048, "123456", 0, NULL,
	    0, 0, 0, NULL, check_installed, NULL, NULL },
	{ "install-ec", "capf-install-ec.hex", DEV_DD, CAPF_OP_INSTALL,
	    CAPF_AUTH_NONE, EC256, NULL, 0, NULL, 0, 0, 0, NULL,
	    check_installed, NULL, NULL },
	{ "fetch", "capf-fetch.hex", DEV_CC, CAPF_OP_FETCH, CAPF_AUTH_NONE,
	    NOKEY, NULL, 0, NULL, 0, 0, 0, NULL, check_fetched, NULL, NULL },
	{ "install-lsc-sudi-auth", "capf-install-lsc-sudi-auth.hex", DEV_CC,
	    CAPF_OP_INSTALL, CAPF_AUTH_LSC_OR_MIC, RSA2048, NULL, 1,
	    "capf-lsc-SEP0011223344CC-rsa-1.pem", 0, 0, 0, NULL,
	    check_installed, NULL, NULL },
	{ "install-lsc-sudi-auth (lsc mode)", "capf-install-lsc-sudi-auth.hex",
	    DEV_CC, CAPF_OP_INSTALL, CAPF_AUTH_LSC, RSA2048, NULL, 1,
	    "capf-lsc-SEP0011223344CC-rsa-1.pem", 0, 0, 0, NULL,
	    check_installed, NULL, NULL },
	{ "lsc mode: an LSC not on record refused",
	    "capf-install-lsc-sudi-auth.hex", DEV_CC, CAPF_OP_INSTALL,
	    CAPF_AUTH_LSC, RSA2048, NULL, 1, NULL, 0, 0, 0, end7_after_auth,
	    check_failed, NULL, NULL },
	{ "lsc mode: an LSC on record for another device refused",
	    "capf-install-lsc-sudi-auth.hex", DEV_CC, CAPF_OP_INSTALL,
	    CAPF_AUTH_LSC, RSA2048, NULL, 1, NULL, 0, 0, 0, end7_after_auth,
	    check_failed, "capf-lsc-SEP0011223344CC-rsa-1.pem", NULL },
	{ "none", "capf-none.hex", DEV_CC, CAPF_OP_NONE, CAPF_AUTH_NONE,
	    NOKEY, NULL, 0, NULL, 0, 0, 0, NULL, check_none, NULL, NULL },
	{ "delete", "capf-delete.hex", DEV_CC, CAPF_OP_DELETE, CAPF_AUTH_NONE,
	    NOKEY, NULL, 0, "capf-lsc-SEP0011223344CC-rsa-2.pem", 0, 0, 0,
	    NULL, check_deleted, NULL, NULL },
	{ "unknown-device", "capf-unknown-device.hex", NULL, 0, 0, NOKEY,
	    NULL, 0, NULL, 0, 0, 0, NULL, check_unknown, NULL, NULL },
	{ "error-bad-password", "capf-error-bad-password.hex", DEV_DD,
	    CAPF_OP_INSTALL, CAPF_AUTH_PASSWORD, EC256, "654321", 0, NULL, 0,
	    0, 0, NULL, check_bad_password, NULL, NULL },
	/* Variants: each must end with END_SESSION 7 where noted. */
	{ "lsc auth in mic mode refused", "capf-install-lsc-sudi-auth.hex",
	    DEV_CC, CAPF_OP_INSTALL, CAPF_AUTH_MIC, RSA2048, NULL, 1, NULL,
	    0, 0, 0, end7_after_auth, check_failed, NULL, NULL },
	{ "sudi without manufacturing root refused",
	    "capf-install-lsc-sudi-auth.hex", DEV_CC, CAPF_OP_INSTALL,
	    CAPF_AUTH_LSC, RSA2048, NULL, 0, NULL, 0, 0, 0, end7_after_auth,
	    check_failed, NULL, NULL },
	{ "flipped SHA-1 signature refused", "capf-install-lsc-sudi-auth.hex",
	    DEV_CC, CAPF_OP_INSTALL, CAPF_AUTH_LSC_OR_MIC, RSA2048, NULL, 1,
	    NULL, 0, 0, 0, flip_sig6, check_failed, NULL, NULL },
	{ "flipped SUDI signature refused", "capf-install-lsc-sudi-auth.hex",
	    DEV_CC, CAPF_OP_INSTALL, CAPF_AUTH_LSC_OR_MIC, RSA2048, NULL, 1,
	    NULL, 0, 0, 0, flip_sudi_sig, check_failed, NULL, NULL },
	{ "password mode: certificates do not replace it",
	    "capf-install-lsc-sudi-auth.hex", DEV_CC, CAPF_OP_INSTALL,
	    CAPF_AUTH_PASSWORD, RSA2048, "000000", 1, NULL, 0, 0, 0,
	    end7_after_auth, check_bad_password, NULL, NULL },
	{ "version 2 refused", "capf-install-rsa-password.hex", DEV_CC,
	    CAPF_OP_INSTALL, CAPF_AUTH_PASSWORD, RSA2048, "123456", 0, NULL,
	    0, 0, 0, bad_version, NULL, NULL, NULL },
	{ "session mismatch refused", "capf-install-rsa-password.hex", DEV_CC,
	    CAPF_OP_INSTALL, CAPF_AUTH_PASSWORD, RSA2048, "123456", 0, NULL,
	    0, 0, 0, bad_session, NULL, NULL, NULL },
	{ "lockout after wrong auth strings", "capf-error-bad-password.hex",
	    DEV_DD, CAPF_OP_INSTALL, CAPF_AUTH_PASSWORD, EC256, "654321", 0,
	    NULL, 0, 2, 3, NULL, check_locked, NULL, NULL },
	{ "deadline passed", "capf-install-ec.hex", DEV_DD, CAPF_OP_INSTALL,
	    CAPF_AUTH_NONE, EC256, NULL, 0, NULL, REPLAY_NOW - 1, 0, 0,
	    end7_after_auth, check_expired, NULL, NULL },
	{ "store refused by the phone", "capf-install-rsa-password.hex",
	    DEV_CC, CAPF_OP_INSTALL, CAPF_AUTH_PASSWORD, RSA2048, "123456", 0,
	    NULL, 0, 0, 0, store_refused, check_refused, NULL, NULL },
	{ "too many REQUEST_IN_PROGRESS", "capf-install-ec.hex", DEV_DD,
	    CAPF_OP_INSTALL, CAPF_AUTH_NONE, EC256, NULL, 0, NULL, 0, 0, 0,
	    rip_flood, check_failed, NULL, NULL },
	{ "unknown element skipped", "capf-none.hex", DEV_CC, CAPF_OP_NONE,
	    CAPF_AUTH_NONE, NOKEY, NULL, 0, NULL, 0, 0, 0, unknown_elem,
	    check_none, NULL, NULL },
	{ "wrong key type refused", "capf-install-rsa-password.hex", DEV_CC,
	    CAPF_OP_INSTALL, CAPF_AUTH_PASSWORD, RSA2048, "123456", 0, NULL,
	    0, 0, 0, wrong_key, check_failed, NULL, NULL },
	{ "fetch of another device's LSC refused", "capf-fetch.hex", DEV_CC,
	    CAPF_OP_FETCH, CAPF_AUTH_NONE, NOKEY, NULL, 0, NULL, 0, 0, 0,
	    fetch_end7, check_fetch_refused,
	    "capf-lsc-SEP0011223344CC-rsa-1.pem",
	    NULL },
	{ "fetched LSC naming another device refused", "capf-fetch.hex",
	    "SEP0011223344CE", CAPF_OP_FETCH, CAPF_AUTH_NONE, NOKEY, NULL, 0,
	    NULL, 0, 0, 0, fetch_other_cn, check_fetch_refused, NULL, NULL },
	{ "second session for a busy device refused",
	    "capf-install-rsa-password.hex", DEV_CC, CAPF_OP_INSTALL,
	    CAPF_AUTH_PASSWORD, RSA2048, "123456", 0, NULL, 0, 0, 0, NULL,
	    NULL, NULL, drive_busy },
	{ "lock set during the auth job holds",
	    "capf-install-rsa-password.hex", DEV_CC, CAPF_OP_INSTALL,
	    CAPF_AUTH_PASSWORD, RSA2048, "123456", 0, NULL, 0, 0, 0, NULL,
	    check_failed, NULL, drive_relock },
	{ "job that cannot be queued ends the session",
	    "capf-install-rsa-password.hex", DEV_CC, CAPF_OP_INSTALL,
	    CAPF_AUTH_PASSWORD, RSA2048, "123456", 0, NULL, 0, 0, 0, NULL,
	    check_failed, NULL, drive_cancel },
};

int
main(void)
{
	size_t	 i;
	int	 pass = 0, nfail = 0;

	if ((vecdir = getenv("UCSEC_VECTORS")) == NULL)
		vecdir = "../shared/vectors";
	if (signer_file_open(vpath("capf.pem"), NULL, &capf) != 0) {
		fprintf(stderr, "capf-replay: %s\n", uc_errdetail());
		return 1;
	}
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		failmsg[0] = '\0';
		if (run_case(&cases[i]) == 0) {
			printf("PASS %s (%s)\n", cases[i].name, cases[i].file);
			pass++;
		} else {
			printf("FAIL %s (%s): %s\n", cases[i].name,
			    cases[i].file, failmsg[0] ? failmsg : "?");
			nfail++;
		}
	}
	signer_free(capf);
	printf("capf-replay: %d passed, %d failed\n", pass, nfail);
	return nfail == 0 ? 0 : 1;
}
