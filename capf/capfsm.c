/*
 * The CAPF server session: specs/capf-protocol.md sections 7 and 8 as a
 * state machine with no I/O.  capfd.8 describes the policy; capfsm.h
 * the threading contract.
 *
 *	AUTH --AUTH_RESPONSE--> AUTH_JOB --ok--> op:
 *	    none	END_SESSION 0
 *	    install	KEY_GENERATE_REQUEST -> KEYGEN --key--> ISSUE_JOB
 *			-> STORE_CERTIFICATE_REQUEST -> STORE --1--> END 1
 *	    fetch	FETCH_CERTIFICATE_REQUEST -> FETCH --> END 0
 *	    delete	DELETE_CERTIFICATE_REQUEST -> DELETE --> END 1
 *	any error: END_SESSION 7 (unknown device: 9) and close.
 */
#include <ctype.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/decoder.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "capfmsg.h"
#include "capfsm.h"
#include "cert.h"
#include "log.h"
#include "lsc.h"
#include "pwhash.h"
#include "store.h"
#include "uerr.h"

#define MSG_MAX		(CAPF_HDR_LEN + CAPF_PAYLOAD_MAX)
#define CN_MAX		256	/* longest common name we compare */
#define MAC_LEN		12	/* hex digits of a MAC in SEP<MAC> */
#define SERIAL_TEXT_MAX	80	/* struct store_cert serial */

enum sm_state {
	ST_AUTH,	/* AUTH_REQUEST sent */
	ST_AUTH_JOB,	/* checking the credentials */
	ST_KEYGEN,	/* KEY_GENERATE_REQUEST sent */
	ST_ISSUE_JOB,	/* issuing the LSC */
	ST_STORE,	/* STORE_CERTIFICATE_REQUEST sent */
	ST_FETCH,	/* FETCH_CERTIFICATE_REQUEST sent */
	ST_DELETE,	/* DELETE_CERTIFICATE_REQUEST sent */
	ST_DONE
};

enum job_kind {
	JOB_PASSWORD,	/* PBKDF2 of the auth string */
	JOB_CERT,	/* certificate chains and signatures */
	JOB_ISSUE	/* LSC issuance */
};

/* Job results beyond 0 and UC_ERR_*. */
#define JOB_WRONG_PASSWORD	1

struct capfsm_job {
	enum job_kind		 kind;
	const struct capfsm_creds *creds;	/* borrowed, read-only */
	uint32_t		 session;
	int			 mode;		/* enum capf_auth */
	int			 days;
	int64_t			 now;
	char			 device[CAPF_NAME_MAX];
	char			 pwhash[STORE_HASH_MAX];
	uint8_t			 pw[CAPF_PASSWORD_MAX];	/* wiped */
	size_t			 pwlen;
	int			 nopw;		/* element 11 missing */
	int			 lsc_known;	/* JOB_CERT: the certificate is
						   an LSC of the device on
						   record (issued/installed) */
	uint8_t			*msg;		/* JOB_CERT: AUTH_RESPONSE */
	size_t			 msglen;
	EVP_PKEY		*pub;		/* JOB_ISSUE: phone's key */
	uint8_t			*keyder;	/* JOB_ISSUE: as sent */
	size_t			 keylen;
	int			 r;		/* result: 0, 1, UC_ERR_* */
	char			 why[CAPFSM_WORDS_MAX];
	struct store_cert	 cert;		/* JOB_ISSUE: the new row */
	uint8_t			*der;		/* JOB_ISSUE: its DER */
	size_t			 derlen;
};

struct capfsm {
	const struct capfsm_ctx	*ctx;
	const struct capfsm_creds *creds;
	uint32_t		 session;
	enum sm_state		 state;
	char			 device[CAPF_NAME_MAX];	/* "" until known */
	int			 known;		/* task row read */
	int			 op;		/* task snapshot */
	int			 auth;
	int			 key_type;
	int			 key_bits;
	int			 curve;
	int			 began;		/* store_capf_begin done */
	int			 claimed;	/* device in ctx->busy */
	int			 rip;		/* REQUEST_IN_PROGRESS seen */
	int			 end_reason;	/* -1: none sent */
	unsigned		 nunknown;	/* unknown elements skipped */
	uint8_t			 unknown_tag;	/* the first of them */
	char			 serial[SERIAL_TEXT_MAX];
	char			 words[CAPFSM_WORDS_MAX];
	struct capfsm_job	*job;
	struct wbuf		 wb[CAPFSM_OUT_MAX];
};

#define BUSY_BUCKETS	1024

struct busy_node {
	struct busy_node	*next;
	char			 device[CAPF_NAME_MAX];
};

struct capfsm_busy {
	struct busy_node	*b[BUSY_BUCKETS];
};

int
capfsm_busy_new(struct capfsm_busy **out)
{
	if ((*out = calloc(1, sizeof(**out))) == NULL)
		return uc_fail(UC_ERR_ALLOC, "CAPF busy devices");
	return 0;
}

void
capfsm_busy_free(struct capfsm_busy *bs)
{
	struct busy_node	*n;
	size_t			 i;

	if (bs == NULL)
		return;
	for (i = 0; i < BUSY_BUCKETS; i++)
		while ((n = bs->b[i]) != NULL) {
			bs->b[i] = n->next;
			free(n);
		}
	free(bs);
}

static struct busy_node **
busy_slot(struct capfsm_busy *bs, const char *device)
{
	struct busy_node	**np;
	const unsigned char	*p;
	uint32_t		 h = 2166136261u;

	for (p = (const unsigned char *)device; *p != '\0'; p++)
		h = (h ^ *p) * 16777619u;
	for (np = &bs->b[h % BUSY_BUCKETS]; *np != NULL; np = &(*np)->next)
		if (strcmp((*np)->device, device) == 0)
			break;
	return np;
}

/* The session's device into the busy set: 0, 1 taken, or UC_ERR_ALLOC. */
static int
sm_claim(struct capfsm *sm)
{
	struct capfsm_busy	*bs = sm->ctx->busy;
	struct busy_node	**np, *n;

	if (bs == NULL || sm->claimed)
		return 0;
	if (*(np = busy_slot(bs, sm->device)) != NULL)
		return 1;
	if ((n = calloc(1, sizeof(*n))) == NULL)
		return uc_fail(UC_ERR_ALLOC, "CAPF busy devices");
	memcpy(n->device, sm->device, sizeof(n->device));
	*np = n;
	sm->claimed = 1;
	return 0;
}

static void
sm_release(struct capfsm *sm)
{
	struct busy_node	**np, *n;

	if (!sm->claimed)
		return;
	sm->claimed = 0;
	if ((n = *(np = busy_slot(sm->ctx->busy, sm->device))) != NULL) {
		*np = n->next;
		free(n);
	}
}

static int64_t
sm_now(const struct capfsm *sm)
{
	return sm->ctx->now != 0 ? sm->ctx->now : (int64_t)time(NULL);
}

