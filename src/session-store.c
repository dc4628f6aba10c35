/* Sessions in the store: load at start, write through on every change. */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "server.h"
#include "session.h"
#include "util.h"
#include "xmalloc.h"

/* The daemon's store: opened by server_main, written by the daemon
 * alone. */
struct store galley_db;

static char *
col_str(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	return t ? xstrdup((const char *)t) : NULL;
}

#define SESSION_COLS                                                             \
	"id, name, kind, runtime, state, waiting_for, reason, prompt, cwd, "     \
	"worktree, branch, pinned, grp, executor, host_pid, pid, exit_code, "    \
	"exit_signal, model, runtime_session_id, team, workflow, parent, "       \
	"boot_id, hook_token, spec, created_at, updated_at, ended_at, repo, "    \
	"base, base_ref, result, transcript_path, after_ids, priority, policy, " \
	"merged_into, output_error, job_id, node, children"

/* One row of SESSION_COLS, in that order; NULL for a row missing a NOT
 * NULL column (which cannot happen). */
static struct session *
session_from_row(sqlite3_stmt *st)
{
	struct session *s = xcalloc(1, sizeof *s);
	int i = 0;
	const unsigned char *id = sqlite3_column_text(st, i++);
	snprintf(s->id, sizeof s->id, "%s", id ? (const char *)id : "");
	s->name = col_str(st, i++);
	s->kind = col_str(st, i++);
	s->runtime = col_str(st, i++);
	const char *state = (const char *)sqlite3_column_text(st, i++);
	int known = state_from_name(state);
	if (known < 0) /* a newer galley's store: show it, ended */
		log_warn("session %s: unknown state '%.32s' in the store, "
		         "loaded as failed",
		    s->id, state ? state : "");
	s->state = known < 0 ? SESSION_FAILED : known;
	s->waiting_for = col_str(st, i++);
	s->reason = col_str(st, i++);
	s->prompt = col_str(st, i++);
	s->cwd = col_str(st, i++);
	s->worktree = col_str(st, i++);
	s->branch = col_str(st, i++);
	s->pinned = sqlite3_column_int(st, i++);
	s->grp = col_str(st, i++);
	s->executor = col_str(st, i++);
	s->host_pid = (long)sqlite3_column_int64(st, i++);
	s->pid = (long)sqlite3_column_int64(st, i++);
	s->has_exit = sqlite3_column_type(st, i) != SQLITE_NULL;
	s->exit_code = sqlite3_column_int(st, i++);
	s->exit_signal = sqlite3_column_int(st, i++);
	s->model = col_str(st, i++);
	s->runtime_session_id = col_str(st, i++);
	s->team = col_str(st, i++);
	s->workflow = col_str(st, i++);
	s->parent = col_str(st, i++);
	s->boot_id = col_str(st, i++);
	s->hook_token = col_str(st, i++);
	s->spec = col_str(st, i++);
	s->created_at = sqlite3_column_int64(st, i++);
	s->updated_at = sqlite3_column_int64(st, i++);
	s->ended_at = sqlite3_column_int64(st, i++);
	s->repo = col_str(st, i++);
	s->base = col_str(st, i++);
	s->base_ref = col_str(st, i++);
	s->result = col_str(st, i++);
	s->transcript_path = col_str(st, i++);
	const unsigned char *after = sqlite3_column_text(st, i++);
	s->after = after ? json_loads((const char *)after, 0, NULL) : NULL;
	s->priority = sqlite3_column_int(st, i++);
	const unsigned char *pol = sqlite3_column_text(st, i++);
	s->policy = pol ? json_loads((const char *)pol, 0, NULL) : NULL;
	s->merged_into = col_str(st, i++);
	s->output_error = col_str(st, i++);
	s->job_id = col_str(st, i++);
	s->node = col_str(st, i++);
	const unsigned char *kids = sqlite3_column_text(st, i++);
	s->children = kids ? json_loads((const char *)kids, 0, NULL) : NULL;
	if (s->name == NULL || s->cwd == NULL || s->kind == NULL ||
	    s->runtime == NULL) {
		session_free(s);
		return NULL;
	}
	return s;
}

int
session_load_all(struct err *err)
{
	static const char sql[] =
	    "SELECT " SESSION_COLS " FROM sessions ORDER BY created_at, id";
	static const char usql[] =
	    "SELECT session, sum(input_tokens), sum(output_tokens),"
	    " sum(cache_read_tokens), sum(cache_write_tokens), sum(cost_usd)"
	    " FROM usage GROUP BY session";
	sqlite3_stmt *st = store_stmt(&galley_db, sql);
	struct session *s;
	int rc;

	if (st == NULL)
		return store_sqlerr(&galley_db, err, "load sessions");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		if ((s = session_from_row(st)) != NULL)
			session_add(s);
	if (rc != SQLITE_DONE)
		return store_sqlerr(&galley_db, err, "load sessions");
	st = store_stmt(&galley_db, usql);
	while (st && sqlite3_step(st) == SQLITE_ROW) {
		s = session_find_id((const char *)sqlite3_column_text(st, 0));
		if (s == NULL)
			continue;
		s->usage.input = sqlite3_column_int64(st, 1);
		s->usage.output = sqlite3_column_int64(st, 2);
		s->usage.cache_read = sqlite3_column_int64(st, 3);
		s->usage.cache_write = sqlite3_column_int64(st, 4);
		s->usage.cost = sqlite3_column_double(st, 5);
	}
	return 0;
}

