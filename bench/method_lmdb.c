/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_check, method "floor_lmdb": raw LMDB mdb_get on a plain env holding
 * a copy of the store's recipient records, a read txn renewed and reset
 * around every lookup as the engine does.
 */
#include <sys/stat.h>

#include "harness.h"

/* ---- the raw LMDB floor: a plain env holding the same recipient records ---- */

void lmdb_check(int rc, const char *what)
{
	if (rc)
		bench_die("%s: %s", what, mdb_strerror(rc));
}

void build_raw_env(void)
{
	MDB_env *src, *dst;
	MDB_txn *stx, *dtx;
	MDB_dbi sdbi, ddbi;
	lmdb_check(mdb_env_create(&src), "mdb_env_create");
	lmdb_check(mdb_env_set_maxdbs(src, 16), "set_maxdbs");
	lmdb_check(mdb_env_set_mapsize(src, (size_t)1 << 40), "set_mapsize");
	lmdb_check(mdb_env_open(src, store_dir, MDB_RDONLY | MDB_NOTLS, 0600), "open store env");
	lmdb_check(mdb_txn_begin(src, NULL, MDB_RDONLY, &stx), "txn");
	lmdb_check(mdb_dbi_open(stx, "recipients", 0, &sdbi), "open recipients");

	mkdir(raw_dir, 0700);
	lmdb_check(mdb_env_create(&dst), "mdb_env_create");
	lmdb_check(mdb_env_set_mapsize(dst, (size_t)1 << 38), "set_mapsize");
	/* Built without fsync: it is a bench copy, read afterwards like any env. */
	lmdb_check(mdb_env_open(dst, raw_dir, MDB_NOSYNC, 0600), "open raw env");
	lmdb_check(mdb_txn_begin(dst, NULL, 0, &dtx), "txn");
	lmdb_check(mdb_dbi_open(dtx, NULL, 0, &ddbi), "dbi");
	MDB_cursor *cur;
	MDB_val k, v;
	uint64_t n = 0;
	lmdb_check(mdb_cursor_open(stx, sdbi, &cur), "cursor");
	int rc;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); !rc; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		/* Appended in key order: fully packed pages, the tightest floor. */
		lmdb_check(mdb_put(dtx, ddbi, &k, &v, MDB_APPEND), "put");
		n++;
	}
	if (rc != MDB_NOTFOUND)
		lmdb_check(rc, "cursor walk");
	mdb_cursor_close(cur);
	lmdb_check(mdb_txn_commit(dtx), "commit");
	mdb_env_sync(dst, 1);
	mdb_txn_abort(stx);
	mdb_env_close(src);
	mdb_env_close(dst);
	if (n != nrcpts)
		bench_die("raw env holds %llu records, expected %llu", (unsigned long long)n,
			  (unsigned long long)nrcpts);
	bench_json_num(&J, "floor_lmdb.disk_mb", dir_mb(raw_dir));
}

void raw_open(raw_ctx *c)
{
	lmdb_check(mdb_env_create(&c->env), "mdb_env_create");
	lmdb_check(mdb_env_set_mapsize(c->env, (size_t)1 << 40), "set_mapsize");
	lmdb_check(mdb_env_open(c->env, raw_dir, MDB_RDONLY | MDB_NOTLS, 0600), "open raw env");
	lmdb_check(mdb_txn_begin(c->env, NULL, MDB_RDONLY, &c->txn), "txn");
	lmdb_check(mdb_dbi_open(c->txn, NULL, 0, &c->dbi), "dbi");
	mdb_txn_reset(c->txn);
}

void raw_close(raw_ctx *c)
{
	mdb_txn_abort(c->txn);
	mdb_env_close(c->env);
}

static inline int raw_lookup(raw_ctx *c, const char *key)
{
	if (mdb_txn_renew(c->txn))
		bench_die("mdb_txn_renew");
	MDB_val k = {.mv_size = strlen(key), .mv_data = (void *)key}, v;
	int rc = mdb_get(c->txn, c->dbi, &k, &v);
	mdb_txn_reset(c->txn);
	if (rc && rc != MDB_NOTFOUND)
		bench_die("mdb_get: %s", mdb_strerror(rc));
	return rc == 0;
}

static inline int op_raw(void *vc, const query *q)
{
	return raw_lookup(vc, q->to);
}

RUNNERS(raw, op_raw)
