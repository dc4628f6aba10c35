/*
 * Slurm's client commands (sbatch, squeue, scancel), run from the daemon's
 * loop without ever waiting on them: a controller that is down makes each
 * call hang 9-18 s before it fails (shared/notes/slurm.md §4). The child's
 * stdout and stderr are read through the loop; a timer kills it past its
 * deadline. Its exit status is not waited for (the daemon's SIGCHLD
 * handler reaps every child): the output says what happened, as the notes
 * advise (rc alone says little: a list of unknown job ids is rc 0).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "log.h"
#include "slurm-cmd.h"
#include "util.h"
#include "xmalloc.h"

extern char **environ;

struct slurm_cmd {
	uv_pipe_t out, err;
	uv_timer_t timer;
	struct buf obuf, ebuf;
	pid_t pid;
	int open;     /* handles not yet closed */
	int eofs;     /* pipes at their end */
	int timedout; /* killed past its deadline */
	int done;
	slurm_cmd_cb *cb;
	void *arg;
	TAILQ_ENTRY(slurm_cmd) entry;
};

static TAILQ_HEAD(, slurm_cmd) cmds = TAILQ_HEAD_INITIALIZER(cmds);

#define SLURM_OUT_MAX (16u * 1024 * 1024)

static void
cmd_closed(uv_handle_t *h)
{
	struct slurm_cmd *c = h->data;

	if (--c->open > 0)
		return;
	buf_release(&c->obuf);
	buf_release(&c->ebuf);
	free(c);
}

static void
cmd_finish(struct slurm_cmd *c)
{
	if (c->done)
		return;
	c->done = 1;
	TAILQ_REMOVE(&cmds, c, entry);
	uv_timer_stop(&c->timer);
	if (c->eofs < 2 && c->pid > 0)
		kill(c->pid, SIGKILL); /* past its deadline, or shut down */
	buf_addc(&c->obuf, '\0');
	buf_addc(&c->ebuf, '\0');
	c->obuf.len--;
	c->ebuf.len--;
	if (c->timedout && c->ebuf.len == 0)
		buf_addf(&c->ebuf, "no answer in time");
	if (c->cb)
		c->cb(c->arg, c->obuf.data, c->ebuf.data, c->timedout);
	uv_close((uv_handle_t *)&c->out, cmd_closed);
	uv_close((uv_handle_t *)&c->err, cmd_closed);
	uv_close((uv_handle_t *)&c->timer, cmd_closed);
}

static void
alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
	static char slab[65536];

	b->base = slab;
	b->len = sizeof slab;
}

static void
read_cb(uv_stream_t *st, ssize_t n, const uv_buf_t *b)
{
	struct slurm_cmd *c = st->data;
	struct buf *into = st == (uv_stream_t *)&c->out ? &c->obuf : &c->ebuf;

	if (n > 0 && into->len + (size_t)n <= SLURM_OUT_MAX)
		buf_add(into, b->base, (size_t)n);
	if (n >= 0)
		return;
	uv_read_stop(st);
	if (++c->eofs == 2)
		cmd_finish(c);
}

static void
timer_cb(uv_timer_t *t)
{
	struct slurm_cmd *c = t->data;

	c->timedout = 1;
	cmd_finish(c);
}

int
slurm_cmd_run(const char *const argv[], int timeout_ms, slurm_cmd_cb *cb,
    void *arg, struct err *err)
{
	posix_spawn_file_actions_t fa;
	int op[2] = {-1, -1}, ep[2] = {-1, -1}, rc;
	struct slurm_cmd *c;
	pid_t pid;

	if (pipe2(op, O_CLOEXEC) != 0 || pipe2(ep, O_CLOEXEC) != 0) {
		err_set(err, ERR_FAILED, "pipe: %s", strerror(errno));
		goto fail;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, op[1], 1);
	posix_spawn_file_actions_adddup2(&fa, ep[1], 2);
	rc = posix_spawnp(
	    &pid, argv[0], &fa, NULL, (char *const *)argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rc != 0) {
		err_set(err, ERR_FAILED, "cannot run %s: %s", argv[0],
		    strerror(rc));
		goto fail;
	}
	close(op[1]);
	close(ep[1]);
	c = xcalloc(1, sizeof *c);
	c->pid = pid;
	c->cb = cb;
	c->arg = arg;
	c->open = 3;
	uv_pipe_init(uv_default_loop(), &c->out, 0);
	uv_pipe_init(uv_default_loop(), &c->err, 0);
	uv_timer_init(uv_default_loop(), &c->timer);
	c->out.data = c->err.data = c->timer.data = c;
	uv_pipe_open(&c->out, op[0]);
	uv_pipe_open(&c->err, ep[0]);
	uv_read_start((uv_stream_t *)&c->out, alloc_cb, read_cb);
	uv_read_start((uv_stream_t *)&c->err, alloc_cb, read_cb);
	uv_timer_start(&c->timer, timer_cb, (uint64_t)timeout_ms, 0);
	TAILQ_INSERT_TAIL(&cmds, c, entry);
	return 0;
fail:
	for (int i = 0; i < 2; i++) {
		if (op[i] >= 0)
			close(op[i]);
		if (ep[i] >= 0)
			close(ep[i]);
	}
	return -1;
}

void
slurm_cmd_shutdown(void)
{
	struct slurm_cmd *c;

	/* the daemon stops: what is in flight is dropped (its callback
	 * still runs, as a timeout, so no owner waits forever) */
	while ((c = TAILQ_FIRST(&cmds)) != NULL) {
		c->timedout = 1;
		cmd_finish(c);
	}
}
