/* galley config get|set|unset|ls: settings with their precedence
 * (CLI flag > local > project > user > default). Needs no daemon. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "settings.h"

/* key's value in force (a new reference, NULL: none) and where it comes
 * from; limits.maxRunning unset is the machine's default (*computed). */
static json_t *
in_force(struct settings *set, const char *key, enum settings_scope *from,
    int *computed)
{
	json_t *v = settings_get(set, key);

	*computed = 0;
	*from = settings_origin(set, key);
	if (v)
		return json_incref(v);
	if (strcmp(key, "limits.maxRunning") != 0)
		return NULL;
	*computed = 1;
	*from = SCOPE_DEFAULT;
	return json_integer(settings_max_running_default());
}

static int
config_get(struct cmd_ctx *ctx, struct settings *set, const char *key)
{
	enum settings_scope from;
	int computed;
	json_t *v = in_force(set, key, &from, &computed), *probe = NULL;

	if (v == NULL) {
		/* a known key with no value, or an unknown key? */
		if (settings_parse(key, "x", &probe, &ctx->err) < 0 &&
		    strncmp(ctx->err.msg.data, "unknown", 7) == 0)
			return cmd_fail(ctx);
		json_decref(probe);
		err_release(&ctx->err);
		err_set(&ctx->err, ERR_NOT_FOUND,
		    "'%s' is not set, and has no default", key);
		return cmd_fail(ctx);
	}
	char *file = settings_path(set, from);
	if (ctx->json) {
		json_t *o = json_pack("{s:s, s:O, s:s}", "key", key, "value", v,
		    "scope", settings_scope_name(from));
		if (file)
			json_object_set_new(o, "file", json_string(file));
		cmd_print_json(o);
		json_decref(o);
	} else {
		char *txt = json_is_string(v)
		    ? strdup(json_string_value(v))
		    : json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
		/* where it comes from, for a person; a script reading
		 * $(galley config get K) gets the value alone */
		if (isatty(1))
			printf("%s  (%s%s%s)\n", txt, settings_scope_name(from),
			    file ? ": " : "", file ? file : "");
		else
			printf("%s\n", txt);
		free(txt);
	}
	free(file);
	json_decref(v);
	return 0;
}

static int
config_set(struct cmd_ctx *ctx, struct settings *set, enum settings_scope scope,
    const char *key, const char *value)
{
	json_t *v;

	if (settings_parse(key, value, &v, &ctx->err) < 0)
		return cmd_fail(ctx);
	int wrc = settings_write(set, scope, key, v, &ctx->err);
	json_decref(v);
	if (wrc < 0)
		return cmd_fail(ctx);
	char *path = settings_path(set, scope);
	if (ctx->json) {
		json_t *o = json_pack("{s:s, s:s, s:s}", "key", key, "scope",
		    settings_scope_name(scope), "file", path);
		cmd_print_json(o);
		json_decref(o);
	} else
		printf("set %s in %s\n", key, path);
	free(path);
	return 0;
}

static int
config_ls(struct cmd_ctx *ctx, struct settings *set)
{
	const char *const *keys = settings_keys();
	json_t *arr = json_array();

	for (int i = 0; keys[i]; i++) {
		enum settings_scope from;
		int computed;
		json_t *v = in_force(set, keys[i], &from, &computed);
		const char *origin = v ? settings_scope_name(from) : "unset";
		if (ctx->json) {
			json_t *o = json_pack("{s:s, s:O, s:s}", "key", keys[i],
			    "value", v ? v : json_null(), "scope", origin);
			if (computed) /* from the machine, not a file */
				json_object_set_new(o, "computed", json_true());
			json_array_append_new(arr, o);
		} else {
			char *s = v
			    ? json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT)
			    : NULL;
			printf("%-30s %-24s %s\n", keys[i], s ? s : "-",
			    v ? origin : "");
			free(s);
		}
		json_decref(v);
	}
	if (ctx->json)
		cmd_print_json(arr);
	json_decref(arr);
	return 0;
}

