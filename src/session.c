/* The sessions the daemon knows: the table, finding one by reference,
 * names, states and who observes their changes, and their JSON. Making
 * one is session-create.c; starting, ending, stopping and removing one is
 * session-life.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "names.h"
#include "proto.h"
#include "session-children.h"
#include "session.h"
#include "util.h"
#include "xmalloc.h"

struct session_list session_table = TAILQ_HEAD_INITIALIZER(session_table);
int session_count;

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
	/* its executor let go of it first (detach, kill or shutdown) */
	char **strs[] = {&s->name, &s->kind, &s->runtime, &s->waiting_for,
	    &s->reason, &s->prompt, &s->cwd, &s->worktree, &s->branch, &s->grp,
	    &s->executor, &s->model, &s->runtime_session_id, &s->team,
	    &s->workflow, &s->parent, &s->boot_id, &s->job_id, &s->node,
	    &s->hook_token, &s->spec, &s->transcript_path, &s->last_tool,
	    &s->repo, &s->base, &s->base_ref, &s->result, &s->first_block,
	    &s->held_wait, &s->repeat_key, &s->stop_reason, &s->project,
	    &s->merged_into, &s->output_error, &s->member};
	for (size_t i = 0; i < nitems(strs); i++)
		free(*strs[i]);
	session_uncache(s);
	json_decref(s->conflicts);
	json_decref(s->children);
	json_decref(s->unread);
	json_decref(s->after);
	json_decref(s->policy);
	free(s);
}

char *
session_dir(struct session *s)
{
	return path_session_dir(s->id);
}

char *
session_file(struct session *s, const char *name)
{
	char *dir = session_dir(s), *p;

	xasprintf(&p, "%s/%s", dir, name);
	free(dir);
	return p;
}

int
session_is_agent(struct session *s)
{
	return s->kind && strcmp(s->kind, "agent") == 0;
}

/* session_event that takes DATA's reference */
void
session_event_take(struct session *s, const char *kind, json_t *data)
{
	session_event(s, kind, data);
	json_decref(data);
}

void
session_add(struct session *s)
{
	TAILQ_INSERT_TAIL(&session_table, s, entry);
	session_count++;
}

static void notify(struct session *, enum session_change_kind, int old,
    const struct session_spec *);

/* Out of the table first, so what waited on it sees it gone; then the
 * observers; then freed. */
void
session_drop(struct session *s)
{
	TAILQ_REMOVE(&session_table, s, entry);
	session_count--;
	notify(s, SESSION_CHANGE_REMOVED, s->state, NULL);
	session_free(s);
}

int
session_terminal(struct session *s)
{
	return state_table[s->state].terminal;
}

int
session_live(struct session *s)
{
	/* a job a cluster holds in its queue is live: it may start
	 * any moment, and stop, rm and adoption must reach it */
	return state_table[s->state].live ||
	    (s->state == SESSION_QUEUED && s->job_id != NULL);
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

/* The one session whose name starts with ref: a live one, else any. */
static struct session *
name_prefix(const char *ref, size_t n, struct buf *cands, int *count)
{
	struct session *s, *found = NULL;

	for (int pass = 0; pass < 2 && *count == 0; pass++) {
		TAILQ_FOREACH(s, &session_table, entry) {
			if (strncmp(s->name, ref, n) != 0 ||
			    (pass == 0 && !session_live(s)))
				continue;
			found = s;
			if (*count < 8)
				buf_addf(cands, "%s%s (%s)", *count ? ", " : "",
				    s->id, s->name);
			(*count)++;
		}
	}
	return found;
}

/* An exact id, else a name (a live session first, else the newest), else a
 * unique id prefix, else a unique name prefix. */
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
	if (count == 0) /* a unique name prefix: what ls showed before a '~' */
		found = name_prefix(ref, n, &cands, &count);
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

/* Worktree review: pinned, conflicts and changed files. */
static void
review_json(struct session *s, json_t *o)
{
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
	    json_boolean(files > 0 && s->merged_into == NULL &&
	        (s->state == SESSION_IDLE || s->state == SESSION_DONE)));
	json_object_set_new(o, "output_error",
	    s->output_error ? json_string(s->output_error) : json_null());
	json_object_set_new(o, "merged_into",
	    s->merged_into ? json_string(s->merged_into) : json_null());
	json_object_set_new(o, "conflicts",
	    s->conflicts ? json_incref(s->conflicts) : json_array());
}

