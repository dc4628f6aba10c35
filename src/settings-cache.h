/* The daemon's settings (settings-cache.c): the user's, and each
 * project's layered over them, read from their files and re-read when a
 * file changes. No request carries settings: a session is governed by the
 * files of the project it belongs to, whoever started it. */
#ifndef SETTINGS_CACHE_H
#define SETTINGS_CACHE_H

#include "settings.h"

/* The user's settings (default and user layers). */
struct settings *settings_user(void);
/* root's project (the directory holding .git), or the user's for NULL. */
struct settings *settings_project(const char *root);
/* Files are stat'ed again at the next lookup after this: once per request
 * and per scheduling pass, not per session. */
void settings_cache_pass(void);
/* Bumped whenever any settings were read again: a module that derives
 * state from them compares it with the value it saw. */
unsigned settings_cache_generation(void);
/* A number >= 0 from the user's settings, else dflt. */
double settings_user_num(const char *key, double dflt);

#endif
