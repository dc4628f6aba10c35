/* galley usage [--since DAY] [--by session|model|day|group|team|workflow]:
 * tokens and cost, counted from the runtimes' transcripts (each message once)
 * and priced from the price table. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd.h"
#include "server.h"
#include "session.h"
#include "util.h"

static const char *const groupings[] = {
    "session", "model", "day", "group", "team", "workflow"};

/* "2026-11-30", "today", or "7d" (the last 7 days) to a day string. */
static int
parse_since(const char *s, char out[11])
{
	char *end;
	int64_t ms = wall_ms();

	if (strcmp(s, "today") == 0) {
		iso_day(ms, out);
		return 0;
	}
	long n = strtol(s, &end, 10);
	if (end != s && strcmp(end, "d") == 0 && n >= 0 && n < 100000) {
		iso_day(ms - (int64_t)(n - (n > 0)) * 86400000, out);
		return 0;
	}
	struct tm tm = {0};
	end = strptime(s, "%Y-%m-%d", &tm);
	if (end == NULL || *end != '\0')
		return -1;
	snprintf(out, 11, "%.10s", s);
	return 0;
}

static int
usage_run(struct cmd_ctx *ctx)
{
	static const struct option opts[] = {
	    {"since", required_argument, NULL, 's'},
	    {"by", required_argument, NULL, 'b'}, CMD_LONGOPTS_COMMON,
	    {NULL, 0, NULL, 0}};
	const char *by = "model";
	char since[11] = "";
	int c, rc;

	while (
	    (c = getopt_long(ctx->argc, ctx->argv, ":h", opts, NULL)) != -1) {
		if (c == 's') {
			if (parse_since(optarg, since) < 0)
				return cmd_usage_error(ctx,
				    "bad --since '%s': use YYYY-MM-DD, today "
				    "or Nd",
				    optarg);
		} else if (c == 'b')
			by = optarg;
		else if ((rc = cmd_opt_common(ctx, c)) >= 0)
			return rc;
	}
	int ok = 0;
	for (size_t i = 0; i < nitems(groupings); i++)
		ok |= strcmp(by, groupings[i]) == 0;
	if (!ok)
		return cmd_usage_error(ctx,
		    "bad --by '%s': use session, model, day, group, team "
		    "or workflow",
		    by);
	if (optind != ctx->argc)
		return cmd_usage_error(
		    ctx, "unexpected argument '%s'", ctx->argv[optind]);
	json_t *reply = cmd_call(ctx,
	    json_pack(
	        "{s:s, s:s, s:s}", "cmd", "usage", "by", by, "since", since));
	if (reply == NULL)
		return cmd_fail(ctx);
	json_object_del(reply, "id");
	json_object_del(reply, "ok");
	if (ctx->json) {
		cmd_print_json(reply);
		json_decref(reply);
		return 0;
	}
	json_t *rows = json_object_get(reply, "rows"), *r;
	size_t i;
	printf("%-24s %12s %12s %12s %12s %10s\n", by, "input", "output",
	    "cache read", "cache write", "cost $");
	json_array_foreach(rows, i, r)
	{
		const char *key = json_string_value(json_object_get(r, "key"));
		const char *name =
		    json_string_value(json_object_get(r, "name"));
		char label[64];
		snprintf(label, sizeof label, "%s%s%s", key ? key : "",
		    name ? " " : "", name ? name : "");
		printf("%-24.24s %12lld %12lld %12lld %12lld %10.4f\n", label,
		    json_integer_value(json_object_get(r, "input_tokens")),
		    json_integer_value(json_object_get(r, "output_tokens")),
		    json_integer_value(json_object_get(r, "cache_read_tokens")),
		    json_integer_value(
		        json_object_get(r, "cache_write_tokens")),
		    json_real_value(json_object_get(r, "cost_usd")));
	}
	r = json_object_get(reply, "total");
	printf("%-24s %12lld %12lld %12lld %12lld %10.4f\n", "total",
	    json_integer_value(json_object_get(r, "input_tokens")),
	    json_integer_value(json_object_get(r, "output_tokens")),
	    json_integer_value(json_object_get(r, "cache_read_tokens")),
	    json_integer_value(json_object_get(r, "cache_write_tokens")),
	    json_real_value(json_object_get(r, "cost_usd")));
	json_decref(reply);
	return 0;
}

static json_t *
row(sqlite3_stmt *st, int first)
{
	return json_pack("{s:I, s:I, s:I, s:I, s:f}", "input_tokens",
	    (json_int_t)sqlite3_column_int64(st, first), "output_tokens",
	    (json_int_t)sqlite3_column_int64(st, first + 1),
	    "cache_read_tokens",
	    (json_int_t)sqlite3_column_int64(st, first + 2),
	    "cache_write_tokens",
	    (json_int_t)sqlite3_column_int64(st, first + 3), "cost_usd",
	    sqlite3_column_double(st, first + 4));
}

