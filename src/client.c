/* Connect to the daemon, starting it on demand exactly once: take
 * <run>/start.lock, then try to connect again, because another client could
 * have started the daemon between our connect() and flock() (tmux's
 * client_connect). The daemon itself holds <run>/daemon.lock for life, so
 * even a hand-started second daemon exits at once. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "sock.h"
#include "util.h"
#include "xmalloc.h"

int run_dir_check(struct err *);

/* The socket dir must be ours and private. */
int
run_dir_check(struct err *err)
{
	const char *dir = path_run_dir();
	struct stat st;

	if (mkdir_p(dir, 0700, err) < 0)
		return -1;
	/* a shared /tmp: another user may have planted a link, which must
	 * be neither followed nor chmodded */
	if (lstat(dir, &st) != 0)
		return err_set(err, ERR_FAILED, "cannot stat '%s': %s", dir,
		    strerror(errno));
	if (S_ISLNK(st.st_mode) || !S_ISDIR(st.st_mode))
		return err_set(err, ERR_REFUSED,
		    "socket dir '%s' is %s, not a directory: refusing to use "
		    "it (remove it, or set XDG_RUNTIME_DIR)",
		    dir, S_ISLNK(st.st_mode) ? "a symbolic link" : "a file");
	if (st.st_uid != getuid())
		return err_set(err, ERR_REFUSED,
		    "socket dir '%s' belongs to uid %ld: refusing to use it",
		    dir, (long)st.st_uid);
	if ((st.st_mode & 077) != 0 && chmod(dir, 0700) != 0)
		return err_set(err, ERR_FAILED, "cannot make '%s' private: %s",
		    dir, strerror(errno));
	return 0;
}

#define DAEMON_GONE_MSG                                                        \
	"the daemon closed the connection before answering (it stopped or "    \
	"restarted: see daemon.log); the request may or may not have been "    \
	"carried out"

static void
daemon_spawn(void)
{
	pid_t pid = fork();

	if (pid < 0)
		return;
	if (pid == 0) {
		/* double fork so the daemon is not our child and not in our
		 * session: closing the terminal must not touch it */
		setsid();
		if (fork() != 0)
			_exit(0);
		/* hold no directory of the caller's busy */
		if (chdir("/") != 0)
			_exit(127);
		int nul = open("/dev/null", O_RDWR);
		if (nul >= 0) {
			dup2(nul, 0);
			dup2(nul, 1);
			dup2(nul, 2);
			if (nul > 2)
				close(nul);
		}
		execl(self_exe(), "galley", "daemon", "run", (char *)NULL);
		_exit(127);
	}
	waitpid(pid, NULL, 0);
}

static int
try_connect(struct client *c, struct err *err)
{
	struct err quiet = ERR_INIT;

	proto_reader_release(&c->rd);
	c->fd = sock_open_peer(path_socket(), &c->rd, &quiet);
	if (c->fd < 0 && quiet.code == ERR_PROTOCOL)
		err_set(err, ERR_PROTOCOL, "%s", quiet.msg.data);
	err_release(&quiet);
	return c->fd;
}

int
client_connect(struct client *c, int start, struct err *err)
{
	char *lockpath = NULL, *errpath = NULL;
	int lockfd = -1;

	if (try_connect(c, err) >= 0)
		return 0;
	if (err->code == ERR_PROTOCOL)
		return -1;
	if (!start)
		return err_set(err, ERR_UNREACHABLE,
		    "daemon is not running: any galley command starts it");
	/* never from inside a session (a hook, the MCP server, a command an
	 * agent runs): the daemon would inherit that session's environment,
	 * sandbox and limits, and hand them to every session it starts */
	if (getenv("GALLEY_SESSION") != NULL)
		return err_set(err, ERR_UNREACHABLE,
		    "daemon is not running, and a galley session does not "
		    "start it: run any galley command outside the session");
	if (run_dir_check(err) < 0)
		return -1;
	xasprintf(&lockpath, "%s/start.lock", path_run_dir());
	lockfd = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (lockfd < 0 || flock(lockfd, LOCK_EX) != 0) {
		err_set(err, ERR_UNREACHABLE, "cannot lock '%s': %s", lockpath,
		    strerror(errno));
		goto fail;
	}
	if (try_connect(c, err) >= 0)
		goto done;
	xasprintf(&errpath, "%s/start.err", path_run_dir());
	unlink(errpath);
	daemon_spawn();
	for (int i = 0; i < 500; i++) { /* up to ~10 s under sanitizers */
		struct timespec ts = {0, (i < 50 ? 2 : 20) * 1000000L};
		struct buf why = BUF_INIT;
		if (try_connect(c, err) >= 0)
			goto done;
		if (err->code == ERR_PROTOCOL)
			goto fail;
		/* it could not start, and said why: no use waiting */
		if (read_file(errpath, &why, 4096, NULL) == 0 && why.len) {
			err_release(err);
			err_set(err, ERR_FAILED, "the daemon cannot start: %s",
			    why.data);
			buf_release(&why);
			goto fail;
		}
		buf_release(&why);
		nanosleep(&ts, NULL);
	}
	err_set(err, ERR_UNREACHABLE, "daemon did not start: see %s/daemon.log",
	    path_state_dir());
fail:
	if (lockfd >= 0)
		close(lockfd);
	free(lockpath);
	free(errpath);
	return -1;
done:
	close(lockfd);
	free(lockpath);
	free(errpath);
	return 0;
}