static int
config_run(struct cmd_ctx *ctx)
{
	static const struct option opts[] = {{"user", no_argument, NULL, 'u'},
	    {"project", no_argument, NULL, 'p'},
	    {"local", no_argument, NULL, 'l'}, CMD_LONGOPTS_COMMON,
	    {NULL, 0, NULL, 0}};
	enum settings_scope scope = SCOPE_USER;
	struct settings set;
	char cwd[PATH_MAX];
	int c, rc = 0, nscope = 0;

	while (
	    (c = getopt_long(ctx->argc, ctx->argv, ":h", opts, NULL)) != -1) {
		if (c == 'u' || c == 'p' || c == 'l') {
			scope = c == 'u' ? SCOPE_USER
			    : c == 'p'   ? SCOPE_PROJECT
			                 : SCOPE_LOCAL;
			nscope++;
		} else if ((rc = cmd_opt_common(ctx, c)) >= 0)
			return rc;
	}
	if (nscope > 1)
		return cmd_usage_error(
		    ctx, "pick one of --user, --project, --local");
	/* `galley config` alone lists, as `git config` would not but
	 * every user expects */
	const char *sub = optind < ctx->argc ? ctx->argv[optind++] : "ls";
	int nargs = ctx->argc - optind;
	char **args = ctx->argv + optind;
	if (strcmp(sub, "get") && strcmp(sub, "set") && strcmp(sub, "unset") &&
	    strcmp(sub, "ls"))
		return cmd_usage_error(ctx, "unknown config command '%s'", sub);
	if (nargs !=
	    (strcmp(sub, "set") == 0         ? 2
	            : strcmp(sub, "ls") == 0 ? 0
	                                     : 1))
		return cmd_usage_error(ctx, "usage: config %s%s", sub,
		    strcmp(sub, "set") == 0      ? " KEY VALUE"
		        : strcmp(sub, "ls") == 0 ? ""
		                                 : " KEY");
	if (settings_load(
	        &set, getcwd(cwd, sizeof cwd) ? cwd : "/", &ctx->err) < 0)
		return cmd_fail(ctx);
	if (strcmp(sub, "get") == 0)
		rc = config_get(ctx, &set, args[0]);
	else if (strcmp(sub, "set") == 0)
		rc = config_set(ctx, &set, scope, args[0], args[1]);
	else if (strcmp(sub, "ls") == 0)
		rc = config_ls(ctx, &set);
	else if (settings_write(&set, scope, args[0], NULL, &ctx->err) < 0)
		rc = cmd_fail(ctx);
	else if (!ctx->json)
		printf("unset %s\n", args[0]);
	settings_release(&set);
	return rc;
}

/* The files as this process finds them: GALLEY_HOME and the repo move
 * them, so a fixed "~/.config/galley" would be wrong. */
static void
config_help_more(FILE *f)
{
	static const enum settings_scope scopes[] = {
	    SCOPE_USER, SCOPE_PROJECT, SCOPE_LOCAL};
	static const char *const flags[] = {"--user", "--project", "--local"};
	struct settings set;
	struct err err = ERR_INIT;
	char cwd[PATH_MAX];

	if (settings_load(&set, getcwd(cwd, sizeof cwd) ? cwd : "/", &err) <
	    0) {
		err_release(&err);
		return;
	}
	fprintf(f, "\nFiles, from here (later ones win):\n");
	for (size_t i = 0; i < 3; i++) {
		char *p = settings_path(&set, scopes[i]);
		fprintf(f, "  %-10s %s%s\n", flags[i],
		    p ? p : "(outside a git repository: none)",
		    i == 0 ? " (default for set)" : "");
		free(p);
	}
	settings_release(&set);
}

const struct cmd_entry cmd_config_entry = {
    .name = "config",
    .usage = "[get KEY | set KEY VALUE | unset KEY | ls]  [--user|--project|"
             "--local]",
    .summary = "read and change settings (alone: ls)",
    .help =
        "  get KEY             the value in force, and where it comes from\n"
        "                      (default, user, project or local)\n"
        "  ls                  every key, its value and its source\n"
        "      --user          the user's settings file (default)\n"
        "      --project       the repository's .galley/settings.json\n"
        "      --local         .galley/settings.local.json (not "
        "committed)\n",
    .help_more = config_help_more,
    .run = config_run,
};
