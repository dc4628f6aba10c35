/* A new session from a `new` or `exec` request: checked, named, its
 * spec.json written, stored, and put through the line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "log.h"
#include "names.h"
#include "proto.h"
#include "runtime.h"
#include "sandbox.h"
#include "session-life.h"
#include "session.h"
#include "util.h"
#include "xmalloc.h"

/* The rules a session keeps for its whole life (session-policy.c
 * enforces them): only the fields given, each checked. */
static int
policy_from_request(json_t *req, json_t **out, struct err *err)
{
	json_t *allow = NULL, *deny = NULL, *tools = NULL;
	json_t *sb = json_object_get(req, "sandbox");
	json_t *usd = json_object_get(req, "budget_usd"), *v;
	json_int_t tokens = 0;
	const char *k;

	*out = NULL;
	if (proto_get_strv(req, "allow", &allow, err) < 0 ||
	    proto_get_strv(req, "deny", &deny, err) < 0 ||
	    proto_get_strv(req, "agent_tools", &tools, err) < 0 ||
	    proto_get_int(req, "budget_tokens", &tokens, err) < 0)
		return -1;
	if (usd && !json_is_null(usd) &&
	    (!json_is_number(usd) || !(json_number_value(usd) > 0)))
		return err_set(
		    err, ERR_USAGE, "field 'budget_usd' must be a number > 0");
	if (tokens < 0)
		return err_set(
		    err, ERR_USAGE, "field 'budget_tokens' must be > 0");
	if (sb && !json_is_null(sb)) {
		if (!json_is_object(sb))
			return err_set(err, ERR_USAGE,
			    "field 'sandbox' must be an object");
		json_object_foreach(sb, k, v)
		{
			if (!json_is_boolean(v))
				return err_set(err, ERR_USAGE,
				    "field 'sandbox.%.32s' must be a boolean",
				    k);
		}
	}
	json_t *p = json_object();
	if (json_array_size(allow))
		json_object_set(p, "allow", allow);
	if (json_array_size(deny))
		json_object_set(p, "deny", deny);
	if (json_array_size(tools)) /* its agent definition's tools */
		json_object_set(p, "tools", tools);
	if (json_is_number(usd))
		json_object_set_new(
		    p, "budget_usd", json_real(json_number_value(usd)));
	if (tokens > 0)
		json_object_set_new(p, "budget_tokens", json_integer(tokens));
	if (json_is_object(sb))
		json_object_set_new(p, "sandbox", json_deep_copy(sb));
	if (json_object_size(p) == 0)
		json_decref(p);
	else
		*out = p;
	return 0;
}

