/*
 * `ls --tree`, the daemon's half: the tree is assembled here as text from
 * each session's cached JSON (session_json_text), as the flat list is,
 * because parsing and re-printing thousands of sessions with their
 * subagents in the CLI cost more than everything else (bench/tree.py).
 *
 * Under a session: its own subagents and background tasks (the cached
 * object ends with them, "children":[...]), then the sessions it started
 * (its team members, jobs: their "parent"); a workflow's agents without a
 * parent go under a node for their run ("kind":"workflow"), after the
 * sessions, and there under a node for the phase their call was made in
 * ("kind":"phase"). Every session and run node gets "total_cost_usd": its own
 * cost and its sessions' (its subagents' are in its own already).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd-ls-tree.h"
#include "session.h"
#include "workflow.h"
#include "xmalloc.h"

struct tnode {
	struct session *s; /* NULL for a run or a phase */
	json_t *run;       /* a run's row */
	char *phase;       /* a phase of a run: its name */
	size_t *kids, nkids;
	double total;
	int done; /* total worked out */
	int root; /* at the top of the tree */
};

/* How far up a chain of parents goes, or -1 if it loops or runs long. */
static int
depth(json_t *index, struct tnode *t, size_t i)
{
	for (int d = 0; d < 32; d++) {
		struct session *s = t[i].s;
		json_t *up =
		    s && s->parent ? json_object_get(index, s->parent) : NULL;
		if (up == NULL)
			return d;
		i = (size_t)json_integer_value(up);
	}
	return -1;
}

static void
add_kid(struct tnode *p, size_t k)
{
	p->kids = xrealloc(p->kids, (p->nkids + 1) * sizeof *p->kids);
	p->kids[p->nkids++] = k;
}

static double
total(struct tnode *t, size_t i, int guard)
{
	if (t[i].done || guard > 64)
		return t[i].total;
	double sum = t[i].s ? t[i].s->usage.cost : 0;
	for (size_t k = 0; k < t[i].nkids; k++)
		sum += total(t, t[i].kids[k], guard + 1);
	t[i].total = sum;
	t[i].done = 1;
	return sum;
}

static void emit(struct buf *b, struct tnode *t, size_t i);

static void
emit_kids(struct buf *b, struct tnode *t, size_t i, int first)
{
	for (size_t k = 0; k < t[i].nkids; k++) {
		if (!first)
			buf_addc(b, ',');
		emit(b, t, t[i].kids[k]);
		first = 0;
	}
}

static void
emit(struct buf *b, struct tnode *t, size_t i)
{
	size_t len;

	if (t[i].phase || t[i].s == NULL) { /* a phase or a run */
		json_t *r = t[i].run,
		       *head = t[i].phase
		    ? json_pack("{s:s, s:s, s:s, s:s}", "id", t[i].phase,
		          "name", strchr(t[i].phase, '/') + 1, "kind", "phase",
		          "runtime", "phase")
		    : json_pack("{s:s, s:s, s:s, s:s, s:s, s:O?}", "id",
		          json_string_value(json_object_get(r, "run")), "name",
		          json_string_value(json_object_get(r, "name")),
		          "state",
		          json_string_value(json_object_get(r, "state")),
		          "runtime", "workflow", "kind", "workflow", "phase",
		          json_object_get(r, "phase"));
		char *head_text = json_dumps(head, JSON_COMPACT);
		json_decref(head);
		buf_add(b, head_text, strlen(head_text) - 1);
		free(head_text);
		buf_adds(b, ",\"children\":[");
		emit_kids(b, t, i, 1);
		buf_addf(b, "],\"total_cost_usd\":%.17g}", t[i].total);
		return;
	}
	const char *text = session_json_text(t[i].s, &len);
	int own = json_object_size(t[i].s->children) > 0;
	/* its own children are its object's last key: "children":[...]} */
	if (own && len > 2 && text[len - 1] == '}' && text[len - 2] == ']') {
		buf_add(b, text, len - 2);
		emit_kids(b, t, i, 0);
	} else {
		buf_add(b, text, len - 1);
		buf_adds(b, ",\"children\":[");
		emit_kids(b, t, i, 1);
	}
	buf_addf(b, "],\"total_cost_usd\":%.17g}", t[i].total);
}

/* Where a run's agent goes: under a node for the phase its call was made
 * in (made on first use, keyed "RUN/PHASE" in runat), else the run. */
static size_t
under_phase(struct tnode **tp, size_t *nt, size_t *cap, json_t *runat,
    json_t **phases, size_t run, struct session *s)
{
	struct tnode *t = *tp;
	char key[200];

	if (*phases == NULL)
		*phases = workflow_agent_phases();
	const char *ph = json_string_value(json_object_get(*phases, s->id));
	if (ph == NULL)
		return run;
	snprintf(key, sizeof key, "%s/%s", s->workflow, ph);
	json_t *at = json_object_get(runat, key);
	if (at)
		return (size_t)json_integer_value(at);
	if (*nt == *cap)
		*tp = t = xrealloc(t, (*cap *= 2) * sizeof *t);
	memset(&t[*nt], 0, sizeof t[*nt]);
	t[*nt].phase = xstrdup(key);
	add_kid(&t[run], *nt);
	json_object_set_new(runat, key, json_integer((json_int_t)*nt));
	return (*nt)++;
}

void
ls_tree_text(struct buf *b, struct session **list, size_t n)
{
	json_t *index = json_object(), *runs = NULL, *runat = json_object();
	json_t *phases = NULL;
	struct tnode *t = xcalloc(n + 1, sizeof *t);
	size_t nt = n, cap = n + 1;
	int first = 1;

	for (size_t i = 0; i < n; i++) {
		t[i].s = list[i];
		json_object_set_new(index, list[i]->id, json_integer((int)i));
	}
	for (size_t i = 0; i < n; i++) {
		struct session *s = list[i];
		json_t *up =
		    s->parent ? json_object_get(index, s->parent) : NULL;
		if (up && (size_t)json_integer_value(up) != i &&
		    depth(index, t, i) > 0) {
			add_kid(&t[json_integer_value(up)], i);
			continue;
		}
		if (up == NULL && s->workflow) { /* under its run */
			json_t *at = json_object_get(runat, s->workflow);
			if (at == NULL) {
				json_t *r, *row = NULL;
				size_t k;
				if (runs == NULL)
					runs = workflow_runs_json();
				json_array_foreach(runs, k, r) if (
				    strcmp(json_string_value(
				               json_object_get(r, "run")),
				        s->workflow) == 0) row = r;
				if (row == NULL)
					goto root; /* its run is gone */
				if (nt == cap)
					t = xrealloc(t, (cap *= 2) * sizeof *t);
				memset(&t[nt], 0, sizeof t[nt]);
				t[nt].run = row;
				t[nt].root = 1;
				at = json_integer((int)nt++);
				json_object_set_new(runat, s->workflow, at);
			}
			size_t up_at = under_phase(&t, &nt, &cap, runat,
			    &phases, (size_t)json_integer_value(at), s);
			add_kid(&t[up_at], i);
			continue;
		}
	root:
		t[i].root = 1;
	}
	for (size_t i = 0; i < nt; i++) {
		if (!t[i].root)
			continue;
		total(t, i, 0);
		buf_adds(b, first ? "\n" : ",\n");
		emit(b, t, i);
		first = 0;
	}
	for (size_t i = 0; i < nt; i++) {
		free(t[i].kids);
		free(t[i].phase);
	}
	free(t);
	json_decref(phases);
	json_decref(index);
	json_decref(runat);
	json_decref(runs);
}
