/*
 * claude: the real Claude Code CLI under the session's PTY (DESIGN §6).
 * State comes from its hooks: galley adds them with --settings, a layer
 * claude merges over the user's own settings (never replacing them), and
 * each runs `galley hook EVENT`. The conversation id is chosen here
 * (--session-id), so restart can --resume it. Headless (-p) sessions
 * stream JSON lines into the log; their result line is kept at exit.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "claude-config.h"
#include "proto.h"
#include "settings.h"
#include "runtime.h"
#include "spec.h"
#include "util.h"
#include "xmalloc.h"

static const char *const hook_events[] = {"SessionStart", "UserPromptSubmit",
    "PreToolUse", "PostToolUse", "PermissionRequest", "Notification", "Stop",
    "StopFailure", "SubagentStart", "SubagentStop", "SessionEnd"};

static char *
settings_json(int skip_bypass_prompt)
{
	json_t *hooks = json_object(), *o;
	struct buf cmd = BUF_INIT;
	char *text;

	for (size_t i = 0; i < sizeof hook_events / sizeof hook_events[0];
	     i++) {
		buf_reset(&cmd);
		buf_add_sh_quoted(&cmd, self_exe());
		buf_addf(&cmd, " hook %s", hook_events[i]);
		json_object_set_new(hooks, hook_events[i],
		    json_pack("[{s:s, s:[{s:s, s:s%}]}]", "matcher", "*",
		        "hooks", "type", "command", "command", cmd.data,
		        cmd.len));
	}
	o = json_pack("{s:o}", "hooks", hooks);
	if (skip_bypass_prompt)
		json_object_set_new(
		    o, "skipDangerousModePermissionPrompt", json_true());
	text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	buf_release(&cmd);
	return text;
}

/* The claude binary: claude.path, or `claude` on the session's PATH. */
static char *
find_claude(const struct session_spec *sp, struct err *err)
{
	const char *path = sp->claude_path, *dirs;
	struct stat st;
	char *p;

	if (path != NULL) {
		if (stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
		    access(path, X_OK) == 0)
			return xstrdup(path);
		err_set(err, ERR_FAILED,
		    "claude.path '%s' is not an executable file: fix the "
		    "setting (galley config set claude.path PATH)",
		    path);
		return NULL;
	}
	dirs = spec_env(sp, "PATH");
	if (dirs == NULL)
		dirs = "/usr/local/bin:/usr/bin:/bin";
	if ((p = path_search(dirs, "claude")) != NULL)
		return p;
	err_set(err, ERR_FAILED,
	    "claude is not on PATH: install it (npm install -g "
	    "@anthropic-ai/claude-code), set claude.path, or use --runtime "
	    "fake");
	return NULL;
}

static void
uuid4(char out[37])
{
	char h[33];

	random_hex(h, 32);
	h[12] = '4';
	h[16] = "89ab"[strtol((char[]){h[16], 0}, NULL, 16) & 3];
	snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", h, h + 8, h + 12, h + 16,
	    h + 20);
}

static void
add_opt(json_t *argv, const char *flag, const char *value)
{
	if (value == NULL || *value == '\0')
		return;
	json_array_append_new(argv, json_string(flag));
	json_array_append_new(argv, json_string(value));
}

/* --allowedTools a b: one argument each, as Tool(spec) may hold spaces */
static void
add_list(json_t *argv, const char *flag, const struct strv *list)
{
	if (list->n == 0)
		return;
	json_array_append_new(argv, json_string(flag));
	for (size_t i = 0; i < list->n; i++)
		json_array_append_new(argv, json_string(list->v[i]));
}

/* A team's member talks to the team through `galley mcp` (its tools are
 * mcp__galley__*, allowed without a prompt); the lead is told how to
 * coordinate. The MCP server inherits the session's environment, whose
 * GALLEY_SESSION and GALLEY_HOOK_TOKEN say who asks. */
