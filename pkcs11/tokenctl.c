/*
 * tokenctl: list PKCS#11 tokens, make keys on them, and give those keys
 * certificates (self-signed or imported) for the ucsec signing tools.
 * Every key and certificate is named by an RFC 7512 pkcs11: URI.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <p11-kit/p11-kit.h>

#include "cert.h"
#include "extern.h"
#include "fileio.h"
#include "log.h"
#include "p11.h"
#include "signer.h"
#include "uerr.h"

#define TOKENCTL_VERSION "0.1"
#define EXIT_USAGE	2
#define RAND_ID_LEN	8	/* CKA_ID bytes keygen picks */
#define SERIAL_LEN	16	/* random certificate serial bytes */
#define DAYS_MAX	36500	/* a century is plenty */
#define SIGN_FILE_MAX	(64 * 1024 * 1024) /* `sign` input cap */
#define URI_BUF		1024	/* a URI we print */

struct cmd {
	const char	*name;
	int		(*fn)(int, char **);
	const char	*args;
	int		 hidden;
};

static struct p11_opts	 opts;
static const struct cmd	*cur;

static void usage(int) __attribute__((noreturn));
static void cmd_usage(void) __attribute__((noreturn));

/* Parse a pkcs11: URI argument; UC_ERR_ARG when it is not one. */
static int
uri_arg(const char *s, struct p11_uri *u)
{
	int	 r;

	if ((r = p11_uri_parse(s, u)) != 0)
		return r == UC_ERR_ALLOC ? r : UC_ERR_ARG;
	return 0;
}

/* Write text to path atomically, or to stdout when path is NULL. */
static int
output(const char *path, const void *buf, size_t len)
{
	if (path != NULL)
		return file_write_atomic(path, buf, len, 0644, NULL, NULL);
	if (fwrite(buf, 1, len, stdout) != len || fflush(stdout) != 0)
		return uc_fail(UC_ERR_IO, "stdout: write failed");
	return 0;
}

/* Print a certificate or request as PEM to path or stdout. */
static int
output_pem(const char *path, X509 *x, X509_REQ *req)
{
	BIO	*bio;
	char	*p;
	long	 n;
	int	 r;

	if ((bio = BIO_new(BIO_s_mem())) == NULL)
		return uc_fail(UC_ERR_ALLOC, "BIO_new");
	if ((x != NULL && PEM_write_bio_X509(bio, x) != 1) ||
	    (req != NULL && PEM_write_bio_X509_REQ(bio, req) != 1)) {
		BIO_free(bio);
		return uc_fail_ssl(UC_ERR_CRYPTO, "PEM encoding");
	}
	n = BIO_get_mem_data(bio, &p);
	r = output(path, p, (size_t)n);
	BIO_free(bio);
	return r;
}

static const char *
key_type_name(int type)
{
	switch (type) {
	case EVP_PKEY_RSA:
		return "RSA";
	case EVP_PKEY_EC:
		return "EC";
	default:
		return "unknown";
	}
}

/* "RSA 2048 bits" or "EC prime256v1" for a key. */
static void
key_desc(PKCS11_KEY *k, char *buf, size_t sz)
{
	EVP_PKEY	*pub;
	char		 grp[64];
	int		 type = PKCS11_get_key_type(k);

	if ((pub = PKCS11_get_public_key(k)) == NULL) {
		snprintf(buf, sz, "%s", key_type_name(type));
		ERR_clear_error();
		return;
	}
	if (type == EVP_PKEY_EC && EVP_PKEY_get_utf8_string_param(pub,
	    OSSL_PKEY_PARAM_GROUP_NAME, grp, sizeof(grp), NULL) == 1)
		snprintf(buf, sz, "EC %s (%d bits)", grp, EVP_PKEY_get_bits(pub));
	else
		snprintf(buf, sz, "%s %d bits", key_type_name(type),
		    EVP_PKEY_get_bits(pub));
	EVP_PKEY_free(pub);
	ERR_clear_error();
}

