/* Fork a child onto a new PTY (tmux's spawn.c habits). */
#ifndef PTYFORK_H
#define PTYFORK_H

#include <sys/types.h>

#include "err.h"

/* argv/envp NULL-terminated. confine, unless NULL, lists the only paths
 * the child may write beneath (Landlock, sandbox.h); if that fails the
 * child exits 127 without running argv, or with best_effort runs anyway
 * after a warning. Returns the child pid and the master fd. */
pid_t pty_spawn(char *const argv[], char *const envp[], const char *cwd,
    int rows, int cols, char *const confine[], int best_effort, int *master,
    struct err *);

#endif
