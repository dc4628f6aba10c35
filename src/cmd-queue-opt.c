/* The queue options of `new` and `exec` (issue 8): --group G, --after
 * ID[,ID...], --priority N, and the limits the daemon applies
 * (limits.maxRunning, limits.group.G), as the caller's settings say. */
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "names.h"
#include "settings.h"

/* --sandbox write|net|all[,best-effort] (or best-effort alone: both,
 * as far as this machine allows) into {"write":b,"net":b,"best_effort":b}. */
static int
sandbox_request(const char *arg, json_t *req, struct err *err)
{
	int write = 0, net = 0, best = 0;

	for (const char *p = arg; *p;) {
		size_t n = strcspn(p, ",");
		if (n == 5 && strncmp(p, "write", 5) == 0)
			write = 1;
		else if (n == 3 && strncmp(p, "net", 3) == 0)
			net = 1;
		else if (n == 3 && strncmp(p, "all", 3) == 0)
			write = net = 1;
		else if (n == 11 && strncmp(p, "best-effort", 11) == 0)
			best = 1;
		else
			return err_set(err, ERR_USAGE,
			    "--sandbox takes write, net or all, optionally "
			    "with ,best-effort (got '%.40s')",
			    arg);
		p += n + (p[n] == ',');
	}
	if (!write && !net)
		write = net = 1; /* best-effort alone */
	json_object_set_new(req, "sandbox",
	    json_pack("{s:b, s:b, s:b}", "write", write, "net", net,
	        "best_effort", best));
	return 0;
}

int
cmd_queue_request(struct cmd_ctx *ctx, json_t *req, struct start_opts *o)
{
	const char *cwd = json_string_value(json_object_get(req, "cwd"));
	const char *group = o->group ? o->group : "default";
	struct settings set;
	char *end;

	if (name_check(group, "group", &ctx->err) < 0)
		return -1;
	json_object_set_new(req, "group", json_string(group));
	if (o->priority) {
		long p = strtol(o->priority, &end, 10);
		if (*o->priority == '\0' || *end || p < -1000 || p > 1000)
			return err_set(&ctx->err, ERR_USAGE,
			    "--priority takes -1000 to 1000");
		json_object_set_new(req, "priority", json_integer(p));
	}
	if (o->after) {
		json_t *after = json_array();
		for (const char *p = o->after; *p;) {
			size_t n = strcspn(p, ",");
			json_t *ref = json_stringn(p, n);
			if (n == 0 || n > 64 || ref == NULL) {
				json_decref(ref);
				json_decref(after);
				return err_set(&ctx->err, ERR_USAGE,
				    "--after takes ID[,ID...]");
			}
			json_array_append_new(after, ref);
			p += n + (p[n] == ',');
		}
		json_object_set_new(req, "after", after);
	}
	if (o->budget_usd) {
		double usd = strtod(o->budget_usd, &end);
		if (*o->budget_usd == '\0' || *end || !(usd > 0) || usd > 1e6)
			return err_set(&ctx->err, ERR_USAGE,
			    "--budget-usd takes a number of dollars above 0, "
			    "e.g. 2.50");
		json_object_set_new(req, "budget_usd", json_real(usd));
	}
	if (o->budget_tokens) {
		long long t = strtoll(o->budget_tokens, &end, 10);
		if (*o->budget_tokens == '\0' || *end || t < 1 ||
		    t > 1000000000000LL)
			return err_set(&ctx->err, ERR_USAGE,
			    "--budget-tokens takes a whole number above 0");
		json_object_set_new(req, "budget_tokens", json_integer(t));
	}
	if (o->sandbox && sandbox_request(o->sandbox, req, &ctx->err) < 0)
		return -1;
	/* limits and policy settings are the daemon's to read, from the
	 * files of the session's project (settings-cache.c); a broken
	 * settings file is still the caller's to hear about */
	if (settings_load(&set, cwd, &ctx->err) < 0)
		return -1;
	int rc = cmd_executor_request(ctx, req, o, &set);
	settings_release(&set);
	return rc;
}
