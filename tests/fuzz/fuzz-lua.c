/* A workflow script in the sandbox (wf-lua.c), driven as the daemon
 * drives it (workflow.c) through the interpreter's host seam: agent() and
 * sh() calls wait and are answered later, parallel{} branches end into
 * their parent. Any script must end (done or failed) within its limits of
 * memory and instructions, never crash, and never reach what the sandbox
 * leaves out (os, io, load, require...): the answers it gets are the
 * call's text itself, so a schema in opts is checked against it. */
#include <lauxlib.h>
#include <lua.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "workflow.h"
#include "xmalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define WAITING_MAX 4096

static struct {
	struct wf_thread *t;
	char *what;
	json_t *opts;
} waiting[WAITING_MAX];
static int nwaiting, ended;

static int
fz_call(struct wf_thread *t, const char *kind, const char *what, json_t *opts)
{
	if (nwaiting == WAITING_MAX || what[0] == 'n') {
		/* answered at once, as a replayed call is */
		wf_lua_push_outcome(t->th, opts, what[0] != 'n', what, "no");
		return 1;
	}
	waiting[nwaiting].t = t;
	waiting[nwaiting].what = xstrdup(what);
	waiting[nwaiting].opts = json_incref(opts);
	nwaiting++;
	return 0;
}

static void
fz_log(struct wf_thread *t, const char *text)
{
}

static void
fz_phase(struct wf_thread *t, const char *name)
{
	snprintf(t->phase, sizeof t->phase, "%s", name);
}

static void
fz_done(struct wf_thread *t, int ok, json_t *value, const char *error)
{
	struct wf_thread *p = t->parent;

	if (p == NULL) {
		ended = 1;
		return;
	}
	for (int i = 0; i < nwaiting; i++)
		if (waiting[i].t == t)
			abort(); /* a thread ended while its call waits */
	wf_lua_branch_done(t, ok, error);
}

static void
fz_budget(struct wf_run *r, double usd, long long tokens, long long agents,
    long long parallel)
{
}

static void
fz_progress(struct wf_thread *t, json_t *value)
{
}

static const struct wf_host_ops ops = {
    fz_call, fz_log, fz_phase, fz_done, fz_budget, fz_progress};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wf_run r;
	char *script = xmalloc(size + 1), *err = NULL;
	json_t *args = json_pack("{s:s, s:i}", "goal", "fuzz", "n", 3);

	memcpy(script, data, size);
	script[size] = '\0';
	memset(&r, 0, sizeof r);
	snprintf(r.id, sizeof r.id, "fuzz");
	r.cwd = "/nonexistent";
	r.max_active = 16;
	wf_lua_host(&ops);
	nwaiting = ended = 0;
	r.L = wf_lua_new(&r);
	if (r.L == NULL)
		abort();
	/* a quarter of a run's memory: the limit is met as surely, and
	 * ASan's quarantine of many 64 MB runs does not pass the fuzzer's
	 * RSS limit */
	r.lim.mem_max /= 4;
	err = wf_lua_load(r.L, "fuzz", script);
	if (err == NULL) {
		struct wf_thread *t = wf_lua_main(&r, args, &err);
		if (t) {
			r.main = t;
			wf_lua_step(t, 1);
			/* answer what waits, oldest first, as sessions end */
			for (int rounds = 0; nwaiting > 0 && rounds < 10000;
			     rounds++) {
				struct wf_thread *w = waiting[0].t;
				char *what = waiting[0].what;
				json_t *opts = waiting[0].opts;
				memmove(&waiting[0], &waiting[1],
				    (size_t)(nwaiting - 1) * sizeof waiting[0]);
				nwaiting--;
				wf_lua_push_outcome(w->th, opts, what[0] != 'x',
				    what, "failed");
				free(what);
				json_decref(opts);
				wf_lua_step(w, 2);
			}
		}
	}
	for (int i = 0; i < nwaiting; i++) {
		free(waiting[i].what);
		json_decref(waiting[i].opts);
	}
	nwaiting = 0;
	while (r.threads)
		wf_lua_thread_free(r.threads);
	wf_lua_close(r.L);
	free(err);
	free(script);
	json_decref(args);
	return 0;
}
