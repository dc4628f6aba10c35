/* Painting the agent view with ncursesw. Only the visible rows are
 * painted, and curses sends the terminal only the cells that changed, so
 * a state change among 1,000 sessions costs one row's worth of output.
 * Text is cut by display width (wcwidth), never in the middle of a wide
 * character; NO_COLOR turns colour off. */
#define _XOPEN_SOURCE_EXTENDED 1
#include <curses.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "state.h"
#include "util.h"
#include "names.h"
#include "view.h"

enum { C_HEAD = 1, C_GROUP, C_BLOCKED, C_REVIEW, C_WORK, C_FAIL, C_DIM };

void
view_draw_init(struct view *v)
{
	if (!v->color || !has_colors())
		return;
	start_color();
	use_default_colors();
	init_pair(C_HEAD, COLOR_BLACK, COLOR_CYAN);
	init_pair(C_GROUP, COLOR_CYAN, -1);
	init_pair(C_BLOCKED, COLOR_YELLOW, -1);
	init_pair(C_REVIEW, COLOR_GREEN, -1);
	init_pair(C_WORK, COLOR_BLUE, -1);
	init_pair(C_FAIL, COLOR_RED, -1);
	init_pair(C_DIM, COLOR_WHITE, -1);
}

static attr_t
color(struct view *v, int pair)
{
	return v->color && has_colors() ? COLOR_PAIR(pair) : A_NORMAL;
}

/* Put at most width columns of s at (y, x), padded with spaces; a cut is
 * marked with '~'. Returns the columns used. */
static int
put(int y, int x, int width, const char *s)
{
	wchar_t wc;
	mbstate_t st;
	int used = 0;
	size_t n;

	if (width <= 0)
		return 0;
	memset(&st, 0, sizeof st);
	move(y, x);
	while (*s) {
		n = mbrtowc(&wc, s, strlen(s), &st);
		if (n == (size_t)-1 || n == (size_t)-2) {
			wc = L'?';
			n = 1;
			memset(&st, 0, sizeof st);
		} else if (n == 0)
			break;
		if (wc < L' ' || wc == 0x7f)
			wc = L' ';
		int w = wcwidth(wc);
		if (w < 0)
			w = 1, wc = L'?';
		/* leave room for the cut mark unless it all fits */
		const char *rest = s + n;
		if (used + w > width ||
		    (used + w == width && *rest && view_text_width(rest) > 0)) {
			if (used < width) {
				addch('~');
				used++;
			}
			break;
		}
		addnwstr(&wc, 1);
		used += w;
		s = rest;
	}
	for (; used < width; used++)
		addch(' ');
	return width;
}

int
view_text_width(const char *s)
{
	mbstate_t st;
	wchar_t wc;
	int cols = 0;
	size_t n;

	memset(&st, 0, sizeof st);
	while (*s && (n = mbrtowc(&wc, s, strlen(s), &st)) != 0) {
		if (n == (size_t)-1 || n == (size_t)-2) {
			n = 1;
			memset(&st, 0, sizeof st);
			cols++;
		} else {
			int w = wcwidth(wc);
			cols += w < 0 ? 1 : w;
		}
		s += n;
	}
	return cols;
}

static const char *
str(json_t *s, const char *k)
{
	const char *v = json_string_value(json_object_get(s, k));

	return v ? v : "";
}

static void
age(int64_t ms, char *out, size_t size)
{
	int64_t s = (wall_ms() - ms) / 1000;

	if (s < 0)
		s = 0;
	if (s < 60)
		snprintf(out, size, "%llds", (long long)s);
	else if (s < 3600)
		snprintf(out, size, "%lldm", (long long)(s / 60));
	else if (s < 86400)
		snprintf(out, size, "%lldh", (long long)(s / 3600));
	else
		snprintf(out, size, "%lldd", (long long)(s / 86400));
}

static int
state_pair(const char *name)
{
	switch (state_from_name(name)) {
	case SESSION_BLOCKED:
		return C_BLOCKED;
	case SESSION_IDLE:
	case SESSION_DONE:
		return C_REVIEW;
	case SESSION_WORKING:
	case SESSION_STARTING:
		return C_WORK;
	case SESSION_FAILED:
	case SESSION_INTERRUPTED:
		return C_FAIL;
	default:
		return C_DIM;
	}
}

/* "conflict: NAME (a.c, b.c); ..." for a session whose work clashes with
 * another's, by name, or "" (the names from the view's own list). */
