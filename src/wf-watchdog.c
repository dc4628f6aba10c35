/*
 * The workflow watchdog. A run's Lua runs on the daemon's loop, bounded by
 * an instruction count and a memory limit (wf-lua.c); but the count is only
 * looked at between Lua instructions, and some library calls loop in C for
 * as long as they like: a string pattern that backtracks (string.find(s,
 * "(.-)=(.-)$") over an agent's 1 MB answer, or a crafted one over 40
 * bytes) never comes back. Nothing can stop C code inside the Lua state
 * safely, and while it runs the daemon answers no one: not the view, not a
 * hook (every agent's tool calls would be held).
 *
 * So a thread watches the time spent in one entry into a run's Lua. Past
 * GALLEY_WF_STUCK_MS (10 s; a slice of Lua is bounded to about 0.1 s) it
 * writes STATE/workflows/RUN.stuck, saying why, and execs the daemon
 * afresh (same pid: its hosts stay its children, every session is adopted
 * again as after any restart). The run, replayed at the new start, would
 * get stuck again: run_go fails it with that file's text instead.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"
#include "util.h"
#include "wf-watchdog.h"
#include "xmalloc.h"

#define STUCK_MS 10000

static atomic_llong busy_since; /* monotonic ms; 0: not in Lua */
static char busy_run[16];       /* written before busy_since is set */
static atomic_int armed;
static long long stuck_ms = STUCK_MS;
static int depth; /* entries nest (a branch resumed from its parent) */

static long long
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

char *
wf_watchdog_file(const char *run)
{
	char *p;

	xasprintf(&p, "%s/workflows/%s.stuck", path_state_dir(), run);
	return p;
}

/* Our own argv again, from /proc (the daemon may have been started with
 * --foreground). */
static char **
own_argv(void)
{
	struct buf b = BUF_INIT;
	size_t n = 0;

	if (read_file("/proc/self/cmdline", &b, 4096, NULL) < 0 || b.len == 0)
		return NULL;
	buf_addc(&b, '\0');
	for (size_t i = 0; i + 1 < b.len; i++)
		n += b.data[i] == '\0';
	char **argv = xcalloc(n + 1, sizeof *argv);
	char *p = buf_detach(&b, NULL);
	for (size_t i = 0; i < n; i++) {
		argv[i] = p;
		p += strlen(p) + 1;
	}
	return argv;
}

static void
restart(const char *run, long long ms)
{
	char *dir, *path, *text;
	struct err err = ERR_INIT;

	if (*run == '\0') /* a dry run: nothing to resume */
		goto exec;
	xasprintf(&dir, "%s/workflows", path_state_dir());
	path = wf_watchdog_file(run);
	xasprintf(&text,
	    "the script spent %lld s in one library call without returning "
	    "(a string pattern that backtracks over a long text, most "
	    "likely); the daemon restarted to get free of it",
	    ms / 1000);
	if (mkdir_p(dir, 0700, &err) < 0 ||
	    write_file_replace(path, text, strlen(text), 0600, 1, &err) < 0)
		log_error("workflow %s: %s", run, err.msg.data);
	free(dir);
	free(path);
	free(text);
	err_release(&err);
exec:
	log_error("workflow %s: stuck %lld ms in one call into Lua: "
	          "restarting the daemon",
	    run, ms);
	char **argv = own_argv();
	sigset_t none;
	sigemptyset(&none);
	pthread_sigmask(SIG_SETMASK, &none, NULL); /* the new image's mask */
	if (argv)
		execv(self_exe(), argv);
	log_error("cannot restart the daemon (%s): exiting", strerror(errno));
	_exit(1);
}

static void *
watch(void *arg)
{
	sigset_t all;

	(void)arg;
	sigfillset(&all); /* signals are the loop's, not ours */
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	long long tick = stuck_ms / 4 < 100 ? 100 : stuck_ms / 4;
	for (;;) {
		struct timespec ts = {tick / 1000, (tick % 1000) * 1000000L};
		nanosleep(&ts, NULL);
		long long since = atomic_load(&busy_since);
		if (since && mono_ms() - since > stuck_ms) {
			char run[sizeof busy_run];
			memcpy(run, busy_run, sizeof run);
			run[sizeof run - 1] = '\0';
			/* still the same entry: not one that just ended */
			if (atomic_load(&busy_since) == since)
				restart(run, mono_ms() - since);
		}
	}
	return NULL;
}

void
wf_watchdog_arm(void)
{
	const char *v = getenv("GALLEY_WF_STUCK_MS");
	pthread_t t;

	if (atomic_load(&armed))
		return;
	if (v && atoll(v) >= 100)
		stuck_ms = atoll(v);
	if (pthread_create(&t, NULL, watch, NULL) != 0) {
		log_warn("no workflow watchdog: %s", strerror(errno));
		return;
	}
	pthread_detach(t);
	atomic_store(&armed, 1);
}

void
wf_watchdog_enter(const char *run)
{
	if (depth++ > 0 || !atomic_load(&armed))
		return;
	snprintf(busy_run, sizeof busy_run, "%s", run);
	atomic_store(&busy_since, mono_ms());
}

void
wf_watchdog_leave(void)
{
	if (--depth > 0)
		return;
	atomic_store(&busy_since, 0);
}
