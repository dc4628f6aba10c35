/* galley merge ID [--squash|--rebase]: bring a worktree session's work
 * into its base branch in the main checkout. Uncommitted work in the
 * worktree is committed first; a dirty main checkout is refused; a
 * conflict is reported with its paths and leaves the main checkout as it
 * was (the merge is aborted). */
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "server.h"
#include "session-overlap.h"
#include "session.h"
#include "git.h"
#include "util.h"
#include "xmalloc.h"

/* Paths in conflict in dir, comma-separated, then abort what is under
 * way there. */
static void
conflicts(const char *dir, struct buf *paths)
{
	struct git_result r = GIT_RESULT_INIT;
	const char *args[] = {"diff", "--name-only", "--diff-filter=U", NULL};

	git_run(dir, &r, args);
	for (char *p = r.out.data; *p;) {
		size_t len = strcspn(p, "\n");
		if (len)
			buf_addf(paths, "%s%.*s", paths->len ? ", " : "",
			    (int)len, p);
		p += len + (p[len] == '\n');
	}
	git_result_release(&r);
}

static int
commit_pending(const char *wt, const char *name, struct err *err)
{
	struct git_result r = GIT_RESULT_INIT;
	const char *st[] = {"status", "--porcelain", NULL};
	char *msg;
	int rc = 0;

	if (git_ok(wt, &r, err, st) < 0) {
		rc = -1;
		goto out;
	}
	if (r.out.len == 0)
		goto out;
	git_result_release(&r);
	const char *add[] = {"add", "-A", NULL};
	xasprintf(&msg, "galley: work of session %s", name);
	const char *commit[] = {"-c", "user.name=galley", "-c",
	    "user.email=galley@localhost", "commit", "-q", "-m", msg, NULL};
	/* the user's identity wins when set; galley's only fills a gap */
	char *ident =
	    git_line(wt, (const char *[]){"config", "user.email", NULL});
	const char *commit_own[] = {"commit", "-q", "-m", msg, NULL};
	if (git_ok(wt, &r, err, add) < 0 ||
	    git_ok(wt, &r, err, ident ? commit_own : commit) < 0)
		rc = -1;
	free(ident);
	free(msg);
out:
	git_result_release(&r);
	return rc;
}

/* What to do after a conflict: the sessions it clashes with first, then
 * this one rebased, or by hand in its worktree (caller frees). */
static char *
next_steps(json_t *s, const char *base)
{
	const char *name = session_str(s, "name");
	json_t *with = json_object_get(s, "conflicts_with"), *v;
	struct buf others = BUF_INIT;
	size_t i;
	char *out;

	json_array_foreach(with, i, v)
	{
		const char *o = json_string_value(v);
		if (o && strcmp(o, "base") != 0)
			buf_addf(&others, "%sgalley merge %s",
			    others.len ? ", " : "", o);
	}
	xasprintf(&out,
	    "next: %s%sgalley merge %s --rebase, or galley attach %s and "
	    "resolve it in its worktree (git rebase %s)",
	    others.len ? others.data : "", others.len ? " first, then " : "",
	    name, name, base);
	buf_release(&others);
	return out;
}

/* The daemon keeps where the work went: a merged session is reviewed. */
static void
record_merge(struct cmd_ctx *ctx, const char *id, const char *base)
{
	json_t *reply = cmd_call(ctx,
	    json_pack(
	        "{s:s, s:s, s:s}", "cmd", "merge", "ref", id, "into", base));

	if (reply == NULL) {
		fprintf(stderr,
		    "galley: merged, but the daemon did not record it: %s\n",
		    ctx->err.msg.len ? ctx->err.msg.data : "no reason");
		err_release(&ctx->err);
	}
	json_decref(reply);
}

