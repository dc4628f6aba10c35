/* A session's life after it is made: started through its executor,
 * followed to its end (what an exit or a lost host means), stopped,
 * restarted, removed, and adopted again after a daemon restart. The
 * executor runs and watches; this file decides. */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "executor.h"
#include "log.h"
#include "runtime.h"
#include "session-life.h"
#include "session-hold.h"
#include "session.h"
#include "util.h"
#include "xmalloc.h"

void session_forget(struct session *);

static const struct executor *
executor_of(struct session *s)
{
	return executor_find(s->executor);
}

/* ---- start -------------------------------------------------------------- */

int
session_spawn(struct session *s, struct err *err)
{
	const struct executor *ex = executor_of(s);

	if (ex == NULL)
		return err_set(
		    err, ERR_FAILED, "unknown executor '%.32s'", s->executor);
	if (ex->start(s, err) < 0)
		return -1;
	s->has_exit = 0;
	s->exit_code = 0;
	s->exit_signal = 0;
	s->ended_at = 0;
	s->stop_requested = 0;
	free(s->waiting_for);
	s->waiting_for = NULL;
	session_set_state(s, SESSION_STARTING, NULL, NULL);
	if (s->first_block) { /* a dialog comes before any hook: say so */
		session_set_state(s, SESSION_BLOCKED, s->first_block,
		    "waiting on the runtime before its hooks load");
		free(s->first_block);
		s->first_block = NULL;
	}
	return 0;
}

/* A queued session has been through the line (the scheduler observes
 * sessions that join it): started, waiting, or failed (recorded; err says
 * why, for the caller to report). */
int
session_line_result(struct session *s, struct err *err)
{
	if (s->state == SESSION_FAILED)
		return err_set(err, ERR_FAILED, "%s",
		    s->reason ? s->reason : "the session failed to start");
	return 0;
}

/* ---- what its executor reports ----------------------------------------- */

/* Before a restart: a runtime that can continue the conversation gets its
 * resume argv in spec.json. Only once the conversation exists (a
 * transcript was seen); before that a restart starts it afresh. */
static int
resume_spec(struct session *s, struct err *err)
{
	const struct runtime *rt = runtime_find(s->runtime);
	char *path, *text = NULL;
	json_t *spec, *argv;
	struct stat st;
	int rc = -1;

	if (rt == NULL || rt->resume == NULL || s->transcript_path == NULL ||
	    stat(s->transcript_path, &st) != 0)
		return 0;
	path = session_file(s, "spec.json");
	spec = json_load_file(path, 0, NULL);
	if (!json_is_array(json_object_get(spec, "argv"))) {
		err_set(err, ERR_FAILED, "cannot read %s to restart", path);
		goto out;
	}
	argv = rt->resume(json_object_get(spec, "argv"), s->runtime_session_id);
	json_object_set_new(spec, "argv", argv);
	text = json_dumps(spec, JSON_COMPACT);
	if (write_file_replace(path, text, strlen(text), 0600, 0, err) < 0)
		goto out;
	json_t *pub = json_pack("{s:O}", "argv", argv);
	free(s->spec);
	s->spec = json_dumps(pub, JSON_COMPACT);
	json_decref(pub);
	session_touch(s);
	rc = 0;
out:
	json_decref(spec);
	free(text);
	free(path);
	return rc;
}

/* The last non-blank line of the screen at exit: usually why. */
static void
last_screen_line(struct session *s, char *out, size_t size)
{
	char *path = session_file(s, "screen.txt");
	struct buf b = BUF_INIT;

	out[0] = '\0';
	if (read_file(path, &b, 1u << 20, NULL) == 0 && b.len > 0) {
		buf_addc(&b, '\0');
		last_text_line(b.data, out, size);
	}
	buf_release(&b);
	free(path);
}

/* A restart asked for while it ran: started again now that it ended. */
static void
restart_if_pending(struct session *s)
{
	struct err err = ERR_INIT;

	if (!s->restart_pending)
		return;
	s->restart_pending = 0;
	session_event(s, "restart", NULL);
	if (resume_spec(s, &err) < 0 || session_spawn(s, &err) < 0)
		session_set_state(s, SESSION_FAILED, NULL, err.msg.data);
	err_release(&err);
}

