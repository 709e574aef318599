/*
 * Encrypted phone configuration (signed-files.md 4): the .enc.sgn file
 * (4.1) and the reduced plaintext stub (4.2).  The XML goes through
 * libxml2 with no network, no DTD, no entity substitution; a document
 * type declaration is refused outright.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/SAX2.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlsave.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#include "cert.h"
#include "enccfg.h"
#include "log.h"
#include "uerr.h"

#define AES_KEY_LEN	16	/* tag 24 = 1: AES-128-CBC (4.1) */
#define AES_BLOCK	16
#define ENC_PAD_BYTE	0x0d	/* carriage return, not PKCS#7 (4.1 step 4) */

/* Tag 26 code for a signer digest (1.5). */
static int
hash_code(enum signer_md md)
{
	switch (md) {
	case SIGNER_SHA1:
		return SGN_HASH_SHA1;
	case SIGNER_SHA512:
		return SGN_HASH_SHA512;
	default:
		return -1;
	}
}

/* Digest of n bytes with md into out (EVP_MAX_MD_SIZE bytes). */
static int
digest(enum signer_md md, const uint8_t *p, size_t n, uint8_t *out,
    size_t *outlen)
{
	unsigned int	 len = 0;

	if (EVP_Digest(p, n, out, &len, signer_evp_md(md), NULL) != 1)
		return uc_fail_ssl(UC_ERR_CRYPTO, "plaintext digest %s",
		    signer_md_name(md));
	*outlen = len;
	return 0;
}

/* AES-128-CBC over n bytes (a multiple of 16) with padding disabled. */
static int
aes_cbc(int enc, const uint8_t *key, const uint8_t *iv, const uint8_t *in,
    size_t n, uint8_t *out)
{
	EVP_CIPHER_CTX	*ctx;
	int		 l1 = 0, l2 = 0, ok;

	if (n % AES_BLOCK != 0 || n > INT_MAX)
		return uc_fail(UC_ERR_INTERNAL, "aes_cbc: bad length %zu", n);
	if ((ctx = EVP_CIPHER_CTX_new()) == NULL)
		return uc_fail(UC_ERR_ALLOC, "EVP_CIPHER_CTX_new");
	ok = EVP_CipherInit_ex(ctx, EVP_aes_128_cbc(), NULL, key, iv,
	    enc) == 1 &&
	    EVP_CIPHER_CTX_set_padding(ctx, 0) == 1 &&
	    EVP_CipherUpdate(ctx, out, &l1, in, (int)n) == 1 &&
	    EVP_CipherFinal_ex(ctx, out + l1, &l2) == 1 &&
	    (size_t)l1 + (size_t)l2 == n;
	EVP_CIPHER_CTX_free(ctx);
	if (!ok)
		return uc_fail_ssl(UC_ERR_CRYPTO, "AES-128-CBC %s",
		    enc ? "encryption" : "decryption");
	return 0;
}

/*
 * The device public key, if it is one we can wrap a key to: RSA only
 * (4.1, "EC device keys").  *pk is borrowed from dev.
 */
static int
device_rsa_key(X509 *dev, EVP_PKEY **pk)
{
	if (dev == NULL || (*pk = X509_get0_pubkey(dev)) == NULL)
		return uc_fail_ssl(UC_ERR_FORMAT, "device certificate has no "
		    "usable public key");
	if (EVP_PKEY_is_a(*pk, "EC"))
		return uc_fail(UC_ERR_UNSUPPORTED, "device certificate has an "
		    "EC key: no EC key-wrapping format is known "
		    "(signed-files.md 4.1)");
	if (!EVP_PKEY_is_a(*pk, "RSA"))
		return uc_fail(UC_ERR_UNSUPPORTED, "device certificate key is "
		    "%s, not RSA (signed-files.md 4.1)", cert_keytype(dev));
	return 0;
}