static void
print_key(struct p11_tok *t, PKCS11_KEY *k, int priv, int detail)
{
	char	 desc[96], uri[URI_BUF];
	int	 ext = -1, sens = -1;

	key_desc(k, desc, sizeof(desc));
	if (p11_uri_format(p11_tok_label(t), k->label, k->id, k->id_len,
	    priv ? "private" : "public", uri, sizeof(uri)) != 0)
		snprintf(uri, sizeof(uri), "(URI too long)");
	printf("    %s key: %s\n      %s\n", priv ? "private" : "public",
	    desc, uri);
	if (!detail || !priv)
		return;
	if (p11_obj_bool(t, CKO_PRIVATE_KEY, k->id, k->id_len, k->label,
	    CKA_EXTRACTABLE, &ext) != 0)
		ext = -1;
	if (p11_obj_bool(t, CKO_PRIVATE_KEY, k->id, k->id_len, k->label,
	    CKA_SENSITIVE, &sens) != 0)
		sens = -1;
	printf("      sensitive: %s, extractable: %s\n",
	    sens < 0 ? "unknown" : sens ? "yes" : "no",
	    ext < 0 ? "unknown" : ext ? "YES (can leave the token)" : "no");
}

static void
print_time(const char *what, const ASN1_TIME *tm)
{
	BIO	*bio = BIO_new_fp(stdout, BIO_NOCLOSE);

	printf("      %s: ", what);
	fflush(stdout);
	if (bio != NULL)
		ASN1_TIME_print(bio, tm);
	BIO_free(bio);
	printf("\n");
}

static void
print_cert(struct p11_tok *t, PKCS11_CERT *c, int detail)
{
	char		 name[CERT_NAME_MAX], uri[URI_BUF];
	char		 hex[2 * EVP_MAX_MD_SIZE + 1];
	uint8_t		 buf[EVP_MAX_MD_SIZE];
	size_t		 n = sizeof(buf);

	if (cert_name_text(X509_get_subject_name(c->x509), name,
	    sizeof(name)) != 0)
		snprintf(name, sizeof(name), "(unprintable)");
	if (p11_uri_format(p11_tok_label(t), c->label, c->id, c->id_len,
	    "cert", uri, sizeof(uri)) != 0)
		snprintf(uri, sizeof(uri), "(URI too long)");
	printf("    certificate: %s\n      %s\n", name, uri);
	if (!detail)
		return;
	if (cert_name_text(X509_get_issuer_name(c->x509), name,
	    sizeof(name)) == 0)
		printf("      issuer: %s\n", name);
	if (cert_serial(c->x509, buf, &n) == 0) {
		hex_encode(buf, n, hex);
		printf("      serial: %s\n", hex);
	}
	print_time("not before", X509_get0_notBefore(c->x509));
	print_time("not after", X509_get0_notAfter(c->x509));
	n = sizeof(buf);
	if (cert_fingerprint(c->x509, EVP_sha1(), buf, &n) == 0) {
		hex_encode(buf, n, hex);
		printf("      SHA-1 fingerprint: %s\n", hex);
	}
	printf("      key: %s %d bits\n", cert_keytype(c->x509),
	    EVP_PKEY_get_bits(X509_get0_pubkey(c->x509)));
}

static void
print_token(PKCS11_SLOT *s)
{
	PKCS11_TOKEN	*tk = s->token;
	char		 uri[URI_BUF];

	printf("  slot %lu: %s\n", PKCS11_get_slotid_from_slot(s),
	    s->description ? s->description : "");
	if (tk == NULL || !tk->initialized) {
		printf("    (no initialised token)\n");
		return;
	}
	if (p11_uri_format(tk->label, NULL, NULL, 0, NULL, uri,
	    sizeof(uri)) != 0)
		uri[0] = '\0';
	printf("    token: %s\n      %s\n", tk->label, uri);
	printf("      manufacturer: %s, model: %s, serial: %s\n",
	    tk->manufacturer, tk->model, tk->serialnr);
	printf("      flags:%s%s%s%s%s%s%s%s\n",
	    tk->loginRequired ? " login-required" : "",
	    tk->userPinSet ? " user-pin-set" : " NO-USER-PIN",
	    tk->readOnly ? " read-only" : "",
	    tk->secureLogin ? " pin-pad" : "",
	    tk->userPinCountLow ? " PIN-COUNT-LOW" : "",
	    tk->userPinFinalTry ? " PIN-FINAL-TRY" : "",
	    tk->userPinLocked ? " PIN-LOCKED" : "",
	    tk->userPinToBeChanged ? " PIN-TO-BE-CHANGED" : "");
}

/* Which object types a URI selects ("type" absent: all). */
static int
want(const struct p11_uri *u, const char *type)
{
	return u == NULL || u->type == NULL || strcmp(u->type, type) == 0;
}

