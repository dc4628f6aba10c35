/* The daemon's side of `galley workflow`: run, status, runs, logs, stop,
 * pause, resume, rm. Every op names its run by id, so any terminal or
 * script can drive a run. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "names.h"
#include "proto.h"
#include "session.h"
#include "state.h"
#include "store.h"
#include "util.h"
#include "workflow.h"
#include "xmalloc.h"

#define SCRIPT_MAX (1 << 20)

/* A run's row by id or a unique id prefix; NULL with err. */
static json_t *
run_row(const char *ref, struct err *err)
{
	static const char sql[] =
	    "SELECT id, name, file, script, cwd, args, env, state, phase, "
	    "error, result, created_at, updated_at, budget_usd, budget_tokens, "
	    "progress FROM workflow_runs WHERE substr(id, 1, length(?1)) = ?1 ORDER BY "
	    "id = ?1 DESC LIMIT 2";
	sqlite3_stmt *st;
	json_t *row = NULL;
	int n = 0;

	if (ref[0] == '\0' || strlen(ref) > 8 ||
	    strspn(ref, "0123456789abcdef") != strlen(ref))
		return err_set(err, ERR_USAGE,
		           "a run id is 1 to 8 hex digits: see 'galley "
		           "workflow runs'"),
		       NULL;
	if ((st = store_stmt(&galley_db, sql)) == NULL) {
		store_sqlerr(&galley_db, err, "workflow");
		return NULL;
	}
	sqlite3_bind_text(st, 1, ref, -1, SQLITE_TRANSIENT);
	while (sqlite3_step(st) == SQLITE_ROW && n++ == 0) {
		row = json_pack("{s:s, s:s, s:s?, s:s, s:s, s:s, s:s, s:s, "
		                "s:s?, s:s?, s:s?, s:I, s:I, s:{s:f, s:I}}",
		    "id", store_col_text(st, 0), "name", store_col_text(st, 1),
		    "file", store_col_text(st, 2), "script",
		    store_col_text(st, 3), "cwd", store_col_text(st, 4), "args",
		    store_col_text(st, 5), "env", store_col_text(st, 6),
		    "state", store_col_text(st, 7), "phase",
		    store_col_text(st, 8), "error", store_col_text(st, 9),
		    "result", store_col_text(st, 10), "created_at",
		    (json_int_t)sqlite3_column_int64(st, 11), "updated_at",
		    (json_int_t)sqlite3_column_int64(st, 12), "budget", "usd",
		    sqlite3_column_double(st, 13), "tokens",
		    (json_int_t)sqlite3_column_int64(st, 14));
		json_t *prog = store_col_text(st, 15)
		    ? json_loads(store_col_text(st, 15), JSON_DECODE_ANY, NULL)
		    : NULL;
		json_object_set_new(row, "progress", prog ? prog : json_null());
	}
	sqlite3_reset(st);
	if (n > 1 &&
	    strcmp(json_string_value(json_object_get(row, "id")), ref) != 0) {
		json_decref(row);
		err_set(err, ERR_USAGE,
		    "run '%s' is ambiguous: give more of it", ref);
		return NULL;
	}
	if (row == NULL)
		err_set(err, ERR_NOT_FOUND,
		    "no workflow run '%s': see 'galley workflow runs'", ref);
	return row;
}

