/* Settings files, precedence and known keys. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "settings.h"
#include "util.h"
#include "xmalloc.h"

enum stype { T_STR, T_ENUM, T_INT, T_NUM, T_BOOL, T_STRV, T_KEY };

static const struct skey {
	const char *key;
	enum stype type;
	const char *choices; /* T_ENUM: '|'-separated */
	const char *dflt;    /* JSON text, or NULL for none */
	int prefix;          /* key is a prefix: "limits.group." + name */
	int min;             /* T_INT: the least value that makes sense */
} skeys[] = {
    /* the fake agent only when asked for: cmd-new.c */
    {"defaultRuntime", T_ENUM, "claude|codex|exec|fake", "\"claude\"", 0, 0},
    {"defaultAgent", T_STR, NULL, NULL, 0, 0},
    {"model", T_STR, NULL, NULL, 0, 0},
    {"effort", T_ENUM, "low|medium|high|xhigh|max", NULL, 0, 0},
    {"permissionMode", T_ENUM,
        "acceptEdits|auto|bypassPermissions|default|dontAsk|plan", NULL, 0, 0},
    {"teammateModel", T_STR, NULL, NULL, 0, 0},
    {"isolation", T_ENUM, "none|worktree", "\"none\"", 0, 0},
    {"worktree.baseRef", T_ENUM, "default|head", "\"default\"", 0, 0},
    {"worktree.symlinkDirectories", T_STRV, NULL, "[]", 0, 0},
    {"worktree.pool", T_INT, NULL, "0", 0, 0},
    /* no default: one per 512 MiB of memory (settings_max_running) */
    {"limits.maxRunning", T_INT, NULL, NULL, 0, 1},
    {"limits.group.", T_INT, NULL, NULL, 1, 1},
    /* budgets per day (UTC); a session's own with --budget-usd */
    {"budget.usd", T_NUM, NULL, NULL, 0, 0},
    {"budget.tokens", T_INT, NULL, NULL, 0, 0},
    {"budget.group.", T_NUM, NULL, NULL, 1, 0},
    {"budget.groupTokens.", T_INT, NULL, NULL, 1, 0},
    {"budget.warnPercent", T_INT, NULL, "80", 0, 0},
    {"budget.hardCapPercent", T_INT, NULL, "150", 0, 0},
    {"runaway.repeat", T_INT, NULL, "5", 0, 1},
    {"runaway.maxTurns", T_INT, NULL, "500", 0, 1},
    {"runaway.noProgressMinutes", T_NUM, NULL, "20", 0, 0},
    {"rateLimit.backoffSeconds", T_NUM, NULL, "30", 0, 0},
    {"rateLimit.staggerSeconds", T_NUM, NULL, "2", 0, 0},
    {"detachKey", T_KEY, NULL, "\"C-\\\\\"", 0, 0},
    {"idleStopMinutes", T_INT, NULL, NULL, 0, 0},
    {"notify", T_ENUM, "bell|title|none", "\"bell\"", 0, 0},
    {"notifyCommand", T_STR, NULL, NULL, 0, 0},
    {"scrollback", T_INT, NULL, "2000", 0, 0},
    {"logs.maxBytes", T_INT, NULL, "1073741824", 0, 0},
    {"claude.path", T_STR, NULL, NULL, 0, 0},
    {"claude.preAccept", T_BOOL, NULL, "false", 0, 0},
    {"executor.default", T_ENUM, "local|slurm", "\"local\"", 0, 0},
    {"executor.slurm.partition", T_STR, NULL, NULL, 0, 0},
    {"executor.slurm.account", T_STR, NULL, NULL, 0, 0},
    {"executor.slurm.sbatchArgs", T_STRV, NULL, "[]", 0, 0},
    {"executor.slurm.sharedDir", T_STR, NULL, NULL, 0, 0},
    {"executor.slurm.pollSeconds", T_NUM, NULL, "1", 0, 0},
};

static const char *const scope_names[] = {
    "default", "user", "project", "local"};

const char *
settings_scope_name(enum settings_scope s)
{
	return scope_names[s];
}

const char *const *
settings_keys(void)
{
	static const char *keys[nitems(skeys) + 1];

	for (size_t i = 0; i < nitems(skeys); i++)
		keys[i] = skeys[i].key;
	return keys;
}

static const struct skey *
skey_find(const char *key)
{
	for (size_t i = 0; i < nitems(skeys); i++) {
		const struct skey *k = &skeys[i];
		if (k->prefix) {
			size_t n = strlen(k->key);
			if (strncmp(key, k->key, n) == 0 && key[n] != '\0' &&
			    strchr(key + n, '.') == NULL)
				return k;
		} else if (strcmp(k->key, key) == 0)
			return k;
	}
	return NULL;
}

