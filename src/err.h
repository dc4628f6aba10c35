/* Errors as values: a code that maps to a wire word and an exit code, and a
 * one-line message in git's style ("what failed: what to do"). */
#ifndef ERR_H
#define ERR_H

#include "buf.h"

enum err_code {
	ERR_NONE = 0,
	ERR_FAILED,      /* "failed", exit 1 */
	ERR_USAGE,       /* "usage", exit 2 */
	ERR_NOT_FOUND,   /* "not_found", exit 3 */
	ERR_REFUSED,     /* "refused", exit 4 */
	ERR_UNREACHABLE, /* "unreachable", exit 5 */
	ERR_PROTOCOL,    /* "protocol", exit 1 */
	ERR_AMBIGUOUS,   /* "ambiguous", exit 2 */
	ERR_EXISTS,      /* "exists", exit 1 */
};

struct err {
	enum err_code code;
	struct buf msg;
};
#define ERR_INIT                                                               \
	{                                                                      \
		ERR_NONE, BUF_INIT                                             \
	}

int err_set(struct err *, enum err_code, const char *, ...) printflike(3, 4);
void err_release(struct err *);
const char *err_word(enum err_code);
enum err_code err_from_word(const char *);
int err_exit_code(enum err_code);

/* s as an error shows what was typed: control characters (a newline)
 * as \x0a, at most size - 1 bytes, so the error stays one line. */
const char *err_shown(const char *s, char *out, size_t size);

#endif
