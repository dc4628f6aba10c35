/* Fork onto a PTY: block signals around the fork, and in the child reset
 * every handler, close inherited fds, restore the mask, then exec. Any
 * failure in the child prints to the PTY (so the user sees it in peek and
 * logs) and exits 127. */
#include <errno.h>
#include <fcntl.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "ptyfork.h"
#include "sandbox.h"
#include "util.h"

extern char **environ;

pid_t
pty_spawn(char *const argv[], char *const envp[], const char *cwd, int rows,
    int cols, char *const confine[], int best_effort, int *master,
    struct err *err)
{
	struct winsize ws = {(unsigned short)rows, (unsigned short)cols, 0, 0};
	sigset_t all, old;
	pid_t pid;

	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	pid = forkpty(master, NULL, NULL, &ws);
	if (pid < 0) {
		int e = errno;
		sigprocmask(SIG_SETMASK, &old, NULL);
		return err_set(err, ERR_FAILED, "forkpty: %s", strerror(e));
	}
	if (pid == 0) {
		struct sigaction sa;
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = SIG_DFL;
		for (int sig = 1; sig < NSIG; sig++)
			sigaction(sig, &sa, NULL);
		closefrom(STDERR_FILENO + 1);
		sigemptyset(&all);
		sigprocmask(SIG_SETMASK, &all, NULL);
		if (cwd != NULL && chdir(cwd) != 0) {
			fprintf(stderr, "galley: cannot enter '%s': %s\r\n",
			    cwd, strerror(errno));
			_exit(127);
		}
		/* last, so only the command's own tree is confined */
		char msg[512];
		if (confine && sandbox_restrict(confine, msg, sizeof msg) < 0) {
			fprintf(stderr, "galley: %s the write sandbox: %s\r\n",
			    best_effort ? "running without" : "cannot apply",
			    msg);
			if (!best_effort)
				_exit(127);
		}
		/* execvp searches the child's PATH, not the host's */
		environ = (char **)envp;
		execvp(argv[0], argv);
		fprintf(stderr, "galley: cannot run '%s': %s\r\n", argv[0],
		    strerror(errno));
		_exit(127);
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	set_cloexec(*master);
	set_nonblock(*master);
	return pid;
}
