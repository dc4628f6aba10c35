/* galley peek ID: the session's screen as text, without attaching. A
 * finished session shows the screen it left behind. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "executor.h"
#include "util.h"
#include "xmalloc.h"

/* An ended session (or one that ended while we asked): the screen it
 * left, through its executor. *s is refreshed. NULL with ctx->err set
 * when a live session's screen cannot be read. */
static json_t *
left_screen(struct cmd_ctx *ctx, json_t **s)
{
	struct buf b = BUF_INIT;
	struct err e2 = ERR_INIT;
	json_t *fresh = cmd_get_session(ctx, session_str(*s, "id")), *reply;
	const struct executor *ex;
	char *path;

	if (fresh) {
		json_decref(*s);
		*s = fresh;
	}
	if ((ex = cmd_executor(ctx, *s)) == NULL)
		return NULL;
	path = ex->file(*s, "screen.txt");
	if (read_file(path, &b, 16 << 20, &e2) < 0 && session_is_live(*s)) {
		free(path);
		buf_release(&b);
		err_release(&e2);
		return NULL;
	}
	free(path);
	err_release(&e2);
	reply = json_pack("{s:s%}", "screen", b.data ? b.data : "", b.len);
	if (reply == NULL)
		reply = json_pack("{s:s}", "screen", "");
	buf_release(&b);
	return reply;
}

static int
peek_run(struct cmd_ctx *ctx)
{
	static const struct option opts[] = {
	    {"history", required_argument, NULL, 'H'}, CMD_LONGOPTS_COMMON,
	    {NULL, 0, NULL, 0}};
	struct proto_reader rd = PROTO_READER_INIT;
	json_t *s, *reply = NULL;
	long history = 0;
	int c, rc, fd = -1;
	char *end;

	while (
	    (c = getopt_long(ctx->argc, ctx->argv, ":H:h", opts, NULL)) != -1) {
		if (c == 'H') {
			history = strtol(optarg, &end, 10);
			if (*end || history < 0 || history > 1000000)
				return cmd_usage_error(
				    ctx, "--history takes a number of lines");
			continue;
		}
		if ((rc = cmd_opt_common(ctx, c)) >= 0)
			return rc;
	}
	if (optind + 1 != ctx->argc)
		return cmd_usage_error(ctx, "expected one session ID");
	s = cmd_get_session(ctx, ctx->argv[optind]);
	if (s == NULL)
		return cmd_fail(ctx);
	if (session_is_live(s) && (fd = cmd_host_open(ctx, s, &rd)) >= 0) {
		reply = cmd_host_call(ctx, fd, &rd,
		    json_pack(
		        "{s:s, s:i}", "cmd", "peek", "history", (int)history));
		close(fd);
	}
	if (reply == NULL && (reply = left_screen(ctx, &s)) == NULL) {
		json_decref(s);
		return cmd_fail(ctx);
	}
	if (ctx->json) {
		json_object_del(reply, "id");
		json_object_del(reply, "ok");
		json_object_set(reply, "session", s);
		cmd_print_json(reply);
	} else {
		const char *w = session_str(s, "waiting_for");
		printf("── %s · %s%s%s ──\n", session_str(s, "name"),
		    session_str(s, "state"), *w ? " · " : "", w);
		const char *scr = session_str(reply, "screen");
		fputs(scr, stdout);
		if (*scr && scr[strlen(scr) - 1] != '\n')
			putchar('\n');
		const char *lost = session_str(s, "output_error");
		if (*lost) /* the screen is whole; its record is not */
			printf("── %s ──\n", lost);
	}
	json_decref(reply);
	json_decref(s);
	proto_reader_release(&rd);
	return 0;
}

const struct cmd_entry cmd_peek_entry = {
    .name = "peek",
    .usage = "ID [--history N]",
    .summary = "show a session's screen without attaching",
    .help = "  -H, --history N     also the last N lines of scrollback\n",
    .run = peek_run,
};
