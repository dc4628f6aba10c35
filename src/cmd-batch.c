/* galley batch "INSTRUCTION": one large change split over 5-30 workers,
 * each in a worktree of its own from one recorded commit, each ending in
 * a pushed branch and a PR (or a local branch). The plan comes from a
 * planner agent (the built-in workflow "batch" in plan mode) or a file;
 * once approved, the worktrees are made here (from the warm pool, in
 * parallel, so the daemon never waits for a checkout) and the run starts
 * as the same workflow in work mode, named by an id chosen here so its
 * branches are galley/batch-RUN-N. status, retry and merge name the run. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cmd-batch.h"
#include "cmd.h"
#include "git.h"
#include "runtime.h"
#include "settings.h"
#include "util.h"
#include "workflow.h"
#include "worktree.h"
#include "xmalloc.h"

struct batch_opts {
	const char *base, *model, *runtime, *plan, *out;
	int lo, hi, yes, plan_only, bg;
};

/* --units N-M (or N) */
static int
parse_units(const char *s, int *lo, int *hi)
{
	char *end;
	long a = strtol(s, &end, 10), b = a;

	if (*end == '-')
		b = strtol(end + 1, &end, 10);
	if (*end || a < 1 || b < a || b > BATCH_MAX_UNITS)
		return -1;
	*lo = (int)a;
	*hi = (int)b;
	return 0;
}

/* The recorded base: its commit, and the branch PRs and merges go to
 * ("" for a detached HEAD or a bare commit). */
static int
resolve_base(struct repo_info *repo, const char *mode, char **sha, char **ref,
    struct err *err)
{
	char *label = NULL;

	*ref = NULL;
	if (strcmp(mode, "head") == 0 || strcmp(mode, "default") == 0) {
		if ((*sha = worktree_base(repo, mode, &label, err)) == NULL)
			return -1;
		if (strcmp(mode, "head") == 0)
			*ref = git_line(repo->top,
			    (const char *[]){
			        "symbolic-ref", "-q", "--short", "HEAD", NULL});
		else if (strncmp(label, "origin/", 7) == 0)
			*ref = xstrdup(label + 7);
		else
			*ref = xstrdup(label);
		free(label);
	} else {
		char *spec, *full;
		if (mode[0] == '-' || strlen(mode) > 200)
			return err_set(
			    err, ERR_USAGE, "--base '%.64s' is no ref", mode);
		xasprintf(&spec, "%s^{commit}", mode);
		*sha = git_line(repo->top,
		    (const char *[]){
		        "rev-parse", "--verify", "-q", spec, NULL});
		free(spec);
		if (*sha == NULL)
			return err_set(err, ERR_NOT_FOUND,
			    "--base '%.64s': no such branch or commit", mode);
		xasprintf(&full, "refs/heads/%s", mode);
		char *have = git_line(repo->main,
		    (const char *[]){"show-ref", "--verify", "-q", full, NULL});
		*ref = xstrdup(have                        ? mode
		        : strncmp(mode, "origin/", 7) == 0 ? mode + 7
		                                           : "");
		free(have);
		free(full);
	}
	if (*ref == NULL)
		*ref = xstrdup("");
	return 0;
}

/* The remote branches go to: origin, else the first, else "". */
static char *
first_remote(struct repo_info *repo)
{
	struct git_result r = GIT_RESULT_INIT;
	char *out = xstrdup("");

	if (git_run(repo->main, &r, (const char *[]){"remote", NULL}) == 0 &&
	    r.out.len) {
		free(out);
		out = strstr(r.out.data, "origin\n") == r.out.data ||
		        strstr(r.out.data, "\norigin\n")
		    ? xstrdup("origin")
		    : xstrndup(r.out.data, strcspn(r.out.data, "\n"));
	}
	git_result_release(&r);
	return out;
}

/* Start the built-in "batch" in the daemon (subscribed first, so no event
 * is missed); the run's id, or NULL. */
