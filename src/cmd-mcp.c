/* galley mcp: the MCP stdio server a claude team member is given
 * (--mcp-config): newline-delimited JSON-RPC 2.0 on stdin and stdout, its
 * tools appearing to the model as mcp__galley__<tool>. Each tool is one
 * daemon request as the CLI makes it, from inside the member's session:
 * its GALLEY_SESSION and GALLEY_HOOK_TOKEN say who asks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"

#define MCP_LINE_MAX (1 << 20)

/* A tool: its daemon request (cmd, op), what it says of itself, its
 * arguments' schema, and how arguments map to request fields. */
static const struct mcp_tool {
	const char *name, *cmd, *op, *description, *schema;
	const char *rename[2][2]; /* argument -> request field */
} tools[] = {
    {"team_status", "team", "status",
        "Your team: its members (state, lens, owned files), tasks, messages "
        "waiting and cost.",
        "{\"type\":\"object\",\"properties\":{}}", {{NULL, NULL}}},
    {"task_list", "task", "ls",
        "The team's tasks, with owners and what blocks them.",
        "{\"type\":\"object\",\"properties\":{}}", {{NULL, NULL}}},
    {"task_create", "task", "add",
        "Add a task; blocked_by lists task numbers it waits on.",
        "{\"type\":\"object\",\"properties\":{\"title\":{\"type\":\"string\"},"
        "\"blocked_by\":{\"type\":\"array\",\"items\":{\"type\":\"integer\"}}},"
        "\"required\":[\"title\"]}",
        {{NULL, NULL}}},
    {"task_claim", "task", "claim",
        "Claim a task (the lowest free one without 'task'); each task goes "
        "to one member.",
        "{\"type\":\"object\",\"properties\":{\"task\":{\"type\":\"integer\"}}}",
        {{NULL, NULL}}},
    {"task_update", "task", "update",
        "Set a task's status: pending, in_progress or completed.",
        "{\"type\":\"object\",\"properties\":{\"task\":{\"type\":\"integer\"},"
        "\"status\":{\"type\":\"string\",\"enum\":[\"pending\","
        "\"in_progress\",\"completed\"]}},\"required\":[\"task\",\"status\"]}",
        {{NULL, NULL}}},
    {"send_message", "msg", "send",
        "Message a member by name, 'lead', 'user', or 'team' (everyone "
        "else); it reaches them when they are idle.",
        "{\"type\":\"object\",\"properties\":{\"to\":{\"type\":\"string\"},"
        "\"text\":{\"type\":\"string\"}},\"required\":[\"to\",\"text\"]}",
        {{NULL, NULL}}},
    {"read_messages", "msg", "read", "The messages to and from you.",
        "{\"type\":\"object\",\"properties\":{}}", {{NULL, NULL}}},
    {"request_plan_approval", "team", "plan",
        "Send your plan to the lead; edits are denied until it is approved.",
        "{\"type\":\"object\",\"properties\":{\"plan\":{\"type\":\"string\"}},"
        "\"required\":[\"plan\"]}",
        {{"plan", "text"}, {NULL, NULL}}},
    {"approve_plan", "team", "approve", "(lead) Approve a member's plan.",
        "{\"type\":\"object\",\"properties\":{\"member\":{\"type\":\"string\"},"
        "\"why\":{\"type\":\"string\"}},\"required\":[\"member\"]}",
        {{NULL, NULL}}},
    {"reject_plan", "team", "reject",
        "(lead) Reject a member's plan, saying why.",
        "{\"type\":\"object\",\"properties\":{\"member\":{\"type\":\"string\"},"
        "\"why\":{\"type\":\"string\"}},\"required\":[\"member\",\"why\"]}",
        {{NULL, NULL}}},
};

static void
send_msg(json_t *m)
{
	char *s = json_dumps(m, JSON_COMPACT);

	if (s) {
		fputs(s, stdout);
		fputc('\n', stdout);
		fflush(stdout);
		free(s);
	}
	json_decref(m);
}

static void
reply_error(json_t *id, int code, const char *message)
{
	send_msg(json_pack("{s:s, s:O, s:{s:i, s:s}}", "jsonrpc", "2.0", "id",
	    id, "error", "code", code, "message", message));
}

static json_t *
tools_list(void)
{
	json_t *out = json_array();

	for (size_t i = 0; i < nitems(tools); i++)
		json_array_append_new(out,
		    json_pack("{s:s, s:s, s:o}", "name", tools[i].name,
		        "description", tools[i].description, "inputSchema",
		        json_loads(tools[i].schema, 0, NULL)));
	return out;
}

/* One tool call: the daemon's reply as the tool's text, or its error with
 * isError, which the model reads and can act on. */
