/* placeholder: being written */
#include "unit.h"

static const struct unit_test tests[] = {
	{ NULL, NULL }
};

void
unit_register_csv(void)
{
	unit_suite("csv", tests);
}