/* RSAES-PKCS1-v1_5 encryption of the AES key (4.1 step 6). */
static int
wrap_key(EVP_PKEY *pk, const uint8_t *key, uint8_t **out, size_t *outlen)
{
	EVP_PKEY_CTX	*ctx = NULL;
	uint8_t		*buf = NULL;
	size_t		 len = 0;
	int		 r = UC_ERR_CRYPTO;

	*out = NULL;
	if ((ctx = EVP_PKEY_CTX_new(pk, NULL)) == NULL ||
	    EVP_PKEY_encrypt_init(ctx) != 1 ||
	    EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) != 1 ||
	    EVP_PKEY_encrypt(ctx, NULL, &len, key, AES_KEY_LEN) != 1) {
		r = uc_fail_ssl(UC_ERR_CRYPTO, "wrapping the AES key to the "
		    "device RSA key");
		goto out;
	}
	if ((buf = malloc(len)) == NULL) {
		r = uc_fail(UC_ERR_ALLOC, "wrapped key");
		goto out;
	}
	if (EVP_PKEY_encrypt(ctx, buf, &len, key, AES_KEY_LEN) != 1) {
		r = uc_fail_ssl(UC_ERR_CRYPTO, "wrapping the AES key to the "
		    "device RSA key");
		goto out;
	}
	*out = buf;
	*outlen = len;
	buf = NULL;
	r = 0;
out:
	free(buf);
	EVP_PKEY_CTX_free(ctx);
	return r;
}

/*
 * Pad (4.1 step 4: n = 16 - len % 16 bytes of 0x0D, 1..16) and encrypt.
 * On success *ct (caller frees) holds *ctlen bytes and *npad is n.
 */
static int
pad_encrypt(const uint8_t *cfg, size_t len, const uint8_t *key,
    const uint8_t *iv, uint8_t **ct, size_t *ctlen, uint16_t *npad)
{
	uint8_t	*pt = NULL, *buf = NULL;
	size_t	 n = AES_BLOCK - len % AES_BLOCK, total = len + n;
	int	 r;

	*ct = NULL;
	if ((pt = malloc(total)) == NULL || (buf = malloc(total)) == NULL) {
		r = uc_fail(UC_ERR_ALLOC, "config buffer");
		goto out;
	}
	if (len > 0)
		memcpy(pt, cfg, len);
	memset(pt + len, ENC_PAD_BYTE, n);
	if ((r = aes_cbc(1, key, iv, pt, total, buf)) != 0)
		goto out;
	*ct = buf;
	*ctlen = total;
	*npad = (uint16_t)n;
	buf = NULL;
out:
	if (pt != NULL)
		OPENSSL_clear_free(pt, total);
	free(buf);
	return r;
}

/*
 * Encrypt the config cfg (len bytes, may be empty: it then gets a full
 * block of padding) to the RSA key of device certificate dev and sign it
 * with s as an .enc.sgn named enc_filename with the given timestamp
 * (signed-files.md 4.1).  The plaintext hash uses md, like tag 8.  A
 * fresh random AES-128 key and IV are drawn for every call; the key is
 * wiped before return.  Returns 0 with *out (caller frees) holding
 * *outlen bytes, or UC_ERR_* (UC_ERR_UNSUPPORTED for an EC or other
 * non-RSA device certificate).
 */
