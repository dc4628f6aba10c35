/* galley stop ID... [--grace S]: SIGTERM to the session's whole process
 * group, SIGKILL after the grace period; returns once it has stopped. */
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "server.h"
#include "session-life.h"
#include "session.h"
#include "util.h"

/* Subscribed already: wait for `id` to reach `want`, up to timeout_ms. */
int
cmd_wait_one(
    struct cmd_ctx *ctx, const char *id, const char *want, int timeout_ms)
{
	uint64_t deadline = now_ms() + (uint64_t)timeout_ms;
	json_t *s = cmd_get_session(ctx, id), *ev;

	if (s == NULL)
		return -1;
	int r = wait_reached(want, session_str(s, "state"));
	json_decref(s);
	while (r == 0) {
		uint64_t now = now_ms();
		if (now >= deadline)
			return err_set(&ctx->err, ERR_FAILED,
			    "session %s did not reach '%s' in time", id, want);
		int rc = client_event(
		    &ctx->cl, &ev, (int)(deadline - now), &ctx->err);
		if (rc < 0)
			return -1;
		if (rc == 0)
			continue;
		json_t *ns = json_object_get(ev, "session");
		if (strcmp(session_str(ns, "id"), id) == 0)
			r = wait_reached(want, session_str(ns, "state"));
		json_decref(ev);
	}
	return 0;
}

static int
stop_run(struct cmd_ctx *ctx)
{
	static const struct option opts[] = {
	    {"grace", required_argument, NULL, 'g'}, CMD_LONGOPTS_COMMON,
	    {NULL, 0, NULL, 0}};
	double grace = 5;
	json_t *reply, *out = json_array();
	int c, rc = 0;
	char *end;

	while (
	    (c = getopt_long(ctx->argc, ctx->argv, ":g:h", opts, NULL)) != -1) {
		if (c == 'g') {
			grace = strtod(optarg, &end);
			if (*end || grace < 0 || grace > 3600) {
				json_decref(out);
				return cmd_usage_error(
				    ctx, "--grace takes 0 to 3600 seconds");
			}
			continue;
		}
		if ((rc = cmd_opt_common(ctx, c)) >= 0) {
			json_decref(out);
			return rc;
		}
	}
	if (optind >= ctx->argc) {
		json_decref(out);
		return cmd_usage_error(ctx, "expected a session ID");
	}
	reply = cmd_call(ctx, json_pack("{s:s}", "cmd", "subscribe"));
	if (reply == NULL)
		goto fail;
	json_decref(reply);
	/* all are signalled first, then waited for: the grace periods run
	 * side by side, and one id that fails does not spare the rest */
	json_t *ids = json_array();
	rc = 0;
	for (int i = optind; i < ctx->argc; i++) {
		reply = cmd_call(ctx,
		    json_pack("{s:s, s:s, s:i}", "cmd", "stop", "ref",
		        ctx->argv[i], "grace_ms", (int)(grace * 1000)));
		if (reply == NULL) {
			rc = cmd_report(ctx, rc);
			continue;
		}
		json_array_append_new(ids,
		    json_string(
		        session_str(json_object_get(reply, "session"), "id")));
		json_decref(reply);
	}
	size_t k;
	json_t *idv;
	json_array_foreach(ids, k, idv)
	{
		const char *id = json_string_value(idv);
		json_t *s = NULL;
		if (cmd_wait_one(ctx, id, "done", (int)(grace * 1000) + 10000) <
		        0 ||
		    (s = cmd_get_session(ctx, id)) == NULL) {
			rc = cmd_report(ctx, rc);
			continue;
		}
		if (ctx->json)
			json_array_append(out, s);
		else
			printf("stopped · %s · %s\n", session_str(s, "id"),
			    session_str(s, "name"));
		json_decref(s);
	}
	json_decref(ids);
	if (ctx->json)
		cmd_print_json(out);
	json_decref(out);
	return rc;
fail:
	json_decref(out);
	return cmd_fail(ctx);
}

static int
stop_serve(struct server_client *c, struct session *s, json_t *req,
    json_t *reply, struct err *err)
{
	json_int_t grace = 5000;

	if (proto_get_int_in(req, "grace_ms", &grace, 0, 3600 * 1000, err) < 0)
		return -1;
	return session_stop(s, (int)grace, err);
}

const struct cmd_entry cmd_stop_entry = {
    .name = "stop",
    .usage = "ID... [--grace S]",
    .summary = "stop sessions (SIGTERM, then SIGKILL after the grace)",
    .help = "  -g, --grace S       seconds between SIGTERM and SIGKILL "
            "(default 5)\n",
    .flags = CMD_FIND_SESSION,
    .run = stop_run,
    .serve_session = stop_serve,
};