static void
on_exited(struct session *s, int code, int sig)
{
	char reason[400], last[300];
	json_t *res = NULL;

	if (session_terminal(s) && s->has_exit)
		return;
	s->has_exit = 1;
	s->exit_code = sig ? 128 + sig : code;
	s->exit_signal = sig;
	s->ended_at = wall_ms();
	/* a runtime whose run ends with a result says so in its log (a
	 * headless claude); observers of the end read it (rate limits) */
	const struct runtime *rt = runtime_find(s->runtime);
	char *log = session_file(s, "output.log");
	if (rt && rt->result && (res = rt->result(s->spec, log)) != NULL) {
		free(s->result);
		s->result = json_dumps(res, JSON_COMPACT);
		session_touch(s);
	}
	free(log);
	const char *rtext = json_string_value(json_object_get(res, "result"));
	if (s->stop_requested) {
		session_set_state(s, SESSION_STOPPED, NULL,
		    s->stop_reason ? s->stop_reason : "stopped by user");
	} else if (json_is_true(json_object_get(res, "is_error"))) {
		/* claude's "success" subtype says nothing: is_error does */
		snprintf(reason, sizeof reason, "%.300s",
		    rtext ? rtext : "the run ended with an error");
		session_set_state(s, SESSION_FAILED, NULL, reason);
	} else if (code == 0 && sig == 0) {
		session_set_state(s, SESSION_DONE, NULL, NULL);
	} else {
		last_screen_line(s, last, sizeof last);
		if (sig)
			snprintf(reason, sizeof reason,
			    "killed by signal %d (%s)", sig, strsignal(sig));
		else if (last[0])
			snprintf(reason, sizeof reason,
			    "exited with code %d: %.300s", code, last);
		else
			snprintf(
			    reason, sizeof reason, "exited with code %d", code);
		session_set_state(s, SESSION_FAILED, NULL, reason);
	}
	json_decref(res);
	executor_find(s->executor)->detach(s);
	restart_if_pending(s);
}

static void
on_status(struct session *s, long pid)
{
	if (pid > 0 && pid != s->pid) {
		s->pid = pid;
		session_touch(s);
	}
	if (s->state == SESSION_STARTING && strcmp(s->kind, "job") == 0)
		session_set_state(s, SESSION_WORKING, NULL, NULL);
	else if (pid > 0)
		session_notify(s, SESSION_CHANGE_UPDATE); /* the pid is news */
}

/* The host went without an exit record. */
static void
on_lost(struct session *s, enum executor_lost why)
{
	if (session_terminal(s))
		return;
	if (why == EXECUTOR_LOST_REBOOT) {
		session_set_state(s, SESSION_INTERRUPTED, NULL,
		    "machine rebooted: 'galley restart' starts it again");
		return;
	}
	s->has_exit = 0;
	s->ended_at = wall_ms();
	if (s->stop_requested)
		session_set_state(s, SESSION_STOPPED, NULL,
		    s->stop_reason ? s->stop_reason : "stopped by user");
	else
		session_set_state(s, SESSION_FAILED, NULL, "host lost");
	executor_of(s)->orphan(s);
	if (s->restart_pending) {
		struct err err = ERR_INIT;
		s->restart_pending = 0;
		if (session_spawn(s, &err) < 0)
			session_set_state(
			    s, SESSION_FAILED, NULL, err.msg.data);
		err_release(&err);
	}
}

static void
on_ended(struct session *s, int code, int sig, enum session_state st,
    const char *reason)
{
	if (session_terminal(s))
		return;
	s->has_exit = code >= 0;
	s->exit_code = code < 0 ? 0 : sig ? 128 + sig : code;
	s->exit_signal = code < 0 ? 0 : sig;
	s->ended_at = wall_ms();
	if (s->stop_requested)
		session_set_state(s, SESSION_STOPPED, NULL,
		    s->stop_reason ? s->stop_reason : "stopped by user");
	else
		session_set_state(s, st, NULL, reason);
	executor_of(s)->detach(s);
	restart_if_pending(s);
}

/* The host could not keep all of the output: flagged in ls, peek and the
 * view (output_error), and an event; not a state, since the session may
 * well go on working. */