/* Print the objects on t's token the URI (or NULL: all) matches. */
static int
print_objects(struct p11_tok *t, const struct p11_uri *u, int detail)
{
	PKCS11_KEY	*keys;
	PKCS11_CERT	*certs;
	unsigned int	 i, n;
	int		 hits = 0;

	if (want(u, "private") &&
	    PKCS11_enumerate_keys(t->slot->token, &keys, &n) == 0)
		for (i = 0; i < n; i++)
			if (u == NULL || p11_key_match(&keys[i], u)) {
				print_key(t, &keys[i], 1, detail);
				hits++;
			}
	if (want(u, "public") &&
	    PKCS11_enumerate_public_keys(t->slot->token, &keys, &n) == 0)
		for (i = 0; i < n; i++)
			if (u == NULL || p11_key_match(&keys[i], u)) {
				print_key(t, &keys[i], 0, detail);
				hits++;
			}
	if (want(u, "cert") &&
	    PKCS11_enumerate_certs(t->slot->token, &certs, &n) == 0)
		for (i = 0; i < n; i++)
			if (u == NULL || p11_cert_match(&certs[i], u)) {
				print_cert(t, &certs[i], detail);
				hits++;
			}
	ERR_clear_error();
	return hits;
}

/* Under p11-kit's proxy, name the modules it reaches. */
static void
print_proxied(const char *path)
{
	CK_FUNCTION_LIST	**list;
	char			 *name, *fn;
	int			  i;

	if (strstr(path, "p11-kit-proxy") == NULL ||
	    (list = p11_kit_modules_load(NULL, 0)) == NULL)
		return;
	for (i = 0; list[i] != NULL; i++) {
		name = p11_kit_module_get_name(list[i]);
		fn = p11_kit_module_get_filename(list[i]);
		printf("  via p11-kit: %s (%s)\n", name ? name : "?",
		    fn ? fn : "?");
		free(name);
		free(fn);
	}
	p11_kit_modules_release(list);
}

/* Print slot s and its token's objects, logged in first when login. */
static int
list_slot(struct p11_tok *t, PKCS11_SLOT *s, const struct p11_uri *up,
    int login)
{
	int	 r;

	print_token(s);
	if (s->token == NULL || !s->token->initialized)
		return 0;
	t->slot = s;
	t->logged_in = 0;
	if (login && (r = p11_tok_login(t, up, &opts)) != 0)
		return r;
	if (print_objects(t, NULL, 0) == 0)
		printf("    (no objects visible%s)\n", t->logged_in ?
		    "" : "; private ones need a PIN");
	return 0;
}

/*
 * list [URI]: every token the URI (or none: every slot) names, and its
 * objects.  Logs in when a PIN is at hand and the URI names exactly one
 * token: one PIN is never tried on several tokens (each try counts).
 */
static int
cmd_list(int argc, char **argv)
{
	struct p11_uri	 u, *up = NULL;
	struct p11_tok	*t = NULL;
	unsigned int	 i, n = 0;
	int		 r, login;

	memset(&u, 0, sizeof(u));
	if (argc > 2)
		cmd_usage();
	if (argc == 2) {
		if ((r = uri_arg(argv[1], &u)) != 0)
			goto out;
		up = &u;
	}
	if ((r = p11_tok_load(up, &opts, &t)) != 0)
		goto out;
	printf("module: %s\n", t->mod->path);
	print_proxied(t->mod->path);
	for (i = 0; i < t->mod->nslots; i++)
		n += p11_slot_match(&t->mod->slots[i], up);
	login = up != NULL && p11_tok_pin_available(up, &opts);
	if (login && n > 1)
		printf("  (the URI names %u tokens: no login, so private "
		    "objects are hidden; add token=LABEL)\n", n);
	for (i = 0; i < t->mod->nslots; i++)
		if ((up == NULL || p11_slot_match(&t->mod->slots[i], up)) &&
		    (r = list_slot(t, &t->mod->slots[i], up,
		    login && n == 1)) != 0)
			goto out;
	p11_tok_warn_pin(t);
	r = 0;
out:
	p11_tok_close(t);
	p11_uri_free(&u);
	return r;
}

