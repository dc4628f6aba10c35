/* Sessions in the daemon: create, spawn a host, follow its state, stop,
 * restart, remove, and re-adopt live hosts after a daemon restart. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "git.h"
#include "log.h"
#include "names.h"
#include "runtime.h"
#include "sandbox.h"
#include "server.h"
#include "session.h"
#include "settings.h"
#include "sock.h"
#include "util.h"
#include "xmalloc.h"

extern char **environ;

struct session_list session_table = TAILQ_HEAD_INITIALIZER(session_table);
int session_count;

void session_forget(struct session *);

static void
set_str(char **dst, const char *v)
{
	if (*dst == v)
		return;
	free(*dst);
	*dst = v ? xstrdup(v) : NULL;
}

void
session_free(struct session *s)
{
	if (s->link)
		host_link_detach(s->link);
	char **strs[] = {&s->name, &s->kind, &s->runtime, &s->state,
	    &s->waiting_for, &s->reason, &s->prompt, &s->cwd, &s->worktree,
	    &s->branch, &s->grp, &s->executor, &s->model,
	    &s->runtime_session_id, &s->team, &s->workflow, &s->parent,
	    &s->boot_id, &s->hook_token, &s->spec, &s->transcript_path,
	    &s->last_tool, &s->repo, &s->base, &s->base_ref, &s->result,
	    &s->first_block, &s->held_state, &s->held_wait, &s->repeat_key,
	    &s->stop_reason};
	for (size_t i = 0; i < nitems(strs); i++)
		free(*strs[i]);
	session_uncache(s);
	json_decref(s->conflicts);
	json_decref(s->after);
	json_decref(s->policy);
	free(s);
}

char *
session_dir(struct session *s)
{
	return path_session_dir(s->id);
}

int
session_terminal(struct session *s)
{
	return strcmp(s->state, "done") == 0 ||
	    strcmp(s->state, "failed") == 0 ||
	    strcmp(s->state, "stopped") == 0 ||
	    strcmp(s->state, "interrupted") == 0;
}

int
session_live(struct session *s)
{
	return !session_terminal(s) && strcmp(s->state, "queued") != 0;
}

struct session *
session_find_id(const char *id)
{
	struct session *s;

	if (id == NULL)
		return NULL;
	TAILQ_FOREACH(s, &session_table, entry) {
		if (strcmp(s->id, id) == 0)
			return s;
	}
	return NULL;
}

/* An exact id, else a name (a live session first, else the newest), else a
 * unique id prefix. */
struct session *
session_resolve(const char *ref, struct err *err)
{
	struct session *s, *found = NULL;
	struct buf cands = BUF_INIT;
	size_t n;
	int count = 0;

	if (ref == NULL || !ref_valid(ref)) {
		err_set(err, ERR_USAGE,
		    "invalid session '%.80s': use an id, id prefix or name",
		    ref ? ref : "");
		return NULL;
	}
	if ((s = session_find_id(ref)) != NULL)
		return s;
	TAILQ_FOREACH(s, &session_table, entry) {
		if (strcmp(s->name, ref) != 0)
			continue;
		if (session_live(s))
			return s;
		if (found == NULL || s->created_at >= found->created_at)
			found = s;
	}
	if (found)
		return found;
	n = strlen(ref);
	TAILQ_FOREACH(s, &session_table, entry) {
		if (strncmp(s->id, ref, n) != 0)
			continue;
		found = s;
		if (count < 8)
			buf_addf(&cands, "%s%s (%s)", count ? ", " : "", s->id,
			    s->name);
		count++;
	}
	if (count == 1) {
		buf_release(&cands);
		return found;
	}
	if (count > 1)
		err_set(err, ERR_AMBIGUOUS,
		    "ambiguous session '%s', could be: %s%s", ref, cands.data,
		    count > 8 ? ", ..." : "");
	else
		err_set(err, ERR_NOT_FOUND,
		    "no session '%s': see 'galley ls --all'", ref);
	buf_release(&cands);
	return NULL;
}

int
session_name_taken(const char *name, struct session *except)
{
	struct session *s;

	TAILQ_FOREACH(s, &session_table, entry) {
		if (s != except && !session_terminal(s) &&
		    strcmp(s->name, name) == 0)
			return 1;
	}
	return 0;
}

char *
session_unique_name(const char *base)
{
	char *name = xstrdup(base);

	for (int i = 2; session_name_taken(name, NULL); i++) {
		char suffix[16];
		int sl = snprintf(suffix, sizeof suffix, "-%d", i);
		size_t bl = strlen(base);
		if (bl + (size_t)sl > GALLEY_NAME_MAX)
			bl = GALLEY_NAME_MAX - (size_t)sl;
		free(name);
		xasprintf(&name, "%.*s%s", (int)bl, base, suffix);
	}
	return name;
}

static void
set_nullable(json_t *o, const char *key, const char *v)
{
	json_object_set_new(o, key, v ? json_string(v) : json_null());
}

