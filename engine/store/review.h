/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The review queue's index (review.c), in the named database "reviews":
 *
 *   "p" seq (u64 big-endian)  -> ""          a review event not yet resolved
 *   "d" seq                   -> u64 seq     a resolved one -> its resolution
 *   "built"                   -> u8 1        the index covers the whole log
 *
 * It is derived from the log alone, in the transaction that appends the
 * event (sg_record / sg_apply), so it is as deterministic as the consent
 * state. A writer opening a store made before the index existed builds it
 * from the log once.
 */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include "store/store.h"

/* Open (a writer: create and, when new, build) the index of st. A reader
 * meeting a store without one marks it absent (st->reviews_absent). */
int sg__review_index_open(sg__store *st);

/* Before a SG_ACTION_REVIEW_RESOLVED event is applied: its rule and note
 * are well formed, the review event it names is pending, and the event
 * repeats that review event's sender, recipient, scope and event time.
 * *status receives the event's own verdict (0, SG_ENOTFOUND, SG_ERESOLVED,
 * -EINVAL); *review_seq the review event. Returns a store error only. */
int sg__review_check(sg__store *st, MDB_txn *txn, const sg_event_in *ev, sg_scope_kind scope,
		     const char *scope_id, uint64_t *review_seq, int *status);

/* After event seq was appended: a review event joins the pending ones, a
 * resolution moves review_seq from pending to resolved. */
int sg__review_index_note(sg__store *st, MDB_txn *txn, sg_action action, uint64_t review_seq, uint64_t seq);

/* The decision a resolution's rule names; -EINVAL for another rule. */
int sg__review_rule_decision(const char *rule, sg_review_decision *ret);
