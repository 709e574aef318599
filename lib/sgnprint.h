/*
 * Printing parsed signed-header files (ctlclient show, sgntool show).
 */
#ifndef UCSEC_SGNPRINT_H
#define UCSEC_SGNPRINT_H

#include <stdio.h>

struct sgn_file;

void	 sgn_print(FILE *, const struct sgn_file *);
void	 sgn_print_json(FILE *, const struct sgn_file *, int);

#endif /* UCSEC_SGNPRINT_H */
