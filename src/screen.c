/* libvterm wrapper. libvterm has no scrollback of its own: it hands lines
 * that scroll off to sb_pushline, and we keep them as text in a ring.
 *
 * Plain text is not fed at once: it waits in `pend` until something looks
 * at the screen, other bytes come, or it grows past PEND_MAX; then the
 * part of it that could not show anyway is left out (flood.c) and the
 * rest is fed. A flood of output then costs the host a copy instead of
 * libvterm's work per byte (bench/pty.py). */
#include <stdlib.h>
#include <string.h>
#include <vterm.h>

#include "flood.h"
#include "screen.h"
#include "xmalloc.h"

#define PEND_MAX (1024 * 1024)

struct screen {
	VTerm *vt;
	VTermScreen *vs;
	int rows, cols;
	char **sb; /* ring of scrollback lines, UTF-8 */
	int sb_max, sb_len, sb_head;
	char *title;
	int altscreen;
	int cursor_visible;
	struct buf out;  /* vterm's answers to queries */
	struct buf pend; /* plain bytes not fed yet */
	struct flood_csi csi;
	int no_skip; /* feed every byte (a scroll region, or tests) */
	unsigned long long skipped; /* bytes left out */
	char carry[4]; /* a UTF-8 sequence a write would have cut */
	int ncarry;
	struct flood_guard guard; /* CSIs libvterm cannot take */
};

/* One cell's characters as UTF-8 (a blank cell is a space). */
static void
cell_utf8(const VTermScreenCell *c, struct buf *b)
{
	if (c->chars[0] == 0) {
		buf_addc(b, ' ');
		return;
	}
	for (int k = 0; k < VTERM_MAX_CHARS_PER_CELL && c->chars[k]; k++) {
		char u[4];
		uint32_t cp = c->chars[k];
		int len;
		if (cp < 0x80) {
			u[0] = (char)cp;
			len = 1;
		} else if (cp < 0x800) {
			u[0] = (char)(0xc0 | (cp >> 6));
			u[1] = (char)(0x80 | (cp & 0x3f));
			len = 2;
		} else if (cp < 0x10000) {
			u[0] = (char)(0xe0 | (cp >> 12));
			u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
			u[2] = (char)(0x80 | (cp & 0x3f));
			len = 3;
		} else {
			u[0] = (char)(0xf0 | (cp >> 18));
			u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
			u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
			u[3] = (char)(0x80 | (cp & 0x3f));
			len = 4;
		}
		buf_add(b, u, (size_t)len);
	}
}

/* A row of cells as text, trailing blanks trimmed. */
static void
cells_to_text(const VTermScreenCell *cells, int n, struct buf *b)
{
	size_t start = b->len;

	for (int i = 0; i < n; i++) {
		if (cells[i].chars[0] == (uint32_t)-1)
			continue; /* right half of a wide char */
		cell_utf8(&cells[i], b);
	}
	while (b->len > start && b->data[b->len - 1] == ' ')
		b->len--;
	if (b->alloc)
		b->data[b->len] = '\0';
}

static int
sb_pushline_cb(int cols, const VTermScreenCell *cells, void *user)
{
	struct screen *s = user;
	struct buf b = BUF_INIT;
	int slot;

	if (s->sb_max <= 0)
		return 1;
	cells_to_text(cells, cols, &b);
	if (s->sb_len < s->sb_max) {
		slot = (s->sb_head + s->sb_len) % s->sb_max;
		s->sb_len++;
	} else {
		slot = s->sb_head;
		s->sb_head = (s->sb_head + 1) % s->sb_max;
		free(s->sb[slot]);
	}
	s->sb[slot] = buf_detach(&b, NULL);
	return 1;
}

static int
settermprop_cb(VTermProp prop, VTermValue *val, void *user)
{
	struct screen *s = user;

	switch (prop) {
	case VTERM_PROP_TITLE:
		free(s->title);
		s->title = xstrdup(val->string ? val->string : "");
		break;
	case VTERM_PROP_ALTSCREEN:
		s->altscreen = val->boolean;
		break;
	case VTERM_PROP_CURSORVISIBLE:
		s->cursor_visible = val->boolean;
		break;
	default:
		break;
	}
	return 1;
}

static void
output_cb(const char *data, size_t len, void *user)
{
	struct screen *s = user;

	buf_add(&s->out, data, len);
}

static const VTermScreenCallbacks screen_cbs = {
    .settermprop = settermprop_cb,
    .sb_pushline = sb_pushline_cb,
};

struct screen *
screen_new(int rows, int cols, int scrollback)
{
	struct screen *s = xcalloc(1, sizeof *s);

	s->rows = rows;
	s->cols = cols;
	s->cursor_visible = 1;
	s->sb_max = scrollback;
	if (scrollback > 0)
		s->sb = xcalloc((size_t)scrollback, sizeof *s->sb);
	buf_init(&s->out);
	buf_init(&s->pend);
	s->vt = vterm_new(rows, cols);
	vterm_set_utf8(s->vt, 1);
	vterm_output_set_callback(s->vt, output_cb, s);
	s->vs = vterm_obtain_screen(s->vt);
	vterm_screen_set_callbacks(s->vs, &screen_cbs, s);
	vterm_screen_enable_altscreen(s->vs, 1);
	vterm_screen_reset(s->vs, 1);
	return s;
}

