/* A `new`/`exec` request: any JSON decodes to a checked spec or a
 * one-line usage error, never a crash, and a decoded spec passes its own
 * checks again. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *req = json_loadb((const char *)data, size, 0, NULL);
	struct session_spec sp;
	struct err err = ERR_INIT;

	if (req == NULL)
		return 0;
	if (spec_from_json(req, &sp, &err) == 0) {
		if (spec_check(&sp, NULL) < 0)
			abort();
		spec_release(&sp);
	} else if (err.code != ERR_USAGE || strchr(err.msg.data, '\n'))
		abort(); /* one line, a usage error */
	err_release(&err);
	json_decref(req);
	return 0;
}
