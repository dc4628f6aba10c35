/*
 * galley view (and `galley` alone on a terminal): the agent view. It waits
 * in poll() on the terminal and on the daemon's subscribe stream, so it
 * repaints as soon as a state changes and uses no CPU otherwise (a clock
 * tick only while some row's age is under a minute, or a peek is open).
 * Actions run the galley verbs themselves, so every rule (the worktree
 * safety rule, validation) applies here exactly as on the command line.
 */
#define _XOPEN_SOURCE_EXTENDED 1
#include <curses.h>
#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cmd.h"
#include "settings.h"
#include "util.h"
#include "view.h"
#include "xmalloc.h"

#define KEY_CTRL(c) ((c)&0x1f)

const char *const view_setting_keys[] = {"defaultRuntime", "permissionMode",
    "model", "effort", "defaultAgent", "isolation", "worktree.baseRef",
    "claude.preAccept", NULL};

static char view_dir[4096];

/* The effective value of a setting here, as text; caller frees. */
char *
view_setting_value(const char *key)
{
	struct settings set;
	char *out = NULL;

	if (settings_load(&set, view_dir, NULL) < 0)
		return NULL;
	json_t *v = settings_get(&set, key);
	if (json_is_string(v))
		out = xstrdup(json_string_value(v));
	else if (v && !json_is_null(v))
		out = json_dumps(v, JSON_ENCODE_ANY);
	settings_release(&set);
	return out;
}

static volatile sig_atomic_t got_signal;

static void
on_signal(int sig)
{
	got_signal = sig;
}

static const char *
sstr(json_t *s, const char *k)
{
	const char *v = json_string_value(json_object_get(s, k));

	return v ? v : "";
}

static void set_status(struct view *v, const char *fmt, ...) printflike(2, 3);

static void
set_status(struct view *v, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(v->status, sizeof v->status, fmt, ap);
	va_end(ap);
	v->status_at = wall_ms();
}

/* The daemon's word on budgets and rate limits, on the status line. */
static void
policy_status(struct view *v, json_t *ev)
{
	const char *name = json_string_value(json_object_get(ev, "event"));

	if (name && strcmp(name, "budget.warning") == 0)
		set_status(v, "budget: %s at %.0f%%",
		    json_string_value(json_object_get(ev, "scope")),
		    json_number_value(json_object_get(ev, "percent")));
	else if (name && strcmp(name, "ratelimit") == 0)
		set_status(v, "rate limit (%s): new starts held",
		    json_string_value(json_object_get(ev, "provider")));
}

/* Run `galley ARGS...` with stdin from /dev/null; its stdout goes to out
 * (when given), the first line of its stderr (or stdout) to the status
 * line. Returns its exit code. */
static int
run_galley(struct view *v, const char *const args[], struct buf *out)
{
	int pout[2], perr[2], status = -1;
	struct buf so = BUF_INIT, se = BUF_INIT;
	pid_t pid;

	if (pipe2(pout, O_CLOEXEC) != 0)
		return -1;
	if (pipe2(perr, O_CLOEXEC) != 0) {
		close(pout[0]);
		close(pout[1]);
		return -1;
	}
	pid = fork();
	if (pid == 0) {
		const char *argv[32];
		int n = 0;
		argv[n++] = "galley";
		for (int i = 0; args[i] && n < 31; i++)
			argv[n++] = args[i];
		argv[n] = NULL;
		int fd = open("/dev/null", O_RDONLY);
		dup2(fd, 0);
		dup2(pout[1], 1);
		dup2(perr[1], 2);
		if (chdir(v->cwd) != 0)
			_exit(127);
		execv(self_exe(), (char *const *)argv);
		_exit(127);
	}
	close(pout[1]);
	close(perr[1]);
	struct pollfd p[2] = {{pout[0], POLLIN, 0}, {perr[0], POLLIN, 0}};
	int open_fds = pid > 0 ? 2 : 0;
	while (open_fds > 0) {
		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		for (int i = 0; i < 2; i++) {
			char chunk[4096];
			if (p[i].fd < 0 || !(p[i].revents & (POLLIN | POLLHUP)))
				continue;
			ssize_t r = read(p[i].fd, chunk, sizeof chunk);
			if (r <= 0) {
				p[i].fd = -1;
				open_fds--;
			} else
				buf_add(i ? &se : &so, chunk, (size_t)r);
		}
	}
	close(pout[0]);
	close(perr[0]);
	if (pid > 0)
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
	int code = pid > 0 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	if (out) {
		buf_add(out, so.data, so.len);
		buf_addc(out, '\0');
	}
	struct buf *msg = se.len ? &se : &so;
	if (msg->len) {
		buf_addc(msg, '\0');
		set_status(v, "%.*s", (int)strcspn(msg->data, "\n"), msg->data);
	}
	buf_release(&so);
	buf_release(&se);
	return code;
}