void
screen_free(struct screen *s)
{
	if (s == NULL)
		return;
	vterm_free(s->vt);
	for (int i = 0; i < s->sb_len; i++)
		free(s->sb[(s->sb_head + i) % s->sb_max]);
	free(s->sb);
	free(s->title);
	buf_release(&s->out);
	buf_release(&s->pend);
	free(s);
}

/* libvterm (0.3) shows U+FFFD for a UTF-8 sequence cut between two
 * writes, and a PTY read cuts anywhere: so a write never ends inside
 * one; its start waits for the next. */
static void
vt_write(struct screen *s, const char *data, size_t len)
{
	struct buf joined = BUF_INIT;
	size_t whole;

	/* escapes go through the guard (flood.h): a copy, only when there
	 * is one */
	if (s->guard.state != 0 || memchr(data, 0x1b, len) != NULL) {
		buf_grow(&joined, len + 4);
		buf_add(&joined, s->carry, (size_t)s->ncarry);
		size_t n =
		    flood_guard(&s->guard, data, len, joined.data + joined.len);
		joined.len += n;
		joined.data[joined.len] = '\0';
		data = joined.data;
		len = joined.len;
		s->ncarry = 0;
	} else {
		/* plain text the guard does not see: it must still know
		 * what was printed last, or a later REP is kept or dropped
		 * depending on where reads were cut (found by
		 * tests/fuzz/fuzz-screen.c) */
		flood_printed(&s->guard, data, len);
		if (s->ncarry > 0) { /* only after a read cut a sequence */
			buf_add(&joined, s->carry, (size_t)s->ncarry);
			buf_add(&joined, data, len);
			data = joined.data;
			len = joined.len;
			s->ncarry = 0;
		}
	}
	whole = flood_utf8_cut(data, len);
	vterm_input_write(s->vt, data, whole);
	memcpy(s->carry, data + whole, len - whole);
	s->ncarry = (int)(len - whole);
	buf_release(&joined);
}

/* Leave out what of the pending text would scroll past the scrollback;
 * in its place, what leaves the cursor where it would have left it. */
static void
skip_hidden(struct screen *s)
{
	size_t a, b, rows = (size_t)s->rows;
	size_t need = 2 * rows + (size_t)(s->sb_max > 0 ? s->sb_max : 0) + 1;

	if (s->no_skip ||
	    !flood_split(s->pend.data, s->pend.len, need, rows, &a, &b))
		return;
	vt_write(s, s->pend.data, a);
	vt_write(s, "\r", 1);
	for (size_t i = 0; i < rows; i++)
		vt_write(s, "\n", 1);
	s->skipped += b - a;
	buf_consume(&s->pend, b);
}

/* Feed what waits: before anything reads the screen. */
static void
settle(struct screen *s)
{
	if (s->pend.len == 0)
		return;
	skip_hidden(s);
	vt_write(s, s->pend.data, s->pend.len);
	if (s->pend.alloc > 64 * 1024)
		buf_release(&s->pend);
	else
		buf_reset(&s->pend);
}

void
screen_feed(struct screen *s, const char *data, size_t len)
{
	size_t tail = flood_scan(&s->csi, data, len);

	/* a read with anything but plain text goes whole: where a malformed
	 * sequence ends is libvterm's to say, not ours (fuzz-screen.c) */
	if (tail > 0)
		tail = len;
	if (s->csi.region)
		s->no_skip = 1;
	if (tail > 0 || s->no_skip) {
		/* bytes that change state: in order, after what waits */
		settle(s);
		if (s->no_skip)
			tail = len;
		vt_write(s, data, tail);
	}
	if (tail == len)
		return;
	buf_add(&s->pend, data + tail, len - tail);
	if (s->pend.len > PEND_MAX) {
		skip_hidden(s);
		if (s->pend.len > PEND_MAX / 2)
			settle(s);
	}
}

void
screen_settle(struct screen *s)
{
	settle(s);
}

int
screen_pending(const struct screen *s)
{
	return s->pend.len > 0;
}

void
screen_no_skip(struct screen *s)
{
	settle(s);
	s->no_skip = 1;
}

unsigned long long
screen_skipped(const struct screen *s)
{
	return s->skipped;
}

void
screen_resize(struct screen *s, int rows, int cols)
{
	if (rows == s->rows && cols == s->cols)
		return;
	settle(s);
	s->rows = rows;
	s->cols = cols;
	vterm_set_size(s->vt, rows, cols);
}