static char *
start_run(struct cmd_ctx *ctx, const char *cwd, const char *id, json_t *args,
    int parallel, int subscribe, const char *name)
{
	json_t *req = cmd_new_request(ctx, cwd), *reply;
	char *run;

	if (req == NULL)
		return NULL;
	if (subscribe) {
		json_t *sub =
		    cmd_call(ctx, json_pack("{s:s}", "cmd", "subscribe"));
		if (sub == NULL) {
			json_decref(req);
			return NULL;
		}
		json_decref(sub);
	}
	json_object_set_new(req, "cmd", json_string("workflow"));
	json_object_set_new(req, "op", json_string("run"));
	json_object_set_new(req, "name", json_string(name));
	json_object_set_new(req, "script", json_string(wf_builtin("batch")));
	json_object_set(req, "args", args);
	if (id)
		json_object_set_new(req, "run_id", json_string(id));
	if (parallel > 0)
		json_object_set_new(req, "parallel", json_integer(parallel));
	if ((reply = cmd_call(ctx, req)) == NULL)
		return NULL;
	run = xstrdup(session_str(reply, "run"));
	json_decref(reply);
	return run;
}

static json_t *
run_status(struct cmd_ctx *ctx, const char *id)
{
	json_t *r = cmd_call(ctx,
	    json_pack("{s:s, s:s, s:s}", "cmd", "workflow", "op", "status",
	        "run", id));
	json_t *st = r ? json_incref(json_object_get(r, "status")) : NULL;

	json_decref(r);
	return st;
}

/* Until run id ends: the table redrawn in place on a terminal, a line per
 * change in a pipe, nothing with --json. Its last status. */
static json_t *
follow(struct cmd_ctx *ctx, const char *id, int show)
{
	int tty = show && isatty(1), lines = 0, dirty = 1;
	json_t *was = NULL, *ev = NULL, *st = NULL;

	for (;;) {
		int rc =
		    dirty ? 0 : client_event(&ctx->cl, &ev, 2000, &ctx->err);
		if (rc < 0) { /* the daemon went away: the batch goes on */
			json_decref(st);
			st = NULL;
			break;
		}
		if (rc > 0) {
			int mine = strcmp(session_str(ev, "run"), id) == 0;
			const char *name = session_str(ev, "event");
			dirty = mine && strncmp(name, "workflow.", 9) == 0;
			json_decref(ev);
			if (!dirty)
				continue;
			/* a burst of changes: drawn once it settles, or after
			 * 300 ms in a daemon that never goes quiet */
			uint64_t until = now_ms() + 300;
			while (now_ms() < until &&
			    client_event(&ctx->cl, &ev, 100, &ctx->err) > 0)
				json_decref(ev);
		}
		dirty = 0;
		json_decref(st);
		if ((st = run_status(ctx, id)) == NULL)
			break;
		json_t *b = batch_from_status(st);
		if (tty) {
			if (lines)
				printf("\033[%dA\r\033[J", lines);
			batch_table(b, stdout, &lines);
			fflush(stdout);
		} else if (show)
			batch_changes(was, b, stdout);
		json_decref(was);
		was = b;
		const char *state = session_str(st, "state");
		if (strcmp(state, "running") && strcmp(state, "paused"))
			break;
	}
	json_decref(was);
	return st;
}

/* The planner's plan, checked against lo..hi units. */
static json_t *
run_planner(struct cmd_ctx *ctx, const char *cwd, const char *instruction,
    struct batch_opts *o)
{
	char units[32];
	snprintf(units, sizeof units, "%d-%d", o->lo, o->hi);
	json_t *args = json_pack("{s:s, s:s, s:s, s:s, s:s}", "mode", "plan",
	    "instruction", instruction, "schema", batch_plan_schema, "units",
	    units, "runtime", o->runtime ? o->runtime : "claude");
	struct buf why = BUF_INIT;
	json_t *plan = NULL, *st = NULL;

	if (o->model)
		json_object_set_new(args, "model", json_string(o->model));
	char *id = start_run(ctx, cwd, NULL, args, 0, 1, "batch-plan");
	json_decref(args);
	if (id == NULL)
		return NULL;
	fprintf(stderr, "planning (run %s)...\n", id);
	if ((st = follow(ctx, id, 0)) == NULL)
		goto out;
	if (strcmp(session_str(st, "state"), "done") != 0) {
		err_set(&ctx->err, ERR_FAILED, "the planner (run %s) %s: %s",
		    id, session_str(st, "state"), session_str(st, "error"));
		goto out;
	}
	plan = json_deep_copy(json_object_get(st, "result"));
	if (batch_plan_check(plan, o->lo, o->hi, &why) < 0) {
		err_set(&ctx->err, ERR_FAILED,
		    "the planner's plan: %s (run %s)", why.data, id);
		json_decref(plan);
		plan = NULL;
	}
out:
	buf_release(&why);
	json_decref(st);
	free(id);
	return plan;
}

