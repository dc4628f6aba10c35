/* The built-in workflows (data/workflows/, embedded at build time), for
 * `workflow run`, `ls` and a script's workflow(name). */
#include <stddef.h>
#include <string.h>

#include "galley.h"
#include "workflow.h"

extern const char wf_builtin_deep_research[], wf_builtin_audit[],
    wf_builtin_batch[];

static const struct {
	const char *name, *script;
} builtins[] = {
    {"deep-research", wf_builtin_deep_research},
    {"audit", wf_builtin_audit},
    {"batch", wf_builtin_batch},
};

const char *
wf_builtin(const char *name)
{
	for (size_t i = 0; i < nitems(builtins); i++)
		if (strcmp(builtins[i].name, name) == 0)
			return builtins[i].script;
	return NULL;
}

const char *
wf_builtin_name(size_t i)
{
	return i < nitems(builtins) ? builtins[i].name : NULL;
}
