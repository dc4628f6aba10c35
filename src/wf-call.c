/* Workflow calls (workflow.h): agent() and sh() journaled, started as
 * sessions, and their ends given back to the script. A call's key is its
 * place in the script (the thread's path and ordinal, so parallel
 * branches finishing in any order keep their keys) and a hash of its
 * prompt and options: a recorded outcome is fed back instead of starting
 * an agent; a call whose hash no longer matches stops the run
 * (nondeterminism), never re-runs. */
#include <lua.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <uv.h>

#include "buf.h"
#include "log.h"
#include "session-life.h"
#include "session.h"
#include "spec.h"
#include "state.h"
#include "store.h"
#include "util.h"
#include "workflow.h"
#include "xmalloc.h"

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

static struct wf_call *calls;

static void call_respawn(struct wf_call *c);

static void
timer_closed(uv_handle_t *h)
{
	free(h);
}

/* Its timeout goes: stopped, closed, freed by libuv's callback. */
static void
timer_drop(struct wf_call *c)
{
	if (c->timer == NULL)
		return;
	uv_timer_stop(c->timer);
	uv_close((uv_handle_t *)c->timer, timer_closed);
	c->timer = NULL;
}

static void
call_free(struct wf_call *c)
{
	for (struct wf_call **p = &calls; *p; p = &(*p)->next)
		if (*p == c) {
			*p = c->next;
			break;
		}
	timer_drop(c);
	free(c->prompt);
	free(c->result);
	free(c->error);
	json_decref(c->opts);
	free(c);
}

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
	wf_exec_durable(
	    "UPDATE workflow_journal SET state = ?, result = ?, error "
	    "= ?, ended_at = CAST(? AS INTEGER) WHERE run = ? AND key "
	    "= ?",
	    args, 6);
	wf_tick_soon();
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
/* The session a call asks for: headless in the run's directory (a job
 * for sh), carrying "workflow": RUN. */
static void
call_spec(struct wf_call *c, struct session_spec *sp)
{
	struct wf_run *r = c->run;
	json_t *v;
	size_t i;
	char base[72];
	const char *label = opt_str(c->opts, "label");
	static const char *const copy[] = {"model", "agent", "effort"};
	char **to[] = {&sp->model, &sp->agent, &sp->effort};

	spec_init(sp);
	if (c->sh) { /* sh(cmd): a job */
		sp->runtime = xstrdup("exec");
		label = label ? label : "sh";
	} else {
		const char *rt = opt_str(c->opts, "runtime");
		sp->runtime = xstrdup(rt ? rt : "claude");
		sp->headless = 1;
	}
	sp->prompt = xstrdup(c->prompt);
	const char *dir = c->sh ? opt_str(c->opts, "cwd") : NULL;
	if (dir &&
	    dir[0] == '/') /* sh(cmd, {cwd = DIR}): an agent's worktree */
		sp->cwd = xstrdup(dir);
	else if (dir)
		xasprintf(&sp->cwd, "%s/%s", r->cwd, dir);
	else
		sp->cwd = xstrdup(r->cwd);
	json_array_foreach(r->env, i, v)
	    strv_add(&sp->env, json_string_value(v));
	for (i = 0; i < nitems(copy); i++)
		if (opt_str(c->opts, copy[i]))
			*to[i] = xstrdup(opt_str(c->opts, copy[i]));
	json_array_foreach(json_object_get(c->opts, "tools"), i, v)
	{
		if (json_is_string(v))
			strv_add(&sp->agent_tools, json_string_value(v));
	}
	v = json_object_get(c->opts, "budget");
	if (json_is_number(v))
		sp->budget_usd = json_number_value(v);
	snprintf(
	    base, sizeof base, "%.30s.%.30s", r->name, label ? label : "agent");
	for (char *p = base; *p; p++)
		if (!strchr(
		        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		        "0123456789._-",
		        *p))
			*p = '-';
	sp->name = session_unique_name(base);
	sp->workflow = xstrdup(r->id);
}

