/* The tool-rule matcher: a rule ("Bash(git push *)", "Edit(src/...)"),
 * and a tool call as JSON {"tool": ..., "input": {...}}, split at the
 * first NUL. Any rule matches or not; a malformed one matches nothing. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bash-writes.h"
#include "tool-rules.h"
#include "xmalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *rule = xstrndup((const char *)data, size);
	size_t n = strlen(rule);
	json_t *call = n < size
	    ? json_loadb((const char *)data + n + 1, size - n - 1, 0, NULL)
	    : NULL;
	const char *tool = json_string_value(json_object_get(call, "tool"));
	json_t *input = json_object_get(call, "input");

	tool_rule_match(rule, tool ? tool : "Bash", input, "/work/repo");
	/* the Bash command's writes, as the sandbox's write check reads them */
	json_t *writes = json_array();
	bash_writes(rule, "/work/repo", writes);
	json_decref(writes);
	json_decref(call);
	free(rule);
	return 0;
}
