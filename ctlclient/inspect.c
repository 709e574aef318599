/*
 * ctlclient show, verify, diff and check-rollover: reading trust lists
 * the way a phone does.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "cert.h"
#include "extern.h"
#include "fileio.h"
#include "log.h"
#include "sgnprint.h"
#include "uerr.h"

/* Read and parse a trust list; *out is freed with sgn_free. */
int
tlv_load(const char *path, struct sgn_file **out)
{
	uint8_t	*buf = NULL;
	size_t	 len;
	int	 r;

	*out = NULL;
	if ((r = file_read(path, TLV_FILE_MAX, &buf, &len)) != 0)
		return r;
	if ((r = sgn_parse(buf, len, SGN_KIND_TLV, out)) != 0)
		uc_prefix(path);
	free(buf);
	return r;
}

/* The certificate of a record; caller frees *x. */
int
record_cert(const struct tlv_record *rec, X509 **x)
{
	int	 r;

	if ((r = cert_from_der(rec->cert.p, rec->cert.len, x)) != 0)
		uc_prefix(rec->subject ? rec->subject : "record certificate");
	return r;
}

/*
 * Is x within its validity at t?  Returns 0, or -1 with why filled in.
 */
int
cert_valid_at(X509 *x, time_t t, char *why, size_t sz)
{
	char	 name[CERT_NAME_MAX] = "", vname[CERT_NAME_MAX];

	if (X509_cmp_time(X509_get0_notAfter(x), &t) >= 0 &&
	    X509_cmp_time(X509_get0_notBefore(x), &t) <= 0)
		return 0;
	cert_name_text(X509_get_subject_name(x), name, sizeof(name));
	snprintf(why, sz, "certificate %s is %s", str_vis(vname,
	    sizeof(vname), name), X509_cmp_time(X509_get0_notAfter(x), &t) < 0 ?
	    "expired" : "not valid yet");
	return -1;
}

/* Is x the certificate of one of f's SAST records? */
int
is_sast_record(const struct sgn_file *f, X509 *x)
{
	X509	*rx;
	size_t	 i;
	int	 found = 0;

	for (i = 0; i < f->nrecs && !found; i++) {
		if (f->recs[i].role != TLV_ROLE_SAST ||
		    record_cert(&f->recs[i], &rx) != 0)
			continue;
		found = X509_cmp(rx, x) == 0;
		X509_free(rx);
	}
	return found;
}

static int
count_role(const struct sgn_file *f, int role)
{
	size_t	 i;
	int	 n = 0;

	for (i = 0; i < f->nrecs; i++)
		if (f->recs[i].role == role ||
		    (role == TLV_ROLE_TFTP && f->recs[i].role ==
		    TLV_ROLE_CCM_TFTP) ||
		    (role == TLV_ROLE_CCM && f->recs[i].role ==
		    TLV_ROLE_CCM_TFTP))
			n++;
	return n;
}

/*
 * What phones are known to demand of a verified trust list beyond its
 * signature (signed-files.md 1.5, 2.3): SHA-1 or SHA-512, one or two SAST
 * records.  Returns 0, or -1 with why filled in.
 */
int
phone_checks(const struct sgn_file *f, char *why, size_t sz)
{
	int	 n;

	if (f->h.hash_alg != SGN_HASH_SHA1 && f->h.hash_alg != SGN_HASH_SHA512) {
		snprintf(why, sz, "digest %s (code %d): phones and the reference "
		    "readers accept only SHA-1 and SHA-512 (signed-files.md "
		    "1.5)", sgn_hash_name(f->h.hash_alg), f->h.hash_alg);
		return -1;
	}
	n = count_role(f, TLV_ROLE_SAST);
	if (n < 1 || n > CTL_SAST_MAX) {
		snprintf(why, sz, "%d SAST records; phones accept 1 to %d",
		    n, CTL_SAST_MAX);
		return -1;
	}
	return 0;
}

