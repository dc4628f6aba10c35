/* Session names and ids: syntax checks and names made from prompts. */
#ifndef NAMES_H
#define NAMES_H

#include <stddef.h>

#include "err.h"

int name_valid(const char *); /* [A-Za-z0-9._-]{1,64}, not . or .. */
int name_check(const char *, const char *what, struct err *);
int id_valid(const char *);  /* 8 lowercase hex */
int ref_valid(const char *); /* an id, id prefix or name */
/* A name from free text: lowercase words joined by '-', at most max chars. */
char *name_from_text(const char *text, size_t max);

#endif
