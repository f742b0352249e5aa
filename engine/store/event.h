/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The canonical encoding of one consent event, the unit of the hash chain.
 *
 *   u8  format (3 when the event names its keyword set, else 2; events
 *       written by 0.1 are format 1)
 *   u64 seq, i64 time_us, i64 event_time_us        (big-endian)
 *   u8  action, u8 source, u8 scope kind
 *   12 strings (format 1: the first 10, format 2: the first 11), each u16
 *   length (big-endian) + bytes, in this order:
 *       scope_id sender recipient campaign brand provider provider_msg_id
 *       rule reply note dedup_key keywords
 * An event without a keyword set is encoded as format 2, so the events
 * stores hold from before format 3 encode (and hash) as they always did.
 *   u32 body length, 32 bytes SHA-256 of the body
 *
 * The record carries everything its application depends on (its own time,
 * its de-duplication key, the resolved scope), so that applying a recorded
 * stream to another store gives the same state and the same chain.
 *
 * hash = SHA-256(prev_hash || canonical). Stored in the events DB in one of
 * two forms (event_value.h): full, hash[32] prev_hash[32] canonical (the
 * last two contiguous), as stores before 0.2 hold; or compact. The body
 * itself lives in the bodies DB so that redaction removes it without
 * breaking the chain.
 */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include "stopgate.h"

#define SG__EVENT_FORMAT 3
#define SG__EVENT_FORMAT_V2 2
#define SG__EVENT_FORMAT_V1 1
#define SG__EVENT_STRINGS 12
#define SG__EVENT_STR_MAX 2048 /* any one string field */
#define SG__EVENT_ENC_MAX (64 + 1 + 24 + 3 + SG__EVENT_STRINGS * (2 + SG__EVENT_STR_MAX) + 4 + 32)
/* Is b (the byte after hash and prev) a format stopgate reads? */
#define SG__EVENT_FORMAT_OK(b) ((b) >= SG__EVENT_FORMAT_V1 && (b) <= SG__EVENT_FORMAT)
/* How many strings an event of format b has. */
#define SG__EVENT_NSTRS(b) ((b) == SG__EVENT_FORMAT_V1 ? 10 : (b) == SG__EVENT_FORMAT_V2 ? 11 : 12)

/* Encode ev (its seq/time/hash-independent fields plus body digest) into
 * buf; returns the length, or a negative error when a field is too long. */
long sg__event_encode(const sg_event *ev, uint8_t *buf, size_t size);

/* Decode a stored events value into ev; string pointers point into a
 * NUL-terminated copy in scratch (size >= SG__EVENT_ENC_MAX + 64). body
 * fields are left empty. A compact value (event_value.h) does not store
 * prev_hash: it is left zero here; sg__event_value_load() fills it in. */
int sg__event_decode(const void *val, size_t len, sg_event *ev, char *scratch, size_t scratch_size);

/* What the hash chain needs from a stored events value of the full form,
 * without copying the strings: checks the layout the way
 * sg__event_decode() does. */
typedef struct sg__event_peek {
	uint64_t seq;
	const uint8_t *hash, *prev_hash, *body_sha256; /* into the value */
	size_t body_len;
} sg__event_peek;
int sg__event_peek_value(const void *val, size_t len, sg__event_peek *out);

/* hash = SHA-256(prev || canonical), given as one contiguous buffer */
void sg__event_hash(const uint8_t *prev_and_canon, size_t len, uint8_t out[32]);

void sg__sha256(const void *data, size_t len, uint8_t out[32]);
