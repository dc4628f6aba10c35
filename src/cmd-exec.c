/* galley exec [-n NAME] -- CMD...: a background shell job (not an agent). */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "names.h"
#include "util.h"

/* A command that cannot start fails here, not as a job that dies with 127
 * after "backgrounded" was printed. dir: where it will run (NULL: a
 * worktree not made yet, so a relative path is not checked). */
static int
command_check(struct cmd_ctx *ctx, const char *cmd, const char *dir)
{
	char *found = NULL;
	int ok;

	if (strchr(cmd, '/') == NULL) {
		const char *path = getenv("PATH");
		/* execvp's own default when PATH is unset */
		found = path_search(path ? path : "/bin:/usr/bin", cmd);
		ok = found != NULL;
		free(found);
	} else if (cmd[0] == '/' || dir == NULL) {
		ok = cmd[0] != '/' || access(cmd, X_OK) == 0;
	} else {
		char path[PATH_MAX];
		snprintf(path, sizeof path, "%s/%s", dir, cmd);
		ok = access(path, X_OK) == 0;
	}
	if (ok)
		return 0;
	return err_set(&ctx->err, ERR_FAILED, "%s '%s'%s",
	    strchr(cmd, '/') ? "cannot run" : "no command on PATH named", cmd,
	    strchr(cmd, ' ') ? ": give the command and its arguments as "
	                       "separate words, or use sh -c '...'"
	                     : "");
}

static int
exec_run(struct cmd_ctx *ctx)
{
	static const struct option opts[] = {
	    START_LONGOPTS, CMD_LONGOPTS_COMMON, {NULL, 0, NULL, 0}};
	struct start_opts o = START_OPTS_INIT;
	json_t *req, *argv;
	int c, rc;

	cmd_fold_worktree_arg(ctx);
	/* '+': stop at the command, so `galley exec ls -la` works */
	while ((c = getopt_long(
	            ctx->argc, ctx->argv, "+:n:C:w::h", opts, NULL)) != -1) {
		if ((rc = cmd_opt_start(ctx, c, &o)) > 0 ||
		    (rc == 0 && (rc = cmd_opt_common(ctx, c)) >= 0))
			return rc;
	}
	/* a job runs where it is asked to: isolation is for agents */
	if (o.budget_usd || o.budget_tokens)
		return cmd_usage_error(ctx,
		    "a job uses no tokens: --budget-usd and --budget-tokens "
		    "are for agents (galley new)");
	const char *name = o.name, *cwd = o.cwd;
	int use_wt = o.use_wt > 0, pin = o.pin;
	if (optind >= ctx->argc)
		return cmd_usage_error(ctx, "no command given");
	if (name != NULL && session_name_check(name, &ctx->err) < 0)
		return cmd_fail(ctx);
	argv = json_array();
	for (int i = optind; i < ctx->argc; i++) {
		json_t *a = json_string(ctx->argv[i]);
		if (a == NULL) {
			json_decref(argv);
			return cmd_usage_error(
			    ctx, "argument %d is not UTF-8", i - optind + 1);
		}
		json_array_append_new(argv, a);
	}
	req = cmd_new_request(ctx, cwd);
	if (req == NULL) {
		json_decref(argv);
		return cmd_fail(ctx);
	}
	if (command_check(ctx, ctx->argv[optind],
	        use_wt ? NULL
	               : json_string_value(json_object_get(req, "cwd"))) < 0) {
		json_decref(req);
		json_decref(argv);
		return cmd_fail(ctx);
	}
	json_object_set_new(req, "runtime", json_string("exec"));
	json_object_set_new(req, "argv", argv);
	json_object_set_new(req, "pin", json_boolean(pin));
	if (name)
		json_object_set_new(req, "name", json_string(name));
	if (cmd_queue_request(ctx, req, &o) < 0) {
		json_decref(req);
		return cmd_fail(ctx);
	}
	if (use_wt &&
	    cmd_worktree_prepare(ctx, req, o.wt_name, o.base_mode,
	        name ? name : ctx->argv[optind]) < 0) {
		json_decref(req);
		return cmd_fail(ctx);
	}
	return cmd_send_new(ctx, req, use_wt);
}

const struct cmd_entry cmd_exec_entry = {
    .name = "exec",
    .usage = "[-n NAME] [-C DIR] [--pin] [-w [NAME]] [--group G] "
             "[--after ID[,ID...]] [--priority N] [--sandbox S] -- CMD "
             "[ARG...]",
    .summary = "run a shell command in the background",
    .help = "  -n, --name NAME     session name\n"
            "  -C, --cwd DIR       working directory (default: here)\n"
            "      --pin           pin the session\n"
            "  -w, --worktree [NAME] run in a new git worktree on branch\n"
            "                      galley/NAME (-w -- CMD: named from CMD)\n"
            "      --no-worktree   run in the directory itself (the default)\n"
            "      --base B        worktree base: default (branch) or head\n"
            "                      (setting worktree.baseRef)\n" QUEUE_HELP
                EXECUTOR_HELP,
    .run = exec_run,
};
