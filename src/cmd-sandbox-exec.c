/* sandbox-exec: the Landlock trampoline. Inside bubblewrap (--sandbox
 * all) Landlock cannot go on before bwrap runs, since a Landlock domain
 * may not mount, so bwrap runs this, which confines itself and execs the
 * command: `galley sandbox-exec [--best-effort] [--write PATH]... -- CMD`. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "sandbox.h"
#include "xmalloc.h"

static int
sandbox_exec_run(struct cmd_ctx *ctx)
{
	char **paths = xcalloc((size_t)ctx->argc + 1, sizeof *paths);
	char msg[512];
	int i, n = 0, best_effort = 0;

	for (i = 1; i < ctx->argc; i++) {
		if (strcmp(ctx->argv[i], "--best-effort") == 0)
			best_effort = 1;
		else if (strcmp(ctx->argv[i], "--write") == 0 &&
		    i + 1 < ctx->argc)
			paths[n++] = ctx->argv[++i];
		else if (strcmp(ctx->argv[i], "--") == 0)
			break;
		else
			break;
	}
	if (i + 1 >= ctx->argc || strcmp(ctx->argv[i], "--") != 0) {
		free(paths);
		return cmd_usage_error(
		    ctx, "expected [--write PATH]... -- CMD");
	}
	if (sandbox_restrict(paths, msg, sizeof msg) < 0) {
		fprintf(stderr, "galley: %s the write sandbox: %s\n",
		    best_effort ? "running without" : "cannot apply", msg);
		if (!best_effort) {
			free(paths);
			return 127;
		}
	}
	free(paths);
	execvp(ctx->argv[i + 1], ctx->argv + i + 1);
	fprintf(stderr, "galley: cannot run '%s': %s\n", ctx->argv[i + 1],
	    strerror(errno));
	return 127;
}

const struct cmd_entry cmd_sandbox_exec_entry = {
    .name = "sandbox-exec",
    .usage = "[--best-effort] [--write PATH]... -- CMD [ARG...]",
    .summary = "(internal) confine writes with Landlock, then run CMD",
    .flags = CMD_INTERNAL | CMD_NOJSON,
    .run = sandbox_exec_run,
};
