/* argv -> cmd_find() -> run. Nothing else. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "galley.h"

int
main(int argc, char **argv)
{
	struct cmd_ctx ctx = {0};
	const struct cmd_entry *e;
	char *dflt_argv[3] = {NULL, NULL, NULL};
	int rc;

	signal(SIGPIPE, SIG_IGN);
	ctx.cl = (struct client)CLIENT_INIT;
	ctx.err = (struct err)ERR_INIT;
	if (argc < 2) {
		/* on a terminal the agent view; in a pipe or script, ls */
		dflt_argv[0] = argv[0];
		dflt_argv[1] = isatty(0) && isatty(1) ? "view" : "ls";
		argc = 2;
		argv = dflt_argv;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		if (argc > 2) { /* galley help VERB: that verb's help */
			e = cmd_find(argv[2], &ctx.err);
			if (e == NULL || (e->flags & CMD_INTERNAL)) {
				if (e != NULL)
					err_set(&ctx.err, ERR_USAGE,
					    "unknown command '%.64s': see "
					    "'galley --help'",
					    argv[2]);
				rc = cmd_fail(&ctx);
				err_release(&ctx.err);
				return rc;
			}
			cmd_print_usage(e, stdout);
			return 0;
		}
		cmd_print_help(stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0 ||
	    strcmp(argv[1], "version") == 0) {
		printf("galley %s (protocol %d)\n", GALLEY_VERSION, 1);
		return 0;
	}
	if (strcmp(argv[1], "--bg") == 0)
		argv[1] = "new";
	e = cmd_find(argv[1], &ctx.err);
	if (e == NULL) {
		rc = cmd_fail(&ctx);
		err_release(&ctx.err);
		return rc;
	}
	ctx.entry = e;
	ctx.table = cmd_table;
	ctx.argc = argc - 1;
	ctx.argv = argv + 1;
	rc = e->run(&ctx);
	client_close(&ctx.cl);
	err_release(&ctx.err);
	/* git's run_builtin(): output that did not reach stdout is a failure */
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr,
		    "galley: write failure on standard output: %s\n",
		    strerror(errno));
		return EXIT_FAILED;
	}
	return rc;
}
