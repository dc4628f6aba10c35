/*
 * Worktrees: one per isolated session at <main>/.galley/worktrees/<name> on
 * branch galley/<name> ('/' in a name becomes '+' in the directory), made
 * with the git CLI. The main checkout is found from any subdirectory or
 * other worktree through git's common dir.
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

void
repo_info_release(struct repo_info *r)
{
	free(r->top);
	free(r->main);
	free(r->common);
	r->top = r->main = r->common = NULL;
}

int
repo_find(const char *cwd, struct repo_info *r, struct err *err)
{
	static const char *const top_args[] = {
	    "rev-parse", "--show-toplevel", NULL};
	static const char *const common_args[] = {
	    "rev-parse", "--path-format=absolute", "--git-common-dir", NULL};
	static const char *const head_args[] = {
	    "rev-parse", "--verify", "-q", "HEAD", NULL};
	static const char *const all_args[] = {"rev-parse", "--show-toplevel",
	    "--path-format=absolute", "--git-common-dir", "--verify", "-q",
	    "HEAD", NULL};
	struct git_result res = GIT_RESULT_INIT;
	char *head;

	/* the usual case in one git call; anything odd goes the long way,
	 * which says exactly what is wrong */
	if (git_run(cwd, &res, all_args) == 0) {
		char *a = res.out.data, *b = strchr(a, '\n');
		char *c = b ? strchr(b + 1, '\n') : NULL;
		size_t n = b && c ? (size_t)(c - (b + 1)) : 0;
		if (n > 5 && strncmp(b + 1 + n - 5, "/.git", 5) == 0 &&
		    strchr(c + 1, '\n') != NULL) {
			r->top = xstrndup(a, (size_t)(b - a));
			r->common = xstrndup(b + 1, n);
			r->main = xstrndup(b + 1, n - 5);
			git_result_release(&res);
			return 0;
		}
	}
	git_result_release(&res);
	r->top = git_line(cwd, top_args);
	if (r->top == NULL)
		return err_set(err, ERR_USAGE,
		    "'%s' is not in a git repository: run 'git init' there, or "
		    "use --cwd DIR inside a repository",
		    cwd);
	r->common = git_line(cwd, common_args);
	if (r->common == NULL)
		return err_set(
		    err, ERR_FAILED, "cannot find the git dir of '%s'", r->top);
	size_t n = strlen(r->common);
	if (n > 5 && strcmp(r->common + n - 5, "/.git") == 0)
		r->main = xstrndup(r->common, n - 5);
	else
		return err_set(err, ERR_USAGE,
		    "'%s' is a bare repository: worktrees need a checkout",
		    r->common);
	head = git_line(cwd, head_args);
	if (head == NULL)
		return err_set(err, ERR_USAGE,
		    "repository '%s' has no commit yet: commit something first "
		    "(git commit --allow-empty -m init)",
		    r->main);
	free(head);
	return 0;
}

int
worktree_name_check(const char *name, struct err *err)
{
	size_t n = name ? strlen(name) : 0;
	const char *p;

	if (n == 0 || n > 64 || name[0] == '/' || name[n - 1] == '/' ||
	    strstr(name, "//") != NULL)
		goto bad;
	for (p = name; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		        (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		        c == '-' || c == '/'))
			goto bad;
	}
	/* no component may be "." or "..", start with '.', or end ".lock"
	 * (git's ref rules) */
	for (p = name; *p;) {
		size_t len = strcspn(p, "/");
		if (p[0] == '.' ||
		    (len >= 5 && strncmp(p + len - 5, ".lock", 5) == 0))
			goto bad;
		p += len;
		if (*p == '/')
			p++;
	}
	return 0;
bad:
	return err_set(err, ERR_USAGE,
	    "invalid worktree name '%.80s': use 1-64 of [A-Za-z0-9._-] and "
	    "'/', no empty or dot-led parts",
	    name ? name : "");
}

/* origin/HEAD's branch, else main, else master, with its commit, in one
 * git call; NULL if none (the caller then asks one by one). */
