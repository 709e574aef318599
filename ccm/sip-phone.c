/* placeholder: being written (issue 6) */
#include <stdio.h>
int main(void);
int
main(void)
{
	fputs("sip-phone: not built yet\n", stderr);
	return 1;
}
