/* The state table: the one list of states the CLI and the daemon share. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "state.h"

static void
test_names_round_trip(void **unused)
{
	for (int i = 0; i < SESSION_NSTATES; i++) {
		assert_non_null(state_table[i].name);
		assert_int_equal(state_from_name(state_name(i)), i);
	}
	assert_int_equal(state_from_name("running"), -1);
	assert_int_equal(state_from_name(""), -1);
	assert_int_equal(state_from_name(NULL), -1);
	assert_string_equal(state_name(SESSION_NSTATES), "unknown");
}

/* DESIGN §3: four end states; queued is neither live nor ended. */
static void
test_live_and_terminal(void **unused)
{
	static const char *const ends[] = {
	    "done", "failed", "stopped", "interrupted"};
	static const char *const live[] = {
	    "starting", "working", "blocked", "idle"};
	int nterm = 0, nlive = 0;

	for (size_t i = 0; i < 4; i++) {
		assert_true(state_name_terminal(ends[i]));
		assert_false(state_name_live(ends[i]));
		assert_true(state_name_live(live[i]));
		assert_false(state_name_terminal(live[i]));
	}
	assert_false(state_name_live("queued"));
	assert_false(state_name_terminal("queued"));
	assert_false(state_name_live("bogus"));
	assert_false(state_name_terminal("bogus"));
	for (int i = 0; i < SESSION_NSTATES; i++) {
		nterm += state_table[i].terminal;
		nlive += state_table[i].live;
		/* no state is both, and attention/active are live */
		assert_false(state_table[i].live && state_table[i].terminal);
		if (state_table[i].attention || state_table[i].active)
			assert_true(state_table[i].live);
	}
	assert_int_equal(nterm, 4);
	assert_int_equal(nlive, 5); /* unknown: a cluster's, unanswered */
	assert_true(state_name_is("blocked", SESSION_BLOCKED));
	assert_false(state_name_is(NULL, SESSION_BLOCKED));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_names_round_trip),
	    cmocka_unit_test(test_live_and_terminal),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
