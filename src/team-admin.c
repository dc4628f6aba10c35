/* A team's rows, daemon side (the `team` verb's requests): create, add a
 * member with its model resolved and its files checked against the
 * others', drop, list, stop, and plans. */
#include <fnmatch.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "names.h"
#include "proto.h"
#include "session-budget.h"
#include "session-life.h"
#include "session.h"
#include "settings.h"
#include "store.h"
#include "team.h"
#include "util.h"
#include "xmalloc.h"

static int
serve_create(json_t *req, json_t *reply, struct err *err)
{
	const char *name = NULL, *cwd = NULL, *goal = NULL, *iso = NULL;
	const char *tm = NULL;
	int pa = 0, ao = 0;
	double busd = 0;
	json_int_t btok = 0;
	json_t *bu = json_object_get(req, "budget_usd");
	char id[16];

	if (proto_get_str(req, "name", &name, err) < 0 ||
	    proto_get_str(req, "cwd", &cwd, err) < 0 ||
	    proto_get_str(req, "goal", &goal, err) < 0 ||
	    proto_get_str(req, "isolation", &iso, err) < 0 ||
	    proto_get_str(req, "teammate_model", &tm, err) < 0 ||
	    proto_get_bool(req, "plan_approval", &pa, err) < 0 ||
	    proto_get_bool(req, "allow_overlap", &ao, err) < 0 ||
	    proto_get_int_in(
	        req, "budget_tokens", &btok, 0, INT64_MAX / 2, err) < 0)
		return -1;
	if (bu &&
	    (!json_is_number(bu) || !(json_number_value(bu) >= 0) ||
	        json_number_value(bu) > 1e6))
		return err_set(err, ERR_USAGE,
		    "field 'budget_usd' must be a number of dollars");
	busd = json_number_value(bu);
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
	    "teammate_model, plan_approval, allow_overlap, budget_usd, "
	    "budget_tokens, created_at) VALUES (?,?,?,?,?,?,%d,%d,?,?,?)",
	    pa, ao);
	/* not the statement cache: the text is built here */
	sqlite3_stmt *st;
	int rc = -1;
	if (sqlite3_prepare_v2(galley_db.db, sql, -1, &st, NULL) == SQLITE_OK) {
		for (int i = 0; i < 6; i++)
			if (args[i])
				sqlite3_bind_text(
				    st, i + 1, args[i], -1, SQLITE_TRANSIENT);
		sqlite3_bind_double(st, 7, busd);
		sqlite3_bind_int64(st, 8, btok);
		sqlite3_bind_int64(st, 9, wall_ms());
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
	if (team_exec("INSERT INTO members (team, name, created_at) VALUES "
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

/* A member's model: its own, the team's --teammate-model, the
 * teammateModel setting (the caller's), the lead's. lead: its session. */
static char *
member_model(const struct team_actor *a, const char *own, const char *setting,
    char *lead, size_t size)
{
	static const char tsql[] =
	    "SELECT teammate_model FROM teams WHERE id = ?";
	struct session *ls = team_member_session(a->team, "lead", lead, size)
	    ? session_find_id(lead)
	    : NULL;
	sqlite3_stmt *st = store_stmt(&galley_db, tsql);
	char *tm = NULL;

	if (st) {
		sqlite3_bind_text(st, 1, a->team, -1, SQLITE_TRANSIENT);
		if (sqlite3_step(st) == SQLITE_ROW &&
		    sqlite3_column_text(st, 0))
			tm = xstrdup((const char *)sqlite3_column_text(st, 0));
		sqlite3_reset(st);
	}
	if (own || tm == NULL) {
		free(tm);
		const char *m = own ? own
		    : setting       ? setting
		    : ls            ? ls->model
		                    : NULL;
		return m ? xstrdup(m) : NULL;
	}
	return tm;
}

static int
serve_add(
    const struct team_actor *a, json_t *req, json_t *reply, struct err *err)
{
	const char *member = NULL, *lens = NULL, *model = NULL, *smodel = NULL;
	json_t *own = json_object_get(req, "own"), *v;
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
	int rc = team_exec("INSERT INTO members (team, name, lens, own, "
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
	char lead[16] = "";
	char *m = member_model(a, model, smodel, lead, sizeof lead);
	json_object_set_new(reply, "team_id", json_string(a->team));
	json_object_set_new(reply, "worktree",
	    json_boolean(team_flag(a->team, "isolation = 'worktree'")));
	if (*lead)
		json_object_set_new(reply, "parent", json_string(lead));
	if (m)
		json_object_set_new(reply, "model", json_string(m));
	free(m);
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
		return team_exec(
		    "DELETE FROM members WHERE team = ? AND name = "
		    "? AND session IS NULL",
		    args, 2, -1, err);
	}
	if (member == NULL &&
	    !team_member_session(a->team, "lead", sid, sizeof sid)) {
		const char *args[] = {a->team};
		return team_exec(
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

/* team budget TEAM --usd X --tokens N: the team's budget grows by that
 * much (a team's budget is for its life, not per day); its held members
 * are released at once if it is no longer spent. */
static int
serve_budget(
    const struct team_actor *a, json_t *req, json_t *reply, struct err *err)
{
	json_t *u = json_object_get(req, "usd");
	json_int_t tokens = 0;

	if (proto_get_int_in(req, "tokens", &tokens, 0, INT64_MAX / 4, err) < 0)
		return -1;
	if (u &&
	    (!json_is_number(u) || !(json_number_value(u) >= 0) ||
	        json_number_value(u) > 1e6))
		return err_set(err, ERR_USAGE, "field 'usd' must be dollars");
	if (!a->is_user && strcmp(a->member, "lead") != 0)
		return err_set(err, ERR_REFUSED,
		    "only the user or the lead "
		    "raises the team's budget");
	if (json_number_value(u) <= 0 && tokens <= 0)
		return err_set(
		    err, ERR_USAGE, "raise by --usd X or --tokens N");
	sqlite3_stmt *st = store_stmt(&galley_db,
	    "UPDATE teams SET budget_usd = budget_usd + ?, budget_tokens = "
	    "budget_tokens + ? WHERE id = ?");
	if (st == NULL)
		return store_sqlerr(&galley_db, err, "team budget");
	sqlite3_bind_double(st, 1, json_number_value(u));
	sqlite3_bind_int64(st, 2, tokens);
	sqlite3_bind_text(st, 3, a->team, -1, SQLITE_TRANSIENT);
	int ok = sqlite3_step(st) == SQLITE_DONE;
	sqlite3_reset(st);
	if (!ok)
		return store_sqlerr(&galley_db, err, "team budget");
	session_budget_check_all();
	json_object_set_new(reply, "team", team_status_json(a->team));
	return 0;
}

/* The user talks to a member named by its session (the view's `t`, or
 * `team talk REVIEW.DEV TEXT` with no --team). */
static int
talk_to_session(json_t *req, struct err *err)
{
	const char *ref = NULL, *text = NULL;
	struct team_actor a;
	struct session *s;

	if (proto_get_str(req, "member", &ref, err) < 0 ||
	    proto_get_str(req, "text", &text, err) < 0)
		return -1;
	if (ref == NULL)
		return err_set(err, ERR_USAGE, "to whom?");
	if ((s = session_resolve(ref, err)) == NULL)
		return err_set(err, ERR_USAGE,
		    "which team? give --team NAME, or name the member's "
		    "session (TEAM.MEMBER)");
	if (!team_member_of(s->id, &a))
		return err_set(err, ERR_USAGE,
		    "session '%s' is in no team: use galley send", s->name);
	return team_msg_send(a.team, "user", a.member, text, err);
}

/* restart MEMBER, or resume: every member that ended starts again (a
 * claude member continues its conversation: session_restart). */
static int
serve_restart(const struct team_actor *a, const char *op, json_t *req,
    json_t *reply, struct err *err)
{
	static const char sql[] =
	    "SELECT name, session FROM members WHERE team = ? AND session IS "
	    "NOT NULL ORDER BY created_at";
	const char *member = NULL;
	json_t *done = json_array();
	sqlite3_stmt *st;

	if (proto_get_str(req, "member", &member, err) < 0 ||
	    (st = store_stmt(&galley_db, sql)) == NULL) {
		json_decref(done);
		return err->code ? -1 : store_sqlerr(&galley_db, err, "team");
	}
	json_t *ids = json_array();
	sqlite3_bind_text(st, 1, a->team, -1, SQLITE_TRANSIENT);
	while (sqlite3_step(st) == SQLITE_ROW)
		if (member == NULL ||
		    strcmp(member, (const char *)sqlite3_column_text(st, 0)) ==
		        0)
			json_array_append_new(ids,
			    json_string(
			        (const char *)sqlite3_column_text(st, 1)));
	sqlite3_reset(st);
	size_t i;
	json_t *v;
	int rc = 0;
	if (member && json_array_size(ids) == 0)
		rc = err_set(err, ERR_NOT_FOUND,
		    "team %s has no started member '%s'", a->name, member);
	json_array_foreach(ids, i, v)
	{
		struct session *s = session_find_id(json_string_value(v));
		if (rc < 0 || s == NULL ||
		    (strcmp(op, "resume") == 0 && session_live(s)))
			continue;
		if (session_restart(s, err) < 0) {
			rc = -1;
			break;
		}
		json_array_append_new(done, json_string(s->id));
	}
	json_decref(ids);
	json_object_set_new(reply, "sessions", done);
	return rc;
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
		if (team_exec(
		        "UPDATE members SET plan = 'pending', plan_text = "
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
	if (team_exec("UPDATE members SET plan = ? WHERE team = ? AND name = ?",
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

int
team_admin_serve(json_t *req, json_t *reply, struct err *err)
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
	if (strcmp(op, "board") == 0) { /* the view's rows */
		json_object_set_new(reply, "board", team_board());
		return 0;
	}
	if (strcmp(op, "talk") == 0 && json_object_get(req, "team") == NULL &&
	    json_object_get(req, "session") == NULL)
		return talk_to_session(req, err);
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
	if (strcmp(op, "budget") == 0)
		return serve_budget(&a, req, reply, err);
	if (strcmp(op, "ready") == 0) { /* galley mcp: its tools are listed */
		if (a.is_user || a.s == NULL)
			return err_set(err, ERR_REFUSED,
			    "only a member's own MCP server says it is up");
		team_msg_ready(a.team, a.member, a.s->id);
		return 0;
	}
	if (strcmp(op, "restart") == 0 || strcmp(op, "resume") == 0)
		return serve_restart(&a, op, req, reply, err);
	if (strcmp(op, "plan") == 0 || strcmp(op, "approve") == 0 ||
	    strcmp(op, "reject") == 0)
		return serve_plan(&a, op, req, err);
	return err_set(err, ERR_USAGE, "unknown team op '%.32s'", op);
}