void
client_close(struct client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	proto_reader_release(&c->rd);
	json_decref(c->events);
	c->events = NULL;
}

/* A frame that is not the reply awaited: an event is kept (taken). */
static void
keep_event(struct client *c, json_t *frame)
{
	if (json_object_get(frame, "event") == NULL) {
		json_decref(frame); /* a stray frame */
		return;
	}
	if (c->events == NULL)
		c->events = json_array();
	json_array_append_new(c->events, frame);
}

json_t *
client_call(struct client *c, json_t *req, struct err *err)
{
	json_int_t id = c->next_id++;
	json_t *reply = NULL;

	json_object_set_new(req, "id", json_integer(id));
	if (sock_send(c->fd, req, err) < 0) {
		json_decref(req);
		return NULL;
	}
	json_decref(req);
	for (;;) {
		int rc = sock_recv(c->fd, &c->rd, &reply, -1, err);
		if (rc <= 0 && err->code == ERR_UNREACHABLE) {
			/* say who and what may have come of the request */
			err_release(err);
			err_set(err, ERR_UNREACHABLE, "%s", DAEMON_GONE_MSG);
		}
		if (rc <= 0)
			return NULL;
		json_t *rid = json_object_get(reply, "id");
		if (json_is_integer(rid) && json_integer_value(rid) == id)
			break;
		keep_event(c, reply);
		reply = NULL;
	}
	if (!json_is_true(json_object_get(reply, "ok"))) {
		json_t *e = json_object_get(reply, "error");
		const char *code =
		    json_string_value(json_object_get(e, "code"));
		const char *msg =
		    json_string_value(json_object_get(e, "message"));
		err_set(err, err_from_word(code), "%s",
		    msg ? msg : "request failed");
		json_decref(reply);
		return NULL;
	}
	return reply;
}

int
client_event(struct client *c, json_t **out, int timeout_ms, struct err *err)
{
	if (json_array_size(c->events) > 0) {
		*out = json_incref(json_array_get(c->events, 0));
		json_array_remove(c->events, 0);
		return 1;
	}
	for (;;) {
		int rc = sock_recv(c->fd, &c->rd, out, timeout_ms, err);
		if (rc <= 0)
			return rc;
		if (json_object_get(*out, "event") != NULL)
			return 1;
		json_decref(*out);
		*out = NULL;
	}
}

/* Like client_call, but an ok reply comes back as its raw text (for large
 * replies printed as they are). Returns 0, or -1 with err set. */
int
client_call_text(
    struct client *c, json_t *req, struct buf *out, struct err *err)
{
	json_int_t id = c->next_id++;
	char prefix[64];
	char chunk[65536];

	json_object_set_new(req, "id", json_integer(id));
	int rc = sock_send(c->fd, req, err);
	json_decref(req);
	if (rc < 0)
		return -1;
	snprintf(
	    prefix, sizeof prefix, "{\"id\":%lld,\"ok\":true", (long long)id);
	for (;;) {
		buf_reset(out);
		while ((rc = proto_next_raw(&c->rd, out, err)) == 0) {
			ssize_t n = read(c->fd, chunk, sizeof chunk);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				return err_set(err, ERR_UNREACHABLE, "%s",
				    DAEMON_GONE_MSG);
			proto_feed(&c->rd, chunk, (size_t)n);
		}
		if (rc < 0)
			return -1;
		if (strncmp(out->data, prefix, strlen(prefix)) == 0)
			return 0;
		/* an error reply (or a stray event): decode it */
		json_t *o = json_loadb(out->data, out->len, 0, NULL);
		json_t *rid = json_object_get(o, "id");
		if (json_is_integer(rid) && json_integer_value(rid) == id) {
			json_t *e = json_object_get(o, "error");
			const char *msg =
			    json_string_value(json_object_get(e, "message"));
			err_set(err,
			    err_from_word(
			        json_string_value(json_object_get(e, "code"))),
			    "%s", msg ? msg : "request failed");
			json_decref(o);
			return -1;
		}
		if (o)
			keep_event(c, o);
	}
}
