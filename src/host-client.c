/*
 * Connections to a host: the daemon's watch link, peek/send/resize/signal
 * requests, and attach. After {"cmd":"attach"} the host sends a repaint and
 * then raw PTY bytes; the client sends small binary messages: a type byte
 * ('i' input, 'r' resize), a 2-byte big-endian length, the payload (resize:
 * rows and cols as 2-byte big-endian). A client whose unsent output passes
 * the cap is dropped: a slow terminal never stalls the PTY or the log.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"
#include "log.h"
#include "screen.h"
#include "sock.h"
#include "xmalloc.h"

#define ATTACH_QUEUE_MAX (8u * 1024 * 1024)

struct hwrite {
	uv_write_t req;
	uv_buf_t buf;
};

static void
hc_close_cb(uv_handle_t *h)
{
	struct host_client *c = container_of(h, struct host_client, pipe);

	proto_reader_release(&c->rd);
	buf_release(&c->raw_in);
	free(c);
}

void
host_client_close(struct host_client *c)
{
	if (c->closing)
		return;
	c->closing = 1;
	TAILQ_REMOVE(&host.clients, c, entry);
	uv_close((uv_handle_t *)&c->pipe, hc_close_cb);
}

static void
shutdown_cb(uv_shutdown_t *req, int status)
{
	struct host_client *c = req->data;

	free(req);
	uv_close((uv_handle_t *)&c->pipe, hc_close_cb);
}

/* Close after everything queued has been written. */
void
host_client_shutdown(struct host_client *c)
{
	uv_shutdown_t *req;

	if (c->closing)
		return;
	c->closing = 1;
	TAILQ_REMOVE(&host.clients, c, entry);
	uv_read_stop((uv_stream_t *)&c->pipe);
	req = xmalloc(sizeof *req);
	req->data = c;
	if (uv_shutdown(req, (uv_stream_t *)&c->pipe, shutdown_cb) != 0) {
		free(req);
		uv_close((uv_handle_t *)&c->pipe, hc_close_cb);
	}
}

static void
hwrite_cb(uv_write_t *req, int status)
{
	struct hwrite *w = (struct hwrite *)req;

	free(w->buf.base);
	free(w);
}

void
host_client_raw(struct host_client *c, const char *data, size_t len)
{
	struct hwrite *w;

	if (c->closing || len == 0)
		return;
	if (c->pipe.write_queue_size > ATTACH_QUEUE_MAX) {
		log_warn("attached client too slow: dropped");
		host_client_close(c);
		return;
	}
	w = xmalloc(sizeof *w);
	w->buf.base = xmalloc(len);
	memcpy(w->buf.base, data, len);
	w->buf.len = len;
	if (uv_write(&w->req, (uv_stream_t *)&c->pipe, &w->buf, 1, hwrite_cb) !=
	    0) {
		free(w->buf.base);
		free(w);
		host_client_close(c);
	}
}

void
host_client_send(struct host_client *c, json_t *obj)
{
	struct buf b = BUF_INIT;

	if (proto_encode(&b, obj, NULL) == 0)
		host_client_raw(c, b.data, b.len);
	buf_release(&b);
}

static void
reply(struct host_client *c, json_t *r)
{
	host_client_send(c, r);
	json_decref(r);
}

static void
reply_err(struct host_client *c, json_int_t id, struct err *err)
{
	reply(c,
	    proto_error(id, err->code ? err->code : ERR_FAILED, err->msg.data));
}

/* claude takes a CR in the same write as a paste's end as part of the
 * paste: the Enter that submits it goes a moment later, on its own. */
#define PASTE_ENTER_MS 50

static void
enter_cb(uv_timer_t *t)
{
	(void)t;
	host_write_pty("\r", 1);
}

