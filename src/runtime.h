/* Runtime drivers (DESIGN §6): how a session's command line is built and
 * what kind of session it is. NULL members mean "not supported". */
#ifndef RUNTIME_H
#define RUNTIME_H

#include <jansson.h>

#include "err.h"

struct session_spec;
struct settings;

/* A dialog a runtime may show before its hooks speak, and what it means. */
struct runtime_dialog {
	const char *pattern, *what;
	int with_cwd; /* what is followed by the session's directory */
};

struct runtime {
	const char *name;
	const char *kind;     /* "agent" or "job" */
	const char *provider; /* whose API rate limits hold it; NULL: none */
	/* its screen is read while its hooks are silent (session-screen.c):
	 * the dialogs it knows, and whether the screen shows an API retry */
	const struct runtime_dialog *dialogs;
	int (*retrying)(const char *screen);
	/* what it must write to keep working, under --sandbox write: paths
	 * appended to list (dir: the session's, env: its environment) */
	void (*sandbox_paths)(json_t *list, const char *dir, json_t *env);
	/* the environment variable naming its API endpoint, for --sandbox
	 * net's relay; NULL: it talks to no API */
	const char *api_env;
	/* CLI side, for `new`: what the caller's flags and settings add to
	 * the request (NULL: nothing) */
	int (*request)(struct settings *, json_t *req, const char *effort,
	    const char *permission_mode, struct err *);
	int named_agents; /* runs named agents itself (--agents, --agent) */
	int interactive;  /* starts with no prompt, for a person to type in */
	/* connects its MCP servers while its first turn already runs: a
	 * team member's first prompt is held back from its command line and
	 * typed once galley's server is up (team-msg.c) */
	int late_tools;
	const char *api_default;
	/* the command line; *session_id is the conversation's id when the
	 * driver makes one (caller frees) */
	int (*argv)(const struct session_spec *, json_t **out,
	    char **session_id, struct err *);
	/* before the first spawn: *blocked names what the session will wait
	 * on before its hooks can speak (a dialog), or stays NULL */
	int (*prepare)(
	    const struct session_spec *, char **blocked, struct err *);
	/* the argv for a restart that continues the conversation */
	json_t *(*resume)(json_t *argv, const char *runtime_session_id);
	/* at exit: the run's result as JSON (NULL: none), from its public
	 * spec ({"argv": [...]}) and its output.log */
	json_t *(*result)(const char *spec, const char *log);
};

extern const struct runtime runtime_claude, runtime_exec, runtime_fake;

const struct runtime *runtime_find(const char *name);
/* The error for a runtime this build does not have. */
int runtime_unknown(const char *name, struct err *);
const char *runtime_kind(const char *name);
/* The last {"type":"result",...} line in the tail of an output.log: how a
 * headless run (claude -p, fake --print) ends. NULL: none. */
json_t *runtime_result_line(const char *log);

#endif
