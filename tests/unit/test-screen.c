/* The flood fast path (flood.c, screen.c): a screen that leaves out what
 * cannot show must look, to every reader, exactly like one fed every byte. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "flood.h"
#include "screen.h"

/* ---- flood.c ---- */

static void
test_plain_tail(void **state)
{
	assert_int_equal(flood_plain_tail("abc\r\n\tx\b", 8), 0);
	assert_int_equal(flood_plain_tail("a\033[0mbc", 7), 2);
	assert_int_equal(flood_plain_tail("ab\a", 3), 3);
	assert_int_equal(flood_plain_tail("\xc3\xa9\x7f", 3), 0);
	assert_int_equal(flood_plain_tail("", 0), 0);
}

static void
test_split_needs_line_feeds_after_and_a_crlf_before(void **state)
{
	const char *t = "first\r\nx\r\ny\r\nz\r\nw\r\n";
	size_t a = 0, b = 0;

	/* 2 line feeds after a "\r\n" that is past the first line */
	assert_true(flood_split(t, strlen(t), 2, 2, &a, &b));
	assert_int_equal(a, 7);
	assert_int_equal(b, 13); /* "z\r\nw\r\n" stays */
	/* not enough line feeds after it, or in it */
	assert_false(flood_split(t, strlen(t), 4, 0, &a, &b));
	assert_false(flood_split(t, strlen(t), 2, 3, &a, &b));
	/* bare line feeds: the column after them is unknown */
	assert_false(flood_split("a\nb\nc\nd\n", 8, 1, 1, &a, &b));
	/* one line only */
	assert_false(flood_split("abc", 3, 1, 1, &a, &b));
	assert_false(flood_split(t, strlen(t), 0, 0, &a, &b));
}

static void
test_scan_feeds_through_the_end_of_a_sequence(void **state)
{
	struct flood_csi c = {0, 0, 0};

	/* a query split over two reads is answered at once, not when
	 * the text after it is */
	assert_int_equal(flood_scan(&c, "ab\033[6", 6), 6);
	assert_int_equal(flood_scan(&c, "n more text", 11), 1);
	assert_int_equal(flood_scan(&c, "plain\r\n", 7), 0);
	assert_int_equal(flood_scan(&c, "x\033]0;title\007rest", 15), 11);
	assert_int_equal(flood_scan(&c, "\033]0;t\033\\rest", 11), 7);
	assert_int_equal(flood_scan(&c, "\033(Babc", 6), 3);
	assert_int_equal(flood_scan(&c, "a\033[0mbc", 7), 5);
	assert_false(c.region);
	assert_int_equal(flood_scan(&c, "\033[r", 3), 3);
	assert_false(c.region); /* a reset, not a region */
	assert_int_equal(flood_scan(&c, "\033[1;", 4), 4);
	assert_int_equal(flood_scan(&c, "20rtext", 7), 3);
	assert_true(c.region);
}

/* ---- two screens, one fed every byte ---- */

struct pair {
	struct screen *fast, *full;
};

static void
pair_new(struct pair *p, int rows, int cols, int sb)
{
	p->fast = screen_new(rows, cols, sb);
	p->full = screen_new(rows, cols, sb);
	screen_no_skip(p->full);
}

static void
feed(struct pair *p, const char *d, size_t n)
{
	screen_feed(p->fast, d, n);
	screen_feed(p->full, d, n);
}

static void
assert_same(struct pair *p)
{
	struct buf a = BUF_INIT, b = BUF_INIT;
	int r1, c1, r2, c2;

	screen_text(p->fast, 1 << 20, &a);
	screen_text(p->full, 1 << 20, &b);
	assert_string_equal(a.data, b.data);
	buf_reset(&a);
	buf_reset(&b);
	screen_repaint(p->fast, &a);
	screen_repaint(p->full, &b);
	assert_string_equal(a.data, b.data);
	screen_cursor(p->fast, &r1, &c1);
	screen_cursor(p->full, &r2, &c2);
	assert_int_equal(r1, r2);
	assert_int_equal(c1, c2);
	assert_string_equal(screen_title(p->fast), screen_title(p->full));
	buf_release(&a);
	buf_release(&b);
}

