/*
 * The Slurm executor: a session is a batch job whose script execs
 * `galley host --remote ID` on the node. That host is the local one
 * (host.c): it owns the PTY, the screen and output.log, writes the exit
 * file, and serves attach, peek and send on host.sock in the session dir,
 * which the daemon and the node share (docs/design-notes.md, Slurm).
 *
 * The daemon never waits on Slurm (slurm-cmd.c): sbatch at start, ONE
 * `squeue -j id1,id2,...` per tick for every job it watches
 * (slurm-poll.c reads the answer), scancel to stop. A job's state maps
 * onto the session's: PENDING is queued with Slurm's reason, RUNNING is
 * what the host and the runtime's hooks say, and the end is the host's
 * exit status unless Slurm knows better (cancelled outside galley, a
 * time limit, a lost node). Job ids are in the store: a restarted daemon
 * polls them again and links to the hosts that still run.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "executor-slurm.h"
#include "host-link.h"
#include "log.h"
#include "session.h"
#include "settings-cache.h"
#include "slurm-cmd.h"
#include "util.h"
#include "xmalloc.h"

const struct executor_sink *slurm_sink;
struct sjob_list slurm_jobs = TAILQ_HEAD_INITIALIZER(slurm_jobs);
size_t slurm_jobs_n;

struct sjob *
sjob_find(struct session *s)
{
	struct sjob *j;

	TAILQ_FOREACH(j, &slurm_jobs, entry)
		if (j->s == s)
			return j;
	return NULL;
}

static struct sjob *
sjob_get(struct session *s)
{
	struct sjob *j = sjob_find(s);

	if (j == NULL) {
		j = xcalloc(1, sizeof *j);
		j->s = s;
		TAILQ_INSERT_TAIL(&slurm_jobs, j, entry);
		slurm_jobs_n++;
	}
	return j;
}

static void
grace_closed(uv_handle_t *h)
{
	free(h);
}

static void
sjob_free(struct sjob *j)
{
	TAILQ_REMOVE(&slurm_jobs, j, entry);
	slurm_jobs_n--;
	if (j->grace)
		uv_close((uv_handle_t *)j->grace, grace_closed);
	free(j->saved_wait);
	free(j);
}

/* scancel [args] ID, answered by nobody: what it did shows in the poll. */
static void
scancel(
    const char *a1, const char *a2, const char *id, slurm_cmd_cb *cb, void *arg)
{
	const char *argv[5];
	struct err err = ERR_INIT;
	int n = 0;

	argv[n++] = "scancel";
	if (a1)
		argv[n++] = a1;
	if (a2)
		argv[n++] = a2;
	argv[n++] = id;
	argv[n] = NULL;
	if (slurm_cmd_run(argv, SLURM_CMD_TIMEOUT_MS, cb, arg, &err) < 0) {
		log_warn("job %s: %s", id, err.msg.data);
		if (cb)
			cb(arg, "", err.msg.data, 1);
	}
	err_release(&err);
}

/* ---- the host's link ----------------------------------------------------- */

/* The host's exit is held until Slurm's verdict (the next poll, at
 * once): a job the time limit ended exits on a signal, and only Slurm
 * says it was the time limit. */
static void
hold_exit(struct session *s, int code, int sig)
{
	struct sjob *j = sjob_find(s);

	if (j == NULL)
		return;
	j->have_exit = 1;
	j->code = code;
	j->sig = sig;
	slurm_poll_soon();
}

static void
link_status(struct session *s, json_t *ev)
{
	if (!json_is_true(json_object_get(ev, "exited"))) {
		host_link_status(s, ev);
		return;
	}
	const char *lost = json_string_value(json_object_get(ev, "log_error"));
	if (lost)
		slurm_sink->output_lost(s, lost);
	hold_exit(s, (int)json_integer_value(json_object_get(ev, "code")),
	    (int)json_integer_value(json_object_get(ev, "signal")));
}

/* The link closed: the host ended (its exit file says how), or cannot be
 * reached now; the poll links again while Slurm says it runs. */
