/* netrelay: the byte pump that lets a --sandbox net agent reach its API
 * endpoint and nothing else (sandbox.c plans it, DESIGN §7).
 *
 *   galley netrelay (--fd N | --listen-unix PATH)...
 *                   (--to HOST:PORT [--connect] | --to-unix PATH)
 *
 * Each connection accepted on a listening socket (inherited as fd N, unix
 * or TCP, or bound here) gets one upstream connection, to HOST:PORT or to
 * the unix socket PATH, and bytes are pumped both ways until both sides
 * are done. With --connect the client must first ask for HOST:PORT as an
 * HTTP proxy would (CONNECT HOST:PORT, or an absolute-form http://HOST:PORT
 * request that is then passed on as is); anything else is answered 400 or
 * 403 and closed. Outside the sandbox's network namespace the host runs
 * one on <session dir>/api.sock towards the endpoint; inside,
 * `galley sandbox-exec` runs one on 127.0.0.1 towards api.sock. A bad peer
 * ends its own connection only. Runs until killed. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "buf.h"
#include "cmd.h"
#include "sock.h"
#include "util.h"
#include "xmalloc.h"

#define RELAY_CHUNK 65536
#define HEAD_MAX 16384
#define SETUP_TIMEOUT_MS 30000 /* to read a CONNECT head and dial */
#define DIAL_TIMEOUT_MS 10000  /* per address */
#define MAX_CONNS 256
#define MAX_LISTEN 8

struct relay {
	uv_loop_t *loop;
	const char *to_unix;
	char *host, *port; /* the endpoint, host without brackets */
	int connect_mode;
	int nconns;
};

struct conn;

union stream {
	uv_tcp_t tcp;
	uv_pipe_t pipe;
};

/* one direction: bytes read from `from` are written to `to`, one chunk
 * in flight at a time (reading stops until the write is done) */
struct dir {
	struct conn *c;
	uv_stream_t *from, *to;
	uv_write_t wreq;
	uv_shutdown_t sreq;
	int eof, shut;
	int close_after; /* a refusal: close once it is written */
	char *wbuf;      /* the chunk in flight, freed when written */
};

struct conn {
	struct relay *r;
	union stream a, b; /* a: the client, b: upstream */
	int a_open, b_open;
	struct dir up, down; /* a->b, b->a */
	uv_timer_t timer;
	uv_work_t work;
	int dial_fd, dial_err;
	int refs, closing, pumping, dialing, draining;
	struct buf head; /* --connect: what was read before the pump */
	size_t head_end; /* bytes of head that are the request head */
	int pass_head;   /* absolute-form: the head goes upstream too */
};

static struct relay relay;

static void conn_close(struct conn *c);

static void
conn_unref(struct conn *c)
{
	if (--c->refs > 0)
		return;
	buf_release(&c->head);
	relay.nconns--;
	free(c);
}

static void
handle_closed(uv_handle_t *h)
{
	conn_unref(h->data);
}

static void
conn_close(struct conn *c)
{
	if (c->closing)
		return;
	c->closing = 1;
	if (c->a_open)
		uv_close((uv_handle_t *)&c->a, handle_closed);
	if (c->b_open)
		uv_close((uv_handle_t *)&c->b, handle_closed);
	uv_close((uv_handle_t *)&c->timer, handle_closed);
}

static void
alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
	(void)h;
	(void)hint;
	b->base = xmalloc(RELAY_CHUNK);
	b->len = RELAY_CHUNK;
}

static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *b);

static void
dir_start(struct dir *d)
{
	if (d->c->closing || d->eof)
		return;
	if (uv_read_start(d->from, alloc_cb, read_cb) != 0)
		conn_close(d->c);
}

static void timeout_cb(uv_timer_t *t);

static void
refused_cb(uv_shutdown_t *r, int status)
{
	struct dir *d = r->data;

	struct conn *c = d->c;

	/* read what the client still sends until it closes (or a moment
	 * passes): closing with unread bytes resets the connection, and a
	 * reset can make the client lose the answer */
	if (status < 0 || c->closing ||
	    uv_read_start(d->to, alloc_cb, read_cb) != 0) {
		conn_close(c);
		return;
	}
	c->draining = 1;
	uv_timer_start(&c->timer, timeout_cb, 2000, 0);
}

