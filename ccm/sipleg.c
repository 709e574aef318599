/* placeholder: being written (issue 6) */
#include "ccm.h"

int sipleg_request(struct sip_req *r) { (void)r; return 0; }
int sipleg_incoming(struct sip_req *r, const char *e) { (void)r; (void)e; return 0; }
int sipleg_ringing(struct sipleg *l) { (void)l; return -1; }
int sipleg_answer(struct sipleg *l, const struct media_desc *m) { (void)l; (void)m; return -1; }
int sipleg_reject(struct sipleg *l, int c) { (void)l; (void)c; return -1; }
struct sipleg *sipleg_invite(struct ccm *c, const char *e, const char *n, const char *nn, const struct sipleg_ops *o, void *a, int *code) { (void)c; (void)e; (void)n; (void)nn; (void)o; (void)a; *code = 404; return NULL; }
int sipleg_ack(struct sipleg *l, const struct media_desc *m) { (void)l; (void)m; return -1; }
int sipleg_update(struct sipleg *l, const struct media_desc *m, int h) { (void)l; (void)m; (void)h; return -1; }
void sipleg_hangup(struct sipleg *l) { (void)l; }
int sipleg_security(const struct sipleg *l) { (void)l; return 0; }
void sipleg_set_status(struct sipleg *l, int s) { (void)l; (void)s; }
const char *sipleg_peer_name(const struct sipleg *l) { (void)l; return ""; }
void sipleg_conn_closed(struct ccm *c, uint64_t id) { (void)c; (void)id; }
size_t sipleg_count(struct ccm *c) { (void)c; return 0; }
int sipleg_init(struct ccm *c) { (void)c; return 0; }
void sipleg_free(struct ccm *c) { (void)c; }
