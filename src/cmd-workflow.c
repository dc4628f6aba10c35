/* galley workflow run|ls|runs|status|logs|stop|pause|resume|rm: Lua
 * workflows (issue 16). The daemon runs them (workflow.c); this verb
 * finds a script, sends it, and follows or drives a run by its id. */
#include <dirent.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "cmd-workflow.h"
#include "cmd.h"
#include "names.h"
#include "settings.h"
#include "state.h"
#include "util.h"
#include "workflow.h"
#include "xmalloc.h"

#define SCRIPT_MAX (1 << 20)

#define BUILTIN "built-in:"

/* Where named workflows live, the project's first. */
int
wf_dirs(const char *cwd, char *out[2])
{
	char *repo = repo_root(cwd);
	const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");

	xasprintf(&out[0], "%s/.galley/workflows", repo ? repo : cwd);
	free(repo);
	if (xdg && *xdg)
		xasprintf(&out[1], "%s/galley/workflows", xdg);
	else
		xasprintf(
		    &out[1], "%s/.config/galley/workflows", home ? home : "/");
	return 2;
}

/* NAME or FILE to a path: a path if it names a file (has a '/' or ends
 * in .lua), else NAME.lua in the project's then the user's folder. */
static char *
find_script(struct cmd_ctx *ctx, const char *cwd, const char *ref)
{
	struct stat st;
	char *d[2], *path = NULL;
	size_t n = strlen(ref);

	if (strchr(ref, '/') || (n > 4 && strcmp(ref + n - 4, ".lua") == 0)) {
		if (ref[0] == '/')
			path = xstrdup(ref);
		else
			xasprintf(&path, "%s/%s", cwd, ref);
		if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
			return path;
		err_set(&ctx->err, ERR_NOT_FOUND, "no workflow file '%s'", ref);
		free(path);
		return NULL;
	}
	if (name_check(ref, "workflow", &ctx->err) < 0)
		return NULL;
	wf_dirs(cwd, d);
	for (int i = 0; i < 2 && path == NULL; i++) {
		xasprintf(&path, "%s/%s.lua", d[i], ref);
		if (stat(path, &st) != 0) {
			free(path);
			path = NULL;
		}
	}
	if (path == NULL && wf_builtin(ref))
		xasprintf(&path, BUILTIN "%s", ref);
	if (path == NULL)
		err_set(&ctx->err, ERR_NOT_FOUND,
		    "no workflow '%s': looked in %s, %s and the built-ins (see "
		    "'galley workflow ls')",
		    ref, d[0], d[1]);
	free(d[0]);
	free(d[1]);
	return path;
}

static void
print_status(json_t *st)
{
	json_t *p, *a;
	size_t i;

	printf("run %s  %s  %s%s%s\n", session_str(st, "run"),
	    session_str(st, "name"), session_str(st, "state"),
	    *session_str(st, "phase") ? "  phase " : "",
	    session_str(st, "phase"));
	json_array_foreach(json_object_get(st, "phases"), i, p)
	{
		long long done = json_integer_value(json_object_get(p, "done"));
		long long total =
		    json_integer_value(json_object_get(p, "total"));
		char bar[21];
		int fill = total ? (int)(20 * done / total) : 0;
		for (int k = 0; k < 20; k++)
			bar[k] = k < fill ? '#' : '.';
		bar[20] = '\0';
		printf("  %-16s [%s] %lld/%lld\n",
		    *session_str(p, "name") ? session_str(p, "name") : "-", bar,
		    done, total);
	}
	json_array_foreach(json_object_get(st, "agents"), i, a) printf(
	    "  %-10s %-20s %-9s %s%s\n", session_str(a, "key"),
	    *session_str(a, "label") ? session_str(a, "label") : "agent",
	    session_str(a, "state"), session_str(a, "session"),
	    json_is_true(json_object_get(a, "replayed")) ? " (replayed)" : "");
	if (*session_str(st, "error"))
		printf("  error: %s\n", session_str(st, "error"));
	printf("  cost $%.2f\n",
	    json_number_value(
	        json_object_get(json_object_get(st, "usage"), "cost_usd")));
}

static int
final_code(json_t *st)
{
	return strcmp(session_str(st, "state"), "done") == 0 ? 0 : 1;
}

/* Follow a run until it ends: its log lines as they come, then its
 * result (or error). */
