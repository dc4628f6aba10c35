/* Unix sockets: long paths, peer checks, blocking framed I/O for the CLI. */
#ifndef SOCK_H
#define SOCK_H

#include <jansson.h>

#include "err.h"
#include "proto.h"

int sock_listen(const char *path, struct err *);
int sock_connect(const char *path, struct err *);
int sock_peer_ok(int fd); /* same uid as us (SO_PEERCRED) */
int sock_send(int fd, json_t *obj, struct err *);
/* Next frame; timeout_ms < 0 waits forever. 0 on timeout (*out NULL). */
int sock_recv(
    int fd, struct proto_reader *, json_t **out, int timeout_ms, struct err *);
/* Connect, exchange hello. */
int sock_open_peer(const char *path, struct proto_reader *, struct err *);
/* The same to a session's host, with the host protocol's hello. */
int sock_open_host(const char *path, struct proto_reader *, struct err *);

#endif