/* show URI: details of the matching objects. */
static int
cmd_show(int argc, char **argv)
{
	struct p11_uri	 u;
	struct p11_tok	*t = NULL;
	int		 r;

	memset(&u, 0, sizeof(u));
	if (argc != 2)
		cmd_usage();
	if ((r = uri_arg(argv[1], &u)) != 0 ||
	    (r = p11_tok_open(&u, &opts, 0, &t)) != 0)
		goto out;
	if (p11_tok_pin_available(&u, &opts) &&
	    (r = p11_tok_login(t, &u, &opts)) != 0)
		goto out;
	print_token(t->slot);
	if (print_objects(t, &u, 1) == 0) {
		r = uc_fail(UC_ERR_NOTFOUND, "token %s: nothing matches%s",
		    p11_tok_label(t), t->logged_in ? "" :
		    " (no PIN given, so private objects are hidden)");
		goto out;
	}
	p11_tok_warn_pin(t);
	r = 0;
out:
	p11_tok_close(t);
	p11_uri_free(&u);
	return r;
}

/* keygen URI SPEC: a new key pair on the token. */
static int
cmd_keygen(int argc, char **argv)
{
	struct p11_uri	 u;
	struct p11_tok	*t = NULL;
	uint8_t		 rid[RAND_ID_LEN];
	const uint8_t	*id;
	size_t		 id_len;
	char		 uri[URI_BUF];
	int		 r, exists;

	memset(&u, 0, sizeof(u));
	if (argc != 3)
		cmd_usage();
	if ((r = uri_arg(argv[1], &u)) != 0 ||
	    (r = p11_tok_open(&u, &opts, 1, &t)) != 0 ||
	    (r = p11_tok_login(t, &u, &opts)) != 0)
		goto out;
	id = u.id;
	id_len = u.id_len;
	if (id_len == 0) {
		if (RAND_bytes(rid, sizeof(rid)) != 1) {
			r = uc_fail_ssl(UC_ERR_CRYPTO, "random id");
			goto out;
		}
		id = rid;
		id_len = sizeof(rid);
	}
	if ((r = p11_obj_exists(t, u.object, id, id_len, &exists)) != 0)
		goto out;
	if (exists) {
		r = uc_fail(UC_ERR_ARG, "token %s already has an object with "
		    "this label or id; pick another object= or id=",
		    p11_tok_label(t));
		goto out;
	}
	if ((r = p11_keygen(t, argv[2], u.object, id, id_len)) != 0 ||
	    (r = p11_uri_format(p11_tok_label(t), u.object, id, id_len,
	    "private", uri, sizeof(uri))) != 0)
		goto out;
	p11_tok_warn_pin(t);
	printf("%s\n", uri);
out:
	p11_tok_close(t);
	p11_uri_free(&u);
	return r;
}

/* Parse "/CN=a/O=b" (a "\/" is a literal slash) into a new name. */
static int
name_parse(const char *s, X509_NAME **out)
{
	X509_NAME	*n = NULL;
	char		 buf[CERT_NAME_MAX], *p, *q, *w, *eq;
	int		 r = UC_ERR_ARG;

	*out = NULL;
	if (s[0] != '/' || strlen(s) >= sizeof(buf))
		return uc_fail(UC_ERR_ARG, "subject \"%s\": use the form "
		    "/CN=NAME/O=ORG/OU=UNIT", s);
	if ((n = X509_NAME_new()) == NULL)
		return uc_fail(UC_ERR_ALLOC, "X509_NAME_new");
	for (p = (char *)s + 1; *p != '\0'; p = *q ? q + 1 : q) {
		for (q = p, w = buf; *q != '\0' && *q != '/'; q++)
			*w++ = q[0] == '\\' && q[1] != '\0' ? *++q : *q;
		*w = '\0';
		if ((eq = strchr(buf, '=')) == NULL || eq == buf) {
			r = uc_fail(UC_ERR_ARG, "subject: \"%s\" is not "
			    "TYPE=VALUE", buf);
			goto out;
		}
		*eq++ = '\0';
		if (X509_NAME_add_entry_by_txt(n, buf, MBSTRING_UTF8,
		    (unsigned char *)eq, -1, -1, 0) != 1) {
			r = uc_fail_ssl(UC_ERR_ARG, "subject: attribute \"%s\"",
			    buf);
			goto out;
		}
	}
	if (X509_NAME_entry_count(n) == 0) {
		r = uc_fail(UC_ERR_ARG, "subject is empty");
		goto out;
	}
	*out = n;
	n = NULL;
	r = 0;
out:
	X509_NAME_free(n);
	return r;
}

