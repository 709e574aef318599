/*
 * The token layer (p11.h): module choice, token choice, login, key and
 * certificate lookup on libp11, the token signer, and the few raw
 * PKCS#11 calls libp11 0.4.12 does not offer (attributes, key pairs).
 */
#include <sys/stat.h>

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <p11-kit/p11-kit.h>

#include "extern.h"
#include "log.h"
#include "p11.h"
#include "uerr.h"

#define MODULE_ENV	"PKCS11_MODULE"

/* Where distributions put p11-kit's proxy module, most likely first. */
static const char *const proxy_paths[] = {
	"/usr/lib/x86_64-linux-gnu/p11-kit-proxy.so",
	"/usr/lib/aarch64-linux-gnu/p11-kit-proxy.so",
	"/usr/lib64/p11-kit-proxy.so",
	"/usr/lib/p11-kit-proxy.so",
};

static struct p11_mod	*mods;	/* loaded modules, see extern.h */

static int	 raw_session(struct p11_tok *, int, CK_SESSION_HANDLE *);

static const struct {
	unsigned long	 rv;
	const char	*name;
} ckr_names[] = {
	{ CKR_OK, "CKR_OK" },
	{ CKR_HOST_MEMORY, "CKR_HOST_MEMORY" },
	{ CKR_GENERAL_ERROR, "CKR_GENERAL_ERROR" },
	{ CKR_FUNCTION_FAILED, "CKR_FUNCTION_FAILED" },
	{ CKR_ARGUMENTS_BAD, "CKR_ARGUMENTS_BAD" },
	{ CKR_ATTRIBUTE_SENSITIVE, "CKR_ATTRIBUTE_SENSITIVE" },
	{ CKR_ATTRIBUTE_TYPE_INVALID, "CKR_ATTRIBUTE_TYPE_INVALID" },
	{ CKR_ATTRIBUTE_VALUE_INVALID, "CKR_ATTRIBUTE_VALUE_INVALID" },
	{ CKR_DEVICE_ERROR, "CKR_DEVICE_ERROR" },
	{ CKR_DEVICE_REMOVED, "CKR_DEVICE_REMOVED" },
	{ CKR_KEY_SIZE_RANGE, "CKR_KEY_SIZE_RANGE" },
	{ CKR_MECHANISM_INVALID, "CKR_MECHANISM_INVALID" },
	{ CKR_OBJECT_HANDLE_INVALID, "CKR_OBJECT_HANDLE_INVALID" },
	{ CKR_PIN_INCORRECT, "CKR_PIN_INCORRECT" },
	{ CKR_PIN_INVALID, "CKR_PIN_INVALID" },
	{ CKR_PIN_LEN_RANGE, "CKR_PIN_LEN_RANGE" },
	{ CKR_PIN_EXPIRED, "CKR_PIN_EXPIRED" },
	{ CKR_PIN_LOCKED, "CKR_PIN_LOCKED" },
	{ CKR_SESSION_HANDLE_INVALID, "CKR_SESSION_HANDLE_INVALID" },
	{ CKR_SESSION_READ_ONLY, "CKR_SESSION_READ_ONLY" },
	{ CKR_TEMPLATE_INCOMPLETE, "CKR_TEMPLATE_INCOMPLETE" },
	{ CKR_TEMPLATE_INCONSISTENT, "CKR_TEMPLATE_INCONSISTENT" },
	{ CKR_TOKEN_NOT_PRESENT, "CKR_TOKEN_NOT_PRESENT" },
	{ CKR_TOKEN_WRITE_PROTECTED, "CKR_TOKEN_WRITE_PROTECTED" },
	{ CKR_USER_ALREADY_LOGGED_IN, "CKR_USER_ALREADY_LOGGED_IN" },
	{ CKR_USER_NOT_LOGGED_IN, "CKR_USER_NOT_LOGGED_IN" },
	{ CKR_USER_PIN_NOT_INITIALIZED, "CKR_USER_PIN_NOT_INITIALIZED" },
	{ CKR_DOMAIN_PARAMS_INVALID, "CKR_DOMAIN_PARAMS_INVALID" },
	{ CKR_CRYPTOKI_ALREADY_INITIALIZED,
	    "CKR_CRYPTOKI_ALREADY_INITIALIZED" },
};

/* Name of a CK_RV, written into buf (sz bytes) when not in the table. */
const char *
p11_ckr_name(unsigned long rv, char *buf, size_t sz)
{
	size_t	 i;

	for (i = 0; i < sizeof(ckr_names) / sizeof(ckr_names[0]); i++)
		if (ckr_names[i].rv == rv)
			return ckr_names[i].name;
	snprintf(buf, sz, "CKR_0x%lx", rv);
	return buf;
}

/* The CK_RV libp11 queued for the last failure, or CKR_GENERAL_ERROR. */
static unsigned long
ckr_from_queue(void)
{
	unsigned long	 e, rv = CKR_GENERAL_ERROR;
	int		 found = 0;

	while ((e = ERR_get_error()) != 0)
		if (!found && ERR_GET_LIB(e) == ERR_get_CKR_code()) {
			rv = (unsigned long)ERR_GET_REASON(e);
			found = 1;
		}
	return rv;
}

/* Turn a p11-kit module name into its file name.  Caller frees *out. */
static int
module_by_name(const char *name, char **out)
{
	CK_FUNCTION_LIST	**list, *m;
	char			 *fn = NULL;

	*out = NULL;
	if ((list = p11_kit_modules_load(NULL, 0)) == NULL)
		return uc_fail(UC_ERR_TOKEN, "p11-kit modules: %s",
		    p11_kit_message() ? p11_kit_message() : "cannot load");
	if ((m = p11_kit_module_for_name(list, name)) != NULL)
		fn = p11_kit_module_get_filename(m);
	p11_kit_modules_release(list);
	if (fn == NULL)
		return uc_fail(UC_ERR_NOTFOUND, "no p11-kit module named "
		    "\"%s\" (see p11-kit list-modules)", name);
	*out = fn;
	return 0;
}

