/* A workflow's interpreter: Lua 5.4 with only what a replayable script
 * may use, limits on memory and on instructions between two waits, and
 * the script's API (agent, parallel, phase, log, args). Each run() and
 * each parallel branch is a coroutine; agent() yields until its session
 * ends (workflow.c resumes it). */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "settings.h"
#include "util.h"
#include "wf-watchdog.h"
#include "workflow.h"
#include "xmalloc.h"

#define MEM_MAX (64u << 20)
#define STEPS_MAX 20000000LL /* about 0.1 s of Lua between waits */
#define STEP_HOOK 10000

static const struct wf_host_ops *host;

void
wf_lua_host(const struct wf_host_ops *ops)
{
	host = ops;
}

static struct wf_thread **
thread_slot(lua_State *L)
{
	return (struct wf_thread **)lua_getextraspace(L);
}

static struct wf_run *
run_of(lua_State *L)
{
	void *ud;
	lua_getallocf(L, &ud);
	return ud;
}

static void *
wf_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
	struct wf_limits *lim = &((struct wf_run *)ud)->lim;

	if (ptr == NULL)
		osize = 0;
	if (nsize == 0) {
		free(ptr);
		lim->mem -= osize;
		return NULL;
	}
	if (nsize > osize && lim->mem + (nsize - osize) > lim->mem_max)
		return NULL; /* Lua raises "not enough memory" */
	void *p = realloc(ptr, nsize);
	if (p)
		lim->mem = lim->mem - osize + nsize;
	return p;
}

static void
step_hook(lua_State *L, lua_Debug *ar)
{
	struct wf_limits *lim = &run_of(L)->lim;

	(void)ar;
	lim->steps += STEP_HOOK;
	if (lim->steps > lim->steps_max)
		luaL_error(L,
		    "galley: the script ran %I instructions without waiting "
		    "for an agent (a loop that never ends?)",
		    (lua_Integer)lim->steps);
}

/* ---- JSON and Lua values ---------------------------------------------- */

static void push_json(lua_State *L, json_t *v, int depth);

static void
push_json(lua_State *L, json_t *v, int depth)
{
	const char *k;
	json_t *e;
	size_t i;

	luaL_checkstack(L, 4, "JSON too deep");
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		lua_createtable(L, 0, (int)json_object_size(v));
		if (depth < 64)
			json_object_foreach(v, k, e)
			{
				push_json(L, e, depth + 1);
				lua_setfield(L, -2, k);
			}
		break;
	case JSON_ARRAY:
		lua_createtable(L, (int)json_array_size(v), 0);
		if (depth < 64)
			json_array_foreach(v, i, e)
			{
				push_json(L, e, depth + 1);
				lua_rawseti(L, -2, (lua_Integer)i + 1);
			}
		break;
	case JSON_STRING:
		lua_pushlstring(L, json_string_value(v), json_string_length(v));
		break;
	case JSON_INTEGER:
		lua_pushinteger(L, (lua_Integer)json_integer_value(v));
		break;
	case JSON_REAL:
		lua_pushnumber(L, json_real_value(v));
		break;
	case JSON_TRUE:
	case JSON_FALSE:
		lua_pushboolean(L, json_is_true(v));
		break;
	default:
		lua_pushnil(L);
	}
}

static json_t *
to_json(lua_State *L, int idx, int depth)
{
	idx = lua_absindex(L, idx);
	switch (lua_type(L, idx)) {
	case LUA_TBOOLEAN:
		return json_boolean(lua_toboolean(L, idx));
	case LUA_TNUMBER:
		return lua_isinteger(L, idx)
		    ? json_integer((json_int_t)lua_tointeger(L, idx))
		    : json_real(lua_tonumber(L, idx));
	case LUA_TSTRING: {
		size_t n;
		const char *s = lua_tolstring(L, idx, &n);
		json_t *j = json_stringn(s, n);
		return j ? j : json_string("(not UTF-8)");
	}
	case LUA_TTABLE:
		break;
	default:
		return json_null();
	}
	if (depth >= 64)
		return json_null();
	/* a sequence 1..n is an array; anything else an object */
	lua_Integer n = (lua_Integer)lua_rawlen(L, idx), count = 0;
	lua_pushnil(L);
	while (lua_next(L, idx)) {
		count++;
		lua_pop(L, 1);
	}
	if (n > 0 && count == n) {
		json_t *a = json_array();
		for (lua_Integer i = 1; i <= n; i++) {
			lua_rawgeti(L, idx, i);
			json_array_append_new(a, to_json(L, -1, depth + 1));
			lua_pop(L, 1);
		}
		return a;
	}
	json_t *o = json_object();
	lua_pushnil(L);
	while (lua_next(L, idx)) {
		if (lua_type(L, -2) == LUA_TSTRING)
			json_object_set_new(
			    o, lua_tostring(L, -2), to_json(L, -1, depth + 1));
		else if (lua_type(L, -2) == LUA_TNUMBER) {
			char key[32];
			snprintf(key, sizeof key, "%lld",
			    (long long)lua_tointeger(L, -2));
			json_object_set_new(o, key, to_json(L, -1, depth + 1));
		}
		lua_pop(L, 1);
	}
	return o;
}

