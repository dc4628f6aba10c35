/* ~/.claude.json as a session's claude will see it (claude-config.c). */
#ifndef CLAUDE_CONFIG_H
#define CLAUDE_CONFIG_H

#include <jansson.h>

#include "err.h"

/* The value of key in an array of "K=V" strings, or NULL. */
const char *env_lookup(json_t *env, const char *key);
char *claude_config_path(json_t *env);
/* *blocked: what would stall an interactive claude in cwd (NULL: nothing);
 * with fix, the answers are written instead (*fixed says if any were). */
int claude_config_prepare(json_t *env, const char *cwd, int fix, char **blocked,
    int *fixed, struct err *);

#endif