/*
 * Choose the module (order in p11.h).  Returns 0 and a new path in *out
 * (caller frees), or UC_ERR_*.
 */
int
p11_module_resolve(const struct p11_uri *u, const struct p11_opts *opts,
    char **out)
{
	const char	*p = NULL;
	size_t		 i;

	*out = NULL;
	if (opts != NULL && opts->module != NULL)
		p = opts->module;
	else if (u != NULL && u->module_path != NULL)
		p = u->module_path;
	else if (u != NULL && u->module_name != NULL)
		return module_by_name(u->module_name, out);
	else if ((p = getenv(MODULE_ENV)) != NULL && *p == '\0')
		p = NULL;
	for (i = 0; p == NULL && i < sizeof(proxy_paths) /
	    sizeof(proxy_paths[0]); i++)
		if (access(proxy_paths[i], R_OK) == 0)
			p = proxy_paths[i];
	if (p == NULL)
		return uc_fail(UC_ERR_NOTFOUND, "no PKCS#11 module: use "
		    "--module, module-path in the URI or %s", MODULE_ENV);
	if ((*out = strdup(p)) == NULL)
		return uc_fail(UC_ERR_ALLOC, "module path");
	return 0;
}

static void
mod_free(struct p11_mod *m)
{
	if (m == NULL)
		return;
	if (m->slots != NULL)
		PKCS11_release_all_slots(m->ctx, m->slots, m->nslots);
	if (m->ctx != NULL) {
		PKCS11_CTX_unload(m->ctx);
		PKCS11_CTX_free(m->ctx);
	}
	if (m->dl != NULL)
		dlclose(m->dl);
	free(m->path);
	free(m);
}

/* The raw function list of the module libp11 just loaded. */
static void
mod_raw(struct p11_mod *m)
{
	CK_C_GetFunctionList	 gfl;
	CK_RV			 rv;

	if ((m->dl = dlopen(m->path, RTLD_NOW | RTLD_LOCAL)) == NULL)
		return;
	*(void **)&gfl = dlsym(m->dl, "C_GetFunctionList");
	if (gfl == NULL || gfl(&m->fl) != CKR_OK) {
		m->fl = NULL;
		return;
	}
	/* libp11 initialised it; this only confirms the instance is live. */
	rv = m->fl->C_Initialize(NULL);
	if (rv != CKR_CRYPTOKI_ALREADY_INITIALIZED && rv != CKR_OK)
		m->fl = NULL;
}

static int
mod_get(const char *path, struct p11_mod **out)
{
	struct p11_mod	*m;
	int		 r = UC_ERR_TOKEN;

	for (m = mods; m != NULL; m = m->next)
		if (strcmp(m->path, path) == 0) {
			m->refs++;
			*out = m;
			return 0;
		}
	*out = NULL;
	if ((m = calloc(1, sizeof(*m))) == NULL ||
	    (m->path = strdup(path)) == NULL ||
	    (m->ctx = PKCS11_CTX_new()) == NULL) {
		r = uc_fail(UC_ERR_ALLOC, "PKCS#11 context");
		goto out;
	}
	if (PKCS11_CTX_load(m->ctx, path) != 0) {
		PKCS11_CTX_free(m->ctx);
		m->ctx = NULL;
		r = uc_fail_ssl(UC_ERR_TOKEN, "PKCS#11 module %s does not "
		    "load", path);
		goto out;
	}
	if (PKCS11_enumerate_slots(m->ctx, &m->slots, &m->nslots) != 0) {
		r = uc_fail_ssl(UC_ERR_TOKEN, "%s: cannot list slots", path);
		goto out;
	}
	mod_raw(m);
	m->refs = 1;
	m->next = mods;
	mods = m;
	*out = m;
	m = NULL;
	r = 0;
out:
	mod_free(m);
	return r;
}

static void
mod_put(struct p11_mod *m)
{
	struct p11_mod	**pp;

	if (m == NULL || --m->refs > 0)
		return;
	for (pp = &mods; *pp != NULL; pp = &(*pp)->next)
		if (*pp == m) {
			*pp = m->next;
			break;
		}
	mod_free(m);
}

/*
 * Load the module the URI and options choose, no token chosen yet.
 * Returns 0 and a handle in *out (p11_tok_close frees), or UC_ERR_*.
 */
int
p11_tok_load(const struct p11_uri *u, const struct p11_opts *opts,
    struct p11_tok **out)
{
	struct p11_tok	*t = NULL;
	char		*path = NULL;
	int		 r;

	*out = NULL;
	if ((r = p11_module_resolve(u, opts, &path)) != 0)
		goto out;
	if ((t = calloc(1, sizeof(*t))) == NULL) {
		r = uc_fail(UC_ERR_ALLOC, "token handle");
		goto out;
	}
	if ((r = mod_get(path, &t->mod)) != 0)
		goto out;
	log_debug("PKCS#11 module %s: %u slots", path, t->mod->nslots);
	*out = t;
	t = NULL;
out:
	free(t);
	free(path);
	return r;
}

/* Release a handle from p11_tok_load or p11_tok_open; NULL is fine. */
void
p11_tok_close(struct p11_tok *t)
{
	if (t == NULL)
		return;
	if (t->have_login_sh && t->mod->fl != NULL)
		(void)t->mod->fl->C_CloseSession(t->login_sh);
	mod_put(t->mod);
	free(t);
}

/* The chosen token's label, for messages. */
const char *
p11_tok_label(const struct p11_tok *t)
{
	if (t == NULL || t->slot == NULL || t->slot->token == NULL)
		return "(no token)";
	return t->slot->token->label;
}

static int
str_match(const char *want, const char *have)
{
	return want == NULL || (have != NULL && strcmp(want, have) == 0);
}

