/* galley config get|set|unset|ls: settings with their precedence
 * (CLI flag > local > project > user > default). Needs no daemon. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "settings.h"

static int
config_run(struct cmd_ctx *ctx)
{
	static const struct option opts[] = {{"user", no_argument, NULL, 'u'},
	    {"project", no_argument, NULL, 'p'},
	    {"local", no_argument, NULL, 'l'}, CMD_LONGOPTS_COMMON,
	    {NULL, 0, NULL, 0}};
	enum settings_scope scope = SCOPE_USER;
	struct settings set;
	const char *sub;
	char cwd[PATH_MAX];
	int c, rc = 0, nscope = 0;

	while (
	    (c = getopt_long(ctx->argc, ctx->argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'u':
			scope = SCOPE_USER;
			nscope++;
			break;
		case 'p':
			scope = SCOPE_PROJECT;
			nscope++;
			break;
		case 'l':
			scope = SCOPE_LOCAL;
			nscope++;
			break;
		default:
			if ((rc = cmd_opt_common(ctx, c)) >= 0)
				return rc;
		}
	}
	rc = 0;
	if (nscope > 1)
		return cmd_usage_error(ctx,
		    "pick one of --user, --project, "
		    "--local");
	if (optind >= ctx->argc)
		return cmd_usage_error(ctx, "expected get, set, unset or ls");
	sub = ctx->argv[optind++];
	if (settings_load(
	        &set, getcwd(cwd, sizeof cwd) ? cwd : "/", &ctx->err) < 0)
		return cmd_fail(ctx);

	if (strcmp(sub, "get") == 0) {
		if (optind + 1 != ctx->argc) {
			rc = cmd_usage_error(ctx, "usage: config get KEY");
			goto out;
		}
		const char *key = ctx->argv[optind];
		json_t *v = settings_get(&set, key), *probe = NULL;
		if (v == NULL) {
			/* a known key with no value, or an unknown key? */
			if (settings_parse(key, "x", &probe, &ctx->err) < 0 &&
			    strncmp(ctx->err.msg.data, "unknown", 7) == 0) {
				rc = cmd_fail(ctx);
				goto out;
			}
			json_decref(probe);
			err_release(&ctx->err);
			err_set(
			    &ctx->err, ERR_NOT_FOUND, "'%s' is not set", key);
			rc = cmd_fail(ctx);
			goto out;
		}
		if (ctx->json) {
			json_t *o = json_pack("{s:s, s:O, s:s}", "key", key,
			    "value", v, "scope",
			    settings_scope_name(settings_origin(&set, key)));
			cmd_print_json(o);
			json_decref(o);
		} else if (json_is_string(v))
			printf("%s\n", json_string_value(v));
		else {
			char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
			printf("%s\n", s);
			free(s);
		}
	} else if (strcmp(sub, "set") == 0) {
		json_t *v;
		if (optind + 2 != ctx->argc) {
			rc =
			    cmd_usage_error(ctx, "usage: config set KEY VALUE");
			goto out;
		}
		if (settings_parse(ctx->argv[optind], ctx->argv[optind + 1], &v,
		        &ctx->err) < 0) {
			rc = cmd_fail(ctx);
			goto out;
		}
		int wrc = settings_write(
		    &set, scope, ctx->argv[optind], v, &ctx->err);
		json_decref(v);
		if (wrc < 0) {
			rc = cmd_fail(ctx);
			goto out;
		}
		char *path = settings_path(&set, scope);
		if (ctx->json) {
			json_t *o = json_pack("{s:s, s:s, s:s}", "key",
			    ctx->argv[optind], "scope",
			    settings_scope_name(scope), "file", path);
			cmd_print_json(o);
			json_decref(o);
		} else
			printf("set %s in %s\n", ctx->argv[optind], path);
		free(path);
	} else if (strcmp(sub, "unset") == 0) {
		if (optind + 1 != ctx->argc) {
			rc = cmd_usage_error(ctx, "usage: config unset KEY");
			goto out;
		}
		if (settings_write(
		        &set, scope, ctx->argv[optind], NULL, &ctx->err) < 0) {
			rc = cmd_fail(ctx);
			goto out;
		}
		if (!ctx->json)
			printf("unset %s\n", ctx->argv[optind]);
	} else if (strcmp(sub, "ls") == 0) {
		const char *const *keys = settings_keys();
		json_t *arr = json_array();
		for (int i = 0; keys[i]; i++) {
			json_t *v = settings_get(&set, keys[i]);
			const char *origin =
			    settings_scope_name(settings_origin(&set, keys[i]));
			if (ctx->json) {
				json_array_append_new(arr,
				    json_pack("{s:s, s:O, s:s}", "key", keys[i],
				        "value", v ? v : json_null(), "scope",
				        v ? origin : "unset"));
				continue;
			}
			char *s = v
			    ? json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT)
			    : NULL;
			printf("%-30s %-24s %s\n", keys[i], s ? s : "-",
			    v ? origin : "");
			free(s);
		}
		if (ctx->json)
			cmd_print_json(arr);
		json_decref(arr);
	} else {
		rc = cmd_usage_error(ctx, "unknown config command '%s'", sub);
	}
out:
	settings_release(&set);
	return rc;
}

const struct cmd_entry cmd_config_entry = {
    .name = "config",
    .usage = "get KEY | set KEY VALUE | unset KEY | ls  [--user|--project|"
             "--local]",
    .summary = "read and change settings",
    .help = "      --user          ~/.config/galley/settings.json (default)\n"
            "      --project       <repo>/.galley/settings.json\n"
            "      --local         <repo>/.galley/settings.local.json\n",
    .run = config_run,
};
