/* Settings: deep merge, dotted paths, typed parsing, detach keys, and the
 * precedence local > project > user > default across real files. */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "settings.h"
#include "util.h"

/* Layout under tmp (GALLEY_HOME is tmp/home, set once in main):
 *   home/config/settings.json           user
 *   repo/.git/                          a fake repository
 *   repo/.galley/settings.json          project
 *   repo/.galley/settings.local.json    local
 *   repo/a/b/                           a nested working directory
 *   outside/                            not in any repository */
static char tmp[] = "/tmp/galley-settings-XXXXXX";
static char root[1024]; /* tmp, symlinks resolved */
static char repo[PATH_MAX], nested[PATH_MAX], outside[PATH_MAX];
static char user_file[PATH_MAX], project_file[PATH_MAX], local_file[PATH_MAX];

static json_t *
parse(const char *text)
{
	json_t *v = json_loads(text, JSON_DECODE_ANY, NULL);

	assert_non_null(v);
	return v;
}

static void
write_text(const char *path, const char *text)
{
	struct err e = ERR_INIT;

	assert_int_equal(
	    write_file_atomic(path, text, strlen(text), 0644, &e), 0);
}

static json_t *
load_json_file(const char *path)
{
	json_t *v = json_load_file(path, 0, NULL);

	assert_non_null(v);
	return v;
}

/* Fresh files for each precedence test: they rewrite them. */
static int
setup_files(void **state)
{
	struct err e = ERR_INIT;
	char dir[PATH_MAX + 16];

	snprintf(dir, sizeof dir, "%s/home/config", root);
	if (mkdir_p(dir, 0700, &e) < 0)
		return -1;
	snprintf(dir, sizeof dir, "%s/.git", repo);
	if (mkdir_p(dir, 0700, &e) < 0 || mkdir_p(nested, 0700, &e) < 0 ||
	    mkdir_p(outside, 0700, &e) < 0)
		return -1;
	snprintf(dir, sizeof dir, "%s/.galley", repo);
	if (mkdir_p(dir, 0700, &e) < 0)
		return -1;
	write_text(user_file,
	    "{\"model\":\"user\",\"effort\":\"low\","
	    "\"isolation\":\"worktree\","
	    "\"worktree\":{\"pool\":2}}\n");
	write_text(project_file,
	    "{\"model\":\"project\",\"effort\":\"high\","
	    "\"worktree\":{\"baseRef\":\"head\"}}\n");
	write_text(local_file, "{\"model\":\"local\"}\n");
	return 0;
}

/* ---- json_merge_deep ---- */

static void
test_merge_deep_merges_nested_objects(void **state)
{
	json_t *dst =
	    parse("{\"w\":{\"x\":1,\"y\":2,\"d\":{\"p\":1}},\"k\":0}");
	json_t *src = parse("{\"w\":{\"y\":3,\"z\":4,\"d\":{\"q\":2}}}");
	json_t *want = parse("{\"w\":{\"x\":1,\"y\":3,\"z\":4,"
	                     "\"d\":{\"p\":1,\"q\":2}},\"k\":0}");

	json_merge_deep(dst, src);
	assert_true(json_equal(dst, want));
	json_decref(dst);
	json_decref(src);
	json_decref(want);
}

static void
test_merge_deep_replaces_scalars(void **state)
{
	json_t *dst = parse("{\"s\":\"a\",\"n\":1,\"obj\":{\"x\":1},\"sc\":2}");
	json_t *src = parse("{\"s\":\"b\",\"n\":null,\"obj\":5,"
	                    "\"sc\":{\"now\":\"object\"}}");
	json_t *want = parse("{\"s\":\"b\",\"n\":null,\"obj\":5,"
	                     "\"sc\":{\"now\":\"object\"}}");

	json_merge_deep(dst, src);
	assert_true(json_equal(dst, want));
	/* an object taken from src is a copy: changing src later does not
	 * reach into dst */
	json_object_set_new(
	    json_object_get(src, "sc"), "later", json_integer(1));
	assert_null(json_object_get(json_object_get(dst, "sc"), "later"));
	json_decref(dst);
	json_decref(src);
	json_decref(want);
}

static void
test_merge_deep_replaces_arrays(void **state)
{
	json_t *dst = parse("{\"l\":[1,2,3],\"w\":{\"dirs\":[\"a\"]}}");
	json_t *src = parse("{\"l\":[9],\"w\":{\"dirs\":[]}}");
	json_t *want = parse("{\"l\":[9],\"w\":{\"dirs\":[]}}");

	json_merge_deep(dst, src);
	assert_true(json_equal(dst, want));
	json_decref(dst);
	json_decref(src);
	json_decref(want);
}

