/* galley team create|add|status|ls|stop|log|plan|approve|reject|talk: a
 * lead and its members, ordinary sessions started as `galley new` starts
 * them (the same options), with a team row and a member row each in the
 * store. Daemon side: team.c, team-task.c, team-msg.c. */
#include <fnmatch.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "names.h"
#include "server.h"
#include "session-life.h"
#include "session.h"
#include "settings.h"
#include "store.h"
#include "team.h"
#include "util.h"
#include "xmalloc.h"

extern const struct cmd_entry cmd_new_entry;

/* ---- CLI ---------------------------------------------------------------- */

/* Who asks: the caller's directory (the team's repo), and inside a
 * member's session its id and hook token, which prove it is that member. */
json_t *
cmd_team_request(
    const char *cmd, const char *op, const char *team, const char *as)
{
	char cwd[PATH_MAX];
	json_t *req = json_pack("{s:s, s:s}", "cmd", cmd, "op", op);
	const char *sid = getenv("GALLEY_SESSION");
	const char *token = getenv("GALLEY_HOOK_TOKEN");

	if (getcwd(cwd, sizeof cwd))
		json_object_set_new(req, "cwd", json_string(cwd));
	if (team)
		json_object_set_new(req, "team", json_string(team));
	if (as)
		json_object_set_new(req, "as", json_string(as));
	if (sid && token && id_valid(sid)) {
		json_object_set_new(req, "session", json_string(sid));
		json_object_set_new(req, "token", json_string(token));
	}
	return req;
}

/* The team's own options, taken out of argv (what is left is `new`'s):
 * --name VALUE and --name=VALUE, and the flags. */
struct team_opts {
	const char *goal, *isolation, *teammate_model, *lead_agent, *lens;
	const char *why, *team, *as;
	json_t *own;
	int plan_approval, allow_overlap;
};

static int
take_team_opts(struct cmd_ctx *ctx, struct team_opts *o)
{
	static const struct {
		const char *name;
		size_t off;
	} valued[] = {
	    {"--goal", offsetof(struct team_opts, goal)},
	    {"--isolation", offsetof(struct team_opts, isolation)},
	    {"--teammate-model", offsetof(struct team_opts, teammate_model)},
	    {"--lead-agent", offsetof(struct team_opts, lead_agent)},
	    {"--lens", offsetof(struct team_opts, lens)},
	    {"--why", offsetof(struct team_opts, why)},
	    {"--team", offsetof(struct team_opts, team)},
	    {"--as", offsetof(struct team_opts, as)},
	};
	int out = 1;

	for (int i = 1; i < ctx->argc; i++) {
		char *a = ctx->argv[i];
		if (strcmp(a, "--") == 0) {
			while (i < ctx->argc)
				ctx->argv[out++] = ctx->argv[i++];
			break;
		}
		if (strcmp(a, "--plan-approval") == 0) {
			o->plan_approval = 1;
			continue;
		}
		if (strcmp(a, "--allow-overlap") == 0) {
			o->allow_overlap = 1;
			continue;
		}
		int took = 0;
		for (size_t k = 0; k < nitems(valued) && !took; k++) {
			size_t n = strlen(valued[k].name);
			const char *v = NULL;
			if (strcmp(a, valued[k].name) == 0) {
				if (i + 1 >= ctx->argc)
					return cmd_usage_error(ctx,
					    "option '%s' needs a value", a);
				v = ctx->argv[++i];
			} else if (strncmp(a, valued[k].name, n) == 0 &&
			    a[n] == '=')
				v = a + n + 1;
			else
				continue;
			took = 1;
			*(const char **)((char *)o + valued[k].off) = v;
		}
		if (!took &&
		    (strcmp(a, "--own") == 0 || strncmp(a, "--own=", 6) == 0)) {
			const char *v = a[5] == '=' ? a + 6
			    : i + 1 < ctx->argc     ? ctx->argv[++i]
			                            : NULL;
			if (v == NULL || *v == '\0' || strlen(v) > 256)
				return cmd_usage_error(
				    ctx, "--own takes a path glob");
			json_array_append_new(o->own, json_string(v));
			took = 1;
		}
		if (!took)
			ctx->argv[out++] = a;
	}
	ctx->argc = out;
	ctx->argv[out] = NULL;
	return -1;
}

