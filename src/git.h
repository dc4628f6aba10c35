/* Run the git CLI (DESIGN §7: worktrees via git, not libgit2): argv
 * vectors, never a shell string; stdout and stderr captured. Blocking: the
 * CLI's use. */
#ifndef GIT_H
#define GIT_H

#include "buf.h"
#include "err.h"

struct git_result {
	int status; /* exit code; -1 if it could not run or was killed */
	struct buf out, errout;
};
#define GIT_RESULT_INIT                                                        \
	{                                                                      \
		-1, BUF_INIT, BUF_INIT                                         \
	}

/* Run `git -C dir args...` (NULL-terminated). Returns the exit status. */
int git_run(const char *dir, struct git_result *, const char *const args[]);
void git_result_release(struct git_result *);
/* With input on git's stdin (at most 16 KiB). */
int git_run_input(const char *dir, const char *input, struct git_result *,
    const char *const args[]);
/* Like git_run, but a non-zero exit is an error carrying git's message. */
int git_ok(const char *dir, struct git_result *, struct err *,
    const char *const args[]);
int git_ok_input(const char *dir, const char *input, struct git_result *,
    struct err *, const char *const args[]);
/* First line of stdout, trimmed; NULL if git failed. Caller frees. */
char *git_line(const char *dir, const char *const args[]);

#endif
