/* opts.isolation = "worktree": a workflow agent in a git worktree of its
 * own (<repo>/.galley/worktrees/<run>-<key>, branch galley/<run>-<key>),
 * from the run directory's HEAD, its edits accepted there only. The name
 * follows the call's key, so a call started again after a crash finds
 * its worktree, and its work, where it was. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "git.h"
#include "spec.h"
#include "workflow.h"
#include "worktree.h"
#include "xmalloc.h"

/* opts.base: "head" (the default), "default" (the default branch), or a
 * ref or commit, resolved to a commit. */
static char *
base_of(struct repo_info *repo, const char *want, char **label, struct err *err)
{
	if (want == NULL || strcmp(want, "head") == 0 ||
	    strcmp(want, "default") == 0)
		return worktree_base(repo, want ? want : "head", label, err);
	if (want[0] == '-' || strlen(want) > 200) {
		err_set(err, ERR_USAGE, "opts.base '%.64s' is no ref", want);
		return NULL;
	}
	char *spec;
	xasprintf(&spec, "%s^{commit}", want);
	const char *args[] = {"rev-parse", "--verify", "-q", spec, NULL};
	char *sha = git_line(repo->top, args);
	free(spec);
	if (sha == NULL)
		err_set(err, ERR_NOT_FOUND, "opts.base '%.64s': no such commit",
		    want);
	else
		*label = xstrdup(want);
	return sha;
}

int
wf_worktree(struct wf_run *r, const char *key, json_t *opts,
    struct session_spec *sp, struct err *err)
{
	struct repo_info repo = REPO_INFO_INIT;
	char *base = NULL, *label = NULL, *path = NULL, *branch = NULL;
	char name[96], *dir = NULL, *want = NULL;
	const char *given = json_string_value(json_object_get(opts, "name"));
	struct stat st;
	int rc = -1;

	/* opts.name names it (branch galley/NAME); else the run and key */
	snprintf(name, sizeof name, "%s-%s", r->id, key);
	for (char *p = name; *p; p++)
		if (*p == '.')
			*p = '-';
	if (given) {
		if (worktree_name_check(given, err) < 0)
			goto out;
		snprintf(name, sizeof name, "%s", given);
	}
	if (repo_find(r->cwd, &repo, err) < 0 ||
	    (base = base_of(&repo,
	         json_string_value(json_object_get(opts, "base")), &label,
	         err)) == NULL)
		goto out;
	dir = worktree_dir_name(name);
	xasprintf(&want, "%s/.galley/worktrees/%s", repo.main, dir);
	if (lstat(want, &st) == 0) { /* started before a crash: its own */
		path = xstrdup(want);
		xasprintf(&branch, "galley/%s", name);
	} else if (worktree_create(&repo, name, base, &path, &branch, err) < 0)
		goto out;
	free(sp->cwd);
	sp->cwd = xstrdup(path);
	sp->worktree = xstrdup(path);
	sp->branch = xstrdup(branch);
	sp->repo = xstrdup(repo.main);
	sp->base = xstrdup(base);
	/* opts.base_ref: the branch a given commit came from (a batch's
	 * base), so merge and PRs know where the work goes */
	const char *ref = json_string_value(json_object_get(opts, "base_ref"));
	if (ref && worktree_name_check(ref, NULL) == 0) {
		free(label);
		label = xstrdup(ref);
	}
	sp->base_ref = xstrdup(label ? label : "HEAD");
	if (sp->permission_mode == NULL && sp->headless)
		sp->permission_mode = xstrdup("acceptEdits");
	rc = 0;
out:
	repo_info_release(&repo);
	free(base);
	free(label);
	free(path);
	free(branch);
	free(dir);
	free(want);
	return rc;
}
