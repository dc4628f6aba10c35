/* Workflow runs (workflow.h): the journal in the store, agent() calls as
 * headless sessions, their ends resuming the script, and runs replayed
 * after a daemon restart. A call's key is its place in the script (the
 * thread's path and ordinal, so parallel branches finishing in any order
 * keep their keys) and a hash of its prompt and options: a recorded
 * result is fed back instead of starting an agent; a call whose hash no
 * longer matches stops the run (nondeterminism), never re-runs. */
#include <lauxlib.h>
#include <lua.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <uv.h>

#include "buf.h"
#include "log.h"
#include "names.h"
#include "server.h"
#include "session-budget.h"
#include "session-life.h"
#include "session.h"
#include "spec.h"
#include "state.h"
#include "store.h"
#include "util.h"
#include "workflow.h"
#include "xmalloc.h"

#define MAX_ACTIVE 16
#define MAX_CALLS 1000
#define CALL_TIMEOUT_S 1800

/* An agent() call in flight or waiting for a slot. */
struct wf_call {
	struct wf_run *run;
	struct wf_thread *t;
	char key[128], hash[17];
	char sid[16]; /* its session, once started */
	char *prompt;
	json_t *opts;
	uv_timer_t *timer;
	int sh;       /* sh(cmd), a job, rather than an agent */
	int respawn;  /* its session was interrupted: a new one is due */
	int done, ok; /* ended: outcome below, delivered by the next tick */
	char *result, *error;
	struct wf_call *next;
};

static struct wf_run *runs;
static struct wf_call *calls;
static uv_timer_t tick;
static int tick_ready;

static void start_waiting(struct wf_run *r);
static void call_respawn(struct wf_call *c);
static void run_end(
    struct wf_run *r, const char *state, const char *error, json_t *result);

/* ---- the store -------------------------------------------------------- */

static const char *
col(sqlite3_stmt *st, int i)
{
	return (const char *)sqlite3_column_text(st, i);
}

static void
wf_bind(sqlite3_stmt *st, int i, const char *v)
{
	if (v)
		sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, i);
}

/* One statement of text args, committed to disk (fsync) before the script
 * goes on: the journal is what a replay trusts. */
static int
exec_durable(const char *sql, const char *const *args, int n)
{
	sqlite3_stmt *st = store_stmt(&galley_db, sql);
	int rc;

	if (st == NULL)
		return -1;
	for (int i = 0; i < n; i++)
		wf_bind(st, i + 1, args[i]);
	store_exec(&galley_db, "PRAGMA synchronous=FULL", NULL);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
	if (rc < 0)
		log_error("workflow: %s", sqlite3_errmsg(galley_db.db));
	sqlite3_reset(st);
	store_exec(&galley_db, "PRAGMA synchronous=NORMAL", NULL);
	return rc;
}

/* What a replay may redo if lost: no fsync. */
static void
exec_plain(const char *sql, const char *const *args, int n)
{
	sqlite3_stmt *st = store_stmt(&galley_db, sql);

	if (st == NULL)
		return;
	for (int i = 0; i < n; i++)
		wf_bind(st, i + 1, args[i]);
	if (sqlite3_step(st) != SQLITE_DONE)
		log_error("workflow: %s", sqlite3_errmsg(galley_db.db));
	sqlite3_reset(st);
}

static void
save_run(struct wf_run *r, const char *error, const char *result)
{
	char now[24];
	snprintf(now, sizeof now, "%lld", (long long)wall_ms());
	const char *args[] = {r->state, r->phase, error, result, now, r->id};

	exec_durable("UPDATE workflow_runs SET state = ?, phase = ?, error = "
	             "coalesce(?, error), result = coalesce(?, result), "
	             "updated_at = CAST(? AS INTEGER) WHERE id = ?",
	    args, 6);
	json_t *ev = json_pack("{s:s, s:s, s:s, s:s}", "event",
	    "workflow.state", "run", r->id, "name", r->name, "state", r->state);
	server_broadcast("workflow", ev);
	json_decref(ev);
}

/* ---- runs ------------------------------------------------------------- */

