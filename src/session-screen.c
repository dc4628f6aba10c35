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
#include "server.h"
#include "session.h"
#include "util.h"
#include "xmalloc.h"

#define SCREEN_AFTER_MS 8000
#define SCREEN_GIVE_UP_MS 30000
#define SCREEN_TICK_MS 2000

static const struct {
	const char *pattern, *what;
} dialogs[] = {
    {"trust this folder", "claude asks whether to trust the folder"},
    {"Detected a custom API key",
        "claude asks whether to use the API key in ANTHROPIC_API_KEY"},
    {"Bypass Permissions mode",
        "claude asks to accept bypass-permissions mode"},
    {"Select login method", "claude asks to log in"},
    {"Choose the text style", "claude onboarding asks for a theme"},
};

static uv_timer_t tick;
static int tick_init;

static int
watched(struct session *s)
{
	return strcmp(s->runtime, "claude") == 0 &&
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
	if (strcmp(s->runtime, "claude") != 0)
		return;
	if (!tick_init) {
		uv_timer_init(uv_default_loop(), &tick);
		uv_unref((uv_handle_t *)&tick);
		tick_init = 1;
	}
	if (!uv_is_active((uv_handle_t *)&tick))
		uv_timer_start(&tick, tick_cb, SCREEN_TICK_MS, SCREEN_TICK_MS);
}

/* An API retry on the screen: interactive claude's status line, or a
 * headless run's {"type":"system","subtype":"api_retry",...} line, which
 * the screen may have wrapped anywhere. */
static int
retrying(const char *scr)
{
	struct buf b = BUF_INIT;
	int found;

	if (strstr(scr, "Retrying in") && strstr(scr, "attempt"))
		return 1;
	for (const char *p = scr; *p; p++)
		if (*p != '\n')
			buf_addc(&b, *p);
	buf_addc(&b, '\0');
	found = strstr(b.data, "\"subtype\":\"api_retry\"") != NULL;
	buf_release(&b);
	return found;
}

void
session_on_screen(struct session *s, const char *scr)
{
	char wait[512], line[200];

	if (!watched(s) || scr == NULL)
		return;
	if (s->state == SESSION_WORKING) {
		if (retrying(scr)) {
			s->retry_seen = 1; /* once, until its next hook */
			session_policy_rate_limited(s, "api_retry");
		}
		return;
	}
	for (size_t i = 0; i < sizeof dialogs / sizeof dialogs[0]; i++)
		if (strstr(scr, dialogs[i].pattern)) {
			snprintf(wait, sizeof wait, "%s", dialogs[i].what);
			if (i == 0)
				snprintf(wait, sizeof wait, "%s %s",
				    dialogs[i].what, s->cwd);
			log_info("session %s: hooks silent, screen shows: %s",
			    s->id, wait);
			session_set_state(s, SESSION_BLOCKED, wait,
			    "read from the screen: claude's hooks are silent");
			return;
		}
	if (wall_ms() - s->updated_at < SCREEN_GIVE_UP_MS)
		return;
	last_text_line(scr, line, sizeof line);
	snprintf(wait, sizeof wait,
	    "no word from claude's hooks for %d s; its screen ends with: %s",
	    SCREEN_GIVE_UP_MS / 1000, line[0] ? line : "(blank)");
	session_set_state(s, SESSION_BLOCKED, wait,
	    "read from the screen: claude's hooks are silent");
}
