/* The daemon's watch connection to one host: hello, "watch", then status
 * and exit events. Owned by the session; when the session goes first the
 * link is detached and frees itself from its close callback. */
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>

#include "log.h"
#include "server.h"
#include "session.h"
#include "util.h"
#include "xmalloc.h"

struct host_link {
	uv_pipe_t pipe;
	uv_connect_t creq;
	struct proto_reader rd;
	struct session *s; /* NULL once detached */
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

/* The host went away: tell the session, which reads the exit file. */
static void
link_lost(struct host_link *l)
{
	struct session *s = l->s;

	host_link_detach(l);
	if (s)
		session_host_gone(s);
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
			if (proto_check_hello(msg, &err) < 0) {
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
			session_on_status(l->s, msg);
			store_commit(&galley_db);
		} else if (ev == NULL &&
		    json_is_string(json_object_get(msg, "screen"))) {
			/* the answer to session-screen.c's peek */
			store_begin(&galley_db);
			session_on_screen(l->s,
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
	m = proto_hello();
	host_link_send(l, m);
	json_decref(m);
	m = json_pack("{s:s}", "cmd", "watch");
	host_link_send(l, m);
	json_decref(m);
	uv_read_start((uv_stream_t *)&l->pipe, link_alloc_cb, link_read_cb);
}

int
host_link_open(struct session *s)
{
	char *dir = session_dir(s), *path, *connpath;
	struct host_link *l;

	xasprintf(&path, "%s/host.sock", dir);
	free(dir);
	if (s->link)
		host_link_detach(s->link);
	l = xcalloc(1, sizeof *l);
	l->s = s;
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
