/* The line (session-queue.c). */
#ifndef SESSION_QUEUE_H
#define SESSION_QUEUE_H

void session_queue_set_group(const char *group, int limit);
int session_group_limit(const char *group);
void session_schedule(void);
void session_queue_observe(void); /* subscribe the line to its changes */

#endif
