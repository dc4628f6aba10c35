/* Holds (session-hold.c): a budget or a runaway keeps a session blocked. */
#ifndef SESSION_HOLD_H
#define SESSION_HOLD_H

struct session;

enum { HOLD_NONE, HOLD_BUDGET, HOLD_RUNAWAY };

/* Blocked with wait and reason; what its hooks say meanwhile is kept. */
void session_hold(
    struct session *, int kind, const char *wait, const char *reason);
/* Back to the state its hooks reported meanwhile. */
void session_release(struct session *);

#endif