static void
link_gone(struct session *s)
{
	int code, sig;

	if (host_exit_file(s, &code, &sig) == 0)
		hold_exit(s, code, sig);
}

static const struct host_link_cb slurm_link_cb = {
    .gone = link_gone,
    .status = link_status,
};

void
slurm_link(struct session *s)
{
	char *sock;

	if (s->link)
		return;
	sock = session_file(s, "host.sock");
	if (access(sock, F_OK) == 0) /* the host listens */
		host_link_open(s, &slurm_link_cb);
	free(sock);
}

/* ---- submit -------------------------------------------------------------- */

static void
submitted(void *arg, const char *out, const char *errtext, int timedout)
{
	char *sid = arg, id[32];
	struct session *s = session_find_id(sid);
	struct sjob *j = s ? sjob_find(s) : NULL;
	size_t n = strspn(out, "0123456789");

	free(sid);
	if (n > 0 && n < sizeof id)
		snprintf(id, sizeof id, "%.*s", (int)n, out);
	else
		id[0] = '\0';
	if (j == NULL) { /* removed meanwhile: nothing of it may run */
		if (id[0])
			scancel(NULL, NULL, id, NULL, NULL);
		return;
	}
	j->submitting = 0;
	if (id[0] == '\0') {
		char why[300];
		snprintf(why, sizeof why, "sbatch: %.*s",
		    (int)strcspn(errtext, "\n"),
		    *errtext ? errtext : "no job id in its answer");
		store_begin(&galley_db);
		slurm_sink->ended(s, -1, 0, SESSION_FAILED, why);
		store_commit(&galley_db);
		return;
	}
	store_begin(&galley_db);
	free(s->job_id);
	s->job_id = xstrdup(id);
	session_touch(s);
	session_notify(s, SESSION_CHANGE_UPDATE);
	store_commit(&galley_db);
	if (j->cancel_wanted)
		scancel(NULL, NULL, id, NULL, NULL);
	slurm_poll_soon();
}

/* The directory the nodes share with this machine: a session whose files
 * or tree are elsewhere could not run there. */
static int
check_shared(
    struct session *s, const char *dir, struct settings *set, struct err *err)
{
	const char *shared = settings_get_str(set, "executor.slurm.sharedDir");
	const char *paths[] = {dir, s->worktree ? s->worktree : s->cwd};
	char real[PATH_MAX], top[PATH_MAX];

	if (shared == NULL || *shared == '\0')
		return 0;
	if (realpath(shared, top) == NULL)
		return err_set(err, ERR_FAILED,
		    "executor.slurm.sharedDir '%s' does not exist here",
		    shared);
	for (int i = 0; i < 2; i++) {
		size_t n = strlen(top);
		if (realpath(paths[i], real) == NULL ||
		    strncmp(real, top, n) != 0 ||
		    (real[n] != '/' && real[n] != '\0'))
			return err_set(err, ERR_FAILED,
			    "%s is not under executor.slurm.sharedDir %s: "
			    "the nodes could not reach it",
			    paths[i], top);
	}
	return 0;
}

/* sbatch's options from the request (spec.json's "slurm") and the
 * project's settings; the script last. */
