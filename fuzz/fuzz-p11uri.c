/*
 * libFuzzer harness for the token layer's text parsers: the pkcs11: URI
 * (p11_uri_parse, p11_uri_redact) and the PIN file body (pin_parse).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "extern.h"
#include "log.h"
#include "p11.h"

int	 LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* 1 if a query component of uri is pin-value (p11_uri_redact's job). */
static int
has_pin_value(const char *uri)
{
	const char	*p = strchr(uri, '?'), *e;

	for (p = p ? p + 1 : ""; *p != '\0'; p = *e ? e + 1 : e) {
		if ((e = strchr(p, '&')) == NULL)
			e = p + strlen(p);
		if (strncasecmp(p, "pin-value", 9) == 0 &&
		    (p[9] == '=' || p + 9 == e))
			return 1;
	}
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct p11_uri	 u;
	char		*s, *red;
	char		 pin[P11_PIN_MAX + 1];

	log_init("fuzz-p11uri", 0, LOG_LEVEL_ERR);
	if ((s = malloc(len + 1)) == NULL)
		return 0;
	memcpy(s, data, len);
	s[len] = '\0';
	(void)p11_is_uri(s);
	if (p11_uri_parse(s, &u) == 0 && u.pin_value != NULL &&
	    (red = p11_uri_redact(s)) != NULL) {
		if (has_pin_value(red))
			abort();
		free(red);
	}
	p11_uri_free(&u);
	free(s);
	if (pin_parse(data, len, pin, sizeof(pin)) == 0 &&
	    strlen(pin) > P11_PIN_MAX)
		abort();
	return 0;
}
