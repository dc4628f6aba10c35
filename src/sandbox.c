/*
 * --sandbox (DESIGN §7). write: Landlock, by raw syscalls, handles only the
 * write-type rights (reading and executing stay allowed everywhere) and
 * allows them beneath the session's directory, its private temp, the
 * terminal and sinks of /dev and what its runtime keeps state in. net:
 * bubblewrap gives the command a new network namespace with only its own
 * loopback. Both confine the agent's process tree alone: the host and the
 * daemon never are.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/landlock.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "claude-config.h"
#include "runtime.h"
#include "sandbox.h"
#include "sock.h"
#include "util.h"
#include "xmalloc.h"

/* newer than the kernel headers Debian builds with: the values are ABI */
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14) /* ABI 3 */
#endif
#ifndef LANDLOCK_ACCESS_FS_IOCTL_DEV
#define LANDLOCK_ACCESS_FS_IOCTL_DEV (1ULL << 15) /* ABI 5 */
#endif

/* the rights a rule on a regular file may carry, and on a directory */
#define WRITE_FILE_RIGHTS                                                      \
	(LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_TRUNCATE |         \
	    LANDLOCK_ACCESS_FS_IOCTL_DEV)
#define WRITE_DIR_RIGHTS                                                       \
	(WRITE_FILE_RIGHTS | LANDLOCK_ACCESS_FS_REMOVE_DIR |                   \
	    LANDLOCK_ACCESS_FS_REMOVE_FILE | LANDLOCK_ACCESS_FS_MAKE_CHAR |    \
	    LANDLOCK_ACCESS_FS_MAKE_DIR | LANDLOCK_ACCESS_FS_MAKE_REG |        \
	    LANDLOCK_ACCESS_FS_MAKE_SOCK | LANDLOCK_ACCESS_FS_MAKE_FIFO |      \
	    LANDLOCK_ACCESS_FS_MAKE_BLOCK | LANDLOCK_ACCESS_FS_MAKE_SYM |      \
	    LANDLOCK_ACCESS_FS_REFER)

#define BWRAP_RETRY_MS 60000

static int
landlock_version(void)
{
	return (int)syscall(SYS_landlock_create_ruleset, NULL, 0,
	    LANDLOCK_CREATE_RULESET_VERSION);
}

int
sandbox_landlock_abi(const char **why)
{
	const char *t = getenv("GALLEY_TEST_NO_LANDLOCK");
	int abi;

	if (t && strcmp(t, "1") == 0) {
		*why = "Landlock is off (GALLEY_TEST_NO_LANDLOCK, for tests)";
		return 0;
	}
	abi = landlock_version();
	if (abi >= 1)
		return abi;
	if (errno == ENOSYS)
		*why = "this kernel has no Landlock (5.13 or later, built "
		       "with CONFIG_SECURITY_LANDLOCK)";
	else if (errno == EOPNOTSUPP)
		*why = "Landlock is disabled in this kernel (add landlock to "
		       "its lsm= boot parameter)";
	else
		*why = "Landlock is not usable here";
	return 0;
}

/* Run bwrap as sessions will, once: a binary present but unable to make a
 * namespace (no user namespaces in a container) is as good as none. */
