/* SPDX-License-Identifier: Apache-2.0 */
/* Reading the send ledger: one send by ordinal, a time range in ledger
 * order (a block per snapshot, none held while the callback runs), a
 * recipient's sends through the index, and the ledger's counters. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "internal.h"
#include "store/sends.h"
#include "store/store.h"

/* The block holding ordinal: positioned cursor values in *k, *v. */
static int block_of(sg__store *st, MDB_cursor *cur, uint64_t ordinal, MDB_val *k, MDB_val *v)
{
	uint8_t kb[8];
	sg__be64_put(kb, ordinal);
	*k = sg__val(kb, 8);
	int rc = mdb_cursor_get(cur, k, v, MDB_SET_RANGE);
	if (rc == MDB_NOTFOUND || (!rc && sg__be64_get(k->mv_data) > ordinal))
		rc = mdb_cursor_get(cur, k, v, rc == MDB_NOTFOUND ? MDB_LAST : MDB_PREV);
	(void)st;
	if (rc == MDB_NOTFOUND)
		return SG_ENOTFOUND;
	if (rc)
		return sg__store_err(rc);
	return k->mv_size == 8 ? 0 : SG_ECORRUPT;
}

int sg__sends_get(sg__store *st, MDB_txn *txn, uint64_t ordinal, sg__send_rec *out)
{
	if (st->no_sends)
		return SG_ENOTFOUND;
	MDB_cursor *cur;
	MDB_val k, v;
	int rc = sg__store_err(mdb_cursor_open(txn, st->sends, &cur));
	if (rc)
		return rc;
	rc = block_of(st, cur, ordinal, &k, &v);
	sg__send_dec d;
	if (!rc)
		rc = sg__send_dec_open(&d, sg__be64_get(k.mv_data), v.mv_data, v.mv_size);
	while (!rc) {
		rc = sg__send_dec_next(&d, out);
		if (rc == 1 && out->ordinal == ordinal)
			rc = 2;
		else if (rc == 1)
			rc = 0;
		else if (rc == 0)
			rc = SG_ENOTFOUND;
	}
	mdb_cursor_close(cur);
	return rc == 2 ? 0 : rc;
}

/* The public view of a decoded send, its strings copied into buf. */
typedef struct send_copy {
	sg_send s;
	char sender[SG_KEY_MAX], recipient[SG_KEY_MAX], campaign[64];
} send_copy;

static void to_public(const sg__send_rec *r, send_copy *c)
{
	size_t n = r->sender_len < sizeof(c->sender) ? r->sender_len : sizeof(c->sender) - 1;
	memcpy(c->sender, r->sender, n);
	c->sender[n] = '\0';
	n = r->campaign_len < sizeof(c->campaign) ? r->campaign_len : sizeof(c->campaign) - 1;
	memcpy(c->campaign, r->campaign, n);
	c->campaign[n] = '\0';
	sg__strlcpy(c->recipient, r->rcpt, sizeof(c->recipient));
	c->s = (sg_send){.ordinal = r->ordinal, .at_us = r->at_us, .sender = c->sender, .recipient = c->recipient,
			 .campaign = c->campaign, .category = r->category, .source = r->source, .id_hash = r->id_hash};
}

int sg_sends_read(sg_engine *e, int64_t since_us, int64_t until_us, sg_send_cb cb, void *ctx)
{
	uint64_t from = 0;
	int rc;
	do
		rc = sg__sends_read_from(e, &from, 0, since_us, until_us, cb, ctx);
	while (!rc && from);
	return rc;
}

int sg__sends_read_from(sg_engine *e, uint64_t *resume, unsigned max_blocks, int64_t since_us, int64_t until_us,
			sg_send_cb cb, void *ctx)
{
	sg__store *st = &e->store;
	uint64_t from = *resume;
	*resume = 0;
	if (st->no_sends)
		return 0;
	uint8_t *copy = NULL;
	size_t cap = 0;
	int rc = 0, cbrc = 0;
	for (unsigned blocks = 0;; blocks++) {
		if (max_blocks && blocks == max_blocks) {
			*resume = from;
			break;
		}
		MDB_txn *txn;
		MDB_cursor *cur;
		if ((rc = sg__rd_begin(st, &txn)))
			break;
		uint8_t kb[8];
		sg__be64_put(kb, from);
		MDB_val k = sg__val(kb, 8), v;
		rc = sg__store_err(mdb_cursor_open(txn, st->sends, &cur));
		int g = rc ? 0 : mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
		uint64_t first = 0;
		size_t len = 0;
		bool skip = false;
		if (!rc && !g) {
			first = sg__be64_get(k.mv_data);
			sg__send_dec d;
			rc = sg__send_dec_open(&d, first, v.mv_data, v.mv_size);
			skip = !rc && ((since_us && d.max_at < since_us) || (until_us && d.min_at >= until_us));
			if (!rc && !skip && v.mv_size > cap) {
				uint8_t *nb = realloc(copy, v.mv_size);
				rc = nb ? 0 : -ENOMEM;
				if (nb) {
					copy = nb;
					cap = v.mv_size;
				}
			}
			if (!rc && !skip) {
				memcpy(copy, v.mv_data, v.mv_size);
				len = v.mv_size;
			}
		}
		if (!rc && g && g != MDB_NOTFOUND)
			rc = sg__store_err(g);
		mdb_cursor_close(cur);
		sg__rd_end(st, txn);
		if (rc || g)
			break;
		from = first + 1;
		if (skip)
			continue;
		sg__send_dec d;
		sg__send_rec r;
		send_copy sc;
		if ((rc = sg__send_dec_open(&d, first, copy, len)))
			break;
		while ((rc = sg__send_dec_next(&d, &r)) == 1) {
			if ((since_us && r.at_us < since_us) || (until_us && r.at_us >= until_us))
				continue;
			to_public(&r, &sc);
			if ((cbrc = cb(&sc.s, ctx)))
				break;
		}
		if (cbrc || rc)
			break;
	}
	free(copy);
	return cbrc ? cbrc : rc;
}

