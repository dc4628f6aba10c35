/* The agent view's tree (issue 19): under a session, the subagents and
 * background tasks running inside it (the session object's "children",
 * session-children.c), shown once the session is expanded: Tab or Right
 * on its row, Left (on it or on a child) folds it again. A child row says
 * what it is, its state, the tool it uses now or its last message, and
 * its cost; peek on it shows its transcript (cmd-view.c). */
#include <curses.h>
#include <stdio.h>
#include <string.h>

#include "view.h"
#include "xmalloc.h"

static const char *
vstr(json_t *o, const char *k)
{
	const char *v = json_string_value(json_object_get(o, k));

	return v ? v : "";
}

void
view_tree_rows(struct view *v)
{
	size_t extra = 0, n = v->nrows;

	for (size_t i = 0; i < n; i++)
		if (json_object_get(v->expanded, vstr(v->rows[i].s, "id")))
			extra += json_array_size(
			    json_object_get(v->rows[i].s, "children"));
	if (extra == 0)
		return;
	struct vrow *rows = xcalloc(n + extra + 1, sizeof *rows);
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		rows[k++] = v->rows[i];
		if (!json_object_get(v->expanded, vstr(v->rows[i].s, "id")))
			continue;
		json_t *c;
		size_t j;
		json_array_foreach(
		    json_object_get(v->rows[i].s, "children"), j, c)
		{
			rows[k] = v->rows[i];
			rows[k].lead = NULL;
			rows[k++].child = c;
		}
	}
	free(v->rows);
	v->rows = rows;
	v->nrows = k;
	v->cap = n + extra + 1;
}

json_t *
view_selected_child(struct view *v)
{
	return v->nrows ? v->rows[v->sel].child : NULL;
}

int
view_tree_key(struct view *v, int c)
{
	if (v->nrows == 0 || (c != '\t' && c != KEY_RIGHT && c != KEY_LEFT))
		return 0;
	json_t *s = v->rows[v->sel].s;
	const char *id = vstr(s, "id");
	size_t n = json_array_size(json_object_get(s, "children"));

	if (c == KEY_LEFT) {
		json_object_del(v->expanded, id);
		v->sel_child[0] = '\0'; /* back on the session's row */
	} else if (n == 0) {
		snprintf(v->status, sizeof v->status,
		    "%s runs no subagent or background task", vstr(s, "name"));
		return 1;
	} else if (c == '\t' && json_object_get(v->expanded, id) &&
	    v->rows[v->sel].child == NULL) {
		json_object_del(v->expanded, id); /* Tab toggles */
	} else
		json_object_set_new(v->expanded, id, json_true());
	view_model_rebuild(v);
	return 1;
}

void
view_tree_draw_row(struct view *v, int y, json_t *c, int selected)
{
	const char *kind = vstr(c, "kind"), *st = vstr(c, "state");
	int task = strcmp(kind, "task") == 0;
	char line[1024];
	double cost = json_number_value(
	    json_object_get(json_object_get(c, "usage"), "cost_usd"));
	const char *now = strcmp(st, "running") == 0 ? vstr(c, "tool")
	                                             : vstr(c, "last_message");

	snprintf(line, sizeof line, "%s   \u2514 %-10.10s %-20.20s %-8s %s",
	    selected ? ">" : " ", task ? "task" : vstr(c, "type"),
	    task ? vstr(c, "command") : vstr(c, "id"), st,
	    task ? vstr(c, "task_id") : now);
	if (selected)
		attron(A_REVERSE);
	mvaddnstr(y, 0, line, COLS);
	int used = (int)strlen(line) < COLS ? (int)strlen(line) : COLS;
	for (int x = used; x < COLS; x++)
		mvaddch(y, x, ' ');
	if (cost > 0 && COLS > 12) {
		char money[16];
		snprintf(money, sizeof money, "$%.2f", cost);
		mvaddstr(y, COLS - (int)strlen(money) - 1, money);
	}
	if (selected)
		attroff(A_REVERSE);
	(void)v;
}
