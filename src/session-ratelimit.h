/* Provider rate limits (session-ratelimit.c). */
#ifndef SESSION_RATELIMIT_H
#define SESSION_RATELIMIT_H

#include <stddef.h>

struct session;

/* A 429/529 or an API retry seen by s: new starts for its provider wait. */
void session_ratelimit_hit(struct session *, const char *kind);
/* 1 when its provider lets it start now; else 0 and why. */
int session_ratelimit_may_start(struct session *, char *why, size_t size);
void session_ratelimit_started(struct session *);
void session_ratelimit_pass_done(void);
/* Subscribe to ends: a rate-limited result holds new starts too. */
void session_ratelimit_observe(void);

#endif
