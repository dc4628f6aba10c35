/*
 * What runs inside a session besides its main agent: claude's subagents
 * and the Bash commands it started in the background, kept as child
 * nodes of the session (s->children: id -> node) for `ls --tree`, the
 * view and the orphaned-work flag. All from the hooks
 * (shared/notes/claude-cli.md §5):
 *
 *   SubagentStart {agent_id, agent_type}            a subagent, running
 *   PreToolUse {agent_id, tool_name, tool_input}    the tool it uses now
 *   SubagentStop {agent_id, agent_transcript_path,  done: its last message,
 *                 last_assistant_message}           its usage from its file
 *   PreToolUse Bash {run_in_background: true}       a background task
 *   PostToolUse of it {tool_response}               the task's own id
 *   Stop {background_tasks}                         which tasks still run
 *
 * A subagent also shows up without its SubagentStart (its first
 * PreToolUse), since that hook's delivery is not verified.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "prices.h"
#include "session-children.h"
#include "transcript.h"
#include "hook-payload.h"
#include "session-hook.h"
#include "session.h"
#include "util.h"
#include "xmalloc.h"

/* a session keeps its latest this many children */
#define CHILDREN_MAX 256
#define LAST_MESSAGE_MAX 2000
#define SUBAGENT_FILE_MAX (64u * 1024 * 1024)

static json_t *
child_get(struct session *s, const char *id, const char *kind)
{
	json_t *c;

	if (s->children == NULL)
		s->children = json_object();
	if ((c = json_object_get(s->children, id)) != NULL)
		return c;
	if (json_object_size(s->children) >= CHILDREN_MAX)
		session_children_trim(s);
	c = json_pack("{s:s, s:s, s:s, s:I}", "id", id, "kind", kind, "state",
	    "running", "started_at", (json_int_t)wall_ms());
	json_object_set_new(s->children, id, c);
	return c;
}

/* Drop the oldest ended children: a session that ran thousands of
 * tasks keeps the latest. */
void
session_children_trim(struct session *s)
{
	while (json_object_size(s->children) >= CHILDREN_MAX) {
		const char *k, *oldest = NULL;
		json_int_t at = 0;
		json_t *c;
		json_object_foreach(s->children, k, c)
		{
			json_int_t t = json_integer_value(
			    json_object_get(c, "started_at"));
			const char *st =
			    json_string_value(json_object_get(c, "state"));
			if (st && strcmp(st, "running") != 0 &&
			    (oldest == NULL || t < at)) {
				oldest = k;
				at = t;
			}
		}
		if (oldest == NULL)
			break; /* all running: keep them */
		json_object_del(s->children, oldest);
	}
}

static void
set_str(json_t *c, const char *key, const char *v, size_t max)
{
	if (v == NULL)
		return;
	size_t n = strlen(v);
	json_t *j = json_stringn(v, n > max ? max : n);
	json_object_set_new(c, key, j ? j : json_string(""));
}

static void
end_child(json_t *c, const char *state)
{
	json_object_set_new(c, "state", json_string(state));
	json_object_set_new(c, "ended_at", json_integer(wall_ms()));
	json_object_del(c, "tool");
}

/* A subagent's own tokens and cost, from its transcript (usage taken
 * once per message id, as for the session's). */
static void
subagent_usage(json_t *c, const char *path)
{
	struct stat st;
	json_t *seen = json_object();
	long long n[4] = {0, 0, 0, 0};
	double cost = 0;
	char *line = NULL;
	size_t cap = 0;
	FILE *f;

	if (path == NULL || path[0] != '/' || stat(path, &st) != 0 ||
	    !S_ISREG(st.st_mode) || st.st_size > (off_t)SUBAGENT_FILE_MAX ||
	    (f = fopen(path, "re")) == NULL)
		goto out;
	while (getline(&line, &cap, f) > 0) {
		json_t *e = json_loads(line, 0, NULL);
		struct transcript_usage u;
		if (transcript_usage(e, &u) &&
		    json_object_get(seen, u.id) == NULL) {
			for (int k = 0; k < 4; k++)
				n[k] += u.n[k];
			cost +=
			    price_cost(u.model, u.n[0], u.n[1], u.n[2], u.n[3]);
			json_object_set_new(seen, u.id, json_true());
		}
		json_decref(e);
	}
	fclose(f);
out:
	json_object_set_new(c, "usage",
	    json_pack("{s:I, s:I, s:I, s:I, s:f}", "input_tokens",
	        (json_int_t)n[0], "output_tokens", (json_int_t)n[1],
	        "cache_read_tokens", (json_int_t)n[2], "cache_write_tokens",
	        (json_int_t)n[3], "cost_usd", cost));
	free(line);
	json_decref(seen);
}

static int
usage_seen(json_t *c)
{
	json_t *u = json_object_get(c, "usage");

	return json_integer_value(json_object_get(u, "input_tokens")) +
	    json_integer_value(json_object_get(u, "output_tokens")) >
	    0;
}

/* The background task a Stop's entry names: by its id, else its command. */
static json_t *
task_for(struct session *s, json_t *entry)
{
	static const char *const ids[] = {
	    "id", "task_id", "shell_id", "bash_id", "backgroundTaskId"};
	const char *id = json_string_value(entry), *cmd = NULL;
	const char *k;
	json_t *c;

	for (size_t i = 0; id == NULL && i < nitems(ids); i++)
		id = json_string_value(json_object_get(entry, ids[i]));
	cmd = json_string_value(json_object_get(entry, "command"));
	json_object_foreach(s->children, k, c)
	{
		const char *tid =
		    json_string_value(json_object_get(c, "task_id"));
		const char *tc =
		    json_string_value(json_object_get(c, "command"));
		if ((id &&
		        ((tid && strcmp(tid, id) == 0) ||
		            strcmp(k, id) == 0)) ||
		    (id == NULL && cmd && tc && strcmp(cmd, tc) == 0))
			return c;
	}
	if (id == NULL && cmd == NULL)
		return NULL;
	/* one claude started without our seeing it (a resumed session) */
	c = child_get(s, id ? id : cmd, "task");
	set_str(c, "command", cmd ? cmd : id, 400);
	return c;
}

