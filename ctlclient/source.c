/*
 * Record sources: certificate files, token URIs and live TLS servers
 * ("tls://host:port", like CUCM's CTL provider collecting the server
 * certificates of the cluster).
 */
#include <sys/socket.h>
#include <sys/time.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>

#include "cert.h"
#include "extern.h"
#include "log.h"
#include "uerr.h"

/* Split "host:port" or "[v6]:port"; host and port point into buf. */
static void	entry_clear(struct entry *);

static int
split_hostport(char *buf, char **host, char **port)
{
	char	*p;

	if (buf[0] == '[') {
		if ((p = strchr(buf, ']')) == NULL || p[1] != ':')
			return -1;
		*p = '\0';
		*host = buf + 1;
		*port = p + 2;
	} else {
		if ((p = strrchr(buf, ':')) == NULL)
			return -1;
		*p = '\0';
		*host = buf;
		*port = p + 1;
	}
	return **host != '\0' && **port != '\0' ? 0 : -1;
}

/* Connect with a timeout; returns the socket or -1. */
static int
connect_timeout(const struct addrinfo *ai, int secs)
{
	struct pollfd	 pfd;
	struct timeval	 tv = { secs, 0 };
	socklen_t	 sl = sizeof(int);
	int		 fd, fl, err = 0;

	if ((fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
	    ai->ai_protocol)) == -1)
		return -1;
	fl = fcntl(fd, F_GETFL);
	fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == -1) {
		if (errno != EINPROGRESS)
			goto fail;
		pfd.fd = fd;
		pfd.events = POLLOUT;
		if (poll(&pfd, 1, secs * 1000) != 1 ||
		    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &sl) == -1 ||
		    err != 0) {
			errno = err ? err : ETIMEDOUT;
			goto fail;
		}
	}
	fcntl(fd, F_SETFL, fl);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	return fd;
fail:
	close(fd);
	return -1;
}

static void
on_alarm(int sig)
{
	(void)sig;	/* only interrupts a blocking read or write */
}

/*
 * TLS handshake on fd; on success *cert holds the peer certificate.  The
 * whole handshake has one deadline, so a peer trickling bytes cannot
 * hold it open.
 */
static int
tls_peer_cert(int fd, const char *host, X509 **cert)
{
	struct sigaction sa, osa;
	SSL_CTX	*ctx = NULL;
	SSL	*ssl = NULL;
	int	 r = UC_ERR_IO, ok;

	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL ||
	    (ssl = SSL_new(ctx)) == NULL) {
		r = uc_fail_ssl(UC_ERR_CRYPTO, "TLS setup");
		goto out;
	}
	/*
	 * Collecting, not trusting: the admin confirms the fingerprint we
	 * print (as with CUCM's CTL client).  Old Cisco servers may need
	 * TLS 1.0, so accept any version OpenSSL allows.
	 */
	SSL_set_verify(ssl, SSL_VERIFY_NONE, NULL);
	SSL_set_tlsext_host_name(ssl, host);
	SSL_set_fd(ssl, fd);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;	/* no SA_RESTART: reads fail EINTR */
	sigaction(SIGALRM, &sa, &osa);
	alarm(TLS_FETCH_TIMEOUT);
	ok = SSL_connect(ssl) == 1;
	alarm(0);
	sigaction(SIGALRM, &osa, NULL);
	if (!ok) {
		r = uc_fail_ssl(UC_ERR_IO, "TLS handshake with %s failed", host);
		goto out;
	}
	if ((*cert = SSL_get1_peer_certificate(ssl)) == NULL) {
		r = uc_fail(UC_ERR_NOTFOUND, "%s sent no certificate", host);
		goto out;
	}
	(void)SSL_shutdown(ssl);
	r = 0;
out:
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	return r;
}

/*
 * Fetch the certificate a TLS server presents at "host:port".  On success
 * *cert (caller frees) is set, *dns (caller frees) is the host name when
 * it is not a literal address, and the IPv4 address connected to is in ip
 * with *has_ip set.
 */
int
tls_fetch_cert(const char *hostport, X509 **cert, char **dns, int *has_ip,
    uint8_t *ip)
{
	struct addrinfo	 hints, *res = NULL, *ai;
	struct in_addr	 a4;
	char		 buf[512], *host, *port;
	int		 fd = -1, r, e;

	*cert = NULL;
	*dns = NULL;
	*has_ip = 0;
	if (snprintf(buf, sizeof(buf), "%s", hostport) >= (int)sizeof(buf) ||
	    split_hostport(buf, &host, &port) != 0)
		return uc_fail(UC_ERR_ARG, "tls://%s: want tls://host:port",
		    hostport);
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	if ((e = getaddrinfo(host, port, &hints, &res)) != 0)
		return uc_fail(UC_ERR_IO, "tls://%s: %s", hostport,
		    gai_strerror(e));
	for (ai = res; ai != NULL && fd == -1; ai = ai->ai_next)
		if ((fd = connect_timeout(ai, TLS_FETCH_TIMEOUT)) != -1)
			break;
	if (fd == -1) {
		r = uc_fail(UC_ERR_IO, "tls://%s: cannot connect: %s", hostport,
		    strerror(errno));
		goto out;
	}
	if ((r = tls_peer_cert(fd, host, cert)) != 0) {
		uc_prefix(hostport);
		goto out;
	}
	if (ai->ai_family == AF_INET) {
		memcpy(ip, &((struct sockaddr_in *)ai->ai_addr)->sin_addr, 4);
		*has_ip = 1;
	}
	if (inet_pton(AF_INET, host, &a4) != 1 && strchr(host, ':') == NULL &&
	    (*dns = strdup(host)) == NULL)
		r = uc_fail(UC_ERR_ALLOC, "host name");
out:
	if (fd != -1)
		close(fd);
	freeaddrinfo(res);
	return r;
}

