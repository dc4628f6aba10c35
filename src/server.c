/* The daemon: listen, signals, adopt live hosts at start, serve until told
 * to stop. It is the only writer of the store. Hosts are separate processes,
 * so stopping or killing the daemon never touches a session. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "executor.h"
#include "fdlimit.h"
#include "log.h"
#include "server.h"
#include "hook-spool.h"
#include "team.h"
#include "workflow.h"
#include "session-life.h"
#include "session-overlap.h"
#include "session-strays.h"
#include "session-hook.h"
#include "session-queue.h"
#include "session-policy.h"
#include "session-screen.h"
#include "session.h"
#include "sock.h"
#include "util.h"
#include "xmalloc.h"

/* What only the daemon's main loop owns; the sessions are session.c's,
 * the store session-store.c's, the clients server-client.c's. */
static struct {
	uv_loop_t *loop;
	uv_pipe_t listener;
	uv_signal_t sig_term, sig_int, sig_hup, sig_chld;
	int64_t started_ms;
	int lockfd;
	int stopping;
} srv;

int64_t
server_started_ms(void)
{
	return srv.started_ms;
}

int run_dir_check(struct err *);

/* Clients that subscribed see every session change. */
static void
broadcast_observe(struct session *s, const struct session_change *ch, void *arg)
{
	json_t *ev;

	if (ch->kind == SESSION_CHANGE_CREATED ||
	    ch->kind == SESSION_CHANGE_EDIT)
		return; /* its first state says it; an edit shows nothing */
	if (ch->kind == SESSION_CHANGE_REMOVED)
		ev = json_pack("{s:s, s:s, s:s}", "event", "session.removed",
		    "id", s->id, "name", s->name);
	else
		ev = json_pack("{s:s, s:o}", "event", "session.state",
		    "session", session_to_json(s));
	server_broadcast("session", ev);
	json_decref(ev);
}

/* Who acts on session changes, in this order: the worktree's lock and
 * overlap checks first (they change what the others show), then the
 * screen watch, then the clients. */
static void
observers_init(void)
{
	session_hook_observe();   /* usage first: the end is counted */
	session_policy_observe(); /* a rate-limited end holds new starts */
	session_overlap_init();
	session_strays_init(); /* what a stopped session left running */
	team_init();     /* links members, delivers messages, gates tools */
	workflow_init(); /* a workflow agent's end resumes its script */
	session_screen_init();
	session_observe(broadcast_observe, NULL);
	session_queue_observe(); /* last: a start is news after the end */
	hook_spool_start();      /* hooks no daemon answered in time */
}

static void
listener_cb(uv_stream_t *listener, int status)
{
	if (status < 0) {
		log_warn("accept: %s", uv_strerror(status));
		return;
	}
	server_client_accept(listener, server_dispatch);
}

