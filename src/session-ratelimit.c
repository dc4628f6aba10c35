/*
 * Rate limits (issue 8): a 429 or 529 seen by one session (StopFailure, a
 * headless result, an API retry on its screen) holds new starts for that
 * provider for rateLimit.backoffSeconds, doubling while they keep coming
 * (at most 10 minutes); then they start again one every
 * rateLimit.staggerSeconds. The provider is the runtime driver's. The
 * rules are policy-rules.c's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "policy-rules.h"
#include "runtime.h"
#include "server.h"
#include "session-ratelimit.h"
#include "session.h"
#include "settings-cache.h"
#include "util.h"
#include "xmalloc.h"

/* One hold per provider, made on the first hit. */
struct ratelimit {
	char *provider;
	struct rate_hold h;
	int seen; /* a session waited on it in this pass */
};
static struct ratelimit *rls;
static size_t nrls;
static uv_timer_t rl_timer;
static int rl_timer_ready;

static struct ratelimit *
ratelimit_of(struct session *s)
{
	const struct runtime *rt = runtime_find(s->runtime);
	const char *p = rt ? rt->provider : NULL;

	if (p == NULL)
		return NULL; /* jobs talk to no API */
	for (size_t i = 0; i < nrls; i++)
		if (strcmp(rls[i].provider, p) == 0)
			return &rls[i];
	rls = xrealloc(rls, (nrls + 1) * sizeof *rls);
	memset(&rls[nrls], 0, sizeof *rls);
	rls[nrls].provider = xstrdup(p);
	return &rls[nrls++];
}

static void
rl_timer_cb(uv_timer_t *t)
{
	(void)t;
	session_line_moved();
}

static void
rl_arm(int64_t at)
{
	int64_t now = wall_ms();
	uint64_t due = at > now ? (uint64_t)(at - now) : 0;

	if (!rl_timer_ready) {
		uv_timer_init(uv_default_loop(), &rl_timer);
		uv_unref((uv_handle_t *)&rl_timer);
		rl_timer_ready = 1;
	}
	if (uv_is_active((uv_handle_t *)&rl_timer) &&
	    uv_timer_get_due_in(&rl_timer) <= due)
		return;
	uv_timer_start(&rl_timer, rl_timer_cb, due + 5, 0);
}

void
session_ratelimit_hit(struct session *s, const char *kind)
{
	struct ratelimit *rl = ratelimit_of(s);
	double base = settings_user_num("rateLimit.backoffSeconds", 30) * 1000;

	if (rl == NULL || base <= 0)
		return;
	int64_t wait = rate_hit(&rl->h, wall_ms(), base);
	session_event_take(s, "ratelimit",
	    json_pack("{s:s, s:s, s:I}", "provider", rl->provider, "kind",
	        kind ? kind : "rate_limit", "hold_ms", (json_int_t)wait));
	json_t *ev = json_pack("{s:s, s:s, s:s, s:I}", "event", "ratelimit",
	    "provider", rl->provider, "session", s->id, "until_ms",
	    (json_int_t)rl->h.until);
	server_broadcast("session", ev);
	json_decref(ev);
	log_info("rate limit (%s) seen by %s: new starts held %.0f s",
	    rl->provider, s->id, (double)wait / 1000);
	rl_arm(rl->h.until);
}

/* 1 when its provider lets it start now; else 0 and why. */
int
session_ratelimit_may_start(struct session *s, char *why, size_t size)
{
	struct ratelimit *rl = ratelimit_of(s);
	char at[32];

	if (rl == NULL)
		return 1;
	switch (rate_may_start(&rl->h, wall_ms())) {
	case RATE_HELD:
		rl->seen = 1;
		iso_time(rl->h.until, at, sizeof at);
		snprintf(why, size,
		    "rate limit (%s): new starts held until %.8s UTC",
		    rl->provider, at + 11);
		rl_arm(rl->h.until);
		return 0;
	case RATE_STAGGER:
		rl->seen = 1;
		snprintf(why, size,
		    "rate limit (%s): starting again one at a time",
		    rl->provider);
		rl_arm(rl->h.next_start);
		return 0;
	default:
		rl->seen = rl->h.until != 0;
		return 1;
	}
}

void
session_ratelimit_started(struct session *s)
{
	struct ratelimit *rl = ratelimit_of(s);

	if (rl && rl->h.until)
		rl->h.next_start = wall_ms() +
		    (int64_t)(settings_user_num("rateLimit.staggerSeconds", 2) *
		        1000);
}

/* After a pass of the queue: a provider with nobody left waiting on it
 * is back to normal. */
void
session_ratelimit_pass_done(void)
{
	int64_t now = wall_ms();

	for (size_t i = 0; i < nrls; i++) {
		struct rate_hold *h = &rls[i].h;
		if (h->until && now >= h->until && !rls[i].seen &&
		    now >= h->next_start)
			h->until = h->next_start = 0;
		rls[i].seen = 0;
	}
}

/* A run that ended on a rate limit (its result's api_error_status) holds
 * new starts for its provider like one seen in a hook. */
static void
ratelimit_observe(struct session *s, const struct session_change *ch, void *arg)
{
	json_t *res;
	json_int_t status;

	if (ch->kind != SESSION_CHANGE_STATE ||
	    !state_table[s->state].terminal ||
	    (ch->old >= 0 && state_table[ch->old].terminal) ||
	    s->result == NULL)
		return;
	res = json_loads(s->result, 0, NULL);
	status = json_integer_value(json_object_get(res, "api_error_status"));
	json_decref(res);
	if (status == 429 || status == 529)
		session_ratelimit_hit(
		    s, status == 429 ? "rate_limit" : "overloaded");
}

void
session_ratelimit_observe(void)
{
	session_observe(ratelimit_observe, NULL);
}
