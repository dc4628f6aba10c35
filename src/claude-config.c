/*
 * "Set flags early" for the claude CLI (DESIGN §6): the dialogs an
 * interactive claude shows before its hooks load (onboarding, the folder
 * trust question, approval of an API key from the environment) would stall
 * a background session unseen. Before a session starts galley reads
 * ~/.claude.json as the session will see it: with pre-accept allowed
 * (setting claude.preAccept, or `galley doctor --fix`) it sets the answers,
 * keeping every other key; otherwise it names the dialog, so the session
 * shows `blocked` with that reason instead of hanging.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "claude-config.h"
#include "util.h"
#include "xmalloc.h"

#define CONFIG_MAX (64u * 1024 * 1024)

const char *
env_lookup(json_t *env, const char *key)
{
	size_t i, n = strlen(key);
	json_t *e;

	json_array_foreach(env, i, e)
	{
		const char *kv = json_string_value(e);
		if (kv && strncmp(kv, key, n) == 0 && kv[n] == '=')
			return kv + n + 1;
	}
	return NULL;
}

/* ~/.claude.json, or $CLAUDE_CONFIG_DIR/.claude.json when that is set:
 * where the session's claude will look. NULL without a HOME. */
char *
claude_config_path(json_t *env)
{
	const char *dir = env_lookup(env, "CLAUDE_CONFIG_DIR");
	const char *home = env_lookup(env, "HOME");
	char *p;

	if (dir && dir[0] == '/')
		xasprintf(&p, "%s/.claude.json", dir);
	else if (home && home[0] == '/')
		xasprintf(&p, "%s/.claude.json", home);
	else
		return NULL;
	return p;
}

/* Trust is inherited from a trusted parent directory. */
static int
trusted(json_t *cfg, const char *cwd)
{
	json_t *projects = json_object_get(cfg, "projects");
	char *p = xstrdup(cwd);
	int ok = 0;

	for (;;) {
		json_t *pr = json_object_get(projects, p[0] ? p : "/");
		if (json_is_true(
		        json_object_get(pr, "hasTrustDialogAccepted"))) {
			ok = 1;
			break;
		}
		char *slash = strrchr(p, '/');
		if (slash == NULL || p[0] == '\0')
			break;
		*slash = '\0';
	}
	free(p);
	return ok;
}

/* The key as claude records it: its last 20 characters. */
static const char *
key_tail(const char *key)
{
	size_t n = strlen(key);

	return n > 20 ? key + n - 20 : key;
}

static int
in_list(json_t *list, const char *s)
{
	size_t i;
	json_t *v;

	json_array_foreach(list, i, v)
	{
		if (json_is_string(v) && strcmp(json_string_value(v), s) == 0)
			return 1;
	}
	return 0;
}

static int
logged_in(json_t *cfg, json_t *env)
{
	static const char *const vars[] = {"ANTHROPIC_API_KEY",
	    "ANTHROPIC_AUTH_TOKEN", "CLAUDE_CODE_OAUTH_TOKEN",
	    "CLAUDE_CODE_USE_BEDROCK", "CLAUDE_CODE_USE_VERTEX"};
	const char *dir = env_lookup(env, "CLAUDE_CONFIG_DIR");
	const char *home = env_lookup(env, "HOME");
	struct stat st;
	char *cred = NULL;
	int ok;

	for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
		const char *v = env_lookup(env, vars[i]);
		if (v && *v)
			return 1;
	}
	if (json_object_get(cfg, "oauthAccount") ||
	    json_object_get(cfg, "primaryApiKey"))
		return 1;
	if (dir && dir[0] == '/')
		xasprintf(&cred, "%s/.credentials.json", dir);
	else if (home)
		xasprintf(&cred, "%s/.claude/.credentials.json", home);
	ok = cred && stat(cred, &st) == 0;
	free(cred);
	return ok;
}

/* The first dialog that would stall an interactive claude, or NULL; with
 * fix, answer each one in cfg instead (sets *changed). */
