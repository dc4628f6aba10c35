/* The agent view's side of workflows (issue 16): a workflow agent's row
 * names its run and phase, and p (pause/resume), x (stop), r (restart the
 * agent) and s (save the script) act on its run. cmd-view.c's actions
 * come in as pointers, so this file calls nothing of it. */
#include <stdio.h>
#include <string.h>

#include "view.h"

static const char *
vstr(json_t *o, const char *k)
{
	const char *v = json_string_value(json_object_get(o, k));

	return v ? v : "";
}

void
view_workflow_tag(struct view *v, json_t *s, char *out, size_t size)
{
	json_t *run = json_object_get(v->runs, vstr(s, "workflow"));

	long long done = json_integer_value(json_object_get(run, "phase_done"));
	long long total =
	    json_integer_value(json_object_get(run, "phase_total"));
	char progress[48] = "";

	out[0] = '\0';
	if (run == NULL)
		return;
	if (total > 0) /* the current phase's calls ended of made */
		snprintf(progress, sizeof progress, " %lld/%lld", done, total);
	snprintf(out, size, "[%s%s%s%s%s%s] ", vstr(run, "name"),
	    *vstr(run, "phase") ? ": " : "", vstr(run, "phase"), progress,
	    strcmp(vstr(run, "state"), "running") ? ", " : "",
	    strcmp(vstr(run, "state"), "running") ? vstr(run, "state") : "");
}

int
view_workflow_key(
    struct view *v, json_t *s, int c, const struct view_actions *a)
{
	const char *run = vstr(s, "workflow");
	json_t *r = json_object_get(v->runs, run);

	if (c != 'p' && c != 'x' && c != 's' && (c != 'r' || !*run))
		return 0;
	if (!*run) {
		a->status(v,
		    "%s is no workflow's agent: p, x and s act on runs",
		    vstr(s, "name"));
		return 1;
	}
	if (c == 'p') {
		int paused = strcmp(vstr(r, "state"), "paused") == 0;
		if (a->galley(v,
		        (const char *[]){"workflow",
		            paused ? "resume" : "pause", run, NULL}) == 0)
			a->status(v, "run %s %s", run,
			    paused ? "goes on" : "paused: no new agent starts");
	} else if (c == 'x') {
		if (a->galley(v,
		        (const char *[]){"workflow", "stop", run, NULL}) == 0)
			a->status(v, "run %s stopped; its journal stays", run);
	} else if (c == 'r') {
		if (a->galley(v,
		        (const char *[]){"workflow", "restart-agent", run,
		            vstr(s, "id"), NULL}) == 0)
			a->status(
			    v, "%s restarts in a new session", vstr(s, "name"));
	} else
		a->ask(v, 'w', "save the run's script as> ");
	return 1;
}

void
view_workflow_save(
    struct view *v, json_t *s, const char *name, const struct view_actions *a)
{
	const char *run = vstr(s, "workflow");

	if (*run && *name &&
	    a->galley(
	        v, (const char *[]){"workflow", "save", run, name, NULL}) == 0)
		a->status(v, "saved: galley workflow run %s", name);
}
