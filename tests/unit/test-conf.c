/*
 * Suite "conf": INI configuration through libinih (lib/conf.c).
 */
#include <stdio.h>
#include <stdlib.h>

#include "conf.h"
#include "unit.h"

struct cfg {
	char	*root;
	char	*name;
	int	 port;
	int	 workers;
};

static void
cfg_keys(struct cfg *c, struct conf_key *k)
{
	const struct conf_key	 keys[] = {
		{ "", "name", conf_set_string, &c->name },
		{ "tftp", "root", conf_set_string, &c->root },
		{ "tftp", "port", conf_set_int, &c->port },
		{ "capf", "workers", conf_set_int, &c->workers },
		{ NULL, NULL, NULL, NULL },
	};

	memcpy(k, keys, sizeof(keys));
}

static const char *
write_conf(const char *name, const char *text)
{
	static char	 path[1024];
	FILE		*fp;

	snprintf(path, sizeof(path), "%s/%s", unit_tmpdir(), name);
	if ((fp = fopen(path, "w")) == NULL) {
		CU_FAIL("fopen");
		return path;
	}
	fputs(text, fp);
	fclose(fp);
	return path;
}

static void
cfg_free(struct cfg *c)
{
	free(c->root);
	free(c->name);
}

static void
test_known_keys_are_set(void)
{
	struct cfg	 c = { NULL, NULL, -1, -1 };
	struct conf_key	 k[5];
	const char	*path;

	cfg_keys(&c, k);
	path = write_conf("good.conf", "; comment\nname = node1\n\n[tftp]\n"
	    "root = /srv/tftp\nport=6970\n[capf]\nworkers = 0\n"
	    "[tftp]\nroot = /srv/tftp2\n");
	CU_ASSERT_EQUAL(conf_load(path, k), 0);
	CU_ASSERT_PTR_NOT_NULL(c.name);
	if (c.name != NULL)
		CU_ASSERT_STRING_EQUAL(c.name, "node1");
	CU_ASSERT_PTR_NOT_NULL(c.root);
	if (c.root != NULL)
		CU_ASSERT_STRING_EQUAL(c.root, "/srv/tftp2");	/* last wins */
	CU_ASSERT_EQUAL(c.port, 6970);
	CU_ASSERT_EQUAL(c.workers, 0);
	cfg_free(&c);
}

static void
test_unknown_key_names_file_and_line(void)
{
	struct cfg	 c = { NULL, NULL, -1, -1 };
	struct conf_key	 k[5];
	char		 want[1100];
	const char	*path;

	cfg_keys(&c, k);
	path = write_conf("unknown.conf", "[tftp]\nroot = /srv\nbogus = 1\n");
	snprintf(want, sizeof(want), "%s:3", path);
	UNIT_FAILS(conf_load(path, k), UC_ERR_ARG, want);
	CU_ASSERT_PTR_NOT_NULL(strstr(uc_errdetail(), "bogus"));
	cfg_free(&c);

	/* A known key in the wrong section is unknown there. */
	memset(&c, 0, sizeof(c));
	cfg_keys(&c, k);
	path = write_conf("section.conf", "[capf]\nport = 1\n");
	snprintf(want, sizeof(want), "%s:2", path);
	UNIT_FAILS(conf_load(path, k), UC_ERR_ARG, want);
	CU_ASSERT_PTR_NOT_NULL(strstr(uc_errdetail(), "port"));
	cfg_free(&c);
}

/*
 * The detail must describe the line it names.  With two bad keys, libinih
 * reports the first error's line; the message must be about that key.
 */
static void
test_first_of_two_errors_is_reported_consistently(void)
{
	struct cfg	 c = { NULL, NULL, -1, -1 };
	struct conf_key	 k[5];
	char		 want[1100];
	const char	*path;

	cfg_keys(&c, k);
	path = write_conf("two.conf", "[tftp]\nfirstbad = 1\nroot = /x\n"
	    "secondbad = 2\n");
	snprintf(want, sizeof(want), "%s:2", path);
	UNIT_FAILS(conf_load(path, k), UC_ERR_ARG, want);
	CU_ASSERT_PTR_NOT_NULL(strstr(uc_errdetail(), "firstbad"));
	if (strstr(uc_errdetail(), "secondbad") != NULL)
		fprintf(stderr, "\n  detail: %s\n", uc_errdetail());
	CU_ASSERT_PTR_NULL(strstr(uc_errdetail(), "secondbad"));
	cfg_free(&c);
}

static void
test_bad_value_names_file_line_and_value(void)
{
	struct cfg	 c = { NULL, NULL, -1, -1 };
	struct conf_key	 k[5];
	char		 want[1100];
	const char	*path;

	cfg_keys(&c, k);
	path = write_conf("value.conf", "[tftp]\nport = 69x\n");
	snprintf(want, sizeof(want), "%s:2", path);
	UNIT_FAILS(conf_load(path, k), UC_ERR_ARG, want);
	CU_ASSERT_PTR_NOT_NULL(strstr(uc_errdetail(), "69x"));
	CU_ASSERT_EQUAL(c.port, -1);
	path = write_conf("neg.conf", "[tftp]\nport = -1\n");
	UNIT_FAILS(conf_load(path, k), UC_ERR_ARG, "-1");
	path = write_conf("huge.conf", "[tftp]\nport = 99999999999\n");
	UNIT_FAILS(conf_load(path, k), UC_ERR_ARG, "99999999999");
	cfg_free(&c);
}

static void
test_syntax_error_and_missing_file(void)
{
	struct cfg	 c = { NULL, NULL, -1, -1 };
	struct conf_key	 k[5];
	char		 want[1100];
	const char	*path;

	cfg_keys(&c, k);
	path = write_conf("syntax.conf", "[tftp]\nroot = /a\nno equals sign\n");
	snprintf(want, sizeof(want), "%s:3", path);
	UNIT_FAILS(conf_load(path, k), UC_ERR_FORMAT, want);
	UNIT_FAILS(conf_load("/nonexistent/ucsec.conf", k), UC_ERR_IO,
	    "/nonexistent/ucsec.conf");
	cfg_free(&c);
}

static const struct unit_test tests[] = {
	{ "known keys are set", test_known_keys_are_set },
	{ "unknown key is an error naming file:line",
	    test_unknown_key_names_file_and_line },
	{ "two bad keys: detail matches the line it names",
	    test_first_of_two_errors_is_reported_consistently },
	{ "refused value names file:line and the value",
	    test_bad_value_names_file_line_and_value },
	{ "syntax error and missing file", test_syntax_error_and_missing_file },
	{ NULL, NULL },
};

void
unit_register_conf(void)
{
	unit_suite("conf", tests);
}