int
enccfg_encrypt(const uint8_t *cfg, size_t len, X509 *dev, struct signer *s,
    enum signer_md md, const char *enc_filename, uint32_t timestamp,
    uint8_t **out, size_t *outlen)
{
	struct sgn_build	 p;
	struct sgn_enc_in	 e;
	EVP_PKEY		*pk = NULL;
	uint8_t			 key[AES_KEY_LEN], h[EVP_MAX_MD_SIZE];
	uint8_t			*ct = NULL, *wk = NULL;
	size_t			 hlen, ctlen = 0, wklen = 0;
	int			 r;

	*out = NULL;
	memset(&e, 0, sizeof(e));
	if (len > ENCCFG_MAX)
		return uc_fail(UC_ERR_ARG, "config of %zu bytes is over the "
		    "%d-byte limit", len, ENCCFG_MAX);
	if (hash_code(md) < 0)
		return uc_fail(UC_ERR_UNSUPPORTED, "digest %s: the reference "
		    "takes only sha1 and sha512 (signed-files.md 1.5)",
		    signer_md_name(md));
	if ((r = device_rsa_key(dev, &pk)) != 0)
		return r;
	if ((r = digest(md, cfg, len, h, &hlen)) != 0)
		goto out;
	if (RAND_bytes(key, sizeof(key)) != 1 ||
	    RAND_bytes(e.iv, sizeof(e.iv)) != 1) {
		r = uc_fail_ssl(UC_ERR_CRYPTO, "RAND_bytes");
		goto out;
	}
	if ((r = pad_encrypt(cfg, len, key, e.iv, &ct, &ctlen,
	    &e.pad_count)) != 0 ||
	    (r = wrap_key(pk, key, &wk, &wklen)) != 0)
		goto out;
	e.wrapped_key = wk;
	e.wrapped_len = wklen;
	e.pt_hash_alg = hash_code(md);
	e.pt_hash = h;
	e.pt_hash_len = hlen;
	memset(&p, 0, sizeof(p));
	p.kind = SGN_KIND_ENC;
	p.md = md;
	p.filename = enc_filename;
	p.timestamp = timestamp;
	p.enc = &e;
	r = sgn_build(&p, ct, ctlen, s, out, outlen);
out:
	OPENSSL_cleanse(key, sizeof(key));
	free(ct);
	free(wk);
	return r;
}

/* RSA-decrypt tag 25 into key (16 bytes). */
static int
unwrap_key(EVP_PKEY *pk, const struct sgn_bytes *wk, uint8_t *key)
{
	EVP_PKEY_CTX	*ctx = NULL;
	uint8_t		 buf[1024];
	size_t		 len = sizeof(buf);
	int		 r = UC_ERR_CRYPTO;

	if (!EVP_PKEY_is_a(pk, "RSA")) {
		r = uc_fail(UC_ERR_UNSUPPORTED, "device key is not RSA: no "
		    "other key-wrapping format is known (signed-files.md 4.1)");
		goto out;
	}
	if ((size_t)EVP_PKEY_get_size(pk) != wk->len ||
	    wk->len > sizeof(buf)) {
		r = uc_fail(UC_ERR_CRYPTO, "wrapped key (tag 25) is %zu bytes "
		    "but the device key is %d bits: wrong device key?",
		    wk->len, EVP_PKEY_get_bits(pk));
		goto out;
	}
	if ((ctx = EVP_PKEY_CTX_new(pk, NULL)) == NULL ||
	    EVP_PKEY_decrypt_init(ctx) != 1 ||
	    EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) != 1 ||
	    EVP_PKEY_decrypt(ctx, buf, &len, wk->p, wk->len) != 1) {
		r = uc_fail_ssl(UC_ERR_CRYPTO, "cannot unwrap the AES key "
		    "(tag 25) with the device key: wrong device key?");
		goto out;
	}
	if (len != AES_KEY_LEN) {
		r = uc_fail(UC_ERR_CRYPTO, "unwrapped key is %zu bytes, not an "
		    "AES-128 key: wrong device key? (signed-files.md 4.1)",
		    len);
		goto out;
	}
	memcpy(key, buf, AES_KEY_LEN);
	r = 0;
out:
	OPENSSL_cleanse(buf, sizeof(buf));
	EVP_PKEY_CTX_free(ctx);
	return r;
}

