/* galley worktree ls|rm NAME|gc: the session worktrees of the repository
 * the command runs in. Removal follows one rule everywhere: nothing that
 * would lose work (changes, untracked files, commits on no other branch) is
 * removed without --force, and a branch with commits of its own is never
 * deleted. */
#include <dirent.h>
#include <ftw.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cmd.h"
#include "git.h"
#include "settings.h"
#include "util.h"
#include "worktree.h"
#include "xmalloc.h"

struct wt {
	char *path, *branch, *name, *lock;
	int prunable;    /* its directory is gone */
	json_t *session; /* borrowed from the sessions list, or NULL */
};

static long long du_total;

static int
du_cb(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	if (flag == FTW_F || flag == FTW_D)
		du_total += (long long)st->st_blocks * 512;
	return 0;
}

static long long
disk_usage(const char *path)
{
	du_total = 0;
	nftw(path, du_cb, 32, FTW_PHYS);
	return du_total;
}

/* Galley's worktrees of the repo, from `git worktree list --porcelain`. */
static int
wt_list(struct repo_info *repo, struct wt **out, int *n, struct err *err)
{
	static const char *const args[] = {
	    "worktree", "list", "--porcelain", NULL};
	struct git_result r = GIT_RESULT_INIT;
	char *prefix;
	struct wt cur = {0};

	*out = NULL;
	*n = 0;
	if (git_ok(repo->main, &r, err, args) < 0) {
		git_result_release(&r);
		return -1;
	}
	xasprintf(&prefix, "%s/.galley/worktrees/", repo->main);
	for (char *p = r.out.data;;) {
		size_t len = strcspn(p, "\n");
		char *line = xstrndup(p, len);
		if (len == 0) {
			if (cur.path &&
			    strncmp(cur.path, prefix, strlen(prefix)) == 0) {
				*out = xrealloc(
				    *out, (size_t)(*n + 1) * sizeof **out);
				const char *b = cur.branch ? cur.branch : "";
				cur.name = xstrdup(strncmp(b, "galley/", 7) == 0
				        ? b + 7
				        : cur.path + strlen(prefix));
				(*out)[(*n)++] = cur;
			} else {
				free(cur.path);
				free(cur.branch);
				free(cur.lock);
			}
			memset(&cur, 0, sizeof cur);
		} else if (strncmp(line, "worktree ", 9) == 0)
			cur.path = xstrdup(line + 9);
		else if (strncmp(line, "branch refs/heads/", 18) == 0)
			cur.branch = xstrdup(line + 18);
		else if (strncmp(line, "locked", 6) == 0)
			cur.lock = xstrdup(line[6] ? line + 7 : "");
		else if (strncmp(line, "prunable", 8) == 0)
			cur.prunable = 1;
		free(line);
		if (p[len] == '\0')
			break;
		p += len + 1;
	}
	free(cur.path);
	free(cur.branch);
	free(cur.lock);
	free(prefix);
	git_result_release(&r);
	return 0;
}

static void
wt_free(struct wt *w, int n)
{
	for (int i = 0; i < n; i++) {
		free(w[i].path);
		free(w[i].branch);
		free(w[i].name);
		free(w[i].lock);
	}
	free(w);
}

/* Sessions from the daemon, to say which worktree is whose. */
static json_t *
sessions_all(struct cmd_ctx *ctx)
{
	json_t *reply =
	    cmd_call(ctx, json_pack("{s:s, s:b}", "cmd", "ls", "all", 1));
	json_t *list;

	if (reply == NULL)
		return NULL;
	list = json_incref(json_object_get(reply, "sessions"));
	json_decref(reply);
	return list;
}

static void
attach_sessions(struct wt *w, int n, json_t *sessions)
{
	size_t i;
	json_t *s;

	json_array_foreach(sessions, i, s)
	{
		const char *p = session_str(s, "worktree");
		for (int k = 0; *p && k < n; k++) {
			/* the newest session of a worktree wins */
			if (strcmp(w[k].path, p) == 0)
				w[k].session = s;
		}
	}
}

static int
count_line(const char *main, const char *const args[])
{
	char *line = git_line(main, args);
	int v = line ? atoi(line) : -1;

	free(line);
	return v;
}

