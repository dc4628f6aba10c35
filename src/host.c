/*
 * The host: one small process per session, detached from the daemon. It
 * forks the agent onto a PTY, appends every byte it prints to output.log
 * before anything else sees it (so a slow or absent reader never loses a
 * byte), keeps a libvterm screen for peek and attach, and makes the exit
 * status durable (host-record.c: into space reserved at start, fsync,
 * rename) the moment the child exits, so nothing is lost while the daemon
 * is down, nor on a full disk.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "host.h"
#include "log.h"
#include "ptyfork.h"
#include "sandbox.h"
#include "screen.h"
#include "sock.h"
#include "trim.h"
#include "util.h"
#include "xmalloc.h"

#define PTY_IN_MAX (4u * 1024 * 1024)

struct host host;

static void pty_poll_cb(uv_poll_t *, int, int);

static void
poll_update(void)
{
	int ev = 0;

	if (host.master < 0)
		return;
	if (!host.pty_eof)
		ev |= UV_READABLE;
	if (host.pty_in.len > 0)
		ev |= UV_WRITABLE;
	if (ev == host.poll_events)
		return;
	host.poll_events = ev;
	if (ev)
		uv_poll_start(&host.pty_poll, ev, pty_poll_cb);
	else
		uv_poll_stop(&host.pty_poll);
}

static void
flush_pty_in(void)
{
	while (host.pty_in.len > 0 && host.master >= 0) {
		ssize_t n =
		    write(host.master, host.pty_in.data, host.pty_in.len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				buf_reset(&host.pty_in); /* child gone */
			break;
		}
		buf_consume(&host.pty_in, (size_t)n);
	}
	poll_update();
}

int
host_write_pty(const char *data, size_t len)
{
	if (host.exited || host.master < 0)
		return -1;
	if (host.pty_in.len + len > PTY_IN_MAX)
		return -1;
	buf_add(&host.pty_in, data, len);
	flush_pty_in();
	return 0;
}

/* Watch for the app turning bracketed paste on or off, across reads,
 * without copying the read: the 7 bytes kept from the last one are only
 * looked at joined to this one's first 7. */
static void
track_modes(const char *data, size_t len)
{
	static const char on[] = "\033[?2004h", off[] = "\033[?2004l";
	char edge[14];
	size_t ne = host.ntail, take = len < 7 ? len : 7;
	const char *p, *end = data + len;

	memcpy(edge, host.tail, ne);
	memcpy(edge + ne, data, take);
	for (size_t i = 0; i + 8 <= ne + take; i++) {
		if (i >= ne)
			break; /* wholly inside data: found below */
		if (memcmp(edge + i, on, 8) == 0)
			host.bracketed = 1;
		else if (memcmp(edge + i, off, 8) == 0)
			host.bracketed = 0;
	}
	for (p = data; (p = memchr(p, 0x1b, (size_t)(end - p))) != NULL; p++) {
		if (end - p < 8)
			break;
		if (memcmp(p, on, 8) == 0)
			host.bracketed = 1;
		else if (memcmp(p, off, 8) == 0)
			host.bracketed = 0;
	}
	if (len >= 7) {
		memcpy(host.tail, end - 7, 7);
		host.ntail = 7;
	} else {
		size_t keep = ne + len > 7 ? 7 - len : ne;
		memmove(host.tail, host.tail + ne - keep, keep);
		memcpy(host.tail + keep, data, len);
		host.ntail = keep + len;
	}
}

static void
settle_cb(uv_timer_t *t)
{
	screen_settle(host.screen);
}

static void
on_output(const char *data, size_t len)
{
	struct host_client *c;
	int attached = 0;

	/* the log first: it is the record nobody may lose; if it cannot be
	 * kept, the watchers (the daemon) hear it at once */
	if (host_record_output(data, len)) {
		json_t *ev = host_status();
		TAILQ_FOREACH(c, &host.clients, entry) {
			if (c->watch && !c->closing)
				host_client_send(c, ev);
		}
		json_decref(ev);
	}
	screen_feed(host.screen, data, len);
	if (screen_pending(host.screen) && !host.finishing)
		uv_timer_start(&host.settle_timer, settle_cb, 100, 0);
	track_modes(data, len);
	TAILQ_FOREACH(c, &host.clients, entry) {
		if (c->attached && !c->closing) {
			host_client_raw(c, data, len);
			attached = 1;
		}
	}
	/* vterm answers the app's terminal queries only when no real
	 * terminal is attached to answer them itself */
	struct buf answer = BUF_INIT;
	screen_take_output(host.screen, &answer);
	if (!attached && answer.len)
		host_write_pty(answer.data, answer.len);
	buf_release(&answer);
}

