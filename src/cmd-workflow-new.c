/* galley workflow new: a workflow written by an agent (issue 16), checked
 * by a dry run, shown and saved once approved. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "cmd-workflow.h"
#include "cmd.h"
#include "names.h"
#include "util.h"
#include "xmalloc.h"

/* What the agent that writes a workflow is told. */
static const char writer_prompt[] =
    "Write a galley workflow: a Lua 5.4 script. Reply with the script "
    "only, no prose, no code fences. It sets meta = {name = ..., "
    "description = ..., phases = {...}} and defines function run(args), "
    "which may call: agent(prompt, opts) -> the agent's final text, or "
    "with opts.schema (JSON Schema: type, properties, required, items, "
    "enum) a table; opts: label, schema, model, tools (a list), timeout "
    "(s). parallel{f1, f2, ...} -> their results in order. pipeline(items, "
    "stage1, stage2...). phase(name). log(text). sh(cmd) -> its output. "
    "workflow(name, args). budget{usd=, tokens=, agents=}. args holds "
    "--arg values (args._ the loose words). There is no os, io, require, "
    "load, clock or randomness. Keep agents' prompts self-contained; give "
    "read-only work tools = {\"Read\", \"Grep\", \"Glob\"}. The task: ";

/* The script in an agent's answer: inside ``` fences if it used them. */
static void
strip_fences(const char *text, struct buf *out)
{
	const char *open = strstr(text, "```");

	if (open) {
		const char *body = strchr(open, '\n');
		const char *close = body ? strstr(body + 1, "```") : NULL;
		if (body && close) {
			buf_add(out, body + 1, (size_t)(close - body - 1));
			buf_addc(out, '\0');
			return;
		}
	}
	buf_adds(out, text);
	buf_addc(out, '\0');
}

/* The writer's answer: a headless agent given the task (the fake
 * runtime's prompt is its script, so the description itself), waited
 * for. NULL with ctx->err set. */
static json_t *
write_script(struct cmd_ctx *ctx, const char *cwd, const char *what,
    const char *name, const char *runtime)
{
	json_t *sub, *r, *ev = NULL, *s = NULL;
	json_t *req = cmd_new_request(ctx, cwd);
	const char *rt = runtime ? runtime : "claude";

	json_object_set_new(req, "runtime", json_string(rt));
	json_object_set_new(req, "headless", json_true());
	json_object_set_new(req, "name", json_sprintf("write-%s", name));
	json_object_set_new(req, "prompt",
	    strcmp(rt, "fake") == 0
	        ? json_string(what)
	        : json_sprintf("%s%s", writer_prompt, what));
	if ((sub = cmd_call(ctx, json_pack("{s:s}", "cmd", "subscribe"))) ==
	    NULL) {
		json_decref(req);
		return NULL;
	}
	json_decref(sub);
	if ((r = cmd_call(ctx, req)) == NULL)
		return NULL;
	char sid[16];
	snprintf(sid, sizeof sid, "%s",
	    session_str(json_object_get(r, "session"), "id"));
	json_decref(r);
	if (isatty(2))
		fprintf(stderr,
		    "an agent writes the workflow (session %s)...\n", sid);
	while (s == NULL) { /* until the writer ends */
		if (client_event(&ctx->cl, &ev, -1, &ctx->err) < 0)
			return NULL;
		json_t *es = json_object_get(ev, "session");
		if (ev && strcmp(session_str(es, "id"), sid) == 0 &&
		    state_is_terminal(session_str(es, "state")))
			s = json_incref(es);
		json_decref(ev);
		ev = NULL;
	}
	const char *text = json_string_value(
	    json_object_get(json_object_get(s, "result"), "result"));
	if (strcmp(session_str(s, "state"), "done") || text == NULL) {
		err_set(&ctx->err, ERR_FAILED,
		    "the agent that writes it ended %s without a script: galley "
		    "logs %s",
		    session_str(s, "state"), sid);
		json_decref(s);
		return NULL;
	}
	return s;
}

/* Shown, then saved once approved (y on a terminal, or --yes). */
static int
approve_and_save(struct cmd_ctx *ctx, const char *cwd, const char *name,
    const char *script, int yes, int personal)
{
	char *d[2], *path;
	int rc = -1;

	printf("%s\n", script);
	wf_dirs(cwd, d);
	xasprintf(&path, "%s/%s.lua", d[personal], name);
	if (!yes && isatty(0)) {
		char line[16] = "";
		fprintf(stderr, "dry run passed; save as %s? [y/N] ", path);
		yes = fgets(line, sizeof line, stdin) &&
		    (line[0] == 'y' || line[0] == 'Y');
	}
	if (!yes)
		err_set(&ctx->err, ERR_REFUSED,
		    "not saved: approve it with --yes (or answer y)");
	else if (mkdir_p(d[personal], 0755, &ctx->err) == 0 &&
	    write_file_replace(
	        path, script, strlen(script), 0644, 0, &ctx->err) == 0) {
		fprintf(
		    stderr, "saved %s: galley workflow run %s\n", path, name);
		rc = 0;
	}
	free(path);
	free(d[0]);
	free(d[1]);
	return rc;
}

/* A workflow written by an agent, checked by a dry run (every agent()
 * answers a stub that fits its schema), shown, and saved once approved. */
int
wf_new(struct cmd_ctx *ctx, const char *what, const char *name,
    const char *runtime, int yes, int personal)
{
	char cwd[4096], *auto_name = NULL;
	struct buf script = BUF_INIT;
	json_t *s = NULL, *r = NULL;
	int rc = -1;

	if (getcwd(cwd, sizeof cwd) == NULL)
		return cmd_usage_error(
		    ctx, "cannot read the current directory");
	if (name == NULL)
		name = auto_name = name_from_text(what, 32);
	if (name_check(name, "workflow", &ctx->err) < 0 ||
	    (s = write_script(ctx, cwd, what, name, runtime)) == NULL)
		goto out;
	strip_fences(json_string_value(json_object_get(
	                 json_object_get(s, "result"), "result")),
	    &script);
	r = cmd_call(ctx,
	    json_pack("{s:s, s:s, s:s, s:s, s:s}", "cmd", "workflow", "op",
	        "dry", "name", name, "script", script.data, "cwd", cwd));
	if (r == NULL)
		goto out;
	json_t *dry = json_object_get(r, "dry");
	if (strcmp(session_str(dry, "state"), "done") != 0) {
		printf("%s\n", script.data);
		err_set(&ctx->err, ERR_FAILED,
		    "the dry run failed, so it is not saved: %s",
		    session_str(dry, "error"));
		goto out;
	}
	rc = approve_and_save(ctx, cwd, name, script.data, yes, personal);
out:
	json_decref(r);
	json_decref(s);
	buf_release(&script);
	free(auto_name);
	return rc == 0 ? 0 : cmd_fail(ctx);
}
