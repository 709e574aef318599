/*
 * ctlclient build and update: assemble records, check the trust rules,
 * sign with a SAST token, write atomically after re-verifying.
 */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/evp.h>

#include "cert.h"
#include "extern.h"
#include "fileio.h"
#include "log.h"
#include "uerr.h"
#include "wbuf.h"

enum {
	OPT_SAST = 256, OPT_CCM, OPT_TFTP, OPT_CCM_TFTP, OPT_CAPF,
	OPT_APP_SERVER, OPT_TVS, OPT_DIGEST, OPT_VERSION, OPT_SIGN_WITH,
	OPT_SIGN_CERT, OPT_ALLOW_SINGLE, OPT_FILENAME, OPT_TIMESTAMP,
	OPT_MODULE, OPT_REMOVE, OPT_ADD = 512
};

/* Server role options; "--add-" forms for update are OPT_ADD + these. */
static const struct {
	const char	*name;
	int		 opt;
	int		 role;
} role_opts[] = {
	{ "sast", OPT_SAST, TLV_ROLE_SAST },
	{ "ccm", OPT_CCM, TLV_ROLE_CCM },
	{ "tftp", OPT_TFTP, TLV_ROLE_TFTP },
	{ "ccm-tftp", OPT_CCM_TFTP, TLV_ROLE_CCM_TFTP },
	{ "capf", OPT_CAPF, TLV_ROLE_CAPF },
	{ "app-server", OPT_APP_SERVER, TLV_ROLE_APP_SERVER },
	{ "tvs", OPT_TVS, TLV_ROLE_TVS },
};
#define NROLES	(sizeof(role_opts) / sizeof(role_opts[0]))

static const struct option common_opts[] = {
	{ "output", required_argument, NULL, 'o' },
	{ "digest", required_argument, NULL, OPT_DIGEST },
	{ "version", required_argument, NULL, OPT_VERSION },
	{ "sign-with", required_argument, NULL, OPT_SIGN_WITH },
	{ "sign-cert", required_argument, NULL, OPT_SIGN_CERT },
	{ "allow-single-token", no_argument, NULL, OPT_ALLOW_SINGLE },
	{ "filename", required_argument, NULL, OPT_FILENAME },
	{ "timestamp", required_argument, NULL, OPT_TIMESTAMP },
	{ "module", required_argument, NULL, OPT_MODULE },
	{ "remove", required_argument, NULL, OPT_REMOVE },
	{ "help", no_argument, NULL, 'h' },
};
#define NCOMMON	(sizeof(common_opts) / sizeof(common_opts[0]))

/* Long options: common ones, then --ROLE and --add-ROLE. */
static void
make_longopts(struct option *lo, char names[][24])
{
	size_t	 i, n = 0;

	for (i = 0; i < NCOMMON; i++)
		lo[n++] = common_opts[i];
	for (i = 0; i < NROLES; i++) {
		lo[n++] = (struct option){ role_opts[i].name, required_argument,
		    NULL, role_opts[i].opt };
		snprintf(names[i], 24, "add-%s", role_opts[i].name);
		lo[n++] = (struct option){ names[i], required_argument, NULL,
		    OPT_ADD + role_opts[i].opt };
	}
	lo[n] = (struct option){ NULL, 0, NULL, 0 };
}

static int
parse_sver(const char *s, struct buildopts *bo)
{
	if (strcmp(s, "1.0") == 0)
		bo->sver_minor = 0;
	else if (strcmp(s, "1.1") == 0)
		bo->sver_minor = 1;
	else
		return uc_fail(UC_ERR_ARG, "--version %s: want 1.0 or 1.1 "
		    "(signed-files.md 2.4)", s);
	bo->sver_major = 1;
	bo->sver_set = 1;
	return 0;
}

static int
parse_time(const char *s, struct buildopts *bo)
{
	char		*end;
	unsigned long	 v;

	v = strtoul(s, &end, 10);
	if (*s == '\0' || *end != '\0' || v > UINT32_MAX)
		return uc_fail(UC_ERR_ARG, "timestamp \"%s\" is not a Unix time",
		    s);
	bo->timestamp = (uint32_t)v;
	bo->have_time = 1;
	return 0;
}

