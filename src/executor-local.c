/*
 * The local executor: each session runs under its own `galley host`
 * process on this machine (host.c), which owns the PTY, the screen and
 * output.log, and writes an exit file when the program ends. The daemon
 * watches each host through one link (host-link.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "executor.h"
#include "host-link.h"
#include "log.h"
#include "session.h"
#include "sock.h"
#include "util.h"
#include "xmalloc.h"

extern char **environ;

static const struct executor_sink *sink;

static void host_gone(struct session *);

static const struct host_link_cb local_cb;

/* ---- exits and lost hosts ---------------------------------------------- */

/* The link closed, or could not be made: the exit file says how it ended;
 * a host alive but unreachable gets a few more tries; else it is lost. */
static void
host_gone(struct session *s)
{
	int code, sig;

	if (session_terminal(s))
		return;
	if (host_exit_file(s, &code, &sig) == 0) {
		sink->exited(s, code, sig);
		return;
	}
	if (pid_alive((pid_t)s->host_pid) && s->link_tries++ < 3) {
		log_warn("session %s: host %ld alive but not reachable", s->id,
		    s->host_pid);
		if (host_link_open(s, &local_cb) == 0)
			return;
	}
	log_info("session %s: host %ld gone without an exit file (started "
	         "in boot %s, this is %s)",
	    s->id, s->host_pid, s->boot_id ? s->boot_id : "?", boot_id());
	if (s->boot_id && strcmp(s->boot_id, boot_id()) != 0)
		sink->lost(s, EXECUTOR_LOST_REBOOT);
	else
		sink->lost(s, EXECUTOR_LOST);
}

static void
local_orphan(struct session *s)
{
	if (s->pid > 0)
		kill(-(pid_t)s->pid, SIGHUP); /* no orphan keeps running */
}

static void
local_adopt(struct session *s)
{
	if (host_link_open(s, &local_cb) < 0)
		host_gone(s);
}

static void
local_detach(struct session *s)
{
	if (s->link)
		host_link_detach(s->link);
}

/* ---- starting ---------------------------------------------------------- */

/* Start `galley host ID` detached (its own session), stdin /dev/null,
 * stdout and stderr to host.log, the listening socket as fd 3.
 * posix_spawn (vfork) rather than fork: the daemon's page tables grow with
 * its store, and copying them was most of a dispatch. Hosts are reaped by
 * the daemon's SIGCHLD handler; what happened to them is read from their
 * links and exit files, not from their status. */
static pid_t
host_spawn(const char *dir, const char *id, int logfd, int lfd, struct err *err)
{
	char *argv[] = {"galley", "host", (char *)id, NULL};
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none, all;
	pid_t pid = -1;
	int rc;

	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&at);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	if (logfd >= 0) {
		posix_spawn_file_actions_adddup2(&fa, logfd, 1);
		posix_spawn_file_actions_adddup2(&fa, logfd, 2);
	} else {
		posix_spawn_file_actions_addopen(
		    &fa, 1, "/dev/null", O_WRONLY, 0);
		posix_spawn_file_actions_adddup2(&fa, 1, 2);
	}
	posix_spawn_file_actions_adddup2(&fa, lfd, 3);
	posix_spawn_file_actions_addchdir_np(&fa, dir);
	sigemptyset(&none);
	sigfillset(&all);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setsigdefault(&at, &all);
	posix_spawnattr_setflags(&at,
	    POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK |
	        POSIX_SPAWN_SETSIGDEF);
	rc = posix_spawn(&pid, self_exe(), &fa, &at, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	if (rc != 0) {
		err_set(err, ERR_FAILED, "cannot start host: %s", strerror(rc));
		return -1;
	}
	return pid;
}

