/* The agent view's list: every session by id, the visible rows in group
 * order, the filter and the selection (kept by id across changes). */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "state.h"
#include "util.h"
#include "view.h"
#include "xmalloc.h"

static const char *const group_names[G_COUNT] = {"Pinned", "Needs input",
    "Ready for review", "Working", "Queued", "Completed / Failed / Stopped"};

const char *
view_group_name(int g)
{
	return g >= 0 && g < G_COUNT ? group_names[g] : "?";
}

static const char *
str(json_t *s, const char *k)
{
	const char *v = json_string_value(json_object_get(s, k));

	return v ? v : "";
}

int
view_group_of(json_t *s)
{
	int st = state_from_name(str(s, "state"));

	if (json_is_true(json_object_get(s, "pinned")))
		return G_PINNED;
	if (st == SESSION_BLOCKED)
		return G_INPUT;
	/* merged: reviewed, and its work is in; new work clears the mark */
	if (!json_is_null(json_object_get(s, "merged_into")) &&
	    json_object_get(s, "merged_into") &&
	    (st == SESSION_IDLE || (st >= 0 && state_table[st].terminal)))
		return G_ENDED;
	if (st == SESSION_IDLE ||
	    (st == SESSION_DONE && json_is_true(json_object_get(s, "review"))))
		return G_REVIEW;
	if (st >= 0 && state_table[st].active)
		return G_WORKING;
	if (st == SESSION_QUEUED)
		return G_QUEUED;
	return G_ENDED;
}

void
view_model_init(struct view *v)
{
	v->sessions = json_object();
	v->board = json_object();
	v->runs = json_object();
	v->expanded = json_object();
	v->grouping = 1;
}

/* Teams' tasks and messages for the rows; a daemon that cannot say keeps
 * the rows as they were. */
static void
board_load(struct view *v)
{
	struct err err = ERR_INIT;
	json_t *r = client_call(&v->req,
	    json_pack("{s:s, s:s}", "cmd", "team", "op", "board"), &err);
	json_t *b = json_object_get(r, "board");

	if (json_is_object(b)) {
		json_decref(v->board);
		v->board = json_incref(b);
	}
	json_decref(r);
	err_release(&err);
	/* and the workflow runs, for their agents' rows */
	r = client_call(&v->req,
	    json_pack("{s:s, s:s}", "cmd", "workflow", "op", "runs"), &err);
	json_t *runs = json_object_get(r, "runs"), *e;
	size_t i;
	if (json_is_array(runs)) {
		json_object_clear(v->runs);
		json_array_foreach(runs, i, e) json_object_set(
		    v->runs, json_string_value(json_object_get(e, "run")), e);
	}
	json_decref(r);
	err_release(&err);
	v->board_stale = 0;
}

void
view_model_free(struct view *v)
{
	json_decref(v->sessions);
	json_decref(v->board);
	v->board = NULL;
	json_decref(v->runs);
	v->runs = NULL;
	json_decref(v->expanded);
	v->expanded = NULL;
	free(v->rows);
	v->rows = NULL;
	v->nrows = v->cap = 0;
}

int
view_model_load(struct view *v, struct err *err)
{
	json_t *reply = client_call(
	    &v->req, json_pack("{s:s, s:b}", "cmd", "ls", "all", 1), err);
	json_t *list, *s;
	size_t i;

	if (reply == NULL)
		return -1;
	list = json_object_get(reply, "sessions");
	json_object_clear(v->sessions);
	json_array_foreach(list, i, s)
	    json_object_set(v->sessions, str(s, "id"), s);
	json_decref(reply);
	v->board_stale = 1;
	view_model_rebuild(v);
	return 0;
}