static void
team_args(json_t *out, const struct session_spec *sp)
{
	json_t *cfg = json_pack("{s:{s:{s:s, s:s, s:[s]}}}", "mcpServers",
	    "galley", "type", "stdio", "command", self_exe(), "args", "mcp");
	char *text = json_dumps(cfg, JSON_COMPACT);

	add_opt(out, "--mcp-config", text);
	add_opt(out, "--allowedTools", "mcp__galley");
	if (sp->member && strcmp(sp->member, "lead") == 0)
		add_opt(out, "--append-system-prompt",
		    "You lead a team of agents run by galley. Split the goal "
		    "into tasks (mcp__galley__task_create, with blocked_by for "
		    "order), let members claim them, answer their messages "
		    "and plan requests (approve_plan, reject_plan), and check "
		    "team_status before you report. Members own separate "
		    "files: give each its own part.");
	else
		add_opt(out, "--append-system-prompt",
		    "You are a member of a team of agents run by galley. Claim "
		    "a task (mcp__galley__task_claim), work on it within the "
		    "files you own, mark it completed (task_update), and tell "
		    "the lead (send_message). Messages from the team arrive as "
		    "lines starting [galley].");
	free(text);
	json_decref(cfg);
}

static int
claude_argv(const struct session_spec *sp, json_t **out, char **session_id,
    struct err *err)
{
	const char *prompt = sp->prompt, *mode = sp->permission_mode;
	json_t *agents = sp->agents;
	char id[37], *bin = NULL, *settings = NULL;

	if (sp->headless && (prompt == NULL || *prompt == '\0'))
		return err_set(
		    err, ERR_USAGE, "a headless claude session needs a PROMPT");
	if ((bin = find_claude(sp, err)) == NULL)
		return -1;
	uuid4(id);
	settings = settings_json(
	    sp->pre_accept && mode && strcmp(mode, "bypassPermissions") == 0);
	*out = json_array();
	json_array_append_new(*out, json_string(bin));
	if (sp->headless) {
		json_array_append_new(*out, json_string("-p"));
		add_opt(*out, "--output-format", "stream-json");
		json_array_append_new(*out, json_string("--verbose"));
	}
	add_opt(*out, "--session-id", id);
	add_opt(*out, "--settings", settings);
	add_opt(*out, "--model", sp->model);
	add_opt(*out, "--effort", sp->effort);
	add_opt(*out, "--permission-mode", mode);
	if (agents && json_object_size(agents) > 0) {
		char *a = json_dumps(agents, JSON_COMPACT);
		add_opt(*out, "--agents", a);
		free(a);
	}
	add_opt(*out, "--agent", sp->agent);
	if (sp->team)
		team_args(*out, sp);
	add_list(*out, "--allowedTools", &sp->allow);
	add_list(*out, "--disallowedTools", &sp->deny);
	for (size_t i = 0; i < sp->args.n; i++)
		json_array_append_new(*out, json_string(sp->args.v[i]));
	/* interactive, its MCP tools come after the first turn has begun:
	 * a member's prompt waits for them (late_tools) */
	if (prompt && *prompt && !(sp->member && !sp->headless)) {
		json_array_append_new(*out, json_string("--"));
		json_array_append_new(*out, json_string(prompt));
	}
	*session_id = xstrdup(id);
	free(bin);
	free(settings);
	return 0;
}

static int
claude_prepare(const struct session_spec *sp, char **blocked, struct err *err)
{
	*blocked = NULL;
	if (sp->headless || sp->cwd == NULL)
		return 0; /* -p shows no dialogs */
	json_t *env = strv_to_json(&sp->env);
	int rc = claude_config_prepare(
	    env, sp->cwd, sp->pre_accept, blocked, NULL, err);
	json_decref(env);
	return rc;
}

/* A headless run (-p) ends with one {"type":"result",...} line. An
 * interactive one has no result. */
static json_t *
claude_result(const char *spec, const char *log)
{
	if (spec == NULL || strstr(spec, "\"-p\"") == NULL)
		return NULL;
	return runtime_result_line(log);
}

/* Restart: the same conversation (--resume) rather than a new one with
 * the first prompt again; a headless run resumes with its prompt. */
