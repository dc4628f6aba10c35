/*
 * What a host keeps on disk: output.log, and the exit and screen records
 * written when the child ends. A full disk must not turn into a silent
 * loss: a failed log write is reported (host.log, the daemon through the
 * status event, the exit record) with the byte the log stops at, and the
 * exit and screen records are written into space reserved when the host
 * started (fallocate), so the one record the daemon cannot do without, how
 * the session ended, still reaches the disk when nothing else does.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "host.h"
#include "log.h"
#include "screen.h"
#include "util.h"
#include "xmalloc.h"

/* the exit record is ~80 bytes; a screen of 200x60 wide characters fits */
#define EXIT_RESERVE 4096
#define SCREEN_RESERVE (64 * 1024)
/* Output stops being written when less than this is free on its disk:
 * the last MiB is left to what must not be lost (the store's state, exit
 * records, logs). Free space is looked at every FREE_CHECK_BYTES written,
 * and on every write once it is under FREE_WATCH. */
#define HOST_MIN_FREE (1024ULL * 1024)
#define FREE_CHECK_BYTES (256 * 1024)
#define FREE_WATCH (16ULL * 1024 * 1024)

/* what this file owns: the log and the two reservations */
static struct {
	char *dir;
	int logfd, exit_fd, screen_fd;
	long long bytes; /* in output.log */
	long long max;   /* logs.maxBytes: rotate past it; 0: never */
	char *lost;      /* why output.log stopped taking output */
} rec = {NULL, -1, -1, -1, 0, 0, NULL};

/* An empty file of size bytes whose blocks are already allocated: writing
 * up to size into it needs no free space. -1 if even that failed. */
static int
reserve(const char *name, off_t size)
{
	char *path;
	int fd, e;

	xasprintf(&path, "%s/%s.reserve", rec.dir, name);
	fd = open(
	    path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd >= 0 && (e = posix_fallocate(fd, 0, size)) != 0) {
		log_warn("cannot reserve %s: %s", path, strerror(e));
		close(fd);
		unlink(path);
		fd = -1;
	}
	free(path);
	return fd;
}

/* name's content, durably: into its reserved file, then renamed; without
 * a reservation the usual temp-and-rename. */
static int
write_record(int *fd, const char *name, const char *data, size_t len)
{
	char *path, *from;
	int rc = 0;

	xasprintf(&path, "%s/%s", rec.dir, name);
	if (*fd < 0) {
		rc = write_file_atomic(path, data, len, 0600, NULL);
		free(path);
		return rc;
	}
	xasprintf(&from, "%s.reserve", path);
	size_t done = 0;
	while (done < len) {
		ssize_t n = pwrite(*fd, data + done, len - done, (off_t)done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = -1;
			break;
		}
		done += (size_t)n;
	}
	if (rc == 0 &&
	    (ftruncate(*fd, (off_t)len) != 0 || fsync(*fd) != 0 ||
	        rename(from, path) != 0))
		rc = -1;
	if (rc < 0)
		log_error("cannot write %s: %s", path, strerror(errno));
	close(*fd);
	*fd = -1;
	free(from);
	free(path);
	return rc;
}

int
host_records_open(const char *dir, long long max_bytes)
{
	char *path;
	struct stat st;

	free(rec.dir);
	rec.dir = xstrdup(dir);
	xasprintf(&path, "%s/output.log", rec.dir);
	rec.logfd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	free(path);
	if (rec.logfd < 0) {
		log_error("cannot open output.log: %s", strerror(errno));
		return -1;
	}
	rec.bytes = fstat(rec.logfd, &st) == 0 ? (long long)st.st_size : 0;
	rec.max = max_bytes > 0 ? max_bytes : 0;
	rec.exit_fd = reserve("exit", EXIT_RESERVE);
	rec.screen_fd = reserve("screen.txt", SCREEN_RESERVE);
	return 0;
}

/* The log could not take a write: keep running, stop writing (so "from
 * byte N" stays true), and say so everywhere it can be seen. */
