/* placeholder: being written (issue 6) */
#include "ccm.h"

void sccp_input(struct ccm *c, const uint8_t *p, size_t n, const struct tp_info *i) { (void)c; (void)p; (void)n; (void)i; }
void sccp_conn_closed(struct ccm *c, uint64_t id) { (void)c; (void)id; }
int sccp_line_registered(struct ccm *c, const char *e) { (void)c; (void)e; return 0; }
size_t sccp_count(struct ccm *c) { (void)c; return 0; }
size_t sccp_call_count(struct ccm *c) { (void)c; return 0; }
void sccp_reload(struct ccm *c) { (void)c; }
int sccp_init(struct ccm *c) { (void)c; return 0; }
void sccp_free(struct ccm *c) { (void)c; }
int sccp_offer_from_sip(struct ccm *c, const char *e, struct sipleg *l, const struct media_desc *m, int s, const char *n, const char *nn, const struct sipleg_ops **o, void **a) { (void)c; (void)e; (void)l; (void)m; (void)s; (void)n; (void)nn; (void)o; (void)a; return 404; }