json_t *
session_to_json(struct session *s)
{
	char created[32], updated[32];
	json_t *o, *spec;

	iso_time(s->created_at, created, sizeof created);
	iso_time(s->updated_at, updated, sizeof updated);
	o = json_object();
	json_object_set_new(o, "id", json_string(s->id));
	json_object_set_new(o, "name", json_string(s->name));
	json_object_set_new(o, "kind", json_string(s->kind));
	json_object_set_new(o, "runtime", json_string(s->runtime));
	json_object_set_new(o, "state", json_string(s->state));
	set_nullable(o, "waiting_for", s->waiting_for);
	set_nullable(o, "reason", s->reason);
	set_nullable(o, "prompt", s->prompt);
	json_object_set_new(o, "cwd", json_string(s->cwd));
	set_nullable(o, "worktree", s->worktree);
	set_nullable(o, "branch", s->branch);
	set_nullable(o, "repo", s->repo);
	set_nullable(o, "base", s->base);
	set_nullable(o, "base_ref", s->base_ref);
	json_object_set_new(o, "pinned", json_boolean(s->pinned));
	json_t *with = json_array(), *cf;
	size_t ci;
	json_array_foreach(s->conflicts, ci, cf)
	    json_array_append(with, json_object_get(cf, "with"));
	json_object_set_new(o, "conflicts_with", with);
	/* a finished turn with changes is ready for review */
	int files = s->changed_files - 1;
	json_object_set_new(
	    o, "changed_files", files >= 0 ? json_integer(files) : json_null());
	json_object_set_new(o, "review",
	    json_boolean(files > 0 &&
	        (strcmp(s->state, "idle") == 0 ||
	            strcmp(s->state, "done") == 0)));
	json_object_set_new(o, "conflicts",
	    s->conflicts ? json_incref(s->conflicts) : json_array());
	json_object_set_new(
	    o, "group", json_string(s->grp ? s->grp : "default"));
	json_object_set_new(
	    o, "executor", json_string(s->executor ? s->executor : "local"));
	json_object_set_new(
	    o, "pid", s->pid > 0 ? json_integer(s->pid) : json_null());
	json_object_set_new(o, "host_pid",
	    s->host_pid > 0 ? json_integer(s->host_pid) : json_null());
	json_object_set_new(o, "exit_code",
	    s->has_exit ? json_integer(s->exit_code) : json_null());
	json_object_set_new(o, "exit_signal",
	    s->exit_signal ? json_integer(s->exit_signal) : json_null());
	set_nullable(o, "model", s->model);
	set_nullable(o, "runtime_session_id", s->runtime_session_id);
	set_nullable(o, "team", s->team);
	set_nullable(o, "workflow", s->workflow);
	set_nullable(o, "parent", s->parent);
	json_object_set_new(
	    o, "after", s->after ? json_incref(s->after) : json_array());
	json_object_set_new(o, "priority", json_integer(s->priority));
	json_object_set_new(o, "queue_position",
	    s->queue_pos > 0 ? json_integer(s->queue_pos) : json_null());
	json_object_set_new(
	    o, "policy", s->policy ? json_incref(s->policy) : json_object());
	json_t *result = s->result ? json_loads(s->result, 0, NULL) : NULL;
	json_object_set_new(o, "result", result ? result : json_null());
	spec = s->spec ? json_loads(s->spec, 0, NULL) : NULL;
	json_object_set_new(o, "command",
	    spec ? json_incref(json_object_get(spec, "argv")) : json_null());
	json_decref(spec);
	json_object_set_new(o, "created_at", json_string(created));
	json_object_set_new(o, "updated_at", json_string(updated));
	json_object_set_new(o, "updated_ms", json_integer(s->updated_at));
	if (s->ended_at) {
		iso_time(s->ended_at, updated, sizeof updated);
		json_object_set_new(o, "ended_at", json_string(updated));
	} else
		json_object_set_new(o, "ended_at", json_null());
	json_object_set_new(o, "usage",
	    json_pack("{s:I, s:I, s:I, s:I, s:f}", "input_tokens",
	        (json_int_t)s->usage.input, "output_tokens",
	        (json_int_t)s->usage.output, "cache_read_tokens",
	        (json_int_t)s->usage.cache_read, "cache_write_tokens",
	        (json_int_t)s->usage.cache_write, "cost_usd", s->usage.cost));
	char *dir = session_dir(s);
	json_object_set_new(o, "dir", json_string(dir));
	free(dir);
	return o;
}

/* ---- observers ---------------------------------------------------------
 * Whoever must act on a session's changes subscribes here (the scheduler,
 * worktree locks and overlap checks, the screen watch, the budget policy,
 * the clients' broadcast; teams and workflows to wait for their sessions)
 * instead of session_set_state calling each of them. Observers run in the
 * order they subscribed, after the change is stored and recorded. */
struct observer {
	session_observer_fn *fn;
	void *arg;
};
static struct observer *observers;
static size_t nobservers;

void
session_observe(session_observer_fn *fn, void *arg)
{
	observers = xrealloc(observers, (nobservers + 1) * sizeof *observers);
	observers[nobservers].fn = fn;
	observers[nobservers].arg = arg;
	nobservers++;
}

void
session_unobserve(session_observer_fn *fn, void *arg)
{
	for (size_t i = 0; i < nobservers; i++)
		if (observers[i].fn == fn && observers[i].arg == arg) {
			memmove(&observers[i], &observers[i + 1],
			    (nobservers - i - 1) * sizeof *observers);
			nobservers--;
			return;
		}
}

static void
notify(struct session *s, enum session_change_kind kind, int old)
{
	struct session_change ch = {kind, old};

	/* an observer may unsubscribe itself: walk a copy */
	size_t n = nobservers;
	struct observer *copy = xcalloc(n ? n : 1, sizeof *copy);
	memcpy(copy, observers, n * sizeof *copy);
	for (size_t i = 0; i < n; i++)
		copy[i].fn(s, &ch, copy[i].arg);
	free(copy);
}

void
session_notify(struct session *s, enum session_change_kind kind)
{
	session_uncache(s);
	notify(s, kind, state_from_name(s->state));
}

void
session_uncache(struct session *s)
{
	free(s->json_text);
	free(s->row_text);
	s->json_text = s->row_text = NULL;
}

/* ls of thousands of sessions must not rebuild thousands of JSON trees:
 * each session keeps its encoded object until it changes. */