/* Start a session through `new` with the team's fields added; the daemon
 * links it to its member row when it is created. */
static int
start_member(struct cmd_ctx *ctx, json_t *extra)
{
	ctx->extra = extra;
	optind = 0; /* getopt starts over for new's options */
	int rc = cmd_new_entry.run(ctx);
	ctx->extra = NULL;
	return rc;
}

/* argv as `new` will see it: the verb, then what follows position
 * `from` (the subcommand and names are the team's). */
static void
shift_to_new(struct cmd_ctx *ctx, int from)
{
	int out = 1;

	for (int i = from; i < ctx->argc; i++)
		ctx->argv[out++] = ctx->argv[i];
	ctx->argc = out;
	ctx->argv[out] = NULL;
}

static int
team_create(struct cmd_ctx *ctx, struct team_opts *o)
{
	if (ctx->argc < 3)
		return cmd_usage_error(
		    ctx, "team create NAME [options] [PROMPT]");
	const char *name = ctx->argv[2];
	json_t *req = cmd_team_request("team", "create", NULL, NULL), *reply;
	json_object_set_new(req, "name", json_string(name));
	if (o->goal)
		json_object_set_new(req, "goal", json_string(o->goal));
	if (o->isolation)
		json_object_set_new(
		    req, "isolation", json_string(o->isolation));
	if (o->teammate_model)
		json_object_set_new(
		    req, "teammate_model", json_string(o->teammate_model));
	json_object_set_new(
	    req, "plan_approval", json_boolean(o->plan_approval));
	json_object_set_new(
	    req, "allow_overlap", json_boolean(o->allow_overlap));
	if ((reply = cmd_call(ctx, req)) == NULL)
		return cmd_fail(ctx);
	const char *id = session_str(json_object_get(reply, "team"), "id");
	char *sname;
	xasprintf(&sname, "%s.lead", name);
	json_t *extra = json_pack(
	    "{s:s, s:s, s:s}", "team", id, "member", "lead", "name", sname);
	free(sname);
	shift_to_new(ctx, 3);
	/* the lead's prompt: PROMPT, else the goal */
	if (ctx->argc == 1 && o->goal) {
		ctx->argv[ctx->argc++] = (char *)o->goal;
		ctx->argv[ctx->argc] = NULL;
	}
	if (o->lead_agent) {
		memmove(ctx->argv + 3, ctx->argv + 1,
		    (size_t)ctx->argc * sizeof *ctx->argv);
		ctx->argv[1] = "--agent";
		ctx->argv[2] = (char *)o->lead_agent;
		ctx->argc += 2;
	}
	int rc = start_member(ctx, extra);
	json_decref(extra);
	if (rc != 0) { /* no lead: no team */
		json_t *drop = cmd_team_request("team", "drop", name, NULL);
		json_decref(cmd_call(ctx, drop));
		err_release(&ctx->err);
	}
	json_decref(reply);
	return rc;
}

static int
team_add(struct cmd_ctx *ctx, struct team_opts *o)
{
	if (ctx->argc < 4)
		return cmd_usage_error(
		    ctx, "team add TEAM MEMBER --lens TEXT [options] [PROMPT]");
	const char *team = ctx->argv[2], *member = ctx->argv[3];
	const char *model = NULL;
	struct settings set;
	char cwd[PATH_MAX];

	/* the member's own --model, else the team's, the setting, the lead's:
	 * the daemon decides; the setting is the caller's */
	for (int i = 4; i + 1 < ctx->argc; i++)
		if (strcmp(ctx->argv[i], "-m") == 0 ||
		    strcmp(ctx->argv[i], "--model") == 0)
			model = ctx->argv[i + 1];
	json_t *req = cmd_team_request("team", "add", team, NULL), *reply;
	json_object_set_new(req, "member", json_string(member));
	json_object_set(req, "own", o->own);
	if (o->lens)
		json_object_set_new(req, "lens", json_string(o->lens));
	if (model)
		json_object_set_new(req, "model", json_string(model));
	if (settings_load(
	        &set, getcwd(cwd, sizeof cwd) ? cwd : "/", &ctx->err) == 0) {
		const char *tm = settings_get_str(&set, "teammateModel");
		if (tm)
			json_object_set_new(
			    req, "setting_model", json_string(tm));
		settings_release(&set);
	}
	err_release(&ctx->err);
	if ((reply = cmd_call(ctx, req)) == NULL)
		return cmd_fail(ctx);
	char *sname;
	xasprintf(&sname, "%s.%s", team, member);
	json_t *extra = json_pack("{s:s, s:s, s:s, s:s?, s:s?}", "team",
	    session_str(reply, "team_id"), "member", member, "name", sname,
	    "parent", json_string_value(json_object_get(reply, "parent")),
	    "model", json_string_value(json_object_get(reply, "model")));
	free(sname);
	shift_to_new(ctx, 4);
	int rc = start_member(ctx, extra);
	json_decref(extra);
	if (rc != 0) {
		json_t *drop = cmd_team_request("team", "drop", team, NULL);
		json_object_set_new(drop, "member", json_string(member));
		json_decref(cmd_call(ctx, drop));
		err_release(&ctx->err);
	}
	json_decref(reply);
	return rc;
}

