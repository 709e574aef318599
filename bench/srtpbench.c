/*
 * SRTP cost of our wrapper (lib/srtpw.c) against raw libsrtp2 in one
 * process: for each suite and payload size, protect then unprotect the
 * same prepared packets through direct srtp_protect/srtp_unprotect calls
 * and through srtpw_protect/srtpw_unprotect, in alternating rounds so
 * clock and load drift hit both sides alike.  Prints packets/s for a
 * protect + unprotect pair, the ratio srtpw/raw (over all rounds, and
 * the median of the per-round ratios), and microseconds per protect and
 * per unprotect, all in thread CPU time.  Not a test: nothing here
 * fails on speed.
 *
 *	srtpbench [-r rounds] [-n packets-per-round]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <srtp2/srtp.h>

#include "rtpflow.h"
#include "sdes.h"
#include "srtpw.h"
#include "uerr.h"

#define ROUNDS_MAX	100		/* per-round ratios kept */
#define PKTS_MAX	100000		/* packets per round */
#define SLOT_LEN	(1200 + RTP_HDR_LEN + SRTP_MAX_TRAILER_LEN)
#define BENCH_SSRC	0x5ec0de01U

struct bcase {
	int		 suite;
	size_t		 payload;
	srtp_t		 raw_tx, raw_rx;
	struct srtpw	*w_tx, *w_rx;
	uint16_t	 raw_seq, w_seq;	/* next sequence number */
	double		 t[2][2];	/* [raw, srtpw][prot, unprot] s */
	double		 ratio[ROUNDS_MAX]; /* per round srtpw/raw */
};

struct slots {
	uint8_t		*buf;			/* n * SLOT_LEN */
	size_t		*len;
	size_t		 n;
	uint8_t		 plain[SLOT_LEN];	/* the packet template */
	size_t		 plain_len;
};

/* Thread CPU time: other processes on a shared machine cost us less. */
static double
now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
die(const char *what)
{
	fprintf(stderr, "srtpbench: %s: %s\n", what, uc_errdetail());
	exit(1);
}

/* The same libsrtp policy srtpw builds for the suite. */
static void
raw_policy(int suite, srtp_policy_t *p)
{
	memset(p, 0, sizeof(*p));
	switch (suite) {
	case SUITE_AES_CM_128_HMAC_SHA1_32:
		srtp_crypto_policy_set_aes_cm_128_hmac_sha1_32(&p->rtp);
		srtp_crypto_policy_set_rtp_default(&p->rtcp);
		break;
	case SUITE_AEAD_AES_128_GCM:
		srtp_crypto_policy_set_aes_gcm_128_16_auth(&p->rtp);
		srtp_crypto_policy_set_aes_gcm_128_16_auth(&p->rtcp);
		break;
	default:
		srtp_crypto_policy_set_rtp_default(&p->rtp);
		srtp_crypto_policy_set_rtp_default(&p->rtcp);
		break;
	}
}

static void
case_init(struct bcase *c, int suite, size_t payload)
{
	srtp_policy_t	 p;
	uint8_t		 key[SRTP_MAX_KEY_LEN];
	size_t		 klen;

	memset(c, 0, sizeof(*c));
	c->suite = suite;
	c->payload = payload;
	klen = sdes_suite_key_len(suite) + sdes_suite_salt_len(suite);
	if (RAND_bytes(key, sizeof(key)) != 1)
		die("RAND_bytes");
	if (srtpw_new(&c->w_tx, suite, SRTPW_TX, key, klen, 0) != 0 ||
	    srtpw_new(&c->w_rx, suite, SRTPW_RX, key, klen, 0) != 0)
		die("srtpw_new");
	raw_policy(suite, &p);
	p.key = key;
	p.ssrc.type = ssrc_any_outbound;
	if (srtp_create(&c->raw_tx, &p) != srtp_err_status_ok)
		die("srtp_create");
	p.ssrc.type = ssrc_any_inbound;
	if (srtp_create(&c->raw_rx, &p) != srtp_err_status_ok)
		die("srtp_create");
	OPENSSL_cleanse(key, sizeof(key));
}

