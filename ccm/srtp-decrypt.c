/* placeholder: being written (issue 6) */
#include <stdio.h>
int main(void);
int
main(void)
{
	fputs("srtp-decrypt: not built yet\n", stderr);
	return 1;
}
