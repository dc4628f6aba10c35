/* --on local|slurm and the job's size on a cluster (--partition, --time,
 * --cpus, --mem, --nodes), for `new` and `exec`: into the request's
 * "executor" and "slurm". The daemon checks the values again (spec.c);
 * here a mistake is a usage error before anything is sent. */
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "executor.h"
#include "settings.h"

static int
count_arg(struct cmd_ctx *ctx, const char *flag, const char *v, json_t *o,
    const char *key)
{
	char *end;
	long n = strtol(v, &end, 10);

	if (*v == '\0' || *end || n < 1 || n > 4096)
		return err_set(
		    &ctx->err, ERR_USAGE, "%s takes 1 to 4096", flag);
	json_object_set_new(o, key, json_integer(n));
	return 0;
}

int
cmd_executor_request(struct cmd_ctx *ctx, json_t *req, struct start_opts *o,
    struct settings *set)
{
	const char *on =
	    o->on ? o->on : settings_get_str(set, "executor.default");
	json_t *slurm = json_object();
	int rc = -1;

	if (on == NULL)
		on = "local";
	if (executor_find(on) == NULL) {
		err_set(&ctx->err, ERR_USAGE,
		    "--on takes local or slurm (got '%.40s')", on);
		goto out;
	}
	if (o->partition)
		json_object_set_new(
		    slurm, "partition", json_string(o->partition));
	if (o->time)
		json_object_set_new(slurm, "time", json_string(o->time));
	if (o->mem)
		json_object_set_new(slurm, "mem", json_string(o->mem));
	if ((o->cpus && count_arg(ctx, "--cpus", o->cpus, slurm, "cpus") < 0) ||
	    (o->nodes &&
	        count_arg(ctx, "--nodes", o->nodes, slurm, "nodes") < 0))
		goto out;
	if (json_object_size(slurm) && strcmp(on, "slurm") != 0) {
		err_set(&ctx->err, ERR_USAGE,
		    "--partition, --time, --cpus, --mem and --nodes are for "
		    "--on slurm");
		goto out;
	}
	if (strcmp(on, "local") != 0)
		json_object_set_new(req, "executor", json_string(on));
	if (json_object_size(slurm))
		json_object_set(req, "slurm", slurm);
	rc = 0;
out:
	json_decref(slurm);
	return rc;
}
