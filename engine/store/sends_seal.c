/* SPDX-License-Identifier: Apache-2.0 */
/* Sealing the send ledger into the consent log, and retention that keeps
 * the seals verifiable. Each runs as one SG_ACTION_SENDS event recorded
 * with its ledger change in the same write txn (sg__record_with). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>

#include "engine.h"
#include "internal.h"
#include "store/sends.h"
#include "store/store.h"

static int hex_get(const char *s, uint8_t out[32])
{
	for (int i = 0; i < 32; i++) {
		int hi = sg__hexval((unsigned char)s[2 * i]), lo = hi < 0 ? -1 : sg__hexval((unsigned char)s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -EINVAL;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return s[64] == '\0' || s[64] == ' ' ? 0 : -EINVAL;
}

int sg__sends_mark_parse(const char *rule, const char *note, sg__sends_mark *m)
{
	memset(m, 0, sizeof(*m));
	if (!rule || !note)
		return -EINVAL;
	uint64_t a, b;
	int pos = 0;
	if (!strcmp(rule, SG__RULE_SENDS_SEAL)) {
		if (sscanf(note, "sends=%" SCNu64 "-%" SCNu64 " hash=%n", &a, &b, &pos) != 2 || !pos || a == 0 || b < a)
			return -EINVAL;
		m->first = a;
		m->last = b;
		return hex_get(note + pos, m->hash);
	}
	if (!strcmp(rule, SG__RULE_SENDS_PRUNE)) {
		if (sscanf(note, "before_send=%" SCNu64, &a) != 1 || a == 0)
			return -EINVAL;
		m->prune = true;
		m->first_kept = a;
		return 0;
	}
	return -EINVAL;
}

/* ---- seal ---- */

typedef struct seal_ctx {
	uint64_t sealed, last;
	uint8_t hash[32];
	sg_engine *e;
} seal_ctx;

static int seal_apply(MDB_txn *txn, void *arg, const sg_event_out *out)
{
	seal_ctx *c = arg;
	sg__store *st = &c->e->store;
	uint64_t now_sealed;
	int rc = sg__meta_get_u64(st, txn, "send_sealed", &now_sealed);
	if (rc)
		return rc;
	if (now_sealed != c->sealed || out[0].status || !out[0].seq)
		return out[0].status ? out[0].status : -EAGAIN; /* sealed meanwhile: again */
	uint8_t kb[8], vb[48];
	sg__be64_put(kb, c->last);
	sg__be64_put(vb, c->sealed + 1);
	sg__be64_put(vb + 8, out[0].seq);
	memcpy(vb + 16, c->hash, 32);
	MDB_val k = sg__val(kb, 8), v = sg__val(vb, 48), hk = sg__val("send_chain", 10), hv = sg__val(c->hash, 32);
	if ((rc = sg__store_err(mdb_put(txn, st->sendseals, &k, &v, MDB_APPEND))) ||
	    (rc = sg__store_err(mdb_put(txn, st->meta, &hk, &hv, 0))))
		return rc;
	return sg__meta_put_u64(st, txn, "send_sealed", c->last);
}

/* The chain from the last seal over every block after it, in one snapshot. */
static int seal_prepare(sg_engine *e, seal_ctx *c)
{
	sg__store *st = &e->store;
	MDB_txn *txn;
	MDB_cursor *cur = NULL;
	int rc = sg__rd_begin(st, &txn);
	if (rc)
		return rc;
	uint64_t next = 0;
	memset(c->hash, 0, 32);
	rc = sg__meta_get_u64(st, txn, "send_sealed", &c->sealed);
	if (!rc)
		rc = sg__meta_get_u64(st, txn, "send_next", &next);
	MDB_val hk = sg__val("send_chain", 10), hv;
	if (!rc && c->sealed) {
		int g = mdb_get(txn, st->meta, &hk, &hv);
		rc = g ? sg__store_err(g) : hv.mv_size != 32 ? SG_ECORRUPT : 0;
		if (!rc)
			memcpy(c->hash, hv.mv_data, 32);
	}
	c->last = c->sealed;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	if (!rc && !md)
		rc = -ENOMEM;
	if (!rc && next > c->sealed + 1) {
		uint8_t kb[8];
		sg__be64_put(kb, c->sealed + 1);
		MDB_val k = sg__val(kb, 8), v;
		rc = sg__store_err(mdb_cursor_open(txn, st->sends, &cur));
		int g = rc ? 0 : mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
		if (!rc && (g || k.mv_size != 8 || sg__be64_get(k.mv_data) != c->sealed + 1))
			rc = g && g != MDB_NOTFOUND ? sg__store_err(g) : SG_ECORRUPT;
		while (!rc && !g) {
			sg__send_dec d;
			uint64_t first = sg__be64_get(k.mv_data);
			if (first != c->last + 1 || (rc = sg__send_dec_open(&d, first, v.mv_data, v.mv_size)))
				rc = rc ? rc : SG_ECORRUPT;
			unsigned n = 0;
			if (!EVP_DigestInit_ex(md, EVP_sha256(), NULL) || !EVP_DigestUpdate(md, c->hash, 32) ||
			    !EVP_DigestUpdate(md, k.mv_data, 8) || !EVP_DigestUpdate(md, v.mv_data, v.mv_size) ||
			    !EVP_DigestFinal_ex(md, c->hash, &n))
				rc = rc ? rc : -ENOMEM;
			if (rc)
				break;
			c->last = first + d.left - 1;
			g = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
		}
		if (!rc && g != MDB_NOTFOUND)
			rc = sg__store_err(g);
	}
	EVP_MD_CTX_free(md);
	mdb_cursor_close(cur);
	sg__rd_end(st, txn);
	return rc;
}

