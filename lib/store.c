/* placeholder: being written */
extern int ucsec_placeholder_store;
