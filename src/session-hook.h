/* Hooks and transcripts (session-hook.c). */
#ifndef SESSION_HOOK_H
#define SESSION_HOOK_H

#include <jansson.h>

struct session;

void session_hook_observe(void); /* reads the transcript at the end */
void session_read_transcript(struct session *, const char *path);
void session_read_transcript_once(struct session *, const char *path);
void session_recheck_transcript(struct session *);
/* "Bash(rm -rf build)" from a hook's tool_name and tool_input. */

#endif
