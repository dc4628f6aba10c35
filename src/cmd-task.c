/* galley task add|ls|claim|update|done|block: a team's task list (daemon
 * side: team-task.c). Inside a member's session the team and the member
 * are its own; the user gives --team, and --as to act for a member. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "team.h"

static void
print_task(json_t *t)
{
	json_t *by = json_object_get(t, "blocked_by");
	char *deps = json_array_size(by) ? json_dumps(by, JSON_COMPACT) : NULL;

	printf("#%-3lld %-12s %-10s %s%s%s\n",
	    (long long)json_integer_value(json_object_get(t, "id")),
	    session_str(t, "status"),
	    *session_str(t, "owner") ? session_str(t, "owner") : "-",
	    session_str(t, "title"),
	    json_is_true(json_object_get(t, "blocked")) ? "  blocked by " : "",
	    json_is_true(json_object_get(t, "blocked")) && deps ? deps : "");
	free(deps);
}

/* "3" or "#3": a task number. */
static int
task_number(struct cmd_ctx *ctx, const char *s, json_int_t *out)
{
	char *end;
	long long n = strtoll(s[0] == '#' ? s + 1 : s, &end, 10);

	if (*end || n <= 0 || n > 2147483647)
		return cmd_usage_error(ctx, "'%s' is not a task number", s);
	*out = n;
	return -1;
}

/* The request's fields for op, from what follows it; -1, or the exit code
 * of a usage error. */
static int
task_fields(struct cmd_ctx *ctx, json_t *req, const char *op,
    const char *status, json_t *by)
{
	int nargs = ctx->argc - optind, rc;
	json_int_t n;

	if (strcmp(op, "add") == 0) {
		if (nargs != 1)
			return cmd_usage_error(
			    ctx, "task add TITLE [--blocked-by N]");
		json_object_set_new(
		    req, "title", json_string(ctx->argv[optind]));
		json_object_set(req, "blocked_by", by);
		return -1;
	}
	if (strcmp(op, "ls") == 0)
		return nargs ? cmd_usage_error(ctx, "task ls takes no argument")
		             : -1;
	if (strcmp(op, "claim") && strcmp(op, "done") && strcmp(op, "update") &&
	    strcmp(op, "block"))
		return cmd_usage_error(ctx, "unknown task command '%s'", op);
	if (strcmp(op, "claim") == 0 ? nargs > 1 : nargs != 1)
		return cmd_usage_error(ctx, "task %s %s", op,
		    strcmp(op, "claim") == 0 ? "[N]" : "N");
	if (nargs == 1) {
		if ((rc = task_number(ctx, ctx->argv[optind], &n)) >= 0)
			return rc;
		json_object_set_new(req, "task", json_integer(n));
	}
	if (status)
		json_object_set_new(req, "status", json_string(status));
	if (strcmp(op, "block") == 0)
		json_object_set(req, "blocked_by", by);
	return -1;
}

static int
task_run(struct cmd_ctx *ctx)
{
	static const struct option opts[] = {
	    {"team", required_argument, NULL, 't'},
	    {"as", required_argument, NULL, 'A'},
	    {"status", required_argument, NULL, 's'},
	    {"blocked-by", required_argument, NULL, 'b'},
	    {"by", required_argument, NULL, 'b'}, CMD_LONGOPTS_COMMON,
	    {NULL, 0, NULL, 0}};
	const char *team = NULL, *as = NULL, *status = NULL;
	json_t *by = json_array(), *req, *reply;
	json_int_t n;
	int c, rc;

	while ((c = getopt_long(
	            ctx->argc, ctx->argv, ":t:A:s:b:h", opts, NULL)) != -1) {
		if (c == 't')
			team = optarg;
		else if (c == 'A')
			as = optarg;
		else if (c == 's')
			status = optarg;
		else if (c == 'b') {
			if ((rc = task_number(ctx, optarg, &n)) >= 0)
				goto out;
			json_array_append_new(by, json_integer(n));
		} else if ((rc = cmd_opt_common(ctx, c)) >= 0)
			goto out;
	}
	const char *op = optind < ctx->argc ? ctx->argv[optind++] : "ls";
	req = cmd_team_request("task", op, team, as);
	if ((rc = task_fields(ctx, req, op, status, by)) >= 0) {
		json_decref(req);
		goto out;
	}
	if ((reply = cmd_call(ctx, req)) == NULL) {
		rc = cmd_fail(ctx);
		goto out;
	}
	json_t *tasks = json_object_get(reply, "tasks");
	json_t *one = json_object_get(reply, "task");
	if (ctx->json)
		cmd_print_json(tasks ? tasks : one);
	else if (tasks) {
		json_t *t;
		size_t i;
		json_array_foreach(tasks, i, t) print_task(t);
	} else if (one)
		print_task(one);
	json_decref(reply);
	rc = 0;
out:
	json_decref(by);
	return rc;
}

static int
task_serve(struct server_client *c, json_t *req, json_t *reply, struct err *err)
{
	const char *op = NULL;
	struct team_actor a;

	if (proto_get_str(req, "op", &op, err) < 0 ||
	    team_actor(req, &a, err) < 0)
		return -1;
	return team_task_serve(&a, op ? op : "ls", req, reply, err);
}

const struct cmd_entry cmd_task_entry = {
    .name = "task",
    .usage = "add TITLE [--blocked-by N]... | ls | claim [N] | done N |\n"
             "       galley task update N --status S | block N --by M...  "
             "[--team T] [--as MEMBER]",
    .summary = "a team's shared task list",
    .help = "  add TITLE           a pending task; --blocked-by N waits on #N\n"
            "  claim [N]           take #N, or the lowest free one (atomic:\n"
            "                      each task goes to one member)\n"
            "  done N              completed; tasks waiting on it unblock\n"
            "  update N --status S pending, in_progress or completed\n"
            "  block N --by M      #N waits on #M too\n"
            "  -t, --team NAME     the team (inside a member: its own)\n"
            "      --as MEMBER     act as a member (the user only)\n",
    .run = task_run,
    .serve = task_serve,
};
