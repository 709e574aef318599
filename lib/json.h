/*
 * A strict JSON reader (RFC 8259) over the cursor, for untrusted JSON
 * such as the replies of a CFSSL CA.  json_parse reads one whole
 * document into a tree; the caller walks it with the accessors or looks
 * values up by path ("result.certificate", "errors[0].message").
 *
 * Accepted: exactly the grammar of RFC 8259 section 2 to 7: one value of
 * any type, white space (space, tab, CR, LF) around tokens, every string
 * escape (\" \\ \/ \b \f \n \r \t \uXXXX, a surrogate pair joined and
 * stored as one UTF-8 sequence).
 *
 * Refused, each with "JSON at offset N: why" in uc_errdetail():
 *  - UC_ERR_TRUNCATED: the input ends inside a value, or holds none.
 *  - UC_ERR_FORMAT: anything outside the grammar (a leading zero, "+1",
 *    "1.", single quotes, a trailing comma, a comment, a byte order
 *    mark, bare words); data after the value; raw bytes below 0x20 in a
 *    string; invalid UTF-8 in a string (overlong forms, encoded
 *    surrogates, past U+10FFFF, cut sequences); a \u escape for a lone
 *    surrogate; \u0000 (strings are C strings, so a NUL inside is
 *    refused rather than cut); an object with two members of the same
 *    name (RFC 8259 section 4 leaves their meaning open: the first and
 *    the last win in different readers, so a reply could say two things).
 *  - UC_ERR_UNSUPPORTED: valid but past a limit below.
 *
 * Numbers are kept as their text; json_int converts integers.
 *
 * Ownership: the tree and every string it hands back belong to the
 * struct json and stay valid until json_free; the input buffer is not
 * referenced after json_parse returns.
 */
#ifndef UCSEC_JSON_H
#define UCSEC_JSON_H

#include <stddef.h>
#include <stdint.h>

#define JSON_DOC_MAX	(4 * 1024 * 1024) /* document bytes (CFSSL: KiB) */
#define JSON_DEPTH_MAX	32	/* nested arrays and objects */
#define JSON_VALUES_MAX	65536	/* values in one document */
#define JSON_STR_MAX	(1024 * 1024) /* decoded bytes of one string */
#define JSON_NUM_MAX	64	/* characters of one number */

enum json_type {
	JSON_NONE,		/* no such value (a lookup missed) */
	JSON_NULL,
	JSON_BOOL,
	JSON_NUMBER,
	JSON_STRING,
	JSON_ARRAY,
	JSON_OBJECT,
	JSON_TYPE__MAX
};

struct json;			/* a parsed document */
struct json_value;		/* one value in it */

/*
 * Parse len bytes at buf (untrusted; NULL when len is 0) as one JSON
 * document.  Returns 0 and the document in *out (free with json_free),
 * or a negative UC_ERR_* (see above) with *out NULL.
 */
int	 json_parse(const uint8_t *, size_t, struct json **);
void	 json_free(struct json *);

/* The top-level value; never NULL for a parsed document. */
const struct json_value *json_root(const struct json *);

/*
 * Navigation.  Every function takes NULL (and then returns NULL, 0 or
 * JSON_NONE), so lookups chain without checks in between.
 */
enum json_type	 json_type(const struct json_value *);
const char	*json_type_name(enum json_type);	/* "a string" */
size_t		 json_count(const struct json_value *);
const struct json_value *json_child(const struct json_value *);
const struct json_value *json_next(const struct json_value *);
const struct json_value *json_at(const struct json_value *, size_t);
const struct json_value *json_member(const struct json_value *,
		    const char *);
const struct json_value *json_get(const struct json_value *, const char *);
size_t		 json_offset(const struct json_value *);

/* Values: NULL (or -1) when v is absent or of another type. */
const char	*json_name(const struct json_value *, size_t *);
const char	*json_str(const struct json_value *, size_t *);
const char	*json_num(const struct json_value *);
int		 json_bool(const struct json_value *);
int		 json_int(const struct json_value *, long long, long long,
		    long long *);

/*
 * json_get plus a type check, for the common lookups.  Return 0,
 * UC_ERR_NOTFOUND when path names nothing, or UC_ERR_FORMAT when it
 * names a value of another type (or, for json_get_int, not an integer
 * in [min, max]); the detail names the path.
 */
int	 json_get_str(const struct json_value *, const char *, const char **,
	    size_t *);
int	 json_get_bool(const struct json_value *, const char *, int *);
int	 json_get_int(const struct json_value *, const char *, long long,
	    long long, long long *);

#endif /* UCSEC_JSON_H */
