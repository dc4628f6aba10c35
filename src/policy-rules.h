/*
 * The decisions of the operating rules, as pure functions of the facts
 * (policy-rules.c): whether a queued session may start, what a budget's
 * use calls for, when a session is a runaway, how long a rate limit holds.
 * The daemon gathers the facts (session-queue.c, session-budget.c,
 * session-runaway.c, session-ratelimit.c); the unit tests state the rules.
 */
#ifndef POLICY_RULES_H
#define POLICY_RULES_H

#include <stddef.h>
#include <stdint.h>

/* ---- the line ---- */
enum dep_status {
	DEP_NONE,    /* no dependency left to wait for */
	DEP_WAITING, /* one has not ended yet */
	DEP_ENDED,   /* one ended otherwise than done */
	DEP_GONE,    /* one was removed */
};

struct line_facts {
	enum dep_status dep;
	const char *dep_name, *dep_id, *dep_state, *dep_reason;
	const char *policy_why; /* a budget or rate limit holds it, or NULL */
	int live, limit;        /* every live session; limits.maxRunning */
	const char *project;    /* its project's name, for the reason */
	int project_live, project_limit; /* limit 0: none */
	const char *group;
	int group_live, group_limit; /* limit 0: none */
};

/* 1: start; 0: wait (why says on what); -1: can never start (why). Checks
 * in this order: dependencies, policy, the machine's limit, the
 * project's, the group's. */
int line_decide(const struct line_facts *, char *why, size_t size);

/* ---- budgets ---- */
struct budget {
	char scope[96]; /* "session:ID", "group:G", "global", "team:ID" */
	char label[128];
	char raise[160]; /* the command that raises it, if not galley budget */
	double usd, lim_usd; /* lim 0: none */
	long long tokens, lim_tokens;
};

/* The fuller of dollars and tokens, as a fraction of the limit. */
double budget_ratio(const struct budget *);
/* 1 when dollars are the fuller part (or the only one) */
int budget_usd_fuller(const struct budget *);
/* "$2.13 of $2.00" / "120000 of 100000 tokens": whichever is fuller */
void budget_text(const struct budget *, char *out, size_t size);

enum budget_verdict {
	BUDGET_UNDER,  /* below 100%: runs (a hold is released) */
	BUDGET_SPENT,  /* held */
	BUDGET_CAPPED, /* stopped: at hardCapPercent (cap < 1: never) */
};
enum budget_verdict budget_verdict(double ratio, double cap);
/* At warnPercent (warn > 0), once. */
int budget_warns(double ratio, double warn);

/* ---- runaways ---- */
/* the same call repeat_n times in a row, limit > 1 */
int runaway_repeats(int repeat_n, int limit);
/* more API replies since the last prompt than max (> 0) */
int runaway_turns(int turns, int max);
/* working with no progress for minutes (> 0) */
int runaway_stalled(int64_t now, int64_t progress_at, double minutes);

/* ---- rate limits ---- */
struct rate_hold {
	int64_t until, next_start, last_hit;
	int level;
};
/* A 429/529 at now: the hold grows (base_ms, doubling while hits keep
 * coming within 4 x base, at most 10 minutes); returns its length. */
int64_t rate_hit(struct rate_hold *, int64_t now, double base_ms);
enum rate_verdict {
	RATE_FREE,    /* starts */
	RATE_HELD,    /* until `until` */
	RATE_STAGGER, /* after the hold: one start every stagger */
};
enum rate_verdict rate_may_start(const struct rate_hold *, int64_t now);

#endif
