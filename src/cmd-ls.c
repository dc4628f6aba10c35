/* galley ls: the sessions at a glance. By default, live sessions and those
 * that ended in the last 24 hours; --all shows every one in the store. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "names.h"
#include "server.h"
#include "session.h"
#include "state.h"
#include "term.h"
#include "util.h"

#define LS_RECENT_MS (24LL * 3600 * 1000)

static int
state_known(const char *s, size_t n)
{
	for (int i = 0; i < SESSION_NSTATES; i++)
		if (strlen(state_table[i].name) == n &&
		    strncmp(state_table[i].name, s, n) == 0)
			return 1;
	return 0;
}

/* "blocked,idle" contains state? */
static int
state_match(const char *list, const char *state)
{
	size_t n = strlen(state);

	for (const char *p = list; p && *p;) {
		size_t len = strcspn(p, ",");
		if (len == n && strncmp(p, state, n) == 0)
			return 1;
		p += len;
		if (*p == ',')
			p++;
	}
	return 0;
}

/* Sessions under their parent (team members, workflow agents, jobs they
 * started): roots are sessions without a parent in the list. */
static json_t *
tree_children(json_t *list, const char *parent, int depth)
{
	json_t *out = json_array(), *s;
	size_t i;

	json_array_foreach(list, i, s)
	{
		const char *p = json_string_value(json_object_get(s, "parent"));
		int root = p == NULL;
		if (!root && parent == NULL) {
			/* a parent not in the list: show it as a root */
			root = 1;
			json_t *o;
			size_t j;
			json_array_foreach(list, j, o)
			{
				if (strcmp(session_str(o, "id"), p) == 0)
					root = 0;
			}
		}
		if (parent ? (p && strcmp(p, parent) == 0) : root) {
			json_t *n = json_deep_copy(s);
			/* its subagents and background tasks first, then the
			 * sessions it started */
			json_t *kids = json_object_get(n, "children");
			kids = json_is_array(kids) ? json_incref(kids)
			                           : json_array();
			json_array_extend(kids,
			    depth < 32 ? tree_children(list,
			                     session_str(s, "id"), depth + 1)
			               : json_array());
			json_object_set_new(n, "children", kids);
			json_array_append_new(out, n);
		}
	}
	return out;
}

static double
cost_of(json_t *n)
{
	return json_number_value(
	    json_object_get(json_object_get(n, "usage"), "cost_usd"));
}

/* total_cost_usd on every node: its own cost and its sessions'. A
 * session's own usage already holds its subagents' (their transcripts
 * are read into it), so theirs is shown, not added again. */
static double
tree_costs(json_t *nodes)
{
	json_t *n;
	size_t i;
	double sum = 0;

	json_array_foreach(nodes, i, n)
	{
		const char *kind = session_str(n, "kind");
		int inner =
		    strcmp(kind, "subagent") == 0 || strcmp(kind, "task") == 0;
		double below = tree_costs(json_object_get(n, "children"));
		double total = inner ? cost_of(n) : cost_of(n) + below;
		json_object_set_new(n, "total_cost_usd", json_real(total));
		if (!inner)
			sum += total;
	}
	return sum;
}

static void
tree_print(json_t *nodes, int depth)
{
	json_t *n;
	size_t i;

	json_array_foreach(nodes, i, n)
	{
		/* the indent comes out of the name column, so the state
		 * and runtime columns stay aligned at every depth */
		char nm[24];
		int w = 20 - 2 * depth - (depth ? 2 : 0);
		if (w < 4)
			w = 4;
		const char *kind = session_str(n, "kind");
		int inner =
		    strcmp(kind, "subagent") == 0 || strcmp(kind, "task") == 0;
		/* a subagent by its type and tool, a task by its command */
		const char *name = !inner       ? session_str(n, "name")
		    : strcmp(kind, "task") == 0 ? session_str(n, "command")
		                                : session_str(n, "type");
		const char *what = inner ? kind : session_str(n, "runtime");
		double cost =
		    json_number_value(json_object_get(n, "total_cost_usd"));
		char id[9];
		snprintf(id, sizeof id, "%s", session_str(n, "id"));
		printf("%*s%s%-8s  %-*s  %-11s  %-8s", depth * 2, "",
		    depth ? "└ " : "", id, w,
		    name_fit(name, (size_t)w, nm, sizeof nm),
		    session_str(n, "state"), what);
		if (cost > 0)
			printf("  $%.2f", cost);
		if (inner && *session_str(n, "tool"))
			printf("  %s", session_str(n, "tool"));
		printf("\n");
		tree_print(json_object_get(n, "children"), depth + 1);
	}
}

/* The state in the view's colours on a terminal; plain for a pipe, a
 * dumb terminal or NO_COLOR (https://no-color.org). */
static int
ls_colour(void)
{
	const char *nc = getenv("NO_COLOR"), *term = getenv("TERM");

	return isatty(1) && !(nc && *nc) && term && strcmp(term, "dumb") != 0;
}