/* 1 if slot s holds an initialised token the URI (NULL: any) names. */
int
p11_slot_match(PKCS11_SLOT *s, const struct p11_uri *u)
{
	PKCS11_TOKEN	*tk = s->token;

	if (tk == NULL || !tk->initialized)
		return 0;
	if (u == NULL)
		return 1;
	return str_match(u->token, tk->label) &&
	    str_match(u->serial, tk->serialnr) &&
	    str_match(u->manufacturer, tk->manufacturer) &&
	    str_match(u->model, tk->model) &&
	    (u->slot_id < 0 ||
	    PKCS11_get_slotid_from_slot(s) == (unsigned long)u->slot_id);
}

/*
 * Choose the one token the URI names.  Several matches fail unless
 * first is set (then the first is taken).  Returns 0 or UC_ERR_*.
 */
int
p11_tok_select(struct p11_tok *t, const struct p11_uri *u, int first)
{
	struct p11_mod	*m = t->mod;
	unsigned int	 i, n = 0;

	t->slot = NULL;
	for (i = 0; i < m->nslots; i++) {
		if (!p11_slot_match(&m->slots[i], u))
			continue;
		if (n++ == 0)
			t->slot = &m->slots[i];
	}
	if (n == 0)
		return uc_fail(UC_ERR_NOTFOUND, "no initialised token%s%s in "
		    "%s", u != NULL && u->token ? " labelled " : "",
		    u != NULL && u->token ? u->token : "", m->path);
	if (n > 1 && !first) {
		t->slot = NULL;
		return uc_fail(UC_ERR_ARG, "the URI matches %u tokens in %s; "
		    "name one with token=LABEL (see tokenctl list)", n,
		    m->path);
	}
	return 0;
}

/*
 * Load the module, choose the token, open a session (read-write if rw).
 * No login yet.  Returns 0 and *out (p11_tok_close frees), or UC_ERR_*.
 */
int
p11_tok_open(const struct p11_uri *u, const struct p11_opts *opts, int rw,
    struct p11_tok **out)
{
	struct p11_tok	*t = NULL;
	int		 r;

	*out = NULL;
	if ((r = p11_tok_load(u, opts, &t)) != 0 ||
	    (r = p11_tok_select(t, u, 0)) != 0)
		goto out;
	if (PKCS11_open_session(t->slot, rw) != 0) {
		r = uc_fail(UC_ERR_TOKEN, "token %s: cannot open a %s "
		    "session", p11_tok_label(t), rw ? "read-write" : "read-only");
		ERR_clear_error();
		goto out;
	}
	*out = t;
	t = NULL;
out:
	p11_tok_close(t);
	return r;
}

/* 1 if pin_get could find a PIN without failing, else 0. */
int
p11_tok_pin_available(const struct p11_uri *u, const struct p11_opts *opts)
{
	const char	*env = getenv("UCSEC_PIN");

	return (u != NULL && (u->pin_source != NULL ||
	    u->pin_value != NULL)) || (env != NULL && *env != '\0') ||
	    (opts != NULL && opts->interactive);
}

/* Why a login failed, with the token's PIN counter state if it has one. */
static int
login_failed(struct p11_tok *t, unsigned long rv)
{
	char		 buf[P11_CKR_NAME_MAX];
	CK_TOKEN_INFO	 ti;
	const char	*note = "";

	if (t->mod->fl != NULL && t->mod->fl->C_GetTokenInfo(
	    PKCS11_get_slotid_from_slot(t->slot), &ti) == CKR_OK) {
		if (ti.flags & CKF_USER_PIN_LOCKED)
			note = "; the PIN is now locked";
		else if (ti.flags & CKF_USER_PIN_FINAL_TRY)
			note = "; one try left before it locks";
		else if (ti.flags & CKF_USER_PIN_COUNT_LOW)
			note = "; few tries left";
	}
	if (rv == CKR_PIN_INCORRECT || rv == CKR_PIN_INVALID ||
	    rv == CKR_PIN_LEN_RANGE || rv == CKR_PIN_EXPIRED ||
	    rv == CKR_PIN_LOCKED)
		return uc_fail(UC_ERR_PIN, "token %s refused the PIN (%s)%s; "
		    "not retried", p11_tok_label(t),
		    p11_ckr_name(rv, buf, sizeof(buf)), note);
	return uc_fail(UC_ERR_TOKEN, "token %s: login failed (%s)",
	    p11_tok_label(t), p11_ckr_name(rv, buf, sizeof(buf)));
}

/*
 * C_Login directly, not PKCS11_login: libp11 0.4.12 keeps an unwiped
 * copy of the PIN for re-login and never frees it.  Login state belongs
 * to the token, so libp11's own session sees it; fall back to libp11
 * only when the raw function list is missing.
 */
static int
raw_login(struct p11_tok *t, const char *pin)
{
	CK_SESSION_HANDLE	 sh;
	CK_RV			 rv;
	int			 r;

	if (t->mod->fl == NULL) {
		if (PKCS11_login(t->slot, 0, pin) != 0)
			return login_failed(t, ckr_from_queue());
		return 0;
	}
	if ((r = raw_session(t, 0, &sh)) != 0)
		return r;
	rv = t->mod->fl->C_Login(sh, CKU_USER, (CK_UTF8CHAR *)pin,
	    pin ? strlen(pin) : 0);
	if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN) {
		(void)t->mod->fl->C_CloseSession(sh);
		return login_failed(t, rv);
	}
	/*
	 * Closing the token's last session logs out: keep this one.  A
	 * handle reused for another token (tokenctl list) drops the last.
	 */
	if (t->have_login_sh)
		(void)t->mod->fl->C_CloseSession(t->login_sh);
	t->login_sh = sh;
	t->have_login_sh = 1;
	return 0;
}

