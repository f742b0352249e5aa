/* SPDX-License-Identifier: Apache-2.0 */
/* The recipient record codec (see consent.h). */
#include <string.h>

#include "internal.h"
#include "store/compact.h"
#include "store/consent.h"
#include "store/store.h"

int sg__rcpt_read(sg__store *st, sg__txn *txn, const char *key, sg__rcpt *out)
{
	MDB_val k = sg__val(key, strlen(key)), val;
	int rc = mdb_get(txn, st->recipients, &k, &val);
	if (rc == MDB_NOTFOUND)
		return SG_ENOTFOUND;
	if (rc)
		return sg__store_err(rc);
	return sg__rcpt_decode(val.mv_data, val.mv_size, out); /* 0 or SG_ECORRUPT */
}

typedef struct cursor {
	const uint8_t *p, *end;
	bool bad;
} cursor;

static const uint8_t *take(cursor *c, size_t n)
{
	if (c->bad || (size_t)(c->end - c->p) < n) {
		c->bad = true;
		return NULL;
	}
	const uint8_t *at = c->p;
	c->p += n;
	return at;
}

static uint64_t take_u64(cursor *c)
{
	const uint8_t *b = take(c, 8);
	return b ? sg__be64_get(b) : 0;
}

static void take_str(cursor *c, char *out, size_t size)
{
	const uint8_t *l = take(c, 1);
	const uint8_t *s = l ? take(c, *l) : NULL;
	if (!s || *l >= size) {
		c->bad = true;
		out[0] = '\0';
		return;
	}
	memcpy(out, s, *l);
	out[*l] = '\0';
}

/* Format 3 (consent.h): varints, deltas and tagged strings. */
static int decode_v3(const uint8_t *v, size_t len, sg__rcpt *r)
{
	sg__cin c = {v + 1, v + len, 0};
	const uint8_t *flags = sg__c_take(&c, 1);
	uint64_t count = sg__c_take_varint(&c);
	if (!flags || *flags & ~1 || count > SG__RCPT_MAX_ENTRIES)
		return SG_ECORRUPT;
	r->not_sms_capable = *flags & 1;
	r->count = (uint16_t)count;
	r->flag_since_us = 0;
	r->flag_seq = 0;
	r->flag_code[0] = r->flag_provider[0] = '\0';
	if (r->not_sms_capable) {
		r->flag_since_us = (int64_t)sg__c_take_varint(&c);
		r->flag_seq = sg__c_take_varint(&c);
		sg__c_take_string(&c, r->flag_code, sizeof(r->flag_code));
		sg__c_take_string(&c, r->flag_provider, sizeof(r->flag_provider));
	}
	for (unsigned i = 0; i < r->count && !c.err; i++) {
		sg__entry *e = &r->entries[i];
		const uint8_t *k = sg__c_take(&c, 4);
		if (!k || k[3] & ~7)
			return SG_ECORRUPT;
		e->type = k[0] >> 4;
		e->scope = k[0] & 0x0F;
		e->state = k[1];
		e->source = k[2];
		e->claimed = k[3] & 1;
		e->by_recipient = (k[3] & 4) != 0;
		e->since_us = (int64_t)sg__c_take_varint(&c);
		e->event_time_us = sg__c_take_delta(&c, e->since_us);
		e->seq = sg__c_take_varint(&c);
		sg__c_take_string(&c, e->id, sizeof(e->id));
		e->latest_us = 0;
		e->latest_seq = 0;
		e->first_event_time_us = 0;
		if (k[3] & 2) {
			e->latest_us = sg__c_take_delta(&c, e->since_us);
			e->latest_seq = (uint64_t)sg__c_take_delta(&c, (int64_t)e->seq);
			e->first_event_time_us = sg__c_take_delta(&c, e->since_us);
			if (!e->latest_seq)
				return SG_ECORRUPT; /* bit 1 says there is one */
		}
	}
	return c.err || c.p != c.end ? SG_ECORRUPT : 0;
}

