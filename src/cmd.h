/*
 * The command table: one entry per verb, each in cmd-<verb>.c holding both
 * halves of it: .run (CLI: argv -> request, reply -> output) and .serve
 * (daemon: validated request -> action). Requests with no CLI verb (hello,
 * subscribe) live in server-client.c.
 */
#ifndef CMD_H
#define CMD_H

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>

#include "client.h"
#include "err.h"

struct server_client;
struct session;

struct cmd_ctx {
	int argc;
	char **argv; /* argv[0] is the verb */
	int json;
	struct client cl;
	struct err err;
	const struct cmd_entry *entry;
	/* every verb (main.c gives cmd_table): a verb that walks the table
	 * takes it from here, so no verb's file and the table's refer to
	 * each other */
	const struct cmd_entry *const *table;
	/* fields a verb that starts sessions through `new` adds to its
	 * request (cmd-team.c); NULL for none */
	json_t *extra;
};

struct cmd_entry {
	const char *name;
	const char *usage;         /* after "galley <name> " */
	const char *summary;       /* one line for `galley --help` */
	const char *help;          /* options, for `galley <name> --help` */
	void (*help_more)(FILE *); /* after help: what only runtime knows */
	int flags;
#define CMD_INTERNAL 0x1     /* hidden from help: host, hook, fake-agent */
#define CMD_NOJSON 0x2       /* takes no --json (attach, daemon run) */
#define CMD_FIND_SESSION 0x4 /* serve_session: "ref" resolved first */
	int (*run)(struct cmd_ctx *);
	/* daemon side; NULL for CLI-only verbs. Fill reply and return 0,
	 * or return -1 with err set, or 1 when it sent its reply itself. */
	int (*serve)(
	    struct server_client *, json_t *req, json_t *reply, struct err *);
	/* with CMD_FIND_SESSION, instead of serve: the request's "ref" is
	 * already resolved to s, and the reply gets s as JSON after it
	 * (server-dispatch.c) unless the verb put "session" there itself */
	int (*serve_session)(struct server_client *, struct session *s,
	    json_t *req, json_t *reply, struct err *);
};

extern const struct cmd_entry *const cmd_table[];

const struct cmd_entry *cmd_find(const char *name, struct err *);
/* cmd_find in a given table (cmd.c) */
const struct cmd_entry *cmd_lookup(
    const struct cmd_entry *const *table, const char *name, struct err *);
void cmd_print_usage(const struct cmd_entry *, FILE *);
void cmd_print_help(FILE *);

#define CMD_LONGOPTS_COMMON                                                    \
	{"json", no_argument, NULL, 'J'},                                      \
	{                                                                      \
		"help", no_argument, NULL, 'h'                                 \
	}
/* Handle --json, --help and option errors: -1 means go on parsing; anything
 * else is the exit code to return now. */
int cmd_opt_common(struct cmd_ctx *, int c);
int cmd_usage_error(struct cmd_ctx *, const char *fmt, ...) printflike(2, 3);

/* Print ctx->err as "galley: <message>" and return its exit code. */
int cmd_fail(struct cmd_ctx *);
/* For verbs that act on several sessions: print the error, clear it, and
 * return the worse of worst and its exit code (as kill and rm do). */
int cmd_report(struct cmd_ctx *, int worst);
/* A team request (cmd-team.c): the caller's directory, and inside a
 * member's session its id and hook token. */
json_t *cmd_team_request(
    const char *cmd, const char *op, const char *team, const char *as);
/* Connect (starting the daemon) and call; NULL + ctx->err on failure. */
json_t *cmd_call(struct cmd_ctx *, json_t *req);
/* Resolve an id, id prefix or name to a session object (caller owns). */
json_t *cmd_get_session(struct cmd_ctx *, const char *ref);
void cmd_print_json(json_t *);
void cmd_print_json_compact(json_t *);

/* Output helpers shared by verbs. */
void format_age(long long ms, char *out, size_t len);
const char *session_str(json_t *s, const char *key);
int session_is_live(json_t *s);
int state_is_terminal(const char *state);

/* Talk to a session's host through its executor (peek, send, attach);
 * cmd_executor is NULL, with ctx->err set, for an unknown executor. */
struct executor;
struct settings;
const struct executor *cmd_executor(struct cmd_ctx *, json_t *session);
int cmd_host_open(struct cmd_ctx *, json_t *session, struct proto_reader *);
json_t *cmd_host_call(
    struct cmd_ctx *, int fd, struct proto_reader *, json_t *req);
/* Shared by the verbs that start or wait for sessions. */
json_t *cmd_new_request(struct cmd_ctx *, const char *cwd);
int cmd_print_new(struct cmd_ctx *, json_t *reply);
int cmd_send_new(struct cmd_ctx *, json_t *req, int made_worktree);
int wait_reached(const char *want, const char *state);
/* Options every verb that starts a session takes (cmd-worktree-opt.c):
 * -n, -C, --pin, -w, --no-worktree, --base. use_wt is -1 until given. */
