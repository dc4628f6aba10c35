/* A team's mailboxes: every message is kept in the store; the daemon types
 * it into the recipient's terminal only while the recipient is idle, one
 * at a time (the turn it starts ends idle again, and the next follows),
 * so no message lands mid-turn, and no TUI has to be open to poll. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "executor.h"
#include "log.h"
#include "session.h"
#include "state.h"
#include "store.h"
#include "team.h"
#include "util.h"
#include "xmalloc.h"

#define MSG_MAX 16384
/* A message is typed this long after its recipient went idle: claude's
 * prompt takes an Enter again only once its Stop hook has run, a moment
 * after the hook tells galley the turn is over. */
#define DELIVER_SETTLE_MS 400
/* A brief whose member's MCP server never says it is up (it failed to
 * start) is typed anyway after this long: the work goes on without
 * galley's tools rather than not at all. */
#define BRIEF_WAIT_MS 30000

/* Recipients to try when their settle time is up: {"key": "TEAMID/MEMBER",
 * "at": ms}; looked at every 100 ms while there are any. */
static json_t *pending;
/* Sessions whose galley MCP server has listed its tools: {"SID": true} */
static json_t *tools_up;
/* When each held brief's wait began (its member made, or started after
 * waiting in line or a restart): {"SID": wall ms} */
static json_t *brief_clock;
static uv_timer_t settle_timer;
static int settle_ready;

static void deliver_now(const char *team, const char *member);

static void
settle_cb(uv_timer_t *t)
{
	json_t *due = json_array(), *keep = json_array(), *v;
	int64_t now = (int64_t)now_ms();
	size_t i;

	json_array_foreach(pending, i, v) json_array_append(
	    now - json_integer_value(json_object_get(v, "at")) >=
	            DELIVER_SETTLE_MS
	        ? due
	        : keep,
	    v);
	json_decref(pending);
	pending = keep;
	json_array_foreach(due, i, v)
	{
		char *key =
		    xstrdup(json_string_value(json_object_get(v, "key")));
		char *slash = strchr(key, '/');
		if (slash) {
			*slash = '\0';
			deliver_now(key, slash + 1);
		}
		free(key);
	}
	json_decref(due);
	if (json_array_size(pending) == 0)
		uv_timer_stop(t);
}

static int
insert(const char *team, const char *from, const char *to, const char *text)
{
	static const char sql[] =
	    "INSERT INTO messages (team, sender, recipient, text, created_at) "
	    "VALUES (?,?,?,?,?)";
	sqlite3_stmt *st = store_stmt(&galley_db, sql);
	int rc;

	if (st == NULL)
		return -1;
	store_bind_text(st, 1, team);
	store_bind_text(st, 2, from);
	store_bind_text(st, 3, to);
	store_bind_text(st, 4, text);
	sqlite3_bind_int64(st, 5, wall_ms());
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
	sqlite3_reset(st);
	return rc;
}

/* Every member's name but one. */
static json_t *
others(const char *team, const char *but)
{
	static const char sql[] =
	    "SELECT name FROM members WHERE team = ? AND name != ?";
	sqlite3_stmt *st = store_stmt(&galley_db, sql);
	json_t *out = json_array();

	if (st == NULL)
		return out;
	store_bind_text(st, 1, team);
	store_bind_text(st, 2, but);
	while (sqlite3_step(st) == SQLITE_ROW)
		json_array_append_new(
		    out, json_string((const char *)sqlite3_column_text(st, 0)));
	sqlite3_reset(st);
	return out;
}