/* Sessions outside a team or workflow count under "-". */
static int
usage_serve(
    struct server_client *c, json_t *req, json_t *reply, struct err *err)
{
#define SUMS                                                                   \
	"sum(u.input_tokens), sum(u.output_tokens), "                          \
	"sum(u.cache_read_tokens), sum(u.cache_write_tokens), "                \
	"sum(u.cost_usd)"
	static const char *const sql[] = {
	    "SELECT u.session, s.name, " SUMS " FROM usage_daily u LEFT JOIN "
	    "sessions s ON s.id = u.session WHERE u.day >= ? GROUP BY "
	    "u.session ORDER BY sum(u.cost_usd) DESC, u.session",
	    "SELECT u.model, NULL, " SUMS " FROM usage_daily u WHERE u.day >= "
	    "? GROUP BY u.model ORDER BY sum(u.cost_usd) DESC, u.model",
	    "SELECT u.day, NULL, " SUMS " FROM usage_daily u WHERE u.day >= ? "
	    "GROUP BY u.day ORDER BY u.day",
	    "SELECT coalesce(s.grp, 'default'), NULL, " SUMS " FROM "
	    "usage_daily u LEFT JOIN sessions s ON s.id = u.session WHERE "
	    "u.day >= ? GROUP BY 1 ORDER BY sum(u.cost_usd) DESC, 1",
	    "SELECT coalesce(s.team, '-'), t.name || ' (' || t.repo || ')', " SUMS
	    " FROM usage_daily u LEFT JOIN sessions s ON s.id = "
	    "u.session LEFT JOIN teams t ON t.id = s.team WHERE u.day >= ? "
	    "GROUP BY 1 ORDER BY sum(u.cost_usd) DESC, 1",
	    "SELECT coalesce(s.workflow, '-'), NULL, " SUMS " FROM "
	    "usage_daily u LEFT JOIN sessions s ON s.id = u.session WHERE "
	    "u.day >= ? GROUP BY 1 ORDER BY sum(u.cost_usd) DESC, 1",
	    "SELECT NULL, NULL, " SUMS " FROM usage_daily u WHERE u.day >= ?",
	};
	const char *by = NULL, *since = NULL;
	json_t *rows = json_array(), *total = NULL;
	int which = -1;

	(void)c;
	if (proto_get_str(req, "by", &by, err) < 0 ||
	    proto_get_str(req, "since", &since, err) < 0)
		goto fail;
	for (int i = 0; by && i < (int)nitems(groupings); i++)
		if (strcmp(by, groupings[i]) == 0)
			which = i;
	if (which < 0) {
		err_set(err, ERR_USAGE,
		    "'by' must be session, model, day, group, team or "
		    "workflow");
		goto fail;
	}
	for (int pass = 0; pass < 2; pass++) {
		sqlite3_stmt *st = store_stmt(
		    &galley_db, sql[pass ? nitems(groupings) : (size_t)which]);
		if (st == NULL) {
			store_sqlerr(&galley_db, err, "usage");
			goto fail;
		}
		sqlite3_bind_text(
		    st, 1, since ? since : "", -1, SQLITE_TRANSIENT);
		while (sqlite3_step(st) == SQLITE_ROW) {
			json_t *r = row(st, 2);
			if (pass) {
				total = r;
				continue;
			}
			const unsigned char *k = sqlite3_column_text(st, 0);
			const unsigned char *n = sqlite3_column_text(st, 1);
			json_object_set_new(
			    r, "key", json_string(k ? (const char *)k : ""));
			if (n)
				json_object_set_new(
				    r, "name", json_string((const char *)n));
			json_array_append_new(rows, r);
		}
		sqlite3_reset(st);
	}
	json_object_set_new(reply, "by", json_string(by));
	json_object_set_new(
	    reply, "since", since && *since ? json_string(since) : json_null());
	json_object_set_new(reply, "rows", rows);
	json_object_set_new(reply, "total", total ? total : json_object());
	return 0;
fail:
	json_decref(rows);
	return -1;
}

const struct cmd_entry cmd_usage_entry = {
    .name = "usage",
    .usage = "[--since DAY] [--by session|model|day|group|team|workflow]",
    .summary = "tokens and cost, from the runtimes' transcripts",
    .help = "      --since DAY     from DAY on: YYYY-MM-DD, today, or Nd\n"
            "                      (the last N days)\n"
            "      --by B          group by session, model (default), day "
            "or\n"
            "                      group (the sessions' --group), team or\n"
            "                      workflow (\"-\": sessions in none)\n",
    .run = usage_run,
    .serve = usage_serve,
};