/*
 * Log in as the user once, if the token wants it.  The PIN (pin_get
 * order) is tried exactly once and wiped.  Returns 0 or UC_ERR_*;
 * UC_ERR_PIN when the token refused it.
 */
int
p11_tok_login(struct p11_tok *t, const struct p11_uri *u,
    const struct p11_opts *opts)
{
	PKCS11_TOKEN	*tk = t->slot->token;
	char		 pin[P11_PIN_MAX + 1];
	int		 r, in = 0;

	if (t->logged_in || !tk->loginRequired)
		return 0;
	if (PKCS11_is_logged_in(t->slot, 0, &in) == 0 && in) {
		t->logged_in = 1;
		return 0;
	}
	if (tk->userPinLocked)
		return uc_fail(UC_ERR_PIN, "token %s: the user PIN is locked "
		    "(CKR_PIN_LOCKED); not tried", p11_tok_label(t));
	if (tk->secureLogin)
		pin[0] = '\0';	/* PIN pad: the token asks */
	else if ((r = pin_get(u, opts, p11_tok_label(t), pin,
	    sizeof(pin))) != 0)
		goto out;
	ERR_clear_error();
	if ((r = raw_login(t, tk->secureLogin ? NULL : pin)) != 0)
		goto out;
	t->logged_in = 1;
	t->pin_in_uri = !tk->secureLogin && u != NULL &&
	    u->pin_source == NULL && u->pin_value != NULL;
out:
	pin_wipe(pin, sizeof(pin));
	return r;
}

/*
 * Warn, once per process, when t's login PIN came from a URI pin-value
 * (RFC 7512 section 2.4): command lines are readable in /proc/PID/cmdline.
 * Call it only on a success path, so a failure stays one line.
 */
void
p11_tok_warn_pin(const struct p11_tok *t)
{
	static int	 warned;

	if (t == NULL || !t->pin_in_uri || warned)
		return;
	warned = 1;
	log_warnx("warning: pin-value in a URI is visible to other local "
	    "users; prefer pin-source");
}

/* 1 if an object's id and label match the URI's id and object label. */
static int
obj_match(const unsigned char *id, size_t id_len, const char *label,
    const struct p11_uri *u)
{
	if (u->id_len > 0 && (id_len != u->id_len ||
	    memcmp(id, u->id, u->id_len) != 0))
		return 0;
	return str_match(u->object, label);
}

/* 1 if the key matches the URI's id and object label (when given). */
int
p11_key_match(const PKCS11_KEY *k, const struct p11_uri *u)
{
	return obj_match(k->id, k->id_len, k->label, u);
}

/* 1 if the certificate matches the URI's id and object label. */
int
p11_cert_match(const PKCS11_CERT *c, const struct p11_uri *u)
{
	return obj_match(c->id, c->id_len, c->label, u);
}

/*
 * The one private key on the chosen token the URI names (log in first).
 * *out points into libp11's list, valid while t is open.
 */
int
p11_key_find(struct p11_tok *t, const struct p11_uri *u, PKCS11_KEY **out)
{
	PKCS11_KEY	*keys;
	unsigned int	 i, n, hits = 0;

	*out = NULL;
	if (PKCS11_enumerate_keys(t->slot->token, &keys, &n) != 0) {
		ERR_clear_error();
		return uc_fail(UC_ERR_TOKEN, "token %s: cannot list keys",
		    p11_tok_label(t));
	}
	for (i = 0; i < n; i++)
		if (p11_key_match(&keys[i], u) && hits++ == 0)
			*out = &keys[i];
	if (hits == 0)
		return uc_fail(UC_ERR_NOTFOUND, "token %s: no private key "
		    "with%s%s%s (see tokenctl list)", p11_tok_label(t),
		    u->object ? " label " : "", u->object ? u->object : "",
		    u->id_len ? " and the id given" : "");
	if (hits > 1) {
		*out = NULL;
		return uc_fail(UC_ERR_ARG, "token %s: the URI matches %u "
		    "private keys; add object= or id=", p11_tok_label(t),
		    hits);
	}
	return 0;
}

/*
 * The certificate for a key: same CKA_ID, else (key without id) same
 * label.  NULL when none.  Points into libp11's list.
 */
PKCS11_CERT *
p11_cert_for_key(struct p11_tok *t, const PKCS11_KEY *k)
{
	PKCS11_CERT	*certs;
	unsigned int	 i, n;

	if (PKCS11_enumerate_certs(t->slot->token, &certs, &n) != 0) {
		ERR_clear_error();
		return NULL;
	}
	for (i = 0; i < n; i++)
		if (k->id_len > 0 && certs[i].id_len == k->id_len &&
		    memcmp(certs[i].id, k->id, k->id_len) == 0)
			return &certs[i];
	for (i = 0; i < n && k->id_len == 0; i++)
		if (k->label != NULL && certs[i].label != NULL &&
		    strcmp(certs[i].label, k->label) == 0)
			return &certs[i];
	return NULL;
}

/* Open a raw session on the chosen token. */
static int
raw_session(struct p11_tok *t, int rw, CK_SESSION_HANDLE *sh)
{
	char	 buf[P11_CKR_NAME_MAX];
	CK_RV	 rv;

	if (t->mod->fl == NULL)
		return uc_fail(UC_ERR_UNSUPPORTED, "%s: no raw PKCS#11 "
		    "function list", t->mod->path);
	rv = t->mod->fl->C_OpenSession(PKCS11_get_slotid_from_slot(t->slot),
	    CKF_SERIAL_SESSION | (rw ? CKF_RW_SESSION : 0), NULL, NULL, sh);
	if (rv != CKR_OK)
		return uc_fail(UC_ERR_TOKEN, "token %s: C_OpenSession: %s",
		    p11_tok_label(t), p11_ckr_name(rv, buf, sizeof(buf)));
	return 0;
}

