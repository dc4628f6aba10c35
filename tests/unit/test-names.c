/* Name and id syntax: names end up in paths and branch names, ids in
 * directory names, so both rules are strict. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "names.h"
#include "util.h"

/* The allowed set spelled out, not derived from <ctype.h>. */
static int
name_char(unsigned c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

static void
test_name_valid_accepts_allowed_charset(void **state)
{
	static const char *const good[] = {"a", "Z", "0", "fix-login_2.0",
	    "ABCxyz789", "...", ".hidden", "a..b", "_", "-", "v1.2.3"};

	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
		if (!name_valid(good[i]))
			fail_msg("'%s' should be a valid name", good[i]);
}

static void
test_name_valid_accepts_64_rejects_65(void **state)
{
	char name[80];

	memset(name, 'x', 64);
	name[64] = '\0';
	assert_true(name_valid(name));
	name[64] = 'x';
	name[65] = '\0';
	assert_false(name_valid(name));
}

static void
test_name_valid_rejects_empty_and_null(void **state)
{
	assert_false(name_valid(""));
	assert_false(name_valid(NULL));
}

static void
test_name_valid_rejects_dot_and_dotdot(void **state)
{
	assert_false(name_valid("."));
	assert_false(name_valid(".."));
}

static void
test_name_valid_rejects_path_separators_and_spaces(void **state)
{
	static const char *const bad[] = {"/", "a/b", "../etc", "/abs", "a/",
	    "a\\b", " ", "a b", " a", "a ", "a\tb", "a\nb", "~", "a:b", "a*",
	    "$(x)", "a;b", "a@b", "a,b"};

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (name_valid(bad[i]))
			fail_msg("'%s' should be rejected", bad[i]);
}

static void
test_name_valid_rejects_non_ascii(void **state)
{
	assert_false(name_valid("caf\xc3\xa9"));              /* café */
	assert_false(name_valid("\xe6\x97\xa5\xe6\x9c\xac")); /* 日本 */
	assert_false(name_valid("a\xf0\x9f\x98\x80"));        /* emoji */
	assert_false(name_valid("\xff"));                     /* not UTF-8 */
}

/* every byte, in the middle of an otherwise valid name */
static void
test_name_valid_each_byte_matches_charset(void **state)
{
	char name[4] = {'x', 0, 'x', '\0'};

	for (unsigned c = 1; c < 256; c++) {
		name[1] = (char)c;
		if (name_valid(name) != name_char(c))
			fail_msg("byte 0x%02x: name_valid says %d", c,
			    name_valid(name));
	}
}

static void
test_name_check_names_what_and_value(void **state)
{
	struct err e = ERR_INIT;

	assert_int_equal(name_check("ok-name", "session name", &e), 0);
	assert_int_equal(e.code, ERR_NONE);
	assert_int_equal(name_check("a/b", "session name", &e), -1);
	assert_int_equal(e.code, ERR_USAGE);
	assert_non_null(strstr(e.msg.data, "session name"));
	assert_non_null(strstr(e.msg.data, "'a/b'"));
	assert_int_equal(name_check(NULL, "branch", &e), -1);
	assert_non_null(strstr(e.msg.data, "branch"));
	err_release(&e);
}

static void
test_id_valid_is_8_lowercase_hex(void **state)
{
	static const char *const good[] = {
	    "a1b2c3d4", "00000000", "ffffffff", "deadbeef", "01234567"};
	static const char *const bad[] = {"", "A1B2C3D4", "a1b2c3D4", "a1b2c3d",
	    "a1b2c3d4e", "g1b2c3d4", "a1b2-3d4", "a1b2c3d ", " a1b2c3d",
	    "0x1b2c3d", "a1b2c3d\n"};

	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
		if (!id_valid(good[i]))
			fail_msg("'%s' should be a valid id", good[i]);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (id_valid(bad[i]))
			fail_msg("'%s' should not be a valid id", bad[i]);
	assert_false(id_valid(NULL));
}

/* a reference is an id, an id prefix or a name */
static void
test_ref_valid_accepts_ids_prefixes_and_names(void **state)
{
	assert_true(ref_valid("a1b2c3d4"));
	assert_true(ref_valid("a1b"));
	assert_true(ref_valid("fix-login"));
	assert_false(ref_valid(""));
	assert_false(ref_valid("a/b"));
	assert_false(ref_valid(".."));
}

static void
test_name_from_text_joins_lowercase_words(void **state)
{
	char *n = name_from_text("Fix the login bug!", 64);

	assert_string_equal(n, "fix-the-login-bug");
	free(n);
	n = name_from_text("  --Hello,   World--  ", 64);
	assert_string_equal(n, "hello-world");
	free(n);
	n = name_from_text("Add OAuth2 to API v3", 64);
	assert_string_equal(n, "add-oauth2-to-api-v3");
	free(n);
}

static void
test_name_from_text_fits_exactly_at_max(void **state)
{
	char *n = name_from_text("Fix the login bug!", 17);

	assert_string_equal(n, "fix-the-login-bug");
	free(n);
}

/* cut at max, never leaving a '-' at the end */
static void
test_name_from_text_truncates_at_max_without_trailing_dash(void **state)
{
	char *n;

	n = name_from_text("Fix the login bug!", 8); /* "fix-the-" cut */
	assert_string_equal(n, "fix-the");
	free(n);
	n = name_from_text("Fix the login bug!", 4); /* "fix-" cut */
	assert_string_equal(n, "fix");
	free(n);
	n = name_from_text("Fix the login bug!", 2); /* mid-word */
	assert_string_equal(n, "fi");
	free(n);
	for (size_t max = 1; max <= 40; max++) {
		n = name_from_text(
		    "Refactor everything in the whole code base, now!", max);
		size_t len = strlen(n);
		if (len == 0 || len > max || n[len - 1] == '-' || n[0] == '-' ||
		    strstr(n, "--") != NULL || !name_valid(n))
			fail_msg("max %zu gave '%s'", max, n);
		free(n);
	}
}

static void
test_name_from_text_without_words_is_session(void **state)
{
	static const char *const empty[] = {"", "!!! ???", "   ", "---", "\t\n",
	    "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e"};

	for (size_t i = 0; i < sizeof empty / sizeof empty[0]; i++) {
		char *n = name_from_text(empty[i], 24);
		assert_string_equal(n, "session");
		free(n);
	}
}

/* whatever the text, the result is usable as a name */
static void
test_name_from_text_always_gives_a_valid_name(void **state)
{
	static const char *const texts[] = {"caf\xc3\xa9 au lait",
	    "../../etc/passwd", "rm -rf /", "a", "$(reboot)", "UPPER lower",
	    "x\xff\xfey", "tab\tseparated\nlines", "..."};

	for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
		for (size_t max = 1; max <= 64; max += 7) {
			char *n = name_from_text(texts[i], max);
			if (!name_valid(n) ||
			    (strlen(n) > max && strcmp(n, "session") != 0))
				fail_msg("'%s' (max %zu) gave '%s'", texts[i],
				    max, n);
			free(n);
		}
	}
}

