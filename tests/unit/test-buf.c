/* strbuf invariants, error mapping, atomic files, UTF-8 cleaning. */
#include <dirent.h>
#include <jansson.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "buf.h"
#include "err.h"
#include "util.h"

#define FFFD "\xef\xbf\xbd"

static char dir[] = "/tmp/galley-buf-XXXXXX";

/* ---- buf ---- */

static void
test_buf_init_data_is_an_empty_string(void **state)
{
	struct buf a = BUF_INIT, b;

	buf_init(&b);
	assert_non_null(a.data);
	assert_non_null(b.data);
	assert_int_equal(a.data[0], '\0');
	assert_int_equal(a.len, 0);
	assert_int_equal(b.len, 0);
	/* reset and release of a never-grown buffer are harmless */
	buf_reset(&a);
	buf_release(&a);
	assert_non_null(a.data);
	assert_string_equal(a.data, "");
	/* adding nothing allocates nothing */
	buf_add(&b, "", 0);
	buf_adds(&b, "");
	buf_addf(&b, "%s", "");
	assert_int_equal(b.alloc, 0);
	assert_string_equal(b.data, "");
}

static void
test_buf_add_keeps_data_nul_terminated(void **state)
{
	struct buf b = BUF_INIT;

	buf_add(&b, "abc", 3);
	assert_int_equal(b.len, 3);
	assert_int_equal(b.data[3], '\0');
	assert_true(b.alloc > b.len);
	buf_addc(&b, 'd');
	buf_adds(&b, "ef");
	assert_int_equal(b.len, 6);
	assert_string_equal(b.data, "abcdef");
	buf_release(&b);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.alloc, 0);
	assert_string_equal(b.data, "");
}

static void
test_buf_keeps_embedded_nuls(void **state)
{
	struct buf b = BUF_INIT;

	buf_add(&b, "a\0b", 3);
	buf_addc(&b, '\0');
	buf_add(&b, "c", 1);
	assert_int_equal(b.len, 5);
	assert_memory_equal(b.data, "a\0b\0c", 6); /* with the final NUL */
	buf_consume(&b, 2);
	assert_int_equal(b.len, 3);
	assert_memory_equal(b.data, "b\0c", 4);
	buf_release(&b);
}

/* many small appends grow the buffer and keep every byte */
static void
test_buf_grows_across_many_appends(void **state)
{
	struct buf b = BUF_INIT;

	for (int i = 0; i < 100000; i++)
		buf_addc(&b, (char)('a' + i % 26));
	assert_int_equal(b.len, 100000);
	assert_true(b.alloc > b.len);
	assert_int_equal(b.data[b.len], '\0');
	for (int i = 0; i < 100000; i++)
		if (b.data[i] != (char)('a' + i % 26))
			fail_msg("byte %d is '%c'", i, b.data[i]);
	buf_grow(&b, 1000000);
	assert_true(b.alloc >= b.len + 1000000 + 1);
	assert_int_equal(b.len, 100000);
	buf_release(&b);
}

static void
test_buf_addf_formats_and_appends(void **state)
{
	struct buf b = BUF_INIT;

	buf_adds(&b, "x=");
	buf_addf(&b, "%d,%s,%05.1f", -42, "y", 2.25);
	assert_string_equal(b.data, "x=-42,y,002.2");
	assert_int_equal(b.len, strlen("x=-42,y,002.2"));
	/* longer than any first allocation */
	buf_reset(&b);
	buf_addf(&b, "%0500d|", 7);
	assert_int_equal(b.len, 501);
	assert_int_equal(b.data[499], '7');
	assert_int_equal(b.data[500], '|');
	assert_int_equal(b.data[501], '\0');
	assert_int_equal(strspn(b.data, "0"), 499);
	buf_release(&b);
}

static void
test_buf_reset_empties_but_keeps_allocation(void **state)
{
	struct buf b = BUF_INIT;
	char *data;
	size_t alloc;

	buf_adds(&b, "hello");
	data = b.data;
	alloc = b.alloc;
	buf_reset(&b);
	assert_int_equal(b.len, 0);
	assert_string_equal(b.data, "");
	assert_ptr_equal(b.data, data);
	assert_int_equal(b.alloc, alloc);
	buf_adds(&b, "hi");
	assert_string_equal(b.data, "hi");
	buf_release(&b);
}

