/*
 * The warm pool of worktrees (issue 5): checked-out worktrees kept ready
 * per base commit under <main>/.galley/pool/, so a session's worktree is
 * a rename and a branch, not a checkout.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "git.h"
#include "util.h"
#include "worktree-internal.h"
#include "worktree.h"
#include "xmalloc.h"

/* ---- warm pool --------------------------------------------------------
 * <main>/.galley/pool/<base commit>/<slot>: clean worktrees on branches
 * galley-pool/<slot>, made ahead of time. Taking one is a rename (git
 * worktree move, git branch -m), so a session's worktree is ready in the
 * time of two small git calls whatever the size of the checkout. */

#define POOL_QUIET_MS 1000

static char *
pool_dir(struct repo_info *r, const char *base)
{
	char *p;

	xasprintf(&p, "%s/.galley/pool/%.40s", r->main, base);
	return p;
}

/* What `git worktree move` does to a worktree that is not locked and has
 * no submodules: rename the directory, and point its admin dir's gitdir
 * file at the new place. Done here, it costs a rename instead of a git
 * process that reads every worktree of the repo (a burst of 30 takes
 * paid seconds for that). Anything unexpected (a relative or foreign
 * gitdir, a lock): -1, and the caller asks git. */
static int
quick_move(const char *from, const char *to)
{
	struct buf dotgit = BUF_INIT, back = BUF_INIT;
	char *dotgit_path, *admin = NULL, *gitdir_file = NULL, *want = NULL;
	char *lock = NULL;
	struct stat st;
	int rc = -1;

	xasprintf(&dotgit_path, "%s/.git", from);
	if (read_file(dotgit_path, &dotgit, 4096, NULL) < 0 ||
	    strncmp(dotgit.data, "gitdir: /", 9) != 0)
		goto out;
	admin = xstrndup(dotgit.data + 8, strcspn(dotgit.data + 8, "\n"));
	xasprintf(&gitdir_file, "%s/gitdir", admin);
	xasprintf(&lock, "%s/locked", admin);
	xasprintf(&want, "%s/.git\n", from);
	if (stat(lock, &st) == 0 ||
	    read_file(gitdir_file, &back, 4096, NULL) < 0 ||
	    back.len != strlen(want) || memcmp(back.data, want, back.len) != 0)
		goto out;
	if (lstat(to, &st) == 0 || rename(from, to) != 0)
		goto out;
	free(want);
	xasprintf(&want, "%s/.git\n", to);
	if (write_file_replace(gitdir_file, want, strlen(want), 0644, 0, NULL) <
	    0) {
		rename(to, from); /* put it back: git still knows it there */
		goto out;
	}
	rc = 0;
out:
	buf_release(&dotgit);
	buf_release(&back);
	free(dotgit_path);
	free(admin);
	free(gitdir_file);
	free(lock);
	free(want);
	return rc;
}

/* `git branch -m` for a freshly taken slot (at commit sha), without the
 * scan of every worktree that branch -m makes: point the worktree's HEAD
 * at the new name, create it (it must not exist yet), drop the old one. */
static int
rename_branch(struct repo_info *r, const char *wt, const char *sha,
    const char *from, const char *to, struct err *err)
{
	struct git_result res = GIT_RESULT_INIT;
	char *ref, *old;
	int rc;

	xasprintf(&ref, "refs/heads/%s", to);
	xasprintf(&old, "refs/heads/%s", from);
	rc = git_ok(
	    wt, &res, err, (const char *[]){"symbolic-ref", "HEAD", ref, NULL});
	git_result_release(&res);
	/* one transaction: the new name must not exist yet */
	char *tx;
	xasprintf(&tx, "create %s %s\ndelete %s\n", ref, sha, old);
	if (rc == 0)
		rc = git_ok_input(r->main, tx, &res, err,
		    (const char *[]){"update-ref", "--stdin", NULL});
	git_result_release(&res);
	free(tx);
	free(ref);
	free(old);
	return rc;
}

/* The first slot this caller can claim: callers race (a batch takes 30
 * at once), and a slot is theirs only once they have made its claim file
 * and found it still there. */
static void
claim_slot(DIR *d, const char *dir, char **claimp, char **slot_pathp,
    char **slot_branchp)
{
	char *claim = NULL, *slot_path = NULL, *slot_branch = NULL;
	struct dirent *e;

	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		xasprintf(&claim, "%s/.claim-%s", dir, e->d_name);
		int fd =
		    open(claim, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0) {
			free(claim);
			claim = NULL;
			continue;
		}
		close(fd);
		xasprintf(&slot_path, "%s/%s", dir, e->d_name);
		/* another taker may have claimed it, moved it away and let
		 * the claim go since this listing was read */
		struct stat gone;
		if (lstat(slot_path, &gone) != 0) {
			unlink(claim);
			free(claim);
			free(slot_path);
			claim = slot_path = NULL;
			continue;
		}
		xasprintf(&slot_branch, "galley-pool/%s", e->d_name);
		break;
	}
	*claimp = claim;
	*slot_pathp = slot_path;
	*slot_branchp = slot_branch;
}

