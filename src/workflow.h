/* Workflows (issue 16): Lua 5.4 scripts run by the daemon as coroutines,
 * whose agent() calls are sessions and whose journal in the store lets a
 * run be replayed after a daemon kill or a reboot without paying twice.
 * wf-lua.c: the sandboxed interpreter, its limits and the script's API;
 * workflow.c: runs, the journal, sessions; wf-schema.c: result schemas;
 * cmd-workflow.c: the verb. */
#ifndef WORKFLOW_H
#define WORKFLOW_H

#include <jansson.h>
#include <stdint.h>

#include "err.h"

struct lua_State;

/* What a run's interpreter may use: bytes, and instructions between two
 * waits (so a loop that never calls agent() cannot hold the daemon). */
struct wf_limits {
	size_t mem, mem_max;
	long long steps, steps_max;
};

struct wf_run {
	char id[16];
	char *name, *file, *cwd;
	json_t *args, *env;
	char *script;
	struct lua_State *L;
	struct wf_limits lim;
	struct wf_thread *main;
	struct wf_thread *threads; /* all of them, freed with the run */
	char state[16];            /* running, paused, done, failed, stopped */
	char phase[64];
	int active;      /* its calls with a session */
	int max_active;  /* concurrency (16, or the run's "parallel") */
	int calls;       /* agent() calls in this boot, at most 1000 */
	char *fatal;     /* nondeterminism: the run stops with it */
	char *held;      /* why its next agent waits (its budget), or NULL */
	int dry;         /* a check: agent() answers stubs, nothing is kept */
	char *end_error; /* how it ended, for a dry run's caller */
	json_t *end_result;
	/* its budget over all its agents (0: none): the run's row, or
	 * budget{} in the script, whichever is lower */
	double budget_usd;
	long long budget_tokens;
	int max_calls;
	struct wf_run *next;
};

/* A coroutine of a run: run() itself, or one branch of a parallel{}. */
struct wf_thread {
	struct wf_run *run;
	struct lua_State *th;
	int ref;        /* keeps th alive (registry) */
	char path[96];  /* its calls' key prefix: "" for run(), "4.2" ... */
	int counter;    /* calls made from it so far */
	char phase[64]; /* phase() of this thread */
	struct wf_thread *parent; /* a parallel branch's */
	int slot;                 /* its place in the parent's results */
	int running;              /* inside lua_resume now */
	/* a parent in parallel{}: branches not finished, their results
	 * (registry ref to a table) and the first error */
	int waiting, results_ref, setup;
	char *child_error;
	struct wf_thread *next; /* the run's threads */
};

/* wf-lua.c */
/* A sandboxed state for run r (no os, io, debug, package, require, load,
 * clock or random), with memory and instruction limits. */
struct lua_State *wf_lua_new(struct wf_run *r);
void wf_lua_close(struct lua_State *);
/* Load and run the script's top level into its environment; NULL on
 * success, else the error (caller frees). */
char *wf_lua_load(struct lua_State *, const char *name, const char *script);
/* The thread to run run(args) in: the `run` function and args pushed. */
struct wf_thread *wf_lua_main(struct wf_run *r, json_t *args, char **error);
/* Resume t with nargs values on its stack; its end goes to
 * workflow_thread_done. */
void wf_lua_step(struct wf_thread *t, int nargs);
/* Push onto t's stack (ok, value-or-message) for the outcome of a call,
 * the value decoded by opts.schema when it has one. */
void wf_lua_push_outcome(struct lua_State *to, json_t *opts, int ok,
    const char *result, const char *error);
void wf_lua_thread_free(struct wf_thread *);
/* A parallel{} branch t ended: freed, and its parent resumed with the
 * results (or the first error) once its last branch is in. */
void wf_lua_branch_done(struct wf_thread *t, int ok, const char *error);

/* What the interpreter calls back (workflow.c gives it at init), so
 * wf-lua.c needs nothing of the rest. */
