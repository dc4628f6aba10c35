/* The rules of policy-rules.h: no state, no I/O. */
#include <stdio.h>

#include "policy-rules.h"

int
line_decide(const struct line_facts *f, char *why, size_t size)
{
	switch (f->dep) {
	case DEP_GONE:
		snprintf(why, size, "dependency %s is gone",
		    f->dep_id ? f->dep_id : "?");
		return -1;
	case DEP_ENDED:
		snprintf(why, size, "dependency %s (%s) ended %s%s%s",
		    f->dep_name, f->dep_id, f->dep_state,
		    f->dep_reason ? ": " : "",
		    f->dep_reason ? f->dep_reason : "");
		return -1;
	case DEP_WAITING:
		snprintf(why, size, "after %s", f->dep_name);
		return 0;
	case DEP_NONE:
		break;
	}
	if (f->policy_why) {
		snprintf(why, size, "%s", f->policy_why);
		return 0;
	}
	if (f->live >= f->limit) {
		snprintf(why, size, "queue: limits.maxRunning %d", f->limit);
		return 0;
	}
	if (f->project_limit > 0 && f->project_live >= f->project_limit) {
		snprintf(why, size, "queue: limits.maxRunning %d in project %s",
		    f->project_limit, f->project ? f->project : "?");
		return 0;
	}
	if (f->group_limit > 0 && f->group_live >= f->group_limit) {
		snprintf(why, size, "queue: group %s runs %d at a time",
		    f->group, f->group_limit);
		return 0;
	}
	return 1;
}

double
budget_ratio(const struct budget *b)
{
	double r = 0;

	if (b->lim_usd > 0)
		r = b->usd / b->lim_usd;
	if (b->lim_tokens > 0 && (double)b->tokens / (double)b->lim_tokens > r)
		r = (double)b->tokens / (double)b->lim_tokens;
	return r;
}

int
budget_usd_fuller(const struct budget *b)
{
	return b->lim_usd > 0 &&
	    (b->lim_tokens <= 0 ||
	        b->usd / b->lim_usd >= (double)b->tokens / b->lim_tokens);
}

void
budget_text(const struct budget *b, char *out, size_t size)
{
	if (budget_usd_fuller(b))
		snprintf(out, size, "$%.2f of $%.2f", b->usd, b->lim_usd);
	else
		snprintf(
		    out, size, "%lld of %lld tokens", b->tokens, b->lim_tokens);
}

enum budget_verdict
budget_verdict(double ratio, double cap)
{
	if (ratio < 1)
		return BUDGET_UNDER;
	if (cap >= 1 && ratio >= cap)
		return BUDGET_CAPPED;
	return BUDGET_SPENT;
}

int
budget_warns(double ratio, double warn)
{
	return warn > 0 && ratio >= warn;
}

int
runaway_repeats(int repeat_n, int limit)
{
	return limit > 1 && repeat_n >= limit;
}

int
runaway_turns(int turns, int max)
{
	return max > 0 && turns > max;
}

int
runaway_stalled(int64_t now, int64_t progress_at, double minutes)
{
	return minutes > 0 && progress_at != 0 &&
	    now - progress_at >= (int64_t)(minutes * 60000);
}

#define RATE_HOLD_MAX_MS 600000
#define RATE_LEVEL_MAX 8

int64_t
rate_hit(struct rate_hold *h, int64_t now, double base_ms)
{
	/* hits while still backing off (or just after) double the wait */
	int recent = h->last_hit && now - h->last_hit < (int64_t)(base_ms * 4);

	if (recent && h->level < RATE_LEVEL_MAX)
		h->level++;
	else if (!recent)
		h->level = 0;
	h->last_hit = now;
	double wait = base_ms * (double)(1 << h->level);
	if (wait > RATE_HOLD_MAX_MS)
		wait = RATE_HOLD_MAX_MS;
	if (now + (int64_t)wait > h->until)
		h->until = now + (int64_t)wait;
	h->next_start = 0;
	return (int64_t)wait;
}

enum rate_verdict
rate_may_start(const struct rate_hold *h, int64_t now)
{
	if (h->until == 0)
		return RATE_FREE;
	if (now < h->until)
		return RATE_HELD;
	if (now < h->next_start)
		return RATE_STAGGER;
	return RATE_FREE;
}
