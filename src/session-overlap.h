/* Worktree locks and overlap checks of worktree sessions
 * (session-overlap.c). */
#ifndef SESSION_OVERLAP_H
#define SESSION_OVERLAP_H

#include <jansson.h>

struct session;

/* Subscribe to session states, and ask for a check of every repo with
 * live worktree sessions (a new daemon knows no conflicts yet). */
void session_overlap_init(void);
/* From `galley overlap`'s report (cmd-overlap.c). */
void session_overlap_done(const char *repo);
void session_set_conflicts(struct session *, json_t *list);
void session_set_changed(struct session *, int files);
/* `galley merge` took its work into branch `into`: out of review until
 * its next turn (session_set_state clears the mark) */
void session_set_merged(struct session *, const char *into);

#endif
