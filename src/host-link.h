/* The daemon's link to a session's host (host-link.c). */
#ifndef HOST_LINK_H
#define HOST_LINK_H

#include <jansson.h>

#include "executor.h"

struct host_link;

struct host_link_cb {
	/* the link closed, or could not be made */
	void (*gone)(struct session *);
	/* {"event":"status"|"exit", ...} from the host */
	void (*status)(struct session *, json_t *ev);
};

void host_link_init(const struct executor_sink *);
/* Connect to the session's host.sock and watch it (s->link). */
int host_link_open(struct session *, const struct host_link_cb *);
void host_link_send(struct host_link *, json_t *msg);
void host_link_detach(struct host_link *);
/* Ask for the screen (the sink's screen answers); type text and Enter.
 * -1 without a link. */
int host_link_peek(struct session *);
/* sig to the session's process group, SIGKILL after grace_ms. */
int host_link_signal(struct session *, int sig, int grace_ms);
int host_link_input(struct session *, const char *text);
/* A status or exit event, told to the sink as it says. */
void host_link_status(struct session *, json_t *ev);
/* The exit file a host leaves behind: 0 with *code and *sig set, -1 if
 * there is none (yet). */
int host_exit_file(struct session *, int *code, int *sig);

#endif
