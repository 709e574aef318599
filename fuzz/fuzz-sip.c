/*
 * libFuzzer harness for the SIP message path of ccmd: the input is one
 * SIP message from a fixed UDP peer, fed through sip_input into
 * libosip2, the transaction layer, the digest check, the registrar and
 * the B2BUA (ccm/sip.c, auth.c, registrar.c, b2bua.c, trunk.c, sdp.c).
 * The transport is a stub that drops what it is given; the store is a
 * temporary SQLite file made once with two phones (1001 with digest
 * user alice, 1003 without) and a non-secure 1002.
 *
 * Each input starts from the same state: the call core is set up, the
 * peer 192.0.2.10 registers 1002 and 192.0.2.20 registers 1003, the
 * input is fed, and everything is freed again (no timers run), so a
 * crash reproduces from its input alone.  With FUZZ_SIP_TRACE set in
 * the environment every message sent and every log line is printed.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "ccm.h"
#include "digest.h"
#include "log.h"
#include "seal.h"
#include "store.h"
#include "uerr.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define CHECK(x)	do { if (!(x)) abort(); } while (0)

static struct ccm		 ccm;
static struct ccm_config	 cfg;
static struct ccm_creds		 creds;
static char			 dbdir[64];
static char			 dbpath[96];
static int			 ready;
static int			 trace;	/* FUZZ_SIP_TRACE set: print sends */

/* ---- transport stubs (the rest are in stub-tp.c) ------------------ */

int
tp_send(struct ccm *c, const struct tp_peer *p, const void *buf, size_t len)
{
	(void)c;
	CHECK(p != NULL);
	CHECK(buf != NULL && len > 0 && len <= 4 * CCM_MSG_MAX);
	if (trace)
		fprintf(stderr, "---- send (%zu bytes)\n%.*s", len, (int)len,
		    (const char *)buf);
	return 0;
}

const struct tp_info *
tp_info_get(struct ccm *c, uint64_t id)
{
	(void)c;
	(void)id;
	return NULL;
}

void
tp_close(struct ccm *c, uint64_t id, const char *why)
{
	(void)c;
	(void)id;
	(void)why;
}

size_t
tp_conn_count(struct ccm *c)
{
	(void)c;
	return 0;
}

/* ---- fixture ------------------------------------------------------- */

static void
cleanup(void)
{
	if (ccm.store != NULL)
		store_close(ccm.store);
	trunk_free(&ccm);
	unlink(dbpath);
	snprintf(dbpath, sizeof(dbpath), "%s/ucsec.db-wal", dbdir);
	unlink(dbpath);
	snprintf(dbpath, sizeof(dbpath), "%s/ucsec.db-shm", dbdir);
	unlink(dbpath);
	rmdir(dbdir);
}

static void
put_phone(const char *name, const char *ext, const char *duser)
{
	struct store_sipdev	 d;

	memset(&d, 0, sizeof(d));
	snprintf(d.name, sizeof(d.name), "%s", name);
	d.proto = STORE_PROTO_SIP;
	d.secmode = STORE_SEC_NONSECURE;
	snprintf(d.extension, sizeof(d.extension), "%s", ext);
	snprintf(d.digest_user, sizeof(d.digest_user), "%s", duser);
	CHECK(store_sipdev_put(ccm.store, &d) == 0);
}

/* alice / ccmsipline / "secret", sealed like ccmctl does. */
static void
put_alice(void)
{
	struct store_duser	 u;
	char			 ha1[DIGEST_HEX_MAX], *sealed;
	uint8_t			 aad[64];
	const char		*an = digest_alg_name(DIGEST_MD5, 0);
	size_t			 n;

	memset(&u, 0, sizeof(u));
	snprintf(u.username, sizeof(u.username), "alice");
	snprintf(u.realm, sizeof(u.realm), CCM_REALM_DEF);
	CHECK(digest_ha1(DIGEST_MD5, "alice", CCM_REALM_DEF, "secret", 6,
	    ha1) == 0);
	n = 0;
	memcpy(aad, "alice", 6);
	n += 6;
	memcpy(aad + n, CCM_REALM_DEF, sizeof(CCM_REALM_DEF));
	n += sizeof(CCM_REALM_DEF);
	memcpy(aad + n, an, strlen(an));
	n += strlen(an);
	CHECK(seal(creds.seal_key, ha1, strlen(ha1), aad, n, &sealed) == 0);
	CHECK(strlen(sealed) < sizeof(u.ha1_md5));
	memcpy(u.ha1_md5, sealed, strlen(sealed) + 1);
	free(sealed);
	CHECK(store_duser_put(ccm.store, &u) == 0);
}