static void
case_free(struct bcase *c)
{
	srtpw_free(c->w_tx);
	srtpw_free(c->w_rx);
	srtp_dealloc(c->raw_tx);
	srtp_dealloc(c->raw_rx);
}

/* Copy the template into every slot with consecutive sequence numbers. */
static void
slots_fill(struct slots *s, uint16_t *seq)
{
	uint8_t	*p;
	size_t	 i;

	for (i = 0; i < s->n; i++) {
		p = s->buf + i * SLOT_LEN;
		memcpy(p, s->plain, s->plain_len);
		p[2] = (uint8_t)(*seq >> 8);
		p[3] = (uint8_t)*seq;
		(*seq)++;
	}
}

static void
run_raw(struct bcase *c, struct slots *s)
{
	double	 t0, t1, t2;
	size_t	 i;
	int	 len;

	slots_fill(s, &c->raw_seq);
	t0 = now();
	for (i = 0; i < s->n; i++) {
		len = (int)s->plain_len;
		if (srtp_protect(c->raw_tx, s->buf + i * SLOT_LEN, &len) !=
		    srtp_err_status_ok)
			die("srtp_protect");
		s->len[i] = (size_t)len;
	}
	t1 = now();
	for (i = 0; i < s->n; i++) {
		len = (int)s->len[i];
		if (srtp_unprotect(c->raw_rx, s->buf + i * SLOT_LEN, &len) !=
		    srtp_err_status_ok || (size_t)len != s->plain_len)
			die("srtp_unprotect");
	}
	t2 = now();
	c->t[0][0] += t1 - t0;
	c->t[0][1] += t2 - t1;
}

static void
run_wrap(struct bcase *c, struct slots *s)
{
	double	 t0, t1, t2;
	size_t	 i;

	slots_fill(s, &c->w_seq);
	t0 = now();
	for (i = 0; i < s->n; i++) {
		s->len[i] = s->plain_len;
		if (srtpw_protect(c->w_tx, s->buf + i * SLOT_LEN, &s->len[i],
		    SLOT_LEN) != 0)
			die("srtpw_protect");
	}
	t1 = now();
	for (i = 0; i < s->n; i++) {
		if (srtpw_unprotect(c->w_rx, s->buf + i * SLOT_LEN,
		    &s->len[i]) != 0 || s->len[i] != s->plain_len)
			die("srtpw_unprotect");
	}
	t2 = now();
	c->t[1][0] += t1 - t0;
	c->t[1][1] += t2 - t1;
}

