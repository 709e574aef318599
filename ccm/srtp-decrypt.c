/*
 * srtp-decrypt: the SRTP and SRTCP in a capture, decrypted with the keys
 * of the SRTP key log (lib/keylog.h), written as a plain pcap that
 * Wireshark plays (Telephony > RTP).
 *
 * Each UDP datagram (lib/netpkt.c) that looks like RTP or RTCP (version
 * 2; RTCP: second byte 192..223, RFC 5761 4) and goes to the dst of a
 * key log entry (RTCP: to the entry's port + 1, or the same port when
 * multiplexed) is unprotected with a receive context for that entry
 * (any SSRC, or the entry's SSRC), made on first use.  Several entries
 * may share a dst (new keys after hold/resume): they are tried newest
 * first among those logged before the packet (KEY_SLACK seconds allowed
 * for clocks), then the later ones, and the one that authenticates stays
 * bound to the stream (source, destination, SSRC) until it stops
 * authenticating.
 * GCM decrypts before it checks the tag, so every attempt works on a
 * copy.
 *
 * The output has the input's link type and timestamps; it is written to
 * a 0600 temporary file in the target directory and renamed over OUT.
 * Exit: 0 when at least one packet was decrypted, none failed to
 * authenticate and the capture was read to its end; 1 otherwise, 2 on
 * usage or input errors.
 */
#include <sys/stat.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <pcap/pcap.h>

#include "cursor.h"
#include "fileio.h"
#include "keylog.h"
#include "log.h"
#include "netpkt.h"
#include "sdes.h"
#include "srtpw.h"
#include "uerr.h"

#define KEYLOG_FILE_MAX		(64u << 20) /* key log: ~150k lines */
#define KEYS_MAX		1000000	/* entries kept */
#define KEY_SLACK		5	/* s: capture vs. server clock */
#define CANDS_MAX		64	/* keys tried for one packet */
#define FRAME_MAX		262144	/* libpcap's largest snapshot */
#define UDP_PAYLOAD_MAX		65535
#define STREAMS_MAX		1000000	/* (src, dst, SSRC) tracked */
#define STREAM_BUCKETS		4096	/* hash heads, a power of 2 */
#define RTP_HDR_MIN		12	/* RFC 3550 5.1 */
#define RTCP_HDR_MIN		8	/* RFC 3550 6.4.1 */
#define RTCP_PT_MIN		192	/* RFC 5761 4: 192..223 is RTCP, */
#define RTCP_PT_MAX		223	/* RFC 5506 205..207 included */
#define NO_STREAM		SIZE_MAX

enum { EXIT_DECRYPTED = 0, EXIT_NOT_ALL = 1, EXIT_USAGE = 2 };

/* One key log entry and its receive context. */
struct key {
	struct keylog_entry	 e;
	size_t			 line;		/* in the key log */
	struct srtpw		*rx;		/* made on first use */
	int			 unusable;	/* srtpw_new failed */
};

/* Packets from src to dst with one SSRC, RTP or RTCP. */
struct stream {
	struct sockaddr_storage	 src, dst;
	uint32_t		 ssrc;
	int			 rtcp;
	struct key		*key;		/* authenticated last */
	const struct key	*label;		/* call and dir for the report */
	unsigned long		 decrypted, auth_failed, replayed;
	size_t			 next;		/* hash chain */
};

/* One UDP datagram of the capture, as RTP or RTCP. */
struct pkt {
	const struct pcap_pkthdr	*h;
	const uint8_t			*frame;
	struct netpkt_udp		 u;
	const uint8_t			*payload;
	size_t				 len;
	int				 rtcp;
	uint32_t			 ssrc;
};