void
wf_lua_push_outcome(
    lua_State *to, json_t *opts, int ok, const char *result, const char *error)
{
	json_t *schema = json_object_get(opts, "schema");

	if (!ok) {
		lua_pushboolean(to, 0);
		lua_pushstring(to, error ? error : "the call failed");
		return;
	}
	if (schema == NULL) {
		lua_pushboolean(to, 1);
		lua_pushstring(to, result ? result : "");
		return;
	}
	json_error_t je;
	char why[256];
	json_t *v = json_loads(result ? result : "", JSON_DECODE_ANY, &je);
	if (v == NULL) {
		lua_pushboolean(to, 0);
		lua_pushfstring(to, "the agent's result is not JSON (%s): %s",
		    je.text, result ? result : "");
		return;
	}
	if (wf_schema_check(schema, v, why, sizeof why) < 0) {
		lua_pushboolean(to, 0);
		lua_pushfstring(to,
		    "the agent's result does not fit the "
		    "schema: %s",
		    why);
		json_decref(v);
		return;
	}
	lua_pushboolean(to, 1);
	push_json(to, v, 0);
	json_decref(v);
}

/* ---- the script's API ------------------------------------------------- */

static struct wf_thread *
thread_of(lua_State *L)
{
	struct wf_thread *t = *thread_slot(L);

	if (t == NULL)
		luaL_error(L,
		    "galley: agent(), parallel(), phase() and log() "
		    "work inside run(), not at the script's top");
	return t;
}

/* after a wait: (ok, value) on top, from workflow.c */
static int
call_k(lua_State *L, int status, lua_KContext ctx)
{
	(void)status;
	(void)ctx;
	if (!lua_toboolean(L, -2))
		return lua_error(L); /* the message is on top */
	return 1;
}

/* agent(prompt, opts) and sh(cmd, opts): one journaled call each */
static int
call(lua_State *L, const char *kind)
{
	struct wf_thread *t = thread_of(L);
	const char *what = luaL_checkstring(L, 1);
	json_t *opts;

	if (!lua_isnoneornil(L, 2))
		luaL_checktype(L, 2, LUA_TTABLE);
	opts = lua_istable(L, 2) ? to_json(L, 2, 0) : json_object();
	lua_settop(L, 2);
	if (strcmp(kind, "sh") == 0) /* its output is text */
		json_object_del(opts, "schema");
	int n = host->call(t, kind, what, opts);
	json_decref(opts);
	if (n == 0)
		return lua_yieldk(L, 0, 0, call_k);
	return call_k(L, LUA_OK, 0);
}

static int
l_agent(lua_State *L)
{
	return call(L, "agent");
}

/* sh(cmd): a journaled shell step (a job), its output the result */
static int
l_sh(lua_State *L)
{
	return call(L, "sh");
}

/* json.decode(text) -> a value (an error names what is wrong) and
 * json.encode(value) -> compact JSON, keys sorted (so replays match) */
static int
l_json_decode(lua_State *L)
{
	size_t n;
	const char *text = luaL_checklstring(L, 1, &n);
	json_error_t je;
	json_t *v = json_loadb(text, n, JSON_DECODE_ANY, &je);

	if (v == NULL)
		return luaL_error(L, "json.decode: %s at line %d, column %d",
		    je.text, je.line, je.column);
	push_json(L, v, 0);
	json_decref(v);
	return 1;
}