static void
do_send(struct host_client *c, json_int_t id, json_t *req)
{
	struct err err = ERR_INIT;
	const char *text = NULL;
	int submit = 1, raw = 0;
	struct buf b = BUF_INIT;

	if (proto_get_str(req, "text", &text, &err) < 0 ||
	    proto_get_bool(req, "submit", &submit, &err) < 0 ||
	    proto_get_bool(req, "raw", &raw, &err) < 0) {
		reply_err(c, id, &err);
		goto out;
	}
	if (text == NULL)
		text = "";
	if (uv_is_active((uv_handle_t *)&host.enter_timer)) {
		/* the last paste's Enter goes before anything new */
		uv_timer_stop(&host.enter_timer);
		host_write_pty("\r", 1);
	}
	int pasted = 0;
	if (raw) {
		buf_adds(&b, text);
	} else if (strchr(text, '\n') && host.bracketed) {
		/* multi-line text as one paste, so it is one message */
		buf_adds(&b, "\033[200~");
		buf_adds(&b, text);
		buf_adds(&b, "\033[201~");
		pasted = 1;
	} else {
		buf_adds(&b, text);
	}
	/* Enter as CR (an LF does not submit to TUIs), in the same write
	 * unless the text was pasted */
	if (submit && !raw && !pasted)
		buf_addc(&b, '\r');
	if (submit && pasted)
		uv_timer_start(&host.enter_timer, enter_cb, PASTE_ENTER_MS, 0);
	if (host_write_pty(b.data, b.len) < 0) {
		err_set(&err, ERR_FAILED,
		    host.exited
		        ? "session has exited"
		        : "input not accepted: the program is not reading");
		reply_err(c, id, &err);
	} else
		reply(c,
		    json_pack("{s:I, s:b, s:I}", "id", id, "ok", 1, "bytes",
		        (json_int_t)b.len));
out:
	buf_release(&b);
	err_release(&err);
}

static void
do_peek(struct host_client *c, json_int_t id, json_t *req)
{
	struct buf b = BUF_INIT;
	json_int_t history = 0;
	int row, col, rows, cols;

	if (proto_get_int_in(req, "history", &history, 0, 1000000, NULL) < 0)
		history = 0;
	screen_text(host.screen, (int)history, &b);
	screen_cursor(host.screen, &row, &col);
	screen_size(host.screen, &rows, &cols);
	json_t *r = json_pack("{s:I, s:b, s:s%, s:i, s:i, s:{s:i, s:i}, s:s, "
	                      "s:b}",
	    "id", id, "ok", 1, "screen", b.data, b.len, "rows", rows, "cols",
	    cols, "cursor", "row", row, "col", col, "title",
	    screen_title(host.screen), "altscreen",
	    screen_altscreen(host.screen));
	if (r == NULL) /* not UTF-8: cannot happen, vterm emits UTF-8 */
		r = json_pack(
		    "{s:I, s:b, s:s}", "id", id, "ok", 1, "screen", "");
	reply(c, r);
	buf_release(&b);
}

static void
do_attach(struct host_client *c, json_int_t id, json_t *req)
{
	json_int_t rows = 0, cols = 0;
	struct buf b = BUF_INIT;

	proto_get_int(req, "rows", &rows, NULL);
	proto_get_int(req, "cols", &cols, NULL);
	if (rows > 0 && cols > 0)
		host_resize((int)rows, (int)cols);
	reply(c, json_pack("{s:I, s:b}", "id", id, "ok", 1));
	c->attached = 1;
	screen_repaint(host.screen, &b);
	host_client_raw(c, b.data, b.len);
	buf_release(&b);
	/* whatever followed the attach frame is already input */
	buf_add(&c->raw_in, c->rd.in.data, c->rd.in.len);
	buf_reset(&c->rd.in);
}

