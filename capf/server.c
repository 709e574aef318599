/* placeholder */
extern int ucsec_placeholder_server;
