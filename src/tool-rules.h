/* Claude Code's permission rules ("Bash", "Bash(git push *)",
 * "Edit(src/...)", "WebFetch(domain:example.com)", "mcp__server") matched
 * against one tool call, so galley can enforce --allow/--deny itself in
 * the PreToolUse hook whatever the runtime does with its own flags. */
#ifndef TOOL_RULES_H
#define TOOL_RULES_H

#include <jansson.h>

/* 1 when RULE covers the call of TOOL with INPUT; relative paths in the
 * rule and the input are taken from CWD. A malformed rule matches nothing. */
int tool_rule_match(
    const char *rule, const char *tool, json_t *input, const char *cwd);

/* The first rule of LIST (an array of strings) that covers the call, or
 * NULL. */
const char *tool_rules_find(
    json_t *list, const char *tool, json_t *input, const char *cwd);

#endif
