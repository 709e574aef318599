/*
 * sgntool: the offline tool for Cisco signed files (signed-files.md 3, 4,
 * 5).  Signs, verifies, shows and strips .sgn files, builds and decrypts
 * encrypted configs (.enc.sgn plus the signed stub) and prints
 * certificate hashes.  Keys are PEM files or pkcs11: URIs.
 */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "cert.h"
#include "cmd.h"
#include "enccfg.h"
#include "fileio.h"
#include "log.h"
#include "p11.h"
#include "sgn.h"
#include "sgnprint.h"
#include "signer.h"
#include "uerr.h"


#define SGNTOOL_FILE_MAX (512 * 1024 * 1024) /* firmware .cop.sgn: ~100 MB */
#define KEY_MAX		(64 * 1024)	/* a PEM private key */

/* Option bits: which options each command takes. */
#define O_KEY		0x0001
#define O_CERT		0x0002
#define O_DIGEST	0x0004
#define O_OUT		0x0008
#define O_FILENAME	0x0010
#define O_TIME		0x0020
#define O_JSON		0x0040
#define O_DEVCERT	0x0080
#define O_DEVKEY	0x0100
#define O_MODULE	0x0200

struct opts {
	const char	*key;		/* --key: PEM file or pkcs11: URI */
	const char	*cert;		/* --cert: signer certificate */
	const char	*out;		/* -o */
	const char	*filename;	/* --filename: header tag 14 */
	const char	*devcert;	/* --device-cert */
	const char	*devkey;	/* --device-key */
	enum signer_md	 md;
	int		 md_set;
	int		 json;
	int		 have_time;
	uint32_t	 timestamp;	/* --timestamp or SOURCE_DATE_EPOCH */
	struct p11_opts	 p11;
	const char	*arg;		/* the one FILE operand */
};

static const char *progname = "sgntool";

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr,
"usage: sgntool sign FILE --key KEY [--cert CERT] [--digest sha1|sha512]\n"
"                    [-o OUT] [--filename NAME] [--timestamp N]\n"
"       sgntool verify FILE.sgn|FILE.enc.sgn|FILE.tlv --cert CERT\n"
"       sgntool show FILE [--json] [--cert CERT]\n"
"       sgntool strip FILE.sgn [-o OUT]\n"
"       sgntool encrypt-config SEP<MAC>.cnf.xml --device-cert CERT\n"
"                    --key KEY [--cert CERT] [--digest sha1|sha512]\n"
"                    [-o DIR] [--timestamp N]\n"
"       sgntool decrypt-config FILE.enc.sgn --device-key PEM\n"
"                    [--cert CERT] [-o OUT]\n"
"       sgntool certhash CERT [--digest sha1|sha512]\n"
"\n"
"KEY:  pkcs11: URI of the TFTP signing key, or a PEM key file (which\n"
"      may also hold the certificate).  Common: --module PATH.\n"
"See sgntool(1).\n");
	exit(2);
}

static int
parse_time(const char *s, struct opts *o)
{
	char		*end;
	unsigned long	 v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (*s < '0' || *s > '9' || *end != '\0' || errno != 0 ||
	    v > UINT32_MAX)
		return uc_fail(UC_ERR_ARG, "timestamp \"%s\" is not a Unix "
		    "time (0 to 4294967295)", s);
	o->timestamp = (uint32_t)v;
	o->have_time = 1;
	return 0;
}

static const struct option longopts[] = {
	{ "key", required_argument, NULL, 'k' },
	{ "cert", required_argument, NULL, 'c' },
	{ "digest", required_argument, NULL, 'd' },
	{ "out", required_argument, NULL, 'o' },
	{ "filename", required_argument, NULL, 'f' },
	{ "timestamp", required_argument, NULL, 't' },
	{ "json", no_argument, NULL, 'j' },
	{ "device-cert", required_argument, NULL, 'D' },
	{ "device-key", required_argument, NULL, 'K' },
	{ "module", required_argument, NULL, 'm' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 }
};