static int
follow(struct cmd_ctx *ctx, const char *id)
{
	json_t *ev = NULL;

	for (;;) {
		int rc = client_event(&ctx->cl, &ev, -1, &ctx->err);
		if (rc < 0)
			return cmd_fail(ctx);
		if (rc == 0)
			continue;
		const char *name = session_str(ev, "event");
		int mine = strcmp(session_str(ev, "run"), id) == 0;
		if (mine && strcmp(name, "workflow.log") == 0 && !ctx->json)
			fprintf(stderr, "%s\n", session_str(ev, "text"));
		int over = mine && strcmp(name, "workflow.state") == 0 &&
		    strcmp(session_str(ev, "state"), "running") &&
		    strcmp(session_str(ev, "state"), "paused");
		json_decref(ev);
		if (over)
			break;
	}
	json_t *r = cmd_call(ctx,
	    json_pack("{s:s, s:s, s:s}", "cmd", "workflow", "op", "status",
	        "run", id));
	if (r == NULL)
		return cmd_fail(ctx);
	json_t *st = json_object_get(r, "status");
	int code = final_code(st);
	if (ctx->json)
		cmd_print_json(st);
	else if (code == 0) {
		json_t *res = json_object_get(st, "result");
		if (json_is_string(res))
			printf("%s\n", json_string_value(res));
		else if (!json_is_null(res))
			cmd_print_json(res);
	} else
		fprintf(stderr, "galley: run %s %s: %s\n", id,
		    session_str(st, "state"), session_str(st, "error"));
	json_decref(r);
	return code;
}

static int
wf_run(
    struct cmd_ctx *ctx, const char *ref, json_t *args, json_t *budget, int bg)
{
	char cwd[4096];
	struct buf b = BUF_INIT;
	int rc;

	if (getcwd(cwd, sizeof cwd) == NULL)
		return cmd_usage_error(
		    ctx, "cannot read the current directory");
	char *path = find_script(ctx, cwd, ref);
	if (path == NULL)
		return cmd_fail(ctx);
	int built = strncmp(path, BUILTIN, strlen(BUILTIN)) == 0;
	if (built)
		buf_adds(&b, wf_builtin(path + strlen(BUILTIN)));
	else if (read_file(path, &b, SCRIPT_MAX, &ctx->err) < 0) {
		free(path);
		return cmd_fail(ctx);
	}
	buf_addc(&b, '\0');
	char *base =
	    xstrdup(built ? path + strlen(BUILTIN) : strrchr(path, '/') + 1);
	base[strcspn(base, ".")] = '\0';
	json_t *req = cmd_new_request(ctx, cwd);
	json_object_set_new(req, "cmd", json_string("workflow"));
	json_object_set_new(req, "op", json_string("run"));
	json_object_set_new(req, "name", json_string(base));
	if (!built) /* a built-in is kept whole in the run's row */
		json_object_set_new(req, "file", json_string(path));
	json_object_set_new(req, "script", json_string(b.data));
	json_object_set(req, "args", args);
	json_object_update(req, budget);
	free(path);
	free(base);
	buf_release(&b);
	if (!bg) { /* subscribed first: no event is missed */
		json_t *sub =
		    cmd_call(ctx, json_pack("{s:s}", "cmd", "subscribe"));
		if (sub == NULL) {
			json_decref(req);
			return cmd_fail(ctx);
		}
		json_decref(sub);
	}
	json_t *reply = cmd_call(ctx, req);
	if (reply == NULL)
		return cmd_fail(ctx);
	const char *id = session_str(reply, "run");
	if (bg) {
		/* the protocol's fields, not the run's */
		json_object_del(reply, "id");
		json_object_del(reply, "ok");
		if (ctx->json)
			cmd_print_json(reply);
		else
			printf("%s\n", id);
		rc = 0;
	} else {
		char *idc = xstrdup(id);
		rc = follow(ctx, idc);
		free(idc);
	}
	json_decref(reply);
	return rc;
}

/* Workflows by name: the project's, then the user's (a name in both: the
 * project's wins and the other is marked shadowed). */
