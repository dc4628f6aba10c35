/* fake: the built-in scripted agent (fake-agent.c); the prompt is its
 * script. It reports state through `galley hook` exactly as claude does. */
#include "proto.h"
#include "runtime.h"
#include "spec.h"
#include "util.h"

static int
fake_argv(const struct session_spec *sp, json_t **out, char **session_id,
    struct err *err)
{
	*out = json_pack("[s, s, s, s, s, s]", self_exe(), "fake-agent",
	    "--model", sp->model ? sp->model : "fake-1", "--",
	    sp->prompt ? sp->prompt : "");
	return *out ? 0 : err_set(err, ERR_USAGE, "prompt is not UTF-8");
}

const struct runtime runtime_fake = {
    .name = "fake",
    .kind = "agent",
    .argv = fake_argv,
    .provider = "fake",
};
