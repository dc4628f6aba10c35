#ifndef WF_WATCHDOG_H
#define WF_WATCHDOG_H

/* Restart the daemon when a run's Lua is stuck in C (wf-watchdog.c). */
void wf_watchdog_arm(void);              /* the daemon, once */
void wf_watchdog_enter(const char *run); /* "" for a dry run */
void wf_watchdog_leave(void);
/* STATE/workflows/RUN.stuck: why the run's last entry never returned.
 * Caller frees. */
char *wf_watchdog_file(const char *run);

#endif