int
team_msg_send(const char *team, const char *from, const char *to,
    const char *text, struct err *err)
{
	char sid[16];

	if (text == NULL || *text == '\0' || strlen(text) > MSG_MAX)
		return err_set(err, ERR_USAGE,
		    "a message is 1 to %d bytes of text", MSG_MAX);
	if (strcmp(to, "team") == 0) {
		json_t *all = others(team, from), *v;
		size_t i;
		json_array_foreach(all, i, v)
		    team_msg_send(team, from, json_string_value(v), text, NULL);
		json_decref(all);
		return 0;
	}
	if (strcmp(to, "user") != 0 &&
	    !team_member_session(team, to, sid, sizeof sid) &&
	    strcmp(to, "lead") != 0) {
		/* a member not started has no session yet: known names only */
		json_t *all = others(team, ""), *v;
		size_t i;
		int known = 0;
		json_array_foreach(all, i, v) known |=
		    strcmp(json_string_value(v), to) == 0;
		json_decref(all);
		if (!known)
			return err_set(err, ERR_NOT_FOUND,
			    "no member '%s' in this team: see 'galley team "
			    "status'",
			    to);
	}
	if (insert(team, from, to, text) < 0)
		return err_set(err, ERR_FAILED, "cannot store the message: %s",
		    sqlite3_errmsg(galley_db.db));
	team_changed(team);
	team_msg_deliver(team, to);
	return 0;
}

void
team_msg_deliver(const char *team, const char *member)
{
	char *key;

	if (!settle_ready) {
		uv_timer_init(uv_default_loop(), &settle_timer);
		uv_unref((uv_handle_t *)&settle_timer);
		settle_ready = 1;
	}
	if (pending == NULL)
		pending = json_array();
	xasprintf(&key, "%s/%s", team, member);
	json_array_append_new(pending,
	    json_pack("{s:s, s:I}", "key", key, "at", (json_int_t)now_ms()));
	free(key);
	if (!uv_is_active((uv_handle_t *)&settle_timer))
		uv_timer_start(&settle_timer, settle_cb, 100, 100);
}

/* the brief's wait starts now; one more look when it is over */
static void
brief_wait(const char *team, const char *member, const char *sid)
{
	if (brief_clock == NULL)
		brief_clock = json_object();
	json_object_set_new(brief_clock, sid, json_integer(wall_ms()));
	team_msg_deliver(team, member);
	json_array_append_new(pending,
	    json_pack("{s:s++, s:I}", "key", team, "/", member, "at",
	        (json_int_t)(now_ms() + BRIEF_WAIT_MS)));
}

void
team_msg_brief(
    const char *team, const char *member, const char *sid, const char *text)
{
	const char *args[] = {text, team, member};

	if (team_exec(
	        "UPDATE members SET brief = ? WHERE team = ? AND name = ?",
	        args, 3, -1, NULL) < 0)
		log_error("team %s: cannot keep %s's first prompt: %s", team,
		    member, sqlite3_errmsg(galley_db.db));
	brief_wait(team, member, sid);
}

void
team_msg_started(const char *team, const char *member, const char *sid)
{
	json_object_del(tools_up, sid); /* a new process: a new server */
	if (json_object_get(brief_clock, sid))
		brief_wait(team, member, sid);
}

void
team_msg_ready(const char *team, const char *member, const char *sid)
{
	if (tools_up == NULL)
		tools_up = json_object();
	json_object_set_new(tools_up, sid, json_true());
	team_msg_deliver(team, member);
}

/* The member's held first prompt, typed if its tools are up (or the wait
 * is over) and no dialog is in the way. 1: a brief is still held or was
 * just typed, so no message goes before it; 0: there is none. */
static int
deliver_brief(const char *team, const char *member, struct session *s,
    const struct executor *ex)
{
	static const char sql[] = "SELECT brief FROM members WHERE team = ? "
	                          "AND name = ? AND brief IS NOT NULL";
	sqlite3_stmt *st = store_stmt(&galley_db, sql);

	if (st == NULL)
		return 0;
	store_bind_text(st, 1, team);
	store_bind_text(st, 2, member);
	if (sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_reset(st);
		return 0;
	}
	char *brief = xstrdup(store_col_text(st, 0));
	sqlite3_reset(st);
	int up = json_object_get(tools_up, s->id) != NULL;
	json_t *clock = json_object_get(brief_clock, s->id);
	int64_t since = clock ? json_integer_value(clock) : s->created_at;
	if (s->state == SESSION_BLOCKED || s->state == SESSION_QUEUED ||
	    session_terminal(s) || (!up && wall_ms() - since < BRIEF_WAIT_MS))
		goto out;
	if (ex->input(s, brief) == 0) {
		const char *args[] = {team, member};
		if (!up)
			log_warn("team %s: %s's first prompt typed without "
			         "galley's tools: its MCP server never came up",
			    team, member);
		json_object_del(tools_up, s->id);
		json_object_del(brief_clock, s->id);
		team_exec("UPDATE members SET brief = NULL WHERE team = ? AND "
		          "name = ?",
		    args, 2, -1, NULL);
	}
out:
	free(brief);
	return 1;
}

