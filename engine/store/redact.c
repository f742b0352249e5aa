/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Retention: sg_redact() removes message bodies recorded before a time.
 * The chain covers each body's length and SHA-256, not its bytes (event.h),
 * so deleting from the bodies DB leaves every hash intact.
 *
 * Order: count what will go (read snapshots), record the REDACT event
 * (durable), then delete in durable write txns of at most DELETE_BATCH
 * bodies. A crash part way leaves a log that says more was removed than
 * was; a second run removes the rest. The reverse order could remove
 * bodies with no event saying so.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "engine.h"
#include "store/store.h"
#include "internal.h"
#include "store/event.h"

#define DELETE_BATCH 4096
#define SCAN_BATCH 65536 /* bodies looked at per snapshot / txn */

/* time_us of the event stored under key k (canonical layout, event.h:
 * hash[32] prev[32] u8 format, u64 seq, i64 time_us). */
static int event_time(sg_engine *e, MDB_txn *txn, MDB_val *k, int64_t *ret)
{
	MDB_val v;
	int rc = mdb_get(txn, e->store.events, k, &v);
	if (rc)
		return rc == MDB_NOTFOUND ? SG_ECORRUPT : sg__store_err(rc); /* a body without its event */
	const uint8_t *b = v.mv_data;
	if (v.mv_size < 64 + 1 + 16 || !SG__EVENT_FORMAT_OK(b[64]))
		return SG_ECORRUPT;
	*ret = (int64_t)sg__be64_get(b + 64 + 1 + 8);
	return 0;
}

typedef struct pass {
	sg_engine *e;
	int64_t before_us;
	bool delete;        /* false: only count */
	uint64_t from_seq;  /* next body key to look at */
	/* results of one txn, applied by the caller once it committed (the
	 * write helper may run the txn function twice) */
	uint64_t next_seq;
	uint64_t hits;
	bool end;
} pass;

static int pass_txn(MDB_txn *txn, void *arg)
{
	pass *p = arg;
	MDB_cursor *cur;
	uint8_t key[8];
	sg__be64_put(key, p->from_seq);
	MDB_val k = sg__val(key, 8), v;
	p->hits = 0;
	p->end = false;
	p->next_seq = p->from_seq;
	int rc = mdb_cursor_open(txn, p->e->store.bodies, &cur);
	if (rc)
		return sg__store_err(rc);
	rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	for (size_t scanned = 0; !rc && scanned < SCAN_BATCH && p->hits < DELETE_BATCH; scanned++) {
		int64_t t = 0;
		if (k.mv_size != 8) {
			rc = SG_ECORRUPT;
			break;
		}
		p->next_seq = sg__be64_get(k.mv_data) + 1;
		if ((rc = event_time(p->e, txn, &k, &t)))
			break;
		if (t < p->before_us) {
			p->hits++;
			if (p->delete && (rc = mdb_cursor_del(cur, 0)))
				break;
		}
		rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	}
	if (rc == MDB_NOTFOUND) {
		p->end = true;
		rc = 0;
	}
	mdb_cursor_close(cur);
	return sg__store_err(rc);
}

/* One pass over every body: count (snapshots) or delete (durable txns). */
static int run_pass(sg_engine *e, int64_t before_us, bool delete, uint64_t *total)
{
	pass p = {.e = e, .before_us = before_us, .delete = delete, .from_seq = 1};
	*total = 0;
	for (;;) {
		int rc;
		if (delete) {
			rc = sg__store_write(&e->store, pass_txn, &p);
		} else {
			MDB_txn *txn;
			if ((rc = sg__rd_begin(&e->store, &txn)))
				return rc;
			rc = pass_txn(txn, &p);
			sg__rd_end(&e->store, txn);
		}
		if (rc)
			return rc;
		*total += p.hits;
		if (p.end)
			return 0;
		p.from_seq = p.next_seq;
	}
}

int sg_redact(sg_engine *e, int64_t before_us, uint64_t *count)
{
	if (e->rdonly)
		return SG_ERDONLY;
	if (before_us <= 0 || before_us > sg_now_us())
		return -EINVAL;
	uint64_t todo, done;
	int rc = run_pass(e, before_us, false, &todo);
	if (rc)
		return rc;
	if (todo) {
		char t[32], note[96];
		sg_time_format(before_us, t);
		snprintf(note, sizeof(note), "before=%s bodies=%llu", t, (unsigned long long)todo);
		sg_event_in ev = {.size = sizeof(sg_event_in), .action = SG_ACTION_REDACT, .source = SG_SOURCE_OPERATOR,
				  .scope = SG_SCOPE_GLOBAL, .rule = "redact_bodies", .note = note};
		sg_event_out out;
		if ((rc = sg_record(e, &ev, 1, &out)))
			return rc;
		if (out.status)
			return out.status;
	}
	rc = todo ? run_pass(e, before_us, true, &done) : (done = 0, 0);
	if (!rc && count)
		*count = done;
	return rc;
}
