/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The consent store: the only code that includes <lmdb.h> (engine/store/;
 * the rest of the library sees store/handle.h).
 *
 * Named databases in one environment (DIR/data.mdb):
 *   meta        "version" u32, "seq" u64 last event, "head" 32-byte hash,
 *               "optouts" u64 pairs opted out now, "reggen" u64 registry generation
 *   events      seq (u64 big-endian) -> prev_hash[32] hash[32] canonical encoding
 *   bodies      seq -> raw message body (removable by redaction; the chain
 *               covers its SHA-256, not the bytes)
 *   byrcpt      recipient key -> seq (DUPSORT, DUPFIXED): a person's history
 *   recipients  recipient key -> recipient record (consent per scope, flags)
 *   senders     sender key -> campaign id NUL group NUL
 *   campaigns   campaign id -> summary header + TCR JSON
 *   dedup       dedup key -> expires_us i64, seq u64
 *   sends       first ordinal (u64 BE) -> one block of sends (store/sends.h)
 *   sendrcpt    recipient hash (u64 BE) -> the list of its sends (store/sends.h):
 *               second, ordinal and 16 bits of the id hash, delta-coded
 *   sendseals   last ordinal of a seal (u64 BE) -> first u64, seq u64, hash[32]
 *
 * Invariants:
 *  - Consent data is durable: no MDB_NOSYNC/MAPASYNC/WRITEMAP, ever.
 *  - Read txns are cached one per (engine, thread), reset after every use
 *    and renewed on the next; no snapshot is held across calls, except
 *    the check's (sg__rd_begin_keep): reused only while it is the newest
 *    snapshot, reset by the writer after every commit.
 *  - In a read-write engine the map may grow; growth takes map_lock for
 *    writing, every read of the map in that process holds it for reading.
 *    Read-only engines map a fixed large window and never remap.
 */
#pragma once
#include <errno.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include "stopgate.h"
#include "store/handle.h"

/* Write transactions: begin, then commit with map growth handled by the
 * caller retrying on -ENOSPC after sg__store_grow(). */
int sg__wr_begin(sg__store *st, MDB_txn **ret);
int sg__wr_commit(sg__store *st, MDB_txn *txn);
int sg__store_grow(sg__store *st);

/* Run fn in a write txn and commit durably, growing the map and retrying
 * when it is full. fn must be re-runnable (it is called again after a
 * growth); it returns 0 or an error that aborts the txn. */
int sg__store_write(sg__store *st, int (*fn)(MDB_txn *txn, void *ctx), void *ctx);

/* Small helpers over MDB_val. */
static inline MDB_val sg__val(const void *p, size_t n)
{
	MDB_val v = {.mv_size = n, .mv_data = (void *)p};
	return v;
}
static inline void sg__be64_put(uint8_t out[8], uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		out[i] = (uint8_t)v;
		v >>= 8;
	}
}
static inline uint64_t sg__be64_get(const uint8_t in[8])
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = (v << 8) | in[i];
	return v;
}

/* Free every thread's sender-scope cache (registry.c; txns_mutex held). */
void sg__scache_free_all(sg__store *st);

int sg__meta_get_u64(sg__store *st, MDB_txn *txn, const char *name, uint64_t *ret);
int sg__meta_put_u64(sg__store *st, MDB_txn *txn, const char *name, uint64_t v);

/* Apply a registry event (SG_ACTION_CAMPAIGN, SG_ACTION_SENDER) in the
 * log's write txn (registry_log.c). out->status: the event's own error
 * (a body that does not parse); out->changed: false when the registry
 * already held exactly this (nothing to record). Returns a store error. */
typedef struct sg__registry_change {
	int status;
	bool changed;
	char campaign[64], brand[64], group[64];
} sg__registry_change;
int sg__registry_apply(sg_engine *e, MDB_txn *txn, const sg_event_in *ev, sg__registry_change *out);

/* Remove the bodies a recorded REDACT event covers (redact.c): of the
 * events before it, those recorded before the cutoff its note names.
 * Idempotent; sg_apply calls it for every REDACT event it applies. */
int sg__redact_apply(sg_engine *e, const sg_event *redact_event);

/* Parse one JSON value that is the whole text (whitespace around it
 * allowed), else NULL (registry.c). */
struct cJSON *sg__json_parse_all(const char *text, size_t len);

/* sg_record of events in this library's layout (size set), with fn run in
 * the same write txn after them (out: their outcomes), so that what fn
 * writes commits with the events or not at all (the send ledger's seals).
 * fn must be re-runnable, as for sg__store_write. */
int sg__record_with(sg_engine *e, const sg_event_in *events, size_t n, sg_event_out *out,
		    int (*fn)(MDB_txn *txn, void *ctx, const sg_event_out *out), void *ctx);

#define SG__RULE_REGISTRY_MIGRATED "registry_migrated" /* sg__registry_log_migrate */