int sg_sends_seal(sg_engine *e, uint64_t *sealed)
{
	if (e->rdonly)
		return SG_ERDONLY;
	for (int attempt = 0; attempt < 4; attempt++) {
		seal_ctx c = {.e = e};
		int rc = seal_prepare(e, &c);
		if (rc)
			return rc;
		if (c.last == c.sealed) {
			if (sealed)
				*sealed = 0;
			return 0;
		}
		char hex[65], note[160];
		sg_hex32(c.hash, hex);
		snprintf(note, sizeof(note), "sends=%" PRIu64 "-%" PRIu64 " hash=%s", c.sealed + 1, c.last, hex);
		sg_event_in ev = {.size = sizeof ev, .action = SG_ACTION_SENDS, .source = SG_SOURCE_OPERATOR,
				  .scope = SG_SCOPE_GLOBAL, .rule = SG__RULE_SENDS_SEAL, .note = note};
		sg_event_out out;
		rc = sg__record_with(e, &ev, 1, &out, seal_apply, &c);
		if (rc == -EAGAIN)
			continue;
		if (!rc && sealed)
			*sealed = c.last - c.sealed;
		return rc;
	}
	return -EAGAIN;
}

/* ---- retention ---- */

typedef struct prune_ctx {
	sg_engine *e;
	uint64_t first_kept, new_first;
	uint64_t removed;
} prune_ctx;

/* Drop the entries before new_first from one recipient's list (nothing
 * when an earlier send of the same recipient already did). */
static int drop_entries(prune_ctx *c, MDB_txn *txn, uint64_t rhash)
{
	sg__store *st = &c->e->store;
	uint8_t kb[8];
	sg__be64_put(kb, rhash);
	MDB_val k = sg__val(kb, 8), v;
	int rc = mdb_get(txn, st->sendrcpt, &k, &v);
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc)
		return sg__store_err(rc);
	sg__rlist l;
	int64_t sec, psec = 0;
	uint64_t ord, pord = 0;
	uint16_t id16;
	size_t len = 0, dropped = 0;
	uint8_t *buf = malloc(v.mv_size + SG__RLIST_ENTRY_MAX);
	if (!buf)
		return -ENOMEM;
	sg__rlist_open(&l, v.mv_data, v.mv_size);
	while ((rc = sg__rlist_next(&l, &sec, &ord, &id16)) == 1) {
		if (ord < c->new_first)
			dropped++;
		else
			len += sg__rlist_put(buf + len, &psec, &pord, sec, ord, id16);
	}
	if (!rc && dropped) {
		MDB_val nv = sg__val(buf, len);
		rc = sg__store_err(len ? mdb_put(txn, st->sendrcpt, &k, &nv, 0) : mdb_del(txn, st->sendrcpt, &k, NULL));
	}
	free(buf);
	return rc;
}

