/* The sandboxes of --sandbox (DESIGN §7): writes confined by Landlock to
 * the session's directory and temp, and no network but a private loopback
 * by bubblewrap. The daemon checks what this machine supports and writes a
 * plan into spec.json; the host applies it in the PTY child. */
#ifndef SANDBOX_H
#define SANDBOX_H

#include <jansson.h>
#include <stddef.h>
#include <sys/types.h>

#include "err.h"

/* The kernel's Landlock ABI version (>= 1), or 0 with *why saying what is
 * missing. GALLEY_TEST_NO_LANDLOCK=1 (tests only) makes it 0. */
int sandbox_landlock_abi(const char **why);
/* The path of a bwrap that can make a network namespace here, or NULL with
 * *why. Runs it once and keeps the answer (a failure for a minute).
 * GALLEY_TEST_NO_BWRAP=1 (tests only) makes it NULL. */
const char *sandbox_bwrap(const char **why);

/* Daemon, before anything is made: what of the policy's sandbox request
 * (want: {"write","net","best_effort"}) this machine can apply, as
 * *applied ({"write":b, "net":b, "landlock_abi":n, "missing":"why"}).
 * Refuses (ERR_FAILED) what it lacks unless best_effort. */
int sandbox_check(json_t *want, json_t **applied, struct err *);
/* Daemon: the plan for spec.json ({"write":[paths], "bwrap":path,
 * "relay":{...}, "best_effort":b}); makes <dir>/tmp and sets TMPDIR in env
 * when write is wanted. dir is the session's state dir, env the child's.
 * With net, a claude agent's API endpoint (ANTHROPIC_BASE_URL in env, else
 * https://api.anthropic.com) gets a relay ({"endpoint":"HOST:PORT",
 * "socket":path, "listen":["ADDR:PORT"...], "proxy":"https"|"http"}) and
 * applied its "endpoint" (or "endpoint_error"). want's "only" (globs
 * from cwd) narrows what may be written from cwd to the directories they
 * name (made if missing), and the repository's .git. */
json_t *sandbox_plan(json_t *want, json_t *applied, const char *runtime,
    const char *cwd, const char *dir, json_t *env);

/* Host: the argv to run for spec.json's plan: argv itself, or wrapped in
 * bwrap (with the Landlock trampoline, `galley sandbox-exec`, inside when
 * both apply). *paths (NULL-terminated, or NULL: no Landlock in the PTY
 * child) is what the PTY child must confine its writes to. The caller
 * frees both (each string, then the array). */
char **sandbox_argv(json_t *plan, char **argv, char ***paths, int *best_effort);

/* The unix socket, in the session's dir, that the relay outside the
 * network namespace listens on. */
#define SANDBOX_RELAY_SOCKET "api.sock"

/* Host, before the child: the relay outside the namespace for spec.json's
 * plan (`galley netrelay` on <dir>/api.sock towards the endpoint), dying
 * with the host. Its pid and *sockpath (to remove at the end), 0 when the
 * plan has none, or -1 with err. */
pid_t sandbox_relay_start(json_t *plan, char **sockpath, struct err *);
/* Fork `galley netrelay ARGS...` with the listening fds fds passed on,
 * killed when its parent dies, in a session of its own, stdin and stdout
 * (and stderr if quiet) on /dev/null. Its pid, or -1 with errno. */
pid_t sandbox_relay_spawn(
    char *const args[], const int fds[], int nfd, int quiet);

/* Right before exec: no new privileges, then writes allowed only beneath
 * paths (dirs, or single files). Allocates nothing (it runs after fork).
 * 0, or -1 with msg filled. */
int sandbox_restrict(char *const paths[], char *msg, size_t len);

#endif
