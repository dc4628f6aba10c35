/*
 * Finding the part of a plain-text flood that cannot show (flood.h).
 *
 * Why dropping [a, b) changes nothing that can be seen: the span holds
 * only plain bytes, which change no pen, mode, tab stop, charset or title;
 * they only write cells and move the cursor. It ends after a "\r\n" and
 * holds at least `rows` line feeds, so it leaves the cursor at the left
 * margin of the bottom row, as the "\r" and `rows` line feeds fed in its
 * place do; the `need` line feeds that follow (twice the rows plus the
 * scrollback) scroll every row it could have written, and every row of
 * the screen before it, out of the screen and then out of the scrollback
 * ring. Only a scroll region breaks that (a line feed below it does not
 * scroll): flood_scan notes one, and the screen then feeds every byte.
 */
#include <string.h>

#include "flood.h"

static int
plain(unsigned char c)
{
	return c >= 0x20 || c == '\t' || c == '\n' || c == '\r' || c == '\b';
}

size_t
flood_plain_tail(const char *p, size_t len)
{
	size_t i = len;

	while (i > 0 && plain((unsigned char)p[i - 1]))
		i--;
	return i;
}

size_t
flood_utf8_cut(const char *p, size_t len)
{
	for (size_t back = 1; back <= 3 && back <= len; back++) {
		unsigned char c = (unsigned char)p[len - back];
		if ((c & 0xc0) == 0x80)
			continue; /* a continuation byte: look further back */
		size_t need = (c & 0xe0) == 0xc0 ? 2
		    : (c & 0xf0) == 0xe0         ? 3
		    : (c & 0xf8) == 0xf0         ? 4
		                                 : 1;
		return need > back ? len - back : len;
	}
	return len;
}

int
flood_split(
    const char *p, size_t len, size_t need, size_t inside, size_t *a, size_t *b)
{
	const char *first = memchr(p, '\n', len);
	size_t seen = 0, in = 0, i = len;

	if (first == NULL || need == 0)
		return 0;
	*a = (size_t)(first - p) + 1;
	*b = 0;
	/* back from the end: past `need` line feeds, to the "\r\n" before
	 * them that ends the span, then `inside` line feeds within it */
	while (i > *a) {
		i--;
		if (p[i] != '\n')
			continue;
		if (*b == 0 && seen >= need && i > 0 && p[i - 1] == '\r')
			*b = i + 1;
		else if (*b == 0) {
			seen++;
			continue;
		}
		if (++in >= inside)
			return 1;
	}
	return 0;
}

size_t
flood_scan(struct flood_csi *c, const char *p, size_t len)
{
	size_t i = 0, end = 0, tail;

	while (i < len) {
		if (c->state == 0) {
			const char *e = memchr(p + i, 0x1b, len - i);
			if (e == NULL)
				break;
			i = (size_t)(e - p) + 1;
			c->state = 1;
			continue;
		}
		unsigned char ch = (unsigned char)p[i++];
		if (ch == 0x18 || ch == 0x1a) { /* CAN, SUB: aborted */
			c->state = 0;
			end = i;
		} else if (ch == 0x1b)
			c->state = 1;
		else if (c->state == 1 || c->state == 4) {
			/* as libvterm: C0, DEL and bytes past ASCII leave it
			 * in ESC, and '[' starts a CSI after intermediates too
			 * (ESC * [ ... is a CSI to it) */
			if (ch == '[') {
				c->state = 2;
				c->params = 0;
			} else if (c->state == 1 &&
			    (ch == ']' || ch == 'P' || ch == '_' || ch == '^' ||
			        ch == 'X'))
				c->state = 3;
			else if (ch >= 0x20 && ch <= 0x2f)
				c->state = 4;
			else if (ch >= 0x30 && ch <= 0x7e) {
				c->state = 0;
				end = i;
			}
		} else if (c->state == 2) {
			if (ch >= '0' && ch <= ';')
				c->params = 1; /* digits, ':' and ';' */
			else if (ch >= 0x40) {
				if (ch == 'r' && c->params)
					c->region = 1;
				c->state = 0;
				end = i;
			}
			/* markers, intermediates; C0 controls are executed
			 * inside a CSI and it goes on */
		} else if (c->state == 3) {
			if (ch == 0x07) {
				c->state = 0;
				end = i;
			}
		}
	}
	if (c->state != 0)
		return len; /* it goes on in the next read */
	tail = flood_plain_tail(p, len);
	return tail > end ? tail : end;
}

void
flood_printed(struct flood_guard *g, const char *p, size_t len)
{
	for (size_t i = len; i-- > 0;) {
		unsigned char c = (unsigned char)p[i];
		if (c >= 0x20 && c != 0x7f) {
			g->printed = c < 0x7f;
			return;
		}
	}
}

size_t
flood_guard(struct flood_guard *g, const char *in, size_t len, char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];
		if (c >= 0x80)
			g->printed = 0; /* in any state: what libvterm makes
			                 * of it may be a glyph without width */
		if (g->state == 0) {
			if (c == 0x1b)
				g->state = 1;
			else if (c >= 0x20 && c < 0x7f)
				g->printed = 1; /* ASCII: width 1 */
		} else if (c == 0x1b) {
			g->state = 1;
		} else if (c == 0x18 || c == 0x1a) {
			g->state = 0;
		} else if (g->state == 3) { /* a string: to BEL or ESC \ */
			if (c == 0x07)
				g->state = 0;
		} else if (g->state == 1) {
			/* libvterm stays in ESC over C0, intermediates, DEL
			 * and bytes past ASCII: only a final byte (0x30 on:
			 * ESC 7 saves the cursor) ends it */
			if (c == ']' || c == 'P' || c == '_' || c == '^' ||
			    c == 'X')
				g->state = 3;
			else if (c >= 0x30 && c <= 0x7e) {
				g->state = c == '[' ? 2 : 0;
				g->seps = 0;
			}
		} else if (c == ';' || c == ':') {
			if (++g->seps >= FLOOD_CSI_ARGS)
				continue; /* a parameter too many */
		} else if (c >= '0' && c <= '9') {
			if (g->seps >= FLOOD_CSI_ARGS)
				continue;
		} else if (c >= 0x40 && c <= 0x7e) {
			g->state = 0; /* the final byte */
			/* REP (repeat the last character) spins libvterm
			 * forever if that has no width: only after ASCII */
			if (c == 'b' && !g->printed)
				c = '~';
		}
		out[o++] = (char)c;
	}
	return o;
}