/* Option bit for a getopt code; 0 for help and unknown. */
static int
opt_bit(int c)
{
	switch (c) {
	case 'k': return O_KEY;
	case 'c': return O_CERT;
	case 'd': return O_DIGEST;
	case 'o': return O_OUT;
	case 'f': return O_FILENAME;
	case 't': return O_TIME;
	case 'j': return O_JSON;
	case 'D': return O_DEVCERT;
	case 'K': return O_DEVKEY;
	case 'm': return O_MODULE;
	}
	return 0;
}

/* Store one option; returns 0, 1 (runtime error) or 2 (usage). */
static int
opt_store(int c, const char *arg, struct opts *o)
{
	switch (c) {
	case 'k': o->key = arg; break;
	case 'c': o->cert = arg; break;
	case 'o': o->out = arg; break;
	case 'f': o->filename = arg; break;
	case 'D': o->devcert = arg; break;
	case 'K': o->devkey = arg; break;
	case 'm': o->p11.module = arg; break;
	case 'j': o->json = 1; break;
	case 'd':
		if (signer_md_parse(arg, &o->md) != 0 ||
		    (o->md != SIGNER_SHA1 && o->md != SIGNER_SHA512))
			return cmd_usage_error("--digest %s: want sha1 or sha512 "
			    "(signed-files.md 1.5)", arg);
		o->md_set = 1;
		break;
	case 't':
		if (parse_time(arg, o) != 0)
			return cmd_usage_error("%s", uc_errdetail());
		break;
	}
	return 0;
}

/*
 * Parse a command's options (argv[0] is the command) allowing the bits
 * in allow, and its one FILE operand.  Returns 0 or 2 (usage).
 */
static int
opts_parse(int argc, char **argv, int allow, struct opts *o)
{
	const char	*sde;
	int		 c, r;

	memset(o, 0, sizeof(*o));
	o->md = SIGNER_SHA1;
	o->p11.interactive = isatty(STDIN_FILENO);
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "o:h", longopts, NULL)) != -1) {
		if (c == 'h')
			usage();
		if (opt_bit(c) == 0)
			return cmd_usage_error("%s: unknown option or missing "
			    "argument: %s", argv[0], argv[optind - 1]);
		if (!(opt_bit(c) & allow))
			return cmd_usage_error("%s: option %s does not apply",
			    argv[0], argv[optind - 1]);
		if ((r = opt_store(c, optarg, o)) != 0)
			return r;
	}
	if (optind + 1 != argc)
		return cmd_usage_error("%s: give one file", argv[0]);
	o->arg = argv[optind];
	sde = getenv("SOURCE_DATE_EPOCH");
	if ((allow & O_TIME) && !o->have_time && sde != NULL && *sde != '\0' &&
	    parse_time(sde, o) != 0)
		return cmd_usage_error("SOURCE_DATE_EPOCH: %s", uc_errdetail());
	return 0;
}

/* Read path and parse it as kind; *f freed with sgn_free. */
static int
sgn_load(const char *path, enum sgn_kind kind, struct sgn_file **f)
{
	uint8_t	*buf = NULL;
	size_t	 len;
	int	 r;

	*f = NULL;
	if ((r = file_read(path, SGNTOOL_FILE_MAX, &buf, &len)) != 0)
		return r;
	if ((r = sgn_parse(buf, len, kind, f)) != 0)
		uc_prefix(path);
	free(buf);
	return r;
}

/* What the atomic write checks before the rename: the same bytes. */
struct wcheck {
	const uint8_t	*data;
	size_t		 len;
	X509		*signer;	/* verify the file too; NULL: don't */
};

static int
check_written(const char *tmp, void *arg)
{
	struct wcheck	*w = arg;
	struct sgn_file	*f = NULL;
	int		 r = 0;

	/* file_write_atomic has compared the disk bytes with these. */
	(void)tmp;
	if (w->signer != NULL &&
	    ((r = sgn_parse(w->data, w->len, SGN_KIND_AUTO, &f)) != 0 ||
	    (r = sgn_verify(f, w->signer)) != 0))
		uc_prefix("re-verifying the written file");
	sgn_free(f);
	return r;
}

