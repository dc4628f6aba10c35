/*
 * The operating rules (issue 8, DESIGN §7-§8), as the hooks and the queue
 * meet them. This file joins the subjects, each in its own file:
 *
 * - Tool rules (here). A session's --deny list, and its agent
 *   definition's tools (an allowlist) and disallowedTools, are checked
 *   again in its PreToolUse hook, so a runtime that ignores its own flags
 *   is still held.
 * - Budgets (session-budget.c), runaways (session-runaway.c), provider
 *   rate limits (session-ratelimit.c), and the holds both budgets and
 *   runaways put on a session (session-hold.c). The decisions themselves
 *   are pure functions in policy-rules.c.
 *
 * Their settings (budget.*, runaway.*, rateLimit.*) are the user's, read
 * by the daemon (settings-cache.c); a change applies without a restart.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "session-budget.h"
#include "session-hold.h"
#include "session-ratelimit.h"
#include "session-runaway.h"
#include "session-policy.h"
#include "session.h"
#include "settings-cache.h"
#include "tool-rules.h"
#include "util.h"
#include "xmalloc.h"

static unsigned seen_generation;
static uv_timer_t tick_timer;

void
session_hook_state(struct session *s, enum session_state state,
    const char *waiting_for, const char *reason)
{
	if (s->hold != HOLD_NONE && !s->pass) {
		free(s->held_wait);
		s->held_state = state;
		s->held_wait = waiting_for ? xstrdup(waiting_for) : NULL;
		return;
	}
	session_set_state(s, state, waiting_for, reason);
	if (s->pass && state == SESSION_IDLE) {
		/* the turn a reply let through is over: hold again if the
		 * budget is still spent */
		s->pass = 0;
		s->hold = HOLD_NONE;
		session_budget_check(s);
	}
}

/* A reply through `galley send`: a runaway is let go; a spent budget lets
 * this one turn through. */
int
session_policy_reply(struct session *s, struct err *err)
{
	if (s->hold == HOLD_NONE)
		return 0;
	session_event(s, "hold.reply", NULL);
	free(s->repeat_key);
	s->repeat_key = NULL;
	s->repeat_n = 0;
	s->turns = 0;
	s->progress_at = wall_ms();
	if (s->hold == HOLD_RUNAWAY) {
		session_release(s);
		return 0;
	}
	s->pass = 1;
	session_set_state(s, SESSION_WORKING, NULL, NULL);
	(void)err;
	return 0;
}

/* ---- hooks ------------------------------------------------------------ */

static void
deny_tool(json_t *reply, const char *why)
{
	json_object_set_new(reply, "output",
	    json_pack("{s:{s:s, s:s, s:s}}", "hookSpecificOutput",
	        "hookEventName", "PreToolUse", "permissionDecision", "deny",
	        "permissionDecisionReason", why));
}

/* A held session's new prompt is blocked; a new prompt resets the count
 * of turns and repeats. */
static int
prompt_hook(struct session *s, json_t *reply)
{
	char *why;

	s->turns = 0;
	free(s->repeat_key);
	s->repeat_key = NULL;
	s->repeat_n = 0;
	if (s->hold == HOLD_NONE || s->pass)
		return 0;
	xasprintf(&why, "galley holds this session: %s",
	    s->reason ? s->reason : s->waiting_for);
	json_object_set_new(reply, "output",
	    json_pack("{s:s, s:s}", "decision", "block", "reason", why));
	free(why);
	return 1;
}

/* Gates other modules add (team.c: plan approval, file ownership). */
static session_gate_fn *gates[4];
static size_t ngates;

/* --deny, then the agent's own tools: denied with galley's reason. */
static int
tool_denied(struct session *s, const char *tool, json_t *input, json_t *reply)
{
	const char *rule = tool_rules_find(
	    json_object_get(s->policy, "deny"), tool, input, s->cwd);
	json_t *tools = json_object_get(s->policy, "tools");
	char *why;

	if (rule)
		xasprintf(&why,
		    "galley: %s is denied for this session (--deny '%s')", tool,
		    rule);
	else if (json_array_size(tools) &&
	    tool_rules_find(tools, tool, input, s->cwd) == NULL) {
		rule = "(tools)";
		xasprintf(&why,
		    "galley: %s is not among the tools of this session's "
		    "agent",
		    tool);
	} else
		return 0;
	deny_tool(reply, why);
	session_event_take(s, "policy.deny",
	    json_pack("{s:s, s:s}", "tool", tool, "rule", rule));
	free(why);
	return 1;
}

/* Before the event's own handling: 1 when the session is held and the
 * event must not change its state. */
