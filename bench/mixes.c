/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_check, "mixes": sg_check against raw LMDB mdb_get on the same
 * queries, for four query mixes: 95/5 (no record / opted out), 50/50,
 * 100 % opted-out pairs (every check has a record), and "recipient known,
 * other sender" (a record exists, none for this sender's scopes). Each
 * round times the check and the floor on the same slice, in alternating
 * order, in thread CPU time (the machine is shared: time spent descheduled
 * is not counted); the ratio is the median of the per-round ratios.
 * Two floors: mdb_get in the store itself (the engine's env and its
 * recipients DB: the same tree the check reads; the goals' floor) and the
 * packed copy of floor_lmdb (every record appended in key order in an env
 * of its own: the tightest LMDB can be, shown for reference).
 */
#include <time.h>

#include "harness.h"
#include "engine.h" /* the engine's own LMDB env: the same-store floor */

static int64_t cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

query *other_sender_pool(size_t n)
{
	/* no record for this pair, but the recipient opted out of another
	 * sender: the recipient filter cannot answer */
	query *other = bench_xcalloc(n, sizeof(*other));
	bench_rng r = {opt.seed ^ 0x07e4};
	for (size_t i = 0; i < n; i++) {
		uint64_t p = bench_below(&r, opt.pairs);
		unsigned s;
		bool recorded;
		do {
			s = (unsigned)bench_below(&r, opt.senders);
			recorded = false;
			for (uint64_t j = p; j < opt.pairs && pair_r[j] == pair_r[p]; j++)
				recorded |= pair_s[j] == s;
			for (uint64_t j = p; j-- > 0 && pair_r[j] == pair_r[p];)
				recorded |= pair_s[j] == s;
		} while (recorded);
		memcpy(other[i].from, senders[s].s, 16);
		memcpy(other[i].to, rcpts[pair_r[p]].s, 15);
		other[i].deny = 0;
	}
	return other;
}

static double median(double *v, size_t n)
{
	return bench_quantile(v, n, 0.5);
}

void bench_mixes(sg_engine *e)
{
	size_t qn = opt.round_q;
	unsigned rounds = opt.quick ? 7 : 15;
	query *miss = subpool(0, qn), *hit = subpool(1, qn), *half = bench_xcalloc(qn, sizeof(*half));
	bench_rng r = {opt.seed ^ 0x5050};
	for (size_t i = 0; i < qn; i++)
		half[i] = bench_below(&r, 2) ? hit[i] : miss[i];
	struct {
		const char *key, *label;
		query *q;
		double want;
	} mixes[] = {
		{"mix_95_5", "95 % no record / 5 % opted out", pool, 1.3},
		{"mix_50_50", "50 % no record / 50 % opted out", half, 1.3},
		{"mix_records", "100 % opted out (check with a record)", hit, 1.0},
		{"mix_other", "recipient known, other sender", other_sender_pool(qn), 1.3},
	};
	check_ctx cc = {e};
	raw_ctx rc, sc = {.env = e->store.env, .dbi = e->store.recipients};
	raw_open(&rc);
	lmdb_check(mdb_txn_begin(sc.env, NULL, MDB_RDONLY, &sc.txn), "txn");
	mdb_txn_reset(sc.txn);
	double *rt = bench_xcalloc(rounds, sizeof(double)), *ct = bench_xcalloc(rounds, sizeof(double)),
	       *ft = bench_xcalloc(rounds, sizeof(double)), *pt = bench_xcalloc(rounds, sizeof(double)),
	       *rp = bench_xcalloc(rounds, sizeof(double));
	for (size_t m = 0; m < BENCH_ARRAY_SIZE(mixes); m++) {
		const query *q = mixes[m].q;
		/* the check must answer this mix's truth before it is timed */
		if (check_run(&cc, q, qn) != truth(q, qn))
			bench_die("mix %s: sg_check answered differently from the truth", mixes[m].key);
		raw_run(&rc, q, qn); /* warm-up */
		raw_run(&sc, q, qn);
		for (unsigned rd = 0; rd < rounds; rd++) {
			int64_t t[3] = {0};
			for (int pass = 0; pass < 3; pass++) {
				int which = (pass + (int)rd) % 3; /* 0 check, 1 same store, 2 packed copy */
				int64_t t0 = cpu_ns();
				volatile size_t h = which == 0 ? check_run(&cc, q, qn)
						    : which == 1 ? raw_run(&sc, q, qn)
								 : raw_run(&rc, q, qn);
				(void)h;
				t[which] = cpu_ns() - t0;
			}
			ct[rd] = (double)t[0] / (double)qn;
			ft[rd] = (double)t[1] / (double)qn;
			pt[rd] = (double)t[2] / (double)qn;
			rt[rd] = (double)t[0] / (double)(t[1] ? t[1] : 1);
			rp[rd] = (double)t[0] / (double)(t[2] ? t[2] : 1);
		}
		double c = median(ct, rounds), f = median(ft, rounds), ratio = median(rt, rounds);
		double pf = median(pt, rounds), pratio = median(rp, rounds);
		char k[128];
		snprintf(k, sizeof(k), "%s.check_cpu_ns", mixes[m].key);
		bench_json_num(&J, k, c);
		snprintf(k, sizeof(k), "%s.floor_lmdb_cpu_ns", mixes[m].key);
		bench_json_num(&J, k, f);
		snprintf(k, sizeof(k), "%s.check_over_lmdb", mixes[m].key);
		bench_json_num(&J, k, ratio);
		snprintf(k, sizeof(k), "%s.packed_lmdb_cpu_ns", mixes[m].key);
		bench_json_num(&J, k, pf);
		snprintf(k, sizeof(k), "%s.check_over_packed_lmdb", mixes[m].key);
		bench_json_num(&J, k, pratio);
		snprintf(k, sizeof(k), "%s.wanted", mixes[m].key);
		bench_json_num(&J, k, mixes[m].want);
		note("  %-40s check %7.1f ns  mdb_get: same store %7.1f ns, packed copy %7.1f ns;"
		     " check / same store %.3f (wanted <= %.1f: %s), / packed %.3f\n",
		     mixes[m].label, c, f, pf, ratio, mixes[m].want, ratio <= mixes[m].want ? "met" : "NOT met", pratio);
	}
	raw_close(&rc);
	mdb_txn_abort(sc.txn);
	free(pt);
	free(rp);
	free(rt);
	free(ct);
	free(ft);
	free(miss);
	free(hit);
	free(half);
	free(mixes[3].q);
}
