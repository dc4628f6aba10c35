/* Per-process log. Messages are escaped so terminal bytes never reach it raw.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"

int log_level = LOG_WARN;
static FILE *log_file;
static const char *log_role = "galley";

void
log_open(const char *path, const char *role)
{
	const char *env = getenv("GALLEY_LOG");

	log_role = role;
	if (env != NULL) {
		if (strcmp(env, "debug") == 0)
			log_level = LOG_DEBUG;
		else if (strcmp(env, "info") == 0)
			log_level = LOG_INFO;
	}
	if (path == NULL)
		return;
	log_file = fopen(path, "ae");
	if (log_file != NULL)
		setvbuf(log_file, NULL, _IOLBF, 0);
}

void
log_write(enum log_level level, const char *fmt, ...)
{
	static const char *names[] = {"error", "warn", "info", "debug"};
	FILE *f = log_file ? log_file : stderr;
	struct buf raw = BUF_INIT, out = BUF_INIT;
	char stamp[32];
	struct timespec ts;
	struct tm tm;
	va_list ap;

	if ((int)level > log_level)
		return;
	va_start(ap, fmt);
	buf_vaddf(&raw, fmt, ap);
	va_end(ap);
	buf_add_shown(&out, raw.data, raw.len);
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
	fprintf(f, "%s.%03ldZ %s[%ld] %s: %s\n", stamp, ts.tv_nsec / 1000000,
	    log_role, (long)getpid(), names[level], out.data);
	buf_release(&raw);
	buf_release(&out);
}