/* One worktree per unit, batch-ID-N from base: from the warm pool when
 * there is one, made in parallel (git's bookkeeping is serialized under
 * the repo's lock; the checkouts are not). All or none. */
static int
make_worktrees(struct cmd_ctx *ctx, struct repo_info *repo, const char *cwd,
    const char *id, int n, const char *base)
{
	struct settings set;
	pid_t *kids = xcalloc((size_t)n, sizeof *kids);
	int failed = 0;

	if (settings_load(&set, cwd, &ctx->err) < 0) {
		free(kids);
		return -1;
	}
	json_t *pool = settings_get(&set, "worktree.pool");
	json_t *links = settings_get(&set, "worktree.symlinkDirectories");
	fflush(NULL);
	for (int i = 0; i < n; i++) {
		if ((kids[i] = fork()) != 0)
			continue;
		struct err err = ERR_INIT;
		char name[64], *path = NULL, *branch = NULL;
		int copied, linked, took = 1;
		snprintf(name, sizeof name, "batch-%s-%d", id, i + 1);
		if (json_integer_value(pool) > 0)
			took = worktree_pool_take(
			    repo, base, name, &path, &branch, &err);
		if (took == 1)
			took = worktree_create(
			    repo, name, base, &path, &branch, &err);
		if (took == 0 &&
		    worktree_populate(repo, path,
		        json_is_array(links) ? links : NULL, &copied, &linked,
		        &err) < 0)
			took = -1;
		if (took != 0)
			fprintf(stderr, "galley: worktree %s: %s\n", name,
			    err.msg.len ? err.msg.data : "failed");
		_exit(took == 0 ? 0 : 1);
	}
	for (int i = 0; i < n; i++) {
		int status = 0;
		if (kids[i] < 0 || waitpid(kids[i], &status, 0) < 0 ||
		    !WIFEXITED(status) || WEXITSTATUS(status) != 0)
			failed++;
	}
	if (failed) /* none kept: the batch did not start */
		for (int i = 0; i < n; i++) {
			char *p, *b;
			xasprintf(&p, "%s/.galley/worktrees/batch-%s-%d",
			    repo->main, id, i + 1);
			xasprintf(&b, "galley/batch-%s-%d", id, i + 1);
			worktree_undo_fresh(repo->main, p, b);
			free(p);
			free(b);
		}
	else if (json_integer_value(pool) > 0)
		cmd_pool_refill(
		    repo->main, base, (int)json_integer_value(pool));
	settings_release(&set);
	free(kids);
	if (failed)
		err_set(&ctx->err, ERR_FAILED,
		    "%d of %d worktrees could not be made; none kept", failed,
		    n);
	return failed ? -1 : 0;
}

/* Shown and approved: y on a terminal, or --yes; --plan-only writes it. */
static int
approve(
    struct cmd_ctx *ctx, json_t *plan, const char *top, struct batch_opts *o)
{
	json_t *overlap = batch_plan_overlap(plan, top);
	FILE *to = ctx->json || o->bg ? stderr : stdout;
	int yes = o->yes;