static const char *
conflict_text(struct view *v, json_t *s, char *out, size_t size)
{
	json_t *c;
	size_t i, n = 0;

	out[0] = '\0';
	json_array_foreach(json_object_get(s, "conflicts"), i, c)
	{
		const char *with = str(c, "with");
		json_t *o = json_object_get(v->sessions, with);
		json_t *p;
		size_t j;
		n += (size_t)snprintf(out + n, size - n, "%s%s (",
		    i ? "; " : "conflict: ", o ? str(o, "name") : with);
		json_array_foreach(json_object_get(c, "paths"), j, p)
		{
			if (n < size)
				n += (size_t)snprintf(out + n, size - n, "%s%s",
				    j ? ", " : "",
				    json_string_value(p) ? json_string_value(p)
				                         : "");
		}
		if (n < size)
			n += (size_t)snprintf(out + n, size - n, ")");
		if (n >= size)
			break;
	}
	return out;
}

/* A team's row: the lead's tasks done of all, a member's task in
 * progress, and the messages waiting for either, before its detail. */
static const char *
team_tag(struct view *v, json_t *s, const char *detail, char *out, size_t size)
{
	json_t *b = json_object_get(v->board, str(s, "id"));
	char tag[256] = "";
	size_t n = 0;

	view_workflow_tag(v, s, tag, sizeof tag);
	n = strlen(tag);
	if (b == NULL && n == 0)
		return detail;
	long long tasks = json_integer_value(json_object_get(b, "tasks"));
	long long waiting = json_integer_value(json_object_get(b, "waiting"));
	const char *task = json_string_value(json_object_get(b, "task"));
	if (tasks > 0)
		n += (size_t)snprintf(tag + n, sizeof tag - n,
		    "[%lld/%lld done] ",
		    (long long)json_integer_value(json_object_get(b, "done")),
		    tasks);
	if (task && n < sizeof tag)
		n += (size_t)snprintf(tag + n, sizeof tag - n, "[%s] ", task);
	if (waiting > 0 && n < sizeof tag)
		snprintf(tag + n, sizeof tag - n, "[%lld msg%s] ", waiting,
		    waiting == 1 ? "" : "s");
	if (tag[0] == '\0')
		return detail;
	snprintf(out, size, "%s%s", tag, detail);
	return out;
}

static void
draw_row(struct view *v, int y, json_t *s, int selected, int member)
{
	int W = COLS, x = 0;
	char buf[512], a[16];
	const char *st = str(s, "state");
	json_t *usage = json_object_get(s, "usage");
	json_t *files = json_object_get(s, "changed_files");

	if (selected)
		attron(A_REVERSE);
	char clash[256];
	conflict_text(v, s, clash, sizeof clash);
	/* "!": its work would clash with another's if both were merged */
	x += put(y, x, 2,
	    selected ? (*clash ? ">!" : "> ") : (*clash ? " !" : "  "));
	char nm[24];
	/* a team's member, under its lead */
	char named[32];
	snprintf(named, sizeof named, "%s%s", member ? "\u2514 " : "",
	    name_fit(str(s, "name"), member ? 18 : 20, nm, sizeof nm));
	x += put(y, x, 21, named);
	attron(color(v, state_pair(st)));
	x += put(y, x, 9, st);
	attroff(color(v, state_pair(st)));
	age(json_integer_value(json_object_get(s, "updated_ms")), a, sizeof a);
	snprintf(buf, sizeof buf, "%4s ", a);
	x += put(y, x, 5, buf);
	if (W >= 100) {
		const char *model = str(s, "model");
		snprintf(buf, sizeof buf, "%s%s%s", str(s, "runtime"),
		    *model ? "/" : "", model);
		x += put(y, x, 15, buf);
	}
	int right = W >= 70 ? 16 : 0;
	int where = W >= 120 ? 20 : 0;
	/* what it needs, why it ended, or what it was asked */
	const char *detail = state_name_is(st, SESSION_BLOCKED)
	    ? str(s, "waiting_for")
	    : *str(s, "output_error")           ? str(s, "output_error")
	    : *clash                            ? clash
	    : state_name_is(st, SESSION_FAILED) ? str(s, "reason")
	                                        : str(s, "prompt");
	if (!*detail) {
		json_t *cmd = json_object_get(s, "command");
		detail = json_string_value(json_array_get(cmd, 0));
		detail = detail ? detail : "";
	}
	char tagged[512];
	detail = team_tag(v, s, detail, tagged, sizeof tagged);
	int dw = W - x - right - where - 1;
	if (dw > 0)
		x += put(y, x, dw, detail);
	if (where) {
		const char *br = str(s, "branch");
		const char *cwd = str(s, "cwd");
		const char *base = strrchr(cwd, '/');
		snprintf(buf, sizeof buf, " %s",
		    *br ? br : (base && base[1] ? base + 1 : cwd));
		x += put(y, x, where, buf);
	}
	if (right) {
		char d[16] = "";
		if (json_integer_value(files) > 0)
			snprintf(d, sizeof d, "+%lldf",
			    (long long)json_integer_value(files));
		snprintf(buf, sizeof buf, " %6s $%.2f", d,
		    json_number_value(json_object_get(usage, "cost_usd")));
		x += put(y, x, right, buf);
	}
	if (x < W)
		put(y, x, W - x, "");
	if (selected)
		attroff(A_REVERSE);
}