static char *
default_branch(struct repo_info *r, char **label)
{
	static const char *const args[] = {"for-each-ref",
	    "--format=%(refname)%09%(symref)%09%(objectname)%09%(objecttype)",
	    "refs/remotes/origin/HEAD", "refs/heads/main", "refs/heads/master",
	    NULL};
	struct git_result res = GIT_RESULT_INIT;
	char *found = NULL;
	int rank = 99;

	*label = NULL;
	if (git_run(r->main, &res, args) != 0) {
		git_result_release(&res);
		return NULL;
	}
	for (char *line = res.out.data; line && *line;) {
		char *nl = strchr(line, '\n'), *f[4];
		if (nl)
			*nl = '\0';
		int n = 0;
		for (char *p = line; n < 4; n++) {
			f[n] = p;
			char *tab = strchr(p, '\t');
			if (tab == NULL) {
				n++;
				break;
			}
			*tab = '\0';
			p = tab + 1;
		}
		int my = n < 4                                      ? 99
		    : strcmp(f[0], "refs/remotes/origin/HEAD") == 0 ? 0
		    : strcmp(f[0], "refs/heads/main") == 0          ? 1
		                                                    : 2;
		if (my < rank && strcmp(f[3], "commit") == 0 &&
		    (my != 0 || strncmp(f[1], "refs/remotes/", 13) == 0)) {
			rank = my;
			free(found);
			free(*label);
			found = xstrdup(f[2]);
			*label =
			    xstrdup(my == 0 ? f[1] + strlen("refs/remotes/")
			                    : f[0] + strlen("refs/heads/"));
		}
		line = nl ? nl + 1 : NULL;
	}
	git_result_release(&res);
	if (found == NULL) {
		free(*label);
		*label = NULL;
	}
	return found;
}

char *
worktree_base(
    struct repo_info *r, const char *mode, char **label, struct err *err)
{
	static const char *const origin_args[] = {
	    "symbolic-ref", "-q", "--short", "refs/remotes/origin/HEAD", NULL};
	char *ref = NULL, *sha;

	*label = NULL;
	if (mode != NULL && strcmp(mode, "head") == 0) {
		ref = xstrdup("HEAD");
	} else if ((sha = default_branch(r, &ref)) != NULL) {
		*label = ref;
		return sha;
	} else {
		ref = git_line(r->main, origin_args);
		for (int i = 0; ref == NULL && i < 2; i++) {
			const char *cand = i == 0 ? "main" : "master";
			char *full;
			xasprintf(&full, "refs/heads/%s", cand);
			const char *args[] = {
			    "rev-parse", "--verify", "-q", full, NULL};
			char *v = git_line(r->main, args);
			free(full);
			if (v != NULL) {
				free(v);
				ref = xstrdup(cand);
			}
		}
		if (ref == NULL) {
			err_set(err, ERR_USAGE,
			    "no default branch in '%s' (no origin/HEAD, main "
			    "or master): use --base head",
			    r->main);
			return NULL;
		}
	}
	char *spec;
	xasprintf(&spec, "%s^{commit}", ref);
	const char *args[] = {"rev-parse", "--verify", "-q", spec, NULL};
	/* HEAD is the caller's checkout; branch names resolve anywhere */
	sha = git_line(strcmp(ref, "HEAD") == 0 ? r->top : r->main, args);
	free(spec);
	if (sha == NULL) {
		err_set(err, ERR_FAILED, "cannot resolve base '%s'", ref);
		free(ref);
		return NULL;
	}
	*label = ref;
	return sha;
}

/* Make sure the main repo ignores .galley/worktrees/ and .galley/pool/
 * without touching the user's .gitignore. */
int
ensure_excluded(struct repo_info *r, struct err *err)
{
	static const char line[] = "/.galley/worktrees/\n/.galley/pool/";
	char *dir, *path;
	struct buf b = BUF_INIT;
	int rc = 0;

	xasprintf(&dir, "%s/info", r->common);
	xasprintf(&path, "%s/exclude", dir);
	if (mkdir_p(dir, 0755, err) < 0) {
		rc = -1;
		goto out;
	}
	read_file(path, &b, 4 << 20, NULL);
	if (strstr(b.data, line) != NULL)
		goto out;
	if (b.len > 0 && b.data[b.len - 1] != '\n')
		buf_addc(&b, '\n');
	buf_addf(&b, "# galley: session worktrees\n%s\n", line);
	rc = write_file_atomic(path, b.data, b.len, 0644, err);
out:
	buf_release(&b);
	free(dir);
	free(path);
	return rc;
}

/* git worktree add, with only the metadata step under the repo lock:
 * the checkout (seconds on a big tree) then runs alone in the new
 * worktree, so parallel creations and pool takes do not queue behind
 * it. */
