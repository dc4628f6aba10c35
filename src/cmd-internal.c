/* Verbs that serve other verbs: get (resolve a session), events (the event
 * log), host (the per-session process). */
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "host.h"
#include "names.h"
#include "server.h"
#include "session.h"
#include "util.h"

static int
get_run(struct cmd_ctx *ctx)
{
	static const struct option opts[] = {
	    CMD_LONGOPTS_COMMON, {NULL, 0, NULL, 0}};
	json_t *s;
	int c, rc;

	while ((c = getopt_long(ctx->argc, ctx->argv, ":h", opts, NULL)) != -1)
		if ((rc = cmd_opt_common(ctx, c)) >= 0)
			return rc;
	if (optind + 1 != ctx->argc)
		return cmd_usage_error(ctx, "expected one session ID");
	s = cmd_get_session(ctx, ctx->argv[optind]);
	if (s == NULL)
		return cmd_fail(ctx);
	cmd_print_json(s);
	json_decref(s);
	return 0;
}

/* the dispatcher resolves the session and puts it in the reply */
static int
get_serve(struct server_client *c, struct session *s, json_t *req,
    json_t *reply, struct err *err)
{
	return 0;
}

const struct cmd_entry cmd_get_entry = {
    .name = "get",
    .usage = "ID",
    .summary = "print one session as JSON",
    .flags = CMD_INTERNAL | CMD_FIND_SESSION,
    .run = get_run,
    .serve_session = get_serve,
};

static void
events_print(struct cmd_ctx *ctx, json_t *events, json_int_t *last)
{
	json_t *e;
	size_t i;

	json_array_foreach(events, i, e)
	{
		json_int_t seq = json_integer_value(json_object_get(e, "seq"));
		if (seq > *last)
			*last = seq;
		if (ctx->json) { /* one object a line: a stream to follow */
			char *t = json_dumps(e, JSON_COMPACT | PROTO_REALS);
			printf("%s\n", t ? t : "{}");
			free(t);
			continue;
		}
		char at[32];
		iso_time(json_integer_value(json_object_get(e, "at")), at,
		    sizeof at);
		char *d = json_dumps(
		    json_object_get(e, "data"), JSON_COMPACT | JSON_ENCODE_ANY);
		printf("%s  %s  %-22s %s\n", at, session_str(e, "session"),
		    session_str(e, "kind"), d && strcmp(d, "null") ? d : "");
		free(d);
	}
	fflush(stdout);
}

static json_t *
events_fetch(struct cmd_ctx *ctx, const char *ref, long limit, json_int_t after)
{
	json_t *req = json_pack("{s:s, s:i, s:I}", "cmd", "events", "limit",
	    (int)limit, "after", after);

	if (ref)
		json_object_set_new(req, "ref", json_string(ref));
	return cmd_call(ctx, req);
}

/* -f: a change pushed by the daemon, or a second gone by, and the events
 * after the last one seen are fetched (hook events of a session whose
 * state stays the same push nothing). */
static int
events_follow(struct cmd_ctx *ctx, const char *ref, json_int_t last)
{
	json_t *reply, *ev;

	reply = cmd_call(ctx, json_pack("{s:s}", "cmd", "subscribe"));
	if (reply == NULL)
		return cmd_fail(ctx);
	json_decref(reply);
	for (;;) {
		ev = NULL;
		int rc = client_event(&ctx->cl, &ev, 1000, &ctx->err);
		if (rc < 0)
			return cmd_fail(ctx);
		json_decref(ev);
		reply = events_fetch(ctx, ref, 100000, last);
		if (reply == NULL)
			return cmd_fail(ctx);
		events_print(ctx, json_object_get(reply, "events"), &last);
		json_decref(reply);
	}
}