static int
l_json_encode(lua_State *L)
{
	json_t *v;
	char *text;

	luaL_checkany(L, 1);
	v = to_json(L, 1, 0);
	text = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
	json_decref(v);
	if (text == NULL)
		return luaL_error(L, "json.encode: cannot encode this value");
	lua_pushstring(L, text);
	free(text);
	return 1;
}

/* budget{usd=, tokens=, agents=, parallel=}: the run's limits, only ever
 * lower */
static int
l_budget(lua_State *L)
{
	struct wf_thread *t = thread_of(L);

	luaL_checktype(L, 1, LUA_TTABLE);
	lua_getfield(L, 1, "usd");
	lua_getfield(L, 1, "tokens");
	lua_getfield(L, 1, "agents");
	lua_getfield(L, 1, "parallel");
	lua_Number n[4];
	for (int i = 0; i < 4; i++) {
		n[i] = lua_isnumber(L, i - 4) ? lua_tonumber(L, i - 4) : 0;
		/* in range before it becomes an integer; NaN and below 0: none
		 */
		n[i] = n[i] > 1e12 ? 1e12 : n[i] >= 0 ? n[i] : 0;
	}
	host->budget(
	    t->run, n[0], (long long)n[1], (long long)n[2], (long long)n[3]);
	return 0;
}

/* progress(value): what the run reports while it works (status shows
 * it; `galley batch` draws its table from it) */
static int
l_progress(lua_State *L)
{
	luaL_checkany(L, 1);
	json_t *v = to_json(L, 1, 0);
	host->progress(thread_of(L), v);
	json_decref(v);
	return 0;
}

static int
l_phase(lua_State *L)
{
	host->phase(thread_of(L), luaL_checkstring(L, 1));
	return 0;
}

static int
l_log(lua_State *L)
{
	struct wf_thread *t = thread_of(L);
	luaL_Buffer b;
	int n = lua_gettop(L);

	luaL_buffinit(L, &b);
	for (int i = 1; i <= n; i++) {
		if (i > 1)
			luaL_addchar(&b, ' ');
		luaL_tolstring(L, i, NULL);
		luaL_addvalue(&b);
	}
	luaL_pushresult(&b);
	host->log(t, lua_tostring(L, -1));
	return 0;
}

static struct wf_thread *
new_thread(lua_State *L, struct wf_run *r, struct wf_thread *parent)
{
	struct wf_thread *t = xcalloc(1, sizeof *t);

	t->run = r;
	t->th = lua_newthread(L);
	t->ref = luaL_ref(L, LUA_REGISTRYINDEX); /* pops it */
	t->parent = parent;
	t->results_ref = LUA_NOREF;
	t->next = r->threads;
	r->threads = t;
	*thread_slot(t->th) = t;
	if (parent)
		snprintf(t->phase, sizeof t->phase, "%s", parent->phase);
	return t;
}

void
wf_lua_thread_free(struct wf_thread *t)
{
	lua_State *L = t->run->L;

	for (struct wf_thread **p = &t->run->threads; *p; p = &(*p)->next)
		if (*p == t) {
			*p = t->next;
			break;
		}
	if (L) {
		luaL_unref(L, LUA_REGISTRYINDEX, t->ref);
		luaL_unref(L, LUA_REGISTRYINDEX, t->results_ref);
	}
	free(t->child_error);
	free(t);
}

/* parallel{f1, f2, ...}: each a branch of its own; their results in
 * order once all are done (the first error is raised then). */
static int
parallel_k(lua_State *L, int status, lua_KContext ctx)
{
	(void)status;
	(void)ctx;
	if (!lua_toboolean(L, -2))
		return lua_error(L);
	return 1;
}

