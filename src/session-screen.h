/* The screen when a runtime's hooks stay silent (session-screen.c). */
#ifndef SESSION_SCREEN_H
#define SESSION_SCREEN_H

struct session;

void session_screen_init(void); /* observes states */
void session_watch_screen(struct session *);
void session_on_screen(struct session *, const char *screen);

#endif
