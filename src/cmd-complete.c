/* galley complete verbs | options VERB | args VERB: the words the shell
 * completions (completions/) offer, from the command table itself, so
 * they never drift from --help. Sessions come from the daemon's ls rows,
 * the cheapest reply it has; without a daemon there are none (it is not
 * started for a Tab). */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "settings.h"

/* Every -x and --long at the start of a help line, or after "-x, ". */
static void
print_options(const struct cmd_entry *e)
{
	const char *h = e->help ? e->help : "";

	while (*h) {
		const char *eol = strchr(h, '\n');
		size_t len = eol ? (size_t)(eol - h) : strlen(h);
		const char *p = h;
		while (p < h + len && *p == ' ')
			p++;
		while (p < h + len && *p == '-') {
			size_t w = strcspn(p, " ,=[\n");
			printf("%.*s\n", (int)w, p);
			p += w;
			if (*p == ',' && p[1] == ' ')
				p += 2;
			else
				break;
		}
		h += len + (eol != NULL);
	}
	if (!(e->flags & CMD_NOJSON))
		printf("--json\n");
	printf("--help\n");
}

static void
print_sessions(struct cmd_ctx *ctx)
{
	json_t *reply, *row;
	size_t i;

	if (client_connect(&ctx->cl, 0, &ctx->err) < 0)
		return;
	reply = client_call(&ctx->cl,
	    json_pack("{s:s, s:b, s:b}", "cmd", "ls", "all", 1, "rows", 1),
	    &ctx->err);
	json_array_foreach(json_object_get(reply, "rows"), i, row)
	{
		printf("%s\n", json_string_value(json_array_get(row, 0)));
		printf("%s\n", json_string_value(json_array_get(row, 1)));
	}
	json_decref(reply);
}

static int
complete_run(struct cmd_ctx *ctx)
{
	const struct cmd_entry *e = NULL;
	struct err ignore = ERR_INIT;

	if (ctx->argc < 2 || ctx->argc > 3)
		return cmd_usage_error(ctx,
		    "expected verbs, options VERB or "
		    "args VERB");
	const char *what = ctx->argv[1];
	if (ctx->argc == 3 &&
	    (e = cmd_lookup(ctx->table, ctx->argv[2], &ignore)) == NULL) {
		err_release(&ignore);
		return 0; /* nothing to offer after an unknown verb */
	}
	if (strcmp(what, "verbs") == 0) {
		for (int i = 0; ctx->table[i]; i++)
			if (!(ctx->table[i]->flags & CMD_INTERNAL))
				printf("%s\n", ctx->table[i]->name);
		printf("help\n");
	} else if (strcmp(what, "options") == 0 && e) {
		print_options(e);
	} else if (strcmp(what, "args") == 0 && e) {
		if (strcmp(e->name, "config") == 0) {
			const char *const *keys = settings_keys();
			printf("get\nset\nunset\nls\n");
			for (int i = 0; keys[i]; i++)
				printf("%s\n", keys[i]);
		} else if (strcmp(e->name, "help") == 0 ||
		    strncmp(e->usage, "ID", 2) == 0 ||
		    strncmp(e->usage, "[ID", 3) == 0)
			print_sessions(ctx); /* "ID..." in its usage */
	} else
		return cmd_usage_error(ctx,
		    "expected verbs, options VERB or "
		    "args VERB");
	err_release(&ctx->err);
	return 0;
}

const struct cmd_entry cmd_complete_entry = {
    .name = "complete",
    .usage = "verbs | options VERB | args VERB",
    .summary = "(internal) words for shell completion",
    .flags = CMD_INTERNAL | CMD_NOJSON,
    .run = complete_run,
};
