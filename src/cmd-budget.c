/* galley budget [ls] | raise (--global|--group G|--session ID) [--usd X]
 * [--tokens N]: the budgets sessions are under, how much of each is
 * spent, who is held; raising one releases what it held (DESIGN §8). */
#include <getopt.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "names.h"
#include "server.h"
#include "session-hold.h"
#include "session-budget.h"
#include "session-policy.h"
#include "session.h"
#include "settings.h"

/* The daemon reads the budget settings itself (settings-cache.c). */
static json_t *
budget_request(struct cmd_ctx *ctx, json_t *req)
{
	return cmd_call(ctx, req);
}

/* "$1.08", "1200 tok", or both; "-" for nothing */
static void
amount(char *out, size_t size, json_t *usd, json_t *tokens)
{
	char a[48] = "", t[48] = "";

	if (json_is_number(usd))
		snprintf(a, sizeof a, "$%.2f", json_number_value(usd));
	if (json_is_integer(tokens))
		snprintf(t, sizeof t, "%lld tok",
		    (long long)json_integer_value(tokens));
	snprintf(
	    out, size, "%s%s%s", a, *a && *t ? ", " : "", *a || *t ? t : "-");
}

static void
print_budgets(json_t *list)
{
	json_t *b;
	size_t i;

	printf("%-28s  %-22s  %-22s  %5s  %4s\n", "BUDGET", "SPENT", "LIMIT",
	    "USED", "HELD");
	json_array_foreach(list, i, b)
	{
		const char *scope = session_str(b, "scope");
		/* a team's budget is for the team's life, not per day */
		int sess = strncmp(scope, "session:", 8) == 0 ||
		    strncmp(scope, "team:", 5) == 0;
		json_t *lu = json_object_get(b, "limit_usd");
		json_t *lt = json_object_get(b, "limit_tokens");
		char what[96], spent[64], limit[64], pct[16] = "-";
		snprintf(what, sizeof what, "%s%s%s",
		    strncmp(scope, "team:", 5) == 0        ? ""
		        : sess                             ? "session "
		        : strncmp(scope, "group:", 6) == 0 ? "group "
		                                           : "",
		    session_str(b, "name"), sess ? "" : " (today)");
		amount(spent, sizeof spent, json_object_get(b, "used_usd"),
		    json_is_integer(lt) ? json_object_get(b, "used_tokens")
		                        : NULL);
		amount(limit, sizeof limit, lu, lt);
		if (!json_is_null(lu) || !json_is_null(lt))
			snprintf(pct, sizeof pct, "%.0f%%",
			    json_number_value(json_object_get(b, "percent")));
		printf("%-28s  %-22s  %-22s  %5s  %4zu\n", what, spent, limit,
		    pct, json_array_size(json_object_get(b, "held")));
	}
}

static int
budget_ls(struct cmd_ctx *ctx)
{
	json_t *reply = budget_request(
	    ctx, json_pack("{s:s, s:s}", "cmd", "budget", "op", "ls"));

	if (reply == NULL)
		return cmd_fail(ctx);
	if (ctx->json)
		cmd_print_json(json_object_get(reply, "budgets"));
	else
		print_budgets(json_object_get(reply, "budgets"));
	json_decref(reply);
	return 0;
}

static int
budget_raise(
    struct cmd_ctx *ctx, const char *scope, double usd, long long tokens)
{
	json_t *reply = budget_request(ctx,
	    json_pack("{s:s, s:s, s:s, s:f, s:I}", "cmd", "budget", "op",
	        "raise", "scope", scope, "usd", usd, "tokens",
	        (json_int_t)tokens));

	if (reply == NULL)
		return cmd_fail(ctx);
	if (ctx->json)
		cmd_print_json(json_object_get(reply, "budgets"));
	else {
		printf("raised %s\n", scope);
		print_budgets(json_object_get(reply, "budgets"));
	}
	json_decref(reply);
	return 0;
}

