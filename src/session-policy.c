/*
 * The operating rules (issue 8, DESIGN §7-§8), enforced in the daemon:
 *
 * - Tool rules. A session's --deny list, and its agent definition's tools
 *   (an allowlist) and disallowedTools, are checked again in its
 *   PreToolUse hook, so a runtime that ignores its own flags is still held.
 * - Budgets. In dollars and tokens: the session's own (--budget-usd,
 *   --budget-tokens), its group's per day (budget.group.G,
 *   budget.groupTokens.G) and everyone's per day (budget.usd,
 *   budget.tokens). At budget.warnPercent an event; at 100% every session
 *   under that budget is held (blocked, waiting_for "budget"): its tool
 *   calls and new prompts are denied by the hooks, and queued sessions
 *   under it wait. `galley budget raise` releases it, a reply through
 *   `galley send` lets one more turn through, and at
 *   budget.hardCapPercent it is stopped.
 * - Runaways. The same tool call with the same input runaway.repeat times
 *   in a row, more than runaway.maxTurns API replies since the last
 *   prompt, or no hook and no transcript growth for
 *   runaway.noProgressMinutes while working: blocked with the reason until
 *   a reply.
 * - Rate limits. A 429 or 529 seen by one session (StopFailure, or a
 *   headless result) holds new starts for that provider for
 *   rateLimit.backoffSeconds (doubling while they keep coming, at most
 *   10 minutes); then they start again one every rateLimit.staggerSeconds.
 *
 * Settings are the caller's, like the queue's limits: every `new`, `exec`
 * and `budget` request carries them, and the latest apply.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "server.h"
#include "session-life.h"
#include "session.h"
#include "settings-cache.h"
#include "settings.h"
#include "tool-rules.h"
#include "util.h"
#include "xmalloc.h"

/* budget.*, runaway.* and rateLimit.* are the daemon's, from the user's
 * settings (settings-cache.c re-reads them when they change): daily
 * budgets and provider backoffs span every project. */
static unsigned seen_generation;

static double
setting_num(const char *path, double dflt)
{
	json_t *v = settings_get(settings_user(), path);

	return json_is_number(v) && json_number_value(v) >= 0
	    ? json_number_value(v)
	    : dflt;
}

/* ---- today's spending ---------------------------------------------- */

static struct {
	char day[11];
	double usd;
	long long tokens;
	json_t *groups; /* name -> [usd, tokens] */
	json_t *raises; /* scope -> [usd, tokens], for today */
	json_t *warned; /* scope keys warned today */
} today;

static void
pair_add(json_t *obj, const char *key, double usd, long long tokens)
{
	json_t *p = json_object_get(obj, key);

	if (p == NULL) {
		p = json_pack("[f, I]", 0.0, (json_int_t)0);
		json_object_set_new(obj, key, p);
	}
	json_array_set_new(
	    p, 0, json_real(json_number_value(json_array_get(p, 0)) + usd));
	json_array_set_new(p, 1,
	    json_integer(json_integer_value(json_array_get(p, 1)) + tokens));
}

