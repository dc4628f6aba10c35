/* ls --tree, assembled in the daemon (cmd-ls-tree.c). */
#ifndef CMD_LS_TREE_H
#define CMD_LS_TREE_H

#include <stddef.h>

#include "buf.h"

struct session;

/* The roots of the tree of list's n sessions, as JSON objects separated
 * by ",\n" (the inside of an array), appended to b. */
void ls_tree_text(struct buf *b, struct session **list, size_t n);

#endif