int
worktree_add(struct repo_info *r, const char *branch, const char *path,
    const char *base, struct err *err)
{
	struct git_result res = GIT_RESULT_INIT;
	const char *add[] = {"worktree", "add", "-q", "--no-checkout", "-b",
	    branch, path, base, NULL};
	const char *co[] = {"reset", "-q", "--hard", NULL};
	int lk = repo_lock(r);
	int rc = git_ok(r->main, &res, err, add);
	repo_unlock(lk);
	git_result_release(&res);
	if (rc < 0)
		return -1;
	rc = git_ok(path, &res, err, co);
	git_result_release(&res);
	if (rc < 0)
		worktree_undo_fresh(r->main, path, branch);
	return rc;
}

int
worktree_create(struct repo_info *r, const char *name, const char *base,
    char **path, char **branch, struct err *err)
{
	struct git_result res = GIT_RESULT_INIT;
	char *dirname = xstrdup(name), *parent = NULL;
	struct stat st;
	int rc = -1;

	*path = *branch = NULL;
	for (char *p = dirname; *p; p++)
		if (*p == '/')
			*p = '+';
	xasprintf(path, "%s/.galley/worktrees/%s", r->main, dirname);
	xasprintf(branch, "galley/%s", name);
	xasprintf(&parent, "%s/.galley/worktrees", r->main);
	if (lstat(*path, &st) == 0) {
		err_set(err, ERR_EXISTS,
		    "worktree '%s' already exists at %s: pick another name, "
		    "or 'galley worktree rm %s'",
		    name, *path, name);
		goto out;
	}
	const char *vargs[] = {"rev-parse", "--verify", "-q", *branch, NULL};
	char *have = git_line(r->main, vargs);
	if (have != NULL) {
		free(have);
		err_set(err, ERR_EXISTS,
		    "branch '%s' already exists: pick another worktree name",
		    *branch);
		goto out;
	}
	if (mkdir_p(parent, 0755, err) < 0 || ensure_excluded(r, err) < 0)
		goto out;
	if (worktree_add(r, *branch, *path, base, err) < 0)
		goto out;
	rc = 0;
out:
	if (rc < 0) {
		free(*path);
		free(*branch);
		*path = *branch = NULL;
	}
	git_result_release(&res);
	free(dirname);
	free(parent);
	return rc;
}

/* Undo a worktree made a moment ago for a session that then failed to
 * start: it holds nothing but the base, so nothing can be lost. */
void
worktree_undo_fresh(const char *main, const char *path, const char *branch)
{
	struct git_result r = GIT_RESULT_INIT;
	const char *rm[] = {"worktree", "remove", "--force", path, NULL};
	const char *br[] = {"branch", "-D", branch, NULL};

	git_run(main, &r, rm);
	git_result_release(&r);
	git_run(main, &r, br);
	git_result_release(&r);
}

/* git worktree add/move are not safe to run side by side in one repo
 * (each reads the others' half-written metadata): galley's own calls take
 * turns on a lock in the common git dir. Returns the fd to close. */
int
repo_lock(struct repo_info *r)
{
	char *path;
	int fd;

	xasprintf(&path, "%s/galley-worktree.lock", r->common);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	free(path);
	if (fd >= 0)
		while (flock(fd, LOCK_EX) != 0 && errno == EINTR)
			;
	return fd;
}

void
repo_unlock(int fd)
{
	if (fd >= 0)
		close(fd);
}

/* What `git worktree lock --reason R` / `unlock` do: write or remove the
 * admin dir's "locked" file. Done here, in order, because two git
 * processes started a moment apart (a session that ends as it starts)
 * can run out of order and leave a finished session's worktree locked. */
int
worktree_set_locked(const char *path, const char *reason)
{
	struct buf dotgit = BUF_INIT;
	char *dotgit_path, *lock = NULL;
	int rc = -1;

	xasprintf(&dotgit_path, "%s/.git", path);
	if (read_file(dotgit_path, &dotgit, 4096, NULL) < 0 ||
	    dotgit.len < 10 || strncmp(dotgit.data, "gitdir: /", 9) != 0)
		goto out;
	xasprintf(&lock, "%.*s/locked", (int)strcspn(dotgit.data + 8, "\r\n"),
	    dotgit.data + 8);
	if (reason != NULL)
		rc = write_file_replace(
		    lock, reason, strlen(reason), 0644, 0, NULL);
	else
		rc = unlink(lock) == 0 || errno == ENOENT ? 0 : -1;
out:
	buf_release(&dotgit);
	free(dotgit_path);
	free(lock);
	return rc;
}

char *
worktree_dir_name(const char *name)
{
	char *d = xstrdup(name);

	for (char *p = d; *p; p++)
		if (*p == '/')
			*p = '+';
	return d;
}

