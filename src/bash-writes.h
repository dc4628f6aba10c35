/* The files a shell command line writes, as far as its words tell, for
 * the file-ownership gate (team.c): redirections, and the file arguments
 * of the commands that write (rm, mv, cp, touch, tee, sed -i, git
 * checkout, sh -c...), with `cd` followed. A program galley does not know
 * (make, python) is not guessed at: --sandbox write contains it. */
#ifndef BASH_WRITES_H
#define BASH_WRITES_H

#include <jansson.h>

/* Appends to OUT each path CMD would write, absolute from CWD and
 * normalized ("." and ".." taken out). Words with an expansion ($X, a
 * command substitution, ~) cannot be told and are left out; a glob is
 * kept as written. A git command that rewrites the tree without naming
 * paths writes CWD itself. */
void bash_writes(const char *cmd, const char *cwd, json_t *out);

#endif
