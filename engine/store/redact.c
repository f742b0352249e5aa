/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Retention: sg_redact() removes message bodies recorded before a time
 * (never a registry change's body, which is the registry record).
 * The chain covers each body's length and SHA-256, not its bytes (event.h),
 * so deleting from the bodies DB leaves every hash intact. A short body
 * kept inline in its compact events value (event_value.h) goes by
 * rewriting that value with the body's length and digest only.
 *
 * Order: count what will go (read snapshots), record the REDACT event
 * (durable), then delete in durable write txns of at most DELETE_BATCH
 * bodies. A crash part way leaves a log that says more was removed than
 * was; a second run removes the rest. The reverse order could remove
 * bodies with no event saying so. A store that applies the log
 * (sg_apply) removes the same bodies when it applies the event
 * (sg__redact_apply): those of the events before it, recorded before the
 * cutoff its note names.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "store/store.h"
#include "internal.h"
#include "store/event.h"
#include "store/event_value.h"

#define DELETE_BATCH 4096
#define SCAN_BATCH 65536 /* bodies looked at per snapshot / txn */

/* time_us and action of the event stored under key k (either stored form,
 * event_value.h). */
static int event_info(sg_engine *e, MDB_txn *txn, MDB_val *k, int64_t *time_us, int *action)
{
	MDB_val v;
	int rc = mdb_get(txn, e->store.events, k, &v);
	if (rc)
		return rc == MDB_NOTFOUND ? SG_ECORRUPT : sg__store_err(rc); /* a body without its event */
	return sg__event_value_head(v.mv_data, v.mv_size, time_us, action);
}

typedef struct pass {
	sg_engine *e;
	int64_t before_us;
	uint64_t below_seq; /* only bodies of events before this one; 0: all */
	bool delete;        /* false: only count */
	uint64_t from_seq;  /* next body key to look at */
	/* results of one txn, applied by the caller once it committed (the
	 * write helper may run the txn function twice) */
	uint64_t next_seq;
	uint64_t hits;
	bool end;
	char *scratch;      /* inline_txn: SG__EVENT_ENC_MAX + 64, then a value */
} pass;

/* One entry of a walk: the body of event seq at the cursor (key k, value
 * v); counts it in p->hits and, deleting, removes it. */
typedef int (*visit_fn)(pass *p, MDB_txn *txn, MDB_cursor *cur, uint64_t seq, MDB_val *k, MDB_val *v);

/* The walk both passes share: dbi's entries from p->from_seq, at most
 * SCAN_BATCH of them and DELETE_BATCH hits, up to p->below_seq. */
static int walk(MDB_txn *txn, pass *p, MDB_dbi dbi, visit_fn visit)
{
	MDB_cursor *cur;
	uint8_t key[8];
	sg__be64_put(key, p->from_seq);
	MDB_val k = sg__val(key, 8), v;
	p->hits = 0;
	p->end = false;
	p->next_seq = p->from_seq;
	int rc = mdb_cursor_open(txn, dbi, &cur);
	if (rc)
		return sg__store_err(rc);
	rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	for (size_t scanned = 0; !rc && scanned < SCAN_BATCH && p->hits < DELETE_BATCH; scanned++) {
		if (k.mv_size != 8) {
			rc = SG_ECORRUPT;
			break;
		}
		uint64_t seq = sg__be64_get(k.mv_data);
		if (p->below_seq && seq >= p->below_seq) {
			rc = MDB_NOTFOUND; /* the end of what this redaction covers */
			break;
		}
		p->next_seq = seq + 1;
		if ((rc = visit(p, txn, cur, seq, &k, &v)))
			break;
		rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	}
	if (rc == MDB_NOTFOUND) {
		p->end = true;
		rc = 0;
	}
	mdb_cursor_close(cur);
	return sg__store_err(rc);
}

/* A body in the bodies DB. A registry change's body is the registry
 * record, not a message: retention never removes it. */
static int visit_body(pass *p, MDB_txn *txn, MDB_cursor *cur, uint64_t seq, MDB_val *k, MDB_val *v)
{
	(void)seq;
	(void)v;
	int64_t t = 0;
	int action = 0;
	int rc = event_info(p->e, txn, k, &t, &action);
	if (rc || t >= p->before_us || action == SG_ACTION_CAMPAIGN || action == SG_ACTION_SENDER)
		return rc;
	p->hits++;
	return p->delete ? mdb_cursor_del(cur, 0) : 0;
}

/* A body kept inline in a compact events value (event_value.h): a removal
 * rewrites the value with the body's length and digest instead of its
 * bytes (its hash unchanged). Never a registry change's (those are not
 * kept inline). */
static int visit_inline(pass *p, MDB_txn *txn, MDB_cursor *cur, uint64_t seq, MDB_val *k, MDB_val *v)
{
	(void)txn;
	(void)k;
	if (!sg__event_value_inline(v->mv_data, v->mv_size))
		return 0;
	int64_t t;
	int action;
	int rc = sg__event_value_head(v->mv_data, v->mv_size, &t, &action);
	if (rc || t >= p->before_us || action == SG_ACTION_CAMPAIGN || action == SG_ACTION_SENDER)
		return rc;
	p->hits++;
	if (!p->delete)
		return 0;
	sg_event ev;
	uint8_t *nv = (uint8_t *)p->scratch + SG__EVENT_ENC_MAX + 64;
	if ((rc = sg__event_value_decode(seq, v->mv_data, v->mv_size, NULL, &ev, p->scratch, SG__EVENT_ENC_MAX + 64)))
		return rc;
	ev.body = NULL;
	long n = sg__event_value_encode(&ev, ev.hash, nv, SG__EVENT_VALUE_MAX);
	if (n < 0)
		return (int)n;
	/* the key copied out of the page the put rewrites */
	uint8_t kb[8];
	sg__be64_put(kb, seq);
	MDB_val kc = sg__val(kb, 8), nval = sg__val(nv, (size_t)n);
	return mdb_cursor_put(cur, &kc, &nval, MDB_CURRENT);
}

static int pass_txn(MDB_txn *txn, void *arg)
{
	pass *p = arg;
	return walk(txn, p, p->e->store.bodies, visit_body);
}

static int inline_txn(MDB_txn *txn, void *arg)
{
	pass *p = arg;
	return walk(txn, p, p->e->store.events, visit_inline);
}

/* One pass over every body, in the bodies DB and inline: count
 * (snapshots) or delete (durable txns). */
static int run_pass(sg_engine *e, int64_t before_us, uint64_t below_seq, bool delete, uint64_t *total)
{
	int (*const walks[2])(MDB_txn *, void *) = {pass_txn, inline_txn};
	pass p = {.e = e, .before_us = before_us, .below_seq = below_seq, .delete = delete};
	p.scratch = malloc(SG__EVENT_ENC_MAX + 64 + SG__EVENT_VALUE_MAX);
	if (!p.scratch)
		return -ENOMEM;
	*total = 0;
	int rc = 0;
	for (int w = 0; w < 2 && !rc; w++) {
		p.from_seq = 1;
		for (;;) {
			if (delete) {
				rc = sg__store_write(&e->store, walks[w], &p);
			} else {
				MDB_txn *txn;
				if ((rc = sg__rd_begin(&e->store, &txn)))
					break;
				rc = walks[w](txn, &p);
				sg__rd_end(&e->store, txn);
			}
			if (rc)
				break;
			*total += p.hits;
			if (p.end)
				break;
			p.from_seq = p.next_seq;
		}
	}
	free(p.scratch);
	return rc;
}

/* The cutoff a REDACT event names: its note starts "before=<RFC 3339>". */
static int redact_cutoff(const sg_event *ev, int64_t *before_us)
{
	char t[40];
	const char *note = ev->note ? ev->note : "";
	if (strncmp(note, "before=", 7))
		return SG_ECORRUPT;
	size_t n = strcspn(note + 7, " ");
	if (n >= sizeof(t))
		return SG_ECORRUPT;
	memcpy(t, note + 7, n);
	t[n] = '\0';
	return sg_time_parse(t, before_us) ? SG_ECORRUPT : 0;
}

int sg__redact_apply(sg_engine *e, const sg_event *ev)
{
	int64_t before_us;
	uint64_t done;
	int rc = redact_cutoff(ev, &before_us);
	return rc ? rc : run_pass(e, before_us, ev->seq, true, &done);
}

int sg_redact(sg_engine *e, int64_t before_us, uint64_t *count)
{
	if (e->rdonly)
		return SG_ERDONLY;
	if (before_us <= 0 || before_us > sg_now_us())
		return -EINVAL;
	uint64_t todo, done = 0;
	int rc = run_pass(e, before_us, 0, false, &todo);
	if (rc || !todo) {
		if (!rc && count)
			*count = 0;
		return rc;
	}
	/* The event says what goes; applying it (here, or on a store that
	 * replays this log) removes exactly the bodies of the events before it
	 * recorded before the cutoff. */
	char t[32], note[96];
	sg_time_format(before_us, t);
	snprintf(note, sizeof(note), "before=%s bodies=%llu", t, (unsigned long long)todo);
	sg_event_in ev = {.size = sizeof(ev), .action = SG_ACTION_REDACT, .source = SG_SOURCE_OPERATOR,
			  .scope = SG_SCOPE_GLOBAL, .rule = "redact_bodies", .note = note};
	sg_event_out out;
	if ((rc = sg_record(e, &ev, 1, &out)))
		return rc;
	if (out.status)
		return out.status;
	rc = run_pass(e, before_us, out.seq, true, &done);
	if (!rc && count)
		*count = done;
	return rc;
}
