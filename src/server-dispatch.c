/* A request to the verb that serves it. The one place that resolves a
 * session reference for every verb that takes one (CMD_FIND_SESSION, as
 * tmux's CMD_FIND_SESSION): the verb gets the session, and its reply gets
 * the session as it is after the verb ran. Everything one request writes
 * is one store transaction. */
#include <string.h>

#include "buf.h"
#include "cmd.h"
#include "server.h"
#include "settings-cache.h"
#include "session.h"

static int
serve_session(const struct cmd_entry *e, struct server_client *c, json_t *req,
    json_t *reply, struct err *err)
{
	const char *ref;
	struct session *s;
	int rc;

	if (proto_get_str(req, "ref", &ref, err) < 0)
		return -1;
	if ((s = session_resolve(ref, err)) == NULL)
		return -1;
	rc = e->serve_session(c, s, req, reply, err);
	/* a verb that removes its session puts it in the reply itself,
	 * before it goes */
	if (rc == 0 && json_object_get(reply, "session") == NULL)
		json_object_set_new(reply, "session", session_to_json(s));
	return rc;
}

static const struct cmd_entry *const *verbs;

void
server_dispatch_init(const struct cmd_entry *const *table)
{
	verbs = table;
}

static const struct cmd_entry *
find_serve(const char *name)
{
	for (int i = 0; verbs && verbs[i]; i++)
		if ((verbs[i]->serve || verbs[i]->serve_session) &&
		    strcmp(verbs[i]->name, name) == 0)
			return verbs[i];
	return NULL;
}

void
server_dispatch(
    struct server_client *c, json_int_t id, const char *name, json_t *req)
{
	const struct cmd_entry *e = find_serve(name);
	struct err err = ERR_INIT;
	json_t *reply;
	int rc;

	if (e == NULL) {
		struct buf m = BUF_INIT;
		buf_addf(&m, "unknown request '%.64s'", name);
		server_client_error(c, id, ERR_USAGE, m.data);
		buf_release(&m);
		return;
	}
	reply = json_pack("{s:I, s:b}", "id", id, "ok", 1);
	settings_cache_pass(); /* a setting changed meanwhile counts now */
	store_begin(&galley_db);
	if (e->flags & CMD_FIND_SESSION)
		rc = serve_session(e, c, req, reply, &err);
	else
		rc = e->serve(c, req, reply, &err);
	store_commit(&galley_db);
	if (rc < 0)
		server_client_error(c, id, err.code ? err.code : ERR_FAILED,
		    err.msg.len ? err.msg.data : "request failed");
	else if (rc == 0)
		server_client_send(c, reply);
	/* rc 1: the verb wrote its reply itself */
	json_decref(reply);
	err_release(&err);
}
