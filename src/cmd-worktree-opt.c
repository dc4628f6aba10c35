/* The -w/--worktree [NAME] and --base options shared by new and exec: make
 * the session's worktree before the request goes to the daemon. */
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cmd.h"
#include "names.h"
#include "settings.h"
#include "util.h"
#include "git.h"
#include "worktree.h"
#include "xmalloc.h"

extern char **environ;

int
cmd_opt_start(struct cmd_ctx *ctx, int c, struct start_opts *o)
{
	switch (c) {
	case 'n':
		o->name = optarg;
		return -1;
	case 'C':
		o->cwd = optarg;
		return -1;
	case 'p':
		o->pin = 1;
		return -1;
	case 'w':
		if (optarg != NULL && worktree_name_check(optarg, NULL) < 0)
			return cmd_usage_error(ctx,
			    "invalid worktree name '%s': use [A-Za-z0-9._/-], "
			    "no '..'; for an automatic name put -w last or "
			    "before --",
			    optarg);
		o->use_wt = 1;
		o->wt_name = optarg;
		return -1;
	case 'W':
		o->use_wt = 0;
		return -1;
	case OPT_GROUP:
		o->group = optarg;
		return -1;
	case OPT_AFTER:
		o->after = optarg;
		return -1;
	case OPT_PRIORITY:
		o->priority = optarg;
		return -1;
	case OPT_BUDGET_USD:
		o->budget_usd = optarg;
		return -1;
	case OPT_BUDGET_TOKENS:
		o->budget_tokens = optarg;
		return -1;
	case OPT_SANDBOX:
		o->sandbox = optarg;
		return -1;
	case OPT_ON:
		o->on = optarg;
		return -1;
	case OPT_PARTITION:
		o->partition = optarg;
		return -1;
	case OPT_TIME:
		o->time = optarg;
		return -1;
	case OPT_CPUS:
		o->cpus = optarg;
		return -1;
	case OPT_MEM:
		o->mem = optarg;
		return -1;
	case OPT_NODES:
		o->nodes = optarg;
		return -1;
	case 'B':
		if (strcmp(optarg, "default") && strcmp(optarg, "head"))
			return cmd_usage_error(
			    ctx, "--base takes default or head");
		o->base_mode = optarg;
		return -1;
	}
	return 0;
}

/* `-w NAME` with NAME as its own word: getopt's optional arguments only
 * take `-wNAME`/`--worktree=NAME`, so fold the word in before parsing. The
 * rule has no guessing in it: the word after -w is the worktree's name
 * unless it is an option or `--` (checked in cmd_opt_start); -w last, or
 * followed by an option or `--`, asks for an automatic name. */
void
cmd_fold_worktree_arg(struct cmd_ctx *ctx)
{
	for (int i = 1; i + 1 < ctx->argc; i++) {
		const char *a = ctx->argv[i];
		if (strcmp(a, "--") == 0)
			break;
		if (strcmp(a, "-w") != 0 && strcmp(a, "--worktree") != 0)
			continue;
		const char *next = ctx->argv[i + 1];
		if (next[0] == '-' && next[1] != '\0')
			continue;
		char *merged;
		xasprintf(&merged, "--worktree=%s", next);
		ctx->argv[i] = merged; /* lives as long as the process */
		memmove(&ctx->argv[i + 1], &ctx->argv[i + 2],
		    (size_t)(ctx->argc - i - 2) * sizeof *ctx->argv);
		ctx->argc--;
		ctx->argv[ctx->argc] = NULL;
		break;
	}
}

/* Top the pool up in the background: the caller must not wait for it. */
void
cmd_pool_refill(const char *main, const char *base, int n)
{
	char count[16];
	/* --delay: a burst of takes (a batch) goes first; each add of the
	 * refill holds the repo's worktree lock for as long as a checkout */
	char *argv[] = {"galley", "worktree", "pool", "--fill", "--delay",
	    "1000", "--base", (char *)base, "--count", count, NULL};
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	pid_t pid;

	snprintf(count, sizeof count, "%d", n);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addchdir_np(&fa, main);
	posix_spawnattr_init(&at);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSID);
	posix_spawn(&pid, self_exe(), &fa, &at, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
}

/* Create the worktree and point the request at it. name may be NULL (one
 * is made from hint); base_mode NULL means the worktree.baseRef setting. */
/* A free name from the prompt: the first one not yet taken (caller
 * frees). */