/* The encryption elements decrypt needs, with their sizes (4.1). */
static int
dec_check(const struct sgn_file *f, enum signer_md *md)
{
	const struct sgn_enc	*e = &f->h.enc;
	int			 r;

	if (f->kind != SGN_KIND_ENC || !f->h.has_enc)
		return uc_fail(UC_ERR_FORMAT, "not an encrypted config: no "
		    "encryption info (tag 16, signed-files.md 4.1)");
	if (e->iv.p == NULL || e->iv.len != AES_BLOCK)
		return uc_fail(UC_ERR_FORMAT, "IV (tag 19) missing or not 16 "
		    "bytes (signed-files.md 4.1)");
	if (e->wrapped_key.p == NULL)
		return uc_fail(UC_ERR_FORMAT, "wrapped key (tag 25) missing "
		    "(signed-files.md 4.1)");
	if (e->key_alg != -1 && e->key_alg != 1)
		return uc_fail(UC_ERR_UNSUPPORTED, "key algorithm (tag 24) %d: "
		    "only 1 (AES-128-CBC) is known (signed-files.md 4.1)",
		    e->key_alg);
	if (e->pad_count < 1 || e->pad_count > AES_BLOCK)
		return uc_fail(UC_ERR_FORMAT, "pad count (tag 20) %d is not "
		    "1..16 (signed-files.md 4.1 step 4)", e->pad_count);
	if (f->body_len == 0 || f->body_len % AES_BLOCK != 0)
		return uc_fail(UC_ERR_FORMAT, "ciphertext of %zu bytes is not "
		    "a non-zero multiple of 16 (signed-files.md 4.1 step 5)",
		    f->body_len);
	if (e->pt_hash_alg != SGN_HASH_SHA1 &&
	    e->pt_hash_alg != SGN_HASH_SHA512)
		return uc_fail(UC_ERR_UNSUPPORTED, "plaintext hash algorithm "
		    "(tag 26) %d is not 1 (SHA-1) or 3 (SHA-512) "
		    "(signed-files.md 1.5)", e->pt_hash_alg);
	if ((r = sgn_hash_md(e->pt_hash_alg, md)) != 0)
		return r;
	if (e->pt_hash.p == NULL || e->pt_hash.len !=
	    (size_t)EVP_MD_get_size(signer_evp_md(*md)))
		return uc_fail(UC_ERR_FORMAT, "plaintext hash (tag 27) missing "
		    "or not %d bytes (signed-files.md 4.1)",
		    EVP_MD_get_size(signer_evp_md(*md)));
	return 0;
}

/*
 * Decrypt a parsed .enc.sgn f with the device private key pk
 * (signed-files.md 4.1, "Decrypting"): unwrap tag 25, AES-128-CBC
 * decrypt the body, drop the tag-20 pad bytes, and check the tag-27
 * hash.  The signature is not checked here (sgn_verify).  Returns 0 with
 * *pt (caller frees; it holds the config, secrets included: wipe it)
 * holding *ptlen bytes, or UC_ERR_* (UC_ERR_SIGNATURE on a hash
 * mismatch).
 */
int
enccfg_decrypt(const struct sgn_file *f, EVP_PKEY *pk, uint8_t **pt,
    size_t *ptlen)
{
	enum signer_md	 md = SIGNER_SHA1;
	uint8_t		 key[AES_KEY_LEN], h[EVP_MAX_MD_SIZE], *buf = NULL;
	size_t		 hlen, n = 0;
	int		 r;

	*pt = NULL;
	if ((r = dec_check(f, &md)) != 0)
		return r;
	if ((r = unwrap_key(pk, &f->h.enc.wrapped_key, key)) != 0)
		goto out;
	if ((buf = malloc(f->body_len)) == NULL) {
		r = uc_fail(UC_ERR_ALLOC, "plaintext buffer");
		goto out;
	}
	if ((r = aes_cbc(0, key, f->h.enc.iv.p, f->body, f->body_len,
	    buf)) != 0)
		goto out;
	n = f->body_len - (size_t)f->h.enc.pad_count;
	if ((r = digest(md, buf, n, h, &hlen)) != 0)
		goto out;
	if (hlen != f->h.enc.pt_hash.len ||
	    CRYPTO_memcmp(h, f->h.enc.pt_hash.p, hlen) != 0) {
		r = uc_fail(UC_ERR_SIGNATURE, "decrypted config does not match "
		    "the plaintext hash (tag 27): wrong key or tampered "
		    "ciphertext (signed-files.md 4.1)");
		goto out;
	}
	OPENSSL_cleanse(buf + n, f->body_len - n);
	*pt = buf;
	*ptlen = n;
	buf = NULL;
out:
	OPENSSL_cleanse(key, sizeof(key));
	if (buf != NULL)
		OPENSSL_clear_free(buf, f->body_len);
	return r;
}