/* Build a session from a validated `new`/`exec` request and start it. */
struct session *
session_create(json_t *req, struct err *err)
{
	struct session *s = xcalloc(1, sizeof *s);
	const char *name = NULL, *runtime, *cwd, *prompt, *model;
	const char *wt = NULL, *branch = NULL, *repo = NULL, *wbase = NULL;
	const char *base_ref = NULL;
	json_t *argv = NULL, *env, *spec = NULL, *e;
	char *dir = NULL, *text = NULL, *specpath = NULL, *base = NULL;
	char *blocked = NULL;
	struct stat st;
	size_t i;
	json_int_t rows = 24, cols = 80, sb = 2000;
	int pin = 0;

	if (proto_get_str(req, "name", &name, err) < 0 ||
	    proto_get_str(req, "runtime", &runtime, err) < 0 ||
	    proto_get_str(req, "cwd", &cwd, err) < 0 ||
	    proto_get_str(req, "prompt", &prompt, err) < 0 ||
	    proto_get_str(req, "model", &model, err) < 0 ||
	    proto_get_strv(req, "env", &env, err) < 0 ||
	    proto_get_int(req, "rows", &rows, err) < 0 ||
	    proto_get_int(req, "cols", &cols, err) < 0 ||
	    proto_get_int(req, "scrollback", &sb, err) < 0 ||
	    proto_get_bool(req, "pin", &pin, err) < 0 ||
	    proto_get_str(req, "worktree", &wt, err) < 0 ||
	    proto_get_str(req, "branch", &branch, err) < 0 ||
	    proto_get_str(req, "repo", &repo, err) < 0 ||
	    proto_get_str(req, "base", &wbase, err) < 0 ||
	    proto_get_str(req, "base_ref", &base_ref, err) < 0)
		goto fail;
	if ((wt && wt[0] != '/') || (repo && repo[0] != '/')) {
		err_set(err, ERR_USAGE,
		    "fields 'worktree' and 'repo' must be absolute paths");
		goto fail;
	}
	if (runtime == NULL)
		runtime = "exec";
	if (cwd == NULL || cwd[0] != '/') {
		err_set(err, ERR_USAGE, "field 'cwd' must be an absolute path");
		goto fail;
	}
	if (stat(cwd, &st) != 0 || !S_ISDIR(st.st_mode)) {
		err_set(err, ERR_NOT_FOUND, "no directory '%s'", cwd);
		goto fail;
	}
	if (rows < 2 || rows > 1000 || cols < 10 || cols > 1000) {
		err_set(err, ERR_USAGE,
		    "terminal size %lldx%lld is out of range", (long long)cols,
		    (long long)rows);
		goto fail;
	}
	if (sb < 0 || sb > 1000000)
		sb = 2000;
	if (name != NULL) {
		if (name_check(name, "name", err) < 0)
			goto fail;
		if (session_name_taken(name, NULL)) {
			err_set(err, ERR_EXISTS,
			    "a live session is already named '%s': pick "
			    "another -n NAME",
			    name);
			goto fail;
		}
	}
	const char *group = NULL;
	json_int_t prio = 0;
	json_t *after_refs = NULL, *after = json_array();
	if (proto_get_str(req, "group", &group, err) < 0 ||
	    proto_get_int(req, "priority", &prio, err) < 0 ||
	    proto_get_strv(req, "after", &after_refs, err) < 0 ||
	    (group && name_check(group, "group", err) < 0)) {
		json_decref(after);
		goto fail;
	}
	json_array_foreach(after_refs, i, e)
	{
		struct session *dep =
		    session_resolve(json_string_value(e), err);
		if (dep == NULL) {
			json_decref(after);
			goto fail;
		}
		json_array_append_new(after, json_string(dep->id));
	}
	s->after = after;
	s->priority = (int)prio;
	if (policy_from_request(req, &s->policy, err) < 0)
		goto fail;
	/* refuse a sandbox this machine lacks before anything is made */
	json_t *sbwant = json_object_get(s->policy, "sandbox"), *applied = NULL;
	if (sbwant && sandbox_check(sbwant, &applied, err) < 0)
		goto fail;
	if (applied)
		json_object_set_new(sbwant, "applied", applied);
	session_queue_limits(req);
	session_policy_settings(req);
	if (runtime_argv(runtime, req, &argv, err) < 0)
		goto fail;
	const struct runtime *rt = runtime_find(runtime);
	if (rt && rt->prepare && rt->prepare(req, &blocked, err) < 0)
		goto fail;
	const char *rsid = NULL;
	proto_get_str(req, "runtime_session_id", &rsid, NULL);
	do
		random_hex(s->id, GALLEY_ID_LEN);
	while (session_find_id(s->id) != NULL);
	if (name == NULL) {
		json_t *a0 = json_array_get(argv, 0);
		const char *src = prompt && *prompt ? prompt
		    : json_array_size(argv) > 0     ? json_string_value(a0)
		                                    : runtime;
		if (strcmp(runtime, "exec") == 0 && json_array_size(argv) > 0 &&
		    (prompt == NULL || *prompt == '\0')) {
			/* a job is named after its command, not its path */
			const char *slash = strrchr(json_string_value(a0), '/');
			struct buf b = BUF_INIT;
			buf_adds(&b, slash ? slash + 1 : json_string_value(a0));
			for (i = 1; i < json_array_size(argv) && i < 3; i++)
				buf_addf(&b, " %s",
				    json_string_value(json_array_get(argv, i)));
			base = name_from_text(b.data, 24);
			buf_release(&b);
		} else
			base = name_from_text(src, 24);
		s->name = session_unique_name(base);
	} else
		s->name = xstrdup(name);
	s->runtime = xstrdup(runtime);
	s->kind = xstrdup(runtime_kind(runtime));
	s->state = xstrdup("queued");
	s->prompt = prompt ? xstrdup(prompt) : NULL;
	s->cwd = xstrdup(cwd);
	s->model = model ? xstrdup(model) : NULL;
	s->runtime_session_id = rsid ? xstrdup(rsid) : NULL;
	s->worktree = wt ? xstrdup(wt) : NULL;
	s->branch = branch ? xstrdup(branch) : NULL;
	s->repo = repo ? xstrdup(repo) : NULL;
	s->base = wbase ? xstrdup(wbase) : NULL;
	s->base_ref = base_ref ? xstrdup(base_ref) : NULL;
	s->pinned = pin;
	s->grp = xstrdup(group ? group : "default");
	s->executor = xstrdup("local");
	s->hook_token = xmalloc(33);
	random_hex(s->hook_token, 32);
	s->created_at = s->updated_at = wall_ms();

	/* spec.json holds what the host needs, env included: 0600 in the
	 * private state dir, never in the store or a log */
	json_t *fullenv = json_array();
	json_array_foreach(env, i, e)
	{
		const char *kv = json_string_value(e);
		if (strncmp(kv, "GALLEY_SESSION=", 15) == 0 ||
		    strncmp(kv, "GALLEY_HOOK_TOKEN=", 18) == 0 ||
		    strchr(kv, '=') == NULL)
			continue;
		json_array_append(fullenv, e);
	}
	json_array_append_new(
	    fullenv, json_sprintf("GALLEY_SESSION=%s", s->id));
	json_array_append_new(
	    fullenv, json_sprintf("GALLEY_HOOK_TOKEN=%s", s->hook_token));
	dir = session_dir(s);
	if (mkdir_p(dir, 0700, err) < 0) {
		json_decref(fullenv);
		goto fail;
	}
	json_t *plan = sbwant
	    ? sandbox_plan(sbwant, applied, runtime, cwd, dir, fullenv)
	    : NULL;
	spec = json_pack("{s:O, s:s, s:o, s:I, s:I, s:I, s:o*}", "argv", argv,
	    "cwd", cwd, "env", fullenv, "rows", rows, "cols", cols,
	    "scrollback", sb, "sandbox", plan);
	xasprintf(&specpath, "%s/spec.json", dir);
	text = json_dumps(spec, JSON_COMPACT);
	/* not fsync'd: it is only needed while the machine stays up, and a
	 * sync here is most of a dispatch's cost */
	if (write_file_replace(specpath, text, strlen(text), 0600, 0, err) < 0)
		goto fail;
	json_t *pub = json_pack("{s:O}", "argv", argv);
	s->spec = json_dumps(pub, JSON_COMPACT);
	json_decref(pub);

	session_add(s);
	session_touch(s);
	session_event(s, "created", NULL);
	if (applied) /* what runs, best-effort or not, is on record */
		session_event(s, "sandbox", applied);
	json_t *first = json_pack("{s:s}", "state", s->state);
	session_event(s, "state", first);
	json_decref(first);
	s->first_block = blocked;
	blocked = NULL;
	/* the scheduler starts it now, unless it must wait */
	session_notify(s, SESSION_CHANGE_CREATED);
	session_line_result(s, err);
	free(blocked);
	json_decref(argv);
	json_decref(spec);
	free(dir);
	free(text);
	free(specpath);
	free(base);
	return s;
fail:
	free(blocked);
	if (dir)
		rm_rf(dir);
	json_decref(argv);
	json_decref(spec);
	free(dir);
	free(text);
	free(specpath);
	free(base);
	session_free(s);
	return NULL;
}
