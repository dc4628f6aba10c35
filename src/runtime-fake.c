/* fake: the built-in scripted agent (fake-agent.c); the prompt is its
 * script. It reports state through `galley hook` exactly as claude does. */
#include "proto.h"
#include "runtime.h"
#include "util.h"

static int
fake_argv(json_t *req, json_t **out, struct err *err)
{
	const char *prompt = NULL, *model = NULL;

	if (proto_get_str(req, "prompt", &prompt, err) < 0 ||
	    proto_get_str(req, "model", &model, err) < 0)
		return -1;
	*out = json_pack("[s, s, s, s, s, s]", self_exe(), "fake-agent",
	    "--model", model ? model : "fake-1", "--", prompt ? prompt : "");
	return *out ? 0 : err_set(err, ERR_USAGE, "prompt is not UTF-8");
}

const struct runtime runtime_fake = {
    .name = "fake",
    .kind = "agent",
    .argv = fake_argv,
};
