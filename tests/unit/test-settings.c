/* Settings: deep merge, dotted paths, typed parsing, precedence
 * local > project > user > default. */
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

static char tmp[] = "/tmp/galley-settings-XXXXXX";

static void
write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void
test_merge_deep(void **state)
{
	json_t *a = json_loads("{\"w\":{\"x\":1,\"y\":2},\"s\":\"a\","
	                       "\"l\":[1,2]}",
	    0, NULL);
	json_t *b =
	    json_loads("{\"w\":{\"y\":3},\"s\":\"b\",\"l\":[9]}", 0, NULL);
	json_t *want = json_loads("{\"w\":{\"x\":1,\"y\":3},\"s\":\"b\","
	                          "\"l\":[9]}",
	    0, NULL);

	json_merge_deep(a, b);
	assert_true(json_equal(a, want));
	json_decref(a);
	json_decref(b);
	json_decref(want);
}

static void
test_paths(void **state)
{
	json_t *o = json_object(), *v = json_string("head");

	assert_int_equal(json_path_set(o, "worktree.baseRef", v), 0);
	assert_true(json_equal(json_path_get(o, "worktree.baseRef"), v));
	assert_true(json_is_object(json_object_get(o, "worktree")));
	json_t *flat = json_loads("{\"limits.maxRunning\":4}", 0, NULL);
	assert_int_equal(
	    json_integer_value(json_path_get(flat, "limits.maxRunning")), 4);
	assert_int_equal(json_path_del(o, "worktree.baseRef"), 0);
	assert_null(json_object_get(o, "worktree")); /* empty parent gone */
	json_decref(o);
	json_decref(v);
	json_decref(flat);
}

static void
test_parse(void **state)
{
	struct err e = ERR_INIT;
	json_t *v;

	assert_int_equal(settings_parse("limits.maxRunning", "8", &v, &e), 0);
	assert_int_equal(json_integer_value(v), 8);
	json_decref(v);
	assert_int_equal(settings_parse("limits.maxRunning", "x", &v, &e), -1);
	assert_int_equal(settings_parse("limits.maxRunning", "-1", &v, &e), -1);
	assert_int_equal(settings_parse("isolation", "worktree", &v, &e), 0);
	json_decref(v);
	assert_int_equal(settings_parse("isolation", "docker", &v, &e), -1);
	assert_int_equal(e.code, ERR_USAGE);
	assert_int_equal(settings_parse("budget.usd", "2.5", &v, &e), 0);
	assert_true(json_number_value(v) == 2.5);
	json_decref(v);
	assert_int_equal(settings_parse("worktree.symlinkDirectories",
	                     "node_modules,.venv", &v, &e),
	    0);
	assert_int_equal(json_array_size(v), 2);
	json_decref(v);
	assert_int_equal(settings_parse("limits.group.ci", "2", &v, &e), 0);
	json_decref(v);
	assert_int_equal(settings_parse("nonsense", "1", &v, &e), -1);
	assert_non_null(strstr(e.msg.data, "unknown setting"));
	assert_int_equal(settings_parse("detachKey", "C-a", &v, &e), 0);
	json_decref(v);
	assert_int_equal(settings_parse("detachKey", "x", &v, &e), -1);
	err_release(&e);
}

static void
test_detach_key(void **state)
{
	assert_int_equal(detach_key_parse("C-\\"), 0x1c);
	assert_int_equal(detach_key_parse("C-a"), 1);
	assert_int_equal(detach_key_parse("^A"), 1);
	assert_int_equal(detach_key_parse("C-?"), 0x7f);
	assert_int_equal(detach_key_parse("C-"), -1);
	assert_int_equal(detach_key_parse("C-ab"), -1);
	assert_int_equal(detach_key_parse("a"), -1);
	assert_int_equal(detach_key_parse(NULL), -1);
}

/* local > project > user > default, and where each value came from */
static void
test_precedence(void **state)
{
	char path[1024], repo[512], sub[512];
	struct settings s;
	struct err e = ERR_INIT;

	snprintf(path, sizeof path, "%s/g/config", tmp);
	assert_int_equal(mkdir_p(path, 0700, &e), 0);
	snprintf(path, sizeof path, "%s/g/config/settings.json", tmp);
	write_text(path,
	    "{\"model\":\"user\",\"effort\":\"low\","
	    "\"isolation\":\"worktree\"}");
	snprintf(repo, sizeof repo, "%s/repo", tmp);
	snprintf(sub, sizeof sub, "%s/repo/.git", tmp);
	assert_int_equal(mkdir_p(sub, 0700, &e), 0);
	snprintf(sub, sizeof sub, "%s/repo/.galley", tmp);
	assert_int_equal(mkdir_p(sub, 0700, &e), 0);
	snprintf(path, sizeof path, "%s/settings.json", sub);
	write_text(path, "{\"model\":\"project\",\"effort\":\"high\"}");
	snprintf(path, sizeof path, "%s/settings.local.json", sub);
	write_text(path, "{\"model\":\"local\"}");
	snprintf(sub, sizeof sub, "%s/repo/a/b", tmp);
	assert_int_equal(mkdir_p(sub, 0700, &e), 0);

	assert_int_equal(settings_load(&s, sub, &e), 0);
	assert_string_equal(s.repo, repo);
	assert_string_equal(settings_get_str(&s, "model"), "local");
	assert_int_equal(settings_origin(&s, "model"), SCOPE_LOCAL);
	assert_string_equal(settings_get_str(&s, "effort"), "high");
	assert_int_equal(settings_origin(&s, "effort"), SCOPE_PROJECT);
	assert_string_equal(settings_get_str(&s, "isolation"), "worktree");
	assert_int_equal(settings_origin(&s, "isolation"), SCOPE_USER);
	assert_string_equal(
	    settings_get_str(&s, "worktree.baseRef"), "default");
	assert_int_equal(
	    settings_origin(&s, "worktree.baseRef"), SCOPE_DEFAULT);

	/* a write goes to its scope's file and survives a reload */
	json_t *v = json_string("head");
	assert_int_equal(
	    settings_write(&s, SCOPE_PROJECT, "worktree.baseRef", v, &e), 0);
	json_decref(v);
	settings_release(&s);
	assert_int_equal(settings_load(&s, sub, &e), 0);
	assert_string_equal(settings_get_str(&s, "worktree.baseRef"), "head");
	assert_int_equal(
	    settings_origin(&s, "worktree.baseRef"), SCOPE_PROJECT);
	settings_release(&s);

	/* a corrupt file is an error naming it */
	write_text(path, "{\"model\":");
	assert_int_equal(settings_load(&s, sub, &e), -1);
	assert_non_null(strstr(e.msg.data, "settings.local.json"));
	settings_release(&s);
	err_release(&e);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_merge_deep),
	    cmocka_unit_test(test_paths),
	    cmocka_unit_test(test_parse),
	    cmocka_unit_test(test_detach_key),
	    cmocka_unit_test(test_precedence),
	};
	char cmd[128];
	int rc;

	/* paths are computed once: set GALLEY_HOME before anything asks */
	if (mkdtemp(tmp) == NULL)
		return 1;
	char home[256];
	snprintf(home, sizeof home, "%s/g", tmp);
	setenv("GALLEY_HOME", home, 1);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
	if (system(cmd) != 0)
		return 1;
	return rc;
}
