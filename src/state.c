/* The table of session states: the one place that says which are live and
 * which are ends. */
#include <string.h>

#include "state.h"

const struct state_info state_table[SESSION_NSTATES] = {
    [SESSION_QUEUED] = {"queued", 0, 0, 0, 0},
    [SESSION_STARTING] = {"starting", 1, 0, 1, 0},
    [SESSION_WORKING] = {"working", 1, 0, 1, 0},
    [SESSION_BLOCKED] = {"blocked", 1, 0, 0, 1},
    [SESSION_IDLE] = {"idle", 1, 0, 0, 1},
    [SESSION_DONE] = {"done", 0, 1, 0, 0},
    [SESSION_FAILED] = {"failed", 0, 1, 0, 0},
    [SESSION_STOPPED] = {"stopped", 0, 1, 0, 0},
    [SESSION_INTERRUPTED] = {"interrupted", 0, 1, 0, 0},
    [SESSION_UNKNOWN] = {"unknown", 1, 0, 0, 0},
};

const char *
state_name(enum session_state st)
{
	if ((unsigned)st >= SESSION_NSTATES)
		return "unknown";
	return state_table[st].name;
}

int
state_from_name(const char *name)
{
	if (name == NULL)
		return -1;
	for (int i = 0; i < SESSION_NSTATES; i++)
		if (strcmp(state_table[i].name, name) == 0)
			return i;
	return -1;
}

int
state_name_live(const char *name)
{
	int st = state_from_name(name);

	return st >= 0 && state_table[st].live;
}

int
state_name_terminal(const char *name)
{
	int st = state_from_name(name);

	return st >= 0 && state_table[st].terminal;
}

int
state_name_is(const char *name, enum session_state want)
{
	return name != NULL && strcmp(name, state_table[want].name) == 0;
}
