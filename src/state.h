/*
 * A session's states (DESIGN §3), one table shared by the daemon and the
 * CLI: queued -> starting -> working <-> blocked <-> idle -> done | failed |
 * stopped | interrupted. On the wire and in the store a state is its name.
 */
#ifndef STATE_H
#define STATE_H

enum session_state {
	SESSION_QUEUED,
	SESSION_STARTING,
	SESSION_WORKING,
	SESSION_BLOCKED,
	SESSION_IDLE,
	SESSION_DONE,
	SESSION_FAILED,
	SESSION_STOPPED,
	SESSION_INTERRUPTED,
	SESSION_UNKNOWN, /* its executor cannot tell (a cluster's controller
	                  * does not answer): as it was, once it can */
	SESSION_NSTATES
};

struct state_info {
	const char *name;
	unsigned live : 1;      /* has a process (or is starting one) */
	unsigned terminal : 1;  /* ended: only a restart leaves it */
	unsigned active : 1;    /* starting or working: busy, not waiting */
	unsigned attention : 1; /* blocked or idle: waits for the user */
};

extern const struct state_info state_table[SESSION_NSTATES];

const char *state_name(enum session_state);
/* -1 for a name that is not a state. */
int state_from_name(const char *name);
/* The same questions of a state's name, for the CLI: an unknown name is
 * neither live nor terminal. */
int state_name_live(const char *name);
int state_name_terminal(const char *name);
int state_name_is(const char *name, enum session_state);

#endif