/* What runs inside it, and where: its subagents and background tasks;
 * on a cluster its job and node. */
static void
where_json(struct session *s, json_t *o)
{
	if (s->job_id) { /* on a cluster */
		json_object_set_new(o, "job_id", json_string(s->job_id));
		set_nullable(o, "node", s->node);
	}
	if (json_object_size(s->children)) {
		json_object_set_new(
		    o, "orphaned", json_integer(session_children_orphaned(s)));
		/* the last key of the object (cmd-ls-tree.c relies on it) */
		json_object_set_new(o, "children", session_children_json(s));
	}
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
	json_object_set_new(o, "state", json_string(state_name(s->state)));
	set_nullable(o, "waiting_for", s->waiting_for);
	set_nullable(o, "reason", s->reason);
	set_nullable(o, "prompt", s->prompt);
	json_object_set_new(o, "cwd", json_string(s->cwd));
	set_nullable(o, "worktree", s->worktree);
	set_nullable(o, "branch", s->branch);
	set_nullable(o, "repo", s->repo);
	set_nullable(o, "base", s->base);
	set_nullable(o, "base_ref", s->base_ref);
	review_json(s, o);
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
	where_json(s, o); /* last: ls --tree appends to its children */
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
notify(struct session *s, enum session_change_kind kind, int old,
    const struct session_spec *sp)
{
	struct session_change ch = {kind, old, sp};

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
	notify(s, kind, s->state, NULL);
}

void
session_notify_created(struct session *s, const struct session_spec *sp)
{
	session_uncache(s);
	notify(s, SESSION_CHANGE_CREATED, s->state, sp);
}

static void (*line_moved)(void);

void
session_on_line_moved(void (*fn)(void))
{
	line_moved = fn;
}

void
session_line_moved(void)
{
	if (line_moved)
		line_moved();
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
		s->json_text = json_dumps(o, JSON_COMPACT | PROTO_REALS);
		s->json_len = strlen(s->json_text);
		json_decref(o);
	}
	*len = s->json_len;
	return s->json_text;
}

/* A job's command line as a shell would take it back: words with
 * anything but [A-Za-z0-9._/=:,+@%-] are single-quoted (caller frees). */
static char *
argv_line(json_t *argv)
{
	struct buf b = BUF_INIT;
	json_t *v;
	size_t i;

	json_array_foreach(argv, i, v)
	{
		const char *a = json_string_value(v);
		if (a == NULL)
			continue;
		if (i > 0)
			buf_addc(&b, ' ');
		if (*a &&
		    strspn(a,
		        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnop"
		        "qrstuvwxyz0123456789._/=:,+@%-") == strlen(a)) {
			buf_adds(&b, a);
			continue;
		}
		buf_add_sh_quoted(&b, a);
	}
	return b.len ? buf_detach(&b, NULL) : (buf_release(&b), NULL);
}

/* "conflict: NAME (a.c, b.c); base (c.c)": who its work clashes with,
 * by name, and where (caller frees). */
static char *
conflict_line(struct session *s)
{
	struct buf b = BUF_INIT;
	json_t *c;
	size_t i;

	buf_adds(&b, "conflict: ");
	json_array_foreach(s->conflicts, i, c)
	{
		const char *with =
		    json_string_value(json_object_get(c, "with"));
		struct session *o = with ? session_find_id(with) : NULL;
		json_t *p;
		size_t j;
		buf_addf(&b, "%s%s (", i ? "; " : "",
		    o          ? o->name
		        : with ? with
		               : "?");
		json_array_foreach(json_object_get(c, "paths"), j, p)
		{
			if (j == 3) {
				buf_adds(&b, ", ...");
				break;
			}
			buf_addf(&b, "%s%s", j ? ", " : "",
			    json_string_value(p) ? json_string_value(p) : "");
		}
		buf_addc(&b, ')');
	}
	return buf_detach(&b, NULL);
}

/* The detail as one line of at most 160 characters, its node and job
 * first on a cluster; never half a UTF-8 sequence. */