static json_t *
wt_json(struct repo_info *repo, struct wt *w)
{
	struct wt_risk risk = WT_RISK_INIT;
	const char *base =
	    w->session ? session_str(w->session, "base_ref") : "";
	char *range = NULL, *own = NULL;
	int ahead = -1, behind = -1, unpushed = -1;
	json_t *o;

	worktree_risk(repo->main, w->path, w->branch, &risk, NULL);
	if (w->branch) {
		xasprintf(&own, "refs/heads/%s", w->branch);
		if (*base) {
			xasprintf(&range, "%s...%s", base, own);
			const char *a[] = {
			    "rev-list", "--count", "--right-only", range, NULL};
			const char *b[] = {
			    "rev-list", "--count", "--left-only", range, NULL};
			ahead = count_line(repo->main, a);
			behind = count_line(repo->main, b);
		}
		const char *u[] = {
		    "rev-list", "--count", own, "--not", "--remotes", NULL};
		unpushed = count_line(repo->main, u);
	}
	o = json_pack("{s:s, s:s, s:s?, s:s?, s:s?, s:b, s:i, s:i, s:o, s:o, "
	              "s:o, s:I, s:s?}",
	    "name", w->name, "path", w->path, "branch", w->branch, "session",
	    w->session ? session_str(w->session, "id") : NULL, "state",
	    w->session ? session_str(w->session, "state") : NULL, "dirty",
	    risk.nfiles > 0, "changed_files", risk.nfiles, "own_commits",
	    risk.ncommits, "ahead",
	    ahead >= 0 ? json_integer(ahead) : json_null(), "behind",
	    behind >= 0 ? json_integer(behind) : json_null(), "unpushed",
	    unpushed >= 0 ? json_integer(unpushed) : json_null(), "size_bytes",
	    (json_int_t)disk_usage(w->path), "locked", w->lock);
	wt_risk_release(&risk);
	free(range);
	free(own);
	return o;
}

static int
find_repo(struct cmd_ctx *ctx, struct repo_info *repo)
{
	char cwd[PATH_MAX];

	if (getcwd(cwd, sizeof cwd) == NULL)
		return err_set(
		    &ctx->err, ERR_FAILED, "cannot read the current directory");
	return repo_find(cwd, repo, &ctx->err);
}

static int
wt_ls(struct cmd_ctx *ctx, struct repo_info *repo)
{
	struct wt *w;
	int n;
	json_t *sessions, *arr;

	if (wt_list(repo, &w, &n, &ctx->err) < 0)
		return cmd_fail(ctx);
	sessions = sessions_all(ctx);
	if (sessions == NULL) {
		wt_free(w, n);
		return cmd_fail(ctx);
	}
	attach_sessions(w, n, sessions);
	arr = json_array();
	for (int i = 0; i < n; i++)
		json_array_append_new(arr, wt_json(repo, &w[i]));
	if (ctx->json)
		cmd_print_json(arr);
	else if (n == 0)
		printf("no galley worktrees in %s\n", repo->main);
	else {
		size_t i;
		json_t *o;
		printf("%-24s %-9s %-8s %-6s %5s %5s %8s %8s\n", "NAME",
		    "SESSION", "STATE", "DIRTY", "AHEAD", "BEHIND", "UNPUSHED",
		    "SIZE");
		json_array_foreach(arr, i, o)
		{
			char ahead[16] = "-", behind[16] = "-", unp[16] = "-";
			if (json_is_integer(json_object_get(o, "ahead")))
				snprintf(ahead, sizeof ahead, "%lld",
				    json_integer_value(
				        json_object_get(o, "ahead")));
			if (json_is_integer(json_object_get(o, "behind")))
				snprintf(behind, sizeof behind, "%lld",
				    json_integer_value(
				        json_object_get(o, "behind")));
			if (json_is_integer(json_object_get(o, "unpushed")))
				snprintf(unp, sizeof unp, "%lld",
				    json_integer_value(
				        json_object_get(o, "unpushed")));
			printf("%-24.24s %-9s %-8s %-6s %5s %5s %8s %7lldK\n",
			    session_str(o, "name"),
			    *session_str(o, "session")
			        ? session_str(o, "session")
			        : "-",
			    *session_str(o, "state") ? session_str(o, "state")
			                             : "-",
			    json_is_true(json_object_get(o, "dirty")) ? "yes"
			                                              : "no",
			    ahead, behind, unp,
			    json_integer_value(
			        json_object_get(o, "size_bytes")) /
			        1024);
		}
	}
	json_decref(arr);
	json_decref(sessions);
	wt_free(w, n);
	return 0;
}

