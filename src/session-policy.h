/* The operating rules as hooks and the queue meet them (session-policy.c,
 * issue 8): tool rules, budgets, runaways, rate limits. */
#ifndef SESSION_POLICY_H
#define SESSION_POLICY_H

#include <jansson.h>
#include <stddef.h>

#include "err.h"
#include "state.h"

struct session;

void session_policy_init(void);
/* After settings may have changed (a request, a hook, the tick). */
void session_policy_refresh(void);
void session_policy_observe(void);
int session_policy_hook(
    struct session *, const char *event, json_t *payload, json_t *reply);
void session_hook_state(struct session *, enum session_state,
    const char *waiting_for, const char *reason);
void session_policy_count(struct session *, double usd, long long tokens);
void session_policy_usage(struct session *, int messages);
int session_policy_can_start(struct session *, char *why, size_t size);
void session_policy_started(struct session *);
void session_policy_schedule_done(void);
void session_policy_rate_limited(struct session *, const char *kind);
int session_policy_reply(struct session *, struct err *);
/* A gate on a session's tool calls: NULL lets the call through, else why
 * it is denied (caller frees), as the model will read it. */
typedef char *session_gate_fn(
    struct session *, const char *tool, json_t *input);
void session_policy_gate(session_gate_fn *);

#endif
