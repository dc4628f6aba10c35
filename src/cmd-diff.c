/* galley diff ID [--stat]: what a worktree session changed against its
 * base: commits, uncommitted edits and new files alike. */
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "git.h"
#include "util.h"

static void
put(struct buf *b)
{
	fwrite(b->data, 1, b->len, stdout);
}

static int
diff_run(struct cmd_ctx *ctx)
{
	static const struct option opts[] = {{"stat", no_argument, NULL, 's'},
	    CMD_LONGOPTS_COMMON, {NULL, 0, NULL, 0}};
	struct git_result r = GIT_RESULT_INIT;
	int c, rc, stat = 0;
	json_t *s;

	while (
	    (c = getopt_long(ctx->argc, ctx->argv, ":h", opts, NULL)) != -1) {
		if (c == 's')
			stat = 1;
		else if ((rc = cmd_opt_common(ctx, c)) >= 0)
			return rc;
	}
	if (optind + 1 != ctx->argc)
		return cmd_usage_error(ctx, "expected one session ID");
	if ((s = cmd_get_session(ctx, ctx->argv[optind])) == NULL)
		return cmd_fail(ctx);
	const char *wt = session_str(s, "worktree");
	const char *base = session_str(s, "base");
	if (!*wt || !*base || access(wt, F_OK) != 0) {
		err_set(&ctx->err, ERR_FAILED,
		    "session '%s' has no worktree to diff (start it with -w)",
		    session_str(s, "name"));
		json_decref(s);
		return cmd_fail(ctx);
	}
	/* new files count as changes: list them, diff them against nothing */
	const char *others[] = {
	    "ls-files", "--others", "--exclude-standard", "-z", NULL};
	struct buf untracked = BUF_INIT;
	if (git_ok(wt, &r, &ctx->err, others) < 0)
		goto fail;
	buf_add(&untracked, r.out.data, r.out.len);
	git_result_release(&r);
	const char *args[] = {
	    "diff", stat ? "--stat" : "--patch", base, "--", NULL};
	if (git_ok(wt, &r, &ctx->err, args) < 0) {
		buf_release(&untracked);
		goto fail;
	}
	struct buf all = BUF_INIT;
	buf_add(&all, r.out.data, r.out.len);
	git_result_release(&r);
	for (size_t i = 0; i < untracked.len;) {
		const char *f = untracked.data + i;
		const char *nargs[] = {"diff", "--no-index",
		    stat ? "--stat" : "--patch", "/dev/null", f, NULL};
		git_run(wt, &r, nargs); /* exits 1 when they differ */
		buf_add(&all, r.out.data, r.out.len);
		git_result_release(&r);
		i += strlen(f) + 1;
	}
	if (ctx->json) {
		struct buf clean = BUF_INIT;
		utf8_sanitize(all.data, all.len, &clean);
		json_t *o = json_pack("{s:s, s:s, s:s, s:s%}", "id",
		    session_str(s, "id"), "base", base, "branch",
		    session_str(s, "branch"), stat ? "stat" : "diff",
		    clean.data, clean.len);
		cmd_print_json(o);
		json_decref(o);
		buf_release(&clean);
	} else
		put(&all);
	buf_release(&all);
	buf_release(&untracked);
	json_decref(s);
	return 0;
fail:
	git_result_release(&r);
	json_decref(s);
	return cmd_fail(ctx);
}

const struct cmd_entry cmd_diff_entry = {
    .name = "diff",
    .usage = "ID [--stat]",
    .summary = "show what a worktree session changed against its base",
    .help = "      --stat          a summary per file\n",
    .run = diff_run,
};
