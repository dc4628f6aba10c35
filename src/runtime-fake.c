/* fake: the built-in scripted agent (fake-agent.c); the prompt is its
 * script. It reports state through `galley hook` exactly as claude does. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto.h"
#include "runtime.h"
#include "spec.h"
#include "util.h"
#include "xmalloc.h"

static int
fake_argv(const struct session_spec *sp, json_t **out, char **session_id,
    struct err *err)
{
	*out = json_pack("[s, s, s, s]", self_exe(), "fake-agent", "--model",
	    sp->model ? sp->model : "fake-1");
	if (sp->headless)
		json_array_append_new(*out, json_string("--print"));
	json_array_append_new(*out, json_string("--"));
	json_t *p = json_string(sp->prompt ? sp->prompt : "");
	if (p == NULL) {
		json_decref(*out);
		*out = NULL;
		return err_set(err, ERR_USAGE, "prompt is not UTF-8");
	}
	json_array_append_new(*out, p);
	return 0;
}

/* --print (headless): its result line, as claude -p's */
static json_t *
fake_result(const char *spec, const char *log)
{
	if (spec == NULL || strstr(spec, "\"--print\"") == NULL)
		return NULL;
	return runtime_result_line(log);
}

/* Under --sandbox write: its transcript, and no more of the session's
 * dir (spec.json there holds the sandbox plan itself). */
static void
fake_sandbox_paths(json_t *list, const char *dir, json_t *env)
{
	char *p;

	xasprintf(&p, "%s/transcript.jsonl", dir);
	int fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fd >= 0)
		close(fd);
	json_array_append_new(list, json_string(p));
	free(p);
}

const struct runtime runtime_fake = {
    .name = "fake",
    .kind = "agent",
    .argv = fake_argv,
    .provider = "fake",
    .sandbox_paths = fake_sandbox_paths,
    .result = fake_result,
};