static int
l_parallel(lua_State *L)
{
	struct wf_thread *t = thread_of(L);
	struct wf_run *r = t->run;

	luaL_checktype(L, 1, LUA_TTABLE);
	lua_Integer n = (lua_Integer)lua_rawlen(L, 1);
	for (lua_Integer i = 1; i <= n; i++) {
		lua_rawgeti(L, 1, i);
		if (!lua_isfunction(L, -1))
			return luaL_error(
			    L, "parallel: item %d is not a function", (int)i);
		lua_pop(L, 1);
	}
	int call = ++t->counter;
	lua_createtable(L, (int)n, 0);
	t->results_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	t->waiting = (int)n;
	t->setup = 1;
	if (strlen(t->path) + 24 >= sizeof t->path)
		return luaL_error(L, "parallel: nested too deep");
	for (lua_Integer i = 1; i <= n; i++) {
		struct wf_thread *c = new_thread(L, r, t);
		c->slot = (int)i;
		snprintf(c->path, sizeof c->path, "%s%s%d.%d", t->path,
		    *t->path ? "." : "", call, (int)i);
		lua_rawgeti(L, 1, i);
		lua_xmove(L, c->th, 1);
		wf_lua_step(c, 0);
	}
	t->setup = 0;
	if (t->waiting > 0)
		return lua_yieldk(L, 0, 0, parallel_k);
	/* every branch finished at once (replayed) */
	if (t->child_error) {
		lua_pushboolean(L, 0);
		lua_pushstring(L, t->child_error);
	} else {
		lua_pushboolean(L, 1);
		lua_rawgeti(L, LUA_REGISTRYINDEX, t->results_ref);
	}
	free(t->child_error);
	t->child_error = NULL;
	luaL_unref(r->L, LUA_REGISTRYINDEX, t->results_ref);
	t->results_ref = LUA_NOREF;
	return parallel_k(L, LUA_OK, 0);
}

void
wf_lua_step(struct wf_thread *t, int nargs)
{
	int nres = 0;

	if (t->parent == NULL)
		t->run->lim.steps = 0; /* a new slice */
	t->running = 1;
	wf_watchdog_enter(t->run->dry ? "" : t->run->id);
	int rc = lua_resume(t->th, NULL, nargs, &nres);
	wf_watchdog_leave();
	t->running = 0;
	if (rc == LUA_YIELD) {
		lua_pop(t->th, nres);
		return;
	}
	if (rc == LUA_OK) {
		json_t *v = nres > 0 ? to_json(t->th, -nres, 0) : json_null();
		if (t->parent) { /* keep the Lua value itself */
			lua_State *L = t->run->L;
			lua_rawgeti(
			    L, LUA_REGISTRYINDEX, t->parent->results_ref);
			if (nres > 0)
				lua_xmove(t->th, L, 1);
			else
				lua_pushnil(L);
			lua_rawseti(L, -2, t->slot);
			lua_pop(L, 1);
		}
		host->done(t, 1, v, NULL);
		json_decref(v);
		return;
	}
	const char *msg = lua_tostring(t->th, -1);
	host->done(t, 0, NULL, msg ? msg : "error");
}

/* ---- the sandbox ------------------------------------------------------ */

/* What is not there says why, naming the line. */
static int
env_index(lua_State *L)
{
	const char *k = lua_tostring(L, 2);
	static const char *const banned[] = {"os", "io", "debug", "package",
	    "require", "dofile", "loadfile", "load", "collectgarbage",
	    "coroutine"};

	for (size_t i = 0; k && i < sizeof banned / sizeof banned[0]; i++)
		if (strcmp(k, banned[i]) == 0)
			return luaL_error(L,
			    "galley: '%s' is not available in a workflow (no "
			    "files, processes, clock or randomness: a run "
			    "must replay exactly)",
			    k);
	return 0;
}

static void
copy_lib(
    lua_State *L, const char *name, lua_CFunction open, const char *const *drop)
{
	luaL_requiref(L, name, open, 0);
	for (; drop && *drop; drop++) {
		lua_pushnil(L);
		lua_setfield(L, -2, *drop);
	}
	lua_setfield(L, -2, name);
}

/* Defined in every script's environment, in Lua: what needs no C. */
static const char prelude[] =
    "function pipeline(items, ...)\n"
    "  local stages, jobs = {...}, {}\n"
    "  for i, item in ipairs(items) do\n"
    "    jobs[i] = function()\n"
    "      local v = item\n"
    "      for _, stage in ipairs(stages) do v = stage(v) end\n"
    "      return v\n"
    "    end\n"
    "  end\n"
    "  return parallel(jobs)\n"
    "end\n"
    "function workflow(name, a)\n"
    "  return __workflow(name)(a or {})\n"
    "end\n";

static void push_env(lua_State *L);

