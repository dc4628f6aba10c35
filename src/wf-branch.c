/* The end of a parallel{} branch (workflow.h): shared by the daemon's
 * workflows (workflow.c) and the Lua fuzz target, which drives the
 * interpreter as the daemon does. */
#include <lauxlib.h>
#include <lua.h>
#include <stdlib.h>

#include "workflow.h"
#include "xmalloc.h"

void
wf_lua_branch_done(struct wf_thread *t, int ok, const char *error)
{
	struct wf_thread *p = t->parent;

	if (!ok && p->child_error == NULL)
		p->child_error = xstrdup(error);
	p->waiting--;
	wf_lua_thread_free(t);
	if (p->waiting > 0 || p->setup)
		return;
	if (p->child_error) {
		lua_pushboolean(p->th, 0);
		lua_pushstring(p->th, p->child_error);
	} else {
		lua_pushboolean(p->th, 1);
		lua_rawgeti(p->th, LUA_REGISTRYINDEX, p->results_ref);
	}
	free(p->child_error);
	p->child_error = NULL;
	luaL_unref(p->run->L, LUA_REGISTRYINDEX, p->results_ref);
	p->results_ref = LUA_NOREF;
	wf_lua_step(p, 2);
}
