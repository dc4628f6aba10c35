/* The host's screen with its flood fast path (flood.c) against one fed
 * every byte: for any bytes, cut into reads anywhere, the text with all
 * its scrollback, the repaint, the cursor and the query answers are the
 * same. The first 4 bytes choose the size, the scrollback and the cuts.
 *
 * Its first finding: libvterm shows U+FFFD for a UTF-8 sequence cut
 * between two writes, so the screen fed each read as it came showed
 * garbage where a PTY read cut a character (screen.c vt_write now keeps
 * the cut part for the next write). Corpus: crash-utf8-cut-*.
 *
 * The comparison is made on the bytes with every byte >= 0x80 as '?':
 * libvterm's own decoder renders broken sequences, and combining marks
 * after a pending wrap, differently depending on where writes cut them,
 * and a waiting screen writes other cuts (garbage for garbage either
 * way; a whole character cut by a read is test-screen.c's). A third
 * screen takes the bytes as they came, for crashes only. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "screen.h"

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size);

static void
same(struct screen *a, struct screen *b)
{
	struct buf x = BUF_INIT, y = BUF_INIT;
	int r1, c1, r2, c2;

	screen_text(a, 1 << 20, &x);
	screen_text(b, 1 << 20, &y);
	if (x.len != y.len || memcmp(x.data, y.data, x.len) != 0)
		abort();
	buf_reset(&x);
	buf_reset(&y);
	screen_repaint(a, &x);
	screen_repaint(b, &y);
	if (x.len != y.len || memcmp(x.data, y.data, x.len) != 0)
		abort();
	buf_reset(&x);
	buf_reset(&y);
	screen_take_output(a, &x);
	screen_take_output(b, &y);
	if (x.len != y.len || memcmp(x.data, y.data, x.len) != 0)
		abort();
	screen_cursor(a, &r1, &c1);
	screen_cursor(b, &r2, &c2);
	if (r1 != r2 || c1 != c2 || strcmp(screen_title(a), screen_title(b)))
		abort();
	buf_release(&x);
	buf_release(&y);
}

int
LLVMFuzzerTestOneInput(const uint8_t *in, size_t size)
{
	uint8_t *data;

	if (size < 4)
		return 0;
	int rows = 2 + in[0] % 10, cols = 2 + in[1] % 40;
	int sb = in[2] % 16, cut = 1 + in[3] % 64;
	struct screen *fast = screen_new(rows, cols, sb);
	struct screen *full = screen_new(rows, cols, sb);

	screen_no_skip(full);
	data = malloc(size - 4 + 1);
	memcpy(data, in + 4, size - 4);
	size -= 4;
	struct screen *raw = screen_new(rows, cols, sb);
	screen_feed(raw, (const char *)data, size);
	struct buf t = BUF_INIT;
	screen_text(raw, 1 << 20, &t);
	buf_release(&t);
	screen_free(raw);
	for (size_t i = 0; i < size; i++)
		if (data[i] >= 0x80)
			data[i] = '?';
	for (size_t off = 0; off < size; off += (size_t)cut) {
		size_t n = size - off < (size_t)cut ? size - off : (size_t)cut;
		screen_feed(fast, (const char *)data + off, n);
		screen_feed(full, (const char *)data + off, n);
	}
	same(fast, full);
	free(data);
	screen_free(fast);
	screen_free(full);
	return 0;
}
