/* placeholder */
extern int ucsec_placeholder_capfsm;
