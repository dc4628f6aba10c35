/* The CLI's connection to the daemon, started on demand. */
#ifndef CLIENT_H
#define CLIENT_H

#include <jansson.h>

#include "err.h"
#include "buf.h"
#include "proto.h"

struct client {
	int fd;
	struct proto_reader rd;
	json_int_t next_id;
	json_t *events; /* events that came while a call waited: kept for
	                 * client_event, so a subscriber misses none */
};
#define CLIENT_INIT                                                            \
	{                                                                      \
		-1, PROTO_READER_INIT, 1, NULL                                 \
	}

/* start: launch the daemon if it is not running (race-free). */
int client_connect(struct client *, int start, struct err *);
void client_close(struct client *);
/* Send req (stolen) with a fresh id; return the reply (caller owns) or NULL
 * with err set from the daemon's error. Events received meanwhile are
 * dropped. */
json_t *client_call(struct client *, json_t *req, struct err *);
int client_call_text(
    struct client *, json_t *req, struct buf *out, struct err *);
/* Next pushed event (after subscribe). 0 on timeout. */
int client_event(struct client *, json_t **out, int timeout_ms, struct err *);

#endif
