/* Worktree sessions and the repos they share (an observer of session
 * states, registered by session_overlap_init): a running session's
 * worktree is locked; a tool call that changes files, a turn that ends, or
 * a session that ends, asks for an overlap check of its repo (jobs, which
 * report no tool calls, on a slow timer) (`galley overlap REPO`, cmd-overlap.c,
 * which reports back with the conflicts and changed files of each session). */
#include <fcntl.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "git.h"
#include "log.h"
#include "runtime.h"
#include "server.h"
#include "session-overlap.h"
#include "session.h"
#include "util.h"
#include "worktree.h"
#include "xmalloc.h"

extern char **environ;

/* One overlap check per repo at a time, started once the asks settle: a
 * burst of turns ending (a batch of 30 workers) asks for many, and each
 * check snapshots every worktree of the repo. A check starts when no ask
 * came for OVERLAP_QUIET_MS (at most OVERLAP_MAX_WAIT_MS after the first);
 * asks during a run fold into one more run after it. A check that never
 * reports frees its repo after OVERLAP_STALE_MS. */
#define OVERLAP_QUIET_MS 300
#define OVERLAP_MAX_WAIT_MS 3000
#define OVERLAP_STALE_MS 120000
static struct overlap_run {
	char *repo;
	int64_t started;       /* 0: none running */
	int64_t first, latest; /* asks not served yet; 0: none */
} * overlap_runs;
static size_t noverlap_runs;
static uv_timer_t overlap_timer;
static int overlap_timer_init;

static struct overlap_run *
overlap_find(const char *repo)
{
	for (size_t i = 0; i < noverlap_runs; i++)
		if (strcmp(overlap_runs[i].repo, repo) == 0)
			return &overlap_runs[i];
	overlap_runs =
	    xrealloc(overlap_runs, (noverlap_runs + 1) * sizeof *overlap_runs);
	struct overlap_run *r = &overlap_runs[noverlap_runs++];
	r->repo = xstrdup(repo);
	r->started = r->first = r->latest = 0;
	return r;
}

/* Start `galley overlap REPO`; it reports back with a request. */
static void
overlap_spawn(struct overlap_run *run)
{
	char *argv[] = {"galley", "overlap", run->repo, NULL};
	posix_spawn_file_actions_t fa;
	pid_t pid;

	run->started = wall_ms();
	run->first = run->latest = 0;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	if (posix_spawn(&pid, self_exe(), &fa, NULL, argv, environ) != 0) {
		log_warn("cannot start the overlap check for %s", run->repo);
		run->started = 0;
	}
	posix_spawn_file_actions_destroy(&fa);
}

static void
overlap_tick(uv_timer_t *t)
{
	int64_t now = wall_ms();
	int waiting = 0;

	for (size_t i = 0; i < noverlap_runs; i++) {
		struct overlap_run *r = &overlap_runs[i];
		if (r->first == 0)
			continue;
		waiting = 1;
		if (r->started && now - r->started < OVERLAP_STALE_MS)
			continue; /* after the running one reports */
		if (now - r->latest >= OVERLAP_QUIET_MS ||
		    now - r->first >= OVERLAP_MAX_WAIT_MS)
			overlap_spawn(r);
	}
	if (!waiting)
		uv_timer_stop(t);
}

void
session_overlap_done(const char *repo)
{
	overlap_find(repo)->started = 0;
}

/* Ask for a check of repo's live worktree sessions (cmd-overlap.c). */
static void
overlap_check(const char *repo)
{
	struct overlap_run *run = overlap_find(repo);
	int64_t now = wall_ms();

	if (run->first == 0)
		run->first = now;
	run->latest = now;
	if (!overlap_timer_init) {
		uv_timer_init(uv_default_loop(), &overlap_timer);
		uv_unref((uv_handle_t *)&overlap_timer);
		overlap_timer_init = 1;
	}
	if (!uv_is_active((uv_handle_t *)&overlap_timer))
		uv_timer_start(&overlap_timer, overlap_tick, 100, 100);
}

void
session_set_changed(struct session *s, int files)
{
	if (s->changed_files == files + 1)
		return;
	s->changed_files = files + 1; /* stored +1: 0 means unknown */
	session_notify(s, SESSION_CHANGE_UPDATE); /* not stored: no event */
}

