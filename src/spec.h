/*
 * A session's spec: everything a `new` or `exec` request asks for, typed
 * and checked once (spec_from_json), so the daemon never reads the request
 * again. Code inside the daemon (teams, workflows) builds one in C, runs
 * spec_check on it, and hands it to session_create. Strings are owned
 * (spec_release frees them); NULL means not given.
 */
#ifndef SPEC_H
#define SPEC_H

#include <jansson.h>
#include <stddef.h>

#include "err.h"

/* A list of strings (argv, env, tool rules): v[n] is NULL. */
struct strv {
	char **v;
	size_t n;
};

struct session_spec {
	/* what runs */
	char *runtime;    /* claude, fake, exec (default) */
	char *prompt;     /* an agent's first prompt */
	struct strv argv; /* exec: the command */
	struct strv args; /* more arguments for the runtime */
	char *model, *effort, *permission_mode, *agent;
	json_t *agents;           /* claude --agents: an object, passed on */
	int headless;             /* claude -p */
	int pre_accept;           /* answer claude's start-up dialogs */
	char *claude_path;        /* claude.path */
	char *runtime_session_id; /* the conversation to continue */

	/* where */
	char *cwd;       /* absolute, required */
	struct strv env; /* KEY=VALUE */
	int rows, cols, scrollback;
	char *worktree, *branch, *repo, *base, *base_ref; /* absolute paths */

	/* who it is, and its place in line */
	char *name;
	char *team, *member; /* a team member: the team's id, its name there */
	char *parent;        /* the session that started it (a team's lead) */
	int pin;
	char *group;
	int priority;
	struct strv after; /* session references */

	/* the rules it keeps */
	struct strv allow, deny, agent_tools;
	double budget_usd;       /* 0: none */
	long long budget_tokens; /* 0: none */
	json_t *sandbox;         /* {"write":b,"net":b,"best_effort":b} */
	/* under --sandbox write, what it may write instead of its whole
	 * directory: globs from it (a team member's own); set inside the
	 * daemon only, never from a request */
	struct strv write_only;
	char *workflow; /* the run it is an agent of (daemon only) */

	/* where it runs: "local" (default) or "slurm", and the job's size
	 * there: {"partition","time","mem": strings, "cpus","nodes": ints} */
	char *executor;
	json_t *slurm;
};

/* Defaults: runtime exec, 80x24, 2000 lines of scrollback. */
void spec_init(struct session_spec *);
void spec_release(struct session_spec *);
/* Decode a request: every field by its type and limits; a wrong one is a
 * one-line ERR_USAGE naming it. Unknown fields are ignored. On failure
 * the spec is released. */
int spec_from_json(json_t *req, struct session_spec *, struct err *);
/* The same limits, for a spec built in C. */
int spec_check(const struct session_spec *, struct err *);

/* The value of KEY in the spec's environment, or NULL. */
const char *spec_env(const struct session_spec *, const char *key);

void strv_add(struct strv *, const char *);
void strv_release(struct strv *);
json_t *strv_to_json(const struct strv *);

#endif