static void
write_cb(uv_write_t *w, int status)
{
	struct dir *d = w->data;

	free(d->wbuf);
	d->wbuf = NULL;
	if (status < 0) {
		conn_close(d->c);
		return;
	}
	if (d->close_after) { /* the answer is out: end it cleanly */
		d->sreq.data = d;
		if (d->c->closing ||
		    uv_shutdown(&d->sreq, d->to, refused_cb) != 0)
			conn_close(d->c);
		return;
	}
	dir_start(d);
}

/* Write len bytes of data (taken over) on d; reading resumes once they
 * are written. */
static void
dir_write(struct dir *d, char *data, size_t len)
{
	uv_buf_t b = uv_buf_init(data, (unsigned)len);

	d->wbuf = data;
	d->wreq.data = d;
	if (uv_write(&d->wreq, d->to, &b, 1, write_cb) != 0) {
		free(data);
		d->wbuf = NULL;
		conn_close(d->c);
	}
}

static void
shutdown_cb(uv_shutdown_t *r, int status)
{
	struct dir *d = r->data;
	struct conn *c = d->c;

	d->shut = 1;
	if (status < 0 || (c->up.shut && c->down.shut))
		conn_close(c);
}

static void head_read(struct conn *c, const char *data, size_t len);

static void
read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
	struct conn *c = s->data;
	struct dir *d = s == c->up.from ? &c->up : &c->down;

	if (nread == 0 || c->closing || c->draining) {
		free(b->base);
		if (nread < 0 && !c->closing)
			conn_close(c);
		return;
	}
	if (!c->pumping) { /* --connect, still reading the request head */
		if (nread < 0)
			conn_close(c);
		else
			head_read(c, b->base, (size_t)nread);
		free(b->base);
		return;
	}
	uv_read_stop(s);
	if (nread > 0) {
		dir_write(d, b->base, (size_t)nread);
		return;
	}
	free(b->base);
	if (nread != UV_EOF) { /* reset, or any error: end both */
		conn_close(c);
		return;
	}
	/* a half close is passed on; the connection ends once both
	 * directions have ended */
	d->eof = 1;
	d->sreq.data = d;
	if (uv_shutdown(&d->sreq, d->to, shutdown_cb) != 0)
		conn_close(c);
}

/* ---- dialing upstream (in the thread pool: getaddrinfo and connect
 * block) --------------------------------------------------------------- */

static int
dial_tcp(const char *host, const char *port)
{
	struct addrinfo hints = {0}, *res = NULL, *ai;
	int fd = -1, err = ECONNREFUSED;

	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(host, port, &hints, &res) != 0)
		return -EHOSTUNREACH;
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family,
		    ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
		    ai->ai_protocol);
		if (fd < 0) {
			err = errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		if (errno == EINPROGRESS) {
			struct pollfd p = {fd, POLLOUT, 0};
			int rc, soerr = 0;
			socklen_t sl = sizeof soerr;
			do
				rc = poll(&p, 1, DIAL_TIMEOUT_MS);
			while (rc < 0 && errno == EINTR);
			if (rc == 1 &&
			    getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) ==
			        0 &&
			    soerr == 0)
				break;
			err = rc == 0 ? ETIMEDOUT : soerr ? soerr : errno;
		} else
			err = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd >= 0 ? fd : -err;
}

static void
dial_work(uv_work_t *w)
{
	struct conn *c = w->data;
	struct err e = ERR_INIT;

	if (relay.to_unix) {
		c->dial_fd = sock_connect(relay.to_unix, &e);
		c->dial_err = c->dial_fd < 0 ? errno : 0;
		err_release(&e);
	} else {
		c->dial_fd = dial_tcp(relay.host, relay.port);
		c->dial_err = c->dial_fd < 0 ? -c->dial_fd : 0;
	}
}

static void
refuse(struct conn *c, const char *status, const char *why)
{
	struct buf b = BUF_INIT;

	fprintf(stderr, "galley netrelay: %s: %s\n", status, why);
	buf_addf(&b,
	    "HTTP/1.1 %s\r\nContent-Type: text/plain\r\n"
	    "Content-Length: %zu\r\nConnection: close\r\n\r\n%s\n",
	    status, strlen(why) + 1, why);
	uv_read_stop(c->down.to);
	c->down.close_after = 1;
	dir_write(&c->down, b.data, b.len);
}

