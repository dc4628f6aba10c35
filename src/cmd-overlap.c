/*
 * galley overlap REPO (internal): which live worktree sessions of REPO
 * would conflict if merged, with each other or with their base branch as
 * it is now. Each worktree is snapshotted as a commit, uncommitted and new
 * files included (a temporary index, so the worktree is not touched), and
 * every pair goes through `git merge-tree --write-tree`. The daemon starts
 * this after an agent's turn ends and keeps the answer for `ls --json`
 * ("conflicts_with"): the user hears of a conflict before merging.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "git.h"
#include "server.h"
#include "session-overlap.h"
#include "session.h"
#include "util.h"
#include "xmalloc.h"

/* A commit holding the worktree as it is; NULL if git fails. */
static char *
snapshot(const char *wt)
{
	char tmpl[] = "/tmp/galley-index-XXXXXX", *tree = NULL;
	char *commit = NULL;
	struct git_result r = GIT_RESULT_INIT;
	int fd = mkstemp(tmpl);

	if (fd < 0)
		return NULL;
	close(fd);
	unlink(tmpl); /* git wants to create it itself */
	/* a copy of the worktree's own index keeps its stat data, so add -A
	 * hashes only what changed instead of every file of the tree */
	char *own = git_line(
	    wt, (const char *[]){"rev-parse", "--git-path", "index", NULL});
	struct buf idx = BUF_INIT;
	int copied = 0;
	if (own != NULL) {
		char *abs = NULL;
		if (own[0] != '/')
			xasprintf(&abs, "%s/%s", wt, own);
		copied =
		    read_file(abs ? abs : own, &idx, 1u << 30, NULL) == 0 &&
		    write_file_replace(
		        tmpl, idx.data, idx.len, 0600, 0, NULL) == 0;
		free(abs);
	}
	free(own);
	buf_release(&idx);
	setenv("GIT_INDEX_FILE", tmpl, 1);
	if (!copied &&
	    git_run(wt, &r, (const char *[]){"read-tree", "HEAD", NULL}) != 0)
		goto out;
	git_result_release(&r);
	if (git_run(wt, &r, (const char *[]){"add", "-A", NULL}) != 0)
		goto out;
	tree = git_line(wt, (const char *[]){"write-tree", NULL});
	if (tree == NULL)
		goto out;
	commit = git_line(wt,
	    (const char *[]){"-c", "user.name=galley", "-c",
	        "user.email=galley@localhost", "commit-tree", "-p", "HEAD",
	        "-m", "galley snapshot", tree, NULL});
out:
	unsetenv("GIT_INDEX_FILE");
	unlink(tmpl);
	git_result_release(&r);
	free(tree);
	return commit;
}

/* Conflicting paths of merging a and b, as a JSON array; NULL if none. */
static json_t *
conflict(const char *repo, const char *a, const char *b)
{
	struct git_result r = GIT_RESULT_INIT;
	json_t *paths = NULL;
	int rc = git_run(repo, &r,
	    (const char *[]){"merge-tree", "--write-tree", "--name-only",
	        "--no-messages", a, b, NULL});

	if (rc == 1) {
		paths = json_array();
		char *p = strchr(r.out.data, '\n'); /* after the tree id */
		while (p && *++p) {
			size_t len = strcspn(p, "\n");
			if (len)
				json_array_append_new(
				    paths, json_stringn(p, len));
			p += len;
			if (*p != '\n')
				break;
		}
	}
	git_result_release(&r);
	return paths;
}

static int
changed_files(const char *repo, const char *base, const char *snap)
{
	struct git_result r = GIT_RESULT_INIT;
	int n = 0;

	if (*base &&
	    git_run(repo, &r,
	        (const char *[]){"diff", "--name-only", base, snap, NULL}) == 0)
		for (char *p = r.out.data; *p; p++)
			n += *p == '\n';
	git_result_release(&r);
	return n;
}

/* For each live snapshot, what it conflicts with: each other one, and its
 * base branch as it is now. */
static json_t *
pair_conflicts(const char *repo, json_t *live)
{
	json_t *results, *s;
	size_t i, j;

	results = json_object();
	json_array_foreach(live, i, s)
	{
		json_t *mine = json_array();
		json_t *t;
		json_array_foreach(live, j, t)
		{
			if (i == j)
				continue;
			json_t *paths = conflict(repo, session_str(s, "snap"),
			    session_str(t, "snap"));
			if (paths)
				json_array_append_new(mine,
				    json_pack("{s:s, s:o}", "with",
				        session_str(t, "id"), "paths", paths));
		}
		const char *base = session_str(s, "base");
		if (*base && strcmp(base, "HEAD") != 0) {
			json_t *paths =
			    conflict(repo, session_str(s, "snap"), base);
			if (paths)
				json_array_append_new(mine,
				    json_pack("{s:s, s:o}", "with", "base",
				        "paths", paths));
		}
		json_object_set_new(results, session_str(s, "id"), mine);
	}
	return results;
}