/* Find the first object matching tmpl; *found 0 when there is none. */
static int
raw_find(struct p11_tok *t, CK_SESSION_HANDLE sh, CK_ATTRIBUTE *tmpl,
    CK_ULONG n, CK_OBJECT_HANDLE *obj, int *found)
{
	CK_FUNCTION_LIST	*fl = t->mod->fl;
	CK_ULONG		 cnt = 0;
	char			 buf[P11_CKR_NAME_MAX];
	CK_RV			 rv;

	*found = 0;
	if ((rv = fl->C_FindObjectsInit(sh, tmpl, n)) != CKR_OK)
		return uc_fail(UC_ERR_TOKEN, "token %s: C_FindObjectsInit: %s",
		    p11_tok_label(t), p11_ckr_name(rv, buf, sizeof(buf)));
	rv = fl->C_FindObjects(sh, obj, 1, &cnt);
	(void)fl->C_FindObjectsFinal(sh);
	if (rv != CKR_OK)
		return uc_fail(UC_ERR_TOKEN, "token %s: C_FindObjects: %s",
		    p11_tok_label(t), p11_ckr_name(rv, buf, sizeof(buf)));
	*found = cnt > 0;
	return 0;
}

/*
 * Read boolean attribute `attr` of the object of class cls with this id
 * (or, with no id, this label).  Returns 0 and *val, UC_ERR_NOTFOUND, or
 * UC_ERR_UNSUPPORTED when the module cannot say.
 */
int
p11_obj_bool(struct p11_tok *t, CK_OBJECT_CLASS cls, const uint8_t *id,
    size_t id_len, const char *label, CK_ATTRIBUTE_TYPE attr, int *val)
{
	CK_SESSION_HANDLE	 sh;
	CK_OBJECT_HANDLE	 obj;
	CK_BBOOL		 b = CK_FALSE;
	CK_ATTRIBUTE		 tmpl[2], a = { attr, &b, sizeof(b) };
	CK_ULONG		 n = 1;
	int			 r, found;

	*val = 0;
	tmpl[0] = (CK_ATTRIBUTE){ CKA_CLASS, &cls, sizeof(cls) };
	if (id_len > 0)
		tmpl[n++] = (CK_ATTRIBUTE){ CKA_ID, (void *)id, id_len };
	else if (label != NULL)
		tmpl[n++] = (CK_ATTRIBUTE){ CKA_LABEL, (void *)label,
		    strlen(label) };
	if ((r = raw_session(t, 0, &sh)) != 0)
		return r;
	if ((r = raw_find(t, sh, tmpl, n, &obj, &found)) != 0)
		goto out;
	if (!found) {
		r = uc_fail(UC_ERR_NOTFOUND, "token %s: object not found",
		    p11_tok_label(t));
		goto out;
	}
	if (t->mod->fl->C_GetAttributeValue(sh, obj, &a, 1) != CKR_OK) {
		r = uc_fail(UC_ERR_UNSUPPORTED, "token %s: attribute 0x%lx "
		    "unreadable", p11_tok_label(t), (unsigned long)attr);
		goto out;
	}
	*val = b == CK_TRUE;
	r = 0;
out:
	(void)t->mod->fl->C_CloseSession(sh);
	return r;
}

/*
 * Set *exists when any object (any class, public or, logged in, private)
 * has this label or this id.  Returns 0 or UC_ERR_*.
 */
int
p11_obj_exists(struct p11_tok *t, const char *label, const uint8_t *id,
    size_t id_len, int *exists)
{
	CK_SESSION_HANDLE	 sh;
	CK_OBJECT_HANDLE	 obj;
	CK_ATTRIBUTE		 a;
	int			 r, found = 0;

	*exists = 0;
	if ((r = raw_session(t, 0, &sh)) != 0)
		return r;
	if (label != NULL) {
		a = (CK_ATTRIBUTE){ CKA_LABEL, (void *)label, strlen(label) };
		if ((r = raw_find(t, sh, &a, 1, &obj, &found)) != 0)
			goto out;
	}
	if (!found && id_len > 0) {
		a = (CK_ATTRIBUTE){ CKA_ID, (void *)id, id_len };
		if ((r = raw_find(t, sh, &a, 1, &obj, &found)) != 0)
			goto out;
	}
	*exists = found;
out:
	(void)t->mod->fl->C_CloseSession(sh);
	return r;
}

/* DER OIDs for CKA_EC_PARAMS (RFC 5480 namedCurve). */
static const uint8_t oid_p256[] = {
	0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07
};
static const uint8_t oid_p384[] = {
	0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22
};

/* Parse "rsa:BITS" or "ec:CURVE" into mechanism and parameter. */
static int
keyspec_parse(const char *spec, CK_MECHANISM_TYPE *mech, CK_ULONG *bits,
    const uint8_t **oid, size_t *oidlen)
{
	*oid = NULL;
	*oidlen = 0;
	*bits = 0;
	if (strcmp(spec, "rsa:1024") == 0 || strcmp(spec, "rsa:2048") == 0 ||
	    strcmp(spec, "rsa:3072") == 0 || strcmp(spec, "rsa:4096") == 0) {
		*mech = CKM_RSA_PKCS_KEY_PAIR_GEN;
		*bits = strtoul(spec + 4, NULL, 10);
		if (*bits < 2048)
			log_warnx("RSA-%lu is weak; only for old phone "
			    "firmware", (unsigned long)*bits);
		return 0;
	}
	*mech = CKM_EC_KEY_PAIR_GEN;
	if (strcasecmp(spec, "ec:P-256") == 0 ||
	    strcasecmp(spec, "ec:prime256v1") == 0 ||
	    strcasecmp(spec, "ec:secp256r1") == 0) {
		*oid = oid_p256;
		*oidlen = sizeof(oid_p256);
	} else if (strcasecmp(spec, "ec:P-384") == 0 ||
	    strcasecmp(spec, "ec:secp384r1") == 0) {
		*oid = oid_p384;
		*oidlen = sizeof(oid_p384);
	} else
		return uc_fail(UC_ERR_ARG, "key type \"%s\": use rsa:2048, "
		    "rsa:1024, rsa:3072, rsa:4096, ec:P-256 or ec:P-384",
		    spec);
	return 0;
}

