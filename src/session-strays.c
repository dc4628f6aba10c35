/*
 * Nothing of a session runs on after galley stopped or removed it (an
 * observer of session states): claude starts a background Bash task in a
 * session of its own, outside the group the executor kills, so once a
 * stopped session's group is gone whatever still carries its
 * GALLEY_SESSION is killed too (strays.c). A session that ended by
 * itself keeps what it left running, flagged as orphaned work
 * (session-children.c); `galley doctor` lists those processes. Local
 * sessions only: on Slurm, `scancel --full` reaches every process of the
 * job.
 */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "session-children.h"
#include "session-strays.h"
#include "session.h"
#include "strays.h"
#include "xmalloc.h"

/* Hosts carry the daemon's environment, never a session's; skipped all
 * the same, as the daemon itself is. */
static int *
host_pids(int *n)
{
	struct session *s;
	int *v = xcalloc((size_t)session_count + 1, sizeof *v);

	*n = 0;
	TAILQ_FOREACH(s, &session_table, entry)
		if (s->host_pid > 0 && *n < session_count)
			v[(*n)++] = (int)s->host_pid;
	return v;
}

static void
strays_observe(struct session *s, const struct session_change *ch, void *arg)
{
	int ended = ch->kind == SESSION_CHANGE_STATE &&
	    state_table[s->state].terminal &&
	    !(ch->old >= 0 && state_table[ch->old].terminal);
	int removed = ch->kind == SESSION_CHANGE_REMOVED;
	int nskip, found[STRAYS_MAX];

	if ((!ended && !removed) ||
	    (s->executor && strcmp(s->executor, "local") != 0))
		return;
	int *skip = host_pids(&nskip);
	if (removed || s->stop_requested) {
		int n = strays_kill(s->id, skip, nskip);
		if (n)
			log_info("session %s: killed %d process%s left outside "
			         "its group",
			    s->id, n, n == 1 ? "" : "es");
		if (!removed)
			session_children_end(s);
	} else if (strays_find(s->id, skip, nskip, found, STRAYS_MAX) == 0)
		session_children_end(s); /* nothing of it runs any more */
	free(skip);
}

void
session_strays_init(void)
{
	session_observe(strays_observe, NULL);
}
