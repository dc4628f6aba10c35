/* galley wait ID... [--state done|blocked|any] [--timeout S]: block until
 * every session reaches the state. It subscribes before it looks, so no
 * change can slip between the look and the wait. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "state.h"
#include "util.h"

/* done: ended; blocked: needs input; any: needs the user (blocked, idle)
 * or ended. Returns 1 reached, 0 not yet, -1 never (ended otherwise). */
int
wait_reached(const char *want, const char *state)
{
	int st = state_from_name(state);
	int term = st >= 0 && state_table[st].terminal;

	if (strcmp(want, "done") == 0)
		return term;
	if (strcmp(want, "blocked") == 0)
		return st == SESSION_BLOCKED ? 1 : term ? -1 : 0;
	return term || (st >= 0 && state_table[st].attention);
}

/* On a terminal, say what is waited for, and say again when a session
 * turns blocked: under --state done it will not end until someone
 * answers, and a silent wait would look hung. */
static void
say_waiting(json_t *sessions, const char *want, const char *only)
{
	const char *id;
	json_t *s;
	int pending = 0;

	json_object_foreach(sessions, id, s)
	{
		if (only || wait_reached(want, session_str(s, "state")) != 0)
			continue;
		fprintf(stderr, "%s %s (%s)",
		    pending++                       ? ","
		        : strcmp(want, "done") == 0 ? "galley: waiting to end:"
		        : strcmp(want, "blocked") == 0
		        ? "galley: waiting to block:"
		        : "galley: waiting to end or need you:",
		    session_str(s, "name"), session_str(s, "state"));
	}
	if (pending)
		fputc('\n', stderr);
	if (strcmp(want, "done") != 0)
		return;
	json_object_foreach(sessions, id, s)
	{
		if ((only && strcmp(id, only)) ||
		    strcmp(session_str(s, "state"), "blocked") != 0)
			continue;
		fprintf(stderr,
		    "galley: %s is blocked (%s): it will not end until "
		    "answered: galley send %s TEXT\n",
		    session_str(s, "name"), session_str(s, "waiting_for"),
		    session_str(s, "name"));
	}
}