/* Stop's background_tasks: those listed still run, the rest ended. */
static void
stop_tasks(struct session *s, json_t *list)
{
	json_t *still = json_array(), *e, *c;
	const char *k;
	size_t i;

	json_array_foreach(list, i, e)
	{
		if ((c = task_for(s, e)) != NULL)
			json_array_append(still, c);
	}
	json_object_foreach(s->children, k, c)
	{
		const char *kind =
		    json_string_value(json_object_get(c, "kind"));
		const char *st = json_string_value(json_object_get(c, "state"));
		int listed = 0;
		json_array_foreach(still, i, e) listed |= e == c;
		if (kind && strcmp(kind, "task") == 0 && st &&
		    strcmp(st, "running") == 0 && !listed)
			end_child(c, "done");
	}
	json_decref(still);
}

static int
is_true(json_t *o, const char *key)
{
	return json_is_true(json_object_get(o, key));
}

void
session_children_hook(struct session *s, const char *event, json_t *payload)
{
	const char *aid =
	    json_string_value(json_object_get(payload, "agent_id"));
	const char *atype =
	    json_string_value(json_object_get(payload, "agent_type"));
	const char *tool =
	    json_string_value(json_object_get(payload, "tool_name"));
	const char *tuid =
	    json_string_value(json_object_get(payload, "tool_use_id"));
	json_t *in = json_object_get(payload, "tool_input"), *c;
	int bg = tool && strcmp(tool, "Bash") == 0 &&
	    is_true(in, "run_in_background");

	if (aid && strlen(aid) > 128)
		return;
	if (aid &&
	    (strcmp(event, "SubagentStart") == 0 ||
	        strcmp(event, "PreToolUse") == 0)) {
		c = child_get(s, aid, "subagent");
		set_str(c, "type", atype, 64);
		if (strcmp(event, "PreToolUse") == 0) {
			char *label = hook_tool_label(payload);
			set_str(c, "tool", label, 200);
			free(label);
		}
	} else if (aid && strcmp(event, "SubagentStop") == 0) {
		c = child_get(s, aid, "subagent");
		set_str(c, "type", atype, 64);
		end_child(c, "done");
		set_str(c, "last_message",
		    json_string_value(
		        json_object_get(payload, "last_assistant_message")),
		    LAST_MESSAGE_MAX);
		const char *tp = json_string_value(
		    json_object_get(payload, "agent_transcript_path"));
		set_str(c, "transcript_path", tp, 4096);
		subagent_usage(c, tp);
		if (tp && !usage_seen(c)) { /* read again at the next Stop */
			if (s->unread == NULL)
				s->unread = json_object();
			json_object_set_new(s->unread, aid, json_true());
		}
	} else if (aid == NULL && bg && tuid && strlen(tuid) <= 128 &&
	    strcmp(event, "PreToolUse") == 0) {
		c = child_get(s, tuid, "task");
		set_str(c, "command",
		    json_string_value(json_object_get(in, "command")), 400);
	} else if (aid == NULL && bg && tuid &&
	    strcmp(event, "PostToolUse") == 0 &&
	    (c = json_object_get(s->children, tuid)) != NULL) {
		json_t *r = json_object_get(payload, "tool_response");
		static const char *const ids[] = {
		    "backgroundTaskId", "shellId", "bash_id", "task_id"};
		for (size_t i = 0; i < nitems(ids); i++)
			set_str(c, "task_id",
			    json_string_value(json_object_get(r, ids[i])), 128);
	} else if (strcmp(event, "Stop") == 0 ||
	    strcmp(event, "SessionEnd") == 0) {
		json_t *bt = json_object_get(payload, "background_tasks");
		if (json_is_array(bt))
			stop_tasks(s, bt);
		session_children_reread(s, 0);
	} else
		return;
	session_touch(s);
	session_notify(s, SESSION_CHANGE_UPDATE);
}

/* Subagents' files are written after their SubagentStop: the ones whose
 * usage has not shown yet are read again at each Stop, and every one once
 * more at the end (all; the session's total takes a message once,
 * whatever the rereads). */
void
session_children_reread(struct session *s, int all)
{
	const char *k;
	json_t *c;
	int any = 0;

	json_object_foreach(s->children, k, c)
	{
		const char *tp =
		    json_string_value(json_object_get(c, "transcript_path"));
		if (tp == NULL || (!all && !json_object_get(s->unread, k)))
			continue;
		session_read_transcript_once(s, tp);
		subagent_usage(c, tp);
		if (usage_seen(c))
			json_object_del(s->unread, k);
		any = 1;
	}
	if (all)
		json_object_clear(s->unread);
	if (any)
		session_touch(s);
}

/* The session ended and nothing of it runs any more (session-strays.c
 * made sure): what was still running did not finish. */
void
session_children_end(struct session *s)
{
	const char *k;
	json_t *c;
	int any = 0;

	json_object_foreach(s->children, k, c)
	{
		const char *st = json_string_value(json_object_get(c, "state"));
		if (st && strcmp(st, "running") == 0) {
			end_child(c, "stopped");
			any = 1;
		}
	}
	if (any)
		session_touch(s);
}
