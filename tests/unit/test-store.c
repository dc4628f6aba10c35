/* Store: migrations at open, in one transaction, idempotent; WAL; STRICT;
 * newer schemas refused; the statement cache. */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "store.h"
#include "util.h"

static char dir[] = "/tmp/galley-store-XXXXXX";
static char path[PATH_MAX]; /* a fresh database file for each test */

static int
fresh_path(void **state)
{
	static int n;

	snprintf(path, sizeof path, "%s/t%d.db", dir, ++n);
	return 0;
}

static int
last_version(void)
{
	return store_migrations[store_nmigrations - 1].version;
}

/* The first column of the first row of sql as an int, -1 on error. */
static int
query_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;
	int n = -1;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return n;
}

static int
table_exists(sqlite3 *db, const char *name)
{
	char *sql = sqlite3_mprintf(
	    "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND "
	    "name = %Q",
	    name);
	int n = query_int(db, sql);

	sqlite3_free(sql);
	return n == 1;
}

static int
column_exists(sqlite3 *db, const char *table, const char *column)
{
	char *sql = sqlite3_mprintf(
	    "SELECT count(*) FROM pragma_table_info(%Q) WHERE name = %Q", table,
	    column);
	int n = query_int(db, sql);

	sqlite3_free(sql);
	return n == 1;
}

/* A database set up behind the store's back. */
static sqlite3 *
raw_open(void)
{
	sqlite3 *db = NULL;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	return db;
}

static void
raw_exec(sqlite3 *db, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		fail_msg("%s: %s", sql, msg ? msg : "?");
		sqlite3_free(msg);
	}
}

static void
test_open_migrates_to_the_last_version(void **state)
{
	struct store s = STORE_INIT;
	struct err e = ERR_INIT;
	sqlite3_stmt *st;
	int i = 0;

	assert_int_equal(store_open(&s, path, &e), 0);
	assert_non_null(s.db);
	assert_int_equal(store_version(&s), last_version());
	/* one row per migration, in order */
	assert_int_equal(sqlite3_prepare_v2(s.db,
	                     "SELECT version FROM schema_version ORDER BY "
	                     "rowid",
	                     -1, &st, NULL),
	    SQLITE_OK);
	while (sqlite3_step(st) == SQLITE_ROW) {
		assert_true(i < store_nmigrations);
		assert_int_equal(
		    sqlite3_column_int(st, 0), store_migrations[i].version);
		i++;
	}
	sqlite3_finalize(st);
	assert_int_equal(i, store_nmigrations);
	store_close(&s);
	assert_null(s.db);
	err_release(&e);
}

static void
test_migration_versions_increase(void **state)
{
	assert_true(store_nmigrations >= 1);
	assert_true(store_migrations[0].version >= 1);
	for (int i = 1; i < store_nmigrations; i++)
		assert_true(store_migrations[i].version >
		    store_migrations[i - 1].version);
}

static void
test_reopen_is_idempotent(void **state)
{
	struct store s = STORE_INIT;
	struct err e = ERR_INIT;

	assert_int_equal(store_open(&s, path, &e), 0);
	assert_int_equal(store_exec(&s,
	                     "INSERT INTO events (session, at, kind) VALUES "
	                     "('a1b2c3d4', 1, 'created')",
	                     &e),
	    0);
	store_close(&s);
	for (int round = 0; round < 3; round++) {
		assert_int_equal(store_open(&s, path, &e), 0);
		assert_int_equal(store_version(&s), last_version());
		assert_int_equal(
		    query_int(s.db, "SELECT count(*) FROM schema_version"),
		    store_nmigrations);
		assert_int_equal(query_int(s.db,
		                     "SELECT count(DISTINCT version) FROM "
		                     "schema_version"),
		    store_nmigrations);
		/* data survives reopening */
		assert_int_equal(
		    query_int(s.db, "SELECT count(*) FROM events"), 1);
		store_close(&s);
	}
	err_release(&e);
}