static int
open_stream(struct conn *c, int fd)
{
	if (relay.to_unix) {
		uv_pipe_init(relay.loop, &c->b.pipe, 0);
		c->b_open = 1;
		c->refs++;
		return uv_pipe_open(&c->b.pipe, fd);
	}
	uv_tcp_init(relay.loop, &c->b.tcp);
	c->b_open = 1;
	c->refs++;
	return uv_tcp_open(&c->b.tcp, fd);
}

static void
dial_done(uv_work_t *w, int status)
{
	struct conn *c = w->data;
	int fd = status == 0 ? c->dial_fd : -1;

	c->dialing = 0;
	if (c->closing) {
		if (fd >= 0)
			close(fd);
		conn_unref(c);
		return;
	}
	conn_unref(c); /* the work's reference; the handles hold others */
	if (fd < 0) {
		char why[300];
		snprintf(why, sizeof why, "cannot reach %s: %s",
		    relay.to_unix ? relay.to_unix : relay.host,
		    strerror(status == 0 ? c->dial_err : ECANCELED));
		if (relay.connect_mode)
			refuse(c, "502 Bad Gateway", why);
		else {
			fprintf(stderr, "galley netrelay: %s\n", why);
			conn_close(c);
		}
		return;
	}
	if (open_stream(c, fd) != 0) {
		close(fd);
		conn_close(c);
		return;
	}
	c->b.tcp.data = c;
	c->up.to = c->down.from = (uv_stream_t *)&c->b;
	uv_timer_stop(&c->timer);
	c->pumping = 1;
	/* what came with or after the request head goes upstream first */
	size_t from = c->pass_head ? 0 : c->head_end;
	char *rest = NULL;
	size_t nrest = c->head.len > from ? c->head.len - from : 0;
	if (nrest) {
		rest = xmalloc(nrest);
		memcpy(rest, c->head.data + from, nrest);
	}
	buf_release(&c->head);
	if (relay.connect_mode && !c->pass_head) {
		static const char ok[] =
		    "HTTP/1.1 200 Connection established\r\n\r\n";
		dir_write(&c->down, xstrdup(ok), sizeof ok - 1);
	} else
		dir_start(&c->down);
	if (c->closing) {
		free(rest);
		return;
	}
	if (nrest)
		dir_write(&c->up, rest, nrest);
	else
		dir_start(&c->up);
}

static void
dial(struct conn *c)
{
	c->work.data = c;
	c->dialing = 1;
	c->refs++;
	if (uv_queue_work(relay.loop, &c->work, dial_work, dial_done) != 0) {
		c->dialing = 0;
		c->refs--;
		conn_close(c);
	}
}

/* ---- --connect: the request head -------------------------------------- */

/* host[:port] (host may be [v6]) against the endpoint; dport when the
 * port is left out (absolute-form http://) */
static int
authority_allowed(const char *a, size_t len, const char *dport)
{
	char host[256], port[8];
	const char *colon;
	size_t hl;

	if (len == 0 || len >= sizeof host)
		return 0;
	if (a[0] == '[') {
		const char *end = memchr(a, ']', len);
		if (end == NULL)
			return 0;
		hl = (size_t)(end - a - 1);
		memcpy(host, a + 1, hl);
		colon = end + 1 < a + len ? end + 1 : NULL;
		if (colon && *colon != ':')
			return 0;
	} else {
		colon = memchr(a, ':', len);
		hl = colon ? (size_t)(colon - a) : len;
		memcpy(host, a, hl);
	}
	host[hl] = '\0';
	if (colon) {
		size_t pl = (size_t)(a + len - colon - 1);
		if (pl == 0 || pl >= sizeof port)
			return 0;
		memcpy(port, colon + 1, pl);
		port[pl] = '\0';
	} else if (dport)
		snprintf(port, sizeof port, "%s", dport);
	else
		return 0;
	for (const char *p = port; *p; p++)
		if (*p < '0' || *p > '9')
			return 0;
	return hl > 0 && strcasecmp(host, relay.host) == 0 &&
	    strtol(port, NULL, 10) == strtol(relay.port, NULL, 10);
}