static const char *
state_sgr(const char *state)
{
	switch (state_from_name(state)) {
	case SESSION_BLOCKED:
		return "\033[33m";
	case SESSION_IDLE:
	case SESSION_DONE:
		return "\033[32m";
	case SESSION_WORKING:
	case SESSION_STARTING:
		return "\033[34m";
	case SESSION_FAILED:
	case SESSION_INTERRUPTED:
		return "\033[31m";
	default:
		return "\033[2m";
	}
}

/* Workflow agents under their run: a node for each run with agents in
 * the list ("kind": "workflow", its id the run's), the parent of those
 * of its agents that have none of their own. */
static void
tree_runs(struct cmd_ctx *ctx, json_t *list)
{
	json_t *r = cmd_call(
	    ctx, json_pack("{s:s, s:s}", "cmd", "workflow", "op", "runs"));
	json_t *run, *s;
	size_t i, j;

	if (r == NULL) { /* an older daemon: agents stay roots */
		err_release(&ctx->err);
		return;
	}
	json_array_foreach(json_object_get(r, "runs"), i, run)
	{
		const char *id = session_str(run, "run");
		int agents = 0;
		json_array_foreach(list, j, s)
		{
			if (strcmp(session_str(s, "workflow"), id) == 0 &&
			    !json_is_string(json_object_get(s, "parent"))) {
				json_object_set_new(
				    s, "parent", json_string(id));
				agents++;
			}
		}
		if (agents)
			json_array_append_new(list,
			    json_pack("{s:s, s:s, s:s, s:s, s:s, s:O?}", "id",
			        id, "name", session_str(run, "name"), "state",
			        session_str(run, "state"), "runtime",
			        "workflow", "kind", "workflow", "phase",
			        json_object_get(run, "phase")));
	}
	json_decref(r);
}

static int
ls_tree(struct cmd_ctx *ctx, json_t *req)
{
	json_t *reply = cmd_call(ctx, req), *tree;

	if (reply == NULL)
		return cmd_fail(ctx);
	tree_runs(ctx, json_object_get(reply, "sessions"));
	tree = tree_children(json_object_get(reply, "sessions"), NULL, 0);
	tree_costs(tree);
	if (ctx->json)
		cmd_print_json(tree);
	else if (json_array_size(tree) == 0)
		printf("no sessions\n");
	else
		tree_print(tree, 0);
	json_decref(tree);
	json_decref(reply);
	return 0;
}

static int
ls_run(struct cmd_ctx *ctx)
{
	static const struct option opts[] = {{"all", no_argument, NULL, 'a'},
	    {"tree", no_argument, NULL, 't'},
	    {"state", required_argument, NULL, 's'},
	    {"cwd", required_argument, NULL, 'C'}, CMD_LONGOPTS_COMMON,
	    {NULL, 0, NULL, 0}};
	const char *state = NULL, *cwd = NULL;
	char real[PATH_MAX];
	json_t *req, *reply, *list, *s;
	int c, rc, all = 0, width = 120, rows, tree = 0;
	size_t i;

	while ((c = getopt_long(ctx->argc, ctx->argv, ":as:C:h", opts, NULL)) !=
	    -1) {
		switch (c) {
		case 'a':
			all = 1;
			break;
		case 't':
			tree = 1;
			break;
		case 's':
			state = optarg;
			break;
		case 'C':
			cwd = optarg;
			break;
		default:
			if ((rc = cmd_opt_common(ctx, c)) >= 0)
				return rc;
		}
	}
	if (optind < ctx->argc)
		return cmd_usage_error(
		    ctx, "unexpected argument '%s'", ctx->argv[optind]);
	if (state) {
		for (const char *p = state; *p;) {
			size_t len = strcspn(p, ",");
			if (!state_known(p, len))
				return cmd_usage_error(
				    ctx, "unknown state '%.*s'", (int)len, p);
			p += len;
			if (*p == ',')
				p++;
		}
	}
	if (cwd && realpath(cwd, real) == NULL) {
		err_set(&ctx->err, ERR_NOT_FOUND, "no directory '%s'", cwd);
		return cmd_fail(ctx);
	}
	req = json_pack("{s:s, s:b}", "cmd", "ls", "all", all);
	if (state)
		json_object_set_new(req, "state", json_string(state));
	if (cwd)
		json_object_set_new(req, "cwd", json_string(real));
	if (tree)
		return ls_tree(ctx, req);
	if (ctx->json) {
		/* pass the daemon's text through: parsing and re-printing
		 * thousands of sessions costs more than everything else */
		struct buf text = BUF_INIT;
		if (ctx->cl.fd < 0 &&
		    client_connect(&ctx->cl, 1, &ctx->err) < 0) {
			json_decref(req);
			return cmd_fail(ctx);
		}
		if (client_call_text(&ctx->cl, req, &text, &ctx->err) < 0) {
			buf_release(&text);
			return cmd_fail(ctx);
		}
		char *open = strchr(text.data, '[');
		char *close = strrchr(text.data, ']');
		if (open == NULL || close == NULL || close < open) {
			buf_release(&text);
			err_set(&ctx->err, ERR_PROTOCOL, "malformed ls reply");
			return cmd_fail(ctx);
		}
		fwrite(open, 1, (size_t)(close - open + 1), stdout);
		putchar('\n');
		buf_release(&text);
		return 0;
	}
	json_object_set_new(req, "rows", json_true());
	reply = cmd_call(ctx, req);
	if (reply == NULL)
		return cmd_fail(ctx);
	list = json_object_get(reply, "rows");
	if (json_array_size(list) == 0) {
		printf("no sessions%s\n",
		    all ? ""
		        : " (galley ls --all shows "
		          "older ones)");
		json_decref(reply);
		return 0;
	}
	term_size(1, &rows, &width);
	if (width < 60)
		width = 60;
	printf("%-8s  %-20s  %-11s  %4s  %-7s  %s\n", "ID", "NAME", "STATE",
	    "AGE", "RUNTIME", "DETAIL");
	int64_t now = wall_ms();
	int colour = ls_colour();
	int room = width - (8 + 2 + 20 + 2 + 11 + 2 + 4 + 2 + 7 + 2);
	if (room < 10)
		room = 10;
	json_array_foreach(list, i, s)
	{
		char age[16], name[80], nm[24];
		const char *detail = json_string_value(json_array_get(s, 5));
		format_age(now - json_integer_value(json_array_get(s, 3)), age,
		    sizeof age);
		snprintf(name, sizeof name, "%s%s",
		    json_is_true(json_array_get(s, 6)) ? "*" : "",
		    json_string_value(json_array_get(s, 1)));
		/* cut the detail to the terminal, on a character boundary */
		int cut = 0, chars = 0;
		for (const char *p = detail ? detail : ""; p[cut]; cut++) {
			if (((unsigned char)p[cut] & 0xc0) != 0x80 &&
			    chars++ == room)
				break;
		}
		const char *st = json_string_value(json_array_get(s, 2));
		printf("%-8s  %-20s  %s%-11s%s  %4s  %-7s  %.*s\n",
		    json_string_value(json_array_get(s, 0)),
		    name_fit(name, 20, nm, sizeof nm),
		    colour ? state_sgr(st) : "", st, colour ? "\033[0m" : "",
		    age, json_string_value(json_array_get(s, 4)), cut,
		    detail ? detail : "");
	}
	json_decref(reply);
	return 0;
}

