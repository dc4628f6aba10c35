/* galley team create|add|status|ls|stop|log|plan|approve|reject|talk: a
 * lead and its members, ordinary sessions started as `galley new` starts
 * them (the same options), with a team row and a member row each in the
 * store. Daemon side: team.c, team-task.c, team-msg.c. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "worktree.h"
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
	const char *why, *team, *as, *teammates;
	const char *budget_usd, *budget_tokens, *usd, *tokens;
	json_t *own;
	int plan_approval, allow_overlap;
};

/* --budget-usd and --budget-tokens of create and start are the team's;
 * of add they stay: the member's own, as `new` takes them. -1, or the exit
 * code of a usage error. */
static int
take_budget_opts(struct cmd_ctx *ctx, struct team_opts *o)
{
	const char *sub = NULL;
	int out = 1;

	for (int i = 1; i < ctx->argc && sub == NULL; i++)
		if (ctx->argv[i][0] != '-')
			sub = ctx->argv[i];
	if (sub == NULL || (strcmp(sub, "create") && strcmp(sub, "start")))
		return -1;
	for (int i = 1; i < ctx->argc; i++) {
		char *a = ctx->argv[i];
		if (strcmp(a, "--") == 0) {
			while (i < ctx->argc)
				ctx->argv[out++] = ctx->argv[i++];
			break;
		}
		if (strcmp(a, "--budget-usd") && strcmp(a, "--budget-tokens")) {
			ctx->argv[out++] = a;
			continue;
		}
		if (i + 1 >= ctx->argc)
			return cmd_usage_error(
			    ctx, "option '%s' needs a value", a);
		if (a[9] == 'u')
			o->budget_usd = ctx->argv[++i];
		else
			o->budget_tokens = ctx->argv[++i];
	}
	ctx->argc = out;
	ctx->argv[out] = NULL;
	return -1;
}

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
	    {"--teammates", offsetof(struct team_opts, teammates)},
	    {"--usd", offsetof(struct team_opts, usd)},
	    {"--tokens", offsetof(struct team_opts, tokens)},
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

/* `new` refused the lead or a member: its row goes (a team without its
 * lead goes whole); new said why already. */
static void
undo(struct cmd_ctx *ctx, const char *team, const char *member)
{
	json_t *drop = cmd_team_request("team", "drop", team, NULL);

	if (member)
		json_object_set_new(drop, "member", json_string(member));
	json_decref(cmd_call(ctx, drop));
	err_release(&ctx->err);
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
	char *end;
	if (o->budget_usd) {
		double u = strtod(o->budget_usd, &end);
		if (*end || !(u > 0) || u > 1e6) {
			json_decref(req);
			return cmd_usage_error(
			    ctx, "--budget-usd takes dollars above 0");
		}
		json_object_set_new(req, "budget_usd", json_real(u));
	}
	if (o->budget_tokens) {
		long long t = strtoll(o->budget_tokens, &end, 10);
		if (*end || t <= 0) {
			json_decref(req);
			return cmd_usage_error(
			    ctx, "--budget-tokens takes a number above 0");
		}
		json_object_set_new(req, "budget_tokens", json_integer(t));
	}
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
	if (rc != 0) /* no lead: no team */
		undo(ctx, name, NULL);
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
	char *wt = NULL;
	int named = 0;
	for (int i = 1; i < ctx->argc; i++)
		named |= !strcmp(ctx->argv[i], "-n") ||
		    !strncmp(ctx->argv[i], "--name", 6);
	if (json_is_true(json_object_get(reply, "worktree")) && named)
		json_object_del(extra, "name");
	else if (json_is_true(json_object_get(reply, "worktree")))
		json_object_set_new(extra, "force_name", json_true());
	if (json_is_true(json_object_get(reply, "worktree"))) {
		/* --isolation worktree: a worktree of its own, TEAM-MEMBER */
		/* named TEAM.MEMBER, not after the worktree, unless -n */
		xasprintf(&wt, "--worktree=%s-%s", team, member);
		memmove(ctx->argv + 2, ctx->argv + 1,
		    (size_t)ctx->argc * sizeof *ctx->argv);
		ctx->argv[1] = wt;
		ctx->argc++;
	}
	int rc = start_member(ctx, extra);
	free(wt);
	json_decref(extra);
	if (rc != 0)
		undo(ctx, team, member);
	json_decref(reply);
	return rc;
}

