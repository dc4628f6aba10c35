/* A team's task list: numbered per team, pending -> in_progress ->
 * completed, with blocked_by dependencies that hold a task until every
 * one it waits on is completed. A claim is one UPDATE guarded by its own
 * WHERE (owner unset, pending), in a transaction, on the daemon's single
 * thread: however many members race, each task goes to one. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "session.h"
#include "store.h"
#include "team.h"
#include "util.h"
#include "xmalloc.h"

#define TITLE_MAX 1000

static const char task_cols[] =
    "id, title, status, owner, owner_session, blocked_by";

/* A task still waits on a blocker that is not completed? */
static int
blocked(const char *team, json_t *by)
{
	static const char sql[] =
	    "SELECT status FROM tasks WHERE team = ? AND id = ?";
	json_t *v;
	size_t i;
	int held = 0;

	json_array_foreach(by, i, v)
	{
		sqlite3_stmt *st = store_stmt(&galley_db, sql);
		if (st == NULL)
			return 1;
		sqlite3_bind_text(st, 1, team, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(st, 2, json_integer_value(v));
		if (sqlite3_step(st) == SQLITE_ROW &&
		    strcmp((const char *)sqlite3_column_text(st, 0),
		        "completed") != 0)
			held = 1;
		sqlite3_reset(st);
	}
	return held;
}

static json_t *
task_json(const char *team, sqlite3_stmt *st)
{
	const char *by = (const char *)sqlite3_column_text(st, 5);
	json_t *deps = by ? json_loads(by, 0, NULL) : NULL;

	if (!json_is_array(deps)) {
		json_decref(deps);
		deps = json_array();
	}
	json_t *t = json_pack("{s:I, s:s, s:s, s:s?, s:s?, s:O, s:b}", "id",
	    (json_int_t)sqlite3_column_int64(st, 0), "title",
	    (const char *)sqlite3_column_text(st, 1), "status",
	    (const char *)sqlite3_column_text(st, 2), "owner",
	    (const char *)sqlite3_column_text(st, 3), "owner_session",
	    (const char *)sqlite3_column_text(st, 4), "blocked_by", deps,
	    "blocked", blocked(team, deps));
	json_decref(deps);
	return t;
}

json_t *
team_task_list(const char *team)
{
	char sql[128];
	sqlite3_stmt *st;
	json_t *out = json_array();

	snprintf(sql, sizeof sql,
	    "SELECT %s FROM tasks WHERE team = ? ORDER "
	    "BY id",
	    task_cols);
	/* prepared each time: the cache keys on the text's address */
	if (sqlite3_prepare_v2(galley_db.db, sql, -1, &st, NULL) != SQLITE_OK)
		return out;
	sqlite3_bind_text(st, 1, team, -1, SQLITE_TRANSIENT);
	while (sqlite3_step(st) == SQLITE_ROW)
		json_array_append_new(out, task_json(team, st));
	sqlite3_finalize(st);
	return out;
}

static json_t *
task_get(const char *team, json_int_t id)
{
	json_t *all = team_task_list(team), *t, *found = NULL;
	size_t i;

	json_array_foreach(all, i, t)
	{
		if (json_integer_value(json_object_get(t, "id")) == id)
			found = json_incref(t);
	}
	json_decref(all);
	return found;
}

/* blocked_by as given: an array of task ids that exist in the team. */
static int
deps_check(const char *team, json_t *by, struct err *err)
{
	json_t *v, *t;
	size_t i;

	if (by == NULL)
		return 0;
	if (!json_is_array(by) || json_array_size(by) > 100)
		return err_set(err, ERR_USAGE,
		    "field 'blocked_by' must be an array of task ids");
	json_array_foreach(by, i, v)
	{
		if (!json_is_integer(v))
			return err_set(err, ERR_USAGE,
			    "field 'blocked_by' must be an array of task ids");
		if ((t = task_get(team, json_integer_value(v))) == NULL)
			return err_set(err, ERR_NOT_FOUND, "no task #%lld",
			    (long long)json_integer_value(v));
		json_decref(t);
	}
	return 0;
}

static int
task_add(
    const struct team_actor *a, json_t *req, json_t *reply, struct err *err)
{
	static const char sql[] =
	    "INSERT INTO tasks (team, id, title, blocked_by, created_at, "
	    "updated_at) VALUES (?1, (SELECT coalesce(max(id), 0) + 1 FROM "
	    "tasks WHERE team = ?1), ?2, ?3, ?4, ?4)";
	const char *title = NULL;
	json_t *by = json_object_get(req, "blocked_by");

	if (proto_get_str(req, "title", &title, err) < 0)
		return -1;
	if (title == NULL || *title == '\0' || strlen(title) > TITLE_MAX)
		return err_set(err, ERR_USAGE,
		    "a task needs a title of 1 to %d bytes", TITLE_MAX);
	if (deps_check(a->team, by, err) < 0)
		return -1;
	sqlite3_stmt *st = store_stmt(&galley_db, sql);
	if (st == NULL)
		return store_sqlerr(&galley_db, err, "task add");
	char *deps = by ? json_dumps(by, JSON_COMPACT) : xstrdup("[]");
	sqlite3_bind_text(st, 1, a->team, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, title, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 3, deps, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 4, wall_ms());
	int ok = sqlite3_step(st) == SQLITE_DONE;
	sqlite3_reset(st);
	free(deps);
	if (!ok)
		return store_sqlerr(&galley_db, err, "task add");
	/* the id just given: the largest */
	json_t *all = team_task_list(a->team);
	json_t *t = json_array_get(all, json_array_size(all) - 1);
	json_int_t id = json_integer_value(json_object_get(t, "id"));
	json_object_set(reply, "task", t);
	json_decref(all);
	team_event(a, "team.task_created",
	    json_pack("{s:I, s:s}", "task", id, "title", title));
	return 0;
}

/* The task to claim: the one named, or the lowest pending, unowned,
 * unblocked one. */
static json_int_t
claimable(const char *team, json_int_t want)
{
	json_t *all = team_task_list(team), *t;
	json_int_t id = 0;
	size_t i;

	json_array_foreach(all, i, t)
	{
		json_int_t tid = json_integer_value(json_object_get(t, "id"));
		if ((want && tid != want) ||
		    strcmp(json_string_value(json_object_get(t, "status")),
		        "pending") != 0 ||
		    json_is_string(json_object_get(t, "owner")) ||
		    json_is_true(json_object_get(t, "blocked")))
			continue;
		id = tid;
		break;
	}
	json_decref(all);
	return id;
}

static int
task_claim(
    const struct team_actor *a, json_t *req, json_t *reply, struct err *err)
{
	static const char sql[] =
	    "UPDATE tasks SET owner = ?, owner_session = ?, status = "
	    "'in_progress', updated_at = ? WHERE team = ? AND id = ? AND "
	    "owner IS NULL AND status = 'pending'";
	json_int_t want = 0;

	if (proto_get_int_in(req, "task", &want, 0, INT32_MAX, err) < 0)
		return -1;
	if (a->is_user)
		return err_set(err, ERR_USAGE,
		    "the user claims no task: give --as MEMBER");
	json_int_t id = claimable(a->team, want);
	if (id == 0) {
		json_t *t = want ? task_get(a->team, want) : NULL;
		int exists = t != NULL;
		json_decref(t);
		if (want && !exists)
			return err_set(err, ERR_NOT_FOUND, "no task #%lld",
			    (long long)want);
		if (want)
			return err_set(err, ERR_REFUSED,
			    "task #%lld is taken, blocked or done",
			    (long long)want);
		return err_set(err, ERR_REFUSED, "no task is free to claim");
	}
	sqlite3_stmt *st = store_stmt(&galley_db, sql);
	if (st == NULL)
		return store_sqlerr(&galley_db, err, "claim");
	char sid[16] = "";
	if (a->s)
		snprintf(sid, sizeof sid, "%s", a->s->id);
	else
		team_member_session(a->team, a->member, sid, sizeof sid);
	sqlite3_bind_text(st, 1, a->member, -1, SQLITE_TRANSIENT);
	if (*sid)
		sqlite3_bind_text(st, 2, sid, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, 2);
	sqlite3_bind_int64(st, 3, wall_ms());
	sqlite3_bind_text(st, 4, a->team, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 5, id);
	int ok = sqlite3_step(st) == SQLITE_DONE &&
	    sqlite3_changes(galley_db.db) == 1;
	sqlite3_reset(st);
	if (!ok)
		return err_set(
		    err, ERR_REFUSED, "task #%lld was taken", (long long)id);
	json_object_set_new(reply, "task", task_get(a->team, id));
	return 0;
}

static int
task_set_status(const struct team_actor *a, json_int_t id, const char *status,
    json_t *reply, struct err *err)
{
	static const char sql[] =
	    "UPDATE tasks SET status = ?, updated_at = ? WHERE team = ? AND "
	    "id = ?";
	json_t *t = task_get(a->team, id);

	if (t == NULL)
		return err_set(
		    err, ERR_NOT_FOUND, "no task #%lld", (long long)id);
	const char *owner = json_string_value(json_object_get(t, "owner"));
	/* a member changes its own tasks; the user and the lead any */
	if (!a->is_user && strcmp(a->member, "lead") != 0 &&
	    (owner == NULL || strcmp(owner, a->member) != 0)) {
		json_decref(t);
		return err_set(err, ERR_REFUSED,
		    "task #%lld is %s's, not %s's: claim it first",
		    (long long)id, owner ? owner : "nobody", a->member);
	}
	json_decref(t);
	sqlite3_stmt *st = store_stmt(&galley_db, sql);
	if (st == NULL)
		return store_sqlerr(&galley_db, err, "task");
	sqlite3_bind_text(st, 1, status, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 2, wall_ms());
	sqlite3_bind_text(st, 3, a->team, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 4, id);
	int ok = sqlite3_step(st) == SQLITE_DONE;
	sqlite3_reset(st);
	if (!ok)
		return store_sqlerr(&galley_db, err, "task");
	t = task_get(a->team, id);
	json_object_set(reply, "task", t);
	if (strcmp(status, "completed") == 0)
		team_event(a, "team.task_completed",
		    json_pack("{s:I, s:s}", "task", id, "title",
		        json_string_value(json_object_get(t, "title"))));
	json_decref(t);
	return 0;
}

static int
task_block(const struct team_actor *a, json_int_t id, json_t *req,
    json_t *reply, struct err *err)
{
	static const char sql[] =
	    "UPDATE tasks SET blocked_by = ?, updated_at = ? WHERE team = ? "
	    "AND id = ?";
	json_t *by = json_object_get(req, "blocked_by"), *t, *v;
	size_t i;

	if (by == NULL || deps_check(a->team, by, err) < 0)
		return by ? -1
		          : err_set(err, ERR_USAGE, "blocked by which tasks?");
	json_array_foreach(by, i, v)
	{
		if (json_integer_value(v) == id)
			return err_set(
			    err, ERR_USAGE, "a task cannot wait on itself");
	}
	if ((t = task_get(a->team, id)) == NULL)
		return err_set(
		    err, ERR_NOT_FOUND, "no task #%lld", (long long)id);
	json_t *all = json_copy(json_object_get(t, "blocked_by"));
	json_decref(t);
	json_array_extend(all, by);
	char *deps = json_dumps(all, JSON_COMPACT);
	json_decref(all);
	sqlite3_stmt *st = store_stmt(&galley_db, sql);
	int ok = 0;
	if (st) {
		sqlite3_bind_text(st, 1, deps, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(st, 2, wall_ms());
		sqlite3_bind_text(st, 3, a->team, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(st, 4, id);
		ok = sqlite3_step(st) == SQLITE_DONE;
		sqlite3_reset(st);
	}
	free(deps);
	if (!ok)
		return store_sqlerr(&galley_db, err, "task block");
	json_object_set_new(reply, "task", task_get(a->team, id));
	return 0;
}

/* What the view shows in members' rows, for every team: by session, its
 * task in progress, the messages waiting for it, and for a lead its team's
 * tasks done and in all. */
json_t *
team_board(void)
{
	static const char sql[] =
	    "SELECT m.session, m.name, (SELECT '#' || t.id || ' ' || t.title "
	    "FROM tasks t WHERE t.team = m.team AND t.owner = m.name AND "
	    "t.status = 'in_progress' ORDER BY t.updated_at DESC LIMIT 1), "
	    "(SELECT count(*) FROM messages g WHERE g.team = m.team AND "
	    "g.recipient = m.name AND g.delivered_at IS NULL), (SELECT count(*) "
	    "FROM tasks t WHERE t.team = m.team AND t.status = 'completed'), "
	    "(SELECT count(*) FROM tasks t WHERE t.team = m.team) FROM members m "
	    "WHERE m.session IS NOT NULL";
	sqlite3_stmt *st = store_stmt(&galley_db, sql);
	json_t *out = json_object();

	if (st == NULL)
		return out;
	while (sqlite3_step(st) == SQLITE_ROW) {
		json_t *e =
		    json_pack("{s:s?, s:i}", "task", store_col_text(st, 2),
		        "waiting", sqlite3_column_int(st, 3));
		if (strcmp(store_col_text(st, 1), "lead") == 0) {
			json_object_set_new(
			    e, "done", json_integer(sqlite3_column_int(st, 4)));
			json_object_set_new(e, "tasks",
			    json_integer(sqlite3_column_int(st, 5)));
		}
		json_object_set_new(out, store_col_text(st, 0), e);
	}
	sqlite3_reset(st);
	return out;
}

static int
task_serve(const struct team_actor *a, const char *op, json_t *req,
    json_t *reply, struct err *err)
{
	json_int_t id = 0;
	const char *status = NULL;

	if (proto_get_int_in(req, "task", &id, 0, INT32_MAX, err) < 0 ||
	    proto_get_str(req, "status", &status, err) < 0)
		return -1;
	if (strcmp(op, "add") == 0)
		return task_add(a, req, reply, err);
	if (strcmp(op, "ls") == 0) {
		json_object_set_new(reply, "tasks", team_task_list(a->team));
		return 0;
	}
	if (strcmp(op, "claim") == 0)
		return task_claim(a, req, reply, err);
	if (id == 0)
		return err_set(err, ERR_USAGE, "which task? give its number");
	if (strcmp(op, "done") == 0)
		return task_set_status(a, id, "completed", reply, err);
	if (strcmp(op, "update") == 0) {
		if (status == NULL ||
		    (strcmp(status, "pending") &&
		        strcmp(status, "in_progress") &&
		        strcmp(status, "completed")))
			return err_set(err, ERR_USAGE,
			    "--status takes pending, in_progress or completed");
		return task_set_status(a, id, status, reply, err);
	}
	if (strcmp(op, "block") == 0)
		return task_block(a, id, req, reply, err);
	return err_set(err, ERR_USAGE, "unknown task op '%.32s'", op);
}

int
team_task_serve(const struct team_actor *a, const char *op, json_t *req,
    json_t *reply, struct err *err)
{
	int rc = task_serve(a, op, req, reply, err);

	if (rc == 0 && strcmp(op, "ls") != 0)
		team_changed(a->team);
	return rc;
}