/* Walk up from cwd to the directory holding .git (a dir or a worktree's
 * file). Returns NULL outside a repository. */
char *
repo_root(const char *cwd)
{
	char path[PATH_MAX], probe[PATH_MAX + 8];
	struct stat st;

	if (cwd == NULL || realpath(cwd, path) == NULL)
		return NULL;
	for (;;) {
		snprintf(probe, sizeof probe, "%s/.git", path);
		if (stat(probe, &st) == 0)
			return xstrdup(path);
		char *slash = strrchr(path, '/');
		if (slash == NULL || slash == path)
			return NULL;
		*slash = '\0';
	}
}

void
json_merge_deep(json_t *dst, json_t *src)
{
	const char *key;
	json_t *v;

	json_object_foreach(src, key, v)
	{
		json_t *d = json_object_get(dst, key);
		if (json_is_object(d) && json_is_object(v))
			json_merge_deep(d, v);
		else if (json_is_object(v))
			json_object_set_new(dst, key, json_deep_copy(v));
		else
			json_object_set(dst, key, v);
	}
}

/* Dotted lookup. A flat key holding dots ("worktree.baseRef" written as a
 * single key) is accepted too: people write both. */
json_t *
json_path_get(json_t *obj, const char *dotted)
{
	json_t *v = json_object_get(obj, dotted);
	const char *dot;

	if (v != NULL || !json_is_object(obj))
		return v;
	for (dot = strchr(dotted, '.'); dot != NULL;
	     dot = strchr(dot + 1, '.')) {
		char *head = xstrndup(dotted, (size_t)(dot - dotted));
		json_t *sub = json_object_get(obj, head);
		free(head);
		if (json_is_object(sub) &&
		    (v = json_path_get(sub, dot + 1)) != NULL)
			return v;
	}
	return NULL;
}

int
json_path_set(json_t *obj, const char *dotted, json_t *value)
{
	const char *dot = strchr(dotted, '.');
	json_t *sub;
	char *head;

	if (dot == NULL)
		return json_object_set(obj, dotted, value);
	head = xstrndup(dotted, (size_t)(dot - dotted));
	sub = json_object_get(obj, head);
	if (!json_is_object(sub)) {
		sub = json_object();
		json_object_set_new(obj, head, sub);
	}
	free(head);
	json_object_del(obj, dotted); /* a flat twin would shadow it */
	return json_path_set(sub, dot + 1, value);
}

int
json_path_del(json_t *obj, const char *dotted)
{
	const char *dot = strchr(dotted, '.');
	json_t *sub;
	char *head;
	int rc;

	rc = json_object_del(obj, dotted);
	if (dot == NULL)
		return rc;
	head = xstrndup(dotted, (size_t)(dot - dotted));
	sub = json_object_get(obj, head);
	if (json_is_object(sub)) {
		if (json_path_del(sub, dot + 1) == 0)
			rc = 0;
		if (json_object_size(sub) == 0)
			json_object_del(obj, head);
	}
	free(head);
	return rc;
}

/* A copy of obj with flat dotted keys ("a.b": v) spelled as nested objects.
 * Layers are merged in this form: otherwise a lower layer's flat key would
 * shadow a higher layer's nested one (json_path_get tries flat first). */
static json_t *
json_expand_dotted(json_t *obj)
{
	json_t *out = json_object(), *v;
	const char *key;

	json_object_foreach(obj, key, v)
	{
		json_t *one = json_object();
		json_t *val =
		    json_is_object(v) ? json_expand_dotted(v) : json_incref(v);
		json_path_set(one, key, val);
		json_decref(val);
		json_merge_deep(out, one);
		json_decref(one);
	}
	return out;
}

char *
settings_path(struct settings *s, enum settings_scope scope)
{
	char *p = NULL;

	switch (scope) {
	case SCOPE_USER:
		xasprintf(&p, "%s/settings.json", path_config_dir());
		break;
	case SCOPE_PROJECT:
		if (s->repo)
			xasprintf(&p, "%s/.galley/settings.json", s->repo);
		break;
	case SCOPE_LOCAL:
		if (s->repo)
			xasprintf(
			    &p, "%s/.galley/settings.local.json", s->repo);
		break;
	default:
		break;
	}
	return p;
}

