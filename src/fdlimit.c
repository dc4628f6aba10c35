/* The daemon's open files: each live session holds a link to its host,
 * each client a socket, and the store and logs some more, so 1,000
 * sessions need more than the usual soft limit of 1,024. The daemon raises
 * its soft limit to the hard one at start; near that, a new session is
 * refused with a clear message instead of failing at random later (an
 * accept, a log, the store). */
#include <dirent.h>
#include <sys/resource.h>

#include "fdlimit.h"
#include "log.h"

/* what a session costs at most (its link, a peek, a git, a hook) and the
 * daemon's own needs beyond that */
#define FD_PER_SESSION 4
#define FD_RESERVE 64

static long fd_max = 1024;

void
fdlimit_raise(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rlim_t want =
		    rl.rlim_max == RLIM_INFINITY ? 1048576 : rl.rlim_max;
		struct rlimit up = {want, rl.rlim_max};
		if (setrlimit(RLIMIT_NOFILE, &up) == 0)
			rl.rlim_cur = want;
	}
	fd_max = rl.rlim_cur == RLIM_INFINITY ? 1048576 : (long)rl.rlim_cur;
	log_info("open files: up to %ld", fd_max);
}

long
fdlimit_in_use(void)
{
	DIR *d = opendir("/proc/self/fd");
	long n = 0;

	if (d == NULL)
		return -1;
	while (readdir(d) != NULL)
		n++;
	closedir(d);
	return n - 3; /* ".", ".." and the directory's own fd */
}

int
fdlimit_check(struct err *err)
{
	long used = fdlimit_in_use();

	if (used < 0 || used + FD_PER_SESSION + FD_RESERVE <= fd_max)
		return 0;
	return err_set(err, ERR_REFUSED,
	    "the daemon has %ld of its %ld open files in use: no new session "
	    "until some end (raise the hard limit, ulimit -Hn, and restart "
	    "the daemon for more)",
	    used, fd_max);
}
