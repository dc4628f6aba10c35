/* Reading usage out of a transcript line (transcript.h): one place for
 * the session's reader and its subagents' (session-hook.c,
 * session-children.c), fuzzed by tests/fuzz/fuzz-transcript.c. */
#include <string.h>

#include "transcript.h"

int
transcript_usage(json_t *e, struct transcript_usage *u)
{
	static const char *const keys[] = {"input_tokens", "output_tokens",
	    "cache_read_input_tokens", "cache_creation_input_tokens"};
	json_t *m = json_object_get(e, "message");
	json_t *usage = json_object_get(m, "usage");
	const char *type = json_string_value(json_object_get(e, "type"));

	u->id = json_string_value(json_object_get(m, "id"));
	u->model = json_string_value(json_object_get(m, "model"));
	if (type == NULL || strcmp(type, "assistant") != 0 || u->id == NULL ||
	    *u->id == '\0' || u->model == NULL || !json_is_object(usage))
		return 0;
	for (int k = 0; k < 4; k++) {
		json_int_t v =
		    json_integer_value(json_object_get(usage, keys[k]));
		u->n[k] = v < 0                 ? 0
		    : v > TRANSCRIPT_TOKENS_MAX ? TRANSCRIPT_TOKENS_MAX
		                                : (long long)v;
	}
	return 1;
}
