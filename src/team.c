/* Teams, daemon side: who asks (team_actor), what a team looks like
 * (team_status_json), its events, and the observers and gates that make
 * its rules hold whatever the agents do. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bash-writes.h"
#include "log.h"
#include "names.h"
#include "runtime.h"
#include "server.h"
#include "session-budget.h"
#include "session-policy.h"
#include "session.h"
#include "settings.h"
#include "spec.h"
#include "state.h"
#include "store.h"
#include "team.h"
#include "tool-rules.h"
#include "util.h"
#include "xmalloc.h"

/* The member a session is, if any: its team's id and name, its own. */
int
team_member_of(const char *sid, struct team_actor *a)
{
	static const char sql[] =
	    "SELECT m.team, t.name, m.name FROM members m JOIN teams t ON "
	    "t.id = m.team WHERE m.session = ?";
	sqlite3_stmt *st = store_stmt(&galley_db, sql);
	int found = 0;

	if (st == NULL)
		return 0;
	store_bind_text(st, 1, sid);
	if (sqlite3_step(st) == SQLITE_ROW) {
		snprintf(a->team, sizeof a->team, "%s", store_col_text(st, 0));
		snprintf(a->name, sizeof a->name, "%s", store_col_text(st, 1));
		snprintf(
		    a->member, sizeof a->member, "%s", store_col_text(st, 2));
		found = 1;
	}
	sqlite3_reset(st);
	return found;
}

static int
team_by_name(const char *repo, const char *name, struct team_actor *a)
{
	static const char sql[] =
	    "SELECT id FROM teams WHERE repo = ? AND name = ?";
	sqlite3_stmt *st = store_stmt(&galley_db, sql);
	int found = 0;

	if (st == NULL)
		return 0;
	store_bind_text(st, 1, repo);
	store_bind_text(st, 2, name);
	if (sqlite3_step(st) == SQLITE_ROW) {
		snprintf(a->team, sizeof a->team, "%s", store_col_text(st, 0));
		snprintf(a->name, sizeof a->name, "%s", name);
		found = 1;
	}
	sqlite3_reset(st);
	return found;
}

static int
is_member(const char *team_id, const char *name)
{
	static const char sql[] =
	    "SELECT 1 FROM members WHERE team = ? AND name = ?";
	sqlite3_stmt *st = store_stmt(&galley_db, sql);
	int found;

	if (st == NULL)
		return 0;
	store_bind_text(st, 1, team_id);
	store_bind_text(st, 2, name);
	found = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_reset(st);
	return found;
}

int
team_actor(json_t *req, struct team_actor *a, struct err *err)
{
	const char *team = NULL, *cwd = NULL, *as = NULL, *sid = NULL;
	const char *token = NULL;

	memset(a, 0, sizeof *a);
	if (proto_get_str(req, "team", &team, err) < 0 ||
	    proto_get_str(req, "cwd", &cwd, err) < 0 ||
	    proto_get_str(req, "as", &as, err) < 0 ||
	    proto_get_str(req, "session", &sid, err) < 0 ||
	    proto_get_str(req, "token", &token, err) < 0)
		return -1;
	if (team && name_check(team, "team", err) < 0)
		return -1;
	if (as && name_check(as, "member", err) < 0)
		return -1;
	/* a member proves it is one with its session's hook token */
	struct session *s = sid ? session_find_id(sid) : NULL;
	if (s && token && s->hook_token && strcmp(s->hook_token, token) == 0 &&
	    team_member_of(s->id, a)) {
		a->s = s;
		if (team && strcmp(team, a->name) != 0)
			return err_set(err, ERR_REFUSED,
			    "member %s of team %s cannot act in team %s",
			    a->member, a->name, team);
		if (as && strcmp(as, a->member) != 0)
			return err_set(err, ERR_REFUSED,
			    "member %s cannot act as %s", a->member, as);
		return 0;
	}
	a->is_user = 1;
	snprintf(a->member, sizeof a->member, "user");
	if (team == NULL)
		return err_set(err, ERR_USAGE,
		    "which team? give --team NAME (inside a member's session "
		    "it is its own)");
	char *repo = cwd ? repo_root(cwd) : NULL;
	const char *scope = repo ? repo : cwd ? cwd : "/";
	int found = team_by_name(scope, team, a);
	if (!found)
		err_set(err, ERR_NOT_FOUND,
		    "no team '%s' in %s: see 'galley team ls'", team, scope);
	free(repo); /* scope may be it */
	if (!found)
		return -1;
	if (as && strcmp(as, "user") != 0) {
		if (!is_member(a->team, as))
			return err_set(err, ERR_NOT_FOUND,
			    "team %s has no member '%s'", a->name, as);
		snprintf(a->member, sizeof a->member, "%s", as);
		a->is_user = 0;
	}
	return 0;
}