/* Read today's totals and raises from the store; again at midnight. */
static void
today_load(void)
{
	static const char use_sql[] =
	    "SELECT coalesce(s.grp, 'default'), sum(u.cost_usd),"
	    " sum(u.input_tokens + u.output_tokens + u.cache_read_tokens +"
	    " u.cache_write_tokens) FROM usage_daily u LEFT JOIN sessions s"
	    " ON s.id = u.session WHERE u.day = ? GROUP BY 1";
	static const char raise_sql[] =
	    "SELECT scope, usd, tokens FROM budget_raises WHERE day = ?";
	sqlite3_stmt *st;

	iso_day(wall_ms(), today.day);
	today.usd = 0;
	today.tokens = 0;
	json_decref(today.groups);
	json_decref(today.raises);
	json_decref(today.warned);
	today.groups = json_object();
	today.raises = json_object();
	today.warned = json_object();
	if ((st = store_stmt(&galley_db, use_sql)) != NULL) {
		sqlite3_bind_text(st, 1, today.day, -1, SQLITE_TRANSIENT);
		while (sqlite3_step(st) == SQLITE_ROW) {
			const char *g =
			    (const char *)sqlite3_column_text(st, 0);
			double usd = sqlite3_column_double(st, 1);
			long long tok = sqlite3_column_int64(st, 2);
			pair_add(today.groups, g ? g : "default", usd, tok);
			today.usd += usd;
			today.tokens += tok;
		}
		sqlite3_reset(st);
	}
	if ((st = store_stmt(&galley_db, raise_sql)) != NULL) {
		sqlite3_bind_text(st, 1, today.day, -1, SQLITE_TRANSIENT);
		while (sqlite3_step(st) == SQLITE_ROW) {
			const char *sc =
			    (const char *)sqlite3_column_text(st, 0);
			if (sc)
				pair_add(today.raises, sc,
				    sqlite3_column_double(st, 1),
				    sqlite3_column_int64(st, 2));
		}
		sqlite3_reset(st);
	}
}

/* ---- budgets -------------------------------------------------------- */

struct budget {
	char scope[96]; /* "session:ID", "group:G", "global" */
	char label[128];
	double usd, lim_usd; /* lim 0: none */
	long long tokens, lim_tokens;
};

static long long
session_tokens(struct session *s)
{
	return s->usage.input + s->usage.output + s->usage.cache_read +
	    s->usage.cache_write;
}

static double
budget_ratio(const struct budget *b)
{
	double r = 0;

	if (b->lim_usd > 0)
		r = b->usd / b->lim_usd;
	if (b->lim_tokens > 0 && (double)b->tokens / (double)b->lim_tokens > r)
		r = (double)b->tokens / (double)b->lim_tokens;
	return r;
}

static void
raise_of(const char *scope, double *usd, long long *tokens)
{
	json_t *p = json_object_get(today.raises, scope);

	*usd = json_number_value(json_array_get(p, 0));
	*tokens = json_integer_value(json_array_get(p, 1));
}

/* A daily budget's limits as set ("global" or "group:G"), before raises. */
static void
daily_limits(const char *scope, double *usd, long long *tokens)
{
	char key[160];

	if (strcmp(scope, "global") == 0) {
		*usd = setting_num("budget.usd", 0);
		*tokens = (long long)setting_num("budget.tokens", 0);
		return;
	}
	snprintf(key, sizeof key, "budget.group.%s", scope + 6);
	*usd = setting_num(key, 0);
	snprintf(key, sizeof key, "budget.groupTokens.%s", scope + 6);
	*tokens = (long long)setting_num(key, 0);
}

/* A daily budget into b, with today's raises and spending; 0 if unset. */
static int
daily_budget(struct budget *b, const char *scope, double usd, long long tokens,
    const char *label)
{
	double ru;
	long long rt;

	memset(b, 0, sizeof *b);
	snprintf(b->scope, sizeof b->scope, "%s", scope);
	daily_limits(scope, &b->lim_usd, &b->lim_tokens);
	if (b->lim_usd <= 0 && b->lim_tokens <= 0)
		return 0;
	raise_of(scope, &ru, &rt);
	b->lim_usd += b->lim_usd > 0 ? ru : 0;
	b->lim_tokens += b->lim_tokens > 0 ? rt : 0;
	b->usd = usd;
	b->tokens = tokens;
	snprintf(b->label, sizeof b->label, "%s", label);
	return 1;
}