static void
test_journal_mode_is_wal_and_foreign_keys_on(void **state)
{
	struct store s = STORE_INIT;
	struct err e = ERR_INIT;
	sqlite3_stmt *st;

	assert_int_equal(store_open(&s, path, &e), 0);
	assert_int_equal(
	    sqlite3_prepare_v2(s.db, "PRAGMA journal_mode", -1, &st, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
	sqlite3_finalize(st);
	assert_int_equal(query_int(s.db, "PRAGMA foreign_keys"), 1);
	assert_int_equal(query_int(s.db, "PRAGMA synchronous"), 1); /* NORMAL */
	store_close(&s);
	err_release(&e);
}

static void
test_tables_exist_and_are_strict(void **state)
{
	static const char *const tables[] = {
	    "sessions", "events", "usage", "usage_seen", "schema_version"};
	struct store s = STORE_INIT;
	struct err e = ERR_INIT;

	assert_int_equal(store_open(&s, path, &e), 0);
	for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++) {
		char *sql = sqlite3_mprintf(
		    "SELECT strict FROM pragma_table_list WHERE name = %Q",
		    tables[i]);
		if (!table_exists(s.db, tables[i]))
			fail_msg("table %s is missing", tables[i]);
		assert_int_equal(query_int(s.db, sql), 1);
		sqlite3_free(sql);
	}
	/* columns added by later migrations are there */
	assert_true(column_exists(s.db, "sessions", "repo"));
	assert_true(column_exists(s.db, "sessions", "base"));
	assert_true(column_exists(s.db, "sessions", "base_ref"));
	store_close(&s);
	err_release(&e);
}

/* STRICT tables reject a value of the wrong type */
static void
test_strict_rejects_text_in_integer_column(void **state)
{
	struct store s = STORE_INIT;
	struct err e = ERR_INIT;

	assert_int_equal(store_open(&s, path, &e), 0);
	assert_int_equal(store_exec(&s,
	                     "INSERT INTO sessions (id, name, kind, runtime, "
	                     "state, cwd, created_at, updated_at) VALUES "
	                     "('a','a','job','exec','done','/','soon',2)",
	                     &e),
	    -1);
	assert_int_equal(e.code, ERR_FAILED);
	assert_non_null(strstr(e.msg.data, "INTEGER"));
	assert_int_equal(query_int(s.db, "SELECT count(*) FROM sessions"), 0);
	err_release(&e);
	assert_int_equal(store_exec(&s,
	                     "INSERT INTO events (session, at, kind) VALUES "
	                     "('a', 'noon', 'x')",
	                     &e),
	    -1);
	err_release(&e);
	/* the right types go in */
	assert_int_equal(store_exec(&s,
	                     "INSERT INTO sessions (id, name, kind, runtime, "
	                     "state, cwd, created_at, updated_at) VALUES "
	                     "('a','a','job','exec','done','/',1,2)",
	                     &e),
	    0);
	assert_int_equal(query_int(s.db, "SELECT count(*) FROM sessions"), 1);
	store_close(&s);
	err_release(&e);
}

/* a store from a newer galley is refused, not touched */
static void
test_newer_schema_is_refused_with_upgrade_message(void **state)
{
	struct store s = STORE_INIT;
	struct err e = ERR_INIT;
	sqlite3 *db = raw_open();

	raw_exec(db,
	    "CREATE TABLE schema_version (version INTEGER NOT NULL,"
	    " applied_at INTEGER NOT NULL) STRICT;"
	    "INSERT INTO schema_version VALUES (999, 0)");
	sqlite3_close(db);

	assert_int_equal(store_open(&s, path, &e), -1);
	assert_null(s.db);
	assert_int_equal(e.code, ERR_FAILED);
	assert_non_null(strstr(e.msg.data, "upgrade galley"));
	assert_non_null(strstr(e.msg.data, "999"));

	db = raw_open();
	assert_int_equal(
	    query_int(db, "SELECT max(version) FROM schema_version"), 999);
	assert_int_equal(
	    query_int(db, "SELECT count(*) FROM schema_version"), 1);
	assert_false(table_exists(db, "sessions"));
	sqlite3_close(db);
	err_release(&e);
}

/* Migration 1 fails part way (a table it creates already exists with
 * another shape): nothing it did before the failure survives, not even
 * schema_version, and the old table is as it was. */
static void
test_failed_first_migration_rolls_back_everything(void **state)
{
	struct store s = STORE_INIT;
	struct err e = ERR_INIT;
	sqlite3 *db = raw_open();

	raw_exec(db,
	    "CREATE TABLE events (x TEXT);"
	    "INSERT INTO events VALUES ('old')");
	sqlite3_close(db);

	assert_int_equal(store_open(&s, path, &e), -1);
	assert_null(s.db);
	assert_non_null(strstr(e.msg.data, "events"));

	db = raw_open();
	assert_false(table_exists(db, "sessions")); /* created before events */
	assert_false(table_exists(db, "schema_version"));
	assert_int_equal(query_int(db,
	                     "SELECT count(*) FROM sqlite_master WHERE name = "
	                     "'sessions_state'"),
	    0);
	assert_int_equal(
	    query_int(db, "SELECT count(*) FROM pragma_table_info('events')"),
	    1);
	assert_int_equal(query_int(db, "SELECT count(*) FROM events"), 1);
	sqlite3_close(db);
	err_release(&e);
}

/* A database at version 1 where migration 2's second statement fails:
 * its first statement (ADD COLUMN repo) must be undone and the version
 * stays 1. Tied to migration 2 adding repo, base and base_ref. */
static void
test_failed_later_migration_keeps_old_version(void **state)
{
	struct store s = STORE_INIT;
	struct err e = ERR_INIT;
	sqlite3 *db;

	assert_true(store_nmigrations >= 2);
	assert_int_equal(store_migrations[1].version, 2);
	assert_non_null(strstr(store_migrations[1].sql, "ADD COLUMN repo"));
	assert_non_null(strstr(store_migrations[1].sql, "ADD COLUMN base "));
	db = raw_open();
	raw_exec(db, store_migrations[0].sql);
	raw_exec(db,
	    "ALTER TABLE sessions ADD COLUMN base TEXT;"
	    "CREATE TABLE schema_version (version INTEGER NOT NULL,"
	    " applied_at INTEGER NOT NULL) STRICT;"
	    "INSERT INTO schema_version VALUES (1, 0)");
	sqlite3_close(db);

	assert_int_equal(store_open(&s, path, &e), -1);
	assert_non_null(strstr(e.msg.data, "base"));

	db = raw_open();
	assert_int_equal(
	    query_int(db, "SELECT max(version) FROM schema_version"), 1);
	assert_int_equal(
	    query_int(db, "SELECT count(*) FROM schema_version"), 1);
	assert_false(column_exists(db, "sessions", "repo"));
	assert_false(column_exists(db, "sessions", "base_ref"));
	sqlite3_close(db);
	err_release(&e);
}

static void
test_open_unwritable_path_fails(void **state)
{
	struct store s = STORE_INIT;
	struct err e = ERR_INIT;

	assert_int_equal(
	    store_open(&s, "/nonexistent/galley/dir/store.db", &e), -1);
	assert_null(s.db);
	assert_int_equal(e.code, ERR_FAILED);
	assert_non_null(strstr(e.msg.data, "/nonexistent/galley/dir/store.db"));
	err_release(&e);
}

static void
test_stmt_cache_returns_same_statement_for_same_sql(void **state)
{
	static const char one[] = "SELECT ?1";
	static const char two[] = "SELECT ?1 + 1";
	struct store s = STORE_INIT;
	struct err e = ERR_INIT;
	sqlite3_stmt *a, *b;

	assert_int_equal(store_open(&s, path, &e), 0);
	a = store_stmt(&s, one);
	assert_non_null(a);
	assert_ptr_equal(store_stmt(&s, one), a);
	b = store_stmt(&s, two);
	assert_non_null(b);
	assert_ptr_not_equal(a, b);
	assert_ptr_equal(store_stmt(&s, two), b);
	assert_ptr_equal(store_stmt(&s, one), a);
	assert_null(store_stmt(&s, "SELECT FROM nowhere"));
	store_close(&s);
	err_release(&e);
}

/* a statement handed out again is reset and its bindings cleared */
static void
test_stmt_cache_resets_and_clears_bindings(void **state)
{
	static const char sql[] = "SELECT ?1";
	struct store s = STORE_INIT;
	struct err e = ERR_INIT;
	sqlite3_stmt *st;

	assert_int_equal(store_open(&s, path, &e), 0);
	st = store_stmt(&s, sql);
	assert_int_equal(sqlite3_bind_int(st, 1, 5), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(st, 0), 5);
	/* left mid-result on purpose */
	st = store_stmt(&s, sql);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_type(st, 0), SQLITE_NULL);
	assert_int_equal(sqlite3_step(st), SQLITE_DONE);
	store_close(&s);
	err_release(&e);
}

