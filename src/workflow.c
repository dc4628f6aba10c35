/* Workflow runs (workflow.h): their rows in the store, their scripts
 * booted (or replayed after a daemon restart) and ended, and what
 * wf-admin.c asks of them. The calls are wf-call.c's. */
#include <lauxlib.h>
#include <lua.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
#include "wf-watchdog.h"
#include "workflow.h"
#include "xmalloc.h"

#define MAX_ACTIVE 16
#define MAX_CALLS 1000

static struct wf_run *runs;
static uv_timer_t tick;
static int tick_ready;

static void run_end(
    struct wf_run *r, const char *state, const char *error, json_t *result);

/* ---- the store -------------------------------------------------------- */

int
wf_exec_durable(const char *sql, const char *const *args, int n)
{
	sqlite3_stmt *st = store_stmt(&galley_db, sql);
	int rc;

	if (st == NULL)
		return -1;
	for (int i = 0; i < n; i++)
		store_bind_text(st, i + 1, args[i]);
	store_exec(&galley_db, "PRAGMA synchronous=FULL", NULL);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
	if (rc < 0)
		log_error("workflow: %s", sqlite3_errmsg(galley_db.db));
	sqlite3_reset(st);
	store_exec(&galley_db, "PRAGMA synchronous=NORMAL", NULL);
	return rc;
}

/* What a replay may redo if lost: no fsync. */
void
wf_exec_plain(const char *sql, const char *const *args, int n)
{
	sqlite3_stmt *st = store_stmt(&galley_db, sql);

	if (st == NULL)
		return;
	for (int i = 0; i < n; i++)
		store_bind_text(st, i + 1, args[i]);
	if (sqlite3_step(st) != SQLITE_DONE)
		log_error("workflow: %s", sqlite3_errmsg(galley_db.db));
	sqlite3_reset(st);
}

void
wf_save_run(struct wf_run *r, const char *error, const char *result)
{
	char now[24];
	snprintf(now, sizeof now, "%lld", (long long)wall_ms());
	const char *args[] = {r->state, r->phase, error, result, now, r->id};

	wf_exec_durable(
	    "UPDATE workflow_runs SET state = ?, phase = ?, error = "
	    "coalesce(?, error), result = coalesce(?, result), "
	    "updated_at = CAST(? AS INTEGER) WHERE id = ?",
	    args, 6);
	json_t *ev = json_pack("{s:s, s:s, s:s, s:s}", "event",
	    "workflow.state", "run", r->id, "name", r->name, "state", r->state);
	server_broadcast("workflow", ev);
	json_decref(ev);
}

/* ---- runs ------------------------------------------------------------- */

struct wf_run *
workflow_find(const char *id)
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
	while (r->threads) /* run() and branches a stop left waiting */
		wf_lua_thread_free(r->threads);
	wf_lua_close(r->L);
	free(r->name);
	free(r->file);
	free(r->cwd);
	free(r->script);
	free(r->fatal);
	free(r->end_error);
	json_decref(r->end_result);
	free(r->held);
	json_decref(r->args);
	json_decref(r->env);
	free(r);
}

/* ---- calls ------------------------------------------------------------ */

static void
tick_cb(uv_timer_t *tm)
{
	(void)tm;
	wf_calls_tick();
	/* runs that ended: their calls and interpreters go */
	for (struct wf_run *r = runs, *next; r; r = next) {
		next = r->next;
		if (strcmp(r->state, "running") == 0 ||
		    strcmp(r->state, "paused") == 0)
			continue;
		wf_calls_drop(r);
		run_free(r);
	}
}

void
wf_tick_soon(void)
{
	if (!tick_ready) {
		uv_timer_init(uv_default_loop(), &tick);
		uv_unref((uv_handle_t *)&tick);
		tick_ready = 1;
	}
	uv_timer_start(&tick, tick_cb, 0, 0);
}