struct dec {
	const char		*in;		/* -r: capture */
	const char		*keyfile;	/* -k: key log */
	const char		*out;		/* -w: plain capture */
	const char		*call;		/* --call, or NULL: all */
	int			 keep_other;	/* --keep-other */
	int			 verbose;	/* -v */
	struct key		*keys;		/* in key log order */
	struct key		**sorted;	/* by dst, then time */
	size_t			 nkeys;
	unsigned long		 torn;		/* unterminated last line */
	struct stream		*streams;	/* in order first seen */
	size_t			 nstreams, capstreams;
	size_t			 buckets[STREAM_BUCKETS]; /* stream hash */
	unsigned long		 frames, written, other, snapped;
	int			 truncated;	/* capture ends in a bad frame */
	unsigned long		 decrypted, auth_failed, replayed;
	pcap_t			*pin;		/* the capture */
	pcap_t			*pdead;		/* the output's format */
	int			 dlt_in;	/* link type of both */
	pcap_dumper_t		*dump;
	char			 tmp[PATH_MAX];	/* output until renamed */
	int			 tmp_made;	/* tmp exists: unlink on error */
	uint8_t			 plain[UDP_PAYLOAD_MAX + SRTPW_RTCP_TRAILER_MAX];
	size_t			 plain_len;	/* decrypted packet in plain */
	uint8_t			 frame_out[FRAME_MAX]; /* rebuilt frame */
};