static int
wf_ls(struct cmd_ctx *ctx)
{
	char cwd[4096], *d[2];
	json_t *out = json_array(), *seen = json_object(), *v;
	size_t i;

	if (getcwd(cwd, sizeof cwd) == NULL)
		return cmd_usage_error(
		    ctx, "cannot read the current directory");
	wf_dirs(cwd, d);
	for (int k = 0; k < 2; k++) {
		struct dirent **ents;
		int n = scandir(d[k], &ents, NULL, alphasort);
		for (int j = 0; j < n; j++) {
			char *nm = ents[j]->d_name;
			size_t len = strlen(nm);
			if (len > 4 && strcmp(nm + len - 4, ".lua") == 0) {
				nm[len - 4] = '\0';
				json_array_append_new(out,
				    json_pack("{s:s, s:o, s:s, s:b}", "name",
				        nm, "path",
				        json_sprintf("%s/%s.lua", d[k], nm),
				        "where",
				        k == 0 ? "project" : "personal",
				        "shadowed",
				        json_object_get(seen, nm) != NULL));
				json_object_set_new(seen, nm, json_true());
			}
			free(ents[j]);
		}
		if (n >= 0)
			free(ents);
	}
	for (size_t k = 0; wf_builtin_name(k); k++)
		json_array_append_new(out,
		    json_pack("{s:s, s:s, s:s, s:b}", "name",
		        wf_builtin_name(k), "path", "(in galley)", "where",
		        "built-in", "shadowed",
		        json_object_get(seen, wf_builtin_name(k)) != NULL));
	if (ctx->json)
		cmd_print_json(out);
	else
		json_array_foreach(out, i, v) printf("%-20s %-9s %s%s\n",
		    session_str(v, "name"), session_str(v, "where"),
		    session_str(v, "path"),
		    json_is_true(json_object_get(v, "shadowed")) ? " (shadowed)"
		                                                 : "");
	json_decref(out);
	json_decref(seen);
	free(d[0]);
	free(d[1]);
	return 0;
}

/* The run's budget, now: its held agents go on, new ones may start. */
static int
wf_budget(struct cmd_ctx *ctx, const char *id, json_t *budget)
{
	json_t *req = json_pack(
	    "{s:s, s:s, s:s}", "cmd", "workflow", "op", "budget", "run", id);

	json_object_update(req, budget);
	json_t *r = cmd_call(ctx, req);
	if (r == NULL)
		return cmd_fail(ctx);
	if (ctx->json)
		cmd_print_json(json_object_get(r, "status"));
	else
		print_status(json_object_get(r, "status"));
	json_decref(r);
	return 0;
}

/* restart-agent RUN LABEL (an agent in flight) and retry RUN LABEL (the
 * parallel branch that made the call, in an ended run) */
static int
wf_labelled(
    struct cmd_ctx *ctx, const char *op, const char *id, const char *label)
{
	int retry = strcmp(op, "retry") == 0;
	json_t *r = cmd_call(ctx,
	    json_pack("{s:s, s:s, s:s, s:s}", "cmd", "workflow", "op", op,
	        "run", id, retry ? "label" : "agent", label));

	if (r == NULL)
		return cmd_fail(ctx);
	if (ctx->json)
		cmd_print_json(json_object_get(r, "status"));
	else
		printf("%s %s in %s\n", retry ? "retrying" : "restarted", label,
		    id);
	json_decref(r);
	return 0;
}

/* logs -f: the lines so far, then new ones until the run ends */
static int
wf_follow_logs(struct cmd_ctx *ctx, const char *id)
{
	json_t *sub = cmd_call(ctx, json_pack("{s:s}", "cmd", "subscribe"));
	json_t *r, *v, *ev = NULL;
	size_t i;

	if (sub == NULL)
		return cmd_fail(ctx);
	json_decref(sub);
	r = cmd_call(ctx,
	    json_pack(
	        "{s:s, s:s, s:s}", "cmd", "workflow", "op", "logs", "run", id));
	if (r == NULL)
		return cmd_fail(ctx);
	json_t *st = json_object_get(r, "status");
	char run[16];
	snprintf(run, sizeof run, "%s", session_str(st, "run"));
	json_t *seen = json_object(); /* keys printed */
	json_array_foreach(json_object_get(r, "logs"), i, v)
	{
		printf("%s\n", session_str(v, "text"));
		json_object_set_new(seen, session_str(v, "key"), json_true());
	}
	fflush(stdout);
	int over = strcmp(session_str(st, "state"), "running") &&
	    strcmp(session_str(st, "state"), "paused");
	json_decref(r);
	while (!over) {
		int rc = client_event(&ctx->cl, &ev, -1, &ctx->err);
		if (rc < 0)
			return cmd_fail(ctx);
		if (rc == 0)
			continue;
		if (strcmp(session_str(ev, "run"), run) == 0) {
			const char *name = session_str(ev, "event");
			if (strcmp(name, "workflow.log") == 0 &&
			    !json_object_get(seen, session_str(ev, "key")))
				printf("%s\n", session_str(ev, "text"));
			over = strcmp(name, "workflow.state") == 0 &&
			    strcmp(session_str(ev, "state"), "running") &&
			    strcmp(session_str(ev, "state"), "paused");
			fflush(stdout);
		}
		json_decref(ev);
	}
	json_decref(seen);
	return 0;
}

