/* placeholder: being written (issue 6) */
#include "netpkt.h"
