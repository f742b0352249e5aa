/* SPDX-License-Identifier: Apache-2.0 */
/* The fleet outbox; see fleet_outbox.h. Row: u16 subject length, subject, u16
 * msg-id length, msg-id, the message bytes. Key: the id, big-endian. */
#include <errno.h>
#include <limits.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "store/fleet_outbox.h"

struct sg__outbox {
	MDB_env *env;
	MDB_dbi rows, meta;
	/* sg__outbox_ids (one thread): ids next .. limit - 1 are reserved on disk */
	uint64_t next, limit;
};

static int err(int rc)
{
	return rc > 0 ? -rc : rc == 0 ? 0 : -EIO;
}

static void be64(uint8_t k[8], uint64_t v)
{
	for (int i = 0; i < 8; i++)
		k[i] = (uint8_t)(v >> (56 - 8 * i));
}

static uint64_t unbe64(const uint8_t k[8])
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | k[i];
	return v;
}

/* meta "next": no id at or above it was ever handed out. Written with
 * the new limit and synced before any id below that limit is used. */
static int reserve(sg__outbox *ob, uint64_t limit)
{
	MDB_txn *txn;
	int rc = mdb_txn_begin(ob->env, NULL, 0, &txn);
	if (rc)
		return err(rc);
	uint8_t nb[8];
	be64(nb, limit);
	MDB_val mk = {4, "next"}, nv = {8, nb};
	if ((rc = mdb_put(txn, ob->meta, &mk, &nv, 0))) {
		mdb_txn_abort(txn);
		return err(rc);
	}
	if ((rc = mdb_txn_commit(txn)) || (rc = mdb_env_sync(ob->env, 1)))
		return err(rc);
	ob->limit = limit;
	return 0;
}

int sg__outbox_open(const char *data_dir, sg__outbox **ret)
{
	char path[PATH_MAX];
	if (snprintf(path, sizeof(path), "%s/fleet-outbox", data_dir) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	if (mkdir(path, 0700) && errno != EEXIST)
		return -errno;
	sg__outbox *ob = calloc(1, sizeof(*ob));
	if (!ob)
		return -ENOMEM;
	MDB_txn *txn = NULL;
	uint64_t next = 1;
	int rc = mdb_env_create(&ob->env);
	if (!rc)
		rc = mdb_env_set_maxdbs(ob->env, 2);
	if (!rc)
		rc = mdb_env_set_mapsize(ob->env, (size_t)1 << 30);
	if (!rc)
		rc = mdb_env_open(ob->env, path, MDB_NOMETASYNC, 0600); /* sg__outbox_put says when durable */
	if (!rc)
		rc = mdb_txn_begin(ob->env, NULL, 0, &txn);
	if (!rc)
		rc = mdb_dbi_open(txn, "rows", MDB_CREATE, &ob->rows);
	if (!rc)
		rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &ob->meta);
	if (!rc) {
		MDB_val mk = {4, "next"}, mv;
		rc = mdb_get(txn, ob->meta, &mk, &mv);
		if (!rc && mv.mv_size == 8)
			next = unbe64(mv.mv_data);
		else if (rc == MDB_NOTFOUND)
			rc = 0;
		else
			rc = rc ? rc : EBADMSG;
	}
	if (!rc) {
		rc = mdb_txn_commit(txn);
		txn = NULL;
	}
	if (!rc && next > UINT64_MAX - 2 * (uint64_t)SG__OUTBOX_RESERVE)
		rc = EOVERFLOW;
	if (!rc) {
		ob->next = next ? next : 1;
		rc = -reserve(ob, ob->next + SG__OUTBOX_RESERVE);
	}
	if (rc) {
		if (txn)
			mdb_txn_abort(txn);
		if (ob->env)
			mdb_env_close(ob->env);
		free(ob);
		return err(rc);
	}
	*ret = ob;
	return 0;
}

void sg__outbox_close(sg__outbox *ob)
{
	if (!ob)
		return;
	mdb_env_close(ob->env);
	free(ob);
}

int sg__outbox_ids(sg__outbox *ob, size_t n, uint64_t *first)
{
	if (n > SG__OUTBOX_RESERVE)
		return -E2BIG;
	if (n > ob->limit - ob->next) {
		if (ob->next > UINT64_MAX - 2 * (uint64_t)SG__OUTBOX_RESERVE)
			return -EOVERFLOW;
		int rc = reserve(ob, ob->next + n + SG__OUTBOX_RESERVE);
		if (rc)
			return rc;
	}
	*first = ob->next;
	ob->next += n;
	return 0;
}

