/* One log file per role and pid; levels tested before formatting; control
 * bytes escaped. Never log environment values, tokens or prompts. */
#ifndef LOG_H
#define LOG_H

#include "galley.h"

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };

extern int log_level;

void log_open(const char *path, const char *role);
void log_write(enum log_level, const char *, ...) printflike(2, 3);

#define log_error(...) log_write(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_write(LOG_WARN, __VA_ARGS__)
#define log_info(...)                                                          \
	do {                                                                   \
		if (log_level >= LOG_INFO)                                     \
			log_write(LOG_INFO, __VA_ARGS__);                      \
	} while (0)
#define log_debug(...)                                                         \
	do {                                                                   \
		if (log_level >= LOG_DEBUG)                                    \
			log_write(LOG_DEBUG, __VA_ARGS__);                     \
	} while (0)

#endif
