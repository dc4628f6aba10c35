/* Option helpers and CLI output shared by every verb (the table of verbs is
 * cmd-table.c). */
#include <stdarg.h>
#include <string.h>

#include "cmd.h"
#include "executor.h"
#include "galley.h"
#include "sock.h"
#include "state.h"
#include "util.h"
#include "xmalloc.h"

void
cmd_print_usage(const struct cmd_entry *e, FILE *f)
{
	fprintf(f, "usage: galley %s%s%s\n", e->name, *e->usage ? " " : "",
	    e->usage);
	if (e->summary)
		fprintf(f, "\n%s\n", e->summary);
	if (e->help)
		fprintf(f, "\n%s", e->help);
	if (e->help_more)
		e->help_more(f);
	if (!(e->flags & CMD_NOJSON))
		fprintf(f, "%s  --json            print JSON\n",
		    e->help ? "" : "\n");
}

#define CMD_FAIL_MAX 600

/* Messages quote what the user typed (names, paths): one line, no terminal
 * escapes, and not kilobytes of it. */
static void
print_error(const char *msg, const char *verb)
{
	struct buf line = BUF_INIT;

	for (const char *p = msg; *p && line.len < CMD_FAIL_MAX; p++)
		buf_add_shown(&line, p, 1);
	if (strlen(msg) > CMD_FAIL_MAX) {
		/* not half a UTF-8 sequence */
		while (line.len > 0 &&
		    ((unsigned char)line.data[line.len - 1] & 0xc0) == 0x80)
			line.len--;
		if (line.len > 0 &&
		    ((unsigned char)line.data[line.len - 1] & 0xc0) == 0xc0)
			line.len--;
		buf_adds(&line, "...");
	}
	if (verb)
		buf_addf(&line, ": see 'galley %s --help'", verb);
	buf_addc(&line, '\0');
	fprintf(stderr, "galley: %s\n", line.data);
	buf_release(&line);
}

/* Exact name, else a unique prefix of a visible verb (tmux's cmd_find). */
const struct cmd_entry *
cmd_lookup(
    const struct cmd_entry *const *table, const char *name, struct err *err)
{
	const struct cmd_entry *found = NULL;
	struct buf cands = BUF_INIT;
	size_t n = strlen(name);
	int count = 0;

	for (int i = 0; table[i]; i++)
		if (strcmp(table[i]->name, name) == 0)
			return table[i];
	for (int i = 0; table[i]; i++) {
		if ((table[i]->flags & CMD_INTERNAL) ||
		    strncmp(table[i]->name, name, n) != 0 || n == 0)
			continue;
		found = table[i];
		buf_addf(&cands, "%s%s", count ? ", " : "", found->name);
		count++;
	}
	if (count == 1) {
		buf_release(&cands);
		return found;
	}
	if (count > 1)
		err_set(err, ERR_USAGE, "ambiguous command '%s', could be: %s",
		    name, cands.data);
	else
		err_set(err, ERR_USAGE,
		    "unknown command '%.64s': see 'galley --help'", name);
	buf_release(&cands);
	return NULL;
}

int
cmd_usage_error(struct cmd_ctx *ctx, const char *fmt, ...)
{
	struct buf msg = BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	buf_vaddf(&msg, fmt, ap);
	va_end(ap);
	buf_addc(&msg, '\0');
	print_error(msg.data, ctx->entry->name);
	buf_release(&msg);
	return EXIT_USAGE;
}

/* The option getopt stopped at: optopt for a short one (argv[optind - 1]
 * may still be the verb when it sits inside a cluster like -abc), the
 * word itself for a long one. */
static const char *
bad_option(struct cmd_ctx *ctx, char *out, size_t size)
{
	const char *w = optind > 0 ? ctx->argv[optind - 1] : "";

	if (strncmp(w, "--", 2) != 0 && optopt > ' ' && optopt < 0x7f) {
		snprintf(out, size, "-%c", optopt);
		return out;
	}
	return w;
}

int
cmd_opt_common(struct cmd_ctx *ctx, int c)
{
	char o[8];

	switch (c) {
	case 'J':
		if (ctx->entry->flags & CMD_NOJSON)
			return cmd_usage_error(ctx, "--json is not supported");
		ctx->json = 1;
		return -1;
	case 'h':
		cmd_print_usage(ctx->entry, stdout);
		return EXIT_OK;
	case ':':
		return cmd_usage_error(ctx, "option '%s' needs a value",
		    bad_option(ctx, o, sizeof o));
	default:
		return cmd_usage_error(
		    ctx, "unknown option '%s'", bad_option(ctx, o, sizeof o));
	}
}