	batch_plan_print(plan, overlap, to);
	json_decref(overlap);
	if (o->plan_only) {
		const char *out = o->out ? o->out : "batch-plan.json";
		char *text =
		    json_dumps(plan, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		struct stat st;
		int rc = -1;
		if (!o->out && lstat(out, &st) == 0)
			err_set(&ctx->err, ERR_EXISTS,
			    "%s exists: name another file with --out FILE",
			    out);
		else if (write_file_atomic(
		             out, text, strlen(text), 0644, &ctx->err) == 0) {
			fprintf(stderr,
			    "plan written to %s: edit it, then galley batch "
			    "--plan %s\n",
			    out, out);
			rc = 1;
		}
		free(text);
		return rc;
	}
	if (!yes && isatty(0)) {
		char line[16] = "";
		fprintf(stderr, "start %zu workers? [y/N] ",
		    json_array_size(json_object_get(plan, "units")));
		yes = fgets(line, sizeof line, stdin) &&
		    (line[0] == 'y' || line[0] == 'Y');
	}
	if (!yes)
		return err_set(&ctx->err, ERR_REFUSED,
		    "not started: approve the plan with --yes (or answer y)");
	return 0;
}

/* Print the batch (table or JSON) and exit 0 only if every unit is done. */
static int
report(struct cmd_ctx *ctx, json_t *st, int table)
{
	json_t *b = batch_from_status(st);
	int lines,
	    rc = json_integer_value(json_object_get(b, "failed")) ||
	    json_array_size(json_object_get(b, "units")) == 0 ||
	    json_integer_value(json_object_get(b, "done")) !=
	        (json_int_t)json_array_size(json_object_get(b, "units"));

	if (ctx->json)
		cmd_print_json(b);
	else {
		if (table)
			batch_table(b, stdout, &lines);
		batch_summary(b, stdout);
	}
	json_decref(b);
	return rc;
}

/* The run's args: everything the script needs, all strings. */
static json_t *
work_args(const char *id, json_t *plan, struct repo_info *repo,
    const char *base, const char *ref, struct batch_opts *o)
{
	char *text = json_dumps(plan, JSON_COMPACT);
	char *remote = first_remote(repo);
	json_t *a = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}",
	    "mode", "work", "batch", id, "plan", text, "base", base, "base_ref",
	    ref, "repo", repo->main, "remote", remote, "runtime",
	    o->runtime ? o->runtime : "claude");
	json_t *what = json_object_get(plan, "instruction");

	json_object_set_new(
	    a, "instruction", json_string(what ? json_string_value(what) : ""));

	if (o->model)
		json_object_set_new(a, "model", json_string(o->model));
	free(text);
	free(remote);
	return a;
}

static int
batch_go(struct cmd_ctx *ctx, const char *instruction, struct batch_opts *o)
{
	struct repo_info repo = REPO_INFO_INIT;
	char cwd[4096], id[16], *base = NULL, *ref = NULL, *run = NULL;
	json_t *plan = NULL, *args = NULL, *st = NULL;
	int rc = -1;

	if (getcwd(cwd, sizeof cwd) == NULL)
		return cmd_usage_error(
		    ctx, "cannot read the current directory");
	if (repo_find(cwd, &repo, &ctx->err) < 0 ||
	    resolve_base(
	        &repo, o->base ? o->base : "head", &base, &ref, &ctx->err) < 0)
		goto out;
	fprintf(stderr,
	    "base: %s %.12s (recorded: every worker starts there)\n",
	    *ref ? ref : "(detached)", base);
	plan = o->plan ? batch_plan_load(o->plan, &ctx->err)
	               : run_planner(ctx, cwd, instruction, o);
	if (plan == NULL)
		goto out;
	if (instruction && !json_object_get(plan, "instruction"))
		json_object_set_new(
		    plan, "instruction", json_string(instruction));
	if ((rc = approve(ctx, plan, repo.top, o)) != 0) {
		rc = rc > 0 ? 0 : -1; /* --plan-only: written */
		goto out;
	}
	rc = -1;
	random_hex(id, 8);
	int n = (int)json_array_size(json_object_get(plan, "units"));
	int64_t approved = wall_ms();
	if (make_worktrees(ctx, &repo, cwd, id, n, base) < 0)
		goto out;
	args = work_args(id, plan, &repo, base, ref, o);
	/* when it was approved and how long its worktrees took (bench) */
	json_object_set_new(
	    args, "approved_at", json_sprintf("%lld", (long long)approved));
	json_object_set_new(args, "worktrees_ms",
	    json_sprintf("%lld", (long long)(wall_ms() - approved)));
	if ((run = start_run(ctx, cwd, id, args, n, !o->bg, "batch")) == NULL)
		goto out;
	if (o->bg) {
		printf("%s\n", run);
		rc = 0;
		goto out;
	}
	fprintf(stderr,
	    "batch %s: %d workers (Ctrl-C leaves them working; galley batch "
	    "status %s)\n",
	    run, n, run);
	if ((st = follow(ctx, run, !ctx->json)) != NULL)
		rc = report(ctx, st, 0);
out:
	repo_info_release(&repo);
	json_decref(plan);
	json_decref(args);
	json_decref(st);
	free(base);
	free(ref);
	free(run);
	return rc < 0 ? cmd_fail(ctx) : rc;
}