void
wt_risk_release(struct wt_risk *r)
{
	buf_release(&r->files);
	buf_release(&r->commits);
	r->nfiles = r->ncommits = 0;
}

/* Every way removal could lose work: uncommitted changes and untracked
 * files (ignored ones are build output), and commits that no other branch
 * or remote-tracking branch contains. */
int
worktree_risk(const char *main, const char *path, const char *branch,
    struct wt_risk *risk, struct err *err)
{
	struct git_result r = GIT_RESULT_INIT;
	struct stat st;
	char *own = NULL, *excl = NULL;
	int rc = -1;

	if (stat(path, &st) == 0) {
		const char *args[] = {
		    "status", "--porcelain=v1", "-uall", "-z", NULL};
		if (git_ok(path, &r, err, args) < 0)
			goto out;
		/* entries are "XY path\0" (renames add "\0from") */
		for (size_t i = 0; i < r.out.len;) {
			const char *e = r.out.data + i;
			size_t len = strlen(e);
			if (len > 3) {
				buf_addf(&risk->files, "%s\n", e + 3);
				risk->nfiles++;
			}
			i += len + 1;
			if (len > 1 && (e[0] == 'R' || e[0] == 'C'))
				i += strlen(r.out.data + i) + 1;
		}
		git_result_release(&r);
	}
	if (branch != NULL) {
		xasprintf(&own, "refs/heads/%s", branch);
		const char *vargs[] = {"show-ref", "--verify", "-q", own, NULL};
		if (git_run(main, &r, vargs) != 0) {
			git_result_release(&r);
			rc = 0; /* no branch: no commits of its own */
			goto out;
		}
		git_result_release(&r);
		/* --exclude patterns for --branches omit "refs/heads/" */
		xasprintf(&excl, "--exclude=%s", branch);
		const char *args[] = {"rev-list", "--abbrev-commit", own,
		    "--not", excl, "--branches", "--remotes", NULL};
		if (git_ok(main, &r, err, args) < 0)
			goto out;
		for (char *p = r.out.data; *p;) {
			size_t len = strcspn(p, "\n");
			if (len) {
				buf_add(&risk->commits, p, len);
				buf_addc(&risk->commits, '\n');
				risk->ncommits++;
			}
			p += len + (p[len] == '\n');
		}
	}
	rc = 0;
out:
	git_result_release(&r);
	free(own);
	free(excl);
	return rc;
}

static void
list_some(struct buf *out, const char *lines, int n, const char *what)
{
	int shown = 0;

	buf_addf(out, "%d %s%s (", n, what, n == 1 ? "" : "s");
	for (const char *p = lines; *p && shown < 5;) {
		size_t len = strcspn(p, "\n");
		buf_addf(out, "%s%.*s", shown ? ", " : "", (int)len, p);
		shown++;
		p += len + (p[len] == '\n');
	}
	buf_adds(out, n > shown ? ", ...)" : ")");
}

void
wt_risk_describe(struct wt_risk *r, struct buf *out)
{
	if (r->nfiles)
		list_some(out, r->files.data, r->nfiles,
		    "uncommitted or untracked file");
	if (r->nfiles && r->ncommits)
		buf_adds(out, " and ");
	if (r->ncommits)
		list_some(out, r->commits.data, r->ncommits,
		    "commit on no other branch");
}

int
worktree_remove(const char *main, const char *path, const char *branch,
    int force, int *kept_branch, struct err *err)
{
	struct wt_risk risk = WT_RISK_INIT;
	struct git_result r = GIT_RESULT_INIT;
	struct stat st;
	int rc = -1;

	*kept_branch = 0;
	if (worktree_risk(main, path, branch, &risk, err) < 0)
		goto out;
	if ((risk.nfiles || risk.ncommits) && !force) {
		struct buf m = BUF_INIT;
		wt_risk_describe(&risk, &m);
		err_set(err, ERR_REFUSED,
		    "refusing to remove %s: it would lose %s; commit or merge "
		    "them, or use --force",
		    path, m.data);
		buf_release(&m);
		goto out;
	}
	if (stat(path, &st) == 0) {
		const char *args[] = {
		    "worktree", "remove", "--force", "--force", path, NULL};
		/* --force twice: also when locked; safety was checked above */
		if (git_ok(main, &r, err, args) < 0)
			goto out;
		git_result_release(&r);
	}
	const char *prune[] = {"worktree", "prune", NULL};
	git_run(main, &r, prune);
	git_result_release(&r);
	if (branch != NULL) {
		if (risk.ncommits) {
			*kept_branch = 1; /* never delete a commit */
		} else {
			const char *args[] = {
			    "branch", "-D", "-q", branch, NULL};
			git_run(main, &r, args);
		}
	}
	rc = 0;
out:
	git_result_release(&r);
	wt_risk_release(&risk);
	return rc;
}