/* SAX hook: a DOCTYPE stops the parse before any entity is declared. */
static void
stub_doctype(void *ctx, const xmlChar *name, const xmlChar *eid,
    const xmlChar *sid)
{
	xmlParserCtxtPtr	 ctxt = ctx;

	(void)name;
	(void)eid;
	(void)sid;
	if (ctxt->_private != NULL)
		*(int *)ctxt->_private = 1;
	xmlStopParser(ctxt);
}

/*
 * SAX hook when blanks are kept: an element written <x></x> gets an empty
 * text child so it is serialised the same way, not as <x/>.  At this
 * call the input is just past the element's closing '>'; only "/>" ends
 * an empty-element tag.
 */
static void
keep_end_tag(void *ctx, const xmlChar *localname, const xmlChar *prefix,
    const xmlChar *uri)
{
	xmlParserCtxtPtr	 ctxt = ctx;
	xmlParserInputPtr	 in = ctxt->input;
	xmlNodePtr		 n = ctxt->node, t;

	if (n != NULL && n->children == NULL && in != NULL &&
	    in->cur - in->base >= 2 && !(in->cur[-2] == '/' &&
	    in->cur[-1] == '>') && (t = xmlNewDocText(ctxt->myDoc,
	    (const xmlChar *)"")) != NULL && xmlAddChild(n, t) == NULL)
		xmlFreeNode(t);
	xmlSAX2EndElementNs(ctx, localname, prefix, uri);
}

/*
 * Parse cfg as XML: no network, no DTD loading, no entity substitution,
 * CDATA merged.  A DOCTYPE is refused.  An undeclared namespace prefix
 * (CUCM's xsi:type) is only a namespace warning in libxml2 and is
 * tolerated.  Blank text is dropped as the reference's parser does (lxml
 * remove_blank_text) unless keep_blanks is set (credential stripping
 * keeps the original layout).  Caller frees *doc with xmlFreeDoc.
 */
static int
cfg_parse(const uint8_t *cfg, size_t len, int keep_blanks, xmlDocPtr *doc)
{
	xmlParserCtxtPtr	 ctxt;
	const xmlError		*xe;
	char			 msg[256], vis[256];
	int			 doctype = 0, opts;

	*doc = NULL;
	if (len == 0 || len > ENCCFG_MAX)
		return uc_fail(UC_ERR_FORMAT, "config of %zu bytes: want 1 to "
		    "%d bytes", len, ENCCFG_MAX);
	opts = XML_PARSE_NONET | XML_PARSE_NOCDATA | XML_PARSE_NOERROR |
	    XML_PARSE_NOWARNING | (keep_blanks ? 0 : XML_PARSE_NOBLANKS);
	xmlInitParser();
	if ((ctxt = xmlNewParserCtxt()) == NULL)
		return uc_fail(UC_ERR_ALLOC, "xmlNewParserCtxt");
	ctxt->sax->internalSubset = stub_doctype;
	if (keep_blanks)
		ctxt->sax->endElementNs = keep_end_tag;
	ctxt->_private = &doctype;
	*doc = xmlCtxtReadMemory(ctxt, (const char *)cfg, (int)len, NULL, NULL,
	    opts);
	if (doctype || *doc == NULL) {
		xe = xmlCtxtGetLastError(ctxt);
		if (doctype)
			uc_seterr("config has a DOCTYPE: refused (no DTDs or "
			    "entities in a phone config, signed-files.md 4.2)");
		else {
			snprintf(msg, sizeof(msg), "%s", xe != NULL &&
			    xe->message != NULL ? xe->message : "parse error");
			msg[strcspn(msg, "\n")] = '\0';
			uc_seterr("config is not well-formed XML: line %d: %s",
			    xe != NULL ? xe->line : 0, str_vis(vis, sizeof(vis),
			    msg));
		}
		xmlFreeDoc(*doc);
		*doc = NULL;
	}
	xmlFreeParserCtxt(ctxt);
	return *doc == NULL ? UC_ERR_FORMAT : 0;
}