/* Remove one worktree by the rule; refuse a live session's. */
static int
wt_remove_one(struct cmd_ctx *ctx, struct repo_info *repo, struct wt *w,
    int force, json_t *done)
{
	int kept = 0;

	if (w->session && session_is_live(w->session))
		return err_set(&ctx->err, ERR_REFUSED,
		    "worktree '%s' belongs to running session '%s' (%s): stop "
		    "it first",
		    w->name, session_str(w->session, "name"),
		    session_str(w->session, "state"));
	if (worktree_remove(
	        repo->main, w->path, w->branch, force, &kept, &ctx->err) < 0)
		return -1;
	json_array_append_new(done,
	    json_pack("{s:s, s:s, s:s?, s:b}", "name", w->name, "path", w->path,
	        "branch", w->branch, "branch_kept", kept));
	if (!ctx->json)
		printf("removed worktree %s%s\n", w->name,
		    kept ? " (branch kept: it has commits of its own)" : "");
	return 0;
}

static int
wt_rm(struct cmd_ctx *ctx, struct repo_info *repo, const char *name, int force)
{
	struct wt *w;
	int n, rc = -1, found = -1;
	json_t *sessions = NULL, *done = json_array();

	if (worktree_name_check(name, &ctx->err) < 0)
		goto out;
	if (wt_list(repo, &w, &n, &ctx->err) < 0)
		goto out;
	for (int i = 0; i < n; i++)
		if (strcmp(w[i].name, name) == 0)
			found = i;
	if (found < 0) {
		err_set(&ctx->err, ERR_NOT_FOUND,
		    "no galley worktree '%s' in %s: see 'galley worktree ls'",
		    name, repo->main);
		goto out_w;
	}
	sessions = sessions_all(ctx);
	if (sessions == NULL)
		goto out_w;
	attach_sessions(w, n, sessions);
	rc = wt_remove_one(ctx, repo, &w[found], force, done);
	if (rc == 0 && ctx->json)
		cmd_print_json(json_array_get(done, 0));
out_w:
	wt_free(w, n);
out:
	json_decref(sessions);
	json_decref(done);
	return rc < 0 ? cmd_fail(ctx) : 0;
}

static int
wt_gc(struct cmd_ctx *ctx, struct repo_info *repo, int dry)
{
	struct wt *w;
	int n;
	json_t *sessions, *removed = json_array(), *kept = json_array();

	if (wt_list(repo, &w, &n, &ctx->err) < 0 ||
	    (sessions = sessions_all(ctx)) == NULL) {
		json_decref(removed);
		json_decref(kept);
		return cmd_fail(ctx);
	}
	attach_sessions(w, n, sessions);
	for (int i = 0; i < n; i++) {
		struct wt_risk risk = WT_RISK_INIT;
		const char *why = NULL;
		struct buf m = BUF_INIT;
		if (w[i].session && session_is_live(w[i].session))
			why = "its session is running";
		else if (worktree_risk(repo->main, w[i].path, w[i].branch,
		             &risk, NULL) == 0 &&
		    (risk.nfiles || risk.ncommits)) {
			buf_adds(&m, "it would lose ");
			wt_risk_describe(&risk, &m);
			why = m.data;
		}
		if (why) {
			json_array_append_new(kept,
			    json_pack("{s:s, s:s}", "name", w[i].name, "reason",
			        why));
			if (!ctx->json)
				printf("kept    %s: %s\n", w[i].name, why);
		} else if (dry) {
			json_array_append_new(removed,
			    json_pack("{s:s, s:s}", "name", w[i].name, "path",
			        w[i].path));
			if (!ctx->json)
				printf("would remove %s\n", w[i].name);
		} else {
			struct err e2 = ERR_INIT;
			int k = 0;
			if (worktree_remove(repo->main, w[i].path, w[i].branch,
			        0, &k, &e2) == 0) {
				json_array_append_new(removed,
				    json_pack("{s:s, s:s}", "name", w[i].name,
				        "path", w[i].path));
				if (!ctx->json)
					printf("removed %s\n", w[i].name);
			} else {
				json_array_append_new(kept,
				    json_pack("{s:s, s:s}", "name", w[i].name,
				        "reason", e2.msg.data));
				if (!ctx->json)
					printf("kept    %s: %s\n", w[i].name,
					    e2.msg.data);
			}
			err_release(&e2);
		}
		buf_release(&m);
		wt_risk_release(&risk);
	}
	if (!dry) {
		struct git_result r = GIT_RESULT_INIT;
		const char *prune[] = {"worktree", "prune", NULL};
		git_run(repo->main, &r, prune);
		git_result_release(&r);
	}
	if (ctx->json) {
		json_t *o = json_pack("{s:b, s:O, s:O}", "dry_run", dry,
		    dry ? "would_remove" : "removed", removed, "kept", kept);
		cmd_print_json(o);
		json_decref(o);
	}
	json_decref(removed);
	json_decref(kept);
	json_decref(sessions);
	wt_free(w, n);
	return 0;
}