static void
test_merge_deep_leaves_src_unchanged(void **state)
{
	json_t *dst = parse("{\"w\":{\"x\":1}}");
	json_t *src = parse("{\"w\":{\"y\":2},\"z\":[1]}");
	json_t *copy = json_deep_copy(src);

	json_merge_deep(dst, src);
	assert_true(json_equal(src, copy));
	json_decref(dst);
	json_decref(src);
	json_decref(copy);
}

/* ---- dotted paths ---- */

static void
test_path_get_nested(void **state)
{
	json_t *o = parse("{\"a\":{\"b\":{\"c\":1}},\"top\":\"t\"}");

	assert_int_equal(json_integer_value(json_path_get(o, "a.b.c")), 1);
	assert_true(json_is_object(json_path_get(o, "a.b")));
	assert_string_equal(json_string_value(json_path_get(o, "top")), "t");
	assert_null(json_path_get(o, "a.x"));
	assert_null(json_path_get(o, "a.b.c.d")); /* c is not an object */
	assert_null(json_path_get(o, "top.x"));
	assert_null(json_path_get(o, "missing"));
	json_decref(o);
}

/* people write {"worktree.baseRef": ...} as well as nested objects */
static void
test_path_get_flat_dotted_keys(void **state)
{
	json_t *o = parse("{\"limits.maxRunning\":4,\"a\":{\"b.c\":5},"
	                  "\"x.y\":{\"z\":6}}");

	assert_int_equal(
	    json_integer_value(json_path_get(o, "limits.maxRunning")), 4);
	assert_int_equal(json_integer_value(json_path_get(o, "a.b.c")), 5);
	assert_int_equal(json_integer_value(json_path_get(o, "x.y.z")), 6);
	assert_null(json_path_get(o, "limits"));
	json_decref(o);
}

static void
test_path_set_creates_intermediate_objects(void **state)
{
	json_t *o = json_object(), *v = json_integer(7);
	json_t *want = parse("{\"a\":{\"b\":{\"c\":7}}}");

	assert_int_equal(json_path_set(o, "a.b.c", v), 0);
	assert_true(json_equal(o, want));
	assert_ptr_equal(json_path_get(o, "a.b.c"), v);
	json_decref(v); /* the object holds its own reference */
	assert_int_equal(json_integer_value(json_path_get(o, "a.b.c")), 7);
	json_decref(o);
	json_decref(want);
}

static void
test_path_set_keeps_siblings_and_replaces_scalar_parents(void **state)
{
	json_t *o = parse("{\"a\":{\"x\":1},\"s\":3}");
	json_t *v = json_string("v");
	json_t *want =
	    parse("{\"a\":{\"x\":1,\"y\":\"v\"},\"s\":{\"t\":\"v\"}}");

	assert_int_equal(json_path_set(o, "a.y", v), 0);
	assert_int_equal(json_path_set(o, "s.t", v), 0);
	assert_true(json_equal(o, want));
	json_decref(v);
	json_decref(o);
	json_decref(want);
}

/* setting the nested form removes a flat twin that would shadow it */
static void
test_path_set_replaces_flat_twin(void **state)
{
	json_t *o = parse("{\"a.b\":1}");
	json_t *v = json_integer(2);
	json_t *want = parse("{\"a\":{\"b\":2}}");

	assert_int_equal(json_path_set(o, "a.b", v), 0);
	assert_true(json_equal(o, want));
	assert_int_equal(json_integer_value(json_path_get(o, "a.b")), 2);
	json_decref(v);
	json_decref(o);
	json_decref(want);
}

static void
test_path_del_removes_empty_parents(void **state)
{
	json_t *o = parse("{\"a\":{\"b\":{\"c\":1}},\"k\":1}");
	json_t *want = parse("{\"k\":1}");

	assert_int_equal(json_path_del(o, "a.b.c"), 0);
	assert_true(json_equal(o, want));
	json_decref(o);
	json_decref(want);
}

static void
test_path_del_keeps_nonempty_parents(void **state)
{
	json_t *o = parse("{\"a\":{\"b\":{\"c\":1,\"d\":2},\"e\":3}}");
	json_t *want = parse("{\"a\":{\"b\":{\"d\":2},\"e\":3}}");

	assert_int_equal(json_path_del(o, "a.b.c"), 0);
	assert_true(json_equal(o, want));
	json_decref(o);
	json_decref(want);
}