static int
copy_file(const char *from, const char *to, mode_t mode)
{
	char chunk[65536];
	ssize_t n;
	int in, out, rc = 0;

	in = open(from, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return -1;
	out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode & 07777);
	if (out < 0) {
		close(in);
		return -1;
	}
	while ((n = read(in, chunk, sizeof chunk)) > 0)
		if (write_all(out, chunk, (size_t)n) < 0) {
			rc = -1;
			break;
		}
	if (n < 0)
		rc = -1;
	close(in);
	close(out);
	return rc;
}

/* NUL-separated git output to a set we can search (sorted by git). */
static int
in_list(const struct buf *list, const char *path)
{
	for (size_t i = 0; i < list->len;) {
		const char *e = list->data + i;
		if (strcmp(e, path) == 0)
			return 1;
		i += strlen(e) + 1;
	}
	return 0;
}

/* Under one of the symlinked directories? */
static int
under_any(json_t *dirs, const char *path)
{
	size_t i;
	json_t *d;

	json_array_foreach(dirs, i, d)
	{
		const char *name = json_string_value(d);
		size_t n = name ? strlen(name) : 0;
		if (n && strncmp(path, name, n) == 0 &&
		    (path[n] == '/' || path[n] == '\0'))
			return 1;
	}
	return 0;
}

/*
 * Claude Code's .worktreeinclude: files that match it AND are ignored and
 * untracked (.env, local config) are copied into a new worktree; never a
 * tracked file, never a symlink. Big directories named in
 * worktree.symlinkDirectories (node_modules, .venv) are linked instead.
 */
int
worktree_populate(struct repo_info *r, const char *path, json_t *symlinks,
    int *copied, int *linked, struct err *err)
{
	struct git_result ign = GIT_RESULT_INIT, inc = GIT_RESULT_INIT;
	char *incfile = NULL;
	struct stat st;
	size_t i;
	json_t *d;
	int rc = -1;

	*copied = *linked = 0;
	json_array_foreach(symlinks, i, d)
	{
		const char *name = json_string_value(d);
		char *from, *to;
		if (name == NULL || *name == '\0' || strstr(name, "..") ||
		    name[0] == '/')
			continue;
		xasprintf(&from, "%s/%s", r->main, name);
		xasprintf(&to, "%s/%s", path, name);
		if (stat(from, &st) == 0 && S_ISDIR(st.st_mode) &&
		    lstat(to, &st) != 0 && symlink(from, to) == 0)
			(*linked)++;
		free(from);
		free(to);
	}
	xasprintf(&incfile, "%s/.worktreeinclude", r->main);
	if (access(incfile, F_OK) != 0) {
		rc = 0;
		goto out;
	}
	const char *ign_args[] = {"ls-files", "-z", "--others", "--ignored",
	    "--exclude-standard", NULL};
	char *excl;
	xasprintf(&excl, "--exclude-from=%s", incfile);
	const char *inc_args[] = {
	    "ls-files", "-z", "--others", "--ignored", excl, NULL};
	int a = git_ok(r->main, &ign, err, ign_args);
	int b = a < 0 ? -1 : git_ok(r->main, &inc, err, inc_args);
	free(excl);
	if (a < 0 || b < 0)
		goto out;
	for (size_t k = 0; k < inc.out.len;) {
		const char *rel = inc.out.data + k;
		k += strlen(rel) + 1;
		if (!in_list(&ign.out, rel) || under_any(symlinks, rel))
			continue;
		char *from, *to;
		xasprintf(&from, "%s/%s", r->main, rel);
		xasprintf(&to, "%s/%s", path, rel);
		if (lstat(from, &st) == 0 && S_ISREG(st.st_mode)) {
			char *dir = xstrdup(to);
			*strrchr(dir, '/') = '\0';
			if (mkdir_p(dir, 0755, NULL) == 0 &&
			    copy_file(from, to, st.st_mode) == 0)
				(*copied)++;
			free(dir);
		}
		free(from);
		free(to);
	}
	rc = 0;
out:
	git_result_release(&ign);
	git_result_release(&inc);
	free(incfile);
	return rc;
}