static void
test_random_hex_gives_lowercase_hex_of_requested_length(void **state)
{
	static const size_t lens[] = {0, 1, 2, 7, 8, 16, 31, 32, 64, 128};
	char out[200];

	for (size_t k = 0; k < sizeof lens / sizeof lens[0]; k++) {
		size_t n = lens[k];
		memset(out, 'Z', sizeof out);
		random_hex(out, n);
		assert_int_equal(out[n], '\0');
		assert_int_equal(out[n + 1], 'Z'); /* nothing written past */
		for (size_t i = 0; i < n; i++)
			if (strchr("0123456789abcdef", out[i]) == NULL)
				fail_msg("len %zu: '%c' is not hex", n, out[i]);
	}
	random_hex(out, GALLEY_ID_LEN);
	assert_true(id_valid(out));
}

/* more than the 64 random bytes random_hex draws at once */
static void
test_random_hex_long_output_is_all_random_hex(void **state)
{
	char a[301], b[301];

	random_hex(a, 300);
	random_hex(b, 300);
	assert_int_equal(strlen(a), 300);
	assert_int_equal(strspn(a, "0123456789abcdef"), 300);
	assert_string_not_equal(a + 150, b + 150);
}

static void
test_random_hex_two_calls_differ(void **state)
{
	char a[33], b[33];

	random_hex(a, 32);
	random_hex(b, 32);
	assert_string_not_equal(a, b);
	/* both nibbles of a byte are used: over many draws every digit
	 * shows up at an odd and at an even position */
	unsigned seen[2] = {0, 0};
	for (int round = 0; round < 64; round++) {
		random_hex(a, 32);
		for (int i = 0; i < 32; i++) {
			int d = a[i] <= '9' ? a[i] - '0' : a[i] - 'a' + 10;
			seen[i % 2] |= 1u << d;
		}
	}
	assert_int_equal(seen[0], 0xffff);
	assert_int_equal(seen[1], 0xffff);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_name_valid_accepts_allowed_charset),
	    cmocka_unit_test(test_name_valid_accepts_64_rejects_65),
	    cmocka_unit_test(test_name_valid_rejects_empty_and_null),
	    cmocka_unit_test(test_name_valid_rejects_dot_and_dotdot),
	    cmocka_unit_test(
	        test_name_valid_rejects_path_separators_and_spaces),
	    cmocka_unit_test(test_name_valid_rejects_non_ascii),
	    cmocka_unit_test(test_name_valid_each_byte_matches_charset),
	    cmocka_unit_test(test_name_check_names_what_and_value),
	    cmocka_unit_test(test_id_valid_is_8_lowercase_hex),
	    cmocka_unit_test(test_ref_valid_accepts_ids_prefixes_and_names),
	    cmocka_unit_test(test_name_from_text_joins_lowercase_words),
	    cmocka_unit_test(test_name_from_text_fits_exactly_at_max),
	    cmocka_unit_test(
	        test_name_from_text_truncates_at_max_without_trailing_dash),
	    cmocka_unit_test(test_name_from_text_without_words_is_session),
	    cmocka_unit_test(test_name_from_text_always_gives_a_valid_name),
	    cmocka_unit_test(
	        test_random_hex_gives_lowercase_hex_of_requested_length),
	    cmocka_unit_test(test_random_hex_long_output_is_all_random_hex),
	    cmocka_unit_test(test_random_hex_two_calls_differ),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
