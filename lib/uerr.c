/*
 * Error codes and the per-thread detail line.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>

#include "uerr.h"

static const char *const names[UC_ERR__MAX] = {
	"success",
	"internal error",
	"out of memory",
	"truncated input",
	"malformed input",
	"unsupported",
	"invalid signature",
	"I/O error",
	"cryptographic library error",
	"not found",
	"token error",
	"PIN refused",
	"refused by policy",
	"bad argument",
};

static _Thread_local char detail[512];

/* Static text for an error code. */
const char *
uc_strerror(int e)
{
	if (e > 0 || -e >= UC_ERR__MAX)
		return "unknown error";
	return names[-e];
}

void
uc_seterr(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
}

/* Set the detail line and return code, for "return uc_fail(...)". */
int
uc_fail(int code, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	return code;
}

/*
 * As uc_fail, appending the oldest queued OpenSSL error reason and
 * clearing the queue.
 */
int
uc_fail_ssl(int code, const char *fmt, ...)
{
	va_list		 ap;
	unsigned long	 e;
	size_t		 n;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	if ((e = ERR_peek_error()) != 0) {
		n = strlen(detail);
		snprintf(detail + n, sizeof(detail) - n, ": %s",
		    ERR_reason_error_string(e) ? ERR_reason_error_string(e) :
		    "OpenSSL error");
	}
	ERR_clear_error();
	return code;
}

/* The detail of the last failure, or the empty string. */
const char *
uc_errdetail(void)
{
	return detail;
}

/* Prepend "prefix: " to the detail line (e.g. the file name). */
void
uc_prefix(const char *prefix)
{
	char	 tmp[sizeof(detail)];
	size_t	 n;

	memcpy(tmp, detail, sizeof(tmp));
	n = strlen(prefix);
	if (n > sizeof(detail) - 3)
		n = sizeof(detail) - 3;
	memcpy(detail, prefix, n);
	memcpy(detail + n, ": ", 2);
	memcpy(detail + n + 2, tmp, sizeof(detail) - n - 2);
	detail[sizeof(detail) - 1] = '\0';
}