/* Serial from --serial HEX, or 16 random bytes, positive and non-zero. */
static int
serial_make(const char *hex, ASN1_INTEGER **out)
{
	uint8_t	 buf[SERIAL_LEN];
	BIGNUM	*bn = NULL;
	int	 r = UC_ERR_ARG;

	*out = NULL;
	if (hex != NULL) {
		if (strlen(hex) > 2 * CERT_SERIAL_MAX ||
		    BN_hex2bn(&bn, hex) != (int)strlen(hex) || BN_is_zero(bn) ||
		    BN_is_negative(bn) || BN_num_bytes(bn) > CERT_SERIAL_MAX) {
			r = uc_fail(UC_ERR_ARG, "--serial %s: 1 to %d bytes of "
			    "hex, not zero (RFC 5280 4.1.2.2)", hex,
			    CERT_SERIAL_MAX);
			goto out;
		}
	} else {
		if (RAND_bytes(buf, sizeof(buf)) != 1) {
			r = uc_fail_ssl(UC_ERR_CRYPTO, "random serial");
			goto out;
		}
		buf[0] = (buf[0] & 0x7f) | 0x40;	/* positive, 16 bytes */
		bn = BN_bin2bn(buf, sizeof(buf), NULL);
	}
	if (bn == NULL || (*out = BN_to_ASN1_INTEGER(bn, NULL)) == NULL) {
		r = uc_fail_ssl(UC_ERR_ALLOC, "serial");
		goto out;
	}
	r = 0;
out:
	BN_free(bn);
	return r;
}

static int
add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
	X509_EXTENSION	*e;
	int		 ok;

	if ((e = X509V3_EXT_nconf_nid(NULL, ctx, nid, value)) == NULL)
		return uc_fail_ssl(UC_ERR_CRYPTO, "extension %s", value);
	ok = X509_add_ext(x, e, -1);
	X509_EXTENSION_free(e);
	return ok == 1 ? 0 : uc_fail_ssl(UC_ERR_CRYPTO, "X509_add_ext");
}

/* Fill in a self-signed X.509v3 certificate for pub (not signed yet). */
static int
cert_fill(X509 *x, X509_NAME *name, EVP_PKEY *pub, long days,
    const char *serial)
{
	ASN1_INTEGER	*sn = NULL;
	X509V3_CTX	 ctx;
	int		 r;

	if ((r = serial_make(serial, &sn)) != 0)
		return r;
	r = UC_ERR_CRYPTO;
	if (X509_set_version(x, X509_VERSION_3) != 1 ||
	    X509_set_serialNumber(x, sn) != 1 ||
	    X509_set_subject_name(x, name) != 1 ||
	    X509_set_issuer_name(x, name) != 1 ||
	    X509_gmtime_adj(X509_getm_notBefore(x), 0) == NULL ||
	    X509_time_adj_ex(X509_getm_notAfter(x), (int)days, 0,
	    NULL) == NULL || X509_set_pubkey(x, pub) != 1) {
		r = uc_fail_ssl(UC_ERR_CRYPTO, "certificate fields");
		goto out;
	}
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	if ((r = add_ext(x, &ctx, NID_basic_constraints,
	    "critical,CA:FALSE")) != 0 ||
	    (r = add_ext(x, &ctx, NID_key_usage,
	    "critical,digitalSignature,nonRepudiation")) != 0 ||
	    (r = add_ext(x, &ctx, NID_subject_key_identifier, "hash")) != 0)
		goto out;
	r = 0;
out:
	ASN1_INTEGER_free(sn);
	return r;
}

/* The key, its private EVP_PKEY (on the token) and public half. */
struct tokkey {
	struct p11_uri	 u;
	struct p11_tok	*t;
	PKCS11_KEY	*k;
	EVP_PKEY	*priv;
	EVP_PKEY	*pub;
};

static int
tokkey_open(const char *uri, int rw, struct tokkey *tk)
{
	int	 r;

	memset(tk, 0, sizeof(*tk));
	if ((r = uri_arg(uri, &tk->u)) != 0 ||
	    (r = p11_tok_open(&tk->u, &opts, rw, &tk->t)) != 0 ||
	    (r = p11_tok_login(tk->t, &tk->u, &opts)) != 0 ||
	    (r = p11_key_find(tk->t, &tk->u, &tk->k)) != 0)
		return r;
	if ((tk->priv = PKCS11_get_private_key(tk->k)) == NULL ||
	    (tk->pub = PKCS11_get_public_key(tk->k)) == NULL)
		return uc_fail_ssl(UC_ERR_TOKEN, "token %s: key %s unusable",
		    p11_tok_label(tk->t), tk->k->label ? tk->k->label : "");
	return 0;
}