static int
wf_simple(struct cmd_ctx *ctx, const char *op, const char *id)
{
	json_t *req = json_pack("{s:s, s:s}", "cmd", "workflow", "op", op);
	json_t *v;
	size_t i;

	if (id)
		json_object_set_new(req, "run", json_string(id));
	json_t *reply = cmd_call(ctx, req);
	if (reply == NULL)
		return cmd_fail(ctx);
	json_t *st = json_object_get(reply, "status");
	if (strcmp(op, "runs") == 0) {
		json_t *runs = json_object_get(reply, "runs");
		if (ctx->json)
			cmd_print_json(runs);
		else
			json_array_foreach(runs, i, v) printf(
			    "%-8s  %-20s %-8s %s\n", session_str(v, "run"),
			    session_str(v, "name"), session_str(v, "state"),
			    session_str(v, "phase"));
	} else if (strcmp(op, "logs") == 0) {
		json_t *logs = json_object_get(reply, "logs");
		if (ctx->json)
			cmd_print_json(logs);
		else
			json_array_foreach(logs, i, v)
			    printf("%s\n", session_str(v, "text"));
	} else if (strcmp(op, "rm") == 0) {
		if (ctx->json)
			cmd_print_json(reply);
		else
			printf("removed %s\n", session_str(reply, "removed"));
	} else if (ctx->json)
		cmd_print_json(st);
	else
		print_status(st);
	json_decref(reply);
	return 0;
}

/* The run's script, kept by name: the project's folder, or the user's
 * with --personal; an existing one only with --force. */
static int
wf_save(struct cmd_ctx *ctx, const char *id, const char *name, int personal,
    int force)
{
	char *d[2], *path;
	struct stat st;

	if (name_check(name, "workflow", &ctx->err) < 0)
		return cmd_fail(ctx);
	json_t *r = cmd_call(ctx,
	    json_pack("{s:s, s:s, s:s}", "cmd", "workflow", "op", "script",
	        "run", id));
	if (r == NULL)
		return cmd_fail(ctx);
	wf_dirs(session_str(r, "cwd"), d);
	xasprintf(&path, "%s/%s.lua", d[personal], name);
	int rc = 0;
	if (!force && stat(path, &st) == 0)
		rc = err_set(&ctx->err, ERR_EXISTS,
		    "%s exists: --force replaces it", path);
	else if (mkdir_p(d[personal], 0755, &ctx->err) < 0)
		rc = -1;
	else {
		const char *text = session_str(r, "script");
		rc = write_file_replace(
		    path, text, strlen(text), 0644, 0, &ctx->err);
	}
	if (rc == 0 && ctx->json)
		cmd_print_json(
		    json_pack("{s:s, s:s}", "name", name, "path", path));
	else if (rc == 0)
		printf("saved %s\n", path);
	free(path);
	free(d[0]);
	free(d[1]);
	json_decref(r);
	return rc < 0 ? cmd_fail(ctx) : 0;
}

/* What the options said. */
struct wf_opts {
	json_t *args, *budget;
	int bg, follow, personal, force, yes;
	const char *name, *runtime; /* new */
};

