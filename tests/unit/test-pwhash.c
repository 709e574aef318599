/* placeholder: being written */
#include "unit.h"

static const struct unit_test tests[] = {
	{ NULL, NULL }
};

void
unit_register_pwhash(void)
{
	unit_suite("pwhash", tests);
}