static void
test_path_del_flat_key_and_absent_key(void **state)
{
	json_t *o = parse("{\"a.b\":1,\"k\":{\"x\":1}}");
	json_t *want = parse("{\"k\":{\"x\":1}}");

	assert_int_equal(json_path_del(o, "a.b"), 0);
	assert_true(json_equal(o, want));
	assert_int_not_equal(json_path_del(o, "a.b"), 0);
	assert_int_not_equal(json_path_del(o, "k.y"), 0);
	assert_int_not_equal(json_path_del(o, "nope"), 0);
	assert_true(json_equal(o, want)); /* failed deletes changed nothing */
	json_decref(o);
	json_decref(want);
}

/* ---- settings_parse ---- */

static void
test_parse_int(void **state)
{
	static const char *const bad[] = {
	    "x", "", "8x", "1.5", "-1", "99999999999999999999"};
	struct err e = ERR_INIT;
	json_t *v;

	assert_int_equal(settings_parse("limits.maxRunning", "8", &v, &e), 0);
	assert_true(json_is_integer(v));
	assert_int_equal(json_integer_value(v), 8);
	json_decref(v);
	assert_int_equal(settings_parse("scrollback", "0", &v, &e), 0);
	assert_int_equal(json_integer_value(v), 0);
	json_decref(v);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		v = (json_t *)1;
		err_release(&e);
		assert_int_equal(
		    settings_parse("limits.maxRunning", bad[i], &v, &e), -1);
		assert_null(v);
		assert_int_equal(e.code, ERR_USAGE);
		assert_non_null(strstr(e.msg.data, "limits.maxRunning"));
	}
	err_release(&e);
}

/* "limits.group.NAME" is a family of keys, one level deep */
static void
test_parse_prefix_key(void **state)
{
	struct err e = ERR_INIT;
	json_t *v;

	assert_int_equal(settings_parse("limits.group.ci", "2", &v, &e), 0);
	assert_int_equal(json_integer_value(v), 2);
	json_decref(v);
	assert_int_equal(settings_parse("limits.group.", "2", &v, &e), -1);
	assert_non_null(strstr(e.msg.data, "unknown setting"));
	assert_int_equal(settings_parse("limits.group.a.b", "2", &v, &e), -1);
	assert_non_null(strstr(e.msg.data, "unknown setting"));
	err_release(&e);
}

static void
test_parse_enum_valid(void **state)
{
	struct err e = ERR_INIT;
	json_t *v;

	assert_int_equal(settings_parse("isolation", "worktree", &v, &e), 0);
	assert_string_equal(json_string_value(v), "worktree");
	json_decref(v);
	assert_int_equal(settings_parse("isolation", "none", &v, &e), 0);
	json_decref(v);
	assert_int_equal(settings_parse("worktree.baseRef", "head", &v, &e), 0);
	json_decref(v);
	assert_int_equal(e.code, ERR_NONE);
}

static void
test_parse_enum_invalid_lists_choices(void **state)
{
	static const char *const bad[] = {
	    "docker", "", "work", "worktrees", "Worktree", "none|worktree"};
	struct err e = ERR_INIT;
	json_t *v;

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		v = (json_t *)1;
		err_release(&e);
		assert_int_equal(
		    settings_parse("isolation", bad[i], &v, &e), -1);
		assert_null(v);
		assert_int_equal(e.code, ERR_USAGE);
		assert_non_null(strstr(e.msg.data, "none|worktree"));
	}
	err_release(&e);
}

static void
test_parse_number(void **state)
{
	static const char *const bad[] = {
	    "abc", "", "-1", "-0.5", "nan", "inf", "1e999", "2.5usd"};
	struct err e = ERR_INIT;
	json_t *v;

	assert_int_equal(settings_parse("budget.usd", "2.5", &v, &e), 0);
	assert_true(json_is_number(v));
	assert_true(json_number_value(v) == 2.5);
	json_decref(v);
	assert_int_equal(settings_parse("budget.usd", "3", &v, &e), 0);
	assert_true(json_number_value(v) == 3.0);
	json_decref(v);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		err_release(&e);
		assert_int_equal(
		    settings_parse("budget.usd", bad[i], &v, &e), -1);
		assert_int_equal(e.code, ERR_USAGE);
	}
	err_release(&e);
}

