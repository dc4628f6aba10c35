/* The two halves of `galley workflow`'s CLI side. */
#ifndef CMD_WORKFLOW_H
#define CMD_WORKFLOW_H

struct cmd_ctx;

/* cmd-workflow.c: where named workflows live, the project's first
 * (callers free both) */
int wf_dirs(const char *cwd, char *out[2]);
/* cmd-workflow-new.c */
int wf_new(struct cmd_ctx *, const char *what, const char *name,
    const char *runtime, int yes, int personal);

#endif
