/* Git worktrees for session isolation (DESIGN §7). */
#ifndef WORKTREE_H
#define WORKTREE_H

#include "err.h"

struct repo_info {
	char *top;  /* toplevel of the checkout cwd is in */
	char *main; /* the main checkout (where .git is a directory) */
	char *common; /* the common git dir */
};
#define REPO_INFO_INIT { NULL, NULL, NULL }

int repo_find(const char *cwd, struct repo_info *, struct err *);
void repo_info_release(struct repo_info *);

/* [A-Za-z0-9._-] and '/', no empty component, "." or "..", at most 64. */
int worktree_name_check(const char *, struct err *);
/* The base commit for mode "default" (origin/HEAD, else main/master) or
 * "head" (HEAD of the checkout the call came from). Caller frees. */
char *worktree_base(struct repo_info *, const char *mode, char **label,
    struct err *);
/* Create <main>/.galley/worktrees/<dir> on branch galley/<name> from base.
 * *path and *branch are set (caller frees). */
int worktree_create(struct repo_info *, const char *name, const char *base,
    char **path, char **branch, struct err *);

void worktree_undo_fresh(const char *main, const char *path,
    const char *branch);

#endif
