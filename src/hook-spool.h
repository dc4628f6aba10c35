/* Hooks that could not be delivered in time (hook-spool.c). */
#ifndef HOOK_SPOOL_H
#define HOOK_SPOOL_H

#include <jansson.h>

#include "err.h"

/* The client: the request written to the spool before it is sent, under
 * a new name (out, 64 bytes); removed once the daemon answered. */
int hook_spool_write(json_t *req, char *name, size_t size);
void hook_spool_drop(const char *name);

/* The daemon: 1 if the hook `name` was applied already (from the spool
 * or its socket); else it is marked as applied and its file removed. */
int hook_spool_claim(const char *name);
/* Replays what waits in the spool at start and then every second;
 * `apply` is hook.c's. */
void hook_spool_init(int (*apply)(json_t *req, json_t *reply, struct err *));
/* hook.c: hook_spool_init with its apply (the daemon, at start) */
void hook_spool_start(void);

#endif
