/* galley pin|unpin ID: a pinned session stays in `ls` after it ends. */
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "server.h"
#include "session.h"
#include "util.h"

static int
pin_run(struct cmd_ctx *ctx)
{
	static const struct option opts[] = {
	    CMD_LONGOPTS_COMMON, {NULL, 0, NULL, 0}};
	int pin = strcmp(ctx->entry->name, "pin") == 0;
	json_t *reply, *s;
	int c, rc;

	while ((c = getopt_long(ctx->argc, ctx->argv, ":h", opts, NULL)) != -1)
		if ((rc = cmd_opt_common(ctx, c)) >= 0)
			return rc;
	if (optind + 1 != ctx->argc)
		return cmd_usage_error(ctx, "expected one session ID");
	reply = cmd_call(ctx,
	    json_pack("{s:s, s:s, s:b}", "cmd", "pin", "ref", ctx->argv[optind],
	        "pinned", pin));
	if (reply == NULL)
		return cmd_fail(ctx);
	s = json_object_get(reply, "session");
	if (ctx->json)
		cmd_print_json(s);
	else
		printf("%s · %s · %s\n", pin ? "pinned" : "unpinned",
		    session_str(s, "id"), session_str(s, "name"));
	json_decref(reply);
	return 0;
}

static int
pin_serve(struct server_client *c, struct session *s, json_t *req,
    json_t *reply, struct err *err)
{
	int pinned = 1;

	if (proto_get_bool(req, "pinned", &pinned, err) < 0)
		return -1;
	if (s->pinned != pinned) {
		s->pinned = pinned;
		session_changed(s, pinned ? "pin" : "unpin", NULL);
	}
	return 0;
}

const struct cmd_entry cmd_pin_entry = {
    .name = "pin",
    .usage = "ID",
    .summary = "pin a session",
    .flags = CMD_FIND_SESSION,
    .run = pin_run,
    .serve_session = pin_serve,
};

const struct cmd_entry cmd_unpin_entry = {
    .name = "unpin",
    .usage = "ID",
    .summary = "unpin a session",
    .run = pin_run,
};
