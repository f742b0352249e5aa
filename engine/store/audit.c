/* SPDX-License-Identifier: Apache-2.0 */
/* Reading the event log back: streaming reads, a person's history, the
 * head, store statistics and hash-chain verification. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>

#include "engine.h"
#include "store/store.h"
#include "internal.h"
#include "store/consent.h"
#include "store/event.h"
#include "store/event_value.h"
#include "store/sends.h"

#define SCRATCH (SG__EVENT_ENC_MAX + 64)


/* The seals and prunes of the send ledger met in the walk. */
typedef struct marks {
	sg__sends_mark *v;
	size_t n, cap;
} marks;

static int marks_add(marks *m, const MDB_val *k, const MDB_val *v, char *scratch)
{
	sg_event ev;
	sg__sends_mark mk;
	if (k->mv_size != 8 ||
	    sg__event_value_decode(sg__be64_get(k->mv_data), v->mv_data, v->mv_size, NULL, &ev, scratch, SCRATCH))
		return 1; /* the chain check reports it */
	if (sg__sends_mark_parse(ev.rule, ev.note, &mk))
		return 1;
	mk.seq = ev.seq;
	if (m->n == m->cap) {
		size_t nc = m->cap ? m->cap * 2 : 64;
		sg__sends_mark *nv = realloc(m->v, nc * sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		m->v = nv;
		m->cap = nc;
	}
	m->v[m->n++] = mk;
	return 0;
}

/* Decode one events value; body fields are left for the caller. prev:
 * the previous event's hash when the caller has it (NULL: read). */
static int decode_event(sg_engine *e, MDB_txn *txn, MDB_val *k, MDB_val *v, const uint8_t *prev, sg_event *ev,
			char *scratch)
{
	if (k->mv_size != 8)
		return SG_ECORRUPT;
	uint64_t seq = sg__be64_get(k->mv_data);
	int rc = sg__event_value_load(txn, e->store.events, seq, v->mv_data, v->mv_size, prev, ev, scratch, SCRATCH);
	if (rc)
		return rc;
	if (seq != ev->seq)
		return SG_ECORRUPT;
	return 0;
}

/* Decode one events value and attach its body (if not redacted). */
static int load_event(sg_engine *e, MDB_txn *txn, MDB_val *k, MDB_val *v, sg_event *ev, char *scratch)
{
	int rc = decode_event(e, txn, k, v, NULL, ev, scratch);
	if (rc)
		return rc;
	MDB_val b;
	rc = mdb_get(txn, e->store.bodies, k, &b);
	if (rc == MDB_NOTFOUND)
		return 0; /* inline (decoded), redacted, or there was none */
	if (rc)
		return sg__store_err(rc);
	ev->body = b.mv_data;
	ev->body_len = b.mv_size;
	return 0;
}

/* A cursor over the bodies DB kept in step with a walk over events in seq
 * order: a body costs a cursor step instead of a tree lookup. rc is the
 * cursor's state (0 positioned, MDB_NOTFOUND past the end). */
typedef struct body_walk {
	MDB_cursor *cur;
	MDB_val k, v;
	int rc;
} body_walk;

static int body_walk_open(sg_engine *e, MDB_txn *txn, uint64_t from_seq, body_walk *w)
{
	uint8_t key[8];
	sg__be64_put(key, from_seq);
	w->k = sg__val(key, 8);
	w->rc = mdb_cursor_open(txn, e->store.bodies, &w->cur);
	if (w->rc)
		return sg__store_err(w->rc);
	w->rc = mdb_cursor_get(w->cur, &w->k, &w->v, MDB_SET_RANGE);
	return w->rc && w->rc != MDB_NOTFOUND ? sg__store_err(w->rc) : 0;
}

/* Attach the body of ev (seq ascending between calls). */
static int body_walk_attach(body_walk *w, sg_event *ev)
{
	while (!w->rc && w->k.mv_size == 8 && sg__be64_get(w->k.mv_data) < ev->seq)
		w->rc = mdb_cursor_get(w->cur, &w->k, &w->v, MDB_NEXT);
	if (w->rc && w->rc != MDB_NOTFOUND)
		return sg__store_err(w->rc);
	if (w->rc || w->k.mv_size != 8 || sg__be64_get(w->k.mv_data) != ev->seq)
		return 0; /* inline (decoded), redacted, or there was none */
	ev->body = w->v.mv_data;
	ev->body_len = w->v.mv_size;
	return 0;
}

int sg_events_read(sg_engine *e, uint64_t from_seq, size_t max, sg_event_cb cb, void *ctx, uint64_t *next_seq)
{
	MDB_txn *txn;
	MDB_cursor *cur = NULL;
	body_walk bw = {0};
	char *scratch = malloc(SCRATCH);
	if (!scratch)
		return -ENOMEM;
	int rc = sg__rd_begin(&e->store, &txn), cbrc = 0;
	if (rc) {
		free(scratch);
		return rc;
	}
	uint64_t next = from_seq ? from_seq : 1;
	uint8_t key[8];
	sg__be64_put(key, next);
	MDB_val k = sg__val(key, 8), v;
	rc = body_walk_open(e, txn, next, &bw);
	if (!rc)
		rc = mdb_cursor_open(txn, e->store.events, &cur);
	if (!rc)
		rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	uint8_t prev[32];
	bool have_prev = false; /* the walk knows the previous event's hash after its first */
	for (size_t i = 0; i < max && !rc; i++) {
		sg_event ev;
		if ((rc = decode_event(e, txn, &k, &v, have_prev ? prev : NULL, &ev, scratch)) ||
		    (rc = body_walk_attach(&bw, &ev)))
			break;
		memcpy(prev, ev.hash, 32);
		have_prev = true;
		next = ev.seq + 1;
		if ((cbrc = cb(&ev, ctx)))
			break;
		rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	}
	if (rc == MDB_NOTFOUND)
		rc = 0;
	else
		rc = sg__store_err(rc);
	mdb_cursor_close(cur);
	mdb_cursor_close(bw.cur);
	sg__rd_end(&e->store, txn);
	free(scratch);
	if (next_seq)
		*next_seq = next;
	return cbrc ? cbrc : rc;
}

int sg_events_for_recipient(sg_engine *e, const char *recipient_key, sg_event_cb cb, void *ctx)
{
	MDB_txn *txn;
	MDB_cursor *cur = NULL;
	char *scratch = malloc(SCRATCH);
	if (!scratch)
		return -ENOMEM;
	int rc = sg__rd_begin(&e->store, &txn), cbrc = 0;
	if (rc) {
		free(scratch);
		return rc;
	}
	MDB_val k = sg__val(recipient_key, strlen(recipient_key)), v;
	rc = mdb_cursor_open(txn, e->store.byrcpt, &cur);
	if (!rc)
		rc = mdb_cursor_get(cur, &k, &v, MDB_SET_KEY);
	while (!rc) {
		MDB_val ek = v, ev_val;
		sg_event ev;
		rc = mdb_get(txn, e->store.events, &ek, &ev_val);
		if (rc)
			break;
		if ((rc = load_event(e, txn, &ek, &ev_val, &ev, scratch)) || (cbrc = cb(&ev, ctx)))
			break;
		rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT_DUP);
	}
	if (rc == MDB_NOTFOUND)
		rc = 0;
	else
		rc = sg__store_err(rc);
	mdb_cursor_close(cur);
	sg__rd_end(&e->store, txn);
	free(scratch);
	return cbrc ? cbrc : rc; /* the callback's own value, untranslated */
}