static int
overlap_run(struct cmd_ctx *ctx)
{
	json_t *reply, *list, *s, *live = json_array(), *results;
	size_t i;

	if (ctx->argc != 2 || ctx->argv[1][0] != '/')
		return cmd_usage_error(ctx, "expected an absolute REPO path");
	const char *repo = ctx->argv[1];
	/* the daemon's helper: never start a daemon (one stopped while this
	 * ran stays stopped), and never report to another one than asked */
	if (client_connect(&ctx->cl, 0, &ctx->err) < 0) {
		json_decref(live);
		return cmd_fail(ctx);
	}
	reply = cmd_call(ctx, json_pack("{s:s, s:b}", "cmd", "ls", "all", 1));
	if (reply == NULL) {
		json_decref(live);
		return cmd_fail(ctx);
	}
	list = json_object_get(reply, "sessions");
	json_t *changed = json_object();
	json_array_foreach(list, i, s)
	{
		if (strcmp(session_str(s, "repo"), repo) != 0 ||
		    access(session_str(s, "worktree"), F_OK) != 0)
			continue;
		/* an ended session's count stands once made */
		if (state_is_terminal(session_str(s, "state")) &&
		    json_is_integer(json_object_get(s, "changed_files")))
			continue;
		char *snap = snapshot(session_str(s, "worktree"));
		if (snap == NULL)
			continue;
		/* files changed against the start: what a review would see */
		json_object_set_new(changed, session_str(s, "id"),
		    json_integer(
		        changed_files(repo, session_str(s, "base"), snap)));
		if (state_is_terminal(session_str(s, "state"))) {
			free(snap);
			continue; /* ended: reviewable, but merges nothing */
		}
		json_array_append_new(live,
		    json_pack("{s:s, s:s, s:s}", "id", session_str(s, "id"),
		        "snap", snap, "base", session_str(s, "base_ref")));
		free(snap);
	}
	results = pair_conflicts(repo, live);
	json_decref(reply);
	reply = cmd_call(ctx,
	    json_pack("{s:s, s:s, s:o, s:o}", "cmd", "overlap", "repo", repo,
	        "results", results, "changed", changed));
	json_decref(live);
	if (reply == NULL)
		return cmd_fail(ctx);
	json_decref(reply);
	return 0;
}

static int
overlap_serve(
    struct server_client *c, json_t *req, json_t *reply, struct err *err)
{
	json_t *results = json_object_get(req, "results"), *list;
	json_t *changed = json_object_get(req, "changed"), *n;
	const char *id;

	const char *repo = NULL;
	if (proto_get_str(req, "repo", &repo, err) < 0)
		return -1;
	if (repo)
		session_overlap_done(repo);
	json_object_foreach(changed, id, n)
	{
		struct session *s = session_find_id(id);
		if (s != NULL && json_is_integer(n))
			session_set_changed(s, (int)json_integer_value(n));
	}
	if (!json_is_object(results))
		return err_set(err, ERR_USAGE,
		    "field 'results' must be an "
		    "object");
	json_object_foreach(results, id, list)
	{
		struct session *s = session_find_id(id);
		json_t *keep, *e;
		size_t i;
		if (s == NULL || !json_is_array(list) || session_terminal(s))
			continue;
		/* checks run concurrently and may finish out of order: a
		 * session that ended since is nobody's conflict any more */
		keep = json_array();
		json_array_foreach(list, i, e)
		{
			const char *with =
			    json_string_value(json_object_get(e, "with"));
			struct session *o = with ? session_find_id(with) : NULL;
			if (with &&
			    (strcmp(with, "base") == 0 ||
			        (o && !session_terminal(o))))
				json_array_append(keep, e);
		}
		session_set_conflicts(s, keep);
		json_decref(keep);
	}
	return 0;
}

const struct cmd_entry cmd_overlap_entry = {
    .name = "overlap",
    .usage = "REPO",
    .summary = "(internal) find conflicts between live worktree sessions",
    .flags = CMD_INTERNAL | CMD_NOJSON,
    .run = overlap_run,
    .serve = overlap_serve,
};