static void
close_walk_cb(uv_handle_t *h, void *arg)
{
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

void
server_stop(void)
{

	if (srv.stopping)
		return;
	srv.stopping = 1;
	log_info("stopping; sessions keep running");
	unlink(path_socket());
	uv_close((uv_handle_t *)&srv.listener, NULL);
	server_client_close_all();
	uv_close((uv_handle_t *)&srv.sig_term, NULL);
	uv_close((uv_handle_t *)&srv.sig_int, NULL);
	uv_close((uv_handle_t *)&srv.sig_hup, NULL);
	uv_close((uv_handle_t *)&srv.sig_chld, NULL);
	executor_shutdown(); /* hosts live on */
}

/* Hosts are our children until we die: reap them. */
static void
sigchld_cb(uv_signal_t *h, int signum)
{
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
}

static void
signal_cb(uv_signal_t *h, int signum)
{
	if (signum == SIGHUP)
		return;
	server_stop();
}

/* Exactly one daemon per user: the flock on daemon.lock is held for the
 * daemon's whole life. */
static int
take_lock(struct err *err)
{
	char *path;

	xasprintf(&path, "%s/daemon.lock", path_run_dir());
	srv.lockfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	free(path);
	if (srv.lockfd < 0)
		return err_set(err, ERR_FAILED, "cannot open daemon lock: %s",
		    strerror(errno));
	if (flock(srv.lockfd, LOCK_EX | LOCK_NB) != 0)
		return err_set(err, ERR_EXISTS, "a daemon is already running");
	return 0;
}

/* The state dir holds the store, prompts and logs: ours and 0700. It
 * may be reached through a link of the user's own (another disk). */
static int
state_dir_check(struct err *err)
{
	const char *dir = path_state_dir();
	struct stat st;

	if (mkdir_p(dir, 0700, err) < 0)
		return -1;
	if (stat(dir, &st) != 0)
		return err_set(err, ERR_FAILED, "cannot stat '%s': %s", dir,
		    strerror(errno));
	if (st.st_uid != getuid())
		return err_set(err, ERR_REFUSED,
		    "state dir '%s' belongs to uid %ld: refusing to use it "
		    "(set GALLEY_HOME)",
		    dir, (long)st.st_uid);
	if ((st.st_mode & 077) != 0 && chmod(dir, 0700) != 0)
		return err_set(err, ERR_FAILED, "cannot make '%s' private: %s",
		    dir, strerror(errno));
	return 0;
}

/* The state dirs, and the log (stderr too when detached, so sanitizer
 * reports land in it). */
static int
state_dirs(int foreground, char **logpath, struct err *err)
{
	char *sessdir;
	int rc;

	if (run_dir_check(err) < 0 || state_dir_check(err) < 0)
		return -1;
	xasprintf(&sessdir, "%s/sessions", path_state_dir());
	rc = mkdir_p(sessdir, 0700, err);
	free(sessdir);
	if (rc < 0)
		return -1;
	xasprintf(logpath, "%s/daemon.log", path_state_dir());
	if (!foreground) {
		int lfd = open(
		    *logpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		if (lfd >= 0) {
			dup2(lfd, 2);
			close(lfd);
		}
	}
	log_open(foreground ? NULL : *logpath, "daemon");
	return 0;
}

static int
listen_and_signals(struct err *err)
{
	int fd = sock_listen(path_socket(), err);

	if (fd < 0)
		return -1;
	uv_pipe_init(srv.loop, &srv.listener, 0);
	if (uv_pipe_open(&srv.listener, fd) != 0 ||
	    uv_listen((uv_stream_t *)&srv.listener, 128, listener_cb) != 0)
		return err_set(
		    err, ERR_FAILED, "cannot listen on %s", path_socket());
	signal(SIGPIPE, SIG_IGN);
	uv_signal_init(srv.loop, &srv.sig_term);
	uv_signal_start(&srv.sig_term, signal_cb, SIGTERM);
	uv_signal_init(srv.loop, &srv.sig_int);
	uv_signal_start(&srv.sig_int, signal_cb, SIGINT);
	uv_signal_init(srv.loop, &srv.sig_hup);
	uv_signal_start(&srv.sig_hup, signal_cb, SIGHUP);
	uv_signal_init(srv.loop, &srv.sig_chld);
	uv_signal_start(&srv.sig_chld, sigchld_cb, SIGCHLD);
	uv_unref((uv_handle_t *)&srv.sig_chld);
	return 0;
}

/* Why this daemon could not start, for the command that started it
 * (client.c reads it at once instead of waiting out its deadline); NULL:
 * it started, the file goes. */
static void
start_error(const char *msg)
{
	char *path;

	xasprintf(&path, "%s/start.err", path_run_dir());
	if (msg)
		write_file_atomic(path, msg, strlen(msg), 0600, NULL);
	else
		unlink(path);
	free(path);
}

int
server_main(int foreground, const struct cmd_entry *const *table)
{
	struct err err = ERR_INIT;
	char *logpath = NULL, *dbpath = NULL;
	int rc = 1;

	memset(&srv, 0, sizeof srv);
	srv.lockfd = -1;
	/* started by a galley command inside a session: the daemon, and
	 * every host and git it starts, belongs to no session (a stop
	 * ends what carries its GALLEY_SESSION, session-strays.c) */
	unsetenv("GALLEY_SESSION");
	unsetenv("GALLEY_HOOK_TOKEN");
	fdlimit_raise();
	srv.loop = uv_default_loop();
	if (state_dirs(foreground, &logpath, &err) < 0)
		goto fail;
	if (take_lock(&err) < 0) {
		if (err.code == ERR_EXISTS)
			rc = 0;
		goto fail;
	}
	xasprintf(&dbpath, "%s/galley.db", path_state_dir());
	if (store_open(&galley_db, dbpath, &err) < 0)
		goto fail;
	galley_db.on_lost = session_save_all;
	srv.started_ms = wall_ms();
	if (session_load_all(&err) < 0)
		goto fail;

	if (listen_and_signals(&err) < 0)
		goto fail;
	start_error(NULL);

	/* after listening: hosts found dead are reported to early clients */
	server_dispatch_init(table);
	observers_init();
	static struct executor_sink sink = {.screen = session_on_screen};
	session_life_sink(&sink);
	executor_init(&sink);
	session_adopt_all();
	session_policy_init();
	session_schedule();    /* the line, as the last daemon left it */
	workflow_resume_all(); /* replayed from their journals */
	log_info("listening on %s, %d sessions", path_socket(), session_count);

	uv_run(srv.loop, UV_RUN_DEFAULT);
	/* something still open (a link mid-close): close it and drain */
	uv_walk(srv.loop, close_walk_cb, NULL);
	uv_run(srv.loop, UV_RUN_DEFAULT);
	uv_loop_close(srv.loop);
	rc = 0;
fail:
	if (rc != 0 || err.code != ERR_NONE) {
		if (err.code == ERR_EXISTS)
			log_info("%s", err.msg.data);
		else if (err.code != ERR_NONE) {
			log_error("%s", err.msg.data);
			fprintf(stderr, "galley: %s\n", err.msg.data);
			start_error(err.msg.data);
		}
	}
	while (!TAILQ_EMPTY(&session_table)) {
		struct session *s = TAILQ_FIRST(&session_table);
		TAILQ_REMOVE(&session_table, s, entry);
		session_free(s);
	}
	store_close(&galley_db);
	if (srv.lockfd >= 0)
		close(srv.lockfd);
	err_release(&err);
	free(logpath);
	free(dbpath);
	return rc;
}