const char *
session_json_text(struct session *s, size_t *len)
{
	if (s->json_text == NULL) {
		json_t *o = session_to_json(s);
		s->json_text = json_dumps(o, JSON_COMPACT);
		s->json_len = strlen(s->json_text);
		json_decref(o);
	}
	*len = s->json_len;
	return s->json_text;
}

/* The table's row: [id, name, state, updated_ms, runtime, detail, pinned],
 * detail being what a person needs to see (the question, the failure, the
 * prompt or command), one line, at most 160 characters. */
const char *
session_row_text(struct session *s, size_t *len)
{
	const char *detail = s->waiting_for;
	char *cmd = NULL;

	if (s->row_text != NULL) {
		*len = s->row_len;
		return s->row_text;
	}
	char queued[600];
	if (s->queue_pos > 0 && detail) { /* its place in line first */
		snprintf(queued, sizeof queued, "#%d %s", s->queue_pos, detail);
		detail = queued;
	}
	if (detail == NULL && s->reason != NULL &&
	    (strcmp(s->state, "failed") == 0 ||
	        strcmp(s->state, "interrupted") == 0))
		detail = s->reason;
	char review[64];
	if (detail == NULL && s->changed_files > 1 &&
	    (strcmp(s->state, "idle") == 0 || strcmp(s->state, "done") == 0)) {
		snprintf(review, sizeof review, "ready for review: %d file%s",
		    s->changed_files - 1, s->changed_files == 2 ? "" : "s");
		detail = review;
	}
	if (detail == NULL && s->prompt != NULL && *s->prompt)
		detail = s->prompt;
	if (detail == NULL && s->spec != NULL) {
		json_t *sp = json_loads(s->spec, 0, NULL);
		json_t *argv = json_object_get(sp, "argv");
		const char *last = json_string_value(
		    json_array_get(argv, json_array_size(argv) - 1));
		cmd = last ? xstrdup(last) : NULL;
		json_decref(sp);
		detail = cmd;
	}
	struct buf one = BUF_INIT;
	size_t chars = 0;
	for (const char *p = detail ? detail : ""; *p && chars < 160; p++) {
		unsigned char c = (unsigned char)*p;
		buf_addc(&one, c < 0x20 ? ' ' : (char)c);
		if ((c & 0xc0) != 0x80)
			chars++;
	}
	/* do not cut a UTF-8 sequence in half */
	while (one.len > 0 &&
	    ((unsigned char)one.data[one.len - 1] & 0xc0) == 0x80 &&
	    chars >= 160)
		one.len--;
	if (one.len > 0 &&
	    ((unsigned char)one.data[one.len - 1] & 0xc0) == 0xc0)
		one.len--;
	json_t *row = json_pack("[s, s, s, I, s, s%, b]", s->id, s->name,
	    s->state, (json_int_t)s->updated_at, s->runtime, one.data, one.len,
	    s->pinned);
	if (row == NULL) /* not UTF-8 after all */
		row =
		    json_pack("[s, s, s, I, s, s, b]", s->id, s->name, s->state,
		        (json_int_t)s->updated_at, s->runtime, "", s->pinned);
	s->row_text = json_dumps(row, JSON_COMPACT);
	s->row_len = strlen(s->row_text);
	json_decref(row);
	buf_release(&one);
	free(cmd);
	*len = s->row_len;
	return s->row_text;
}

/* A change that is not a state change (pin, rename): persisted, recorded
 * and pushed like one. */
void
session_changed(struct session *s, const char *kind, json_t *data)
{
	s->updated_at = wall_ms();
	session_touch(s);
	session_event(s, kind, data);
	session_notify(s, SESSION_CHANGE_UPDATE);
}

/* Text from a runtime, often cut to a length in bytes: kept as valid
 * UTF-8, or it could not travel in JSON at all. */
static void
set_text(char **dst, const char *v)
{
	struct buf b = BUF_INIT;

	if (v == NULL) {
		set_str(dst, NULL);
		return;
	}
	utf8_sanitize(v, strlen(v), &b);
	buf_addc(&b, '\0');
	set_str(dst, b.data);
	buf_release(&b);
}

void
session_set_state(struct session *s, const char *state, const char *waiting_for,
    const char *reason)
{
	int same = strcmp(s->state, state) == 0 &&
	    ((s->waiting_for == NULL && waiting_for == NULL) ||
	        (s->waiting_for && waiting_for &&
	            strcmp(s->waiting_for, waiting_for) == 0));

	s->updated_at = wall_ms();
	if (same && reason == NULL) {
		session_touch(s);
		return;
	}
	log_info("session %s: %s -> %s", s->id, s->state, state);
	int old = state_from_name(s->state);
	set_str(&s->state, state);
	set_text(&s->waiting_for, waiting_for);
	set_text(&s->reason, reason);
	session_touch(s);
	json_t *data = json_pack("{s:s, s:s?, s:s?}", "state", state,
	    "waiting_for", waiting_for, "reason", reason);
	session_event(s, "state", data);
	json_decref(data);
	notify(s, SESSION_CHANGE_STATE, old);
}

/* ---- spawning ---------------------------------------------------------- */

/* Start `galley host ID` detached (its own session), stdin /dev/null,
 * stdout and stderr to host.log, the listening socket as fd 3.
 * posix_spawn (vfork) rather than fork: the daemon's page tables grow with
 * its store, and copying them was most of a dispatch. Hosts are reaped by
 * the daemon's SIGCHLD handler; what happened to them is read from their
 * links and exit files, not from their status. */
