/* placeholder: being written (issue 6) */
int main(void);
int
main(void)
{
	return 1;
}
