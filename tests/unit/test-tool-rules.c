/* Claude Code's permission rule syntax, as galley's PreToolUse hook
 * enforces it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "tool-rules.h"

static int
bash(const char *rule, const char *cmd)
{
	json_t *in = json_pack("{s:s}", "command", cmd);
	int ok = tool_rule_match(rule, "Bash", in, "/repo");

	json_decref(in);
	return ok;
}

static int
edit(const char *rule, const char *path)
{
	json_t *in = json_pack("{s:s, s:s}", "file_path", path, "content", "");
	int ok = tool_rule_match(rule, "Edit", in, "/repo");

	json_decref(in);
	return ok;
}

static void
test_whole_tool(void **state)
{
	(void)state;
	assert_true(bash("Bash", "rm -rf /"));
	assert_true(bash("Bash()", "ls"));
	assert_true(bash("Bash(*)", "ls"));
	assert_false(bash("Edit", "ls"));
	assert_false(bash("Bashful", "ls"));
	assert_false(bash("Bas", "ls"));
}

static void
test_bash_globs_and_prefix(void **state)
{
	(void)state;
	assert_true(bash("Bash(git *)", "git push origin main"));
	assert_false(bash("Bash(git *)", "rm -rf .git"));
	assert_true(bash("Bash(rm *)", "rm -rf build"));
	assert_true(bash("Bash(npm run test:*)", "npm run test:unit -- -x"));
	assert_false(bash("Bash(npm run test:*)", "npm run build"));
	assert_true(bash("Bash(curl*)", "curl http://x"));
	/* malformed rules match nothing */
	assert_false(bash("Bash(git *", "git status"));
	assert_false(bash("(git *)", "git status"));
}

static void
test_paths(void **state)
{
	(void)state;
	assert_true(edit("Edit(src/**)", "/repo/src/a/b.c"));
	assert_true(edit("Edit(./src/*)", "/repo/src/a/b.c"));
	assert_true(edit("Edit(src/*)", "src/x.c")); /* relative input */
	assert_false(edit("Edit(src/**)", "/repo/docs/x.md"));
	assert_true(edit("Edit(//etc/*)", "/etc/passwd"));
	assert_true(edit("Edit(/etc/*)", "/etc/passwd"));
	assert_false(edit("Write(src/**)", "/repo/src/x.c"));
}

static void
test_webfetch_and_mcp(void **state)
{
	json_t *in = json_pack("{s:s}", "url", "https://Example.com:8443/a?b");

	(void)state;
	assert_true(tool_rule_match(
	    "WebFetch(domain:example.com)", "WebFetch", in, "/"));
	assert_true(
	    tool_rule_match("WebFetch(domain:*.com)", "WebFetch", in, "/"));
	assert_false(
	    tool_rule_match("WebFetch(domain:evil.org)", "WebFetch", in, "/"));
	assert_true(tool_rule_match("mcp__gh", "mcp__gh__create_pr", in, "/"));
	assert_false(tool_rule_match("mcp__gh", "mcp__ghx__create", in, "/"));
	json_decref(in);
}

static void
test_find_first(void **state)
{
	json_t *list = json_pack("[s, s, i]", "Read", "Bash(rm *)", 3);
	json_t *in = json_pack("{s:s}", "command", "rm -f x");

	(void)state;
	assert_string_equal(
	    tool_rules_find(list, "Bash", in, "/"), "Bash(rm *)");
	assert_null(tool_rules_find(list, "Edit", in, "/"));
	assert_null(tool_rules_find(NULL, "Bash", in, "/"));
	json_decref(list);
	json_decref(in);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_whole_tool),
	    cmocka_unit_test(test_bash_globs_and_prefix),
	    cmocka_unit_test(test_paths),
	    cmocka_unit_test(test_webfetch_and_mcp),
	    cmocka_unit_test(test_find_first),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