int
view_model_event(struct view *v, json_t *ev, json_t **note)
{
	const char *name = str(ev, "event");

	*note = NULL;
	if (strncmp(name, "team.", 5) == 0 ||
	    strcmp(name, "workflow.state") == 0) {
		v->board_stale = 1;
		return 1;
	}
	if (strcmp(name, "session.removed") == 0) {
		json_object_del(v->sessions, str(ev, "id"));
		return 1;
	}
	if (strcmp(name, "session.state") != 0)
		return 0;
	json_t *s = json_object_get(ev, "session");
	if (!json_is_object(s))
		return 0;
	json_t *old = json_object_get(v->sessions, str(s, "id"));
	const char *was = old ? str(old, "state") : "";
	const char *now = str(s, "state");
	/* the user hears when a session starts needing them */
	int st = state_from_name(now);
	if (strcmp(was, now) != 0 && st >= 0 && state_table[st].attention)
		*note = s;
	/* and when it starts to clash with another session's work */
	if (json_array_size(json_object_get(s, "conflicts_with")) &&
	    (old == NULL ||
	        !json_equal(json_object_get(old, "conflicts_with"),
	            json_object_get(s, "conflicts_with"))))
		*note = s;
	json_object_set(v->sessions, str(s, "id"), s);
	if (json_is_string(json_object_get(s, "team")) &&
	    json_object_get(v->board, str(s, "id")) == NULL)
		v->board_stale = 1; /* a new member */
	if (json_is_string(json_object_get(s, "workflow")) &&
	    json_object_get(v->runs, str(s, "workflow")) == NULL)
		v->board_stale = 1; /* a new run's agent */
	return 1;
}

static int
contains_ci(const char *hay, const char *needle)
{
	size_t n = strlen(needle);

	for (; *hay; hay++)
		if (strncasecmp(hay, needle, n) == 0)
			return 1;
	return n == 0;
}