static int
merge_run(struct cmd_ctx *ctx)
{
	static const struct option opts[] = {{"squash", no_argument, NULL, 'S'},
	    {"rebase", no_argument, NULL, 'R'}, CMD_LONGOPTS_COMMON,
	    {NULL, 0, NULL, 0}};
	struct git_result r = GIT_RESULT_INIT;
	struct buf paths = BUF_INIT;
	int c, rc, squash = 0, rebase = 0;
	char *head = NULL, *msg = NULL;
	json_t *s;

	while (
	    (c = getopt_long(ctx->argc, ctx->argv, ":h", opts, NULL)) != -1) {
		if (c == 'S')
			squash = 1;
		else if (c == 'R')
			rebase = 1;
		else if ((rc = cmd_opt_common(ctx, c)) >= 0)
			return rc;
	}
	if (optind + 1 != ctx->argc)
		return cmd_usage_error(ctx, "expected one session ID");
	if (squash && rebase)
		return cmd_usage_error(ctx, "--squash or --rebase, not both");
	if ((s = cmd_get_session(ctx, ctx->argv[optind])) == NULL)
		return cmd_fail(ctx);
	const char *wt = session_str(s, "worktree");
	const char *repo = session_str(s, "repo");
	const char *branch = session_str(s, "branch");
	const char *base = session_str(s, "base_ref");
	const char *state = session_str(s, "state");
	const char *name = session_str(s, "name");
	if (!*wt || !*repo || !*branch || access(wt, F_OK) != 0) {
		err_set(&ctx->err, ERR_FAILED,
		    "session '%s' has no worktree to merge", name);
		goto fail;
	}
	if (strcmp(state, "working") == 0 || strcmp(state, "starting") == 0 ||
	    strcmp(state, "blocked") == 0) {
		err_set(&ctx->err, ERR_REFUSED,
		    "session '%s' is %s: merge once its turn is over", name,
		    state);
		goto fail;
	}
	if (!*base || strcmp(base, "HEAD") == 0) {
		err_set(&ctx->err, ERR_FAILED,
		    "session '%s' was based on a detached HEAD: merge its "
		    "branch %s by hand",
		    name, branch);
		goto fail;
	}
	/* the main checkout: on the base branch, no uncommitted changes */
	head = git_line(repo,
	    (const char *[]){"symbolic-ref", "-q", "--short", "HEAD", NULL});
	if (head == NULL || strcmp(head, base) != 0) {
		err_set(&ctx->err, ERR_REFUSED,
		    "the main checkout %s is on %s, not %s: check out %s "
		    "there first",
		    repo, head ? head : "a detached HEAD", base, base);
		goto fail;
	}
	if (git_ok(repo, &r, &ctx->err,
	        (const char *[]){
	            "status", "--porcelain", "--untracked-files=no", NULL}) < 0)
		goto fail;
	if (r.out.len) {
		err_set(&ctx->err, ERR_REFUSED,
		    "the main checkout %s has uncommitted changes: commit or "
		    "stash them first",
		    repo);
		goto fail;
	}
	git_result_release(&r);
	if (commit_pending(wt, name, &ctx->err) < 0)
		goto fail;
	if (rebase) {
		if (git_run(wt, &r,
		        (const char *[]){"rebase", "-q", base, NULL}) != 0) {
			conflicts(wt, &paths);
			git_result_release(&r);
			git_run(wt, &r,
			    (const char *[]){"rebase", "--abort", NULL});
			char *next = next_steps(s, base);
			err_set(&ctx->err, ERR_FAILED,
			    "rebase of %s onto %s conflicts in: %s; nothing "
			    "changed; %s",
			    branch, base, paths.len ? paths.data : "?", next);
			free(next);
			goto fail;
		}
		git_result_release(&r);
		if (git_ok(repo, &r, &ctx->err,
		        (const char *[]){
		            "merge", "-q", "--ff-only", branch, NULL}) < 0)
			goto fail;
	} else {
		xasprintf(&msg, "Merge galley session %s (%s)", name, branch);
		const char *m[] = {
		    "merge", "-q", "--no-ff", "-m", msg, branch, NULL};
		const char *sq[] = {"merge", "-q", "--squash", branch, NULL};
		if (git_run(repo, &r, squash ? sq : m) != 0) {
			char *why = xstrndup(
			    r.errout.data, strcspn(r.errout.data, "\n"));
			conflicts(repo, &paths);
			git_result_release(&r);
			/* leave the main checkout exactly as it was */
			git_run(repo, &r,
			    squash
			        ? (const char *[]){"reset", "-q", "--merge",
			              NULL}
			        : (const char *[]){"merge", "--abort", NULL});
			char *next = next_steps(s, base);
			if (paths.len)
				err_set(&ctx->err, ERR_FAILED,
				    "merging %s into %s conflicts in: %s; the "
				    "main checkout is unchanged; %s",
				    branch, base, paths.data, next);
			else /* no conflict: git said why (no identity...) */
				err_set(&ctx->err, ERR_FAILED,
				    "merging %s into %s failed: %s; the main "
				    "checkout is unchanged",
				    branch, base,
				    *why ? why : "git gave no reason");
			free(why);
			free(next);
			goto fail;
		}
		git_result_release(&r);
		if (squash &&
		    git_ok(repo, &r, &ctx->err,
		        (const char *[]){"commit", "-q", "-m", msg, NULL}) < 0)
			goto fail;
	}
	git_result_release(&r);
	char *tip = git_line(repo, (const char *[]){"rev-parse", "HEAD", NULL});
	record_merge(ctx, session_str(s, "id"), base);
	if (ctx->json) {
		json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s?}", "id",
		    session_str(s, "id"), "branch", branch, "into", base,
		    "mode",
		    squash       ? "squash"
		        : rebase ? "rebase"
		                 : "merge",
		    "commit", tip);
		cmd_print_json(o);
		json_decref(o);
	} else
		printf(
		    "merged %s into %s (%s)\n", branch, base, tip ? tip : "?");
	free(tip);
	free(head);
	free(msg);
	buf_release(&paths);
	json_decref(s);
	return 0;
fail:
	git_result_release(&r);
	free(head);
	free(msg);
	buf_release(&paths);
	json_decref(s);
	return cmd_fail(ctx);
}

/* The CLI merged with git; the daemon records where the work went. */
static int
merge_serve(struct server_client *c, struct session *s, json_t *req,
    json_t *reply, struct err *err)
{
	const char *into = NULL;

	if (proto_get_str(req, "into", &into, err) < 0)
		return -1;
	/* only where it can go: its own base branch */
	if (into == NULL || s->base_ref == NULL || strcmp(into, s->base_ref))
		return err_set(err, ERR_USAGE,
		    "field 'into' must be the session's base branch (%.64s)",
		    s->base_ref ? s->base_ref : "none");
	session_set_merged(s, into);
	return 0;
}

const struct cmd_entry cmd_merge_entry = {
    .name = "merge",
    .usage = "ID [--squash|--rebase]",
    .summary = "merge a worktree session's work into its base branch",
    .help = "      --squash        one commit on the base branch\n"
            "      --rebase        rebase the session's branch, then "
            "fast-forward\n",
    .flags = CMD_FIND_SESSION,
    .run = merge_run,
    .serve_session = merge_serve,
};