/* Read what the PTY has; returns 1 at EOF (EIO: the slave side closed).
 * A PTY read gives at most 4 KiB; the reads are gathered and handled
 * (log, screen, attached clients) 64 KiB at a time, a sixteenth of the
 * writes. */
static int
drain_pty(int max_rounds)
{
	static char chunk[65536];
	size_t have = 0;
	int eof = 0;

	for (int i = 0; i < max_rounds && host.master >= 0; i++) {
		ssize_t n =
		    read(host.master, chunk + have, sizeof chunk - have);
		if (n > 0) {
			have += (size_t)n;
			if (sizeof chunk - have < 4096) {
				on_output(chunk, have);
				have = 0;
			}
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		eof = 1; /* EIO or 0 */
		break;
	}
	if (have > 0)
		on_output(chunk, have);
	return eof;
}

static void finish(void);

static void
pty_poll_cb(uv_poll_t *p, int status, int events)
{
	if (status < 0 || (events & UV_READABLE) || (events & UV_DISCONNECT)) {
		if (drain_pty(64) || status < 0) {
			host.pty_eof = 1;
			poll_update();
		}
	}
	if (events & UV_WRITABLE)
		flush_pty_in();
}

json_t *
host_status(void)
{
	json_t *o = json_pack("{s:s, s:I, s:b, s:i, s:i}", "event",
	    host.exited ? "exit" : "status", "pid", (json_int_t)host.child,
	    "exited", host.exited, "code", host.exit_code, "signal",
	    host.exit_signal);

	if (host_records_lost()) /* host-record.c: the disk refused it */
		json_object_set_new(
		    o, "log_error", json_string(host_records_lost()));
	return o;
}

/* The child is gone: record everything durable, tell the watchers, and
 * leave once every client has its bytes. */
static void
finish(void)
{
	struct host_client *c, *tc;
	char *sock;
	json_t *ev;

	if (host.finishing)
		return;
	host.finishing = 1;
	drain_pty(64);
	host_records_close();
	host_record_screen(host.screen);
	host_record_exit(host.exit_code, host.exit_signal);
	/* before anyone hears of the exit: a restart binds a new host's
	 * socket at the same path, and unlinking after that (this host
	 * descheduled between the two) left the new host unreachable */
	xasprintf(&sock, "%s/host.sock", host.dir);
	unlink(sock);
	free(sock);
	ev = host_status();
	TAILQ_FOREACH_SAFE(c, &host.clients, entry, tc) {
		if (c->watch)
			host_client_send(c, ev);
		host_client_shutdown(c);
	}
	json_decref(ev);
	if (host.relay > 0) /* it would die with us anyway */
		kill(host.relay, SIGTERM);
	if (host.relay_sock)
		unlink(host.relay_sock);
	uv_close((uv_handle_t *)&host.listener, NULL);
	uv_poll_stop(&host.pty_poll);
	uv_close((uv_handle_t *)&host.pty_poll, NULL);
	close(host.master);
	host.master = -1;
	uv_close((uv_handle_t *)&host.sig_chld, NULL);
	uv_close((uv_handle_t *)&host.sig_term, NULL);
	uv_close((uv_handle_t *)&host.sig_hup, NULL);
	uv_close((uv_handle_t *)&host.kill_timer, NULL);
	uv_close((uv_handle_t *)&host.trim_timer, NULL);
	uv_close((uv_handle_t *)&host.enter_timer, NULL);
	uv_close((uv_handle_t *)&host.settle_timer, NULL);
}

static void
sigchld_cb(uv_signal_t *h, int signum)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if (pid != host.child)
			continue;
		host.exited = 1;
		if (WIFSIGNALED(status)) {
			host.exit_signal = WTERMSIG(status);
			host.exit_code = 128 + host.exit_signal;
		} else
			host.exit_code = WEXITSTATUS(status);
		log_info("child %ld exited: code %d signal %d", (long)pid,
		    host.exit_code, host.exit_signal);
		finish();
		return;
	}
}

