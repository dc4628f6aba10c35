/* What session.c shows of a session's children (session-children.c keeps
 * them): counts, the orphaned-work line, the list. Apart from the hook
 * handling so that session.c calls nothing that calls back into the
 * session core. */
#include <stdio.h>
#include <string.h>

#include "session-children.h"
#include "session.h"

int
session_children_running(struct session *s)
{
	const char *k;
	json_t *c;
	int n = 0;

	json_object_foreach(s->children, k, c)
	{
		const char *st = json_string_value(json_object_get(c, "state"));
		n += st && strcmp(st, "running") == 0;
	}
	return n;
}

/* Work left running while its session waits or ended: what the user
 * should hear about ("2 background tasks still running"). */
int
session_children_orphaned(struct session *s)
{
	if (s->children == NULL || state_table[s->state].active ||
	    s->state == SESSION_QUEUED)
		return 0;
	return session_children_running(s);
}

/* "2 background tasks still running", "1 subagent and 1 background
 * task still running"; "" when nothing is orphaned. */
void
session_children_orphan_text(struct session *s, char *out, size_t size)
{
	int sub = 0, task = 0;
	const char *k;
	json_t *c;

	out[0] = '\0';
	if (session_children_orphaned(s) == 0)
		return;
	json_object_foreach(s->children, k, c)
	{
		const char *st = json_string_value(json_object_get(c, "state"));
		const char *kind =
		    json_string_value(json_object_get(c, "kind"));
		if (st && strcmp(st, "running") == 0 && kind)
			*(strcmp(kind, "task") == 0 ? &task : &sub) += 1;
	}
	char a[48] = "", b[48] = "";
	if (sub)
		snprintf(
		    a, sizeof a, "%d subagent%s", sub, sub == 1 ? "" : "s");
	if (task)
		snprintf(b, sizeof b, "%d background task%s", task,
		    task == 1 ? "" : "s");
	snprintf(out, size, "%s%s%s still running", a,
	    sub && task ? " and " : "", b);
}

/* The children as a list for the session's JSON, oldest first. */
json_t *
session_children_json(struct session *s)
{
	json_t *list = json_array(), *c;
	const char *k;

	json_object_foreach(s->children, k, c) json_array_append(list, c);
	return list;
}
