/* The runtime table. */
#include <string.h>

#include "galley.h"
#include "runtime.h"

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
