/*
 * The daemon's link to a session's host (host.c): hello, "watch", then
 * status and exit events and peek's answers. Any executor whose hosts
 * serve host.sock in the session dir uses it (local, and Slurm on a
 * filesystem the daemon shares with the node). When the session goes
 * first the link is detached and frees itself from its close callback.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "host-link.h"
#include "log.h"
#include "session.h"
#include "util.h"
#include "xmalloc.h"

static const struct executor_sink *sink;

void
host_link_init(const struct executor_sink *s)
{
	sink = s;
}

struct host_link {
	uv_pipe_t pipe;
	uv_connect_t creq;
	struct proto_reader rd;
	struct session *s; /* NULL once detached */
	const struct host_link_cb *cb;
	int greeted;
	int closing;
};

struct link_write {
	uv_write_t req;
	uv_buf_t buf;
};

static void
link_close_cb(uv_handle_t *h)
{
	struct host_link *l = container_of(h, struct host_link, pipe);

	proto_reader_release(&l->rd);
	free(l);
}

static void
link_close(struct host_link *l)
{
	if (l->closing)
		return;
	l->closing = 1;
	uv_close((uv_handle_t *)&l->pipe, link_close_cb);
}

void
host_link_detach(struct host_link *l)
{
	if (l->s)
		l->s->link = NULL;
	l->s = NULL;
	link_close(l);
}

/* The host went away: what happened is in its exit file, or nowhere. */
static void
link_lost(struct host_link *l)
{
	struct session *s = l->s;

	host_link_detach(l);
	if (s)
		l->cb->gone(s);
}

static void
link_write_cb(uv_write_t *req, int status)
{
	struct link_write *w = (struct link_write *)req;

	free(w->buf.base);
	free(w);
}

void
host_link_send(struct host_link *l, json_t *msg)
{
	struct buf b = BUF_INIT;
	struct link_write *w;
	size_t len;

	if (l->closing || proto_encode(&b, msg, NULL) < 0) {
		buf_release(&b);
		return;
	}
	w = xmalloc(sizeof *w);
	w->buf.base = buf_detach(&b, &len);
	w->buf.len = len;
	if (uv_write(&w->req, (uv_stream_t *)&l->pipe, &w->buf, 1,
	        link_write_cb) != 0) {
		free(w->buf.base);
		free(w);
	}
}

static void
link_alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	static char slab[65536];

	buf->base = slab;
	buf->len = sizeof slab;
}

/* {"event":"status","pid":N} or {"event":"exit","exited":true,
 * "code":N,"signal":N} from the host */
void
host_link_status(struct session *s, json_t *ev)
{
	json_int_t pid = 0, code = 0, sig = 0;

	proto_get_int(ev, "pid", &pid, NULL);
	const char *lost = json_string_value(json_object_get(ev, "log_error"));
	if (lost)
		sink->output_lost(s, lost);
	if (json_is_true(json_object_get(ev, "exited"))) {
		if (pid > 0)
			s->pid = (long)pid;
		proto_get_int(ev, "code", &code, NULL);
		proto_get_int(ev, "signal", &sig, NULL);
		sink->exited(s, (int)code, (int)sig);
		return;
	}
	sink->status(s, (long)pid);
}

static void
link_read_cb(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
	struct host_link *l = container_of(stream, struct host_link, pipe);
	struct err err = ERR_INIT;
	json_t *msg;
	int rc;

	if (nread < 0) {
		link_lost(l);
		return;
	}
	proto_feed(&l->rd, buf->base, (size_t)nread);
	while (l->s && (rc = proto_next(&l->rd, &msg, &err)) != 0) {
		if (rc < 0) {
			log_warn("bad frame from host: %s", err.msg.data);
			if (l->rd.broken) {
				link_lost(l);
				break;
			}
			continue;
		}
		const char *ev =
		    json_string_value(json_object_get(msg, "event"));
		if (!l->greeted) {
			l->greeted = 1;
			int agreed;
			if (proto_check_host_hello(msg, &agreed, &err) < 0) {
				log_error(
				    "host %s: %s", l->s->id, err.msg.data);
				json_decref(msg);
				link_lost(l);
				break;
			}
		} else if (ev &&
		    (strcmp(ev, "status") == 0 || strcmp(ev, "exit") == 0)) {
			l->s->link_tries = 0;
			store_begin(&galley_db);
			l->cb->status(l->s, msg);
			store_commit(&galley_db);
		} else if (ev == NULL &&
		    json_is_string(json_object_get(msg, "screen"))) {
			/* the answer to peek */
			store_begin(&galley_db);
			sink->screen(l->s,
			    json_string_value(json_object_get(msg, "screen")));
			store_commit(&galley_db);
		}
		json_decref(msg);
	}
	err_release(&err);
}