/* Role for an option code, or -1. */
static int
opt_role(int opt)
{
	size_t	 i;

	for (i = 0; i < NROLES; i++)
		if (role_opts[i].opt == opt)
			return role_opts[i].role;
	return -1;
}

/* The option name for a role ("ccm-tftp"). */
static const char *
role_optname(int role)
{
	size_t	 i;

	for (i = 0; i < NROLES; i++)
		if (role_opts[i].role == role)
			return role_opts[i].name;
	return "?";
}

/*
 * Header filenames phones know (2.5): per-device files keep these too,
 * and which one it is decides the SAST rules.
 */
static int
check_filename(const char *name)
{
	if (strcmp(name, "CTLFile.tlv") == 0 || strcmp(name, "ITLFile.tlv") == 0)
		return 0;
	return uc_fail(UC_ERR_ARG, "--filename %s: the header names "
	    "CTLFile.tlv or ITLFile.tlv, also in per-device files "
	    "(signed-files.md 2.5)", name);
}

/*
 * Parse build/update options.  add selects "--add-ROLE" (update) or
 * "--ROLE" (build) for records.  Sources are only collected here and
 * loaded once every option (--module above all) is known.  Returns 0, or
 * 2 after a usage message, or 1 after an error line.
 */
static int
parse_opts(int argc, char **argv, int add, struct buildopts *bo)
{
	struct option	 lo[NCOMMON + 2 * NROLES + 1];
	char		 names[NROLES][24];
	int		 c, role, base, r = 0;

	make_longopts(lo, names);
	memset(bo, 0, sizeof(*bo));
	bo->sver_major = 1;
	bo->p11.interactive = 1;
	optind = 1;
	while (r == 0 && (c = getopt_long(argc, argv, "o:h", lo, NULL)) != -1) {
		base = c >= OPT_ADD ? c - OPT_ADD : c;
		if ((role = opt_role(base)) >= 0) {
			if ((c >= OPT_ADD) != add) {
				cmd_usage_error("%s: use --%s%s here", argv[0],
				    add ? "add-" : "", role_optname(role));
				return 2;
			}
			if (bo->npend == CTL_ENTRIES_MAX)
				r = uc_fail(UC_ERR_ARG, "more than %d records",
				    CTL_ENTRIES_MAX);
			else
				bo->pend[bo->npend++] =
				    (struct pending){ role, optarg };
			continue;
		}
		switch (c) {
		case 'o':
			bo->out = optarg;
			break;
		case OPT_DIGEST:
			if ((r = signer_md_parse(optarg, &bo->md)) == 0 &&
			    bo->md == SIGNER_SHA256)
				r = uc_fail(UC_ERR_ARG, "--digest sha256: phones "
				    "and the reference readers take only sha1 "
				    "and sha512 (signed-files.md 1.5)");
			bo->md_set = 1;
			break;
		case OPT_VERSION:
			r = parse_sver(optarg, bo);
			break;
		case OPT_SIGN_WITH:
			bo->sign_with = optarg;
			break;
		case OPT_SIGN_CERT:
			bo->sign_cert = optarg;
			break;
		case OPT_ALLOW_SINGLE:
			bo->allow_single = 1;
			break;
		case OPT_FILENAME:
			bo->filename = optarg;
			r = check_filename(optarg);
			break;
		case OPT_TIMESTAMP:
			r = parse_time(optarg, bo);
			break;
		case OPT_MODULE:
			bo->p11.module = optarg;
			break;
		case OPT_REMOVE:
			if (!add || bo->nremove == CTL_ENTRIES_MAX) {
				cmd_usage_error("--remove belongs to update");
				return 2;
			}
			bo->remove[bo->nremove++] = optarg;
			break;
		case 'h':
			usage();
		default:
			return 2;
		}
	}
	if (r == 0 && !bo->have_time && getenv("SOURCE_DATE_EPOCH") != NULL)
		r = parse_time(getenv("SOURCE_DATE_EPOCH"), bo);
	if (r != 0)
		return cmd_fail(r);
	return 0;
}

/* Load every collected source into es. */
static int
load_pending(const struct buildopts *bo, struct entries *es)
{
	size_t	 i;
	int	 r;

	for (i = 0; i < bo->npend; i++)
		if ((r = entry_add(es, bo->pend[i].spec, bo->pend[i].role,
		    &bo->p11)) != 0)
			return r;
	return 0;
}

