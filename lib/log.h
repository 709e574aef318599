/*
 * Logging to stderr or syslog.  Never pass secrets (PINs, keys) to these.
 * Attacker-controlled strings must go through log_vis first.
 */
#ifndef UCSEC_LOG_H
#define UCSEC_LOG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum log_level {
	LOG_LEVEL_ERR,
	LOG_LEVEL_WARN,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG,
	LOG_LEVEL__MAX
};

void	 log_init(const char *, int, enum log_level);
void	 log_set_level(enum log_level);
const char *log_progname(void);
void	 log_msg(enum log_level, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
char	*log_vis(char *, size_t, const char *, size_t);
size_t	 utf8_printable(const unsigned char *, size_t);
char	*str_vis(char *, size_t, const char *);
/* A JSON string of s: escapes, valid UTF-8 kept, invalid bytes U+FFFD. */
void	 json_print_str(FILE *, const char *);
/* Unix time as ISO 8601 UTC ("2026-11-26T08:00:00Z"); "-" for 0. */
const char *time_iso(int64_t, char *, size_t);

#define log_warnx(...)	log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_info(...)	log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...)	log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)
#define log_errx(...)	log_msg(LOG_LEVEL_ERR, __VA_ARGS__)

#endif /* UCSEC_LOG_H */