static void
tokkey_close(struct tokkey *tk)
{
	EVP_PKEY_free(tk->priv);
	EVP_PKEY_free(tk->pub);
	p11_tok_close(tk->t);
	p11_uri_free(&tk->u);
}

/* Options shared by selfsign and csr. */
struct certopts {
	const char	*subject;
	const char	*out;
	const char	*serial;
	long		 days;
};

static void
certopts_parse(int argc, char **argv, struct certopts *co, int self)
{
	static const struct option lopts[] = {
		{ "subject", required_argument, NULL, 's' },
		{ "days", required_argument, NULL, 'd' },
		{ "serial", required_argument, NULL, 'n' },
		{ "out", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 }
	};
	char	*end;
	int	 c;

	memset(co, 0, sizeof(*co));
	co->days = 3650;
	optind = 0;
	while ((c = getopt_long(argc, argv, "o:s:", lopts, NULL)) != -1) {
		switch (c) {
		case 's':
			co->subject = optarg;
			break;
		case 'o':
			co->out = optarg;
			break;
		case 'n':
			if (!self)
				cmd_usage();
			co->serial = optarg;
			break;
		case 'd':
			co->days = strtol(optarg, &end, 10);
			if (!self || *end != '\0' || co->days < 1 ||
			    co->days > DAYS_MAX)
				cmd_usage();
			break;
		default:
			cmd_usage();
		}
	}
	if (co->subject == NULL || argc - optind != 1)
		cmd_usage();
}

/* 1 if the token already holds a certificate with the key's id. */
static int
has_cert(struct tokkey *tk)
{
	return p11_cert_for_key(tk->t, tk->k) != NULL && tk->k->id_len > 0;
}

/*
 * The start of selfsign (self set: read-write) and csr: options, the
 * subject into *name, the key opened and logged in.  The caller frees
 * *name and closes tk, on failure too.
 */
static int
certcmd_open(int argc, char **argv, int self, struct certopts *co,
    struct tokkey *tk, X509_NAME **name)
{
	int	 r;

	memset(tk, 0, sizeof(*tk));
	*name = NULL;
	certopts_parse(argc, argv, co, self);
	if ((r = name_parse(co->subject, name)) != 0)
		return r;
	return tokkey_open(argv[optind], self, tk);
}

/* selfsign URI --subject DN [--days N] [--serial HEX] [-o FILE] */
static int
cmd_selfsign(int argc, char **argv)
{
	struct certopts	 co;
	struct tokkey	 tk;
	X509_NAME	*name = NULL;
	X509		*x = NULL;
	int		 r;

	if ((r = certcmd_open(argc, argv, 1, &co, &tk, &name)) != 0)
		goto out;
	if (has_cert(&tk)) {
		r = uc_fail(UC_ERR_ARG, "token %s already has a certificate "
		    "with this key's id; delete it first (pkcs11-tool "
		    "--delete-object --type cert)", p11_tok_label(tk.t));
		goto out;
	}
	if ((x = X509_new()) == NULL) {
		r = uc_fail(UC_ERR_ALLOC, "X509_new");
		goto out;
	}
	if ((r = cert_fill(x, name, tk.pub, co.days, co.serial)) != 0)
		goto out;
	if (X509_sign(x, tk.priv, EVP_sha256()) <= 0 ||
	    X509_verify(x, tk.pub) != 1) {
		r = uc_fail_ssl(UC_ERR_TOKEN, "token %s: signing the "
		    "certificate failed", p11_tok_label(tk.t));
		goto out;
	}
	if (PKCS11_store_certificate(tk.t->slot->token, x, tk.k->label,
	    tk.k->id, tk.k->id_len, NULL) != 0) {
		r = uc_fail_ssl(UC_ERR_TOKEN, "token %s: storing the "
		    "certificate failed", p11_tok_label(tk.t));
		goto out;
	}
	if ((r = output_pem(co.out, x, NULL)) == 0)
		p11_tok_warn_pin(tk.t);
out:
	tokkey_close(&tk);
	X509_NAME_free(name);
	X509_free(x);
	return r;
}