static void
draw_header(struct view *v)
{
	static const char *const short_names[G_COUNT] = {
	    "pinned", "input", "review", "working", "queued", "ended"};
	char buf[512];
	int n = 0;

	n += snprintf(buf + n, sizeof buf - (size_t)n, " galley · %zu sessions",
	    json_object_size(v->sessions));
	/* a pinned session that needs an answer still needs one: the input
	 * count says so, though its row stays with the pinned */
	for (int g = 0; g < G_COUNT; g++)
		n += snprintf(buf + n, sizeof buf - (size_t)n, " · %s %d",
		    short_names[g],
		    v->counts[g] + (g == G_INPUT ? v->pinned_input : 0));
	if (v->filter[0])
		snprintf(buf + n, sizeof buf - (size_t)n, " · filter: %s",
		    v->filter);
	attron(color(v, C_HEAD) | A_BOLD);
	put(0, 0, COLS, buf);
	attroff(color(v, C_HEAD) | A_BOLD);
}

static void
draw_footer(struct view *v)
{
	char buf[512];
	int running = 0, blocked = 0;
	const char *id;
	json_t *s;

	json_object_foreach(v->sessions, id, s)
	{
		const char *st = str(s, "state");
		running += state_name_live(st);
		blocked += state_name_is(st, SESSION_BLOCKED);
	}
	char budget[64] = "";
	if (v->budget_usd > 0)
		snprintf(budget, sizeof budget, " of $%.2f (%.0f%%)",
		    v->budget_usd, 100 * view_cost_today(v) / v->budget_usd);
	snprintf(buf, sizeof buf,
	    " running %d · blocked %d · cost today $%.2f%s · ? help · q quit",
	    running, blocked, view_cost_today(v), budget);
	attron(A_REVERSE);
	put(LINES - 1, 0, COLS, buf);
	attroff(A_REVERSE);
	if (v->status[0] && wall_ms() - v->status_at < 8000)
		put(LINES - 2, 0, COLS, v->status);
}

static void
draw_list(struct view *v, int top_y, int bottom_y)
{
	int h = bottom_y - top_y, y = top_y;
	int last_group = -1;

	if (h <= 0)
		return;
	/* lines needed up to the selection, with group headings */
	if (v->sel < v->top)
		v->top = v->sel;
	for (;;) {
		int lines = 0, g = -1;
		for (int i = v->top; i <= v->sel && i < (int)v->nrows; i++) {
			if (v->grouping && v->rows[i].group != g) {
				g = v->rows[i].group;
				lines++;
			}
			lines++;
		}
		if (lines <= h || v->top >= v->sel)
			break;
		v->top++;
	}
	if (v->nrows == 0) {
		put(y++, 0, COLS,
		    v->filter[0] ? "  no session matches the filter (/ to "
		                   "change it)"
		                 : "  no sessions yet: n starts one");
	}
	for (int i = v->top; i < (int)v->nrows && y < bottom_y; i++) {
		if (v->grouping && v->rows[i].group != last_group) {
			char head[128];
			last_group = v->rows[i].group;
			snprintf(head, sizeof head, "── %s (%d) ",
			    view_group_name(last_group), v->counts[last_group]);
			attron(color(v, C_GROUP) | A_BOLD);
			put(y++, 0, COLS, head);
			attroff(color(v, C_GROUP) | A_BOLD);
			if (y >= bottom_y)
				break;
		}
		if (v->rows[i].child)
			view_tree_draw_row(
			    v, y++, v->rows[i].child, i == v->sel);
		else
			draw_row(v, y++, v->rows[i].s, i == v->sel,
			    v->rows[i].lead != NULL);
	}
	while (y < bottom_y)
		put(y++, 0, COLS, "");
}

