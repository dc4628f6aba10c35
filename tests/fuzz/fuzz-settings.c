/* The settings parser: a key and a value as typed on the command line
 * (`galley config set KEY VALUE`), split at the first NUL of the input.
 * A parsed value must pass the key's own check. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "settings.h"
#include "xmalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = xstrndup((const char *)data, size);
	size_t klen = strlen(text);
	const char *key = text, *value = klen < size ? text + klen + 1 : "";
	char *val = xstrndup(value, size - (klen < size ? klen + 1 : size));
	struct err err = ERR_INIT;
	json_t *out = NULL;

	if (settings_parse(key, val, &out, &err) == 0) {
		if (settings_check(key, out, NULL) < 0)
			abort();
		json_decref(out);
	}
	err_release(&err);
	free(val);
	free(text);
	return 0;
}
