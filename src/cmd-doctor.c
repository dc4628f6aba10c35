/* galley doctor: check what galley needs (tools, sandboxes, directories,
 * socket, daemon, store) and say what to do about each failure. */
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include <uv.h>
#include <vterm.h>

#include "claude-config.h"
#include "cmd.h"
#include "sandbox.h"
#include "server.h"
#include "settings.h"
#include "session.h"
#include "store.h"
#include "strays.h"
#include "util.h"
#include "xmalloc.h"

struct check {
	json_t *list;
	int failed;
	int json;
};

static void
report(struct check *ck, const char *name, int ok, const char *detail,
    const char *fix)
{
	if (!ok && fix != NULL)
		ck->failed++;
	json_array_append_new(ck->list,
	    json_pack("{s:s, s:s, s:s, s:s?}", "check", name, "status",
	        ok        ? "ok"
	            : fix ? "fail"
	                  : "warn",
	        "detail", detail, "fix", ok ? NULL : fix));
	if (!ck->json)
		printf("%-5s %-12s %s%s%s\n",
		    ok        ? "ok"
		        : fix ? "FAIL"
		              : "warn",
		    name, detail, !ok && fix ? " — " : "",
		    !ok && fix ? fix : "");
}

static char *
tool_version(const char *cmd)
{
	char line[256] = "";
	FILE *p = popen(cmd, "r");

	if (p == NULL)
		return NULL;
	if (fgets(line, sizeof line, p) == NULL)
		line[0] = '\0';
	int rc = pclose(p);
	line[strcspn(line, "\n")] = '\0';
	return rc == 0 && line[0] ? xstrdup(line) : NULL;
}

/* claude on PATH, and the dialogs it would show in this directory before
 * its hooks load; --fix answers them (what claude.preAccept does at each
 * start), keeping every other key of ~/.claude.json. */
static void
check_claude(struct check *ck, int fix)
{
	extern char **environ;
	char *v = tool_version("claude --version 2>/dev/null"), *blocked;
	char detail[512], cwd[4096];
	struct err err = ERR_INIT;
	int fixed = 0;

	report(ck, "claude", v != NULL,
	    v ? v : "claude not found on PATH (optional: the claude runtime)",
	    NULL);
	if (v == NULL || getcwd(cwd, sizeof cwd) == NULL) {
		free(v);
		return;
	}
	free(v);
	json_t *env = json_array();
	for (char **e = environ; e && *e; e++) {
		json_t *s = json_string(*e);
		if (s)
			json_array_append_new(env, s);
	}
	if (claude_config_prepare(env, cwd, fix, &blocked, &fixed, &err) < 0)
		report(ck, "claude-setup", 0, err.msg.data,
		    "fix ~/.claude.json by hand");
	else if (blocked) {
		snprintf(detail, sizeof detail, "here: %s", blocked);
		report(ck, "claude-setup", 0, detail,
		    "'galley doctor --fix' answers it here; 'galley config set "
		    "claude.preAccept true' at every start");
	} else {
		snprintf(detail, sizeof detail,
		    fixed ? "dialogs answered in ~/.claude.json for %s"
		          : "no dialog would stall claude in %s",
		    cwd);
		report(ck, "claude-setup", 1, detail, NULL);
	}
	free(blocked);
	err_release(&err);
	json_decref(env);
}

/* What --sandbox can use here: optional, so a warning at worst. */
static json_t *
check_sandbox(struct check *ck)
{
	const char *why = NULL, *bwrap;
	char detail[512];
	int abi = sandbox_landlock_abi(&why);

	if (abi > 0)
		snprintf(detail, sizeof detail,
		    "ABI %d: --sandbox write confines writes", abi);
	else
		snprintf(detail, sizeof detail,
		    "%s: --sandbox write runs only with ,best-effort", why);
	report(ck, "landlock", abi > 0, detail, NULL);
	bwrap = sandbox_bwrap(&why);
	if (bwrap)
		snprintf(detail, sizeof detail,
		    "%s makes a network namespace: --sandbox net works", bwrap);
	else
		snprintf(detail, sizeof detail,
		    "%s: --sandbox net runs only with ,best-effort (install "
		    "bubblewrap)",
		    why);
	report(ck, "bubblewrap", bwrap != NULL, detail, NULL);
	return json_pack("{s:i, s:s?}", "landlock_abi", abi, "bwrap", bwrap);
}

