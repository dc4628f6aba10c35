/*
 * `galley hook EVENT`: what a runtime's hooks run. It reads the payload on
 * stdin and forwards it with the session's id and token (from the
 * environment galley gave the agent); the daemon accepts it only when both
 * match, so one session can never speak for another. Outside a galley
 * session it exits 0 and says nothing: a hook must never break the agent
 * it serves. Nor hang it: the request is spooled first (hook-spool.c) and
 * the answer awaited GALLEY_HOOK_TIMEOUT_MS (5 s); without one the
 * request stays spooled for the daemon to apply later, and the hook ends:
 * 0, or 2 for PreToolUse (the tool call is held back rather than let
 * through unchecked). It never starts the daemon: one started from inside
 * a session would carry that session's environment and sandbox; a tool
 * call waits the same timeout for a daemon to come back.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "cmd.h"
#include "hook-spool.h"
#include "names.h"
#include "proto.h"
#include "server.h"
#include "session.h"

#define HOOK_PAYLOAD_MAX (4u * 1024 * 1024)
#define HOOK_TIMEOUT_MS 5000

static volatile sig_atomic_t hold_tool, reached;

static void
timeout_cb(int sig)
{
	static const char msg[] =
	    "galley: the daemon did not answer in time; this hook is kept "
	    "and applied when it does\n";
	static const char held[] =
	    "galley: the daemon did not answer in time: tool call held back, "
	    "try it again shortly\n";
	static const char down[] =
	    "galley: the galley daemon is not running, so this tool call "
	    "cannot be checked against the session's rules: held back until "
	    "it runs again (any galley command outside the session starts "
	    "it)\n";

	(void)sig;
	if (hold_tool && !reached) {
		(void)!write(2, down, sizeof down - 1);
		_exit(2);
	}
	if (hold_tool) {
		(void)!write(2, held, sizeof held - 1);
		_exit(2);
	}
	(void)!write(2, msg, sizeof msg - 1);
	_exit(0);
}

static void
arm_timeout(void)
{
	const char *v = getenv("GALLEY_HOOK_TIMEOUT_MS");
	long ms = v ? strtol(v, NULL, 10) : HOOK_TIMEOUT_MS;
	struct itimerval it = {{0, 0}, {0, 0}};

	if (ms <= 0 || ms > 600000)
		ms = HOOK_TIMEOUT_MS;
	it.it_value.tv_sec = ms / 1000;
	it.it_value.tv_usec = (ms % 1000) * 1000;
	signal(SIGALRM, timeout_cb);
	setitimer(ITIMER_REAL, &it, NULL);
}

static int
hook_run(struct cmd_ctx *ctx)
{
	const char *sid = getenv("GALLEY_SESSION");
	const char *tok = getenv("GALLEY_HOOK_TOKEN");
	struct buf in = BUF_INIT;
	char chunk[65536];
	json_t *payload, *reply, *out;
	ssize_t n;

	if (ctx->argc != 2 || !name_valid(ctx->argv[1]))
		return cmd_usage_error(ctx, "expected one EVENT name");
	while (
	    (n = read(0, chunk, sizeof chunk)) > 0 && in.len < HOOK_PAYLOAD_MAX)
		buf_add(&in, chunk, (size_t)n);
	if (sid == NULL || tok == NULL) {
		buf_release(&in);
		return 0;
	}
	payload = json_loadb(in.data, in.len, 0, NULL);
	if (!json_is_object(payload)) {
		json_decref(payload);
		payload = json_object();
	}
	buf_release(&in);
	json_t *req =
	    json_pack("{s:s, s:s, s:s, s:s, s:o}", "cmd", "hook", "session",
	        sid, "token", tok, "event", ctx->argv[1], "payload", payload);
	char spool[64] = "";
	hold_tool = strcmp(ctx->argv[1], "PreToolUse") == 0;
	if (hook_spool_write(req, spool, sizeof spool) < 0)
		spool[0] = '\0'; /* no room on disk: try the socket alone */
	arm_timeout();
	/* a hook never starts the daemon (client_connect: not from inside a
	 * session); the spool keeps its request for the next one. A tool
	 * call waits for one until the timeout: a daemon restarted meanwhile
	 * (an upgrade) is not noticed by the agent */
	while (hold_tool && client_connect(&ctx->cl, 0, &ctx->err) < 0 &&
	    ctx->err.code != ERR_PROTOCOL) {
		err_release(&ctx->err);
		usleep(50000);
	}
	reached = 1;
	reply = cmd_call(ctx, req);
	if (reply == NULL)
		return 0; /* down and not startable: it stays spooled */
	setitimer(ITIMER_REAL, &(struct itimerval){{0, 0}, {0, 0}}, NULL);
	if (spool[0])
		hook_spool_drop(spool);
	out = json_object_get(reply, "output");
	if (json_is_object(out)) {
		char *s = json_dumps(out, JSON_COMPACT);
		puts(s);
		free(s);
	}
	int code = (int)json_integer_value(json_object_get(reply, "exit"));
	const char *msg = json_string_value(json_object_get(reply, "stderr"));
	if (msg)
		fprintf(stderr, "%s\n", msg);
	json_decref(reply);
	return code == 2 ? 2 : 0;
}

/* A hook request, from the socket or the spool. */
static int
hook_apply(json_t *req, json_t *reply, struct err *err)
{
	const char *sid, *tok, *event;
	json_t *payload = json_object_get(req, "payload");
	struct session *s;

	if (proto_get_str(req, "session", &sid, err) < 0 ||
	    proto_get_str(req, "token", &tok, err) < 0 ||
	    proto_get_str(req, "event", &event, err) < 0)
		return -1;
	if (sid == NULL || tok == NULL || event == NULL)
		return err_set(err, ERR_USAGE,
		    "hook needs 'session', 'token' and 'event'");
	if (!name_valid(event))
		return err_set(err, ERR_USAGE, "invalid hook event name");
	if (payload != NULL && !json_is_object(payload))
		return err_set(
		    err, ERR_USAGE, "field 'payload' must be an object");
	s = session_find_id(sid);
	/* the same answer for a wrong id and a wrong token: no oracle */
	size_t tl = strlen(tok),
	       diff = s && s->hook_token ? tl ^ strlen(s->hook_token) : 1;
	for (size_t i = 0;
	     s && s->hook_token && i < tl && i < strlen(s->hook_token); i++)
		diff |= (size_t)(tok[i] ^ s->hook_token[i]);
	if (s == NULL || diff != 0)
		return err_set(
		    err, ERR_REFUSED, "hook refused: bad session token");
	return session_on_hook(s, event, payload, reply, err);
}

static int
hook_serve(struct server_client *c, json_t *req, json_t *reply, struct err *err)
{
	/* applied already from the spool: once is enough */
	if (hook_spool_claim(json_string_value(json_object_get(req, "spool"))))
		return 0;
	return hook_apply(req, reply, err);
}

void
hook_spool_start(void)
{
	hook_spool_init(hook_apply);
}

const struct cmd_entry cmd_hook_entry = {
    .name = "hook",
    .usage = "EVENT",
    .summary = "(internal) forward a runtime hook payload to the daemon",
    .flags = CMD_INTERNAL | CMD_NOJSON,
    .run = hook_run,
    .serve = hook_serve,
};
