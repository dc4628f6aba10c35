/*
 * Budgets (issue 8), in dollars and tokens: a session's own (--budget-usd,
 * --budget-tokens), its group's per day (budget.group.G,
 * budget.groupTokens.G) and everyone's per day (budget.usd,
 * budget.tokens). At budget.warnPercent an event; at 100% every session
 * under that budget is held (blocked, waiting_for "budget"): its tool calls
 * and new prompts are denied by the hooks, and queued sessions under it
 * wait. `galley budget raise` releases it, a reply through `galley send`
 * lets one more turn through, and at budget.hardCapPercent it is stopped.
 * The settings are the user's (settings-cache.c). The thresholds are
 * policy-rules.c's.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "policy-rules.h"
#include "server.h"
#include "session-budget.h"
#include "session-hold.h"
#include "session-life.h"
#include "session.h"
#include "settings-cache.h"
#include "util.h"
#include "xmalloc.h"

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

void
session_budget_init(void)
{
	today_load();
}

int
session_budget_ready(void)
{
	return today.groups != NULL;
}

int
session_budget_new_day(void)
{
	char d[11];

	iso_day(wall_ms(), d);
	if (strcmp(d, today.day) == 0)
		return 0;
	today_load();
	session_budget_check_all(); /* daily budgets start afresh */
	return 1;
}

/* ---- budgets -------------------------------------------------------- */

static long long
session_tokens(struct session *s)
{
	return s->usage.input + s->usage.output + s->usage.cache_read +
	    s->usage.cache_write;
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
		*usd = settings_user_num("budget.usd", 0);
		*tokens = (long long)settings_user_num("budget.tokens", 0);
		return;
	}
	snprintf(key, sizeof key, "budget.group.%s", scope + 6);
	*usd = settings_user_num(key, 0);
	snprintf(key, sizeof key, "budget.groupTokens.%s", scope + 6);
	*tokens = (long long)settings_user_num(key, 0);
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

/* A session's own, its group's, everyone's, and other modules' (its
 * team's, its workflow run's: session_budget_source). */
#define SOURCES_MAX 4
#define BUDGETS_MAX (3 + SOURCES_MAX)
static budget_source_fn *sources[SOURCES_MAX];
static int nsources;

void
session_budget_source(budget_source_fn *fn)
{
	if (nsources < SOURCES_MAX)
		sources[nsources++] = fn;
}

/* The budgets over a session; returns how many (at most BUDGETS_MAX). */
static int
budgets_of(struct session *s, struct budget out[BUDGETS_MAX])
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
	for (int i = 0; i < nsources; i++) {
		memset(&out[n], 0, sizeof out[n]);
		n += sources[i](s, &out[n]) > 0;
	}
	return n;
}

/* 1 when dollars are the fuller part of b (or the only one) */

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

void
session_budget_check(struct session *s)
{
	struct budget bs[BUDGETS_MAX];
	int n = budgets_of(s, bs), worst = -1;
	double warn = settings_user_num("budget.warnPercent", 80) / 100;
	double cap = settings_user_num("budget.hardCapPercent", 150) / 100;

	for (int i = 0; i < n; i++) {
		double r = budget_ratio(&bs[i]);
		if (budget_warns(r, warn) &&
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
	enum budget_verdict v = worst < 0
	    ? BUDGET_UNDER
	    : budget_verdict(budget_ratio(&bs[worst]), cap);
	if (v == BUDGET_UNDER) {
		if (s->hold == HOLD_BUDGET)
			session_release(s);
		return;
	}
	char used[96], reason[512];
	budget_text(&bs[worst], used, sizeof used);
	if (v == BUDGET_CAPPED && !s->stop_requested) {
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
	if (bs[worst].raise[0])
		snprintf(reason, sizeof reason,
		    "%s is spent (%s): %s %s, or reply with galley send to "
		    "allow one more turn",
		    bs[worst].label, used, bs[worst].raise,
		    budget_usd_fuller(&bs[worst]) ? "--usd N" : "--tokens N");
	else
		snprintf(reason, sizeof reason,
		    "%s is spent (%s): galley budget raise %s%s %s, or reply "
		    "with galley send to allow one more turn",
		    bs[worst].label, used,
		    strcmp(bs[worst].scope, "global") == 0 ? "--global"
		        : strncmp(bs[worst].scope, "group:", 6) == 0
		        ? "--group "
		        : "--session ",
		    strcmp(bs[worst].scope, "global") == 0 ? ""
		        : strncmp(bs[worst].scope, "group:", 6) == 0
		        ? bs[worst].scope + 6
		        : s->name,
		    budget_usd_fuller(&bs[worst]) ? "--usd N" : "--tokens N");
	session_hold(s, HOLD_BUDGET, "budget", reason);
}

void
session_budget_check_all(void)
{
	struct session *s, *next;

	/* session_stop may end a session at once: keep the next one */
	for (s = TAILQ_FIRST(&session_table); s; s = next) {
		next = TAILQ_NEXT(s, entry);
		if (session_live(s) && session_is_agent(s))
			session_budget_check(s);
	}
}

void
session_budget_count(struct session *s, double usd, long long tokens)
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

int
session_budget_blocks(struct session *s, char *why, size_t size)
{
	struct budget bs[BUDGETS_MAX];
	int n;

	if (today.groups == NULL)
		return 0;
	n = budgets_of(s, bs);
	for (int i = 0; i < n; i++) {
		if (strncmp(bs[i].scope, "session:", 8) == 0 ||
		    budget_ratio(&bs[i]) < 1)
			continue;
		char used[96];
		budget_text(&bs[i], used, sizeof used);
		snprintf(
		    why, size, "budget: %s is spent (%s)", bs[i].label, used);
		return 1;
	}
	return 0;
}

/* ---- galley budget ------------------------------------------------------ */

json_t *
session_budget_status(void)
{
	json_t *list = json_array(), *seen = json_object();
	struct session *s;

	/* every budget some session is under, once */
	TAILQ_FOREACH(s, &session_table, entry) {
		struct budget bs[BUDGETS_MAX];
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
			/* a source's budget is named by its label */
			json_object_set_new(b, "name",
			    json_string(session_scope ? s->name
			            : strcmp(bs[i].scope, "global") == 0
			            ? "global"
			            : bs[i].raise[0] ? bs[i].label
			                             : bs[i].scope + 6));
			json_t *held = json_array();
			struct session *o;
			TAILQ_FOREACH(o, &session_table, entry) {
				if (o->hold != HOLD_BUDGET)
					continue;
				struct budget ob[BUDGETS_MAX];
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
		session_event_take(s, "budget.raise",
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
	session_budget_check_all();
	session_line_moved();
	return 0;
}
