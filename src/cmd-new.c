/* galley new [opts] PROMPT: start an agent in the background. The request
 * carries the caller's environment and directory (DESIGN §2). */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agents.h"
#include "cmd.h"
#include "names.h"
#include "server.h"
#include "session-life.h"
#include "runtime.h"
#include "session.h"
#include "spec.h"
#include "settings.h"
#include "term.h"
#include "util.h"
#include "xmalloc.h"

extern char **environ;

/* The parts of a `new` request every verb that starts a session shares. */
json_t *
cmd_new_request(struct cmd_ctx *ctx, const char *cwd_opt)
{
	char cwd[PATH_MAX];
	json_t *req, *env;
	int rows = 24, cols = 80;

	if (cwd_opt != NULL) {
		if (realpath(cwd_opt, cwd) == NULL) {
			err_set(&ctx->err, ERR_NOT_FOUND, "no directory '%s'",
			    cwd_opt);
			return NULL;
		}
	} else if (getcwd(cwd, sizeof cwd) == NULL) {
		err_set(&ctx->err, ERR_FAILED,
		    "cannot read the current directory: cd somewhere else");
		return NULL;
	}
	env = json_array();
	for (char **e = environ; e && *e; e++) {
		json_t *s = json_string(*e);
		if (s) /* non-UTF-8 values cannot travel in JSON: skip */
			json_array_append_new(env, s);
	}
	if (term_size(1, &rows, &cols) < 0 && term_size(0, &rows, &cols) < 0) {
		rows = 24;
		cols = 80;
	}
	req = json_pack("{s:s, s:s, s:o, s:i, s:i}", "cmd", "new", "cwd", cwd,
	    "env", env, "rows", rows, "cols", cols);
	return req;
}

/* Send a `new` request (taken) and print the session; a worktree made
 * for it is taken back if the daemon refuses. */
int
cmd_send_new(struct cmd_ctx *ctx, json_t *req, int made_worktree)
{
	json_t *reply;
	int rc;

	/* a team's member: its team, name in it and lead (cmd-team.c); the
	 * model the team resolved wins, a name given with -n stays */
	if (ctx->extra) {
		json_t *name = json_object_get(ctx->extra, "name");
		/* force_name: the worktree's name is not the member's */
		if (name &&
		    (json_object_get(req, "name") == NULL ||
		        json_is_true(
		            json_object_get(ctx->extra, "force_name"))))
			json_object_set(req, "name", name);
		json_object_del(ctx->extra, "name");
		json_object_del(ctx->extra, "force_name");
		json_object_update(req, ctx->extra);
	}
	json_incref(req);
	reply = cmd_call(ctx, req);
	if (reply == NULL) {
		if (made_worktree)
			cmd_worktree_undo(req);
		json_decref(req);
		return cmd_fail(ctx);
	}
	json_decref(req);
	rc = cmd_print_new(ctx, reply);
	json_decref(reply);
	return rc;
}

int
cmd_print_new(struct cmd_ctx *ctx, json_t *reply)
{
	json_t *s = json_object_get(reply, "session");

	if (ctx->json) {
		cmd_print_json(s);
		return 0;
	}
	printf("backgrounded · %s · %s\n", session_str(s, "id"),
	    session_str(s, "name"));
	printf("  peek:   galley peek %s\n  reply:  galley send %s TEXT\n"
	       "  attach: galley attach %s\n",
	    session_str(s, "name"), session_str(s, "name"),
	    session_str(s, "name"));
	return 0;
}

static int
check_choice(const char *key, const char *value, struct err *err)
{
	json_t *v = value ? json_string(value) : NULL;
	int rc = v ? settings_check(key, v, err) : 0;

	json_decref(v);
	return rc;
}

static int
claude_on_path(void)
{
	char *p = path_search(getenv("PATH"), "claude");
	int found = p != NULL;

	free(p);
	return found;
}

/* A named agent: claude runs it (--agents, --agent); for every runtime
 * its tools are the session's allowlist and its disallowedTools join
 * DENY, both enforced again in the hook (session-policy.c). */
static int
agent_request(struct cmd_ctx *ctx, json_t *req, const char *dir,
    const char *agent, int claude, json_t *deny)
{
	json_t *def, *v;
	size_t i;

	if (agent_find(dir, agent, &def, &ctx->err) < 0)
		return -1;
	json_array_foreach(json_object_get(def, "disallowedTools"), i, v)
	{
		json_array_append(deny, v);
	}
	json_object_del(def, "disallowedTools");
	if (json_array_size(json_object_get(def, "tools")))
		json_object_set(
		    req, "agent_tools", json_object_get(def, "tools"));
	json_object_set_new(req, "agent", json_string(agent));
	if (claude)
		json_object_set_new(
		    req, "agents", json_pack("{s:o}", agent, def));
	else
		json_decref(def);
	return 0;
}

