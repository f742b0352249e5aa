/* SPDX-License-Identifier: Apache-2.0 */
/*
 * How an event is stored in the events DB (key: seq, u64 big-endian). Two
 * forms, told apart by the value itself, so a store may hold both and no
 * bulk migration is needed: every value written by this version is
 * compact, values written before keep working.
 *
 * full (before 0.2): hash[32] prev_hash[32] canonical (event.h); byte 64 is
 *   the canonical format, 1-3.
 * compact: hash[32] then C, the event's fields; when the value is longer
 *   than 64 bytes, byte 64 is SG__EVENT_VALUE_MARK (0xFF, never a canonical
 *   format) and C continues after it. C:
 *     u8  version (1)
 *     u8  action, u8 source, u8 scope kind
 *     u16 flags (big-endian): bit i < 12: string i is present; bit 12: the
 *         scope id is the sender (string 0 not stored); bit 13: the event
 *         time is a varint difference from time_us (else equal to it);
 *         bit 14: body_len varint and body SHA-256 follow; bit 15: the
 *         body itself follows, varint length (1-SG__EVENT_INLINE_MAX) and
 *         bytes, its SHA-256 the digest (neither: body_len 0 and the digest
 *         of the empty string)
 *     varint seq (the key's too: a value moved to another key shows)
 *     varint time_us (LEB128 of the u64)
 *     [varint zigzag(event_time_us - time_us)]
 *     each present string as a tagged string (compact.h: E.164 numbers as
 *         packed digits)
 *     [varint body_len, body SHA-256 32] or [varint body_len, body]
 *   A short message body ("STOP") is kept inline, not in the bodies DB;
 *   redaction rewrites such a value with bit 14 instead (the digest stays,
 *   the bytes go), which leaves its hash as it was.
 *   prev_hash is the previous event's hash (zero for the first): not
 *   stored.
 *
 * What the chain hashes does not change: the canonical encoding of the
 * decoded event (sg__event_encode) reproduces the bytes hashed when it was
 * recorded, so verify, proofs, exports and the fleet see the same events.
 */
#pragma once
#include <lmdb.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "stopgate.h"
#include "store/compact.h"
#include "store/event.h"

#define SG__EVENT_VALUE_MARK 0xFF
#define SG__EVENT_VALUE_V1 1
#define SG__EVENT_INLINE_MAX 32 /* longer bodies live in the bodies DB */
/* Bound of a compact value: never longer than hash + canonical. */
#define SG__EVENT_VALUE_MAX (32 + 1 + SG__EVENT_ENC_MAX)


/* The compact value of ev (its canonical fields) with its hash; returns
 * the length, or a negative error (a field too long, buf too small). With
 * ev->body set (1 to SG__EVENT_INLINE_MAX bytes, the ones ev->body_sha256
 * digests) the body is stored inline; else only its length and digest. */
long sg__event_value_encode(const sg_event *ev, const uint8_t hash[32], uint8_t *buf, size_t size);

/* Is the value compact (true) or full (false)? A value that is neither is
 * reported by the decoders (SG_ECORRUPT). */
bool sg__event_value_is_compact(const void *val, size_t len);

/* Decode the value stored under seq into ev (strings in scratch; body
 * fields as sg__event_decode leaves them, but an inline body is attached:
 * ev->body into scratch). prev (NULL: zero) is the previous event's hash,
 * used for a compact value; a full value carries its own prev_hash. Both
 * carry their seq: the caller compares it with the key. */
int sg__event_value_decode(uint64_t seq, const void *val, size_t len, const uint8_t *prev, sg_event *ev,
			   char *scratch, size_t scratch_size);

/* The same, reading the previous event's hash from the events DB when the
 * value is compact and prev is NULL. */
int sg__event_value_load(MDB_txn *txn, MDB_dbi events, uint64_t seq, const void *val, size_t len,
			 const uint8_t *prev, sg_event *ev, char *scratch, size_t scratch_size);

/* Does the value hold its body inline? */
bool sg__event_value_inline(const void *val, size_t len);

/* The first fields of a value of either form without decoding the rest:
 * time_us and action. */
int sg__event_value_head(const void *val, size_t len, int64_t *time_us, int *action);