void
workflow_thread_done(
    struct wf_thread *t, int ok, json_t *value, const char *error)
{
	struct wf_run *r = t->run;
	struct wf_thread *p = t->parent;

	if (p) {
		wf_lua_branch_done(t, ok, error);
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
	free(r->end_error);
	r->end_error = error ? xstrdup(error) : NULL;
	json_decref(r->end_result);
	r->end_result = json_incref(result);
	if (!r->dry)
		wf_save_run(r, error, res);
	free(res);
	wf_tick_soon(); /* the interpreter is freed outside its own resume */
}

void
workflow_phase(struct wf_thread *t, const char *name)
{
	snprintf(t->phase, sizeof t->phase, "%s", name);
	if (t->parent == NULL || strcmp(t->run->phase, name) != 0) {
		snprintf(t->run->phase, sizeof t->run->phase, "%s", name);
		if (!t->run->dry)
			wf_save_run(t->run, NULL, NULL);
	}
}

void
workflow_log(struct wf_thread *t, const char *text)
{
	if (t->run->dry)
		return;
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
		store_bind_text(st, i + 1, args[i]);
	if (sqlite3_step(st) == SQLITE_DONE && sqlite3_changes(galley_db.db)) {
		json_t *ev =
		    json_pack("{s:s, s:s, s:s, s:s}", "event", "workflow.log",
		        "run", t->run->id, "key", key, "text", text);
		server_broadcast("workflow", ev);
		json_decref(ev);
	}
	sqlite3_reset(st);
}

/* progress(value): what the script reports (a batch's table), kept on
 * the run's row and sent to subscribers. A replay reports the same
 * values again, so no fsync. */
void
workflow_progress(struct wf_thread *t, json_t *value)
{
	struct wf_run *r = t->run;

	if (r->dry)
		return;
	char *text = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);
	const char *args[] = {text, r->id};
	wf_exec_plain(
	    "UPDATE workflow_runs SET progress = ? WHERE id = ?", args, 2);
	json_t *ev = json_pack("{s:s, s:s, s:O}", "event", "workflow.progress",
	    "run", r->id, "progress", value);
	server_broadcast("workflow", ev);
	json_decref(ev);
	free(text);
}

/* ---- booting a run: first start or a replay --------------------------- */

static int
run_boot(struct wf_run *r, char **error)
{
	const char *id[] = {r->id};

	if (!r->dry)
		wf_exec_plain(
		    "UPDATE workflow_journal SET replayed = 0 WHERE run = ?",
		    id, 1);
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
	if (!r->dry)
		wf_save_run(r, NULL, NULL);
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
	r->args = args ? json_incref(args) : json_object();
	r->env = env ? json_incref(env) : json_array();
	r->max_active = MAX_ACTIVE;
	r->max_calls = MAX_CALLS;
	sqlite3_stmt *st = store_stmt(&galley_db,
	    "SELECT budget_usd, budget_tokens, parallel FROM workflow_runs "
	    "WHERE id = ?");
	if (st) {
		store_bind_text(st, 1, id);
		if (sqlite3_step(st) == SQLITE_ROW) {
			r->budget_usd = sqlite3_column_double(st, 0);
			r->budget_tokens = sqlite3_column_int64(st, 1);
			if (sqlite3_column_int(st, 2) > 0) /* the run's own */
				r->max_active = sqlite3_column_int(st, 2);
		}
		sqlite3_reset(st);
	}
	snprintf(r->state, sizeof r->state, "running");
	r->next = runs;
	runs = r;
	return r;
}

/* Boot it; a script that fails at once fails the run, with the reason,
 * and so does one whose last boot got stuck in C (wf-watchdog.c): it would
 * again. */
