/*
 * A hook must never hang its agent, and never be lost: `galley hook`
 * writes its request to state/hooks/ before sending it, waits for the
 * daemon a short while (GALLEY_HOOK_TIMEOUT_MS, default 5 s), and leaves
 * the file there if no answer came (a daemon that is frozen, busy or
 * down). The daemon removes the file when it applies the request, and
 * replays what is left at start and every second, oldest first. A request
 * that arrives twice (its file replayed, then its socket read once the
 * daemon runs again) is applied once: the names applied lately are kept.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "buf.h"
#include "hook-spool.h"
#include "log.h"
#include "util.h"
#include "xmalloc.h"

#define SEEN_MAX 4096      /* names remembered as applied */
#define REPLAY_AGE_MS 1000 /* younger: its client may still be waiting */
#define SPOOL_MAX_FILES 10000

static char *
spool_dir(void)
{
	char *d;

	xasprintf(&d, "%s/hooks", path_state_dir());
	return d;
}

static int
name_ok(const char *n)
{
	size_t len = strlen(n);

	return len > 5 && len < 64 &&
	    strspn(n, "0123456789-abcdef.json") == len &&
	    strcmp(n + len - 5, ".json") == 0;
}

int
hook_spool_write(json_t *req, char *name, size_t size)
{
	static unsigned seq;
	char *dir = spool_dir(), *path = NULL;
	char rnd[9];
	int rc = -1;

	random_hex(rnd, 8);
	snprintf(name, size, "%015lld-%d-%u-%s.json", (long long)wall_ms(),
	    (int)getpid(), seq++, rnd);
	json_object_set_new(req, "spool", json_string(name));
	char *text = json_dumps(req, JSON_COMPACT);
	if (text == NULL || mkdir_p(dir, 0700, NULL) < 0)
		goto out;
	xasprintf(&path, "%s/%s", dir, name);
	/* no fsync: a hook is not worth a disk flush on every tool call;
	 * the rename makes it whole or absent */
	rc = write_file_replace(path, text, strlen(text), 0600, 0, NULL);
out:
	free(text);
	free(path);
	free(dir);
	return rc;
}

void
hook_spool_drop(const char *name)
{
	char *dir = spool_dir(), *path;

	xasprintf(&path, "%s/%s", dir, name);
	unlink(path);
	free(path);
	free(dir);
}

/* the names applied lately: a ring and a set over it */
static struct {
	json_t *set;
	char *ring[SEEN_MAX];
	int head;
} seen;

int
hook_spool_claim(const char *name)
{
	if (name == NULL || !name_ok(name))
		return 0; /* not spooled (an old client): apply it */
	if (seen.set == NULL)
		seen.set = json_object();
	if (json_object_get(seen.set, name))
		return 1;
	if (seen.ring[seen.head]) {
		json_object_del(seen.set, seen.ring[seen.head]);
		free(seen.ring[seen.head]);
	}
	seen.ring[seen.head] = xstrdup(name);
	seen.head = (seen.head + 1) % SEEN_MAX;
	json_object_set_new(seen.set, name, json_true());
	hook_spool_drop(name);
	return 0;
}

static int (*apply_fn)(json_t *, json_t *, struct err *);
static uv_timer_t timer;
static int started;

static int
by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
replay(int all)
{
	char *dir = spool_dir();
	DIR *d = opendir(dir);
	struct dirent *e;
	char **names = NULL;
	size_t n = 0, cap = 0;
	long long cutoff = (long long)wall_ms() - REPLAY_AGE_MS;

	if (d == NULL)
		goto out;
	while ((e = readdir(d)) != NULL && n < SPOOL_MAX_FILES) {
		if (!name_ok(e->d_name))
			continue;
		/* the name starts with its time: young ones wait */
		if (!all && atoll(e->d_name) > cutoff)
			continue;
		if (n == cap)
			names = xrealloc(
			    names, (cap = cap ? cap * 2 : 16) * sizeof *names);
		names[n++] = xstrdup(e->d_name);
	}
	closedir(d);
	if (n > 1)
		qsort(names, n, sizeof *names, by_name);
	for (size_t i = 0; i < n; i++) {
		struct buf b = BUF_INIT;
		char *path;
		xasprintf(&path, "%s/%s", dir, names[i]);
		json_t *req = NULL;
		if (read_file(path, &b, 8u << 20, NULL) == 0)
			req = json_loadb(b.data, b.len, 0, NULL);
		if (!json_is_object(req) || hook_spool_claim(names[i])) {
			unlink(path); /* unreadable, or applied already */
		} else {
			json_t *reply = json_object();
			struct err err = ERR_INIT;
			if (apply_fn(req, reply, &err) < 0)
				log_warn(
				    "late hook %s: %s", names[i], err.msg.data);
			else
				log_info("late hook %s applied", names[i]);
			err_release(&err);
			json_decref(reply);
		}
		json_decref(req);
		buf_release(&b);
		free(path);
		free(names[i]);
	}
	free(names);
out:
	free(dir);
}

static void
timer_cb(uv_timer_t *t)
{
	replay(0);
}

void
hook_spool_init(int (*apply)(json_t *, json_t *, struct err *))
{
	apply_fn = apply;
	replay(1); /* from before this daemon: nobody waits for them */
	if (started)
		return;
	started = 1;
	uv_timer_init(uv_default_loop(), &timer);
	uv_timer_start(&timer, timer_cb, 1000, 1000);
	uv_unref((uv_handle_t *)&timer);
}