static pid_t
host_spawn(const char *dir, const char *id, int logfd, int lfd, struct err *err)
{
	char *argv[] = {"galley", "host", (char *)id, NULL};
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none, all;
	pid_t pid = -1;
	int rc;

	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&at);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	if (logfd >= 0) {
		posix_spawn_file_actions_adddup2(&fa, logfd, 1);
		posix_spawn_file_actions_adddup2(&fa, logfd, 2);
	} else {
		posix_spawn_file_actions_addopen(
		    &fa, 1, "/dev/null", O_WRONLY, 0);
		posix_spawn_file_actions_adddup2(&fa, 1, 2);
	}
	posix_spawn_file_actions_adddup2(&fa, lfd, 3);
	posix_spawn_file_actions_addchdir_np(&fa, dir);
	sigemptyset(&none);
	sigfillset(&all);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setsigdefault(&at, &all);
	posix_spawnattr_setflags(&at,
	    POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK |
	        POSIX_SPAWN_SETSIGDEF);
	rc = posix_spawn(&pid, self_exe(), &fa, &at, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	if (rc != 0) {
		err_set(err, ERR_FAILED, "cannot start host: %s", strerror(rc));
		return -1;
	}
	return pid;
}

static char *
session_file(struct session *s, const char *name)
{
	char *dir = session_dir(s), *p;

	xasprintf(&p, "%s/%s", dir, name);
	free(dir);
	return p;
}

