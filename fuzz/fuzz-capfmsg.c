/*
 * libFuzzer harness for the CAPF v3 message codec (lib/capfmsg.c): parse
 * the input as one whole message; check the capfmsg.h contract on what
 * parsed (fields inside the input, strings NUL-terminated with no NUL
 * inside, the payload length); rebuild it with the builder and parse the
 * result back to the same fields; decode the public key element when
 * there is one.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "capfmsg.h"
#include "uerr.h"
#include "wbuf.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define CHECK(x)	do { if (!(x)) abort(); } while (0)

/* b lies inside [base, base + len), or is absent. */
static void
check_inside(const struct capf_bytes *b, const uint8_t *base, size_t len)
{
	if (b->p == NULL) {
		CHECK(b->len == 0);
		return;
	}
	CHECK(b->p >= base && b->len <= len &&
	    (size_t)(b->p - base) <= len - b->len);
}

/* A parsed string: NUL right after it, none inside, within max. */
static void
check_str(const struct capf_bytes *b, size_t max)
{
	CHECK(b->p != NULL && b->len < max);
	CHECK(b->p[b->len] == '\0' && memchr(b->p, '\0', b->len) == NULL);
}

static void
check_fields(const struct capf_msg *m, const uint8_t *data, size_t len)
{
	const struct capf_bytes	*all[] = { &m->reason_info, &m->cert,
				    &m->signed_data, &m->pubkey, &m->password,
				    &m->device, &m->sha2_sig, &m->sudi_cert,
				    &m->sudi_sig1, &m->sudi_sig2 };
	size_t			 i;

	CHECK(m->paylen == len - CAPF_HDR_LEN);
	for (i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		check_inside(all[i], data, len);
	if (CAPF_HAS(m, CAPF_T_PASSWORD))
		check_str(&m->password, CAPF_PASSWORD_MAX);
	if (CAPF_HAS(m, CAPF_T_DEVICE))
		check_str(&m->device, CAPF_NAME_MAX);
	if (CAPF_HAS(m, CAPF_T_CERT))
		CHECK(m->cert.len > 0);
}

/* Same bytes behind two parsed fields. */
static int
same(const struct capf_bytes *a, const struct capf_bytes *b)
{
	return a->len == b->len && (a->len == 0 ||
	    memcmp(a->p, b->p, a->len) == 0);
}

/* The rebuilt message parses back to the same known fields. */
static void
check_rebuilt(const struct capf_msg *m, const struct capf_msg *r)
{
	CHECK(r->cmd == m->cmd && r->session == m->session);
	CHECK(r->present == m->present && r->nunknown == 0);
	CHECK(r->reason == m->reason && r->cert_type == m->cert_type &&
	    r->version == m->version && r->auth_type == m->auth_type &&
	    r->key_type == m->key_type && r->curve == m->curve &&
	    r->key_size == m->key_size);
	CHECK(same(&r->reason_info, &m->reason_info) &&
	    same(&r->cert, &m->cert) && same(&r->signed_data,
	    &m->signed_data) && same(&r->pubkey, &m->pubkey) &&
	    same(&r->password, &m->password) && same(&r->device, &m->device) &&
	    same(&r->sha2_sig, &m->sha2_sig) && same(&r->sudi_cert,
	    &m->sudi_cert) && same(&r->sudi_sig1, &m->sudi_sig1) &&
	    same(&r->sudi_sig2, &m->sudi_sig2));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct capf_msg	 m, r;
	struct wbuf	 b;
	EVP_PKEY	*pk = NULL;
	uint8_t		 cmd;
	uint32_t	 sess;
	uint16_t	 pl;

	(void)capf_hdr_parse(data, len, &cmd, &sess, &pl);
	if (capf_msg_parse(data, len, &m) != 0) {
		CHECK(uc_errdetail()[0] != '\0');
		return 0;
	}
	check_fields(&m, data, len);
	CHECK(capf_msg_rebuild(&m, &b) == 0);
	CHECK(b.len <= len);
	CHECK(capf_msg_parse(b.data, b.len, &r) == 0);
	check_rebuilt(&m, &r);
	wbuf_free(&b);
	if (CAPF_HAS(&m, CAPF_T_PUBKEY)) {
		if (capf_pubkey_parse(m.pubkey.p, m.pubkey.len, &pk) == 0)
			CHECK(pk != NULL);
		else
			CHECK(pk == NULL && uc_errdetail()[0] != '\0');
		EVP_PKEY_free(pk);
	}
	return 0;
}
