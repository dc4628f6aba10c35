/* The spec of a new session: every field of a `new`/`exec` request, its
 * type and its limits, decoded in one place (src/spec.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "spec.h"

/* A minimal valid request plus one field from JSON text. */
static int
decode_with(const char *field_json, struct session_spec *sp, struct err *err)
{
	char text[1024];
	json_t *req;
	int rc;

	snprintf(text, sizeof text, "{\"cwd\": \"/tmp\"%s%s}",
	    field_json ? ", " : "", field_json ? field_json : "");
	req = json_loads(text, 0, NULL);
	assert_non_null(req);
	rc = spec_from_json(req, sp, err);
	json_decref(req);
	return rc;
}

static void
expect_error(const char *field_json, const char *message_part)
{
	struct session_spec sp;
	struct err err = ERR_INIT;

	if (decode_with(field_json, &sp, &err) == 0)
		fail_msg("accepted %s", field_json);
	assert_int_equal(err.code, ERR_USAGE);
	if (strstr(err.msg.data, message_part) == NULL)
		fail_msg("%s: '%s' does not say '%s'", field_json, err.msg.data,
		    message_part);
	err_release(&err);
}

static void
test_defaults(void **unused)
{
	struct session_spec sp;
	struct err err = ERR_INIT;

	assert_int_equal(decode_with(NULL, &sp, &err), 0);
	assert_string_equal(sp.runtime, "exec");
	assert_string_equal(sp.cwd, "/tmp");
	assert_int_equal(sp.rows, 24);
	assert_int_equal(sp.cols, 80);
	assert_int_equal(sp.scrollback, 2000);
	assert_null(sp.prompt);
	assert_null(sp.name);
	assert_int_equal(sp.argv.n, 0);
	assert_int_equal(sp.priority, 0);
	assert_false(sp.headless);
	assert_true(sp.budget_usd == 0);
	spec_release(&sp);
}

static void
test_cwd_required_and_absolute(void **unused)
{
	struct session_spec sp;
	struct err err = ERR_INIT;
	json_t *req = json_object();

	assert_int_equal(spec_from_json(req, &sp, &err), -1);
	assert_non_null(strstr(err.msg.data, "cwd"));
	err_release(&err);
	json_decref(req);
	req = json_pack("{s:s}", "cwd", "relative/dir");
	assert_int_equal(spec_from_json(req, &sp, &err), -1);
	assert_non_null(strstr(err.msg.data, "absolute path"));
	err_release(&err);
	json_decref(req);
	req = json_pack("[]");
	assert_int_equal(spec_from_json(req, &sp, &err), -1);
	err_release(&err);
	json_decref(req);
}