/* For doctor: the repo's galley worktrees, the stale ones (directory
 * gone), the ones still locked for a session that is not running, and the
 * disk they use. */
int
cmd_worktree_health(struct cmd_ctx *ctx, const char *cwd, json_t **out)
{
	struct repo_info repo = REPO_INFO_INIT;
	struct wt *w;
	int n, stale = 0, orphans = 0;
	long long bytes = 0;
	json_t *sessions;

	*out = NULL;
	if (repo_find(cwd, &repo, NULL) < 0) {
		repo_info_release(&repo);
		return 0; /* not in a repository: nothing to say */
	}
	if (wt_list(&repo, &w, &n, &ctx->err) < 0 ||
	    (sessions = sessions_all(ctx)) == NULL) {
		repo_info_release(&repo);
		return -1;
	}
	attach_sessions(w, n, sessions);
	for (int i = 0; i < n; i++) {
		stale += w[i].prunable;
		if (w[i].lock &&
		    strncmp(w[i].lock, "galley session", 14) == 0 &&
		    !(w[i].session && session_is_live(w[i].session)))
			orphans++;
		if (!w[i].prunable)
			bytes += disk_usage(w[i].path);
	}
	*out = json_pack("{s:s, s:i, s:i, s:i, s:I}", "repo", repo.main,
	    "worktrees", n, "stale", stale, "locked_without_session", orphans,
	    "bytes", (json_int_t)bytes);
	json_decref(sessions);
	wt_free(w, n);
	repo_info_release(&repo);
	return 0;
}

/* The warm pool: how many ready worktrees per base; --fill tops it up
 * (what `new -w` starts in the background after taking one). */
static int
wt_pool(struct cmd_ctx *ctx, struct repo_info *repo, int fill, const char *base,
    long count)
{
	char *label = NULL, *sha = NULL, *root;
	json_t *bases = json_object();
	DIR *d;
	struct dirent *e;
	int rc = 0;

	if (fill) {
		struct settings set;
		if (count < 0) {
			if (settings_load(&set, repo->main, &ctx->err) < 0) {
				json_decref(bases);
				return cmd_fail(ctx);
			}
			json_t *v = settings_get(&set, "worktree.pool");
			count = json_is_integer(v) ? json_integer_value(v) : 0;
			settings_release(&set);
		}
		if (base == NULL)
			base = sha =
			    worktree_base(repo, "default", &label, &ctx->err);
		if (base == NULL ||
		    worktree_pool_fill(repo, base, (int)count, &ctx->err) < 0)
			rc = -1;
	}
	xasprintf(&root, "%s/.galley/pool", repo->main);
	if (rc == 0 && (d = opendir(root)) != NULL) {
		while ((e = readdir(d)) != NULL) {
			if (e->d_name[0] == '.')
				continue;
			char *p;
			int n = 0;
			xasprintf(&p, "%s/%s", root, e->d_name);
			DIR *sd = opendir(p);
			struct dirent *se;
			while (sd && (se = readdir(sd)) != NULL)
				n += se->d_name[0] != '.';
			if (sd)
				closedir(sd);
			free(p);
			json_object_set_new(bases, e->d_name, json_integer(n));
		}
		closedir(d);
	}
	if (rc == 0) {
		if (ctx->json)
			cmd_print_json(bases);
		else {
			const char *k;
			json_t *v;
			json_object_foreach(bases, k, v) printf(
			    "%.12s  %lld ready\n", k, json_integer_value(v));
		}
	}
	free(root);
	free(sha);
	free(label);
	json_decref(bases);
	return rc < 0 ? cmd_fail(ctx) : 0;
}