static int
bwrap_works(const char *path, char *why, size_t len)
{
	char *argv[] = {(char *)path, "--unshare-net", "--dev-bind", "/", "/",
	    "--", "true", NULL};
	posix_spawn_file_actions_t fa;
	char line[200] = "";
	int pfd[2], status = 0;
	size_t n = 0;
	pid_t pid;

	if (pipe2(pfd, O_CLOEXEC) != 0) {
		snprintf(why, len, "cannot run bwrap: %s", strerror(errno));
		return 0;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, pfd[1], 2);
	int rc = posix_spawn(&pid, path, &fa, NULL, argv, NULL);
	posix_spawn_file_actions_destroy(&fa);
	close(pfd[1]);
	if (rc != 0) {
		close(pfd[0]);
		snprintf(why, len, "cannot run %s: %s", path, strerror(rc));
		return 0;
	}
	for (;;) {
		ssize_t r = read(pfd[0], line + n, sizeof line - 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
		if (n == sizeof line - 1)
			break;
	}
	line[n] = '\0';
	close(pfd[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 1;
	line[strcspn(line, "\n")] = '\0';
	snprintf(why, len, "%s cannot make a network namespace here%s%s", path,
	    line[0] ? ": " : "", line);
	return 0;
}

const char *
sandbox_bwrap(const char **why)
{
	static char *path, reason[300];
	static int ok;
	static uint64_t checked;
	const char *t = getenv("GALLEY_TEST_NO_BWRAP");

	if (t && strcmp(t, "1") == 0) {
		*why = "bubblewrap is off (GALLEY_TEST_NO_BWRAP, for tests)";
		return NULL;
	}
	if (ok)
		return path;
	if (checked && now_ms() - checked < BWRAP_RETRY_MS) {
		*why = reason;
		return NULL;
	}
	checked = now_ms();
	free(path);
	path = path_search(getenv("PATH"), "bwrap");
	if (path == NULL)
		path = path_search("/usr/bin:/bin", "bwrap");
	if (path == NULL)
		snprintf(reason, sizeof reason,
		    "bubblewrap is not installed (no bwrap on PATH)");
	else if (bwrap_works(path, reason, sizeof reason))
		ok = 1;
	if (ok)
		return path;
	*why = reason;
	return NULL;
}

/* ---- the plan (daemon) ------------------------------------------------ */

static int
want_flag(json_t *want, const char *key)
{
	return json_is_true(json_object_get(want, key));
}

int
sandbox_check(json_t *want, json_t **applied, struct err *err)
{
	int write = want_flag(want, "write"), net = want_flag(want, "net");
	int best = want_flag(want, "best_effort"), abi = 0;
	const char *why_w = NULL, *why_n = NULL, *bwrap = NULL;

	*applied = NULL;
	if (write)
		abi = sandbox_landlock_abi(&why_w);
	if (net)
		bwrap = sandbox_bwrap(&why_n);
	if (!best && write && abi == 0)
		return err_set(err, ERR_FAILED,
		    "--sandbox write needs Landlock: %s; add ',best-effort' "
		    "to run without it",
		    why_w);
	if (!best && net && bwrap == NULL)
		return err_set(err, ERR_FAILED,
		    "--sandbox net needs bubblewrap: %s; add ',best-effort' to "
		    "run without it",
		    why_n);
	*applied = json_pack("{s:b, s:b}", "write", write && abi > 0, "net",
	    net && bwrap != NULL);
	if (abi > 0)
		json_object_set_new(
		    *applied, "landlock_abi", json_integer(abi));
	if ((write && abi == 0) || (net && bwrap == NULL)) {
		char note[400];
		snprintf(note, sizeof note, "%s%s%s",
		    write && abi == 0 ? why_w : "",
		    write && abi == 0 && net && !bwrap ? "; " : "",
		    net && !bwrap ? why_n : "");
		json_object_set_new(*applied, "missing", json_string(note));
	}
	return 0;
}

/* ---- the API endpoint of a net sandbox (cmd-netrelay.c) ---------------- */

struct endpoint {
	char scheme[6]; /* http, https */
	char host[256]; /* without brackets */
	int port;
	int v6;
};

/* scheme://host[:port][/...]: no user info, a plain host name or an
 * address. 0, or -1 with why. */
static int
parse_url(const char *url, struct endpoint *ep, char *why, size_t len)
{
	const char *a;
	size_t al, hl;

	memset(ep, 0, sizeof *ep);
	if (strncasecmp(url, "https://", 8) == 0) {
		strcpy(ep->scheme, "https");
		ep->port = 443;
		a = url + 8;
	} else if (strncasecmp(url, "http://", 7) == 0) {
		strcpy(ep->scheme, "http");
		ep->port = 80;
		a = url + 7;
	} else {
		snprintf(why, len, "'%.200s' is not an http(s) URL", url);
		return -1;
	}
	al = strcspn(a, "/?#");
	const char *end = a + al, *colon = NULL, *h = a;
	if (a[0] == '[') {
		const char *rb = memchr(a, ']', al);
		if (rb == NULL)
			goto bad;
		h = a + 1;
		hl = (size_t)(rb - h);
		if (rb + 1 < end && rb[1] != ':')
			goto bad;
		colon = rb + 1 < end ? rb + 1 : NULL;
		ep->v6 = 1;
	} else {
		colon = memchr(a, ':', al);
		hl = colon ? (size_t)(colon - a) : al;
	}
	if (hl == 0 || hl >= sizeof ep->host)
		goto bad;
	for (size_t i = 0; i < hl; i++) {
		char ch = h[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		        (ch >= '0' && ch <= '9') || ch == '.' || ch == '-' ||
		        ch == '_' || (ep->v6 && ch == ':')))
			goto bad;
	}
	memcpy(ep->host, h, hl);
	if (colon) {
		char *e;
		long port = strtol(colon + 1, &e, 10);
		if (e != end || colon + 1 == end || port < 1 || port > 65535)
			goto bad;
		ep->port = (int)port;
	}
	return 0;
bad:
	snprintf(why, len, "'%.200s' has no valid host[:port]", url);
	return -1;
}

/* localhost, 127.0.0.0/8, ::1 */
static int
is_loopback(const struct endpoint *ep)
{
	struct in_addr a4;
	struct in6_addr a6;

	if (strcasecmp(ep->host, "localhost") == 0)
		return 1;
	if (inet_pton(AF_INET, ep->host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, ep->host, &a6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&a6);
	return 0;
}

/* What the relays of a net sandbox do (sandbox_plan): only a runtime that
 * talks to an API has an endpoint. On a loopback address the relay inside
 * takes the endpoint's own address and port, so the URL works as it is;
 * elsewhere it is an HTTP proxy on an ephemeral port (HTTPS_PROXY) that
 * lets CONNECT through to the endpoint alone. Records the endpoint (or why
 * there is none) in applied. */
static json_t *
relay_plan(json_t *applied, const char *runtime, const char *dir, json_t *env)
{
	const struct runtime *rt = runtime_find(runtime);
	const char *url =
	    rt && rt->api_env ? env_lookup(env, rt->api_env) : NULL;
	struct endpoint ep;
	char why[400], *hp;
	json_t *listen = json_array(), *relay;

	if (rt == NULL || rt->api_env == NULL) {
		json_decref(listen);
		return NULL; /* it talks to no API */
	}
	if (url == NULL || url[0] == '\0')
		url = rt->api_default;
	if (parse_url(url, &ep, why, sizeof why) < 0) {
		char note[500];
		snprintf(note, sizeof note, "%s %s: no endpoint is reachable",
		    rt->api_env, why);
		json_object_set_new(
		    applied, "endpoint_error", json_string(note));
		json_decref(listen);
		return NULL;
	}
	xasprintf(&hp, ep.v6 ? "[%s]:%d" : "%s:%d", ep.host, ep.port);
	relay = json_pack("{s:s, s:s+}", "endpoint", hp, "socket", dir,
	    "/" SANDBOX_RELAY_SOCKET);
	if (is_loopback(&ep)) {
		if (strcasecmp(ep.host, "localhost") == 0) {
			json_array_append_new(
			    listen, json_sprintf("127.0.0.1:%d", ep.port));
			json_array_append_new(
			    listen, json_sprintf("[::1]:%d", ep.port));
		} else
			json_array_append_new(listen, json_string(hp));
	} else {
		json_array_append_new(listen, json_string("127.0.0.1:0"));
		json_object_set_new(relay, "proxy", json_string(ep.scheme));
	}
	json_object_set_new(relay, "listen", listen);
	json_object_set_new(applied, "endpoint", json_string(hp));
	free(hp);
	return relay;
}

/* dir/name, or dir alone when name is NULL */
static void
add_path(json_t *list, const char *dir, const char *name)
{
	json_array_append_new(
	    list, name ? json_sprintf("%s/%s", dir, name) : json_string(dir));
}

/* In a git worktree, .git is a file naming its git dir inside the main
 * repository: a commit writes there (index, HEAD), to the shared objects,
 * refs and logs. hooks/ and config stay read-only, so nothing the agent
 * writes runs later outside its sandbox. */
static void
add_git_dirs(json_t *list, const char *cwd)
{
	struct buf b = BUF_INIT, c = BUF_INIT;
	char *path, *common = NULL;

	xasprintf(&path, "%s/.git", cwd);
	if (read_file(path, &b, 4096, NULL) < 0 || b.len < 9 ||
	    strncmp(b.data, "gitdir: ", 8) != 0)
		goto out;
	buf_addc(&b, '\0');
	char *gitdir = b.data + 8;
	gitdir[strcspn(gitdir, "\r\n")] = '\0';
	if (gitdir[0] != '/')
		goto out;
	add_path(list, gitdir, NULL);
	free(path);
	xasprintf(&path, "%s/commondir", gitdir);
	if (read_file(path, &c, 4096, NULL) < 0 || c.len == 0)
		goto out;
	buf_addc(&c, '\0');
	c.data[strcspn(c.data, "\r\n")] = '\0';
	if (c.data[0] == '/')
		common = xstrdup(c.data);
	else
		xasprintf(&common, "%s/%s", gitdir, c.data);
	add_path(list, common, "objects");
	add_path(list, common, "refs");
	add_path(list, common, "logs");
out:
	free(common);
	free(path);
	buf_release(&b);
	buf_release(&c);
}

/* What of cwd may be written: all of it, or, given globs (a team
 * member's own), the deepest directory each names before its first
 * wildcard (src/api for "src/api/" and a double star; made if missing, so
 * the member can write there), a literal path itself, and .git for
 * commits in a main checkout. A glob with a wildcard in its first part
 * cannot be narrowed by directory: all of cwd, held by the hook's check
 * alone. */
static void
add_scope(json_t *list, const char *cwd, json_t *only)
{
	json_t *g;
	size_t i;
	struct stat st;
	char *path;

	json_array_foreach(only, i, g)
	{
		const char *glob = json_string_value(g);
		size_t lit = strcspn(glob, "*?[{");
		size_t dir = lit;
		while (glob[lit] && dir > 0 && glob[dir - 1] != '/')
			dir--;
		while (dir > 0 && glob[dir - 1] == '/')
			dir--;
		if (dir == 0 || glob[0] == '/' || strstr(glob, "..")) {
			json_array_clear(list);
			break; /* not narrowable: all of cwd below */
		}
		xasprintf(&path, "%s/%.*s", cwd, (int)dir, glob);
		if (glob[lit]) /* a directory the member is to write in */
			mkdir_p(path, 0755, NULL);
		json_array_append_new(list, json_string(path));
		free(path);
	}
	if (json_array_size(list) == 0) {
		json_array_append_new(list, json_string(cwd));
		return;
	}
	xasprintf(&path, "%s/.git", cwd);
	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		json_array_append_new(list, json_string(path));
	free(path);
}

/* The terminal, the sinks and sources, and shared memory: not all of
 * /dev, where a root agent could write a disk. */
static const char *const dev[] = {"/dev/null", "/dev/zero", "/dev/full",
    "/dev/random", "/dev/urandom", "/dev/tty", "/dev/ptmx", "/dev/pts",
    "/dev/shm"};

json_t *
sandbox_plan(json_t *want, json_t *applied, const char *runtime,
    const char *cwd, const char *dir, json_t *env)
{
	const struct runtime *rt = runtime_find(runtime);
	json_t *plan = json_object(), *list, *e;
	size_t i;
	char *tmp;

	if (want_flag(want, "write")) {
		/* a private temp, set even when Landlock is missing: the
		 * command behaves the same either way */
		xasprintf(&tmp, "%s/tmp", dir);
		mkdir(tmp, 0700);
		json_array_foreach(env, i, e)
		{
			if (strncmp(json_string_value(e), "TMPDIR=", 7) == 0) {
				json_array_remove(env, i);
				break;
			}
		}
		json_array_append_new(env, json_sprintf("TMPDIR=%s", tmp));
		if (want_flag(applied, "write")) {
			list = json_array();
			add_scope(list, cwd, json_object_get(want, "only"));
			json_array_append_new(list, json_string(tmp));
			for (i = 0; i < sizeof dev / sizeof dev[0]; i++)
				json_array_append_new(
				    list, json_string(dev[i]));
			add_git_dirs(list, cwd);
			if (rt && rt->sandbox_paths)
				rt->sandbox_paths(list, dir, env);
			json_object_set_new(plan, "write", list);
		}
		free(tmp);
	}
	if (want_flag(applied, "net")) {
		const char *why;
		json_object_set_new(
		    plan, "bwrap", json_string(sandbox_bwrap(&why)));
		json_t *relay = relay_plan(applied, runtime, dir, env);
		if (relay)
			json_object_set_new(plan, "relay", relay);
	}
	json_object_set_new(
	    plan, "best_effort", json_boolean(want_flag(want, "best_effort")));
	return plan;
}

/* ---- the host --------------------------------------------------------- */

static void
strv_push(char ***v, size_t *n, const char *s)
{
	*v = xrealloc(*v, (*n + 2) * sizeof **v);
	(*v)[(*n)++] = xstrdup(s);
	(*v)[*n] = NULL;
}

static void
strv_free(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

/* the inside relay's part of sandbox-exec's argv */
static void
relay_args(json_t *relay, char ***out, size_t *n)
{
	const char *sock = json_string_value(json_object_get(relay, "socket"));
	const char *proxy = json_string_value(json_object_get(relay, "proxy"));
	json_t *e;
	size_t i;

	if (sock == NULL)
		return;
	strv_push(out, n, "--relay-unix");
	strv_push(out, n, sock);
	json_array_foreach(json_object_get(relay, "listen"), i, e)
	{
		if (!json_is_string(e))
			continue;
		strv_push(out, n, "--relay-listen");
		strv_push(out, n, json_string_value(e));
	}
	if (proxy) {
		strv_push(out, n, "--relay-proxy");
		strv_push(out, n, proxy);
	}
}

pid_t
sandbox_relay_spawn(char *const args[], const int fds[], int nfd, int quiet)
{
	sigset_t all, old;
	pid_t parent = getpid(), pid;
	char **argv;
	int n = 0;

	while (args[n])
		n++;
	argv = xcalloc((size_t)n + 3, sizeof *argv);
	argv[0] = "galley";
	argv[1] = "netrelay";
	for (int i = 0; i < n; i++)
		argv[i + 2] = args[i];
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	pid = fork();
	if (pid == 0) {
		/* dies with whoever started it; its own session, so neither
		 * the terminal's ^C nor a kill of the command's group ends it
		 * first */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(0);
		setsid();
		struct sigaction sa;
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = SIG_DFL;
		for (int sig = 1; sig < NSIG; sig++)
			if (sig != SIGPIPE)
				sigaction(sig, &sa, NULL);
		for (int i = 0; i < nfd; i++)
			fcntl(fds[i], F_SETFD, 0);
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (null >= 0) {
			dup2(null, 0);
			dup2(null, 1);
			if (quiet)
				dup2(null, 2);
		}
		sigemptyset(&all);
		sigprocmask(SIG_SETMASK, &all, NULL);
		execv(self_exe(), argv);
		_exit(127);
	}
	int e = errno;
	sigprocmask(SIG_SETMASK, &old, NULL);
	free(argv);
	errno = e;
	return pid;
}

pid_t
sandbox_relay_start(json_t *plan, char **sockpath, struct err *err)
{
	json_t *relay = json_object_get(plan, "relay");
	const char *sock = json_string_value(json_object_get(relay, "socket"));
	const char *ep = json_string_value(json_object_get(relay, "endpoint"));
	char fdarg[16];
	pid_t pid;
	int fd;

	*sockpath = NULL;
	if (sock == NULL || ep == NULL)
		return 0;
	fd = sock_listen(sock, err); /* 0600, before the command can ask */
	if (fd < 0)
		return -1;
	snprintf(fdarg, sizeof fdarg, "%d", fd);
	char *args[] = {"--fd", fdarg, "--to", (char *)ep,
	    json_object_get(relay, "proxy") ? "--connect" : NULL, NULL};
	pid = sandbox_relay_spawn(args, &fd, 1, 0);
	close(fd);
	if (pid < 0) {
		unlink(sock);
		return err_set(err, ERR_FAILED, "cannot start the relay: %s",
		    strerror(errno));
	}
	*sockpath = xstrdup(sock);
	return pid;
}

char **
sandbox_argv(json_t *plan, char **argv, char ***paths, int *best_effort)
{
	json_t *write = json_object_get(plan, "write"), *e;
	const char *bwrap = json_string_value(json_object_get(plan, "bwrap"));
	json_t *relay = json_object_get(plan, "relay");
	char **out = NULL, **p = NULL;
	size_t n = 0, np = 0, i;

	*best_effort = want_flag(plan, "best_effort");
	json_array_foreach(write, i, e)
	    strv_push(&p, &np, json_string_value(e));
	if (bwrap) {
		/* bwrap's own mounts are refused to a Landlock domain, so
		 * Landlock goes on inside it, through the trampoline */
		const char *pre[] = {bwrap, "--dev-bind", "/", "/",
		    "--unshare-net", "--die-with-parent", "--"};
		for (i = 0; i < sizeof pre / sizeof pre[0]; i++)
			strv_push(&out, &n, pre[i]);
		if (np > 0 || relay) {
			strv_push(&out, &n, self_exe());
			strv_push(&out, &n, "sandbox-exec");
			if (*best_effort)
				strv_push(&out, &n, "--best-effort");
			for (i = 0; i < np; i++) {
				strv_push(&out, &n, "--write");
				strv_push(&out, &n, p[i]);
			}
			relay_args(relay, &out, &n);
			strv_push(&out, &n, "--");
			strv_free(p);
			p = NULL;
		}
	}
	for (i = 0; argv[i]; i++)
		strv_push(&out, &n, argv[i]);
	*paths = p;
	return out;
}

/* ---- the PTY child ---------------------------------------------------- */

static int
add_rule(int ruleset, const char *path, uint64_t handled, char *msg, size_t len)
{
	struct landlock_path_beneath_attr pb = {0};
	struct stat st;
	int fd = open(path, O_PATH | O_CLOEXEC);

	if (fd < 0 && errno == ENOENT)
		return 0; /* nothing there to write to, nor to allow */
	if (fd < 0 || fstat(fd, &st) != 0) {
		snprintf(
		    msg, len, "cannot open '%s': %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	pb.parent_fd = fd;
	pb.allowed_access = handled &
	    (S_ISDIR(st.st_mode) ? WRITE_DIR_RIGHTS : WRITE_FILE_RIGHTS);
	if (syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH,
	        &pb, 0) != 0) {
		snprintf(msg, len, "landlock_add_rule '%s': %s", path,
		    strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

int
sandbox_restrict(char *const paths[], char *msg, size_t len)
{
	struct landlock_ruleset_attr attr = {0};
	uint64_t handled = WRITE_DIR_RIGHTS;
	const char *t = getenv("GALLEY_TEST_LANDLOCK_FAIL");
	int abi = landlock_version(), ruleset;

	if (t && strcmp(t, "1") == 0) { /* proves the callers fail closed */
		snprintf(msg, len,
		    "failed on purpose "
		    "(GALLEY_TEST_LANDLOCK_FAIL, for tests)");
		return -1;
	}
	if (abi < 1) {
		snprintf(
		    msg, len, "Landlock is not available: %s", strerror(errno));
		return -1;
	}
	/* the kernel docs' compatibility pattern: handle only the rights
	 * this ABI knows, or create_ruleset fails with EINVAL */
	if (abi < 2)
		handled &= ~LANDLOCK_ACCESS_FS_REFER;
	if (abi < 3)
		handled &= ~LANDLOCK_ACCESS_FS_TRUNCATE;
	if (abi < 5)
		handled &= ~LANDLOCK_ACCESS_FS_IOCTL_DEV;
	attr.handled_access_fs = handled;
	ruleset =
	    (int)syscall(SYS_landlock_create_ruleset, &attr, sizeof attr, 0);
	if (ruleset < 0) {
		snprintf(
		    msg, len, "landlock_create_ruleset: %s", strerror(errno));
		return -1;
	}
	for (size_t i = 0; paths && paths[i]; i++) {
		if (add_rule(ruleset, paths[i], handled, msg, len) < 0)
			goto fail;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
		snprintf(msg, len, "PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
		goto fail;
	}
	if (syscall(SYS_landlock_restrict_self, ruleset, 0) != 0) {
		snprintf(
		    msg, len, "landlock_restrict_self: %s", strerror(errno));
		goto fail;
	}
	close(ruleset);
	return 0;
fail:
	close(ruleset);
	return -1;
}
