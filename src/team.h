/* Teams (issue 15), daemon side: a lead and members that are ordinary
 * sessions, a task list, mailboxes, and the gates on members' tool calls
 * (plan approval, file ownership). The store holds all of it (migration
 * 6); team.c the model and its observers, team-task.c the task list,
 * team-msg.c the mailboxes. The verbs (cmd-team.c, cmd-task.c,
 * cmd-msg.c) call in here. */
#ifndef TEAM_H
#define TEAM_H

#include <jansson.h>

#include "err.h"

struct session;

/* Who asks, and in which team: a member (its session proved by its hook
 * token), or the user, who may act --as a member. */
struct team_actor {
	char team[16];   /* the team's id */
	char name[72];   /* the team's name */
	char member[72]; /* a member's name, "user" for the user */
	int is_user;
	struct session *s; /* the member's session, if it asked */
};

/* team-store.c: what the parts share */
struct sqlite3_stmt;
/* One statement with text args (NULL binds NULL) and, if num >= 0, a
 * number after them; a constraint is ERR_EXISTS. */
int team_exec(const char *sql, const char *const *args, size_t n, long long num,
    struct err *);

/* Observers and the tool gate (server.c, at start). */
void team_init(void);
/* team-inherit.c: a member's spec takes its lead's rules */
struct session_spec;
int team_inherit(struct session_spec *, struct err *);

/* The member session sid is (0: none), with its team. */
int team_member_of(const char *sid, struct team_actor *);
/* The team a request means: "team" by name in the repo of "cwd", or the
 * asking member's own; "as" for the user. */
int team_actor(json_t *req, struct team_actor *, struct err *);
/* A team's member names and sessions, tasks, messages waiting, cost. */
json_t *team_status_json(const char *team_id);
int team_member_session(
    const char *team_id, const char *member, char *out, size_t size);
/* The team's event (team.task_created, ...): in the event log of the
 * actor's session (the lead's for the user), and to subscribers. */
void team_event(const struct team_actor *, const char *kind, json_t *data);
/* To subscribers: {"event":"team.changed","team":NAME}: its tasks or
 * messages moved (the view's rows show them). */
void team_changed(const char *team_id);

/* team-msg.c: mailboxes. to: a member, "lead", "user" or "team" (all but
 * the sender). Delivered into the recipient's terminal when it is idle. */
int team_msg_send(const char *team_id, const char *from, const char *to,
    const char *text, struct err *);
void team_msg_deliver(const char *team_id, const char *member);
/* A member's first prompt, held back from its command line (runtime
 * late_tools): typed once its MCP server said it is up (team_msg_ready),
 * or BRIEF_WAIT_MS after the member was made, before any message. */
void team_msg_brief(
    const char *team_id, const char *member, const char *sid, const char *text);
/* Its process starts (out of the line, or restarted): a held brief waits
 * for the new process's tools. */
void team_msg_started(const char *team_id, const char *member, const char *sid);
void team_msg_ready(const char *team_id, const char *member, const char *sid);
json_t *team_msg_list(const char *team_id, const char *member);
int team_msg_waiting(const char *team_id);

/* team-admin.c: the `team` verb's requests */
int team_admin_serve(json_t *req, json_t *reply, struct err *);

/* team-task.c: the task list. */
int team_task_serve(const struct team_actor *, const char *op, json_t *req,
    json_t *reply, struct err *);
json_t *team_task_list(const char *team_id);
json_t *team_board(void);

#endif