static void
sbatch_argv(struct session *s, json_t *opt, struct settings *set,
    const char *dir, const char *script, const char **argv, int max, char **own)
{
	const char *part = json_string_value(json_object_get(opt, "partition"));
	const char *acct = settings_get_str(set, "executor.slurm.account");
	json_t *extra = settings_get(set, "executor.slurm.sbatchArgs"), *e;
	int n = 0, o = 0;
	size_t i;

	if (part == NULL)
		part = settings_get_str(set, "executor.slurm.partition");
	argv[n++] = "sbatch";
	argv[n++] = "--parsable";
	argv[n++] = "--no-requeue"; /* an agent never runs twice unasked */
	xasprintf(&own[o], "--job-name=galley-%s", s->id);
	argv[n++] = own[o++];
	xasprintf(&own[o], "--comment=galley:%s", s->id);
	argv[n++] = own[o++];
	xasprintf(&own[o], "--chdir=%s", dir);
	argv[n++] = own[o++];
	xasprintf(&own[o], "--output=%s/slurm.log", dir);
	argv[n++] = own[o++];
	argv[n++] = "--open-mode=append";
	xasprintf(&own[o], "--cpus-per-task=%lld",
	    json_is_integer(json_object_get(opt, "cpus"))
	        ? (long long)json_integer_value(json_object_get(opt, "cpus"))
	        : 1LL);
	argv[n++] = own[o++];
	static const char *const flags[][2] = {
	    {"time", "--time="}, {"mem", "--mem="}};
	for (size_t k = 0; k < 2; k++) {
		const char *v =
		    json_string_value(json_object_get(opt, flags[k][0]));
		if (v) {
			xasprintf(&own[o], "%s%s", flags[k][1], v);
			argv[n++] = own[o++];
		}
	}
	if (json_is_integer(json_object_get(opt, "nodes"))) {
		xasprintf(&own[o], "--nodes=%lld",
		    (long long)json_integer_value(
		        json_object_get(opt, "nodes")));
		argv[n++] = own[o++];
	}
	if (part && *part) {
		xasprintf(&own[o], "--partition=%s", part);
		argv[n++] = own[o++];
	}
	if (acct && *acct) {
		xasprintf(&own[o], "--account=%s", acct);
		argv[n++] = own[o++];
	}
	json_array_foreach(extra, i, e) if (json_is_string(e) && n < max - 2)
	    argv[n++] = json_string_value(e);
	argv[n++] = script;
	argv[n] = NULL;
}

static int
slurm_start(struct session *s, struct err *err)
{
	char *dir = session_dir(s), *script = NULL, *path;
	char *root = repo_root(s->repo ? s->repo : s->cwd);
	struct settings *set = settings_project(root);
	struct buf b = BUF_INIT;
	const char *argv[64];
	char *own[16] = {0};
	json_t *spec = NULL;
	int rc = -1;

	free(root);
	if (mkdir_p(dir, 0700, err) < 0 || check_shared(s, dir, set, err) < 0)
		goto out;
	static const char *const stale[] = {"exit", "screen.txt", "host.sock"};
	for (size_t i = 0; i < nitems(stale); i++) {
		path = session_file(s, stale[i]);
		unlink(path);
		free(path);
	}
	path = session_file(s, "spec.json");
	spec = json_load_file(path, 0, NULL);
	free(path);
	/* the node runs this binary: it must be where the nodes see it */
	buf_adds(&b, "#!/bin/sh\n# galley session ");
	buf_adds(&b, s->id);
	buf_adds(&b, "\nexec ");
	buf_add_sh_quoted(&b, self_exe());
	buf_adds(&b, " host --remote ");
	buf_adds(&b, s->id);
	buf_addc(&b, '\n');
	script = session_file(s, "slurm.sh");
	if (write_file_replace(script, b.data, b.len, 0700, 0, err) < 0)
		goto out;
	sbatch_argv(s, json_object_get(spec, "slurm"), set, dir, script, argv,
	    (int)nitems(argv), own);
	struct sjob *j = sjob_get(s);
	free(s->job_id);
	free(s->node);
	s->job_id = s->node = NULL;
	free(s->boot_id);
	s->boot_id = NULL;
	s->host_pid = s->pid = 0;
	j->submitting = 1;
	j->cancel_wanted = j->have_exit = j->unknown = j->misses = 0;
	if (slurm_cmd_run(argv, SLURM_CMD_TIMEOUT_MS, submitted, xstrdup(s->id),
	        err) < 0) {
		sjob_free(j);
		goto out;
	}
	rc = 0;
out:
	for (size_t i = 0; i < nitems(own); i++)
		free(own[i]);
	json_decref(spec);
	buf_release(&b);
	free(script);
	free(dir);
	return rc;
}

/* ---- stop, kill ---------------------------------------------------------- */

