/* placeholder: being written */
#include "unit.h"

static const struct unit_test tests[] = {
	{ NULL, NULL }
};

void
unit_register_capfmsg(void)
{
	unit_suite("capfmsg", tests);
}