/* Write data to path atomically ("-": stdout), checked as w says. */
static int
write_out(const char *path, const uint8_t *data, size_t len, mode_t mode,
    X509 *signer)
{
	struct wcheck	 w = { data, len, signer };
	int		 r;

	if (strcmp(path, "-") == 0) {
		if (fwrite(data, 1, len, stdout) != len || fflush(stdout) != 0)
			return uc_fail(UC_ERR_IO, "writing to stdout failed");
		return 0;
	}
	if ((r = file_write_atomic(path, data, len, mode, check_written,
	    &w)) != 0)
		uc_prefix(path);
	return r;
}

/* path with suffix removed into buf; -1 if path lacks the suffix. */
static int
strip_suffix(const char *path, const char *suffix, char *buf, size_t sz)
{
	size_t	 n = strlen(path), s = strlen(suffix);

	if (n <= s || strcmp(path + n - s, suffix) != 0 || n - s >= sz)
		return -1;
	memcpy(buf, path, n - s);
	buf[n - s] = '\0';
	return 0;
}

/* The last component of path (copied into buf). */
static const char *
base_name(const char *path, char *buf, size_t sz)
{
	const char	*p = strrchr(path, '/');

	snprintf(buf, sz, "%s", p != NULL ? p + 1 : path);
	return buf;
}

/* The directory of path (copied into buf); "." for a bare name. */
static const char *
dir_name(const char *path, char *buf, size_t sz)
{
	snprintf(buf, sz, "%s", path);
	return dirname(buf);
}

static uint32_t
opt_time(const struct opts *o)
{
	return o->have_time ? o->timestamp : (uint32_t)time(NULL);
}

/* Sign body as a .sgn (3) named filename; *out freed by the caller. */
static int
sign_sgn(struct signer *s, const struct opts *o, const char *filename,
    const uint8_t *body, size_t len, uint8_t **out, size_t *outlen)
{
	struct sgn_build	 p;

	memset(&p, 0, sizeof(p));
	p.kind = SGN_KIND_SGN;
	p.md = o->md;
	p.filename = filename;
	p.timestamp = opt_time(o);
	return sgn_build(&p, body, len, s, out, outlen);
}

/* sgntool sign FILE --key KEY [--cert CERT] ... */
static int
cmd_sign(int argc, char **argv)
{
	struct opts	 o;
	struct signer	*s = NULL;
	uint8_t		*in = NULL, *out = NULL;
	size_t		 inlen, outlen;
	char		 outpath[PATH_MAX], fname[PATH_MAX];
	int		 r, rc = 1;

	if (opts_parse(argc, argv, O_KEY | O_CERT | O_DIGEST | O_OUT |
	    O_FILENAME | O_TIME | O_MODULE, &o) != 0)
		return 2;
	if (o.key == NULL)
		return cmd_usage_error("sign: --key is required");
	if (snprintf(outpath, sizeof(outpath), "%s.sgn", o.arg) >=
	    (int)sizeof(outpath))
		return cmd_usage_error("sign: output path too long");
	if (o.out != NULL && strcmp(o.out, "-") != 0)
		snprintf(outpath, sizeof(outpath), "%s", o.out);
	if (o.filename == NULL)
		o.filename = base_name(outpath, fname, sizeof(fname));
	if (o.out != NULL)
		snprintf(outpath, sizeof(outpath), "%s", o.out);
	if ((r = file_read(o.arg, SGNTOOL_FILE_MAX, &in, &inlen)) != 0 ||
	    (r = keyref_signer_open(o.key, o.cert, &o.p11, &s)) != 0 ||
	    (r = sign_sgn(s, &o, o.filename, in, inlen, &out, &outlen)) != 0 ||
	    (r = write_out(outpath, out, outlen, 0644, s->cert)) != 0)
		goto out;
	if (strcmp(outpath, "-") != 0)
		printf("%s: signed as %s (%s, %zu bytes)\n", outpath,
		    o.filename, signer_md_name(o.md), outlen);
	rc = 0;
out:
	if (rc != 0)
		cmd_fail(r);
	signer_free(s);
	free(in);
	free(out);
	return rc;
}

