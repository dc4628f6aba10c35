/* Runtime drivers (DESIGN §6): how a session's command line is built and
 * what kind of session it is. NULL members mean "not supported". */
#ifndef RUNTIME_H
#define RUNTIME_H

#include <jansson.h>

#include "err.h"

struct runtime {
	const char *name;
	const char *kind; /* "agent" or "job" */
	int (*argv)(json_t *req, json_t **out, struct err *);
	/* before the first spawn: *blocked names what the session will wait
	 * on before its hooks can speak (a dialog), or stays NULL */
	int (*prepare)(json_t *req, char **blocked, struct err *);
	/* the argv for a restart that continues the conversation */
	json_t *(*resume)(json_t *argv, const char *runtime_session_id);
	/* at exit: the run's result as JSON (NULL: none), from its public
	 * spec ({"argv": [...]}) and its output.log */
	json_t *(*result)(const char *spec, const char *log);
};

extern const struct runtime runtime_claude, runtime_exec, runtime_fake;

const struct runtime *runtime_find(const char *name);
int runtime_argv(const char *name, json_t *req, json_t **out, struct err *);
const char *runtime_kind(const char *name);

#endif