/* Every field, given the wrong JSON type, is refused by name. */
static void
test_wrong_types(void **unused)
{
	static const struct {
		const char *json, *says;
	} cases[] = {
	    {"\"runtime\": 1", "'runtime' must be a string"},
	    {"\"prompt\": []", "'prompt' must be a string"},
	    {"\"argv\": \"ls\"", "'argv' must be an array of strings"},
	    {"\"argv\": [\"ls\", 1]", "'argv' must be an array of strings"},
	    {"\"args\": {}", "'args' must be an array"},
	    {"\"model\": true", "'model' must be a string"},
	    {"\"effort\": 3", "'effort' must be a string"},
	    {"\"permission_mode\": 3", "'permission_mode' must be a string"},
	    {"\"agent\": 3", "'agent' must be a string"},
	    {"\"agents\": []", "'agents' must be an object"},
	    {"\"headless\": 1", "'headless' must be a boolean"},
	    {"\"pre_accept\": \"yes\"", "'pre_accept' must be a boolean"},
	    {"\"claude_path\": 1", "'claude_path' must be a string"},
	    {"\"runtime_session_id\": 1", "'runtime_session_id' must be"},
	    {"\"cwd\": 5", "'cwd' must be an absolute path"},
	    {"\"env\": [1]", "'env' must be an array of strings"},
	    {"\"rows\": \"24\"", "'rows' must be an integer"},
	    {"\"cols\": 80.5", "'cols' must be an integer"},
	    {"\"scrollback\": true", "'scrollback' must be an integer"},
	    {"\"worktree\": 1", "'worktree' must be an absolute path"},
	    {"\"branch\": 1", "'branch' must be a string"},
	    {"\"repo\": 1", "'repo' must be an absolute path"},
	    {"\"base\": 1", "'base' must be a string"},
	    {"\"base_ref\": 1", "'base_ref' must be a string"},
	    {"\"name\": 1", "'name' must be a name"},
	    {"\"pin\": \"true\"", "'pin' must be a boolean"},
	    {"\"group\": 1", "'group' must be a name"},
	    {"\"priority\": \"1\"", "'priority' must be an integer"},
	    {"\"after\": \"a\"", "'after' must be an array of strings"},
	    {"\"allow\": [true]", "'allow' must be an array of strings"},
	    {"\"deny\": 1", "'deny' must be an array of strings"},
	    {"\"agent_tools\": 1", "'agent_tools' must be an array"},
	    {"\"budget_usd\": \"5\"", "'budget_usd' must be a number > 0"},
	    {"\"budget_tokens\": 1.5", "'budget_tokens' must be an integer"},
	    {"\"sandbox\": true", "'sandbox' must be an object"},
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		expect_error(cases[i].json, cases[i].says);
}

/* Limits: just outside is refused, the edge is taken. */
static void
test_limits(void **unused)
{
	static const char *const bad[][2] = {
	    {"\"rows\": 1", "'rows' must be from 2 to 1000"},
	    {"\"rows\": 1001", "'rows' must be from 2 to 1000"},
	    {"\"cols\": 9", "'cols' must be from 10 to 1000"},
	    {"\"scrollback\": -1", "'scrollback' must be from 0"},
	    {"\"scrollback\": 1000001", "'scrollback' must be from 0"},
	    {"\"priority\": 1001", "'priority' must be from -1000 to 1000"},
	    {"\"priority\": -1001", "'priority' must be from -1000"},
	    {"\"budget_usd\": 0", "'budget_usd' must be a number > 0"},
	    {"\"budget_usd\": -2", "'budget_usd' must be a number > 0"},
	    {"\"budget_tokens\": -1", "'budget_tokens' must be from 0"},
	    {"\"worktree\": \"wt\"", "'worktree' must be an absolute path"},
	    {"\"repo\": \"r\"", "'repo' must be an absolute path"},
	    {"\"name\": \"a b\"", "name"},
	    {"\"name\": \"\"", "name"},
	    {"\"group\": \"x/y\"", "group"},
	    {"\"sandbox\": {\"write\": 1}", "'sandbox.write' must be a bool"},
	};
	static const char *const good[] = {"\"rows\": 2", "\"rows\": 1000",
	    "\"cols\": 10", "\"scrollback\": 0", "\"priority\": -1000",
	    "\"priority\": 1000", "\"budget_usd\": 0.01",
	    "\"budget_tokens\": 1", "\"name\": \"fix-login_2.0\"",
	    "\"sandbox\": {\"write\": true, \"net\": false}",
	    "\"prompt\": null", "\"unknown_field\": [1, 2]"};
	struct session_spec sp;
	struct err err = ERR_INIT;

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		expect_error(bad[i][0], bad[i][1]);
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		if (decode_with(good[i], &sp, &err) != 0)
			fail_msg("refused %s: %s", good[i], err.msg.data);
		spec_release(&sp);
	}
}