/* string.rep, bounded: Lua's loops n times even when each copy is empty,
 * in C, where the instruction limit never looks (string.rep("", 1e15)
 * held the daemon forever; found by tests/fuzz/fuzz-lua.c). The result
 * must fit the run's memory, an empty one is made at once, and its bytes
 * count against the run's instructions (100 a call, one per 4 bytes), so a loop
 * of big copies meets the same limit as a loop of small steps. */
static int
l_rep(lua_State *L)
{
	size_t l, lsep;
	const char *s = luaL_checklstring(L, 1, &l);
	lua_Integer n = luaL_checkinteger(L, 2);
	const char *sep = luaL_optlstring(L, 3, "", &lsep);
	luaL_Buffer b;

	if (n <= 0 || (l == 0 && lsep == 0)) {
		lua_pushliteral(L, "");
		return 1;
	}
	if ((lua_Unsigned)n > MEM_MAX / (l + lsep + 1))
		return luaL_error(
		    L, "string.rep: the result would be too large");
	size_t total = (size_t)n * l + (size_t)(n - 1) * lsep;
	run_of(L)->lim.steps += 100 + (long long)(total / 4);
	char *p = luaL_buffinitsize(L, &b, total);
	for (lua_Integer i = 0; i < n; i++) {
		if (i > 0) {
			memcpy(p, sep, lsep);
			p += lsep;
		}
		memcpy(p, s, l);
		p += l;
	}
	luaL_pushresultsize(&b, total);
	return 1;
}

/* A workflow's script by name, as `workflow run` finds it: the project's
 * (from the run's directory), the user's, a built-in. Caller frees. */
static char *
find_sub(struct wf_run *r, const char *name)
{
	const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
	char *repo = repo_root(r->cwd), *path[2];
	struct buf b = BUF_INIT;
	char *out = NULL;

	xasprintf(&path[0], "%s/.galley/workflows/%s.lua", repo ? repo : r->cwd,
	    name);
	if (xdg && *xdg)
		xasprintf(&path[1], "%s/galley/workflows/%s.lua", xdg, name);
	else
		xasprintf(&path[1], "%s/.config/galley/workflows/%s.lua",
		    home ? home : "", name);
	for (int i = 0; i < 2 && out == NULL; i++)
		if (read_file(path[i], &b, 1 << 20, NULL) >= 0) {
			buf_addc(&b, '\0');
			out = buf_detach(&b, NULL);
		}
	if (out == NULL && wf_builtin(name))
		out = xstrdup(wf_builtin(name));
	free(path[0]);
	free(path[1]);
	free(repo);
	buf_release(&b);
	return out;
}

/* __workflow(name): another workflow's run(), loaded into an environment
 * of its own; workflow(name, args) in the prelude calls it, so its agent
 * calls are this thread's (and keyed like them). */
static int
l_subworkflow(lua_State *L)
{
	const char *name = luaL_checkstring(L, 1);
	char chunk[80];

	if (strlen(name) > 64 ||
	    strspn(name,
	        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	        "0123456789._-") != strlen(name))
		return luaL_error(
		    L, "workflow: '%s' is not a workflow name", name);
	char *script = find_sub(run_of(L), name);
	if (script == NULL)
		return luaL_error(L, "workflow: no workflow '%s'", name);
	snprintf(chunk, sizeof chunk, "=%s", name);
	int rc = luaL_loadbufferx(L, script, strlen(script), chunk, "t");
	free(script);
	if (rc != LUA_OK)
		return lua_error(L);
	push_env(L);
	lua_pushvalue(L, -1);
	lua_setupvalue(L, -3, 1); /* the chunk's _ENV */
	lua_insert(L, -2);        /* env, chunk */
	lua_call(L, 0, 0);
	lua_getfield(L, -1, "run");
	if (!lua_isfunction(L, -1))
		return luaL_error(
		    L, "workflow: '%s' has no function run(args)", name);
	return 1;
}

/* A script's environment on the stack: a new table (never _G itself)
 * with the safe base functions, string, table, math without random,
 * utf8, galley's API and the prelude; what is banned says why. */