static int
new_run(struct cmd_ctx *ctx)
{
	static const struct option opts[] = {START_LONGOPTS,
	    {"runtime", required_argument, NULL, 'r'},
	    {"model", required_argument, NULL, 'm'},
	    {"script", required_argument, NULL, 's'},
	    {"effort", required_argument, NULL, 'e'},
	    {"permission-mode", required_argument, NULL, 'P'},
	    {"agent", required_argument, NULL, 'a'},
	    {"allow", required_argument, NULL, 'A'},
	    {"deny", required_argument, NULL, 'D'},
	    {"arg", required_argument, NULL, 'X'},
	    {"headless", no_argument, NULL, 'H'}, CMD_LONGOPTS_COMMON,
	    {NULL, 0, NULL, 0}};
	const char *runtime = NULL, *model = NULL, *script = NULL;
	const char *effort = NULL, *mode = NULL, *agent = NULL;
	json_t *allow = json_array(), *deny = json_array();
	json_t *extra = json_array();
	int headless = 0;
	struct start_opts o = START_OPTS_INIT;
	struct settings set;
	struct buf prompt = BUF_INIT;
	json_t *req;
	int c, rc;

	cmd_fold_worktree_arg(ctx);
	while ((c = getopt_long(ctx->argc, ctx->argv, ":n:r:m:C:s:e:a:w::h",
	            opts, NULL)) != -1) {
		if (c == 'r')
			runtime = optarg;
		else if (c == 'm')
			model = optarg;
		else if (c == 's')
			script = optarg;
		else if (c == 'e')
			effort = optarg;
		else if (c == 'P')
			mode = optarg;
		else if (c == 'a')
			agent = optarg;
		else if (c == 'A' || c == 'D' || c == 'X') {
			json_t *v = json_string(optarg);
			if (v == NULL) {
				rc = cmd_usage_error(ctx, "not valid UTF-8");
				goto early;
			}
			json_array_append_new(c == 'A' ? allow
			        : c == 'D'             ? deny
			                               : extra,
			    v);
		} else if (c == 'H')
			headless = 1;
		else if ((rc = cmd_opt_start(ctx, c, &o)) > 0 ||
		    (rc == 0 && (rc = cmd_opt_common(ctx, c)) >= 0))
			goto early;
	}
	if (check_choice("effort", effort, &ctx->err) < 0 ||
	    check_choice("permissionMode", mode, &ctx->err) < 0)
		goto early_fail;
	const char *name = o.name, *cwd = o.cwd;
	const char *wt_name = o.wt_name, *base_mode = o.base_mode;
	int use_wt = o.use_wt, pin = o.pin;
	if (name != NULL && session_name_check(name, &ctx->err) < 0)
		goto early_fail;
	for (int i = optind; i < ctx->argc; i++)
		buf_addf(&prompt, "%s%s", i > optind ? " " : "", ctx->argv[i]);
	if (script != NULL) {
		if (prompt.len) {
			rc = cmd_usage_error(
			    ctx, "give a PROMPT or --script FILE, not both");
			goto early;
		}
		if (read_file(script, &prompt, 1 << 20, &ctx->err) < 0)
			goto early_fail;
	}
	req = cmd_new_request(ctx, cwd);
	if (req == NULL)
		goto early_fail;
	const char *dir = json_string_value(json_object_get(req, "cwd"));
	if (settings_load(&set, dir, &ctx->err) < 0) {
		json_decref(req);
		goto early_fail;
	}
	/* claude by default (setting defaultRuntime); never the fake agent
	 * unasked: its echo reads like an agent that did the work */
	if (runtime == NULL)
		runtime = settings_get_str(&set, "defaultRuntime");
	if (runtime == NULL)
		runtime = "claude";
	if (model == NULL)
		model = settings_get_str(&set, "model");
	/* what the runtime's driver adds from the caller's flags and
	 * settings (claude: effort, permission mode, its path) */
	const struct runtime *rt = runtime_find(runtime);
	int claude = rt && rt->named_agents;
	if (prompt.len == 0 && rt && !rt->interactive) {
		settings_release(&set);
		json_decref(req);
		rc = cmd_usage_error(ctx, "runtime %s needs a PROMPT", runtime);
		goto early;
	}
	if (agent == NULL && claude)
		agent = settings_get_str(&set, "defaultAgent");
	if ((rt && rt->request &&
	        rt->request(&set, req, effort, mode, &ctx->err) < 0) ||
	    (agent && agent_request(ctx, req, dir, agent, claude, deny) < 0)) {
		settings_release(&set);
		json_decref(req);
		goto early_fail;
	}
	if (strcmp(runtime, "claude") == 0 &&
	    settings_get_str(&set, "claude.path") == NULL &&
	    !claude_on_path()) {
		settings_release(&set);
		json_decref(req);
		err_set(&ctx->err, ERR_FAILED,
		    "claude is not on PATH: install it (npm install -g "
		    "@anthropic-ai/claude-code), or pick another runtime with "
		    "-r (fake: a scripted stand-in)");
		goto early_fail;
	}
	json_object_set(req, "allow", allow);
	json_object_set(req, "deny", deny);
	json_object_set(req, "args", extra);
	if (headless)
		json_object_set_new(req, "headless", json_true());
	json_decref(allow);
	json_decref(deny);
	json_decref(extra);
	allow = deny = extra = NULL;
	json_t *sb = settings_get(&set, "scrollback");
	json_object_set_new(
	    req, "runtime", json_string(runtime ? runtime : "fake"));
	if (model)
		json_object_set_new(req, "model", json_string(model));
	if (name)
		json_object_set_new(req, "name", json_string(name));
	if (json_is_integer(sb))
		json_object_set(req, "scrollback", sb);
	json_object_set_new(req, "pin", json_boolean(pin));
	json_t *p = json_stringn(prompt.data, prompt.len);
	if (p == NULL) {
		settings_release(&set);
		json_decref(req);
		buf_release(&prompt);
		err_set(&ctx->err, ERR_USAGE, "prompt is not valid UTF-8");
		return cmd_fail(ctx);
	}
	json_object_set_new(req, "prompt", p);
	if (cmd_queue_request(ctx, req, &o) < 0) {
		settings_release(&set);
		goto queue_fail;
	}
	if (use_wt < 0) {
		const char *iso = settings_get_str(&set, "isolation");
		use_wt = iso && strcmp(iso, "worktree") == 0;
	}
	settings_release(&set);
	if (use_wt &&
	    cmd_worktree_prepare(ctx, req, wt_name, base_mode,
	        name             ? name
	            : prompt.len ? prompt.data
	                         : runtime) < 0) {
		json_decref(req);
		buf_release(&prompt);
		return cmd_fail(ctx);
	}
	buf_release(&prompt);
	return cmd_send_new(ctx, req, use_wt);
queue_fail:
	json_decref(req);
early_fail:
	rc = cmd_fail(ctx);
early:
	json_decref(allow);
	json_decref(deny);
	json_decref(extra);
	buf_release(&prompt);
	return rc;
}

