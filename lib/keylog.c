/* placeholder: being written (issue 6) */
#include "keylog.h"
