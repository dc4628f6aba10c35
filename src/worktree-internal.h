/* What worktree.c shares with worktree-pool.c alone. */
#ifndef WORKTREE_INTERNAL_H
#define WORKTREE_INTERNAL_H

#include "err.h"
#include "worktree.h"

/* flock on the main repo's .galley lock: serialises what git itself would
 * race on (.git/config.lock); -1 on failure. */
int repo_lock(struct repo_info *);
void repo_unlock(int fd);
/* The main repo ignores .galley/worktrees/ and .galley/pool/. */
int ensure_excluded(struct repo_info *, struct err *);
/* git worktree add (no checkout when the pool does it itself). */
int worktree_add(struct repo_info *, const char *branch, const char *path,
    const char *base, struct err *);

#endif