static void
test_parse_strv_comma_list(void **state)
{
	struct err e = ERR_INIT;
	json_t *v, *want = parse("[\"a\",\"b\"]");

	assert_int_equal(
	    settings_parse("worktree.symlinkDirectories", "a,b", &v, &e), 0);
	assert_true(json_equal(v, want));
	json_decref(v);
	/* empty items are dropped */
	assert_int_equal(
	    settings_parse("worktree.symlinkDirectories", ",a,,b,", &v, &e), 0);
	assert_true(json_equal(v, want));
	json_decref(v);
	assert_int_equal(settings_parse("worktree.symlinkDirectories",
	                     "node_modules", &v, &e),
	    0);
	assert_int_equal(json_array_size(v), 1);
	assert_string_equal(
	    json_string_value(json_array_get(v, 0)), "node_modules");
	json_decref(v);
	json_decref(want);
}

static void
test_parse_strv_json_array(void **state)
{
	struct err e = ERR_INIT;
	json_t *v, *want = parse("[\"a,b\",\"c d\"]");

	assert_int_equal(settings_parse("worktree.symlinkDirectories",
	                     "[\"a,b\", \"c d\"]", &v, &e),
	    0);
	assert_true(json_equal(v, want));
	json_decref(v);
	assert_int_equal(
	    settings_parse("worktree.symlinkDirectories", "[]", &v, &e), 0);
	assert_int_equal(json_array_size(v), 0);
	json_decref(v);
	assert_int_equal(
	    settings_parse("worktree.symlinkDirectories", "[1]", &v, &e), -1);
	assert_int_equal(e.code, ERR_USAGE);
	err_release(&e);
	assert_int_equal(
	    settings_parse("worktree.symlinkDirectories", "[\"a\"", &v, &e),
	    -1);
	assert_int_equal(e.code, ERR_USAGE);
	assert_null(v);
	err_release(&e);
	json_decref(want);
}

static void
test_parse_detach_key(void **state)
{
	struct err e = ERR_INIT;
	json_t *v;

	assert_int_equal(settings_parse("detachKey", "C-\\", &v, &e), 0);
	assert_string_equal(json_string_value(v), "C-\\");
	json_decref(v);
	assert_int_equal(settings_parse("detachKey", "^A", &v, &e), 0);
	json_decref(v);
	v = (json_t *)1;
	assert_int_equal(settings_parse("detachKey", "x", &v, &e), -1);
	assert_null(v);
	assert_int_equal(e.code, ERR_USAGE);
	assert_non_null(strstr(e.msg.data, "detachKey"));
	err_release(&e);
}

static void
test_parse_string_must_be_utf8(void **state)
{
	struct err e = ERR_INIT;
	json_t *v;

	assert_int_equal(settings_parse("model", "opus", &v, &e), 0);
	assert_string_equal(json_string_value(v), "opus");
	json_decref(v);
	assert_int_equal(settings_parse("model", "\xff\xfe", &v, &e), -1);
	assert_int_equal(e.code, ERR_USAGE);
	err_release(&e);
}

static void
test_parse_unknown_key(void **state)
{
	struct err e = ERR_INIT;
	json_t *v = (json_t *)1;

	assert_int_equal(settings_parse("nonsense", "1", &v, &e), -1);
	assert_null(v);
	assert_int_equal(e.code, ERR_USAGE);
	assert_non_null(strstr(e.msg.data, "unknown setting 'nonsense'"));
	err_release(&e);
	assert_int_equal(settings_parse("worktree", "1", &v, &e), -1);
	assert_non_null(strstr(e.msg.data, "unknown setting"));
	err_release(&e);
}

/* settings_check is what a file's values go through: types matter */
static void
test_check_rejects_wrong_json_types(void **state)
{
	struct err e = ERR_INIT;
	json_t *s = json_string("8"), *i = json_integer(8);
	json_t *arr = parse("[\"a\",2]"), *neg = json_integer(-1);

	assert_int_equal(settings_check("limits.maxRunning", i, &e), 0);
	assert_int_equal(settings_check("limits.maxRunning", s, &e), -1);
	assert_int_equal(settings_check("limits.maxRunning", neg, &e), -1);
	assert_int_equal(settings_check("model", i, &e), -1);
	assert_int_equal(
	    settings_check("worktree.symlinkDirectories", arr, &e), -1);
	assert_int_equal(settings_check("budget.usd", i, &e), 0);
	assert_int_equal(e.code, ERR_USAGE);
	json_decref(s);
	json_decref(i);
	json_decref(arr);
	json_decref(neg);
	err_release(&e);
}

