/* galley daemon run|status|stop. `stop` leaves every session running: the
 * hosts are separate processes and are re-adopted at the next start. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "proto.h"
#include "server.h"
#include "session.h"
#include "util.h"

static int
daemon_status(struct cmd_ctx *ctx)
{
	json_t *reply;

	if (client_connect(&ctx->cl, 0, &ctx->err) < 0) {
		if (ctx->err.code == ERR_PROTOCOL)
			return cmd_fail(ctx);
		if (ctx->json) {
			json_t *o = json_pack("{s:b, s:s, s:s, s:i}", "running",
			    0, "socket", path_socket(), "version",
			    GALLEY_VERSION, "protocol", PROTO_VERSION);
			cmd_print_json(o);
			json_decref(o);
		} else
			printf(
			    "daemon not running (socket %s)\n", path_socket());
		return EXIT_UNREACHABLE;
	}
	reply = cmd_call(
	    ctx, json_pack("{s:s, s:s}", "cmd", "daemon", "op", "status"));
	if (reply == NULL)
		return cmd_fail(ctx);
	json_object_del(reply, "id");
	json_object_del(reply, "ok");
	if (ctx->json)
		cmd_print_json(reply);
	else
		printf("daemon running · pid %lld · %lld sessions · up "
		       "%llds · %s\n",
		    json_integer_value(json_object_get(reply, "pid")),
		    json_integer_value(json_object_get(reply, "sessions")),
		    json_integer_value(json_object_get(reply, "uptime_s")),
		    path_socket());
	if (!ctx->json && *session_str(reply, "store_error"))
		printf("store: %s: changes are kept in memory only\n",
		    session_str(reply, "store_error"));
	json_decref(reply);
	return 0;
}

/* Stop it, and wait until it is gone, so a following start is clean. */
static int
daemon_stop(struct cmd_ctx *ctx)
{
	json_t *reply;

	if (client_connect(&ctx->cl, 0, &ctx->err) < 0) {
		if (ctx->err.code == ERR_PROTOCOL)
			return cmd_fail(ctx);
		if (!ctx->json)
			printf("daemon not running\n");
		return 0;
	}
	reply = cmd_call(
	    ctx, json_pack("{s:s, s:s}", "cmd", "daemon", "op", "stop"));
	if (reply == NULL)
		return cmd_fail(ctx);
	json_int_t pid = json_integer_value(json_object_get(reply, "pid"));
	json_decref(reply);
	/* wait until it is gone, so a following start is clean */
	for (int i = 0; i < 500 && pid_alive((pid_t)pid); i++)
		usleep(10000);
	if (!ctx->json)
		printf("daemon stopped; sessions keep running\n");
	return 0;
}

static int
daemon_run(struct cmd_ctx *ctx)
{
	static const struct option opts[] = {
	    {"foreground", no_argument, NULL, 'F'}, CMD_LONGOPTS_COMMON,
	    {NULL, 0, NULL, 0}};
	const char *sub;
	int c, rc, fg = 0;

	while (
	    (c = getopt_long(ctx->argc, ctx->argv, ":h", opts, NULL)) != -1) {
		if (c == 'F')
			fg = 1;
		else if ((rc = cmd_opt_common(ctx, c)) >= 0)
			return rc;
	}
	if (optind + 1 != ctx->argc)
		return cmd_usage_error(ctx, "expected run, status or stop");
	sub = ctx->argv[optind];
	if (strcmp(sub, "run") == 0)
		return server_main(fg, ctx->table) == 0 ? 0 : EXIT_FAILED;
	if (strcmp(sub, "status") == 0)
		return daemon_status(ctx);
	if (strcmp(sub, "stop") == 0)
		return daemon_stop(ctx);
	return cmd_usage_error(ctx, "unknown daemon command '%s'", sub);
}

static void
stop_cb(uv_timer_t *t)
{
	uv_close((uv_handle_t *)t, NULL);
	server_stop();
}

static int
daemon_serve(
    struct server_client *c, json_t *req, json_t *reply, struct err *err)
{
	const char *op;

	if (proto_get_str(req, "op", &op, err) < 0)
		return -1;
	if (op && strcmp(op, "status") == 0) {
		json_object_set_new(reply, "running", json_true());
		json_object_set_new(reply, "pid", json_integer(getpid()));
		json_object_set_new(
		    reply, "socket", json_string(path_socket()));
		json_object_set_new(
		    reply, "version", json_string(GALLEY_VERSION));
		json_object_set_new(
		    reply, "protocol", json_integer(PROTO_VERSION));
		json_object_set_new(
		    reply, "sessions", json_integer(session_count));
		json_object_set_new(reply, "uptime_s",
		    json_integer((wall_ms() - server_started_ms()) / 1000));
		json_object_set_new(reply, "schema_version",
		    json_integer(store_version(&galley_db)));
		if (store_last_error()) /* a full disk: kept in memory */
			json_object_set_new(reply, "store_error",
			    json_string(store_last_error()));
		return 0;
	}
	if (op && strcmp(op, "stop") == 0) {
		static uv_timer_t later;
		json_object_set_new(reply, "pid", json_integer(getpid()));
		/* stop on the next turn, once this reply is written */
		uv_timer_init(uv_default_loop(), &later);
		uv_timer_start(&later, stop_cb, 0, 0);
		return 0;
	}
	return err_set(
	    err, ERR_USAGE, "unknown daemon op '%.32s'", op ? op : "");
}

const struct cmd_entry cmd_daemon_entry = {
    .name = "daemon",
    .usage = "run|status|stop",
    .summary = "run, inspect or stop the per-user daemon",
    .help = "      --foreground    run: log to stderr (default: "
            "daemon.log)\n",
    .run = daemon_run,
    .serve = daemon_serve,
};
