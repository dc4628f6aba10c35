/* galley attach ID: the session in this terminal. The host repaints its
 * screen, then bytes flow both ways; the detach key (setting detachKey,
 * default C-\) leaves it running. */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "settings.h"
#include "sock.h"
#include "term.h"
#include "util.h"

static volatile sig_atomic_t winch = 1;

static void
winch_handler(int sig)
{
	winch = 1;
}

static int
send_msg(int fd, char type, const void *data, size_t len)
{
	unsigned char hdr[3] = {
	    (unsigned char)type, (unsigned char)(len >> 8), (unsigned char)len};

	if (write_all(fd, hdr, 3) < 0)
		return -1;
	return len ? write_all(fd, data, len) : 0;
}

static int
attach_loop(int fd, int key, struct proto_reader *rd)
{
	char buf[65536];
	struct pollfd pfd[2] = {{0, POLLIN, 0}, {fd, POLLIN, 0}};

	/* bytes that arrived with the attach reply are screen output */
	if (rd->in.len)
		write_all(1, rd->in.data, rd->in.len);
	for (;;) {
		if (winch) {
			int rows, cols;
			winch = 0;
			if (term_size(0, &rows, &cols) == 0) {
				unsigned char sz[4] = {
				    (unsigned char)(rows >> 8),
				    (unsigned char)rows,
				    (unsigned char)(cols >> 8),
				    (unsigned char)cols};
				send_msg(fd, 'r', sz, 4);
			}
		}
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (pfd[1].revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t n = read(fd, buf, sizeof buf);
			if (n <= 0)
				return 1; /* the session ended */
			write_all(1, buf, (size_t)n);
		}
		if (pfd[0].revents & (POLLIN | POLLHUP)) {
			ssize_t n = read(0, buf, sizeof buf);
			if (n <= 0)
				return 0;
			char *k = key >= 0 ? memchr(buf, key, (size_t)n) : NULL;
			size_t upto = k ? (size_t)(k - buf) : (size_t)n;
			for (size_t off = 0; off < upto; off += 60000)
				send_msg(fd, 'i', buf + off,
				    upto - off > 60000 ? 60000 : upto - off);
			if (k)
				return 0; /* detach */
		}
	}
}

static int
attach_run(struct cmd_ctx *ctx)
{
	static const struct option opts[] = {
	    {"detach-key", required_argument, NULL, 'k'}, CMD_LONGOPTS_COMMON,
	    {NULL, 0, NULL, 0}};
	struct proto_reader rd = PROTO_READER_INIT;
	const char *keyname = NULL;
	struct settings set;
	struct termios saved;
	json_t *s, *reply;
	int c, rc, fd, key, rows = 24, cols = 80, ended;
	char cwd[PATH_MAX];

	while (
	    (c = getopt_long(ctx->argc, ctx->argv, ":k:h", opts, NULL)) != -1) {
		if (c == 'k')
			keyname = optarg;
		else if ((rc = cmd_opt_common(ctx, c)) >= 0)
			return rc;
	}
	if (optind + 1 != ctx->argc)
		return cmd_usage_error(ctx, "expected one session ID");
	if (!isatty(0) || !isatty(1)) {
		err_set(&ctx->err, ERR_USAGE,
		    "attach needs a terminal: use 'galley peek' or "
		    "'galley send' from scripts");
		return cmd_fail(ctx);
	}
	if (settings_load(
	        &set, getcwd(cwd, sizeof cwd) ? cwd : "/", &ctx->err) < 0)
		return cmd_fail(ctx);
	if (keyname == NULL)
		keyname = settings_get_str(&set, "detachKey");
	key = detach_key_parse(keyname ? keyname : "C-\\");
	if (key < 0) {
		settings_release(&set);
		return cmd_usage_error(ctx, "invalid detach key '%s'", keyname);
	}
	char keyshow[16];
	snprintf(keyshow, sizeof keyshow, "%s", keyname ? keyname : "C-\\");
	settings_release(&set);
	s = cmd_get_session(ctx, ctx->argv[optind]);
	if (s == NULL)
		return cmd_fail(ctx);
	fd = cmd_host_open(ctx, s, &rd);
	if (fd < 0) {
		json_decref(s);
		return cmd_fail(ctx);
	}
	term_size(0, &rows, &cols);
	reply = cmd_host_call(ctx, fd, &rd,
	    json_pack("{s:s, s:i, s:i}", "cmd", "attach", "rows", rows, "cols",
	        cols));
	if (reply == NULL) {
		close(fd);
		json_decref(s);
		proto_reader_release(&rd);
		return cmd_fail(ctx);
	}
	json_decref(reply);
	/* one line before the session's screen takes over: where you are
	 * and the way out */
	printf(
	    "attached to %s · %s detaches\n", session_str(s, "name"), keyshow);
	fflush(stdout);
	signal(SIGWINCH, winch_handler);
	term_raw(0, &saved);
	ended = attach_loop(fd, key, &rd);
	term_restore(0, &saved);
	close(fd);
	/* leave the terminal as we found it: main screen, cursor, colours */
	if (ended == 1)
		printf("\033[?1049l\033[0m\033[?25h\r\n[session %s ended]\n",
		    session_str(s, "name"));
	else
		printf("\033[?1049l\033[0m\033[?25h\r\n[detached from %s]\n",
		    session_str(s, "name"));
	if (ended != 1)
		printf("(detach key %s; 'galley attach %s' to return)\n",
		    keyshow, session_str(s, "name"));
	json_decref(s);
	proto_reader_release(&rd);
	return 0;
}

const struct cmd_entry cmd_attach_entry = {
    .name = "attach",
    .usage = "ID [--detach-key KEY]",
    .summary = "attach this terminal to a session (detach: C-\\)",
    .help = "  -k, --detach-key K  key that detaches, e.g. C-\\ or C-a\n"
            "                      (setting detachKey)\n",
    .flags = CMD_NOJSON,
    .run = attach_run,
};