/*
 * Generate a key pair on the chosen token (logged in, read-write): the
 * private half sensitive, not extractable, signing only.  label may be
 * NULL.  Returns 0 or UC_ERR_*.
 */
int
p11_keygen(struct p11_tok *t, const char *spec, const char *label,
    const uint8_t *id, size_t id_len)
{
	static CK_BBOOL		 yes = CK_TRUE, no = CK_FALSE;
	static CK_BYTE		 e65537[] = { 0x01, 0x00, 0x01 };
	CK_MECHANISM		 mech = { 0, NULL, 0 };
	CK_ATTRIBUTE		 pub[8], priv[8];
	CK_ULONG		 npub = 0, npriv = 0, bits;
	CK_OBJECT_HANDLE	 hpub, hpriv;
	CK_SESSION_HANDLE	 sh;
	const uint8_t		*oid;
	size_t			 oidlen;
	char			 buf[P11_CKR_NAME_MAX];
	CK_RV			 rv;
	int			 r;

	if ((r = keyspec_parse(spec, &mech.mechanism, &bits, &oid,
	    &oidlen)) != 0)
		return r;
	pub[npub++] = (CK_ATTRIBUTE){ CKA_TOKEN, &yes, sizeof(yes) };
	pub[npub++] = (CK_ATTRIBUTE){ CKA_PRIVATE, &no, sizeof(no) };
	pub[npub++] = (CK_ATTRIBUTE){ CKA_VERIFY, &yes, sizeof(yes) };
	if (oid != NULL)
		pub[npub++] = (CK_ATTRIBUTE){ CKA_EC_PARAMS, (void *)oid,
		    oidlen };
	else {
		pub[npub++] = (CK_ATTRIBUTE){ CKA_MODULUS_BITS, &bits,
		    sizeof(bits) };
		pub[npub++] = (CK_ATTRIBUTE){ CKA_PUBLIC_EXPONENT, e65537,
		    sizeof(e65537) };
	}
	priv[npriv++] = (CK_ATTRIBUTE){ CKA_TOKEN, &yes, sizeof(yes) };
	priv[npriv++] = (CK_ATTRIBUTE){ CKA_PRIVATE, &yes, sizeof(yes) };
	priv[npriv++] = (CK_ATTRIBUTE){ CKA_SENSITIVE, &yes, sizeof(yes) };
	priv[npriv++] = (CK_ATTRIBUTE){ CKA_EXTRACTABLE, &no, sizeof(no) };
	priv[npriv++] = (CK_ATTRIBUTE){ CKA_SIGN, &yes, sizeof(yes) };
	if (label != NULL) {
		pub[npub++] = (CK_ATTRIBUTE){ CKA_LABEL, (void *)label,
		    strlen(label) };
		priv[npriv++] = pub[npub - 1];
	}
	pub[npub++] = (CK_ATTRIBUTE){ CKA_ID, (void *)id, id_len };
	priv[npriv++] = pub[npub - 1];
	if ((r = raw_session(t, 1, &sh)) != 0)
		return r;
	rv = t->mod->fl->C_GenerateKeyPair(sh, &mech, pub, npub, priv, npriv,
	    &hpub, &hpriv);
	(void)t->mod->fl->C_CloseSession(sh);
	if (rv != CKR_OK)
		return uc_fail(UC_ERR_TOKEN, "token %s: C_GenerateKeyPair "
		    "(%s): %s", p11_tok_label(t), spec,
		    p11_ckr_name(rv, buf, sizeof(buf)));
	return 0;
}

/* The URI types p11_signer_open and p11_cert_load take. */
static const char *const key_types[] = { "private", "public", "cert", NULL };

/* The token signer: ctx is a struct p11_sctx. */
struct p11_sctx {
	struct p11_tok	*tok;
	EVP_PKEY	*pk;		/* libp11 key; the private half stays */
};

static int
p11s_sign(void *ctx, enum signer_md md, const uint8_t *msg, size_t len,
    uint8_t *sig, size_t *siglen)
{
	struct p11_sctx	*sc = ctx;
	char		 pfx[P11_LABEL_MAX];
	int		 r;

	if ((r = signer_evp_sign(sc->pk, md, msg, len, sig, siglen)) != 0) {
		snprintf(pfx, sizeof(pfx), "token %s", p11_tok_label(sc->tok));
		uc_prefix(pfx);
	}
	return r;
}

static void
p11s_free(void *ctx)
{
	struct p11_sctx	*sc = ctx;

	if (sc == NULL)
		return;
	EVP_PKEY_free(sc->pk);		/* before the module goes */
	p11_tok_close(sc->tok);
	free(sc);
}

static EVP_PKEY *
p11s_pkey(void *ctx)
{
	return ((struct p11_sctx *)ctx)->pk;
}

static const struct signer_ops p11_ops = {
	.name = "pkcs11",
	.sign = p11s_sign,
	.free = p11s_free,
	.pkey = p11s_pkey,
};

/* Warn when the key could leave the token. */
static void
key_warn_extractable(struct p11_tok *t, const PKCS11_KEY *k)
{
	int	 ext = 0, sens = 1;

	if (p11_obj_bool(t, CKO_PRIVATE_KEY, k->id, k->id_len, k->label,
	    CKA_EXTRACTABLE, &ext) == 0 && ext)
		log_warnx("token %s: key %s is extractable (CKA_EXTRACTABLE); "
		    "it can be copied off the token", p11_tok_label(t),
		    k->label ? k->label : "(no label)");
	if (p11_obj_bool(t, CKO_PRIVATE_KEY, k->id, k->id_len, k->label,
	    CKA_SENSITIVE, &sens) == 0 && !sens)
		log_warnx("token %s: key %s is not sensitive (CKA_SENSITIVE "
		    "false)", p11_tok_label(t),
		    k->label ? k->label : "(no label)");
}

