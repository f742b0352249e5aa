/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The suppression list: every (scope, recipient) pair opted out now, read
 * from the recipients DB in short snapshots. Each snapshot copies up to
 * CHUNK_PAIRS pairs (whole recipients only) and ends before the callbacks
 * run, so no snapshot is held across the caller's work and the callback may
 * use the engine.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "store/store.h"
#include "internal.h"
#include "store/consent.h"
#include "store/suppression.h"

#define CHUNK_PAIRS 1024

typedef struct pair {
	char rcpt[SG_KEY_MAX];
	sg__entry en;
} pair;

/* What blocks one campaign: its id, its brand, the senders attached to it
 * and their groups (sorted for bsearch). */
typedef struct blockers {
	const char *campaign;
	char brand[64];
	char (*senders)[SG_KEY_MAX];
	size_t nsenders;
	char (*groups)[64];
	size_t ngroups;
} blockers;

static int cmp_key(const void *a, const void *b)
{
	return strcmp(a, b);
}

static int add_name(void **arr, size_t *n, size_t *cap, size_t width, const char *s)
{
	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 64;
		void *na = realloc(*arr, nc * width);
		if (!na)
			return -ENOMEM;
		*arr = na;
		*cap = nc;
	}
	sg__strlcpy((char *)*arr + *n * width, s, width);
	(*n)++;
	return 0;
}

/* Scan the senders DB (sender key -> campaign NUL group NUL) and read the
 * campaign's brand from its record header (registry.c: u8 format 1, u8
 * flags, u8 scope, u8 brand length, brand). */
static int blockers_load(sg_engine *e, MDB_txn *txn, const char *campaign, blockers *b)
{
	MDB_cursor *cur;
	MDB_val k = sg__val(campaign, strlen(campaign)), v;
	size_t scap = 0, gcap = 0;
	b->campaign = campaign;
	int rc = mdb_get(txn, e->store.campaigns, &k, &v);
	if (!rc) {
		const uint8_t *h = v.mv_data;
		if (v.mv_size < 4 || h[0] != 1 || v.mv_size < 4u + h[3] || h[3] >= sizeof(b->brand))
			return SG_ECORRUPT;
		memcpy(b->brand, h + 4, h[3]);
		b->brand[h[3]] = '\0';
	} else if (rc != MDB_NOTFOUND) {
		return sg__store_err(rc);
	}
	if ((rc = mdb_cursor_open(txn, e->store.senders, &cur)))
		return sg__store_err(rc);
	rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
	for (; !rc; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		const char *p = v.mv_data, *nul = memchr(p, '\0', v.mv_size);
		char key[SG_KEY_MAX];
		if (!nul || nul + 1 >= p + v.mv_size || k.mv_size >= sizeof(key)) {
			rc = SG_ECORRUPT;
			break;
		}
		if (strcmp(p, campaign))
			continue;
		memcpy(key, k.mv_data, k.mv_size);
		key[k.mv_size] = '\0';
		if ((rc = add_name((void **)&b->senders, &b->nsenders, &scap, SG_KEY_MAX, key)))
			break;
		if (nul[1] && (rc = add_name((void **)&b->groups, &b->ngroups, &gcap, 64, nul + 1)))
			break;
	}
	mdb_cursor_close(cur);
	if (rc == MDB_NOTFOUND)
		rc = 0;
	if (rc)
		return sg__store_err(rc);
	if (b->nsenders)
		qsort(b->senders, b->nsenders, SG_KEY_MAX, cmp_key);
	if (b->ngroups)
		qsort(b->groups, b->ngroups, 64, cmp_key);
	return 0;
}

static bool blocks(const blockers *b, const sg__entry *en)
{
	if (!b)
		return true;
	switch (en->scope) {
	case SG_SCOPE_GLOBAL:
		return true;
	case SG_SCOPE_CAMPAIGN:
		return !strcmp(en->id, b->campaign);
	case SG_SCOPE_BRAND:
		return b->brand[0] && !strcmp(en->id, b->brand);
	case SG_SCOPE_SENDER:
		return b->nsenders && bsearch(en->id, b->senders, b->nsenders, SG_KEY_MAX, cmp_key);
	case SG_SCOPE_GROUP:
		return b->ngroups && en->id[0] && bsearch(en->id, b->groups, b->ngroups, 64, cmp_key);
	default:
		return false;
	}
}

/* Copy the pairs of the next few recipients after resume[] (exclusive,
 * "" = from the start) into out, their number into *count; advance resume;
 * *done when the DB ends. */
