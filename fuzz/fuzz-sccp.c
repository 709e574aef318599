/*
 * libFuzzer harness for the SCCP side of ccmd (ccm/sccp.c with the call
 * core, keymgr.c and sipleg.c): the input is a sequence of records, each
 * a selector byte and then one framed Skinny message (lib/skinny.h
 * skinny_frame), fed through sccp_input on one of five fake
 * connections.  The transport is a stub; the store a temporary SQLite
 * file made once.
 *
 * Connections: 0 plain TCP with SEP000000001001 (non-secure, 1001)
 * registered; 1 and 2 encrypted TLS with SEP0000000A2001 / 2002
 * (encrypted, 2001 / 2002) registered at version 17; 3 plain TCP and 4
 * encrypted TLS (certificate SEP0000000A2003), not registered.  A
 * selector 0..4 picks the connection (others: modulo 5); 0xF0..0xF4
 * closes connection 0..4 instead (no message follows); 0xFE runs the
 * SIGHUP reload.  The input stops at the first record that does not
 * frame.
 *
 * Oracles besides the sanitizers: every message ccmd sends frames
 * exactly; OpenReceiveChannel and StartMediaTransmission on a plain-TCP
 * connection never carry a key (spec 7.1 rule 1).  Each input starts
 * from the same state (set up, fed, freed; no timer runs).  With
 * FUZZ_SCCP_TRACE set every message sent and every log line is printed.
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
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "ccm.h"
#include "log.h"
#include "skinny.h"
#include "store.h"
#include "uerr.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define CHECK(x)	do { if (!(x)) abort(); } while (0)
#define NCONN		5
#define RECORDS_MAX	512	/* messages per input */

static struct ccm		 ccm;
static struct ccm_config	 cfg;
static struct ccm_creds		 creds;
static struct tp_info		 conns[NCONN];
static int			 closed[NCONN];
static X509			*certs[NCONN];
static char			 dbdir[64];
static char			 dbpath[96];
static int			 ready;
static int			 trace;	/* FUZZ_SCCP_TRACE set */

/* ---- transport stubs (the rest are in stub-tp.c) ------------------ */

static int
conn_index(uint64_t id)
{
	return id >= 1 && id <= NCONN ? (int)id - 1 : -1;
}

/* The key block of an ORC / SMT (spec 6.18, 6.20) must be empty. */
static void
check_no_key(const uint8_t *buf, size_t len)
{
	uint32_t	 id = (uint32_t)buf[8] | (uint32_t)buf[9] << 8;
	uint32_t	 hv = buf[4];
	size_t		 off, i;

	if (id == SK_ORC)
		off = SKINNY_HDR_LEN + 28;
	else if (id == SK_SMT)
		off = SKINNY_HDR_LEN + (hv >= 17 ? 60 : 44);
	else
		return;
	CHECK(len >= off + 48);
	for (i = 0; i < 48; i++)
		CHECK(buf[off + i] == 0);
}

int
tp_send(struct ccm *c, const struct tp_peer *p, const void *buf, size_t len)
{
	const uint8_t	*b = buf;
	const char	*why = NULL, *name;
	size_t		 total = 0;
	int		 i;

	(void)c;
	CHECK(p != NULL && buf != NULL && len >= SKINNY_HDR_LEN);
	CHECK(skinny_frame(buf, len, &total, &why) == 1 && total == len);
	if ((i = conn_index(p->conn)) < 0 || closed[i])
		return uc_fail(UC_ERR_NOTFOUND, "connection gone");
	if (!conns[i].tls)
		check_no_key(buf, len);
	name = skinny_name((uint32_t)b[8] | (uint32_t)b[9] << 8);
	if (trace)
		fprintf(stderr, "---- conn %d: %s (%zu bytes)\n", i,
		    name != NULL ? name : "?", len);
	return 0;
}

const struct tp_info *
tp_info_get(struct ccm *c, uint64_t id)
{
	int	 i = conn_index(id);

	(void)c;
	return i >= 0 && !closed[i] ? &conns[i] : NULL;
}

/* Like the transport: nothing more is read from a closing connection. */
void
tp_close(struct ccm *c, uint64_t id, const char *why)
{
	int	 i = conn_index(id);

	(void)c;
	CHECK(why != NULL);
	if (i >= 0)
		closed[i] = 1;
}

size_t
tp_conn_count(struct ccm *c)
{
	(void)c;
	return NCONN;
}

/* ---- fixture ------------------------------------------------------- */

