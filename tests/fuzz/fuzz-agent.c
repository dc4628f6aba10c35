/* An agent definition (.galley/agents/NAME.md): any text gives either a
 * definition claude's --agents takes (description and prompt strings,
 * tools as a list of strings) or a one-line usage error. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agents.h"
#include "buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_list(json_t *d, const char *key)
{
	json_t *v = json_object_get(d, key), *e;
	size_t i;

	if (v == NULL)
		return;
	if (!json_is_array(v))
		abort();
	json_array_foreach(v, i, e) if (!json_is_string(e)) abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	struct err err = ERR_INIT;
	json_t *def = NULL;

	memcpy(text, data, size);
	text[size] = '\0';
	if (agent_parse(text, "fuzz", "fuzz.md", &def, &err) == 0) {
		if (!json_is_string(json_object_get(def, "description")) ||
		    !json_is_string(json_object_get(def, "prompt")))
			abort();
		check_list(def, "tools");
		check_list(def, "disallowedTools");
	} else if (err.code != ERR_USAGE || def != NULL)
		abort();
	json_decref(def);
	err_release(&err);
	free(text);
	return 0;
}
