/*
 * The queue (issue 8, DESIGN §8): a session starts only when fewer than
 * limits.maxRunning sessions are live, fewer than its group's limit are
 * live in its group, and every session it runs --after has ended `done`.
 * Otherwise it waits as `queued`, with `waiting_for` saying why and its
 * place in line; a failed dependency fails it with the reason. The line is
 * by priority (higher first), then age. Without limits.maxRunning the
 * limit comes from the machine's memory.
 *
 * Limits are read by the daemon from settings files, never from requests
 * (settings-cache.c): the user's limits.maxRunning bounds every session on
 * the machine; one set in a project's own settings (project or local
 * scope) bounds that project's sessions too, whoever started them.
 * limits.group.G comes from the session's project settings, unless
 * `galley group set` set it for this daemon's life.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "policy-rules.h"
#include "server.h"
#include "session-life.h"
#include "session-queue.h"
#include "session-policy.h"
#include "session.h"
#include "settings-cache.h"
#include "settings.h"
#include "util.h"
#include "xmalloc.h"

static json_t *group_limits; /* name -> limit, from `galley group set` */

static int
int_setting(struct settings *set, const char *key)
{
	json_t *v = settings_get(set, key);

	return json_is_integer(v) && json_integer_value(v) >= 1 &&
	        json_integer_value(v) <= 100000
	    ? (int)json_integer_value(v)
	    : 0;
}

static int
limit_running(void)
{
	int max = int_setting(settings_user(), "limits.maxRunning");

	return max > 0 ? max : settings_max_running_default();
}

/* The repo a session belongs to, whose settings govern it: a worktree
 * session its main repo's. "" outside any. Worked out once. */
static const char *
project_of(struct session *s)
{
	if (s->project == NULL) {
		char *root = repo_root(s->repo ? s->repo : s->cwd);
		s->project = root ? root : xstrdup("");
	}
	return s->project;
}

static struct settings *
settings_of(struct session *s)
{
	const char *root = project_of(s);

	return settings_project(*root ? root : NULL);
}

/* limits.maxRunning set in the project's own files: 0 if none */
static int
project_limit(struct session *s)
{
	struct settings *set = settings_of(s);

	if (settings_origin(set, "limits.maxRunning") < SCOPE_PROJECT)
		return 0;
	return int_setting(set, "limits.maxRunning");
}

void
session_queue_set_group(const char *group, int limit)
{
	if (group_limits == NULL)
		group_limits = json_object();
	if (limit > 0)
		json_object_set_new(group_limits, group, json_integer(limit));
	else
		json_object_del(group_limits, group);
	session_schedule();
}

/* `galley group set`'s, else the user's settings (for `group ls`) */
int
session_group_limit(const char *group)
{
	json_t *v = json_object_get(group_limits, group);
	char key[128];

	if (json_is_integer(v))
		return (int)json_integer_value(v);
	snprintf(key, sizeof key, "limits.group.%s", group);
	return int_setting(settings_user(), key);
}

static int
group_limit_of(struct session *s, const char *group)
{
	json_t *v = json_object_get(group_limits, group);
	char key[128];

	if (json_is_integer(v))
		return (int)json_integer_value(v);
	snprintf(key, sizeof key, "limits.group.%s", group);
	return int_setting(settings_of(s), key);
}

/* One pass's view of the line: counts, and the limits as read once for
 * the pass (a thousand queued sessions must not each read settings). */
struct counts {
	int live, limit;
	json_t *groups;   /* name -> live sessions in it */
	json_t *projects; /* root -> live sessions in it */
	json_t *limits;   /* "p:root" / "g:root:group" -> limit */
};

/* A limit read once per pass, keyed by what it depends on. */
static int
pass_limit(struct counts *c, struct session *s, const char *group)
{
	char key[PATH_MAX + 160];
	json_t *v;
	int n;

	snprintf(key, sizeof key, "%c:%s:%s", group ? 'g' : 'p', project_of(s),
	    group ? group : "");
	if ((v = json_object_get(c->limits, key)) != NULL)
		return (int)json_integer_value(v);
	n = group ? group_limit_of(s, group) : project_limit(s);
	json_object_set_new(c->limits, key, json_integer(n));
	return n;
}

static int
group_count(struct counts *c, const char *g)
{
	return (int)json_integer_value(json_object_get(c->groups, g));
}

/* The first dependency not ended done, into the facts. */
static void
dependency_facts(struct session *s, struct line_facts *f)
{
	struct session *o;
	size_t i;
	json_t *dep;

	json_array_foreach(s->after, i, dep)
	{
		const char *id = json_string_value(dep);
		o = id ? session_find_id(id) : NULL;
		if (o == NULL) {
			f->dep = DEP_GONE;
			f->dep_id = id;
			return;
		}
		if (o->state == SESSION_DONE)
			continue;
		f->dep = session_terminal(o) ? DEP_ENDED : DEP_WAITING;
		f->dep_name = o->name;
		f->dep_id = o->id;
		f->dep_state = state_name(o->state);
		f->dep_reason = o->reason;
		return;
	}
}