static void
cleanup(void)
{
	int	 i;

	if (ccm.store != NULL)
		store_close(ccm.store);
	trunk_free(&ccm);
	for (i = 0; i < NCONN; i++)
		X509_free(certs[i]);
	unlink(dbpath);
	snprintf(dbpath, sizeof(dbpath), "%s/ucsec.db-wal", dbdir);
	unlink(dbpath);
	snprintf(dbpath, sizeof(dbpath), "%s/ucsec.db-shm", dbdir);
	unlink(dbpath);
	rmdir(dbdir);
}

static void
put_dev(const char *name, int proto, int secmode, const char *ext)
{
	struct store_sipdev	 d;

	memset(&d, 0, sizeof(d));
	snprintf(d.name, sizeof(d.name), "%s", name);
	d.proto = proto;
	d.secmode = secmode;
	snprintf(d.extension, sizeof(d.extension), "%s", ext);
	CHECK(store_sipdev_put(ccm.store, &d) == 0);
}

/* A self-signed certificate with CN = name (the LSC stand-in). */
static X509 *
cert_make(const char *name)
{
	EVP_PKEY	*pk;
	X509		*x;
	X509_NAME	*n;

	CHECK((pk = EVP_EC_gen("P-256")) != NULL);
	CHECK((x = X509_new()) != NULL);
	CHECK(X509_set_version(x, 2) == 1);
	CHECK(ASN1_INTEGER_set(X509_get_serialNumber(x), 1) == 1);
	CHECK(X509_gmtime_adj(X509_getm_notBefore(x), 0) != NULL);
	CHECK(X509_gmtime_adj(X509_getm_notAfter(x), 86400) != NULL);
	n = X509_get_subject_name(x);
	CHECK(X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
	    (const unsigned char *)name, -1, -1, 0) == 1);
	CHECK(X509_set_issuer_name(x, n) == 1);
	CHECK(X509_set_pubkey(x, pk) == 1);
	CHECK(X509_sign(x, pk, EVP_sha256()) > 0);
	EVP_PKEY_free(pk);
	return x;
}

/* Connection i: plain TCP or encrypted TLS with a certificate for cn. */
static void
conn_info(int i, const char *cn)
{
	struct tp_info		*ti = &conns[i];
	struct sockaddr_in	*sin = (struct sockaddr_in *)&ti->peer.addr;

	memset(ti, 0, sizeof(*ti));
	ti->peer.kind = cn != NULL ? TP_TLS : TP_TCP;
	ti->peer.conn = (uint64_t)i + 1;
	sin->sin_family = AF_INET;
	sin->sin_port = htons((uint16_t)(40000 + i));
	inet_pton(AF_INET, "192.0.2.10", &sin->sin_addr);
	ti->peer.addrlen = sizeof(*sin);
	ti->proto = TP_SCCP;
	snprintf(ti->peer_text, sizeof(ti->peer_text), "192.0.2.10:%d",
	    40000 + i);
	snprintf(ti->local_host, sizeof(ti->local_host), "192.0.2.1");
	ti->local_port = cn != NULL ? SKINNY_TLS_PORT : SKINNY_PORT;
	if (cn == NULL)
		return;
	ti->tls = ti->encrypted = ti->phone_ok = 1;
	certs[i] = cert_make(cn);
	ti->cert = certs[i];
	snprintf(ti->cert_cn, sizeof(ti->cert_cn), "%s", cn);
	snprintf(ti->cert_subject, sizeof(ti->cert_subject), "CN=%s", cn);
}

