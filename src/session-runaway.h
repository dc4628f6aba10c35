/* Runaway detection (session-runaway.c). */
#ifndef SESSION_RUNAWAY_H
#define SESSION_RUNAWAY_H

#include <jansson.h>

struct session;

/* A PreToolUse call: the reason it was denied and the session held (the
 * caller frees it), or NULL. */
char *session_runaway_call(struct session *, const char *tool, json_t *in);
/* New API replies in its transcript. */
void session_runaway_turns(struct session *, int messages);
/* Every so often: working sessions that made no progress. */
void session_runaway_tick(void);

#endif
