/* The processes of a session that left its process group: claude runs a
 * background Bash task in a session of its own, so killing the session's
 * group leaves it running. Each still has the session's GALLEY_SESSION in
 * its environment (every process the agent starts inherits it), which is
 * how they are found: /proc/PID/environ, ours only. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "strays.h"
#include "util.h"

/* pid's GALLEY_SESSION into out ("" for none); 0 if it has one. */
static int
session_of(int pid, char *out, size_t size)
{
	static const char key[] = "GALLEY_SESSION=";
	char path[64], buf[65536];
	ssize_t n;
	int fd, hit = 0;

	out[0] = '\0';
	snprintf(path, sizeof path, "/proc/%d/environ", pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1; /* gone, or not ours */
	/* entries are NUL-separated; the buffer's end may cut one */
	while (!hit && (n = read(fd, buf, sizeof buf - 1)) > 0) {
		buf[n] = '\0';
		for (char *p = buf; p < buf + n; p += strlen(p) + 1)
			if (strncmp(p, key, sizeof key - 1) == 0) {
				snprintf(out, size, "%s", p + sizeof key - 1);
				hit = 1;
				break;
			}
	}
	close(fd);
	return hit ? 0 : -1;
}

/* Every live process but ours (and skip's) that belongs to a session:
 * fn(pid, its session id, arg) for each; fn returns nonzero to stop. */
static void
walk(
    const int *skip, int nskip, int (*fn)(int, const char *, void *), void *arg)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int self = (int)getpid();
	char sid[64];

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		char *end;
		long pid = strtol(e->d_name, &end, 10);
		int skipped = pid == self;
		if (*end || pid <= 1)
			continue;
		for (int i = 0; i < nskip && !skipped; i++)
			skipped = skip[i] == pid;
		if (!skipped && pid_alive((pid_t)pid) &&
		    session_of((int)pid, sid, sizeof sid) == 0 &&
		    fn((int)pid, sid, arg))
			break;
	}
	closedir(d);
}

struct find {
	const char *sid;
	int *out, max, n;
};

static int
found(int pid, const char *sid, void *arg)
{
	struct find *f = arg;

	if (strcmp(sid, f->sid) == 0)
		f->out[f->n++] = pid;
	return f->n >= f->max;
}

int
strays_find(const char *sid, const int *skip, int nskip, int *out, int max)
{
	struct find f = {sid, out, max, 0};

	if (max > 0)
		walk(skip, nskip, found, &f);
	return f.n;
}

static int
counted(int pid, const char *sid, void *arg)
{
	json_t *by = arg;

	json_object_set_new(by, sid,
	    json_integer(json_integer_value(json_object_get(by, sid)) + 1));
	return 0;
}

json_t *
strays_by_session(void)
{
	json_t *by = json_object();

	walk(NULL, 0, counted, by);
	return by;
}

int
strays_kill(const char *sid, const int *skip, int nskip)
{
	int pids[STRAYS_MAX],
	    n = strays_find(sid, skip, nskip, pids, STRAYS_MAX);

	for (int i = 0; i < n; i++)
		kill(pids[i], SIGKILL);
	return n;
}