/* The oldest message waiting for member, typed into its terminal if it is
 * idle now. */
static void
deliver_now(const char *team, const char *member)
{
	static const char sql[] =
	    "SELECT seq, sender, text FROM messages WHERE team = ? AND "
	    "recipient = ? AND delivered_at IS NULL ORDER BY seq LIMIT 1";
	static const char done_sql[] =
	    "UPDATE messages SET delivered_at = ? WHERE seq = ?";
	char sid[16];
	struct session *s;
	sqlite3_stmt *st;

	if (!team_member_session(team, member, sid, sizeof sid) ||
	    (s = session_find_id(sid)) == NULL)
		return;
	const struct executor *ex = executor_find(s->executor);
	if (ex == NULL || ex->input == NULL ||
	    deliver_brief(team, member, s, ex) || s->state != SESSION_IDLE ||
	    (st = store_stmt(&galley_db, sql)) == NULL)
		return;
	store_bind_text(st, 1, team);
	store_bind_text(st, 2, member);
	if (sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_reset(st);
		return;
	}
	long long seq = sqlite3_column_int64(st, 0);
	char *line;
	/* one line: a newline would be typed as Enter mid-message */
	xasprintf(&line, "[galley] message from %s: %s",
	    (const char *)sqlite3_column_text(st, 1),
	    (const char *)sqlite3_column_text(st, 2));
	sqlite3_reset(st);
	for (char *p = line; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	if (ex->input(s, line) == 0 &&
	    (st = store_stmt(&galley_db, done_sql)) != NULL) {
		sqlite3_bind_int64(st, 1, wall_ms());
		sqlite3_bind_int64(st, 2, seq);
		if (sqlite3_step(st) != SQLITE_DONE)
			log_error("team %s: message %lld: %s", team, seq,
			    sqlite3_errmsg(galley_db.db));
		sqlite3_reset(st);
		team_changed(team);
	}
	free(line);
}

json_t *
team_msg_list(const char *team, const char *member)
{
	static const char all_sql[] =
	    "SELECT seq, sender, recipient, text, created_at, delivered_at "
	    "FROM messages WHERE team = ? ORDER BY seq";
	static const char one_sql[] =
	    "SELECT seq, sender, recipient, text, created_at, delivered_at "
	    "FROM messages WHERE team = ? AND (recipient = ? OR sender = ?) "
	    "ORDER BY seq";
	sqlite3_stmt *st = store_stmt(&galley_db, member ? one_sql : all_sql);
	json_t *out = json_array();

	if (st == NULL)
		return out;
	store_bind_text(st, 1, team);
	if (member) {
		store_bind_text(st, 2, member);
		store_bind_text(st, 3, member);
	}
	while (sqlite3_step(st) == SQLITE_ROW) {
		json_t *m = json_pack("{s:I, s:s, s:s, s:s, s:I}", "seq",
		    (json_int_t)sqlite3_column_int64(st, 0), "from",
		    (const char *)sqlite3_column_text(st, 1), "to",
		    (const char *)sqlite3_column_text(st, 2), "text",
		    (const char *)sqlite3_column_text(st, 3), "at",
		    (json_int_t)sqlite3_column_int64(st, 4));
		json_object_set_new(m, "delivered",
		    json_boolean(sqlite3_column_type(st, 5) != SQLITE_NULL));
		json_array_append_new(out, m);
	}
	sqlite3_reset(st);
	return out;
}

int
team_msg_waiting(const char *team)
{
	static const char sql[] =
	    "SELECT count(*) FROM messages WHERE team = ? AND delivered_at IS "
	    "NULL AND recipient != 'user'";
	sqlite3_stmt *st = store_stmt(&galley_db, sql);
	int n = 0;

	if (st == NULL)
		return 0;
	store_bind_text(st, 1, team);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int(st, 0);
	sqlite3_reset(st);
	return n;
}