int sg__rcpt_decode(const void *val, size_t len, sg__rcpt *r)
{
	if (len && *(const uint8_t *)val == 3)
		return decode_v3(val, len, r);
	cursor c = {val, (const uint8_t *)val + len, false};
	const uint8_t *head = take(&c, 4);
	if (!head || (head[0] != 1 && head[0] != 2))
		return SG_ECORRUPT;
	bool v2 = head[0] == 2;
	r->not_sms_capable = head[1] & 1;
	r->count = (uint16_t)((head[2] << 8) | head[3]);
	if (r->count > SG__RCPT_MAX_ENTRIES)
		return SG_ECORRUPT;
	if (r->not_sms_capable) {
		r->flag_since_us = (int64_t)take_u64(&c);
		r->flag_seq = take_u64(&c);
		take_str(&c, r->flag_code, sizeof(r->flag_code));
		take_str(&c, r->flag_provider, sizeof(r->flag_provider));
	} else {
		r->flag_since_us = 0;
		r->flag_seq = 0;
		r->flag_code[0] = r->flag_provider[0] = '\0';
	}
	for (unsigned i = 0; i < r->count; i++) {
		sg__entry *e = &r->entries[i];
		const uint8_t *k = take(&c, 5);
		if (!k)
			return SG_ECORRUPT;
		e->type = k[0];
		e->scope = k[1];
		e->state = k[2];
		e->source = k[3];
		e->claimed = k[4] & 1;
		if (k[4] & ~(v2 ? 7 : 1))
			return SG_ECORRUPT;
		/* Format 1 knew no bit 2: its source is the only witness. */
		e->by_recipient = v2 ? (k[4] & 4) != 0
				     : e->state == SG_STATE_OPTED_OUT && (e->source == SG_SOURCE_KEYWORD ||
									  e->source == SG_SOURCE_PROVIDER_SIGNAL);
		e->since_us = (int64_t)take_u64(&c);
		e->event_time_us = (int64_t)take_u64(&c);
		e->seq = take_u64(&c);
		take_str(&c, e->id, sizeof(e->id));
		e->latest_us = 0;
		e->latest_seq = 0;
		e->first_event_time_us = 0;
		if (k[4] & 2) {
			e->latest_us = (int64_t)take_u64(&c);
			e->latest_seq = take_u64(&c);
			e->first_event_time_us = (int64_t)take_u64(&c);
		}
	}
	return c.bad || c.p != c.end ? SG_ECORRUPT : 0;
}

typedef struct out {
	uint8_t *p, *end;
	bool full;
} out;

static void put(out *o, const void *src, size_t n)
{
	if (o->full || (size_t)(o->end - o->p) < n) {
		o->full = true;
		return;
	}
	memcpy(o->p, src, n);
	o->p += n;
}

static void put_u64(out *o, uint64_t v)
{
	uint8_t b[8];
	sg__be64_put(b, v);
	put(o, b, 8);
}

static void put_str(out *o, const char *s)
{
	size_t n = strlen(s);
	if (n > 255) {
		o->full = true;
		return;
	}
	uint8_t l = (uint8_t)n;
	put(o, &l, 1);
	put(o, s, n);
}

