/*
 * HTTP digest authentication for SIP (RFC 2617, RFC 7616, RFC 8760):
 * hashes, self-validating nonces, the Authorization / WWW-Authenticate
 * header values, and a bounded nonce-count table against replays.
 * Header values are untrusted and read through the cursor.
 *
 * All int functions return 0 or a negative UC_ERR_* with the detail set.
 */
#ifndef UCSEC_DIGEST_H
#define UCSEC_DIGEST_H

#include <stddef.h>
#include <stdint.h>

enum digest_alg {
	DIGEST_MD5 = 0,
	DIGEST_SHA256 = 1,
	DIGEST_SHA512_256 = 2,
	DIGEST_ALG__MAX
};

#define DIGEST_HEX_MAX		65	/* 64 hex digits + NUL */
#define DIGEST_NONCE_LEN	43	/* base64url(8 + 8 + 16), no padding */
#define DIGEST_KEY_LEN		32
#define DIGEST_FIELD_MAX	256	/* any one parameter, incl. NUL */
#define DIGEST_URI_MAX		512

/* "MD5", "SHA-256", "SHA-512-256" with an optional "-sess"; any case. */
int		 digest_alg_parse(const char *, size_t, int *, int *);
const char	*digest_alg_name(int, int);
size_t		 digest_hex_len(int);		/* 32 or 64 */
/*
 * A preference list "SHA-256, MD5" (commas, optional blanks; no -sess,
 * no duplicates; "" gives *n = 0) into order[0 .. *n - 1].
 * UC_ERR_ARG for anything else.
 */
int		 digest_alg_list_parse(const char *, int [DIGEST_ALG__MAX],
		    size_t *);

/* HA1 = H(user ":" realm ":" password), lower-case hex. */
int	 digest_ha1(int, const char *, const char *, const char *, size_t,
	    char [DIGEST_HEX_MAX]);
/*
 * The expected response.  sess: HA1 becomes H(HA1 ":" nonce ":" cnonce).
 * qop NULL: legacy KD(HA1, nonce ":" HA2).  "auth-int" needs body.
 */
int	 digest_response(int, int, const char *ha1, const char *nonce,
	    const char *nc, const char *cnonce, const char *qop,
	    const char *method, const char *uri, const char *body, size_t,
	    char [DIGEST_HEX_MAX]);

/* Parsed credentials (Authorization / Proxy-Authorization). */
struct digest_creds {
	char		 username[DIGEST_FIELD_MAX];
	char		 realm[DIGEST_FIELD_MAX];
	char		 nonce[DIGEST_FIELD_MAX];
	char		 uri[DIGEST_URI_MAX];
	char		 response[DIGEST_HEX_MAX + 63];
	char		 cnonce[DIGEST_FIELD_MAX];
	char		 opaque[DIGEST_FIELD_MAX];
	char		 qop[16];		/* "" if absent */
	char		 nc_text[9];		/* "" if absent */
	uint32_t	 nc;
	int		 alg;			/* DIGEST_MD5 if absent */
	int		 sess;
	int		 has_alg, has_opaque, userhash;
};

/* Parse "Digest k=v, ..." (scheme any case).  Malformed -> UC_ERR_FORMAT;
   duplicate parameters, over-long values, bad nc -> UC_ERR_FORMAT. */
int	 digest_creds_parse(const char *, size_t, struct digest_creds *);
/* Format creds as a header value (UAC side). */
int	 digest_creds_format(const struct digest_creds *, char *, size_t);

struct digest_challenge {
	char		 realm[DIGEST_FIELD_MAX];
	char		 nonce[DIGEST_FIELD_MAX];
	char		 opaque[DIGEST_FIELD_MAX];	/* "" = none */
	int		 alg;
	int		 sess;
	int		 qop_auth, qop_auth_int;
	int		 stale;
};

int	 digest_challenge_parse(const char *, size_t, struct digest_challenge *);
int	 digest_challenge_format(const struct digest_challenge *, char *,
	    size_t);

/*
 * Nonces (spec 2.5): base64url(ts_be64 || rand64 ||
 * HMAC-SHA256(key, ts_be64 || rand64 || realm ":" algname)[0..15]),
 * algname as digest_alg_name(alg, sess).
 */
int	 digest_nonce_make(const uint8_t [DIGEST_KEY_LEN], int64_t,
	    const uint8_t [8], const char *, int, int,
	    char [DIGEST_NONCE_LEN + 1]);
/* 0 and *ts when the MAC holds; UC_ERR_SIGNATURE when not or malformed. */
int	 digest_nonce_check(const uint8_t [DIGEST_KEY_LEN], const char *,
	    const char *, int, int, int64_t *);
/*
 * The time in a well-formed nonce WITHOUT checking its MAC (for a stale
 * answer once its key is gone): 0 and *ts, or UC_ERR_SIGNATURE.
 */
int	 digest_nonce_time(const char *, int64_t *);

/* Constant-time equality of two NUL-terminated strings. */
int	 digest_equal(const char *, const char *);

/*
 * Nonce-count table: nonce -> highest nc accepted, entries dropped at
 * their expiry.  Bounded.  nc_table_use never blocks: when full it
 * evicts the entry that expires first and raises a watermark to the
 * nonce time of every entry it drops; a nonce not in the table whose
 * time is <= the watermark is STALE (it may have been used), a newer
 * one is a first use.  So no replay is ever accepted.  nc_table_check
 * is the older interface (no watermark: NC_FULL when full of live
 * entries); use one or the other on a table, not both.
 */
enum { NC_OK = 0, NC_REPLAY = 1, NC_FULL = 2, NC_STALE = 3 };
struct nc_table;
struct nc_table *nc_table_new(size_t);
void	 nc_table_free(struct nc_table *);
/* Accept nc for nonce if greater than the last; remember until expiry. */
int	 nc_table_check(struct nc_table *, const char *, uint32_t, int64_t,
	    int64_t);
/* (nonce, nc, nonce time, now, nonce expiry): NC_OK, NC_REPLAY, NC_STALE. */
int	 nc_table_use(struct nc_table *, const char *, uint32_t, int64_t,
	    int64_t, int64_t);
/* The watermark (INT64_MIN until an entry was dropped). */
int64_t	 nc_table_watermark(const struct nc_table *);
size_t	 nc_table_count(const struct nc_table *);

#endif /* UCSEC_DIGEST_H */
