/* opts.isolation = "worktree": a workflow agent in a git worktree of its
 * own (<repo>/.galley/worktrees/<run>-<key>, branch galley/<run>-<key>),
 * from the run directory's HEAD, its edits accepted there only. The name
 * follows the call's key, so a call started again after a crash finds
 * its worktree, and its work, where it was. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "spec.h"
#include "workflow.h"
#include "worktree.h"
#include "xmalloc.h"

int
wf_worktree(
    struct wf_run *r, const char *key, struct session_spec *sp, struct err *err)
{
	struct repo_info repo = REPO_INFO_INIT;
	char *base = NULL, *label = NULL, *path = NULL, *branch = NULL;
	char name[96], *dir = NULL, *want = NULL;
	struct stat st;
	int rc = -1;

	snprintf(name, sizeof name, "%s-%s", r->id, key);
	for (char *p = name; *p; p++)
		if (*p == '.')
			*p = '-';
	if (repo_find(r->cwd, &repo, err) < 0 ||
	    (base = worktree_base(&repo, "head", &label, err)) == NULL)
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
