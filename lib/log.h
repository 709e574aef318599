/*
 * Logging to stderr or syslog.  Never pass secrets (PINs, keys) to these.
 * Attacker-controlled strings must go through log_vis first.
 */
#ifndef UCSEC_LOG_H
#define UCSEC_LOG_H

#include <stddef.h>

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

#define log_warnx(...)	log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_info(...)	log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...)	log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)
#define log_errx(...)	log_msg(LOG_LEVEL_ERR, __VA_ARGS__)

#endif /* UCSEC_LOG_H */
