/* placeholder: being written (issue 6) */
#include "skinny.h"
