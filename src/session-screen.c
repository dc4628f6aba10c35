/*
 * The screen as a fallback (DESIGN §3): state comes from hooks, but a
 * claude that has not sent its first hook SCREEN_AFTER_MS after starting
 * may be held by a dialog galley did not foresee (one shown before hooks
 * load). The daemon then asks the host for the screen and matches the
 * dialogs it knows; the session shows `blocked` naming the dialog, and the
 * reason says it was read from the screen. A screen it does not know
 * blocks it too after SCREEN_GIVE_UP_MS, quoting the screen's last line,
 * rather than leaving it `starting` with no word.
 *
 * While claude works, its retries of a failing API call (429, 529, 5xx)
 * send no hook either; only its screen says "Retrying in Ns · attempt
 * N/10" (a headless run: an api_retry line). A working claude whose hooks
 * are silent as long is read too, and
 * the first retry seen holds new starts for its provider
 * (session-policy.c), minutes before claude gives up (StopFailure).
 */
#include <string.h>

#include "buf.h"
#include "executor.h"
#include "log.h"
#include "runtime.h"
#include "server.h"
#include "session-policy.h"
#include "session-screen.h"
#include "session.h"
#include "util.h"
#include "xmalloc.h"

#define SCREEN_AFTER_MS 8000
#define SCREEN_GIVE_UP_MS 30000
#define SCREEN_TICK_MS 2000

static uv_timer_t tick;
static int tick_init;

/* A runtime whose driver knows what its screen shows. */
static const struct runtime *
screen_runtime(struct session *s)
{
	const struct runtime *rt = runtime_find(s->runtime);

	return rt && rt->dialogs ? rt : NULL;
}

static int
watched(struct session *s)
{
	return screen_runtime(s) != NULL &&
	    (s->state == SESSION_STARTING ||
	        (s->state == SESSION_WORKING && !s->retry_seen));
}

static void
tick_cb(uv_timer_t *t)
{
	struct session *s;
	int more = 0;
	int64_t now = wall_ms();

	TAILQ_FOREACH(s, &session_table, entry) {
		if (!watched(s))
			continue;
		more = 1;
		if (now - s->updated_at >= SCREEN_AFTER_MS)
			executor_find(s->executor)->peek(s);
	}
	if (!more)
		uv_timer_stop(t);
}

static void
screen_observe(struct session *s, const struct session_change *ch, void *arg)
{
	int now = s->state;

	/* hooks may stay silent: before the first one, and during API
	 * retries, which show only on the screen */
	if (ch->kind == SESSION_CHANGE_STATE &&
	    (now == SESSION_STARTING || now == SESSION_WORKING))
		session_watch_screen(s);
}

void
session_screen_init(void)
{
	session_observe(screen_observe, NULL);
}

void
session_watch_screen(struct session *s)
{
	if (screen_runtime(s) == NULL)
		return;
	if (!tick_init) {
		uv_timer_init(uv_default_loop(), &tick);
		uv_unref((uv_handle_t *)&tick);
		tick_init = 1;
	}
	if (!uv_is_active((uv_handle_t *)&tick))
		uv_timer_start(&tick, tick_cb, SCREEN_TICK_MS, SCREEN_TICK_MS);
}

void
session_on_screen(struct session *s, const char *scr)
{
	const struct runtime *rt = screen_runtime(s);
	const struct runtime_dialog *d;
	char wait[512], line[200], why[128];

	if (!watched(s) || scr == NULL)
		return;
	snprintf(why, sizeof why, "read from the screen: %s's hooks are silent",
	    s->runtime);
	if (s->state == SESSION_WORKING) {
		if (rt->retrying && rt->retrying(scr)) {
			s->retry_seen = 1; /* once, until its next hook */
			session_policy_rate_limited(s, "api_retry");
		}
		return;
	}
	for (d = rt->dialogs; d->pattern; d++)
		if (strstr(scr, d->pattern)) {
			snprintf(wait, sizeof wait, "%s%s%s", d->what,
			    d->with_cwd ? " " : "", d->with_cwd ? s->cwd : "");
			log_info("session %s: hooks silent, screen shows: %s",
			    s->id, wait);
			session_set_state(s, SESSION_BLOCKED, wait, why);
			return;
		}
	if (wall_ms() - s->updated_at < SCREEN_GIVE_UP_MS)
		return;
	last_text_line(scr, line, sizeof line);
	snprintf(wait, sizeof wait,
	    "no word from %s's hooks for %d s; its screen ends with: %s",
	    s->runtime, SCREEN_GIVE_UP_MS / 1000, line[0] ? line : "(blank)");
	session_set_state(s, SESSION_BLOCKED, wait, why);
}
