/* What a shell command line writes, for the file-ownership gate. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bash-writes.h"

/* The paths CMD writes from /r, joined by spaces. */
static char *
writes(const char *cmd)
{
	static char out[4096];
	json_t *list = json_array(), *v;
	size_t i;

	bash_writes(cmd, "/r", list);
	out[0] = '\0';
	json_array_foreach(list, i, v)
	{
		if (i)
			strcat(out, " ");
		strcat(out, json_string_value(v));
	}
	json_decref(list);
	return out;
}

static void
test_readers_write_nothing(void **state)
{
	(void)state;
	assert_string_equal(writes("ls -la src; cat a | grep x"), "");
	assert_string_equal(writes("git status && git diff HEAD"), "");
	assert_string_equal(writes("echo hi 2>&1 >&2"), "");
	assert_string_equal(writes("make test > /dev/null 2>&1"), "");
	assert_string_equal(writes("sed s/a/b/ file"), "");
	assert_string_equal(writes("# rm everything"), "");
	assert_string_equal(writes(""), "");
}

static void
test_redirections(void **state)
{
	(void)state;
	assert_string_equal(writes("echo x > a.txt"), "/r/a.txt");
	assert_string_equal(writes("echo x >>docs/b"), "/r/docs/b");
	assert_string_equal(writes("cmd 2> err.log"), "/r/err.log");
	assert_string_equal(writes("cmd &> all.log"), "/r/all.log");
	assert_string_equal(writes("cmd >& both.log"), "/r/both.log");
	assert_string_equal(writes("echo 'a > b' > \"c d\""), "/r/c d");
	assert_string_equal(writes("cat < in > out"), "/r/out");
	assert_string_equal(
	    writes("cat <<EOF > f\nrm -rf /\nEOF\ntouch g"), "/r/f /r/g");
}

static void
test_paths_are_normalized(void **state)
{
	(void)state;
	assert_string_equal(writes("touch ./a/../b/./c"), "/r/b/c");
	assert_string_equal(writes("touch ../../x"), "/x");
	assert_string_equal(writes("touch /abs/y"), "/abs/y");
	assert_string_equal(
	    writes("cd src && touch a; cd .. ; touch b"), "/r/src/a /r/b");
}

static void
test_expansions_are_not_guessed(void **state)
{
	(void)state;
	assert_string_equal(writes("echo > $OUT"), "");
	assert_string_equal(writes("rm \"$(ls)\" ~/x `pwd`/y"), "");
	assert_string_equal(writes("echo $(date) > stamp"), "/r/stamp");
	assert_string_equal(writes("rm src/*.c"), "/r/src/*.c");
}

static void
test_writers(void **state)
{
	(void)state;
	assert_string_equal(writes("rm -rf build docs"), "/r/build /r/docs");
	assert_string_equal(writes("mv a b"), "/r/a /r/b");
	assert_string_equal(writes("mv -t dir a"), "/r/a /r/dir");
	assert_string_equal(writes("cp -r src dst"), "/r/dst");
	assert_string_equal(writes("touch -t 202001010000 f"), "/r/f");
	assert_string_equal(writes("mkdir -p -m 700 d"), "/r/d");
	assert_string_equal(writes("chmod +x run.sh"), "/r/run.sh");
	assert_string_equal(writes("ls | tee -a log1 log2"), "/r/log1 /r/log2");
	assert_string_equal(writes("sed -i s/a/b/ f1 f2"), "/r/f1 /r/f2");
	assert_string_equal(writes("sed -i -e s/a/b/ f1"), "/r/f1");
	assert_string_equal(writes("perl -pi -e 's/a/b/' f"), "/r/f");
	assert_string_equal(writes("dd if=/dev/zero of=img bs=1"), "/r/img");
	assert_string_equal(writes("cc -o bin/x x.c"), "/r/bin/x");
	assert_string_equal(writes("sudo -n rm f"), "/r/f");
	assert_string_equal(writes("FOO=1 env X=2 touch f"), "/r/f");
	assert_string_equal(writes("timeout 5 rm f"), "/r/f");
	assert_string_equal(
	    writes("find build -name '*.o' -delete"), "/r/build");
	assert_string_equal(writes("find . -exec rm {} ;"), "/r");
	assert_string_equal(writes("find . -exec grep x {} ;"), "");
}

static void
test_shells_are_followed(void **state)
{
	(void)state;
	assert_string_equal(writes("bash -c 'cd d && echo x > y'"), "/r/d/y");
	assert_string_equal(writes("sh -ec \"touch a\""), "/r/a");
	assert_string_equal(
	    writes(
	        "sh -c \"sh -c 'sh -c \\\"sh -c \\\\\\\"touch deep\\\\\\\"\\\"'\""),
	    "/r/deep");
}

static void
test_git(void **state)
{
	(void)state;
	assert_string_equal(writes("git add -A && git commit -m x"), "");
	assert_string_equal(writes("git checkout -- a b"), "/r/a /r/b");
	assert_string_equal(writes("git checkout main"), "/r");
	assert_string_equal(writes("git checkout -b topic"), "");
	assert_string_equal(writes("git reset --hard"), "/r");
	assert_string_equal(writes("git reset HEAD~1"), "");
	assert_string_equal(writes("git rm -r old"), "/r/old");
	assert_string_equal(writes("git rm --cached old"), "");
	assert_string_equal(writes("git stash list"), "");
	assert_string_equal(writes("git clean -fdx"), "/r");
	assert_string_equal(writes("git restore src/a.c"), "/r/src/a.c");
}

static void
test_junk_does_not_crash(void **state)
{
	(void)state;
	const char *junk[] = {"'unclosed", "\"unclosed", "$(", "`", "<<", "> ",
	    ">&", "2>", "cat <<'E", "((((", "))", "&&&|||;;;", "\\",
	    "echo \\\n > x", "<(", "sh -c", "find -exec", "git", "git -C", "cd",
	    "mv -t", "dd of=", "touch ''"};

	for (size_t i = 0; i < sizeof junk / sizeof junk[0]; i++)
		writes(junk[i]);
	assert_string_equal(writes("echo \\\n > x"), "/r/x");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_readers_write_nothing),
	    cmocka_unit_test(test_redirections),
	    cmocka_unit_test(test_paths_are_normalized),
	    cmocka_unit_test(test_expansions_are_not_guessed),
	    cmocka_unit_test(test_writers),
	    cmocka_unit_test(test_shells_are_followed),
	    cmocka_unit_test(test_git),
	    cmocka_unit_test(test_junk_does_not_crash),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
