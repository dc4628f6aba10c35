/* Holds (issue 8): a spent budget or a runaway keeps a live session
 * blocked; its hooks meanwhile only record the state they would set, and
 * a release puts it back in that state. */
#include <stdlib.h>
#include <string.h>

#include "session-hold.h"
#include "session.h"
#include "xmalloc.h"

void
session_hold(struct session *s, int kind, const char *wait, const char *reason)
{
	if (s->hold == kind && !s->pass && s->waiting_for &&
	    strcmp(s->waiting_for, wait) == 0)
		return;
	if (s->hold == HOLD_NONE) {
		free(s->held_wait);
		s->held_state = s->state;
		s->held_wait = s->waiting_for ? xstrdup(s->waiting_for) : NULL;
	}
	s->hold = kind;
	s->pass = 0;
	session_set_state(s, SESSION_BLOCKED, wait, reason);
}

/* Back to the state its hooks reported meanwhile. */
void
session_release(struct session *s)
{
	/* what its hooks said meanwhile; a hold from before any (a daemon
	 * restart) goes back to idle */
	enum session_state st =
	    state_table[s->held_state].live ? s->held_state : SESSION_IDLE;

	s->hold = HOLD_NONE;
	s->pass = 0;
	if (st == SESSION_BLOCKED && s->held_wait == NULL)
		st = SESSION_IDLE;
	if (session_live(s))
		session_set_state(
		    s, st, st == SESSION_BLOCKED ? s->held_wait : NULL, NULL);
	free(s->held_wait);
	s->held_state = SESSION_IDLE;
	s->held_wait = NULL;
}