int sg_head(sg_engine *e, uint64_t *seq, uint8_t hash[32])
{
	MDB_txn *txn;
	int rc = sg__rd_begin(&e->store, &txn);
	if (rc)
		return rc;
	uint64_t s = 0;
	rc = sg__meta_get_u64(&e->store, txn, "seq", &s);
	MDB_val k = sg__val("head", 4), v;
	uint8_t h[32] = {0};
	if (!rc) {
		int g = mdb_get(txn, e->store.meta, &k, &v);
		if (!g && v.mv_size == 32)
			memcpy(h, v.mv_data, 32);
		else if (g != MDB_NOTFOUND)
			rc = g ? sg__store_err(g) : SG_ECORRUPT;
	}
	sg__rd_end(&e->store, txn);
	if (!rc) {
		*seq = s;
		memcpy(hash, h, 32);
	}
	return rc;
}

int sg_stats_get(sg_engine *e, sg_stats *out)
{
	MDB_txn *txn;
	MDB_stat ms;
	MDB_envinfo info;
	sg_stats s = {0};
	int rc = sg_head(e, &s.events, s.head_hash);
	if (rc || (rc = sg__rd_begin(&e->store, &txn)))
		return rc;
	rc = sg__meta_get_u64(&e->store, txn, "optouts", &s.opted_out);
	struct {
		MDB_dbi dbi;
		uint64_t *count;
	} counts[] = {{e->store.recipients, &s.recipients}, {e->store.senders, &s.senders},
		      {e->store.campaigns, &s.campaigns}, {e->store.dedup, &s.dedup_keys}};
	for (size_t i = 0; i < SG_ARRAY_SIZE(counts) && !rc; i++) {
		rc = sg__store_err(mdb_stat(txn, counts[i].dbi, &ms));
		*counts[i].count = ms.ms_entries;
	}
	if (!rc && !(rc = sg__store_err(mdb_env_info(e->store.env, &info)))) {
		mdb_env_stat(e->store.env, &ms);
		s.map_size = e->store.rdonly ? info.me_mapsize : e->store.map_size;
		s.map_used = (info.me_last_pgno + 1) * (size_t)ms.ms_psize;
	}
	sg__rd_end(&e->store, txn);
	if (!rc)
		*out = s;
	return rc;
}

