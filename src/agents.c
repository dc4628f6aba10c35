/*
 * Named agent definitions (DESIGN §2): Markdown files with YAML front
 * matter (name, description, tools, model) and the prompt as body, looked
 * up in <dir>/.galley/agents, <dir>/.claude/agents, ~/.config/galley/agents
 * and ~/.claude/agents, walking up from the session's directory to the
 * repository root. The front matter is parsed with libyaml; the result is
 * the object claude's --agents takes, plus "disallowedTools" (galley's
 * own key: denied in the session's hook, and passed as --disallowedTools).
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <yaml.h>

#include "agents.h"
#include "names.h"
#include "util.h"
#include "xmalloc.h"

#define AGENT_FILE_MAX (1u << 20)

/* Scalars and sequences of scalars at the top level of a mapping. */
static json_t *
parse_front(const char *text, size_t len, struct err *err, const char *path)
{
	yaml_parser_t p;
	yaml_event_t ev;
	json_t *out = json_object(), *seq = NULL;
	char *key = NULL;
	int depth = 0, nest = 0, ok = 1, done = 0;

	yaml_parser_initialize(&p);
	yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
	while (!done) {
		if (!yaml_parser_parse(&p, &ev)) {
			err_set(err, ERR_USAGE, "%s: bad front matter: %s",
			    path, p.problem ? p.problem : "YAML error");
			ok = 0;
			break;
		}
		const char *v = (const char *)ev.data.scalar.value;
		switch (ev.type) {
		case YAML_MAPPING_START_EVENT:
			if (depth == 1 && nest == 0 && key) {
				free(key); /* a mapping as a value: not ours */
				key = NULL;
			}
			depth++;
			break;
		case YAML_MAPPING_END_EVENT:
			depth--;
			break;
		case YAML_SEQUENCE_START_EVENT:
			/* a list of scalars; lists inside it are skipped */
			if (nest++ == 0 && depth == 1 && key)
				seq = json_array();
			break;
		case YAML_SEQUENCE_END_EVENT:
			if (--nest > 0)
				break;
			if (seq && key)
				json_object_set_new(out, key, seq);
			else
				json_decref(seq);
			seq = NULL;
			free(key);
			key = NULL;
			break;
		case YAML_SCALAR_EVENT:
			if (depth != 1 || nest > 1 || (nest == 1 && !seq))
				break;
			if (seq)
				json_array_append_new(seq, json_string(v));
			else if (key == NULL)
				key = xstrdup(v);
			else {
				json_object_set_new(out, key, json_string(v));
				free(key);
				key = NULL;
			}
			break;
		case YAML_STREAM_END_EVENT:
			done = 1;
			break;
		default:
			break;
		}
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&p);
	free(key);
	if (!ok) {
		json_decref(seq);
		json_decref(out);
		return NULL;
	}
	return out;
}

/* "Read, Grep, Bash(git *)" or a YAML list: one array of tool specs. */
static json_t *
tool_list(json_t *v)
{
	json_t *out;
	const char *s = json_string_value(v);

	if (json_is_array(v))
		return json_incref(v);
	out = json_array();
	while (s && *s) {
		size_t n = 0;
		int paren = 0;
		while (s[n] && (paren || s[n] != ',')) {
			paren += s[n] == '(' ? 1 : s[n] == ')' ? -1 : 0;
			n++;
		}
		const char *a = s, *b = s + n;
		while (a < b && *a == ' ')
			a++;
		while (b > a && b[-1] == ' ')
			b--;
		if (b > a)
			json_array_append_new(
			    out, json_stringn(a, (size_t)(b - a)));
		s += n + (s[n] == ',');
	}
	return out;
}

int
agent_parse(const char *text, const char *name, const char *path, json_t **def,
    struct err *err)
{
	json_t *front = NULL;
	const char *body = text, *fm = NULL;
	size_t fmlen = 0;

	*def = NULL;
	if (strncmp(text, "---\n", 4) == 0) {
		const char *end = strstr(text + 4, "\n---");
		if (end == NULL)
			return err_set(err, ERR_USAGE,
			    "%s: front matter has no closing '---'", path);
		fm = text + 4;
		fmlen = (size_t)(end + 1 - fm);
		body = end + 4;
		body += strcspn(body, "\n");
		if (*body == '\n')
			body++;
	}
	front = fm ? parse_front(fm, fmlen, err, path) : json_object();
	if (front == NULL)
		return -1;
	json_t *d = json_object();
	const char *desc =
	    json_string_value(json_object_get(front, "description"));
	json_t *jdesc = json_string(desc ? desc : name);
	json_object_set_new(d, "description", jdesc ? jdesc : json_string(""));
	json_t *prompt = json_string(body);
	json_object_set_new(d, "prompt", prompt ? prompt : json_string(""));
	json_t *tools = json_object_get(front, "tools");
	if (tools)
		json_object_set_new(d, "tools", tool_list(tools));
	json_t *denied = json_object_get(front, "disallowedTools");
	if (denied)
		json_object_set_new(d, "disallowedTools", tool_list(denied));
	json_t *model = json_object_get(front, "model");
	if (json_is_string(model))
		json_object_set(d, "model", model);
	*def = d;
	json_decref(front);
	return 0;
}

static int
load_file(const char *path, const char *name, json_t **def, struct err *err)
{
	struct buf b = BUF_INIT;
	int rc;

	if (read_file(path, &b, AGENT_FILE_MAX, err) < 0)
		return -1;
	buf_addc(&b, '\0');
	rc = agent_parse(b.data, name, path, def, err);
	buf_release(&b);
	return rc;
}

int
agent_find(const char *cwd, const char *name, json_t **def, struct err *err)
{
	const char *home = getenv("HOME");
	char dir[PATH_MAX], *path;
	struct stat st;

	*def = NULL;
	if (!name_valid(name))
		return err_set(err, ERR_USAGE,
		    "bad agent name '%.64s': use [A-Za-z0-9._-]{1,64}", name);
	snprintf(dir, sizeof dir, "%s", cwd);
	for (;;) {
		static const char *const sub[] = {
		    ".galley/agents", ".claude/agents"};
		for (size_t i = 0; i < 2; i++) {
			xasprintf(&path, "%s/%s/%s.md", dir, sub[i], name);
			if (stat(path, &st) == 0) {
				int rc = load_file(path, name, def, err);
				free(path);
				return rc;
			}
			free(path);
		}
		xasprintf(&path, "%s/.git", dir);
		int top = stat(path, &st) == 0;
		free(path);
		char *slash = strrchr(dir, '/');
		if (top || slash == NULL || slash == dir)
			break;
		*slash = '\0';
	}
	const char *const user[] = {path_config_dir(), NULL};
	char *claude_dir = NULL;
	if (home)
		xasprintf(&claude_dir, "%s/.claude", home);
	const char *const bases[] = {user[0], claude_dir};
	for (size_t i = 0; i < 2; i++) {
		if (bases[i] == NULL)
			continue;
		xasprintf(&path, "%s/agents/%s.md", bases[i], name);
		if (stat(path, &st) == 0) {
			int rc = load_file(path, name, def, err);
			free(path);
			free(claude_dir);
			return rc;
		}
		free(path);
	}
	free(claude_dir);
	return err_set(err, ERR_NOT_FOUND,
	    "no agent '%s': add .galley/agents/%s.md or .claude/agents/%s.md",
	    name, name, name);
}
