/* SPDX-License-Identifier: Apache-2.0 */
/* One stream message of the fleet: the decided, unsequenced events of one
 * request (sg_event_in, their times fixed), in a compact binary layout.
 *
 *   "SGF1" u8 count, then per event:
 *   u8 action, source, scope, override; i64 event_time_us, time_us (big-endian);
 *   ten strings (sender, recipient, scope_id, provider, provider_msg_id,
 *   dedup_key, rule, reply, note, keywords): u32 length incl. a NUL
 *   (0 = absent) and the bytes with the NUL;
 *   the body: u32 0xffffffff (absent) or its length, then the bytes.
 *
 * Decoded events point into the message bytes (strings end in their NUL),
 * so the bytes must outlive them. */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include "buf.h"
#include "stopgate.h"

#define SG__FLEET_MSG_MAX_EVENTS 8

int sg__fleet_encode(const sg_event_in *events, size_t n, sg__buf *out);
/* -EBADMSG when data is not a message this version wrote. */
int sg__fleet_decode(const uint8_t *data, size_t len, sg_event_in *events, size_t max, size_t *n);