/* Header filename for an output path (2.5): per-device names keep the
 * generic one. */
static const char *
default_filename(const char *out)
{
	const char	*base = strrchr(out, '/');

	base = base ? base + 1 : out;
	return strncasecmp(base, "ITL", 3) == 0 ? "ITLFile.tlv" : "CTLFile.tlv";
}

/* Count SAST entries; check the limits CUCM and phones impose. */
static int
check_sast(const struct entries *es, int is_ctl, int allow_single)
{
	size_t	 i, n = 0, need;

	for (i = 0; i < es->n; i++)
		if (es->v[i].role == TLV_ROLE_SAST)
			n++;
	need = is_ctl && !allow_single ? CTL_SAST_MIN : 1;
	if (n > CTL_SAST_MAX)
		return uc_fail(UC_ERR_POLICY, "%zu SAST tokens given: phones "
		    "accept at most %d SAST records in a trust list "
		    "(usecallmanager.nz), so a phone would refuse this file",
		    n, CTL_SAST_MAX);
	if (n < need)
		return uc_fail(UC_ERR_POLICY, "%zu SAST token%s given: a CTL "
		    "needs %zu (CUCM requires at least two eTokens so that "
		    "losing one does not lock every phone out); "
		    "--allow-single-token overrides this for a lab", n,
		    n == 1 ? "" : "s", need);
	return 0;
}

/* Per-record checks: SAST keys are RSA, EC needs version 1.1, no twins. */
static int
check_entries(const struct entries *es, const struct buildopts *bo)
{
	const struct entry	*e, *f;
	char			 rb[32];
	size_t			 i, j;
	int			 ec;

	for (i = 0; i < es->n; i++) {
		e = &es->v[i];
		ec = EVP_PKEY_is_a(X509_get0_pubkey(e->cert), "EC");
		if (e->role == TLV_ROLE_SAST && ec)
			return uc_fail(UC_ERR_POLICY, "%s: a SAST signs the "
			    "trust list and must have an RSA key "
			    "(signed-files.md 1.6)", e->what);
		if (ec && bo->sver_minor < 1)
			return uc_fail(UC_ERR_POLICY, "%s: EC certificates need "
			    "signer version 1.1 (--version 1.1; "
			    "signed-files.md 2.4)", e->what);
		for (j = 0; j < i; j++) {
			f = &es->v[j];
			if (f->role == e->role && X509_cmp(f->cert, e->cert) == 0)
				return uc_fail(UC_ERR_ARG, "%s: the same "
				    "certificate is already listed as %s (%s)",
				    e->what, tlv_role_text(e->role, rb,
				    sizeof(rb)), f->what);
		}
	}
	return 0;
}

/* The signer must be one of the SAST entries of the file it signs. */
static int
check_signer_listed(const struct entries *es, const struct signer *s)
{
	size_t	 i;

	for (i = 0; i < es->n; i++)
		if (es->v[i].role == TLV_ROLE_SAST &&
		    X509_cmp(es->v[i].cert, s->cert) == 0)
			return 0;
	return uc_fail(UC_ERR_POLICY, "%s: the signing certificate is not one "
	    "of the SAST records of the file, so phones could not verify it "
	    "(signed-files.md 2.3)", s->label);
}

/* Serialise the records: new ones encoded, kept ones copied verbatim. */
static int
encode_entries(const struct entries *es, struct wbuf *b)
{
	struct tlv_record_in	 in;
	const struct entry	*e;
	size_t			 i;
	int			 r;

	for (i = 0; i < es->n; i++) {
		e = &es->v[i];
		if (e->raw != NULL) {
			wbuf_put(b, e->raw, e->rawlen);
			continue;
		}
		memset(&in, 0, sizeof(in));
		in.cert = e->cert;
		in.role = e->role;
		in.dns = e->dns;
		in.has_ip = e->has_ip;
		memcpy(in.ip, e->ip, 4);
		if ((r = tlv_record_encode(b, &in)) != 0)
			return r;
	}
	return wbuf_ok(b) ? 0 : uc_fail(UC_ERR_ALLOC, "records");
}

