/* galley logs ID [-f] [--raw] [--agent AGENT]: the session's output history
 * from its raw log. Plain mode strips terminal escapes; -f follows until it
 * ends. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cmd-logs-agent.h"
#include "cmd.h"
#include "executor.h"
#include "util.h"
#include "xmalloc.h"

/* Escape-sequence stripper that keeps its state across chunks. */
struct strip {
	int st; /* 0 text, 1 ESC, 2 CSI, 3 OSC/DCS string, 4 string ESC */
};

static void
strip_feed(struct strip *sp, const char *p, size_t n, struct buf *out)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		switch (sp->st) {
		case 0:
			if (c == 0x1b)
				sp->st = 1;
			else if (c == '\r') {
				if (i + 1 < n && p[i + 1] == '\n')
					continue;
				buf_addc(out, '\n');
			} else if (c == '\n' || c == '\t' || c >= 0x20 ||
			    c >= 0x80)
				buf_addc(out, (char)c);
			break;
		case 1:
			if (c == '[')
				sp->st = 2;
			else if (c == ']' || c == 'P' || c == '_' || c == '^')
				sp->st = 3;
			else
				sp->st = 0;
			break;
		case 2:
			if (c >= 0x40 && c <= 0x7e)
				sp->st = 0;
			break;
		case 3:
			if (c == 0x07)
				sp->st = 0;
			else if (c == 0x1b)
				sp->st = 4;
			break;
		case 4:
			sp->st = c == '\\' ? 0 : 3;
			break;
		}
	}
}

static int
emit(int fd, int raw, struct strip *sp, off_t *off, struct buf *json)
{
	char chunk[65536];
	ssize_t n;

	while ((n = pread(fd, chunk, sizeof chunk, *off)) > 0) {
		*off += n;
		if (json) {
			if (raw)
				buf_add(json, chunk, (size_t)n);
			else
				strip_feed(sp, chunk, (size_t)n, json);
			continue;
		}
		if (raw) {
			if (write_all(1, chunk, (size_t)n) < 0)
				return -1;
		} else {
			struct buf b = BUF_INIT;
			strip_feed(sp, chunk, (size_t)n, &b);
			int rc = (int)write_all(1, b.data, b.len);
			buf_release(&b);
			if (rc < 0)
				return -1;
		}
	}
	return 0;
}

/* output.log.1, the log before the last rotation (logs.maxBytes), whole:
 * it comes first. */
static int
emit_rotated(const char *prev, int raw, struct strip *sp, struct buf *json)
{
	int fd = open(prev, O_RDONLY | O_CLOEXEC), rc = 0;
	off_t off = 0;

	if (fd >= 0) {
		rc = emit(fd, raw, sp, &off, json);
		close(fd);
	}
	return rc;
}

/* The whole log as one JSON string, valid UTF-8. */
static void
print_json_log(
    json_t *s, const char *prev, int fd, int raw, struct strip *sp, off_t *off)
{
	struct buf b = BUF_INIT, clean = BUF_INIT;

	emit_rotated(prev, raw, sp, &b);
	if (fd >= 0)
		emit(fd, raw, sp, off, &b);
	utf8_sanitize(b.data, b.len, &clean);
	json_t *text = json_stringn(clean.data ? clean.data : "", clean.len);
	json_t *o =
	    json_pack("{s:s, s:o}", "id", session_str(s, "id"), "log", text);
	cmd_print_json(o);
	json_decref(o);
	buf_release(&clean);
	buf_release(&b);
}

/* Print output.log from the start, and with follow what comes, across
 * rotations, until the session ends or goes. */
static int
print_log(json_t *s, const char *path, const char *exitpath, int *fd, int raw,
    int follow, struct strip *sp)
{
	off_t off = 0;

	for (;;) {
		if (*fd < 0)
			*fd = open(path, O_RDONLY | O_CLOEXEC);
		if (*fd >= 0 && emit(*fd, raw, sp, &off, NULL) < 0)
			return -1;
		struct stat now, had;
		if (*fd >= 0 && stat(path, &now) == 0 &&
		    fstat(*fd, &had) == 0 && now.st_ino != had.st_ino) {
			/* rotated while followed: the old one was read to its
			 * end just now; the new one from its start */
			close(*fd);
			*fd = open(path, O_RDONLY | O_CLOEXEC);
			off = 0;
			continue;
		}
		if (!follow)
			break;
		/* the host writes the exit file after the log's last byte */
		if (access(exitpath, F_OK) == 0) {
			if (*fd >= 0)
				emit(*fd, raw, sp, &off, NULL);
			break;
		}
		struct stat st;
		if (stat(session_str(s, "dir"), &st) != 0)
			break; /* removed */
		struct timespec ts = {0, 50 * 1000000L};
		nanosleep(&ts, NULL);
	}
	return 0;
}

static int
logs_run(struct cmd_ctx *ctx)
{
	static const struct option opts[] = {{"follow", no_argument, NULL, 'f'},
	    {"raw", no_argument, NULL, 'R'},
	    {"agent", required_argument, NULL, 'A'}, CMD_LONGOPTS_COMMON,
	    {NULL, 0, NULL, 0}};
	struct strip sp = {0};
	int c, rc, follow = 0, raw = 0, fd;
	char *path, *exitpath, *prev;
	const char *agent = NULL;
	off_t off = 0;
	json_t *s;

	while (
	    (c = getopt_long(ctx->argc, ctx->argv, ":fh", opts, NULL)) != -1) {
		if (c == 'f')
			follow = 1;
		else if (c == 'R')
			raw = 1;
		else if (c == 'A')
			agent = optarg;
		else if ((rc = cmd_opt_common(ctx, c)) >= 0)
			return rc;
	}
	if (optind + 1 != ctx->argc)
		return cmd_usage_error(ctx, "expected one session ID");
	if (follow && ctx->json)
		return cmd_usage_error(ctx, "--follow and --json do not mix");
	s = cmd_get_session(ctx, ctx->argv[optind]);
	if (s == NULL)
		return cmd_fail(ctx);
	if (agent) { /* one of its subagents' transcript */
		rc = logs_agent(ctx, s, agent);
		json_decref(s);
		return rc;
	}
	const struct executor *ex = cmd_executor(ctx, s);
	if (ex == NULL) {
		json_decref(s);
		return cmd_fail(ctx);
	}
	path = ex->file(s, "output.log");
	prev = ex->file(s, "output.log.1");
	exitpath = ex->file(s, "exit");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if ((fd < 0 && !follow) || ctx->json) { /* fd < 0: no output yet */
		if (ctx->json)
			print_json_log(s, prev, fd, raw, &sp, &off);
		rc = 0;
		goto out;
	}
	if (emit_rotated(prev, raw, &sp, NULL) < 0) {
		rc = 1;
		goto out;
	}
	rc = print_log(s, path, exitpath, &fd, raw, follow, &sp) < 0;
	goto out;
out:
	if (fd >= 0)
		close(fd);
	free(path);
	free(prev);
	free(exitpath);
	json_decref(s);
	return rc;
}

const struct cmd_entry cmd_logs_entry = {
    .name = "logs",
    .usage = "ID [-f] [--raw] [--agent AGENT]",
    .summary = "show a session's output history",
    .help = "  -f, --follow        keep printing until the session ends\n"
            "      --raw           the bytes as the program wrote them\n"
            "      --agent AGENT   a subagent's transcript, as text (its id\n"
            "                      or a unique prefix, from ls --tree)\n",
    .run = logs_run,
};
