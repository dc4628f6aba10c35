/* Named agent definitions (agents.c). */
#ifndef AGENTS_H
#define AGENTS_H

#include <jansson.h>

#include "err.h"

/* *def: {"description","prompt","tools"?,"model"?} for claude --agents,
 * and "disallowedTools"? (not for claude's --agents). */
/* The same from a definition's text (NUL-terminated), path for errors. */
int agent_parse(const char *text, const char *name, const char *path,
    json_t **def, struct err *);
int agent_find(const char *cwd, const char *name, json_t **def, struct err *);

#endif
