/* strbuf invariants, error mapping, atomic files, UTF-8 cleaning. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "buf.h"
#include "err.h"
#include "util.h"

static void
test_buf(void **state)
{
	struct buf b = BUF_INIT;
	size_t len;

	assert_non_null(b.data);
	assert_string_equal(b.data, "");
	buf_add(&b, "a\0b", 3);
	assert_int_equal(b.len, 3);
	assert_int_equal(b.data[3], '\0');
	buf_addf(&b, "%d", 42);
	assert_memory_equal(b.data, "a\0b42", 5);
	buf_consume(&b, 2);
	assert_string_equal(b.data, "b42");
	char *p = buf_detach(&b, &len);
	assert_int_equal(len, 3);
	assert_string_equal(p, "b42");
	assert_int_equal(b.len, 0);
	free(p);
	p = buf_detach(&b, &len); /* empty: still a string to free */
	assert_string_equal(p, "");
	free(p);
}

static void
test_err_codes(void **state)
{
	struct err e = ERR_INIT;

	assert_int_equal(err_set(&e, ERR_NOT_FOUND, "no %s", "x"), -1);
	assert_string_equal(e.msg.data, "no x");
	assert_int_equal(err_exit_code(ERR_NOT_FOUND), 3);
	assert_int_equal(err_exit_code(ERR_REFUSED), 4);
	assert_int_equal(err_exit_code(ERR_USAGE), 2);
	assert_int_equal(err_exit_code(ERR_UNREACHABLE), 5);
	assert_string_equal(err_word(ERR_NOT_FOUND), "not_found");
	assert_int_equal(err_from_word("refused"), ERR_REFUSED);
	assert_int_equal(err_from_word("nonsense"), ERR_FAILED);
	err_release(&e);
}

static void
test_atomic_file(void **state)
{
	char dir[] = "/tmp/galley-unit-XXXXXX", *path;
	struct buf b = BUF_INIT;
	struct err e = ERR_INIT;

	assert_non_null(mkdtemp(dir));
	assert_true(asprintf(&path, "%s/f", dir) > 0);
	assert_int_equal(write_file_atomic(path, "hello", 5, 0600, &e), 0);
	assert_int_equal(read_file(path, &b, 100, &e), 0);
	assert_string_equal(b.data, "hello");
	buf_reset(&b);
	assert_int_equal(read_file(path, &b, 3, &e), -1); /* over max */
	assert_int_equal(unlink(path), 0);
	assert_int_equal(read_file(path, &b, 3, &e), -1);
	assert_int_equal(e.code, ERR_NOT_FOUND);
	rmdir(dir);
	free(path);
	buf_release(&b);
	err_release(&e);
}

static void
test_utf8_sanitize(void **state)
{
	struct buf b = BUF_INIT;

	utf8_sanitize("ok \xc3\xa9 \xf0\x9f\x98\x80", 11, &b);
	assert_string_equal(b.data, "ok \xc3\xa9 \xf0\x9f\x98\x80");
	buf_reset(&b);
	utf8_sanitize("a\xff"
	              "b\xc0\xaf"
	              "c\xed\xa0\x80",
	    9, &b);
	assert_string_equal(b.data,
	    "a\xef\xbf\xbd"
	    "b\xef\xbf\xbd\xef\xbf\xbd"
	    "c\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
	buf_release(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_buf),
	    cmocka_unit_test(test_err_codes),
	    cmocka_unit_test(test_atomic_file),
	    cmocka_unit_test(test_utf8_sanitize),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
