/* The daemon: one libuv loop, the store, the session table, the clients. */
#ifndef SERVER_H
#define SERVER_H

#include <jansson.h>
#include <uv.h>

#include "proto.h"
#include "queue.h"
#include "store.h"

struct session;
struct server_client;

struct cmd_entry;

/* Serve the verbs of table (cmd-table.c) until told to stop. */
int server_main(int foreground, const struct cmd_entry *const *table);
void server_stop(void);
int64_t server_started_ms(void);

/* server-client.c: the connected clients. Push an event to every client
 * subscribed to topic. */
void server_broadcast(const char *topic, json_t *ev);
void server_client_close_all(void);

/* A request other than hello and subscribe: reply to it (or not) with
 * server_client_send / server_client_error. */
typedef void server_handler_fn(
    struct server_client *, json_int_t id, const char *cmd, json_t *req);

struct server_client {
	uv_pipe_t pipe;
	server_handler_fn *handler;
	struct proto_reader rd;
	int greeted;
	int subscribed; /* topics: bit 0 session */
	int closing;
	/* since when it owes the daemon a hello or the rest of a frame (ms);
	 * 0: it owes nothing (server-client.c drops it after a while) */
	int64_t stalled_since;
	TAILQ_ENTRY(server_client) entry;
};

void server_client_accept(uv_stream_t *listener, server_handler_fn *);
void server_client_error(
    struct server_client *, json_int_t id, enum err_code, const char *msg);
/* server-dispatch.c: a request to the verb of table that serves it */
void server_dispatch_init(const struct cmd_entry *const *table);
server_handler_fn server_dispatch;
void server_client_send(struct server_client *, json_t *);
void server_client_send_text(
    struct server_client *, json_int_t id, const char *payload, size_t len);
void server_client_close(struct server_client *);

#endif
