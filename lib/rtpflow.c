/* placeholder: being written (issue 6) */
#include "rtpflow.h"
