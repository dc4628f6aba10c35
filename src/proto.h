/*
 * The wire protocol between CLI, daemon and hosts (DESIGN §4): a frame is a
 * 4-byte big-endian length and a UTF-8 JSON object. The codec is pure, bytes
 * in and objects out, so unit tests need no socket.
 *
 * Bump PROTO_VERSION if any frame changes meaning. Unknown fields are ignored;
 * field names are never reused.
 */
#ifndef PROTO_H
#define PROTO_H

#include <jansson.h>

/* Reals on the wire and in --json: 12 significant digits, so a price reads
 * 0.07005 and not 0.070050000000000001 (doubles cannot hold 0.07005). */
#define PROTO_REALS JSON_REAL_PRECISION(12)
#include <stdint.h>

#include "buf.h"
#include "err.h"

#define PROTO_VERSION 1
/* The host protocol (daemon and CLI to a session's host) is versioned on
 * its own: hosts outlive the daemon and the binary that started them, so
 * a newer galley adopts hosts that speak any version from HOST_PROTO_MIN
 * on, and both sides use the lower of the two versions. Hosts from
 * before host_protocol existed say only "protocol": 1, which is host
 * protocol 1; a host hello keeps saying "protocol": 1 for them. */
#define HOST_PROTO_VERSION 1
#define HOST_PROTO_MIN 1
#define PROTO_MAX_FRAME (16u * 1024 * 1024)

struct proto_reader {
	struct buf in;
	int broken; /* a fatal framing error was seen: stop reading */
};
#define PROTO_READER_INIT                                                      \
	{                                                                      \
		BUF_INIT, 0                                                    \
	}

void proto_reader_release(struct proto_reader *);
void proto_feed(struct proto_reader *, const void *, size_t);
/* 1: *out is the next object (caller owns); 0: need more bytes;
 * -1: bad frame. err->code is ERR_PROTOCOL; r->broken is set when the stream
 * cannot be resynchronised (oversized length), else the bad frame is skipped.
 */
int proto_next(struct proto_reader *, json_t **out, struct err *);

int proto_next_raw(struct proto_reader *, struct buf *out, struct err *);

/* Append one frame holding obj. -1 if it would exceed PROTO_MAX_FRAME. */
int proto_encode(struct buf *, json_t *obj, struct err *);

json_t *proto_hello(void);
json_t *proto_host_hello(void);
/* *agreed: the host protocol both speak. */
int proto_check_host_hello(json_t *, int *agreed, struct err *);
int proto_check_hello(json_t *, struct err *);

/* Reply helpers. */
json_t *proto_error(json_int_t id, enum err_code, const char *msg);

/* Typed field access: -1 + err on a wrong type; absent is fine (0). */
int proto_get_str(json_t *, const char *key, const char **out, struct err *);
int proto_get_int(json_t *, const char *key, json_int_t *out, struct err *);
/* proto_get_int, and min <= value <= max */
int proto_get_int_in(json_t *, const char *key, json_int_t *out, json_int_t min,
    json_int_t max, struct err *);
int proto_get_bool(json_t *, const char *key, int *out, struct err *);
int proto_get_strv(json_t *, const char *key, json_t **out, struct err *);

#endif