static int
wait_run(struct cmd_ctx *ctx)
{
	static const struct option opts[] = {
	    {"state", required_argument, NULL, 's'},
	    {"timeout", required_argument, NULL, 't'}, CMD_LONGOPTS_COMMON,
	    {NULL, 0, NULL, 0}};
	const char *want = "done";
	double timeout = -1;
	json_t *reply, *ids, *sessions, *ev;
	int c, rc, nids, failed = 0;
	char *end;

	while ((c = getopt_long(ctx->argc, ctx->argv, ":s:t:h", opts, NULL)) !=
	    -1) {
		switch (c) {
		case 's':
			want = optarg;
			if (strcmp(want, "done") && strcmp(want, "blocked") &&
			    strcmp(want, "any"))
				return cmd_usage_error(
				    ctx, "--state takes done, blocked or any");
			break;
		case 't':
			timeout = strtod(optarg, &end);
			if (*end || timeout < 0 || timeout > 1e7)
				return cmd_usage_error(
				    ctx, "--timeout takes seconds");
			break;
		default:
			if ((rc = cmd_opt_common(ctx, c)) >= 0)
				return rc;
		}
	}
	if (optind >= ctx->argc)
		return cmd_usage_error(ctx, "expected at least one session ID");
	reply = cmd_call(ctx, json_pack("{s:s}", "cmd", "subscribe"));
	if (reply == NULL)
		return cmd_fail(ctx);
	json_decref(reply);
	ids = json_object();
	sessions = json_object();
	for (int i = optind; i < ctx->argc; i++) {
		json_t *s = cmd_get_session(ctx, ctx->argv[i]);
		if (s == NULL) {
			json_decref(ids);
			json_decref(sessions);
			return cmd_fail(ctx);
		}
		json_object_set(sessions, session_str(s, "id"), s);
		json_decref(s);
	}
	int tty = isatty(2);
	if (tty)
		say_waiting(sessions, want, NULL);
	uint64_t deadline =
	    timeout < 0 ? 0 : now_ms() + (uint64_t)(timeout * 1000);
	for (;;) {
		const char *id;
		json_t *s;
		int pending = 0;
		nids = 0;
		json_object_foreach(sessions, id, s)
		{
			int r = wait_reached(want, session_str(s, "state"));
			nids++;
			if (r == 0)
				pending++;
			if (r < 0) {
				err_set(&ctx->err, ERR_FAILED,
				    "session '%s' ended (%s) without reaching "
				    "%s",
				    session_str(s, "name"),
				    session_str(s, "state"), want);
				goto fail;
			}
		}
		if (pending == 0)
			break;
		int left = -1;
		if (timeout >= 0) {
			uint64_t now = now_ms();
			if (now >= deadline) {
				err_set(&ctx->err, ERR_FAILED,
				    "timed out after %gs: %d of %d sessions not "
				    "%s yet",
				    timeout, pending, nids, want);
				goto fail;
			}
			left = (int)(deadline - now);
		}
		rc = client_event(&ctx->cl, &ev, left, &ctx->err);
		if (rc < 0)
			goto fail;
		if (rc == 0)
			continue;
		const char *name = session_str(ev, "event");
		json_t *ns = json_object_get(ev, "session");
		const char *nid = session_str(ns, "id");
		if (strcmp(name, "session.removed") == 0 &&
		    json_object_get(sessions, session_str(ev, "id"))) {
			err_set(&ctx->err, ERR_NOT_FOUND,
			    "session '%s' was removed while waiting",
			    session_str(ev, "name"));
			json_decref(ev);
			goto fail;
		}
		json_t *was = *nid ? json_object_get(sessions, nid) : NULL;
		if (was) {
			int newly =
			    strcmp(session_str(ns, "state"), "blocked") == 0 &&
			    strcmp(session_str(was, "state"), "blocked") != 0;
			json_object_set(sessions, nid, ns);
			if (tty && newly)
				say_waiting(sessions, want, nid);
		}
		json_decref(ev);
	}
	{
		const char *id;
		json_t *s, *arr = json_array();
		json_object_foreach(sessions, id, s)
		{
			const char *st = session_str(s, "state");
			if (strcmp(want, "done") == 0 &&
			    strcmp(st, "done") != 0)
				failed = 1;
			if (ctx->json)
				json_array_append(arr, s);
			else
				printf("%s  %s  %s%s%s\n", id,
				    session_str(s, "name"), st,
				    *session_str(s, "waiting_for") ? "  " : "",
				    session_str(s, "waiting_for"));
		}
		if (ctx->json)
			cmd_print_json(arr);
		json_decref(arr);
	}
	if (failed) {
		const char *id;
		json_t *s;
		struct buf m = BUF_INIT;
		json_object_foreach(sessions, id, s)
		{
			if (strcmp(session_str(s, "state"), "done") != 0)
				buf_addf(&m, "%s%s (%s)", m.len ? ", " : "",
				    session_str(s, "name"),
				    session_str(s, "state"));
		}
		fprintf(stderr, "galley: did not end in done: %s\n", m.data);
		buf_release(&m);
	}
	json_decref(ids);
	json_decref(sessions);
	return failed ? EXIT_FAILED : 0;
fail:
	json_decref(ids);
	json_decref(sessions);
	return cmd_fail(ctx);
}

const struct cmd_entry cmd_wait_entry = {
    .name = "wait",
    .usage = "ID... [--state done|blocked|any] [--timeout S]",
    .summary = "wait until sessions end (--state: block, or need you)",
    .help = "  -s, --state W       done (default): ended, however long a\n"
            "                      blocked one waits for its answer (exit 1\n"
            "                      if one did not end in done); blocked:\n"
            "                      needs input (exit 1 if it ends first);\n"
            "                      any: blocked, idle (ready) or ended\n"
            "  On a terminal it says what it waits for, and when a session\n"
            "  blocks.\n"
            "  -t, --timeout S     give up after S seconds (exit 1)\n",
    .run = wait_run,
};
