/* sandbox-exec: the trampoline that runs inside bubblewrap. Landlock
 * cannot go on before bwrap runs, since a Landlock domain may not mount,
 * so bwrap runs this, which confines itself and execs the command; and
 * the relay to the API endpoint of --sandbox net starts here, inside the
 * network namespace:
 *
 *   galley sandbox-exec [--best-effort] [--write PATH]...
 *       [--relay-unix SOCK (--relay-listen ADDR:PORT)... [--relay-proxy
 *        http|https]] -- CMD [ARG...]
 *
 * The relay (`galley netrelay`, a child that dies with the command)
 * listens on each ADDR:PORT of this namespace's loopback and carries each
 * connection to SOCK, the relay outside. With --relay-proxy the command
 * gets HTTPS_PROXY (and HTTP_PROXY for http) naming it. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cmd.h"
#include "sandbox.h"
#include "xmalloc.h"

#define MAX_RELAY_LISTEN 4

/* ADDR:PORT or [V6]:PORT on this namespace's loopback: a listening fd
 * (its port in *port), or -1 with msg. An IPv6 address where IPv6 is off
 * gives -2: skipped. */
static int
relay_listen(const char *spec, int *port, char *msg, size_t len)
{
	struct sockaddr_storage ss = {0};
	struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
	const char *colon = strrchr(spec, ':');
	char host[64];
	socklen_t sl;
	int fd, one = 1, v6 = spec[0] == '[';
	char *end;
	long p;

	if (colon == NULL || (size_t)(colon - spec) >= sizeof host)
		goto bad;
	p = strtol(colon + 1, &end, 10);
	if (colon[1] == '\0' || *end || p < 0 || p > 65535)
		goto bad;
	if (v6) {
		if (colon - spec < 3 || colon[-1] != ']')
			goto bad;
		memcpy(host, spec + 1, (size_t)(colon - spec - 2));
		host[colon - spec - 2] = '\0';
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)p);
		if (inet_pton(AF_INET6, host, &in6->sin6_addr) != 1)
			goto bad;
		sl = sizeof *in6;
	} else {
		memcpy(host, spec, (size_t)(colon - spec));
		host[colon - spec] = '\0';
		in4->sin_family = AF_INET;
		in4->sin_port = htons((uint16_t)p);
		if (inet_pton(AF_INET, host, &in4->sin_addr) != 1)
			goto bad;
		sl = sizeof *in4;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		if (v6 && errno == EAFNOSUPPORT)
			return -2;
		snprintf(msg, len, "socket: %s", strerror(errno));
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (v6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
	if (bind(fd, (struct sockaddr *)&ss, sl) != 0 || listen(fd, 128) != 0) {
		int e = errno;
		close(fd);
		if (v6 && e == EADDRNOTAVAIL)
			return -2;
		snprintf(
		    msg, len, "cannot listen on %s: %s", spec, strerror(e));
		return -1;
	}
	sl = sizeof ss;
	getsockname(fd, (struct sockaddr *)&ss, &sl);
	*port = ntohs(v6 ? in6->sin6_port : in4->sin_port);
	return fd;
bad:
	snprintf(msg, len, "bad --relay-listen '%s'", spec);
	return -1;
}

/* Start the relay inside; with proxy, point the command's proxy
 * variables at it. 0, or -1 with msg. */
static int
relay_start(const char *sock, char **listen, int nlisten, const char *proxy,
    char *msg, size_t len)
{
	int fds[MAX_RELAY_LISTEN], nfd = 0, port = 0, first = -1, rc = -1;
	char *args[2 * MAX_RELAY_LISTEN + 3], fdargs[MAX_RELAY_LISTEN][16];
	int na = 0;

	for (int i = 0; i < nlisten; i++) {
		int fd = relay_listen(listen[i], &port, msg, len);
		if (fd == -2)
			continue;
		if (fd < 0)
			goto out;
		if (first < 0)
			first = port;
		fds[nfd] = fd;
		snprintf(fdargs[nfd], sizeof fdargs[nfd], "%d", fd);
		args[na++] = "--fd";
		args[na++] = fdargs[nfd++];
	}
	if (nfd == 0) {
		snprintf(msg, len, "no address to listen on");
		goto out;
	}
	args[na++] = "--to-unix";
	args[na++] = (char *)sock;
	args[na] = NULL;
	if (sandbox_relay_spawn(args, fds, nfd, 1) < 0) {
		snprintf(
		    msg, len, "cannot start the relay: %s", strerror(errno));
		goto out;
	}
	if (proxy) {
		/* only the endpoint is reachable: a NO_PROXY naming it would
		 * bypass the one way out; this loopback stays direct */
		char url[64];
		snprintf(url, sizeof url, "http://127.0.0.1:%d", first);
		setenv("HTTPS_PROXY", url, 1);
		setenv("https_proxy", url, 1);
		if (strcmp(proxy, "http") == 0) {
			setenv("HTTP_PROXY", url, 1);
			setenv("http_proxy", url, 1);
		}
		setenv("NO_PROXY", "localhost,127.0.0.1,::1", 1);
		setenv("no_proxy", "localhost,127.0.0.1,::1", 1);
	}
	rc = 0;
out:
	for (int i = 0; i < nfd; i++)
		close(fds[i]);
	return rc;
}

static int
sandbox_exec_run(struct cmd_ctx *ctx)
{
	char **paths = xcalloc((size_t)ctx->argc + 1, sizeof *paths);
	char *listen[MAX_RELAY_LISTEN];
	const char *sock = NULL, *proxy = NULL;
	char msg[512];
	int i, n = 0, nlisten = 0, best_effort = 0;

	for (i = 1; i < ctx->argc; i++) {
		const char *a = ctx->argv[i];
		int has = i + 1 < ctx->argc;
		if (strcmp(a, "--best-effort") == 0)
			best_effort = 1;
		else if (strcmp(a, "--write") == 0 && has)
			paths[n++] = ctx->argv[++i];
		else if (strcmp(a, "--relay-unix") == 0 && has)
			sock = ctx->argv[++i];
		else if (strcmp(a, "--relay-listen") == 0 && has &&
		    nlisten < MAX_RELAY_LISTEN)
			listen[nlisten++] = ctx->argv[++i];
		else if (strcmp(a, "--relay-proxy") == 0 && has)
			proxy = ctx->argv[++i];
		else
			break;
	}
	if (i + 1 >= ctx->argc || strcmp(ctx->argv[i], "--") != 0 ||
	    (sock != NULL) != (nlisten > 0)) {
		free(paths);
		return cmd_usage_error(ctx,
		    "expected [--write PATH]... [--relay-unix SOCK "
		    "--relay-listen ADDR:PORT...] -- CMD");
	}
	/* the relay first: it is not confined by Landlock, only by the
	 * namespace, and it needs no more than to connect to sock */
	if (sock &&
	    relay_start(sock, listen, nlisten, proxy, msg, sizeof msg) < 0) {
		fprintf(stderr,
		    "galley: %s the relay to the API endpoint: %s\n",
		    best_effort ? "running without" : "cannot start", msg);
		if (!best_effort) {
			free(paths);
			return 127;
		}
	}
	if (n > 0 && sandbox_restrict(paths, msg, sizeof msg) < 0) {
		fprintf(stderr, "galley: %s the write sandbox: %s\n",
		    best_effort ? "running without" : "cannot apply", msg);
		if (!best_effort) {
			free(paths);
			return 127;
		}
	}
	free(paths);
	execvp(ctx->argv[i + 1], ctx->argv + i + 1);
	fprintf(stderr, "galley: cannot run '%s': %s\n", ctx->argv[i + 1],
	    strerror(errno));
	return 127;
}

const struct cmd_entry cmd_sandbox_exec_entry = {
    .name = "sandbox-exec",
    .usage = "[--best-effort] [--write PATH]... [--relay-unix SOCK "
             "(--relay-listen ADDR:PORT)... [--relay-proxy SCHEME]] -- CMD "
             "[ARG...]",
    .summary = "(internal) start the endpoint relay, confine writes with "
               "Landlock, then run CMD",
    .flags = CMD_INTERNAL | CMD_NOJSON,
    .run = sandbox_exec_run,
};