/* sgntool verify FILE --cert CERT */
static int
cmd_verify(int argc, char **argv)
{
	struct opts	 o;
	struct sgn_file	*f = NULL;
	X509		*x = NULL;
	char		 vis[CERT_NAME_MAX];
	int		 r, rc = 1;

	if (opts_parse(argc, argv, O_CERT | O_MODULE, &o) != 0)
		return 2;
	if (o.cert == NULL)
		return cmd_usage_error("verify: --cert is required");
	if ((r = keyref_cert_load(o.cert, &o.p11, &x)) != 0 ||
	    (r = sgn_load(o.arg, SGN_KIND_AUTO, &f)) != 0)
		goto out;
	if ((r = sgn_verify(f, x)) != 0) {
		uc_prefix(o.arg);
		goto out;
	}
	printf("%s: valid %s signature (%s, signer %s)\n", o.arg,
	    sgn_kind_name(f->kind), sgn_hash_name(f->h.hash_alg),
	    str_vis(vis, sizeof(vis), f->h.signer_name ? f->h.signer_name :
	    "(unnamed)"));
	rc = 0;
out:
	if (rc != 0)
		cmd_fail(r);
	X509_free(x);
	sgn_free(f);
	return rc;
}

/* sgntool show FILE [--json] [--cert CERT] */
static int
cmd_show(int argc, char **argv)
{
	struct opts	 o;
	struct sgn_file	*f = NULL;
	X509		*x = NULL;
	int		 r, valid = -1;

	if (opts_parse(argc, argv, O_JSON | O_CERT | O_MODULE, &o) != 0)
		return 2;
	if ((o.cert != NULL && (r = keyref_cert_load(o.cert, &o.p11,
	    &x)) != 0) || (r = sgn_load(o.arg, SGN_KIND_AUTO, &f)) != 0) {
		X509_free(x);
		return cmd_fail(r);
	}
	if (x != NULL)
		valid = sgn_verify(f, x) == 0;
	if (o.json) {
		sgn_print_json(stdout, f, valid);
	} else {
		sgn_print(stdout, f);
		if (valid >= 0)
			printf("\nSignature:         %s%s\n", valid ? "valid" :
			    "INVALID: ", valid ? "" : uc_errdetail());
	}
	X509_free(x);
	sgn_free(f);
	return 0;
}

/* sgntool strip FILE.sgn [-o OUT]: the body, as stripsgn writes it. */
static int
cmd_strip(int argc, char **argv)
{
	struct opts	 o;
	struct sgn_file	*f = NULL;
	char		 outpath[PATH_MAX];
	int		 r;

	if (opts_parse(argc, argv, O_OUT, &o) != 0)
		return 2;
	if (o.out == NULL && strip_suffix(o.arg, ".sgn", outpath,
	    sizeof(outpath)) != 0)
		return cmd_usage_error("strip: %s does not end in .sgn; give -o",
		    o.arg);
	if ((r = sgn_load(o.arg, SGN_KIND_SGN, &f)) == 0)
		r = write_out(o.out ? o.out : outpath, f->body, f->body_len,
		    0644, NULL);
	sgn_free(f);
	return r == 0 ? 0 : cmd_fail(r);
}

/* Both outputs of encrypt-config, built before anything is written. */
struct encout {
	uint8_t	*enc, *stub, *xml;
	size_t	 enclen, stublen, xmllen;
};

static int
encrypt_build(const struct opts *o, const char *name, X509 *dev,
    struct signer *s, struct encout *e)
{
	uint8_t	*cfg = NULL;
	size_t	 len;
	char	 fn[PATH_MAX];
	int	 r;