static int by_time(const void *a, const void *b)
{
	const send_copy *x = a, *y = b;
	if (x->s.at_us != y->s.at_us)
		return x->s.at_us < y->s.at_us ? -1 : 1;
	return x->s.ordinal < y->s.ordinal ? -1 : x->s.ordinal > y->s.ordinal;
}

int sg_sends_for_pair(sg_engine *e, const char *sender_key, const char *recipient_key, int64_t after_us,
		      sg_send_cb cb, void *ctx)
{
	sg__store *st = &e->store;
	if (!recipient_key)
		return -EINVAL;
	if (st->no_sends)
		return 0;
	MDB_txn *txn;
	int rc = sg__rd_begin(st, &txn);
	if (rc)
		return rc;
	send_copy *found = NULL;
	size_t n = 0, cap = 0;
	uint8_t kb[8];
	sg__be64_put(kb, sg__sends_hash64(recipient_key, strlen(recipient_key)));
	MDB_val k = sg__val(kb, 8), v;
	int g = mdb_get(txn, st->sendrcpt, &k, &v);
	if (g && g != MDB_NOTFOUND)
		rc = sg__store_err(g);
	sg__rlist l;
	sg__rlist_open(&l, g ? NULL : v.mv_data, g ? 0 : v.mv_size);
	int64_t sec, after_sec = after_us > 0 ? after_us / 1000000 : 0;
	uint64_t ord;
	uint16_t id16;
	while (!rc && (rc = sg__rlist_next(&l, &sec, &ord, &id16)) == 1) {
		rc = 0;
		if (sec < after_sec)
			continue;
		sg__send_rec r;
		int gr = sg__sends_get(st, txn, ord, &r);
		if (gr && gr != SG_ENOTFOUND) {
			rc = gr;
			break;
		}
		if (!gr && !strcmp(r.rcpt, recipient_key) && r.at_us >= after_us &&
		    (!sender_key || (r.sender_len == strlen(sender_key) && !memcmp(r.sender, sender_key, r.sender_len)))) {
			if (n == cap) {
				size_t nc = cap ? cap * 2 : 16;
				send_copy *nf = realloc(found, nc * sizeof(*nf));
				if (!nf) {
					rc = -ENOMEM;
					break;
				}
				found = nf;
				cap = nc;
			}
			to_public(&r, &found[n++]);
		}
	}
	if (rc == 1)
		rc = 0;
	sg__rd_end(st, txn);
	int cbrc = 0;
	/* in time order (the list is in ledger order) */
	if (n > 1)
		qsort(found, n, sizeof(*found), by_time);
	for (size_t i = 0; !rc && !cbrc && i < n; i++) {
		/* the copies moved with realloc: point the strings again */
		send_copy *c = &found[i];
		c->s.sender = c->sender;
		c->s.recipient = c->recipient;
		c->s.campaign = c->campaign;
		cbrc = cb(&c->s, ctx);
	}
	free(found);
	return cbrc ? cbrc : rc;
}

int sg_sends_stats_get(sg_engine *e, sg_sends_stats *out)
{
	sg__store *st = &e->store;
	sg_sends_stats s = {.next = 1, .first_kept = 1};
	if (st->no_sends) {
		*out = s;
		return 0;
	}
	MDB_txn *txn;
	MDB_stat ms;
	int rc = sg__rd_begin(st, &txn);
	if (rc)
		return rc;
	uint64_t next = 0, first = 0;
	if (!(rc = sg__meta_get_u64(st, txn, "send_count", &s.sends)) &&
	    !(rc = sg__meta_get_u64(st, txn, "send_sealed", &s.sealed)) &&
	    !(rc = sg__meta_get_u64(st, txn, "send_next", &next)) &&
	    !(rc = sg__meta_get_u64(st, txn, "send_first", &first)) &&
	    !(rc = sg__store_err(mdb_stat(txn, st->sends, &ms)))) {
		s.blocks = ms.ms_entries;
		s.next = next ? next : 1;
		s.first_kept = first ? first : 1;
	}
	sg__rd_end(st, txn);
	if (!rc)
		*out = s;
	return rc;
}
