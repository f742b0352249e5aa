/* SPDX-License-Identifier: Apache-2.0 */
/* The send ledger against its seals in the consent log (part of
 * sg_verify): the blocks from the first one retention kept are chained
 * from the seal before them, every seal's hash must come out at its last
 * send, no block may be missing between them, and no sealed send may be
 * missing at the end. Sends after the last seal are not covered. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <openssl/evp.h>

#include "engine.h"
#include "internal.h"
#include "store/sends.h"
#include "store/store.h"

static void fail(bool *ok, uint64_t *bad_seq, char *why, size_t n, uint64_t seq, const char *fmt, uint64_t a,
		 uint64_t b)
{
	*ok = false;
	*bad_seq = seq;
	snprintf(why, n, fmt, a, b);
}

/* Every entry of every recipient's list. */
static int count_listed(sg__store *st, MDB_txn *txn, uint64_t *n)
{
	MDB_cursor *cur;
	MDB_val k, v;
	int rc = sg__store_err(mdb_cursor_open(txn, st->sendrcpt, &cur));
	if (rc)
		return rc;
	int g = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
	while (!g && !rc) {
		sg__rlist l;
		int64_t sec;
		uint64_t ord;
		uint16_t id16;
		sg__rlist_open(&l, v.mv_data, v.mv_size);
		while ((rc = sg__rlist_next(&l, &sec, &ord, &id16)) == 1)
			++*n;
		g = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(cur);
	if (rc)
		return rc == SG_ECORRUPT ? 0 : rc; /* a list that does not decode: the counts differ */
	return g == MDB_NOTFOUND ? 0 : sg__store_err(g);
}

int sg__sends_verify(sg_engine *e, const sg__sends_mark *marks, size_t n, bool *ok, uint64_t *bad_seq, char *why,
		     size_t why_len)
{
	sg__store *st = &e->store;
	*ok = true;
	uint64_t first_kept = 1, prune_seq = 0;
	for (size_t i = 0; i < n; i++)
		if (marks[i].prune && marks[i].first_kept > first_kept) {
			first_kept = marks[i].first_kept;
			prune_seq = marks[i].seq;
		}
	/* The chain starts at zero, or at the seal that ends just before the
	 * first send kept. */
	uint8_t h[32] = {0};
	size_t m = 0; /* the next seal to meet */
	if (first_kept > 1) {
		bool found = false;
		for (size_t i = 0; i < n; i++)
			if (!marks[i].prune && marks[i].last == first_kept - 1) {
				memcpy(h, marks[i].hash, 32);
				found = true;
			}
		if (!found) {
			fail(ok, bad_seq, why, why_len, prune_seq,
			     "send ledger: retention kept sends from %" PRIu64 " but no seal ends at %" PRIu64, first_kept,
			     first_kept - 1);
			return 0;
		}
	}
	while (m < n && (marks[m].prune || marks[m].last < first_kept))
		m++;
	if (st->no_sends) {
		if (m < n)
			fail(ok, bad_seq, why, why_len, marks[m].seq,
			     "send ledger: sends %" PRIu64 "-%" PRIu64 " are sealed but this store holds no ledger",
			     marks[m].first, marks[m].last);
		return 0;
	}
	MDB_txn *txn;
	MDB_cursor *cur = NULL;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	if (!md)
		return -ENOMEM;
	int rc = sg__rd_begin(st, &txn);
	if (rc) {
		EVP_MD_CTX_free(md);
		return rc;
	}
	uint64_t expect = first_kept, sends = 0;
	MDB_val k, v;
	rc = sg__store_err(mdb_cursor_open(txn, st->sends, &cur));
	int g = rc ? MDB_NOTFOUND : mdb_cursor_get(cur, &k, &v, MDB_FIRST);
	while (!rc && !g && *ok) {
		uint64_t first = k.mv_size == 8 ? sg__be64_get(k.mv_data) : 0;
		sg__send_dec d;
		sg__send_rec r;
		uint64_t seal_seq = m < n ? marks[m].seq : 0;
		if (first != expect) {
			fail(ok, bad_seq, why, why_len, seal_seq,
			     first > expect ? "send ledger: sends %" PRIu64 "-%" PRIu64 " missing"
					    : "send ledger: block %" PRIu64 " out of order (expected %" PRIu64 ")",
			     first > expect ? expect : first, first > expect ? first - 1 : expect);
			break;
		}
		int dr = sg__send_dec_open(&d, first, v.mv_data, v.mv_size);
		uint64_t count = dr ? 0 : d.left;
		if (!dr)
			while ((dr = sg__send_dec_next(&d, &r)) == 1)
				;
		if (dr) {
			fail(ok, bad_seq, why, why_len, seal_seq, "send ledger: the block of sends %" PRIu64 "-%" PRIu64 " does not decode",
			     first, first + count);
			break;
		}
		unsigned hn = 0;
		if (!EVP_DigestInit_ex(md, EVP_sha256(), NULL) || !EVP_DigestUpdate(md, h, 32) ||
		    !EVP_DigestUpdate(md, k.mv_data, 8) || !EVP_DigestUpdate(md, v.mv_data, v.mv_size) ||
		    !EVP_DigestFinal_ex(md, h, &hn)) {
			rc = -ENOMEM;
			break;
		}
		uint64_t last = first + count - 1;
		sends += count;
		while (m < n && *ok && !marks[m].prune && marks[m].last <= last) {
			if (marks[m].last != last)
				fail(ok, bad_seq, why, why_len, marks[m].seq,
				     "send ledger: the seal of sends up to %" PRIu64 " ends inside a block (at %" PRIu64 ")",
				     marks[m].last, last);
			else if (memcmp(marks[m].hash, h, 32))
				fail(ok, bad_seq, why, why_len, marks[m].seq,
				     "send ledger: sends %" PRIu64 "-%" PRIu64 " do not match their seal (altered or removed)",
				     marks[m].first, marks[m].last);
			m++;
			while (m < n && marks[m].prune)
				m++;
		}
		expect = last + 1;
		g = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	}
	if (!rc && *ok && g && g != MDB_NOTFOUND)
		rc = sg__store_err(g);
	while (!rc && *ok && m < n && marks[m].prune)
		m++;
	if (!rc && *ok && m < n)
		fail(ok, bad_seq, why, why_len, marks[m].seq, "send ledger: sealed sends %" PRIu64 "-%" PRIu64 " missing",
		     expect, marks[m].last);
	if (!rc && *ok) {
		uint64_t count = 0;
		rc = sg__meta_get_u64(st, txn, "send_count", &count);
		uint64_t listed = 0;
		if (!rc)
			rc = count_listed(st, txn, &listed);
		if (!rc && (listed != sends || count != sends))
			fail(ok, bad_seq, why, why_len, 0,
			     "send ledger: the recipient lists hold %" PRIu64 " sends, the blocks %" PRIu64, listed, sends);
	}
	mdb_cursor_close(cur);
	sg__rd_end(st, txn);
	EVP_MD_CTX_free(md);
	return rc;
}