/* ---- detach keys ---- */

static void
test_detach_key_parse_valid_forms(void **state)
{
	assert_int_equal(detach_key_parse("C-\\"), 0x1c);
	assert_int_equal(detach_key_parse("C-a"), 1);
	assert_int_equal(detach_key_parse("C-A"), 1);
	assert_int_equal(detach_key_parse("^A"), 1);
	assert_int_equal(detach_key_parse("^a"), 1);
	assert_int_equal(detach_key_parse("C-z"), 0x1a);
	assert_int_equal(detach_key_parse("C-["), 0x1b);
	assert_int_equal(detach_key_parse("C-]"), 0x1d);
	assert_int_equal(detach_key_parse("C-_"), 0x1f);
	assert_int_equal(detach_key_parse("C-@"), 0);
	assert_int_equal(detach_key_parse("C-?"), 0x7f);
	assert_int_equal(detach_key_parse("^?"), 0x7f);
}

static void
test_detach_key_parse_invalid_forms(void **state)
{
	static const char *const bad[] = {"", "C", "C-", "^", "C-ab", "^AB",
	    "a", "x", "M-a", "C-1", "C- ", "C-~", "C-\x7f", "-a", "Ca", "\\"};

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (detach_key_parse(bad[i]) != -1)
			fail_msg("'%s' parsed as %d", bad[i],
			    detach_key_parse(bad[i]));
	assert_int_equal(detach_key_parse(NULL), -1);
}

/* ---- files and precedence ---- */

static void
test_load_local_beats_project_beats_user_beats_default(void **state)
{
	struct settings s;
	struct err e = ERR_INIT;

	assert_int_equal(settings_load(&s, nested, &e), 0);
	assert_string_equal(settings_get_str(&s, "model"), "local");
	assert_int_equal(settings_origin(&s, "model"), SCOPE_LOCAL);
	assert_string_equal(settings_get_str(&s, "effort"), "high");
	assert_int_equal(settings_origin(&s, "effort"), SCOPE_PROJECT);
	assert_string_equal(settings_get_str(&s, "isolation"), "worktree");
	assert_int_equal(settings_origin(&s, "isolation"), SCOPE_USER);
	assert_string_equal(settings_get_str(&s, "notify"), "bell");
	assert_int_equal(settings_origin(&s, "notify"), SCOPE_DEFAULT);
	assert_int_equal(
	    json_integer_value(settings_get(&s, "scrollback")), 2000);
	/* no written default: the daemon sizes it to the machine */
	assert_null(settings_get(&s, "limits.maxRunning"));
	/* nested objects merge key by key across layers */
	assert_string_equal(settings_get_str(&s, "worktree.baseRef"), "head");
	assert_int_equal(
	    settings_origin(&s, "worktree.baseRef"), SCOPE_PROJECT);
	assert_int_equal(
	    json_integer_value(settings_get(&s, "worktree.pool")), 2);
	assert_int_equal(settings_origin(&s, "worktree.pool"), SCOPE_USER);
	assert_true(
	    json_is_array(settings_get(&s, "worktree.symlinkDirectories")));
	/* unset everywhere, no default */
	assert_null(settings_get(&s, "budget.usd"));
	assert_null(settings_get_str(&s, "budget.usd"));
	assert_int_equal(settings_origin(&s, "budget.usd"), SCOPE_DEFAULT);
	/* settings_get_str is for strings only */
	assert_null(settings_get_str(&s, "limits.maxRunning"));
	settings_release(&s);
}

/* the value settings_get returns comes from the scope settings_origin
 * names, whether a file writes keys flat ("a.b") or nested */
static void
test_load_flat_and_nested_keys_obey_precedence(void **state)
{
	struct settings s;
	struct err e = ERR_INIT;

	write_text(user_file,
	    "{\"limits.maxRunning\":3,"
	    "\"worktree.baseRef\":\"head\"}");
	write_text(project_file, "{\"limits\":{\"maxRunning\":5}}");
	write_text(local_file, "{}");
	assert_int_equal(settings_load(&s, nested, &e), 0);
	assert_int_equal(
	    settings_origin(&s, "limits.maxRunning"), SCOPE_PROJECT);
	assert_int_equal(
	    json_integer_value(settings_get(&s, "limits.maxRunning")), 5);
	/* a flat user key beats a nested default */
	assert_int_equal(settings_origin(&s, "worktree.baseRef"), SCOPE_USER);
	assert_string_equal(settings_get_str(&s, "worktree.baseRef"), "head");
	settings_release(&s);

	write_text(project_file, "{\"limits.maxRunning\":7}");
	write_text(local_file, "{\"limits\":{\"maxRunning\":9}}");
	assert_int_equal(settings_load(&s, nested, &e), 0);
	assert_int_equal(settings_origin(&s, "limits.maxRunning"), SCOPE_LOCAL);
	assert_int_equal(
	    json_integer_value(settings_get(&s, "limits.maxRunning")), 9);
	settings_release(&s);
}

