/*
 * RFC 7512 "pkcs11:" URIs, parsed by p11-kit, reduced to struct p11_uri.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <p11-kit/pkcs11.h>
#include <p11-kit/uri.h>

#include "extern.h"
#include "log.h"
#include "p11.h"
#include "uerr.h"

#define URI_SCHEME	"pkcs11:"

static const struct {
	CK_OBJECT_CLASS	 cls;
	const char	*name;
} uri_types[] = {	/* RFC 7512 section 2.3, "type" */
	{ CKO_PRIVATE_KEY, "private" },
	{ CKO_PUBLIC_KEY, "public" },
	{ CKO_CERTIFICATE, "cert" },
	{ CKO_SECRET_KEY, "secret-key" },
	{ CKO_DATA, "data" },
};

/* 1 if s starts with "pkcs11:" (any case), else 0. */
int
p11_is_uri(const char *s)
{
	return s != NULL && strncasecmp(s, URI_SCHEME,
	    sizeof(URI_SCHEME) - 1) == 0;
}

/*
 * Copy a fixed-width, space-padded CK_UTF8CHAR field.  p11-kit leaves an
 * attribute the URI did not give all zero; that yields NULL in *out.
 */
static int
uri_field(const CK_UTF8CHAR *f, size_t n, char **out)
{
	size_t	 len = n;

	*out = NULL;
	if (f[0] == 0)
		return 0;
	while (len > 0 && (f[len - 1] == ' ' || f[len - 1] == 0))
		len--;
	if ((*out = strndup((const char *)f, len)) == NULL)
		return uc_fail(UC_ERR_ALLOC, "URI field");
	return 0;
}

static int
uri_strdup(const char *s, char **out)
{
	*out = NULL;
	if (s == NULL)
		return 0;
	if ((*out = strdup(s)) == NULL)
		return uc_fail(UC_ERR_ALLOC, "URI attribute");
	return 0;
}

static int
uri_token(P11KitUri *k, struct p11_uri *u)
{
	CK_TOKEN_INFO	*ti;
	int		 r;

	if ((ti = p11_kit_uri_get_token_info(k)) == NULL)
		return 0;
	if ((r = uri_field(ti->label, sizeof(ti->label), &u->token)) != 0 ||
	    (r = uri_field(ti->serialNumber, sizeof(ti->serialNumber),
	    &u->serial)) != 0 ||
	    (r = uri_field(ti->manufacturerID, sizeof(ti->manufacturerID),
	    &u->manufacturer)) != 0 ||
	    (r = uri_field(ti->model, sizeof(ti->model), &u->model)) != 0)
		return r;
	return 0;
}

static int
uri_object(P11KitUri *k, struct p11_uri *u)
{
	CK_ATTRIBUTE	*a;
	CK_OBJECT_CLASS	 cls;
	size_t		 i;

	if ((a = p11_kit_uri_get_attribute(k, CKA_LABEL)) != NULL &&
	    (u->object = strndup(a->pValue ? a->pValue : "",
	    a->ulValueLen)) == NULL)
		return uc_fail(UC_ERR_ALLOC, "URI object");
	if ((a = p11_kit_uri_get_attribute(k, CKA_ID)) != NULL) {
		if (a->ulValueLen == 0 || a->ulValueLen > P11_ID_MAX)
			return uc_fail(UC_ERR_FORMAT, "URI id of %lu bytes "
			    "(1 to %d)", (unsigned long)a->ulValueLen,
			    P11_ID_MAX);
		memcpy(u->id, a->pValue, a->ulValueLen);
		u->id_len = a->ulValueLen;
	}
	if ((a = p11_kit_uri_get_attribute(k, CKA_CLASS)) == NULL)
		return 0;
	if (a->ulValueLen != sizeof(cls))
		return uc_fail(UC_ERR_FORMAT, "URI type");
	memcpy(&cls, a->pValue, sizeof(cls));
	for (i = 0; i < sizeof(uri_types) / sizeof(uri_types[0]); i++)
		if (uri_types[i].cls == cls)
			return uri_strdup(uri_types[i].name, &u->type);
	return uc_fail(UC_ERR_UNSUPPORTED, "URI type %lu", (unsigned long)cls);
}

/*
 * Parse a pkcs11: URI (RFC 7512) of at most P11_URI_MAX bytes into *u.
 * Returns 0 or UC_ERR_*; call p11_uri_free(u) either way.
 */
