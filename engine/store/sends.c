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
		char s[SG_KEY_MAX]; /* a copy: the caller's strings may be reused */
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
	if (e->ndict < SG__SENDS_DICT_MAX && n < SG_KEY_MAX) {
		memcpy(e->dict[e->ndict].s, s, n);
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

/* ---- a recipient's list ---- */

void sg__rlist_open(sg__rlist *l, const void *val, size_t len)
{
	l->p = val;
	l->end = l->p + len;
	l->sec = 0;
	l->ord = 0;
}

int sg__rlist_next(sg__rlist *l, int64_t *sec, uint64_t *ordinal, uint16_t *id16)
{
	if (l->p == l->end)
		return 0;
	uint64_t dt, dord;
	if (get_varint(&l->p, l->end, &dt) || get_varint(&l->p, l->end, &dord) || l->end - l->p < 2 || !dord)
		return SG_ECORRUPT;
	l->sec += unzigzag(dt);
	l->ord += dord;
	*sec = l->sec;
	*ordinal = l->ord;
	*id16 = (uint16_t)(l->p[0] << 8 | l->p[1]);
	l->p += 2;
	return 1;
}

size_t sg__rlist_put(uint8_t *out, int64_t *prev_sec, uint64_t *prev_ord, int64_t sec, uint64_t ordinal,
		     uint16_t id16)
{
	size_t n = put_varint(out, zigzag(sec - *prev_sec));
	n += put_varint(out + n, ordinal - *prev_ord);
	out[n++] = (uint8_t)(id16 >> 8);
	out[n++] = (uint8_t)id16;
	*prev_sec = sec;
	*prev_ord = ordinal;
	return n;
}

/* ---- recording ---- */

typedef struct pending {
	uint64_t rhash, id_hash;
	int64_t at;
	size_t idx;        /* in the batch */
	size_t dup_of;     /* SIZE_MAX: none; else the batch index of the original */
} pending;

typedef struct rec_ctx {
	sg_engine *e;
	const sg_send_in *in;
	size_t n;
	sg_send_out *out;
	int64_t now;
	pending *pend;     /* the valid sends, then sorted by recipient */
	size_t npend;
	size_t *by_idx;    /* batch index -> position in pend, SIZE_MAX: invalid */
	senc enc;
	uint8_t *lbuf;     /* a recipient's new list */
	size_t lcap;
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

static int by_recipient(const void *a, const void *b)
{
	const pending *x = a, *y = b;
	if (x->rhash != y->rhash)
		return x->rhash < y->rhash ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* De-duplicate the group pend[g0, g1) (one recipient, batch order) against
 * the recipient's stored list and against itself. */
static int dedup_group(rec_ctx *c, MDB_txn *txn, size_t g0, size_t g1)
{
	sg__store *st = &c->e->store;
	uint8_t kb[8];
	sg__be64_put(kb, c->pend[g0].rhash);
	MDB_val k = sg__val(kb, 8), v;
	int rc = mdb_get(txn, st->sendrcpt, &k, &v);
	bool stored = rc == 0;
	if (rc && rc != MDB_NOTFOUND)
		return sg__store_err(rc);
	for (size_t i = g0; i < g1; i++) {
		pending *p = &c->pend[i];
		if (!p->id_hash)
			continue;
		for (size_t j = g0; j < i && p->dup_of == SIZE_MAX; j++)
			if (c->pend[j].dup_of == SIZE_MAX && c->pend[j].id_hash == p->id_hash &&
			    llabs(c->pend[j].at - p->at) <= SG__SENDS_DEDUP_US)
				p->dup_of = c->pend[j].idx;
		if (p->dup_of != SIZE_MAX || !stored)
			continue;
		sg__rlist l;
		int64_t sec;
		uint64_t ord;
		uint16_t id16, want = sg__id16(p->id_hash);
		int64_t lo = (p->at - SG__SENDS_DEDUP_US) / 1000000 - 1, hi = (p->at + SG__SENDS_DEDUP_US) / 1000000 + 1;
		sg__rlist_open(&l, v.mv_data, v.mv_size);
		while ((rc = sg__rlist_next(&l, &sec, &ord, &id16)) == 1) {
			if (id16 != want || sec < lo || sec > hi)
				continue;
			sg__send_rec r;
			int g = sg__sends_get(st, txn, ord, &r);
			if (g < 0 && g != SG_ENOTFOUND)
				return g;
			if (g == 0 && r.id_hash == p->id_hash && !strcmp(r.rcpt, c->in[p->idx].recipient)) {
				c->out[p->idx].duplicate = true;
				c->out[p->idx].ordinal = ord;
				p->dup_of = p->idx; /* of a stored send: the ordinal is set */
				break;
			}
		}
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* The group's new sends appended to the recipient's list. */
static int append_group(rec_ctx *c, MDB_txn *txn, size_t g0, size_t g1)
{
	sg__store *st = &c->e->store;
	size_t add = 0;
	for (size_t i = g0; i < g1; i++)
		add += c->pend[i].dup_of == SIZE_MAX;
	if (!add)
		return 0;
	uint8_t kb[8];
	sg__be64_put(kb, c->pend[g0].rhash);
	MDB_val k = sg__val(kb, 8), v = {0};
	int rc = mdb_get(txn, st->sendrcpt, &k, &v);
	if (rc && rc != MDB_NOTFOUND)
		return sg__store_err(rc);
	size_t need = v.mv_size + add * SG__RLIST_ENTRY_MAX;
	if (need > c->lcap) {
		uint8_t *nb = realloc(c->lbuf, need);
		if (!nb)
			return -ENOMEM;
		c->lbuf = nb;
		c->lcap = need;
	}
	int64_t sec = 0;
	uint64_t ord = 0;
	uint16_t id16;
	sg__rlist l;
	sg__rlist_open(&l, v.mv_data, v.mv_size);
	while ((rc = sg__rlist_next(&l, &sec, &ord, &id16)) == 1)
		;
	if (rc < 0)
		return rc;
	if (v.mv_size)
		memcpy(c->lbuf, v.mv_data, v.mv_size);
	size_t len = v.mv_size;
	for (size_t i = g0; i < g1; i++) {
		const pending *p = &c->pend[i];
		if (p->dup_of != SIZE_MAX)
			continue;
		len += sg__rlist_put(c->lbuf + len, &sec, &ord, p->at / 1000000, c->out[p->idx].ordinal,
				     sg__id16(p->id_hash));
	}
	MDB_val nv = sg__val(c->lbuf, len);
	return sg__store_err(mdb_put(txn, st->sendrcpt, &k, &nv, 0));
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

/* In batch order: ordinals for the sends that are not duplicates, and the
 * blocks that hold them. */
static int encode_blocks(rec_ctx *c, MDB_txn *txn, uint64_t *next, uint64_t *count)
{
	uint64_t block_first = *next;
	unsigned in_block = 0;
	int64_t base = 0, min_at = 0, max_at = 0;
	/* the senders' campaigns, resolved once per sender in the batch */
	struct {
		const char *sender;
		char campaign[64];
	} seen[16];
	unsigned nseen = 0, next_slot = 0;
	sg__scopes sc;
	int rc;
	if (senc_reserve(&c->enc, 64))
		return -ENOMEM;
	senc_reset(&c->enc);
	for (size_t i = 0; i < c->n; i++) {
		const sg_send_in *s = &c->in[i];
		sg_send_out *o = &c->out[i];
		if (o->status || c->by_idx[i] == SIZE_MAX)
			continue;
		const pending *p = &c->pend[c->by_idx[i]];
		if (p->dup_of != SIZE_MAX) {
			if (!o->duplicate) { /* of an earlier send of this batch */
				o->duplicate = true;
				o->ordinal = c->out[p->dup_of].ordinal;
			}
			continue;
		}
		const char *campaign = s->campaign;
		if (!campaign) {
			for (unsigned k = 0; k < nseen && !campaign; k++)
				if (!strcmp(seen[k].sender, s->sender))
					campaign = seen[k].campaign;
			if (!campaign) {
				if ((rc = sg__scopes_resolve(c->e, txn, s->sender, &sc)))
					return rc;
				unsigned k = nseen < 16 ? nseen++ : next_slot++ % 16;
				seen[k].sender = s->sender;
				sg__strlcpy(seen[k].campaign, sc.campaign, sizeof(seen[k].campaign));
				campaign = seen[k].campaign;
			}
		}
		if (in_block == SG__SENDS_BLOCK_MAX) {
			if ((rc = put_block(c, txn, block_first, in_block, base, min_at, max_at)))
				return rc;
			senc_reset(&c->enc);
			block_first = *next;
			in_block = 0;
		}
		if (!in_block) {
			base = min_at = max_at = p->at;
			c->enc.prev_at = p->at;
		}
		if ((rc = senc_add(&c->enc, s, campaign, p->at, p->id_hash)))
			return rc;
		if (p->at < min_at)
			min_at = p->at;
		if (p->at > max_at)
			max_at = p->at;
		o->ordinal = (*next)++;
		in_block++;
		(*count)++;
	}
	return in_block ? put_block(c, txn, block_first, in_block, base, min_at, max_at) : 0;
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
	uint64_t batch_first = next;
	/* this function runs again after a map growth: start over */
	c->npend = 0;
	for (size_t i = 0; i < c->n; i++) {
		sg_send_out *o = &c->out[i];
		*o = (sg_send_out){0};
		c->by_idx[i] = SIZE_MAX;
		if ((o->status = validate(&c->in[i], c->now)))
			continue;
		const sg_send_in *s = &c->in[i];
		uint64_t id_hash = s->id && s->id[0] ? sg__sends_hash64(s->id, strlen(s->id)) : 0;
		if (s->id && s->id[0] && !id_hash)
			id_hash = 1;
		c->pend[c->npend++] = (pending){.rhash = sg__sends_hash64(s->recipient, strlen(s->recipient)),
						.id_hash = id_hash, .at = s->at_us ? s->at_us : c->now, .idx = i,
						.dup_of = SIZE_MAX};
	}
	/* by recipient: each list is read and written once, in key order */
	qsort(c->pend, c->npend, sizeof(*c->pend), by_recipient);
	for (size_t i = 0; i < c->npend; i++)
		c->by_idx[c->pend[i].idx] = i;
	for (size_t g0 = 0, g1; g0 < c->npend; g0 = g1) {
		for (g1 = g0 + 1; g1 < c->npend && c->pend[g1].rhash == c->pend[g0].rhash; g1++)
			;
		if ((rc = dedup_group(c, txn, g0, g1)))
			return rc;
	}
	if ((rc = encode_blocks(c, txn, &next, &count)))
		return rc;
	for (size_t g0 = 0, g1; g0 < c->npend; g0 = g1) {
		for (g1 = g0 + 1; g1 < c->npend && c->pend[g1].rhash == c->pend[g0].rhash; g1++)
			;
		if ((rc = append_group(c, txn, g0, g1)))
			return rc;
	}
	c->next_after = next;
	if (next != batch_first &&
	    ((rc = sg__meta_put_u64(st, txn, "send_next", next)) || (rc = sg__meta_put_u64(st, txn, "send_count", count))))
		return rc;
	return 0;
}

int sg_sends_record(sg_engine *e, const sg_send_in *sends, size_t n, sg_send_out *out)
{
	int rc = e->rdonly ? SG_ERDONLY : n > SG_SENDS_BATCH_MAX ? -E2BIG : 0;
	/* one layout so far: every send's `size` is exactly this library's */
	for (size_t i = 0; !rc && i < n; i++)
		if (sends[i].size != sizeof(sg_send_in))
			rc = -EINVAL;
	if (rc || !n) {
		for (size_t i = 0; i < n && n <= SG_SENDS_BATCH_MAX; i++)
			out[i] = (sg_send_out){.status = rc};
		return rc;
	}
	rec_ctx c = {.e = e, .in = sends, .n = n, .out = out, .now = sg_now_us()};
	c.pend = malloc(n * sizeof(*c.pend));
	c.by_idx = malloc(n * sizeof(*c.by_idx));
	rc = c.pend && c.by_idx ? sg__store_write(&e->store, record_txn, &c) : -ENOMEM;
	free(c.pend);
	free(c.by_idx);
	free(c.enc.buf);
	free(c.lbuf);
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