static json_t *
load_layer(const char *path, struct err *err)
{
	json_error_t jerr;
	json_t *obj;

	if (path == NULL || access(path, F_OK) != 0)
		return json_object();
	obj = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	if (obj == NULL) {
		err_set(err, ERR_FAILED,
		    "invalid settings file '%s' line %d: %s: fix or remove it",
		    path, jerr.line, jerr.text);
		return NULL;
	}
	if (!json_is_object(obj)) {
		json_decref(obj);
		err_set(err, ERR_FAILED,
		    "invalid settings file '%s': expected a JSON object", path);
		return NULL;
	}
	return obj;
}

int
settings_load(struct settings *s, const char *cwd, struct err *err)
{
	memset(s, 0, sizeof *s);
	s->repo = repo_root(cwd);
	s->layer[SCOPE_DEFAULT] = json_object();
	for (size_t i = 0; i < nitems(skeys); i++) {
		if (skeys[i].dflt == NULL)
			continue;
		json_t *v = json_loads(skeys[i].dflt, JSON_DECODE_ANY, NULL);
		json_path_set(s->layer[SCOPE_DEFAULT], skeys[i].key, v);
		json_decref(v);
	}
	s->merged = json_deep_copy(s->layer[SCOPE_DEFAULT]);
	for (int sc = SCOPE_USER; sc <= SCOPE_LOCAL; sc++) {
		char *path = settings_path(s, (enum settings_scope)sc);
		s->layer[sc] = load_layer(path, err);
		free(path);
		if (s->layer[sc] == NULL) {
			/* nothing half-loaded for the caller to free */
			settings_release(s);
			return -1;
		}
		json_t *nested = json_expand_dotted(s->layer[sc]);
		json_merge_deep(s->merged, nested);
		json_decref(nested);
	}
	return 0;
}

void
settings_release(struct settings *s)
{
	for (int i = 0; i < 4; i++)
		json_decref(s->layer[i]);
	json_decref(s->merged);
	free(s->repo);
	memset(s, 0, sizeof *s);
}

json_t *
settings_get(struct settings *s, const char *key)
{
	return json_path_get(s->merged, key);
}

json_t *
settings_policy(struct settings *s)
{
	return json_pack("{s:O?, s:O?, s:O?}", "budget",
	    settings_get(s, "budget"), "runaway", settings_get(s, "runaway"),
	    "rateLimit", settings_get(s, "rateLimit"));
}