int
p11_uri_parse(const char *s, struct p11_uri *u)
{
	P11KitUri	*k = NULL;
	const char	*pin;
	int		 r, pr;

	memset(u, 0, sizeof(*u));
	u->slot_id = -1;
	if (s == NULL || !p11_is_uri(s))
		return uc_fail(UC_ERR_FORMAT, "not a pkcs11: URI");
	if (strnlen(s, P11_URI_MAX + 1) > P11_URI_MAX)
		return uc_fail(UC_ERR_FORMAT, "pkcs11: URI longer than %d "
		    "bytes", P11_URI_MAX);
	if ((k = p11_kit_uri_new()) == NULL)
		return uc_fail(UC_ERR_ALLOC, "p11_kit_uri_new");
	if ((pr = p11_kit_uri_parse(s, P11_KIT_URI_FOR_ANY, k)) !=
	    P11_KIT_URI_OK) {
		r = uc_fail(UC_ERR_FORMAT, "pkcs11: URI (RFC 7512): %s",
		    p11_kit_uri_message(pr));
		goto out;
	}
	if (p11_kit_uri_any_unrecognized(k))
		log_warnx("pkcs11: URI has attributes ucsec ignores");
	if ((r = uri_token(k, u)) != 0 || (r = uri_object(k, u)) != 0 ||
	    (r = uri_strdup(p11_kit_uri_get_module_path(k),
	    &u->module_path)) != 0 ||
	    (r = uri_strdup(p11_kit_uri_get_module_name(k),
	    &u->module_name)) != 0 ||
	    (r = uri_strdup(p11_kit_uri_get_pin_source(k),
	    &u->pin_source)) != 0 ||
	    (r = uri_strdup(p11_kit_uri_get_pin_value(k),
	    &u->pin_value)) != 0)
		goto out;
	if (p11_kit_uri_get_slot_id(k) != (CK_SLOT_ID)-1) {
		if (p11_kit_uri_get_slot_id(k) > 0x7fffffff) {
			r = uc_fail(UC_ERR_FORMAT, "URI slot-id too large");
			goto out;
		}
		u->slot_id = (int)p11_kit_uri_get_slot_id(k);
	}
	r = 0;
out:
	/*
	 * XXX p11-kit frees its copy of pin-value without wiping it; wipe
	 * it here (it is heap memory p11-kit owns and frees next).
	 */
	if (k != NULL && (pin = p11_kit_uri_get_pin_value(k)) != NULL)
		OPENSSL_cleanse((char *)pin, strlen(pin));
	p11_kit_uri_free(k);
	return r;
}

/* Free what p11_uri_parse stored, wiping pin-value; u itself is kept. */
void
p11_uri_free(struct p11_uri *u)
{
	if (u == NULL)
		return;
	free(u->module_path);
	free(u->module_name);
	free(u->token);
	free(u->serial);
	free(u->manufacturer);
	free(u->model);
	free(u->object);
	free(u->type);
	free(u->pin_source);
	if (u->pin_value != NULL)
		OPENSSL_clear_free(u->pin_value, strlen(u->pin_value));
	memset(u, 0, sizeof(*u));
	u->slot_id = -1;
}

/*
 * The URI text with every pin-value query attribute removed, for labels
 * and messages.  Returns a new string (caller frees) or NULL.
 */
char *
p11_uri_redact(const char *s)
{
	const char	*q, *p, *e;
	char		*out;
	size_t		 o;
	int		 first = 1;

	if ((out = malloc(strlen(s) + 1)) == NULL)
		return NULL;
	if ((q = strchr(s, '?')) == NULL)
		q = s + strlen(s);
	o = (size_t)(q - s);
	memcpy(out, s, o);
	for (p = *q ? q + 1 : q; *p != '\0'; p = *e ? e + 1 : e) {
		if ((e = strchr(p, '&')) == NULL)
			e = p + strlen(p);
		if (strncasecmp(p, "pin-value", 9) == 0 &&
		    (p[9] == '=' || p + 9 == e))
			continue;
		out[o++] = first ? '?' : '&';
		first = 0;
		memcpy(out + o, p, (size_t)(e - p));
		o += (size_t)(e - p);
	}
	out[o] = '\0';
	return out;
}

/* Append v percent-encoded (RFC 7512 section 2.3) at *o in buf. */
static int
uri_append(char *buf, size_t sz, size_t *o, const uint8_t *v, size_t n,
    int all)
{
	static const char	 hex[] = "0123456789abcdef";
	size_t			 i;
	uint8_t			 c;

	for (i = 0; i < n; i++) {
		c = v[i];
		if (!all && (strchr("-._~:[]@!$'()*+,", c) != NULL ||
		    (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9')) && c != '\0') {
			if (*o + 1 >= sz)
				return -1;
			buf[(*o)++] = (char)c;
			continue;
		}
		if (*o + 3 >= sz)
			return -1;
		buf[(*o)++] = '%';
		buf[(*o)++] = hex[c >> 4];
		buf[(*o)++] = hex[c & 15];
	}
	buf[*o] = '\0';
	return 0;
}

static int
uri_attr(char *buf, size_t sz, size_t *o, const char *name,
    const uint8_t *v, size_t n, int all)
{
	size_t	 l = strlen(name);

	if (*o + l + 2 >= sz)
		return -1;
	if (buf[*o - 1] != ':')
		buf[(*o)++] = ';';
	memcpy(buf + *o, name, l);
	*o += l;
	buf[(*o)++] = '=';
	return uri_append(buf, sz, o, v, n, all);
}

/*
 * Write "pkcs11:token=T;object=L;id=%..;type=Y" into buf (sz bytes), any
 * part NULL (or id_len 0) left out.  Returns 0, or UC_ERR_ARG when it
 * does not fit.
 */
int
p11_uri_format(const char *token, const char *object, const uint8_t *id,
    size_t id_len, const char *type, char *buf, size_t sz)
{
	size_t	 o = sizeof(URI_SCHEME) - 1;

	if (sz <= o)
		return uc_fail(UC_ERR_ARG, "URI buffer");
	memcpy(buf, URI_SCHEME, o + 1);
	if ((token != NULL && uri_attr(buf, sz, &o, "token",
	    (const uint8_t *)token, strlen(token), 0) == -1) ||
	    (object != NULL && uri_attr(buf, sz, &o, "object",
	    (const uint8_t *)object, strlen(object), 0) == -1) ||
	    (id_len > 0 && uri_attr(buf, sz, &o, "id", id, id_len, 1) == -1) ||
	    (type != NULL && uri_attr(buf, sz, &o, "type",
	    (const uint8_t *)type, strlen(type), 0) == -1))
		return uc_fail(UC_ERR_ARG, "URI longer than %zu bytes", sz);
	return 0;
}
