/* The queue options of `new` and `exec` (issue 8): --group G, --after
 * ID[,ID...], --priority N, and the limits the daemon applies
 * (limits.maxRunning, limits.group.G), as the caller's settings say. */
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "names.h"
#include "settings.h"

int
cmd_queue_request(struct cmd_ctx *ctx, json_t *req, struct start_opts *o)
{
	const char *cwd = json_string_value(json_object_get(req, "cwd"));
	const char *group = o->group ? o->group : "default";
	struct settings set;
	char *end, key[128];

	if (name_check(group, "group", &ctx->err) < 0)
		return -1;
	json_object_set_new(req, "group", json_string(group));
	if (o->priority) {
		long p = strtol(o->priority, &end, 10);
		if (*o->priority == '\0' || *end || p < -1000 || p > 1000)
			return err_set(&ctx->err, ERR_USAGE,
			    "--priority takes -1000 to 1000");
		json_object_set_new(req, "priority", json_integer(p));
	}
	if (o->after) {
		json_t *after = json_array();
		for (const char *p = o->after; *p;) {
			size_t n = strcspn(p, ",");
			json_t *ref = json_stringn(p, n);
			if (n == 0 || n > 64 || ref == NULL) {
				json_decref(ref);
				json_decref(after);
				return err_set(&ctx->err, ERR_USAGE,
				    "--after takes ID[,ID...]");
			}
			json_array_append_new(after, ref);
			p += n + (p[n] == ',');
		}
		json_object_set_new(req, "after", after);
	}
	if (settings_load(&set, cwd, &ctx->err) < 0)
		return -1;
	/* null says "not set": an unset limit stops applying at once */
	json_t *max = settings_get(&set, "limits.maxRunning");
	json_object_set(
	    req, "max_running", json_is_integer(max) ? max : json_null());
	snprintf(key, sizeof key, "limits.group.%s", group);
	json_t *gl = settings_get(&set, key);
	json_object_set(
	    req, "group_limit", json_is_integer(gl) ? gl : json_null());
	settings_release(&set);
	return 0;
}