static void
output_lost(int e, const char *more)
{
	struct stat st;

	if (fstat(rec.logfd, &st) == 0)
		rec.bytes = (long long)st.st_size;
	xasprintf(&rec.lost, "output.log: %s%s; output from byte %lld not kept",
	    strerror(e), more, rec.bytes);
	log_error("%s", rec.lost);
}

/* Under HOST_MIN_FREE left on the log's disk? */
static int
disk_low(size_t len)
{
	static long long since = FREE_CHECK_BYTES;
	static unsigned long long free_bytes = ~0ULL;
	struct statvfs vfs;

	since += (long long)len;
	if (since < FREE_CHECK_BYTES && free_bytes > FREE_WATCH)
		return 0;
	since = 0;
	if (fstatvfs(rec.logfd, &vfs) != 0)
		return 0;
	free_bytes = (unsigned long long)vfs.f_bavail * vfs.f_frsize;
	return free_bytes < HOST_MIN_FREE + len;
}

/* logs.maxBytes: a session that runs for days must not fill the disk.
 * output.log becomes output.log.1 (the one before is dropped) and a new
 * output.log starts: at most twice the limit on disk; `logs` reads both,
 * in order. A failure to rotate keeps writing where it was. */
static void
rotate(void)
{
	char *path, *old;
	int fd;

	xasprintf(&path, "%s/output.log", rec.dir);
	xasprintf(&old, "%s/output.log.1", rec.dir);
	if (rename(path, old) == 0 &&
	    (fd = open(
	         path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600)) >= 0) {
		close(rec.logfd);
		rec.logfd = fd;
		rec.bytes = 0;
	} else
		log_warn("cannot rotate output.log: %s", strerror(errno));
	free(path);
	free(old);
}

int
host_record_output(const char *data, size_t len)
{
	if (rec.logfd < 0 || rec.lost != NULL)
		return 0;
	if (disk_low(len)) {
		output_lost(ENOSPC,
		    " (under 1 MiB free, kept for galley's "
		    "records)");
		return 1;
	}
	while (len > 0) {
		size_t n = len;
		/* a read is up to 64 KiB: cut it where the limit falls, so
		 * no file holds more than logs.maxBytes */
		if (rec.max && rec.bytes >= rec.max)
			rotate(); /* if it fails, the file goes on growing */
		if (rec.max && rec.bytes < rec.max &&
		    rec.bytes + (long long)n > rec.max)
			n = (size_t)(rec.max - rec.bytes);
		if (write_all(rec.logfd, data, n) < 0) {
			output_lost(errno, "");
			return 1;
		}
		rec.bytes += (long long)n;
		data += n;
		len -= n;
	}
	return 0;
}

void
host_records_close(void)
{
	if (rec.logfd < 0)
		return;
	if (fsync(rec.logfd) != 0 && rec.lost == NULL && errno != EINVAL)
		output_lost(errno, "");
	close(rec.logfd);
	rec.logfd = -1;
}

const char *
host_records_lost(void)
{
	return rec.lost;
}

void
host_record_exit(int code, int sig)
{
	json_t *o;
	char *text;

	o = json_pack("{s:i, s:i, s:I}", "code", code, "signal", sig, "at",
	    (json_int_t)wall_ms());
	if (rec.lost)
		json_object_set_new(o, "log_error", json_string(rec.lost));
	text = json_dumps(o, JSON_COMPACT);
	if (write_record(&rec.exit_fd, "exit", text, strlen(text)) < 0)
		log_error("cannot write the exit file");
	free(text);
	json_decref(o);
}

void
host_record_screen(struct screen *screen)
{
	struct buf b = BUF_INIT;

	screen_text(screen, 0, &b);
	write_record(&rec.screen_fd, "screen.txt", b.data ? b.data : "", b.len);
	buf_release(&b);
}

void
host_records_free(void)
{
	free(rec.dir);
	free(rec.lost);
	rec.dir = rec.lost = NULL;
}