struct start_opts {
	const char *name, *cwd, *wt_name, *base_mode;
	int pin, use_wt;
	const char *group, *after, *priority; /* the queue (cmd-queue-opt.c) */
	const char *budget_usd, *budget_tokens, *sandbox; /* policy */
	/* where: --on, and the job's size on a cluster (cmd-executor-opt.c) */
	const char *on, *partition, *time, *cpus, *mem, *nodes;
};
#define START_OPTS_INIT                                                        \
	{                                                                      \
		NULL, NULL, NULL, NULL, 0, -1, NULL, NULL, NULL, NULL, NULL,   \
		    NULL, NULL, NULL, NULL, NULL, NULL, NULL                   \
	}
#define OPT_GROUP 0x101
#define OPT_AFTER 0x102
#define OPT_PRIORITY 0x103
#define OPT_BUDGET_USD 0x104
#define OPT_BUDGET_TOKENS 0x105
#define OPT_SANDBOX 0x106
#define OPT_ON 0x107
#define OPT_PARTITION 0x108
#define OPT_TIME 0x109
#define OPT_CPUS 0x10a
#define OPT_MEM 0x10b
#define OPT_NODES 0x10c
#define START_LONGOPTS                                                         \
	{"group", required_argument, NULL, OPT_GROUP},                         \
	    {"budget-usd", required_argument, NULL, OPT_BUDGET_USD},           \
	    {"budget-tokens", required_argument, NULL, OPT_BUDGET_TOKENS},     \
	    {"sandbox", required_argument, NULL, OPT_SANDBOX},                 \
	    {"on", required_argument, NULL, OPT_ON},                           \
	    {"partition", required_argument, NULL, OPT_PARTITION},             \
	    {"time", required_argument, NULL, OPT_TIME},                       \
	    {"cpus", required_argument, NULL, OPT_CPUS},                       \
	    {"mem", required_argument, NULL, OPT_MEM},                         \
	    {"nodes", required_argument, NULL, OPT_NODES},                     \
	    {"after", required_argument, NULL, OPT_AFTER},                     \
	    {"priority", required_argument, NULL, OPT_PRIORITY},               \
	    {"name", required_argument, NULL, 'n'},                            \
	    {"cwd", required_argument, NULL, 'C'},                             \
	    {"pin", no_argument, NULL, 'p'},                                   \
	    {"worktree", optional_argument, NULL, 'w'},                        \
	    {"no-worktree", no_argument, NULL, 'W'},                           \
	{                                                                      \
		"base", required_argument, NULL, 'B'                           \
	}
/* -1: handled, go on; 0: not one of these; else an exit code. */
int cmd_opt_start(struct cmd_ctx *, int c, struct start_opts *);

/* --group, --after, --priority and the limits from settings, into a
 * `new` request (cmd-queue-opt.c). */
int cmd_queue_request(struct cmd_ctx *, json_t *req, struct start_opts *);
/* --on and the job's size, into the request (cmd-executor-opt.c). */
int cmd_executor_request(
    struct cmd_ctx *, json_t *req, struct start_opts *, struct settings *);
#define EXECUTOR_HELP                                                            \
	"      --on E          where it runs: local, or slurm (a batch job on\n" \
	"                      the cluster; setting executor.default)\n"         \
	"      --partition P, --time T, --cpus N, --mem M, --nodes N\n"          \
	"                      the Slurm job's size (sbatch's -p -t -c --mem\n"  \
	"                      -N; settings executor.slurm.*)\n"
#define BUDGET_HELP                                                            \
	"      --budget-usd X  hold the session once it has cost X dollars\n"  \
	"                      (budget raise releases it; stopped at\n"        \
	"                      budget.hardCapPercent, 150%)\n"                 \
	"      --budget-tokens N  the same after N tokens\n"
#define QUEUE_HELP                                                              \
	"      --group G       its group: runs at most limits.group.G at a\n"   \
	"                      time (galley group set G --parallel N)\n"        \
	"      --after ID,...  start once these sessions ended done (one\n"     \
	"                      that fails fails this one)\n"                    \
	"      --priority N    place in the queue, -1000..1000 (higher\n"       \
	"                      first); at most limits.maxRunning run\n"         \
	"      --sandbox S     write (Landlock: writes only in its directory\n" \
	"                      and temp), net (bubblewrap: no network but\n"    \
	"                      its own loopback and, for claude, its API\n"     \
	"                      endpoint) or all; add ,best-effort to run\n"     \
	"                      where this machine lacks one\n"

/* -w/--worktree and --base (cmd-worktree-opt.c). */
void cmd_fold_worktree_arg(struct cmd_ctx *);
int cmd_worktree_prepare(struct cmd_ctx *, json_t *req, const char *name,
    const char *base_mode, const char *hint);
void cmd_worktree_undo(json_t *req);
/* Top the warm pool of main for base up to n, in the background. */
void cmd_pool_refill(const char *main, const char *base, int n);
/* For doctor (cmd-worktree.c): *out NULL outside a repository. */
int cmd_worktree_health(struct cmd_ctx *, const char *cwd, json_t **out);
/* The worktree safety rule for session removal (cmd-discard.c). */
int cmd_worktree_guard(struct cmd_ctx *, json_t *session, int force);
int cmd_worktree_drop(
    struct cmd_ctx *, json_t *session, int force, int *kept_branch);
/* After subscribe: wait until session id reaches want, or time out. */
int cmd_wait_one(
    struct cmd_ctx *, const char *id, const char *want, int timeout_ms);

#endif