static void
print_status(json_t *t)
{
	json_t *m, *task;
	size_t i;

	printf(
	    "team %s · %s\n", session_str(t, "name"), session_str(t, "repo"));
	if (*session_str(t, "goal"))
		printf("goal: %s\n", session_str(t, "goal"));
	json_t *lead = json_object_get(t, "lead");
	printf("  %-14s %-11s %-10s %s\n", "lead", session_str(lead, "state"),
	    session_str(lead, "model"), session_str(lead, "session"));
	json_array_foreach(json_object_get(t, "members"), i, m)
	{
		char *own = json_dumps(json_object_get(m, "own"), JSON_COMPACT);
		printf("  %-14s %-11s %-10s %s  %s%s%s\n",
		    session_str(m, "name"), session_str(m, "state"),
		    session_str(m, "model"), session_str(m, "session"),
		    session_str(m, "lens"), strcmp(own, "[]") ? " own " : "",
		    strcmp(own, "[]") ? own : "");
		free(own);
	}
	json_array_foreach(json_object_get(t, "tasks"), i, task)
	{
		printf("  #%-3lld %-12s %-10s %s%s\n",
		    (long long)json_integer_value(json_object_get(task, "id")),
		    session_str(task, "status"),
		    *session_str(task, "owner") ? session_str(task, "owner")
		                                : "-",
		    session_str(task, "title"),
		    json_is_true(json_object_get(task, "blocked"))
		        ? " (blocked)"
		        : "");
	}
	printf("messages waiting: %lld · cost $%.2f\n",
	    (long long)json_integer_value(
	        json_object_get(t, "messages_waiting")),
	    json_number_value(
	        json_object_get(json_object_get(t, "usage"), "cost_usd")));
}

static int
team_simple(struct cmd_ctx *ctx, const char *op, struct team_opts *o)
{
	const char *team = o->team;
	int pos = 2;

	/* status, stop and log name the team; plan, approve, reject and
	 * talk take it from --team or the member's own */
	int named = strcmp(op, "status") == 0 || strcmp(op, "stop") == 0 ||
	    strcmp(op, "log") == 0;
	if (named) {
		if (ctx->argc < 3)
			return cmd_usage_error(ctx, "team %s NAME", op);
		team = ctx->argv[pos++];
	}
	json_t *req = cmd_team_request("team", op, team, o->as), *reply;
	if (strcmp(op, "plan") == 0 || strcmp(op, "talk") == 0 ||
	    strcmp(op, "approve") == 0 || strcmp(op, "reject") == 0) {
		int need = strcmp(op, "plan") == 0 ? 1
		    : strcmp(op, "talk") == 0      ? 2
		                                   : 1;
		if (ctx->argc - pos != need) {
			json_decref(req);
			return cmd_usage_error(ctx, "team %s %s", op,
			    need == 2 ? "MEMBER TEXT"
			        : strcmp(op, "plan") == 0
			        ? "TEXT"
			        : "MEMBER [--why TEXT]");
		}
		if (strcmp(op, "plan") == 0)
			json_object_set_new(
			    req, "text", json_string(ctx->argv[pos]));
		else
			json_object_set_new(
			    req, "member", json_string(ctx->argv[pos]));
		if (need == 2)
			json_object_set_new(
			    req, "text", json_string(ctx->argv[pos + 1]));
		if (o->why)
			json_object_set_new(req, "why", json_string(o->why));
	} else if (ctx->argc != pos) {
		json_decref(req);
		return cmd_usage_error(
		    ctx, "unexpected argument '%s'", ctx->argv[pos]);
	}
	if ((reply = cmd_call(ctx, req)) == NULL)
		return cmd_fail(ctx);
	json_object_del(reply, "id");
	json_object_del(reply, "ok");
	if (ctx->json)
		cmd_print_json(json_object_size(reply) == 1
		        ? json_object_iter_value(json_object_iter(reply))
		        : reply);
	else if (strcmp(op, "status") == 0)
		print_status(json_object_get(reply, "team"));
	else if (strcmp(op, "ls") == 0) {
		json_t *t;
		size_t i;
		json_array_foreach(json_object_get(reply, "teams"), i, t)
		    printf("%-16s %2lld members  %s\n", session_str(t, "name"),
		        (long long)json_integer_value(
		            json_object_get(t, "members")),
		        session_str(t, "repo"));
	} else if (strcmp(op, "log") == 0) {
		json_t *m;
		size_t i;
		json_array_foreach(json_object_get(reply, "messages"), i, m)
		{
			char at[32];
			iso_time(json_integer_value(json_object_get(m, "at")),
			    at, sizeof at);
			printf("%s  %s -> %s%s: %s\n", at,
			    session_str(m, "from"), session_str(m, "to"),
			    json_is_true(json_object_get(m, "delivered"))
			        ? ""
			        : " (waiting)",
			    session_str(m, "text"));
		}
	} else
		printf("%s · ok\n", op);
	json_decref(reply);
	return 0;
}