int
session_spawn(struct session *s, struct err *err)
{
	char *dir = session_dir(s), *sockpath = session_file(s, "host.sock");
	char *logpath = session_file(s, "host.log");
	char *exitpath = session_file(s, "exit");
	char *scrpath = session_file(s, "screen.txt");
	pid_t pid;
	int lfd = -1, logfd = -1, rc = -1;

	if (mkdir_p(dir, 0700, err) < 0)
		goto out;
	unlink(exitpath);
	unlink(scrpath);
	lfd = sock_listen(sockpath, err);
	if (lfd < 0)
		goto out;
	logfd = open(logpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (lfd < 3) {
		/* dup2 onto itself would keep close-on-exec: move it */
		int moved = fcntl(lfd, F_DUPFD_CLOEXEC, 10);
		close(lfd);
		lfd = moved;
	}
	/* the daemon binds the host's socket and hands it over, so the link
	 * below can connect at once: no race with the host's start-up */
	pid = host_spawn(dir, s->id, logfd, lfd, err);
	if (pid < 0)
		goto out;
	s->host_pid = pid;
	s->pid = 0;
	s->has_exit = 0;
	s->exit_code = 0;
	s->exit_signal = 0;
	s->ended_at = 0;
	s->stop_requested = 0;
	set_str(&s->boot_id, boot_id());
	set_str(&s->waiting_for, NULL);
	session_set_state(s, "starting", NULL, NULL);
	if (s->first_block) { /* a dialog comes before any hook: say so */
		session_set_state(s, "blocked", s->first_block,
		    "waiting on the runtime before its hooks load");
		free(s->first_block);
		s->first_block = NULL;
	}
	if (host_link_open(s) < 0)
		log_warn("session %s: no link to its host yet", s->id);
	rc = 0;
out:
	if (lfd >= 0)
		close(lfd);
	if (logfd >= 0)
		close(logfd);
	free(dir);
	free(sockpath);
	free(logpath);
	free(exitpath);
	free(scrpath);
	return rc;
}

/* The rules a session keeps for its whole life (session-policy.c
 * enforces them): only the fields given, each checked. */
static int
policy_from_request(json_t *req, json_t **out, struct err *err)
{
	json_t *allow = NULL, *deny = NULL, *tools = NULL;
	json_t *sb = json_object_get(req, "sandbox");
	json_t *usd = json_object_get(req, "budget_usd"), *v;
	json_int_t tokens = 0;
	const char *k;

	*out = NULL;
	if (proto_get_strv(req, "allow", &allow, err) < 0 ||
	    proto_get_strv(req, "deny", &deny, err) < 0 ||
	    proto_get_strv(req, "agent_tools", &tools, err) < 0 ||
	    proto_get_int(req, "budget_tokens", &tokens, err) < 0)
		return -1;
	if (usd && !json_is_null(usd) &&
	    (!json_is_number(usd) || !(json_number_value(usd) > 0)))
		return err_set(
		    err, ERR_USAGE, "field 'budget_usd' must be a number > 0");
	if (tokens < 0)
		return err_set(
		    err, ERR_USAGE, "field 'budget_tokens' must be > 0");
	if (sb && !json_is_null(sb)) {
		if (!json_is_object(sb))
			return err_set(err, ERR_USAGE,
			    "field 'sandbox' must be an object");
		json_object_foreach(sb, k, v)
		{
			if (!json_is_boolean(v))
				return err_set(err, ERR_USAGE,
				    "field 'sandbox.%.32s' must be a boolean",
				    k);
		}
	}
	json_t *p = json_object();
	if (json_array_size(allow))
		json_object_set(p, "allow", allow);
	if (json_array_size(deny))
		json_object_set(p, "deny", deny);
	if (json_array_size(tools)) /* its agent definition's tools */
		json_object_set(p, "tools", tools);
	if (json_is_number(usd))
		json_object_set_new(
		    p, "budget_usd", json_real(json_number_value(usd)));
	if (tokens > 0)
		json_object_set_new(p, "budget_tokens", json_integer(tokens));
	if (json_is_object(sb))
		json_object_set_new(p, "sandbox", json_deep_copy(sb));
	if (json_object_size(p) == 0)
		json_decref(p);
	else
		*out = p;
	return 0;
}

/* A queued session has been through the line (the scheduler observes
 * sessions that join it): started, waiting, or failed (recorded; err says
 * why, for the caller to report). */
static int
schedule_it(struct session *s, struct err *err)
{
	if (strcmp(s->state, "failed") == 0)
		return err_set(err, ERR_FAILED, "%s",
		    s->reason ? s->reason : "the session failed to start");
	return 0;
}

/* Build a session from a validated `new`/`exec` request and start it. */
struct session *
session_create(json_t *req, struct err *err)
{
	struct session *s = xcalloc(1, sizeof *s);
	const char *name = NULL, *runtime, *cwd, *prompt, *model;
	const char *wt = NULL, *branch = NULL, *repo = NULL, *wbase = NULL;
	const char *base_ref = NULL;
	json_t *argv = NULL, *env, *spec = NULL, *e;
	char *dir = NULL, *text = NULL, *specpath = NULL, *base = NULL;
	char *blocked = NULL;
	struct stat st;
	size_t i;
	json_int_t rows = 24, cols = 80, sb = 2000;
	int pin = 0;

	if (proto_get_str(req, "name", &name, err) < 0 ||
	    proto_get_str(req, "runtime", &runtime, err) < 0 ||
	    proto_get_str(req, "cwd", &cwd, err) < 0 ||
	    proto_get_str(req, "prompt", &prompt, err) < 0 ||
	    proto_get_str(req, "model", &model, err) < 0 ||
	    proto_get_strv(req, "env", &env, err) < 0 ||
	    proto_get_int(req, "rows", &rows, err) < 0 ||
	    proto_get_int(req, "cols", &cols, err) < 0 ||
	    proto_get_int(req, "scrollback", &sb, err) < 0 ||
	    proto_get_bool(req, "pin", &pin, err) < 0 ||
	    proto_get_str(req, "worktree", &wt, err) < 0 ||
	    proto_get_str(req, "branch", &branch, err) < 0 ||
	    proto_get_str(req, "repo", &repo, err) < 0 ||
	    proto_get_str(req, "base", &wbase, err) < 0 ||
	    proto_get_str(req, "base_ref", &base_ref, err) < 0)
		goto fail;
	if ((wt && wt[0] != '/') || (repo && repo[0] != '/')) {
		err_set(err, ERR_USAGE,
		    "fields 'worktree' and 'repo' must be absolute paths");
		goto fail;
	}
	if (runtime == NULL)
		runtime = "exec";
	if (cwd == NULL || cwd[0] != '/') {
		err_set(err, ERR_USAGE, "field 'cwd' must be an absolute path");
		goto fail;
	}
	if (stat(cwd, &st) != 0 || !S_ISDIR(st.st_mode)) {
		err_set(err, ERR_NOT_FOUND, "no directory '%s'", cwd);
		goto fail;
	}
	if (rows < 2 || rows > 1000 || cols < 10 || cols > 1000) {
		err_set(err, ERR_USAGE,
		    "terminal size %lldx%lld is out of range", (long long)cols,
		    (long long)rows);
		goto fail;
	}
	if (sb < 0 || sb > 1000000)
		sb = 2000;
	if (name != NULL) {
		if (name_check(name, "name", err) < 0)
			goto fail;
		if (session_name_taken(name, NULL)) {
			err_set(err, ERR_EXISTS,
			    "a live session is already named '%s': pick "
			    "another -n NAME",
			    name);
			goto fail;
		}
	}
	const char *group = NULL;
	json_int_t prio = 0;
	json_t *after_refs = NULL, *after = json_array();
	if (proto_get_str(req, "group", &group, err) < 0 ||
	    proto_get_int(req, "priority", &prio, err) < 0 ||
	    proto_get_strv(req, "after", &after_refs, err) < 0 ||
	    (group && name_check(group, "group", err) < 0)) {
		json_decref(after);
		goto fail;
	}
	json_array_foreach(after_refs, i, e)
	{
		struct session *dep =
		    session_resolve(json_string_value(e), err);
		if (dep == NULL) {
			json_decref(after);
			goto fail;
		}
		json_array_append_new(after, json_string(dep->id));
	}
	s->after = after;
	s->priority = (int)prio;
	if (policy_from_request(req, &s->policy, err) < 0)
		goto fail;
	/* refuse a sandbox this machine lacks before anything is made */
	json_t *sbwant = json_object_get(s->policy, "sandbox"), *applied = NULL;
	if (sbwant && sandbox_check(sbwant, &applied, err) < 0)
		goto fail;
	if (applied)
		json_object_set_new(sbwant, "applied", applied);
	session_queue_limits(req);
	session_policy_settings(req);
	if (runtime_argv(runtime, req, &argv, err) < 0)
		goto fail;
	const struct runtime *rt = runtime_find(runtime);
	if (rt && rt->prepare && rt->prepare(req, &blocked, err) < 0)
		goto fail;
	const char *rsid = NULL;
	proto_get_str(req, "runtime_session_id", &rsid, NULL);
	do
		random_hex(s->id, GALLEY_ID_LEN);
	while (session_find_id(s->id) != NULL);
	if (name == NULL) {
		json_t *a0 = json_array_get(argv, 0);
		const char *src = prompt && *prompt ? prompt
		    : json_array_size(argv) > 0     ? json_string_value(a0)
		                                    : runtime;
		if (strcmp(runtime, "exec") == 0 && json_array_size(argv) > 0 &&
		    (prompt == NULL || *prompt == '\0')) {
			/* a job is named after its command, not its path */
			const char *slash = strrchr(json_string_value(a0), '/');
			struct buf b = BUF_INIT;
			buf_adds(&b, slash ? slash + 1 : json_string_value(a0));
			for (i = 1; i < json_array_size(argv) && i < 3; i++)
				buf_addf(&b, " %s",
				    json_string_value(json_array_get(argv, i)));
			base = name_from_text(b.data, 24);
			buf_release(&b);
		} else
			base = name_from_text(src, 24);
		s->name = session_unique_name(base);
	} else
		s->name = xstrdup(name);
	s->runtime = xstrdup(runtime);
	s->kind = xstrdup(runtime_kind(runtime));
	s->state = xstrdup("queued");
	s->prompt = prompt ? xstrdup(prompt) : NULL;
	s->cwd = xstrdup(cwd);
	s->model = model ? xstrdup(model) : NULL;
	s->runtime_session_id = rsid ? xstrdup(rsid) : NULL;
	s->worktree = wt ? xstrdup(wt) : NULL;
	s->branch = branch ? xstrdup(branch) : NULL;
	s->repo = repo ? xstrdup(repo) : NULL;
	s->base = wbase ? xstrdup(wbase) : NULL;
	s->base_ref = base_ref ? xstrdup(base_ref) : NULL;
	s->pinned = pin;
	s->grp = xstrdup(group ? group : "default");
	s->executor = xstrdup("local");
	s->hook_token = xmalloc(33);
	random_hex(s->hook_token, 32);
	s->created_at = s->updated_at = wall_ms();

	/* spec.json holds what the host needs, env included: 0600 in the
	 * private state dir, never in the store or a log */
	json_t *fullenv = json_array();
	json_array_foreach(env, i, e)
	{
		const char *kv = json_string_value(e);
		if (strncmp(kv, "GALLEY_SESSION=", 15) == 0 ||
		    strncmp(kv, "GALLEY_HOOK_TOKEN=", 18) == 0 ||
		    strchr(kv, '=') == NULL)
			continue;
		json_array_append(fullenv, e);
	}
	json_array_append_new(
	    fullenv, json_sprintf("GALLEY_SESSION=%s", s->id));
	json_array_append_new(
	    fullenv, json_sprintf("GALLEY_HOOK_TOKEN=%s", s->hook_token));
	dir = session_dir(s);
	if (mkdir_p(dir, 0700, err) < 0) {
		json_decref(fullenv);
		goto fail;
	}
	json_t *plan = sbwant
	    ? sandbox_plan(sbwant, applied, runtime, cwd, dir, fullenv)
	    : NULL;
	spec = json_pack("{s:O, s:s, s:o, s:I, s:I, s:I, s:o*}", "argv", argv,
	    "cwd", cwd, "env", fullenv, "rows", rows, "cols", cols,
	    "scrollback", sb, "sandbox", plan);
	xasprintf(&specpath, "%s/spec.json", dir);
	text = json_dumps(spec, JSON_COMPACT);
	/* not fsync'd: it is only needed while the machine stays up, and a
	 * sync here is most of a dispatch's cost */
	if (write_file_replace(specpath, text, strlen(text), 0600, 0, err) < 0)
		goto fail;
	json_t *pub = json_pack("{s:O}", "argv", argv);
	s->spec = json_dumps(pub, JSON_COMPACT);
	json_decref(pub);

	TAILQ_INSERT_TAIL(&session_table, s, entry);
	session_count++;
	session_touch(s);
	session_event(s, "created", NULL);
	if (applied) /* what runs, best-effort or not, is on record */
		session_event(s, "sandbox", applied);
	json_t *first = json_pack("{s:s}", "state", s->state);
	session_event(s, "state", first);
	json_decref(first);
	s->first_block = blocked;
	blocked = NULL;
	/* the scheduler starts it now, unless it must wait */
	notify(s, SESSION_CHANGE_CREATED, SESSION_QUEUED);
	schedule_it(s, err);
	free(blocked);
	json_decref(argv);
	json_decref(spec);
	free(dir);
	free(text);
	free(specpath);
	free(base);
	return s;
fail:
	free(blocked);
	if (dir)
		rm_rf(dir);
	json_decref(argv);
	json_decref(spec);
	free(dir);
	free(text);
	free(specpath);
	free(base);
	session_free(s);
	return NULL;
}

/* ---- exit, stop, restart, remove -------------------------------------- */

/* Before a restart: a runtime that can continue the conversation gets its
 * resume argv in spec.json. Only once the conversation exists (a
 * transcript was seen); before that a restart starts it afresh. */
static int
resume_spec(struct session *s, struct err *err)
{
	const struct runtime *rt = runtime_find(s->runtime);
	char *path, *text = NULL;
	json_t *spec, *argv;
	struct stat st;
	int rc = -1;

	if (rt == NULL || rt->resume == NULL || s->transcript_path == NULL ||
	    stat(s->transcript_path, &st) != 0)
		return 0;
	path = session_file(s, "spec.json");
	spec = json_load_file(path, 0, NULL);
	if (!json_is_array(json_object_get(spec, "argv"))) {
		err_set(err, ERR_FAILED, "cannot read %s to restart", path);
		goto out;
	}
	argv = rt->resume(json_object_get(spec, "argv"), s->runtime_session_id);
	json_object_set_new(spec, "argv", argv);
	text = json_dumps(spec, JSON_COMPACT);
	if (write_file_replace(path, text, strlen(text), 0600, 0, err) < 0)
		goto out;
	json_t *pub = json_pack("{s:O}", "argv", argv);
	free(s->spec);
	s->spec = json_dumps(pub, JSON_COMPACT);
	json_decref(pub);
	session_touch(s);
	rc = 0;
out:
	json_decref(spec);
	free(text);
	free(path);
	return rc;
}

#define RESULT_SCAN_MAX (1u << 20)

/* A headless claude run ends with one {"type":"result",...} line; keep the
 * last one in the log's tail. */
static json_t *
read_result(struct session *s)
{
	char *path = session_file(s, "output.log");
	json_t *res = NULL;
	struct stat st;
	char *data = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	free(path);
	if (fd < 0 || fstat(fd, &st) != 0)
		goto out;
	off_t from = st.st_size > (off_t)RESULT_SCAN_MAX
	    ? st.st_size - (off_t)RESULT_SCAN_MAX
	    : 0;
	size_t len = (size_t)(st.st_size - from);
	data = xmalloc(len + 1);
	ssize_t n = pread(fd, data, len, from);
	if (n <= 0)
		goto out;
	data[n] = '\0';
	for (char *p = data; (p = strstr(p, "{\"type\":\"result\"")) != NULL;
	     p++) {
		size_t l = strcspn(p, "\r\n");
		json_t *j = json_loadb(p, l, 0, NULL);
		if (json_is_object(j)) {
			json_decref(res);
			res = j;
		} else
			json_decref(j);
	}
out:
	if (fd >= 0)
		close(fd);
	free(data);
	return res;
}

/* The last non-blank line of the screen at exit: usually why. */
static void
last_screen_line(struct session *s, char *out, size_t size)
{
	char *path = session_file(s, "screen.txt");
	struct buf b = BUF_INIT;

	out[0] = '\0';
	if (read_file(path, &b, 1u << 20, NULL) == 0 && b.len > 0) {
		buf_addc(&b, '\0');
		last_text_line(b.data, out, size);
	}
	buf_release(&b);
	free(path);
}

void
session_on_exit(struct session *s, int code, int sig)
{
	char reason[400], last[300];
	json_t *res = NULL;

	if (session_terminal(s) && s->has_exit)
		return;
	s->has_exit = 1;
	s->exit_code = sig ? 128 + sig : code;
	s->exit_signal = sig;
	s->ended_at = wall_ms();
	if (s->transcript_path) /* lines written after the last hook */
		session_read_transcript(s, s->transcript_path);
	if (strcmp(s->runtime, "claude") == 0 && s->spec &&
	    strstr(s->spec, "\"-p\"") != NULL &&
	    (res = read_result(s)) != NULL) {
		free(s->result);
		s->result = json_dumps(res, JSON_COMPACT);
		session_touch(s);
	}
	const char *rtext = json_string_value(json_object_get(res, "result"));
	json_int_t api_status =
	    json_integer_value(json_object_get(res, "api_error_status"));
	if (api_status == 429 || api_status == 529)
		session_policy_rate_limited(
		    s, api_status == 429 ? "rate_limit" : "overloaded");
	if (s->stop_requested) {
		session_set_state(s, "stopped", NULL,
		    s->stop_reason ? s->stop_reason : "stopped by user");
	} else if (json_is_true(json_object_get(res, "is_error"))) {
		/* claude's "success" subtype says nothing: is_error does */
		snprintf(reason, sizeof reason, "%.300s",
		    rtext ? rtext : "the run ended with an error");
		session_set_state(s, "failed", NULL, reason);
	} else if (code == 0 && sig == 0) {
		session_set_state(s, "done", NULL, NULL);
	} else {
		last_screen_line(s, last, sizeof last);
		if (sig)
			snprintf(reason, sizeof reason,
			    "killed by signal %d (%s)", sig, strsignal(sig));
		else if (last[0])
			snprintf(reason, sizeof reason,
			    "exited with code %d: %.300s", code, last);
		else
			snprintf(
			    reason, sizeof reason, "exited with code %d", code);
		session_set_state(s, "failed", NULL, reason);
	}
	json_decref(res);
	if (s->link)
		host_link_detach(s->link);
	if (s->restart_pending) {
		struct err err = ERR_INIT;
		s->restart_pending = 0;
		session_event(s, "restart", NULL);
		if (resume_spec(s, &err) < 0 || session_spawn(s, &err) < 0)
			session_set_state(s, "failed", NULL, err.msg.data);
		err_release(&err);
	}
}

/* The exit file a host leaves behind: {"code":N} or {"signal":N}. */
static int
read_exit_file(struct session *s, int *code, int *sig)
{
	char *path = session_file(s, "exit");
	json_t *o = json_load_file(path, 0, NULL);
	int rc = -1;

	free(path);
	if (json_is_object(o)) {
		*code = (int)json_integer_value(json_object_get(o, "code"));
		*sig = (int)json_integer_value(json_object_get(o, "signal"));
		rc = 0;
	}
	json_decref(o);
	return rc;
}

void
session_on_status(struct session *s, json_t *ev)
{
	json_int_t pid = 0;

	proto_get_int(ev, "pid", &pid, NULL);
	if (pid > 0 && pid != s->pid) {
		s->pid = (long)pid;
		session_touch(s);
	}
	if (json_is_true(json_object_get(ev, "exited"))) {
		json_int_t code = 0, sig = 0;
		proto_get_int(ev, "code", &code, NULL);
		proto_get_int(ev, "signal", &sig, NULL);
		session_on_exit(s, (int)code, (int)sig);
		return;
	}
	if (strcmp(s->state, "starting") == 0 && strcmp(s->kind, "job") == 0)
		session_set_state(s, "working", NULL, NULL);
	else if (pid > 0)
		session_notify(s, SESSION_CHANGE_UPDATE); /* the pid is news */
}

/* The link to a host closed, or could not be made. */
void
session_host_gone(struct session *s)
{
	int code, sig;

	if (session_terminal(s))
		return;
	if (read_exit_file(s, &code, &sig) == 0) {
		session_on_exit(s, code, sig);
		return;
	}
	if (pid_alive((pid_t)s->host_pid) && s->link_tries++ < 3) {
		/* alive but unreachable: try again, a few times */
		log_warn("session %s: host %ld alive but not reachable", s->id,
		    s->host_pid);
		if (host_link_open(s) == 0)
			return;
	}
	if (s->boot_id && strcmp(s->boot_id, boot_id()) != 0) {
		session_set_state(s, "interrupted", NULL,
		    "machine rebooted: 'galley restart' starts it again");
		return;
	}
	s->has_exit = 0;
	s->ended_at = wall_ms();
	if (s->stop_requested)
		session_set_state(s, "stopped", NULL,
		    s->stop_reason ? s->stop_reason : "stopped by user");
	else
		session_set_state(s, "failed", NULL, "host lost");
	if (s->pid > 0)
		kill(-(pid_t)s->pid, SIGHUP); /* no orphan keeps running */
	if (s->restart_pending) {
		struct err err = ERR_INIT;
		s->restart_pending = 0;
		if (session_spawn(s, &err) < 0)
			session_set_state(s, "failed", NULL, err.msg.data);
		err_release(&err);
	}
}

struct kill_timer {
	uv_timer_t timer;
	pid_t pgid;
	pid_t host;
};

static void kill_timer_close_cb(uv_handle_t *h);

/* The daemon is stopping: let go of every host (they live on) so the loop
 * can end. Handles are closed with their owners' callbacks, which free
 * them. */
static void
release_walk_cb(uv_handle_t *h, void *arg)
{
	if (uv_is_closing(h))
		return;
	if (h->type == UV_TIMER && h->data == (void *)kill_timer_close_cb)
		uv_close(h, kill_timer_close_cb);
}

void
session_release_hosts(void)
{
	struct session *s;

	TAILQ_FOREACH(s, &session_table, entry) {
		if (s->link)
			host_link_detach(s->link);
	}
	uv_walk(uv_default_loop(), release_walk_cb, NULL);
}

static void
kill_timer_close_cb(uv_handle_t *h)
{
	free(container_of(h, struct kill_timer, timer));
}

static void
kill_timer_cb(uv_timer_t *t)
{
	struct kill_timer *k = container_of(t, struct kill_timer, timer);

	if (k->pgid > 0)
		kill(-k->pgid, SIGKILL);
	uv_close((uv_handle_t *)t, kill_timer_close_cb);
}

int
session_stop(struct session *s, int grace_ms, struct err *err)
{
	if (strcmp(s->state, "queued") == 0) {
		/* never started: it just leaves the line */
		s->queue_pos = 0;
		session_set_state(s, "stopped", NULL, "stopped by user");
		return 0;
	}
	if (!session_live(s))
		return err_set(err, ERR_FAILED,
		    "session '%s' is not running (%s)", s->name, s->state);
	s->stop_requested = 1;
	session_event(s, "stop", NULL);
	if (s->link) {
		json_t *m = json_pack("{s:s, s:i, s:i}", "cmd", "signal",
		    "signal", SIGTERM, "grace_ms", grace_ms);
		host_link_send(s->link, m);
		json_decref(m);
		return 0;
	}
	if (s->pid <= 0)
		return err_set(err, ERR_FAILED,
		    "session '%s' has no process to stop", s->name);
	/* no host link: signal the group ourselves */
	kill(-(pid_t)s->pid, SIGTERM);
	struct kill_timer *k = xcalloc(1, sizeof *k);
	k->pgid = (pid_t)s->pid;
	uv_timer_init(uv_default_loop(), &k->timer);
	k->timer.data = (void *)kill_timer_close_cb;
	uv_timer_start(&k->timer, kill_timer_cb, (uint64_t)grace_ms, 0);
	uv_unref((uv_handle_t *)&k->timer);
	return 0;
}

int
session_restart(struct session *s, struct err *err)
{
	if (strcmp(s->state, "queued") == 0)
		return err_set(err, ERR_FAILED,
		    "session '%s' has not started yet", s->name);
	if (session_name_taken(s->name, s))
		return err_set(err, ERR_EXISTS,
		    "another live session is named '%s': rename one first",
		    s->name);
	if (session_live(s)) {
		s->restart_pending = 1;
		return session_stop(s, 5000, err);
	}
	s->restart_pending = 0;
	session_event(s, "restart", NULL);
	if (resume_spec(s, err) < 0)
		return -1;
	/* an ended session takes its place in line again, like a new one
	 * (a live one kept its place: it is respawned at its exit) */
	s->hold = HOLD_NONE;
	s->pass = 0;
	s->has_exit = 0;
	s->exit_code = s->exit_signal = 0;
	s->ended_at = 0;
	session_set_state(s, "queued", NULL, NULL);
	return schedule_it(s, err);
}

int
session_remove(struct session *s, int force, struct err *err)
{
	char *dir;

	if (session_live(s) && !force)
		return err_set(err, ERR_REFUSED,
		    "session '%s' is %s: stop it first, or use --force",
		    s->name, s->state);
	if (session_live(s)) {
		/* the files go too: the host must not write them meanwhile */
		if (s->pid > 0)
			kill(-(pid_t)s->pid, SIGKILL);
		if (s->host_pid > 0) {
			kill((pid_t)s->host_pid, SIGKILL);
			for (int i = 0;
			     i < 200 && pid_alive((pid_t)s->host_pid); i++)
				usleep(1000);
		}
	}
	if (s->link)
		host_link_detach(s->link);
	session_event(s, "removed", NULL);
	session_forget(s);
	dir = session_dir(s);
	rm_rf(dir);
	free(dir);
	TAILQ_REMOVE(&session_table, s, entry);
	session_count--;
	/* out of the table: what waited on it fails now, not later */
	notify(s, SESSION_CHANGE_REMOVED, state_from_name(s->state));
	session_free(s);
	return 0;
}

/* ---- adoption ---------------------------------------------------------- */

void
session_adopt_all(void)
{
	struct session *s, *ts;

	TAILQ_FOREACH_SAFE(s, &session_table, entry, ts) {
		if (!session_live(s))
			continue;
		if (host_link_open(s) < 0)
			session_host_gone(s);
	}
	/* the user's settings, until a request brings the caller's own */
	struct settings set;
	if (settings_load(&set, "/", NULL) == 0) {
		session_queue_init(&set);
		session_policy_init(&set);
		settings_release(&set);
	} else
		session_policy_init(NULL);
	session_schedule(); /* the line, as the last daemon left it */
}
