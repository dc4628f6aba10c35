/* The Slurm executor's own parts (executor-slurm.c, slurm-poll.c). */
#ifndef EXECUTOR_SLURM_H
#define EXECUTOR_SLURM_H

#include <uv.h>

#include "executor.h"
#include "queue.h"

struct session;

/* A session the Slurm executor watches. */
struct sjob {
	struct session *s;
	int submitting;           /* sbatch not answered yet */
	int cancel_wanted;        /* stopped before it answered */
	int have_exit, code, sig; /* the host's exit, held for Slurm's word */
	int misses;               /* polls its job was missing from */
	int unknown;              /* set to unknown: the controller is silent */
	enum session_state saved; /* ... and what it was before */
	char *saved_wait;
	uv_timer_t *grace; /* a stop's hard scancel */
	TAILQ_ENTRY(sjob) entry;
};
TAILQ_HEAD(sjob_list, sjob);
extern struct sjob_list slurm_jobs;
extern size_t slurm_jobs_n;
extern const struct executor_sink *slurm_sink;

struct sjob *sjob_find(struct session *);
/* Link to the session's host if it listens and no link is up. */
void slurm_link(struct session *);

/* slurm-poll.c: one squeue for every watched job, each tick */
void slurm_poll_soon(void);
void slurm_poll_shutdown(void);
/* A session stored without its job id: find the job by its name. */
void slurm_adopt_by_name(struct session *);

#endif
