/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The recipient record: everything the check needs about one person, in one
 * LMDB value, so that a check is one lookup.
 *
 *   u8 format (1, or 2 when an entry has a latest part), u8 flags (bit 0:
 *   not SMS-capable), u16 entry count
 *   if not SMS-capable: i64 since_us, u64 seq, str code, str provider
 *   entries: u8 type (1 consent, 2 help), u8 scope, u8 state, u8 source,
 *            u8 bits (bit 0: confirmation/HELP reply let through; format 2
 *            only: bit 1, a latest part follows; bit 2, the recipient's own
 *            STOP (keyword, provider signal) is among the opt-outs of this
 *            period),
 *            i64 since_us, i64 event_time_us, u64 seq, str scope id
 *            [i64 latest_us, u64 latest_seq, i64 first_event_time_us]
 *   (str = u8 length + bytes; integers big-endian)
 *
 * Format 3, written since 0.2 (formats 1 and 2 still read), the same
 * fields in fewer bytes (compact.h):
 *   u8 3, u8 flags, varint entry count
 *   if not SMS-capable: varint since_us, varint seq, tagged code, provider
 *   entries: u8 type << 4 | scope, u8 state, u8 source, u8 bits (as format
 *            2), varint since_us, zigzag event_time_us - since_us, varint
 *            seq, tagged scope id (an E.164 number as packed digits)
 *            [zigzag latest_us - since_us, zigzag latest_seq - seq, zigzag
 *            first_event_time_us - since_us]
 * One opt-out of one sender: 26 bytes instead of 46.
 *
 * since_us/seq: the event that began the current state (for an opt-out the
 * first STOP of the opted-out period); latest_us/latest_seq: the latest
 * event that repeated it (0 when none did), first_event_time_us the first
 * one's event time then. event_time_us is always the latest event's time:
 * event-time ordering compares against it.
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
	int64_t latest_us;   /* 0: no repeat since since_us */
	uint64_t latest_seq;
	int64_t first_event_time_us; /* with latest_seq */
	bool by_recipient;   /* opted out: the recipient's own STOP is in this period */
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
#define SG__RCPT_ENC_MAX (4 + 8 + 8 + 2 * 17 + SG__RCPT_MAX_ENTRIES * (5 + 24 + 1 + SG_KEY_MAX + 24))

/* Find an entry by type, scope and id; NULL if none. */
sg__entry *sg__rcpt_find(sg__rcpt *r, uint8_t type, uint8_t scope, const char *id);
/* Find or add (zeroed) an entry; NULL when the record is full. */
sg__entry *sg__rcpt_upsert(sg__rcpt *r, uint8_t type, uint8_t scope, const char *id);