static json_t *
tool_call(struct cmd_ctx *ctx, const char *name, json_t *args)
{
	const struct mcp_tool *t = NULL;
	const char *k;
	json_t *v, *req, *reply;

	for (size_t i = 0; i < nitems(tools); i++)
		if (strcmp(tools[i].name, name) == 0)
			t = &tools[i];
	if (t == NULL)
		return NULL;
	req = cmd_team_request(t->cmd, t->op, NULL, NULL);
	json_object_foreach(args, k, v)
	{
		const char *field = k;
		for (int r = 0; r < 2 && t->rename[r][0]; r++)
			if (strcmp(k, t->rename[r][0]) == 0)
				field = t->rename[r][1];
		/* the caller's identity is its environment's, not an argument
		 */
		if (strcmp(field, "session") && strcmp(field, "token") &&
		    strcmp(field, "as") && strcmp(field, "cwd"))
			json_object_set(req, field, v);
	}
	reply = cmd_call(ctx, req);
	if (reply == NULL) {
		json_t *r = json_pack("{s:[{s:s, s:s}], s:b}", "content",
		    "type", "text", "text",
		    ctx->err.msg.len ? ctx->err.msg.data : "failed", "isError",
		    1);
		err_release(&ctx->err);
		client_close(&ctx->cl); /* a new connection for the next */
		return r;
	}
	json_object_del(reply, "id");
	json_object_del(reply, "ok");
	char *text = json_dumps(reply, JSON_COMPACT | JSON_INDENT(0));
	json_t *r = json_pack("{s:[{s:s, s:s}], s:b}", "content", "type",
	    "text", "text", text, "isError", 0);
	free(text);
	json_decref(reply);
	return r;
}

/* The tools are listed: the daemon may type the member's held first
 * prompt now. Outside a team there is nobody to tell; that is no error. */
static void
announce(struct cmd_ctx *ctx)
{
	json_decref(
	    cmd_call(ctx, cmd_team_request("team", "ready", NULL, NULL)));
	err_release(&ctx->err);
	client_close(&ctx->cl);
}

static void
handle(struct cmd_ctx *ctx, json_t *m)
{
	const char *method = json_string_value(json_object_get(m, "method"));
	json_t *id = json_object_get(m, "id");
	json_t *params = json_object_get(m, "params");
	json_t *result = NULL;

	if (method == NULL) /* a response to us, or junk: nothing to say */
		return;
	if (id == NULL) /* a notification (initialized, cancelled) */
		return;
	if (strcmp(method, "initialize") == 0) {
		const char *pv = json_string_value(
		    json_object_get(params, "protocolVersion"));
		result = json_pack("{s:s, s:{s:{}}, s:{s:s, s:s}}",
		    "protocolVersion", pv ? pv : "2025-06-18", "capabilities",
		    "tools", "serverInfo", "name", "galley", "version",
		    GALLEY_VERSION);
	} else if (strcmp(method, "ping") == 0) {
		result = json_object();
	} else if (strcmp(method, "tools/list") == 0) {
		send_msg(json_pack("{s:s, s:O, s:{s:o}}", "jsonrpc", "2.0",
		    "id", id, "result", "tools", tools_list()));
		announce(ctx);
		return;
	} else if (strcmp(method, "tools/call") == 0) {
		const char *name =
		    json_string_value(json_object_get(params, "name"));
		json_t *args = json_object_get(params, "arguments");
		if (name == NULL || (args && !json_is_object(args))) {
			reply_error(id, -32602,
			    "tools/call needs a name and "
			    "object arguments");
			return;
		}
		result = tool_call(ctx, name, args ? args : json_object());
		if (result == NULL) {
			reply_error(id, -32602, "no such tool");
			return;
		}
	} else {
		reply_error(id, -32601, "method not found");
		return;
	}
	send_msg(json_pack(
	    "{s:s, s:O, s:o}", "jsonrpc", "2.0", "id", id, "result", result));
}

static int
mcp_run(struct cmd_ctx *ctx)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	if (ctx->argc != 1)
		return cmd_usage_error(ctx, "takes no arguments");
	while ((n = getline(&line, &cap, stdin)) > 0) {
		json_error_t je;
		if (n > MCP_LINE_MAX)
			continue;
		json_t *m = json_loadb(line, (size_t)n, 0, &je);
		if (m == NULL || !json_is_object(m)) {
			json_decref(m);
			send_msg(json_pack("{s:s, s:n, s:{s:i, s:s}}",
			    "jsonrpc", "2.0", "id", "error", "code", -32700,
			    "message", "parse error"));
			continue;
		}
		handle(ctx, m);
		json_decref(m);
	}
	free(line);
	return 0;
}

const struct cmd_entry cmd_mcp_entry = {
    .name = "mcp",
    .usage = "",
    .summary = "(internal) the MCP stdio server of a team's agents",
    .flags = CMD_INTERNAL | CMD_NOJSON,
    .run = mcp_run,
};
