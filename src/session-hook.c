/*
 * Hook events to states (DESIGN §3, §6). State comes from the runtime's own
 * hooks, never from scraping its screen:
 *   SessionStart, UserPromptSubmit, PreToolUse, PostToolUse -> working
 *   PermissionRequest, Notification(permission_prompt) -> blocked: permission
 *   Notification(elicitation_dialog) -> blocked: input
 *   Stop -> idle (turn finished: ready for review)
 *   StopFailure -> blocked: "retry: <the API error>" (the turn died)
 * Every payload is appended to `events`. Usage is read from the transcript
 * the payload names, deduplicated by message id.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "prices.h"
#include "server.h"
#include "session-children.h"
#include "session-hook.h"
#include "transcript.h"
#include "hook-payload.h"
#include "session-policy.h"
#include "session.h"
#include "util.h"
#include "xmalloc.h"

#define TRANSCRIPT_READ_MAX (64u * 1024 * 1024)

/* One upsert into usage (day NULL) or usage_daily: the same columns after
 * the day. */
static void
usage_row(const char *sql, const char *day, const char *id, const char *model,
    const long long n[4], double cost)
{
	sqlite3_stmt *st = store_stmt(&galley_db, sql);
	int i = 1;

	if (st == NULL)
		return;
	if (day)
		sqlite3_bind_text(st, i++, day, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, i++, id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, i++, model, -1, SQLITE_TRANSIENT);
	for (int k = 0; k < 4; k++)
		sqlite3_bind_int64(st, i++, n[k]);
	sqlite3_bind_double(st, i, cost);
	sqlite3_step(st);
	sqlite3_reset(st);
}

/* 1 when the message was new and counted */
static int
add_usage(struct session *s, const struct transcript_usage *u)
{
	static const char seen_sql[] =
	    "INSERT OR IGNORE INTO usage_seen (session, message_id) "
	    "VALUES (?, ?)";
	static const char add_sql[] =
	    "INSERT INTO usage (session, model, input_tokens, output_tokens,"
	    " cache_read_tokens, cache_write_tokens, cost_usd)"
	    " VALUES (?,?,?,?,?,?,?) ON CONFLICT(session, model) DO UPDATE SET"
	    " input_tokens = input_tokens + excluded.input_tokens,"
	    " output_tokens = output_tokens + excluded.output_tokens,"
	    " cache_read_tokens = cache_read_tokens + excluded.cache_read_tokens,"
	    " cache_write_tokens = cache_write_tokens + "
	    "excluded.cache_write_tokens,"
	    " cost_usd = cost_usd + excluded.cost_usd";
	static const char day_sql[] =
	    "INSERT INTO usage_daily (day, session, model, input_tokens,"
	    " output_tokens, cache_read_tokens, cache_write_tokens, cost_usd)"
	    " VALUES (?,?,?,?,?,?,?,?) ON CONFLICT(day, session, model) DO"
	    " UPDATE SET input_tokens = input_tokens + excluded.input_tokens,"
	    " output_tokens = output_tokens + excluded.output_tokens,"
	    " cache_read_tokens = cache_read_tokens + "
	    "excluded.cache_read_tokens,"
	    " cache_write_tokens = cache_write_tokens + "
	    "excluded.cache_write_tokens,"
	    " cost_usd = cost_usd + excluded.cost_usd";
	sqlite3_stmt *st = store_stmt(&galley_db, seen_sql);
	long long in, out, cr, cw;
	double cost;

	if (st == NULL)
		return 0;
	sqlite3_bind_text(st, 1, s->id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, u->id, -1, SQLITE_TRANSIENT);
	sqlite3_step(st);
	sqlite3_reset(st);
	if (sqlite3_changes(galley_db.db) == 0)
		return 0; /* this message was counted already */
	in = u->n[0];
	out = u->n[1];
	cr = u->n[2];
	cw = u->n[3];
	cost = price_cost(u->model, in, out, cr, cw);
	char day[11];
	iso_day(wall_ms(), day);
	usage_row(add_sql, NULL, s->id, u->model, u->n, cost);
	usage_row(day_sql, day, s->id, u->model, u->n, cost);
	s->usage.input += in;
	s->usage.output += out;
	s->usage.cache_read += cr;
	s->usage.cache_write += cw;
	s->usage.cost += cost;
	session_uncache(s);
	session_policy_count(s, cost, in + out + cr + cw);
	return 1;
}

