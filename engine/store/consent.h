/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The recipient record: everything the check needs about one person, in one
 * LMDB value, so that a check is one lookup.
 *
 *   u8 format (1), u8 flags (bit 0: not SMS-capable), u16 entry count
 *   if not SMS-capable: i64 since_us, u64 seq, str code, str provider
 *   entries: u8 type (1 consent, 2 help), u8 scope, u8 state, u8 source,
 *            u8 claimed (confirmation/HELP reply let through),
 *            i64 since_us, i64 event_time_us, u64 seq, str scope id
 *   (str = u8 length + bytes; integers big-endian)
 */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include "stopgate.h"

#define SG__RCPT_MAX_ENTRIES 128

enum { SG__ENTRY_CONSENT = 1, SG__ENTRY_HELP = 2 };

typedef struct sg__entry {
	uint8_t type, scope, state, source, claimed;
	int64_t since_us, event_time_us;
	uint64_t seq;
	char id[SG_KEY_MAX];
} sg__entry;

typedef struct sg__rcpt {
	bool not_sms_capable;
	int64_t flag_since_us;
	uint64_t flag_seq;
	char flag_code[16];
	char flag_provider[16];
	uint16_t count;
	sg__entry entries[SG__RCPT_MAX_ENTRIES];
} sg__rcpt;

int sg__rcpt_decode(const void *val, size_t len, sg__rcpt *r);
/* Returns the encoded length or a negative error. */
long sg__rcpt_encode(const sg__rcpt *r, uint8_t *buf, size_t size);
#define SG__RCPT_ENC_MAX (4 + 8 + 8 + 2 * 17 + SG__RCPT_MAX_ENTRIES * (5 + 24 + 1 + SG_KEY_MAX))

/* Find an entry by type, scope and id; NULL if none. */
sg__entry *sg__rcpt_find(sg__rcpt *r, uint8_t type, uint8_t scope, const char *id);
/* Find or add (zeroed) an entry; NULL when the record is full. */
sg__entry *sg__rcpt_upsert(sg__rcpt *r, uint8_t type, uint8_t scope, const char *id);