static void
bind_str(sqlite3_stmt *st, int i, const char *v)
{
	if (v)
		sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, i);
}

/* Upsert the whole row: simple, and one statement per change is cheap. */
void
session_touch(struct session *s)
{
	static const char sql[] =
	    "INSERT OR REPLACE INTO sessions (" SESSION_COLS ") VALUES "
	    "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,"
	    "?,?,?,?,?,?,?)";
	sqlite3_stmt *st = store_stmt(&galley_db, sql);
	int i = 1;

	session_uncache(s);
	if (st == NULL) {
		log_error(
		    "save session %s: %s", s->id, sqlite3_errmsg(galley_db.db));
		return;
	}
	bind_str(st, i++, s->id);
	bind_str(st, i++, s->name);
	bind_str(st, i++, s->kind);
	bind_str(st, i++, s->runtime);
	bind_str(st, i++, state_name(s->state));
	bind_str(st, i++, s->waiting_for);
	bind_str(st, i++, s->reason);
	bind_str(st, i++, s->prompt);
	bind_str(st, i++, s->cwd);
	bind_str(st, i++, s->worktree);
	bind_str(st, i++, s->branch);
	sqlite3_bind_int(st, i++, s->pinned);
	bind_str(st, i++, s->grp ? s->grp : "default");
	bind_str(st, i++, s->executor ? s->executor : "local");
	sqlite3_bind_int64(st, i++, s->host_pid);
	sqlite3_bind_int64(st, i++, s->pid);
	if (s->has_exit)
		sqlite3_bind_int(st, i++, s->exit_code);
	else
		sqlite3_bind_null(st, i++);
	sqlite3_bind_int(st, i++, s->exit_signal);
	bind_str(st, i++, s->model);
	bind_str(st, i++, s->runtime_session_id);
	bind_str(st, i++, s->team);
	bind_str(st, i++, s->workflow);
	bind_str(st, i++, s->parent);
	bind_str(st, i++, s->boot_id);
	bind_str(st, i++, s->hook_token);
	bind_str(st, i++, s->spec);
	sqlite3_bind_int64(st, i++, s->created_at);
	sqlite3_bind_int64(st, i++, s->updated_at);
	if (s->ended_at)
		sqlite3_bind_int64(st, i++, s->ended_at);
	else
		sqlite3_bind_null(st, i++);
	bind_str(st, i++, s->repo);
	bind_str(st, i++, s->base);
	bind_str(st, i++, s->base_ref);
	bind_str(st, i++, s->result);
	bind_str(st, i++, s->transcript_path);
	char *after = json_array_size(s->after)
	    ? json_dumps(s->after, JSON_COMPACT)
	    : NULL;
	bind_str(st, i++, after);
	free(after);
	sqlite3_bind_int(st, i++, s->priority);
	char *pol = s->policy ? json_dumps(s->policy, JSON_COMPACT) : NULL;
	bind_str(st, i++, pol);
	free(pol);
	bind_str(st, i++, s->merged_into);
	bind_str(st, i++, s->output_error);
	bind_str(st, i++, s->job_id);
	bind_str(st, i++, s->node);
	char *kids = json_object_size(s->children)
	    ? json_dumps(s->children, JSON_COMPACT)
	    : NULL;
	bind_str(st, i++, kids);
	free(kids);
	if (sqlite3_step(st) != SQLITE_DONE)
		log_error(
		    "save session %s: %s", s->id, sqlite3_errmsg(galley_db.db));
	sqlite3_reset(st);
}

/* Every session as the daemon knows it, written again: a transaction the
 * disk refused is not left behind (store.c's reserve made room). */
void
session_save_all(void)
{
	struct session *s;

	store_begin(&galley_db);
	TAILQ_FOREACH(s, &session_table, entry)
		session_touch(s);
	store_commit(&galley_db);
	log_warn("every session written again after a full disk");
}

void
session_event(struct session *s, const char *kind, json_t *data)
{
	static const char sql[] =
	    "INSERT INTO events (session, at, kind, data) VALUES (?,?,?,?)";
	sqlite3_stmt *st = store_stmt(&galley_db, sql);
	char *text = data ? json_dumps(data, JSON_COMPACT) : NULL;

	if (st == NULL)
		goto out;
	bind_str(st, 1, s->id);
	sqlite3_bind_int64(st, 2, wall_ms()); /* when it happened */
	bind_str(st, 3, kind);
	bind_str(st, 4, text);
	if (sqlite3_step(st) != SQLITE_DONE)
		log_error("event %s: %s", kind, sqlite3_errmsg(galley_db.db));
	sqlite3_reset(st);
out:
	free(text);
}

void session_forget(struct session *s);
void
session_forget(struct session *s)
{
	static const char *const sqls[] = {
	    "DELETE FROM sessions WHERE id = ?",
	    "DELETE FROM usage WHERE session = ?",
	    "DELETE FROM usage_seen WHERE session = ?",
	};

	store_begin(&galley_db);
	for (size_t i = 0; i < nitems(sqls); i++) {
		sqlite3_stmt *st = store_stmt(&galley_db, sqls[i]);
		if (st == NULL)
			continue;
		bind_str(st, 1, s->id);
		sqlite3_step(st);
		sqlite3_reset(st);
	}
	store_commit(&galley_db);
}
