/*
 * The fake agent: a scripted stand-in for an AI coding agent, for demos and
 * tests with no API. Its script is its prompt: statements separated by
 * newlines or ';' (write '\;' for a literal one):
 *
 *   say TEXT            print a message
 *   think SECONDS       "thinking" for a while
 *   ask QUESTION        ask and block until a line is typed (state blocked)
 *   permission TOOL ARG ask to run a tool; "1"/"y"/"yes" allows it
 *   write PATH TEXT     the Write tool: create PATH (relative to cwd)
 *   run COMMAND         the Bash tool: run COMMAND with /bin/sh
 *   usage IN OUT [MODEL] report token usage (written to its transcript)
 *   fail KIND TEXT      the turn dies on an API error (StopFailure, KIND
 *                       e.g. rate_limit, overloaded, server_error)
 *   subagent TYPE SECS TEXT  a subagent (the Agent tool) works SECS and
 *                       answers TEXT, with a transcript of its own
 *   background COMMAND  Bash run in the background, in a process session
 *                       of its own as claude does
 *   exit CODE           end the session
 *
 * Without `exit` the turn ends (Stop: state idle) and each line typed after
 * that is a new prompt, run as a script. It reports state as claude does:
 * by running `galley hook EVENT` with a JSON payload on stdin.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "buf.h"
#include "cmd.h"
#include "util.h"
#include "xmalloc.h"

static const char *fa_model = "fake-1";
static char *fa_transcript;
/* --print: the last line it said, its result (a workflow's agent) */
static char *fa_last;
static int fa_msgs;

