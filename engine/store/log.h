/* SPDX-License-Identifier: Apache-2.0 */
/* The write path's parts (log.c drives them in one transaction):
 * log_dedup.c the de-duplication window, log_state.c a recipient's consent
 * state and how each event changes it. */
#pragma once
#include <lmdb.h>
#include <stdbool.h>
#include <stdint.h>

#include "engine.h"
#include "store/consent.h"
#include "store/event.h"

typedef struct record_ctx {
	sg_engine *e;
	const sg_event_in *in;
	size_t n;
	sg_event_out *out;
	const sg_event *replay; /* sg_apply: the recorded events in[] were made from */
	const sg_event *cur;    /* with replay: the one being applied */
	int64_t batch_us;       /* the time of events that carry none (read before the txn) */
	int64_t now_us;         /* the time of the event being applied */
	uint8_t *enc;    /* hash[32] prev[32] canonical (SG__EVENT_ENC_MAX), then the stored value */
	sg__rcpt *rcpt;  /* scratch record, large: heap */
	bool rcpt_new;   /* the loaded recipient had no record */
	uint64_t *new_keys; /* filter hashes of recipients this batch created */
	size_t nnew;
	int (*extra)(MDB_txn *txn, void *ctx, const sg_event_out *out); /* sg__record_with */
	void *extra_ctx;
	bool registry_changed; /* this txn changed the registry (reg_epoch after the commit) */
	uint64_t log_pos;   /* sg_record_logged: the external log's position after this batch */
} record_ctx;

/* ---- log_dedup.c ---- */
/* Returns 1 (and *seq) when key was seen and has not expired, 0 when not. */
int sg__dedup_seen(record_ctx *c, MDB_txn *txn, const char *key, uint64_t *seq);
/* Remember key for the policy's de-dup window from the event's time. */
int sg__dedup_put(record_ctx *c, MDB_txn *txn, const char *key, uint64_t seq);
/* Remove a few expired keys, resuming where the last batch stopped. */
int sg__dedup_sweep(record_ctx *c, MDB_txn *txn);

/* ---- log_state.c ---- */
/* Load key's record into c->rcpt (empty when none) / write it back (or
 * delete it once it holds nothing); a new recipient's filter hash is kept
 * for the commit. */
int sg__log_rcpt_load(record_ctx *c, MDB_txn *txn, const char *key);
int sg__log_rcpt_save(record_ctx *c, MDB_txn *txn, const char *key);
/* 0 when an API or operator opt-in may lift what it lifts, SG_ECONSENT
 * when it needs the consumer-request override, SG_EFORBIDDEN when the
 * policy forbids overrides. */
int sg__log_optin_guard(record_ctx *c, const sg_event_in *ev, const sg__scopes *sc, sg_scope_kind scope,
			const char *scope_id);
/* Apply one event to c->rcpt: 1 when the state changed, 0 when not, <0 on
 * error; *delta tracks the number of opted-out pairs. */
int sg__log_apply(record_ctx *c, const sg_event_in *ev, const sg__scopes *sc, sg_scope_kind scope,
		  const char *scope_id, uint64_t seq, int64_t *delta);