static char *
free_name(struct repo_info *repo, const char *hint)
{
	char *stem = name_from_text(hint ? hint : "session", 32);
	char *name = NULL;
	struct stat st;

	for (int i = 1; i < 1000; i++) {
		free(name);
		if (i == 1)
			name = xstrdup(stem);
		else
			xasprintf(&name, "%s-%d", stem, i);
		char *p, *ref;
		xasprintf(&p, "%s/.galley/worktrees/%s", repo->main, name);
		xasprintf(&ref, "refs/heads/galley/%s", name);
		const char *args[] = {"show-ref", "--verify", "-q", ref, NULL};
		int taken = lstat(p, &st) == 0;
		if (!taken) {
			char *have = git_line(repo->main, args);
			taken = have != NULL;
			free(have);
		}
		free(p);
		free(ref);
		if (!taken)
			break;
	}
	free(stem);
	return name;
}

/* The session runs in the same subdirectory inside the worktree as the
 * caller is in (sub), and is named after its worktree unless named. */
static void
point_request(json_t *req, const char *sub, const char *path, const char *name)
{
	char *wcwd;
	struct stat wst;

	xasprintf(&wcwd, "%s%s", path, sub);
	if (stat(wcwd, &wst) != 0 || !S_ISDIR(wst.st_mode)) {
		/* an untracked subdirectory is not in the worktree */
		free(wcwd);
		wcwd = xstrdup(path);
	}
	json_object_set_new(req, "cwd", json_string(wcwd));
	free(wcwd);
	if (json_object_get(req, "name") == NULL) {
		char *sname = xstrdup(name);
		for (char *q = sname; *q; q++)
			if (*q == '/')
				*q = '-';
		if (name_valid(sname))
			json_object_set_new(req, "name", json_string(sname));
		free(sname);
	}
}

int
cmd_worktree_prepare(struct cmd_ctx *ctx, json_t *req, const char *name,
    const char *base_mode, const char *hint)
{
	struct repo_info repo = REPO_INFO_INIT;
	struct settings set;
	char *base = NULL, *label = NULL, *path = NULL, *branch = NULL;
	char *auto_name = NULL, *cwd;
	int rc = -1;

	cwd = xstrdup(json_string_value(json_object_get(req, "cwd")));
	if (settings_load(&set, cwd, &ctx->err) < 0) {
		free(cwd);
		return -1;
	}
	if (base_mode == NULL)
		base_mode = settings_get_str(&set, "worktree.baseRef");
	if (name != NULL && worktree_name_check(name, &ctx->err) < 0)
		goto out;
	if (repo_find(cwd, &repo, &ctx->err) < 0)
		goto out;
	base = worktree_base(&repo, base_mode, &label, &ctx->err);
	if (base == NULL)
		goto out;
	if (name == NULL)
		name = auto_name = free_name(&repo, hint);
	/* from the warm pool when there is one for this base */
	json_t *pool = settings_get(&set, "worktree.pool");
	int pooled = json_is_integer(pool) && json_integer_value(pool) > 0;
	int took = 1;
	if (pooled && worktree_name_check(name, NULL) == 0) {
		struct stat pst;
		char *want, *dn = worktree_dir_name(name);
		xasprintf(&want, "%s/.galley/worktrees/%s", repo.main, dn);
		free(dn);
		if (lstat(want, &pst) != 0)
			took = worktree_pool_take(
			    &repo, base, name, &path, &branch, &ctx->err);
		free(want);
		if (took < 0)
			goto out;
	}
	if (took != 0 &&
	    worktree_create(&repo, name, base, &path, &branch, &ctx->err) < 0)
		goto out;
	if (pooled)
		cmd_pool_refill(repo.main, base, (int)json_integer_value(pool));
	int copied, linked;
	json_t *links = settings_get(&set, "worktree.symlinkDirectories");
	if (worktree_populate(&repo, path, json_is_array(links) ? links : NULL,
	        &copied, &linked, &ctx->err) < 0) {
		worktree_undo_fresh(repo.main, path, branch);
		goto out;
	}
	point_request(req, cwd + strlen(repo.top), path, name);
	json_object_set_new(req, "worktree", json_string(path));
	json_object_set_new(req, "branch", json_string(branch));
	json_object_set_new(req, "repo", json_string(repo.main));
	json_object_set_new(req, "base", json_string(base));
	json_object_set_new(req, "base_ref", json_string(label));
	rc = 0;
out:
	settings_release(&set);
	repo_info_release(&repo);
	free(base);
	free(label);
	free(path);
	free(branch);
	free(auto_name);
	free(cwd);
	return rc;
}

/* The daemon refused the session: take the fresh worktree back. */
void
cmd_worktree_undo(json_t *req)
{
	const char *repo = json_string_value(json_object_get(req, "repo"));
	const char *wt = json_string_value(json_object_get(req, "worktree"));
	const char *br = json_string_value(json_object_get(req, "branch"));

	if (repo && wt && br)
		worktree_undo_fresh(repo, wt, br);
}