static void
test_full_request(void **unused)
{
	struct session_spec sp;
	struct err err = ERR_INIT;
	json_t *req = json_loads(
	    "{\"runtime\": \"claude\", \"prompt\": \"fix it\", \"cwd\": "
	    "\"/w\", \"argv\": [\"a\", \"b\"], \"env\": [\"PATH=/bin\", "
	    "\"HOME=/h\"], \"rows\": 40, \"cols\": 120, \"scrollback\": 10, "
	    "\"name\": \"n1\", \"pin\": true, \"group\": \"g\", "
	    "\"priority\": 7, \"after\": [\"x\"], \"allow\": [\"Read\"], "
	    "\"deny\": [\"Bash(rm *)\"], \"budget_usd\": 2.5, "
	    "\"budget_tokens\": 9000, \"headless\": true, \"model\": \"opus\", "
	    "\"agents\": {\"r\": {}}, \"sandbox\": {\"write\": true}, "
	    "\"worktree\": \"/w/.wt/a\", \"repo\": \"/w\", \"base\": \"main\"}",
	    0, NULL);

	assert_int_equal(spec_from_json(req, &sp, &err), 0);
	assert_string_equal(sp.runtime, "claude");
	assert_string_equal(sp.prompt, "fix it");
	assert_int_equal(sp.argv.n, 2);
	assert_string_equal(sp.argv.v[1], "b");
	assert_null(sp.argv.v[2]);
	assert_string_equal(spec_env(&sp, "PATH"), "/bin");
	assert_string_equal(spec_env(&sp, "HOME"), "/h");
	assert_null(spec_env(&sp, "HOM"));
	assert_int_equal(sp.rows, 40);
	assert_int_equal(sp.cols, 120);
	assert_int_equal(sp.scrollback, 10);
	assert_true(sp.pin);
	assert_string_equal(sp.group, "g");
	assert_int_equal(sp.priority, 7);
	assert_string_equal(sp.after.v[0], "x");
	assert_string_equal(sp.deny.v[0], "Bash(rm *)");
	assert_true(sp.budget_usd == 2.5);
	assert_int_equal(sp.budget_tokens, 9000);
	assert_true(sp.headless);
	assert_true(json_is_object(sp.agents));
	assert_true(json_is_true(json_object_get(sp.sandbox, "write")));
	assert_string_equal(sp.worktree, "/w/.wt/a");
	/* the spec owns copies: the request can go */
	json_decref(req);
	assert_string_equal(sp.model, "opus");
	json_t *argv = strv_to_json(&sp.argv);
	assert_int_equal(json_array_size(argv), 2);
	json_decref(argv);
	spec_release(&sp);
	assert_null(sp.runtime);
	assert_int_equal(sp.rows, 24); /* released back to defaults */
}

/* Teams and workflows build a spec in C: the same limits hold. */
static void
test_built_in_c(void **unused)
{
	struct session_spec sp;
	struct err err = ERR_INIT;

	spec_init(&sp);
	assert_int_equal(spec_check(&sp, &err), -1); /* no cwd */
	err_release(&err);
	sp.cwd = strdup("/repo");
	sp.runtime = strdup("fake");
	strv_add(&sp.argv, "true");
	assert_int_equal(spec_check(&sp, &err), 0);
	sp.priority = 5000;
	assert_int_equal(spec_check(&sp, &err), -1);
	assert_non_null(strstr(err.msg.data, "priority"));
	err_release(&err);
	sp.priority = 0;
	sp.name = strdup("bad name");
	assert_int_equal(spec_check(&sp, &err), -1);
	err_release(&err);
	spec_release(&sp);
}

/* Found by tests/fuzz/fuzz-spec.c: an error that shows a typed value
 * with a newline in it must still be one line; and the Slurm job size. */
static void
test_errors_stay_one_line_and_slurm_sizes(void **unused)
{
	struct session_spec sp;
	struct err err = ERR_INIT;

	assert_int_equal(decode_with("\"executor\": \"a\\nb\"", &sp, &err), -1);
	assert_null(strchr(err.msg.data, '\n'));
	assert_non_null(strstr(err.msg.data, "'a\\x0ab'"));
	err_release(&err);
	expect_error("\"slurm\": {\"x\\ny\": 1}", "slurm.x\\x0ay");
	expect_error("\"slurm\": {\"cpus\": 0}", "slurm.cpus");
	expect_error("\"slurm\": {\"time\": \"1h\"}", "slurm.time");
	expect_error("\"slurm\": {\"mem\": \"G\"}", "slurm.mem");
	assert_int_equal(
	    decode_with("\"executor\": \"slurm\", \"slurm\": "
	                "{\"partition\": \"debug\", \"cpus\": 4, "
	                "\"mem\": \"500M\", \"time\": \"1-00:30\"}",
	        &sp, &err),
	    0);
	assert_string_equal(sp.executor, "slurm");
	spec_release(&sp);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_cwd_required_and_absolute),
	    cmocka_unit_test(test_wrong_types),
	    cmocka_unit_test(test_limits),
	    cmocka_unit_test(test_full_request),
	    cmocka_unit_test(test_built_in_c),
	    cmocka_unit_test(test_errors_stay_one_line_and_slurm_sizes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