/* The request is decoded once, here; the daemon reads the spec after. */
static int
new_serve(struct server_client *c, json_t *req, json_t *reply, struct err *err)
{
	struct session_spec spec;
	struct session *s;

	if (spec_from_json(req, &spec, err) < 0)
		return -1;
	if (session_spec_amend(&spec, err) < 0) {
		spec_release(&spec);
		return -1;
	}
	s = session_create(&spec, err);
	spec_release(&spec);
	if (s == NULL)
		return -1;
	if (err->code != ERR_NONE) /* created, but the host did not start */
		return -1;
	json_object_set_new(reply, "session", session_to_json(s));
	return 0;
}

const struct cmd_entry cmd_new_entry = {
    .name = "new",
    .usage = "[options] PROMPT",
    .summary = "start an agent in the background",
    .help =
        "  -n, --name NAME     session name ([A-Za-z0-9._-]{1,64})\n"
        "  -r, --runtime R     claude, fake or exec (setting\n"
        "                      defaultRuntime, else claude); with no\n"
        "                      PROMPT claude starts interactive\n"
        "  -m, --model M       model name (setting model)\n"
        "  -e, --effort E      low|medium|high|xhigh|max (setting effort)\n"
        "      --permission-mode MODE  acceptEdits|auto|"
        "bypassPermissions|\n"
        "                      default|dontAsk|plan (setting "
        "permissionMode)\n"
        "  -a, --agent NAME    a named agent (.galley/agents/NAME.md,\n"
        "                      .claude/agents/NAME.md; setting "
        "defaultAgent)\n"
        "      --allow TOOL    allow a tool, e.g. 'Bash(git *)' "
        "(repeatable)\n"
        "      --deny TOOL     deny a tool (repeatable)\n"
        "      --arg ARG       pass ARG to the runtime (repeatable)\n"
        "      --headless      claude -p with stream-json output; the\n"
        "                      final result is kept in the session\n" BUDGET_HELP
            QUEUE_HELP EXECUTOR_HELP
        "  -C, --cwd DIR       working directory (default: here)\n"
        "  -s, --script FILE   read PROMPT from FILE (fake: its script)\n"
        "      --pin           pin the session\n"
        "  -w, --worktree [NAME] run in a new git worktree on branch\n"
        "                      galley/NAME (setting isolation); the word\n"
        "                      after -w is NAME unless it is an option\n"
        "                      or --: -w last, or '-w --', names it\n"
        "                      from the prompt\n"
        "      --no-worktree   run in the directory itself\n"
        "      --base B        worktree base: default (branch) or head\n"
        "                      (setting worktree.baseRef)\n",
    .run = new_run,
    .serve = new_serve,
};
