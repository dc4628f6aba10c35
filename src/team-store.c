/* What every part of a team's daemon side shares: binding and reading
 * text columns, a member's session, and the team's events. It calls
 * nothing of theirs (team.c, team-task.c, team-msg.c call in here). */
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "server.h"
#include "session.h"
#include "store.h"
#include "team.h"

int
team_exec(const char *sql, const char *const *args, size_t n, long long num,
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

int
team_member_session(
    const char *team_id, const char *member, char *out, size_t size)
{
	static const char sql[] =
	    "SELECT session FROM members WHERE team = ? AND name = ?";
	sqlite3_stmt *st = store_stmt(&galley_db, sql);
	int found = 0;

	if (st == NULL)
		return 0;
	store_bind_text(st, 1, team_id);
	store_bind_text(st, 2, member);
	if (sqlite3_step(st) == SQLITE_ROW && store_col_text(st, 0)) {
		snprintf(out, size, "%s", store_col_text(st, 0));
		found = 1;
	}
	sqlite3_reset(st);
	return found;
}

void
team_event(const struct team_actor *a, const char *kind, json_t *data)
{
	char sid[16] = "";
	struct session *s = a->s;

	if (s == NULL &&
	    team_member_session(
	        a->team, a->is_user ? "lead" : a->member, sid, sizeof sid))
		s = session_find_id(sid);
	json_object_set_new(data, "team", json_string(a->name));
	json_object_set_new(data, "member", json_string(a->member));
	if (s) {
		json_object_set_new(data, "session", json_string(s->id));
		session_event(s, kind, data);
	}
	json_t *ev = json_deep_copy(data);
	json_object_set_new(ev, "event", json_string(kind));
	server_broadcast("team", ev);
	json_decref(ev);
	json_decref(data);
}

void
team_changed(const char *team_id)
{
	static const char sql[] = "SELECT name FROM teams WHERE id = ?";
	sqlite3_stmt *st = store_stmt(&galley_db, sql);

	if (st == NULL)
		return;
	store_bind_text(st, 1, team_id);
	if (sqlite3_step(st) == SQLITE_ROW) {
		json_t *ev = json_pack("{s:s, s:s}", "event", "team.changed",
		    "team", store_col_text(st, 0));
		server_broadcast("team", ev);
		json_decref(ev);
	}
	sqlite3_reset(st);
}