/* Each part a read of its own, to both screens; then they must agree. */
static void
feed_parts(struct pair *p, const char *const *parts, size_t n)
{
	for (size_t i = 0; i < n; i++)
		feed(p, parts[i], strlen(parts[i]));
	assert_same(p);
}

static void
pair_free(struct pair *p)
{
	screen_free(p->fast);
	screen_free(p->full);
}

static void
test_plain_flood_is_skipped_and_looks_the_same(void **state)
{
	struct pair p;
	char line[64];

	pair_new(&p, 24, 80, 100);
	feed(&p, "\033[1;32mgreen\033[0m\r\n", 19);
	/* 3 MiB of lines, in reads of about 4 KiB as a PTY gives them */
	struct buf all = BUF_INIT;
	for (int i = 0; all.len < 3u * 1024 * 1024; i++) {
		int n =
		    snprintf(line, sizeof line, "line %d of the flood\r\n", i);
		buf_add(&all, line, (size_t)n);
	}
	for (size_t off = 0; off < all.len; off += 4095)
		feed(&p, all.data + off,
		    all.len - off < 4095 ? all.len - off : 4095);
	assert_true(screen_skipped(p.fast) > 2u * 1024 * 1024);
	assert_int_equal(screen_skipped(p.full), 0);
	assert_same(&p);
	buf_release(&all);
	pair_free(&p);
}

/* A little random terminal traffic: plain lines, long wrapping lines,
 * tabs, backspaces, UTF-8 (wide too), colours, cursor moves, erases, the
 * alternate screen, titles, a scroll region now and then. */
static void
random_traffic(struct buf *b, unsigned *seed, size_t size, int regions)
{
	static const char *seqs[] = {"\033[31m", "\033[0m", "\033[1;44m",
	    "\033[H", "\033[2J", "\033[K", "\033[5;3H", "\033[?1049h",
	    "\033[?1049l", "\033]0;title\007", "\033[?25l", "\033[?25h",
	    "\033[3A", "\033[2B", "\033M", "\033[2@", "\033[4h", "\033[4l",
	    "\033[?7l", "\033[?7h", "\a", "\033[6n"};
	static const char *words[] = {"alpha ", "\xc3\xa9t\xc3\xa9 ",
	    "\xe6\xbc\xa2\xe5\xad\x97", "\t", "\b", "x", "0123456789"};

	while (b->len < size) {
		unsigned r = (unsigned)rand_r(seed) % 100;
		if (r < 70) {
			int n = rand_r(seed) % 12;
			for (int i = 0; i < n; i++)
				buf_adds(b, words[rand_r(seed) % 7]);
			buf_adds(b, rand_r(seed) % 10 ? "\r\n" : "\n");
		} else if (r < 72 && regions) {
			buf_adds(b, rand_r(seed) % 2 ? "\033[2;4r" : "\033[r");
		} else if (r < 80) {
			/* a burst: many short lines */
			int n = rand_r(seed) % 400;
			for (int i = 0; i < n; i++)
				buf_addf(b, "burst %d\r\n", i);
		} else
			buf_adds(b, seqs[rand_r(seed) % 22]);
	}
}