static void
setup_once(void)
{
	static char	 realm[] = CCM_REALM_DEF, domain[] = "192.0.2.1";
	static char	 udp[] = "192.0.2.1:5060";

	trace = getenv("FUZZ_SCCP_TRACE") != NULL;
	log_init("fuzz-sccp", 0, trace ? LOG_LEVEL_DEBUG : LOG_LEVEL_ERR);
	snprintf(dbdir, sizeof(dbdir), "/tmp/fuzz-sccp.XXXXXX");
	CHECK(mkdtemp(dbdir) != NULL);
	snprintf(dbpath, sizeof(dbpath), "%s/ucsec.db", dbdir);
	cfg.listen[0].kind = TP_UDP;
	cfg.listen[0].addr = udp;
	cfg.nlisten = 1;
	cfg.realm = realm;
	cfg.domain = domain;
	cfg.nonce_validity = CCM_NONCE_VALIDITY_DEF;
	cfg.digest_algs = 1 << DIGEST_MD5;
	cfg.expires_min = CCM_EXPIRES_MIN;
	cfg.expires_max = CCM_EXPIRES_MAX;
	cfg.auth_fail_max = 5;
	cfg.auth_fail_window = 300;
	cfg.sccp_keepalive = CCM_SCCP_KEEPALIVE_DEF;
	creds.refs = 1;
	memset(creds.seal_key, 0x42, sizeof(creds.seal_key));
	ccm.cfg = &cfg;
	ccm.creds = &creds;
	CHECK((ccm.base = event_base_new()) != NULL);
	CHECK(store_open(dbpath, STORE_CREATE, &ccm.store) == 0);
	put_dev("SEP000000001001", STORE_PROTO_SCCP, STORE_SEC_NONSECURE,
	    "1001");
	put_dev("SEP000000001002", STORE_PROTO_SCCP, STORE_SEC_NONSECURE,
	    "1002");
	put_dev("SEP0000000A2001", STORE_PROTO_SCCP, STORE_SEC_ENCRYPTED,
	    "2001");
	put_dev("SEP0000000A2002", STORE_PROTO_SCCP, STORE_SEC_ENCRYPTED,
	    "2002");
	put_dev("SEP0000000A2003", STORE_PROTO_SCCP, STORE_SEC_AUTHENTICATED,
	    "2003");
	put_dev("SEP000000003001", STORE_PROTO_SIP, STORE_SEC_NONSECURE,
	    "3001");
	CHECK(trunk_load(&ccm) == 0);
	conn_info(0, NULL);
	conn_info(1, "SEP0000000A2001");
	conn_info(2, "SEP0000000A2002");
	conn_info(3, NULL);
	conn_info(4, "SEP0000000A2003");
	atexit(cleanup);
	ready = 1;
}

/* A 172-byte Register (spec 6.2) at version 17 on connection i. */
static void
register_on(int i, const char *name, const char *ext)
{
	uint8_t		 m[SKINNY_HDR_LEN + 172];

	memset(m, 0, sizeof(m));
	m[0] = 172 + 4;
	m[8] = SK_REGISTER;
	memcpy(m + SKINNY_HDR_LEN, name, strlen(name));
	m[SKINNY_HDR_LEN + 40] = 17;
	sccp_input(&ccm, m, sizeof(m), &conns[i]);
	CHECK(!closed[i] && sccp_line_registered(&ccm, ext));
}

/* One record: 0 to go on, -1 to stop. */
static int
record(const uint8_t **p, size_t *n)
{
	const char	*why = NULL;
	size_t		 total = 0;
	uint8_t		 sel;
	int		 i;

	if (*n < 1)
		return -1;
	sel = (*p)[0];
	(*p)++;
	(*n)--;
	if (sel >= 0xF0 && sel < 0xF0 + NCONN) {
		i = sel - 0xF0;
		closed[i] = 1;
		sccp_conn_closed(&ccm, conns[i].peer.conn);
		return 0;
	}
	if (sel == 0xFE) {
		sccp_reload(&ccm);
		return 0;
	}
	if (skinny_frame(*p, *n, &total, &why) != 1)
		return -1;
	i = sel % NCONN;
	if (!closed[i])
		sccp_input(&ccm, *p, total, &conns[i]);
	*p += total;
	*n -= total;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct store	*store;
	int		 k;

	if (!ready)
		setup_once();
	memset(closed, 0, sizeof(closed));
	CHECK(auth_init(&ccm) == 0);
	CHECK(registrar_init(&ccm) == 0);
	CHECK(b2bua_init(&ccm) == 0);
	CHECK(keymgr_init(&ccm) == 0);
	CHECK(sipleg_init(&ccm) == 0);
	CHECK(sccp_init(&ccm) == 0);
	register_on(0, "SEP000000001001", "1001");
	register_on(1, "SEP0000000A2001", "2001");
	register_on(2, "SEP0000000A2002", "2002");
	for (k = 0; k < RECORDS_MAX && record(&data, &len) == 0; k++)
		;
	sccp_free(&ccm);
	sipleg_free(&ccm);
	b2bua_free(&ccm);
	sip_free(&ccm);
	store = ccm.store;		/* no write-behind per input */
	ccm.store = NULL;
	registrar_free(&ccm);
	ccm.store = store;
	auth_free(&ccm);
	keymgr_free(&ccm);
	CHECK(ccm.sccp == NULL && ccm.sipleg == NULL && ccm.reg == NULL);
	return 0;
}
