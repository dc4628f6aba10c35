/* Tool rules in Claude Code's syntax (see tool-rules.h). fnmatch(3)
 * without FNM_PATHNAME: '*' crosses '/', so "src/..." globs with one or two
 * stars both cover a whole tree, and "git *" covers every git command line. */
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include "galley.h"
#include "tool-rules.h"
#include "xmalloc.h"

static int
is_path_tool(const char *tool)
{
	static const char *const tools[] = {
	    "Read", "Write", "Edit", "MultiEdit", "NotebookEdit"};

	for (size_t i = 0; i < nitems(tools); i++)
		if (strcmp(tool, tools[i]) == 0)
			return 1;
	return 0;
}

/* "~/x" -> $HOME/x, "//x" -> /x, "/x" -> /x, "x" or "./x" -> CWD/x */
static char *
abs_path(const char *p, const char *cwd)
{
	char *out;
	const char *home = getenv("HOME");

	if (p[0] == '~' && p[1] == '/' && home)
		xasprintf(&out, "%s%s", home, p + 1);
	else if (p[0] == '/')
		out = xstrdup(p[1] == '/' ? p + 1 : p);
	else
		xasprintf(&out, "%s/%s", cwd ? cwd : "",
		    strncmp(p, "./", 2) == 0 ? p + 2 : p);
	return out;
}

/* The host of "https://host:port/path", into OUT. */
static int
url_host(const char *url, char *out, size_t size)
{
	const char *p = strstr(url, "://");
	size_t n;

	p = p ? p + 3 : url;
	n = strcspn(p, ":/?#");
	if (n == 0 || n >= size)
		return -1;
	memcpy(out, p, n);
	out[n] = '\0';
	return 0;
}

static int
spec_match(const char *spec, const char *tool, json_t *input, const char *cwd)
{
	const char *arg;
	char *pat, *path;
	int ok;

	if (strcmp(tool, "Bash") == 0) {
		arg = json_string_value(json_object_get(input, "command"));
		if (arg == NULL)
			return 0;
		/* the older "git push:*" prefix form */
		size_t n = strlen(spec);
		if (n >= 2 && strcmp(spec + n - 2, ":*") == 0) {
			pat = xstrndup(spec, n - 2);
			ok = strncmp(arg, pat, n - 2) == 0;
			free(pat);
			return ok;
		}
		return fnmatch(spec, arg, 0) == 0;
	}
	if (is_path_tool(tool)) {
		arg = json_string_value(json_object_get(input, "file_path"));
		if (arg == NULL)
			arg = json_string_value(
			    json_object_get(input, "notebook_path"));
		if (arg == NULL)
			return 0;
		pat = abs_path(spec, cwd);
		path = abs_path(arg, cwd);
		ok = fnmatch(pat, path, 0) == 0;
		free(pat);
		free(path);
		return ok;
	}
	if (strcmp(tool, "WebFetch") == 0) {
		char host[256];
		arg = json_string_value(json_object_get(input, "url"));
		if (arg == NULL)
			return 0;
		if (strncmp(spec, "domain:", 7) == 0)
			return url_host(arg, host, sizeof host) == 0 &&
			    fnmatch(spec + 7, host, FNM_CASEFOLD) == 0;
		return fnmatch(spec, arg, 0) == 0;
	}
	/* other tools: the spec against their first string input */
	static const char *const keys[] = {"pattern", "path", "query", "url"};
	for (size_t i = 0; i < nitems(keys); i++)
		if ((arg = json_string_value(json_object_get(input, keys[i]))))
			return fnmatch(spec, arg, 0) == 0;
	return 0;
}

int
tool_rule_match(
    const char *rule, const char *tool, json_t *input, const char *cwd)
{
	const char *open = strchr(rule, '(');
	size_t n = open ? (size_t)(open - rule) : strlen(rule);
	size_t len = strlen(rule);

	if (tool == NULL || n == 0)
		return 0;
	if (open == NULL) {
		if (strcmp(rule, tool) == 0)
			return 1;
		/* "mcp__server" covers every tool of that server */
		return strncmp(rule, "mcp__", 5) == 0 &&
		    strncmp(tool, rule, n) == 0 &&
		    strncmp(tool + n, "__", 2) == 0;
	}
	if (rule[len - 1] != ')' || strlen(tool) != n ||
	    strncmp(rule, tool, n) != 0)
		return 0;
	char *spec = xstrndup(open + 1, len - n - 2);
	int ok = *spec == '\0' || strcmp(spec, "*") == 0 ||
	    spec_match(spec, tool, input, cwd);
	free(spec);
	return ok;
}

const char *
tool_rules_find(json_t *list, const char *tool, json_t *input, const char *cwd)
{
	size_t i;
	json_t *v;

	json_array_foreach(list, i, v)
	{
		const char *r = json_string_value(v);
		if (r && tool_rule_match(r, tool, input, cwd))
			return r;
	}
	return NULL;
}