/* The token certificate for key k, checked against it.  Caller frees. */
static int
key_cert(struct p11_tok *t, PKCS11_KEY *k, const char *uri, X509 **out)
{
	PKCS11_CERT	*c;
	EVP_PKEY	*pub;

	*out = NULL;
	if ((c = p11_cert_for_key(t, k)) == NULL)
		return uc_fail(UC_ERR_NOTFOUND, "token %s: no certificate with "
		    "the key's id%s; make one with \"tokenctl selfsign '%s' "
		    "--subject ...\" or store one with \"tokenctl import-cert "
		    "'%s' FILE\"", p11_tok_label(t), k->id_len ? "" :
		    " or label", uri, uri);
	if ((pub = PKCS11_get_public_key(k)) != NULL &&
	    EVP_PKEY_eq(pub, X509_get0_pubkey(c->x509)) != 1) {
		EVP_PKEY_free(pub);
		return uc_fail(UC_ERR_POLICY, "token %s: the certificate with "
		    "the key's id holds a different public key",
		    p11_tok_label(t));
	}
	EVP_PKEY_free(pub);
	ERR_clear_error();
	if ((*out = X509_dup(c->x509)) == NULL)
		return uc_fail(UC_ERR_ALLOC, "X509_dup");
	return 0;
}

/* 1 if type (NULL: none) is one of the NULL-terminated names. */
static int
type_is(const char *type, const char *const *names)
{
	for (; *names != NULL; names++)
		if (type == NULL || strcmp(type, *names) == 0)
			return 1;
	return 0;
}

/*
 * 1 if certificate c is the one u names.  A key URI (type=private or
 * public) names its key's certificate: the same CKA_ID, or without an
 * id the same label (PKCS#11 v2.40 section 4.6.3, CKA_ID).
 */
static int
cert_match_uri(const PKCS11_CERT *c, const struct p11_uri *u)
{
	if (u->type == NULL || strcmp(u->type, "cert") == 0)
		return p11_cert_match(c, u);
	if (u->id_len > 0)
		return c->id_len == u->id_len &&
		    memcmp(c->id, u->id, u->id_len) == 0;
	return str_match(u->object, c->label);
}

/* The one certificate u names; *out points into libp11's list. */
static int
cert_pick(struct p11_tok *t, const struct p11_uri *u, PKCS11_CERT **out)
{
	PKCS11_CERT	*certs;
	unsigned int	 i, n, hits = 0;

	*out = NULL;
	if (PKCS11_enumerate_certs(t->slot->token, &certs, &n) != 0) {
		ERR_clear_error();
		return uc_fail(UC_ERR_TOKEN, "token %s: cannot list "
		    "certificates", p11_tok_label(t));
	}
	for (i = 0; i < n; i++)
		if (cert_match_uri(&certs[i], u) && hits++ == 0)
			*out = &certs[i];
	if (hits == 0)
		return uc_fail(UC_ERR_NOTFOUND, "token %s: no certificate "
		    "matches the URI", p11_tok_label(t));
	if (hits > 1) {
		*out = NULL;
		return uc_fail(UC_ERR_ARG, "token %s: the URI matches %u "
		    "certificates; add object= or id=", p11_tok_label(t), hits);
	}
	return 0;
}

/*
 * The private key a signing URI names: by its id and label (type
 * private, public or none), or for type=cert the key with that
 * certificate's id (or, when it has none, its label).  *out points into
 * libp11's list, valid while t is open.  Returns 0 or UC_ERR_*.
 */
static int
signer_key_find(struct p11_tok *t, const struct p11_uri *u,
    PKCS11_KEY **out)
{
	struct p11_uri	 ku;
	PKCS11_CERT	*c;
	int		 r;

	*out = NULL;
	if (u->type == NULL || strcmp(u->type, "cert") != 0)
		return p11_key_find(t, u, out);
	if ((r = cert_pick(t, u, &c)) != 0)
		return r;
	if (c->id_len > P11_ID_MAX || (c->id_len == 0 && c->label == NULL))
		return uc_fail(UC_ERR_UNSUPPORTED, "token %s: the certificate "
		    "has no usable id or label to find its key by",
		    p11_tok_label(t));
	memset(&ku, 0, sizeof(ku));
	ku.slot_id = -1;
	memcpy(ku.id, c->id, c->id_len);
	ku.id_len = c->id_len;
	ku.object = c->id_len == 0 ? c->label : NULL;	/* borrowed */
	return p11_key_find(t, &ku, out);
}

/* Which certificate a token signer carries. */
enum p11_signer_cert {
	P11_CERT_TOKEN,		/* the token's, with the key's id */
	P11_CERT_GIVEN,		/* the caller's, checked by signing */
	P11_CERT_NONE		/* none: a bare key */
};

/*
 * The token signer for uri with the certificate mode says: the token's
 * (cert NULL), cert (taken over, freed on failure too, checked with a
 * test signature by signer_check_key before any warning), or none.
 */
static int
signer_open(const char *uri, const struct p11_opts *opts,
    enum p11_signer_cert mode, X509 *cert, struct signer **out)
{
	struct p11_uri	 u;
	struct p11_sctx	*sc = NULL;
	struct p11_tok	*tok;
	PKCS11_KEY	*k;
	char		*label = NULL;
	int		 r;

