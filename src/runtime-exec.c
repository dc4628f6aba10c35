/* exec: any command under the PTY. State is the process state. */
#include <string.h>

#include "proto.h"
#include "runtime.h"

static int
exec_argv(json_t *req, json_t **out, struct err *err)
{
	const char *prompt = NULL;
	json_t *argv = NULL;

	if (proto_get_strv(req, "argv", &argv, err) < 0 ||
	    proto_get_str(req, "prompt", &prompt, err) < 0)
		return -1;
	if (argv != NULL && json_array_size(argv) > 0) {
		*out = json_incref(argv);
		return 0;
	}
	if (prompt != NULL && *prompt != '\0') {
		/* `new --runtime exec "a | b"`: a shell command line */
		*out = json_pack("[s, s, s]", "/bin/sh", "-c", prompt);
		return 0;
	}
	return err_set(
	    err, ERR_USAGE, "no command to run: galley exec -- CMD...");
}

const struct runtime runtime_exec = {
    .name = "exec",
    .kind = "job",
    .argv = exec_argv,
};