struct written {
	const uint8_t	*data;
	size_t		 len;
};

/*
 * file_write_atomic check: the bytes on disk (which it has compared with
 * these) parse and verify as a trust list.
 */
static int
check_written(const char *tmp, void *arg)
{
	struct written	*w = arg;
	struct sgn_file	*f = NULL;
	int		 r;

	(void)tmp;
	if ((r = sgn_parse(w->data, w->len, SGN_KIND_TLV, &f)) == 0)
		r = tlv_verify(f, NULL);
	if (r != 0)
		uc_prefix("re-verification of the written file failed");
	sgn_free(f);
	return r;
}

/*
 * Print the records about to be signed, one line each with the SHA-1 an
 * admin compares (above all for certificates collected over TLS), before
 * the token signs anything.
 */
static void
print_plan(const struct entries *es)
{
	uint8_t		 md[EVP_MAX_MD_SIZE];
	char		 name[CERT_NAME_MAX], vname[CERT_NAME_MAX];
	char		 hex[2 * 20 + 1], rb[32];
	size_t		 i, mdlen;

	for (i = 0; i < es->n; i++) {
		hex[0] = name[0] = '\0';
		if (cert_fingerprint(es->v[i].cert, EVP_sha1(), md, &mdlen) == 0)
			hex_encode(md, mdlen, hex);
		cert_name_text(X509_get_subject_name(es->v[i].cert), name,
		    sizeof(name));
		printf("  %-10s %s  sha1 %s%s\n", tlv_role_text(es->v[i].role,
		    rb, sizeof(rb)), str_vis(vname, sizeof(vname), name), hex,
		    es->v[i].raw ? "" : "  (new)");
	}
	fflush(stdout);
}

/* Encode, sign, verify and atomically write the trust list. */
static int
write_tlv(const struct buildopts *bo, const struct entries *es,
    struct signer *s)
{
	struct sgn_build	 p;
	struct written		 w;
	struct wbuf		 b;
	uint8_t			*out = NULL;
	size_t			 outlen;
	int			 r;

	wbuf_init(&b, TLV_FILE_MAX);
	if ((r = encode_entries(es, &b)) != 0)
		goto out;
	memset(&p, 0, sizeof(p));
	p.kind = SGN_KIND_TLV;
	p.md = bo->md;
	p.filename = bo->filename;
	p.timestamp = bo->have_time ? bo->timestamp : (uint32_t)time(NULL);
	p.sver_major = bo->sver_major;
	p.sver_minor = bo->sver_minor;
	if ((r = sgn_build(&p, b.data, b.len, s, &out, &outlen)) != 0)
		goto out;
	w.data = out;
	w.len = outlen;
	if ((r = file_write_atomic(bo->out, out, outlen, 0644, check_written,
	    &w)) != 0)
		goto out;
	printf("wrote %s: %zu records, %s, signer version %u.%u, signed by "
	    "%s\n", bo->out, es->n, signer_md_name(bo->md), bo->sver_major,
	    bo->sver_minor, s->label);
out:
	wbuf_free(&b);
	free(out);
	return r;
}

/*
 * Can a SAST source sign?  A token URI can; a file only when it holds a
 * private key (the reference tools' key+certificate .pem, for labs).
 */
static int
can_sign(const char *src)
{
	uint8_t	*buf = NULL;
	size_t	 len;
	int	 yes;

	if (p11_is_uri(src))
		return 1;
	if (strncmp(src, "tls://", 6) == 0 ||
	    file_read(src, 256 * 1024, &buf, &len) != 0)
		return 0;
	yes = memmem(buf, len, "PRIVATE KEY-----", 16) != NULL;
	OPENSSL_clear_free(buf, len + 1);
	return yes;
}

/*
 * Open the signer: --sign-with, else the first SAST source that can
 * sign (signed-files.md: the file is signed by a SAST).
 */
static int
open_signer(const struct buildopts *bo, const struct entries *es,
    struct signer **s)
{
	const char	*key = bo->sign_with;
	size_t		 i;
	int		 r;

