/* Session names and ids: syntax checks and names made from prompts. */
#ifndef NAMES_H
#define NAMES_H

#include <stddef.h>

#include "err.h"

int name_valid(const char *); /* [A-Za-z0-9._-]{1,64}, not . or .. */
int name_check(const char *, const char *what, struct err *);
/* name_check, and not starting with '-' nor shaped like an id */
int session_name_check(const char *, struct err *);
int id_valid(const char *);  /* 8 lowercase hex */
int ref_valid(const char *); /* an id, id prefix or name */
/* A name from free text: lowercase words joined by '-', at most max chars,
 * cut at a word boundary. */
char *name_from_text(const char *text, size_t max);
/* automatic session names fit the name column of ls and the view */
#define NAME_AUTO_MAX 20
/* name, or its first width-1 characters and "~" in out */
const char *name_fit(const char *name, size_t width, char *out, size_t size);

#endif