static void
job_free(struct capfsm_job *j)
{
	if (j == NULL)
		return;
	OPENSSL_cleanse(j->pw, sizeof(j->pw));
	OPENSSL_cleanse(j->pwhash, sizeof(j->pwhash));
	free(j->msg);
	EVP_PKEY_free(j->pub);
	free(j->keyder);
	store_cert_clear(&j->cert);
	free(j->der);
	free(j);
}

static void
out_clear(struct capfsm *sm, struct capfsm_out *out)
{
	int	 i;

	memset(out, 0, sizeof(*out));
	for (i = 0; i < CAPFSM_OUT_MAX; i++) {
		sm->wb[i].len = 0;
		sm->wb[i].bad = 0;
	}
}

/* Start the next output message; NULL if the step has no room. */
static struct wbuf *
out_begin(struct capfsm *sm, struct capfsm_out *out, uint8_t cmd)
{
	struct wbuf	*b;

	if (out->nmsg >= CAPFSM_OUT_MAX)
		return NULL;
	b = &sm->wb[out->nmsg];
	capf_build_begin(b, cmd, sm->session);
	return b;
}

/* Finish the message in b; it becomes out's next message. */
static int
out_end(struct capfsm_out *out, struct wbuf *b)
{
	int	 r;

	if (b == NULL)
		return uc_fail(UC_ERR_INTERNAL, "CAPF session: too many "
		    "messages in one step");
	if ((r = capf_build_end(b)) != 0)
		return r;
	out->msg[out->nmsg] = b->data;
	out->len[out->nmsg] = b->len;
	out->nmsg++;
	return 0;
}

/* A message without elements. */
static int
send_empty(struct capfsm *sm, struct capfsm_out *out, uint8_t cmd)
{
	return out_end(out, out_begin(sm, out, cmd));
}