static void
setup_once(void)
{
	static char	 realm[] = CCM_REALM_DEF, domain[] = "192.0.2.1";
	static char	 udp[] = "192.0.2.1:5060";

	trace = getenv("FUZZ_SIP_TRACE") != NULL;
	log_init("fuzz-sip", 0, trace ? LOG_LEVEL_DEBUG : LOG_LEVEL_ERR);
	snprintf(dbdir, sizeof(dbdir), "/tmp/fuzz-sip.XXXXXX");
	CHECK(mkdtemp(dbdir) != NULL);
	snprintf(dbpath, sizeof(dbpath), "%s/ucsec.db", dbdir);
	cfg.listen[0].kind = TP_UDP;
	cfg.listen[0].addr = udp;
	cfg.nlisten = 1;
	cfg.realm = realm;
	cfg.domain = domain;
	cfg.nonce_validity = CCM_NONCE_VALIDITY_DEF;
	cfg.digest_algs = (1 << DIGEST_SHA256) | (1 << DIGEST_MD5);
	cfg.expires_min = CCM_EXPIRES_MIN;
	cfg.expires_max = CCM_EXPIRES_MAX;
	cfg.auth_fail_max = 5;
	cfg.auth_fail_window = 300;
	creds.refs = 1;
	memset(creds.seal_key, 0x42, sizeof(creds.seal_key));
	ccm.cfg = &cfg;
	ccm.creds = &creds;
	CHECK((ccm.base = event_base_new()) != NULL);
	CHECK(store_open(dbpath, STORE_CREATE, &ccm.store) == 0);
	put_phone("SEP001122334455", "1001", "alice");
	put_phone("SEP00AABBCCDDEE", "1002", "");
	put_phone("SEP0000000B0B03", "1003", "");
	put_alice();
	CHECK(trunk_load(&ccm) == 0);
	atexit(cleanup);
	ready = 1;
}

static void
peer_info(struct tp_info *ti, const char *addr)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)&ti->peer.addr;

	memset(ti, 0, sizeof(*ti));
	ti->peer.kind = TP_UDP;
	ti->peer.sock = 0;
	sin->sin_family = AF_INET;
	sin->sin_port = htons(5060);
	inet_pton(AF_INET, addr, &sin->sin_addr);
	ti->peer.addrlen = sizeof(*sin);
	snprintf(ti->peer_text, sizeof(ti->peer_text), "%s:5060", addr);
	snprintf(ti->local_host, sizeof(ti->local_host), "192.0.2.1");
	ti->local_port = 5060;
}

static void
register_from(const char *addr, const char *ext)
{
	struct tp_info	 ti;
	char		 msg[1024];
	int		 n;

	peer_info(&ti, addr);
	n = snprintf(msg, sizeof(msg),
	    "REGISTER sip:192.0.2.1 SIP/2.0\r\n"
	    "Via: SIP/2.0/UDP %s:5060;branch=z9hG4bK-fixture-%s;rport\r\n"
	    "Max-Forwards: 70\r\n"
	    "From: <sip:%s@192.0.2.1>;tag=fx%s\r\n"
	    "To: <sip:%s@192.0.2.1>\r\n"
	    "Call-ID: fixture-%s@%s\r\n"
	    "CSeq: 1 REGISTER\r\n"
	    "Contact: <sip:%s@%s:5060>\r\n"
	    "Supported: X-cisco-callinfo,X-cisco-srtp-fallback,"
	    "X-cisco-sis-7.0.0\r\n"
	    "Expires: 3600\r\n"
	    "Content-Length: 0\r\n\r\n",
	    addr, ext, ext, ext, ext, ext, addr, ext, addr);
	CHECK(n > 0 && (size_t)n < sizeof(msg));
	sip_input(&ccm, msg, (size_t)n, &ti);
	CHECK(registrar_lookup(&ccm, ext) != NULL);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct tp_info	 ti;
	struct store	*store;

	if (!ready)
		setup_once();
	CHECK(auth_init(&ccm) == 0);
	CHECK(registrar_init(&ccm) == 0);
	CHECK(b2bua_init(&ccm) == 0);
	register_from("192.0.2.20", "1003");
	register_from("192.0.2.10", "1002");
	peer_info(&ti, "192.0.2.10");
	sip_input(&ccm, (const char *)data, len, &ti);
	b2bua_free(&ccm);
	sip_free(&ccm);
	store = ccm.store;		/* no write-behind per input */
	ccm.store = NULL;
	registrar_free(&ccm);
	ccm.store = store;
	auth_free(&ccm);
	CHECK(ccm.sip == NULL && ccm.reg == NULL && ccm.auth == NULL);
	return 0;
}