static void
read_lines(struct session *s, FILE *f, long long *off)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int counted = 0;

	store_begin(&galley_db);
	while ((n = getline(&line, &cap, f)) > 0) {
		if (line[n - 1] != '\n')
			break;
		*off += n;
		json_t *e = json_loadb(line, (size_t)n, 0, NULL);
		struct transcript_usage u;
		if (transcript_usage(e, &u))
			counted += add_usage(s, &u);
		json_decref(e);
	}
	store_commit(&galley_db);
	free(line);
	if (counted)
		session_policy_usage(s, counted);
}

static FILE *
open_transcript(const char *path, struct stat *st)
{
	if (path == NULL || path[0] != '/' || stat(path, st) != 0 ||
	    !S_ISREG(st->st_mode) || st->st_uid != getuid() ||
	    st->st_size > (off_t)TRANSCRIPT_READ_MAX)
		return NULL;
	return fopen(path, "re");
}

/* A whole transcript beside the main one (a subagent's); message ids
 * already counted are skipped, so reading it again is harmless. */
void
session_read_transcript_once(struct session *s, const char *path)
{
	struct stat st;
	long long off = 0;
	FILE *f = open_transcript(path, &st);

	if (f == NULL)
		return;
	read_lines(s, f, &off);
	fclose(f);
}

/* Read transcript lines added since last time. Only whole lines count; a
 * partial last line is read again next time. */
void
session_read_transcript(struct session *s, const char *path)
{
	struct stat st;
	FILE *f;

	if (path == NULL || path[0] != '/' || stat(path, &st) != 0)
		return;
	if (s->transcript_path == NULL ||
	    strcmp(s->transcript_path, path) != 0) {
		free(s->transcript_path);
		s->transcript_path = xstrdup(path);
		s->transcript_off = 0;
		session_touch(s); /* kept: restart resumes from it */
	}
	if (st.st_size <= s->transcript_off)
		return;
	f = open_transcript(path, &st);
	if (f == NULL)
		return;
	if (fseeko(f, s->transcript_off, SEEK_SET) == 0)
		read_lines(s, f, &s->transcript_off);
	fclose(f);
}

/* claude appends a turn's last lines to its transcript after the hook
 * that reports it has run, so a transcript is read again a few times
 * after each hook: every 250 ms, four times. */
static uv_timer_t recheck_timer;
static int recheck_init;

static void
recheck_cb(uv_timer_t *t)
{
	struct session *s;
	int more = 0;

	TAILQ_FOREACH(s, &session_table, entry) {
		if (s->recheck <= 0)
			continue;
		s->recheck--;
		more |= s->recheck > 0;
		if (s->transcript_path) {
			double before = s->usage.cost;
			long long out = s->usage.output;
			session_read_transcript(s, s->transcript_path);
			if (before != s->usage.cost || out != s->usage.output)
				session_touch(s);
		}
	}
	if (!more)
		uv_timer_stop(t);
}

void
session_recheck_transcript(struct session *s)
{
	if (s->transcript_path == NULL)
		return;
	s->recheck = 4;
	if (!recheck_init) {
		uv_timer_init(uv_default_loop(), &recheck_timer);
		uv_unref((uv_handle_t *)&recheck_timer);
		recheck_init = 1;
	}
	if (!uv_is_active((uv_handle_t *)&recheck_timer))
		uv_timer_start(&recheck_timer, recheck_cb, 250, 250);
}

/* A permission prompt (when no PermissionRequest came first) or a
 * question blocks it; other notifications change nothing. */
static void
on_notification(struct session *s, json_t *payload)
{
	const char *type =
	    json_string_value(json_object_get(payload, "notification_type"));
	const char *msg =
	    json_string_value(json_object_get(payload, "message"));
	char *wait = NULL;

	if (type && strcmp(type, "permission_prompt") == 0) {
		if (s->state != SESSION_BLOCKED) {
			xasprintf(&wait, "permission: %s",
			    s->last_tool ? s->last_tool : "tool");
			session_hook_state(s, SESSION_BLOCKED, wait, NULL);
		}
	} else if (type && strcmp(type, "elicitation_dialog") == 0) {
		xasprintf(&wait, "input: %.200s", msg ? msg : "question");
		session_hook_state(s, SESSION_BLOCKED, wait, NULL);
	} else
		session_touch(s);
	free(wait);
}