/* team start NAME GOAL --teammates a,b,c: the team, its lead with the goal
 * and the members' names, and one member a name, each with that name as
 * its lens; the lead splits the goal into tasks. */
static int
team_start(struct cmd_ctx *ctx, struct team_opts *o)
{
	if (ctx->argc < 4 || o->teammates == NULL)
		return cmd_usage_error(
		    ctx, "team start NAME GOAL --teammates a,b,c [options]");
	char *name = ctx->argv[2], *goal = ctx->argv[3];
	int nopts = ctx->argc - 4, rc;
	char **opts = xcalloc((size_t)nopts + 1, sizeof *opts);
	char *list = xstrdup(o->teammates), *lead_prompt;

	for (int i = 0; i < nopts; i++)
		opts[i] = ctx->argv[4 + i];
	xasprintf(&lead_prompt,
	    "Goal: %s. Your teammates: %s. Split the goal into tasks for them "
	    "(one file area each), then coordinate.",
	    goal, o->teammates);
	o->goal = goal;
	/* argv arrays live as long as the process: getopt keeps pointers */
	char **v = xcalloc((size_t)nopts + 5, sizeof *v);
	v[0] = "team";
	v[1] = "create";
	v[2] = name;
	memcpy(v + 3, opts, (size_t)nopts * sizeof *v);
	v[nopts + 3] = lead_prompt;
	ctx->argv = v;
	ctx->argc = nopts + 4;
	rc = team_create(ctx, o);
	for (char *m = strtok(list, ","); rc == 0 && m; m = strtok(NULL, ",")) {
		char *prompt;
		xasprintf(&prompt, "Lens: %s. Team goal: %s.", m, goal);
		char **w = xcalloc((size_t)nopts + 6, sizeof *w);
		w[0] = "team";
		w[1] = "add";
		w[2] = name;
		w[3] = m;
		memcpy(w + 4, opts, (size_t)nopts * sizeof *w);
		w[nopts + 4] = prompt;
		ctx->argv = w;
		ctx->argc = nopts + 5;
		o->lens = m;
		rc = team_add(ctx, o);
		free(w); /* getopt is done with it */
		free(prompt);
	}
	free(v);
	free(opts);
	free(lead_prompt);
	free(list);
	return rc;
}

/* What a member produced: tasks it completed, and for a worktree member
 * its commits and diff against its base. */
static json_t *
member_summary(struct cmd_ctx *ctx, json_t *t, json_t *m)
{
	const char *name = session_str(m, "name");
	const char *sid = session_str(m, "session");
	json_t *task, *o = json_pack("{s:s}", "member", name);
	struct wt_risk risk = WT_RISK_INIT;
	size_t i;
	int done = 0;

	json_array_foreach(json_object_get(t, "tasks"), i, task)
	{
		done += !strcmp(session_str(task, "owner"), name) &&
		    !strcmp(session_str(task, "status"), "completed");
	}
	json_object_set_new(o, "tasks_done", json_integer(done));
	json_t *s = *sid ? cmd_get_session(ctx, sid) : NULL;
	err_release(&ctx->err);
	const char *wt = session_str(s, "worktree");
	const char *branch = session_str(s, "branch");
	/* what removing its worktree would lose: files not committed, and
	 * commits in no other branch */
	if (*wt && access(wt, F_OK) == 0 &&
	    worktree_risk(session_str(s, "repo"), wt, *branch ? branch : NULL,
	        &risk, &ctx->err) == 0) {
		json_object_set_new(o, "worktree", json_string(wt));
		json_object_set_new(o, "files", json_integer(risk.nfiles));
		json_object_set_new(o, "commits", json_integer(risk.ncommits));
	}
	err_release(&ctx->err);
	wt_risk_release(&risk);
	json_decref(s);
	return o;
}

/* team cleanup TEAM: every member and the lead stop, and a summary says
 * what each produced; worktrees stay (galley rm --ended sweeps those that
 * hold nothing). */
