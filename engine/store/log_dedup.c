/* SPDX-License-Identifier: Apache-2.0 */
/* The de-duplication window of the write path: a provider's message id (or
 * the caller's dedup key) seen within the policy's window (48 h at least)
 * answers the first event instead of recording another; expired keys are
 * swept a few per batch. */
#include <errno.h>
#include <string.h>

#include "store/log.h"
#include "store/store.h"
#include "internal.h"

#define DEDUP_SWEEP_PER_BATCH 64

/* Dedup: returns 1 (and *seq) when key was seen and has not expired. */
int sg__dedup_seen(record_ctx *c, MDB_txn *txn, const char *key, uint64_t *seq)
{
	MDB_val k = sg__val(key, strlen(key)), v;
	int rc = mdb_get(txn, c->e->store.dedup, &k, &v);
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc)
		return sg__store_err(rc);
	if (v.mv_size != 16)
		return SG_ECORRUPT;
	if ((int64_t)sg__be64_get(v.mv_data) <= c->now_us)
		return 0; /* expired: a new event */
	*seq = sg__be64_get((const uint8_t *)v.mv_data + 8);
	return 1;
}

int sg__dedup_put(record_ctx *c, MDB_txn *txn, const char *key, uint64_t seq)
{
	int64_t ttl = c->e->policy.dedup_ttl_us;
	uint8_t buf[16];
	sg__be64_put(buf, (uint64_t)(c->now_us + ttl));
	sg__be64_put(buf + 8, seq);
	MDB_val k = sg__val(key, strlen(key)), v = sg__val(buf, 16);
	return sg__store_err(mdb_put(txn, c->e->store.dedup, &k, &v, 0));
}

/* Remove a few expired dedup keys, resuming where the last batch stopped. */
int sg__dedup_sweep(record_ctx *c, MDB_txn *txn)
{
	MDB_cursor *cur;
	MDB_val k, v;
	uint64_t pos_len = 0;
	char pos[512];
	int rc = mdb_cursor_open(txn, c->e->store.dedup, &cur);
	if (rc)
		return sg__store_err(rc);
	MDB_val mk = sg__val("sweep", 5), mv;
	if (!mdb_get(txn, c->e->store.meta, &mk, &mv) && mv.mv_size < sizeof(pos)) {
		pos_len = mv.mv_size;
		memcpy(pos, mv.mv_data, pos_len);
	}
	k = sg__val(pos, pos_len);
	rc = pos_len ? mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE) : mdb_cursor_get(cur, &k, &v, MDB_FIRST);
	for (int i = 0; i < DEDUP_SWEEP_PER_BATCH && !rc; i++) {
		if (v.mv_size == 16 && (int64_t)sg__be64_get(v.mv_data) <= c->now_us)
			rc = mdb_cursor_del(cur, 0);
		if (!rc)
			rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	}
	if (rc == MDB_NOTFOUND) {
		rc = mdb_del(txn, c->e->store.meta, &mk, NULL);
		rc = rc == MDB_NOTFOUND ? 0 : rc;
	} else if (!rc && k.mv_size < sizeof(pos)) {
		MDB_val nv = sg__val(k.mv_data, k.mv_size);
		memcpy(pos, k.mv_data, k.mv_size);
		nv.mv_data = pos;
		rc = mdb_put(txn, c->e->store.meta, &mk, &nv, 0);
	}
	mdb_cursor_close(cur);
	return sg__store_err(rc);
}