void sg__outbox_own_id(const char *node, uint64_t id, char *buf, size_t len)
{
	snprintf(buf, len, "%.60s:o%llu", node, (unsigned long long)id);
}

/* txn: delete rows (absent ones are no error). */
static int del_rows(sg__outbox *ob, MDB_txn *txn, const uint64_t *ids, size_t n)
{
	int rc = 0;
	for (size_t i = 0; !rc && i < n; i++) {
		uint8_t key[8];
		be64(key, ids[i]);
		MDB_val k = {8, key};
		rc = mdb_del(txn, ob->rows, &k, NULL);
		if (rc == MDB_NOTFOUND)
			rc = 0;
	}
	return rc;
}

int sg__outbox_put(sg__outbox *ob, const sg__outbox_row *rows, size_t n, const uint64_t *del, size_t ndel)
{
	MDB_txn *txn;
	int rc = mdb_txn_begin(ob->env, NULL, 0, &txn);
	if (rc)
		return err(rc);
	rc = del_rows(ob, txn, del, ndel);
	uint8_t *val = NULL;
	size_t cap = 0;
	for (size_t i = 0; !rc && i < n; i++) {
		const sg__outbox_row *r = &rows[i];
		size_t sl = strlen(r->subject), il = strlen(r->msg_id);
		if (sl > 0xffff || il > 0xffff) {
			rc = E2BIG;
			break;
		}
		size_t vl = 4 + sl + il + r->len;
		if (vl > cap) {
			free(val);
			if (!(val = malloc(vl))) {
				rc = ENOMEM;
				break;
			}
			cap = vl;
		}
		val[0] = (uint8_t)(sl >> 8);
		val[1] = (uint8_t)sl;
		memcpy(val + 2, r->subject, sl);
		val[2 + sl] = (uint8_t)(il >> 8);
		val[3 + sl] = (uint8_t)il;
		memcpy(val + 4 + sl, r->msg_id, il);
		memcpy(val + 4 + sl + il, r->data, r->len);
		uint8_t key[8];
		be64(key, r->id);
		MDB_val k = {8, key}, v = {vl, val};
		rc = mdb_put(txn, ob->rows, &k, &v, MDB_APPEND); /* MDB_KEYEXIST: not above every stored id */
	}
	free(val);
	if (rc) {
		mdb_txn_abort(txn);
		return err(rc);
	}
	/* data synced, the meta page written but not synced (MDB_NOMETASYNC):
	 * the previous put is durable now, this one after the next */
	return err(mdb_txn_commit(txn));
}

int sg__outbox_sync(sg__outbox *ob)
{
	return err(mdb_env_sync(ob->env, 1));
}

int sg__outbox_del(sg__outbox *ob, const uint64_t *ids, size_t n)
{
	if (!n)
		return 0;
	MDB_txn *txn;
	int rc = mdb_txn_begin(ob->env, NULL, 0, &txn);
	if (rc)
		return err(rc);
	if ((rc = del_rows(ob, txn, ids, n))) {
		mdb_txn_abort(txn);
		return err(rc);
	}
	return err(mdb_txn_commit(txn));
}

int sg__outbox_foreach(sg__outbox *ob, int (*cb)(const sg__outbox_row *row, void *ctx), void *ctx)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	int rc = mdb_txn_begin(ob->env, NULL, MDB_RDONLY, &txn);
	if (rc)
		return err(rc);
	if ((rc = mdb_cursor_open(txn, ob->rows, &cur))) {
		mdb_txn_abort(txn);
		return err(rc);
	}
	MDB_val k, v;
	int crc = 0;
	char subj[256], mid[512];
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); !rc && !crc; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		const uint8_t *p = v.mv_data;
		size_t sl, il;
		if (k.mv_size != 8 || v.mv_size < 4 || (sl = (size_t)p[0] << 8 | p[1]) + 4 > v.mv_size ||
		    sl >= sizeof(subj) || (il = (size_t)p[2 + sl] << 8 | p[3 + sl]) + sl + 4 > v.mv_size ||
		    il >= sizeof(mid)) {
			crc = -EBADMSG;
			break;
		}
		memcpy(subj, p + 2, sl);
		subj[sl] = '\0';
		memcpy(mid, p + 4 + sl, il);
		mid[il] = '\0';
		sg__outbox_row row = {.id = unbe64(k.mv_data), .subject = subj, .msg_id = mid,
				      .data = p + 4 + sl + il, .len = v.mv_size - 4 - sl - il};
		crc = cb(&row, ctx);
	}
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	if (crc)
		return crc;
	return rc == MDB_NOTFOUND ? 0 : err(rc);
}