static void
draw_peek(struct view *v, int top)
{
	json_t *s = view_selected(v);
	char title[256];
	int y = top;

	snprintf(title, sizeof title,
	    "── peek %s · %s %s (Enter sends, Esc "
	    "closes) ",
	    s ? str(s, "name") : "-", s ? str(s, "state") : "",
	    s ? str(s, "waiting_for") : "");
	attron(color(v, C_GROUP) | A_BOLD);
	put(y++, 0, COLS, title);
	attroff(color(v, C_GROUP) | A_BOLD);
	char clash[512];
	if (s && *conflict_text(v, s, clash, sizeof clash)) {
		attron(color(v, C_BLOCKED));
		put(y++, 0, COLS, clash);
		attroff(color(v, C_BLOCKED));
	}
	/* the bottom of the screen text: where a prompt is */
	const char *t = v->peek_text ? v->peek_text : "";
	int avail = LINES - 3 - y;
	int nl = 0;
	/* the screen's blank bottom rows say nothing: count up to the last
	 * line with text */
	const char *end = t + strlen(t);
	while (end > t && (end[-1] == '\n' || end[-1] == ' '))
		end--;
	for (const char *p = t; p < end; p++)
		nl += *p == '\n';
	nl++;
	const char *p = t;
	for (int skip = nl - avail; skip > 0 && *p; p++)
		if (*p == '\n')
			skip--;
	while (y < LINES - 3) {
		char line[1024];
		size_t l = strcspn(p, "\n");
		snprintf(
		    line, sizeof line, " %.*s", (int)(l < 1000 ? l : 1000), p);
		put(y++, 0, COLS, line);
		p += l + (p[l] == '\n');
	}
	char reply[1100];
	snprintf(reply, sizeof reply, " reply> %s", v->input);
	put(LINES - 3, 0, COLS, reply);
	move(LINES - 3,
	    8 + view_text_width(v->input) < COLS ? 8 + view_text_width(v->input)
	                                         : COLS - 1);
}

static const char *const help_lines[] = {
    "Keys",
    "  j k, arrows    move              Space   peek and reply",
    "  Tab, Right     a session's subagents and background tasks; Left "
    "folds",
    "  Enter          attach (the detach key comes back here)",
    "  n              new session: PROMPT and options as on the CLI",
    "  Ctrl+T         pin / unpin       Ctrl+R  rename",
    "  Ctrl+X         stop; again       delete (refused if work would be "
    "lost)",
    "  r              restart           d       diff (pager)",
    "  m              merge: one key, m merge, s squash, r rebase",
    "  /              filter: s:STATE a:AGENT r:RUNTIME text; applies as "
    "you type, Esc clears it",
    "  g              grouping on/off   S       settings for new sessions",
    "  t              talk to a team member (a message, typed in when "
    "it is idle)",
    "  p / x / s      a workflow agent's run: pause or resume, stop, save",
    "  r              (a workflow agent) restart it in a new session",
    "  q              quit (sessions keep running)",
    "",
    "Any key closes this help.",
};

void
view_draw(struct view *v)
{
	int list_bottom = LINES - 2;

	erase();
	draw_header(v);
	if (v->mode == M_HELP) {
		for (size_t i = 0; i < sizeof help_lines / sizeof *help_lines &&
		     (int)i + 2 < LINES - 1;
		     i++)
			put((int)i + 2, 0, COLS, help_lines[i]);
		draw_footer(v);
		refresh();
		return;
	}
	if (v->mode == M_PEEK)
		list_bottom = LINES / 3 > 3 ? LINES / 3 : 3;
	draw_list(v, 1, list_bottom);
	if (v->mode == M_PEEK) {
		draw_peek(v, list_bottom);
		draw_footer(v);
		curs_set(1);
		refresh();
		return;
	}
	draw_footer(v);
	if (v->mode == M_SETTINGS) {
		int y = 2;
		attron(color(v, C_GROUP) | A_BOLD);
		put(y++, 0, COLS,
		    "── settings for new sessions (user settings file; Enter "
		    "edits, empty unsets, Esc closes) ");
		attroff(color(v, C_GROUP) | A_BOLD);
		for (int i = 0; view_setting_keys[i]; i++) {
			char line[512],
			    *val = view_setting_value(view_setting_keys[i]);
			snprintf(line, sizeof line, "%s %-22s %s",
			    i == v->settings_sel ? ">" : " ",
			    view_setting_keys[i], val ? val : "(not set)");
			free(val);
			if (i == v->settings_sel)
				attron(A_REVERSE);
			put(y++, 0, COLS, line);
			if (i == v->settings_sel)
				attroff(A_REVERSE);
		}
	}
	if (v->mode == M_INPUT) {
		char line[1200];
		snprintf(line, sizeof line, "%s%s", v->input_label, v->input);
		put(LINES - 2, 0, COLS, line);
		int cx =
		    view_text_width(v->input_label) + view_text_width(v->input);
		move(LINES - 2, cx < COLS ? cx : COLS - 1);
		curs_set(1);
	} else
		curs_set(0);
	refresh();
}
