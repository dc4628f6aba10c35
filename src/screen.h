/* A libvterm screen with a scrollback ring: feed PTY bytes, dump text for
 * peek, and repaint escape sequences for a terminal that attaches. */
#ifndef SCREEN_H
#define SCREEN_H

#include <stddef.h>

#include "buf.h"

struct screen;

struct screen *screen_new(int rows, int cols, int scrollback);
void screen_free(struct screen *);
/* Plain text may wait and the part of a flood that cannot show is left
 * out (flood.h); everything that reads the screen sees it as if every
 * byte had been fed. */
void screen_feed(struct screen *, const char *, size_t);
void screen_settle(struct screen *);
int screen_pending(const struct screen *);
/* Feed every byte from now on (tests compare the two). */
void screen_no_skip(struct screen *);
unsigned long long screen_skipped(const struct screen *);
void screen_resize(struct screen *, int rows, int cols);
/* Text of the visible screen (and the last `history` scrollback lines),
 * trailing blanks trimmed. */
void screen_text(struct screen *, int history, struct buf *out);
/* Escape sequences that redraw the screen on a fresh terminal. */
void screen_repaint(struct screen *, struct buf *out);
void screen_cursor(struct screen *, int *row, int *col);
void screen_size(struct screen *, int *rows, int *cols);
const char *screen_title(struct screen *);
/* Bytes vterm wants to send back to the application (query answers). */
void screen_take_output(struct screen *, struct buf *out);
int screen_altscreen(struct screen *);

#endif