	for (i = 0; key == NULL && i < es->n; i++)
		if (es->v[i].role == TLV_ROLE_SAST && es->v[i].raw == NULL &&
		    can_sign(es->v[i].src))
			key = es->v[i].src;
	if (key == NULL)
		return uc_fail(UC_ERR_ARG, "no SAST can sign: none is a token "
		    "URI or a PEM file with its key; plug in a token and give "
		    "--sign-with pkcs11:...");
	if ((r = keyref_signer_open(key, bo->sign_cert, &bo->p11, s)) != 0)
		return r;
	if ((r = signer_check_key(*s)) != 0) {
		signer_free(*s);
		*s = NULL;
	}
	return r;
}

/*
 * Common tail of build and update: checks, then sign and write.  s is
 * the signer update already opened, or NULL to open one here.
 */
static int
finish(struct buildopts *bo, struct entries *es, struct signer *s)
{
	struct signer	*own = NULL;
	int		 r, is_ctl;

	/* Anything but an ITL gets the CTL's two-token rule. */
	is_ctl = strcasecmp(bo->filename, "ITLFile.tlv") != 0;
	if ((r = check_sast(es, is_ctl, bo->allow_single)) != 0 ||
	    (r = check_entries(es, bo)) != 0)
		return r;
	if (s == NULL && (r = open_signer(bo, es, &own)) != 0)
		return r;
	print_plan(es);
	if ((r = check_signer_listed(es, s ? s : own)) == 0)
		r = write_tlv(bo, es, s ? s : own);
	signer_free(own);
	return r;
}

/*
 * ctlclient build -o OUT --sast SRC --sast SRC [--ROLE SRC]... : a new
 * trust list.
 */
int
cmd_build(int argc, char **argv)
{
	struct buildopts	*bo;
	struct entries		*es;
	int			 r;

	if ((es = calloc(1, sizeof(*es))) == NULL ||
	    (bo = calloc(1, sizeof(*bo))) == NULL) {
		free(es);
		return cmd_fail(uc_fail(UC_ERR_ALLOC, "entries"));
	}
	if ((r = parse_opts(argc, argv, 0, bo)) != 0)
		goto out;
	if (bo->out == NULL || optind != argc) {
		cmd_usage_error("build: -o OUT is required and takes no operands");
		r = 2;
		goto out;
	}
	if (bo->filename == NULL)
		bo->filename = default_filename(bo->out);
	if (!bo->md_set)
		bo->md = SIGNER_SHA1;
	if ((r = load_pending(bo, es)) != 0 ||
	    (r = finish(bo, es, NULL)) != 0)
		r = cmd_fail(r);
out:
	entries_free(es);
	free(es);
	free(bo);
	return r;
}

/* Does pattern (hex serial, or subject text) name record rec? */
static int
removal_matches(const char *pat, const struct tlv_record *rec)
{
	char	 hex[2 * CERT_SERIAL_MAX + 1], clean[2 * CERT_SERIAL_MAX + 1];
	size_t	 i, n = 0;

	if (rec->subject != NULL && strcmp(pat, rec->subject) == 0)
		return 1;
	for (i = 0; pat[i] != '\0' && n < sizeof(clean) - 1; i++)
		if (pat[i] != ':')
			clean[n++] = pat[i];
	clean[n] = '\0';
	if (rec->serial.len > CERT_SERIAL_MAX || pat[i] != '\0')
		return 0;
	hex_encode(rec->serial.p, rec->serial.len, hex);
	return strcasecmp(clean, hex) == 0;
}

/* Keep the current records that no --remove names, in their order. */
static int
keep_records(const struct sgn_file *f, const struct buildopts *bo,
    struct entries *kept)
{
	const struct tlv_record	*rec;
	struct entry		*e;
	size_t			 i, j, hits[CTL_ENTRIES_MAX] = { 0 };
	int			 drop, r;