	if ((r = file_read(o->arg, ENCCFG_MAX, &cfg, &len)) != 0)
		goto out;
	if ((r = enccfg_stub(cfg, len, dev, &e->xml, &e->xmllen)) != 0) {
		uc_prefix(o->arg);
		goto out;
	}
	if (snprintf(fn, sizeof(fn), "%s.enc.sgn", name) >= (int)sizeof(fn)) {
		r = uc_fail(UC_ERR_ARG, "%s: name too long", name);
		goto out;
	}
	if ((r = enccfg_encrypt(cfg, len, dev, s, o->md, fn, opt_time(o),
	    &e->enc, &e->enclen)) != 0)
		goto out;
	/* NAME.enc.sgn -> NAME.sgn: shorter, so it fits. */
	memcpy(fn + strlen(fn) - strlen(".enc.sgn"), ".sgn", sizeof(".sgn"));
	r = sign_sgn(s, o, fn, e->xml, e->xmllen, &e->stub, &e->stublen);
out:
	if (cfg != NULL)
		OPENSSL_clear_free(cfg, len);
	return r;
}

/*
 * sgntool encrypt-config SEP<MAC>.cnf.xml --device-cert CERT --key KEY:
 * writes SEP<MAC>.cnf.xml.enc.sgn, then the stub SEP<MAC>.cnf.xml.sgn
 * (so a phone never sees a stub without its .enc.sgn).  Unlike the
 * reference, the input is kept.
 */
static int
cmd_encrypt(int argc, char **argv)
{
	struct opts	 o;
	struct encout	 e;
	struct signer	*s = NULL;
	X509		*dev = NULL;
	char		 name[PATH_MAX], dir[PATH_MAX], ep[PATH_MAX],
			 sp[PATH_MAX];
	int		 r, rc = 1;

	memset(&e, 0, sizeof(e));
	if (opts_parse(argc, argv, O_KEY | O_CERT | O_DIGEST | O_OUT |
	    O_TIME | O_DEVCERT | O_MODULE, &o) != 0)
		return 2;
	if (o.key == NULL || o.devcert == NULL)
		return cmd_usage_error("encrypt-config: --key and --device-cert "
		    "are required");
	base_name(o.arg, name, sizeof(name));
	if (strip_suffix(name, ".cnf.xml", dir, sizeof(dir)) != 0)
		return cmd_usage_error("encrypt-config: %s does not end in "
		    ".cnf.xml (signed-files.md 4)", o.arg);
	if (o.out == NULL)
		o.out = dir_name(o.arg, dir, sizeof(dir));
	if (snprintf(ep, sizeof(ep), "%s/%s.enc.sgn", o.out, name) >=
	    (int)sizeof(ep) || snprintf(sp, sizeof(sp), "%s/%s.sgn", o.out,
	    name) >= (int)sizeof(sp))
		return cmd_usage_error("encrypt-config: output path too long");
	if ((r = keyref_cert_load(o.devcert, &o.p11, &dev)) != 0 ||
	    (r = keyref_signer_open(o.key, o.cert, &o.p11, &s)) != 0 ||
	    (r = encrypt_build(&o, name, dev, s, &e)) != 0 ||
	    (r = write_out(ep, e.enc, e.enclen, 0644, s->cert)) != 0 ||
	    (r = write_out(sp, e.stub, e.stublen, 0644, s->cert)) != 0)
		goto out;
	printf("%s: encrypted config (%zu bytes)\n%s: signed stub (%zu "
	    "bytes)\n", ep, e.enclen, sp, e.stublen);
	rc = 0;
out:
	if (rc != 0)
		cmd_fail(r);
	free(e.enc);
	free(e.stub);
	free(e.xml);
	X509_free(dev);
	signer_free(s);
	return rc;
}

/* A PEM private key file; caller frees *pk. */
static int
key_load(const char *path, EVP_PKEY **pk)
{
	uint8_t	*buf = NULL;
	size_t	 len = 0;
	BIO	*bio = NULL;
	int	 r;

	*pk = NULL;
	if ((r = file_read(path, KEY_MAX, &buf, &len)) != 0)
		goto out;
	if ((bio = BIO_new_mem_buf(buf, (int)len)) == NULL) {
		r = uc_fail(UC_ERR_ALLOC, "BIO_new_mem_buf");
		goto out;
	}
	if ((*pk = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL)) == NULL)
		r = uc_fail_ssl(UC_ERR_FORMAT, "%s: no PEM private key", path);
