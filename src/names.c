/* Name and id syntax. Names end up in paths (worktrees, branches), so the
 * rule is strict and checked everywhere input arrives. */
#include <ctype.h>
#include <string.h>

#include "galley.h"
#include "names.h"
#include "xmalloc.h"

int
name_valid(const char *s)
{
	size_t n;

	if (s == NULL)
		return 0;
	n = strlen(s);
	if (n == 0 || n > GALLEY_NAME_MAX)
		return 0;
	if (strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!isalnum(c) && c != '.' && c != '_' && c != '-')
			return 0;
	}
	return 1;
}

int
name_check(const char *s, const char *what, struct err *err)
{
	char shown[81];

	if (name_valid(s))
		return 0;
	return err_set(err, ERR_USAGE,
	    "invalid %s '%s': use 1-64 of [A-Za-z0-9._-]", what,
	    err_shown(s, shown, sizeof shown));
}

/* A session name must not pass for an option or for another session's id:
 * `-n -x` could never be reached again, and `-n 5616ba30` would make the
 * printed hints open the session that has that id. */
int
session_name_check(const char *s, struct err *err)
{
	if (name_check(s, "name", err) < 0)
		return -1;
	if (s[0] == '-')
		return err_set(err, ERR_USAGE,
		    "invalid name '%.80s': a name cannot start with '-'", s);
	if (id_valid(s))
		return err_set(err, ERR_USAGE,
		    "invalid name '%s': it looks like a session id (8 hex "
		    "digits); add a letter or a '-'",
		    s);
	return 0;
}

int
id_valid(const char *s)
{
	if (s == NULL || strlen(s) != GALLEY_ID_LEN)
		return 0;
	for (size_t i = 0; i < GALLEY_ID_LEN; i++)
		if (!isxdigit((unsigned char)s[i]) ||
		    isupper((unsigned char)s[i]))
			return 0;
	return 1;
}

int
ref_valid(const char *s)
{
	return name_valid(s);
}

/* Whole words only: a name cut inside a word ("say-hello-there-thin")
 * reads like a typo; the first word alone may be cut. */
char *
name_from_text(const char *text, size_t max)
{
	char *out = xmalloc(max + 1);
	size_t n = 0, word_end = 0;
	int words = 0, sep = 0;

	for (const char *p = text; *p != '\0' && words <= 4; p++) {
		unsigned char c = (unsigned char)*p;
		if (isalnum(c)) {
			if (sep && n > 0) {
				word_end = n;
				if (n + 1 >= max)
					break;
				out[n++] = '-';
			}
			sep = 0;
			if (n >= max) {
				if (word_end > 0)
					n = word_end;
				break;
			}
			out[n++] = (char)tolower(c);
		} else if (!sep) {
			sep = 1;
			if (n > 0)
				words++;
		}
	}
	while (n > 0 && out[n - 1] == '-')
		n--;
	out[n] = '\0';
	if (n == 0) {
		free(out);
		return xstrdup("session");
	}
	return out;
}

/* A name cut to width columns with '~' as its last, so a cut name is never
 * taken for a whole one (names are ASCII; see name_valid). */
const char *
name_fit(const char *name, size_t width, char *out, size_t size)
{
	size_t n = strlen(name);

	if (n <= width || width < 2 || size <= width)
		return name;
	memcpy(out, name, width - 1);
	out[width - 1] = '~';
	out[width] = '\0';
	return out;
}
