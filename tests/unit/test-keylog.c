/* placeholder: being written (issue 6) */
#include "unit.h"

static const struct unit_test tests[] = {
	{ NULL, NULL }
};

void
unit_register_keylog(void)
{
	unit_suite("keylog", tests);
}
