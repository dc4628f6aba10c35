/*
 * The SQLite store (DESIGN §5): WAL, STRICT tables, foreign keys on,
 * migrations in one transaction at open. The daemon is its only writer.
 */
#ifndef STORE_H
#define STORE_H

#include <sqlite3.h>

#include "err.h"

struct store {
	sqlite3 *db;
	char *reserve; /* <db>.reserve: room to commit on a full disk */
	long long reserve_tried; /* when it was last made again (ms) */
	/* a transaction lost to a full disk: write what is in memory again */
	void (*on_lost)(void);
};
#define STORE_INIT                                                             \
	{                                                                      \
		NULL, NULL, 0, NULL                                            \
	}

struct migration {
	int version;
	const char *sql;
};
extern const struct migration store_migrations[];
extern const int store_nmigrations;

int store_open(struct store *, const char *path, struct err *);
void store_close(struct store *);
int store_exec(struct store *, const char *sql, struct err *);
int store_migrate(struct store *, struct err *);
int store_version(struct store *);
int store_begin(struct store *);
int store_commit(struct store *);
int store_sync(struct store *); /* commit now, begin again */
/* why the last commit failed (NULL: it did not) */
const char *store_last_error(void);
void store_rollback(struct store *);
/* A cached prepared statement, reset and with bindings cleared. */
sqlite3_stmt *store_stmt(struct store *, const char *sql);
/* Text in (NULL binds NULL) and out (NULL for NULL). */
void store_bind_text(sqlite3_stmt *, int i, const char *v);
const char *store_col_text(sqlite3_stmt *, int i);
int store_sqlerr(struct store *, struct err *, const char *what);

#endif
