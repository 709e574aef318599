/*
 * Human and JSON views of a parsed signed-header file.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "cert.h"
#include "log.h"
#include "sgn.h"
#include "sgnprint.h"

/* "2026-11-25 23:49:03 UTC" into buf (at least 32 bytes). */
static const char *
fmt_time(uint32_t t, char *buf, size_t sz)
{
	time_t		 tt = (time_t)t;
	struct tm	 tm;

	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(buf, sz, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
		snprintf(buf, sz, "%u", t);
	return buf;
}

#define VIS_MAX	4096	/* longest file string shown; longer is cut */

/* A string from the file, made safe for a terminal. */
static const char *
vis(const char *s, char *buf)
{
	return s == NULL ? "" : str_vis(buf, VIS_MAX, s);
}

static const char *
hex(const struct sgn_bytes *b, char *buf, size_t sz)
{
	size_t	 n = b->len;

	if (b->p == NULL)
		return "";
	if (2 * n + 1 > sz)
		n = (sz - 1) / 2;
	hex_encode(b->p, n, buf);
	return buf;
}

static const char *
ip_text(const struct sgn_bytes *ip, char *buf, size_t sz)
{
	if (ip->len == 4)
		snprintf(buf, sz, "%u.%u.%u.%u", ip->p[0], ip->p[1], ip->p[2],
		    ip->p[3]);
	else
		hex(ip, buf, sz);
	return buf;
}

/* What the record's certificate says; fields empty if it does not parse. */
struct recinfo {
	char	 sha1[2 * 20 + 1];
	char	 keyalg[16];
	char	 not_after[32];
	int	 ok;
};

static void
rec_info(const struct tlv_record *r, struct recinfo *ri)
{
	X509		*x = NULL;
	uint8_t		 md[EVP_MAX_MD_SIZE];
	size_t		 mdlen;
	const ASN1_TIME	*t;
	struct tm	 tm;

	memset(ri, 0, sizeof(*ri));
	if (cert_from_der(r->cert.p, r->cert.len, &x) != 0)
		return;
	if (cert_fingerprint(x, EVP_sha1(), md, &mdlen) == 0)
		hex_encode(md, mdlen, ri->sha1);
	snprintf(ri->keyalg, sizeof(ri->keyalg), "%s", cert_keytype(x));
	if ((t = X509_get0_notAfter(x)) != NULL && ASN1_TIME_to_tm(t, &tm))
		strftime(ri->not_after, sizeof(ri->not_after),
		    "%Y-%m-%d %H:%M:%S UTC", &tm);
	ri->ok = 1;
	X509_free(x);
}

static void
print_enc(FILE *fp, const struct sgn_enc *e)
{
	char	 buf[2 * 64 + 1];

	fprintf(fp, "Encryption Info:   %u bytes (IV info %u, key info %u)\n",
	    e->info_len, e->iv_info_len, e->key_info_len);
	fprintf(fp, "Encryption IV:     %s\n", hex(&e->iv, buf, sizeof(buf)));
	fprintf(fp, "Padding Count:     %d\n", e->pad_count);
	fprintf(fp, "Key Algorithm:     %d%s\n", e->key_alg,
	    e->key_alg == 1 ? " (AES-128-CBC)" : "");
	fprintf(fp, "Wrapped Key:       %zu bytes (%d bits)\n",
	    e->wrapped_key.len, e->wrapped_bits);
	fprintf(fp, "Plaintext Digest:  %s %s\n", sgn_hash_name(e->pt_hash_alg),
	    hex(&e->pt_hash, buf, sizeof(buf)));
}

/* Print the header fields, one per line. */
static void
print_header(FILE *fp, const struct sgn_file *f)
{
	const struct sgn_header	*h = &f->h;
	char			 buf[2 * 64 + 1], tb[40], vb[VIS_MAX];

	fprintf(fp, "File Type:         %s\n", sgn_kind_name(f->kind));
	fprintf(fp, "Version:           %u.%u\n", h->ver_major, h->ver_minor);
	fprintf(fp, "Header Length:     %u bytes\n", h->hdr_len);
	if (h->has_signer_ver)
		fprintf(fp, "Signer Version:    %u.%u\n", h->sver_major,
		    h->sver_minor);
	fprintf(fp, "Signer Name:       %s\n", h->signer_name ?
	    vis(h->signer_name, vb) : "(absent)");
	fprintf(fp, "Issuer Name:       %s\n", h->issuer_name ?
	    vis(h->issuer_name, vb) : "(absent)");
	fprintf(fp, "Serial Number:     %s\n", hex(&h->serial, buf, sizeof(buf)));
	fprintf(fp, "Digest Algorithm:  %s\n", sgn_hash_name(h->hash_alg));
	fprintf(fp, "Signature:         %zu bytes at offset %zu\n", h->sig.len,
	    h->sig_off);
	fprintf(fp, "Filename:          %s\n", h->filename ?
	    vis(h->filename, vb) : "(absent)");
	if (h->has_timestamp)
		fprintf(fp, "Timestamp:         %s (%u)\n",
		    fmt_time(h->timestamp, tb, sizeof(tb)), h->timestamp);
	if (h->has_enc)
		print_enc(fp, &h->enc);
	if (f->kind != SGN_KIND_TLV)
		fprintf(fp, "Body:              %zu bytes\n", f->body_len);
}

static void
print_record(FILE *fp, size_t i, const struct tlv_record *r)
{
	struct recinfo	 ri;
	char		 buf[2 * 64 + 1], rb[32], vb[VIS_MAX];

	rec_info(r, &ri);
	fprintf(fp, "\nRecord %zu:         offset %zu, %u bytes\n", i + 1,
	    r->off, r->len);
	fprintf(fp, "  Role:            %s\n", tlv_role_text(r->role, rb,
	    sizeof(rb)));
	fprintf(fp, "  Subject Name:    %s\n", vis(r->subject, vb));
	fprintf(fp, "  Issuer Name:     %s\n", vis(r->issuer, vb));
	fprintf(fp, "  Serial Number:   %s\n", hex(&r->serial, buf,
	    sizeof(buf)));
	if (r->dns != NULL)
		fprintf(fp, "  DNS Name:        %s\n", vis(r->dns, vb));
	if (r->ip.p != NULL)
		fprintf(fp, "  IP Address:      %s\n", ip_text(&r->ip, buf,
		    sizeof(buf)));
	fprintf(fp, "  Public Key:      %zu bytes, %s\n", r->pubkey.len,
	    ri.ok ? ri.keyalg : "unknown");
	fprintf(fp, "  Signature:       %zu bytes\n", r->sig.len);
	fprintf(fp, "  Certificate:     %zu bytes%s\n", r->cert.len,
	    ri.ok ? "" : " (does not parse)");
	if (ri.ok) {
		fprintf(fp, "  Certificate Hash: %s\n", ri.sha1);
		fprintf(fp, "  Not After:       %s\n", ri.not_after);
	}
	if (r->certhash.p != NULL)
		fprintf(fp, "  Record Hash:     %s (algorithm %d)\n",
		    hex(&r->certhash, buf, sizeof(buf)), r->hash_alg);
}

/* Print every header field and, for trust lists, every record. */
void
sgn_print(FILE *fp, const struct sgn_file *f)
{
	size_t	 i;

	print_header(fp, f);
	if (f->kind == SGN_KIND_TLV)
		fprintf(fp, "Records:           %zu\n", f->nrecs);
	for (i = 0; i < f->nrecs; i++)
		print_record(fp, i, &f->recs[i]);
}

/*
 * A JSON string; s may hold any bytes from the file.  Printable UTF-8 is
 * kept, control characters are escaped, invalid bytes become U+FFFD.
 */
static void
json_str(FILE *fp, const char *s)
{
	const unsigned char	*p = (const unsigned char *)(s ? s : "");
	size_t			 left = strlen((const char *)p), n;

	fputc('"', fp);
	for (; left > 0; p += n, left -= n) {
		if ((n = utf8_printable(p, left)) > 0) {
			if (*p == '"' || *p == '\\')
				fputc('\\', fp);
			fwrite(p, 1, n, fp);
			continue;
		}
		n = 1;
		if (*p < 0x80)
			fprintf(fp, "\\u%04x", *p);
		else
			fputs("\\ufffd", fp);
	}
	fputc('"', fp);
}

static void
json_hex(FILE *fp, const struct sgn_bytes *b)
{
	size_t	 i;

	fputc('"', fp);
	for (i = 0; b->p != NULL && i < b->len; i++)
		fprintf(fp, "%02x", b->p[i]);
	fputc('"', fp);
}

static void
json_record(FILE *fp, const struct tlv_record *r)
{
	struct recinfo	 ri;
	const char	*rn = tlv_role_name(r->role);
	char		 buf[40];

	rec_info(r, &ri);
	fprintf(fp, "{\"offset\":%zu,\"length\":%u,\"role\":%d,\"role_name\":",
	    r->off, r->len, r->role);
	json_str(fp, rn ? rn : "unknown");
	fputs(",\"subject\":", fp);
	json_str(fp, r->subject);
	fputs(",\"issuer\":", fp);
	json_str(fp, r->issuer);
	fputs(",\"serial\":", fp);
	json_hex(fp, &r->serial);
	if (r->dns != NULL) {
		fputs(",\"dns\":", fp);
		json_str(fp, r->dns);
	}
	if (r->ip.p != NULL) {
		fputs(",\"ip\":", fp);
		json_str(fp, ip_text(&r->ip, buf, sizeof(buf)));
	}
	fprintf(fp, ",\"public_key_bytes\":%zu,\"signature_bytes\":%zu,"
	    "\"certificate_bytes\":%zu,\"key_algorithm\":", r->pubkey.len,
	    r->sig.len, r->cert.len);
	json_str(fp, ri.ok ? ri.keyalg : "unknown");
	fputs(",\"certificate_sha1\":", fp);
	json_str(fp, ri.sha1);
	fputs(",\"not_after\":", fp);
	json_str(fp, ri.not_after);
	fputc('}', fp);
}

/*
 * The same fields as JSON on one object; verified is -1 (not checked),
 * 0 (invalid) or 1 (valid).
 */
void
sgn_print_json(FILE *fp, const struct sgn_file *f, int verified)
{
	const struct sgn_header	*h = &f->h;
	size_t			 i;

	fputs("{\"type\":", fp);
	json_str(fp, sgn_kind_name(f->kind));
	fprintf(fp, ",\"version\":\"%u.%u\",\"header_length\":%u",
	    h->ver_major, h->ver_minor, h->hdr_len);
	if (h->has_signer_ver)
		fprintf(fp, ",\"signer_version\":\"%u.%u\"", h->sver_major,
		    h->sver_minor);
	fputs(",\"signer_name\":", fp);
	json_str(fp, h->signer_name);
	fputs(",\"issuer_name\":", fp);
	json_str(fp, h->issuer_name);
	fputs(",\"serial\":", fp);
	json_hex(fp, &h->serial);
	fputs(",\"digest\":", fp);
	json_str(fp, sgn_hash_name(h->hash_alg));
	fprintf(fp, ",\"signature_bytes\":%zu,\"filename\":", h->sig.len);
	json_str(fp, h->filename);
	if (h->has_timestamp)
		fprintf(fp, ",\"timestamp\":%u", h->timestamp);
	if (verified >= 0)
		fprintf(fp, ",\"signature_valid\":%s", verified ? "true" :
		    "false");
	if (f->kind == SGN_KIND_TLV) {
		fputs(",\"records\":[", fp);
		for (i = 0; i < f->nrecs; i++) {
			if (i > 0)
				fputc(',', fp);
			json_record(fp, &f->recs[i]);
		}
		fputc(']', fp);
	} else
		fprintf(fp, ",\"body_bytes\":%zu", f->body_len);
	fputs("}\n", fp);
}
