/* galley: version, exit codes and limits shared by every role. */
#ifndef GALLEY_H
#define GALLEY_H

#ifndef GALLEY_VERSION
#define GALLEY_VERSION "0.0.0"
#endif

/* Exit codes of the CLI (DESIGN §3). */
#define EXIT_OK 0
#define EXIT_FAILED 1
#define EXIT_USAGE 2
#define EXIT_NOT_FOUND 3
#define EXIT_REFUSED 4
#define EXIT_UNREACHABLE 5

#define GALLEY_ID_LEN 8
#define GALLEY_NAME_MAX 64

#define container_of(ptr, type, member)                                        \
	((type *)((char *)(ptr)-offsetof(type, member)))

#define nitems(a) (sizeof(a) / sizeof((a)[0]))

#define printflike(a, b) __attribute__((format(printf, a, b)))

#endif