static void
test_buf_consume_drops_a_prefix(void **state)
{
	struct buf b = BUF_INIT;

	buf_adds(&b, "0123456789");
	buf_consume(&b, 0);
	assert_string_equal(b.data, "0123456789");
	buf_consume(&b, 3);
	assert_int_equal(b.len, 7);
	assert_string_equal(b.data, "3456789");
	buf_consume(&b, 7); /* exactly all */
	assert_int_equal(b.len, 0);
	assert_string_equal(b.data, "");
	buf_adds(&b, "ab");
	buf_consume(&b, 100); /* more than there is */
	assert_int_equal(b.len, 0);
	assert_string_equal(b.data, "");
	buf_release(&b);
	buf_consume(&b, 1); /* on a never-grown buffer */
	assert_string_equal(b.data, "");
}

static void
test_buf_detach_hands_over_the_bytes(void **state)
{
	struct buf b = BUF_INIT;
	size_t len = 0;
	char *p, *data;

	buf_add(&b, "a\0b", 3);
	data = b.data;
	p = buf_detach(&b, &len);
	assert_ptr_equal(p, data); /* no copy */
	assert_int_equal(len, 3);
	assert_memory_equal(p, "a\0b", 4);
	/* the buffer is empty and usable again */
	assert_non_null(b.data);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.alloc, 0);
	assert_string_equal(b.data, "");
	buf_adds(&b, "new");
	assert_string_equal(b.data, "new");
	assert_memory_equal(p, "a\0b", 4); /* untouched by the new bytes */
	free(p);
	p = buf_detach(&b, NULL); /* len is optional */
	assert_string_equal(p, "new");
	free(p);
}

/* detaching an empty buffer still gives a string the caller frees (and
 * never the shared empty string) */
static void
test_buf_detach_of_empty_gives_freeable_string(void **state)
{
	struct buf b = BUF_INIT;
	size_t len = 99;
	char *p = buf_detach(&b, &len), *q;

	assert_non_null(p);
	assert_string_equal(p, "");
	assert_int_equal(len, 0);
	assert_ptr_not_equal(p, buf_empty);
	q = buf_detach(&b, NULL);
	assert_ptr_not_equal(p, q);
	free(p);
	free(q);
	assert_string_equal(buf_empty, "");
}

/* ---- err ---- */

static void
test_err_set_returns_minus_one_and_replaces_message(void **state)
{
	struct err e = ERR_INIT;

	assert_int_equal(e.code, ERR_NONE);
	assert_string_equal(e.msg.data, "");
	assert_int_equal(err_set(&e, ERR_NOT_FOUND, "no %s '%d'", "x", 3), -1);
	assert_int_equal(e.code, ERR_NOT_FOUND);
	assert_string_equal(e.msg.data, "no x '3'");
	assert_int_equal(err_set(&e, ERR_USAGE, "second"), -1);
	assert_int_equal(e.code, ERR_USAGE);
	assert_string_equal(e.msg.data, "second"); /* replaced, not appended */
	assert_int_equal(err_set(NULL, ERR_FAILED, "nowhere"), -1);
	err_release(&e);
	assert_int_equal(e.code, ERR_NONE);
	assert_string_equal(e.msg.data, "");
	err_release(&e); /* twice is fine */
}

static void
test_err_word_and_exit_code_mapping(void **state)
{
	static const struct {
		enum err_code code;
		const char *word;
		int exit;
	} want[] = {
	    {ERR_NONE, "ok", 0},
	    {ERR_FAILED, "failed", 1},
	    {ERR_USAGE, "usage", 2},
	    {ERR_NOT_FOUND, "not_found", 3},
	    {ERR_REFUSED, "refused", 4},
	    {ERR_UNREACHABLE, "unreachable", 5},
	    {ERR_PROTOCOL, "protocol", 1},
	    {ERR_AMBIGUOUS, "ambiguous", 2},
	    {ERR_EXISTS, "exists", 1},
	};

	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		assert_string_equal(err_word(want[i].code), want[i].word);
		assert_int_equal(err_exit_code(want[i].code), want[i].exit);
		assert_int_equal(err_from_word(want[i].word), want[i].code);
	}
	/* the exit codes are the CLI's documented ones */
	assert_int_equal(err_exit_code(ERR_USAGE), EXIT_USAGE);
	assert_int_equal(err_exit_code(ERR_NOT_FOUND), EXIT_NOT_FOUND);
	assert_int_equal(err_exit_code(ERR_REFUSED), EXIT_REFUSED);
	assert_int_equal(err_exit_code(ERR_UNREACHABLE), EXIT_UNREACHABLE);
	/* unknown words and codes degrade to "failed" */
	assert_int_equal(err_from_word("nonsense"), ERR_FAILED);
	assert_int_equal(err_from_word(""), ERR_FAILED);
	assert_int_equal(err_from_word(NULL), ERR_FAILED);
	assert_string_equal(err_word((enum err_code)99), "failed");
	assert_int_equal(err_exit_code((enum err_code)99), 1);
}