static void
test_defaults_are_valid_values(void **state)
{
	const char *const *keys = settings_keys();
	struct settings s;
	struct err e = ERR_INIT;
	int n = 0;

	assert_int_equal(settings_load(&s, outside, &e), 0);
	assert_null(s.repo);
	for (int i = 0; keys[i] != NULL; i++, n++) {
		json_t *v = settings_get(&s, keys[i]);
		if (v != NULL && settings_check(keys[i], v, &e) != 0)
			fail_msg("default of %s is invalid: %s", keys[i],
			    e.msg.data);
	}
	assert_true(n > 10);
	assert_string_equal(settings_get_str(&s, "detachKey"), "C-\\");
	assert_int_equal(
	    detach_key_parse(settings_get_str(&s, "detachKey")), 0x1c);
	settings_release(&s);
	err_release(&e);
}

static void
test_write_then_reload_round_trips(void **state)
{
	struct settings s;
	struct err e = ERR_INIT;
	json_t *v = json_string("default"), *file, *want;

	assert_int_equal(settings_load(&s, nested, &e), 0);
	assert_int_equal(
	    settings_write(&s, SCOPE_LOCAL, "worktree.baseRef", v, &e), 0);
	json_decref(v);
	v = json_integer(4);
	assert_int_equal(
	    settings_write(&s, SCOPE_USER, "scrollback", v, &e), 0);
	json_decref(v);
	settings_release(&s);

	/* the files hold nested JSON, other keys untouched */
	file = load_json_file(local_file);
	want = parse("{\"model\":\"local\",\"worktree\":"
	             "{\"baseRef\":\"default\"}}");
	assert_true(json_equal(file, want));
	json_decref(file);
	json_decref(want);
	file = load_json_file(user_file);
	assert_int_equal(
	    json_integer_value(json_object_get(file, "scrollback")), 4);
	assert_string_equal(
	    json_string_value(json_object_get(file, "model")), "user");
	json_decref(file);

	assert_int_equal(settings_load(&s, nested, &e), 0);
	assert_string_equal(
	    settings_get_str(&s, "worktree.baseRef"), "default");
	assert_int_equal(settings_origin(&s, "worktree.baseRef"), SCOPE_LOCAL);
	assert_int_equal(json_integer_value(settings_get(&s, "scrollback")), 4);
	assert_int_equal(settings_origin(&s, "scrollback"), SCOPE_USER);

	/* unset falls back to the next scope down */
	assert_int_equal(
	    settings_write(&s, SCOPE_LOCAL, "worktree.baseRef", NULL, &e), 0);
	settings_release(&s);
	assert_int_equal(settings_load(&s, nested, &e), 0);
	assert_string_equal(settings_get_str(&s, "worktree.baseRef"), "head");
	assert_int_equal(
	    settings_origin(&s, "worktree.baseRef"), SCOPE_PROJECT);
	/* the emptied parent object is gone from the file */
	file = load_json_file(local_file);
	assert_null(json_object_get(file, "worktree"));
	json_decref(file);

	/* unsetting what is not set is not_found */
	assert_int_equal(
	    settings_write(&s, SCOPE_LOCAL, "worktree.baseRef", NULL, &e), -1);
	assert_int_equal(e.code, ERR_NOT_FOUND);
	settings_release(&s);
	err_release(&e);
}

static void
test_write_creates_the_galley_directory(void **state)
{
	char repo2[PATH_MAX + 16], path[PATH_MAX + 64];
	struct settings s;
	struct err e = ERR_INIT;
	json_t *v = json_string("plan"), *file;
	struct stat st;

	snprintf(repo2, sizeof repo2, "%s/repo2", root);
	snprintf(path, sizeof path, "%s/.git", repo2);
	assert_int_equal(mkdir_p(path, 0700, &e), 0);
	assert_int_equal(settings_load(&s, repo2, &e), 0);
	assert_int_equal(
	    settings_write(&s, SCOPE_PROJECT, "permissionMode", v, &e), 0);
	json_decref(v);
	snprintf(path, sizeof path, "%s/.galley/settings.json", repo2);
	assert_int_equal(stat(path, &st), 0);
	file = load_json_file(path);
	assert_string_equal(
	    json_string_value(json_object_get(file, "permissionMode")), "plan");
	json_decref(file);
	settings_release(&s);
}

