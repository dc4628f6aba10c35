/* galley discard ID [--force]: throw a worktree session's work away,
 * safely: the session, its worktree and its branch go, unless that would
 * lose uncommitted work or commits found on no other branch (exit 4, with
 * what would be lost). With --force the worktree goes anyway, but a branch
 * with commits of its own is always kept. `galley rm` uses the same rule. */
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "worktree.h"

/* Before the session goes: would removing its worktree lose work? */
int
cmd_worktree_guard(struct cmd_ctx *ctx, json_t *s, int force)
{
	struct wt_risk risk = WT_RISK_INIT;
	const char *wt = session_str(s, "worktree");
	const char *repo = session_str(s, "repo");
	const char *branch = session_str(s, "branch");
	int rc = 0;

	if (!*wt || !*repo || force)
		return 0;
	if (worktree_risk(repo, wt, *branch ? branch : NULL, &risk, &ctx->err) <
	    0)
		return -1;
	if (risk.nfiles || risk.ncommits) {
		struct buf m = BUF_INIT;
		wt_risk_describe(&risk, &m);
		rc = err_set(&ctx->err, ERR_REFUSED,
		    "session '%s': removing its worktree %s would lose %s; "
		    "merge or commit them, or use --force",
		    session_str(s, "name"), wt, m.data);
		buf_release(&m);
	}
	wt_risk_release(&risk);
	return rc;
}

/* After the session went: its worktree and, if safe, its branch. */
int
cmd_worktree_drop(struct cmd_ctx *ctx, json_t *s, int force, int *kept)
{
	const char *wt = session_str(s, "worktree");
	const char *repo = session_str(s, "repo");
	const char *branch = session_str(s, "branch");

	*kept = 0;
	if (!*wt || !*repo || access(repo, F_OK) != 0)
		return 0;
	return worktree_remove(
	    repo, wt, *branch ? branch : NULL, force, kept, &ctx->err);
}

static int
discard_run(struct cmd_ctx *ctx)
{
	static const struct option opts[] = {{"force", no_argument, NULL, 'f'},
	    CMD_LONGOPTS_COMMON, {NULL, 0, NULL, 0}};
	int c, rc, force = 0, kept;
	json_t *s, *reply;

	while (
	    (c = getopt_long(ctx->argc, ctx->argv, ":fh", opts, NULL)) != -1) {
		if (c == 'f')
			force = 1;
		else if ((rc = cmd_opt_common(ctx, c)) >= 0)
			return rc;
	}
	if (optind + 1 != ctx->argc)
		return cmd_usage_error(ctx, "expected one session ID");
	if ((s = cmd_get_session(ctx, ctx->argv[optind])) == NULL)
		return cmd_fail(ctx);
	if (!*session_str(s, "worktree")) {
		err_set(&ctx->err, ERR_FAILED,
		    "session '%s' has no worktree: use 'galley rm'",
		    session_str(s, "name"));
		goto fail;
	}
	if (session_is_live(s) && !force) {
		err_set(&ctx->err, ERR_REFUSED,
		    "session '%s' is %s: stop it first, or use --force",
		    session_str(s, "name"), session_str(s, "state"));
		goto fail;
	}
	if (cmd_worktree_guard(ctx, s, force) < 0)
		goto fail;
	reply = cmd_call(ctx,
	    json_pack("{s:s, s:s, s:b}", "cmd", "rm", "ref",
	        session_str(s, "id"), "force", force));
	if (reply == NULL)
		goto fail;
	json_decref(reply);
	if (cmd_worktree_drop(ctx, s, force, &kept) < 0)
		goto fail;
	if (ctx->json) {
		json_t *o = json_pack("{s:s, s:s, s:b}", "id",
		    session_str(s, "id"), "worktree",
		    session_str(s, "worktree"), "branch_kept", kept);
		cmd_print_json(o);
		json_decref(o);
	} else
		printf("discarded · %s · %s%s\n", session_str(s, "id"),
		    session_str(s, "name"),
		    kept ? " (branch kept: it has commits of its own)" : "");
	json_decref(s);
	return 0;
fail:
	json_decref(s);
	return cmd_fail(ctx);
}

const struct cmd_entry cmd_discard_entry = {
    .name = "discard",
    .usage = "ID [--force]",
    .summary = "remove a worktree session and its work, safely",
    .help = "  -f, --force         also when it would lose uncommitted "
            "work\n"
            "                      (a branch with its own commits is kept)\n",
    .run = discard_run,
};
