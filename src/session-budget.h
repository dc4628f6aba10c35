/* Budgets (session-budget.c). */
#ifndef SESSION_BUDGET_H
#define SESSION_BUDGET_H

#include <jansson.h>
#include <stddef.h>

#include "err.h"
#include "policy-rules.h"

struct session;

/* Today's spending from the store (at start, and each new day). */
void session_budget_init(void);
/* 1 once today's totals are loaded. */
int session_budget_ready(void);
/* A new UTC day: daily budgets start afresh. 1 if it was one. */
int session_budget_new_day(void);
/* Spending counted into today's totals. */
void session_budget_count(struct session *, double usd, long long tokens);
/* Warn, hold, stop or release by its budgets. */
void session_budget_check(struct session *);
void session_budget_check_all(void);
/* More budgets over a session, from other modules (team.c: its
 * team's, workflow.c: its run's): fill *b and return 1, or 0. */
typedef int budget_source_fn(struct session *, struct budget *b);
void session_budget_source(budget_source_fn *);
/* 1 when a spent daily budget keeps it in line (why says which). */
int session_budget_blocks(struct session *, char *why, size_t size);
/* galley budget */
json_t *session_budget_status(void);
int session_budget_raise(
    const char *scope, double usd, long long tokens, struct err *);

#endif