/* closing drops the cached statements: a new connection prepares its own */
static void
test_stmt_cache_is_per_connection(void **state)
{
	static const char sql[] = "SELECT count(*) FROM sessions";
	struct store s = STORE_INIT, t = STORE_INIT;
	struct err e = ERR_INIT;
	sqlite3_stmt *a, *b;

	assert_int_equal(store_open(&s, path, &e), 0);
	assert_int_equal(store_open(&t, path, &e), 0);
	a = store_stmt(&s, sql);
	b = store_stmt(&t, sql);
	assert_non_null(a);
	assert_non_null(b);
	assert_ptr_not_equal(a, b);
	assert_ptr_equal(sqlite3_db_handle(a), s.db);
	assert_ptr_equal(sqlite3_db_handle(b), t.db);
	store_close(&s);
	assert_ptr_equal(store_stmt(&t, sql), b);
	assert_int_equal(sqlite3_step(b), SQLITE_ROW);
	store_close(&t);
	assert_int_equal(store_open(&s, path, &e), 0);
	a = store_stmt(&s, sql);
	assert_non_null(a);
	assert_ptr_equal(sqlite3_db_handle(a), s.db);
	assert_int_equal(sqlite3_step(a), SQLITE_ROW);
	store_close(&s);
	err_release(&e);
}

