/* Fields of a hook payload (hook-payload.c). */
#ifndef HOOK_PAYLOAD_H
#define HOOK_PAYLOAD_H

#include <jansson.h>

/* "Bash(rm -rf build)" from tool_name and tool_input (the argument cut
 * at 200 bytes); NULL without a tool name. Caller frees. */
char *hook_tool_label(json_t *payload);
/* 1 for a tool that may change files (Edit, Write, ..., Bash). */
int hook_tool_edits(json_t *payload);

#endif