static void
test_random_traffic_looks_the_same(void **state)
{
	unsigned long long skipped = 0;

	for (unsigned seed = 1; seed <= 60; seed++) {
		unsigned s = seed;
		struct buf t = BUF_INIT;
		struct pair p;
		int rows = 3 + rand_r(&s) % 8, cols = 5 + rand_r(&s) % 30;

		pair_new(&p, rows, cols, rand_r(&s) % 3 ? rand_r(&s) % 50 : 0);
		random_traffic(&t, &s, 200000, seed % 4 == 0);
		for (size_t off = 0; off < t.len;) {
			size_t n = 1 + (size_t)rand_r(&s) % 9000;
			if (n > t.len - off)
				n = t.len - off;
			feed(&p, t.data + off, n);
			off += n;
			/* a reader in the middle sees the same as well */
			if (rand_r(&s) % 40 == 0)
				assert_same(&p);
		}
		/* answers to queries come out alike and in order */
		struct buf a1 = BUF_INIT, a2 = BUF_INIT;
		screen_take_output(p.fast, &a1);
		screen_take_output(p.full, &a2);
		assert_int_equal(a1.len, a2.len);
		assert_memory_equal(a1.data, a2.data, a1.len);
		assert_same(&p);
		skipped += screen_skipped(p.fast);
		buf_release(&a1);
		buf_release(&a2);
		buf_release(&t);
		pair_free(&p);
	}
	assert_true(skipped > 1000000); /* the fast path did run */
}

/* Raw-mode output (bare line feeds keep the column): the text after a
 * left-out span starts at the column the span would have left. */
static void
test_bare_line_feeds_after_a_skip(void **state)
{
	struct pair p;
	struct buf t = BUF_INIT;

	pair_new(&p, 6, 40, 10);
	buf_adds(&t, "abcde\n");
	for (int i = 0; i < 50; i++)
		buf_adds(&t, "mid\r\n");
	for (int i = 0; i < 60; i++)
		buf_adds(&t, i % 7 ? "q\n" : "\b\n");
	feed(&p, t.data, t.len);
	assert_same(&p);
	assert_true(screen_skipped(p.fast) > 0);
	buf_release(&t);
	pair_free(&p);
}

/* libvterm 0.1.4 crashes on a CSI with more than 16 parameters: the
 * guard leaves the extra ones out, split over reads too. */
static void
test_too_many_csi_parameters_do_not_crash(void **state)
{
	struct screen *s = screen_new(5, 40, 10);
	struct buf t = BUF_INIT;

	buf_adds(&t, "\033[1;31");
	for (int i = 0; i < 200; i++)
		buf_adds(&t, i % 2 ? ";" : ":");
	buf_adds(&t, "mred\r\n\033[");
	for (int i = 0; i < 40; i++)
		buf_adds(&t, "38;2;");
	buf_adds(&t, "1mok\r\n");
	/* what libvterm skips between ESC and '[' */
	buf_adds(&t, "\033\xfe\x01\x7f,\xa1[");
	for (int i = 0; i < 30; i++)
		buf_adds(&t, ":");
	buf_adds(&t, "m");
	for (size_t off = 0; off < t.len; off += 7)
		screen_feed(s, t.data + off, t.len - off < 7 ? t.len - off : 7);
	struct buf out = BUF_INIT;
	screen_text(s, 0, &out);
	assert_string_equal(out.data, "red\nok\n");
	buf_release(&out);
	buf_release(&t);
	screen_free(s);
}

/* REP before any character was printed spins libvterm 0.1.4 forever
 * (a title is not printed); after one it repeats it. */
static void
test_rep_before_any_character_does_not_hang(void **state)
{
	struct screen *s = screen_new(3, 20, 0);
	struct buf out = BUF_INIT;

	const char *parts[] = {"\033]0;t\007\033[", "5b", "ab\033[3b\r\n"};
	for (int i = 0; i < 3; i++)
		screen_feed(s, parts[i], strlen(parts[i]));
	screen_text(s, 0, &out);
	assert_string_equal(out.data, "abbbb\n");
	buf_release(&out);
	screen_free(s);
}

/* A character printed in a read of its own (no escape in it: the guard
 * is not on its path) still makes a later REP safe, so it repeats: the
 * screen that made the text wait did, the one fed every byte did not
 * (found by fuzz-screen; corpus: crash-rep-after-plain-read). */
static void
test_rep_after_a_plain_read(void **state)
{
	struct pair p;
	struct buf out = BUF_INIT;

	pair_new(&p, 2, 4, 0);
	const char *parts[] = {"\033[\177b", "n", "\033[", "b"};
	feed_parts(&p, parts, 4);
	screen_text(p.full, 0, &out);
	assert_string_equal(out.data, "nn\n");
	buf_release(&out);
	pair_free(&p);
}

