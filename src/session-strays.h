/* What a stopped session left running (session-strays.c). */
#ifndef SESSION_STRAYS_H
#define SESSION_STRAYS_H

void session_strays_init(void);

#endif