/* Delete every block before new_first and its sends' list entries. */
static int prune_apply(MDB_txn *txn, void *arg, const sg_event_out *out)
{
	prune_ctx *c = arg;
	sg__store *st = &c->e->store;
	uint64_t cur_first, count;
	int rc = sg__meta_get_u64(st, txn, "send_first", &cur_first);
	if (!rc)
		rc = sg__meta_get_u64(st, txn, "send_count", &count);
	if (rc)
		return rc;
	if ((cur_first ? cur_first : 1) != c->first_kept || out[0].status)
		return out[0].status ? out[0].status : -EAGAIN;
	c->removed = 0;
	MDB_cursor *cur;
	if ((rc = sg__store_err(mdb_cursor_open(txn, st->sends, &cur))))
		return rc;
	MDB_val k, v;
	int g = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
	while (!g && k.mv_size == 8 && sg__be64_get(k.mv_data) < c->new_first) {
		sg__send_dec d;
		sg__send_rec r;
		if ((rc = sg__send_dec_open(&d, sg__be64_get(k.mv_data), v.mv_data, v.mv_size)))
			break;
		while ((rc = sg__send_dec_next(&d, &r)) == 1) {
			if ((rc = drop_entries(c, txn, sg__sends_hash64(r.rcpt, strlen(r.rcpt)))))
				break;
			c->removed++;
		}
		if (rc < 0)
			break;
		if ((g = mdb_cursor_del(cur, 0)))
			break;
		g = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(cur);
	if (rc < 0)
		return rc;
	if (g && g != MDB_NOTFOUND)
		return sg__store_err(g);
	/* the seals of the removed sends: the log keeps them */
	if ((rc = sg__store_err(mdb_cursor_open(txn, st->sendseals, &cur))))
		return rc;
	g = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
	while (!g && k.mv_size == 8 && sg__be64_get(k.mv_data) < c->new_first) {
		if ((g = mdb_cursor_del(cur, 0)))
			break;
		g = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(cur);
	if (g && g != MDB_NOTFOUND)
		return sg__store_err(g);
	if ((rc = sg__meta_put_u64(st, txn, "send_first", c->new_first)))
		return rc;
	return sg__meta_put_u64(st, txn, "send_count", count >= c->removed ? count - c->removed : 0);
}

/* Where retention may cut: after the last of the oldest whole seals whose
 * every block is older than before_us. */
static int prune_prepare(sg_engine *e, int64_t before_us, prune_ctx *c)
{
	sg__store *st = &e->store;
	MDB_txn *txn;
	MDB_cursor *sc = NULL, *bc = NULL;
	int rc = sg__rd_begin(st, &txn);
	if (rc)
		return rc;
	rc = sg__meta_get_u64(st, txn, "send_first", &c->first_kept);
	if (!c->first_kept)
		c->first_kept = 1;
	c->new_first = c->first_kept;
	if (!rc)
		rc = sg__store_err(mdb_cursor_open(txn, st->sendseals, &sc));
	if (!rc)
		rc = sg__store_err(mdb_cursor_open(txn, st->sends, &bc));
	MDB_val k, v;
	int g = rc ? MDB_NOTFOUND : mdb_cursor_get(sc, &k, &v, MDB_FIRST);
	while (!rc && !g) {
		if (k.mv_size != 8 || v.mv_size != 48) {
			rc = SG_ECORRUPT;
			break;
		}
		uint64_t last = sg__be64_get(k.mv_data), first = sg__be64_get(v.mv_data);
		if (first != c->new_first)
			break;
		bool old = true;
		uint8_t kb[8];
		sg__be64_put(kb, first);
		MDB_val bk = sg__val(kb, 8), bv;
		int b = mdb_cursor_get(bc, &bk, &bv, MDB_SET_RANGE);
		while (!b && old && sg__be64_get(bk.mv_data) <= last) {
			sg__send_dec d;
			if ((rc = sg__send_dec_open(&d, sg__be64_get(bk.mv_data), bv.mv_data, bv.mv_size)))
				break;
			old = d.max_at < before_us;
			b = mdb_cursor_get(bc, &bk, &bv, MDB_NEXT);
		}
		if (rc || !old)
			break;
		c->new_first = last + 1;
		g = mdb_cursor_get(sc, &k, &v, MDB_NEXT);
	}
	if (!rc && g && g != MDB_NOTFOUND)
		rc = sg__store_err(g);
	mdb_cursor_close(sc);
	mdb_cursor_close(bc);
	sg__rd_end(st, txn);
	return rc;
}

int sg_sends_prune(sg_engine *e, int64_t before_us, uint64_t *removed)
{
	if (e->rdonly)
		return SG_ERDONLY;
	if (before_us > sg_now_us())
		return -EINVAL;
	for (int attempt = 0; attempt < 4; attempt++) {
		prune_ctx c = {.e = e};
		int rc = prune_prepare(e, before_us, &c);
		if (rc)
			return rc;
		if (c.new_first == c.first_kept) {
			if (removed)
				*removed = 0;
			return 0;
		}
		char when[32], note[128];
		sg_time_format(before_us, when);
		snprintf(note, sizeof(note), "before_send=%" PRIu64 " before=%s", c.new_first, when);
		sg_event_in ev = {.size = sizeof ev, .action = SG_ACTION_SENDS, .source = SG_SOURCE_OPERATOR,
				  .scope = SG_SCOPE_GLOBAL, .rule = SG__RULE_SENDS_PRUNE, .note = note};
		sg_event_out out;
		rc = sg__record_with(e, &ev, 1, &out, prune_apply, &c);
		if (rc == -EAGAIN)
			continue;
		if (!rc && removed)
			*removed = c.removed;
		return rc;
	}
	return -EAGAIN;
}