static void
on_output_lost(struct session *s, const char *why)
{
	json_t *data;

	if (s->output_error && strcmp(s->output_error, why) == 0)
		return;
	free(s->output_error);
	s->output_error = xstrdup(why);
	log_error("session %s: %s", s->id, why);
	data = json_pack("{s:s}", "why", why);
	session_changed(s, "output.lost", data);
	json_decref(data);
}

/* What executors report, as the life of a session sees it; the daemon
 * adds the screen's reader and hands the sink to every executor. */
void
session_life_sink(struct executor_sink *sink)
{
	sink->status = on_status;
	sink->exited = on_exited;
	sink->lost = on_lost;
	sink->ended = on_ended;
	sink->output_lost = on_output_lost;
}

/* ---- stop, restart, remove ---------------------------------------------- */

int
session_stop(struct session *s, int grace_ms, struct err *err)
{
	if (s->state == SESSION_QUEUED && s->job_id == NULL) {
		/* never started: it just leaves the line */
		s->queue_pos = 0;
		session_set_state(s, SESSION_STOPPED, NULL, "stopped by user");
		return 0;
	}
	if (!session_live(s))
		return err_set(err, ERR_FAILED,
		    "session '%s' is not running (%s)", s->name,
		    state_name(s->state));
	s->stop_requested = 1;
	session_event(s, "stop", NULL);
	return executor_of(s)->stop(s, grace_ms, err);
}

int
session_restart(struct session *s, struct err *err)
{
	if (s->state == SESSION_QUEUED && s->job_id == NULL)
		return err_set(err, ERR_FAILED,
		    "session '%s' has not started yet", s->name);
	if (session_name_taken(s->name, s))
		return err_set(err, ERR_EXISTS,
		    "another live session is named '%s': rename one first",
		    s->name);
	if (session_live(s)) {
		s->restart_pending = 1;
		return session_stop(s, 5000, err);
	}
	s->restart_pending = 0;
	session_event(s, "restart", NULL);
	if (resume_spec(s, err) < 0)
		return -1;
	/* an ended session takes its place in line again, like a new one
	 * (a live one kept its place: it is respawned at its exit) */
	s->hold = HOLD_NONE;
	s->pass = 0;
	s->has_exit = 0;
	s->exit_code = s->exit_signal = 0;
	s->ended_at = 0;
	session_set_state(s, SESSION_QUEUED, NULL, NULL);
	return session_line_result(s, err);
}

static void
rm_aside(void *path)
{
	rm_rf(path);
	free(path);
}

int
session_remove(struct session *s, int force, struct err *err)
{
	char *dir, *aside;

	if (session_live(s) && !force)
		return err_set(err, ERR_REFUSED,
		    "session '%s' is %s: stop it first, or use --force",
		    s->name, state_name(s->state));
	dir = session_dir(s);
	if (session_live(s)) {
		/* the files go too, but only once nothing of the session can
		 * write them: moved aside now, deleted when its host is dead
		 * (the executor says when; the loop does not wait) */
		xasprintf(&aside, "%s.removed", dir);
		if (rename(dir, aside) != 0) {
			free(aside);
			aside = xstrdup(dir);
		}
		executor_of(s)->kill(s, rm_aside, aside);
	} else {
		executor_of(s)->detach(s);
		rm_rf(dir);
	}
	free(dir);
	session_event(s, "removed", NULL);
	session_forget(s);
	session_drop(s);
	return 0;
}

/* ---- adoption ---------------------------------------------------------- */

/* Removals a killed daemon did not finish. */
static void
sweep_removed(void)
{
	char *top;
	DIR *d;
	struct dirent *e;

	xasprintf(&top, "%s/sessions", path_state_dir());
	if ((d = opendir(top)) != NULL) {
		while ((e = readdir(d)) != NULL) {
			size_t n = strlen(e->d_name);
			if (n > 8 &&
			    strcmp(e->d_name + n - 8, ".removed") == 0) {
				char *p;
				xasprintf(&p, "%s/%s", top, e->d_name);
				rm_rf(p);
				free(p);
			}
		}
		closedir(d);
	}
	free(top);
}

void
session_adopt_all(void)
{
	struct session *s, *ts;

	sweep_removed();
	TAILQ_FOREACH_SAFE(s, &session_table, entry, ts) {
		if (session_live(s))
			executor_of(s)->adopt(s);
	}
}
