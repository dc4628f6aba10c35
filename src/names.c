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
	if (name_valid(s))
		return 0;
	return err_set(err, ERR_USAGE,
	    "invalid %s '%.80s': use 1-64 of [A-Za-z0-9._-]", what, s ? s : "");
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

char *
name_from_text(const char *text, size_t max)
{
	char *out = xmalloc(max + 1);
	size_t n = 0;
	int words = 0, sep = 0;

	for (const char *p = text; *p != '\0' && words <= 4; p++) {
		unsigned char c = (unsigned char)*p;
		if (isalnum(c)) {
			if (sep && n > 0) {
				if (n + 1 >= max)
					break;
				out[n++] = '-';
			}
			sep = 0;
			if (n >= max)
				break;
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
