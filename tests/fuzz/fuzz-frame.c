/* The frame codec: any bytes fed to a reader, in pieces, must give
 * objects, "need more" or a clean error; what it decodes must encode
 * again. */
#include <stdint.h>
#include <stdlib.h>

#include "proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proto_reader rd = PROTO_READER_INIT;
	struct err err = ERR_INIT;
	size_t cut = size ? data[0] % (size + 1) : 0;
	json_t *obj;
	int rc;

	/* in two pieces, the cut chosen by the input */
	proto_feed(&rd, data, cut);
	proto_feed(&rd, data + cut, size - cut);
	while (!rd.broken && (rc = proto_next(&rd, &obj, &err)) != 0) {
		if (rc > 0) {
			struct buf b = BUF_INIT;
			if (proto_encode(&b, obj, NULL) < 0)
				abort(); /* it came in one frame: it fits one */
			buf_release(&b);
			json_decref(obj);
		}
		err_release(&err);
	}
	err_release(&err);
	proto_reader_release(&rd);
	return 0;
}