/* ctlclient show FILE [--json] */
int
cmd_show(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct sgn_file	*f = NULL;
	size_t		 idx;
	int		 c, json = 0, r, valid;

	optind = 1;
	while ((c = getopt_long(argc, argv, "jh", lo, NULL)) != -1)
		switch (c) {
		case 'j':
			json = 1;
			break;
		case 'h':
			usage();
		default:
			return 2;
		}
	if (optind + 1 != argc) {
		cmd_usage_error("show: give one FILE");
		return 2;
	}
	if ((r = tlv_load(argv[optind], &f)) != 0)
		return cmd_fail(r);
	r = tlv_verify(f, &idx);
	valid = r == 0;
	if (json)
		sgn_print_json(stdout, f, valid);
	else {
		sgn_print(stdout, f);
		if (valid)
			printf("\nSignature:         valid (signer is record "
			    "%zu)\n", idx + 1);
		else
			printf("\nSignature:         INVALID: %s\n",
			    uc_errdetail());
	}
	sgn_free(f);
	return 0;
}

/* Warn when the signer is outside its validity or over 2048 bits. */
static void
warn_signer(const char *path, const struct tlv_record *rec, time_t t)
{
	X509	*x;
	char	 why[CERT_NAME_MAX + 64];

	if (record_cert(rec, &x) != 0)
		return;
	if (cert_valid_at(x, t, why, sizeof(why)) != 0)
		log_warnx("%s: warning: signer %s", path, why);
	if (cert_rsa_bits(x) > 2048)
		log_warnx("%s: warning: signer key is %d bits; phones are known "
		    "to support RSA keys up to 2048 bits", path,
		    cert_rsa_bits(x));
	X509_free(x);
}

/*
 * ctlclient verify FILE...: exit 0 only when every file's signature is
 * valid and its signer is a SAST record of the file.
 */
int
cmd_verify(int argc, char **argv)
{
	struct sgn_file	*f;
	char		 why[512], vname[CERT_NAME_MAX];
	size_t		 idx;
	int		 i, r, bad = 0;

	if (argc < 2) {
		cmd_usage_error("verify: give at least one FILE");
		return 2;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)
		usage();
	for (i = 1; i < argc; i++) {
		if ((r = tlv_load(argv[i], &f)) == 0 &&
		    (r = tlv_verify(f, &idx)) != 0)
			uc_prefix(argv[i]);
		if (r == 0 && phone_checks(f, why, sizeof(why)) != 0)
			r = uc_fail(UC_ERR_POLICY, "%s: %s", argv[i], why);
		if (r != 0) {
			cmd_fail(r);
			bad = 1;
		} else {
			printf("%s: valid signature by SAST record %zu (%s), "
			    "%s\n", argv[i], idx + 1, str_vis(vname,
			    sizeof(vname), f->recs[idx].subject ?
			    f->recs[idx].subject : ""), sgn_hash_name(
			    f->h.hash_alg));
			warn_signer(argv[i], &f->recs[idx], time(NULL));
		}
		sgn_free(f);
	}
	return bad;
}

/*
 * What identifies a record across two files: certificate SHA-1, role,
 * DNS name and IP address (a changed address is a reason to update a
 * CTL, so it must show).
 */
struct reckey {
	char	 sha1[2 * EVP_MAX_MD_SIZE + 1];
	char	 role[32];
	char	 where[CERT_NAME_MAX];
};

static void
record_key(const struct tlv_record *rec, struct reckey *k)
{
	uint8_t		 md[EVP_MAX_MD_SIZE];
	unsigned int	 n;
	char		 ip[64] = "", dns[CERT_NAME_MAX] = "", rb[32];

	snprintf(k->sha1, sizeof(k->sha1), "?");
	if (EVP_Digest(rec->cert.p, rec->cert.len, md, &n, EVP_sha1(), NULL))
		hex_encode(md, n, k->sha1);
	snprintf(k->role, sizeof(k->role), "%s", tlv_role_text(rec->role,
	    rb, sizeof(rb)));
	if (rec->ip.len == 4)
		snprintf(ip, sizeof(ip), " ip %u.%u.%u.%u", rec->ip.p[0],
		    rec->ip.p[1], rec->ip.p[2], rec->ip.p[3]);
	if (rec->dns != NULL)
		str_vis(dns, sizeof(dns) - 8, rec->dns);
	snprintf(k->where, sizeof(k->where), "%s%s%s", *dns ? " dns " : "",
	    dns, ip);
}

static int
has_record(const struct sgn_file *f, const struct reckey *key)
{
	struct reckey	 k;
	size_t		 i;

	for (i = 0; i < f->nrecs; i++) {
		record_key(&f->recs[i], &k);
		if (strcmp(k.sha1, key->sha1) == 0 &&
		    strcmp(k.role, key->role) == 0 &&
		    strcmp(k.where, key->where) == 0)
			return 1;
	}
	return 0;
}