static const struct option longopts[] = {
	{ "read", required_argument, NULL, 'r' },
	{ "keylog", required_argument, NULL, 'k' },
	{ "write", required_argument, NULL, 'w' },
	{ "call", required_argument, NULL, 'c' },
	{ "keep-other", no_argument, NULL, 'o' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static void __attribute__((noreturn))
usage(void)
{
	printf(
"usage: srtp-decrypt -r IN.pcap[ng] -k KEYLOG -w OUT.pcap [--call ID]\n"
"                    [--keep-other] [-v]\n"
"  -r, --read FILE      capture to read (pcap or pcapng)\n"
"  -k, --keylog FILE    SRTP key log (one key per line, see srtp-decrypt(1))\n"
"  -w, --write FILE     plain capture to write (pcap, 0600, atomic)\n"
"      --call ID        use only the keys of this call\n"
"      --keep-other     copy frames that were not decrypted unchanged\n"
"  -v, --verbose        say which key each stream took\n"
"Exit: 0 decrypted, nothing failed authentication and the capture was\n"
"read to its end, 1 otherwise, 2 usage or input error.  See\n"
"srtp-decrypt(1).\n");
	exit(0);
}

/* One error line; returns EXIT_USAGE. */
static int
fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int
fail(const char *fmt, ...)
{
	va_list	 ap;

	fprintf(stderr, "%s: ", log_progname());
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return EXIT_USAGE;
}

/* Port of an IPv4/IPv6 address, host order. */
static unsigned int
addr_port(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
	return ntohs(((const struct sockaddr_in *)ss)->sin_port);
}

static void
addr_set_port(struct sockaddr_storage *ss, unsigned int port)
{
	if (ss->ss_family == AF_INET6)
		((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
	else
		((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
}

/* Order of addresses: family, address bytes, port. */
static int
addr_cmp(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	int	 r;

	if (a->ss_family != b->ss_family)
		return a->ss_family < b->ss_family ? -1 : 1;
	if (a->ss_family == AF_INET6)
		r = memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
		    &((const struct sockaddr_in6 *)b)->sin6_addr, 16);
	else
		r = memcmp(&((const struct sockaddr_in *)a)->sin_addr,
		    &((const struct sockaddr_in *)b)->sin_addr, 4);
	if (r != 0)
		return r;
	if (addr_port(a) != addr_port(b))
		return addr_port(a) < addr_port(b) ? -1 : 1;
	return 0;
}

static const char *
addr_str(const struct sockaddr_storage *ss, char *buf, size_t size)
{
	if (keylog_addr_format(ss, buf, size) != 0)
		snprintf(buf, size, "?");
	return buf;
}

/* Key pointers by dst, then time, then line (the structs, which hold
   keys, are never moved: qsort may copy elements to a temporary). */
static int
key_cmp(const void *va, const void *vb)
{
	const struct key	*a = *(struct key *const *)va;
	const struct key	*b = *(struct key *const *)vb;
	int			 r;

	if ((r = addr_cmp(&a->e.dst, &b->e.dst)) != 0)
		return r;
	if (a->e.time != b->e.time)
		return a->e.time < b->e.time ? -1 : 1;
	return a->line < b->line ? -1 : a->line > b->line;
}

/* The next line of c (without its '\n') into *p, *n; *nl: it had a
   '\n'.  0 at the end. */
static int
line_next(struct cursor *c, const char **p, size_t *n, int *nl)
{
	struct cursor	 scan = *c;

	if (cur_left(c) == 0)
		return 0;
	*n = 0;
	while (cur_left(&scan) > 0 && cur_u8(&scan) != '\n')
		(*n)++;
	*p = (const char *)cur_bytes(c, *n);
	*nl = cur_left(c) > 0;
	if (*nl)
		(void)cur_u8(c);		/* the '\n' */
	return 1;
}

/* Parse every line of buf; keep those of --call.  Returns 0 or exit. */
static int
keys_parse(struct dec *d, const uint8_t *buf, size_t len)
{
	struct cursor	 c, cnt;
	const char	*p;
	size_t		 n, line = 0, lines = 0;
	int		 nl;

	cur_init(&cnt, buf, len);
	while (line_next(&cnt, &p, &n, &nl))
		lines++;
	if (lines > KEYS_MAX)
		return fail("%s: %zu lines, more than %d", d->keyfile, lines,
		    KEYS_MAX);
	if (lines > 0 && (d->keys = calloc(lines, sizeof(*d->keys))) == NULL)
		return fail("%s: out of memory", d->keyfile);
	cur_init(&c, buf, len);
	while (line_next(&c, &p, &n, &nl)) {
		line++;
		if (n == 0 || p[0] == '#')
			continue;
		if (!nl) {			/* a write cut short */
			d->torn++;
			log_warnx("warning: %s:%zu: the last line has no "
			    "newline (a write cut short?); skipped",
			    d->keyfile, line);
			continue;
		}
		if (keylog_parse(p, n, &d->keys[d->nkeys].e) != 0)
			return fail("%s:%zu: %s", d->keyfile, line,
			    uc_errdetail());
		d->keys[d->nkeys].line = line;
		if (d->call == NULL || strcmp(d->call,
		    d->keys[d->nkeys].e.call) == 0)
			d->nkeys++;
		else
			keylog_entry_wipe(&d->keys[d->nkeys].e);
	}
	return 0;
}

/*
 * Read the key log through one descriptor: no symlink, no blocking open
 * of a FIFO, a regular file only; warn when others may read it
 * (keylog.h wants 0600).  Returns 0 or exit code.
 */
static int
keys_read(struct dec *d, uint8_t **buf, size_t *len)
{
	struct stat	 st;
	int		 fd, r = 0;

	fd = open(d->keyfile, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC | O_NOCTTY);
	if (fd == -1)
		return fail("key log %s: %s", d->keyfile, errno == ELOOP ?
		    "is a symbolic link; give the file itself" :
		    strerror(errno));
	if (fstat(fd, &st) == -1)
		r = fail("key log %s: %s", d->keyfile, strerror(errno));
	else if (!S_ISREG(st.st_mode))
		r = fail("key log %s: not a regular file", d->keyfile);
	else {
		if ((st.st_mode & 077) != 0)
			log_warnx("warning: key log %s: mode %04o lets others "
			    "read the call keys; chmod 600", d->keyfile,
			    (unsigned)(st.st_mode & 07777));
		if (file_read_fd(fd, d->keyfile, KEYLOG_FILE_MAX, buf,
		    len) != 0)
			r = fail("key log %s", uc_errdetail());
	}
	close(fd);
	return r;
}

/* Read and parse the key log; sorted by dst.  Returns 0 or exit code. */
static int
keys_load(struct dec *d)
{
	uint8_t		*buf = NULL;
	size_t		 len = 0, i;
	int		 r;

	if ((r = keys_read(d, &buf, &len)) != 0)
		return r;
	r = keys_parse(d, buf, len);
	OPENSSL_clear_free(buf, len + 1);
	if (r != 0)
		return r;
	if (d->nkeys == 0)
		return fail("%s: no key%s%s", d->keyfile,
		    d->call ? " for call " : "", d->call ? d->call : "");
	if ((d->sorted = calloc(d->nkeys, sizeof(*d->sorted))) == NULL)
		return fail("%s: out of memory", d->keyfile);
	for (i = 0; i < d->nkeys; i++)
		d->sorted[i] = &d->keys[i];
	qsort(d->sorted, d->nkeys, sizeof(*d->sorted), key_cmp);
	return 0;
}

/* Index of the first key whose dst is not below dst. */
static size_t
keys_lower(const struct dec *d, const struct sockaddr_storage *dst)
{
	size_t	 lo = 0, hi = d->nkeys, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (addr_cmp(&d->sorted[mid]->e.dst, dst) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Is a tried before b for a packet at time t (see the top comment)? */
static int
cand_before(const struct key *a, const struct key *b, int64_t t)
{
	int	 ea = a->e.time <= t + KEY_SLACK, eb = b->e.time <= t + KEY_SLACK;

	if (ea != eb)
		return ea;
	return ea ? a->e.time > b->e.time : a->e.time < b->e.time;
}

/* Keys for the packet's dst at port (newest CANDS_MAX) into c. */
static size_t
cands_add(struct dec *d, const struct pkt *pk, unsigned int port,
    struct key **c, size_t n)
{
	struct sockaddr_storage	 dst = pk->u.dst;
	size_t			 i, end;

	addr_set_port(&dst, port);
	i = keys_lower(d, &dst);
	for (end = i; end < d->nkeys && addr_cmp(&d->sorted[end]->e.dst,
	    &dst) == 0; end++)
		;
	while (end > i && n < CANDS_MAX) {
		end--;
		if (!d->sorted[end]->e.has_ssrc ||
		    d->sorted[end]->e.ssrc == pk->ssrc)
			c[n++] = d->sorted[end];
	}
	return n;
}

/* The keys to try for pk, in order; returns how many. */
static size_t
cands_find(struct dec *d, const struct pkt *pk, struct key **c)
{
	unsigned int	 port = addr_port(&pk->u.dst);
	int64_t		 t = (int64_t)pk->h->ts.tv_sec;
	struct key	*k;
	size_t		 n = 0, i, j;

	if (pk->rtcp && port > 1)
		n = cands_add(d, pk, port - 1, c, n);
	n = cands_add(d, pk, port, c, n);
	for (i = 1; i < n; i++) {		/* insertion sort, n <= 64 */
		k = c[i];
		for (j = i; j > 0 && cand_before(k, c[j - 1], t); j--)
			c[j] = c[j - 1];
		c[j] = k;
	}
	return n;
}

/* FNV-1a of n more bytes. */
static uint32_t
hash_bytes(uint32_t h, const void *v, size_t n)
{
	const uint8_t	*p = v;
	size_t		 i;

	for (i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

/* The address bytes of an IPv4/IPv6 address into the hash. */
static uint32_t
hash_addr(uint32_t h, const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET6)
		return hash_bytes(h, &((const struct sockaddr_in6 *)ss)->
		    sin6_addr, 16);
	return hash_bytes(h, &((const struct sockaddr_in *)ss)->sin_addr, 4);
}

static size_t
stream_hash(const struct pkt *pk)
{
	uint32_t	 h;
	uint32_t	 v[4] = { pk->ssrc, addr_port(&pk->u.src),
	    addr_port(&pk->u.dst), (uint32_t)pk->rtcp };

	h = hash_bytes(2166136261u, v, sizeof(v));
	h = hash_addr(h, &pk->u.src);
	h = hash_addr(h, &pk->u.dst);
	return h & (STREAM_BUCKETS - 1);
}

static int
stream_is(const struct stream *s, const struct pkt *pk)
{
	return s->ssrc == pk->ssrc && s->rtcp == pk->rtcp &&
	    addr_cmp(&s->src, &pk->u.src) == 0 &&
	    addr_cmp(&s->dst, &pk->u.dst) == 0;
}

/* The stream of pk, made if new; NULL when STREAMS_MAX is reached. */
static struct stream *
stream_get(struct dec *d, const struct pkt *pk, const struct key *label)
{
	struct stream	*s, *ns;
	size_t		 h = stream_hash(pk), i, cap;

	for (i = d->buckets[h]; i != NO_STREAM; i = d->streams[i].next)
		if (stream_is(&d->streams[i], pk))
			return &d->streams[i];
	if (d->nstreams == d->capstreams) {
		cap = d->capstreams ? d->capstreams * 2 : 64;
		if (cap > STREAMS_MAX || (ns = reallocarray(d->streams, cap,
		    sizeof(*ns))) == NULL)
			return NULL;
		d->streams = ns;
		d->capstreams = cap;
	}
	s = &d->streams[d->nstreams];
	memset(s, 0, sizeof(*s));
	s->src = pk->u.src;
	s->dst = pk->u.dst;
	s->ssrc = pk->ssrc;
	s->rtcp = pk->rtcp;
	s->label = label;
	s->next = d->buckets[h];
	d->buckets[h] = d->nstreams++;
	return s;
}

/* Try key k on pk: 0 with the plain packet in d->plain, or UC_ERR_*. */
static int
key_try(struct dec *d, struct key *k, const struct pkt *pk)
{
	int	 r;

	if (k->unusable)
		return UC_ERR_CRYPTO;
	if (k->rx == NULL && (r = srtpw_new(&k->rx, k->e.suite, SRTPW_RX,
	    k->e.keysalt, k->e.keysalt_len, k->e.has_ssrc ? k->e.ssrc :
	    0)) != 0) {
		k->unusable = 1;
		log_warnx("%s:%zu: %s", d->keyfile, k->line, uc_errdetail());
		return r;
	}
	memcpy(d->plain, pk->payload, pk->len);
	d->plain_len = pk->len;
	if (pk->rtcp)
		return srtpw_unprotect_rtcp(k->rx, d->plain, &d->plain_len);
	return srtpw_unprotect(k->rx, d->plain, &d->plain_len);
}

/* Log which key a stream took (-v). */
static void
stream_bind(struct dec *d, struct stream *s, struct key *k)
{
	char	 a[KEYLOG_ADDR_MAX], b[KEYLOG_ADDR_MAX];

	if (s->key != NULL && s->key != k)
		log_debug("stream %s -> %s ssrc=0x%08lx: new key from %s:%zu",
		    addr_str(&s->src, a, sizeof(a)),
		    addr_str(&s->dst, b, sizeof(b)), (unsigned long)s->ssrc,
		    d->keyfile, k->line);
	else if (s->key == NULL)
		log_debug("stream %s -> %s ssrc=0x%08lx%s: key from %s:%zu "
		    "call=%s dir=%s>%s", addr_str(&s->src, a, sizeof(a)),
		    addr_str(&s->dst, b, sizeof(b)), (unsigned long)s->ssrc,
		    s->rtcp ? " (RTCP)" : "", d->keyfile, k->line, k->e.call,
		    k->e.from, k->e.to);
	s->key = k;
	s->label = k;
}

/*
 * Decrypt pk of stream s with its bound key, else the candidates in
 * order.  1: plain in d->plain; 0: replayed; -1: no key authenticates.
 */
static int
stream_decrypt(struct dec *d, struct stream *s, const struct pkt *pk,
    struct key **c, size_t n)
{
	size_t	 i;
	int	 r, replayed = 0;

	if (s->key != NULL) {
		if ((r = key_try(d, s->key, pk)) == 0)
			return 1;
		if (r == UC_ERR_POLICY)
			return 0;
	}
	for (i = 0; i < n; i++) {
		if (c[i] == s->key)
			continue;
		if ((r = key_try(d, c[i], pk)) == 0) {
			stream_bind(d, s, c[i]);
			return 1;
		}
		replayed |= r == UC_ERR_POLICY;
	}
	return replayed ? 0 : -1;
}

/* RTP or RTCP by the first two bytes (RFC 3550, RFC 5761 4). */
static int
pkt_classify(struct pkt *pk)
{
	struct cursor	 c;
	uint8_t		 b0, b1;

	cur_init(&c, pk->payload, pk->len);
	b0 = cur_u8(&c);
	b1 = cur_u8(&c);
	if (!cur_ok(&c) || b0 >> 6 != 2)
		return -1;
	pk->rtcp = b1 >= RTCP_PT_MIN && b1 <= RTCP_PT_MAX;
	if (pk->len < (pk->rtcp ? RTCP_HDR_MIN : RTP_HDR_MIN))
		return -1;
	(void)cur_skip(&c, pk->rtcp ? 2 : 6);
	pk->ssrc = cur_u32(&c);
	return cur_ok(&c) ? 0 : -1;
}

/* Write the frame with d->plain as its UDP payload. */
static int
frame_write_plain(struct dec *d, const struct pkt *pk)
{
	struct pcap_pkthdr	 h = *pk->h;
	size_t			 n;

	n = netpkt_udp_rebuild(pk->frame, &pk->u, d->plain, d->plain_len,
	    d->frame_out, sizeof(d->frame_out));
	if (n == 0)
		return -1;
	h.len = (bpf_u_int32)(n + (h.len > h.caplen ? h.len - h.caplen : 0));
	h.caplen = (bpf_u_int32)n;
	pcap_dump((u_char *)d->dump, &h, d->frame_out);
	d->written++;
	return 0;
}

/*
 * One UDP datagram: 1 decrypted (written), 0 not for us, -1 failed or
 * replayed (counted).
 */
static int
udp_handle(struct dec *d, struct pkt *pk)
{
	struct key	*c[CANDS_MAX];
	struct stream	*s;
	size_t		 n;
	int		 r;

	if (pkt_classify(pk) != 0 || (n = cands_find(d, pk, c)) == 0)
		return 0;
	if ((s = stream_get(d, pk, c[0])) == NULL)
		return 0;
	if ((r = stream_decrypt(d, s, pk, c, n)) == 1) {
		if (frame_write_plain(d, pk) != 0)
			return 0;		/* cannot happen: plain is shorter */
		s->decrypted++;
		d->decrypted++;
		return 1;
	}
	if (r == 0) {
		s->replayed++;
		d->replayed++;
	} else {
		s->auth_failed++;
		d->auth_failed++;
	}
	return -1;
}

/* A frame the snapshot length cut: counted, warned about once. */
static void
frame_snapped(struct dec *d, const struct pcap_pkthdr *h)
{
	if (d->snapped++ == 0)
		log_warnx("warning: capture %s: frame %lu holds %u of its %u "
		    "bytes: the capture's snapshot length (pcap_snapshot() "
		    "%d) cut it; such frames are not decrypted (capture "
		    "with -s 0)", d->in, d->frames, h->caplen, h->len,
		    pcap_snapshot(d->pin));
}

/* One captured frame. */
static void
frame_handle(struct dec *d, const struct pcap_pkthdr *h, const uint8_t *f)
{
	struct pkt	 pk;
	int		 r = 0, pr = UC_ERR_UNSUPPORTED;

	memset(&pk, 0, sizeof(pk));
	pk.h = h;
	pk.frame = f;
	if (h->caplen <= FRAME_MAX)
		pr = netpkt_udp_parse(d->dlt_in, f, h->caplen, &pk.u);
	if (pr == 0) {
		pk.payload = f + pk.u.payload_off;
		pk.len = pk.u.payload_len;
		r = udp_handle(d, &pk);
	}
	if (r == 1)
		return;
	if (pr == UC_ERR_TRUNCATED && h->caplen < h->len)
		frame_snapped(d, h);
	else if (r == 0)
		d->other++;
	if (d->keep_other) {
		pcap_dump((u_char *)d->dump, h, f);
		d->written++;
	}
}

/* libpcap's message without the "PATH: " it may start with. */
static const char *
pcap_err_trim(const char *path, const char *err)
{
	size_t	 n = strlen(path);

	if (err[0] == '\0')
		return "cannot be read";
	if (strncmp(err, path, n) == 0 && err[n] == ':' && err[n + 1] == ' ')
		return err + n + 2;
	return err;
}

/* Open the capture, nanosecond timestamps kept.  0 or exit code. */
static int
capture_open(struct dec *d)
{
	char	 err[PCAP_ERRBUF_SIZE];
	int	 snap;

	err[0] = '\0';
	d->pin = pcap_open_offline_with_tstamp_precision(d->in,
	    PCAP_TSTAMP_PRECISION_NANO, err);
	if (d->pin == NULL)
		return fail("capture %s: %s", d->in, pcap_err_trim(d->in,
		    err));
	d->dlt_in = pcap_datalink(d->pin);
	snap = pcap_snapshot(d->pin);
	if (snap <= 0 || snap > FRAME_MAX)
		snap = FRAME_MAX;
	d->pdead = pcap_open_dead_with_tstamp_precision(d->dlt_in, snap,
	    PCAP_TSTAMP_PRECISION_NANO);
	if (d->pdead == NULL)
		return fail("%s: out of memory", d->out);
	return 0;
}

/* Refuse -w naming the input or the key log (it would be replaced). */
static int
out_check(const struct dec *d)
{
	struct stat	 so, si;

	if (stat(d->out, &so) != 0)
		return 0;
	if ((stat(d->in, &si) == 0 && si.st_dev == so.st_dev &&
	    si.st_ino == so.st_ino) || (stat(d->keyfile, &si) == 0 &&
	    si.st_dev == so.st_dev && si.st_ino == so.st_ino))
		return fail("%s: is the capture or the key log; choose another "
		    "output", d->out);
	if (!S_ISREG(so.st_mode))
		return fail("%s: exists and is not a regular file", d->out);
	return 0;
}

/* Start the temporary output next to OUT (0600).  0 or exit code. */
static int
out_open(struct dec *d)
{
	FILE	*fp;
	int	 fd, r;

	if ((r = out_check(d)) != 0)
		return r;
	if (snprintf(d->tmp, sizeof(d->tmp), "%s.XXXXXX", d->out) >=
	    (int)sizeof(d->tmp))
		return fail("%s: path too long", d->out);
	if ((fd = mkstemp(d->tmp)) == -1)
		return fail("%s: cannot create a temporary file next to it: "
		    "%s", d->out, strerror(errno));
	d->tmp_made = 1;
	if ((fp = fdopen(fd, "wb")) == NULL) {
		close(fd);
		return fail("%s: %s", d->tmp, strerror(errno));
	}
	if ((d->dump = pcap_dump_fopen(d->pdead, fp)) == NULL) {
		fclose(fp);
		return fail("%s: %s", d->tmp, pcap_geterr(d->pdead));
	}
	return 0;
}

/* fsync the directory of path so the rename is durable. */
static void
dir_sync(const char *path)
{
	char		 dir[PATH_MAX];
	const char	*slash = strrchr(path, '/');
	int		 fd;

	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return;
	(void)fsync(fd);
	close(fd);
}

/* Flush, sync and rename the output into place.  0 or exit code. */
static int
out_commit(struct dec *d)
{
	FILE	*fp = pcap_dump_file(d->dump);
	int	 bad;

	bad = pcap_dump_flush(d->dump) != 0 || ferror(fp) ||
	    fsync(fileno(fp)) != 0;
	pcap_dump_close(d->dump);
	d->dump = NULL;
	if (bad)
		return fail("%s: write failed: %s", d->tmp, strerror(errno));
	if (rename(d->tmp, d->out) != 0)
		return fail("%s: rename to %s: %s", d->tmp, d->out,
		    strerror(errno));
	d->tmp_made = 0;
	dir_sync(d->out);
	return 0;
}

/* Every frame of the capture.  0 or exit code (unreadable capture). */
static int
capture_run(struct dec *d)
{
	struct pcap_pkthdr	*h;
	const u_char		*f;
	int			 rc;

	while ((rc = pcap_next_ex(d->pin, &h, &f)) == 1) {
		d->frames++;
		frame_handle(d, h, f);
	}
	if (rc == PCAP_ERROR && d->frames == 0)
		return fail("capture %s: %s", d->in, pcap_geterr(d->pin));
	if (rc == PCAP_ERROR) {
		d->truncated = 1;
		log_warnx("warning: capture %s: after frame %lu: %s; the rest "
		    "is skipped", d->in, d->frames, pcap_geterr(d->pin));
	}
	return 0;
}

/* One line per stream and a total, on stdout. */
static void
report_print(const struct dec *d)
{
	const struct stream	*s;
	char			 a[KEYLOG_ADDR_MAX], b[KEYLOG_ADDR_MAX];
	size_t			 i;

	for (i = 0; i < d->nstreams; i++) {
		s = &d->streams[i];
		printf("stream %s -> %s ssrc=0x%08lx call=%s dir=%s>%s "
		    "decrypted=%lu auth_failed=%lu replayed=%lu\n",
		    addr_str(&s->src, a, sizeof(a)),
		    addr_str(&s->dst, b, sizeof(b)), (unsigned long)s->ssrc,
		    s->label->e.call, s->label->e.from, s->label->e.to,
		    s->decrypted, s->auth_failed, s->replayed);
	}
	printf("total streams=%zu frames=%lu decrypted=%lu auth_failed=%lu "
	    "replayed=%lu other=%lu snapped=%lu written=%lu truncated=%s\n",
	    d->nstreams, d->frames, d->decrypted, d->auth_failed, d->replayed,
	    d->other, d->snapped, d->written, d->truncated ? "yes" : "no");
}

/* Options into d.  0 or exit code; --help exits. */
static int
opts_parse(int argc, char **argv, struct dec *d)
{
	int	 ch;

	while ((ch = getopt_long(argc, argv, "r:k:w:vh", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'r':
			d->in = optarg;
			break;
		case 'k':
			d->keyfile = optarg;
			break;
		case 'w':
			d->out = optarg;
			break;
		case 'c':
			d->call = optarg;
			break;
		case 'o':
			d->keep_other = 1;
			break;
		case 'v':
			d->verbose = 1;
			break;
		case 'h':
			usage();
		default:
			return fail("unknown option or missing argument "
			    "(see srtp-decrypt --help)");
		}
	}
	if (optind != argc)
		return fail("unexpected argument \"%s\" (see srtp-decrypt "
		    "--help)", argv[optind]);
	if (d->in == NULL || d->keyfile == NULL || d->out == NULL)
		return fail("-r, -k and -w are required (see srtp-decrypt "
		    "--help)");
	return 0;
}

/* Free everything; keys and contexts wiped. */
static void
dec_free(struct dec *d)
{
	size_t	 i;

	for (i = 0; i < d->nkeys; i++) {
		srtpw_free(d->keys[i].rx);
		keylog_entry_wipe(&d->keys[i].e);
	}
	free(d->keys);
	free(d->sorted);
	free(d->streams);
	if (d->dump != NULL)
		pcap_dump_close(d->dump);
	if (d->tmp_made)
		(void)unlink(d->tmp);
	if (d->pdead != NULL)
		pcap_close(d->pdead);
	if (d->pin != NULL)
		pcap_close(d->pin);
	OPENSSL_cleanse(d->plain, sizeof(d->plain));
	OPENSSL_cleanse(d->frame_out, sizeof(d->frame_out));
	free(d);
}

int
main(int argc, char **argv)
{
	struct dec	*d;
	size_t		 i;
	int		 r;

	log_init("srtp-decrypt", 0, LOG_LEVEL_WARN);
	if ((d = calloc(1, sizeof(*d))) == NULL)
		return fail("out of memory");
	for (i = 0; i < STREAM_BUCKETS; i++)
		d->buckets[i] = NO_STREAM;
	if ((r = opts_parse(argc, argv, d)) != 0)
		goto out;
	if (d->verbose)
		log_set_level(LOG_LEVEL_DEBUG);
	if (srtpw_init() != 0) {
		r = fail("%s", uc_errdetail());
		goto out;
	}
	if ((r = keys_load(d)) != 0 || (r = capture_open(d)) != 0 ||
	    (r = out_open(d)) != 0 || (r = capture_run(d)) != 0 ||
	    (r = out_commit(d)) != 0)
		goto out;
	report_print(d);
	r = d->decrypted > 0 && d->auth_failed == 0 && !d->truncated ?
	    EXIT_DECRYPTED : EXIT_NOT_ALL;
 out:
	dec_free(d);
	return r;
}