static int
cmp_double(const void *a, const void *b)
{
	double	 x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Alternating rounds: even rounds raw first, odd rounds srtpw first. */
static void
case_run(struct bcase *c, struct slots *s, int rounds)
{
	double	 raw0, w0, raw, w;
	int	 r;

	s->plain_len = RTP_HDR_LEN + c->payload;
	rtp_pattern(BENCH_SSRC, 0, s->plain + RTP_HDR_LEN, c->payload);
	for (r = 0; r < rounds; r++) {
		raw0 = c->t[0][0] + c->t[0][1];
		w0 = c->t[1][0] + c->t[1][1];
		if (r % 2 == 0) {
			run_raw(c, s);
			run_wrap(c, s);
		} else {
			run_wrap(c, s);
			run_raw(c, s);
		}
		raw = c->t[0][0] + c->t[0][1] - raw0;
		w = c->t[1][0] + c->t[1][1] - w0;
		c->ratio[r] = raw / w;
		if (memcmp(s->buf, s->plain, 2) != 0 || memcmp(s->buf + 4,
		    s->plain + 4, s->plain_len - 4) != 0)
			die("round trip differs");
	}
}

static void
case_print(struct bcase *c, size_t n, int rounds)
{
	double	 tot = (double)n * rounds, raw, w;

	raw = tot / (c->t[0][0] + c->t[0][1]);
	w = tot / (c->t[1][0] + c->t[1][1]);
	qsort(c->ratio, (size_t)rounds, sizeof(c->ratio[0]), cmp_double);
	printf("%-24s %5zu %10.0f %10.0f %7.3f %7.3f %8.3f %8.3f %8.3f "
	    "%8.3f\n", sdes_suite_name(c->suite), c->payload, raw, w, w / raw,
	    c->ratio[rounds / 2], c->t[0][0] / tot * 1e6,
	    c->t[1][0] / tot * 1e6, c->t[0][1] / tot * 1e6,
	    c->t[1][1] / tot * 1e6);
}

static void
usage(FILE *f)
{
	fprintf(f, "usage: srtpbench [-r rounds] [-n packets-per-round]\n"
	    "  protect+unprotect packets/s through raw libsrtp2 and through "
	    "lib/srtpw,\n  interleaved rounds; defaults -r 60 -n 1000\n");
}

static int
parse_args(int argc, char *argv[], int *rounds, size_t *n)
{
	long	 v;
	int	 i;
	char	*end;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-h") == 0 ||
		    strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			exit(0);
		}
		if ((strcmp(argv[i], "-r") != 0 &&
		    strcmp(argv[i], "-n") != 0) || i + 1 >= argc)
			return -1;
		v = strtol(argv[i + 1], &end, 10);
		if (*end != '\0' || v < 1 ||
		    v > (argv[i][1] == 'r' ? ROUNDS_MAX : PKTS_MAX))
			return -1;
		if (argv[i][1] == 'r')
			*rounds = (int)v;
		else
			*n = (size_t)v;
		i++;
	}
	return 0;
}

int
main(int argc, char *argv[])
{
	static const int suites[] = { SUITE_AES_CM_128_HMAC_SHA1_80,
	    SUITE_AES_CM_128_HMAC_SHA1_32, SUITE_AEAD_AES_128_GCM };
	static const size_t sizes[] = { 160, 1200 };
	struct bcase	 c;
	struct slots	 s;
	size_t		 i, j;
	int		 rounds = 60;

	memset(&s, 0, sizeof(s));
	s.n = 1000;
	if (parse_args(argc, argv, &rounds, &s.n) != 0) {
		fprintf(stderr, "srtpbench: bad arguments: -r takes 1..%d, -n "
		    "1..%d\n", ROUNDS_MAX, PKTS_MAX);
		usage(stderr);
		return 2;
	}
	if ((s.buf = calloc(s.n, SLOT_LEN)) == NULL ||
	    (s.len = calloc(s.n, sizeof(*s.len))) == NULL)
		die("calloc");
	if (srtpw_init() != 0)
		die("srtpw_init");
	s.plain[0] = 0x80;
	s.plain[8] = BENCH_SSRC >> 24;
	s.plain[9] = (BENCH_SSRC >> 16) & 0xff;
	s.plain[10] = (BENCH_SSRC >> 8) & 0xff;
	s.plain[11] = BENCH_SSRC & 0xff;
	printf("srtpbench: %zu packets x %d interleaved rounds per case; "
	    "pkt/s = protect+unprotect pairs per CPU second\n", s.n, rounds);
	printf("%-24s %5s %10s %10s %7s %7s %8s %8s %8s %8s\n", "suite",
	    "bytes", "raw pkt/s", "srtpw", "w/raw", "median", "raw us/p",
	    "srtpw", "raw us/u", "srtpw");
	for (i = 0; i < sizeof(suites) / sizeof(suites[0]); i++)
		for (j = 0; j < sizeof(sizes) / sizeof(sizes[0]); j++) {
			case_init(&c, suites[i], sizes[j]);
			case_run(&c, &s, rounds);
			case_print(&c, s.n, rounds);
			case_free(&c);
		}
	free(s.buf);
	free(s.len);
	return 0;
}
