/* galley msg send TO TEXT | msg read: a team's mailboxes (daemon side:
 * team-msg.c). TO is a member, lead, user, or team (everyone else). */
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "names.h"
#include "team.h"
#include "util.h"

static int
msg_run(struct cmd_ctx *ctx)
{
	static const struct option opts[] = {
	    {"team", required_argument, NULL, 't'},
	    {"as", required_argument, NULL, 'A'}, CMD_LONGOPTS_COMMON,
	    {NULL, 0, NULL, 0}};
	const char *team = NULL, *as = NULL;
	json_t *req, *reply;
	int c, rc;

	while ((c = getopt_long(ctx->argc, ctx->argv, ":t:A:h", opts, NULL)) !=
	    -1) {
		if (c == 't')
			team = optarg;
		else if (c == 'A')
			as = optarg;
		else if ((rc = cmd_opt_common(ctx, c)) >= 0)
			return rc;
	}
	const char *op = optind < ctx->argc ? ctx->argv[optind++] : "read";
	int nargs = ctx->argc - optind;
	if (strcmp(op, "send") == 0       ? nargs != 2
	        : strcmp(op, "read") == 0 ? nargs != 0
	                                  : 1)
		return cmd_usage_error(ctx, "msg send TO TEXT | msg read");
	req = cmd_team_request("msg", op, team, as);
	if (strcmp(op, "send") == 0) {
		json_object_set_new(req, "to", json_string(ctx->argv[optind]));
		json_t *text = json_string(ctx->argv[optind + 1]);
		if (text == NULL) {
			json_decref(req);
			return cmd_usage_error(ctx, "TEXT is not UTF-8");
		}
		json_object_set_new(req, "text", text);
	}
	if ((reply = cmd_call(ctx, req)) == NULL)
		return cmd_fail(ctx);
	json_t *list = json_object_get(reply, "messages"), *m;
	size_t i;
	if (ctx->json)
		cmd_print_json(list ? list : json_object_get(reply, "sent"));
	else if (list)
		json_array_foreach(list, i, m)
		    printf("%s -> %s: %s\n", session_str(m, "from"),
		        session_str(m, "to"), session_str(m, "text"));
	else
		printf("sent\n");
	json_decref(reply);
	return 0;
}

static int
msg_serve(struct server_client *c, json_t *req, json_t *reply, struct err *err)
{
	const char *op = NULL, *to = NULL, *text = NULL;
	struct team_actor a;

	if (proto_get_str(req, "op", &op, err) < 0 ||
	    proto_get_str(req, "to", &to, err) < 0 ||
	    proto_get_str(req, "text", &text, err) < 0 ||
	    team_actor(req, &a, err) < 0)
		return -1;
	if (op && strcmp(op, "send") == 0) {
		if (to == NULL ||
		    (strcmp(to, "team") && strcmp(to, "user") &&
		        name_check(to, "recipient", err) < 0))
			return to ? -1 : err_set(err, ERR_USAGE, "to whom?");
		if (team_msg_send(a.team, a.member, to, text, err) < 0)
			return -1;
		json_object_set_new(reply, "sent",
		    json_pack("{s:s, s:s, s:s}", "from", a.member, "to", to,
		        "text", text));
		return 0;
	}
	json_object_set_new(reply, "messages",
	    team_msg_list(a.team, a.is_user ? "user" : a.member));
	return 0;
}

const struct cmd_entry cmd_msg_entry = {
    .name = "msg",
    .usage = "send TO TEXT | read  [--team T] [--as MEMBER]",
    .summary = "messages between a team's members, its lead and you",
    .help = "  send TO TEXT        TO: a member, lead, user, or team (all the\n"
            "                      others); typed into the recipient's\n"
            "                      terminal when it is idle, never mid-turn\n"
            "  read                the messages to and from you\n"
            "  -t, --team NAME     the team (inside a member: its own)\n"
            "      --as MEMBER     act as a member (the user only)\n",
    .run = msg_run,
    .serve = msg_serve,
};
