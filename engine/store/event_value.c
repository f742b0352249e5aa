/* SPDX-License-Identifier: Apache-2.0 */
/* The stored forms of an event (event_value.h): the compact encoder, and
 * the decoders of both forms. */
#include <errno.h>
#include <string.h>

#include "internal.h"
#include "store/compact.h"
#include "store/event_value.h"
#include "store/store.h"

bool sg__store_old_forms = false;

#define F_SCOPE_IS_SENDER (1u << 12)
#define F_EVENT_TIME (1u << 13)
#define F_BODY (1u << 14)
#define F_INLINE (1u << 15)
#define F_KNOWN (0xFFFFu)

/* SHA-256 of the empty string: the digest of an event without a body. */
static const uint8_t empty_sha256[32] = {
	0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
	0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55};

static const char *const *strings_of(const sg_event *ev, const char *strs[SG__EVENT_STRINGS])
{
	const char *s[SG__EVENT_STRINGS] = {ev->scope_id, ev->sender,	     ev->recipient, ev->campaign,
					    ev->brand,	  ev->provider,	     ev->provider_msg_id, ev->rule,
					    ev->reply,	  ev->note,	     ev->dedup_key,	  ev->keywords};
	memcpy(strs, s, sizeof(s));
	return strs;
}

long sg__event_value_encode(const sg_event *ev, const uint8_t hash[32], uint8_t *buf, size_t size)
{
	uint8_t c[SG__EVENT_VALUE_MAX];
	sg__cout o = {c, c + sizeof(c), 0};
	const char *strs[SG__EVENT_STRINGS];
	strings_of(ev, strs);
	unsigned flags = 0;
	for (int i = 0; i < SG__EVENT_STRINGS; i++)
		if (strs[i] && strs[i][0])
			flags |= 1u << i;
	if ((flags & 3) == 3 && !strcmp(strs[0], strs[1]))
		flags = (flags & ~1u) | F_SCOPE_IS_SENDER;
	if (ev->event_time_us != ev->time_us)
		flags |= F_EVENT_TIME;
	bool inline_body = ev->body && ev->body_len && ev->body_len <= SG__EVENT_INLINE_MAX;
	if (inline_body)
		flags |= F_INLINE;
	else if (ev->body_len || memcmp(ev->body_sha256, empty_sha256, 32))
		flags |= F_BODY;
	uint8_t head[6] = {SG__EVENT_VALUE_V1, (uint8_t)ev->action, (uint8_t)ev->source, (uint8_t)ev->scope,
			   (uint8_t)(flags >> 8), (uint8_t)flags};
	sg__c_put(&o, head, sizeof(head));
	sg__c_varint(&o, ev->seq);
	sg__c_varint(&o, (uint64_t)ev->time_us);
	if (flags & F_EVENT_TIME)
		sg__c_delta(&o, ev->time_us, ev->event_time_us);
	for (int i = 0; i < SG__EVENT_STRINGS; i++)
		if (flags & (1u << i))
			sg__c_string(&o, strs[i], SG__EVENT_STR_MAX);
	if (flags & F_BODY) {
		if (ev->body_len > UINT32_MAX)
			return SG_ETOOLONG; /* the canonical encoding holds a u32 */
		sg__c_varint(&o, ev->body_len);
		sg__c_put(&o, ev->body_sha256, 32);
	} else if (inline_body) {
		sg__c_varint(&o, ev->body_len);
		sg__c_put(&o, ev->body, ev->body_len);
	}
	if (o.err)
		return o.err;
	size_t n = (size_t)(o.p - c), total = 32 + n + (n > 32);
	if (total > size)
		return SG_ETOOLONG;
	memcpy(buf, hash, 32);
	if (n <= 32) {
		memcpy(buf + 32, c, n);
	} else {
		memcpy(buf + 32, c, 32);
		buf[64] = SG__EVENT_VALUE_MARK;
		memcpy(buf + 65, c + 32, n - 32);
	}
	return (long)total;
}

bool sg__event_value_is_compact(const void *val, size_t len)
{
	const uint8_t *v = val;
	return len > 32 && (len <= 64 || v[64] == SG__EVENT_VALUE_MARK);
}

/* The compact fields C of a value, contiguous in c (the mark removed). */
static int fields_of(const uint8_t *v, size_t len, uint8_t *c, size_t *n)
{
	if (!sg__event_value_is_compact(v, len))
		return SG_ECORRUPT;
	if (len <= 64) {
		*n = len - 32;
		memcpy(c, v + 32, *n);
	} else {
		*n = len - 33;
		memcpy(c, v + 32, 32);
		memcpy(c + 32, v + 65, len - 65);
	}
	return 0;
}

/* A tagged string of the value, into the scratch arena (NULL when absent:
 * a present string is never empty). */
static const char *arena_string(sg__cin *r, char **arena, char *arena_end)
{
	size_t n = sg__c_take_string(r, *arena, (size_t)(arena_end - *arena));
	if (r->err || !n || n > SG__EVENT_STR_MAX) {
		r->err = SG_ECORRUPT;
		return NULL;
	}
	const char *s = *arena;
	*arena += n + 1;
	return s;
}