static void
head_read(struct conn *c, const char *data, size_t len)
{
	char *end, *sp1, *sp2, *line;

	buf_add(&c->head, data, len);
	buf_addc(&c->head, '\0'); /* a terminator, not part of the head */
	c->head.len--;
	end = strstr(c->head.data, "\r\n\r\n");
	if (end == NULL) {
		if (memchr(c->head.data, '\0', c->head.len))
			refuse(c, "400 Bad Request", "not an HTTP request");
		else if (c->head.len > HEAD_MAX)
			refuse(c, "431 Request Header Fields Too Large",
			    "the request head is too long");
		return;
	}
	uv_read_stop(c->up.from);
	c->head_end = (size_t)(end - c->head.data) + 4;
	line = c->head.data;
	size_t ll = strcspn(line, "\r\n");
	sp1 = memchr(line, ' ', ll);
	sp2 = sp1 ? memchr(sp1 + 1, ' ', ll - (size_t)(sp1 + 1 - line)) : NULL;
	if (sp1 == NULL || sp2 == NULL || sp1 == line ||
	    strncmp(sp2 + 1, "HTTP/1.", 7) != 0) {
		refuse(c, "400 Bad Request", "not an HTTP proxy request");
		return;
	}
	const char *target = sp1 + 1;
	size_t tl = (size_t)(sp2 - target);
	char allowed[300];
	snprintf(allowed, sizeof allowed, "only %s%s%s:%s is allowed",
	    strchr(relay.host, ':') ? "[" : "", relay.host,
	    strchr(relay.host, ':') ? "]" : "", relay.port);
	if ((size_t)(sp1 - line) == 7 && strncmp(line, "CONNECT", 7) == 0) {
		if (!authority_allowed(target, tl, NULL)) {
			refuse(c, "403 Forbidden", allowed);
			return;
		}
	} else if (tl > 7 && strncasecmp(target, "http://", 7) == 0) {
		/* a plain-http proxy request: the bytes go on as they are
		 * (servers take the absolute form), to the endpoint only */
		size_t al = strcspn(target + 7, "/?# ");
		if (al > tl - 7)
			al = tl - 7;
		if (!authority_allowed(target + 7, al, "80")) {
			refuse(c, "403 Forbidden", allowed);
			return;
		}
		c->pass_head = 1;
	} else {
		refuse(c, "400 Bad Request",
		    "expected CONNECT host:port or an http:// URL");
		return;
	}
	dial(c);
}

/* ---- accepting -------------------------------------------------------- */

static void
timeout_cb(uv_timer_t *t)
{
	struct conn *c = t->data;

	if (c->pumping && !c->draining)
		return;
	if (relay.connect_mode && !c->draining && !c->dialing &&
	    c->down.wbuf == NULL)
		refuse(c, "408 Request Timeout", "no request in time");
	else
		conn_close(c);
}

static void
accept_cb(uv_stream_t *server, int status)
{
	struct conn *c;
	int rc;

	if (status < 0)
		return;
	c = xcalloc(1, sizeof *c);
	c->r = &relay;
	relay.nconns++;
	if (server->type == UV_TCP)
		uv_tcp_init(relay.loop, &c->a.tcp);
	else
		uv_pipe_init(relay.loop, &c->a.pipe, 0);
	c->a_open = 1;
	c->a.tcp.data = c;
	uv_timer_init(relay.loop, &c->timer);
	c->timer.data = c;
	c->refs = 2;
	c->up.c = c->down.c = c;
	c->up.from = c->down.to = (uv_stream_t *)&c->a;
	rc = uv_accept(server, (uv_stream_t *)&c->a);
	if (rc != 0 || relay.nconns > MAX_CONNS) {
		if (rc == 0)
			fprintf(stderr,
			    "galley netrelay: over %d connections: "
			    "refused\n",
			    MAX_CONNS);
		conn_close(c);
		return;
	}
	uv_timer_start(&c->timer, timeout_cb, SETUP_TIMEOUT_MS, 0);
	if (relay.connect_mode) {
		if (uv_read_start(c->up.from, alloc_cb, read_cb) != 0)
			conn_close(c);
	} else
		dial(c);
}

/* ---- the verb --------------------------------------------------------- */