const char *
settings_get_str(struct settings *s, const char *key)
{
	json_t *v = settings_get(s, key);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

enum settings_scope
settings_origin(struct settings *s, const char *key)
{
	for (int sc = SCOPE_LOCAL; sc > SCOPE_DEFAULT; sc--)
		if (json_path_get(s->layer[sc], key) != NULL)
			return (enum settings_scope)sc;
	return SCOPE_DEFAULT;
}

int
detach_key_parse(const char *s)
{
	if (s == NULL)
		return -1;
	if ((s[0] == 'C' && s[1] == '-') || s[0] == '^') {
		const char *k = s + (s[0] == '^' ? 1 : 2);
		if (k[0] == '\0' || k[1] != '\0')
			return -1;
		unsigned char c = (unsigned char)toupper((unsigned char)k[0]);
		if (c >= '@' && c <= '_')
			return c - '@';
		if (c == '?')
			return 0x7f;
	}
	return -1;
}

static int
enum_has(const char *choices, const char *v)
{
	size_t n = strlen(v);

	for (const char *p = choices; p != NULL;) {
		const char *bar = strchr(p, '|');
		size_t len = bar ? (size_t)(bar - p) : strlen(p);
		if (len == n && strncmp(p, v, n) == 0)
			return 1;
		p = bar ? bar + 1 : NULL;
	}
	return 0;
}

int
settings_check(const char *key, json_t *v, struct err *err)
{
	const struct skey *k = skey_find(key);
	size_t i;
	json_t *e;

	if (k == NULL)
		return err_set(err, ERR_USAGE,
		    "unknown setting '%s': see 'galley config ls'", key);
	switch (k->type) {
	case T_STR:
		if (!json_is_string(v))
			goto bad;
		return 0;
	case T_ENUM:
		if (!json_is_string(v) ||
		    !enum_has(k->choices, json_string_value(v)))
			return err_set(err, ERR_USAGE,
			    "invalid value for '%s': use one of %s", key,
			    k->choices);
		return 0;
	case T_INT:
		if (!json_is_integer(v) || json_integer_value(v) < k->min)
			return err_set(err, ERR_USAGE,
			    "invalid value for '%s': use a whole number >= %d",
			    key, k->min);
		return 0;
	case T_NUM:
		if (!json_is_number(v) || json_number_value(v) < 0)
			return err_set(err, ERR_USAGE,
			    "invalid value for '%s': use a number >= 0", key);
		return 0;
	case T_BOOL:
		if (!json_is_boolean(v))
			goto bad;
		return 0;
	case T_STRV:
		if (!json_is_array(v))
			goto bad;
		json_array_foreach(v, i, e) if (!json_is_string(e)) goto bad;
		return 0;
	case T_KEY:
		if (!json_is_string(v) ||
		    detach_key_parse(json_string_value(v)) < 0)
			return err_set(err, ERR_USAGE,
			    "invalid value for '%s': use a control key such "
			    "as C-\\ or C-a",
			    key);
		return 0;
	}
bad:
	return err_set(err, ERR_USAGE, "invalid value for '%s'", key);
}

int
settings_parse(const char *key, const char *text, json_t **out, struct err *err)
{
	const struct skey *k = skey_find(key);
	json_t *v = NULL;
	char *end;

	*out = NULL;
	if (k == NULL)
		return err_set(err, ERR_USAGE,
		    "unknown setting '%s': see 'galley config ls'", key);
	switch (k->type) {
	case T_INT: {
		errno = 0;
		long long n = strtoll(text, &end, 10);
		if (*text == '\0' || *end != '\0' || errno != 0)
			return err_set(err, ERR_USAGE,
			    "invalid value for '%s': use a whole number >= 0",
			    key);
		v = json_integer(n);
		break;
	}
	case T_NUM: {
		errno = 0;
		double d = strtod(text, &end);
		if (*text == '\0' || *end != '\0' || errno != 0 || !isfinite(d))
			return err_set(err, ERR_USAGE,
			    "invalid value for '%s': use a number >= 0", key);
		v = json_real(d);
		break;
	}
	case T_BOOL:
		if (strcmp(text, "true") == 0)
			v = json_true();
		else if (strcmp(text, "false") == 0)
			v = json_false();
		else
			return err_set(err, ERR_USAGE,
			    "invalid value for '%s': use true or false", key);
		break;
	case T_STRV:
		if (text[0] == '[')
			v = json_loads(text, 0, NULL);
		else {
			v = json_array();
			char *copy = xstrdup(text), *save = NULL;
			for (char *t = strtok_r(copy, ",", &save); t;
			     t = strtok_r(NULL, ",", &save))
				if (*t)
					json_array_append_new(
					    v, json_string(t));
			free(copy);
		}
		if (v == NULL)
			return err_set(err, ERR_USAGE,
			    "invalid value for '%s': use a,b,c or a JSON "
			    "array",
			    key);
		break;
	default:
		v = json_string(text);
		if (v == NULL)
			return err_set(err, ERR_USAGE,
			    "invalid value for '%s': not UTF-8", key);
	}
	if (settings_check(key, v, err) < 0) {
		json_decref(v);
		return -1;
	}
	*out = v;
	return 0;
}

int
settings_write(struct settings *s, enum settings_scope scope, const char *key,
    json_t *value, struct err *err)
{
	char *path = settings_path(s, scope), *text = NULL, *dir;
	json_t *layer;
	int rc = -1;

	if (path == NULL)
		return err_set(err, ERR_USAGE,
		    "no %s settings outside a git repository: run it inside "
		    "one, or use --user",
		    scope_names[scope]);
	layer = s->layer[scope];
	if (value != NULL)
		json_path_set(layer, key, value);
	else if (json_path_del(layer, key) != 0) {
		err_set(err, ERR_NOT_FOUND, "'%s' is not set in %s settings",
		    key, scope_names[scope]);
		goto fail;
	}
	dir = xstrdup(path);
	*strrchr(dir, '/') = '\0';
	rc = mkdir_p(dir, 0755, err);
	free(dir);
	if (rc < 0)
		goto fail;
	text = json_dumps(layer, JSON_INDENT(2) | JSON_SORT_KEYS);
	size_t len = strlen(text);
	text = xrealloc(text, len + 2);
	text[len] = '\n';
	text[len + 1] = '\0';
	rc = write_file_atomic(path, text, len + 1, 0644, err);
fail:
	free(text);
	free(path);
	return rc;
}

/* Agents mostly wait on the network, so memory bounds them, not CPUs: a
 * claude session holds about 260 MB. One per 512 MiB, 4 to 64. */
int
settings_max_running_default(void)
{
	long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);
	long long n = pages > 0 && size > 0
	    ? (long long)pages * size / (512LL * 1024 * 1024)
	    : 4;

	return n < 4 ? 4 : n > 64 ? 64 : (int)n;
}