/* A batch's run by id (or a prefix); NULL with err if it is no batch. */
static json_t *
batch_status(struct cmd_ctx *ctx, const char *ref)
{
	json_t *st = run_status(ctx, ref);

	if (st && strcmp(session_str(st, "name"), "batch") != 0) {
		err_set(&ctx->err, ERR_NOT_FOUND,
		    "run %s is a '%s' workflow, not a batch",
		    session_str(st, "run"), session_str(st, "name"));
		json_decref(st);
		return NULL;
	}
	if (st &&
	    strcmp(session_str(json_object_get(st, "args"), "mode"), "work") !=
	        0) {
		err_set(&ctx->err, ERR_NOT_FOUND,
		    "run %s is a batch's planner, not a batch",
		    session_str(st, "run"));
		json_decref(st);
		return NULL;
	}
	return st;
}

/* retry RUN N: unit N's branch of the run forgotten and run again, in
 * its worktree, the other units fed back from the journal. */
static int
batch_retry(struct cmd_ctx *ctx, const char *ref, const char *which, int bg)
{
	json_t *st = batch_status(ctx, ref), *r, *sub;
	char label[32], *end, *id;
	long n = strtol(which, &end, 10);
	int rc;

	if (st == NULL)
		return cmd_fail(ctx);
	id = xstrdup(session_str(st, "run"));
	json_t *b = batch_from_status(st);
	size_t have = json_array_size(json_object_get(b, "units"));
	json_decref(b);
	json_decref(st);
	if (*end || n < 1 || (size_t)n > have) {
		rc = cmd_usage_error(ctx,
		    "batch %s has units 1 to %zu, not '%s'", id, have, which);
		free(id);
		return rc;
	}
	snprintf(label, sizeof label, "unit-%ld", n);
	if (!bg &&
	    (sub = cmd_call(ctx, json_pack("{s:s}", "cmd", "subscribe"))))
		json_decref(sub);
	r = cmd_call(ctx,
	    json_pack("{s:s, s:s, s:s, s:s}", "cmd", "workflow", "op", "retry",
	        "run", id, "label", label));
	if (r == NULL) {
		free(id);
		return cmd_fail(ctx);
	}
	json_decref(r);
	fprintf(stderr, "batch %s: unit %ld runs again\n", id, n);
	st = bg ? run_status(ctx, id) : follow(ctx, id, !ctx->json);
	rc = st ? report(ctx, st, bg) : cmd_fail(ctx);
	json_decref(st);
	free(id);
	return rc;
}

static int
batch_opt(struct cmd_ctx *ctx, int c, struct batch_opts *o)
{
	switch (c) {
	case 'B':
		o->base = optarg;
		return -1;
	case 'u':
		if (parse_units(optarg, &o->lo, &o->hi) < 0)
			return cmd_usage_error(ctx,
			    "--units takes N or N-M, from 1 to %d",
			    BATCH_MAX_UNITS);
		return -1;
	case 'm':
		o->model = optarg;
		return -1;
	case 'r':
		o->runtime = optarg;
		return -1;
	case 'y':
		o->yes = 1;
		return -1;
	case 'O':
		o->plan_only = 1;
		return -1;
	case 'o':
		o->out = optarg;
		return -1;
	case 'p':
		o->plan = optarg;
		return -1;
	case 'b':
		o->bg = 1;
		return -1;
	}
	return cmd_opt_common(ctx, c);
}

static int
batch_sub(struct cmd_ctx *ctx, int n, char **av, struct batch_opts *o)
{
	json_t *st;
	int rc;

	if (strcmp(av[0], "status") == 0) {
		if (n != 2)
			return cmd_usage_error(ctx, "batch status RUN");
		if ((st = batch_status(ctx, av[1])) == NULL)
			return cmd_fail(ctx);
		rc = report(ctx, st, 1);
		json_decref(st);
		return rc;
	}
	if (strcmp(av[0], "retry") == 0)
		return n == 3 ? batch_retry(ctx, av[1], av[2], o->bg)
		              : cmd_usage_error(ctx, "batch retry RUN N");
	if (n != 2)
		return cmd_usage_error(ctx, "batch merge RUN");
	if ((st = batch_status(ctx, av[1])) == NULL)
		return cmd_fail(ctx);
	json_t *b = batch_from_status(st);
	rc = batch_merge(ctx, b);
	json_decref(b);
	json_decref(st);
	return rc;
}