static const char *
str(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

/* A call whose session exists: its live state, the overlaps found with
 * other worktrees, and its cost into the run's. */
static void
add_live(json_t *a, struct session *s, double *cost, long long *tokens)
{
	json_object_set_new(
	    a, "session_state", json_string(state_name(s->state)));
	json_object_set_new(a, "session_name", json_string(s->name));
	json_t *sj = session_to_json(s);
	json_t *with = json_object_get(sj, "conflicts_with");
	if (json_array_size(with))
		json_object_set(a, "conflicts_with", with);
	json_decref(sj);
	*cost += s->usage.cost;
	*tokens += s->usage.input + s->usage.output + s->usage.cache_read +
	    s->usage.cache_write;
}

/* One more call in phase (ended or not) */
static void
count_phase(json_t *phases, const char *phase, int ended)
{
	json_t *p = NULL, *v;
	size_t i;

	json_array_foreach(phases, i, v) if (strcmp(str(v, "name"), phase) == 0)
	    p = v;
	if (p == NULL) {
		p = json_pack(
		    "{s:s, s:i, s:i}", "name", phase, "done", 0, "total", 0);
		json_array_append_new(phases, p);
	}
	json_object_set_new(p, "total",
	    json_integer(json_integer_value(json_object_get(p, "total")) + 1));
	if (ended)
		json_object_set_new(p, "done",
		    json_integer(
		        json_integer_value(json_object_get(p, "done")) + 1));
}

/* {"run", "name", "state", "phase", "error", "result", "phases": [{name,
 * done, total}], "agents": [...], "usage": {...}} */
static json_t *
status_json(json_t *row)
{
	static const char sql[] =
	    "SELECT key, label, phase, session, state, error, replayed FROM "
	    "workflow_journal WHERE run = ? ORDER BY started_at, key";
	json_t *agents = json_array(), *phases = json_array();
	json_t *o =
	    json_pack("{s:s, s:s, s:s, s:s?, s:s?, s:O}", "run", str(row, "id"),
	        "name", str(row, "name"), "state", str(row, "state"), "phase",
	        str(row, "phase"), "error", str(row, "error"), "created_at",
	        json_object_get(row, "created_at"));
	double cost = 0;
	long long tokens = 0;
	sqlite3_stmt *st = store_stmt(&galley_db, sql);

	json_t *res = str(row, "result")
	    ? json_loads(str(row, "result"), JSON_DECODE_ANY, NULL)
	    : NULL;
	json_object_set_new(o, "result", res ? res : json_null());
	if (st) {
		sqlite3_bind_text(st, 1, str(row, "id"), -1, SQLITE_TRANSIENT);
		while (sqlite3_step(st) == SQLITE_ROW) {
			const char *phase =
			    store_col_text(st, 2) ? store_col_text(st, 2) : "";
			struct session *s = store_col_text(st, 3)
			    ? session_find_id(store_col_text(st, 3))
			    : NULL;
			json_t *a =
			    json_pack("{s:s, s:s?, s:s, s:s?, s:s, s:s?, s:b}",
			        "key", store_col_text(st, 0), "label",
			        store_col_text(st, 1), "phase", phase,
			        "session", store_col_text(st, 3), "state",
			        store_col_text(st, 4), "error",
			        store_col_text(st, 5), "replayed",
			        sqlite3_column_int(st, 6));
			json_array_append_new(agents, a);
			if (s)
				add_live(a, s, &cost, &tokens);
			count_phase(phases, phase,
			    strcmp(store_col_text(st, 4), "started") != 0);
		}
		sqlite3_reset(st);
	}
	json_object_set_new(o, "phases", phases);
	json_object_set_new(o, "agents", agents);
	json_object_set_new(o, "usage",
	    json_pack(
	        "{s:f, s:I}", "cost_usd", cost, "tokens", (json_int_t)tokens));
	json_object_set(o, "budget", json_object_get(row, "budget"));
	json_object_set(o, "progress", json_object_get(row, "progress"));
	json_t *args = json_loads(str(row, "args"), 0, NULL);
	json_object_set_new(o, "args", args ? args : json_object());
	struct wf_run *live = workflow_find(str(row, "id"));
	json_object_set_new(o, "waiting_for",
	    live && live->held ? json_string(live->held) : json_null());
	return o;
}

/* budget_usd (0..1e6) and budget_tokens (0..1e12); 0: none */
static int
get_budget(json_t *req, double *usd, json_int_t *tokens, struct err *err)
{
	json_t *u = json_object_get(req, "budget_usd");

	*usd = 0;
	*tokens = 0;
	if (u &&
	    (!json_is_number(u) || json_number_value(u) < 0 ||
	        json_number_value(u) > 1e6))
		return err_set(err, ERR_USAGE,
		    "field 'budget_usd' must be a number from 0 to 1000000");
	*usd = u ? json_number_value(u) : 0;
	return proto_get_int_in(
	    req, "budget_tokens", tokens, 0, 1000000000000LL, err);
}

/* "run_id": the caller's (a batch names its branches after it before
 * the run starts), else a fresh one */
static int
pick_id(json_t *req, char id[16], struct err *err)
{
	const char *want = NULL;

	if (proto_get_str(req, "run_id", &want, err) < 0)
		return -1;
	if (want == NULL) {
		do
			random_hex(id, 8);
		while (workflow_find(id));
		return 0;
	}
	if (strlen(want) != 8 || strspn(want, "0123456789abcdef") != 8)
		return err_set(
		    err, ERR_USAGE, "field 'run_id' must be 8 hex digits");
	struct err none = ERR_INIT;
	json_t *had = run_row(want, &none);
	int taken = had && strcmp(str(had, "id"), want) == 0;
	err_release(&none);
	json_decref(had);
	if (taken)
		return err_set(err, ERR_EXISTS, "run %s exists already", want);
	snprintf(id, 16, "%s", want);
	return 0;
}

static int
serve_run(json_t *req, json_t *reply, struct err *err)
{
	const char *name = NULL, *file = NULL, *script = NULL, *cwd = NULL;
	json_t *args = json_object_get(req, "args");
	json_t *env = json_object_get(req, "env"), *v;
	const char *k;
	size_t i;

	if (proto_get_str(req, "name", &name, err) < 0 ||
	    proto_get_str(req, "file", &file, err) < 0 ||
	    proto_get_str(req, "script", &script, err) < 0 ||
	    proto_get_str(req, "cwd", &cwd, err) < 0)
		return -1;
	if (name == NULL || name_check(name, "workflow", err) < 0)
		return name
		    ? -1
		    : err_set(err, ERR_USAGE, "field 'name' is missing");
	if (script == NULL || strlen(script) > SCRIPT_MAX)
		return err_set(
		    err, ERR_USAGE, "a script of up to 1 MiB is needed");
	if (cwd == NULL || cwd[0] != '/')
		return err_set(err, ERR_USAGE, "field 'cwd' must be absolute");
	if (args && !json_is_object(args))
		return err_set(
		    err, ERR_USAGE, "field 'args' must be an object");
	json_object_foreach(args, k, v) if (!json_is_string(v)) return err_set(
	    err, ERR_USAGE, "argument '%.32s' must be a string", k);
	if (env && !json_is_array(env))
		return err_set(err, ERR_USAGE, "field 'env' must be an array");
	double busd;
	json_int_t btok;
	if (get_budget(req, &busd, &btok, err) < 0)
		return -1;
	json_array_foreach(env, i, v) if (!json_is_string(v)) return err_set(
	    err, ERR_USAGE, "field 'env' holds strings only");
	json_int_t parallel = 0;
	char id[16];
	if (pick_id(req, id, err) < 0 ||
	    proto_get_int_in(req, "parallel", &parallel, 0, 64, err) < 0)
		return -1;
	char *a = args ? json_dumps(args, JSON_COMPACT) : xstrdup("{}");
	char *e = env ? json_dumps(env, JSON_COMPACT) : xstrdup("[]");
	sqlite3_stmt *st = store_stmt(&galley_db,
	    "INSERT INTO workflow_runs (id, name, file, script, cwd, args, env, "
	    "state, created_at, updated_at, budget_usd, budget_tokens, "
	    "parallel) VALUES (?,?,?,?,?,?,?,'running',?,?,?,?,?)");
	int rc = -1;
	if (st) {
		const char *t[] = {id, name, file, script, cwd, a, e};
		for (int j = 0; j < 7; j++)
			if (t[j])
				sqlite3_bind_text(
				    st, j + 1, t[j], -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(st, 8, wall_ms());
		sqlite3_bind_int64(st, 9, wall_ms());
		sqlite3_bind_double(st, 10, busd);
		sqlite3_bind_int64(st, 11, btok);
		sqlite3_bind_int64(st, 12, parallel);
		rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
		sqlite3_reset(st);
	}
	free(a);
	free(e);
	if (rc < 0)
		return store_sqlerr(&galley_db, err, "workflow run");
	workflow_start(id, name, file, script, cwd, args, env);
	json_t *row = run_row(id, err);
	if (row == NULL)
		return -1;
	json_object_set_new(reply, "status", status_json(row));
	json_object_set_new(reply, "run", json_string(id));
	json_decref(row);
	return 0;
}

/* session id -> the phase its call was made in, for every agent of every
 * run (ls --tree puts a run's agents under their phases). */
json_t *
workflow_agent_phases(void)
{
	sqlite3_stmt *st = store_stmt(&galley_db,
	    "SELECT session, phase FROM workflow_journal WHERE session IS NOT "
	    "NULL AND phase IS NOT NULL AND phase != ''");
	json_t *out = json_object();

	if (st == NULL)
		return out;
	while (sqlite3_step(st) == SQLITE_ROW)
		json_object_set_new(out, store_col_text(st, 0),
		    json_string(store_col_text(st, 1)));
	sqlite3_reset(st);
	return out;
}

json_t *
workflow_runs_json(void)
{
	/* with the current phase's calls ended and made (the view's rows) */
	sqlite3_stmt *st = store_stmt(&galley_db,
	    "SELECT r.id, r.name, r.state, r.phase, r.created_at, r.updated_at, "
	    "(SELECT count(*) FROM workflow_journal j WHERE j.run = r.id AND "
	    "coalesce(j.phase, '') = coalesce(r.phase, '') AND j.state != "
	    "'started'), (SELECT count(*) FROM workflow_journal j WHERE j.run = "
	    "r.id AND coalesce(j.phase, '') = coalesce(r.phase, '')) FROM "
	    "workflow_runs r ORDER BY r.created_at");
	json_t *out = json_array();

	if (st == NULL)
		return out;
	while (sqlite3_step(st) == SQLITE_ROW)
		json_array_append_new(out,
		    json_pack("{s:s, s:s, s:s, s:s?, s:I, s:I, s:i, s:i}",
		        "run", store_col_text(st, 0), "name",
		        store_col_text(st, 1), "state", store_col_text(st, 2),
		        "phase", store_col_text(st, 3), "created_at",
		        (json_int_t)sqlite3_column_int64(st, 4), "updated_at",
		        (json_int_t)sqlite3_column_int64(st, 5), "phase_done",
		        sqlite3_column_int(st, 6), "phase_total",
		        sqlite3_column_int(st, 7)));
	sqlite3_reset(st);
	return out;
}

static json_t *
logs_json(const char *id)
{
	sqlite3_stmt *st = store_stmt(&galley_db,
	    "SELECT at, text, key FROM workflow_log WHERE run = ? ORDER BY at, "
	    "rowid");
	json_t *out = json_array();

	if (st == NULL)
		return out;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
	while (sqlite3_step(st) == SQLITE_ROW)
		json_array_append_new(out,
		    json_pack("{s:I, s:s, s:s}", "at",
		        (json_int_t)sqlite3_column_int64(st, 0), "text",
		        store_col_text(st, 1), "key", store_col_text(st, 2)));
	sqlite3_reset(st);
	return out;
}

static int run_again(json_t *row);

/* A stopped, failed or paused run goes on from its journal (a script
 * file that changed is read again). */
static int
serve_resume(json_t *row, struct err *err)
{
	struct wf_run *r = workflow_find(str(row, "id"));
	const char *state = str(row, "state");

	if (r && strcmp(r->state, "paused") == 0) {
		workflow_pause(r, 0);
		return 0;
	}
	if (r || strcmp(state, "done") == 0)
		return err_set(err, ERR_REFUSED, "run %s is %s already",
		    str(row, "id"), state);
	return run_again(row);
}

/* The run booted again from its row, replaying its journal. */
static int
run_again(json_t *row)
{
	struct buf b = BUF_INIT;
	const char *script = str(row, "script");
	if (str(row, "file") &&
	    read_file(str(row, "file"), &b, SCRIPT_MAX, NULL) >= 0) {
		buf_addc(&b, '\0');
		script = b.data;
	}
	json_t *args = json_loads(str(row, "args"), 0, NULL);
	json_t *env = json_loads(str(row, "env"), 0, NULL);
	workflow_start(str(row, "id"), str(row, "name"), str(row, "file"),
	    script, str(row, "cwd"), args, env);
	json_decref(args);
	json_decref(env);
	buf_release(&b);
	return 0;
}

/* retry LABEL: the parallel{} branch that made the call LABEL is
 * forgotten (its calls and log lines) and the ended run replayed, so
 * that branch runs again and everything else is fed back. */
static int
serve_retry(json_t *row, json_t *req, struct err *err)
{
	const char *label = NULL, *id = str(row, "id");
	sqlite3_stmt *st;
	char *key = NULL;

	if (proto_get_str(req, "label", &label, err) < 0)
		return -1;
	if (label == NULL)
		return err_set(err, ERR_USAGE, "which call? its label");
	if (workflow_find(id))
		return err_set(err, ERR_REFUSED,
		    "run %s is still %s: retry once it has ended (or stop it)",
		    id, workflow_find(id)->state);
	if ((st = store_stmt(&galley_db,
	         "SELECT key FROM workflow_journal WHERE run = ? AND label = ? "
	         "ORDER BY started_at DESC LIMIT 1")) == NULL)
		return store_sqlerr(&galley_db, err, "workflow");
	store_bind_text(st, 1, id);
	store_bind_text(st, 2, label);
	if (sqlite3_step(st) == SQLITE_ROW)
		key = xstrdup(store_col_text(st, 0));
	sqlite3_reset(st);
	if (key == NULL)
		return err_set(err, ERR_NOT_FOUND,
		    "run %s made no call labelled '%.64s'", id, label);
	char *dot = strrchr(key, '.');
	if (dot == NULL) {
		free(key);
		return err_set(err, ERR_REFUSED,
		    "call '%.64s' is not inside parallel{}: start a new run",
		    label);
	}
	*dot = '\0'; /* its branch: every call and line under it */
	static const char *const del[] = {
	    "DELETE FROM workflow_journal WHERE run = ?1 AND (key = ?2 OR "
	    "substr(key, 1, length(?2) + 1) = ?2 || '.')",
	    "DELETE FROM workflow_log WHERE run = ?1 AND substr(key, 1, "
	    "length(?2) + 1) = ?2 || '.'",
	    "UPDATE workflow_runs SET error = NULL, result = NULL WHERE id = ?1"};
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < nitems(del); i++) {
		if ((st = store_stmt(&galley_db, del[i])) == NULL)
			return free(key),
			       store_sqlerr(&galley_db, err, "workflow");
		store_bind_text(st, 1, id);
		if (i < 2)
			store_bind_text(st, 2, key);
		if (sqlite3_step(st) != SQLITE_DONE)
			rc = store_sqlerr(&galley_db, err, "workflow");
		sqlite3_reset(st);
	}
	free(key);
	return rc < 0 ? -1 : run_again(row);
}

static int
serve_budget(json_t *row, struct wf_run *r, json_t *req, struct err *err)
{
	double usd;
	json_int_t tok;
	sqlite3_stmt *st;
	int rc = 0;

	if (get_budget(req, &usd, &tok, err) < 0)
		return -1;
	if ((st = store_stmt(&galley_db,
	         "UPDATE workflow_runs SET budget_usd = ?, budget_tokens = ? "
	         "WHERE id = ?")) == NULL)
		return store_sqlerr(&galley_db, err, "workflow");
	sqlite3_bind_double(st, 1, usd);
	sqlite3_bind_int64(st, 2, tok);
	sqlite3_bind_text(st, 3, str(row, "id"), -1, SQLITE_TRANSIENT);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = store_sqlerr(&galley_db, err, "workflow");
	sqlite3_reset(st);
	if (rc == 0 && r)
		workflow_budget_raise(r, usd, tok);
	return rc;
}

static int
serve_rm(json_t *row, struct wf_run *r, json_t *reply, struct err *err)
{
	sqlite3_stmt *st =
	    store_stmt(&galley_db, "DELETE FROM workflow_runs WHERE id = ?");
	int rc = 0;

	if (r)
		workflow_stop(r);
	if (st == NULL)
		return store_sqlerr(&galley_db, err, "workflow rm");
	sqlite3_bind_text(st, 1, str(row, "id"), -1, SQLITE_TRANSIENT);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = store_sqlerr(&galley_db, err, "workflow rm");
	sqlite3_reset(st);
	json_object_set_new(reply, "removed", json_string(str(row, "id")));
	return rc;
}

static int
not_running(json_t *row, struct err *err)
{
	return err_set(err, ERR_REFUSED, "run %s is %s, not running",
	    str(row, "id"), str(row, "state"));
}

/* An op on one run; the reply gets its status after (but rm's). */
static int
serve_op(
    const char *op, json_t *row, json_t *req, json_t *reply, struct err *err)
{
	struct wf_run *r = workflow_find(str(row, "id"));
	const char *which = NULL;

	if (strcmp(op, "status") == 0)
		return 0;
	if (strcmp(op, "logs") == 0) {
		json_object_set_new(reply, "logs", logs_json(str(row, "id")));
		return 0;
	}
	if (strcmp(op, "budget") == 0)
		return serve_budget(row, r, req, err);
	if (strcmp(op, "script") == 0) { /* for save */
		json_object_set_new(
		    reply, "script", json_string(str(row, "script")));
		json_object_set(reply, "cwd", json_object_get(row, "cwd"));
		return 0;
	}
	if (strcmp(op, "restart-agent") == 0) {
		if (proto_get_str(req, "agent", &which, err) < 0)
			return -1;
		if (which == NULL)
			return err_set(
			    err, ERR_USAGE, "which agent? its label");
		return r ? workflow_restart_agent(r, which, err)
		         : not_running(row, err);
	}
	if (strcmp(op, "stop") == 0 || strcmp(op, "pause") == 0) {
		if (r == NULL)
			return not_running(row, err);
		if (strcmp(op, "stop") == 0)
			workflow_stop(r);
		else
			workflow_pause(r, 1);
		return 0;
	}
	if (strcmp(op, "resume") == 0)
		return serve_resume(row, err);
	if (strcmp(op, "retry") == 0)
		return serve_retry(row, req, err);
	return err_set(err, ERR_USAGE, "unknown workflow op '%.32s'", op);
}

static int
serve_dry(json_t *req, json_t *reply, struct err *err)
{
	const char *name = NULL, *script = NULL, *cwd = NULL;

	if (proto_get_str(req, "name", &name, err) < 0 ||
	    proto_get_str(req, "script", &script, err) < 0 ||
	    proto_get_str(req, "cwd", &cwd, err) < 0)
		return -1;
	if (script == NULL || strlen(script) > SCRIPT_MAX)
		return err_set(
		    err, ERR_USAGE, "a script of up to 1 MiB is needed");
	if (cwd == NULL || cwd[0] != '/')
		return err_set(err, ERR_USAGE, "field 'cwd' must be absolute");
	json_t *args = json_object_get(req, "args");
	json_object_set_new(reply, "dry",
	    workflow_dry(name && name_valid(name) ? name : "dry", script, cwd,
	        json_is_object(args) ? args : NULL));
	return 0;
}

int
workflow_serve(json_t *req, json_t *reply, struct err *err)
{
	const char *op = NULL, *ref = NULL;

	if (proto_get_str(req, "op", &op, err) < 0 ||
	    proto_get_str(req, "run", &ref, err) < 0)
		return -1;
	if (op == NULL)
		return err_set(err, ERR_USAGE, "field 'op' is missing");
	if (strcmp(op, "run") == 0)
		return serve_run(req, reply, err);
	if (strcmp(op, "runs") == 0) {
		json_object_set_new(reply, "runs", workflow_runs_json());
		return 0;
	}
	if (strcmp(op, "dry") == 0)
		return serve_dry(req, reply, err);
	if (ref == NULL)
		return err_set(err, ERR_USAGE, "which run? give its id");
	json_t *row = run_row(ref, err);
	if (row == NULL)
		return -1;
	int rc = strcmp(op, "rm") == 0
	    ? serve_rm(row, workflow_find(str(row, "id")), reply, err)
	    : serve_op(op, row, req, reply, err);
	if (rc == 0 && strcmp(op, "rm") != 0) {
		json_t *now = run_row(str(row, "id"), err);
		if (now) {
			json_object_set_new(reply, "status", status_json(now));
			json_decref(now);
		}
	}
	json_decref(row);
	return rc;
}
