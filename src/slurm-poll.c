/*
 * The Slurm executor's watch: ONE `squeue -h -t all -j id1,id2,...` per
 * tick (executor.slurm.pollSeconds, 1 s) for every job it watches,
 * whatever their number, and never two at once. What it answers becomes
 * the sessions' states (shared/notes/slurm.md §3.2): PENDING is queued with
 * Slurm's reason, RUNNING links to the host, an end is the host's exit
 * status unless Slurm knows better. No answer (the controller is down:
 * squeue fails after 18 s) makes every watched session `unknown` until
 * one comes.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "executor-slurm.h"
#include "host-link.h"
#include "log.h"
#include "session.h"
#include "settings-cache.h"
#include "slurm-cmd.h"
#include "util.h"
#include "xmalloc.h"

#define SOON_MS 50
/* a job missing from squeue this many answers in a row is gone from
 * the controller (past MinJobAge), not just late */
#define MISSES_GONE 3

static uv_timer_t tick;
static int tick_init, inflight, again;

/* the sessions one squeue asked about */
struct poll_ask {
	size_t n;
	char (*sid)[GALLEY_ID_LEN + 1];
};

static uint64_t
interval_ms(void)
{
	double s = settings_user_num("executor.slurm.pollSeconds", 1);

	return (uint64_t)(s < 0.2 ? 200 : s > 3600 ? 3600000 : s * 1000);
}

static int
in_list(const char *v, const char *const list[])
{
	for (int i = 0; list[i]; i++)
		if (strcmp(v, list[i]) == 0)
			return 1;
	return 0;
}