/* 1: may start; 0: waits (*why); -1: can never start (*why). The facts
 * are gathered here, the rule is policy-rules.c's line_decide. The reason
 * names the limit, not the count, so it changes seldom: each change is a
 * store write and an event for every session in line. */
static int
can_start(struct session *s, struct counts *c, char *why, size_t size)
{
	const char *g = s->grp ? s->grp : "default", *root = project_of(s);
	const char *base = strrchr(root, '/');
	char policy[512];
	struct line_facts f = {
	    .live = c->live,
	    .limit = c->limit,
	    .project = base ? base + 1 : root,
	    .project_live =
	        (int)json_integer_value(json_object_get(c->projects, root)),
	    .project_limit = pass_limit(c, s, NULL),
	    .group = g,
	    .group_live = group_count(c, g),
	    .group_limit = pass_limit(c, s, g),
	};

	dependency_facts(s, &f);
	if (f.dep == DEP_NONE &&
	    !session_policy_can_start(s, policy, sizeof policy))
		f.policy_why = policy;
	return line_decide(&f, why, size);
}

static int
queue_cmp(const void *pa, const void *pb)
{
	const struct session *a = *(struct session *const *)pa;
	const struct session *b = *(struct session *const *)pb;

	if (a->priority != b->priority)
		return a->priority > b->priority ? -1 : 1;
	if (a->created_at != b->created_at)
		return a->created_at < b->created_at ? -1 : 1;
	return strcmp(a->id, b->id);
}

/* Start what may start, in line order; say why the rest wait. Safe to
 * call from anywhere: a start or a failure that ends more sessions only
 * asks for one more pass. */
static void
count_live(struct counts *c, struct session *s)
{
	const char *g = s->grp ? s->grp : "default", *root = project_of(s);

	c->live++;
	json_object_set_new(c->groups, g, json_integer(group_count(c, g) + 1));
	json_object_set_new(c->projects, root,
	    json_integer(
	        json_integer_value(json_object_get(c->projects, root)) + 1));
}

/* The queued sessions in line order; counts of the live ones. */
static size_t
line_up(struct counts *c, struct session ***line, size_t *cap)
{
	struct session *s;
	size_t n = 0;

	TAILQ_FOREACH(s, &session_table, entry) {
		if (session_live(s))
			count_live(c, s);
		/* queued by a cluster, not by galley's line */
		if (s->state != SESSION_QUEUED || s->job_id)
			continue;
		if (n == *cap) {
			*cap = *cap ? *cap * 2 : 32;
			*line = xrealloc(*line, *cap * sizeof **line);
		}
		(*line)[n++] = s;
	}
	if (n > 1)
		qsort(*line, n, sizeof **line, queue_cmp);
	return n;
}

/* One walk down the line: start, fail or say why each one waits. */
static void
walk_line(struct counts *c, struct session **line, size_t n)
{
	int pos = 0;

	for (size_t i = 0; i < n; i++) {
		char why[512];
		struct err err = ERR_INIT;
		struct session *s = line[i];
		int ok = can_start(s, c, why, sizeof why);
		if (ok < 0) {
			s->queue_pos = 0;
			session_set_state(s, SESSION_FAILED, NULL, why);
			continue;
		}
		if (ok > 0) {
			s->queue_pos = 0;
			if (session_spawn(s, &err) < 0)
				session_set_state(
				    s, SESSION_FAILED, NULL, err.msg.data);
			else {
				session_policy_started(s);
				count_live(c, s);
			}
			err_release(&err);
			continue;
		}
		if (s->queue_pos != ++pos) {
			s->queue_pos = pos;
			session_uncache(s);
		}
		if (s->waiting_for == NULL || strcmp(s->waiting_for, why) != 0)
			session_set_state(s, SESSION_QUEUED, why, NULL);
	}
}

void
session_schedule(void)
{
	static int running, again;
	struct session **line = NULL;
	size_t n, cap = 0;

	if (running) {
		again = 1;
		return;
	}
	running = 1;
	settings_cache_pass(); /* limits as the files say now */
	do {
		struct counts c = {0, limit_running(), json_object(),
		    json_object(), json_object()};
		again = 0;
		n = line_up(&c, &line, &cap);
		walk_line(&c, line, n);
		json_decref(c.groups);
		json_decref(c.projects);
		json_decref(c.limits);
	} while (again);
	session_policy_schedule_done();
	free(line);
	running = 0;
}

/* The line moves when a session joins it (created, or restarted into
 * queued), when a place is free or a dependency ended (an end), and when
 * one is removed. At once, not later: whoever created the session learns
 * from its state whether it started or failed. */
static void
queue_observe(struct session *s, const struct session_change *ch, void *arg)
{
	int now = s->state, was = ch->old;

	switch (ch->kind) {
	case SESSION_CHANGE_CREATED:
	case SESSION_CHANGE_REMOVED:
		session_schedule();
		break;
	case SESSION_CHANGE_STATE:
		if ((now == SESSION_QUEUED && was != SESSION_QUEUED) ||
		    (state_table[now].terminal &&
		        !(was >= 0 && state_table[was].terminal)))
			session_schedule();
		break;
	default:
		break;
	}
}

void
session_queue_observe(void)
{
	session_observe(queue_observe, NULL);
	session_on_line_moved(session_schedule);
}
