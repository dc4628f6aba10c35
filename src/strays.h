/* A session's processes outside its process group (strays.c). */
#ifndef STRAYS_H
#define STRAYS_H

#include <jansson.h>

#define STRAYS_MAX 256

/* The live pids (not ours, none in skip) whose environment has
 * GALLEY_SESSION=sid; at most max. */
int strays_find(const char *sid, const int *skip, int nskip, int *out, int max);
/* session id -> how many live processes carry it, in one pass. */
json_t *strays_by_session(void);
/* SIGKILL them; how many. */
int strays_kill(const char *sid, const int *skip, int nskip);

#endif
