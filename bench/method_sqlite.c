/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_check, method "sqlite": SQLite, the embedded store most people
 * would reach for, on the same pairs (built only with libsqlite3-dev).
 */
#include <sys/stat.h>

#include "harness.h"

#ifdef BENCH_HAVE_SQLITE
static void sql_exec(sqlite3 *db, const char *sql)
{
	char *err = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
		bench_die("sqlite: %s: %s", sql, err ? err : "?");
}

static int cmp_pair(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	int c = strcmp(rcpts[pair_r[x]].s, rcpts[pair_r[y]].s);
	return c ? c : strcmp(senders[pair_s[x]].s, senders[pair_s[y]].s);
}

void build_sqlite(void)
{
	sqlite3 *db;
	if (sqlite3_open(sqlite_path, &db) != SQLITE_OK)
		bench_die("sqlite3_open: %s", sqlite3_errmsg(db));
	sql_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA cache_size=-262144;");
	sql_exec(db, "CREATE TABLE optout (recipient TEXT NOT NULL, sender TEXT NOT NULL, since INTEGER NOT NULL,"
		     " PRIMARY KEY (recipient, sender)) WITHOUT ROWID");
	uint64_t *order = bench_xcalloc(opt.pairs, sizeof(*order));
	for (uint64_t i = 0; i < opt.pairs; i++)
		order[i] = i;
	qsort(order, opt.pairs, sizeof(*order), cmp_pair);
	sqlite3_stmt *ins;
	if (sqlite3_prepare_v2(db, "INSERT INTO optout VALUES (?1, ?2, ?3)", -1, &ins, NULL) != SQLITE_OK)
		bench_die("sqlite prepare: %s", sqlite3_errmsg(db));
	int64_t t0 = bench_now_ns();
	sql_exec(db, "BEGIN");
	for (uint64_t i = 0; i < opt.pairs; i++) {
		uint64_t p = order[i];
		sqlite3_bind_text(ins, 1, rcpts[pair_r[p]].s, -1, SQLITE_STATIC);
		sqlite3_bind_text(ins, 2, senders[pair_s[p]].s, -1, SQLITE_STATIC);
		sqlite3_bind_int64(ins, 3, 1700000000000000ll + (int64_t)p);
		if (sqlite3_step(ins) != SQLITE_DONE)
			bench_die("sqlite insert: %s", sqlite3_errmsg(db));
		sqlite3_reset(ins);
	}
	sql_exec(db, "COMMIT");
	sqlite3_finalize(ins);
	sql_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)");
	sqlite3_close(db);
	free(order);
	bench_json_num(&J, "sqlite.build_s", (double)(bench_now_ns() - t0) / 1e9);
	struct stat st;
	if (stat(sqlite_path, &st) == 0)
		bench_json_num(&J, "sqlite.disk_mb", (double)st.st_size / (1024.0 * 1024.0));
}

void sql_open(sql_ctx *c)
{
	if (sqlite3_open_v2(sqlite_path, &c->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK)
		bench_die("sqlite3_open: %s", sqlite3_errmsg(c->db));
	/* Its best ordinary setup: WAL (set at build), memory-mapped reads. */
	sql_exec(c->db, "PRAGMA mmap_size=2147418112");
	if (sqlite3_prepare_v2(c->db, "SELECT 1 FROM optout WHERE recipient = ?1 AND sender = ?2", -1, &c->get,
			       NULL) != SQLITE_OK)
		bench_die("sqlite prepare: %s", sqlite3_errmsg(c->db));
}

void sql_close(sql_ctx *c)
{
	sqlite3_finalize(c->get);
	sqlite3_close(c->db);
}

static inline int sql_lookup(sql_ctx *c, const char *from, const char *to)
{
	sqlite3_bind_text(c->get, 1, to, -1, SQLITE_STATIC);
	sqlite3_bind_text(c->get, 2, from, -1, SQLITE_STATIC);
	int rc = sqlite3_step(c->get);
	sqlite3_reset(c->get);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		bench_die("sqlite step: %s", sqlite3_errmsg(c->db));
	return rc == SQLITE_ROW;
}

static inline int op_sql(void *vc, const query *q)
{
	return sql_lookup(vc, q->from, q->to);
}

RUNNERS(sql, op_sql)
#endif
