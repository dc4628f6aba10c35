/* A member keeps its lead's rules (issue 15): the permission mode, the
 * tool rules and the sandbox, narrowed by its own flags, never widened.
 * Run on a member's spec before it is made (session_spec_filter). */
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "session.h"
#include "spec.h"
#include "store.h"
#include "team.h"
#include "util.h"
#include "xmalloc.h"

/* Claude Code's permission modes, narrowest first. */
static int
mode_rank(const char *mode)
{
	static const char *const modes[] = {"plan", "dontAsk", "default",
	    "acceptEdits", "auto", "bypassPermissions"};

	for (size_t i = 0; i < nitems(modes); i++)
		if (strcmp(mode ? mode : "default", modes[i]) == 0)
			return (int)i;
	return -1;
}

static int
in_list(json_t *list, const char *s)
{
	json_t *v;
	size_t i;

	json_array_foreach(
	    list, i, v) if (strcmp(json_string_value(v), s) == 0) return 1;
	return 0;
}

static int
inherit_mode(struct session_spec *sp, json_t *lead, struct err *err)
{
	const char *lm =
	    json_string_value(json_object_get(lead, "permission_mode"));

	if (lm == NULL)
		return 0; /* a lead without permission modes (fake, exec) */
	if (sp->permission_mode == NULL) {
		sp->permission_mode = xstrdup(lm);
		return 0;
	}
	if (mode_rank(sp->permission_mode) > mode_rank(lm))
		return err_set(err, ERR_REFUSED,
		    "--permission-mode %s is wider than the lead's %s: a member "
		    "keeps its lead's rules, narrowed, never widened",
		    sp->permission_mode, lm);
	return 0;
}

/* deny: the lead's and its own; allow and the agent's tools: the lead's,
 * or its own where the lead has them too */
static int
inherit_rules(struct session_spec *sp, json_t *lead, struct err *err)
{
	json_t *deny = json_object_get(lead, "deny"), *v;
	json_t *allow = json_object_get(lead, "allow");
	json_t *tools = json_object_get(lead, "tools");
	size_t i;

	json_array_foreach(deny, i, v)
	{
		json_t *mine = strv_to_json(&sp->deny);
		if (!in_list(mine, json_string_value(v)))
			strv_add(&sp->deny, json_string_value(v));
		json_decref(mine);
	}
	for (i = 0; i < sp->allow.n; i++)
		if (!in_list(allow, sp->allow.v[i]))
			return err_set(err, ERR_REFUSED,
			    "--allow '%s' is not among the lead's: a member "
			    "keeps its lead's rules, narrowed, never widened",
			    sp->allow.v[i]);
	if (sp->allow.n == 0)
		json_array_foreach(allow, i, v)
		    strv_add(&sp->allow, json_string_value(v));
	if (json_array_size(tools) == 0)
		return 0;
	struct strv keep = {0};
	for (i = 0; i < sp->agent_tools.n; i++)
		if (in_list(tools, sp->agent_tools.v[i]))
			strv_add(&keep, sp->agent_tools.v[i]);
	if (sp->agent_tools.n == 0)
		json_array_foreach(tools, i, v)
		    strv_add(&keep, json_string_value(v));
	strv_release(&sp->agent_tools);
	sp->agent_tools = keep;
	if (keep.n == 0)
		return err_set(err, ERR_REFUSED,
		    "none of its agent's tools is among the lead's: a member "
		    "keeps its lead's rules");
	return 0;
}

/* every confinement the lead has; best effort only if both are */
static void
inherit_sandbox(struct session_spec *sp, json_t *lead)
{
	json_t *want = json_object_get(lead, "sandbox");
	static const char *const flags[] = {"write", "net"};

	if (want == NULL)
		return;
	if (sp->sandbox == NULL) {
		sp->sandbox = json_pack("{s:b}", "best_effort",
		    json_is_true(json_object_get(want, "best_effort")));
	} else if (!json_is_true(json_object_get(want, "best_effort")))
		json_object_set_new(sp->sandbox, "best_effort", json_false());
	for (size_t i = 0; i < nitems(flags); i++)
		if (json_is_true(json_object_get(want, flags[i])))
			json_object_set_new(sp->sandbox, flags[i], json_true());
}

/* Under --sandbox write, Landlock lets it write only where its --own
 * globs point (sandbox.c add_scope). */
static void
own_scope(struct session_spec *sp)
{
	static const char sql[] =
	    "SELECT own FROM members WHERE team = ? AND name = ?";
	sqlite3_stmt *st = store_stmt(&galley_db, sql);

	if (st == NULL)
		return;
	store_bind_text(st, 1, sp->team);
	store_bind_text(st, 2, sp->member);
	json_t *own = sqlite3_step(st) == SQLITE_ROW && store_col_text(st, 0)
	    ? json_loads(store_col_text(st, 0), 0, NULL)
	    : NULL;
	sqlite3_reset(st);
	json_t *v;
	size_t i;
	json_array_foreach(own, i, v)
	    strv_add(&sp->write_only, json_string_value(v));
	json_decref(own);
}

int
team_inherit(struct session_spec *sp, struct err *err)
{
	char sid[16];
	struct session *lead;

	if (sp->team == NULL || sp->member == NULL)
		return 0;
	if (strcmp(sp->member, "lead") != 0 &&
	    team_member_session(sp->team, "lead", sid, sizeof sid) &&
	    (lead = session_find_id(sid)) != NULL && lead->policy) {
		if (inherit_mode(sp, lead->policy, err) < 0 ||
		    inherit_rules(sp, lead->policy, err) < 0)
			return -1;
		inherit_sandbox(sp, lead->policy);
	}
	if (json_is_true(json_object_get(sp->sandbox, "write")))
		own_scope(sp);
	return 0;
}