static int
team_cleanup(struct cmd_ctx *ctx, struct team_opts *o)
{
	if (ctx->argc != 3)
		return cmd_usage_error(ctx, "team cleanup TEAM");
	json_t *req = cmd_team_request("team", "status", ctx->argv[2], NULL);
	json_t *reply = cmd_call(ctx, req), *m, *out = json_array();
	size_t i;

	if (reply == NULL) {
		json_decref(out);
		return cmd_fail(ctx);
	}
	json_t *t = json_object_get(reply, "team");
	json_array_append_new(
	    out, member_summary(ctx, t, json_object_get(t, "lead")));
	json_array_foreach(json_object_get(t, "members"), i, m)
	    json_array_append_new(out, member_summary(ctx, t, m));
	json_t *stop = cmd_team_request("team", "stop", ctx->argv[2], NULL);
	json_t *sr = cmd_call(ctx, stop);
	if (sr == NULL) {
		json_decref(reply);
		json_decref(out);
		return cmd_fail(ctx);
	}
	/* wait for them to end: cleanup leaves nothing running */
	size_t k;
	json_t *id;
	json_array_foreach(json_object_get(sr, "sessions"), k, id)
	{
		for (int tries = 0; tries < 200; tries++) {
			json_t *s = cmd_get_session(ctx, json_string_value(id));
			int ended = s == NULL ||
			    state_is_terminal(session_str(s, "state"));
			json_decref(s);
			err_release(&ctx->err);
			if (ended)
				break;
			usleep(50 * 1000);
		}
	}
	if (ctx->json)
		cmd_print_json(out);
	else
		json_array_foreach(out, i, m)
		{
			printf("%-14s %lld task(s) done",
			    session_str(m, "member"),
			    (long long)json_integer_value(
			        json_object_get(m, "tasks_done")));
			if (*session_str(m, "worktree"))
				printf(" · %lld file(s), %lld commit(s) in its "
				       "worktree (kept)",
				    (long long)json_integer_value(
				        json_object_get(m, "files")),
				    (long long)json_integer_value(
				        json_object_get(m, "commits")));
			putchar('\n');
		}
	(void)o;
	json_decref(sr);
	json_decref(reply);
	json_decref(out);
	return 0;
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

static void
print_reply(struct cmd_ctx *ctx, const char *op, json_t *reply)
{
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
}

static int
team_simple(struct cmd_ctx *ctx, const char *op, struct team_opts *o)
{
	const char *team = o->team;
	int pos = 2;

	/* status, stop and log name the team; plan, approve, reject and
	 * talk take it from --team or the member's own */
	int named = strcmp(op, "status") == 0 || strcmp(op, "stop") == 0 ||
	    strcmp(op, "log") == 0 || strcmp(op, "resume") == 0 ||
	    strcmp(op, "budget") == 0;
	if (named) {
		if (ctx->argc < 3)
			return cmd_usage_error(ctx, "team %s NAME", op);
		team = ctx->argv[pos++];
	}
	json_t *req = cmd_team_request("team", op, team, o->as), *reply;
	if (strcmp(op, "budget") == 0) {
		char *e1 = "", *e2 = "";
		double u = o->usd ? strtod(o->usd, &e1) : 0;
		long long t = o->tokens ? strtoll(o->tokens, &e2, 10) : 0;
		if (*e1 || *e2 || u < 0 || t < 0 || (u <= 0 && t <= 0)) {
			json_decref(req);
			return cmd_usage_error(
			    ctx, "team budget TEAM --usd X and/or --tokens N");
		}
		json_object_set_new(req, "usd", json_real(u));
		json_object_set_new(req, "tokens", json_integer(t));
	}
	if (strcmp(op, "plan") == 0 || strcmp(op, "talk") == 0 ||
	    strcmp(op, "approve") == 0 || strcmp(op, "reject") == 0 ||
	    strcmp(op, "restart") == 0) {
		int need = strcmp(op, "plan") == 0 ? 1
		    : strcmp(op, "talk") == 0      ? 2
		                                   : 1;
		if (ctx->argc - pos != need) {
			json_decref(req);
			return cmd_usage_error(ctx, "team %s %s", op,
			    need == 2                     ? "MEMBER TEXT"
			        : strcmp(op, "plan") == 0 ? "TEXT"
			        : strcmp(op, "restart") == 0
			        ? "MEMBER"
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
	print_reply(ctx, op, reply);
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
	if ((rc = take_budget_opts(ctx, &o)) >= 0 ||
	    (rc = take_team_opts(ctx, &o)) >= 0) {
		json_decref(o.own);
		return rc;
	}
	/* --json anywhere, as every verb takes it */
	for (int i = 1; i < ctx->argc; i++)
		if (strcmp(ctx->argv[i], "--json") == 0 &&
		    (ctx->argc < 2 ||
		        (strcmp(ctx->argv[1], "create") &&
		            strcmp(ctx->argv[1], "add") &&
		            strcmp(ctx->argv[1], "start")))) {
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
	else if (strcmp(op, "start") == 0)
		rc = team_start(ctx, &o);
	else if (strcmp(op, "cleanup") == 0)
		rc = team_cleanup(ctx, &o);
	else if (strcmp(op, "status") == 0 || strcmp(op, "ls") == 0 ||
	    strcmp(op, "stop") == 0 || strcmp(op, "log") == 0 ||
	    strcmp(op, "plan") == 0 || strcmp(op, "approve") == 0 ||
	    strcmp(op, "reject") == 0 || strcmp(op, "talk") == 0 ||
	    strcmp(op, "restart") == 0 || strcmp(op, "resume") == 0 ||
	    strcmp(op, "budget") == 0)
		rc = team_simple(ctx, op, &o);
	else
		rc = cmd_usage_error(ctx, "unknown team command '%s'", op);
	json_decref(o.own);
	return rc;
}

/* The daemon side is team-admin.c. */
static int
team_serve(struct server_client *c, json_t *req, json_t *reply, struct err *err)
{
	return team_admin_serve(req, reply, err);
}

const struct cmd_entry cmd_team_entry = {
    .name = "team",
    .usage = "create NAME [--goal T] [--plan-approval] [--teammate-model M]\n"
             "         [--lead-agent DEF] [--allow-overlap] [new options] "
             "[PROMPT]\n"
             "       galley team add TEAM MEMBER --lens TEXT [--own GLOB]... "
             "[new options] [PROMPT]\n"
             "       galley team start NAME GOAL --teammates a,b,c [new "
             "options]\n"
             "       galley team status|stop|log|resume TEAM | ls | "
             "restart MEMBER\n"
             "       galley team budget TEAM --usd X|--tokens N | cleanup "
             "TEAM\n"
             "       galley team plan TEXT | approve|reject MEMBER [--why T] "
             "| talk MEMBER TEXT",
    .summary = "a lead and teammates with a task list and messages",
    .help = "  create NAME         start the lead (as `galley new`, PROMPT or\n"
            "                      the goal); the team is NAME in this repo\n"
            "  add TEAM MEMBER     start a member (session TEAM.MEMBER)\n"
            "      --lens TEXT     what it looks at (security, tests...)\n"
            "  start NAME GOAL --teammates a,b,c  the lead with the goal\n"
            "                      and one member each, its name its lens\n"
            "      --isolation worktree  each member in a worktree of its\n"
            "                      own (TEAM-MEMBER); default shared\n"
            "      --own GLOB      the files it may write (repeatable);\n"
            "                      others' globs may not overlap\n"
            "      --plan-approval members edit only once their plan is\n"
            "                      approved (team plan, team approve)\n"
            "      --teammate-model M  members' model unless their own\n"
            "      --budget-usd X, --budget-tokens N  (create, start) the\n"
            "                      team's budget over all members: at 100%\n"
            "                      they are held; team budget raises it\n"
            "      --team NAME     for plan, approve, reject, talk (inside a\n"
            "                      member's session: its own team)\n"
            "      --as MEMBER     act as a member (the user only)\n"
            "      --why TEXT      the reason given with approve or reject\n",
    .flags = 0,
    .run = team_run,
    .serve = team_serve,
};