int
session_policy_hook(
    struct session *s, const char *event, json_t *payload, json_t *reply)
{
	const char *tool =
	    json_string_value(json_object_get(payload, "tool_name"));
	json_t *input = json_object_get(payload, "tool_input");
	char *why;

	session_policy_refresh();
	s->progress_at = wall_ms();
	if (strcmp(event, "UserPromptSubmit") == 0)
		return prompt_hook(s, reply);
	if (strcmp(event, "PreToolUse") != 0 || tool == NULL)
		return 0;
	if (tool_denied(s, tool, input, reply))
		return 0;
	if (s->hold != HOLD_NONE && !s->pass) {
		xasprintf(&why, "galley holds this session: %s",
		    s->reason ? s->reason : s->waiting_for);
		deny_tool(reply, why);
		free(why);
		return 1;
	}
	if ((why = session_runaway_call(s, tool, input)) != NULL) {
		deny_tool(reply, why);
		free(why);
		return 1;
	}
	for (size_t i = 0; i < ngates; i++)
		if ((why = gates[i](s, tool, input)) != NULL) {
			deny_tool(reply, why);
			session_event_take(s, "policy.deny",
			    json_pack("{s:s, s:s}", "tool", tool, "rule", why));
			free(why);
			return 0; /* denied, not held: the state goes on */
		}
	return 0;
}

void
session_policy_gate(session_gate_fn *fn)
{
	if (ngates < nitems(gates))
		gates[ngates++] = fn;
}

/* After new transcript messages: turns and budgets. */
void
session_policy_usage(struct session *s, int messages)
{
	if (!session_budget_ready())
		return; /* not initialised yet (session_load_all) */
	session_runaway_turns(s, messages);
	session_budget_check_all();
}

void
session_policy_count(struct session *s, double usd, long long tokens)
{
	session_budget_count(s, usd, tokens);
}

/* ---- the line ----------------------------------------------------------- */

/* A spent daily budget or its provider's rate limit keeps an agent in
 * line; jobs use no API. */
int
session_policy_can_start(struct session *s, char *why, size_t size)
{
	if (!session_is_agent(s))
		return 1;
	if (session_budget_blocks(s, why, size))
		return 0;
	return session_ratelimit_may_start(s, why, size);
}

void
session_policy_started(struct session *s)
{
	s->progress_at = wall_ms();
	s->turns = 0;
	session_ratelimit_started(s);
}

void
session_policy_schedule_done(void)
{
	session_ratelimit_pass_done();
}

void
session_policy_rate_limited(struct session *s, const char *kind)
{
	session_ratelimit_hit(s, kind);
}

/* ---- the tick: no progress, a new day ---------------------------------- */

static void
tick_cb(uv_timer_t *t)
{
	(void)t;
	session_policy_refresh();
	if (session_budget_new_day())
		session_line_moved();
	session_runaway_tick();
}

static void
tick_arm(void)
{
	double mins = settings_user_num("runaway.noProgressMinutes", 20);
	uint64_t every = (uint64_t)(mins * 60000 / 4);

	if (every < 1000)
		every = 1000;
	if (every > 30000)
		every = 30000;
	if (uv_timer_get_repeat(&tick_timer) != every)
		uv_timer_start(&tick_timer, tick_cb, every, every);
}

/* ---- settings and start-up ------------------------------------------- */

/* Settings changed since we last looked: the tick's pace and the holds
 * follow them. */
void
session_policy_refresh(void)
{
	settings_user(); /* stat'ed again if this is a new pass */
	if (settings_cache_generation() == seen_generation)
		return;
	seen_generation = settings_cache_generation();
	if (session_budget_ready()) {
		tick_arm();
		session_budget_check_all();
	}
}

void
session_policy_init(void)
{
	struct session *s;

	seen_generation = settings_cache_generation();
	session_budget_init();
	uv_timer_init(uv_default_loop(), &tick_timer);
	uv_unref((uv_handle_t *)&tick_timer);
	tick_arm();
	/* holds are states: a held session stays held across a restart */
	TAILQ_FOREACH(s, &session_table, entry) {
		s->progress_at = wall_ms();
		if (!session_live(s) || s->state != SESSION_BLOCKED ||
		    s->waiting_for == NULL)
			continue;
		if (strcmp(s->waiting_for, "budget") == 0)
			s->hold = HOLD_BUDGET;
		else if (strncmp(s->waiting_for, "runaway:", 8) == 0)
			s->hold = HOLD_RUNAWAY;
		if (s->hold)
			s->held_state = SESSION_IDLE;
	}
	session_budget_check_all();
}

void
session_policy_observe(void)
{
	session_ratelimit_observe();
}