static int
ls_serve(struct server_client *c, json_t *req, json_t *reply, struct err *err)
{
	const char *state = NULL, *cwd = NULL;
	int all = 0, rows = 0, first = 1;
	struct session *s;
	int64_t now = wall_ms();
	json_int_t id = 0;
	struct buf b = BUF_INIT;
	size_t cwdlen;

	if (proto_get_str(req, "state", &state, err) < 0 ||
	    proto_get_str(req, "cwd", &cwd, err) < 0 ||
	    proto_get_bool(req, "all", &all, err) < 0 ||
	    proto_get_bool(req, "rows", &rows, err) < 0)
		return -1;
	proto_get_int(req, "id", &id, NULL);
	cwdlen = cwd ? strlen(cwd) : 0;
	while (cwdlen > 1 && cwd[cwdlen - 1] == '/')
		cwdlen--;
	/* the reply is assembled from each session's cached text: with
	 * thousands of sessions, building and freeing JSON trees is the cost */
	buf_addf(&b, "{\"id\":%lld,\"ok\":true,\"%s\":[", (long long)id,
	    rows ? "rows" : "sessions");
	TAILQ_FOREACH(s, &session_table, entry) {
		if (state && !state_match(state, state_name(s->state)))
			continue;
		if (!all && !state && session_terminal(s) && !s->pinned &&
		    now - s->updated_at > LS_RECENT_MS)
			continue;
		if (cwd &&
		    !(strncmp(s->cwd, cwd, cwdlen) == 0 &&
		        (s->cwd[cwdlen] == '\0' || s->cwd[cwdlen] == '/' ||
		            cwdlen == 1)))
			continue;
		size_t len;
		const char *text = rows ? session_row_text(s, &len)
		                        : session_json_text(s, &len);
		buf_adds(&b, first ? "\n" : ",\n");
		buf_add(&b, text, len);
		first = 0;
	}
	buf_adds(&b, first ? "]}" : "\n]}");
	server_client_send_text(c, id, b.data, b.len);
	buf_release(&b);
	return 1;
}

const struct cmd_entry cmd_ls_entry = {
    .name = "ls",
    .usage = "[--all] [--tree] [--state S[,S...]] [--cwd DIR]",
    .summary = "list sessions",
    .help = "  -a, --all           include sessions that ended over a day ago\n"
            "  -s, --state S,...   only these states (queued starting working\n"
            "                      blocked idle done failed stopped "
            "interrupted)\n"
            "  -C, --cwd DIR       only sessions in DIR or below it\n"
            "      --tree          sessions under the session that started\n"
            "                      them (team members), workflow agents\n"
            "                      under their run\n",
    .run = ls_run,
    .serve = ls_serve,
};
