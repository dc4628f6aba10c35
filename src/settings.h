/*
 * Settings (DESIGN §2). Precedence: CLI flag > local > project > user >
 * built-in default. Files hold nested JSON objects ({"worktree":{"baseRef":
 * "head"}}); keys are named with dots ("worktree.baseRef").
 */
#ifndef SETTINGS_H
#define SETTINGS_H

#include <jansson.h>

#include "err.h"

enum settings_scope {
	SCOPE_DEFAULT,
	SCOPE_USER,
	SCOPE_PROJECT,
	SCOPE_LOCAL,
};

struct settings {
	json_t *layer[4]; /* indexed by scope; never NULL after load */
	json_t *merged;   /* deep merge of the layers */
	char *repo;       /* project root, or NULL outside a repo */
};

int settings_load(struct settings *, const char *cwd, struct err *);
void settings_release(struct settings *);
/* The merged value of a dotted key, or NULL. Borrowed. */
json_t *settings_get(struct settings *, const char *key);
/* The budget, runaway and rateLimit subtrees, for the daemon's
 * session-policy.c (a new reference). */
json_t *settings_policy(struct settings *);
const char *settings_get_str(struct settings *, const char *key);
/* Which scope the effective value comes from. */
enum settings_scope settings_origin(struct settings *, const char *key);

/* Validate a known key and parse a value typed on the command line. */
int settings_parse(
    const char *key, const char *text, json_t **out, struct err *);
int settings_check(const char *key, json_t *value, struct err *);
/* Set (value) or unset (NULL) a key in a scope's file, atomically. */
int settings_write(struct settings *, enum settings_scope, const char *key,
    json_t *value, struct err *);
char *settings_path(struct settings *, enum settings_scope);
/* limits.maxRunning when no file sets it: from the machine's memory */
int settings_max_running_default(void);
const char *settings_scope_name(enum settings_scope);
/* Every known key, NULL-terminated, for `config ls`. */
const char *const *settings_keys(void);

/* Pure helpers (unit-tested). */
void json_merge_deep(json_t *dst, json_t *src);
json_t *json_path_get(json_t *obj, const char *dotted);
int json_path_set(json_t *obj, const char *dotted, json_t *value);
int json_path_del(json_t *obj, const char *dotted);
char *repo_root(const char *cwd);
/* "C-\\" / "C-a" / "^A" to a byte; -1 if not a valid key. */
int detach_key_parse(const char *);

#endif
