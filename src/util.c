/* Paths, time, ids and file helpers. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util.h"
#include "xmalloc.h"

/* Resolve a base dir: $GALLEY_HOME/<sub>, else $XDG_<var>/galley, else
 * $HOME/<fallback>/galley. */
static char *
path_base(const char *sub, const char *xdg, const char *fallback)
{
	const char *home = getenv("GALLEY_HOME"), *x;
	char *p;

	if (home != NULL && *home != '\0') {
		char cwd[PATH_MAX];
		if (home[0] != '/' && getcwd(cwd, sizeof cwd) != NULL) {
			/* the daemon runs in /: hand it an absolute path */
			char *abs;
			xasprintf(&abs, "%s/%s", cwd, home);
			setenv("GALLEY_HOME", abs, 1);
			free(abs);
			home = getenv("GALLEY_HOME");
		}
		xasprintf(&p, "%s/%s", home, sub);
		return p;
	}
	x = getenv(xdg);
	if (x != NULL && *x == '/') {
		xasprintf(&p, "%s/galley", x);
		return p;
	}
	home = getenv("HOME");
	if (home == NULL || *home == '\0')
		home = "/tmp";
	if (fallback == NULL) /* no XDG_RUNTIME_DIR: a per-uid dir in /tmp */
		xasprintf(&p, "/tmp/galley-%ld", (long)getuid());
	else
		xasprintf(&p, "%s/%s/galley", home, fallback);
	return p;
}

const char *
path_run_dir(void)
{
	static char *p;

	if (p == NULL)
		p = path_base("run", "XDG_RUNTIME_DIR", NULL);
	return p;
}

const char *
path_state_dir(void)
{
	static char *p;

	if (p == NULL)
		p = path_base("state", "XDG_STATE_HOME", ".local/state");
	return p;
}

const char *
path_config_dir(void)
{
	static char *p;

	if (p == NULL)
		p = path_base("config", "XDG_CONFIG_HOME", ".config");
	return p;
}

const char *
path_socket(void)
{
	static char *p;

	if (p == NULL)
		xasprintf(&p, "%s/sock", path_run_dir());
	return p;
}

char *
path_session_dir(const char *id)
{
	char *p;

	xasprintf(&p, "%s/sessions/%s", path_state_dir(), id);
	return p;
}

int
mkdir_p(const char *path, mode_t mode, struct err *err)
{
	char *copy = xstrdup(path), *s;
	int rc = 0;

	for (s = copy + 1;; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		char c = *s;
		*s = '\0';
		if (mkdir(copy, mode) != 0 && errno != EEXIST) {
			rc = err_set(err, ERR_FAILED, "cannot create '%s': %s",
			    copy, strerror(errno));
			break;
		}
		*s = c;
		if (c == '\0')
			break;
	}
	free(copy);
	return rc;
}

int
write_file_atomic(const char *path, const void *data, size_t len, mode_t mode,
    struct err *err)
{
	return write_file_replace(path, data, len, mode, 1, err);
}

/* Write-temp, (fsync,) rename: readers see the old content or the new.
 * Without durable, a crash of the machine may lose the new content, never
 * leave half of it: right for files that are rewritten on every start. */
int
write_file_replace(const char *path, const void *data, size_t len, mode_t mode,
    int durable, struct err *err)
{
	char *tmp;
	int fd, rc = -1;

	xasprintf(&tmp, "%s.tmp.%ld", path, (long)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0) {
		err_set(err, ERR_FAILED, "cannot write '%s': %s", tmp,
		    strerror(errno));
		goto fail;
	}
	if (write_all(fd, data, len) < 0 || (durable && fsync(fd) != 0)) {
		err_set(err, ERR_FAILED, "cannot write '%s': %s", tmp,
		    strerror(errno));
		close(fd);
		unlink(tmp);
		goto fail;
	}
	close(fd);
	if (rename(tmp, path) != 0) {
		err_set(err, ERR_FAILED, "cannot rename '%s': %s", tmp,
		    strerror(errno));
		unlink(tmp);
		goto fail;
	}
	rc = 0;
fail:
	free(tmp);
	return rc;
}

int
read_file(const char *path, struct buf *out, size_t max, struct err *err)
{
	char chunk[8192];
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_set(err,
		    errno == ENOENT ? ERR_NOT_FOUND : ERR_FAILED,
		    "cannot read '%s': %s", path, strerror(errno));
	while ((n = read(fd, chunk, sizeof chunk)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			close(fd);
			return err_set(err, ERR_FAILED, "cannot read '%s': %s",
			    path, strerror(errno));
		}
		if (out->len + (size_t)n > max) {
			close(fd);
			return err_set(err, ERR_FAILED,
			    "'%s' is larger than %zu bytes", path, max);
		}
		buf_add(out, chunk, (size_t)n);
	}
	close(fd);
	return 0;
}

static int
rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

int
rm_rf(const char *path)
{
	return nftw(path, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

void
random_hex(char *out, size_t nhex)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char raw[64];

	/* in chunks of sizeof raw bytes: longer output must not read past
	 * raw (nor repeat it) */
	for (size_t done = 0; done < nhex;) {
		size_t n = nhex - done, nbytes;
		if (n > 2 * sizeof raw)
			n = 2 * sizeof raw;
		nbytes = (n + 1) / 2;
		if (getrandom(raw, nbytes, 0) != (ssize_t)nbytes) {
			/* getrandom cannot fail for small sizes after boot;
			 * still, fall back to something unique rather than
			 * zeros */
			for (size_t i = 0; i < nbytes; i++)
				raw[i] = (unsigned char)(rand() ^ getpid() ^ i);
		}
		for (size_t i = 0; i < n; i++)
			out[done + i] =
			    hex[(raw[i / 2] >> ((i % 2) ? 0 : 4)) & 0xf];
		done += n;
	}
	out[nhex] = '\0';
}

uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int64_t
wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
iso_time(int64_t ms, char *out, size_t len)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* "2026-11-24": the UTC day of ms. */
void
iso_day(int64_t ms, char out[11])
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 11, "%Y-%m-%d", &tm);
}

