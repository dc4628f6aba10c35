/* The CLI's terminal: raw mode for attach, and its size. */
#ifndef TERM_H
#define TERM_H

#include <termios.h>

int term_size(int fd, int *rows, int *cols);
int term_raw(int fd, struct termios *saved);
void term_restore(int fd, const struct termios *saved);

#endif
