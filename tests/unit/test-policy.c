/* The operating rules as pure decisions (src/policy-rules.c): whether a
 * queued session starts, what a budget's use calls for, when a session
 * is a runaway, how a provider's rate limit holds new starts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "policy-rules.h"

static struct line_facts
free_line(void)
{
	struct line_facts f = {
	    .live = 0, .limit = 8, .project = "alpha", .group = "default"};
	return f;
}

static int
decide(const struct line_facts *f, char *why)
{
	why[0] = '\0';
	return line_decide(f, why, 256);
}

static void
test_line_limits(void **unused)
{
	char why[256];
	struct line_facts f = free_line();

	assert_int_equal(decide(&f, why), 1);
	f.live = 7; /* just below */
	assert_int_equal(decide(&f, why), 1);
	f.live = 8; /* at the limit */
	assert_int_equal(decide(&f, why), 0);
	assert_string_equal(why, "queue: limits.maxRunning 8");
	f.live = 2;
	f.project_limit = 2;
	f.project_live = 1;
	assert_int_equal(decide(&f, why), 1);
	f.project_live = 2;
	assert_int_equal(decide(&f, why), 0);
	assert_string_equal(why, "queue: limits.maxRunning 2 in project alpha");
	f.project_limit = 0; /* none set: the project is not counted */
	f.project_live = 50;
	assert_int_equal(decide(&f, why), 1);
	f.group = "db";
	f.group_limit = 1;
	f.group_live = 1;
	assert_int_equal(decide(&f, why), 0);
	assert_string_equal(why, "queue: group db runs 1 at a time");
	f.group_limit = 0;
	assert_int_equal(decide(&f, why), 1);
}

/* The machine's limit before the project's before the group's. */
static void
test_line_order(void **unused)
{
	char why[256];
	struct line_facts f = free_line();

	f.live = f.limit = 3;
	f.project_limit = f.project_live = 1;
	f.group_limit = f.group_live = 1;
	assert_int_equal(decide(&f, why), 0);
	assert_string_equal(why, "queue: limits.maxRunning 3");
	f.live = 0;
	assert_int_equal(decide(&f, why), 0);
	assert_non_null(strstr(why, "in project"));
	f.policy_why = "rate limit (fake): new starts held until 10:00:00 UTC";
	assert_int_equal(decide(&f, why), 0);
	assert_string_equal(why, f.policy_why);
	/* a dependency comes first: waiting for it, or failing with it */
	f.dep = DEP_WAITING;
	f.dep_name = "build";
	assert_int_equal(decide(&f, why), 0);
	assert_string_equal(why, "after build");
}

static void
test_line_dependencies(void **unused)
{
	char why[256];
	struct line_facts f = free_line();

	f.dep = DEP_ENDED;
	f.dep_name = "build";
	f.dep_id = "abc123";
	f.dep_state = "failed";
	f.dep_reason = "exited with code 2";
	assert_int_equal(decide(&f, why), -1);
	assert_string_equal(
	    why, "dependency build (abc123) ended failed: exited with code 2");
	f.dep_reason = NULL;
	f.dep_state = "stopped";
	assert_int_equal(decide(&f, why), -1);
	assert_string_equal(why, "dependency build (abc123) ended stopped");
	f.dep = DEP_GONE;
	assert_int_equal(decide(&f, why), -1);
	assert_string_equal(why, "dependency abc123 is gone");
}