static char *
check(json_t *cfg, json_t *env, const char *cwd, int fix, int *changed)
{
	const char *key = env_lookup(env, "ANTHROPIC_API_KEY");
	char *why = NULL;

	if (!json_is_true(json_object_get(cfg, "hasCompletedOnboarding"))) {
		if (!fix)
			return xstrdup("claude onboarding is not done (it asks "
			               "for a theme and a login)");
		json_object_set_new(cfg, "hasCompletedOnboarding", json_true());
		*changed = 1;
	}
	if (!trusted(cfg, cwd)) {
		if (!fix) {
			xasprintf(&why,
			    "claude asks whether to trust the folder %s", cwd);
			return why;
		}
		json_t *projects = json_object_get(cfg, "projects");
		if (!json_is_object(projects)) {
			projects = json_object();
			json_object_set_new(cfg, "projects", projects);
		}
		json_t *pr = json_object_get(projects, cwd);
		if (!json_is_object(pr)) {
			pr = json_object();
			json_object_set_new(projects, cwd, pr);
		}
		json_object_set_new(pr, "hasTrustDialogAccepted", json_true());
		*changed = 1;
	}
	if (key && *key) {
		json_t *resp = json_object_get(cfg, "customApiKeyResponses");
		json_t *ok = json_object_get(resp, "approved");
		json_t *no = json_object_get(resp, "rejected");
		if (in_list(no, key_tail(key)) && !fix)
			return xstrdup("the API key in ANTHROPIC_API_KEY was "
			               "rejected in claude before; it asks to "
			               "log in");
		if (!in_list(ok, key_tail(key))) {
			if (!fix)
				return xstrdup(
				    "claude asks whether to use the API key "
				    "in ANTHROPIC_API_KEY");
			if (!json_is_object(resp)) {
				resp = json_object();
				json_object_set_new(
				    cfg, "customApiKeyResponses", resp);
			}
			if (!json_is_array(ok)) {
				ok = json_array();
				json_object_set_new(resp, "approved", ok);
			}
			if (!json_is_array(no))
				json_object_set_new(
				    resp, "rejected", json_array());
			json_array_append_new(ok, json_string(key_tail(key)));
			*changed = 1;
		}
	}
	if (!logged_in(cfg, env))
		return xstrdup("claude is not logged in: run claude once "
		               "and /login, or set ANTHROPIC_API_KEY");
	return NULL;
}

int
claude_config_prepare(json_t *env, const char *cwd, int fix, char **blocked,
    int *fixed, struct err *err)
{
	char *path = claude_config_path(env);
	struct buf b = BUF_INIT;
	json_t *cfg = NULL;
	int changed = 0, rc = -1;

	*blocked = NULL;
	if (fixed)
		*fixed = 0;
	if (path == NULL) {
		*blocked = xstrdup("no HOME in the session's environment: "
		                   "claude cannot find its settings");
		return 0;
	}
	struct stat st;
	if (stat(path, &st) != 0 && errno == ENOENT)
		cfg = json_object(); /* claude makes it; so may we */
	else if (read_file(path, &b, CONFIG_MAX, err) < 0) {
		/* never write over a file we could not read */
		goto out;
	} else if (b.len == 0)
		cfg = json_object();
	else {
		cfg = json_loadb(b.data, b.len, 0, NULL);
		if (!json_is_object(cfg)) {
			err_set(err, ERR_FAILED,
			    "%s is not a JSON object: fix or move it, then "
			    "try again",
			    path);
			goto out;
		}
	}
	*blocked = check(cfg, env, cwd, fix, &changed);
	if (changed) {
		char *text = json_dumps(cfg, JSON_INDENT(2));
		/* claude rewrites this file itself: write beside it and
		 * rename, so it never sees half of ours */
		int w = text
		    ? write_file_replace(path, text, strlen(text), 0600, 1, err)
		    : -1;
		free(text);
		if (w < 0)
			goto out;
		if (fixed)
			*fixed = 1;
	}
	rc = 0;
out:
	json_decref(cfg);
	buf_release(&b);
	free(path);
	return rc;
}