int
cmd_fail(struct cmd_ctx *ctx)
{
	enum err_code code = ctx->err.code ? ctx->err.code : ERR_FAILED;

	print_error(
	    ctx->err.msg.len ? ctx->err.msg.data : "operation failed", NULL);
	return err_exit_code(code);
}

int
cmd_report(struct cmd_ctx *ctx, int worst)
{
	int rc = cmd_fail(ctx);

	err_release(&ctx->err);
	return rc > worst ? rc : worst;
}

json_t *
cmd_call(struct cmd_ctx *ctx, json_t *req)
{
	if (ctx->cl.fd < 0 && client_connect(&ctx->cl, 1, &ctx->err) < 0) {
		json_decref(req);
		return NULL;
	}
	return client_call(&ctx->cl, req, &ctx->err);
}

json_t *
cmd_get_session(struct cmd_ctx *ctx, const char *ref)
{
	json_t *reply, *s;

	reply =
	    cmd_call(ctx, json_pack("{s:s, s:s}", "cmd", "get", "ref", ref));
	if (reply == NULL)
		return NULL;
	s = json_incref(json_object_get(reply, "session"));
	json_decref(reply);
	return s;
}

void
cmd_print_json(json_t *v)
{
	char *s = json_dumps(v, JSON_INDENT(2) | JSON_ENCODE_ANY | PROTO_REALS);

	if (s != NULL) {
		puts(s);
		free(s);
	}
}

/* One line: what a big answer (ls --tree of thousands) is printed as. */
void
cmd_print_json_compact(json_t *v)
{
	char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | PROTO_REALS);

	if (s != NULL) {
		puts(s);
		free(s);
	}
}

void
format_age(long long ms, char *out, size_t len)
{
	long long s = ms / 1000;

	if (s < 0)
		s = 0;
	if (s < 60)
		snprintf(out, len, "%llds", s);
	else if (s < 3600)
		snprintf(out, len, "%lldm", s / 60);
	else if (s < 86400)
		snprintf(out, len, "%lldh", s / 3600);
	else
		snprintf(out, len, "%lldd", s / 86400);
}

const char *
session_str(json_t *s, const char *key)
{
	const char *v = json_string_value(json_object_get(s, key));

	return v ? v : "";
}

int
state_is_terminal(const char *st)
{
	return state_name_terminal(st);
}

int
session_is_live(json_t *s)
{
	return state_name_live(session_str(s, "state"));
}

/* The executor that runs the session: the CLI reaches a session's host
 * and files only through it. */
const struct executor *
cmd_executor(struct cmd_ctx *ctx, json_t *s)
{
	const char *name = json_string_value(json_object_get(s, "executor"));
	const struct executor *ex = executor_find(name);

	if (ex == NULL)
		err_set(&ctx->err, ERR_FAILED,
		    "session '%s' runs on executor '%.32s', which this galley "
		    "does not know",
		    session_str(s, "name"), name);
	return ex;
}

int
cmd_host_open(struct cmd_ctx *ctx, json_t *s, struct proto_reader *rd)
{
	const struct executor *ex = cmd_executor(ctx, s);
	int fd;

	if (ex == NULL)
		return -1;
	if (!session_is_live(s)) {
		err_set(&ctx->err, ERR_FAILED,
		    "session '%s' is not running (%s)", session_str(s, "name"),
		    session_str(s, "state"));
		return -1;
	}
	fd = ex->connect(s, rd, &ctx->err);
	if (fd < 0)
		err_set(&ctx->err, ERR_FAILED,
		    "session '%s' cannot be reached (%s): it may just have "
		    "exited",
		    session_str(s, "name"), ctx->err.msg.data);
	return fd;
}

json_t *
cmd_host_call(struct cmd_ctx *ctx, int fd, struct proto_reader *rd, json_t *req)
{
	json_t *reply = NULL;

	json_object_set_new(req, "id", json_integer(1));
	if (sock_send(fd, req, &ctx->err) < 0 ||
	    sock_recv(fd, rd, &reply, 10000, &ctx->err) <= 0) {
		if (ctx->err.code == ERR_NONE)
			err_set(&ctx->err, ERR_FAILED, "host did not answer");
		json_decref(req);
		return NULL;
	}
	json_decref(req);
	if (!json_is_true(json_object_get(reply, "ok"))) {
		json_t *e = json_object_get(reply, "error");
		err_set(&ctx->err,
		    err_from_word(
		        json_string_value(json_object_get(e, "code"))),
		    "%s",
		    json_string_value(json_object_get(e, "message"))
		        ? json_string_value(json_object_get(e, "message"))
		        : "host refused");
		json_decref(reply);
		return NULL;
	}
	return reply;
}
