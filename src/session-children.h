/* A session's subagents and background tasks (session-children.c). */
#ifndef SESSION_CHILDREN_H
#define SESSION_CHILDREN_H

#include <jansson.h>

struct session;

/* Every hook, before its state logic (session-hook.c). */
void session_children_hook(struct session *, const char *event, json_t *);
int session_children_running(struct session *);
/* Running while the session waits or ended: orphaned work. */
int session_children_orphaned(struct session *);
#include <stddef.h>
void session_children_orphan_text(struct session *, char *out, size_t);
/* It ended: what still ran is marked stopped. */
void session_children_end(struct session *);
void session_children_trim(struct session *);
/* Read its subagents' transcripts again (usage written late): those
 * whose usage has not shown yet, or all of them. */
void session_children_reread(struct session *, int all);
json_t *session_children_json(struct session *); /* a new list */

#endif
