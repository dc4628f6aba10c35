/* galley batch merge RUN: the done units merged into the batch's base
 * branch, one `galley merge` each (its checks: the main checkout on the
 * base branch and clean, pending work committed, a conflict aborted and
 * reported with its paths). Safe order: units that overlap no other
 * first, then the fewest changed files first; it stops at the first that
 * fails. A unit whose branch is in the base already is skipped, so a
 * merge stopped by a conflict can be run again once it is resolved. */
#include <fcntl.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cmd-batch.h"
#include "cmd.h"
#include "git.h"
#include "util.h"
#include "xmalloc.h"

extern char **environ;

static const char *
str(json_t *o, const char *k)
{
	const char *v = json_string_value(json_object_get(o, k));
	return v ? v : "";
}

/* `galley merge SID --json` (this binary); its output in out, its exit
 * status returned. */
static int
merge_one(const char *sid, struct buf *out)
{
	char *argv[] = {"galley", "merge", (char *)sid, "--json", NULL};
	posix_spawn_file_actions_t fa;
	int p[2], status = -1;
	pid_t pid;
	char chunk[4096];
	ssize_t n;

	if (pipe(p) < 0)
		return -1;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, p[1], 1);
	posix_spawn_file_actions_adddup2(&fa, p[1], 2);
	posix_spawn_file_actions_addclose(&fa, p[0]);
	int rc = posix_spawn(&pid, self_exe(), &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(p[1]);
	while (rc == 0 && (n = read(p[0], chunk, sizeof chunk)) > 0)
		buf_add(out, chunk, (size_t)n);
	close(p[0]);
	if (rc == 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status))
		return WEXITSTATUS(status);
	return -1;
}

/* How many files the unit's branch changed since the base: the order. */
static int
changed(const char *repo, const char *base, const char *branch)
{
	struct git_result r = GIT_RESULT_INIT;
	char *range;
	int n = 0;

	xasprintf(&range, "%s...%s", base, branch);
	if (git_run(repo, &r,
	        (const char *[]){"diff", "--name-only", range, NULL}) == 0)
		for (char *p = r.out.data; *p; p++)
			n += *p == '\n';
	free(range);
	git_result_release(&r);
	return n;
}

static int
by_risk(const void *a, const void *b)
{
	json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	json_int_t ox = json_array_size(json_object_get(x, "overlap")) > 0;
	json_int_t oy = json_array_size(json_object_get(y, "overlap")) > 0;
	json_int_t fx = json_integer_value(json_object_get(x, "files"));
	json_int_t fy = json_integer_value(json_object_get(y, "files"));
	json_int_t nx = json_integer_value(json_object_get(x, "n"));
	json_int_t ny = json_integer_value(json_object_get(y, "n"));

	return ox != oy ? (ox < oy ? -1 : 1)
	    : fx != fy  ? (fx < fy ? -1 : 1)
	                : (nx < ny ? -1 : nx > ny);
}

/* One done unit into base: skipped if merged already, else `galley
 * merge`; its result appended to out. 0, or 1 when it failed. */
static int
merge_unit(struct cmd_ctx *ctx, const char *repo, const char *base, json_t *u,
    json_t *out)
{
	json_int_t k = json_integer_value(json_object_get(u, "n"));
	const char *br = str(u, "branch");
	struct buf text = BUF_INIT;
	struct git_result anc = GIT_RESULT_INIT;
	int merged = git_run(repo, &anc,
	    (const char *[]){"merge-base", "--is-ancestor", br, base, NULL});

	git_result_release(&anc);
	if (merged == 0) {
		json_array_append_new(out,
		    json_pack("{s:I, s:s, s:s}", "unit", k, "branch", br,
		        "result", "merged already"));
		return 0;
	}
	int code = merge_one(str(u, "session"), &text);
	json_t *got = code == 0 ? json_loads(text.data, 0, NULL) : NULL;
	json_array_append_new(out,
	    json_pack("{s:I, s:s, s:s, s:s?, s:s?}", "unit", k, "branch", br,
	        "result", code == 0 ? "merged" : "failed", "commit",
	        json_string_value(json_object_get(got, "commit")), "error",
	        code == 0 ? NULL : text.data));
	if (!ctx->json && code == 0)
		printf(
		    "unit %lld: merged %s into %s\n", (long long)k, br, base);
	else if (!ctx->json)
		fprintf(stderr, "unit %lld: %s", (long long)k,
		    text.len ? text.data : "merge failed\n");
	json_decref(got);
	buf_release(&text);
	return code == 0 ? 0 : 1;
}

int
batch_merge(struct cmd_ctx *ctx, json_t *batch)
{
	const char *base = str(batch, "base_ref");
	json_t *units = json_object_get(batch, "units"), *u;
	json_t *out = json_array(), **order;
	size_t i, n = 0;
	char *repo = NULL;
	int rc = 0;

	if (!*base) {
		err_set(&ctx->err, ERR_REFUSED,
		    "batch %s has no base branch (it started on a detached "
		    "HEAD): merge its branches by hand",
		    str(batch, "batch"));
		json_decref(out);
		return cmd_fail(ctx);
	}
	order = xcalloc(json_array_size(units) + 1, sizeof *order);
	json_array_foreach(units, i, u)
	{
		json_t *s;
		if (strcmp(str(u, "status"), "done") != 0 ||
		    !*str(u, "session"))
			continue;
		if (repo == NULL &&
		    (s = cmd_get_session(ctx, str(u, "session"))) != NULL) {
			repo = xstrdup(str(s, "repo"));
			json_decref(s);
		}
		json_object_set_new(u, "files",
		    json_integer(
		        repo ? changed(repo, base, str(u, "branch")) : 0));
		order[n++] = u;
	}
	if (n && repo == NULL) {
		free(order);
		json_decref(out);
		return cmd_fail(ctx); /* cmd_get_session said why */
	}
	qsort(order, n, sizeof *order, by_risk);
	for (i = 0; i < n && rc == 0; i++)
		rc = merge_unit(ctx, repo, base, order[i], out);
	if (ctx->json) {
		json_t *o = json_pack("{s:s, s:s, s:o, s:b}", "batch",
		    str(batch, "batch"), "into", base, "units", out, "stopped",
		    rc != 0);
		cmd_print_json(o);
		json_decref(o);
	} else {
		if (n == 0)
			printf("batch %s: no unit is done: nothing to merge\n",
			    str(batch, "batch"));
		json_decref(out);
	}
	free(order);
	free(repo);
	return rc;
}
