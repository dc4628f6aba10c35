/* A batch as the user sees it (cmd-batch.h): one object made from its
 * run's status (the units the script reported with progress(), the
 * overlaps the daemon found between their worktrees, the cost), drawn as
 * a table, a summary, or a line per change in a pipe. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd-batch.h"
#include "cmd.h"
#include "xmalloc.h"

static const char *
str(json_t *o, const char *k)
{
	const char *v = json_string_value(json_object_get(o, k));
	return v ? v : "";
}

/* unit-N's number, or 0 */
static int
unit_of_label(const char *label)
{
	return strncmp(label, "unit-", 5) == 0 ? atoi(label + 5) : 0;
}

/* The other units each unit's worktree overlaps, from the sessions'
 * conflicts_with (names), mapped back to unit numbers. */
static void
add_overlaps(json_t *units, json_t *agents)
{
	json_t *a, *b, *w;
	size_t i, j, k;

	json_array_foreach(agents, i, a)
	{
		int n = unit_of_label(str(a, "label"));
		json_t *u = json_array_get(units, (size_t)n - 1);
		if (n <= 0 || u == NULL)
			continue;
		json_object_set(u, "session", json_object_get(a, "session"));
		json_t *with = json_array();
		json_array_foreach(json_object_get(a, "conflicts_with"), j, w)
		{
			int other = 0;
			json_array_foreach(
			    agents, k, b) if (*str(b, "session_name") &&
			    strcmp(str(b, "session_name"),
			        json_string_value(w)) == 0) other =
			    unit_of_label(str(b, "label"));
			if (other > 0 && other != n)
				json_array_append_new(
				    with, json_integer(other));
			else if (json_is_string(w) &&
			    strcmp(json_string_value(w), "base") == 0)
				json_array_append_new(
				    with, json_string("base"));
		}
		json_object_set_new(u, "overlap", with);
	}
}

json_t *
batch_from_status(json_t *st)
{
	json_t *args = json_object_get(st, "args");
	json_t *src = json_object_get(st, "progress"), *u;
	const char *state = str(st, "state");
	size_t i;
	int done = 0, failed = 0;

	if (!json_is_array(json_object_get(src, "units")))
		src = json_object_get(st, "result");
	json_t *units = json_deep_copy(json_object_get(src, "units"));
	if (!json_is_array(units)) {
		json_decref(units);
		units = json_array();
	}
	add_overlaps(units, json_object_get(st, "agents"));
	int over = strcmp(state, "running") && strcmp(state, "paused");
	json_array_foreach(units, i, u)
	{
		const char *s = str(u, "status");
		if (over && strcmp(s, "done") && strcmp(s, "failed"))
			json_object_set_new(
			    u, "status", json_string("stopped"));
		done += strcmp(s, "done") == 0;
		failed +=
		    over ? strcmp(s, "done") != 0 : strcmp(s, "failed") == 0;
	}
	return json_pack("{s:s, s:s, s:s, s:s, s:s?, s:o, s:i, s:i, s:O?, "
	                 "s:I, s:I}",
	    "batch", str(st, "run"), "state", state, "base", str(args, "base"),
	    "base_ref", str(args, "base_ref"), "error",
	    json_string_value(json_object_get(st, "error")), "units", units,
	    "done", done, "failed", failed, "cost_usd",
	    json_object_get(json_object_get(st, "usage"), "cost_usd"),
	    "approved_at", (json_int_t)atoll(str(args, "approved_at")),
	    "worktrees_ms", (json_int_t)atoll(str(args, "worktrees_ms")));
}

/* "done", or "working (overlaps 3, base)" */
static void
status_cell(json_t *u, char *out, size_t size)
{
	json_t *w;
	size_t i;
	int n = snprintf(out, size, "%s", str(u, "status"));

	json_array_foreach(json_object_get(u, "overlap"), i, w)
	{
		char one[16];
		if (json_is_integer(w))
			snprintf(
			    one, sizeof one, "%lld", json_integer_value(w));
		else
			snprintf(one, sizeof one, "%s", json_string_value(w));
		if (n > 0 && (size_t)n < size)
			n += snprintf(out + n, size - (size_t)n, "%s%s",
			    i ? ", " : " (overlaps ", one);
	}
	if (i && n > 0 && (size_t)n < size)
		snprintf(out + n, size - (size_t)n, ")");
}

static const char *
where_cell(json_t *u)
{
	if (*str(u, "pr"))
		return str(u, "pr");
	return str(u, "branch");
}

void
batch_table(json_t *batch, FILE *to, int *lines)
{
	json_t *u;
	size_t i;
	int tw = 4;

	json_array_foreach(json_object_get(batch, "units"), i, u)
	{
		int w = (int)strlen(str(u, "title"));
		tw = w > tw ? w : tw;
	}
	tw = tw > 40 ? 40 : tw;
	fprintf(to, "| # | %-*s | %-22s | Tests | PR or branch\n", tw, "Unit",
	    "Status");
	*lines = 1;
	json_array_foreach(json_object_get(batch, "units"), i, u)
	{
		char status[64];
		status_cell(u, status, sizeof status);
		fprintf(to, "| %zu | %-*.*s | %-22s | %-5s | %s\n", i + 1, tw,
		    tw, str(u, "title"), status, str(u, "tests"),
		    where_cell(u));
		(*lines)++;
	}
}

void
batch_summary(json_t *batch, FILE *to)
{
	json_t *u;
	size_t i;

	fprintf(to, "batch %s %s: %lld done, %lld failed, cost $%.2f\n",
	    str(batch, "batch"), str(batch, "state"),
	    json_integer_value(json_object_get(batch, "done")),
	    json_integer_value(json_object_get(batch, "failed")),
	    json_number_value(json_object_get(batch, "cost_usd")));
	if (*str(batch, "error"))
		fprintf(to, "  error: %s\n", str(batch, "error"));
	json_array_foreach(json_object_get(batch, "units"), i, u)
	{
		const char *s = str(u, "status");
		if (strcmp(s, "failed") == 0 || strcmp(s, "stopped") == 0)
			fprintf(to, "  unit %zu %s: %s\n", i + 1, s,
			    *str(u, "error") ? str(u, "error")
			                     : "the batch stopped first");
		else if (strcmp(s, "done") != 0)
			fprintf(to, "  unit %zu: %s\n", i + 1, s);
		else if (*str(u, "pr"))
			fprintf(to, "  unit %zu: PR %s\n", i + 1, str(u, "pr"));
		else if (*str(u, "pr_command"))
			fprintf(to,
			    "  unit %zu: pushed %s; open its PR with: %s\n",
			    i + 1, str(u, "branch"), str(u, "pr_command"));
		else
			fprintf(to, "  unit %zu: branch %s%s\n", i + 1,
			    str(u, "branch"),
			    json_is_true(json_object_get(u, "pushed"))
			        ? " (pushed)"
			        : " (local: no remote)");
	}
}

void
batch_changes(json_t *was, json_t *now, FILE *to)
{
	json_t *u;
	size_t i;

	json_array_foreach(json_object_get(now, "units"), i, u)
	{
		json_t *old = json_array_get(json_object_get(was, "units"), i);
		if (old && strcmp(str(old, "status"), str(u, "status")) == 0)
			continue;
		int failed = strcmp(str(u, "status"), "failed") == 0;
		const char *more = failed ? str(u, "error") : where_cell(u);
		fprintf(to, "unit %zu (%s): %s%s%s\n", i + 1, str(u, "title"),
		    str(u, "status"), *more ? ": " : "", more);
	}
	fflush(to);
}