int
worktree_pool_take(struct repo_info *r, const char *base, const char *name,
    char **path, char **branch, struct err *err)
{
	struct git_result res = GIT_RESULT_INIT;
	char *dir = pool_dir(r, base), *slot_path = NULL, *slot_branch = NULL;
	char *claim = NULL;
	DIR *d = opendir(dir);
	int rc = 1; /* 1: the pool had nothing */

	*path = *branch = NULL;
	if (d == NULL)
		goto out;
	claim_slot(d, dir, &claim, &slot_path, &slot_branch);
	closedir(d);
	if (slot_path == NULL)
		goto out;
	char *dirname = worktree_dir_name(name);
	xasprintf(path, "%s/.galley/worktrees/%s", r->main, dirname);
	xasprintf(branch, "galley/%s", name);
	free(dirname);
	char *parent;
	xasprintf(&parent, "%s/.galley/worktrees", r->main);
	int made = mkdir_p(parent, 0755, err);
	free(parent);
	if (made < 0) {
		rc = -1;
		goto out;
	}
	const char *mv[] = {"worktree", "move", slot_path, *path, NULL};
	int lk = repo_lock(r);
	int moved = quick_move(slot_path, *path) == 0
	    ? 0
	    : git_ok(r->main, &res, err, mv);
	repo_unlock(lk);
	if (moved < 0) {
		rc = -1;
		goto out;
	}
	git_result_release(&res);
	if (rename_branch(r, *path, base, slot_branch, *branch, err) < 0) {
		rc = -1;
		goto out;
	}
	rc = 0;
out:
	if (rc != 0) {
		free(*path);
		free(*branch);
		*path = *branch = NULL;
	}
	git_result_release(&res);
	if (claim) {
		unlink(claim);
		free(claim);
	}
	free(dir);
	free(slot_path);
	free(slot_branch);
	return rc;
}

/* Each take changes the pool directory: while takes keep coming (a batch
 * of 30), the filler waits, so its checkouts do not compete with them. */
static void
quiet_wait(const char *dir)
{
	struct stat st;

	for (int i = 0; i < 600 && stat(dir, &st) == 0; i++) {
		int64_t changed = (int64_t)st.st_mtim.tv_sec * 1000 +
		    st.st_mtim.tv_nsec / 1000000;
		int64_t age = wall_ms() - changed;
		if (age >= POOL_QUIET_MS || age < 0)
			return;
		usleep((useconds_t)(POOL_QUIET_MS - age) * 1000);
	}
}

/* Top the pool for base up to n; drop slots made from an older base. */
/* Slots of another base are clean copies of an old commit: drop them. */
static void
drop_stale_bases(struct repo_info *r, const char *root, const char *base)
{
	DIR *d;
	struct dirent *e;

	if ((d = opendir(root)) != NULL) {
		while ((e = readdir(d)) != NULL) {
			if (e->d_name[0] == '.' || strcmp(e->d_name, base) == 0)
				continue;
			/* a stale base: its slots are clean copies, drop them
			 */
			char *old;
			xasprintf(&old, "%s/%s", root, e->d_name);
			DIR *od = opendir(old);
			struct dirent *oe;
			while (od && (oe = readdir(od)) != NULL) {
				if (oe->d_name[0] == '.')
					continue;
				char *p, *b;
				xasprintf(&p, "%s/%s", old, oe->d_name);
				xasprintf(&b, "galley-pool/%s", oe->d_name);
				worktree_undo_fresh(r->main, p, b);
				free(p);
				free(b);
			}
			if (od)
				closedir(od);
			rmdir(old);
			free(old);
		}
		closedir(d);
	}
}

int
worktree_pool_fill(
    struct repo_info *r, const char *base, int n, struct err *err)
{
	char *root, *dir = pool_dir(r, base);
	struct git_result res = GIT_RESULT_INIT;
	DIR *d;
	struct dirent *e;
	int have = 0, rc = 0, lockfd = -1;

	xasprintf(&root, "%s/.galley/pool", r->main);
	if (mkdir_p(root, 0755, err) < 0) {
		free(root);
		free(dir);
		return -1;
	}
	/* one filler at a time; another running one does the work */
	char *lock;
	xasprintf(&lock, "%s/.fill.lock", root);
	lockfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	free(lock);
	if (lockfd < 0 || flock(lockfd, LOCK_EX | LOCK_NB) != 0) {
		if (lockfd >= 0)
			close(lockfd);
		free(root);
		free(dir);
		return 0;
	}
	drop_stale_bases(r, root, base);
	if (mkdir_p(dir, 0755, err) < 0 || ensure_excluded(r, err) < 0) {
		rc = -1;
		goto out;
	}
	if ((d = opendir(dir)) != NULL) {
		while ((e = readdir(d)) != NULL)
			if (e->d_name[0] != '.')
				have++;
		closedir(d);
	}
	for (; have < n; have++) {
		char slot[17], *stage, *p, *b;
		quiet_wait(dir);
		random_hex(slot, 16);
		/* made under a dot name, moved in when whole: take() skips
		 * dot names, so it never hands out a half-made worktree */
		xasprintf(&stage, "%s/.new-%s", dir, slot);
		xasprintf(&p, "%s/%s", dir, slot);
		xasprintf(&b, "galley-pool/%s", slot);
		const char *mv[] = {"worktree", "move", stage, p, NULL};
		int ok = worktree_add(r, b, stage, base, err);
		if (ok == 0) {
			int lk = repo_lock(r);
			ok = git_ok(r->main, &res, err, mv);
			repo_unlock(lk);
		}
		git_result_release(&res);
		free(stage);
		free(p);
		free(b);
		if (ok < 0) {
			rc = -1;
			break;
		}
	}
out:
	close(lockfd);
	free(root);
	free(dir);
	return rc;
}
