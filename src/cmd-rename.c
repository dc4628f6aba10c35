/* galley rename ID NAME. Names are unique among live sessions. */
#include <stdlib.h>
#include <string.h>
#include "cmd.h"
#include "names.h"
#include "server.h"
#include "session.h"
#include "util.h"
#include "xmalloc.h"

static int
rename_run(struct cmd_ctx *ctx)
{
	static const struct option opts[] = {
	    CMD_LONGOPTS_COMMON, {NULL, 0, NULL, 0}};
	json_t *reply, *s;
	int c, rc;

	while ((c = getopt_long(ctx->argc, ctx->argv, ":h", opts, NULL)) != -1)
		if ((rc = cmd_opt_common(ctx, c)) >= 0)
			return rc;
	if (optind + 2 != ctx->argc)
		return cmd_usage_error(ctx, "expected ID and NAME");
	if (session_name_check(ctx->argv[optind + 1], &ctx->err) < 0)
		return cmd_fail(ctx);
	reply = cmd_call(ctx,
	    json_pack("{s:s, s:s, s:s}", "cmd", "rename", "ref",
	        ctx->argv[optind], "name", ctx->argv[optind + 1]));
	if (reply == NULL)
		return cmd_fail(ctx);
	s = json_object_get(reply, "session");
	if (ctx->json)
		cmd_print_json(s);
	else
		printf("renamed · %s · %s\n", session_str(s, "id"),
		    session_str(s, "name"));
	json_decref(reply);
	return 0;
}

static int
rename_serve(struct server_client *c, struct session *s, json_t *req,
    json_t *reply, struct err *err)
{
	const char *name;

	if (proto_get_str(req, "name", &name, err) < 0)
		return -1;
	if (session_name_check(name, err) < 0)
		return -1;
	if (strcmp(s->name, name) != 0) {
		if (session_name_taken(name, s))
			return err_set(err, ERR_EXISTS,
			    "a live session is already named '%s'", name);
		json_t *data =
		    json_pack("{s:s, s:s}", "from", s->name, "to", name);
		free(s->name);
		s->name = xstrdup(name);
		session_changed(s, "rename", data);
		json_decref(data);
	}
	return 0;
}

const struct cmd_entry cmd_rename_entry = {
    .name = "rename",
    .usage = "ID NAME",
    .summary = "rename a session",
    .run = rename_run,
    .flags = CMD_FIND_SESSION,
    .serve_session = rename_serve,
};
