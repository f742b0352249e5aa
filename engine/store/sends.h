/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The send ledger's storage (store/sends.c, sends_read.c, sends_audit.c).
 *
 * A block (sends DB, key = its first ordinal, u64 BE) holds the sends of
 * one sg_sends_record call, at most SG__SENDS_BLOCK_MAX of them:
 *   u8 format (1), varint count, i64 BE base_at (the first send's), i64 BE
 *   min_at, i64 BE max_at, then each send:
 *   varint recipient: even = E.164 digits << 1 ("+" and the digits, which
 *          never start with 0), odd = (length << 1) | 1 and the key's bytes
 *   varint sender, varint campaign: a string reference into the block's
 *          dictionary: 1 = a new string follows (varint length, bytes; added
 *          to the dictionary while it has fewer than SG__SENDS_DICT_MAX),
 *          k >= 2 = entry k - 2; the campaign's 0 = none
 *   u8 flags: bits 0-1 category, bit 2 source (status callback), bit 3 id
 *   varint zigzag(at - previous at) (the first from base_at)
 *   8 bytes BE id hash, with the id bit
 * The chain over blocks: h = SHA-256(h || key || value) from 32 zero bytes;
 * a seal (an SG_ACTION_SENDS event) names h after its last block.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "stopgate.h"

#define SG__SENDS_FORMAT 1
#define SG__SENDS_BLOCK_MAX 1024
#define SG__SENDS_DICT_MAX 255
#define SG__SENDS_HDR 26
#define SG__RLIST_ENTRY_MAX 22 /* one entry of a recipient's list, at most */
#define SG__SENDS_DEDUP_US (48 * 3600 * (int64_t)1000000)

#define SG__RULE_SENDS_SEAL "sends_seal"
#define SG__RULE_SENDS_PRUNE "sends_prune"

/* One decoded send; strings point into the block (sender, campaign: not
 * NUL-terminated) or into rcpt. */
typedef struct sg__send_rec {
	uint64_t ordinal;
	int64_t at_us;
	char rcpt[SG_KEY_MAX];
	const uint8_t *sender, *campaign;
	uint32_t sender_len, campaign_len;
	sg_send_category category;
	sg_send_source source;
	uint64_t id_hash;
} sg__send_rec;

typedef struct sg__send_dec {
	const uint8_t *p, *end;
	uint64_t next_ordinal;
	uint64_t left;
	int64_t prev_at, min_at, max_at;
	struct {
		const uint8_t *s;
		uint32_t n;
	} dict[SG__SENDS_DICT_MAX];
	unsigned ndict;
} sg__send_dec;

int sg__send_dec_open(sg__send_dec *d, uint64_t first_ordinal, const void *val, size_t len);
/* 1: a send in *out; 0: the block is done; SG_ECORRUPT. */
int sg__send_dec_next(sg__send_dec *d, sg__send_rec *out);

uint64_t sg__sends_hash64(const char *s, size_t len);
/*
 * A recipient's list (sendrcpt DB, key = the recipient key's hash64, u64
 * BE): one entry per send to it, in ordinal order, each
 *   varint zigzag(second - previous second), varint (ordinal - previous
 *   ordinal), u16 BE low bits of the id hash (0: no id)
 * from (0, 0). Rewritten whole when sends are added or pruned.
 */
typedef struct sg__rlist {
	const uint8_t *p, *end;
	int64_t sec;
	uint64_t ord;
} sg__rlist;
void sg__rlist_open(sg__rlist *l, const void *val, size_t len);
/* 1: an entry; 0: the end; SG_ECORRUPT. */
int sg__rlist_next(sg__rlist *l, int64_t *sec, uint64_t *ordinal, uint16_t *id16);
/* Append one entry at out (SG__RLIST_ENTRY_MAX bytes of room) after the
 * entry (*prev_sec, *prev_ord), which it updates; returns its length. */
size_t sg__rlist_put(uint8_t *out, int64_t *prev_sec, uint64_t *prev_ord, int64_t sec, uint64_t ordinal,
		     uint16_t id16);
static inline uint16_t sg__id16(uint64_t id_hash)
{
	return id_hash ? (uint16_t)(id_hash & 0xffff ? id_hash & 0xffff : 1) : 0;
}

/* A seal or a prune named by an SG_ACTION_SENDS event. */
typedef struct sg__sends_mark {
	uint64_t seq;
	bool prune;
	uint64_t first, last;  /* seal: the ordinals covered */
	uint8_t hash[32];      /* seal */
	uint64_t first_kept;   /* prune */
} sg__sends_mark;
/* Parse the note of an SG_ACTION_SENDS event: 0, or -EINVAL. */
int sg__sends_mark_parse(const char *rule, const char *note, sg__sends_mark *out);

/* The send of one ordinal, read in txn: SG_ENOTFOUND when there is none. */
struct sg__store;
int sg__sends_get(struct sg__store *st, struct MDB_txn *txn, uint64_t ordinal, sg__send_rec *out);

/* sg_sends_read resumable: from ordinal *resume (0: the start), at most
 * max_blocks blocks (0: all); *resume receives where to go on, 0 at the
 * end. */
int sg__sends_read_from(struct sg_engine *e, uint64_t *resume, unsigned max_blocks, int64_t since_us,
			int64_t until_us, sg_send_cb cb, void *ctx);

/* The ledger against the seals the log holds (sends_audit.c): on a break,
 * *bad_seq and why; returns a store error only. */
struct sg_engine;
int sg__sends_verify(struct sg_engine *e, const sg__sends_mark *marks, size_t n, bool *ok, uint64_t *bad_seq,
		     char *why, size_t why_len);