/* Drop the library pages (trim.c) a little after start-up, not at once:
 * reading smaps costs a short job more than its whole run
 * (bench/queue.py). Then once more after the first second (the daemon's
 * link, the first status frames), which faults code back in. */
static void
trim_timer_cb(uv_timer_t *t)
{
	static int trims;

	trim_code_pages();
	if (++trims == 1 && !host.finishing)
		uv_timer_start(t, trim_timer_cb, 750, 0);
}

static void
kill_timer_cb(uv_timer_t *t)
{
	if (!host.exited && host.child > 0)
		kill(-host.child, SIGKILL);
}

void
host_signal(int sig, int grace_ms)
{
	if (host.exited || host.child <= 0)
		return;
	/* the whole process group: the child is its session leader */
	if (kill(-host.child, sig) != 0)
		kill(host.child, sig);
	if (grace_ms >= 0 && sig != SIGKILL)
		uv_timer_start(
		    &host.kill_timer, kill_timer_cb, (uint64_t)grace_ms, 0);
}

static void
sigterm_cb(uv_signal_t *h, int signum)
{
	if (signum == SIGHUP)
		return;
	host_signal(SIGTERM, 3000);
}

void
host_resize(int rows, int cols)
{
	struct winsize ws = {(unsigned short)rows, (unsigned short)cols, 0, 0};

	if (rows < 2 || cols < 2 || rows > 1000 || cols > 1000)
		return;
	screen_resize(host.screen, rows, cols);
	if (host.master >= 0)
		ioctl(host.master, TIOCSWINSZ, &ws);
}

static void
listener_cb(uv_stream_t *l, int status)
{
	if (status == 0)
		host_client_accept(l);
}

static char **
strv_from_json(json_t *arr)
{
	size_t n = json_array_size(arr), i;
	char **v = xcalloc(n + 1, sizeof *v);
	json_t *e;

	json_array_foreach(arr, i, e) v[i] = xstrdup(json_string_value(e));
	return v;
}

