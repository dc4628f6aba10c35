/* galley rm ID... [--force] | rm --ended [--older-than D]: delete
 * sessions and their files. A running session is refused (exit 4) unless
 * --force, which kills it first; so is a worktree holding work. */
#include <stdio.h>
#include <stdlib.h>

#include "cmd.h"
#include "server.h"
#include "session-life.h"
#include "session.h"
#include "util.h"

/* A duration: N with s, m, h or d ("90m", "1d"), in ms; -1 if bad. */
static long long
duration_ms(const char *s)
{
	char *end;
	long long n = strtoll(s, &end, 10);
	long long unit = *end == 's' ? 1000
	    : *end == 'm'            ? 60000
	    : *end == 'h'            ? 3600000
	    : *end == 'd'            ? 86400000
	                             : 0;

	if (end == s || n < 0 || unit == 0 || end[1] != '\0' ||
	    n > 36500LL * 86400000 / unit)
		return -1;
	return n * unit;
}

/* One session: the worktree rule, the removal, the worktree. *refused
 * is set when the rule kept it (its work would be lost). */
static int
rm_one(
    struct cmd_ctx *ctx, const char *ref, int force, json_t *out, int *refused)
{
	json_t *pre = cmd_get_session(ctx, ref), *reply;
	int kept = 0;

	*refused = 0;
	/* a worktree session: the same safety rule as discard */
	if (pre == NULL || cmd_worktree_guard(ctx, pre, force) < 0) {
		*refused = pre != NULL;
		json_decref(pre);
		return -1;
	}
	reply = cmd_call(ctx,
	    json_pack("{s:s, s:s, s:b}", "cmd", "rm", "ref",
	        session_str(pre, "id"), "force", force));
	if (reply == NULL || cmd_worktree_drop(ctx, pre, force, &kept) < 0) {
		json_decref(reply);
		json_decref(pre);
		return -1;
	}
	json_decref(pre);
	json_t *s = json_object_get(reply, "session");
	if (ctx->json)
		json_array_append(out, s);
	else
		printf("removed · %s · %s%s\n", session_str(s, "id"),
		    session_str(s, "name"),
		    kept ? " (worktree branch kept: it has commits of its own)"
		         : "");
	json_decref(reply);
	return 0;
}

/* --ended: the ids of sessions that ended over older_ms ago (pinned ones
 * stay: a pin says keep it). */
static json_t *
ended_ids(struct cmd_ctx *ctx, long long older_ms)
{
	json_t *reply = cmd_call(
	           ctx, json_pack("{s:s, s:b}", "cmd", "ls", "all", 1)),
	       *s, *ids;
	int64_t now = wall_ms();
	size_t i;

	if (reply == NULL)
		return NULL;
	ids = json_array();
	json_array_foreach(json_object_get(reply, "sessions"), i, s)
	{
		if (!state_is_terminal(session_str(s, "state")) ||
		    json_is_true(json_object_get(s, "pinned")) ||
		    now - json_integer_value(json_object_get(s, "updated_ms")) <
		        older_ms)
			continue;
		json_array_append(ids, json_object_get(s, "id"));
	}
	json_decref(reply);
	return ids;
}

static int
rm_run(struct cmd_ctx *ctx)
{
	static const struct option opts[] = {{"force", no_argument, NULL, 'f'},
	    {"ended", no_argument, NULL, 'E'},
	    {"older-than", required_argument, NULL, 'O'}, CMD_LONGOPTS_COMMON,
	    {NULL, 0, NULL, 0}};
	json_t *out, *ids;
	int c, rc, force = 0, ended = 0, refused, have_older = 0;
	long long older = 0;

	while (
	    (c = getopt_long(ctx->argc, ctx->argv, ":fh", opts, NULL)) != -1) {
		if (c == 'f')
			force = 1;
		else if (c == 'E')
			ended = 1;
		else if (c == 'O') {
			have_older = 1;
			if ((older = duration_ms(optarg)) < 0)
				return cmd_usage_error(ctx,
				    "--older-than takes a duration: 30m, 12h, "
				    "7d");
		} else if ((rc = cmd_opt_common(ctx, c)) >= 0)
			return rc;
	}
	if (ended && (optind < ctx->argc || force))
		return cmd_usage_error(ctx,
		    "--ended takes no IDs and no --force: it removes only what "
		    "loses nothing");
	if (have_older && !ended)
		return cmd_usage_error(ctx, "--older-than goes with --ended");
	if (!ended && optind >= ctx->argc)
		return cmd_usage_error(ctx, "expected a session ID");
	if (ended) {
		ids = ended_ids(ctx, older);
		if (ids == NULL)
			return cmd_fail(ctx);
	} else {
		ids = json_array();
		for (int i = optind; i < ctx->argc; i++)
			json_array_append_new(ids, json_string(ctx->argv[i]));
	}
	/* every id is tried: one that fails is reported, the rest go on */
	out = json_array();
	rc = 0;
	size_t i;
	json_t *id;
	json_array_foreach(ids, i, id)
	{
		if (rm_one(ctx, json_string_value(id), force, out, &refused) ==
		    0)
			continue;
		if (ended && refused) {
			/* a sweep keeps what holds work, and says so */
			fprintf(
			    stderr, "galley: kept: %s\n", ctx->err.msg.data);
			err_release(&ctx->err);
			continue;
		}
		rc = cmd_report(ctx, rc);
	}
	if (ctx->json)
		cmd_print_json(out);
	json_decref(out);
	json_decref(ids);
	return rc;
}

static int
rm_serve(struct server_client *c, struct session *s, json_t *req, json_t *reply,
    struct err *err)
{
	int force = 0;
	json_t *obj;

	if (proto_get_bool(req, "force", &force, err) < 0)
		return -1;
	obj = session_to_json(s); /* s is gone after */
	if (session_remove(s, force, err) < 0) {
		json_decref(obj);
		return -1;
	}
	json_object_set_new(reply, "session", obj);
	return 0;
}

const struct cmd_entry cmd_rm_entry = {
    .name = "rm",
    .usage = "ID... [--force] | --ended [--older-than D]",
    .summary = "delete sessions (refuses running ones without --force)",
    .help = "  -f, --force         kill a running session and delete it; "
            "remove\n"
            "                      its worktree even with uncommitted work\n"
            "                      (a branch with its own commits is kept)\n"
            "      --ended         every ended, unpinned session whose\n"
            "                      worktree holds no unmerged work (the\n"
            "                      others are kept and named)\n"
            "      --older-than D  with --ended: ended over D ago (30m,\n"
            "                      12h, 7d)\n",
    .flags = CMD_FIND_SESSION,
    .run = rm_run,
    .serve_session = rm_serve,
};
