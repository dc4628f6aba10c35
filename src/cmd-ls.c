/* galley ls: the sessions at a glance. By default, live sessions and those
 * that ended in the last 24 hours; --all shows every one in the store. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd-ls-tree.h"
#include "cmd.h"
#include "names.h"
#include "server.h"
#include "session.h"
#include "state.h"
#include "term.h"
#include "util.h"
#include "xmalloc.h"

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

/* The daemon's text passed through: parsing and re-printing thousands of
 * sessions costs more than everything else. */
static int
ls_json_text(struct cmd_ctx *ctx, json_t *req)
{
	struct buf text = BUF_INIT;

	if (ctx->cl.fd < 0 && client_connect(&ctx->cl, 1, &ctx->err) < 0) {
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

/* The tree comes assembled from the daemon (cmd-ls-tree.c): --json
 * passes its text through, as the flat list does. */
static int
ls_tree(struct cmd_ctx *ctx, json_t *req)
{
	json_t *reply, *tree;

	json_object_set_new(req, "tree", json_true());
	if (ctx->json)
		return ls_json_text(ctx, req);
	reply = cmd_call(ctx, req);
	if (reply == NULL)
		return cmd_fail(ctx);
	tree = json_object_get(reply, "sessions");
	if (json_array_size(tree) == 0)
		printf("no sessions\n");
	else
		tree_print(tree, 0);
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
	if (ctx->json)
		return ls_json_text(ctx, req);
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
	int all = 0, rows = 0, tree = 0, first = 1;
	struct session **list = NULL;
	size_t n = 0, cap = 0;
	struct session *s;
	int64_t now = wall_ms();
	json_int_t id = 0;
	struct buf b = BUF_INIT;
	size_t cwdlen;

	if (proto_get_str(req, "state", &state, err) < 0 ||
	    proto_get_str(req, "cwd", &cwd, err) < 0 ||
	    proto_get_bool(req, "all", &all, err) < 0 ||
	    proto_get_bool(req, "rows", &rows, err) < 0 ||
	    proto_get_bool(req, "tree", &tree, err) < 0)
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
		if (tree) { /* assembled once all are known */
			if (n == cap)
				list = xrealloc(list,
				    (cap = cap ? 2 * cap : 64) * sizeof *list);
			list[n++] = s;
			continue;
		}
		size_t len;
		const char *text = rows ? session_row_text(s, &len)
		                        : session_json_text(s, &len);
		buf_adds(&b, first ? "\n" : ",\n");
		buf_add(&b, text, len);
		first = 0;
	}
	if (tree && n) {
		ls_tree_text(&b, list, n);
		first = 0;
	}
	free(list);
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
