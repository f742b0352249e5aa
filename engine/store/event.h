/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The canonical encoding of one consent event, the unit of the hash chain.
 *
 *   u8  format (1)
 *   u64 seq, i64 time_us, i64 event_time_us        (big-endian)
 *   u8  action, u8 source, u8 scope kind
 *   10 strings, each u16 length (big-endian) + bytes, in this order:
 *       scope_id sender recipient campaign brand provider provider_msg_id
 *       rule reply note
 *   u32 body length, 32 bytes SHA-256 of the body
 *
 * Stored value in the events DB: hash[32] prev_hash[32] canonical, where
 * hash = SHA-256(prev_hash || canonical), the last two contiguous. The body itself lives in the
 * bodies DB so that redaction removes it without breaking the chain.
 */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include "stopgate.h"

#define SG__EVENT_FORMAT 1
#define SG__EVENT_STR_MAX 2048 /* any one string field */
#define SG__EVENT_ENC_MAX (64 + 1 + 24 + 3 + 10 * (2 + SG__EVENT_STR_MAX) + 4 + 32)

/* Encode ev (its seq/time/hash-independent fields plus body digest) into
 * buf; returns the length, or a negative error when a field is too long. */
long sg__event_encode(const sg_event *ev, uint8_t *buf, size_t size);

/* Decode a stored events value (hash, prev, canonical) into ev; string
 * pointers point into a NUL-terminated copy in scratch (size >= value
 * length + 16). body fields are left empty. */
int sg__event_decode(const void *val, size_t len, sg_event *ev, char *scratch, size_t scratch_size);

/* What the hash chain needs from a stored events value, without copying
 * the strings: checks the layout the way sg__event_decode() does. */
typedef struct sg__event_peek {
	uint64_t seq;
	const uint8_t *hash, *prev_hash, *body_sha256; /* into the value */
	size_t body_len;
} sg__event_peek;
int sg__event_peek_value(const void *val, size_t len, sg__event_peek *out);

/* hash = SHA-256(prev || canonical), given as one contiguous buffer */
void sg__event_hash(const uint8_t *prev_and_canon, size_t len, uint8_t out[32]);

void sg__sha256(const void *data, size_t len, uint8_t out[32]);
