/* Git worktrees for session isolation (DESIGN §7). */
#ifndef WORKTREE_H
#define WORKTREE_H

#include <jansson.h>

#include "err.h"

struct repo_info {
	char *top;    /* toplevel of the checkout cwd is in */
	char *main;   /* the main checkout (where .git is a directory) */
	char *common; /* the common git dir */
};
#define REPO_INFO_INIT                                                         \
	{                                                                      \
		NULL, NULL, NULL                                               \
	}

int repo_find(const char *cwd, struct repo_info *, struct err *);
void repo_info_release(struct repo_info *);

/* [A-Za-z0-9._-] and '/', no empty component, "." or "..", at most 64. */
int worktree_name_check(const char *, struct err *);
/* The base commit for mode "default" (origin/HEAD, else main/master) or
 * "head" (HEAD of the checkout the call came from). Caller frees. */
char *worktree_base(
    struct repo_info *, const char *mode, char **label, struct err *);
/* Create <main>/.galley/worktrees/<dir> on branch galley/<name> from base.
 * *path and *branch are set (caller frees). */
int worktree_create(struct repo_info *, const char *name, const char *base,
    char **path, char **branch, struct err *);

/* What removing a worktree would lose. */
struct wt_risk {
	struct buf files;   /* changed or untracked (not ignored), one a line */
	struct buf commits; /* on its branch only: in no other branch/remote */
	int nfiles, ncommits;
};
#define WT_RISK_INIT                                                           \
	{                                                                      \
		BUF_INIT, BUF_INIT, 0, 0                                       \
	}

int worktree_risk(const char *main, const char *path, const char *branch,
    struct wt_risk *, struct err *);
void wt_risk_release(struct wt_risk *);
/* "would lose: 2 changed files (a.c, b.c), 1 commit (abc1234)" */
void wt_risk_describe(struct wt_risk *, struct buf *);
/* Remove a worktree; its branch too when no commit would be lost. Refuses
 * (ERR_REFUSED) what would lose work unless force; even then a branch with
 * commits of its own is kept. *kept_branch is set when it was kept. */
int worktree_remove(const char *main, const char *path, const char *branch,
    int force, int *kept_branch, struct err *);
char *worktree_dir_name(const char *name);
/* Lock (reason) or unlock (NULL) a linked worktree as git does. */
int worktree_set_locked(const char *path, const char *reason);

/* Copy .worktreeinclude'd ignored files; link symlinkDirectories. */
int worktree_populate(struct repo_info *, const char *path, json_t *symlinks,
    int *copied, int *linked, struct err *);

/* The warm pool. take: 0 with *path and *branch set, 1 if the pool for base is
 * empty, -1 on error. */
int worktree_pool_take(struct repo_info *, const char *base, const char *name,
    char **path, char **branch, struct err *);
int worktree_pool_fill(
    struct repo_info *, const char *base, int n, struct err *);

void worktree_undo_fresh(
    const char *main, const char *path, const char *branch);

#endif
