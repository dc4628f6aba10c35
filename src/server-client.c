/* One connection to the daemon: frames in, replies and events out. A client
 * whose unsent output passes the cap is dropped, never waited for. */
#include <stdlib.h>
#include <string.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "log.h"
#include "server.h"
#include "sock.h"
#include "util.h"
#include "xmalloc.h"

#define CLIENT_QUEUE_MAX (64u * 1024 * 1024)
/* A connection that has not said hello, or stopped halfway through a
 * frame, for this long is dropped: a local client sends a whole frame in
 * microseconds, and each held connection costs a descriptor. */
#define CLIENT_STALL_MS 5000
/* after a reply this large, give the heap it needed back to the system */
#define TRIM_AFTER_BYTES (1u * 1024 * 1024)

static TAILQ_HEAD(, server_client) clients = TAILQ_HEAD_INITIALIZER(clients);

struct write_req {
	uv_write_t req;
	uv_buf_t buf;
};

static void
client_close_cb(uv_handle_t *h)
{
	struct server_client *c = container_of(h, struct server_client, pipe);

	proto_reader_release(&c->rd);
	free(c);
}

void
server_client_close(struct server_client *c)
{
	if (c->closing)
		return;
	c->closing = 1;
	TAILQ_REMOVE(&clients, c, entry);
	uv_close((uv_handle_t *)&c->pipe, client_close_cb);
}

#ifdef __GLIBC__
static uv_timer_t trim_timer;
static int trim_timer_ready;

static void
trim_cb(uv_timer_t *t)
{
	malloc_trim(0);
}
#endif

/* Building a reply of megabytes (ls over thousands of sessions) takes
 * several times that in JSON trees and copies, all freed once it is
 * written; glibc keeps such a heap, so one ls of 10,000 sessions left the
 * daemon at 69 MB RSS instead of 11 for good. Give it back once a burst
 * of big replies is over (not after each: the next one would pay for the
 * page faults). */
static void
trim_later(void)
{
#ifdef __GLIBC__
	if (!trim_timer_ready) {
		uv_timer_init(uv_default_loop(), &trim_timer);
		uv_unref((uv_handle_t *)&trim_timer);
		trim_timer_ready = 1;
	}
	if (!uv_is_closing((uv_handle_t *)&trim_timer))
		uv_timer_start(&trim_timer, trim_cb, 1000, 0);
#endif
}

static void
write_cb(uv_write_t *req, int status)
{
	struct write_req *w = (struct write_req *)req;

	if (w->buf.len >= TRIM_AFTER_BYTES)
		trim_later();
	free(w->buf.base);
	free(w);
}

/* Queue one frame holding payload (JSON text, not yet framed). */
static int
send_payload(struct server_client *c, const char *payload, size_t len)
{
	struct write_req *w;
	unsigned char *p;

	if (len > PROTO_MAX_FRAME)
		return -1;
	w = xmalloc(sizeof *w);
	w->buf.base = xmalloc(len + 4);
	p = (unsigned char *)w->buf.base;
	p[0] = (unsigned char)(len >> 24);
	p[1] = (unsigned char)(len >> 16);
	p[2] = (unsigned char)(len >> 8);
	p[3] = (unsigned char)len;
	memcpy(p + 4, payload, len);
	w->buf.len = len + 4;
	if (uv_write(&w->req, (uv_stream_t *)&c->pipe, &w->buf, 1, write_cb) !=
	    0) {
		free(w->buf.base);
		free(w);
		server_client_close(c);
	}
	return 0;
}

/* A request whose reply cannot be sent (too large) gets an error instead,
 * or its client would wait forever. */
static void
send_too_large(struct server_client *c, json_int_t id, size_t len)
{
	struct buf m = BUF_INIT;
	json_t *r;

	log_error("reply of %zu bytes not sent: over the frame limit", len);
	buf_addf(&m,
	    "reply too large to send (%zu bytes, limit %u): narrow "
	    "the request, e.g. galley ls --state S or --cwd DIR",
	    len, PROTO_MAX_FRAME);
	r = proto_error(id, ERR_FAILED, m.data);
	server_client_send(c, r);
	json_decref(r);
	buf_release(&m);
}

static int
client_writable(struct server_client *c)
{
	if (c->closing)
		return 0;
	if (c->pipe.write_queue_size > CLIENT_QUEUE_MAX) {
		log_warn("client over its output cap: dropped");
		server_client_close(c);
		return 0;
	}
	return 1;
}

void
server_client_send(struct server_client *c, json_t *obj)
{
	char *text;
	size_t len;

	if (!client_writable(c))
		return;
	text = json_dumps(obj, JSON_COMPACT | PROTO_REALS);
	if (text == NULL) {
		log_error("reply not sent: cannot encode");
		return;
	}
	len = strlen(text);
	if (send_payload(c, text, len) < 0) {
		json_t *id = json_object_get(obj, "id");
		if (json_is_integer(id) &&
		    json_object_get(obj, "event") == NULL &&
		    json_is_true(json_object_get(obj, "ok")))
			send_too_large(c, json_integer_value(id), len);
	}
	free(text);
}

/* A reply already encoded by the caller (ls builds its text from cached
 * pieces): payload is a whole JSON object. */
void
server_client_send_text(
    struct server_client *c, json_int_t id, const char *payload, size_t len)
{
	if (!client_writable(c))
		return;
	if (send_payload(c, payload, len) < 0)
		send_too_large(c, id, len);
}

