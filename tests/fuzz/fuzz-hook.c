/* A hook payload as `galley hook` forwards it: any JSON object gives a
 * tool label only with a tool name, no longer than the name plus its
 * argument cut at 200 bytes, and a yes/no for "may edit files". */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hook-payload.h"
#include "transcript.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *p = json_loadb((const char *)data, size, 0, NULL);
	struct transcript_usage u;

	if (p == NULL)
		return 0;
	const char *tool = json_string_value(json_object_get(p, "tool_name"));
	char *label = hook_tool_label(p);
	if ((label == NULL) != (tool == NULL))
		abort();
	if (label &&
	    (strncmp(label, tool, strlen(tool)) != 0 ||
	        strlen(label) > strlen(tool) + 202))
		abort();
	free(label);
	int e = hook_tool_edits(p);
	if (e != 0 && e != 1)
		abort();
	/* a payload is never a transcript line, but must not crash one */
	transcript_usage(p, &u);
	json_decref(p);
	return 0;
}