/* Is n a top-level element the stub keeps (4.2)?  Unqualified only. */
static int
stub_keeps(xmlNodePtr n)
{
	static const char *const keep[] = {
		"ipAddressMode", "loadInformation", "capfAuthMode", "capfList",
	};
	size_t	 i;

	if (n->type != XML_ELEMENT_NODE || n->ns != NULL)
		return 0;
	for (i = 0; i < sizeof(keep) / sizeof(keep[0]); i++)
		if (xmlStrcmp(n->name, (const xmlChar *)keep[i]) == 0)
			return 1;
	return 0;
}

/* The reduced <device> tree (4.2) for the root of the original. */
static int
stub_tree(xmlNodePtr oroot, const char *md5hex, xmlDocPtr *out)
{
	xmlDocPtr	 doc;
	xmlNodePtr	 root, n, c;
	int		 r = UC_ERR_ALLOC;

	*out = NULL;
	if ((doc = xmlNewDoc((const xmlChar *)"1.0")) == NULL ||
	    (root = xmlNewDocNode(doc, NULL, (const xmlChar *)"device",
	    NULL)) == NULL)
		goto out;
	xmlDocSetRootElement(doc, root);
	if (xmlNewTextChild(root, NULL, (const xmlChar *)"fullConfig",
	    (const xmlChar *)"false") == NULL)
		goto out;
	for (n = oroot->children; n != NULL; n = n->next) {
		if (!stub_keeps(n))
			continue;
		if ((c = xmlDocCopyNode(n, doc, 1)) == NULL)
			goto out;
		if (xmlAddChild(root, c) == NULL) {
			xmlFreeNode(c);
			goto out;
		}
	}
	if (xmlNewTextChild(root, NULL, (const xmlChar *)"certHash",
	    (const xmlChar *)md5hex) == NULL ||
	    xmlNewTextChild(root, NULL, (const xmlChar *)"encrConfig",
	    (const xmlChar *)"true") == NULL)
		goto out;
	*out = doc;
	doc = NULL;
	r = 0;
out:
	xmlFreeDoc(doc);
	if (r != 0)
		uc_seterr("building the config stub: out of memory");
	return r;
}

/*
 * Serialise like the reference (lxml tostring, pretty_print, default
 * ASCII encoding): declaration line, two-space indentation (only where
 * the tree has no text between elements), characters outside ASCII as
 * character references, each top-level node (the root element, comments
 * and processing instructions around it) followed by LF.  The work
 * buffer is wiped before it is freed.
 */
