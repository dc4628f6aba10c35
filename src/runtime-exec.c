/* exec: any command under the PTY. State is the process state. */
#include <string.h>

#include "proto.h"
#include "runtime.h"
#include "spec.h"

static int
exec_argv(const struct session_spec *sp, json_t **out, char **session_id,
    struct err *err)
{
	if (sp->argv.n > 0) {
		*out = strv_to_json(&sp->argv);
		return 0;
	}
	if (sp->prompt != NULL && *sp->prompt != '\0') {
		/* `new --runtime exec "a | b"`: a shell command line */
		*out = json_pack("[s, s, s]", "/bin/sh", "-c", sp->prompt);
		return *out ? 0
		            : err_set(err, ERR_USAGE, "prompt is not UTF-8");
	}
	return err_set(
	    err, ERR_USAGE, "no command to run: galley exec -- CMD...");
}

const struct runtime runtime_exec = {
    .name = "exec",
    .kind = "job",
    .argv = exec_argv,
};