/* One option into o: -1 to go on, else the exit code to return now. */
static int
wf_opt(struct cmd_ctx *ctx, int c, struct wf_opts *o)
{
	if (c == 'A') {
		const char *eq = strchr(optarg, '=');
		if (eq == NULL || eq == optarg)
			return cmd_usage_error(
			    ctx, "--arg takes KEY=VALUE, not '%s'", optarg);
		char *k = xstrndup(optarg, (size_t)(eq - optarg));
		json_object_set_new(o->args, k, json_string(eq + 1));
		free(k);
	} else if (c == 'U' || c == 'T') {
		char *end;
		double v = strtod(optarg, &end);
		if (*end || end == optarg || v < 0 ||
		    (c == 'T' && v != (double)(long long)v))
			return cmd_usage_error(ctx,
			    "--%s takes a number of at least 0, not '%s'",
			    c == 'U' ? "budget-usd" : "budget-tokens", optarg);
		json_object_set_new(o->budget,
		    c == 'U' ? "budget_usd" : "budget_tokens",
		    c == 'U' ? json_real(v) : json_integer((json_int_t)v));
	} else if (c == 'n' || c == 'r')
		*(c == 'n' ? &o->name : &o->runtime) = optarg;
	else if (c == 'y')
		o->yes = 1;
	else if (c == 'b' || c == 'f' || c == 'P' || c == 'F')
		*(c == 'b'         ? &o->bg
		        : c == 'f' ? &o->follow
		        : c == 'P' ? &o->personal
		                   : &o->force) = 1;
	else
		return cmd_opt_common(ctx, c);
	return -1;
}

static int
wf_dispatch(struct cmd_ctx *ctx, const char *op, const char *what,
    const char *third, struct wf_opts *o)
{
	if (strcmp(op, "run") == 0)
		return what ? wf_run(ctx, what, o->args, o->budget, o->bg)
		            : cmd_usage_error(ctx, "workflow run NAME|FILE");
	if (strcmp(op, "budget") == 0)
		return what && json_object_size(o->budget)
		    ? wf_budget(ctx, what, o->budget)
		    : cmd_usage_error(
		          ctx, "workflow budget RUN --usd X [--tokens N]");
	if (strcmp(op, "ls") == 0)
		return wf_ls(ctx);
	if (strcmp(op, "new") == 0)
		return what
		    ? wf_new(
		          ctx, what, o->name, o->runtime, o->yes, o->personal)
		    : cmd_usage_error(ctx,
		          "workflow new \"WHAT IT DOES\" [--name N] [--yes]");
	if (strcmp(op, "runs") == 0)
		return wf_simple(ctx, "runs", NULL);
	if (strcmp(op, "logs") == 0 && o->follow && what)
		return wf_follow_logs(ctx, what);
	if (strcmp(op, "save") == 0)
		return what && third
		    ? wf_save(ctx, what, third, o->personal, o->force)
		    : cmd_usage_error(
		          ctx, "workflow save RUN NAME [--personal]");
	if (strcmp(op, "restart-agent") == 0 || strcmp(op, "retry") == 0)
		return what && third
		    ? wf_labelled(ctx, op, what, third)
		    : cmd_usage_error(ctx, "workflow %s RUN LABEL", op);
	if (strcmp(op, "status") == 0 || strcmp(op, "logs") == 0 ||
	    strcmp(op, "stop") == 0 || strcmp(op, "pause") == 0 ||
	    strcmp(op, "resume") == 0 || strcmp(op, "rm") == 0)
		return what ? wf_simple(ctx, op, what)
		            : cmd_usage_error(ctx, "workflow %s RUN", op);
	return cmd_usage_error(ctx, "unknown workflow command '%s'", op);
}

