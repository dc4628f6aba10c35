/* The runtime table, and what the drivers share. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "galley.h"
#include "runtime.h"
#include "xmalloc.h"

static const struct runtime *const runtimes[] = {
    &runtime_claude,
    &runtime_exec,
    &runtime_fake,
};

const struct runtime *
runtime_find(const char *name)
{
	for (size_t i = 0; name && i < nitems(runtimes); i++)
		if (strcmp(runtimes[i]->name, name) == 0)
			return runtimes[i];
	return NULL;
}

int
runtime_unknown(const char *name, struct err *err)
{
	if (name && strcmp(name, "codex") == 0)
		return err_set(err, ERR_USAGE,
		    "runtime '%s' is not available in this build yet: use "
		    "--runtime claude, fake or exec",
		    name);
	return err_set(err, ERR_USAGE,
	    "unknown runtime '%.32s': use claude, exec or fake",
	    name ? name : "");
}

const char *
runtime_kind(const char *name)
{
	const struct runtime *rt = runtime_find(name);

	return rt ? rt->kind : "agent";
}

#define RESULT_SCAN_MAX (1u << 20)

json_t *
runtime_result_line(const char *log)
{
	json_t *res = NULL;
	struct stat st;
	char *data = NULL;
	int fd = open(log, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &st) != 0)
		goto out;
	off_t from = st.st_size > (off_t)RESULT_SCAN_MAX
	    ? st.st_size - (off_t)RESULT_SCAN_MAX
	    : 0;
	size_t len = (size_t)(st.st_size - from);
	data = xmalloc(len + 1);
	ssize_t n = pread(fd, data, len, from);
	if (n <= 0)
		goto out;
	data[n] = '\0';
	for (char *p = data; (p = strstr(p, "{\"type\":\"result\"")) != NULL;
	     p++) {
		size_t l = strcspn(p, "\r\n");
		json_t *j = json_loadb(p, l, 0, NULL);
		if (json_is_object(j)) {
			json_decref(res);
			res = j;
		} else
			json_decref(j);
	}
out:
	if (fd >= 0)
		close(fd);
	free(data);
	return res;
}
