/* galley logs ID --agent AGENT (cmd-logs-agent.c). */
#ifndef CMD_LOGS_AGENT_H
#define CMD_LOGS_AGENT_H

#include <jansson.h>

struct cmd_ctx;

int logs_agent(struct cmd_ctx *, json_t *session, const char *agent);

#endif
