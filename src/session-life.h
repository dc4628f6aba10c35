/* A session's life after it is made (session-life.c) and its making
 * (session-create.c). */
#ifndef SESSION_LIFE_H
#define SESSION_LIFE_H

#include <jansson.h>

#include "err.h"

struct session;

/* Create from a spec (spec.h) and put it through the line. */
struct session_spec;
struct session *session_create(const struct session_spec *, struct err *);
/* After the line: -1 with err set if it failed to start. */
int session_line_result(struct session *, struct err *);

/* Fill in what a session's life handles of an executor's reports. */
struct executor_sink;
void session_life_sink(struct executor_sink *);
int session_spawn(struct session *, struct err *);
int session_stop(struct session *, int grace_ms, struct err *);
int session_restart(struct session *, struct err *);
int session_remove(struct session *, int force, struct err *);
/* A new daemon watches the live sessions again. */
void session_adopt_all(void);

#endif
