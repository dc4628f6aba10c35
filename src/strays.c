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

static int
has_entry(int pid, const char *want, size_t wlen)
{
	char path[64], buf[65536];
	ssize_t n;
	int fd, hit = 0;

	snprintf(path, sizeof path, "/proc/%d/environ", pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return 0; /* gone, or not ours */
	/* entries are NUL-separated; the buffer's end may cut one */
	while (!hit && (n = read(fd, buf, sizeof buf - 1)) > 0) {
		buf[n] = '\0';
		for (char *p = buf; p < buf + n; p += strlen(p) + 1)
			if (strncmp(p, want, wlen) == 0 && p[wlen] == '\0') {
				hit = 1;
				break;
			}
	}
	close(fd);
	return hit;
}

int
strays_find(const char *sid, const int *skip, int nskip, int *out, int max)
{
	char want[64];
	size_t wlen =
	    (size_t)snprintf(want, sizeof want, "GALLEY_SESSION=%s", sid);
	DIR *d = opendir("/proc");
	struct dirent *e;
	int n = 0, self = (int)getpid();

	if (d == NULL)
		return 0;
	while ((e = readdir(d)) != NULL && n < max) {
		char *end;
		long pid = strtol(e->d_name, &end, 10);
		int skipped = pid == self;
		if (*end || pid <= 1)
			continue;
		for (int i = 0; i < nskip && !skipped; i++)
			skipped = skip[i] == pid;
		if (!skipped && pid_alive((pid_t)pid) &&
		    has_entry((int)pid, want, wlen))
			out[n++] = (int)pid;
	}
	closedir(d);
	return n;
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
