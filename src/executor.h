/*
 * Executors: where a session's process runs and how the daemon and the CLI
 * reach it (DESIGN §2). The local executor (executor-local.c) runs each
 * session under its own `galley host` process on this machine; a cluster
 * executor is one more row in executor.c's table. The session layer
 * decides what an exit or a lost host means; an executor only runs,
 * signals and watches, and reports through the sink the session layer
 * registered.
 */
#ifndef EXECUTOR_H
#define EXECUTOR_H

#include <jansson.h>

#include "buf.h"
#include "err.h"
#include "proto.h"
#include "state.h"

struct session;

enum executor_lost {
	EXECUTOR_LOST,        /* the host vanished without an exit record */
	EXECUTOR_LOST_REBOOT, /* ... because the machine rebooted */
};

/* What an executor tells the session layer. */
struct executor_sink {
	/* the process runs (pid > 0 is news), or still runs */
	void (*status)(struct session *, long pid);
	void (*exited)(struct session *, int code, int sig);
	void (*lost)(struct session *, enum executor_lost);
	/* it ended in a way the executor knows better than an exit status
	 * says (a cluster cancelled it, its time ran out, its node died):
	 * the state and why; code < 0 when no exit status is known */
	void (*ended)(struct session *, int code, int sig, enum session_state,
	    const char *reason);
	/* the answer to peek */
	void (*screen)(struct session *, const char *screen);
	/* its output could not all be kept (a full disk): why, and from
	 * which byte; said once per session, again after a daemon restart */
	void (*output_lost)(struct session *, const char *why);
};

struct executor {
	const char *name;
	void (*init)(const struct executor_sink *);

	/* daemon side */
	/* run it and watch it (s->host_pid, s->boot_id are set) */
	int (*start)(struct session *, struct err *);
	/* SIGTERM, then SIGKILL after grace_ms */
	int (*stop)(struct session *, int grace_ms, struct err *);
	/* the host is gone: make sure nothing of the session runs on */
	void (*orphan)(struct session *);
	/* after a daemon restart: watch again, or report what happened */
	void (*adopt)(struct session *);
	/* ask for the screen (sink->screen answers); -1 if unreachable */
	int (*peek)(struct session *);
	/* type text and Enter into it (a team's message); -1 if unreachable */
	int (*input)(struct session *, const char *text);
	/* rm --force: kill everything at once; done(arg) runs once nothing
	 * of the session can write its files any more. Never waits. */
	void (*kill)(struct session *, void (*done)(void *), void *arg);
	/* stop watching it (it ended, or the daemon lets go) */
	void (*detach)(struct session *);
	/* the daemon is stopping: let go of everything, sessions live on */
	void (*shutdown)(void);

	/* client side, from the session's JSON object */
	/* a connection to the session's host (attach, peek, send) */
	int (*connect)(json_t *session, struct proto_reader *, struct err *);
	/* where the CLI reads one of the session's files: output.log,
	 * screen.txt, exit (caller frees) */
	char *(*file)(json_t *session, const char *name);
};

extern const struct executor executor_local;
extern const struct executor executor_slurm;

/* By name ("local" when NULL); NULL for an unknown one. */
const struct executor *executor_find(const char *name);
/* Give every executor the sink (once, at daemon start). */
void executor_init(const struct executor_sink *);
/* The daemon stops: every executor lets go. */
void executor_shutdown(void);

#endif
