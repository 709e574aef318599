/* placeholder: being written (issue 6) */
#include "unit.h"

static const struct unit_test tests[] = {
	{ NULL, NULL }
};

void
unit_register_skinny(void)
{
	unit_suite("skinny", tests);
}
