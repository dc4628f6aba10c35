/* Drop start-up code pages from an idle process's RSS (see trim.c). */
#ifndef TRIM_H
#define TRIM_H

void trim_code_pages(void);

#endif
