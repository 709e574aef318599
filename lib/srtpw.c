/* placeholder: being written (issue 6) */
#include "srtpw.h"