void
server_client_error(
    struct server_client *c, json_int_t id, enum err_code code, const char *msg)
{
	json_t *r = proto_error(id, code, msg);

	server_client_send(c, r);
	json_decref(r);
}

/* hello and subscribe are the connection's own; every other request goes
 * to the handler the daemon gave at accept (server-dispatch.c) */
static void
dispatch(struct server_client *c, json_t *req)
{
	struct err err = ERR_INIT;
	json_int_t id = 0;
	const char *name;
	json_t *reply;

	if (!c->greeted) {
		if (proto_check_hello(req, &err) < 0) {
			server_client_error(c, 0, ERR_PROTOCOL, err.msg.data);
			server_client_close(c);
		} else {
			json_t *h = proto_hello();
			server_client_send(c, h);
			json_decref(h);
			c->greeted = 1;
		}
		goto out;
	}
	if (proto_get_int(req, "id", &id, &err) < 0 ||
	    proto_get_str(req, "cmd", &name, &err) < 0) {
		server_client_error(c, id, err.code, err.msg.data);
		goto out;
	}
	if (name == NULL) {
		server_client_error(c, id, ERR_USAGE, "request has no 'cmd'");
		goto out;
	}
	if (strcmp(name, "subscribe") == 0) {
		c->subscribed = 1;
		reply = json_pack("{s:I, s:b}", "id", id, "ok", 1);
		server_client_send(c, reply);
		json_decref(reply);
		goto out;
	}
	c->handler(c, id, name, req);
out:
	err_release(&err);
}

static uv_timer_t stall_timer;
static int stall_timer_ready;

static void
stall_tick(uv_timer_t *t)
{
	struct server_client *c, *tc;
	int64_t now = (int64_t)now_ms(); /* monotonic */
	int stalled = 0;

	TAILQ_FOREACH_SAFE(c, &clients, entry, tc) {
		if (c->stalled_since == 0 || c->closing)
			continue;
		if (now - c->stalled_since < CLIENT_STALL_MS) {
			stalled = 1;
			continue;
		}
		server_client_error(c, 0, ERR_PROTOCOL,
		    c->greeted ? "timed out in the middle of a frame"
		               : "timed out waiting for hello");
		server_client_close(c);
	}
	if (!stalled)
		uv_timer_stop(t);
}

/* Note whether c owes us something, and watch the clock while any does
 * (no wakeups while every client is idle between frames). */
static void
stall_note(struct server_client *c)
{
	int owes = !c->greeted || c->rd.in.len > 0;

	if (!owes)
		c->stalled_since = 0;
	else if (c->stalled_since == 0)
		c->stalled_since = (int64_t)now_ms();
	if (!owes)
		return;
	if (!stall_timer_ready) {
		uv_timer_init(uv_default_loop(), &stall_timer);
		uv_unref((uv_handle_t *)&stall_timer);
		stall_timer_ready = 1;
	}
	if (!uv_is_active((uv_handle_t *)&stall_timer))
		uv_timer_start(&stall_timer, stall_tick, 1000, 1000);
}

static void
alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	static char slab[65536];

	buf->base = slab;
	buf->len = sizeof slab;
}

static void
read_cb(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
	struct server_client *c =
	    container_of(stream, struct server_client, pipe);
	struct err err = ERR_INIT;
	json_t *req;
	int rc;

	if (nread < 0) {
		server_client_close(c);
		return;
	}
	proto_feed(&c->rd, buf->base, (size_t)nread);
	while (!c->closing && (rc = proto_next(&c->rd, &req, &err)) != 0) {
		if (rc < 0) {
			/* hostile input costs the client, not the daemon */
			log_warn("bad frame from client: %s", err.msg.data);
			server_client_error(c, 0, ERR_PROTOCOL, err.msg.data);
			if (c->rd.broken || !c->greeted) {
				uv_read_stop(stream);
				server_client_close(c);
			}
			err_release(&err);
			continue;
		}
		dispatch(c, req);
		json_decref(req);
	}
	if (!c->closing)
		stall_note(c);
	err_release(&err);
}

void
server_client_accept(uv_stream_t *listener, server_handler_fn *handler)
{
	struct server_client *c = xcalloc(1, sizeof *c);
	uv_os_fd_t fd;

	c->handler = handler;
	uv_pipe_init(uv_default_loop(), &c->pipe, 0);
	if (uv_accept(listener, (uv_stream_t *)&c->pipe) != 0) {
		uv_close((uv_handle_t *)&c->pipe, client_close_cb);
		return;
	}
	TAILQ_INSERT_TAIL(&clients, c, entry);
	if (uv_fileno((uv_handle_t *)&c->pipe, &fd) != 0 || !sock_peer_ok(fd)) {
		server_client_error(c, 0, ERR_REFUSED,
		    "permission denied: socket owned by another user");
		server_client_close(c);
		return;
	}
	uv_read_start((uv_stream_t *)&c->pipe, alloc_cb, read_cb);
	stall_note(c);
}

void
server_client_close_all(void)
{
	struct server_client *c, *tc;

	TAILQ_FOREACH_SAFE(c, &clients, entry, tc)
		server_client_close(c);
}

void
server_broadcast(const char *topic, json_t *ev)
{
	struct server_client *c;

	TAILQ_FOREACH(c, &clients, entry) {
		if (c->subscribed && !c->closing)
			server_client_send(c, ev);
	}
}
