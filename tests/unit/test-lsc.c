/* placeholder: being written */
#include "unit.h"

static const struct unit_test tests[] = {
	{ NULL, NULL }
};

void
unit_register_lsc(void)
{
	unit_suite("lsc", tests);
}
