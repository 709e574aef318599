/* placeholder: being written (issue 6) */
#include <string.h>
#include "ccm.h"

int keymgr_new_key(struct media_desc *m, int s) { (void)m; (void)s; return -1; }
void media_desc_wipe(struct media_desc *m) { memset(m, 0, sizeof(*m)); }
void keymgr_log(struct ccm *c, uint32_t id, const char *f, const char *t, const struct sockaddr_storage *s, const struct sockaddr_storage *d, uint32_t ss, const struct media_desc *m) { (void)c; (void)id; (void)f; (void)t; (void)s; (void)d; (void)ss; (void)m; }
int keymgr_init(struct ccm *c) { (void)c; return 0; }
void keymgr_free(struct ccm *c) { (void)c; }