/* Leave curses, run `galley ARGS...` (or a pager) on the terminal, come
 * back to the same screen. */
static int
run_on_terminal(struct view *v, const char *const argv[])
{
	int status = -1;
	pid_t pid;

	def_prog_mode();
	endwin();
	pid = fork();
	if (pid == 0) {
		signal(SIGINT, SIG_DFL);
		signal(SIGQUIT, SIG_DFL);
		if (chdir(v->cwd) != 0)
			_exit(127);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	if (pid > 0)
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
	reset_prog_mode();
	clearok(stdscr, TRUE);
	return pid > 0 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void
peek_refresh(struct view *v)
{
	json_t *s = view_selected(v);
	struct buf out = BUF_INIT;

	if (s == NULL)
		return;
	char status_keep[sizeof v->status];
	memcpy(status_keep, v->status, sizeof status_keep);
	int64_t at = v->status_at;
	json_t *c = view_selected_child(v);
	if (c && strcmp(sstr(c, "kind"), "subagent") == 0) {
		buf_addc(&out, '\n'); /* a title line, dropped as peek's is */
		run_galley(v,
		    (const char *[]){
		        "logs", sstr(s, "id"), "--agent", sstr(c, "id"), NULL},
		    &out);
	} else if (c)
		buf_addf(&out, "\nbackground task %s: %s\n%s\n",
		    sstr(c, "task_id"), sstr(c, "state"), sstr(c, "command"));
	else
		run_galley(
		    v, (const char *[]){"peek", sstr(s, "id"), NULL}, &out);
	memcpy(v->status, status_keep, sizeof status_keep); /* quiet */
	v->status_at = at;
	free(v->peek_text);
	const char *body = out.len ? out.data : "";
	const char *nl = strchr(body, '\n'); /* drop peek's own title */
	v->peek_text = xstrdup(nl ? nl + 1 : body);
	v->peek_at = wall_ms();
	buf_release(&out);
}

static void
notify(struct view *v, json_t *s)
{
	const char *st = sstr(s, "state");

	if (v->notify == 1)
		beep();
	else if (v->notify == 2) {
		/* the terminal's title: seen from another window or tab */
		printf("\033]0;galley: %s %s\007", sstr(s, "name"), st);
		fflush(stdout);
	}
	if (v->notify_cmd && *v->notify_cmd) {
		pid_t pid = fork();
		if (pid == 0) {
			setenv("GALLEY_NOTIFY_ID", sstr(s, "id"), 1);
			setenv("GALLEY_NOTIFY_NAME", sstr(s, "name"), 1);
			setenv("GALLEY_NOTIFY_STATE", st, 1);
			setenv("GALLEY_NOTIFY_WAITING_FOR",
			    sstr(s, "waiting_for"), 1);
			int fd = open("/dev/null", O_RDWR);
			dup2(fd, 0);
			dup2(fd, 1);
			dup2(fd, 2);
			setsid();
			execl(
			    "/bin/sh", "sh", "-c", v->notify_cmd, (char *)NULL);
			_exit(127);
		}
		/* reaped below, by the SIGCHLD-free waitpid sweep */
	}
}

static void
input_start(struct view *v, int what, const char *label, const char *init)
{
	v->mode = M_INPUT;
	v->input_for = what;
	snprintf(v->input_label, sizeof v->input_label, "%s", label);
	snprintf(v->input, sizeof v->input, "%s", init ? init : "");
	v->input_len = strlen(v->input);
}

static int
galley_act(struct view *v, const char *const args[])
{
	return run_galley(v, args, NULL);
}

static void
ask(struct view *v, int what, const char *label)
{
	input_start(v, what, label, NULL);
}

static const struct view_actions actions = {galley_act, set_status, ask};

static void
input_done(struct view *v)
{
	json_t *s = view_selected(v);
	char line[1024];
	const char *words[40];

	snprintf(line, sizeof line, "%s", v->input);
	v->mode = v->input_for == 's' ? M_SETTINGS : M_LIST;
	switch (v->input_for) {
	case '/':
		snprintf(v->filter, sizeof v->filter, "%.*s",
		    (int)sizeof v->filter - 1, line);
		view_model_rebuild(v);
		break;
	case 'r':
		if (s && *line)
			run_galley(v,
			    (const char *[]){
			        "rename", sstr(s, "id"), line, NULL},
			    NULL);
		break;
	case 'n': {
		const char *args[44] = {"new"};
		int n = view_split_words(line, words, 40);
		if (n == 0)
			break;
		for (int i = 0; i < n; i++)
			args[i + 1] = words[i];
		args[n + 1] = NULL;
		if (run_galley(v, args, NULL) == 0)
			set_status(v, "started: %s", v->input);
		break;
	}
	case 't':
		if (s && *line &&
		    run_galley(v,
		        (const char *[]){
		            "team", "talk", sstr(s, "id"), line, NULL},
		        NULL) == 0)
			set_status(v,
			    "message for %s: delivered when it is idle",
			    sstr(s, "name"));
		break;
	case 'w':
		if (s)
			view_workflow_save(v, s, line, &actions);
		break;
	case 's': {
		const char *key = view_setting_keys[v->settings_sel];
		if (*line)
			run_galley(v,
			    (const char *[]){"config", "set", key, line, NULL},
			    NULL);
		else
			run_galley(v,
			    (const char *[]){"config", "unset", key, NULL},
			    NULL);
		break;
	}
	}
}

/* Edit v->input with key c; returns 1 when Enter ends it, -1 on Esc. */
static int
edit_key(struct view *v, int c)
{
	if (c == 27)
		return -1;
	if (c == '\r' || c == '\n' || c == KEY_ENTER)
		return 1;
	if (c == KEY_BACKSPACE || c == 127 || c == 8) {
		/* one UTF-8 character back */
		while (v->input_len > 0 &&
		    ((unsigned char)v->input[--v->input_len] & 0xC0) == 0x80)
			;
		v->input[v->input_len] = '\0';
	} else if (c == KEY_CTRL('u')) {
		v->input_len = 0;
		v->input[0] = '\0';
	} else if (c >= 32 && c < 256 && c != 127 &&
	    v->input_len + 1 < sizeof v->input) {
		v->input[v->input_len++] = (char)c;
		v->input[v->input_len] = '\0';
	}
	return 0;
}

/* A key that acts on the selected session. */
static void
session_key(struct view *v, json_t *s, const char *id, int c)
{
	if (view_workflow_key(v, s, c, &actions))
		return; /* p, x, s, and r on a workflow's agent */
	switch (c) {
	case ' ':
		v->mode = M_PEEK;
		v->input[0] = '\0';
		v->input_len = 0;
		peek_refresh(v);
		break;
	case '\r':
	case '\n':
	case KEY_ENTER:
		run_on_terminal(
		    v, (const char *[]){self_exe(), "attach", id, NULL});
		break;
	case KEY_CTRL('t'):
		run_galley(v,
		    (const char *[]){json_is_true(json_object_get(s, "pinned"))
		            ? "unpin"
		            : "pin",
		        id, NULL},
		    NULL);
		break;
	case KEY_CTRL('r'):
		input_start(v, 'r', "rename to> ", sstr(s, "name"));
		break;
	case KEY_CTRL('x'):
		if (strcmp(v->ctrlx_id, id) == 0 &&
		    wall_ms() - v->ctrlx_at < 3000) {
			v->ctrlx_id[0] = '\0';
			if (run_galley(
			        v, (const char *[]){"rm", id, NULL}, NULL) == 0)
				set_status(v, "deleted %s", sstr(s, "name"));
		} else {
			snprintf(v->ctrlx_id, sizeof v->ctrlx_id, "%s", id);
			v->ctrlx_at = wall_ms();
			run_galley(v, (const char *[]){"stop", id, NULL}, NULL);
			set_status(v,
			    "stopping %s · Ctrl+X again within 3 s deletes it",
			    sstr(s, "name"));
		}
		break;
	case 'r':
		run_galley(v, (const char *[]){"restart", id, NULL}, NULL);
		break;
	case 'd': {
		const char *pager = getenv("PAGER");
		char cmd[512];
		snprintf(cmd, sizeof cmd, "\"$0\" diff \"$1\" | %s",
		    pager && *pager ? pager : "less -R");
		run_on_terminal(v,
		    (const char *[]){
		        "/bin/sh", "-c", cmd, self_exe(), id, NULL});
		break;
	}
	case 't':
		/* talk: a message, typed in when the member is idle */
		if (json_is_string(json_object_get(s, "team"))) {
			char label[128];
			snprintf(label, sizeof label, "talk to %.60s> ",
			    sstr(s, "name"));
			input_start(v, 't', label, NULL);
		} else
			set_status(v, "%s is in no team: Space replies to it",
			    sstr(s, "name"));
		break;
	case 'm': {
		char label[128];
		snprintf(label, sizeof label,
		    "merge %.40s into its base: m merge · s squash · r rebase "
		    "· Esc cancel ",
		    sstr(s, "name"));
		input_start(v, 'm', label, NULL);
		break;
	}
	}
}

/* The merge question takes one key: the way to merge, or anything else to
 * cancel; a key never falls through into a prompt. */
static void
merge_key(struct view *v, int c)
{
	json_t *s = view_selected(v);
	const char *how =
	    c == 'm' || c == 'y' || c == '\r' || c == '\n' || c == KEY_ENTER
	    ? ""
	    : c == 's' ? "--squash"
	    : c == 'r' ? "--rebase"
	               : NULL;

	v->mode = M_LIST;
	if (s == NULL || how == NULL) {
		set_status(v, "merge cancelled");
		return;
	}
	if (run_galley(v,
	        (const char *[]){
	            "merge", sstr(s, "id"), *how ? how : NULL, NULL},
	        NULL) == 0)
		set_status(
		    v, "merged %s%s%s", sstr(s, "name"), *how ? " " : "", how);
}

static void
list_key(struct view *v, int c)
{
	json_t *s = view_selected(v);
	const char *id = s ? sstr(s, "id") : NULL;

	if (view_tree_key(v, c))
		return; /* Tab, Right, Left: a session's children */
	switch (c) {
	case 'j':
	case KEY_DOWN:
		view_select_move(v, 1);
		break;
	case 'k':
	case KEY_UP:
		view_select_move(v, -1);
		break;
	case KEY_NPAGE:
		view_select_move(v, LINES - 4);
		break;
	case KEY_PPAGE:
		view_select_move(v, -(LINES - 4));
		break;
	case KEY_HOME:
		view_select_move(v, -(int)v->nrows);
		break;
	case KEY_END:
		view_select_move(v, (int)v->nrows);
		break;
	case 'q':
		v->quit = 1;
		break;
	case '?':
		v->mode = M_HELP;
		break;
	case 'g':
		v->grouping = !v->grouping;
		view_model_rebuild(v);
		break;
	case '/':
		input_start(v, '/', "filter> ", v->filter);
		break;
	case 'n':
		input_start(v, 'n', "new> ", NULL);
		break;
	case 'S':
		v->mode = M_SETTINGS;
		break;
	}
	if (id != NULL)
		session_key(v, s, id, c);
}

static void
handle_key(struct view *v, int c)
{
	if (c == KEY_RESIZE) {
		clearok(stdscr, TRUE);
		return;
	}
	switch (v->mode) {
	case M_HELP:
		v->mode = M_LIST;
		break;
	case M_INPUT: {
		if (v->input_for == 'm') {
			merge_key(v, c);
			break;
		}
		int r = edit_key(v, c);
		if (r < 0 && v->input_for == '/') {
			/* Esc clears the filter it was typing */
			v->filter[0] = '\0';
			view_model_rebuild(v);
		}
		if (r < 0)
			v->mode = v->input_for == 's' ? M_SETTINGS : M_LIST;
		else if (r > 0)
			input_done(v);
		else if (v->input_for ==
		    '/') { /* the filter applies as typed */
			snprintf(v->filter, sizeof v->filter, "%s", v->input);
			view_model_rebuild(v);
		}
		break;
	}
	case M_PEEK: {
		int r = edit_key(v, c);
		json_t *s = view_selected(v);
		if (r < 0) {
			v->mode = M_LIST;
			v->input[0] = '\0';
			v->input_len = 0;
		} else if (r > 0 && s) {
			run_galley(v,
			    (const char *[]){
			        "send", sstr(s, "id"), v->input, NULL},
			    NULL);
			v->input[0] = '\0';
			v->input_len = 0;
			peek_refresh(v);
		}
		break;
	}
	case M_SETTINGS:
		if (c == 27 || c == 'q')
			v->mode = M_LIST;
		else if (c == 'j' || c == KEY_DOWN) {
			if (view_setting_keys[v->settings_sel + 1])
				v->settings_sel++;
		} else if ((c == 'k' || c == KEY_UP) && v->settings_sel > 0)
			v->settings_sel--;
		else if (c == '\r' || c == '\n' || c == KEY_ENTER) {
			char *val = view_setting_value(
			    view_setting_keys[v->settings_sel]);
			char label[64];
			snprintf(label, sizeof label, "%s> ",
			    view_setting_keys[v->settings_sel]);
			input_start(v, 's', label, val);
			free(val);
		}
		break;
	default:
		list_key(v, c);
	}
}

static int
connect_all(struct view *v, struct err *err)
{
	client_close(&v->sub);
	client_close(&v->req);
	if (client_connect(&v->req, 1, err) < 0 ||
	    client_connect(&v->sub, 1, err) < 0)
		return -1;
	json_t *r =
	    client_call(&v->sub, json_pack("{s:s}", "cmd", "subscribe"), err);
	if (r == NULL)
		return -1;
	json_decref(r);
	return view_model_load(v, err);
}

static int
tick_ms(struct view *v)
{
	if (v->mode == M_PEEK)
		return 300;
	if (v->status[0] && wall_ms() - v->status_at < 8000)
		return 1000;
	for (size_t i = 0; i < v->nrows; i++) {
		int64_t u = json_integer_value(
		    json_object_get(v->rows[i].s, "updated_ms"));
		if (wall_ms() - u < 60000)
			return 1000;
	}
	return 30000;
}

/* The view's own settings, for the directory it was started in. */
static void
view_settings(struct view *v)
{
	struct settings set;

	if (settings_load(&set, v->cwd, NULL) != 0)
		return;
	const char *n = settings_get_str(&set, "notify");
	v->notify = n && strcmp(n, "title") == 0 ? 2
	    : n && strcmp(n, "none") == 0        ? 0
	                                         : 1;
	const char *cmd = settings_get_str(&set, "notifyCommand");
	v->notify_cmd = cmd ? xstrdup(cmd) : NULL;
	json_t *b = settings_get(&set, "budget.usd");
	v->budget_usd = json_is_number(b) ? json_number_value(b) : 0;
	settings_release(&set);
}

/* What the daemon pushed; a lost daemon is reconnected. */
static void
read_events(struct view *v, struct cmd_ctx *ctx)
{
	json_t *ev = NULL, *note;
	int changed = 0, r;

	while ((r = client_event(&v->sub, &ev, 0, &ctx->err)) > 0) {
		changed |= view_model_event(v, ev, &note);
		if (note)
			notify(v, note);
		policy_status(v, ev);
		json_decref(ev);
	}
	if (r < 0) {
		set_status(v, "lost the daemon; reconnecting");
		err_release(&ctx->err);
		ctx->err = (struct err)ERR_INIT;
		sleep(1);
		connect_all(v, &ctx->err);
		changed = 1;
	}
	if (changed)
		view_model_rebuild(v);
}

static int
view_run(struct cmd_ctx *ctx)
{
	static const struct option opts[] = {
	    CMD_LONGOPTS_COMMON, {NULL, 0, NULL, 0}};
	struct view v = {0};
	int c, rc;

	while ((c = getopt_long(ctx->argc, ctx->argv, ":h", opts, NULL)) != -1)
		if ((rc = cmd_opt_common(ctx, c)) >= 0)
			return rc;
	if (optind < ctx->argc)
		return cmd_usage_error(
		    ctx, "unexpected argument '%s'", ctx->argv[optind]);
	if (!isatty(0) || !isatty(1)) {
		err_set(&ctx->err, ERR_USAGE,
		    "the agent view needs a terminal: use 'galley ls' in "
		    "scripts");
		return cmd_fail(ctx);
	}
	setlocale(LC_ALL, "");
	v.sub = (struct client)CLIENT_INIT;
	v.req = (struct client)CLIENT_INIT;
	if (getcwd(v.cwd, sizeof v.cwd) == NULL)
		snprintf(v.cwd, sizeof v.cwd, "/");
	snprintf(view_dir, sizeof view_dir, "%s", v.cwd);
	view_model_init(&v);
	v.color = getenv("NO_COLOR") == NULL || !*getenv("NO_COLOR");
	view_settings(&v);
	if (connect_all(&v, &ctx->err) < 0) {
		view_model_free(&v);
		free(v.notify_cmd);
		return cmd_fail(ctx);
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);
	/* C-\ is the default detach key: pressed a moment too early (before
	 * attach has the terminal) it must not kill the view */
	signal(SIGQUIT, SIG_IGN);
	initscr();
	cbreak();
	noecho();
	nonl();
	keypad(stdscr, TRUE);
	set_escdelay(25);
	view_draw_init(&v);
	while (!v.quit && !got_signal) {
		view_draw(&v);
		struct pollfd p[2] = {{0, POLLIN, 0}, {v.sub.fd, POLLIN, 0}};
		int n = poll(p, 2, tick_ms(&v));
		if (n < 0 && errno != EINTR)
			break;
		while (waitpid(-1, NULL, WNOHANG) > 0)
			; /* notifyCommand children */
		if (p[1].revents)
			read_events(&v, ctx);
		if (p[0].revents) {
			nodelay(stdscr, TRUE);
			while ((c = getch()) != ERR && !v.quit) {
				handle_key(&v, c);
				if (v.mode == M_LIST &&
				    (c == '\r' || c == '\n' ||
				        c == KEY_ENTER)) {
					/* back from attach: what changed */
					view_model_load(&v, &ctx->err);
				}
			}
			nodelay(stdscr, FALSE);
		}
		if (v.mode == M_PEEK && wall_ms() - v.peek_at >= 300)
			peek_refresh(&v);
	}
	endwin();
	view_model_free(&v);
	client_close(&v.sub);
	client_close(&v.req);
	free(v.peek_text);
	free(v.notify_cmd);
	return 0;
}

const struct cmd_entry cmd_view_entry = {
    .name = "view",
    .usage = "",
    .summary = "the agent view (what `galley` alone opens on a terminal)",
    .help = "Keys: j/k move, Space peek and reply, Enter attach, n new,\n"
            "Ctrl+T pin, Ctrl+R rename, Ctrl+X stop (twice: delete), r "
            "restart,\n"
            "d diff, m merge, / filter, g grouping, S settings, ? help, q "
            "quit.\n",
    .flags = CMD_NOJSON,
    .run = view_run,
};
