/*
 * The SRTP key manager (sccp-security.md 7.1): fresh master key || salt
 * per call and direction from the CSPRNG (rule 2), wiping (rule 7), and
 * the optional key log for authorized capture decryption (lib/keylog.h,
 * [sccp] key_log).  The log is off unless configured; it is opened at
 * start-up (a refusal stops ccmd) and again on SIGHUP (a refusal keeps
 * the file that was open).  ccmd's own log never shows a key: one line
 * "key log: call N dir A>B written" per entry.
 */
#include <sys/socket.h>
#include <sys/types.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "ccm.h"
#include "keylog.h"
#include "log.h"
#include "sdes.h"
#include "uerr.h"

struct keymgr_state {
	struct keylog	*log;		/* NULL: the key log is off */
	char		*path;		/* what log was opened from */
	int		 failed;	/* a write failed (logged once) */
};

/*
 * A fresh key || salt for suite into md from RAND_priv_bytes; md->srtp,
 * suite and keysalt_len set.  Returns 0, UC_ERR_ARG for a suite without
 * a known length, UC_ERR_CRYPTO when the RNG fails (md wiped).
 */
int
keymgr_new_key(struct media_desc *md, int suite)
{
	size_t	 klen, slen;

	if (md == NULL || suite < 0 || suite >= SUITE__MAX)
		return uc_fail(UC_ERR_ARG, "keymgr: suite %d", suite);
	klen = sdes_suite_key_len(suite);
	slen = sdes_suite_salt_len(suite);
	if (klen == 0 || slen == 0 || klen + slen > sizeof(md->keysalt))
		return uc_fail(UC_ERR_ARG, "keymgr: suite %d: key length",
		    suite);
	media_desc_wipe(md);
	if (RAND_priv_bytes(md->keysalt, (int)(klen + slen)) != 1) {
		media_desc_wipe(md);
		return uc_fail_ssl(UC_ERR_CRYPTO, "keymgr: RAND_priv_bytes");
	}
	md->keysalt_len = klen + slen;
	md->suite = suite;
	md->srtp = 1;
	return 0;
}

/* Wipe the key material of md (the address and codec stay). */
void
media_desc_wipe(struct media_desc *md)
{
	if (md == NULL)
		return;
	OPENSSL_cleanse(md->keysalt, sizeof(md->keysalt));
	md->keysalt_len = 0;
	md->srtp = 0;
}

/* Bounded copy of a name into a key log field. */
static void
name_copy(char *dst, size_t n, const char *src)
{
	snprintf(dst, n, "%s", src != NULL && src[0] != '\0' ? src : "-");
}

/*
 * One key log line for the key md that from sends to to (ccm.h).  A
 * no-op when the log is off or md carries no key.  A failed write is
 * logged once (until one works again), never fatal.
 */
void
keymgr_log(struct ccm *ccm, uint32_t call, const char *from, const char *to,
    const struct sockaddr_storage *src, const struct sockaddr_storage *dst,
    uint32_t ssrc, const struct media_desc *md)
{
	struct keymgr_state	*km = ccm->keymgr;
	struct keylog_entry	 e;

	if (km == NULL || km->log == NULL || md == NULL || !md->srtp ||
	    md->keysalt_len > sizeof(e.keysalt))
		return;
	memset(&e, 0, sizeof(e));
	e.time = (int64_t)time(NULL);
	snprintf(e.call, sizeof(e.call), "%u", call);
	name_copy(e.from, sizeof(e.from), from);
	name_copy(e.to, sizeof(e.to), to);
	if (src != NULL && src->ss_family != AF_UNSPEC) {
		e.has_src = 1;
		e.src = *src;
	}
	if (dst != NULL)
		e.dst = *dst;
	e.has_ssrc = ssrc != 0;
	e.ssrc = ssrc;
	e.suite = md->suite;
	memcpy(e.keysalt, md->keysalt, md->keysalt_len);
	e.keysalt_len = md->keysalt_len;
	if (keylog_write(km->log, &e) != 0) {
		if (!km->failed)
			log_warnx("key log %s: call %u dir %s>%s not written: "
			    "%s", km->path, call, e.from, e.to, uc_errdetail());
		km->failed = 1;
	} else {
		km->failed = 0;
		log_info("key log: call %u dir %s>%s written", call, e.from,
		    e.to);
	}
	keylog_entry_wipe(&e);
}

/* Close the log (if any). */
static void
keymgr_close(struct keymgr_state *km)
{
	keylog_close(km->log);
	km->log = NULL;
	free(km->path);
	km->path = NULL;
	km->failed = 0;
}

/*
 * Open the key log of the configuration (start-up and SIGHUP): the old
 * one is closed only once the new one is open.  Returns 0 (also when
 * the log is off), or UC_ERR_* naming [sccp] key_log with the old log
 * still in place.
 */
int
keymgr_init(struct ccm *ccm)
{
	struct keymgr_state	*km = ccm->keymgr;
	struct keylog		*kl = NULL;
	const char		*path = ccm->cfg->keylog;
	char			*p;
	int			 r;

	if (km == NULL) {
		if ((km = calloc(1, sizeof(*km))) == NULL)
			return uc_fail(UC_ERR_ALLOC, "keymgr");
		ccm->keymgr = km;
	}
	if (path == NULL) {
		if (km->log != NULL)
			log_info("key log %s: closed (key_log unset)",
			    km->path);
		keymgr_close(km);
		return 0;
	}
	/*
	 * The same file stays open across SIGHUP: after start-up ccmd may
	 * run as an unprivileged user that cannot open the root-owned 0600
	 * log again.
	 */
	if (km->log != NULL && km->path != NULL && strcmp(km->path, path) == 0) {
		if (keylog_is_at(km->log, path))
			return 0;
		/* Moved or deleted: a new file, if we still may create it. */
		if (keylog_open(path, &kl) != 0) {
			log_warnx("key log %s was moved or removed and cannot be "
			    "created again (%s): keys still go to the old file "
			    "until ccmd restarts", path, uc_errdetail());
			return 0;
		}
		keylog_close(km->log);
		km->log = kl;
		log_warnx("key log %s: rotated: a new file", path);
		return 0;
	}
	if ((r = keylog_open(path, &kl)) != 0) {
		uc_prefix("[sccp] key_log");
		return r;
	}
	if ((p = strdup(path)) == NULL) {
		keylog_close(kl);
		return uc_fail(UC_ERR_ALLOC, "keymgr");
	}
	keymgr_close(km);
	km->log = kl;
	km->path = p;
	log_warnx("key log %s: open: every SRTP key handed out is written "
	    "there (authorized capture decryption only)", p);
	return 0;
}

void
keymgr_free(struct ccm *ccm)
{
	if (ccm->keymgr == NULL)
		return;
	keymgr_close(ccm->keymgr);
	free(ccm->keymgr);
	ccm->keymgr = NULL;
}