static void broken(sg_verify_result *r, uint64_t seq, const char *why)
{
	r->ok = false;
	r->bad_seq = seq;
	sg__strlcpy(r->reason, why, sizeof(r->reason));
}

/* One SHA-256 for a whole walk: SHA256() looks the algorithm up again on
 * every call in OpenSSL 3, which costs more than hashing an event. */
typedef struct hasher {
	EVP_MD *md;
	EVP_MD_CTX *ctx;
} hasher;

static int hasher_init(hasher *h)
{
	h->md = EVP_MD_fetch(NULL, "SHA2-256", NULL);
	h->ctx = EVP_MD_CTX_new();
	return h->md && h->ctx ? 0 : -ENOMEM;
}

static void hasher_free(hasher *h)
{
	EVP_MD_CTX_free(h->ctx);
	EVP_MD_free(h->md);
}

static void hash_into(hasher *h, const void *data, size_t len, uint8_t out[32])
{
	unsigned n = 32;
	if (!EVP_DigestInit_ex2(h->ctx, h->md, NULL) || !EVP_DigestUpdate(h->ctx, data, len) ||
	    !EVP_DigestFinal_ex(h->ctx, out, &n))
		memset(out, 0, 32); /* cannot happen with a fetched SHA-256; fails the compare */
}

static uint64_t key_seq(const MDB_val *k)
{
	return k->mv_size == 8 ? sg__be64_get(k->mv_data) : 0;
}

/* The hash of the compact value v stored under seq, after prev: its
 * canonical encoding rebuilt into canon (32 + SG__EVENT_ENC_MAX). 1 when
 * the value does not decode. */
static int compact_hash(hasher *h, uint64_t seq, const MDB_val *v, const uint8_t prev[32], uint8_t *canon,
			char *scratch, sg__event_peek *pk, int *action, bool *inline_body, uint8_t out[32])
{
	sg_event ev;
	if (sg__event_value_decode(seq, v->mv_data, v->mv_size, prev, &ev, scratch, SCRATCH))
		return 1;
	long n = sg__event_encode(&ev, canon + 32, SG__EVENT_ENC_MAX);
	if (n < 0)
		return 1;
	memcpy(canon, prev, 32);
	hash_into(h, canon, 32 + (size_t)n, out);
	pk->seq = ev.seq;
	pk->hash = v->mv_data; /* the stored hash leads both forms */
	pk->prev_hash = NULL;
	pk->body_len = ev.body_len;
	memcpy(canon, ev.body_sha256, 32); /* kept past the strings' scratch */
	pk->body_sha256 = canon;
	*action = ev.action;
	*inline_body = ev.body != NULL;
	return 0;
}

