/* Name and id syntax: names end up in paths and branch names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "names.h"
#include "util.h"
#include "xmalloc.h"

static void
test_name_valid(void **state)
{
	char long_name[80];

	assert_true(name_valid("fix-login_2.0"));
	assert_true(name_valid("a"));
	assert_false(name_valid(""));
	assert_false(name_valid(NULL));
	assert_false(name_valid("."));
	assert_false(name_valid(".."));
	assert_false(name_valid("../etc"));
	assert_false(name_valid("a/b"));
	assert_false(name_valid("a b"));
	assert_false(name_valid("caf\xc3\xa9"));
	memset(long_name, 'x', 64);
	long_name[64] = '\0';
	assert_true(name_valid(long_name));
	long_name[64] = 'x';
	long_name[65] = '\0';
	assert_false(name_valid(long_name));
}

static void
test_id_valid(void **state)
{
	assert_true(id_valid("a1b2c3d4"));
	assert_false(id_valid("A1B2C3D4"));
	assert_false(id_valid("a1b2c3d"));
	assert_false(id_valid("a1b2c3d4e"));
	assert_false(id_valid("g1b2c3d4"));
}

static void
test_name_from_text(void **state)
{
	char *n = name_from_text("Fix the login bug!", 24);

	assert_string_equal(n, "fix-the-login-bug");
	free(n);
	n = name_from_text(
	    "Refactor everything in the whole code base now", 20);
	assert_true(strlen(n) <= 20);
	assert_true(n[strlen(n) - 1] != '-');
	assert_true(name_valid(n));
	free(n);
	n = name_from_text("!!! ???", 24);
	assert_string_equal(n, "session");
	free(n);
}

static void
test_random_hex(void **state)
{
	char a[9], b[9];

	random_hex(a, 8);
	random_hex(b, 8);
	assert_int_equal(strlen(a), 8);
	assert_true(id_valid(a));
	assert_string_not_equal(a, b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_name_valid),
	    cmocka_unit_test(test_id_valid),
	    cmocka_unit_test(test_name_from_text),
	    cmocka_unit_test(test_random_hex),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