static struct wf_run *
run_find(const char *id)
{
	for (struct wf_run *r = runs; r; r = r->next)
		if (strcmp(r->id, id) == 0)
			return r;
	return NULL;
}

static void
run_free(struct wf_run *r)
{
	for (struct wf_run **p = &runs; *p; p = &(*p)->next)
		if (*p == r) {
			*p = r->next;
			break;
		}
	if (r->main)
		wf_lua_thread_free(r->main);
	wf_lua_close(r->L);
	free(r->name);
	free(r->file);
	free(r->cwd);
	free(r->script);
	free(r->fatal);
	free(r->held);
	json_decref(r->args);
	json_decref(r->env);
	free(r);
}

static void
timer_closed(uv_handle_t *h)
{
	free(h);
}

static void
call_free(struct wf_call *c)
{
	for (struct wf_call **p = &calls; *p; p = &(*p)->next)
		if (*p == c) {
			*p = c->next;
			break;
		}
	if (c->timer) {
		uv_timer_stop(c->timer);
		uv_close((uv_handle_t *)c->timer, timer_closed);
	}
	free(c->prompt);
	free(c->result);
	free(c->error);
	json_decref(c->opts);
	free(c);
}

/* ---- calls ------------------------------------------------------------ */

static void
fnv_hex(const char *a, const char *b, char out[17])
{
	uint64_t h = 1469598103934665603ULL;

	for (const char *p = a; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	h = (h ^ '\n') * 1099511628211ULL;
	for (const char *p = b; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	snprintf(out, 17, "%016llx", (unsigned long long)h);
}

static void tick_cb(uv_timer_t *t);

static void
tick_soon(void)
{
	if (!tick_ready) {
		uv_timer_init(uv_default_loop(), &tick);
		uv_unref((uv_handle_t *)&tick);
		tick_ready = 1;
	}
	uv_timer_start(&tick, tick_cb, 0, 0);
}

/* The call has its outcome: journaled now, given to the script on the
 * next tick (never from inside a session observer). */
static void
call_end(struct wf_call *c, int ok, const char *result, const char *error)
{
	if (c->done)
		return;
	c->done = 1;
	c->ok = ok;
	c->result = result ? xstrdup(result) : NULL;
	c->error = error ? xstrdup(error) : NULL;
	char now[24];
	snprintf(now, sizeof now, "%lld", (long long)wall_ms());
	const char *args[] = {
	    ok ? "done" : "failed", result, error, now, c->run->id, c->key};
	exec_durable("UPDATE workflow_journal SET state = ?, result = ?, error "
	             "= ?, ended_at = CAST(? AS INTEGER) WHERE run = ? AND key "
	             "= ?",
	    args, 6);
	tick_soon();
}

static const char *
opt_str(json_t *opts, const char *k)
{
	return json_string_value(json_object_get(opts, k));
}

static void
timeout_cb(uv_timer_t *t)
{
	struct wf_call *c = t->data;
	struct session *s = session_find_id(c->sid);
	char why[128];

	snprintf(why, sizeof why, "the agent took longer than its %lld s",
	    (long long)json_integer_value(json_object_get(c->opts, "timeout")));
	if (json_integer_value(json_object_get(c->opts, "timeout")) <= 0)
		snprintf(why, sizeof why, "the agent took longer than %d s",
		    CALL_TIMEOUT_S);
	call_end(c, 0, NULL, why);
	if (s && !session_terminal(s))
		session_stop(s, 2000, NULL);
}

/* A session for the call: headless, in the run's directory, carrying
 * "workflow": RUN. */
static int
call_start(struct wf_call *c)
{
	struct wf_run *r = c->run;
	struct session_spec sp;
	struct err err = ERR_INIT;
	json_t *v;
	size_t i;
	char base[72];
	const char *label = opt_str(c->opts, "label");

	spec_init(&sp);
	if (c->sh) { /* sh(cmd): a job */
		sp.runtime = xstrdup("exec");
		label = label ? label : "sh";
	} else {
		const char *rt = opt_str(c->opts, "runtime");
		sp.runtime = xstrdup(rt ? rt : "claude");
		sp.headless = 1;
	}
	sp.prompt = xstrdup(c->prompt);
	sp.cwd = xstrdup(r->cwd);
	json_array_foreach(r->env, i, v)
	    strv_add(&sp.env, json_string_value(v));
	sp.model = opt_str(c->opts, "model")
	    ? xstrdup(opt_str(c->opts, "model"))
	    : NULL;
	sp.effort = opt_str(c->opts, "effort")
	    ? xstrdup(opt_str(c->opts, "effort"))
	    : NULL;
	json_array_foreach(json_object_get(c->opts, "tools"), i, v)
	{
		if (json_is_string(v))
			strv_add(&sp.agent_tools, json_string_value(v));
	}
	v = json_object_get(c->opts, "budget");
	if (json_is_number(v))
		sp.budget_usd = json_number_value(v);
	snprintf(
	    base, sizeof base, "%.30s.%.30s", r->name, label ? label : "agent");
	for (char *p = base; *p; p++)
		if (!strchr(
		        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		        "0123456789._-",
		        *p))
			*p = '-';
	sp.name = session_unique_name(base);
	sp.workflow = xstrdup(r->id);
	struct session *s = NULL;
	if (spec_check(&sp, &err) == 0)
		s = session_create(&sp, &err);
	spec_release(&sp);
	if (s == NULL) {
		call_end(c, 0, NULL, err.msg.len ? err.msg.data : "no session");
		err_release(&err);
		return -1;
	}
	err_release(&err);
	snprintf(c->sid, sizeof c->sid, "%s", s->id);
	const char *args[] = {s->id, r->id, c->key};
	exec_durable(
	    "UPDATE workflow_journal SET session = ? WHERE run = ? AND "
	    "key = ?",
	    args, 3);
	json_int_t secs =
	    json_integer_value(json_object_get(c->opts, "timeout"));
	c->timer = xcalloc(1, sizeof *c->timer);
	uv_timer_init(uv_default_loop(), c->timer);
	uv_unref((uv_handle_t *)c->timer); /* a daemon stop does not wait */
	c->timer->data = c;
	uv_timer_start(c->timer, timeout_cb,
	    (uint64_t)(secs > 0 ? secs : CALL_TIMEOUT_S) * 1000, 0);
	r->active++;
	if (session_terminal(s)) /* it could not start */
		call_end(
		    c, 0, NULL, s->reason ? s->reason : "it did not start");
	return 0;
}

#define SH_OUTPUT_MAX (64u << 10)

/* A job's output: the tail of its output.log, carriage returns out and
 * the last newline dropped. */
static char *
job_output(struct session *s)
{
	char *dir = session_dir(s), *path;
	struct buf b = BUF_INIT, out = BUF_INIT;
	struct stat st;

	xasprintf(&path, "%s/output.log", dir);
	if (stat(path, &st) == 0 &&
	    read_file(path, &b, (size_t)st.st_size + 1, NULL) >= 0) {
		size_t from = b.len > SH_OUTPUT_MAX ? b.len - SH_OUTPUT_MAX : 0;
		for (size_t i = from; i < b.len; i++)
			if (b.data[i] != '\r')
				buf_addc(&out, b.data[i]);
		if (out.len && out.data[out.len - 1] == '\n')
			out.data[--out.len] = '\0';
	}
	free(path);
	free(dir);
	buf_release(&b);
	return buf_detach(&out, NULL);
}

/* The outcome of a session that ended, for its call. */
static void
session_outcome(
    struct session *s, int *ok, const char **result, char *why, size_t size)
{
	if (s->kind && strcmp(s->kind, "job") == 0) {
		static char *keep; /* until the next call */
		free(keep);
		keep = job_output(s);
		*ok = s->state == SESSION_DONE && s->has_exit &&
		    s->exit_code == 0;
		*result = *ok ? keep : NULL;
		if (!*ok)
			snprintf(why, size, "sh %s: exit %d: %.300s", s->name,
			    s->exit_code, keep);
		return;
	}
	json_t *res = s->result ? json_loads(s->result, 0, NULL) : NULL;

	*ok = s->state == SESSION_DONE && res &&
	    !json_is_true(json_object_get(res, "is_error"));
	*result = NULL;
	if (*ok) {
		static char *keep; /* until the next call */
		free(keep);
		keep = xstrdup(json_string_value(json_object_get(res, "result"))
		        ? json_string_value(json_object_get(res, "result"))
		        : "");
		*result = keep;
	} else
		snprintf(why, size, "agent %s %s: %s", s->name,
		    state_name(s->state),
		    res && json_string_value(json_object_get(res, "result"))
		        ? json_string_value(json_object_get(res, "result"))
		        : s->reason ? s->reason
		                    : "no result");
	json_decref(res);
}

int
workflow_call(
    struct wf_thread *t, const char *kind, const char *prompt, json_t *opts)
{
	struct wf_run *r = t->run;
	char key[128], hash[17], why[512];
	char *canon = json_dumps(opts, JSON_COMPACT | JSON_SORT_KEYS);
	lua_State *L = t->th;

	snprintf(key, sizeof key, "%s%s%d", t->path, *t->path ? "." : "",
	    ++t->counter);
	fnv_hex(prompt, canon ? canon : "", hash);
	free(canon);
	if (r->fatal || strcmp(r->state, "stopped") == 0) {
		wf_lua_push_outcome(L, opts, 0, NULL,
		    r->fatal ? r->fatal : "the run was stopped");
		return 2;
	}
	if (++r->calls > r->max_calls) {
		snprintf(why, sizeof why,
		    "galley: this run makes at most %d agent calls",
		    r->max_calls);
		wf_lua_push_outcome(L, opts, 0, NULL, why);
		return 2;
	}
	static const char sql[] =
	    "SELECT hash, state, session, result, error, label FROM "
	    "workflow_journal WHERE run = ? AND key = ?";
	sqlite3_stmt *st = store_stmt(&galley_db, sql);
	if (st == NULL) {
		wf_lua_push_outcome(L, opts, 0, NULL, "the store failed");
		return 2;
	}
	wf_bind(st, 1, r->id);
	wf_bind(st, 2, key);
	int found = sqlite3_step(st) == SQLITE_ROW;
	char *rhash = found ? xstrdup(col(st, 0)) : NULL;
	char *rstate = found ? xstrdup(col(st, 1)) : NULL;
	char *rsid = found && col(st, 2) ? xstrdup(col(st, 2)) : NULL;
	char *rres = found && col(st, 3) ? xstrdup(col(st, 3)) : NULL;
	char *rerr = found && col(st, 4) ? xstrdup(col(st, 4)) : NULL;
	sqlite3_reset(st);
	int n = 0;
	if (found && strcmp(rhash, hash) != 0) {
		snprintf(why, sizeof why,
		    "galley: nondeterminism: call %s (%s%s%s) is not the one "
		    "the journal recorded there: the script changed; start a "
		    "new run",
		    key, kind, opt_str(opts, "label") ? " " : "",
		    opt_str(opts, "label") ? opt_str(opts, "label") : "");
		r->fatal = xstrdup(why);
		wf_lua_push_outcome(L, opts, 0, NULL, why);
		n = 2;
		goto out;
	}
	if (found && strcmp(rstate, "started") != 0) { /* replay */
		const char *rk[] = {r->id, key};
		exec_plain(
		    "UPDATE workflow_journal SET replayed = 1 WHERE run = "
		    "? AND key = ?",
		    rk, 2);
		wf_lua_push_outcome(
		    L, opts, strcmp(rstate, "done") == 0, rres, rerr);
		n = 2;
		goto out;
	}
	struct wf_call *c = xcalloc(1, sizeof *c);
	c->run = r;
	c->t = t;
	snprintf(c->key, sizeof c->key, "%s", key);
	memcpy(c->hash, hash, sizeof hash);
	c->prompt = xstrdup(prompt);
	c->opts = json_incref(opts);
	c->sh = strcmp(kind, "sh") == 0;
	c->next = calls;
	calls = c;
	struct session *s = rsid ? session_find_id(rsid) : NULL;
	if (s && !session_terminal(s)) { /* in flight at the crash: its own */
		snprintf(c->sid, sizeof c->sid, "%s", s->id);
		r->active++;
		goto out;
	}
	if (s && s->state == SESSION_DONE) { /* ended while we were away */
		int ok;
		const char *res;
		snprintf(c->sid, sizeof c->sid, "%s", s->id);
		r->active++;
		session_outcome(s, &ok, &res, why, sizeof why);
		call_end(c, ok, res, ok ? NULL : why);
		goto out;
	}
	if (!found) {
		const char *label = opt_str(opts, "label");
		char now[24];
		snprintf(now, sizeof now, "%lld", (long long)wall_ms());
		const char *args[] = {
		    r->id, key, hash, kind, label, t->phase, now};
		if (exec_durable(
		        "INSERT INTO workflow_journal (run, key, hash, "
		        "kind, label, phase, state, started_at) VALUES "
		        "(?,?,?,?,?,?,'started', CAST(? AS INTEGER))",
		        args, 7) < 0) {
			call_free(c);
			wf_lua_push_outcome(L, opts, 0, NULL,
			    "cannot journal the call: the store failed");
			n = 2;
			goto out;
		}
	}
	/* new, or in flight at a crash and gone since: (re)started */
	start_waiting(r);
out:
	free(rhash);
	free(rstate);
	free(rsid);
	free(rres);
	free(rerr);
	return n;
}

/* What the run's agents have spent together. */
static void
run_spent(struct wf_run *r, double *usd, long long *tokens)
{
	struct session *s;

	*usd = 0;
	*tokens = 0;
	TAILQ_FOREACH(s, &session_table, entry) {
		if (s->workflow == NULL || strcmp(s->workflow, r->id) != 0)
			continue;
		*usd += s->usage.cost;
		*tokens += s->usage.input + s->usage.output +
		    s->usage.cache_read + s->usage.cache_write;
	}
}

/* 1 when the run's budget is spent: why says so, and how to raise it. */
static int
over_budget(struct wf_run *r, char *why, size_t size)
{
	double usd;
	long long tokens;

	if (r->budget_usd <= 0 && r->budget_tokens <= 0)
		return 0;
	run_spent(r, &usd, &tokens);
	if ((r->budget_usd > 0 && usd >= r->budget_usd) ||
	    (r->budget_tokens > 0 && tokens >= r->budget_tokens)) {
		snprintf(why, size,
		    "galley: run %s's budget is spent ($%.2f of $%.2f, %lld of "
		    "%lld tokens): 'galley workflow budget %s' raises it",
		    r->id, usd, r->budget_usd, tokens, r->budget_tokens, r->id);
		return 1;
	}
	return 0;
}

/* Calls without a session, started while the run has slots and budget. */
static void
start_waiting(struct wf_run *r)
{
	char why[256];

	if (strcmp(r->state, "running") != 0)
		return;
	for (struct wf_call *c = calls; c && r->active < r->max_active;) {
		struct wf_call *next = c->next;
		if (c->run == r && !c->done && c->sid[0] == '\0') {
			if (over_budget(r, why, sizeof why)) {
				/* it waits, as queued agents do, until raised
				 */
				if (r->held == NULL || strcmp(r->held, why)) {
					free(r->held);
					r->held = xstrdup(why);
					save_run(r, NULL, NULL);
				}
				return;
			}
			free(r->held);
			r->held = NULL;
			call_start(c);
		}
		c = next;
	}
}

/* Deliver ended calls' outcomes to their scripts. */
static void
tick_cb(uv_timer_t *tm)
{
	(void)tm;
	for (struct wf_call *c = calls; c; c = c->next)
		if (c->respawn) {
			c->respawn = 0;
			call_respawn(c);
		}
	for (int again = 1; again;) {
		again = 0;
		for (struct wf_call *c = calls; c; c = c->next) {
			if (!c->done)
				continue;
			struct wf_run *r = c->run;
			if (strcmp(r->state, "running") &&
			    strcmp(r->state, "paused"))
				continue; /* stopped: freed with its run */
			struct wf_thread *t = c->t;
			if (c->sid[0])
				r->active--;
			wf_lua_push_outcome(
			    t->th, c->opts, c->ok, c->result, c->error);
			call_free(c);
			if (r->L)
				wf_lua_step(t, 2);
			if (run_find(r->id) == r && r->L)
				start_waiting(r);
			again = 1; /* the list changed under us */
			break;
		}
	}
	/* runs that ended: their interpreters go */
	for (struct wf_run *r = runs, *next; r; r = next) {
		next = r->next;
		if (strcmp(r->state, "running") == 0 ||
		    strcmp(r->state, "paused") == 0)
			continue;
		for (struct wf_call *c = calls, *cn; c; c = cn) {
			cn = c->next;
			if (c->run == r)
				call_free(c);
		}
		run_free(r);
	}
}

void
workflow_thread_done(
    struct wf_thread *t, int ok, json_t *value, const char *error)
{
	struct wf_run *r = t->run;
	struct wf_thread *p = t->parent;

	if (p) {
		if (!ok && p->child_error == NULL)
			p->child_error = xstrdup(error);
		p->waiting--;
		wf_lua_thread_free(t);
		if (p->waiting > 0 || p->setup)
			return;
		if (p->child_error) {
			lua_pushboolean(p->th, 0);
			lua_pushstring(p->th, p->child_error);
		} else {
			lua_pushboolean(p->th, 1);
			lua_rawgeti(p->th, LUA_REGISTRYINDEX, p->results_ref);
		}
		free(p->child_error);
		p->child_error = NULL;
		luaL_unref(r->L, LUA_REGISTRYINDEX, p->results_ref);
		p->results_ref = LUA_NOREF;
		wf_lua_step(p, 2);
		return;
	}
	if (r->fatal)
		run_end(r, "failed", r->fatal, NULL);
	else if (ok)
		run_end(r, "done", NULL, value);
	else
		run_end(r, "failed", error, NULL);
}

static void
run_end(struct wf_run *r, const char *state, const char *error, json_t *result)
{
	char *res =
	    result ? json_dumps(result, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;

	snprintf(r->state, sizeof r->state, "%s", state);
	save_run(r, error, res);
	free(res);
	tick_soon(); /* the interpreter is freed outside its own resume */
}

void
workflow_phase(struct wf_thread *t, const char *name)
{
	snprintf(t->phase, sizeof t->phase, "%s", name);
	if (t->parent == NULL || strcmp(t->run->phase, name) != 0) {
		snprintf(t->run->phase, sizeof t->run->phase, "%s", name);
		save_run(t->run, NULL, NULL);
	}
}

void
workflow_log(struct wf_thread *t, const char *text)
{
	char key[160];
	snprintf(key, sizeof key, "%s%slog%d", t->path, *t->path ? "." : "",
	    ++t->counter);
	char now[24];
	snprintf(now, sizeof now, "%lld", (long long)wall_ms());
	const char *args[] = {t->run->id, key, now, text};

	/* a replay logs the same lines under the same keys: kept once */
	sqlite3_stmt *st = store_stmt(&galley_db,
	    "INSERT OR IGNORE INTO workflow_log (run, key, at, text) VALUES "
	    "(?, ?, CAST(? AS INTEGER), ?)");
	if (st == NULL)
		return;
	for (int i = 0; i < 4; i++)
		wf_bind(st, i + 1, args[i]);
	if (sqlite3_step(st) == SQLITE_DONE && sqlite3_changes(galley_db.db)) {
		json_t *ev =
		    json_pack("{s:s, s:s, s:s, s:s}", "event", "workflow.log",
		        "run", t->run->id, "key", key, "text", text);
		server_broadcast("workflow", ev);
		json_decref(ev);
	}
	sqlite3_reset(st);
}

/* ---- booting a run: first start or a replay --------------------------- */

static int
run_boot(struct wf_run *r, char **error)
{
	const char *id[] = {r->id};

	exec_plain(
	    "UPDATE workflow_journal SET replayed = 0 WHERE run = ?", id, 1);
	r->L = wf_lua_new(r);
	if (r->L == NULL) {
		*error = xstrdup("cannot make a Lua state");
		return -1;
	}
	if ((*error = wf_lua_load(r->L, r->name, r->script)) != NULL)
		return -1;
	if ((r->main = wf_lua_main(r, r->args, error)) == NULL)
		return -1;
	snprintf(r->state, sizeof r->state, "running");
	save_run(r, NULL, NULL);
	wf_lua_step(r->main, 1);
	return 0;
}

static struct wf_run *
run_new(const char *id, const char *name, const char *file, const char *script,
    const char *cwd, json_t *args, json_t *env)
{
	struct wf_run *r = xcalloc(1, sizeof *r);

	snprintf(r->id, sizeof r->id, "%s", id);
	r->name = xstrdup(name);
	r->file = file ? xstrdup(file) : NULL;
	r->script = xstrdup(script);
	r->cwd = xstrdup(cwd);
	r->args = json_incref(args);
	r->env = json_incref(env);
	r->max_active = MAX_ACTIVE;
	r->max_calls = MAX_CALLS;
	sqlite3_stmt *st = store_stmt(&galley_db,
	    "SELECT budget_usd, budget_tokens FROM workflow_runs WHERE id = ?");
	if (st) {
		wf_bind(st, 1, id);
		if (sqlite3_step(st) == SQLITE_ROW) {
			r->budget_usd = sqlite3_column_double(st, 0);
			r->budget_tokens = sqlite3_column_int64(st, 1);
		}
		sqlite3_reset(st);
	}
	snprintf(r->state, sizeof r->state, "running");
	r->next = runs;
	runs = r;
	return r;
}

/* Boot it; a script that fails at once fails the run, with the reason. */
static void
run_go(struct wf_run *r)
{
	char *error = NULL;

	if (run_boot(r, &error) < 0)
		run_end(r, "failed", error, NULL);
	free(error);
}

/* ---- the session observer --------------------------------------------- */

/* The same call in a new session; the old one is stopped if it runs, and
 * its end is not the call's any more. */
static void
call_respawn(struct wf_call *c)
{
	struct session *s = c->sid[0] ? session_find_id(c->sid) : NULL;

	if (c->sid[0]) {
		c->sid[0] = '\0';
		c->run->active--;
	}
	if (c->timer) {
		uv_timer_stop(c->timer);
		uv_close((uv_handle_t *)c->timer, timer_closed);
		c->timer = NULL;
	}
	if (s && !session_terminal(s))
		session_stop(s, 2000, NULL);
	start_waiting(c->run);
}

static void
wf_observe(struct session *s, const struct session_change *ch, void *arg)
{
	(void)arg;
	if (ch->kind != SESSION_CHANGE_STATE || s->workflow == NULL ||
	    !session_terminal(s))
		return;
	for (struct wf_call *c = calls; c; c = c->next)
		if (!c->done && strcmp(c->sid, s->id) == 0 &&
		    s->state == SESSION_INTERRUPTED) {
			/* a reboot took it: the call starts again */
			log_info("workflow %s: %s restarts after a reboot",
			    c->run->id, c->key);
			c->respawn = 1; /* on the next tick, not inside an
			                   observer */
			tick_soon();
			return;
		} else if (!c->done && strcmp(c->sid, s->id) == 0) {
			int ok;
			const char *res;
			char why[512];
			session_outcome(s, &ok, &res, why, sizeof why);
			call_end(c, ok, res, ok ? NULL : why);
			return;
		}
}

static int wf_budget_source(struct session *s, struct budget *b);

void
workflow_init(void)
{
	session_observe(wf_observe, NULL);
	session_budget_source(wf_budget_source);
}

/* Runs the last daemon left running: replayed from their journals. A
 * script file that changed since is read again, so a changed call stops
 * the run (nondeterminism) rather than mismatching. */
void
workflow_resume_all(void)
{
	sqlite3_stmt *st = store_stmt(&galley_db,
	    "SELECT id, name, file, script, cwd, args, env FROM workflow_runs "
	    "WHERE state = 'running' ORDER BY created_at");
	json_t *todo = json_array(), *v;
	size_t i;

	if (st == NULL)
		return;
	while (sqlite3_step(st) == SQLITE_ROW)
		json_array_append_new(todo,
		    json_pack("{s:s, s:s, s:s?, s:s, s:s, s:s, s:s}", "id",
		        col(st, 0), "name", col(st, 1), "file", col(st, 2),
		        "script", col(st, 3), "cwd", col(st, 4), "args",
		        col(st, 5), "env", col(st, 6)));
	sqlite3_reset(st);
	json_array_foreach(todo, i, v)
	{
		struct buf b = BUF_INIT;
		const char *file = opt_str(v, "file");
		const char *script = opt_str(v, "script");
		if (file && read_file(file, &b, 1 << 20, NULL) >= 0) {
			buf_addc(&b, '\0');
			script = b.data;
		}
		json_t *args = json_loads(opt_str(v, "args"), 0, NULL);
		json_t *env = json_loads(opt_str(v, "env"), 0, NULL);
		struct wf_run *r = run_new(opt_str(v, "id"), opt_str(v, "name"),
		    file, script, opt_str(v, "cwd"),
		    args ? args : json_object(), env ? env : json_array());
		json_decref(args);
		json_decref(env);
		buf_release(&b);
		log_info("workflow %s: resumed from its journal", r->id);
		run_go(r);
	}
	json_decref(todo);
}

/* ---- for wf-admin.c --------------------------------------------------- */

struct wf_run *
workflow_find(const char *id)
{
	return run_find(id);
}

struct wf_run *
workflow_start(const char *id, const char *name, const char *file,
    const char *script, const char *cwd, json_t *args, json_t *env)
{
	struct wf_run *r = run_new(id, name, file, script, cwd, args, env);

	run_go(r);
	return r;
}

void
workflow_stop(struct wf_run *r)
{
	for (struct wf_call *c = calls; c; c = c->next) {
		struct session *s;
		if (c->run != r || c->done)
			continue;
		if (c->sid[0] && (s = session_find_id(c->sid)) != NULL &&
		    !session_terminal(s))
			session_stop(s, 2000, NULL);
		/* its row stays 'started': a resume restarts it */
		c->done = 1;
	}
	snprintf(r->state, sizeof r->state, "stopped");
	save_run(r, NULL, NULL);
	tick_soon();
}

void
workflow_pause(struct wf_run *r, int pause)
{
	snprintf(r->state, sizeof r->state, "%s", pause ? "paused" : "running");
	save_run(r, NULL, NULL);
	if (!pause)
		start_waiting(r);
}

int
workflow_restart_agent(struct wf_run *r, const char *which, struct err *err)
{
	for (struct wf_call *c = calls; c; c = c->next) {
		const char *label = opt_str(c->opts, "label");
		if (c->run != r || c->done ||
		    (strcmp(c->key, which) && (!label || strcmp(label, which))))
			continue;
		call_respawn(c);
		return 0;
	}
	return err_set(err, ERR_NOT_FOUND,
	    "run %s has no agent '%s' in flight (a finished one's result is "
	    "in the journal)",
	    r->id, which);
}

void
workflow_budget(
    struct wf_run *r, double usd, long long tokens, long long agents)
{
	if (usd > 0 && (r->budget_usd <= 0 || usd < r->budget_usd))
		r->budget_usd = usd;
	if (tokens > 0 && (r->budget_tokens <= 0 || tokens < r->budget_tokens))
		r->budget_tokens = tokens;
	if (agents > 0 && agents < r->max_calls)
		r->max_calls = (int)agents;
}

/* The run's budget over its agents, for the budget machinery: at 100%
 * they are held. */
static int
wf_budget_source(struct session *s, struct budget *b)
{
	struct wf_run *r = s->workflow ? run_find(s->workflow) : NULL;

	if (r == NULL || (r->budget_usd <= 0 && r->budget_tokens <= 0))
		return 0;
	snprintf(b->scope, sizeof b->scope, "workflow:%s", r->id);
	snprintf(b->label, sizeof b->label, "workflow run %s's budget", r->id);
	snprintf(b->raise, sizeof b->raise, "galley workflow budget %s", r->id);
	b->lim_usd = r->budget_usd;
	b->lim_tokens = r->budget_tokens;
	run_spent(r, &b->usd, &b->tokens);
	return 1;
}

void
workflow_budget_raise(struct wf_run *r, double usd, long long tokens)
{
	r->budget_usd = usd;
	r->budget_tokens = tokens;
	session_budget_check_all(); /* held agents go on */
	start_waiting(r);
}
