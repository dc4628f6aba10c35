/* `galley batch` (issue 17), the CLI side: one large change split into
 * units, one worker each in its own worktree, run as the built-in
 * workflow "batch" (data/workflows/batch.lua). cmd-batch.c: the verb;
 * cmd-batch-plan.c: the plan; cmd-batch-show.c: the table;
 * cmd-batch-merge.c: merging the done units. */
#ifndef CMD_BATCH_H
#define CMD_BATCH_H

#include <stdio.h>

#include <jansson.h>

#include "buf.h"
#include "err.h"

#define BATCH_MAX_UNITS 64

struct cmd_ctx;

/* cmd-batch-plan.c */
extern const char batch_plan_schema[];
/* 0 when plan is a plan of lo..hi units; else -1 and why, naming the
 * field ("units[2].title: missing"). */
int batch_plan_check(json_t *plan, int lo, int hi, struct buf *why);
/* A plan file read and checked; NULL with err naming the file and field. */
json_t *batch_plan_load(const char *path, struct err *);
/* Pairs of units whose globs match a common file of the repository at
 * top: [{"units": [i, j], "files": [...], "count": n}], 1-based. */
json_t *batch_plan_overlap(json_t *plan, const char *top);
void batch_plan_print(json_t *plan, json_t *overlap, FILE *);

/* cmd-batch-show.c: the batch as one object, from its run's status:
 * {"batch", "state", "base", "base_ref", "units": [{"n", "title",
 * "status", "tests", "branch", "pr", "error", "overlap", "session"}],
 * "done", "failed", "cost_usd"} */
json_t *batch_from_status(json_t *status);
/* The table `| # | Unit | Status | Tests | PR or branch |`; *lines: how
 * many it printed (to redraw it in place). */
void batch_table(json_t *batch, FILE *, int *lines);
/* Done, failed and why, PRs and commands to open them, cost. */
void batch_summary(json_t *batch, FILE *);
/* One line per unit whose status changed since `was` (a pipe's view). */
void batch_changes(json_t *was, json_t *now, FILE *);

/* cmd-batch-merge.c: `galley batch merge RUN` */
int batch_merge(struct cmd_ctx *, json_t *batch);

#endif