#define DOCTOR_MIN_FREE (100ULL * 1024 * 1024)

/* The socket dir must be ours and 0700; the state dir writable, with
 * room. */
static unsigned long long du_sum;

static int
du_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	if (flag == FTW_F)
		du_sum += (unsigned long long)st->st_blocks * 512;
	return 0;
}

/* The disk the sessions' directories take (their logs, mostly). */
static unsigned long long
sessions_bytes(const char *state)
{
	char *dir;

	du_sum = 0;
	xasprintf(&dir, "%s/sessions", state);
	nftw(dir, du_one, 16, FTW_PHYS);
	free(dir);
	return du_sum;
}

static void
check_dirs(struct check *ck)
{
	char detail[512];
	struct stat st;

	const char *run = path_run_dir();
	if (stat(run, &st) != 0) {
		snprintf(detail, sizeof detail, "%s does not exist yet", run);
		report(ck, "socket-dir", 1, detail, NULL);
	} else {
		int ok = st.st_uid == getuid() && (st.st_mode & 077) == 0;
		snprintf(detail, sizeof detail, "%s mode %03o uid %ld", run,
		    st.st_mode & 0777, (long)st.st_uid);
		report(ck, "socket-dir", ok, detail,
		    "it must be yours and 0700: chmod 700 it");
	}
	const char *state = path_state_dir();
	if (mkdir_p(state, 0700, NULL) == 0 && access(state, W_OK) == 0)
		report(ck, "state-dir", 1, state, NULL);
	else {
		snprintf(detail, sizeof detail, "%s is not writable: %s", state,
		    strerror(errno));
		report(ck, "state-dir", 0, detail,
		    "fix its permissions or set GALLEY_HOME");
	}
	/* every session's log, screen and the store live there: a full
	 * disk is lost output (issue 14) */
	struct statvfs vfs;
	if (statvfs(state, &vfs) == 0) {
		unsigned long long avail =
		    (unsigned long long)vfs.f_bavail * vfs.f_frsize;
		snprintf(detail, sizeof detail,
		    "%.1f MiB free under %s; sessions use %.1f MiB "
		    "(logs.maxBytes bounds each log)",
		    (double)avail / (1024 * 1024), state,
		    (double)sessions_bytes(state) / (1024 * 1024));
		report(ck, "disk", avail >= DOCTOR_MIN_FREE, detail,
		    "free some space there, or set GALLEY_HOME on a disk "
		    "with room: output that cannot be written is lost");
	}
}

/* The daemon, its store, its hosts, and the worktrees of this repo. */
static void
check_daemon(struct cmd_ctx *ctx, struct check *ck)
{
	char detail[512];

	json_t *reply = NULL;
	if (client_connect(&ctx->cl, 1, &ctx->err) == 0)
		reply = client_call(
		    &ctx->cl, json_pack("{s:s}", "cmd", "doctor"), &ctx->err);
	if (reply == NULL) {
		report(ck, "daemon", 0, ctx->err.msg.data,
		    "see daemon.log in the state dir");
	} else {
		snprintf(detail, sizeof detail,
		    "pid %lld, protocol %lld, %lld "
		    "sessions",
		    json_integer_value(json_object_get(reply, "pid")),
		    json_integer_value(json_object_get(reply, "protocol")),
		    json_integer_value(json_object_get(reply, "sessions")));
		report(ck, "daemon", 1, detail, NULL);
		const char *integrity = session_str(reply, "integrity");
		snprintf(detail, sizeof detail, "schema %lld, integrity %s",
		    json_integer_value(
		        json_object_get(reply, "schema_version")),
		    integrity);
		report(ck, "store", strcmp(integrity, "ok") == 0, detail,
		    "back up galley.db and remove it; sessions keep running");
		const char *serr = session_str(reply, "store_error");
		if (*serr)
			report(ck, "store-write", 0, serr,
			    "free space under the state dir: until then "
			    "changes are kept in memory only");
		json_int_t lost = json_integer_value(
		    json_object_get(reply, "unreachable_hosts"));
		snprintf(detail, sizeof detail,
		    "%lld live sessions, %lld "
		    "unreachable",
		    json_integer_value(json_object_get(reply, "live")),
		    (long long)lost);
		report(ck, "hosts", lost == 0, detail,
		    "run 'galley ls' and 'galley restart' the failed ones");
		json_decref(reply);
		char cwd[4096];
		json_t *h = NULL;
		if (getcwd(cwd, sizeof cwd) &&
		    cmd_worktree_health(ctx, cwd, &h) == 0 && h != NULL) {
			json_int_t stale =
			    json_integer_value(json_object_get(h, "stale"));
			json_int_t orph = json_integer_value(
			    json_object_get(h, "locked_without_session"));
			snprintf(detail, sizeof detail,
			    "%lld in %s, %lld stale, %lld locked for no running "
			    "session, %.1f MB",
			    json_integer_value(json_object_get(h, "worktrees")),
			    session_str(h, "repo"), (long long)stale,
			    (long long)orph,
			    (double)json_integer_value(
			        json_object_get(h, "bytes")) /
			        1e6);
			report(ck, "worktrees", stale == 0 && orph == 0, detail,
			    "run 'galley worktree gc' (and 'git worktree "
			    "unlock' for a lock left behind)");
			json_decref(h);
		}
	}
}