static json_t *
claude_resume(json_t *argv, const char *rsid)
{
	json_t *out = json_array(), *v;
	size_t i, n = json_array_size(argv);
	int headless = 0;

	json_array_foreach(argv, i, v)
	{
		if (strcmp(json_string_value(v), "-p") == 0)
			headless = 1;
	}
	for (i = 0; i < n; i++) {
		const char *a = json_string_value(json_array_get(argv, i));
		if (strcmp(a, "--session-id") == 0 && i + 1 < n) {
			json_array_append_new(out, json_string("--resume"));
			json_array_append_new(out,
			    json_string(rsid ? rsid
			                     : json_string_value(json_array_get(
			                           argv, i + 1))));
			i++;
			continue;
		}
		if (strcmp(a, "--") == 0 && !headless)
			break; /* the first prompt was answered already */
		json_array_append(out, json_array_get(argv, i));
	}
	return out;
}

/* Under --sandbox write: its state, ~/.claude and ~/.claude.json (or
 * CLAUDE_CONFIG_DIR). */
static void
claude_sandbox_paths(json_t *list, const char *dir, json_t *env)
{
	const char *home = env_lookup(env, "HOME");
	const char *cfg = env_lookup(env, "CLAUDE_CONFIG_DIR");
	char *p;

	if (cfg && cfg[0] == '/') {
		mkdir_p(cfg, 0700, NULL);
		json_array_append_new(list, json_string(cfg));
	} else if (home && home[0] == '/') {
		xasprintf(&p, "%s/.claude", home);
		mkdir_p(p, 0700, NULL);
		json_array_append_new(list, json_string(p));
		free(p);
		json_array_append_new(
		    list, json_sprintf("%s/.claude.json", home));
	}
}

/* Dialogs claude shows before its hooks load (session-screen.c reads the
 * screen for them when the hooks stay silent). */
static const struct runtime_dialog claude_dialogs[] = {
    {"trust this folder", "claude asks whether to trust the folder", 1},
    {"Detected a custom API key",
        "claude asks whether to use the API key in ANTHROPIC_API_KEY", 0},
    {"Bypass Permissions mode", "claude asks to accept bypass-permissions mode",
        0},
    {"Select login method", "claude asks to log in", 0},
    {"Choose the text style", "claude onboarding asks for a theme", 0},
    {NULL, NULL, 0},
};

/* An API retry on the screen: interactive claude's status line, or a
 * headless run's {"type":"system","subtype":"api_retry",...} line, which
 * the screen may have wrapped anywhere. */
static int
claude_retrying(const char *scr)
{
	struct buf b = BUF_INIT;
	int found;

	if (strstr(scr, "Retrying in") && strstr(scr, "attempt"))
		return 1;
	for (const char *p = scr; *p; p++)
		if (*p != '\n')
			buf_addc(&b, *p);
	buf_addc(&b, '\0');
	found = strstr(b.data, "\"subtype\":\"api_retry\"") != NULL;
	buf_release(&b);
	return found;
}

/* The claude runtime's part of the request: settings the daemon cannot
 * read itself (they depend on the caller's directory and user). */
static int
claude_request(struct settings *set, json_t *req, const char *effort,
    const char *mode, struct err *err)
{
	json_t *v;

	if (effort == NULL)
		effort = settings_get_str(set, "effort");
	if (mode == NULL)
		mode = settings_get_str(set, "permissionMode");
	if (effort)
		json_object_set_new(req, "effort", json_string(effort));
	if (mode)
		json_object_set_new(req, "permission_mode", json_string(mode));
	if ((v = settings_get(set, "claude.path")) && json_is_string(v))
		json_object_set(req, "claude_path", v);
	v = settings_get(set, "claude.preAccept");
	json_object_set_new(req, "pre_accept", json_boolean(json_is_true(v)));
	return 0;
}

const struct runtime runtime_claude = {
    .name = "claude",
    .kind = "agent",
    .argv = claude_argv,
    .prepare = claude_prepare,
    .resume = claude_resume,
    .result = claude_result,
    .provider = "anthropic",
    .request = claude_request,
    .named_agents = 1,
    .interactive = 1,
    .late_tools = 1,
    .dialogs = claude_dialogs,
    .retrying = claude_retrying,
    .sandbox_paths = claude_sandbox_paths,
    .api_env = "ANTHROPIC_BASE_URL",
    .api_default = "https://api.anthropic.com",
};