/* Print records of a missing from b with mark; returns how many. */
static int
diff_records(const struct sgn_file *a, const struct sgn_file *b, char mark)
{
	struct reckey	 k;
	char		 vname[CERT_NAME_MAX];
	size_t		 i;
	int		 n = 0;

	for (i = 0; i < a->nrecs; i++) {
		record_key(&a->recs[i], &k);
		if (has_record(b, &k))
			continue;
		printf("%c %-10s %s  sha1 %s%s\n", mark, k.role,
		    str_vis(vname, sizeof(vname), a->recs[i].subject ?
		    a->recs[i].subject : ""), k.sha1, k.where);
		n++;
	}
	return n;
}

static int
diff_str(const char *what, const char *a, const char *b)
{
	char	 va[CERT_NAME_MAX], vb[CERT_NAME_MAX];

	a = a ? a : "(absent)";
	b = b ? b : "(absent)";
	if (strcmp(a, b) == 0)
		return 0;
	printf("~ %s: %s -> %s\n", what, str_vis(va, sizeof(va), a),
	    str_vis(vb, sizeof(vb), b));
	return 1;
}

/* Header fields that matter to a phone. */
static int
diff_header(const struct sgn_header *a, const struct sgn_header *b)
{
	char	 va[16], vb[16], sa[41], sb[41];
	int	 n = 0;

	n += diff_str("signer", a->signer_name, b->signer_name);
	hex_encode(a->serial.p, a->serial.len > 20 ? 20 : a->serial.len, sa);
	hex_encode(b->serial.p, b->serial.len > 20 ? 20 : b->serial.len, sb);
	n += diff_str("signer serial", sa, sb);
	n += diff_str("digest", sgn_hash_name(a->hash_alg),
	    sgn_hash_name(b->hash_alg));
	snprintf(va, sizeof(va), "%u.%u", a->sver_major, a->sver_minor);
	snprintf(vb, sizeof(vb), "%u.%u", b->sver_major, b->sver_minor);
	n += diff_str("signer version", a->has_signer_ver ? va : NULL,
	    b->has_signer_ver ? vb : NULL);
	n += diff_str("filename", a->filename, b->filename);
	if (a->timestamp != b->timestamp) {
		printf("~ timestamp: %u -> %u\n", a->timestamp, b->timestamp);
		n++;
	}
	return n;
}

/* ctlclient diff A B: exit 0 same content, 1 different, 2 error. */
int
cmd_diff(int argc, char **argv)
{
	struct sgn_file	*a = NULL, *b = NULL;
	int		 r, n;

	if (argc != 3) {
		cmd_usage_error("diff: give two FILEs");
		return 2;
	}
	if ((r = tlv_load(argv[1], &a)) != 0 ||
	    (r = tlv_load(argv[2], &b)) != 0) {
		cmd_fail(r);
		n = 2;
		goto out;
	}
	n = diff_header(&a->h, &b->h);
	n += diff_records(a, b, '-');
	n += diff_records(b, a, '+');
	if (n == 0)
		printf("same signer, header fields and records\n");
	n = n ? 1 : 0;
out:
	sgn_free(a);
	sgn_free(b);
	return n;
}

/*
 * Does a SAST record of installed verify cand's signature?  That is what
 * a phone holding installed checks (signed-files.md 2.3): records found
 * by the candidate's header serial.  Stores the record index in *idx.
 */
static int
installed_signer(const struct sgn_file *inst, const struct sgn_file *cand,
    size_t *idx)
{
	X509	*x;
	size_t	 i;
	int	 ok;

	for (i = 0; tlv_sast_next(inst, &cand->h.serial, &i); i++) {
		if (record_cert(&inst->recs[i], &x) != 0)
			continue;
		ok = sgn_verify(cand, x) == 0;
		X509_free(x);
		if (ok) {
			*idx = i;
			return 0;
		}
	}
	return -1;
}