/* The budgets over a session; returns how many (at most 3). */
static int
budgets_of(struct session *s, struct budget out[3])
{
	const char *g = s->grp ? s->grp : "default";
	int n = 0;

	if (s->policy) {
		struct budget *b = &out[n];
		memset(b, 0, sizeof *b);
		b->lim_usd =
		    json_number_value(json_object_get(s->policy, "budget_usd"));
		b->lim_tokens = json_integer_value(
		    json_object_get(s->policy, "budget_tokens"));
		if (b->lim_usd > 0 || b->lim_tokens > 0) {
			snprintf(
			    b->scope, sizeof b->scope, "session:%s", s->id);
			snprintf(b->label, sizeof b->label,
			    "session %s's budget", s->name);
			b->usd = s->usage.cost;
			b->tokens = session_tokens(s);
			n++;
		}
	}
	char scope[96], label[128];
	json_t *p = json_object_get(today.groups, g);
	snprintf(scope, sizeof scope, "group:%s", g);
	snprintf(label, sizeof label, "group %s's daily budget", g);
	n += daily_budget(&out[n], scope,
	    json_number_value(json_array_get(p, 0)),
	    json_integer_value(json_array_get(p, 1)), label);
	n += daily_budget(&out[n], "global", today.usd, today.tokens,
	    "the global daily budget");
	return n;
}

/* 1 when dollars are the fuller part of b (or the only one) */
static int
usd_fuller(const struct budget *b)
{
	return b->lim_usd > 0 &&
	    (b->lim_tokens <= 0 ||
	        b->usd / b->lim_usd >= (double)b->tokens / b->lim_tokens);
}

/* "$2.13 of $2.00" / "120,000 of 100,000 tokens": whichever is over */
static void
budget_text(const struct budget *b, char *out, size_t size)
{
	if (usd_fuller(b))
		snprintf(out, size, "$%.2f of $%.2f", b->usd, b->lim_usd);
	else
		snprintf(
		    out, size, "%lld of %lld tokens", b->tokens, b->lim_tokens);
}

static json_t *
budget_json(const struct budget *b)
{
	return json_pack("{s:s, s:f, s:o, s:I, s:o, s:f}", "scope", b->scope,
	    "used_usd", b->usd, "limit_usd",
	    b->lim_usd > 0 ? json_real(b->lim_usd) : json_null(), "used_tokens",
	    (json_int_t)b->tokens, "limit_tokens",
	    b->lim_tokens > 0 ? json_integer(b->lim_tokens) : json_null(),
	    "percent", floor(budget_ratio(b) * 1000) / 10);
}

/* session_event that takes DATA's reference */
static void
event_new(struct session *s, const char *kind, json_t *data)
{
	session_event(s, kind, data);
	json_decref(data);
}

static void hold(
    struct session *, int kind, const char *wait, const char *reason);
static void release(struct session *);

static int
agent_session(struct session *s)
{
	return s->kind && strcmp(s->kind, "agent") == 0;
}

/* Warn, hold, stop or release one live session by its budgets. */
static void
budget_check(struct session *s)
{
	struct budget bs[3];
	int n = budgets_of(s, bs), worst = -1;
	double warn = setting_num("budget.warnPercent", 80) / 100;
	double cap = setting_num("budget.hardCapPercent", 150) / 100;

	for (int i = 0; i < n; i++) {
		double r = budget_ratio(&bs[i]);
		if (r >= warn && warn > 0 &&
		    json_object_get(today.warned, bs[i].scope) == NULL) {
			json_object_set_new(
			    today.warned, bs[i].scope, json_true());
			json_t *d = budget_json(&bs[i]);
			session_event(s, "budget.warning", d);
			json_object_set_new(
			    d, "event", json_string("budget.warning"));
			json_object_set_new(d, "session", json_string(s->id));
			server_broadcast("session", d);
			json_decref(d);
			log_info("session %s: %s at %.0f%%", s->id, bs[i].label,
			    r * 100);
		}
		if (worst < 0 || r > budget_ratio(&bs[worst]))
			worst = i;
	}
	if (worst < 0 || budget_ratio(&bs[worst]) < 1) {
		if (s->hold == HOLD_BUDGET)
			release(s);
		return;
	}
	char used[96], reason[512];
	budget_text(&bs[worst], used, sizeof used);
	if (cap >= 1 && budget_ratio(&bs[worst]) >= cap && !s->stop_requested) {
		struct err err = ERR_INIT;
		free(s->stop_reason);
		xasprintf(&s->stop_reason,
		    "stopped at the hard cap of %s (%s, cap %.0f%%)",
		    bs[worst].label, used, cap * 100);
		session_event(s, "budget.stop", NULL);
		if (session_stop(s, 3000, &err) < 0)
			log_warn("session %s: %s", s->id, err.msg.data);
		err_release(&err);
		return;
	}
	if ((s->hold == HOLD_BUDGET && s->pass) || s->hold == HOLD_RUNAWAY)
		return; /* a reply let this turn through; a runaway stays one
		         * (any hold denies its tools) */
	snprintf(reason, sizeof reason,
	    "%s is spent (%s): galley budget raise %s%s %s, or reply "
	    "with galley send to allow one more turn",
	    bs[worst].label, used,
	    strcmp(bs[worst].scope, "global") == 0           ? "--global"
	        : strncmp(bs[worst].scope, "group:", 6) == 0 ? "--group "
	                                                     : "--session ",
	    strcmp(bs[worst].scope, "global") == 0 ? ""
	        : strncmp(bs[worst].scope, "group:", 6) == 0
	        ? bs[worst].scope + 6
	        : s->name,
	    usd_fuller(&bs[worst]) ? "--usd N" : "--tokens N");
	hold(s, HOLD_BUDGET, "budget", reason);
}

