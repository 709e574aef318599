/*
 * The transport and credential stubs the SIP and SCCP harnesses share
 * (transport.c and ccmd.c are not linked into them): nothing binds,
 * listens or connects.  Each harness keeps its own tp_send,
 * tp_info_get, tp_close and tp_conn_count (what it checks and what its
 * fake connections are).  Not a harness itself: the Makefile links it
 * into build-fuzz/fuzz-sip and build-fuzz/fuzz-sccp.
 */
#include <sys/socket.h>
#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

#include "ccm.h"
#include "uerr.h"

int
tp_bind(struct ccm *c)
{
	(void)c;
	return 0;
}

int
tp_start(struct ccm *c)
{
	(void)c;
	return 0;
}

void
tp_stop(struct ccm *c)
{
	(void)c;
}

int
tp_connect(struct ccm *c, int kind, const struct sockaddr *sa, socklen_t len,
    const struct trunk *t, struct tp_peer *p)
{
	(void)c;
	(void)kind;
	(void)sa;
	(void)len;
	(void)t;
	(void)p;
	return uc_fail(UC_ERR_IO, "fuzz: no outgoing connections");
}

void
tp_set_pinned(struct ccm *c, uint64_t id, int on)
{
	(void)c;
	(void)id;
	(void)on;
}

void
tp_creds_changed(struct ccm *c)
{
	(void)c;
}

struct ccm_creds *
creds_ref(struct ccm_creds *cr)
{
	if (cr != NULL)
		cr->refs++;
	return cr;
}

void
creds_unref(struct ccm_creds *cr)
{
	if (cr != NULL)
		cr->refs--;
}

int
tp_phone_trusted(struct ccm *c, uint64_t id)
{
	(void)c;
	(void)id;
	return 1;
}

/* Bytes with keys go through the harness's own tp_send and its checks. */
int
tp_send_secret(struct ccm *c, const struct tp_peer *p, const void *buf,
    size_t len)
{
	return tp_send(c, p, buf, len);
}