static json_t *
member_json(sqlite3_stmt *st)
{
	const char *sid = store_col_text(st, 1);
	struct session *s = sid ? session_find_id(sid) : NULL;
	json_t *own = store_col_text(st, 3)
	    ? json_loads(store_col_text(st, 3), 0, NULL)
	    : NULL;

	return json_pack("{s:s, s:s?, s:s, s:s?, s:s?, s:o, s:s}", "name",
	    store_col_text(st, 0), "session", sid, "state",
	    s ? state_name(s->state) : "not started", "model",
	    s ? s->model : NULL, "lens", store_col_text(st, 2), "own",
	    own ? own : json_array(), "plan", store_col_text(st, 4));
}

json_t *
team_status_json(const char *team_id)
{
	static const char tsql[] =
	    "SELECT name, repo, goal, plan_approval, isolation, "
	    "teammate_model, budget_usd, budget_tokens FROM teams WHERE id = ?";
	static const char msql[] =
	    "SELECT name, session, lens, own, plan FROM members WHERE team = "
	    "? ORDER BY created_at, name";
	sqlite3_stmt *st = store_stmt(&galley_db, tsql);
	json_t *o = NULL, *members, *lead = json_null();
	double cost = 0;
	long long tokens = 0;

	if (st == NULL)
		return NULL;
	store_bind_text(st, 1, team_id);
	if (sqlite3_step(st) == SQLITE_ROW)
		o = json_pack("{s:s, s:s, s:s, s:s?, s:b, s:s, s:s?}", "id",
		    team_id, "name", store_col_text(st, 0), "repo",
		    store_col_text(st, 1), "goal", store_col_text(st, 2),
		    "plan_approval", sqlite3_column_int(st, 3), "isolation",
		    store_col_text(st, 4), "teammate_model",
		    store_col_text(st, 5));
	if (o &&
	    (sqlite3_column_double(st, 6) > 0 ||
	        sqlite3_column_int64(st, 7) > 0))
		json_object_set_new(o, "budget",
		    json_pack("{s:f, s:I}", "usd", sqlite3_column_double(st, 6),
		        "tokens", (json_int_t)sqlite3_column_int64(st, 7)));
	sqlite3_reset(st);
	if (o == NULL)
		return NULL;
	members = json_array();
	st = store_stmt(&galley_db, msql);
	store_bind_text(st, 1, team_id);
	while (st && sqlite3_step(st) == SQLITE_ROW) {
		json_t *m = member_json(st);
		struct session *s = store_col_text(st, 1)
		    ? session_find_id(store_col_text(st, 1))
		    : NULL;
		if (s) {
			cost += s->usage.cost;
			tokens += s->usage.input + s->usage.output +
			    s->usage.cache_read + s->usage.cache_write;
		}
		if (strcmp(store_col_text(st, 0), "lead") == 0) {
			json_decref(lead);
			lead = m;
		} else
			json_array_append_new(members, m);
	}
	if (st)
		sqlite3_reset(st);
	json_object_set_new(o, "lead", lead);
	json_object_set_new(o, "members", members);
	json_object_set_new(o, "tasks", team_task_list(team_id));
	json_object_set_new(
	    o, "messages_waiting", json_integer(team_msg_waiting(team_id)));
	json_object_set_new(o, "usage",
	    json_pack(
	        "{s:f, s:I}", "cost_usd", cost, "tokens", (json_int_t)tokens));
	return o;
}

/* ---- observers ---------------------------------------------------------- */

static void
link_member(struct session *s)
{
	static const char sql[] =
	    "UPDATE members SET session = ? WHERE team = ? AND name = ?";
	sqlite3_stmt *st = store_stmt(&galley_db, sql);

	if (st == NULL)
		return;
	store_bind_text(st, 1, s->id);
	store_bind_text(st, 2, s->team);
	store_bind_text(st, 3, s->member);
	if (sqlite3_step(st) != SQLITE_DONE)
		log_error("team %s: cannot link member %s: %s", s->team,
		    s->member, sqlite3_errmsg(galley_db.db));
	sqlite3_reset(st);
}

