/*
 * Runaways (issue 8): the same tool call with the same input
 * runaway.repeat times in a row, more than runaway.maxTurns API replies
 * since the last prompt, or no hook and no transcript growth for
 * runaway.noProgressMinutes while working. Each holds the session,
 * blocked with the reason, until a reply. The rules are policy-rules.c's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy-rules.h"
#include "session-hold.h"
#include "session-runaway.h"
#include "session.h"
#include "settings-cache.h"
#include "util.h"
#include "xmalloc.h"

/* Count the call; 1 when it is the same as the last runaway.repeat - 1. */
static int
repeated(struct session *s, const char *tool, json_t *input)
{
	int limit = (int)settings_user_num("runaway.repeat", 5);
	char *in = json_dumps(input ? input : json_null(),
	    JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
	char *key;

	xasprintf(&key, "%s\x1f%s", tool, in ? in : "");
	free(in);
	if (s->repeat_key && strcmp(s->repeat_key, key) == 0) {
		s->repeat_n++;
		free(key);
	} else {
		free(s->repeat_key);
		s->repeat_key = key;
		s->repeat_n = 1;
	}
	return runaway_repeats(s->repeat_n, limit);
}

char *
session_runaway_call(struct session *s, const char *tool, json_t *input)
{
	char label[200], wait[300], *why;

	if (!repeated(s, tool, input))
		return NULL;
	const char *arg = json_string_value(json_object_get(input, "command"));
	if (arg == NULL)
		arg = json_string_value(json_object_get(input, "file_path"));
	snprintf(label, sizeof label, "%s%s%.120s%s", tool, arg ? "(" : "",
	    arg ? arg : "", arg ? ")" : "");
	snprintf(wait, sizeof wait, "runaway: %s %d times in a row", label,
	    s->repeat_n);
	xasprintf(&why,
	    "galley stopped a loop: %s was called %d times in a row with the "
	    "same input; a reply (galley send) lets it go on",
	    label, s->repeat_n);
	session_event_take(s, "runaway",
	    json_pack("{s:s, s:i}", "tool", label, "times", s->repeat_n));
	session_hold(s, HOLD_RUNAWAY, wait, why);
	return why;
}

void
session_runaway_turns(struct session *s, int messages)
{
	char wait[128];
	int max = (int)settings_user_num("runaway.maxTurns", 500);

	s->progress_at = wall_ms();
	s->turns += messages;
	if (runaway_turns(s->turns, max) && s->hold == HOLD_NONE &&
	    session_live(s)) {
		snprintf(wait, sizeof wait, "runaway: more than %d turns", max);
		session_event_take(
		    s, "runaway", json_pack("{s:i}", "turns", s->turns));
		session_hold(s, HOLD_RUNAWAY, wait,
		    "more API replies since the last prompt than "
		    "runaway.maxTurns allows: a reply (galley send) lets it "
		    "go on");
	}
}

void
session_runaway_tick(void)
{
	struct session *s;
	int64_t now = wall_ms();
	double mins = settings_user_num("runaway.noProgressMinutes", 20);
	char wait[128];

	TAILQ_FOREACH(s, &session_table, entry) {
		if (!session_is_agent(s) || s->hold != HOLD_NONE ||
		    s->state != SESSION_WORKING ||
		    !runaway_stalled(now, s->progress_at, mins))
			continue;
		snprintf(
		    wait, sizeof wait, "runaway: no progress for %g min", mins);
		session_event_take(s, "runaway",
		    json_pack("{s:f}", "no_progress_minutes", mins));
		session_hold(s, HOLD_RUNAWAY, wait,
		    "working, but no hook and no new transcript output for "
		    "runaway.noProgressMinutes: a reply (galley send) lets it "
		    "go on");
	}
}