static int
team_run(struct cmd_ctx *ctx)
{
	struct team_opts o = {0};
	int rc;

	if (ctx->argc >= 2 &&
	    (strcmp(ctx->argv[1], "--help") == 0 ||
	        strcmp(ctx->argv[1], "-h") == 0)) {
		cmd_print_usage(ctx->entry, stdout);
		return 0;
	}
	o.own = json_array();
	if ((rc = take_team_opts(ctx, &o)) >= 0) {
		json_decref(o.own);
		return rc;
	}
	/* --json anywhere, as every verb takes it */
	for (int i = 1; i < ctx->argc; i++)
		if (strcmp(ctx->argv[i], "--json") == 0 &&
		    (ctx->argc < 2 ||
		        (strcmp(ctx->argv[1], "create") &&
		            strcmp(ctx->argv[1], "add")))) {
			ctx->json = 1;
			memmove(ctx->argv + i, ctx->argv + i + 1,
			    (size_t)(ctx->argc - i) * sizeof *ctx->argv);
			ctx->argc--;
			i--;
		}
	const char *op = ctx->argc >= 2 ? ctx->argv[1] : "ls";
	if (o.isolation && strcmp(o.isolation, "shared") &&
	    strcmp(o.isolation, "worktree"))
		rc = cmd_usage_error(
		    ctx, "--isolation takes shared or worktree");
	else if (strcmp(op, "create") == 0)
		rc = team_create(ctx, &o);
	else if (strcmp(op, "add") == 0)
		rc = team_add(ctx, &o);
	else if (strcmp(op, "status") == 0 || strcmp(op, "ls") == 0 ||
	    strcmp(op, "stop") == 0 || strcmp(op, "log") == 0 ||
	    strcmp(op, "plan") == 0 || strcmp(op, "approve") == 0 ||
	    strcmp(op, "reject") == 0 || strcmp(op, "talk") == 0)
		rc = team_simple(ctx, op, &o);
	else
		rc = cmd_usage_error(ctx, "unknown team command '%s'", op);
	json_decref(o.own);
	return rc;
}

/* ---- daemon ------------------------------------------------------------- */

static int
exec_sql(const char *sql, const char *const *args, size_t n, long long num,
    struct err *err)
{
	sqlite3_stmt *st = store_stmt(&galley_db, sql);

	if (st == NULL)
		return store_sqlerr(&galley_db, err, "team");
	for (size_t i = 0; i < n; i++)
		if (args[i])
			sqlite3_bind_text(
			    st, (int)i + 1, args[i], -1, SQLITE_TRANSIENT);
		else
			sqlite3_bind_null(st, (int)i + 1);
	if (num >= 0)
		sqlite3_bind_int64(st, (int)n + 1, num);
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc == SQLITE_CONSTRAINT)
		return err_set(err, ERR_EXISTS, "it exists already");
	if (rc != SQLITE_DONE)
		return store_sqlerr(&galley_db, err, "team");
	return 0;
}

