/* git child processes: argv, explicit dir, captured output (git's
 * child_process habits). stdin is /dev/null so git never waits on us. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "git.h"
#include "util.h"
#include "xmalloc.h"

extern char **environ;

void
git_result_release(struct git_result *r)
{
	buf_release(&r->out);
	buf_release(&r->errout);
	r->status = -1;
}

int
git_run(const char *dir, struct git_result *r, const char *const args[])
{
	return git_run_input(dir, NULL, r, args);
}

/* input: written to git's stdin (small: it must fit the pipe buffer, as
 * it is written before git's output is read), or NULL for /dev/null. */
/* Read git's stdout and stderr to their ends into r, then close them. */
static void
drain(int out, int err, struct git_result *r)
{
	struct pollfd p[2] = {{out, POLLIN, 0}, {err, POLLIN, 0}};
	int open_fds = 2;

	while (open_fds > 0) {
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (int i = 0; i < 2; i++) {
			if (p[i].fd < 0 || !(p[i].revents & (POLLIN | POLLHUP)))
				continue;
			char chunk[8192];
			ssize_t k = read(p[i].fd, chunk, sizeof chunk);
			if (k > 0) {
				buf_add(
				    i ? &r->errout : &r->out, chunk, (size_t)k);
				continue;
			}
			if (k < 0 && errno == EINTR)
				continue;
			close(p[i].fd);
			p[i].fd = -1;
			open_fds--;
		}
	}
	for (int i = 0; i < 2; i++)
		if (p[i].fd >= 0)
			close(p[i].fd);
}

int
git_run_input(const char *dir, const char *input, struct git_result *r,
    const char *const args[])
{
	const char *argv[64];
	int out[2] = {-1, -1}, err[2] = {-1, -1}, in[2] = {-1, -1}, n = 0;
	int status;
	posix_spawn_file_actions_t fa;
	pid_t pid;

	r->status = -1;
	argv[n++] = "git";
	argv[n++] = "-C";
	argv[n++] = dir;
	for (int i = 0; args[i] != NULL && n < 63; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0 ||
	    (input && (strlen(input) > 16384 || pipe2(in, O_CLOEXEC) != 0))) {
		buf_addf(&r->errout, "pipe: %s", strerror(errno));
		goto fail;
	}
	posix_spawn_file_actions_init(&fa);
	if (input)
		posix_spawn_file_actions_adddup2(&fa, in[0], 0);
	else
		posix_spawn_file_actions_addopen(
		    &fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	posix_spawn_file_actions_adddup2(&fa, err[1], 2);
	int rc =
	    posix_spawnp(&pid, "git", &fa, NULL, (char *const *)argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(out[1]);
	close(err[1]);
	out[1] = err[1] = -1;
	if (rc != 0) {
		buf_addf(&r->errout, "cannot run git: %s", strerror(rc));
		goto fail;
	}
	if (input) {
		close(in[0]);
		in[0] = -1;
		write_all(in[1], input, strlen(input));
		close(in[1]);
		in[1] = -1;
	}
	drain(out[0], err[0], r);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	r->status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	return r->status;
fail:
	for (int i = 0; i < 2; i++) {
		if (out[i] >= 0)
			close(out[i]);
		if (err[i] >= 0)
			close(err[i]);
		if (in[i] >= 0)
			close(in[i]);
	}
	return -1;
}

int
git_ok(const char *dir, struct git_result *r, struct err *err,
    const char *const args[])
{
	return git_ok_input(dir, NULL, r, err, args);
}

int
git_ok_input(const char *dir, const char *input, struct git_result *r,
    struct err *err, const char *const args[])
{
	if (git_run_input(dir, input, r, args) == 0)
		return 0;
	/* git's own first line says what went wrong */
	size_t len = strcspn(r->errout.data, "\n");
	return err_set(err, ERR_FAILED, "git %s failed: %.*s", args[0],
	    (int)len, len ? r->errout.data : "no message");
}

char *
git_line(const char *dir, const char *const args[])
{
	struct git_result r = GIT_RESULT_INIT;
	char *line = NULL;

	if (git_run(dir, &r, args) == 0) {
		size_t len = strcspn(r.out.data, "\n");
		line = xstrndup(r.out.data, len);
	}
	git_result_release(&r);
	return line;
}