static void
strv_free(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

int
host_main(const char *id, int remote)
{
	struct err err = ERR_INIT;
	char *path = NULL, **argv = NULL, **envp = NULL, **confine = NULL;
	int best_effort = 0;
	json_t *spec = NULL;
	json_int_t rows = 24, cols = 80, sb = 2000;
	const char *cwd = NULL;
	int rc = 1;

	memset(&host, 0, sizeof host);
	host.master = -1;
	TAILQ_INIT(&host.clients);
	snprintf(host.id, sizeof host.id, "%s", id);
	host.dir = path_session_dir(id);
	if (remote) {
		/* under Slurm stdout and stderr are the job's slurm.log: the
		 * host's own lines go to host.log, as for a local host */
		char *lp;
		xasprintf(&lp, "%s/host.log", host.dir);
		int fd =
		    open(lp, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		free(lp);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
	}
	log_open(NULL, "host"); /* stderr is host.log */
	signal(SIGPIPE, SIG_IGN);

	xasprintf(&path, "%s/spec.json", host.dir);
	spec = json_load_file(path, 0, NULL);
	free(path);
	json_t *jargv = NULL, *jenv = NULL;
	if (!json_is_object(spec) ||
	    proto_get_strv(spec, "argv", &jargv, &err) < 0 ||
	    proto_get_strv(spec, "env", &jenv, &err) < 0 || jargv == NULL ||
	    json_array_size(jargv) == 0 ||
	    proto_get_str(spec, "cwd", &cwd, &err) < 0) {
		log_error("bad or missing spec.json in %s", host.dir);
		goto fail;
	}
	proto_get_int(spec, "rows", &rows, NULL);
	proto_get_int(spec, "cols", &cols, NULL);
	proto_get_int(spec, "scrollback", &sb, NULL);
	argv = strv_from_json(jargv);
	envp = strv_from_json(jenv);
	json_t *plan = json_object_get(spec, "sandbox");
	if (json_is_object(plan)) {
		char **wrapped =
		    sandbox_argv(plan, argv, &confine, &best_effort);
		strv_free(argv);
		argv = wrapped;
	}

	json_int_t maxlog = 0;
	proto_get_int(spec, "log_max_bytes", &maxlog, NULL);
	if (host_records_open(host.dir, (long long)maxlog) < 0)
		goto fail;
	host.screen = screen_new((int)rows, (int)cols, (int)sb);
	host.loop = uv_default_loop();

	/* fd 3 is the listening socket the daemon bound for us; signals are
	 * watched before the fork so an instant exit is not missed */
	uv_signal_init(host.loop, &host.sig_chld);
	uv_signal_start(&host.sig_chld, sigchld_cb, SIGCHLD);
	uv_signal_init(host.loop, &host.sig_term);
	uv_signal_start(&host.sig_term, sigterm_cb, SIGTERM);
	uv_signal_init(host.loop, &host.sig_hup);
	uv_signal_start(&host.sig_hup, sigterm_cb, SIGHUP);
	uv_timer_init(host.loop, &host.kill_timer);
	uv_timer_init(host.loop, &host.trim_timer);
	uv_timer_init(host.loop, &host.enter_timer);
	uv_timer_init(host.loop, &host.settle_timer);
	uv_pipe_init(host.loop, &host.listener, 0);
	int lfd = 3;
	if (remote) {
		/* on a cluster node: no daemon here to bind it for us; the
		 * daemon connects once Slurm says the job runs */
		char *sp;
		xasprintf(&sp, "%s/host.sock", host.dir);
		lfd = sock_listen(sp, &err);
		free(sp);
		if (lfd < 0) {
			log_error("%s", err.msg.data);
			goto fail;
		}
	}
	set_cloexec(lfd);
	if (uv_pipe_open(&host.listener, lfd) != 0 ||
	    uv_listen((uv_stream_t *)&host.listener, 64, listener_cb) != 0) {
		log_error("no listening socket on fd 3");
		goto fail;
	}

	/* the relay outside the sandbox listens before the command can
	 * ask; after the fork of nothing else, so it holds no other fd */
	if (json_is_object(plan)) {
		host.relay = sandbox_relay_start(plan, &host.relay_sock, &err);
		if (host.relay < 0 && !best_effort) {
			log_error("%s", err.msg.data);
			goto fail;
		}
		if (host.relay < 0) {
			log_warn("running without the relay: %s", err.msg.data);
			err_release(&err);
		}
	}
	host.child = pty_spawn(argv, envp, cwd, (int)rows, (int)cols, confine,
	    best_effort, &host.master, &err);
	if (host.child < 0) {
		log_error("%s", err.msg.data);
		goto fail;
	}
	xasprintf(&path, "%s/host.pid", host.dir);
	char pidtext[32];
	int n = snprintf(pidtext, sizeof pidtext, "%ld %ld\n", (long)getpid(),
	    (long)host.child);
	write_file_replace(path, pidtext, (size_t)n, 0600, 0, NULL);
	free(path);
	uv_poll_init(host.loop, &host.pty_poll, host.master);
	poll_update();
	/* a child that exited before the signal handler saw it */
	sigchld_cb(&host.sig_chld, SIGCHLD);
	if (!host.finishing) {
		uv_timer_start(&host.trim_timer, trim_timer_cb, 250, 0);
		uv_unref((uv_handle_t *)&host.trim_timer);
	}

	uv_run(host.loop, UV_RUN_DEFAULT);
	rc = 0;
fail:
	if (rc != 0) {
		/* tell the daemon through the exit file: nothing ran */
		host.exit_code = 127;
		host_record_exit(host.exit_code, 0);
	}
	strv_free(argv);
	strv_free(envp);
	strv_free(confine);
	free(host.relay_sock);
	json_decref(spec);
	screen_free(host.screen);
	buf_release(&host.pty_in);
	if (host.loop)
		uv_loop_close(host.loop);
	free(host.dir);
	host_records_free();
	err_release(&err);
	/* under Slurm the job ends as the program did (sacct, squeue) */
	return rc == 0 && remote ? host.exit_code & 0xff : rc;
}