static void
detail_line(struct session *s, const char *detail, struct buf *one)
{
	size_t chars = 0;

	if (s->job_id)
		buf_addf(one, "[%s job %s] ", s->node ? s->node : "slurm",
		    s->job_id);
	for (const char *p = detail ? detail : ""; *p && chars < 160; p++) {
		unsigned char c = (unsigned char)*p;
		buf_addc(one, c < 0x20 ? ' ' : (char)c);
		if ((c & 0xc0) != 0x80)
			chars++;
	}
	while (one->len > 0 &&
	    ((unsigned char)one->data[one->len - 1] & 0xc0) == 0x80 &&
	    chars >= 160)
		one->len--;
	if (one->len > 0 &&
	    ((unsigned char)one->data[one->len - 1] & 0xc0) == 0xc0)
		one->len--;
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
	if (detail == NULL && s->output_error) /* its record is not whole */
		detail = s->output_error;
	char orphans[128];
	session_children_orphan_text(s, orphans, sizeof orphans);
	if (detail == NULL && orphans[0]) /* work it left running */
		detail = orphans;
	char *clash = NULL;
	if (detail == NULL && json_array_size(s->conflicts))
		detail = clash = conflict_line(s);
	char queued[600];
	if (s->queue_pos > 0 && detail) { /* its place in line first */
		snprintf(queued, sizeof queued, "#%d %s", s->queue_pos, detail);
		detail = queued;
	}
	/* why it ended (a hard cap, a stop, a crash) says more than its
	 * prompt */
	if (detail == NULL && s->reason != NULL &&
	    (session_terminal(s) || s->state == SESSION_INTERRUPTED))
		detail = s->reason;
	char review[160];
	if (detail == NULL && s->merged_into != NULL) {
		snprintf(review, sizeof review, "merged into %.100s",
		    s->merged_into);
		detail = review;
	}
	if (detail == NULL && s->changed_files > 1 &&
	    (s->state == SESSION_IDLE || s->state == SESSION_DONE)) {
		snprintf(review, sizeof review, "ready for review: %d file%s",
		    s->changed_files - 1, s->changed_files == 2 ? "" : "s");
		detail = review;
	}
	if (detail == NULL && s->prompt != NULL && *s->prompt)
		detail = s->prompt;
	if (detail == NULL && s->spec != NULL) {
		json_t *sp = json_loads(s->spec, 0, NULL);
		cmd = argv_line(json_object_get(sp, "argv"));
		json_decref(sp);
		detail = cmd;
	}
	struct buf one = BUF_INIT;
	detail_line(s, detail, &one);
	json_t *row = json_pack("[s, s, s, I, s, s%, b]", s->id, s->name,
	    state_name(s->state), (json_int_t)s->updated_at, s->runtime,
	    one.data, one.len, s->pinned);
	if (row == NULL) /* not UTF-8 after all */
		row = json_pack("[s, s, s, I, s, s, b]", s->id, s->name,
		    state_name(s->state), (json_int_t)s->updated_at, s->runtime,
		    "", s->pinned);
	s->row_text = json_dumps(row, JSON_COMPACT);
	s->row_len = strlen(s->row_text);
	json_decref(row);
	buf_release(&one);
	free(cmd);
	free(clash);
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
session_set_state(struct session *s, enum session_state state,
    const char *waiting_for, const char *reason)
{
	int same = s->state == state &&
	    ((s->waiting_for == NULL && waiting_for == NULL) ||
	        (s->waiting_for && waiting_for &&
	            strcmp(s->waiting_for, waiting_for) == 0));

	s->updated_at = wall_ms();
	if (same && reason == NULL) {
		session_touch(s);
		return;
	}
	log_info("session %s: %s -> %s", s->id, state_name(s->state),
	    state_name(state));
	int old = s->state;
	s->state = state;
	if (state == SESSION_WORKING && s->merged_into) {
		free(s->merged_into); /* new work: to be reviewed again */
		s->merged_into = NULL;
	}
	set_text(&s->waiting_for, waiting_for);
	set_text(&s->reason, reason);
	session_touch(s);
	json_t *data = json_pack("{s:s, s:s?, s:s?}", "state",
	    state_name(state), "waiting_for", waiting_for, "reason", reason);
	session_event(s, "state", data);
	json_decref(data);
	notify(s, SESSION_CHANGE_STATE, old, NULL);
}