	for (i = 0; i < f->nrecs; i++) {
		rec = &f->recs[i];
		for (drop = 0, j = 0; j < bo->nremove; j++)
			if (removal_matches(bo->remove[j], rec)) {
				hits[j]++;
				drop = 1;
			}
		if (drop)
			continue;
		if (kept->n == CTL_ENTRIES_MAX)
			return uc_fail(UC_ERR_FORMAT, "more than %d records",
			    CTL_ENTRIES_MAX);
		e = &kept->v[kept->n];
		memset(e, 0, sizeof(*e));
		if ((r = record_cert(rec, &e->cert)) != 0)
			return uc_fail(r, "record %zu at offset %zu: %s", i + 1,
			    rec->off, uc_errdetail());
		kept->n++;
		e->role = rec->role;
		e->raw = f->buf + rec->off;
		e->rawlen = rec->len;
		if ((e->what = strdup(rec->subject ? rec->subject : "?")) == NULL)
			return uc_fail(UC_ERR_ALLOC, "record name");
	}
	for (j = 0; j < bo->nremove; j++)
		if (hits[j] == 0)
			return uc_fail(UC_ERR_ARG, "--remove %s: no record has "
			    "that serial number or subject", bo->remove[j]);
	return 0;
}

/*
 * Only a token that is already a SAST of the current file may sign its
 * successor: the rule that keeps a stolen laptop from re-rooting phones.
 * Checked with the key's certificate, read without logging in, so a
 * wrong token costs no PIN try.
 */
static int
check_authorised(const struct sgn_file *f, const char *path,
    const struct buildopts *bo)
{
	X509	*x = NULL;
	char	*label;
	int	 r;

	if ((r = tlv_verify(f, NULL)) != 0) {
		uc_prefix("current file does not verify; refusing to extend "
		    "trust from it");
		uc_prefix(path);
		return r;
	}
	if ((r = keyref_cert_load(bo->sign_cert ? bo->sign_cert :
	    bo->sign_with, &bo->p11, &x)) != 0)
		return r;
	if (!is_sast_record(f, x)) {
		label = p11_uri_redact(bo->sign_with);
		r = uc_fail(UC_ERR_POLICY, "%s: %s is not a SAST token of this "
		    "file; only a token already in the file may sign its update "
		    "(phones would refuse it)", path, label ? label : "key");
		free(label);
	}
	X509_free(x);
	return r;
}

/* Update's defaults come from the current file. */
static void
inherit_header(struct buildopts *bo, const struct sgn_file *f)
{
	if (bo->filename == NULL)
		bo->filename = f->h.filename ? f->h.filename : "CTLFile.tlv";
	if (!bo->md_set && sgn_hash_md(f->h.hash_alg, &bo->md) != 0)
		bo->md = SIGNER_SHA1;
	if (!bo->sver_set && f->h.has_signer_ver) {
		bo->sver_major = f->h.sver_major;
		bo->sver_minor = f->h.sver_minor;
	}
}

/*
 * ctlclient update FILE [-o OUT] --sign-with KEY [--add-ROLE SRC]...
 * [--remove SERIAL|SUBJECT]...
 */
int
cmd_update(int argc, char **argv)
{
	struct buildopts	*bo;
	struct entries		*all = NULL;
	struct sgn_file		*f = NULL;
	struct signer		*s = NULL;
	const char		*path;
	int			 r;

	if ((bo = calloc(1, sizeof(*bo))) == NULL ||
	    (all = calloc(1, sizeof(*all))) == NULL) {
		r = cmd_fail(uc_fail(UC_ERR_ALLOC, "entries"));
		goto out;
	}
	if ((r = parse_opts(argc, argv, 1, bo)) != 0)
		goto out;
	if (optind + 1 != argc || bo->sign_with == NULL) {
		cmd_usage_error("update: give exactly one FILE and --sign-with");
		r = 2;
		goto out;
	}
	path = argv[optind];
	if (bo->out == NULL)
		bo->out = path;
	if ((r = tlv_load(path, &f)) != 0 ||
	    (r = check_authorised(f, path, bo)) != 0 ||
	    (r = keep_records(f, bo, all)) != 0 ||
	    (r = load_pending(bo, all)) != 0) {
		r = cmd_fail(r);
		goto out;
	}
	inherit_header(bo, f);
	if ((r = keyref_signer_open(bo->sign_with, bo->sign_cert, &bo->p11,
	    &s)) != 0 || (r = signer_check_key(s)) != 0 ||
	    (r = finish(bo, all, s)) != 0)
		r = cmd_fail(r);
out:
	if (all != NULL)
		entries_free(all);
	free(all);
	free(bo);
	signer_free(s);
	sgn_free(f);
	return r;
}
