/*
 * A growable byte buffer (git's strbuf). Invariants: data is never NULL and
 * always NUL-terminated; it may hold embedded NULs (PTY bytes do), so use len.
 * Ownership leaves only through buf_detach().
 */
#ifndef BUF_H
#define BUF_H

#include <stddef.h>
#include <stdarg.h>

#include "galley.h"

struct buf {
	char *data;
	size_t len;
	size_t alloc;
};

extern char buf_empty[];
#define BUF_INIT                                                               \
	{                                                                      \
		buf_empty, 0, 0                                                \
	}

void buf_init(struct buf *);
void buf_release(struct buf *);
void buf_reset(struct buf *);
void buf_grow(struct buf *, size_t);
void buf_add(struct buf *, const void *, size_t);
void buf_adds(struct buf *, const char *);
/* n bytes as one line shows them: control characters as \x1b. */
void buf_add_shown(struct buf *, const char *, size_t n);
/* s single-quoted for sh: 'it'\\''s'. */
void buf_add_sh_quoted(struct buf *, const char *s);
void buf_addc(struct buf *, char);
void buf_addf(struct buf *, const char *, ...) printflike(2, 3);
void buf_vaddf(struct buf *, const char *, va_list) printflike(2, 0);
void buf_consume(struct buf *, size_t);
char *buf_detach(struct buf *, size_t *);

#endif