static const char *const pending_states[] = {"PENDING", "CONFIGURING",
    "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "RESIZING", "SUSPENDED", NULL};
/* reasons a pending job never gets past (the notes: -c 16 on an 8-CPU
 * node is accepted and waits forever in PartitionConfig) */
static const char *const stuck_reasons[] = {"PartitionConfig", "BadConstraints",
    "InvalidAccount", "InvalidQOS", "PartitionNodeLimit", "PartitionTimeLimit",
    "AccountNotAllowed", "QOSNotAllowed", NULL};

/* ---- the end of a job -----------------------------------------------------
 */

static void
finish(struct sjob *j, const char *state, long raw)
{
	struct session *s = j->s;
	int code = -1, sig = 0;
	char why[200];

	if (j->have_exit) {
		code = j->code;
		sig = j->sig;
	} else if (host_exit_file(s, &code, &sig) != 0)
		code = -1;
	if (strcmp(state, "CANCELLED") == 0) {
		slurm_sink->ended(s, code, sig, SESSION_STOPPED,
		    "cancelled in Slurm (scancel)");
	} else if (strcmp(state, "TIMEOUT") == 0) {
		slurm_sink->ended(
		    s, code, sig, SESSION_FAILED, "time limit (Slurm TIMEOUT)");
	} else if (strcmp(state, "NODE_FAIL") == 0 ||
	    strcmp(state, "BOOT_FAIL") == 0) {
		/* what may still run of it there must not go on */
		host_link_signal(s, SIGKILL, 0);
		snprintf(why, sizeof why, "node lost (Slurm %s on %s)", state,
		    s->node ? s->node : "its node");
		slurm_sink->ended(s, code, sig, SESSION_FAILED, why);
	} else if (strcmp(state, "COMPLETED") == 0 ||
	    strcmp(state, "FAILED") == 0) {
		if (code < 0 && raw >= 0) { /* killed before it could write */
			code = (int)((raw >> 8) & 0xff);
			sig = (int)(raw & 0x7f);
		}
		if (code >= 0)
			slurm_sink->exited(s, code, sig);
		else
			slurm_sink->ended(s, -1, 0, SESSION_FAILED,
			    "the job failed in Slurm (see slurm.log)");
	} else {
		snprintf(why, sizeof why, "ended by Slurm (%s)", state);
		slurm_sink->ended(s, code, sig, SESSION_FAILED, why);
	}
}

/* ---- one job's line --------------------------------------------------------
 */

static void
set_node(struct session *s, const char *node)
{
	if (*node == '\0' || strcmp(node, "(null)") == 0 ||
	    (s->node && strcmp(s->node, node) == 0))
		return;
	free(s->node);
	s->node = xstrdup(node);
	session_touch(s);
	session_notify(s, SESSION_CHANGE_UPDATE);
}

/* fields: id, state, reason, exit_code (a wait status), nodes */
static void
apply(struct sjob *j, char *const f[5])
{
	struct session *s = j->s;
	char wait[120];

	j->misses = 0;
	if (j->unknown) { /* the controller answers again */
		j->unknown = 0;
		if (s->state == SESSION_UNKNOWN)
			session_set_state(s, j->saved, j->saved_wait, NULL);
		free(j->saved_wait);
		j->saved_wait = NULL;
	}
	set_node(s, f[4]);
	if (in_list(f[1], pending_states)) {
		if (in_list(f[2], stuck_reasons)) {
			snprintf(wait, sizeof wait,
			    "Slurm will never start it: %.60s", f[2]);
			slurm_sink->ended(s, -1, 0, SESSION_FAILED, wait);
			return; /* its ended() scancels it (orphan) */
		}
		/* None: the scheduler has not looked at it yet */
		snprintf(wait, sizeof wait, "slurm: %.60s",
		    strcmp(f[2], "None") == 0 ? "not scheduled yet" : f[2]);
		if (s->state != SESSION_QUEUED || s->waiting_for == NULL ||
		    strcmp(s->waiting_for, wait) != 0)
			session_set_state(s, SESSION_QUEUED, wait, NULL);
		return;
	}
	if (strcmp(f[1], "RUNNING") == 0) {
		if (s->state == SESSION_QUEUED)
			session_set_state(s, SESSION_STARTING, NULL, NULL);
		slurm_link(s);
		return;
	}
	if (strcmp(f[1], "COMPLETING") == 0 || strcmp(f[1], "STOPPED") == 0 ||
	    strcmp(f[1], "SIGNALING") == 0 || strcmp(f[1], "STAGE_OUT") == 0)
		return; /* on its way out: the end comes next */
	char *end;
	long raw = strtol(f[3], &end, 10);
	finish(j, f[1], *f[3] && *end == '\0' ? raw : -1);
}

/* The job is not in squeue's answer: gone from the controller. */
static void
missing(struct sjob *j)
{
	int code, sig;

	if (++j->misses < MISSES_GONE)
		return;
	if (j->have_exit)
		slurm_sink->exited(j->s, j->code, j->sig);
	else if (host_exit_file(j->s, &code, &sig) == 0)
		slurm_sink->exited(j->s, code, sig);
	else
		slurm_sink->ended(j->s, -1, 0, SESSION_FAILED,
		    "Slurm no longer knows the job; its exit status is "
		    "unknown");
}

/* No answer: every watched session is unknown until there is one. */
static void
unreachable(const char *why)
{
	struct sjob *j;
	char reason[300];

	snprintf(reason, sizeof reason, "Slurm controller not answering: %.*s",
	    (int)strcspn(why, "\n"), why);
	TAILQ_FOREACH(j, &slurm_jobs, entry) {
		struct session *s = j->s;
		if (j->unknown || s->job_id == NULL || !session_live(s))
			continue;
		j->unknown = 1;
		j->saved = s->state;
		free(j->saved_wait);
		j->saved_wait = s->waiting_for ? xstrdup(s->waiting_for) : NULL;
		session_set_state(s, SESSION_UNKNOWN, NULL, reason);
	}
}

/* ---- the tick --------------------------------------------------------------
 */

static void tick_cb(uv_timer_t *);

static void
answered(void *arg, const char *out, const char *errtext, int timedout)
{
	struct poll_ask *ask = arg;
	json_t *lines = json_object();
	char *text = xstrdup(out);

	inflight = 0;
	/* squeue -j with one id Slurm forgot fails; with many it leaves
	 * them out: both mean "not there" */
	if (timedout ||
	    (*out == '\0' && *errtext && !strstr(errtext, "Invalid job id"))) {
		log_warn("squeue: %.*s", (int)strcspn(errtext, "\n"), errtext);
		store_begin(&galley_db);
		unreachable(errtext);
		store_commit(&galley_db);
		goto out;
	}
	char *save = NULL;
	for (char *line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char key[32];
		snprintf(
		    key, sizeof key, "%.*s", (int)strcspn(line, "|"), line);
		json_object_set_new(lines, key, json_string(line));
	}
	store_begin(&galley_db);
	for (size_t i = 0; i < ask->n; i++) {
		struct session *s = session_find_id(ask->sid[i]);
		struct sjob *j = s ? sjob_find(s) : NULL;
		if (j == NULL || s->job_id == NULL || session_terminal(s))
			continue;
		const char *l =
		    json_string_value(json_object_get(lines, s->job_id));
		if (l == NULL) {
			missing(j);
			continue;
		}
		char *copy = xstrdup(l), *f[5], *p = copy;
		for (int k = 0; k < 5; k++) {
			f[k] = p;
			p += strcspn(p, "|");
			if (*p)
				*p++ = '\0';
		}
		apply(j, f);
		free(copy);
	}
	store_commit(&galley_db);
out:
	json_decref(lines);
	free(text);
	free(ask->sid);
	free(ask);
	if (again) {
		again = 0;
		slurm_poll_soon();
	}
}

static void
tick_cb(uv_timer_t *t)
{
	struct sjob *j;
	struct buf ids = BUF_INIT;
	struct err err = ERR_INIT;
	struct poll_ask *ask;

	if (inflight) {
		again = 1;
		return;
	}
	ask = xcalloc(1, sizeof *ask);
	ask->sid = xcalloc(slurm_jobs_n + 1, sizeof *ask->sid);
	TAILQ_FOREACH(j, &slurm_jobs, entry) {
		if (j->s->job_id == NULL || j->submitting ||
		    session_terminal(j->s))
			continue;
		if (ids.len)
			buf_addc(&ids, ',');
		buf_adds(&ids, j->s->job_id);
		memcpy(ask->sid[ask->n++], j->s->id, sizeof *ask->sid);
	}
	if (ask->n == 0) { /* nothing to watch: sleep until asked */
		uv_timer_stop(t);
		goto out;
	}
	buf_addc(&ids, '\0');
	const char *argv[] = {"squeue", "-h", "-t", "all", "-j", ids.data, "-O",
	    "JobID:|,State:|,Reason:|,exit_code:|,NodeList:|", NULL};
	if (slurm_cmd_run(argv, SLURM_CMD_TIMEOUT_MS, answered, ask, &err) <
	    0) {
		store_begin(&galley_db);
		unreachable(err.msg.data);
		store_commit(&galley_db);
		goto out;
	}
	inflight = 1;
	ask = NULL;
out:
	if (ask) {
		free(ask->sid);
		free(ask);
	}
	buf_release(&ids);
	err_release(&err);
}

void
slurm_poll_soon(void)
{
	uint64_t every = interval_ms();

	if (!tick_init) {
		uv_timer_init(uv_default_loop(), &tick);
		uv_unref((uv_handle_t *)&tick);
		tick_init = 1;
	}
	if (inflight) {
		again = 1;
		return;
	}
	/* a burst of asks (30 submissions) folds into one squeue */
	if (!uv_is_active((uv_handle_t *)&tick) ||
	    uv_timer_get_due_in(&tick) > SOON_MS)
		uv_timer_start(&tick, tick_cb, SOON_MS, every);
}

void
slurm_poll_shutdown(void)
{
	if (tick_init) {
		uv_close((uv_handle_t *)&tick, NULL);
		tick_init = 0;
	}
}

/* ---- a job id the daemon did not keep ---------------------------------------
 */

static void
found_by_name(void *arg, const char *out, const char *errtext, int timedout)
{
	char *sid = arg;
	struct session *s = session_find_id(sid);
	size_t n = strspn(out, "0123456789");

	free(sid);
	if (s == NULL || sjob_find(s) == NULL || s->job_id)
		return;
	store_begin(&galley_db);
	if (n > 0 && n < 32) {
		s->job_id = xstrndup(out, n);
		session_touch(s);
		slurm_poll_soon();
	} else if (!timedout && *errtext == '\0') {
		slurm_sink->ended(s, -1, 0, SESSION_FAILED,
		    "the daemon stopped before Slurm took the job");
	} else {
		char why[300];
		snprintf(why, sizeof why,
		    "Slurm controller not answering: %.*s",
		    (int)strcspn(errtext, "\n"), errtext);
		session_set_state(s, SESSION_UNKNOWN, NULL, why);
	}
	store_commit(&galley_db);
}

void
slurm_adopt_by_name(struct session *s)
{
	char *name;
	struct err err = ERR_INIT;

	xasprintf(&name, "--name=galley-%s", s->id);
	const char *argv[] = {
	    "squeue", "-h", "-t", "all", name, "-o", "%i", NULL};
	char *sid = xstrdup(s->id);
	if (slurm_cmd_run(
	        argv, SLURM_CMD_TIMEOUT_MS, found_by_name, sid, &err) < 0) {
		free(sid);
		log_warn("session %s: %s", s->id, err.msg.data);
	}
	err_release(&err);
	free(name);
}
