/* Store: migrations at open, in one transaction, idempotent; WAL; STRICT. */
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

static char dir[] = "/tmp/galley-store-XXXXXX";
static char path[256];

static int
count(struct store *s, const char *sql)
{
	sqlite3_stmt *st;
	int n = -1;

	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return n;
}

static void
test_migrate_fresh(void **state)
{
	struct store s = STORE_INIT;
	struct err e = ERR_INIT;
	int last = store_migrations[store_nmigrations - 1].version;

	unlink(path);
	assert_int_equal(store_open(&s, path, &e), 0);
	assert_int_equal(store_version(&s), last);
	assert_int_equal(count(&s,
	                     "SELECT count(*) FROM sqlite_master WHERE "
	                     "name IN ('sessions','events','usage',"
	                     "'usage_seen','schema_version')"),
	    5);
	sqlite3_stmt *st;
	assert_int_equal(
	    sqlite3_prepare_v2(s.db, "PRAGMA journal_mode", -1, &st, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
	sqlite3_finalize(st);
	store_close(&s);
	/* reopening runs nothing twice */
	assert_int_equal(store_open(&s, path, &e), 0);
	assert_int_equal(count(&s, "SELECT count(*) FROM schema_version"),
	    store_nmigrations);
	store_close(&s);
	err_release(&e);
}

/* STRICT tables reject a value of the wrong type */
static void
test_strict(void **state)
{
	struct store s = STORE_INIT;
	struct err e = ERR_INIT;

	assert_int_equal(store_open(&s, path, &e), 0);
	assert_int_equal(store_exec(&s,
	                     "INSERT INTO sessions (id, name, kind, runtime, "
	                     "state, cwd, created_at, updated_at) VALUES "
	                     "('a','a','job','exec','done','/','x','y')",
	                     &e),
	    -1);
	assert_int_equal(store_exec(&s,
	                     "INSERT INTO sessions (id, name, kind, runtime, "
	                     "state, cwd, created_at, updated_at) VALUES "
	                     "('a','a','job','exec','done','/',1,2)",
	                     &e),
	    0);
	store_close(&s);
	err_release(&e);
}

/* a store from a newer galley is refused, not downgraded */
static void
test_newer_schema(void **state)
{
	struct store s = STORE_INIT;
	struct err e = ERR_INIT;

	assert_int_equal(store_open(&s, path, &e), 0);
	assert_int_equal(
	    store_exec(&s, "INSERT INTO schema_version VALUES (999, 0)", &e),
	    0);
	store_close(&s);
	assert_int_equal(store_open(&s, path, &e), -1);
	assert_non_null(strstr(e.msg.data, "upgrade galley"));
	err_release(&e);
	unlink(path);
}

/* a failing migration leaves the database as it was */
static void
test_failed_migration_rolls_back(void **state)
{
	struct store s = STORE_INIT;
	struct err e = ERR_INIT;
	sqlite3 *db;

	unlink(path);
	/* a table named like one migration 1 creates: it must fail */
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(
	    sqlite3_exec(db, "CREATE TABLE usage (x)", NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(store_open(&s, path, &e), -1);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	sqlite3_stmt *st;
	/* no sessions table and no schema_version row survived */
	assert_int_equal(sqlite3_prepare_v2(db,
	                     "SELECT count(*) FROM sqlite_master WHERE name IN "
	                     "('sessions','schema_version')",
	                     -1, &st, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(st, 0), 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	err_release(&e);
	unlink(path);
}

static void
test_stmt_cache(void **state)
{
	static const char sql[] = "SELECT 1";
	struct store s = STORE_INIT;
	struct err e = ERR_INIT;

	assert_int_equal(store_open(&s, path, &e), 0);
	assert_ptr_equal(store_stmt(&s, sql), store_stmt(&s, sql));
	store_close(&s);
	err_release(&e);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_migrate_fresh),
	    cmocka_unit_test(test_strict),
	    cmocka_unit_test(test_newer_schema),
	    cmocka_unit_test(test_failed_migration_rolls_back),
	    cmocka_unit_test(test_stmt_cache),
	};
	char cmd[300];
	int rc;

	if (mkdtemp(dir) == NULL)
		return 1;
	snprintf(path, sizeof path, "%s/galley.db", dir);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd) != 0)
		return 1;
	return rc;
}