/* Walk events and bodies side by side (both keyed by seq), so a body costs
 * a cursor step instead of a tree lookup per event. */
int sg_verify(sg_engine *e, sg_verify_result *result)
{
	MDB_txn *txn;
	MDB_cursor *cur = NULL, *bcur = NULL;
	sg_verify_result r = {.ok = true};
	uint8_t prev[32] = {0}, calc[32];
	hasher h = {0};
	marks mk = {0};
	char *scratch = malloc(SCRATCH);
	uint8_t *canon = malloc(32 + SG__EVENT_ENC_MAX);
	int rc = scratch && canon ? hasher_init(&h) : -ENOMEM;
	if (rc || (rc = sg__rd_begin(&e->store, &txn)))
		goto out_free;
	MDB_val k, v, bk, bv;
	int brc = mdb_cursor_open(txn, e->store.bodies, &bcur);
	if (!brc)
		brc = mdb_cursor_get(bcur, &bk, &bv, MDB_FIRST);
	rc = brc && brc != MDB_NOTFOUND ? brc : mdb_cursor_open(txn, e->store.events, &cur);
	if (!rc)
		rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
	while (!rc && r.ok) {
		uint64_t expect = r.count + 1;
		uint64_t kseq = key_seq(&k);
		sg__event_peek ev;
		int action = -1;
		bool inline_body = false;
		if (kseq != expect) {
			broken(&r, expect, kseq > expect ? "event missing (sequence gap)" : "sequence out of order");
		} else if (sg__event_value_is_compact(v.mv_data, v.mv_size)) {
			/* compact: the canonical encoding rebuilt from the stored
			 * fields, hashed after the walk's previous hash */
			/* its bytes are its content: one that does not decode was altered */
			if (compact_hash(&h, expect, &v, prev, canon, scratch, &ev, &action, &inline_body, calc))
				broken(&r, expect, "event content does not match its hash (the stored event does not decode)");
			else if (ev.seq != expect)
				broken(&r, expect, "event's own sequence differs from its position");
			else if (memcmp(calc, ev.hash, 32))
				broken(&r, expect, "event content does not match its hash");
		} else if (sg__event_peek_value(v.mv_data, v.mv_size, &ev)) {
			broken(&r, expect, "event record does not decode");
		} else if (ev.seq != expect) {
			broken(&r, expect, "event's own sequence differs from its position");
		} else if (memcmp(ev.prev_hash, prev, 32)) {
			broken(&r, expect, "previous-hash link does not match the preceding event");
		} else {
			hash_into(&h, (const uint8_t *)v.mv_data + 32, v.mv_size - 32, calc);
			if (memcmp(calc, ev.hash, 32))
				broken(&r, expect, "event content does not match its hash");
			else
				action = ((const uint8_t *)v.mv_data)[64 + 1 + 24]; /* format, seq, two times */
		}
		if (r.ok && action == SG_ACTION_SENDS) {
			int mrc = marks_add(&mk, &k, &v, scratch);
			if (mrc < 0) {
				rc = mrc;
				break;
			}
			if (mrc)
				broken(&r, expect, "send ledger seal does not parse");
		}
		if (r.ok && !brc && key_seq(&bk) < expect)
			broken(&r, key_seq(&bk), "message body without its event");
		if (r.ok && !brc && key_seq(&bk) == expect && inline_body)
			broken(&r, expect, "message body stored twice (inline and in the bodies table)");
		if (r.ok && !brc && key_seq(&bk) == expect) {
			hash_into(&h, bv.mv_data, bv.mv_size, calc);
			if (bv.mv_size != ev.body_len || memcmp(calc, ev.body_sha256, 32))
				broken(&r, expect, "message body does not match its digest");
			brc = mdb_cursor_get(bcur, &bk, &bv, MDB_NEXT);
			if (brc && brc != MDB_NOTFOUND) {
				rc = brc;
				break;
			}
		}
		if (!r.ok)
			break;
		memcpy(prev, ev.hash, 32);
		r.count++;
		rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	}
	if (rc == MDB_NOTFOUND)
		rc = 0;
	if (!rc && r.ok) {
		uint64_t seq = 0;
		MDB_val hk = sg__val("head", 4), hv;
		rc = sg__meta_get_u64(&e->store, txn, "seq", &seq);
		int g = mdb_get(txn, e->store.meta, &hk, &hv);
		if (!rc && seq != r.count)
			broken(&r, r.count + 1, "log ends before the recorded head (truncated tail)");
		else if (!rc && r.count && (g || hv.mv_size != 32 || memcmp(hv.mv_data, prev, 32)))
			broken(&r, r.count, "recorded head hash differs from the last event");
	}
	if (!rc && r.ok && !brc)
		broken(&r, key_seq(&bk), "message body without its event");
	memcpy(r.head_hash, prev, 32);
	mdb_cursor_close(cur);
	mdb_cursor_close(bcur);
	sg__rd_end(&e->store, txn);
	rc = sg__store_err(rc);
	if (!rc && r.ok) {
		bool ok = true;
		uint64_t bad = 0;
		char why[sizeof(r.reason)];
		rc = sg__sends_verify(e, mk.v, mk.n, &ok, &bad, why, sizeof(why));
		if (!rc && !ok)
			broken(&r, bad, why);
	}
out_free:
	free(mk.v);
	free(scratch);
	free(canon);
	hasher_free(&h);
	if (!rc)
		*result = r;
	return rc;
}