void
session_set_conflicts(struct session *s, json_t *list)
{
	if (s->conflicts && json_equal(s->conflicts, list))
		return;
	if (s->conflicts == NULL && json_array_size(list) == 0)
		return;
	json_decref(s->conflicts);
	s->conflicts = json_array_size(list) ? json_incref(list) : NULL;
	session_changed(s, "overlap", list);
}

void
session_set_merged(struct session *s, const char *into)
{
	json_t *data = json_pack("{s:s}", "into", into);

	free(s->merged_into);
	s->merged_into = xstrdup(into);
	session_changed(s, "merged", data);
	json_decref(data);
	/* its files now match the base's: the others may clash anew */
	if (s->repo)
		overlap_check(s->repo);
}

/* A running session's worktree is locked, so `git worktree remove` or
 * prune by hand cannot take it from under the agent; the reason names the
 * session. A small file write, in order (worktree_set_locked). */
static void
worktree_lock(struct session *s, int lock)
{
	char *reason = NULL;

	if (s->worktree == NULL || s->repo == NULL)
		return;
	if (lock)
		xasprintf(&reason, "galley session %s (%s) is running", s->id,
		    s->name);
	if (worktree_set_locked(s->worktree, reason) < 0)
		log_warn("session %s: cannot %slock its worktree %s", s->id,
		    lock ? "" : "un", s->worktree);
	free(reason);
}

/* Sessions that report no tool calls (jobs; a runtime without hooks) are
 * checked on a slow timer while any runs in a worktree. */
#define OVERLAP_POLL_MS 10000
static uv_timer_t poll_timer;
static int poll_timer_init;

static int
needs_poll(struct session *s)
{
	const char *kind = runtime_kind(s->runtime);

	return s->worktree && s->repo && session_live(s) && kind &&
	    strcmp(kind, "job") == 0;
}

static void
poll_tick(uv_timer_t *t)
{
	struct session *s;
	int any = 0;

	TAILQ_FOREACH(s, &session_table, entry) {
		if (!needs_poll(s))
			continue;
		any = 1;
		overlap_check(s->repo); /* once per repo: the asks fold */
	}
	if (!any)
		uv_timer_stop(t);
}

static void
poll_start(void)
{
	if (!poll_timer_init) {
		uv_timer_init(uv_default_loop(), &poll_timer);
		uv_unref((uv_handle_t *)&poll_timer);
		poll_timer_init = 1;
	}
	if (!uv_is_active((uv_handle_t *)&poll_timer))
		uv_timer_start(
		    &poll_timer, poll_tick, OVERLAP_POLL_MS, OVERLAP_POLL_MS);
}

static void
overlap_observe(struct session *s, const struct session_change *ch, void *arg)
{
	int now, was = ch->old;

	if (s->worktree == NULL || s->repo == NULL)
		return;
	/* a tool that changes files ran: check now, not when the turn ends
	 * (a 30-minute turn would warn after the damage) */
	if (ch->kind == SESSION_CHANGE_EDIT) {
		overlap_check(s->repo);
		return;
	}
	if (ch->kind != SESSION_CHANGE_STATE)
		return;
	if (needs_poll(s))
		poll_start();
	now = s->state;
	if (now == SESSION_STARTING && was != SESSION_STARTING)
		worktree_lock(s, 1);
	if (state_table[now].terminal && !state_table[was].terminal) {
		worktree_lock(s, 0);
		json_decref(s->conflicts); /* an ended session merges nothing */
		s->conflicts = NULL;
		/* counted once more by the check below; after that an
		 * ended session's count stands and checks skip it */
		s->changed_files = 0;
		session_uncache(s);
	}
	/* a turn ended or a session went: its worktree may clash now */
	if (now == SESSION_IDLE || state_table[now].terminal)
		overlap_check(s->repo);
}

void
session_overlap_init(void)
{
	struct session *s;

	session_observe(overlap_observe, NULL);
	/* conflicts are worked out, not stored: a new daemon asks again for
	 * each repo with live worktree sessions */
	TAILQ_FOREACH(s, &session_table, entry) {
		if (session_live(s) && s->repo && s->worktree)
			overlap_check(s->repo);
		if (needs_poll(s))
			poll_start();
	}
}