static int
worktree_run(struct cmd_ctx *ctx)
{
	static const struct option opts[] = {{"force", no_argument, NULL, 'f'},
	    {"dry-run", no_argument, NULL, 'n'},
	    {"fill", no_argument, NULL, 'F'},
	    {"base", required_argument, NULL, 'B'},
	    {"count", required_argument, NULL, 'c'},
	    {"delay", required_argument, NULL, 'D'}, CMD_LONGOPTS_COMMON,
	    {NULL, 0, NULL, 0}};
	struct repo_info repo = REPO_INFO_INIT;
	int c, rc, force = 0, dry = 0, fill = 0;
	const char *sub, *base = NULL;
	long count = -1;
	char *end;

	while (
	    (c = getopt_long(ctx->argc, ctx->argv, ":fnh", opts, NULL)) != -1) {
		if (c == 'f')
			force = 1;
		else if (c == 'n')
			dry = 1;
		else if (c == 'F')
			fill = 1;
		else if (c == 'B')
			base = optarg;
		else if (c == 'D') {
			long ms = strtol(optarg, &end, 10);
			if (*end || ms < 0 || ms > 60000)
				return cmd_usage_error(
				    ctx, "--delay takes 0 to 60000 ms");
			/* a background refill: after the work at hand */
			(void)setpriority(PRIO_PROCESS, 0, 10);
			syscall(SYS_ioprio_set, 1 /* process */, 0,
			    3 << 13 /* idle class */);
			usleep((useconds_t)ms * 1000);
		} else if (c == 'c') {
			count = strtol(optarg, &end, 10);
			if (*end || count < 0 || count > 100)
				return cmd_usage_error(
				    ctx, "--count takes 0 to 100");
		} else if ((rc = cmd_opt_common(ctx, c)) >= 0)
			return rc;
	}
	if (optind >= ctx->argc)
		return cmd_usage_error(ctx, "expected ls, rm or gc");
	sub = ctx->argv[optind++];
	if (strcmp(sub, "ls") && strcmp(sub, "rm") && strcmp(sub, "gc") &&
	    strcmp(sub, "pool"))
		return cmd_usage_error(
		    ctx, "unknown worktree command '%s'", sub);
	if ((strcmp(sub, "rm") == 0) != (optind + 1 == ctx->argc) ||
	    (strcmp(sub, "rm") != 0 && optind != ctx->argc))
		return cmd_usage_error(
		    ctx, "wrong arguments for 'worktree %s'", sub);
	if (find_repo(ctx, &repo) < 0) {
		repo_info_release(&repo);
		return cmd_fail(ctx);
	}
	if (strcmp(sub, "ls") == 0)
		rc = wt_ls(ctx, &repo);
	else if (strcmp(sub, "rm") == 0)
		rc = wt_rm(ctx, &repo, ctx->argv[optind], force);
	else if (strcmp(sub, "pool") == 0)
		rc = wt_pool(ctx, &repo, fill, base, count);
	else
		rc = wt_gc(ctx, &repo, dry);
	repo_info_release(&repo);
	return rc;
}

const struct cmd_entry cmd_worktree_entry = {
    .name = "worktree",
    .usage = "ls | rm NAME [--force] | gc [--dry-run] | pool [--fill]",
    .summary = "list, remove and clean up session worktrees",
    .help = "  -f, --force         rm: remove even with uncommitted work\n"
            "                      (a branch with its own commits is kept)\n"
            "  -n, --dry-run       gc: say what would be removed\n"
            "      --fill          pool: top the warm pool up to\n"
            "                      worktree.pool ready worktrees\n",
    .run = worktree_run,
};