/* "s:blocked r:claude a:reviewer words": every term must match. */
static int
filter_match(const char *filter, json_t *s)
{
	char buf[256], *save = NULL, *t;

	snprintf(buf, sizeof buf, "%s", filter);
	for (t = strtok_r(buf, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
		if (strncmp(t, "s:", 2) == 0) {
			if (strcasecmp(str(s, "state"), t + 2) != 0)
				return 0;
		} else if (strncmp(t, "r:", 2) == 0) {
			if (strcasecmp(str(s, "runtime"), t + 2) != 0)
				return 0;
		} else if (strncmp(t, "a:", 2) == 0) {
			/* the agent a claude session runs is in its argv */
			json_t *cmd = json_object_get(s, "command"), *a;
			size_t i;
			int hit = 0;
			json_array_foreach(cmd, i, a)
			{
				if (i > 0 &&
				    strcmp(json_string_value(
				               json_array_get(cmd, i - 1)),
				        "--agent") == 0 &&
				    strcmp(json_string_value(a), t + 2) == 0)
					hit = 1;
			}
			if (!hit)
				return 0;
		} else if (!contains_ci(str(s, "name"), t) &&
		    !contains_ci(str(s, "prompt"), t))
			return 0;
	}
	return 1;
}

static json_t *sort_runs; /* the view's runs, while it sorts */

/* What a row sorts as: a member as its lead, a workflow's agent as its
 * run (so a run's agents stay together in their group), else itself. */
static json_t *
sort_as(const struct vrow *r)
{
	json_t *run = json_object_get(sort_runs, str(r->s, "workflow"));

	return r->lead ? r->lead : run ? run : r->s;
}

static json_int_t
sort_ms(json_t *o)
{
	json_t *u = json_object_get(o, "updated_ms");

	return json_integer_value(u ? u : json_object_get(o, "created_at"));
}

static int
row_cmp(const void *pa, const void *pb)
{
	const struct vrow *a = pa, *b = pb;
	/* members right after their lead, a run's agents together; then
	 * by name */
	json_t *sa = sort_as(a), *sb = sort_as(b);
	json_int_t ua, ub;

	if (a->group != b->group)
		return a->group - b->group;
	if (sa != sb) {
		ua = sort_ms(sa);
		ub = sort_ms(sb);
		if (ua != ub) /* who waits longest first; else the latest */
			return a->group == G_INPUT ? (ua < ub ? -1 : 1)
			                           : (ua > ub ? -1 : 1);
		return strcmp(*str(sa, "id") ? str(sa, "id") : str(sa, "run"),
		    *str(sb, "id") ? str(sb, "id") : str(sb, "run"));
	}
	if ((a->lead != NULL) != (b->lead != NULL))
		return a->lead ? 1 : -1;
	return strcmp(str(a->s, "name"), str(b->s, "name"));
}

void
view_model_rebuild(struct view *v)
{
	const char *id;
	json_t *s;

	if (v->board_stale)
		board_load(v);
	v->nrows = 0;
	memset(v->counts, 0, sizeof v->counts);
	v->pinned_input = 0;
	json_object_foreach(v->sessions, id, s)
	{
		if (v->filter[0] && !filter_match(v->filter, s))
			continue;
		if (v->nrows == v->cap) {
			v->cap = v->cap ? v->cap * 2 : 64;
			v->rows = xrealloc(v->rows, v->cap * sizeof *v->rows);
		}
		struct vrow *r = &v->rows[v->nrows++];
		r->s = s;
		r->child = NULL;
		r->group = view_group_of(s);
		/* a team's member stays with its lead, unless it needs an
		 * answer: then it is with the others that do */
		json_t *lead = json_is_string(json_object_get(s, "team"))
		    ? json_object_get(v->sessions, str(s, "parent"))
		    : NULL;
		r->lead = lead && r->group != G_INPUT &&
		        (!v->filter[0] || filter_match(v->filter, lead))
		    ? lead
		    : NULL;
		if (r->lead)
			r->group = view_group_of(lead);
		v->counts[r->group]++;
		v->pinned_input += r->group == G_PINNED &&
		    state_from_name(str(s, "state")) == SESSION_BLOCKED;
		if (!v->grouping)
			r->group = 0;
	}
	sort_runs = v->runs;
	if (v->nrows > 1)
		qsort(v->rows, v->nrows, sizeof *v->rows, row_cmp);
	sort_runs = NULL;
	if (!v->grouping)
		for (size_t i = 0; i < v->nrows; i++)
			v->rows[i].group = view_group_of(v->rows[i].s);
	view_tree_rows(v);
	/* keep the selection on the same session (or child) when it moves */
	v->sel = v->nrows
	    ? (v->sel < (int)v->nrows ? v->sel : (int)v->nrows - 1)
	    : 0;
	for (size_t i = 0; i < v->nrows; i++)
		if (strcmp(str(v->rows[i].s, "id"), v->sel_id) == 0 &&
		    strcmp(str(v->rows[i].child, "id"), v->sel_child) == 0) {
			v->sel = (int)i;
			break;
		}
	view_select_move(v, 0);
}

json_t *
view_selected(struct view *v)
{
	return v->nrows ? v->rows[v->sel].s : NULL;
}

void
view_select_move(struct view *v, int delta)
{
	int n = (int)v->nrows;

	if (n == 0)
		return;
	v->sel += delta;
	if (v->sel < 0)
		v->sel = 0;
	if (v->sel >= n)
		v->sel = n - 1;
	snprintf(
	    v->sel_id, sizeof v->sel_id, "%s", str(v->rows[v->sel].s, "id"));
	snprintf(v->sel_child, sizeof v->sel_child, "%s",
	    str(v->rows[v->sel].child, "id"));
}

/* Cost of sessions active today (UTC): what the footer shows. */
double
view_cost_today(struct view *v)
{
	char today[32], day[32];
	const char *id;
	json_t *s;
	double sum = 0;

	iso_time(wall_ms(), today, sizeof today);
	json_object_foreach(v->sessions, id, s)
	{
		iso_time(json_integer_value(json_object_get(s, "updated_ms")),
		    day, sizeof day);
		if (strncmp(day, today, 10) == 0)
			sum += json_number_value(json_object_get(
			    json_object_get(s, "usage"), "cost_usd"));
	}
	return sum;
}

/* Split a line into words: spaces separate, '...' and "..." group,
 * backslash escapes. Enough for "new" arguments typed by hand. */
int
view_split_words(char *line, const char **words, int max)
{
	int n = 0;
	char *r = line, *w = line;

	while (*r && n < max - 1) {
		while (*r == ' ')
			r++;
		if (!*r)
			break;
		words[n++] = w;
		char q = 0;
		while (*r && (q || *r != ' ')) {
			if (q && *r == q) {
				q = 0;
				r++;
			} else if (!q && (*r == '\'' || *r == '"')) {
				q = *r++;
			} else if (*r == '\\' && r[1]) {
				*w++ = r[1];
				r += 2;
			} else
				*w++ = *r++;
		}
		if (*r)
			r++;
		*w++ = '\0';
	}
	words[n] = NULL;
	return n;
}
