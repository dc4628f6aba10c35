/* A new session from a `new` or `exec` request: checked, named, its
 * spec.json written, stored, and put through the line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "buf.h"
#include "log.h"
#include "names.h"
#include "runtime.h"
#include "executor.h"
#include "fdlimit.h"
#include "sandbox.h"
#include "session-life.h"
#include "session.h"
#include "settings-cache.h"
#include "spec.h"
#include "util.h"
#include "xmalloc.h"

/* The rules a session keeps for its whole life (session-policy.c
 * enforces them): only those given. */
static json_t *
policy_of(const struct session_spec *sp)
{
	json_t *p = json_object();

	if (sp->allow.n)
		json_object_set_new(p, "allow", strv_to_json(&sp->allow));
	if (sp->deny.n)
		json_object_set_new(p, "deny", strv_to_json(&sp->deny));
	if (sp->agent_tools.n) /* its agent definition's tools */
		json_object_set_new(p, "tools", strv_to_json(&sp->agent_tools));
	if (sp->budget_usd > 0)
		json_object_set_new(p, "budget_usd", json_real(sp->budget_usd));
	if (sp->budget_tokens > 0)
		json_object_set_new(
		    p, "budget_tokens", json_integer(sp->budget_tokens));
	if (sp->sandbox) {
		json_t *sb = json_deep_copy(sp->sandbox);
		if (sp->write_only.n)
			json_object_set_new(
			    sb, "only", strv_to_json(&sp->write_only));
		json_object_set_new(p, "sandbox", sb);
	}
	const struct runtime *rt = runtime_find(sp->runtime);
	if (rt && rt->named_agents) /* Claude Code's permission modes */
		json_object_set_new(p, "permission_mode",
		    json_string(
		        sp->permission_mode ? sp->permission_mode : "default"));
	if (json_object_size(p) == 0) {
		json_decref(p);
		return NULL;
	}
	return p;
}

/* What needs the daemon's state: the directory, a free name, the
 * sessions it starts after (as ids), and a sandbox this machine has. */
static int
check_against_daemon(
    struct session *s, const struct session_spec *sp, struct err *err)
{
	struct stat st;

	if (stat(sp->cwd, &st) != 0 || !S_ISDIR(st.st_mode))
		return err_set(
		    err, ERR_NOT_FOUND, "no directory '%s'", sp->cwd);
	/* a member's name (TEAM.MEMBER) may be another repo's team's too:
	 * made unique, as an automatic name is (fill) */
	if (sp->name && sp->team == NULL && session_name_taken(sp->name, NULL))
		return err_set(err, ERR_EXISTS,
		    "a live session is already named '%s': pick another -n "
		    "NAME",
		    sp->name);
	s->after = json_array();
	for (size_t i = 0; i < sp->after.n; i++) {
		struct session *dep = session_resolve(sp->after.v[i], err);
		if (dep == NULL)
			return -1;
		json_array_append_new(s->after, json_string(dep->id));
	}
	s->policy = policy_of(sp);
	/* refuse a sandbox this machine lacks before anything is made */
	json_t *want = json_object_get(s->policy, "sandbox"), *applied = NULL;
	if (want && sandbox_check(want, &applied, err) < 0)
		return -1;
	if (applied)
		json_object_set_new(want, "applied", applied);
	return 0;
}

/* Unnamed: from the prompt, or a job from its command's base name and two
 * arguments, made unique. */
