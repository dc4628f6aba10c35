/*
 * A session as the daemon holds it, and its state machine (DESIGN §3):
 * queued -> starting -> working <-> blocked <-> idle -> done | failed |
 * stopped | interrupted. Every change is persisted, appended to `events` and
 * pushed to subscribers.
 */
#ifndef SESSION_H
#define SESSION_H

#include <jansson.h>
#include <stdint.h>
#include <sys/types.h>

#include "galley.h"
#include "err.h"
#include "queue.h"
#include "state.h"
#include "store.h"

struct host_link;
struct session_spec;

struct usage_sum {
	long long input, output, cache_read, cache_write;
	double cost;
};

struct session {
	char id[GALLEY_ID_LEN + 1];
	enum session_state state;
	char *name, *kind, *runtime, *waiting_for, *reason, *prompt;
	char *cwd, *worktree, *branch, *grp, *executor, *model;
	char *runtime_session_id, *team, *workflow, *parent, *boot_id;
	char *job_id, *node;          /* a cluster's job (executor-slurm.c) */
	char *hook_token, *spec;      /* spec: argv etc. as JSON, never env */
	char *repo, *base, *base_ref; /* worktree sessions: main repo, base */
	char *result;   /* headless runs: the runtime's final result (JSON) */
	json_t *after;  /* ids it starts after (session-queue.c) */
	int priority;   /* higher starts first */
	json_t *policy; /* allow, deny, budget_usd, budget_tokens, sandbox */
	/* session-policy.c: a hold (budget or runaway) keeps the session
	 * blocked; hooks meanwhile only record the state they would set */
	int hold, pass; /* HOLD_*; pass: a reply let one turn through */
	enum session_state held_state;
	char *held_wait;
	char *repeat_key;    /* the last tool call, and how often in a row */
	int repeat_n, turns; /* turns: API replies since the last prompt */
	int64_t progress_at;
	int retry_seen; /* its screen showed an API retry (session-screen.c) */
	char *stop_reason; /* why galley stopped it, instead of the user */
	int queue_pos;     /* place in line while queued, from 1 */
	char *first_block; /* what it waits on at its first start */
	int pinned;
	long host_pid, pid;
	int has_exit, exit_code, exit_signal;
	int64_t created_at, updated_at, ended_at;
	struct usage_sum usage;
	char *transcript_path;
	/* the host could not keep its output (a full disk) */
	char *output_error;
	char *member; /* its name in its team, at creation (team.c links it) */
	char *merged_into; /* `galley merge` took its work there; cleared by new
	                      work */
	long long transcript_off;
	int recheck;       /* transcript re-reads still due (session-hook.c) */
	char *last_tool;   /* "Bash(rm -rf build)" from the latest PreToolUse */
	json_t *conflicts; /* [{"with": id|"base", "paths": [...]}] */
	json_t *children;  /* subagents, background tasks: id -> node
	                    * (session-children.c) */
	json_t *unread;    /* ids of ended subagents whose usage has not
	                    * landed in their transcript yet (not stored) */
	int changed_files; /* files changed against its base, plus 1: 0 is
	                    * "not known yet" (calloc) */

	/* encoded forms for ls, rebuilt after any change (session_touch) */
	char *json_text, *row_text;
	size_t json_len, row_len;

	struct host_link *link; /* executor-local.c's watch link */
	char *project; /* its repo's root, "" outside one (session-queue.c) */
	int stop_requested;
	int link_tries; /* reconnects to a live but silent host */
	int restart_pending;
	int64_t stop_deadline;
	TAILQ_ENTRY(session) entry;
};

/* Every session the daemon knows, in creation order (session.c). */
TAILQ_HEAD(session_list, session);
extern struct session_list session_table;
extern int session_count;
/* The daemon's store (session-store.c). */
extern struct store galley_db;

int session_load_all(struct err *);
void session_free(struct session *);
struct session *session_find_id(const char *id);
struct session *session_resolve(const char *ref, struct err *);
int session_name_taken(const char *name, struct session *except);
char *session_unique_name(const char *base);
int session_live(struct session *);
int session_terminal(struct session *);

/* Into the table (a new or loaded session), and out of it (removed:
 * observers told, then freed). */
void session_add(struct session *);
int session_is_agent(struct session *); /* not a job */
/* session_event, taking data's reference */
void session_event_take(struct session *, const char *kind, json_t *data);
void session_drop(struct session *);

void session_set_state(struct session *, enum session_state,
    const char *waiting_for, const char *reason);
int session_on_hook(struct session *, const char *event, json_t *payload,
    json_t *reply, struct err *);
void session_touch(struct session *); /* persist non-state fields */
void session_save_all(void);          /* every session again (a full disk) */

/* Observers of every session's changes (session.c): STATE after a state
 * change (old is the state it left), UPDATE after any other change
 * subscribers may show (pin, rename, pid, conflicts), CREATED once it is
 * in the table, REMOVED just before it is freed. */
enum session_change_kind {
	SESSION_CHANGE_STATE,
	SESSION_CHANGE_UPDATE,
	SESSION_CHANGE_CREATED,
	SESSION_CHANGE_REMOVED,
	/* its program ran a tool that may have changed files (a hook's
	 * PostToolUse of Edit, Write, Bash...): nothing stored or shown */
	SESSION_CHANGE_EDIT,
};
struct session_change {
	enum session_change_kind kind;
	int old; /* enum session_state before a STATE change */
	/* CREATED: what it was made from (the prompt, headless...) */
	const struct session_spec *spec;
};
typedef void session_observer_fn(
    struct session *, const struct session_change *, void *arg);
void session_observe(session_observer_fn *, void *arg);
void session_unobserve(session_observer_fn *, void *arg);
/* A change that is not stored (counts worked out): drop the cached
 * JSON and tell the observers. */
void session_notify(struct session *, enum session_change_kind);
/* Filters a `new` request's spec goes through before it is made (a team
 * member takes its lead's rules): -1 refuses it, with err set. */
typedef int session_spec_filter_fn(struct session_spec *, struct err *);
void session_spec_filter(session_spec_filter_fn *);
int session_spec_amend(struct session_spec *, struct err *);
/* CREATED, with the spec it was made from */
void session_notify_created(struct session *, const struct session_spec *);
/* The line may move although no session changed (a limit was raised, a
 * rate-limit hold ended): whoever keeps the line re-reads it. */
void session_on_line_moved(void (*fn)(void));
void session_line_moved(void);
void session_changed(struct session *, const char *kind, json_t *data);
void session_event(struct session *, const char *kind, json_t *data);
json_t *session_to_json(struct session *);
const char *session_json_text(struct session *, size_t *len);
const char *session_row_text(struct session *, size_t *len);
void session_uncache(struct session *);
char *session_dir(struct session *);
char *session_file(struct session *, const char *name); /* in its dir */

#endif