/* The Slurm executor's tools and shared directory: a failure only where
 * Slurm is asked for (executor.default), else what is missing, said. */
static void
check_slurm(struct check *ck)
{
	struct settings set;
	const char *dflt = NULL, *shared = NULL;
	char detail[2 * PATH_MAX + 100], real[PATH_MAX], top[PATH_MAX];
	int want, loaded = settings_load(&set, ".", NULL) == 0;

	if (loaded) {
		dflt = settings_get_str(&set, "executor.default");
		shared = settings_get_str(&set, "executor.slurm.sharedDir");
	}
	want = dflt && strcmp(dflt, "slurm") == 0;
	char *sb = tool_version("sbatch --version 2>/dev/null");
	char *sq = tool_version("squeue --version 2>/dev/null");
	if (sb == NULL || sq == NULL) {
		report(ck, "slurm", 0,
		    "sbatch or squeue not on PATH (needed for --on slurm)",
		    want ? "install slurm-client, or set executor.default "
		           "to local"
		         : NULL);
		goto out;
	}
	char *ping = tool_version("timeout 30 scontrol ping 2>&1");
	int up = ping && strstr(ping, "is UP") != NULL;
	snprintf(detail, sizeof detail, "%s; %s", sb,
	    ping ? ping : "scontrol ping: no answer");
	report(ck, "slurm", up, detail,
	    want ? "start slurmctld, or check SLURM_CONF" : NULL);
	free(ping);
	const char *state = path_state_dir();
	if (shared == NULL || *shared == '\0')
		snprintf(detail, sizeof detail,
		    "executor.slurm.sharedDir not set: the nodes must see %s",
		    state);
	else if (realpath(shared, top) == NULL)
		snprintf(detail, sizeof detail, "%s does not exist", shared);
	else if (realpath(state, real) == NULL ||
	    strncmp(real, top, strlen(top)) != 0)
		snprintf(detail, sizeof detail,
		    "galley's state %s is not under %s", state, top);
	else {
		snprintf(detail, sizeof detail, "%s holds galley's state", top);
		report(ck, "slurm dir", 1, detail, NULL);
		goto out;
	}
	report(ck, "slurm dir", 0, detail,
	    shared && *shared ? "set GALLEY_HOME under executor.slurm.sharedDir"
	                      : NULL);
out:
	free(sb);
	free(sq);
	if (loaded)
		settings_release(&set);
}

/* Processes left running by sessions that ended (a background task of
 * an agent that exited): found by their GALLEY_SESSION (strays.c); --fix
 * stops them. */
static void
check_orphans(struct cmd_ctx *ctx, struct check *ck, int fix)
{
	json_t *reply = cmd_call(
	           ctx, json_pack("{s:s, s:b}", "cmd", "ls", "all", 1)),
	       *s;
	struct buf d = BUF_INIT;
	int total = 0, killed = 0;
	size_t i;

	if (reply == NULL) {
		err_release(&ctx->err);
		return;
	}
	json_t *by = strays_by_session(); /* one look at every process */
	json_array_foreach(json_object_get(reply, "sessions"), i, s)
	{
		if (!state_is_terminal(session_str(s, "state")))
			continue;
		int n = (int)json_integer_value(
		    json_object_get(by, session_str(s, "id")));
		if (n == 0)
			continue;
		buf_addf(&d, "%s%s (%s): %d process%s", total ? "; " : "",
		    session_str(s, "name"), session_str(s, "id"), n,
		    n == 1 ? "" : "es");
		total += n;
		if (fix)
			killed += strays_kill(session_str(s, "id"), NULL, 0);
	}
	json_decref(by);
	json_decref(reply);
	if (total == 0)
		report(ck, "orphans", 1,
		    "no process left running by an ended session", NULL);
	else if (fix) {
		buf_addf(&d, ": stopped %d", killed);
		report(ck, "orphans", 1, d.data, NULL);
	} else
		report(ck, "orphans", 0, d.data, NULL);
	if (total && !fix && !ck->json)
		printf("      run 'galley doctor --fix' to stop them\n");
	buf_release(&d);
}