/* A copy of one recipient's record (empty when there is none), read in its
 * own snapshot. The caller frees *ret. */
static int rcpt_copy(sg_engine *e, const char *recipient_key, sg__rcpt **ret)
{
	MDB_txn *txn;
	sg__rcpt *r = malloc(sizeof(*r));
	if (!r)
		return -ENOMEM;
	int rc = sg__rd_begin(&e->store, &txn);
	if (rc) {
		free(r);
		return rc;
	}
	MDB_val k = sg__val(recipient_key, strlen(recipient_key)), v;
	rc = mdb_get(txn, e->store.recipients, &k, &v);
	if (!rc) {
		rc = sg__rcpt_decode(v.mv_data, v.mv_size, r);
	} else if (rc == MDB_NOTFOUND) {
		r->not_sms_capable = false;
		r->count = 0;
		rc = 0;
	} else {
		rc = sg__store_err(rc);
	}
	sg__rd_end(&e->store, txn);
	if (rc)
		free(r);
	else
		*ret = r;
	return rc;
}

int sg_recipient_flag_get(sg_engine *e, const char *recipient_key, sg_recipient_flag *out)
{
	sg__rcpt *r;
	int rc = rcpt_copy(e, recipient_key, &r);
	if (rc)
		return rc;
	memset(out, 0, sizeof(*out));
	if (r->not_sms_capable) {
		out->not_sms_capable = true;
		sg__strlcpy(out->code, r->flag_code, sizeof(out->code));
		sg__strlcpy(out->provider, r->flag_provider, sizeof(out->provider));
		out->since_us = r->flag_since_us;
		out->seq = r->flag_seq;
	}
	free(r);
	return 0;
}

int sg_consent_scopes(sg_engine *e, const char *recipient_key, sg_scope_cb cb, void *ctx)
{
	sg__rcpt *r;
	int rc = rcpt_copy(e, recipient_key, &r);
	if (rc)
		return rc;
	for (unsigned i = 0; !rc && i < r->count; i++) {
		const sg__entry *en = &r->entries[i];
		if (en->type != SG__ENTRY_CONSENT)
			continue;
		sg_scope_state st = {.scope = en->scope, .scope_id = en->id, .state = en->state,
				     .since_us = en->since_us, .event_time_us = en->latest_seq ? en->first_event_time_us : en->event_time_us,
				     .latest_us = en->latest_us ? en->latest_us : en->since_us,
				     .latest_seq = en->latest_seq ? en->latest_seq : en->seq,
				     .seq = en->seq, .source = en->source};
		rc = cb(&st, ctx);
	}
	free(r);
	return rc;
}