int sg__event_value_decode(uint64_t seq, const void *val, size_t len, const uint8_t *prev, sg_event *ev,
			   char *scratch, size_t scratch_size)
{
	if (!sg__event_value_is_compact(val, len))
		return sg__event_decode(val, len, ev, scratch, scratch_size);
	memset(ev, 0, sizeof(*ev));
	uint8_t c[SG__EVENT_VALUE_MAX];
	size_t n;
	if (len > sizeof(c) || fields_of(val, len, c, &n))
		return SG_ECORRUPT;
	sg__cin r = {c, c + n, 0};
	char *arena = scratch, *arena_end = scratch + scratch_size;
	const uint8_t *h = sg__c_take(&r, 6);
	if (!h || h[0] != SG__EVENT_VALUE_V1)
		return SG_ECORRUPT;
	unsigned flags = ((unsigned)h[4] << 8) | h[5];
	if (flags & ~F_KNOWN || ((flags & F_SCOPE_IS_SENDER) && (flags & 3) != 2) ||
	    ((flags & F_BODY) && (flags & F_INLINE)))
		return SG_ECORRUPT;
	memcpy(ev->hash, val, 32);
	if (prev)
		memcpy(ev->prev_hash, prev, 32);
	(void)seq; /* the stored one: callers compare it with the key */
	ev->seq = sg__c_take_varint(&r);
	ev->action = h[1];
	ev->source = h[2];
	ev->scope = h[3];
	ev->time_us = (int64_t)sg__c_take_varint(&r);
	ev->event_time_us = ev->time_us;
	if (flags & F_EVENT_TIME) {
		ev->event_time_us = sg__c_take_delta(&r, ev->time_us);
		if (ev->event_time_us == ev->time_us)
			return SG_ECORRUPT; /* stored only when it differs */
	}
	const char **strs[] = {&ev->scope_id, &ev->sender, &ev->recipient, &ev->campaign,
			       &ev->brand,    &ev->provider, &ev->provider_msg_id, &ev->rule,
			       &ev->reply,    &ev->note,   &ev->dedup_key, &ev->keywords};
	for (int i = 0; i < SG__EVENT_STRINGS; i++)
		if (flags & (1u << i))
			*strs[i] = arena_string(&r, &arena, arena_end);
	if (flags & F_SCOPE_IS_SENDER)
		ev->scope_id = ev->sender;
	if (flags & F_BODY) {
		uint64_t bl = sg__c_take_varint(&r);
		const uint8_t *d = sg__c_take(&r, 32);
		if (!d || bl > UINT32_MAX)
			return SG_ECORRUPT;
		ev->body_len = (size_t)bl;
		memcpy(ev->body_sha256, d, 32);
	} else if (flags & F_INLINE) {
		uint64_t bl = sg__c_take_varint(&r);
		const uint8_t *b = bl && bl <= SG__EVENT_INLINE_MAX ? sg__c_take(&r, (size_t)bl) : NULL;
		if (!b || (size_t)(arena_end - arena) < bl + 1)
			return SG_ECORRUPT;
		memcpy(arena, b, (size_t)bl);
		arena[bl] = '\0';
		ev->body = arena;
		ev->body_len = (size_t)bl;
		sg__sha256(b, (size_t)bl, ev->body_sha256); /* what the chain hashed */
	} else {
		memcpy(ev->body_sha256, empty_sha256, 32);
	}
	if (r.err || r.p != r.end)
		return SG_ECORRUPT;
	return 0;
}

int sg__event_value_load(MDB_txn *txn, MDB_dbi events, uint64_t seq, const void *val, size_t len,
			 const uint8_t *prev, sg_event *ev, char *scratch, size_t scratch_size)
{
	uint8_t ph[32] = {0};
	if (!prev && sg__event_value_is_compact(val, len)) {
		if (seq > 1) {
			uint8_t kb[8];
			sg__be64_put(kb, seq - 1);
			MDB_val k = sg__val(kb, 8), v;
			int rc = mdb_get(txn, events, &k, &v);
			if (rc)
				return rc == MDB_NOTFOUND ? SG_ECORRUPT : sg__store_err(rc);
			if (v.mv_size < 32)
				return SG_ECORRUPT;
			memcpy(ph, v.mv_data, 32);
		}
		prev = ph;
	}
	return sg__event_value_decode(seq, val, len, prev, ev, scratch, scratch_size);
}

bool sg__event_value_inline(const void *val, size_t len)
{
	const uint8_t *v = val;
	return sg__event_value_is_compact(val, len) && len >= 32 + 6 && v[32] == SG__EVENT_VALUE_V1 &&
	       (v[32 + 4] << 8 & F_INLINE);
}

int sg__event_value_head(const void *val, size_t len, int64_t *time_us, int *action)
{
	const uint8_t *v = val;
	if (!sg__event_value_is_compact(val, len)) {
		if (len < 64 + 1 + 24 + 1 || !SG__EVENT_FORMAT_OK(v[64]))
			return SG_ECORRUPT;
		*time_us = (int64_t)sg__be64_get(v + 64 + 1 + 8);
		*action = v[64 + 1 + 24];
		return 0;
	}
	uint8_t c[6 + 10 + 10];
	size_t n = len - 32 < sizeof(c) ? len - 32 : sizeof(c); /* head, seq and time lie before byte 64 */
	memcpy(c, v + 32, n);
	sg__cin r = {c, c + n, 0};
	const uint8_t *h = sg__c_take(&r, 6);
	if (!h || h[0] != SG__EVENT_VALUE_V1)
		return SG_ECORRUPT;
	sg__c_take_varint(&r); /* seq */
	uint64_t t = sg__c_take_varint(&r);
	if (r.err)
		return SG_ECORRUPT;
	*action = h[1];
	*time_us = (int64_t)t;
	return 0;
}