static int
local_start(struct session *s, struct err *err)
{
	char *dir = session_dir(s), *sockpath = session_file(s, "host.sock");
	char *logpath = session_file(s, "host.log");
	char *exitpath = session_file(s, "exit");
	char *scrpath = session_file(s, "screen.txt");
	pid_t pid;
	int lfd = -1, logfd = -1, rc = -1;

	if (mkdir_p(dir, 0700, err) < 0)
		goto out;
	unlink(exitpath);
	unlink(scrpath);
	lfd = sock_listen(sockpath, err);
	if (lfd < 0)
		goto out;
	logfd = open(logpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (lfd < 3) {
		/* dup2 onto itself would keep close-on-exec: move it */
		int moved = fcntl(lfd, F_DUPFD_CLOEXEC, 10);
		close(lfd);
		lfd = moved;
	}
	/* the daemon binds the host's socket and hands it over, so the link
	 * can connect at once: no race with the host's start-up */
	pid = host_spawn(dir, s->id, logfd, lfd, err);
	if (pid < 0)
		goto out;
	s->host_pid = pid;
	s->pid = 0;
	s->link_tries = 0;
	free(s->boot_id);
	s->boot_id = xstrdup(boot_id());
	if (host_link_open(s, &local_cb) < 0)
		log_warn("session %s: no link to its host yet", s->id);
	rc = 0;
out:
	if (lfd >= 0)
		close(lfd);
	if (logfd >= 0)
		close(logfd);
	free(dir);
	free(sockpath);
	free(logpath);
	free(exitpath);
	free(scrpath);
	return rc;
}

/* ---- signals ----------------------------------------------------------- */

/* Timers the daemon owns on behalf of sessions that have no host link:
 * SIGKILL after a grace, and a forced removal waiting for the host to
 * die. Tagged through data so shutdown can find and close them. */
struct local_timer {
	uv_timer_t timer;
	pid_t pgid, host;
	int polls;
	void (*done)(void *);
	void *arg;
};

static void timer_close_cb(uv_handle_t *h);

static void
timer_close_cb(uv_handle_t *h)
{
	free(container_of(h, struct local_timer, timer));
}

static struct local_timer *
timer_new(void)
{
	struct local_timer *k = xcalloc(1, sizeof *k);

	uv_timer_init(uv_default_loop(), &k->timer);
	k->timer.data = (void *)timer_close_cb;
	return k;
}

static void
kill_timer_cb(uv_timer_t *t)
{
	struct local_timer *k = container_of(t, struct local_timer, timer);

	if (k->pgid > 0)
		kill(-k->pgid, SIGKILL);
	uv_close((uv_handle_t *)t, timer_close_cb);
}

static int
local_stop(struct session *s, int grace_ms, struct err *err)
{
	if (host_link_signal(s, SIGTERM, grace_ms) == 0)
		return 0;
	if (s->pid <= 0)
		return err_set(err, ERR_FAILED,
		    "session '%s' has no process to stop", s->name);
	/* no host link: signal the group ourselves */
	kill(-(pid_t)s->pid, SIGTERM);
	struct local_timer *k = timer_new();
	k->pgid = (pid_t)s->pid;
	uv_timer_start(&k->timer, kill_timer_cb, (uint64_t)grace_ms, 0);
	uv_unref((uv_handle_t *)&k->timer);
	return 0;
}

/* A killed host is dead within milliseconds; REMOVE_POLL_MAX bounds the
 * wait for one that is not (stopped, or in uninterruptible sleep), after
 * which removal goes on: its files were renamed aside already. */
#define REMOVE_POLL_MS 2
#define REMOVE_POLL_MAX 1000

static void
remove_timer_cb(uv_timer_t *t)
{
	struct local_timer *k = container_of(t, struct local_timer, timer);

	if (k->host > 0 && pid_alive(k->host) && ++k->polls < REMOVE_POLL_MAX)
		return;
	uv_timer_stop(t);
	k->done(k->arg);
	uv_close((uv_handle_t *)t, timer_close_cb);
}

static void
local_kill(struct session *s, void (*done)(void *), void *arg)
{
	if (s->pid > 0)
		kill(-(pid_t)s->pid, SIGKILL);
	if (s->host_pid > 0)
		kill((pid_t)s->host_pid, SIGKILL);
	local_detach(s);
	if (s->host_pid <= 0 || !pid_alive((pid_t)s->host_pid)) {
		done(arg);
		return;
	}
	/* the loop goes on serving while the host dies */
	struct local_timer *k = timer_new();
	k->host = (pid_t)s->host_pid;
	k->done = done;
	k->arg = arg;
	uv_timer_start(
	    &k->timer, remove_timer_cb, REMOVE_POLL_MS, REMOVE_POLL_MS);
}

/* The daemon is stopping: let go of every host (they live on) so the loop
 * can end. A removal still waiting finishes now; a pending SIGKILL is
 * dropped, as the daemon's own death would drop it. */
static void
shutdown_walk_cb(uv_handle_t *h, void *arg)
{
	if (uv_is_closing(h) || h->type != UV_TIMER ||
	    h->data != (void *)timer_close_cb)
		return;
	struct local_timer *k =
	    container_of((uv_timer_t *)h, struct local_timer, timer);
	if (k->done)
		k->done(k->arg);
	uv_close(h, timer_close_cb);
}

static void
local_shutdown(void)
{
	struct session *s;

	TAILQ_FOREACH(s, &session_table, entry)
		local_detach(s);
	uv_walk(uv_default_loop(), shutdown_walk_cb, NULL);
}

/* ---- the CLI's side ---------------------------------------------------- */

static char *
local_file(json_t *session, const char *name)
{
	const char *dir = json_string_value(json_object_get(session, "dir"));
	char *p;

	xasprintf(&p, "%s/%s", dir ? dir : "", name);
	return p;
}

static int
local_connect(json_t *session, struct proto_reader *rd, struct err *err)
{
	char *path = local_file(session, "host.sock");
	int fd = sock_open_host(path, rd, err);

	free(path);
	return fd;
}

static void
local_init(const struct executor_sink *s)
{
	sink = s;
	host_link_init(s);
}

static const struct host_link_cb local_cb = {
    .gone = host_gone,
    .status = host_link_status,
};

const struct executor executor_local = {
    .name = "local",
    .init = local_init,
    .start = local_start,
    .stop = local_stop,
    .orphan = local_orphan,
    .adopt = local_adopt,
    .peek = host_link_peek,
    .input = host_link_input,
    .kill = local_kill,
    .detach = local_detach,
    .shutdown = local_shutdown,
    .connect = local_connect,
    .file = local_file,
};