static void
link_connect_cb(uv_connect_t *req, int status)
{
	struct host_link *l = container_of(req, struct host_link, creq);
	json_t *m;

	if (l->s == NULL) /* detached while connecting */
		return;
	if (status < 0) {
		log_debug("link to %s: %s", l->s->id, uv_strerror(status));
		link_lost(l);
		return;
	}
	m = proto_host_hello();
	host_link_send(l, m);
	json_decref(m);
	m = json_pack("{s:s}", "cmd", "watch");
	host_link_send(l, m);
	json_decref(m);
	uv_read_start((uv_stream_t *)&l->pipe, link_alloc_cb, link_read_cb);
}

int
host_link_open(struct session *s, const struct host_link_cb *cb)
{
	char *dir = session_dir(s), *path, *connpath;
	struct host_link *l;

	xasprintf(&path, "%s/host.sock", dir);
	free(dir);
	if (s->link)
		host_link_detach(s->link);
	l = xcalloc(1, sizeof *l);
	l->s = s;
	l->cb = cb;
	s->link = l;
	uv_pipe_init(uv_default_loop(), &l->pipe, 0);
	connpath = path;
	/* libuv copies the path into sun_path: go through /proc for a long
	 * one (see sock.c) by opening the dir; the fd lives until connect
	 * completes, which for a unix socket is immediate */
	int dfd = -1;
	char shortp[108];
	if (strlen(path) >= sizeof shortp) {
		char *slash = strrchr(path, '/');
		*slash = '\0';
		dfd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
		*slash = '/';
		snprintf(shortp, sizeof shortp, "/proc/self/fd/%d/%s", dfd,
		    slash + 1);
		connpath = shortp;
	}
	uv_pipe_connect(&l->creq, &l->pipe, connpath, link_connect_cb);
	if (dfd >= 0)
		close(dfd);
	free(path);
	return 0;
}

int
host_link_signal(struct session *s, int sig, int grace_ms)
{
	if (s->link == NULL)
		return -1;
	json_t *m = json_pack("{s:s, s:i, s:i}", "cmd", "signal", "signal", sig,
	    "grace_ms", grace_ms);
	host_link_send(s->link, m);
	json_decref(m);
	return 0;
}

int
host_link_peek(struct session *s)
{
	if (s->link == NULL)
		return -1;
	json_t *m =
	    json_pack("{s:s, s:i, s:i}", "cmd", "peek", "id", 1, "history", 0);
	host_link_send(s->link, m);
	json_decref(m);
	return 0;
}

int
host_link_input(struct session *s, const char *text)
{
	if (s->link == NULL)
		return -1;
	json_t *m = json_pack("{s:s, s:i, s:s, s:b}", "cmd", "send", "id", 2,
	    "text", text, "submit", 1);
	host_link_send(s->link, m);
	json_decref(m);
	return 0;
}

/* ---- exit files ---- */

/* The exit file a host leaves behind: {"code":N} or {"signal":N}. */
int
host_exit_file(struct session *s, int *code, int *sig)
{
	char *path = session_file(s, "exit");
	json_t *o = json_load_file(path, 0, NULL);
	int rc = -1;

	free(path);
	if (json_is_object(o)) {
		const char *lost =
		    json_string_value(json_object_get(o, "log_error"));
		if (lost)
			sink->output_lost(s, lost);
		*code = (int)json_integer_value(json_object_get(o, "code"));
		*sig = (int)json_integer_value(json_object_get(o, "signal"));
		rc = 0;
	}
	json_decref(o);
	return rc;
}