static int
batch_run(struct cmd_ctx *ctx)
{
	static const struct option opts[] = {
	    {"base", required_argument, NULL, 'B'},
	    {"units", required_argument, NULL, 'u'},
	    {"model", required_argument, NULL, 'm'},
	    {"runtime", required_argument, NULL, 'r'},
	    {"yes", no_argument, NULL, 'y'},
	    {"plan-only", no_argument, NULL, 'O'},
	    {"out", required_argument, NULL, 'o'},
	    {"plan", required_argument, NULL, 'p'},
	    {"bg", no_argument, NULL, 'b'}, CMD_LONGOPTS_COMMON,
	    {NULL, 0, NULL, 0}};
	struct batch_opts o = {.lo = 5, .hi = 30};
	int c, rc = -1;

	while (rc < 0 &&
	    (c = getopt_long(ctx->argc, ctx->argv, ":hm:r:y", opts, NULL)) !=
	        -1)
		rc = batch_opt(ctx, c, &o);
	if (rc >= 0)
		return rc;
	int n = ctx->argc - optind;
	char **av = ctx->argv + optind;
	if (n >= 1 &&
	    (strcmp(av[0], "status") == 0 || strcmp(av[0], "retry") == 0 ||
	        strcmp(av[0], "merge") == 0))
		return batch_sub(ctx, n, av, &o);
	if (n > 1)
		return cmd_usage_error(ctx,
		    "one instruction, quoted: galley batch \"WHAT TO CHANGE\"");
	if (n == 0 && o.plan == NULL)
		return cmd_usage_error(
		    ctx, "what should the batch change? (or --plan FILE)");
	if (o.runtime && runtime_find(o.runtime) == NULL)
		return cmd_usage_error(ctx, "no runtime '%s'", o.runtime);
	if (n == 1 && (av[0][0] == '\0' || strlen(av[0]) > 64 * 1024))
		return cmd_usage_error(
		    ctx, "the instruction must be 1 byte to 64 KiB");
	if (o.out && !o.plan_only)
		return cmd_usage_error(ctx, "--out goes with --plan-only");
	if (o.plan && o.plan_only)
		return cmd_usage_error(ctx,
		    "--plan runs a plan; --plan-only writes one: not both");
	return batch_go(ctx, n ? av[0] : NULL, &o);
}

const struct cmd_entry cmd_batch_entry = {
    .name = "batch",
    .usage = "\"INSTRUCTION\" [--base default|head|REF] [--units N-M] "
             "[--model M] [-r RUNTIME] [--yes] [--plan-only [--out FILE]] "
             "[--plan FILE] [--bg]\n"
             "       galley batch status RUN | retry RUN N | merge RUN",
    .summary = "split one large change over isolated workers, one PR each",
    .help =
        "  A planner agent (read only) splits the change into units; the\n"
        "  plan is shown with the files units would share, and runs once\n"
        "  approved: one worker per unit in its own worktree, all from one\n"
        "  recorded commit, each checked, committed on galley/batch-RUN-N,\n"
        "  pushed and opened as a PR (gh) one at a time when there is a\n"
        "  remote. A live table shows them; exit 1 if any unit failed.\n"
        "      --base B        default, head (the branch you are on; the\n"
        "                      default) or a branch or commit\n"
        "      --units N-M     how many units the planner may make (5-30)\n"
        "      -m, --model M   the planner's and workers' model\n"
        "      -r RUNTIME      claude (default); fake: the instruction is\n"
        "                      the fake planner's script and each unit's\n"
        "                      prompt a fake worker's (offline); exec:\n"
        "                      shell commands (the planner's output is\n"
        "                      the plan)\n"
        "      -y, --yes       start without asking\n"
        "      --plan-only     write the plan (batch-plan.json, or --out\n"
        "                      FILE) and stop\n"
        "      --plan FILE     run a plan from a file, without a planner\n"
        "      --bg            print the batch's run id and return\n"
        "  status RUN          the table and summary again\n"
        "  retry RUN N         run unit N again in its worktree (once the\n"
        "                      batch has ended)\n"
        "  merge RUN           merge the done units into the base branch,\n"
        "                      those overlapping no other first; stops at\n"
        "                      the first conflict, with its paths\n",
    .run = batch_run,
};