static void
budget_check_all(void)
{
	struct session *s, *next;

	/* session_stop may end a session at once: keep the next one */
	for (s = TAILQ_FIRST(&session_table); s; s = next) {
		next = TAILQ_NEXT(s, entry);
		if (session_live(s) && agent_session(s))
			budget_check(s);
	}
}

/* ---- holds ------------------------------------------------------------ */

static void
hold(struct session *s, int kind, const char *wait, const char *reason)
{
	if (s->hold == kind && !s->pass && s->waiting_for &&
	    strcmp(s->waiting_for, wait) == 0)
		return;
	if (s->hold == HOLD_NONE) {
		free(s->held_wait);
		s->held_state = s->state;
		s->held_wait = s->waiting_for ? xstrdup(s->waiting_for) : NULL;
	}
	s->hold = kind;
	s->pass = 0;
	session_set_state(s, SESSION_BLOCKED, wait, reason);
}

/* Back to the state its hooks reported meanwhile. */
static void
release(struct session *s)
{
	/* what its hooks said meanwhile; a hold from before any (a daemon
	 * restart) goes back to idle */
	enum session_state st =
	    state_table[s->held_state].live ? s->held_state : SESSION_IDLE;

	s->hold = HOLD_NONE;
	s->pass = 0;
	if (st == SESSION_BLOCKED && s->held_wait == NULL)
		st = SESSION_IDLE;
	if (session_live(s))
		session_set_state(
		    s, st, st == SESSION_BLOCKED ? s->held_wait : NULL, NULL);
	free(s->held_wait);
	s->held_state = SESSION_IDLE;
	s->held_wait = NULL;
}

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
		budget_check(s);
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
		release(s);
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