static void
team_observe(struct session *s, const struct session_change *ch, void *arg)
{
	struct team_actor a;

	if (ch->kind == SESSION_CHANGE_CREATED && s->team && s->member) {
		const struct session_spec *sp = ch->spec;
		const struct runtime *rt = runtime_find(s->runtime);
		link_member(s);
		if (sp && sp->prompt && *sp->prompt && !sp->headless && rt &&
		    rt->late_tools)
			team_msg_brief(s->team, s->member, s->id, sp->prompt);
		return;
	}
	if (ch->kind != SESSION_CHANGE_STATE || s->team == NULL ||
	    ch->old == (int)s->state || !team_member_of(s->id, &a))
		return;
	a.s = s;
	if (ch->old == SESSION_QUEUED || state_table[ch->old].terminal)
		team_msg_started(a.team, a.member, s->id);
	if (s->state == SESSION_IDLE)
		team_event(&a, "team.member_idle", json_object());
	if (!state_table[s->state].terminal) {
		/* messages only when idle; a held first prompt may go when
		 * it is past a dialog */
		team_msg_deliver(a.team, a.member);
		return;
	}
	/* a member that dies is not silent: the lead hears it */
	if (state_table[s->state].terminal && !s->stop_requested &&
	    s->state != SESSION_DONE && strcmp(a.member, "lead") != 0) {
		char *text;
		xasprintf(&text, "member %s %s: %s", a.member,
		    state_name(s->state), s->reason ? s->reason : "no reason");
		team_msg_send(a.team, "galley", "lead", text, NULL);
		free(text);
	}
}

/* ---- gates -------------------------------------------------------------- */

static const char *const editing_tools[] = {
    "Edit", "Write", "MultiEdit", "NotebookEdit"};

static int
edits_files(const char *tool)
{
	for (size_t i = 0; i < nitems(editing_tools); i++)
		if (strcmp(tool, editing_tools[i]) == 0)
			return 1;
	return 0;
}

/* Bash that only reads, for the plan gate: the first word of a command
 * line with no redirection into a file. galley itself is let through (its
 * task and message verbs are how a member plans). */
static int
bash_reads_only(json_t *input)
{
	static const char *const readers[] = {"cat", "ls", "grep", "rg", "head",
	    "tail", "wc", "find", "pwd", "echo", "true", "galley", "git",
	    "stat", "file", "tree", "diff", "sed"};
	const char *cmd = json_string_value(json_object_get(input, "command"));
	char word[32];

	if (cmd == NULL || strpbrk(cmd, ">;&|`$"))
		return 0;
	while (*cmd == ' ')
		cmd++;
	size_t n = strcspn(cmd, " \t");
	if (n >= sizeof word)
		return 0;
	snprintf(word, sizeof word, "%.*s", (int)n, cmd);
	const char *slash = strrchr(word, '/');
	const char *w = slash ? slash + 1 : word;
	if (strcmp(w, "git") == 0) /* only git's reading verbs */
		return strncmp(cmd + n, " status", 7) == 0 ||
		    strncmp(cmd + n, " diff", 5) == 0 ||
		    strncmp(cmd + n, " log", 4) == 0 ||
		    strncmp(cmd + n, " show", 5) == 0;
	if (strcmp(w, "sed") == 0 && strstr(cmd, " -i"))
		return 0;
	for (size_t i = 0; i < nitems(readers); i++)
		if (strcmp(w, readers[i]) == 0)
			return 1;
	return 0;
}

static int
owned(json_t *own, const char *tool, json_t *input, const char *cwd)
{
	json_t *g;
	size_t i;
	int ok = 0;

	json_array_foreach(own, i, g)
	{
		char *rule;
		xasprintf(&rule, "%s(%s)", tool, json_string_value(g));
		ok |= tool_rule_match(rule, tool, input, cwd);
		free(rule);
	}
	return ok;
}

/* Why this call writes outside the member's globs, or NULL. Bash: the
 * paths its words name inside the member's tree (bash-writes.c); a write
 * outside the tree is no member's file, and what the words do not tell is
 * left to --sandbox write. */