static int
budget_run(struct cmd_ctx *ctx)
{
	static const struct option opts[] = {{"global", no_argument, NULL, 'G'},
	    {"group", required_argument, NULL, 'g'},
	    {"session", required_argument, NULL, 's'},
	    {"usd", required_argument, NULL, 'u'},
	    {"tokens", required_argument, NULL, 't'}, CMD_LONGOPTS_COMMON,
	    {NULL, 0, NULL, 0}};
	const char *group = NULL, *sess = NULL;
	double usd = 0;
	long long tokens = 0;
	int c, rc, global = 0;
	char *end, scope[128];

	while (
	    (c = getopt_long(ctx->argc, ctx->argv, ":h", opts, NULL)) != -1) {
		if (c == 'G')
			global = 1;
		else if (c == 'g')
			group = optarg;
		else if (c == 's')
			sess = optarg;
		else if (c == 'u') {
			usd = strtod(optarg, &end);
			if (*optarg == '\0' || *end || !(usd > 0) || usd > 1e6)
				return cmd_usage_error(ctx,
				    "--usd takes a number of dollars above 0");
		} else if (c == 't') {
			tokens = strtoll(optarg, &end, 10);
			if (*optarg == '\0' || *end || tokens < 1 ||
			    tokens > 1000000000000LL)
				return cmd_usage_error(ctx,
				    "--tokens takes a whole number above 0");
		} else if ((rc = cmd_opt_common(ctx, c)) >= 0)
			return rc;
	}
	if (optind == ctx->argc || strcmp(ctx->argv[optind], "ls") == 0) {
		if (optind + 1 < ctx->argc)
			return cmd_usage_error(ctx, "unexpected argument '%s'",
			    ctx->argv[optind + 1]);
		return budget_ls(ctx);
	}
	if (strcmp(ctx->argv[optind], "raise") != 0)
		return cmd_usage_error(ctx,
		    "unknown budget command '%s': use ls or raise",
		    ctx->argv[optind]);
	if (optind + 1 != ctx->argc)
		return cmd_usage_error(
		    ctx, "unexpected argument '%s'", ctx->argv[optind + 1]);
	if (global + (group != NULL) + (sess != NULL) != 1)
		return cmd_usage_error(ctx,
		    "budget raise needs one of --global, --group G or "
		    "--session ID");
	if (usd <= 0 && tokens <= 0)
		return cmd_usage_error(
		    ctx, "budget raise needs --usd X and/or --tokens N");
	if (group && name_check(group, "group", &ctx->err) < 0)
		return cmd_fail(ctx);
	if (sess && strlen(sess) > 64)
		return cmd_usage_error(ctx, "session id too long");
	snprintf(scope, sizeof scope, "%s%s",
	    global      ? "global"
	        : group ? "group:"
	                : "session:",
	    global      ? ""
	        : group ? group
	                : sess);
	return budget_raise(ctx, scope, usd, tokens);
}

static int
budget_serve(
    struct server_client *c, json_t *req, json_t *reply, struct err *err)
{
	const char *op = NULL, *scope = NULL, *sid = NULL;
	double usd = 0;
	json_int_t tokens = 0;
	json_t *u = json_object_get(req, "usd");

	(void)c;
	if (proto_get_str(req, "op", &op, err) < 0 ||
	    proto_get_str(req, "scope", &scope, err) < 0 ||
	    proto_get_str(req, "session", &sid, err) < 0 ||
	    proto_get_int_in(req, "tokens", &tokens, 0, INT64_MAX / 2, err) < 0)
		return -1;
	if (u &&
	    (!json_is_number(u) || json_number_value(u) < 0 ||
	        !isfinite(json_number_value(u))))
		return err_set(
		    err, ERR_USAGE, "field 'usd' must be a number >= 0");
	usd = json_number_value(u);
	session_policy_refresh();
	if (op && strcmp(op, "reply") == 0) {
		struct session *s = sid ? session_resolve(sid, err) : NULL;
		if (s == NULL)
			return sid
			    ? -1
			    : err_set(err, ERR_USAGE, "reply needs 'session'");
		return session_policy_reply(s, err);
	}
	if (op && strcmp(op, "raise") == 0) {
		if (scope == NULL ||
		    (strcmp(scope, "global") != 0 &&
		        strncmp(scope, "group:", 6) != 0 &&
		        strncmp(scope, "session:", 8) != 0))
			return err_set(err, ERR_USAGE,
			    "'scope' must be global, group:G or session:ID");
		if (strncmp(scope, "group:", 6) == 0 &&
		    name_check(scope + 6, "group", err) < 0)
			return -1;
		if (usd < 0 || usd > 1e6 || tokens < 0 || (usd == 0 && !tokens))
			return err_set(err, ERR_USAGE,
			    "raise needs a positive 'usd' or 'tokens'");
		if (session_budget_raise(scope, usd, tokens, err) < 0)
			return -1;
	} else if (op && strcmp(op, "ls") != 0)
		return err_set(err, ERR_USAGE, "unknown budget op '%.32s'", op);
	json_object_set_new(reply, "budgets", session_budget_status());
	return 0;
}

const struct cmd_entry cmd_budget_entry = {
    .name = "budget",
    .usage = "[ls] | raise (--global|--group G|--session ID) [--usd X] "
             "[--tokens N]",
    .summary = "budgets: what is spent, who is held; raise one",
    .help = "  ls                  every budget a session is under: spent,\n"
            "                      limit, percent, held sessions (default)\n"
            "  raise               add to a budget (today's, for the daily\n"
            "                      ones) and release what it held\n"
            "      --global        the daily budget (budget.usd, "
            "budget.tokens)\n"
            "      --group G       group G's daily budget (budget.group.G,\n"
            "                      budget.groupTokens.G)\n"
            "      --session ID    the session's own (--budget-usd,\n"
            "                      --budget-tokens)\n"
            "      --usd X         dollars to add\n"
            "      --tokens N      tokens to add\n",
    .run = budget_run,
    .serve = budget_serve,
};