static int
cfg_serialise(xmlDocPtr doc, uint8_t **out, size_t *outlen)
{
	static const char	 decl[] =
	    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
	xmlBufferPtr		 xb;
	xmlSaveCtxtPtr		 sc = NULL;
	xmlNodePtr		 n;
	uint8_t			*buf;
	size_t			 len, dl = sizeof(decl) - 1;
	int			 r = UC_ERR_ALLOC;

	*out = NULL;
	if ((xb = xmlBufferCreate()) == NULL ||
	    (sc = xmlSaveToBuffer(xb, "ASCII", XML_SAVE_FORMAT |
	    XML_SAVE_NO_DECL)) == NULL)
		goto out;
	for (n = doc->children; n != NULL; n = n->next) {
		if (n->type == XML_DTD_NODE)
			continue;
		if (xmlSaveTree(sc, n) < 0 || xmlSaveFlush(sc) < 0 ||
		    xmlBufferAdd(xb, (const xmlChar *)"\n", 1) != 0)
			goto out;
	}
	if (xmlSaveClose(sc) < 0) {
		sc = NULL;
		goto out;
	}
	sc = NULL;
	len = (size_t)xmlBufferLength(xb);
	if ((buf = malloc(dl + len)) == NULL)
		goto out;
	memcpy(buf, decl, dl);
	memcpy(buf + dl, xmlBufferContent(xb), len);
	*out = buf;
	*outlen = dl + len;
	r = 0;
out:
	if (sc != NULL)
		xmlSaveClose(sc);
	if (xb != NULL && xmlBufferLength(xb) > 0)
		OPENSSL_cleanse((void *)xmlBufferContent(xb),
		    (size_t)xmlBufferLength(xb));
	xmlBufferFree(xb);
	if (r != 0)
		uc_seterr("serialising the config failed");
	return r;
}

/*
 * The plaintext stub SEP<MAC>.cnf.xml.sgn carries (signed-files.md 4.2)
 * for config cfg (len bytes, at most ENCCFG_MAX) encrypted to device
 * certificate dev: <device> with fullConfig false, the original's
 * top-level ipAddressMode, loadInformation, capfAuthMode and capfList in
 * their order, certHash (lowercase hex MD5 of dev's DER) and encrConfig
 * true, serialised byte for byte as the reference does.  The caller
 * signs it (sgn_build, kind SGN).  Refuses a DOCTYPE, malformed XML and
 * a root other than <device>.  Returns 0 with *xml (caller frees)
 * holding *xmllen bytes, or UC_ERR_*.
 */
int
enccfg_stub(const uint8_t *cfg, size_t len, X509 *dev, uint8_t **xml,
    size_t *xmllen)
{
	xmlDocPtr	 doc = NULL, stub = NULL;
	xmlNodePtr	 root;
	uint8_t		 md5[EVP_MAX_MD_SIZE];
	char		 hex[2 * EVP_MAX_MD_SIZE + 1], vis[128];
	size_t		 md5len;
	int		 r;

	*xml = NULL;
	if (len == 0 || len > ENCCFG_MAX)
		return uc_fail(UC_ERR_FORMAT, "config of %zu bytes: want 1 to "
		    "%d bytes", len, ENCCFG_MAX);
	if (dev == NULL)
		return uc_fail(UC_ERR_ARG, "no device certificate");
	if ((r = cert_fingerprint(dev, EVP_md5(), md5, &md5len)) != 0)
		return r;
	hex_encode(md5, md5len, hex);
	if ((r = cfg_parse(cfg, len, 0, &doc)) != 0)
		goto out;
	root = xmlDocGetRootElement(doc);
	if (root == NULL || root->ns != NULL ||
	    xmlStrcmp(root->name, (const xmlChar *)"device") != 0) {
		r = uc_fail(UC_ERR_FORMAT, "config root element is <%s>, not "
		    "<device> (signed-files.md 4.2)", root == NULL ? "" :
		    str_vis(vis, sizeof(vis), (const char *)root->name));
		goto out;
	}
	if ((r = stub_tree(root, hex, &stub)) != 0 ||
	    (r = cfg_serialise(stub, xml, xmllen)) != 0)
		goto out;
out:
	xmlFreeDoc(stub);
	xmlFreeDoc(doc);
	return r;
}

/* Is n an element whose text is a credential (any namespace)? */
static int
cred_element(xmlNodePtr n)
{
	static const char *const cred[] = { "authPassword", "sshPassword" };
	size_t	 i;

	if (n->type != XML_ELEMENT_NODE)
		return 0;
	for (i = 0; i < sizeof(cred) / sizeof(cred[0]); i++)
		if (xmlStrcmp(n->name, (const xmlChar *)cred[i]) == 0)
			return 1;
	return 0;
}

