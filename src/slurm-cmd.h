/* Slurm's client commands, run off the daemon's loop (slurm-cmd.c). */
#ifndef SLURM_CMD_H
#define SLURM_CMD_H

#include "buf.h"
#include "err.h"
#include "queue.h"

/* A command a cluster whose controller is down answers after 9-18 s:
 * give up later than that. */
#define SLURM_CMD_TIMEOUT_MS 45000

/* out and errtext are its stdout and stderr (NUL-terminated); timedout:
 * it gave no answer within its time and was killed. */
typedef void slurm_cmd_cb(
    void *arg, const char *out, const char *errtext, int timedout);

/* Start argv (looked up on PATH); cb runs from the loop once both its
 * outputs end, or at timeout_ms. -1 with err set if it cannot start (cb
 * never runs then). */
int slurm_cmd_run(const char *const argv[], int timeout_ms, slurm_cmd_cb *cb,
    void *arg, struct err *err);
/* The daemon stops: every command in flight is killed, its cb told. */
void slurm_cmd_shutdown(void);

#endif