static void
set_words(struct capfsm *sm, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
set_words(struct capfsm *sm, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(sm->words, sizeof(sm->words), fmt, ap);
	va_end(ap);
}

/* END_SESSION {reason}, then close; the session is over. */
static int
sm_end(struct capfsm *sm, struct capfsm_out *out, int reason)
{
	struct wbuf	*b;

	sm->state = ST_DONE;
	sm->end_reason = reason;
	sm_release(sm);
	out->close = 1;
	if (out->job != NULL)
		return uc_fail(UC_ERR_INTERNAL, "CAPF session: end with a job");
	if ((b = out_begin(sm, out, CAPF_END_SESSION)) != NULL)
		capf_put_u8(b, CAPF_T_REASON, (uint8_t)reason);
	return out_end(out, b);
}

/*
 * The session failed after it began: record status and the words in
 * the store (a store error is added to the words).
 */
static void
sm_record(struct capfsm *sm, int status)
{
	size_t	 n;

	if (!sm->began)
		return;
	sm->began = 0;
	if (store_capf_finish(sm->ctx->store, sm->device, status, sm->words,
	    sm_now(sm)) != 0) {
		n = strlen(sm->words);
		snprintf(sm->words + n, sizeof(sm->words) - n, "; store: %s",
		    uc_errdetail());
	}
}

/*
 * Fail the session with the words already set: record it, answer
 * END_SESSION {reason} (7, or 9 for an unknown device) and close.
 */
static int
sm_fail(struct capfsm *sm, struct capfsm_out *out, int reason, int status)
{
	sm_record(sm, status);
	return sm_end(sm, out, reason);
}

/* A protocol error (spec 7.8): words from fmt, END_SESSION 7. */
static int
sm_proto(struct capfsm *sm, struct capfsm_out *out, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
sm_proto(struct capfsm *sm, struct capfsm_out *out, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(sm->words, sizeof(sm->words), fmt, ap);
	va_end(ap);
	return sm_fail(sm, out, CAPF_R_FAIL, CAPF_ST_FAILED);
}

/* Hand a job to the caller; the session waits in state st. */
static void
sm_job(struct capfsm *sm, struct capfsm_out *out, struct capfsm_job *j,
    enum sm_state st)
{
	sm->job = j;
	sm->state = st;
	out->job = j;
}

static struct capfsm_job *
job_new(struct capfsm *sm, enum job_kind kind)
{
	struct capfsm_job	*j;

	if ((j = calloc(1, sizeof(*j))) == NULL)
		return NULL;
	j->kind = kind;
	j->creds = sm->creds;
	j->session = sm->session;
	j->mode = sm->auth;
	j->days = sm->ctx->days;
	j->now = sm_now(sm);
	memcpy(j->device, sm->device, sizeof(j->device));
	return j;
}

/* --- Jobs (any thread) ---------------------------------------------- */

static void
job_fail(struct capfsm_job *j, int r, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
job_fail(struct capfsm_job *j, int r, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(j->why, sizeof(j->why), fmt, ap);
	va_end(ap);
	j->r = r;
}

/* Auth string against the stored PBKDF2 hash (spec 8.1). */
static void
job_password(struct capfsm_job *j)
{
	int	 r;

	r = pwhash_verify(j->pwhash, j->pw, j->pwlen);
	OPENSSL_cleanse(j->pw, sizeof(j->pw));
	if (r == 1 && j->nopw)
		r = 0;
	if (r == 1)
		j->r = 0;
	else if (r == 0)
		job_fail(j, JOB_WRONG_PASSWORD, "wrong auth string (spec 8.1)");
	else
		job_fail(j, r, "stored auth string hash: %s", uc_errdetail());
}

/*
 * Verify x against st at time now, treating certificates in st as
 * anchors (partial chains).  x itself must not be an anchor; with
 * one_level it must be issued directly by one.
 */
static int
chain_check(X509_STORE *st, X509 *x, int64_t now, int one_level,
    char *why, size_t sz)
{
	X509_STORE_CTX		*c;
	X509_VERIFY_PARAM	*p;
	int			 n, r = UC_ERR_POLICY;

	if (st == NULL) {
		snprintf(why, sz, "no trusted issuer configured");
		return UC_ERR_POLICY;
	}
	if ((c = X509_STORE_CTX_new()) == NULL ||
	    X509_STORE_CTX_init(c, st, x, NULL) != 1) {
		snprintf(why, sz, "X509_STORE_CTX: out of memory");
		X509_STORE_CTX_free(c);
		return UC_ERR_ALLOC;
	}
	p = X509_STORE_CTX_get0_param(c);
	X509_VERIFY_PARAM_set_flags(p, X509_V_FLAG_PARTIAL_CHAIN);
	X509_VERIFY_PARAM_set_time(p, (time_t)now);
	if (X509_verify_cert(c) != 1)
		snprintf(why, sz, "%s", X509_verify_cert_error_string(
		    X509_STORE_CTX_get_error(c)));
	else if ((n = sk_X509_num(X509_STORE_CTX_get0_chain(c))) < 2)
		snprintf(why, sz, "the certificate is itself a trust anchor");
	else if (one_level && n != 2)
		snprintf(why, sz, "chain of %d certificates, want 2", n);
	else
		r = 0;
	X509_STORE_CTX_free(c);
	return r;
}

/* The only CN of x as text into cn; 0 or -1. */
static int
cert_cn(X509 *x, char *cn, size_t sz)
{
	const X509_NAME	*n = X509_get_subject_name(x);
	unsigned char	*u = NULL;
	int		 i, len;

	if ((i = X509_NAME_get_index_by_NID(n, NID_commonName, -1)) < 0 ||
	    X509_NAME_get_index_by_NID(n, NID_commonName, i) >= 0)
		return -1;
	len = ASN1_STRING_to_UTF8(&u, X509_NAME_ENTRY_get_data(
	    X509_NAME_get_entry(n, i)));
	if (len < 0 || (size_t)len >= sz || memchr(u, '\0', (size_t)len)) {
		OPENSSL_free(u);
		return -1;
	}
	memcpy(cn, u, (size_t)len);
	cn[len] = '\0';
	OPENSSL_free(u);
	return 0;
}

/*
 * The MAC part of a device name: the 12 hex digits of SEP<MAC>, else
 * the whole name.
 */
static const char *
device_mac(const char *device)
{
	size_t	 i;

	if (strlen(device) != 3 + MAC_LEN || strncasecmp(device, "SEP", 3))
		return device;
	for (i = 3; i < 3 + MAC_LEN; i++)
		if (!isxdigit((unsigned char)device[i]))
			return device;
	return device + 3;
}

/*
 * The certificate belongs to the device: an LSC's CN is the device
 * name; a MIC's CN ends with the device name SEP<MAC> in any case
 * (CP-8865-SEP<MAC>), spec 8.3 step 1.  A device not named SEP<MAC>
 * cannot use a MIC: nothing binds one to it.
 */
static int
cert_owner(X509 *x, const char *device, int lsc, char *why, size_t sz)
{
	char	 cn[CN_MAX];
	size_t	 n, dn = strlen(device);

	if (!lsc && device_mac(device) == device) {
		snprintf(why, sz, "MIC auth needs a device named SEP<MAC>");
		return UC_ERR_POLICY;
	}
	if (cert_cn(x, cn, sizeof(cn)) != 0) {
		snprintf(why, sz, "no single usable CN");
		return UC_ERR_POLICY;
	}
	n = strlen(cn);
	if (lsc ? strcmp(cn, device) != 0 :
	    n < dn || strcasecmp(cn + n - dn, device) != 0) {
		snprintf(why, sz, "CN does not name the device");
		return UC_ERR_POLICY;
	}
	return 0;
}

/* SHA-1 and SHA-512 signatures of data with x's key (spec 8.3, 8.4). */
static int
sigs_check(X509 *x, const uint8_t *data, size_t len,
    const struct capf_bytes *s1, const struct capf_bytes *s512, char *why,
    size_t sz)
{
	EVP_PKEY	*pk = X509_get0_pubkey(x);
	int		 r;

	if (pk == NULL) {
		snprintf(why, sz, "unusable public key");
		return UC_ERR_FORMAT;
	}
	if ((r = capf_sig_verify(pk, SIGNER_SHA1, data, len, s1->p,
	    s1->len)) != 0 || (r = capf_sig_verify(pk, SIGNER_SHA512, data,
	    len, s512->p, s512->len)) != 0)
		snprintf(why, sz, "%s", uc_errdetail());
	return r;
}

/* The phone's certificate (element 4) and signatures 6 and 20. */
static int
job_cert_main(struct capfsm_job *j, const struct capf_msg *m, char *why,
    size_t sz)
{
	const struct capfsm_creds *cr = j->creds;
	X509		*x = NULL;
	uint8_t		*data = NULL;
	size_t		 len, dlen;
	int		 lsc, r;

	if ((r = cert_from_der(m->cert.p, m->cert.len, &x)) != 0) {
		snprintf(why, sz, "%s", uc_errdetail());
		goto out;
	}
	lsc = j->mode == CAPF_AUTH_LSC || (j->mode == CAPF_AUTH_LSC_OR_MIC &&
	    X509_check_issued(cr->issuer, x) == X509_V_OK);
	snprintf(why, sz, "%s: ", lsc ? "LSC" : "MIC");
	len = strlen(why);
	if ((r = chain_check(lsc ? cr->lsc_store : cr->mic_store, x, j->now,
	    lsc, why + len, sz - len)) != 0 ||
	    (r = cert_owner(x, j->device, lsc, why + len, sz - len)) != 0)
		goto out;
	if (lsc && !j->lsc_known) {
		snprintf(why + len, sz - len, "not on record as issued to "
		    "or installed on the device");
		r = UC_ERR_POLICY;
		goto out;
	}
	if ((r = capf_auth_data(j->device, m->cert.p, m->cert.len, &data,
	    &dlen)) != 0) {
		snprintf(why, sz, "%s", uc_errdetail());
		goto out;
	}
	len = strlen(why);
	r = sigs_check(x, data, dlen, &m->signed_data, &m->sha2_sig,
	    why + len, sz - len);
out:
	free(data);
	X509_free(x);
	return r;
}

/* The SUDI certificate and its signatures (spec 8.4). */
static int
job_cert_sudi(struct capfsm_job *j, const struct capf_msg *m, char *why,
    size_t sz)
{
	X509		*x = NULL;
	uint8_t		*data = NULL;
	size_t		 len, dlen;
	int		 r;

	if ((r = cert_from_der(m->sudi_cert.p, m->sudi_cert.len, &x)) != 0) {
		snprintf(why, sz, "SUDI: %s", uc_errdetail());
		goto out;
	}
	snprintf(why, sz, "SUDI: ");
	len = strlen(why);
	if ((r = chain_check(j->creds->mic_store, x, j->now, 0, why + len,
	    sz - len)) != 0)
		goto out;
	if ((r = capf_sudi_data(j->session, m->sudi_cert.p, m->sudi_cert.len,
	    &data, &dlen)) != 0) {
		snprintf(why, sz, "SUDI: %s", uc_errdetail());
		goto out;
	}
	r = sigs_check(x, data, dlen, &m->sudi_sig1, &m->sudi_sig2, why + len,
	    sz - len);
out:
	free(data);
	X509_free(x);
	return r;
}

/* Certificate authentication (spec 8.3, 8.4). */
static void
job_cert(struct capfsm_job *j)
{
	struct capf_msg	 m;
	char		 why[CAPFSM_WORDS_MAX - 32];
	int		 r;

	why[0] = '\0';
	if ((r = capf_msg_parse(j->msg, j->msglen, &m)) != 0)
		snprintf(why, sizeof(why), "%s", uc_errdetail());
	else if ((r = job_cert_main(j, &m, why, sizeof(why))) == 0 &&
	    CAPF_HAS(&m, CAPF_T_SUDI))
		r = job_cert_sudi(j, &m, why, sizeof(why));
	if (r != 0)
		job_fail(j, r, "certificate auth failed: %s", why);
	else
		j->r = 0;
}

/* ASN1_TIME as a unix time. */
static int64_t
asn1_unix(const ASN1_TIME *t)
{
	struct tm	 tm;

	if (ASN1_TIME_to_tm(t, &tm) != 1)
		return 0;
	return (int64_t)timegm(&tm);
}

/*
 * Fill the store row of certificate x, whose DER is der, for device
 * (any thread).
 */
static int
cert_row(X509 *x, const uint8_t *der, size_t derlen, const char *device,
    int state, int64_t now, struct store_cert *c)
{
	uint8_t	 ser[CERT_SERIAL_MAX];
	size_t	 n, i;
	BIO	*bio = NULL;
	char	*p;
	long	 len;
	int	 r;

	memset(c, 0, sizeof(*c));
	if ((r = cert_serial(x, ser, &n)) != 0)
		return r;
	if (n == 0)
		ser[n++] = 0;
	hex_encode(ser, n, c->serial);
	for (i = 0; c->serial[i] != '\0'; i++)
		c->serial[i] = (char)toupper((unsigned char)c->serial[i]);
	snprintf(c->device, sizeof(c->device), "%s", device);
	c->state = state;
	c->not_before = asn1_unix(X509_get0_notBefore(x));
	c->not_after = asn1_unix(X509_get0_notAfter(x));
	c->issued = now;
	if ((r = cert_name_text(X509_get_issuer_name(x), c->issuer,
	    sizeof(c->issuer))) != 0)
		return r;
	/* As PEM_write_bio_X509 writes it, without encoding x again. */
	if (derlen > LONG_MAX || (bio = BIO_new(BIO_s_mem())) == NULL ||
	    PEM_write_bio(bio, PEM_STRING_X509, "", der, (long)derlen) <= 0 ||
	    (len = BIO_get_mem_data(bio, &p)) <= 0 ||
	    (c->pem = malloc((size_t)len + 1)) == NULL) {
		BIO_free(bio);
		return uc_fail(UC_ERR_ALLOC, "certificate PEM");
	}
	memcpy(c->pem, p, (size_t)len);
	c->pem[len] = '\0';
	BIO_free(bio);
	return 0;
}

/* Issue the LSC (spec 10) and prepare its store row and DER. */
static void
job_issue(struct capfsm_job *j)
{
	const struct capfsm_creds *cr = j->creds;
	struct lsc_signer	*tmp = NULL;
	X509			*x = NULL;
	int			 r = 0;

	if (cr->sign_lock != NULL)
		pthread_mutex_lock(cr->sign_lock);
	if (cr->lsc_signer == NULL)
		r = lsc_signer_new(cr->issuer, cr->issuer_key, &tmp);
	if (r == 0)
		r = lsc_issue_der(cr->lsc_signer != NULL ? cr->lsc_signer :
		    tmp, j->device, j->pub, j->keyder, j->keylen, j->days, &x);
	if (cr->sign_lock != NULL)
		pthread_mutex_unlock(cr->sign_lock);
	lsc_signer_free(tmp);
	if (r == 0 && (r = cert_der(x, &j->der, &j->derlen)) == 0)
		r = cert_row(x, j->der, j->derlen, j->device,
		    STORE_CERT_ISSUED, j->now, &j->cert);
	if (r != 0)
		job_fail(j, r, "issuing the LSC: %s", uc_errdetail());
	else
		j->r = 0;
	X509_free(x);
}

/*
 * Run job j (capfsm.h).  Any thread; reads only j and its creds, which
 * are immutable while sessions use them.
 */
void
capfsm_job_run(struct capfsm_job *j)
{
	switch (j->kind) {
	case JOB_PASSWORD:
		job_password(j);
		break;
	case JOB_CERT:
		job_cert(j);
		break;
	case JOB_ISSUE:
		job_issue(j);
		break;
	}
}

/* --- Steps (owner thread) ------------------------------------------- */

/* KEY_GENERATE_REQUEST for the task's key (spec 7.2, 7.3). */
static int
op_install(struct capfsm *sm, struct capfsm_out *out)
{
	struct wbuf	*b;
	int		 r;

	if (sm->key_type == CAPF_KEY_RSA && sm->key_bits >= 1024 &&
	    sm->key_bits <= 4096) {
		b = out_begin(sm, out, CAPF_KEY_GEN_REQUEST);
		if (b != NULL) {
			capf_put_u16(b, CAPF_T_KEY_SIZE,
			    (uint16_t)sm->key_bits);
			capf_put_u8(b, CAPF_T_KEY_TYPE, CAPF_KEY_RSA);
		}
	} else if (sm->key_type == CAPF_KEY_EC &&
	    sm->curve >= CAPF_CURVE_P256 && sm->curve <= CAPF_CURVE_P521) {
		b = out_begin(sm, out, CAPF_KEY_GEN_REQUEST);
		if (b != NULL) {
			capf_put_u8(b, CAPF_T_KEY_TYPE, CAPF_KEY_EC);
			capf_put_u8(b, CAPF_T_CURVE, (uint8_t)sm->curve);
		}
	} else
		return sm_proto(sm, out, "task key type %d bits %d curve %d "
		    "is not usable", sm->key_type, sm->key_bits, sm->curve);
	if ((r = out_end(out, b)) != 0)
		return r;
	sm->rip = 0;
	sm->state = ST_KEYGEN;
	return 0;
}

/* Authenticated: carry out the scheduled operation (spec 7.1). */
static int
sm_operation(struct capfsm *sm, struct capfsm_out *out)
{
	switch (sm->op) {
	case CAPF_OP_NONE:
		set_words(sm, "no operation scheduled");
		return sm_end(sm, out, CAPF_R_NONE);
	case CAPF_OP_INSTALL:
		return op_install(sm, out);
	case CAPF_OP_FETCH:
		sm->state = ST_FETCH;
		return send_empty(sm, out, CAPF_FETCH_CERT_REQUEST);
	case CAPF_OP_DELETE:
		sm->state = ST_DELETE;
		return send_empty(sm, out, CAPF_DELETE_CERT_REQUEST);
	default:
		return sm_proto(sm, out, "task has unknown operation %d",
		    sm->op);
	}
}

/* Auth string mode: the PBKDF2 check is a job (spec 8.1). */
static int
auth_password(struct capfsm *sm, const struct capf_msg *m,
    const struct capf_task *t, struct capfsm_out *out)
{
	struct capfsm_job	*j;

	if (t->pwhash[0] == '\0')
		return sm_proto(sm, out, "password auth, but no auth string "
		    "is set for the device");
	if ((j = job_new(sm, JOB_PASSWORD)) == NULL)
		return uc_fail(UC_ERR_ALLOC, "CAPF job");
	memcpy(j->pwhash, t->pwhash, sizeof(j->pwhash));
	j->pwhash[sizeof(j->pwhash) - 1] = '\0';
	if (CAPF_HAS(m, CAPF_T_PASSWORD) &&
	    m->password.len <= sizeof(j->pw)) {
		memcpy(j->pw, m->password.p, m->password.len);
		j->pwlen = m->password.len;
	} else
		j->nopw = 1;	/* a mismatch (spec 8.1), as slow as any */
	sm_job(sm, out, j, ST_AUTH_JOB);
	return 0;
}

/*
 * The certificate in element 4 is a certificate the store holds for
 * the device, issued or installed (not deleted, not merely fetched),
 * byte for byte.  Owner thread (the store); the job checks the rest.
 */
static int
lsc_on_record(struct capfsm *sm, const struct capf_msg *m)
{
	struct store_cert	 c, row;
	X509			*x = NULL, *y = NULL;
	int			 ok = 0;

	memset(&row, 0, sizeof(row));
	if (cert_from_der(m->cert.p, m->cert.len, &x) != 0 ||
	    cert_row(x, m->cert.p, m->cert.len, sm->device, STORE_CERT_ISSUED,
	    0, &c) != 0) {
		ERR_clear_error();
		X509_free(x);
		return 0;
	}
	if (store_cert_get(sm->ctx->store, c.serial, &row) == 0 &&
	    strcmp(row.device, sm->device) == 0 &&
	    (row.state == STORE_CERT_ISSUED ||
	    row.state == STORE_CERT_INSTALLED) && row.pem != NULL &&
	    cert_from_mem((const uint8_t *)row.pem, strlen(row.pem),
	    &y) == 0 && X509_cmp(x, y) == 0)
		ok = 1;
	ERR_clear_error();
	X509_free(y);
	X509_free(x);
	store_cert_clear(&c);
	store_cert_clear(&row);
	return ok;
}

/* Certificate modes: elements 4, 6, 20 required (spec 8.3). */
static int
auth_cert(struct capfsm *sm, const uint8_t *buf, size_t len,
    const struct capf_msg *m, struct capfsm_out *out)
{
	struct capfsm_job	*j;

	if (!CAPF_HAS(m, CAPF_T_CERT) || !CAPF_HAS(m, CAPF_T_SIGNED_DATA) ||
	    !CAPF_HAS(m, CAPF_T_SHA2_SIGNED))
		return sm_proto(sm, out, "certificate auth needs elements 4, "
		    "6 and 20 (spec 8.3)");
	if (m->sha2_alg != CAPF_HASH_SHA512)
		return sm_proto(sm, out, "element 20 hash %u, want 3 (spec "
		    "5.5)", m->sha2_alg);
	if (CAPF_HAS(m, CAPF_T_SUDI) && m->sudi_sig2_type != CAPF_HASH_SHA512)
		return sm_proto(sm, out, "SUDI sub-field 3 type %u, want 3 "
		    "(spec 8.4)", m->sudi_sig2_type);
	if ((j = job_new(sm, JOB_CERT)) == NULL ||
	    (j->msg = malloc(len)) == NULL) {
		job_free(j);
		return uc_fail(UC_ERR_ALLOC, "CAPF job");
	}
	memcpy(j->msg, buf, len);
	j->msglen = len;
	if (sm->auth == CAPF_AUTH_LSC || sm->auth == CAPF_AUTH_LSC_OR_MIC)
		j->lsc_known = lsc_on_record(sm, m);
	sm_job(sm, out, j, ST_AUTH_JOB);
	return 0;
}

/* Device found and usable: start the session and authenticate. */
static int
auth_start(struct capfsm *sm, const uint8_t *buf, size_t len,
    const struct capf_msg *m, const struct capf_task *t,
    struct capfsm_out *out)
{
	int64_t	 now = sm_now(sm);

	if (t->locked_until > now)
		return sm_proto(sm, out, "device locked out for %lld s after "
		    "wrong auth strings", (long long)(t->locked_until - now));
	if (sm->op != CAPF_OP_NONE && t->deadline != 0 && t->deadline <= now) {
		set_words(sm, "deadline passed");
		if (store_capf_finish(sm->ctx->store, sm->device,
		    CAPF_ST_EXPIRED, sm->words, now) != 0)
			set_words(sm, "deadline passed; store: %s",
			    uc_errdetail());
		return sm_end(sm, out, CAPF_R_FAIL);
	}
	if (sm->op != CAPF_OP_NONE) {
		if (store_capf_begin(sm->ctx->store, sm->device, now) != 0)
			return sm_proto(sm, out, "store: %s", uc_errdetail());
		sm->began = 1;
	}
	switch (sm->auth) {
	case CAPF_AUTH_NONE:
		return sm_operation(sm, out);
	case CAPF_AUTH_PASSWORD:
		return auth_password(sm, m, t, out);
	case CAPF_AUTH_LSC:
	case CAPF_AUTH_MIC:
	case CAPF_AUTH_LSC_OR_MIC:
		return auth_cert(sm, buf, len, m, out);
	default:
		return sm_proto(sm, out, "task has unknown auth mode %d",
		    sm->auth);
	}
}

/* AUTH_RESPONSE (spec 7.1): version, device, lookup, then auth. */
static int
in_auth(struct capfsm *sm, const uint8_t *buf, size_t len,
    const struct capf_msg *m, struct capfsm_out *out)
{
	struct capf_task	 t;
	int			 r;

	if (m->cmd != CAPF_AUTH_RESPONSE)
		return sm_proto(sm, out, "%s instead of AUTH_RESPONSE",
		    capf_cmd_name(m->cmd));
	if (!CAPF_HAS(m, CAPF_T_VERSION) || m->version != CAPF_VERSION)
		return sm_proto(sm, out, "protocol version %s%u, want 3",
		    CAPF_HAS(m, CAPF_T_VERSION) ? "" : "missing ", m->version);
	if (!CAPF_HAS(m, CAPF_T_DEVICE) || m->device.len >= sizeof(sm->device))
		return sm_proto(sm, out, "no usable device name");
	memcpy(sm->device, m->device.p, m->device.len);
	sm->device[m->device.len] = '\0';
	if (lsc_name_check(sm->device) != 0)
		return sm_proto(sm, out, "device name is not 1..%d printable "
		    "ASCII characters", LSC_NAME_MAX);
	memset(&t, 0, sizeof(t));
	r = store_capf_get(sm->ctx->store, sm->device, &t);
	if (r == UC_ERR_NOTFOUND) {
		set_words(sm, "unknown device");
		return sm_end(sm, out, CAPF_R_UNKNOWN);
	}
	if (r != 0)
		return sm_proto(sm, out, "store: %s", uc_errdetail());
	if ((r = sm_claim(sm)) < 0)
		return r;
	if (r == 1) {
		OPENSSL_cleanse(t.pwhash, sizeof(t.pwhash));
		set_words(sm, "another session for this device is in "
		    "progress");
		return sm_end(sm, out, CAPF_R_FAIL);
	}
	sm->known = 1;
	sm->op = t.op;
	sm->auth = t.auth;
	sm->key_type = t.key_type;
	sm->key_bits = t.key_bits;
	sm->curve = t.curve;
	r = auth_start(sm, buf, len, m, &t, out);
	OPENSSL_cleanse(t.pwhash, sizeof(t.pwhash));
	return r;
}

/* The requested key came back as asked (spec 7.2, 7.3)? */
static int
key_matches(const struct capfsm *sm, EVP_PKEY *pk)
{
	static const char *const curves[] = { "prime256v1", "secp384r1",
	    "secp521r1" };
	char	 name[64];

	if (sm->key_type == CAPF_KEY_RSA)
		return EVP_PKEY_is_a(pk, "RSA") &&
		    EVP_PKEY_get_bits(pk) == sm->key_bits;
	if (!EVP_PKEY_is_a(pk, "EC") || EVP_PKEY_get_group_name(pk, name,
	    sizeof(name), NULL) != 1)
		return 0;
	return sm->curve >= 0 && sm->curve <= 2 &&
	    strcmp(name, curves[sm->curve]) == 0;
}

struct capfsm_keydec {
	OSSL_DECODER_CTX	*dc;
	EVP_PKEY		*pk;	/* where dc puts what it decodes */
};

int
capfsm_keydec_new(struct capfsm_keydec **out)
{
	struct capfsm_keydec	*kd;

	*out = NULL;
	if ((kd = calloc(1, sizeof(*kd))) == NULL)
		return uc_fail(UC_ERR_ALLOC, "key decoder");
	if ((kd->dc = OSSL_DECODER_CTX_new_for_pkey(&kd->pk, "DER",
	    "SubjectPublicKeyInfo", NULL, EVP_PKEY_PUBLIC_KEY, NULL,
	    NULL)) == NULL) {
		free(kd);
		return uc_fail_ssl(UC_ERR_CRYPTO, "key decoder");
	}
	*out = kd;
	return 0;
}

void
capfsm_keydec_free(struct capfsm_keydec *kd)
{
	if (kd == NULL)
		return;
	OSSL_DECODER_CTX_free(kd->dc);
	EVP_PKEY_free(kd->pk);
	free(kd);
}

/*
 * The phone's key (element 9): a whole DER SubjectPublicKeyInfo through
 * the cached decoder; anything else, and every error message, is
 * capf_pubkey_parse's.
 */
static int
pubkey_parse(const struct capfsm *sm, const uint8_t *der, size_t len,
    EVP_PKEY **out)
{
	struct capfsm_keydec	*kd = sm->ctx->keydec;
	const unsigned char	*p = der;
	size_t			 left = len;

	*out = NULL;
	if (kd != NULL && len > 0 && len <= CAPF_PAYLOAD_MAX) {
		EVP_PKEY_free(kd->pk);
		kd->pk = NULL;
		if (OSSL_DECODER_from_data(kd->dc, &p, &left) == 1 &&
		    left == 0 && kd->pk != NULL) {
			*out = kd->pk;
			kd->pk = NULL;
			return 0;
		}
		EVP_PKEY_free(kd->pk);
		kd->pk = NULL;
		ERR_clear_error();
	}
	return capf_pubkey_parse(der, len, out);
}

/* KEYGEN: REQUEST_IN_PROGRESS (bounded) or KEY_GENERATE_RESPONSE. */
static int
in_keygen(struct capfsm *sm, const struct capf_msg *m, struct capfsm_out *out)
{
	struct capfsm_job	*j;
	EVP_PKEY		*pk = NULL;

	if (m->cmd == CAPF_REQUEST_IN_PROGRESS) {
		if (++sm->rip > CAPFSM_RIP_MAX)
			return sm_proto(sm, out, "more than %d "
			    "REQUEST_IN_PROGRESS", CAPFSM_RIP_MAX);
		return 0;
	}
	if (m->cmd != CAPF_KEY_GEN_RESPONSE)
		return sm_proto(sm, out, "%s instead of KEY_GENERATE_RESPONSE",
		    capf_cmd_name(m->cmd));
	if (!CAPF_HAS(m, CAPF_T_PUBKEY))
		return sm_proto(sm, out, "key generation failed: no public "
		    "key (reason %d)", CAPF_HAS(m, CAPF_T_REASON) ?
		    m->reason : -1);
	if (pubkey_parse(sm, m->pubkey.p, m->pubkey.len, &pk) != 0)
		return sm_proto(sm, out, "%s", uc_errdetail());
	if (!key_matches(sm, pk)) {
		EVP_PKEY_free(pk);
		return sm_proto(sm, out, "the phone's key is not the "
		    "requested type or size");
	}
	if ((j = job_new(sm, JOB_ISSUE)) == NULL) {
		EVP_PKEY_free(pk);
		return uc_fail(UC_ERR_ALLOC, "CAPF job");
	}
	j->pub = pk;
	if ((j->keyder = malloc(m->pubkey.len)) == NULL) {
		job_free(j);
		return uc_fail(UC_ERR_ALLOC, "CAPF job");
	}
	memcpy(j->keyder, m->pubkey.p, m->pubkey.len);
	j->keylen = m->pubkey.len;
	sm_job(sm, out, j, ST_ISSUE_JOB);
	return 0;
}

/* STORE_CERTIFICATE_RESPONSE: installed only on reason 1 (spec 7.3). */
static int
in_store(struct capfsm *sm, const struct capf_msg *m, struct capfsm_out *out)
{
	if (m->cmd != CAPF_STORE_CERT_RESPONSE)
		return sm_proto(sm, out, "%s instead of "
		    "STORE_CERTIFICATE_RESPONSE", capf_cmd_name(m->cmd));
	if (!CAPF_HAS(m, CAPF_T_REASON) || m->reason != CAPF_R_OK)
		return sm_proto(sm, out, "the phone did not store the LSC "
		    "%s (reason %d)", sm->serial, CAPF_HAS(m, CAPF_T_REASON) ?
		    m->reason : -1);
	if (store_cert_installed(sm->ctx->store, sm->device, sm->serial,
	    sm_now(sm)) != 0)
		return sm_proto(sm, out, "LSC %s stored, but store: %s",
		    sm->serial, uc_errdetail());
	sm->began = 0;
	set_words(sm, "LSC %s installed", sm->serial);
	return sm_end(sm, out, CAPF_R_OK);
}

/* FETCH_CERTIFICATE_RESPONSE: record what the phone holds (spec 7.4). */
static int
in_fetch(struct capfsm *sm, const struct capf_msg *m, struct capfsm_out *out)
{
	struct store_cert	 c;
	X509			*x = NULL;
	uint8_t			*der = NULL;
	size_t			 derlen = 0;
	char			 why[96];
	int			 r;

	if (m->cmd != CAPF_FETCH_CERT_RESPONSE)
		return sm_proto(sm, out, "%s instead of "
		    "FETCH_CERTIFICATE_RESPONSE", capf_cmd_name(m->cmd));
	if (!CAPF_HAS(m, CAPF_T_REASON))
		return sm_proto(sm, out, "fetch response without a reason");
	if (m->reason != CAPF_R_OK) {
		set_words(sm, "the phone holds no LSC (reason %u)", m->reason);
		sm_record(sm, CAPF_ST_FAILED);
		return sm_end(sm, out, CAPF_R_NONE);
	}
	if (!CAPF_HAS(m, CAPF_T_CERT))
		return sm_proto(sm, out, "fetch reason 1 without a "
		    "certificate (spec 7.4)");
	memset(&c, 0, sizeof(c));
	if (cert_from_der(m->cert.p, m->cert.len, &x) != 0 ||
	    cert_der(x, &der, &derlen) != 0 ||
	    cert_row(x, der, derlen, sm->device, STORE_CERT_FETCHED,
	    sm_now(sm), &c) != 0) {
		free(der);
		X509_free(x);
		store_cert_clear(&c);
		return sm_proto(sm, out, "fetched certificate: %s",
		    uc_errdetail());
	}
	free(der);
	r = cert_owner(x, sm->device, 1, why, sizeof(why));
	X509_free(x);
	snprintf(sm->serial, sizeof(sm->serial), "%s", c.serial);
	if (r != 0) {
		store_cert_clear(&c);
		return sm_proto(sm, out, "fetched certificate %s refused: %s",
		    sm->serial, why);
	}
	r = store_cert_fetched(sm->ctx->store, &c, sm_now(sm));
	store_cert_clear(&c);
	if (r == UC_ERR_POLICY)
		return sm_proto(sm, out, "fetched certificate %s refused: %s",
		    sm->serial, uc_errdetail());
	if (r != 0)
		return sm_proto(sm, out, "store: %s", uc_errdetail());
	sm->began = 0;
	set_words(sm, "certificate %s fetched", sm->serial);
	return sm_end(sm, out, CAPF_R_NONE);
}

/* DELETE_CERTIFICATE_RESPONSE: 1 deleted, 7 had none (spec 7.5). */
static int
in_delete(struct capfsm *sm, const struct capf_msg *m, struct capfsm_out *out)
{
	if (m->cmd != CAPF_DELETE_CERT_RESPONSE)
		return sm_proto(sm, out, "%s instead of "
		    "DELETE_CERTIFICATE_RESPONSE", capf_cmd_name(m->cmd));
	if (!CAPF_HAS(m, CAPF_T_REASON))
		return sm_proto(sm, out, "delete response without a reason");
	/* Either way the phone now holds no LSC. */
	if (store_cert_deleted(sm->ctx->store, sm->device, sm_now(sm)) != 0)
		return sm_proto(sm, out, "store: %s", uc_errdetail());
	sm->began = 0;
	if (m->reason == CAPF_R_OK)
		set_words(sm, "LSC deleted");
	else
		set_words(sm, "the phone held no LSC (reason %u)", m->reason);
	return sm_end(sm, out, CAPF_R_OK);
}

/*
 * A new session (capfsm.h): AUTH_REQUEST {version 3, auth type 0}, as
 * the reference server always sends (spec 6.2).
 */
int
capfsm_new(const struct capfsm_ctx *ctx, const struct capfsm_creds *creds,
    uint32_t session, struct capfsm **smp, struct capfsm_out *out)
{
	struct capfsm	*sm;
	struct wbuf	*b;
	int		 i, r;

	*smp = NULL;
	if ((sm = calloc(1, sizeof(*sm))) == NULL)
		return uc_fail(UC_ERR_ALLOC, "CAPF session");
	sm->ctx = ctx;
	sm->creds = creds;
	sm->session = session;
	sm->op = -1;
	sm->auth = -1;
	sm->end_reason = -1;
	for (i = 0; i < CAPFSM_OUT_MAX; i++)
		wbuf_init(&sm->wb[i], MSG_MAX);
	out_clear(sm, out);
	if ((b = out_begin(sm, out, CAPF_AUTH_REQUEST)) != NULL) {
		capf_put_u8(b, CAPF_T_VERSION, CAPF_VERSION);
		capf_put_u8(b, CAPF_T_AUTH_TYPE, CAPF_AT_NONE);
	}
	if ((r = out_end(out, b)) != 0) {
		capfsm_free(sm);
		return r;
	}
	*smp = sm;
	return 0;
}

/* One message from the phone (capfsm.h). */
int
capfsm_input(struct capfsm *sm, const uint8_t *buf, size_t len,
    struct capfsm_out *out)
{
	struct capf_msg	 m;

	out_clear(sm, out);
	if (sm->state == ST_DONE) {
		out->close = 1;
		return 0;
	}
	if (sm->state == ST_AUTH_JOB || sm->state == ST_ISSUE_JOB)
		return capfsm_abort(sm, "message while a job was running", out);
	if (capf_msg_parse(buf, len, &m) != 0)
		return sm_proto(sm, out, "malformed message: %s",
		    uc_errdetail());
	if (m.session != sm->session)
		return sm_proto(sm, out, "session id %u, want %u", m.session,
		    sm->session);
	/* Skipped, not refused (spec 4); the log line counts them. */
	if (m.nunknown > 0 && sm->nunknown++ == 0)
		sm->unknown_tag = m.unknown_tag;
	if (m.nunknown > 1)
		sm->nunknown += m.nunknown - 1;
	switch (sm->state) {
	case ST_AUTH:
		return in_auth(sm, buf, len, &m, out);
	case ST_KEYGEN:
		return in_keygen(sm, &m, out);
	case ST_STORE:
		return in_store(sm, &m, out);
	case ST_FETCH:
		return in_fetch(sm, &m, out);
	case ST_DELETE:
		return in_delete(sm, &m, out);
	default:
		return uc_fail(UC_ERR_INTERNAL, "CAPF session state %d",
		    sm->state);
	}
}

/* The auth job is back: count failures, then the operation. */
static int
done_auth(struct capfsm *sm, struct capfsm_job *j, struct capfsm_out *out)
{
	struct capf_task	 t;
	int64_t			 now = sm_now(sm);
	int			 locked = 0, n;

	if (j->r == 0) {
		/* A lock set while the hash ran (another session) holds. */
		memset(&t, 0, sizeof(t));
		if (store_capf_get(sm->ctx->store, sm->device, &t) != 0)
			return sm_proto(sm, out, "store: %s", uc_errdetail());
		OPENSSL_cleanse(t.pwhash, sizeof(t.pwhash));
		if (t.locked_until > now)
			return sm_proto(sm, out, "device locked out for %lld s "
			    "after wrong auth strings", (long long)
			    (t.locked_until - now));
		if (sm->auth == CAPF_AUTH_PASSWORD &&
		    store_capf_auth_ok(sm->ctx->store, sm->device) != 0)
			return sm_proto(sm, out, "store: %s", uc_errdetail());
		return sm_operation(sm, out);
	}
	set_words(sm, "%s", j->why);
	if (j->r == JOB_WRONG_PASSWORD) {
		if (store_capf_auth_fail(sm->ctx->store, sm->device,
		    sm->ctx->lockout, sm->ctx->lockout_secs, sm_now(sm),
		    &locked) != 0) {
			n = (int)strlen(sm->words);
			snprintf(sm->words + n, sizeof(sm->words) - (size_t)n,
			    "; store: %s", uc_errdetail());
		} else if (locked) {
			n = (int)strlen(sm->words);
			snprintf(sm->words + n, sizeof(sm->words) - (size_t)n,
			    "; locked out for %d s", sm->ctx->lockout_secs);
		}
	}
	return sm_fail(sm, out, CAPF_R_FAIL, CAPF_ST_FAILED);
}

/* The LSC is issued: commit it, then send it (spec 7.2). */
static int
done_issue(struct capfsm *sm, struct capfsm_job *j, struct capfsm_out *out)
{
	struct wbuf	*b;
	int		 r;

	if (j->r != 0) {
		set_words(sm, "%s", j->why);
		return sm_fail(sm, out, CAPF_R_FAIL, CAPF_ST_FAILED);
	}
	snprintf(sm->serial, sizeof(sm->serial), "%s", j->cert.serial);
	if (store_cert_add(sm->ctx->store, &j->cert) != 0)
		return sm_proto(sm, out, "store LSC %s: %s", sm->serial,
		    uc_errdetail());
	if ((b = out_begin(sm, out, CAPF_STORE_CERT_REQUEST)) != NULL) {
		capf_put_u8(b, CAPF_T_CERT_TYPE, 1);	/* LSC */
		capf_put_cert(b, j->der, j->derlen);
	}
	if ((r = out_end(out, b)) != 0)
		return r;
	sm->state = ST_STORE;
	return 0;
}

/* The session's job has run (capfsm.h); the job is freed here. */
int
capfsm_job_done(struct capfsm *sm, struct capfsm_out *out)
{
	struct capfsm_job	*j = sm->job;
	enum sm_state		 st = sm->state;
	int			 r = 0;

	out_clear(sm, out);
	sm->job = NULL;
	if (j == NULL)
		return uc_fail(UC_ERR_INTERNAL, "CAPF session: no job");
	if (st == ST_DONE)
		out->close = 1;		/* aborted meanwhile: drop it */
	else if (st == ST_AUTH_JOB)
		r = done_auth(sm, j, out);
	else if (st == ST_ISSUE_JOB)
		r = done_issue(sm, j, out);
	else
		r = uc_fail(UC_ERR_INTERNAL, "CAPF session: job in state %d",
		    st);
	job_free(j);
	return r;
}

/* The job will not run (capfsm.h). */
int
capfsm_job_cancel(struct capfsm *sm, const char *why, struct capfsm_out *out)
{
	job_free(sm->job);
	sm->job = NULL;
	return capfsm_abort(sm, why, out);
}

/* End early (capfsm.h). */
int
capfsm_abort(struct capfsm *sm, const char *why, struct capfsm_out *out)
{
	if (out != NULL)
		out_clear(sm, out);
	if (sm->state == ST_DONE) {
		if (out != NULL)
			out->close = 1;
		return 0;
	}
	set_words(sm, "%s", why);
	sm_record(sm, CAPF_ST_FAILED);
	sm->state = ST_DONE;
	sm_release(sm);
	if (out == NULL)
		return 0;
	return sm_end(sm, out, CAPF_R_FAIL);
}

enum capfsm_wait
capfsm_wait(const struct capfsm *sm)
{
	if (sm->job != NULL)
		return CAPFSM_WAIT_JOB;
	switch (sm->state) {
	case ST_KEYGEN:
		return CAPFSM_WAIT_KEYGEN;
	case ST_DONE:
		return CAPFSM_WAIT_NONE;
	default:
		return CAPFSM_WAIT_PEER;
	}
}

uint32_t
capfsm_session(const struct capfsm *sm)
{
	return sm->session;
}

/*
 * "session N device D op O auth A result R (words)".  The device name
 * is escaped; the words hold no secret (never the auth string).
 */
void
capfsm_summary(const struct capfsm *sm, char *buf, size_t sz)
{
	char	 dev[CAPF_NAME_MAX * 4 + 1];
	char	 words[CAPFSM_WORDS_MAX * 4 + 1];
	char	 res[16], unk[64];

	unk[0] = '\0';
	if (sm->nunknown > 0)
		snprintf(unk, sizeof(unk), " [%u unknown element%s skipped, "
		    "first tag %u]", sm->nunknown, sm->nunknown == 1 ? "" : "s",
		    sm->unknown_tag);
	log_vis(dev, sizeof(dev), sm->device, sizeof(sm->device));
	log_vis(words, sizeof(words), sm->words, sizeof(sm->words));
	if (sm->end_reason < 0)
		snprintf(res, sizeof(res), "none");
	else
		snprintf(res, sizeof(res), "%d", sm->end_reason);
	snprintf(buf, sz, "session %u device %s op %s auth %s result %s "
	    "(%s)%s", sm->session, dev[0] != '\0' ? dev : "-",
	    sm->known ? capf_op_name(sm->op) : "-",
	    sm->known ? capf_auth_name(sm->auth) : "-", res,
	    words[0] != '\0' ? words : "unfinished", unk);
}

/* Free a session (capfsm.h); its job, if any, is freed too. */
void
capfsm_free(struct capfsm *sm)
{
	int	 i;

	if (sm == NULL)
		return;
	if (sm->state != ST_DONE)
		(void)capfsm_abort(sm, "connection closed", NULL);
	sm_release(sm);
	job_free(sm->job);
	for (i = 0; i < CAPFSM_OUT_MAX; i++)
		wbuf_free(&sm->wb[i]);
	free(sm);
}

/* --- Trust ------------------------------------------------------------ */

struct trust_arg {
	X509_STORE	*st;
	int		 r;
	int		 n;
};

static int
trust_row(const struct store_trust *t, void *arg)
{
	struct trust_arg	*a = arg;
	X509			*x;

	if ((a->r = cert_from_mem((const uint8_t *)t->pem, strlen(t->pem),
	    &x)) != 0) {
		uc_prefix(t->subject);
		return 1;
	}
	if (X509_STORE_add_cert(a->st, x) != 1)
		ERR_clear_error();	/* a duplicate of a --verify file */
	X509_free(x);
	a->n++;
	return 0;
}

static int
trust_file(X509_STORE *st, const char *path)
{
	X509	*x;
	int	 r;

	if ((r = cert_load(path, &x)) != 0)
		return r;
	if (X509_STORE_add_cert(st, x) != 1)
		ERR_clear_error();
	X509_free(x);
	return 0;
}

/* Build the two trust stores (capfsm.h). */
int
capfsm_trust_load(struct store *s, const char *const *files, size_t nfiles,
    X509 *issuer, X509_STORE **lscp, X509_STORE **micp)
{
	struct trust_arg	 a;
	X509_STORE		*lsc = NULL, *mic = NULL;
	size_t			 i;
	int			 r = UC_ERR_ALLOC;

	*lscp = *micp = NULL;
	if ((lsc = X509_STORE_new()) == NULL ||
	    (mic = X509_STORE_new()) == NULL)
		goto out;
	if (X509_STORE_add_cert(lsc, issuer) != 1) {
		r = uc_fail_ssl(UC_ERR_CRYPTO, "LSC issuer trust store");
		goto out;
	}
	for (i = 0; i < nfiles; i++)
		if ((r = trust_file(mic, files[i])) != 0)
			goto out;
	memset(&a, 0, sizeof(a));
	a.st = mic;
	if (s != NULL && (r = store_trust_list(s, "capf", trust_row,
	    &a)) != 0)
		goto out;
	if ((r = a.r) != 0)
		goto out;
	*lscp = lsc;
	*micp = mic;
	lsc = mic = NULL;
	r = 0;
out:
	if (r == UC_ERR_ALLOC && lsc == NULL)
		r = uc_fail(UC_ERR_ALLOC, "X509_STORE_new");
	X509_STORE_free(lsc);
	X509_STORE_free(mic);
	return r;
}
