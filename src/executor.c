/* The table of executors: a new one (Slurm, say) is one more row. */
#include <string.h>

#include "executor.h"

static const struct executor *const executors[] = {
    &executor_local,
    &executor_slurm,
    NULL,
};

const struct executor *
executor_find(const char *name)
{
	if (name == NULL)
		name = "local";
	for (int i = 0; executors[i]; i++)
		if (strcmp(executors[i]->name, name) == 0)
			return executors[i];
	return NULL;
}

void
executor_init(const struct executor_sink *sink)
{
	for (int i = 0; executors[i]; i++)
		executors[i]->init(sink);
}

void
executor_shutdown(void)
{
	for (int i = 0; executors[i]; i++)
		executors[i]->shutdown();
}