static char *
name_for(const struct session_spec *sp, json_t *argv)
{
	const char *a0 = json_string_value(json_array_get(argv, 0));
	const struct runtime *rt = runtime_find(sp->runtime);
	char *base, *name;

	if ((sp->prompt == NULL || *sp->prompt == '\0') && a0 && rt &&
	    strcmp(rt->kind, "job") == 0) {
		/* a job is named after its command, not its path */
		const char *slash = strrchr(a0, '/');
		struct buf b = BUF_INIT;
		buf_adds(&b, slash ? slash + 1 : a0);
		for (size_t i = 1; i < json_array_size(argv) && i < 3; i++)
			buf_addf(&b, " %s",
			    json_string_value(json_array_get(argv, i)));
		base = name_from_text(b.data, NAME_AUTO_MAX);
		buf_release(&b);
	} else /* an agent with no prompt is named after its runtime, not
	          after its program's path */
		base = name_from_text(
		    sp->prompt && *sp->prompt ? sp->prompt : sp->runtime,
		    NAME_AUTO_MAX);
	if (id_valid(base)) { /* a prompt "cafebabe" must not pass for an id */
		char *b2;
		xasprintf(&b2, "%s-s", base);
		free(base);
		base = b2;
	}
	name = session_unique_name(base);
	free(base);
	return name;
}

static char *
dup_or_null(const char *v)
{
	return v ? xstrdup(v) : NULL;
}

static void
fill(struct session *s, const struct session_spec *sp, json_t *argv,
    const char *rsid)
{
	do
		random_hex(s->id, GALLEY_ID_LEN);
	while (session_find_id(s->id) != NULL);
	s->name = sp->name && sp->team ? session_unique_name(sp->name)
	    : sp->name                 ? xstrdup(sp->name)
	                               : name_for(sp, argv);
	s->runtime = xstrdup(sp->runtime);
	s->kind = xstrdup(runtime_kind(sp->runtime));
	s->state = SESSION_QUEUED;
	s->prompt = dup_or_null(sp->prompt);
	s->cwd = xstrdup(sp->cwd);
	s->model = dup_or_null(sp->model);
	s->runtime_session_id = dup_or_null(rsid);
	s->worktree = dup_or_null(sp->worktree);
	s->branch = dup_or_null(sp->branch);
	s->repo = dup_or_null(sp->repo);
	s->base = dup_or_null(sp->base);
	s->base_ref = dup_or_null(sp->base_ref);
	s->team = dup_or_null(sp->team);
	s->member = dup_or_null(sp->member);
	s->parent = dup_or_null(sp->parent);
	s->workflow = dup_or_null(sp->workflow);
	s->pinned = sp->pin;
	s->priority = sp->priority;
	s->grp = xstrdup(sp->group ? sp->group : "default");
	s->executor = xstrdup(sp->executor ? sp->executor : "local");
	s->hook_token = xmalloc(33);
	random_hex(s->hook_token, 32);
	s->created_at = s->updated_at = wall_ms();
}

/* logs.maxBytes as the session's project (or the user) says. */
static long long
log_max_bytes(const char *cwd)
{
	char *root = repo_root(cwd);
	json_t *v = settings_get(settings_project(root), "logs.maxBytes");

	free(root);
	return json_is_integer(v) ? (long long)json_integer_value(v) : 0;
}

/* spec.json holds what the host needs, env included: 0600 in the private
 * state dir, never in the store or a log. Not fsync'd: it is only needed
 * while the machine stays up, and a sync here is most of a dispatch. */
static int
write_host_spec(struct session *s, const struct session_spec *sp, json_t *argv,
    struct err *err)
{
	json_t *env = json_array(), *spec, *plan = NULL;
	json_t *want = json_object_get(s->policy, "sandbox");
	char *dir = session_dir(s), *path, *text;
	int rc = -1;

