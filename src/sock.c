/* Unix socket helpers. Paths longer than sun_path (108 bytes: deep test
 * temp dirs hit it) go through /proc/self/fd/N/<name> of the directory. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "sock.h"
#include "util.h"
#include "xmalloc.h"

/* Fill addr for path; *dirfd is an fd to close afterwards, or -1. */
static int
sock_addr(
    const char *path, struct sockaddr_un *addr, int *dirfd, struct err *err)
{
	memset(addr, 0, sizeof *addr);
	addr->sun_family = AF_UNIX;
	*dirfd = -1;
	if (strlen(path) < sizeof addr->sun_path) {
		strcpy(addr->sun_path, path);
		return 0;
	}
	const char *slash = strrchr(path, '/');
	if (slash == NULL)
		return err_set(
		    err, ERR_FAILED, "socket path too long: %s", path);
	char *dir = xstrndup(path, (size_t)(slash - path));
	*dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	free(dir);
	if (*dirfd < 0)
		return err_set(err, ERR_FAILED,
		    "cannot open socket dir of %s: %s", path, strerror(errno));
	if ((size_t)snprintf(addr->sun_path, sizeof addr->sun_path,
	        "/proc/self/fd/%d/%s", *dirfd,
	        slash + 1) >= sizeof addr->sun_path) {
		close(*dirfd);
		*dirfd = -1;
		return err_set(
		    err, ERR_FAILED, "socket name too long: %s", path);
	}
	return 0;
}

int
sock_listen(const char *path, struct err *err)
{
	struct sockaddr_un addr;
	int fd, dirfd;

	if (sock_addr(path, &addr, &dirfd, err) < 0)
		return -1;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		err_set(err, ERR_FAILED, "socket: %s", strerror(errno));
		goto fail;
	}
	unlink(path);
	if (bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0 ||
	    chmod(path, 0600) != 0 || listen(fd, 128) != 0) {
		err_set(err, ERR_FAILED, "cannot listen on '%s': %s", path,
		    strerror(errno));
		close(fd);
		fd = -1;
	}
fail:
	if (dirfd >= 0)
		close(dirfd);
	return fd;
}

int
sock_connect(const char *path, struct err *err)
{
	struct sockaddr_un addr;
	int fd, dirfd, rc;

	if (sock_addr(path, &addr, &dirfd, err) < 0)
		return -1;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		err_set(err, ERR_FAILED, "socket: %s", strerror(errno));
		goto out;
	}
	do
		rc = connect(fd, (struct sockaddr *)&addr, sizeof addr);
	while (rc != 0 && errno == EINTR);
	if (rc != 0) {
		int e = errno;
		err_set(err, ERR_UNREACHABLE, "cannot connect to '%s': %s",
		    path, strerror(e));
		close(fd);
		fd = -1;
		errno = e;
	}
out:
	if (dirfd >= 0)
		close(dirfd);
	return fd;
}

int
sock_peer_ok(int fd)
{
	struct ucred cred;
	socklen_t len = sizeof cred;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0)
		return 0;
	return cred.uid == getuid();
}

int
sock_send(int fd, json_t *obj, struct err *err)
{
	struct buf b = BUF_INIT;
	int rc = 0;

	if (proto_encode(&b, obj, err) < 0)
		return -1;
	if (write_all(fd, b.data, b.len) < 0)
		rc = err_set(err, ERR_UNREACHABLE, "connection lost: %s",
		    strerror(errno));
	buf_release(&b);
	return rc;
}

int
sock_recv(int fd, struct proto_reader *rd, json_t **out, int timeout_ms,
    struct err *err)
{
	uint64_t deadline =
	    timeout_ms < 0 ? 0 : now_ms() + (uint64_t)timeout_ms;
	char chunk[65536];

	for (;;) {
		int rc = proto_next(rd, out, err);
		if (rc != 0)
			return rc;
		if (timeout_ms >= 0) {
			/* a timeout of 0 still reads what is there */
			struct pollfd pfd = {fd, POLLIN, 0};
			uint64_t now = now_ms();
			rc = poll(&pfd, 1,
			    now >= deadline ? 0 : (int)(deadline - now));
			if (rc < 0 && errno == EINTR)
				continue;
			if (rc < 0)
				return err_set(err, ERR_FAILED, "poll: %s",
				    strerror(errno));
			if (rc == 0)
				return 0;
		}
		ssize_t n = read(fd, chunk, sizeof chunk);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return err_set(
			    err, ERR_UNREACHABLE, "connection closed by peer");
		proto_feed(rd, chunk, (size_t)n);
	}
}

static int
open_peer(const char *path, struct proto_reader *rd, int host, struct err *err)
{
	json_t *hello = host ? proto_host_hello() : proto_hello(),
	       *reply = NULL;
	int fd = sock_connect(path, err), agreed;

	if (fd < 0)
		goto fail;
	/* a peer that refuses us writes why and closes, maybe before our
	 * hello is out (EPIPE): read its answer all the same */
	struct err sent = ERR_INIT;
	int send_rc = sock_send(fd, hello, &sent);
	if (sock_recv(fd, rd, &reply, 10000, err) <= 0) {
		if (send_rc < 0) {
			err_release(err);
			*err = sent;
		} else
			err_release(&sent);
		goto fail_close;
	}
	err_release(&sent);
	if (json_object_get(reply, "error") != NULL) {
		const char *m = json_string_value(json_object_get(
		    json_object_get(reply, "error"), "message"));
		err_set(err, ERR_PROTOCOL, "%s", m ? m : "refused by peer");
		goto fail_close;
	}
	if ((host ? proto_check_host_hello(reply, &agreed, err)
	          : proto_check_hello(reply, err)) < 0)
		goto fail_close;
	json_decref(reply);
	json_decref(hello);
	return fd;
fail_close:
	if (reply == NULL && err->code == ERR_NONE)
		err_set(err, ERR_UNREACHABLE, "no hello from '%s'", path);
	close(fd);
	fd = -1;
fail:
	json_decref(reply);
	json_decref(hello);
	return fd;
}

int
sock_open_peer(const char *path, struct proto_reader *rd, struct err *err)
{
	return open_peer(path, rd, 0, err);
}

int
sock_open_host(const char *path, struct proto_reader *rd, struct err *err)
{
	return open_peer(path, rd, 1, err);
}