/* The kernel's boot id; GALLEY_BOOT_ID overrides it so tests can simulate
 * a reboot without rebooting. */
const char *
boot_id(void)
{
	static char id[64];
	const char *env = getenv("GALLEY_BOOT_ID");
	FILE *f;

	if (env != NULL && *env != '\0')
		return env;
	if (id[0] != '\0')
		return id;
	f = fopen("/proc/sys/kernel/random/boot_id", "re");
	if (f != NULL) {
		if (fgets(id, sizeof id, f) != NULL)
			id[strcspn(id, "\n")] = '\0';
		fclose(f);
	}
	if (id[0] == '\0')
		strcpy(id, "unknown");
	return id;
}

const char *
self_exe(void)
{
	static char path[PATH_MAX];
	ssize_t n;

	if (path[0] != '\0')
		return path;
	n = readlink("/proc/self/exe", path, sizeof path - 1);
	if (n <= 0)
		strcpy(path, "galley");
	else
		path[n] = '\0';
	/* replaced on disk (make, an upgrade) while running: the new binary
	 * at the same path is the one to run */
	size_t len = strlen(path);
	if (len > 10 && strcmp(path + len - 10, " (deleted)") == 0)
		path[len - 10] = '\0';
	return path;
}

/* Alive and not a zombie: an exited host whose parent (the daemon that
 * spawned it) is gone may stay a zombie until init reaps it. */
int
pid_alive(pid_t pid)
{
	char path[64], buf[512];
	ssize_t n;
	int fd;

	if (pid <= 0)
		return 0;
	if (kill(pid, 0) != 0 && errno != EPERM)
		return 0;
	snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 1;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return 1;
	buf[n] = '\0';
	char *paren = strrchr(buf, ')');
	return !(paren && paren[1] == ' ' && paren[2] == 'Z');
}

int
set_cloexec(int fd)
{
	int flags = fcntl(fd, F_GETFD);

	return flags < 0 ? -1 : fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
}

int
set_nonblock(int fd)
{
	int flags = fcntl(fd, F_GETFL);

	return flags < 0 ? -1 : fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

ssize_t
write_all(int fd, const void *data, size_t len)
{
	const char *p = data;
	size_t done = 0;

	while (done < len) {
		ssize_t n = write(fd, p + done, len - done);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		done += (size_t)n;
	}
	return (ssize_t)done;
}

/* Copy replacing invalid UTF-8 with U+FFFD, so any bytes can go in JSON. */
void
utf8_sanitize(const char *p, size_t n, struct buf *out)
{
	const unsigned char *s = (const unsigned char *)p;
	size_t i = 0;

	while (i < n) {
		unsigned char c = s[i];
		size_t len = c < 0x80 ? 1
		    : (c >> 5) == 6   ? 2
		    : (c >> 4) == 14  ? 3
		    : (c >> 3) == 30  ? 4
		                      : 0;
		int ok = len > 0 && i + len <= n;
		for (size_t k = 1; ok && k < len; k++)
			ok = (s[i + k] & 0xc0) == 0x80;
		if (ok && len == 2 && c < 0xc2)
			ok = 0; /* overlong */
		if (ok && len == 3) {
			unsigned cp = (c & 0x0fu) << 12 |
			    (s[i + 1] & 0x3fu) << 6 | (s[i + 2] & 0x3fu);
			ok = cp >= 0x800 && (cp < 0xd800 || cp > 0xdfff);
		}
		if (ok && len == 4) {
			unsigned cp = (c & 0x07u) << 18 |
			    (s[i + 1] & 0x3fu) << 12 | (s[i + 2] & 0x3fu) << 6 |
			    (s[i + 3] & 0x3fu);
			ok = cp >= 0x10000 && cp <= 0x10ffff;
		}
		if (ok) {
			buf_add(out, p + i, len);
			i += len;
		} else {
			buf_adds(out, "\xef\xbf\xbd");
			i++;
		}
	}
}

/* The last non-blank line of a text (a screen), trimmed, into out. */
void
last_text_line(const char *scr, char *out, size_t size)
{
	const char *end = scr + strlen(scr);

	out[0] = '\0';
	while (end > scr) {
		const char *start = end;
		while (start > scr && start[-1] != '\n')
			start--;
		const char *a = start, *b = end;
		while (a < b && (*a == ' ' || *a == '\n' || *a == '\r'))
			a++;
		while (
		    b > a && (b[-1] == ' ' || b[-1] == '\n' || b[-1] == '\r'))
			b--;
		if (b > a) {
			snprintf(out, size, "%.*s", (int)(b - a), a);
			return;
		}
		end = start > scr ? start - 1 : scr;
	}
}

/* The first executable regular file called name in a PATH-style list of
 * dirs; caller frees. NULL if none. */
char *
path_search(const char *dirs, const char *name)
{
	struct stat st;
	char *p;

	while (dirs && *dirs) {
		size_t n = strcspn(dirs, ":");
		xasprintf(&p, "%.*s/%s", (int)n, n ? dirs : ".", name);
		if (stat(p, &st) == 0 && S_ISREG(st.st_mode) &&
		    access(p, X_OK) == 0)
			return p;
		free(p);
		dirs += n + (dirs[n] == ':');
	}
	return NULL;
}