static int
doctor_run(struct cmd_ctx *ctx)
{
	static const struct option opts[] = {{"fix", no_argument, NULL, 'F'},
	    CMD_LONGOPTS_COMMON, {NULL, 0, NULL, 0}};
	struct check ck = {json_array(), 0, 0};
	char *v, detail[512];
	int c, rc, fix = 0;

	while ((c = getopt_long(ctx->argc, ctx->argv, ":h", opts, NULL)) != -1)
		if (c == 'F')
			fix = 1;
		else if ((rc = cmd_opt_common(ctx, c)) >= 0) {
			json_decref(ck.list);
			return rc;
		}
	ck.json = ctx->json;
	if (optind < ctx->argc) {
		json_decref(ck.list);
		return cmd_usage_error(
		    ctx, "unexpected argument '%s'", ctx->argv[optind]);
	}

	snprintf(detail, sizeof detail,
	    "galley %s, libuv %s, libvterm, "
	    "jansson %s",
	    GALLEY_VERSION, uv_version_string(), JANSSON_VERSION);
	report(&ck, "build", 1, detail, NULL);
	v = tool_version("git --version 2>/dev/null");
	report(&ck, "git", v != NULL, v ? v : "git not found on PATH",
	    "install git (make deps)");
	free(v);
	v = tool_version("tmux -V 2>/dev/null");
	report(
	    &ck, "tmux", v != NULL, v ? v : "tmux not found (optional)", NULL);
	free(v);

	check_claude(&ck, fix);
	json_t *sandbox = check_sandbox(&ck);
	check_dirs(&ck);
	check_slurm(&ck);
	check_daemon(ctx, &ck);
	check_orphans(ctx, &ck, fix);
	if (ctx->json) {
		json_t *o = json_pack("{s:b, s:O, s:O}", "ok", ck.failed == 0,
		    "checks", ck.list, "sandbox", sandbox);
		cmd_print_json(o);
		json_decref(o);
	}
	json_decref(sandbox);
	json_decref(ck.list);
	return ck.failed ? EXIT_FAILED : 0;
}

static int
doctor_serve(
    struct server_client *c, json_t *req, json_t *reply, struct err *err)
{
	sqlite3_stmt *st = store_stmt(&galley_db, "PRAGMA quick_check");
	const char *res = "unknown";
	struct session *s;
	int live = 0, lost = 0;

	if (st && sqlite3_step(st) == SQLITE_ROW)
		res = (const char *)sqlite3_column_text(st, 0);
	json_object_set_new(reply, "integrity", json_string(res ? res : "?"));
	if (store_last_error())
		json_object_set_new(
		    reply, "store_error", json_string(store_last_error()));
	if (st)
		sqlite3_reset(st);
	TAILQ_FOREACH(s, &session_table, entry) {
		if (!session_live(s))
			continue;
		live++;
		if (!pid_alive((pid_t)s->host_pid))
			lost++;
	}
	json_object_set_new(reply, "pid", json_integer(getpid()));
	json_object_set_new(reply, "protocol", json_integer(1));
	json_object_set_new(reply, "sessions", json_integer(session_count));
	json_object_set_new(reply, "live", json_integer(live));
	json_object_set_new(reply, "unreachable_hosts", json_integer(lost));
	json_object_set_new(
	    reply, "schema_version", json_integer(store_version(&galley_db)));
	return 0;
}

const struct cmd_entry cmd_doctor_entry = {
    .name = "doctor",
    .usage = "[--fix]",
    .summary =
        "check dependencies, sandboxes, socket, daemon, store and claude",
    .help = "      --fix           answer claude's start-up dialogs (trust,\n"
            "                      API key, onboarding) for this directory\n",
    .run = doctor_run,
    .serve = doctor_serve,
};
