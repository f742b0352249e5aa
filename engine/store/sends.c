/* SPDX-License-Identifier: Apache-2.0 */
/* The send ledger's write path: the block codec, sg_sends_record (one
 * durable txn per batch, de-duplicated by provider message id per
 * recipient), sg_sends_seal and sg_sends_prune. See store/sends.h. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "internal.h"
#include "store/event.h"
#include "store/sends.h"
#include "store/store.h"

#define FUTURE_SKEW_US (300 * (int64_t)1000000)

uint64_t sg__sends_hash64(const char *s, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a, then a 64-bit finaliser */
	for (size_t i = 0; i < len; i++)
		h = (h ^ (uint8_t)s[i]) * 0x100000001b3ull;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 33;
	return h;
}

/* ---- varints ---- */

static size_t put_varint(uint8_t *p, uint64_t v)
{
	size_t n = 0;
	while (v >= 0x80) {
		p[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (uint8_t)v;
	return n;
}

static int get_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
	uint64_t r = 0;
	for (int shift = 0; shift < 64; shift += 7) {
		if (*p >= end)
			return SG_ECORRUPT;
		uint8_t b = *(*p)++;
		r |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*v = r;
			return 0;
		}
	}
	return SG_ECORRUPT;
}

static uint64_t zigzag(int64_t v)
{
	return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static int64_t unzigzag(uint64_t v)
{
	return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

/* ---- decoding ---- */

int sg__send_dec_open(sg__send_dec *d, uint64_t first, const void *val, size_t len)
{
	const uint8_t *p = val;
	d->end = p + len;
	if (len < SG__SENDS_HDR || p[0] != SG__SENDS_FORMAT)
		return SG_ECORRUPT;
	p++;
	if (get_varint(&p, d->end, &d->left) || d->end - p < 24 || d->left == 0 ||
	    d->left > SG__SENDS_BLOCK_MAX)
		return SG_ECORRUPT;
	d->prev_at = (int64_t)sg__be64_get(p);
	d->min_at = (int64_t)sg__be64_get(p + 8);
	d->max_at = (int64_t)sg__be64_get(p + 16);
	d->p = p + 24;
	d->next_ordinal = first;
	d->ndict = 0;
	return 0;
}

static int get_ref(sg__send_dec *d, bool optional, const uint8_t **s, uint32_t *n)
{
	uint64_t r, len;
	if (get_varint(&d->p, d->end, &r))
		return SG_ECORRUPT;
	if (r == 0) {
		if (!optional)
			return SG_ECORRUPT;
		*s = (const uint8_t *)"";
		*n = 0;
		return 0;
	}
	if (r >= 2) {
		if (r - 2 >= d->ndict)
			return SG_ECORRUPT;
		*s = d->dict[r - 2].s;
		*n = d->dict[r - 2].n;
		return 0;
	}
	if (get_varint(&d->p, d->end, &len) || len >= SG_KEY_MAX || (uint64_t)(d->end - d->p) < len)
		return SG_ECORRUPT;
	*s = d->p;
	*n = (uint32_t)len;
	d->p += len;
	if (d->ndict < SG__SENDS_DICT_MAX) {
		d->dict[d->ndict].s = *s;
		d->dict[d->ndict].n = *n;
		d->ndict++;
	}
	return 0;
}

int sg__send_dec_next(sg__send_dec *d, sg__send_rec *o)
{
	if (!d->left)
		return d->p == d->end ? 0 : SG_ECORRUPT;
	uint64_t r, dt;
	if (get_varint(&d->p, d->end, &r))
		return SG_ECORRUPT;
	if (!(r & 1)) {
		int n = snprintf(o->rcpt, sizeof(o->rcpt), "+%" PRIu64, r >> 1);
		if (n < 2 || (size_t)n >= sizeof(o->rcpt) || (r >> 1) == 0)
			return SG_ECORRUPT;
	} else {
		uint64_t len = r >> 1;
		if (len == 0 || len >= SG_KEY_MAX || (uint64_t)(d->end - d->p) < len)
			return SG_ECORRUPT;
		memcpy(o->rcpt, d->p, len);
		o->rcpt[len] = '\0';
		d->p += len;
	}
	if (get_ref(d, false, &o->sender, &o->sender_len) || get_ref(d, true, &o->campaign, &o->campaign_len))
		return SG_ECORRUPT;
	if (d->p >= d->end)
		return SG_ECORRUPT;
	uint8_t flags = *d->p++;
	if (flags & 0xf0 || (flags & 3) > SG_SEND_INFORMATIONAL)
		return SG_ECORRUPT;
	o->category = (sg_send_category)(flags & 3);
	o->source = (flags & 4) ? SG_SEND_STATUS : SG_SEND_REPORTED;
	if (get_varint(&d->p, d->end, &dt))
		return SG_ECORRUPT;
	o->at_us = d->prev_at + unzigzag(dt);
	d->prev_at = o->at_us;
	if (o->at_us < d->min_at || o->at_us > d->max_at)
		return SG_ECORRUPT;
	o->id_hash = 0;
	if (flags & 8) {
		if (d->end - d->p < 8)
			return SG_ECORRUPT;
		o->id_hash = sg__be64_get(d->p);
		d->p += 8;
	}
	o->ordinal = d->next_ordinal++;
	d->left--;
	return 1;
}

/* ---- encoding ---- */

typedef struct senc {
	uint8_t *buf;
	size_t len, cap;
	int64_t prev_at;
	struct {
		const char *s;
		uint32_t n;
	} dict[SG__SENDS_DICT_MAX];
	unsigned ndict;
} senc;

static int senc_reserve(senc *e, size_t more)
{
	if (e->len + more <= e->cap)
		return 0;
	size_t cap = e->cap ? e->cap * 2 : 4096;
	while (cap < e->len + more)
		cap *= 2;
	uint8_t *nb = realloc(e->buf, cap);
	if (!nb)
		return -ENOMEM;
	e->buf = nb;
	e->cap = cap;
	return 0;
}

static void put_ref(senc *e, const char *s)
{
	if (!s || !s[0]) {
		e->buf[e->len++] = 0;
		return;
	}
	uint32_t n = (uint32_t)strlen(s);
	for (unsigned i = e->ndict; i-- > 0;)
		if (e->dict[i].n == n && !memcmp(e->dict[i].s, s, n)) {
			e->len += put_varint(e->buf + e->len, (uint64_t)i + 2);
			return;
		}
	e->buf[e->len++] = 1;
	e->len += put_varint(e->buf + e->len, n);
	memcpy(e->buf + e->len, s, n);
	e->len += n;
	if (e->ndict < SG__SENDS_DICT_MAX) {
		e->dict[e->ndict].s = s;
		e->dict[e->ndict].n = n;
		e->ndict++;
	}
}

/* An E.164 key "+<digits>" as its number, else 0. */
static uint64_t e164_value(const char *k)
{
	if (k[0] != '+' || k[1] < '1' || k[1] > '9')
		return 0;
	uint64_t v = 0;
	size_t i = 1;
	for (; k[i]; i++) {
		if (k[i] < '0' || k[i] > '9' || i > 18)
			return 0;
		v = v * 10 + (uint64_t)(k[i] - '0');
	}
	return v;
}

/* One send into the block; the header is filled at the end. */
static int senc_add(senc *e, const sg_send_in *s, const char *campaign, int64_t at, uint64_t id_hash)
{
	if (senc_reserve(e, 3 * (SG_KEY_MAX + 12) + 32))
		return -ENOMEM;
	uint64_t v = e164_value(s->recipient);
	if (v) {
		e->len += put_varint(e->buf + e->len, v << 1);
	} else {
		size_t n = strlen(s->recipient);
		e->len += put_varint(e->buf + e->len, ((uint64_t)n << 1) | 1);
		memcpy(e->buf + e->len, s->recipient, n);
		e->len += n;
	}
	put_ref(e, s->sender);
	put_ref(e, campaign);
	e->buf[e->len++] = (uint8_t)(s->category | (s->source == SG_SEND_STATUS ? 4 : 0) | (id_hash ? 8 : 0));
	e->len += put_varint(e->buf + e->len, zigzag(at - e->prev_at));
	e->prev_at = at;
	if (id_hash) {
		sg__be64_put(e->buf + e->len, id_hash);
		e->len += 8;
	}
	return 0;
}

/* ---- the index ---- */

void sg__sends_idx_entry(uint8_t out[SG__SENDS_IDX], int64_t at_us, uint64_t ordinal, uint64_t id_hash)
{
	uint32_t sec = (uint32_t)(at_us / 1000000);
	out[0] = (uint8_t)(sec >> 24);
	out[1] = (uint8_t)(sec >> 16);
	out[2] = (uint8_t)(sec >> 8);
	out[3] = (uint8_t)sec;
	for (int i = 0; i < 5; i++)
		out[4 + i] = (uint8_t)(ordinal >> (8 * (4 - i)));
	out[9] = (uint8_t)(id_hash >> 16);
	out[10] = (uint8_t)(id_hash >> 8);
	out[11] = (uint8_t)id_hash;
}

/* ---- recording ---- */

typedef struct pending {
	uint64_t id_hash;
	uint64_t rhash;
} pending;

typedef struct rec_ctx {
	sg_engine *e;
	const sg_send_in *in;
	size_t n;
	sg_send_out *out;
	int64_t now;
	pending *pend;
	senc enc;
	uint64_t next_after; /* meta "send_next" after the commit */
} rec_ctx;

static int validate(const sg_send_in *s, int64_t now)
{
	if (!s->sender || !s->recipient || !s->sender[0] || !s->recipient[0])
		return -EINVAL;
	if (strlen(s->sender) >= SG_KEY_MAX || strlen(s->recipient) >= SG_KEY_MAX)
		return SG_ETOOLONG;
	const char *k[2] = {s->sender, s->recipient};
	for (int i = 0; i < 2; i++)
		if (k[i][0] != '+' && strncmp(k[i], "sc:", 3) && strncmp(k[i], "aid:", 4) && strncmp(k[i], "raw:", 4))
			return SG_ENUMBER;
	if (s->campaign && strlen(s->campaign) >= 64)
		return SG_ETOOLONG;
	if (s->id && strlen(s->id) > SG_SEND_ID_MAX)
		return SG_ETOOLONG;
	if (s->category < SG_SEND_UNSPECIFIED || s->category > SG_SEND_INFORMATIONAL ||
	    (s->source != SG_SEND_REPORTED && s->source != SG_SEND_STATUS))
		return -EINVAL;
	if (s->at_us < 0 || s->at_us > now + FUTURE_SKEW_US || s->at_us / 1000000 > UINT32_MAX)
		return -EINVAL;
	return 0;
}

/* Is (recipient, id) already in the ledger, or earlier in this batch?
 * 1 with *ordinal, 0, or an error. */
static int dedup_find(rec_ctx *c, MDB_txn *txn, uint64_t rhash, uint64_t id_hash, int64_t at, uint64_t batch_first,
		      uint64_t *ordinal)
{
	sg__store *st = &c->e->store;
	uint8_t kb[8], lo[SG__SENDS_IDX];
	sg__be64_put(kb, rhash);
	int64_t from = at - SG__SENDS_DEDUP_US;
	sg__sends_idx_entry(lo, from < 0 ? 0 : from, 0, 0);
	uint32_t until = (uint32_t)((at + SG__SENDS_DEDUP_US) / 1000000);
	MDB_cursor *cur;
	int rc = mdb_cursor_open(txn, st->sendidx, &cur);
	if (rc)
		return sg__store_err(rc);
	MDB_val k = sg__val(kb, 8), v = sg__val(lo, SG__SENDS_IDX);
	int found = 0;
	rc = mdb_cursor_get(cur, &k, &v, MDB_GET_BOTH_RANGE);
	while (!rc && !found) {
		const uint8_t *p = v.mv_data;
		if (v.mv_size != SG__SENDS_IDX) {
			rc = SG_ECORRUPT;
			break;
		}
		uint32_t sec = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
		if (sec > until)
			break;
		uint64_t ord = 0;
		for (int i = 0; i < 5; i++)
			ord = ord << 8 | p[4 + i];
		uint32_t low = (uint32_t)p[9] << 16 | (uint32_t)p[10] << 8 | p[11];
		if (low == (id_hash & 0xffffff)) {
			if (ord >= batch_first) {
				found = c->pend[ord - batch_first].id_hash == id_hash;
			} else {
				sg__send_rec r;
				int g = sg__sends_get(st, txn, ord, &r);
				if (g < 0 && g != SG_ENOTFOUND) {
					rc = g;
					break;
				}
				found = g == 0 && r.id_hash == id_hash;
			}
			if (found)
				*ordinal = ord;
		}
		rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT_DUP);
	}
	mdb_cursor_close(cur);
	if (rc == MDB_NOTFOUND)
		rc = 0;
	return rc < 0 ? rc : rc ? sg__store_err(rc) : found;
}

static int put_block(rec_ctx *c, MDB_txn *txn, uint64_t first, unsigned count, int64_t base, int64_t min_at,
		     int64_t max_at)
{
	uint8_t *b = c->enc.buf;
	size_t at = 0;
	b[at++] = SG__SENDS_FORMAT;
	uint8_t vb[10];
	size_t vn = put_varint(vb, count);
	/* the header was reserved at its largest; move it next to the sends */
	size_t hdr = 1 + vn + 24, reserved = 1 + 3 + 24;
	memmove(b + hdr, b + reserved, c->enc.len - reserved);
	memcpy(b + at, vb, vn);
	at += vn;
	sg__be64_put(b + at, (uint64_t)base);
	sg__be64_put(b + at + 8, (uint64_t)min_at);
	sg__be64_put(b + at + 16, (uint64_t)max_at);
	size_t len = c->enc.len - reserved + hdr;
	uint8_t kb[8];
	sg__be64_put(kb, first);
	MDB_val k = sg__val(kb, 8), v = sg__val(b, len);
	return sg__store_err(mdb_put(txn, c->e->store.sends, &k, &v, MDB_APPEND));
}

static void senc_reset(senc *e)
{
	e->len = 1 + 3 + 24; /* the header's room, see put_block */
	e->ndict = 0;
}

static int record_txn(MDB_txn *txn, void *arg)
{
	rec_ctx *c = arg;
	sg__store *st = &c->e->store;
	uint64_t next, count;
	int rc;
	if ((rc = sg__meta_get_u64(st, txn, "send_next", &next)) || (rc = sg__meta_get_u64(st, txn, "send_count", &count)))
		return rc;
	if (!next)
		next = 1;
	uint64_t batch_first = next, block_first = next;
	unsigned in_block = 0;
	int64_t base = 0, min_at = 0, max_at = 0;
	char last_sender[SG_KEY_MAX] = "";
	sg__scopes sc = {0};
	if (senc_reserve(&c->enc, 64))
		return -ENOMEM;
	senc_reset(&c->enc);
	for (size_t i = 0; i < c->n; i++) {
		const sg_send_in *s = &c->in[i];
		sg_send_out *o = &c->out[i];
		*o = (sg_send_out){0};
		if ((o->status = validate(s, c->now)))
			continue;
		int64_t at = s->at_us ? s->at_us : c->now;
		uint64_t rhash = sg__sends_hash64(s->recipient, strlen(s->recipient));
		uint64_t id_hash = s->id && s->id[0] ? sg__sends_hash64(s->id, strlen(s->id)) : 0;
		if (s->id && s->id[0] && !id_hash)
			id_hash = 1;
		if (id_hash) {
			rc = dedup_find(c, txn, rhash, id_hash, at, batch_first, &o->ordinal);
			if (rc < 0)
				return rc;
			if (rc == 1) {
				o->duplicate = true;
				continue;
			}
		}
		const char *campaign = s->campaign;
		if (!campaign) {
			if (strcmp(last_sender, s->sender)) {
				if ((rc = sg__scopes_resolve(c->e, txn, s->sender, &sc)))
					return rc;
				sg__strlcpy(last_sender, s->sender, sizeof(last_sender));
			}
			campaign = sc.campaign;
		}
		if (in_block == SG__SENDS_BLOCK_MAX) {
			if ((rc = put_block(c, txn, block_first, in_block, base, min_at, max_at)))
				return rc;
			senc_reset(&c->enc);
			block_first = next;
			in_block = 0;
		}
		if (!in_block) {
			base = min_at = max_at = at;
			c->enc.prev_at = at;
		}
		if ((rc = senc_add(&c->enc, s, campaign, at, id_hash)))
			return rc;
		if (at < min_at)
			min_at = at;
		if (at > max_at)
			max_at = at;
		c->pend[next - batch_first] = (pending){.id_hash = id_hash, .rhash = rhash};
		uint8_t kb[8], ib[SG__SENDS_IDX];
		sg__be64_put(kb, rhash);
		sg__sends_idx_entry(ib, at, next, id_hash);
		MDB_val k = sg__val(kb, 8), v = sg__val(ib, SG__SENDS_IDX);
		if ((rc = sg__store_err(mdb_put(txn, st->sendidx, &k, &v, 0))))
			return rc;
		o->ordinal = next++;
		in_block++;
		count++;
	}
	if (in_block && (rc = put_block(c, txn, block_first, in_block, base, min_at, max_at)))
		return rc;
	c->next_after = next;
	if (next != batch_first &&
	    ((rc = sg__meta_put_u64(st, txn, "send_next", next)) || (rc = sg__meta_put_u64(st, txn, "send_count", count))))
		return rc;
	return 0;
}

int sg_sends_record(sg_engine *e, const sg_send_in *sends, size_t n, sg_send_out *out)
{
	if (e->rdonly)
		return SG_ERDONLY;
	if (n > SG_SENDS_BATCH_MAX)
		return -E2BIG;
	if (!n)
		return 0;
	size_t stride;
	memcpy(&stride, sends, sizeof(stride));
	if (stride < sizeof(sg_send_in) || stride > sizeof(sg_send_in))
		return -EINVAL; /* `size` not set (one layout so far) */
	rec_ctx c = {.e = e, .in = sends, .n = n, .out = out, .now = sg_now_us()};
	for (size_t i = 0; i < n; i++)
		if (sends[i].size != stride)
			return -EINVAL;
	c.pend = malloc(n * sizeof(*c.pend));
	int rc = c.pend ? sg__store_write(&e->store, record_txn, &c) : -ENOMEM;
	free(c.pend);
	free(c.enc.buf);
	if (rc) {
		for (size_t i = 0; i < n; i++)
			out[i] = (sg_send_out){.status = rc};
		return rc;
	}
	uint64_t sealed = 0;
	MDB_txn *txn;
	if (!(rc = sg__rd_begin(&e->store, &txn))) {
		rc = sg__meta_get_u64(&e->store, txn, "send_sealed", &sealed);
		sg__rd_end(&e->store, txn);
	}
	if (!rc && c.next_after && c.next_after - 1 - sealed >= SG_SENDS_SEAL_EVERY)
		rc = sg_sends_seal(e, NULL);
	return rc;
}