/* No service role the installed list serves may vanish. */
static int
check_roles(const struct sgn_file *inst, const struct sgn_file *cand,
    char *why, size_t sz)
{
	static const int roles[] = { TLV_ROLE_CCM, TLV_ROLE_TFTP,
	    TLV_ROLE_CAPF, TLV_ROLE_TVS, TLV_ROLE_APP_SERVER };
	size_t	 i;

	for (i = 0; i < sizeof(roles) / sizeof(roles[0]); i++)
		if (count_role(inst, roles[i]) > 0 &&
		    count_role(cand, roles[i]) == 0) {
			snprintf(why, sz, "candidate drops every %s record the "
			    "installed file has: phones would lose trust in "
			    "that service", tlv_role_name(roles[i]));
			return -1;
		}
	return 0;
}

/* The candidate's signer: within validity at t, RSA up to 2048 bits. */
static int
check_signer_cert(const struct tlv_record *rec, time_t t, char *why,
    size_t sz)
{
	X509	*x;
	char	 w[CERT_NAME_MAX + 64];
	int	 r = 0;

	if (record_cert(rec, &x) != 0) {
		snprintf(why, sz, "signer certificate does not parse");
		return -1;
	}
	if (cert_valid_at(x, t, w, sizeof(w)) != 0) {
		snprintf(why, sz, "signer %.900s", w);
		r = -1;
	} else if (cert_rsa_bits(x) > 2048) {
		snprintf(why, sz, "signer key is %d bits; phones are known to "
		    "support RSA keys up to 2048 bits", cert_rsa_bits(x));
		r = -1;
	}
	X509_free(x);
	return r;
}

/* The phone's decision; returns 0 accepted or -1 with why filled. */
static int
rollover(const struct sgn_file *inst, const struct sgn_file *cand,
    time_t at, char *why, size_t sz)
{
	char	 vname[CERT_NAME_MAX];
	size_t	 self, idx;

	if (tlv_verify(cand, &self) != 0) {
		snprintf(why, sz, "candidate does not verify: %s",
		    uc_errdetail());
		return -1;
	}
	if (installed_signer(inst, cand, &idx) != 0) {
		snprintf(why, sz, "candidate is signed by %s, which is not a "
		    "SAST of the installed file; phones would refuse it and "
		    "need their trust list deleted by hand",
		    cand->h.signer_name ? str_vis(vname, sizeof(vname),
		    cand->h.signer_name) : "an unknown key");
		return -1;
	}
	if (phone_checks(cand, why, sz) != 0 ||
	    check_signer_cert(&cand->recs[self], at, why, sz) != 0 ||
	    check_roles(inst, cand, why, sz) != 0)
		return -1;
	if (inst->h.filename && cand->h.filename &&
	    strcmp(inst->h.filename, cand->h.filename) != 0) {
		snprintf(why, sz, "candidate header names %s, installed %s",
		    str_vis(vname, sizeof(vname), cand->h.filename),
		    inst->h.filename);
		return -1;
	}
	snprintf(why, sz, "signed by SAST %s (record %zu of the installed "
	    "file)", str_vis(vname, sizeof(vname), inst->recs[idx].subject ?
	    inst->recs[idx].subject : ""), idx + 1);
	return 0;
}

/*
 * ctlclient check-rollover INSTALLED CANDIDATE [--at UNIXTIME]: would a
 * phone holding INSTALLED accept CANDIDATE?  0 yes, 1 no, 2 error.
 */
int
cmd_check_rollover(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "at", required_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct sgn_file	*inst = NULL, *cand = NULL;
	char		 why[1024], *end;
	time_t		 at = time(NULL);
	int		 c, r;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1)
		switch (c) {
		case 'a':
			at = (time_t)strtoll(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0') {
				cmd_usage_error("--at wants a Unix time");
				return 2;
			}
			break;
		case 'h':
			usage();
		default:
			return 2;
		}
	if (optind + 2 != argc) {
		cmd_usage_error("check-rollover: give INSTALLED and CANDIDATE");
		return 2;
	}
	if ((r = tlv_load(argv[optind], &inst)) != 0) {
		cmd_fail(r);
		return 2;
	}
	if ((r = tlv_load(argv[optind + 1], &cand)) == UC_ERR_IO) {
		cmd_fail(r);
		sgn_free(inst);
		return 2;
	}
	if (r != 0) {
		snprintf(why, sizeof(why), "%s", uc_errdetail());
		r = -1;
	} else
		r = rollover(inst, cand, at, why, sizeof(why));
	printf("%s: %s: %s\n", argv[optind + 1], r == 0 ? "accepted" :
	    "REFUSED", why);
	sgn_free(inst);
	sgn_free(cand);
	return r == 0 ? 0 : 1;
}