static void
row_text(struct screen *s, int row, struct buf *b)
{
	VTermScreenCell *cells = xcalloc((size_t)s->cols, sizeof *cells);

	for (int c = 0; c < s->cols; c++) {
		VTermPos pos = {row, c};
		vterm_screen_get_cell(s->vs, pos, &cells[c]);
	}
	cells_to_text(cells, s->cols, b);
	free(cells);
}

void
screen_text(struct screen *s, int history, struct buf *out)
{
	size_t keep;

	settle(s);
	if (history > s->sb_len)
		history = s->sb_len;
	if (history < 0)
		history = 0;
	for (int i = s->sb_len - history; i < s->sb_len; i++) {
		buf_adds(out, s->sb[(s->sb_head + i) % s->sb_max]);
		buf_addc(out, '\n');
	}
	keep = out->len;
	for (int r = 0; r < s->rows; r++) {
		row_text(s, r, out);
		buf_addc(out, '\n');
		/* remember the end of the last non-blank line */
		if (out->len >= 2 && out->data[out->len - 2] != '\n')
			keep = out->len;
	}
	out->len = keep;
	out->data[out->len] = '\0';
}

static void
sgr(struct buf *b, const VTermScreenCell *c)
{
	buf_adds(b, "\033[0");
	if (c->attrs.bold)
		buf_adds(b, ";1");
	if (c->attrs.italic)
		buf_adds(b, ";3");
	if (c->attrs.underline)
		buf_adds(b, ";4");
	if (c->attrs.blink)
		buf_adds(b, ";5");
	if (c->attrs.reverse)
		buf_adds(b, ";7");
	if (c->attrs.strike)
		buf_adds(b, ";9");
	if (VTERM_COLOR_IS_INDEXED(&c->fg) &&
	    !VTERM_COLOR_IS_DEFAULT_FG(&c->fg))
		buf_addf(b, ";38;5;%d", c->fg.indexed.idx);
	else if (VTERM_COLOR_IS_RGB(&c->fg) &&
	    !VTERM_COLOR_IS_DEFAULT_FG(&c->fg))
		buf_addf(b, ";38;2;%d;%d;%d", c->fg.rgb.red, c->fg.rgb.green,
		    c->fg.rgb.blue);
	if (VTERM_COLOR_IS_INDEXED(&c->bg) &&
	    !VTERM_COLOR_IS_DEFAULT_BG(&c->bg))
		buf_addf(b, ";48;5;%d", c->bg.indexed.idx);
	else if (VTERM_COLOR_IS_RGB(&c->bg) &&
	    !VTERM_COLOR_IS_DEFAULT_BG(&c->bg))
		buf_addf(b, ";48;2;%d;%d;%d", c->bg.rgb.red, c->bg.rgb.green,
		    c->bg.rgb.blue);
	buf_addc(b, 'm');
}

static int
same_pen(const VTermScreenCell *a, const VTermScreenCell *b)
{
	return memcmp(&a->attrs, &b->attrs, sizeof a->attrs) == 0 &&
	    vterm_color_is_equal(&a->fg, &b->fg) &&
	    vterm_color_is_equal(&a->bg, &b->bg);
}

void
screen_repaint(struct screen *s, struct buf *b)
{
	VTermScreenCell cell, pen;
	VTermPos cur;
	int have_pen = 0;

	settle(s);
	buf_adds(b, s->altscreen ? "\033[?1049h" : "\033[?1049l");
	buf_adds(b, "\033[0m\033[H\033[2J");
	for (int r = 0; r < s->rows; r++) {
		buf_addf(b, "\033[%d;1H", r + 1);
		for (int c = 0; c < s->cols; c++) {
			VTermPos pos = {r, c};
			vterm_screen_get_cell(s->vs, pos, &cell);
			if (cell.chars[0] == (uint32_t)-1)
				continue;
			if (!have_pen || !same_pen(&cell, &pen)) {
				sgr(b, &cell);
				pen = cell;
				have_pen = 1;
			}
			cell_utf8(&cell, b);
			if (cell.width > 1)
				c += cell.width - 1;
		}
	}
	vterm_state_get_cursorpos(vterm_obtain_state(s->vt), &cur);
	buf_addf(b, "\033[0m\033[%d;%dH", cur.row + 1, cur.col + 1);
	buf_adds(b, s->cursor_visible ? "\033[?25h" : "\033[?25l");
}

void
screen_cursor(struct screen *s, int *row, int *col)
{
	VTermPos cur;

	settle(s);
	vterm_state_get_cursorpos(vterm_obtain_state(s->vt), &cur);
	*row = cur.row;
	*col = cur.col;
}

void
screen_size(struct screen *s, int *rows, int *cols)
{
	*rows = s->rows;
	*cols = s->cols;
}

const char *
screen_title(struct screen *s)
{
	return s->title ? s->title : "";
}

void
screen_take_output(struct screen *s, struct buf *out)
{
	buf_add(out, s->out.data, s->out.len);
	buf_reset(&s->out);
}

int
screen_altscreen(struct screen *s)
{
	return s->altscreen;
}