/* A combining mark with nothing to combine with (after a line feed) has
 * no width, and libvterm's REP of it never ends: REP is kept only after
 * ASCII (corpus: timeout-rep-after-combining). */
static void
test_rep_after_a_lone_combining_mark_does_not_hang(void **state)
{
	struct pair p;
	struct buf out = BUF_INIT;

	pair_new(&p, 3, 4, 0);
	const char *parts[] = {"l\n", "\314\201", "\033[b", "x\033[2b"};
	feed_parts(&p, parts, 4);
	screen_text(p.full, 0, &out);
	assert_non_null(strstr(out.data, "xxx")); /* after ASCII: kept */
	buf_release(&out);
	pair_free(&p);
}

/* A UTF-8 character cut between two reads shows whole (libvterm alone
 * shows U+FFFD for it). */
static void
test_utf8_cut_between_reads(void **state)
{
	struct screen *s = screen_new(3, 20, 0);
	struct buf out = BUF_INIT;

	screen_no_skip(s);
	screen_feed(s, "ab\xe2\x94", 4);
	screen_feed(s, "\x80\xe6", 2);
	screen_feed(s, "\xbc\xa2\033[0m", 6);
	screen_text(s, 0, &out);
	assert_string_equal(out.data, "ab\xe2\x94\x80\xe6\xbc\xa2\n");
	buf_release(&out);
	screen_free(s);
}

/* A line that fills the width, then bare line feeds at the bottom row:
 * libvterm puts the cursor back at the margin there, not higher up, so a
 * left-out span must leave the cursor on the bottom row too (found by
 * tests/fuzz/fuzz-screen.c). */
static void
test_full_width_line_then_bare_line_feeds(void **state)
{
	struct pair p;
	struct buf t = BUF_INIT;

	pair_new(&p, 4, 13, 1);
	for (int i = 0; i < 12; i++)
		buf_addf(&t, "flood line %d\r\n", i);
	buf_adds(&t, "flood line d ");
	for (int i = 0; i < 20; i++)
		buf_adds(&t, "\n");
	buf_adds(&t, "line 76\r\nx\r\n");
	feed(&p, t.data, t.len);
	assert_same(&p);
	assert_true(screen_skipped(p.fast) > 0);
	buf_release(&t);
	pair_free(&p);
}

/* A resize lays out what waited at the old size first. */
static void
test_resize_settles_first(void **state)
{
	struct pair p;
	struct buf t = BUF_INIT;

	pair_new(&p, 5, 20, 10);
	for (int i = 0; i < 200; i++)
		buf_addf(&t, "a long line number %d that wraps\r\n", i);
	feed(&p, t.data, t.len);
	screen_resize(p.fast, 8, 12);
	screen_resize(p.full, 8, 12);
	feed(&p, "tail\r\n", 6);
	assert_same(&p);
	buf_release(&t);
	pair_free(&p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_plain_tail),
	    cmocka_unit_test(
	        test_split_needs_line_feeds_after_and_a_crlf_before),
	    cmocka_unit_test(test_scan_feeds_through_the_end_of_a_sequence),
	    cmocka_unit_test(test_plain_flood_is_skipped_and_looks_the_same),
	    cmocka_unit_test(test_random_traffic_looks_the_same),
	    cmocka_unit_test(test_resize_settles_first),
	    cmocka_unit_test(test_bare_line_feeds_after_a_skip),
	    cmocka_unit_test(test_too_many_csi_parameters_do_not_crash),
	    cmocka_unit_test(test_utf8_cut_between_reads),
	    cmocka_unit_test(test_rep_before_any_character_does_not_hang),
	    cmocka_unit_test(test_rep_after_a_plain_read),
	    cmocka_unit_test(
	        test_rep_after_a_lone_combining_mark_does_not_hang),
	    cmocka_unit_test(test_full_width_line_then_bare_line_feeds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