static void
test_budget_thresholds(void **unused)
{
	struct budget b = {.usd = 0.79, .lim_usd = 1};
	char text[96];

	assert_false(budget_warns(budget_ratio(&b), 0.8));
	b.usd = 0.8; /* exactly at warnPercent */
	assert_true(budget_warns(budget_ratio(&b), 0.8));
	assert_false(budget_warns(budget_ratio(&b), 0)); /* warnings off */
	assert_int_equal(budget_verdict(budget_ratio(&b), 1.5), BUDGET_UNDER);
	b.usd = 0.999;
	assert_int_equal(budget_verdict(budget_ratio(&b), 1.5), BUDGET_UNDER);
	b.usd = 1;
	assert_int_equal(budget_verdict(budget_ratio(&b), 1.5), BUDGET_SPENT);
	b.usd = 1.49;
	assert_int_equal(budget_verdict(budget_ratio(&b), 1.5), BUDGET_SPENT);
	b.usd = 1.5;
	assert_int_equal(budget_verdict(budget_ratio(&b), 1.5), BUDGET_CAPPED);
	/* a cap below 100% stops nothing */
	assert_int_equal(budget_verdict(budget_ratio(&b), 0), BUDGET_SPENT);
	budget_text(&b, text, sizeof text);
	assert_string_equal(text, "$1.50 of $1.00");
}

/* Dollars and tokens: the fuller part decides, and names itself. */
static void
test_budget_fuller_part(void **unused)
{
	struct budget b = {
	    .usd = 0.5, .lim_usd = 1, .tokens = 1200, .lim_tokens = 1000};
	char text[96];

	assert_true(budget_ratio(&b) > 1.19 && budget_ratio(&b) < 1.21);
	assert_false(budget_usd_fuller(&b));
	budget_text(&b, text, sizeof text);
	assert_string_equal(text, "1200 of 1000 tokens");
	struct budget none = {.usd = 50};
	assert_true(budget_ratio(&none) == 0); /* no limit: never spent */
	struct budget tok = {.tokens = 10, .lim_tokens = 10};
	assert_int_equal(budget_verdict(budget_ratio(&tok), 1.5), BUDGET_SPENT);
}

static void
test_runaways(void **unused)
{
	assert_false(runaway_repeats(4, 5));
	assert_true(runaway_repeats(5, 5));
	assert_false(runaway_repeats(100, 1)); /* 1 or 0: off */
	assert_false(runaway_repeats(100, 0));
	assert_false(runaway_turns(500, 500));
	assert_true(runaway_turns(501, 500));
	assert_false(runaway_turns(10000, 0));
	int64_t t0 = 1000000;
	assert_false(runaway_stalled(t0 + 59999, t0, 1));
	assert_true(runaway_stalled(t0 + 60000, t0, 1));
	assert_false(runaway_stalled(t0 + 1000000, t0, 0));
	assert_false(runaway_stalled(t0 + 1000000, 0, 1)); /* never began */
}

static void
test_rate_limit_holds_and_doubles(void **unused)
{
	struct rate_hold h;
	int64_t now = 1000000;

	memset(&h, 0, sizeof h);
	assert_int_equal(rate_may_start(&h, now), RATE_FREE);
	assert_int_equal(rate_hit(&h, now, 30000), 30000);
	assert_int_equal(h.until, now + 30000);
	assert_int_equal(rate_may_start(&h, now + 29999), RATE_HELD);
	/* hits while held double the wait */
	assert_int_equal(rate_hit(&h, now + 1000, 30000), 60000);
	assert_int_equal(rate_hit(&h, now + 2000, 30000), 120000);
	/* never more than 10 minutes */
	for (int i = 0; i < 12; i++)
		rate_hit(&h, now + 3000 + i, 30000);
	assert_int_equal(rate_hit(&h, now + 4000, 30000), 600000);
	/* a hit long after the last starts over */
	int64_t later = now + 10 * 600000;
	assert_int_equal(rate_hit(&h, later, 30000), 30000);
	/* after the hold: one at a time */
	h.next_start = later + 32000;
	assert_int_equal(rate_may_start(&h, later + 31000), RATE_STAGGER);
	assert_int_equal(rate_may_start(&h, later + 32000), RATE_FREE);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_line_limits),
	    cmocka_unit_test(test_line_order),
	    cmocka_unit_test(test_line_dependencies),
	    cmocka_unit_test(test_budget_thresholds),
	    cmocka_unit_test(test_budget_fuller_part),
	    cmocka_unit_test(test_runaways),
	    cmocka_unit_test(test_rate_limit_holds_and_doubles),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