static char *
outside_own(struct session *s, const char *tool, json_t *input, json_t *own,
    const char *member)
{
	const char *cmd = json_string_value(json_object_get(input, "command"));
	char *why = NULL, *list = json_dumps(own, JSON_COMPACT);
	size_t cwdlen = strlen(s->cwd);

	if (edits_files(tool) && !owned(own, tool, input, s->cwd))
		xasprintf(&why,
		    "galley: member %s owns only %s: this %s is outside its "
		    "files; ask the owner (galley msg send) or the lead",
		    member, list, tool);
	if (strcmp(tool, "Bash") == 0 && cmd) {
		json_t *paths = json_array(), *p;
		size_t i;
		bash_writes(cmd, s->cwd, paths);
		json_array_foreach(paths, i, p)
		{
			const char *path = json_string_value(p);
			if (strncmp(path, s->cwd, cwdlen) ||
			    (path[cwdlen] && path[cwdlen] != '/'))
				continue;
			json_t *in = json_pack("{s:s}", "file_path", path);
			int ok = owned(own, "Edit", in, s->cwd);
			json_decref(in);
			if (ok)
				continue;
			xasprintf(&why,
			    "galley: member %s owns only %s: this command "
			    "writes %s, outside its files; ask the owner "
			    "(galley msg send) or the lead",
			    member, list,
			    path[cwdlen] ? path + cwdlen + 1
			                 : "the whole tree");
			break;
		}
		json_decref(paths);
	}
	free(list);
	return why;
}

static char *
team_gate(struct session *s, const char *tool, json_t *input)
{
	static const char sql[] =
	    "SELECT t.plan_approval, m.plan, m.own, m.name FROM members m "
	    "JOIN teams t ON t.id = m.team WHERE m.session = ?";
	sqlite3_stmt *st;
	char *why = NULL;

	if (s->team == NULL || (st = store_stmt(&galley_db, sql)) == NULL)
		return NULL;
	store_bind_text(st, 1, s->id);
	if (sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_reset(st);
		return NULL;
	}
	int gated = sqlite3_column_int(st, 0) &&
	    strcmp(store_col_text(st, 3), "lead") != 0 &&
	    strcmp(store_col_text(st, 1), "approved") != 0;
	int mutating = edits_files(tool) ||
	    (strcmp(tool, "Bash") == 0 && !bash_reads_only(input));
	if (gated && mutating)
		xasprintf(&why,
		    "galley: your plan is not approved yet, so %s is denied: "
		    "send it with 'galley team plan \"THE PLAN\"' (or the "
		    "request_plan_approval tool) and wait for the lead's "
		    "answer%s",
		    tool,
		    strcmp(store_col_text(st, 1), "rejected") == 0
		        ? " (your last plan was rejected: see your messages)"
		        : "");
	json_t *own = store_col_text(st, 2)
	    ? json_loads(store_col_text(st, 2), 0, NULL)
	    : NULL;
	if (why == NULL && json_array_size(own))
		why = outside_own(s, tool, input, own, store_col_text(st, 3));
	json_decref(own);
	sqlite3_reset(st);
	return why;
}

/* ---- the team's budget ------------------------------------------------- */

/* Over every member: its limit, and what all of them spent together. */
static int
team_budget(struct session *s, struct budget *b)
{
	static const char sql[] =
	    "SELECT t.id, t.name, t.budget_usd, t.budget_tokens FROM members "
	    "m JOIN teams t ON t.id = m.team WHERE m.session = ?";
	static const char msql[] =
	    "SELECT session FROM members WHERE team = ? AND session IS NOT NULL";
	sqlite3_stmt *st;

	if (s->team == NULL || (st = store_stmt(&galley_db, sql)) == NULL)
		return 0;
	store_bind_text(st, 1, s->id);
	int found = sqlite3_step(st) == SQLITE_ROW &&
	    (sqlite3_column_double(st, 2) > 0 ||
	        sqlite3_column_int64(st, 3) > 0);
	if (found) {
		snprintf(b->scope, sizeof b->scope, "team:%s",
		    store_col_text(st, 0));
		snprintf(b->label, sizeof b->label, "team %s's budget",
		    store_col_text(st, 1));
		snprintf(b->raise, sizeof b->raise, "galley team budget %s",
		    store_col_text(st, 1));
		b->lim_usd = sqlite3_column_double(st, 2);
		b->lim_tokens = sqlite3_column_int64(st, 3);
	}
	char team[16];
	snprintf(team, sizeof team, "%s", found ? store_col_text(st, 0) : "");
	sqlite3_reset(st);
	if (!found || (st = store_stmt(&galley_db, msql)) == NULL)
		return 0;
	store_bind_text(st, 1, team);
	while (sqlite3_step(st) == SQLITE_ROW) {
		struct session *m = session_find_id(store_col_text(st, 0));
		if (m == NULL)
			continue;
		b->usd += m->usage.cost;
		b->tokens += m->usage.input + m->usage.output +
		    m->usage.cache_read + m->usage.cache_write;
	}
	sqlite3_reset(st);
	return 1;
}

void
team_init(void)
{
	session_observe(team_observe, NULL);
	session_policy_gate(team_gate);
	session_budget_source(team_budget);
	session_spec_filter(team_inherit);
}