/* 1 when the call is the same as the last runaway.repeat - 1 ones. */
static int
repeated(struct session *s, const char *tool, json_t *input)
{
	int limit = (int)setting_num("runaway.repeat", 5);
	char *in = json_dumps(input ? input : json_null(),
	    JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
	char *key;

	xasprintf(&key, "%s\x1f%s", tool, in ? in : "");
	free(in);
	if (s->repeat_key && strcmp(s->repeat_key, key) == 0) {
		s->repeat_n++;
		free(key);
	} else {
		free(s->repeat_key);
		s->repeat_key = key;
		s->repeat_n = 1;
	}
	return limit > 1 && s->repeat_n >= limit;
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
	char *why = NULL, wait[300];
	const char *rule;

	session_policy_refresh();
	s->progress_at = wall_ms();
	if (strcmp(event, "UserPromptSubmit") == 0) {
		s->turns = 0;
		free(s->repeat_key);
		s->repeat_key = NULL;
		s->repeat_n = 0;
		if (s->hold == HOLD_NONE || s->pass)
			return 0;
		xasprintf(&why, "galley holds this session: %s",
		    s->reason ? s->reason : s->waiting_for);
		json_object_set_new(reply, "output",
		    json_pack(
		        "{s:s, s:s}", "decision", "block", "reason", why));
		free(why);
		return 1;
	}
	if (strcmp(event, "PreToolUse") != 0 || tool == NULL)
		return 0;
	rule = tool_rules_find(
	    json_object_get(s->policy, "deny"), tool, input, s->cwd);
	if (rule) {
		xasprintf(&why,
		    "galley: %s is denied for this session (--deny '%s')", tool,
		    rule);
		deny_tool(reply, why);
		event_new(s, "policy.deny",
		    json_pack("{s:s, s:s}", "tool", tool, "rule", rule));
		free(why);
		return 0;
	}
	json_t *tools = json_object_get(s->policy, "tools");
	if (json_array_size(tools) &&
	    tool_rules_find(tools, tool, input, s->cwd) == NULL) {
		xasprintf(&why,
		    "galley: %s is not among the tools of this session's "
		    "agent",
		    tool);
		deny_tool(reply, why);
		event_new(s, "policy.deny",
		    json_pack("{s:s, s:s}", "tool", tool, "rule", "(tools)"));
		free(why);
		return 0;
	}
	if (s->hold != HOLD_NONE && !s->pass) {
		xasprintf(&why, "galley holds this session: %s",
		    s->reason ? s->reason : s->waiting_for);
		deny_tool(reply, why);
		free(why);
		return 1;
	}
	if (repeated(s, tool, input)) {
		char label[200];
		const char *arg =
		    json_string_value(json_object_get(input, "command"));
		if (arg == NULL)
			arg = json_string_value(
			    json_object_get(input, "file_path"));
		snprintf(label, sizeof label, "%s%s%.120s%s", tool,
		    arg ? "(" : "", arg ? arg : "", arg ? ")" : "");
		snprintf(wait, sizeof wait, "runaway: %s %d times in a row",
		    label, s->repeat_n);
		xasprintf(&why,
		    "galley stopped a loop: %s was called %d times in a row "
		    "with the same input; a reply (galley send) lets it go on",
		    label, s->repeat_n);
		deny_tool(reply, why);
		event_new(s, "runaway",
		    json_pack(
		        "{s:s, s:i}", "tool", label, "times", s->repeat_n));
		hold(s, HOLD_RUNAWAY, wait, why);
		free(why);
		return 1;
	}
	return 0;
}

/* After new transcript messages: turns and budgets. */
void
session_policy_usage(struct session *s, int messages)
{
	char wait[128];
	int max = (int)setting_num("runaway.maxTurns", 500);

	if (today.groups == NULL)
		return; /* not initialised yet (session_load_all) */
	s->progress_at = wall_ms();
	s->turns += messages;
	if (max > 0 && s->turns > max && s->hold == HOLD_NONE &&
	    session_live(s)) {
		snprintf(wait, sizeof wait, "runaway: more than %d turns", max);
		event_new(s, "runaway", json_pack("{s:i}", "turns", s->turns));
		hold(s, HOLD_RUNAWAY, wait,
		    "more API replies since the last prompt than "
		    "runaway.maxTurns allows: a reply (galley send) lets it "
		    "go on");
	}
	budget_check_all();
}

void
session_policy_count(struct session *s, double usd, long long tokens)
{
	char d[11];

	if (today.groups == NULL)
		return;
	iso_day(wall_ms(), d);
	if (strcmp(d, today.day) != 0)
		today_load(); /* a new day: the store has it all */
	else {
		today.usd += usd;
		today.tokens += tokens;
		pair_add(
		    today.groups, s->grp ? s->grp : "default", usd, tokens);
	}
}

/* ---- rate limits ------------------------------------------------------ */

struct ratelimit {
	const char *provider;
	int64_t until, next_start, last_hit;
	int level, seen;
};
static struct ratelimit rls[] = {
    {.provider = "anthropic"}, {.provider = "fake"}};
static uv_timer_t rl_timer, tick_timer;

static struct ratelimit *
ratelimit_of(struct session *s)
{
	const char *p = NULL;

	if (strcmp(s->runtime, "claude") == 0)
		p = "anthropic";
	else if (strcmp(s->runtime, "fake") == 0)
		p = "fake";
	for (size_t i = 0; p && i < nitems(rls); i++)
		if (strcmp(rls[i].provider, p) == 0)
			return &rls[i];
	return NULL;
}

static void
rl_timer_cb(uv_timer_t *t)
{
	(void)t;
	session_line_moved();
}

static void
rl_arm(int64_t at)
{
	int64_t now = wall_ms();
	uint64_t due = at > now ? (uint64_t)(at - now) : 0;

	if (uv_is_active((uv_handle_t *)&rl_timer) &&
	    uv_timer_get_due_in(&rl_timer) <= due)
		return;
	uv_timer_start(&rl_timer, rl_timer_cb, due + 5, 0);
}

void
session_policy_rate_limited(struct session *s, const char *kind)
{
	struct ratelimit *rl = ratelimit_of(s);
	int64_t now = wall_ms();
	double base = setting_num("rateLimit.backoffSeconds", 30) * 1000;

	if (rl == NULL || base <= 0)
		return;
	/* hits while still backing off (or just after) double the wait */
	if (rl->last_hit && now - rl->last_hit < (int64_t)(base * 4) &&
	    rl->level < 8)
		rl->level++;
	else if (!rl->last_hit || now - rl->last_hit >= (int64_t)(base * 4))
		rl->level = 0;
	rl->last_hit = now;
	double wait = base * (double)(1 << rl->level);
	if (wait > 600000)
		wait = 600000;
	if (now + (int64_t)wait > rl->until)
		rl->until = now + (int64_t)wait;
	rl->next_start = 0;
	event_new(s, "ratelimit",
	    json_pack("{s:s, s:s, s:I}", "provider", rl->provider, "kind",
	        kind ? kind : "rate_limit", "hold_ms", (json_int_t)wait));
	json_t *ev = json_pack("{s:s, s:s, s:s, s:I}", "event", "ratelimit",
	    "provider", rl->provider, "session", s->id, "until_ms",
	    (json_int_t)rl->until);
	server_broadcast("session", ev);
	json_decref(ev);
	log_info("rate limit (%s) seen by %s: new starts held %.0f s",
	    rl->provider, s->id, wait / 1000);
	rl_arm(rl->until);
}

int
session_policy_can_start(struct session *s, char *why, size_t size)
{
	struct ratelimit *rl;
	int64_t now = wall_ms();

	if (!agent_session(s))
		return 1;
	if (today.groups != NULL) {
		struct budget bs[3];
		int n = budgets_of(s, bs);
		for (int i = 0; i < n; i++) {
			if (strncmp(bs[i].scope, "session:", 8) == 0 ||
			    budget_ratio(&bs[i]) < 1)
				continue;
			char used[96];
			budget_text(&bs[i], used, sizeof used);
			snprintf(why, size, "budget: %s is spent (%s)",
			    bs[i].label, used);
			return 0;
		}
	}
	if ((rl = ratelimit_of(s)) == NULL || rl->until == 0)
		return 1;
	rl->seen = 1;
	if (now < rl->until) {
		char at[32];
		iso_time(rl->until, at, sizeof at);
		snprintf(why, size,
		    "rate limit (%s): new starts held until %.8s UTC",
		    rl->provider, at + 11);
		rl_arm(rl->until);
		return 0;
	}
	if (now < rl->next_start) {
		snprintf(why, size,
		    "rate limit (%s): starting again one at a time",
		    rl->provider);
		rl_arm(rl->next_start);
		return 0;
	}
	return 1;
}

void
session_policy_started(struct session *s)
{
	struct ratelimit *rl = ratelimit_of(s);

	s->progress_at = wall_ms();
	s->turns = 0;
	if (rl && rl->until)
		rl->next_start = wall_ms() +
		    (int64_t)(setting_num("rateLimit.staggerSeconds", 2) *
		        1000);
}

/* After a pass of the queue: a provider with nobody left waiting on it
 * is back to normal. */
void
session_policy_schedule_done(void)
{
	int64_t now = wall_ms();

	for (size_t i = 0; i < nitems(rls); i++) {
		if (rls[i].until && now >= rls[i].until && !rls[i].seen &&
		    now >= rls[i].next_start)
			rls[i].until = rls[i].next_start = 0;
		rls[i].seen = 0;
	}
}

/* ---- the tick: no progress, a new day ---------------------------------- */

static void tick_arm(void);

static void
tick_cb(uv_timer_t *t)
{
	struct session *s;
	int64_t now = wall_ms();
	double mins;
	char d[11], wait[128];

	(void)t;
	session_policy_refresh();
	mins = setting_num("runaway.noProgressMinutes", 20);
	iso_day(wall_ms(), d);
	if (strcmp(d, today.day) != 0) {
		today_load();
		budget_check_all(); /* daily budgets start afresh */
		session_line_moved();
	}
	if (mins <= 0)
		return;
	TAILQ_FOREACH(s, &session_table, entry) {
		if (!agent_session(s) || s->hold != HOLD_NONE ||
		    s->state != SESSION_WORKING || s->progress_at == 0 ||
		    now - s->progress_at < (int64_t)(mins * 60000))
			continue;
		snprintf(
		    wait, sizeof wait, "runaway: no progress for %g min", mins);
		event_new(s, "runaway",
		    json_pack("{s:f}", "no_progress_minutes", mins));
		hold(s, HOLD_RUNAWAY, wait,
		    "working, but no hook and no new transcript output for "
		    "runaway.noProgressMinutes: a reply (galley send) lets it "
		    "go on");
	}
}

static void
tick_arm(void)
{
	double mins = setting_num("runaway.noProgressMinutes", 20);
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
	if (today.groups) {
		tick_arm();
		budget_check_all();
	}
}

void
session_policy_init(void)
{
	struct session *s;

	seen_generation = settings_cache_generation();
	today_load();
	uv_timer_init(uv_default_loop(), &rl_timer);
	uv_unref((uv_handle_t *)&rl_timer);
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
	budget_check_all();
}

/* ---- galley budget ------------------------------------------------------ */

json_t *
session_budget_status(void)
{
	json_t *list = json_array(), *seen = json_object();
	struct session *s;

	/* every budget some session is under, once */
	TAILQ_FOREACH(s, &session_table, entry) {
		struct budget bs[3];
		int n = budgets_of(s, bs);
		for (int i = 0; i < n; i++) {
			int session_scope =
			    strncmp(bs[i].scope, "session:", 8) == 0;
			if (json_object_get(seen, bs[i].scope) ||
			    (session_scope && session_terminal(s)))
				continue;
			json_t *b = budget_json(&bs[i]);
			json_object_set_new(
			    b, "label", json_string(bs[i].label));
			json_object_set_new(b, "name",
			    json_string(session_scope ? s->name
			            : strcmp(bs[i].scope, "global") == 0
			            ? "global"
			            : bs[i].scope + 6));
			json_t *held = json_array();
			struct session *o;
			TAILQ_FOREACH(o, &session_table, entry) {
				if (o->hold != HOLD_BUDGET)
					continue;
				struct budget ob[3];
				int on = budgets_of(o, ob);
				for (int k = 0; k < on; k++)
					if (strcmp(ob[k].scope, bs[i].scope) ==
					        0 &&
					    budget_ratio(&ob[k]) >= 1)
						json_array_append_new(
						    held, json_string(o->id));
			}
			json_object_set_new(b, "held", held);
			json_object_set_new(seen, bs[i].scope, json_true());
			json_array_append_new(list, b);
		}
	}
	if (json_object_get(seen, "global") == NULL) {
		struct budget g;
		memset(&g, 0, sizeof g);
		snprintf(g.scope, sizeof g.scope, "global");
		g.usd = today.usd;
		g.tokens = today.tokens;
		json_t *b = budget_json(&g);
		json_object_set_new(
		    b, "label", json_string("the global daily budget"));
		json_object_set_new(b, "name", json_string("global"));
		json_object_set_new(b, "held", json_array());
		json_array_append_new(list, b);
	}
	json_decref(seen);
	return list;
}

int
session_budget_raise(
    const char *scope, double usd, long long tokens, struct err *err)
{
	static const char sql[] =
	    "INSERT INTO budget_raises (scope, day, usd, tokens) VALUES "
	    "(?,?,?,?) ON CONFLICT(scope, day) DO UPDATE SET usd = usd + "
	    "excluded.usd, tokens = tokens + excluded.tokens";

	if (strncmp(scope, "session:", 8) == 0) {
		struct session *s = session_resolve(scope + 8, err);
		if (s == NULL)
			return -1;
		json_t *p = s->policy;
		double cur =
		    json_number_value(json_object_get(p, "budget_usd"));
		json_int_t ct =
		    json_integer_value(json_object_get(p, "budget_tokens"));
		if ((usd > 0 && cur <= 0) || (tokens > 0 && ct <= 0))
			return err_set(err, ERR_FAILED,
			    "session '%s' has no %s budget of its own: raise "
			    "the one that holds it (galley budget)",
			    s->name, usd > 0 ? "dollar" : "token");
		if (usd > 0)
			json_object_set_new(
			    p, "budget_usd", json_real(cur + usd));
		if (tokens > 0)
			json_object_set_new(
			    p, "budget_tokens", json_integer(ct + tokens));
		event_new(s, "budget.raise",
		    json_pack("{s:f, s:I}", "usd", usd, "tokens",
		        (json_int_t)tokens));
		session_touch(s);
		/* warn again at the new limit's warnPercent */
		char key[96];
		snprintf(key, sizeof key, "session:%s", s->id);
		json_object_del(today.warned, key);
	} else {
		double lu;
		long long lt;
		daily_limits(scope, &lu, &lt);
		if ((usd > 0 && lu <= 0) || (tokens > 0 && lt <= 0))
			return err_set(err, ERR_FAILED,
			    "no %s budget is set for %s: set one with galley "
			    "config set",
			    usd > 0 ? "dollar" : "token", scope);
		sqlite3_stmt *st = store_stmt(&galley_db, sql);
		if (st == NULL)
			return store_sqlerr(&galley_db, err, "budget raise");
		sqlite3_bind_text(st, 1, scope, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 2, today.day, -1, SQLITE_TRANSIENT);
		sqlite3_bind_double(st, 3, usd);
		sqlite3_bind_int64(st, 4, tokens);
		int rc = sqlite3_step(st);
		sqlite3_reset(st);
		if (rc != SQLITE_DONE)
			return store_sqlerr(&galley_db, err, "budget raise");
		pair_add(today.raises, scope, usd, tokens);
		json_object_del(today.warned, scope);
	}
	log_info(
	    "budget %s raised by $%.2f and %lld tokens", scope, usd, tokens);
	budget_check_all();
	session_line_moved();
	return 0;
}

/* A run that ended on a rate limit (its result's api_error_status) holds
 * new starts for its provider like one seen in a hook. */
static void
policy_observe(struct session *s, const struct session_change *ch, void *arg)
{
	int now = s->state;
	json_t *res;
	json_int_t status;

	if (ch->kind != SESSION_CHANGE_STATE || !state_table[now].terminal ||
	    (ch->old >= 0 && state_table[ch->old].terminal) ||
	    s->result == NULL)
		return;
	res = json_loads(s->result, 0, NULL);
	status = json_integer_value(json_object_get(res, "api_error_status"));
	json_decref(res);
	if (status == 429 || status == 529)
		session_policy_rate_limited(
		    s, status == 429 ? "rate_limit" : "overloaded");
}

void
session_policy_observe(void)
{
	session_observe(policy_observe, NULL);
}