static void
grace_cb(uv_timer_t *t)
{
	struct sjob *j = t->data;

	/* the job outlived its grace: Slurm ends it (TERM, then KILL
	 * after the cluster's KillWait) */
	if (j->s->job_id && !session_terminal(j->s))
		scancel(NULL, NULL, j->s->job_id, NULL, NULL);
}

static int
slurm_stop(struct session *s, int grace_ms, struct err *err)
{
	struct sjob *j = sjob_find(s);

	if (j && j->submitting) {
		j->cancel_wanted = 1;
		return 0;
	}
	if (s->job_id == NULL)
		return err_set(err, ERR_FAILED,
		    "session '%s' has no Slurm job to stop", s->name);
	if (s->state == SESSION_QUEUED) { /* a signal cannot reach it */
		scancel(NULL, NULL, s->job_id, NULL, NULL);
		return 0;
	}
	/* TERM to the host and to every process of the job */
	scancel("--signal=TERM", "--full", s->job_id, NULL, NULL);
	j = sjob_get(s);
	if (j->grace == NULL) {
		j->grace = xmalloc(sizeof *j->grace);
		uv_timer_init(uv_default_loop(), j->grace);
		j->grace->data = j;
	}
	uv_timer_start(j->grace, grace_cb, (uint64_t)grace_ms, 0);
	return 0;
}

static void
slurm_orphan(struct session *s)
{
	if (s->job_id)
		scancel(NULL, NULL, s->job_id, NULL, NULL);
}

struct kill_wait {
	void (*done)(void *);
	void *arg;
};

static void
killed(void *arg, const char *out, const char *errtext, int timedout)
{
	struct kill_wait *k = arg;

	k->done(k->arg);
	free(k);
}

static void
slurm_detach(struct session *s)
{
	struct sjob *j = sjob_find(s);

	if (s->link)
		host_link_detach(s->link);
	if (j)
		sjob_free(j);
}

static void
slurm_kill(struct session *s, void (*done)(void *), void *arg)
{
	char id[32];

	snprintf(id, sizeof id, "%s", s->job_id ? s->job_id : "");
	slurm_detach(s); /* a submit still in flight cancels its job */
	if (id[0] == '\0') {
		done(arg);
		return;
	}
	struct kill_wait *k = xmalloc(sizeof *k);
	k->done = done;
	k->arg = arg;
	scancel("--signal=KILL", "--full", id, killed, k);
}

/* ---- adopt, shut down -----------------------------------------------------
 */

static void
slurm_adopt(struct session *s)
{
	sjob_get(s);
	if (s->job_id == NULL) {
		/* the daemon died between sbatch and storing the job id */
		slurm_adopt_by_name(s);
		return;
	}
	slurm_poll_soon();
}

static void
slurm_shutdown(void)
{
	struct sjob *j;

	while ((j = TAILQ_FIRST(&slurm_jobs)) != NULL) {
		if (j->s->link)
			host_link_detach(j->s->link);
		sjob_free(j);
	}
	slurm_poll_shutdown();
	slurm_cmd_shutdown();
}

static void
slurm_init(const struct executor_sink *sink)
{
	slurm_sink = sink;
	host_link_init(sink);
}

/* The CLI reaches a host on the cluster as it reaches a local one: its
 * files and socket are in the (shared) session dir. */
static int
slurm_connect(json_t *session, struct proto_reader *rd, struct err *err)
{
	return executor_local.connect(session, rd, err);
}

static char *
slurm_file(json_t *session, const char *name)
{
	return executor_local.file(session, name);
}

const struct executor executor_slurm = {
    .name = "slurm",
    .init = slurm_init,
    .start = slurm_start,
    .stop = slurm_stop,
    .orphan = slurm_orphan,
    .adopt = slurm_adopt,
    .peek = host_link_peek,
    .input = host_link_input,
    .kill = slurm_kill,
    .detach = slurm_detach,
    .shutdown = slurm_shutdown,
    .connect = slurm_connect,
    .file = slurm_file,
};
