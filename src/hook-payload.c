/* What the daemon reads out of a runtime's hook payload that is not tied
 * to a session (hook-payload.h); fuzzed by tests/fuzz/fuzz-hook.c. */
#include <stdio.h>
#include <string.h>

#include "hook-payload.h"
#include "util.h"
#include "xmalloc.h"

/* "Bash(rm -rf build)" from a tool name and input. */
char *
hook_tool_label(json_t *payload)
{
	const char *tool =
	    json_string_value(json_object_get(payload, "tool_name"));
	json_t *in = json_object_get(payload, "tool_input");
	const char *arg = NULL;
	char *out;

	if (tool == NULL)
		return NULL;
	static const char *const keys[] = {
	    "command", "file_path", "url", "pattern", "path"};
	for (size_t i = 0; i < nitems(keys) && arg == NULL; i++)
		arg = json_string_value(json_object_get(in, keys[i]));
	if (arg)
		xasprintf(&out, "%s(%.200s)", tool, arg);
	else
		out = xstrdup(tool);
	return out;
}

/* The tools that change files (claude's names; the fake agent uses the
 * same): after one, a worktree may clash with another (session-overlap.c).
 * Bash is among them: it may do anything. */
int
hook_tool_edits(json_t *payload)
{
	static const char *const editing[] = {
	    "Edit", "Write", "MultiEdit", "NotebookEdit", "Bash"};
	const char *t =
	    json_string_value(json_object_get(payload, "tool_name"));

	for (size_t i = 0; t && i < nitems(editing); i++)
		if (strcmp(t, editing[i]) == 0)
			return 1;
	return 0;
}