static void
test_write_outside_a_repo_is_refused_for_project_scopes(void **state)
{
	struct settings s;
	struct err e = ERR_INIT;
	json_t *v = json_string("x");

	assert_int_equal(settings_load(&s, outside, &e), 0);
	assert_null(s.repo);
	assert_null(settings_path(&s, SCOPE_PROJECT));
	assert_null(settings_path(&s, SCOPE_LOCAL));
	assert_null(settings_path(&s, SCOPE_DEFAULT));
	assert_int_equal(settings_write(&s, SCOPE_PROJECT, "model", v, &e), -1);
	assert_int_equal(e.code, ERR_USAGE);
	assert_int_equal(settings_write(&s, SCOPE_LOCAL, "model", v, &e), -1);
	/* outside a repo the project files are not read, the user one is */
	assert_string_equal(settings_get_str(&s, "model"), "user");
	json_decref(v);
	settings_release(&s);
	err_release(&e);
}

static void
test_settings_paths(void **state)
{
	struct settings s;
	struct err e = ERR_INIT;
	char *p;

	assert_int_equal(settings_load(&s, nested, &e), 0);
	p = settings_path(&s, SCOPE_USER);
	assert_string_equal(p, user_file);
	free(p);
	p = settings_path(&s, SCOPE_PROJECT);
	assert_string_equal(p, project_file);
	free(p);
	p = settings_path(&s, SCOPE_LOCAL);
	assert_string_equal(p, local_file);
	free(p);
	assert_string_equal(settings_scope_name(SCOPE_LOCAL), "local");
	assert_string_equal(settings_scope_name(SCOPE_DEFAULT), "default");
	settings_release(&s);
}

static void
test_corrupt_file_fails_naming_its_path(void **state)
{
	static const char *const bad[] = {
	    "{\"model\":", "[1,2]", "{\"a\":1,\"a\":2}", "not json"};
	const char *files[] = {user_file, project_file, local_file};
	struct settings s;
	struct err e = ERR_INIT;

	for (size_t f = 0; f < 3; f++) {
		for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
			assert_int_equal(setup_files(NULL), 0);
			write_text(files[f], bad[i]);
			err_release(&e);
			assert_int_equal(settings_load(&s, nested, &e), -1);
			assert_int_equal(e.code, ERR_FAILED);
			if (strstr(e.msg.data, files[f]) == NULL)
				fail_msg("'%s' does not name %s", e.msg.data,
				    files[f]);
			/* nothing half-loaded is left to free */
			assert_null(s.merged);
			assert_null(s.repo);
			for (int l = 0; l < 4; l++)
				assert_null(s.layer[l]);
			settings_release(&s); /* and releasing is harmless */
		}
	}
	err_release(&e);
}

static void
test_missing_files_are_empty_layers(void **state)
{
	struct settings s;
	struct err e = ERR_INIT;

	assert_int_equal(unlink(local_file), 0);
	assert_int_equal(unlink(project_file), 0);
	assert_int_equal(unlink(user_file), 0);
	assert_int_equal(settings_load(&s, nested, &e), 0);
	for (int l = SCOPE_USER; l <= SCOPE_LOCAL; l++) {
		assert_non_null(s.layer[l]);
		assert_int_equal(json_object_size(s.layer[l]), 0);
	}
	assert_null(settings_get(&s, "model"));
	assert_string_equal(settings_get_str(&s, "isolation"), "none");
	assert_int_equal(settings_origin(&s, "isolation"), SCOPE_DEFAULT);
	settings_release(&s);
}

static void
test_repo_root_from_nested_subdir(void **state)
{
	char *r;

	r = repo_root(nested);
	assert_non_null(r);
	assert_string_equal(r, repo);
	free(r);
	r = repo_root(repo);
	assert_string_equal(r, repo);
	free(r);
	assert_null(repo_root(outside));
	assert_null(repo_root("/nonexistent/galley/dir"));
	assert_null(repo_root(NULL));
}

