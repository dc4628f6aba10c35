/* Error values and their mapping to wire words and exit codes. */
#include <string.h>

#include "err.h"

static const struct {
	enum err_code code;
	const char *word;
	int exit;
} err_table[] = {
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

int
err_set(struct err *e, enum err_code code, const char *fmt, ...)
{
	va_list ap;

	if (e == NULL)
		return -1;
	e->code = code;
	buf_reset(&e->msg);
	va_start(ap, fmt);
	buf_vaddf(&e->msg, fmt, ap);
	va_end(ap);
	return -1;
}

void
err_release(struct err *e)
{
	buf_release(&e->msg);
	e->code = ERR_NONE;
}

const char *
err_word(enum err_code code)
{
	for (size_t i = 0; i < nitems(err_table); i++)
		if (err_table[i].code == code)
			return err_table[i].word;
	return "failed";
}

enum err_code
err_from_word(const char *word)
{
	for (size_t i = 0; word && i < nitems(err_table); i++)
		if (strcmp(err_table[i].word, word) == 0)
			return err_table[i].code;
	return ERR_FAILED;
}

int
err_exit_code(enum err_code code)
{
	for (size_t i = 0; i < nitems(err_table); i++)
		if (err_table[i].code == code)
			return err_table[i].exit;
	return 1;
}

const char *
err_shown(const char *s, char *out, size_t size)
{
	struct buf b = BUF_INIT;

	/* as the CLI prints any error (cmd.c): \x1b for ESC */
	for (; s && *s && b.len + 5 < size; s++)
		buf_add_shown(&b, s, 1);
	memcpy(out, b.len ? b.data : "", b.len);
	out[b.len] = '\0';
	buf_release(&b);
	return out;
}