static int
serve_create(json_t *req, json_t *reply, struct err *err)
{
	const char *name = NULL, *cwd = NULL, *goal = NULL, *iso = NULL;
	const char *tm = NULL;
	int pa = 0, ao = 0;
	char id[16];

	if (proto_get_str(req, "name", &name, err) < 0 ||
	    proto_get_str(req, "cwd", &cwd, err) < 0 ||
	    proto_get_str(req, "goal", &goal, err) < 0 ||
	    proto_get_str(req, "isolation", &iso, err) < 0 ||
	    proto_get_str(req, "teammate_model", &tm, err) < 0 ||
	    proto_get_bool(req, "plan_approval", &pa, err) < 0 ||
	    proto_get_bool(req, "allow_overlap", &ao, err) < 0)
		return -1;
	if (name == NULL || name_check(name, "team", err) < 0 || cwd == NULL ||
	    cwd[0] != '/')
		return name ? -1
		            : err_set(err, ERR_USAGE, "a team needs a NAME");
	if (iso && strcmp(iso, "shared") && strcmp(iso, "worktree"))
		return err_set(err, ERR_USAGE,
		    "field 'isolation' must be shared or worktree");
	char *repo = repo_root(cwd);
	random_hex(id, 8);
	const char *args[] = {
	    id, name, repo ? repo : cwd, goal, iso ? iso : "shared", tm};
	char sql[256];
	snprintf(sql, sizeof sql,
	    "INSERT INTO teams (id, name, repo, goal, isolation, "
	    "teammate_model, plan_approval, allow_overlap, created_at) VALUES "
	    "(?,?,?,?,?,?,%d,%d,?)",
	    pa, ao);
	/* not the statement cache: the text is built here */
	sqlite3_stmt *st;
	int rc = -1;
	if (sqlite3_prepare_v2(galley_db.db, sql, -1, &st, NULL) == SQLITE_OK) {
		for (int i = 0; i < 6; i++)
			if (args[i])
				sqlite3_bind_text(
				    st, i + 1, args[i], -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(st, 7, wall_ms());
		int r = sqlite3_step(st);
		sqlite3_finalize(st);
		if (r == SQLITE_CONSTRAINT)
			err_set(err, ERR_EXISTS,
			    "team '%s' exists in %s: see 'galley team status %s'",
			    name, repo ? repo : cwd, name);
		else if (r != SQLITE_DONE)
			store_sqlerr(&galley_db, err, "team create");
		else
			rc = 0;
	}
	free(repo);
	if (rc < 0)
		return -1;
	const char *margs[] = {id, "lead"};
	if (exec_sql("INSERT INTO members (team, name, created_at) VALUES "
	             "(?,?,?)",
	        margs, 2, wall_ms(), err) < 0)
		return -1;
	json_object_set_new(
	    reply, "team", json_pack("{s:s, s:s}", "id", id, "name", name));
	return 0;
}

/* Two globs may claim the same file: one matches the other, or one is a
 * directory the other is under: "src/ **" and "src/api/x.c". */
static int
globs_overlap(const char *a, const char *b)
{
	size_t la = strcspn(a, "*?["), lb = strcspn(b, "*?[");
	size_t n = la < lb ? la : lb;

	if (fnmatch(a, b, 0) == 0 || fnmatch(b, a, 0) == 0)
		return 1;
	/* the literal prefixes before the first wildcard agree */
	return strncmp(a, b, n) == 0 && (la != lb || n > 0) &&
	    (a[n] == '*' || b[n] == '*' || a[n] == b[n]);
}

static int
own_conflict(const char *team, json_t *own, struct err *err)
{
	static const char sql[] =
	    "SELECT name, own FROM members WHERE team = ? AND own IS NOT NULL";
	sqlite3_stmt *st = store_stmt(&galley_db, sql);
	int rc = 0;

	if (st == NULL)
		return store_sqlerr(&galley_db, err, "team");
	sqlite3_bind_text(st, 1, team, -1, SQLITE_TRANSIENT);
	while (rc == 0 && sqlite3_step(st) == SQLITE_ROW) {
		json_t *theirs = json_loads(
		    (const char *)sqlite3_column_text(st, 1), 0, NULL);
		json_t *a, *b;
		size_t i, j;
		json_array_foreach(own, i, a)
		{
			json_array_foreach(theirs, j, b)
			{
				if (rc == 0 &&
				    globs_overlap(json_string_value(a),
				        json_string_value(b)))
					rc = err_set(err, ERR_REFUSED,
					    "'%s' overlaps %s's '%s': give each "
					    "member its own files, or create "
					    "the team with --allow-overlap",
					    json_string_value(a),
					    (const char *)sqlite3_column_text(
					        st, 0),
					    json_string_value(b));
			}
		}
		json_decref(theirs);
	}
	sqlite3_reset(st);
	return rc;
}

static int
team_flag(const char *team, const char *col_name)
{
	char sql[96];
	sqlite3_stmt *st;
	int v = 0;

	snprintf(
	    sql, sizeof sql, "SELECT %s FROM teams WHERE id = ?", col_name);
	if (sqlite3_prepare_v2(galley_db.db, sql, -1, &st, NULL) != SQLITE_OK)
		return 0;
	sqlite3_bind_text(st, 1, team, -1, SQLITE_TRANSIENT);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return v;
}

static int
serve_add(
    const struct team_actor *a, json_t *req, json_t *reply, struct err *err)
{
	const char *member = NULL, *lens = NULL, *model = NULL, *smodel = NULL;
	json_t *own = json_object_get(req, "own"), *v;
	char lead[16] = "";
	size_t i;

	if (proto_get_str(req, "member", &member, err) < 0 ||
	    proto_get_str(req, "lens", &lens, err) < 0 ||
	    proto_get_str(req, "model", &model, err) < 0 ||
	    proto_get_str(req, "setting_model", &smodel, err) < 0)
		return -1;
	if (!a->is_user && strcmp(a->member, "lead") != 0)
		return err_set(
		    err, ERR_REFUSED, "only the user or the lead adds members");
	if (member == NULL || name_check(member, "member", err) < 0)
		return member ? -1 : err_set(err, ERR_USAGE, "which MEMBER?");
	if (!strcmp(member, "lead") || !strcmp(member, "user") ||
	    !strcmp(member, "team") || !strcmp(member, "galley"))
		return err_set(err, ERR_USAGE,
		    "'%s' is a reserved name: pick another for the member",
		    member);
	if (own && !json_is_array(own))
		return err_set(err, ERR_USAGE, "field 'own' must be an array");
	json_array_foreach(own, i, v)
	{
		if (!json_is_string(v) || !*json_string_value(v))
			return err_set(err, ERR_USAGE,
			    "field 'own' must be an array of globs");
	}
	if (json_array_size(own) && !team_flag(a->team, "allow_overlap") &&
	    own_conflict(a->team, own, err) < 0)
		return -1;
	char *owntext =
	    json_array_size(own) ? json_dumps(own, JSON_COMPACT) : NULL;
	const char *args[] = {a->team, member, lens, owntext};
	int rc = exec_sql("INSERT INTO members (team, name, lens, own, "
	                  "created_at) VALUES (?,?,?,?,?)",
	    args, 4, wall_ms(), err);
	free(owntext);
	if (rc < 0) {
		if (err->code == ERR_EXISTS) {
			err_release(err);
			return err_set(err, ERR_EXISTS,
			    "team %s has a member '%s' already", a->name,
			    member);
		}
		return -1;
	}
	/* the model: the member's own, the team's, the setting, the lead's */
	struct session *ls =
	    team_member_session(a->team, "lead", lead, sizeof lead)
	    ? session_find_id(lead)
	    : NULL;
	static const char tsql[] =
	    "SELECT teammate_model FROM teams WHERE id = ?";
	sqlite3_stmt *st = store_stmt(&galley_db, tsql);
	char *tm = NULL;
	if (st) {
		sqlite3_bind_text(st, 1, a->team, -1, SQLITE_TRANSIENT);
		if (sqlite3_step(st) == SQLITE_ROW &&
		    sqlite3_column_text(st, 0))
			tm = xstrdup((const char *)sqlite3_column_text(st, 0));
		sqlite3_reset(st);
	}
	const char *m = model ? model
	    : tm              ? tm
	    : smodel          ? smodel
	    : ls              ? ls->model
	                      : NULL;
	json_object_set_new(reply, "team_id", json_string(a->team));
	if (*lead)
		json_object_set_new(reply, "parent", json_string(lead));
	if (m)
		json_object_set_new(reply, "model", json_string(m));
	free(tm);
	return 0;
}

static int
serve_drop(const struct team_actor *a, json_t *req, struct err *err)
{
	const char *member = NULL;
	char sid[16];

	if (proto_get_str(req, "member", &member, err) < 0)
		return -1;
	if (member && !team_member_session(a->team, member, sid, sizeof sid)) {
		const char *args[] = {a->team, member};
		return exec_sql("DELETE FROM members WHERE team = ? AND name = "
		                "? AND session IS NULL",
		    args, 2, -1, err);
	}
	if (member == NULL &&
	    !team_member_session(a->team, "lead", sid, sizeof sid)) {
		const char *args[] = {a->team};
		return exec_sql(
		    "DELETE FROM teams WHERE id = ?", args, 1, -1, err);
	}
	return err_set(err, ERR_REFUSED, "it has started: stop it instead");
}

static int
serve_ls(json_t *req, json_t *reply, struct err *err)
{
	static const char sql[] =
	    "SELECT t.name, t.repo, count(m.name) FROM teams t LEFT JOIN "
	    "members m ON m.team = t.id GROUP BY t.id ORDER BY t.repo, t.name";
	sqlite3_stmt *st = store_stmt(&galley_db, sql);
	json_t *out = json_array();

	if (st == NULL) {
		json_decref(out);
		return store_sqlerr(&galley_db, err, "team ls");
	}
	while (sqlite3_step(st) == SQLITE_ROW)
		json_array_append_new(out,
		    json_pack("{s:s, s:s, s:i}", "name",
		        (const char *)sqlite3_column_text(st, 0), "repo",
		        (const char *)sqlite3_column_text(st, 1), "members",
		        sqlite3_column_int(st, 2)));
	sqlite3_reset(st);
	json_object_set_new(reply, "teams", out);
	return 0;
}

static int
serve_stop(const struct team_actor *a, json_t *reply, struct err *err)
{
	static const char sql[] =
	    "SELECT session FROM members WHERE team = ? AND session IS NOT "
	    "NULL";
	sqlite3_stmt *st = store_stmt(&galley_db, sql);
	json_t *ids = json_array(), *v;
	size_t i;

	if (st == NULL) {
		json_decref(ids);
		return store_sqlerr(&galley_db, err, "team stop");
	}
	sqlite3_bind_text(st, 1, a->team, -1, SQLITE_TRANSIENT);
	while (sqlite3_step(st) == SQLITE_ROW)
		json_array_append_new(
		    ids, json_string((const char *)sqlite3_column_text(st, 0)));
	sqlite3_reset(st);
	json_array_foreach(ids, i, v)
	{
		struct session *s = session_find_id(json_string_value(v));
		struct err ignore = ERR_INIT;
		if (s && session_live(s))
			session_stop(s, 2000, &ignore);
		err_release(&ignore);
	}
	json_object_set_new(reply, "sessions", ids);
	return 0;
}

/* plan (a member), approve and reject (the user or the lead). */
static int
serve_plan(
    const struct team_actor *a, const char *op, json_t *req, struct err *err)
{
	const char *member = NULL, *why = NULL, *text = NULL;
	char *msg = NULL;

	if (proto_get_str(req, "member", &member, err) < 0 ||
	    proto_get_str(req, "why", &why, err) < 0 ||
	    proto_get_str(req, "text", &text, err) < 0)
		return -1;
	if (strcmp(op, "plan") == 0) {
		if (a->is_user || strcmp(a->member, "lead") == 0)
			return err_set(err, ERR_USAGE,
			    "a member sends its plan: the lead and the user "
			    "approve");
		if (text == NULL || *text == '\0')
			return err_set(err, ERR_USAGE, "the plan is empty");
		const char *args[] = {text, a->team, a->member};
		if (exec_sql("UPDATE members SET plan = 'pending', plan_text = "
		             "? WHERE team = ? AND name = ?",
		        args, 3, -1, err) < 0)
			return -1;
		xasprintf(&msg,
		    "%s asks approval of its plan: %s (galley team approve|"
		    "reject %s)",
		    a->member, text, a->member);
		int rc = team_msg_send(a->team, a->member, "lead", msg, err);
		free(msg);
		return rc;
	}
	if (!a->is_user && strcmp(a->member, "lead") != 0)
		return err_set(err, ERR_REFUSED,
		    "only the lead or the user may %s a plan", op);
	if (member == NULL || !strcmp(member, "lead"))
		return err_set(err, ERR_USAGE, "whose plan?");
	int ok = strcmp(op, "approve") == 0;
	const char *args[] = {ok ? "approved" : "rejected", a->team, member};
	if (exec_sql("UPDATE members SET plan = ? WHERE team = ? AND name = ?",
	        args, 3, -1, err) < 0)
		return -1;
	if (sqlite3_changes(galley_db.db) == 0)
		return err_set(err, ERR_NOT_FOUND, "team %s has no member '%s'",
		    a->name, member);
	xasprintf(&msg, "your plan is %s%s%s", ok ? "approved" : "rejected",
	    why ? ": " : "", why ? why : "");
	int rc = team_msg_send(a->team, a->member, member, msg, err);
	free(msg);
	return rc;
}

static int
team_serve(struct server_client *c, json_t *req, json_t *reply, struct err *err)
{
	const char *op = NULL;
	struct team_actor a;

	if (proto_get_str(req, "op", &op, err) < 0)
		return -1;
	if (op == NULL)
		return err_set(err, ERR_USAGE, "field 'op' is missing");
	if (strcmp(op, "create") == 0)
		return serve_create(req, reply, err);
	if (strcmp(op, "ls") == 0)
		return serve_ls(req, reply, err);
	if (team_actor(req, &a, err) < 0)
		return -1;
	if (strcmp(op, "add") == 0)
		return serve_add(&a, req, reply, err);
	if (strcmp(op, "drop") == 0)
		return serve_drop(&a, req, err);
	if (strcmp(op, "status") == 0) {
		json_object_set_new(reply, "team", team_status_json(a.team));
		return 0;
	}
	if (strcmp(op, "stop") == 0)
		return serve_stop(&a, reply, err);
	if (strcmp(op, "log") == 0) {
		json_object_set_new(
		    reply, "messages", team_msg_list(a.team, NULL));
		return 0;
	}
	if (strcmp(op, "talk") == 0) {
		const char *member = NULL, *text = NULL;
		if (proto_get_str(req, "member", &member, err) < 0 ||
		    proto_get_str(req, "text", &text, err) < 0)
			return -1;
		if (member == NULL || name_check(member, "member", err) < 0)
			return -1;
		return team_msg_send(a.team, "user", member, text, err);
	}
	if (strcmp(op, "plan") == 0 || strcmp(op, "approve") == 0 ||
	    strcmp(op, "reject") == 0)
		return serve_plan(&a, op, req, err);
	return err_set(err, ERR_USAGE, "unknown team op '%.32s'", op);
}

const struct cmd_entry cmd_team_entry = {
    .name = "team",
    .usage = "create NAME [--goal T] [--plan-approval] [--teammate-model M]\n"
             "         [--lead-agent DEF] [--allow-overlap] [new options] "
             "[PROMPT]\n"
             "       galley team add TEAM MEMBER --lens TEXT [--own GLOB]... "
             "[new options] [PROMPT]\n"
             "       galley team status|stop|log TEAM | ls\n"
             "       galley team plan TEXT | approve|reject MEMBER [--why T] "
             "| talk MEMBER TEXT",
    .summary = "a lead and teammates with a task list and messages",
    .help = "  create NAME         start the lead (as `galley new`, PROMPT or\n"
            "                      the goal); the team is NAME in this repo\n"
            "  add TEAM MEMBER     start a member (session TEAM.MEMBER)\n"
            "      --lens TEXT     what it looks at (security, tests...)\n"
            "      --own GLOB      the files it may write (repeatable);\n"
            "                      others' globs may not overlap\n"
            "      --plan-approval members edit only once their plan is\n"
            "                      approved (team plan, team approve)\n"
            "      --teammate-model M  members' model unless their own\n"
            "      --team NAME     for plan, approve, reject, talk (inside a\n"
            "                      member's session: its own team)\n"
            "      --as MEMBER     act as a member (the user only)\n"
            "      --why TEXT      the reason given with approve or reject\n",
    .flags = 0,
    .run = team_run,
    .serve = team_serve,
};
