/* The one place that names the fields of a `new`/`exec` request, their
 * types and their limits (spec.h). */
#include <stdlib.h>
#include <string.h>

#include "names.h"
#include "spec.h"
#include "util.h"
#include "xmalloc.h"

enum ftype {
	F_STR,  /* a string */
	F_PATH, /* an absolute path */
	F_NAME, /* a name: [A-Za-z0-9._-]{1,64} */
	F_STRV, /* an array of strings */
	F_INT,  /* an integer within [min, max] */
	F_BOOL,
	F_NUM, /* a number > 0 */
	F_OBJ, /* an object (of booleans, for sandbox) */
};

struct field {
	const char *name;
	enum ftype type;
	size_t off;
	long long min, max;
	int wide; /* F_INT: a long long member, not an int */
};

#define O(m) offsetof(struct session_spec, m)
static const struct field fields[] = {
    {"runtime", F_STR, O(runtime), 0, 0, 0},
    {"prompt", F_STR, O(prompt), 0, 0, 0},
    {"argv", F_STRV, O(argv), 0, 0, 0},
    {"args", F_STRV, O(args), 0, 0, 0},
    {"model", F_STR, O(model), 0, 0, 0},
    {"effort", F_STR, O(effort), 0, 0, 0},
    {"permission_mode", F_STR, O(permission_mode), 0, 0, 0},
    {"agent", F_STR, O(agent), 0, 0, 0},
    {"agents", F_OBJ, O(agents), 0, 0, 0},
    {"headless", F_BOOL, O(headless), 0, 0, 0},
    {"pre_accept", F_BOOL, O(pre_accept), 0, 0, 0},
    {"claude_path", F_STR, O(claude_path), 0, 0, 0},
    {"runtime_session_id", F_STR, O(runtime_session_id), 0, 0, 0},
    {"cwd", F_PATH, O(cwd), 0, 0, 0},
    {"env", F_STRV, O(env), 0, 0, 0},
    {"rows", F_INT, O(rows), 2, 1000, 0},
    {"cols", F_INT, O(cols), 10, 1000, 0},
    {"scrollback", F_INT, O(scrollback), 0, 1000000, 0},
    {"worktree", F_PATH, O(worktree), 0, 0, 0},
    {"branch", F_STR, O(branch), 0, 0, 0},
    {"repo", F_PATH, O(repo), 0, 0, 0},
    {"base", F_STR, O(base), 0, 0, 0},
    {"base_ref", F_STR, O(base_ref), 0, 0, 0},
    {"name", F_NAME, O(name), 0, 0, 0},
    {"team", F_NAME, O(team), 0, 0, 0},
    {"member", F_NAME, O(member), 0, 0, 0},
    {"parent", F_NAME, O(parent), 0, 0, 0},
    {"pin", F_BOOL, O(pin), 0, 0, 0},
    {"group", F_NAME, O(group), 0, 0, 0},
    {"priority", F_INT, O(priority), -1000, 1000, 0},
    {"after", F_STRV, O(after), 0, 0, 0},
    {"allow", F_STRV, O(allow), 0, 0, 0},
    {"deny", F_STRV, O(deny), 0, 0, 0},
    {"agent_tools", F_STRV, O(agent_tools), 0, 0, 0},
    {"budget_usd", F_NUM, O(budget_usd), 0, 0, 0},
    {"budget_tokens", F_INT, O(budget_tokens), 0, 1000000000000000LL, 1},
    {"sandbox", F_OBJ, O(sandbox), 0, 0, 0},
    {"executor", F_NAME, O(executor), 0, 0, 0},
    {"slurm", F_OBJ, O(slurm), 0, 0, 0},
};
#undef O

void
spec_init(struct session_spec *sp)
{
	memset(sp, 0, sizeof *sp);
	sp->rows = 24;
	sp->cols = 80;
	sp->scrollback = 2000;
}

void
strv_add(struct strv *l, const char *s)
{
	l->v = xrealloc(l->v, (l->n + 2) * sizeof *l->v);
	l->v[l->n++] = xstrdup(s);
	l->v[l->n] = NULL;
}

