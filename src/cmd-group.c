/* galley group set G --parallel N | group ls: named groups of sessions
 * with their own limit on how many run at once, like pueue's groups. The
 * limit is the user setting limits.group.G; the daemon applies it at once
 * to the sessions waiting in line. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "names.h"
#include "server.h"
#include "session-queue.h"
#include "session.h"
#include "settings.h"

static int
group_set(struct cmd_ctx *ctx, const char *name, long parallel)
{
	struct settings set;
	char key[128], cwd[4096];
	int rc;

	if (name_check(name, "group", &ctx->err) < 0)
		return cmd_fail(ctx);
	if (getcwd(cwd, sizeof cwd) == NULL)
		snprintf(cwd, sizeof cwd, "/");
	if (settings_load(&set, cwd, &ctx->err) < 0)
		return cmd_fail(ctx);
	snprintf(key, sizeof key, "limits.group.%s", name);
	json_t *v = parallel > 0 ? json_integer(parallel) : NULL;
	rc = settings_write(&set, SCOPE_USER, key, v, &ctx->err);
	json_decref(v);
	settings_release(&set);
	if (rc < 0)
		return cmd_fail(ctx);
	json_t *reply = cmd_call(ctx,
	    json_pack("{s:s, s:s, s:s, s:I}", "cmd", "group", "op", "set",
	        "name", name, "parallel", (json_int_t)parallel));
	if (reply == NULL)
		return cmd_fail(ctx);
	json_decref(reply);
	if (ctx->json) {
		json_t *o = json_pack("{s:s, s:I}", "name", name, "parallel",
		    (json_int_t)parallel);
		cmd_print_json(o);
		json_decref(o);
	} else if (parallel > 0)
		printf("group %s runs at most %ld at a time\n", name, parallel);
	else
		printf("group %s has no limit of its own\n", name);
	return 0;
}

static int
group_run(struct cmd_ctx *ctx)
{
	static const struct option opts[] = {
	    {"parallel", required_argument, NULL, 'p'}, CMD_LONGOPTS_COMMON,
	    {NULL, 0, NULL, 0}};
	long parallel = -1;
	char *end;
	int c, rc;

	while (
	    (c = getopt_long(ctx->argc, ctx->argv, ":p:h", opts, NULL)) != -1) {
		if (c == 'p') {
			parallel = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end || parallel < 0 ||
			    parallel > 100000)
				return cmd_usage_error(ctx,
				    "--parallel takes 0 (no limit) to 100000");
		} else if ((rc = cmd_opt_common(ctx, c)) >= 0)
			return rc;
	}
	if (optind < ctx->argc && strcmp(ctx->argv[optind], "set") == 0) {
		if (optind + 2 != ctx->argc || parallel < 0)
			return cmd_usage_error(
			    ctx, "usage: group set G --parallel N");
		return group_set(ctx, ctx->argv[optind + 1], parallel);
	}
	if (optind < ctx->argc && strcmp(ctx->argv[optind], "ls") != 0)
		return cmd_usage_error(
		    ctx, "unknown group command '%s'", ctx->argv[optind]);
	json_t *reply =
	    cmd_call(ctx, json_pack("{s:s, s:s}", "cmd", "group", "op", "ls"));
	if (reply == NULL)
		return cmd_fail(ctx);
	json_t *groups = json_object_get(reply, "groups"), *g;
	size_t i;
	if (ctx->json)
		cmd_print_json(groups);
	else {
		printf("%-20s  %8s  %7s  %6s\n", "GROUP", "PARALLEL", "RUNNING",
		    "QUEUED");
		json_array_foreach(groups, i, g)
		{
			json_int_t p =
			    json_integer_value(json_object_get(g, "parallel"));
			char lim[24] = "-";
			if (p > 0)
				snprintf(lim, sizeof lim, "%lld", (long long)p);
			printf("%-20s  %8s  %7lld  %6lld\n",
			    session_str(g, "name"), lim,
			    json_integer_value(json_object_get(g, "running")),
			    json_integer_value(json_object_get(g, "queued")));
		}
	}
	json_decref(reply);
	return 0;
}

static int
group_serve(
    struct server_client *c, json_t *req, json_t *reply, struct err *err)
{
	const char *op = NULL, *name = NULL;
	json_int_t parallel = 0;
	struct session *s;

	(void)c;
	if (proto_get_str(req, "op", &op, err) < 0 ||
	    proto_get_str(req, "name", &name, err) < 0 ||
	    proto_get_int_in(req, "parallel", &parallel, 0, 100000, err) < 0)
		return -1;
	if (op && strcmp(op, "set") == 0) {
		if (name == NULL || name_check(name, "group", err) < 0)
			return -1;
		session_queue_set_group(name, (int)parallel);
		return 0;
	}
	json_t *by = json_object();
	TAILQ_FOREACH(s, &session_table, entry) {
		const char *g = s->grp ? s->grp : "default";
		json_t *o = json_object_get(by, g);
		if (o == NULL) {
			o = json_pack("{s:s, s:i, s:i, s:i}", "name", g,
			    "parallel", session_group_limit(g), "running", 0,
			    "queued", 0);
			json_object_set_new(by, g, o);
		}
		const char *k = session_live(s)  ? "running"
		    : s->state == SESSION_QUEUED ? "queued"
		                                 : NULL;
		if (k)
			json_object_set_new(o, k,
			    json_integer(
			        json_integer_value(json_object_get(o, k)) + 1));
	}
	json_t *list = json_array(), *v;
	const char *key;
	json_object_foreach(by, key, v) json_array_append(list, v);
	json_decref(by);
	json_object_set_new(reply, "groups", list);
	return 0;
}

const struct cmd_entry cmd_group_entry = {
    .name = "group",
    .usage = "ls | set G --parallel N",
    .summary = "groups of sessions with their own limit on how many run",
    .help = "  -p, --parallel N    set: at most N of the group's sessions\n"
            "                      run at once (0: no limit of its own;\n"
            "                      saved as the user setting "
            "limits.group.G)\n",
    .run = group_run,
    .serve = group_serve,
};
