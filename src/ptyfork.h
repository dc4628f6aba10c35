/* Fork a child onto a new PTY (tmux's spawn.c habits). */
#ifndef PTYFORK_H
#define PTYFORK_H

#include <sys/types.h>

#include "err.h"

/* argv/envp NULL-terminated. Returns the child pid and the master fd. */
pid_t pty_spawn(char *const argv[], char *const envp[], const char *cwd,
    int rows, int cols, int *master, struct err *);

#endif