struct wf_host_ops {
	int (*call)(struct wf_thread *, const char *kind, const char *what,
	    json_t *opts);
	void (*log)(struct wf_thread *, const char *text);
	void (*phase)(struct wf_thread *, const char *name);
	void (*done)(
	    struct wf_thread *, int ok, json_t *value, const char *error);
	void (*budget)(struct wf_run *, double usd, long long tokens,
	    long long agents, long long parallel);
	void (*progress)(struct wf_thread *, json_t *value);
};
void wf_lua_host(const struct wf_host_ops *);

/* workflow.c: the store, shared with wf-call.c */
struct sqlite3_stmt;
/* fsync'd before the script goes on: what a replay trusts */
int wf_exec_durable(const char *sql, const char *const *args, int n);
void wf_exec_plain(const char *sql, const char *const *args, int n);
void wf_save_run(struct wf_run *, const char *error, const char *result);
void wf_tick_soon(void);

/* wf-call.c */
void wf_calls_start(struct wf_run *); /* waiting calls, while slots last */
void wf_calls_tick(void);             /* outcomes to their scripts */
void wf_calls_drop(struct wf_run *);  /* an ended run's */
void wf_calls_stop(struct wf_run *);
void wf_calls_observe(void);
void wf_run_spent(struct wf_run *, double *usd, long long *tokens);

/* workflow.c and wf-call.c, for wf-lua.c (through wf_host_ops) */
/* An agent() call from t: its outcome pushed and 2 returned (replayed or
 * failed at once), or 0 when it waits (the caller yields). */
int workflow_call(
    struct wf_thread *t, const char *kind, const char *prompt, json_t *opts);
void workflow_log(struct wf_thread *t, const char *text);
void workflow_phase(struct wf_thread *t, const char *name);
void workflow_progress(struct wf_thread *t, json_t *value);
/* run() returned (ok, its value as JSON) or failed (message). */
void workflow_thread_done(
    struct wf_thread *t, int ok, json_t *value, const char *error);

/* wf-schema.c: 0 when v fits the schema (type, properties, required,
 * items, enum); else -1 and why, with the path to the misfit. */
int wf_schema_check(json_t *schema, json_t *v, char *why, size_t size);
json_t *wf_schema_stub(json_t *schema);

/* wf-worktree.c: opts.isolation = "worktree" for the call at key */
struct session_spec;
int wf_worktree(struct wf_run *, const char *key, json_t *opts,
    struct session_spec *, struct err *);

/* wf-builtin.c: a built-in's script by name, or NULL; the i-th name */
const char *wf_builtin(const char *name);
const char *wf_builtin_name(size_t i);

/* the daemon's side of `galley workflow` (wf-admin.c) */
void workflow_init(void);
void workflow_resume_all(void);
int workflow_serve(json_t *req, json_t *reply, struct err *);
/* workflow.c, for wf-admin.c */
struct wf_run *workflow_find(const char *id);
/* A run made and booted (its row written first); NULL with err. */
struct wf_run *workflow_start(const char *id, const char *name,
    const char *file, const char *script, const char *cwd, json_t *args,
    json_t *env);
/* A check of a script: run with every agent() and sh() answering a stub
 * that fits its schema, nothing started or stored. {"state", "error",
 * "result"}. */
json_t *workflow_dry(
    const char *name, const char *script, const char *cwd, json_t *args);
/* Stop its calls' sessions and the script; the journal stays. */
void workflow_stop(struct wf_run *r);
void workflow_pause(struct wf_run *r, int pause);
/* A new session for an agent in flight (by label or key); the old one is
 * stopped. */
int workflow_restart_agent(struct wf_run *r, const char *which, struct err *);
/* `workflow budget`: the run's limits, now (0: none) */
void workflow_budget_raise(struct wf_run *r, double usd, long long tokens);
/* budget{usd=, tokens=, agents=, parallel=} from the script: only ever
 * lower */
void workflow_budget(struct wf_run *r, double usd, long long tokens,
    long long agents, long long parallel);

/* Every run: run, name, state, phase, created_at, updated_at,
 * phase_done, phase_total (wf-admin.c). */
json_t *workflow_runs_json(void);
/* session id -> the phase of the call that made it. */
json_t *workflow_agent_phases(void);

#endif