/* csr URI --subject DN [-o FILE]: a PKCS#10 request signed on the token. */
static int
cmd_csr(int argc, char **argv)
{
	struct certopts	 co;
	struct tokkey	 tk;
	X509_NAME	*name = NULL;
	X509_REQ	*req = NULL;
	int		 r;

	if ((r = certcmd_open(argc, argv, 0, &co, &tk, &name)) != 0)
		goto out;
	if ((req = X509_REQ_new()) == NULL) {
		r = uc_fail(UC_ERR_ALLOC, "X509_REQ_new");
		goto out;
	}
	if (X509_REQ_set_version(req, 0) != 1 ||
	    X509_REQ_set_subject_name(req, name) != 1 ||
	    X509_REQ_set_pubkey(req, tk.pub) != 1 ||
	    X509_REQ_sign(req, tk.priv, EVP_sha256()) <= 0 ||
	    X509_REQ_verify(req, tk.pub) != 1) {
		r = uc_fail_ssl(UC_ERR_TOKEN, "token %s: making the request "
		    "failed", p11_tok_label(tk.t));
		goto out;
	}
	if ((r = output_pem(co.out, NULL, req)) == 0)
		p11_tok_warn_pin(tk.t);
out:
	tokkey_close(&tk);
	X509_NAME_free(name);
	X509_REQ_free(req);
	return r;
}

/* The token key whose public half is pub, or NULL. */
static PKCS11_KEY *
key_for_pub(struct p11_tok *t, EVP_PKEY *pub)
{
	PKCS11_KEY	*keys;
	EVP_PKEY	*kp;
	unsigned int	 i, n;
	int		 eq;

	if (PKCS11_enumerate_keys(t->slot->token, &keys, &n) != 0)
		return NULL;
	for (i = 0; i < n; i++) {
		if ((kp = PKCS11_get_public_key(&keys[i])) == NULL)
			continue;
		eq = EVP_PKEY_eq(kp, pub) == 1;
		EVP_PKEY_free(kp);
		if (eq)
			return &keys[i];
	}
	return NULL;
}

/* Decide the id and label for an imported certificate. */
static int
import_target(struct p11_tok *t, struct p11_uri *u, X509 *x,
    PKCS11_KEY **kout)
{
	EVP_PKEY	*kp;
	int		 r, eq;

	*kout = NULL;
	if (u->id_len == 0 && u->object == NULL) {
		if ((*kout = key_for_pub(t, X509_get0_pubkey(x))) == NULL)
			return uc_fail(UC_ERR_ARG, "token %s: no key matches the "
			    "certificate; give id= or object= in the URI",
			    p11_tok_label(t));
		return 0;
	}
	if ((r = p11_key_find(t, u, kout)) == UC_ERR_NOTFOUND)
		return 0;	/* a certificate without a key */
	if (r != 0)
		return r;
	if ((kp = PKCS11_get_public_key(*kout)) == NULL)
		return uc_fail_ssl(UC_ERR_TOKEN, "token %s: public key of %s",
		    p11_tok_label(t), (*kout)->label ? (*kout)->label : "key");
	eq = EVP_PKEY_eq(kp, X509_get0_pubkey(x)) == 1;
	EVP_PKEY_free(kp);
	if (!eq)
		return uc_fail(UC_ERR_POLICY, "token %s: the certificate's "
		    "public key does not match the token key %s; refused",
		    p11_tok_label(t), (*kout)->label ? (*kout)->label : "");
	return 0;
}

/* import-cert URI FILE: store a certificate beside its key. */
static int
cmd_import(int argc, char **argv)
{
	struct p11_uri	 u;
	struct p11_tok	*t = NULL;
	PKCS11_KEY	*k;
	PKCS11_CERT	*dup;
	X509		*x = NULL;
	int		 r;

	memset(&u, 0, sizeof(u));
	if (argc != 3)
		cmd_usage();
	if ((r = cert_load(argv[2], &x)) != 0 ||
	    (r = uri_arg(argv[1], &u)) != 0 ||
	    (r = p11_tok_open(&u, &opts, 1, &t)) != 0 ||
	    (r = p11_tok_login(t, &u, &opts)) != 0 ||
	    (r = import_target(t, &u, x, &k)) != 0)
		goto out;
	if (k != NULL && (dup = p11_cert_for_key(t, k)) != NULL &&
	    k->id_len > 0) {
		r = uc_fail(UC_ERR_ARG, "token %s already has a certificate "
		    "with this key's id; delete it first", p11_tok_label(t));
		goto out;
	}
	if (PKCS11_store_certificate(t->slot->token, x,
	    k ? k->label : u.object, k ? k->id : u.id,
	    k ? k->id_len : u.id_len, NULL) != 0) {
		r = uc_fail_ssl(UC_ERR_TOKEN, "token %s: storing the "
		    "certificate failed", p11_tok_label(t));
		goto out;
	}
	p11_tok_warn_pin(t);
	log_info("stored %s on token %s", argv[2], p11_tok_label(t));
	r = 0;
out:
	X509_free(x);
	p11_tok_close(t);
	p11_uri_free(&u);
	return r;
}

