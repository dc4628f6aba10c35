/*
 * `galley hook EVENT`: what a runtime's hooks run. It reads the payload on
 * stdin and forwards it with the session's id and token (from the
 * environment galley gave the agent); the daemon accepts it only when both
 * match, so one session can never speak for another. Outside a galley
 * session, or with the daemon unreachable, it exits 0 and says nothing:
 * a hook must never break the agent it serves.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "names.h"
#include "proto.h"
#include "server.h"
#include "session.h"

#define HOOK_PAYLOAD_MAX (4u * 1024 * 1024)

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
	reply = cmd_call(ctx,
	    json_pack("{s:s, s:s, s:s, s:s, s:o}", "cmd", "hook", "session",
	        sid, "token", tok, "event", ctx->argv[1], "payload", payload));
	if (reply == NULL)
		return 0;
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

static int
hook_serve(struct server_client *c, json_t *req, json_t *reply, struct err *err)
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

const struct cmd_entry cmd_hook_entry = {
    .name = "hook",
    .usage = "EVENT",
    .summary = "(internal) forward a runtime hook payload to the daemon",
    .flags = CMD_INTERNAL | CMD_NOJSON,
    .run = hook_run,
    .serve = hook_serve,
};