static int
events_run(struct cmd_ctx *ctx)
{
	static const struct option opts[] = {
	    {"limit", required_argument, NULL, 'l'},
	    {"follow", no_argument, NULL, 'f'}, CMD_LONGOPTS_COMMON,
	    {NULL, 0, NULL, 0}};
	json_t *reply;
	long limit = 100;
	int c, rc, follow = 0;
	json_int_t last = 0;

	while ((c = getopt_long(ctx->argc, ctx->argv, ":l:fh", opts, NULL)) !=
	    -1) {
		if (c == 'l') {
			char *end;
			limit = strtol(optarg, &end, 10);
			if (*end || limit <= 0 || limit > 100000)
				return cmd_usage_error(
				    ctx, "--limit takes 1 to 100000");
			continue;
		}
		if (c == 'f') {
			follow = 1;
			continue;
		}
		if ((rc = cmd_opt_common(ctx, c)) >= 0)
			return rc;
	}
	if (optind + 1 < ctx->argc)
		return cmd_usage_error(ctx, "expected at most one session ID");
	const char *ref = optind < ctx->argc ? ctx->argv[optind] : NULL;
	reply = events_fetch(ctx, ref, limit, 0);
	if (reply == NULL)
		return cmd_fail(ctx);
	if (ctx->json && !follow)
		cmd_print_json(json_object_get(reply, "events"));
	else
		events_print(ctx, json_object_get(reply, "events"), &last);
	json_decref(reply);
	return follow ? events_follow(ctx, ref, last) : 0;
}

static int
events_serve(
    struct server_client *c, json_t *req, json_t *reply, struct err *err)
{
	static const char all_sql[] =
	    "SELECT seq, session, at, kind, data FROM (SELECT * FROM events "
	    "WHERE seq > ? ORDER BY seq DESC LIMIT ?) ORDER BY seq";
	static const char one_sql[] =
	    "SELECT seq, session, at, kind, data FROM (SELECT * FROM events "
	    "WHERE session = ? AND seq > ? ORDER BY seq DESC LIMIT ?) ORDER "
	    "BY seq";
	const char *ref = NULL;
	json_int_t limit = 100, after = 0;
	sqlite3_stmt *st;
	struct session *s = NULL;
	json_t *list;

	if (proto_get_str(req, "ref", &ref, err) < 0 ||
	    proto_get_int_in(req, "limit", &limit, 1, 100000, err) < 0 ||
	    proto_get_int_in(req, "after", &after, 0, INT64_MAX, err) < 0)
		return -1;
	if (ref && (s = session_resolve(ref, err)) == NULL)
		return -1;
	st = store_stmt(&galley_db, s ? one_sql : all_sql);
	if (st == NULL)
		return store_sqlerr(&galley_db, err, "events");
	int i = 1;
	if (s)
		sqlite3_bind_text(st, i++, s->id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, i++, after);
	sqlite3_bind_int64(st, i++, limit);
	list = json_array();
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *data = (const char *)sqlite3_column_text(st, 4);
		json_t *d = data ? json_loads(data, JSON_DECODE_ANY, NULL)
		                 : json_null();
		json_array_append_new(list,
		    json_pack("{s:I, s:s, s:I, s:s, s:o}", "seq",
		        (json_int_t)sqlite3_column_int64(st, 0), "session",
		        (const char *)sqlite3_column_text(st, 1), "at",
		        (json_int_t)sqlite3_column_int64(st, 2), "kind",
		        (const char *)sqlite3_column_text(st, 3), "data",
		        d ? d : json_null()));
	}
	sqlite3_reset(st);
	json_object_set_new(reply, "events", list);
	return 0;
}

const struct cmd_entry cmd_events_entry = {
    .name = "events",
    .usage = "[ID] [--limit N] [-f]",
    .summary = "show the event log (state changes, hook payloads)",
    .help = "  -l, --limit N       the last N events (default 100)\n"
            "  -f, --follow        then print new events as they come, until\n"
            "                      interrupted (--json: one object a line)\n",
    .run = events_run,
    .serve = events_serve,
};

static int
host_run(struct cmd_ctx *ctx)
{
	int remote = ctx->argc == 3 && strcmp(ctx->argv[1], "--remote") == 0;

	if (ctx->argc != 2 + remote || !id_valid(ctx->argv[1 + remote]))
		return cmd_usage_error(ctx, "expected [--remote] a session id");
	return host_main(ctx->argv[1 + remote], remote);
}

const struct cmd_entry cmd_host_entry = {
    .name = "host",
    .usage = "[--remote] ID",
    .summary = "(internal) the per-session PTY host",
    .flags = CMD_INTERNAL | CMD_NOJSON,
    .run = host_run,
};