/* only the outermost begin/commit pair is a real transaction */
static void
test_transactions_nest(void **state)
{
	struct store s = STORE_INIT;
	struct err e = ERR_INIT;

	assert_int_equal(store_open(&s, path, &e), 0);
	assert_true(sqlite3_get_autocommit(s.db));
	assert_int_equal(store_begin(&s), 0);
	assert_int_equal(store_begin(&s), 0);
	assert_false(sqlite3_get_autocommit(s.db));
	assert_int_equal(store_exec(&s,
	                     "INSERT INTO events (session, at, kind) VALUES "
	                     "('x', 1, 'k')",
	                     &e),
	    0);
	assert_int_equal(store_commit(&s), 0);
	assert_false(sqlite3_get_autocommit(s.db)); /* inner commit */
	assert_int_equal(store_commit(&s), 0);
	assert_true(sqlite3_get_autocommit(s.db));
	/* a rollback undoes everything since the outermost begin */
	assert_int_equal(store_begin(&s), 0);
	assert_int_equal(store_begin(&s), 0);
	assert_int_equal(store_exec(&s,
	                     "INSERT INTO events (session, at, kind) VALUES "
	                     "('y', 2, 'k')",
	                     &e),
	    0);
	store_rollback(&s);
	assert_true(sqlite3_get_autocommit(s.db));
	assert_int_equal(query_int(s.db, "SELECT count(*) FROM events"), 1);
	/* and leaves the depth at zero: the next begin is real again */
	assert_int_equal(store_begin(&s), 0);
	assert_false(sqlite3_get_autocommit(s.db));
	assert_int_equal(store_commit(&s), 0);
	assert_true(sqlite3_get_autocommit(s.db));
	store_close(&s);
	err_release(&e);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(
	        test_open_migrates_to_the_last_version, fresh_path),
	    cmocka_unit_test(test_migration_versions_increase),
	    cmocka_unit_test_setup(test_reopen_is_idempotent, fresh_path),
	    cmocka_unit_test_setup(
	        test_journal_mode_is_wal_and_foreign_keys_on, fresh_path),
	    cmocka_unit_test_setup(
	        test_tables_exist_and_are_strict, fresh_path),
	    cmocka_unit_test_setup(
	        test_strict_rejects_text_in_integer_column, fresh_path),
	    cmocka_unit_test_setup(
	        test_newer_schema_is_refused_with_upgrade_message, fresh_path),
	    cmocka_unit_test_setup(
	        test_failed_first_migration_rolls_back_everything, fresh_path),
	    cmocka_unit_test_setup(
	        test_failed_later_migration_keeps_old_version, fresh_path),
	    cmocka_unit_test(test_open_unwritable_path_fails),
	    cmocka_unit_test_setup(
	        test_stmt_cache_returns_same_statement_for_same_sql,
	        fresh_path),
	    cmocka_unit_test_setup(
	        test_stmt_cache_resets_and_clears_bindings, fresh_path),
	    cmocka_unit_test_setup(
	        test_stmt_cache_is_per_connection, fresh_path),
	    cmocka_unit_test_setup(test_transactions_nest, fresh_path),
	};
	int rc;

	if (mkdtemp(dir) == NULL)
		return 1;
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	if (rm_rf(dir) != 0)
		return 1;
	return rc;
}