static int
call_start(struct wf_call *c)
{
	struct wf_run *r = c->run;
	struct session_spec sp;
	struct err err = ERR_INIT;

	call_spec(c, &sp);
	struct session *s = NULL;
	const char *iso = opt_str(c->opts, "isolation");
	if (iso && strcmp(iso, "worktree") && strcmp(iso, "shared"))
		err_set(&err, ERR_USAGE,
		    "opts.isolation is \"worktree\" or \"shared\", not \"%s\"",
		    iso);
	else if ((iso == NULL || strcmp(iso, "worktree") ||
	             wf_worktree(r, c->key, c->opts, &sp, &err) == 0) &&
	    spec_check(&sp, &err) == 0)
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
	wf_exec_durable(
	    "UPDATE workflow_journal SET session = ? WHERE run = ? AND "
	    "key = ?",
	    args, 3);
	json_int_t secs =
	    json_integer_value(json_object_get(c->opts, "timeout"));
	if (secs > 7 * 86400) /* a week at most: no overflow below */
		secs = 7 * 86400;
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

/* A call's row in the journal, if any (strings owned). */
struct jrow {
	int found;
	char *hash, *state, *sid, *result, *error;
};

static int
jrow_read(struct wf_run *r, const char *key, struct jrow *j)
{
	static const char sql[] =
	    "SELECT hash, state, session, result, error FROM workflow_journal "
	    "WHERE run = ? AND key = ?";
	sqlite3_stmt *st = store_stmt(&galley_db, sql);

	memset(j, 0, sizeof *j);
	if (st == NULL)
		return -1;
	store_bind_text(st, 1, r->id);
	store_bind_text(st, 2, key);
	if ((j->found = sqlite3_step(st) == SQLITE_ROW)) {
		char **f[] = {
		    &j->hash, &j->state, &j->sid, &j->result, &j->error};
		for (int i = 0; i < 5; i++)
			*f[i] = store_col_text(st, i)
			    ? xstrdup(store_col_text(st, i))
			    : NULL;
	}
	sqlite3_reset(st);
	return 0;
}

static void
jrow_free(struct jrow *j)
{
	free(j->hash);
	free(j->state);
	free(j->sid);
	free(j->result);
	free(j->error);
}

/* A call not done yet: taken back from a session that lives (or ended
 * while the daemon was away), else journaled and started. 0: it waits;
 * 2: failed at once, its outcome pushed. */
static int
call_go(struct wf_thread *t, const char *kind, const char *prompt, json_t *opts,
    const char *key, const char *hash, struct jrow *j)
{
	struct wf_run *r = t->run;
	struct wf_call *c = xcalloc(1, sizeof *c);
	char why[512];

	c->run = r;
	c->t = t;
	snprintf(c->key, sizeof c->key, "%s", key);
	snprintf(c->hash, sizeof c->hash, "%s", hash);
	c->prompt = xstrdup(prompt);
	c->opts = json_incref(opts);
	c->sh = strcmp(kind, "sh") == 0;
	struct wf_call **tail = &calls; /* in order made: the oldest starts */
	while (*tail)
		tail = &(*tail)->next;
	*tail = c;
	struct session *s = j->sid ? session_find_id(j->sid) : NULL;
	if (s && (!session_terminal(s) || s->state == SESSION_DONE)) {
		/* in flight at the crash: its own, or its end */
		snprintf(c->sid, sizeof c->sid, "%s", s->id);
		r->active++;
		if (session_terminal(s)) {
			int ok;
			const char *res;
			session_outcome(s, &ok, &res, why, sizeof why);
			call_end(c, ok, res, ok ? NULL : why);
		}
		return 0;
	}
	if (!j->found) {
		char now[24];
		snprintf(now, sizeof now, "%lld", (long long)wall_ms());
		const char *phase = opt_str(opts, "phase");
		const char *args[] = {r->id, key, hash, kind,
		    opt_str(opts, "label"), phase ? phase : t->phase, now};
		if (wf_exec_durable(
		        "INSERT INTO workflow_journal (run, key, "
		        "hash, kind, label, phase, state, "
		        "started_at) VALUES (?,?,?,?,?,?,'started', "
		        "CAST(? AS INTEGER))",
		        args, 7) < 0) {
			call_free(c);
			wf_lua_push_outcome(t->th, opts, 0, NULL,
			    "cannot journal the call: the store failed");
			return 2;
		}
	}
	/* new, or in flight at a crash and gone since: (re)started */
	wf_calls_start(r);
	return 0;
}

int
workflow_call(
    struct wf_thread *t, const char *kind, const char *prompt, json_t *opts)
{
	struct wf_run *r = t->run;
	char key[128], hash[17], why[512];
	char *canon = json_dumps(opts, JSON_COMPACT | JSON_SORT_KEYS);
	lua_State *L = t->th;
	struct jrow j;

	snprintf(key, sizeof key, "%s%s%d", t->path, *t->path ? "." : "",
	    ++t->counter);
	fnv_hex(prompt, canon ? canon : "", hash);
	free(canon);
	if (r->dry) { /* a stub that fits, nothing started or kept */
		json_t *v = wf_schema_stub(json_object_get(opts, "schema"));
		char *text = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
		wf_lua_push_outcome(L, opts, 1,
		    json_object_get(opts, "schema") ? text : "stub answer",
		    NULL);
		free(text);
		json_decref(v);
		return 2;
	}
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
	if (jrow_read(r, key, &j) < 0) {
		wf_lua_push_outcome(L, opts, 0, NULL, "the store failed");
		return 2;
	}
	int n = 2;
	if (j.found && strcmp(j.hash, hash) != 0) {
		snprintf(why, sizeof why,
		    "galley: nondeterminism: call %s (%s%s%s) is not the one "
		    "the journal recorded there: the script changed; start a "
		    "new run",
		    key, kind, opt_str(opts, "label") ? " " : "",
		    opt_str(opts, "label") ? opt_str(opts, "label") : "");
		r->fatal = xstrdup(why);
		wf_lua_push_outcome(L, opts, 0, NULL, why);
	} else if (j.found && strcmp(j.state, "started") != 0) { /* replay */
		const char *rk[] = {r->id, key};
		wf_exec_plain("UPDATE workflow_journal SET replayed = 1 WHERE "
		              "run = ? AND key = ?",
		    rk, 2);
		wf_lua_push_outcome(
		    L, opts, strcmp(j.state, "done") == 0, j.result, j.error);
	} else
		n = call_go(t, kind, prompt, opts, key, hash, &j);
	jrow_free(&j);
	return n;
}

/* What the run's agents have spent together. */
void
wf_run_spent(struct wf_run *r, double *usd, long long *tokens)
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
	wf_run_spent(r, &usd, &tokens);
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

/* opts.serial = NAME: the run's calls of that name run one at a time (a
 * batch's pushes and PRs, for the remote's and gh's rate limits). */
static int
serial_busy(const struct wf_call *c)
{
	const char *name = opt_str(c->opts, "serial");

	if (name == NULL)
		return 0;
	for (const struct wf_call *o = calls; o; o = o->next)
		if (o != c && o->run == c->run && !o->done && o->sid[0] &&
		    opt_str(o->opts, "serial") &&
		    strcmp(opt_str(o->opts, "serial"), name) == 0)
			return 1;
	return 0;
}

/* Calls without a session, started while the run has slots and budget;
 * the oldest first. */
void
wf_calls_start(struct wf_run *r)
{
	char why[256];

	if (strcmp(r->state, "running") != 0)
		return;
	for (struct wf_call *c = calls; c && r->active < r->max_active;) {
		struct wf_call *next = c->next;
		if (c->run == r && !c->done && c->sid[0] == '\0' &&
		    !serial_busy(c)) {
			if (over_budget(r, why, sizeof why)) {
				/* it waits, as queued agents do, until raised
				 */
				if (r->held == NULL || strcmp(r->held, why)) {
					free(r->held);
					r->held = xstrdup(why);
					wf_save_run(r, NULL, NULL);
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
	timer_drop(c);
	if (s && !session_terminal(s))
		session_stop(s, 2000, NULL);
	wf_calls_start(c->run);
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
			wf_tick_soon();
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

int
workflow_restart_agent(struct wf_run *r, const char *which, struct err *err)
{
	for (struct wf_call *c = calls; c; c = c->next) {
		const char *label = opt_str(c->opts, "label");
		if (c->run != r || c->done ||
		    (strcmp(c->key, which) && strcmp(c->sid, which) &&
		        (!label || strcmp(label, which))))
			continue;
		call_respawn(c);
		return 0;
	}
	return err_set(err, ERR_NOT_FOUND,
	    "run %s has no agent '%s' in flight (a finished one's result is "
	    "in the journal)",
	    r->id, which);
}

/* Interrupted calls get new sessions; ended calls' outcomes go to their
 * scripts (never from inside a session observer). */
void
wf_calls_tick(void)
{
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
				continue; /* stopped: dropped with its run */
			struct wf_thread *t = c->t;
			if (c->sid[0])
				r->active--;
			wf_lua_push_outcome(
			    t->th, c->opts, c->ok, c->result, c->error);
			call_free(c);
			if (r->L)
				wf_lua_step(t, 2);
			if (workflow_find(r->id) == r && r->L)
				wf_calls_start(r);
			again = 1; /* the list changed under us */
			break;
		}
	}
}

void
wf_calls_drop(struct wf_run *r)
{
	for (struct wf_call *c = calls, *cn; c; c = cn) {
		cn = c->next;
		if (c->run == r)
			call_free(c);
	}
}

/* Stop the run's agents; their rows stay 'started', so a resume starts
 * them again. */
void
wf_calls_stop(struct wf_run *r)
{
	for (struct wf_call *c = calls; c; c = c->next) {
		struct session *s;
		if (c->run != r || c->done)
			continue;
		if (c->sid[0] && (s = session_find_id(c->sid)) != NULL &&
		    !session_terminal(s))
			session_stop(s, 2000, NULL);
		c->done = 1;
	}
}

void
wf_calls_observe(void)
{
	session_observe(wf_observe, NULL);
}
