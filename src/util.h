/* Paths, time, ids and small file helpers shared by every role. */
#ifndef UTIL_H
#define UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "buf.h"
#include "err.h"

/* Directories (DESIGN §2). Each returns a static string; computed once. */
const char *path_run_dir(void);    /* socket dir, 0700 */
const char *path_state_dir(void);  /* store, logs, sessions/ */
const char *path_config_dir(void); /* settings.json */
const char *path_socket(void);
char *path_session_dir(const char *id); /* caller frees */

int mkdir_p(const char *path, mode_t mode, struct err *);
int write_file_atomic(
    const char *path, const void *, size_t, mode_t, struct err *);
int write_file_replace(
    const char *path, const void *, size_t, mode_t, int durable, struct err *);
int read_file(const char *path, struct buf *, size_t max, struct err *);
int rm_rf(const char *path);

void random_hex(char *out, size_t nhex);      /* writes nhex chars + NUL */
uint64_t now_ms(void);                        /* monotonic */
int64_t wall_ms(void);                        /* realtime */
void iso_time(int64_t ms, char *out, size_t); /* 2026-11-24T12:00:00Z */
void iso_day(int64_t ms, char out[11]);       /* 2026-11-24 (UTC) */
const char *boot_id(void);
const char *self_exe(void);
int pid_alive(pid_t);
int set_cloexec(int fd);
int set_nonblock(int fd);
ssize_t write_all(int fd, const void *, size_t);
void utf8_sanitize(const char *, size_t, struct buf *);
void last_text_line(const char *text, char *out, size_t size);
char *path_search(const char *dirs, const char *name);

#endif