static void
run_go(struct wf_run *r)
{
	char *error = NULL, *stuck = wf_watchdog_file(r->id);
	struct buf why = BUF_INIT;

	wf_watchdog_arm();
	if (!r->dry && read_file(stuck, &why, 4096, NULL) == 0) {
		buf_addc(&why, '\0');
		unlink(stuck);
		log_warn("workflow %s: failed: %s", r->id, why.data);
		run_end(r, "failed", why.data, NULL);
	} else if (run_boot(r, &error) < 0)
		run_end(r, "failed", error, NULL);
	buf_release(&why);
	free(stuck);
	free(error);
}

static int wf_budget_source(struct session *s, struct budget *b);

static const char *
opt_str(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

void
workflow_init(void)
{
	static const struct wf_host_ops ops = {workflow_call, workflow_log,
	    workflow_phase, workflow_thread_done, workflow_budget,
	    workflow_progress};

	wf_lua_host(&ops);
	wf_calls_observe();
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
		        store_col_text(st, 0), "name", store_col_text(st, 1),
		        "file", store_col_text(st, 2), "script",
		        store_col_text(st, 3), "cwd", store_col_text(st, 4),
		        "args", store_col_text(st, 5), "env",
		        store_col_text(st, 6)));
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
		    file, script, opt_str(v, "cwd"), args, env);
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
workflow_start(const char *id, const char *name, const char *file,
    const char *script, const char *cwd, json_t *args, json_t *env)
{
	struct wf_run *r = run_new(id, name, file, script, cwd, args, env);

	/* the run's row stands before its script runs: a script stuck in C
	 * restarts the daemon (wf-watchdog.c), losing the request's
	 * transaction; the run must be there to be failed */
	store_sync(&galley_db);
	run_go(r);
	return r;
}

void
workflow_stop(struct wf_run *r)
{
	wf_calls_stop(r);
	snprintf(r->state, sizeof r->state, "stopped");
	wf_save_run(r, NULL, NULL);
	wf_tick_soon();
}

void
workflow_pause(struct wf_run *r, int pause)
{
	snprintf(r->state, sizeof r->state, "%s", pause ? "paused" : "running");
	wf_save_run(r, NULL, NULL);
	if (!pause)
		wf_calls_start(r);
}

void
workflow_budget(struct wf_run *r, double usd, long long tokens,
    long long agents, long long parallel)
{
	if (parallel > 0 && parallel < r->max_active)
		r->max_active = (int)parallel;
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
	struct wf_run *r = s->workflow ? workflow_find(s->workflow) : NULL;

	if (r == NULL || (r->budget_usd <= 0 && r->budget_tokens <= 0))
		return 0;
	snprintf(b->scope, sizeof b->scope, "workflow:%s", r->id);
	snprintf(b->label, sizeof b->label, "workflow run %s's budget", r->id);
	snprintf(b->raise, sizeof b->raise, "galley workflow budget %s", r->id);
	b->lim_usd = r->budget_usd;
	b->lim_tokens = r->budget_tokens;
	wf_run_spent(r, &b->usd, &b->tokens);
	return 1;
}

void
workflow_budget_raise(struct wf_run *r, double usd, long long tokens)
{
	r->budget_usd = usd;
	r->budget_tokens = tokens;
	session_budget_check_all(); /* held agents go on */
	wf_calls_start(r);
}

json_t *
workflow_dry(
    const char *name, const char *script, const char *cwd, json_t *args)
{
	char id[16];
	snprintf(id, sizeof id, "dry");
	random_hex(id + 3, 5);
	struct wf_run *r = run_new(id, name, NULL, script, cwd, args, NULL);
	r->dry = 1;
	run_go(r);
	/* stubs never wait: it has ended, unless it waits on nothing */
	json_t *out = json_pack("{s:s, s:s?, s:O?}", "state", r->state, "error",
	    r->end_error, "result", r->end_result);
	if (strcmp(r->state, "running") == 0) {
		json_object_set_new(out, "state", json_string("failed"));
		json_object_set_new(
		    out, "error", json_string("the dry run did not end"));
		snprintf(r->state, sizeof r->state, "stopped");
	}
	wf_tick_soon(); /* frees it */
	return out;
}