static void
dispatch(struct host_client *c, json_t *req)
{
	struct err err = ERR_INIT;
	json_int_t id = 0;
	const char *cmd = NULL;

	if (!c->greeted) {
		int agreed;
		if (proto_check_host_hello(req, &agreed, &err) < 0) {
			reply_err(c, 0, &err);
			host_client_shutdown(c);
		} else {
			c->greeted = 1;
			reply(c, proto_host_hello());
		}
		goto out;
	}
	if (proto_get_int(req, "id", &id, &err) < 0 ||
	    proto_get_str(req, "cmd", &cmd, &err) < 0) {
		reply_err(c, id, &err);
		goto out;
	}
	if (cmd == NULL) {
		err_set(&err, ERR_USAGE, "request has no 'cmd'");
		reply_err(c, id, &err);
	} else if (strcmp(cmd, "watch") == 0) {
		c->watch = 1;
		reply(c, host_status());
	} else if (strcmp(cmd, "peek") == 0) {
		do_peek(c, id, req);
	} else if (strcmp(cmd, "send") == 0) {
		do_send(c, id, req);
	} else if (strcmp(cmd, "resize") == 0) {
		json_int_t rows = 0, cols = 0;
		if (proto_get_int(req, "rows", &rows, &err) < 0 ||
		    proto_get_int(req, "cols", &cols, &err) < 0) {
			reply_err(c, id, &err);
			goto out;
		}
		host_resize((int)rows, (int)cols);
		reply(c, json_pack("{s:I, s:b}", "id", id, "ok", 1));
	} else if (strcmp(cmd, "signal") == 0) {
		json_int_t sig = SIGTERM, grace = 5000;
		if (proto_get_int(req, "signal", &sig, &err) < 0 ||
		    proto_get_int(req, "grace_ms", &grace, &err) < 0 ||
		    sig < 1 || sig >= 32) {
			if (err.code == ERR_NONE)
				err_set(&err, ERR_USAGE, "bad signal number");
			reply_err(c, id, &err);
			goto out;
		}
		host_signal((int)sig, (int)grace);
		reply(c, json_pack("{s:I, s:b}", "id", id, "ok", 1));
	} else if (strcmp(cmd, "attach") == 0) {
		do_attach(c, id, req);
	} else {
		err_set(&err, ERR_USAGE, "unknown host request '%.64s'", cmd);
		reply_err(c, id, &err);
	}
out:
	err_release(&err);
}

/* Attach mode: input and resize messages. */
static void
raw_input(struct host_client *c)
{
	while (c->raw_in.len >= 3) {
		unsigned char *p = (unsigned char *)c->raw_in.data;
		size_t len = (size_t)p[1] << 8 | p[2];
		if (c->raw_in.len < 3 + len)
			return;
		if (p[0] == 'i')
			host_write_pty((const char *)p + 3, len);
		else if (p[0] == 'r' && len == 4)
			host_resize(p[3] << 8 | p[4], p[5] << 8 | p[6]);
		else {
			log_warn("bad attach message type %d", p[0]);
			host_client_close(c);
			return;
		}
		buf_consume(&c->raw_in, 3 + len);
	}
}

static void
hc_alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	static char slab[65536];

	buf->base = slab;
	buf->len = sizeof slab;
}

static void
hc_read_cb(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
	struct host_client *c = container_of(stream, struct host_client, pipe);
	struct err err = ERR_INIT;
	json_t *req;
	int rc;

	if (nread < 0) {
		host_client_close(c);
		return;
	}
	if (c->attached) {
		buf_add(&c->raw_in, buf->base, (size_t)nread);
		raw_input(c);
		return;
	}
	proto_feed(&c->rd, buf->base, (size_t)nread);
	while (!c->closing && !c->attached &&
	    (rc = proto_next(&c->rd, &req, &err)) != 0) {
		if (rc < 0) {
			reply_err(c, 0, &err);
			if (c->rd.broken || !c->greeted)
				host_client_shutdown(c);
			err_release(&err);
			continue;
		}
		dispatch(c, req);
		json_decref(req);
	}
	if (c->attached && !c->closing)
		raw_input(c);
	err_release(&err);
}

void
host_client_accept(uv_stream_t *l)
{
	struct host_client *c = xcalloc(1, sizeof *c);
	uv_os_fd_t fd;

	buf_init(&c->raw_in);
	uv_pipe_init(host.loop, &c->pipe, 0);
	if (uv_accept(l, (uv_stream_t *)&c->pipe) != 0) {
		uv_close((uv_handle_t *)&c->pipe, hc_close_cb);
		return;
	}
	TAILQ_INSERT_TAIL(&host.clients, c, entry);
	if (uv_fileno((uv_handle_t *)&c->pipe, &fd) != 0 || !sock_peer_ok(fd)) {
		host_client_close(c);
		return;
	}
	uv_read_start((uv_stream_t *)&c->pipe, hc_alloc_cb, hc_read_cb);
}
