/* The per-session host process: owns the PTY master, the libvterm screen,
 * the raw log, its socket, and the child's exit status. */
#ifndef HOST_H
#define HOST_H

#include <jansson.h>
#include <sys/types.h>
#include <uv.h>

#include "buf.h"
#include "proto.h"
#include "queue.h"

struct screen;

struct host_client {
	uv_pipe_t pipe;
	struct proto_reader rd;
	struct buf raw_in; /* attach mode: input messages from the client */
	int attached;
	int watch;
	int closing;
	int greeted;
	TAILQ_ENTRY(host_client) entry;
};

struct host {
	uv_loop_t *loop;
	char id[16];
	char *dir;
	int master;
	pid_t child;
	pid_t relay;      /* --sandbox net: the relay to the API endpoint */
	char *relay_sock; /* and the socket it listens on */
	uv_poll_t pty_poll;
	int poll_events;
	uv_signal_t sig_chld, sig_term, sig_hup;
	uv_pipe_t listener;
	uv_timer_t kill_timer;
	uv_timer_t trim_timer;   /* trims again once start-up is over */
	uv_timer_t enter_timer;  /* Enter after a paste (host-client.c) */
	uv_timer_t settle_timer; /* feeds waiting text once output pauses */
	struct screen *screen;
	struct buf pty_in; /* input not yet taken by the PTY */
	TAILQ_HEAD(, host_client) clients;
	int exited, exit_code, exit_signal;
	int pty_eof;
	int bracketed; /* the app turned on bracketed paste */
	char tail[8];  /* last bytes of output, for split sequences */
	size_t ntail;
	int finishing;
};

extern struct host host;

/* remote: under a cluster's scheduler, binding host.sock itself (the
 * daemon binds it and passes fd 3 to a local host). */
int host_main(const char *id, int remote);
int host_write_pty(const char *, size_t);
void host_resize(int rows, int cols);
void host_signal(int sig, int grace_ms);
json_t *host_status(void);

/* host-record.c: output.log, and the exit and screen records, in dir */
/* max_bytes: logs.maxBytes, output.log rotated past it (0: never). */
int host_records_open(const char *dir, long long max_bytes);
/* 1 when the log has just stopped taking output (host_records_lost) */
int host_record_output(const char *, size_t);
const char *host_records_lost(void); /* why, and from which byte */
void host_records_close(void);
void host_record_exit(int code, int sig);
void host_record_screen(struct screen *);
void host_records_free(void);

void host_client_accept(uv_stream_t *);
void host_client_send(struct host_client *, json_t *);
void host_client_raw(struct host_client *, const char *, size_t);
void host_client_close(struct host_client *);
void host_client_shutdown(struct host_client *);

#endif
