/* galley restart ID: start the session again with the same command,
 * directory and environment (stopping it first if it runs). */
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "server.h"
#include "session-life.h"
#include "session.h"

static int
restart_run(struct cmd_ctx *ctx)
{
	static const struct option opts[] = {
	    CMD_LONGOPTS_COMMON, {NULL, 0, NULL, 0}};
	json_t *reply, *s;
	int c, rc;
	char id[16];

	while ((c = getopt_long(ctx->argc, ctx->argv, ":h", opts, NULL)) != -1)
		if ((rc = cmd_opt_common(ctx, c)) >= 0)
			return rc;
	if (optind + 1 != ctx->argc)
		return cmd_usage_error(ctx, "expected one session ID");
	reply = cmd_call(ctx, json_pack("{s:s}", "cmd", "subscribe"));
	if (reply == NULL)
		return cmd_fail(ctx);
	json_decref(reply);
	reply = cmd_call(ctx,
	    json_pack(
	        "{s:s, s:s}", "cmd", "restart", "ref", ctx->argv[optind]));
	if (reply == NULL)
		return cmd_fail(ctx);
	s = json_object_get(reply, "session");
	snprintf(id, sizeof id, "%s", session_str(s, "id"));
	if (json_is_true(json_object_get(reply, "pending"))) {
		/* it was running: wait for the stop, then the new start */
		json_decref(reply);
		if (cmd_wait_one(ctx, id, "done", 20000) < 0)
			return cmd_fail(ctx);
		for (int i = 0; i < 100; i++) {
			json_t *now = cmd_get_session(ctx, id);
			if (now == NULL)
				return cmd_fail(ctx);
			if (!state_is_terminal(session_str(now, "state")) ||
			    strcmp(session_str(now, "state"), "failed") == 0) {
				json_decref(now);
				break;
			}
			json_decref(now);
			json_t *ev;
			if (client_event(&ctx->cl, &ev, 200, &ctx->err) > 0)
				json_decref(ev);
		}
	} else
		json_decref(reply);
	s = cmd_get_session(ctx, id);
	if (s == NULL)
		return cmd_fail(ctx);
	if (ctx->json)
		cmd_print_json(s);
	else
		printf("restarted · %s · %s\n", session_str(s, "id"),
		    session_str(s, "name"));
	json_decref(s);
	return 0;
}

static int
restart_serve(struct server_client *c, struct session *s, json_t *req,
    json_t *reply, struct err *err)
{
	int was_live = session_live(s);

	if (session_restart(s, err) < 0)
		return -1;
	json_object_set_new(reply, "pending", json_boolean(was_live));
	return 0;
}

const struct cmd_entry cmd_restart_entry = {
    .name = "restart",
    .usage = "ID",
    .summary = "start a session again (stopping it first if it runs)",
    .flags = CMD_FIND_SESSION,
    .run = restart_run,
    .serve_session = restart_serve,
};