/*
 * Take trailing ",dns=NAME", ",ip=A.B.C.D" and ",sha256=HEX" options off
 * spec (in place).  Searching from the end keeps commas inside a URI intact.
 */
static int
strip_opts(char *spec, struct entry *e)
{
	char	*p;

	for (;;) {
		if ((p = strrchr(spec, ',')) == NULL)
			return 0;
		if (strncmp(p, ",dns=", 5) == 0) {
			free(e->dns);
			if ((e->dns = strdup(p + 5)) == NULL)
				return uc_fail(UC_ERR_ALLOC, "dns");
		} else if (strncmp(p, ",sha256=", 8) == 0) {
			free(e->pin);
			if ((e->pin = strdup(p + 8)) == NULL)
				return uc_fail(UC_ERR_ALLOC, "sha256");
		} else if (strncmp(p, ",ip=", 4) == 0) {
			if (inet_pton(AF_INET, p + 4, e->ip) != 1)
				return uc_fail(UC_ERR_ARG, "\"%s\" is not an "
				    "IPv4 address", p + 4);
			e->has_ip = 1;
		} else
			return 0;
		*p = '\0';
	}
}

/*
 * A certificate collected over the network is trusted only as far as its
 * fingerprint: check it against ",sha256=" when given, else print it for
 * the admin to compare before anything is signed.
 */
static int
check_fingerprint(const char *what, struct entry *e)
{
	uint8_t	 md[EVP_MAX_MD_SIZE];
	char	 hex[2 * EVP_MAX_MD_SIZE + 1], want[2 * EVP_MAX_MD_SIZE + 1];
	size_t	 mdlen, i, n = 0;
	int	 r;

	if ((r = cert_fingerprint(e->cert, EVP_sha256(), md, &mdlen)) != 0)
		return r;
	hex_encode(md, mdlen, hex);
	if (e->pin == NULL) {
		printf("collected %s: SHA-256 %s (unpinned: compare it with the "
		    "server's, or add ,sha256=HEX)\n", what, hex);
		return 0;
	}
	for (i = 0; e->pin[i] != '\0' && n < sizeof(want) - 1; i++)
		if (e->pin[i] != ':')
			want[n++] = e->pin[i];
	want[n] = '\0';
	if (strcasecmp(want, hex) != 0)
		return uc_fail(UC_ERR_POLICY, "%s presented a certificate with "
		    "SHA-256 %s, not the pinned %s", what, hex, e->pin);
	return 0;
}

/* Load the certificate a source names, keeping DNS/IP from TLS. */
static int
source_load(const char *src, struct entry *e, const struct p11_opts *opts)
{
	char	*dns = NULL;
	int	 has_ip = 0, r;
	uint8_t	 ip[4];

	if (strncmp(src, "tls://", 6) != 0) {
		if (e->pin != NULL)
			return uc_fail(UC_ERR_ARG, ",sha256= pins certificates "
			    "collected over tls:// only");
		return keyref_cert_load(src, opts, &e->cert);
	}
	if ((r = tls_fetch_cert(src + 6, &e->cert, &dns, &has_ip, ip)) != 0 ||
	    (r = check_fingerprint(src, e)) != 0)
		return r;
	if (e->dns == NULL)
		e->dns = dns;
	else
		free(dns);
	if (!e->has_ip && has_ip) {
		memcpy(e->ip, ip, 4);
		e->has_ip = 1;
	}
	return 0;
}

/*
 * Add a record for SOURCE[,dns=NAME][,ip=ADDR] with role.  SOURCE is a
 * PEM or DER file, a pkcs11: URI or tls://host:port.
 */
int
entry_add(struct entries *es, const char *spec, int role,
    const struct p11_opts *opts)
{
	struct entry	*e;
	int		 r = 0;

	if (es->n == CTL_ENTRIES_MAX)
		return uc_fail(UC_ERR_ARG, "more than %d records",
		    CTL_ENTRIES_MAX);
	e = &es->v[es->n];
	memset(e, 0, sizeof(*e));
	e->role = role;
	/* src may carry a pin-value: messages use the redacted copy. */
	if ((e->src = strdup(spec)) == NULL ||
	    (r = strip_opts(e->src, e)) != 0 ||
	    (e->what = p11_uri_redact(e->src)) == NULL) {
		r = e->src == NULL || e->what == NULL ?
		    uc_fail(UC_ERR_ALLOC, "source") : r;
		goto fail;
	}
	if ((r = source_load(e->src, e, opts)) != 0) {
		uc_prefix(e->what);
		goto fail;
	}
	if (!EVP_PKEY_is_a(X509_get0_pubkey(e->cert), "RSA") &&
	    !EVP_PKEY_is_a(X509_get0_pubkey(e->cert), "EC")) {
		r = uc_fail(UC_ERR_UNSUPPORTED, "%s: certificate key is neither "
		    "RSA nor EC", e->what);
		goto fail;
	}
	es->n++;
	return 0;
fail:
	entry_clear(e);
	return r;
}

/* Free what an entry owns, wiping the source (it may hold a PIN). */
static void
entry_clear(struct entry *e)
{
	X509_free(e->cert);
	free(e->dns);
	free(e->pin);
	free(e->what);
	if (e->src != NULL)
		OPENSSL_clear_free(e->src, strlen(e->src) + 1);
	memset(e, 0, sizeof(*e));
}

void
entries_free(struct entries *es)
{
	size_t	 i;

	for (i = 0; i < es->n; i++)
		entry_clear(&es->v[i]);
	es->n = 0;
}