static void
push_env(lua_State *L)
{
	static const luaL_Reg api[] = {{"agent", l_agent},
	    {"parallel", l_parallel}, {"phase", l_phase}, {"sh", l_sh},
	    {"budget", l_budget}, {"log", l_log}, {"print", l_log},
	    {"progress", l_progress}, {"__workflow", l_subworkflow},
	    {NULL, NULL}};
	static const char *const no_random[] = {"random", "randomseed", NULL};
	static const char *const base_keep[] = {"assert", "error", "ipairs",
	    "next", "pairs", "pcall", "rawequal", "rawget", "rawlen", "rawset",
	    "select", "setmetatable", "getmetatable", "tonumber", "tostring",
	    "type", "xpcall", "_VERSION"};

	lua_newtable(L);
	for (size_t i = 0; i < sizeof base_keep / sizeof base_keep[0]; i++) {
		lua_getglobal(L, base_keep[i]);
		lua_setfield(L, -2, base_keep[i]);
	}
	copy_lib(L, "string", luaopen_string, NULL);
	lua_getfield(L, -1, "string"); /* also what ("x"):rep() finds */
	lua_pushcfunction(L, l_rep);
	lua_setfield(L, -2, "rep");
	lua_pop(L, 1);
	copy_lib(L, "table", luaopen_table, NULL);
	copy_lib(L, "math", luaopen_math, no_random);
	copy_lib(L, "utf8", luaopen_utf8, NULL);
	luaL_setfuncs(L, api, 0);
	static const luaL_Reg json_api[] = {
	    {"decode", l_json_decode}, {"encode", l_json_encode}, {NULL, NULL}};
	luaL_newlib(L, json_api);
	lua_setfield(L, -2, "json");
	lua_newtable(L); /* its metatable: the banned names say why */
	lua_pushcfunction(L, env_index);
	lua_setfield(L, -2, "__index");
	lua_setmetatable(L, -2);
	if (luaL_loadbufferx(L, prelude, strlen(prelude), "=prelude", "t") ==
	    LUA_OK) {
		lua_pushvalue(L, -2);
		lua_setupvalue(L, -2, 1);
		lua_pcall(L, 0, 0, 0);
	}
}

lua_State *
wf_lua_new(struct wf_run *r)
{
	r->lim.mem = 0;
	r->lim.mem_max = MEM_MAX;
	r->lim.steps_max = STEPS_MAX;
	lua_State *L = lua_newstate(wf_alloc, r);

	if (L == NULL)
		return NULL;
	*thread_slot(L) = NULL;
	lua_sethook(L, step_hook, LUA_MASKCOUNT, STEP_HOOK);
	luaL_requiref(L, "_G", luaopen_base, 1);
	lua_pop(L, 1);
	push_env(L);
	lua_setfield(L, LUA_REGISTRYINDEX, "galley.env");
	return L;
}

void
wf_lua_close(lua_State *L)
{
	if (L)
		lua_close(L);
}

char *
wf_lua_load(lua_State *L, const char *name, const char *script)
{
	char chunk[80];
	char *err = NULL;

	snprintf(chunk, sizeof chunk, "=%s", name);
	if (luaL_loadbufferx(L, script, strlen(script), chunk, "t") != LUA_OK) {
		err = xstrdup(lua_tostring(L, -1));
		lua_pop(L, 1);
		return err;
	}
	lua_getfield(L, LUA_REGISTRYINDEX, "galley.env");
	lua_setupvalue(L, -2, 1); /* _ENV */
	struct wf_run *r = run_of(L);
	r->lim.steps = 0;
	wf_watchdog_enter(r->dry ? "" : r->id);
	int rc = lua_pcall(L, 0, 0, 0);
	wf_watchdog_leave();
	if (rc != LUA_OK) {
		err = xstrdup(lua_tostring(L, -1));
		lua_pop(L, 1);
	}
	return err;
}

struct wf_thread *
wf_lua_main(struct wf_run *r, json_t *args, char **error)
{
	lua_State *L = r->L;

	lua_getfield(L, LUA_REGISTRYINDEX, "galley.env");
	lua_pushstring(L, "run");
	lua_rawget(L, -2);
	if (!lua_isfunction(L, -1)) {
		lua_pop(L, 2);
		*error = xstrdup("the script has no 'function run(args)'");
		return NULL;
	}
	push_json(L, args, 0);
	lua_setfield(L, -3, "args"); /* args, as a global too */
	struct wf_thread *t = new_thread(L, r, NULL);
	lua_xmove(L, t->th, 1); /* run */
	lua_pop(L, 1);          /* env */
	push_json(t->th, args, 0);
	return t;
}