	for (size_t i = 0; i < sp->env.n; i++) {
		const char *kv = sp->env.v[i];
		if (strncmp(kv, "GALLEY_SESSION=", 15) == 0 ||
		    strncmp(kv, "GALLEY_HOOK_TOKEN=", 18) == 0 ||
		    strchr(kv, '=') == NULL)
			continue;
		json_array_append_new(env, json_string(kv));
	}
	json_array_append_new(env, json_sprintf("GALLEY_SESSION=%s", s->id));
	json_array_append_new(
	    env, json_sprintf("GALLEY_HOOK_TOKEN=%s", s->hook_token));
	xasprintf(&path, "%s/spec.json", dir);
	if (mkdir_p(dir, 0700, err) < 0) {
		json_decref(env);
		goto out;
	}
	if (want)
		plan = sandbox_plan(want, json_object_get(want, "applied"),
		    sp->runtime, sp->cwd, dir, env);
	spec = json_pack("{s:O, s:s, s:o, s:i, s:i, s:i, s:o*, s:O*, s:I}",
	    "argv", argv, "cwd", sp->cwd, "env", env, "rows", sp->rows, "cols",
	    sp->cols, "scrollback", sp->scrollback, "sandbox", plan, "slurm",
	    sp->slurm, "log_max_bytes", (json_int_t)log_max_bytes(sp->cwd));
	text = json_dumps(spec, JSON_COMPACT);
	json_decref(spec);
	rc = write_file_replace(path, text, strlen(text), 0600, 0, err);
	free(text);
	json_t *pub = json_pack("{s:O}", "argv", argv);
	s->spec = json_dumps(pub, JSON_COMPACT);
	json_decref(pub);
out:
	free(path);
	free(dir);
	return rc;
}

static session_spec_filter_fn *filters[4];
static size_t nfilters;

void
session_spec_filter(session_spec_filter_fn *fn)
{
	if (nfilters < nitems(filters))
		filters[nfilters++] = fn;
}

int
session_spec_amend(struct session_spec *sp, struct err *err)
{
	for (size_t i = 0; i < nfilters; i++)
		if (filters[i](sp, err) < 0)
			return -1;
	return 0;
}

/* Build a session from a checked spec, store it, and put it through the
 * line. NULL on failure, with err set; a session that was made but failed
 * to start is returned with err set too. */
struct session *
session_create(const struct session_spec *sp, struct err *err)
{
	struct session *s = xcalloc(1, sizeof *s);
	json_t *argv = NULL;
	char *blocked = NULL, *rsid = NULL, *dir = NULL;
	const struct runtime *rt;

	if (fdlimit_check(err) < 0 || spec_check(sp, err) < 0 ||
	    check_against_daemon(s, sp, err) < 0)
		goto fail;
	if (sp->executor && executor_find(sp->executor) == NULL) {
		err_set(err, ERR_USAGE, "no executor '%s' (local or slurm)",
		    sp->executor);
		goto fail;
	}
	if (sp->slurm &&
	    (sp->executor == NULL || strcmp(sp->executor, "slurm") != 0)) {
		err_set(err, ERR_USAGE,
		    "a job size (partition, time, cpus, mem, nodes) needs "
		    "the slurm executor");
		goto fail;
	}
	if ((rt = runtime_find(sp->runtime)) == NULL) {
		runtime_unknown(sp->runtime, err);
		goto fail;
	}
	if (rt->argv(sp, &argv, &rsid, err) < 0)
		goto fail;
	if (rt->prepare && rt->prepare(sp, &blocked, err) < 0)
		goto fail;
	fill(s, sp, argv, rsid ? rsid : sp->runtime_session_id);
	if (write_host_spec(s, sp, argv, err) < 0) {
		dir = session_dir(s);
		goto fail;
	}
	session_add(s);
	session_touch(s);
	session_event(s, "created", NULL);
	json_t *applied =
	    json_object_get(json_object_get(s->policy, "sandbox"), "applied");
	if (applied) /* what runs, best-effort or not, is on record */
		session_event(s, "sandbox", applied);
	json_t *first = json_pack("{s:s}", "state", state_name(s->state));
	session_event(s, "state", first);
	json_decref(first);
	s->first_block = blocked;
	/* the scheduler starts it now, unless it must wait */
	session_notify_created(s, sp);
	session_line_result(s, err);
	json_decref(argv);
	free(rsid);
	return s;
fail:
	if (dir)
		rm_rf(dir);
	free(dir);
	free(blocked);
	free(rsid);
	json_decref(argv);
	session_free(s);
	return NULL;
}