/* sign URI FILE [--digest D] [--cert CERT] [-o SIG]: debug and tests. */
static int
cmd_sign(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "digest", required_argument, NULL, 'd' },
		{ "cert", required_argument, NULL, 'c' },
		{ "out", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 }
	};
	struct signer	*s = NULL;
	enum signer_md	 md = SIGNER_SHA256;
	const char	*out = NULL, *cert = NULL;
	uint8_t		*msg = NULL, sig[SIGNER_SIG_MAX];
	size_t		 len, siglen = sizeof(sig);
	int		 c, r;

	optind = 0;
	while ((c = getopt_long(argc, argv, "o:", lopts, NULL)) != -1) {
		if (c == 'd' && signer_md_parse(optarg, &md) == 0)
			continue;
		if (c == 'c')
			cert = optarg;
		else if (c == 'o')
			out = optarg;
		else
			cmd_usage();
	}
	if (argc - optind != 2)
		cmd_usage();
	if ((r = file_read(argv[optind + 1], SIGN_FILE_MAX, &msg, &len)) != 0 ||
	    (r = keyref_signer_open(argv[optind], cert, &opts, &s)) != 0 ||
	    (r = signer_sign(s, md, msg, len, sig, &siglen)) != 0)
		goto out;
	r = output(out, sig, siglen);
out:
	signer_free(s);
	free(msg);
	return r;
}

static const struct cmd cmds[] = {
	{ "list", cmd_list, "[URI]", 0 },
	{ "show", cmd_show, "URI", 0 },
	{ "keygen", cmd_keygen,
	    "URI rsa:2048|rsa:1024|rsa:4096|ec:P-256|ec:P-384", 0 },
	{ "selfsign", cmd_selfsign, "URI --subject DN [--days N] "
	    "[--serial HEX] [-o FILE]", 0 },
	{ "csr", cmd_csr, "URI --subject DN [-o FILE]", 0 },
	{ "import-cert", cmd_import, "URI FILE", 0 },
	{ "sign", cmd_sign, "URI FILE [--digest sha1|sha256|sha512] "
	    "[--cert CERT] [-o SIG]", 1 },
};

static void
usage(int status)
{
	FILE	*f = status == 0 ? stdout : stderr;
	size_t	 i;

	fprintf(f, "usage: tokenctl [--module PATH] [-v] command ...\n");
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!cmds[i].hidden)
			fprintf(f, "       tokenctl %s %s\n", cmds[i].name,
			    cmds[i].args);
	exit(status);
}

static void
cmd_usage(void)
{
	fprintf(stderr, "usage: tokenctl %s %s\n", cur->name, cur->args);
	exit(EXIT_USAGE);
}

int
main(int argc, char *argv[])
{
	static const struct option lopts[] = {
		{ "module", required_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	enum log_level	 lvl = LOG_LEVEL_WARN;
	size_t		 i;
	int		 c, r;

	log_init("tokenctl", 0, lvl);
	while ((c = getopt_long(argc, argv, "+hvV", lopts, NULL)) != -1) {
		switch (c) {
		case 'm':
			opts.module = optarg;
			break;
		case 'v':
			if (lvl < LOG_LEVEL_DEBUG)
				log_set_level(++lvl);
			break;
		case 'V':
			printf("tokenctl %s\n", TOKENCTL_VERSION);
			return 0;
		case 'h':
			usage(0);
		default:
			usage(EXIT_USAGE);
		}
	}
	argc -= optind;
	argv += optind;
	if (argc == 0)
		usage(EXIT_USAGE);
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(argv[0], cmds[i].name) == 0)
			cur = &cmds[i];
	if (cur == NULL)
		usage(EXIT_USAGE);
	opts.interactive = isatty(STDIN_FILENO);
	if ((r = cur->fn(argc, argv)) != 0) {
		fprintf(stderr, "tokenctl: %s: %s\n", cur->name,
		    *uc_errdetail() ? uc_errdetail() : uc_strerror(r));
		return 1;
	}
	return 0;
}