/* ---- files ---- */

static int
count_entries(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

static void
test_write_file_atomic_then_read_file_round_trips(void **state)
{
	char sub[PATH_MAX], path[PATH_MAX + 8], data[256];
	struct buf b = BUF_INIT;
	struct err e = ERR_INIT;
	struct stat st;

	for (int i = 0; i < 256; i++)
		data[i] = (char)i; /* every byte value, NULs included */
	snprintf(sub, sizeof sub, "%s/rt", dir);
	assert_int_equal(mkdir_p(sub, 0700, &e), 0);
	snprintf(path, sizeof path, "%s/f", sub);
	assert_int_equal(write_file_atomic(path, data, 256, 0640, &e), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0640 & ~0022 & 0777);
	assert_int_equal(read_file(path, &b, 256, &e), 0);
	assert_int_equal(b.len, 256);
	assert_memory_equal(b.data, data, 256);
	assert_int_equal(b.data[256], '\0');
	/* replacing with shorter content leaves no tail of the old */
	assert_int_equal(write_file_atomic(path, "new", 3, 0640, &e), 0);
	buf_reset(&b);
	assert_int_equal(read_file(path, &b, 1024, &e), 0);
	assert_int_equal(b.len, 3);
	assert_string_equal(b.data, "new");
	/* an empty file reads as empty */
	assert_int_equal(write_file_atomic(path, "", 0, 0640, &e), 0);
	buf_reset(&b);
	assert_int_equal(read_file(path, &b, 0, &e), 0);
	assert_int_equal(b.len, 0);
	/* no temporary file is left behind */
	assert_int_equal(count_entries(sub), 1);
	assert_int_equal(e.code, ERR_NONE);
	buf_release(&b);
}

static void
test_read_file_enforces_max(void **state)
{
	char path[PATH_MAX], *big = malloc(20000);
	struct buf b = BUF_INIT;
	struct err e = ERR_INIT;

	assert_non_null(big);
	memset(big, 'q', 20000);
	snprintf(path, sizeof path, "%s/max", dir);
	assert_int_equal(write_file_atomic(path, big, 100, 0600, &e), 0);
	assert_int_equal(read_file(path, &b, 100, &e), 0); /* exactly max */
	assert_int_equal(b.len, 100);
	buf_reset(&b);
	assert_int_equal(read_file(path, &b, 99, &e), -1);
	assert_int_equal(e.code, ERR_FAILED);
	assert_non_null(strstr(e.msg.data, "larger than 99 bytes"));
	assert_non_null(strstr(e.msg.data, path));
	err_release(&e);
	/* across several read chunks */
	assert_int_equal(write_file_atomic(path, big, 20000, 0600, &e), 0);
	buf_reset(&b);
	assert_int_equal(read_file(path, &b, 20000, &e), 0);
	assert_int_equal(b.len, 20000);
	assert_memory_equal(b.data, big, 20000);
	buf_reset(&b);
	assert_int_equal(read_file(path, &b, 19999, &e), -1);
	assert_int_equal(e.code, ERR_FAILED);
	err_release(&e);
	buf_release(&b);
	free(big);
}

static void
test_read_file_missing_is_not_found(void **state)
{
	char path[PATH_MAX];
	struct buf b = BUF_INIT;
	struct err e = ERR_INIT;

	snprintf(path, sizeof path, "%s/does-not-exist", dir);
	assert_int_equal(read_file(path, &b, 100, &e), -1);
	assert_int_equal(e.code, ERR_NOT_FOUND);
	assert_non_null(strstr(e.msg.data, path));
	assert_int_equal(b.len, 0);
	err_release(&e);
}

static void
test_write_file_atomic_into_missing_dir_fails(void **state)
{
	char path[PATH_MAX];
	struct err e = ERR_INIT;

	snprintf(path, sizeof path, "%s/no/such/dir/f", dir);
	assert_int_equal(write_file_atomic(path, "x", 1, 0600, &e), -1);
	assert_int_equal(e.code, ERR_FAILED);
	assert_non_null(strstr(e.msg.data, "cannot write"));
	err_release(&e);
}

static void
test_mkdir_p_creates_parents_and_accepts_existing(void **state)
{
	char path[PATH_MAX];
	struct err e = ERR_INIT;
	struct stat st;

	snprintf(path, sizeof path, "%s/m/a/b/c", dir);
	assert_int_equal(mkdir_p(path, 0700, &e), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(mkdir_p(path, 0700, &e), 0); /* again */
	snprintf(path, sizeof path, "%s/m/file", dir);
	assert_int_equal(write_file_atomic(path, "x", 1, 0600, &e), 0);
	snprintf(path, sizeof path, "%s/m/file/sub", dir);
	assert_int_equal(mkdir_p(path, 0700, &e), -1);
	assert_int_equal(e.code, ERR_FAILED);
	err_release(&e);
}

static void
test_iso_time_formats_utc(void **state)
{
	char out[32];

	iso_time(0, out, sizeof out);
	assert_string_equal(out, "1970-01-01T00:00:00Z");
	iso_time(1795521600999LL, out, sizeof out);
	assert_string_equal(out, "2026-11-24T12:00:00Z");
}

/* ---- UTF-8 ---- */

static void
sanitized(const char *in, size_t n, const char *want, size_t wantlen)
{
	struct buf b = BUF_INIT;

	utf8_sanitize(in, n, &b);
	if (b.len != wantlen || memcmp(b.data, want, wantlen) != 0) {
		struct buf hex = BUF_INIT;
		for (size_t i = 0; i < b.len; i++)
			buf_addf(&hex, "%02x ", (unsigned char)b.data[i]);
		fail_msg("got %s", hex.data);
	}
	buf_release(&b);
}

#define SAME(s) sanitized(s, sizeof(s) - 1, s, sizeof(s) - 1)
#define CLEANS(in, out) sanitized(in, sizeof(in) - 1, out, sizeof(out) - 1)

static void
test_utf8_sanitize_keeps_valid_sequences(void **state)
{
	SAME("plain ascii ~\x7f");
	SAME("\xc2\x80");         /* U+0080, smallest 2-byte */
	SAME("\xc3\xa9");         /* é */
	SAME("\xdf\xbf");         /* U+07FF, largest 2-byte */
	SAME("\xe0\xa0\x80");     /* U+0800, smallest 3-byte */
	SAME("\xe2\x82\xac");     /* € */
	SAME("\xed\x9f\xbf");     /* U+D7FF, just below surrogates */
	SAME("\xee\x80\x80");     /* U+E000, just above surrogates */
	SAME("\xef\xbf\xbf");     /* U+FFFF */
	SAME("\xf0\x90\x80\x80"); /* U+10000, smallest 4-byte */
	SAME("\xf0\x9f\x98\x80"); /* 😀 */
	SAME("\xf4\x8f\xbf\xbf"); /* U+10FFFF, the last code point */
	SAME("a\0b");             /* NUL is valid UTF-8 and kept */
	SAME("mix \xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80 end");
	sanitized("", 0, "", 0);
}

static void
test_utf8_sanitize_replaces_invalid_bytes(void **state)
{
	CLEANS("\x80", FFFD); /* lone continuation */
	CLEANS("a\xbf"
	       "b",
	    "a" FFFD "b");
	CLEANS("\xff", FFFD);
	CLEANS("\xfe", FFFD);
	CLEANS("\xf8\x88\x80\x80\x80", FFFD FFFD FFFD FFFD FFFD); /* 5-byte */
	CLEANS("\xc3", FFFD); /* truncated at the end */
	CLEANS("\xc3"
	       "A",
	    FFFD "A"); /* lead byte followed by ASCII */
	CLEANS("\xe2\x82"
	       "x",
	    FFFD FFFD "x");
	CLEANS("\xf0\x9f\x98", FFFD FFFD FFFD);
}

static void
test_utf8_sanitize_replaces_overlongs(void **state)
{
	CLEANS("\xc0\x80", FFFD FFFD);          /* NUL, overlong */
	CLEANS("\xc0\xaf", FFFD FFFD);          /* '/', overlong */
	CLEANS("\xc1\xbf", FFFD FFFD);          /* U+007F, overlong */
	CLEANS("\xe0\x80\xaf", FFFD FFFD FFFD); /* '/', 3 bytes */
	CLEANS("\xe0\x9f\xbf", FFFD FFFD FFFD); /* U+07FF, 3 bytes */
	CLEANS("\xf0\x80\x80\xaf", FFFD FFFD FFFD FFFD);
	CLEANS("\xf0\x8f\xbf\xbf", FFFD FFFD FFFD FFFD); /* U+FFFF, 4 bytes */
}

static void
test_utf8_sanitize_replaces_surrogates(void **state)
{
	CLEANS("\xed\xa0\x80", FFFD FFFD FFFD); /* U+D800 */
	CLEANS("\xed\xbf\xbf", FFFD FFFD FFFD); /* U+DFFF */
	/* a CESU-8 pair for U+1F600 */
	CLEANS("\xed\xa0\xbd\xed\xb8\x80", FFFD FFFD FFFD FFFD FFFD FFFD);
}

static void
test_utf8_sanitize_replaces_code_points_above_10ffff(void **state)
{
	CLEANS("\xf4\x90\x80\x80", FFFD FFFD FFFD FFFD); /* U+110000 */
	CLEANS("\xf7\xbf\xbf\xbf", FFFD FFFD FFFD FFFD);
}

static void
test_utf8_sanitize_appends_to_the_buffer(void **state)
{
	struct buf b = BUF_INIT;

	buf_adds(&b, "pre:");
	utf8_sanitize("\xff!", 2, &b);
	assert_string_equal(b.data, "pre:" FFFD "!");
	buf_release(&b);
}

/* Random bytes: the output is valid UTF-8 by another judge (jansson
 * refuses invalid UTF-8), sanitizing again changes nothing, and valid
 * input passes through unchanged. */
static void
test_utf8_sanitize_output_is_always_valid(void **state)
{
	struct buf once = BUF_INIT, twice = BUF_INIT;
	unsigned seed = 12345;
	char in[64];

	for (int round = 0; round < 2000; round++) {
		size_t n = (size_t)(round % 64);
		for (size_t i = 0; i < n; i++) {
			seed = seed * 1103515245u + 12345u;
			/* bias towards bytes that start or continue
			 * sequences */
			unsigned r = seed >> 16;
			in[i] = (char)(r % 3 == 0 ? 0x80 | (r >> 2 & 0x3f)
			        : r % 3 == 1      ? 0xc0 | (r >> 2 & 0x3f)
			                          : r >> 2);
		}
		buf_reset(&once);
		buf_reset(&twice);
		utf8_sanitize(in, n, &once);
		json_t *s = json_stringn(once.data, once.len);
		if (s == NULL)
			fail_msg("round %d: output is not valid UTF-8", round);
		json_decref(s);
		utf8_sanitize(once.data, once.len, &twice);
		assert_int_equal(once.len, twice.len);
		assert_memory_equal(once.data, twice.data, once.len);
		/* valid input is kept byte for byte */
		s = json_stringn(in, n);
		if (s != NULL) {
			assert_int_equal(once.len, n);
			assert_memory_equal(once.data, in, n);
			json_decref(s);
		}
	}
	buf_release(&once);
	buf_release(&twice);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_buf_init_data_is_an_empty_string),
	    cmocka_unit_test(test_buf_add_keeps_data_nul_terminated),
	    cmocka_unit_test(test_buf_keeps_embedded_nuls),
	    cmocka_unit_test(test_buf_grows_across_many_appends),
	    cmocka_unit_test(test_buf_addf_formats_and_appends),
	    cmocka_unit_test(test_buf_reset_empties_but_keeps_allocation),
	    cmocka_unit_test(test_buf_consume_drops_a_prefix),
	    cmocka_unit_test(test_buf_detach_hands_over_the_bytes),
	    cmocka_unit_test(test_buf_detach_of_empty_gives_freeable_string),
	    cmocka_unit_test(
	        test_err_set_returns_minus_one_and_replaces_message),
	    cmocka_unit_test(test_err_word_and_exit_code_mapping),
	    cmocka_unit_test(test_write_file_atomic_then_read_file_round_trips),
	    cmocka_unit_test(test_read_file_enforces_max),
	    cmocka_unit_test(test_read_file_missing_is_not_found),
	    cmocka_unit_test(test_write_file_atomic_into_missing_dir_fails),
	    cmocka_unit_test(test_mkdir_p_creates_parents_and_accepts_existing),
	    cmocka_unit_test(test_iso_time_formats_utc),
	    cmocka_unit_test(test_utf8_sanitize_keeps_valid_sequences),
	    cmocka_unit_test(test_utf8_sanitize_replaces_invalid_bytes),
	    cmocka_unit_test(test_utf8_sanitize_replaces_overlongs),
	    cmocka_unit_test(test_utf8_sanitize_replaces_surrogates),
	    cmocka_unit_test(
	        test_utf8_sanitize_replaces_code_points_above_10ffff),
	    cmocka_unit_test(test_utf8_sanitize_appends_to_the_buffer),
	    cmocka_unit_test(test_utf8_sanitize_output_is_always_valid),
	};
	int rc;

	umask(0022);
	if (mkdtemp(dir) == NULL)
		return 1;
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	if (rm_rf(dir) != 0)
		return 1;
	return rc;
}