static int
workflow_run(struct cmd_ctx *ctx)
{
	static const struct option opts[] = {
	    {"arg", required_argument, NULL, 'A'},
	    {"bg", no_argument, NULL, 'b'}, {"follow", no_argument, NULL, 'f'},
	    {"personal", no_argument, NULL, 'P'},
	    {"force", no_argument, NULL, 'F'},
	    {"budget-usd", required_argument, NULL, 'U'},
	    {"usd", required_argument, NULL, 'U'},
	    {"budget-tokens", required_argument, NULL, 'T'},
	    {"tokens", required_argument, NULL, 'T'},
	    {"name", required_argument, NULL, 'n'},
	    {"runtime", required_argument, NULL, 'r'},
	    {"yes", no_argument, NULL, 'y'}, CMD_LONGOPTS_COMMON,
	    {NULL, 0, NULL, 0}};
	struct wf_opts o = {
	    json_object(), json_object(), 0, 0, 0, 0, 0, NULL, NULL};
	int c, rc = -1;

	while (rc < 0 &&
	    (c = getopt_long(ctx->argc, ctx->argv, ":hfn:r:y", opts, NULL)) !=
	        -1)
		rc = wf_opt(ctx, c, &o);
	/* run NAME WORDS...: KEY=VALUE words are args, the rest args._ */
	for (int i = optind + 2; rc < 0 && i < ctx->argc; i++) {
		const char *w = ctx->argv[i], *eq = strchr(w, '=');
		if (eq && eq > w &&
		    strspn(w,
		        "abcdefghijklmnopqrstuvwxyz"
		        "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") ==
		        (size_t)(eq - w)) {
			char *k = xstrndup(w, (size_t)(eq - w));
			json_object_set_new(o.args, k, json_string(eq + 1));
			free(k);
			continue;
		}
		const char *was =
		    json_string_value(json_object_get(o.args, "_"));
		json_object_set_new(o.args, "_",
		    was ? json_sprintf("%s %s", was, w) : json_string(w));
	}
	if (rc < 0) {
		int n = ctx->argc - optind;
		rc = n < 1
		    ? cmd_usage_error(ctx, "which workflow command? see --help")
		    : wf_dispatch(ctx, ctx->argv[optind],
		          n > 1 ? ctx->argv[optind + 1] : NULL,
		          n > 2 ? ctx->argv[optind + 2] : NULL, &o);
	}
	json_decref(o.args);
	json_decref(o.budget);
	return rc;
}

static int
workflow_serve_cmd(
    struct server_client *c, json_t *req, json_t *reply, struct err *err)
{
	(void)c;
	return workflow_serve(req, reply, err);
}

const struct cmd_entry cmd_workflow_entry = {
    .name = "workflow",
    .usage = "run NAME|FILE [K=V|WORD]... [--arg K=V]... [--bg]\n"
             "       galley workflow new \"WHAT IT DOES\" [--name N] [--yes] "
             "[--personal]\n"
             "       galley workflow ls | runs\n"
             "       galley workflow status|logs [-f]|stop|pause|resume|rm "
             "RUN\n"
             "       galley workflow restart-agent|retry RUN LABEL | save "
             "RUN NAME [--personal]\n"
             "       galley workflow budget RUN --usd X [--tokens N]",
    .summary = "run Lua workflows that fan out agents in phases",
    .help = "  run NAME|FILE       run a workflow: FILE, or NAME.lua in the\n"
            "                      project's .galley/workflows, else\n"
            "                      ~/.config/galley/workflows; follows it\n"
            "                      to its end (log lines on stderr, the\n"
            "                      result on stdout; exit 1 if it fails)\n"
            "      --arg K=V       an argument (args.K in the script); so\n"
            "                      is a K=V word after NAME, and other\n"
            "                      words make args._ (deep-research's\n"
            "                      question)\n"
            "      --bg            print the run's id and return\n"
            "      --budget-usd X, --budget-tokens N  the run's budget over\n"
            "                      all its agents: at 100% they are held\n"
            "                      and no new one starts\n"
            "  budget RUN --usd X [--tokens N]  set the run's budget now\n"
            "  new \"WHAT IT DOES\"  an agent (headless; -r RUNTIME) writes\n"
            "                      the script; a dry run checks it (each\n"
            "                      agent() answers a stub fitting its\n"
            "                      schema); it is shown and saved as NAME\n"
            "                      (-n; else from the words) once approved:\n"
            "                      y on a terminal, or --yes\n"
            "  ls                  the workflows there are, by name\n"
            "  runs                every run, its state and phase\n"
            "  status RUN          phases (done/total), agents, cost\n"
            "  logs RUN            the run's log() lines; -f follows them\n"
            "                      until the run ends\n"
            "  stop RUN            stop its agents; the journal stays\n"
            "  pause RUN           start no new agents until resume\n"
            "  resume RUN          go on: a paused run, or a stopped or\n"
            "                      failed one replayed from its journal\n"
            "  rm RUN              stop it and delete its journal\n"
            "  restart-agent RUN LABEL  a new session for an agent in flight\n"
            "  retry RUN LABEL     an ended run again: the parallel{} branch\n"
            "                      that made call LABEL runs anew, the rest\n"
            "                      is fed back from the journal\n"
            "  save RUN NAME       keep the run's script as NAME in the\n"
            "                      project (--personal: yours; --force\n"
            "                      replaces one)\n",
    .run = workflow_run,
    .serve = workflow_serve_cmd,
};