static int
listen_on(uv_loop_t *loop, int fd, union stream *h)
{
	uv_handle_type t = uv_guess_handle(fd);

	if (t == UV_TCP) {
		uv_tcp_init(loop, &h->tcp);
		if (uv_tcp_open(&h->tcp, fd) != 0)
			return -1;
	} else if (t == UV_NAMED_PIPE) {
		uv_pipe_init(loop, &h->pipe, 0);
		if (uv_pipe_open(&h->pipe, fd) != 0)
			return -1;
	} else
		return -1;
	return uv_listen((uv_stream_t *)h, 128, accept_cb);
}

/* HOST:PORT, HOST may be [v6]: split into relay.host and relay.port */
static int
parse_endpoint(const char *s)
{
	const char *colon = strrchr(s, ':');
	const char *h = s, *he = colon;

	if (colon == NULL || colon == s || colon[1] == '\0')
		return -1;
	if (s[0] == '[') {
		if (colon[-1] != ']')
			return -1;
		h = s + 1;
		he = colon - 1;
	} else if (memchr(s, ':', (size_t)(colon - s)))
		return -1;
	for (const char *p = colon + 1; *p; p++)
		if (*p < '0' || *p > '9')
			return -1;
	long port = strtol(colon + 1, NULL, 10);
	if (he <= h || port < 1 || port > 65535)
		return -1;
	relay.host = xstrndup(h, (size_t)(he - h));
	relay.port = xstrdup(colon + 1);
	return 0;
}

static int
netrelay_run(struct cmd_ctx *ctx)
{
	union stream lis[MAX_LISTEN];
	int fds[MAX_LISTEN], nfd = 0, i;
	const char *to = NULL;

	memset(&relay, 0, sizeof relay);
	for (i = 1; i < ctx->argc; i++) {
		const char *a = ctx->argv[i], *v = ctx->argv[i + 1];
		if (strcmp(a, "--connect") == 0) {
			relay.connect_mode = 1;
			continue;
		}
		if (v == NULL)
			return cmd_usage_error(ctx, "%s needs a value", a);
		i++;
		if (strcmp(a, "--fd") == 0 && nfd < MAX_LISTEN) {
			char *e;
			long n = strtol(v, &e, 10);
			if (*e || n < 0 || n > 65535)
				return cmd_usage_error(ctx, "bad --fd '%s'", v);
			fds[nfd++] = (int)n;
		} else if (strcmp(a, "--listen-unix") == 0 &&
		    nfd < MAX_LISTEN) {
			int fd = sock_listen(v, &ctx->err);
			if (fd < 0)
				return cmd_fail(ctx);
			fds[nfd++] = fd;
		} else if (strcmp(a, "--to") == 0)
			to = v;
		else if (strcmp(a, "--to-unix") == 0)
			relay.to_unix = v;
		else
			return cmd_usage_error(ctx, "unknown option '%s'", a);
	}
	if (nfd == 0 || (to == NULL) == (relay.to_unix == NULL) ||
	    (relay.connect_mode && to == NULL))
		return cmd_usage_error(ctx,
		    "expected --fd N or --listen-unix PATH, and --to "
		    "HOST:PORT [--connect] or --to-unix PATH");
	if (to && parse_endpoint(to) < 0)
		return cmd_usage_error(ctx, "bad --to '%s': HOST:PORT", to);
	signal(SIGPIPE, SIG_IGN);
	/* a dial blocks a pool thread (DNS, connect): room for a few */
	setenv("UV_THREADPOOL_SIZE", "16", 0);
	relay.loop = uv_default_loop();
	for (i = 0; i < nfd; i++) {
		set_cloexec(fds[i]);
		if (listen_on(relay.loop, fds[i], &lis[i]) != 0) {
			fprintf(stderr,
			    "galley netrelay: fd %d is not a listening "
			    "socket\n",
			    fds[i]);
			return 1;
		}
	}
	printf("ready\n");
	fflush(stdout);
	uv_run(relay.loop, UV_RUN_DEFAULT);
	return 0;
}

const struct cmd_entry cmd_netrelay_entry = {
    .name = "netrelay",
    .usage = "(--fd N | --listen-unix PATH)... (--to HOST:PORT [--connect] "
             "| --to-unix PATH)",
    .summary = "(internal) relay connections to one endpoint (--sandbox "
               "net)",
    .flags = CMD_INTERNAL | CMD_NOJSON,
    .run = netrelay_run,
};
