/*
 * One error table for the shared core.  lib/ and pkcs11/ functions return
 * 0 on success or a negative UC_ERR_* code, never exit, and leave a one-line
 * detail ("what, where, why") readable with uc_errdetail() until the next
 * failure in the same thread.
 */
#ifndef UCSEC_UERR_H
#define UCSEC_UERR_H

enum uc_err {
	UC_OK = 0,
	UC_ERR_INTERNAL = -1,	/* bug or impossible state */
	UC_ERR_ALLOC = -2,	/* out of memory */
	UC_ERR_TRUNCATED = -3,	/* input ends early */
	UC_ERR_FORMAT = -4,	/* input breaks the format */
	UC_ERR_UNSUPPORTED = -5,/* valid but not handled (algorithm, tag) */
	UC_ERR_SIGNATURE = -6,	/* signature does not verify */
	UC_ERR_IO = -7,		/* file or network I/O */
	UC_ERR_CRYPTO = -8,	/* OpenSSL failure */
	UC_ERR_NOTFOUND = -9,	/* object, record or token not found */
	UC_ERR_TOKEN = -10,	/* PKCS#11 module or token failure */
	UC_ERR_PIN = -11,	/* PIN refused by the token */
	UC_ERR_POLICY = -12,	/* refused by a trust rule */
	UC_ERR_ARG = -13,	/* bad argument from the user */
	UC_ERR__MAX = 14
};

const char	*uc_strerror(int);
void		 uc_seterr(const char *, ...)
		    __attribute__((format(printf, 1, 2)));
int		 uc_fail(int, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
int		 uc_fail_ssl(int, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
const char	*uc_errdetail(void);
void		 uc_prefix(const char *);

#endif /* UCSEC_UERR_H */
