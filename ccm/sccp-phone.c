/* placeholder: being written (issue 6) */
#include <stdio.h>
int main(void);
int
main(void)
{
	fputs("sccp-phone: not built yet\n", stderr);
	return 1;
}