/* Run `galley hook EVENT`; returns its exit code, *out its stdout. */
static int
emit(const char *event, json_t *payload, struct buf *out)
{
	int in[2], outp[2], status = 0;
	char *text;
	pid_t pid;

	json_object_set_new(payload, "hook_event_name", json_string(event));
	json_object_set_new(payload, "session_id",
	    json_string(
	        getenv("GALLEY_SESSION") ? getenv("GALLEY_SESSION") : "none"));
	if (fa_transcript)
		json_object_set_new(
		    payload, "transcript_path", json_string(fa_transcript));
	char cwd[4096];
	if (getcwd(cwd, sizeof cwd))
		json_object_set_new(payload, "cwd", json_string(cwd));
	text = json_dumps(payload, JSON_COMPACT);
	json_decref(payload);
	if (getenv("GALLEY_SESSION") == NULL || pipe2(in, O_CLOEXEC) != 0) {
		free(text);
		return 0;
	}
	if (pipe2(outp, O_CLOEXEC) != 0) {
		close(in[0]);
		close(in[1]);
		free(text);
		return 0;
	}
	pid = fork();
	if (pid == 0) {
		dup2(in[0], 0);
		dup2(outp[1], 1);
		int nul = open("/dev/null", O_WRONLY);
		if (nul >= 0)
			dup2(nul, 2);
		execl(self_exe(), "galley", "hook", event, (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(outp[1]);
	write_all(in[1], text, strlen(text));
	close(in[1]);
	free(text);
	char chunk[4096];
	ssize_t n;
	while ((n = read(outp[0], chunk, sizeof chunk)) > 0)
		if (out)
			buf_add(out, chunk, (size_t)n);
	close(outp[0]);
	if (pid > 0)
		waitpid(pid, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

static void say(const char *fmt, ...) printflike(1, 2);
static void
say(const char *fmt, ...)
{
	va_list ap;

	fputs("\033[1m●\033[0m ", stdout);
	va_start(ap, fmt);
	free(fa_last);
	if (vasprintf(&fa_last, fmt, ap) < 0)
		fa_last = NULL;
	va_end(ap);
	fputs(fa_last ? fa_last : "", stdout);
	fputs("\n", stdout);
	fflush(stdout);
}

static char *
read_line(void)
{
	char line[8192];

	fflush(stdout);
	if (fgets(line, sizeof line, stdin) == NULL)
		return NULL;
	line[strcspn(line, "\r\n")] = '\0';
	return xstrdup(line);
}

/* PreToolUse, honouring a deny from galley. Returns 1 if allowed. */
static int
pre_tool(const char *tool, json_t *input)
{
	struct buf out = BUF_INIT;
	int rc, allowed = 1;

	rc = emit("PreToolUse",
	    json_pack("{s:s, s:O, s:s}", "tool_name", tool, "tool_input", input,
	        "tool_use_id", "toolu_fake"),
	    &out);
	json_t *o = json_loads(out.data, 0, NULL);
	json_t *hso = json_object_get(o, "hookSpecificOutput");
	const char *d =
	    json_string_value(json_object_get(hso, "permissionDecision"));
	if (rc == 2 || (d && strcmp(d, "deny") == 0)) {
		const char *why = json_string_value(
		    json_object_get(hso, "permissionDecisionReason"));
		say("%s blocked: %s", tool, why ? why : "denied by hook");
		allowed = 0;
	}
	json_decref(o);
	buf_release(&out);
	return allowed;
}

/* UserPromptSubmit, honouring {"decision":"block"} as claude does: the
 * prompt is dropped and no turn runs. */
static int
prompt_allowed(const char *prompt)
{
	struct buf out = BUF_INIT;
	int rc = emit(
	    "UserPromptSubmit", json_pack("{s:s}", "prompt", prompt), &out);
	json_t *o = json_loadb(out.data ? out.data : "", out.len, 0, NULL);
	const char *d = json_string_value(json_object_get(o, "decision"));
	int ok = rc != 2 && !(d && strcmp(d, "block") == 0);

	if (!ok) {
		const char *why =
		    json_string_value(json_object_get(o, "reason"));
		say("prompt blocked: %s", why ? why : "by a hook");
	}
	json_decref(o);
	buf_release(&out);
	return ok;
}

static void
post_tool(const char *tool, json_t *input, json_t *response)
{
	emit("PostToolUse",
	    json_pack("{s:s, s:O, s:o}", "tool_name", tool, "tool_input", input,
	        "tool_response", response),
	    NULL);
}

static void
do_usage(const char *arg)
{
	long long in = 0, out = 0;
	char model[128] = "";
	FILE *f;

	if (sscanf(arg, "%lld %lld %127s", &in, &out, model) < 2 || in < 0 ||
	    out < 0) {
		say("usage: expected IN OUT [MODEL]");
		return;
	}
	if (fa_transcript == NULL || (f = fopen(fa_transcript, "ae")) == NULL)
		return;
	json_t *e = json_pack("{s:s, s:{s:s+, s:s, s:{s:I, s:I, s:i, s:i}}}",
	    "type", "assistant", "message", "id", "msg_fake_",
	    getenv("GALLEY_SESSION") ? getenv("GALLEY_SESSION") : "x", "model",
	    model[0] ? model : fa_model, "usage", "input_tokens",
	    (json_int_t)in, "output_tokens", (json_int_t)out,
	    "cache_read_input_tokens", 0, "cache_creation_input_tokens", 0);
	/* a unique message id per entry, as the API gives */
	char id[64];
	snprintf(id, sizeof id, "msg_fake_%d_%ld", ++fa_msgs, (long)getpid());
	json_object_set_new(
	    json_object_get(e, "message"), "id", json_string(id));
	char *line = json_dumps(e, JSON_COMPACT);
	fprintf(f, "%s\n", line);
	fclose(f);
	free(line);
	json_decref(e);
	say("used %lld input and %lld output tokens", in, out);
}

/* "WORD rest of it": the word (caller frees), and *rest, or dflt. */
static char *
first_word(const char *arg, const char **rest, const char *dflt)
{
	const char *sp = arg + strcspn(arg, " ");

	*rest = *sp ? sp + 1 : dflt;
	return xstrndup(arg, (size_t)(sp - arg));
}

static int
verb_say(char *arg)
{
	say("%s", arg);
	return 0;
}

static int
verb_think(char *arg)
{
	double secs = atof(arg);
	printf("✻ Thinking…\n");
	fflush(stdout);
	if (secs > 0) {
		struct timespec ts = {
		    (time_t)secs, (long)((secs - (double)(time_t)secs) * 1e9)};
		while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
			;
	}
	return 0;
}

static int
verb_ask(char *arg)
{
	say("%s", arg);
	emit("Notification",
	    json_pack("{s:s, s:s}", "message", arg, "notification_type",
	        "elicitation_dialog"),
	    NULL);
	printf("> ");
	char *ans = read_line();
	if (ans == NULL)
		return -1;
	emit("UserPromptSubmit", json_pack("{s:s}", "prompt", ans), NULL);
	say("got it: %s", ans);
	free(ans);
	return 0;
}

static int
verb_permission(char *arg)
{
	const char *what;
	char *tool = first_word(arg, &what, "");
	json_t *in = json_pack("{s:s}", "command", what);
	if (pre_tool(tool, in)) {
		emit("PermissionRequest",
		    json_pack(
		        "{s:s, s:O}", "tool_name", tool, "tool_input", in),
		    NULL);
		printf(" %s command\n   %s\n Do you want to proceed?\n"
		       " ❯ 1. Yes\n   2. No\n",
		    tool, what);
		emit("Notification",
		    json_pack("{s:s, s:s}", "message",
		        "Claude needs your permission", "notification_type",
		        "permission_prompt"),
		    NULL);
		char *ans = read_line();
		if (ans == NULL) {
			free(tool);
			json_decref(in);
			return -1;
		}
		if (strcmp(ans, "1") == 0 || strcasecmp(ans, "y") == 0 ||
		    strcasecmp(ans, "yes") == 0) {
			say("%s(%s) allowed", tool, what);
			post_tool(tool, in, json_pack("{s:s}", "stdout", ""));
		} else
			say("%s(%s) denied", tool, what);
		free(ans);
	}
	json_decref(in);
	free(tool);
	return 0;
}

static int
verb_write(char *arg)
{
	const char *text;
	char *path = first_word(arg, &text, "");
	json_t *in =
	    json_pack("{s:s, s:s}", "file_path", path, "content", text);
	if (pre_tool("Write", in)) {
		FILE *f = fopen(path, "we");
		if (f == NULL) {
			say("Write(%s) failed: %s", path, strerror(errno));
		} else {
			fprintf(f, "%s\n", text);
			fclose(f);
			say("Write(%s)", path);
			post_tool(
			    "Write", in, json_pack("{s:s}", "filePath", path));
		}
	}
	json_decref(in);
	free(path);
	return 0;
}

static int
verb_run(char *arg)
{
	json_t *in = json_pack("{s:s}", "command", arg);
	if (pre_tool("Bash", in)) {
		say("Bash(%s)", arg);
		fflush(stdout);
		int rc = system(arg);
		post_tool("Bash", in,
		    json_pack("{s:i}", "exit_code",
		        WIFEXITED(rc) ? WEXITSTATUS(rc) : 1));
	}
	json_decref(in);
	return 0;
}

/* `subagent TYPE SECONDS TEXT`: claude's Agent tool as its hooks tell
 * it: SubagentStart, a PreToolUse inside it, SECONDS of work, a
 * transcript of its own with its usage, SubagentStop with TEXT. */
static int
verb_subagent(char *arg)
{
	static int nsub;
	const char *rest, *text;
	char *type = first_word(arg, &rest, "");
	char *secs = first_word(rest, &text, "");
	char id[64], *path = NULL;

	snprintf(id, sizeof id, "agent%d%ld", ++nsub, (long)getpid());
	json_t *tag = json_pack("{s:s, s:s}", "agent_id", id, "agent_type",
	    *type ? type : "general-purpose");
	emit("SubagentStart", json_deep_copy(tag), NULL);
	json_t *pre = json_deep_copy(tag);
	json_t *use = json_pack("{s:s, s:{s:s}, s:s}", "tool_name", "Read",
	    "tool_input", "file_path", "README.md", "tool_use_id", "toolu_sub");
	json_object_update(pre, use);
	json_decref(use);
	emit("PreToolUse", pre, NULL);
	say("Agent(%s) %s", *type ? type : "general-purpose", text);
	verb_think(secs);
	if (fa_transcript) { /* beside the session's, as claude keeps it */
		xasprintf(&path, "%s.%s.jsonl", fa_transcript, id);
		FILE *f = fopen(path, "we");
		char msg[80];
		snprintf(msg, sizeof msg, "msg_%s", id);
		json_t *u = json_pack("{s:s, s:{s:s, s:s}}", "type", "user",
		    "message", "role", "user", "content", "look around");
		json_t *a = json_pack(
		    "{s:s, s:{s:s, s:s, s:[{s:s, s:s}, {s:s, s:s, s:{s:s}}],"
		    " s:{s:i, s:i, s:i, s:i}}}",
		    "type", "assistant", "message", "id", msg, "model",
		    fa_model, "content", "type", "text", "text",
		    *text ? text : "done", "type", "tool_use", "name", "Read",
		    "input", "file_path", "README.md", "usage", "input_tokens",
		    1000, "output_tokens", 200, "cache_read_input_tokens", 0,
		    "cache_creation_input_tokens", 0);
		char *l1 = json_dumps(u, JSON_COMPACT);
		char *l2 = json_dumps(a, JSON_COMPACT);
		if (f && l1 && l2)
			fprintf(f, "%s\n%s\n", l1, l2);
		if (f)
			fclose(f);
		free(l1);
		free(l2);
		json_decref(u);
		json_decref(a);
	}
	json_t *stop = json_deep_copy(tag);
	json_object_set_new(
	    stop, "last_assistant_message", json_string(*text ? text : "done"));
	if (path)
		json_object_set_new(
		    stop, "agent_transcript_path", json_string(path));
	emit("SubagentStop", stop, NULL);
	json_decref(tag);
	free(path);
	free(type);
	free(secs);
	return 0;
}

/* `background COMMAND`: Bash with run_in_background, which claude runs in
 * a process session of its own (outside the session's group, as a stop
 * must find it); Stop lists those still running. */
static struct {
	pid_t pid;
	char id[32], *cmd;
} fa_bg[16];
static int fa_nbg;

static int
verb_background(char *arg)
{
	json_t *in =
	    json_pack("{s:s, s:b}", "command", arg, "run_in_background", 1);
	char tuid[48];

	if (fa_nbg == (int)(sizeof fa_bg / sizeof fa_bg[0])) {
		say("too many background tasks");
		json_decref(in);
		return 0;
	}
	snprintf(tuid, sizeof tuid, "toolu_bg%d", fa_nbg + 1);
	json_t *pre = json_pack("{s:s, s:O, s:s}", "tool_name", "Bash",
	    "tool_input", in, "tool_use_id", tuid);
	emit("PreToolUse", pre, NULL);
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		setsid();
		int nul = open("/dev/null", O_RDWR);
		dup2(nul, 0);
		dup2(nul, 1);
		dup2(nul, 2);
		execl("/bin/sh", "sh", "-c", arg, (char *)NULL);
		_exit(127);
	}
	snprintf(
	    fa_bg[fa_nbg].id, sizeof fa_bg[fa_nbg].id, "bash_%d", fa_nbg + 1);
	fa_bg[fa_nbg].pid = pid;
	fa_bg[fa_nbg].cmd = xstrdup(arg);
	say("Bash(%s) running in the background as %s", arg, fa_bg[fa_nbg].id);
	emit("PostToolUse",
	    json_pack("{s:s, s:O, s:s, s:{s:s}}", "tool_name", "Bash",
	        "tool_input", in, "tool_use_id", tuid, "tool_response",
	        "backgroundTaskId", fa_bg[fa_nbg].id),
	    NULL);
	fa_nbg++;
	json_decref(in);
	return 0;
}

/* The background tasks still running, as Stop's background_tasks. */
static json_t *
bg_running(void)
{
	json_t *list = json_array();

	for (int i = 0; i < fa_nbg; i++) {
		if (fa_bg[i].pid > 0 &&
		    waitpid(fa_bg[i].pid, NULL, WNOHANG) == fa_bg[i].pid)
			fa_bg[i].pid = 0;
		if (fa_bg[i].pid > 0)
			json_array_append_new(list,
			    json_pack("{s:s, s:s, s:s}", "id", fa_bg[i].id,
			        "command", fa_bg[i].cmd, "status", "running"));
	}
	return list;
}

static int
verb_usage(char *arg)
{
	do_usage(arg);
	return 0;
}

static int
verb_fail(char *arg)
{
	const char *text;
	char *kind = first_word(arg, &text, "API Error");
	say("%s", text);
	emit("StopFailure",
	    json_pack("{s:s, s:s}", "error", *kind ? kind : "server_error",
	        "last_assistant_message", text),
	    NULL);
	free(kind);
	return 1; /* no Stop: the turn failed */
}

static int
verb_exit(char *arg)
{
	int code = atoi(arg);
	emit("SessionEnd", json_pack("{s:s}", "reason", "other"), NULL);
	fflush(stdout);
	exit(code);
}

/* A script's statements: 0 on, 1 the turn failed, -1 input closed. */
static const struct {
	const char *verb;
	int (*fn)(char *arg);
} verbs[] = {
    {"say", verb_say},
    {"think", verb_think},
    {"ask", verb_ask},
    {"permission", verb_permission},
    {"write", verb_write},
    {"run", verb_run},
    {"subagent", verb_subagent},
    {"background", verb_background},
    {"usage", verb_usage},
    {"fail", verb_fail},
    {"exit", verb_exit},
};

static int
run_statement(char *verb, char *arg)
{
	for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
		if (strcmp(verb, verbs[i].verb) == 0)
			return verbs[i].fn(arg);
	say("%s%s%s", verb, *arg ? " " : "", arg);
	return 0;
}

/* Split on unescaped ';' and newlines; run each statement. */
static int
run_script(const char *script)
{
	struct buf stmt = BUF_INIT;
	const char *p = script;
	int rc = 0;

	for (;; p++) {
		if (*p == '\\' && p[1] == ';') {
			buf_addc(&stmt, ';');
			p++;
			continue;
		}
		if (*p != ';' && *p != '\n' && *p != '\0') {
			buf_addc(&stmt, *p);
			continue;
		}
		char *s = stmt.data;
		while (isspace((unsigned char)*s))
			s++;
		if (*s != '\0') {
			char *end = s + strcspn(s, " \t");
			char *verb = xstrndup(s, (size_t)(end - s));
			while (*end == ' ' || *end == '\t')
				end++;
			rc = run_statement(verb, end);
			free(verb);
		}
		buf_reset(&stmt);
		if (*p == '\0' || rc != 0)
			break;
	}
	buf_release(&stmt);
	return rc;
}

static int
print_result(char *prompt, int rc)
{
	json_t *r = json_pack("{s:s, s:s, s:b, s:s}", "type", "result",
	    "subtype", rc == 0 ? "success" : "error", "is_error", rc != 0,
	    "result", fa_last ? fa_last : "");
	char *line = json_dumps(r, JSON_COMPACT);

	printf("%s\n", line ? line : "");
	fflush(stdout);
	free(line);
	json_decref(r);
	emit("SessionEnd", json_pack("{s:s}", "reason", "other"), NULL);
	free(prompt);
	free(fa_last);
	free(fa_transcript);
	return rc == 0 ? 0 : 1;
}

static int
fake_agent_run(struct cmd_ctx *ctx)
{
	const char *script = "";
	const char *sid = getenv("GALLEY_SESSION");
	int print = 0;

	for (int i = 1; i < ctx->argc; i++) {
		if (strcmp(ctx->argv[i], "--print") == 0)
			print = 1;
		else if (strcmp(ctx->argv[i], "--model") == 0 &&
		    i + 1 < ctx->argc)
			fa_model = ctx->argv[++i];
		else if (strcmp(ctx->argv[i], "--") == 0) {
			if (i + 1 < ctx->argc)
				script = ctx->argv[i + 1];
			break;
		}
	}
	if (sid != NULL && strlen(sid) < 64) {
		char *dir = path_session_dir(sid);
		xasprintf(&fa_transcript, "%s/transcript.jsonl", dir);
		free(dir);
	}
	printf("fake agent · %s\n", fa_model);
	emit("SessionStart",
	    json_pack("{s:s, s:s}", "source", "startup", "model", fa_model),
	    NULL);
	char *prompt = xstrdup(script);
	for (;;) {
		int rc = 0;
		if (strncmp(prompt, "[galley] ", 9) == 0) {
			/* a team's message: read, not run as a script */
			if (prompt_allowed(prompt))
				say("%s", prompt);
		} else if (*prompt != '\0') {
			rc = prompt_allowed(prompt) ? run_script(prompt) : 1;
			if (rc < 0)
				break;
		}
		if (rc == 0)
			emit("Stop",
			    json_pack("{s:b, s:s, s:o}", "stop_hook_active", 0,
			        "last_assistant_message", "done",
			        "background_tasks", bg_running()),
			    NULL);
		if (print) /* one run, then its result line, as claude -p */
			return print_result(prompt, rc);
		free(prompt);
		printf("> ");
		prompt = read_line();
		if (prompt == NULL)
			break;
	}
	free(prompt);
	emit("SessionEnd", json_pack("{s:s}", "reason", "other"), NULL);
	free(fa_transcript);
	return 0;
}

const struct cmd_entry cmd_fake_agent_entry = {
    .name = "fake-agent",
    .usage = "[--model M] [--print] -- SCRIPT",
    .summary = "(internal) the built-in scripted agent",
    .flags = CMD_INTERNAL | CMD_NOJSON,
    .run = fake_agent_run,
};