/* a linked worktree has a .git file, not a directory */
static void
test_repo_root_accepts_git_file(void **state)
{
	char wt[PATH_MAX + 16], sub[PATH_MAX + 32], gitfile[PATH_MAX + 32];
	struct err e = ERR_INIT;
	char *r;

	snprintf(wt, sizeof wt, "%s/wt", root);
	snprintf(sub, sizeof sub, "%s/src/deep", wt);
	snprintf(gitfile, sizeof gitfile, "%s/.git", wt);
	assert_int_equal(mkdir_p(sub, 0700, &e), 0);
	write_text(gitfile, "gitdir: /elsewhere\n");
	r = repo_root(sub);
	assert_non_null(r);
	assert_string_equal(r, wt);
	free(r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_merge_deep_merges_nested_objects),
	    cmocka_unit_test(test_merge_deep_replaces_scalars),
	    cmocka_unit_test(test_merge_deep_replaces_arrays),
	    cmocka_unit_test(test_merge_deep_leaves_src_unchanged),
	    cmocka_unit_test(test_path_get_nested),
	    cmocka_unit_test(test_path_get_flat_dotted_keys),
	    cmocka_unit_test(test_path_set_creates_intermediate_objects),
	    cmocka_unit_test(
	        test_path_set_keeps_siblings_and_replaces_scalar_parents),
	    cmocka_unit_test(test_path_set_replaces_flat_twin),
	    cmocka_unit_test(test_path_del_removes_empty_parents),
	    cmocka_unit_test(test_path_del_keeps_nonempty_parents),
	    cmocka_unit_test(test_path_del_flat_key_and_absent_key),
	    cmocka_unit_test(test_parse_int),
	    cmocka_unit_test(test_parse_prefix_key),
	    cmocka_unit_test(test_parse_enum_valid),
	    cmocka_unit_test(test_parse_enum_invalid_lists_choices),
	    cmocka_unit_test(test_parse_number),
	    cmocka_unit_test(test_parse_strv_comma_list),
	    cmocka_unit_test(test_parse_strv_json_array),
	    cmocka_unit_test(test_parse_detach_key),
	    cmocka_unit_test(test_parse_string_must_be_utf8),
	    cmocka_unit_test(test_parse_unknown_key),
	    cmocka_unit_test(test_check_rejects_wrong_json_types),
	    cmocka_unit_test(test_detach_key_parse_valid_forms),
	    cmocka_unit_test(test_detach_key_parse_invalid_forms),
	    cmocka_unit_test_setup(
	        test_load_local_beats_project_beats_user_beats_default,
	        setup_files),
	    cmocka_unit_test_setup(
	        test_load_flat_and_nested_keys_obey_precedence, setup_files),
	    cmocka_unit_test_setup(test_defaults_are_valid_values, setup_files),
	    cmocka_unit_test_setup(
	        test_write_then_reload_round_trips, setup_files),
	    cmocka_unit_test_setup(
	        test_write_creates_the_galley_directory, setup_files),
	    cmocka_unit_test_setup(
	        test_write_outside_a_repo_is_refused_for_project_scopes,
	        setup_files),
	    cmocka_unit_test_setup(test_settings_paths, setup_files),
	    cmocka_unit_test_setup(
	        test_corrupt_file_fails_naming_its_path, setup_files),
	    cmocka_unit_test_setup(
	        test_missing_files_are_empty_layers, setup_files),
	    cmocka_unit_test_setup(
	        test_repo_root_from_nested_subdir, setup_files),
	    cmocka_unit_test_setup(
	        test_repo_root_accepts_git_file, setup_files),
	};
	char home[PATH_MAX], real[PATH_MAX];
	int rc;

	/* path_* cache their answer on first use: set GALLEY_HOME before
	 * anything can ask */
	if (mkdtemp(tmp) == NULL || realpath(tmp, real) == NULL ||
	    strlen(real) >= sizeof root)
		return 1;
	memcpy(root, real, strlen(real) + 1);
	snprintf(home, sizeof home, "%s/home", root);
	setenv("GALLEY_HOME", home, 1);
	snprintf(repo, sizeof repo, "%s/repo", root);
	snprintf(nested, sizeof nested, "%s/repo/a/b", root);
	snprintf(outside, sizeof outside, "%s/outside", root);
	snprintf(
	    user_file, sizeof user_file, "%s/home/config/settings.json", root);
	snprintf(project_file, sizeof project_file,
	    "%s/repo/.galley/settings.json", root);
	snprintf(local_file, sizeof local_file,
	    "%s/repo/.galley/settings.local.json", root);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	if (rm_rf(tmp) != 0)
		return 1;
	return rc;
}
