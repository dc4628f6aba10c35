/* galley logs ID --agent AGENT: a subagent's transcript as readable text
 * (who said what, the tools it called and what they gave back), from the
 * file claude keeps for it: the path SubagentStop gave, else where claude
 * puts it beside the session's own transcript
 * (<transcript without .jsonl>/subagents/agent-<id>.jsonl). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd-logs-agent.h"
#include "cmd.h"
#include "xmalloc.h"

static json_t *
find_agent(json_t *s, const char *want)
{
	json_t *c, *hit = NULL;
	size_t i, n = strlen(want);

	json_array_foreach(json_object_get(s, "children"), i, c)
	{
		const char *id = session_str(c, "id");
		if (strcmp(session_str(c, "kind"), "subagent") != 0)
			continue;
		if (strcmp(id, want) == 0)
			return c;
		if (strncmp(id, want, n) == 0)
			hit = hit ? (json_t *)-1 : c; /* a prefix, if unique */
	}
	return hit == (json_t *)-1 ? NULL : hit;
}

static char *
agent_path(json_t *s, json_t *c)
{
	const char *tp = session_str(c, "transcript_path");
	const char *main = session_str(s, "transcript_path");
	size_t n = strlen(main);
	char *p;

	if (*tp)
		return xstrdup(tp);
	if (n < 7 || strcmp(main + n - 6, ".jsonl") != 0)
		return NULL;
	xasprintf(&p, "%.*s/subagents/agent-%s.jsonl", (int)(n - 6), main,
	    session_str(c, "id"));
	return p;
}

/* One content block as a line. */
static void
print_block(const char *role, json_t *b)
{
	const char *type = session_str(b, "type");

	if (strcmp(type, "text") == 0)
		printf("%s: %s\n", role, session_str(b, "text"));
	else if (strcmp(type, "tool_use") == 0) {
		char *in =
		    json_dumps(json_object_get(b, "input"), JSON_COMPACT);
		printf(
		    "  -> %s %.300s\n", session_str(b, "name"), in ? in : "");
		free(in);
	} else if (strcmp(type, "tool_result") == 0) {
		json_t *ct = json_object_get(b, "content");
		const char *t = json_is_string(ct)
		    ? json_string_value(ct)
		    : session_str(json_array_get(ct, 0), "text");
		printf("  <- %.*s\n", (int)strcspn(t, "\n"), t);
	}
}

int
logs_agent(struct cmd_ctx *ctx, json_t *s, const char *want)
{
	json_t *c = find_agent(s, want), *list = json_array();
	char *path, *line = NULL;
	size_t cap = 0;
	FILE *f;

	if (c == NULL) {
		json_decref(list);
		err_set(&ctx->err, ERR_NOT_FOUND,
		    "session '%s' has no subagent '%.64s' (see ls --tree)",
		    session_str(s, "name"), want);
		return cmd_fail(ctx);
	}
	path = agent_path(s, c);
	if (path == NULL || (f = fopen(path, "re")) == NULL) {
		err_set(&ctx->err, ERR_NOT_FOUND,
		    "no transcript for subagent %s%s%s", session_str(c, "id"),
		    path ? " at " : "", path ? path : "");
		free(path);
		json_decref(list);
		return cmd_fail(ctx);
	}
	while (getline(&line, &cap, f) > 0) {
		json_t *e = json_loads(line, 0, NULL), *b;
		json_t *m = json_object_get(e, "message");
		json_t *ct = json_object_get(m, "content");
		const char *type = session_str(e, "type");
		size_t i;
		if (strcmp(type, "user") != 0 &&
		    strcmp(type, "assistant") != 0) {
			json_decref(e);
			continue;
		}
		if (ctx->json)
			json_array_append(list, e);
		else if (json_is_string(ct))
			printf("%s: %s\n", type, json_string_value(ct));
		else
			json_array_foreach(ct, i, b) print_block(type, b);
		json_decref(e);
	}
	fclose(f);
	free(line);
	if (ctx->json) {
		json_t *o = json_pack("{s:s, s:s, s:O, s:o}", "session",
		    session_str(s, "id"), "agent", session_str(c, "id"), "node",
		    c, "entries", list);
		cmd_print_json(o);
		json_decref(o);
	} else {
		if (*session_str(c, "last_message"))
			printf("[%s %s: %s]\n", session_str(c, "type"),
			    session_str(c, "state"),
			    session_str(c, "last_message"));
		json_decref(list);
	}
	free(path);
	return 0;
}