/*
 * Zero the text under n (its children and attribute values) before it is
 * freed.  Strings the parser interned in the document dictionary are
 * shared and left alone (libxml2 interns only very short text).
 */
static void
node_wipe(xmlDocPtr doc, xmlNodePtr n)
{
	xmlAttrPtr	 a;
	xmlNodePtr	 c;

	if (n->type != XML_ELEMENT_NODE && n->content != NULL &&
	    (doc->dict == NULL || !xmlDictOwns(doc->dict, n->content)))
		OPENSSL_cleanse(n->content, (size_t)xmlStrlen(n->content));
	if (n->type == XML_ELEMENT_NODE)
		for (a = n->properties; a != NULL; a = a->next)
			for (c = a->children; c != NULL; c = c->next)
				node_wipe(doc, c);
	if (n->type == XML_ELEMENT_NODE || n->type == XML_ATTRIBUTE_NODE)
		for (c = n->children; c != NULL; c = c->next)
			node_wipe(doc, c);
}

/* Unlink, wipe and free n; returns how many credential elements went. */
static size_t
cred_remove(xmlDocPtr doc, xmlNodePtr n)
{
	xmlNodePtr	 prev = n->prev;

	if (prev != NULL && prev->type == XML_TEXT_NODE &&
	    xmlIsBlankNode(prev)) {
		xmlUnlinkNode(prev);
		xmlFreeNode(prev);
	}
	node_wipe(doc, n);
	xmlUnlinkNode(n);
	xmlFreeNode(n);
	return 1;
}

/* Remove every credential element below parent (depth bounded by libxml2). */
static size_t
cred_strip_tree(xmlDocPtr doc, xmlNodePtr parent)
{
	xmlNodePtr	 n, next;
	size_t		 k = 0;

	for (n = parent->children; n != NULL; n = next) {
		next = n->next;
		if (cred_element(n))
			k += cred_remove(doc, n);
		else if (n->type == XML_ELEMENT_NODE)
			k += cred_strip_tree(doc, n);
	}
	return k;
}

/*
 * Remove the credentials from the per-device config cfg (len bytes, 1 to
 * ENCCFG_MAX): every element named authPassword (SIP digest password of
 * a <line>) or sshPassword, at any depth, with the whitespace text right
 * before it so no blank line is left; authName and everything else are
 * kept.  Parsed as enccfg_stub() does (DOCTYPE refused, no network, no
 * entities) but keeping blank text, and serialised with the same
 * settings, so a config already in the reference layout comes back byte
 * for byte apart from the removed lines.  The removed text is wiped in
 * the tree before it is freed; cfg itself is the caller's to wipe.
 * Returns 0 with *out (caller frees) holding *outlen bytes, or UC_ERR_*
 * (UC_ERR_FORMAT for malformed XML or a DOCTYPE: never serve the config
 * unstripped then).
 */
int
enccfg_strip_credentials(const uint8_t *cfg, size_t len, uint8_t **out,
    size_t *outlen)
{
	xmlDocPtr	 doc = NULL;
	xmlNodePtr	 root;
	int		 r;

	*out = NULL;
	if ((r = cfg_parse(cfg, len, 1, &doc)) != 0)
		goto out;
	if ((root = xmlDocGetRootElement(doc)) == NULL) {
		r = uc_fail(UC_ERR_FORMAT, "config has no root element");
		goto out;
	}
	if (cred_element(root)) {
		r = uc_fail(UC_ERR_FORMAT, "config root element is a "
		    "credential");
		goto out;
	}
	(void)cred_strip_tree(doc, root);
	r = cfg_serialise(doc, out, outlen);
out:
	xmlFreeDoc(doc);
	return r;
}