/* The turn died on an API error: the agent waits for a retry, so the user
 * must hear why; a rate limit holds new starts too. */
static void
on_stop_failure(struct session *s, json_t *payload)
{
	const char *e = json_string_value(json_object_get(payload, "error"));
	const char *m = json_string_value(
	    json_object_get(payload, "last_assistant_message"));
	char *wait;

	if (e && (strcmp(e, "rate_limit") == 0 || strcmp(e, "overloaded") == 0))
		session_policy_rate_limited(s, e);
	xasprintf(&wait, "retry: %.300s", m ? m : e ? e : "API error");
	session_hook_state(s, SESSION_BLOCKED, wait, e ? e : "API error");
	free(wait);
}

int
session_on_hook(struct session *s, const char *event, json_t *payload,
    json_t *reply, struct err *err)
{
	char kind[96], *label = NULL, *wait = NULL;
	const char *tp;

	snprintf(kind, sizeof kind, "hook.%s", event);
	s->updated_at = wall_ms();
	s->retry_seen = 0;
	session_event(s, kind, payload);
	/* its subagents and background tasks, even late: a subagent's
	 * stop may come after its session's */
	session_children_hook(s, event, payload);
	if (session_terminal(s))
		return 0; /* late hooks of an ended session: recorded only */
	tp = json_string_value(json_object_get(payload, "transcript_path"));
	if (tp) {
		session_read_transcript(s, tp);
		session_recheck_transcript(s);
	}
	const char *rsid =
	    json_string_value(json_object_get(payload, "session_id"));
	if (rsid && strlen(rsid) < 128 &&
	    (s->runtime_session_id == NULL ||
	        strcmp(rsid, s->runtime_session_id) != 0)) {
		free(s->runtime_session_id);
		s->runtime_session_id = xstrdup(rsid);
	}

	if (session_policy_hook(s, event, payload, reply))
		return 0; /* held: the hook was denied, the state stays */
	if (strcmp(event, "PostToolUse") == 0 && hook_tool_edits(payload))
		session_notify(s, SESSION_CHANGE_EDIT);
	if (strcmp(event, "SessionStart") == 0 ||
	    strcmp(event, "UserPromptSubmit") == 0 ||
	    strcmp(event, "PostToolUse") == 0 ||
	    strcmp(event, "PostToolBatch") == 0 ||
	    strcmp(event, "SubagentStart") == 0) {
		session_hook_state(s, SESSION_WORKING, NULL, NULL);
	} else if (strcmp(event, "PreToolUse") == 0) {
		free(s->last_tool);
		s->last_tool = hook_tool_label(payload);
		session_hook_state(s, SESSION_WORKING, NULL, NULL);
	} else if (strcmp(event, "PermissionRequest") == 0) {
		label = hook_tool_label(payload);
		xasprintf(&wait, "permission: %s",
		    label              ? label
		        : s->last_tool ? s->last_tool
		                       : "tool");
		session_hook_state(s, SESSION_BLOCKED, wait, NULL);
	} else if (strcmp(event, "Notification") == 0) {
		on_notification(s, payload);
	} else if (strcmp(event, "Stop") == 0) {
		session_hook_state(s, SESSION_IDLE, NULL, NULL);
	} else if (strcmp(event, "StopFailure") == 0) {
		on_stop_failure(s, payload);
	} else if (strcmp(event, "SubagentStop") == 0) {
		/* a subagent's turns are in a file of their own */
		session_read_transcript_once(s,
		    json_string_value(
		        json_object_get(payload, "agent_transcript_path")));
		session_touch(s);
	} else {
		session_touch(s);
	}
	free(label);
	free(wait);
	(void)err;
	return 0;
}

/* An ended session's transcript has lines written after its last hook. */
static void
hook_observe(struct session *s, const struct session_change *ch, void *arg)
{
	int now = s->state;

	if (ch->kind == SESSION_CHANGE_STATE && state_table[now].terminal &&
	    !(ch->old >= 0 && state_table[ch->old].terminal) &&
	    s->transcript_path) {
		session_read_transcript(s, s->transcript_path);
		session_children_reread(s, 1);
	}
}

void
session_hook_observe(void)
{
	session_observe(hook_observe, NULL);
}