static int read_chunk(sg_engine *e, const blockers *b, char resume[SG_KEY_MAX], pair *out, sg__rcpt *r,
		      size_t *count, bool *done)
{
	MDB_txn *txn;
	MDB_cursor *cur = NULL;
	size_t n = 0;
	int rc = sg__rd_begin(&e->store, &txn);
	if (rc)
		return rc;
	MDB_val k = sg__val(resume, strlen(resume)), v;
	rc = mdb_cursor_open(txn, e->store.recipients, &cur);
	if (!rc)
		rc = mdb_cursor_get(cur, &k, &v, resume[0] ? MDB_SET_RANGE : MDB_FIRST);
	if (!rc && resume[0] && k.mv_size == strlen(resume) && !memcmp(k.mv_data, resume, k.mv_size))
		rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	while (!rc && n + SG__RCPT_MAX_ENTRIES <= CHUNK_PAIRS) {
		if (k.mv_size >= SG_KEY_MAX) {
			rc = SG_ECORRUPT;
			break;
		}
		if ((rc = sg__rcpt_decode(v.mv_data, v.mv_size, r)))
			break;
		memcpy(resume, k.mv_data, k.mv_size);
		resume[k.mv_size] = '\0';
		for (unsigned i = 0; i < r->count; i++) {
			const sg__entry *en = &r->entries[i];
			if (en->type != SG__ENTRY_CONSENT || en->state != SG_STATE_OPTED_OUT || !blocks(b, en))
				continue;
			memcpy(out[n].rcpt, resume, k.mv_size + 1);
			out[n++].en = *en;
		}
		rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	}
	*done = rc == MDB_NOTFOUND;
	if (rc == MDB_NOTFOUND)
		rc = 0;
	mdb_cursor_close(cur);
	sg__rd_end(&e->store, txn);
	if (rc)
		return sg__store_err(rc);
	*count = n;
	return 0;
}

struct sg__optouts_iter {
	sg_engine *e;
	bool by_campaign;
	bool done;
	blockers b;
	char resume[SG_KEY_MAX];
	pair *pairs;
	sg__rcpt *r;
};

void sg__optouts_close(sg__optouts_iter *it)
{
	if (!it)
		return;
	free(it->b.senders);
	free(it->b.groups);
	free(it->pairs);
	free(it->r);
	free(it);
}

int sg__optouts_open(sg_engine *e, const char *campaign_id, sg__optouts_iter **ret)
{
	sg__optouts_iter *it = calloc(1, sizeof(*it));
	*ret = NULL;
	if (!it)
		return -ENOMEM;
	it->e = e;
	it->pairs = malloc(CHUNK_PAIRS * sizeof(*it->pairs));
	it->r = malloc(sizeof(*it->r));
	int rc = it->pairs && it->r ? 0 : -ENOMEM;
	if (!rc && campaign_id) {
		it->by_campaign = true;
		MDB_txn *txn;
		if (!(rc = sg__rd_begin(&e->store, &txn))) {
			rc = blockers_load(e, txn, campaign_id, &it->b);
			sg__rd_end(&e->store, txn);
		}
	}
	if (rc) {
		sg__optouts_close(it);
		return rc;
	}
	*ret = it;
	return 0;
}

int sg__optouts_step(sg__optouts_iter *it, sg_optout_cb cb, void *ctx, bool *done)
{
	size_t n = 0;
	int rc = it->done ? 0 : read_chunk(it->e, it->by_campaign ? &it->b : NULL, it->resume, it->pairs, it->r, &n,
					   &it->done);
	for (size_t i = 0; !rc && i < n; i++) {
		const sg__entry *en = &it->pairs[i].en;
		sg_scope_state st = {.scope = en->scope, .scope_id = en->id, .state = en->state,
				     .since_us = en->since_us,
				     .event_time_us = en->latest_seq ? en->first_event_time_us : en->event_time_us,
				     .latest_us = en->latest_us ? en->latest_us : en->since_us,
				     .latest_seq = en->latest_seq ? en->latest_seq : en->seq,
				     .seq = en->seq, .source = en->source};
		rc = cb(it->pairs[i].rcpt, &st, ctx);
	}
	*done = it->done;
	return rc;
}

int sg_optouts_foreach(sg_engine *e, const char *campaign_id, sg_optout_cb cb, void *ctx)
{
	sg__optouts_iter *it;
	int rc = sg__optouts_open(e, campaign_id, &it);
	for (bool done = false; !rc && !done;)
		rc = sg__optouts_step(it, cb, ctx, &done);
	sg__optouts_close(it);
	return rc;
}
