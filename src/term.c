/* Terminal helpers for the CLI. */
#include <sys/ioctl.h>
#include <unistd.h>

#include "term.h"

int
term_size(int fd, int *rows, int *cols)
{
	struct winsize ws;

	if (ioctl(fd, TIOCGWINSZ, &ws) != 0 || ws.ws_row == 0 || ws.ws_col == 0)
		return -1;
	*rows = ws.ws_row;
	*cols = ws.ws_col;
	return 0;
}

int
term_raw(int fd, struct termios *saved)
{
	struct termios t;

	if (tcgetattr(fd, saved) != 0)
		return -1;
	t = *saved;
	cfmakeraw(&t);
	return tcsetattr(fd, TCSADRAIN, &t);
}

void
term_restore(int fd, const struct termios *saved)
{
	tcsetattr(fd, TCSADRAIN, saved);
}
