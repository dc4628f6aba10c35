/* SQLite store: open, pragmas, migrations, statement cache. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "store.h"
#include "util.h"
#include "xmalloc.h"

/* A small statement cache keyed by the SQL text's address: callers pass
 * string literals, so the pointer is a stable key. */
#define STMT_CACHE 64
static struct {
	sqlite3 *db;
	const char *sql;
	sqlite3_stmt *stmt;
} stmt_cache[STMT_CACHE];

int
store_sqlerr(struct store *s, struct err *err, const char *what)
{
	return err_set(err, ERR_FAILED, "store: %s: %s", what,
	    s->db ? sqlite3_errmsg(s->db) : "not open");
}

int
store_exec(struct store *s, const char *sql, struct err *err)
{
	char *msg = NULL;

	if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		err_set(err, ERR_FAILED, "store: %s", msg ? msg : "error");
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

/* Make path (or keep it) a regular file of ours, 0600, as are its -wal
 * and -shm if they exist. */
static int
private_file(const char *path, struct err *err)
{
	static const char *const ext[] = {"", "-wal", "-shm"};
	char side[PATH_MAX];

	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return err_set(err, ERR_FAILED, "cannot open '%s': %s", path,
		    strerror(errno));
	close(fd);
	for (size_t i = 0; i < sizeof ext / sizeof ext[0]; i++) {
		snprintf(side, sizeof side, "%s%s", path, ext[i]);
		if (chmod(side, 0600) != 0 && errno != ENOENT)
			return err_set(err, ERR_FAILED,
			    "cannot make '%s' private: %s", side,
			    strerror(errno));
	}
	return 0;
}

static int reserve_make(struct store *);

int
store_open(struct store *s, const char *path, struct err *err)
{
	s->db = NULL;
	/* it holds prompts, argv, hook payloads and tokens: ours alone.
	 * SQLite gives its -wal and -shm the database file's mode. */
	if (private_file(path, err) < 0)
		return -1;
	if (sqlite3_open_v2(path, &s->db,
	        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
	            SQLITE_OPEN_NOMUTEX,
	        NULL) != SQLITE_OK) {
		store_sqlerr(s, err, path);
		store_close(s);
		return -1;
	}
	sqlite3_busy_timeout(s->db, 5000);
	/* WAL + NORMAL: a crash loses at most the last transactions, never
	 * corrupts; hosts keep the ground truth (exit files, logs). */
	if (store_exec(s,
	        "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
	        "PRAGMA foreign_keys=ON;",
	        err) < 0 ||
	    store_migrate(s, err) < 0) {
		store_close(s);
		return -1;
	}
	xasprintf(&s->reserve, "%s.reserve", path);
	if (reserve_make(s) < 0)
		log_warn("%s: cannot reserve room for the store: %s",
		    s->reserve, strerror(errno));
	return 0;
}

void
store_close(struct store *s)
{
	for (int i = 0; i < STMT_CACHE; i++) {
		if (stmt_cache[i].db == s->db && stmt_cache[i].stmt) {
			sqlite3_finalize(stmt_cache[i].stmt);
			memset(&stmt_cache[i], 0, sizeof stmt_cache[i]);
		}
	}
	if (s->db)
		sqlite3_close(s->db);
	s->db = NULL;
	free(s->reserve);
	s->reserve = NULL;
}

int
store_version(struct store *s)
{
	sqlite3_stmt *st;
	int v = 0;

	if (sqlite3_prepare_v2(s->db, "SELECT max(version) FROM schema_version",
	        -1, &st, NULL) != SQLITE_OK)
		return 0;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* Every pending migration runs in one transaction: a failure leaves the
 * database at the old version, never half-migrated. */
int
store_migrate(struct store *s, struct err *err)
{
	int have;
	char *sql;

	if (store_exec(s, "BEGIN IMMEDIATE", err) < 0)
		return -1;
	if (store_exec(s,
	        "CREATE TABLE IF NOT EXISTS schema_version ("
	        " version INTEGER NOT NULL, applied_at INTEGER NOT NULL"
	        ") STRICT",
	        err) < 0)
		goto fail;
	have = store_version(s);
	if (have > store_migrations[store_nmigrations - 1].version) {
		err_set(err, ERR_FAILED,
		    "store schema %d is newer than this galley knows (%d): "
		    "upgrade galley",
		    have, store_migrations[store_nmigrations - 1].version);
		goto fail;
	}
	for (int i = 0; i < store_nmigrations; i++) {
		if (store_migrations[i].version <= have)
			continue;
		if (store_exec(s, store_migrations[i].sql, err) < 0)
			goto fail;
		xasprintf(&sql,
		    "INSERT INTO schema_version VALUES (%d, unixepoch())",
		    store_migrations[i].version);
		int rc = store_exec(s, sql, err);
		free(sql);
		if (rc < 0)
			goto fail;
	}
	return store_exec(s, "COMMIT", err);
fail:
	store_exec(s, "ROLLBACK", NULL);
	return -1;
}

/* Transactions nest: only the outermost begins and commits, so a request
 * can wrap everything it does in one (one WAL commit instead of one per
 * statement) while helpers keep their own begin/commit. */
static int tx_depth;

int
store_begin(struct store *s)
{
	if (tx_depth++ > 0)
		return 0;
	return store_exec(s, "BEGIN IMMEDIATE", NULL);
}

/* A full disk must not leave the store behind what the daemon knows (a
 * session that ended, the event saying its output was lost): STORE_RESERVE
 * bytes of ballast are allocated next to the database, and given up when
 * a commit fails for want of space, so that commit and the next ones go
 * through; it is made again once there is room. store_error says so
 * meanwhile (daemon status, doctor). */
#define STORE_RESERVE (1024 * 1024)
#define STORE_RESERVE_RETRY_MS 30000
static char store_error[256];

const char *
store_last_error(void)
{
	return store_error[0] ? store_error : NULL;
}

static int
reserve_make(struct store *s)
{
	int fd, rc;

	s->reserve_tried = (long long)wall_ms();
	fd = open(s->reserve, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -1;
	rc = posix_fallocate(fd, 0, STORE_RESERVE);
	close(fd);
	if (rc != 0) {
		unlink(s->reserve);
		return -1;
	}
	return 0;
}

/* Give the ballast up; 1 if there was some to give. */
static int
reserve_release(struct store *s)
{
	if (s->reserve == NULL || unlink(s->reserve) != 0)
		return 0;
	log_error(
	    "%s: the disk is full; the store's reserve is in use", s->reserve);
	return 1;
}

int
store_commit(struct store *s)
{
	struct err err = ERR_INIT;
	int rc;

	if (tx_depth == 0 || --tx_depth > 0)
		return 0;
	rc = store_exec(s, "COMMIT", &err);
	/* out of space: release the reserve; the same commit again if its
	 * transaction is still open, else the owner writes its state anew */
	if (rc < 0 && sqlite3_errcode(s->db) == SQLITE_FULL &&
	    reserve_release(s)) {
		if (!sqlite3_get_autocommit(s->db)) {
			err_release(&err);
			rc = store_exec(s, "COMMIT", &err);
		} else if (s->on_lost) {
			static int again;
			if (!again++) {
				s->on_lost();
				rc = 0; /* written anew; the events are gone */
			}
			again = 0;
		}
	}
	if (rc == 0) {
		if (s->reserve && access(s->reserve, F_OK) != 0 &&
		    wall_ms() - s->reserve_tried > STORE_RESERVE_RETRY_MS &&
		    reserve_make(s) == 0)
			store_error[0] = '\0'; /* room again */
		else if (s->reserve && access(s->reserve, F_OK) != 0)
			snprintf(store_error, sizeof store_error,
			    "the disk under %s is full: the store is using "
			    "its reserve",
			    s->reserve);
		return 0;
	}
	if (strcmp(store_error, err.msg.data) != 0) /* once, not per write */
		log_error(
		    "%s: the change is kept in memory only", err.msg.data);
	snprintf(store_error, sizeof store_error, "%s", err.msg.data);
	err_release(&err);
	/* a failed COMMIT may leave the transaction open: end it, or the
	 * next BEGIN fails too */
	if (!sqlite3_get_autocommit(s->db))
		store_exec(s, "ROLLBACK", NULL);
	return -1;
}

/* Make what the open transactions wrote durable now, and go on in a new
 * one at the same depth: before code that may never return (a workflow's
 * script, which wf-watchdog.c may cut short by restarting the daemon). */
int
store_sync(struct store *s)
{
	int depth = tx_depth, rc;

	if (depth == 0)
		return 0;
	tx_depth = 1;
	rc = store_commit(s);
	while (tx_depth < depth)
		store_begin(s);
	return rc;
}

void
store_rollback(struct store *s)
{
	tx_depth = 0;
	store_exec(s, "ROLLBACK", NULL);
}

sqlite3_stmt *
store_stmt(struct store *s, const char *sql)
{
	int free_slot = -1;

	for (int i = 0; i < STMT_CACHE; i++) {
		if (stmt_cache[i].sql == sql && stmt_cache[i].db == s->db) {
			sqlite3_reset(stmt_cache[i].stmt);
			sqlite3_clear_bindings(stmt_cache[i].stmt);
			return stmt_cache[i].stmt;
		}
		if (stmt_cache[i].sql == NULL && free_slot < 0)
			free_slot = i;
	}
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st,
	        NULL) != SQLITE_OK)
		return NULL;
	if (free_slot >= 0) {
		stmt_cache[free_slot].db = s->db;
		stmt_cache[free_slot].sql = sql;
		stmt_cache[free_slot].stmt = st;
	}
	/* cache full: the statement leaks until close; 64 slots is more than
	 * the distinct statements galley has */
	return st;
}

void
store_bind_text(sqlite3_stmt *st, int i, const char *v)
{
	if (v)
		sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, i);
}

const char *
store_col_text(sqlite3_stmt *st, int i)
{
	return (const char *)sqlite3_column_text(st, i);
}
