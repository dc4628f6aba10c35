/* The daemon's open-file limit (fdlimit.c). */
#ifndef FDLIMIT_H
#define FDLIMIT_H

#include "err.h"

/* At start: the soft limit up to the hard one. */
void fdlimit_raise(void);
long fdlimit_in_use(void);
/* 0 if one more session fits; else -1, err set (ERR_REFUSED). */
int fdlimit_check(struct err *);

#endif