/* Formats 1 and 2, as stores before 0.2 hold them. */
static long encode_v12(const sg__rcpt *r, uint8_t *buf, size_t size)
{
	out o = {buf, buf + size, false};
	uint8_t format = 1; /* records without a repeat stay readable by format-1 code */
	for (unsigned i = 0; i < r->count; i++)
		if (r->entries[i].latest_seq || r->entries[i].by_recipient)
			format = 2;
	uint8_t head[4] = {format, r->not_sms_capable ? 1 : 0, (uint8_t)(r->count >> 8), (uint8_t)r->count};
	put(&o, head, 4);
	if (r->not_sms_capable) {
		put_u64(&o, (uint64_t)r->flag_since_us);
		put_u64(&o, r->flag_seq);
		put_str(&o, r->flag_code);
		put_str(&o, r->flag_provider);
	}
	for (unsigned i = 0; i < r->count; i++) {
		const sg__entry *e = &r->entries[i];
		uint8_t bits = (uint8_t)((e->claimed ? 1 : 0) | (e->latest_seq ? 2 : 0) | (e->by_recipient ? 4 : 0));
		uint8_t k[5] = {e->type, e->scope, e->state, e->source, bits};
		put(&o, k, 5);
		put_u64(&o, (uint64_t)e->since_us);
		put_u64(&o, (uint64_t)e->event_time_us);
		put_u64(&o, e->seq);
		put_str(&o, e->id);
		if (e->latest_seq) {
			put_u64(&o, (uint64_t)e->latest_us);
			put_u64(&o, e->latest_seq);
			put_u64(&o, (uint64_t)e->first_event_time_us);
		}
	}
	return o.full ? SG_ETOOLONG : (long)(o.p - buf);
}

sg__entry *sg__rcpt_find(sg__rcpt *r, uint8_t type, uint8_t scope, const char *id)
{
	for (unsigned i = 0; i < r->count; i++) {
		sg__entry *e = &r->entries[i];
		if (e->type == type && e->scope == scope && !strcmp(e->id, id))
			return e;
	}
	return NULL;
}

sg__entry *sg__rcpt_upsert(sg__rcpt *r, uint8_t type, uint8_t scope, const char *id)
{
	sg__entry *e = sg__rcpt_find(r, type, scope, id);
	if (e)
		return e;
	if (r->count >= SG__RCPT_MAX_ENTRIES)
		return NULL;
	e = &r->entries[r->count++];
	memset(e, 0, sizeof(*e));
	e->type = type;
	e->scope = scope;
	sg__strlcpy(e->id, id, sizeof(e->id));
	return e;
}

long sg__rcpt_encode(const sg__rcpt *r, uint8_t *buf, size_t size)
{
	bool v3 = !sg__store_old_forms && r->count <= SG__RCPT_MAX_ENTRIES;
	for (unsigned i = 0; v3 && i < r->count; i++) /* type and scope share a byte */
		v3 = r->entries[i].type < 16 && r->entries[i].scope < 16;
	if (!v3)
		return encode_v12(r, buf, size);
	sg__cout o = {buf, buf + size, 0};
	uint8_t head[2] = {3, r->not_sms_capable ? 1 : 0};
	sg__c_put(&o, head, 2);
	sg__c_varint(&o, r->count);
	if (r->not_sms_capable) {
		sg__c_varint(&o, (uint64_t)r->flag_since_us);
		sg__c_varint(&o, r->flag_seq);
		sg__c_string(&o, r->flag_code, sizeof(r->flag_code) - 1);
		sg__c_string(&o, r->flag_provider, sizeof(r->flag_provider) - 1);
	}
	for (unsigned i = 0; i < r->count; i++) {
		const sg__entry *e = &r->entries[i];
		uint8_t bits = (uint8_t)((e->claimed ? 1 : 0) | (e->latest_seq ? 2 : 0) | (e->by_recipient ? 4 : 0));
		uint8_t k[4] = {(uint8_t)(e->type << 4 | e->scope), e->state, e->source, bits};
		sg__c_put(&o, k, 4);
		sg__c_varint(&o, (uint64_t)e->since_us);
		sg__c_delta(&o, e->since_us, e->event_time_us);
		sg__c_varint(&o, e->seq);
		sg__c_string(&o, e->id, SG_KEY_MAX - 1);
		if (e->latest_seq) {
			sg__c_delta(&o, e->since_us, e->latest_us);
			sg__c_delta(&o, (int64_t)e->seq, (int64_t)e->latest_seq);
			sg__c_delta(&o, e->since_us, e->first_event_time_us);
		}
	}
	return o.err ? SG_ETOOLONG : (long)(o.p - buf);
}