	*out = NULL;
	if ((r = p11_uri_parse(uri, &u)) != 0)
		goto out;
	if (!type_is(u.type, key_types)) {
		r = uc_fail(UC_ERR_ARG, "a signing key URI needs type=private, "
		    "public or cert, not type=%s", u.type);
		goto out;
	}
	if ((label = p11_uri_redact(uri)) == NULL ||
	    (sc = calloc(1, sizeof(*sc))) == NULL) {
		r = uc_fail(UC_ERR_ALLOC, "token signer");
		goto out;
	}
	if ((r = p11_tok_open(&u, opts, 0, &sc->tok)) != 0 ||
	    (r = p11_tok_login(sc->tok, &u, opts)) != 0 ||
	    (r = signer_key_find(sc->tok, &u, &k)) != 0)
		goto out;
	if ((sc->pk = PKCS11_get_private_key(k)) == NULL) {
		r = uc_fail_ssl(UC_ERR_TOKEN, "token %s: cannot use the "
		    "private key", p11_tok_label(sc->tok));
		goto out;
	}
	if (mode == P11_CERT_TOKEN &&
	    (r = key_cert(sc->tok, k, label, &cert)) != 0)
		goto out;
	tok = sc->tok;
	r = signer_new(&p11_ops, sc, cert, label, out);
	sc = NULL;
	cert = NULL;
	if (r == 0 && mode == P11_CERT_GIVEN &&
	    (r = signer_check_key(*out)) != 0) {
		signer_free(*out);
		*out = NULL;
	}
	/* Warnings only now that nothing can fail: errors stay one line. */
	if (r == 0) {
		p11_tok_warn_pin(tok);
		key_warn_extractable(tok, k);
	}
out:
	p11s_free(sc);
	X509_free(cert);
	free(label);
	p11_uri_free(&u);
	return r;
}

/*
 * As p11_signer_open; cert, when not NULL, is the signer's certificate
 * instead of the token's (taken over, freed on failure too), checked
 * here with a test signature (signer_check_key) before any warning.
 */
int
p11_signer_open_cert(const char *uri, const struct p11_opts *opts,
    X509 *cert, struct signer **out)
{
	return signer_open(uri, opts, cert != NULL ? P11_CERT_GIVEN :
	    P11_CERT_TOKEN, cert, out);
}

/*
 * Open a signer for the private key the pkcs11: URI names (type=private,
 * public or none: the key itself; type=cert: the key with that
 * certificate's id).  Logs in (PIN per p11.h), needs the token
 * certificate with the key's CKA_ID (or label).  The key never leaves
 * the token.  Returns 0 or UC_ERR_*; warnings (pin-value, extractable
 * key) only on success.  Caller frees *out with signer_free, which also
 * releases the module.
 */
int
p11_signer_open(const char *uri, const struct p11_opts *opts,
    struct signer **out)
{
	return signer_open(uri, opts, P11_CERT_TOKEN, NULL, out);
}

/*
 * As p11_signer_open, but for a bare key: no certificate is looked for
 * and (*out)->cert is NULL, so a key fresh from "tokenctl keygen" can
 * sign its first certificate or request.  Its public key is
 * signer_pkey(*out) (libp11 fills it from the key objects).  Caller
 * frees *out with signer_free.
 */
int
p11_signer_open_bare(const char *uri, const struct p11_opts *opts,
    struct signer **out)
{
	return signer_open(uri, opts, P11_CERT_NONE, NULL, out);
}

/* As cert_pick, but a copy of the certificate.  Caller frees *out. */
static int
cert_find(struct p11_tok *t, const struct p11_uri *u, X509 **out)
{
	PKCS11_CERT	*c;
	int		 r;

	*out = NULL;
	if ((r = cert_pick(t, u, &c)) != 0)
		return r;
	if ((*out = X509_dup(c->x509)) == NULL)
		return uc_fail(UC_ERR_ALLOC, "X509_dup");
	return 0;
}

/*
 * Certificate not visible: log in only with a PIN the URI itself gives,
 * never UCSEC_PIN or a prompt, so one token's PIN is never tried on
 * another (a wrong PIN burns a retry).  opts never prompts.
 */
static int
cert_login_find(struct p11_tok *t, const struct p11_uri *u,
    const struct p11_opts *opts, X509 **out)
{
	int	 r;

	if (u->pin_source == NULL && u->pin_value == NULL)
		return uc_fail(UC_ERR_NOTFOUND, "no certificate visible "
		    "without login on token %s; add ?pin-source=... to the "
		    "URI if this token keeps certificates private",
		    p11_tok_label(t));
	if ((r = p11_tok_login(t, u, opts)) != 0 ||
	    (r = cert_find(t, u, out)) != 0)
		return r;
	p11_tok_warn_pin(t);
	return 0;
}

/*
 * Read the certificate the pkcs11: URI names: type=cert or none, the
 * certificate object; type=private or public, the certificate with that
 * key's CKA_ID (or label when the URI has no id).  Logs in only when the
 * certificate is not visible without and the URI carries pin-source or
 * pin-value; never prompts.  Returns 0 or UC_ERR_*; caller frees *out.
 */
int
p11_cert_load(const char *uri, const struct p11_opts *opts, X509 **out)
{
	struct p11_uri	 u;
	struct p11_opts	 o = { NULL, 0 };
	struct p11_tok	*t = NULL;
	int		 r;

	*out = NULL;
	if (opts != NULL)
		o.module = opts->module;
	if ((r = p11_uri_parse(uri, &u)) != 0)
		goto out;
	if (!type_is(u.type, key_types)) {
		r = uc_fail(UC_ERR_ARG, "a certificate URI needs type=cert, "
		    "private or public, not type=%s", u.type);
		goto out;
	}
	if ((r = p11_tok_open(&u, &o, 0, &t)) != 0)
		goto out;
	r = cert_find(t, &u, out);
	if (r == UC_ERR_NOTFOUND && t->slot->token->loginRequired &&
	    !t->logged_in)
		r = cert_login_find(t, &u, &o, out);
out:
	p11_tok_close(t);
	p11_uri_free(&u);
	return r;
}
