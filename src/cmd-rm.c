/* galley rm ID... [--force]: delete sessions and their files. A running
 * session is refused (exit 4) unless --force, which kills it first. */
#include <stdio.h>
#include "cmd.h"
#include "server.h"
#include "session-life.h"
#include "session.h"

static int
rm_run(struct cmd_ctx *ctx)
{
	static const struct option opts[] = {{"force", no_argument, NULL, 'f'},
	    CMD_LONGOPTS_COMMON, {NULL, 0, NULL, 0}};
	json_t *reply, *out;
	int c, rc, force = 0;

	while (
	    (c = getopt_long(ctx->argc, ctx->argv, ":fh", opts, NULL)) != -1) {
		if (c == 'f')
			force = 1;
		else if ((rc = cmd_opt_common(ctx, c)) >= 0)
			return rc;
	}
	if (optind >= ctx->argc)
		return cmd_usage_error(ctx, "expected a session ID");
	/* every id is tried: one that fails is reported, the rest go on */
	out = json_array();
	rc = 0;
	for (int i = optind; i < ctx->argc; i++) {
		json_t *pre = cmd_get_session(ctx, ctx->argv[i]);
		int kept = 0;
		/* a worktree session: the same safety rule as discard */
		if (pre == NULL || cmd_worktree_guard(ctx, pre, force) < 0) {
			json_decref(pre);
			rc = cmd_report(ctx, rc);
			continue;
		}
		reply = cmd_call(ctx,
		    json_pack("{s:s, s:s, s:b}", "cmd", "rm", "ref",
		        session_str(pre, "id"), "force", force));
		if (reply == NULL ||
		    cmd_worktree_drop(ctx, pre, force, &kept) < 0) {
			json_decref(reply);
			json_decref(pre);
			rc = cmd_report(ctx, rc);
			continue;
		}
		json_decref(pre);
		json_t *s = json_object_get(reply, "session");
		if (ctx->json)
			json_array_append(out, s);
		else
			printf("removed · %s · %s%s\n", session_str(s, "id"),
			    session_str(s, "name"),
			    kept ? " (worktree branch kept: it has commits of "
			           "its own)"
			         : "");
		json_decref(reply);
	}
	if (ctx->json)
		cmd_print_json(out);
	json_decref(out);
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
    .usage = "ID... [--force]",
    .summary = "delete sessions (refuses running ones without --force)",
    .help = "  -f, --force         kill a running session and delete it; "
            "remove\n"
            "                      its worktree even with uncommitted work\n"
            "                      (a branch with its own commits is kept)\n",
    .flags = CMD_FIND_SESSION,
    .run = rm_run,
    .serve_session = rm_serve,
};