void
strv_release(struct strv *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

json_t *
strv_to_json(const struct strv *l)
{
	json_t *a = json_array();

	for (size_t i = 0; i < l->n; i++)
		json_array_append_new(a, json_string(l->v[i]));
	return a;
}

void
spec_release(struct session_spec *sp)
{
	for (size_t i = 0; i < nitems(fields); i++) {
		void *p = (char *)sp + fields[i].off;
		switch (fields[i].type) {
		case F_STR:
		case F_PATH:
		case F_NAME:
			free(*(char **)p);
			break;
		case F_STRV:
			strv_release(p);
			break;
		case F_OBJ:
			json_decref(*(json_t **)p);
			break;
		default:
			break;
		}
	}
	strv_release(&sp->write_only);
	free(sp->workflow);
	spec_init(sp);
}

static int
type_error(const struct field *f, struct err *err)
{
	static const char *const what[] = {[F_STR] = "a string",
	    [F_PATH] = "an absolute path",
	    [F_NAME] = "a name",
	    [F_STRV] = "an array of strings",
	    [F_INT] = "an integer",
	    [F_BOOL] = "a boolean",
	    [F_NUM] = "a number",
	    [F_OBJ] = "an object"};

	return err_set(
	    err, ERR_USAGE, "field '%s' must be %s", f->name, what[f->type]);
}

/* A value already of the right JSON type, against the field's limits. */
static int
check_value(
    const struct field *f, const struct session_spec *sp, struct err *err)
{
	const void *p = (const char *)sp + f->off;
	const char *s;
	long long n;

	switch (f->type) {
	case F_PATH:
		s = *(char *const *)p;
		if (s && s[0] != '/')
			return err_set(err, ERR_USAGE,
			    "field '%s' must be an absolute path", f->name);
		return 0;
	case F_NAME:
		s = *(char *const *)p;
		if (s && strcmp(f->name, "name") == 0)
			return session_name_check(s, err);
		return s ? name_check(s, f->name, err) : 0;
	case F_INT:
		n = f->wide ? *(const long long *)p : *(const int *)p;
		if (n < f->min || n > f->max)
			return err_set(err, ERR_USAGE,
			    "field '%s' must be from %lld to %lld", f->name,
			    f->min, f->max);
		return 0;
	case F_NUM:
		if (*(const double *)p < 0)
			return err_set(err, ERR_USAGE,
			    "field '%s' must be a number > 0", f->name);
		return 0;
	default:
		return 0;
	}
}

static int
decode_field(
    const struct field *f, json_t *v, struct session_spec *sp, struct err *err)
{
	void *p = (char *)sp + f->off;
	size_t i;
	json_t *e;

	switch (f->type) {
	case F_STR:
	case F_PATH:
	case F_NAME:
		if (!json_is_string(v))
			return type_error(f, err);
		*(char **)p = xstrdup(json_string_value(v));
		return 0;
	case F_STRV:
		if (!json_is_array(v))
			return type_error(f, err);
		json_array_foreach(
		    v, i, e) if (!json_is_string(e)) return type_error(f, err);
		json_array_foreach(v, i, e) strv_add(p, json_string_value(e));
		return 0;
	case F_INT:
		if (!json_is_integer(v))
			return type_error(f, err);
		if (json_integer_value(v) < f->min ||
		    json_integer_value(v) > f->max)
			return err_set(err, ERR_USAGE,
			    "field '%s' must be from %lld to %lld", f->name,
			    f->min, f->max);
		if (f->wide)
			*(long long *)p = json_integer_value(v);
		else
			*(int *)p = (int)json_integer_value(v);
		return 0;
	case F_BOOL:
		if (!json_is_boolean(v))
			return type_error(f, err);
		*(int *)p = json_is_true(v);
		return 0;
	case F_NUM:
		if (!json_is_number(v) || !(json_number_value(v) > 0))
			return err_set(err, ERR_USAGE,
			    "field '%s' must be a number > 0", f->name);
		*(double *)p = json_number_value(v);
		return 0;
	case F_OBJ:
		if (!json_is_object(v))
			return type_error(f, err);
		*(json_t **)p = json_deep_copy(v);
		return 0;
	}
	return 0;
}

/* The sandbox's want: booleans only. */
static int
check_sandbox(json_t *sb, struct err *err)
{
	const char *k;
	json_t *v;

	json_object_foreach(sb, k, v)
	{
		if (!json_is_boolean(v)) {
			char shown[33];
			return err_set(err, ERR_USAGE,
			    "field 'sandbox.%s' must be a boolean",
			    err_shown(k, shown, sizeof shown));
		}
	}
	return 0;
}

/* The job's size on a cluster: what sbatch takes, checked here so that a
 * bad value is the caller's error, not a failed job. */
static int
check_slurm(json_t *o, struct err *err)
{
	static const char *const strs[] = {"partition", "time", "mem"};
	static const char *const sets[] = {
	    "A-Za-z0-9._-", "0-9:-", "0-9KMGTkmgt"};
	static const char *const chars[] = {
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-",
	    "0123456789:-", "0123456789KMGTkmgt"};
	const char *k;
	json_t *v;

	json_object_foreach(o, k, v)
	{
		int known = 0;
		for (size_t i = 0; i < nitems(strs); i++) {
			if (strcmp(k, strs[i]) != 0)
				continue;
			const char *t = json_string_value(v);
			size_t n = t ? strlen(t) : 0;
			if (n == 0 || n > 64 || strspn(t, chars[i]) != n ||
			    (i == 2 && strspn(t, "0123456789") == 0))
				return err_set(err, ERR_USAGE,
				    "field 'slurm.%s' must be 1 to 64 of "
				    "[%s]",
				    k, sets[i]);
			known = 1;
		}
		if (strcmp(k, "cpus") == 0 || strcmp(k, "nodes") == 0) {
			json_int_t n = json_integer_value(v);
			if (!json_is_integer(v) || n < 1 || n > 4096)
				return err_set(err, ERR_USAGE,
				    "field 'slurm.%s' must be 1 to 4096", k);
			known = 1;
		}
		char shown[33];
		if (!known)
			return err_set(err, ERR_USAGE,
			    "field 'slurm.%s' is not one of partition, "
			    "time, mem, cpus, nodes",
			    err_shown(k, shown, sizeof shown));
	}
	return 0;
}

int
spec_check(const struct session_spec *sp, struct err *err)
{
	for (size_t i = 0; i < nitems(fields); i++)
		if (check_value(&fields[i], sp, err) < 0)
			return -1;
	if (sp->cwd == NULL)
		return err_set(
		    err, ERR_USAGE, "field 'cwd' must be an absolute path");
	if (sp->sandbox && check_sandbox(sp->sandbox, err) < 0)
		return -1;
	if (sp->slurm && check_slurm(sp->slurm, err) < 0)
		return -1;
	return 0;
}

int
spec_from_json(json_t *req, struct session_spec *sp, struct err *err)
{
	spec_init(sp);
	if (!json_is_object(req)) {
		err_set(err, ERR_USAGE, "the request must be an object");
		return -1;
	}
	for (size_t i = 0; i < nitems(fields); i++) {
		json_t *v = json_object_get(req, fields[i].name);
		if (v == NULL || json_is_null(v))
			continue; /* not given: its default */
		if (decode_field(&fields[i], v, sp, err) < 0)
			goto fail;
	}
	if (sp->runtime == NULL)
		sp->runtime = xstrdup("exec");
	if (spec_check(sp, err) < 0)
		goto fail;
	return 0;
fail:
	spec_release(sp);
	return -1;
}

const char *
spec_env(const struct session_spec *sp, const char *key)
{
	size_t n = strlen(key);

	for (size_t i = 0; i < sp->env.n; i++)
		if (strncmp(sp->env.v[i], key, n) == 0 &&
		    sp->env.v[i][n] == '=')
			return sp->env.v[i] + n + 1;
	return NULL;
}
