/* galley send ID TEXT: type a reply or a new instruction into a session.
 * Enter is sent as CR in the same write (TUIs ignore LF); multi-line text
 * goes as one bracketed paste when the program asked for that. */
#include <string.h>
#include <unistd.h>

#include "cmd.h"

static int
send_run(struct cmd_ctx *ctx)
{
	static const struct option opts[] = {
	    {"no-enter", no_argument, NULL, 'E'},
	    {"raw", no_argument, NULL, 'R'}, CMD_LONGOPTS_COMMON,
	    {NULL, 0, NULL, 0}};
	struct proto_reader rd = PROTO_READER_INIT;
	struct buf text = BUF_INIT;
	json_t *s, *reply, *jt;
	int c, rc, fd, submit = 1, raw = 0;

	while (
	    (c = getopt_long(ctx->argc, ctx->argv, ":h", opts, NULL)) != -1) {
		if (c == 'E')
			submit = 0;
		else if (c == 'R')
			raw = 1;
		else if ((rc = cmd_opt_common(ctx, c)) >= 0)
			return rc;
	}
	if (optind + 2 > ctx->argc)
		return cmd_usage_error(ctx, "expected ID and TEXT");
	for (int i = optind + 1; i < ctx->argc; i++)
		buf_addf(
		    &text, "%s%s", i > optind + 1 ? " " : "", ctx->argv[i]);
	jt = json_stringn(text.data, text.len);
	buf_release(&text);
	if (jt == NULL)
		return cmd_usage_error(ctx, "TEXT is not valid UTF-8");
	s = cmd_get_session(ctx, ctx->argv[optind]);
	if (s == NULL) {
		json_decref(jt);
		return cmd_fail(ctx);
	}
	/* a reply to a held session releases it (session-policy.c); raw
	 * bytes are keystrokes, as in attach, and do not */
	const char *wf = session_str(s, "waiting_for");
	if (!raw && strcmp(session_str(s, "state"), "blocked") == 0 &&
	    (strcmp(wf, "budget") == 0 || strncmp(wf, "runaway:", 8) == 0)) {
		json_t *r = cmd_call(ctx,
		    json_pack("{s:s, s:s, s:s}", "cmd", "budget", "op", "reply",
		        "session", session_str(s, "id")));
		if (r == NULL) {
			json_decref(jt);
			json_decref(s);
			return cmd_fail(ctx);
		}
		json_decref(r);
	}
	fd = cmd_host_open(ctx, s, &rd);
	if (fd < 0) {
		json_decref(jt);
		json_decref(s);
		return cmd_fail(ctx);
	}
	reply = cmd_host_call(ctx, fd, &rd,
	    json_pack("{s:s, s:o, s:b, s:b}", "cmd", "send", "text", jt,
	        "submit", submit, "raw", raw));
	close(fd);
	proto_reader_release(&rd);
	if (reply == NULL) {
		json_decref(s);
		return cmd_fail(ctx);
	}
	if (ctx->json) {
		json_t *out =
		    json_pack("{s:s, s:O}", "id", session_str(s, "id"), "bytes",
		        json_object_get(reply, "bytes"));
		cmd_print_json(out);
		json_decref(out);
	} else
		printf("sent to %s\n", session_str(s, "name"));
	json_decref(reply);
	json_decref(s);
	return 0;
}

const struct cmd_entry cmd_send_entry = {
    .name = "send",
    .usage = "ID TEXT...",
    .summary = "type a reply or instruction into a session",
    .help = "      --no-enter      do not press Enter after the text\n"
            "      --raw           send the bytes as they are (no Enter, no "
            "paste)\n"
            "A reply to a session held by its budget lets one more turn "
            "through;\n"
            "to one held as a runaway it lets the session go on (not with "
            "--raw).\n",
    .run = send_run,
};