out:
	BIO_free(bio);
	if (buf != NULL)
		OPENSSL_clear_free(buf, len);
	return r;
}

/* Check the signature of f when a TFTP certificate was given. */
static int
maybe_verify(const struct opts *o, const struct sgn_file *f)
{
	X509	*x = NULL;
	int	 r;

	if (o->cert == NULL)
		return 0;
	if ((r = keyref_cert_load(o->cert, &o->p11, &x)) == 0 &&
	    (r = sgn_verify(f, x)) != 0)
		uc_prefix(o->arg);
	X509_free(x);
	return r;
}

/*
 * sgntool decrypt-config FILE.enc.sgn --device-key PEM [--cert CERT]
 * [-o OUT]: writes the config (mode 0600) only if its hash matches.
 */
static int
cmd_decrypt(int argc, char **argv)
{
	struct opts	 o;
	struct sgn_file	*f = NULL;
	EVP_PKEY	*pk = NULL;
	uint8_t		*pt = NULL;
	size_t		 ptlen = 0;
	char		 outpath[PATH_MAX];
	int		 r;

	if (opts_parse(argc, argv, O_DEVKEY | O_CERT | O_OUT | O_MODULE,
	    &o) != 0)
		return 2;
	if (o.devkey == NULL)
		return cmd_usage_error("decrypt-config: --device-key is required");
	if (o.out == NULL && strip_suffix(o.arg, ".enc.sgn", outpath,
	    sizeof(outpath)) != 0)
		return cmd_usage_error("decrypt-config: %s does not end in "
		    ".enc.sgn; give -o", o.arg);
	if ((r = sgn_load(o.arg, SGN_KIND_ENC, &f)) == 0 &&
	    (r = maybe_verify(&o, f)) == 0 &&
	    (r = key_load(o.devkey, &pk)) == 0) {
		if ((r = enccfg_decrypt(f, pk, &pt, &ptlen)) != 0)
			uc_prefix(o.arg);
		else
			r = write_out(o.out ? o.out : outpath, pt, ptlen,
			    0600, NULL);
	}
	if (pt != NULL)
		OPENSSL_clear_free(pt, ptlen ? ptlen : 1);
	EVP_PKEY_free(pk);
	sgn_free(f);
	return r == 0 ? 0 : cmd_fail(r);
}

/* sgntool certhash CERT [--digest]: base64 of the DER digest (5). */
static int
cmd_certhash(int argc, char **argv)
{
	struct opts	 o;
	X509		*x = NULL;
	uint8_t		 md[EVP_MAX_MD_SIZE];
	char		 b64[2 * EVP_MAX_MD_SIZE];
	size_t		 n;
	int		 r;

	if (opts_parse(argc, argv, O_DIGEST | O_MODULE, &o) != 0)
		return 2;
	if ((r = keyref_cert_load(o.arg, &o.p11, &x)) == 0 &&
	    (r = cert_fingerprint(x, signer_evp_md(o.md), md, &n)) == 0) {
		EVP_EncodeBlock((unsigned char *)b64, md, (int)n);
		printf("%s\n", b64);
	}
	X509_free(x);
	return r == 0 ? 0 : cmd_fail(r);
}

static const struct cmd cmds[] = {
	{ "sign", cmd_sign },
	{ "verify", cmd_verify },
	{ "show", cmd_show },
	{ "strip", cmd_strip },
	{ "encrypt-config", cmd_encrypt },
	{ "decrypt-config", cmd_decrypt },
	{ "certhash", cmd_certhash },
};

int
main(int argc, char *argv[])
{
	log_init(progname, 0, getenv("UCSEC_DEBUG") ? LOG_LEVEL_DEBUG :
	    LOG_LEVEL_INFO);
	return cmd_dispatch(cmds, sizeof(cmds) / sizeof(cmds[0]), argc, argv,
	    usage);
}
