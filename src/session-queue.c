/*
 * The queue (issue 8, DESIGN §8): a session starts only when fewer than
 * limits.maxRunning sessions are live, fewer than its group's limit are
 * live in its group, and every session it runs --after has ended `done`.
 * Otherwise it waits as `queued`, with `waiting_for` saying why and its
 * place in line; a failed dependency fails it with the reason. The line is
 * by priority (higher first), then age. Without limits.maxRunning the
 * limit comes from the machine's memory. Each `new` request carries the
 * caller's limits (settings are the caller's); the latest ones apply.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "server.h"
#include "session-life.h"
#include "session.h"
#include "settings.h"
#include "util.h"
#include "xmalloc.h"

static int max_running;      /* 0: from the machine's memory */
static json_t *group_limits; /* name -> limit */

/* Agents mostly wait on the network, so memory bounds them, not CPUs: a
 * claude session holds about 260 MB. One per 512 MiB, 4 to 64. */
static int
limit_running(void)
{
	long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);
	long long n;

	if (max_running > 0)
		return max_running;
	n = pages > 0 && size > 0
	    ? (long long)pages * size / (512LL * 1024 * 1024)
	    : 4;
	return n < 4 ? 4 : n > 64 ? 64 : (int)n;
}

/* At start, the user's limits: until a `new` brings the caller's own. */
void
session_queue_init(struct settings *set)
{
	json_t *max = settings_get(set, "limits.maxRunning");
	if (json_is_integer(max) && json_integer_value(max) >= 1)
		max_running = (int)json_integer_value(max);
	json_t *groups = settings_get(set, "limits.group"), *v;
	const char *name;
	json_object_foreach(groups, name, v)
	{
		if (!json_is_integer(v) || json_integer_value(v) < 1)
			continue;
		if (group_limits == NULL)
			group_limits = json_object();
		json_object_set(group_limits, name, v);
	}
}

void
session_queue_limits(json_t *req)
{
	json_int_t v;
	const char *group = json_string_value(json_object_get(req, "group"));

	/* null: the caller has no such setting (any more) */
	json_t *m = json_object_get(req, "max_running");
	if (json_is_null(m))
		max_running = 0;
	else if (proto_get_int(req, "max_running", &v, NULL) == 0 && m &&
	    v >= 1 && v <= 100000)
		max_running = (int)v;
	json_t *gl = json_object_get(req, "group_limit");
	if (group && json_is_null(gl))
		json_object_del(group_limits, group);
	else if (group && gl &&
	    proto_get_int(req, "group_limit", &v, NULL) == 0 && v >= 1) {
		if (group_limits == NULL)
			group_limits = json_object();
		json_object_set_new(group_limits, group, json_integer(v));
	}
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

int
session_group_limit(const char *group)
{
	json_t *v = json_object_get(group_limits, group);

	return json_is_integer(v) ? (int)json_integer_value(v) : 0;
}

struct counts {
	int live;
	json_t *groups; /* name -> live sessions in it */
};

static int
group_count(struct counts *c, const char *g)
{
	return (int)json_integer_value(json_object_get(c->groups, g));
}

/* 1: may start; 0: waits (*why); -1: can never start (*why). The reason
 * names the limit, not the count, so it changes seldom: each change is a
 * store write and an event for every session in line. */
static int
can_start(struct session *s, struct counts *c, char *why, size_t size)
{
	const char *g = s->grp ? s->grp : "default";
	struct session *o;
	size_t i;
	json_t *dep;

	json_array_foreach(s->after, i, dep)
	{
		const char *id = json_string_value(dep);
		o = id ? session_find_id(id) : NULL;
		if (o == NULL) {
			snprintf(
			    why, size, "dependency %s is gone", id ? id : "?");
			return -1;
		}
		if (strcmp(o->state, "done") == 0)
			continue;
		if (session_terminal(o)) {
			snprintf(why, size, "dependency %s (%s) ended %s%s%s",
			    o->name, o->id, o->state, o->reason ? ": " : "",
			    o->reason ? o->reason : "");
			return -1;
		}
		snprintf(why, size, "after %s", o->name);
		return 0;
	}
	if (!session_policy_can_start(s, why, size))
		return 0;
	if (c->live >= limit_running()) {
		snprintf(
		    why, size, "queue: limits.maxRunning %d", limit_running());
		return 0;
	}
	int glimit = session_group_limit(g);
	if (glimit > 0 && group_count(c, g) >= glimit) {
		snprintf(
		    why, size, "queue: group %s runs %d at a time", g, glimit);
		return 0;
	}
	return 1;
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
void
session_schedule(void)
{
	static int running, again;
	struct session *s, **line = NULL;
	size_t n, cap = 0;

	if (running) {
		again = 1;
		return;
	}
	running = 1;
	do {
		struct counts c = {0, json_object()};
		again = 0;
		n = 0;
		TAILQ_FOREACH(s, &session_table, entry) {
			if (session_live(s)) {
				const char *g = s->grp ? s->grp : "default";
				c.live++;
				json_object_set_new(c.groups, g,
				    json_integer(group_count(&c, g) + 1));
			}
			if (strcmp(s->state, "queued") != 0)
				continue;
			if (n == cap) {
				cap = cap ? cap * 2 : 32;
				line = xrealloc(line, cap * sizeof *line);
			}
			line[n++] = s;
		}
		if (n > 1)
			qsort(line, n, sizeof *line, queue_cmp);
		int pos = 0;
		for (size_t i = 0; i < n; i++) {
			char why[512];
			struct err err = ERR_INIT;
			s = line[i];
			int ok = can_start(s, &c, why, sizeof why);
			if (ok < 0) {
				s->queue_pos = 0;
				session_set_state(s, "failed", NULL, why);
				continue;
			}
			if (ok > 0) {
				const char *g = s->grp ? s->grp : "default";
				s->queue_pos = 0;
				if (session_spawn(s, &err) < 0)
					session_set_state(
					    s, "failed", NULL, err.msg.data);
				else {
					session_policy_started(s);
					c.live++;
					json_object_set_new(c.groups, g,
					    json_integer(
					        group_count(&c, g) + 1));
				}
				err_release(&err);
				continue;
			}
			if (s->queue_pos != ++pos) {
				s->queue_pos = pos;
				session_uncache(s);
			}
			if (s->waiting_for == NULL ||
			    strcmp(s->waiting_for, why) != 0)
				session_set_state(s, "queued", why, NULL);
		}
		json_decref(c.groups);
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
	int now = state_from_name(s->state), was = ch->old;

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
