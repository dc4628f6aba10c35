/*
 * What lets a host keep up with a flood of plain text (screen.c): libvterm
 * costs more per byte than reading the PTY and writing the log together,
 * and most of a flood scrolls out of the screen and past the scrollback
 * before anyone looks. These pure functions find which bytes can be left
 * out without changing the screen, the scrollback or any terminal state.
 */
#ifndef FLOOD_H
#define FLOOD_H

#include <stddef.h>

/* Where the trailing run of plain bytes starts (len if the last byte is
 * not plain, 0 if all are). Plain: printable ASCII, DEL, UTF-8 bytes, and
 * the controls \t \n \r \b, none of which changes the pen, a mode, a tab
 * stop or the title. */
size_t flood_plain_tail(const char *p, size_t len);

/* In a run of plain bytes, a span [*a, *b) that can be dropped when
 * `need` line feeds follow it: it starts after the first line (so a
 * sequence still open before the run is closed as it would have been),
 * ends just after a "\r\n" and holds `inside` line feeds (so the cursor
 * it leaves is known: the left margin of the bottom row; feed "\r" and
 * as many line feeds in its place). 1 if there is such a span. */
int flood_split(const char *p, size_t len, size_t need, size_t inside,
    size_t *a, size_t *b);

/* Where p stops being whole UTF-8: len, or the start of a sequence the
 * end cuts (at most 3 bytes before it). */
size_t flood_utf8_cut(const char *p, size_t len);

/* Follows escape sequences across reads. */
struct flood_csi {
	int state;  /* 0 ground, 1 after ESC, 2 CSI, 3 string, 4 ESC + more */
	int params; /* the CSI has numbers */
	int region; /* a scroll region was set (CSI top;bottom r): text
	             * below it does not scroll, so nothing may be left out */
};
/* How much of p must be fed now: up to its last byte that is not plain,
 * or that ends an escape sequence (its final byte may be a letter), or
 * all of it if it ends inside one. The rest can wait. */
size_t flood_scan(struct flood_csi *, const char *p, size_t len);

/* What libvterm (0.1.4, Debian 12) cannot take, found by
 * tests/fuzz/fuzz-screen.c: a CSI with more than 16 parameters (';' or
 * ':') crashes it, and REP (CSI n b) loops forever when the last
 * character printed has no width (none yet, or a combining mark that had
 * nothing to combine with: "l\n" U+0301 then REP); any program could kill
 * or hang its host by printing one. The guard copies in to out (never
 * longer), leaving out the parameters past the 16th and turning a REP
 * into a CSI libvterm ignores unless the last character printed was
 * ASCII and no byte past ASCII came since, in any state (ncurses sends
 * REP after ASCII and Latin-1 only); its state lasts
 * across writes. Returns out's length. flood_printed says the same of
 * text written past the guard (no escape in it). */
#define FLOOD_CSI_ARGS 16
struct flood_guard {
	int state;   /* 0 ground, 1 after ESC, 2 in CSI, 3 in a string */
	int seps;    /* parameter separators in this CSI */
	int printed; /* the last character printed was ASCII: REP is safe */
};
size_t flood_guard(struct flood_guard *, const char *in, size_t len, char *out);
void flood_printed(struct flood_guard *, const char *p, size_t len);

#endif
