/* Transcript lines (one JSON object per line, as claude writes them): any
 * bytes give usage only for an assistant message with an id and a model,
 * and every count is within 0..TRANSCRIPT_TOKENS_MAX (a session's totals
 * cannot overflow). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "transcript.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		json_t *e = json_loadb(p, n, 0, NULL);
		struct transcript_usage u;
		if (transcript_usage(e, &u)) {
			if (u.id == NULL || *u.id == '\0' || u.model == NULL)
				abort();
			for (int k = 0; k < 4; k++)
				if (u.n[k] < 0 ||
				    u.n[k] > TRANSCRIPT_TOKENS_MAX)
					abort();
		}
		json_decref(e);
		p += n + 1;
	}
	return 0;
}
